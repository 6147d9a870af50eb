//! The two ways packets come in: raw bytes with optional fix-ups, and structured packets built
//! on a live flow (TCP segments from its peer side, ICMP errors about what the stack sent).

use ustack_core::wire::checksum::{self, Checksum};
use ustack_core::wire::{
    DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Addr, Ipv4Packet, Ipv4Repr,
    SackBlock, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps,
};

use crate::harness::{Flow, GHOST, GHOST_ISS, Harness, P_SALT, S_ADDR, ipv4};
use crate::host::{pattern, seq_add};
use crate::ops::{AckBase, IcmpError, MAX_PAYLOAD, Raw, Segment, SeqBase, Structured};

/// How an input packet reaches the stack under test.
pub trait Input: for<'a> arbitrary::Arbitrary<'a> + core::fmt::Debug {
    /// Whether every byte that can reach a connection follows the peer's pattern, so reads
    /// can be checked.
    const CHECK_READS: bool;
    /// Hands the packet(s) to the stack under test.
    fn inject(&self, h: &mut Harness);
}

impl Input for Raw {
    // Raw bytes with fixed-up checksums may land in a connection's stream.
    const CHECK_READS: bool = false;

    fn inject(&self, h: &mut Harness) {
        let mut b = self.bytes.0.clone();
        let fix = self.fix;
        if fix & Raw::VERSION != 0 && !b.is_empty() {
            b[0] = 0x45;
        }
        if b.len() >= 20 {
            let aim = (fix & Raw::AIM != 0 && !h.flows.is_empty())
                .then(|| h.flows[usize::from(self.flow) % h.flows.len()].tuple);
            if let Some(t) = aim {
                b[12..16].copy_from_slice(&ipv4(t.remote).octets());
                b[16..20].copy_from_slice(&ipv4(t.local).octets());
                let ihl = usize::from(b[0] & 0xf) * 4;
                if ihl >= 20 && b.len() >= ihl + 4 {
                    b[ihl..ihl + 2].copy_from_slice(&t.remote.port().to_be_bytes());
                    b[ihl + 2..ihl + 4].copy_from_slice(&t.local.port().to_be_bytes());
                }
            } else if fix & Raw::ADDR != 0 {
                b[12..16].copy_from_slice(&GHOST.octets());
                b[16..20].copy_from_slice(&S_ADDR.octets());
            }
        }
        if fix & Raw::LEN != 0 && b.len() >= 4 {
            let len = b.len().min(65_535) as u16;
            b[2..4].copy_from_slice(&len.to_be_bytes());
        }
        if fix & Raw::L4SUM != 0 {
            fix_transport_checksum(&mut b);
        }
        if fix & Raw::IPSUM != 0 {
            let ihl = b.first().map_or(0, |v| usize::from(v & 0xf) * 4);
            if ihl >= 20 && b.len() >= ihl {
                b[10..12].fill(0);
                let sum = checksum::finish(checksum::data(&b[..ihl]));
                b[10..12].copy_from_slice(&sum.to_be_bytes());
            }
        }
        h.inject(&b);
    }
}

/// Recomputes the TCP, UDP or ICMP checksum of an IPv4 packet over the bytes its header
/// claims (as far as there are bytes).
fn fix_transport_checksum(b: &mut [u8]) {
    if b.len() < 20 {
        return;
    }
    let ihl = usize::from(b[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([b[2], b[3]])).min(b.len());
    if ihl < 20 || total < ihl {
        return;
    }
    let src = core::net::Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let dst = core::net::Ipv4Addr::new(b[16], b[17], b[18], b[19]);
    let protocol = b[9];
    let l4 = &mut b[ihl..total];
    let (at, pseudo) = match IpProtocol(protocol) {
        IpProtocol::TCP => (16, true),
        IpProtocol::UDP => (6, true),
        IpProtocol::ICMP => (2, false),
        _ => return,
    };
    if l4.len() < at + 2 {
        return;
    }
    l4[at..at + 2].fill(0);
    let mut c = Checksum::new();
    if pseudo {
        c.add_sum(checksum::pseudo_header_v4(src, dst, protocol, l4.len() as u32));
    }
    c.add_bytes(l4);
    let mut sum = c.finish();
    if protocol == IpProtocol::UDP.0 && sum == 0 {
        sum = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

fn ack_base(f: &Flow, base: AckBase) -> SeqNum {
    match base {
        AckBase::SndNxt => f.s_nxt,
        AckBase::SndUna => f.p_una.or(f.s_iss.map(|i| seq_add(i, 1))),
        AckBase::Iss => f.s_iss.map(|i| seq_add(i, 1)),
        AckBase::Absolute => Some(SeqNum::new(0)),
    }
    .unwrap_or(SeqNum::new(0))
}

/// The router that reports ICMP errors about the flows.
const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);

impl Input for Structured {
    const CHECK_READS: bool = true;

    fn inject(&self, h: &mut Harness) {
        match self {
            Structured::Segment(s) => s.inject(h),
            Structured::IcmpError(e) => e.inject(h),
        }
    }
}

impl IcmpError {
    fn inject(&self, h: &mut Harness) {
        if h.flows.is_empty() {
            return;
        }
        let f = h.flows[usize::from(self.flow) % h.flows.len()];
        let seq = seq_add(ack_base(&f, self.seq), self.seq_off.value());
        let mut first8 = [0u8; 8];
        first8[..2].copy_from_slice(&f.tuple.local.port().to_be_bytes());
        first8[2..4].copy_from_slice(&f.tuple.remote.port().to_be_bytes());
        first8[4..].copy_from_slice(&seq.get().to_be_bytes());
        let quoted = Ipv4Repr {
            src: ipv4(f.tuple.local),
            dst: ipv4(f.tuple.remote),
            protocol: IpProtocol::TCP,
            // What the original datagram claimed to carry (its header must fit 16 bits).
            payload_len: usize::from(self.mtu).clamp(40, 65_535 - 20),
            ttl: 63,
            dscp: 0,
            ecn: 0,
            ident: 0,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let reason = DstUnreachable::from_code(self.code % 16).expect("codes 0 to 15");
        let msg = Icmpv4Repr::DstUnreachable {
            reason,
            next_hop_mtu: self.mtu,
            header: quoted,
            data: &first8,
        };
        let mut body = vec![0u8; msg.buffer_len()];
        msg.emit(&mut Icmpv4Packet::new_unchecked(&mut body[..]));
        let ip = Ipv4Repr {
            src: ROUTER,
            dst: ipv4(f.tuple.local),
            protocol: IpProtocol::ICMP,
            payload_len: body.len(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: h.next_ident(),
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        };
        h.inject(&ip_packet(&ip, &body));
    }
}

impl Segment {
    fn inject(&self, h: &mut Harness) {
        let known = h.flows.len();
        let pick = usize::from(self.flow) % (known + 2);
        let fi =
            if pick < known { pick } else { h.ghost_flow(if pick == known { 80 } else { 81 }) };
        let f = h.flows[fi];
        let flags = TcpFlags::from_bits_truncate(u16::from(self.flags));
        let base = match self.seq {
            SeqBase::RcvNxt => f.s_ack.or(f.p_nxt),
            SeqBase::PeerNxt => f.p_nxt,
            SeqBase::PeerIss => f.p_iss,
            SeqBase::Absolute => Some(SeqNum::new(0)),
        };
        let seq = seq_add(base.unwrap_or(GHOST_ISS), self.seq_off.value());
        let ack = seq_add(ack_base(&f, self.ack), self.ack_off.value());
        let len = usize::from(self.len) % (MAX_PAYLOAD + 1);
        let data_start = seq_add(seq, u32::from(flags.contains(TcpFlags::SYN)));
        let payload: Vec<u8> =
            (0..len).map(|i| pattern(seq_add(data_start, i as u32), P_SALT)).collect();

        let o = &self.options;
        let mut options = TcpOptions {
            mss: o.mss,
            window_scale: o.wscale,
            sack_permitted: o.sack_permitted,
            ..TcpOptions::default()
        };
        for s in o.sack.iter().flatten() {
            let left = seq_add(ack_base(&f, s.base), s.start.value());
            let _ = options
                .sack_blocks
                .push(SackBlock { left, right: seq_add(left, u32::from(s.len)) });
        }
        options.timestamps = o.timestamps.map(|t| Timestamps {
            tsval: f.p_tsval.wrapping_add(i32::from(t.val) as u32),
            tsecr: f.s_tsval.wrapping_add(i32::from(t.ecr) as u32),
        });

        let (src, dst) = (ipv4(f.tuple.remote), ipv4(f.tuple.local));
        let repr = TcpRepr {
            src_port: f.tuple.remote.port(),
            dst_port: f.tuple.local.port(),
            seq,
            ack,
            flags,
            window: self.window,
            urgent: self.urgent,
            options,
            payload: &payload,
        };
        let mut tcp = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut tcp[..]), src, dst);

        let ident = h.next_ident();
        let ip = Ipv4Repr {
            src,
            dst,
            protocol: IpProtocol::TCP,
            payload_len: tcp.len(),
            ttl: 64,
            dscp: 0,
            ecn: self.ip.ecn & 3,
            ident,
            dont_frag: self.ip.fragment.is_none(),
            more_frags: false,
            frag_offset: 0,
        };
        let mut packets = Vec::new();
        match self.ip.fragment {
            None => packets.push(ip_packet(&ip, &tcp)),
            Some(fr) => {
                let chunk = (usize::from(fr.size) + 1) * 8;
                for (i, piece) in tcp.chunks(chunk).enumerate() {
                    let offset = i * chunk;
                    let frag = Ipv4Repr {
                        payload_len: piece.len(),
                        more_frags: offset + piece.len() < tcp.len(),
                        frag_offset: offset as u16,
                        ..ip
                    };
                    packets.push(ip_packet(&frag, piece));
                }
                if fr.reverse {
                    packets.reverse();
                }
            }
        }
        let corrupted = self.ip.corrupt.is_some();
        if let Some(c) = self.ip.corrupt {
            let first = &mut packets[0];
            let at = usize::from(c.at) % first.len();
            first[at] ^= if c.xor == 0 { 1 } else { c.xor };
        }
        let segs_before = h.s.stack.counters().tcp_in_segs;
        for p in &packets {
            if corrupted {
                // Not what the peer side sent: the stack must drop it.
                h.s.receive(h.now, p);
            } else if packets.len() == 1 {
                h.inject(p);
            } else {
                h.s.receive(h.now, p);
            }
        }
        if corrupted {
            assert_eq!(
                h.s.stack.counters().tcp_in_segs,
                segs_before,
                "stack: took a segment with a flipped byte (the checksums catch any one-byte change)"
            );
        } else if packets.len() > 1 {
            // Fragments: the flow learns from the whole segment.
            h.observe(false, &ip_packet(&ip, &tcp));
        }
    }
}

fn ip_packet(ip: &Ipv4Repr, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; ip.buffer_len()];
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut b[..]));
    b[ip.header_len()..].copy_from_slice(payload);
    b
}
