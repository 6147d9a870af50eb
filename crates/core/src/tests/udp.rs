//! SPEC S23 UDP (RFC 768, RFC 1122 §4.1.3, Linux `udp.c`): bind, send and receive, connect
//! as a filter, the receive buffer, ICMP port unreachable, fragmentation.

use ustack_wire::DstUnreachable;

use super::*;
use crate::{BindError, Duration, UdpRecvError, UdpSendError};

const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

fn recv(s: &mut Stack, h: SocketHandle) -> Result<(Vec<u8>, std::net::SocketAddr), UdpRecvError> {
    let mut buf = vec![0u8; 70_000];
    let (n, from) = s.udp_recv_from(h, &mut buf)?;
    buf.truncate(n);
    Ok((buf, from))
}

fn readable(events: &[SocketEvent], h: SocketHandle) -> usize {
    events.iter().filter(|e| e.socket == h && e.kind == SocketEventKind::UdpReadable).count()
}

#[test]
fn s23_send_to_and_recv_from_both_ways_with_exact_payloads() {
    // RFC 768: each datagram arrives whole, with its source address and port; one datagram
    // per packet, an 8-byte header. Nothing is sent back (no ACK in UDP).
    let mut p = Pair::new();
    let ua = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    let ub = p.b.udp_bind(sa(B, 6000)).unwrap();
    assert_eq!(p.a.udp_send_to(p.now, ua, sa(B, 6000), b"hello from A").unwrap(), 12);
    assert_eq!(p.a.udp_send_to(p.now, ua, sa(B, 6000), b"").unwrap(), 0);
    p.settle();
    let sent = p.sent(true, 0);
    assert_eq!(sent.len(), 2);
    assert_eq!(udp(&sent[0]), Some((sa(A, 5000), sa(B, 6000), b"hello from A".to_vec())));
    assert_eq!(sent[0].len(), 20 + 8 + 12);
    assert!(p.sent(false, 0).is_empty(), "UDP sends no acknowledgement");
    assert_eq!(readable(&p.events_b, ub), 1, "one readable event until the socket is read");
    assert_eq!(recv(&mut p.b, ub), Ok((b"hello from A".to_vec(), sa(A, 5000))));
    assert_eq!(recv(&mut p.b, ub), Ok((Vec::new(), sa(A, 5000))), "an empty datagram");
    assert_eq!(recv(&mut p.b, ub), Err(UdpRecvError::WouldBlock));

    let reply: Vec<u8> = (0..1400u32).map(|i| (i * 7) as u8).collect();
    p.b.udp_send_to(p.now, ub, sa(A, 5000), &reply).unwrap();
    p.settle();
    assert_eq!(readable(&p.events_a, ua), 1);
    assert_eq!(recv(&mut p.a, ua), Ok((reply.clone(), sa(B, 6000))));
    // A buffer too small gets the head; the datagram's length is returned, the rest dropped.
    p.b.udp_send_to(p.now, ub, sa(A, 5000), &reply).unwrap();
    p.settle();
    assert_eq!(readable(&p.events_a, ua), 2, "readable again after the socket was read");
    let mut small = [0u8; 10];
    assert_eq!(p.a.udp_recv_from(ua, &mut small), Ok((1400, sa(B, 6000))));
    assert_eq!(small[..], reply[..10]);
    assert_eq!(recv(&mut p.a, ua), Err(UdpRecvError::WouldBlock));
    let (ca, cb) = (p.a.counters(), p.b.counters());
    assert_eq!((ca.udp_out_datagrams, ca.udp_in_datagrams), (2, 2));
    assert_eq!((cb.udp_out_datagrams, cb.udp_in_datagrams), (2, 2));
}

#[test]
fn s23_port_zero_gets_an_ephemeral_port() {
    let mut p = Pair::new();
    let u1 = p.a.udp_bind(sa(ANY, 0)).unwrap();
    let u2 = p.a.udp_bind(sa(A, 0)).unwrap();
    let (p1, p2) = (p.a.udp_local_addr(u1).port(), p.a.udp_local_addr(u2).port());
    assert!((32768..=60999).contains(&p1) && (32768..=60999).contains(&p2), "{p1} {p2}");
    assert_ne!(p1, p2);
    assert_eq!(p.a.udp_bind(sa(ANY, p1)), Err(BindError::AddrInUse));
    let ub = p.b.udp_bind(sa(ANY, 53)).unwrap();
    p.a.udp_send_to(p.now, u1, sa(B, 53), b"q").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.b, ub), Ok((b"q".to_vec(), sa(A, p1))));
}

#[test]
fn s23_port_zero_on_any_address_skips_a_port_bound_on_a_specific_address() {
    // With a range of two ports and 10.0.0.1:N bound, 0.0.0.0:0 must get the other port:
    // Linux `udp_lib_get_port` only hands out a port that passes the conflict check, and
    // 0.0.0.0 conflicts with every address. (Tried with each port taken, so that the
    // allocator's first candidate is the taken one in one of the two runs.)
    for taken in [40000u16, 40001] {
        let mut cfg = config(1);
        cfg.ip_local_port_range = (40000, 40001);
        let mut s = stack_with(A, cfg);
        s.udp_bind(sa(A, taken)).unwrap();
        let u = s.udp_bind(sa(ANY, 0)).expect("the other port is free");
        assert_eq!(s.udp_local_addr(u).port(), if taken == 40000 { 40001 } else { 40000 });
        assert_eq!(s.udp_bind(sa(ANY, 0)), Err(BindError::NoEphemeralPort));
    }
}

#[test]
fn s23_connect_filters_other_peers_and_can_be_changed_and_undone() {
    // S23 / Linux `compute_score`: a connected socket only matches datagrams from its peer.
    // A datagram from another peer matches no socket, so it is answered with ICMP port
    // unreachable like any datagram to a closed port. The unconnected sender ignores that
    // ICMP (Linux reports ICMP errors only to connected sockets without IP_RECVERR).
    let mut p = Pair::new();
    let a1 = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    let a2 = p.a.udp_bind(sa(ANY, 5001)).unwrap();
    let ub = p.b.udp_bind(sa(ANY, 7000)).unwrap();
    p.b.udp_connect(ub, sa(A, 5000)).unwrap();
    assert_eq!(p.b.udp_peer_addr(ub), Some(sa(A, 5000)));

    p.a.udp_send_to(p.now, a2, sa(B, 7000), b"from 5001").unwrap();
    p.a.udp_send_to(p.now, a1, sa(B, 7000), b"from 5000").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.b, ub), Ok((b"from 5000".to_vec(), sa(A, 5000))));
    assert_eq!(recv(&mut p.b, ub), Err(UdpRecvError::WouldBlock), "5001 was filtered");
    let icmps: Vec<_> = p.sent(false, 0).iter().filter_map(|x| icmp(x)).collect();
    assert_eq!(icmps.len(), 1, "{icmps:?}");
    let (src, dst, Icmp::Unreachable { reason, data, .. }) = &icmps[0] else { panic!("{icmps:?}") };
    assert_eq!((*src, *dst, *reason), (B, A, DstUnreachable::PortUnreachable));
    assert_eq!(data[..4], [0x13, 0x89, 0x1b, 0x58], "quotes ports 5001 → 7000");
    assert_eq!(p.b.counters().udp_no_ports, 1);
    assert_eq!(recv(&mut p.a, a2), Err(UdpRecvError::WouldBlock), "no error for unconnected");
    assert!(!p.events_a.iter().any(|e| e.kind == SocketEventKind::UdpError));

    // connect again: the peer changes.
    p.b.udp_connect(ub, sa(A, 5001)).unwrap();
    p.a.udp_send_to(p.now, a1, sa(B, 7000), b"from 5000").unwrap();
    p.a.udp_send_to(p.now, a2, sa(B, 7000), b"from 5001").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.b, ub), Ok((b"from 5001".to_vec(), sa(A, 5001))));
    assert_eq!(recv(&mut p.b, ub), Err(UdpRecvError::WouldBlock));
    assert_eq!(p.b.counters().udp_no_ports, 2);
    p.b.udp_send(p.now, ub, b"to my peer").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.a, a2), Ok((b"to my peer".to_vec(), sa(B, 7000))));

    // disconnect: datagrams from anyone again; udp_send has no destination.
    p.b.udp_disconnect(ub);
    assert_eq!(p.b.udp_peer_addr(ub), None);
    p.a.udp_send_to(p.now, a1, sa(B, 7000), b"one").unwrap();
    p.a.udp_send_to(p.now, a2, sa(B, 7000), b"two").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.b, ub), Ok((b"one".to_vec(), sa(A, 5000))));
    assert_eq!(recv(&mut p.b, ub), Ok((b"two".to_vec(), sa(A, 5001))));
    assert_eq!(p.b.udp_send(p.now, ub, b"x"), Err(UdpSendError::NotConnected));
    assert_eq!(p.b.counters().udp_no_ports, 2);
}

#[test]
fn s23_full_receive_queue_drops_and_counts_and_keeps_what_was_queued() {
    // S23 / Linux `__udp_enqueue_schedule_skb`: past the receive buffer a datagram is
    // dropped and counted (UDP RcvbufErrors and the socket's drops); nothing already queued
    // is lost and no ICMP is sent (the port is open).
    let mut cfg = config(2);
    cfg.udp_rmem = 1000;
    let mut p = Pair::with(stack(A, 1), stack_with(B, cfg));
    let ua = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    let ub = p.b.udp_bind(sa(ANY, 7000)).unwrap();
    let dgram = |i: u8| vec![i; 300];
    for i in 0..5 {
        p.a.udp_send_to(p.now, ua, sa(B, 7000), &dgram(i)).unwrap();
    }
    p.settle();
    assert_eq!(p.b.udp_drops(ub), 2, "300 + 300 + 300 fit in 1000, the next two do not");
    let c = p.b.counters();
    assert_eq!((c.udp_rcvbuf_errors, c.udp_in_datagrams), (2, 3));
    assert!(p.sent(false, 0).is_empty(), "no ICMP for a full buffer");
    let recv_q = p.b.netstat(p.now).sockets.iter().find(|s| s.handle == ub).unwrap().recv_q;
    assert_eq!(recv_q, 900);
    for i in 0..3 {
        assert_eq!(recv(&mut p.b, ub), Ok((dgram(i), sa(A, 5000))));
    }
    assert_eq!(recv(&mut p.b, ub), Err(UdpRecvError::WouldBlock));
    for i in 5..7 {
        p.a.udp_send_to(p.now, ua, sa(B, 7000), &dgram(i)).unwrap();
    }
    p.settle();
    for i in 5..7 {
        assert_eq!(recv(&mut p.b, ub), Ok((dgram(i), sa(A, 5000))), "room again after reading");
    }
    assert_eq!(p.b.udp_drops(ub), 2);
}

#[test]
fn s23_closed_port_gets_icmp_port_unreachable_and_a_connected_socket_is_refused_once() {
    // RFC 1122 §4.1.3.1: a datagram for no socket gets ICMP port unreachable, quoting its
    // IP header and first bytes. Linux: a connected socket takes it as ECONNREFUSED, which
    // the next recvmsg or sendmsg reports once (`sock_error`); the failed send sends nothing.
    let mut p = Pair::new();
    let ua = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    p.a.udp_connect(ua, sa(B, 9999)).unwrap();
    p.a.udp_send(p.now, ua, b"anyone there?").unwrap();
    p.settle();
    let from_b = p.sent(false, 0);
    assert_eq!(from_b.len(), 1);
    let (src, dst, msg) = icmp(&from_b[0]).expect("ICMP");
    assert_eq!((src, dst), (B, A));
    let Icmp::Unreachable { reason, header, data } = msg else { panic!("{msg:?}") };
    assert_eq!(reason, DstUnreachable::PortUnreachable);
    assert_eq!((header.src, header.dst, header.protocol), (A, B, ustack_wire::IpProtocol::UDP));
    assert_eq!(data.len(), 8 + 13, "the UDP header and payload are quoted");
    assert_eq!(
        udp(&ip_packet(A, B, header.protocol, &data)).map(|u| u.2),
        Some(b"anyone there?".to_vec())
    );
    let cb = p.b.counters();
    assert_eq!((cb.udp_no_ports, cb.icmp_out_dest_unreachs), (1, 1));
    assert!(p.events_a.iter().any(|e| e.socket == ua && e.kind == SocketEventKind::UdpError));
    assert_eq!(recv(&mut p.a, ua), Err(UdpRecvError::Refused));
    assert_eq!(recv(&mut p.a, ua), Err(UdpRecvError::WouldBlock), "reported once");

    p.a.udp_send(p.now, ua, b"again").unwrap();
    p.settle();
    let mark = p.log.len();
    assert_eq!(p.a.udp_send(p.now, ua, b"lost"), Err(UdpSendError::Refused));
    p.settle();
    assert!(p.sent(true, mark).is_empty(), "the refused send sent nothing");
    assert_eq!(p.a.udp_send(p.now, ua, b"third"), Ok(5), "reported once");

    // An unconnected socket is not told (no IP_RECVERR).
    let u2 = p.a.udp_bind(sa(ANY, 5001)).unwrap();
    p.a.udp_send_to(p.now, u2, sa(B, 9999), b"x").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.a, u2), Err(UdpRecvError::WouldBlock));
    assert_eq!(p.a.udp_send_to(p.now, u2, sa(B, 9999), b"y"), Ok(1));
}

#[test]
fn s23_datagram_larger_than_the_mtu_leaves_in_fragments_and_arrives_whole() {
    // RFC 791: 4000 bytes + 8 (UDP) over an MTU of 1500 leave as fragments of 1480, 1480 and
    // 1048 bytes of IP payload (multiples of 8 but the last) at offsets 0, 1480, 2960, with
    // one identification, MF on all but the last, no DF. B reassembles them.
    let mut p = Pair::new();
    let ua = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    let ub = p.b.udp_bind(sa(ANY, 7000)).unwrap();
    let data: Vec<u8> = (0..4000u32).map(|i| (i % 253) as u8).collect();
    p.a.udp_send_to(p.now, ua, sa(B, 7000), &data).unwrap();
    p.settle();
    let frags: Vec<Ipv4Repr> = p.sent(true, 0).iter().map(|x| ip(x)).collect();
    let shape: Vec<(usize, u16, bool)> =
        frags.iter().map(|f| (f.payload_len, f.frag_offset, f.more_frags)).collect();
    assert_eq!(shape, [(1480, 0, true), (1480, 1480, true), (1048, 2960, false)]);
    assert!(frags.iter().all(|f| f.ident == frags[0].ident && !f.dont_frag));
    assert!(p.sent(true, 0).iter().all(|x| x.len() <= 1500));
    assert_eq!(recv(&mut p.b, ub), Ok((data.clone(), sa(A, 5000))));
    assert_eq!(p.a.counters().ip_frag_creates, 3);
    let cb = p.b.counters();
    assert_eq!((cb.ip_reasm_reqds, cb.ip_reasm_oks), (3, 1));

    // Lose the middle fragment: nothing is delivered, and the reassembly times out after
    // ipfrag_time (30 s).
    let mut n = 0;
    p.drop_if = Some(Box::new(move |_, _| {
        n += 1;
        n == 2
    }));
    p.a.udp_send_to(p.now, ua, sa(B, 7000), &data).unwrap();
    p.settle();
    p.drop_if = None;
    assert_eq!(recv(&mut p.b, ub), Err(UdpRecvError::WouldBlock));
    p.run_for(Duration::from_secs(31));
    assert_eq!(p.b.counters().ip_reasm_timeouts, 1);
    assert_eq!(recv(&mut p.b, ub), Err(UdpRecvError::WouldBlock));
}

#[test]
fn s23_udp_checksum_zero_is_accepted_and_a_bad_one_dropped_without_icmp() {
    // RFC 768: "An all zero transmitted checksum value means that the transmitter generated
    // no checksum"; such a datagram is delivered. A wrong non-zero checksum: the datagram is
    // dropped and counted (Linux InErrors/InCsumErrors), nobody is told.
    let mut b = stack(B, 2);
    let now = Instant::from_secs(1);
    let u = b.udp_bind(sa(ANY, 7000)).unwrap();
    let mut no_sum = udp_packet(sa(A, 5000), sa(B, 7000), b"unchecked");
    no_sum[26..28].copy_from_slice(&[0, 0]);
    b.handle_packet(now, 0, &no_sum);
    assert_eq!(recv(&mut b, u), Ok((b"unchecked".to_vec(), sa(A, 5000))));
    for port in [7000, 7001] {
        let mut bad = udp_packet(sa(A, 5000), sa(B, port), b"garbled");
        let last = bad.len() - 1;
        bad[last] ^= 0x20;
        b.handle_packet(now, 0, &bad);
    }
    assert_eq!(recv(&mut b, u), Err(UdpRecvError::WouldBlock));
    assert!(
        drain(&mut b, now).is_empty(),
        "no ICMP for a corrupted datagram, even to a closed port"
    );
    let c = b.counters();
    assert_eq!((c.udp_in_datagrams, c.udp_in_errors, c.udp_no_ports), (1, 2, 0));
}

#[test]
fn s23_udp_bind_conflicts_and_send_errors() {
    // Linux UDP without SO_REUSEADDR: one socket per (address, port), and 0.0.0.0 overlaps
    // every address. A closed socket frees its port at once (UDP has no TIME-WAIT).
    let mut s = stack(A, 1);
    let now = Instant::from_secs(1);
    let u = s.udp_bind(sa(ANY, 5000)).unwrap();
    assert_eq!(s.udp_bind(sa(ANY, 5000)), Err(BindError::AddrInUse));
    assert_eq!(s.udp_bind(sa(A, 5000)), Err(BindError::AddrInUse));
    let v = s.udp_bind(sa(A, 5001)).unwrap();
    assert_eq!(s.udp_bind(sa(ANY, 5001)), Err(BindError::AddrInUse));
    assert!(s.tcp_listen(sa(ANY, 5000), 1, false).is_ok(), "TCP ports are another space");
    s.close(now, u);
    assert!(s.udp_bind(sa(ANY, 5000)).is_ok());
    // Send errors: no route (ENETUNREACH), too large (EMSGSIZE), bad destination.
    let far = sa(Ipv4Addr::new(192, 0, 2, 1), 53);
    assert_eq!(s.udp_send_to(now, v, far, b"x"), Err(UdpSendError::NoRoute));
    assert_eq!(s.udp_connect(v, far), Err(crate::ConnectError::NoRoute));
    let huge = vec![0u8; crate::UDP_MAX_PAYLOAD + 1];
    assert_eq!(s.udp_send_to(now, v, sa(B, 53), &huge), Err(UdpSendError::TooLarge));
    assert_eq!(s.udp_send_to(now, v, sa(B, 0), b"x"), Err(UdpSendError::InvalidDestination));
    assert_eq!(s.udp_send_to(now, v, sa(ANY, 53), b"x"), Err(UdpSendError::InvalidDestination));
    assert!(drain(&mut s, now).is_empty());
    assert_eq!(s.counters().ip_out_no_routes, 1);
    // The largest datagram goes out (in 45 fragments).
    let max = vec![1u8; crate::UDP_MAX_PAYLOAD];
    assert_eq!(s.udp_send_to(now, v, sa(B, 53), &max), Ok(crate::UDP_MAX_PAYLOAD));
    let frags = drain(&mut s, now);
    assert_eq!(frags.len(), 45);
    assert_eq!(frags.iter().map(|f| f.len() - 20).sum::<usize>(), 65_535 - 20);
}

#[test]
fn s23_the_largest_datagram_goes_out_even_when_its_fragments_exceed_wmem() {
    // wmem holds one 64 KiB datagram, but at MTU 576 its 143 fragments carry 143 IP headers
    // more. Like Linux (`sock_alloc_send_pskb` only checks what is already queued), an empty
    // queue always takes one datagram; otherwise a send could never succeed, and a blocking
    // send would wait for ever.
    let mut s = Stack::new(StackConfig { wmem: 65_535 + 20, ..config(1) }).unwrap();
    s.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(A, 24).unwrap(), 576));
    let now = Instant::from_secs(1);
    let v = s.udp_bind(sa(A, 5001)).unwrap();
    let max = vec![1u8; crate::UDP_MAX_PAYLOAD];
    assert_eq!(s.udp_send_to(now, v, sa(B, 53), &max), Ok(crate::UDP_MAX_PAYLOAD));
    // The queue is over its limit now: the next one waits for it to drain.
    assert_eq!(s.udp_send_to(now, v, sa(B, 53), b"x"), Err(UdpSendError::BufferFull));
    let frags = drain(&mut s, now);
    assert_eq!(frags.iter().map(|f| f.len() - 20).sum::<usize>(), 65_535 - 20);
    assert_eq!(s.udp_send_to(now, v, sa(B, 53), b"x"), Ok(1));
}
