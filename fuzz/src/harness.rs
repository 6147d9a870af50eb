//! The two stacks on a wire, the flows seen on it, and the run of one input: setup, the
//! operations, and a teardown that must leave both stacks empty.

use std::collections::VecDeque;

use core::net::{SocketAddr, SocketAddrV4};

use ustack_core::tcp_engine::{BufferSizes, FourTuple};
use ustack_core::wire::{
    IpProtocol, Ipv4Addr, Ipv4Packet, Ipv4Repr, SeqNum, TcpFlags, TcpPacket, TcpRepr,
};
use ustack_core::{Duration, Instant, StackConfig};

use crate::host::{Host, Map, seq_add};
use crate::ops::{Advance, App, Knobs, MAX_PAYLOAD, Op, PeerApp, Setup, Wire};

/// The stack under test.
pub const S_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The peer stack.
pub const P_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// A host only the fuzzer speaks for: what the stack sends there is lost.
pub const GHOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
/// The pattern salt of the stack under test's data.
pub const S_SALT: u8 = 0x53;
/// The pattern salt of everything sent towards it.
pub const P_SALT: u8 = 0x50;
/// The peer's ISS of a flow whose peer side never sent a SYN.
pub const GHOST_ISS: SeqNum = SeqNum::new(0x4000_0000);

/// Packets a wire queue holds; past that the oldest is lost.
const WIRE_LIMIT: usize = 256;
/// Flows the harness remembers.
const FLOW_LIMIT: usize = 64;
/// How long the teardown may take in virtual time: every connection must be gone by then
/// (the longest timeout, retries2, is 924.6 s).
const TEARDOWN_LIMIT: Duration = Duration::from_secs(2 * 3600);

/// A 4-tuple, from the stack under test's side, with what each side was seen to send on it.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    /// Local: the stack under test.
    pub tuple: FourTuple,
    /// The stack's ISS (its last SYN).
    pub s_iss: Option<SeqNum>,
    /// The end of what the stack sent.
    pub s_nxt: Option<SeqNum>,
    /// The last acknowledgment number the stack sent.
    pub s_ack: Option<SeqNum>,
    /// The stack's last TSval.
    pub s_tsval: u32,
    /// The peer side's ISS (its last SYN).
    pub p_iss: Option<SeqNum>,
    /// The end of what the peer side sent.
    pub p_nxt: Option<SeqNum>,
    /// The highest acknowledgment the peer side sent.
    pub p_una: Option<SeqNum>,
    /// The peer side's last TSval.
    pub p_tsval: u32,
}

impl Flow {
    fn new(tuple: FourTuple) -> Flow {
        Flow {
            tuple,
            s_iss: None,
            s_nxt: None,
            s_ack: None,
            s_tsval: 0,
            p_iss: None,
            p_nxt: None,
            p_una: None,
            p_tsval: 0x1000,
        }
    }

    fn observe(&mut self, from_s: bool, seg: &TcpRepr<'_>) {
        let f = seg.flags;
        let syn = f.contains(TcpFlags::SYN);
        let end = seq_add(
            seg.seq,
            u32::from(syn) + seg.payload.len() as u32 + u32::from(f.contains(TcpFlags::FIN)),
        );
        // Moves forward only, and only by plausible steps: a wild sequence number is what
        // the sender claims, not where the flow is.
        let ahead = |old: Option<SeqNum>, new: SeqNum| {
            old.is_none_or(|o| (1..1 << 24).contains(&new.get().wrapping_sub(o.get())))
        };
        let ts = seg.options.timestamps.map(|t| t.tsval);
        if from_s {
            if syn {
                self.s_iss = Some(seg.seq);
                self.s_nxt = Some(end);
            } else if !f.contains(TcpFlags::RST) && ahead(self.s_nxt, end) {
                self.s_nxt = Some(end);
            }
            if f.contains(TcpFlags::ACK) {
                self.s_ack = Some(seg.ack);
            }
            if let Some(t) = ts {
                self.s_tsval = t;
            }
        } else {
            if syn {
                self.p_iss = Some(seg.seq);
                self.p_nxt = Some(end);
            } else if ahead(self.p_nxt, end) {
                self.p_nxt = Some(end);
            }
            let acks_sent =
                self.s_nxt.is_some_and(|n| n.get().wrapping_sub(seg.ack.get()) < 1 << 24);
            if f.contains(TcpFlags::ACK) && acks_sent && ahead(self.p_una, seg.ack) {
                self.p_una = Some(seg.ack);
            }
            if let Some(t) = ts
                && (t.wrapping_sub(self.p_tsval) as i32) > 0
            {
                self.p_tsval = t;
            }
        }
    }
}

/// What a run did, for the seed tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Connections the stack under test accepted.
    pub s_accepted: usize,
    /// Connections its listener opened (SYNs that made a connection).
    pub s_passive_opens: u64,
    /// Its connections reset by the peer side.
    pub s_resets: u64,
    /// ICMP destination unreachables it received.
    pub s_icmp_unreachables: u64,
    /// Bytes its application read.
    pub s_read: u64,
    /// Bytes the peer's application read.
    pub p_read: u64,
    /// Packets the stack under test sent.
    pub s_sent: u64,
}

/// The stack under test (`s`), the peer stack (`p`), the wire between them and the flows.
pub struct Harness {
    /// The stack under test.
    pub s: Host,
    /// The peer stack.
    pub p: Host,
    /// Virtual time.
    pub now: Instant,
    to_s: VecDeque<Vec<u8>>,
    to_p: VecDeque<Vec<u8>>,
    /// Every 4-tuple seen, in the order first seen.
    pub flows: Vec<Flow>,
    flow_index: Map<FourTuple, usize>,
    ghost_ports: u16,
    ident: u16,
    outcome: Outcome,
}

fn config(secret: u8, k: Knobs) -> StackConfig {
    let mut c = StackConfig::new([secret; 16]);
    let t = &mut c.tcp;
    t.sack = !k.has(Knobs::NO_SACK);
    t.timestamps = !k.has(Knobs::NO_TIMESTAMPS);
    t.window_scaling = !k.has(Knobs::NO_WSCALE);
    let small = BufferSizes { min: 1024, default: 2048, max: 8192 };
    if k.has(Knobs::SMALL_RMEM) {
        t.rmem = small;
    }
    if k.has(Knobs::SMALL_WMEM) {
        t.wmem = small;
    }
    t.nodelay = k.has(Knobs::NODELAY);
    t.rfc1337 = !k.has(Knobs::NO_RFC1337);
    if k.has(Knobs::TIGHT) {
        c.tcp_abort_on_overflow = true;
        t.max_flight_segments = Some(2);
    }
    c
}

impl Harness {
    /// Both stacks, the stack under test with a listener on port 80 and a UDP socket on 53,
    /// the peer with a listener on 8080; two connections from the peer accepted, one to the
    /// peer, 500 bytes sent each way and left unread by the stack's application.
    pub fn new(setup: &Setup, check_reads: bool) -> Harness {
        let mtu = setup.mtu.bytes();
        let mut s =
            Host::new("stack", config(1, setup.s), S_ADDR, mtu, S_SALT, P_SALT, check_reads);
        let mut p = Host::new("peer", config(2, setup.p), P_ADDR, 1500, P_SALT, S_SALT, true);
        p.auto_accept = true;
        s.listen(80, u32::from(setup.backlog % 4) + 1);
        s.udp_bind(53);
        p.listen(8080, 16);
        let mut h = Harness {
            s,
            p,
            now: Instant::from_secs(1),
            to_s: VecDeque::new(),
            to_p: VecDeque::new(),
            flows: Vec::new(),
            flow_index: Map::default(),
            ghost_ports: 0,
            ident: 0,
            outcome: Outcome::default(),
        };
        let now = h.now;
        // One at a time, so a backlog of 1 takes both.
        h.s.connect(now, SocketAddrV4::new(P_ADDR, 8080));
        h.p.connect(now, SocketAddrV4::new(S_ADDR, 80));
        h.settle();
        h.s.accept_all();
        h.p.connect(h.now, SocketAddrV4::new(S_ADDR, 80));
        h.settle();
        h.s.accept_all();
        assert_eq!(h.s.owned.len(), 3, "setup: three connections\n{}", h.s.table(h.now));
        h.s.send(0, 500);
        h.p.send(0, 500);
        h.settle();
        h.p.recv_all();
        h.settle();
        h
    }

    /// Runs until the wire is empty and no timer is due within 250 ms.
    fn settle(&mut self) {
        for _ in 0..1000 {
            self.flush();
            if !self.to_s.is_empty() || !self.to_p.is_empty() {
                self.now += Duration::from_millis(1);
                self.deliver_all();
                continue;
            }
            match self.next_deadline() {
                Some(t) if t <= self.now + Duration::from_millis(250) => self.advance_to(t),
                _ => return,
            }
        }
    }

    /// Runs one operation and checks both stacks.
    pub fn step<I: crate::Input>(&mut self, op: &Op<I>) {
        match op {
            Op::Input(i) => i.inject(self),
            Op::Flush => self.flush(),
            Op::Wire(w) => self.wire(*w),
            Op::Time(a) => match *a {
                Advance::Millis(ms) => {
                    self.advance_to(self.now + Duration::from_millis(u64::from(ms)))
                }
                Advance::Seconds(s) => {
                    self.advance_to(self.now + Duration::from_secs(u64::from(s)))
                }
                Advance::NextTimer => {
                    if let Some(t) = self.next_deadline() {
                        self.advance_to(t);
                    }
                }
            },
            Op::App(a) => self.app(*a),
            Op::Peer(a) => self.peer(*a),
        }
        self.s.check(self.now);
        self.p.check(self.now);
    }

    fn app(&mut self, a: App) {
        let now = self.now;
        let s = &mut self.s;
        match a {
            App::Send { sock, len } => s.send(sock, usize::from(len) % 16_385),
            App::Recv { sock, len } => s.recv(sock, usize::from(len) % 16_385),
            App::Shutdown { sock } => s.shutdown(sock),
            App::Close { sock } => s.close(now, sock),
            App::Abort { sock } => s.abort(sock),
            App::Accept => {
                if s.accept() {
                    self.outcome.s_accepted += 1;
                }
            }
            App::Connect { ghost, port } => {
                let remote = if ghost {
                    SocketAddrV4::new(GHOST, port)
                } else {
                    SocketAddrV4::new(P_ADDR, 8080)
                };
                s.connect(now, remote);
            }
            App::Nodelay { sock, on } => s.set_nodelay(sock, on),
            App::Keepalive { sock, on } => s.set_keepalive(now, sock, on),
            App::Listen { backlog } => s.listen(80, u32::from(backlog % 4) + 1),
            App::CloseListener => s.close_listener(now),
            App::UdpSend { ghost, len } => {
                let to = SocketAddrV4::new(if ghost { GHOST } else { P_ADDR }, 53);
                s.udp_send(now, to, usize::from(len) % (MAX_PAYLOAD + 1));
            }
            App::UdpRecv => s.udp_recv(),
        }
    }

    fn peer(&mut self, a: PeerApp) {
        let now = self.now;
        let p = &mut self.p;
        match a {
            PeerApp::Send { sock, len } => p.send(sock, usize::from(len) % 16_385),
            PeerApp::Recv { sock, len } => p.recv(sock, usize::from(len) % 16_385),
            PeerApp::Shutdown { sock } => p.shutdown(sock),
            PeerApp::Close { sock } => p.close(now, sock),
            PeerApp::Abort { sock } => p.abort(sock),
            PeerApp::Connect => p.connect(now, SocketAddrV4::new(S_ADDR, 80)),
        }
    }

    fn wire(&mut self, w: Wire) {
        let (to_s, nth) = match w {
            Wire::DeliverAll => return self.deliver_all(),
            Wire::Deliver { to_s, nth }
            | Wire::Drop { to_s, nth }
            | Wire::Duplicate { to_s, nth } => (to_s, nth),
        };
        let queue = if to_s { &mut self.to_s } else { &mut self.to_p };
        if queue.is_empty() {
            return;
        }
        let i = usize::from(nth) % queue.len();
        let packet = match w {
            Wire::Duplicate { .. } => queue[i].clone(),
            _ => queue.remove(i).expect("index within the queue"),
        };
        if !matches!(w, Wire::Drop { .. }) {
            self.deliver(to_s, &packet);
        }
    }

    fn deliver(&mut self, to_s: bool, packet: &[u8]) {
        if to_s {
            self.s.receive(self.now, packet);
        } else {
            self.p.receive(self.now, packet);
        }
    }

    fn deliver_all(&mut self) {
        while let Some(packet) = self.to_s.pop_front() {
            self.deliver(true, &packet);
        }
        while let Some(packet) = self.to_p.pop_front() {
            self.deliver(false, &packet);
        }
    }

    /// Both stacks drain their transmits onto the wire; what the stack under test sends
    /// elsewhere than to the peer is seen and lost.
    fn flush(&mut self) {
        let mut out = Vec::new();
        self.s.drain(self.now, &mut out);
        self.outcome.s_sent += out.len() as u64;
        for packet in out.drain(..) {
            self.observe(true, &packet);
            if Ipv4Packet::new_unchecked(&packet[..]).dst_addr() == P_ADDR {
                push_bounded(&mut self.to_p, packet);
            }
        }
        self.p.drain(self.now, &mut out);
        for packet in out {
            self.observe(false, &packet);
            if Ipv4Packet::new_unchecked(&packet[..]).dst_addr() == S_ADDR {
                push_bounded(&mut self.to_s, packet);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        match (self.s.stack.poll_timeout(), self.p.stack.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn advance_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
        self.s.advance(self.now);
        self.p.advance(self.now);
    }

    /// A packet arrives at the stack under test from the fuzzer.
    pub fn inject(&mut self, packet: &[u8]) {
        self.observe(false, packet);
        self.s.receive(self.now, packet);
    }

    /// The next IP identification for a packet the fuzzer builds.
    pub fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }

    /// A new flow from the fuzzer's host to `port` of the stack under test.
    pub fn ghost_flow(&mut self, port: u16) -> usize {
        self.ghost_ports = self.ghost_ports.wrapping_add(1);
        let tuple = FourTuple {
            local: SocketAddr::V4(SocketAddrV4::new(S_ADDR, port)),
            remote: SocketAddr::V4(SocketAddrV4::new(GHOST, 30_000 + self.ghost_ports % 30_000)),
        };
        self.flow(tuple).unwrap_or(0)
    }

    fn flow(&mut self, tuple: FourTuple) -> Option<usize> {
        if let Some(&i) = self.flow_index.get(&tuple) {
            return Some(i);
        }
        if self.flows.len() >= FLOW_LIMIT {
            return None;
        }
        self.flows.push(Flow::new(tuple));
        self.flow_index.insert(tuple, self.flows.len() - 1);
        Some(self.flows.len() - 1)
    }

    /// Notes what a TCP packet on the wire says about its flow (`from_s`: sent by the stack
    /// under test; else sent towards it).
    pub fn observe(&mut self, from_s: bool, packet: &[u8]) {
        let Ok(view) = Ipv4Packet::new_checked(packet) else { return };
        let Ok(ip) = Ipv4Repr::parse(&view) else { return };
        if ip.protocol != IpProtocol::TCP || ip.is_fragment() {
            return;
        }
        let Ok(tv) = TcpPacket::new_checked(view.payload()) else { return };
        let Ok(seg) = TcpRepr::parse(&tv, ip.src, ip.dst) else { return };
        let tuple = if from_s {
            FourTuple {
                local: SocketAddr::V4(SocketAddrV4::new(ip.src, seg.src_port)),
                remote: SocketAddr::V4(SocketAddrV4::new(ip.dst, seg.dst_port)),
            }
        } else {
            if ip.dst != S_ADDR {
                return;
            }
            FourTuple {
                local: SocketAddr::V4(SocketAddrV4::new(ip.dst, seg.dst_port)),
                remote: SocketAddr::V4(SocketAddrV4::new(ip.src, seg.src_port)),
            }
        };
        if let Some(i) = self.flow(tuple) {
            self.flows[i].observe(from_s, &seg);
        }
    }

    /// The application closes everything on both stacks and time runs until nothing is
    /// left to do: both stacks must then hold no socket and no timer.
    pub fn finish(mut self) -> Outcome {
        let now = self.now;
        self.s.recv_all();
        self.p.recv_all();
        self.s.close_everything(now);
        self.p.close_everything(now);
        let start = self.now;
        for _ in 0..100_000 {
            self.flush();
            if !self.to_s.is_empty() || !self.to_p.is_empty() {
                self.deliver_all();
                continue;
            }
            let Some(t) = self.next_deadline() else { break };
            assert!(
                t <= start + TEARDOWN_LIMIT,
                "sockets still busy {TEARDOWN_LIMIT:?} after the application closed \
                 everything\nstack:\n{}peer:\n{}",
                self.s.table(self.now),
                self.p.table(self.now)
            );
            self.advance_to(t);
            self.s.check(self.now);
            self.p.check(self.now);
        }
        assert!(
            self.next_deadline().is_none() && self.to_s.is_empty() && self.to_p.is_empty(),
            "the teardown did not come to rest in 100000 steps: at {:?} (started {start:?}), next \
             deadline {:?}, {} packets to the stack, {} to the peer\nstack:\n{}peer:\n{}",
            self.now,
            self.next_deadline(),
            self.to_s.len(),
            self.to_p.len(),
            self.s.table(self.now),
            self.p.table(self.now)
        );
        for host in [&self.s, &self.p] {
            assert_eq!(
                host.stack.socket_count(),
                0,
                "{}: sockets left after the application closed everything and every timer \
                 ran out\n{}",
                host.name,
                host.table(self.now)
            );
        }
        self.outcome.s_read = self.s.bytes_read();
        let counters = self.s.stack.counters();
        self.outcome.s_passive_opens = counters.tcp_passive_opens;
        self.outcome.s_resets = counters.tcp_estab_resets;
        self.outcome.s_icmp_unreachables = counters.icmp_in_dest_unreachs;
        self.outcome.p_read = self.p.bytes_read();
        self.outcome
    }
}

fn push_bounded(queue: &mut VecDeque<Vec<u8>>, packet: Vec<u8>) {
    if queue.len() >= WIRE_LIMIT {
        queue.pop_front();
    }
    queue.push_back(packet);
}

/// The IPv4 address of a harness address (the harness speaks IPv4 only).
pub fn ipv4(a: SocketAddr) -> Ipv4Addr {
    match a {
        SocketAddr::V4(a) => *a.ip(),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped().expect("the harness speaks IPv4 only"),
    }
}
