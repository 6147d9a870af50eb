//! Loss recovery and throughput on a long fat path, in the simulator with default settings
//! (receive-buffer autotuning, SACK with RACK-TLP and PRR): the link is filled, and a burst of
//! losses is repaired within one round trip.

use pcap_file::pcap::PcapReader;
use ustack_sim::scenario::{BulkTransfer, Scenario, ScenarioRun, Setup};
use ustack_sim::{Duration, Instant, LinkConfig, TapPoint};
use ustack_wire::{Ipv4Packet, TcpPacket};

const MS: Duration = Duration::from_millis(1);

/// 100 Mbit/s, 25 ms each way (RTT 50 ms), the default 1000-packet queue.
fn long_fat() -> LinkConfig {
    LinkConfig::new().rate_bps(100_000_000).delay(25 * MS)
}

#[test]
fn s20_a_long_fat_path_is_filled_with_receive_buffer_autotuning() {
    // The receive buffer starts at 128 KiB (21 Mbit/s at 50 ms) and grows with what the
    // application reads (Linux's dynamic right-sizing). Slow start (CUBIC with HyStart++)
    // may still overflow the 1000-packet queue; then every segment lost is sent again once,
    // as soon as SACKs show it lost (RACK), with no timeout: exactly as many retransmissions
    // as the queue dropped.
    let scenario = BulkTransfer::new(64 << 20);
    let mut run = ScenarioRun::new(&scenario, &Setup::new(long_fat()), 1).unwrap();
    run.run().unwrap_or_else(|e| panic!("{e}"));
    let report = scenario.report(&run);
    assert_eq!(report.delivered, 64 << 20);
    let goodput = report.goodput_bps().unwrap();
    assert!(goodput > 80e6, "goodput {:.1} Mbit/s", goodput / 1e6);
    let drops = run.link_stats()[0].dropped.queue;
    assert_eq!(report.client.retransmits, drops, "one retransmission per loss");
}

/// The retransmissions among `sent`: data segments below the highest sequence number sent
/// before them, with when they left.
fn retransmissions(sent: &[(Instant, u32, usize)]) -> Vec<(Instant, u32)> {
    let mut highest: Option<u32> = None;
    let mut rtx = Vec::new();
    for &(at, seq, len) in sent {
        let end = seq.wrapping_add(len as u32);
        if highest.is_some_and(|h| (seq.wrapping_sub(h) as i32) < 0) {
            rtx.push((at, seq));
        }
        if highest.is_none_or(|h| (end.wrapping_sub(h) as i32) > 0) {
            highest = Some(end);
        }
    }
    rtx
}

/// (time, seq, payload length) of every data segment the client put on the link.
fn client_data(pcap: &[u8]) -> Vec<(Instant, u32, usize)> {
    let mut reader = PcapReader::new(pcap).unwrap();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        let ip = Ipv4Packet::new_checked(&p.data[..]).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        if ip.src_addr() == Setup::CLIENT && !tcp.payload().is_empty() {
            out.push((
                Instant::from_nanos(p.timestamp.as_nanos() as u64),
                tcp.seq_number().0,
                tcp.payload().len(),
            ));
        }
    }
    out
}

#[test]
fn s20_a_burst_of_ten_lost_segments_is_repaired_within_one_round_trip() {
    // 1.2 ms without the link at 100 Mbit/s: about ten 1448-byte segments lost in a row.
    // SACK recovery with RACK marks every hole lost on the first SACKs after it and PRR
    // sends them all again within the round trip; no retransmission timeout.
    let cut = Instant::from_millis(3_000);
    let link = long_fat().partition(cut, cut + Duration::from_micros(1_200));
    let scenario = BulkTransfer::new(64 << 20);
    let mut run = ScenarioRun::new(&scenario, &Setup::new(link), 3).unwrap();
    let l = run.link();
    let tap = run.network_mut().tap(l, TapPoint::Sent);
    run.run().unwrap_or_else(|e| panic!("{e}"));
    let report = scenario.report(&run);
    assert_eq!(report.delivered, 64 << 20);
    let lost = run.link_stats()[0].dropped.partition;
    assert!((8..=12).contains(&lost), "{lost} segments lost to the cut");
    let rtx = retransmissions(&client_data(run.network().tap_bytes(tap).unwrap()));
    // The repairs of the burst (slow start's own overflow of the queue, earlier, is not
    // this test's business).
    let rtx: Vec<_> = rtx.into_iter().filter(|r| r.0 > cut).collect();
    assert_eq!(rtx.len() as u64, lost, "one retransmission per loss: {rtx:?}");
    let first = rtx[0].0;
    let rtt = 50 * MS;
    assert!(first - cut < 2 * rtt, "recovery began late: {rtx:?}");
    let late: Vec<_> = rtx.iter().filter(|r| r.0 - first > rtt).collect();
    assert!(late.is_empty(), "retransmitted more than one RTT after the first: {late:?}");
}
