//! Ephemeral port selection, RFC 6056 §3.3.3 "Algorithm 3: Simple Hash-Based Port Selection"
//! with the table of §3.3.4's Algorithm 4 perturbation: the starting point is a keyed hash of
//! (local address, remote address, remote port), so ports are unpredictable to an off-path
//! attacker (RFC 6056 §1) yet successive connections to one destination walk the range
//! instead of colliding; `next` is kept per hash bucket. One 64-bit hash gives both, as in
//! Linux: the bucket from its low bits, the starting offset from its high 32. Addresses of
//! either family are hashed in 16 bytes (IPv4 as IPv4-mapped).

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
        // One keyed hash for both, as Linux's `__inet_hash_connect` takes them from one
        // SipHash: the table index from its low bits, the offset from its high 32.
        let h = self.hash.hash(&data);
        let offset = (h >> 32) as u32;
        let bucket = (h as usize) % TABLE;
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
    fn one_keyed_hash_gives_the_starting_offset_and_the_table_bucket() {
        // As Linux's `__inet_hash_connect`: the offset from the hash's high 32 bits, the
        // perturbation table's bucket from its low bits; the first pick to a destination
        // starts at the offset, the next one after it (that bucket's counter moved on).
        let key = [9u8; 16];
        let remote = SocketAddr::from(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80));
        let mut data = [0u8; 34];
        data[..16].copy_from_slice(&crate::hash::v6_octets(L.into()));
        data[16..32].copy_from_slice(&crate::hash::v6_octets(remote.ip()));
        data[32..].copy_from_slice(&80u16.to_be_bytes());
        let mut k = key;
        k[0] ^= 0x50;
        let h = KeyedHash::new(k).hash(&data);
        let mut p = PortAllocator::new((32768, 60999), key);
        let count = 60999 - 32768 + 1;
        let start = 32768 + ((h >> 32) as u32 % count) as u16;
        assert_eq!(p.pick(L, Some(remote), |_| true), Some(start));
        assert_eq!(p.table[(h as usize) % TABLE], 1, "the low bits' bucket moved on");
        assert_eq!(p.pick(L, Some(remote), |_| true), Some(start + 1));
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
