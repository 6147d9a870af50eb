//! TIME-WAIT as a record ([`TimeWait`], `conn/time_wait.rs`): every script here runs on a
//! connection in TIME-WAIT and, line for line, on the record made from a twin of it; the
//! record must send what the script expects (RFC 9293 §3.10.7.4's TIME-WAIT rows, RFC 1337,
//! RFC 5961 §7's rate limit), byte for byte what the connection sends, at the same times, and
//! end when the connection ends.

use super::close::client_in_time_wait;
use super::*;
use crate::conn::{TimeWait, TimeWaitInput};

/// A connection in TIME-WAIT under a script, and the record of its twin.
struct Twin {
    conn: Script,
    tw: TimeWait,
    /// What the record sent, not yet matched.
    sent: VecDeque<(Instant, TcpRepr<'static>)>,
    /// When the record ended (its timer, or a RST).
    closed_at: Option<Instant>,
    /// The drops it reported.
    dropped: Vec<DropReason>,
}

impl Twin {
    /// `make` builds the same connection in TIME-WAIT twice: one stays a connection, the
    /// other becomes the record.
    fn new(make: impl Fn() -> Script) -> Twin {
        let conn = make();
        let mut twin = make();
        assert_eq!(twin.conn.state(), TcpState::TimeWait);
        let tw = twin.conn.time_wait().expect("a quiet connection in TIME-WAIT makes a record");
        Twin { conn, tw, sent: VecDeque::new(), closed_at: None, dropped: Vec::new() }
    }

    fn run(&mut self, text: &str) {
        for line in script::parse(text) {
            let line = line.unwrap_or_else(|e| panic!("{e}"));
            let t = match line.when {
                When::At(d) => secs(d.as_secs_f64()),
                When::After(d) => {
                    secs(self.conn.line_time.since_epoch().as_secs_f64() + d.as_secs_f64())
                }
            };
            self.advance(t);
            let spec = &line.segment;
            match spec.direction {
                Direction::In if self.closed_at.is_none() => {
                    let data =
                        pattern_bytes(u64::from(spec.seq.saturating_sub(1)), spec.len as usize);
                    let seg = spec.to_repr(self.conn.base, (REMOTE_PORT, LOCAL_PORT), &data);
                    match self.tw.handle_segment(t, &seg) {
                        TimeWaitInput::Taken => {}
                        TimeWaitInput::Dropped(r) => self.dropped.push(r),
                        TimeWaitInput::Closed => self.closed_at = Some(t),
                    }
                    self.collect(t);
                }
                Direction::In => {}
                Direction::Out => {
                    let (at, seg) = self.sent.pop_front().unwrap_or_else(|| {
                        panic!("line {}: the record sent nothing at {t:?}", line.number)
                    });
                    if let Err(field) = spec.check(self.conn.base, &seg) {
                        panic!("line {}: the record's {field:?} differs: {seg:?}", line.number);
                    }
                    assert_eq!(at, t, "line {}: the record sent at {at:?}", line.number);
                    // Byte for byte the connection's: its own segment comes from the script.
                    let (conn_at, conn_seg) = self.conn.pending.front().expect("the script's");
                    assert_eq!((*conn_at, conn_seg.repr()), (at, seg), "line {}", line.number);
                }
            }
            self.conn.line(&line);
        }
    }

    fn collect(&mut self, now: Instant) {
        while let Some(seg) = self.tw.poll_transmit(now) {
            self.sent.push_back((now, seg));
        }
    }

    /// Fires the record's timer up to `to`.
    fn advance(&mut self, to: Instant) {
        let at = self.tw.poll_timeout();
        if self.closed_at.is_none() && at <= to {
            assert!(self.tw.handle_timeout(at));
            self.closed_at = Some(at);
        }
    }

    /// Both run to `t` seconds: nothing left unmatched; they end at the same time.
    fn wait_until(&mut self, t: f64) {
        self.advance(secs(t));
        self.conn.wait_until(t);
        self.conn.done();
        assert!(self.sent.is_empty(), "the record sent {:?}", self.sent);
        assert_eq!(self.closed_at, self.conn.event_at(Event::Closed(None)));
        if self.closed_at.is_none() {
            assert_eq!(
                Some(self.tw.poll_timeout()),
                self.conn.conn.timers().get(TimerKind::TimeWait)
            );
        }
    }
}

/// The same with timestamps and window scaling negotiated: TSval at our 1 ms clock.
fn client_in_time_wait_with_timestamps() -> Script {
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 5 ecr 0,nop,wscale 0>
        +0   > . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 5>
        ",
    );
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1 <nop,nop,TS val 100 ecr 5>
        +0.1 < . 1:1(0) ack 2 win 65535 <nop,nop,TS val 6 ecr 100>
        +0.1 < F. 1:1(0) ack 2 win 65535 <nop,nop,TS val 7 ecr 100>
        +0   > . 2:2(0) ack 2 <nop,nop,TS val 300 ecr 7>
        ",
    );
    s.done();
    s
}

#[test]
fn record_reacks_a_retransmitted_fin_and_restarts_2msl() {
    // RFC 9293 §3.10.7.4, TIME-WAIT: "The only thing that can arrive in this state is a
    // retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
    let mut t = Twin::new(|| client_in_time_wait(cfg()));
    t.run(
        "
        +10 < F. 1:1(0) ack 2 win 65535
        +0  > . 2:2(0) ack 2
        ",
    );
    t.wait_until(60.3);
    assert_eq!(t.closed_at, None, "restarted at 10.3 s: ends at 70.3 s");
    t.wait_until(70.3);
    assert_eq!(t.closed_at, Some(secs(70.3)));
}

#[test]
fn record_expires_2msl_after_time_wait_began() {
    // RFC 9293 §3.10.8: "If the time-wait timeout expires on a connection, delete the TCB,
    // enter the CLOSED state"; 2·MSL = 60 s (Linux's TCP_TIMEWAIT_LEN).
    let mut t = Twin::new(|| client_in_time_wait(cfg()));
    t.wait_until(60.29);
    assert_eq!(t.closed_at, None);
    t.wait_until(60.3);
    assert_eq!(t.closed_at, Some(secs(60.3)));
}

#[test]
fn record_acks_old_data_and_a_syn_and_keeps_quiet_on_a_bare_ack() {
    // RFC 9293 §3.10.7.4: an unacceptable segment gets "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>";
    // a SYN is answered the same (RFC 5961 §4.2; a SYN that may reopen the 4-tuple, RFC
    // 6191, is the host's call). An ACK at RCV.NXT with nothing in it is not answered
    // (Linux `tcp_timewait_state_process`), but restarts 2·MSL as any ACK does.
    let mut t = Twin::new(|| client_in_time_wait(cfg()));
    t.run(
        "
        +1 < P. 1:101(100) ack 2 win 65535
        +0 > . 2:2(0) ack 2
        +1 < S 5000:5000(0) win 65535
        +0 > . 2:2(0) ack 2
        +1 < . 2:2(0) ack 2 win 65535
        ",
    );
    assert_eq!(t.dropped, [DropReason::UnexpectedSyn]);
    t.wait_until(63.3);
    assert_eq!(t.closed_at, Some(secs(63.3)), "2·MSL after the bare ACK at 3.3 s");
}

#[test]
fn record_ignores_a_rst_rfc_1337() {
    // RFC 1337 §3: "Ignore RST segments in TIME-WAIT state" (tcp_rfc1337, on here).
    let mut t = Twin::new(|| client_in_time_wait(cfg()));
    t.run("+1 < R. 2:2(0) ack 2 win 0");
    assert_eq!(t.dropped, [DropReason::BadRst]);
    t.wait_until(60.3);
    assert_eq!(t.closed_at, Some(secs(60.3)), "not assassinated");
}

#[test]
fn record_ends_on_an_exact_rst_without_rfc_1337() {
    // tcp_rfc1337 = 0 (Linux's default): RFC 9293 §3.10.7.4's second check, "If the RST bit
    // is set, then enter the CLOSED state", for an exact sequence number (RFC 5961 §3.2); a
    // RST off RCV.NXT is dropped.
    let cfg = TcpConfig { rfc1337: false, ..cfg() };
    let mut t = Twin::new(|| client_in_time_wait(cfg));
    t.run("+1 < R. 5:5(0) ack 2 win 0");
    assert_eq!(t.dropped, [DropReason::BadRst]);
    t.run("+1 < R. 2:2(0) ack 2 win 0");
    assert_eq!(t.closed_at, Some(secs(2.3)));
    t.wait_until(2.3);
}

#[test]
fn record_answers_other_than_data_at_most_once_per_invalid_ratelimit() {
    // RFC 5961 §7 with Linux's tcp_invalid_ratelimit (500 ms): a second SYN or FIN within it
    // is not answered; data always is. The restart of 2·MSL is not limited.
    let mut t = Twin::new(|| client_in_time_wait(cfg()));
    t.run(
        "
        +1   < S 5000:5000(0) win 65535
        +0   > . 2:2(0) ack 2
        +0.1 < F. 1:1(0) ack 2 win 65535
        +0.1 < P. 1:11(10) ack 2 win 65535
        +0   > . 2:2(0) ack 2
        +0.4 < F. 1:1(0) ack 2 win 65535
        +0   > . 2:2(0) ack 2
        ",
    );
    t.wait_until(61.9);
    assert_eq!(t.closed_at, Some(secs(61.9)), "restarted last by the FIN at 1.9 s");
}

#[test]
fn record_sends_the_connections_timestamps_and_window() {
    // RFC 7323 §3.2: every segment of a connection that negotiated timestamps carries TSval
    // from our clock (1 ms, with the connection's offset) and TSecr = TS.Recent; the window
    // field is the scaled one the connection advertised.
    let mut t = Twin::new(client_in_time_wait_with_timestamps);
    assert!(t.tw.time_wait_reuse().is_some(), "tcp_tw_reuse may take it: timestamps");
    t.run(
        "
        +5 < F. 1:1(0) ack 2 win 65535 <nop,nop,TS val 9 ecr 300>
        +0 > . 2:2(0) ack 2 <nop,nop,TS val 5300 ecr 7>
        +5 < S 9000:9000(0) win 65535 <mss 1460,sackOK,TS val 99 ecr 0,nop,wscale 0>
        +0 > . 2:2(0) ack 2 <nop,nop,TS val 10300 ecr 7>
        ",
    );
    t.wait_until(65.3);
    assert_eq!(t.closed_at, Some(secs(65.3)));
}

#[test]
fn a_connection_with_an_ack_owed_is_not_reduced_yet() {
    // The record is made only from a connection with nothing else to do: here the ACK of
    // the peer's FIN is still to be sent.
    let mut s = Script::established_client(cfg());
    s.close();
    s.run("+0 > F. 1:1(0) ack 1");
    let fin = parse_one("0 < F. 1:1(0) ack 2 win 65535").segment;
    s.conn.handle_segment(secs(0.2), &fin.to_repr(s.base, (REMOTE_PORT, LOCAL_PORT), &[]));
    assert_eq!(s.conn.state(), TcpState::TimeWait);
    assert!(s.conn.time_wait().is_none(), "its ACK is owed");
    s.now = secs(0.2);
    s.line_time = secs(0.2);
    s.collect();
    s.run("+0 > . 2:2(0) ack 2");
    s.done();
    assert!(s.conn.time_wait().is_some());
}

#[test]
fn the_record_is_small() {
    // Linux's inet_timewait_sock is about 200 bytes; the connection is 880 and more boxed.
    let size = core::mem::size_of::<TimeWait>();
    assert!(size <= 112, "TimeWait is {size} bytes");
}
