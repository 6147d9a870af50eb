//! Initial sequence numbers (RFC 6528) and the keyed hash behind them.
//!
//! RFC 6528 §3: "TCP SHOULD generate its Initial Sequence Numbers with the expression:
//! ISN = M + F(localip, localport, remoteip, remoteport, secretkey) where M is the 4
//! microsecond timer, and F() is a pseudorandom function (PRF) of the connection-id. F() MUST
//! NOT be computable from the outside, or an attacker could still guess at sequence numbers
//! from the ISN used for some other connection."
//!
//! - M is derived from the `now` the caller hands in: one tick per 4 µs since the caller's
//!   epoch, modulo 2^32 (it wraps every 2^32 × 4 µs ≈ 4.77 hours). No clock is read here.
//! - F is SipHash-2-4, a keyed PRF, over the connection-id under a 128-bit key the caller
//!   draws from its (seeded, in a simulation) random source: RFC 6528 §3, "Key lengths of
//!   128 bits should be adequate." No randomness is drawn here.
//!
//! [`KeyedHash`] is the PRF on its own, for other secrets derived from a 4-tuple (SYN cookies,
//! RFC 4987). Give each use its own key.

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;
use ustack_wire::SeqNum;

use crate::Instant;

/// SipHash-2-4 under a 128-bit secret key: a pseudorandom function of its input that cannot
/// be computed without the key. `Debug` does not show the key.
#[derive(Clone)]
pub struct KeyedHash {
    hasher: SipHasher24,
}

impl KeyedHash {
    /// A hash under `key`: the SipHash key `k0 || k1`, each half read little-endian, as in
    /// the SipHash paper's reference code and test vectors.
    pub fn new(key: [u8; 16]) -> KeyedHash {
        KeyedHash { hasher: SipHasher24::new_with_key(&key) }
    }

    /// SipHash-2-4 of `data`.
    pub fn hash(&self, data: &[u8]) -> u64 {
        self.hasher.hash(data)
    }

    /// The hash of a connection-id plus a caller-chosen `extra` word (0 for ISNs; a time
    /// counter for SYN cookies), over the bytes `local ip, local port, remote ip,
    /// remote port, extra`, each in network byte order: 16 bytes over IPv4, 40 over IPv6
    /// (the full 128-bit addresses, as Linux's `secure_tcpv6_seq` hashes them). Both ends
    /// are of one family; a mixed pair hashes each address in its own length.
    pub fn hash_four_tuple(&self, local: SocketAddr, remote: SocketAddr, extra: u32) -> u64 {
        let mut message = [0u8; 40];
        let mut at = 0;
        for end in [local, remote] {
            match end.ip() {
                IpAddr::V4(a) => {
                    message[at..at + 4].copy_from_slice(&a.octets());
                    at += 4;
                }
                IpAddr::V6(a) => {
                    message[at..at + 16].copy_from_slice(&a.octets());
                    at += 16;
                }
            }
            message[at..at + 2].copy_from_slice(&end.port().to_be_bytes());
            at += 2;
        }
        message[at..at + 4].copy_from_slice(&extra.to_be_bytes());
        self.hash(&message[..at + 4])
    }
}

impl fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedHash").finish_non_exhaustive()
    }
}

/// Chooses initial sequence numbers per RFC 6528: `ISN = M + F(4-tuple, key)`.
///
/// One generator per stack, keyed once at start-up. The same 4-tuple at the same instant gets
/// the same ISN; later incarnations of a 4-tuple get ISNs that move forward with the 4 µs
/// clock (RFC 9293 §3.4.1), while other 4-tuples' ISNs are unrelated and unpredictable.
#[derive(Clone, Debug)]
pub struct IsnGenerator {
    prf: KeyedHash,
}

impl IsnGenerator {
    /// The length of one tick of M, in nanoseconds: "the 4 microsecond timer".
    pub const TICK_NANOS: u64 = 4_000;

    /// A generator keyed with `key`, which the caller draws at random (128 bits).
    pub fn new(key: [u8; 16]) -> IsnGenerator {
        IsnGenerator { prf: KeyedHash::new(key) }
    }

    /// The ISN for a connection from `local` to `remote` opened at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNum {
        self.isn_and_ts_offset(now, local, remote).0
    }

    /// The ISN of [`IsnGenerator::isn`] and the connection's TCP timestamp offset
    /// (RFC 7323 §5.4: a random offset per connection, so TSval does not reveal the host's
    /// clock), from one pass of the PRF over the connection-id: F is the low 32 bits of its
    /// 64, the offset the high 32 (as Linux's `secure_tcp_seq_and_tsoff` derived both from
    /// one SipHash). The halves of a PRF's output are independent, so the offset, which the
    /// peer sees, tells nothing of F; and both are the same for every incarnation of the
    /// 4-tuple, so timestamps keep growing across them, as PAWS and `tcp_tw_reuse` need.
    pub fn isn_and_ts_offset(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> (SeqNum, u32) {
        let h = self.prf.hash_four_tuple(local, remote, 0);
        (SeqNum(Self::clock(now)) + h as u32, (h >> 32) as u32)
    }

    /// The timestamp offset of the connection from `local` to `remote`: the one
    /// [`IsnGenerator::isn_and_ts_offset`] gives it.
    pub fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        (self.prf.hash_four_tuple(local, remote, 0) >> 32) as u32
    }

    /// M: the number of 4 µs ticks since the epoch of `now`, modulo 2^32.
    pub const fn clock(now: Instant) -> u32 {
        (now.as_nanos() / Self::TICK_NANOS) as u32
    }
}

#[cfg(test)]
mod tests;
