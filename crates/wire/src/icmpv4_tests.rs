use super::*;
use crate::ipv4::IpProtocol;
use core::net::Ipv4Addr;
use proptest::prelude::*;
use std::vec;

/// `ping` from Linux: echo request id 0x1234 seq 1 with 8 bytes of data; checksum worked out
/// by hand: 0800 + 1234 + 0001 + 6162 + 6364 + 6566 + 6768 = 0x1_abc9 -> abca -> ~ = 5435.
#[test]
fn echo_request_hand_checked() {
    let bytes = [
        0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd', b'e', b'f', b'g',
        b'h',
    ];
    let p = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.verify_checksum());
    let repr = Icmpv4Repr::parse(&p).unwrap();
    assert_eq!(repr, Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"abcdefgh" });
    assert_eq!(std::format!("{repr}"), "ICMP echo request, id 4660, seq 1, length 16");
    let reply = Icmpv4Repr::EchoReply { ident: 0x1234, seq_no: 1, data: b"abcdefgh" };
    let mut out = vec![0u8; reply.buffer_len()];
    reply.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
    // Only the type changed (8 -> 0): the checksum grows by 0x0800.
    assert_eq!(&out[..4], &[0x00, 0x00, 0x5c, 0x35]);
    assert_eq!(&out[4..], &bytes[4..]);
}

fn quoted_udp() -> Ipv4Repr {
    Ipv4Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: IpProtocol::UDP,
        payload_len: 108,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0x4321,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    }
}

#[test]
fn port_unreachable_quotes_header_and_ports() {
    // UDP 10.0.0.1:40000 -> 10.0.0.2:9, length 108: the first 8 bytes of it are quoted.
    let udp_head = [0x9c, 0x40, 0x00, 0x09, 0x00, 0x6c, 0xaa, 0xbb];
    let repr = Icmpv4Repr::DstUnreachable {
        reason: DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        header: quoted_udp(),
        data: &udp_head,
    };
    let mut out = vec![0u8; repr.buffer_len()];
    assert_eq!(out.len(), 8 + 20 + 8);
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
    assert_eq!(&out[..2], &[3, 3]);
    // The quoted header carries the original total length, 128, not the quoted length.
    assert_eq!(&out[10..12], &128u16.to_be_bytes());
    let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
    assert_eq!(Icmpv4Repr::parse(&p).unwrap(), repr);
    assert_eq!(std::format!("{repr}"), "ICMP 10.0.0.2 port unreachable (UDP port 9), length 36");
}

#[test]
fn frag_needed_carries_next_hop_mtu() {
    let repr = Icmpv4Repr::DstUnreachable {
        reason: DstUnreachable::FragRequired,
        next_hop_mtu: 1400,
        header: Ipv4Repr { protocol: IpProtocol::TCP, ..quoted_udp() },
        data: &[0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0xde, 0xad],
    };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
    assert_eq!(&out[4..8], &[0, 0, 0x05, 0x78]);
    let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
    assert_eq!(p.next_hop_mtu(), 1400);
    assert_eq!(Icmpv4Repr::parse(&p).unwrap(), repr);
}

#[test]
fn errors_name_their_reason() {
    assert_eq!(Icmpv4Packet::new_checked(&[8u8, 0, 0][..]).unwrap_err(), ParseError::Truncated);
    let mut echo = [
        0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd', b'e', b'f', b'g',
        b'h',
    ];
    echo[9] = b'x';
    let p = Icmpv4Packet::new_checked(&echo[..]).unwrap();
    assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), ParseError::BadChecksum);

    let with_type = |ty: u8, code: u8, extra: &[u8]| {
        let mut b = vec![ty, code, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(extra);
        Icmpv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        Icmpv4Repr::parse(&p).map(|_| ())
    };
    assert_eq!(with_type(13, 0, &[]), Err(ParseError::Unsupported)); // timestamp
    assert_eq!(with_type(8, 1, &[]), Err(ParseError::BadField));
    assert_eq!(with_type(3, 16, &[0; 28]), Err(ParseError::BadField));
    assert_eq!(with_type(3, 3, &[0x45; 10]), Err(ParseError::Truncated));
    let mut v6 = [0u8; 28];
    v6[0] = 0x60;
    assert_eq!(with_type(3, 3, &v6), Err(ParseError::BadVersion));
    let mut ihl = [0u8; 28];
    ihl[0] = 0x46; // a 24-byte header leaves only 4 quoted data bytes
    ihl[2..4].copy_from_slice(&40u16.to_be_bytes());
    assert_eq!(with_type(3, 3, &ihl), Err(ParseError::Truncated));
    let mut short = [0u8; 28];
    short[0] = 0x45;
    short[2..4].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(with_type(3, 3, &short), Err(ParseError::BadTotalLength));
}

fn arb_repr(data: &[u8]) -> impl Strategy<Value = Icmpv4Repr<'_>> + '_ {
    (0u8..3, any::<u16>(), any::<u16>(), 0u8..16, crate::ipv4::tests::arb_repr(), 0..=data.len())
        .prop_map(move |(kind, a, b, code, header, n)| match kind {
            0 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data[..n] },
            1 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data[..n] },
            _ => Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::from_code(code).unwrap(),
                next_hop_mtu: b,
                header,
                data: &data[..n.max(8)],
            },
        })
}

const DATA: [u8; 64] = {
    let mut d = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        d[i] = (i as u8).wrapping_mul(37);
        i += 1;
    }
    d
};

proptest! {
    #[test]
    fn parse_emit_round_trip(repr in arb_repr(&DATA)) {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
        let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(p) = Icmpv4Packet::new_checked(&bytes[..]) {
            let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident(), p.echo_seq_no());
            let _ = (p.next_hop_mtu(), p.data(), p.verify_checksum());
            let _ = Icmpv4Repr::parse(&p);
        }
    }

    #[test]
    fn random_error_bodies_never_panic(code in 0u8..20, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = vec![3u8, code, 0, 0, 0, 0, 0, 0];
        b.extend(body);
        Icmpv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        let _ = Icmpv4Repr::parse(&p);
    }
}
