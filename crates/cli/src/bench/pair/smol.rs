//! Two smoltcp interfaces joined in memory: raw IP (`Medium::Ip`), software checksums (the
//! device's default capabilities), TCP timestamps on as on ustack's side.
//!
//! smoltcp has no listen backlog and no accept: a socket in LISTEN becomes the connection,
//! so B keeps one listening socket per port ready and arms another when one is taken.
//! Sockets the application closed go back to a free list once they reach CLOSED and are
//! reused, as an application on smoltcp would (no allocation per connection).
//!
//! Idle connections are set up in small socket sets of their own and then moved into the
//! pair's sets ([`SocketSet::remove`], [`SocketSet::add`]): smoltcp looks for the socket of
//! every incoming packet by walking the whole set, so opening 100,000 connections inside a
//! set that already holds them would take hours. Once moved they are exactly what they
//! would be; what the workloads measure (packets walking the full set) is smoltcp's own.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use super::{
    A_ADDR, B_ADDR, CLIENT_PORTS, Clock, IDLE_PER_PORT, IDLE_PORT, Pair, PairConfig, Recv,
};

/// The most idle connections a smoltcp pair takes. `SocketSet::add` looks for a free slot by
/// walking every slot, so opening `n` connections visits about n²/2 slots: 100k take some
/// seconds, 500k most of an hour.
pub(crate) const MAX_IDLE: usize = 100_000;

/// The send and receive buffer of each idle socket: smoltcp allocates its buffers up front
/// and cannot grow them, and an idle connection carries nothing.
pub(crate) const IDLE_BUFFER: usize = 4096;

/// The packets in flight each way, and the buffers of packets already taken in.
#[derive(Default)]
struct Wire {
    to_a: VecDeque<Vec<u8>>,
    to_b: VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    sent: u64,
}

/// One side's view of the wire.
struct Port {
    wire: Rc<RefCell<Wire>>,
    is_a: bool,
    mtu: usize,
}

impl Device for Port {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken;

    fn receive(&mut self, _: SmolInstant) -> Option<(RxToken, TxToken)> {
        let packet = {
            let mut w = self.wire.borrow_mut();
            if self.is_a { w.to_a.pop_front() } else { w.to_b.pop_front() }
        }?;
        Some((
            RxToken { wire: Rc::clone(&self.wire), packet },
            TxToken { wire: Rc::clone(&self.wire), to_a: !self.is_a },
        ))
    }

    fn transmit(&mut self, _: SmolInstant) -> Option<TxToken> {
        Some(TxToken { wire: Rc::clone(&self.wire), to_a: !self.is_a })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

struct RxToken {
    wire: Rc<RefCell<Wire>>,
    packet: Vec<u8>,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.packet);
        self.wire.borrow_mut().free.push(self.packet);
        r
    }
}

struct TxToken {
    wire: Rc<RefCell<Wire>>,
    to_a: bool,
}

impl phy::TxToken for TxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = self.wire.borrow_mut().free.pop().unwrap_or_default();
        packet.resize(len, 0);
        let r = f(&mut packet);
        let mut w = self.wire.borrow_mut();
        w.sent += 1;
        if self.to_a {
            w.to_a.push_back(packet)
        } else {
            w.to_b.push_back(packet)
        }
        r
    }
}

thread_local! {
    /// The pair's clock in milliseconds, for smoltcp's TCP timestamps (its generator is a
    /// plain `fn() -> u32`).
    static CLOCK_MS: Cell<u32> = const { Cell::new(0) };
}

fn tsval() -> u32 {
    CLOCK_MS.with(Cell::get)
}

/// Which set a handle belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    A,
    B,
}

/// One side: its interface, device and sockets.
struct End {
    iface: Interface,
    dev: Port,
    sockets: SocketSet<'static>,
    /// Sockets the application closed, until they reach CLOSED.
    closing: Vec<SocketHandle>,
    /// Closed sockets to reuse.
    free: Vec<SocketHandle>,
}

impl End {
    fn new(wire: &Rc<RefCell<Wire>>, is_a: bool, mtu: usize, now: SmolInstant) -> End {
        let mut dev = Port { wire: Rc::clone(wire), is_a, mtu };
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = if is_a { 0x0005_eeda } else { 0x0005_eedb };
        let mut iface = Interface::new(config, &mut dev, now);
        let addr = if is_a { A_ADDR } else { B_ADDR };
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(IpAddress::Ipv4(addr), 24)).expect("room for an address");
        });
        End {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            closing: Vec::new(),
            free: Vec::new(),
        }
    }

    fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(h)
    }

    /// A closed socket: one the application closed that reached CLOSED, or a new one.
    fn socket(&mut self, buffer: usize) -> SocketHandle {
        let mut i = 0;
        while i < self.closing.len() {
            let h = self.closing[i];
            if self.tcp(h).state() == State::Closed {
                self.free.push(self.closing.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if let Some(h) = self.free.pop() {
            return h;
        }
        self.sockets.add(new_socket(buffer))
    }

    fn poll(&mut self, now: SmolInstant) {
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
    }
}

fn new_socket(buffer: usize) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    );
    s.set_tsval_generator(Some(tsval));
    s
}

pub(crate) struct SmolPair {
    a: End,
    b: End,
    wire: Rc<RefCell<Wire>>,
    clock: Clock,
    buffer: usize,
    /// B's listening socket per port.
    listening: HashMap<u16, SocketHandle>,
    /// The next client port A uses.
    next_port: u16,
    /// The idle connections: (A's end, B's end).
    idle: Vec<(SocketHandle, SocketHandle)>,
}

impl SmolPair {
    /// Both sides, every measured socket with `cfg.buffer` bytes of send and receive buffer
    /// (0: 64 KiB).
    pub(crate) fn new(cfg: &PairConfig) -> SmolPair {
        let clock = Clock::new();
        let now = smol_now(&clock);
        let wire = Rc::new(RefCell::new(Wire::default()));
        SmolPair {
            a: End::new(&wire, true, cfg.mtu, now),
            b: End::new(&wire, false, cfg.mtu, now),
            wire,
            clock,
            buffer: if cfg.buffer > 0 { cfg.buffer } else { 64 << 10 },
            listening: HashMap::new(),
            next_port: 49_152,
            idle: Vec::new(),
        }
    }

    fn now(&self) -> SmolInstant {
        let now = smol_now(&self.clock);
        CLOCK_MS.with(|c| c.set(now.total_millis() as u32));
        now
    }

    fn end(&mut self, side: Side) -> &mut End {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// A listening socket on B's `port`.
    fn arm(&mut self, port: u16) {
        let h = self.b.socket(self.buffer);
        self.b.tcp(h).listen(port).expect("a closed socket listens");
        self.listening.insert(port, h);
    }

    /// Polls two sets, those of a batch being set up, until `done` holds.
    fn settle(
        &mut self,
        sa: &mut SocketSet<'static>,
        sb: &mut SocketSet<'static>,
        what: &str,
        done: impl Fn(&mut SocketSet<'static>, &mut SocketSet<'static>) -> bool,
    ) -> Result<(), String> {
        for _ in 0..10_000 {
            let now = self.now();
            self.a.iface.poll(now, &mut self.a.dev, sa);
            self.b.iface.poll(now, &mut self.b.dev, sb);
            if done(sa, sb) {
                return Ok(());
            }
            let w = self.wire.borrow();
            let idle = w.to_a.is_empty() && w.to_b.is_empty();
            drop(w);
            if idle {
                let next = [self.a.iface.poll_at(now, sa), self.b.iface.poll_at(now, sb)]
                    .into_iter()
                    .flatten()
                    .min();
                if let Some(t) = next {
                    self.clock.jump_to(t.total_micros() as u64 * 1000);
                }
            }
        }
        Err(format!("smoltcp: {what} did not finish"))
    }
}

fn smol_now(clock: &Clock) -> SmolInstant {
    SmolInstant::from_micros((clock.nanos() / 1000) as i64)
}

impl Pair for SmolPair {
    type Conn = (Side, SocketHandle);

    fn listen(&mut self, port: u16) {
        if !self.listening.contains_key(&port) {
            self.arm(port);
        }
    }

    fn connect(&mut self, port: u16) -> Self::Conn {
        let local = self.next_port;
        self.next_port = if local == *CLIENT_PORTS.end() { 49_152 } else { local + 1 };
        let h = self.a.socket(self.buffer);
        let end = &mut self.a;
        let s = end.sockets.get_mut::<tcp::Socket<'static>>(h);
        s.connect(end.iface.context(), (IpAddress::Ipv4(B_ADDR), port), local)
            .expect("a closed socket connects");
        (Side::A, h)
    }

    fn accept(&mut self, port: u16) -> Option<Self::Conn> {
        let &h = self.listening.get(&port)?;
        if matches!(self.b.tcp(h).state(), State::Listen | State::SynReceived) {
            return None;
        }
        self.arm(port);
        Some((Side::B, h))
    }

    fn is_established(&mut self, (side, h): Self::Conn) -> bool {
        self.end(side).tcp(h).may_send()
    }

    fn set_nodelay(&mut self, (side, h): Self::Conn) {
        self.end(side).tcp(h).set_nagle_enabled(false);
    }

    fn send(&mut self, (side, h): Self::Conn, data: &[u8]) -> usize {
        self.end(side).tcp(h).send_slice(data).unwrap_or(0)
    }

    fn recv(&mut self, (side, h): Self::Conn, buf: &mut [u8]) -> Recv {
        match self.end(side).tcp(h).recv_slice(buf) {
            Ok(0) => Recv::Empty,
            Ok(n) => Recv::Data(n),
            Err(tcp::RecvError::Finished) => Recv::Eof,
            Err(tcp::RecvError::InvalidState) => Recv::Eof,
        }
    }

    fn close(&mut self, (side, h): Self::Conn) {
        let end = self.end(side);
        end.tcp(h).close();
        end.closing.push(h);
    }

    fn pump(&mut self) -> bool {
        let now = self.now();
        let before = self.wire.borrow().sent;
        loop {
            let sent = self.wire.borrow().sent;
            self.a.poll(now);
            self.b.poll(now);
            let w = self.wire.borrow();
            if w.sent == sent && w.to_a.is_empty() && w.to_b.is_empty() {
                break;
            }
        }
        self.wire.borrow().sent > before
    }

    fn wait(&mut self) {
        let now = self.now();
        let next = [
            self.a.iface.poll_at(now, &self.a.sockets),
            self.b.iface.poll_at(now, &self.b.sockets),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(t) = next {
            self.clock.jump_to(t.total_micros() as u64 * 1000);
        }
    }

    fn advance(&mut self, d: Duration) {
        self.clock.advance(d);
    }

    fn poll_empty(&mut self) {
        let now = self.now();
        let sent = self.wire.borrow().sent;
        for end in [&mut self.a, &mut self.b] {
            end.poll(now);
            let _ = end.iface.poll_at(now, &end.sockets);
        }
        assert_eq!(self.wire.borrow().sent, sent, "an empty poll sent");
    }

    fn packets(&self) -> u64 {
        self.wire.borrow().sent
    }

    fn add_idle(&mut self, n: usize) -> Result<(), String> {
        const BATCH: usize = 1_000;
        if self.idle.len() + n > MAX_IDLE {
            return Err(format!(
                "skip: smoltcp's SocketSet::add walks every slot for a free one, so {} idle \
                 connections would take hours to open (the bench stops at {})",
                super::super::catalogue::count(self.idle.len() + n),
                super::super::catalogue::count(MAX_IDLE)
            ));
        }
        let mut opened = 0;
        while opened < n {
            let batch = BATCH.min(n - opened);
            let mut sa = SocketSet::new(Vec::new());
            let mut sb = SocketSet::new(Vec::new());
            let mut pairs = Vec::with_capacity(batch);
            for k in 0..batch {
                let i = self.idle.len() + k;
                let port = IDLE_PORT + (i / IDLE_PER_PORT) as u16;
                let local = CLIENT_PORTS.start() + (i % IDLE_PER_PORT) as u16;
                let mut server = new_socket(IDLE_BUFFER);
                server.listen(port).map_err(|e| format!("smoltcp listen: {e}"))?;
                let hb = sb.add(server);
                let ha = sa.add(new_socket(IDLE_BUFFER));
                let cx = self.a.iface.context();
                sa.get_mut::<tcp::Socket<'static>>(ha)
                    .connect(cx, (IpAddress::Ipv4(B_ADDR), port), local)
                    .map_err(|e| format!("smoltcp connect: {e}"))?;
                pairs.push((ha, hb));
            }
            let check = pairs.clone();
            self.settle(&mut sa, &mut sb, "opening idle connections", |sa, sb| {
                check.iter().all(|&(ha, hb)| {
                    sa.get::<tcp::Socket<'static>>(ha).state() == State::Established
                        && sb.get::<tcp::Socket<'static>>(hb).state() == State::Established
                })
            })?;
            for (ha, hb) in pairs {
                let a = self.a.sockets.add(sa.remove(ha));
                let b = self.b.sockets.add(sb.remove(hb));
                self.idle.push((a, b));
            }
            opened += batch;
        }
        Ok(())
    }

    fn touch_idle(&mut self) -> Result<(), String> {
        const BATCH: usize = 1_000;
        for chunk in 0..self.idle.len().div_ceil(BATCH) {
            let range = chunk * BATCH..((chunk + 1) * BATCH).min(self.idle.len());
            let mut sa = SocketSet::new(Vec::new());
            let mut sb = SocketSet::new(Vec::new());
            let mut moved = Vec::with_capacity(range.len());
            for i in range.clone() {
                let (a, b) = self.idle[i];
                let ha = sa.add(self.a.sockets.remove(a));
                let hb = sb.add(self.b.sockets.remove(b));
                let sent_a = sa.get_mut::<tcp::Socket<'static>>(ha).send_slice(b"x");
                let sent_b = sb.get_mut::<tcp::Socket<'static>>(hb).send_slice(b"y");
                if sent_a != Ok(1) || sent_b != Ok(1) {
                    return Err(format!("idle connection {i}: a byte could not be sent"));
                }
                moved.push((ha, hb));
            }
            let check = moved.clone();
            self.settle(&mut sa, &mut sb, "a byte each way", |sa, sb| {
                check.iter().all(|&(ha, hb)| {
                    let a = sa.get::<tcp::Socket<'static>>(ha);
                    let b = sb.get::<tcp::Socket<'static>>(hb);
                    a.recv_queue() == 1 && b.recv_queue() == 1
                })
            })?;
            let mut one = [0u8; 1];
            for &(ha, hb) in &moved {
                let a = sa.get_mut::<tcp::Socket<'static>>(ha).recv_slice(&mut one);
                let b = sb.get_mut::<tcp::Socket<'static>>(hb).recv_slice(&mut one);
                if a != Ok(1) || b != Ok(1) {
                    return Err("smoltcp: a byte did not arrive".to_string());
                }
            }
            // The delayed ACKs (smoltcp's ACK delay is 10 ms) and window updates go out.
            self.clock.advance(Duration::from_millis(50));
            let check = moved.clone();
            self.settle(&mut sa, &mut sb, "the ACKs of a byte each way", |sa, sb| {
                check.iter().all(|&(ha, hb)| {
                    sa.get::<tcp::Socket<'static>>(ha).send_queue() == 0
                        && sb.get::<tcp::Socket<'static>>(hb).send_queue() == 0
                })
            })?;
            for (i, (ha, hb)) in range.zip(moved) {
                let a = self.a.sockets.add(sa.remove(ha));
                let b = self.b.sockets.add(sb.remove(hb));
                self.idle[i] = (a, b);
            }
        }
        Ok(())
    }
}
