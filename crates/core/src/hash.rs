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
