//! ICMPv4 in the host (RFC 792, RFC 1122 §3.2.2): echo replies, destination unreachable
//! for closed UDP ports and unknown protocols (rate-limited like Linux), and arriving
//! errors delivered to the TCP connection or UDP socket whose datagram they quote.

use core::net::{IpAddr, SocketAddr};

use ustack_tcp::IcmpError;
use ustack_wire::{DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Repr, SeqNum};

use crate::Instant;
use crate::stack::{IpOut, Stack};

/// How much of the offending datagram an error quotes: Linux fills the message up to 576
/// bytes (RFC 1812 §4.3.2.3), i.e. 576 − 20 (IP) − 8 (ICMP) − 20 (quoted header).
const MAX_QUOTE: usize = 528;

impl Stack {
    pub(crate) fn icmp_input(&mut self, now: Instant, iface: usize, ip: &Ipv4Repr, payload: &[u8]) {
        self.counters.icmp_in_msgs += 1;
        let Ok(view) = Icmpv4Packet::new_checked(payload) else {
            self.counters.icmp_in_errors += 1;
            return;
        };
        let Ok(repr) = Icmpv4Repr::parse(&view) else {
            self.counters.icmp_in_errors += 1;
            return;
        };
        match repr {
            Icmpv4Repr::EchoRequest { ident, seq_no, data } => {
                self.counters.icmp_in_echos += 1;
                // Transparent mode answers TCP and UDP for addresses not ours, not pings.
                if !self.cfg.icmp_echo || !self.is_local(IpAddr::V4(ip.dst)) {
                    return;
                }
                let reply = Icmpv4Repr::EchoReply { ident, seq_no, data };
                let out = IpOut {
                    src: IpAddr::V4(ip.dst),
                    dst: IpAddr::V4(ip.src),
                    protocol: IpProtocol::ICMP,
                    dont_frag: false,
                    ttl: None,
                };
                if self.queue_datagram(iface, out, reply.buffer_len(), |buf| {
                    reply.emit(&mut Icmpv4Packet::new_unchecked(buf));
                }) {
                    self.counters.icmp_out_msgs += 1;
                    self.counters.icmp_out_echo_reps += 1;
                }
            }
            Icmpv4Repr::EchoReply { .. } => {}
            Icmpv4Repr::DstUnreachable { reason, next_hop_mtu, header, data } => {
                self.counters.icmp_in_dest_unreachs += 1;
                self.icmp_error(now, reason, next_hop_mtu, &header, data);
            }
        }
    }

    /// An error about a datagram we sent (`header` is its IP header, `data` the start of
    /// its payload: at least the 8 bytes holding the ports and TCP's sequence number).
    fn icmp_error(
        &mut self,
        now: Instant,
        reason: DstUnreachable,
        mtu: u16,
        header: &Ipv4Repr,
        data: &[u8],
    ) {
        let (Some(sport), Some(dport)) = (be16(data, 0), be16(data, 2)) else { return };
        let local = SocketAddr::new(IpAddr::V4(header.src), sport);
        let remote = SocketAddr::new(IpAddr::V4(header.dst), dport);
        match header.protocol {
            IpProtocol::TCP => {
                let Some(seq) = be32(data, 4) else { return };
                let error = match reason {
                    DstUnreachable::FragRequired => IcmpError::FragNeeded { mtu },
                    DstUnreachable::PortUnreachable | DstUnreachable::ProtoUnreachable => {
                        IcmpError::PortUnreachable
                    }
                    _ => IcmpError::HostUnreachable,
                };
                self.tcp_icmp_error(now, local, remote, SeqNum(seq), error);
            }
            IpProtocol::UDP if reason == DstUnreachable::PortUnreachable => {
                self.udp_icmp_refused(local, remote);
            }
            _ => {}
        }
    }

    /// Sends a destination unreachable about `ip`/`payload` back to its sender, unless the
    /// rate limit says no or RFC 1122 §3.2.2 forbids it (never about an ICMP error, a
    /// broadcast, or a non-first fragment).
    pub(crate) fn send_dst_unreachable(
        &mut self,
        now: Instant,
        reason: DstUnreachable,
        ip: &Ipv4Repr,
        payload: &[u8],
    ) {
        if ip.src.is_broadcast() || ip.src.is_multicast() || ip.src.is_unspecified() {
            return;
        }
        if ip.protocol == IpProtocol::ICMP && payload.first().is_some_and(|&t| t != 0 && t != 8) {
            return;
        }
        let Some((iface, _)) = self.route(IpAddr::V4(ip.src)) else {
            self.counters.ip_out_no_routes += 1;
            return;
        };
        if !self.icmp_allowed(now) {
            return;
        }
        let quoted = &payload[..payload.len().min(MAX_QUOTE)];
        let msg = Icmpv4Repr::DstUnreachable { reason, next_hop_mtu: 0, header: *ip, data: quoted };
        let out = IpOut {
            src: IpAddr::V4(ip.dst),
            dst: IpAddr::V4(ip.src),
            protocol: IpProtocol::ICMP,
            dont_frag: false,
            ttl: None,
        };
        if self.queue_datagram(iface, out, msg.buffer_len(), |buf| {
            msg.emit(&mut Icmpv4Packet::new_unchecked(buf));
        }) {
            self.counters.icmp_out_msgs += 1;
            self.counters.icmp_out_dest_unreachs += 1;
        }
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}
