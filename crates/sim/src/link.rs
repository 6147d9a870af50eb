//! A point-to-point link: two independent [`Direction`]s, each a drop-tail queue in front of
//! a wire of fixed rate and delay, with the impairments of its [`LinkConfig`]; and
//! [`LinkModel`], one direction on its own for a driver with a clock of its own.

use std::collections::VecDeque;

use ustack_core::{Duration, Instant};

use crate::config::{LinkConfig, LinkConfigError, QueueLimit};
use crate::impair::{Impairments, WireEffects, WireLoss};

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
    /// ECN-capable packets marked Congestion Experienced by the queue
    /// ([`LinkConfig::ecn_threshold`]).
    pub ce_marked: u64,
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
    pub(crate) cfg: LinkConfig,
    pub(crate) stats: LinkStats,
    /// Packets not yet fully serialized: (time serialization ends, length), oldest first.
    backlog: VecDeque<(Instant, usize)>,
    backlog_bytes: usize,
    /// When the wire is free for the next packet.
    busy_until: Instant,
    /// When the last packet not held back by reordering arrives: with jitter, no later
    /// packet arrives before it.
    last_arrival: Instant,
    impair: Impairments,
    /// The config has no impairment on the wire (steps 4 to 10): nothing to draw.
    clean_wire: bool,
}

impl Channel {
    pub(crate) fn new(cfg: LinkConfig, seed: u64, link: usize, dir: Direction) -> Self {
        Channel {
            stats: LinkStats::default(),
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            busy_until: Instant::ZERO,
            last_arrival: Instant::ZERO,
            impair: Impairments::new(seed, link, dir.index()),
            clean_wire: !cfg.impairs_the_wire(),
            cfg,
        }
    }

    /// The sending host put `packet` into the link at `now`: hands `deliver` the copies to
    /// deliver (none, one, or two when duplicated), each with its arrival time. The copies
    /// are made in buffers taken from `pool` while it has any; a buffer taken and then
    /// dropped goes back.
    pub(crate) fn offer(
        &mut self,
        now: Instant,
        packet: &[u8],
        pool: &mut Vec<Vec<u8>>,
        mut deliver: impl FnMut(Transit),
    ) {
        self.stats.sent += 1;
        self.stats.sent_bytes += packet.len() as u64;
        if packet.len() > self.cfg.mtu {
            self.stats.dropped.mtu += 1;
            return;
        }
        if self.cfg.partitioned_at(now) {
            self.stats.dropped.partition += 1;
            return;
        }
        let queued = self.queued(now);
        let Some(serialized) = self.enqueue(now, packet.len()) else {
            self.stats.dropped.queue += 1;
            return;
        };
        let mut packet = copy_into(pool.pop(), packet);
        if self.cfg.ecn_threshold.is_some_and(|t| queued >= t) && mark_ce(&mut packet) {
            self.stats.ce_marked += 1;
        }
        let effects = if self.clean_wire {
            WireEffects::default()
        } else {
            match self.impair.on_wire(&self.cfg, serialized, &mut packet) {
                Ok(effects) => effects,
                Err(loss) => {
                    let d = &mut self.stats.dropped;
                    match loss {
                        WireLoss::Random => d.loss += 1,
                        WireLoss::Burst => d.burst_loss += 1,
                        WireLoss::TimedBurst => d.timed_burst_loss += 1,
                    }
                    pool.push(packet);
                    return;
                }
            }
        };
        let mut at = serialized + self.cfg.delay;
        if !self.cfg.jitter.is_zero() {
            let offset = Duration::from_nanos(effects.jitter_nanos.unsigned_abs());
            at = if effects.jitter_nanos < 0 {
                (serialized + self.cfg.delay.saturating_sub(offset)).max(self.last_arrival)
            } else {
                at.checked_add(offset).unwrap_or(Instant::MAX).max(self.last_arrival)
            };
            self.last_arrival = at;
        }
        if effects.corrupted_bit.is_some() {
            self.stats.corrupted += 1;
        }
        if let Some(extra) = effects.held_back {
            self.stats.reordered += 1;
            at += extra;
        }
        self.stats.in_flight += 1;
        if effects.duplicated {
            self.stats.duplicated += 1;
            self.stats.in_flight += 1;
            let copy = copy_into(pool.pop(), &packet);
            deliver(Transit { at, packet });
            deliver(Transit { at, packet: copy });
        } else {
            deliver(Transit { at, packet });
        }
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

    /// Packets queued at `now` (the one being serialized included).
    fn queued(&mut self, now: Instant) -> usize {
        while let Some(&(done, bytes)) = self.backlog.front() {
            if done > now {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= bytes;
        }
        self.backlog.len()
    }

    /// Queues `len` bytes at `now` behind the packets still serializing (right after
    /// [`queued`](Channel::queued) at the same `now`, which dropped those done): when its last
    /// bit leaves, or `None` when the queue is full.
    fn enqueue(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let Some(rate) = self.cfg.rate_bps else {
            return Some(now);
        };
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

/// `packet` in `buf` (its old bytes dropped), or in a new buffer.
fn copy_into(buf: Option<Vec<u8>>, packet: &[u8]) -> Vec<u8> {
    let mut buf = buf.unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(packet);
    buf
}

/// Sets the ECN field of an IPv4 or IPv6 packet that is ECN-capable (ECT(0) or ECT(1)) to CE
/// (RFC 3168 §5: "a router MUST NOT ... set the CE codepoint" on Not-ECT packets); the IPv4
/// header checksum follows. Returns whether it marked.
fn mark_ce(packet: &mut [u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= ustack_wire::ipv4::HEADER_LEN => {
            let mut ip = ustack_wire::Ipv4Packet::new_unchecked(&mut packet[..]);
            if !matches!(ip.ecn(), 0b01 | 0b10) {
                return false;
            }
            let dscp = ip.dscp();
            ip.set_dscp_ecn(dscp, 0b11);
            ip.fill_checksum();
            true
        }
        Some(6) if packet.len() >= ustack_wire::ipv6::HEADER_LEN => {
            // The traffic class's low two bits are the high nibble's low bits of byte 1.
            let ecn = (packet[1] >> 4) & 0b11;
            if !matches!(ecn, 0b01 | 0b10) {
                return false;
            }
            packet[1] |= 0b11 << 4;
            true
        }
        _ => false,
    }
}

/// One direction of a link on its own, outside any [`Network`](crate::Network): the same
/// queue, wire and impairments (every step of [`LinkConfig`]'s list, counted in the same
/// [`LinkStats`]), for a driver that has packets and a clock of its own. `ustack netem` runs
/// one per direction in real time between two TUN devices.
///
/// The driver calls [`offer`](LinkModel::offer) when a packet enters the link, which says
/// when each copy of it (none, one, or two when duplicated) is due at the far end; at that
/// time the driver calls [`arrive`](LinkModel::arrive) with the copy, which says whether to
/// deliver it (a partition may have cut the link since). `now` never goes back from one call
/// to the next; the model itself never reads a clock.
///
/// A model made with seed `s` and direction `d` draws exactly as direction `d` of the first
/// link of a [`Network`](crate::Network) made with seed `s`: given the same packets at the
/// same times, it drops, delays, duplicates, reorders and corrupts the same ones.
///
/// ```
/// use ustack_sim::{Direction, Duration, Instant, LinkConfig, LinkModel};
///
/// let cfg = LinkConfig::new().rate_bps(8_000_000).delay(Duration::from_millis(10));
/// let mut wire = LinkModel::new(cfg, 1, Direction::AToB)?;
/// let [copy, dup] = wire.offer(Instant::ZERO, &[0u8; 1000]);
/// let copy = copy.expect("no loss configured");
/// assert!(dup.is_none());
/// // 1,000 bytes at 8 Mbit/s take 1 ms, then 10 ms of propagation.
/// assert_eq!(copy.at, Instant::from_millis(11));
/// assert!(wire.arrive(copy.at, copy.packet.len()));
/// assert_eq!(wire.stats().delivered, 1);
/// # Ok::<(), ustack_sim::LinkConfigError>(())
/// ```
#[derive(Debug)]
pub struct LinkModel {
    channel: Channel,
}

/// A copy of a packet on its way through a [`LinkModel`]: due at the far end at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// When the copy reaches the far end.
    pub at: Instant,
    /// The copy, possibly with a bit flipped by corruption.
    pub packet: Vec<u8>,
}

impl LinkModel {
    /// Direction `dir` of a link configured by `cfg`, its random draws fixed by `seed`.
    /// Refuses a config with a value out of range, naming it.
    pub fn new(cfg: LinkConfig, seed: u64, dir: Direction) -> Result<Self, LinkConfigError> {
        cfg.validate()?;
        Ok(LinkModel { channel: Channel::new(cfg, seed, 0, dir) })
    }

    /// `packet` enters the link at `now`: the copies to deliver, each with the time it
    /// reaches the far end. Both `None` when the packet is dropped (too long, partition,
    /// queue full, or lost on the wire); a second copy when it is duplicated. Copies can come
    /// out due earlier than copies of packets offered before, when those were held back by
    /// reordering.
    pub fn offer(&mut self, now: Instant, packet: &[u8]) -> [Option<Delivery>; 2] {
        let mut copies = [None, None];
        let mut next = copies.iter_mut();
        self.channel.offer(now, packet, &mut Vec::new(), |Transit { at, packet }| {
            if let Some(slot) = next.next() {
                *slot = Some(Delivery { at, packet });
            }
        });
        copies
    }

    /// A copy of `len` bytes returned by [`offer`](LinkModel::offer) reaches the far end at
    /// `now`: whether to deliver it. `false` when the link is partitioned at `now` (counted as
    /// a partition drop). Every copy must come here exactly once, for the counts to add up.
    pub fn arrive(&mut self, now: Instant, len: usize) -> bool {
        self.channel.arrive(now, len)
    }

    /// What the direction did so far.
    pub fn stats(&self) -> &LinkStats {
        &self.channel.stats
    }

    /// Its configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.channel.cfg
    }
}

/// `len` bytes at `rate` bits per second, rounded up to the nanosecond.
pub(crate) fn serialization_time(len: usize, rate: u64) -> Duration {
    // Bits times 10^9 fit in 64 bits for any packet (below 2^31 bytes); the 128-bit division
    // is for the rest.
    if let Ok(len) = u32::try_from(len)
        && len < 1 << 31
    {
        return Duration::from_nanos((u64::from(len) * 8_000_000_000).div_ceil(rate));
    }
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
        // Past 2^31 bytes, where bits times 10^9 no longer fit in 64 bits.
        assert_eq!(serialization_time(1 << 32, 8_000_000_000), Duration::from_nanos(1 << 32));
        assert_eq!(serialization_time((1 << 31) - 1, 1), Duration::from_secs(((1 << 31) - 1) * 8));
    }
}
