//! Bulk: one connection sending as fast as it can, on one thread, for a fixed time.
//!
//! ustack and smoltcp: two stacks joined in memory ([`super::pair`]), the same MTU, the same
//! send and receive buffers (256 KiB), checksums in software. The application writes 64 KiB
//! at a time as far as the send buffer takes it and reads 64 KiB at a time. The kernel: a
//! connection over its loopback device, the MTU of `lo` set to the row's, both sockets
//! non-blocking on one thread (loopback delivers within the writer's system call).
//! Goodput is what the reader read over the time, after a warm-up.

use std::time::{Duration, Instant as StdInstant};

use super::kernel;
use super::pair::{self, Pair, Recv};

/// The send and receive buffer of the measured connection, both kinds of stack.
pub(crate) const BUFFER: usize = 256 << 10;
/// The application's writes and reads.
const CHUNK: usize = 64 << 10;

/// What a bulk run measured.
pub(crate) struct Bulk {
    pub(crate) gbps: f64,
    /// Nanoseconds per full-sized data segment (goodput time / (bytes / MSS)).
    pub(crate) ns_per_segment: f64,
    /// Packets both ways per full-sized data segment (ACKs included).
    pub(crate) packets_per_segment: f64,
}

fn mss(mtu: usize) -> f64 {
    // IPv4 and TCP headers, and the timestamp option every segment carries.
    (mtu - 20 - 20 - 12) as f64
}

/// Bulk over a pair, on connection (c -> s), for `time` after a warm-up of `time / 5`.
pub(crate) fn on_pair<P: Pair>(p: &mut P, mtu: usize, time: Duration) -> Result<Bulk, String> {
    p.listen(pair::PORT);
    let (c, s) = pair::open(p, pair::PORT)?;
    let data = vec![0x5a_u8; CHUNK];
    let mut buf = vec![0u8; CHUNK];
    let mut run = |p: &mut P, time: Duration| -> Result<(u64, u64, Duration), String> {
        let start = StdInstant::now();
        let packets = p.packets();
        let mut bytes = 0u64;
        let mut stalls = 0u32;
        loop {
            let sent = p.send(c, &data);
            let moved = p.pump();
            let mut got = 0;
            while let Recv::Data(n) = p.recv(s, &mut buf) {
                got += n;
            }
            bytes += got as u64;
            if sent == 0 && !moved && got == 0 {
                stalls += 1;
                if stalls > 10_000 {
                    return Err("bulk: the transfer stopped".to_string());
                }
                p.wait();
            }
            if start.elapsed() >= time {
                break;
            }
        }
        Ok((bytes, p.packets() - packets, start.elapsed()))
    };
    run(p, time / 5)?;
    let (bytes, packets, elapsed) = run(p, time)?;
    Ok(result(bytes, packets, elapsed, mtu))
}

fn result(bytes: u64, packets: u64, elapsed: Duration, mtu: usize) -> Bulk {
    let segments = bytes as f64 / mss(mtu);
    Bulk {
        gbps: bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9,
        ns_per_segment: elapsed.as_nanos() as f64 / segments,
        packets_per_segment: packets as f64 / segments,
    }
}

/// Bulk over the kernel's loopback device, one thread, for `time` after a warm-up.
pub(crate) fn on_kernel(mtu: usize, time: Duration) -> Result<Bulk, String> {
    let l = kernel::listener()?;
    let (mut c, mut s) = kernel::connect(&l)?;
    for x in [&c, &s] {
        x.set_nonblocking(true).map_err(|e| e.to_string())?;
    }
    let data = vec![0x5a_u8; CHUNK];
    let mut buf = vec![0u8; CHUNK];
    let mut run = |time: Duration| -> Result<(u64, Duration), String> {
        let start = StdInstant::now();
        let mut bytes = 0u64;
        while start.elapsed() < time {
            kernel::write_some(&mut c, &data).map_err(|e| format!("write: {e}"))?;
            loop {
                let n = kernel::read_some(&mut s, &mut buf).map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    break;
                }
                bytes += n as u64;
            }
        }
        Ok((bytes, start.elapsed()))
    };
    run(time / 5)?;
    let (bytes, elapsed) = run(time)?;
    let mut r = result(bytes, 0, elapsed, mtu);
    r.packets_per_segment = f64::NAN;
    Ok(r)
}
