//! What the wire does to a packet once it left the queue: steps 4 to 10 of
//! [`LinkConfig`]'s list (loss, burst loss per packet and in time, corruption, duplication,
//! jitter, reordering).
//!
//! Every configured impairment draws from its own stream for every packet that reaches the
//! wire, lost or not, so the packets one impairment hits do not depend on the others. The
//! periods of timed burst loss draw from a stream of their own, one draw per period in time
//! order, so they depend on nothing but the seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ustack_core::{Duration, Instant};

use crate::config::{LinkConfig, TimedBursts};
use crate::rng::{Stream, link_rng};

/// Why the wire lost a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireLoss {
    Random,
    /// Gilbert-Elliott, per packet.
    Burst,
    /// A bad period of timed burst loss.
    TimedBurst,
}

/// What the wire did to a packet it did not lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WireEffects {
    /// The bit flipped, counted from the first byte's least significant bit.
    pub(crate) corrupted_bit: Option<usize>,
    pub(crate) duplicated: bool,
    /// The jitter's offset to the propagation delay, in nanoseconds (0 without jitter).
    pub(crate) jitter_nanos: i64,
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
    jitter: ChaCha8Rng,
    /// The Gilbert-Elliott chain is in Bad.
    bad: bool,
    periods: Periods,
    timed_loss: ChaCha8Rng,
}

impl Impairments {
    pub(crate) fn new(seed: u64, link: usize, dir: usize) -> Self {
        Impairments {
            loss: link_rng(seed, link, dir, Stream::Loss),
            burst: link_rng(seed, link, dir, Stream::BurstLoss),
            corrupt: link_rng(seed, link, dir, Stream::Corrupt),
            duplicate: link_rng(seed, link, dir, Stream::Duplicate),
            reorder: link_rng(seed, link, dir, Stream::Reorder),
            jitter: link_rng(seed, link, dir, Stream::Jitter),
            bad: false,
            periods: Periods::new(link_rng(seed, link, dir, Stream::TimedBurstPeriods)),
            timed_loss: link_rng(seed, link, dir, Stream::TimedBurstLoss),
        }
    }

    /// Puts `packet` on the wire at `at` (when its last bit leaves): either lost, or
    /// possibly changed in place (one bit flipped) with the effects to apply to its delivery.
    /// `at` never goes back from one packet to the next.
    pub(crate) fn on_wire(
        &mut self,
        cfg: &LinkConfig,
        at: Instant,
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
        let timed_lost = cfg.timed_burst_loss.is_some_and(|tb| {
            let loss = if self.periods.bad_at(&tb, at) { tb.loss_in_bad } else { tb.loss_in_good };
            self.timed_loss.random_bool(loss)
        });
        let corrupt = cfg.corrupt > 0.0 && self.corrupt.random_bool(cfg.corrupt);
        let duplicated = cfg.duplicate > 0.0 && self.duplicate.random_bool(cfg.duplicate);
        let jitter_nanos = if cfg.jitter.is_zero() {
            0
        } else {
            // Up to 2^63 - 1 ns, some 292 years, either way.
            let bound = i64::try_from(cfg.jitter.as_nanos()).unwrap_or(i64::MAX);
            self.jitter.random_range(-bound..=bound)
        };
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
        if timed_lost {
            return Err(WireLoss::TimedBurst);
        }
        let corrupted_bit = (corrupt && !packet.is_empty()).then(|| {
            let bit = self.corrupt.random_range(0..packet.len() * 8);
            packet[bit / 8] ^= 1 << (bit % 8);
            bit
        });
        Ok(WireEffects { corrupted_bit, duplicated, jitter_nanos, held_back })
    }
}

/// The good and bad periods of timed burst loss: a timeline drawn lazily, period by period,
/// as packets come to later times.
#[derive(Debug, Clone)]
struct Periods {
    rng: ChaCha8Rng,
    /// The current period, once the first has been drawn: whether it is bad, and when it
    /// started and ends (`[start, end)`).
    current: Option<Period>,
}

#[derive(Debug, Clone, Copy)]
struct Period {
    bad: bool,
    start: Instant,
    end: Instant,
}

impl Periods {
    fn new(rng: ChaCha8Rng) -> Self {
        Periods { rng, current: None }
    }

    /// Whether `at` lies in a bad period. `at` may not go back from one call to the next.
    fn bad_at(&mut self, model: &TimedBursts, at: Instant) -> bool {
        let mut period = match self.current {
            Some(period) => period,
            None => {
                // The first period starts at zero in the stationary state; by memorylessness
                // its remaining length is a whole exponential draw.
                let bad = self.rng.random_bool(model.bad_fraction());
                let end = Instant::ZERO + self.length(model, bad);
                Period { bad, start: Instant::ZERO, end }
            }
        };
        debug_assert!(at >= period.start, "timed burst loss asked about the past");
        while at >= period.end {
            let bad = !period.bad;
            period = Period { bad, start: period.end, end: period.end + self.length(model, bad) };
        }
        self.current = Some(period);
        period.bad
    }

    /// The length of a new period: exponential with the state's mean, to the nanosecond.
    fn length(&mut self, model: &TimedBursts, bad: bool) -> Duration {
        let mean = if bad { model.mean_bad } else { model.mean_good };
        // 1 - u lies in (0, 1]: its logarithm is finite.
        let u: f64 = self.rng.random();
        let nanos = -(mean.as_nanos() as f64) * (1.0 - u).ln();
        // `as` saturates: a draw past the end of time ends the period never.
        Duration::from_nanos(nanos.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GilbertElliott, TimedBursts};

    #[test]
    fn corruption_flips_one_bit() {
        let cfg = LinkConfig::new().corrupt(1.0);
        let mut imp = Impairments::new(3, 0, 0);
        for _ in 0..100 {
            let mut p = vec![0u8; 40];
            let fx = imp.on_wire(&cfg, Instant::ZERO, &mut p).unwrap();
            let bit = fx.corrupted_bit.unwrap();
            assert_eq!(p.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
            assert_eq!(p[bit / 8], 1 << (bit % 8));
        }
        let mut empty = [];
        assert_eq!(imp.on_wire(&cfg, Instant::ZERO, &mut empty).unwrap().corrupted_bit, None);
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
            assert_eq!(
                a.on_wire(&plain, Instant::ZERO, &mut p).is_err(),
                b.on_wire(&busy, Instant::ZERO, &mut q).is_err()
            );
        }
    }

    #[test]
    fn gilbert_elliott_without_good_loss_only_loses_in_bad() {
        let cfg = LinkConfig::new().burst_loss(GilbertElliott::new(0.0, 1.0));
        let mut imp = Impairments::new(1, 0, 0);
        assert!((0..1000).all(|_| imp.on_wire(&cfg, Instant::ZERO, &mut [0u8; 4]).is_ok()));
    }

    /// Walks `periods` through `n` periods, returning each: (bad, length).
    fn walk(periods: &mut Periods, model: &TimedBursts, n: usize) -> Vec<(bool, Duration)> {
        let mut at = Instant::ZERO;
        (0..n)
            .map(|_| {
                let bad = periods.bad_at(model, at);
                let p = periods.current.unwrap();
                at = p.end;
                (bad, p.end - p.start)
            })
            .collect()
    }

    #[test]
    fn timed_periods_alternate_with_exponential_lengths_of_their_means() {
        // Tg = 30 ms, Tb = 10 ms. Exponential lengths: mean T, standard deviation T, and a
        // share exp(-1) longer than T. Bounds: four standard errors.
        const N: usize = 200_000;
        let (tg, tb) = (Duration::from_millis(30), Duration::from_millis(10));
        let model = TimedBursts::new(tg, tb);
        let mut periods = Periods::new(link_rng(1, 0, 0, Stream::TimedBurstPeriods));
        let walked = walk(&mut periods, &model, N);
        assert!(walked.windows(2).all(|w| w[0].0 != w[1].0), "periods alternate");
        for (bad, mean) in [(true, tb), (false, tg)] {
            let lengths: Vec<f64> =
                walked.iter().filter(|w| w.0 == bad).map(|w| w.1.as_secs_f64()).collect();
            let n = lengths.len() as f64;
            let t = mean.as_secs_f64();
            let measured = lengths.iter().sum::<f64>() / n;
            assert!((measured - t).abs() < 4.0 * t / n.sqrt(), "bad {bad}: mean {measured}");
            let longer = lengths.iter().filter(|l| **l > t).count() as f64 / n;
            let tail = (-1.0f64).exp();
            let se = (tail * (1.0 - tail) / n).sqrt();
            assert!((longer - tail).abs() < 4.0 * se, "bad {bad}: {longer} longer than the mean");
        }
        // Bad Tb / (Tg + Tb) of the time. The ratio of the two sums has a standard error of
        // sqrt(2 / n) Tg Tb / (Tg + Tb)^2, n periods of each.
        let time = |bad: bool| walked.iter().filter(|w| w.0 == bad).map(|w| w.1).sum::<Duration>();
        let share = time(true).as_secs_f64() / (time(true) + time(false)).as_secs_f64();
        let (g, b) = (tg.as_secs_f64(), tb.as_secs_f64());
        let se = (2.0 / (N / 2) as f64).sqrt() * g * b / (g + b).powi(2);
        assert!((share - model.bad_fraction()).abs() < 4.0 * se, "bad {share} of the time");
        assert_eq!(model.bad_fraction(), 0.25);
    }

    #[test]
    fn timed_periods_start_bad_with_the_stationary_probability() {
        // Over 20,000 seeds the link starts Bad in Tb / (Tg + Tb) = 1/4 of them.
        const SEEDS: u64 = 20_000;
        let model = TimedBursts::new(Duration::from_millis(30), Duration::from_millis(10));
        let bad = (0..SEEDS)
            .filter(|seed| {
                let mut periods = Periods::new(link_rng(*seed, 0, 0, Stream::TimedBurstPeriods));
                periods.bad_at(&model, Instant::ZERO)
            })
            .count() as f64;
        let (mean, se) = (SEEDS as f64 * 0.25, (SEEDS as f64 * 0.25 * 0.75).sqrt());
        assert!((bad - mean).abs() < 4.0 * se, "{bad} of {SEEDS} started Bad");
    }
}
