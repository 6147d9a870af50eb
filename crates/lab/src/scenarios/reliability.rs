//! Reliability: segmentation and MSS (S14), sequence numbers and cumulative ACKs (S15), the
//! checksum (S16), the retransmission timeout (S17), stop-and-wait ARQ (S18), flow control
//! and the persist timer (S19).

use std::cell::Cell;
use std::rc::Rc;

use ustack_core::tcp_engine::{BufferSizes, ConnError, RetransmitReason, TimerKind};
use ustack_core::{Duration, Instant};
use ustack_wire::checksum;

use crate::check::{Checks, s, times};
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::segment::Segment;
use crate::trace::{Fate, Note, Packet, Side, Trace};
use crate::world::{Setup, World};

use super::close::establish;

/// The client's ISN on its connection with local port `port`.
fn client_isn(trace: &Trace, port: u16) -> Option<u32> {
    trace
        .sent_by(Side::Client)
        .find_map(|p| p.tcp().filter(|t| t.is_syn() && t.src.port() == port).map(|t| t.seq))
}

/// Data segments the client sent on `port`: (packet, offset of the first byte).
fn client_data(trace: &Trace, port: u16) -> Vec<(&Packet, u32)> {
    let isn = client_isn(trace, port).unwrap_or(0);
    trace
        .sent_by(Side::Client)
        .filter_map(|p| {
            p.tcp()
                .filter(|t| t.has_data() && t.src.port() == port)
                .map(|t| (p, t.seq.wrapping_sub(isn.wrapping_add(1))))
        })
        .collect()
}

/// S14: data cut into segments no larger than the MSS the two ends agreed on.
pub(crate) fn mss(seed: u64) -> Run {
    let setup = Setup::new().mtu(Side::Server, 1000);
    let mut w = World::new(&setup, seed);
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    w.auto(Side::Client, Auto { read: true, ..Auto::default() });
    w.send_stream(Side::Client, c, 20_000, false);
    w.send_stream(Side::Server, sv, 5_000, false);
    w.run_while(Duration::from_secs(10), |v| {
        v.node(Side::Server).received(sv).len() < 20_000
            || v.node(Side::Client).received(c).len() < 5_000
    });
    let got =
        (w.node(Side::Server).received(sv).to_vec(), w.node(Side::Client).received(c).to_vec());
    let eff = (
        w.stack(Side::Client).tcp_conn(c).effective_mss(),
        w.stack(Side::Server).tcp_conn(sv).effective_mss(),
    );
    let trace = w.finish();

    let mut checks = Checks::default();
    let syn_mss = |side: Side| {
        trace.sent_by(side).find_map(|p| {
            p.tcp()
                .filter(|t| t.flags.contains(ustack_wire::TcpFlags::SYN))
                .and_then(|t| t.options.mss)
        })
    };
    checks.equal(
        "each SYN announces MSS = its interface MTU - 40: 1460 from the client (MTU 1500), 960 from the server (MTU 1000)",
        (Some(1460), Some(960)),
        (syn_mss(Side::Client), syn_mss(Side::Server)),
    );
    checks.equal(
        "both send segments of at most 960 - 12 = 948 payload bytes (the smaller MSS, less the timestamps option)",
        (948, 948),
        eff,
    );
    for side in Side::BOTH {
        let lens: Vec<u32> =
            trace.sent_by(side).filter_map(|p| p.tcp().map(|t| t.len)).filter(|l| *l > 0).collect();
        let max = lens.iter().copied().max().unwrap_or(0);
        let full = lens.iter().filter(|l| **l == 948).count();
        checks.that(
            format!("the {side}'s data segments are at most 948 bytes, and all but the last of a burst are full-sized"),
            max == 948 && full + 2 >= lens.len(),
            format!("{} segments, largest {max}, {full} of 948", lens.len()),
        );
    }
    let largest = trace.sent_by(Side::Server).map(|p| p.bytes.len()).max().unwrap_or(0);
    checks.that(
        "no packet the server sends exceeds its MTU of 1000",
        largest <= 1000,
        format!("largest {largest} bytes"),
    );
    checks.that(
        "every byte arrives, in order, both ways",
        got.0 == crate::pattern(20_000) && got.1 == crate::pattern(5_000),
        format!("{} and {} bytes", got.0.len(), got.1.len()),
    );
    Run { trace, checks, quiet: vec!["cwnd", "rtt"], ..Run::default() }
}

/// S15: reordered and duplicated segments; cumulative ACKs; unpredictable ISNs.
pub(crate) fn reorder_duplicate(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    w.rule(
        Side::Client,
        Rule::nth(
            Match::Data,
            2,
            Action::Delay(Duration::from_micros(2_500)),
            "held back 2.5 ms: arrives after the 3rd and 4th",
        ),
    );
    w.rule(
        Side::Client,
        Rule::nth(
            Match::Data,
            6,
            Action::Duplicate(Duration::from_micros(500)),
            "the network delivers it twice",
        ),
    );
    // Ten segments, one every millisecond.
    let n = 10 * 1448;
    let stream = crate::pattern(n);
    for k in 0..10 {
        w.send(Side::Client, c, &stream[k * 1448..(k + 1) * 1448]);
        w.run_for(Duration::from_millis(1)).expect("run");
    }
    w.run_while(Duration::from_secs(5), |v| v.node(Side::Server).received(sv).len() < n);
    w.run_for(Duration::from_millis(200)).expect("run");
    let got = w.node(Side::Server).received(sv).to_vec();
    // A second connection, later, for the ISNs.
    let t1 = w.now();
    let (c2, _) = establish(&mut w, Auto { read: true, ..Auto::default() });
    let port2 = w.node(Side::Client).ports(c2).map_or(0, |p| p.0);
    let trace = w.finish();
    let other = World::new(&Setup::new(), seed ^ 0x5eed);
    let mut other = other;
    let _ = other.listen(Side::Server, super::PORT, 8, false);
    let oc = other.connect(Side::Client, 0, super::PORT).expect("connect");
    other.run_for(Duration::from_millis(1)).expect("run");
    let other_port = other.node(Side::Client).ports(oc).map_or(0, |p| p.0);
    let other_trace = other.finish();

    let mut checks = Checks::default();
    checks.that(
        "the server reads every byte once, in order",
        got == crate::pattern(n),
        format!("{} bytes", got.len()),
    );
    let isn = client_isn(&trace, port).unwrap_or(0);
    let data = client_data(&trace, port);
    let arrival = |k: usize| data.get(k).and_then(|(p, _)| p.arrived_at());
    checks.that(
        "segment 2 arrives after segments 3 and 4",
        arrival(1).zip(arrival(3)).is_some_and(|(a, b)| a > b),
        format!("2nd at {:?}, 4th at {:?}", arrival(1).map(s), arrival(3).map(s)),
    );
    let server_isn = trace
        .sent_by(Side::Server)
        .find_map(|p| p.tcp().filter(|t| t.is_syn_ack() && t.dst.port() == port).map(|t| t.seq))
        .unwrap_or(0);
    let acks: Vec<(Instant, u32, usize)> = trace
        .sent_by(Side::Server)
        .filter_map(|p| {
            p.tcp().filter(|t| t.dst.port() == port && t.is_pure_ack()).map(|t| {
                (
                    p.sent_at,
                    t.ack.wrapping_sub(isn.wrapping_add(1)),
                    t.options.sack_blocks.as_slice().len(),
                )
            })
        })
        .collect();
    let third = arrival(2);
    let dup = acks.iter().find(|a| Some(a.0) == third);
    checks.that(
        "segment 3, out of order, is ACKed at once with the cumulative ACK still at segment 2 (a duplicate ACK) and a SACK block for what it holds",
        dup.is_some_and(|a| a.1 == 1448 && a.2 == 1),
        format!("{dup:?}"),
    );
    let filled = acks.iter().find(|a| Some(a.0) == arrival(1));
    let held = data
        .iter()
        .filter(|(p, _)| p.arrived_at().zip(arrival(1)).is_some_and(|(a, b)| a <= b))
        .map(|(_, off)| off + 1448)
        .max();
    checks.that(
        "when segment 2 arrives the cumulative ACK jumps past everything held",
        filled.is_some_and(|a| Some(a.1) == held),
        format!("{filled:?}, held up to {held:?}"),
    );
    let copy = trace.sent_by(Side::Client).find(|p| matches!(p.fate, Fate::Duplicate(_)));
    let reack = copy.and_then(|p| p.arrived_at()).and_then(|t| acks.iter().find(|a| a.0 == t));
    checks.that(
        "the duplicate of segment 6 is discarded and ACKed again (the cumulative ACK does not move)",
        reack.is_some() && got.len() == n,
        format!("{reack:?}"),
    );
    let fast = trace.notes_of(Side::Client).any(|n| matches!(n.note, Note::Retransmit { .. }));
    checks.that(
        "reordering this short is not taken for loss: nothing is retransmitted (two duplicate ACKs, within RACK's reordering window of a quarter of the minimum RTT)",
        !fast,
        "",
    );
    let isn2 = client_isn(&trace, port2).unwrap_or(0);
    let ticks = ((t1 - Instant::ZERO).as_nanos() / 4_000) as u32;
    checks.that(
        "a later connection's ISN is not the first plus the elapsed 4 µs ticks (RFC 6528: a keyed hash of the 4-tuple is added)",
        isn2.wrapping_sub(isn) != ticks,
        format!("ISNs {isn} and {isn2}"),
    );
    let other_isn = client_isn(&other_trace, other_port).unwrap_or(0);
    checks.that(
        "another secret gives another ISN for a connection at the same time",
        other_isn != isn || other_port != port,
        format!("{other_isn} with another seed"),
    );
    let _ = server_isn;
    Run { trace, checks, quiet: vec!["cwnd", "rtt"], ..Run::default() }
}

/// S16: a corrupted segment is dropped silently, not ACKed, and retransmitted.
pub(crate) fn bad_checksum(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    w.rule(Side::Client, Rule::nth(Match::Data, 1, Action::Corrupt, "one bit flipped on the wire"));
    w.run_for(Duration::from_millis(100)).expect("run");
    w.send(Side::Client, c, &crate::pattern(100));
    w.run_while(Duration::from_secs(5), |v| v.node(Side::Server).received(sv).len() < 100);
    w.run_for(Duration::from_millis(100)).expect("run");
    let got = w.node(Side::Server).received(sv).to_vec();
    let trace = w.finish();

    let mut checks = Checks::default();
    let bad = trace.sent_by(Side::Client).find(|p| matches!(p.fate, Fate::Corrupted(_)));
    let arrived = bad.and_then(|p| p.arrived_at());
    let counted =
        trace.notes_matching(Side::Server, "bad checksum").map(|n| n.at).collect::<Vec<_>>();
    checks.that(
        "the receiver counts the bad checksum when the corrupted segment arrives",
        arrived.is_some() && counted.first().copied() == arrived,
        format!("arrived {:?}, counted {:?}", arrived.map(s), times(&counted)),
    );
    let rexmit =
        trace.sent_by(Side::Client).filter(|p| p.tcp().is_some_and(|t| t.has_data())).nth(1);
    let rexmit_arrival = rexmit.and_then(|p| p.arrived_at());
    let answered = trace
        .sent_by(Side::Server)
        .filter(|p| {
            arrived.zip(rexmit_arrival).is_some_and(|(a, b)| p.sent_at >= a && p.sent_at < b)
        })
        .count();
    checks.equal("and sends nothing in answer: no ACK, no error (dropped silently)", 0, answered);
    let reason = trace.notes_of(Side::Client).find_map(|n| match n.note {
        Note::Retransmit { reason, .. } => Some(reason),
        _ => None,
    });
    checks.that(
        "the sender, hearing nothing, retransmits: a tail loss probe 2·SRTT later (RFC 8985 §7, Linux's default) or its RTO",
        matches!(reason, Some(RetransmitReason::TailLossProbe | RetransmitReason::Rto)),
        format!("{reason:?}"),
    );
    checks.that(
        "the retransmission is ACKed and the data delivered once",
        got == crate::pattern(100),
        format!("{} bytes", got.len()),
    );
    let mut extras = Vec::new();
    if let Some(p) = bad {
        extras.push((
            "the checksum of the corrupted segment, recomputed".to_string(),
            explain_checksum(p),
        ));
    }
    Run { trace, checks, extras, ..Run::default() }
}

/// The RFC 1071 sum of a segment as the receiver computes it.
fn explain_checksum(p: &Packet) -> String {
    let ip = &p.bytes;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let tcp = &ip[ihl..];
    let src = core::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = core::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let field = u16::from_be_bytes([tcp[16], tcp[17]]);
    let pseudo = checksum::pseudo_header_v4(src, dst, 6, tcp.len() as u32);
    let mut zeroed = tcp.to_vec();
    zeroed[16] = 0;
    zeroed[17] = 0;
    let body = checksum::data(&zeroed);
    let computed = !checksum::combine(&[pseudo, body]);
    let verify = checksum::combine(&[pseudo, checksum::data(tcp)]);
    format!(
        "pseudo-header (source {src}, destination {dst}, zero, protocol 6, TCP length {}) sums to 0x{pseudo:04x}\n\
         header and data (checksum field as zero) sum to 0x{body:04x}\n\
         ones-complement of their ones-complement sum: 0x{computed:04x}\n\
         checksum field in the segment:                0x{field:04x} (computed by the sender before the bit flipped)\n\
         sum over pseudo-header, header and data: 0x{verify:04x} (0xffff when intact): {}",
        tcp.len(),
        if verify == 0xffff { "valid" } else { "invalid: dropped" }
    )
}

/// S17: RTO backoff; Karn's rule; giving up after tcp_retries2.
pub(crate) fn rto_backoff(seed: u64) -> Run {
    // Timestamps off: without them, Karn's rule is what keeps an ambiguous ACK from being
    // taken as an RTT sample. Tail loss probes off (Linux tcp_early_retrans 0): the RTO alone.
    let setup = Setup::new().tcp(|t| {
        t.timestamps = false;
        t.tlp = false;
    });
    let mut w = World::new(&setup, seed);
    let (a, sa) = establish(&mut w, Auto { read: true, ..Auto::default() });
    let pa = w.node(Side::Client).ports(a).map_or(0, |p| p.0);
    w.rule(
        Side::Client,
        Rule::range(Match::Data, 0, 3, Action::Drop, "the first three transmissions are lost"),
    );
    w.run_until(Instant::from_millis(500)).expect("run");
    w.send(Side::Client, a, &crate::pattern(1000));
    w.run_while(Duration::from_secs(30), |v| v.node(Side::Server).received(sa).len() < 1000);
    w.run_for(Duration::from_millis(300)).expect("run");
    w.send(Side::Client, a, &crate::pattern(2000)[1000..]);
    w.run_while(Duration::from_secs(5), |v| v.node(Side::Server).received(sa).len() < 2000);
    w.run_for(Duration::from_millis(300)).expect("run");
    let phase2 = w.now();
    // Second connection: its data never gets through.
    let (b, _sb) = establish(&mut w, Auto { read: true, ..Auto::default() });
    let pb = w.node(Side::Client).ports(b).map_or(0, |p| p.0);
    w.rule(
        Side::Client,
        Rule::every(
            Match::Custom(Box::new(move |t, _| t.has_data() && t.src.port() == pb)),
            Action::Drop,
            "the path is gone: every data segment is lost",
        ),
    );
    w.send(Side::Client, b, &crate::pattern(1000));
    let ended =
        w.run_while(Duration::from_secs(1_500), |v| v.node(Side::Client).closed(b).is_none());
    let error = w.node(Side::Client).closed(b);
    let retries2 = setup.stacks[0].tcp.retries2_timeout();
    w.run_for(Duration::from_secs(1)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    // Phase 1.
    let sends: Vec<Instant> =
        client_data(&trace, pa).iter().map(|(p, _)| p.sent_at).take(4).collect();
    let gaps: Vec<f64> = sends.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    checks.that(
        "each retransmission waits twice as long as the one before (RFC 6298 §5.5)",
        gaps.len() == 3 && gaps.windows(2).all(|g| (g[1] / g[0] - 2.0).abs() < 0.01),
        format!("waits {:?} s", gaps.iter().map(|g| format!("{g:.3}")).collect::<Vec<_>>()),
    );
    let acked = trace
        .sent_by(Side::Server)
        .find(|p| {
            p.tcp().is_some_and(|t| t.is_pure_ack() && t.dst.port() == pa)
                && p.sent_at > Instant::from_millis(500)
        })
        .and_then(|p| p.arrived_at());
    let sample_between = trace
        .notes_of(Side::Client)
        .filter(|n| n.conn.is_some_and(|c| c.0 == pa))
        .filter(|n| matches!(n.note, Note::Rtt { .. }))
        .any(|n| n.at > Instant::from_millis(500) && acked.is_some_and(|a| n.at <= a));
    checks.that(
        "Karn's rule: the ACK of the retransmitted segment gives no RTT sample (it cannot tell which copy it answers)",
        acked.is_some() && !sample_between,
        format!("ACK at {:?}", acked.map(s)),
    );
    let later = trace
        .notes_of(Side::Client)
        .filter(|n| n.conn.is_some_and(|c| c.0 == pa))
        .any(|n| matches!(n.note, Note::Rtt { .. }) && acked.is_some_and(|a| n.at > a));
    checks.that("the next segment, sent once, gives a sample again", later, "");
    // Phase 2.
    let rtx: Vec<Instant> = client_data(&trace, pb).iter().map(|(p, _)| p.sent_at).collect();
    let gaps: Vec<Duration> = rtx.windows(2).map(|w| w[1] - w[0]).collect();
    let capped = gaps.iter().filter(|g| **g == Duration::from_secs(120)).count();
    let doubling = gaps.windows(2).all(|g| {
        g[1] == Duration::from_secs(120)
            || (g[1].as_secs_f64() / g[0].as_secs_f64() - 2.0).abs() < 0.01
    });
    checks.that(
        "on a dead path the waits double until they reach the 120 s cap (tcp_rto_max)",
        doubling && capped >= 2,
        format!(
            "{} transmissions, waits {:?}",
            rtx.len(),
            gaps.iter().map(|g| format!("{:.2}", g.as_secs_f64())).collect::<Vec<_>>()
        ),
    );
    let first_rtx = rtx.get(1).copied().unwrap_or(phase2);
    let end = trace
        .notes_of(Side::Client)
        .find(|n| n.conn.is_some_and(|c| c.0 == pb) && matches!(&n.note, Note::Error(_)))
        .map(|n| n.at);
    checks.that(
        "the connection is given up at the first RTO expiry past 924.6 s after the first retransmission (tcp_retries2 15)",
        ended && end.is_some_and(|e| e - first_rtx >= retries2 && e - first_rtx <= retries2 + Duration::from_secs(120)),
        format!("first retransmission {}, given up {:?}", s(first_rtx), end.map(s)),
    );
    checks.equal(
        "and the error is reported: connection timed out (ETIMEDOUT)",
        Some(Some(ConnError::TimedOut)),
        error,
    );
    Run { trace, checks, quiet: vec!["cwnd"], ..Run::default() }
}

/// S18: stop-and-wait: one segment in flight; the note's four cases.
pub(crate) fn stop_and_wait(seed: u64) -> Run {
    // 1000-byte segments: the client's MTU less 40 and 12 (timestamps).
    // The note's ARQ has no selective acknowledgments: SACK off (and with it RACK and the
    // tail loss probe), so only the retransmission timer recovers.
    let setup = Setup::new()
        .mtu(Side::Client, 1052)
        .tcp(|t| t.sack = false)
        .stack(Side::Client, |s| s.tcp.max_flight_segments = Some(1));
    let mut w = World::new(&setup, seed);
    // The server's ACKs, by the offset they acknowledge (the SYN-ACK tells the base).
    let base: Rc<Cell<u32>> = Rc::default();
    let (b1, b2, b3) = (base.clone(), base.clone(), base.clone());
    w.rule(
        Side::Server,
        Rule::every(
            Match::Custom(Box::new(move |t, _| {
                if t.is_syn_ack() {
                    b1.set(t.ack);
                }
                false
            })),
            Action::Drop,
            "",
        ),
    );
    w.rule(Side::Client, Rule::nth(Match::Data, 2, Action::Drop, "case 2: the data is lost"));
    w.rule(
        Side::Client,
        Rule::nth(Match::Data, 4, Action::Corrupt, "case 2: the data arrives damaged"),
    );
    w.rule(
        Side::Server,
        Rule::nth(
            Match::Custom(Box::new(move |t, _| {
                t.is_pure_ack() && t.ack.wrapping_sub(b2.get()) == 4000
            })),
            1,
            Action::Drop,
            "case 3: the ACK is lost",
        ),
    );
    w.rule(
        Side::Server,
        Rule::nth(
            Match::Custom(Box::new(move |t, _| {
                t.is_pure_ack() && t.ack.wrapping_sub(b3.get()) == 5000
            })),
            1,
            Action::Delay(Duration::from_millis(1_500)),
            "case 4: the ACK is late",
        ),
    );
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    w.run_for(Duration::from_millis(100)).expect("run");
    w.send(Side::Client, c, &crate::pattern(5000));
    w.run_while(Duration::from_secs(30), |v| v.node(Side::Server).received(sv).len() < 5000);
    w.run_for(Duration::from_secs(3)).expect("run");
    let got = w.node(Side::Server).received(sv).to_vec();
    let trace = w.finish();

    let mut checks = Checks::default();
    let data = client_data(&trace, port);
    checks.that(
        "every segment carries 1000 bytes",
        data.iter().all(|(p, _)| p.tcp().is_some_and(|t| t.len == 1000)),
        "",
    );
    // One in flight: no segment for a higher offset is sent before the previous one is ACKed.
    let isn = client_isn(&trace, port).unwrap_or(0);
    let mut acked = 0u32;
    let mut ok = true;
    let mut events: Vec<(Instant, u8, u32)> =
        data.iter().map(|(p, off)| (p.sent_at, 1, *off)).collect();
    for p in trace.sent_by(Side::Server) {
        if let (Some(t), Some(a)) = (p.tcp(), p.arrived_at())
            && t.is_pure_ack()
        {
            events.push((a, 0, t.ack.wrapping_sub(isn.wrapping_add(1))));
        }
    }
    events.sort();
    for (_, kind, off) in events {
        if kind == 0 {
            acked = acked.max(off);
        } else if off > acked {
            ok = false;
        }
    }
    checks.that("never more than one unacknowledged segment in flight", ok, "");
    let sends_of =
        |off: u32| data.iter().filter(|(_, o)| *o == off).map(|(p, _)| *p).collect::<Vec<_>>();
    let one = sends_of(0);
    checks.that(
        "case 1, no error: segment 1 is sent once and ACKed",
        one.len() == 1 && !one[0].lost(),
        "",
    );
    let two = sends_of(1000);
    checks.that(
        "case 2, lost: segment 2 is lost, the receiver says nothing, the sender times out and retransmits",
        two.len() == 2 && two[0].lost() && !two[1].lost(),
        format!("{} sends", two.len()),
    );
    let three = sends_of(2000);
    let csum = trace.notes_matching(Side::Server, "bad checksum").count();
    checks.that(
        "case 2, damaged: segment 3 arrives corrupted, the receiver drops it unanswered, the sender times out and retransmits",
        three.len() == 2 && matches!(three[0].fate, Fate::Corrupted(_)) && csum == 1,
        format!("{} sends, {csum} bad checksum", three.len()),
    );
    let four = sends_of(3000);
    let acks_of = |off: u32| {
        trace
            .sent_by(Side::Server)
            .filter(|p| {
                p.tcp().is_some_and(|t| {
                    t.is_pure_ack() && t.ack.wrapping_sub(isn.wrapping_add(1)) == off
                })
            })
            .collect::<Vec<_>>()
    };
    let a4 = acks_of(4000);
    checks.that(
        "case 3, lost ACK: segment 4 is retransmitted on timeout; the receiver discards the duplicate and ACKs it again",
        four.len() == 2 && a4.len() == 2 && a4[0].lost() && !a4[1].lost(),
        format!("{} sends, {} ACKs", four.len(), a4.len()),
    );
    let five = sends_of(4000);
    let a5 = acks_of(5000);
    let late = a5.iter().find(|p| matches!(p.fate, Fate::Delayed(..)));
    checks.that(
        "case 4, late ACK: segment 5 is retransmitted before its ACK arrives; the receiver re-ACKs the duplicate",
        five.len() == 2 && late.and_then(|p| p.arrived_at()).is_some_and(|a| a > five[1].sent_at) && a5.len() == 2,
        format!("{} sends, {} ACKs", five.len(), a5.len()),
    );
    let late_at = late.and_then(|p| p.arrived_at());
    let after_late = late_at.map_or(0, |a| {
        trace
            .sent_by(Side::Client)
            .filter(|p| p.sent_at >= a && p.tcp().is_some_and(|t| t.has_data()))
            .count()
    });
    let paws = late_at.is_some_and(|a| {
        trace.notes_of(Side::Client).any(|n| n.at == a && n.note == Note::Dropped("paws"))
    });
    checks.that(
        "and the late ACK, when it comes, changes nothing: older than the last one seen, it is dropped (PAWS, RFC 7323 §5.3) and no data is sent again",
        after_late == 0 && paws,
        format!("{after_late} data segments after it; dropped by PAWS: {paws}"),
    );
    checks.that(
        "the receiver delivers the 5000 bytes once, in order",
        got == crate::pattern(5000),
        format!("{} bytes", got.len()),
    );
    let rtos = trace
        .notes_of(Side::Client)
        .filter(|n| matches!(n.note, Note::Retransmit { reason: RetransmitReason::Rto, .. }))
        .count();
    checks.equal("four timeouts in all, one per error", 4, rtos);
    Run { trace, checks, quiet: vec!["cwnd", "rtt"], ..Run::default() }
}

/// S19: the receiver's window closes; the sender stops; persist probes survive a lost window
/// update.
pub(crate) fn zero_window_persist(seed: u64) -> Run {
    let setup = Setup::new()
        .stack(Side::Server, |s| s.tcp.rmem = BufferSizes { min: 4096, default: 8192, max: 8192 });
    let mut w = World::new(&setup, seed);
    let (c, sv) = establish(&mut w, Auto::default());
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    let reading: Rc<Cell<bool>> = Rc::default();
    let flag = reading.clone();
    w.rule(
        Side::Server,
        Rule::nth(
            Match::Custom(Box::new(move |t, _| t.is_pure_ack() && flag.get())),
            1,
            Action::Drop,
            "the window update is lost",
        ),
    );
    let total = 40_000;
    w.send_stream(Side::Client, c, total, false);
    w.run_until(Instant::from_secs(3)).expect("run");
    let stalled = w.ss(Side::Server);
    reading.set(true);
    w.read(Side::Server, sv);
    w.auto(Side::Server, Auto { read: true, ..Auto::default() });
    let done =
        w.run_while(Duration::from_secs(60), |v| v.node(Side::Server).received(sv).len() < total);
    w.run_for(Duration::from_millis(200)).expect("run");
    let got = w.node(Side::Server).received(sv).to_vec();
    let trace = w.finish();

    let mut checks = Checks::default();
    let zero = trace.sent_by(Side::Server).find(|p| {
        p.tcp().is_some_and(|t| {
            t.dst.port() == port && t.window == 0 && t.flags.contains(ustack_wire::TcpFlags::ACK)
        })
    });
    checks.that(
        "the receiver, whose application does not read, advertises a zero window once its 8 KiB buffer is full",
        zero.is_some(),
        format!("{:?}", zero.map(|p| s(p.sent_at))),
    );
    let zero_at = zero.and_then(|p| p.arrived_at()).unwrap_or(Instant::ZERO);
    let probes = trace
        .notes_of(Side::Client)
        .filter(|n| n.note == Note::Timer(TimerKind::Persist))
        .map(|n| n.at)
        .collect::<Vec<_>>();
    let gaps: Vec<f64> = probes.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    checks.that(
        "the sender stops and its persist timer sends window probes, backing off",
        probes.len() >= 3 && gaps.windows(2).take(2).all(|g| g[1] > g[0] * 1.5),
        format!("persist fired at {:?}", times(&probes)),
    );
    let before_read: u32 = trace
        .sent_by(Side::Client)
        .filter(|p| p.sent_at > zero_at && p.sent_at < Instant::from_secs(3))
        .filter_map(|p| p.tcp().map(|t| t.len))
        .filter(|l| *l > 1)
        .sum();
    checks.equal(
        "while the window is zero the sender sends no data beyond the probes",
        0,
        before_read,
    );
    let update = trace.sent_by(Side::Server).find(|p| matches!(p.fate, Fate::Lost(_)));
    checks.that(
        "the window update sent when the application reads at 3 s is lost",
        update.is_some_and(|p| p.tcp().is_some_and(|t| t.window > 0)),
        "",
    );
    let resume = trace
        .sent_by(Side::Client)
        .find(|p| p.sent_at > Instant::from_secs(3) && p.tcp().is_some_and(|t| t.len > 1));
    let probe_after = probes.iter().find(|t| **t > Instant::from_secs(3));
    checks.that(
        "the next probe draws an ACK with the open window, and the transfer resumes: no deadlock",
        resume.zip(probe_after).is_some_and(|(r, p)| r.sent_at > *p),
        format!(
            "probe at {:?}, data again at {:?}",
            probe_after.map(|t| s(*t)),
            resume.map(|p| s(p.sent_at))
        ),
    );
    checks.that(
        "every byte arrives, in order",
        done && got == crate::pattern(total),
        format!("{} bytes", got.len()),
    );
    let extras =
        vec![("ss -tan on the server at 3 s: the buffer is full (Recv-Q)".to_string(), stalled)];
    let _ = Segment::parse;
    Run { trace, checks, extras, quiet: vec!["cwnd", "rtt"], ..Run::default() }
}
