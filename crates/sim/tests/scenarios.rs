//! The reusable scenarios: request/response and many connections complete under mild loss;
//! a scenario replays from its seed to the byte-identical pcap.

use pcap_file::pcap::PcapReader;
use ustack_core::tcp_engine::TcpState;
use ustack_sim::scenario::{
    BulkTransfer, ManyConnections, RequestResponse, Scenario, ScenarioRun, Setup,
};
use ustack_sim::{Duration, LinkConfig, TapPoint};

const MS: Duration = Duration::from_millis(1);

/// 10 Mbit/s, 10 ms each way, 1% loss.
fn mild() -> LinkConfig {
    LinkConfig::new().rate_bps(10_000_000).delay(10 * MS).loss(0.01)
}

#[test]
fn request_response_completes_under_mild_loss() {
    let scenario = RequestResponse::new(50, 200, 3_000);
    for seed in 0..20 {
        let report = scenario.run(&Setup::new(mild()), seed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.latencies.len(), 50, "seed {seed}");
        // Each exchange takes at least one round trip and the response's serialization.
        let rtt = 20 * MS;
        assert!(report.latencies.iter().all(|&l| l > rtt), "seed {seed}: {:?}", report.latencies);
        assert_eq!(report.client.state_at_done, Some(TcpState::TimeWait), "seed {seed}");
        assert_eq!(report.server.state_at_done, Some(TcpState::LastAck), "seed {seed}");
        assert_eq!(report.client.state_at_end, Some(TcpState::Closed), "seed {seed}");
        assert_eq!(report.server.state_at_end, Some(TcpState::Closed), "seed {seed}");
        assert!(report.mean_latency().unwrap() <= report.max_latency().unwrap());
    }
}

#[test]
fn request_response_without_loss_takes_one_round_trip_per_exchange() {
    let link = LinkConfig::new().rate_bps(10_000_000).delay(10 * MS);
    let report = RequestResponse::new(5, 100, 1_000).run(&Setup::new(link), 1).unwrap();
    // Request (100 + 52 bytes of headers) and response (1000 + 52) serialize in 121.6 and
    // 841.6 us, plus 20 ms of propagation.
    let want = Duration::from_nanos(20_000_000 + 121_600 + 841_600);
    assert_eq!(report.latencies, [want; 5]);
    assert_eq!((report.client.retransmits, report.server.retransmits), (0, 0));
}

#[test]
fn two_hundred_connections_complete_under_mild_loss() {
    let scenario = ManyConnections::new(200, 2_000);
    for seed in 0..3 {
        let mut run = ScenarioRun::new(&scenario, &Setup::new(mild()), seed).unwrap();
        run.run().unwrap_or_else(|e| panic!("{e}"));
        let report = scenario.report(&run);
        assert_eq!(report.completed(2_000), 200, "seed {seed}");
        assert!(report.completed_at.is_some(), "seed {seed}");
        for c in report.clients.iter().chain(report.servers.iter().map(|s| &s.summary)) {
            assert_eq!(c.state_at_end, Some(TcpState::Closed), "seed {seed}: {c:?}");
            assert_eq!(c.error, None, "seed {seed}: {c:?}");
        }
        assert!(report.clients.iter().all(|c| c.state_at_done == Some(TcpState::TimeWait)));
        // 200 distinct ephemeral ports were used, and every socket is gone.
        assert_eq!(run.client().stack().socket_count(), 0);
        assert_eq!(run.server().stack().socket_count(), 0);
        assert!(report.link[0].dropped.loss > 0, "seed {seed}: no loss");
    }
}

/// A bulk transfer over the impaired link of the seeds test, both taps in memory.
fn captured(seed: u64) -> (Vec<u8>, Vec<u8>, u64) {
    let link = LinkConfig::new()
        .rate_bps(10_000_000)
        .delay(5 * MS)
        .queue_packets(100)
        .loss(0.05)
        .duplicate(0.05)
        .reorder(0.05, 3 * MS)
        .corrupt(0.05);
    let scenario = BulkTransfer::new(100_000);
    let mut run = ScenarioRun::new(&scenario, &Setup::new(link), seed).unwrap();
    let link = run.link();
    let sent = run.network_mut().tap(link, TapPoint::Sent);
    let delivered = run.network_mut().tap(link, TapPoint::Delivered);
    run.run().unwrap_or_else(|e| panic!("{e}"));
    let net = run.network();
    assert_eq!(net.tap_packets(sent), run.link_stats().iter().map(|s| s.sent).sum::<u64>());
    (net.tap_bytes(sent).unwrap().to_vec(), net.tap_bytes(delivered).unwrap().to_vec(), {
        let report = scenario.report(&run);
        report.client.retransmits + report.server.retransmits
    })
}

#[test]
fn a_seed_replays_to_the_identical_pcap() {
    let (sent, delivered, retransmits) = captured(42);
    assert!(retransmits > 0, "the run recovered from nothing");
    let again = captured(42);
    assert!(sent == again.0, "the Sent capture of seed 42 differs between two runs");
    assert!(delivered == again.1, "the Delivered capture of seed 42 differs between two runs");
    let other = captured(43);
    assert!(sent != other.0 && delivered != other.1, "seeds 42 and 43 gave the same capture");

    // The capture reads back: IPv4 packets between the two hosts, in time order.
    let mut reader = PcapReader::new(&sent[..]).unwrap();
    let mut last = Duration::ZERO;
    let mut packets = 0;
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        assert!(p.timestamp >= last);
        last = p.timestamp;
        let ip = ustack_wire::Ipv4Packet::new_checked(&p.data[..]).unwrap();
        assert!([Setup::CLIENT, Setup::SERVER].contains(&ip.src_addr()));
        packets += 1;
    }
    assert!(packets > 70, "{packets} packets for 100 kB");
}
