//! Connection cycles at steady state: a connection that opens, carries one byte each way and
//! closes allocates nothing the stack could keep from the previous one. The boxes of finished
//! connections are kept for new ones, and a new connection starts on what the old one left
//! (its 1 KiB ring buffers, its event queue and its queue of segments in flight:
//! `ustack_tcp::ConnSpare`), so what remains per cycle is each end's congestion controller,
//! built fresh for each connection. The client's connection, closed by the application, is
//! reduced to a TIME-WAIT record as it enters TIME-WAIT and hands its box and its storage on
//! at once (before the records, it freed its rings and its queue of segments in flight there,
//! so that TIME-WAIT held no buffer storage for its 60 s, and a cycle allocated them again:
//! five allocations per cycle).
//!
//! Two stacks joined in memory, with Linux's settings; a counting global allocator watches
//! a run of cycles after a warm-up. This file holds a single test, so no other test thread
//! allocates during the measurement.

use std::alloc::System;
use std::net::{Ipv4Addr, SocketAddrV4};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ustack_core::tcp_engine::RecvError;
use ustack_core::{Duration, Instant, InterfaceConfig, Ipv4Cidr, SocketHandle, Stack, StackConfig};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct Pair {
    a: Stack,
    b: Stack,
    now: Instant,
    buf: Vec<u8>,
}

impl Pair {
    fn new() -> Pair {
        let stack = |addr, secret| {
            let mut s = Stack::new(StackConfig::new([secret; 16])).expect("a valid configuration");
            s.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).expect("a /24"), 1500));
            s
        };
        Pair { a: stack(A, 1), b: stack(B, 2), now: Instant::from_secs(1), buf: vec![0; 1500] }
    }

    /// Hands packets both ways until neither stack has any, firing due timers first.
    fn pump(&mut self) {
        for s in [&mut self.a, &mut self.b] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
            }
        }
        loop {
            let mut moved = false;
            for from_a in [true, false] {
                let (tx, rx) =
                    if from_a { (&mut self.a, &mut self.b) } else { (&mut self.b, &mut self.a) };
                while let Some(t) = tx.poll_transmit(self.now, &mut self.buf) {
                    rx.handle_packet(self.now, 0, &self.buf[..t.len]);
                    moved = true;
                }
                while tx.poll_event().is_some() {}
            }
            if !moved {
                break;
            }
        }
    }

    fn read(&mut self, on_a: bool, h: SocketHandle) -> Result<usize, RecvError> {
        let mut one = [0u8; 1];
        let s = if on_a { &mut self.a } else { &mut self.b };
        s.tcp_recv(h, &mut one)
    }

    /// Connect, "?" and "!" and close, the client first; then 1.5 s on, so that TIME-WAITs
    /// (60 s) run out while the test runs and a cycle retires one as it makes one.
    fn cycle(&mut self, listener: SocketHandle) {
        let c = self.a.tcp_connect(self.now, None, SocketAddrV4::new(B, 80)).expect("connect");
        self.pump();
        let s = self.b.tcp_accept(listener).expect("accepted");
        assert_eq!(self.a.tcp_send(c, b"?"), Ok(1));
        self.pump();
        assert_eq!(self.read(false, s), Ok(1));
        assert_eq!(self.b.tcp_send(s, b"!"), Ok(1));
        self.pump();
        assert_eq!(self.read(true, c), Ok(1));
        self.a.close(self.now, c);
        self.pump();
        assert_eq!(self.read(false, s), Ok(0), "the end of the stream");
        self.b.close(self.now, s);
        self.pump();
        self.now += Duration::from_millis(1500);
    }
}

#[test]
fn a_connection_cycle_at_steady_state_allocates_only_what_no_finished_connection_keeps() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(SocketAddrV4::new(B, 80), 128, false).expect("listen");
    // Past 60 s, so the cycles retire TIME-WAITs as fast as they make them and every table
    // has reached its working size.
    for _ in 0..100 {
        p.cycle(l);
    }
    let sockets = p.a.socket_count() + p.b.socket_count();
    const CYCLES: usize = 200;
    let region = Region::new(GLOBAL);
    for _ in 0..CYCLES {
        p.cycle(l);
    }
    let stats = region.change();
    assert_eq!(p.a.socket_count() + p.b.socket_count(), sockets, "a steady state");
    // Two connection ends per cycle, one congestion controller each; and a few for the run
    // (the timer queue rebuilt when stale entries pile up).
    assert!(
        stats.allocations <= 2 * CYCLES + 10,
        "{} allocations ({} bytes), {} reallocations, {} deallocations in {CYCLES} cycles",
        stats.allocations,
        stats.bytes_allocated,
        stats.reallocations,
        stats.deallocations,
    );
    assert!(stats.reallocations <= CYCLES / 20, "{} reallocations", stats.reallocations);
}
