//! What a packet on the link carries, read with ustack's own parsers: the fields the ladder
//! labels arrows with and the checks look at.

use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

use ustack_wire::{
    IpProtocol, Ipv4Packet, Ipv4Repr, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, UdpPacket,
    UdpRepr,
};

/// A TCP segment's fields (sequence numbers raw, window unscaled, as on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSummary {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: u32,
    /// Payload length.
    pub len: u32,
    /// Window field, unscaled.
    pub window: u16,
    /// The options.
    pub options: TcpOptions,
    /// The tcpdump-style line (`Flags [S], seq ..., win ..., options [...], length 0`).
    pub line: String,
}

impl TcpSummary {
    /// SYN without ACK.
    pub fn is_syn(&self) -> bool {
        self.flags.contains(TcpFlags::SYN) && !self.flags.contains(TcpFlags::ACK)
    }

    /// SYN with ACK.
    pub fn is_syn_ack(&self) -> bool {
        self.flags.contains(TcpFlags::SYN | TcpFlags::ACK)
    }

    /// FIN set.
    pub fn is_fin(&self) -> bool {
        self.flags.contains(TcpFlags::FIN)
    }

    /// RST set.
    pub fn is_rst(&self) -> bool {
        self.flags.contains(TcpFlags::RST)
    }

    /// An ACK with no payload, SYN, FIN or RST.
    pub fn is_pure_ack(&self) -> bool {
        self.flags.contains(TcpFlags::ACK)
            && !self.flags.intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
            && self.len == 0
    }

    /// Carries payload.
    pub fn has_data(&self) -> bool {
        self.len > 0
    }

    /// Length in sequence space: payload, SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.len
            + u32::from(self.flags.contains(TcpFlags::SYN))
            + u32::from(self.flags.contains(TcpFlags::FIN))
    }

    /// The flags as tcpdump prints them, without brackets: `S`, `S.`, `P.`, `F.`, `R`, `.`.
    pub fn flag_letters(&self) -> String {
        let s = self.flags.to_string();
        s.trim_start_matches('[').trim_end_matches(']').to_string()
    }

    /// A short label for a ladder arrow: flags, seq, ack, len, window and options.
    pub fn label(&self) -> String {
        let mut s = format!("[{}] seq={}", self.flag_letters(), self.seq);
        if self.flags.contains(TcpFlags::ACK) {
            s.push_str(&format!(" ack={}", self.ack));
        }
        s.push_str(&format!(" len={} win={}", self.len, self.window));
        s
    }

    /// The options in a few words, for the second line of a ladder label.
    pub fn options_label(&self) -> String {
        let o = &self.options;
        let mut parts = Vec::new();
        if let Some(mss) = o.mss {
            parts.push(format!("mss {mss}"));
        }
        if let Some(ws) = o.window_scale {
            parts.push(format!("wscale {ws}"));
        }
        if o.sack_permitted {
            parts.push("sackOK".to_string());
        }
        if let Some(ts) = o.timestamps {
            parts.push(format!("TS {}/{}", ts.tsval, ts.tsecr));
        }
        for b in o.sack_blocks.as_slice() {
            parts.push(format!("sack {}-{}", b.left, b.right));
        }
        if o.fast_open.is_some() {
            parts.push("tfo".to_string());
        }
        parts.join(", ")
    }
}

/// A UDP datagram's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSummary {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// Payload length.
    pub len: usize,
}

/// What a packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A TCP segment.
    Tcp(TcpSummary),
    /// A UDP datagram.
    Udp(UdpSummary),
    /// Something else ustack parses (ICMP), or not: the tcpdump-style text.
    Other(String),
}

impl Segment {
    /// Parses an IPv4 packet. A packet whose TCP or UDP checksum fails is read anyway (the
    /// lab parses what the sender meant, before any corruption).
    pub fn parse(packet: &[u8]) -> Option<Segment> {
        let ip = Ipv4Packet::new_checked(packet).ok()?;
        let repr = Ipv4Repr::parse(&ip).ok()?;
        let (src, dst) = (repr.src, repr.dst);
        match repr.protocol {
            IpProtocol::TCP => {
                let view = TcpPacket::new_checked(ip.payload()).ok()?;
                let seg = TcpRepr::parse(&view, src, dst).ok()?;
                Some(Segment::Tcp(summarise_tcp(&seg, src, dst)))
            }
            IpProtocol::UDP => {
                let view = UdpPacket::new_checked(ip.payload()).ok()?;
                let d = UdpRepr::parse(&view, src, dst).ok()?;
                Some(Segment::Udp(UdpSummary {
                    src: SocketAddrV4::new(src, d.src_port),
                    dst: SocketAddrV4::new(dst, d.dst_port),
                    len: d.payload.len(),
                }))
            }
            other => Some(Segment::Other(format!("{src} > {dst}: {other}"))),
        }
    }

    /// The TCP segment, if this is one.
    pub fn tcp(&self) -> Option<&TcpSummary> {
        match self {
            Segment::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The first line of a ladder label.
    pub fn label(&self) -> String {
        match self {
            Segment::Tcp(t) => t.label(),
            Segment::Udp(u) => format!("UDP {} > {} len={}", u.src.port(), u.dst.port(), u.len),
            Segment::Other(s) => s.clone(),
        }
    }
}

fn summarise_tcp(seg: &TcpRepr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> TcpSummary {
    let text = seg.to_string();
    let rest = text.split_once(": ").map_or(text.as_str(), |(_, r)| r).to_string();
    TcpSummary {
        src: SocketAddrV4::new(src, seg.src_port),
        dst: SocketAddrV4::new(dst, seg.dst_port),
        flags: seg.flags,
        seq: seg.seq.0,
        ack: seg.ack.0,
        len: seg.payload.len() as u32,
        window: seg.window,
        options: seg.options,
        line: rest,
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Tcp(t) => write!(
                f,
                "{}.{} > {}.{}: {}",
                t.src.ip(),
                t.src.port(),
                t.dst.ip(),
                t.dst.port(),
                t.line
            ),
            Segment::Udp(u) => write!(
                f,
                "{}.{} > {}.{}: UDP, length {}",
                u.src.ip(),
                u.src.port(),
                u.dst.ip(),
                u.dst.port(),
                u.len
            ),
            Segment::Other(s) => f.write_str(s),
        }
    }
}

/// Builds an IPv4 packet carrying `seg` from `src` to `dst`: for the packets a scenario
/// injects (a stale duplicate SYN, a forged RST). The lab's worlds are IPv4: an IPv6
/// address is a caller bug and panics.
pub fn build_tcp(
    src: impl Into<std::net::SocketAddr>,
    dst: impl Into<std::net::SocketAddr>,
    seg: &TcpRepr<'_>,
) -> Vec<u8> {
    let v4 = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(a) => panic!("the lab builds IPv4 packets; got {a}"),
    };
    let (src, dst): (SocketAddrV4, SocketAddrV4) = (v4(src.into()), v4(dst.into()));
    let tcp_len = seg.buffer_len();
    let ip = Ipv4Repr {
        src: *src.ip(),
        dst: *dst.ip(),
        protocol: IpProtocol::TCP,
        payload_len: tcp_len,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut buf = vec![0u8; 20 + tcp_len];
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
    seg.emit(&mut TcpPacket::new_unchecked(&mut buf[20..]), *src.ip(), *dst.ip());
    buf
}

/// A bare segment with these fields, no options, no payload, for [`build_tcp`].
pub fn bare_segment(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 64_240,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    }
}
