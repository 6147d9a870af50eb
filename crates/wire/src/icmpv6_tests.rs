//! Tests of ICMPv6. The fixtures are messages a Linux kernel sent from fd00::1 to fd00::2
//! (tests/data/linux-ipv6.pcap, made by tests/data/make-linux-ipv6.sh), so their checksums
//! were computed by Linux, not by this crate.

use super::*;
use crate::ipv6::tests::{FD00_1, FD00_2, packet_to};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// The kernel's echo reply to an echo request with id 0x7573, seq 1, data "ustack ping6".
const LINUX_ECHO_REPLY: [u8; 20] = [
    0x81, 0x00, 0xd0, 0xe2, 0x75, 0x73, 0x00, 0x01, 0x75, 0x73, 0x74, 0x61, 0x63, 0x6b, 0x20, 0x70,
    0x69, 0x6e, 0x67, 0x36,
];

/// The kernel's port unreachable about a UDP datagram from fd00::2 port 40000 to port 9, flow
/// label 2, five bytes of data.
const LINUX_PORT_UNREACHABLE: [u8; 61] = [
    0x01, 0x04, 0x93, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x02, 0x00, 0x0d, 0x11, 0x40,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x9c, 0x40, 0x00, 0x09, 0x00, 0x0d, 0x24, 0xb1, 0x70, 0x72, 0x6f, 0x62, 0x65,
];

/// The kernel's parameter problem, code 1 pointer 6, about a packet whose Next Header is 253.
const LINUX_PARAM_PROBLEM: [u8; 56] = [
    0x04, 0x01, 0xaa, 0x30, 0x00, 0x00, 0x00, 0x06, 0x60, 0x00, 0x00, 0x03, 0x00, 0x08, 0xfd, 0x40,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn parse(bytes: &[u8]) -> Result<Icmpv6Repr<'_>, ParseError> {
    Icmpv6Repr::parse(&Icmpv6Packet::new_checked(bytes)?, FD00_1, FD00_2)
}

fn emit(repr: &Icmpv6Repr<'_>) -> Vec<u8> {
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), FD00_1, FD00_2);
    out
}

fn quoted_header(flow_label: u32, next_header: IpProtocol, payload_len: usize) -> Ipv6Repr {
    Ipv6Repr {
        src: FD00_2,
        dst: FD00_1,
        next_header,
        payload_len,
        hop_limit: 64,
        dscp: 0,
        ecn: 0,
        flow_label,
    }
}

#[test]
fn echo_reply_linux_sent() {
    let repr = parse(&LINUX_ECHO_REPLY).unwrap();
    assert_eq!(repr, Icmpv6Repr::EchoReply { ident: 0x7573, seq_no: 1, data: b"ustack ping6" });
    assert_eq!(emit(&repr), LINUX_ECHO_REPLY);
    assert_eq!(std::format!("{repr}"), "ICMP6, echo reply, id 30067, seq 1, length 20");
    // The checksum covers the pseudo-header: other addresses, other sum.
    let p = Icmpv6Packet::new_checked(&LINUX_ECHO_REPLY[..]).unwrap();
    assert!(p.verify_checksum(FD00_1, FD00_2));
    assert!(!p.verify_checksum(FD00_1, FD00_1));
    assert_eq!(Icmpv6Repr::parse(&p, FD00_2, FD00_2), Err(ParseError::BadChecksum));
}

#[test]
fn port_unreachable_linux_sent() {
    let repr = parse(&LINUX_PORT_UNREACHABLE).unwrap();
    let udp = &LINUX_PORT_UNREACHABLE[48..];
    assert_eq!(
        repr,
        Icmpv6Repr::DstUnreachable {
            reason: DstUnreachable::PortUnreachable,
            header: quoted_header(2, IpProtocol::UDP, 13),
            data: udp,
        }
    );
    assert_eq!(repr.quoted(), Some((quoted_header(2, IpProtocol::UDP, 13), udp)));
    assert_eq!(emit(&repr), LINUX_PORT_UNREACHABLE);
    assert_eq!(
        std::format!("{repr}"),
        "ICMP6, destination unreachable, unreachable port, fd00::1 UDP port 9, length 61"
    );
}

#[test]
fn param_problem_linux_sent() {
    let repr = parse(&LINUX_PARAM_PROBLEM).unwrap();
    assert_eq!(
        repr,
        Icmpv6Repr::ParamProblem {
            reason: ParamProblem::UnrecognizedNextHeader,
            pointer: 6,
            header: quoted_header(3, IpProtocol(253), 8),
            data: &[0; 8],
        }
    );
    assert_eq!(emit(&repr), LINUX_PARAM_PROBLEM);
    assert_eq!(
        std::format!("{repr}"),
        "ICMP6, parameter problem, unrecognized next header, pointer 6, length 56"
    );
}

#[test]
fn packet_too_big_and_time_exceeded_round_trip() {
    let header = quoted_header(0, IpProtocol::TCP, 1400);
    let data = [0u8; 32];
    for repr in [
        Icmpv6Repr::PacketTooBig { mtu: 1280, header, data: &data },
        Icmpv6Repr::TimeExceeded { reason: TimeExceeded::HopLimit, header, data: &data },
        Icmpv6Repr::TimeExceeded { reason: TimeExceeded::Reassembly, header, data: &data },
    ] {
        let out = emit(&repr);
        assert_eq!(out.len(), 8 + 40 + 32);
        assert_eq!(parse(&out), Ok(repr));
    }
    let ptb = emit(&Icmpv6Repr::PacketTooBig { mtu: 1280, header, data: &data });
    // RFC 4443 §3.2: type 2, code 0, the MTU in the four bytes after the checksum.
    assert_eq!((ptb[0], ptb[1], &ptb[4..8]), (2, 0, &[0, 0, 0x05, 0x00][..]));
    let shown = std::format!("{}", parse(&ptb).unwrap());
    assert_eq!(shown, "ICMP6, packet too big, mtu 1280, length 80");
}

/// RFC 4443 §3.2: the Packet Too Big code is "set to 0 (zero) by the originator and ignored by
/// the receiver"; §3.1 and §3.3: the unused word is "ignored by the receiver".
#[test]
fn receivers_ignore_what_rfc_4443_tells_them_to() {
    let header = quoted_header(0, IpProtocol::TCP, 1400);
    let mut ptb = emit(&Icmpv6Repr::PacketTooBig { mtu: 1400, header, data: &[] });
    ptb[1] = 7;
    Icmpv6Packet::new_unchecked(&mut ptb[..]).fill_checksum(FD00_1, FD00_2);
    assert_eq!(parse(&ptb), Ok(Icmpv6Repr::PacketTooBig { mtu: 1400, header, data: &[] }));

    let mut unreachable = LINUX_PORT_UNREACHABLE;
    unreachable[4..8].copy_from_slice(&[1, 2, 3, 4]);
    Icmpv6Packet::new_unchecked(&mut unreachable[..]).fill_checksum(FD00_1, FD00_2);
    assert_eq!(parse(&unreachable), parse(&LINUX_PORT_UNREACHABLE));
}

#[test]
fn errors_name_their_reason() {
    assert_eq!(Icmpv6Packet::new_checked(&[128u8, 0, 0][..]).unwrap_err(), ParseError::Truncated);
    let mut corrupt = LINUX_ECHO_REPLY;
    corrupt[10] ^= 1;
    assert_eq!(parse(&corrupt), Err(ParseError::BadChecksum));

    let with = |ty: u8, code: u8, body: &[u8]| {
        let mut b = vec![ty, code, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(body);
        Icmpv6Packet::new_unchecked(&mut b[..]).fill_checksum(FD00_1, FD00_2);
        parse(&b).map(|_| ())
    };
    let quote = &LINUX_PORT_UNREACHABLE[8..];
    assert_eq!(with(135, 0, &[0; 16]), Err(ParseError::Unsupported)); // neighbor solicitation
    assert_eq!(with(200, 0, &[]), Err(ParseError::Unsupported)); // unassigned informational
    assert_eq!(with(100, 0, quote), Err(ParseError::Unsupported)); // private experimentation
    assert_eq!(with(128, 1, &[]), Err(ParseError::BadField));
    assert_eq!(with(129, 9, &[]), Err(ParseError::BadField));
    assert_eq!(with(1, 9, quote), Err(ParseError::BadField));
    assert_eq!(with(3, 2, quote), Err(ParseError::BadField));
    assert_eq!(with(4, 11, quote), Err(ParseError::BadField));
    assert_eq!(with(1, 4, &quote[..39]), Err(ParseError::Truncated));
    let mut v4 = quote.to_vec();
    v4[0] = 0x45;
    assert_eq!(with(2, 0, &v4), Err(ParseError::BadVersion));
    // The quoted header alone is enough.
    assert_eq!(with(3, 0, &quote[..40]), Ok(()));
}

/// RFC 4443 §2.4(c): "as much of invoking packet as possible without the ICMPv6 packet
/// exceeding the minimum IPv6 MTU".
#[test]
fn quote_fits_the_minimum_mtu() {
    let big = packet_to(FD00_1, IpProtocol::UDP, &[0xab; 2000]);
    let (header, data) = quote(&big).unwrap();
    assert_eq!(header.payload_len, 2000);
    let repr = Icmpv6Repr::PacketTooBig { mtu: 1280, header, data };
    assert_eq!(ipv6::HEADER_LEN + repr.buffer_len(), 1280);
    assert_eq!(&emit(&repr)[8..], &big[..1232]);

    // A small packet is quoted whole, without its link padding.
    let mut small = packet_to(FD00_1, IpProtocol::UDP, &[1, 2, 3]);
    small.extend([0xee; 5]);
    let (header, data) = quote(&small).unwrap();
    assert_eq!((header.payload_len, data), (3, &[1u8, 2, 3][..]));

    assert_eq!(quote(&big[..39]), Err(ParseError::Truncated));
    let mut v4 = big.clone();
    v4[0] = 0x45;
    assert_eq!(quote(&v4), Err(ParseError::BadVersion));
}

/// Linux's `icmpv6_err_convert`: fatal for administratively prohibited, port unreachable,
/// failed policy, reject route, and codes past its table; not for no route, beyond scope,
/// address unreachable.
#[test]
fn hard_errors_are_linux_s() {
    let hard: Vec<u8> =
        (0..=8).filter(|&c| DstUnreachable::from_code(c).unwrap().is_hard_error()).collect();
    assert_eq!(hard, [1, 4, 5, 6, 7, 8]);
    assert_eq!(DstUnreachable::from_code(9), None);
}

fn arb_repr(data: &[u8]) -> impl Strategy<Value = Icmpv6Repr<'_>> + '_ {
    (
        0u8..6,
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        0u8..11,
        crate::ipv6::tests::arb_repr(),
        0..=data.len(),
    )
        .prop_map(move |(kind, a, b, word, code, header, n)| {
            let data = &data[..n];
            match kind {
                0 => Icmpv6Repr::EchoRequest { ident: a, seq_no: b, data },
                1 => Icmpv6Repr::EchoReply { ident: a, seq_no: b, data },
                2 => Icmpv6Repr::DstUnreachable {
                    reason: DstUnreachable::from_code(code % 9).unwrap(),
                    header,
                    data,
                },
                3 => Icmpv6Repr::PacketTooBig { mtu: word, header, data },
                4 => Icmpv6Repr::TimeExceeded {
                    reason: TimeExceeded::from_code(code % 2).unwrap(),
                    header,
                    data,
                },
                _ => Icmpv6Repr::ParamProblem {
                    reason: ParamProblem::from_code(code).unwrap(),
                    pointer: word,
                    header,
                    data,
                },
            }
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
        let out = emit(&repr);
        let p = Icmpv6Packet::new_checked(&out[..]).unwrap();
        prop_assert!(p.verify_checksum(FD00_1, FD00_2));
        prop_assert_eq!(p.is_error(), repr.quoted().is_some());
        prop_assert_eq!(Icmpv6Repr::parse(&p, FD00_1, FD00_2).unwrap(), repr);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = Icmpv6Packet::new_checked(&bytes[..]) {
            let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident(), p.echo_seq_no());
            let _ = (p.mtu(), p.pointer(), p.data(), p.is_error(), p.verify_checksum(FD00_1, FD00_2));
            let _ = Icmpv6Repr::parse(&p, FD00_1, FD00_2);
        }
        let _ = quote(&bytes);
    }

    #[test]
    fn random_error_bodies_never_panic(ty in 0u8..6, code in 0u8..12, body in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut b = vec![ty, code, 0, 0, 0, 0, 0, 0];
        b.extend(body);
        Icmpv6Packet::new_unchecked(&mut b[..]).fill_checksum(FD00_1, FD00_2);
        if let Ok(repr) = parse(&b) {
            let _ = std::format!("{repr}");
        }
    }
}
