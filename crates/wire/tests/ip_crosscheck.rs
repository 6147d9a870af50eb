//! IPv4, UDP and ICMPv4 cross-checked against an independent parser (etherparse), both ways:
//! what we emit, etherparse reads back the same; what etherparse writes, we read the same.

use etherparse::icmpv4::DestUnreachableHeader;
use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, IpNumber, Ipv4Header, UdpHeader,
};
use proptest::prelude::*;
use ustack_wire::icmpv4::DstUnreachable;
use ustack_wire::{
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Addr, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

fn arb_ipv4() -> impl Strategy<Value = Ipv4Repr> {
    (
        any::<([u8; 4], [u8; 4], u8, u8, u16)>(),
        0usize..1400,
        0u8..64,
        0u8..4,
        any::<(bool, bool)>(),
        0u16..8192,
    )
        .prop_map(|((s, d, proto, ttl, ident), len, dscp, ecn, (df, mf), off)| Ipv4Repr {
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
            frag_offset: off * 8,
        })
}

fn etherparse_ipv4(r: &Ipv4Repr) -> Ipv4Header {
    let mut h = Ipv4Header::new(
        r.payload_len as u16,
        r.ttl,
        IpNumber(r.protocol.0),
        r.src.octets(),
        r.dst.octets(),
    )
    .unwrap();
    h.dscp = r.dscp.try_into().unwrap();
    h.ecn = r.ecn.try_into().unwrap();
    h.identification = r.ident;
    h.dont_fragment = r.dont_frag;
    h.more_fragments = r.more_frags;
    h.fragment_offset = (r.frag_offset / 8).try_into().unwrap();
    h.header_checksum = h.calc_header_checksum();
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn ipv4_we_emit_etherparse_reads(repr in arb_ipv4()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        let (h, rest) = Ipv4Header::from_slice(&buf).unwrap();
        prop_assert_eq!(h.source, repr.src.octets());
        prop_assert_eq!(h.destination, repr.dst.octets());
        prop_assert_eq!(h.protocol.0, repr.protocol.0);
        prop_assert_eq!(h.payload_len().unwrap() as usize, repr.payload_len);
        prop_assert_eq!(h.time_to_live, repr.ttl);
        prop_assert_eq!(h.dscp.value(), repr.dscp);
        prop_assert_eq!(h.ecn.value(), repr.ecn);
        prop_assert_eq!(h.identification, repr.ident);
        prop_assert_eq!((h.dont_fragment, h.more_fragments), (repr.dont_frag, repr.more_frags));
        prop_assert_eq!(h.fragment_offset.value() * 8, repr.frag_offset);
        prop_assert_eq!(h.header_checksum, h.calc_header_checksum());
        prop_assert_eq!(rest.len(), repr.payload_len);
    }

    #[test]
    fn ipv4_etherparse_emits_we_read(repr in arb_ipv4(), opt_words in 0usize..=10) {
        let mut h = etherparse_ipv4(&repr);
        // Options make etherparse write a longer header; we skip them.
        let opts: Vec<u8> =
            (0..opt_words * 4).map(|i| if i + 1 == opt_words * 4 { 0 } else { 1 }).collect();
        h.options = opts[..].try_into().unwrap();
        h.set_payload_len(repr.payload_len).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut buf = h.to_bytes().to_vec();
        buf.resize(buf.len() + repr.payload_len, 0xa5);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(p.header_len(), 20 + opts.len());
        prop_assert_eq!(p.options(), &opts[..]);
        prop_assert_eq!(Ipv4Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn udp_both_ways(
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..1000),
    ) {
        let (s, d) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        let repr = UdpRepr { src_port: sport, dst_port: dport, payload: &payload };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpPacket::new_unchecked(&mut buf[..]), s, d);
        let (h, rest) = UdpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!((h.source_port, h.destination_port), (sport, dport));
        prop_assert_eq!(h.length as usize, buf.len());
        prop_assert_eq!(h.checksum, h.calc_checksum_ipv4_raw(src, dst, &payload).unwrap());
        prop_assert_eq!(rest, &payload[..]);

        let ip = Ipv4Header::new(0, 64, IpNumber::UDP, src, dst).unwrap();
        let eh = UdpHeader::with_ipv4_checksum(sport, dport, &ip, &payload).unwrap();
        let mut theirs = eh.to_bytes().to_vec();
        theirs.extend_from_slice(&payload);
        prop_assert_eq!(&theirs, &buf);
        let p = UdpPacket::new_checked(&theirs[..]).unwrap();
        prop_assert_eq!(UdpRepr::parse(&p, s, d).unwrap(), repr);
    }

    #[test]
    fn icmp_echo_both_ways(
        request: bool,
        id: u16,
        seq: u16,
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let echo = IcmpEchoHeader { id, seq };
        let ty = if request { Icmpv4Type::EchoRequest(echo) } else { Icmpv4Type::EchoReply(echo) };
        let eh = Icmpv4Header::with_checksum(ty, &data);
        let mut theirs = eh.to_bytes().to_vec();
        theirs.extend_from_slice(&data);
        let ours = if request {
            Icmpv4Repr::EchoRequest { ident: id, seq_no: seq, data: &data }
        } else {
            Icmpv4Repr::EchoReply { ident: id, seq_no: seq, data: &data }
        };
        let p = Icmpv4Packet::new_checked(&theirs[..]).unwrap();
        prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), ours);
        let mut buf = vec![0u8; ours.buffer_len()];
        ours.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
        prop_assert_eq!(buf, theirs);
    }

    #[test]
    fn icmp_dst_unreachable_both_ways(
        code in 0u8..16,
        mtu: u16,
        quoted in arb_ipv4(),
        data in proptest::collection::vec(any::<u8>(), 8..40),
    ) {
        let reason = DstUnreachable::from_code(code).unwrap();
        let next_hop_mtu = if reason == DstUnreachable::FragRequired { mtu } else { 0 };
        let ours = Icmpv4Repr::DstUnreachable { reason, next_hop_mtu, header: quoted, data: &data };
        let mut buf = vec![0u8; ours.buffer_len()];
        ours.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));

        let slice = Icmpv4Slice::from_slice(&buf).unwrap();
        let expected = DestUnreachableHeader::from_values(code, next_hop_mtu).unwrap();
        prop_assert_eq!(slice.icmp_type(), Icmpv4Type::DestinationUnreachable(expected.clone()));
        let (qh, qrest) = Ipv4Header::from_slice(slice.payload()).unwrap();
        prop_assert_eq!(qh.source, quoted.src.octets());
        prop_assert_eq!(qh.total_len as usize, quoted.buffer_len());
        prop_assert_eq!(qrest, &data[..]);

        let ty = Icmpv4Type::DestinationUnreachable(expected);
        let eh = Icmpv4Header::with_checksum(ty, slice.payload());
        let mut theirs = eh.to_bytes().to_vec();
        theirs.extend_from_slice(slice.payload());
        prop_assert_eq!(&theirs, &buf);
        let p = Icmpv4Packet::new_checked(&theirs[..]).unwrap();
        prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), ours);
    }
}
