//! One line per IP packet, tcpdump style, from ustack's own parsers.

use std::fmt::Write as _;

use ustack::wire::ipv6ext::ExtHeaderIter;
use ustack::wire::{
    Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Addr,
    Ipv6FragRepr, Ipv6Packet, Ipv6Repr, ParseError, PseudoHeader, TcpPacket, TcpRepr, UdpPacket,
    UdpRepr,
};

/// What became of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every layer parsed.
    Decoded,
    /// A layer failed to parse, for this reason.
    Error(ParseError),
    /// Not IP, or a protocol ustack does not parse.
    Skipped,
}

/// Describes a raw IP packet in one line.
pub(crate) fn describe(packet: &[u8]) -> (String, Outcome) {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {}
        Some(6) => return describe_ipv6(packet),
        _ => return (format!("not IP, length {}", packet.len()), Outcome::Skipped),
    }
    let ip = match Ipv4Packet::new_checked(packet) {
        Ok(ip) => ip,
        Err(e) => return (format!("IPv4: {e}"), Outcome::Error(e)),
    };
    let repr = match Ipv4Repr::parse(&ip) {
        Ok(r) => r,
        Err(e) => {
            let line = format!("{} > {}: IPv4 {e}", ip.src_addr(), ip.dst_addr());
            return (line, Outcome::Error(e));
        }
    };
    let (src, dst) = (repr.src, repr.dst);
    let mut line = String::new();
    let outcome = if repr.is_fragment() {
        let _ = write!(line, "{repr}");
        Outcome::Decoded
    } else {
        match repr.protocol {
            IpProtocol::TCP | IpProtocol::UDP => {
                match transport(&mut line, repr.protocol, ip.payload(), src, dst) {
                    Ok(()) => Outcome::Decoded,
                    Err(e) => error_line(&mut line, &repr, e),
                }
            }
            IpProtocol::ICMP => match Icmpv4Packet::new_checked(ip.payload())
                .and_then(|p| Icmpv4Repr::parse(&p).map(|r| r.to_string()))
            {
                Ok(text) => {
                    let _ = write!(line, "{src} > {dst}: {text}");
                    Outcome::Decoded
                }
                Err(ParseError::Unsupported) => {
                    let ty = ip.payload().first().copied().unwrap_or(0);
                    let _ = write!(line, "{src} > {dst}: ICMP type {ty} (not decoded)");
                    Outcome::Skipped
                }
                Err(e) => error_line(&mut line, &repr, e),
            },
            other => {
                let _ = write!(
                    line,
                    "{src} > {dst}: {other}, length {} (not decoded)",
                    repr.payload_len
                );
                Outcome::Skipped
            }
        }
    };
    (line, outcome)
}

/// Writes the line of a TCP or UDP packet from `src` to `dst`: `src.sport > dst.dport: ...`.
fn transport<A: PseudoHeader + std::fmt::Display>(
    line: &mut String,
    protocol: IpProtocol,
    payload: &[u8],
    src: A,
    dst: A,
) -> Result<(), ParseError> {
    if protocol == IpProtocol::TCP {
        let text = TcpRepr::parse(&TcpPacket::new_checked(payload)?, src, dst)?.to_string();
        // TcpRepr's line starts `sport > dport: `; put the addresses in front.
        let (ports, rest) = text.split_once(": ").unwrap_or(("", &text));
        let (sport, dport) = ports.split_once(" > ").unwrap_or(("?", "?"));
        let _ = write!(line, "{src}.{sport} > {dst}.{dport}: {rest}");
    } else {
        let r = UdpRepr::parse(&UdpPacket::new_checked(payload)?, src, dst)?;
        let (sport, dport, len) = (r.src_port, r.dst_port, r.payload.len());
        let _ = write!(line, "{src}.{sport} > {dst}.{dport}: UDP, length {len}");
    }
    Ok(())
}

/// An IPv6 packet: its extension headers named in order (`HBH`, `DSTOPT`, `srcrt`, `frag
/// (...)`, as tcpdump names them), then the TCP, UDP or ICMPv6 line. A fragment other than
/// the first names the fragment and its protocol only: its data does not start with the
/// upper-layer header. The first fragment of a datagram has the header but not the whole
/// datagram the checksum and lengths cover: its ports (or ICMPv6 type) are shown unchecked.
fn describe_ipv6(packet: &[u8]) -> (String, Outcome) {
    let ip = match Ipv6Packet::new_checked(packet) {
        Ok(ip) => ip,
        Err(e) => return (format!("IPv6: {e}"), Outcome::Error(e)),
    };
    let repr = match Ipv6Repr::parse(&ip) {
        Ok(r) => r,
        Err(e) => return (format!("IPv6: {e}"), Outcome::Error(e)),
    };
    let (src, dst) = (repr.src, repr.dst);
    let mut line = format!("{src} > {dst}: ");
    let payload = ip.payload();
    let mut headers = ExtHeaderIter::new(repr.next_header, payload);
    let mut first_fragment = false;
    for header in headers.by_ref() {
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                let _ = write!(line, "IPv6 extension header {e}");
                return (line, Outcome::Error(e));
            }
        };
        match header.kind() {
            IpProtocol::HOP_BY_HOP => line.push_str("HBH, "),
            IpProtocol::DST_OPTIONS => line.push_str("DSTOPT, "),
            IpProtocol::ROUTING => {
                let b = header.bytes();
                let _ = write!(line, "srcrt (type {}, segleft {}), ", b[2], b[3]);
            }
            IpProtocol::FRAGMENT => {
                let frag = match Ipv6FragRepr::parse(header.bytes()) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = write!(line, "IPv6 fragment header {e}");
                        return (line, Outcome::Error(e));
                    }
                };
                let _ = write!(line, "{frag}, ");
                first_fragment = frag.more_frags && frag.frag_offset == 0;
                if frag.frag_offset != 0 {
                    let len = payload.len() - header.offset() - header.bytes().len();
                    let _ = write!(line, "{}, length {len}", frag.next_header);
                    return (line, Outcome::Decoded);
                }
            }
            _ => {}
        }
    }
    let (protocol, offset) = headers.pending();
    let upper = &payload[offset.min(payload.len())..];
    if first_fragment {
        return first_fragment_line(line, protocol, upper, src, dst);
    }
    let outcome = match protocol {
        IpProtocol::TCP | IpProtocol::UDP => {
            // The addresses lead the line as for IPv4: `src.port > dst.port: `.
            let mut text = String::new();
            let r = transport(&mut text, protocol, upper, src, dst);
            let prefix = format!("{src} > {dst}: ");
            let headers = line.strip_prefix(&prefix).unwrap_or("").to_string();
            match r {
                Ok(()) => {
                    let (addrs, rest) = text.split_once(": ").unwrap_or(("", &text));
                    line = format!("{addrs}: {headers}{rest}");
                    Outcome::Decoded
                }
                Err(e) => {
                    let _ = write!(line, "{protocol} {e}");
                    Outcome::Error(e)
                }
            }
        }
        IpProtocol::ICMPV6 => match Icmpv6Packet::new_checked(upper)
            .and_then(|p| Icmpv6Repr::parse(&p, src, dst).map(|r| r.to_string()))
        {
            Ok(text) => {
                line.push_str(&text);
                Outcome::Decoded
            }
            Err(ParseError::Unsupported) => {
                let ty = upper.first().copied().unwrap_or(0);
                let _ = write!(line, "ICMP6 type {ty} (not decoded)");
                Outcome::Skipped
            }
            Err(e) => {
                let _ = write!(line, "ICMP6 {e}");
                Outcome::Error(e)
            }
        },
        IpProtocol::NO_NEXT_HEADER => {
            line.push_str("no next header");
            Outcome::Decoded
        }
        other => {
            let _ = write!(line, "{other}, length {} (not decoded)", upper.len());
            Outcome::Skipped
        }
    };
    (line, outcome)
}

/// The line of a first fragment (`line` holds the addresses and extension headers so far).
fn first_fragment_line(
    mut line: String,
    protocol: IpProtocol,
    upper: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> (String, Outcome) {
    let word = |at: usize| upper.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match (protocol, word(0), word(2)) {
        (IpProtocol::TCP | IpProtocol::UDP, Some(sport), Some(dport)) => {
            let headers = line.split_once(": ").map_or("", |(_, h)| h);
            let mut text = format!("{src}.{sport} > {dst}.{dport}: {headers}{protocol}");
            if let (IpProtocol::UDP, Some(len)) = (protocol, word(4)) {
                let _ = write!(text, ", length {}", len.saturating_sub(8));
            }
            line = text;
        }
        (IpProtocol::ICMPV6, _, _) if !upper.is_empty() => {
            let _ = write!(line, "ICMP6 type {}", upper[0]);
        }
        _ => {
            let _ = write!(line, "{protocol} truncated packet");
            return (line, Outcome::Error(ParseError::Truncated));
        }
    }
    (line, Outcome::Decoded)
}

fn error_line(line: &mut String, repr: &Ipv4Repr, e: ParseError) -> Outcome {
    let _ = write!(line, "{} > {}: {} {e}", repr.src, repr.dst, repr.protocol);
    Outcome::Error(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustack::wire::{Ipv4Addr, SeqNum, TcpFlags, TcpOptions};

    fn ip_packet(protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol,
            payload_len: payload.len(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        buf[20..].copy_from_slice(payload);
        buf
    }

    fn syn() -> Vec<u8> {
        let options = TcpOptions { mss: Some(1460), window_scale: Some(7), ..Default::default() };
        let tcp = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 64240,
            urgent: 0,
            options,
            payload: &[],
        };
        let mut seg = vec![0u8; tcp.buffer_len()];
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        tcp.emit(&mut TcpPacket::new_unchecked(&mut seg[..]), s, d);
        ip_packet(IpProtocol::TCP, &seg)
    }

    #[test]
    fn tcp_line_has_addresses_and_ports() {
        let (line, outcome) = describe(&syn());
        assert_eq!(outcome, Outcome::Decoded);
        assert!(
            line.starts_with("10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240"),
            "{line}"
        );
        assert!(line.contains("mss 1460") && line.contains("wscale 7"), "{line}");
    }

    #[test]
    fn corrupt_segment_says_why() {
        let mut p = syn();
        let last = p.len() - 1;
        p[last] ^= 0xff; // an option byte: the TCP checksum no longer verifies
        let (line, outcome) = describe(&p);
        assert_eq!(outcome, Outcome::Error(ParseError::BadChecksum));
        assert_eq!(line, "10.0.0.1 > 10.0.0.2: TCP bad checksum");
    }

    /// An IPv6 packet from 2001:db8::1 to 2001:db8::2 whose payload is `ext` (extension
    /// headers, the first named by `first`) followed by a UDP datagram from port 5000 to 53.
    fn ipv6_udp(first: IpProtocol, ext: &[u8], data: &[u8]) -> Vec<u8> {
        let (s, d): (Ipv6Addr, Ipv6Addr) =
            ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        let udp = UdpRepr { src_port: 5000, dst_port: 53, payload: data };
        let mut seg = vec![0u8; udp.buffer_len()];
        udp.emit(&mut UdpPacket::new_unchecked(&mut seg[..]), s, d);
        let repr = Ipv6Repr {
            src: s,
            dst: d,
            next_header: first,
            payload_len: ext.len() + seg.len(),
            hop_limit: 64,
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        buf[40..40 + ext.len()].copy_from_slice(ext);
        buf[40 + ext.len()..].copy_from_slice(&seg);
        buf
    }

    #[test]
    fn ipv6_extension_headers_are_named_in_order_before_the_transport_line() {
        // Hop-by-Hop (8 bytes: PadN), Routing type 4 with 0 segments left (8 bytes), then
        // Destination Options (8 bytes: PadN), then UDP.
        let ext = [
            IpProtocol::ROUTING.0,
            0,
            1,
            4,
            0,
            0,
            0,
            0, // HBH: PadN of 4
            IpProtocol::DST_OPTIONS.0,
            0,
            4,
            0,
            0,
            0,
            0,
            0, // routing type 4, segleft 0
            IpProtocol::UDP.0,
            0,
            1,
            4,
            0,
            0,
            0,
            0, // DSTOPT: PadN of 4
        ];
        let (line, outcome) = describe(&ipv6_udp(IpProtocol::HOP_BY_HOP, &ext, b"abc"));
        assert_eq!(outcome, Outcome::Decoded);
        assert_eq!(
            line,
            "2001:db8::1.5000 > 2001:db8::2.53: HBH, srcrt (type 4, segleft 0), DSTOPT, UDP, length 3"
        );
        let (line, _) = describe(&ipv6_udp(IpProtocol::UDP, &[], b"abc"));
        assert_eq!(line, "2001:db8::1.5000 > 2001:db8::2.53: UDP, length 3");
    }

    #[test]
    fn ipv6_bad_checksum_and_truncated_headers_say_why() {
        let mut p = ipv6_udp(IpProtocol::UDP, &[], b"abc");
        let last = p.len() - 1;
        p[last] ^= 0xff;
        let (line, outcome) = describe(&p);
        assert_eq!(outcome, Outcome::Error(ParseError::BadChecksum));
        assert_eq!(line, "2001:db8::1 > 2001:db8::2: UDP bad checksum");
        // A Hop-by-Hop header claiming 16 bytes where 8 are left.
        let ext = [IpProtocol::UDP.0, 1, 1, 4, 0, 0, 0, 0];
        let mut p = ipv6_udp(IpProtocol::HOP_BY_HOP, &ext, b"");
        p.truncate(48);
        p[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(describe(&p).1, Outcome::Error(ParseError::Truncated));
        assert_eq!(describe(&[0x60, 0, 0, 0]).1, Outcome::Error(ParseError::Truncated));
    }

    #[test]
    fn other_families_are_skipped() {
        assert_eq!(describe(&[]).1, Outcome::Skipped);
        assert_eq!(
            describe(&ip_packet(IpProtocol(47), &[0; 4])).0,
            "10.0.0.1 > 10.0.0.2: proto-47, length 4 (not decoded)"
        );
    }
}
