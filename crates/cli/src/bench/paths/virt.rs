//! `ustack bench paths --sim`: the grid in the simulator, ustack to ustack, in virtual time.
//!
//! Each cell is one `BulkTransfer` (client 10.0.0.1 sending to server 10.0.0.2) over the
//! cell's link in both directions, cut after the run time: the goodput is what the server
//! read by then, over the run time less the handshake's round trip. Deterministic: the same
//! seed gives the same table on any machine.

use ustack::core::tcp_engine::TcpConfig;
use ustack_sim::scenario::{BulkTransfer, ScenarioRun, Setup};
use ustack_sim::{Bounds, Direction, Instant};

use super::{Args, Cell, Row, Table, mbps};
use crate::bench::json::Json;

/// Bytes the client has to send: more than any cell carries in its time.
const UNBOUNDED: u64 = 1 << 50;

/// What one cell did.
struct Outcome {
    goodput_bps: f64,
    retransmits: u64,
    /// Packets the link dropped from client to server (loss and queue).
    dropped: u64,
    queue_drops: u64,
    events: u64,
}

fn one(cell: &Cell, tcp: &TcpConfig, seed: u64, args: &Args) -> Result<Outcome, String> {
    let time = cell.run_time(args.time);
    let setup = Setup::new(cell.link()).tcp(*tcp).bounds(Bounds::time(time).max_events(u64::MAX));
    let scenario = BulkTransfer::new(UNBOUNDED);
    let mut run = ScenarioRun::new(&scenario, &setup, seed).map_err(|e| e.to_string())?;
    let net = run.network_mut();
    net.set_event_limit(u64::MAX);
    let end = Instant::ZERO + time;
    net.run_until(end).map_err(|e| e.to_string())?;
    let server = run.server();
    let bytes = server.app().received(server.stack()).first().map_or(0, |r| r.bytes);
    let client = run.client().stack();
    let retransmits = client
        .netstat(end)
        .sockets
        .iter()
        .find(|s| s.peer.is_some())
        .map_or(0, |s| client.tcp_conn(s.handle).stats().retransmits);
    let link = run.network().link_stats(run.link(), Direction::AToB);
    let secs = (time.saturating_sub(cell.rtt)).as_secs_f64();
    Ok(Outcome {
        goodput_bps: bytes as f64 * 8.0 / secs,
        retransmits,
        dropped: link.dropped.total(),
        queue_drops: link.dropped.queue,
        events: run.network().events_run(),
    })
}

pub(super) fn run(args: &Args, cells: &[Cell], tcp: &TcpConfig) -> Result<Table, String> {
    let mut rows = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let started = std::time::Instant::now();
        let o = one(cell, tcp, args.seed, args)?;
        let (rate, rtt, loss) = cell.label();
        eprintln!(
            "[{}/{}] {rate} {rtt} loss {loss}: {} Mbit/s, {} retransmissions ({} events, {:.1} s)",
            i + 1,
            cells.len(),
            mbps(o.goodput_bps),
            o.retransmits,
            o.events,
            started.elapsed().as_secs_f64()
        );
        let of_link = o.goodput_bps / (cell.rate_bps as f64 * 1448.0 / 1500.0);
        rows.push(Row {
            cell: *cell,
            values: vec![
                mbps(o.goodput_bps),
                format!("{:.0}%", of_link * 100.0),
                o.retransmits.to_string(),
                format!("{} ({} queue)", o.dropped, o.queue_drops),
            ],
            json: vec![
                ("seconds", Json::Num(cell.run_time(args.time).as_secs_f64())),
                ("goodput_mbps", Json::Num(o.goodput_bps / 1e6)),
                ("of_link", Json::Num(of_link)),
                ("retransmits", Json::Num(o.retransmits as f64)),
                ("dropped", Json::Num(o.dropped as f64)),
                ("queue_drops", Json::Num(o.queue_drops as f64)),
            ],
        });
    }
    let cc = tcp.congestion_control.as_str().to_string();
    Ok(Table {
        title: vec![format!(
            "ustack bench paths --sim: ustack ({cc}) to ustack in the simulator, virtual time, \
             seed {}; goodput in Mbit/s; of link = goodput / (rate x 1448/1500); dropped = \
             packets the link dropped on the way to the receiver",
            args.seed
        )],
        columns: vec!["goodput", "of link", "retransmits", "dropped"],
        rows,
        meta: vec![
            ("mode", Json::Str("sim".into())),
            ("ustack_cc", Json::Str(cc)),
            ("seed", Json::Num(args.seed as f64)),
        ],
    })
}
