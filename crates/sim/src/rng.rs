//! Seeded randomness: one ChaCha8 key from the network's seed, and one independent stream of
//! it per use, so that adding a link, or turning an impairment on, leaves every other stream's
//! draws as they were.
//!
//! Streams (ChaCha's 64-bit nonce): link `l`, direction `d` (0 = A to B), impairment `k` use
//! `(2l + d) * 8 + k`; [`derive_seed`] uses `2^63 + label`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::RngCore;

/// The random stream for one impairment of one link direction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Loss = 0,
    BurstLoss = 1,
    Corrupt = 2,
    Duplicate = 3,
    Reorder = 4,
    /// The good and bad periods of [`TimedBursts`](crate::TimedBursts), drawn in time order.
    TimedBurstPeriods = 5,
    /// The per-packet loss draw of [`TimedBursts`](crate::TimedBursts).
    TimedBurstLoss = 6,
    /// The delay offset of [`LinkConfig::jitter`](crate::LinkConfig::jitter).
    Jitter = 7,
}

const STREAMS_PER_DIRECTION: u64 = 8;
const DERIVED: u64 = 1 << 63;

/// The generator for `stream` of direction `dir` (0 or 1) of link `link`.
pub(crate) fn link_rng(seed: u64, link: usize, dir: usize, stream: Stream) -> ChaCha8Rng {
    let direction = (link as u64) * 2 + dir as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(direction * STREAMS_PER_DIRECTION + stream as u64);
    rng
}

/// A seed for something outside the network (a host's ISN generator, say), fixed by the
/// network's seed and `label`, independent of every link's draws.
pub(crate) fn derive_seed(seed: u64, label: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(DERIVED | label);
    rng.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_distinct_and_replay() {
        let a = link_rng(1, 0, 0, Stream::Loss).next_u64();
        assert_eq!(a, link_rng(1, 0, 0, Stream::Loss).next_u64());
        assert_ne!(a, link_rng(1, 0, 1, Stream::Loss).next_u64());
        assert_ne!(a, link_rng(1, 1, 0, Stream::Loss).next_u64());
        assert_ne!(a, link_rng(1, 0, 0, Stream::Corrupt).next_u64());
        assert_ne!(a, link_rng(2, 0, 0, Stream::Loss).next_u64());
        assert_eq!(derive_seed(1, 7), derive_seed(1, 7));
        assert_ne!(derive_seed(1, 7), derive_seed(1, 8));
    }
}
