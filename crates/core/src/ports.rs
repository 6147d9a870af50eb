//! Ephemeral port selection, RFC 6056 §3.3.3 "Algorithm 3: Simple Hash-Based Port Selection"
//! with the table of §3.3.4's Algorithm 4 perturbation: the starting point is a keyed hash of
//! (local address, remote address, remote port), so ports are unpredictable to an off-path
//! attacker (RFC 6056 §1) yet successive connections to one destination walk the range
//! instead of colliding; `next` is kept per hash bucket. Addresses of either family are hashed
//! in 16 bytes (IPv4 as IPv4-mapped).

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use ustack_tcp::KeyedHash;

const TABLE: usize = 256;

#[derive(Debug)]
pub(crate) struct PortAllocator {
    lo: u16,
    count: u32,
    hash: KeyedHash,
    table: [u32; TABLE],
}

impl PortAllocator {
    pub(crate) fn new(range: (u16, u16), secret: [u8; 16]) -> PortAllocator {
        let mut key = secret;
        key[0] ^= 0x50; // a key distinct from the ISN generator's
        PortAllocator {
            lo: range.0,
            count: u32::from(range.1 - range.0) + 1,
            hash: KeyedHash::new(key),
            table: [0; TABLE],
        }
    }

    /// Picks a port for a flow from `local` to `remote` (`remote` is `None` for a bind to port
    /// 0): the first port from the hashed starting point for which `free(port)` holds, or
    /// `None` when the whole range is taken (SPEC S25).
    pub(crate) fn pick(
        &mut self,
        local: impl Into<IpAddr>,
        remote: Option<SocketAddr>,
        mut free: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let unspecified = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        let r = remote.unwrap_or(unspecified);
        let mut data = [0u8; 34];
        data[..16].copy_from_slice(&crate::hash::v6_octets(local.into()));
        data[16..32].copy_from_slice(&crate::hash::v6_octets(r.ip()));
        data[32..].copy_from_slice(&r.port().to_be_bytes());
        let offset = self.hash.hash(&data) as u32;
        let bucket = (self.hash.hash(&data[16..]) as usize) % TABLE;
        for _ in 0..self.count {
            let next = self.table[bucket];
            self.table[bucket] = next.wrapping_add(1);
            let port = self.lo + (offset.wrapping_add(next) % self.count) as u16;
            if free(port) {
                return Some(port);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const L: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn walks_the_whole_range_then_reports_exhaustion() {
        let mut p = PortAllocator::new((40000, 40099), [7; 16]);
        let remote = Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80).into());
        let mut used = BTreeSet::new();
        for _ in 0..100 {
            let port = p.pick(L, remote, |port| !used.contains(&port)).expect("a free port");
            assert!((40000..=40099).contains(&port));
            assert!(used.insert(port));
        }
        assert_eq!(p.pick(L, remote, |port| !used.contains(&port)), None);
    }

    #[test]
    fn starting_point_depends_on_the_key_and_destination() {
        let a = SocketAddr::from(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80));
        let b = SocketAddr::from(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 443));
        let first =
            |key: u8, r| PortAllocator::new((32768, 60999), [key; 16]).pick(L, Some(r), |_| true);
        assert_ne!(first(1, a), first(2, a), "the secret moves the start");
        assert_ne!(first(1, a), first(1, b), "the destination moves the start");
        assert_eq!(first(1, a), first(1, a), "deterministic for a key");
    }
}
