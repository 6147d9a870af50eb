//! Idle connections: what they cost in memory, and what an empty turn of the driver's loop
//! costs with a great many of them.
//!
//! Memory: the process's resident set (`/proc/self/statm`) after the stacks are made, after
//! `n` connections are established between them (both ends in this process), and after one
//! byte went each way on every one of them and was read (delayed ACKs and window updates
//! sent). Per connection: the growth over `n`. Each measurement runs in a process of its
//! own, so nothing of an earlier row is counted. ustack's pair opens and touches the
//! connections in batches, each left idle past the engine's `RELEASE_AFTER` before the next
//! (`pair/us.rs`), so the storage a quiet connection gives back is reused as it would be on
//! a server whose connections come and go.
//!
//! The empty poll: with `n` connections idle (2n sockets over the two stacks), one turn over
//! both stacks with nothing to send, no timer due and no event: for ustack `poll_transmit`,
//! `poll_timeout` and `poll_event` on each stack; for smoltcp `Interface::poll` and
//! `poll_at` on each.

use std::hint::black_box;
use std::time::{Duration, Instant as StdInstant};

use super::catalogue::Peer;
use super::pair::Pair;
use super::stats::rss_bytes;

/// What one idle connection (both ends) may take at most, bytes, by the runs of the bench
/// (ustack about 10 KB after a byte each way, smoltcp about 18 KB with its 4 KiB buffers),
/// with room to spare.
fn bound_per_connection(peer: Peer) -> u64 {
    match peer {
        Peer::Smoltcp => 24 << 10,
        _ => 14 << 10,
    }
}

/// Whether `n` idle connections of `peer` fit in the memory the machine has available
/// (`MemAvailable`, with a quarter kept back for everyone else): a `skip:` error saying how
/// much they need when not, so that a big run never drives a shared machine out of memory.
pub(crate) fn room_for(peer: Peer, n: usize) -> Result<(), String> {
    let need = n as u64 * bound_per_connection(peer);
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| format!("reading /proc/meminfo: {e}"))?;
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or("/proc/meminfo: no MemAvailable")?;
    if need > available / 4 * 3 {
        let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
        return Err(format!(
            "skip: {n} idle connections on {} may need {:.1} GiB, {:.1} GiB is available",
            peer.name(),
            gib(need),
            gib(available)
        ));
    }
    Ok(())
}

/// Bytes per connection (both ends).
pub(crate) struct Rss {
    pub(crate) before: f64,
    pub(crate) after: f64,
}

/// The resident memory `n` idle connections add to pair `p`, before and after one byte each
/// way.
pub(crate) fn rss<P: Pair>(p: &mut P, n: usize) -> Result<Rss, String> {
    let base = rss_bytes()?;
    p.add_idle(n)?;
    let opened = rss_bytes()?;
    p.touch_idle()?;
    let touched = rss_bytes()?;
    let per = |rss: u64| rss.saturating_sub(base) as f64 / n as f64;
    Ok(Rss { before: per(opened), after: per(touched) })
}

/// Nanoseconds per empty turn over both stacks of `p`, holding `n` idle connections, for
/// `time`.
pub(crate) fn empty_poll<P: Pair>(p: &mut P, n: usize, time: Duration) -> Result<f64, String> {
    p.add_idle(n)?;
    // Whatever the setup left (delayed ACKs) goes out first.
    for _ in 0..100 {
        p.wait();
        if !p.pump() {
            break;
        }
    }
    let warm = StdInstant::now();
    while warm.elapsed() < time / 5 {
        p.poll_empty();
    }
    let start = StdInstant::now();
    let mut turns = 0u64;
    while start.elapsed() < time || turns == 0 {
        for _ in 0..16 {
            black_box(&mut *p).poll_empty();
        }
        turns += 16;
    }
    Ok(start.elapsed().as_nanos() as f64 / turns as f64)
}
