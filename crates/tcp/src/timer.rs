//! The per-connection timer table: the seven timers of SPEC S21 (docs/spec-coverage.md) as
//! data.
//!
//! A timer is a deadline, an [`Instant`], in a fixed array indexed by [`TimerKind`]. Nothing
//! here reads a clock or sleeps: the engine arms and stops entries, reports the earliest one
//! through `poll_timeout` (the host files it in its keyed timer queue), and when the host
//! calls back with `now` the engine takes the due timers with [`TimerTable::pop_expired`] and
//! handles each one. Model: quinn-proto's `connection/timer.rs`.
//!
//! A timer is due when its deadline is at or before `now` (`deadline <= now`). When several
//! are due, they fire earliest deadline first; timers due at the same instant fire in the
//! order of [`TimerKind::ALL`].

use core::fmt;

use crate::time::Instant;

/// One of the seven timers of a connection (SPEC S21). The durations come from
/// [`crate::TcpConfig`] and [`crate::RttEstimator`].
///
/// The order of the variants is the firing order of timers due at the same instant: a deadline
/// that ends the connection attempt (`Establish`) goes before the retransmission it would
/// otherwise cause (Linux likewise checks its retry limit in `tcp_write_timeout` before
/// retransmitting), and a retransmission goes before a delayed ACK, which the retransmitted
/// segment then carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Connection establishment: the deadline after which an unfinished handshake is
    /// abandoned and `connect()` fails with a timeout (SYN-SENT, `TcpConfig::syn_timeout`,
    /// 127 s) or the half-open connection is dropped (SYN-RECEIVED,
    /// `TcpConfig::synack_timeout`, 63 s). SPEC S5.
    Establish,
    /// Retransmission (RFC 6298 §5): retransmits the oldest unacknowledged segment, including
    /// the SYN and the SYN-ACK, after the current RTO. SPEC S5, S17.
    Retransmit,
    /// Delayed ACK (RFC 9293 §3.8.6.3): sends the ACK held back in the hope of piggybacking it,
    /// `delack_min..=delack_max` after the data arrived.
    DelayedAck,
    /// Persist (RFC 9293 §3.8.6.1): while the peer advertises a zero window, sends window
    /// probes with backoff so a lost window update cannot deadlock the connection. SPEC S19.
    Persist,
    /// Keepalive (RFC 9293 §3.8.4): when on, probes an idle connection after
    /// `keepalive_time`, then every `keepalive_intvl`, and aborts it after
    /// `keepalive_probes` unanswered probes.
    Keepalive,
    /// FIN-WAIT-2: closes an orphaned connection whose peer never sends its FIN, after
    /// `fin_timeout` (Linux `tcp_fin_timeout`, at least 3.5 RTO: `TcpConfig::fin_wait2_time`).
    /// SPEC S11.
    FinWait2,
    /// TIME-WAIT: 2·MSL after entering TIME-WAIT (restarted by a retransmitted FIN), the
    /// connection is deleted. SPEC S1, S12.
    TimeWait,
}

impl TimerKind {
    /// How many kinds there are.
    pub const COUNT: usize = 7;

    /// Every kind, in firing order for equal deadlines (the declaration order).
    pub const ALL: [TimerKind; TimerKind::COUNT] = [
        TimerKind::Establish,
        TimerKind::Retransmit,
        TimerKind::DelayedAck,
        TimerKind::Persist,
        TimerKind::Keepalive,
        TimerKind::FinWait2,
        TimerKind::TimeWait,
    ];

    /// The name events and traces show, e.g. `"delayed-ack"`.
    pub const fn name(self) -> &'static str {
        match self {
            TimerKind::Establish => "establish",
            TimerKind::Retransmit => "retransmit",
            TimerKind::DelayedAck => "delayed-ack",
            TimerKind::Persist => "persist",
            TimerKind::Keepalive => "keepalive",
            TimerKind::FinWait2 => "fin-wait-2",
            TimerKind::TimeWait => "time-wait",
        }
    }

    /// The position in [`TimerKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The deadlines of one connection's seven timers; an entry is `None` when that timer is
/// stopped. Every operation looks at seven fixed slots at most: O(1), no allocation.
///
/// Stored as seven plain instants (56 bytes, not the 112 of seven `Option<Instant>`), with
/// [`Instant::MAX`] for a stopped timer: a deadline at `Instant::MAX` itself, which no
/// timer ever reaches, reads as stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TimerTable {
    deadlines: [Instant; TimerKind::COUNT],
}

impl Default for TimerTable {
    fn default() -> Self {
        TimerTable::new()
    }
}

impl fmt::Debug for TimerTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, at)| (k.name(), at))).finish()
    }
}

impl TimerTable {
    /// A table with every timer stopped.
    pub const fn new() -> Self {
        TimerTable { deadlines: [Instant::MAX; TimerKind::COUNT] }
    }

    /// Arms `kind` to fire at `at`, replacing any deadline it had (re-arming).
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.deadlines[kind.index()] = at;
    }

    /// Stops `kind`; nothing happens if it was not armed.
    pub fn stop(&mut self, kind: TimerKind) {
        self.deadlines[kind.index()] = Instant::MAX;
    }

    /// Stops every timer (the connection is closed).
    pub fn stop_all(&mut self) {
        self.deadlines = [Instant::MAX; TimerKind::COUNT];
    }

    /// The deadline of `kind`, or `None` if it is stopped.
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        let at = self.deadlines[kind.index()];
        (at != Instant::MAX).then_some(at)
    }

    /// Whether `kind` is armed.
    pub fn is_armed(&self, kind: TimerKind) -> bool {
        self.deadlines[kind.index()] != Instant::MAX
    }

    /// Whether `kind` is armed and due at `now` (its deadline is at or before `now`).
    pub fn is_expired(&self, kind: TimerKind, now: Instant) -> bool {
        self.get(kind).is_some_and(|at| at <= now)
    }

    /// The timer that fires next and its deadline: the earliest deadline, and among equal
    /// deadlines the first kind in [`TimerKind::ALL`]. `None` when every timer is stopped.
    /// What the engine's `poll_timeout` reports.
    pub fn next_expiry(&self) -> Option<(TimerKind, Instant)> {
        let mut next: Option<(usize, Instant)> = None;
        for (i, &at) in self.deadlines.iter().enumerate() {
            // Strictly earlier only: on a tie the kind seen first (lower index) stays.
            if at != Instant::MAX && next.is_none_or(|(_, best)| at < best) {
                next = Some((i, at));
            }
        }
        next.map(|(i, at)| (TimerKind::ALL[i], at))
    }

    /// The earliest deadline, or `None` when every timer is stopped: the instant of
    /// [`TimerTable::next_expiry`], found without telling the kinds apart (what the host's
    /// timer queue needs after every input). A stopped timer's deadline is `Instant::MAX`,
    /// so the minimum of the table is the answer unless it is that.
    pub fn next_deadline(&self) -> Option<Instant> {
        let at = self.deadlines.iter().copied().min().unwrap_or(Instant::MAX);
        (at != Instant::MAX).then_some(at)
    }

    /// Takes the next due timer at `now`, stopping it, or `None` when none is due. Call it
    /// until it returns `None`; the timers come out in [`TimerTable::next_expiry`] order
    /// (earliest deadline first, then kind order). A handler that re-arms its own timer for a
    /// later instant is not returned again in the same round unless that instant is also due.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerKind> {
        let (kind, at) = self.next_expiry()?;
        if at > now {
            return None;
        }
        self.stop(kind);
        Some(kind)
    }

    /// The armed timers and their deadlines, in kind order (for netstat's timer column and
    /// traces).
    pub fn iter(&self) -> impl Iterator<Item = (TimerKind, Instant)> + '_ {
        TimerKind::ALL.into_iter().filter_map(|kind| self.get(kind).map(|at| (kind, at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn kinds_names_and_order() {
        let names = TimerKind::ALL.map(TimerKind::name);
        assert_eq!(
            names,
            [
                "establish",
                "retransmit",
                "delayed-ack",
                "persist",
                "keepalive",
                "fin-wait-2",
                "time-wait"
            ]
        );
        for (i, kind) in TimerKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(kind.to_string(), kind.name());
        }
    }

    #[test]
    fn empty_table_has_nothing_to_fire() {
        let mut table = TimerTable::new();
        assert_eq!(table, TimerTable::default());
        assert_eq!(table.next_expiry(), None);
        assert_eq!(table.pop_expired(Instant::MAX), None);
        assert_eq!(table.iter().count(), 0);
    }

    #[test]
    fn each_timer_sets_fires_and_stops_on_its_own() {
        for kind in TimerKind::ALL {
            let mut table = TimerTable::new();
            table.set(kind, t(100));
            assert!(table.is_armed(kind));
            assert_eq!(table.get(kind), Some(t(100)));
            assert_eq!(table.next_expiry(), Some((kind, t(100))));
            for other in TimerKind::ALL.into_iter().filter(|&k| k != kind) {
                assert!(!table.is_armed(other), "{kind} armed {other}");
            }
            // Not due a nanosecond early; due exactly at the deadline.
            let just_before = Instant::from_nanos(t(100).as_nanos() - 1);
            assert!(!table.is_expired(kind, just_before));
            assert_eq!(table.pop_expired(just_before), None);
            assert!(table.is_expired(kind, t(100)));
            assert_eq!(table.pop_expired(t(100)), Some(kind));
            // Firing stops it.
            assert!(!table.is_armed(kind));
            assert_eq!(table.pop_expired(t(100)), None);

            table.set(kind, t(5));
            table.stop(kind);
            assert_eq!(table.get(kind), None);
            assert_eq!(table.pop_expired(t(10)), None);
            table.stop(kind); // stopping a stopped timer is fine
        }
    }

    #[test]
    fn next_expiry_is_the_earliest_deadline() {
        let mut table = TimerTable::new();
        table.set(TimerKind::Keepalive, t(7_200_000));
        table.set(TimerKind::DelayedAck, t(40));
        table.set(TimerKind::Retransmit, t(200));
        assert_eq!(table.next_expiry(), Some((TimerKind::DelayedAck, t(40))));
        table.stop(TimerKind::DelayedAck);
        assert_eq!(table.next_expiry(), Some((TimerKind::Retransmit, t(200))));
        let armed: Vec<_> = table.iter().collect();
        assert_eq!(armed, [(TimerKind::Retransmit, t(200)), (TimerKind::Keepalive, t(7_200_000))]);
    }

    #[test]
    fn ties_fire_in_kind_order() {
        let mut table = TimerTable::new();
        // Armed in reverse order, all at the same instant.
        for kind in TimerKind::ALL.into_iter().rev() {
            table.set(kind, t(127_000));
        }
        assert_eq!(table.next_expiry(), Some((TimerKind::Establish, t(127_000))));
        let mut fired = Vec::new();
        while let Some(kind) = table.pop_expired(t(127_000)) {
            fired.push(kind);
        }
        assert_eq!(fired, TimerKind::ALL);
    }

    #[test]
    fn due_timers_fire_earliest_first_and_later_ones_wait() {
        let mut table = TimerTable::new();
        table.set(TimerKind::TimeWait, t(10));
        table.set(TimerKind::Establish, t(30));
        table.set(TimerKind::Retransmit, t(20));
        table.set(TimerKind::Persist, t(50));
        assert_eq!(table.pop_expired(t(40)), Some(TimerKind::TimeWait));
        assert_eq!(table.pop_expired(t(40)), Some(TimerKind::Retransmit));
        assert_eq!(table.pop_expired(t(40)), Some(TimerKind::Establish));
        assert_eq!(table.pop_expired(t(40)), None);
        assert_eq!(table.next_expiry(), Some((TimerKind::Persist, t(50))));
    }

    #[test]
    fn rearming_replaces_the_deadline() {
        let mut table = TimerTable::new();
        table.set(TimerKind::Retransmit, t(1000));
        // Backoff: later.
        table.set(TimerKind::Retransmit, t(3000));
        assert_eq!(table.pop_expired(t(1000)), None);
        // Earlier again.
        table.set(TimerKind::Retransmit, t(500));
        assert_eq!(table.get(TimerKind::Retransmit), Some(t(500)));
        assert_eq!(table.pop_expired(t(500)), Some(TimerKind::Retransmit));
        // A handler re-arming its own timer for later is not fired again in the same round.
        table.set(TimerKind::Retransmit, t(500));
        assert_eq!(table.pop_expired(t(600)), Some(TimerKind::Retransmit));
        table.set(TimerKind::Retransmit, t(1600));
        assert_eq!(table.pop_expired(t(600)), None);
        assert!(table.is_armed(TimerKind::Retransmit));
    }

    #[test]
    fn stop_all_clears_everything() {
        let mut table = TimerTable::new();
        for (i, kind) in TimerKind::ALL.into_iter().enumerate() {
            table.set(kind, t(i as u64));
        }
        assert_eq!(table.iter().count(), TimerKind::COUNT);
        table.stop_all();
        assert_eq!(table, TimerTable::new());
        assert_eq!(table.next_expiry(), None);
    }

    fn kind_strategy() -> impl Strategy<Value = TimerKind> {
        (0..TimerKind::COUNT).prop_map(|i| TimerKind::ALL[i])
    }

    proptest! {
        #[test]
        fn pops_match_a_sorted_reference(
            ops in proptest::collection::vec((kind_strategy(), proptest::option::of(0u64..50)), 0..40),
            now in 0u64..60,
        ) {
            let mut table = TimerTable::new();
            let mut model: [Option<u64>; TimerKind::COUNT] = [None; TimerKind::COUNT];
            for (kind, at) in ops {
                match at {
                    Some(at) => table.set(kind, t(at)),
                    None => table.stop(kind),
                }
                model[kind.index()] = at;
            }
            // next_expiry: minimum of (deadline, kind index).
            let expected_next = (0..TimerKind::COUNT)
                .filter_map(|i| model[i].map(|at| (at, i)))
                .min()
                .map(|(at, i)| (TimerKind::ALL[i], t(at)));
            prop_assert_eq!(table.next_expiry(), expected_next);
            prop_assert_eq!(table.next_deadline(), expected_next.map(|(_, at)| at));
            // pop_expired: every due timer, sorted by (deadline, kind); the rest stay armed.
            let mut expected: Vec<(u64, usize)> = (0..TimerKind::COUNT)
                .filter_map(|i| model[i].filter(|&at| at <= now).map(|at| (at, i)))
                .collect();
            expected.sort_unstable();
            let mut fired = Vec::new();
            while let Some(kind) = table.pop_expired(t(now)) {
                fired.push(kind);
            }
            let expected: Vec<TimerKind> = expected.into_iter().map(|(_, i)| TimerKind::ALL[i]).collect();
            prop_assert_eq!(fired, expected);
            for kind in TimerKind::ALL {
                let still = model[kind.index()].filter(|&at| at > now).map(t);
                prop_assert_eq!(table.get(kind), still);
            }
        }
    }
}
