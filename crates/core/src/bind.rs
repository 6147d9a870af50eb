//! Who is bound where: TCP listeners and UDP sockets by (address, port), over both families,
//! with Linux's dual-stack rules (`inet_rcv_saddr_equal`, `ipv6_rcv_saddr_equal`).
//!
//! A bind covers a set of local addresses on its port:
//!
//! | bound to                           | IPv4 addresses | IPv6 addresses |
//! |------------------------------------|----------------|----------------|
//! | `0.0.0.0`                          | all            | none           |
//! | `a.b.c.d` (or `::ffff:a.b.c.d`)    | `a.b.c.d`      | none           |
//! | `::`, IPV6_V6ONLY off              | all            | all            |
//! | `::`, IPV6_V6ONLY on               | none           | all            |
//! | an IPv6 address                    | none           | that one       |
//!
//! Two binds of one port conflict (`EADDRINUSE`) when their sets meet: `0.0.0.0` and `::`
//! conflict unless the `::` socket is V6ONLY, `::` conflicts with every other bind of the port
//! (and with another `::` whatever their V6ONLY), an IPv6 address with `::` and itself. An
//! IPv4-mapped address is the IPv4 address (an IPv6 socket bound to `::ffff:10.0.0.1` takes
//! IPv4 traffic to 10.0.0.1 only, and conflicts as an IPv4 bind of it would).
//!
//! Demux of an arriving packet to (address, port), the most specific bind first: the address
//! itself, then the unspecified address of the packet's family, then, for IPv4, a `::` bind
//! without V6ONLY (a dual-stack socket, which sees the peer as `::ffff:a.b.c.d`). Linux
//! scores an `AF_INET` socket above an `AF_INET6` one for IPv4 traffic the same way. Three
//! hash lookups at most; no scan.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::hash::{self, KeyedMap};
use crate::socket::SocketHandle;

/// How many binds of a port cover some IPv4, and some IPv6, address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PortCover {
    v4: u32,
    v6: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    handle: SocketHandle,
    v6only: bool,
}

/// The binds of one protocol.
#[derive(Debug)]
pub(crate) struct BindTable {
    /// (canonical address, port) → socket.
    by_addr: KeyedMap<SocketAddr, Bound>,
    /// Port → how many binds cover each family.
    ports: KeyedMap<u16, PortCover>,
}

/// What a bind to `addr` covers, as (IPv4 addresses?, IPv6 addresses?).
fn covers(addr: SocketAddr, v6only: bool) -> (bool, bool) {
    match addr.ip() {
        IpAddr::V4(_) => (true, false),
        IpAddr::V6(a) if a.is_unspecified() => (!v6only, true),
        IpAddr::V6(_) => (false, true),
    }
}

fn v4_any(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
}

fn v6_any(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)
}

impl BindTable {
    pub(crate) fn new(secret: [u8; 16], domain: u8) -> BindTable {
        BindTable { by_addr: hash::map(secret, domain), ports: hash::map(secret, domain ^ 0x40) }
    }

    /// Whether a bind to `addr` (canonical: see `crate::addr::canonical`) with `v6only`
    /// would overlap a bind already there.
    pub(crate) fn conflicts(&self, addr: SocketAddr, v6only: bool) -> bool {
        let port = addr.port();
        let cover = self.ports.get(&port).copied().unwrap_or_default();
        match addr.ip() {
            IpAddr::V4(a) if a.is_unspecified() => cover.v4 > 0,
            IpAddr::V4(_) => {
                self.by_addr.contains_key(&addr)
                    || self.by_addr.contains_key(&v4_any(port))
                    || self.by_addr.get(&v6_any(port)).is_some_and(|b| !b.v6only)
            }
            IpAddr::V6(a) if a.is_unspecified() => cover.v6 > 0 || (!v6only && cover.v4 > 0),
            IpAddr::V6(_) => {
                self.by_addr.contains_key(&addr) || self.by_addr.contains_key(&v6_any(port))
            }
        }
    }

    /// Whether any bind uses `port`.
    pub(crate) fn port_used(&self, port: u16) -> bool {
        self.ports.contains_key(&port)
    }

    /// Records a bind the caller checked with `conflicts`.
    pub(crate) fn insert(&mut self, addr: SocketAddr, v6only: bool, handle: SocketHandle) {
        self.by_addr.insert(addr, Bound { handle, v6only });
        let (v4, v6) = covers(addr, v6only);
        let c = self.ports.entry(addr.port()).or_default();
        c.v4 += u32::from(v4);
        c.v6 += u32::from(v6);
    }

    /// Forgets the bind of `addr` (made with `v6only`).
    pub(crate) fn remove(&mut self, addr: SocketAddr, v6only: bool) {
        self.by_addr.remove(&addr);
        let (v4, v6) = covers(addr, v6only);
        if let Some(c) = self.ports.get_mut(&addr.port()) {
            c.v4 -= u32::from(v4);
            c.v6 -= u32::from(v6);
            if *c == PortCover::default() {
                self.ports.remove(&addr.port());
            }
        }
    }

    /// The binds that take a packet to `local` (canonical), most specific first.
    pub(crate) fn candidates(&self, local: SocketAddr) -> impl Iterator<Item = SocketHandle> + '_ {
        let port = local.port();
        let (any, dual) = match local.ip() {
            IpAddr::V4(_) => (v4_any(port), Some(v6_any(port))),
            IpAddr::V6(_) => (v6_any(port), None),
        };
        let exact = self.by_addr.get(&local).map(|b| b.handle);
        let any = self.by_addr.get(&any).map(|b| b.handle);
        let dual = dual.and_then(|d| self.by_addr.get(&d)).filter(|b| !b.v6only).map(|b| b.handle);
        exact.into_iter().chain(any).chain(dual)
    }

    /// Whether no bind is left.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_addr.is_empty() && self.ports.is_empty()
    }

    /// The first of `candidates`.
    pub(crate) fn lookup(&self, local: SocketAddr) -> Option<SocketHandle> {
        self.candidates(local).next()
    }
}
