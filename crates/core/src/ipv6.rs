//! IPv6 in the host (RFC 8200): input checks, extension headers, fragment reassembly and
//! fragmentation, ICMPv6 (RFC 4443), Path MTU Discovery (RFC 8201) and flow labels (RFC 6437).
//!
//! **Input** (Linux `ipv6_rcv`, `ip6_input_finish`): a packet whose source is multicast, or
//! whose source or destination is IPv4-mapped (RFC 4291 §2.5.5.2: such addresses never appear
//! on the wire) or unspecified, or which carries `::1` on a device (Linux drops loopback
//! addresses arriving off `lo`), or which is not addressed to one of our addresses, is dropped
//! and counted (`Ip6InAddrErrors`). The extension headers are walked by
//! [`Ipv6Packet::walk_ext_headers`] (wire's `ipv6ext` says what each header does); a walk that
//! asks for a Parameter Problem gets one (rate-limited as every ICMPv6 error is).
//!
//! **Reassembly** (RFC 8200 §4.5, Linux `net/ipv6/reassembly.c`): fragments are keyed by
//! source, destination and Identification and reassembled by `crate::frag` under Linux's IPv6
//! limits (`ip6frag_high_thresh` 4 MiB, `ip6frag_time` 60 s, 65,535 bytes of payload); the
//! reassembled packet is the fixed header with the first fragment's Next Header and the
//! fragmentable part, walked again. An atomic fragment (offset 0, M clear) is processed in
//! isolation and never joins a reassembly (RFC 6946, RFC 8021), so a forged atomic fragment
//! cannot disturb one in progress.
//!
//! **Output**: a packet larger than the path MTU is fragmented only for datagrams (UDP,
//! ICMPv6); TCP's segments fit the MSS it derives from the path MTU. We never send an atomic
//! fragment (RFC 8021 §4.2: a Packet Too Big below 1280 does not ask for one; the path MTU
//! simply stays 1280). Fragment Identifications come from a keyed hash of the addresses plus a
//! counter (RFC 7739 §5.1: unpredictable, per destination).
//!
//! **Path MTU** (RFC 8201): a Packet Too Big about a packet we sent lowers the path MTU to that
//! destination (never below 1280: RFC 8201 §4), TCP connections to it resend at the new segment
//! size, and datagrams to it are fragmented to it. The estimate holds for
//! `ip6_rt_mtu_expires` (Linux `net.ipv6.route.mtu_expires`, 600 s) and then the interface MTU
//! is used again, as Linux's route exceptions age out. The cache is bounded
//! ([`PMTU_CACHE_MAX`] destinations, the oldest forgotten first).
//!
//! **ICMPv6 out** (RFC 4443 §2.4): never about an ICMPv6 error, a packet from an unspecified
//! or multicast source, or (but Parameter Problem code 2) to a multicast destination; limited
//! by the host-wide token bucket shared with ICMPv4 (Linux `icmp_global_allow`) and per
//! destination by `icmpv6_ratelimit` with a burst of 6, the interval shrinking for shorter
//! route prefixes (Linux `icmpv6_xrlim_allow`). Echo replies are not limited.
//!
//! **Flow labels** (RFC 6437 §3, Linux `auto_flowlabels` = 1): each flow's packets carry a
//! keyed hash of its addresses, ports and protocol, 20 bits, never 0.

use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::collections::VecDeque;

use ustack_tcp::{IcmpError, KeyedHash};
use ustack_wire::icmpv6::{self, DstUnreachable, ParamProblem};
use ustack_wire::ipv6ext::ExtHeaderIter;
use ustack_wire::{
    ExtHeaderError, ExtHeaderLimits, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6FragRepr,
    Ipv6Packet, Ipv6Repr, SeqNum, ipv6,
};

use crate::frag::FragOutcome;
use crate::hash::{self, KeyedMap};
use crate::stack::{Invoking, IpOut, Socket, Stack};
use crate::{Duration, Instant};

/// The largest reassembled IPv6 payload (the Payload Length field is 16 bits).
pub(crate) const MAX_REASSEMBLED: usize = 65_535;

/// Destinations whose path MTU is remembered at most.
pub const PMTU_CACHE_MAX: usize = 4096;

/// The IPv6 minimum link MTU (RFC 8200 §5).
pub(crate) const MIN_MTU: u16 = 1280;

/// Per-destination ICMPv6 burst (Linux `XRLIM_BURST_FACTOR`).
const XRLIM_BURST: u64 = 6;

/// What identifies the fragments of one IPv6 packet (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Frag6Key {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ident: u32,
}

#[derive(Debug, Clone, Copy)]
struct PmtuEntry {
    mtu: u16,
    expires: Instant,
}

/// IPv6 state of the host besides the sockets: path MTUs, fragment identification, ICMPv6
/// rate limits, the flow label key.
#[derive(Debug)]
pub(crate) struct V6State {
    pmtu: KeyedMap<Ipv6Addr, PmtuEntry>,
    pmtu_order: VecDeque<Ipv6Addr>,
    ident_hash: KeyedHash,
    ident_counter: u32,
    label_hash: KeyedHash,
    /// Per-destination ICMPv6 error tokens (nanoseconds of credit, last refill).
    xrlim: KeyedMap<Ipv6Addr, (u64, Instant)>,
    xrlim_order: VecDeque<Ipv6Addr>,
    limits: ExtHeaderLimits,
    /// The reassembled packet being delivered.
    reasm: Vec<u8>,
}

impl V6State {
    pub(crate) fn new(secret: [u8; 16]) -> V6State {
        let key = |label: u8| {
            let mut k = secret;
            k[1] ^= label;
            k[14] ^= 0x66;
            k
        };
        V6State {
            pmtu: hash::map(secret, 0x61),
            pmtu_order: VecDeque::new(),
            ident_hash: KeyedHash::new(key(0x11)),
            ident_counter: 0,
            label_hash: KeyedHash::new(key(0x22)),
            xrlim: hash::map(secret, 0x62),
            xrlim_order: VecDeque::new(),
            limits: ExtHeaderLimits::DEFAULT,
            reasm: Vec::new(),
        }
    }

    /// A fragment Identification for a packet from `src` to `dst`.
    fn next_ident(&mut self, src: Ipv6Addr, dst: Ipv6Addr) -> u32 {
        let mut m = [0u8; 32];
        m[..16].copy_from_slice(&src.octets());
        m[16..].copy_from_slice(&dst.octets());
        self.ident_counter = self.ident_counter.wrapping_add(1);
        (self.ident_hash.hash(&m) as u32).wrapping_add(self.ident_counter)
    }

    /// The auto flow label of a flow: 20 bits of a keyed hash, never 0 (RFC 6437 §3).
    pub(crate) fn flow_label(
        &self,
        mode: u8,
        local: SocketAddr,
        remote: SocketAddr,
        protocol: IpProtocol,
    ) -> u32 {
        if mode != 1 && mode != 3 {
            return 0;
        }
        let (IpAddr::V6(l), IpAddr::V6(r)) = (local.ip(), remote.ip()) else { return 0 };
        let mut m = [0u8; 37];
        m[..16].copy_from_slice(&l.octets());
        m[16..32].copy_from_slice(&r.octets());
        m[32..34].copy_from_slice(&local.port().to_be_bytes());
        m[34..36].copy_from_slice(&remote.port().to_be_bytes());
        m[36] = protocol.0;
        let label = self.label_hash.hash(&m) as u32 & ipv6::MAX_FLOW_LABEL;
        if label == 0 { 1 } else { label }
    }

    /// The path MTU learnt for `dst`, if it has not expired.
    pub(crate) fn learnt_pmtu(&self, now: Instant, dst: Ipv6Addr) -> Option<u16> {
        self.pmtu.get(&dst).filter(|e| e.expires > now).map(|e| e.mtu)
    }

    fn set_pmtu(&mut self, dst: Ipv6Addr, mtu: u16, expires: Instant) {
        if self.pmtu.insert(dst, PmtuEntry { mtu, expires }).is_none() {
            self.pmtu_order.push_back(dst);
            while self.pmtu_order.len() > PMTU_CACHE_MAX {
                if let Some(old) = self.pmtu_order.pop_front() {
                    self.pmtu.remove(&old);
                }
            }
        }
    }

    /// Linux `inet_peer_xrlim_allow`: a token per `interval`, at most 6 banked.
    fn xrlim_allow(&mut self, now: Instant, dst: Ipv6Addr, interval: Duration) -> bool {
        let interval = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX / 8);
        if interval == 0 {
            return true;
        }
        let (credit, last) = match self.xrlim.get(&dst) {
            Some(&e) => e,
            None => {
                self.xrlim_order.push_back(dst);
                while self.xrlim_order.len() > PMTU_CACHE_MAX {
                    if let Some(old) = self.xrlim_order.pop_front() {
                        self.xrlim.remove(&old);
                    }
                }
                (XRLIM_BURST * interval, now)
            }
        };
        let elapsed = now.as_nanos().saturating_sub(last.as_nanos());
        let mut credit = credit.saturating_add(elapsed).min(XRLIM_BURST * interval);
        let ok = credit >= interval;
        if ok {
            credit -= interval;
        }
        self.xrlim.insert(dst, (credit, now));
        ok
    }
}

/// The ports (and TCP sequence number) at the start of a quoted transport header.
struct Quoted {
    protocol: IpProtocol,
    src_port: u16,
    dst_port: u16,
    seq: Option<u32>,
}

fn parse_quoted(header: &Ipv6Repr, data: &[u8]) -> Option<Quoted> {
    let (protocol, at) = ExtHeaderIter::new(header.next_header, data).upper_layer().ok()?;
    let t = data.get(at..)?;
    let be16 = |i: usize| Some(u16::from_be_bytes(t.get(i..i + 2)?.try_into().ok()?));
    let seq = t.get(4..8).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
    Some(Quoted { protocol, src_port: be16(0)?, dst_port: be16(2)?, seq })
}

impl Stack {
    /// The path MTU to `dst` leaving through `iface`: the interface MTU, lowered by a Packet
    /// Too Big still in force, never below 1280.
    pub(crate) fn path_mtu(&self, iface: usize, dst: IpAddr) -> u16 {
        let link = self.iface_mtu(iface);
        match dst {
            IpAddr::V6(d) => {
                let learnt = self.v6.learnt_pmtu(self.last_now, d).unwrap_or(u16::MAX);
                link.min(learnt).max(MIN_MTU)
            }
            IpAddr::V4(_) => link,
        }
    }

    /// The auto flow label for a flow (0 when `auto_flowlabels` says none).
    pub(crate) fn flow_label_for(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        protocol: IpProtocol,
    ) -> u32 {
        self.v6.flow_label(self.cfg.auto_flowlabels, local, remote, protocol)
    }

    /// Whether `addr` may be the source of a packet we accept.
    fn bad_v6_source(&self, iface: usize, src: Ipv6Addr) -> bool {
        src.is_multicast()
            || src.is_unspecified()
            || src.to_ipv4_mapped().is_some()
            || (iface != Stack::LOOPBACK && src.is_loopback())
    }

    pub(crate) fn ipv6_input(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.counters.ip6_in_receives += 1;
        let Ok(view) = Ipv6Packet::new_checked(packet) else {
            self.counters.ip6_in_hdr_errors += 1;
            return;
        };
        let Ok(ip) = Ipv6Repr::parse(&view) else {
            self.counters.ip6_in_hdr_errors += 1;
            return;
        };
        // Linux `ipv6_rcv`: every packet counted by its ECN codepoint (Ip6In*Pkts).
        *match ustack_tcp::Ecn::from_bits(ip.ecn) {
            ustack_tcp::Ecn::NotEct => &mut self.counters.ip6_in_no_ect_pkts,
            ustack_tcp::Ecn::Ect1 => &mut self.counters.ip6_in_ect1_pkts,
            ustack_tcp::Ecn::Ect0 => &mut self.counters.ip6_in_ect0_pkts,
            ustack_tcp::Ecn::Ce => &mut self.counters.ip6_in_ce_pkts,
        } += 1;
        // Link padding past the Payload Length is not part of the packet (Linux
        // `pskb_trim_rcsum` in `ipv6_rcv`).
        let packet = &packet[..ipv6::HEADER_LEN + ip.payload_len];
        // A destination not ours is taken only in transparent mode, and only off the
        // loopback interface (`crate::transparent`); which protocols it takes is decided
        // at delivery, after the extension headers.
        let dst_ok = (self.is_local(IpAddr::V6(ip.dst))
            && (iface == Stack::LOOPBACK || !ip.dst.is_loopback())
            && ip.dst.to_ipv4_mapped().is_none())
            || (self.any_ip.on && iface != Stack::LOOPBACK && self.is_any_ip_addr6(ip.dst));
        if !dst_ok || self.bad_v6_source(iface, ip.src) {
            self.counters.ip6_in_addr_errors += 1;
            return;
        }
        let view = Ipv6Packet::new_unchecked(packet);
        let chain = match view.walk_ext_headers(&self.v6.limits) {
            Ok(chain) => chain,
            Err(ExtHeaderError::Discard(_)) => {
                self.counters.ip6_in_hdr_errors += 1;
                return;
            }
            Err(ExtHeaderError::ParamProblem { reason, pointer }) => {
                if reason == ParamProblem::UnrecognizedNextHeader {
                    self.counters.ip6_in_unknown_protos += 1;
                } else {
                    self.counters.ip6_in_hdr_errors += 1;
                }
                self.send_param_problem(now, reason, pointer, packet);
                return;
            }
        };
        if let Some(f) = chain.fragment {
            if f.repr.is_atomic() {
                // RFC 6946 §4: processed in isolation, never with a reassembly.
                self.counters.ip6_atomic_frags += 1;
            } else {
                self.ipv6_fragment(now, iface, &ip, packet, f.repr, chain.offset);
                return;
            }
        }
        let upper = &packet[ipv6::HEADER_LEN + chain.offset..];
        self.ipv6_deliver(now, iface, &ip, chain.protocol, packet, upper);
    }

    fn ipv6_fragment(
        &mut self,
        now: Instant,
        iface: usize,
        ip: &Ipv6Repr,
        packet: &[u8],
        frag: Ipv6FragRepr,
        data_at: usize,
    ) {
        self.counters.ip6_reasm_reqds += 1;
        let key = Frag6Key { src: ip.src, dst: ip.dst, ident: frag.ident };
        let data = &packet[ipv6::HEADER_LEN + data_at..];
        let offset = usize::from(frag.frag_offset);
        let tag = (offset == 0).then_some(frag.next_header.0);
        let mut whole = std::mem::take(&mut self.v6.reasm);
        let complete = match self.frag6.push_fragment(now, key, offset, frag.more_frags, data, tag)
        {
            FragOutcome::Incomplete => false,
            FragOutcome::Dropped(_) => {
                self.counters.ip6_reasm_fails += 1;
                false
            }
            FragOutcome::Complete(bytes) => {
                whole.clear();
                whole.resize(ipv6::HEADER_LEN, 0);
                whole.extend_from_slice(bytes);
                true
            }
        };
        if complete {
            self.counters.ip6_reasm_oks += 1;
            // The offset-0 fragment's Next Header starts the fragmentable part.
            let next = IpProtocol(self.frag6.completed_tag().unwrap_or(59));
            let payload_len = whole.len() - ipv6::HEADER_LEN;
            let hdr = Ipv6Repr { next_header: next, payload_len, ..*ip };
            hdr.emit(&mut Ipv6Packet::new_unchecked(&mut whole[..]));
            let view = Ipv6Packet::new_unchecked(&whole[..]);
            match view.walk_ext_headers(&self.v6.limits) {
                Ok(chain) if !chain.needs_reassembly() => {
                    let upper = &whole[ipv6::HEADER_LEN + chain.offset..];
                    self.ipv6_deliver(now, iface, &hdr, chain.protocol, &whole, upper);
                }
                Err(ExtHeaderError::ParamProblem { reason, pointer }) => {
                    self.counters.ip6_in_hdr_errors += 1;
                    self.send_param_problem(now, reason, pointer, &whole);
                }
                _ => self.counters.ip6_in_hdr_errors += 1,
            }
        }
        self.v6.reasm = whole;
    }

    fn ipv6_deliver(
        &mut self,
        now: Instant,
        iface: usize,
        ip: &Ipv6Repr,
        protocol: IpProtocol,
        packet: &[u8],
        upper: &[u8],
    ) {
        // Transparent mode stands for other hosts in TCP, UDP and the ICMPv6 errors about
        // them; anything else to an address not ours is not for this host.
        // (Only in that mode does a packet to an address not ours get this far.)
        if self.any_ip.on
            && !matches!(protocol, IpProtocol::TCP | IpProtocol::UDP | IpProtocol::ICMPV6)
            && !self.is_local(IpAddr::V6(ip.dst))
        {
            self.counters.ip6_in_addr_errors += 1;
            return;
        }
        self.counters.ip6_in_delivers += 1;
        let from = Invoking::V6 { packet, src: ip.src, dst: ip.dst };
        match protocol {
            IpProtocol::TCP => self.tcp_input(now, iface, from, upper),
            IpProtocol::UDP => self.udp_input(now, iface, from, upper),
            IpProtocol::ICMPV6 => self.icmpv6_input(now, iface, ip, upper),
            // No Next Header (RFC 8200 §4.7): nothing to deliver.
            _ => {}
        }
    }

    /// IPv6 reassembly timeouts.
    pub(crate) fn ipv6_timeout(&mut self, now: Instant) {
        self.counters.ip6_reasm_timeouts += self.frag6.handle_timeout(now) as u64;
    }

    // ------------------------------------------------------------------------------------
    // ICMPv6 in
    // ------------------------------------------------------------------------------------

    fn icmpv6_input(&mut self, now: Instant, iface: usize, ip: &Ipv6Repr, payload: &[u8]) {
        self.counters.icmp6_in_msgs += 1;
        let Ok(view) = Icmpv6Packet::new_checked(payload) else {
            self.counters.icmp6_in_errors += 1;
            return;
        };
        let repr = match Icmpv6Repr::parse(&view, ip.src, ip.dst) {
            Ok(r) => r,
            Err(_) => {
                // Informational types ustack does not handle (NDP, MLD) are ignored (RFC 4443
                // §2.4 (b)); bad checksums and malformed errors are errors.
                if view.is_error() || !view.verify_checksum(ip.src, ip.dst) {
                    self.counters.icmp6_in_errors += 1;
                }
                return;
            }
        };
        match repr {
            Icmpv6Repr::EchoRequest { ident, seq_no, data } => {
                self.counters.icmp6_in_echos += 1;
                // Not for an address transparent mode stands for: the stack is not that host.
                if !self.cfg.icmp_echo || !self.is_local(IpAddr::V6(ip.dst)) {
                    return;
                }
                let reply = Icmpv6Repr::EchoReply { ident, seq_no, data };
                let (src, dst) = (ip.dst, ip.src);
                let out = IpOut {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(dst),
                    protocol: IpProtocol::ICMPV6,
                    dont_frag: false,
                    ttl: None,
                };
                if self.queue_datagram(iface, out, reply.buffer_len(), |buf| {
                    reply.emit(&mut Icmpv6Packet::new_unchecked(buf), src, dst);
                }) {
                    self.counters.icmp6_out_msgs += 1;
                    self.counters.icmp6_out_echo_replies += 1;
                }
            }
            Icmpv6Repr::EchoReply { .. } => {}
            Icmpv6Repr::DstUnreachable { reason, header, data } => {
                self.counters.icmp6_in_dest_unreachs += 1;
                let error = if reason == DstUnreachable::PortUnreachable {
                    IcmpError::PortUnreachable
                } else if reason.is_hard_error() {
                    // Linux `icmpv6_err_convert`: fatal, reported as the connection's error.
                    IcmpError::PortUnreachable
                } else {
                    IcmpError::HostUnreachable
                };
                self.icmpv6_error(
                    now,
                    &header,
                    data,
                    error,
                    reason == DstUnreachable::PortUnreachable,
                );
            }
            Icmpv6Repr::PacketTooBig { mtu, header, data } => {
                self.counters.icmp6_in_pkt_too_bigs += 1;
                self.packet_too_big(now, mtu, &header, data);
            }
            Icmpv6Repr::TimeExceeded { header, data, .. } => {
                self.counters.icmp6_in_time_excds += 1;
                self.icmpv6_error(now, &header, data, IcmpError::HostUnreachable, false);
            }
            Icmpv6Repr::ParamProblem { header, data, .. } => {
                self.counters.icmp6_in_parm_problems += 1;
                // Linux `icmpv6_err_convert`: EPROTO, fatal.
                self.icmpv6_error(now, &header, data, IcmpError::PortUnreachable, false);
            }
        }
    }

    /// An error about a packet we sent: to its TCP connection, or its UDP socket when it
    /// says the port is closed.
    fn icmpv6_error(
        &mut self,
        now: Instant,
        header: &Ipv6Repr,
        data: &[u8],
        error: IcmpError,
        port_unreachable: bool,
    ) {
        // About a packet we sent: from one of our addresses, or one transparent mode
        // stands for.
        if !self.speaks_for(IpAddr::V6(header.src)) {
            return;
        }
        let Some(q) = parse_quoted(header, data) else { return };
        let local = SocketAddr::new(IpAddr::V6(header.src), q.src_port);
        let remote = SocketAddr::new(IpAddr::V6(header.dst), q.dst_port);
        match q.protocol {
            IpProtocol::TCP => {
                let Some(seq) = q.seq else { return };
                self.tcp_icmp_error(now, local, remote, SeqNum(seq), error);
            }
            IpProtocol::UDP if port_unreachable => self.udp_icmp_refused(local, remote),
            _ => {}
        }
    }

    /// RFC 8201 §4: a Packet Too Big lowers the path MTU to its destination, never below
    /// 1280, for `ip6_rt_mtu_expires`; a TCP connection to it resends at the new size.
    fn packet_too_big(&mut self, now: Instant, mtu: u32, header: &Ipv6Repr, data: &[u8]) {
        // About a packet we sent: from one of our addresses, or one transparent mode
        // stands for.
        if !self.speaks_for(IpAddr::V6(header.src)) {
            return;
        }
        let dst = header.dst;
        // RFC 8201 §4: "A node MUST NOT increase its estimate of the Path MTU in response to
        // the contents of a Packet Too Big message"; below 1280 it goes to 1280 (RFC 8021:
        // and no atomic fragments).
        let reported = u16::try_from(mtu).unwrap_or(u16::MAX).max(MIN_MTU);
        let current = match self.route(IpAddr::V6(dst)) {
            Some((iface, _)) => self.path_mtu(iface, IpAddr::V6(dst)),
            None => return,
        };
        let pmtu = if reported < current {
            self.counters.ip6_pmtu_lowered += 1;
            let expires = now + self.cfg.ip6_rt_mtu_expires;
            self.v6.set_pmtu(dst, reported, expires);
            reported
        } else {
            current
        };
        let Some(q) = parse_quoted(header, data) else { return };
        if q.protocol == IpProtocol::TCP
            && let Some(seq) = q.seq
        {
            let local = SocketAddr::new(IpAddr::V6(header.src), q.src_port);
            let remote = SocketAddr::new(IpAddr::V6(dst), q.dst_port);
            self.tcp_icmp_error(
                now,
                local,
                remote,
                SeqNum(seq),
                IcmpError::FragNeeded { mtu: pmtu },
            );
        }
    }

    /// An ICMP error to the connection of `local`/`remote`, if there is one.
    pub(crate) fn tcp_icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        seq: SeqNum,
        error: IcmpError,
    ) {
        let key = crate::hash::ConnKey::new(local, remote);
        let Some(h) = self.tcp_conns.get(&self.slots, &key) else {
            self.counters.tcp_icmp_unmatched += 1;
            return;
        };
        match self.socket_mut(h) {
            Some(Socket::Tcp(t)) => {
                let _taken = t.conn.handle_icmp_error(now, seq, error);
                self.after_input(h);
            }
            Some(Socket::TimeWait(_)) => self.time_wait_icmp(h),
            _ => {}
        }
    }

    // ------------------------------------------------------------------------------------
    // ICMPv6 out
    // ------------------------------------------------------------------------------------

    /// Whether an ICMPv6 error about `invoking` (from its IPv6 header on) may be sent
    /// (RFC 4443 §2.4 (e), and the rate limits); `multicast_ok` for the messages RFC 4443
    /// allows about a packet to a multicast address.
    fn icmpv6_error_allowed(&mut self, now: Instant, invoking: &[u8], multicast_ok: bool) -> bool {
        let Ok((header, data)) = icmpv6::quote(invoking) else { return false };
        if header.src.is_unspecified() || header.src.is_multicast() {
            return false;
        }
        if header.dst.is_multicast() && !multicast_ok {
            return false;
        }
        // Never an error about an ICMPv6 error (RFC 4443 §2.4 (e.1)).
        if let Ok((IpProtocol::ICMPV6, at)) =
            ExtHeaderIter::new(header.next_header, data).upper_layer()
            && data.get(at).is_none_or(|&t| t < 128)
        {
            return false;
        }
        let Some((iface, _)) = self.route(IpAddr::V6(header.src)) else {
            self.counters.ip_out_no_routes += 1;
            return false;
        };
        let prefix = self.route_prefix_len(iface, IpAddr::V6(header.src));
        // Linux `icmpv6_xrlim_allow`: the interval halves for each 32 bits the route's
        // prefix is shorter than 128.
        let interval = self.cfg.icmpv6_ratelimit / (1 << ((128 - u32::from(prefix)) >> 5));
        if !self.v6.xrlim_allow(now, header.src, interval) || !self.icmp_tokens.take(now) {
            self.counters.icmp6_out_rate_limited += 1;
            return false;
        }
        true
    }

    /// Sends a destination unreachable (`reason`) about `invoking` back to its source.
    pub(crate) fn send_dst_unreachable_v6(
        &mut self,
        now: Instant,
        reason: DstUnreachable,
        invoking: &[u8],
    ) {
        if !self.icmpv6_error_allowed(now, invoking, false) {
            return;
        }
        let Ok((header, data)) = icmpv6::quote(invoking) else { return };
        let msg = Icmpv6Repr::DstUnreachable { reason, header, data };
        if self.send_icmpv6(header.dst, header.src, &msg) {
            self.counters.icmp6_out_dest_unreachs += 1;
        }
    }

    fn send_param_problem(
        &mut self,
        now: Instant,
        reason: ParamProblem,
        pointer: u32,
        invoking: &[u8],
    ) {
        let multicast_ok = reason == ParamProblem::UnrecognizedOption;
        if !self.icmpv6_error_allowed(now, invoking, multicast_ok) {
            return;
        }
        let Ok((header, data)) = icmpv6::quote(invoking) else { return };
        // A header the stack cannot parse is reported by the host it was for: not by an
        // address transparent mode stands for (it takes only TCP, UDP and ICMPv6 errors).
        if !self.is_local(IpAddr::V6(header.dst)) {
            return;
        }
        let msg = Icmpv6Repr::ParamProblem { reason, pointer, header, data };
        if self.send_icmpv6(header.dst, header.src, &msg) {
            self.counters.icmp6_out_parm_problems += 1;
        }
    }

    /// Queues an ICMPv6 error to `dst`, from `orig_dst` when that is ours (else from the
    /// route's source address).
    fn send_icmpv6(&mut self, orig_dst: Ipv6Addr, dst: Ipv6Addr, msg: &Icmpv6Repr<'_>) -> bool {
        let Some((iface, route_src)) = self.route(IpAddr::V6(dst)) else { return false };
        let src = if self.is_local(IpAddr::V6(orig_dst)) && !orig_dst.is_multicast() {
            orig_dst
        } else {
            match route_src {
                IpAddr::V6(a) => a,
                IpAddr::V4(_) => return false,
            }
        };
        let out = IpOut {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            protocol: IpProtocol::ICMPV6,
            dont_frag: false,
            ttl: None,
        };
        let sent = self.queue_datagram(iface, out, msg.buffer_len(), |buf| {
            msg.emit(&mut Icmpv6Packet::new_unchecked(buf), src, dst);
        });
        if sent {
            self.counters.icmp6_out_msgs += 1;
        }
        sent
    }

    // ------------------------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------------------------

    /// Queues an IPv6 packet of `payload_len` bytes of `protocol` that `write` fills in,
    /// fragmented to the path MTU when larger (RFC 8200 §4.5). Returns false when the
    /// transmit queue is full.
    pub(crate) fn queue_datagram_v6(
        &mut self,
        iface: usize,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        protocol: IpProtocol,
        payload_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> bool {
        let total = ipv6::HEADER_LEN + payload_len;
        let mtu = usize::from(self.path_mtu(iface, IpAddr::V6(dst)));
        let per_frag = (mtu - ipv6::HEADER_LEN - ustack_wire::ipv6ext::FRAG_HEADER_LEN) & !7;
        let overhead = (payload_len / per_frag + 1) * (ipv6::HEADER_LEN + 8);
        if payload_len > MAX_REASSEMBLED || !self.out.has_room(total + overhead) {
            self.counters.ip_out_discards += 1;
            return false;
        }
        let flow_label = match protocol {
            IpProtocol::ICMPV6 => 0,
            _ => self.v6_flow_label_of_datagram(src, dst, protocol),
        };
        let mut repr = Ipv6Repr {
            src,
            dst,
            next_header: protocol,
            payload_len,
            hop_limit: self.cfg.ipv6_hop_limit,
            dscp: 0,
            ecn: 0,
            flow_label,
        };
        let mut packet = self.out.buffer(total);
        write(&mut packet[ipv6::HEADER_LEN..]);
        if total <= mtu {
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut packet[..]));
            self.out.push(iface, packet);
            return true;
        }
        // RFC 8200 §4.5: the fragmentable part (here the whole payload) in pieces of a
        // multiple of 8 bytes, each behind the fixed header and a Fragment header.
        let ident = self.v6.next_ident(src, dst);
        repr.next_header = IpProtocol::FRAGMENT;
        let mut offset = 0;
        while offset < payload_len {
            let len = per_frag.min(payload_len - offset);
            let hdr_len = ipv6::HEADER_LEN + 8;
            let mut frag = self.out.buffer(hdr_len + len);
            let start = ipv6::HEADER_LEN + offset;
            frag[hdr_len..].copy_from_slice(&packet[start..start + len]);
            repr.payload_len = 8 + len;
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut frag[..]));
            let fh = Ipv6FragRepr {
                next_header: protocol,
                frag_offset: offset as u16,
                more_frags: offset + len < payload_len,
                ident,
            };
            fh.emit(&mut frag[ipv6::HEADER_LEN..hdr_len]);
            self.out.push(iface, frag);
            self.counters.ip6_frag_creates += 1;
            offset += len;
        }
        self.out.recycle(packet);
        true
    }

    /// The flow label of a datagram that belongs to no TCP connection: a keyed hash of its
    /// addresses and protocol (its ports are not at hand; one per address pair).
    fn v6_flow_label_of_datagram(&self, src: Ipv6Addr, dst: Ipv6Addr, protocol: IpProtocol) -> u32 {
        let s = SocketAddr::new(IpAddr::V6(src), 0);
        let d = SocketAddr::new(IpAddr::V6(dst), 0);
        self.flow_label_for(s, d, protocol)
    }
}
