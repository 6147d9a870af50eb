//! [`Node`]: a ustack [`Stack`] as a simulated host that records everything it does into the
//! run's [`Trace`](crate::trace::Trace), applies the scenario's scripted impairments to what
//! it sends, and runs a few automatic application behaviours (accept, read, write a stream,
//! close at the end of the peer's stream) so that scenarios only script what matters to them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use ustack_core::tcp_engine::{ConnError, Event, TcpState};
use ustack_core::{Counters, Instant, Protocol, SocketEvent, SocketEventKind, SocketHandle, Stack};
use ustack_sim::Host;

use crate::recorder::Recorder;
use crate::script::{Action, Rule};
use crate::segment::Segment;
use crate::trace::{Fate, Note, Sample, Side};

/// What a node's application does by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Auto {
    /// Accept every connection as soon as the listener reports it.
    pub accept: bool,
    /// Read everything as soon as it arrives (otherwise data stays in the receive buffer).
    pub read: bool,
    /// Close a connection once the peer's stream ended and everything was read.
    pub close_on_eof: bool,
}

/// A stream a node writes as fast as the connection takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pump {
    left: usize,
    written: usize,
    /// Close the connection once everything is written.
    close: bool,
}

/// What the node knows of one of its TCP sockets.
#[derive(Debug, Clone, Copy)]
struct Known {
    ports: Option<(u16, u16)>,
    state: TcpState,
    /// The stack freed it.
    released: bool,
}

/// A simulated host running ustack, recording into the run's trace.
pub struct Node {
    side: Side,
    pub(crate) stack: Stack,
    rec: Rc<RefCell<Recorder>>,
    rules: Vec<Rule>,
    /// Packets held back by the script: release time, order, bytes, and the fate to record
    /// on release (a duplicate is recorded when it leaves; a delayed packet was recorded
    /// when the stack sent it).
    held: Vec<(Instant, u64, Vec<u8>, Option<Fate>)>,
    held_seq: u64,
    /// Packets to send at once (injected by the scenario), already recorded.
    out: VecDeque<Vec<u8>>,
    pub(crate) auto: Auto,
    pumps: BTreeMap<SocketHandle, Pump>,
    /// Every socket event, for the scenario to look at.
    pub(crate) events: Vec<(Instant, SocketEvent)>,
    /// Bytes read from each connection.
    pub(crate) received: BTreeMap<SocketHandle, Vec<u8>>,
    /// Connections whose end of stream was read.
    pub(crate) eof: BTreeSet<SocketHandle>,
    /// Connections accepted, in order.
    pub(crate) accepted: Vec<SocketHandle>,
    /// Connections the application has closed or aborted.
    closed: BTreeSet<SocketHandle>,
    known: BTreeMap<SocketHandle, Known>,
    /// The counters when they were last compared.
    counters: Counters,
    /// Sample the congestion state of every connection after every packet.
    pub(crate) sample: bool,
    /// Diff the socket table after every input (new sockets, freed sockets).
    pub(crate) watch: bool,
}

impl Node {
    pub(crate) fn new(side: Side, stack: Stack, rec: Rc<RefCell<Recorder>>) -> Node {
        let counters = stack.counters();
        Node {
            side,
            stack,
            rec,
            rules: Vec::new(),
            held: Vec::new(),
            held_seq: 0,
            out: VecDeque::new(),
            auto: Auto::default(),
            pumps: BTreeMap::new(),
            events: Vec::new(),
            received: BTreeMap::new(),
            eof: BTreeSet::new(),
            accepted: Vec::new(),
            closed: BTreeSet::new(),
            known: BTreeMap::new(),
            counters,
            sample: false,
            watch: true,
        }
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Which side this node is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Bytes read so far from `h`.
    pub fn received(&self, h: SocketHandle) -> &[u8] {
        self.received.get(&h).map_or(&[], Vec::as_slice)
    }

    /// Whether the end of `h`'s stream was read.
    pub fn saw_eof(&self, h: SocketHandle) -> bool {
        self.eof.contains(&h)
    }

    /// The connections accepted so far.
    pub fn accepted(&self) -> &[SocketHandle] {
        &self.accepted
    }

    /// Every socket event so far.
    pub fn events(&self) -> &[(Instant, SocketEvent)] {
        &self.events
    }

    /// Whether `h`'s handshake completed.
    pub fn connected(&self, h: SocketHandle) -> bool {
        self.events
            .iter()
            .any(|(_, e)| e.socket == h && e.kind == SocketEventKind::Tcp(Event::Connected))
    }

    /// How `h` closed, once it has: `Some(None)` in order, `Some(Some(e))` on an error.
    pub fn closed(&self, h: SocketHandle) -> Option<Option<ConnError>> {
        self.events.iter().find_map(|(_, e)| match e.kind {
            SocketEventKind::Tcp(Event::Closed(err)) if e.socket == h => Some(err),
            _ => None,
        })
    }

    /// The ports of `h` (local, remote), when known.
    pub fn ports(&self, h: SocketHandle) -> Option<(u16, u16)> {
        self.known.get(&h).and_then(|k| k.ports)
    }

    /// The state the node last saw `h` in.
    pub fn state(&self, h: SocketHandle) -> Option<TcpState> {
        self.known.get(&h).map(|k| k.state)
    }

    pub(crate) fn add_rule(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// How many packets each rule took, in the order the rules were added.
    pub fn rules_taken(&self) -> Vec<u32> {
        self.rules.iter().map(Rule::taken).collect()
    }

    pub(crate) fn note(&self, at: Instant, conn: Option<(u16, u16)>, note: Note) {
        self.rec.borrow_mut().note(at, self.side, conn, note);
    }

    pub(crate) fn note_sock(&self, at: Instant, h: SocketHandle, note: Note) {
        self.note(at, self.ports(h), note);
    }

    /// Starts writing `bytes` bytes (a pattern) on `h` as fast as it takes them.
    pub(crate) fn pump(&mut self, now: Instant, h: SocketHandle, bytes: usize, close: bool) {
        self.pumps.insert(h, Pump { left: bytes, written: 0, close });
        self.run_pumps(now);
    }

    /// Records a socket the application just made (connect, listen), so its notes name it.
    pub(crate) fn learn(&mut self, now: Instant, h: SocketHandle) {
        let info = self.stack.netstat(now).sockets.into_iter().find(|s| s.handle == h);
        if let Some(s) = info
            && s.protocol == Protocol::Tcp
        {
            let ports = s.peer.map(|p| (s.local.port(), p.port()));
            if let std::collections::btree_map::Entry::Vacant(e) = self.known.entry(h) {
                e.insert(Known { ports, state: s.state, released: false });
                if s.state != TcpState::Listen {
                    self.note(now, ports, Note::State { from: None, to: s.state });
                }
            }
        }
    }

    pub(crate) fn mark_closed(&mut self, h: SocketHandle) {
        self.closed.insert(h);
        self.pumps.remove(&h);
    }

    /// Queues a packet the scenario made, to go out now.
    pub(crate) fn inject(&mut self, now: Instant, bytes: Vec<u8>, why: &str) {
        let segment = Segment::parse(&bytes);
        self.rec.borrow_mut().send(
            self.side,
            now,
            bytes.clone(),
            segment,
            Fate::Delivered,
            Some(why.to_string()),
        );
        self.out.push_back(bytes);
    }

    // ---- the application's automatic part ----

    /// Hands every pending socket event to the recorder and the automatic behaviours;
    /// returns whether there was any.
    fn drive(&mut self, now: Instant) -> bool {
        let mut ran = false;
        loop {
            let mut any = false;
            while let Some(event) = self.stack.poll_event() {
                any = true;
                self.events.push((now, event));
                self.on_event(now, event);
            }
            if !any {
                break;
            }
            ran = true;
            // Writing may close a connection, which reports more events.
            self.run_pumps(now);
        }
        if ran {
            self.watch_sockets(now);
        }
        ran
    }

    fn on_event(&mut self, now: Instant, ev: SocketEvent) {
        let h = ev.socket;
        let conn = self.ports(h);
        match ev.kind {
            SocketEventKind::Tcp(e) => match e {
                Event::StateChanged { from, to } => {
                    if let Some(k) = self.known.get_mut(&h) {
                        k.state = to;
                    } else if self.stack.contains(h) {
                        let t = self.stack.tcp_conn(h).tuple();
                        let ports = Some((t.local.port(), t.remote.port()));
                        self.known.insert(h, Known { ports, state: to, released: false });
                    }
                    self.note(now, self.ports(h), Note::State { from: Some(from), to });
                }
                Event::TimerFired(kind) => self.note(now, conn, Note::Timer(kind)),
                Event::Retransmit { reason, seq, len } => {
                    self.note(now, conn, Note::Retransmit { reason, seq: seq.0, len });
                }
                Event::Cwnd { cwnd, ssthresh } => {
                    self.note(now, conn, Note::Cwnd { cwnd, ssthresh });
                }
                Event::Rtt { sample, srtt, rto } => {
                    self.note(now, conn, Note::Rtt { sample, srtt, rto });
                }
                Event::Dropped(reason) => self.note(now, conn, Note::Dropped(reason.name())),
                Event::Connected => self.note(now, conn, Note::App("handshake complete".into())),
                Event::Readable => {
                    if self.auto.read && !self.closed.contains(&h) {
                        self.read_all(now, h);
                    }
                }
                Event::Writable => {}
                Event::PeerClosed => {
                    self.note(
                        now,
                        conn,
                        Note::App("peer's FIN: end of stream after the data".into()),
                    );
                    if self.auto.read && !self.closed.contains(&h) {
                        self.read_all(now, h);
                    }
                }
                Event::Closed(None) => self.note(now, conn, Note::App("connection closed".into())),
                Event::Closed(Some(e)) => {
                    self.note(now, conn, Note::Error(format!("connection failed: {e}")));
                }
            },
            SocketEventKind::AcceptReady => {
                if self.auto.accept {
                    while let Some(c) = self.stack.tcp_accept(h) {
                        self.accepted.push(c);
                        self.learn(now, c);
                        self.note_sock(now, c, Note::App("accept()".into()));
                        if self.auto.read {
                            self.read_all(now, c);
                        }
                    }
                }
            }
            SocketEventKind::UdpReadable => {
                if self.auto.read {
                    self.read_udp(now, h);
                }
            }
            SocketEventKind::UdpError => {
                self.note(
                    now,
                    None,
                    Note::Error("ICMP port unreachable for a connected UDP socket".into()),
                );
            }
        }
    }

    /// Reads everything `h` holds; at the end of the stream, closes it when asked to.
    pub(crate) fn read_all(&mut self, now: Instant, h: SocketHandle) -> usize {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0;
        let mut eof = false;
        loop {
            match self.stack.tcp_recv(h, &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    self.received.entry(h).or_default().extend_from_slice(&buf[..n]);
                    total += n;
                }
                Err(_) => break,
            }
        }
        if total > 0 {
            self.note_sock(now, h, Note::App(format!("read {total} bytes")));
        }
        if eof && self.eof.insert(h) {
            self.note_sock(now, h, Note::App("read: end of stream".into()));
            if self.auto.close_on_eof && !self.closed.contains(&h) {
                self.note_sock(now, h, Note::App("close()".into()));
                self.mark_closed(h);
                self.stack.close(now, h);
            }
        }
        total
    }

    fn read_udp(&mut self, now: Instant, h: SocketHandle) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.stack.udp_recv_from(h, &mut buf) {
            self.received.entry(h).or_default().extend_from_slice(&buf[..n]);
            self.note(now, None, Note::App(format!("recvfrom: {n} bytes from {from}")));
        }
    }

    fn run_pumps(&mut self, now: Instant) {
        let handles: Vec<SocketHandle> = self.pumps.keys().copied().collect();
        for h in handles {
            let Some(mut p) = self.pumps.get(&h).copied() else { continue };
            while p.left > 0 {
                // The pattern repeats every 251 bytes: the chunk at offset `written` is a
                // slice of one precomputed window, not 16 KiB made afresh at every call.
                let at = p.written % 251;
                let chunk = &PATTERN_WINDOW[at..at + p.left.min(CHUNK)];
                match self.stack.tcp_send(h, chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        p.left -= n;
                        p.written += n;
                    }
                }
            }
            if p.left == 0 {
                self.pumps.remove(&h);
                self.note_sock(now, h, Note::App(format!("wrote {} bytes", p.written)));
                if p.close {
                    self.note_sock(now, h, Note::App("close()".into()));
                    self.mark_closed(h);
                    self.stack.close(now, h);
                }
            } else {
                self.pumps.insert(h, p);
            }
        }
    }

    /// Notes sockets that appeared (a connection the listener made) or were freed, and
    /// state changes no trace event reported.
    fn watch_sockets(&mut self, now: Instant) {
        if !self.watch {
            return;
        }
        let table = self.stack.netstat(now);
        let mut live = BTreeSet::new();
        for s in &table.sockets {
            if s.protocol != Protocol::Tcp || s.state == TcpState::Listen {
                continue;
            }
            live.insert(s.handle);
            let ports = s.peer.map(|p| (s.local.port(), p.port()));
            match self.known.get_mut(&s.handle) {
                None => {
                    self.known.insert(s.handle, Known { ports, state: s.state, released: false });
                    self.note(now, ports, Note::State { from: None, to: s.state });
                }
                Some(k) if k.state != s.state => {
                    let from = k.state;
                    k.state = s.state;
                    self.note(now, ports, Note::State { from: Some(from), to: s.state });
                }
                Some(_) => {}
            }
        }
        let gone: Vec<SocketHandle> = self
            .known
            .iter()
            .filter(|(h, k)| {
                k.state != TcpState::Listen && !k.released && !live.contains(h) && k.ports.is_some()
            })
            .map(|(h, _)| *h)
            .collect();
        for h in gone {
            let Some(k) = self.known.get_mut(&h) else { continue };
            let (from, ports) = (k.state, k.ports);
            k.state = TcpState::Closed;
            k.released = true;
            if from != TcpState::Closed {
                self.note(now, ports, Note::State { from: Some(from), to: TcpState::Closed });
            }
            self.note(now, ports, Note::Released);
        }
    }

    /// Notes the counters that moved since the last look (bad checksums, listen drops, ...).
    fn diff_counters(&mut self, now: Instant) {
        let counters = self.stack.counters();
        // Only the routine counters moved (the common case, every packet): nothing to note,
        // and no need to print the tables to find out.
        if without_routine(counters) == without_routine(self.counters) {
            return;
        }
        let text = counters.to_string();
        let before = self.counters.to_string();
        let old: Vec<&str> = before.lines().collect();
        let mut notes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let Some(before) = old.get(i) else { continue };
            if *before == line {
                continue;
            }
            let parse = |l: &str| {
                let l = l.trim();
                let (n, what) = l.split_once(' ')?;
                Some((n.parse::<u64>().ok()?, what.to_string()))
            };
            if let (Some((a, _)), Some((b, what))) = (parse(before), parse(line))
                && b > a
                && !ROUTINE.iter().any(|r| what.starts_with(r))
            {
                notes.push(Note::Counter { delta: b - a, what });
            }
        }
        self.counters = counters;
        for n in notes {
            self.note(now, None, n);
        }
    }

    fn take_samples(&self, now: Instant) {
        if !self.sample {
            return;
        }
        let mut rec = self.rec.borrow_mut();
        for (h, k) in &self.known {
            let Some(conn) = k.ports else { continue };
            if k.released || !self.stack.contains(*h) {
                continue;
            }
            let c = self.stack.tcp_conn(*h);
            let cc = c.congestion_control();
            rec.sample(Sample {
                at: now,
                side: self.side,
                conn,
                cwnd: cc.window(),
                ssthresh: cc.ssthresh(),
                rto: c.rtt().rto(),
                srtt: c.rtt().srtt(),
                mss: c.effective_mss(),
            });
        }
    }

    /// The stack's next packet after the script had its say: `None` when it has nothing.
    fn next_from_stack(&mut self, now: Instant, buf: &mut [u8]) -> Option<Option<usize>> {
        let t = self.stack.poll_transmit(now, buf)?;
        let len = t.len;
        let bytes = buf[..len].to_vec();
        let segment = Segment::parse(&bytes);
        // Every rule counts the packet; the first that takes it decides its fate.
        let mut verdict = None;
        for rule in &mut self.rules {
            let v = rule.offer(segment.as_ref(), now).map(|(a, why)| (a, why.to_string()));
            if verdict.is_none() {
                verdict = v;
            }
        }
        let mut rec = self.rec.borrow_mut();
        Some(match verdict {
            None => {
                rec.send(self.side, now, bytes, segment, Fate::Delivered, None);
                Some(len)
            }
            Some((Action::Drop, why)) => {
                rec.send(self.side, now, bytes, segment, Fate::Lost(why), None);
                None
            }
            Some((Action::Corrupt, why)) => {
                buf[len - 1] ^= 1;
                rec.send(self.side, now, buf[..len].to_vec(), segment, Fate::Corrupted(why), None);
                Some(len)
            }
            Some((Action::Delay(d), why)) => {
                rec.send(self.side, now, bytes.clone(), segment, Fate::Delayed(d, why), None);
                self.held_seq += 1;
                self.held.push((now + d, self.held_seq, bytes, None));
                None
            }
            Some((Action::Duplicate(d), why)) => {
                rec.send(self.side, now, bytes.clone(), segment, Fate::Delivered, None);
                self.held_seq += 1;
                self.held.push((now + d, self.held_seq, bytes, Some(Fate::Duplicate(why))));
                Some(len)
            }
        })
    }

    fn next_held(&mut self, now: Instant) -> Option<Vec<u8>> {
        let (i, _) = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, h)| h.0 <= now)
            .min_by_key(|(_, h)| (h.0, h.1))?;
        let (_, _, bytes, record) = self.held.remove(i);
        if let Some(fate) = record {
            let segment = Segment::parse(&bytes);
            self.rec.borrow_mut().send(self.side, now, bytes.clone(), segment, fate, None);
        }
        Some(bytes)
    }
}

/// The most a pump writes in one call.
const CHUNK: usize = 16 * 1024;

/// The pattern from offset 0, long enough that a `CHUNK` starting anywhere in its first 251
/// bytes fits: the pattern at offset `o` is `PATTERN_WINDOW[o % 251..]`.
static PATTERN_WINDOW: [u8; CHUNK + 251] = {
    let mut w = [0u8; CHUNK + 251];
    let mut i = 0;
    while i < w.len() {
        w[i] = crate::pattern_byte(i);
        i += 1;
    }
    w
};

/// `c` with the counters of [`ROUTINE`] zeroed.
fn without_routine(mut c: Counters) -> Counters {
    c.ip_in_receives = 0;
    c.ip_in_delivers = 0;
    c.ip_out_requests = 0;
    c.tcp_in_segs = 0;
    c.tcp_out_segs = 0;
    c.tcp_active_opens = 0;
    c.tcp_passive_opens = 0;
    c.udp_in_datagrams = 0;
    c.udp_out_datagrams = 0;
    c
}

/// Counters that move with every packet: not worth a note (the fields [`without_routine`]
/// zeroes).
const ROUTINE: [&str; 9] = [
    "total packets received",
    "incoming packets delivered",
    "requests sent out",
    "segments received",
    "segments sent out",
    "active connection openings",
    "passive connection openings",
    "packets received",
    "packets sent",
];

impl Host for Node {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.rec.borrow_mut().arrive(self.side.peer(), now, packet);
        self.stack.handle_packet(now, iface, packet);
        // The application sees the events first, as SimHost's does, so that the socket
        // table diff finds only what no event told.
        self.drive(now);
        self.diff_counters(now);
        self.watch_sockets(now);
        self.take_samples(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        loop {
            let ran = self.drive(now);
            if let Some(p) = self.out.pop_front().or_else(|| self.next_held(now)) {
                buf[..p.len()].copy_from_slice(&p);
                return Some((0, p.len()));
            }
            match self.next_from_stack(now, buf) {
                Some(Some(len)) => {
                    self.diff_counters(now);
                    self.take_samples(now);
                    return Some((0, len));
                }
                // Lost or held by the script: ask the stack again.
                Some(None) => continue,
                // Sending can queue events (a retransmission, a state change): hand them
                // to the application before saying there is nothing more.
                None if ran || self.drive(now) => continue,
                None => {
                    self.diff_counters(now);
                    self.watch_sockets(now);
                    return None;
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let held = self.held.iter().map(|h| h.0).min();
        match (self.stack.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.stack.poll_timeout().is_some_and(|at| at <= now) {
            self.stack.handle_timeout(now);
        }
    }
}
