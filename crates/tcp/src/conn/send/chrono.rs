//! How long the sender was busy and what held it back: Linux's "chronographs"
//! (`tcp_chrono_start`, `tcp_chrono_stop`), which `TCP_INFO` reports as `tcpi_busy_time`,
//! `tcpi_rwnd_limited` and `tcpi_sndbuf_limited`.
//!
//! One chronograph runs at a time, the most interesting condition winning: busy (data
//! queued or in flight), limited by the peer's receive window, limited by the send buffer.
//! Busy time is the sum of all three.

use core::time::Duration;

use crate::Instant;

/// What the sender is doing, in Linux's order of interest (`enum tcp_chrono`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::conn) enum ChronoKind {
    /// Nothing queued, nothing in flight.
    Unspec,
    /// Data queued or in flight (`TCP_CHRONO_BUSY`).
    Busy,
    /// Data waits for the peer's window (`TCP_CHRONO_RWND_LIMITED`).
    RwndLimited,
    /// Everything queued went out and the application waits for room in the send buffer
    /// (`TCP_CHRONO_SNDBUF_LIMITED`).
    SndbufLimited,
}

/// The chronographs.
#[derive(Debug, Clone, Copy)]
pub(in crate::conn) struct Chrono {
    kind: ChronoKind,
    start: Instant,
    /// Time accumulated by `Busy`, `RwndLimited`, `SndbufLimited`.
    /// Nanoseconds per kind (as `Duration`s they would take twice the room).
    stat: [u64; 3],
}

/// The times `TCP_INFO` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChronoStats {
    /// Time with data queued or in flight (`tcpi_busy_time`), the two below included.
    pub busy: Duration,
    /// Of it, time the peer's receive window held data back (`tcpi_rwnd_limited`).
    pub rwnd_limited: Duration,
    /// Of it, time the send buffer held the application back (`tcpi_sndbuf_limited`).
    pub sndbuf_limited: Duration,
}

impl Chrono {
    pub(in crate::conn) fn new(now: Instant) -> Chrono {
        Chrono { kind: ChronoKind::Unspec, start: now, stat: [0; 3] }
    }

    fn set(&mut self, now: Instant, kind: ChronoKind) {
        if self.kind != ChronoKind::Unspec {
            self.stat[self.kind as usize - 1] += (now - self.start).as_nanos() as u64;
        }
        self.start = now;
        self.kind = kind;
    }

    /// `tcp_chrono_start`: `kind` began; it takes over if it is more interesting than the
    /// running one.
    pub(in crate::conn) fn start(&mut self, now: Instant, kind: ChronoKind) {
        if kind > self.kind {
            self.set(now, kind);
        }
    }

    /// `tcp_chrono_stop`: `kind` ended. With nothing queued or in flight (`idle`) no
    /// chronograph runs; else if `kind` was the running one, busy time goes on.
    pub(in crate::conn) fn stop(&mut self, now: Instant, kind: ChronoKind, idle: bool) {
        if idle {
            self.set(now, ChronoKind::Unspec);
        } else if kind == self.kind {
            self.set(now, ChronoKind::Busy);
        }
    }

    /// The times so far, the running chronograph's included.
    pub(in crate::conn) fn stats(&self, now: Instant) -> ChronoStats {
        let mut stat = self.stat;
        if self.kind != ChronoKind::Unspec {
            stat[self.kind as usize - 1] += (now - self.start).as_nanos() as u64;
        }
        ChronoStats {
            busy: Duration::from_nanos(stat[0] + stat[1] + stat[2]),
            rwnd_limited: Duration::from_nanos(stat[1]),
            sndbuf_limited: Duration::from_nanos(stat[2]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn the_most_interesting_condition_runs_and_busy_time_counts_all() {
        let mut c = Chrono::new(ms(0));
        c.start(ms(10), ChronoKind::Busy);
        c.start(ms(10), ChronoKind::RwndLimited);
        // Busy does not displace the window limit.
        c.start(ms(50), ChronoKind::Busy);
        c.stop(ms(110), ChronoKind::RwndLimited, false);
        c.stop(ms(140), ChronoKind::Busy, true);
        let s = c.stats(ms(500));
        assert_eq!(s.rwnd_limited, Duration::from_millis(100));
        assert_eq!(s.busy, Duration::from_millis(130));
        assert_eq!(s.sndbuf_limited, Duration::ZERO);
        // A running chronograph counts up to now.
        c.start(ms(600), ChronoKind::SndbufLimited);
        assert_eq!(c.stats(ms(610)).sndbuf_limited, Duration::from_millis(10));
        assert_eq!(c.stats(ms(610)).busy, Duration::from_millis(140));
    }
}
