//! ustack-wire's IPv6 against a Linux kernel, from a recording (tests/data/linux-ipv6.pcap,
//! made by tests/data/make-linux-ipv6.sh): probes written into a TUN device from fd00::2 to
//! the kernel at fd00::1, each with its number as flow label, the kernel's answers, and what
//! the kernel sent on its own. Checked here:
//!
//! - the extension header walk gives each probe the verdict the kernel gave it: the same
//!   Parameter Problem code and pointer, a silent discard where the kernel was silent, the
//!   upper layer where the kernel reached it;
//! - every packet the kernel sent parses (checksums verified) and re-emits byte for byte, and
//!   every error the kernel sent is what [`icmpv6::quote`] and emit make of the probe;
//! - the kernel's fragments reassemble to a UDP datagram whose IPv6 checksum verifies.

use std::collections::BTreeMap;
use std::path::Path;

use ustack_wire::icmpv6::{self, DstUnreachable, ParamProblem, TimeExceeded};
use ustack_wire::ipv6ext::ExtHeaderIter;
use ustack_wire::{
    ExtHeaderError, ExtHeaderLimits, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Addr, Ipv6Packet,
    Ipv6Repr, ParseError, TcpPacket, TcpRepr, UdpPacket, UdpRepr,
};

const KERNEL: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// The packets of the recording, in order (LINKTYPE_RAW: each record is an IPv6 packet).
fn recording() -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/linux-ipv6.pcap");
    let bytes = std::fs::read(path).unwrap();
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((le32(0), le32(20)), (0xa1b2c3d4, 101), "a little-endian LINKTYPE_RAW pcap");
    let mut packets = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let len = le32(at + 8) as usize;
        packets.push(bytes[at + 16..at + 16 + len].to_vec());
        at += 16 + len;
    }
    packets
}

fn view(p: &[u8]) -> Ipv6Packet<&[u8]> {
    Ipv6Packet::new_checked(p).unwrap()
}

/// The probes, by number (their flow label).
fn probes(packets: &[Vec<u8>]) -> BTreeMap<u32, &[u8]> {
    packets
        .iter()
        .filter(|p| view(p).src_addr() == PEER)
        .map(|p| (view(p).flow_label(), &p[..]))
        .collect()
}

/// The ICMPv6 messages the kernel sent: echo replies under 1 (the echo probe), errors under
/// the flow label of the probe they quote.
fn kernel_icmp(packets: &[Vec<u8>]) -> BTreeMap<u32, (Icmpv6Repr<'_>, &[u8])> {
    let mut out = BTreeMap::new();
    for p in packets.iter().filter(|p| view(p).src_addr() == KERNEL) {
        let v = view(p);
        if v.next_header() != IpProtocol::ICMPV6 {
            continue;
        }
        let message = &p[40..];
        let repr = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(message).unwrap(), KERNEL, PEER)
            .expect("the kernel's checksum verifies");
        let probe = repr.quoted().map_or(1, |(header, _)| header.flow_label);
        assert!(out.insert(probe, (repr, message)).is_none(), "one answer per probe");
    }
    out
}

/// What Linux did with each probe (the recording shows it; `linux_did_what_the_table_says`
/// checks that it does).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Linux {
    /// Reached the upper layer (answered with an echo reply, a port unreachable, a RST).
    Delivered,
    /// Answered with a Parameter Problem.
    Problem(ParamProblem, u32),
    /// Dropped without an answer.
    Silent,
    /// Held the fragment for reassembly, then answered Time Exceeded (reassembly).
    Reassembly,
}

const TABLE: [(u32, &str, Linux); 22] = {
    use Linux::*;
    use ParamProblem::*;
    [
        (1, "echo request", Delivered),
        (2, "UDP to a closed port", Delivered),
        (3, "Next Header 253", Problem(UnrecognizedNextHeader, 6)),
        (4, "option of action 00", Delivered),
        (5, "option of action 10", Problem(UnrecognizedOption, 42)),
        (6, "option of action 11", Problem(UnrecognizedOption, 42)),
        (7, "option of action 01", Silent),
        (8, "Hop-by-Hop after Destination Options", Problem(UnrecognizedNextHeader, 40)),
        (9, "Routing, Segments Left 1", Problem(ErroneousField, 42)),
        (10, "Routing, Segments Left 0", Delivered),
        (11, "fragment of 12 bytes with M set", Problem(ErroneousField, 4)),
        (12, "first fragment, chain cut", Problem(IncompleteChain, 0)),
        (13, "fragment past 65,535", Problem(ErroneousField, 42)),
        (14, "atomic fragment", Delivered),
        (15, "PadN not zero", Silent),
        (16, "eight Pad1", Silent),
        (17, "nine options", Silent),
        (18, "eight options", Delivered),
        (19, "Hop-by-Hop option of action 10", Problem(UnrecognizedOption, 42)),
        (20, "Router Alert", Delivered),
        (24, "first fragment alone", Reassembly),
        (25, "TCP SYN to a closed port", Delivered),
    ]
};

#[test]
fn linux_did_what_the_table_says() {
    let packets = recording();
    let icmp = kernel_icmp(&packets);
    let probes = probes(&packets);
    let rst = packets.iter().any(|p| {
        view(p).src_addr() == KERNEL
            && view(p).next_header() == IpProtocol::TCP
            && TcpPacket::new_checked(&p[40..]).unwrap().dst_port() == 40001
    });
    for (n, what, linux) in TABLE {
        assert!(probes.contains_key(&n), "probe {n} ({what}) recorded");
        let answer = icmp.get(&n).map(|(repr, _)| *repr);
        let seen = match answer {
            Some(Icmpv6Repr::ParamProblem { reason, pointer, .. }) => {
                Linux::Problem(reason, pointer)
            }
            Some(Icmpv6Repr::TimeExceeded { reason: TimeExceeded::Reassembly, .. }) => {
                Linux::Reassembly
            }
            Some(Icmpv6Repr::EchoReply { .. })
            | Some(Icmpv6Repr::DstUnreachable {
                reason: DstUnreachable::PortUnreachable, ..
            }) => Linux::Delivered,
            None if n == 25 && rst => Linux::Delivered,
            None => Linux::Silent,
            Some(other) => panic!("probe {n} ({what}): unexpected answer {other}"),
        };
        assert_eq!(seen, linux, "probe {n} ({what})");
    }
}

#[test]
fn walk_gives_each_probe_linux_s_verdict() {
    let packets = recording();
    let probes = probes(&packets);
    for (n, what, linux) in TABLE {
        let walked = view(probes[&n]).walk_ext_headers(&ExtHeaderLimits::DEFAULT);
        match (linux, walked) {
            (Linux::Delivered, Ok(chain)) => {
                assert!(!chain.needs_reassembly(), "probe {n} ({what})");
                let expected = [IpProtocol::TCP, IpProtocol::UDP, IpProtocol::ICMPV6];
                assert!(expected.contains(&chain.protocol), "probe {n} ({what}): {chain:?}");
            }
            (
                Linux::Problem(reason, pointer),
                Err(ExtHeaderError::ParamProblem { reason: r, pointer: p }),
            ) => {
                assert_eq!((r, p), (reason, pointer), "probe {n} ({what})");
            }
            (Linux::Silent, Err(ExtHeaderError::Discard(_))) => {}
            (Linux::Reassembly, Ok(chain)) => {
                assert!(chain.needs_reassembly(), "probe {n} ({what})")
            }
            (linux, ours) => panic!("probe {n} ({what}): Linux {linux:?}, ustack {ours:?}"),
        }
    }
    // The reasons for the silent ones.
    let discard =
        |n: u32| view(probes[&n]).walk_ext_headers(&ExtHeaderLimits::DEFAULT).unwrap_err();
    assert_eq!(discard(7), ExtHeaderError::Discard(ParseError::Unsupported));
    assert_eq!(discard(15), ExtHeaderError::Discard(ParseError::BadOption { kind: 1 }));
    assert_eq!(discard(16), ExtHeaderError::Discard(ParseError::BadOption { kind: 0 }));
    assert_eq!(discard(17), ExtHeaderError::Discard(ParseError::LimitExceeded));
}

/// What the kernel answered as a router: Packet Too Big (MTU 1280, quoting 1,232 bytes of a
/// 1,400-byte packet), Time Exceeded for hop limit 1, Destination Unreachable with no route.
#[test]
fn forwarding_errors_parse_as_linux_meant_them() {
    let packets = recording();
    let icmp = kernel_icmp(&packets);
    let probes = probes(&packets);
    match icmp[&21].0 {
        Icmpv6Repr::PacketTooBig { mtu, header, data } => {
            assert_eq!((mtu, header.payload_len, data.len()), (1280, 1360, 1192));
            assert_eq!(icmp[&21].1.len() + 40, 1280);
        }
        other => panic!("{other}"),
    }
    assert!(matches!(icmp[&22].0, Icmpv6Repr::TimeExceeded { reason: TimeExceeded::HopLimit, .. }));
    assert!(matches!(
        icmp[&23].0,
        Icmpv6Repr::DstUnreachable { reason: DstUnreachable::NoRoute, .. }
    ));
    assert!(probes.contains_key(&21) && probes.contains_key(&22) && probes.contains_key(&23));
}

/// Every error the kernel sent is, byte for byte, what ustack builds from the probe it is
/// about: [`icmpv6::quote`] takes as much as Linux takes, emit lays it out as Linux does.
#[test]
fn errors_linux_sent_are_what_quote_and_emit_make() {
    let packets = recording();
    let icmp = kernel_icmp(&packets);
    let probes = probes(&packets);
    let mut errors = 0;
    for (n, (repr, bytes)) in &icmp {
        let Some((linux_header, linux_data)) = repr.quoted() else { continue };
        let (header, data) = icmpv6::quote(probes[n]).unwrap();
        assert_eq!((header, data), (linux_header, linux_data), "probe {n}");
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), KERNEL, PEER);
        assert_eq!(&out, bytes, "probe {n}");
        errors += 1;
    }
    assert_eq!(errors, 19);
}

#[test]
fn every_packet_linux_sent_parses_and_reemits_byte_for_byte() {
    let packets = recording();
    let (mut icmp, mut tcp, mut udp, mut fragments) = (0, 0, 0, 0);
    for p in packets.iter().filter(|p| view(p).src_addr() == KERNEL) {
        let v = view(p);
        let repr = Ipv6Repr::parse(&v).unwrap();
        let mut header = [0u8; 40];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut header[..]));
        assert_eq!(header, p[..40]);
        let chain = v.walk_ext_headers(&ExtHeaderLimits::DEFAULT).unwrap();
        let upper = &v.payload()[chain.offset..];
        if chain.needs_reassembly() {
            fragments += 1;
            continue;
        }
        let mut out = vec![0u8; upper.len()];
        match chain.protocol {
            IpProtocol::ICMPV6 => {
                let m = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(upper).unwrap(), KERNEL, PEER)
                    .unwrap();
                m.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), KERNEL, PEER);
                icmp += 1;
            }
            IpProtocol::TCP => {
                let s =
                    TcpRepr::parse(&TcpPacket::new_checked(upper).unwrap(), KERNEL, PEER).unwrap();
                s.emit(&mut TcpPacket::new_unchecked(&mut out[..]), KERNEL, PEER);
                tcp += 1;
            }
            IpProtocol::UDP => {
                let d =
                    UdpRepr::parse(&UdpPacket::new_checked(upper).unwrap(), KERNEL, PEER).unwrap();
                d.emit(&mut UdpPacket::new_unchecked(&mut out[..]), KERNEL, PEER);
                udp += 1;
            }
            other => panic!("the kernel sent {other}"),
        }
        assert_eq!(out, upper);
    }
    assert_eq!((icmp, tcp, udp, fragments), (20, 2, 1, 3));
}

/// The kernel fragmented a 3,080-byte UDP datagram for a 1,500-byte link (RFC 8200 §4.5):
/// three fragments with one identification, data in multiples of 8 but the last; put back
/// together, the UDP checksum over the IPv6 pseudo-header verifies.
#[test]
fn fragments_linux_sent_reassemble_to_a_datagram_that_verifies() {
    let packets = recording();
    let mut pieces = Vec::new();
    for p in packets.iter().filter(|p| view(p).src_addr() == KERNEL) {
        let v = view(p);
        let chain = v.walk_ext_headers(&ExtHeaderLimits::DEFAULT).unwrap();
        if let Some(f) = chain.fragment.filter(|_| chain.needs_reassembly()) {
            assert_eq!((f.offset, f.next_header_field, chain.protocol), (0, 6, IpProtocol::UDP));
            pieces.push((f.repr, v.payload()[f.data_offset()..].to_vec()));
        }
    }
    pieces.sort_by_key(|(f, _)| f.frag_offset);
    assert_eq!(pieces.len(), 3);
    assert!(pieces.iter().all(|(f, _)| f.ident == pieces[0].0.ident));
    let mut datagram = Vec::new();
    for (i, (f, data)) in pieces.iter().enumerate() {
        assert_eq!(f.frag_offset as usize, datagram.len());
        assert_eq!(f.more_frags, i < 2);
        if f.more_frags {
            assert_eq!(data.len() % 8, 0);
        }
        datagram.extend_from_slice(data);
    }
    assert_eq!(datagram.len(), 3080);
    // The first fragment holds the UDP header, as RFC 7112 asks.
    let (protocol, at) = ExtHeaderIter::new(IpProtocol::UDP, &datagram).upper_layer().unwrap();
    assert_eq!((protocol, at), (IpProtocol::UDP, 0));
    let d = UdpRepr::parse(&UdpPacket::new_checked(&datagram[..]).unwrap(), KERNEL, PEER).unwrap();
    let expected: Vec<u8> = (0..12).flat_map(|_| 0..=255u8).collect();
    assert_eq!((d.dst_port, d.payload), (9, &expected[..]));
}
