//! Connection cycles at steady state: a connection that opens, carries one byte each way and
//! closes allocates nothing. The boxes of finished connections are kept for new ones, and a
//! new connection starts on what the old one left (its 1 KiB ring buffers, its event queue and
//! its queue of segments in flight: `ustack_tcp::ConnSpare`); its congestion controller is
//! held inline in the connection (before, each end boxed a fresh one: two allocations per
//! cycle). The client's connection, closed by the application, is reduced to a TIME-WAIT
//! record as it enters TIME-WAIT and hands its box and its storage on at once (before the
//! records, it freed its rings and its queue of segments in flight there, so that TIME-WAIT
//! held no buffer storage for its 60 s, and a cycle allocated them again: five allocations
//! per cycle).
//!
//! Two stacks joined in memory, with Linux's settings; a counting global allocator watches
//! a run of cycles after a warm-up. This file holds a single test, so no other test thread
//! allocates during the measurement.

use std::alloc::System;
use std::net::SocketAddrV4;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ustack_core::tcp_engine::RecvError;
use ustack_core::{Duration, SocketHandle};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[path = "support/pair.rs"]
mod pair;
use pair::{B, Pair};

impl Pair {
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
fn a_connection_cycle_at_steady_state_allocates_nothing() {
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
    // A few for the run (the timer queue rebuilt when stale entries pile up), none per cycle.
    assert!(
        stats.allocations <= 10,
        "{} allocations ({} bytes), {} reallocations, {} deallocations in {CYCLES} cycles",
        stats.allocations,
        stats.bytes_allocated,
        stats.reallocations,
        stats.deallocations,
    );
    assert!(stats.reallocations <= CYCLES / 20, "{} reallocations", stats.reallocations);
}
