use super::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// A real header (Wikipedia's example, UDP, 115 bytes total) followed by its payload.
fn sample() -> Vec<u8> {
    let mut p = vec![
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    p.extend((0..95u8).map(|i| i.wrapping_mul(3)));
    p
}

#[test]
fn parses_a_real_header() {
    let bytes = sample();
    let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    let repr = Ipv4Repr::parse(&packet).unwrap();
    assert_eq!(repr.src, Ipv4Addr::new(192, 168, 0, 1));
    assert_eq!(repr.dst, Ipv4Addr::new(192, 168, 0, 199));
    assert_eq!(repr.protocol, IpProtocol::UDP);
    assert_eq!(repr.payload_len, 95);
    assert_eq!(repr.ttl, 64);
    assert!(repr.dont_frag && !repr.more_frags && repr.frag_offset == 0);
    assert_eq!(packet.payload(), &bytes[20..]);
}

#[test]
fn link_padding_is_not_payload() {
    let mut bytes = sample();
    bytes.extend([0xee; 6]);
    let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.payload().len(), 95);
}

#[test]
fn options_are_skipped() {
    // IHL 6: one 4-byte option (NOP NOP NOP EOL), payload 4 bytes.
    let repr = Ipv4Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: IpProtocol::TCP,
        payload_len: 4,
        ttl: 9,
        dscp: 0,
        ecn: 0,
        ident: 77,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = [0u8; 28];
    {
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut p);
        p.set_version_and_header_len(24);
        p.set_total_len(28);
    }
    bytes[20..24].copy_from_slice(&[1, 1, 1, 0]);
    bytes[24..28].copy_from_slice(b"data");
    Ipv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.options(), &[1, 1, 1, 0]);
    assert_eq!(p.payload(), b"data");
    assert_eq!(Ipv4Repr::parse(&p).unwrap(), repr);
}

#[test]
fn each_error_names_its_reason() {
    let good = sample();
    assert_eq!(Ipv4Packet::new_checked(&good[..19]).unwrap_err(), ParseError::Truncated);
    assert_eq!(Ipv4Packet::new_checked(&good[..100]).unwrap_err(), ParseError::Truncated);

    let mut v6 = good.clone();
    v6[0] = 0x65;
    assert_eq!(Ipv4Packet::new_checked(&v6[..]).unwrap_err(), ParseError::BadVersion);

    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    assert_eq!(Ipv4Packet::new_checked(&short_ihl[..]).unwrap_err(), ParseError::BadHeaderLength);

    let mut long_ihl = good[..24].to_vec();
    long_ihl[0] = 0x4f; // 60-byte header in a 24-byte buffer
    long_ihl[2..4].copy_from_slice(&24u16.to_be_bytes());
    assert_eq!(Ipv4Packet::new_checked(&long_ihl[..]).unwrap_err(), ParseError::BadHeaderLength);

    let mut small_total = good.clone();
    small_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(Ipv4Packet::new_checked(&small_total[..]).unwrap_err(), ParseError::BadTotalLength);

    let mut bad_sum = good.clone();
    bad_sum[8] = 63; // TTL changed, checksum not
    let p = Ipv4Packet::new_checked(&bad_sum[..]).unwrap();
    assert_eq!(Ipv4Repr::parse(&p).unwrap_err(), ParseError::BadChecksum);
}

#[test]
fn display_reads_like_tcpdump() {
    let bytes = sample();
    let repr = Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap()).unwrap();
    assert_eq!(
        std::format!("{repr}"),
        "192.168.0.1 > 192.168.0.199: UDP, ttl 64, id 0, DF, length 115"
    );
}

pub(crate) fn arb_repr() -> impl Strategy<Value = Ipv4Repr> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        0usize..1500,
        any::<u8>(),
        0u8..64,
        0u8..4,
        any::<u16>(),
        any::<(bool, bool)>(),
        0u16..8192,
    )
        .prop_map(|(s, d, proto, len, ttl, dscp, ecn, ident, (df, mf), off)| Ipv4Repr {
            src: Ipv4Addr::from(s),
            dst: Ipv4Addr::from(d),
            protocol: IpProtocol(proto),
            payload_len: len,
            ttl,
            dscp,
            ecn,
            ident,
            dont_frag: df,
            more_frags: mf,
            frag_offset: off << 3,
        })
}

proptest! {
    #[test]
    fn parse_emit_round_trip(repr in arb_repr()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(packet.verify_checksum());
        prop_assert_eq!(Ipv4Repr::parse(&packet).unwrap(), repr);
        // The checksum `emit` computes from the values is the one summed over the bytes.
        let mut summed = buf.clone();
        Ipv4Packet::new_unchecked(&mut summed[..]).fill_checksum();
        prop_assert_eq!(summed, buf);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = Ipv4Packet::new_checked(&bytes[..]) {
            let _ = (p.version(), p.header_len(), p.dscp(), p.ecn(), p.total_len(), p.ident());
            let _ = (p.reserved_flag(), p.dont_frag(), p.more_frags(), p.frag_offset(), p.ttl());
            let _ = (p.protocol(), p.checksum(), p.src_addr(), p.dst_addr(), p.options());
            let _ = (p.verify_checksum(), p.payload());
            let _ = Ipv4Repr::parse(&p);
        }
    }

    #[test]
    fn random_headers_with_valid_lengths_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 20..80)) {
        // Force version 4 and consistent lengths so parsing gets past the length checks.
        let ihl = 5 + (bytes[0] as usize % 11);
        bytes[0] = 0x40 | ihl as u8;
        let total = bytes.len().max(ihl * 4).min(bytes.len());
        bytes[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        if let Ok(p) = Ipv4Packet::new_checked(&bytes[..]) {
            let _ = Ipv4Repr::parse(&p);
            let _ = p.payload();
        }
    }
}
