//! The 4-tuple as a connection keeps it: [`FourTuple`] holds two `SocketAddr`s (64 bytes,
//! room for an IPv6 flow label and scope id on each side, which a connection never has);
//! [`Packed`] holds the addresses and ports alone, 38 bytes, and gives the `FourTuple` back
//! unchanged.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::FourTuple;

/// A [`FourTuple`] without the flow info and scope id its IPv6 addresses never carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Packed {
    local_port: u16,
    remote_port: u16,
    addrs: Addrs,
}

/// Both addresses, of one family (a connection's two ends always are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addrs {
    V4 { local: Ipv4Addr, remote: Ipv4Addr },
    V6 { local: Ipv6Addr, remote: Ipv6Addr },
}

impl Packed {
    /// Packs `tuple`. Mixed families and IPv6 flow info or scope ids are not a connection's
    /// (`FourTuple` says so): a mixed tuple keeps the remote family, an IPv4 address
    /// becoming IPv4-mapped, and flow info and scope ids read back as 0.
    pub(super) fn new(tuple: FourTuple) -> Packed {
        debug_assert_eq!(tuple.local.is_ipv6(), tuple.remote.is_ipv6(), "{tuple:?}");
        let v6 = |a: SocketAddr| match a {
            SocketAddr::V4(a) => a.ip().to_ipv6_mapped(),
            SocketAddr::V6(a) => {
                debug_assert!(a.flowinfo() == 0 && a.scope_id() == 0, "{a}");
                *a.ip()
            }
        };
        let addrs = match (tuple.local, tuple.remote) {
            (SocketAddr::V4(l), SocketAddr::V4(r)) => Addrs::V4 { local: *l.ip(), remote: *r.ip() },
            (l, r) => Addrs::V6 { local: v6(l), remote: v6(r) },
        };
        Packed { local_port: tuple.local.port(), remote_port: tuple.remote.port(), addrs }
    }

    /// The tuple packed.
    pub(super) fn get(self) -> FourTuple {
        let (local, remote) = match self.addrs {
            Addrs::V4 { local, remote } => (
                SocketAddr::V4(SocketAddrV4::new(local, self.local_port)),
                SocketAddr::V4(SocketAddrV4::new(remote, self.remote_port)),
            ),
            Addrs::V6 { local, remote } => (
                SocketAddr::V6(SocketAddrV6::new(local, self.local_port, 0, 0)),
                SocketAddr::V6(SocketAddrV6::new(remote, self.remote_port, 0, 0)),
            ),
        };
        FourTuple { local, remote }
    }

    pub(super) const fn local_port(self) -> u16 {
        self.local_port
    }

    pub(super) const fn remote_port(self) -> u16 {
        self.remote_port
    }

    /// Whether the connection runs over IPv6 ([`FourTuple::is_ipv6`]).
    pub(super) const fn is_ipv6(self) -> bool {
        matches!(self.addrs, Addrs::V6 { .. })
    }

    /// [`FourTuple::header_len`].
    pub(super) const fn header_len(self) -> u16 {
        if self.is_ipv6() { 60 } else { 40 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_tuple_gives_back_the_tuple_of_either_family_in_38_bytes() {
        let v4 = FourTuple {
            local: "10.0.0.1:49152".parse().unwrap(),
            remote: "10.0.0.2:80".parse().unwrap(),
        };
        let v6 = FourTuple {
            local: "[2001:db8::1]:49152".parse().unwrap(),
            remote: "[2001:db8::2]:443".parse().unwrap(),
        };
        for t in [v4, v6] {
            let p = Packed::new(t);
            assert_eq!(p.get(), t);
            assert_eq!((p.local_port(), p.remote_port()), (t.local.port(), t.remote.port()));
            assert_eq!((p.is_ipv6(), p.header_len()), (t.is_ipv6(), t.header_len()));
        }
        assert!(core::mem::size_of::<Packed>() <= 38, "{}", core::mem::size_of::<Packed>());
    }
}
