//! What the wire does to a packet once it left the queue: steps 4 to 8 of
//! [`LinkConfig`]'s list (loss, burst loss, corruption, duplication, reordering).
//!
//! Every configured impairment draws from its own stream for every packet that reaches the
//! wire, lost or not, so the packets one impairment hits do not depend on the others.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ustack_core::Duration;

use crate::config::LinkConfig;
use crate::rng::{Stream, link_rng};

/// Why the wire lost a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireLoss {
    Random,
    Burst,
}

/// What the wire did to a packet it did not lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WireEffects {
    /// The bit flipped, counted from the first byte's least significant bit.
    pub(crate) corrupted_bit: Option<usize>,
    pub(crate) duplicated: bool,
    /// The extra delay of a reordered packet.
    pub(crate) held_back: Option<Duration>,
}

/// The random state of one link direction's impairments.
#[derive(Debug, Clone)]
pub(crate) struct Impairments {
    loss: ChaCha8Rng,
    burst: ChaCha8Rng,
    corrupt: ChaCha8Rng,
    duplicate: ChaCha8Rng,
    reorder: ChaCha8Rng,
    /// The Gilbert-Elliott chain is in Bad.
    bad: bool,
}

impl Impairments {
    pub(crate) fn new(seed: u64, link: usize, dir: usize) -> Self {
        Impairments {
            loss: link_rng(seed, link, dir, Stream::Loss),
            burst: link_rng(seed, link, dir, Stream::BurstLoss),
            corrupt: link_rng(seed, link, dir, Stream::Corrupt),
            duplicate: link_rng(seed, link, dir, Stream::Duplicate),
            reorder: link_rng(seed, link, dir, Stream::Reorder),
            bad: false,
        }
    }

    /// Puts `packet` on the wire: either lost, or possibly changed in place (one bit flipped)
    /// with the effects to apply to its delivery.
    pub(crate) fn on_wire(
        &mut self,
        cfg: &LinkConfig,
        packet: &mut [u8],
    ) -> Result<WireEffects, WireLoss> {
        // Every draw first, in a fixed order, whatever the outcome.
        let lost = cfg.loss > 0.0 && self.loss.random_bool(cfg.loss);
        let burst_lost = cfg.burst_loss.is_some_and(|ge| {
            let leave = if self.bad { ge.r } else { ge.p };
            if self.burst.random_bool(leave) {
                self.bad = !self.bad;
            }
            let loss = if self.bad { ge.loss_in_bad } else { ge.loss_in_good };
            self.burst.random_bool(loss)
        });
        let corrupt = cfg.corrupt > 0.0 && self.corrupt.random_bool(cfg.corrupt);
        let duplicated = cfg.duplicate > 0.0 && self.duplicate.random_bool(cfg.duplicate);
        let held_back = cfg
            .reorder
            .filter(|r| r.probability > 0.0 && self.reorder.random_bool(r.probability))
            .map(|r| r.extra_delay);

        if lost {
            return Err(WireLoss::Random);
        }
        if burst_lost {
            return Err(WireLoss::Burst);
        }
        let corrupted_bit = (corrupt && !packet.is_empty()).then(|| {
            let bit = self.corrupt.random_range(0..packet.len() * 8);
            packet[bit / 8] ^= 1 << (bit % 8);
            bit
        });
        Ok(WireEffects { corrupted_bit, duplicated, held_back })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GilbertElliott;

    #[test]
    fn corruption_flips_one_bit() {
        let cfg = LinkConfig::new().corrupt(1.0);
        let mut imp = Impairments::new(3, 0, 0);
        for _ in 0..100 {
            let mut p = vec![0u8; 40];
            let fx = imp.on_wire(&cfg, &mut p).unwrap();
            let bit = fx.corrupted_bit.unwrap();
            assert_eq!(p.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
            assert_eq!(p[bit / 8], 1 << (bit % 8));
        }
        let mut empty = [];
        assert_eq!(imp.on_wire(&cfg, &mut empty).unwrap().corrupted_bit, None);
    }

    #[test]
    fn loss_pattern_ignores_other_impairments() {
        let plain = LinkConfig::new().loss(0.3);
        let busy = plain.clone().duplicate(0.5).corrupt(0.5).reorder(0.5, Duration::from_millis(1));
        let mut a = Impairments::new(9, 2, 1);
        let mut b = Impairments::new(9, 2, 1);
        for _ in 0..1000 {
            let mut p = [0u8; 20];
            let mut q = [0u8; 20];
            assert_eq!(a.on_wire(&plain, &mut p).is_err(), b.on_wire(&busy, &mut q).is_err());
        }
    }

    #[test]
    fn gilbert_elliott_without_good_loss_only_loses_in_bad() {
        let cfg = LinkConfig::new().burst_loss(GilbertElliott::new(0.0, 1.0));
        let mut imp = Impairments::new(1, 0, 0);
        assert!((0..1000).all(|_| imp.on_wire(&cfg, &mut [0u8; 4]).is_ok()));
    }
}
