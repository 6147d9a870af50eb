//! How a link behaves: [`LinkConfig`], built with chained methods and checked when the link
//! is connected.

use core::fmt;

use ustack_core::{Duration, Instant};

/// The largest IPv4 packet, and so the largest MTU a link takes.
pub const MAX_MTU: usize = 65_535;

/// One direction of a point-to-point link: its rate, delay, queue, MTU and impairments.
///
/// [`Network::connect`](crate::Network::connect) uses one config for both directions,
/// [`Network::connect_asymmetric`](crate::Network::connect_asymmetric) one per direction;
/// the two directions never share state. A [`LinkModel`](crate::LinkModel) runs one
/// direction outside a network, on a clock of its caller's. Defaults ([`LinkConfig::new`]):
/// unlimited rate, no delay, a queue of 1,000 packets (Linux's `txqueuelen`), MTU 1500, no
/// impairment.
///
/// ```
/// use ustack_sim::{Duration, GilbertElliott, Instant, LinkConfig, TimedBursts};
///
/// let wan = LinkConfig::new()
///     .rate_bps(10_000_000)
///     .delay(Duration::from_millis(10))
///     .jitter(Duration::from_millis(1))
///     .queue_packets(64)
///     .loss(0.01)
///     .burst_loss(GilbertElliott::new(0.001, 0.3))
///     .timed_burst_loss(TimedBursts::from_mean_loss(0.02, Duration::from_millis(50)))
///     .duplicate(0.001)
///     .reorder(0.01, Duration::from_millis(2))
///     .corrupt(0.0001)
///     .partition(Instant::from_secs(5), Instant::from_secs(7));
/// assert!(wan.validate().is_ok());
/// ```
///
/// What happens to a packet, in this order, each step counted in
/// [`LinkStats`](crate::LinkStats):
///
/// 1. longer than the MTU: dropped (a host bug, `dropped.mtu`);
/// 2. the link is partitioned now: dropped (`dropped.partition`);
/// 3. the queue is full: dropped (`dropped.queue`); otherwise it waits behind the packets
///    before it, then takes `len * 8 / rate` to serialize; with an
///    [`ecn_threshold`](LinkConfig::ecn_threshold), an ECN-capable packet (ECT(0), ECT(1)) that
///    finds at least that many packets queued is marked Congestion Experienced (`ce_marked`);
/// 4. random loss (`dropped.loss`), then 5. bursty loss per packet, [`GilbertElliott`]
///    (`dropped.burst_loss`), then 6. bursty loss in time, [`TimedBursts`]
///    (`dropped.timed_burst_loss`): lost on the wire, after using its share of the rate;
/// 7. corruption: one random bit flipped (`corrupted`);
/// 8. duplication: a second, identical copy arrives right behind it (`duplicated`);
/// 9. jitter: the propagation delay varies by an offset drawn uniformly from `-jitter` to
///    `+jitter` (never below zero), but a packet never arrives before the one sent before it:
///    jitter alone does not reorder (Linux netem's jitter does, unless a rate is set);
/// 10. reordering: held back by an extra delay, so later packets can overtake it
///     (`reordered`);
/// 11. after the propagation delay, the link is partitioned at the arrival time: dropped
///     (`dropped.partition`); otherwise delivered.
///
/// Each of steps 4 to 10 draws from its own random stream, for every packet that got past the
/// queue, so turning one impairment on does not change which packets another one hits. The
/// good and bad periods of [`TimedBursts`] have a stream of their own too, drawn as virtual
/// time passes rather than per packet.
///
/// The two bursty models differ in what a burst is made of. [`GilbertElliott`] moves between
/// its states once per packet, so a burst lasts a number of packets whatever the time between
/// them: a sender that backs off to one packet a second stays in a burst of ten packets for
/// ten seconds. [`TimedBursts`] moves between its states as time passes, so a burst lasts a
/// time whatever the number of packets sent in it, as a fading radio link or a flapping path
/// does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Bits per second, or `None` for no limit (no serialization time, the queue never fills).
    pub rate_bps: Option<u64>,
    /// One-way propagation delay, added after serialization.
    pub delay: Duration,
    /// How far the propagation delay of each packet may stray from `delay`, either way
    /// (uniformly; zero: not at all). It never reorders packets: step 9 of the list above
    /// [`LinkConfig`]'s fields.
    pub jitter: Duration,
    /// The drop-tail queue limit.
    pub queue: QueueLimit,
    /// Active queue management by ECN marking (RFC 3168 §5), or `None`: an ECT packet that
    /// arrives when at least this many packets are queued (the one being serialized
    /// included) has its ECN field set to CE, as a router's AQM marks instead of dropping
    /// (fq_codel's `ce_threshold`, RED with `ecn`). Not-ECT packets are not touched: they
    /// only meet the drop-tail limit. Needs a rate (without one nothing queues).
    pub ecn_threshold: Option<usize>,
    /// The largest packet the link carries, in bytes (the IP packet, no link header).
    pub mtu: usize,
    /// Probability that a packet is lost at random.
    pub loss: f64,
    /// Bursty loss whose state changes per packet, or `None`.
    pub burst_loss: Option<GilbertElliott>,
    /// Bursty loss whose state changes with time, or `None`.
    pub timed_burst_loss: Option<TimedBursts>,
    /// Probability that a packet arrives twice.
    pub duplicate: f64,
    /// Reordering, or `None`.
    pub reorder: Option<Reorder>,
    /// Probability that one bit of a packet is flipped.
    pub corrupt: f64,
    /// Intervals during which the link carries nothing.
    pub partitions: Vec<Partition>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            rate_bps: None,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            queue: QueueLimit::Packets(1_000),
            ecn_threshold: None,
            mtu: 1_500,
            loss: 0.0,
            burst_loss: None,
            timed_burst_loss: None,
            duplicate: 0.0,
            reorder: None,
            corrupt: 0.0,
            partitions: Vec::new(),
        }
    }
}

impl LinkConfig {
    /// The defaults: unlimited rate, no delay, 1,000 packets of queue, MTU 1500, no
    /// impairment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Limits the rate to `bps` bits per second.
    pub fn rate_bps(mut self, bps: u64) -> Self {
        self.rate_bps = Some(bps);
        self
    }

    /// Removes the rate limit (the default).
    pub fn unlimited_rate(mut self) -> Self {
        self.rate_bps = None;
        self
    }

    /// Sets the one-way propagation delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Varies each packet's propagation delay by an offset drawn uniformly from `-jitter`
    /// to `+jitter`, without letting it arrive before the packet sent before it.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// The queue holds at most `packets` packets.
    pub fn queue_packets(mut self, packets: usize) -> Self {
        self.queue = QueueLimit::Packets(packets);
        self
    }

    /// The queue holds at most `bytes` bytes.
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue = QueueLimit::Bytes(bytes);
        self
    }

    /// The queue never drops.
    pub fn unlimited_queue(mut self) -> Self {
        self.queue = QueueLimit::Unlimited;
        self
    }

    /// Sets the MTU in bytes.
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// Loses each packet with probability `p`, independently.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Loses packets in bursts of a number of packets, as `model` says.
    pub fn burst_loss(mut self, model: GilbertElliott) -> Self {
        self.burst_loss = Some(model);
        self
    }

    /// Loses packets in bad periods of a length in time, as `model` says.
    pub fn timed_burst_loss(mut self, model: TimedBursts) -> Self {
        self.timed_burst_loss = Some(model);
        self
    }

    /// Delivers each packet twice with probability `p`.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Holds each packet back by `extra_delay` with probability `p`, so that packets sent
    /// after it within `extra_delay` overtake it.
    pub fn reorder(mut self, p: f64, extra_delay: Duration) -> Self {
        self.reorder = Some(Reorder { probability: p, extra_delay });
        self
    }

    /// Flips one random bit of each packet with probability `p`; checksums catch it.
    pub fn corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }

    /// Cuts the link from `start` (inclusive) to `end` (exclusive): nothing enters it and
    /// nothing comes out of it in that interval. Several partitions may be added.
    pub fn partition(mut self, start: Instant, end: Instant) -> Self {
        self.partitions.push(Partition { start, end });
        self
    }

    /// Marks ECN-capable packets CE once `packets` are queued (see
    /// [`ecn_threshold`](LinkConfig::ecn_threshold)).
    pub fn ecn_threshold(mut self, packets: usize) -> Self {
        self.ecn_threshold = Some(packets);
        self
    }

    /// Checks every value, naming the first one out of range.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        if self.rate_bps == Some(0) {
            return Err(LinkConfigError::ZeroRate);
        }
        if self.mtu == 0 {
            return Err(LinkConfigError::ZeroMtu);
        }
        if self.mtu > MAX_MTU {
            return Err(LinkConfigError::MtuTooLarge(self.mtu));
        }
        match self.queue {
            QueueLimit::Packets(0) | QueueLimit::Bytes(0) => {
                return Err(LinkConfigError::ZeroQueue);
            }
            QueueLimit::Bytes(bytes) if bytes < self.mtu => {
                return Err(LinkConfigError::QueueBelowMtu { bytes, mtu: self.mtu });
            }
            _ => {}
        }
        probability("loss", self.loss)?;
        if let Some(ge) = &self.burst_loss {
            probability("burst_loss: p (good to bad)", ge.p)?;
            probability("burst_loss: r (bad to good)", ge.r)?;
            probability("burst_loss: loss_in_bad", ge.loss_in_bad)?;
            probability("burst_loss: loss_in_good", ge.loss_in_good)?;
        }
        if let Some(tb) = &self.timed_burst_loss {
            for (what, mean) in [
                ("timed_burst_loss: mean_good", tb.mean_good),
                ("timed_burst_loss: mean_bad", tb.mean_bad),
            ] {
                if mean < TimedBursts::MIN_MEAN {
                    return Err(LinkConfigError::PeriodTooShort { what, mean });
                }
            }
            probability("timed_burst_loss: loss_in_bad", tb.loss_in_bad)?;
            probability("timed_burst_loss: loss_in_good", tb.loss_in_good)?;
        }
        probability("duplicate", self.duplicate)?;
        if let Some(reorder) = &self.reorder {
            probability("reorder", reorder.probability)?;
        }
        probability("corrupt", self.corrupt)?;
        for p in &self.partitions {
            if p.start >= p.end {
                return Err(LinkConfigError::EmptyPartition { start: p.start, end: p.end });
            }
        }
        Ok(())
    }

    /// Whether any step on the wire (4 to 10 of the list) may lose, change, copy or delay a
    /// packet: with none, the wire draws nothing.
    pub(crate) fn impairs_the_wire(&self) -> bool {
        self.loss > 0.0
            || self.burst_loss.is_some()
            || self.timed_burst_loss.is_some()
            || self.corrupt > 0.0
            || self.duplicate > 0.0
            || !self.jitter.is_zero()
            || self.reorder.is_some_and(|r| r.probability > 0.0)
    }

    /// Whether the link is cut at `now`.
    pub(crate) fn partitioned_at(&self, now: Instant) -> bool {
        self.partitions.iter().any(|p| p.contains(now))
    }
}

fn probability(what: &'static str, value: f64) -> Result<(), LinkConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(LinkConfigError::Probability { what, value })
    }
}

/// How much a link's drop-tail queue holds.
///
/// The queue holds every packet that has entered the link and not finished serializing,
/// including the one being serialized (a FIFO in front of the wire, like a NIC ring). A
/// packet that would take it past its limit is dropped. With an unlimited rate nothing waits,
/// so nothing is ever dropped here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    /// At most this many packets.
    Packets(usize),
    /// At most this many bytes.
    Bytes(usize),
    /// No limit.
    Unlimited,
}

/// Bursty loss per packet, the Gilbert-Elliott model: a two-state Markov chain stepped once
/// per packet, then a loss drawn with the new state's probability.
///
/// From Good the chain moves to Bad with probability `p`, from Bad back to Good with
/// probability `r`, so a stay in Bad lasts `1 / r` packets on average and the chain spends
/// `p / (p + r)` of the packets in Bad. With the defaults of [`GilbertElliott::new`] (every
/// packet lost in Bad, none in Good) the mean loss burst is `1 / r` packets. The chain starts
/// in Good.
///
/// The chain only moves when a packet is sent: time between packets does not count. A flow
/// that backs off to a packet every few seconds stays in a burst for `1 / r` of its packets,
/// however long that takes, which no real link does; for losses that last a time, use
/// [`TimedBursts`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct GilbertElliott {
    /// Probability of moving from Good to Bad, per packet.
    pub p: f64,
    /// Probability of moving from Bad to Good, per packet.
    pub r: f64,
    /// Probability of loss in Bad (`1 - h` in Elliott's notation).
    pub loss_in_bad: f64,
    /// Probability of loss in Good (`1 - k` in Elliott's notation).
    pub loss_in_good: f64,
}

impl GilbertElliott {
    /// The simple Gilbert model: Good to Bad with probability `p`, Bad to Good with `r`,
    /// every packet lost in Bad, none in Good.
    pub fn new(p: f64, r: f64) -> Self {
        GilbertElliott { p, r, loss_in_bad: 1.0, loss_in_good: 0.0 }
    }

    /// The simple Gilbert model that loses `mean_loss` of the packets, in bursts of
    /// `mean_burst` packets on average: `r = 1 / mean_burst`, `p = mean_loss * r / (1 -
    /// mean_loss)`. For `mean_loss` in `0..1` and `mean_burst` of at least 1; `p` comes out
    /// above 1 (refused by [`LinkConfig::validate`]) when bursts that short cannot add up to
    /// that much loss.
    pub fn from_mean_loss(mean_loss: f64, mean_burst: f64) -> Self {
        let r = 1.0 / mean_burst;
        Self::new(mean_loss * r / (1.0 - mean_loss), r)
    }

    /// Sets the probability of loss in Bad.
    pub fn loss_in_bad(mut self, loss: f64) -> Self {
        self.loss_in_bad = loss;
        self
    }

    /// Sets the probability of loss in Good.
    pub fn loss_in_good(mut self, loss: f64) -> Self {
        self.loss_in_good = loss;
        self
    }

    /// The share of packets sent in Bad once the chain has settled: `p / (p + r)`.
    pub fn bad_fraction(&self) -> f64 {
        if self.p + self.r == 0.0 { 0.0 } else { self.p / (self.p + self.r) }
    }

    /// The long-run loss rate: `loss_in_bad` in Bad, `loss_in_good` in Good, weighted by
    /// [`bad_fraction`](Self::bad_fraction).
    pub fn mean_loss(&self) -> f64 {
        let bad = self.bad_fraction();
        bad * self.loss_in_bad + (1.0 - bad) * self.loss_in_good
    }
}

/// Bursty loss in time: the link alternates good and bad periods of random length, and a
/// packet is lost with the probability of the period it is sent in.
///
/// Each period's length is drawn from an exponential distribution, with mean
/// [`mean_good`](Self::mean_good) or [`mean_bad`](Self::mean_bad), so the link is a
/// two-state Markov process in continuous time: it leaves Bad at rate `1 / mean_bad` and
/// Good at rate `1 / mean_good`, and it is Bad for `mean_bad / (mean_good + mean_bad)` of the
/// time. With the defaults of [`TimedBursts::new`] (every packet lost in Bad, none in Good)
/// a loss burst lasts `mean_bad` on average however many packets are sent in it, and that
/// fraction is the loss rate of a flow whose send times do not follow the periods (TCP, which
/// stops sending in a fade until its RTO, loses less).
///
/// The periods are a timeline of virtual time, fixed by the network's seed and the link
/// direction alone: what is sent, and when, does not change them. The link starts in Bad with
/// probability `mean_bad / (mean_good + mean_bad)`, so the loss rate holds from time zero. A
/// packet takes the state at the instant its last bit leaves the sender. The timeline is not
/// stepped on a clock: when a packet comes, the periods that ended since the last one are
/// drawn, one draw each (hence [`MIN_MEAN`](Self::MIN_MEAN)).
///
/// ```
/// use ustack_sim::{Duration, LinkConfig, TimedBursts};
///
/// // Lost 7% of the time, in fades of 50 ms on average (good periods of 664 ms).
/// let fading = TimedBursts::from_mean_loss(0.07, Duration::from_millis(50));
/// assert_eq!(fading.mean_good, Duration::from_nanos(664_285_714));
/// assert!((fading.mean_loss() - 0.07).abs() < 1e-9);
/// let link = LinkConfig::new().timed_burst_loss(fading);
/// assert!(link.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TimedBursts {
    /// Mean length of a good period.
    pub mean_good: Duration,
    /// Mean length of a bad period.
    pub mean_bad: Duration,
    /// Probability that a packet sent in a bad period is lost.
    pub loss_in_bad: f64,
    /// Probability that a packet sent in a good period is lost.
    pub loss_in_good: f64,
}

impl TimedBursts {
    /// The shortest mean period [`LinkConfig::validate`] takes: 1 µs. Each period costs a
    /// random draw; this bounds the work to a million draws per second of virtual time.
    pub const MIN_MEAN: Duration = Duration::from_micros(1);

    /// Good periods of `mean_good` on average, bad ones of `mean_bad`; every packet lost in
    /// a bad period, none in a good one.
    pub fn new(mean_good: Duration, mean_bad: Duration) -> Self {
        TimedBursts { mean_good, mean_bad, loss_in_bad: 1.0, loss_in_good: 0.0 }
    }

    /// Bad `mean_loss` of the time, in bad periods of `mean_bad` on average: good periods
    /// of `mean_bad * (1 - mean_loss) / mean_loss`, rounded to the nanosecond. For
    /// `mean_loss` in `0..1`; at 0 the good periods never end.
    pub fn from_mean_loss(mean_loss: f64, mean_bad: Duration) -> Self {
        let good = mean_bad.as_nanos() as f64 * (1.0 - mean_loss) / mean_loss;
        // `as` saturates: infinite (mean_loss 0) becomes the longest Duration; NaN and
        // negative values (mean_loss above 1) become 0 ns, which validate refuses.
        Self::new(Duration::from_nanos(good.round() as u64), mean_bad)
    }

    /// Sets the probability of loss in a bad period.
    pub fn loss_in_bad(mut self, loss: f64) -> Self {
        self.loss_in_bad = loss;
        self
    }

    /// Sets the probability of loss in a good period.
    pub fn loss_in_good(mut self, loss: f64) -> Self {
        self.loss_in_good = loss;
        self
    }

    /// The share of time in bad periods: `mean_bad / (mean_good + mean_bad)`.
    pub fn bad_fraction(&self) -> f64 {
        let (good, bad) = (self.mean_good.as_secs_f64(), self.mean_bad.as_secs_f64());
        if good + bad == 0.0 { 0.0 } else { bad / (good + bad) }
    }

    /// The loss rate of a flow whose send times do not follow the periods: `loss_in_bad`
    /// in Bad, `loss_in_good` in Good, weighted by [`bad_fraction`](Self::bad_fraction).
    pub fn mean_loss(&self) -> f64 {
        let bad = self.bad_fraction();
        bad * self.loss_in_bad + (1.0 - bad) * self.loss_in_good
    }
}

/// Reordering: a packet held back by `extra_delay` with probability `probability`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Reorder {
    /// Probability that a packet is held back.
    pub probability: f64,
    /// How long it is held back, on top of the propagation delay.
    pub extra_delay: Duration,
}

/// An interval `[start, end)` during which a link carries nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// First instant of the cut.
    pub start: Instant,
    /// First instant after the cut.
    pub end: Instant,
}

impl Partition {
    /// Whether `now` lies in `[start, end)`.
    pub fn contains(&self, now: Instant) -> bool {
        self.start <= now && now < self.end
    }
}

/// A [`LinkConfig`] value out of range.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LinkConfigError {
    /// A probability outside `0..=1` (or NaN).
    Probability {
        /// Which setting.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// A rate of 0 bits per second: nothing would ever be sent.
    ZeroRate,
    /// An MTU of 0.
    ZeroMtu,
    /// An MTU larger than the largest IPv4 packet.
    MtuTooLarge(usize),
    /// A queue limit of 0: every packet would be dropped.
    ZeroQueue,
    /// A byte limit too small for one MTU-sized packet.
    QueueBelowMtu {
        /// The limit.
        bytes: usize,
        /// The MTU.
        mtu: usize,
    },
    /// A mean period of [`TimedBursts`] below [`TimedBursts::MIN_MEAN`].
    PeriodTooShort {
        /// Which setting.
        what: &'static str,
        /// The value given.
        mean: Duration,
    },
    /// A partition whose end is not after its start.
    EmptyPartition {
        /// Its start.
        start: Instant,
        /// Its end.
        end: Instant,
    },
}

impl fmt::Display for LinkConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkConfigError::Probability { what, value } => {
                write!(f, "link config: {what} probability {value} is outside 0..=1")
            }
            LinkConfigError::ZeroRate => write!(f, "link config: a rate of 0 bit/s sends nothing"),
            LinkConfigError::ZeroMtu => write!(f, "link config: an MTU of 0 carries nothing"),
            LinkConfigError::MtuTooLarge(mtu) => {
                write!(f, "link config: MTU {mtu} is over {MAX_MTU}, the largest IPv4 packet")
            }
            LinkConfigError::ZeroQueue => {
                write!(f, "link config: a queue limit of 0 drops every packet")
            }
            LinkConfigError::QueueBelowMtu { bytes, mtu } => {
                write!(f, "link config: a queue of {bytes} bytes cannot hold one {mtu}-byte packet")
            }
            LinkConfigError::PeriodTooShort { what, mean } => {
                write!(f, "link config: {what} of {mean:?} is below {:?}", TimedBursts::MIN_MEAN)
            }
            LinkConfigError::EmptyPartition { start, end } => {
                write!(f, "link config: partition from {start} to {end} is empty")
            }
        }
    }
}

impl std::error::Error for LinkConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_impairment_alone_counts_as_one_on_the_wire() {
        // The link skips the wire's draws for a config without any: each must be seen.
        let ms = Duration::from_millis(1);
        let plain = LinkConfig::new().rate_bps(1_000_000).delay(ms).queue_packets(5).mtu(1_400);
        assert!(!plain.impairs_the_wire());
        assert!(!plain.clone().reorder(0.0, ms).impairs_the_wire());
        for one in [
            plain.clone().loss(0.1),
            plain.clone().burst_loss(GilbertElliott::new(0.0, 1.0)),
            plain.clone().timed_burst_loss(TimedBursts::new(ms, ms)),
            plain.clone().corrupt(0.1),
            plain.clone().duplicate(0.1),
            plain.clone().jitter(ms),
            plain.clone().reorder(0.1, ms),
        ] {
            assert!(one.impairs_the_wire(), "{one:?}");
        }
    }

    #[test]
    fn validate_names_the_bad_value() {
        assert_eq!(LinkConfig::new().validate(), Ok(()));
        assert_eq!(
            LinkConfig::new().loss(1.5).validate(),
            Err(LinkConfigError::Probability { what: "loss", value: 1.5 })
        );
        assert!(matches!(
            LinkConfig::new().corrupt(f64::NAN).validate(),
            Err(LinkConfigError::Probability { what: "corrupt", .. })
        ));
        assert!(matches!(
            LinkConfig::new().burst_loss(GilbertElliott::new(0.1, -0.1)).validate(),
            Err(LinkConfigError::Probability { what: "burst_loss: r (bad to good)", .. })
        ));
        assert_eq!(
            LinkConfig::new()
                .timed_burst_loss(TimedBursts::new(
                    Duration::from_secs(1),
                    Duration::from_nanos(999)
                ))
                .validate(),
            Err(LinkConfigError::PeriodTooShort {
                what: "timed_burst_loss: mean_bad",
                mean: Duration::from_nanos(999)
            })
        );
        assert!(matches!(
            LinkConfig::new()
                .timed_burst_loss(TimedBursts::from_mean_loss(1.0, Duration::from_millis(1)))
                .validate(),
            Err(LinkConfigError::PeriodTooShort { what: "timed_burst_loss: mean_good", .. })
        ));
        assert!(matches!(
            LinkConfig::new()
                .timed_burst_loss(
                    TimedBursts::from_mean_loss(0.1, Duration::from_millis(1)).loss_in_good(2.0)
                )
                .validate(),
            Err(LinkConfigError::Probability { what: "timed_burst_loss: loss_in_good", .. })
        ));
        assert!(matches!(
            LinkConfig::new().burst_loss(GilbertElliott::from_mean_loss(0.6, 1.0)).validate(),
            Err(LinkConfigError::Probability { what: "burst_loss: p (good to bad)", .. })
        ));
        assert_eq!(LinkConfig::new().mtu(0).validate(), Err(LinkConfigError::ZeroMtu));
        assert_eq!(
            LinkConfig::new().mtu(70_000).validate(),
            Err(LinkConfigError::MtuTooLarge(70_000))
        );
        assert_eq!(LinkConfig::new().rate_bps(0).validate(), Err(LinkConfigError::ZeroRate));
        assert_eq!(LinkConfig::new().queue_packets(0).validate(), Err(LinkConfigError::ZeroQueue));
        assert_eq!(
            LinkConfig::new().queue_bytes(1000).validate(),
            Err(LinkConfigError::QueueBelowMtu { bytes: 1000, mtu: 1500 })
        );
        let t = Instant::from_secs(1);
        assert_eq!(
            LinkConfig::new().partition(t, t).validate(),
            Err(LinkConfigError::EmptyPartition { start: t, end: t })
        );
        assert_eq!(
            LinkConfig::new().loss(2.0).to_string_err(),
            "link config: loss probability 2 is outside 0..=1"
        );
    }

    impl LinkConfig {
        fn to_string_err(&self) -> String {
            self.validate().unwrap_err().to_string()
        }
    }
}
