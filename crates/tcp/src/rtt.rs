//! Round-trip time estimation and the retransmission timeout: RFC 6298, with Linux's RTO floor.
//!
//! # What RFC 6298 says, and what we do
//!
//! - (2.1) "Until a round-trip time (RTT) measurement has been made for a segment sent between
//!   the sender and receiver, the sender SHOULD set RTO <- 1 second". The initial RTO is a
//!   setting (`rto_initial`, 1 s).
//! - (2.2) "When the first RTT measurement R is made, the host MUST set SRTT <- R,
//!   RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR) where K = 4." Done as written.
//! - (2.3) "When a subsequent RTT measurement R' is made, a host MUST set
//!   RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|,
//!   SRTT <- (1 - alpha) * SRTT + alpha * R' [...] using alpha=1/8 and beta=1/4". Done as
//!   written, in that order (RTTVAR uses the SRTT from before the sample), in nanoseconds.
//! - (2.4) "Whenever RTO is computed, if it is less than 1 second, then the RTO SHOULD be
//!   rounded up to 1 second." **Not done: we do what Linux does** (the project's rule where
//!   Linux and an RFC's SHOULD differ, SPEC "Defaults follow Linux"). Linux never rounds up
//!   to 1 s; it adds its minimum RTO to SRTT instead:
//!
//!   ```text
//!   RTO = SRTT + max(G, K·RTTVAR, rto_min)        clamped to [rto_min, rto_max]
//!   ```
//!
//!   Linux keeps `rttvar_us` (≈ K·RTTVAR) at least `tcp_rto_min_us` (`tcp_rtt_estimator`:
//!   `tp->rttvar_us = max(tp->mdev_us, tcp_rto_min_us(sk))`, and `mdev_max_us` restarts at
//!   `tcp_rto_min_us` every RTT), and `__tcp_set_rto` returns `(tp->srtt_us >> 3) +
//!   tp->rttvar_us`; `tcp_set_rto` notes "clamping at TCP_RTO_MIN is not required, current
//!   algo guarantees that rto is higher". So on a LAN with a 100 µs RTT the RTO is
//!   100 µs + 200 ms = 200.1 ms, not RFC 6298's 1 s; after a first sample R of 500 ms it is
//!   R + max(2R, 200 ms) = 1.5 s, the same as the RFC's 3R.
//! - (2.5) "A maximum value MAY be placed on RTO provided it is at least 60 seconds." The cap
//!   is a setting (`rto_max`, Linux's 120 s).
//! - (5.5) "The host MUST set RTO <- RTO * 2 ("back off the timer"). The maximum value
//!   discussed in (2.5) above may be used to provide an upper bound to this doubling
//!   operation." [`RttEstimator::backoff`] counts doublings; [`RttEstimator::rto`] is
//!   `min(base_rto · 2^backoffs, rto_max)`, like Linux's `inet_csk_rto_backoff`.
//! - (5.7) "If the timer expires awaiting the ACK of a SYN segment and the TCP implementation
//!   is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3 seconds when
//!   data transmission begins". [`RttEstimator::apply_syn_fallback`]; Linux does it in
//!   `tcp_init_metrics` (`TCP_TIMEOUT_FALLBACK`) when the handshake gave no RTT sample.
//! - Section 5, last paragraph: once a new RTT measurement arrives after backing off, the RTO
//!   is recomputed, "which may result in "collapsing" RTO back down". A sample clears the
//!   backoff, as Linux's `tcp_ack_update_rtt` does ("RFC6298: only reset backoff on valid RTT
//!   measurement.").
//!
//! Two refinements of Linux's estimator are left out, because they need the sequence space the
//! engine owns, not just samples: the variance decays at most once per flight (`mdev_max_us`,
//! `rtt_seq`), and a sample below SRTT moves the variance with gain 1/32 instead of 1/4 ("This
//! is similar to one of Eifel findings"). Both only change how fast a high RTTVAR falls; the
//! floor above is what decides the RTO on the paths we test.
//!
//! # Clock granularity G
//!
//! Our clock has nanosecond resolution, but a timer is only as fine as the driver that fires
//! it: tokio's timer wheel has 1 ms slots, and Linux arms its RTO in jiffies (1 ms at
//! HZ = 1000, `usecs_to_jiffies` rounds up). G is therefore 1 ms
//! ([`RttEstimator::GRANULARITY`]). With Linux's floor it only matters when `rto_min` is set
//! below 1 ms. RFC 6298 §4: "finer clock granularities (<= 100 msec) perform somewhat better
//! than coarser granularities."
//!
//! # Karn's rule is the caller's
//!
//! RFC 6298 §3: "RTT samples MUST NOT be made using segments that were retransmitted [...]
//! The only case when TCP can safely take RTT samples from retransmitted segments is when the
//! TCP timestamp option is employed, since the timestamp option removes the ambiguity". The
//! engine decides which ACKs give a sample: the echoed timestamp (RFC 7323 §4) when timestamps
//! are on, else only an ACK covering a segment sent once. This type takes every sample it is
//! given.

use core::time::Duration;

use crate::config::TcpConfig;

/// SRTT, RTTVAR and the retransmission timeout of one connection (RFC 6298 with Linux's
/// floor; see the module doc). Plain numbers: no allocation, no clock. Kept in nanoseconds
/// (`u64`, some 584 years; longer durations are cut there), 64 bytes where seven
/// `Duration`s would take twice that: every connection carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    /// Smoothed RTT; [`NONE`] until the first sample.
    srtt: u64,
    /// RTT variation (RFC 6298's RTTVAR, not multiplied by K).
    rttvar: u64,
    /// The last sample taken; [`NONE`] before the first.
    latest: u64,
    /// RTO before any sample, within [min, max].
    initial: u64,
    min: u64,
    max: u64,
    /// RTO without backoff, within [min, max].
    base_rto: u64,
    /// Doublings since the last sample or reset.
    backoffs: u32,
}

/// "No sample yet" in `srtt` and `latest` (a sample of zero is possible: two stacks in one
/// process, in virtual time).
const NONE: u64 = u64::MAX;

/// `d` in nanoseconds, cut below [`NONE`].
fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(NONE - 1)) as u64
}

fn duration(n: u64) -> Duration {
    Duration::from_nanos(n)
}

impl RttEstimator {
    /// K of RFC 6298 (2.2): RTO = SRTT + max(G, K·RTTVAR).
    pub const K: u32 = 4;
    /// Clock granularity G (see the module doc for the choice of 1 ms).
    pub const GRANULARITY: Duration = Duration::from_millis(1);
    /// The RTO RFC 6298 (5.7) asks for after a handshake whose SYN or SYN-ACK timed out (Linux's
    /// `TCP_TIMEOUT_FALLBACK`, 3 s).
    pub const FALLBACK_RTO: Duration = Duration::from_secs(3);

    /// An estimator with no samples: the RTO is `initial`. `initial` is clamped to
    /// `[min, max]`; a `min` above `max` (which [`TcpConfig::validate`] rejects) raises `max`
    /// to `min` rather than panic.
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        let initial = initial.clamp(min, max);
        RttEstimator {
            srtt: NONE,
            rttvar: 0,
            latest: NONE,
            initial: nanos(initial),
            min: nanos(min),
            max: nanos(max),
            base_rto: nanos(initial),
            backoffs: 0,
        }
    }

    /// An estimator with the config's `rto_initial`, `rto_min` and `rto_max`.
    pub fn from_config(config: &TcpConfig) -> Self {
        Self::new(config.rto_initial, config.rto_min, config.rto_max)
    }

    /// Takes one RTT measurement (RFC 6298 (2.2) for the first, (2.3) after), recomputes the
    /// RTO and clears the backoff. The caller applies Karn's rule (module doc).
    pub fn on_sample(&mut self, rtt: Duration) {
        let r = u128::from(nanos(rtt));
        let (srtt, rttvar) = match self.srtt {
            // (2.2) SRTT <- R, RTTVAR <- R/2.
            NONE => (r, r / 2),
            // (2.3) RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|, then SRTT <- 7/8 SRTT + 1/8 R'.
            srtt => {
                let s = u128::from(srtt);
                let var = (3 * u128::from(self.rttvar) + s.abs_diff(r)) / 4;
                (((7 * s) + r) / 8, var)
            }
        };
        self.srtt = srtt.min(u128::from(NONE - 1)) as u64;
        self.rttvar = rttvar.min(u128::from(NONE - 1)) as u64;
        self.latest = nanos(rtt);
        self.base_rto = self.compute_base_rto();
        self.backoffs = 0;
    }

    /// Smoothed RTT, or `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt != NONE).then(|| duration(self.srtt))
    }

    /// RTT variation (RTTVAR, not multiplied by K), or `None` before the first sample.
    pub fn rttvar(&self) -> Option<Duration> {
        (self.srtt != NONE).then(|| duration(self.rttvar))
    }

    /// The last sample taken, or `None` before the first.
    pub fn latest(&self) -> Option<Duration> {
        (self.latest != NONE).then(|| duration(self.latest))
    }

    /// The RTO without backoff: `rto_initial` before the first sample, then
    /// SRTT + max(G, K·RTTVAR, rto_min), within [rto_min, rto_max].
    pub fn base_rto(&self) -> Duration {
        duration(self.base_rto)
    }

    /// The RTO to arm the retransmission timer with: `base_rto · 2^backoffs`, capped at
    /// `rto_max` (RFC 6298 (5.5)).
    pub fn rto(&self) -> Duration {
        let base = u128::from(self.base_rto);
        let backed_off = match 1u128.checked_shl(self.backoffs) {
            Some(factor) => base.saturating_mul(factor),
            None => u128::MAX,
        };
        duration(backed_off.min(u128::from(self.max)) as u64)
    }

    /// Backs the timer off once (RFC 6298 (5.5): RTO <- RTO · 2, up to `rto_max`) and returns
    /// the new [`RttEstimator::rto`]. Call it when the retransmission timer expires.
    pub fn backoff(&mut self) -> Duration {
        self.backoffs = self.backoffs.saturating_add(1);
        self.rto()
    }

    /// Forgets the backoff without a new sample (e.g. when an ACK for new data arrives whose
    /// RTT Karn's rule forbids measuring, or the engine reverts a spurious timeout).
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// Doublings applied since the last sample or reset. The exponent of the backoff, not a
    /// retransmission count: it keeps counting past the `rto_max` cap.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// RFC 6298 (5.7): call when the handshake completes without an RTT sample because a SYN or
    /// SYN-ACK was retransmitted. Until the first sample the RTO becomes at least 3 s
    /// ([`RttEstimator::FALLBACK_RTO`], capped at `rto_max`) and the SYN's backoff is
    /// forgotten. Does nothing once a sample has been taken.
    pub fn apply_syn_fallback(&mut self) {
        if self.srtt == NONE {
            self.base_rto = self.base_rto.max(nanos(Self::FALLBACK_RTO)).min(self.max);
            self.backoffs = 0;
        }
    }

    /// The floor this estimator was built with.
    pub fn rto_min(&self) -> Duration {
        duration(self.min)
    }

    /// The cap this estimator was built with.
    pub fn rto_max(&self) -> Duration {
        duration(self.max)
    }

    fn compute_base_rto(&self) -> u64 {
        match self.srtt {
            NONE => self.initial,
            srtt => {
                // Linux's floor: SRTT + max(G, K·RTTVAR, rto_min), not RFC 6298 (2.4)'s 1 s.
                let margin = self
                    .rttvar
                    .saturating_mul(u64::from(Self::K))
                    .max(nanos(Self::GRANULARITY))
                    .max(self.min);
                srtt.saturating_add(margin).clamp(self.min, self.max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    fn linux() -> RttEstimator {
        RttEstimator::from_config(&TcpConfig::default())
    }

    #[test]
    fn before_any_sample_rto_is_one_second() {
        // RFC 6298 (2.1).
        let e = linux();
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), None);
        assert_eq!(e.latest(), None);
        assert_eq!(e.base_rto(), Duration::from_secs(1));
        assert_eq!(e.rto(), Duration::from_secs(1));
        assert_eq!(e.backoffs(), 0);
        assert_eq!((e.rto_min(), e.rto_max()), (ms(200), Duration::from_secs(120)));
    }

    #[test]
    fn first_sample_sets_srtt_r_and_rttvar_half_r() {
        // RFC 6298 (2.2): SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max(G, 4·RTTVAR) = 3R.
        let mut e = linux();
        e.on_sample(ms(500));
        assert_eq!(e.srtt(), Some(ms(500)));
        assert_eq!(e.rttvar(), Some(ms(250)));
        assert_eq!(e.latest(), Some(ms(500)));
        assert_eq!(e.rto(), ms(1500));
    }

    #[test]
    fn linux_floor_on_a_lan_rtt() {
        // 100 µs: 4·RTTVAR = 200 µs < rto_min, so RTO = SRTT + rto_min = 200.1 ms. RFC 6298
        // (2.4) would round up to 1 s; Linux does not.
        let mut e = linux();
        e.on_sample(us(100));
        assert_eq!(e.rto(), us(200_100));
        for _ in 0..50 {
            e.on_sample(us(100));
        }
        assert_eq!(e.srtt(), Some(us(100)));
        assert_eq!(e.rto(), us(200_100));
    }

    #[test]
    fn sequence_matches_hand_calculation() {
        // rto_min 1 ms so the RFC 6298 formula shows through (G = 1 ms is below every 4·RTTVAR).
        let mut e = RttEstimator::new(Duration::from_secs(1), ms(1), Duration::from_secs(60));
        // R = 100: SRTT 100, RTTVAR 50, RTO 100 + 200 = 300.
        e.on_sample(ms(100));
        assert_eq!((e.srtt(), e.rttvar(), e.rto()), (Some(ms(100)), Some(ms(50)), ms(300)));
        // R' = 120: RTTVAR = 3/4·50 + 1/4·|100-120| = 42.5; SRTT = 7/8·100 + 1/8·120 = 102.5;
        // RTO = 102.5 + 4·42.5 = 272.5.
        e.on_sample(ms(120));
        assert_eq!(e.rttvar(), Some(us(42_500)));
        assert_eq!(e.srtt(), Some(us(102_500)));
        assert_eq!(e.rto(), us(272_500));
        // R' = 80: RTTVAR = 3/4·42.5 + 1/4·|102.5-80| = 37.5; SRTT = 7/8·102.5 + 1/8·80
        // = 99.6875; RTO = 99.6875 + 150 = 249.6875.
        e.on_sample(ms(80));
        assert_eq!(e.rttvar(), Some(us(37_500)));
        assert_eq!(e.srtt(), Some(Duration::from_nanos(99_687_500)));
        assert_eq!(e.rto(), Duration::from_nanos(249_687_500));
    }

    #[test]
    fn same_sequence_with_linux_floor() {
        // Same samples, rto_min 200 ms: RTO = SRTT + max(4·RTTVAR, 200 ms).
        let mut e = linux();
        e.on_sample(ms(100));
        assert_eq!(e.rto(), ms(300)); // 4·50 = 200 = rto_min
        e.on_sample(ms(120));
        assert_eq!(e.rto(), us(302_500)); // 102.5 + max(170, 200)
        e.on_sample(ms(80));
        assert_eq!(e.rto(), Duration::from_nanos(299_687_500)); // 99.6875 + 200
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        // RFC 6298 (5.5), from the 1 s initial RTO: 2, 4, ... 64 s, then rto_max = 120 s.
        let mut e = linux();
        let mut seen = [Duration::ZERO; 9];
        for slot in &mut seen {
            *slot = e.backoff();
        }
        let secs = [2, 4, 8, 16, 32, 64, 120, 120, 120].map(Duration::from_secs);
        assert_eq!(seen, secs);
        assert_eq!(e.backoffs(), 9);
        assert_eq!(e.base_rto(), Duration::from_secs(1));
        e.reset_backoff();
        assert_eq!((e.backoffs(), e.rto()), (0, Duration::from_secs(1)));
    }

    #[test]
    fn backoff_never_overflows() {
        let mut e = linux();
        for _ in 0..300 {
            e.backoff();
        }
        assert_eq!(e.backoffs(), 300);
        assert_eq!(e.rto(), Duration::from_secs(120));
    }

    #[test]
    fn a_sample_collapses_the_backoff() {
        // RFC 6298 §5: a new measurement after backing off recomputes the RTO.
        let mut e = linux();
        e.on_sample(ms(100));
        e.backoff();
        e.backoff();
        assert_eq!(e.rto(), ms(1200));
        e.on_sample(ms(100));
        assert_eq!(e.backoffs(), 0);
        assert!(e.rto() < ms(400), "{:?}", e.rto());
    }

    #[test]
    fn rto_is_capped_and_floored() {
        let mut e = linux();
        e.on_sample(Duration::from_secs(1000));
        assert_eq!(e.rto(), Duration::from_secs(120));
        let mut e = linux();
        e.on_sample(Duration::ZERO);
        assert_eq!(e.srtt(), Some(Duration::ZERO));
        assert_eq!(e.rto(), ms(200));
        // G shows only when rto_min is below it.
        let mut e = RttEstimator::new(ms(1), us(10), ms(100));
        e.on_sample(Duration::ZERO);
        assert_eq!(e.rto(), RttEstimator::GRANULARITY);
    }

    #[test]
    fn syn_fallback_is_three_seconds_until_a_sample() {
        // RFC 6298 (5.7).
        let mut e = linux();
        e.backoff();
        e.apply_syn_fallback();
        assert_eq!((e.rto(), e.backoffs()), (Duration::from_secs(3), 0));
        e.on_sample(ms(100));
        assert_eq!(e.rto(), ms(300));
        // After a sample it changes nothing.
        e.apply_syn_fallback();
        assert_eq!(e.rto(), ms(300));
        // Capped by rto_max.
        let mut e = RttEstimator::new(Duration::from_secs(1), ms(200), Duration::from_secs(2));
        e.apply_syn_fallback();
        assert_eq!(e.rto(), Duration::from_secs(2));
    }

    #[test]
    fn new_never_panics_on_inconsistent_bounds() {
        let e = RttEstimator::new(Duration::from_secs(1), Duration::from_secs(5), ms(10));
        let five = Duration::from_secs(5);
        assert_eq!((e.rto_min(), e.rto_max(), e.rto()), (five, five, five));
    }

    proptest! {
        #[test]
        fn rto_stays_within_bounds(
            samples in proptest::collection::vec(0u64..200_000_000, 0..40),
            backoffs in 0u32..80,
            min_us in 1u64..1_000_000,
            extra_us in 0u64..200_000_000,
        ) {
            let min = us(min_us);
            let max = us(min_us + extra_us);
            let mut e = RttEstimator::new(Duration::from_secs(1), min, max);
            for s in &samples {
                e.on_sample(us(*s));
                prop_assert!(e.rto() >= min && e.rto() <= max);
            }
            let mut last = e.rto();
            for _ in 0..backoffs {
                let rto = e.backoff();
                prop_assert!(rto >= last && rto <= max);
                last = rto;
            }
            prop_assert!(e.base_rto() <= e.rto());
        }

        #[test]
        fn srtt_stays_between_smallest_and_largest_sample(
            samples in proptest::collection::vec(0u64..10_000_000, 1..40),
        ) {
            let mut e = linux();
            for s in &samples {
                e.on_sample(us(*s));
            }
            let lo = us(*samples.iter().min().unwrap_or(&0));
            let hi = us(*samples.iter().max().unwrap_or(&0));
            let srtt = e.srtt().unwrap_or_default();
            // Integer division may round SRTT down by at most a nanosecond per sample.
            prop_assert!(srtt + Duration::from_nanos(samples.len() as u64) >= lo);
            prop_assert!(srtt <= hi);
        }
    }
}
