//! The simulator's acceptance tests: over a link that loses, duplicates, reorders and
//! corrupts 5% of the packets each way, and over a link that fades 7% of the time, a bulk
//! transfer delivers every byte exactly once and in order, for every one of 1,000 seeds; both
//! ends reach CLOSED (the client through TIME-WAIT) and no socket is left. The impaired link
//! runs over IPv6 as well (1,000 more seeds), where a flipped bit may land in a header that
//! has no checksum of its own (RFC 8200 §3): the transport checksum over the pseudo-header
//! catches an address, a length or a next header gone wrong, or the packet is not ours.
//! `USTACK_SIM_SEEDS=n` runs n seeds instead; a failure names its seed, and
//! `BulkTransfer::new(bytes_for(seed)).run(&Setup::new(impaired()), seed)` (or
//! `fading(seed)`) replays it.

use std::thread;

use ustack_core::tcp_engine::TcpState;
use ustack_sim::scenario::{BulkTransfer, ScenarioError, ScenarioRun, Setup};
use ustack_sim::{Duration, LinkConfig, LinkStats, TimedBursts};

/// 10 Mbit/s, 5 ms each way, 100 packets of queue; 5% loss, 5% duplication, 5% reordering
/// (held back 3 ms, over two packet times), 5% corruption.
fn impaired() -> LinkConfig {
    LinkConfig::new()
        .rate_bps(10_000_000)
        .delay(Duration::from_millis(5))
        .queue_packets(100)
        .loss(0.05)
        .duplicate(0.05)
        .reorder(0.05, Duration::from_millis(3))
        .corrupt(0.05)
}

/// 10 Mbit/s, 5 ms each way, 100 packets of queue; bursty loss in time, 7% of the time in
/// bad periods (every packet lost) of mean 10 ms, 50 ms, 200 ms or 1 s by seed.
fn fading(seed: u64) -> LinkConfig {
    let mean_bad = [10, 50, 200, 1_000][(seed % 4) as usize];
    LinkConfig::new()
        .rate_bps(10_000_000)
        .delay(Duration::from_millis(5))
        .queue_packets(100)
        .timed_burst_loss(TimedBursts::from_mean_loss(0.07, Duration::from_millis(mean_bad)))
}

/// 64 KiB to 256 KiB, a different size for each seed.
fn bytes_for(seed: u64) -> u64 {
    64 * 1024 + (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % (192 * 1024 + 1)
}

fn seeds() -> u64 {
    match std::env::var("USTACK_SIM_SEEDS") {
        Ok(n) => n.parse().expect("USTACK_SIM_SEEDS is a number of seeds"),
        Err(_) => 1_000,
    }
}

/// What the seeds of one thread added up to.
#[derive(Default)]
struct Totals {
    failures: Vec<(u64, String)>,
    link: LinkStats,
    retransmits: u64,
    bytes: u64,
}

impl Totals {
    fn add_link(&mut self, s: &LinkStats) {
        let t = &mut self.link;
        t.sent += s.sent;
        t.dropped.loss += s.dropped.loss;
        t.dropped.queue += s.dropped.queue;
        t.dropped.timed_burst_loss += s.dropped.timed_burst_loss;
        t.duplicated += s.duplicated;
        t.reordered += s.reordered;
        t.corrupted += s.corrupted;
    }

    fn merge(&mut self, other: Totals) {
        self.failures.extend(other.failures);
        self.add_link(&other.link);
        self.retransmits += other.retransmits;
        self.bytes += other.bytes;
    }
}

/// Runs one seed over `link`; checks what the runner does not.
fn one(seed: u64, setup: Setup, totals: &mut Totals) -> Result<(), ScenarioError> {
    let bytes = bytes_for(seed);
    let scenario = BulkTransfer::new(bytes);
    let mut run = ScenarioRun::new(&scenario, &setup, seed)?;
    run.run()?;
    let report = ustack_sim::scenario::Scenario::report(&scenario, &run);
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            let failure = ustack_sim::scenario::Failure::Api {
                side: ustack_sim::scenario::Side::Client,
                detail: format!("{what}: {report:?}"),
            };
            Err(ScenarioError::Failed { seed, failure })
        }
    };
    check(report.delivered == bytes, "bytes delivered")?;
    check(report.client.state_at_done == Some(TcpState::TimeWait), "client state when done")?;
    check(report.server.state_at_done == Some(TcpState::LastAck), "server state when done")?;
    check(report.client.state_at_end == Some(TcpState::Closed), "client final state")?;
    check(report.server.state_at_end == Some(TcpState::Closed), "server final state")?;
    check(report.client.error.is_none() && report.server.error.is_none(), "errors")?;
    check(run.client().stack().socket_count() == 0, "client sockets")?;
    check(run.server().stack().socket_count() == 0, "server sockets")?;
    let counters = run.client().stack().counters();
    let (v4, v6) = (counters.ip_out_requests, counters.ip6_out_requests);
    check(if setup.ipv6 { v4 == 0 && v6 > 0 } else { v6 == 0 && v4 > 0 }, "address family")?;
    for s in &report.link {
        totals.add_link(s);
    }
    totals.retransmits += report.client.retransmits + report.server.retransmits;
    totals.bytes += bytes;
    Ok(())
}

/// Runs seeds `0..n` on every core, each over `link(seed)` (IPv6 when `ipv6`): what they
/// added up to, failures sorted by seed.
fn run_seeds(n: u64, link: fn(u64) -> LinkConfig, ipv6: bool) -> Totals {
    let threads = thread::available_parallelism().map_or(1, |t| t.get()) as u64;
    let mut totals = Totals::default();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut totals = Totals::default();
                    for seed in (t..n).step_by(threads as usize) {
                        let setup = Setup::new(link(seed)).ipv6(ipv6);
                        if let Err(e) = one(seed, setup, &mut totals) {
                            totals.failures.push((seed, e.to_string()));
                        }
                    }
                    totals
                })
            })
            .collect();
        for w in workers {
            totals.merge(w.join().expect("a worker panicked"));
        }
    });
    totals.failures.sort_by_key(|f| f.0);
    let shown: Vec<String> =
        totals.failures.iter().take(10).map(|(seed, e)| format!("seed {seed}: {e}")).collect();
    assert!(
        totals.failures.is_empty(),
        "{} of {n} seeds failed (first seeds first):\n{}",
        totals.failures.len(),
        shown.join("\n")
    );
    totals
}

#[test]
fn bulk_transfer_over_5_percent_loss_dup_reorder_corruption_delivers_every_byte_once() {
    let n = seeds();
    let totals = run_seeds(n, |_| impaired(), false);
    assert_every_impairment(n, &totals);
}

#[test]
fn ipv6_bulk_transfer_over_5_percent_loss_dup_reorder_corruption_delivers_every_byte_once() {
    let n = seeds();
    let totals = run_seeds(n, |_| impaired(), true);
    assert_every_impairment(n, &totals);
}

/// Every impairment happened, and TCP had to recover from it.
fn assert_every_impairment(n: u64, totals: &Totals) {
    let l = &totals.link;
    if n >= 10 {
        for (what, count) in [
            ("loss", l.dropped.loss),
            ("duplication", l.duplicated),
            ("reordering", l.reordered),
            ("corruption", l.corrupted),
            ("retransmission", totals.retransmits),
        ] {
            assert!(count > 0, "no {what} over {n} seeds");
        }
        let lost = l.dropped.loss as f64 / l.sent as f64;
        assert!((0.04..0.06).contains(&lost), "loss rate {lost}");
    }
}

/// Bursty loss per packet at this rate (`GilbertElliott::from_mean_loss(0.07, 10.0)`, bursts
/// of ten packets) times out about 7% of these transfers: a sender backed off to one segment
/// per RTO stays in a burst for ten RTOs, past `retries2`. A link that fades for a time lets
/// the backed-off sender through once the fade is over.
#[test]
fn bulk_transfer_over_7_percent_timed_burst_loss_delivers_every_byte_once() {
    let n = seeds();
    let totals = run_seeds(n, fading, false);
    let l = &totals.link;
    if n >= 10 {
        assert!(totals.retransmits > 0, "no retransmission over {n} seeds");
        // Fades happened; a sender waits out a fade (for its RTO) rather than sending into
        // it, so it loses a smaller share of its packets than the 7% of time the link is bad.
        let lost = l.dropped.timed_burst_loss as f64 / l.sent as f64;
        assert!(lost > 0.0 && lost < 0.07, "loss rate {lost}");
    }
}
