//! Tests of the extension header walk. Expected answers are RFC 8200's, and Linux's where the
//! RFC leaves a choice; tests/linux_ipv6.rs checks the same verdicts against what a Linux
//! kernel answered to the same packets.

use super::*;
use crate::icmpv6::ParamProblem as Pp;
use crate::ipv6::tests::{FD00_1, packet_to};
use core::net::Ipv6Addr;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A Hop-by-Hop or Destination Options header holding `options`, padded to 8 bytes.
fn opts(next: IpProtocol, options: &[u8]) -> Vec<u8> {
    let mut h = vec![next.0, 0];
    h.extend_from_slice(options);
    match (8 - h.len() % 8) % 8 {
        0 => {}
        1 => h.push(OPT_PAD1),
        pad => {
            h.extend([OPT_PADN, pad as u8 - 2]);
            h.resize(h.len() + pad - 2, 0);
        }
    }
    h[1] = (h.len() / 8 - 1) as u8;
    h
}

/// A UDP header and four bytes (the walk does not look at them).
const UDP: [u8; 12] = [0x9c, 0x40, 0, 9, 0, 12, 0, 0, 1, 2, 3, 4];

fn frag(next: IpProtocol, offset: u16, more: bool, ident: u32) -> Vec<u8> {
    let mut h = vec![0u8; 8];
    Ipv6FragRepr { next_header: next, frag_offset: offset, more_frags: more, ident }.emit(&mut h);
    h
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn walk_to(dst: Ipv6Addr, first: IpProtocol, payload: &[u8]) -> Result<Ipv6Chain, ExtHeaderError> {
    let bytes = packet_to(dst, first, payload);
    Ipv6Packet::new_checked(&bytes[..]).unwrap().walk_ext_headers(&ExtHeaderLimits::DEFAULT)
}

fn walk(first: IpProtocol, payload: &[u8]) -> Result<Ipv6Chain, ExtHeaderError> {
    walk_to(FD00_1, first, payload)
}

fn problem(reason: Pp, pointer: u32) -> Result<Ipv6Chain, ExtHeaderError> {
    Err(ExtHeaderError::ParamProblem { reason, pointer })
}

fn discard(e: ParseError) -> Result<Ipv6Chain, ExtHeaderError> {
    Err(ExtHeaderError::Discard(e))
}

fn upper(protocol: IpProtocol, offset: usize, protocol_field: usize) -> Ipv6Chain {
    Ipv6Chain { protocol, offset, protocol_field, fragment: None }
}

#[test]
fn no_extension_header_is_the_upper_layer_at_once() {
    for p in [IpProtocol::TCP, IpProtocol::UDP, IpProtocol::ICMPV6, IpProtocol::NO_NEXT_HEADER] {
        assert_eq!(walk(p, &UDP), Ok(upper(p, 0, 6)));
    }
}

#[test]
fn options_headers_are_walked_to_the_upper_layer() {
    let hbh = opts(IpProtocol::DST_OPTIONS, &[]);
    let dst = opts(IpProtocol::UDP, &[0x1e, 2, 0, 0]);
    let chain = walk(IpProtocol::HOP_BY_HOP, &cat(&[&hbh, &dst, &UDP])).unwrap();
    // The UDP header starts after 16 bytes; the Destination Options header (at packet
    // byte 48) names it.
    assert_eq!(chain, upper(IpProtocol::UDP, 16, 48));
    assert!(!chain.needs_reassembly());
}

/// RFC 8200 §4: "If ... the Next Header value in the current header is unrecognized by the
/// node, it should discard the packet and send an ICMP Parameter Problem message ... Code 1
/// ... Pointer field containing the offset of the unrecognized value within the original
/// packet."
#[test]
fn unrecognized_next_header_points_at_the_field_naming_it() {
    assert_eq!(walk(IpProtocol(253), &[0; 8]), problem(Pp::UnrecognizedNextHeader, 6));
    // AH and ESP are not handled by ustack either.
    assert_eq!(walk(IpProtocol(51), &[0; 16]), problem(Pp::UnrecognizedNextHeader, 6));
    let dst = opts(IpProtocol(50), &[]);
    assert_eq!(
        walk(IpProtocol::DST_OPTIONS, &cat(&[&dst, &[0; 8]])),
        problem(Pp::UnrecognizedNextHeader, 40)
    );
}

/// RFC 8200 §4: "The same action should be taken if a node encounters a Next Header value of
/// zero in any header other than an IPv6 header." The pointer is that zero's offset.
#[test]
fn hop_by_hop_anywhere_but_first_is_an_unrecognized_next_header() {
    let payload = cat(&[&opts(IpProtocol::HOP_BY_HOP, &[]), &opts(IpProtocol::UDP, &[]), &UDP]);
    assert_eq!(walk(IpProtocol::DST_OPTIONS, &payload), problem(Pp::UnrecognizedNextHeader, 40));
    // Even when the misplaced header itself is cut short.
    let cut = opts(IpProtocol::HOP_BY_HOP, &[]);
    assert_eq!(walk(IpProtocol::DST_OPTIONS, &cut), problem(Pp::UnrecognizedNextHeader, 40));
}

/// RFC 8200 §4.2: the two high bits of an unrecognized option's type say what to do.
#[test]
fn unrecognized_options_follow_their_action_bits() {
    for (first, header) in
        [(IpProtocol::HOP_BY_HOP, "hop-by-hop"), (IpProtocol::DST_OPTIONS, "dst")]
    {
        let with = |kind: u8| cat(&[&opts(IpProtocol::UDP, &[kind, 2, 0, 0]), &UDP]);
        // 00: skip over this option and continue processing the header.
        assert_eq!(walk(first, &with(0x1e)), Ok(upper(IpProtocol::UDP, 8, 40)), "{header}");
        // 01: discard the packet.
        assert_eq!(walk(first, &with(0x5e)), discard(ParseError::Unsupported), "{header}");
        // 10: discard and send code 2 pointing at the option type, multicast or not.
        assert_eq!(walk(first, &with(0x9e)), problem(Pp::UnrecognizedOption, 42), "{header}");
        assert_eq!(walk_to(ALL_NODES, first, &with(0x9e)), problem(Pp::UnrecognizedOption, 42));
        // 11: the same "only if the packet's Destination Address was not a multicast address".
        assert_eq!(walk(first, &with(0xde)), problem(Pp::UnrecognizedOption, 42), "{header}");
        assert_eq!(walk_to(ALL_NODES, first, &with(0xde)), discard(ParseError::Unsupported));
    }
    // The pointer is the offset of the offending option, past the ones skipped.
    let payload = cat(&[&opts(IpProtocol::UDP, &[0x1e, 0, 0x1e, 1, 0, 0xc2, 4, 0, 0, 0, 0]), &UDP]);
    assert_eq!(walk(IpProtocol::HOP_BY_HOP, &payload), problem(Pp::UnrecognizedOption, 47));
}

/// Linux's `ip6_parse_tlv`: at most 7 bytes of padding in a row, PadN bytes all zero (RFC 4942
/// §2.1.9.5); otherwise the packet is dropped without an answer.
#[test]
fn padding_is_bounded_and_zero() {
    let seven = [OPT_PAD1, OPT_PAD1, OPT_PADN, 3, 0, 0, 0];
    let header = cat(&[&[IpProtocol::UDP.0, 1], &seven, &[0x1e, 5, 0, 0, 0, 0, 0]]);
    assert_eq!(
        walk(IpProtocol::DST_OPTIONS, &cat(&[&header, &UDP])),
        Ok(upper(IpProtocol::UDP, 16, 40))
    );

    let eight_pad1 = cat(&[&[IpProtocol::UDP.0, 1], &[OPT_PAD1; 8], &[OPT_PADN, 4, 0, 0, 0, 0]]);
    let e = walk(IpProtocol::DST_OPTIONS, &cat(&[&eight_pad1, &UDP]));
    assert_eq!(e, discard(ParseError::BadOption { kind: OPT_PAD1 }));

    let eight_padn =
        cat(&[&[IpProtocol::UDP.0, 1], &[OPT_PADN, 6], &[0; 6], &[0x1e, 4, 0, 0, 0, 0]]);
    let e = walk(IpProtocol::DST_OPTIONS, &cat(&[&eight_padn, &UDP]));
    assert_eq!(e, discard(ParseError::BadOption { kind: OPT_PADN }));

    let long_padn = cat(&[&[IpProtocol::UDP.0, 1], &[OPT_PADN, 12], &[0; 12]]);
    let e = walk(IpProtocol::DST_OPTIONS, &cat(&[&long_padn, &UDP]));
    assert_eq!(e, discard(ParseError::BadOption { kind: OPT_PADN }));

    let dirty = [IpProtocol::UDP.0, 0, OPT_PADN, 4, 0, 0, 0, 7];
    let e = walk(IpProtocol::HOP_BY_HOP, &cat(&[&dirty, &UDP]));
    assert_eq!(e, discard(ParseError::BadOption { kind: OPT_PADN }));
}

#[test]
fn an_option_past_its_header_is_malformed() {
    let header = [IpProtocol::UDP.0, 0, 0x1e, 5, 0, 0, 0, 0];
    let e = walk(IpProtocol::DST_OPTIONS, &cat(&[&header, &UDP]));
    assert_eq!(e, discard(ParseError::BadOption { kind: 0x1e }));
    // A type byte last, with no room for its length.
    let header = [IpProtocol::UDP.0, 0, OPT_PADN, 2, 0, 0, OPT_PAD1, 0x1e];
    let e = walk(IpProtocol::DST_OPTIONS, &cat(&[&header, &UDP]));
    assert_eq!(e, discard(ParseError::BadOption { kind: 0x1e }));
}

/// Linux's `net.ipv6.max_dst_opts_number` and `max_hbh_opts_number`, 8 by default, count the
/// options other than padding.
#[test]
fn options_per_header_are_limited() {
    let eight = cat(&[&opts(IpProtocol::UDP, &[0x1e, 0].repeat(8)), &UDP]);
    let nine = cat(&[&opts(IpProtocol::UDP, &[0x1e, 0].repeat(9)), &UDP]);
    for first in [IpProtocol::HOP_BY_HOP, IpProtocol::DST_OPTIONS] {
        assert!(walk(first, &eight).is_ok());
        assert_eq!(walk(first, &nine), discard(ParseError::LimitExceeded));
    }
    // Each limit applies to its own header.
    let bytes = packet_to(FD00_1, IpProtocol::HOP_BY_HOP, &eight);
    let p = Ipv6Packet::new_checked(&bytes[..]).unwrap();
    let tight_dst = ExtHeaderLimits { max_dst_options: 1, ..ExtHeaderLimits::DEFAULT };
    assert!(p.walk_ext_headers(&tight_dst).is_ok());
    let tight_hbh = ExtHeaderLimits { max_hbh_options: 7, ..ExtHeaderLimits::DEFAULT };
    assert_eq!(p.walk_ext_headers(&tight_hbh), discard(ParseError::LimitExceeded));
}

#[test]
fn headers_per_chain_are_limited() {
    let chain = |n: usize| {
        let mut payload = Vec::new();
        for _ in 1..n {
            payload.extend(opts(IpProtocol::DST_OPTIONS, &[]));
        }
        payload.extend(opts(IpProtocol::UDP, &[]));
        payload.extend(UDP);
        payload
    };
    assert_eq!(walk(IpProtocol::DST_OPTIONS, &chain(8)), Ok(upper(IpProtocol::UDP, 64, 96)));
    assert_eq!(walk(IpProtocol::DST_OPTIONS, &chain(9)), discard(ParseError::LimitExceeded));
}

#[test]
fn a_header_past_the_payload_is_truncated() {
    // Hdr Ext Len 1 claims 16 bytes; 8 are there.
    let e = walk(IpProtocol::DST_OPTIONS, &[IpProtocol::UDP.0, 1, OPT_PADN, 4, 0, 0, 0, 0]);
    assert_eq!(e, discard(ParseError::Truncated));
    assert_eq!(walk(IpProtocol::FRAGMENT, &[17, 0, 0, 0]), discard(ParseError::Truncated));
    assert_eq!(walk(IpProtocol::ROUTING, &[17]), discard(ParseError::Truncated));
    // A payload length of zero with Hop-by-Hop next is a jumbogram (RFC 2675), not supported.
    assert_eq!(walk(IpProtocol::HOP_BY_HOP, &[]), discard(ParseError::Truncated));
}

/// RFC 8200 §4.4: with Segments Left zero "the node must ignore the Routing header and proceed
/// to process the next header"; non-zero with an unrecognized Routing Type "discard the packet
/// and send an ICMP Parameter Problem, Code 0 ... pointing to the unrecognized Routing Type".
/// ustack forwards nothing, so it recognizes no type (RFC 5095 for type 0).
#[test]
fn routing_headers_are_skipped_only_when_used_up() {
    let mut rh = vec![IpProtocol::UDP.0, 2, 0, 0, 0, 0, 0, 0];
    rh.extend(FD00_1.octets());
    assert_eq!(walk(IpProtocol::ROUTING, &cat(&[&rh, &UDP])), Ok(upper(IpProtocol::UDP, 24, 40)));
    for routing_type in [0, 2, 3, 4, 253] {
        rh[2] = routing_type;
        rh[3] = 1;
        assert_eq!(walk(IpProtocol::ROUTING, &cat(&[&rh, &UDP])), problem(Pp::ErroneousField, 42));
    }
}

/// RFC 6946: an atomic fragment (offset 0, M clear) is processed in isolation.
#[test]
fn an_atomic_fragment_is_walked_through() {
    let payload = cat(&[&frag(IpProtocol::UDP, 0, false, 7), &UDP]);
    let chain = walk(IpProtocol::FRAGMENT, &payload).unwrap();
    assert_eq!((chain.protocol, chain.offset, chain.protocol_field), (IpProtocol::UDP, 8, 40));
    let f = chain.fragment.unwrap();
    assert!(f.repr.is_atomic() && !chain.needs_reassembly());
    assert_eq!((f.offset, f.next_header_field), (0, 6));
}

#[test]
fn a_fragment_ends_the_walk_where_its_data_starts() {
    // Hop-by-Hop (unfragmentable), then a middle fragment.
    let hbh = opts(IpProtocol::FRAGMENT, &[]);
    let payload = cat(&[&hbh, &frag(IpProtocol::DST_OPTIONS, 1448, true, 0xefd5fe93), &[0x55; 16]]);
    let chain = walk(IpProtocol::HOP_BY_HOP, &payload).unwrap();
    assert!(chain.needs_reassembly());
    assert_eq!(
        (chain.protocol, chain.offset, chain.protocol_field),
        (IpProtocol::DST_OPTIONS, 16, 48)
    );
    let f = chain.fragment.unwrap();
    assert_eq!(
        f.repr,
        Ipv6FragRepr {
            next_header: IpProtocol::DST_OPTIONS,
            frag_offset: 1448,
            more_frags: true,
            ident: 0xefd5fe93
        }
    );
    // The unfragmentable part is the Hop-by-Hop header; the fixed header's Next Header names
    // it, and the Hop-by-Hop header's names the fragment header (packet byte 40).
    assert_eq!((f.offset, f.data_offset(), f.next_header_field), (8, 16, 40));
}

/// RFC 8200 §4.5 and RFC 7112: a first fragment must hold every header through the
/// upper-layer header, else "ICMP Parameter Problem, Code 3 ... with the Pointer field set to
/// zero". How much of the upper-layer header must be there is Linux's measure.
#[test]
fn a_first_fragment_must_hold_the_whole_chain() {
    let first = |next: IpProtocol, data: &[u8]| {
        walk(IpProtocol::FRAGMENT, &cat(&[&frag(next, 0, true, 1), data]))
    };
    assert!(first(IpProtocol::TCP, &[0; 24]).is_ok());
    assert_eq!(first(IpProtocol::TCP, &[0; 16]), problem(Pp::IncompleteChain, 0));
    assert!(first(IpProtocol::UDP, &[0; 8]).is_ok());
    assert!(first(IpProtocol::ICMPV6, &[0; 8]).is_ok());
    assert!(first(IpProtocol::NO_NEXT_HEADER, &[]).is_ok());
    assert_eq!(first(IpProtocol(132), &[]), problem(Pp::IncompleteChain, 0));
    // The chain stops inside the fragment: a Destination Options header naming TCP, then
    // nothing.
    let dst = opts(IpProtocol::TCP, &[]);
    assert_eq!(first(IpProtocol::DST_OPTIONS, &dst), problem(Pp::IncompleteChain, 0));
    assert!(first(IpProtocol::DST_OPTIONS, &cat(&[&dst, &[0; 24]])).is_ok());
    // A header cut short in the fragment.
    assert_eq!(
        first(IpProtocol::DST_OPTIONS, &[6, 2, 0, 0, 0, 0, 0, 0]),
        problem(Pp::IncompleteChain, 0)
    );
    // A later fragment is not checked: its data is not the start of the chain.
    let later = walk(IpProtocol::FRAGMENT, &cat(&[&frag(IpProtocol::TCP, 8, true, 1), &[0; 8]]));
    assert!(later.is_ok());
}

/// RFC 8200 §4.5: "If the length of a fragment, as derived from the fragment packet's Payload
/// Length field, is not a multiple of 8 octets and the M flag of that fragment is 1, then that
/// fragment must be discarded and an ICMP Parameter Problem, Code 0, message should be sent to
/// the source of the fragment, pointing to the Payload Length field of the fragment packet."
#[test]
fn a_fragment_with_more_to_come_is_a_multiple_of_8() {
    let with = |more: bool, len: usize| {
        walk(IpProtocol::FRAGMENT, &cat(&[&frag(IpProtocol::UDP, 16, more, 1), &vec![0; len]]))
    };
    assert_eq!(with(true, 12), problem(Pp::ErroneousField, 4));
    assert!(with(true, 16).is_ok());
    // The last fragment may end anywhere.
    assert!(with(false, 12).is_ok());
}

/// RFC 8200 §4.5: "If the length and offset of a fragment are such that the Payload Length of
/// the packet reassembled from that fragment would exceed 65,535 octets, then that fragment
/// must be discarded and an ICMP Parameter Problem, Code 0, message should be sent ...
/// pointing to the Fragment Offset field of the fragment packet."
#[test]
fn a_fragment_may_not_reach_past_65535_bytes() {
    let last = |offset: u16, len: usize| {
        walk(IpProtocol::FRAGMENT, &cat(&[&frag(IpProtocol::UDP, offset, false, 1), &vec![0; len]]))
    };
    assert!(last(65528, 7).is_ok());
    assert_eq!(last(65528, 8), problem(Pp::ErroneousField, 42));
    // The reassembled payload counts the unfragmentable extension headers too (Linux counts
    // only the fragmentable part, and would let this one through).
    let hbh = opts(IpProtocol::FRAGMENT, &[]);
    let payload = cat(&[&hbh, &frag(IpProtocol::UDP, 65520, false, 1), &[0; 8]]);
    assert_eq!(walk(IpProtocol::HOP_BY_HOP, &payload), problem(Pp::ErroneousField, 50));
}

#[test]
fn fragment_header_reads_a_kernel_one() {
    // The second fragment of a 3,080-byte UDP datagram from Linux (tests/data/linux-ipv6.pcap).
    let bytes = [0x11, 0x00, 0x05, 0xa9, 0xef, 0xd5, 0xfe, 0x93];
    let repr = Ipv6FragRepr::parse(&bytes).unwrap();
    assert_eq!(
        repr,
        Ipv6FragRepr {
            next_header: IpProtocol::UDP,
            frag_offset: 1448,
            more_frags: true,
            ident: 0xefd5fe93
        }
    );
    let mut out = [0u8; 8];
    repr.emit(&mut out);
    assert_eq!(out, bytes);
    assert_eq!(std::format!("{repr}"), "frag (id 0xefd5fe93, offset 1448+)");
    // Reserved fields are ignored on receipt and written as zero.
    let dirty = [0x11, 0xff, 0x05, 0xaf, 0xef, 0xd5, 0xfe, 0x93];
    assert_eq!(Ipv6FragRepr::parse(&dirty).unwrap(), repr);
    assert_eq!(Ipv6FragRepr::parse(&bytes[..7]), Err(ParseError::Truncated));
}

#[test]
fn iter_yields_each_header_and_stops_at_the_upper_layer() {
    let hbh = opts(IpProtocol::ROUTING, &[]);
    let rh = [IpProtocol::DST_OPTIONS.0, 0, 0, 0, 0, 0, 0, 0];
    let dst = opts(IpProtocol::TCP, &[0x1e, 0]);
    let payload = cat(&[&hbh, &rh, &dst, &[0; 20]]);
    let mut it = ExtHeaderIter::new(IpProtocol::HOP_BY_HOP, &payload);
    let kinds: Vec<_> =
        it.by_ref().map(|h| h.map(|h| (h.kind(), h.offset(), h.bytes().len()))).collect();
    assert_eq!(
        kinds,
        [
            Ok((IpProtocol::HOP_BY_HOP, 0, 8)),
            Ok((IpProtocol::ROUTING, 8, 8)),
            Ok((IpProtocol::DST_OPTIONS, 16, 8))
        ]
    );
    assert_eq!(it.pending(), (IpProtocol::TCP, 24));
    assert_eq!(
        ExtHeaderIter::new(IpProtocol::HOP_BY_HOP, &payload).upper_layer(),
        Ok((IpProtocol::TCP, 24))
    );
    // Truncated once, then the end.
    let mut cut = ExtHeaderIter::new(IpProtocol::HOP_BY_HOP, &payload[..12]);
    assert!(cut.next().unwrap().is_ok());
    assert_eq!(cut.next(), Some(Err(ParseError::Truncated)));
    assert_eq!(cut.next(), None);
    // A later fragment's data is not the upper layer: upper_layer stops at its header.
    let later = cat(&[&frag(IpProtocol::UDP, 8, false, 1), &UDP]);
    assert_eq!(
        ExtHeaderIter::new(IpProtocol::FRAGMENT, &later).upper_layer(),
        Ok((IpProtocol::FRAGMENT, 0))
    );
    let first = cat(&[&frag(IpProtocol::UDP, 0, true, 1), &UDP]);
    assert_eq!(
        ExtHeaderIter::new(IpProtocol::FRAGMENT, &first).upper_layer(),
        Ok((IpProtocol::UDP, 8))
    );
}

#[test]
fn errors_have_names_and_text() {
    let e = ExtHeaderError::ParamProblem { reason: Pp::UnrecognizedNextHeader, pointer: 6 };
    assert_eq!(e.name(), "param_problem_next_header");
    assert_eq!(std::format!("{e}"), "parameter problem: unrecognized next header at byte 6");
    let d = ExtHeaderError::Discard(ParseError::LimitExceeded);
    assert_eq!(d.name(), "limit_exceeded");
    assert_eq!(std::format!("{d}"), "discarded: over a parsing limit");
}

fn arb_header() -> impl Strategy<Value = (IpProtocol, Vec<u8>)> {
    prop_oneof![
        (proptest::collection::vec(any::<u8>(), 0..20)).prop_map(|o| (IpProtocol::HOP_BY_HOP, o)),
        (proptest::collection::vec(any::<u8>(), 0..20)).prop_map(|o| (IpProtocol::DST_OPTIONS, o)),
        (0u8..5, 0u8..2)
            .prop_map(|(t, left)| (IpProtocol::ROUTING, vec![0, 0, t, left, 0, 0, 0, 0])),
        (0u16..8192, any::<bool>())
            .prop_map(|(o, m)| (IpProtocol::FRAGMENT, frag(IpProtocol::UDP, o << 3, m, 9))),
    ]
}

proptest! {
    /// Chains of real-looking headers with random options: the walk never panics, and what it
    /// returns stays inside the payload.
    #[test]
    fn random_chains_never_panic(
        headers in proptest::collection::vec(arb_header(), 0..10),
        last in prop_oneof![Just(6u8), Just(17), Just(58), Just(59), any::<u8>()],
        tail in proptest::collection::vec(any::<u8>(), 0..40),
        multicast: bool,
    ) {
        let kinds: Vec<IpProtocol> = headers.iter().map(|(k, _)| *k).collect();
        let mut payload = Vec::new();
        for (i, (kind, body)) in headers.iter().enumerate() {
            let next = kinds.get(i + 1).copied().unwrap_or(IpProtocol(last));
            let mut h = if *kind == IpProtocol::FRAGMENT || *kind == IpProtocol::ROUTING {
                body.clone()
            } else {
                let mut h = vec![0, 0];
                h.extend_from_slice(body);
                h.resize(h.len().div_ceil(8) * 8, 0);
                h[1] = (h.len() / 8 - 1) as u8;
                h
            };
            h[0] = next.0;
            payload.extend(h);
        }
        payload.extend(tail);
        let first = kinds.first().copied().unwrap_or(IpProtocol(last));
        let dst = if multicast { ALL_NODES } else { FD00_1 };
        let bytes = packet_to(dst, first, &payload);
        let p = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        match p.walk_ext_headers(&ExtHeaderLimits::DEFAULT) {
            Ok(chain) => {
                prop_assert!(chain.offset <= payload.len());
                prop_assert!(chain.protocol_field < 40 + payload.len());
                if !chain.needs_reassembly() {
                    prop_assert!([6, 17, 58, 59].contains(&chain.protocol.0));
                }
            }
            Err(ExtHeaderError::ParamProblem { pointer, .. }) => {
                prop_assert!((pointer as usize) < bytes.len());
            }
            Err(ExtHeaderError::Discard(_)) => {}
        }
        let _ = ExtHeaderIter::new(first, &payload).upper_layer();
    }

    #[test]
    fn fragment_header_round_trip(next: u8, offset in 0u16..8192, more: bool, ident: u32) {
        let repr = Ipv6FragRepr { next_header: IpProtocol(next), frag_offset: offset << 3, more_frags: more, ident };
        let mut out = [0u8; 8];
        repr.emit(&mut out);
        prop_assert_eq!(Ipv6FragRepr::parse(&out), Ok(repr));
    }
}
