//! RFC 5961 §7: challenge ACKs are throttled per connection (`invalid_ratelimit`) and, over
//! the whole host, to about `challenge_ack_limit` a second, drawn at random each second as
//! Linux 5.x+ does (`tcp_send_challenge_ack`).

use ustack_tcp::TcpConfig;
use ustack_wire::TcpFlags;

use super::*;
use crate::Duration;

/// An established connection A → B with B's TCP settings `tcp`; returns the pair and B's
/// socket.
fn established(tcp: TcpConfig) -> (Pair, SocketHandle) {
    let b = stack_with(B, StackConfig { tcp, ..config(2) });
    let mut p = Pair::with(stack(A, 1), b);
    let l = p.b.tcp_listen(sa(B, 80), 8, false).unwrap();
    let (_, s) = p.connect_accept(l, 80);
    (p, s)
}

/// Hands B `n` RSTs inside its window but not at RCV.NXT (each one calls for a challenge
/// ACK, RFC 5961 §3.2) at the current instant; returns how many ACKs B sent back.
fn blind_resets(p: &mut Pair, s: SocketHandle, n: usize) -> usize {
    let t = p.b.tcp_conn(s).tuple();
    let seq = p.b.tcp_conn(s).recv_next().get().wrapping_add(100);
    let rst = tcp_packet(t.remote, t.local, seq, 0, TcpFlags::RST, &[]);
    let now = p.now;
    let mut acks = 0;
    for _ in 0..n {
        p.b.handle_packet(now, 0, &rst);
        acks += drain(&mut p.b, now)
            .iter()
            .filter_map(|pkt| tcp(pkt))
            .filter(|s| s.is(TcpFlags::ACK))
            .count();
    }
    assert_eq!(p.b.tcp_conn(s).state(), ustack_tcp::TcpState::Established);
    acks
}

#[test]
fn s15_challenge_acks_are_limited_host_wide_to_a_random_allowance_per_second() {
    let tcp = TcpConfig {
        challenge_ack_limit: 10,
        invalid_ratelimit: Duration::ZERO,
        ..TcpConfig::LINUX
    };
    let (mut p, s) = established(tcp);
    let mut seen = Vec::new();
    for second in 0..20 {
        p.now = Instant::from_secs(10 + second);
        let before = p.b.counters();
        let acks = blind_resets(&mut p, s, 100);
        // Linux: between half the limit and one and a half times it (5..=14 for 10).
        assert!((5..=14).contains(&acks), "second {second}: {acks} challenge ACKs");
        let after = p.b.counters();
        assert_eq!(after.tcp_challenge_acks - before.tcp_challenge_acks, acks as u64);
        assert_eq!(
            after.tcp_challenge_acks_skipped - before.tcp_challenge_acks_skipped,
            100 - acks as u64
        );
        seen.push(acks);
    }
    // Random per second, not a fixed count an attacker could use up exactly.
    seen.sort_unstable();
    seen.dedup();
    assert!(seen.len() > 3, "allowances {seen:?}");
}

#[test]
fn s15_challenge_acks_by_default_are_limited_only_per_connection() {
    // Linux 6.0+: tcp_challenge_ack_limit = INT_MAX; tcp_invalid_ratelimit (500 ms) still
    // throttles each connection: one challenge ACK per half second.
    let (mut p, s) =
        established(TcpConfig { invalid_ratelimit: Duration::ZERO, ..TcpConfig::LINUX });
    p.now = Instant::from_secs(10);
    assert_eq!(blind_resets(&mut p, s, 100), 100);
    let (mut p, s) = established(TcpConfig::LINUX);
    p.now = Instant::from_secs(10);
    assert_eq!(blind_resets(&mut p, s, 100), 1);
    p.now = Instant::from_millis(10_600);
    assert_eq!(blind_resets(&mut p, s, 100), 1);
}
