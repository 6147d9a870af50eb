//! Opening a connection allocates only what the connection keeps: its socket box (the
//! congestion controller lives inline in it), nothing that is freed again a moment later. A host that opens
//! connections in bursts (a server under a wave of clients, the idle-connection rows of
//! `ustack bench`) otherwise places each short-lived allocation between the long-lived
//! boxes of the burst, and what the short-lived ones leave behind when they are freed are
//! holes the allocator keeps: the event queue allocated by the first event, and freed by the
//! idle release a second later, cost 200 bytes of resident memory per connection pair that
//! way (docs/performance.md, idle connections).
//!
//! Two stacks joined in memory; a counting global allocator watches a burst of connections
//! being opened and left idle past the idle release. This file holds a single test,
//! so no other test thread allocates during the measurement.

#![allow(clippy::print_stderr, reason = "the test prints its figures, once")]

use std::alloc::System;
use std::net::SocketAddrV4;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ustack_core::{Duration, SocketHandle};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[path = "support/pair.rs"]
mod pair;
use pair::{B, Pair};

const BURST: usize = 2_000;
/// Allocations and frees by the stacks' tables as they grow to hold a burst, at most.
const TABLES: usize = 64;

impl Pair {
    /// `BURST` connections opened and accepted; their handles (client, server).
    fn burst(&mut self, listener: SocketHandle, out: &mut Vec<(SocketHandle, SocketHandle)>) {
        for _ in 0..BURST {
            let c = self.a.tcp_connect(self.now, None, SocketAddrV4::new(B, 80)).expect("connect");
            self.pump();
            let s = self.b.tcp_accept(listener).expect("accepted");
            out.push((c, s));
        }
    }
}

#[test]
fn opening_a_connection_allocates_only_what_it_keeps() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(SocketAddrV4::new(B, 80), 4096, false).expect("listen");
    let mut open = Vec::with_capacity(BURST);
    let region = Region::new(GLOBAL);
    p.burst(l, &mut open);
    // Past the idle release: what the connections allocated and did not keep is freed.
    p.now += Duration::from_millis(1_500);
    p.pump();
    let stats = region.change();
    let sockets = 2 * BURST;
    eprintln!("opening {BURST} connections: {stats:?}");
    // The tables (slots, demux, ports, timer queue) grow as the burst fills them, and a
    // table that doubles frees its old storage: a few dozen frees in all. Each connection
    // freeing something would be thousands.
    assert!(stats.deallocations <= TABLES, "nothing allocated to be freed again: {stats:?}");
    assert!(stats.allocations <= sockets + TABLES, "the socket's box alone: {stats:?}");
}
