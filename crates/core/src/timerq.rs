//! The stack's keyed timer queue (after netstack3's `local_timer_heap.rs`): finding the
//! next deadline is O(1) and expiring one is O(log n), never a scan of the sockets.
//!
//! A binary heap of `(deadline, socket)` with lazy deletion: a socket whose deadline comes
//! before its queued one pushes a new entry and records the deadline in the socket
//! ([`crate::Stack`] keeps it); an entry whose deadline no longer matches the socket's is
//! stale and skipped when popped. A deadline that moves later (or a timer that stops) pushes
//! nothing: the queued entry wakes the stack early and the socket is queued again for what it
//! has then. Stale entries are bounded: when they outnumber the live ones the heap is rebuilt
//! from the live deadlines.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::{Instant, SocketHandle};

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, SocketHandle)>>,
}

impl TimerQueue {
    pub(crate) fn push(&mut self, at: Instant, socket: SocketHandle) {
        self.heap.push(Reverse((at, socket)));
    }

    /// The earliest deadline, possibly of a stale entry (an early wake-up, never a late one).
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Pops the earliest entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, SocketHandle)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Rebuilds the heap from the live deadlines when stale entries dominate.
    pub(crate) fn compact_if_needed(
        &mut self,
        live: usize,
        deadlines: impl FnOnce() -> Vec<(Instant, SocketHandle)>,
    ) {
        if self.heap.len() > 2 * live + 1024 {
            self.heap = deadlines().into_iter().map(Reverse).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(index: u32) -> SocketHandle {
        SocketHandle { index, generation: 0 }
    }

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let mut q = TimerQueue::default();
        q.push(Instant::from_millis(30), h(3));
        q.push(Instant::from_millis(10), h(1));
        q.push(Instant::from_millis(20), h(2));
        assert_eq!(q.peek(), Some(Instant::from_millis(10)));
        assert_eq!(q.pop_due(Instant::from_millis(5)), None);
        assert_eq!(q.pop_due(Instant::from_millis(25)), Some((Instant::from_millis(10), h(1))));
        assert_eq!(q.pop_due(Instant::from_millis(25)), Some((Instant::from_millis(20), h(2))));
        assert_eq!(q.pop_due(Instant::from_millis(25)), None);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn compaction_keeps_only_live_deadlines() {
        let mut q = TimerQueue::default();
        for i in 0..5000 {
            q.push(Instant::from_millis(i), h(0));
        }
        q.compact_if_needed(1, || vec![(Instant::from_millis(4999), h(0))]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.peek(), Some(Instant::from_millis(4999)));
        q.compact_if_needed(1, || unreachable!("no rebuild below the bound"));
    }
}
