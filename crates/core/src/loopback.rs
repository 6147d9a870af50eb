//! The loopback interface and local delivery: which addresses are ours, how a destination is
//! routed (the stack's own addresses first, as Linux's `local` table is consulted before
//! `main`), which source address a packet takes, and which arriving packets are martians.
//!
//! Like Linux `lo`, the loopback interface holds 127.0.0.1/8 and ::1/128, and the whole of
//! 127.0.0.0/8 is local (Linux adds `local 127.0.0.0/8 dev lo`): a socket may bind 127.0.0.5,
//! and a packet to it is delivered here. A packet to the address of a device interface is
//! delivered locally too, through the loopback interface, as Linux routes it (`ip route get
//! 10.0.0.2` on a host with that address says `local 10.0.0.2 dev lo`). How looped packets
//! travel is in the [`crate::stack`] documentation.
//!
//! Routes are looked up per family: the longest prefix among the routes of the destination's
//! family wins. An IPv6 packet leaves from the interface's IPv6 address that shares the
//! longest prefix with the destination (RFC 6724 §5, rule 8), else from any of the stack's
//! IPv6 addresses; IPv4 from the interface's address, else from any of the stack's.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::stack::{InterfaceConfig, Stack};
use crate::{Ipv4Cidr, Ipv6Cidr};

/// 127.0.0.0/8.
const LOOPBACK_NET: Ipv4Cidr = match Ipv4Cidr::new(Ipv4Addr::new(127, 0, 0, 0), 8) {
    Some(c) => c,
    None => unreachable!(),
};

/// The loopback interface: 127.0.0.1/8 and ::1/128. Linux gives `lo` an MTU of 65536; an
/// IPv4 packet holds at most 65535 bytes, so 65535 carries exactly what Linux carries (and
/// gives the same MSS, 65535 − 40 = 65495, Linux's `ipv4_default_advmss` cap): nothing on
/// loopback is ever fragmented. IPv6 over it: MSS 65535 − 60.
pub(crate) fn loopback_iface() -> InterfaceConfig {
    InterfaceConfig {
        ipv4: Some(Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8).expect("/8")),
        ipv6: vec![Ipv6Cidr::new(Ipv6Addr::LOCALHOST, 128).expect("/128")],
        mtu: u16::MAX,
    }
}

/// How many leading bits two IPv6 addresses share.
fn common_prefix(a: Ipv6Addr, b: Ipv6Addr) -> u32 {
    (u128::from(a) ^ u128::from(b)).leading_zeros()
}

impl Stack {
    /// The index of the loopback interface (127.0.0.1/8, ::1/128), which every stack has.
    /// Device interfaces are numbered from 0 by [`Stack::add_interface`]; this index is none
    /// of theirs, and [`Stack::poll_transmit`] never returns it: packets routed to it are
    /// delivered locally.
    pub const LOOPBACK: usize = usize::MAX;

    /// Whether `addr` is one of ours: in 127.0.0.0/8, ::1, or a device interface's address.
    /// (An IPv4-mapped address is not: the stack turns those into IPv4 first.)
    pub(crate) fn is_local(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) if LOOPBACK_NET.contains(a) => true,
            IpAddr::V6(a) if a.is_loopback() => true,
            _ => self.ifaces.iter().any(|i| i.has_addr(addr)),
        }
    }

    /// Whether an IPv4 packet from `src` to `dst` that arrived on `iface` must be dropped
    /// (RFC 1122 §3.2.1.3; Linux `ip_route_input_slow` and `fib_validate_source`):
    /// - a source no single host can have: 0.0.0.0, limited or directed broadcast, class D
    ///   (multicast) or E;
    /// - on a device interface, a source or destination in 127.0.0.0/8 (Linux: martian
    ///   source or destination unless `route_localnet`), and a source that is one of our own
    ///   addresses (Linux: `accept_local` is off), so nobody on the wire can make the stack
    ///   talk to itself (a LAND attack's SYN from our own address and port).
    pub(crate) fn is_martian(&self, iface: usize, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let directed = |i: &InterfaceConfig| {
            i.ipv4.is_some_and(|c| {
                c.prefix_len() < 31
                    && u32::from(src) == u32::from(c.network()) | !u32::from(c.netmask())
            })
        };
        let bad_anywhere =
            src.is_unspecified() || src.octets()[0] >= 224 || self.ifaces.iter().any(directed);
        let bad_on_device = iface != Stack::LOOPBACK
            && (self.is_local(IpAddr::V4(src)) || LOOPBACK_NET.contains(dst));
        bad_anywhere || bad_on_device
    }

    /// Whether `addr` may be bound: one of ours, or an unspecified address, or in
    /// transparent mode any unicast address it may stand for (`crate::transparent`).
    pub(crate) fn is_bindable(&self, addr: IpAddr) -> bool {
        addr.is_unspecified() || self.speaks_for(addr)
    }

    /// Whether the stack sends from `addr`: one of its addresses, or in transparent mode an
    /// address it stands for (`crate::transparent`).
    pub(crate) fn speaks_for(&self, addr: IpAddr) -> bool {
        self.is_local(addr) || (self.any_ip.on && self.is_any_ip(addr))
    }

    /// The route to `dst`: the interface and our address on it. Our own addresses go to the
    /// loopback interface (from 127.0.0.1 for 127.0.0.0/8, ::1 for ::1, else from the
    /// address itself, as Linux's local routes say); other destinations take the longest
    /// matching prefix of their family. `None`: no route, or no address of the family to
    /// send from.
    pub(crate) fn route(&self, dst: IpAddr) -> Option<(usize, IpAddr)> {
        match dst {
            IpAddr::V4(a) if LOOPBACK_NET.contains(a) => {
                return Some((Stack::LOOPBACK, IpAddr::V4(Ipv4Addr::LOCALHOST)));
            }
            IpAddr::V6(a) if a.is_loopback() => {
                return Some((Stack::LOOPBACK, IpAddr::V6(Ipv6Addr::LOCALHOST)));
            }
            _ => {}
        }
        if self.is_local(dst) {
            return Some((Stack::LOOPBACK, dst));
        }
        let r = self
            .routes
            .iter()
            .filter(|r| r.dest.contains(dst))
            .max_by_key(|r| r.dest.prefix_len())?;
        Some((r.iface, self.source_for(r.iface, dst)?))
    }

    /// The source address for `dst` leaving through device interface `iface`.
    fn source_for(&self, iface: usize, dst: IpAddr) -> Option<IpAddr> {
        match dst {
            IpAddr::V4(_) => {
                let own = self.ifaces[iface].ipv4;
                own.or_else(|| self.ifaces.iter().find_map(|i| i.ipv4))
                    .map(|c| IpAddr::V4(c.addr()))
            }
            IpAddr::V6(d) => {
                let best = |i: &InterfaceConfig| {
                    i.ipv6.iter().map(|c| c.addr()).max_by_key(|&a| common_prefix(a, d))
                };
                best(&self.ifaces[iface])
                    .or_else(|| self.ifaces.iter().find_map(best))
                    .map(IpAddr::V6)
            }
        }
    }

    /// The prefix length of the route `dst` takes through `iface` (128 or 32 for our own
    /// addresses and for a destination no route of `iface` holds).
    pub(crate) fn route_prefix_len(&self, iface: usize, dst: IpAddr) -> u8 {
        let full = if dst.is_ipv6() { 128 } else { 32 };
        if iface == Stack::LOOPBACK {
            return full;
        }
        self.routes
            .iter()
            .filter(|r| r.iface == iface && r.dest.contains(dst))
            .map(|r| r.dest.prefix_len())
            .max()
            .unwrap_or(full)
    }

    /// The MTU of interface `iface` (device or loopback).
    pub(crate) fn iface_mtu(&self, iface: usize) -> u16 {
        if iface == Stack::LOOPBACK { self.lo.mtu } else { self.ifaces[iface].mtu }
    }
}
