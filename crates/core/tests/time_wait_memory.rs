//! Heap bytes per connection in TIME-WAIT: a client that opened 2,000 connections, carried a
//! byte each way on each and closed them first holds 2,000 TIME-WAITs for 60 s. Closed by
//! the application, each is a small record (`ustack_core`'s `timewait.rs`, Linux's
//! `inet_timewait_sock`), not the whole connection (880 bytes, its congestion controller's
//! box and its scoreboard's).
//!
//! Two stacks joined in memory; a counting global allocator measures what the heap holds
//! after the second round of connections reached TIME-WAIT, less what it held before that
//! round (the first round, ended, grew every table to its working size). This file holds a
//! single test, so no other test thread allocates during the measurement.

#![allow(clippy::print_stderr, reason = "the test prints its figure, once")]

use std::alloc::System;
use std::net::SocketAddrV4;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ustack_core::tcp_engine::TcpState;
use ustack_core::{Duration, SocketHandle};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[path = "support/pair.rs"]
mod pair;
use pair::{B, Pair};
const CONNECTIONS: usize = 2_000;

impl Pair {
    /// `CONNECTIONS` connections open, carry "?" and "!", and close, the client first.
    fn round(&mut self, listener: SocketHandle) {
        let mut pairs = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let c = self.a.tcp_connect(self.now, None, SocketAddrV4::new(B, 80)).expect("connect");
            self.pump();
            let s = self.b.tcp_accept(listener).expect("accepted");
            pairs.push((c, s));
        }
        let mut one = [0u8; 1];
        for &(c, s) in &pairs {
            assert_eq!(self.a.tcp_send(c, b"?"), Ok(1));
            assert_eq!(self.b.tcp_send(s, b"!"), Ok(1));
        }
        self.pump();
        for &(c, s) in &pairs {
            assert_eq!(self.a.tcp_recv(c, &mut one), Ok(1));
            assert_eq!(self.b.tcp_recv(s, &mut one), Ok(1));
            self.a.close(self.now, c);
        }
        self.pump();
        for &(_, s) in &pairs {
            self.b.close(self.now, s);
        }
        self.pump();
    }

    fn time_waits(&self) -> usize {
        self.a.netstat(self.now).count(TcpState::TimeWait)
    }
}

#[test]
fn a_connection_in_time_wait_holds_a_small_record_of_heap() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(SocketAddrV4::new(B, 80), 4096, false).expect("listen");
    // A first round to size the tables, then its TIME-WAITs end.
    p.round(l);
    assert_eq!(p.time_waits(), CONNECTIONS);
    p.now += Duration::from_secs(61);
    p.pump();
    assert_eq!(p.time_waits(), 0);
    assert_eq!(p.a.socket_count(), 0);

    let region = Region::new(GLOBAL);
    p.round(l);
    let stats = region.change();
    assert_eq!(p.time_waits(), CONNECTIONS);
    assert_eq!(p.a.socket_count(), CONNECTIONS, "the client holds only its TIME-WAITs");
    assert_eq!(p.b.socket_count(), 1, "the server only its listener");
    let held = stats.bytes_allocated as i64 + stats.bytes_reallocated as i64
        - stats.bytes_deallocated as i64;
    let per_connection = held / CONNECTIONS as i64;
    eprintln!(
        "heap held per connection in TIME-WAIT: {per_connection} bytes ({held} for {CONNECTIONS})"
    );
    // The record with the host's fields (about 150 bytes) and its timer-queue entry; the
    // whole connection held 1,300 and more.
    assert!(per_connection <= 300, "{per_connection} bytes per TIME-WAIT");
}
