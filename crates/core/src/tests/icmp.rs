//! ICMP in the host (RFC 792, RFC 1122 §3.2.2, RFC 5927, RFC 1191): echo, errors for TCP
//! connections, path MTU, and Linux's ICMP rate limit.

use std::cell::RefCell;
use std::rc::Rc;

use ustack_tcp::{ConnError, DropReason, Event, TcpState};
use ustack_wire::{DstUnreachable, Icmpv4Repr, TcpFlags};

use super::*;
use crate::Duration;

const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);

#[test]
fn icmp_echo_request_gets_a_reply_with_the_same_ident_seq_and_data() {
    // RFC 792: "the data received in the echo message must be returned in the echo reply
    // message", with the identifier and sequence number; addresses swapped.
    let mut b = stack(B, 2);
    let now = Instant::from_secs(1);
    let data: Vec<u8> = (0..56u8).collect();
    let ping = Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 7, data: &data };
    b.handle_packet(now, 0, &icmp_packet(A, B, &ping));
    let out = drain(&mut b, now);
    assert_eq!(out.len(), 1);
    assert_eq!(
        icmp(&out[0]),
        Some((B, A, Icmp::EchoReply { ident: 0x1234, seq_no: 7, data: data.clone() }))
    );
    let c = b.counters();
    assert_eq!((c.icmp_in_echos, c.icmp_out_echo_reps), (1, 1));

    // icmp_echo_ignore_all: no reply.
    let mut cfg = config(2);
    cfg.icmp_echo = false;
    let mut quiet = stack_with(B, cfg);
    quiet.handle_packet(now, 0, &icmp_packet(A, B, &ping));
    assert!(drain(&mut quiet, now).is_empty());
}

/// A lone client A with a connection to B:80 whose SYN has been sent.
fn syn_sent() -> (Stack, SocketHandle, Vec<u8>, Instant) {
    let mut a = stack(A, 1);
    let now = Instant::from_secs(1);
    let c = a.tcp_connect(now, None, sa(B, 80)).unwrap();
    let out = drain(&mut a, now);
    assert_eq!(out.len(), 1);
    assert!(tcp(&out[0]).unwrap().is(TcpFlags::SYN));
    let _ = events(&mut a);
    (a, c, out[0].clone(), now)
}

#[test]
fn icmp_port_unreachable_quoting_our_syn_refuses_the_connect() {
    // Linux `tcp_v4_err` in SYN-SENT: a hard error (port unreachable → ECONNREFUSED) whose
    // quoted sequence number is in flight (it is the SYN's) ends the attempt at once; no more
    // SYN retransmissions.
    let (mut a, c, syn, now) = syn_sent();
    a.handle_packet(now, 0, &icmp_error_about(B, &syn, DstUnreachable::PortUnreachable, 0));
    assert_eq!(a.tcp_conn(c).state(), TcpState::Closed);
    assert_eq!(tcp_events(&events(&mut a), c), [Event::Closed(Some(ConnError::Refused))]);
    assert_eq!(a.counters().tcp_attempt_fails, 1);
    let later = now + Duration::from_secs(5);
    if a.poll_timeout().is_some_and(|t| t <= later) {
        a.handle_timeout(later);
    }
    assert!(drain(&mut a, later).is_empty(), "no SYN retransmission");

    // Host unreachable from a router: EHOSTUNREACH.
    let (mut a, c, syn, now) = syn_sent();
    a.handle_packet(now, 0, &icmp_error_about(ROUTER, &syn, DstUnreachable::HostUnreachable, 0));
    assert_eq!(tcp_events(&events(&mut a), c), [Event::Closed(Some(ConnError::Unreachable))]);
}

#[test]
fn icmp_error_quoting_a_sequence_number_not_in_flight_is_ignored() {
    // RFC 5927 §4.1 / Linux `tcp_v4_err`: the quoted sequence number must lie in
    // SND.UNA..SND.NXT, or the message is forged or stale and dropped (LINUX_MIB
    // OUTOFWINDOWICMPS). The connection carries on: its SYN is retransmitted after 1 s.
    let (mut a, c, syn, now) = syn_sent();
    let mut forged = syn.clone();
    let seq = u32::from_be_bytes(forged[24..28].try_into().unwrap());
    forged[24..28].copy_from_slice(&seq.wrapping_add(1000).to_be_bytes());
    a.handle_packet(now, 0, &icmp_error_about(B, &forged, DstUnreachable::PortUnreachable, 0));
    assert_eq!(a.tcp_conn(c).state(), TcpState::SynSent);
    assert!(tcp_events(&events(&mut a), c).is_empty());
    assert_eq!(a.counters().tcp_conn_drops[DropReason::IcmpOutOfWindow as usize], 1);
    // An error about a 4-tuple we have no connection for is counted and dropped.
    let mut stranger = syn.clone();
    stranger[22..24].copy_from_slice(&81u16.to_be_bytes());
    a.handle_packet(now, 0, &icmp_error_about(B, &stranger, DstUnreachable::PortUnreachable, 0));
    assert_eq!(a.counters().tcp_icmp_unmatched, 1);
    assert_eq!(a.tcp_conn(c).state(), TcpState::SynSent);
    let t = a.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(1));
    a.handle_timeout(t);
    let out: Vec<Seg> = drain(&mut a, t).iter().filter_map(|x| tcp(x)).collect();
    assert_eq!(out.len(), 1);
    assert!(out[0].is(TcpFlags::SYN), "the SYN again");
}

#[test]
fn icmp_fragmentation_needed_lowers_the_segment_size_during_a_transfer() {
    // RFC 1191 / Linux `tcp_v4_mtu_reduced`: a router on the path with an MTU of 1000 drops
    // every bigger packet (they carry DF) and answers with "fragmentation needed, next-hop
    // MTU 1000". The sender lowers its MSS to 1000 − 40 and resends what was in flight:
    // from then on no packet is larger than 1000 bytes, and the transfer completes.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    let dropped: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let sink = dropped.clone();
    p.drop_if = Some(Box::new(move |from_a, pkt| {
        if from_a && pkt.len() > 1000 {
            assert!(ip(pkt).dont_frag, "TCP sets DF (path MTU discovery)");
            sink.borrow_mut().push(pkt.to_vec());
            return true;
        }
        false
    }));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let mut sent = p.a.tcp_send(c, &data).unwrap();
    p.run_for(Duration::from_millis(1));
    let first = dropped.borrow().first().cloned().expect("a full-size segment was sent");
    assert!(first.len() == 1500, "{}", first.len());
    p.inject(false, &icmp_error_about(ROUTER, &first, DstUnreachable::FragRequired, 1000));
    let mark = p.log.len();
    let mut got = Vec::new();
    for _ in 0..400 {
        if got.len() == data.len() {
            break;
        }
        if sent < data.len() {
            sent += p.a.tcp_send(c, &data[sent..]).unwrap_or(0);
        }
        p.run_for(Duration::from_millis(25));
        got.extend(p.read_all_b(s));
    }
    assert_eq!(got.len(), data.len(), "the transfer completed");
    assert!(got == data);
    let after = p.segs(true, mark);
    let largest = after.iter().map(|s| s.ip_len).max().unwrap();
    assert_eq!(largest, 1000, "segments fill the new path MTU exactly");
    assert_eq!(dropped.borrow().iter().filter(|x| x.len() > 1000).count(), dropped.borrow().len());
    assert!(dropped.borrow().len() <= 10, "only the first flight was too big");
}

#[test]
fn icmp_errors_are_rate_limited_to_the_burst_then_the_rate() {
    // Linux `icmp_global_allow`: a token bucket of icmp_msgs_burst (50) tokens refilled at
    // icmp_msgs_per_sec (1000/s). 200 datagrams to closed ports at one instant get 50 port
    // unreachables; 20 ms later 20 tokens have come back.
    let mut p = Pair::new();
    let ua = p.a.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 5000)).unwrap();
    let flood = |p: &mut Pair, n: u16| {
        for port in 0..n {
            p.a.udp_send_to(p.now, ua, sa(B, 20000 + port), b"knock").unwrap();
        }
    };
    flood(&mut p, 200);
    p.settle();
    let unreachables = |p: &Pair, from: usize| {
        p.sent(false, from)
            .iter()
            .filter(|x| {
                matches!(
                    icmp(x),
                    Some((_, _, Icmp::Unreachable { reason: DstUnreachable::PortUnreachable, .. }))
                )
            })
            .count()
    };
    assert_eq!(unreachables(&p, 0), 50);
    let c = p.b.counters();
    assert_eq!((c.udp_no_ports, c.icmp_out_dest_unreachs, c.icmp_out_rate_limited), (200, 50, 150));
    // The datagrams arrived at t; send the next flood so it arrives at t + 20 ms.
    p.run_for(Duration::from_millis(18));
    let mark = p.log.len();
    flood(&mut p, 100);
    p.settle();
    assert_eq!(unreachables(&p, mark), 20, "1000/s for 20 ms");
    p.run_for(Duration::from_secs(1));
    let mark = p.log.len();
    flood(&mut p, 100);
    p.settle();
    assert_eq!(unreachables(&p, mark), 50, "refilled up to the burst, not beyond");
}

#[test]
fn icmp_port_unreachable_for_our_synack_drops_the_half_open_connection() {
    // Linux `tcp_req_err`: a hard ICMP error quoting the SYN-ACK's sequence number
    // (snt_isn) removes the request from the SYN queue silently; nothing reaches accept().
    let mut b = stack(B, 2);
    let now = Instant::from_secs(1);
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 1, false).unwrap();
    b.handle_packet(now, 0, &syn_packet(sa(A, 1000), sa(B, 80), 77));
    let out = drain(&mut b, now);
    assert_eq!(b.socket_count(), 2);
    b.handle_packet(now, 0, &icmp_error_about(A, &out[0], DstUnreachable::PortUnreachable, 0));
    let _ = drain(&mut b, now);
    assert_eq!(b.socket_count(), 1, "{}", b.netstat(now));
    assert_eq!(b.tcp_accept(l), None);
    let later = now + Duration::from_secs(2);
    while let Some(t) = b.poll_timeout().filter(|t| *t <= later) {
        b.handle_timeout(t);
    }
    assert!(drain(&mut b, later).is_empty(), "no SYN-ACK retransmission");
    b.handle_packet(later, 0, &syn_packet(sa(A, 1001), sa(B, 80), 77));
    assert_eq!(drain(&mut b, later).len(), 1, "its place in the SYN queue is free");
}

#[test]
fn icmp_protocol_unreachable_for_an_unknown_protocol() {
    // RFC 1122 §3.2.2.1: a host SHOULD send "protocol unreachable" (code 2) for a transport
    // it does not have; the error quotes the datagram's header and first bytes.
    let mut b = stack(B, 2);
    let now = Instant::from_secs(1);
    let gre = ip_packet(A, B, ustack_wire::IpProtocol(47), b"0123456789");
    b.handle_packet(now, 0, &gre);
    let out = drain(&mut b, now);
    assert_eq!(out.len(), 1);
    let Some((B, A, Icmp::Unreachable { reason, header, data })) = icmp(&out[0]) else {
        panic!("{:?}", icmp(&out[0]))
    };
    assert_eq!(reason, DstUnreachable::ProtoUnreachable);
    assert_eq!((header.src, header.dst, header.protocol), (A, B, ustack_wire::IpProtocol(47)));
    assert_eq!(data, b"0123456789");
    assert_eq!(b.counters().ip_in_unknown_protos, 1);
}

#[test]
fn icmp_echo_replies_are_not_rate_limited() {
    // Linux `icmpv4_global_allow` only limits the types in icmp_ratemask (destination
    // unreachable, source quench, time exceeded, parameter problem): 200 pings at one
    // instant get 200 replies, while the error budget (50) stays untouched.
    let mut b = stack(B, 2);
    let now = Instant::from_secs(1);
    for seq_no in 0..200 {
        let ping = Icmpv4Repr::EchoRequest { ident: 9, seq_no, data: b"abc" };
        b.handle_packet(now, 0, &icmp_packet(A, B, &ping));
    }
    assert_eq!(drain(&mut b, now).len(), 200);
    for port in 0..60 {
        b.handle_packet(now, 0, &udp_packet(sa(A, 5000), sa(B, 20000 + port), b"x"));
    }
    assert_eq!(drain(&mut b, now).len(), 50, "errors: the burst");
    assert_eq!(b.counters().icmp_out_rate_limited, 10);
}
