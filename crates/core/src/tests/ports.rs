//! SPEC S13 bind rules (Linux `inet_csk_bind_conflict`), S25 ephemeral ports (RFC 6056,
//! Linux `__inet_hash_connect`), and generational socket handles.

use std::collections::BTreeSet;

use ustack_tcp::TcpState;

use super::*;
use crate::{BindError, ConnectError, Duration};

const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;
const EPHEMERAL: core::ops::RangeInclusive<u16> = 32768..=60999;

#[test]
fn s13_a_second_listener_on_the_same_port_is_addr_in_use() {
    // Linux without SO_REUSEPORT: two listeners conflict when their addresses overlap, and
    // 0.0.0.0 overlaps every address, with or without SO_REUSEADDR (which never lets two
    // LISTEN sockets share a port).
    let mut b = stack(B, 2);
    let l = b.tcp_listen(sa(ANY, 80), 8, false).unwrap();
    for reuse in [false, true] {
        assert_eq!(b.tcp_listen(sa(ANY, 80), 8, reuse), Err(BindError::AddrInUse));
        assert_eq!(b.tcp_listen(sa(B, 80), 8, reuse), Err(BindError::AddrInUse), "any, then B");
    }
    let l81 = b.tcp_listen(sa(B, 81), 8, false).unwrap();
    for reuse in [false, true] {
        assert_eq!(b.tcp_listen(sa(B, 81), 8, reuse), Err(BindError::AddrInUse));
        assert_eq!(b.tcp_listen(sa(ANY, 81), 8, reuse), Err(BindError::AddrInUse), "B, then any");
    }
    assert!(b.tcp_listen(sa(ANY, 82), 8, false).is_ok(), "another port is free");
    b.close(Instant::from_secs(1), l);
    b.close(Instant::from_secs(1), l81);
    assert!(b.tcp_listen(sa(ANY, 80), 8, false).is_ok(), "free again once closed");
    assert!(b.tcp_listen(sa(ANY, 81), 8, false).is_ok());
}

#[test]
fn s13_binding_an_address_that_is_not_ours_is_addr_not_available() {
    // Linux `inet_bind` → EADDRNOTAVAIL for an address no interface has (ip_nonlocal_bind
    // off).
    let mut s = stack(B, 2);
    let foreign = Ipv4Addr::new(10, 0, 0, 99);
    assert_eq!(s.tcp_listen(sa(foreign, 80), 8, false), Err(BindError::AddrNotAvailable));
    assert_eq!(s.udp_bind(sa(foreign, 53)), Err(BindError::AddrNotAvailable));
    assert_eq!(
        s.tcp_connect(Instant::from_secs(1), Some(sa(foreign, 0)), sa(A, 80)),
        Err(ConnectError::AddrNotAvailable)
    );
    assert_eq!(s.socket_count(), 0);
}

#[test]
fn s13_time_wait_holds_the_port_unless_reuse_addr() {
    // SPEC S13: the server closes first, so its side of the connection sits in TIME-WAIT
    // on 10.0.0.2:80 (S26). The server is restarted: without SO_REUSEADDR the bind fails
    // with EADDRINUSE (Linux: the TIME-WAIT socket holds the bind bucket); with it, it
    // succeeds. After 2·MSL the port is free for everyone.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 8, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    p.b.close(p.now, s);
    p.settle();
    p.a.close(p.now, c);
    p.settle();
    let ns = p.b.netstat(p.now);
    assert_eq!(ns.count(TcpState::TimeWait), 1, "{ns}");
    p.b.close(p.now, l);
    for addr in [ANY, B] {
        assert_eq!(p.b.tcp_listen(sa(addr, 80), 8, false), Err(BindError::AddrInUse));
    }
    let l2 = p.b.tcp_listen(sa(ANY, 80), 8, true).expect("SO_REUSEADDR binds over TIME-WAIT");
    // The restarted server serves a new client while the old connection is in TIME-WAIT.
    let (c2, s2) = p.connect_accept(l2, 80);
    assert_eq!(p.a.tcp_conn(c2).state(), TcpState::Established);
    p.b.close(p.now, l2);
    // Its established connection still holds the port (Linux: the child is in the bind
    // bucket); it ends with the client closing first, so no TIME-WAIT on the server.
    assert_eq!(p.b.tcp_listen(sa(ANY, 80), 8, false), Err(BindError::AddrInUse));
    p.a.close(p.now, c2);
    p.settle();
    p.b.close(p.now, s2);
    p.settle();
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 1, "the first connection's");
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 0);
    assert!(p.b.tcp_listen(sa(ANY, 80), 8, false).is_ok(), "TIME-WAIT over, the port is free");
}

#[test]
fn s13_client_side_time_wait_does_not_hold_the_server_port() {
    // S26: when the client closes first, TIME-WAIT sits on the client; the server's port
    // is free as soon as its listener and connection are gone.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 8, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    p.a.close(p.now, c);
    p.settle();
    p.b.close(p.now, s);
    p.settle();
    assert_eq!(p.a.netstat(p.now).count(TcpState::TimeWait), 1);
    p.b.close(p.now, l);
    assert_eq!(p.b.socket_count(), 0);
    assert!(p.b.tcp_listen(sa(ANY, 80), 8, false).is_ok());
}

#[test]
fn s13_port_zero_picks_an_ephemeral_port() {
    // Linux `inet_csk_get_port` with port 0 picks a free port of ip_local_port_range
    // (32768–60999 by default).
    let mut p = Pair::new();
    let l1 = p.b.tcp_listen(sa(ANY, 0), 8, false).unwrap();
    let l2 = p.b.tcp_listen(sa(B, 0), 8, false).unwrap();
    let (p1, p2) = (p.b.tcp_listener_addr(l1).port(), p.b.tcp_listener_addr(l2).port());
    assert!(EPHEMERAL.contains(&p1) && EPHEMERAL.contains(&p2), "{p1} {p2}");
    assert_ne!(p1, p2);
    assert_eq!(p.b.tcp_listener_addr(l2), sa(B, p2));
    assert_eq!(p.b.tcp_listen(sa(ANY, p1), 8, false), Err(BindError::AddrInUse));
    let (c, s) = p.connect_accept(l1, p1);
    let local = p.a.tcp_conn(c).tuple().local;
    assert!(EPHEMERAL.contains(&local.port()));
    assert_eq!(local.ip(), A, "the route's address");
    assert_eq!(p.b.tcp_conn(s).tuple().local, sa(B, p1));
}

#[test]
fn s25_a_tiny_port_range_runs_out_per_destination_and_is_reused_for_another() {
    // S25 / RFC 6056: a connection is unique per 4-tuple, so ten ephemeral ports give ten
    // connections to B:80 — the eleventh fails with EADDRNOTAVAIL — and ten more to B:81
    // on the same ten local ports. Freeing one port lets the next connect use it.
    let mut cfg = config(1);
    cfg.ip_local_port_range = (40000, 40009);
    let mut p = Pair::with(stack_with(A, cfg), stack(B, 2));
    let l80 = p.b.tcp_listen(sa(ANY, 80), 64, false).unwrap();
    let _l81 = p.b.tcp_listen(sa(ANY, 81), 64, false).unwrap();
    let mut by_port: Vec<Vec<(SocketHandle, u16)>> = vec![Vec::new(), Vec::new()];
    for (i, dport) in [80u16, 81].into_iter().enumerate() {
        for _ in 0..10 {
            let c = p.a.tcp_connect(p.now, None, sa(B, dport)).expect("a free port");
            by_port[i].push((c, p.a.tcp_conn(c).tuple().local.port()));
        }
        assert_eq!(
            p.a.tcp_connect(p.now, None, sa(B, dport)),
            Err(ConnectError::NoEphemeralPort),
            "an 11th connection to B:{dport}"
        );
    }
    let set = |v: &Vec<(SocketHandle, u16)>| v.iter().map(|x| x.1).collect::<BTreeSet<u16>>();
    let all: BTreeSet<u16> = (40000..=40009).collect();
    assert_eq!(set(&by_port[0]), all, "ten distinct ports in the range");
    assert_eq!(set(&by_port[1]), all, "the same ten ports again for B:81");
    p.settle();
    assert_eq!(p.a.netstat(p.now).count(TcpState::Established), 20);

    let (gone, port) = by_port[0][3];
    p.a.tcp_abort(gone);
    p.settle();
    let c = p.a.tcp_connect(p.now, None, sa(B, 80)).expect("the freed port");
    assert_eq!(p.a.tcp_conn(c).tuple().local.port(), port);
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    let accepted = std::iter::from_fn(|| p.b.tcp_accept(l80)).count();
    assert_eq!(accepted, 11, "ten, and the new one (the aborted one waits reset in the queue)");
}

#[test]
fn generational_handle_is_dead_after_its_slot_is_reused() {
    let mut s = stack(A, 1);
    let now = Instant::from_secs(1);
    let u1 = s.udp_bind(sa(ANY, 5000)).unwrap();
    s.close(now, u1);
    assert!(!s.contains(u1));
    let u2 = s.udp_bind(sa(ANY, 5001)).unwrap();
    assert_eq!(u2.index(), u1.index(), "the slot is reused");
    assert_ne!(u2, u1);
    assert!(!s.contains(u1), "the old handle does not reach the new socket");
    assert!(s.contains(u2));
    // A TCP connection freed by the stack itself (abort, nothing more to send) also retires
    // its handle.
    s.close(now, u2);
    let c = s.tcp_connect(now, None, sa(B, 80)).unwrap();
    assert_eq!(c.index(), u1.index());
    s.tcp_abort(c);
    let _ = drain(&mut s, now);
    assert!(!s.contains(c));
    let l = s.tcp_listen(sa(ANY, 80), 1, false).unwrap();
    assert_eq!(l.index(), c.index());
    assert!(!s.contains(c) && !s.contains(u1) && !s.contains(u2) && s.contains(l));
    assert_eq!(s.socket_count(), 1);
}

#[test]
#[should_panic(expected = "not a live socket")]
fn generational_handle_close_of_a_stale_handle_panics() {
    let mut s = stack(A, 1);
    let now = Instant::from_secs(1);
    let u1 = s.udp_bind(sa(ANY, 5000)).unwrap();
    s.close(now, u1);
    let _u2 = s.udp_bind(sa(ANY, 5000)).unwrap();
    s.close(now, u1);
}

#[test]
fn connect_errors_before_anything_is_sent() {
    // Linux connect(): ENETUNREACH without a route, EINVAL-like for 0.0.0.0, broadcast,
    // multicast or port 0, EADDRINUSE for a 4-tuple that exists (explicit local port).
    let mut s = stack(A, 1);
    let now = Instant::from_secs(1);
    let far = sa(Ipv4Addr::new(192, 0, 2, 1), 80);
    assert_eq!(s.tcp_connect(now, None, far), Err(ConnectError::NoRoute));
    for bad in
        [sa(ANY, 80), sa(Ipv4Addr::BROADCAST, 80), sa(Ipv4Addr::new(224, 0, 0, 1), 80), sa(B, 0)]
    {
        assert_eq!(s.tcp_connect(now, None, bad), Err(ConnectError::InvalidDestination), "{bad}");
    }
    let c = s.tcp_connect(now, Some(sa(A, 4000)), sa(B, 80)).unwrap();
    assert_eq!(s.tcp_conn(c).tuple().local, sa(A, 4000));
    assert_eq!(s.tcp_connect(now, Some(sa(A, 4000)), sa(B, 80)), Err(ConnectError::AddrInUse));
    assert!(s.tcp_connect(now, Some(sa(A, 4000)), sa(B, 81)).is_ok(), "another 4-tuple");
    assert_eq!(drain(&mut s, now).len(), 2, "two SYNs, nothing for the failed calls");
    assert_eq!(s.socket_count(), 2);
}

#[test]
fn a_shard_connects_and_binds_only_from_ports_whose_answers_are_steered_to_it() {
    // Shard 1 of 4 (`crate::steering`): every connection it opens has a local port whose
    // hash with the destination's port names queue 1, so the device hands the answers to
    // this stack; a UDP socket bound to port 0 likewise. 300 connections to two destination
    // ports, all from distinct ports in the range, each established.
    use crate::steering::{Shard, queue_for};
    use ustack_wire::IpProtocol;
    let mut p = Pair::new();
    let shard = Shard { queue: 1, queues: 4 };
    p.a.set_shard(Some(shard));
    assert_eq!(p.a.shard(), Some(shard));
    let listeners = [
        p.b.tcp_listen(sa(ANY, 80), 512, false).unwrap(),
        p.b.tcp_listen(sa(ANY, 443), 512, false).unwrap(),
    ];
    let mut ports = BTreeSet::new();
    for i in 0..300 {
        let dst = if i % 2 == 0 { 80 } else { 443 };
        let c = p.a.tcp_connect(p.now, None, sa(B, dst)).unwrap();
        let port = p.a.tcp_local_addr(c).port();
        assert_eq!(queue_for(IpProtocol::TCP, dst, port, 4), 1, "port {port} to {dst}");
        assert!(EPHEMERAL.contains(&port) && ports.insert(port), "port {port}");
        p.settle();
        assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
        let l = listeners[i % 2];
        assert!(p.b.tcp_accept(l).is_some());
    }
    for _ in 0..50 {
        let u = p.a.udp_bind(sa(ANY, 0)).unwrap();
        let port = p.a.udp_local_addr(u).port();
        assert_eq!(queue_for(IpProtocol::UDP, 53, port, 4), 1, "UDP port {port}");
    }
    // Alone again, the first pick is no longer held to the queue: over many picks some
    // ports steer elsewhere.
    p.a.set_shard(None);
    let mut others = 0;
    for _ in 0..40 {
        let u = p.a.udp_bind(sa(ANY, 0)).unwrap();
        others += usize::from(queue_for(IpProtocol::UDP, 53, p.a.udp_local_addr(u).port(), 4) != 1);
    }
    assert!(others > 0);
}
