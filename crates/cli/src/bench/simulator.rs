//! The simulator's speed: simulated packets per second of wall time.
//!
//! A bulk transfer between two simulated ustack hosts over one link of 10 Gbit/s each way,
//! 1 ms of delay, no loss, a queue of 10,000 packets (`ustack_sim::scenario::BulkTransfer`,
//! as `ustack sim` runs it), timed from start to end; packets are those the link carried
//! both ways (data and ACKs).

use std::time::Instant as StdInstant;

use ustack::core::tcp_engine::TcpConfig;
use ustack_sim::scenario::{BulkTransfer, ScenarioRun, Setup};
use ustack_sim::{Bounds, Direction, Duration, LinkConfig};

/// Packets per wall second, and the packets the run carried.
pub(crate) fn packets_per_second(bytes: u64) -> Result<(f64, u64), String> {
    let link = LinkConfig::new()
        .rate_bps(10_000_000_000)
        .delay(Duration::from_millis(1))
        .queue_packets(10_000);
    let setup = Setup::new(link)
        .tcp(TcpConfig::LINUX)
        .bounds(Bounds::time(Duration::from_secs(600)).max_events(bytes / 100 + 1_000_000));
    let scenario = BulkTransfer::new(bytes);
    let mut run = ScenarioRun::new(&scenario, &setup, 1).map_err(|e| e.to_string())?;
    let start = StdInstant::now();
    run.run().map_err(|e| format!("the simulated transfer: {e}"))?;
    let elapsed = start.elapsed();
    let l = run.link();
    let net = run.network();
    let packets = net.link_stats(l, Direction::AToB).sent + net.link_stats(l, Direction::BToA).sent;
    Ok((packets as f64 / elapsed.as_secs_f64(), packets))
}
