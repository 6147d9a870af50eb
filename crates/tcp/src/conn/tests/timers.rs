//! SPEC S21: each of the seven timers firing (visible as `Event::TimerFired` with tracing on)
//! and being cancelled. Some live beside the behaviour they drive: delayed ACK in `data.rs`,
//! FIN-WAIT-2 and TIME-WAIT in `close.rs`; docs/spec-coverage.md lists them all.

use super::*;

fn keepalive_cfg() -> TcpConfig {
    TcpConfig {
        keepalive: true,
        keepalive_time: Duration::from_secs(10),
        keepalive_intvl: Duration::from_secs(1),
        keepalive_probes: 3,
        ..cfg()
    }
}

#[test]
fn s21_keepalive_probes_then_gives_up() {
    // RFC 9293 §3.8.4: an idle connection is probed (a segment the peer must answer, SEQ =
    // SND.UNA − 1) after keepalive_time, then every keepalive_intvl; after keepalive_probes
    // unanswered probes Linux resets it and reports ETIMEDOUT.
    let mut s = Script::established_client(keepalive_cfg());
    s.run(
        "
        10.1 > . 0:0(0) ack 1
        11.1 > . 0:0(0) ack 1
        12.1 > . 0:0(0) ack 1
        13.1 > R. 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(13.1)));
    assert_eq!(s.fired(TimerKind::Keepalive), [secs(10.1), secs(11.1), secs(12.1), secs(13.1)]);
}

#[test]
fn s21_answered_keepalive_keeps_the_connection() {
    let mut s = Script::established_client(keepalive_cfg());
    s.run(
        "
        10.1 > . 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        20.2 > . 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    s.wait_until(30.0);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    // Traffic postpones the probe; turning keepalive off cancels the timer.
    s.conn.set_keepalive(s.now, false);
    assert_eq!(s.conn.timers().get(TimerKind::Keepalive), None);
    s.wait_until(100.0);
    s.done();
}

#[test]
fn s21_keepalive_is_off_by_default() {
    // RFC 9293 §3.8.4: "MUST default to off (MUST-25)".
    let s = Script::established_client(cfg());
    assert_eq!(s.conn.timers().get(TimerKind::Keepalive), None);
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn s21_delayed_ack_is_cancelled_by_a_piggybacked_ack() {
    // After the quick ACKs (4096 / (2 · 536) = 3), a lone segment arms the delayed-ACK
    // timer; it stops when a data segment carries the ACK.
    let c = TcpConfig { rmem: crate::BufferSizes { min: 4096, default: 4096, max: 4096 }, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        +0.1 < . 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        +0.1 < . 101:201(100) ack 1 win 65535
        +0   > . 1:1(0) ack 201
        +0.1 < . 201:301(100) ack 1 win 65535
        +0   > . 1:1(0) ack 301
        +0.1 < . 301:401(100) ack 1 win 65535
        ",
    );
    assert!(s.conn.timers().is_armed(TimerKind::DelayedAck));
    s.send(10);
    s.run("+0 > P. 1:11(10) ack 401");
    assert!(!s.conn.timers().is_armed(TimerKind::DelayedAck));
    s.run("+0.1 < . 401:401(0) ack 11 win 65535");
    s.wait_until(1.0);
    s.done();
    assert!(s.fired(TimerKind::DelayedAck).is_empty());
}

#[test]
fn s21_keepalive_is_postponed_by_traffic() {
    // RFC 9293 §3.8.4: keepalive probes only an *idle* connection. Data from the peer at 5 s
    // moves the first probe to 5 s + keepalive_time; the timer's expiry at 10.1 s (armed at
    // the handshake) finds the connection busy 5.1 s ago, sends nothing and re-arms itself
    // for the rest (Linux `tcp_keepalive_timer`).
    let mut s = Script::established_client(keepalive_cfg());
    s.run(
        "
        5    < P. 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        15   > . 0:0(0) ack 101
        ",
    );
    s.done();
    assert_eq!(s.fired(TimerKind::Keepalive), [secs(10.1), secs(15.0)]);
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s21_establishment_timer_fires_when_the_handshake_times_out() {
    // SPEC S5: with syn_retries = 1 the attempt ends 1 s + 2 s after the first SYN.
    let c = TcpConfig { syn_retries: 1, ..cfg() };
    let mut s = Script::client(c);
    s.run(
        "
        0 > S 0:0(0)
        1 > S 0:0(0)
        ",
    );
    s.wait_until(3.0);
    s.done();
    assert_eq!(s.fired(TimerKind::Establish), [secs(3.0)]);
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
}

#[test]
fn s21_tcp_syncnt_set_during_the_handshake_bounds_it() {
    // Linux reads TCP_SYNCNT at every SYN timeout (packetdrill fastopen/client/
    // nonblocking-connect-bypass-errno sets it after the first SYN): 1 set then ends the
    // attempt 1 s + 2 s after the first SYN, not after the default 6 retries.
    let mut s = Script::client(cfg());
    s.run("0 > S 0:0(0)");
    s.conn.set_syn_retries(1);
    assert_eq!(s.conn.timers().get(TimerKind::Establish), Some(secs(3.0)));
    s.run("1 > S 0:0(0)");
    s.wait_until(3.0);
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    assert_eq!(s.conn.config().syn_retries, 1);
}

#[test]
fn s21_establishment_timer_is_cancelled_by_the_handshake() {
    let mut s = Script::client(cfg());
    assert_eq!(s.conn.timers().get(TimerKind::Establish), Some(secs(127.0)));
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000>
        +0   > . 1:1(0) ack 1
        ",
    );
    assert_eq!(s.conn.timers().get(TimerKind::Establish), None);
    s.wait_until(200.0);
    s.done();
    assert!(s.fired(TimerKind::Establish).is_empty());
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s21_retransmission_timer_fires_and_resends() {
    // RFC 6298 (5.4)-(5.6): at the RTO (300 ms after a 100 ms handshake sample) the oldest
    // unacknowledged segment is sent again and the timer restarts with the RTO doubled.
    let mut s = Script::established_client(cfg());
    s.send(100);
    s.run(
        "
        +0   > P. 1:101(100) ack 1
        +0.3 > P. 1:101(100) ack 1
        ",
    );
    s.done();
    assert_eq!(s.fired(TimerKind::Retransmit), [secs(0.4)]);
    assert_eq!(s.conn.timers().get(TimerKind::Retransmit), Some(secs(1.0)));
}

#[test]
fn s21_retransmission_timer_is_restarted_and_cancelled_by_acks() {
    // RFC 6298 (5.3): "When an ACK is received that acknowledges new data, restart the
    // retransmission timer"; (5.2): "When all outstanding data has been acknowledged, turn
    // off the retransmission timer." Nothing is sent again.
    let mut s = Script::established_client(cfg());
    s.send(2000);
    s.run(
        "
        +0   > . 1:1001(1000) ack 1
        +0   > P. 1001:2001(1000) ack 1
        +0.2 < . 1:1(0) ack 1001 win 65535
        ",
    );
    let rto = s.conn.rtt().rto();
    assert_eq!(s.conn.timers().get(TimerKind::Retransmit), Some(secs(0.3) + rto));
    s.run("+0.2 < . 1:1(0) ack 2001 win 65535");
    assert_eq!(s.conn.timers().get(TimerKind::Retransmit), None);
    s.wait_until(10.0);
    s.done();
    assert!(s.fired(TimerKind::Retransmit).is_empty());
    assert_eq!(s.conn.stats().retransmits, 0);
}

#[test]
fn s21_persist_timer_fires_and_probes() {
    // RFC 9293 §3.8.6.1: the peer's window is zero and data waits: after the RTO (300 ms)
    // the persist timer sends a probe (SND.UNA − 1, no data) and backs off.
    let mut s = Script::established_client(cfg());
    s.run("+0.1 < . 1:1(0) ack 1 win 0");
    s.send(100);
    s.done();
    assert_eq!(s.conn.timers().get(TimerKind::Persist), Some(secs(0.5)));
    s.run(
        "
        +0.3 > . 0:0(0) ack 1
        +0.6 > . 0:0(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.fired(TimerKind::Persist), [secs(0.5), secs(1.1)]);
}

#[test]
fn s21_persist_timer_is_cancelled_when_the_window_opens() {
    // A window update arrives before the persist timer: the data goes at once, the timer
    // stops, no probe is ever sent.
    let mut s = Script::established_client(cfg());
    s.run("+0.1 < . 1:1(0) ack 1 win 0");
    s.send(100);
    assert!(s.conn.timers().is_armed(TimerKind::Persist));
    s.run(
        "
        +0.1 < . 1:1(0) ack 1 win 65535
        +0   > P. 1:101(100) ack 1
        +0.1 < . 1:1(0) ack 101 win 65535
        ",
    );
    assert_eq!(s.conn.timers().get(TimerKind::Persist), None);
    s.wait_until(10.0);
    s.done();
    assert!(s.fired(TimerKind::Persist).is_empty());
}

#[test]
fn s21_fin_wait_2_timer_is_cancelled_by_the_peers_fin() {
    // SPEC S11's timer runs only until the peer's FIN: then TIME-WAIT, and RFC 9293 "turn off
    // the other timers".
    let mut s = Script::established_client(cfg());
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        ",
    );
    assert_eq!(s.conn.timers().get(TimerKind::FinWait2), Some(secs(60.2)));
    s.run(
        "
        5  < F. 1:1(0) ack 2 win 65535
        +0 > . 2:2(0) ack 2
        ",
    );
    assert_eq!(s.conn.timers().get(TimerKind::FinWait2), None);
    assert_eq!(s.conn.timers().get(TimerKind::TimeWait), Some(secs(65.0)));
    s.wait_until(65.0);
    s.done();
    assert!(s.fired(TimerKind::FinWait2).is_empty());
    assert_eq!(s.fired(TimerKind::TimeWait), [secs(65.0)]);
}

#[test]
fn s21_time_wait_timer_is_cancelled_by_a_reset_without_rfc1337() {
    // With tcp_rfc1337 = 0 (Linux's default) a RST at RCV.NXT ends TIME-WAIT at once
    // (RFC 9293 §3.10.7.4: "CLOSING, LAST-ACK, TIME-WAIT: If the RST bit is set, then enter
    // the CLOSED state"); the 2·MSL timer never fires. With RFC 1337 it would be ignored
    // (`close.rs`, s12_rst_does_not_kill_time_wait).
    let mut s = Script::established_client(TcpConfig { rfc1337: false, ..cfg() });
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < F. 1:1(0) ack 2 win 65535
        +0   > . 2:2(0) ack 2
        ",
    );
    assert_eq!(s.conn.timers().get(TimerKind::TimeWait), Some(secs(60.2)));
    s.run("+1 < R. 2:2(0) ack 2 win 0");
    assert_eq!(s.conn.poll_timeout(), None);
    s.wait_until(100.0);
    s.done();
    assert!(s.fired(TimerKind::TimeWait).is_empty());
    assert_eq!(s.event_at(Event::Closed(None)), Some(secs(1.2)));
}

#[test]
fn s17_black_hole_detection_lowers_the_segment_size_after_retries1_with_mtu_probing() {
    // Linux `tcp_write_timeout` → `tcp_mtu_probing`: once retransmissions have gone
    // unanswered for retries1's time (3 doublings from rto_min: 3 s), each timeout with
    // tcp_mtu_probing = 1 lowers the segment size: to tcp_base_mss first, then by half. A
    // path that silently drops large packets then gets the data through.
    let c = TcpConfig { mtu_probing: 1, base_mss: 600, ..cfg() };
    let mut s = Script::established_client(c);
    s.send(1000);
    // SRTT 100 ms, RTO 300 ms; the first transmission at 0.1 s is the base of retries1.
    s.run(
        "
        0.1   > P. 1:1001(1000) ack 1
        0.4   > P. 1:1001(1000) ack 1
        1.0   > P. 1:1001(1000) ack 1
        2.2   > P. 1:1001(1000) ack 1
        4.6   > . 1:601(600) ack 1
        9.4   > . 1:301(300) ack 1
        +0.1  < . 1:1(0) ack 301 win 65535
        +0    > . 301:601(300) ack 1
        +0    > . 601:901(300) ack 1
        +0.1  < . 1:1(0) ack 901 win 65535
        +0    > P. 901:1001(100) ack 1
        +0.1  < . 1:1(0) ack 1001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.effective_mss(), 300);
}

#[test]
fn s17_without_mtu_probing_retransmissions_keep_their_size() {
    // tcp_mtu_probing = 0 (Linux's default): retries1 changes nothing a segment shows.
    let mut s = Script::established_client(TcpConfig { base_mss: 600, ..cfg() });
    s.send(1000);
    s.run(
        "
        0.1   > P. 1:1001(1000) ack 1
        0.4   > P. 1:1001(1000) ack 1
        1.0   > P. 1:1001(1000) ack 1
        2.2   > P. 1:1001(1000) ack 1
        4.6   > P. 1:1001(1000) ack 1
        9.4   > P. 1:1001(1000) ack 1
        +0.1  < . 1:1(0) ack 1001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.effective_mss(), 1000);
}
