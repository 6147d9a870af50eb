//! What a connection reports: application events, trace events, errors and drop counters.
//!
//! Observability is data: every state change, timer firing, retransmission (with
//! its reason), window or RTT change and dropped segment is an [`Event`]. Trace events are only
//! built when tracing is switched on for the connection ([`super::Conn::set_tracing`]); drops
//! are always counted in [`ConnStats`].

use std::collections::VecDeque;

use core::fmt;
use core::time::Duration;

use ustack_wire::SeqNum;

use crate::{TcpState, TimerKind};

/// Why a connection ended abnormally. The facade maps each to an `io::ErrorKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnError {
    /// A RST answered our SYN (RFC 9293 §3.10.7.3): nobody listens on the remote port
    /// (`ECONNREFUSED`).
    Refused,
    /// The peer reset an established connection (RFC 9293 §3.10.7.4, second check;
    /// `ECONNRESET`).
    Reset,
    /// Retransmissions went unanswered: the SYN after `syn_retries` (SPEC S5), the SYN-ACK
    /// after `synack_retries`, data after `retries2` (SPEC S17) (`ETIMEDOUT`).
    TimedOut,
    /// The application aborted the connection ([`super::Conn::abort`]; `ECONNABORTED`).
    Aborted,
    /// An ICMP destination unreachable (network, host, prohibited) answered the handshake
    /// (`EHOSTUNREACH`).
    Unreachable,
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnError::Refused => "connection refused",
            ConnError::Reset => "connection reset by peer",
            ConnError::TimedOut => "connection timed out",
            ConnError::Aborted => "connection aborted",
            ConnError::Unreachable => "no route to host",
        })
    }
}

impl core::error::Error for ConnError {}

/// Why a segment was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetransmitReason {
    /// A SYN or SYN-ACK whose retransmission timer expired, or a SYN-ACK repeated because the
    /// peer repeated its SYN (SPEC S5).
    SynRetry,
    /// The retransmission timer expired (RFC 6298 §5.4; SPEC S17).
    Rto,
    /// Loss found during fast recovery: three duplicate ACKs or a partial ACK (RFC 5681
    /// §3.2, RFC 6582; SPEC S20), SACKs (RFC 6675) or RACK (RFC 8985).
    FastRetransmit,
    /// A zero-window probe from the persist timer (RFC 9293 §3.8.6.1; SPEC S19).
    Probe,
    /// A tail loss probe (RFC 8985 §7): the last segment sent again after the probe timeout.
    TailLossProbe,
}

impl RetransmitReason {
    /// The name traces show.
    pub const fn name(self) -> &'static str {
        match self {
            RetransmitReason::SynRetry => "syn-retry",
            RetransmitReason::Rto => "rto",
            RetransmitReason::FastRetransmit => "fast-retransmit",
            RetransmitReason::Probe => "probe",
            RetransmitReason::TailLossProbe => "tail-loss-probe",
        }
    }
}

impl fmt::Display for RetransmitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an arriving segment was dropped (wholly or in part). Counted per reason in
/// [`ConnStats`], like the lines of `netstat -s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Outside the receive window (RFC 9293 §3.10.7.4, first check); answered with an ACK.
    OutOfWindow,
    /// Its timestamp is older than TS.Recent (PAWS, RFC 7323 §5.3); answered with an ACK.
    Paws,
    /// Its ACK acknowledges something not yet sent, or is too old (RFC 5961 §5.2).
    BadAck,
    /// The ACK bit is off in a synchronized state (RFC 9293 §3.10.7.4, fifth check).
    NoAck,
    /// A RST that failed the RFC 5961 §3.2 checks (outside the window, or answered by a
    /// challenge ACK), or that the state ignores (RFC 1337 in TIME-WAIT).
    BadRst,
    /// A SYN in a synchronized state (RFC 5961 §4; answered by a challenge ACK).
    UnexpectedSyn,
    /// Out-of-order data above every hole refused because the out-of-order store is at its
    /// memory bound (the receive buffer).
    ReassemblyFull,
    /// Data past what the receive buffer can hold.
    BufferFull,
    /// Data after the receiving side was closed (our application closed, or the peer's FIN
    /// was already received), or before the handshake completed.
    DataNotExpected,
    /// A segment that the state does not take (e.g. neither SYN nor RST in SYN-SENT).
    Unexpected,
    /// An ICMP error quoting a sequence number that is not in flight (RFC 5927 §4.1).
    IcmpOutOfWindow,
    /// A bare final ACK of the handshake while the listener defers accepting until data
    /// arrives (`TCP_DEFER_ACCEPT`; Linux `TCPDeferAcceptDrop`).
    DeferAccept,
}

impl DropReason {
    /// How many reasons there are.
    pub const COUNT: usize = 12;

    /// Every reason, in declaration order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::OutOfWindow,
        DropReason::Paws,
        DropReason::BadAck,
        DropReason::NoAck,
        DropReason::BadRst,
        DropReason::UnexpectedSyn,
        DropReason::ReassemblyFull,
        DropReason::BufferFull,
        DropReason::DataNotExpected,
        DropReason::Unexpected,
        DropReason::IcmpOutOfWindow,
        DropReason::DeferAccept,
    ];

    /// The name traces and counters show.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::OutOfWindow => "out-of-window",
            DropReason::Paws => "paws",
            DropReason::BadAck => "bad-ack",
            DropReason::NoAck => "no-ack",
            DropReason::BadRst => "bad-rst",
            DropReason::UnexpectedSyn => "unexpected-syn",
            DropReason::ReassemblyFull => "reassembly-full",
            DropReason::BufferFull => "buffer-full",
            DropReason::DataNotExpected => "data-not-expected",
            DropReason::Unexpected => "unexpected",
            DropReason::IcmpOutOfWindow => "icmp-out-of-window",
            DropReason::DeferAccept => "defer-accept",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something the connection reports through [`super::Conn::poll_event`].
///
/// The first five are application events and are always reported; the rest are trace events,
/// reported only while tracing is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed: the connection is ESTABLISHED.
    Connected,
    /// Data (or the end of the stream) can be read; reported again only after `recv` has
    /// been called.
    Readable,
    /// Room opened in the send buffer after a `send` that did not take everything.
    Writable,
    /// The peer's FIN arrived: after the buffered data, `recv` returns 0.
    PeerClosed,
    /// The connection reached CLOSED; `None` after an orderly close.
    Closed(Option<ConnError>),
    /// Trace: the state changed.
    StateChanged {
        /// The state left.
        from: TcpState,
        /// The state entered.
        to: TcpState,
    },
    /// Trace: a timer fired.
    TimerFired(TimerKind),
    /// Trace: a segment was sent again.
    Retransmit {
        /// Why.
        reason: RetransmitReason,
        /// Its first sequence number.
        seq: SeqNum,
        /// Its length in sequence space (payload, SYN and FIN).
        len: u32,
    },
    /// Trace: the congestion window or slow-start threshold changed.
    Cwnd {
        /// Congestion window, bytes.
        cwnd: u32,
        /// Slow-start threshold, bytes.
        ssthresh: u32,
    },
    /// Trace: an RTT sample was taken.
    Rtt {
        /// The sample.
        sample: Duration,
        /// Smoothed RTT after it.
        srtt: Duration,
        /// Retransmission timeout after it.
        rto: Duration,
    },
    /// Trace: an arriving segment was dropped.
    Dropped(DropReason),
}

impl Event {
    /// Whether this is a trace event (only reported while tracing is on).
    pub const fn is_trace(&self) -> bool {
        !matches!(
            self,
            Event::Connected
                | Event::Readable
                | Event::Writable
                | Event::PeerClosed
                | Event::Closed(_)
        )
    }
}

/// The events waiting for `poll_event`. A host drains them after every call, so one
/// application event at a time is the usual case: it waits in `first`, two bytes in `Conn`,
/// and nothing is allocated. Trace events, and events that arrive while others wait, go to
/// `more`, allocated when needed and freed with the other empty storage by the idle release
/// (`idle.rs`); a finished connection hands it on (`ConnSpare`). Without `first`, the
/// storage allocated by a connection's first event outlived its use by the idle delay, in
/// between the connections' own boxes, and a host that opens connections in bursts kept
/// those holes as fragmentation (docs/performance.md, idle connections).
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    /// The oldest event, when it is an application event and was queued while `more` was
    /// empty (so everything in `more` is newer).
    first: Option<AppEvent>,
    #[allow(
        clippy::box_collection,
        reason = "8 bytes in every connection where the queue takes 32"
    )]
    more: Option<Box<VecDeque<Event>>>,
}

/// An application event in two bytes.
#[derive(Debug, Clone, Copy)]
enum AppEvent {
    Connected,
    Readable,
    Writable,
    PeerClosed,
    Closed(Option<ConnError>),
}

impl AppEvent {
    fn of(event: Event) -> Option<AppEvent> {
        Some(match event {
            Event::Connected => AppEvent::Connected,
            Event::Readable => AppEvent::Readable,
            Event::Writable => AppEvent::Writable,
            Event::PeerClosed => AppEvent::PeerClosed,
            Event::Closed(e) => AppEvent::Closed(e),
            _ => return None,
        })
    }

    fn event(self) -> Event {
        match self {
            AppEvent::Connected => Event::Connected,
            AppEvent::Readable => Event::Readable,
            AppEvent::Writable => Event::Writable,
            AppEvent::PeerClosed => Event::PeerClosed,
            AppEvent::Closed(e) => Event::Closed(e),
        }
    }
}

impl EventQueue {
    pub(super) fn push_back(&mut self, event: Event) {
        if self.is_empty()
            && let Some(app) = AppEvent::of(event)
        {
            self.first = Some(app);
            return;
        }
        self.more.get_or_insert_default().push_back(event);
    }

    pub(super) fn pop_front(&mut self) -> Option<Event> {
        match self.first.take() {
            Some(app) => Some(app.event()),
            None => self.more.as_mut()?.pop_front(),
        }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.as_ref().map_or(0, |q| q.len())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub(super) fn storage_bytes(&self) -> usize {
        self.more.as_ref().map_or(0, |q| {
            core::mem::size_of::<VecDeque<Event>>() + q.capacity() * core::mem::size_of::<Event>()
        })
    }

    /// Frees the storage if nothing waits in it.
    pub(super) fn release_if_empty(&mut self) {
        if self.more.as_ref().is_some_and(|q| q.is_empty()) {
            self.more = None;
        }
    }

    /// The storage emptied, for a new connection, unless it grew past `max` events (trace
    /// events), then nothing.
    pub(super) fn take_cleared(&mut self, max: usize) -> EventQueue {
        self.first = None;
        let more = self.more.take().filter(|q| q.capacity() <= max).map(|mut q| {
            q.clear();
            q
        });
        EventQueue { first: None, more }
    }

    /// Takes `spare`'s storage if this queue has none.
    pub(super) fn adopt(&mut self, spare: EventQueue) {
        if self.more.is_none() {
            self.more = spare.more;
        }
    }
}

/// Why [`super::Conn::send`] took nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendError {
    /// The send buffer is full; wait for [`Event::Writable`] (`EAGAIN`).
    Full,
    /// Our side was shut down (`shutdown_write`, `close`), or the connection closed in order
    /// (`EPIPE`).
    Closed,
    /// The connection failed.
    Failed(ConnError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full => f.write_str("send buffer full"),
            SendError::Closed => f.write_str("sending side closed"),
            SendError::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for SendError {}

/// Why [`super::Conn::recv`] returned no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// Nothing to read yet; wait for [`Event::Readable`] (`EAGAIN`).
    WouldBlock,
    /// The connection failed (after every byte received before the failure was read).
    Failed(ConnError),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::WouldBlock => f.write_str("no data to read yet"),
            RecvError::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for RecvError {}

/// Counters of one connection, like `netstat -s` for a single socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnStats {
    /// Segments handed to `handle_segment`.
    pub segments_in: u64,
    /// Segments returned by `poll_transmit`.
    pub segments_out: u64,
    /// Segments sent again (every [`RetransmitReason`]).
    pub retransmits: u64,
    /// Payload bytes delivered in order.
    pub bytes_received: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Trace events lost because the event queue was full.
    pub events_lost: u64,
    /// D-SACKs received (RFC 2883; Linux TCPDSACKRecv).
    pub dsacks_received: u64,
    /// Tail loss probes sent (RFC 8985 §7; Linux TCPLossProbes).
    pub tlp_probes: u64,
    /// Tail loss probes that repaired a loss (Linux TCPLossProbeRecovery).
    pub tlp_recoveries: u64,
    /// Window reductions taken back because the retransmissions proved spurious (D-SACK,
    /// RFC 3708; timestamps, RFC 3522; Linux TCPDSACKUndo and friends).
    pub spurious_undos: u64,
    /// Segments the peer has received, acknowledged cumulatively or SACKed, our SYN (with
    /// any data it carried) counted as one (Linux `tcpi_delivered`).
    pub delivered: u64,
    /// Of those, segments acknowledged by ACKs carrying ECN-Echo (Linux `tcpi_delivered_ce`).
    pub delivered_ce: u64,
    /// Data segments that arrived marked Congestion Experienced (RFC 3168; counted only on a
    /// connection using ECN).
    pub ce_received: u64,
    /// Window reductions for an ECN-Echo (RFC 3168 §6.1.2; entries of the CWR phase).
    pub ecn_reductions: u64,
    /// Drops by reason, 32 bits each and saturating, as Linux's per-socket `sk_drops`: half
    /// the room of the other counters, in every connection.
    dropped: [u32; DropReason::COUNT],
}

/// The counters as a connection keeps them: the five every connection that moves a byte
/// moves, inline; the rest, which count rare events (retransmissions, loss probes, undos,
/// ECN, D-SACKs, lost trace events, drops), in a box allocated by the first such event and
/// kept for the connection's life (`ss` and `TCP_INFO` report them). 48 bytes for a
/// connection that never had one, where the [`ConnStats`] it reports takes 160.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) segments_in: u64,
    pub(super) segments_out: u64,
    pub(super) bytes_received: u64,
    pub(super) bytes_acked: u64,
    pub(super) delivered: u64,
    rare: Option<Box<Rare>>,
}

/// The counters of rare events ([`ConnStats`] has their meaning).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Rare {
    pub(super) retransmits: u64,
    pub(super) events_lost: u64,
    pub(super) dsacks_received: u64,
    pub(super) tlp_probes: u64,
    pub(super) tlp_recoveries: u64,
    pub(super) spurious_undos: u64,
    pub(super) delivered_ce: u64,
    pub(super) ce_received: u64,
    pub(super) ecn_reductions: u64,
    dropped: [u32; DropReason::COUNT],
}

impl Counters {
    /// The rare events' counters, to count one: allocated by the first.
    pub(super) fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Segments sent again.
    pub(super) fn retransmits(&self) -> u64 {
        self.rare.as_ref().map_or(0, |r| r.retransmits)
    }

    pub(super) fn count_drop(&mut self, reason: DropReason) {
        let n = &mut self.rare_mut().dropped[reason.index()];
        *n = n.saturating_add(1);
    }

    /// What the counters say, as the connection reports them.
    pub(super) fn snapshot(&self) -> ConnStats {
        let rare = self.rare.as_deref().copied().unwrap_or_default();
        ConnStats {
            segments_in: self.segments_in,
            segments_out: self.segments_out,
            retransmits: rare.retransmits,
            bytes_received: self.bytes_received,
            bytes_acked: self.bytes_acked,
            events_lost: rare.events_lost,
            dsacks_received: rare.dsacks_received,
            tlp_probes: rare.tlp_probes,
            tlp_recoveries: rare.tlp_recoveries,
            spurious_undos: rare.spurious_undos,
            delivered: self.delivered,
            delivered_ce: rare.delivered_ce,
            ce_received: rare.ce_received,
            ecn_reductions: rare.ecn_reductions,
            dropped: rare.dropped,
        }
    }
}

impl ConnStats {
    /// Segments dropped (wholly or in part) for `reason` (saturating at `u32::MAX`).
    pub fn dropped(&self, reason: DropReason) -> u64 {
        u64::from(self.dropped[reason.index()])
    }

    /// Segments dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|&n| u64::from(n)).sum()
    }
}
