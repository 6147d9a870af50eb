//! Demux of arriving TCP segments by hash: exact 4-tuple, then a listener on (address,
//! port), then on (0.0.0.0, port), else RFC 9293 §3.10.7.1's RST; and the drops that happen
//! before demux (SPEC S16 checksum, foreign destination address).

use std::cell::RefCell;
use std::rc::Rc;

use ustack_tcp::{ConnError, Event, SendError, TcpState};
use ustack_wire::TcpFlags;

use super::*;
use crate::{Duration, Route};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

fn lone_listener() -> (Stack, SocketHandle, Instant) {
    let mut b = stack(B, 2);
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    (b, l, Instant::from_secs(1))
}

#[test]
fn demux_exact_four_tuple_beats_the_listener() {
    // A data segment of an established connection reaches the connection, although a
    // listener holds the same local port: were it given to the listener, its ACK bit would
    // draw a RST (RFC 9293 §3.10.7.2). A SYN from a new source port still reaches the
    // listener.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    let mark = p.log.len();
    assert_eq!(p.a.tcp_send(c, b"to the connection").unwrap(), 17);
    p.settle();
    assert_eq!(p.read_all_b(s), b"to the connection");
    assert!(p.segs(false, mark).iter().all(|s| !s.has(TcpFlags::RST)));
    assert_eq!(p.b.counters().tcp_listen_bad_acks, 0);
    assert_eq!(p.b.tcp_accept(l), None, "the listener got nothing");
    let (_, s2) = p.connect_accept(l, 80);
    assert_ne!(s2, s);
}

#[test]
fn demux_listener_on_the_address_beats_the_one_on_any_address() {
    // B has two addresses, 10.0.0.2 and 10.0.1.2, a listener on 10.0.0.2:80 and one on
    // 0.0.0.0:80. A SYN to 10.0.0.2:80 matches both and must go to the more specific one
    // (gVisor's demuxer, Linux `compute_score`); a SYN to 10.0.1.2:80 only matches the
    // wildcard. (Without SO_REUSEPORT Linux refuses to bind the two at once, and so does
    // ustack: see ports.rs. The table is set up directly to exercise the demux order.)
    const B2: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
    let mut b = stack(B, 2);
    b.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(B2, 24).unwrap(), 1500));
    let mut a = stack(A, 1);
    a.add_route(Route {
        dest: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 1, 0), 24).unwrap().into(),
        iface: 0,
    });
    let mut p = Pair::with(a, b);
    let specific = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    assert_eq!(
        p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, true),
        Err(crate::BindError::AddrInUse)
    );
    p.b.tcp_listeners.remove(sa(B, 80), false);
    let any = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    p.b.tcp_listeners.insert(sa(B, 80), false, specific);

    let c1 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.settle();
    assert_eq!(p.b.tcp_accept(any), None, "the SYN to 10.0.0.2 did not go to 0.0.0.0");
    let s1 = p.b.tcp_accept(specific).expect("the specific listener took it");
    assert_eq!(p.b.tcp_conn(s1).tuple().remote, p.a.tcp_conn(c1).tuple().local);

    let c2 = p.a.tcp_connect(p.now, None, sa(B2, 80)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c2).state(), TcpState::Established);
    assert_eq!(p.b.tcp_accept(specific), None);
    let s2 = p.b.tcp_accept(any).expect("the wildcard listener took it");
    assert_eq!(p.b.tcp_conn(s2).tuple().local, sa(B2, 80));
}

#[test]
fn demux_syn_to_a_closed_port_gets_rst_ack_and_connect_is_refused() {
    // RFC 9293 §3.10.7.1, CLOSED: the SYN has no ACK bit, so the answer is
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SEG.LEN counting the SYN. §3.10.7.3: the
    // client in SYN-SENT accepts it (its ACK acknowledges the SYN) and the connection is
    // refused.
    let mut p = Pair::new();
    let c = p.a.tcp_connect(p.now, None, sa(B, 81)).unwrap();
    p.settle();
    let syn = &p.segs(true, 0)[0];
    assert!(syn.is(TcpFlags::SYN));
    let replies = p.segs(false, 0);
    assert_eq!(replies.len(), 1, "{replies:?}");
    let rst = &replies[0];
    assert!(rst.is(TcpFlags::RST | TcpFlags::ACK), "{rst:?}");
    assert_eq!((rst.seq, rst.ack), (0, syn.seq.wrapping_add(1)));
    assert_eq!((rst.src, rst.dst), (syn.dst, syn.src));
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Closed);
    assert_eq!(tcp_events(&p.events_a, c), [Event::Closed(Some(ConnError::Refused))]);
    assert_eq!(p.a.tcp_send(c, b"x"), Err(SendError::Failed(ConnError::Refused)));
    assert_eq!(p.a.counters().tcp_attempt_fails, 1);
    let cb = p.b.counters();
    assert_eq!((cb.tcp_no_socket, cb.tcp_out_rsts), (1, 1));
    assert_eq!(p.b.socket_count(), 0, "no state kept for it");
}

#[test]
fn demux_ack_to_a_listener_without_a_connection_gets_rst_with_its_ack_as_seq() {
    // RFC 9293 §3.10.7.2, LISTEN, second check: "Any acknowledgment is bad if it arrives on
    // a connection still in the LISTEN state. An acceptable reset segment should be formed
    // for any arriving ACK-bearing segment. The RST should be formatted as follows:
    // <SEQ=SEG.ACK><CTL=RST>".
    let (mut b, _l, now) = lone_listener();
    for (i, payload) in [&b""[..], b"data after a lost handshake"].into_iter().enumerate() {
        let from = sa(CLIENT, 2000 + i as u16);
        b.handle_packet(now, 0, &tcp_packet(from, sa(B, 80), 100, 5555, TcpFlags::ACK, payload));
        let out: Vec<Seg> = drain(&mut b, now).iter().filter_map(|p| tcp(p)).collect();
        assert_eq!(out.len(), 1);
        assert!(out[0].is(TcpFlags::RST), "RST alone, no ACK bit: {:?}", out[0]);
        assert_eq!(out[0].seq, 5555);
        assert_eq!((out[0].src, out[0].dst), (sa(B, 80), from));
    }
    assert_eq!(b.counters().tcp_listen_bad_acks, 2);
    assert_eq!(b.socket_count(), 1, "no connection was created");
}

#[test]
fn demux_rst_to_a_listener_is_ignored() {
    // RFC 9293 §3.10.7.2: "first check for an RST: An incoming RST segment could not be
    // valid since it could not have been sent in response to anything sent by this
    // incarnation of the connection. An incoming RST should be ignored."
    let (mut b, l, now) = lone_listener();
    for flags in [TcpFlags::RST, TcpFlags::RST | TcpFlags::ACK, TcpFlags::RST | TcpFlags::SYN] {
        b.handle_packet(now, 0, &tcp_packet(sa(CLIENT, 2000), sa(B, 80), 100, 200, flags, &[]));
        assert!(drain(&mut b, now).is_empty(), "{flags:?} answered");
    }
    assert!(events(&mut b).is_empty());
    assert_eq!(b.socket_count(), 1);
    assert_eq!(b.counters().tcp_out_rsts, 0);
    // The listener still works.
    b.handle_packet(now, 0, &syn_packet(sa(CLIENT, 2000), sa(B, 80), 100));
    let out: Vec<Seg> = drain(&mut b, now).iter().filter_map(|p| tcp(p)).collect();
    assert!(out[0].is(TcpFlags::SYN | TcpFlags::ACK));
    assert_eq!(b.tcp_listener_addr(l), sa(Ipv4Addr::UNSPECIFIED, 80));
}

/// Flips one bit of the TCP payload (the IP header stays valid).
fn corrupt(pkt: &[u8]) -> Vec<u8> {
    let mut bad = pkt.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    bad
}

#[test]
fn s16_segment_with_a_bad_checksum_is_dropped_silently() {
    // SPEC S16 / RFC 9293 §3.1: a segment whose checksum fails is discarded: no SYN-ACK, no
    // RST (not even to a closed port), no connection, counted in InCsumErrors.
    let (mut b, _l, now) = lone_listener();
    let mut syn = syn_packet(sa(CLIENT, 2000), sa(B, 80), 100);
    let last = syn.len() - 1;
    syn[last] ^= 0x10; // the MSS option's low byte
    b.handle_packet(now, 0, &syn);
    b.handle_packet(
        now,
        0,
        &corrupt(&tcp_packet(sa(CLIENT, 2000), sa(B, 81), 1, 0, TcpFlags::SYN, b"x")),
    );
    assert!(drain(&mut b, now).is_empty());
    assert_eq!(b.socket_count(), 1);
    let c = b.counters();
    assert_eq!((c.tcp_in_csum_errors, c.tcp_out_rsts, c.tcp_in_segs), (2, 0, 0));
}

/// Makes the wire drop A's next data segment and keep it in the returned cell, to be
/// injected later (corrupted or intact).
fn catch_first_data_from_a(p: &mut Pair) -> Rc<RefCell<Vec<Vec<u8>>>> {
    let caught: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let sink = caught.clone();
    p.drop_if = Some(Box::new(move |from_a, pkt| {
        let data = from_a && tcp(pkt).is_some_and(|s| !s.payload.is_empty());
        if data && sink.borrow().is_empty() {
            sink.borrow_mut().push(pkt.to_vec());
            return true;
        }
        false
    }));
    caught
}

#[test]
fn s16_corrupted_data_on_a_connection_is_not_acked_nor_delivered() {
    // The sender's data segment is corrupted on the way: B must neither deliver it nor ACK
    // it. The sender's retransmission (RTO, at least 200 ms) then delivers the right bytes.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    let caught = catch_first_data_from_a(&mut p);
    p.a.tcp_send(c, b"checksummed payload").unwrap();
    p.settle();
    let good = caught.borrow()[0].clone();
    let mark = p.log.len();
    p.inject(true, &corrupt(&good));
    p.run_for(Duration::from_millis(150));
    assert!(p.sent(false, mark).is_empty(), "B answered a corrupted segment");
    assert!(p.read_all_b(s).is_empty());
    assert_eq!(p.b.counters().tcp_in_csum_errors, 1);
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.read_all_b(s), b"checksummed payload");
}

#[test]
fn s16_corrupted_in_order_data_leaves_nothing_readable_and_its_good_copy_is_taken() {
    // In-order data on an established connection is verified as it is copied into the
    // receive buffer (`Conn::handle_segment_summed`): a segment whose payload fails the
    // checksum (RFC 9293 §3.1) must still be dropped before any of it is taken: nothing
    // readable, no ACK, counted in InCsumErrors and not in InSegs, RCV.NXT unmoved. The same
    // segment arriving intact next is taken whole, with none of the corrupted bytes.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    p.a.tcp_send(c, b"first bytes, delivered").unwrap();
    p.settle();
    assert_eq!(p.read_all_b(s), b"first bytes, delivered");
    let caught = catch_first_data_from_a(&mut p);
    let payload = [0x5a_u8; 1000];
    p.a.tcp_send(c, &payload).unwrap();
    p.settle();
    let good = caught.borrow()[0].clone();
    let rcv_nxt = p.b.tcp_conn(s).recv_next();
    let before = p.b.counters();
    let mark = p.log.len();
    for at in [good.len() - 1, good.len() - 500, good.len() - 1000] {
        let mut bad = good.clone();
        bad[at] ^= 0x21;
        p.inject(true, &bad);
    }
    assert!(p.sent(false, mark).is_empty(), "B answered a corrupted segment");
    assert!(p.read_all_b(s).is_empty(), "corrupted bytes became readable");
    assert_eq!(p.b.tcp_conn(s).recv_next(), rcv_nxt);
    let after = p.b.counters();
    assert_eq!(after.tcp_in_csum_errors - before.tcp_in_csum_errors, 3);
    assert_eq!(after.tcp_in_segs, before.tcp_in_segs);
    p.inject(true, &good);
    assert_eq!(p.read_all_b(s), payload);
    assert_eq!(p.b.tcp_conn(s).recv_next(), rcv_nxt + 1000u32);
}

#[test]
fn demux_packet_to_an_address_not_ours_is_dropped_and_counted() {
    // RFC 1122 §3.2.1.3: a host silently discards a datagram not addressed to one of its
    // addresses (it is not a router). No RST, no ICMP, nothing created.
    let (mut b, _l, now) = lone_listener();
    let other = Ipv4Addr::new(10, 0, 0, 99);
    b.handle_packet(now, 0, &syn_packet(sa(CLIENT, 2000), sa(other, 80), 1));
    b.handle_packet(now, 0, &tcp_packet(sa(CLIENT, 2000), sa(other, 81), 1, 0, TcpFlags::SYN, &[]));
    b.handle_packet(now, 0, &udp_packet(sa(CLIENT, 2000), sa(other, 53), b"query"));
    assert!(drain(&mut b, now).is_empty());
    assert_eq!(b.socket_count(), 1);
    let c = b.counters();
    assert_eq!((c.ip_in_receives, c.ip_in_addr_errors, c.ip_in_delivers), (3, 3, 0));
    assert_eq!((c.tcp_in_segs, c.udp_no_ports, c.icmp_out_msgs), (0, 0, 0));
}

#[test]
fn ip_packets_from_martian_source_addresses_are_dropped_silently() {
    // RFC 1122 §3.2.1.3: "A host MUST silently discard an incoming datagram containing an IP
    // source address that is invalid by the rules of this section": 0.0.0.0 (only while
    // booting), 127/8, 255.255.255.255, a directed broadcast such as 10.0.0.255, class D
    // (multicast) and class E. Linux drops them as martians (`ip_route_input_slow`,
    // `fib_validate_source`). Answering them would send a SYN-ACK, RST, ICMP error or echo
    // reply to a broadcast or multicast group, and create half-open connections for nobody.
    let (mut b, _l, now) = lone_listener();
    let ping = ustack_wire::Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: b"x" };
    let probes = |src: Ipv4Addr| {
        [
            syn_packet(sa(src, 2000), sa(B, 80), 1),
            syn_packet(sa(src, 2000), sa(B, 81), 1),
            udp_packet(sa(src, 2000), sa(B, 9), b"x"),
            icmp_packet(src, B, &ping),
        ]
    };
    let martians = [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(10, 0, 0, 255),
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(240, 0, 0, 1),
    ];
    for src in martians {
        for pkt in probes(src) {
            b.handle_packet(now, 0, &pkt);
        }
        assert!(drain(&mut b, now).is_empty(), "answered {src}");
    }
    assert_eq!(b.socket_count(), 1);
    assert_eq!(b.counters().ip_in_addr_errors, 4 * martians.len() as u64);
    // The same four from a host get four answers: SYN-ACK, RST, port unreachable, reply.
    for pkt in probes(CLIENT) {
        b.handle_packet(now, 0, &pkt);
    }
    assert_eq!(drain(&mut b, now).len(), 4);
}

#[test]
fn demux_never_hands_a_segment_to_the_connection_a_reused_tuple_replaced() {
    // The demux remembers its last hit. A connection reset and opened again on the same
    // 4-tuple is a new socket: its handshake and data must reach it, not the old handle.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    let local = Some(sa(A, 5000));
    let c1 = p.a.tcp_connect(p.now, local, sa(B, 80)).unwrap();
    p.settle();
    let s1 = p.b.tcp_accept(l).expect("the first connection");
    assert_eq!(p.a.tcp_send(c1, b"first").unwrap(), 5);
    p.settle();
    assert_eq!(p.read_all_b(s1), b"first");
    p.a.tcp_abort(c1);
    p.settle();
    assert_eq!(p.b.tcp_conn(s1).state(), TcpState::Closed, "the RST reached the server");
    p.b.close(p.now, s1);
    p.settle();

    let c2 = p.a.tcp_connect(p.now, local, sa(B, 80)).unwrap();
    p.settle();
    let s2 = p.b.tcp_accept(l).expect("the second connection, same 4-tuple");
    assert_ne!(s2, s1);
    assert_eq!(p.a.tcp_send(c2, b"second").unwrap(), 6);
    p.settle();
    assert_eq!(p.read_all_b(s2), b"second");
    assert_eq!(p.a.tcp_conn(c2).state(), TcpState::Established);
}

#[test]
fn demux_finds_connections_and_time_wait_records_after_the_table_grows() {
    // The demux table keeps slot indices and reads each entry's key from its slot, also
    // when it grows and places every entry again. Connections opened before it grew still
    // take their data, and TIME-WAIT records (A closed first, so A holds them) still answer
    // a retransmitted FIN with an ACK (RFC 9293 §3.10.7.4, TIME-WAIT: "the only thing that
    // can arrive in this state is a retransmission of the remote FIN. Acknowledge it");
    // were either missed, A's data would be lost and the FIN draw a RST (no listener on A).
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 1024, false).unwrap();
    let early: Vec<_> = (0..40).map(|_| p.connect_accept(l, 80)).collect();
    let (closed, open) = early.split_at(20);
    for &(c, s) in closed {
        p.a.close(p.now, c);
        p.settle();
        p.b.close(p.now, s);
    }
    p.settle();
    for &(c, _) in closed {
        assert!(p.a.tcp_time_wait(c).is_some(), "{c} is a TIME-WAIT record");
    }
    // From 40 entries to 620 on each side: the table grows several times.
    let late: Vec<_> = (0..580).map(|_| p.connect_accept(l, 80)).collect();
    assert_eq!((p.a.tcp_conns.len(), p.b.tcp_conns.len()), (620, 600));
    for (i, &(c, s)) in open.iter().chain(&late).enumerate() {
        let msg = format!("to connection {i}");
        assert_eq!(p.a.tcp_send(c, msg.as_bytes()).unwrap(), msg.len());
        p.settle();
        assert_eq!(p.read_all_b(s), msg.as_bytes());
    }
    for &(c, _) in closed {
        let tw = p.a.tcp_time_wait(c).expect("a record");
        let (tuple, rcv_nxt) = (tw.tuple(), tw.recv_next());
        let fin = TcpFlags::FIN | TcpFlags::ACK;
        p.inject(false, &tcp_packet(tuple.remote, tuple.local, rcv_nxt.0 - 1, 1, fin, b""));
        let sent: Vec<_> = drain(&mut p.a, p.now).iter().filter_map(|pkt| tcp(pkt)).collect();
        assert_eq!(sent.len(), 1, "{c}: one answer");
        assert!(sent[0].is(TcpFlags::ACK), "{c}: an ACK, not a RST: {:?}", sent[0].flags);
        assert_eq!((sent[0].dst, sent[0].ack), (tuple.remote, rcv_nxt.0), "{c}");
    }
    // The records end after 2·MSL and leave the table; the rest stay.
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.tcp_conns.len(), 600);
}

#[test]
fn the_demux_table_holds_a_slot_index_and_a_control_byte_a_connection() {
    // A bucket is a 4-byte slot index and its control byte, the table at most 7/8 full and
    // its bucket count a power of two: 3,000 connections take 4,096 buckets, 20,480 bytes
    // and a group of 16 control bytes (the key and handle of a map's bucket took 45 bytes
    // and a control byte, 184,336 bytes).
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 4096, false).unwrap();
    for _ in 0..3000 {
        p.connect_accept(l, 80);
    }
    assert_eq!(p.b.tcp_conns.len(), 3000);
    let bytes = p.b.tcp_conns.allocation_size();
    assert!(bytes <= 4096 * 5 + 16, "{bytes} bytes for 3,000 connections");
}
