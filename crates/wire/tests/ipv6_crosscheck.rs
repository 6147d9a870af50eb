//! IPv6, its extension headers, and TCP, UDP and ICMPv6 over IPv6 cross-checked against an
//! independent parser (etherparse), both ways: what we emit, etherparse reads back the same;
//! what etherparse writes, we read the same.

use etherparse::icmpv6::{
    DestUnreachableCode, ParameterProblemCode, ParameterProblemHeader, TimeExceededCode,
};
use etherparse::{
    IcmpEchoHeader, Icmpv6Header, Icmpv6Slice, Icmpv6Type, IpFragOffset, IpNumber, Ipv6Extensions,
    Ipv6FlowLabel, Ipv6FragmentHeader, Ipv6Header, Ipv6RawExtHeader, Ipv6RoutingExtensions,
    TcpHeader, UdpHeader,
};
use proptest::prelude::*;
use ustack_wire::icmpv6::{DstUnreachable, ParamProblem, TimeExceeded};
use ustack_wire::{
    ExtHeaderLimits, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Addr, Ipv6FragRepr, Ipv6Packet,
    Ipv6Repr, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps, UdpPacket, UdpRepr,
};

fn arb_ipv6() -> impl Strategy<Value = Ipv6Repr> {
    (any::<([u8; 16], [u8; 16], u8, u8)>(), 0usize..1400, 0u8..64, 0u8..4, 0u32..(1 << 20))
        .prop_map(|((s, d, next, hop_limit), len, dscp, ecn, flow_label)| Ipv6Repr {
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

fn etherparse_ipv6(r: &Ipv6Repr) -> Ipv6Header {
    Ipv6Header {
        traffic_class: (r.dscp << 2) | r.ecn,
        flow_label: Ipv6FlowLabel::try_new(r.flow_label).unwrap(),
        payload_length: r.payload_len as u16,
        next_header: IpNumber(r.next_header.0),
        hop_limit: r.hop_limit,
        source: r.src.octets(),
        destination: r.dst.octets(),
    }
}

/// The body of an options header (after Next Header and Hdr Ext Len): options of action 00
/// (skipped by a receiver that does not know them), padded to 8-byte alignment.
fn options_body(options: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, data) in options {
        body.push(*kind);
        body.push(data.len() as u8);
        body.extend_from_slice(data);
    }
    match (8 - (body.len() + 2) % 8) % 8 {
        0 => {}
        1 => body.push(0),
        pad => {
            body.extend([1, pad as u8 - 2]);
            body.resize(body.len() + pad - 2, 0);
        }
    }
    body
}

fn arb_options() -> impl Strategy<Value = Vec<u8>> {
    // Types 2..=63: the two high bits 00, neither Pad1 nor PadN.
    prop::collection::vec((2u8..64, prop::collection::vec(any::<u8>(), 0..12)), 0..=8)
        .prop_map(|options| options_body(&options))
}

#[derive(Debug, Clone)]
struct Chain {
    hop_by_hop: Option<Vec<u8>>,
    dst_options: Option<Vec<u8>>,
    routing: Option<(u8, [u8; 16])>,
    final_dst_options: Option<Vec<u8>>,
    fragment: Option<(u16, bool, u32)>,
    upper: IpProtocol,
}

fn arb_chain() -> impl Strategy<Value = Chain> {
    (
        prop::option::of(arb_options()),
        prop::option::of(arb_options()),
        prop::option::of(any::<(u8, [u8; 16])>()),
        prop::option::of(arb_options()),
        prop::option::of((0u16..7000, any::<bool>(), any::<u32>())),
        prop::sample::select(vec![
            IpProtocol::TCP,
            IpProtocol::UDP,
            IpProtocol::ICMPV6,
            IpProtocol::NO_NEXT_HEADER,
        ]),
    )
        .prop_map(|(hop_by_hop, dst_options, routing, final_dst_options, fragment, upper)| {
            Chain {
                hop_by_hop,
                dst_options,
                final_dst_options: routing.and(final_dst_options),
                routing,
                fragment,
                upper,
            }
        })
}

impl Chain {
    fn extensions(&self) -> Ipv6Extensions {
        let raw = |body: &Vec<u8>| Ipv6RawExtHeader::new_raw(IpNumber(0), body).unwrap();
        Ipv6Extensions {
            hop_by_hop_options: self.hop_by_hop.as_ref().map(raw),
            destination_options: self.dst_options.as_ref().map(raw),
            routing: self.routing.map(|(routing_type, address)| {
                // Segments Left 0: a receiver skips it.
                let mut body = vec![routing_type, 0, 0, 0, 0, 0];
                body.extend(address);
                Ipv6RoutingExtensions {
                    routing: raw(&body),
                    final_destination_options: self.final_dst_options.as_ref().map(raw),
                }
            }),
            fragment: self.fragment.map(|(offset, more, ident)| Ipv6FragmentHeader {
                next_header: IpNumber(0),
                fragment_offset: IpFragOffset::try_new(offset).unwrap(),
                more_fragments: more,
                identification: ident,
            }),
            auth: None,
        }
    }
}

fn v6(a: [u8; 16]) -> Ipv6Addr {
    Ipv6Addr::from(a)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn ipv6_we_emit_etherparse_reads(repr in arb_ipv6()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        let (h, rest) = Ipv6Header::from_slice(&buf).unwrap();
        prop_assert_eq!(h.source, repr.src.octets());
        prop_assert_eq!(h.destination, repr.dst.octets());
        prop_assert_eq!(h.next_header.0, repr.next_header.0);
        prop_assert_eq!(h.payload_length as usize, repr.payload_len);
        prop_assert_eq!(h.hop_limit, repr.hop_limit);
        prop_assert_eq!(h.dscp().value(), repr.dscp);
        prop_assert_eq!(h.ecn().value(), repr.ecn);
        prop_assert_eq!(h.flow_label.value(), repr.flow_label);
        prop_assert_eq!(rest.len(), repr.payload_len);
    }

    #[test]
    fn ipv6_etherparse_emits_we_read(repr in arb_ipv6()) {
        let mut buf = etherparse_ipv6(&repr).to_bytes().to_vec();
        buf.resize(buf.len() + repr.payload_len, 0xa5);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr);
    }

    /// Chains etherparse writes in RFC 8200 §4.1's order (Hop-by-Hop, Destination Options,
    /// Routing, Fragment, Destination Options): the walk finds the upper layer where etherparse
    /// put it, and the fragment header etherparse wrote.
    #[test]
    fn extension_chains_etherparse_writes_we_walk(
        chain in arb_chain(),
        addrs in any::<([u8; 16], [u8; 16])>(),
        data_words in 3usize..40,
    ) {
        let mut exts = chain.extensions();
        let first = exts.set_next_headers(IpNumber(chain.upper.0));
        let mut payload = Vec::new();
        exts.write(&mut payload, first).unwrap();
        let ext_len = payload.len();
        prop_assert_eq!(ext_len, exts.header_len());
        payload.resize(ext_len + data_words * 8, 0x5a);
        let repr = Ipv6Repr {
            src: v6(addrs.0),
            dst: v6(addrs.1),
            next_header: IpProtocol(first.0),
            payload_len: payload.len(),
            hop_limit: 64,
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        buf[40..].copy_from_slice(&payload);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        let walked = p.walk_ext_headers(&ExtHeaderLimits::DEFAULT).unwrap();

        let unfragmentable = exts.hop_by_hop_options.as_ref().map_or(0, |h| h.header_len())
            + exts.destination_options.as_ref().map_or(0, |h| h.header_len())
            + exts.routing.as_ref().map_or(0, |r| r.routing.header_len());
        match &exts.fragment {
            Some(f) if f.fragment_offset.value() != 0 || f.more_fragments => {
                // A fragment to reassemble: the walk ends after its header.
                prop_assert!(walked.needs_reassembly());
                prop_assert_eq!(walked.offset, unfragmentable + 8);
                prop_assert_eq!(walked.protocol.0, f.next_header.0);
            }
            _ => {
                prop_assert!(!walked.needs_reassembly());
                prop_assert_eq!(walked.protocol, chain.upper);
                prop_assert_eq!(walked.offset, ext_len);
            }
        }
        if let Some(f) = &exts.fragment {
            let ours = walked.fragment.unwrap();
            prop_assert_eq!(ours.offset, unfragmentable);
            prop_assert_eq!(ours.repr.frag_offset, f.fragment_offset.byte_offset());
            prop_assert_eq!(ours.repr.more_frags, f.more_fragments);
            prop_assert_eq!(ours.repr.ident, f.identification);
            prop_assert_eq!(ours.repr.next_header.0, f.next_header.0);
        } else {
            prop_assert_eq!(walked.fragment, None);
        }
    }

    #[test]
    fn fragment_header_both_ways(next: u8, offset in 0u16..8192, more: bool, ident: u32) {
        let ours = Ipv6FragRepr { next_header: IpProtocol(next), frag_offset: offset * 8, more_frags: more, ident };
        let mut buf = [0u8; 8];
        ours.emit(&mut buf);
        let (theirs, _) = Ipv6FragmentHeader::from_slice(&buf).unwrap();
        prop_assert_eq!(theirs.next_header.0, next);
        prop_assert_eq!(theirs.fragment_offset.value(), offset);
        prop_assert_eq!((theirs.more_fragments, theirs.identification), (more, ident));
        prop_assert_eq!(&theirs.to_bytes()[..], &buf[..]);
        prop_assert_eq!(Ipv6FragRepr::parse(&theirs.to_bytes()), Ok(ours));
    }

    #[test]
    fn udp_over_ipv6_both_ways(
        src: [u8; 16],
        dst: [u8; 16],
        sport: u16,
        dport in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..1000),
    ) {
        let repr = UdpRepr { src_port: sport, dst_port: dport, payload: &payload };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpPacket::new_unchecked(&mut buf[..]), v6(src), v6(dst));
        let (h, rest) = UdpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!((h.source_port, h.destination_port), (sport, dport));
        prop_assert_eq!(h.checksum, h.calc_checksum_ipv6_raw(src, dst, &payload).unwrap());
        prop_assert_eq!(rest, &payload[..]);

        let ip = Ipv6Header { source: src, destination: dst, ..Default::default() };
        let eh = UdpHeader::with_ipv6_checksum(sport, dport, &ip, &payload).unwrap();
        let mut theirs = eh.to_bytes().to_vec();
        theirs.extend_from_slice(&payload);
        prop_assert_eq!(&theirs, &buf);
        let p = UdpPacket::new_checked(&theirs[..]).unwrap();
        prop_assert_eq!(UdpRepr::parse(&p, v6(src), v6(dst)).unwrap(), repr);
    }

    #[test]
    fn tcp_over_ipv6_both_ways(
        (src, dst) in any::<([u8; 16], [u8; 16])>(),
        (sport, dport, seq, ack, window) in any::<(u16, u16, u32, u32, u16)>(),
        flags in 0u16..0x200,
        (mss, window_scale, timestamps, sack_permitted) in any::<(Option<u16>, Option<u8>, Option<(u32, u32)>, bool)>(),
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let options = TcpOptions {
            mss,
            window_scale,
            sack_permitted,
            timestamps: timestamps.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            ..TcpOptions::default()
        };
        let repr = TcpRepr {
            src_port: sport,
            dst_port: dport,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: TcpFlags::from_bits_truncate(flags),
            window,
            urgent: 0,
            options,
            payload: &payload,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), v6(src), v6(dst));
        let (h, rest) = TcpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!((h.source_port, h.destination_port), (sport, dport));
        prop_assert_eq!((h.sequence_number, h.acknowledgment_number), (seq, ack));
        prop_assert_eq!(h.checksum, h.calc_checksum_ipv6_raw(src, dst, rest).unwrap());
        prop_assert_eq!(rest, &payload[..]);

        // etherparse builds the same header with its own checksum; we read it.
        let mut eh = h.clone();
        eh.checksum = 0;
        eh.checksum = eh.calc_checksum_ipv6_raw(src, dst, &payload).unwrap();
        let mut theirs = eh.to_bytes().to_vec();
        theirs.extend_from_slice(&payload);
        prop_assert_eq!(&theirs, &buf);
        let p = TcpPacket::new_checked(&theirs[..]).unwrap();
        prop_assert_eq!(TcpRepr::parse(&p, v6(src), v6(dst)), Ok(repr));
    }

    #[test]
    fn icmpv6_both_ways(
        (src, dst) in any::<([u8; 16], [u8; 16])>(),
        kind in 0u8..6,
        code in 0u8..11,
        (a, b, word) in any::<(u16, u16, u32)>(),
        quoted in arb_ipv6(),
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (ours, theirs_type) = match kind {
            0 => (
                Icmpv6Repr::EchoRequest { ident: a, seq_no: b, data: &data },
                Icmpv6Type::EchoRequest(IcmpEchoHeader { id: a, seq: b }),
            ),
            1 => (
                Icmpv6Repr::EchoReply { ident: a, seq_no: b, data: &data },
                Icmpv6Type::EchoReply(IcmpEchoHeader { id: a, seq: b }),
            ),
            2 => (
                Icmpv6Repr::DstUnreachable { reason: DstUnreachable::from_code(code % 7).unwrap(), header: quoted, data: &data },
                Icmpv6Type::DestinationUnreachable(DestUnreachableCode::from_u8(code % 7).unwrap()),
            ),
            3 => (
                Icmpv6Repr::PacketTooBig { mtu: word, header: quoted, data: &data },
                Icmpv6Type::PacketTooBig { mtu: word },
            ),
            4 => (
                Icmpv6Repr::TimeExceeded { reason: TimeExceeded::from_code(code % 2).unwrap(), header: quoted, data: &data },
                Icmpv6Type::TimeExceeded(TimeExceededCode::from_u8(code % 2).unwrap()),
            ),
            _ => (
                Icmpv6Repr::ParamProblem { reason: ParamProblem::from_code(code).unwrap(), pointer: word, header: quoted, data: &data },
                Icmpv6Type::ParameterProblem(ParameterProblemHeader {
                    code: ParameterProblemCode::from_u8(code).unwrap(),
                    pointer: word,
                }),
            ),
        };
        let mut buf = vec![0u8; ours.buffer_len()];
        ours.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), v6(src), v6(dst));
        let slice = Icmpv6Slice::from_slice(&buf).unwrap();
        prop_assert_eq!(slice.icmp_type(), theirs_type);
        prop_assert!(slice.is_checksum_valid(src, dst));
        if let Some((header, quoted_data)) = ours.quoted() {
            let (qh, qrest) = Ipv6Header::from_slice(slice.payload()).unwrap();
            prop_assert_eq!(qh, etherparse_ipv6(&header));
            prop_assert_eq!(qrest, quoted_data);
        }

        let eh = Icmpv6Header::with_checksum(theirs_type, src, dst, slice.payload()).unwrap();
        let mut theirs = eh.to_bytes().to_vec();
        theirs.extend_from_slice(slice.payload());
        prop_assert_eq!(&theirs, &buf);
        let p = Icmpv6Packet::new_checked(&theirs[..]).unwrap();
        prop_assert_eq!(Icmpv6Repr::parse(&p, v6(src), v6(dst)), Ok(ours));
    }
}
