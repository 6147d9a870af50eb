//! Request/response latency: a 64-byte request and a 64-byte answer on one connection, Nagle
//! off on both ends, one at a time for a fixed time; the median and the 99th percentile of
//! the round trips, each timed on its own. One thread: in memory the two stacks are pumped
//! by the same loop; the kernel's are blocking sockets over its loopback.

use std::io::{Read, Write};
use std::time::{Duration, Instant as StdInstant};

use super::kernel;
use super::pair::{self, Pair};

const MSG: usize = 64;

/// Microseconds: (p50, p99).
pub(crate) struct Latency {
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

fn percentiles(mut ns: Vec<u64>) -> Latency {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 - 1.0) * q).round() as usize] as f64 / 1e3;
    Latency { p50_us: at(0.5), p99_us: at(0.99) }
}

/// Round trips over a pair for `time`, after a warm-up of `time / 5`.
pub(crate) fn on_pair<P: Pair>(p: &mut P, time: Duration) -> Result<Latency, String> {
    p.listen(pair::PORT);
    let (c, s) = pair::open(p, pair::PORT)?;
    p.set_nodelay(c);
    p.set_nodelay(s);
    let req = [7u8; MSG];
    let mut buf = [0u8; MSG];
    let mut run = |p: &mut P, time: Duration| -> Result<Vec<u64>, String> {
        let start = StdInstant::now();
        let mut samples = Vec::new();
        while start.elapsed() < time || samples.is_empty() {
            let t = StdInstant::now();
            if p.send(c, &req) != MSG {
                return Err("latency: the request did not fit".to_string());
            }
            pair::read_exact(p, s, &mut buf, MSG)?;
            if p.send(s, &buf) != MSG {
                return Err("latency: the answer did not fit".to_string());
            }
            pair::read_exact(p, c, &mut buf, MSG)?;
            samples.push(t.elapsed().as_nanos() as u64);
        }
        Ok(samples)
    };
    run(p, time / 5)?;
    Ok(percentiles(run(p, time)?))
}

/// Round trips over the kernel's loopback for `time`, after a warm-up.
pub(crate) fn on_kernel(time: Duration) -> Result<Latency, String> {
    let l = kernel::listener()?;
    let (mut c, mut s) = kernel::connect(&l)?;
    for x in [&c, &s] {
        x.set_nodelay(true).map_err(|e| e.to_string())?;
    }
    let req = [7u8; MSG];
    let mut buf = [0u8; MSG];
    let mut run = |time: Duration| -> Result<Vec<u64>, String> {
        let start = StdInstant::now();
        let mut samples = Vec::new();
        while start.elapsed() < time || samples.is_empty() {
            let t = StdInstant::now();
            c.write_all(&req).map_err(|e| format!("request: {e}"))?;
            s.read_exact(&mut buf).map_err(|e| format!("reading the request: {e}"))?;
            s.write_all(&buf).map_err(|e| format!("answer: {e}"))?;
            c.read_exact(&mut buf).map_err(|e| format!("reading the answer: {e}"))?;
            samples.push(t.elapsed().as_nanos() as u64);
        }
        Ok(samples)
    };
    run(time / 5)?;
    Ok(percentiles(run(time)?))
}
