//! Two TCP stacks of one kind joined in memory and driven on one thread: the ground of the
//! in-memory workloads (bulk, connection cycles, latency, idle connections, the empty poll).
//!
//! Stack A is 10.0.0.1, stack B 10.0.0.2, on one /24, with the same MTU. A packet one stack
//! sends is handed to the other as soon as the driver pumps ([`Pair::pump`]); nothing is
//! lost, reordered or delayed. Checksums are computed and verified in software on both
//! sides, as on a device without offloads. The clock is the wall clock since the pair was
//! made, plus the jumps [`Pair::wait`] and [`Pair::advance`] add: a stack waiting on a timer
//! (a delayed ACK, say) gets it at once instead of idling, and the time moved on is counted.
//!
//! The same driver shape serves both kinds, so what differs between rows is the stacks: every
//! packet one side emitted in a pump is taken in by the other in the same pump, which then
//! emits what it has (ACKs for the whole batch, replies) before the next pump.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant as StdInstant};

pub(crate) mod smol;
pub(crate) mod us;

/// Stack A's address (the clients).
pub(crate) const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Stack B's address (the servers).
pub(crate) const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The port of the connection a workload measures.
pub(crate) const PORT: u16 = 80;
/// The first port of the listeners idle connections go to; each takes [`IDLE_PER_PORT`].
pub(crate) const IDLE_PORT: u16 = 10_000;
/// Idle connections per listening port: fewer than the client ports one address has.
pub(crate) const IDLE_PER_PORT: usize = 50_000;
/// The client ports of idle connections, and of smoltcp's connections (smoltcp picks none).
pub(crate) const CLIENT_PORTS: core::ops::RangeInclusive<u16> = 1024..=65_535;

/// What both stacks of a pair are given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairConfig {
    /// The MTU of both interfaces.
    pub(crate) mtu: usize,
    /// The send and the receive buffer of every measured connection, bytes.
    pub(crate) buffer: usize,
}

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recv {
    Data(usize),
    Empty,
    /// The peer closed and every byte was read.
    Eof,
}

/// Two stacks joined in memory. `Conn` names one connection end on either stack.
pub(crate) trait Pair {
    type Conn: Copy + std::fmt::Debug;

    /// Stack B listens on `port`.
    fn listen(&mut self, port: u16);
    /// Stack A opens a connection to B's `port`.
    fn connect(&mut self, port: u16) -> Self::Conn;
    /// B's next connection on `port` that completed its handshake.
    fn accept(&mut self, port: u16) -> Option<Self::Conn>;
    /// Whether the connection is established (data may be sent).
    fn is_established(&mut self, c: Self::Conn) -> bool;
    fn set_nodelay(&mut self, c: Self::Conn);
    /// Queues what fits of `data`; how much did.
    fn send(&mut self, c: Self::Conn, data: &[u8]) -> usize;
    fn recv(&mut self, c: Self::Conn, buf: &mut [u8]) -> Recv;
    /// The application is done with the connection: a FIN after what is queued.
    fn close(&mut self, c: Self::Conn);
    /// Hands every packet either stack has to the other until neither has any; whether any
    /// moved.
    fn pump(&mut self) -> bool;
    /// Nothing moves: jumps the clock to the earliest timer of either stack.
    fn wait(&mut self);
    /// Moves the clock on by `d`.
    fn advance(&mut self, d: Duration);
    /// One turn of a driver's loop with nothing to do, on both stacks: output, timers, events.
    fn poll_empty(&mut self);
    /// Packets handed over since the pair was made.
    fn packets(&self) -> u64;
    /// Adds `n` established connections that then stay idle, on listeners of their own
    /// ([`IDLE_PORT`] on).
    fn add_idle(&mut self, n: usize) -> Result<(), String>;
    /// One byte from each end of every idle connection to the other, read there.
    fn touch_idle(&mut self) -> Result<(), String>;
}

/// The clock of a pair: the wall clock since it was made plus the jumps.
pub(crate) struct Clock {
    start: StdInstant,
    skew: Duration,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock { start: StdInstant::now(), skew: Duration::ZERO }
    }

    /// Nanoseconds since the pair was made, 1 s on (no stack likes time zero).
    pub(crate) fn nanos(&self) -> u64 {
        (self.start.elapsed() + self.skew).as_nanos() as u64 + 1_000_000_000
    }

    /// Moves the clock so that it reads at least `nanos`.
    pub(crate) fn jump_to(&mut self, nanos: u64) {
        let now = self.nanos();
        if nanos > now {
            self.skew += Duration::from_nanos(nanos - now);
        }
    }

    pub(crate) fn advance(&mut self, d: Duration) {
        self.skew += d;
    }
}

/// Pumps until `done` holds, waiting for timers when nothing moves; an error naming `what`
/// after `limit` pumps.
pub(crate) fn pump_until<P: Pair>(
    p: &mut P,
    what: &str,
    mut done: impl FnMut(&mut P) -> bool,
) -> Result<(), String> {
    for _ in 0..100_000 {
        if done(p) {
            return Ok(());
        }
        if !p.pump() && !done(p) {
            p.wait();
        }
    }
    Err(format!("{what}: still not done after 100,000 turns"))
}

/// Opens a connection from A to B's `port` and accepts it: (client, server).
pub(crate) fn open<P: Pair>(p: &mut P, port: u16) -> Result<(P::Conn, P::Conn), String> {
    let c = p.connect(port);
    let mut s = None;
    pump_until(p, "a handshake", |p| {
        if s.is_none() {
            s = p.accept(port);
        }
        s.is_some() && p.is_established(c)
    })?;
    Ok((c, s.expect("accepted")))
}

/// Reads exactly `len` bytes at `rx`, pumping as needed.
pub(crate) fn read_exact<P: Pair>(
    p: &mut P,
    rx: P::Conn,
    buf: &mut [u8],
    len: usize,
) -> Result<(), String> {
    let mut got = 0;
    pump_until(p, "a read", |p| {
        while got < len {
            match p.recv(rx, &mut buf[got..len]) {
                Recv::Data(n) => got += n,
                Recv::Empty | Recv::Eof => break,
            }
        }
        got == len
    })
}
