//! Transparent (any-IP) mode: B answers for every address A routes to it, as a tun2socks
//! program's stack answers for every destination the kernel routes into its TUN device.
//! What must hold (gVisor's promiscuous + spoofing NIC, smoltcp `any_ip`, Linux TPROXY):
//! the dialled address is the connection's local address and the source of every reply;
//! demux keeps its specificity order with the any-IP listener last; the stack's own
//! addresses, broadcast and multicast are never taken for someone else's.

use ustack_tcp::{Event, TcpState};
use ustack_wire::TcpFlags;

use super::*;
use crate::{BindError, Route, UdpRecvError, UdpSendError};

/// Addresses out on the Internet, as a client would dial them (B is not any of them).
const FAR: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);
const FAR2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

/// A (10.0.0.1) sends everything to B; B (10.0.0.2) is transparent.
fn pair() -> Pair {
    let mut a = stack(A, 1);
    a.add_route(Route { dest: Ipv4Cidr::new(ANY, 0).unwrap().into(), iface: 0 });
    let mut b = stack(B, 2);
    b.set_transparent(true);
    Pair::with(a, b)
}

#[test]
fn any_ip_listener_accepts_a_connection_to_a_foreign_address_as_that_address() {
    // The client dials 93.184.216.34:443; B accepts it on the any-IP listener. B's side of
    // the connection has the dialled address as its local address, every segment B sends
    // comes from it (the client's kernel would reset anything else), and data flows both ways.
    let mut p = pair();
    let l = p.b.tcp_listen_any(16).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(FAR, 443)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    let s = p.b.tcp_accept(l).expect("the any-IP listener took the connection");
    let client = p.a.tcp_conn(c).tuple().local;
    assert_eq!(p.b.tcp_conn(s).tuple().local, sa(FAR, 443), "local address = the dialled one");
    assert_eq!(p.b.tcp_conn(s).tuple().remote, client);
    p.a.tcp_send(c, b"GET / HTTP/1.1\r\n\r\n").unwrap();
    p.settle();
    assert_eq!(p.read_all_b(s), b"GET / HTTP/1.1\r\n\r\n");
    p.b.tcp_send(s, b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
    p.settle();
    let mut buf = [0u8; 64];
    let n = p.a.tcp_recv(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 200 OK\r\n\r\n");
    let from_b = p.segs(false, 0);
    assert!(!from_b.is_empty());
    assert!(from_b.iter().all(|seg| seg.src == sa(FAR, 443) && seg.dst == client), "{from_b:?}");
    assert_eq!(p.b.counters().tcp_out_rsts, 0);
}

#[test]
fn transparent_demux_takes_addr_port_then_any_port_then_the_any_ip_listener() {
    // The specificity order (gVisor's demuxer): a listener on (FAR, 80) takes connections to
    // FAR:80, one on (0.0.0.0, 80) those to port 80 of any other address, and the any-IP
    // listener everything else. Binding a foreign address is allowed in transparent mode
    // (Linux: IP_TRANSPARENT).
    let mut p = pair();
    let exact = p.b.tcp_listen(sa(FAR, 80), 16, false).unwrap();
    let port = p.b.tcp_listen(sa(FAR2, 8080), 16, false).unwrap();
    let wildcard = p.b.tcp_listen(sa(ANY, 80), 16, false);
    assert_eq!(wildcard, Err(BindError::AddrInUse), "0.0.0.0:80 overlaps FAR:80 as on Linux");
    p.b.close(p.now, exact);
    let wildcard = p.b.tcp_listen(sa(ANY, 80), 16, false).unwrap();
    let exact = p.b.tcp_listen(sa(FAR, 81), 16, false).unwrap();
    let any = p.b.tcp_listen_any(16).unwrap();
    let cases = [
        (sa(FAR, 81), exact),
        (sa(FAR2, 80), wildcard),
        (sa(FAR, 80), wildcard),
        (sa(FAR2, 8080), port),
        (sa(FAR2, 81), any),
        (sa(FAR, 22), any),
    ];
    for (dst, want) in cases {
        let c = p.a.tcp_connect(p.now, None, dst).unwrap();
        p.settle();
        assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established, "to {dst}");
        let got = [exact, wildcard, port, any].into_iter().find_map(|l| {
            let s = p.b.tcp_accept(l)?;
            assert_eq!(p.b.tcp_conn(s).tuple().local, dst);
            Some(l)
        });
        assert_eq!(got, Some(want), "the listener that took {dst}");
    }
}

#[test]
fn the_stacks_own_addresses_never_reach_the_any_ip_listener() {
    // A port nobody listens on at B's own address is closed, transparent or not: RST, and the
    // any-IP listener sees nothing (a relay must not be made to connect to itself).
    let mut p = pair();
    let any = p.b.tcp_listen_any(16).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B, 81)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).error(), Some(ustack_tcp::ConnError::Refused));
    assert_eq!(p.b.tcp_accept(any), None);
    // Nor does B's loopback: 127.0.0.1:81 in B itself is refused.
    let now = p.now;
    let lc = p.b.tcp_connect(now, None, sa(Ipv4Addr::LOCALHOST, 81)).unwrap();
    let _ = drain(&mut p.b, now);
    assert_eq!(p.b.tcp_conn(lc).error(), Some(ustack_tcp::ConnError::Refused));
    assert_eq!(p.b.tcp_accept(any), None);
}

#[test]
fn foreign_addresses_are_dropped_when_transparent_mode_is_off() {
    // Without transparent mode, a SYN to an address not ours is not for this host: dropped
    // and counted, no RST, even with an any-IP listener open.
    let mut b = stack(B, 2);
    let any = b.tcp_listen_any(16).unwrap();
    assert!(!b.transparent());
    let now = Instant::from_secs(1);
    b.handle_packet(now, 0, &syn_packet(sa(A, 40000), sa(FAR, 443), 1));
    b.handle_packet(now, 0, &udp_packet(sa(A, 40000), sa(FAR, 53), b"q"));
    assert!(drain(&mut b, now).is_empty());
    assert_eq!(b.tcp_accept(any), None);
    assert_eq!(b.counters().ip_in_addr_errors, 2);
    assert_eq!(b.tcp_listen(sa(FAR, 80), 1, false), Err(BindError::AddrNotAvailable));
    // Turned on, the same SYN is answered from the dialled address.
    b.set_transparent(true);
    b.handle_packet(now, 0, &syn_packet(sa(A, 40000), sa(FAR, 443), 1));
    let out: Vec<Seg> = drain(&mut b, now).iter().filter_map(|p| tcp(p)).collect();
    assert_eq!(out.len(), 1);
    assert!(out[0].is(TcpFlags::SYN | TcpFlags::ACK));
    assert_eq!((out[0].src, out[0].dst), (sa(FAR, 443), sa(A, 40000)));
}

#[test]
fn broadcast_multicast_loopback_and_pings_are_not_taken_for_someone_else() {
    // Transparent mode stands for unicast hosts only: a SYN to the limited or directed
    // broadcast, a multicast group, 0.0.0.0 or 127.0.0.1 arriving on the device is dropped
    // (counted); a ping to a foreign address is not answered (the stack is not that host),
    // while a ping to B itself still is.
    let mut b = stack(B, 2);
    b.set_transparent(true);
    let any = b.tcp_listen_any(16).unwrap();
    let now = Instant::from_secs(1);
    let bad = [
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(10, 0, 0, 255),
        Ipv4Addr::new(224, 0, 0, 251),
        Ipv4Addr::new(239, 1, 2, 3),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::LOCALHOST,
    ];
    for dst in bad {
        b.handle_packet(now, 0, &syn_packet(sa(A, 40000), sa(dst, 80), 1));
    }
    assert!(drain(&mut b, now).is_empty());
    assert_eq!(b.tcp_accept(any), None);
    assert_eq!(b.counters().ip_in_addr_errors, bad.len() as u64);
    let ping = |dst| {
        let msg = ustack_wire::Icmpv4Repr::EchoRequest { ident: 7, seq_no: 1, data: b"ping" };
        icmp_packet(A, dst, &msg)
    };
    b.handle_packet(now, 0, &ping(FAR));
    assert!(drain(&mut b, now).is_empty(), "no echo reply for a foreign address");
    b.handle_packet(now, 0, &ping(B));
    let out = drain(&mut b, now);
    assert!(matches!(icmp(&out[0]), Some((src, A, Icmp::EchoReply { .. })) if src == B));
}

#[test]
fn any_ip_udp_socket_gets_the_destination_and_replies_from_it() {
    // A datagram to 198.51.100.7:53 reaches the any-IP UDP socket with its destination; the
    // reply sent from that destination reaches the client's socket, which sees it come from
    // the address it sent to (a connected client socket takes nothing else). A socket bound
    // to the port (on 0.0.0.0) is more specific and takes its datagrams first.
    let mut p = pair();
    let any = p.b.udp_bind_any().unwrap();
    assert_eq!(p.b.udp_bind_any(), Err(BindError::AddrInUse), "one any-IP UDP socket");
    let ua = p.a.udp_bind(sa(ANY, 5353)).unwrap();
    p.a.udp_connect(ua, sa(FAR2, 53)).unwrap();
    p.a.udp_send(p.now, ua, b"query").unwrap();
    p.settle();
    let mut buf = [0u8; 64];
    let (n, from, to) = p.b.udp_recv_from_to(any, &mut buf).unwrap();
    assert_eq!((&buf[..n], from, to), (&b"query"[..], sa(A, 5353), sa(FAR2, 53)));
    assert_eq!(
        p.b.udp_send_to(p.now, any, from, b"x"),
        Err(UdpSendError::AddrNotAvailable),
        "the any-IP socket has no address of its own to send from"
    );
    assert_eq!(
        p.b.udp_send_from_to(p.now, any, sa(B, 0), from, b"x"),
        Err(UdpSendError::AddrNotAvailable)
    );
    p.b.udp_send_from_to(p.now, any, to, from, b"answer").unwrap();
    p.settle();
    let reply = p.sent(false, 0);
    assert_eq!(udp(&reply[0]), Some((sa(FAR2, 53), sa(A, 5353), b"answer".to_vec())));
    let (n, src) = p.a.udp_recv_from(ua, &mut buf).unwrap();
    assert_eq!((&buf[..n], src), (&b"answer"[..], sa(FAR2, 53)));

    let bound = p.b.udp_bind(sa(ANY, 53)).unwrap();
    p.a.udp_send(p.now, ua, b"again").unwrap();
    p.settle();
    assert_eq!(p.b.udp_recv_from_to(any, &mut buf), Err(UdpRecvError::WouldBlock));
    let (n, _, to) = p.b.udp_recv_from_to(bound, &mut buf).unwrap();
    assert_eq!((&buf[..n], to), (&b"again"[..], sa(FAR2, 53)));
}

#[test]
fn closing_the_any_ip_listener_resets_foreign_syns_and_a_new_one_can_open() {
    // Closed, the any-IP listener takes nothing: a SYN to a foreign port is refused (the
    // stack still answers for the address, as for its own closed ports). Its slot is free
    // for another any-IP listener, which takes connections again.
    let mut p = pair();
    let any = p.b.tcp_listen_any(16).unwrap();
    assert_eq!(p.b.tcp_listen_any(16), Err(BindError::AddrInUse), "one per stack");
    p.b.close(p.now, any);
    assert!(!p.b.contains(any));
    let c = p.a.tcp_connect(p.now, None, sa(FAR, 443)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).error(), Some(ustack_tcp::ConnError::Refused));
    let rst = p.segs(false, 0);
    assert!(rst.iter().all(|s| s.src == sa(FAR, 443)), "the RST comes from the dialled address");
    let any = p.b.tcp_listen_any(16).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(FAR, 443)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    let s = p.b.tcp_accept(any).unwrap();
    // Closing the any-IP listener with a connection waiting resets it, as any listener.
    let c2 = p.a.tcp_connect(p.now, None, sa(FAR2, 443)).unwrap();
    p.settle();
    p.b.close(p.now, any);
    p.settle();
    assert_eq!(p.a.tcp_conn(c2).error(), Some(ustack_tcp::ConnError::Reset));
    assert_eq!(p.b.tcp_conn(s).state(), TcpState::Established, "accepted ones stay");
    assert!(
        p.events_a
            .iter()
            .any(|e| e.socket == c && e.kind == SocketEventKind::Tcp(Event::Connected))
    );
}

#[test]
fn netstat_shows_the_any_ip_sockets_on_every_port() {
    // ss prints a socket that takes every port with `*` for the port.
    let mut b = stack(B, 2);
    b.set_transparent(true);
    b.tcp_listen_any(16).unwrap();
    b.udp_bind_any().unwrap();
    let table = b.netstat(Instant::from_secs(1)).to_string();
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("tcp") && rows[0].contains("LISTEN"), "{table}");
    assert!(rows[1].starts_with("udp") && rows[1].contains("UNCONN"), "{table}");
    for row in rows {
        assert_eq!(row.split_whitespace().nth(4), Some("0.0.0.0:*"), "{row}");
    }
}

// ---- IPv6 ----

const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// Addresses out on the Internet, as a client would dial them over IPv6.
const FAR6: Ipv6Addr = Ipv6Addr::new(0x2606, 0x2800, 0x220, 1, 0x248, 0x1893, 0x25c8, 0x1946);
const FAR6_2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 7);

/// As [`pair`], with 2001:db8::1 and ::2 beside the IPv4 addresses, A's IPv6 default route
/// into B.
fn pair6() -> Pair {
    let mut a = stack(A, 1);
    a.add_ipv6_addr(0, crate::Ipv6Cidr::new(A6, 64).unwrap());
    a.add_route(Route {
        dest: crate::Ipv6Cidr::new(Ipv6Addr::UNSPECIFIED, 0).unwrap().into(),
        iface: 0,
    });
    let mut b = stack(B, 2);
    b.add_ipv6_addr(0, crate::Ipv6Cidr::new(B6, 64).unwrap());
    b.set_transparent(true);
    Pair::with(a, b)
}

#[test]
fn any_ip_listener_accepts_an_ipv6_connection_to_a_foreign_address_as_that_address() {
    // As over IPv4: the client dials [2606:2800:220:1:248:1893:25c8:1946]:443; B's
    // connection has that as its local address and every segment B sends comes from it.
    let mut p = pair6();
    let l = p.b.tcp_listen_any(16).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(FAR6, 443)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    let s = p.b.tcp_accept(l).expect("the any-IP listener took the IPv6 connection");
    let client = p.a.tcp_conn(c).tuple().local;
    assert_eq!(client.ip(), IpAddr::V6(A6));
    assert_eq!(p.b.tcp_conn(s).tuple().local, sa(FAR6, 443), "local address = the dialled one");
    assert_eq!(p.b.tcp_conn(s).tuple().remote, client);
    p.a.tcp_send(c, b"hello").unwrap();
    p.settle();
    assert_eq!(p.read_all_b(s), b"hello");
    p.b.tcp_send(s, b"world").unwrap();
    p.settle();
    let mut buf = [0u8; 16];
    let n = p.a.tcp_recv(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"world");
    let from_b = p.segs(false, 0);
    assert!(from_b.iter().all(|seg| seg.src == sa(FAR6, 443) && seg.dst == client), "{from_b:?}");
    assert_eq!(p.b.counters().tcp_out_rsts, 0);
    // B's own address is still B's: a closed port there is refused, not relayed.
    let c2 = p.a.tcp_connect(p.now, None, sa(B6, 81)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c2).error(), Some(ustack_tcp::ConnError::Refused));
    assert_eq!(p.b.tcp_accept(l), None);
}

#[test]
fn any_ip_udp_socket_gets_ipv6_datagrams_with_their_destination_and_replies_from_it() {
    let mut p = pair6();
    let any = p.b.udp_bind_any().unwrap();
    let ua = p.a.udp_bind(sa(Ipv6Addr::UNSPECIFIED, 5353)).unwrap();
    p.a.udp_connect(ua, sa(FAR6_2, 53)).unwrap();
    p.a.udp_send(p.now, ua, b"query").unwrap();
    p.settle();
    let mut buf = [0u8; 64];
    let (n, from, to) = p.b.udp_recv_from_to(any, &mut buf).unwrap();
    assert_eq!((&buf[..n], from, to), (&b"query"[..], sa(A6, 5353), sa(FAR6_2, 53)));
    p.b.udp_send_from_to(p.now, any, to, from, b"answer").unwrap();
    p.settle();
    let reply = p.sent(false, 0);
    assert_eq!(udp(&reply[0]), Some((sa(FAR6_2, 53), sa(A6, 5353), b"answer".to_vec())));
    let (n, src) = p.a.udp_recv_from(ua, &mut buf).unwrap();
    assert_eq!((&buf[..n], src), (&b"answer"[..], sa(FAR6_2, 53)));
}

#[test]
fn ipv6_multicast_link_local_loopback_mapped_and_pings_are_not_taken_for_someone_else() {
    // Transparent mode stands for unicast hosts beyond the link: a SYN to a multicast group,
    // a link-local address (the link's own neighbours), ::, ::1 or an IPv4-mapped address
    // arriving on the device is dropped (counted); a ping to a foreign address is not
    // answered, while a ping to B itself still is.
    let mut b = stack(B, 2);
    b.add_ipv6_addr(0, crate::Ipv6Cidr::new(B6, 64).unwrap());
    b.set_transparent(true);
    let any = b.tcp_listen_any(16).unwrap();
    let now = Instant::from_secs(1);
    let bad = [
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0, 0x101),
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 7),
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::LOCALHOST,
        Ipv4Addr::new(93, 184, 216, 34).to_ipv6_mapped(),
    ];
    for dst in bad {
        b.handle_packet(now, 0, &syn_packet(sa(A6, 40000), sa(dst, 80), 1));
    }
    assert!(drain(&mut b, now).is_empty());
    assert_eq!(b.tcp_accept(any), None);
    assert_eq!(b.counters().ip6_in_addr_errors, bad.len() as u64);
    let ping = |dst| {
        let msg = ustack_wire::Icmpv6Repr::EchoRequest { ident: 7, seq_no: 1, data: b"ping" };
        let mut body = vec![0u8; msg.buffer_len()];
        msg.emit(&mut ustack_wire::Icmpv6Packet::new_unchecked(&mut body[..]), A6, dst);
        ip6_packet(A6, dst, IpProtocol::ICMPV6, &body)
    };
    b.handle_packet(now, 0, &ping(FAR6));
    assert!(drain(&mut b, now).is_empty(), "no echo reply for a foreign address");
    // Nor any other protocol: an unknown Next Header gets no Parameter Problem from it,
    // while one to B's own address still does (RFC 8200 §4).
    b.handle_packet(now, 0, &ip6_packet(A6, FAR6, IpProtocol(47), b"gre"));
    assert!(drain(&mut b, now).is_empty(), "no ICMPv6 error from a foreign address");
    b.handle_packet(now, 0, &ip6_packet(A6, B6, IpProtocol(47), b"gre"));
    assert_eq!(drain(&mut b, now).len(), 1, "B reports its own");
    b.handle_packet(now, 0, &ping(B6));
    assert_eq!(drain(&mut b, now).len(), 1, "B answers its own");
}

#[test]
fn packet_too_big_about_a_transparent_ipv6_connection_lowers_its_segment_size() {
    // A router on the path from the dialled address back to the client reports that B's
    // segments are too big: the Packet Too Big comes to the dialled address (B's side of the
    // connection), and the connection's MSS follows it (RFC 8201 §4: 1300 − 60, less 12
    // bytes of timestamps), as for a connection on one of B's own addresses.
    let mut p = pair6();
    let l = p.b.tcp_listen_any(16).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(FAR6, 443)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    let queued = p.b.tcp_send(s, &data).unwrap();
    let mut buf = vec![0u8; 2000];
    let t = p.b.poll_transmit(p.now, &mut buf).unwrap();
    assert!(t.len > 1300);
    let (header, quoted) = ustack_wire::icmpv6::quote(&buf[..t.len]).unwrap();
    assert_eq!(header.src, FAR6);
    let router = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe);
    let msg = ustack_wire::Icmpv6Repr::PacketTooBig { mtu: 1300, header, data: quoted };
    let mut body = vec![0u8; msg.buffer_len()];
    msg.emit(&mut ustack_wire::Icmpv6Packet::new_unchecked(&mut body[..]), router, FAR6);
    p.inject(true, &ip6_packet(router, FAR6, IpProtocol::ICMPV6, &body));
    assert_eq!(p.b.tcp_conn(s).effective_mss(), 1228);
    p.run_for(crate::Duration::from_secs(5));
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = p.a.tcp_recv(c, &mut chunk) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(got == data[..queued], "{} of {queued} bytes arrived", got.len());
}
