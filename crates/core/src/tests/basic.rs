//! A connection through two stacks: listen, connect, accept, data, close.

use ustack_tcp::TcpState;

use super::*;
use crate::{Duration, SocketEventKind};

#[test]
fn s3_s9_connect_accept_transfer_and_close_through_two_stacks() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 7), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B, 7)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    assert!(p.events_b.iter().any(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady));
    let s = p.b.tcp_accept(l).expect("a connection to accept");
    assert_eq!(p.b.tcp_accept(l), None);
    assert_eq!(p.b.tcp_conn(s).tuple().remote, p.a.tcp_conn(c).tuple().local);

    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    while got.len() < data.len() {
        if sent < data.len() {
            sent += p.a.tcp_send(c, &data[sent..]).unwrap_or(0);
        }
        p.run_for(Duration::from_millis(50));
        while let Ok(n) = p.b.tcp_recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(got, data);

    // The client closes first: it holds TIME-WAIT (S26), the server goes through
    // CLOSE-WAIT and LAST-ACK.
    p.a.close(p.now, c);
    p.settle();
    assert_eq!(p.b.tcp_conn(s).state(), TcpState::CloseWait);
    assert_eq!(p.b.netstat(p.now).count(TcpState::CloseWait), 1);
    p.b.close(p.now, s);
    p.settle();
    let ns = p.a.netstat(p.now);
    assert_eq!(ns.count(TcpState::TimeWait), 1, "{ns}");
    assert_eq!(p.b.socket_count(), 1, "only the listener is left on the server");
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.socket_count(), 0, "TIME-WAIT ended after 2 MSL");
}

/// S13/S26: the server closed first and holds TIME-WAIT; the same client port connects again
/// within 2 MSL with a higher sequence number and gets a new connection (RFC 6191, Linux
/// `tcp_timewait_state_process`), instead of a re-ACK of the old one.
#[test]
fn s13_new_syn_above_the_old_sequence_space_reopens_time_wait() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let client = sa(A, 40000);
    let c = p.a.tcp_connect(p.now, Some(client), sa(B, 80)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    p.b.close(p.now, s); // the server closes first
    p.settle();
    p.a.close(p.now, c);
    p.settle();
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 1);
    assert_eq!(p.a.socket_count(), 0, "the client went LAST-ACK -> CLOSED");

    p.run_for(Duration::from_secs(1));
    let c2 = p.a.tcp_connect(p.now, Some(client), sa(B, 80)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c2).state(), TcpState::Established);
    let s2 = p.b.tcp_accept(l).expect("the reopened connection is accepted");
    assert_eq!(p.b.tcp_conn(s2).tuple().remote, client);
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 0);
}

/// Where socket `h` of `s` lives in memory.
fn box_address(s: &Stack, h: SocketHandle) -> *const crate::tcp::TcpSocket {
    match s.slot(h) {
        Some(crate::stack::Socket::Tcp(t)) => &**t,
        _ => panic!("{h:?} is no TCP connection"),
    }
}

/// A finished connection's memory goes to the next connection instead of back to the
/// allocator (no allocation per connection at steady state), and a burst of closes leaves at
/// most `TCP_SPARE_MAX` boxes behind.
#[test]
fn a_finished_connection_lends_its_box_to_the_next_and_the_spares_are_bounded() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 7), 128, false).unwrap();
    let (c, s) = p.connect_accept(l, 7);
    let (client_box, server_box) = (box_address(&p.a, c), box_address(&p.b, s));
    p.a.close(p.now, c);
    p.settle();
    p.b.close(p.now, s);
    p.settle();
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.socket_count(), 0, "TIME-WAIT ended");
    assert_eq!((p.a.tcp_spare.len(), p.b.tcp_spare.len()), (1, 1));

    let (c2, s2) = p.connect_accept(l, 7);
    assert_eq!(box_address(&p.a, c2), client_box, "the client's box again");
    assert_eq!(box_address(&p.b, s2), server_box, "the server's box again");
    assert_eq!((p.a.tcp_spare.len(), p.b.tcp_spare.len()), (0, 0));

    // 100 connections finished at once: 64 boxes are kept, the rest freed.
    let conns: Vec<_> = (0..100).map(|_| p.connect_accept(l, 7)).collect();
    for &(c, s) in conns.iter().chain([&(c2, s2)]) {
        p.a.close(p.now, c);
        p.b.close(p.now, s);
    }
    p.settle();
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.socket_count(), 0);
    assert_eq!(p.a.tcp_spare.len(), crate::tcp::TCP_SPARE_MAX);
    assert_eq!(p.b.tcp_spare.len(), crate::tcp::TCP_SPARE_MAX);
}

#[test]
fn a_socket_slot_is_a_pointer_and_a_generation() {
    // Every socket variant is boxed, so the table costs 24 bytes a slot whatever the socket:
    // a million connections once paid 200 bytes each, the size of a listener kept inline.
    assert!(core::mem::size_of::<crate::stack::Slot>() <= 24);
}

#[test]
fn a_connection_socket_is_its_connection_and_40_bytes_of_the_hosts() {
    // What the host keeps beside each connection, paid twice by a pair with both ends in one
    // process: the listener's handle 12 (index and generation, no niche), the timer queue's
    // deadline 8 (an `Instant` is never zero, so `None` costs nothing), ISS 4, flow label 4,
    // interface 4 (`IfaceId`, the loopback one as u32::MAX), IP_TTL 1 (never 0, so `None`
    // costs nothing) and seven flags 7: 40 bytes, where a usize interface, a second listener
    // handle for Fast Open and an unpacked TTL took 56.
    use core::mem::size_of;
    assert_eq!(size_of::<Option<SocketHandle>>(), 12);
    assert_eq!(size_of::<Option<Instant>>(), 8);
    assert_eq!(size_of::<crate::tcp::IfaceId>(), 4);
    assert_eq!(size_of::<Option<core::num::NonZeroU8>>(), 1);
    let host = size_of::<crate::tcp::TcpSocket>() - size_of::<ustack_tcp::Conn>();
    assert!(host <= 40, "TcpSocket holds {host} bytes beside its connection");
}

#[test]
fn an_interface_index_packs_into_four_bytes_and_back() {
    use crate::tcp::IfaceId;
    for iface in [0, 1, 7, u32::MAX as usize - 1, Stack::LOOPBACK] {
        assert_eq!(IfaceId::new(iface).get(), iface);
    }
}

#[test]
fn queues_a_burst_grew_give_their_room_back_once_drained() {
    // 6,000 connects at once: each SYN waits in A's tx-ready queue, and B's listener reports
    // the connections it queues. Once both queues are drained, neither keeps the room the
    // burst needed (it was kept for good before: 7 MiB of events after 100k connections).
    let mut p = Pair::new();
    p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 4096, false).unwrap();
    for _ in 0..6_000 {
        p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    }
    assert!(p.a.tx_ready.len() >= 6_000);
    let before = p.a.tx_ready.capacity();
    p.settle();
    assert!(p.events_b.len() >= 4_000, "B reported the connections it queued");
    assert!(before > 4 * crate::stack::QUEUE_KEEP);
    assert!(p.a.tx_ready.capacity() <= crate::stack::QUEUE_KEEP, "{}", p.a.tx_ready.capacity());
    assert!(p.b.events.capacity() <= crate::stack::QUEUE_KEEP, "{}", p.b.events.capacity());
    assert!(p.a.events.capacity() <= crate::stack::QUEUE_KEEP, "{}", p.a.events.capacity());
}
