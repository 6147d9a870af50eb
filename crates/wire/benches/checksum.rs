//! The Internet checksum: each loop the CPU runs (portable, AVX2, AVX-512) against a
//! byte-at-a-time loop and a memcpy of the same size; and the payload copy of an emit, summed
//! as it copies (`copy_and_sum`) against a copy followed by a sum. Results are recorded in
//! docs/performance.md.

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use ustack_wire::checksum::{self, Level};

fn levels() -> Vec<Level> {
    [Level::Portable, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|l| *l <= checksum::accel_level())
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for size in [1500usize, 65_536] {
        // Deterministic, non-trivial contents.
        let buf: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
        let mut dst = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        for level in levels() {
            group.bench_with_input(BenchmarkId::new(level.name(), size), &buf, |b, buf| {
                b.iter(|| checksum::data_at(level, black_box(buf)))
            });
        }
        group.bench_with_input(BenchmarkId::new("bytewise", size), &buf, |b, buf| {
            b.iter(|| checksum::data_bytewise(black_box(buf)))
        });
        group.bench_with_input(BenchmarkId::new("memcpy", size), &buf, |b, buf| {
            b.iter(|| {
                dst.copy_from_slice(black_box(buf));
                black_box(&mut dst);
            })
        });
        group.bench_with_input(BenchmarkId::new("memcpy+data", size), &buf, |b, buf| {
            b.iter(|| {
                dst.copy_from_slice(black_box(buf));
                checksum::data(black_box(&dst))
            })
        });
        for level in levels() {
            let id = BenchmarkId::new(format!("copy_and_sum/{}", level.name()), size);
            group.bench_with_input(id, &buf, |b, buf| {
                b.iter(|| checksum::copy_and_sum_at(level, &mut dst, black_box(buf)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
