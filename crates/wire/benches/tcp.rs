//! TCP segments in and out: `TcpRepr::parse` (checksum verified, options read) and
//! `TcpRepr::emit` (header, options, payload copied and summed, checksum) for the segments of
//! a bulk transfer: a full 1448-byte data segment with timestamps (MTU 1500), a 64 KiB one
//! (MTU 65535), and the bare ACK with timestamps that answers them. `ustack bench` measures
//! the stack around them; docs/performance.md records both.

#![allow(missing_docs)]

use core::net::Ipv4Addr;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use ustack_wire::{SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn segment(payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 49_152,
        dst_port: 80,
        seq: SeqNum(0x1234_5678),
        ack: SeqNum(0x9abc_def0),
        flags: if payload.is_empty() { TcpFlags::ACK } else { TcpFlags::ACK | TcpFlags::PSH },
        window: 512,
        urgent: 0,
        options: TcpOptions {
            timestamps: Some(Timestamps { tsval: 1_000_000, tsecr: 999_000 }),
            ..TcpOptions::default()
        },
        payload,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp");
    for (name, len) in [("ack", 0usize), ("data", 1448), ("data", 65_483)] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
        let repr = segment(&payload);
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        let id = format!("{name}/{len}");
        group.bench_with_input(BenchmarkId::new("emit", &id), &repr, |b, repr| {
            b.iter(|| {
                black_box(repr).emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
            })
        });
        let wire = buf.clone();
        group.bench_with_input(BenchmarkId::new("parse", &id), &wire, |b, wire| {
            b.iter(|| {
                let packet = TcpPacket::new_unchecked(black_box(&wire[..]));
                TcpRepr::parse(&packet, SRC, DST).map(|r| r.options.timestamps)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
