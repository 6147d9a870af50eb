//! One line per IP packet, tcpdump style, from ustack's own parsers.

use std::fmt::Write as _;

use ustack::wire::{
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, ParseError, TcpPacket, TcpRepr,
    UdpPacket, UdpRepr,
};

/// What became of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every layer parsed.
    Decoded,
    /// A layer failed to parse, for this reason.
    Error(ParseError),
    /// Not IPv4, or a protocol ustack does not parse.
    Skipped,
}

/// Describes a raw IP packet in one line.
pub(crate) fn describe(packet: &[u8]) -> (String, Outcome) {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {}
        Some(6) => {
            return (format!("IPv6, length {} (not decoded)", packet.len()), Outcome::Skipped);
        }
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
            IpProtocol::TCP => match TcpPacket::new_checked(ip.payload())
                .and_then(|p| TcpRepr::parse(&p, src, dst).map(|r| r.to_string()))
            {
                // TcpRepr's line starts `sport > dport: `; put the addresses in front.
                Ok(text) => {
                    let (ports, rest) = text.split_once(": ").unwrap_or(("", &text));
                    let (sport, dport) = ports.split_once(" > ").unwrap_or(("?", "?"));
                    let _ = write!(line, "{src}.{sport} > {dst}.{dport}: {rest}");
                    Outcome::Decoded
                }
                Err(e) => error_line(&mut line, &repr, e),
            },
            IpProtocol::UDP => match UdpPacket::new_checked(ip.payload()).and_then(|p| {
                UdpRepr::parse(&p, src, dst).map(|r| (r.src_port, r.dst_port, r.payload.len()))
            }) {
                Ok((sport, dport, len)) => {
                    let _ = write!(line, "{src}.{sport} > {dst}.{dport}: UDP, length {len}");
                    Outcome::Decoded
                }
                Err(e) => error_line(&mut line, &repr, e),
            },
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

    #[test]
    fn other_families_are_skipped() {
        assert_eq!(describe(&[0x60, 0, 0, 0]).1, Outcome::Skipped);
        assert_eq!(describe(&[]).1, Outcome::Skipped);
        assert_eq!(
            describe(&ip_packet(IpProtocol(47), &[0; 4])).0,
            "10.0.0.1 > 10.0.0.2: proto-47, length 4 (not decoded)"
        );
    }
}
