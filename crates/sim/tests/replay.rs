//! Replay: the same seed gives the same run, arrivals and pcap bytes; another seed, another
//! run; a link added later leaves the others' draws alone. And what the taps record.

mod fixtures;

use fixtures::{Arrival, Node};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use ustack_sim::{
    Direction, Duration, GilbertElliott, Instant, LinkConfig, LinkStats, Network, TapPoint,
    TimedBursts,
};

const MS: Duration = Duration::from_millis(1);

fn impaired() -> LinkConfig {
    LinkConfig::new()
        .rate_bps(2_000_000)
        .delay(5 * MS)
        .queue_packets(8)
        .loss(0.05)
        .burst_loss(GilbertElliott::new(0.01, 0.3))
        .timed_burst_loss(TimedBursts::from_mean_loss(0.05, 20 * MS))
        .duplicate(0.05)
        .reorder(0.05, 3 * MS)
        .corrupt(0.05)
        .partition(Instant::from_millis(300), Instant::from_millis(350))
}

#[derive(Debug, PartialEq)]
struct Outcome {
    arrivals: Vec<(usize, Arrival)>,
    delivered_pcap: Vec<u8>,
    sent_pcap: Vec<u8>,
    stats: Vec<LinkStats>,
}

/// Three hosts in a line, A - B - C, every one sending, over impaired links.
fn scenario(seed: u64) -> Outcome {
    let mut net = Network::new(seed);
    let every = |first, iface| {
        Node::new()
            .send_every(Instant::ZERO, Duration::from_micros(900), first, 500, 200)
            .send_every(
                Instant::from_micros(450),
                Duration::from_micros(1_300),
                first + 1_000,
                300,
                600,
            )
            .send_on(Instant::from_millis(1), iface, first + 2_000, 100)
    };
    let a = net.add_host(every(0, 0));
    let b = net.add_host(every(10_000, 1));
    let c = net.add_host(every(20_000, 0));
    let ab = net.connect(a.iface(0), b.iface(0), impaired()).unwrap();
    let bc = net.connect(b.iface(1), c.iface(0), impaired().delay(2 * MS)).unwrap();
    let delivered = net.tap(ab, TapPoint::Delivered);
    let sent = net.tap(bc, TapPoint::Sent);
    net.run_until(Instant::from_secs(10)).unwrap();

    let mut arrivals = Vec::new();
    arrivals.extend(net.host(a).arrivals.iter().map(|x| (0, x.clone())));
    arrivals.extend(net.host(b).arrivals.iter().map(|x| (1, x.clone())));
    arrivals.extend(net.host(c).arrivals.iter().map(|x| (2, x.clone())));
    let stats =
        [ab, bc].into_iter().flat_map(|l| Direction::BOTH.map(|d| *net.link_stats(l, d))).collect();
    Outcome {
        arrivals,
        delivered_pcap: net.tap_bytes(delivered).unwrap().to_vec(),
        sent_pcap: net.tap_bytes(sent).unwrap().to_vec(),
        stats,
    }
}

#[test]
fn same_seed_replays_arrivals_and_pcap_bytes() {
    let first = scenario(7);
    // Every impairment happened, so the comparison means something.
    let total = first.stats.iter().fold(LinkStats::default(), |mut t, s| {
        t.dropped.queue += s.dropped.queue;
        t.dropped.loss += s.dropped.loss;
        t.dropped.burst_loss += s.dropped.burst_loss;
        t.dropped.timed_burst_loss += s.dropped.timed_burst_loss;
        t.dropped.partition += s.dropped.partition;
        t.duplicated += s.duplicated;
        t.reordered += s.reordered;
        t.corrupted += s.corrupted;
        t
    });
    for (what, n) in [
        ("queue", total.dropped.queue),
        ("loss", total.dropped.loss),
        ("burst loss", total.dropped.burst_loss),
        ("timed burst loss", total.dropped.timed_burst_loss),
        ("partition", total.dropped.partition),
        ("duplicated", total.duplicated),
        ("reordered", total.reordered),
        ("corrupted", total.corrupted),
    ] {
        assert!(n > 0, "no {what} in the scenario: {total:?}");
    }
    assert_eq!(first, scenario(7));
    let other = scenario(8);
    assert_ne!(first.arrivals, other.arrivals);
    assert_ne!(first.delivered_pcap, other.delivered_pcap);
}

/// Host 0 sends 2,000 packets to host 1 over a lossy link 0; optionally a second pair on a
/// second, busier link connected after it.
fn lossy_pair(seed: u64, second_pair: bool) -> Vec<u64> {
    let mut net = Network::new(seed);
    let tx = net.add_host(Node::new().send_every(Instant::ZERO, MS, 0, 2_000, 100));
    let rx = net.add_host(Node::new());
    let cfg = LinkConfig::new().loss(0.2).corrupt(0.1).duplicate(0.1);
    net.connect(tx.iface(0), rx.iface(0), cfg.clone()).unwrap();
    if second_pair {
        let c = net.add_host(Node::new().send_every(Instant::ZERO, MS / 3, 0, 6_000, 100));
        let d = net.add_host(Node::new().send_every(Instant::ZERO, MS / 2, 0, 4_000, 100));
        net.connect(c.iface(0), d.iface(0), cfg.burst_loss(GilbertElliott::new(0.1, 0.1))).unwrap();
    }
    net.run_until(Instant::from_secs(10)).unwrap();
    net.host(rx).ids()
}

#[test]
fn adding_a_link_leaves_the_others_draws_alone() {
    assert_eq!(lossy_pair(11, false), lossy_pair(11, true));
}

#[test]
fn taps_record_virtual_time_at_their_point() {
    let mut net = Network::new(3);
    let a = net.add_host(Node::new().send_every(Instant::ZERO, MS, 0, 200, 80));
    let b = net.add_host(Node::new().send_every(Instant::from_micros(500), MS, 1_000, 100, 120));
    let link = net
        .connect(a.iface(0), b.iface(0), LinkConfig::new().delay(4 * MS).loss(0.2).duplicate(0.1))
        .unwrap();
    let delivered = net.tap(link, TapPoint::Delivered);
    let sent = net.tap(link, TapPoint::Sent);
    let path = std::env::temp_dir().join(format!("ustack-sim-tap-{}.pcap", std::process::id()));
    let file = net.tap_file(link, TapPoint::Delivered, &path).unwrap();
    net.run_until(Instant::from_secs(1)).unwrap();
    net.flush_taps().unwrap();

    // Delivered: both directions' arrivals, in time order, as the hosts got them.
    let mut want: Vec<&Arrival> =
        net.host(a).arrivals.iter().chain(&net.host(b).arrivals).collect();
    want.sort_by_key(|x| x.at);
    let mut reader = PcapReader::new(net.tap_bytes(delivered).unwrap()).unwrap();
    assert_eq!(reader.header().datalink, DataLink::RAW);
    let mut got = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        got.push((Instant::from_nanos(p.timestamp.as_nanos() as u64), p.data.into_owned()));
    }
    let want: Vec<(Instant, Vec<u8>)> = want.iter().map(|x| (x.at, x.data.clone())).collect();
    assert_eq!(got, want);
    assert_eq!(net.tap_packets(file), want.len() as u64);
    assert_eq!(std::fs::read(&path).unwrap(), net.tap_bytes(delivered).unwrap());
    std::fs::remove_file(&path).unwrap();

    // Sent: everything the hosts sent, lost packets included.
    let s = Direction::BOTH.map(|d| *net.link_stats(link, d));
    assert_eq!(net.tap_packets(sent), s[0].sent + s[1].sent);
    assert_eq!(s[0].sent + s[1].sent, 300);
    assert!(s[0].dropped.loss + s[1].dropped.loss > 0);
    assert_eq!(net.tap_packets(delivered), s[0].delivered + s[1].delivered);
}
