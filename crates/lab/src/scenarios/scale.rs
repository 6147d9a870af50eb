//! Scale: ephemeral ports run out per (local address, remote address, remote port) (S25).

use ustack_core::tcp_engine::TcpState;
use ustack_core::{ConnectError, Duration};

use crate::check::Checks;
use crate::node::Auto;
use crate::registry::Run;
use crate::trace::Side;
use crate::world::{Setup, World};

use super::PORT;

/// The client's ephemeral range in this scenario: 100 ports.
const RANGE: (u16, u16) = (60_900, 60_999);

/// S25: 100 ephemeral ports give 100 connections to one server port; the 101st fails with a
/// clear error; another server port has its own 100; TIME-WAIT keeps ports taken.
pub(crate) fn port_exhaustion(seed: u64) -> Run {
    let setup = Setup::new().stack(Side::Client, |s| s.ip_local_port_range = RANGE);
    let mut w = World::new(&setup, seed);
    w.unwatch(Side::Client);
    w.unwatch(Side::Server);
    w.auto(Side::Server, Auto { accept: true, read: true, close_on_eof: true });
    w.listen(Side::Server, PORT, 4096, false).expect("listen");
    w.listen(Side::Server, PORT + 1, 4096, false).expect("listen");
    let n = usize::from(RANGE.1 - RANGE.0) + 1;
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(w.connect(Side::Client, 0, PORT).expect("a port is free"));
    }
    let extra = w.connect(Side::Client, 0, PORT);
    let other: Vec<_> = (0..n).map(|_| w.connect(Side::Client, 0, PORT + 1)).collect();
    let established =
        w.run_while(Duration::from_secs(10), |v| v.node(Side::Server).accepted().len() < 2 * n);
    let count = w.stack(Side::Client).netstat(w.now()).count(TcpState::Established);
    // Close the first 100: the client closes first and keeps their ports in TIME-WAIT.
    for c in &conns {
        w.close(Side::Client, *c);
    }
    w.run_for(Duration::from_secs(1)).expect("run");
    let in_time_wait = w.stack(Side::Client).netstat(w.now()).count(TcpState::TimeWait);
    let during = w.connect(Side::Client, 0, PORT);
    w.run_for(Duration::from_secs(60)).expect("run");
    let after = w.connect(Side::Client, 0, PORT);
    w.run_for(Duration::from_millis(100)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that(
        "100 connections to 10.0.0.2:5001 use the 100 ephemeral ports",
        established && count == 2 * n,
        format!("{count} ESTABLISHED in all"),
    );
    checks.equal("the 101st connect() to the same address and port fails at once: no ephemeral port left (EADDRNOTAVAIL)", Err(ConnectError::NoEphemeralPort), extra.map(drop));
    checks.that(
        "the same 100 ports serve another 100 connections to port 5002: the limit is per (local address, remote address, remote port)",
        other.iter().all(Result::is_ok),
        format!("{} of {n}", other.iter().filter(|r| r.is_ok()).count()),
    );
    checks.equal(
        "closed first by the client, the 100 connections sit in TIME-WAIT on it",
        n,
        in_time_wait,
    );
    checks.equal(
        "and their ports stay taken: connect() still fails",
        Err(ConnectError::NoEphemeralPort),
        during.map(drop),
    );
    checks.that("2·MSL later the ports are free again", after.is_ok(), format!("{after:?}"));
    let syns = trace.sent_by(Side::Client).filter(|p| p.tcp().is_some_and(|t| t.is_syn())).count();
    checks.equal("no SYN is sent for the connect() calls that failed", 2 * n + 1, syns);
    Run {
        trace,
        checks,
        quiet: vec!["cwnd", "rtt", "app", "state", "freed"],
        ladder_until: Some(ustack_core::Instant::from_millis(1)),
        ..Run::default()
    }
}
