//! Bounded runs: every run stops at a virtual-time bound and an event-count
//! bound, and says which one it hit.

use core::fmt;

use ustack_core::{Duration, Instant};

/// The limits of one [`Network::run_while`](crate::Network::run_while): how much virtual time
/// may pass and how many events may run.
///
/// ```
/// use ustack_sim::{Bounds, Duration};
///
/// let bounds = Bounds::time(Duration::from_secs(60)).max_events(1_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    time: Duration,
    events: u64,
}

impl Bounds {
    /// The event bound unless one is given, and that of
    /// [`Network::run_until`](crate::Network::run_until) unless
    /// [`Network::set_event_limit`](crate::Network::set_event_limit) changes it.
    pub const DEFAULT_MAX_EVENTS: u64 = 10_000_000;

    /// At most `limit` of virtual time from the start of the run, and
    /// [`DEFAULT_MAX_EVENTS`](Bounds::DEFAULT_MAX_EVENTS) events.
    pub const fn time(limit: Duration) -> Self {
        Bounds { time: limit, events: Self::DEFAULT_MAX_EVENTS }
    }

    /// At most `events` events.
    pub const fn max_events(mut self, events: u64) -> Self {
        self.events = events;
        self
    }

    /// The virtual-time bound.
    pub const fn time_limit(&self) -> Duration {
        self.time
    }

    /// The event bound.
    pub const fn event_limit(&self) -> u64 {
        self.events
    }
}

/// How a run that reached its goal went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSummary {
    /// Events run (packet arrivals and timer firings).
    pub events: u64,
    /// Virtual time at the end.
    pub now: Instant,
}

/// A run stopped before its goal: which bound it hit. Each variant carries the network's seed,
/// so that the failure can be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// The condition still held when the next event lay past the virtual-time bound; the
    /// clock stopped at `deadline`.
    TimeLimit {
        /// The bound: the start of the run plus the time limit.
        deadline: Instant,
        /// Events run.
        events: u64,
        /// The network's seed.
        seed: u64,
    },
    /// The event bound was reached first.
    EventLimit {
        /// The bound.
        limit: u64,
        /// Virtual time when it was reached.
        at: Instant,
        /// The network's seed.
        seed: u64,
    },
    /// The condition still held but nothing was left to happen: no packet in flight, no
    /// timer armed.
    Stalled {
        /// Virtual time of the last event.
        at: Instant,
        /// Events run.
        events: u64,
        /// The network's seed.
        seed: u64,
    },
}

impl RunError {
    /// The seed of the network that failed.
    pub fn seed(&self) -> u64 {
        match *self {
            RunError::TimeLimit { seed, .. }
            | RunError::EventLimit { seed, .. }
            | RunError::Stalled { seed, .. } => seed,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::TimeLimit { deadline, events, seed } => write!(
                f,
                "run hit its virtual-time bound at {deadline} after {events} events (seed {seed})"
            ),
            RunError::EventLimit { limit, at, seed } => {
                write!(f, "run hit its bound of {limit} events at {at} (seed {seed})")
            }
            RunError::Stalled { at, events, seed } => write!(
                f,
                "run stalled at {at} after {events} events: nothing in flight, no timer armed, \
                 condition still true (seed {seed})"
            ),
        }
    }
}

impl std::error::Error for RunError {}
