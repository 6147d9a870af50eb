//! The event queue: events ordered by (time, sequence number), the sequence number given when
//! an event is scheduled, so that events due at the same instant run in the order they were
//! scheduled and every run replays identically.

use core::cmp::Ordering;
use std::collections::BinaryHeap;

use ustack_core::Instant;

use crate::link::{Direction, LinkId};

/// Something that will happen at a point of virtual time.
#[derive(Debug)]
pub(crate) enum EventKind {
    /// A copy of a packet reaches the far end of a link direction.
    Arrival { link: LinkId, dir: Direction, packet: Vec<u8> },
    /// A host's deadline, valid while the host's timer generation is still `generation`.
    Timer { host: usize, generation: u64 },
}

#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) at: Instant,
    seq: u64,
    pub(crate) kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Event {}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    /// Reversed, so that the max-heap pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events, earliest first.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Event>,
    next_seq: u64,
}

impl EventQueue {
    pub(crate) fn push(&mut self, at: Instant, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Event { at, seq, kind });
    }

    pub(crate) fn peek(&self) -> Option<&Event> {
        self.heap.peek()
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.heap.pop()
    }

    /// Keeps only the events `keep` accepts.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&Event) -> bool) {
        self.heap.retain(keep);
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut q = EventQueue::default();
        let timer = |host| EventKind::Timer { host, generation: 0 };
        q.push(Instant::from_millis(2), timer(0));
        q.push(Instant::from_millis(1), timer(1));
        q.push(Instant::from_millis(2), timer(2));
        q.push(Instant::from_millis(1), timer(3));
        let order: Vec<usize> = std::iter::from_fn(|| q.pop())
            .map(|e| match e.kind {
                EventKind::Timer { host, .. } => host,
                EventKind::Arrival { .. } => unreachable!(),
            })
            .collect();
        assert_eq!(order, [1, 3, 0, 2]);
    }
}
