//! Time as a value: the protocol crates are handed `now`, never read a clock.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time, in nanoseconds since an epoch the caller picks (the start of a
/// simulation, or the moment a driver mapped its real clock). Only differences matter.
///
/// Up to `u64::MAX - 1` nanoseconds (some 584 years), stored one up in a `NonZeroU64`: an
/// `Option<Instant>` takes 8 bytes, not 16, and a connection keeps a dozen of them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant::from_nanos(0);
    /// A point later than any a connection can reach: "never" for deadlines. `u64::MAX - 1`
    /// nanoseconds after the epoch.
    pub const MAX: Instant = Instant::from_nanos(u64::MAX);

    /// `nanos` nanoseconds after the epoch (at most [`Instant::MAX`]).
    pub const fn from_nanos(nanos: u64) -> Self {
        let stored = if nanos >= u64::MAX - 1 { u64::MAX } else { nanos + 1 };
        match NonZeroU64::new(stored) {
            Some(n) => Instant(n),
            None => unreachable!(),
        }
    }

    /// `micros` microseconds after the epoch, saturating.
    pub const fn from_micros(micros: u64) -> Self {
        Instant::from_nanos(micros.saturating_mul(1_000))
    }

    /// `millis` milliseconds after the epoch, saturating.
    pub const fn from_millis(millis: u64) -> Self {
        Instant::from_nanos(millis.saturating_mul(1_000_000))
    }

    /// `secs` seconds after the epoch, saturating.
    pub const fn from_secs(secs: u64) -> Self {
        Instant::from_nanos(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0.get() - 1
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.as_nanos())
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_sub(earlier.as_nanos()))
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        let sum = self.as_nanos().checked_add(nanos)?;
        (sum <= Instant::MAX.as_nanos()).then(|| Instant::from_nanos(sum))
    }
}

/// `nanos` as a `Duration`, saturating at `Duration::MAX` (RTO and timeout arithmetic is
/// done in `u128` nanoseconds).
pub(crate) fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    // Every duration a connection meets fits in 64 bits of nanoseconds (584 years): divided
    // as a u64, without the u128 division routine the general case calls.
    if let Ok(n) = u64::try_from(nanos) {
        return Duration::from_nanos(n);
    }
    match u64::try_from(nanos / NANOS_PER_SEC) {
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// A duration kept in 8 bytes where `Duration` takes 16: whole nanoseconds up to
/// `u64::MAX - 1` (some 584 years; longer ones are cut there), stored one up in a
/// `NonZeroU64` as [`Instant`] is, so an `Option<Nanos>` is 8 bytes too. For the durations a
/// connection holds (RTT estimates, the delayed-ACK timeout): a million connections carry
/// several each. Every duration they hold comes from the difference of two `Instant`s or a
/// setting, so the cut never happens and the value read back is the value stored.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Nanos(NonZeroU64);

impl Nanos {
    pub(crate) const ZERO: Nanos = Nanos::new(Duration::ZERO);

    /// `d`, cut at `u64::MAX - 1` nanoseconds.
    pub(crate) const fn new(d: Duration) -> Nanos {
        let n = d.as_nanos();
        let stored = if n >= (u64::MAX - 1) as u128 { u64::MAX } else { n as u64 + 1 };
        match NonZeroU64::new(stored) {
            Some(n) => Nanos(n),
            None => unreachable!(),
        }
    }

    pub(crate) const fn get(self) -> Duration {
        Duration::from_nanos(self.0.get() - 1)
    }
}

impl fmt::Debug for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at [`Instant::MAX`] ("never").
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.as_nanos();
        write!(f, "{}.{:06}s", n / 1_000_000_000, (n % 1_000_000_000) / 1_000)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(1_500);
        assert_eq!(t + Duration::from_millis(500), Instant::from_secs(2));
        assert_eq!(Instant::from_secs(1) - t, Duration::ZERO);
        assert_eq!(t - Instant::from_secs(1), Duration::from_millis(500));
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(format!("{t:?}"), "1.500000s");
    }

    #[test]
    fn an_optional_instant_takes_no_more_room_than_an_instant() {
        assert_eq!(core::mem::size_of::<Option<Instant>>(), 8);
        assert_eq!(Instant::ZERO.as_nanos(), 0);
        assert_eq!(Instant::MAX.as_nanos(), u64::MAX - 1);
        assert_eq!(Instant::from_nanos(u64::MAX), Instant::MAX);
        assert!(Instant::ZERO < Instant::from_nanos(1) && Instant::from_nanos(1) < Instant::MAX);
    }

    #[test]
    fn nanos_read_back_the_duration_stored_in_half_the_room() {
        assert_eq!(core::mem::size_of::<Option<Nanos>>(), 8);
        for d in [Duration::ZERO, Duration::from_nanos(1), Duration::from_millis(40)] {
            assert_eq!(Nanos::new(d).get(), d);
        }
        let longest = Duration::from_nanos(u64::MAX - 1);
        assert_eq!(Nanos::new(longest).get(), longest);
        assert_eq!(Nanos::new(Duration::MAX).get(), longest, "cut, not wrapped");
        assert!(Nanos::new(Duration::from_nanos(1)) < Nanos::new(Duration::from_nanos(2)));
    }

    #[test]
    fn nanoseconds_become_durations_on_both_sides_of_64_bits() {
        for n in [0u128, 1, 999_999_999, 1_000_000_000, 1_234_567_891, u128::from(u64::MAX)] {
            let d = duration_from_nanos(n);
            assert_eq!(d.as_nanos(), n, "{n}");
        }
        let beyond = u128::from(u64::MAX) + 1_000_000_007;
        assert_eq!(duration_from_nanos(beyond).as_nanos(), beyond);
        assert_eq!(duration_from_nanos(u128::MAX), Duration::MAX);
    }
}
