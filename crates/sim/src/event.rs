//! The event queue: events ordered by (time, sequence number), the sequence number given when
//! an event is scheduled, so that events due at the same instant run in the order they were
//! scheduled and every run replays identically.
//!
//! Events wait in sources, each in (time, sequence) order of its own, and an indexed heap
//! holds the first event of each source, so that taking the next event costs a few steps of a
//! heap as small as the network, however many packets are on the wire:
//!
//! - a lane per link direction: its arrivals, first in first out, as long as each is due no
//!   earlier than the one before it (a link delivers in order unless it jitters or reorders);
//! - the strays: arrivals due before the last one of their lane, in a heap of their own;
//! - a timer per host: its one deadline, replaced when the host re-arms it (no stale entry
//!   is left behind).

use core::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use ustack_core::Instant;

use crate::link::{Direction, LinkId};

/// Something that will happen at a point of virtual time.
#[derive(Debug)]
pub(crate) enum EventKind {
    /// A copy of a packet reaches the far end of a link direction.
    Arrival { link: LinkId, dir: Direction, packet: Vec<u8> },
    /// A host's deadline.
    Timer { host: usize },
}

#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) at: Instant,
    pub(crate) kind: EventKind,
}

/// When an event runs: by time, then by the order it was scheduled in.
type Key = (Instant, u64);

/// An arrival waiting in a lane.
#[derive(Debug)]
struct Queued {
    key: Key,
    packet: Vec<u8>,
}

/// An arrival out of its lane's order.
#[derive(Debug)]
struct Stray {
    key: Key,
    link: LinkId,
    dir: Direction,
    packet: Vec<u8>,
}

impl PartialEq for Stray {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Stray {}

impl PartialOrd for Stray {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stray {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Where the first event of a source is kept.
#[derive(Debug, Clone, Copy)]
enum Source {
    Strays,
    Lane(usize),
    Timer(usize),
}

/// Sources by number, [`Source::Strays`] first.
const STRAYS: usize = 0;

/// Pending events, earliest first.
#[derive(Debug)]
pub(crate) struct EventQueue {
    next_seq: u64,
    /// By `2 * link + direction`: the lane and its source number.
    lanes: Vec<(VecDeque<Queued>, usize)>,
    strays: BinaryHeap<Reverse<Stray>>,
    /// By host: the armed deadline and its source number.
    timers: Vec<(Option<Key>, usize)>,
    armed: usize,
    /// By source number.
    sources: Vec<Source>,
    heads: Heads,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            next_seq: 0,
            lanes: Vec::new(),
            strays: BinaryHeap::new(),
            timers: Vec::new(),
            armed: 0,
            sources: vec![Source::Strays],
            heads: Heads { heap: Vec::new(), pos: vec![NOT_IN_HEAP] },
        }
    }
}

impl EventQueue {
    fn source(&mut self, source: Source) -> usize {
        self.sources.push(source);
        self.heads.pos.push(NOT_IN_HEAP);
        self.sources.len() - 1
    }

    /// Makes room for host `host`'s timer (hosts come in order from 0).
    pub(crate) fn add_host(&mut self, host: usize) {
        debug_assert_eq!(host, self.timers.len());
        let source = self.source(Source::Timer(host));
        self.timers.push((None, source));
    }

    /// Makes room for the arrivals of link `link` (links come in order from 0).
    pub(crate) fn add_link(&mut self, link: LinkId) {
        debug_assert_eq!(2 * link.0, self.lanes.len());
        for dir in Direction::BOTH {
            let source = self.source(Source::Lane(lane_of(link, dir)));
            self.lanes.push((VecDeque::new(), source));
        }
    }

    fn seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A copy of `packet` reaches the far end of `link` in direction `dir` at `at`.
    pub(crate) fn push_arrival(
        &mut self,
        at: Instant,
        link: LinkId,
        dir: Direction,
        packet: Vec<u8>,
    ) {
        let key = (at, self.seq());
        let (lane, source) = &mut self.lanes[lane_of(link, dir)];
        match lane.back() {
            None => {
                lane.push_back(Queued { key, packet });
                self.heads.set(*source, Some(key));
            }
            Some(last) if last.key.0 <= at => lane.push_back(Queued { key, packet }),
            Some(_) => {
                self.strays.push(Reverse(Stray { key, link, dir, packet }));
                let first = self.strays.peek().map(|s| s.0.key);
                self.heads.set(STRAYS, first);
            }
        }
    }

    /// Host `host`'s deadline is `at` from now on (`None`: it has none), in place of the one
    /// set before.
    pub(crate) fn set_timer(&mut self, host: usize, at: Option<Instant>) {
        let key = at.map(|at| (at, self.seq()));
        let (timer, source) = &mut self.timers[host];
        self.armed = self.armed + usize::from(key.is_some()) - usize::from(timer.is_some());
        *timer = key;
        self.heads.set(*source, key);
    }

    /// When the next event is due.
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heads.first().map(|(key, _)| key.0)
    }

    /// Takes the next event.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        let (key, source) = self.heads.first()?;
        let (kind, next) = match self.sources[source] {
            Source::Strays => {
                let Reverse(Stray { link, dir, packet, .. }) = self.strays.pop()?;
                (EventKind::Arrival { link, dir, packet }, self.strays.peek().map(|s| s.0.key))
            }
            Source::Lane(i) => {
                let lane = &mut self.lanes[i].0;
                let Queued { packet, .. } = lane.pop_front()?;
                // The lane's next packet is the next to reach the same host, a packet's
                // serialization time from now. On a path longer than the caches hold (10
                // Gbit/s for a millisecond is 1.25 MB on the wire) it has left them since
                // it was sent; fetching it while this one is handled saves the receiving
                // stack the wait in its checksum loop (docs/performance.md, simulator).
                if let Some(next) = lane.front() {
                    ustack_wire::checksum::prefetch(&next.packet);
                }
                let (link, dir) = (LinkId(i / 2), Direction::BOTH[i % 2]);
                (EventKind::Arrival { link, dir, packet }, lane.front().map(|q| q.key))
            }
            Source::Timer(host) => {
                self.timers[host].0 = None;
                self.armed -= 1;
                (EventKind::Timer { host }, None)
            }
        };
        self.heads.set(source, next);
        Some(Event { at: key.0, kind })
    }

    /// Events waiting: arrivals and armed deadlines.
    pub(crate) fn len(&self) -> usize {
        self.lanes.iter().map(|(lane, _)| lane.len()).sum::<usize>()
            + self.strays.len()
            + self.armed
    }
}

fn lane_of(link: LinkId, dir: Direction) -> usize {
    2 * link.0 + dir.index()
}

const NOT_IN_HEAP: usize = usize::MAX;

/// A binary min-heap of (key, source), each source at most once, with each source's place in
/// it, so that a source's key can be changed or removed in place.
#[derive(Debug)]
struct Heads {
    heap: Vec<(Key, usize)>,
    /// By source: its index in `heap`, or `NOT_IN_HEAP`.
    pos: Vec<usize>,
}

impl Heads {
    fn first(&self) -> Option<(Key, usize)> {
        self.heap.first().copied()
    }

    /// Gives `source` the key `key`, or takes it out with `None`.
    fn set(&mut self, source: usize, key: Option<Key>) {
        let at = self.pos[source];
        match (at, key) {
            (NOT_IN_HEAP, None) => {}
            (NOT_IN_HEAP, Some(key)) => {
                self.heap.push((key, source));
                self.pos[source] = self.heap.len() - 1;
                self.up(self.heap.len() - 1);
            }
            (i, Some(key)) => {
                let old = self.heap[i].0;
                self.heap[i].0 = key;
                if key < old {
                    self.up(i);
                } else {
                    self.down(i);
                }
            }
            (i, None) => {
                self.pos[source] = NOT_IN_HEAP;
                let last = self.heap.pop().expect("a source in the heap");
                if i < self.heap.len() {
                    self.heap[i] = last;
                    self.pos[last.1] = i;
                    if i > 0 && last.0 < self.heap[(i - 1) / 2].0 {
                        self.up(i);
                    } else {
                        self.down(i);
                    }
                }
            }
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.heap.swap(i, j);
        self.pos[self.heap[i].1] = i;
        self.pos[self.heap[j].1] = j;
    }

    fn up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].0 <= self.heap[i].0 {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < self.heap.len() && self.heap[l].0 < self.heap[least].0 {
                least = l;
            }
            if r < self.heap.len() && self.heap[r].0 < self.heap[least].0 {
                least = r;
            }
            if least == i {
                break;
            }
            self.swap(i, least);
            i = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(q: &mut EventQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop())
            .map(|e| match e.kind {
                EventKind::Timer { host } => format!("t{host}@{}", e.at.as_nanos() / 1_000_000),
                EventKind::Arrival { link, dir, packet } => {
                    format!(
                        "{}{}:{}@{}",
                        link.0,
                        ["ab", "ba"][dir.index()],
                        packet[0],
                        e.at.as_nanos() / 1_000_000
                    )
                }
            })
            .collect()
    }

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut q = EventQueue::default();
        for host in 0..4 {
            q.add_host(host);
        }
        q.set_timer(0, Some(Instant::from_millis(2)));
        q.set_timer(1, Some(Instant::from_millis(1)));
        q.set_timer(2, Some(Instant::from_millis(2)));
        q.set_timer(3, Some(Instant::from_millis(1)));
        assert_eq!(q.len(), 4);
        assert_eq!(order(&mut q), ["t1@1", "t3@1", "t0@2", "t2@2"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_re_armed_timer_runs_once_at_its_new_time_and_order() {
        let mut q = EventQueue::default();
        for host in 0..3 {
            q.add_host(host);
        }
        q.set_timer(0, Some(Instant::from_millis(5)));
        q.set_timer(1, Some(Instant::from_millis(3)));
        q.set_timer(2, Some(Instant::from_millis(3)));
        // Re-armed to the same time: now scheduled after host 2's.
        q.set_timer(1, Some(Instant::from_millis(3)));
        q.set_timer(0, Some(Instant::from_millis(1)));
        q.set_timer(2, None);
        assert_eq!(q.len(), 2);
        assert_eq!(order(&mut q), ["t0@1", "t1@3"]);
    }

    #[test]
    fn arrivals_out_of_their_lanes_order_still_run_by_time_then_scheduling() {
        let mut q = EventQueue::default();
        q.add_host(0);
        q.add_link(LinkId(0));
        q.add_link(LinkId(1));
        let ms = Instant::from_millis;
        let (a, b) = (Direction::AToB, Direction::BToA);
        q.push_arrival(ms(4), LinkId(0), a, vec![0]);
        q.push_arrival(ms(6), LinkId(0), a, vec![1]);
        // Held back on the wire: due before the last of its lane.
        q.push_arrival(ms(5), LinkId(0), a, vec![2]);
        q.push_arrival(ms(4), LinkId(0), a, vec![3]);
        q.push_arrival(ms(6), LinkId(0), a, vec![4]);
        q.push_arrival(ms(5), LinkId(1), b, vec![5]);
        q.set_timer(0, Some(ms(5)));
        q.push_arrival(ms(5), LinkId(0), b, vec![6]);
        assert_eq!(q.len(), 8);
        assert_eq!(
            order(&mut q),
            ["0ab:0@4", "0ab:3@4", "0ab:2@5", "1ba:5@5", "t0@5", "0ba:6@5", "0ab:1@6", "0ab:4@6"]
        );
    }

    #[test]
    fn the_heap_keeps_its_order_through_any_changes() {
        // Against a sorted list, over pseudo-random changes to 50 timers.
        let mut q = EventQueue::default();
        let mut want: Vec<Option<Key>> = vec![None; 50];
        for host in 0..50 {
            q.add_host(host);
        }
        let mut x = 12345u64;
        for round in 0..20_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let host = (x >> 33) as usize % 50;
            let at = (x >> 13) % 100;
            if round % 7 == 0 {
                let popped = q.pop().map(|e| match e.kind {
                    EventKind::Timer { host } => host,
                    EventKind::Arrival { .. } => unreachable!(),
                });
                let first = (0..50).filter(|&h| want[h].is_some()).min_by_key(|&h| want[h]);
                assert_eq!(popped, first);
                if let Some(h) = first {
                    want[h] = None;
                }
            } else if at < 10 {
                q.set_timer(host, None);
                want[host] = None;
            } else {
                q.set_timer(host, Some(Instant::from_millis(at)));
                want[host] = Some((Instant::from_millis(at), q.next_seq - 1));
            }
            assert_eq!(q.len(), want.iter().flatten().count());
        }
    }
}
