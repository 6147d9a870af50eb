//! The loopback interface and local delivery: which addresses are ours, how a destination is
//! routed (the stack's own addresses first, as Linux's `local` table is consulted before
//! `main`), and which arriving packets are martians.
//!
//! Like Linux `lo`, the loopback interface holds 127.0.0.1/8 and the whole of 127.0.0.0/8 is
//! local (Linux adds `local 127.0.0.0/8 dev lo`): a socket may bind 127.0.0.5, and a packet to
//! it is delivered here. A packet to the address of a device interface is delivered locally
//! too, through the loopback interface, as Linux routes it (`ip route get 10.0.0.2` on a host
//! with that address says `local 10.0.0.2 dev lo`). How looped packets travel is in the
//! [`crate::stack`] documentation.

use core::net::Ipv4Addr;

use crate::Ipv4Cidr;
use crate::stack::{InterfaceConfig, Stack};

/// 127.0.0.0/8.
const LOOPBACK_NET: Ipv4Cidr = match Ipv4Cidr::new(Ipv4Addr::new(127, 0, 0, 0), 8) {
    Some(c) => c,
    None => unreachable!(),
};

/// The loopback interface: 127.0.0.1/8. Linux gives `lo` an MTU of 65536; an IPv4 packet
/// holds at most 65535 bytes, so 65535 carries exactly what Linux carries (and gives the same
/// MSS, 65535 − 40 = 65495, Linux's `ipv4_default_advmss` cap): nothing on loopback is ever
/// fragmented.
pub(crate) const LOOPBACK_IFACE: InterfaceConfig = InterfaceConfig {
    addr: match Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8) {
        Some(c) => c,
        None => unreachable!(),
    },
    mtu: u16::MAX,
};

impl Stack {
    /// The index of the loopback interface (127.0.0.1/8), which every stack has. Device
    /// interfaces are numbered from 0 by [`Stack::add_interface`]; this index is none of
    /// theirs, and [`Stack::poll_transmit`] never returns it: packets routed to it are
    /// delivered locally.
    pub const LOOPBACK: usize = usize::MAX;

    /// Whether `addr` is one of ours: in 127.0.0.0/8 or a device interface's address.
    pub(crate) fn is_local(&self, addr: Ipv4Addr) -> bool {
        LOOPBACK_NET.contains(addr) || self.ifaces.iter().any(|i| i.addr.addr() == addr)
    }

    /// Whether a packet from `src` to `dst` that arrived on `iface` must be dropped
    /// (RFC 1122 §3.2.1.3; Linux `ip_route_input_slow` and `fib_validate_source`):
    /// - a source no single host can have: 0.0.0.0, limited or directed broadcast, class D
    ///   (multicast) or E;
    /// - on a device interface, a source or destination in 127.0.0.0/8 (Linux: martian
    ///   source or destination unless `route_localnet`), and a source that is one of our own
    ///   addresses (Linux: `accept_local` is off), so nobody on the wire can make the stack
    ///   talk to itself (a LAND attack's SYN from our own address and port).
    pub(crate) fn is_martian(&self, iface: usize, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let directed = |i: &InterfaceConfig| {
            i.addr.prefix_len() < 31
                && u32::from(src) == u32::from(i.addr.network()) | !u32::from(i.addr.netmask())
        };
        let bad_anywhere =
            src.is_unspecified() || src.octets()[0] >= 224 || self.ifaces.iter().any(directed);
        let bad_on_device =
            iface != Stack::LOOPBACK && (self.is_local(src) || LOOPBACK_NET.contains(dst));
        bad_anywhere || bad_on_device
    }

    /// Whether `addr` may be bound: one of ours, or the unspecified address, or in
    /// transparent mode any unicast address (`crate::transparent`).
    pub(crate) fn is_bindable(&self, addr: Ipv4Addr) -> bool {
        addr.is_unspecified()
            || self.is_local(addr)
            || (self.any_ip.on && self.is_any_ip_addr(addr))
    }

    /// The route to `dst`: the interface and our address on it. Our own addresses go to the
    /// loopback interface (from 127.0.0.1 for 127.0.0.0/8, else from the address itself, as
    /// Linux's local routes say); other destinations take the longest matching prefix.
    pub(crate) fn route(&self, dst: Ipv4Addr) -> Option<(usize, Ipv4Addr)> {
        if LOOPBACK_NET.contains(dst) {
            return Some((Stack::LOOPBACK, LOOPBACK_IFACE.addr.addr()));
        }
        if self.is_local(dst) {
            return Some((Stack::LOOPBACK, dst));
        }
        let r = self
            .routes
            .iter()
            .filter(|r| r.dest.contains(dst))
            .max_by_key(|r| r.dest.prefix_len())?;
        Some((r.iface, self.ifaces[r.iface].addr.addr()))
    }

    /// The MTU of interface `iface` (device or loopback).
    pub(crate) fn iface_mtu(&self, iface: usize) -> u16 {
        if iface == Stack::LOOPBACK { LOOPBACK_IFACE.mtu } else { self.ifaces[iface].mtu }
    }
}
