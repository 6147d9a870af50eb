//! CUBIC tests: each checks a rule of RFC 9438 by the numbers, windows in segments of
//! [`MSS`] bytes as the RFC counts them.

use std::collections::VecDeque;

use ustack_wire::SeqNum;

use super::*;

const MSS: u32 = 1000;
const T0: Instant = Instant::ZERO;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `cwnd` in segments, fraction included.
fn segs(cc: &Cubic) -> f64 {
    cc.cwnd_f64() / f64::from(MSS)
}

/// RFC 9438 Figure 1, in segments: `W_cubic(t) = C·(t − K)³ + W_max`.
fn w_cubic(t: f64, k: f64, w_max: f64) -> f64 {
    C * (t - k).powi(3) + w_max
}

/// RFC 9438 Figure 2, in segments: `K = ∛((W_max − cwnd_epoch) / C)`.
fn k_of(w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch) / C).cbrt()
}

/// A controller whose window slow-started to `w` segments (no RTT samples, so HyStart++
/// cannot end slow start early), with `ssthresh` still infinite.
fn grown_to(w: u32) -> Cubic {
    let mut cc = Cubic::new(MSS, 10 * MSS);
    while cc.cwnd < w * MSS {
        cc.on_ack(T0, MSS.min(w * MSS - cc.cwnd), None, false);
    }
    assert_eq!((cc.cwnd, cc.ssthresh), (w * MSS, INFINITE_SSTHRESH));
    cc
}

/// A controller that lost a segment with `w_max` segments in flight (its whole window) and
/// left fast recovery with `ssthresh` segments in flight: in congestion avoidance at
/// `β_cubic · w_max`.
fn after_loss(w_max: u32) -> Cubic {
    let mut cc = grown_to(w_max);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, w_max * MSS);
    cc.on_recovery_exit(T0, cc.ssthresh);
    cc
}

/// One round trip of a cwnd-limited sender: the window at the start of the round is
/// acknowledged segment by segment, the ACKs spread evenly over `rtt`, each with `rtt` as its
/// sample.
fn round(cc: &mut Cubic, now: &mut Instant, rtt: Duration) {
    let n = (cc.cwnd / MSS).max(1);
    for _ in 0..n {
        *now += rtt / n;
        cc.on_ack(*now, MSS, Some(rtt), false);
    }
}

#[test]
fn cube_root_is_exact_to_the_last_bits() {
    for x in [1e-300, 1e-9, 0.001, 0.4, 1.0, 2.0, 8.0, 75.0, 750.0, 1e6, 2.7e9, 1e300] {
        let r = cube_root(x);
        assert!(((r * r * r - x) / x).abs() < 1e-14, "cbrt({x}) = {r}");
        assert!((r - x.cbrt()).abs() <= 2.0 * f64::EPSILON * r, "cbrt({x}) = {r}");
    }
    assert_eq!(cube_root(27.0), 3.0);
    for x in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(cube_root(x), 0.0);
    }
}

#[test]
fn rfc9438_constants() {
    // §4.6: β_cubic = 0.7; §5.1: C = 0.4; §4.3: α_cubic = 3(1 − β)/(1 + β) = 0.9/1.7.
    assert_eq!((BETA_CUBIC, C), (0.7, 0.4));
    assert!((ALPHA_CUBIC - 0.9 / 1.7).abs() < 1e-15);
    assert_eq!(beta_of(100_000), 70_000);
    assert_eq!(beta_of(u32::MAX), 3_006_477_106);
}

#[test]
fn loss_reduces_by_beta_cubic_of_the_flight() {
    // §4.6, Figure 5: ssthresh = flight_size · β_cubic, cwnd_prior = cwnd, cwnd =
    // max(ssthresh, 2) on loss, ssthresh = max(ssthresh, 2), in segments.
    let mut cc = grown_to(100);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 100 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (70 * MSS, 70 * MSS));
    assert_eq!(cc.cwnd_prior, f64::from(100 * MSS));
    assert!(!cc.in_slow_start());
    // FlightSize, not cwnd: a sender using 40 of its 100 segments ends at 28.
    let mut cc = grown_to(100);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 40 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (28 * MSS, 28 * MSS));
    // But never more than cwnd (Linux's base): with SACK, SND.MAX − SND.UNA also counts data
    // SACKed above a hole, and may exceed the window; a reduction still reduces.
    let mut cc = grown_to(100);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 300 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (70 * MSS, 70 * MSS));
    let mut cc = grown_to(100);
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 300 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (MSS, 70 * MSS));
    // Two segments at least.
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 2 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (2 * MSS, 2 * MSS));
    // ECN-Echo: "cwnd = max(ssthresh, 1)"; ssthresh still at least 2 segments.
    let mut cc = grown_to(100);
    cc.on_congestion_event(T0, CongestionEvent::Ecn, 100 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (70 * MSS, 70 * MSS));
    cc.on_congestion_event(T0, CongestionEvent::Ecn, MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (MSS, 2 * MSS));
}

#[test]
fn window_follows_the_cubic_curve_through_k_to_the_plateau_and_beyond() {
    // §4.2: after a loss at W_max = 1000 segments, cwnd_epoch = 700 and
    // K = ∛((1000 − 700)/0.4) = ∛750 ≈ 9.086 s. The window follows W_cubic(t) = 0.4·(t − K)³
    // + 1000: concave up to W_max (§4.4), flat around t = K, convex beyond (§4.5). With an
    // RTT of 100 ms and W_max = 1000, Reno's estimate stays far below (700 + 0.53·t/RTT
    // segments), so this is the cubic region throughout.
    let rtt = ms(100);
    let mut cc = after_loss(1000);
    assert_eq!((segs(&cc), cc.metrics().w_max), (700.0, Some(1000 * MSS)));
    let start = Instant::from_secs(1);
    let mut now = start;
    round(&mut cc, &mut now, rtt);
    let k = cc.epoch.as_ref().expect("congestion avoidance").k;
    assert!((k - k_of(1000.0, 700.0)).abs() < 1e-9, "K = {k}");
    assert!((k - 9.0856).abs() < 1e-4);
    // ACK-clocked, the window at the start of each round is where the curve is then:
    // each ACK steps towards W_cubic(t + RTT) (§4.2's target), so a round ends on it.
    let mut at_k = None;
    let mut previous_growth = f64::INFINITY;
    let mut turned = false;
    while now - start < Duration::from_secs(15) {
        let t = (now - start).as_secs_f64();
        let expected = w_cubic(t, k, 1000.0);
        assert!((segs(&cc) - expected).abs() < 0.5, "t = {t:.1}: {} vs {expected}", segs(&cc));
        if at_k.is_none() && t >= k {
            at_k = Some(segs(&cc));
        }
        let before = segs(&cc);
        round(&mut cc, &mut now, rtt);
        let growth = segs(&cc) - before;
        // Concave: growth per round shrinks towards t = K; convex: it rises after.
        if t + 0.1 < k {
            assert!(growth <= previous_growth + 1e-9, "t = {t:.1}: concave");
        } else if t > k + 0.2 {
            turned = true;
            assert!(growth >= previous_growth - 1e-9, "t = {t:.1}: convex");
        }
        previous_growth = growth;
    }
    assert!(turned);
    // The plateau: at t = K the window is W_max; 1 s either side it is within 0.4 segments.
    let at_k = at_k.unwrap();
    assert!((at_k - 1000.0).abs() < 0.5, "cwnd at K: {at_k}");
    // 15 s after the loss: 0.4·(15 − 9.086)³ + 1000 ≈ 1082.7 segments.
    let expected = w_cubic((now - start).as_secs_f64(), k, 1000.0);
    assert!((segs(&cc) - expected).abs() < 0.5, "{} vs {expected}", segs(&cc));
    assert!(segs(&cc) > 1080.0);
}

#[test]
fn each_ack_grows_cwnd_by_target_minus_cwnd_over_cwnd() {
    // §4.4/§4.5: "cwnd MUST be incremented by (target − cwnd)/cwnd for each received new
    // ACK", target = W_cubic(t + RTT) within [cwnd, 1.5·cwnd] (§4.2), RTT the smoothed RTT.
    let mut cc = after_loss(100);
    let start = Instant::from_secs(1);
    cc.on_ack(start, MSS, Some(ms(100)), false); // t = 0: the stage starts
    let k = k_of(100.0, 70.0);
    let c1 = segs(&cc);
    cc.on_ack(start + ms(50), MSS, Some(ms(100)), false);
    let target = w_cubic(0.05 + 0.1, k, 100.0).clamp(c1, 1.5 * c1);
    assert!((segs(&cc) - (c1 + (target - c1) / c1)).abs() < 1e-9, "{} vs {c1}", segs(&cc));
    // Two segments acknowledged at once count twice (RFC 3465 byte counting).
    let c2 = segs(&cc);
    cc.on_ack(start + ms(100), 2 * MSS, Some(ms(100)), false);
    let target = w_cubic(0.1 + 0.1, k, 100.0).clamp(c2, 1.5 * c2);
    assert!((segs(&cc) - (c2 + 2.0 * (target - c2) / c2)).abs() < 1e-9);
    // The 1.5·cwnd ceiling: with an RTT of 100 s, W_cubic(t + RTT) is far above; each
    // segment acknowledged adds (1.5·cwnd − cwnd)/cwnd = half a segment.
    let mut cc = after_loss(100);
    cc.on_ack(start, MSS, Some(Duration::from_secs(100)), false);
    let c1 = segs(&cc);
    cc.on_ack(start + ms(10), MSS, Some(Duration::from_secs(100)), false);
    assert!((segs(&cc) - (c1 + 0.5)).abs() < 1e-9, "{} vs {c1}", segs(&cc));
}

#[test]
fn reno_friendly_region_dominates_at_small_bdp() {
    // §4.3: W_est starts at cwnd_epoch and grows by α_cubic·segments_acked/cwnd per ACK
    // (Figure 4); α_cubic = 0.529 until W_est ≥ cwnd_prior, then 1. "If W_cubic(t) < W_est,
    // CUBIC is in the Reno-friendly region and cwnd SHOULD be set to W_est". With W_max = 20
    // segments and an RTT of 10 ms, K = ∛(6/0.4) ≈ 2.47 s: the cubic curve needs seconds to
    // climb what Reno climbs in a few dozen round trips, so Reno's estimate sets the window,
    // about α_cubic segments per RTT up to cwnd_prior = 20, then one per RTT.
    let rtt = ms(10);
    let mut cc = after_loss(20);
    assert_eq!((segs(&cc), cc.cwnd_prior), (14.0, f64::from(20 * MSS)));
    let start = Instant::from_secs(1);
    let k = k_of(20.0, 14.0);
    let mut w_est = 14.0;
    let mut now = start;
    let mut round_starts = vec![];
    for _ in 0..40 {
        round_starts.push(segs(&cc));
        let n = cc.cwnd / MSS;
        for _ in 0..n {
            now += rtt / n;
            let alpha = if w_est >= 20.0 { 1.0 } else { ALPHA_CUBIC };
            w_est += alpha * 1.0 / segs(&cc);
            cc.on_ack(now, MSS, Some(rtt), false);
            let t = cc.epoch.as_ref().unwrap().elapsed().as_secs_f64();
            assert!(w_cubic(t, k, 20.0) < w_est, "t = {t}: still Reno-friendly");
            assert!((segs(&cc) - w_est).abs() < 1e-9, "t = {t}: {} vs W_est {w_est}", segs(&cc));
        }
    }
    // Per round: about α_cubic (a little less: a round acknowledges the whole segments of a
    // window that grows within it) up to 20 segments, then about one.
    let growth: Vec<f64> = round_starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(growth[..10].iter().all(|g| (0.48..=ALPHA_CUBIC).contains(g)), "{growth:?}");
    assert!(growth[15..].iter().all(|g| (0.9..=1.0).contains(g)), "{growth:?}");
}

#[test]
fn fast_convergence_lowers_w_max_when_the_window_shrinks() {
    // §4.7: at a congestion event, "W_max = cwnd · (1 + β_cubic)/2 if cwnd < W_max and fast
    // convergence enabled", otherwise W_max = cwnd.
    let rtt = ms(100);
    let mut cc = after_loss(100);
    assert_eq!(cc.w_max.get(), Some(f64::from(100 * MSS)));
    let mut now = Instant::from_secs(1);
    while cc.cwnd < 80 * MSS {
        round(&mut cc, &mut now, rtt);
    }
    let cwnd = cc.cwnd_f64();
    cc.on_congestion_event(now, CongestionEvent::FastRetransmit, cc.cwnd);
    assert_eq!(cc.w_max.get(), Some(cwnd * 0.85), "below the last W_max: (1 + 0.7)/2 of cwnd");
    assert_eq!(cc.cwnd, beta_of(cwnd as u32));
    // Next stage: K = ∛((W_max − cwnd_epoch)/C) with the lowered W_max.
    cc.on_recovery_exit(now, cc.cwnd);
    round(&mut cc, &mut now, rtt);
    let k = cc.epoch.as_ref().unwrap().k;
    let cwnd_epoch = f64::from(beta_of(cwnd as u32)) / f64::from(MSS);
    let expected = k_of(cwnd * 0.85 / f64::from(MSS), cwnd_epoch);
    assert!((k - expected).abs() < 1e-9, "K = {k} vs {expected}");
    // A loss at or above W_max remembers the window itself.
    while cc.cwnd_f64() < cc.w_max.get().unwrap() + f64::from(5 * MSS) {
        round(&mut cc, &mut now, rtt);
    }
    let cwnd = cc.cwnd_f64();
    cc.on_congestion_event(now, CongestionEvent::FastRetransmit, cc.cwnd);
    assert_eq!(cc.w_max.get(), Some(cwnd));
}

#[test]
fn timeout_restarts_from_one_segment_with_k_zero() {
    // §4.8: "CUBIC follows Reno to reduce cwnd [RFC5681], but sets ssthresh using β_cubic";
    // "During the first congestion avoidance stage after a timeout, CUBIC increases its
    // congestion window size using Figure 1, where t is the elapsed time since the beginning
    // of the current congestion avoidance, K is set to 0, and W_max is set to the congestion
    // window size at the beginning of the current congestion avoidance stage", and W_est
    // starts there too.
    let rtt = Duration::from_secs(1);
    let mut cc = after_loss(150);
    let mut now = Instant::from_secs(1);
    while cc.cwnd < 120 * MSS {
        round(&mut cc, &mut now, ms(100));
    }
    cc.on_congestion_event(now, CongestionEvent::Timeout, 100 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh, cc.metrics().w_max), (MSS, 70 * MSS, None));
    // RFC 5681 §3.1: a repeated timeout keeps ssthresh.
    cc.on_congestion_event(now, CongestionEvent::RepeatedTimeout, 30 * MSS);
    assert_eq!((cc.cwnd, cc.ssthresh), (MSS, 70 * MSS));
    // Slow start (RFC 5681's, not HyStart++: ssthresh is known) doubles to ssthresh.
    let mut windows = vec![];
    while cc.cwnd < cc.ssthresh {
        round(&mut cc, &mut now, rtt);
        windows.push(cc.cwnd / MSS);
    }
    assert_eq!(windows, [2, 4, 8, 16, 32, 64, 70]);
    let epoch = cc.epoch.as_ref().expect("the last slow-start round crossed ssthresh");
    assert_eq!((epoch.k, cc.w_max.get()), (0.0, Some(f64::from(70 * MSS))));
    // W_cubic(t) = 0.4·t³ + 70 from here (Reno's estimate grows 0.53 segments a round, to
    // about 72 in 4 s). Each ACK steps towards W_cubic(t + RTT), so after every round the
    // window lies between the curve now and the curve an RTT ahead.
    for _ in 0..4 {
        round(&mut cc, &mut now, rtt);
        let t = cc.epoch.as_ref().unwrap().elapsed().as_secs_f64();
        let (low, high) = (w_cubic(t, 0.0, 70.0), w_cubic(t + 1.0, 0.0, 70.0));
        assert!((low..high).contains(&segs(&cc)), "t = {t}: {} not in {low}..{high}", segs(&cc));
    }
    assert!(segs(&cc) > 116.0, "{}: W_cubic(4.9 s) = 117", segs(&cc));
}

#[test]
fn app_limited_acks_stop_the_clock_and_the_window() {
    // §4.2: "The elapsed time t in Figure 1 MUST NOT include periods during which cwnd has
    // not been updated due to application-limited behavior"; §5.8: "CUBIC does not increase
    // its congestion window if a flow is application-limited". A flow that is app-limited
    // for 10 s in the middle ends where one that never was ends.
    let spacing = ms(10);
    let rtt = Some(ms(100));
    let mut limited = after_loss(100);
    let mut steady = after_loss(100);
    let mut now = Instant::from_secs(1);
    for _ in 0..100 {
        now += spacing;
        limited.on_ack(now, MSS, rtt, false);
    }
    let (cwnd, w_est) = (limited.cwnd_f64(), limited.epoch.as_ref().unwrap().w_est);
    for _ in 0..1_000 {
        now += spacing;
        limited.on_ack(now, MSS, rtt, true);
    }
    assert_eq!(limited.cwnd_f64(), cwnd, "no growth while app-limited");
    assert_eq!(limited.epoch.as_ref().unwrap().w_est, w_est);
    for _ in 0..100 {
        now += spacing;
        limited.on_ack(now, MSS, rtt, false);
    }
    let mut now = Instant::from_secs(1);
    for _ in 0..200 {
        now += spacing;
        steady.on_ack(now, MSS, rtt, false);
    }
    let (a, b) = (limited.epoch.as_ref().unwrap(), steady.epoch.as_ref().unwrap());
    assert_eq!(a.elapsed(), b.elapsed());
    assert_eq!(a.elapsed(), spacing * 199);
    assert_eq!(limited.cwnd_f64(), steady.cwnd_f64());
    // In slow start too: no growth.
    let mut cc = Cubic::new(MSS, 10 * MSS);
    cc.on_ack(now, 5 * MSS, rtt, true);
    assert_eq!(cc.cwnd, 10 * MSS);
}

#[test]
fn idle_restart_starts_a_new_stage() {
    // RFC 5681 §4.1: restart from min(IW, cwnd); the old operating point kept as ssthresh =
    // max(ssthresh, 3/4·cwnd) (Linux tcp_cwnd_restart). RFC 9438 §5.8: t excludes idle
    // periods, "otherwise W_cubic(t) might be very high after restarting from these
    // periods": the next stage starts with t = 0 and K from W_max and the new cwnd_epoch.
    let rtt = ms(100);
    let mut cc = after_loss(100);
    let mut now = Instant::from_secs(1);
    for _ in 0..20 {
        round(&mut cc, &mut now, rtt); // 2 s: about 96 segments
    }
    let cwnd = cc.cwnd;
    now += Duration::from_secs(10);
    cc.on_idle_restart(now);
    assert_eq!((cc.cwnd, cc.ssthresh), (10 * MSS, cwnd / 2 + cwnd / 4));
    assert_eq!(cc.w_max.get(), Some(f64::from(100 * MSS)), "the saturation point is remembered");
    assert!(cc.epoch.is_none());
    while cc.cwnd < cc.ssthresh {
        round(&mut cc, &mut now, rtt);
    }
    round(&mut cc, &mut now, rtt);
    let epoch = cc.epoch.as_ref().unwrap();
    let cwnd_epoch = f64::from(cwnd / 2 + cwnd / 4) / f64::from(MSS);
    assert!((epoch.k - k_of(100.0, cwnd_epoch)).abs() < 1e-3, "K = {}", epoch.k);
    assert!(epoch.elapsed() < 2 * rtt, "t counts from the new stage: {:?}", epoch.elapsed());
    // Without the reset, t would have been 12 s, far past K ≈ 2.9 s: W_cubic(12 s + RTT) is
    // hundreds of segments, and the window would grow by half each round.
    assert!(segs(&cc) < cwnd_epoch + 3.0, "{} from {cwnd_epoch}", segs(&cc));
}

#[test]
fn undo_restores_the_state_before_a_spurious_reduction() {
    // §4.9.2: save cwnd, cwnd_prior, ssthresh, W_max, K, t_epoch and W_est before the
    // reduction; restore them "if the current cwnd is lower than cwnd_prior". The engine
    // passes the window and threshold it saw before the event (Linux's prior_cwnd and
    // prior_ssthresh).
    let rtt = ms(100);
    let mut cc = after_loss(100);
    let mut now = Instant::from_secs(1);
    for _ in 0..10 {
        round(&mut cc, &mut now, rtt);
    }
    let before = cc.clone();
    let prior = (cc.cwnd, cc.ssthresh);
    cc.on_congestion_event(now, CongestionEvent::FastRetransmit, cc.cwnd);
    cc.on_recovery_exit(now, cc.cwnd);
    assert!(cc.cwnd < before.cwnd);
    cc.undo(prior.0, prior.1);
    assert_eq!(
        (cc.cwnd, cc.ssthresh, cc.w_max.get()),
        (before.cwnd, before.ssthresh, before.w_max.get())
    );
    assert_eq!((cc.cwnd_prior, &cc.epoch), (before.cwnd_prior, &before.epoch));
    // A timeout (and its repeats) too.
    cc.on_congestion_event(now, CongestionEvent::Timeout, cc.cwnd);
    cc.on_congestion_event(now, CongestionEvent::RepeatedTimeout, cc.cwnd);
    cc.undo(prior.0, prior.1);
    assert_eq!(
        (cc.cwnd, cc.ssthresh, cc.w_max.get()),
        (before.cwnd, before.ssthresh, before.w_max.get())
    );
    assert_eq!(cc.epoch, before.epoch);
    // "In rare cases, when the detection happens long after a spurious loss event and the
    // current cwnd is already higher than cwnd_prior, CUBIC SHOULD continue to use the
    // current and the most recent values of these variables."
    let prior = (cc.cwnd, cc.ssthresh);
    cc.on_congestion_event(now, CongestionEvent::FastRetransmit, cc.cwnd);
    cc.on_recovery_exit(now, cc.cwnd);
    while cc.cwnd_f64() < cc.cwnd_prior {
        round(&mut cc, &mut now, rtt);
    }
    let grown = cc.clone();
    cc.undo(prior.0, prior.1);
    assert_eq!(cc, Cubic { saved: None, ..grown });
    // Nothing saved (here an ECN-Echo reduction): Linux's generic undo, the larger window
    // and threshold, and a new stage from there.
    let prior = (cc.cwnd, cc.ssthresh);
    cc.on_congestion_event(now, CongestionEvent::Ecn, cc.cwnd);
    let reduced = beta_of(prior.0);
    assert_eq!((cc.cwnd, cc.ssthresh), (reduced, reduced));
    cc.undo(prior.0, prior.1);
    assert_eq!((cc.cwnd, cc.ssthresh, &cc.epoch), (prior.0, prior.1.max(reduced), &None));
    // A loss in the first slow start: undo resumes it, HyStart++ included.
    let mut cc = grown_to(50);
    cc.on_congestion_event(now, CongestionEvent::FastRetransmit, 50 * MSS);
    assert!(cc.hystart_phase().is_none());
    cc.undo(50 * MSS, INFINITE_SSTHRESH);
    assert_eq!((cc.cwnd, cc.ssthresh), (50 * MSS, INFINITE_SSTHRESH));
    assert_eq!(cc.hystart_phase(), Some(HyStartPhase::SlowStart));
}

/// A cwnd-limited sender over a loss-free path, for HyStart++ through the controller:
/// each ACK covers one segment, an RTT (given by the segment's send time) after it left.
/// With `sequenced` the ACKs go to `on_new_ack`, else to `on_ack`.
fn run_first_slow_start(
    rtt: impl Fn(Instant) -> Duration,
    acks: u32,
    sequenced: bool,
) -> (Cubic, Instant) {
    let mut cc = Cubic::new(MSS, 10 * MSS);
    let (mut una, mut max) = (SeqNum(0), SeqNum(0));
    let mut flight: VecDeque<(SeqNum, Instant)> = VecDeque::new();
    let mut now = T0;
    for _ in 0..acks {
        while max.diff(una) as u32 + MSS <= cc.cwnd {
            max += MSS;
            flight.push_back((max, now));
        }
        let (end, sent) = flight.pop_front().unwrap();
        now = now.max(sent + rtt(sent));
        una = end;
        if sequenced {
            cc.on_new_ack(now, &NewAck::new(MSS, Some(now - sent), false, una, max));
        } else {
            cc.on_ack(now, MSS, Some(now - sent), false);
        }
        if cc.ssthresh != INFINITE_SSTHRESH {
            break;
        }
    }
    (cc, now)
}

#[test]
fn hystart_ends_slow_start_without_loss_into_a_k_zero_stage() {
    // RFC 9406 §4.2: the RTT rises 20 ms (above 100 ms / 8) from 0.45 s on; CSS, then
    // "ssthresh = cwnd" after CSS_ROUNDS. RFC 9438 §4.10: "CUBIC sets cwnd_prior = cwnd and
    // switches to congestion avoidance ... K is set to 0, and W_max is set to the congestion
    // window size at the beginning of the current congestion avoidance stage."
    let rtt = |sent: Instant| if sent >= Instant::from_millis(450) { ms(120) } else { ms(100) };
    let mut exits = vec![];
    for sequenced in [true, false] {
        let (cc, now) = run_first_slow_start(rtt, 100_000, sequenced);
        assert_ne!(cc.ssthresh, INFINITE_SSTHRESH, "slow start ended");
        assert_eq!(cc.hystart_phase(), None);
        assert_eq!(cc.cwnd_prior, f64::from(cc.ssthresh));
        let epoch = cc.epoch.as_ref().expect("the exiting ACK starts congestion avoidance");
        assert_eq!((epoch.k, cc.w_max.get()), (0.0, Some(f64::from(cc.ssthresh))));
        // Five rounds of CSS at a quarter of the rate: the window ended far below what plain
        // slow start would have reached by then (it doubles each 100 ms round).
        let plain = 10u64 << (now.as_nanos() / 100_000_000);
        assert!(u64::from(cc.cwnd / MSS) < plain / 4, "{} segments, not {plain}", cc.cwnd / MSS);
        exits.push((cc.ssthresh, now));
    }
    // Rounds counted from bytes (on_ack) end where RFC 9406's windowEnd ends them for a
    // cwnd-limited sender, to within the part of a segment the sender cannot send.
    let ((a, at_a), (b, at_b)) = (exits[0], exits[1]);
    assert!(a.abs_diff(b) <= MSS && at_a.max(at_b) - at_a.min(at_b) <= ms(100), "{exits:?}");
    // Without the rise, slow start continues.
    let (cc, _) = run_first_slow_start(|_| ms(100), 3_000, true);
    assert_eq!(cc.ssthresh, INFINITE_SSTHRESH);
    assert_eq!(cc.hystart_phase(), Some(HyStartPhase::SlowStart));
    assert_eq!(cc.cwnd, 3_010 * MSS);
}

#[test]
fn mss_change_keeps_the_curve_in_segments() {
    let rtt = ms(100);
    let mut cc = after_loss(100);
    let mut now = Instant::from_secs(1);
    round(&mut cc, &mut now, rtt);
    let (k, w_est, cwnd) =
        (cc.epoch.as_ref().unwrap().k, cc.epoch.as_ref().unwrap().w_est, segs(&cc));
    cc.on_mss_change(2 * MSS);
    assert_eq!(cc.w_max.get(), Some(f64::from(200 * MSS)));
    assert_eq!(cc.ssthresh, 140 * MSS);
    assert!((cc.cwnd_f64() / f64::from(2 * MSS) - cwnd).abs() < 1e-9);
    let epoch = cc.epoch.as_ref().unwrap();
    assert_eq!((epoch.k, epoch.w_est), (k, 2.0 * w_est));
    cc.on_mss_change(0);
    assert_eq!((cc.smss, cc.ssthresh), (1, 70));
    assert!(cc.cwnd >= 1);
}

#[test]
fn factory_and_metrics() {
    let cc = CubicFactory.build(1460, 14_600);
    assert_eq!((cc.name(), cc.window(), cc.ssthresh()), ("cubic", 14_600, INFINITE_SSTHRESH));
    assert_eq!(cc.metrics(), CcMetrics::new(14_600, INFINITE_SSTHRESH));
    assert!(format!("{cc:?}").starts_with("Cubic {"));
    let cc = CubicFactory.build(0, 0);
    assert_eq!(cc.window(), 1);
    let cc = after_loss(100);
    let mut expected = CcMetrics::new(70 * MSS, 70 * MSS);
    expected.w_max = Some(100 * MSS);
    assert_eq!(cc.metrics(), expected);
}
