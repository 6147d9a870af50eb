//! The record of one scenario run: every packet each host put on the link (and what became
//! of it), every arrival, every socket event, timer firing, counter change and application
//! call, in the order they happened, with their virtual times. The text trace, the ladder
//! diagram, the pcap and the plots are all drawn from it, and the checks read it.

use core::fmt::{self, Write as _};

use ustack_core::tcp_engine::{RetransmitReason, TcpState, TimerKind};
use ustack_core::{Duration, Instant};

use crate::segment::Segment;

/// One of the two hosts of a scenario: the left and the right lifeline of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The left host, 10.0.0.1: usually the one that connects.
    Client,
    /// The right host, 10.0.0.2: usually the one that listens.
    Server,
}

impl Side {
    /// Both sides, client first.
    pub const BOTH: [Side; 2] = [Side::Client, Side::Server];

    /// The other side.
    pub const fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// `client` or `server`.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    /// 0 for the client, 1 for the server.
    pub const fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the link (or the scenario's script standing in for it) did to a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Carried as sent.
    Delivered,
    /// Lost on purpose by the scenario's script; the text says which rule.
    Lost(String),
    /// One bit flipped by the scenario's script: the receiver sees a bad checksum.
    Corrupted(String),
    /// Held back by the scenario's script for this long before it entered the link.
    Delayed(Duration, String),
    /// An extra copy made by the scenario's script.
    Duplicate(String),
}

impl Fate {
    /// Whether the packet was meant to reach the other host (it may still be lost in the
    /// link's queue).
    pub fn travels(&self) -> bool {
        !matches!(self, Fate::Lost(_))
    }
}

/// A packet one host sent.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Its number in the run, from 1, in the order packets were sent.
    pub id: usize,
    /// The host that sent it.
    pub from: Side,
    /// When the host sent it.
    pub sent_at: Instant,
    /// The IP packet as it entered the link (corrupted, when it was).
    pub bytes: Vec<u8>,
    /// The segment as the host sent it (before any corruption), when it is TCP or UDP.
    pub segment: Option<Segment>,
    /// What the script did to it.
    pub fate: Fate,
    /// Made by the scenario rather than by a stack (a stale duplicate, a forged RST).
    pub injected: Option<String>,
    /// When copies reached the other host: none when lost (by the script or in the link).
    pub arrivals: Vec<Instant>,
}

impl Packet {
    /// Whether no copy arrived.
    pub fn lost(&self) -> bool {
        self.arrivals.is_empty()
    }

    /// The first arrival.
    pub fn arrived_at(&self) -> Option<Instant> {
        self.arrivals.first().copied()
    }

    /// The TCP segment, if this is one.
    pub fn tcp(&self) -> Option<&crate::segment::TcpSummary> {
        self.segment.as_ref().and_then(Segment::tcp)
    }
}

/// Something a host did or went through, beside its lifeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// A connection changed state (`from` is `None` for a socket seen for the first time).
    State {
        /// The state left.
        from: Option<TcpState>,
        /// The state entered.
        to: TcpState,
    },
    /// A socket was released by the stack (it reached CLOSED and nobody holds it).
    Released,
    /// A timer fired.
    Timer(TimerKind),
    /// The connection sent a segment again.
    Retransmit {
        /// Why.
        reason: RetransmitReason,
        /// Its first sequence number (raw).
        seq: u32,
        /// Its length in sequence space.
        len: u32,
    },
    /// The congestion window or slow-start threshold changed.
    Cwnd {
        /// Bytes.
        cwnd: u32,
        /// Bytes.
        ssthresh: u32,
    },
    /// An RTT sample.
    Rtt {
        /// The sample.
        sample: Duration,
        /// Smoothed RTT after it.
        srtt: Duration,
        /// RTO after it.
        rto: Duration,
    },
    /// The connection dropped an arriving segment, and why.
    Dropped(&'static str),
    /// A stack counter moved (what `netstat -s` would show), e.g. a bad checksum.
    Counter {
        /// By how much.
        delta: u64,
        /// The counter's text.
        what: String,
    },
    /// The application called the socket API, or saw a result.
    App(String),
    /// A socket call failed, or a connection closed with an error.
    Error(String),
    /// What the scenario points out at this moment, read from the run (a timer restarted).
    Mark(String),
}

impl Note {
    /// The short kind shown in the text trace.
    pub const fn kind(&self) -> &'static str {
        match self {
            Note::State { .. } => "state",
            Note::Released => "freed",
            Note::Timer(_) => "timer",
            Note::Retransmit { .. } => "rexmit",
            Note::Cwnd { .. } => "cwnd",
            Note::Rtt { .. } => "rtt",
            Note::Dropped(_) => "drop",
            Note::Counter { .. } => "count",
            Note::App(_) => "app",
            Note::Error(_) => "error",
            Note::Mark(_) => "mark",
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::State { from: Some(from), to } => {
                write!(f, "{} -> {}", from.rfc_name(), to.rfc_name())
            }
            Note::State { from: None, to } => write!(f, "new socket in {}", to.rfc_name()),
            Note::Released => f.write_str("socket released"),
            Note::Timer(kind) => write!(f, "{kind} timer fired"),
            Note::Retransmit { reason, seq, len } => {
                write!(f, "retransmit ({reason}) seq {seq} len {len}")
            }
            Note::Cwnd { cwnd, ssthresh } => {
                if *ssthresh == u32::MAX {
                    write!(f, "cwnd {cwnd} ssthresh inf")
                } else {
                    write!(f, "cwnd {cwnd} ssthresh {ssthresh}")
                }
            }
            Note::Rtt { sample, srtt, rto } => write!(
                f,
                "rtt sample {:.3} ms, srtt {:.3} ms, rto {:.3} ms",
                ms(*sample),
                ms(*srtt),
                ms(*rto)
            ),
            Note::Dropped(why) => write!(f, "segment dropped: {why}"),
            Note::Counter { delta, what } => write!(f, "+{delta} {what}"),
            Note::App(text) | Note::Error(text) | Note::Mark(text) => f.write_str(text),
        }
    }
}

/// A [`Note`] with where and when.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteRecord {
    /// When.
    pub at: Instant,
    /// Which host.
    pub side: Side,
    /// Which connection: its local and remote port, when the note is about one.
    pub conn: Option<(u16, u16)>,
    /// What.
    pub note: Note,
}

/// A sample of one connection's congestion state, taken after every packet it sent or got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When.
    pub at: Instant,
    /// Which host.
    pub side: Side,
    /// The connection's local and remote port.
    pub conn: (u16, u16),
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes (`u32::MAX` before the first loss).
    pub ssthresh: u32,
    /// Retransmission timeout, backoff included.
    pub rto: Duration,
    /// Smoothed RTT, once sampled.
    pub srtt: Option<Duration>,
    /// The sender's MSS (payload bytes per segment).
    pub mss: u16,
}

/// One line of the run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// Packet `id` (an index into [`Trace::packets`] plus one) was sent.
    Sent(usize),
    /// A copy of packet `id` arrived.
    Arrived(usize, Instant),
    /// Note number `n` (an index into [`Trace::notes`]).
    Note(usize),
}

/// Everything recorded in one run.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Every packet, by id - 1.
    pub packets: Vec<Packet>,
    /// Every note.
    pub notes: Vec<NoteRecord>,
    /// Every line, in the order things happened.
    pub items: Vec<Item>,
    /// Congestion samples (only when the scenario asks for them).
    pub samples: Vec<Sample>,
    /// The link's one-way delay, for drawing lost packets.
    pub delay: Duration,
    /// When the run ended.
    pub end: Instant,
}

impl Trace {
    /// Packet `id`.
    pub fn packet(&self, id: usize) -> &Packet {
        &self.packets[id - 1]
    }

    /// The packets `side` sent, in order.
    pub fn sent_by(&self, side: Side) -> impl Iterator<Item = &Packet> + '_ {
        self.packets.iter().filter(move |p| p.from == side)
    }

    /// The notes about `side`, in order.
    pub fn notes_of(&self, side: Side) -> impl Iterator<Item = &NoteRecord> + '_ {
        self.notes.iter().filter(move |n| n.side == side)
    }

    /// The times `side`'s `kind` timer fired.
    pub fn timer_firings(&self, side: Side, kind: TimerKind) -> Vec<Instant> {
        self.notes_of(side).filter(|n| n.note == Note::Timer(kind)).map(|n| n.at).collect()
    }

    /// The states `side`'s connection with local port `port` went through, with when it
    /// entered each (the first is the state it was first seen in).
    pub fn states(&self, side: Side, port: u16) -> Vec<(Instant, TcpState)> {
        self.notes_of(side)
            .filter(|n| n.conn.is_some_and(|c| c.0 == port))
            .filter_map(|n| match n.note {
                Note::State { to, .. } => Some((n.at, to)),
                _ => None,
            })
            .collect()
    }

    /// The state names of [`states`](Trace::states), for comparing with a list.
    pub fn state_names(&self, side: Side, port: u16) -> Vec<&'static str> {
        self.states(side, port).into_iter().map(|(_, s)| s.rfc_name()).collect()
    }

    /// When `side` entered `state` on the connection with local port `port`, first.
    pub fn entered(&self, side: Side, port: u16, state: TcpState) -> Option<Instant> {
        self.states(side, port).into_iter().find(|(_, s)| *s == state).map(|(t, _)| t)
    }

    /// The notes of `side` whose text contains `needle`.
    pub fn notes_matching<'a>(
        &'a self,
        side: Side,
        needle: &'a str,
    ) -> impl Iterator<Item = &'a NoteRecord> + 'a {
        self.notes_of(side).filter(move |n| n.note.to_string().contains(needle))
    }

    /// Adds a note after everything recorded at or before `at`: what a scenario points out,
    /// once the run shows it.
    pub fn annotate(
        &mut self,
        at: Instant,
        side: Side,
        conn: Option<(u16, u16)>,
        text: impl Into<String>,
    ) {
        let n = self.notes.len();
        self.notes.push(NoteRecord { at, side, conn, note: Note::Mark(text.into()) });
        let time_of = |item: &Item| match *item {
            Item::Sent(id) => self.packets[id - 1].sent_at,
            Item::Arrived(_, t) => t,
            Item::Note(k) => self.notes[k].at,
        };
        let pos = self.items.iter().rposition(|i| time_of(i) <= at).map_or(0, |p| p + 1);
        self.items.insert(pos, Item::Note(n));
    }

    /// The text trace: one line per packet sent, packet arrived and note, in order.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# time (s, virtual)  host    what  (#n: packet n, as sent; '<-' its arrival)"
        );
        for item in &self.items {
            match *item {
                Item::Sent(id) => {
                    let p = self.packet(id);
                    let what = p.segment.as_ref().map_or_else(
                        || format!("{} bytes, not TCP or UDP", p.bytes.len()),
                        ToString::to_string,
                    );
                    let _ = write!(out, "{} {:<7} -> #{id} {what}", secs(p.sent_at), p.from);
                    if let Some(why) = &p.injected {
                        let _ = write!(out, "  [injected: {why}]");
                    }
                    match &p.fate {
                        Fate::Delivered => {}
                        Fate::Lost(why) => {
                            let _ = write!(out, "  LOST ({why})");
                        }
                        Fate::Corrupted(why) => {
                            let _ = write!(out, "  CORRUPTED ({why})");
                        }
                        Fate::Delayed(d, why) => {
                            let _ = write!(out, "  DELAYED {:.3} ms ({why})", ms(*d));
                        }
                        Fate::Duplicate(why) => {
                            let _ = write!(out, "  DUPLICATE ({why})");
                        }
                    }
                    if p.fate.travels() && p.arrivals.is_empty() {
                        let _ = write!(out, "  never arrived (dropped in the link)");
                    }
                    out.push('\n');
                }
                Item::Arrived(id, at) => {
                    let p = self.packet(id);
                    let _ = writeln!(
                        out,
                        "{} {:<7} <- #{id} arrived (sent {})",
                        secs(at),
                        p.from.peer(),
                        secs(p.sent_at).trim()
                    );
                }
                Item::Note(n) => {
                    let r = &self.notes[n];
                    let conn = r.conn.map_or_else(String::new, |(l, p)| format!(":{l}>{p} "));
                    let _ = writeln!(
                        out,
                        "{} {:<7}    {:<6} {conn}{}",
                        secs(r.at),
                        r.side,
                        r.note.kind(),
                        r.note
                    );
                }
            }
        }
        let _ = writeln!(out, "{} end of run", secs(self.end));
        out
    }
}

/// Seconds with nanoseconds, right-aligned: `   1.000000000`.
pub fn secs(t: Instant) -> String {
    let n = t.as_nanos();
    format!("{:>5}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
