//! Two ustack-core [`Stack`]s joined in memory.

use std::net::SocketAddrV4;
use std::time::Duration;

use ustack::core::tcp_engine::{BufferSizes, RELEASE_AFTER, RecvError};
use ustack::core::{Instant, InterfaceConfig, Ipv4Cidr, SocketHandle, Stack, StackConfig};

use super::{
    A_ADDR, B_ADDR, CLIENT_PORTS, Clock, IDLE_PER_PORT, IDLE_PORT, Pair, PairConfig, Recv,
};

/// How long each batch of idle connections sits idle once opened, and once touched: past
/// the engine's `RELEASE_AFTER`, after which a quiet connection frees its empty buffers.
const IDLE_SETTLE: Duration = Duration::from_millis(RELEASE_AFTER.as_millis() as u64 + 500);

/// Which stack a handle belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    A,
    B,
}

pub(crate) struct UstackPair {
    a: Stack,
    b: Stack,
    clock: Clock,
    /// B's listeners by port.
    listeners: Vec<(u16, SocketHandle)>,
    buf: Vec<u8>,
    packets: u64,
    /// The idle connections: (A's end, B's end).
    idle: Vec<(SocketHandle, SocketHandle)>,
}

impl UstackPair {
    /// Both stacks with Linux's settings but for the buffers: `cfg.buffer` as the initial and
    /// largest send and receive buffer (0: Linux's, which grow on demand).
    pub(crate) fn new(cfg: &PairConfig) -> UstackPair {
        let stack = |addr, secret| {
            let mut sc = StackConfig::new(secret);
            if cfg.buffer > 0 {
                let b = cfg.buffer as u32;
                sc.tcp.rmem = BufferSizes { min: 4096, default: b, max: b };
                sc.tcp.wmem = BufferSizes { min: 4096, default: b, max: b };
            }
            sc.somaxconn = 65_535;
            let mut s = Stack::new(sc).expect("a valid configuration");
            s.add_interface(InterfaceConfig::ipv4(
                Ipv4Cidr::new(addr, 24).expect("a /24"),
                cfg.mtu as u16,
            ));
            s
        };
        UstackPair {
            a: stack(A_ADDR, [1; 16]),
            b: stack(B_ADDR, [2; 16]),
            clock: Clock::new(),
            listeners: Vec::new(),
            buf: vec![0; cfg.mtu.max(1500)],
            packets: 0,
            idle: Vec::new(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.clock.nanos())
    }

    fn stack(&mut self, side: Side) -> &mut Stack {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn listener(&mut self, port: u16) -> SocketHandle {
        if let Some(&(_, h)) = self.listeners.iter().find(|(p, _)| *p == port) {
            return h;
        }
        let h = self
            .b
            .tcp_listen(SocketAddrV4::new(B_ADDR, port), 65_535, false)
            .expect("a free port on B");
        self.listeners.push((port, h));
        h
    }

    /// Leaves both stacks alone for `d` of virtual time, handing over whatever the timers
    /// that fall due send.
    fn sit_idle(&mut self, d: Duration) {
        let until = self.clock.nanos() + d.as_nanos() as u64;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) if t.as_nanos() <= until => self.clock.jump_to(t.as_nanos()),
                _ => break,
            }
            self.pump();
        }
        self.clock.jump_to(until);
    }

    /// Everything one stack has for the other, handed over; how many packets.
    fn flush(&mut self, from: Side, now: Instant) -> u64 {
        let mut n = 0;
        let (tx, rx) = match from {
            Side::A => (&mut self.a, &mut self.b),
            Side::B => (&mut self.b, &mut self.a),
        };
        while let Some(t) = tx.poll_transmit(now, &mut self.buf) {
            rx.handle_packet(now, 0, &self.buf[..t.len]);
            n += 1;
        }
        while tx.poll_event().is_some() {}
        n
    }
}

impl Pair for UstackPair {
    type Conn = (Side, SocketHandle);

    fn listen(&mut self, port: u16) {
        self.listener(port);
    }

    fn connect(&mut self, port: u16) -> Self::Conn {
        let now = self.now();
        let h = self
            .a
            .tcp_connect(now, None, SocketAddrV4::new(B_ADDR, port))
            .expect("an ephemeral port on A");
        (Side::A, h)
    }

    fn accept(&mut self, port: u16) -> Option<Self::Conn> {
        let l = self.listener(port);
        self.b.tcp_accept(l).map(|h| (Side::B, h))
    }

    fn is_established(&mut self, (side, h): Self::Conn) -> bool {
        self.stack(side).tcp_conn(h).state().is_synchronized()
    }

    fn set_nodelay(&mut self, (side, h): Self::Conn) {
        self.stack(side).tcp_set_nodelay(h, true);
    }

    fn send(&mut self, (side, h): Self::Conn, data: &[u8]) -> usize {
        self.stack(side).tcp_send(h, data).unwrap_or(0)
    }

    fn recv(&mut self, (side, h): Self::Conn, buf: &mut [u8]) -> Recv {
        match self.stack(side).tcp_recv(h, buf) {
            Ok(0) => Recv::Eof,
            Ok(n) => Recv::Data(n),
            Err(RecvError::WouldBlock) => Recv::Empty,
            Err(RecvError::Failed(_)) => Recv::Eof,
        }
    }

    fn close(&mut self, (side, h): Self::Conn) {
        let now = self.now();
        self.stack(side).close(now, h);
    }

    fn pump(&mut self) -> bool {
        let now = self.now();
        for stack in [&mut self.a, &mut self.b] {
            if stack.poll_timeout().is_some_and(|t| t <= now) {
                stack.handle_timeout(now);
            }
        }
        let mut moved = 0;
        loop {
            let n = self.flush(Side::A, now) + self.flush(Side::B, now);
            if n == 0 {
                break;
            }
            moved += n;
        }
        self.packets += moved;
        moved > 0
    }

    fn wait(&mut self) {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
        if let Some(t) = next {
            self.clock.jump_to(t.as_nanos());
        }
    }

    fn advance(&mut self, d: Duration) {
        self.clock.advance(d);
    }

    fn poll_empty(&mut self) {
        let now = self.now();
        for stack in [&mut self.a, &mut self.b] {
            assert!(stack.poll_transmit(now, &mut self.buf).is_none(), "an empty poll sent");
            if stack.poll_timeout().is_some_and(|t| t <= now) {
                stack.handle_timeout(now);
            }
            while stack.poll_event().is_some() {}
        }
    }

    fn packets(&self) -> u64 {
        self.packets
    }

    fn add_idle(&mut self, n: usize) -> Result<(), String> {
        const BATCH: usize = 2_000;
        let start = self.idle.len();
        let mut opened = 0;
        while opened < n {
            let batch = BATCH.min(n - opened);
            let mut clients = Vec::with_capacity(batch);
            for _ in 0..batch {
                let i = start + opened + clients.len();
                let port = IDLE_PORT + (i / IDLE_PER_PORT) as u16;
                let local_port = CLIENT_PORTS.start() + (i % IDLE_PER_PORT) as u16;
                let l = self.listener(port);
                let now = self.now();
                let h = self
                    .a
                    .tcp_connect(
                        now,
                        Some(SocketAddrV4::new(A_ADDR, local_port).into()),
                        SocketAddrV4::new(B_ADDR, port),
                    )
                    .map_err(|e| format!("idle connection {i}: {e}"))?;
                clients.push((h, l));
            }
            self.pump();
            for (c, l) in clients {
                let s = self
                    .b
                    .tcp_accept(l)
                    .ok_or_else(|| format!("idle connection {}: not accepted", self.idle.len()))?;
                self.idle.push((c, s));
            }
            self.sit_idle(IDLE_SETTLE);
            opened += batch;
        }
        Ok(())
    }

    fn touch_idle(&mut self) -> Result<(), String> {
        const BATCH: usize = 2_000;
        let mut one = [0u8; 1];
        for chunk in 0..self.idle.len().div_ceil(BATCH) {
            let range = chunk * BATCH..((chunk + 1) * BATCH).min(self.idle.len());
            for i in range.clone() {
                let (c, s) = self.idle[i];
                if self.a.tcp_send(c, b"x") != Ok(1) || self.b.tcp_send(s, b"y") != Ok(1) {
                    return Err(format!("idle connection {i}: a byte could not be sent"));
                }
            }
            self.pump();
            for i in range {
                let (c, s) = self.idle[i];
                if self.a.tcp_recv(c, &mut one) != Ok(1) || self.b.tcp_recv(s, &mut one) != Ok(1) {
                    return Err(format!("idle connection {i}: a byte did not arrive"));
                }
            }
            // The batch sits idle, as the connections of a server come and go over time: the
            // delayed ACKs go out and the storage of the emptied buffers is given back
            // (`RELEASE_AFTER`), for the next batch to reuse.
            self.sit_idle(IDLE_SETTLE);
        }
        Ok(())
    }
}
