//! A point-to-point link: two independent [`Direction`]s, each a drop-tail queue in front of
//! a wire of fixed rate and delay, with the impairments of its [`LinkConfig`].

use std::collections::VecDeque;

use ustack_core::{Duration, Instant};

use crate::config::{LinkConfig, QueueLimit};
use crate::host::Endpoint;
use crate::impair::{Impairments, WireLoss};

/// A link in a [`Network`](crate::Network), in the order links were connected, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub(crate) usize);

impl LinkId {
    /// The link's position in the order links were connected, from 0.
    pub const fn index(self) -> usize {
        self.0
    }
}

/// One direction of a link, named after the order of the ends given to
/// [`Network::connect`](crate::Network::connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// From the first end to the second.
    AToB,
    /// From the second end to the first.
    BToA,
}

impl Direction {
    /// Both directions, `AToB` first.
    pub const BOTH: [Direction; 2] = [Direction::AToB, Direction::BToA];

    pub(crate) const fn index(self) -> usize {
        match self {
            Direction::AToB => 0,
            Direction::BToA => 1,
        }
    }
}

/// What one direction of a link did, packet by packet. Every packet offered is, in the end,
/// dropped, delivered or still in flight: `sent + duplicated == dropped.total() + delivered +
/// in_flight`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Packets the sending host put into the link.
    pub sent: u64,
    /// Their bytes.
    pub sent_bytes: u64,
    /// Packets handed to the receiving host, duplicates included.
    pub delivered: u64,
    /// Their bytes.
    pub delivered_bytes: u64,
    /// Packets dropped, by reason.
    pub dropped: Drops,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Packets held back by reordering.
    pub reordered: u64,
    /// Packets with a bit flipped.
    pub corrupted: u64,
    /// Packets (copies) on their way, neither delivered nor dropped yet.
    pub in_flight: u64,
}

/// Dropped packets by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drops {
    /// Longer than the link's MTU.
    pub mtu: u64,
    /// The link was partitioned when the packet entered it or when it would have arrived.
    pub partition: u64,
    /// The drop-tail queue was full.
    pub queue: u64,
    /// Random loss.
    pub loss: u64,
    /// Bursty loss per packet ([`GilbertElliott`](crate::GilbertElliott)).
    pub burst_loss: u64,
    /// Bursty loss in time: sent in a bad period ([`TimedBursts`](crate::TimedBursts)).
    pub timed_burst_loss: u64,
}

impl Drops {
    /// All drops.
    pub fn total(&self) -> u64 {
        self.mtu + self.partition + self.queue + self.loss + self.burst_loss + self.timed_burst_loss
    }
}

/// A copy of a packet on its way, to be delivered at `at`.
#[derive(Debug)]
pub(crate) struct Transit {
    pub(crate) at: Instant,
    pub(crate) packet: Vec<u8>,
}

/// One direction of a link at run time.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) to: Endpoint,
    pub(crate) cfg: LinkConfig,
    pub(crate) stats: LinkStats,
    /// Packets not yet fully serialized: (time serialization ends, length), oldest first.
    backlog: VecDeque<(Instant, usize)>,
    backlog_bytes: usize,
    /// When the wire is free for the next packet.
    busy_until: Instant,
    impair: Impairments,
}

impl Channel {
    pub(crate) fn new(
        to: Endpoint,
        cfg: LinkConfig,
        seed: u64,
        link: usize,
        dir: Direction,
    ) -> Self {
        Channel {
            to,
            cfg,
            stats: LinkStats::default(),
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            busy_until: Instant::ZERO,
            impair: Impairments::new(seed, link, dir.index()),
        }
    }

    /// The sending host put `packet` into the link at `now`: the copies to deliver (none,
    /// one, or two when duplicated), each with its arrival time.
    pub(crate) fn offer(&mut self, now: Instant, packet: &[u8]) -> [Option<Transit>; 2] {
        self.stats.sent += 1;
        self.stats.sent_bytes += packet.len() as u64;
        if packet.len() > self.cfg.mtu {
            self.stats.dropped.mtu += 1;
            return [None, None];
        }
        if self.cfg.partitioned_at(now) {
            self.stats.dropped.partition += 1;
            return [None, None];
        }
        let Some(serialized) = self.enqueue(now, packet.len()) else {
            self.stats.dropped.queue += 1;
            return [None, None];
        };
        let mut packet = packet.to_vec();
        let effects = match self.impair.on_wire(&self.cfg, serialized, &mut packet) {
            Ok(effects) => effects,
            Err(WireLoss::Random) => {
                self.stats.dropped.loss += 1;
                return [None, None];
            }
            Err(WireLoss::Burst) => {
                self.stats.dropped.burst_loss += 1;
                return [None, None];
            }
            Err(WireLoss::TimedBurst) => {
                self.stats.dropped.timed_burst_loss += 1;
                return [None, None];
            }
        };
        let mut at = serialized + self.cfg.delay;
        if effects.corrupted_bit.is_some() {
            self.stats.corrupted += 1;
        }
        if let Some(extra) = effects.held_back {
            self.stats.reordered += 1;
            at += extra;
        }
        self.stats.in_flight += 1;
        let copy = effects.duplicated.then(|| {
            self.stats.duplicated += 1;
            self.stats.in_flight += 1;
            Transit { at, packet: packet.clone() }
        });
        [Some(Transit { at, packet }), copy]
    }

    /// A copy of `len` bytes reaches the far end at `now`: whether it is delivered (or cut by
    /// a partition).
    pub(crate) fn arrive(&mut self, now: Instant, len: usize) -> bool {
        self.stats.in_flight -= 1;
        if self.cfg.partitioned_at(now) {
            self.stats.dropped.partition += 1;
            return false;
        }
        self.stats.delivered += 1;
        self.stats.delivered_bytes += len as u64;
        true
    }

    /// Queues `len` bytes at `now` behind the packets still serializing: when its last bit
    /// leaves, or `None` when the queue is full.
    fn enqueue(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let Some(rate) = self.cfg.rate_bps else {
            return Some(now);
        };
        while let Some(&(done, bytes)) = self.backlog.front() {
            if done > now {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= bytes;
        }
        let full = match self.cfg.queue {
            QueueLimit::Packets(limit) => self.backlog.len() >= limit,
            QueueLimit::Bytes(limit) => self.backlog_bytes + len > limit,
            QueueLimit::Unlimited => false,
        };
        if full {
            return None;
        }
        let start = self.busy_until.max(now);
        let done = start + serialization_time(len, rate);
        self.busy_until = done;
        self.backlog.push_back((done, len));
        self.backlog_bytes += len;
        Some(done)
    }
}

/// `len` bytes at `rate` bits per second, rounded up to the nanosecond.
pub(crate) fn serialization_time(len: usize, rate: u64) -> Duration {
    let nanos = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(rate));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_time_is_exact_or_rounded_up() {
        assert_eq!(serialization_time(1_000, 8_000_000), Duration::from_millis(1));
        assert_eq!(serialization_time(1_500, 10_000_000), Duration::from_micros(1_200));
        assert_eq!(serialization_time(1, 3_000_000_000), Duration::from_nanos(3));
    }
}
