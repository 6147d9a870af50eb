//! ECN through the host (RFC 3168 §5, §6.1): the codepoint a connection chooses goes into
//! the IP header it sends, and the one an arriving IP header carries reaches the connection.

use std::cell::RefCell;
use std::rc::Rc;

use ustack_wire::Ipv4Packet;

use super::*;
use crate::Duration;
use crate::ssinfo::TcpInternals;

fn ecn_stack(addr: Ipv4Addr, secret: u8, ecn: u8) -> Stack {
    let mut cfg = config(secret);
    cfg.tcp.ecn = ecn;
    stack_with(addr, cfg)
}

/// The packet with its ECN field set to `bits` (IPv4 header checksum fixed).
fn marked(pkt: &[u8], bits: u8) -> Vec<u8> {
    let mut out = pkt.to_vec();
    let mut v = Ipv4Packet::new_unchecked(&mut out[..]);
    let dscp = v.dscp();
    v.set_dscp_ecn(dscp, bits);
    v.fill_checksum();
    out
}

#[test]
fn ecn_data_goes_ect0_in_the_ip_header_and_everything_else_not_ect() {
    // RFC 3168 §6.1.1: the ECN-setup SYN and SYN-ACK are Not-ECT; §6.1.2: data ECT once
    // negotiated (Linux ECT(0)); §6.1.4: pure ACKs Not-ECT. The receiver counts the
    // codepoints as Linux's IpExtIn*Pkts.
    let mut p = Pair::with(ecn_stack(A, 1, 1), ecn_stack(B, 2, 2));
    let l = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    assert!(p.a.tcp_conn(c).ecn_ok() && p.b.tcp_conn(s).ecn_ok());
    p.a.tcp_send(c, &[5; 3000]).unwrap();
    p.settle();
    assert_eq!(p.read_all_b(s).len(), 3000);
    let from_a: Vec<(Seg, u8)> =
        p.sent(true, 0).iter().map(|pkt| (tcp(pkt).unwrap(), ip(pkt).ecn)).collect();
    let from_b: Vec<(Seg, u8)> =
        p.sent(false, 0).iter().map(|pkt| (tcp(pkt).unwrap(), ip(pkt).ecn)).collect();
    assert!(from_a[0].0.is(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR) && from_a[0].1 == 0);
    assert!(from_b[0].0.is(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE) && from_b[0].1 == 0);
    for (seg, ecn) in from_a.iter().chain(&from_b).skip(1) {
        let want = if seg.payload.is_empty() { 0b00 } else { 0b10 };
        assert_eq!(*ecn, want, "{:?} with {} bytes", seg.flags, seg.payload.len());
    }
    assert_eq!(from_a.iter().filter(|(_, e)| *e == 0b10).count(), 3);
    let counters = p.b.counters();
    assert_eq!(counters.ip_in_ect0_pkts, 3);
    assert_eq!(counters.ip_in_no_ect_pkts, 2, "the SYN and the handshake's ACK");
}

#[test]
fn ecn_a_ce_mark_in_the_ip_header_is_echoed_and_the_sender_reduces_once() {
    // RFC 3168 §6.1.3: a CE mark on a data packet makes the receiver set ECE until CWR comes;
    // §6.1.2: the sender reduces and sets CWR on its next new data. The network's mark is
    // the IP header's: the host hands it to the connection.
    let mut p = Pair::with(ecn_stack(A, 1, 1), ecn_stack(B, 2, 2));
    let l = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    // The router marks the first data packet CE instead of forwarding it unchanged.
    let held: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let h = held.clone();
    let mut marked_one = false;
    p.drop_if = Some(Box::new(move |from_a, pkt| {
        let data = tcp(pkt).is_some_and(|t| !t.payload.is_empty());
        if from_a && data && !marked_one {
            marked_one = true;
            h.borrow_mut().push(marked(pkt, 0b11));
            return true;
        }
        false
    }));
    let start = p.log.len();
    p.a.tcp_send(c, &[5; 1000]).unwrap();
    p.run_for(Duration::from_millis(1));
    let pkt = held.borrow_mut().pop().expect("the data packet");
    p.inject(true, &pkt);
    p.settle();
    assert_eq!(p.b.counters().ip_in_ce_pkts, 1);
    assert_eq!(p.b.counters().tcp_ecn_ce_recv, 1);
    let echo = p.segs(false, start);
    assert!(echo[0].is(TcpFlags::ACK | TcpFlags::ECE), "{:?}", echo[0].flags);
    assert_eq!(p.a.tcp_conn(c).stats().ecn_reductions, 1);
    p.a.tcp_send(c, &[6; 1000]).unwrap();
    p.settle();
    let data: Vec<Seg> =
        p.segs(true, start).into_iter().filter(|t| !t.payload.is_empty()).collect();
    assert!(data.last().unwrap().has(TcpFlags::CWR), "CWR on the first new data after it");
    // The CWR ended the echo.
    assert!(!p.segs(false, start).last().unwrap().has(TcpFlags::ECE));
    assert_eq!(p.read_all_b(s).len(), 2000);
    assert_eq!(p.a.counters().tcp_ecn_reductions, 1);
    // `ss -i` as iproute2 prints TCPI_OPT_ECN and TCPI_OPT_ECN_SEEN: the receiver saw ECT.
    let internals =
        |st: &Stack, h| TcpInternals::of(st.tcp_conn(h), Instant::from_secs(100)).to_string();
    assert!(internals(&p.b, s).starts_with("ts sack ecn ecnseen cubic "), "{}", internals(&p.b, s));
    assert!(internals(&p.a, c).starts_with("ts sack ecn cubic "), "{}", internals(&p.a, c));
}

#[test]
fn ecn_a_syn_that_is_itself_ect_is_not_an_ecn_setup_syn() {
    // Linux `tcp_ecn_create_request`: an ECN-setup SYN whose IP header is ECT is answered as
    // a plain SYN (RFC 3168 §6.1.1 has SYNs Not-ECT; a middlebox may have rewritten it).
    let mut b = ecn_stack(B, 2, 2);
    b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let now = Instant::from_secs(1);
    let syn = |bits: u8| {
        let mut seg = tcp(&syn_packet(sa(A, 4000 + u16::from(bits)), sa(B, 80), 7)).unwrap();
        seg.flags |= TcpFlags::ECE | TcpFlags::CWR;
        marked(&tcp_packet(seg.src, seg.dst, seg.seq, 0, seg.flags, &[]), bits)
    };
    for (bits, ece) in [(0b00, true), (0b10, false)] {
        b.handle_packet(now, 0, &syn(bits));
        let out = drain(&mut b, now);
        let synack = tcp(&out[0]).unwrap();
        assert_eq!(synack.has(TcpFlags::ECE), ece, "SYN with ECN bits {bits:02b}");
    }
}
