//! Congestion control: the window math, pluggable (after quinn-proto's `congestion.rs`).
//!
//! A [`CongestionControl`] owns two numbers, `cwnd` and `ssthresh` (RFC 5681 §3.1), and the
//! rules that move them. Everything that decides *when* those rules run lives in the engine, so
//! every algorithm ([`Cubic`], the default, and [`NewReno`]) gets the same loss detection and
//! recovery:
//!
//! * The engine counts duplicate ACKs and retransmits on the third (RFC 5681 §3.2); the
//!   controller sets the new `ssthresh` and `cwnd` in
//!   [`on_congestion_event`]`(FastRetransmit, flight)`.
//! * Fast recovery is the engine's: `recover` (RFC 6582 §3.2 steps 1–2), window inflation,
//!   partial ACKs. The controller is not called for ACKs inside recovery.
//! * The full ACK that ends recovery (RFC 6582 §3.2 step 3): [`on_recovery_exit`]`(flight)`
//!   deflates `cwnd`.
//! * The retransmission timer and its backoff are the engine's; each expiry is
//!   [`on_congestion_event`]`(Timeout or RepeatedTimeout, flight)`.
//! * ACKs of new data outside recovery, and whether the sender was cwnd-limited, come from the
//!   engine; [`on_new_ack`] (or the older [`on_ack`], without sequence numbers) runs slow
//!   start and congestion avoidance. [`NewAck`] carries `SND.UNA` and `SND.MAX`, from which a
//!   controller counts round trips the way RFC 9406 (HyStart++) defines them.
//! * The engine notices idle periods longer than the RTO; [`on_idle_restart`] sets the restart
//!   window.
//! * MSS negotiation and path MTU changes: [`on_mss_change`].
//! * When D-SACKs (RFC 3708) or timestamps (Eifel, RFC 3522) show that the retransmissions of
//!   the last reduction were all spurious, [`undo`] goes back to the window from before it
//!   (Linux's `tcp_undo_cwnd_reduction`; RFC 9438 §4.9 for CUBIC).
//! * The engine emits `Cwnd { cwnd, ssthresh }` trace events from [`metrics`].
//!
//! # The engine's contract
//!
//! * **Usable window.** Outside recovery the engine may have `min(window(), rwnd)` bytes in
//!   flight. During fast recovery it keeps its own signed adjustment on top of [`window`]
//!   (which holds `ssthresh` right after [`FastRetransmit`]): `+3·SMSS` on entry and `+SMSS`
//!   for every further duplicate ACK, i.e. `dupacks·SMSS` (RFC 5681 §3.2 step 3: "cwnd set to
//!   ssthresh plus 3*SMSS", step 4: "cwnd MUST be incremented by SMSS"); on a partial ACK it
//!   subtracts the bytes acknowledged and adds back `SMSS` if at least `SMSS` was acknowledged
//!   (RFC 6582 §3.2 step 3, "Partial acknowledgments"). The usable window is
//!   `window() + adjustment`, never below zero. The inflation never enters the controller, so
//!   no algorithm has to undo it when recovery ends.
//! * **Flight size** is RFC 5681 §2's FlightSize, "the amount of data that has been sent but
//!   not yet cumulatively acknowledged" (`SND.MAX − SND.UNA`, measured before the
//!   retransmission for congestion events, after the ACK for [`on_recovery_exit`]).
//! * **Entering recovery at most once per window** (RFC 6582 §3.2 step 1: only when the
//!   cumulative ACK covers more than `recover`; otherwise "the TCP does not enter fast
//!   retransmit and does not reset ssthresh") and reacting to ECN at most once per window
//!   (RFC 3168 §6.1.2) are the engine's checks: every event it reports is acted on.
//! * **After every call** the engine may compare [`metrics`] with the last values it reported
//!   and emit a `Cwnd` trace event when `cwnd` or `ssthresh` moved.
//!
//! Controllers are built by a [`CongestionControlFactory`], found by name with
//! [`factory_by_name`] (the names are Linux's `tcp_congestion_control` values), so a config
//! string picks the algorithm and a new one needs only a new entry in the registry. A
//! connection holds a [`Controller`], which its factory's
//! [`build_controller`](CongestionControlFactory::build_controller) gives: the built-in
//! algorithms inline (no allocation per connection, calls without a virtual dispatch), any
//! other boxed as a trait object.
//!
//! No method allocates except [`CongestionControlFactory::build`], the default
//! [`CongestionControlFactory::build_controller`] and [`CongestionControl::clone_box`] (one
//! `Box` each); no method panics, whatever its inputs: all arithmetic saturates.
//!
//! [`on_congestion_event`]: CongestionControl::on_congestion_event
//! [`on_recovery_exit`]: CongestionControl::on_recovery_exit
//! [`on_ack`]: CongestionControl::on_ack
//! [`on_new_ack`]: CongestionControl::on_new_ack
//! [`undo`]: CongestionControl::undo
//! [`on_idle_restart`]: CongestionControl::on_idle_restart
//! [`on_mss_change`]: CongestionControl::on_mss_change
//! [`metrics`]: CongestionControl::metrics
//! [`window`]: CongestionControl::window
//! [`FastRetransmit`]: CongestionEvent::FastRetransmit

use core::fmt;
use core::time::Duration;

use ustack_wire::SeqNum;

use crate::Instant;

mod compact;
mod controller;
pub mod cubic;
pub mod hystart;
mod newreno;
#[cfg(test)]
mod tests;

pub use controller::Controller;
pub use cubic::{Cubic, CubicFactory};
pub use hystart::{HyStart, HyStartPhase, SlowStartStep};
pub use newreno::{NewReno, NewRenoFactory};

/// `ssthresh` before the first congestion event: "The initial value of ssthresh SHOULD be set
/// arbitrarily high (e.g., to the size of the largest possible advertised window)"
/// (RFC 5681 §3.1). Linux uses `TCP_INFINITE_SSTHRESH` the same way.
pub const INFINITE_SSTHRESH: u32 = u32::MAX;

/// The initial window in bytes as Linux computes it: `segments · mss`, saturating
/// (`tcp_init_cwnd`, `TCP_INIT_CWND` = 10 segments, or the route's `initcwnd`).
///
/// RFC 6928 §2 gives `IW = min(10·MSS, max(2·MSS, 14600))` instead
/// ([`rfc6928_initial_window`]). The two agree for every MSS up to 1460 bytes, so on Ethernet
/// paths; for a larger MSS (jumbo frames, loopback's 65483) Linux's flat `10·MSS` is larger
/// than the RFC's 14600-byte cap. ustack follows Linux: the engine passes
/// `initial_window(mss, cfg.initial_cwnd)` to [`CongestionControlFactory::build`].
#[must_use]
pub const fn initial_window(mss: u32, segments: u32) -> u32 {
    mss.saturating_mul(segments)
}

/// RFC 6928 §2's initial window: "IW = min (10*MSS, max (2*MSS, 14600))", saturating.
///
/// Not the default (see [`initial_window`]); here for configurations and tests that want the
/// RFC's value.
#[must_use]
pub const fn rfc6928_initial_window(mss: u32) -> u32 {
    let ten = mss.saturating_mul(10);
    let two = mss.saturating_mul(2);
    let floor = if two > 14_600 { two } else { 14_600 };
    if ten < floor { ten } else { floor }
}

/// What the engine saw that makes the controller back off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CongestionEvent {
    /// Loss detected by duplicate ACKs (the third one, RFC 5681 §3.2) or, later, by SACK or
    /// RACK: the engine retransmits and enters fast recovery.
    FastRetransmit,
    /// The retransmission timer expired for a segment not yet retransmitted by the timer
    /// (RFC 5681 §3.1). The engine leaves fast recovery if it was in it.
    Timeout,
    /// The retransmission timer expired again for a segment it already retransmitted (RTO
    /// backoff, no new data acknowledged since): RFC 5681 §3.1, "when a TCP sender detects
    /// segment loss using the retransmission timer and the given segment has already been
    /// retransmitted by way of the retransmission timer at least once, the value of ssthresh
    /// is held constant."
    RepeatedTimeout,
    /// An ACK carried ECN-Echo (RFC 3168 §6.1.2): reduce as for a loss, without a
    /// retransmission. Reserved until ustack negotiates ECN.
    Ecn,
}

/// A controller's state for observability (trace events, `ustack ss`, plots).
///
/// `#[non_exhaustive]`: build one with [`CcMetrics::new`] and fill the optional fields an
/// algorithm has; new algorithm-specific fields (CUBIC's `W_max`, ...) can be added later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CcMetrics {
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes; [`INFINITE_SSTHRESH`] before the first congestion event.
    pub ssthresh: u32,
    /// Bytes counted towards the next congestion-avoidance increase (RFC 3465 `bytes_acked`),
    /// for algorithms that count bytes.
    pub bytes_acked: Option<u32>,
    /// Pacing rate in bytes per second, for algorithms that pace (none yet).
    pub pacing_rate: Option<u64>,
    /// CUBIC's `W_max` in bytes (RFC 9438 §4.1.2: the window just before the last reduction,
    /// or less with fast convergence), once it is defined.
    pub w_max: Option<u32>,
}

impl CcMetrics {
    /// Metrics with only the window and threshold set.
    #[must_use]
    pub const fn new(cwnd: u32, ssthresh: u32) -> Self {
        CcMetrics { cwnd, ssthresh, bytes_acked: None, pacing_rate: None, w_max: None }
    }
}

/// One "new ACK" (RFC 9438 §4.1.2: an ACK "that cumulatively acknowledges the delivery of new
/// data") outside fast recovery, as the engine hands it to [`CongestionControl::on_new_ack`].
///
/// `#[non_exhaustive]`: build one with [`NewAck::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewAck {
    /// Bytes of new data the ACK cumulatively acknowledged (SYN and FIN not counted).
    pub acked_bytes: u32,
    /// The RTT sample the ACK produced, if any (after Karn's rule).
    pub rtt: Option<Duration>,
    /// The sender was not using its window in the flight this ACK covers (see
    /// [`CongestionControl::on_ack`] for how the engine decides).
    pub app_limited: bool,
    /// `SND.UNA` after the ACK: every sequence number before it is acknowledged.
    pub snd_una: SeqNum,
    /// `SND.MAX` when the ACK arrived, before anything the ACK lets the engine send: one past
    /// the highest sequence number sent so far. RFC 9406 §4.2 says `SND.NXT` ("windowEnd ...
    /// initialized to SND.NXT"), which is the same as long as retransmissions do not move
    /// `SND.NXT` back.
    pub snd_max: SeqNum,
}

impl NewAck {
    /// An ACK of `acked_bytes` new bytes with the given RTT sample and cwnd-limited flag,
    /// leaving `SND.UNA` at `snd_una` while `SND.MAX` is `snd_max`.
    #[must_use]
    pub const fn new(
        acked_bytes: u32,
        rtt: Option<Duration>,
        app_limited: bool,
        snd_una: SeqNum,
        snd_max: SeqNum,
    ) -> Self {
        NewAck { acked_bytes, rtt, app_limited, snd_una, snd_max }
    }
}

/// One connection's congestion controller: the window math only (see the module docs for the
/// split with the engine). Object safe; the engine holds a [`Controller`]: the built-in
/// algorithms inline, any other as a `Box<dyn CongestionControl>`.
///
/// Every implementation keeps `SMSS ≤ window()` and `2·SMSS ≤ ssthresh()` (saturating) after
/// any call, and never panics.
pub trait CongestionControl: Send + fmt::Debug {
    /// The algorithm's name, as [`factory_by_name`] knows it (`"newreno"`).
    fn name(&self) -> &'static str;

    /// The congestion window `cwnd`, in bytes.
    fn window(&self) -> u32;

    /// The slow-start threshold `ssthresh`, in bytes ([`INFINITE_SSTHRESH`] until the first
    /// congestion event).
    fn ssthresh(&self) -> u32;

    /// Whether the controller is in slow start. RFC 5681 §3.1: "The slow start algorithm is
    /// used when cwnd < ssthresh, while the congestion avoidance algorithm is used when cwnd >
    /// ssthresh. When cwnd and ssthresh are equal, the sender may use either"; like Linux's
    /// `tcp_in_slow_start`, equal counts as congestion avoidance.
    fn in_slow_start(&self) -> bool {
        self.window() < self.ssthresh()
    }

    /// An ACK outside fast recovery cumulatively acknowledged `acked_bytes` of new data.
    ///
    /// `rtt` is the RTT sample this ACK produced, if any (after Karn's rule); NewReno ignores
    /// it, delay-aware algorithms use it. `app_limited` is true when the sender was not using
    /// its window, so the ACK says nothing about whether a larger one would be safe; the
    /// controller then leaves the window alone. The engine computes it like Linux's
    /// `tcp_is_cwnd_limited`: *not* app-limited if, during the flight this ACK covers, the
    /// flight reached `window()`, or, in slow start, if `window() < 2 · the largest flight`
    /// (RFC 7661's test for a validated cwnd: pipeACK ≥ cwnd/2).
    ///
    /// Not called for duplicate ACKs, for ACKs during fast recovery, nor for the full ACK that
    /// ends it ([`on_recovery_exit`](Self::on_recovery_exit) instead).
    ///
    /// [`on_new_ack`](Self::on_new_ack) is the same call with the send sequence numbers; an
    /// engine calls one or the other for each ACK, never both. Without sequence numbers a
    /// controller that counts round trips (CUBIC's HyStart++) estimates them from the bytes
    /// acknowledged (see [`HyStart`]).
    fn on_ack(&mut self, now: Instant, acked_bytes: u32, rtt: Option<Duration>, app_limited: bool);

    /// [`on_ack`](Self::on_ack) with `SND.UNA` and `SND.MAX`, for controllers that count
    /// round trips in sequence space (RFC 9406 §4.2's `windowEnd`). Called for the same ACKs,
    /// instead of `on_ack`. The default drops the sequence numbers and calls `on_ack`, which
    /// is all an algorithm that does not count rounds (NewReno) needs.
    fn on_new_ack(&mut self, now: Instant, ack: &NewAck) {
        self.on_ack(now, ack.acked_bytes, ack.rtt, ack.app_limited);
    }

    /// Congestion was detected; `flight_size` is RFC 5681's FlightSize when it was.
    fn on_congestion_event(&mut self, now: Instant, event: CongestionEvent, flight_size: u32);

    /// A full ACK (one covering `recover`) ended fast recovery (RFC 6582 §3.2 step 3).
    /// `flight_size` is the data still outstanding after that ACK. The engine drops its window
    /// inflation at the same time. Not called when a timeout ends recovery.
    fn on_recovery_exit(&mut self, now: Instant, flight_size: u32);

    /// The sender's maximum segment size changed (MSS negotiated in the handshake, or a path
    /// MTU change). `mss` is clamped to at least 1.
    fn on_mss_change(&mut self, mss: u32);

    /// The engine is about to send after no transmission for longer than the RTO with nothing
    /// in flight (RFC 5681 §4.1; Linux's `tcp_slow_start_after_idle`, on by default). The
    /// engine decides when; the controller sets the restart window.
    fn on_idle_restart(&mut self, now: Instant);

    /// The last reduction was spurious (Linux `tcp_undo_cwnd_reduction`: D-SACKs showed
    /// every retransmission arrived twice, or timestamps showed the original arrived): go
    /// back to the window and threshold from before it. `prior_cwnd` and `prior_ssthresh`
    /// are what [`window`](Self::window) and [`ssthresh`](Self::ssthresh) returned just before
    /// the [`on_congestion_event`](Self::on_congestion_event) being undone. The default
    /// restores them as Linux's Reno does (`cwnd = max(cwnd, prior_cwnd)`, `ssthresh =
    /// max(ssthresh, prior_ssthresh)`) through [`restore`](Self::restore). CUBIC restores
    /// its own state from before the event as RFC 9438 §4.9.2 says (`W_max`, `K`, `t_epoch`,
    /// `W_est`, `cwnd_prior` with the window), if `cwnd` is still below `cwnd_prior`.
    fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        let cwnd = self.window().max(prior_cwnd);
        let ssthresh = self.ssthresh().max(prior_ssthresh);
        self.restore(cwnd, ssthresh);
    }

    /// Sets the window and threshold outright (for [`undo`](Self::undo)); an algorithm with
    /// more state resets what depends on them. The default does nothing.
    fn restore(&mut self, _cwnd: u32, _ssthresh: u32) {}

    /// The controller's state for observability.
    fn metrics(&self) -> CcMetrics {
        CcMetrics::new(self.window(), self.ssthresh())
    }

    /// An independent copy of this controller, state included.
    fn clone_box(&self) -> Box<dyn CongestionControl>;
}

impl Clone for Box<dyn CongestionControl> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Builds controllers of one algorithm; one factory serves every connection.
pub trait CongestionControlFactory: Send + Sync + fmt::Debug {
    /// The algorithm's canonical name (`"newreno"`).
    fn name(&self) -> &'static str;

    /// A controller for a new connection: `mss` is the sender's MSS (SMSS), `initial_window`
    /// the initial `cwnd` in bytes (the engine passes [`initial_window`]`(mss,
    /// cfg.initial_cwnd)`; a value below one SMSS is raised to it).
    fn build(&self, mss: u32, initial_window: u32) -> Box<dyn CongestionControl>;

    /// The controller a connection holds, from the same arguments as [`build`](Self::build):
    /// the default boxes what `build` gives ([`Controller::Boxed`]); the built-in factories
    /// return their algorithm inline, so that a connection of theirs allocates nothing for
    /// it. The engine builds its controllers with this.
    fn build_controller(&self, mss: u32, initial_window: u32) -> Controller {
        Controller::Boxed(self.build(mss, initial_window))
    }
}

/// The registry: every name a config may use, aliases included. A new algorithm is one more
/// line here; the engine never names an algorithm.
static REGISTRY: [(&str, &'static dyn CongestionControlFactory); 3] =
    [("cubic", &CubicFactory), ("newreno", &NewRenoFactory), ("reno", &NewRenoFactory)];

/// The factory registered under `name` (ASCII case-insensitive): `"cubic"`, `"newreno"`, or
/// `"reno"`, which is NewReno too (as in Linux, where `reno` gets RFC 6582's partial-ACK
/// handling from the generic recovery code in `tcp_input.c`).
#[must_use]
pub fn factory_by_name(name: &str) -> Option<&'static dyn CongestionControlFactory> {
    REGISTRY.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, f)| f)
}

/// The canonical names of the registered algorithms (aliases left out), as Linux's
/// `tcp_available_congestion_control` lists them.
pub fn available() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().filter(|(n, f)| *n == f.name()).map(|&(n, _)| n)
}

/// Every name a config may use, aliases included (`"cubic"`, `"newreno"`, `"reno"`).
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|&(n, _)| n)
}

/// The factory used when a config names none: CUBIC with HyStart++, Linux's default
/// (`CONFIG_DEFAULT_TCP_CONG="cubic"`) and RFC 9438's recommendation for the Internet.
#[must_use]
pub fn default_factory() -> &'static dyn CongestionControlFactory {
    &CubicFactory
}
