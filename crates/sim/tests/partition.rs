//! A partition in the middle of a transfer: shorter than `tcp_retries2` allows, the sender
//! backs its RTO off (doubling, RFC 6298 5.5) and the transfer completes after the partition
//! ends; longer, the connection times out (ETIMEDOUT) and the receiver, which is never told
//! (Linux sends no RST on a timeout), is left ESTABLISHED.

use pcap_file::pcap::PcapReader;
use ustack_core::tcp_engine::{ConnError, TcpConfig, TcpState};
use ustack_sim::scenario::{
    BulkTransfer, Failure, Scenario, ScenarioError, ScenarioRun, Setup, Side,
};
use ustack_sim::{Duration, Instant, LinkConfig, TapPoint};
use ustack_wire::{Ipv4Packet, TcpPacket};

const MS: Duration = Duration::from_millis(1);
/// 4 MB at 10 Mbit/s: about 3.4 s without the partition.
const BYTES: u64 = 4_000_000;

fn link(cut_at: Instant, cut_for: Duration) -> LinkConfig {
    LinkConfig::new()
        .rate_bps(10_000_000)
        .delay(10 * MS)
        .queue_packets(100)
        .partition(cut_at, cut_at + cut_for)
}

/// (time, seq, payload length) of every data segment the client sent, as the Sent tap saw
/// them.
fn client_data(pcap: &[u8]) -> Vec<(Instant, u32, usize)> {
    let mut reader = PcapReader::new(pcap).unwrap();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        let ip = Ipv4Packet::new_checked(&p.data[..]).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        if ip.src_addr() == Setup::CLIENT && !tcp.payload().is_empty() {
            let at = Instant::from_nanos(p.timestamp.as_nanos() as u64);
            out.push((at, tcp.seq_number().0, tcp.payload().len()));
        }
    }
    out
}

#[test]
fn a_ten_second_partition_is_ridden_out_with_rto_backoff() {
    let (cut_at, cut_for) = (Instant::from_secs(1), Duration::from_secs(10));
    let heal = cut_at + cut_for;
    let scenario = BulkTransfer::new(BYTES);
    // A window-limited flow (no receive-buffer autotuning) fills neither the 100-packet
    // queue nor the link: the partition is its only loss.
    let tcp = TcpConfig { moderate_rcvbuf: false, ..TcpConfig::LINUX };
    let setup = Setup::new(link(cut_at, cut_for)).tcp(tcp);
    let mut run = ScenarioRun::new(&scenario, &setup, 5).unwrap();
    let l = run.link();
    let tap = run.network_mut().tap(l, TapPoint::Sent);
    run.run().unwrap_or_else(|e| panic!("{e}"));
    let report = scenario.report(&run);
    assert_eq!(report.delivered, BYTES);
    let done = report.completed_at.unwrap();
    assert!(done > heal, "completed at {done}, before the partition ended");
    assert!(run.link_stats()[0].dropped.partition > 0);

    // During the partition the client sends one tail loss probe (RFC 8985 §7.3, 2·SRTT
    // after its last segment: new data when it has some, else the last segment again), then
    // only RTO retransmissions of its oldest unacknowledged segment, each RTO twice the one
    // before.
    let sent = client_data(run.network().tap_bytes(tap).unwrap());
    let last_before = *sent.iter().rev().find(|s| s.0 < cut_at).unwrap();
    let mut retries: Vec<_> = sent.iter().filter(|s| s.0 > last_before.0 && s.0 < heal).collect();
    let probe = retries.remove(0);
    let next = last_before.1.wrapping_add(last_before.2 as u32);
    assert!(
        probe.1 == last_before.1 || probe.1 == next,
        "not a probe: {probe:?} after {last_before:?}"
    );
    assert!(retries.len() >= 5, "{retries:?}");
    assert!(retries.iter().all(|s| s.1 == retries[0].1), "not one segment: {retries:?}");
    let gaps: Vec<Duration> = retries.windows(2).map(|w| w[1].0 - w[0].0).collect();
    for w in gaps.windows(2) {
        assert_eq!(w[1], 2 * w[0], "RTO not doubled: {gaps:?}");
    }
    // The first retransmission after the partition is the next backed-off RTO: no sooner,
    // and the transfer resumes with it.
    let resumed = sent.iter().find(|s| s.0 >= heal).unwrap();
    let last = retries.last().unwrap();
    assert_eq!(resumed.1, last.1, "resumed with another segment");
    assert_eq!(resumed.0 - last.0, 2 * *gaps.last().unwrap());
    assert!(report.client.retransmits >= retries.len() as u64);
    assert_eq!(report.client.state_at_end, Some(TcpState::Closed));
    assert_eq!(report.server.state_at_end, Some(TcpState::Closed));
}

#[test]
fn a_partition_longer_than_retries2_times_the_connection_out() {
    let tcp = TcpConfig::LINUX;
    let (cut_at, cut_for) = (Instant::from_secs(1), Duration::from_secs(2_000));
    let scenario = BulkTransfer::new(BYTES);
    let setup = Setup::new(link(cut_at, cut_for)).tcp(tcp);
    let mut run = ScenarioRun::new(&scenario, &setup, 5).unwrap();
    let err = run.run().unwrap_err();
    let ScenarioError::Failed {
        seed: 5,
        failure: Failure::Conn { side: Side::Client, conn: 0, error: ConnError::TimedOut, at },
    } = err
    else {
        panic!("not a client timeout: {err}");
    };
    assert!(err.to_string().contains("seed 5"), "{err}");
    assert!(err.to_string().contains("connection timed out"), "{err}");
    // Linux's tcp_retransmits_timed_out: given up at the first RTO that finds more than
    // retries2_timeout (924.6 s) gone since the first retransmission; the RTO is at most
    // rto_max then.
    let limit = tcp.retries2_timeout();
    assert_eq!(limit, Duration::from_millis(924_600));
    assert!(at > cut_at + limit, "timed out at {at}");
    assert!(at <= cut_at + limit + tcp.rto_max + Duration::from_secs(1), "timed out at {at}");

    let report = scenario.report(&run);
    assert_eq!(report.client.error, Some(ConnError::TimedOut));
    assert_eq!(report.client.state_at_end, Some(TcpState::Closed));
    assert_eq!(report.server.state_at_end, Some(TcpState::Established));
    assert!(report.delivered > 0 && report.delivered < BYTES, "{}", report.delivered);
    assert!(report.client.retransmits >= u64::from(tcp.retries2) - 1);
}
