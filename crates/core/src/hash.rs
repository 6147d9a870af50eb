//! The hasher of the stack's tables: SipHash-1-3 keyed from the stack's secret, so an
//! attacker who picks ports and addresses cannot aim for one bucket (hash flooding), and a
//! simulation replays (no process-random `RandomState`).

use core::hash::BuildHasher;
use std::collections::{HashMap, HashSet};

use siphasher::sip::SipHasher13;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyed {
    k0: u64,
    k1: u64,
}

impl Keyed {
    pub(crate) fn new(secret: [u8; 16], domain: u8) -> Keyed {
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&secret[..8]);
        k1.copy_from_slice(&secret[8..]);
        Keyed { k0: u64::from_le_bytes(k0) ^ u64::from(domain), k1: u64::from_le_bytes(k1) }
    }
}

impl BuildHasher for Keyed {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

pub(crate) type KeyedMap<K, V> = HashMap<K, V, Keyed>;
pub(crate) type KeyedSet<K> = HashSet<K, Keyed>;

pub(crate) fn map<K, V>(secret: [u8; 16], domain: u8) -> KeyedMap<K, V> {
    HashMap::with_hasher(Keyed::new(secret, domain))
}

pub(crate) fn set<K>(secret: [u8; 16], domain: u8) -> KeyedSet<K> {
    HashSet::with_hasher(Keyed::new(secret, domain))
}

/// The demux key of a TCP connection: both addresses in 16 bytes (IPv4 as IPv4-mapped, so
/// an IPv4 and an IPv6 tuple never collide) and both ports, 36 bytes hashed with one write.
/// Built straight from a packet's header fields on the hot path, without going through
/// `SocketAddr`'s enum.
#[derive(Debug, Clone, Copy, Eq)]
pub(crate) struct ConnKey([u8; 36]);

impl PartialEq for ConnKey {
    /// As three words, which compile to a few loads and compares where the derived byte-array
    /// comparison called `memcmp` (every demux look-up compares keys).
    fn eq(&self, other: &ConnKey) -> bool {
        fn words(k: &[u8; 36]) -> (u128, u128, u32) {
            let (a, rest) = k.split_first_chunk::<16>().expect("36 bytes");
            let (b, c) = rest.split_first_chunk::<16>().expect("20 bytes");
            let c: &[u8; 4] = c.try_into().expect("4 bytes");
            (u128::from_ne_bytes(*a), u128::from_ne_bytes(*b), u32::from_ne_bytes(*c))
        }
        words(&self.0) == words(&other.0)
    }
}

impl ConnKey {
    /// The key of (local, remote).
    pub(crate) fn new(local: core::net::SocketAddr, remote: core::net::SocketAddr) -> ConnKey {
        let mut k = [0u8; 36];
        k[..16].copy_from_slice(&v6_octets(local.ip()));
        k[16..32].copy_from_slice(&v6_octets(remote.ip()));
        k[32..34].copy_from_slice(&local.port().to_be_bytes());
        k[34..36].copy_from_slice(&remote.port().to_be_bytes());
        ConnKey(k)
    }
}

impl ConnKey {
    /// Whether this is the key of `tuple`: `*self == ConnKey::from(tuple)`, compared field
    /// by field without building the other key (the demux table compares a probe's key with
    /// the 4-tuple of the connection in a slot: `crate::demux`). Ports first, the cheapest
    /// to tell two connections of one host apart.
    pub(crate) fn is_of(&self, tuple: ustack_tcp::FourTuple) -> bool {
        fn addr_is(k: &[u8], ip: core::net::IpAddr) -> bool {
            match ip {
                core::net::IpAddr::V4(a) => {
                    k[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] && k[12..16] == a.octets()
                }
                core::net::IpAddr::V6(a) => k[..16] == a.octets(),
            }
        }
        let k = &self.0;
        k[32..34] == tuple.local.port().to_be_bytes()
            && k[34..36] == tuple.remote.port().to_be_bytes()
            && addr_is(&k[..16], tuple.local.ip())
            && addr_is(&k[16..32], tuple.remote.ip())
    }
}

impl From<ustack_tcp::FourTuple> for ConnKey {
    fn from(t: ustack_tcp::FourTuple) -> ConnKey {
        ConnKey::new(t.local, t.remote)
    }
}

impl core::hash::Hash for ConnKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// An address in 16 bytes: IPv6 as is, IPv4 as IPv4-mapped.
pub(crate) fn v6_octets(ip: core::net::IpAddr) -> [u8; 16] {
    match ip {
        core::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        core::net::IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::ConnKey;
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    #[test]
    fn conn_keys_are_equal_exactly_when_both_ends_are() {
        let v4 = |a: u8, port: u16| SocketAddr::from((Ipv4Addr::new(10, 0, 0, a), port));
        let v6 = |a: u16, port: u16| {
            SocketAddr::from((Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a), port))
        };
        let ends = [
            (v4(1, 40_000), v4(2, 80)),
            (v4(1, 40_001), v4(2, 80)),
            (v4(1, 40_000), v4(2, 81)),
            (v4(3, 40_000), v4(2, 80)),
            (v4(1, 40_000), v4(3, 80)),
            (v4(2, 80), v4(1, 40_000)),
            (v6(1, 40_000), v6(2, 80)),
            (v6(1, 40_000), v6(3, 80)),
            (SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(), 40_000)), v4(2, 80)),
        ];
        for (i, a) in ends.iter().enumerate() {
            for (j, b) in ends.iter().enumerate() {
                let same = ConnKey::new(a.0, a.1) == ConnKey::new(b.0, b.1);
                // An IPv4 address and its IPv4-mapped form are one key (both are written as
                // IPv4-mapped), the last two entries.
                let expected = i == j || (i.min(j) == 0 && i.max(j) == 8);
                assert_eq!(same, expected, "{a:?} {b:?}");
                let tuple = ustack_tcp::FourTuple { local: b.0, remote: b.1 };
                assert_eq!(ConnKey::new(a.0, a.1).is_of(tuple), expected, "{a:?} is_of {b:?}");
            }
        }
    }
}
