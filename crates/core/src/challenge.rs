//! The host-wide budget of challenge ACKs (RFC 5961 §7; Linux `tcp_send_challenge_ack`).
//!
//! Each connection throttles its own answers to invalid segments (`invalid_ratelimit`); on top
//! of that, the host sends at most about `challenge_ack_limit` challenge ACKs per second over
//! all its connections. As in Linux 5.x and later, the allowance of each second is drawn at
//! random between half the limit and one and a half times it (mean: the limit), so an off-path
//! attacker cannot count the budget down exactly and read sequence numbers from what is left
//! (CVE-2016-5696). Here the draw is a keyed hash of the second, from the stack's secret:
//! unpredictable from outside, and replayable in the simulator.
//!
//! Linux's default limit is `i32::MAX` (since 6.0): no host-wide limit in practice.

use ustack_tcp::KeyedHash;

use crate::Instant;

#[derive(Debug)]
pub(crate) struct ChallengeBudget {
    key: KeyedHash,
    /// The second the allowance was drawn for.
    second: Option<u64>,
    left: u64,
}

impl ChallengeBudget {
    pub(crate) fn new(secret: [u8; 16]) -> ChallengeBudget {
        let mut key = secret;
        key[0] ^= 0xca;
        ChallengeBudget { key: KeyedHash::new(key), second: None, left: 0 }
    }

    /// Whether one more challenge ACK may go out at `now` under `limit` per second; if so,
    /// it is counted. A limit of 0 allows none.
    pub(crate) fn take(&mut self, now: Instant, limit: u32) -> bool {
        let second = now.as_nanos() / 1_000_000_000;
        if self.second != Some(second) {
            self.second = Some(second);
            // Linux: get_random_u32_inclusive(half, limit + half - 1), half = (limit + 1) / 2.
            let limit = u64::from(limit);
            let half = limit.div_ceil(2);
            self.left =
                if limit == 0 { 0 } else { half + self.key.hash(&second.to_le_bytes()) % limit };
        }
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowance_per_second_lies_between_half_and_one_and_a_half_times_the_limit() {
        let mut b = ChallengeBudget::new([7; 16]);
        let mut total = 0u64;
        for s in 0..1_000u64 {
            let now = Instant::from_secs(s);
            let n = (0..100).take_while(|_| b.take(now, 20)).count() as u64;
            assert!((10..=29).contains(&n), "second {s}: {n}");
            total += n;
        }
        // Uniform over 10..=29: mean 19.5.
        let mean = total as f64 / 1_000.0;
        assert!((18.5..20.5).contains(&mean), "mean {mean}");
    }

    #[test]
    fn limit_zero_allows_none_and_the_default_is_unlimited_in_practice() {
        let mut b = ChallengeBudget::new([1; 16]);
        assert!(!b.take(Instant::from_secs(3), 0));
        let now = Instant::from_secs(4);
        assert!((0..100_000).all(|_| b.take(now, i32::MAX as u32)));
    }
}
