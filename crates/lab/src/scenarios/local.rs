//! Local sockets against loopback (S24), measured in real time: a program that talks to
//! itself through ustack's loopback interface, through the kernel's TCP over 127.0.0.1 and
//! through an AF_UNIX stream socket, in one run.
//!
//! The one scenario of the lab that is not replayable: the seed only picks ustack's secret,
//! the numbers are this machine's at this moment. Its checks therefore say nothing about
//! speed (a loaded two-core machine may make any transport slow): each transport must move
//! every byte intact and every answer must match its request, each number must come from a
//! real measurement, and ustack's traffic must stay off its device. The speeds are the
//! table.
//!
//! The whole measurement is bounded: every slice runs for a fixed wall-clock time (longer only
//! until a minimum amount has moved), every blocking read and write has a timeout, and the
//! scenario takes about three seconds.

#![allow(
    clippy::disallowed_methods,
    reason = "the one scenario measured on the wall clock: it reads the real time"
)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use ustack::device::{MemoryDevice, MemoryLink};
use ustack::{Device, NetConfig, NetStack};
use ustack_core::{Ipv4Cidr, SocketHandle, Stack, StackConfig};

use crate::check::Checks;
use crate::registry::Run;

/// Each bulk slice writes for this long (then until `BULK_MIN` is written).
const BULK_SLICE: Duration = Duration::from_millis(150);
/// The least a bulk slice moves, however slow the machine.
const BULK_MIN: usize = 1 << 20;
/// Each round-trip slice runs for this long (then until `RTT_MIN` round trips are done).
const RTT_SLICE: Duration = Duration::from_millis(80);
/// The fewest round trips a slice counts.
const RTT_MIN: usize = 20;
/// Rounds: the transports take turns this many times; the table gives each one's median.
const ROUNDS: usize = 3;
/// The application's writes and reads in bulk, as in `crates/ustack/benches/loopback.rs`.
const WRITE: usize = 64 << 10;
/// Request and response size.
const MSG: usize = 64;
/// No blocking call waits longer than this: a stuck transport fails, it does not hang.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The byte stream every bulk slice writes: the lab's pattern, from a window long enough to
/// take a whole write at any offset, so writing and checking it costs a `memcpy`/`memcmp`.
fn pattern_window() -> Vec<u8> {
    crate::pattern(WRITE + 251)
}

/// What one bulk slice measured.
#[derive(Debug, Clone, Copy)]
struct Bulk {
    /// Bytes the client wrote.
    written: usize,
    /// Bytes the server read, as it reported them.
    read: usize,
    /// Whether the server found every byte where the pattern puts it.
    intact: bool,
    /// From the first write to the server's report of the end of the stream.
    took: Duration,
}

impl Bulk {
    fn gib_per_s(&self) -> f64 {
        self.written as f64 / self.took.as_secs_f64().max(1e-9) / f64::from(1u32 << 30)
    }
}

/// What one round-trip slice measured.
#[derive(Debug, Clone, Copy)]
struct Rtt {
    /// Round trips done.
    count: usize,
    /// Responses that were not their request.
    wrong: usize,
    took: Duration,
}

impl Rtt {
    fn micros(&self) -> f64 {
        self.took.as_secs_f64() * 1e6 / self.count.max(1) as f64
    }
}

/// A connected stream of one of the transports.
trait Stream: Read + Write + Send + 'static {
    fn shut_write(&self) -> io::Result<()>;
}

impl Stream for std::net::TcpStream {
    fn shut_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Stream for UnixStream {
    fn shut_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Stream for ustack::TcpStream {
    fn shut_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// One transport: how to make a connected (client, server) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// ustack's blocking API over its loopback interface.
    Ustack,
    /// ustack-core alone, driven by hand on one thread.
    Core,
    /// The kernel's TCP over 127.0.0.1.
    KernelTcp,
    /// An AF_UNIX stream socket pair.
    Unix,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Ustack, Kind::Core, Kind::KernelTcp, Kind::Unix];

    fn name(self) -> &'static str {
        match self {
            Kind::Ustack => "ustack 127.0.0.1, blocking API",
            Kind::Core => "ustack-core alone, one thread",
            Kind::KernelTcp => "kernel TCP 127.0.0.1",
            Kind::Unix => "kernel AF_UNIX stream",
        }
    }
}

/// ustack's stack for the run: its device is an in-memory link whose far end nobody reads,
/// so anything that reached it would show in the far end's counters.
struct UstackNet {
    net: NetStack,
    far: MemoryDevice,
}

impl UstackNet {
    fn new(seed: u64) -> io::Result<UstackNet> {
        let (dev, far) = MemoryLink::pair(1500, 64);
        let addr = Ipv4Cidr::new(Ipv4Addr::new(10, 99, 0, 1), 24).expect("a /24");
        let mut cfg = NetConfig::new(addr);
        cfg.stack = StackConfig::new(secret(seed));
        Ok(UstackNet { net: NetStack::spawn(dev, cfg)?, far })
    }

    /// Packets that reached the device: read from its far end until it has none.
    fn drain_device(&mut self) -> usize {
        let mut buf = vec![0u8; self.far.mtu()];
        let mut n = 0;
        while self.far.recv(&mut buf).is_ok() {
            n += 1;
        }
        n + self.far.stats().dropped_short_buffer as usize
    }

    fn pair(&self) -> io::Result<(ustack::TcpStream, ustack::TcpStream)> {
        let l = ustack::TcpListener::bind(&self.net, (Ipv4Addr::LOCALHOST, 0))?;
        let c = ustack::TcpStream::connect(&self.net, l.local_addr()?)?;
        let (s, _) = l.accept()?;
        for x in [&c, &s] {
            x.set_nodelay(true)?;
            x.set_read_timeout(Some(TIMEOUT))?;
            x.set_write_timeout(Some(TIMEOUT))?;
        }
        Ok((c, s))
    }
}

fn secret(seed: u64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..].copy_from_slice(&(!seed).to_le_bytes());
    s
}

fn kernel_tcp_pair() -> io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let c = std::net::TcpStream::connect(l.local_addr()?)?;
    let (s, _) = l.accept()?;
    for x in [&c, &s] {
        x.set_nodelay(true)?;
        x.set_read_timeout(Some(TIMEOUT))?;
        x.set_write_timeout(Some(TIMEOUT))?;
    }
    Ok((c, s))
}

fn unix_pair() -> io::Result<(UnixStream, UnixStream)> {
    let (c, s) = UnixStream::pair()?;
    for x in [&c, &s] {
        x.set_read_timeout(Some(TIMEOUT))?;
        x.set_write_timeout(Some(TIMEOUT))?;
    }
    Ok((c, s))
}

/// Bulk over a thread pair: the client writes the pattern for a slice and shuts its side;
/// the server thread reads to the end, comparing every byte with the pattern, and answers
/// with the count and the verdict.
fn bulk<S: Stream>(mut client: S, mut server: S, window: &[u8]) -> io::Result<Bulk> {
    let expected = window.to_vec();
    let reader = thread::spawn(move || -> io::Result<()> {
        let mut buf = vec![0u8; WRITE];
        let (mut got, mut intact) = (0usize, true);
        loop {
            let n = server.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let at = got % 251;
            intact &= buf[..n] == expected[at..at + n];
            got += n;
        }
        let mut report = [0u8; 9];
        report[..8].copy_from_slice(&(got as u64).to_le_bytes());
        report[8] = u8::from(intact);
        server.write_all(&report)
    });
    let start = Instant::now();
    let mut written = 0usize;
    while start.elapsed() < BULK_SLICE || written < BULK_MIN {
        let at = written % 251;
        client.write_all(&window[at..at + WRITE])?;
        written += WRITE;
    }
    client.shut_write()?;
    let mut report = [0u8; 9];
    client.read_exact(&mut report)?;
    let took = start.elapsed();
    reader.join().map_err(|_| io::Error::other("the reading thread panicked"))??;
    let read = u64::from_le_bytes(report[..8].try_into().expect("8 bytes")) as usize;
    Ok(Bulk { written, read, intact: report[8] == 1, took })
}

/// Request and response over a thread pair: each request carries its number; the server
/// thread echoes every request; the client checks each answer.
fn rtt<S: Stream>(mut client: S, mut server: S) -> io::Result<Rtt> {
    let echo = thread::spawn(move || -> io::Result<()> {
        let mut buf = [0u8; MSG];
        loop {
            match server.read_exact(&mut buf) {
                Ok(()) => server.write_all(&buf)?,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    let (mut count, mut wrong) = (0usize, 0usize);
    let mut resp = [0u8; MSG];
    let start = Instant::now();
    while start.elapsed() < RTT_SLICE || count < RTT_MIN {
        let req = request(count);
        client.write_all(&req)?;
        client.read_exact(&mut resp)?;
        wrong += usize::from(resp != req);
        count += 1;
    }
    let took = start.elapsed();
    client.shut_write()?;
    echo.join().map_err(|_| io::Error::other("the echo thread panicked"))??;
    Ok(Rtt { count, wrong, took })
}

/// Request number `n`: its number, then the pattern from `n`.
fn request(n: usize) -> [u8; MSG] {
    let mut r = [0u8; MSG];
    r[..8].copy_from_slice(&(n as u64).to_le_bytes());
    for (i, b) in r[8..].iter_mut().enumerate() {
        *b = crate::pattern_byte(n + i);
    }
    r
}

/// One `Stack`, one thread: a connection over 127.0.0.1 driven by hand. Its virtual time
/// never moves: nothing on loopback waits for a timer.
struct Core {
    stack: Stack,
    now: ustack_core::Instant,
    c: SocketHandle,
    a: SocketHandle,
    buf: Vec<u8>,
}

impl Core {
    fn new(seed: u64) -> Result<Core, String> {
        let mut stack = Stack::new(StackConfig::new(secret(seed))).map_err(|e| e.to_string())?;
        let now = ustack_core::Instant::from_secs(1);
        let l = stack
            .tcp_listen(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7), 8, false)
            .map_err(|e| e.to_string())?;
        let c = stack
            .tcp_connect(now, None, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7))
            .map_err(|e| e.to_string())?;
        let mut core = Core { stack, now, c, a: c, buf: vec![0u8; WRITE] };
        core.poll()?;
        core.a = core.stack.tcp_accept(l).ok_or("the handshake did not complete in one poll")?;
        core.stack.tcp_set_nodelay(core.c, true);
        core.stack.tcp_set_nodelay(core.a, true);
        Ok(core)
    }

    /// Runs the stack until it is quiet; loopback sends nothing to a device.
    fn poll(&mut self) -> Result<(), String> {
        let mut dev = [0u8; 1500];
        if self.stack.poll_transmit(self.now, &mut dev).is_some() {
            return Err("a packet for a device: loopback traffic left the stack".into());
        }
        while self.stack.poll_event().is_some() {}
        Ok(())
    }

    /// Sends `data` from `tx` and reads as much at `rx` into `out`.
    fn pass(
        &mut self,
        tx: SocketHandle,
        rx: SocketHandle,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let (mut sent, start) = (0, out.len());
        let mut idle = 0;
        while out.len() - start < data.len() {
            if sent < data.len() {
                sent += self.stack.tcp_send(tx, &data[sent..]).map_err(|e| e.to_string())?;
            }
            self.poll()?;
            let before = out.len();
            while let Ok(n @ 1..) = self.stack.tcp_recv(rx, &mut self.buf) {
                out.extend_from_slice(&self.buf[..n]);
            }
            idle = if out.len() == before { idle + 1 } else { 0 };
            if idle > 1000 {
                return Err("the connection stopped moving".into());
            }
        }
        Ok(())
    }

    fn bulk(&mut self, window: &[u8]) -> Result<Bulk, String> {
        let (c, a) = (self.c, self.a);
        let (mut written, mut intact) = (0usize, true);
        let mut got = Vec::with_capacity(WRITE);
        let start = Instant::now();
        while start.elapsed() < BULK_SLICE || written < BULK_MIN {
            let at = written % 251;
            got.clear();
            self.pass(c, a, &window[at..at + WRITE], &mut got)?;
            intact &= got[..] == window[at..at + WRITE];
            written += WRITE;
        }
        // The count back, as the threaded servers answer.
        got.clear();
        self.pass(a, c, &(written as u64).to_le_bytes(), &mut got)?;
        let took = start.elapsed();
        let read = u64::from_le_bytes(got[..8].try_into().expect("8 bytes")) as usize;
        Ok(Bulk { written, read, intact, took })
    }

    fn rtt(&mut self) -> Result<Rtt, String> {
        let (c, a) = (self.c, self.a);
        let (mut count, mut wrong) = (0usize, 0usize);
        let mut got = Vec::with_capacity(MSG);
        let start = Instant::now();
        while start.elapsed() < RTT_SLICE || count < RTT_MIN {
            let req = request(count);
            got.clear();
            self.pass(c, a, &req, &mut got)?;
            let echo = got.clone();
            got.clear();
            self.pass(a, c, &echo, &mut got)?;
            wrong += usize::from(got[..] != req);
            count += 1;
        }
        Ok(Rtt { count, wrong, took: start.elapsed() })
    }
}

/// One round of one transport: a bulk slice and a round-trip slice, each on a new connection.
fn measure(
    kind: Kind,
    ustack: &UstackNet,
    seed: u64,
    window: &[u8],
) -> Result<(Bulk, Rtt), String> {
    let e = |e: io::Error| format!("{}: {e}", kind.name());
    match kind {
        Kind::Ustack => {
            let (c, s) = ustack.pair().map_err(e)?;
            let b = bulk(c, s, window).map_err(e)?;
            let (c, s) = ustack.pair().map_err(e)?;
            Ok((b, rtt(c, s).map_err(e)?))
        }
        Kind::Core => {
            let mut core = Core::new(seed)?;
            let b = core.bulk(window)?;
            Ok((b, core.rtt()?))
        }
        Kind::KernelTcp => {
            let (c, s) = kernel_tcp_pair().map_err(e)?;
            let b = bulk(c, s, window).map_err(e)?;
            let (c, s) = kernel_tcp_pair().map_err(e)?;
            Ok((b, rtt(c, s).map_err(e)?))
        }
        Kind::Unix => {
            let (c, s) = unix_pair().map_err(e)?;
            let b = bulk(c, s, window).map_err(e)?;
            let (c, s) = unix_pair().map_err(e)?;
            Ok((b, rtt(c, s).map_err(e)?))
        }
    }
}

/// The median of three or more values (the middle one once sorted).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// S24: ustack's loopback, kernel TCP over 127.0.0.1 and AF_UNIX, measured in one run.
pub(crate) fn loopback_vs_unix(seed: u64) -> Run {
    let mut checks = Checks::default();
    let window = pattern_window();
    let mut ustack = match UstackNet::new(seed) {
        Ok(u) => u,
        Err(e) => {
            checks.that("ustack's stack starts", false, e);
            return Run { checks, real_time: true, ..Run::default() };
        }
    };
    let started = Instant::now();
    let mut results: Vec<(Kind, Vec<(Bulk, Rtt)>)> =
        Kind::ALL.iter().map(|k| (*k, Vec::new())).collect();
    let mut errors = Vec::new();
    // The transports take turns, so that a burst of load elsewhere on the machine falls on
    // one round of each rather than on all rounds of one.
    for _ in 0..ROUNDS {
        for (kind, rounds) in &mut results {
            match measure(*kind, &ustack, seed, &window) {
                Ok(r) => rounds.push(r),
                Err(e) => errors.push(e),
            }
        }
    }
    let elapsed = started.elapsed();
    checks.that(
        "every transport connects and completes every slice, no read or write timing out",
        errors.is_empty(),
        if errors.is_empty() {
            format!("{ROUNDS} rounds of 4 transports")
        } else {
            errors.join("; ")
        },
    );
    for (kind, rounds) in &results {
        let name = kind.name();
        let bulks: Vec<&Bulk> = rounds.iter().map(|r| &r.0).collect();
        checks.that(
            format!("{name}: bulk: the reader got every byte written, in order, each byte where the pattern puts it"),
            bulks.len() == ROUNDS && bulks.iter().all(|b| b.intact && b.read == b.written),
            bulks
                .iter()
                .map(|b| format!("{} of {} bytes{}", b.read, b.written, if b.intact { "" } else { ", CORRUPTED" }))
                .collect::<Vec<_>>()
                .join("; "),
        );
        let rtts: Vec<&Rtt> = rounds.iter().map(|r| &r.1).collect();
        checks.that(
            format!("{name}: round trips: every response is its request, echoed"),
            rtts.len() == ROUNDS && rtts.iter().all(|r| r.wrong == 0),
            rtts.iter()
                .map(|r| format!("{} round trips, {} wrong", r.count, r.wrong))
                .collect::<Vec<_>>()
                .join("; "),
        );
        checks.that(
            format!(
                "{name}: the numbers are measured: each bulk slice moved at least {} MiB and each round-trip slice at least {RTT_MIN} round trips, in a measured, non-zero time",
                BULK_MIN >> 20
            ),
            rounds.len() == ROUNDS
                && rounds.iter().all(|(b, r)| {
                    b.written >= BULK_MIN && !b.took.is_zero() && r.count >= RTT_MIN && !r.took.is_zero()
                }),
            rounds
                .iter()
                .map(|(b, r)| format!("{:.1} ms, {:.1} ms", b.took.as_secs_f64() * 1e3, r.took.as_secs_f64() * 1e3))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let counters = ustack.net.counters();
    let on_device = ustack.drain_device();
    checks.that(
        "ustack's traffic to 127.0.0.1 never reached its device: the loopback interface delivered every packet inside the stack",
        on_device == 0
            && counters.ip_out_loopback > 0
            && counters.ip_out_loopback == counters.ip_out_requests,
        format!(
            "{} packets sent, {} of them through the loopback interface; {on_device} on the device",
            counters.ip_out_requests, counters.ip_out_loopback
        ),
    );

    // The table: each transport's median over the rounds, with the spread.
    let stats = |k: Kind| -> Option<(f64, f64, f64, f64, f64, f64)> {
        let r = &results.iter().find(|r| r.0 == k)?.1;
        if r.is_empty() {
            return None;
        }
        let g: Vec<f64> = r.iter().map(|x| x.0.gib_per_s()).collect();
        let u: Vec<f64> = r.iter().map(|x| x.1.micros()).collect();
        let (gmin, gmax) = (
            g.iter().copied().fold(f64::INFINITY, f64::min),
            g.iter().copied().fold(0.0, f64::max),
        );
        let (umin, umax) = (
            u.iter().copied().fold(f64::INFINITY, f64::min),
            u.iter().copied().fold(0.0, f64::max),
        );
        Some((median(g), gmin, gmax, median(u), umin, umax))
    };
    let tcp = stats(Kind::KernelTcp);
    let unix = stats(Kind::Unix);
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".to_string(), |b| format!("{:.2}×", a / b));
    let mut table = format!(
        "{:<32} {:>10} {:>13} {:>9} {:>9} {:>10} {:>13} {:>9} {:>9}\n",
        "transport",
        "bulk GiB/s",
        "(min-max)",
        "vs TCP",
        "vs UNIX",
        "rtt µs",
        "(min-max)",
        "vs TCP",
        "vs UNIX"
    );
    for k in Kind::ALL {
        let Some((g, gmin, gmax, u, umin, umax)) = stats(k) else { continue };
        table += &format!(
            "{:<32} {:>10.2} {:>13} {:>9} {:>9} {:>10.1} {:>13} {:>9} {:>9}\n",
            k.name(),
            g,
            format!("{gmin:.2}-{gmax:.2}"),
            ratio(g, tcp.map(|t| t.0)),
            ratio(g, unix.map(|t| t.0)),
            u,
            format!("{umin:.1}-{umax:.1}"),
            ratio(u, tcp.map(|t| t.3)),
            ratio(u, unix.map(|t| t.3)),
        );
    }
    table += &format!(
        "\nMedian of {ROUNDS} rounds; the transports took turns. Bulk: 64 KiB writes for {} ms, \
         the reader checks every byte; throughput ratios: higher is faster. Round trip: a \
         {MSG}-byte request and its echo, TCP_NODELAY on, for {} ms; round-trip ratios are \
         ratios of times: lower is faster. The whole measurement took {:.1} s of real time on \
         {} CPU(s).",
        BULK_SLICE.as_millis(),
        RTT_SLICE.as_millis(),
        elapsed.as_secs_f64(),
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    drop(ustack);
    Run {
        checks,
        extras: vec![("What was measured (real time, this machine, this run)".into(), table)],
        real_time: true,
        ..Run::default()
    }
}
