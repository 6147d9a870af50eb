//! CUBIC against NewReno (S20): one long fat path, one lost segment, two runs that differ only
//! in the congestion controller. What RFC 9438 changes after a loss is checked against its
//! own formulas: the reduction by β = 0.7 (NewReno's is 0.5), the window that then follows
//! `W_cubic(t) = C·(t − K)³ + W_max`, concave up to the old window and convex past it, and
//! how much sooner than NewReno's one segment per round trip it regains the old window.

use ustack_core::tcp_engine::{BufferSizes, CcName, RetransmitReason};
use ustack_core::{Duration, Instant};
use ustack_sim::LinkConfig;

use crate::check::{Checks, s};
use crate::node::Auto;
use crate::plots::{self, Line};
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::trace::{Note, Side, Trace};
use crate::world::{Setup, World};

use super::close::establish;
use super::congestion::{cwnd_notes, finish_run, flight_before};

/// RFC 9438 §5.1: "C SHOULD be set to 0.4" (segments per second³).
const C: f64 = 0.4;
/// RFC 9438 §4.6: "β_cubic SHOULD be set to 0.7".
const BETA_CUBIC: f64 = 0.7;
/// The client's MSS on this path (1500 − 40 − 12 of timestamps).
const MSS: u32 = 1448;
/// The path's round trip: 100 ms each way.
const RTT: Duration = Duration::from_millis(200);
/// The lost segment: the 10th of the fourth round trip's flight (10 + 20 + 40 before it),
/// while both controllers are still in slow start with the same window.
const LOST: u32 = 80;
/// How long each sender sends (virtual time from the start of the data): long enough for
/// NewReno to regain the window it lost, which takes it half that window in round trips.
const SEND_FOR: Duration = Duration::from_secs(12);

/// 100 Mbit/s with a 200 ms round trip (a bandwidth-delay product of 1726 segments, so the
/// windows here never fill it and never queue), a receive buffer of 8 MiB that never
/// limits the sender, and the controller under test. SACK, RACK and PRR are on, Linux's
/// defaults: the engine's loss recovery is the same for both controllers.
fn path(cc: CcName) -> Setup {
    Setup::new()
        .link(LinkConfig::new().rate_bps(100_000_000).delay(RTT / 2))
        .stack(Side::Server, |s| {
            s.tcp.rmem = BufferSizes { min: 4096, default: 8 << 20, max: 8 << 20 }
        })
        .tcp(move |t| t.congestion_control = cc)
}

/// One sender's run.
struct Leg {
    trace: Trace,
    /// The client's cwnd/ssthresh notes.
    cwnd: Vec<(Instant, u32, u32)>,
    /// CUBIC's `W_max` at the end, as the controller reports it.
    w_max: Option<u32>,
    /// Bytes the server received, and whether they are the stream as written.
    received: usize,
    intact: bool,
    /// When the data started.
    start: Instant,
}

fn leg(cc: CcName, seed: u64) -> Leg {
    let mut w = World::new(&path(cc), seed);
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    w.sample(Side::Client);
    w.rule(Side::Client, Rule::nth(Match::Data, LOST, Action::Drop, "the path loses one segment"));
    let start = w.now();
    // More than the path can carry in the time: the sender always has data.
    w.send_stream(Side::Client, c, 256 << 20, false);
    w.run_until(start + SEND_FOR).expect("run");
    let w_max = w.stack(Side::Client).tcp_conn(c).congestion_control().metrics().w_max;
    let data = w.node(Side::Server).received(sv);
    let received = data.len();
    let intact = data.iter().enumerate().all(|(i, b)| *b == crate::pattern_byte(i));
    let trace = w.finish();
    let cwnd = cwnd_notes(&trace);
    Leg { trace, cwnd, w_max, received, intact, start }
}

/// What the loss did to one sender's window.
#[derive(Debug, Clone, Copy)]
struct Reduction {
    /// When the retransmission went out.
    at: Instant,
    /// cwnd just before the reduction (bytes).
    before: u32,
    /// The amount the reduction worked from: FlightSize, capped by cwnd.
    base: u32,
    /// ssthresh set by the reduction (bytes).
    ssthresh: u32,
    /// When congestion avoidance began: the first ACK after recovery grew cwnd past
    /// ssthresh (CUBIC's `t_epoch`).
    epoch: Instant,
    /// When cwnd was back at `before`, if it was.
    regained: Option<Instant>,
}

fn reduction(leg: &Leg) -> Option<Reduction> {
    let at = leg.trace.notes_of(Side::Client).find_map(|n| match n.note {
        Note::Retransmit { .. } => Some(n.at),
        _ => None,
    })?;
    let i = leg.cwnd.iter().position(|n| n.2 != u32::MAX)?;
    let before = leg.cwnd.get(i.checked_sub(1)?)?.1;
    let ssthresh = leg.cwnd[i].2;
    let flight = flight_before(&leg.trace, at + Duration::from_nanos(1));
    let epoch = leg.cwnd[i..].iter().find(|n| n.1 > n.2)?.0;
    let regained = leg.cwnd[i..].iter().find(|n| n.1 >= before).map(|n| n.0);
    Some(Reduction { at, before, base: flight.min(before), ssthresh, epoch, regained })
}

/// Segments, as the RFC counts windows.
fn seg(bytes: u32) -> f64 {
    f64::from(bytes) / f64::from(MSS)
}

/// RFC 9438 Figure 1 and 2: `W_cubic(t)` in segments for a stage that began at `cwnd_epoch`
/// below `w_max`, `t` seconds after it began.
fn w_cubic(w_max: f64, cwnd_epoch: f64, t: f64) -> f64 {
    let k = ((w_max - cwnd_epoch) / C).cbrt();
    C * (t - k).powi(3) + w_max
}

/// The sender's smoothed RTT at `t` (seconds): its last RTT sample's, or the path's.
fn srtt_at(trace: &Trace, t: Instant) -> f64 {
    trace
        .notes_of(Side::Client)
        .take_while(|n| n.at <= t)
        .filter_map(|n| match n.note {
            Note::Rtt { srtt, .. } => Some(srtt),
            _ => None,
        })
        .last()
        .unwrap_or(RTT)
        .as_secs_f64()
}

/// The cwnd (segments) at `t`: the last note at or before it.
fn cwnd_at(notes: &[(Instant, u32, u32)], t: Instant) -> f64 {
    notes.iter().take_while(|n| n.0 <= t).last().map_or(0.0, |n| seg(n.1))
}

/// S20: CUBIC and NewReno on the same path with the same loss.
pub(crate) fn cubic_vs_newreno(seed: u64) -> Run {
    let cubic = leg(CcName::CUBIC, seed);
    let reno = leg(CcName::NEWRENO, seed);
    let mut checks = Checks::default();
    checks.that(
        "each server got the sender's stream intact and in order (more than a megabyte each)",
        cubic.intact && reno.intact && cubic.received > 1 << 20 && reno.received > 1 << 20,
        format!("CUBIC {} bytes, NewReno {} bytes", cubic.received, reno.received),
    );
    let (Some(rc), Some(rn)) = (reduction(&cubic), reduction(&reno)) else {
        checks.that("each sender sees the loss and reduces its window", false, "no reduction");
        return finish_run(cubic.trace, checks, None);
    };
    // Until the loss the two runs are the same: HyStart++'s standard slow start grows cwnd
    // by what each ACK acknowledges (up to L = 8 segments), as NewReno's does, and on this
    // path the round trip never rises enough for it to leave slow start early.
    let until = |l: &Leg, r: &Reduction| -> Vec<(Instant, u32)> {
        l.cwnd.iter().filter(|n| n.0 < r.at).map(|n| (n.0, n.1)).collect()
    };
    let (slow_c, slow_n) = (until(&cubic, &rc), until(&reno, &rn));
    checks.that(
        "until the loss both windows grow alike: slow start from 10 segments, doubling every round trip (HyStart++ sees no rise of the RTT)",
        slow_c == slow_n && !slow_c.is_empty(),
        format!(
            "{} cwnd changes each; at the loss cwnd = {:.0} and {:.0} segments",
            slow_c.len(),
            seg(rc.before),
            seg(rn.before)
        ),
    );
    let rto = |l: &Leg| {
        l.trace
            .notes_of(Side::Client)
            .any(|n| matches!(n.note, Note::Retransmit { reason: RetransmitReason::Rto, .. }))
    };
    checks.that(
        "both find the loss the same way and at the same moment (SACK and RACK are the engine's, not the controller's), with no timeout",
        rc.at == rn.at && !rto(&cubic) && !rto(&reno),
        format!("retransmissions at {} and {}", s(rc.at), s(rn.at)),
    );
    let two = 2 * MSS;
    let beta_c = ((f64::from(rc.base) * BETA_CUBIC) as u32).max(two);
    let beta_n = (rn.base / 2).max(two);
    checks.equal(
        "CUBIC: ssthresh = max(β_cubic · FlightSize, 2·SMSS) with β_cubic = 0.7 (RFC 9438 §4.6), FlightSize capped by cwnd",
        beta_c,
        rc.ssthresh,
    );
    checks.equal(
        "NewReno: ssthresh = max(FlightSize / 2, 2·SMSS) (RFC 5681 §3.2 eq. 4)",
        beta_n,
        rn.ssthresh,
    );
    checks.equal(
        "CUBIC remembers the window the loss happened at as W_max (RFC 9438 §4.7; no fast convergence on a first loss)",
        Some(rc.before),
        cubic.w_max,
    );

    // The cubic curve, in segments, from the stage's start.
    let w_max = seg(rc.before);
    let epoch_cwnd = seg(rc.ssthresh);
    let k = ((w_max - epoch_cwnd) / C).cbrt();
    let since = |t: Instant| (t - rc.epoch).as_secs_f64();
    let mut inside = 0;
    let mut off = Vec::new();
    for n in cubic.cwnd.iter().filter(|n| n.0 >= rc.epoch) {
        let (t, rtt) = (since(n.0), srtt_at(&cubic.trace, n.0));
        let lo = w_cubic(w_max, epoch_cwnd, t - rtt) - 1.0;
        let hi = w_cubic(w_max, epoch_cwnd, t + rtt) + 1.0;
        let w = seg(n.1);
        if w < lo || w > hi {
            if off.len() < 3 {
                off.push(format!("{w:.1} at t = {t:.2} s, band {lo:.1}..{hi:.1}"));
            }
        } else {
            inside += 1;
        }
    }
    let srtt = srtt_at(&cubic.trace, rc.epoch);
    checks.that(
        format!(
            "CUBIC's window follows W_cubic(t) = C·(t − K)³ + W_max (RFC 9438 §4.2) with C = 0.4, W_max = {w_max:.1} and K = ∛((W_max − cwnd_epoch)/C) = {k:.2} s: at every ACK it lies between the curve one round trip back and one ahead (it grows towards W_cubic(t + RTT), §4.4, §4.5), within a segment"
        ),
        off.is_empty() && inside > 100,
        if off.is_empty() { format!("{inside} values of cwnd, all inside") } else { off.join("; ") },
    );
    let at = |t: f64| cwnd_at(&cubic.cwnd, rc.epoch + Duration::from_secs_f64(t.max(0.0)));
    let h = k / 2.0;
    let (g1, g2, g3, g4) =
        (at(h) - at(0.0), at(k) - at(h), at(k + h) - at(k), at(k + 2.0 * h) - at(k + h));
    let end = since(cubic.trace.end);
    checks.that(
        "concave, then convex (RFC 9438 §3.1, §4.4, §4.5): it grows fast just after the reduction and slows down as it nears W_max, flattens there, then speeds up past it",
        g1 > g2 && g2 < g4 && g3 < g4 && end > k + 2.0 * h,
        format!(
            "growth over successive K/2 = {h:.2} s spans: {g1:.1}, {g2:.1} | {g3:.1}, {g4:.1} segments"
        ),
    );
    // Back at the old window: CUBIC when W_cubic(t + RTT) reaches W_max, about K after the
    // stage began whatever the round trip; NewReno one segment per round trip from ssthresh.
    let cubic_back = rc.regained.map(since);
    checks.that(
        "CUBIC is back at W_max about K seconds into congestion avoidance (between K − RTT and K + RTT): the time depends on W_max, not on the round trip (RFC 9438 §3.3)",
        cubic_back.is_some_and(|t| t >= k - srtt && t <= k + srtt),
        format!(
            "after {}, K = {k:.2} s, RTT {:.0} ms",
            cubic_back.map_or("never".into(), |t| format!("{t:.2} s")),
            srtt * 1e3
        ),
    );
    // NewReno's first increase comes one round trip after recovery (`epoch`); the rest of
    // the way is one segment per round trip.
    let reno_rounds = f64::from((rn.before - rn.ssthresh).div_ceil(MSS) - 1);
    let reno_back = rn.regained.map(|t| (t - rn.epoch).as_secs_f64());
    let rtt = RTT.as_secs_f64();
    let expected = reno_rounds * rtt;
    checks.that(
        format!(
            "NewReno grows one segment per round trip (RFC 5681 §3.1): from its first increase after recovery, {reno_rounds:.0} more round trips of 200 ms to the old window, {expected:.1} s (within two round trips)"
        ),
        reno_back.is_some_and(|t| (t - expected).abs() <= 2.0 * rtt),
        format!("after {}", reno_back.map_or("never".into(), |t| format!("{t:.2} s"))),
    );
    let from_loss = |l: Option<Instant>, at: Instant| l.map(|t| (t - at).as_secs_f64());
    let (cb, nb) = (from_loss(rc.regained, rc.at), from_loss(rn.regained, rn.at));
    checks.that(
        "on this long fat path CUBIC regains the old window sooner than NewReno",
        cb.zip(nb).is_some_and(|(c, n)| c < n),
        format!(
            "{} and {} after the loss",
            cb.map_or("never".into(), |t| format!("{t:.2} s")),
            nb.map_or("never".into(), |t| format!("{t:.2} s"))
        ),
    );
    // From the loss on, CUBIC's window is never below NewReno's: it reduces less and grows
    // at least as fast (§4.3: it is never slower than Reno's AIMD would be).
    let later: Vec<Instant> =
        cubic.cwnd.iter().chain(reno.cwnd.iter()).map(|n| n.0).filter(|t| *t >= rc.at).collect();
    let below =
        later.iter().find(|t| cwnd_at(&cubic.cwnd, **t) < cwnd_at(&reno.cwnd, **t)).copied();
    checks.that(
        "from the loss on, CUBIC's window is never below NewReno's",
        below.is_none(),
        below.map_or_else(
            || format!("{} moments compared", later.len()),
            |t| {
                format!(
                    "at {}: {:.1} < {:.1}",
                    s(t),
                    cwnd_at(&cubic.cwnd, t),
                    cwnd_at(&reno.cwnd, t)
                )
            },
        ),
    );
    checks.that(
        format!("so CUBIC delivers more in the same {} s", SEND_FOR.as_secs()),
        cubic.received > reno.received,
        format!(
            "{:.1} MB against {:.1} MB ({:.2}×)",
            cubic.received as f64 / 1e6,
            reno.received as f64 / 1e6,
            cubic.received as f64 / reno.received.max(1) as f64
        ),
    );

    let table = format!(
        "{:<34}{:>16}{:>16}\n{:<34}{:>16.1}{:>16.1}\n{:<34}{:>16.1}{:>16.1}\n{:<34}{:>16}{:>16}\n{:<34}{:>16}{:>16}\n{:<34}{:>16}{:>16}\n{:<34}{:>16.1}{:>16.1}",
        "",
        "CUBIC",
        "NewReno",
        "cwnd at the loss (segments)",
        seg(rc.before),
        seg(rn.before),
        "ssthresh after it (segments)",
        seg(rc.ssthresh),
        seg(rn.ssthresh),
        "reduction factor β",
        format!("{:.3}", f64::from(rc.ssthresh) / f64::from(rc.base)),
        format!("{:.3}", f64::from(rn.ssthresh) / f64::from(rn.base)),
        "K (s)",
        format!("{k:.2}"),
        "-",
        "old window regained after the loss",
        cb.map_or("never".into(), |t| format!("{t:.2} s")),
        nb.map_or("never".into(), |t| format!("{t:.2} s")),
        format!("delivered in {} s (MB)", SEND_FOR.as_secs()),
        cubic.received as f64 / 1e6,
        reno.received as f64 / 1e6,
    );

    // The figure: both windows, and what the RFCs say they should be.
    let t0 = cubic.start;
    let x = |t: Instant| (t - t0).as_secs_f64();
    // cwnd changes in steps: hold each value until the next note.
    let steps = |notes: &[(Instant, u32, u32)], end: Instant| -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for n in notes.iter().filter(|n| n.0 >= t0) {
            if let Some(&(_, last)) = pts.last() {
                pts.push((x(n.0), last));
            }
            pts.push((x(n.0), seg(n.1)));
        }
        if let Some(&(_, last)) = pts.last() {
            pts.push((x(end), last));
        }
        pts
    };
    let epoch_x = x(rc.epoch);
    let curve: Vec<(f64, f64)> = (0..=400)
        .map(|i| epoch_x + (x(cubic.trace.end) - epoch_x) * f64::from(i) / 400.0)
        .map(|t| (t, w_cubic(w_max, epoch_cwnd, t - epoch_x)))
        .collect();
    let reno_x = x(rn.epoch);
    let reno_first = seg(rn.ssthresh) + 1.0;
    let reno_line: Vec<(f64, f64)> = vec![
        (reno_x, reno_first),
        (x(reno.trace.end), reno_first + (x(reno.trace.end) - reno_x) / rtt),
    ];
    let figure = plots::lines_plot(
        "s20-cubic-vs-newreno: the congestion window after one loss",
        "time since the data started (s, virtual)",
        "cwnd (segments)",
        &[
            Line::solid("NewReno (RFC 5681, 6582)", plots::RED, steps(&reno.cwnd, reno.trace.end)),
            Line::solid("CUBIC (RFC 9438)", plots::BLUE, steps(&cubic.cwnd, cubic.trace.end)),
            Line::dashed(
                "W_max: the window at the loss",
                plots::GREY,
                vec![(0.0, w_max), (x(cubic.trace.end), w_max)],
            ),
            Line::dashed(
                "K: where W_cubic(t) reaches W_max",
                plots::GREY,
                vec![(epoch_x + k, 0.0), (epoch_x + k, w_max)],
            ),
            Line::dashed("W_cubic(t) = C·(t − K)³ + W_max", plots::BLACK, curve),
            Line::dashed("NewReno: one segment per round trip", plots::ORANGE, reno_line),
        ],
    );
    let mut run = finish_run(cubic.trace, checks, None).with_ladder(rc.at);
    run.extras.push(("What the RFCs' formulas give, and what was seen".into(), table));
    run.figures.push(("cwnd".into(), figure));
    run
}
