//! Device offloads: segmentation of large TCP packets (TSO) and checksums, as a Linux TUN
//! device with `IFF_VNET_HDR` does them for the stack.
//!
//! # Sending: TCP segmentation offload
//!
//! An interface whose device cuts large TCP packets into segments itself
//! ([`Stack::set_offloads`] with [`Offloads::tso_max`]) gets, from [`Stack::poll_transmit`],
//! one packet for a run of a connection's data segments: the connection still chooses every
//! segment (the congestion and peer windows, Nagle, the scoreboard entry per segment: nothing
//! in the TCP engine changes), and the stack lays the segments that follow one another end to
//! end behind the first one's headers, as Linux's TSO does with a large `skb`. The packet's
//! [`Transmit::gso`] says how to cut it: segments of [`Gso::segment_size`] payload bytes
//! (the first segment's: every segment but the last is full), each with a copy of the
//! headers, the sequence number advanced, PSH and FIN only on the last (Linux
//! `tcp_gso_segment`). Its TCP checksum field holds the folded pseudo-header sum of the
//! whole packet and the device fills in each segment's checksum (Linux `CHECKSUM_PARTIAL`).
//!
//! A segment joins the run when it continues it in sequence, carries the same
//! acknowledgment, window, options (timestamps included) and ECN codepoint, and its flags
//! are the first one's with at most PSH or FIN added; a segment with PSH or FIN, or shorter
//! than the first, ends the run. A segment that cannot join is sent as a packet of its own
//! right after. A run of one segment is an ordinary packet with a full checksum and no
//! [`Gso`].
//!
//! # Receiving: checksums the device vouched for
//!
//! [`Stack::handle_packet_with`] takes [`RxMeta`]: with `checksum_verified`, the TCP checksum
//! is not checked (the device checked it, or the packet came from the host's own memory with
//! the checksum left to be filled, Linux `CHECKSUM_PARTIAL`, which Linux's receive path takes
//! as verified too). A large TCP packet (a TUN hands over what the kernel's TSO built, up to
//! 64 KiB) is one segment to the connection, as Linux's GRO makes it: its ACK rule (an ACK
//! as soon as more than one full-sized segment is unacknowledged) answers every such packet
//! at once, as Linux does for every coalesced packet of two segments or more.

use core::net::IpAddr;

use ustack_tcp::Ecn;
use ustack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr, checksum, ipv4, ipv6};

use crate::socket::SocketHandle;
use crate::stack::{Slot, Socket, Stack, TcpHeader, Transmit, emit_tcp};

/// What a device interface does for the stack ([`Stack::set_offloads`]). The default is
/// nothing: every packet at most the MTU, every checksum complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offloads {
    /// The largest TCP packet, IP header included, that the device takes and cuts into
    /// segments itself (TSO), at most 65,535; 0 for none. Packets longer than the MTU are
    /// sent only with a [`Gso`].
    pub tso_max: u16,
}

/// How the device is to cut a TCP packet longer than one segment ([`Transmit::gso`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gso {
    /// Payload bytes per segment (the connection's segment size; the last may be shorter).
    pub segment_size: u16,
    /// The length of the IP and TCP headers that each segment carries a copy of.
    pub header_len: u16,
    /// Where the TCP header starts (the IP header's length): the checksum to fill covers
    /// from here to the end, and sits 16 bytes further.
    pub csum_start: u16,
}

impl Gso {
    /// The offset of the TCP checksum field within the TCP header.
    pub const CSUM_OFFSET: u16 = 16;
}

/// What the device knows of a packet it delivers ([`Stack::handle_packet_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxMeta {
    /// The TCP checksum needs no check: the device verified it, or the packet comes from
    /// the host's own memory with the checksum left to be filled (Linux `CHECKSUM_PARTIAL`).
    pub checksum_verified: bool,
}

/// The first segment of a run, as emitted: where it goes, its IP header, its length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct First {
    pub(crate) iface: usize,
    pub(crate) hdr: TcpHeader,
    pub(crate) len: usize,
    pub(crate) lead: Lead,
}

/// The first segment of a run: what the segments that join it must share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lead {
    ack: SeqNum,
    window: u16,
    options: TcpOptions,
    flags: TcpFlags,
    ecn: Ecn,
    /// The payload length of the first segment: every segment but the last.
    segment_size: usize,
    /// One past the first segment's last byte.
    next_seq: SeqNum,
}

impl Lead {
    /// `seg` may lead a run: data with ACK (and ECE) alone, nothing that must stay on one
    /// segment (PSH and FIN end a run, CWR belongs to the first segment only, SYN, RST, URG).
    pub(crate) fn of(seg: &TcpRepr<'_>, ecn: Ecn) -> Option<Lead> {
        let mut flags = seg.flags;
        flags.remove(TcpFlags::ECE);
        if seg.payload.is_empty() || flags != TcpFlags::ACK || seg.urgent != 0 {
            return None;
        }
        Some(Lead {
            ack: seg.ack,
            window: seg.window,
            options: seg.options,
            flags: seg.flags,
            ecn,
            segment_size: seg.payload.len(),
            next_seq: seg.seq + seg.payload.len() as u32,
        })
    }

    /// Whether `seg` continues the run.
    fn joins(&self, seg: &TcpRepr<'_>, ecn: Ecn) -> bool {
        let mut flags = seg.flags;
        flags.remove(TcpFlags::PSH | TcpFlags::FIN);
        !seg.payload.is_empty()
            && seg.payload.len() <= self.segment_size
            && seg.seq == self.next_seq
            && flags == self.flags
            && seg.ack == self.ack
            && seg.window == self.window
            && seg.urgent == 0
            && ecn == self.ecn
            && seg.options == self.options
    }
}

impl Stack {
    /// Tells the stack what device interface `iface` offloads. Panics if `iface` is not a
    /// device interface.
    pub fn set_offloads(&mut self, iface: usize, offloads: Offloads) {
        assert!(iface < self.ifaces.len(), "interface {iface} does not exist");
        if self.offloads.len() < self.ifaces.len() {
            self.offloads.resize(self.ifaces.len(), Offloads::default());
        }
        self.offloads[iface] = offloads;
    }

    /// What device interface `iface` offloads (nothing unless [`Stack::set_offloads`] said).
    pub fn offloads(&self, iface: usize) -> Offloads {
        self.offloads.get(iface).copied().unwrap_or_default()
    }

    /// [`Stack::handle_packet`] with what the device knows of the packet.
    pub fn handle_packet_with(
        &mut self,
        now: crate::Instant,
        iface: usize,
        packet: &[u8],
        meta: RxMeta,
    ) {
        self.rx_checksum_verified = meta.checksum_verified;
        self.handle_packet(now, iface, packet);
        self.rx_checksum_verified = false;
    }

    /// `buf[..first.len]` holds the data segment `first.lead` of connection `h` (the front
    /// of the tx-ready queue), bound for `first.iface`, which does TSO: appends the segments
    /// of `h` that continue it (module documentation) and returns the packet.
    pub(crate) fn coalesce(
        &mut self,
        now: crate::Instant,
        h: SocketHandle,
        buf: &mut [u8],
        first: First,
    ) -> Transmit {
        let First { iface, hdr, len, mut lead } = first;
        let ip_len = if hdr.src.is_ipv6() { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
        let header_len = len - lead.segment_size;
        let limit = buf.len().min(usize::from(self.offloads(iface).tso_max));
        let mut total = len;
        let mut segments = 1u32;
        let mut last_flags = lead.flags;
        let mut short = false;
        while !short
            && !last_flags.intersects(TcpFlags::PSH | TcpFlags::FIN)
            && total + lead.segment_size <= limit
        {
            let slot =
                self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation);
            let Some(Slot { sock: Some(Socket::Tcp(t)), .. }) = slot else { break };
            let Some((seg, ecn)) = t.conn.poll_transmit_ecn(now, &mut self.scratch) else {
                // The connection has nothing more now: as `poll_transmit` does when it finds
                // that out itself.
                t.in_tx = false;
                self.tx_ready.pop_front();
                self.after_output(h);
                break;
            };
            self.counters.tcp_out_segs += 1;
            if lead.joins(&seg, ecn) {
                let n = seg.payload.len();
                buf[total..total + n].copy_from_slice(seg.payload);
                total += n;
                segments += 1;
                lead.next_seq += n as u32;
                last_flags = seg.flags;
                short = n < lead.segment_size;
                self.counters.ip_out(hdr.src.is_ipv6());
                continue;
            }
            // It cannot join: it goes as a packet of its own, next (`poll_transmit` takes
            // the queue first, and counts it there).
            self.counters.tcp_out_rsts += u64::from(seg.flags.contains(TcpFlags::RST));
            let mut packet = self.out.buffer(ip_len + seg.buffer_len());
            let n = emit_tcp(&mut packet, &mut self.ip_ident, TcpHeader { ecn, ..hdr }, &seg);
            packet.truncate(n);
            self.out.push(iface, packet);
            break;
        }
        if segments == 1 {
            return Transmit { iface, len, gso: None };
        }
        // One packet now: its length, the flags of its last segment, the checksum seed. The
        // device numbers the IPv4 segments on from the first one's Identification (Linux
        // without `SKB_GSO_TCP_FIXEDID`): the stack's counter skips the numbers they take.
        let tcp_len = total - ip_len;
        if !hdr.src.is_ipv6() {
            self.ip_ident = self.ip_ident.wrapping_add((segments - 1) as u16);
        }
        if hdr.src.is_ipv6() {
            let mut ip = ustack_wire::Ipv6Packet::new_unchecked(&mut buf[..total]);
            ip.set_payload_len(tcp_len as u16);
        } else {
            let mut ip = ustack_wire::Ipv4Packet::new_unchecked(&mut buf[..total]);
            ip.set_total_len(total as u16);
            ip.fill_checksum();
        }
        let mut tcp = ustack_wire::TcpPacket::new_unchecked(&mut buf[ip_len..total]);
        let mut flags = tcp.flags();
        flags.insert(last_flags & (TcpFlags::PSH | TcpFlags::FIN));
        tcp.set_flags(flags);
        let seed = match (hdr.src, hdr.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_header_v4(s, d, 6, tcp_len as u32),
            (IpAddr::V6(s), IpAddr::V6(d)) => checksum::pseudo_header_v6(s, d, 6, tcp_len as u32),
            _ => 0,
        };
        tcp.set_checksum(seed);
        let gso = Gso {
            segment_size: lead.segment_size as u16,
            header_len: header_len as u16,
            csum_start: ip_len as u16,
        };
        Transmit { iface, len: total, gso: Some(gso) }
    }
}
