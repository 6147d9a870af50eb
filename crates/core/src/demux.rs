//! The demux table of TCP connections: exact 4-tuple → the connection's slot, from
//! SYN-RECEIVED to the end of TIME-WAIT (connection or record).
//!
//! The table holds slot indices alone, 4 bytes and a control byte per bucket, where a map
//! from key to handle held 45 (the 36-byte [`ConnKey`], the 8-byte handle): the key of an
//! entry is the 4-tuple of the socket in its slot ([`tuple_of`]), read back when a probe
//! needs it. A bucket is hashed with the stack's keyed SipHash of the [`ConnKey`], as before
//! (hash flooding defence, runs that replay); the table compares a probe's key with a slot's
//! 4-tuple only for an entry whose 7 control bits match (`ConnKey::is_of`, field by field),
//! one comparison per look-up that finds its connection, and a rehash computes every entry's
//! hash again from its slot.
//!
//! The invariant that makes this work: an index is in the table exactly while its slot holds
//! the connection (or the TIME-WAIT record it became) that was hashed with it. A connection
//! leaves the table before its slot is freed (`Stack::unhash_conn`, `Stack::unhash_tuple`),
//! and the slot's generation does not change meanwhile, so the index with the slot's
//! generation is the handle the connection was hashed with.

use core::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use ustack_tcp::FourTuple;

use crate::hash::{ConnKey, Keyed};
use crate::socket::SocketHandle;
use crate::stack::{Slot, Socket};

/// Exact 4-tuple → connection: slot indices, hashed by their connection's [`ConnKey`].
#[derive(Debug)]
pub(crate) struct ConnTable {
    table: HashTable<u32>,
    hasher: Keyed,
}

/// The 4-tuple of the connection in slot `index`, whether the slot holds the connection or
/// its TIME-WAIT record: the key of its entry. Panics on a slot that holds neither, which the
/// table's invariant rules out (module documentation).
pub(crate) fn tuple_of(slots: &[Slot], index: u32) -> FourTuple {
    match slots.get(index as usize).and_then(|s| s.sock.as_ref()) {
        Some(Socket::Tcp(t)) => t.conn.tuple(),
        Some(Socket::TimeWait(r)) => r.tw.tuple(),
        _ => panic!("demux entry {index} names a slot without a connection"),
    }
}

/// The key of the connection in slot `index` ([`tuple_of`]).
fn key_of(slots: &[Slot], index: u32) -> ConnKey {
    ConnKey::from(tuple_of(slots, index))
}

/// The handle of the socket in slot `index`.
fn handle_of(slots: &[Slot], index: u32) -> SocketHandle {
    SocketHandle { index, generation: slots[index as usize].generation }
}

impl ConnTable {
    /// An empty table hashing with `hasher`.
    pub(crate) fn new(hasher: Keyed) -> ConnTable {
        ConnTable { table: HashTable::new(), hasher }
    }

    fn hash(&self, key: &ConnKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The connection holding `key`.
    pub(crate) fn get(&self, slots: &[Slot], key: &ConnKey) -> Option<SocketHandle> {
        let &index = self.table.find(self.hash(key), |&i| key.is_of(tuple_of(slots, i)))?;
        Some(handle_of(slots, index))
    }

    /// Files `h`, whose slot holds the connection of `key` already, under `key`; a connection
    /// filed under the same key before is not found any more (as a map's insert replaces).
    pub(crate) fn insert(&mut self, slots: &[Slot], key: ConnKey, h: SocketHandle) {
        debug_assert!(key_of(slots, h.index) == key, "{h} does not hold the key it is filed under");
        let hasher = self.hasher;
        let rehash = |&i: &u32| hasher.hash_one(key_of(slots, i));
        match self.table.entry(self.hash(&key), |&i| key.is_of(tuple_of(slots, i)), rehash) {
            Entry::Occupied(mut e) => *e.get_mut() = h.index,
            Entry::Vacant(e) => {
                e.insert(h.index);
            }
        }
    }

    /// Takes `h` out of the table if it is filed under `key`. Its slot need not hold it any
    /// more: the entry is found by its index, the only one of that index in the table.
    pub(crate) fn remove(&mut self, key: &ConnKey, h: SocketHandle) {
        if let Ok(e) = self.table.find_entry(self.hash(key), |&i| i == h.index) {
            e.remove();
        }
    }

    /// How many connections are filed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no connection is filed.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The bytes the table holds on the heap (buckets and control bytes), for the memory
    /// tests.
    #[cfg(test)]
    pub(crate) fn allocation_size(&self) -> usize {
        self.table.allocation_size()
    }
}
