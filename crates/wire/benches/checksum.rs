//! The Internet checksum against a byte-at-a-time loop and a memcpy of the same size.
//! Results are recorded in docs/performance.md.

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use ustack_wire::checksum;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for size in [1500usize, 65_536] {
        // Deterministic, non-trivial contents.
        let buf: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
        let mut dst = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("ustack", size), &buf, |b, buf| {
            b.iter(|| checksum::data(black_box(buf)))
        });
        group.bench_with_input(BenchmarkId::new("bytewise", size), &buf, |b, buf| {
            b.iter(|| checksum::data_bytewise(black_box(buf)))
        });
        group.bench_with_input(BenchmarkId::new("memcpy", size), &buf, |b, buf| {
            b.iter(|| {
                dst.copy_from_slice(black_box(buf));
                black_box(&mut dst);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
