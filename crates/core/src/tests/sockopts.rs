//! Per-socket IP options and the socket calls std and tokio expose on top of the stack:
//! `IP_TTL` (Linux ip(7): the TTL of every packet the socket sends; a listener's accepted
//! sockets inherit it), `MSG_PEEK` on UDP, `SO_ERROR` on UDP.

use ustack_wire::DstUnreachable;

use super::*;
use crate::{UdpRecvError, UdpSendError};

const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

fn ttl_of(pkt: &[u8]) -> u8 {
    Ipv4Packet::new_checked(pkt).unwrap().ttl()
}

#[test]
fn ip_ttl_applies_to_every_packet_of_the_socket_and_accepted_sockets_inherit_it() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 16, false).unwrap();
    assert_eq!(p.b.ttl(l), 64, "net.ipv4.ip_default_ttl");
    p.b.set_ttl(l, 17).unwrap();
    assert!(p.b.set_ttl(l, 0).is_err(), "a TTL of 0 is refused (EINVAL)");
    let c = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.a.set_ttl(c, 9).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    assert_eq!(p.b.ttl(s), 17);
    p.a.tcp_send(c, b"x").unwrap();
    p.b.tcp_send(s, b"y").unwrap();
    p.settle();
    assert!(p.sent(true, 0).iter().all(|pkt| ttl_of(pkt) == 9));
    assert!(p.sent(false, 0).iter().all(|pkt| ttl_of(pkt) == 17));

    let mark = p.log.len();
    let u = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    p.a.set_ttl(u, 1).unwrap();
    assert_eq!(p.a.ttl(u), 1);
    p.a.udp_send_to(p.now, u, sa(B, 9), b"ttl 1").unwrap();
    p.settle();
    assert_eq!(ttl_of(&p.sent(true, mark)[0]), 1);
}

#[test]
fn udp_peek_leaves_the_datagram_for_the_next_receive() {
    let mut p = Pair::new();
    let ua = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    let ub = p.b.udp_bind(sa(ANY, 6000)).unwrap();
    p.a.udp_send_to(p.now, ua, sa(B, 6000), b"first").unwrap();
    p.a.udp_send_to(p.now, ua, sa(B, 6000), b"second").unwrap();
    p.settle();
    let mut small = [0u8; 3];
    assert_eq!(p.b.udp_peek_from_to(ub, &mut small), Ok((5, sa(A, 5000), sa(B, 6000))));
    assert_eq!(&small, b"fir");
    let mut buf = [0u8; 16];
    assert_eq!(p.b.udp_peek_from_to(ub, &mut buf), Ok((5, sa(A, 5000), sa(B, 6000))));
    assert_eq!(p.b.udp_recv_from(ub, &mut buf), Ok((5, sa(A, 5000))));
    assert_eq!(&buf[..5], b"first");
    assert_eq!(p.b.udp_peek_from_to(ub, &mut buf).map(|r| r.0), Ok(6));
    assert_eq!(p.b.udp_recv_from(ub, &mut buf).map(|r| r.0), Ok(6));
    assert_eq!(p.b.udp_peek_from_to(ub, &mut buf), Err(UdpRecvError::WouldBlock));
}

#[test]
fn udp_so_error_reports_a_port_unreachable_once() {
    // Linux `sock_error`: SO_ERROR returns the pending ECONNREFUSED and clears it, so the
    // next send goes out.
    let mut p = Pair::new();
    let ua = p.a.udp_bind(sa(ANY, 5000)).unwrap();
    p.a.udp_connect(ua, sa(B, 9999)).unwrap();
    assert_eq!(p.a.udp_take_error(ua), None);
    p.a.udp_send(p.now, ua, b"anyone?").unwrap();
    p.settle();
    let (_, _, msg) = icmp(&p.sent(false, 0)[0]).unwrap();
    assert!(matches!(msg, Icmp::Unreachable { reason: DstUnreachable::PortUnreachable, .. }));
    assert_eq!(p.a.udp_take_error(ua), Some(UdpRecvError::Refused));
    assert_eq!(p.a.udp_take_error(ua), None, "once");
    assert_ne!(p.a.udp_send(p.now, ua, b"again"), Err(UdpSendError::Refused));
}
