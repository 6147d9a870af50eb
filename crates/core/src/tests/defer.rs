//! SPEC S7: TCP_DEFER_ACCEPT on a listener, as Linux: a connection reaches the accept queue
//! with its first data, or, when the period ends, with the client's answer to the
//! last-chance SYN-ACK.

use ustack_tcp::{DropReason, TcpState};
use ustack_wire::TcpFlags;

use super::*;
use crate::{Duration, SocketEventKind};

fn deferred_pair(secs: i64) -> (Pair, SocketHandle) {
    let mut p = Pair::new();
    p.delay = Duration::from_millis(5);
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 8, false).unwrap();
    p.b.tcp_set_defer_accept(l, secs);
    (p, l)
}

fn accept_ready_count(p: &Pair, l: SocketHandle) -> usize {
    p.events_b.iter().filter(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady).count()
}

#[test]
fn s7_connection_is_accepted_only_once_the_client_sends() {
    // The client's handshake completes (it is ESTABLISHED), the server's bare final ACK is
    // dropped (TCPDeferAcceptDrop) and nothing is accept()able; the client's request
    // completes the connection, which comes out of accept() with the request to read.
    let (mut p, l) = deferred_pair(5);
    assert_eq!(p.b.tcp_defer_accept(l), 7, "5 s are 3 retransmissions, which cover 7 s");
    let c = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.run_for(Duration::from_millis(500));
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    assert_eq!(accept_ready_count(&p, l), 0);
    assert!(p.b.tcp_accept(l).is_none());
    assert_eq!(p.b.netstat(p.now).count(TcpState::SynReceived), 1);
    assert_eq!(p.b.counters().tcp_defer_accept_drop, 1);
    p.a.tcp_send(c, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    p.run_for(Duration::from_millis(50));
    assert_eq!(accept_ready_count(&p, l), 1);
    let s = p.b.tcp_accept(l).expect("accepted with its data");
    assert_eq!(p.read_all_b(s).len(), 18);
}

#[test]
fn s7_when_the_period_ends_the_last_synack_completes_the_connection_without_data() {
    // Linux `syn_ack_recalc`: after the bare ACK, no SYN-ACK at 1 s and 3 s; at 7 s (the end
    // of 5 s rounded up to 3 retransmissions) one goes out, the client answers it with an
    // ACK, and that ACK completes the connection: accept() returns it, nothing to read.
    let (mut p, l) = deferred_pair(5);
    let c = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let start = p.now;
    let port = p.a.tcp_conn(c).tuple().local.port();
    let mark = p.log.len();
    p.run_for(Duration::from_secs(10));
    let synacks: Vec<Duration> = p.log[mark..]
        .iter()
        .filter(|(_, from_a, pkt)| {
            !from_a && tcp(pkt).is_some_and(|s| s.dst.port() == port && s.has(TcpFlags::SYN))
        })
        .map(|(at, _, _)| *at - start)
        .collect();
    assert_eq!(synacks, [Duration::from_millis(5), Duration::from_millis(7005)]);
    assert_eq!(accept_ready_count(&p, l), 1);
    let s = p.b.tcp_accept(l).unwrap();
    assert_eq!(p.b.tcp_conn(s).state(), TcpState::Established);
    assert_eq!(p.b.tcp_conn(s).recv_queue(), 0);
    assert_eq!(p.b.counters().tcp_conn_drops[DropReason::DeferAccept as usize], 1);
}

#[test]
fn s7_a_deferred_bare_ack_is_no_accept_queue_overflow() {
    // Linux checks TCP_DEFER_ACCEPT in `tcp_check_req` before it looks at the accept queue:
    // a bare ACK while the queue is full is a deferral (TCPDeferAcceptDrop), not a
    // ListenOverflow. Backlog 2, SYN cookies off: four clients, three complete with data
    // and fill the accept queue (3 > 2), the fourth only ACKs.
    const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
    let mut b = stack_with(B, StackConfig { tcp_syncookies: 0, ..config(2) });
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 2, false).unwrap();
    b.tcp_set_defer_accept(l, 5);
    let now = Instant::from_secs(1);
    let synack = |b: &mut Stack, port: u16| {
        b.handle_packet(now, 0, &syn_packet(sa(CLIENT, port), sa(B, 80), 100));
        drain(b, now).iter().filter_map(|p| tcp(p)).next().expect("a SYN-ACK")
    };
    let data = |b: &mut Stack, s: &Seg, payload: &[u8]| {
        let f = if payload.is_empty() { TcpFlags::ACK } else { TcpFlags::ACK | TcpFlags::PSH };
        b.handle_packet(now, 0, &tcp_packet(s.dst, s.src, 101, s.seq.wrapping_add(1), f, payload));
        let _ = drain(b, now);
    };
    let s1 = synack(&mut b, 1001);
    let s2 = synack(&mut b, 1002);
    data(&mut b, &s1, b"a");
    let s3 = synack(&mut b, 1003);
    data(&mut b, &s3, b"b");
    let s4 = synack(&mut b, 1004);
    data(&mut b, &s4, b"c");
    assert_eq!(b.tcp_accept_queue_len(l), 3);
    data(&mut b, &s2, &[]);
    let c = b.counters();
    assert_eq!((c.tcp_listen_overflows, c.tcp_defer_accept_drop), (0, 1));
    assert_eq!(b.netstat(now).count(TcpState::SynReceived), 1);
}
