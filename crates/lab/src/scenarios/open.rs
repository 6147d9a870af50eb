//! Opening a connection: simultaneous open (S1), the handshake and why it has three steps
//! (S3), the listen queues (S4), lost handshake segments (S5).

use ustack_core::tcp_engine::{ConnError, TcpState, TimerKind};
use ustack_core::{Duration, Instant};
use ustack_wire::TcpFlags;

use crate::check::{Checks, s, times};
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::segment::{bare_segment, build_tcp};
use crate::trace::{Note, Side};
use crate::world::{Setup, World, addr};

use super::{PORT, SERVE};

/// S1: both ends connect to each other at the same moment; the SYNs cross.
pub(crate) fn simultaneous_open(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (cport, sport) = (40_001, 40_002);
    let c = w.connect(Side::Client, cport, sport).expect("client connect");
    let sv = w.connect(Side::Server, sport, cport).expect("server connect");
    let ok = w.run_while(Duration::from_secs(10), |v| {
        !(v.node(Side::Client).connected(c) && v.node(Side::Server).connected(sv))
    });
    w.run_for(Duration::from_millis(100)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that("both connections complete", ok, "");
    for (side, port) in [(Side::Client, cport), (Side::Server, sport)] {
        checks.equal(
            format!(
                "the {side} goes SYN-SENT -> SYN-RECEIVED -> ESTABLISHED (RFC 9293 §3.5, Figure 8)"
            ),
            vec!["SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"],
            trace.state_names(side, port),
        );
    }
    let flags: Vec<String> = trace
        .packets
        .iter()
        .filter_map(|p| p.tcp().map(|t| format!("{} {}", p.from, t.flag_letters())))
        .collect();
    let mut first = flags.iter().take(4).cloned().collect::<Vec<_>>();
    let n = first.len();
    first[..n.min(2)].sort();
    if n == 4 {
        first[2..].sort();
    }
    checks.equal(
        "four segments open it: two crossing SYNs, then two crossing SYN-ACKs",
        vec!["client S", "server S", "client S.", "server S."],
        first.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let isn = |side: Side| {
        trace.sent_by(side).find_map(|p| p.tcp().filter(|t| t.is_syn()).map(|t| t.seq))
    };
    let (ci, si) = (isn(Side::Client).unwrap_or(0), isn(Side::Server).unwrap_or(0));
    let synack = |side: Side| {
        trace.sent_by(side).find_map(|p| p.tcp().filter(|t| t.is_syn_ack()).map(|t| (t.seq, t.ack)))
    };
    checks.equal(
        "each SYN-ACK repeats its sender's ISN and acknowledges the other's ISN + 1",
        (Some((ci, si.wrapping_add(1))), Some((si, ci.wrapping_add(1)))),
        (synack(Side::Client), synack(Side::Server)),
    );
    checks.that("no RST", !trace.packets.iter().any(|p| p.tcp().is_some_and(|t| t.is_rst())), "");
    Run { trace, checks, ..Run::default() }
}

/// S3: the three-way handshake, and the old duplicate SYN that a third step defeats.
pub(crate) fn handshake(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, SERVE);
    w.listen(Side::Server, PORT, 128, false).expect("listen");
    // The client's real SYN is held back 30 ms; an old duplicate SYN of an earlier
    // incarnation of the same connection reaches the server first.
    w.rule(
        Side::Client,
        Rule::nth(
            Match::Syn,
            1,
            Action::Delay(Duration::from_millis(30)),
            "the network holds the new SYN back",
        ),
    );
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    let (cport, _) = w.node(Side::Client).ports(c).expect("ports");
    let isn = w.stack(Side::Client).tcp_conn(c).tuple();
    let old_seq = 90_000u32;
    let mut stale = bare_segment(cport, PORT, old_seq, 0, TcpFlags::SYN);
    stale.options.mss = Some(1460);
    let bytes = build_tcp(isn.local, isn.remote, &stale);
    w.inject(Side::Client, bytes, "an old duplicate SYN of an earlier connection");
    let ok = w.run_while(Duration::from_secs(10), |v| !v.node(Side::Client).connected(c));
    w.run_for(Duration::from_millis(100)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that("the connection opens", ok, "");
    let server_synacks: Vec<(u32, u32)> = trace
        .sent_by(Side::Server)
        .filter_map(|p| p.tcp().filter(|t| t.is_syn_ack()).map(|t| (t.seq, t.ack)))
        .collect();
    checks.equal(
        "the server answers the old SYN with a SYN-ACK acknowledging it (it cannot tell it is old)",
        Some(old_seq + 1),
        server_synacks.first().map(|x| x.1),
    );
    let rst =
        trace.sent_by(Side::Client).find_map(|p| p.tcp().filter(|t| t.is_rst()).map(|t| t.seq));
    checks.equal(
        "the client, whose SYN that is not, answers with RST seq = SEG.ACK (RFC 9293 §3.10.7.3)",
        Some(old_seq + 1),
        rst,
    );
    let server_ports: Vec<u16> = trace
        .notes_of(Side::Server)
        .filter(|n| matches!(n.note, Note::State { from: None, .. }))
        .filter_map(|n| n.conn.map(|c| c.0))
        .collect();
    let half_open = trace
        .notes_of(Side::Server)
        .filter(|n| n.conn.is_some_and(|c| c.1 == cport))
        .filter_map(|n| match n.note {
            Note::State { to, .. } => Some(to.rfc_name()),
            _ => None,
        })
        .collect::<Vec<_>>();
    checks.equal(
        "the server's half-open entry for the old SYN is reset; the real SYN then opens the connection",
        vec!["SYN-RECEIVED", "CLOSED", "SYN-RECEIVED", "ESTABLISHED"],
        half_open,
    );
    let _ = server_ports;
    let real = trace
        .sent_by(Side::Client)
        .filter(|p| p.injected.is_none())
        .find_map(|p| p.tcp().filter(|t| t.is_syn()).map(|t| t.seq))
        .unwrap_or(0);
    let (y, ack) = server_synacks.get(1).copied().unwrap_or((0, 0));
    checks.equal("SYN-ACK: seq = y, ack = x + 1", real.wrapping_add(1), ack);
    let last = trace
        .sent_by(Side::Client)
        .filter_map(|p| p.tcp().filter(|t| t.is_pure_ack()).map(|t| (t.seq, t.ack)))
        .next();
    checks.equal(
        "ACK: seq = x + 1, ack = y + 1",
        Some((real.wrapping_add(1), y.wrapping_add(1))),
        last,
    );
    checks.equal(
        "the client goes SYN-SENT -> ESTABLISHED",
        vec!["SYN-SENT", "ESTABLISHED"],
        trace.state_names(Side::Client, cport),
    );
    let full = |t: &crate::segment::TcpSummary| {
        t.options.mss.is_some()
            && t.options.window_scale.is_some()
            && t.options.sack_permitted
            && t.options.timestamps.is_some()
    };
    let syn = trace
        .sent_by(Side::Client)
        .filter(|p| p.injected.is_none())
        .find_map(|p| p.tcp().filter(|t| t.is_syn()));
    let synack =
        trace.sent_by(Side::Server).filter_map(|p| p.tcp().filter(|t| t.is_syn_ack())).nth(1);
    checks.that(
        "the real SYN and its SYN-ACK carry MSS, window scale, SACK-permitted and timestamps (the stale SYN offered only MSS, and its SYN-ACK answers with only MSS)",
        syn.is_some_and(full) && synack.is_some_and(full),
        "",
    );
    Run { trace, checks, ..Run::default() }
}

/// S4: a listener whose application does not accept: the accept queue fills (backlog + 1
/// entries, as Linux), the next final ACK and the next SYN are dropped and counted, and
/// everything completes once the application accepts.
pub(crate) fn accept_queue_overflow(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let l = w.listen(Side::Server, PORT, 2, false).expect("listen");
    let mut conns = Vec::new();
    for _ in 0..2 {
        conns.push(w.connect(Side::Client, 0, PORT).expect("connect"));
    }
    w.run_until(Instant::from_millis(100)).expect("run");
    for _ in 0..2 {
        conns.push(w.connect(Side::Client, 0, PORT).expect("connect"));
    }
    w.run_until(Instant::from_millis(200)).expect("run");
    conns.push(w.connect(Side::Client, 0, PORT).expect("connect"));
    w.run_until(Instant::from_secs(2)).expect("run");
    let ss_full = w.ss(Side::Server);
    let client_view = w.ss(Side::Client);
    w.run_until(Instant::from_millis(2_500)).expect("run");
    let mut accepted = 0;
    while w.accept(Side::Server, l).is_some() {
        accepted += 1;
    }
    w.auto(Side::Server, Auto { accept: true, ..Auto::default() });
    let done = w.run_while(Duration::from_secs(20), |v| v.node(Side::Server).accepted().len() < 5);
    w.run_for(Duration::from_millis(100)).expect("run");
    let ports: Vec<u16> =
        conns.iter().map(|c| w.node(Side::Client).ports(*c).map_or(0, |p| p.0)).collect();
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that(
        "the accept queue holds backlog + 1 = 3 connections before it counts as full (Linux sk_acceptq_is_full)",
        ss_full.lines().any(|l| l.contains("LISTEN") && l.split_whitespace().nth(1) == Some("3")),
        ss_full.lines().find(|l| l.contains("LISTEN")).unwrap_or("no listener").trim(),
    );
    checks.equal("accept() at 2.5 s takes the three", 3, accepted);
    let overflow = trace
        .notes_matching(Side::Server, "times the listen queue of a socket overflowed")
        .map(|n| n.at)
        .collect::<Vec<_>>();
    checks.that(
        "the fourth connection's final ACK finds the queue full: dropped and counted as an overflow",
        overflow.first().is_some_and(|t| *t < Instant::from_millis(200)),
        format!("overflows at {:?}", times(&overflow)),
    );
    let synacks4 = trace
        .sent_by(Side::Server)
        .filter(|p| p.tcp().is_some_and(|t| t.is_syn_ack() && t.dst.port() == ports[3]))
        .map(|p| p.sent_at)
        .collect::<Vec<_>>();
    checks.that(
        "the server, its SYN-ACK seemingly unanswered, retransmits it (the client's ACKs are dropped)",
        synacks4.len() >= 3,
        format!("SYN-ACKs to the fourth client at {:?}", times(&synacks4)),
    );
    let est4 = trace.entered(Side::Client, ports[3], TcpState::Established);
    let srv4 = trace
        .notes_of(Side::Server)
        .filter(|n| n.conn.is_some_and(|c| c.1 == ports[3]))
        .find(|n| matches!(n.note, Note::State { to: TcpState::Established, .. }))
        .map(|n| n.at);
    checks.that(
        "meanwhile the fourth client is ESTABLISHED, the server not: only the SYN-ACK retransmission after accept() completes it",
        est4.is_some_and(|c| c < Instant::from_millis(200))
            && srv4.is_some_and(|s| s > Instant::from_millis(2_500)),
        format!("client established {:?}, server {:?}", est4.map(s), srv4.map(s)),
    );
    let syns5 = trace
        .sent_by(Side::Client)
        .filter(|p| p.tcp().is_some_and(|t| t.is_syn() && t.src.port() == ports[4]))
        .map(|p| p.sent_at)
        .collect::<Vec<_>>();
    let drops = trace.notes_matching(Side::Server, "SYNs to LISTEN sockets dropped").count();
    checks.that(
        "the fifth connection's SYNs are dropped while the queue is full (counted), and retransmitted at 1 s, 3 s",
        syns5.len() >= 3 && drops >= 2,
        format!("SYNs at {:?}; {drops} SYN drops counted", times(&syns5)),
    );
    checks.that("all five connections are accepted in the end", done, "");
    let extras = vec![
        ("ss -tan on the server at 2 s: the listener's Recv-Q is the accept queue, Send-Q the backlog".to_string(), ss_full),
        ("ss -tan on the client at 2 s: its side of every connection is ESTABLISHED".to_string(), client_view),
    ];
    Run { trace, checks, extras, ..Run::default() }
}

/// S5, lost SYN: every SYN dropped; backoff 1, 2, 4, ... s, ETIMEDOUT at 127 s.
pub(crate) fn lost_syn(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, SERVE);
    w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.rule(Side::Client, Rule::every(Match::Syn, Action::Drop, "every SYN is lost"));
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    let failed =
        w.run_while(Duration::from_secs(300), |v| v.node(Side::Client).closed(c).is_none());
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    let error = w.node(Side::Client).closed(c);
    w.run_for(Duration::from_secs(1)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    let syns: Vec<Instant> = trace
        .sent_by(Side::Client)
        .filter(|p| p.tcp().is_some_and(|t| t.is_syn()))
        .map(|p| p.sent_at)
        .collect();
    checks.equal(
        "SYNs leave at 0, 1, 3, 7, 15, 31, 63 s (initial RTO 1 s, doubled after each, tcp_syn_retries 6)",
        times(&[0, 1, 3, 7, 15, 31, 63].map(Instant::from_secs)),
        times(&syns),
    );
    checks.that("connect() ends", failed, "");
    let at = trace
        .notes_of(Side::Client)
        .find(|n| matches!(&n.note, Note::Error(e) if e.contains("connection failed")))
        .map(|n| s(n.at));
    checks.equal(
        "connect() fails with a timeout (ETIMEDOUT) at 127 s",
        (Some(Some(ConnError::TimedOut)), Some(s(Instant::from_secs(127)))),
        (error, at),
    );
    checks.equal(
        "the connection-establishment timer is what gives up, at 127 s",
        times(&[Instant::from_secs(127)]),
        times(&trace.timer_firings(Side::Client, TimerKind::Establish)),
    );
    checks.equal(
        "the client's socket goes SYN-SENT -> CLOSED",
        vec!["SYN-SENT", "CLOSED"],
        trace.state_names(Side::Client, port),
    );
    checks.that(
        "the server never sees a packet",
        trace.packets.iter().all(|p| p.from == Side::Client && p.lost()),
        format!("{} packets, all lost", trace.packets.len()),
    );
    Run { trace, checks, no_breaks: true, ..Run::default() }
}

/// S5, lost SYN-ACK: both ends retransmit; the handshake completes about 1 s late.
pub(crate) fn lost_synack(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, SERVE);
    w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.rule(Side::Server, Rule::nth(Match::SynAck, 1, Action::Drop, "the first SYN-ACK is lost"));
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    let ok = w.run_while(Duration::from_secs(10), |v| !v.node(Side::Client).connected(c));
    w.run_for(Duration::from_secs(2)).expect("run");
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that("the connection opens", ok, "");
    let syns: Vec<Instant> = trace
        .sent_by(Side::Client)
        .filter(|p| p.tcp().is_some_and(|t| t.is_syn()))
        .map(|p| p.sent_at)
        .collect();
    checks.equal(
        "the client, hearing nothing, retransmits its SYN after its 1 s RTO",
        times(&[Instant::ZERO, Instant::from_secs(1)]),
        times(&syns),
    );
    let synacks: Vec<(Instant, u32)> = trace
        .sent_by(Side::Server)
        .filter_map(|p| p.tcp().filter(|t| t.is_syn_ack()).map(|t| (p.sent_at, t.seq)))
        .collect();
    checks.that(
        "the server sends its SYN-ACK again about 1 s later, same ISN (timer, or the repeated SYN)",
        synacks.len() >= 2
            && synacks[1].0 >= Instant::from_secs(1)
            && synacks[1].0 < Instant::from_millis(1_100)
            && synacks.iter().all(|x| x.1 == synacks[0].1),
        format!("SYN-ACKs at {:?}", synacks.iter().map(|x| s(x.0)).collect::<Vec<_>>()),
    );
    let est = trace.entered(Side::Client, port, TcpState::Established);
    checks.that(
        "the client is ESTABLISHED one RTO late, at about 1.02 s",
        est.is_some_and(|t| t > Instant::from_secs(1) && t < Instant::from_millis(1_100)),
        format!("{:?}", est.map(s)),
    );
    let srv = trace
        .notes_of(Side::Server)
        .any(|n| matches!(n.note, Note::State { to: TcpState::Established, .. }));
    checks.that("the server is ESTABLISHED too", srv, "");
    Run { trace, checks, ..Run::default() }
}

/// S5, lost final ACK: the client's first data carries the ACK and completes the handshake.
pub(crate) fn lost_final_ack(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, SERVE);
    w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.rule(
        Side::Client,
        Rule::nth(Match::PureAck, 1, Action::Drop, "the handshake's final ACK is lost"),
    );
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    w.run_while(Duration::from_secs(10), |v| !v.node(Side::Client).connected(c));
    w.run_for(Duration::from_millis(200)).expect("run");
    let data = crate::pattern(100);
    w.send(Side::Client, c, &data);
    let got = w.run_while(Duration::from_secs(10), |v| {
        v.node(Side::Server)
            .accepted()
            .first()
            .is_none_or(|h| v.node(Side::Server).received(*h).len() < 100)
    });
    let server_read = w
        .node(Side::Server)
        .accepted()
        .first()
        .map(|h| w.node(Side::Server).received(*h).to_vec())
        .unwrap_or_default();
    w.run_for(Duration::from_millis(300)).expect("run");
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    let trace = w.finish();

    let mut checks = Checks::default();
    let ack = trace.sent_by(Side::Client).find(|p| p.tcp().is_some_and(|t| t.is_pure_ack()));
    checks.that("the client's final ACK is lost", ack.is_some_and(|p| p.lost()), "");
    let first_data = trace.sent_by(Side::Client).find(|p| p.tcp().is_some_and(|t| t.has_data()));
    let arrived = first_data.and_then(|p| p.arrived_at());
    let srv_est = trace
        .notes_of(Side::Server)
        .filter(|n| n.conn.is_some_and(|c| c.1 == port))
        .find(|n| matches!(n.note, Note::State { to: TcpState::Established, .. }))
        .map(|n| n.at);
    checks.that(
        "the server stays SYN-RECEIVED until the data arrives; its ACK bit completes the handshake (ESTABLISHED on arrival)",
        arrived.is_some() && srv_est == arrived,
        format!("data arrived {:?}, server ESTABLISHED {:?}", arrived.map(s), srv_est.map(s)),
    );
    checks.that(
        "the server reads the 100 bytes",
        got && server_read == data,
        format!("{} bytes", server_read.len()),
    );
    let synacks =
        trace.sent_by(Side::Server).filter(|p| p.tcp().is_some_and(|t| t.is_syn_ack())).count();
    checks.equal(
        "no SYN-ACK retransmission was needed (the data came before the 1 s RTO)",
        1,
        synacks,
    );
    checks.that("no RST", !trace.packets.iter().any(|p| p.tcp().is_some_and(|t| t.is_rst())), "");
    Run { trace, checks, ..Run::default() }
}

/// S5, lost final ACK after the server gave up: the client's data gets a RST.
pub(crate) fn lost_final_ack_after_giveup(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, SERVE);
    w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.rule(
        Side::Client,
        Rule::every(Match::PureAck, Action::Drop, "every ACK of the handshake is lost"),
    );
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    w.run_until(Instant::from_secs(70)).expect("run");
    let client_view = w.ss(Side::Client);
    let data = crate::pattern(100);
    w.send(Side::Client, c, &data);
    let ended = w.run_while(Duration::from_secs(10), |v| v.node(Side::Client).closed(c).is_none());
    let error = w.node(Side::Client).closed(c);
    w.run_for(Duration::from_millis(200)).expect("run");
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    let trace = w.finish();

    let mut checks = Checks::default();
    let synacks: Vec<Instant> = trace
        .sent_by(Side::Server)
        .filter(|p| p.tcp().is_some_and(|t| t.is_syn_ack()))
        .map(|p| p.sent_at)
        .collect();
    let first = synacks.first().copied().unwrap_or(Instant::ZERO);
    let expected: Vec<Instant> =
        [0u64, 1, 3, 7, 15, 31].iter().map(|d| first + Duration::from_secs(*d)).collect();
    checks.equal(
        "the server retransmits its SYN-ACK 1, 3, 7, 15, 31 s after the first (tcp_synack_retries 5)",
        times(&expected),
        times(&synacks),
    );
    let gave_up = trace.timer_firings(Side::Server, TimerKind::Establish);
    checks.equal(
        "63 s after the first SYN-ACK the server gives up and drops the half-open entry",
        times(&[first + Duration::from_secs(63)]),
        times(&gave_up),
    );
    checks.that(
        "the client sat ESTABLISHED the whole time (its ACKs were lost)",
        client_view.contains("ESTAB"),
        client_view.lines().nth(1).unwrap_or("").trim(),
    );
    let rst = trace.sent_by(Side::Server).find(|p| p.tcp().is_some_and(|t| t.is_rst()));
    checks.that(
        "the client's data at 70 s finds no connection and gets a RST (RFC 9293 §3.10.7.1)",
        rst.is_some_and(|p| p.sent_at > Instant::from_secs(70)),
        format!("{:?}", rst.map(|p| s(p.sent_at))),
    );
    checks.equal(
        "the client's connection fails: connection reset by peer (ECONNRESET)",
        Some(Some(ConnError::Reset)),
        error,
    );
    checks.that("it ends", ended, "");
    checks.equal(
        "the client goes SYN-SENT -> ESTABLISHED -> CLOSED",
        vec!["SYN-SENT", "ESTABLISHED", "CLOSED"],
        trace.state_names(Side::Client, port),
    );
    let _ = addr(Side::Client);
    let extras = vec![("ss -tan on the client at 70 s".to_string(), client_view)];
    Run { trace, checks, extras, no_breaks: true, ..Run::default() }
}
