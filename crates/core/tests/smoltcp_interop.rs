//! ustack ↔ smoltcp over an in-memory IPv4 link, in virtual time: the handshake both ways,
//! 64 MiB each way with every byte checked, and the close from either side, half-close
//! included; and the 64 MiB each way over IPv6 (smoltcp's `proto-ipv6`), both directions of
//! opening.
//!
//! The link is two FIFO queues with a fixed one-way delay of 1 ms and no loss. smoltcp sees it
//! through a raw-IP (`Medium::Ip`) [`phy::Device`] over in-memory queues; ustack through
//! `handle_packet` / `poll_transmit`. One virtual clock drives both ([`Net::now`], nanoseconds;
//! smoltcp gets it in microseconds, and in milliseconds for its TCP timestamps). The loop
//! is event-driven and never ticks: it hands each stack every packet due now, one at a time
//! and each followed by that stack's output (ustack's call order), fires due timers, lets the
//! application closure move data, flushes both stacks' output onto the link, then jumps to the
//! earliest of the next arrival, ustack's `poll_timeout` and smoltcp's `poll_at`. Every run is
//! bounded in virtual time and in iterations and panics naming the bound, both sides' sockets
//! and the last packets on the wire.
//!
//! Each transfer prints its figures (virtual time and rate per direction, segments,
//! retransmissions as the wire shows them and as ustack counts them, ustack's drops); run with
//! `--nocapture` to see them.

#![allow(clippy::print_stderr, reason = "each test prints its transfer figures, once")]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::OnceLock;

use smoltcp::iface::{Config, Interface, SocketHandle as SmolHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::AnySocket as _;
use smoltcp::socket::tcp::{self as smol_tcp, State as SmolState};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use ustack_core::tcp_engine::{DropReason, Event, RecvError, SendError, TcpState};
use ustack_core::wire::{
    ExtHeaderLimits, IpProtocol, Ipv4Packet, Ipv6Packet, SeqNum, TcpFlags, TcpOptions, TcpPacket,
};
use ustack_core::{
    Duration, Instant, InterfaceConfig, Ipv4Cidr, Ipv6Cidr, SocketEvent, SocketEventKind,
    SocketHandle, Stack, StackConfig,
};

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SMOL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const SMOL6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const PORT: u16 = 80;
const SMOL_EPHEMERAL: u16 = 49_152;
const MTU: usize = 1500;
/// One-way delay of the link: an RTT of 2 ms.
const DELAY: Duration = Duration::from_millis(1);
/// smoltcp's receive and transmit buffers.
const SMOL_BUF: usize = 256 * 1024;
/// The transfer size, each way.
const BULK: u64 = 64 << 20;
/// What the half-close tests send after the FIN.
const HALF_CLOSE_BULK: u64 = 4 << 20;
/// Largest piece an application call moves.
const CHUNK: usize = 64 * 1024;
/// Loop iterations a single run may take before it is declared stuck.
const MAX_ITERATIONS: u64 = 5_000_000;
/// Start of each direction in the pattern stream, so the two directions carry different bytes.
const FROM_SMOL: u64 = 0;
const FROM_US: u64 = 7_777_777;

// ----------------------------------------------------------------------------------------
// The byte stream both sides send and check
// ----------------------------------------------------------------------------------------

/// Byte `i` of a stream is `table[i % PERIOD]`, a seeded xorshift stream. The period, the prime
/// 2^24 - 3, is far beyond any window either side opens, so data delivered at the wrong offset
/// (duplicated, skipped, reordered) never matches by accident.
struct Pattern {
    table: Vec<u8>,
}

impl Pattern {
    const PERIOD: usize = 16_777_213;

    fn get() -> &'static Pattern {
        static PATTERN: OnceLock<Pattern> = OnceLock::new();
        PATTERN.get_or_init(|| {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut table = Vec::with_capacity(Self::PERIOD + CHUNK + 8);
            while table.len() < Self::PERIOD {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                table.extend_from_slice(&x.to_le_bytes());
            }
            table.truncate(Self::PERIOD);
            // The table runs on by one chunk so any chunk is one contiguous slice.
            table.extend_from_within(..CHUNK);
            Pattern { table }
        })
    }

    /// The `len` (at most `CHUNK`) bytes at stream offset `offset`.
    fn slice(&self, offset: u64, len: usize) -> &[u8] {
        assert!(len <= CHUNK);
        let start = (offset % Self::PERIOD as u64) as usize;
        &self.table[start..start + len]
    }
}

/// One direction of a transfer: how much the sender has handed to its stack, how much the
/// receiver has read and checked, and whether it has seen the end of the stream.
#[derive(Debug)]
struct Stream {
    name: &'static str,
    base: u64,
    total: u64,
    sent: u64,
    received: u64,
    eof: bool,
    /// When the last byte was read.
    done_at: Option<u64>,
}

impl Stream {
    fn new(name: &'static str, base: u64, total: u64) -> Stream {
        Stream { name, base, total, sent: 0, received: 0, eof: false, done_at: None }
    }

    fn to_send(&self) -> &'static [u8] {
        let len = (self.total - self.sent).min(CHUNK as u64) as usize;
        Pattern::get().slice(self.base + self.sent, len)
    }

    fn check(&mut self, now: u64, data: &[u8]) {
        let offset = self.received;
        assert!(
            offset + data.len() as u64 <= self.total,
            "{}: {} bytes arrived at offset {offset}, past the {} sent",
            self.name,
            data.len(),
            self.total
        );
        let want = Pattern::get().slice(self.base + offset, data.len());
        if data != want {
            let i = data.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{}: byte {} of the stream is {:#04x}, want {:#04x}",
                self.name,
                offset + i as u64,
                data[i],
                want[i]
            );
        }
        self.received += data.len() as u64;
        if self.complete() && self.done_at.is_none() {
            self.done_at = Some(now);
        }
    }

    fn complete(&self) -> bool {
        self.received == self.total
    }
}

// ----------------------------------------------------------------------------------------
// smoltcp's device: two in-memory queues
// ----------------------------------------------------------------------------------------

/// Packets the loop has delivered to smoltcp (`rx`) and packets smoltcp sent (`tx`).
#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

impl Device for Queues {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: SmolInstant) -> Option<(RxToken, TxToken<'_>)> {
        let packet = self.rx.pop_front()?;
        Some((RxToken(packet), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: SmolInstant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

struct RxToken(Vec<u8>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let r = f(&mut packet);
        self.0.push_back(packet);
        r
    }
}

thread_local! {
    /// The virtual clock in milliseconds, for smoltcp's TCP timestamps: its generator is a
    /// plain `fn() -> u32`. Every test runs on its own thread.
    static CLOCK_MS: Cell<u32> = const { Cell::new(0) };
}

fn smol_tsval() -> u32 {
    CLOCK_MS.with(Cell::get)
}

// ----------------------------------------------------------------------------------------
// The wire: what crosses it, for retransmission counts and failure messages
// ----------------------------------------------------------------------------------------

/// Direction index: 0 = ustack → smoltcp, 1 = smoltcp → ustack.
const DIR_NAMES: [&str; 2] = ["ustack→smoltcp", "smoltcp→ustack"];

#[derive(Default)]
struct Tap {
    /// Highest sequence number sent so far (past SYN, data and FIN), per direction.
    high: [Option<SeqNum>; 2],
    /// Segments that carried sequence space already sent: retransmissions as the wire sees
    /// them.
    retransmits: [u64; 2],
    segments: [u64; 2],
    /// Pure ACKs repeating the previous segment's ACK number and window: duplicate ACKs
    /// (RFC 5681 §2), which a lossless in-order link should not cause.
    dup_acks: [u64; 2],
    last_ack: [Option<(SeqNum, u16)>; 2],
    /// The SYNs, one line each.
    syns: Vec<String>,
    /// The last packets, one line each, for failure messages.
    recent: VecDeque<String>,
}

impl Tap {
    const RECENT: usize = 40;

    fn record(&mut self, now: u64, dir: usize, packet: &[u8]) {
        let line = match tcp_summary(packet) {
            Some(Summary { seq, seg_len, syn, ack, line }) => {
                self.segments[dir] += 1;
                if syn {
                    self.syns.push(format!("{} {line}", DIR_NAMES[dir]));
                }
                if seg_len == 0 && ack.is_some() && ack == self.last_ack[dir] {
                    self.dup_acks[dir] += 1;
                }
                self.last_ack[dir] = ack;
                if seg_len > 0 {
                    let end = seq + seg_len;
                    match self.high[dir] {
                        Some(high) if seq < high => self.retransmits[dir] += 1,
                        _ => {}
                    }
                    self.high[dir] = Some(self.high[dir].map_or(end, |h| h.max(end)));
                }
                line
            }
            None => format!("{} bytes, not TCP", packet.len()),
        };
        if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(format!("{} {:>14} {line}", fmt_ns(now), DIR_NAMES[dir]));
    }
}

/// What the tap reads from a TCP/IPv4 packet.
struct Summary {
    seq: SeqNum,
    /// Length in sequence space (payload, SYN, FIN).
    seg_len: u32,
    syn: bool,
    /// ACK number and window field of an ACK.
    ack: Option<(SeqNum, u16)>,
    /// One line, like tcpdump's.
    line: String,
}

fn tcp_summary(packet: &[u8]) -> Option<Summary> {
    let payload = if packet.first()? >> 4 == 6 {
        let ip = Ipv6Packet::new_checked(packet).ok()?;
        let chain = ip.walk_ext_headers(&ExtHeaderLimits::DEFAULT).ok()?;
        if chain.protocol != IpProtocol::TCP {
            return None;
        }
        &packet[40 + chain.offset..]
    } else {
        let ip = Ipv4Packet::new_checked(packet).ok()?;
        if ip.protocol() != IpProtocol::TCP {
            return None;
        }
        &packet[ip.header_len()..usize::from(ip.total_len())]
    };
    let tcp = TcpPacket::new_checked(payload).ok()?;
    let flags = tcp.flags();
    let len = tcp.payload().len() as u32
        + u32::from(flags.contains(TcpFlags::SYN))
        + u32::from(flags.contains(TcpFlags::FIN));
    let mut line = format!(
        "{flags} seq {} ack {} win {} len {}",
        tcp.seq_number(),
        tcp.ack_number(),
        tcp.window_len(),
        tcp.payload().len()
    );
    if flags.contains(TcpFlags::SYN)
        && let Ok(o) = TcpOptions::parse(tcp.options())
    {
        let _ = write!(
            line,
            " <mss {:?} wscale {:?} sackOK {} ts {}>",
            o.mss,
            o.window_scale,
            o.sack_permitted,
            o.timestamps.is_some()
        );
    }
    let ack = flags.contains(TcpFlags::ACK).then(|| (tcp.ack_number(), tcp.window_len()));
    let syn = flags.contains(TcpFlags::SYN);
    Some(Summary { seq: tcp.seq_number(), seg_len: len, syn, ack, line })
}

fn fmt_ns(ns: u64) -> String {
    format!("{}.{:06}s", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000)
}

// ----------------------------------------------------------------------------------------
// The network: both stacks, the link and the event loop
// ----------------------------------------------------------------------------------------

struct Net {
    /// Virtual time, nanoseconds.
    now: u64,
    us: Stack,
    iface: Interface,
    dev: Queues,
    sockets: SocketSet<'static>,
    /// Packets in flight: (arrival time, bytes). FIFO, since the delay is fixed.
    to_us: VecDeque<(u64, Vec<u8>)>,
    to_smol: VecDeque<(u64, Vec<u8>)>,
    tap: Tap,
    /// ustack's socket events, with when they came out.
    events: Vec<(u64, SocketEvent)>,
    iterations: u64,
    buf: Vec<u8>,
    /// Over IPv6 (else IPv4).
    v6: bool,
}

impl Net {
    fn new(cfg: StackConfig) -> Net {
        Net::with_family(cfg, false)
    }

    /// Both ends on 2001:db8::/64 (and 10.0.0.0/24), the connection over IPv6.
    fn new6(cfg: StackConfig) -> Net {
        Net::with_family(cfg, true)
    }

    fn with_family(cfg: StackConfig, v6: bool) -> Net {
        let now = 1_000_000_000;
        let mut us = Stack::new(cfg).expect("valid config");
        us.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(US, 24).unwrap(), MTU as u16));
        us.add_ipv6_addr(0, Ipv6Cidr::new(US6, 64).unwrap());
        let mut dev = Queues::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = 0x5eed;
        let mut iface = Interface::new(config, &mut dev, smol_instant(now));
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(IpAddress::Ipv4(SMOL), 24)).unwrap();
            addrs.push(IpCidr::new(IpAddress::Ipv6(SMOL6), 64)).unwrap();
        });
        CLOCK_MS.with(|c| c.set((now / 1_000_000) as u32));
        Net {
            now,
            us,
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            to_us: VecDeque::new(),
            to_smol: VecDeque::new(),
            tap: Tap::default(),
            events: Vec::new(),
            iterations: 0,
            buf: vec![0; 65_536],
            v6,
        }
    }

    /// ustack's address for the test's family.
    fn us_ip(&self) -> IpAddr {
        if self.v6 { IpAddr::V6(US6) } else { IpAddr::V4(US) }
    }

    /// smoltcp's address for the test's family.
    fn smol_ip(&self) -> IpAddr {
        if self.v6 { IpAddr::V6(SMOL6) } else { IpAddr::V4(SMOL) }
    }

    fn instant(&self) -> Instant {
        Instant::from_nanos(self.now)
    }

    /// A smoltcp TCP socket with 256 KiB buffers and timestamps on, added to the set.
    fn smol_socket(&mut self) -> SmolHandle {
        let mut s = smol_tcp::Socket::new(
            smol_tcp::SocketBuffer::new(vec![0; SMOL_BUF]),
            smol_tcp::SocketBuffer::new(vec![0; SMOL_BUF]),
        );
        s.set_tsval_generator(Some(smol_tsval));
        self.sockets.add(s)
    }

    fn smol(&mut self, h: SmolHandle) -> &mut smol_tcp::Socket<'static> {
        self.sockets.get_mut::<smol_tcp::Socket<'static>>(h)
    }

    fn smol_state(&mut self, h: SmolHandle) -> SmolState {
        self.smol(h).state()
    }

    fn us_state(&self, h: SocketHandle) -> Option<TcpState> {
        self.us.contains(h).then(|| self.us.tcp_state(h))
    }

    /// Inputs due now, each followed by that stack's output as the call orders ask: every
    /// packet that arrives for ustack, ustack's timers, every packet that arrives for smoltcp
    /// (one `Interface::poll` each, which also fires smoltcp's timers).
    fn input(&mut self) {
        let now = self.instant();
        while self.to_us.front().is_some_and(|(at, _)| *at <= self.now) {
            let (_, packet) = self.to_us.pop_front().unwrap();
            self.us.handle_packet(now, 0, &packet);
            self.us_output();
        }
        if self.us.poll_timeout().is_some_and(|t| t <= now) {
            self.us.handle_timeout(now);
            self.us_output();
        }
        while self.to_smol.front().is_some_and(|(at, _)| *at <= self.now) {
            let (_, packet) = self.to_smol.pop_front().unwrap();
            self.dev.rx.push_back(packet);
            self.smol_output();
        }
        self.smol_output();
    }

    /// Outputs after the application has run.
    fn output(&mut self) {
        self.us_output();
        self.smol_output();
    }

    /// ustack's packets go on the link, its events into the log.
    fn us_output(&mut self) {
        let now = self.instant();
        let arrive = self.now + DELAY.as_nanos() as u64;
        while let Some(t) = self.us.poll_transmit(now, &mut self.buf) {
            assert_eq!(t.iface, 0);
            let packet = self.buf[..t.len].to_vec();
            self.tap.record(self.now, 0, &packet);
            self.to_smol.push_back((arrive, packet));
        }
        while let Some(e) = self.us.poll_event() {
            self.events.push((self.now, e));
        }
    }

    /// smoltcp's poll takes in what its device holds, fires its timers and sends what its
    /// sockets have; its packets go on the link.
    fn smol_output(&mut self) {
        self.iface.poll(smol_instant(self.now), &mut self.dev, &mut self.sockets);
        let arrive = self.now + DELAY.as_nanos() as u64;
        while let Some(packet) = self.dev.tx.pop_front() {
            self.tap.record(self.now, 1, &packet);
            self.to_us.push_back((arrive, packet));
        }
    }

    /// When something happens next: an arrival, ustack's timer or smoltcp's.
    fn next_event(&mut self) -> Option<u64> {
        let smol = self
            .iface
            .poll_at(smol_instant(self.now), &self.sockets)
            .map(|t| u64::try_from(t.total_micros()).unwrap_or(0) * 1_000);
        [
            self.to_us.front().map(|p| p.0),
            self.to_smol.front().map(|p| p.0),
            self.us.poll_timeout().map(Instant::as_nanos),
            smol,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs until `app` (called once per loop iteration, after the inputs due now and before
    /// the outputs) returns true. Panics when `limit` of virtual time passes first, when the
    /// loop exceeds `MAX_ITERATIONS`, or when nothing is left to happen.
    fn run(&mut self, what: &str, limit: Duration, mut app: impl FnMut(&mut Net) -> bool) {
        let deadline = self.now + limit.as_nanos() as u64;
        let start = self.iterations;
        // Whether the application has had one more look at this instant: draining the output
        // can change what it sees (ustack frees a finished socket while it drains).
        let mut last_look = false;
        loop {
            self.iterations += 1;
            if self.iterations - start > MAX_ITERATIONS {
                self.stuck(what, &format!("{MAX_ITERATIONS} loop iterations"));
            }
            self.input();
            let done = app(self);
            self.output();
            if done {
                return;
            }
            match self.next_event() {
                Some(t) if t <= deadline => {
                    self.set_now(t.max(self.now));
                    last_look = false;
                }
                _ if !last_look => last_look = true,
                Some(_) => self.stuck(what, &format!("{limit:?} of virtual time")),
                None => self.stuck(what, "quiet: nothing in flight and no timer"),
            }
        }
    }

    /// Advances the clock by `d`, running every event on the way.
    fn run_for(&mut self, d: Duration) {
        let until = self.now + d.as_nanos() as u64;
        for _ in 0..MAX_ITERATIONS {
            self.iterations += 1;
            self.input();
            self.output();
            match self.next_event() {
                Some(t) if t <= until => self.set_now(t.max(self.now)),
                _ => {
                    self.set_now(until);
                    self.input();
                    self.output();
                    return;
                }
            }
        }
        self.stuck(&format!("running for {d:?}"), &format!("{MAX_ITERATIONS} loop iterations"));
    }

    fn set_now(&mut self, now: u64) {
        self.now = now;
        CLOCK_MS.with(|c| c.set((now / 1_000_000) as u32));
    }

    fn stuck(&mut self, what: &str, bound: &str) -> ! {
        let mut msg = format!("{what}: stopped after {bound}, at {}\n", fmt_ns(self.now));
        let _ = writeln!(msg, "ustack sockets:\n{}", self.us.netstat(self.instant()));
        for (_, s) in self.sockets.iter() {
            if let Some(s) = smol_tcp::Socket::downcast(s) {
                let _ = writeln!(
                    msg,
                    "smoltcp socket: {} send-q {} recv-q {}",
                    s.state(),
                    s.send_queue(),
                    s.recv_queue()
                );
            }
        }
        let _ = writeln!(msg, "last packets on the wire:");
        for line in &self.tap.recent {
            let _ = writeln!(msg, "  {line}");
        }
        panic!("{msg}");
    }

    // ---- the applications ----

    /// ustack's application writes as much of `s` as its send buffer takes.
    fn us_send(&mut self, h: SocketHandle, s: &mut Stream) {
        while s.sent < s.total {
            match self.us.tcp_send(h, s.to_send()) {
                Ok(n) => s.sent += n as u64,
                Err(SendError::Full) => break,
                Err(e) => panic!("{}: ustack send failed: {e}", s.name),
            }
        }
    }

    /// ustack's application reads and checks everything it can.
    fn us_recv(&mut self, h: SocketHandle, s: &mut Stream) {
        let mut buf = [0u8; CHUNK];
        loop {
            match self.us.tcp_recv(h, &mut buf) {
                Ok(0) => {
                    s.eof = true;
                    return;
                }
                Ok(n) => s.check(self.now, &buf[..n]),
                Err(RecvError::WouldBlock) => return,
                Err(e) => panic!("{}: ustack recv failed: {e}", s.name),
            }
        }
    }

    /// smoltcp's application writes as much of `s` as its send buffer takes.
    fn smol_send(&mut self, h: SmolHandle, s: &mut Stream) {
        let sock = self.smol(h);
        while s.sent < s.total {
            match sock.send_slice(s.to_send()) {
                Ok(0) => break,
                Ok(n) => s.sent += n as u64,
                Err(e) => panic!("{}: smoltcp send failed: {e} in {}", s.name, sock.state()),
            }
        }
    }

    /// smoltcp's application reads and checks everything it can.
    fn smol_recv(&mut self, h: SmolHandle, s: &mut Stream) {
        let now = self.now;
        let sock = self.smol(h);
        loop {
            match sock.recv(|data| {
                let n = data.len().min(CHUNK);
                s.check(now, &data[..n]);
                (n, n)
            }) {
                Ok(0) => return,
                Ok(_) => {}
                Err(smol_tcp::RecvError::Finished) => {
                    s.eof = true;
                    return;
                }
                Err(e) => panic!("{}: smoltcp recv failed: {e} in {}", s.name, sock.state()),
            }
        }
    }

    // ---- what ustack reported ----

    /// The state changes ustack reported for `h` since tracing was switched on, with their
    /// times.
    fn us_transitions(&self, h: SocketHandle) -> Vec<(u64, TcpState)> {
        self.events
            .iter()
            .filter(|(_, e)| e.socket == h)
            .filter_map(|&(t, e)| match e.kind {
                SocketEventKind::Tcp(Event::StateChanged { to, .. }) => Some((t, to)),
                _ => None,
            })
            .collect()
    }

    fn us_closed_events(&self, h: SocketHandle) -> Vec<SocketEventKind> {
        self.events
            .iter()
            .filter(|(_, e)| e.socket == h)
            .map(|(_, e)| e.kind)
            .filter(|k| matches!(k, SocketEventKind::Tcp(Event::Closed(_))))
            .collect()
    }

    /// The figures of a transfer that started at `t0` and loop iteration `i0`: per stream its
    /// virtual duration and rate, then the segment, retransmission and duplicate-ACK counts
    /// the tap saw since the connection opened, and ustack's own retransmission count.
    fn report(&self, what: &str, t0: u64, i0: u64, streams: &[&Stream], h: SocketHandle) {
        let mut msg = format!("{what} ({} loop iterations):", self.iterations - i0);
        for s in streams {
            let took = s.done_at.expect("reported after the stream completed") - t0;
            let _ = write!(
                msg,
                "\n  {}: {} MiB in {} virtual, {:.1} MB/s",
                s.name,
                s.total >> 20,
                fmt_ns(took),
                s.total as f64 / (took as f64 / 1e9) / 1e6
            );
        }
        for (dir, name) in DIR_NAMES.iter().enumerate() {
            let _ = write!(
                msg,
                "\n  wire {name}: {} segments, {} retransmitted, {} duplicate ACKs",
                self.tap.segments[dir], self.tap.retransmits[dir], self.tap.dup_acks[dir]
            );
        }
        if self.us.contains(h) {
            let stats = self.us.tcp_conn(h).stats();
            let _ = write!(
                msg,
                "\n  ustack: {} retransmissions, {} segments dropped",
                stats.retransmits,
                stats.dropped_total()
            );
            for r in DropReason::ALL.into_iter().filter(|&r| stats.dropped(r) > 0) {
                let _ = write!(msg, " ({} {r})", stats.dropped(r));
            }
        }
        eprintln!("{msg}");
    }
}

fn smol_instant(ns: u64) -> SmolInstant {
    SmolInstant::from_micros((ns / 1_000) as i64)
}

fn tuple_names(states: &[(u64, TcpState)]) -> Vec<TcpState> {
    states.iter().map(|&(_, s)| s).collect()
}

// ----------------------------------------------------------------------------------------
// Phases shared by the tests
// ----------------------------------------------------------------------------------------

/// smoltcp connects to a ustack listener; returns (ustack's accepted socket, smoltcp's).
fn smoltcp_connects(net: &mut Net) -> (SocketHandle, SmolHandle) {
    let listener = net.us.tcp_listen(SocketAddr::new(net.us_ip(), PORT), 8, false).unwrap();
    let sh = net.smol_socket();
    let remote = match net.us_ip() {
        IpAddr::V4(a) => IpAddress::Ipv4(a),
        IpAddr::V6(a) => IpAddress::Ipv6(a),
    };
    let cx = net.iface.context();
    net.sockets
        .get_mut::<smol_tcp::Socket<'static>>(sh)
        .connect(cx, (remote, PORT), SMOL_EPHEMERAL)
        .unwrap();
    let mut accepted = None;
    net.run("handshake smoltcp → ustack", Duration::from_secs(5), |n| {
        if accepted.is_none() {
            accepted = n.us.tcp_accept(listener);
        }
        accepted.is_some_and(|h| n.us_state(h) == Some(TcpState::Established))
            && n.smol_state(sh) == SmolState::Established
    });
    net.us.close(net.instant(), listener);
    (accepted.unwrap(), sh)
}

/// ustack connects to a smoltcp listener; returns (ustack's socket, smoltcp's).
fn ustack_connects(net: &mut Net) -> (SocketHandle, SmolHandle) {
    let sh = net.smol_socket();
    net.smol(sh).listen(PORT).unwrap();
    let remote = SocketAddr::new(net.smol_ip(), PORT);
    let h = net.us.tcp_connect(net.instant(), None, remote).unwrap();
    net.run("handshake ustack → smoltcp", Duration::from_secs(5), |n| {
        n.us_state(h) == Some(TcpState::Established) && n.smol_state(sh) == SmolState::Established
    });
    (h, sh)
}

/// `BULK` bytes each way at once, every byte checked on arrival.
fn bulk_both_ways(net: &mut Net, h: SocketHandle, sh: SmolHandle, what: &str) {
    let (t0, i0) = (net.now, net.iterations);
    let mut up = Stream::new("smoltcp → ustack", FROM_SMOL, BULK);
    let mut down = Stream::new("ustack → smoltcp", FROM_US, BULK);
    net.run(what, Duration::from_secs(300), |n| {
        n.smol_send(sh, &mut up);
        n.us_send(h, &mut down);
        n.us_recv(h, &mut up);
        n.smol_recv(sh, &mut down);
        up.complete() && down.complete()
    });
    assert!(!up.eof && !down.eof, "no FIN before the end of the transfer");
    net.report(what, t0, i0, &[&up, &down], h);
    net.run("last ACKs", Duration::from_secs(5), |n| {
        n.us.tcp_conn(h).send_queue() == 0 && n.smol(sh).send_queue() == 0
    });
    let stats = net.us.tcp_conn(h).stats();
    assert_eq!(stats.bytes_received, BULK);
    assert_eq!(stats.bytes_acked, BULK);
    // A lossless, in-order link: nothing to retransmit, nothing for ustack to drop.
    assert_eq!(stats.retransmits, 0, "ustack retransmitted on a lossless link");
    assert_eq!(net.tap.retransmits, [0, 0], "retransmissions on a lossless link");
    assert_eq!(stats.dropped_total(), 0, "ustack dropped segments from smoltcp: {stats:?}");
}

// ----------------------------------------------------------------------------------------
// The tests
// ----------------------------------------------------------------------------------------

const SECRET: [u8; 16] = [0x42; 16];

/// ustack as Linux sets up a socket: 16 KiB send buffer, 128 KiB receive buffer (ustack does
/// not tune them automatically, so the send buffer caps the flight at 16 KiB).
fn linux_defaults() -> StackConfig {
    StackConfig::new(SECRET)
}

/// ustack with smoltcp's 256 KiB send and receive buffers.
fn big_buffers() -> StackConfig {
    let mut cfg = StackConfig::new(SECRET);
    cfg.tcp.wmem.default = SMOL_BUF as u32;
    cfg.tcp.rmem.default = SMOL_BUF as u32;
    cfg
}

/// Both SYNs offered MSS 1460, window scaling, SACK and timestamps, and ustack agreed on
/// timestamps: its segments carry 1460 - 12 bytes.
fn check_handshake(net: &Net, h: SocketHandle) {
    assert_eq!(net.tap.syns.len(), 2, "one SYN each way: {:?}", net.tap.syns);
    for syn in &net.tap.syns {
        assert!(
            syn.contains("<mss Some(1460) wscale Some(") && syn.ends_with("sackOK true ts true>"),
            "SYN options: {syn}"
        );
    }
    assert_eq!(net.us.tcp_conn(h).effective_mss(), 1448);
}

/// Over IPv6 both SYNs offer MSS 1500 − 60 = 1440 (RFC 9293 §3.7.1; smoltcp derives its own
/// from the IPv6 header too), and ustack's segments carry 1440 − 12 bytes.
fn check_handshake6(net: &Net, h: SocketHandle) {
    assert_eq!(net.tap.syns.len(), 2, "one SYN each way: {:?}", net.tap.syns);
    for syn in &net.tap.syns {
        assert!(syn.contains("<mss Some(1440) wscale Some("), "SYN options: {syn}");
    }
    assert_eq!(net.us.tcp_conn(h).effective_mss(), 1428);
    assert!(net.us.tcp_conn(h).tuple().remote.is_ipv6());
}

/// Over IPv6, smoltcp opens to a ustack listener: 64 MiB each way, every byte checked,
/// nothing retransmitted or dropped on the lossless link.
#[test]
fn ipv6_smoltcp_client_ustack_listener_64mib_each_way() {
    let mut net = Net::new6(linux_defaults());
    let (h, sh) = smoltcp_connects(&mut net);
    check_handshake6(&net, h);
    bulk_both_ways(&mut net, h, sh, "IPv6: smoltcp client ⇄ ustack listener (Linux defaults)");
    let c = net.us.counters();
    assert!(c.ip6_in_receives > 0 && c.ip_in_receives == 0, "IPv6 only");
}

/// Over IPv6, ustack opens to a smoltcp listener: 64 MiB each way.
#[test]
fn ipv6_ustack_client_smoltcp_listener_64mib_each_way() {
    let mut net = Net::new6(big_buffers());
    let (h, sh) = ustack_connects(&mut net);
    check_handshake6(&net, h);
    bulk_both_ways(&mut net, h, sh, "IPv6: ustack client (256 KiB buffers) ⇄ smoltcp listener");
    let c = net.us.counters();
    assert!(c.ip6_out_requests > 0 && c.ip_out_requests == 0, "IPv6 only");
}

/// smoltcp opens, 64 MiB flow each way, ustack (Linux defaults) closes first: FIN-WAIT-1,
/// FIN-WAIT-2 (skipped when smoltcp's FIN carries the ACK of ours), TIME-WAIT for 2·MSL = 60 s,
/// CLOSED; smoltcp goes CLOSE-WAIT, LAST-ACK, CLOSED.
#[test]
fn smoltcp_client_ustack_listener_64mib_each_way_ustack_closes_first() {
    let mut net = Net::new(linux_defaults());
    let (h, sh) = smoltcp_connects(&mut net);
    check_handshake(&net, h);
    bulk_both_ways(&mut net, h, sh, "smoltcp client ⇄ ustack listener (Linux defaults)");

    net.us.set_tracing(true);
    net.us.close(net.instant(), h);
    let mut rest = Stream::new("ustack → smoltcp, after the transfer", FROM_US, 0);
    net.run("ustack's FIN reaches smoltcp", Duration::from_secs(5), |n| {
        n.smol_recv(sh, &mut rest);
        rest.eof
    });
    assert_eq!(net.smol_state(sh), SmolState::CloseWait);
    net.smol(sh).close();
    net.run("smoltcp's FIN is acknowledged", Duration::from_secs(5), |n| {
        n.smol_state(sh) == SmolState::Closed
    });
    assert_eq!(net.us_state(h), Some(TcpState::TimeWait), "ustack waits in TIME-WAIT");

    net.run("ustack's TIME-WAIT ends", Duration::from_secs(61), |n| !n.us.contains(h));
    let states = net.us_transitions(h);
    let names = tuple_names(&states);
    assert!(
        names == [TcpState::FinWait1, TcpState::FinWait2, TcpState::TimeWait, TcpState::Closed]
            || names == [TcpState::FinWait1, TcpState::TimeWait, TcpState::Closed],
        "ustack's states after close: {names:?}"
    );
    let time_wait = states[states.len() - 2].0;
    let closed = states[states.len() - 1].0;
    assert_eq!(closed - time_wait, 60_000_000_000, "TIME-WAIT lasts 2·MSL = 60 s");
    assert_eq!(net.us_closed_events(h), [SocketEventKind::Tcp(Event::Closed(None))]);
    assert_eq!(net.us.socket_count(), 0, "the slot is freed once CLOSED");
    assert!(net.to_us.is_empty() && net.to_smol.is_empty());
    eprintln!(
        "close: ustack {names:?}, TIME-WAIT from {} to {}",
        fmt_ns(time_wait),
        fmt_ns(closed)
    );
}

/// ustack (256 KiB buffers) opens, 64 MiB flow each way, smoltcp closes first: ustack goes
/// CLOSE-WAIT, then on close LAST-ACK and CLOSED; smoltcp FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT,
/// CLOSED.
#[test]
fn ustack_client_smoltcp_listener_64mib_each_way_smoltcp_closes_first() {
    let mut net = Net::new(big_buffers());
    let (h, sh) = ustack_connects(&mut net);
    check_handshake(&net, h);
    bulk_both_ways(&mut net, h, sh, "ustack client (256 KiB buffers) ⇄ smoltcp listener");

    net.us.set_tracing(true);
    net.smol(sh).close();
    let mut rest = Stream::new("smoltcp → ustack, after the transfer", FROM_SMOL, 0);
    net.run("smoltcp's FIN reaches ustack", Duration::from_secs(5), |n| {
        n.us_recv(h, &mut rest);
        rest.eof
    });
    assert_eq!(net.us_state(h), Some(TcpState::CloseWait));
    net.run("smoltcp's FIN is acknowledged", Duration::from_secs(5), |n| {
        n.smol_state(sh) == SmolState::FinWait2
    });

    net.us.close(net.instant(), h);
    net.run("ustack's FIN is acknowledged", Duration::from_secs(5), |n| !n.us.contains(h));
    let names = tuple_names(&net.us_transitions(h));
    assert_eq!(names, [TcpState::CloseWait, TcpState::LastAck, TcpState::Closed]);
    assert_eq!(net.us_closed_events(h), [SocketEventKind::Tcp(Event::Closed(None))]);
    assert_eq!(net.smol_state(sh), SmolState::TimeWait);
    net.run("smoltcp's TIME-WAIT ends", Duration::from_secs(30), |n| {
        n.smol_state(sh) == SmolState::Closed
    });
    assert!(net.to_us.is_empty() && net.to_smol.is_empty());
    eprintln!("close: ustack {names:?}");
}

/// Half-close, ustack first: ustack shuts down writing after 1 MiB; smoltcp reads it and the
/// FIN (CLOSE-WAIT), then sends 4 MiB that ustack, in FIN-WAIT-2, receives whole; then smoltcp
/// closes and ustack goes through TIME-WAIT to CLOSED, its handle still its application's.
#[test]
fn half_close_ustack_shuts_down_writing_smoltcp_keeps_sending() {
    let mut net = Net::new(linux_defaults());
    let (h, sh) = ustack_connects(&mut net);
    let mut down = Stream::new("ustack → smoltcp", FROM_US, 1 << 20);
    net.run("1 MiB ustack → smoltcp", Duration::from_secs(30), |n| {
        n.us_send(h, &mut down);
        n.smol_recv(sh, &mut down);
        down.sent == down.total
    });
    net.us.set_tracing(true);
    net.us.tcp_shutdown_write(h);
    net.run("ustack's FIN reaches smoltcp", Duration::from_secs(30), |n| {
        n.smol_recv(sh, &mut down);
        down.eof
    });
    assert!(down.complete());
    assert_eq!(net.smol_state(sh), SmolState::CloseWait);
    net.run("ustack's FIN is acknowledged", Duration::from_secs(5), |n| {
        n.us_state(h) == Some(TcpState::FinWait2)
    });

    let (t0, i0) = (net.now, net.iterations);
    let mut up = Stream::new("smoltcp → ustack in FIN-WAIT-2", FROM_SMOL, HALF_CLOSE_BULK);
    net.run("smoltcp sends after ustack's FIN", Duration::from_secs(30), |n| {
        n.smol_send(sh, &mut up);
        n.us_recv(h, &mut up);
        up.complete()
    });
    net.report("half-close, ustack first", t0, i0, &[&up], h);
    assert_eq!(net.us_state(h), Some(TcpState::FinWait2), "still receiving in FIN-WAIT-2");

    net.smol(sh).close();
    net.run("smoltcp's FIN reaches ustack", Duration::from_secs(5), |n| {
        n.us_recv(h, &mut up);
        up.eof && n.smol_state(sh) == SmolState::Closed
    });
    assert_eq!(net.us_state(h), Some(TcpState::TimeWait));
    net.run_for(Duration::from_secs(61));
    assert_eq!(net.us_state(h), Some(TcpState::Closed), "TIME-WAIT over, the handle still held");
    let names = tuple_names(&net.us_transitions(h));
    assert_eq!(
        names,
        [TcpState::FinWait1, TcpState::FinWait2, TcpState::TimeWait, TcpState::Closed]
    );
    assert_eq!(net.us_closed_events(h), [SocketEventKind::Tcp(Event::Closed(None))]);
    let stats = net.us.tcp_conn(h).stats();
    assert_eq!((stats.retransmits, stats.dropped_total()), (0, 0));
    assert_eq!(net.tap.retransmits, [0, 0]);
    net.us.close(net.instant(), h);
    net.run_for(Duration::from_millis(1));
    assert_eq!(net.us.socket_count(), 0);
}

/// Half-close, smoltcp first: smoltcp closes its side after 1 MiB; ustack reads it and the
/// FIN (CLOSE-WAIT), then sends 4 MiB that smoltcp, in FIN-WAIT-2, receives whole; then ustack
/// closes: LAST-ACK, CLOSED; smoltcp TIME-WAIT, CLOSED.
#[test]
fn half_close_smoltcp_shuts_down_writing_ustack_keeps_sending() {
    let mut net = Net::new(linux_defaults());
    let (h, sh) = smoltcp_connects(&mut net);
    let mut up = Stream::new("smoltcp → ustack", FROM_SMOL, 1 << 20);
    net.run("1 MiB smoltcp → ustack", Duration::from_secs(30), |n| {
        n.smol_send(sh, &mut up);
        n.us_recv(h, &mut up);
        up.sent == up.total
    });
    net.us.set_tracing(true);
    net.smol(sh).close();
    net.run("smoltcp's FIN reaches ustack", Duration::from_secs(30), |n| {
        n.us_recv(h, &mut up);
        up.eof
    });
    assert!(up.complete());
    assert_eq!(net.us_state(h), Some(TcpState::CloseWait));
    net.run("smoltcp's FIN is acknowledged", Duration::from_secs(5), |n| {
        n.smol_state(sh) == SmolState::FinWait2
    });

    let (t0, i0) = (net.now, net.iterations);
    let mut down = Stream::new("ustack in CLOSE-WAIT → smoltcp", FROM_US, HALF_CLOSE_BULK);
    net.run("ustack sends in CLOSE-WAIT", Duration::from_secs(30), |n| {
        n.us_send(h, &mut down);
        n.smol_recv(sh, &mut down);
        down.complete()
    });
    net.report("half-close, smoltcp first", t0, i0, &[&down], h);
    assert_eq!(net.smol_state(sh), SmolState::FinWait2, "still receiving in FIN-WAIT-2");
    let stats = net.us.tcp_conn(h).stats();
    assert_eq!((stats.retransmits, stats.dropped_total()), (0, 0));
    assert_eq!(net.tap.retransmits, [0, 0]);

    net.us.close(net.instant(), h);
    net.run("ustack's FIN is acknowledged", Duration::from_secs(5), |n| {
        n.smol_recv(sh, &mut down);
        down.eof && !n.us.contains(h)
    });
    let names = tuple_names(&net.us_transitions(h));
    assert_eq!(names, [TcpState::CloseWait, TcpState::LastAck, TcpState::Closed]);
    assert_eq!(net.us_closed_events(h), [SocketEventKind::Tcp(Event::Closed(None))]);
    assert_eq!(net.smol_state(sh), SmolState::TimeWait);
    net.run("smoltcp's TIME-WAIT ends", Duration::from_secs(30), |n| {
        n.smol_state(sh) == SmolState::Closed
    });
}
