//! Opening a connection: simultaneous open (S1), the handshake (S3), the listen queues (S4),
//! lost handshake segments (S5).

use ustack_core::tcp_engine::{TcpState, TimerKind};
use ustack_core::{Duration, Instant};

use crate::check::{Checks, s};
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::trace::{Note, Side};
use crate::world::{Setup, World};

const PORT: u16 = 5001;

/// S5, lost SYN: every SYN dropped; backoff 1, 2, 4, ... s, ETIMEDOUT at 127 s.
pub(crate) fn lost_syn(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, Auto { accept: true, read: true, close_on_eof: true });
    w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.rule(Side::Client, Rule::every(Match::Syn, Action::Drop, "every SYN is lost"));
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    let failed = w.run_while(Duration::from_secs(300), |v| {
        v.node(Side::Client).events().iter().all(|(_, e)| {
            !matches!(e.kind, ustack_core::SocketEventKind::Tcp(ustack_core::tcp_engine::Event::Closed(_)))
        })
    });
    let port = w.node(Side::Client).ports(c).map_or(0, |p| p.0);
    w.run_for(Duration::from_secs(1)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    let syns: Vec<Instant> =
        trace.sent_by(Side::Client).filter(|p| p.tcp().is_some_and(|t| t.is_syn())).map(|p| p.sent_at).collect();
    let expected: Vec<Instant> = [0, 1, 3, 7, 15, 31, 63].map(Instant::from_secs).to_vec();
    checks.equal(
        "SYNs leave at 0, 1, 3, 7, 15, 31, 63 s (initial RTO 1 s, doubled after each, 6 retries)",
        expected.iter().map(|t| s(*t)).collect::<Vec<_>>(),
        syns.iter().map(|t| s(*t)).collect::<Vec<_>>(),
    );
    checks.that("connect() ends within 300 s", failed, "");
    let error = trace
        .notes_of(Side::Client)
        .find(|n| matches!(&n.note, Note::Error(e) if e.contains("connection failed")))
        .map(|n| (n.at, n.note.to_string()));
    checks.equal(
        "connect() fails with a timeout at 127 s (ETIMEDOUT)",
        Some((s(Instant::from_secs(127)), "connection failed: connection timed out".to_string())),
        error.map(|(t, e)| (s(t), e)),
    );
    let establish = trace.timer_firings(Side::Client, TimerKind::Establish);
    checks.equal(
        "the connection-establishment timer is what gives up, at 127 s",
        vec![s(Instant::from_secs(127))],
        establish.iter().map(|t| s(*t)).collect(),
    );
    checks.equal(
        "the client's socket went SYN-SENT -> CLOSED",
        vec!["SYN-SENT", "CLOSED"],
        trace.state_names(Side::Client, port),
    );
    checks.that(
        "the server never saw a packet",
        trace.packets.iter().all(|p| p.from == Side::Client && p.lost()),
        format!("{} packets", trace.packets.len()),
    );
    let _ = TcpState::Closed;
    Run { trace, checks, no_breaks: true, ..Run::default() }
}
