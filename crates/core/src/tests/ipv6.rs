//! IPv6 in the host: TCP and UDP over IPv6, dual-stack sockets (RFC 3493 §3.7, Linux
//! `bindv6only`), ICMPv6 (RFC 4443), Path MTU Discovery (RFC 8201), fragments (RFC 8200 §4.5,
//! RFC 6946, RFC 8021), extension headers and loopback `::1`.

use ustack_wire::icmpv6::{DstUnreachable as Unreach6, ParamProblem};
use ustack_wire::{Icmpv6Packet, Icmpv6Repr, Ipv6FragRepr};

use super::*;
use crate::{BindError, Duration, Ipv6Cidr, UdpRecvError, UdpSendError};

const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const ANY6: Ipv6Addr = Ipv6Addr::UNSPECIFIED;

/// A stack with 10.0.0.x/24 and 2001:db8::x/64 on one interface of MTU 1500.
fn dual(v4: Ipv4Addr, v6: Ipv6Addr, secret: u8) -> Stack {
    let mut s = stack(v4, secret);
    s.add_ipv6_addr(0, Ipv6Cidr::new(v6, 64).unwrap());
    s
}

fn pair6() -> Pair {
    Pair::with(dual(A, A6, 1), dual(B, B6, 2))
}

/// The ICMPv6 message in `pkt`, with its source and destination.
fn icmp6(pkt: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, Icmpv6Repr<'_>)> {
    let (ip, payload) = parse_any(pkt)?;
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (ip.src, ip.dst) else { return None };
    if ip.protocol != IpProtocol::ICMPV6 {
        return None;
    }
    let view = Icmpv6Packet::new_checked(payload).ok()?;
    let repr = Icmpv6Repr::parse(&view, src, dst).expect("the stack sends valid ICMPv6");
    Some((src, dst, repr))
}

fn icmp6_packet(src: Ipv6Addr, dst: Ipv6Addr, msg: &Icmpv6Repr<'_>) -> Vec<u8> {
    let mut body = vec![0u8; msg.buffer_len()];
    msg.emit(&mut Icmpv6Packet::new_unchecked(&mut body[..]), src, dst);
    ip6_packet(src, dst, IpProtocol::ICMPV6, &body)
}

/// A Packet Too Big from a router on the path about `original`, a packet A sent.
fn packet_too_big(original: &[u8], mtu: u32) -> Vec<u8> {
    let (header, data) = ustack_wire::icmpv6::quote(original).unwrap();
    let router = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe);
    icmp6_packet(router, header.src, &Icmpv6Repr::PacketTooBig { mtu, header, data })
}

fn recv(s: &mut Stack, h: SocketHandle) -> Result<(Vec<u8>, SocketAddr), UdpRecvError> {
    let mut buf = vec![0u8; 70_000];
    let (n, from) = s.udp_recv_from(h, &mut buf)?;
    buf.truncate(n);
    Ok((buf, from))
}

#[test]
fn ipv6_tcp_handshake_announces_mtu_minus_60_and_carries_data_both_ways() {
    // RFC 9293 §3.7.1 with RFC 8200's 40-byte header: MSS 1500 − 60 = 1440 (Linux's SYN
    // over IPv6 on a 1500-byte link says the same).
    let mut p = pair6();
    let l = p.b.tcp_listen(sa(ANY6, 80), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).expect("accepted over IPv6");
    let syn = &p.segs(true, 0)[0];
    assert_eq!(syn.options.mss, Some(1440));
    assert_eq!((syn.src.ip(), syn.dst), (IpAddr::V6(A6), sa(B6, 80)));
    assert_eq!(p.b.tcp_peer_addr(s), p.a.tcp_local_addr(c));
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 13) as u8).collect();
    let mut got = Vec::new();
    let mut sent = 0;
    while got.len() < data.len() {
        sent += p.a.tcp_send(c, &data[sent..]).unwrap_or(0);
        p.settle();
        got.extend(p.read_all_b(s));
        assert!(p.now < Instant::from_secs(100), "stalled at {} bytes", got.len());
    }
    assert!(got == data, "the bytes arrived in order");
    // Timestamps take 12 bytes of each segment's 1440.
    let biggest = p.segs(true, 0).iter().map(|s| s.payload.len()).max().unwrap();
    assert_eq!(biggest, 1428, "full segments of the MSS");
    assert!(p.sent(true, 0).iter().all(|pkt| pkt.len() <= 1500), "nothing above the MTU");
    let c = p.a.counters();
    assert!(c.ip6_out_requests > 0 && c.ip_out_requests == 0, "IPv6 only: {c:?}");
}

#[test]
fn ipv6_segments_of_a_connection_share_one_nonzero_flow_label() {
    // RFC 6437 §3 / Linux auto_flowlabels = 1: one label per flow, 20 bits, not 0; another
    // flow (another port) gets another; auto_flowlabels = 0 sends 0.
    let mut p = pair6();
    let l = p.b.tcp_listen(sa(ANY6, 80), 16, false).unwrap();
    let _c1 = p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    let _c2 = p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    p.settle();
    let _ = (p.b.tcp_accept(l), p.b.tcp_accept(l));
    let labels = |from_a: bool| {
        let mut by_port = std::collections::BTreeMap::new();
        for pkt in p.sent(from_a, 0) {
            let (ip, _) = parse_any(&pkt).unwrap();
            let seg = tcp(&pkt).unwrap();
            let port = if from_a { seg.src.port() } else { seg.dst.port() };
            by_port
                .entry(port)
                .or_insert_with(std::collections::BTreeSet::new)
                .insert(ip.flow_label);
        }
        by_port
    };
    let a = labels(true);
    assert_eq!(a.len(), 2);
    let firsts: Vec<u32> = a
        .values()
        .map(|set| {
            assert_eq!(set.len(), 1, "one label per flow");
            *set.first().unwrap()
        })
        .collect();
    assert!(firsts.iter().all(|&l| l != 0 && l <= 0xfffff));
    assert_ne!(firsts[0], firsts[1], "two flows, two labels");

    let mut cfg = config(1);
    cfg.auto_flowlabels = 0;
    let mut a = stack_with(A, cfg);
    a.add_ipv6_addr(0, Ipv6Cidr::new(A6, 64).unwrap());
    let mut p = Pair::with(a, dual(B, B6, 2));
    p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    p.settle();
    assert_eq!(parse_any(&p.sent(true, 0)[0]).unwrap().0.flow_label, 0);
}

#[test]
fn dual_stack_listener_on_unspecified_takes_ipv4_clients_as_mapped_addresses() {
    // RFC 3493 §3.7, Linux bindv6only = 0: an AF_INET6 listener on :: accepts IPv4
    // connections and shows the peer as ::ffff:a.b.c.d; the segments are plain IPv4.
    let mut p = pair6();
    let l = p.b.tcp_listen(sa(ANY6, 80), 16, false).unwrap();
    let c4 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let c6 = p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    p.settle();
    let s4 = p.b.tcp_accept(l).expect("the IPv4 client");
    let s6 = p.b.tcp_accept(l).expect("the IPv6 client");
    let a_port = p.a.tcp_local_addr(c4).port();
    assert_eq!(p.b.tcp_peer_addr(s4), sa(A.to_ipv6_mapped(), a_port));
    assert_eq!(p.b.tcp_local_addr(s4), sa(B.to_ipv6_mapped(), 80));
    assert_eq!(p.b.tcp_peer_addr(s6), p.a.tcp_local_addr(c6));
    assert_eq!(p.a.tcp_peer_addr(c4), sa(B, 80), "the IPv4 client's socket is IPv4");
    assert!(p.sent(false, 0).iter().any(|pkt| pkt[0] >> 4 == 4), "IPv4 on the wire");
    let ns = p.b.netstat(p.now).to_string();
    assert!(ns.contains("[::ffff:10.0.0.2]:80") && ns.contains("[::]:80"), "{ns}");
}

#[test]
fn v6only_listener_refuses_ipv4_with_a_rst_and_leaves_the_port_to_an_ipv4_listener() {
    // IPV6_V6ONLY (or bindv6only = 1): the :: listener takes IPv6 only, so 0.0.0.0 may bind
    // the same port (Linux `inet_bind_conflict`), and IPv4 SYNs go to that one.
    let mut p = pair6();
    let tcp = p.b.config().tcp;
    let l6 = p.b.tcp_listen_v6only(sa(ANY6, 80), 16, false, true, &tcp).unwrap();
    let c4 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.settle();
    assert!(p.segs(false, 0).iter().any(|s| s.has(TcpFlags::RST)), "no listener takes IPv4");
    assert_eq!(p.b.tcp_accept(l6), None);
    assert_eq!(p.a.tcp_conn(c4).state(), ustack_tcp::TcpState::Closed);
    let l4 = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    p.settle();
    assert!(p.b.tcp_accept(l4).is_some() && p.b.tcp_accept(l6).is_some());
}

#[test]
fn bind_conflicts_follow_linux_dual_stack_rules() {
    // Linux `inet_bind_conflict` / `ipv6_rcv_saddr_equal`: 0.0.0.0 and a dual-stack :: meet
    // on every IPv4 address; a V6ONLY :: and 0.0.0.0 do not; 10.0.0.2 and ::ffff:10.0.0.2
    // are one address; an IPv6 address conflicts with :: and itself only.
    let mut b = dual(B, B6, 2);
    let tcp = b.config().tcp;
    let any4 = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 4, false).unwrap();
    assert_eq!(b.tcp_listen(sa(ANY6, 80), 4, false), Err(BindError::AddrInUse));
    let v6only = b.tcp_listen_v6only(sa(ANY6, 80), 4, false, true, &tcp).unwrap();
    assert_eq!(b.tcp_listen(sa(B6, 80), 4, false), Err(BindError::AddrInUse));
    b.close(Instant::ZERO, any4);
    b.close(Instant::ZERO, v6only);
    let _b4 = b.tcp_listen(sa(B, 81), 4, false).unwrap();
    assert_eq!(b.tcp_listen(sa(B.to_ipv6_mapped(), 81), 4, false), Err(BindError::AddrInUse));
    let _b6 = b.tcp_listen(sa(B6, 81), 4, false).unwrap();
    assert_eq!(b.tcp_listen(sa(ANY6, 81), 4, false), Err(BindError::AddrInUse));
    // UDP follows the same table.
    let _u = b.udp_bind(sa(ANY6, 53)).unwrap();
    assert_eq!(b.udp_bind(sa(B, 53)).map(|_| ()), Err(BindError::AddrInUse));
    // Not our address: EADDRNOTAVAIL.
    let other = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9);
    assert_eq!(b.udp_bind(sa(other, 0)).map(|_| ()), Err(BindError::AddrNotAvailable));
}

#[test]
fn ipv6_udp_round_trip_and_icmpv6_port_unreachable_for_a_closed_port() {
    // RFC 4443 §3.1: code 4 for a datagram no socket takes, quoting it; a connected socket
    // that gets it reports ECONNREFUSED on its next call (Linux).
    let mut p = pair6();
    let ua = p.a.udp_bind(sa(ANY6, 5000)).unwrap();
    let ub = p.b.udp_bind(sa(B6, 6000)).unwrap();
    p.a.udp_send_to(p.now, ua, sa(B6, 6000), b"over v6").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.b, ub), Ok((b"over v6".to_vec(), sa(A6, 5000))));
    p.b.udp_send_to(p.now, ub, sa(A6, 5000), b"back").unwrap();
    p.settle();
    assert_eq!(recv(&mut p.a, ua), Ok((b"back".to_vec(), sa(B6, 6000))));

    p.a.udp_connect(ua, sa(B6, 7777)).unwrap();
    let mark = p.log.len();
    p.a.udp_send(p.now, ua, b"nobody").unwrap();
    p.settle();
    let answers = p.sent(false, mark);
    assert_eq!(answers.len(), 1);
    let (src, dst, msg) = icmp6(&answers[0]).expect("an ICMPv6 message");
    assert_eq!((src, dst), (B6, A6));
    let Icmpv6Repr::DstUnreachable { reason, header, data } = msg else { panic!("{msg:?}") };
    assert_eq!(reason, Unreach6::PortUnreachable);
    assert_eq!((header.src, header.dst, header.next_header), (A6, B6, IpProtocol::UDP));
    assert_eq!(&data[8..], b"nobody", "the whole datagram quoted");
    assert_eq!(recv(&mut p.a, ua), Err(UdpRecvError::Refused));
    assert_eq!(p.b.counters().icmp6_out_dest_unreachs, 1);
}

#[test]
fn an_ipv4_socket_cannot_send_to_ipv6_and_v6only_cannot_send_to_mapped() {
    let mut a = dual(A, A6, 1);
    let u4 = a.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let now = Instant::ZERO;
    assert_eq!(a.udp_send_to(now, u4, sa(B6, 9), b"x"), Err(UdpSendError::InvalidDestination));
    let u6 = a.udp_bind_v6only(sa(ANY6, 0), true).unwrap();
    let mapped = sa(B.to_ipv6_mapped(), 9);
    assert_eq!(a.udp_send_to(now, u6, mapped, b"x"), Err(UdpSendError::InvalidDestination));
    let dual_sock = a.udp_bind(sa(ANY6, 0)).unwrap();
    assert_eq!(a.udp_send_to(now, dual_sock, mapped, b"x"), Ok(1));
    let out = drain(&mut a, now);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][0] >> 4, 4, "a mapped destination is reached over IPv4");
}

#[test]
fn ping6_gets_an_echo_reply_with_the_same_ident_seq_and_data() {
    // RFC 4443 §4.2: the reply carries the request's identifier, sequence number and data.
    let mut b = dual(B, B6, 2);
    let req = Icmpv6Repr::EchoRequest { ident: 0x1234, seq_no: 7, data: b"ping6 payload" };
    b.handle_packet(Instant::ZERO, 0, &icmp6_packet(A6, B6, &req));
    let out = drain(&mut b, Instant::ZERO);
    assert_eq!(out.len(), 1);
    let (src, dst, msg) = icmp6(&out[0]).unwrap();
    assert_eq!((src, dst), (B6, A6));
    assert_eq!(msg, Icmpv6Repr::EchoReply { ident: 0x1234, seq_no: 7, data: b"ping6 payload" });
    assert_eq!(b.counters().icmp6_out_echo_replies, 1);
}

#[test]
fn unknown_next_header_gets_parameter_problem_code_1_pointing_at_the_field() {
    // RFC 8200 §4: an unrecognized Next Header is answered with a Parameter Problem code 1
    // whose pointer is the offset of the Next Header field (6 for the fixed header).
    let mut b = dual(B, B6, 2);
    b.handle_packet(Instant::ZERO, 0, &ip6_packet(A6, B6, IpProtocol(253), &[0; 16]));
    let out = drain(&mut b, Instant::ZERO);
    assert_eq!(out.len(), 1);
    let (_, dst, msg) = icmp6(&out[0]).unwrap();
    assert_eq!(dst, A6);
    let Icmpv6Repr::ParamProblem { reason, pointer, .. } = msg else { panic!("{msg:?}") };
    assert_eq!((reason, pointer), (ParamProblem::UnrecognizedNextHeader, 6));
    assert_eq!(b.counters().ip6_in_unknown_protos, 1);
}

#[test]
fn icmpv6_errors_are_limited_per_destination_to_a_burst_of_6() {
    // Linux `icmpv6_xrlim_allow` (net.ipv6.icmp.ratelimit 1000 ms, burst 6) on a /64 route:
    // the interval is 1000 >> ((128 − 64) >> 5) = 250 ms.
    let mut b = dual(B, B6, 2);
    let probe = udp_packet(sa(A6, 1000), sa(B6, 9), b"x");
    let mut sent = 0;
    for _ in 0..20 {
        b.handle_packet(Instant::ZERO, 0, &probe);
        sent += drain(&mut b, Instant::ZERO).len();
    }
    assert_eq!(sent, 6);
    b.handle_packet(Instant::from_millis(250), 0, &probe);
    assert_eq!(drain(&mut b, Instant::from_millis(250)).len(), 1, "a token per 250 ms");
    assert_eq!(b.counters().icmp6_out_rate_limited, 14);
}

#[test]
fn packet_too_big_lowers_the_path_mtu_never_below_1280_until_it_expires_after_600_s() {
    // RFC 8201 §4: the PMTU to the destination drops to the reported MTU, but never below
    // 1280; RFC 8021: no atomic fragments then, 1280-byte packets instead. Linux keeps the
    // learnt MTU for net.ipv6.route.mtu_expires (600 s).
    let mut a = dual(A, A6, 1);
    let u = a.udp_bind(sa(ANY6, 5000)).unwrap();
    let t0 = Instant::from_secs(10);
    let big = vec![7u8; 1400];
    a.udp_send_to(t0, u, sa(B6, 9), &big).unwrap();
    let first = drain(&mut a, t0);
    assert_eq!(first.len(), 1, "1448 bytes fit the 1500-byte link");
    a.handle_packet(t0, 0, &packet_too_big(&first[0], 1300));
    assert_eq!(a.counters().ip6_pmtu_lowered, 1);
    a.udp_send_to(t0, u, sa(B6, 9), &big).unwrap();
    let frags = drain(&mut a, t0);
    assert_eq!(frags.len(), 2, "fragmented to the new path MTU");
    assert!(frags.iter().all(|f| f.len() <= 1300));
    assert_eq!(frags[0].len(), 1296, "40 + 8 + 1248: the largest multiple of 8 that fits");
    // A Packet Too Big below the minimum MTU: 1280, and whole packets, no atomic fragment.
    a.handle_packet(t0, 0, &packet_too_big(&frags[0], 600));
    let small = vec![1u8; 1200];
    a.udp_send_to(t0, u, sa(B6, 9), &small).unwrap();
    let out = drain(&mut a, t0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 1248);
    assert_eq!(parse_any(&out[0]).unwrap().0.protocol, IpProtocol::UDP, "no fragment header");
    a.udp_send_to(t0, u, sa(B6, 9), &big).unwrap();
    assert!(drain(&mut a, t0).iter().all(|f| f.len() <= 1280));
    // After mtu_expires the link MTU is used again.
    let later = t0 + Duration::from_secs(601);
    a.handle_timeout(later);
    a.udp_send_to(later, u, sa(B6, 9), &big).unwrap();
    assert_eq!(drain(&mut a, later).len(), 1, "the learnt MTU aged out");
}

#[test]
fn packet_too_big_lowers_a_tcp_connections_segment_size_and_resends() {
    // RFC 8201 §4 and RFC 9293 §3.7.3: the MSS follows the path MTU (1300 − 60 = 1240);
    // what was in flight is sent again at that size.
    let mut p = pair6();
    let l = p.b.tcp_listen(sa(ANY6, 80), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B6, 80)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    let mark = p.log.len();
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    let mut dropped = false;
    p.drop_if = Some(Box::new(move |from_a, pkt| {
        let drop = from_a && pkt.len() > 1300 && !dropped;
        dropped |= drop;
        drop
    }));
    let queued = p.a.tcp_send(c, &data).unwrap();
    // Let A transmit, then play the router: a PTB about the first large segment.
    let mut buf = vec![0u8; 2000];
    let t = p.a.poll_transmit(p.now, &mut buf).unwrap();
    assert!(t.len > 1300);
    let ptb = packet_too_big(&buf[..t.len], 1300);
    p.inject(false, &ptb);
    // 1300 − 60 = 1240, less 12 bytes of timestamps.
    assert_eq!(p.a.tcp_conn(c).effective_mss(), 1228);
    p.drop_if = None;
    p.run_for(Duration::from_secs(5));
    let got = p.read_all_b(s);
    assert!(got == data[..queued], "{} of {queued} bytes arrived", got.len());
    let after: Vec<usize> = p.sent(true, mark).iter().map(Vec::len).collect();
    assert!(after.iter().all(|&l| l <= 1300), "{after:?}");
}

#[test]
fn ipv6_fragments_reassemble_in_any_order_and_an_atomic_fragment_stands_alone() {
    // RFC 8200 §4.5: fragments of one Identification from one source to one destination
    // make one packet; RFC 6946: an atomic fragment (offset 0, M clear) is delivered at once
    // and never mixes with a reassembly of the same Identification.
    let mut b = dual(B, B6, 2);
    let u = b.udp_bind(sa(ANY6, 9)).unwrap();
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let whole = udp_packet(sa(A6, 4000), sa(B6, 9), &payload);
    let upper = &whole[40..];
    let frag = |offset: usize, len: usize, more: bool| {
        let mut body = vec![0u8; 8 + len];
        Ipv6FragRepr {
            next_header: IpProtocol::UDP,
            frag_offset: offset as u16,
            more_frags: more,
            ident: 77,
        }
        .emit(&mut body[..8]);
        body[8..].copy_from_slice(&upper[offset..offset + len]);
        ip6_packet(A6, B6, IpProtocol::FRAGMENT, &body)
    };
    let now = Instant::ZERO;
    b.handle_packet(now, 0, &frag(2400, upper.len() - 2400, false));
    b.handle_packet(now, 0, &frag(0, 1200, true));
    // An atomic fragment with the same Identification, carrying a datagram of its own.
    let lone = udp_packet(sa(A6, 4001), sa(B6, 9), b"atomic");
    let mut body = vec![0u8; 8];
    Ipv6FragRepr { next_header: IpProtocol::UDP, frag_offset: 0, more_frags: false, ident: 77 }
        .emit(&mut body);
    body.extend_from_slice(&lone[40..]);
    b.handle_packet(now, 0, &ip6_packet(A6, B6, IpProtocol::FRAGMENT, &body));
    assert_eq!(recv(&mut b, u), Ok((b"atomic".to_vec(), sa(A6, 4001))));
    assert_eq!(recv(&mut b, u), Err(UdpRecvError::WouldBlock), "the reassembly still waits");
    b.handle_packet(now, 0, &frag(1200, 1200, true));
    assert_eq!(recv(&mut b, u), Ok((payload, sa(A6, 4000))));
    let c = b.counters();
    assert_eq!((c.ip6_reasm_reqds, c.ip6_reasm_oks, c.ip6_atomic_frags), (3, 1, 1));
}

#[test]
fn ipv6_reassembly_gives_up_after_ip6frag_time() {
    // Linux net.ipv6.ip6frag_time: 60 s, then the incomplete packet is dropped.
    let mut b = dual(B, B6, 2);
    let mut body = vec![0u8; 8 + 16];
    Ipv6FragRepr { next_header: IpProtocol::UDP, frag_offset: 0, more_frags: true, ident: 5 }
        .emit(&mut body[..8]);
    b.handle_packet(Instant::ZERO, 0, &ip6_packet(A6, B6, IpProtocol::FRAGMENT, &body));
    assert_eq!(b.poll_timeout(), Some(Instant::from_secs(60)));
    b.handle_timeout(Instant::from_secs(60));
    assert_eq!(b.counters().ip6_reasm_timeouts, 1);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn ipv6_udp_larger_than_the_mtu_leaves_in_fragments_that_reassemble_at_the_peer() {
    let mut p = pair6();
    let ua = p.a.udp_bind(sa(ANY6, 5000)).unwrap();
    let ub = p.b.udp_bind(sa(ANY6, 6000)).unwrap();
    let payload: Vec<u8> = (0..60_000u32).map(|i| (i * 31) as u8).collect();
    p.a.udp_send_to(p.now, ua, sa(B6, 6000), &payload).unwrap();
    p.settle();
    let sent = p.sent(true, 0);
    assert_eq!(sent.len(), 60_008usize.div_ceil(1448), "1448 data bytes per fragment");
    assert!(sent.iter().all(|f| f.len() <= 1500));
    assert_eq!(recv(&mut p.b, ub), Ok((payload, sa(A6, 5000))));
    assert_eq!(p.a.counters().ip6_frag_creates, sent.len() as u64);
}

#[test]
fn packets_with_mapped_or_multicast_sources_or_loopback_off_lo_are_dropped() {
    // RFC 4291 §2.5.5.2 (mapped addresses never on the wire), Linux `ipv6_rcv`: multicast
    // source, ::1 arriving on a device.
    let mut b = dual(B, B6, 2);
    let l = b.tcp_listen(sa(ANY6, 80), 4, false).unwrap();
    for src in [A.to_ipv6_mapped(), "ff02::1".parse().unwrap(), Ipv6Addr::LOCALHOST] {
        b.handle_packet(Instant::ZERO, 0, &syn_packet(sa(src, 1000), sa(B6, 80), 1));
    }
    assert!(drain(&mut b, Instant::ZERO).is_empty());
    assert_eq!(b.tcp_accept(l), None);
    assert_eq!(b.counters().ip6_in_addr_errors, 3);
}

#[test]
fn loopback_ipv6_connects_to_itself_over_the_loopback_address() {
    // ::1 belongs to lo (Linux): a connection to it never reaches a device.
    let mut s = dual(A, A6, 1);
    let l = s.tcp_listen(sa(Ipv6Addr::LOCALHOST, 8080), 4, false).unwrap();
    let c = s.tcp_connect(Instant::ZERO, None, sa(Ipv6Addr::LOCALHOST, 8080)).unwrap();
    assert!(drain(&mut s, Instant::ZERO).is_empty(), "nothing leaves on the device");
    let h = s.tcp_accept(l).expect("accepted on ::1");
    assert_eq!(s.tcp_local_addr(c).ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    s.tcp_send(c, b"hi").unwrap();
    let _ = drain(&mut s, Instant::ZERO);
    let mut buf = [0u8; 8];
    assert_eq!(s.tcp_recv(h, &mut buf), Ok(2));
    // And to our own global address, also through lo.
    let l2 = s.tcp_listen(sa(A6, 81), 4, false).unwrap();
    s.tcp_connect(Instant::ZERO, None, sa(A6, 81)).unwrap();
    assert!(drain(&mut s, Instant::ZERO).is_empty());
    assert!(s.tcp_accept(l2).is_some());
}
