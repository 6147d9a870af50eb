//! HyStart++ tests: each checks a rule of RFC 9406 §4.2 with the constants of §4.3, on a
//! sender that fills its window and a path whose RTT the test scripts.

use std::collections::VecDeque;

use super::*;
use crate::Instant;

const MSS: u32 = 1000;
const IW: u32 = 10 * MSS;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How the test feeds ACKs to HyStart++.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Feed {
    /// [`HyStart::on_ack`] with `SND.UNA` and `SND.MAX` (RFC 9406's `windowEnd`).
    Sequenced,
    /// [`HyStart::on_ack_unsequenced`]: rounds estimated from bytes.
    Unsequenced,
}

/// A cwnd-limited sender over a path with no loss: every segment is acknowledged on its own,
/// an RTT after it was sent, and each ACK lets the sender fill the window again. The RTT of
/// a segment depends on when it was sent (the test's script).
struct Sender<F: Fn(Instant) -> Duration> {
    hs: HyStart,
    feed: Feed,
    rtt: F,
    cwnd: u32,
    una: SeqNum,
    max: SeqNum,
    /// Segments in flight: end sequence number and send time.
    flight: VecDeque<(SeqNum, Instant)>,
    now: Instant,
    /// Set when HyStart++ ended slow start: `ssthresh = cwnd` from then on.
    ssthresh: Option<u32>,
    /// Round boundaries seen so far (ACKs that began a round).
    rounds: u32,
}

impl<F: Fn(Instant) -> Duration> Sender<F> {
    fn new(feed: Feed, rtt: F) -> Self {
        let mut s = Sender {
            hs: HyStart::new(),
            feed,
            rtt,
            cwnd: IW,
            una: SeqNum(0),
            max: SeqNum(0),
            flight: VecDeque::new(),
            now: Instant::ZERO,
            ssthresh: None,
            rounds: 0,
        };
        s.fill();
        s
    }

    fn fill(&mut self) {
        while self.max.diff(self.una) as u32 + MSS <= self.cwnd {
            self.max += MSS;
            self.flight.push_back((self.max, self.now));
        }
    }

    /// The next ACK: returns HyStart++'s step for it.
    fn ack(&mut self) -> SlowStartStep {
        let (end, sent) = self.flight.pop_front().expect("a cwnd-limited sender has data out");
        let rtt = (self.rtt)(sent);
        self.now = self.now.max(sent + rtt);
        self.una = end;
        let before = self.hs.round_end();
        let step = match self.feed {
            Feed::Sequenced => {
                self.hs.on_ack(&NewAck::new(MSS, Some(rtt), false, self.una, self.max), MSS)
            }
            Feed::Unsequenced => self.hs.on_ack_unsequenced(MSS, Some(rtt), false, self.cwnd, MSS),
        };
        if self.hs.round_end() != before {
            self.rounds += 1;
        }
        self.cwnd += step.growth;
        if step.exit {
            self.ssthresh = Some(self.cwnd);
        }
        self.fill();
        step
    }

    /// ACKs until `done` holds or `limit` ACKs have passed; returns whether `done` held.
    fn ack_until(&mut self, limit: u32, done: impl Fn(&Self) -> bool) -> bool {
        for _ in 0..limit {
            let _ = self.ack();
            if done(self) {
                return true;
            }
        }
        false
    }

    fn in_css(&self) -> bool {
        matches!(self.hs.phase(), HyStartPhase::ConservativeSlowStart { .. })
    }
}

/// RTT `base`, and `base + rise` for every segment sent at or after `from`.
fn rising(base: Duration, rise: Duration, from: Instant) -> impl Fn(Instant) -> Duration {
    move |sent| if sent >= from { base + rise } else { base }
}

#[test]
fn slow_start_grows_by_each_ack_up_to_l_segments() {
    // RFC 9406 §4.2: "cwnd = cwnd + min(N, L * SMSS)" with L = 8 for a sender that does not
    // pace (§4.3).
    let mut hs = HyStart::new();
    let ack = |n: u32| NewAck::new(n * MSS, None, false, SeqNum(n * MSS), SeqNum(40 * MSS));
    assert_eq!(hs.on_ack(&ack(1), MSS), SlowStartStep { growth: MSS, exit: false });
    assert_eq!(hs.on_ack(&ack(2), MSS).growth, 2 * MSS);
    assert_eq!(hs.on_ack(&ack(8), MSS).growth, 8 * MSS);
    assert_eq!(hs.on_ack(&ack(20), MSS).growth, 8 * MSS, "a stretch ACK is capped at L·SMSS");
}

#[test]
fn app_limited_acks_neither_grow_nor_sample() {
    let mut hs = HyStart::new();
    for i in 1..=20 {
        let ack = NewAck::new(MSS, Some(ms(100 + i)), true, SeqNum(i as u32 * MSS), SeqNum(0));
        assert_eq!(hs.on_ack(&ack, MSS).growth, 0);
    }
    assert_eq!(hs.round_min_rtts(), (None, None));
}

/// Runs a sender whose RTT rises from `base` by `rise` for segments sent from the fifth
/// round on; returns the round minima and sample count when it entered CSS, `None` if it did
/// not before its window passed 4 000 segments.
fn enters_css(feed: Feed, base: Duration, rise: Duration) -> Option<(Duration, Duration, u32)> {
    let from = Instant::ZERO + base * 9 / 2;
    let mut s = Sender::new(feed, rising(base, rise, from));
    let entered = s.ack_until(5_000, |s| s.in_css() || s.cwnd > 4_000 * MSS);
    if !s.in_css() {
        return None;
    }
    assert!(entered);
    let (current, last) = s.hs.round_min_rtts();
    Some((current.unwrap(), last.unwrap(), s.hs.rtt_sample_count))
}

#[test]
fn rtt_rise_of_the_threshold_enters_css() {
    // RFC 9406 §4.2: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
    // MAX_RTT_THRESH)), and "if (currentRoundMinRTT >= (lastRoundMinRTT + RttThresh))" ...
    // "exit slow start and enter CSS", checked once a round has N_RTT_SAMPLE = 8 samples.
    // 20 ms / 8 = 2.5 ms is below MIN_RTT_THRESH = 4 ms; 100 ms / 8 = 12.5 ms; 200 ms / 8 =
    // 25 ms is above MAX_RTT_THRESH = 16 ms.
    for feed in [Feed::Sequenced, Feed::Unsequenced] {
        for (base, thresh) in
            [(ms(20), ms(4)), (ms(100), Duration::from_micros(12_500)), (ms(200), ms(16))]
        {
            let what = format!("{feed:?}, base RTT {base:?}");
            let below = thresh - Duration::from_micros(100);
            assert_eq!(enters_css(feed, base, below), None, "{what}: rise {below:?} is too small");
            let (current, last, samples) =
                enters_css(feed, base, thresh).unwrap_or_else(|| panic!("{what}: no CSS"));
            assert_eq!((current, last), (base + thresh, base), "{what}");
            assert_eq!(samples, N_RTT_SAMPLE, "{what}: decided at the 8th sample of the round");
        }
    }
}

#[test]
fn css_needs_a_previous_round_and_eight_samples() {
    // "For rounds where at least N_RTT_SAMPLE RTT samples have been obtained and
    // currentRoundMinRTT and lastRoundMinRTT are valid": the first round has no last round,
    // so even a steep rise within it does not count; seven samples are not enough.
    // The sender keeps ten segments out, so a round is ten ACKs: the ACK covering windowEnd
    // begins the next one ("When windowEnd is ACKed, the current round ends and windowEnd is
    // set to SND.NXT").
    let mut hs = HyStart::new();
    let mut una = 0;
    let mut ack = |hs: &mut HyStart, rtt: u64| {
        una += MSS;
        let info = NewAck::new(MSS, Some(ms(rtt)), false, SeqNum(una), SeqNum(una + 10 * MSS));
        let _ = hs.on_ack(&info, MSS);
    };
    for rtt in [100, 100, 100, 100, 100, 200, 400, 600, 800, 1000] {
        ack(&mut hs, rtt);
    }
    assert_eq!(hs.phase(), HyStartPhase::SlowStart, "first round: lastRoundMinRTT is infinite");
    for _ in 0..10 {
        ack(&mut hs, 100);
    }
    assert_eq!(hs.round_min_rtts(), (Some(ms(100)), Some(ms(100))));
    for samples in 1..=7 {
        ack(&mut hs, 120);
        assert_eq!(hs.phase(), HyStartPhase::SlowStart, "{samples} samples");
    }
    ack(&mut hs, 120);
    assert_eq!(
        hs.phase(),
        HyStartPhase::ConservativeSlowStart { baseline: ms(120), rounds: 1 },
        "cssBaselineMinRtt = currentRoundMinRTT, 120 ms >= 100 ms + 12.5 ms"
    );
}

#[test]
fn css_grows_a_quarter_as_fast() {
    // RFC 9406 §4.2: in CSS "cwnd = cwnd + (min(N, L * SMSS) / CSS_GROWTH_DIVISOR)", with
    // CSS_GROWTH_DIVISOR = 4.
    let mut s = Sender::new(Feed::Sequenced, rising(ms(100), ms(20), Instant::from_millis(500)));
    assert!(s.ack_until(5_000, Sender::in_css));
    let before = s.cwnd;
    for _ in 0..8 {
        assert_eq!(s.ack().growth, MSS / 4);
    }
    assert_eq!(s.cwnd, before + 2 * MSS);
    // Quarters of odd sizes add up exactly: 3 × 333 bytes grow 249 (999 / 4), not 3 × 83.
    let mut hs = HyStart::new();
    hs.set_phase(s.hs.phase());
    let grown: u32 = (1..=3u32)
        .map(|i| hs.on_ack(&NewAck::new(333, None, false, SeqNum(i), SeqNum(9)), MSS).growth)
        .sum();
    assert_eq!(grown, 249);
    // A stretch ACK: min(N, L·SMSS) / 4.
    let _ = hs.on_ack(&NewAck::new(1, None, false, SeqNum(4), SeqNum(9)), MSS); // 1000 / 4
    assert_eq!(
        hs.on_ack(&NewAck::new(20 * MSS, None, false, SeqNum(5), SeqNum(9)), MSS).growth,
        2 * MSS
    );
}

#[test]
fn css_ends_in_congestion_avoidance_after_css_rounds() {
    // RFC 9406 §4.2: "CSS lasts at most CSS_ROUNDS rounds. If the transition into CSS happens
    // in the middle of a round, that partial round counts towards the limit." ... "If
    // CSS_ROUNDS rounds are complete, enter congestion avoidance by setting the ssthresh to
    // the current cwnd." The RTT stays high, so CSS is never abandoned.
    for feed in [Feed::Sequenced, Feed::Unsequenced] {
        let mut s = Sender::new(feed, rising(ms(100), ms(20), Instant::from_millis(500)));
        assert!(s.ack_until(5_000, Sender::in_css), "{feed:?}");
        let entered_in = s.rounds;
        let mut css_rounds = 1;
        while s.ssthresh.is_none() {
            let rounds = s.rounds;
            let step = s.ack();
            if s.rounds > rounds && !step.exit {
                css_rounds += 1;
                assert!(s.in_css(), "{feed:?}: still CSS in round {css_rounds}");
            }
            assert!(s.rounds < entered_in + 10, "{feed:?}: CSS does not end");
        }
        assert_eq!(css_rounds, CSS_ROUNDS, "{feed:?}: the partial round and four more");
        assert_eq!(s.rounds, entered_in + CSS_ROUNDS, "{feed:?}: ended as the sixth began");
        assert_eq!(s.ssthresh, Some(s.cwnd));
    }
}

#[test]
fn rtt_falling_below_the_baseline_resumes_slow_start() {
    // RFC 9406 §4.2: in CSS, once a round has N_RTT_SAMPLE samples, "if
    // (currentRoundMinRTT < cssBaselineMinRtt) cssBaselineMinRtt = infinity; resume slow
    // start including HyStart++". The RTT rises by 20 ms for segments sent between 0.5 s and
    // 0.9 s, then falls back: the rise was a transient queue, not the bottleneck filling.
    let rtt = |sent: Instant| {
        if sent >= Instant::from_millis(500) && sent < Instant::from_millis(900) {
            ms(120)
        } else {
            ms(100)
        }
    };
    for feed in [Feed::Sequenced, Feed::Unsequenced] {
        let mut s = Sender::new(feed, rtt);
        assert!(s.ack_until(5_000, Sender::in_css), "{feed:?}");
        let HyStartPhase::ConservativeSlowStart { baseline, .. } = s.hs.phase() else {
            unreachable!()
        };
        assert_eq!(baseline, ms(120));
        assert!(s.ack_until(5_000, |s| !s.in_css()), "{feed:?}: back to slow start");
        let (current, _) = s.hs.round_min_rtts();
        assert_eq!(current, Some(ms(100)), "{feed:?}");
        assert!(s.hs.rtt_sample_count >= N_RTT_SAMPLE, "{feed:?}");
        assert_eq!(s.ssthresh, None);
        // Slow start again: a full segment per ACK.
        assert_eq!(s.ack().growth, MSS, "{feed:?}");
    }
}

#[test]
fn a_steady_rtt_never_leaves_slow_start() {
    // Without a rise in RTT HyStart++ is standard slow start: a segment per ACK, so the
    // window doubles each round, until a loss.
    let mut s = Sender::new(Feed::Sequenced, |_| ms(50));
    while s.cwnd < 5_000 * MSS {
        assert_eq!(s.ack(), SlowStartStep { growth: MSS, exit: false });
    }
    assert!(s.rounds > 8);
    assert_eq!(s.hs.phase(), HyStartPhase::SlowStart);
}

#[test]
fn restart_forgets_rounds_and_css() {
    let mut s = Sender::new(Feed::Sequenced, rising(ms(100), ms(20), Instant::from_millis(500)));
    assert!(s.ack_until(5_000, Sender::in_css));
    s.hs.restart();
    assert_eq!(s.hs.phase(), HyStartPhase::SlowStart);
    assert_eq!(s.hs.round_min_rtts(), (None, None));
    assert_eq!(s.hs.round_end(), RoundEnd::None);
}
