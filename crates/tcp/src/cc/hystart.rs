//! HyStart++ (RFC 9406): slow start that leaves before the bottleneck queue overflows.
//!
//! Standard slow start doubles `cwnd` every round trip until a loss, so the last round sends
//! up to twice what the path holds and a whole window of packets can be dropped at once.
//! HyStart++ watches the smallest RTT of each round: once it has grown by a threshold over
//! the previous round's, the queue is filling, and slow start gives way to Conservative Slow
//! Start (CSS), a quarter of the growth rate, for at most [`CSS_ROUNDS`] rounds. If the RTT
//! falls back below the level that started CSS, the rise was noise and slow start resumes;
//! otherwise congestion avoidance begins with `ssthresh = cwnd`, without a loss.
//!
//! [`HyStart`] is the algorithm on its own: any controller can run its slow start through it
//! (CUBIC does, see [`Cubic`](super::Cubic)). The controller keeps `cwnd` and `ssthresh` and
//! applies what [`HyStart::on_ack`] returns.

use core::time::Duration;

use ustack_wire::SeqNum;

use super::NewAck;
use crate::time::Nanos;

#[cfg(test)]
mod tests;

/// RFC 9406 §4.3: `MIN_RTT_THRESH = 4 msec`, the smallest RTT rise that ends slow start.
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3: `MAX_RTT_THRESH = 16 msec`, the largest rise needed.
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3: `MIN_RTT_DIVISOR = 8`: the rise needed is an eighth of the last round's
/// minimum RTT, within the two bounds above.
pub const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: `N_RTT_SAMPLE = 8`, RTT samples a round needs before it is compared.
pub const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: `CSS_GROWTH_DIVISOR = 4`: CSS grows `cwnd` at a quarter of slow start's rate.
pub const CSS_GROWTH_DIVISOR: u32 = 4;
/// RFC 9406 §4.3: `CSS_ROUNDS = 5`, the rounds CSS lasts before congestion avoidance.
pub const CSS_ROUNDS: u32 = 5;
/// RFC 9406 §4.3: "L = infinity if paced, L = 8 if non-paced": at most `L·SMSS` bytes of
/// growth per ACK, so a stretch ACK cannot release a large burst. ustack does not pace.
pub const L: u32 = 8;

/// Where HyStart++ is: which growth rule an ACK gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyStartPhase {
    /// Standard slow start, watching for the RTT to rise (RFC 9406 §4.2).
    SlowStart,
    /// Conservative Slow Start, `rounds` of [`CSS_ROUNDS`] begun (the partial round in which
    /// CSS started counts, RFC 9406 §4.2).
    ConservativeSlowStart {
        /// `cssBaselineMinRtt`: the round minimum RTT that started CSS.
        baseline: Duration,
        /// CSS rounds begun so far, 1 to [`CSS_ROUNDS`].
        rounds: u32,
    },
}

/// What one ACK does to a slow-starting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct SlowStartStep {
    /// Bytes to add to `cwnd`.
    pub growth: u32,
    /// Slow start is over (the last CSS round has ended): set `ssthresh = cwnd` and handle
    /// this ACK's bytes as congestion avoidance (`growth` is then 0). RFC 9406 §4.2: "If
    /// CSS_ROUNDS rounds are complete, enter congestion avoidance by setting the ssthresh to
    /// the current cwnd."
    pub exit: bool,
}

/// Where the current round ends (decoded from [`HyStart`]'s packed fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundEnd {
    /// No round started yet.
    None,
    /// RFC 9406's `windowEnd`: the round ends with the ACK that covers this sequence number.
    Seq(SeqNum),
    /// Without sequence numbers: the round ends once this many bytes have been acknowledged
    /// in all (a running total, see [`HyStart::on_ack_unsequenced`]).
    Bytes(u64),
}

/// Which [`RoundEnd`] `HyStart::round_end` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundKind {
    None,
    Seq,
    Bytes,
}

/// HyStart++'s state for one connection (RFC 9406 §4.2), from the first slow start until it
/// hands over to congestion avoidance.
///
/// Rounds are counted as RFC 9406 §4.2 says: "Define windowEnd as a sequence number
/// initialized to SND.NXT. When windowEnd is ACKed, the current round ends and windowEnd is
/// set to SND.NXT". With [`on_ack`](Self::on_ack) the engine's [`NewAck`] supplies both
/// numbers. [`on_ack_unsequenced`](Self::on_ack_unsequenced) serves callers without them: the
/// round then ends once as many bytes have been acknowledged as were outstanding when it
/// began, estimated as `cwnd` less the bytes the starting ACK covered: while the sender is
/// cwnd-limited (HyStart++ only takes samples then, see below) that is the flight to within
/// the part of a segment the window has room for but the sender does not send.
///
/// ACKs the engine marks app-limited grow nothing and give no RTT sample: a sender that does
/// not fill its window builds no queue of its own, so a rise in RTT then says nothing about
/// overshoot, and the jitter of an interactive flow would otherwise end slow start at a
/// small window. Such ACKs still end rounds, so CSS's rounds are rounds of time.
///
/// 48 bytes: the phase and the round's end are packed into plain fields (an enum with data
/// would take a word for its tag), and RTTs are nanoseconds in 8 bytes (`Nanos`), decoded
/// to the same `Duration`s for every comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyStart {
    /// Bytes acknowledged in all, for [`RoundEnd::Bytes`].
    delivered: u64,
    /// The current round's end: a sequence number or a byte total, as `round_kind` says.
    round_end: u64,
    /// `lastRoundMinRTT`; `None` is the RFC's infinity.
    last_round_min_rtt: Option<Nanos>,
    /// `currentRoundMinRTT`; `None` is the RFC's infinity.
    current_round_min_rtt: Option<Nanos>,
    /// `cssBaselineMinRtt` in Conservative Slow Start; `None` in standard slow start (the
    /// RFC's infinity).
    css_baseline: Option<Nanos>,
    /// `rttSampleCount`.
    rtt_sample_count: u32,
    /// CSS rounds begun so far, 1 to [`CSS_ROUNDS`] in CSS (0 in slow start).
    css_rounds: u8,
    /// CSS growth not yet handed out: `min(N, L·SMSS) / CSS_GROWTH_DIVISOR` in whole bytes,
    /// the remainder kept here (below [`CSS_GROWTH_DIVISOR`]).
    css_remainder: u8,
    round_kind: RoundKind,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart::new()
    }
}

impl HyStart {
    /// State at the start of a connection: slow start, no round begun.
    #[must_use]
    pub const fn new() -> Self {
        HyStart {
            delivered: 0,
            round_end: 0,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            css_baseline: None,
            rtt_sample_count: 0,
            css_rounds: 0,
            css_remainder: 0,
            round_kind: RoundKind::None,
        }
    }

    /// The current phase.
    #[must_use]
    pub const fn phase(&self) -> HyStartPhase {
        match self.css_baseline {
            None => HyStartPhase::SlowStart,
            Some(baseline) => HyStartPhase::ConservativeSlowStart {
                baseline: baseline.get(),
                rounds: self.css_rounds as u32,
            },
        }
    }

    /// Sets the phase (for tests that start in CSS).
    #[cfg(test)]
    fn set_phase(&mut self, phase: HyStartPhase) {
        match phase {
            HyStartPhase::SlowStart => {
                self.css_baseline = None;
                self.css_rounds = 0;
            }
            HyStartPhase::ConservativeSlowStart { baseline, rounds } => {
                self.css_baseline = Some(Nanos::new(baseline));
                self.css_rounds = u8::try_from(rounds.min(CSS_ROUNDS)).unwrap_or(u8::MAX);
            }
        }
    }

    /// The minimum RTT of the current and the last round (`None`: no sample yet).
    #[must_use]
    pub const fn round_min_rtts(&self) -> (Option<Duration>, Option<Duration>) {
        let current = match self.current_round_min_rtt {
            Some(rtt) => Some(rtt.get()),
            None => None,
        };
        let last = match self.last_round_min_rtt {
            Some(rtt) => Some(rtt.get()),
            None => None,
        };
        (current, last)
    }

    /// Where the current round ends.
    fn round_end(&self) -> RoundEnd {
        match self.round_kind {
            RoundKind::None => RoundEnd::None,
            RoundKind::Seq => RoundEnd::Seq(SeqNum(self.round_end as u32)),
            RoundKind::Bytes => RoundEnd::Bytes(self.round_end),
        }
    }

    fn set_round_end(&mut self, end: RoundEnd) {
        (self.round_kind, self.round_end) = match end {
            RoundEnd::None => (RoundKind::None, 0),
            RoundEnd::Seq(seq) => (RoundKind::Seq, u64::from(seq.0)),
            RoundEnd::Bytes(total) => (RoundKind::Bytes, total),
        };
    }

    /// Starts over in slow start with no round begun, as for a new connection. For the
    /// restart after idle (RFC 9406 §4.2: "An implementation MAY use HyStart++ to grow the
    /// restart window"): RTTs from before the pause say nothing about the queue now.
    pub fn restart(&mut self) {
        *self = HyStart { delivered: self.delivered, ..HyStart::new() };
    }

    /// One ACK during slow start, with the engine's sequence numbers; `smss` is the sender's
    /// MSS.
    pub fn on_ack(&mut self, ack: &NewAck, smss: u32) -> SlowStartStep {
        self.delivered = self.delivered.saturating_add(u64::from(ack.acked_bytes));
        // RFC 9406 §4.2: "When windowEnd is ACKed, the current round ends and windowEnd is
        // set to SND.NXT." (A round end SND.UNA has passed by 2^31 or more would compare as
        // ahead; SND.UNA never gets that far beyond SND.MAX at the round's start without an
        // ACK in between, and every ACK is seen here.)
        let new_round = match self.round_end() {
            RoundEnd::Seq(end) => ack.snd_una >= end,
            RoundEnd::None | RoundEnd::Bytes(_) => true,
        };
        if new_round {
            self.set_round_end(RoundEnd::Seq(ack.snd_max));
        }
        self.step(ack.acked_bytes, ack.rtt, ack.app_limited, new_round, smss)
    }

    /// [`on_ack`](Self::on_ack) for callers without sequence numbers: rounds are counted in
    /// bytes acknowledged (see the type's docs). `cwnd` is the window before this ACK.
    pub fn on_ack_unsequenced(
        &mut self,
        acked_bytes: u32,
        rtt: Option<Duration>,
        app_limited: bool,
        cwnd: u32,
        smss: u32,
    ) -> SlowStartStep {
        self.delivered = self.delivered.saturating_add(u64::from(acked_bytes));
        let new_round = match self.round_end() {
            RoundEnd::Bytes(end) => self.delivered >= end,
            RoundEnd::None | RoundEnd::Seq(_) => true,
        };
        if new_round {
            // What is still outstanding once this ACK is counted: the window less what it
            // acknowledged, while the sender fills its window.
            let outstanding = cwnd.saturating_sub(acked_bytes);
            let end = self.delivered.saturating_add(u64::from(outstanding));
            self.set_round_end(RoundEnd::Bytes(end));
        }
        self.step(acked_bytes, rtt, app_limited, new_round, smss)
    }

    /// RFC 9406 §4.2 for one ACK, once the round it belongs to is known.
    fn step(
        &mut self,
        acked_bytes: u32,
        rtt: Option<Duration>,
        app_limited: bool,
        new_round: bool,
        smss: u32,
    ) -> SlowStartStep {
        if new_round {
            if self.css_baseline.is_some() {
                if u32::from(self.css_rounds) >= CSS_ROUNDS {
                    // "If CSS_ROUNDS rounds are complete, enter congestion avoidance by
                    // setting the ssthresh to the current cwnd."
                    self.css_baseline = None;
                    self.css_rounds = 0;
                    return SlowStartStep { growth: 0, exit: true };
                }
                self.css_rounds += 1;
            }
            // "At the start of each round during standard slow start and CSS, initialize the
            // variables used to compute the last round's and current round's minimum RTT:
            // lastRoundMinRTT = currentRoundMinRTT; currentRoundMinRTT = infinity;
            // rttSampleCount = 0".
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = None;
            self.rtt_sample_count = 0;
        }
        if app_limited {
            return SlowStartStep { growth: 0, exit: false };
        }
        // "cwnd = cwnd + min(N, L * SMSS)" in slow start, and in CSS
        // "cwnd = cwnd + (min(N, L * SMSS) / CSS_GROWTH_DIVISOR)".
        let n = acked_bytes.min(L.saturating_mul(smss));
        let growth = if self.css_baseline.is_none() {
            n
        } else {
            let total = u64::from(n) + u64::from(self.css_remainder);
            let divisor = u64::from(CSS_GROWTH_DIVISOR);
            self.css_remainder = (total % divisor) as u8;
            (total / divisor) as u32
        };
        // "Keep track of the minimum observed RTT: currentRoundMinRTT =
        // min(currentRoundMinRTT, currRTT); rttSampleCount += 1".
        if let Some(rtt) = rtt {
            let min = self.current_round_min_rtt.map_or(rtt, |min| min.get().min(rtt));
            self.current_round_min_rtt = Some(Nanos::new(min));
            self.rtt_sample_count += 1;
        }
        self.check(self.rtt_sample_count >= N_RTT_SAMPLE);
        SlowStartStep { growth, exit: false }
    }

    /// The two phase changes RFC 9406 §4.2 makes after an RTT sample.
    fn check(&mut self, enough_samples: bool) {
        if !enough_samples {
            return;
        }
        let Some(current) = self.current_round_min_rtt.map(Nanos::get) else {
            return;
        };
        match self.phase() {
            // "For rounds where at least N_RTT_SAMPLE RTT samples have been obtained and
            // currentRoundMinRTT and lastRoundMinRTT are valid, check to see if delay increase
            // triggers slow start exit: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT /
            // MIN_RTT_DIVISOR, MAX_RTT_THRESH)); if (currentRoundMinRTT >= (lastRoundMinRTT +
            // RttThresh)) cssBaselineMinRtt = currentRoundMinRTT; exit slow start and enter
            // CSS". The round in which this happens is CSS's first.
            HyStartPhase::SlowStart => {
                let Some(last) = self.last_round_min_rtt.map(Nanos::get) else {
                    return;
                };
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if current >= last.saturating_add(thresh) {
                    self.css_baseline = Some(Nanos::new(current));
                    self.css_rounds = 1;
                    self.css_remainder = 0;
                }
            }
            // "For CSS rounds where at least N_RTT_SAMPLE RTT samples have been obtained,
            // check to see if the current round's minRTT drops below baseline
            // (cssBaselineMinRtt) indicating that slow start exit was spurious: if
            // (currentRoundMinRTT < cssBaselineMinRtt) cssBaselineMinRtt = infinity; resume
            // slow start including HyStart++".
            HyStartPhase::ConservativeSlowStart { baseline, .. } => {
                if current < baseline {
                    self.css_baseline = None;
                    self.css_rounds = 0;
                }
            }
        }
    }
}
