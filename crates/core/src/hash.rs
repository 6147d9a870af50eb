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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnKey([u8; 36]);

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
