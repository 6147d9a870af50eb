//! Congestion control (S20): slow start, congestion avoidance, fast retransmit and fast
//! recovery, the collapse after a timeout. Each is a bulk transfer from the client over a
//! 100 Mbit/s path with a 40 ms round trip, so that each round trip's flight leaves as a
//! burst and can be counted; the client's congestion state is sampled after every packet and
//! plotted.

use ustack_core::tcp_engine::{BufferSizes, CcName, RetransmitReason, TcpConfig};
use ustack_core::{Duration, Instant, SocketHandle};
use ustack_sim::LinkConfig;

use crate::check::{Checks, s};
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::trace::{Note, Packet, Side, Trace};
use crate::world::{Setup, World};

use super::close::establish;

/// The client's MSS on this path (1500 - 40 - 12 of timestamps).
const MSS: u32 = 1448;

fn setup() -> Setup {
    Setup::new()
        .link(LinkConfig::new().rate_bps(100_000_000).delay(Duration::from_millis(20)))
        .stack(Side::Server, |s| {
            s.tcp.rmem = BufferSizes { min: 4096, default: 4 << 20, max: 4 << 20 }
        })
}

/// NewReno's window math: SPEC S20 and the RFC 5681/6582 numbers the classic scenarios check
/// (doubling per round trip, ssthresh = FlightSize / 2, one segment per round trip) are
/// NewReno's. CUBIC with HyStart++, the default, leaves slow start when the RTT rises and
/// reduces by 0.7 (RFC 9438, RFC 9406).
fn newreno(t: &mut TcpConfig) {
    t.congestion_control = CcName::NEWRENO;
}

/// The recovery of RFC 5681 and RFC 6582 as SPEC S20 and the textbooks tell it: no SACK (so
/// no RACK or tail loss probe either), fast recovery by window inflation rather than PRR.
fn classic() -> Setup {
    setup().tcp(newreno).tcp(|t| {
        t.sack = false;
        t.prr = false;
    })
}

/// Opens a connection, adds the client's `rules`, sends `bytes` from the client, runs until
/// the server has them all (and a little more).
fn bulk(
    setup: &Setup,
    seed: u64,
    bytes: usize,
    rules: Vec<Rule>,
) -> (World, SocketHandle, SocketHandle) {
    let mut w = World::new(setup, seed);
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    w.sample(Side::Client);
    for r in rules {
        w.rule(Side::Client, r);
    }
    w.send_stream(Side::Client, c, bytes, false);
    w.run_while(Duration::from_secs(60), |v| v.node(Side::Server).received(sv).len() < bytes);
    w.run_for(Duration::from_millis(100)).expect("run");
    (w, c, sv)
}

/// The client's data segments, in order: (sent at, offset, retransmission).
fn data(trace: &Trace) -> Vec<(Instant, u32, bool)> {
    let isn = trace
        .sent_by(Side::Client)
        .find_map(|p| p.tcp().filter(|t| t.is_syn()).map(|t| t.seq))
        .unwrap_or(0);
    let mut highest = 0;
    trace
        .sent_by(Side::Client)
        .filter_map(|p| {
            p.tcp()
                .filter(|t| t.has_data())
                .map(|t| (p.sent_at, t.seq.wrapping_sub(isn.wrapping_add(1)), t.len))
        })
        .map(|(at, off, len)| {
            let rexmit = off < highest;
            highest = highest.max(off + len);
            (at, off, rexmit)
        })
        .collect()
}

/// New data segments grouped into flights: a gap of more than 10 ms starts a new one.
fn flights(trace: &Trace, from: Instant, to: Instant) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut last: Option<Instant> = None;
    for (at, _, rexmit) in data(trace) {
        if at < from || at > to || rexmit {
            continue;
        }
        if last.is_none_or(|l| at - l > Duration::from_millis(10)) {
            out.push(0);
        }
        *out.last_mut().expect("pushed") += 1;
        last = Some(at);
    }
    out
}

/// The client's cwnd/ssthresh trace events, in order.
pub(super) fn cwnd_notes(trace: &Trace) -> Vec<(Instant, u32, u32)> {
    trace
        .notes_of(Side::Client)
        .filter_map(|n| match n.note {
            Note::Cwnd { cwnd, ssthresh } => Some((n.at, cwnd, ssthresh)),
            _ => None,
        })
        .collect()
}

/// Bytes in flight at `at` from the client's point of view: highest byte sent less the
/// highest cumulative ACK received, both before `at`.
pub(super) fn flight_before(trace: &Trace, at: Instant) -> u32 {
    let isn = trace
        .sent_by(Side::Client)
        .find_map(|p| p.tcp().filter(|t| t.is_syn()).map(|t| t.seq))
        .unwrap_or(0);
    let rel = |seq: u32| seq.wrapping_sub(isn.wrapping_add(1));
    let sent = trace
        .sent_by(Side::Client)
        .filter(|p| p.sent_at < at)
        .filter_map(|p| p.tcp().filter(|t| t.has_data()).map(|t| rel(t.seq) + t.len))
        .max()
        .unwrap_or(0);
    let acked = acks_at_client(trace)
        .into_iter()
        .filter(|(t, _)| *t < at)
        .map(|(_, a)| a)
        .max()
        .unwrap_or(0);
    sent.saturating_sub(acked)
}

/// The cumulative ACKs the client received: (arrival, offset).
fn acks_at_client(trace: &Trace) -> Vec<(Instant, u32)> {
    let isn = trace
        .sent_by(Side::Client)
        .find_map(|p| p.tcp().filter(|t| t.is_syn()).map(|t| t.seq))
        .unwrap_or(0);
    let mut v: Vec<(Instant, u32)> = trace
        .sent_by(Side::Server)
        .filter_map(|p: &Packet| {
            let t = p.tcp()?;
            (t.is_pure_ack() || t.has_data()).then_some(())?;
            Some((p.arrived_at()?, t.ack.wrapping_sub(isn.wrapping_add(1))))
        })
        .collect();
    v.sort();
    v
}

/// S20: slow start doubles the window every round trip.
pub(crate) fn slow_start(seed: u64) -> Run {
    let bytes = 1_000_000;
    let (w, _, sv) = bulk(&setup().tcp(newreno), seed, bytes, Vec::new());
    let got = w.node(Side::Server).received(sv).len();
    let trace = w.finish();
    let mut checks = Checks::default();
    checks.equal("the server gets all 1,000,000 bytes", bytes, got);
    let rounds = flights(&trace, Instant::ZERO, Instant::from_secs(10));
    checks.equal(
        "round trip after round trip the sender sends 10, 20, 40, 80, 160 segments: the window doubles every RTT, from the initial 10 segments",
        vec![10, 20, 40, 80, 160],
        rounds.iter().copied().take(5).collect::<Vec<_>>(),
    );
    // Byte counting: every ACK in slow start grows cwnd by what it acknowledges.
    // While the sender still has data to send (afterwards it is application-limited, and
    // an application-limited ACK does not grow the window, as in Linux).
    let last_new = data(&trace).iter().filter(|d| !d.2).map(|d| d.0).max().unwrap_or(Instant::ZERO);
    let acks: Vec<(Instant, u32)> =
        acks_at_client(&trace).into_iter().filter(|a| a.0 < last_new).collect();
    let notes = cwnd_notes(&trace);
    let mut prev_ack = 0u32;
    let mut prev_cwnd = 10 * MSS;
    let mut bad = Vec::new();
    let mut checked = 0;
    for (at, ack) in acks {
        let Some((_, cwnd, ssthresh)) = notes.iter().rev().find(|n| n.0 <= at).copied() else {
            continue;
        };
        if ssthresh != u32::MAX || ack <= prev_ack {
            prev_ack = prev_ack.max(ack);
            continue;
        }
        if cwnd != prev_cwnd + (ack - prev_ack) {
            bad.push(format!("at {}: cwnd {prev_cwnd} + {} acked = {cwnd}", s(at), ack - prev_ack));
        }
        checked += 1;
        prev_cwnd = cwnd;
        prev_ack = ack;
    }
    checks.that(
        "each ACK grows cwnd by the bytes it acknowledges (one segment per segment ACKed), not by doubling, while the sender has data to send",
        bad.is_empty() && checked > 20,
        if bad.is_empty() { format!("{checked} ACKs") } else { bad.join("; ") },
    );
    let loss = trace.notes_of(Side::Client).any(|n| matches!(n.note, Note::Retransmit { .. }));
    checks.that("no loss, no retransmission: ssthresh stays infinite", !loss, "");
    finish_run(trace, checks, Some(Instant::from_millis(140)))
}

/// The 170th data segment: in the fifth round trip, when the window is 160 segments.
const LOST: u32 = 170;

/// S20: after a loss, congestion avoidance adds one segment per round trip.
pub(crate) fn congestion_avoidance(seed: u64) -> Run {
    let bytes = 4_000_000;
    let (w, _, sv) = bulk(
        &classic(),
        seed,
        bytes,
        vec![Rule::nth(Match::Data, LOST, Action::Drop, "one segment lost")],
    );
    let got = w.node(Side::Server).received(sv).len();
    let trace = w.finish();
    let mut checks = Checks::default();
    checks.equal("the server gets every byte", bytes, got);
    let notes = cwnd_notes(&trace);
    let first_finite = notes.iter().find(|n| n.2 != u32::MAX).copied();
    let exit = notes.iter().skip_while(|n| n.2 == u32::MAX).nth(1).copied();
    checks.that(
        "the loss ends slow start: ssthresh is set (fast retransmit), and recovery ends with cwnd at most ssthresh",
        first_finite.is_some() && exit.is_some_and(|e| e.1 <= e.2),
        format!("{first_finite:?}, after recovery {exit:?}"),
    );
    let from = exit.map_or(Instant::ZERO, |e| e.0);
    let ca: Vec<(Instant, u32, u32)> = notes.iter().copied().filter(|n| n.0 > from).collect();
    let steps_ok = ca.windows(2).all(|w| w[1].1 == w[0].1 + MSS && w[1].2 == w[0].2);
    checks.that(
        "in congestion avoidance cwnd only ever grows by one segment (1448 bytes) at a time",
        steps_ok && ca.len() >= 10,
        format!("{} increases after recovery", ca.len()),
    );
    let rounds = flights(&trace, from + Duration::from_millis(45), Instant::from_secs(60));
    // The first flight is the end of recovery, the last the end of the data.
    let whole = rounds.get(1..rounds.len().saturating_sub(1)).unwrap_or(&[]);
    let diffs: Vec<i64> = whole.windows(2).map(|w| w[1] as i64 - w[0] as i64).collect();
    let total: i64 = diffs.iter().sum();
    let ok = diffs.len() >= 10
        && diffs.iter().all(|d| (0..=2).contains(d))
        && (total - diffs.len() as i64).abs() <= 2;
    checks.that(
        "round trip after round trip the flight grows by one segment (additive increase), not doubling",
        ok,
        format!("segments per round trip: {rounds:?}"),
    );
    finish_run(trace, checks, Some(Instant::from_millis(200)))
}

pub(super) fn finish_run(trace: Trace, checks: Checks, until: Option<Instant>) -> Run {
    Run {
        trace,
        checks,
        plots: true,
        quiet: vec!["cwnd", "rtt", "app"],
        ladder_until: until,
        ..Run::default()
    }
}

/// S20: three duplicate ACKs: fast retransmit, then fast recovery.
pub(crate) fn fast_retransmit_recovery(seed: u64) -> Run {
    let bytes = 1_500_000;
    let (w, _, sv) = bulk(
        &classic(),
        seed,
        bytes,
        vec![Rule::nth(Match::Data, LOST, Action::Drop, "one segment lost")],
    );
    let got = w.node(Side::Server).received(sv).len();
    let trace = w.finish();
    let mut checks = Checks::default();
    checks.equal("the server gets every byte", bytes, got);
    let rexmit = trace.notes_of(Side::Client).find_map(|n| match n.note {
        Note::Retransmit { reason, .. } => Some((n.at, reason)),
        _ => None,
    });
    let acks = acks_at_client(&trace);
    let lost_off = (LOST - 1) * MSS;
    let dups: Vec<Instant> = acks.iter().filter(|a| a.1 == lost_off).map(|a| a.0).collect();
    // The first ACK for this offset is the normal one for the segment before; the next three
    // are the duplicates.
    checks.that(
        "the third duplicate ACK triggers the retransmission at once (RFC 5681 §3.2), before any timeout",
        rexmit.is_some_and(|r| r.1 == RetransmitReason::FastRetransmit && dups.len() >= 4 && r.0 == dups[3]),
        format!("retransmission {:?}, duplicate ACKs from {:?}", rexmit.map(|r| (s(r.0), r.1)), dups.get(1).map(|t| s(*t))),
    );
    let at = rexmit.map_or(Instant::ZERO, |r| r.0);
    let flight = flight_before(&trace, at + Duration::from_nanos(1));
    let notes = cwnd_notes(&trace);
    let entry = notes.iter().find(|n| n.0 >= at).copied();
    let halved = (flight / 2).max(2 * MSS);
    checks.equal(
        "on entering recovery ssthresh = max(FlightSize / 2, 2·SMSS) and cwnd = ssthresh (+3·SMSS inflation, kept by the engine)",
        Some((halved, halved)),
        entry.map(|e| (e.1, e.2)),
    );
    let exit = notes.iter().find(|n| n.0 > at).copied();
    let full = acks.iter().find(|a| a.1 > lost_off).copied();
    checks.that(
        "the new ACK that covers the retransmission ends recovery and deflates cwnd to at most ssthresh",
        exit.zip(full).is_some_and(|(e, f)| e.0 == f.0 && e.1 <= halved),
        format!("recovery ends {:?}; cwnd {:?}", full.map(|f| s(f.0)), exit.map(|e| e.1)),
    );
    // Inflation: each duplicate ACK once the window ssthresh + dupacks·SMSS exceeds the flight
    // releases one new segment.
    let end = full.map_or(at, |f| f.0);
    let d = dups.iter().skip(1).filter(|t| **t <= end).count() as u32;
    let new_sent =
        data(&trace).into_iter().filter(|(t, _, r)| *t > at && *t < end && !r).count() as i64;
    let expected =
        (i64::from(halved) + i64::from(d) * i64::from(MSS) - i64::from(flight)) / i64::from(MSS);
    checks.that(
        "while the duplicate ACKs keep coming, the inflated window (ssthresh + one segment per duplicate ACK) lets new segments out",
        new_sent > 0 && (new_sent - expected.max(0)).abs() <= 1,
        format!("{d} duplicate ACKs, flight {} segments at entry: {new_sent} new segments sent, {} expected", flight / MSS, expected.max(0)),
    );
    let rto = trace
        .notes_of(Side::Client)
        .any(|n| matches!(n.note, Note::Retransmit { reason: RetransmitReason::Rto, .. }));
    checks.that("no timeout: fast recovery kept the ACK clock going", !rto, "");
    finish_run(trace, checks, None).with_ladder(at)
}

/// S20: a timeout collapses the window to one segment; slow start regrows it to ssthresh.
pub(crate) fn rto_collapse(seed: u64) -> Run {
    let bytes = 1_500_000;
    // Every data segment sent during 60 ms of the fourth round trip is lost: no duplicate ACKs
    // come back, only the retransmission timer can recover.
    let blackout = |t: &crate::segment::TcpSummary, now: Instant| {
        t.has_data() && now >= Instant::from_millis(150) && now < Instant::from_millis(210)
    };
    let (w, _, sv) = bulk(
        &classic(),
        seed,
        bytes,
        vec![Rule::every(
            Match::Custom(Box::new(blackout)),
            Action::Drop,
            "the path drops everything for 60 ms",
        )],
    );
    let got = w.node(Side::Server).received(sv).len();
    let trace = w.finish();
    let mut checks = Checks::default();
    checks.equal("the server gets every byte", bytes, got);
    let rto = trace.notes_of(Side::Client).find_map(|n| match n.note {
        Note::Retransmit { reason: RetransmitReason::Rto, .. } => Some(n.at),
        _ => None,
    });
    checks.that(
        "the whole flight is lost: no duplicate ACKs, the retransmission timer fires",
        rto.is_some(),
        format!("{:?}", rto.map(s)),
    );
    let at = rto.unwrap_or(Instant::ZERO);
    let flight = flight_before(&trace, at);
    let notes = cwnd_notes(&trace);
    let collapse = notes.iter().find(|n| n.0 >= at).copied();
    checks.equal(
        "on the timeout ssthresh = max(FlightSize / 2, 2·SMSS) and cwnd = 1 segment (RFC 5681 §3.1)",
        Some((MSS, (flight / 2).max(2 * MSS))),
        collapse.map(|c| (c.1, c.2)),
    );
    let ssthresh = collapse.map_or(0, |c| c.2);
    let after: Vec<(Instant, u32, u32)> = notes.iter().copied().filter(|n| n.0 > at).collect();
    let reach = after.iter().find(|n| n.1 >= ssthresh).copied();
    let rtts = reach.map(|r| (r.0 - at).as_secs_f64() / 0.04);
    checks.that(
        "slow start regrows cwnd from one segment to ssthresh in about log2(ssthresh / SMSS) round trips",
        rtts.is_some_and(|n| n <= f64::from(ssthresh / MSS).log2() + 3.0),
        format!("ssthresh {} segments reached after {:.1} round trips", ssthresh / MSS, rtts.unwrap_or(f64::NAN)),
    );
    let beyond = after.iter().filter(|n| reach.is_some_and(|r| n.0 > r.0)).collect::<Vec<_>>();
    checks.that(
        "then congestion avoidance: one segment at a time",
        beyond.windows(2).all(|w| w[1].1 == w[0].1 + MSS) && beyond.len() > 3,
        format!("{} increases after reaching ssthresh", beyond.len()),
    );
    finish_run(trace, checks, None).with_ladder(at)
}

impl Run {
    /// Draws the ladder around `at` only: from 30 ms before to 120 ms after.
    pub(super) fn with_ladder(mut self, at: Instant) -> Run {
        self.ladder_from = Some(at.saturating_sub_duration(Duration::from_millis(30)));
        self.ladder_until = Some(at + Duration::from_millis(120));
        self
    }
}

trait SubDuration {
    fn saturating_sub_duration(self, d: Duration) -> Instant;
}

impl SubDuration for Instant {
    fn saturating_sub_duration(self, d: Duration) -> Instant {
        Instant::from_nanos(self.as_nanos().saturating_sub(d.as_nanos() as u64))
    }
}

/// When the holes at `offsets` were all filled (the cumulative ACK passed the last one) and
/// when each was retransmitted.
fn repair(trace: &Trace, offsets: &[u32]) -> (Option<Instant>, Vec<Instant>) {
    let last = offsets.iter().max().copied().unwrap_or(0);
    let filled = acks_at_client(trace).into_iter().find(|a| a.1 > last).map(|a| a.0);
    let rexmits =
        data(trace).into_iter().filter(|d| d.2 && offsets.contains(&d.1)).map(|d| d.0).collect();
    (filled, rexmits)
}

/// S20: three segments of one flight lost; SACK repairs them in one round trip.
pub(crate) fn sack_recovery(seed: u64) -> Run {
    let bytes = 1_500_000;
    let lost = [LOST, LOST + 5, LOST + 10];
    let rules = || {
        lost.iter().map(|n| Rule::nth(Match::Data, *n, Action::Drop, "lost")).collect::<Vec<_>>()
    };
    let (w, _, sv) = bulk(&setup(), seed, bytes, rules());
    let got = w.node(Side::Server).received(sv).len();
    let trace = w.finish();
    let (nw, _, nsv) = bulk(&classic(), seed, bytes, rules());
    let newreno_got = nw.node(Side::Server).received(nsv).len();
    let newreno = nw.finish();

    let mut checks = Checks::default();
    checks.equal(
        "the server gets every byte, with SACK and without",
        (bytes, bytes),
        (got, newreno_got),
    );
    let offsets: Vec<u32> = lost.iter().map(|n| (n - 1) * MSS).collect();
    let (filled, rexmits) = repair(&trace, &offsets);
    let first = rexmits.first().copied().unwrap_or(Instant::ZERO);
    checks.that(
        "with SACK the sender learns all three holes from the SACK blocks and retransmits each once, within one round trip",
        rexmits.len() == 3 && rexmits.iter().all(|t| *t - first < Duration::from_millis(40)),
        format!("retransmitted at {:?}", rexmits.iter().map(|t| s(*t)).collect::<Vec<_>>()),
    );
    let sack_time = filled.map(|f| f - first);
    checks.that(
        "and every hole is filled about one round trip (40 ms) after the first retransmission",
        sack_time.is_some_and(|d| d < Duration::from_millis(60)),
        format!("{:?}", sack_time.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))),
    );
    let (nfilled, nrexmits) = repair(&newreno, &offsets);
    let nfirst = nrexmits.first().copied().unwrap_or(Instant::ZERO);
    let newreno_time = nfilled.map(|f| f - nfirst);
    checks.that(
        "without SACK, NewReno learns one hole per round trip from the partial ACKs: three round trips",
        nrexmits.len() == 3 && newreno_time.is_some_and(|d| d >= Duration::from_millis(110)),
        format!(
            "retransmitted at {:?}, all filled after {:?}",
            nrexmits.iter().map(|t| s(*t)).collect::<Vec<_>>(),
            newreno_time.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
        ),
    );
    let rto = trace
        .notes_of(Side::Client)
        .any(|n| matches!(n.note, Note::Retransmit { reason: RetransmitReason::Rto, .. }));
    checks.that("no timeout", !rto, "");
    // PRR: during recovery the sender sends in proportion to what the receiver reports
    // delivered (ssthresh / the window before), so fewer segments than it hears of.
    let end = filled.unwrap_or(first);
    let sent = trace
        .sent_by(Side::Client)
        .filter(|p| p.sent_at >= first && p.sent_at < end && p.tcp().is_some_and(|t| t.has_data()))
        .count();
    let heard = trace
        .sent_by(Side::Server)
        .filter(|p| p.arrived_at().is_some_and(|a| a >= first && a < end))
        .count();
    checks.that(
        "Proportional Rate Reduction: during recovery the sender sends fewer segments than the ACKs it gets report delivered (RFC 6937)",
        sent > 3 && sent < heard,
        format!("{sent} segments sent for {heard} ACKs"),
    );
    finish_run(trace, checks, None).with_ladder(first)
}
