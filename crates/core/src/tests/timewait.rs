//! TIME-WAIT as a small record (`crate::timewait`): a connection in TIME-WAIT that nobody
//! holds gives its slot to a record, which answers, shows and ends as the connection did.

use ustack_tcp::{DropReason, TcpState, TimerKind};
use ustack_wire::{SeqNum, TcpFlags, TcpOptions};

use super::*;
use crate::Duration;
use crate::stack::Socket;

const CLIENT_PORT: u16 = 40_000;

/// A connection from A (port 40000) to B:80 carried a byte each way and closed, A first:
/// A is in TIME-WAIT. With `hold`, A's application shut the sending side and keeps the
/// handle; without, it closed the socket.
fn time_wait_pair(hold: bool) -> (Pair, SocketHandle) {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, Some(sa(A, CLIENT_PORT)), sa(B, 80)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    assert_eq!(p.a.tcp_send(c, b"?"), Ok(1));
    assert_eq!(p.b.tcp_send(s, b"!"), Ok(1));
    p.settle();
    let mut one = [0u8; 1];
    assert_eq!(p.a.tcp_recv(c, &mut one), Ok(1));
    assert_eq!(p.b.tcp_recv(s, &mut one), Ok(1));
    if hold {
        p.a.tcp_shutdown_write(c);
    } else {
        p.a.close(p.now, c);
    }
    p.settle();
    p.b.close(p.now, s);
    p.settle();
    assert_eq!(p.a.tcp_state(c), TcpState::TimeWait);
    (p, c)
}

fn is_record(s: &Stack, h: SocketHandle) -> bool {
    matches!(s.slot(h), Some(Socket::TimeWait(_)))
}

/// What A sends after `packet` arrives at `now`.
fn answers(s: &mut Stack, now: Instant, packet: &[u8]) -> Vec<Vec<u8>> {
    s.handle_packet(now, 0, packet);
    sent(s, now)
}

/// What `s` has to send at `now`.
fn sent(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    while s.poll_event().is_some() {}
    out
}

/// A segment from B:80 to A's connection.
fn from_b(seq: SeqNum, ack: SeqNum, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: 80,
        dst_port: CLIENT_PORT,
        seq,
        ack,
        flags,
        window: 65_535,
        urgent: 0,
        options: TcpOptions::default(),
        payload,
    };
    emit_tcp_any(&repr, sa(B, 80), sa(A, CLIENT_PORT))
}

#[test]
fn an_unheld_connection_in_time_wait_is_a_record_and_a_held_one_becomes_one_when_closed() {
    // Linux replaces a closed connection in TIME-WAIT with an inet_timewait_sock; one the
    // application still holds stays a full socket until it is closed.
    let (p, c) = time_wait_pair(false);
    assert!(is_record(&p.a, c));
    let (mut p, c) = time_wait_pair(true);
    assert!(!is_record(&p.a, c), "the application holds it");
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::TimeWait);
    p.a.close(p.now, c);
    p.settle();
    assert!(is_record(&p.a, c));
    assert_eq!(p.a.socket_count(), 1);
}

#[test]
fn a_record_shows_in_netstat_as_time_wait_with_its_timer_and_ends_after_2msl() {
    // RFC 9293 §3.10.8 / SPEC S12: 2·MSL = 60 s after TIME-WAIT began; `ss -o` shows
    // timer:(timewait,...) (SPEC S2).
    let (mut p, c) = time_wait_pair(false);
    let entered = p.now;
    p.run_for(Duration::from_secs(10));
    let ns = p.a.netstat(p.now);
    let row = ns.sockets.iter().find(|i| i.handle == c).expect("listed");
    assert_eq!(row.state, TcpState::TimeWait);
    assert_eq!((row.recv_q, row.send_q), (0, 0));
    assert_eq!(row.local, sa(A, CLIENT_PORT));
    assert_eq!(row.peer, Some(sa(B, 80)));
    // Entered when B's FIN arrived, within the settling before `entered`.
    let (kind, left) = row.timer.expect("a timer");
    assert_eq!(kind, TimerKind::TimeWait);
    assert!(left <= Duration::from_secs(50) && left > Duration::from_millis(49_900), "{left:?}");
    let shown = ns.clone().with_timers(true).to_string();
    assert!(
        shown.lines().any(|l| l.contains("TIME-WAIT") && l.contains("timer:(timewait,")),
        "{shown}"
    );
    // The 4-tuple is still taken: the same client port to the same server is refused.
    assert_eq!(
        p.a.tcp_connect(p.now, Some(sa(A, CLIENT_PORT)), sa(B, 80)).map(|_| ()),
        Err(crate::ConnectError::AddrInUse)
    );
    p.run_for((entered + Duration::from_secs(60)).saturating_duration_since(p.now));
    assert_eq!(p.a.socket_count(), 0, "ended at 2·MSL");
}

#[test]
fn a_record_answers_byte_for_byte_as_the_connection_it_replaced() {
    // The same connection in TIME-WAIT, held (a connection) and closed (a record), gets the
    // same segments: a retransmitted FIN (RFC 9293 §3.10.7.4: acknowledged, 2·MSL
    // restarted), old data (an ACK), a SYN below RCV.NXT (an ACK: not a new connection,
    // RFC 6191), a RST (ignored, RFC 1337) and a bare ACK (nothing). Every packet A sends
    // must be the same bytes, and the drops the same.
    let (mut held, hc) = time_wait_pair(true);
    let (mut rec, rc) = time_wait_pair(false);
    assert!(is_record(&rec.a, rc) && !is_record(&held.a, hc));
    let (snd, _) = crate::twreuse::time_wait_reuse(held.a.slot(hc)).expect("timestamps on");
    let rcv = held.a.tcp_conn(hc).recv_next();
    let fin_seq = rcv - 1u32;
    let inputs = [
        (1, from_b(fin_seq, snd, TcpFlags::FIN | TcpFlags::ACK, &[])),
        (2, from_b(rcv - 2u32, snd, TcpFlags::ACK | TcpFlags::PSH, b"!")),
        (3, from_b(rcv - 100u32, SeqNum(0), TcpFlags::SYN, &[])),
        (4, from_b(rcv, snd, TcpFlags::RST | TcpFlags::ACK, &[])),
        (5, from_b(rcv, snd, TcpFlags::ACK, &[])),
        (5, from_b(fin_seq, snd, TcpFlags::FIN | TcpFlags::ACK, &[])),
        // Within tcp_invalid_ratelimit (500 ms) of the last answer: not answered.
        (5, from_b(rcv - 100u32, SeqNum(0), TcpFlags::SYN, &[])),
    ];
    let mut answered = 0;
    for (secs, packet) in &inputs {
        let now = held.now + Duration::from_secs(*secs);
        let a = answers(&mut held.a, now, packet);
        let b = answers(&mut rec.a, now, packet);
        assert_eq!(a, b, "answers to the input at +{secs} s");
        answered += a.len();
    }
    assert_eq!(answered, 4, "the FINs, the data and the first SYN");
    assert!(is_record(&rec.a, rc), "the RST did not end it");
    let (ch, cr) = (held.a.counters(), rec.a.counters());
    assert_eq!(ch.tcp_conn_drops, cr.tcp_conn_drops);
    assert_eq!(cr.tcp_conn_drops[DropReason::BadRst as usize], 1);
    assert_eq!(cr.tcp_conn_drops[DropReason::UnexpectedSyn as usize], 2);
    assert_eq!((ch.tcp_out_segs, ch.ip_out_requests), (cr.tcp_out_segs, cr.ip_out_requests));
    // Both end 2·MSL after the last FIN (+5 s).
    let end = held.now + Duration::from_secs(65);
    for (p, h) in [(&mut held, hc), (&mut rec, rc)] {
        p.a.handle_timeout(held_now_plus(p.now, 64_999));
        assert!(p.a.contains(h));
        p.a.handle_timeout(end);
        assert!(sent(&mut p.a, end).is_empty());
    }
    assert!(held.a.tcp_conn(hc).state() == TcpState::Closed);
    assert!(!rec.a.contains(rc));
}

fn held_now_plus(now: Instant, ms: u64) -> Instant {
    now + Duration::from_millis(ms)
}

#[test]
fn a_new_syn_above_the_record_reopens_its_tuple() {
    // RFC 6191 / Linux tcp_timewait_state_process: a SYN above RCV.NXT, with a listener for
    // it, ends TIME-WAIT and opens a new connection. Here B holds the record (it closed
    // first) and A connects again from the same port.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let client = sa(A, CLIENT_PORT);
    let c = p.a.tcp_connect(p.now, Some(client), sa(B, 80)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    p.b.close(p.now, s);
    p.settle();
    p.a.close(p.now, c);
    p.settle();
    assert!(is_record(&p.b, s));
    p.run_for(Duration::from_secs(1));
    let c2 = p.a.tcp_connect(p.now, Some(client), sa(B, 80)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c2).state(), TcpState::Established);
    assert!(p.b.tcp_accept(l).is_some());
    assert!(!p.b.contains(s), "the record ended");
    assert!(
        p.events_b.iter().any(|e| e.socket == s
            && e.kind
                == SocketEventKind::Tcp(ustack_tcp::Event::Closed(Some(
                    ustack_tcp::ConnError::Aborted
                )))),
        "its end is reported as the connection's abort was"
    );
}

#[test]
fn a_record_with_the_hosts_fields_fits_120_bytes() {
    // docs/host-stack.md: the engine's 96-byte record and the host's fields, 120 bytes
    // (interface 4, flow label 4, deadline 8, TTL 1, three flags 3, padded to 8), where the
    // connection's box took 944 and its controller's 208; 128 with a usize interface and
    // an unpacked TTL.
    let size = core::mem::size_of::<crate::timewait::TimeWaitSocket>();
    assert!(size <= 120, "TimeWaitSocket is {size} bytes");
}
