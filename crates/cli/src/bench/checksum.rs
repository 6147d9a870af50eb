//! The Internet checksum (RFC 1071) over a buffer in memory, GB/s (10^9 bytes per second):
//! ustack's `ustack_wire::checksum::data` against smoltcp's `wire::checksum::data`, over
//! the same 1500-byte and 64 KiB buffers, each for a fixed time.

use std::hint::black_box;
use std::time::{Duration, Instant as StdInstant};

/// Whose checksum.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Impl {
    Ustack,
    Smoltcp,
}

/// GB/s of `which` over a buffer of `len` bytes, for `time` after a warm-up.
pub(crate) fn gbps(which: Impl, len: usize, time: Duration) -> f64 {
    let buf: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    let sum = |b: &[u8]| match which {
        Impl::Ustack => ustack::wire::checksum::data(b),
        Impl::Smoltcp => smoltcp::wire::checksum::data(b),
    };
    let run = |time: Duration| {
        let start = StdInstant::now();
        let mut n = 0u64;
        while start.elapsed() < time || n == 0 {
            for _ in 0..64 {
                black_box(sum(black_box(&buf)));
            }
            n += 64;
        }
        (n * len as u64) as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    run(time / 5);
    run(time)
}
