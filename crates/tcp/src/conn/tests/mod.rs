//! Segment-script tests of the connection engine: one `Conn` driven by a
//! packetdrill-like script in virtual time. `<` lines are handed to `handle_segment` at their
//! time; `>` lines must match, in order and at exactly their time, the segments
//! `poll_transmit` returns (timers fire on the way, `handle_timeout` at each deadline). A
//! segment nobody expected fails the test, so every test states all the segments the RFC
//! calls for. Application calls (`send`, `recv`, `close`, ...) go between script parts.
//!
//! Payload bytes follow a fixed pattern by stream offset, in both directions, so every byte
//! sent and delivered is checked, not just lengths.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ustack_wire::{SeqNum, TcpFlags, TcpRepr};

use super::*;
use crate::script::{self, Direction, Line, SeqBase, When};

mod close;
mod cookie;
mod data;
mod defer;
mod delack;
mod ecn;
mod events;
mod fastopen;
mod flags;
mod handshake;
mod idle;
mod ipv6;
mod prr;
mod recovery;
mod rfc9293;
mod robustness;
mod sack;
mod security;
mod size;
mod time_wait;
mod timers;
mod transfer;
mod window;
mod wrap;

/// Our ISS in every script (relative numbers count from it).
const LOCAL_ISS: SeqNum = SeqNum(1_000_000);
/// The peer's ISS.
const REMOTE_ISS: SeqNum = SeqNum(3_000_000_000);
const LOCAL_PORT: u16 = 8080;
const REMOTE_PORT: u16 = 40_000;
const MTU: u16 = 1500;

fn tuple() -> FourTuple {
    FourTuple {
        local: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), LOCAL_PORT).into(),
        remote: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), REMOTE_PORT).into(),
    }
}

/// The byte at stream offset `i` (0 = first data byte) of either direction.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn pattern_bytes(from: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|k| pattern(from + k)).collect()
}

fn secs(s: f64) -> Instant {
    Instant::from_micros((s * 1e6).round() as u64)
}

/// A segment we sent, with its payload copied out.
#[derive(Debug, Clone)]
struct Sent {
    /// The segment without its payload.
    seg: TcpRepr<'static>,
    payload: Vec<u8>,
    /// The ECN codepoint for its IP header.
    ecn: crate::Ecn,
}

impl Sent {
    fn repr(&self) -> TcpRepr<'_> {
        TcpRepr { payload: &self.payload, ..self.seg }
    }
}

/// One connection under a script.
struct Script {
    conn: Conn,
    /// Engine time: the latest instant handed to the connection.
    now: Instant,
    /// The time of the last script line.
    line_time: Instant,
    base: SeqBase,
    pending: VecDeque<(Instant, Sent)>,
    scratch: Vec<u8>,
    events: Vec<(Instant, Event)>,
    /// Bytes given to `send` so far.
    app_sent: u64,
    /// Bytes read with `recv` so far.
    app_read: u64,
}

impl Script {
    /// An active open at time 0 (nothing sent yet: the script's first line is the SYN).
    fn client(cfg: TcpConfig) -> Script {
        let conn =
            Conn::connect(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, Conn::default_cc(&cfg));
        Script::with(conn)
    }

    /// A passive open from the SYN on `syn_line` (a `<` line at time 0).
    fn server(cfg: TcpConfig, syn_line: &str) -> Script {
        let line = parse_one(syn_line);
        let base = SeqBase { local_iss: LOCAL_ISS, remote_iss: REMOTE_ISS };
        let syn = line.segment.to_repr(base, (REMOTE_PORT, LOCAL_PORT), &[]);
        let conn =
            Conn::accept(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, &syn, Conn::default_cc(&cfg));
        Script::with(conn)
    }

    fn with(mut conn: Conn) -> Script {
        conn.set_tracing(true);
        let mut s = Script {
            conn,
            now: Instant::ZERO,
            line_time: Instant::ZERO,
            base: SeqBase { local_iss: LOCAL_ISS, remote_iss: REMOTE_ISS },
            pending: VecDeque::new(),
            scratch: vec![0; 65_536],
            events: Vec::new(),
            app_sent: 0,
            app_read: 0,
        };
        s.collect();
        s
    }

    /// A client with the handshake done: the peer (MSS 1000, no options) answers at 0.1 s.
    fn established_client(cfg: TcpConfig) -> Script {
        let mut s = Script::client(cfg);
        s.run(
            "
            0    > S 0:0(0)
            +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000>
            +0   > . 1:1(0) ack 1
            ",
        );
        s
    }

    /// A server with the handshake done: the peer's SYN (MSS 1000, no options) at 0, its
    /// ACK at 0.1 s.
    fn established_server(cfg: TcpConfig) -> Script {
        let mut s = Script::server(cfg, "0 < S 0:0(0) win 65535 <mss 1000>");
        s.run(
            "
            0    > S. 0:0(0) ack 1 <mss 1460>
            +0.1 < . 1:1(0) ack 1 win 65535
            ",
        );
        assert_eq!(s.conn.state(), TcpState::Established);
        s
    }

    /// Runs script lines.
    fn run(&mut self, text: &str) {
        for line in script::parse(text) {
            let line = line.unwrap_or_else(|e| panic!("{e}"));
            self.line(&line);
        }
    }

    fn line(&mut self, line: &Line) {
        let t = match line.when {
            When::At(d) => secs(d.as_secs_f64()),
            When::After(d) => secs(self.line_time.since_epoch().as_secs_f64() + d.as_secs_f64()),
        };
        self.line_time = t;
        self.advance(t);
        let spec = &line.segment;
        match spec.direction {
            Direction::In => {
                if let Some((at, sent)) = self.pending.front() {
                    panic!(
                        "line {}: unexpected segment sent at {at:?} before this line: {}",
                        line.number,
                        self.describe_sent(sent)
                    );
                }
                let data = pattern_bytes(u64::from(spec.seq.saturating_sub(1)), spec.len as usize);
                let seg = spec.to_repr(self.base, (REMOTE_PORT, LOCAL_PORT), &data);
                let ecn = spec.ecn.unwrap_or(crate::Ecn::NotEct);
                self.conn.handle_segment_ecn(t, &seg, ecn);
                self.collect();
            }
            Direction::Out => {
                let Some((at, sent)) = self.pending.pop_front() else {
                    panic!("line {}: expected a segment at {t:?}, none was sent", line.number)
                };
                let seg = sent.repr();
                if let Err(field) =
                    spec.check(self.base, &seg).and_then(|()| spec.check_ecn(sent.ecn))
                {
                    panic!(
                        "line {}: {field:?} differs; sent at {at:?}: {}",
                        line.number,
                        self.describe_sent(&sent)
                    );
                }
                assert_eq!(
                    at,
                    t,
                    "line {}: segment sent at {at:?}, expected at {t:?}: {}",
                    line.number,
                    self.describe(&seg)
                );
                let from = u64::from(spec.seq.saturating_sub(1));
                assert!(
                    sent.payload == pattern_bytes(from, sent.payload.len()),
                    "line {}: payload bytes differ from the stream's",
                    line.number
                );
            }
        }
    }

    /// Runs the connection's timers up to `to` (the script's clock), collecting what it
    /// sends.
    fn advance(&mut self, to: Instant) {
        for _ in 0..100_000 {
            match self.conn.poll_timeout() {
                Some(at) if at <= to => {
                    self.now = self.now.max(at);
                    self.conn.handle_timeout(self.now);
                    self.collect();
                }
                _ => {
                    self.now = self.now.max(to);
                    return;
                }
            }
        }
        panic!("timers keep firing at {:?}", self.now);
    }

    /// Moves the script clock to `t` seconds, firing timers; a segment sent on the way must
    /// be matched by the next `>` lines.
    fn wait_until(&mut self, t: f64) {
        self.line_time = secs(t);
        self.advance(self.line_time);
    }

    fn collect(&mut self) {
        let now = self.now;
        while let Some((seg, ecn)) = self.conn.poll_transmit_ecn(now, &mut self.scratch) {
            let payload = seg.payload.to_vec();
            let sent = Sent { seg: TcpRepr { payload: &[], ..seg }, payload, ecn };
            self.pending.push_back((now, sent));
        }
        while let Some(event) = self.conn.poll_event() {
            self.events.push((now, event));
        }
    }

    /// Every segment expected: nothing left unmatched.
    fn done(&mut self) {
        self.collect();
        if let Some((at, sent)) = self.pending.front() {
            panic!("unexpected segment sent at {at:?}: {}", self.describe_sent(sent));
        }
    }

    /// The application sends `n` more bytes of the stream pattern; all must be taken.
    fn send(&mut self, n: usize) {
        let data = pattern_bytes(self.app_sent, n);
        let taken = self.conn.send(&data).expect("send");
        assert_eq!(taken, n, "send buffer took less than asked");
        self.app_sent += n as u64;
        self.collect();
    }

    /// Like `send`, without polling: the next `close` or `shutdown_write` comes before the
    /// connection had a chance to send (one write-and-close from the application).
    fn queue(&mut self, n: usize) {
        let data = pattern_bytes(self.app_sent, n);
        assert_eq!(self.conn.send(&data), Ok(n));
        self.app_sent += n as u64;
    }

    /// The application reads everything readable; returns how much, checking the bytes.
    fn recv_all(&mut self) -> usize {
        let mut buf = vec![0; 1 << 20];
        let mut total = 0;
        while let Ok(n) = self.conn.recv(&mut buf) {
            if n == 0 {
                break;
            }
            assert!(
                buf[..n] == pattern_bytes(self.app_read, n)[..],
                "received bytes differ from the stream's"
            );
            self.app_read += n as u64;
            total += n;
        }
        self.collect();
        total
    }

    fn close(&mut self) {
        self.conn.close(self.now);
        self.collect();
    }

    fn shutdown_write(&mut self) {
        self.conn.shutdown_write();
        self.collect();
    }

    fn abort(&mut self) {
        self.conn.abort();
        self.collect();
    }

    /// Whether `event` was reported, and when.
    fn event_at(&self, event: Event) -> Option<Instant> {
        self.events.iter().find(|(_, e)| *e == event).map(|(at, _)| *at)
    }

    /// When `kind` fired (its `TimerFired` trace events), in order.
    fn fired(&self, kind: TimerKind) -> Vec<Instant> {
        self.events
            .iter()
            .filter(|(_, e)| *e == Event::TimerFired(kind))
            .map(|(at, _)| *at)
            .collect()
    }

    fn app_events(&self) -> Vec<Event> {
        self.events.iter().map(|(_, e)| *e).filter(|e| !e.is_trace()).collect()
    }

    fn states(&self) -> Vec<TcpState> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::StateChanged { to, .. } => Some(*to),
                _ => None,
            })
            .collect()
    }

    /// A segment in script notation, numbers relative to the ISSs.
    fn describe(&self, seg: &TcpRepr<'_>) -> String {
        let mut flags = String::new();
        for (flag, c) in [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
        ] {
            if seg.flags.contains(flag) {
                flags.push(c);
            }
        }
        let seq = seg.seq.get().wrapping_sub(LOCAL_ISS.get());
        let len = seg.payload.len() as u32;
        let mut out = format!("{flags} {seq}:{}({len})", seq.wrapping_add(len));
        if seg.flags.contains(TcpFlags::ACK) {
            out += &format!(" ack {}", seg.ack.get().wrapping_sub(REMOTE_ISS.get()));
        }
        out + &format!(" win {} {:?}", seg.window, seg.options)
    }

    /// `describe` with the ECN codepoint of a segment we sent.
    fn describe_sent(&self, sent: &Sent) -> String {
        format!("[{:?}] {}", sent.ecn, self.describe(&sent.repr()))
    }
}

fn parse_one(text: &str) -> Line {
    script::parse(text).next().expect("one line").expect("a valid line")
}

/// The config most scripts use: Linux defaults.
fn cfg() -> TcpConfig {
    TcpConfig::default()
}

#[test]
fn reset_for_answers_per_rfc_9293_3_10_7_1() {
    let base = SeqBase { local_iss: LOCAL_ISS, remote_iss: REMOTE_ISS };
    // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    let syn = parse_one("0 < S 0:0(0) win 100").segment.to_repr(base, (1, 2), &[]);
    let rst = reset_for(&syn).unwrap();
    assert_eq!((rst.src_port, rst.dst_port), (2, 1));
    assert_eq!(rst.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!((rst.seq, rst.ack), (SeqNum(0), REMOTE_ISS + 1u32));
    // ACK: <SEQ=SEG.ACK><CTL=RST> (SPEC S5: data reaching a server that gave up).
    let data = parse_one("0 < P. 1:101(100) ack 1 win 100").segment;
    let payload = [0u8; 100];
    let rst = reset_for(&data.to_repr(base, (1, 2), &payload)).unwrap();
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, LOCAL_ISS + 1u32));
    // Never a RST for a RST.
    let r = parse_one("0 < R 1:1(0)").segment.to_repr(base, (1, 2), &[]);
    assert_eq!(reset_for(&r), None);
}

#[test]
fn conn_is_send() {
    // A host may move connections between threads (one stack per core).
    fn assert_send<T: Send>() {}
    assert_send::<Conn>();
}
