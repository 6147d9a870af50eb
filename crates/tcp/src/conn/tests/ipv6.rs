//! The engine over IPv6: the header sizes in the MSS (RFC 9293 §3.7.1, RFC 8200 §5) and Packet
//! Too Big (RFC 8201).

use std::net::{Ipv6Addr, SocketAddr};

use super::*;

fn tuple6() -> FourTuple {
    let a = |last| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last);
    FourTuple {
        local: SocketAddr::new(a(1).into(), LOCAL_PORT),
        remote: SocketAddr::new(a(2).into(), REMOTE_PORT),
    }
}

fn syn_of(conn: &mut Conn, now: Instant) -> TcpRepr<'static> {
    let mut buf = vec![0u8; 2048];
    let syn = conn.poll_transmit(now, &mut buf).expect("the SYN");
    assert!(syn.flags.contains(TcpFlags::SYN));
    TcpRepr { payload: &[], ..syn }
}

/// A client over IPv6 whose handshake completed with a SYN-ACK carrying `peer_mss`.
fn established(mtu: u16, peer_mss: Option<u16>) -> Conn {
    let cfg = cfg();
    let now = Instant::ZERO;
    let mut conn = Conn::connect(now, cfg, tuple6(), LOCAL_ISS, mtu, Conn::default_cc(&cfg));
    let _syn = syn_of(&mut conn, now);
    let synack = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS,
        ack: LOCAL_ISS + 1u32,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65_535,
        urgent: 0,
        options: TcpOptions { mss: peer_mss, ..TcpOptions::default() },
        payload: &[],
    };
    conn.handle_segment(now, &synack);
    assert_eq!(conn.state(), TcpState::Established);
    conn
}

#[test]
fn ipv6_syn_announces_mtu_minus_60() {
    // RFC 9293 §3.7.1: the MSS is the MTU less the fixed IP and TCP headers, 40 + 20 bytes
    // over IPv6 (Linux `tcp_v6_connect` → `ipv6_default_advmss`: 1500 → 1440).
    let cfg = cfg();
    for (mtu, want) in [(1500, 1440), (9000, 8940), (1280, 1220), (65_535, 65_475)] {
        let mut conn =
            Conn::connect(Instant::ZERO, cfg, tuple6(), LOCAL_ISS, mtu, Conn::default_cc(&cfg));
        assert_eq!(syn_of(&mut conn, Instant::ZERO).options.mss, Some(want), "MTU {mtu}");
    }
}

#[test]
fn ipv6_mss_never_assumes_a_link_below_1280() {
    // RFC 8200 §5: every IPv6 link carries 1280 bytes, so the MSS is never below 1220 even if
    // the host's interface reports less.
    let cfg = cfg();
    let mut conn =
        Conn::connect(Instant::ZERO, cfg, tuple6(), LOCAL_ISS, 1000, Conn::default_cc(&cfg));
    assert_eq!(syn_of(&mut conn, Instant::ZERO).options.mss, Some(1220));
}

#[test]
fn ipv6_default_send_mss_without_option_is_1220() {
    // RFC 9293 §3.7.1: "MUST assume a default send MSS of ... 1220 (1280 - 60) for IPv6".
    let conn = established(1500, None);
    assert_eq!(conn.effective_mss(), 1220);
    // Over IPv4 the same handshake gives 536.
    let cfg = cfg();
    let mut v4 =
        Conn::connect(Instant::ZERO, cfg, tuple(), LOCAL_ISS, 1500, Conn::default_cc(&cfg));
    let _ = syn_of(&mut v4, Instant::ZERO);
    v4.handle_segment(
        Instant::ZERO,
        &TcpRepr {
            src_port: REMOTE_PORT,
            dst_port: LOCAL_PORT,
            seq: REMOTE_ISS,
            ack: LOCAL_ISS + 1u32,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 65_535,
            urgent: 0,
            options: TcpOptions::default(),
            payload: &[],
        },
    );
    assert_eq!(v4.effective_mss(), 536);
}

#[test]
fn ipv6_packet_too_big_lowers_the_mss_to_mtu_minus_60_never_below_1220() {
    // RFC 8201 §4: the PMTU is lowered to the reported MTU, but "a node MUST NOT reduce its
    // estimate of the Path MTU below the IPv6 minimum link MTU" (1280); the segment size
    // follows as PMTU − 60.
    let mut conn = established(1500, Some(1440));
    assert_eq!(conn.effective_mss(), 1440);
    let now = Instant::from_millis(10);
    conn.send(&pattern_bytes(0, 4000)).unwrap();
    let mut buf = vec![0u8; 2048];
    let first = conn.poll_transmit(now, &mut buf).expect("data");
    assert_eq!(first.payload.len(), 1440);
    while conn.poll_transmit(now, &mut buf).is_some() {}
    assert!(conn.handle_icmp_error(now, LOCAL_ISS + 1u32, IcmpError::FragNeeded { mtu: 1400 }));
    assert_eq!(conn.effective_mss(), 1340);
    // The data in flight goes again at the new size.
    let again = conn.poll_transmit(now, &mut buf).expect("a retransmission");
    assert_eq!((again.seq, again.payload.len()), (LOCAL_ISS + 1u32, 1340));
    // A Packet Too Big below the minimum MTU lowers it to 1280 only.
    assert!(conn.handle_icmp_error(now, LOCAL_ISS + 1u32, IcmpError::FragNeeded { mtu: 600 }));
    assert_eq!(conn.effective_mss(), 1220);
}
