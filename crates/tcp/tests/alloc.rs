//! The engine allocates nothing per segment once its buffers have grown (the `conn` module
//! doc): a counting global allocator watches a long established transfer
//! between two [`Conn`]s and must see no allocation, reallocation or free at all.
//!
//! The harness is a host in miniature that allocates nothing itself while it is measured:
//! every segment is emitted into a preallocated slot of a one-way link with `ustack_wire`
//! and parsed back at arrival (checksum and options included), as a real host would; time is
//! virtual and jumps to the next arrival or deadline. The client writes a
//! message every `MESSAGE_INTERVAL` as fast as its send buffer takes it, so segments are
//! ACK-clocked within a message and the last one of each waits for the server's delayed-ACK
//! timer, fired through `handle_timeout`; the server reads as an application would, checking
//! every byte. The default `TcpConfig` throughout (timestamps, SACK-permitted and window
//! scaling negotiated). Tracing stays off, as by default: trace events must cost nothing
//! when nobody asked for them.
//!
//! This file holds a single test, so no other test thread allocates during the measurement.

use std::alloc::System;
use std::net::{Ipv4Addr, SocketAddrV4};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ustack_tcp::{
    Conn, Duration, Event, FourTuple, Instant, RecvError, SendError, TcpConfig, TcpState, TimerKind,
};
use ustack_wire::{SeqNum, TcpFlags, TcpPacket, TcpRepr};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40_000);
const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
const MTU: u16 = 1500;

/// One-way propagation delay of each direction.
const DELAY: Duration = Duration::from_millis(5);
/// Serialization rate of each direction, bits per second: spaces the segments of a flight.
const RATE_BPS: u64 = 100_000_000;

/// The sending application writes a message of this many bytes every `MESSAGE_INTERVAL`
/// (as fast as the send buffer takes it): a stream with pauses, so the last segment of a
/// message waits for the receiver's delayed-ACK timer.
const MESSAGE_LEN: u64 = (256 << 10) + 1000;
const MESSAGE_INTERVAL: Duration = Duration::from_millis(250);

/// Bytes moved before measuring, so the send and receive rings reach their working size.
const WARMUP_BYTES: u64 = 4 << 20;
/// Bytes moved while measuring.
const MEASURED_BYTES: u64 = 32 << 20;

/// The byte at stream offset `i`: a period prime to every buffer size, so a byte delivered at
/// the wrong offset shows.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// One direction of the link: a FIFO of emitted segments in fixed slots, allocated once.
/// Every segment takes the same delay, so arrivals keep the sending order.
struct Link {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// `SLOTS` slots of `SLOT` bytes each.
    bytes: Vec<u8>,
    /// Per slot: arrival time and segment length.
    meta: Vec<(Instant, usize)>,
    head: usize,
    len: usize,
    /// When the sender side of the link is idle again (serialization).
    free_at: Instant,
}

impl Link {
    const SLOT: usize = 2048;
    const SLOTS: usize = 1024;

    fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Link {
        Link {
            src,
            dst,
            bytes: vec![0; Link::SLOT * Link::SLOTS],
            meta: vec![(Instant::ZERO, 0); Link::SLOTS],
            head: 0,
            len: 0,
            free_at: Instant::ZERO,
        }
    }

    fn next_arrival(&self) -> Option<Instant> {
        (self.len > 0).then(|| self.meta[self.head].0)
    }

    /// Emits `seg` into the next free slot, arriving after serialization and the delay.
    fn send(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        assert!(self.len < Link::SLOTS, "link queue full");
        let len = seg.buffer_len();
        let i = (self.head + self.len) % Link::SLOTS;
        let slot = &mut self.bytes[i * Link::SLOT..][..len];
        seg.emit(&mut TcpPacket::new_unchecked(slot), self.src, self.dst);
        let wire_ns = (len as u64 + 20) * 8 * 1_000_000_000 / RATE_BPS;
        self.free_at = self.free_at.max(now) + Duration::from_nanos(wire_ns);
        self.meta[i] = (self.free_at + DELAY, len);
        self.len += 1;
    }

    /// Takes the oldest segment off the link and parses it, as the receiving host would.
    fn pop(&mut self) -> TcpRepr<'_> {
        assert!(self.len > 0, "pop on an empty link");
        let i = self.head;
        self.head = (self.head + 1) % Link::SLOTS;
        self.len -= 1;
        let bytes = &self.bytes[i * Link::SLOT..][..self.meta[i].1];
        let packet = TcpPacket::new_checked(bytes).expect("a segment we emitted is well formed");
        TcpRepr::parse(&packet, self.src, self.dst).expect("a segment we emitted parses")
    }
}

/// What happened, counted over the whole run; the test subtracts two snapshots.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    /// Segments carried by the links, both directions.
    segments: u64,
    /// Of which carried payload.
    data_segments: u64,
    /// `handle_timeout` calls at which the receiver's delayed-ACK timer had expired.
    delayed_acks: u64,
    /// Bytes the receiving application read.
    read: u64,
}

/// The client sends a stream; the server reads it, checking every byte.
struct Pair {
    now: Instant,
    cfg: TcpConfig,
    client: Conn,
    server: Option<Conn>,
    to_server: Link,
    to_client: Link,
    scratch: Vec<u8>,
    /// A window of the stream from any offset modulo 251: `send` takes a slice of it.
    source: Vec<u8>,
    written: u64,
    /// Bytes of the messages so far not yet handed to `send`, and when the next one comes.
    unwritten: u64,
    next_message: Instant,
    read_buf: Vec<u8>,
    counters: Counters,
}

impl Pair {
    fn new() -> Pair {
        // The send buffer stays at `wmem.default`: with it the sender writes each message in
        // 16 KiB steps, so the message's last segment waits alone for the delayed-ACK timer and
        // the measured phase exercises that timer too. (A growing buffer reaches its size in
        // the warm-up and would not allocate later either, but it sends each message in one
        // flight whose ACKs all go out at once.)
        let mut cfg = TcpConfig::default();
        cfg.wmem.max = cfg.wmem.default;
        let tuple = FourTuple { local: CLIENT.into(), remote: SERVER.into() };
        let iss = SeqNum(1_000_000);
        let client = Conn::connect(Instant::ZERO, cfg, tuple, iss, MTU, Conn::default_cc(&cfg));
        Pair {
            now: Instant::ZERO,
            cfg,
            client,
            server: None,
            to_server: Link::new(*CLIENT.ip(), *SERVER.ip()),
            to_client: Link::new(*SERVER.ip(), *CLIENT.ip()),
            scratch: vec![0; 65_536],
            source: (0..251 * 1024).map(pattern).collect(),
            written: 0,
            unwritten: 0,
            next_message: Instant::ZERO,
            read_buf: vec![0; 16_384],
            counters: Counters::default(),
        }
    }

    /// Steps until the server's application has read `total` bytes.
    fn run_until_read(&mut self, total: u64) {
        let max_steps = 20 * total / 1000 + 10_000;
        for _ in 0..max_steps {
            if self.counters.read >= total {
                return;
            }
            self.step();
        }
        panic!("read {} of {total} bytes after {max_steps} steps", self.counters.read);
    }

    /// The applications, then every segment the two connections want to send, then one
    /// event: the earliest arrival or deadline.
    fn step(&mut self) {
        self.apps();
        self.flush();
        // The next event. Times only move forward: `handle_timeout` before a deadline is a
        // no-op, and an arrival or message already due is handled now.
        let server_timeout = self.server.as_ref().and_then(Conn::poll_timeout);
        let next = [
            self.to_server.next_arrival(),
            self.to_client.next_arrival(),
            self.client.poll_timeout(),
            server_timeout,
            Some(self.next_message),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("something is always pending during a transfer");
        self.now = self.now.max(next);
        let now = self.now;

        if self.to_server.next_arrival().is_some_and(|t| t <= now) {
            let seg = self.to_server.pop();
            self.counters.segments += 1;
            self.counters.data_segments += u64::from(!seg.payload.is_empty());
            match self.server.as_mut() {
                Some(server) => server.handle_segment(now, &seg),
                None => {
                    assert_eq!(seg.flags, TcpFlags::SYN, "the first segment is the SYN");
                    let tuple = FourTuple { local: SERVER.into(), remote: CLIENT.into() };
                    let cc = Conn::default_cc(&self.cfg);
                    let iss = SeqNum(3_000_000_000);
                    self.server = Some(Conn::accept(now, self.cfg, tuple, iss, MTU, &seg, cc));
                }
            }
        } else if self.to_client.next_arrival().is_some_and(|t| t <= now) {
            let seg = self.to_client.pop();
            self.counters.segments += 1;
            self.client.handle_segment(now, &seg);
        } else {
            self.client.handle_timeout(now);
            if let Some(server) = self.server.as_mut() {
                if server.timers().is_expired(TimerKind::DelayedAck, now) {
                    self.counters.delayed_acks += 1;
                }
                server.handle_timeout(now);
            }
        }
    }

    /// The applications: the client writes its messages as fast as its send buffer takes
    /// them, the server reads all it can.
    fn apps(&mut self) {
        while self.next_message <= self.now {
            self.unwritten += MESSAGE_LEN;
            self.next_message += MESSAGE_INTERVAL;
        }
        if matches!(self.client.state(), TcpState::Established) {
            while self.unwritten > 0 {
                let from = (self.written % 251) as usize;
                let len = self.unwritten.min(self.source.len() as u64 - 251) as usize;
                match self.client.send(&self.source[from..][..len]) {
                    Ok(n) => {
                        self.written += n as u64;
                        self.unwritten -= n as u64;
                    }
                    Err(SendError::Full) => break,
                    Err(e) => panic!("send failed: {e:?}"),
                }
            }
        }
        let Some(server) = self.server.as_mut() else { return };
        loop {
            match server.recv(&mut self.read_buf) {
                Ok(0) => panic!("unexpected end of stream"),
                Ok(n) => {
                    let at = self.counters.read;
                    for (k, &b) in self.read_buf[..n].iter().enumerate() {
                        assert_eq!(
                            b,
                            pattern(at + k as u64),
                            "byte {} of the stream",
                            at + k as u64
                        );
                    }
                    self.counters.read += n as u64;
                }
                Err(RecvError::WouldBlock) => break,
                Err(e) => panic!("recv failed: {e:?}"),
            }
        }
    }

    /// Puts every segment both connections have on their links; drains their events.
    fn flush(&mut self) {
        let now = self.now;
        while let Some(seg) = self.client.poll_transmit(now, &mut self.scratch) {
            self.to_server.send(now, &seg);
        }
        while let Some(event) = self.client.poll_event() {
            assert!(!matches!(event, Event::Closed(_)), "client closed: {event:?}");
        }
        let Some(server) = self.server.as_mut() else { return };
        while let Some(seg) = server.poll_transmit(now, &mut self.scratch) {
            self.to_client.send(now, &seg);
        }
        while let Some(event) = server.poll_event() {
            assert!(!matches!(event, Event::Closed(_)), "server closed: {event:?}");
        }
    }
}

#[test]
fn established_transfer_allocates_nothing_per_segment() {
    let mut pair = Pair::new();
    pair.run_until_read(WARMUP_BYTES);
    assert_eq!(pair.client.state(), TcpState::Established);
    let before = pair.counters;

    let region = Region::new(GLOBAL);
    pair.run_until_read(WARMUP_BYTES + MEASURED_BYTES);
    let stats = region.change();

    let after = pair.counters;
    let segments = after.segments - before.segments;
    let data_segments = after.data_segments - before.data_segments;
    let delayed_acks = after.delayed_acks - before.delayed_acks;
    let bytes = after.read - before.read;
    assert!(
        stats.allocations == 0 && stats.reallocations == 0 && stats.deallocations == 0,
        "{} allocations, {} reallocations, {} deallocations ({} bytes) over {segments} \
         segments ({data_segments} with data, {bytes} bytes read, {delayed_acks} delayed \
         ACKs) in {:?}",
        stats.allocations,
        stats.reallocations,
        stats.deallocations,
        stats.bytes_allocated,
        pair.now,
    );
    assert!(delayed_acks > 0, "the delayed-ACK timer never fired: {after:?}");
    assert!(data_segments > 20_000, "too short a transfer: {after:?}");
}
