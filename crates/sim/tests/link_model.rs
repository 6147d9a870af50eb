//! The link model, one behaviour per test: rate and delay in exact virtual time, the drop-tail
//! queue, and each impairment, counted; the model on its own (`LinkModel`) against a network's
//! link. The bursty-loss models: burst_loss.rs.

mod fixtures;

use fixtures::{Node, packet};
use ustack_sim::{
    Bounds, Direction, Duration, HostId, Instant, LinkConfig, LinkConfigError, LinkId, LinkModel,
    LinkStats, Network,
};

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

/// A network of `tx` -> `rx` over one link, run until nothing is left to happen.
fn run_pair(seed: u64, tx: Node, cfg: LinkConfig) -> (Network, HostId<Node>, LinkId) {
    let mut net = Network::new(seed);
    let a = net.add_host(tx);
    let b = net.add_host(Node::new());
    let link = net.connect(a.iface(0), b.iface(0), cfg).unwrap();
    net.run_until(Instant::from_secs(3_600)).unwrap();
    (net, b, link)
}

fn stats(net: &Network, link: LinkId) -> LinkStats {
    let s = *net.link_stats(link, Direction::AToB);
    assert_eq!(s.sent + s.duplicated, s.dropped.total() + s.delivered + s.in_flight, "{s:?}");
    assert_eq!(s.in_flight, 0, "{s:?}");
    s
}

#[test]
fn serialization_and_propagation_delay_are_exact() {
    // 8 Mbit/s: 1 byte per microsecond. A burst of three waits in line; a later packet finds
    // the wire idle.
    let tx = Node::new()
        .send_at(Instant::ZERO, 0, 1000)
        .send_at(Instant::ZERO, 1, 1000)
        .send_at(Instant::ZERO, 2, 1000)
        .send_at(Instant::from_micros(1_500), 3, 100)
        .send_at(Instant::from_millis(100), 4, 500);
    let cfg = LinkConfig::new().rate_bps(8_000_000).delay(10 * MS).unlimited_queue();
    let (net, rx, link) = run_pair(1, tx, cfg);
    let t = |us| Instant::from_micros(us);
    assert_eq!(net.host(rx).ids(), [0, 1, 2, 3, 4]);
    assert_eq!(net.host(rx).times(), [t(11_000), t(12_000), t(13_000), t(13_100), t(110_500)]);
    let s = stats(&net, link);
    assert_eq!((s.sent, s.delivered, s.sent_bytes, s.delivered_bytes), (5, 5, 3600, 3600));
}

#[test]
fn unlimited_rate_adds_only_the_delay() {
    let tx = Node::new().send_every(Instant::ZERO, US, 0, 100, 1500);
    let (net, rx, _) = run_pair(1, tx, LinkConfig::new().delay(3 * MS).queue_packets(1));
    let expected: Vec<Instant> = (0..100).map(|i| Instant::from_micros(i) + 3 * MS).collect();
    assert_eq!(net.host(rx).times(), expected);
}

#[test]
fn queue_limit_drops_exactly_the_overflow() {
    // 1 ms per packet. Ten at once into a queue of four: four pass. At 1.5 ms the first has
    // left, three remain: of three more, one fits.
    let tx = Node::new().send_every(Instant::ZERO, Duration::ZERO, 0, 10, 1000).send_every(
        Instant::from_micros(1_500),
        Duration::ZERO,
        10,
        3,
        1000,
    );
    let cfg = LinkConfig::new().rate_bps(8_000_000).queue_packets(4);
    let (net, rx, link) = run_pair(1, tx, cfg);
    assert_eq!(net.host(rx).ids(), [0, 1, 2, 3, 10]);
    assert_eq!(net.host(rx).times().last(), Some(&Instant::from_millis(5)));
    assert_eq!(stats(&net, link).dropped.queue, 8);

    // The same in bytes: 3000 bytes hold three 1000-byte packets.
    let tx = Node::new().send_every(Instant::ZERO, Duration::ZERO, 0, 5, 1000);
    let cfg = LinkConfig::new().rate_bps(8_000_000).mtu(1000).queue_bytes(3000);
    let (net, rx, link) = run_pair(1, tx, cfg);
    assert_eq!(net.host(rx).ids(), [0, 1, 2]);
    assert_eq!(stats(&net, link).dropped.queue, 2);
}

#[test]
fn mtu_drops_oversized_packets() {
    let tx = Node::new().send_at(Instant::ZERO, 0, 101).send_at(Instant::ZERO, 1, 100);
    let (net, rx, link) = run_pair(1, tx, LinkConfig::new().mtu(100));
    assert_eq!(net.host(rx).ids(), [1]);
    assert_eq!(stats(&net, link).dropped.mtu, 1);
}

/// `n` (mean) and the bound of four standard deviations of a binomial count.
fn binomial(trials: u64, p: f64) -> (f64, f64) {
    let n = trials as f64;
    (n * p, 4.0 * (n * p * (1.0 - p)).sqrt())
}

#[test]
fn loss_rate_is_within_statistical_bounds() {
    const N: u64 = 20_000;
    for seed in [1, 2, 3] {
        let tx = Node::new().send_every(Instant::ZERO, US, 0, N, 20);
        let (net, rx, link) = run_pair(seed, tx, LinkConfig::new().loss(0.1));
        let s = stats(&net, link);
        let (mean, bound) = binomial(N, 0.1);
        assert!((s.dropped.loss as f64 - mean).abs() < bound, "seed {seed}: {s:?}");
        assert_eq!(net.host(rx).arrivals.len() as u64, N - s.dropped.loss);
        assert_eq!(s.dropped.total(), s.dropped.loss);
    }
}

#[test]
fn duplication_delivers_some_packets_twice_in_a_row() {
    const N: u64 = 5_000;
    let tx = Node::new().send_every(Instant::ZERO, 10 * US, 0, N, 40);
    let (net, rx, link) = run_pair(2, tx, LinkConfig::new().duplicate(0.2).delay(MS));
    let s = stats(&net, link);
    let ids = net.host(rx).ids();
    assert_eq!(ids.len() as u64, N + s.duplicated);
    let (mean, bound) = binomial(N, 0.2);
    assert!((s.duplicated as f64 - mean).abs() < bound, "{s:?}");
    let mut deduped = ids.clone();
    deduped.dedup();
    assert_eq!(deduped, (0..N).collect::<Vec<_>>(), "copies arrive right behind the original");
    assert!(net.host(rx).arrivals.windows(2).all(|w| w[0].id() != w[1].id() || w[0] == w[1]));
}

#[test]
fn reordering_lets_later_packets_overtake() {
    const N: u64 = 1_000;
    let tx = Node::new().send_every(Instant::ZERO, MS, 0, N, 40);
    let cfg = LinkConfig::new().delay(10 * MS).reorder(0.1, Duration::from_micros(2_500));
    let (net, rx, link) = run_pair(3, tx, cfg);
    let s = stats(&net, link);
    let ids = net.host(rx).ids();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..N).collect::<Vec<_>>(), "every packet delivered once");
    // Held back by 2.5 ms behind packets 1 ms apart: each held packet arrives after the next
    // two (unless they were held too).
    let late = ids.windows(2).filter(|w| w[0] > w[1]).count() as u64;
    assert!(late > 0 && late <= s.reordered, "late {late}, {s:?}");
    let (mean, bound) = binomial(N, 0.1);
    assert!((s.reordered as f64 - mean).abs() < bound, "{s:?}");
    for a in &net.host(rx).arrivals {
        let sent = Instant::from_millis(a.id());
        let delay = a.at - sent;
        assert!(delay == 10 * MS || delay == 10 * MS + Duration::from_micros(2_500), "{a:?}");
    }
}

#[test]
fn corruption_flips_exactly_one_bit() {
    const N: u64 = 2_000;
    let tx = Node::new().send_every(Instant::ZERO, US, 0, N, 100);
    let (net, rx, link) = run_pair(4, tx, LinkConfig::new().corrupt(0.3));
    let s = stats(&net, link);
    let mut flipped = 0;
    for (i, a) in net.host(rx).arrivals.iter().enumerate() {
        let sent = packet(i as u64, 100);
        let bits: u32 = sent.iter().zip(&a.data).map(|(x, y)| (x ^ y).count_ones()).sum();
        assert!(bits <= 1, "packet {i}: {bits} bits differ");
        flipped += u64::from(bits);
    }
    assert_eq!(flipped, s.corrupted);
    let (mean, bound) = binomial(N, 0.3);
    assert!((s.corrupted as f64 - mean).abs() < bound, "{s:?}");
    assert_eq!(s.delivered, N);
}

#[test]
fn partition_drops_only_in_its_interval() {
    // Packet i at i * 10 ms; cut [100 ms, 200 ms).
    let cut = |cfg: LinkConfig| cfg.partition(Instant::from_millis(100), Instant::from_millis(200));
    let tx = || Node::new().send_every(Instant::ZERO, 10 * MS, 0, 30, 40);

    let (net, rx, link) = run_pair(1, tx(), cut(LinkConfig::new()));
    let expected: Vec<u64> = (0..10).chain(20..30).collect();
    assert_eq!(net.host(rx).ids(), expected);
    assert_eq!(stats(&net, link).dropped.partition, 10);

    // With 25 ms of delay, packets sent at 80 and 90 ms would arrive in the cut: lost too.
    let (net, rx, link) = run_pair(1, tx(), cut(LinkConfig::new().delay(25 * MS)));
    let expected: Vec<u64> = (0..8).chain(20..30).collect();
    assert_eq!(net.host(rx).ids(), expected);
    assert_eq!(stats(&net, link).dropped.partition, 12);
    assert!(
        net.host(rx)
            .times()
            .iter()
            .all(|t| *t < Instant::from_millis(100) || *t >= Instant::from_millis(200))
    );
}

#[test]
fn directions_are_independent() {
    let mut net = Network::new(1);
    let a = net.add_host(Node::new().send_at(Instant::ZERO, 1, 100));
    let b = net.add_host(Node::new().send_at(Instant::ZERO, 2, 100));
    let fast = LinkConfig::new().delay(MS);
    let slow = LinkConfig::new().delay(7 * MS).rate_bps(800_000);
    let link = net.connect_asymmetric(a.iface(0), b.iface(0), fast, slow).unwrap();
    net.run_while(Bounds::time(Duration::from_secs(1)), |net| net.host(a).arrivals.is_empty())
        .unwrap();
    assert_eq!(net.host(b).times(), [Instant::from_millis(1)]);
    assert_eq!(net.host(a).times(), [Instant::from_millis(8)]);
    assert_eq!(net.link_stats(link, Direction::AToB).delivered, 1);
    assert_eq!(net.link_stats(link, Direction::BToA).delivered, 1);
    assert_eq!(net.link_config(link, Direction::BToA).rate_bps, Some(800_000));
}

#[test]
fn jitter_spreads_the_delay_uniformly_around_it() {
    // Packets 10 ms apart, 10 ms of delay, 4 ms of jitter: each arrives 6 to 14 ms after it was
    // sent (the gap is wider than the jitter can close, so order never binds), with the mean
    // and the variance of a uniform draw, (2j)^2 / 12, within four standard errors.
    const N: u64 = 20_000;
    let tx = Node::new().send_every(Instant::ZERO, 10 * MS, 0, N, 40);
    let (net, rx, link) = run_pair(5, tx, LinkConfig::new().delay(10 * MS).jitter(4 * MS));
    assert_eq!(stats(&net, link).delivered, N);
    let delays: Vec<f64> = net
        .host(rx)
        .arrivals
        .iter()
        .map(|a| (a.at - Instant::from_millis(10 * a.id())).as_secs_f64() * 1e3)
        .collect();
    assert!(delays.iter().all(|d| (6.0..=14.0).contains(d)), "a delay outside 10 +- 4 ms");
    let n = N as f64;
    let mean = delays.iter().sum::<f64>() / n;
    let var = delays.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n;
    // Uniform on [6, 14]: variance 64 / 12, fourth central moment 8^4 / 80.
    let (v, m4) = (64.0 / 12.0, 8f64.powi(4) / 80.0);
    assert!((mean - 10.0).abs() < 4.0 * (v / n).sqrt(), "mean delay {mean} ms");
    assert!((var - v).abs() < 4.0 * ((m4 - v * v) / n).sqrt(), "variance {var} ms^2");
    assert!(delays.iter().any(|d| *d < 6.2) && delays.iter().any(|d| *d > 13.8), "full range");
}

#[test]
fn jitter_never_reorders() {
    // 10 us apart with 2 ms of jitter: without the order kept, most packets would overtake
    // their neighbours.
    const N: u64 = 5_000;
    let tx = Node::new().send_every(Instant::ZERO, 10 * US, 0, N, 40);
    let (net, rx, _) = run_pair(6, tx, LinkConfig::new().delay(5 * MS).jitter(2 * MS));
    assert_eq!(net.host(rx).ids(), (0..N).collect::<Vec<_>>());
    let times = net.host(rx).times();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times.windows(2).any(|w| w[1] - w[0] > 100 * US), "the delay does vary");
}

#[test]
fn jitter_leaves_the_other_impairments_draws_alone() {
    // Jitter draws from a stream of its own: the same packets are lost, duplicated and
    // corrupted with it as without it.
    let cfg = LinkConfig::new().delay(MS).loss(0.1).duplicate(0.1).corrupt(0.1);
    let tx = || Node::new().send_every(Instant::ZERO, 5 * MS, 0, 2_000, 40);
    let (plain, rx_plain, _) = run_pair(7, tx(), cfg.clone());
    let (jittered, rx_jit, _) = run_pair(7, tx(), cfg.jitter(2 * MS));
    let data = |net: &Network, rx: HostId<Node>| -> Vec<Vec<u8>> {
        net.host(rx).arrivals.iter().map(|a| a.data.clone()).collect()
    };
    assert_eq!(data(&plain, rx_plain), data(&jittered, rx_jit));
    assert_ne!(plain.host(rx_plain).times(), jittered.host(rx_jit).times());
}

#[test]
fn a_link_model_on_its_own_draws_as_the_networks_first_link() {
    // The same packets at the same times through a LinkModel and through link 0 of a
    // Network of the same seed: the same copies, at the same times, and the same counts.
    let cfg = LinkConfig::new()
        .rate_bps(10_000_000)
        .delay(3 * MS)
        .jitter(MS)
        .queue_packets(20)
        .loss(0.05)
        .duplicate(0.05)
        .reorder(0.05, 2 * MS)
        .corrupt(0.05);
    const N: u64 = 3_000;
    // Bursts of 30 packets every 20 ms: the queue of 20 overflows in each.
    let tx = (0..N / 30).fold(Node::new(), |node, burst| {
        node.send_every(Instant::from_millis(20 * burst), Duration::ZERO, burst * 30, 30, 1000)
    });
    let (net, rx, link) = run_pair(9, tx, cfg.clone());

    let mut model = LinkModel::new(cfg, 9, Direction::AToB).unwrap();
    let mut copies = Vec::new();
    for id in 0..N {
        let sent = Instant::from_millis(20 * (id / 30));
        copies.extend(model.offer(sent, &packet(id, 1000)).into_iter().flatten());
    }
    // The network runs arrivals due at one instant in the order they were scheduled.
    copies.sort_by_key(|c| c.at);
    for c in &copies {
        assert!(model.arrive(c.at, c.packet.len()));
    }
    let expected: Vec<(Instant, Vec<u8>)> = copies.into_iter().map(|c| (c.at, c.packet)).collect();
    let got: Vec<(Instant, Vec<u8>)> =
        net.host(rx).arrivals.iter().map(|a| (a.at, a.data.clone())).collect();
    assert_eq!(got, expected);
    let s = stats(&net, link);
    assert_eq!(*model.stats(), s);
    assert!(s.dropped.queue > 0 && s.dropped.loss > 0 && s.duplicated > 0 && s.reordered > 0);
}

#[test]
fn a_link_model_refuses_a_bad_config() {
    let err = LinkModel::new(LinkConfig::new().loss(2.0), 1, Direction::AToB).unwrap_err();
    assert_eq!(err, LinkConfigError::Probability { what: "loss", value: 2.0 });
}
