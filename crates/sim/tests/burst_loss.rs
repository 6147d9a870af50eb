//! The two bursty-loss models against their closed forms, and the difference between them.
//!
//! Both are two-state (Good, Bad) Markov chains that lose every packet in Bad and none in
//! Good here:
//!
//! - per packet ([`GilbertElliott`]): one step per packet, Good to Bad with probability `p`,
//!   Bad to Good with `r`. Stationary loss `p / (p + r)`; a burst lasts a geometric number of
//!   packets of mean `1 / r`; the chain's second eigenvalue is `1 - p - r`.
//! - in time ([`TimedBursts`]): good and bad periods of exponential length, means `Tg` and
//!   `Tb`. Bad `Tb / (Tg + Tb)` of the time (`pi_b`); a bad period lasts `Tb` on average.
//!   Sampled every `g`, it is a per-packet chain with second eigenvalue
//!   `rho = exp(-g (1/Tg + 1/Tb))`, `r = pi_g (1 - rho)` and `p = pi_b (1 - rho)`, so packets
//!   `g` apart see loss runs of mean `g / r` in time: `Tb` as `g` goes to 0, and about one
//!   packet when `g` is long against `Tg + Tb`.
//!
//! Every statistical bound is four standard errors of the quantity measured, computed from the
//! closed form: for the mean of `n` steps of a stationary two-state chain with second
//! eigenvalue `rho`, `sqrt(pi (1 - pi) (1 + rho) / (1 - rho) / n)`; for the mean of `b`
//! geometric run lengths of exit probability `r`, `sqrt(1 - r) / r / sqrt(b)`.

mod fixtures;

use fixtures::Node;
use ustack_sim::{
    Direction, Duration, GilbertElliott, Instant, LinkConfig, LinkStats, Network, TimedBursts,
};

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

/// `count` packets, one every `gap` from time zero, over one link with `cfg`: the ids of the
/// packets lost, in order, and the link's counts.
fn lost_ids(seed: u64, gap: Duration, count: u64, cfg: LinkConfig) -> (Vec<u64>, LinkStats) {
    let mut net = Network::new(seed);
    let a = net.add_host(Node::new().send_every(Instant::ZERO, gap, 0, count, 20));
    let b = net.add_host(Node::new());
    let link = net.connect(a.iface(0), b.iface(0), cfg).unwrap();
    net.run_until(Instant::ZERO + gap * u32::try_from(count).unwrap() + MS).unwrap();
    let s = *net.link_stats(link, Direction::AToB);
    assert_eq!(s.in_flight, 0, "{s:?}");
    let mut delivered = net.host(b).ids().into_iter().peekable();
    let lost: Vec<u64> = (0..count)
        .filter(|id| {
            if delivered.peek() == Some(id) {
                delivered.next();
                false
            } else {
                true
            }
        })
        .collect();
    assert_eq!(lost.len() as u64, s.dropped.total(), "{s:?}");
    (lost, s)
}

/// The lengths, in packets, of the runs of consecutive ids in `lost` (sorted).
fn runs(lost: &[u64]) -> Vec<u64> {
    let mut runs: Vec<u64> = Vec::new();
    for (i, id) in lost.iter().enumerate() {
        if i > 0 && lost[i - 1] + 1 == *id {
            *runs.last_mut().unwrap() += 1;
        } else {
            runs.push(1);
        }
    }
    runs
}

fn mean(xs: &[u64]) -> f64 {
    xs.iter().sum::<u64>() as f64 / xs.len() as f64
}

/// Standard error of the share of `n` steps a stationary two-state chain spends in a state it
/// holds `pi` of the time, its second eigenvalue `rho`.
fn chain_mean_se(pi: f64, rho: f64, n: u64) -> f64 {
    (pi * (1.0 - pi) * (1.0 + rho) / (1.0 - rho) / n as f64).sqrt()
}

/// Standard error of the mean of `b` geometric run lengths with exit probability `r`.
fn geometric_mean_se(r: f64, b: usize) -> f64 {
    (1.0 - r).sqrt() / r / (b as f64).sqrt()
}

fn assert_within(what: &str, measured: f64, expected: f64, se: f64) {
    assert!(
        (measured - expected).abs() < 4.0 * se,
        "{what}: measured {measured}, closed form {expected}, 4 standard errors {}",
        4.0 * se
    );
}

#[test]
fn per_packet_bursts_lose_p_over_p_plus_r_in_bursts_of_one_over_r_packets() {
    const N: u64 = 400_000;
    let (p, r) = (0.02, 0.25);
    let cfg = LinkConfig::new().burst_loss(GilbertElliott::new(p, r));
    let (lost, s) = lost_ids(5, US, N, cfg);
    assert_eq!(s.dropped.burst_loss, lost.len() as u64);

    let stationary = p / (p + r);
    let loss = lost.len() as f64 / N as f64;
    assert_within("loss rate", loss, stationary, chain_mean_se(stationary, 1.0 - p - r, N));
    let bursts = runs(&lost);
    assert_within(
        "mean burst, packets",
        mean(&bursts),
        1.0 / r,
        geometric_mean_se(r, bursts.len()),
    );

    // Random loss at the same rate loses mostly single packets: runs of mean 1 / (1 - loss).
    let (lost, _) = lost_ids(5, US, N, LinkConfig::new().loss(stationary));
    let bursts = runs(&lost);
    let exit = 1.0 - stationary;
    assert_within(
        "random loss run",
        mean(&bursts),
        1.0 / exit,
        geometric_mean_se(exit, bursts.len()),
    );
}

#[test]
fn timed_bursts_lose_the_bad_share_of_time_in_bad_periods_of_mean_tb() {
    // Tg = Tb = 10 ms, a packet every 200 us (Tb / 50), 4,000 cycles of 20 ms.
    const N: u64 = 400_000;
    let (tg, tb, g) = (10 * MS, 10 * MS, 200 * US);
    let cfg = LinkConfig::new().timed_burst_loss(TimedBursts::new(tg, tb));
    let (lost, s) = lost_ids(6, g, N, cfg);
    assert_eq!(s.dropped.timed_burst_loss, lost.len() as u64);

    let secs = |d: Duration| d.as_secs_f64();
    let pi_b = secs(tb) / (secs(tg) + secs(tb));
    let rho = (-secs(g) * (1.0 / secs(tg) + 1.0 / secs(tb))).exp();
    let r = (1.0 - pi_b) * (1.0 - rho);
    let loss = lost.len() as f64 / N as f64;
    assert_within("loss rate", loss, pi_b, chain_mean_se(pi_b, rho, N));

    // In time: g / r = 10.2 ms here, Tb in the limit of packets ever closer together.
    let bursts = runs(&lost);
    let measured = mean(&bursts) * secs(g);
    let se = geometric_mean_se(r, bursts.len()) * secs(g);
    assert_within("mean burst, seconds", measured, secs(g) / r, se);
    assert!((secs(g) / r - secs(tb)).abs() < 0.03 * secs(tb));
}

/// Which of the packets sent every `gap` for 200 s are lost, at the times they were sent.
fn lost_times(seed: u64, gap: Duration, cfg: LinkConfig) -> Vec<Instant> {
    let count = 200_000_000 / gap.as_micros() as u64;
    let (lost, _) = lost_ids(seed, gap, count, cfg);
    lost.into_iter().map(|id| Instant::ZERO + gap * u32::try_from(id).unwrap()).collect()
}

#[test]
fn timed_bad_periods_are_the_same_whatever_is_sent() {
    // The same seed and link, a packet every millisecond or one every second: the slow flow
    // loses exactly the packets the fast one lost at the same instants.
    let fading = LinkConfig::new().timed_burst_loss(TimedBursts::from_mean_loss(0.1, 100 * MS));
    let fast = lost_times(9, MS, fading.clone());
    let slow = lost_times(9, 1_000 * MS, fading);
    assert!(slow.len() >= 5, "too few losses to compare: {slow:?}");
    let fast_at_whole_seconds: Vec<Instant> =
        fast.into_iter().filter(|t| (*t - Instant::ZERO).subsec_nanos() == 0).collect();
    assert_eq!(slow, fast_at_whole_seconds);

    // Per packet, the chain steps with each packet: the slow flow's bursts are not the fast
    // flow's.
    let chain = LinkConfig::new().burst_loss(GilbertElliott::from_mean_loss(0.1, 100.0));
    let fast = lost_times(9, MS, chain.clone());
    let slow = lost_times(9, 1_000 * MS, chain);
    let fast_at_whole_seconds: Vec<Instant> =
        fast.into_iter().filter(|t| (*t - Instant::ZERO).subsec_nanos() == 0).collect();
    assert_ne!(slow, fast_at_whole_seconds);
}

/// The share of the packets right after a lost one that are lost too, and how many such
/// packets there were.
fn lost_after_lost(lost: &[u64]) -> (f64, u64) {
    let mut set = std::collections::BTreeSet::new();
    set.extend(lost.iter().copied());
    let after = lost.iter().filter(|id| set.contains(&(**id + 1))).count();
    (after as f64 / lost.len() as f64, lost.len() as u64)
}

#[test]
fn a_backed_off_flow_leaves_a_timed_burst_after_its_mean_length_but_not_a_per_packet_one() {
    // Both models lose 7% in bursts of 50 ms for a flow of a packet per millisecond: 50
    // packets per packet, 50 ms bad periods in time.
    let per_packet = LinkConfig::new().burst_loss(GilbertElliott::from_mean_loss(0.07, 50.0));
    let in_time = LinkConfig::new().timed_burst_loss(TimedBursts::from_mean_loss(0.07, 50 * MS));
    let (tb, tg) = (0.050, 0.050 * 0.93 / 0.07);
    let r = 1.0 / 50.0;
    // The chance that the packet after a lost one, `gap` later, is lost too: `1 - r` per
    // packet whatever the gap; in time, the chance of being Bad `gap` after being Bad.
    let timed = |gap: f64| 0.07 + 0.93 * (-gap * (1.0 / tg + 1.0 / tb)).exp();

    // A busy flow, a packet every millisecond, 400 s: alike, 98% in both.
    let (lost, _) = lost_ids(4, MS, 400_000, per_packet.clone());
    let (share, n) = lost_after_lost(&lost);
    assert_within("busy, per packet", share, 1.0 - r, ((1.0 - r) * r / n as f64).sqrt());
    let (lost, _) = lost_ids(4, MS, 400_000, in_time.clone());
    let (share, n) = lost_after_lost(&lost);
    let want = timed(0.001);
    assert!((want - (1.0 - r)).abs() < 0.001);
    assert_within("busy, in time", share, want, (want * (1.0 - want) / n as f64).sqrt());

    // A flow backed off to a packet a second (an RTO of 1 s), 100,000 s. Per packet it is
    // still 98%: a burst is 50 packets, 50 seconds. In time, the fade is long over by the
    // next packet, which is lost only if it falls in another: 7%.
    let (lost, _) = lost_ids(4, 1_000 * MS, 100_000, per_packet);
    let (share, n) = lost_after_lost(&lost);
    assert_within("backed off, per packet", share, 1.0 - r, ((1.0 - r) * r / n as f64).sqrt());
    assert!(mean(&runs(&lost)) > 25.0, "per packet bursts of {} packets", mean(&runs(&lost)));
    let (lost, _) = lost_ids(4, 1_000 * MS, 100_000, in_time);
    let (share, n) = lost_after_lost(&lost);
    let want = timed(1.0);
    assert_within("backed off, in time", share, want, (want * (1.0 - want) / n as f64).sqrt());
    assert!(mean(&runs(&lost)) < 1.2, "timed bursts of {} packets", mean(&runs(&lost)));
}
