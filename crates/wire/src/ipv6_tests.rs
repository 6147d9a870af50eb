use super::*;
use crate::ipv6ext::ExtHeaderLimits;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// A UDP datagram the Linux kernel sent from fd00::1 to fd00::2 port 9 into a TUN device
/// (packet 46 of tests/data/linux-ipv6.pcap): flow label 0x01822, hop limit 64, 23 bytes of
/// payload ("from the kernel" after the UDP header).
pub(crate) const LINUX_UDP: [u8; 63] = [
    0x60, 0x00, 0x18, 0x22, 0x00, 0x17, 0x11, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xaf, 0xcd, 0x00, 0x09, 0x00, 0x17, 0x96, 0xe8,
    0x66, 0x72, 0x6f, 0x6d, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6b, 0x65, 0x72, 0x6e, 0x65, 0x6c,
];

pub(crate) const FD00_1: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
pub(crate) const FD00_2: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

#[test]
fn parses_a_header_linux_sent() {
    let packet = Ipv6Packet::new_checked(&LINUX_UDP[..]).unwrap();
    let repr = Ipv6Repr::parse(&packet).unwrap();
    assert_eq!(
        repr,
        Ipv6Repr {
            src: FD00_1,
            dst: FD00_2,
            next_header: IpProtocol::UDP,
            payload_len: 23,
            hop_limit: 64,
            dscp: 0,
            ecn: 0,
            flow_label: 0x01822,
        }
    );
    assert_eq!(packet.payload(), &LINUX_UDP[40..]);
    let mut out = [0u8; HEADER_LEN];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
    assert_eq!(out, LINUX_UDP[..40]);
}

/// RFC 8200 §3: version (4 bits), traffic class (8), flow label (20) share the first word.
/// DSCP 46 (EF) and ECN 1 make traffic class 0xb9; with flow label 0xabcde the word is
/// 0x6b9abcde.
#[test]
fn traffic_class_and_flow_label_share_the_first_word() {
    let repr = Ipv6Repr {
        src: FD00_1,
        dst: FD00_2,
        next_header: IpProtocol::TCP,
        payload_len: 0,
        hop_limit: 255,
        dscp: 46,
        ecn: 1,
        flow_label: 0xabcde,
    };
    let mut out = [0u8; HEADER_LEN];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
    assert_eq!(out[..4], [0x6b, 0x9a, 0xbc, 0xde]);
    let view = Ipv6Packet::new_checked(&out[..]).unwrap();
    assert_eq!((view.traffic_class(), view.dscp(), view.ecn()), (0xb9, 46, 1));
    assert_eq!(view.flow_label(), 0xabcde);
    assert_eq!(Ipv6Repr::parse(&view).unwrap(), repr);
}

#[test]
fn link_padding_is_not_payload() {
    let mut bytes = LINUX_UDP.to_vec();
    bytes.extend([0xee; 7]);
    let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.payload(), &LINUX_UDP[40..]);
}

#[test]
fn each_error_names_its_reason() {
    assert_eq!(Ipv6Packet::new_checked(&LINUX_UDP[..39]).unwrap_err(), ParseError::Truncated);
    // The payload length (23) says more than the buffer holds.
    assert_eq!(Ipv6Packet::new_checked(&LINUX_UDP[..62]).unwrap_err(), ParseError::Truncated);
    let mut v4 = LINUX_UDP;
    v4[0] = 0x45;
    assert_eq!(Ipv6Packet::new_checked(&v4[..]).unwrap_err(), ParseError::BadVersion);
    // A view over a short buffer built unchecked: parse checks again instead of panicking.
    let short = Ipv6Packet::new_unchecked(&LINUX_UDP[..50]);
    assert_eq!(Ipv6Repr::parse(&short).unwrap_err(), ParseError::Truncated);
    assert_eq!(
        short.walk_ext_headers(&ExtHeaderLimits::DEFAULT).unwrap_err(),
        crate::ExtHeaderError::Discard(ParseError::Truncated)
    );
}

#[test]
fn display_reads_like_tcpdump() {
    let repr = Ipv6Repr::parse(&Ipv6Packet::new_checked(&LINUX_UDP[..]).unwrap()).unwrap();
    assert_eq!(
        std::format!("{repr}"),
        "fd00::1 > fd00::2: UDP, hlim 64, flowlabel 0x01822, length 63"
    );
    let plain = Ipv6Repr { flow_label: 0, next_header: IpProtocol::ICMPV6, ..repr };
    assert_eq!(std::format!("{plain}"), "fd00::1 > fd00::2: ICMP6, hlim 64, length 63");
}

pub(crate) fn arb_repr() -> impl Strategy<Value = Ipv6Repr> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u8>(),
        0usize..1500,
        any::<u8>(),
        0u8..64,
        0u8..4,
        0u32..=MAX_FLOW_LABEL,
    )
        .prop_map(|(s, d, next, len, hop_limit, dscp, ecn, flow_label)| Ipv6Repr {
            src: Ipv6Addr::from(s),
            dst: Ipv6Addr::from(d),
            next_header: IpProtocol(next),
            payload_len: len,
            hop_limit,
            dscp,
            ecn,
            flow_label,
        })
}

proptest! {
    #[test]
    fn parse_emit_round_trip(repr in arb_repr()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(packet.payload().len(), repr.payload_len);
        prop_assert_eq!(Ipv6Repr::parse(&packet).unwrap(), repr);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(p) = Ipv6Packet::new_checked(&bytes[..]) {
            let _ = (p.version(), p.traffic_class(), p.dscp(), p.ecn(), p.flow_label());
            let _ = (p.payload_len(), p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
            let _ = (p.payload(), Ipv6Repr::parse(&p), p.walk_ext_headers(&ExtHeaderLimits::DEFAULT));
        }
    }

    #[test]
    fn random_packets_with_valid_lengths_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 40..200)) {
        // Force version 6 and a payload length within the buffer so the walk is reached.
        bytes[0] = 0x60 | (bytes[0] & 0x0f);
        let len = (bytes.len() - 40) as u16;
        let claimed = u16::from_be_bytes([bytes[4], bytes[5]]) % (len + 1);
        bytes[4..6].copy_from_slice(&claimed.to_be_bytes());
        let p = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        let _ = Ipv6Repr::parse(&p).unwrap();
        if let Ok(chain) = p.walk_ext_headers(&ExtHeaderLimits::DEFAULT) {
            prop_assert!(chain.offset <= p.payload().len());
        }
    }
}

/// A packet from fd00::2 to `dst` with the given first Next Header and payload.
pub(crate) fn packet_to(dst: Ipv6Addr, next_header: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let repr = Ipv6Repr {
        src: FD00_2,
        dst,
        next_header,
        payload_len: payload.len(),
        hop_limit: 64,
        dscp: 0,
        ecn: 0,
        flow_label: 0,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
    buf[HEADER_LEN..].copy_from_slice(payload);
    buf
}
