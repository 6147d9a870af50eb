//! Stack tests: two stacks joined back to back in virtual time.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ustack_wire::{
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, SeqNum,
    TcpFlags, TcpOptions, TcpPacket, TcpRepr, UdpPacket, UdpRepr,
};

use crate::{
    Instant, InterfaceConfig, Ipv4Cidr, SocketEvent, SocketEventKind, SocketHandle, Stack,
    StackConfig,
};

mod basic;
mod challenge;
mod cookies;
mod defer;
mod demux;
mod ecn;
mod fastopen;
mod icmp;
mod ipv6;
mod listen;
mod loopback;
mod netstat;
mod offload;
mod ports;
mod sockopts;
mod timers;
mod timewait;
mod transparent;
mod twreuse;
mod udp;

pub(crate) const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub(crate) fn stack(addr: Ipv4Addr, secret: u8) -> Stack {
    stack_with(addr, StackConfig::new([secret; 16]))
}

pub(crate) fn stack_with(addr: Ipv4Addr, cfg: StackConfig) -> Stack {
    let mut s = Stack::new(cfg).expect("valid config");
    s.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).unwrap(), 1500));
    s
}

pub(crate) fn sa(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

/// An IPv6 packet from `src` to `dst` around `payload` (hop limit 64, no extension headers
/// unless `next_header` names one that `payload` starts with).
pub(crate) fn ip6_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    let repr = Ipv6Repr {
        src,
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
    buf[ustack_wire::ipv6::HEADER_LEN..].copy_from_slice(payload);
    buf
}

/// An IP packet of either family (both addresses of one family).
pub(crate) fn ip_any(src: IpAddr, dst: IpAddr, protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ip_packet(s, d, protocol, payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => ip6_packet(s, d, protocol, payload),
        _ => panic!("mixed families {src} {dst}"),
    }
}

fn emit_tcp_any(repr: &TcpRepr<'_>, src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut seg = vec![0u8; repr.buffer_len()];
    let mut view = TcpPacket::new_unchecked(&mut seg[..]);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => repr.emit(&mut view, s, d),
        (IpAddr::V6(s), IpAddr::V6(d)) => repr.emit(&mut view, s, d),
        _ => panic!("mixed families"),
    }
    ip_any(src.ip(), dst.ip(), IpProtocol::TCP, &seg)
}

/// The IP header fields the tests look at, of either family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnyIp {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) protocol: IpProtocol,
    pub(crate) fragment: bool,
    pub(crate) flow_label: u32,
}

/// The header and upper-layer payload of a packet the stacks sent (extension headers walked
/// for IPv6; a fragment's payload is its data).
pub(crate) fn parse_any(pkt: &[u8]) -> Option<(AnyIp, &[u8])> {
    if pkt.first()? >> 4 == 6 {
        let view = Ipv6Packet::new_checked(pkt).ok()?;
        let ip = Ipv6Repr::parse(&view).ok()?;
        let chain = view.walk_ext_headers(&ustack_wire::ExtHeaderLimits::DEFAULT).ok()?;
        let any = AnyIp {
            src: ip.src.into(),
            dst: ip.dst.into(),
            protocol: chain.protocol,
            fragment: chain.needs_reassembly(),
            flow_label: ip.flow_label,
        };
        let len = ustack_wire::ipv6::HEADER_LEN + ip.payload_len;
        return Some((any, &pkt[ustack_wire::ipv6::HEADER_LEN + chain.offset..len]));
    }
    let view = Ipv4Packet::new_checked(pkt).ok()?;
    let ip = Ipv4Repr::parse(&view).ok()?;
    let any = AnyIp {
        src: ip.src.into(),
        dst: ip.dst.into(),
        protocol: ip.protocol,
        fragment: ip.is_fragment(),
        flow_label: 0,
    };
    let start = pkt.len() - view.payload().len();
    Some((any, &pkt[start..start + view.payload().len()]))
}

/// Decides, per packet (`from_a`, bytes), whether the wire loses it.
pub(crate) type DropRule = Box<dyn FnMut(bool, &[u8]) -> bool>;

/// Two stacks on one wire (no delay unless `delay` is set), a virtual clock, a capture of
/// every packet and the events each side reported.
pub(crate) struct Pair {
    pub(crate) a: Stack,
    pub(crate) b: Stack,
    pub(crate) now: Instant,
    /// Packets in flight: (arrival time, to_b, bytes).
    pub(crate) wire: Vec<(Instant, bool, Vec<u8>)>,
    pub(crate) delay: crate::Duration,
    /// Every packet sent: (time, from_a, bytes).
    pub(crate) log: Vec<(Instant, bool, Vec<u8>)>,
    pub(crate) events_a: Vec<SocketEvent>,
    pub(crate) events_b: Vec<SocketEvent>,
    /// Drop the next packet for which this returns true.
    pub(crate) drop_if: Option<DropRule>,
    /// Packets a stack sent for its device to cut into segments (`offload::gso_segment`
    /// cuts them, and the segments go on the wire and into the log).
    pub(crate) gso_packets: usize,
}

impl Pair {
    pub(crate) fn new() -> Pair {
        Pair::with(stack(A, 1), stack(B, 2))
    }

    pub(crate) fn with(a: Stack, b: Stack) -> Pair {
        Pair {
            a,
            b,
            now: Instant::from_secs(1),
            wire: Vec::new(),
            delay: crate::Duration::from_millis(1),
            log: Vec::new(),
            events_a: Vec::new(),
            events_b: Vec::new(),
            drop_if: None,
            gso_packets: 0,
        }
    }

    /// Moves packets until nothing is in flight and both stacks are quiet; timers fire only
    /// while packets are in flight before `until` (no jump to a far timer).
    pub(crate) fn settle(&mut self) {
        self.run_until(self.now, false);
    }

    /// Runs until `until`, firing timers on the way.
    pub(crate) fn run_for(&mut self, d: crate::Duration) {
        let until = self.now + d;
        self.run_until(until, true);
    }

    fn flush(&mut self) {
        let mut buf = vec![0u8; 65_536];
        for from_a in [true, false] {
            let (s, events) = if from_a {
                (&mut self.a, &mut self.events_a)
            } else {
                (&mut self.b, &mut self.events_b)
            };
            while let Some(t) = s.poll_transmit(self.now, &mut buf) {
                let pkts = match t.gso {
                    Some(gso) => {
                        self.gso_packets += 1;
                        offload::gso_segment(&buf[..t.len], gso)
                    }
                    None => vec![buf[..t.len].to_vec()],
                };
                for pkt in pkts {
                    self.log.push((self.now, from_a, pkt.clone()));
                    let dropped = self.drop_if.as_mut().is_some_and(|f| f(from_a, &pkt));
                    if !dropped {
                        self.wire.push((self.now + self.delay, from_a, pkt));
                    }
                }
            }
            while let Some(e) = s.poll_event() {
                events.push(e);
            }
        }
    }

    fn run_until(&mut self, until: Instant, timers: bool) {
        for _ in 0..10_000_000 {
            self.flush();
            let next_pkt = self.wire.iter().map(|w| w.0).min();
            let next_timer =
                [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
            let next = match (next_pkt, next_timer) {
                (Some(p), Some(t)) if timers || t <= p => Some(p.min(t)),
                (Some(p), _) => Some(p),
                (None, Some(t)) if timers => Some(t),
                _ => None,
            };
            let Some(next) = next.filter(|&n| n <= until || (!timers && next_pkt.is_some())) else {
                if timers && self.now < until {
                    self.now = until;
                }
                return;
            };
            self.now = self.now.max(next);
            let mut i = 0;
            while i < self.wire.len() {
                if self.wire[i].0 <= self.now {
                    let (_, to_b, pkt) = self.wire.remove(i);
                    if to_b {
                        self.b.handle_packet(self.now, 0, &pkt)
                    } else {
                        self.a.handle_packet(self.now, 0, &pkt)
                    }
                } else {
                    i += 1;
                }
            }
            if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                self.b.handle_timeout(self.now);
            }
        }
        panic!("run did not settle");
    }
}

// ----------------------------------------------------------------------------------------
// Packets: build them with the wire reprs, parse what the stacks sent.
// ----------------------------------------------------------------------------------------

pub(crate) fn config(secret: u8) -> StackConfig {
    StackConfig::new([secret; 16])
}

/// An IPv4 packet from `src` to `dst` around `payload` (TTL 64, no DF).
pub(crate) fn ip_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    let repr = Ipv4Repr {
        src,
        dst,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0x4242,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
    buf[ustack_wire::ipv4::HEADER_LEN..].copy_from_slice(payload);
    buf
}

/// A TCP segment in an IP packet of the addresses' family, with a window of 65535 and no options.
pub(crate) fn tcp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: &[u8],
) -> Vec<u8> {
    tcp_packet_opts(src, dst, seq, ack, flags, 65535, TcpOptions::default(), payload)
}

/// A TCP segment in an IP packet of the addresses' family, with the given window and options.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_packet_opts(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window,
        urgent: 0,
        options,
        payload,
    };
    emit_tcp_any(&repr, src, dst)
}

/// A SYN with an MSS option of 1460, as a plain client sends it.
pub(crate) fn syn_packet(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 65535,
        urgent: 0,
        options: TcpOptions { mss: Some(1460), ..TcpOptions::default() },
        payload: &[],
    };
    emit_tcp_any(&repr, src, dst)
}

pub(crate) fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let repr = UdpRepr { src_port: src.port(), dst_port: dst.port(), payload };
    let mut dgram = vec![0u8; repr.buffer_len()];
    let mut view = UdpPacket::new_unchecked(&mut dgram[..]);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => repr.emit(&mut view, s, d),
        (IpAddr::V6(s), IpAddr::V6(d)) => repr.emit(&mut view, s, d),
        _ => panic!("mixed families"),
    }
    ip_any(src.ip(), dst.ip(), IpProtocol::UDP, &dgram)
}

pub(crate) fn icmp_packet(src: Ipv4Addr, dst: Ipv4Addr, msg: &Icmpv4Repr<'_>) -> Vec<u8> {
    let mut body = vec![0u8; msg.buffer_len()];
    msg.emit(&mut Icmpv4Packet::new_unchecked(&mut body[..]));
    ip_packet(src, dst, IpProtocol::ICMP, &body)
}

/// An ICMP destination unreachable from `from` about `original` (a packet one of the stacks
/// sent), quoting its IP header and the first 8 bytes of its payload as RFC 792 asks.
pub(crate) fn icmp_error_about(
    from: Ipv4Addr,
    original: &[u8],
    reason: ustack_wire::DstUnreachable,
    next_hop_mtu: u16,
) -> Vec<u8> {
    let header = ip(original);
    let payload = &original[ustack_wire::ipv4::HEADER_LEN..];
    let msg = Icmpv4Repr::DstUnreachable {
        reason,
        next_hop_mtu,
        header,
        data: &payload[..8.min(payload.len())],
    };
    icmp_packet(from, header.src, &msg)
}

/// The IP header of a packet the stacks sent.
pub(crate) fn ip(pkt: &[u8]) -> Ipv4Repr {
    Ipv4Repr::parse(&Ipv4Packet::new_checked(pkt).expect("a valid IPv4 packet"))
        .expect("a valid IPv4 header")
}

/// A TCP segment as the tests look at it (owned, with its addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seg {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: TcpFlags,
    pub(crate) payload: Vec<u8>,
    /// Length of the whole IP packet.
    pub(crate) ip_len: usize,
    pub(crate) options: TcpOptions,
    pub(crate) window: u16,
}

impl Seg {
    pub(crate) fn is(&self, flags: TcpFlags) -> bool {
        self.flags == flags
    }
    pub(crate) fn has(&self, flags: TcpFlags) -> bool {
        self.flags.contains(flags)
    }
}

/// The TCP segment in `pkt`, or `None` for another protocol or a fragment.
pub(crate) fn tcp(pkt: &[u8]) -> Option<Seg> {
    let (ip, payload) = parse_any(pkt)?;
    if ip.protocol != IpProtocol::TCP || ip.fragment {
        return None;
    }
    let tv = TcpPacket::new_checked(payload).ok()?;
    let t = match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => TcpRepr::parse(&tv, s, d),
        (IpAddr::V6(s), IpAddr::V6(d)) => TcpRepr::parse(&tv, s, d),
        _ => return None,
    }
    .expect("the stack sends valid TCP checksums");
    Some(Seg {
        src: SocketAddr::new(ip.src, t.src_port),
        dst: SocketAddr::new(ip.dst, t.dst_port),
        seq: t.seq.0,
        ack: t.ack.0,
        flags: t.flags,
        payload: t.payload.to_vec(),
        ip_len: pkt.len(),
        options: t.options,
        window: t.window,
    })
}

/// The UDP datagram in `pkt` (unfragmented): (source, destination, payload).
pub(crate) fn udp(pkt: &[u8]) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
    let (ip, payload) = parse_any(pkt)?;
    if ip.protocol != IpProtocol::UDP || ip.fragment {
        return None;
    }
    let uv = UdpPacket::new_checked(payload).ok()?;
    let u = match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => UdpRepr::parse(&uv, s, d),
        (IpAddr::V6(s), IpAddr::V6(d)) => UdpRepr::parse(&uv, s, d),
        _ => return None,
    }
    .expect("the stack sends valid UDP checksums");
    Some((
        SocketAddr::new(ip.src, u.src_port),
        SocketAddr::new(ip.dst, u.dst_port),
        u.payload.to_vec(),
    ))
}

/// An ICMP message as the tests look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Icmp {
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: Vec<u8>,
    },
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: Vec<u8>,
    },
    Unreachable {
        reason: ustack_wire::DstUnreachable,
        /// The quoted IP header.
        header: Ipv4Repr,
        /// The quoted bytes after it.
        data: Vec<u8>,
    },
}

/// The ICMP message in `pkt` with the IP source and destination.
pub(crate) fn icmp(pkt: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, Icmp)> {
    let view = Ipv4Packet::new_checked(pkt).ok()?;
    let ip = Ipv4Repr::parse(&view).ok()?;
    if ip.protocol != IpProtocol::ICMP || ip.is_fragment() {
        return None;
    }
    let payload = view.payload();
    let iv = Icmpv4Packet::new_checked(payload).ok()?;
    let msg = match Icmpv4Repr::parse(&iv).expect("the stack sends valid ICMP") {
        Icmpv4Repr::EchoReply { ident, seq_no, data } => {
            Icmp::EchoReply { ident, seq_no, data: data.to_vec() }
        }
        Icmpv4Repr::EchoRequest { ident, seq_no, data } => {
            Icmp::EchoRequest { ident, seq_no, data: data.to_vec() }
        }
        Icmpv4Repr::DstUnreachable { reason, header, data, .. } => {
            Icmp::Unreachable { reason, header, data: data.to_vec() }
        }
    };
    Some((ip.src, ip.dst, msg))
}

/// Everything a lone stack has to send now.
pub(crate) fn drain(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    out
}

/// Every event a lone stack has queued.
pub(crate) fn events(s: &mut Stack) -> Vec<SocketEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// The TCP events of socket `h` in `events`.
pub(crate) fn tcp_events(events: &[SocketEvent], h: SocketHandle) -> Vec<ustack_tcp::Event> {
    events
        .iter()
        .filter(|e| e.socket == h)
        .filter_map(|e| match e.kind {
            SocketEventKind::Tcp(ev) => Some(ev),
            _ => None,
        })
        .collect()
}

impl Pair {
    /// The TCP segments one side sent, from log entry `from` on.
    pub(crate) fn segs(&self, from_a: bool, from: usize) -> Vec<Seg> {
        self.log[from..].iter().filter(|l| l.1 == from_a).filter_map(|l| tcp(&l.2)).collect()
    }

    /// The packets one side sent, from log entry `from` on.
    pub(crate) fn sent(&self, from_a: bool, from: usize) -> Vec<Vec<u8>> {
        self.log[from..].iter().filter(|l| l.1 == from_a).map(|l| l.2.clone()).collect()
    }

    /// Hands a crafted packet to B (`to_b`) or A now; what it answers goes out on the next
    /// run.
    pub(crate) fn inject(&mut self, to_b: bool, pkt: &[u8]) {
        if to_b {
            self.b.handle_packet(self.now, 0, pkt)
        } else {
            self.a.handle_packet(self.now, 0, pkt)
        }
    }

    /// A connection from A to a listener `l` of B, accepted: (A's handle, B's handle).
    pub(crate) fn connect_accept(
        &mut self,
        l: SocketHandle,
        port: u16,
    ) -> (SocketHandle, SocketHandle) {
        let c = self.a.tcp_connect(self.now, None, sa(B, port)).expect("connect");
        self.settle();
        let s = self.b.tcp_accept(l).expect("a connection to accept");
        assert_eq!(self.b.tcp_conn(s).tuple().remote, self.a.tcp_conn(c).tuple().local);
        (c, s)
    }

    /// Reads everything `h` of B has (until WouldBlock or end of stream).
    pub(crate) fn read_all_b(&mut self, h: SocketHandle) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = self.b.tcp_recv(h, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    }
}
