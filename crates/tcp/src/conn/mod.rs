//! One TCP connection, sans-IO (docs/tcp-engine.md).
//!
//! [`Conn`] is the RFC 9293 state machine of one connection with its send and receive spaces,
//! timers, RTT estimator and congestion controller. It never reads a clock (time is the `now`
//! argument), never does I/O (segments go in and out as [`TcpRepr`] values) and never
//! allocates per segment once its buffers have grown to their working size.
//!
//! # Call order
//!
//! ```text
//! create:   Conn::connect (active open) or Conn::accept (passive open, from a listener's SYN)
//! inputs:   handle_segment(now, seg)   a segment for this 4-tuple arrived (or
//!           handle_segment_ecn(now, seg, ecn) with its IP header's ECN codepoint)
//!           handle_timeout(now)        poll_timeout()'s deadline has passed
//!           send / recv / shutdown_write / close / abort   the application
//! outputs:  after every input, in this order, until each returns None:
//!           poll_transmit(now, scratch)   the next segment to send (or poll_transmit_ecn:
//!                                         with the ECN codepoint for its IP header)
//!           poll_event()                  what happened (application and trace events)
//!           poll_timeout()                when to call handle_timeout next
//! ```
//!
//! `poll_transmit` borrows the payload straight from the send buffer when the bytes are
//! contiguous there; when they wrap around the end of the ring they are copied into `scratch`
//! first. Either way nothing is allocated. A segment's payload is never longer than
//! `scratch.len()`, so pass a buffer of at least the MSS (a 64 KiB scratch per stack covers
//! every case).
//!
//! The host (ustack-core) owns demultiplexing, IP, the listener (SYN queue, accept queue) and
//! the keyed timer queue; a closed `Conn` answers further segments with RSTs
//! (RFC 9293 §3.10.7.1) until the host drops it. [`reset_for`] builds the same RST for
//! segments that match no connection at all.
//!
//! # Where each rule lives
//!
//! - `input.rs`: RFC 9293 §3.10.7, segment arrival, state by state.
//! - `output.rs`: which segment to send next (SYN, data within min(cwnd, peer window), Nagle,
//!   SWS avoidance, FIN, ACK, RST) and how the receive window is advertised.
//! - `timers.rs`: what each of the seven timers of SPEC S21 does when it fires.
//! - this file: creation, the application calls, and the bookkeeping shared by the three.

use core::net::SocketAddr;
use std::sync::Arc;

use ustack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

use crate::cc::{self, CongestionControl, Controller};
use crate::{
    Assembler, Instant, RingBuffer, RttEstimator, TcpConfig, TcpState, TimerKind, TimerTable,
};
use recv::Receiver;
use send::Sender;

mod cookie;
mod defer;
mod ecn;
mod event;
mod fastopen;
mod icmp;
mod idle;
mod input;
mod output;
mod recv;
mod send;
mod sockopt;
mod time_wait;
mod timers;
mod tuple;

#[cfg(test)]
mod tests;

pub use defer::{retrans_to_secs, secs_to_retrans};
pub use event::{ConnError, ConnStats, DropReason, Event, RecvError, RetransmitReason, SendError};
pub use icmp::{IcmpError, MIN_PMTU};
pub use idle::RELEASE_AFTER;
pub use send::ChronoStats;
pub use sockopt::ConnInfo;
pub use time_wait::{TimeWait, TimeWaitInput};

/// The two ends of a connection, as seen from this host: the addresses on the wire, both
/// IPv4 or both IPv6 (an IPv4 peer of a dual-stack socket is an IPv4 tuple here; the host
/// shows it as an IPv4-mapped address). IPv6 addresses carry no flow info or scope id (both
/// 0). The engine uses the family for the header sizes (MSS) and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

impl FourTuple {
    /// Whether the connection runs over IPv6.
    pub const fn is_ipv6(&self) -> bool {
        self.remote.is_ipv6()
    }

    /// The bytes of IP and TCP headers without options: 40 over IPv4, 60 over IPv6 (RFC 9293
    /// §3.7.1: the MSS is the MTU less these).
    pub const fn header_len(&self) -> u16 {
        if self.is_ipv6() { 60 } else { 40 }
    }
}

/// The connection state, carrying what is valid only in it. The FIN we send is
/// not part of the state: its sequence number lives in the send space, because output needs
/// it in FIN-WAIT-1, CLOSING and LAST-ACK alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SynSent,
    /// `passive`: entered from a listener's SYN (true) or by simultaneous open from SYN-SENT
    /// (false); RFC 9293 §3.10.7.4 treats a RST differently in the two.
    SynReceived {
        passive: bool,
    },
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed {
        error: Option<ConnError>,
    },
}

impl State {
    const fn name(self) -> TcpState {
        match self {
            State::SynSent => TcpState::SynSent,
            State::SynReceived { .. } => TcpState::SynReceived,
            State::Established => TcpState::Established,
            State::FinWait1 => TcpState::FinWait1,
            State::FinWait2 => TcpState::FinWait2,
            State::CloseWait => TcpState::CloseWait,
            State::Closing => TcpState::Closing,
            State::LastAck => TcpState::LastAck,
            State::TimeWait => TcpState::TimeWait,
            State::Closed { .. } => TcpState::Closed,
        }
    }
}

/// The options in force: offered by both sides in the handshake (before it completes: the
/// ones we offer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Negotiated {
    timestamps: bool,
    sack: bool,
    window_scaling: bool,
}

impl Negotiated {
    /// What we offer in our SYN or SYN-ACK: every option the config enables.
    const fn offered_by(cfg: &TcpConfig) -> Negotiated {
        Negotiated {
            timestamps: cfg.timestamps,
            sack: cfg.sack,
            window_scaling: cfg.window_scaling,
        }
    }
}

/// A RST to send (RFC 9293 §3.10.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rst {
    seq: SeqNum,
    /// With the ACK bit and this acknowledgment number.
    ack: Option<SeqNum>,
    /// An abort of ours (Linux `tcp_send_active_reset`, which carries the connection's
    /// options), not an answer to a segment (`tcp_v4_send_reset`, which carries none).
    active: bool,
}

/// A TCP connection: see the [module docs](self) for the call order.
#[derive(Debug)]
pub struct Conn {
    /// The 4-tuple, packed (`tuple.rs`).
    tuple: tuple::Packed,
    /// The settings, shared with the other connections that run with the same ones until an
    /// option of this one is set ([`Conn::config_mut`]).
    cfg: Arc<TcpConfig>,
    state: State,
    snd: Sender,
    rcv: Receiver,
    opts: Negotiated,
    /// TS.Recent (RFC 7323 §4.3) and when it was recorded (for the 24-day rule, §5.5).
    ts_recent: u32,
    ts_recent_at: Instant,
    /// Added to our millisecond clock to form TSval (RFC 7323 §5.4).
    ts_offset: u32,
    /// The window field of our SYN or SYN-ACK (unscaled).
    syn_window: u16,
    rtt: RttEstimator,
    cc: Controller,
    last_cc: (u32, u32),
    timers: TimerTable,
    events: event::EventQueue,
    tracing: bool,
    stats: event::Counters,

    // ---- output obligations ----
    /// Send an ACK at the next `poll_transmit` (or piggyback it on data).
    ack_now: bool,
    /// `ack_now` is owed only to quick-ACK mode (set by `schedule_ack` for this segment): a
    /// FIN in the same segment makes the connection interactive and delays it after all.
    quick_ack_only: bool,
    /// A challenge ACK (RFC 5961) is owed; the host may withdraw it (host-wide limit).
    challenge_owed: bool,
    pending_rst: Option<Rst>,
    /// The persist timer fired: send what fits, or a window probe.
    force_send: bool,
    /// Send a probe (SND.UNA − 1, no data) that the peer must answer: keepalive.
    probe_now: bool,
    /// The next SYN-ACK is the first of a simultaneous open, not a retransmission.
    syn_fresh: bool,
    /// When we last answered an invalid segment (RFC 5961 §7 throttling).
    last_oow_ack: Option<Instant>,

    // ---- reliability ----
    /// When the last acceptable segment arrived (keepalive idle time).
    last_recv: Instant,
    /// Keepalive probes sent since the peer was last heard.
    keepalive_probes_out: u32,

    // ---- application ----
    /// `close()` was called: nobody will read (orphaned connection).
    orphan: bool,
    /// A `send` took less than offered: report `Writable` when room opens.
    send_blocked: bool,
    /// A `send` queued data: the segments it lets out until `poll_transmit` runs dry are
    /// the application's push (PSH on the last one the windows allow).
    push_burst: bool,
    /// `Readable` was reported and `recv` has not been called since.
    readable_signalled: bool,

    // ---- listener options ----
    /// Fast Open, either side (`fastopen.rs`): boxed, allocated by the first use (most
    /// connections never make one).
    fo: Option<Box<fastopen::FastOpen>>,
    /// `TCP_DEFER_ACCEPT` of a passive connection (`defer.rs`).
    defer: defer::Defer,
    /// When TIME-WAIT was entered (Linux `tw_entry_stamp`, for `tcp_tw_reuse`).
    time_wait_at: Instant,
    /// The TSval of our first SYN (Linux `retrans_stamp` in SYN-SENT): a SYN-ACK must echo
    /// one between it and now.
    first_syn_tsval: Option<u32>,
    /// Explicit Congestion Notification (`ecn.rs`).
    ecn: ecn::EcnState,
    /// The ECN codepoint of the segment being handled (`handle_segment_ecn`).
    in_ecn: crate::Ecn,
    /// When to free the storage of empty buffers if the connection stays quiet (`idle.rs`).
    release_at: Option<Instant>,
    /// A read emptied the receive buffer: the release is armed at the next call that knows
    /// the time (`idle.rs`, `arm_release_after_read`).
    release_after_read: bool,
}

/// What a finished connection leaves for a new one to start with, so that the new one
/// allocates nothing on its first bytes, first segment and first event: its ring buffers'
/// storage when it is the first allocation's size, and its event queue and the queue of
/// its segments in flight when they are small (a host that keeps the boxes of finished
/// connections for new ones, as ustack-core does, hands these over with
/// [`Conn::take_spare`] and [`Conn::use_spare`]).
#[derive(Debug, Default)]
pub struct ConnSpare {
    snd: Option<Box<[u8]>>,
    rcv: Option<Box<[u8]>>,
    events: event::EventQueue,
    scoreboard: send::Scoreboard,
}

/// The largest event queue a finished connection hands on (its capacity, in events); a
/// larger one, grown by trace events, is freed.
const SPARE_EVENTS_MAX: usize = 16;

/// At most this many trace events wait in the queue; later ones are counted as lost.
const MAX_TRACE_EVENTS: usize = 1024;

/// `end - start` in sequence space, or 0 when `end` is before `start`.
fn seq_len(start: SeqNum, end: SeqNum) -> u32 {
    let d = end.diff(start);
    if d > 0 { d as u32 } else { 0 }
}

/// Our receive window scale: the smallest shift that lets the largest receive buffer
/// (`rmem.max`) be advertised, at most 14 (RFC 7323 §2.3). Linux's
/// `tcp_select_initial_window` gives the same 7 for the default 6 MiB.
fn wscale_for(cfg: &TcpConfig) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (65_535u64 << shift) < u64::from(cfg.rmem.max) {
        shift += 1;
    }
    shift
}

/// The MSS we announce: the route's MTU less the IP and TCP headers (40 bytes over IPv4, 60
/// over IPv6, whose MTU is at least 1280: RFC 8200 §5), cut to `TCP_MAXSEG` when set, never
/// below `min_snd_mss`.
fn local_mss(cfg: &TcpConfig, tuple: FourTuple, mtu: u16) -> u16 {
    let mtu = if tuple.is_ipv6() { mtu.max(IPV6_MIN_MTU) } else { mtu };
    let mss = mtu.saturating_sub(tuple.header_len()).max(cfg.min_snd_mss);
    if cfg.user_mss != 0 { mss.min(cfg.user_mss.max(cfg.min_snd_mss)) } else { mss }
}

/// The IPv6 minimum link MTU (RFC 8200 §5).
pub const IPV6_MIN_MTU: u16 = 1280;

/// The send MSS the peer's SYN allows: its MSS option, or the default of RFC 9293 §3.7.1
/// ("If an MSS Option is not received at connection setup, TCP implementations MUST assume a
/// default send MSS of 536 (576 - 40) for IPv4 or 1220 (1280 - 60) for IPv6"; `mss_default`
/// for IPv4, at least 1220 for IPv6), raised to `min_snd_mss` (Linux CVE-2019-11479) and cut
/// to what our own path carries.
fn send_mss(cfg: &TcpConfig, tuple: FourTuple, option: Option<u16>, local_mss: u16) -> u16 {
    option
        .unwrap_or(default_mss(cfg, tuple))
        .max(cfg.min_snd_mss)
        .min(local_mss.max(cfg.min_snd_mss))
}

/// The send MSS without an MSS option: `mss_default` (536) over IPv4, at least 1220 over
/// IPv6 (RFC 9293 §3.7.1).
fn default_mss(cfg: &TcpConfig, tuple: FourTuple) -> u16 {
    if tuple.is_ipv6() { cfg.mss_default.max(IPV6_MIN_MTU - 60) } else { cfg.mss_default }
}

/// The RST RFC 9293 §3.10.7.1 sends in answer to `seg` when no connection exists (CLOSED, or
/// a segment no listener takes), or `None` for a segment that itself carries RST:
///
/// > If the ACK bit is off, sequence number zero is used, `<SEQ=0><ACK=SEG.SEQ+SEG.LEN>
/// > <CTL=RST,ACK>`. If the ACK bit is on, `<SEQ=SEG.ACK><CTL=RST>`.
pub fn reset_for(seg: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
    if seg.flags.contains(TcpFlags::RST) {
        return None;
    }
    let (seq, ack, flags) = if seg.flags.contains(TcpFlags::ACK) {
        (seg.ack, SeqNum(0), TcpFlags::RST)
    } else {
        (SeqNum(0), seg.seq + seg.segment_len(), TcpFlags::RST | TcpFlags::ACK)
    };
    Some(TcpRepr {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        seq,
        ack,
        flags,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    })
}

impl Conn {
    /// Active open (RFC 9293 §3.10.1): a connection in SYN-SENT whose first `poll_transmit`
    /// is the SYN.
    ///
    /// The SYN offers what a Linux SYN offers: MSS `mtu − 40` (IPv4 and TCP headers; `mtu − 60`
    /// over IPv6), window
    /// scaling with the shift `rmem.max` needs, SACK-permitted and timestamps, each as the
    /// config enables it. `iss` comes from the host's [`crate::IsnGenerator`] (RFC 6528).
    /// `cc` is the congestion controller, built with any MSS (e.g. [`Conn::default_cc`], or a
    /// [`Controller`] from any [`cc::CongestionControlFactory`], or a boxed
    /// [`CongestionControl`]): the engine tells it the negotiated MSS when the handshake
    /// completes.
    ///
    /// `cfg` must have passed [`TcpConfig::validate`]. The connection gives up with
    /// [`ConnError::TimedOut`] after `syn_retries` retransmissions (SPEC S5).
    ///
    /// `cfg` is a `TcpConfig` (the connection gets a copy of its own) or an
    /// `Arc<TcpConfig>` that many connections share: a host with a great many connections
    /// passes one `Arc` to all that run with the same settings, and a connection copies it
    /// only when one of its own options is set (`set_nodelay`, `set_keepalive`, ...).
    pub fn connect(
        now: Instant,
        cfg: impl Into<Arc<TcpConfig>>,
        tuple: FourTuple,
        iss: SeqNum,
        mtu: u16,
        cc: impl Into<Controller>,
    ) -> Conn {
        let cfg = cfg.into();
        let opts = Negotiated::offered_by(&cfg);
        let mut conn = Conn::new(now, cfg, tuple, iss, mtu, cc.into(), State::SynSent, opts);
        // RFC 3168 §6.1.1, Linux `tcp_ecn_send_syn`: only `tcp_ecn` = 1 asks for ECN.
        conn.ecn.ok = conn.cfg.ecn == 1;
        conn.timers.set(TimerKind::Establish, now + conn.cfg.syn_timeout());
        conn
    }

    /// Passive open: the listener (in the host) got `syn` for `tuple` and hands it over. The
    /// connection is in SYN-RECEIVED and its first `poll_transmit` is the SYN-ACK.
    ///
    /// Options are negotiated as RFC 7323 §2.2, §3.2 and RFC 2018 §2 ask: window scaling,
    /// timestamps and SACK only when the SYN offered them and the config enables them. The
    /// SYN-ACK announces our own MSS (`mtu − 40`, or `mtu − 60` over IPv6; RFC 9293 §3.7.1: the MSS option says what
    /// *we* can receive); segments we send use the smaller of the two. The half-open
    /// connection is dropped with [`ConnError::TimedOut`] after `synack_retries`
    /// retransmissions. Data in the SYN is not taken here: a Fast Open listener that accepts
    /// the SYN's cookie hands it over with [`Conn::accept_syn_data`]; otherwise the peer sends
    /// it again after the handshake. ECN is accepted for an ECN-setup SYN (ECE and CWR) when
    /// `cfg.ecn` is not 0 (RFC 3168 §6.1.1); the host takes ECE and CWR off a SYN that arrived
    /// ECT itself, as Linux does not take that one as ECN-setup. `cfg` as for
    /// [`Conn::connect`].
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        now: Instant,
        cfg: impl Into<Arc<TcpConfig>>,
        tuple: FourTuple,
        iss: SeqNum,
        mtu: u16,
        syn: &TcpRepr<'_>,
        cc: impl Into<Controller>,
    ) -> Conn {
        let cfg = cfg.into();
        let offered = Negotiated::offered_by(&cfg);
        let state = State::SynReceived { passive: true };
        let mut conn = Conn::new(now, cfg, tuple, iss, mtu, cc.into(), state, offered);
        conn.take_peer_syn(now, syn);
        conn.ecn_on_passive_syn(syn);
        conn.timers.set(TimerKind::Establish, now + conn.cfg.synack_timeout());
        conn
    }

    /// A congestion controller for `cfg`: the algorithm `cfg.congestion_control` names, with
    /// Linux's initial window of `initial_cwnd` segments. `cfg` must have passed
    /// [`TcpConfig::validate`], which refuses a name the registry does not know; should an
    /// unvalidated one come here anyway, the default algorithm runs.
    pub fn default_cc(cfg: &TcpConfig) -> Controller {
        let factory =
            cc::factory_by_name(cfg.congestion_control.as_str()).unwrap_or(cc::default_factory());
        let mss = u32::from(cfg.mss_default);
        factory.build_controller(mss, cc::initial_window(mss, cfg.initial_cwnd))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        now: Instant,
        cfg: Arc<TcpConfig>,
        tuple: FourTuple,
        iss: SeqNum,
        mtu: u16,
        cc: Controller,
        state: State,
        opts: Negotiated,
    ) -> Conn {
        let local_mss = local_mss(&cfg, tuple, mtu);
        let wscale = if cfg.window_scaling { wscale_for(&cfg) } else { 0 };
        let last_cc = (cc.window(), cc.ssthresh());
        Conn {
            tuple: tuple::Packed::new(tuple),
            state,
            snd: Sender {
                iss,
                una: iss,
                nxt: iss,
                max: iss,
                wnd: 0,
                max_wnd: 0,
                wl1: SeqNum(0),
                wl2: iss,
                mss: send_mss(&cfg, tuple, None, local_mss),
                wscale: 0,
                buf: RingBuffer::with_limit(cfg.wmem.default as usize),
                fin: None,
                syn_acked: false,
                sb: send::Scoreboard::default(),
                phase: send::Phase::Open,
                recover: iss,
                rack: send::Rack::default(),
                reordering: cfg.reordering.max(1),
                chrono: send::Chrono::new(now),
                busy_pending: false,
                undo: None,
                rtx_timer: send::RtxTimer::Rto,
                min_rtt: None,
                syn_retransmitted: false,
                last_send: now,
                sml: iss,
                max_pipe: 0,
                pipe_mark: iss,
                timed_end: iss,
                timed_at: None,
                loss: None,
            },
            rcv: Receiver {
                irs: SeqNum(0),
                nxt: SeqNum(0),
                adv_right: SeqNum(0),
                wscale,
                mss: local_mss,
                seg_mss: local_mss.min(default_mss(&cfg, tuple)),
                buf: RingBuffer::with_limit(cfg.rmem.default as usize),
                asm: Assembler::with_limit(recv::Tune::reassembly_limit(cfg.rmem.default as usize)),
                dsack: None,
                tune: recv::Tune::default(),
                fin: None,
                eof: false,
                sack_trigger: None,
                quickacks: 0,
                got_data: false,
                ato: crate::time::Nanos::new(cfg.delack_min),
                last_data_at: now,
                pingpong: 0,
                last_ack_sent: SeqNum(0),
                staged: false,
            },
            opts,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset: 0,
            syn_window: 0,
            rtt: RttEstimator::from_config(&cfg),
            cc,
            last_cc,
            timers: TimerTable::new(),
            events: event::EventQueue::default(),
            tracing: false,
            stats: event::Counters::default(),
            ack_now: false,
            quick_ack_only: false,
            challenge_owed: false,
            pending_rst: None,
            force_send: false,
            probe_now: false,
            syn_fresh: false,
            last_oow_ack: None,
            last_recv: now,
            keepalive_probes_out: 0,
            orphan: false,
            send_blocked: false,
            push_burst: false,
            readable_signalled: false,
            fo: None,
            defer: defer::Defer::default(),
            time_wait_at: now,
            first_syn_tsval: None,
            ecn: ecn::EcnState::default(),
            in_ecn: crate::Ecn::NotEct,
            release_at: None,
            release_after_read: false,
            cfg,
        }
    }

    /// Takes the peer's SYN (passive open, or simultaneous open): IRS, RCV.NXT, the peer's
    /// window and MSS, and the options both sides offered.
    fn take_peer_syn(&mut self, now: Instant, syn: &TcpRepr<'_>) {
        self.rcv.irs = syn.seq;
        self.rcv.nxt = syn.seq + 1u32;
        self.rcv.last_ack_sent = self.rcv.nxt;
        self.rcv.adv_right = self.rcv.nxt;
        let o = &syn.options;
        // RFC 7323 §2.2: scaling only "if a Window Scale option was received in the initial
        // <SYN> segment" and we offered it; §2.3: a shift above 14 is used as 14.
        self.opts.window_scaling &= o.window_scale.is_some();
        if self.opts.window_scaling {
            self.snd.wscale = o.window_scale.unwrap_or(0).min(14);
        } else {
            self.snd.wscale = 0;
            self.rcv.wscale = 0;
        }
        // RFC 7323 §3.2: timestamps only if both SYNs carry the option.
        self.opts.timestamps &= o.timestamps.is_some();
        if let Some(ts) = o.timestamps {
            self.ts_recent = ts.tsval;
            self.ts_recent_at = now;
        }
        // RFC 2018 §2: SACK only if both sent SACK-permitted.
        self.opts.sack &= o.sack_permitted;
        self.snd.mss = send_mss(&self.cfg, self.tuple.get(), o.mss, self.rcv.mss);
        // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set (i.e., a
        // <SYN> or <SYN,ACK>) MUST NOT be scaled."
        self.snd.wnd = u32::from(syn.window);
        self.snd.max_wnd = self.snd.wnd;
        self.snd.wl1 = syn.seq;
    }

    // ------------------------------------------------------------------------------------
    // Application calls
    // ------------------------------------------------------------------------------------

    /// Copies as much of `data` as the send buffer takes (its limit is `wmem.default`) and
    /// returns how much. Data sent before the handshake completes waits for it
    /// (RFC 9293 §3.10.2). `Err(SendError::Full)` when nothing fit: wait for
    /// [`Event::Writable`].
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        match self.state {
            State::Closed { error: Some(e) } => return Err(SendError::Failed(e)),
            State::SynSent | State::SynReceived { .. } | State::Established | State::CloseWait
                if self.snd.fin.is_none() => {}
            _ => return Err(SendError::Closed),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let queued_before = seq_len(self.snd.nxt, self.snd.data_end());
        let n = self.snd.buf.push(data);
        // Linux `tcp_add_write_queue_tail`: data queued behind nothing unsent starts busy time.
        self.snd.busy_pending |= n > 0 && queued_before == 0;
        if n < data.len() {
            self.send_blocked = true;
        }
        self.push_burst |= n > 0;
        if n == 0 { Err(SendError::Full) } else { Ok(n) }
    }

    /// Reads in-order data into `buf` and returns how many bytes; `Ok(0)` at the end of the
    /// stream (the peer's FIN, after every byte before it). Reading may open the receive
    /// window enough to announce it (RFC 9293 §3.8.6.2.2; see `output.rs`).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        self.readable_signalled = false;
        if !self.rcv.buf.is_empty() {
            let n = self.rcv.buf.pop(buf);
            if self.rcv.asm.is_empty() {
                self.rcv.buf.rewind_if_empty();
            }
            self.rcv.tune.read += n as u64;
            self.after_read();
            if self.rcv.buf.is_empty() {
                self.release_after_read = true;
            }
            return Ok(n);
        }
        match self.state {
            _ if self.rcv.eof => Ok(0),
            State::Closed { error: Some(e) } => Err(RecvError::Failed(e)),
            State::Closed { error: None } => Ok(0),
            _ => Err(RecvError::WouldBlock),
        }
    }

    /// Closes our sending side (`shutdown(SHUT_WR)`): a FIN follows the data already
    /// buffered; the connection goes to FIN-WAIT-1 (or LAST-ACK from CLOSE-WAIT) and can
    /// still receive (SPEC S9). In SYN-SENT the attempt is abandoned, as Linux does.
    pub fn shutdown_write(&mut self) {
        match self.state {
            // RFC 9293 §3.10.4, CLOSE in SYN-SENT: "Delete the TCB and return".
            State::SynSent => self.close_with(None),
            // RFC 9293 §3.10.4: "Queue this until all preceding SENDs have been segmentized,
            // then form a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
            State::SynReceived { .. } | State::Established => {
                self.snd.fin = Some(self.snd.data_end());
                self.set_state(State::FinWait1);
            }
            // "Queue this request until all preceding SENDs have been segmentized; then send
            // a FIN segment, enter LAST-ACK state."
            State::CloseWait => {
                self.snd.fin = Some(self.snd.data_end());
                self.set_state(State::LastAck);
            }
            _ => {}
        }
    }

    /// Closes the connection for the application (`close()`): afterwards nothing can be
    /// read or written. Like Linux (`tcp_close`, RFC 2525 §2.17), unread received data makes
    /// this an abort with RST; otherwise a FIN follows the buffered data and the orphaned
    /// connection finishes on its own (FIN-WAIT-2 is bounded by `fin_timeout`, SPEC S11).
    pub fn close(&mut self, now: Instant) {
        if matches!(self.state, State::Closed { .. }) {
            return;
        }
        self.orphan = true;
        if !self.rcv.buf.is_empty() && !matches!(self.state, State::SynSent | State::TimeWait) {
            self.queue_active_reset();
            self.close_with(None);
            return;
        }
        self.shutdown_write();
        if self.state == State::FinWait2 {
            self.arm_fin_wait2(now);
        }
    }

    /// Aborts the connection (RFC 9293 §3.10.5 ABORT): a RST goes out in the states where the
    /// peer holds state for us (SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT; Linux's
    /// `tcp_need_reset`), everything queued is dropped, and the connection is CLOSED with
    /// [`ConnError::Aborted`].
    pub fn abort(&mut self) {
        match self.state {
            State::Closed { .. } => return,
            State::SynReceived { .. }
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => self.queue_active_reset(),
            State::SynSent | State::Closing | State::LastAck | State::TimeWait => {}
        }
        self.close_with(Some(ConnError::Aborted));
    }

    /// Turns Nagle's algorithm off (`TCP_NODELAY`, true) or on (false).
    pub fn set_nodelay(&mut self, nodelay: bool) {
        if self.cfg.nodelay != nodelay {
            self.config_mut().nodelay = nodelay;
        }
    }

    /// Turns keepalive on or off (`SO_KEEPALIVE`; off by default, RFC 9293 §3.8.4 MUST-25).
    /// With it on, an idle connection is probed after `keepalive_time`, then every
    /// `keepalive_intvl`, and reset after `keepalive_probes` unanswered probes.
    pub fn set_keepalive(&mut self, now: Instant, on: bool) {
        if self.cfg.keepalive != on {
            self.config_mut().keepalive = on;
        }
        if !on {
            self.timers.stop(TimerKind::Keepalive);
        } else if matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait1 | State::FinWait2
        ) && !self.timers.is_armed(TimerKind::Keepalive)
        {
            self.timers.set(TimerKind::Keepalive, now + self.cfg.keepalive_time);
        }
    }

    /// Takes what a new connection can start with ([`ConnSpare`]) out of this one, which is
    /// done with: its buffers are emptied and its pending events dropped.
    pub fn take_spare(&mut self) -> ConnSpare {
        let events = self.events.take_cleared(SPARE_EVENTS_MAX);
        ConnSpare {
            snd: self.snd.buf.take_small_storage(),
            rcv: self.rcv.buf.take_small_storage(),
            events,
            scoreboard: self.snd.sb.take_spare(),
        }
    }

    /// Starts this connection, new and not yet used, on what a finished one left
    /// ([`Conn::take_spare`]): nothing it holds is visible (the storage is zeroed, the queue
    /// empty).
    pub fn use_spare(&mut self, spare: ConnSpare) {
        if let Some(storage) = spare.snd {
            self.snd.buf.adopt_storage(storage);
        }
        if let Some(storage) = spare.rcv {
            self.rcv.buf.adopt_storage(storage);
        }
        self.events.adopt(spare.events);
        self.snd.sb.use_spare(spare.scoreboard);
    }

    /// Switches trace events on or off (application events are always reported).
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// Sets the offset added to our millisecond clock in the timestamps we send. RFC 7323
    /// §5.4 recommends a random offset per connection so TSval does not reveal the host's
    /// uptime; the host derives it with a keyed hash. Default 0. Call before the first
    /// `poll_transmit`.
    pub fn set_timestamp_offset(&mut self, offset: u32) {
        self.ts_offset = offset;
    }

    // ------------------------------------------------------------------------------------
    // Outputs and accessors
    // ------------------------------------------------------------------------------------

    /// The next event, application or trace.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must be called next, or `None` when no timer runs (a closed
    /// connection).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.timers.next_deadline();
        match (timer, self.release_at) {
            (Some(t), Some(r)) => Some(if r < t { r } else { t }),
            (t, r) => t.or(r),
        }
    }

    /// The RFC 9293 state.
    pub fn state(&self) -> TcpState {
        self.state.name()
    }

    /// The error that closed the connection, if it closed on one.
    pub fn error(&self) -> Option<ConnError> {
        match self.state {
            State::Closed { error } => error,
            _ => None,
        }
    }

    /// The 4-tuple.
    pub fn tuple(&self) -> FourTuple {
        self.tuple.get()
    }

    /// The connection's counters, as they stand (a copy: the connection keeps the counters
    /// of rare events apart, allocated by the first of them).
    pub fn stats(&self) -> ConnStats {
        self.stats.snapshot()
    }

    /// Bytes received and not yet read (netstat's Recv-Q).
    pub fn recv_queue(&self) -> usize {
        self.rcv.buf.len()
    }

    /// Bytes sent by the application and not yet acknowledged (netstat's Send-Q).
    pub fn send_queue(&self) -> usize {
        self.snd.buf.len()
    }

    /// Room left in the send buffer.
    pub fn send_capacity(&self) -> usize {
        self.snd.buf.free()
    }

    /// The segment size we send: the negotiated MSS less the timestamps option when in use.
    pub fn effective_mss(&self) -> u16 {
        let ts = if self.opts.timestamps { 12 } else { 0 };
        self.snd.mss.saturating_sub(ts).max(1)
    }

    /// The RTT estimator (SRTT, RTTVAR, RTO).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The congestion controller.
    pub fn congestion_control(&self) -> &dyn CongestionControl {
        &self.cc
    }

    /// The timers and their deadlines.
    pub fn timers(&self) -> &TimerTable {
        &self.timers
    }

    /// The peer's send window as last advertised, scaled (SND.WND).
    pub fn peer_window(&self) -> u32 {
        self.snd.wnd
    }

    /// The next sequence number expected from the peer (RCV.NXT).
    pub fn recv_next(&self) -> SeqNum {
        self.rcv.nxt
    }

    /// For a connection in TIME-WAIT whose peer sent timestamps: SND.NXT and when TIME-WAIT
    /// began. What `tcp_tw_reuse` needs to hand the 4-tuple to a new outgoing connection
    /// safely (Linux `tcp_twsk_unique`: "With PAWS, it is safe from the viewpoint of data
    /// integrity"); `None` otherwise.
    pub fn time_wait_reuse(&self) -> Option<(SeqNum, Instant)> {
        (self.state == State::TimeWait && self.opts.timestamps)
            .then_some((self.snd.max, self.time_wait_at))
    }

    // ------------------------------------------------------------------------------------
    // Shared bookkeeping
    // ------------------------------------------------------------------------------------

    /// This connection's own settings, copied from the shared ones the first time an option
    /// of its own is set.
    fn config_mut(&mut self) -> &mut TcpConfig {
        Arc::make_mut(&mut self.cfg)
    }

    fn set_state(&mut self, to: State) {
        let from = self.state;
        self.state = to;
        if from.name() != to.name() {
            self.trace(Event::StateChanged { from: from.name(), to: to.name() });
        }
    }

    /// Enters CLOSED: every timer stops, unsent data is dropped, the application hears
    /// `Closed(error)`. Received data stays readable.
    fn close_with(&mut self, error: Option<ConnError>) {
        if matches!(self.state, State::Closed { .. }) {
            return;
        }
        self.set_state(State::Closed { error });
        self.timers.stop_all();
        self.release_at = None;
        self.snd.buf.clear();
        self.ack_now = false;
        self.challenge_owed = false;
        if let Some(l) = self.snd.loss_held() {
            l.rtx_now = false;
        }
        self.push_event(Event::Closed(error));
    }

    /// A RST that ends the connection from our side: Linux's `tcp_send_active_reset`,
    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>`.
    fn queue_active_reset(&mut self) {
        let ack = (!matches!(self.state, State::SynSent)).then_some(self.rcv.nxt);
        self.pending_rst = Some(Rst { seq: self.snd.max, ack, active: true });
    }

    fn push_event(&mut self, event: Event) {
        if event.is_trace() && self.events.len() >= MAX_TRACE_EVENTS {
            self.stats.rare_mut().events_lost += 1;
            return;
        }
        self.events.push_back(event);
    }

    fn trace(&mut self, event: Event) {
        if self.tracing {
            self.push_event(event);
        }
    }

    fn drop_segment(&mut self, reason: DropReason) {
        self.stats.count_drop(reason);
        self.trace(Event::Dropped(reason));
    }

    /// Reports `Readable` once per `recv`.
    fn signal_readable(&mut self) {
        if !self.readable_signalled && !self.orphan {
            self.readable_signalled = true;
            self.push_event(Event::Readable);
        }
    }

    /// Emits a `Cwnd` trace event when the controller's numbers moved.
    fn note_cc(&mut self) {
        let now = (self.cc.window(), self.cc.ssthresh());
        if now != self.last_cc {
            self.last_cc = now;
            self.trace(Event::Cwnd { cwnd: now.0, ssthresh: now.1 });
        }
    }

    /// Our timestamp clock: milliseconds since the epoch plus the offset (RFC 7323 §5.4:
    /// between 1 ms and 1 s per tick; Linux uses 1 ms).
    fn ts_now(&self, now: Instant) -> u32 {
        ((now.as_nanos() / 1_000_000) as u32).wrapping_add(self.ts_offset)
    }

    /// Arms the FIN-WAIT-2 timer of an orphaned connection: Linux's `tcp_fin_time`,
    /// max(`fin_timeout`, 3.5·RTO) (SPEC S11).
    fn arm_fin_wait2(&mut self, now: Instant) {
        let after = self.cfg.fin_wait2_time(self.rtt.rto());
        self.timers.set(TimerKind::FinWait2, now + after);
    }
}
