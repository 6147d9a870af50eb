//! Connection cycles: connect, a 1-byte request and its 1-byte answer, close, one connection
//! at a time, for a fixed time.
//!
//! The client closes first (so it holds the TIME-WAIT) once it read the answer; the server
//! closes when it reads the end of the stream; a cycle ends when no packet is left to move.
//! In memory, the clock moves on 1.5 s after each cycle, so that TIME-WAITs run out while the
//! bench runs (60 s on ustack, 10 s on smoltcp, whose client sockets are reused once closed)
//! instead of piling up: at steady state a cycle creates one TIME-WAIT and retires an old one,
//! timer work included. The kernel's run takes the wall clock (TIME-WAIT ports are reused on
//! loopback, `tcp_tw_reuse`), and spreads its connections over 8 listeners.

use std::io::{Read, Write};
use std::time::{Duration, Instant as StdInstant};

use super::kernel;
use super::pair::{self, Pair, Recv};

/// What a run measured.
pub(crate) struct Cycles {
    /// Microseconds per cycle.
    pub(crate) us_per_cycle: f64,
    /// Packets both ways per cycle.
    pub(crate) packets_per_cycle: f64,
}

/// How far the clock moves after each cycle.
const GAP: Duration = Duration::from_millis(1500);

fn one<P: Pair>(p: &mut P) -> Result<(), String> {
    let (c, s) = pair::open(p, pair::PORT)?;
    let mut one = [0u8; 1];
    if p.send(c, b"?") != 1 {
        return Err("cycles: the request did not fit".to_string());
    }
    pair::read_exact(p, s, &mut one, 1)?;
    if p.send(s, b"!") != 1 {
        return Err("cycles: the answer did not fit".to_string());
    }
    pair::read_exact(p, c, &mut one, 1)?;
    p.close(c);
    pair::pump_until(p, "the server reading the end", |p| p.recv(s, &mut one) == Recv::Eof)?;
    p.close(s);
    while p.pump() {}
    p.advance(GAP);
    Ok(())
}

/// Cycles over a pair for `time`, after a warm-up of `time / 5`.
pub(crate) fn on_pair<P: Pair>(p: &mut P, time: Duration) -> Result<Cycles, String> {
    p.listen(pair::PORT);
    let run = |p: &mut P, time: Duration| -> Result<Cycles, String> {
        let start = StdInstant::now();
        let packets = p.packets();
        let mut n = 0u64;
        while start.elapsed() < time || n == 0 {
            one(p)?;
            n += 1;
        }
        Ok(Cycles {
            us_per_cycle: start.elapsed().as_secs_f64() * 1e6 / n as f64,
            packets_per_cycle: (p.packets() - packets) as f64 / n as f64,
        })
    };
    run(p, time / 5)?;
    run(p, time)
}

/// Cycles over the kernel's loopback for `time`, after a warm-up.
pub(crate) fn on_kernel(time: Duration) -> Result<Cycles, String> {
    let listeners = (0..8).map(|_| kernel::listener()).collect::<Result<Vec<_>, _>>()?;
    let mut k = 0usize;
    let mut run = |time: Duration| -> Result<Cycles, String> {
        let start = StdInstant::now();
        let mut n = 0u64;
        let mut one = [0u8; 1];
        while start.elapsed() < time || n == 0 {
            let (mut c, mut s) = kernel::connect(&listeners[k % listeners.len()])?;
            k += 1;
            c.write_all(b"?").map_err(|e| format!("request: {e}"))?;
            s.read_exact(&mut one).map_err(|e| format!("reading the request: {e}"))?;
            s.write_all(b"!").map_err(|e| format!("answer: {e}"))?;
            c.read_exact(&mut one).map_err(|e| format!("reading the answer: {e}"))?;
            drop(c);
            match s.read(&mut one) {
                Ok(0) => {}
                other => return Err(format!("the server's read after the close: {other:?}")),
            }
            drop(s);
            n += 1;
        }
        Ok(Cycles {
            us_per_cycle: start.elapsed().as_secs_f64() * 1e6 / n as f64,
            packets_per_cycle: f64::NAN,
        })
    };
    run(time / 5)?;
    run(time)
}
