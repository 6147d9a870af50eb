//! CUBIC's window math (RFC 9438) with HyStart++ (RFC 9406) as its slow start, and Linux's
//! choices (`net/ipv4/tcp_cubic.c`) where the RFC leaves room. Fast recovery itself is the
//! engine's; see the [module docs](super).
//!
//! RFC 9438 counts windows in segments and time in seconds. Here windows are bytes, as
//! everywhere in the engine, and the curve is scaled by SMSS: `W_cubic(t) = C·SMSS·(t − K)³ +
//! W_max` bytes with `W_max` in bytes, and `K = ∛((W_max − cwnd_epoch) / (C·SMSS))` seconds,
//! the same `K` as the RFC's segment-counted formula. The curve is evaluated in `f64`; only
//! `+ − × ÷` are used (the cube root is Newton's method, not the platform's `cbrt`), which
//! IEEE 754 rounds the same way everywhere, so a run replays bit for bit on any machine.
//! Linux uses fixed point for the same numbers because its kernel has no floating point.

use core::time::Duration;

use super::compact::MaybeF64;
use super::hystart::HyStart;
use super::{
    CcMetrics, CongestionControl, CongestionControlFactory, CongestionEvent, Controller,
    HyStartPhase, INFINITE_SSTHRESH, NewAck,
};
use crate::Instant;

#[cfg(test)]
mod tests;

/// RFC 9438 §5.1: "C SHOULD be set to 0.4" (segments per second³).
pub const C: f64 = 0.4;
/// RFC 9438 §4.6: "The parameter β_cubic SHOULD be set to 0.7".
pub const BETA_CUBIC: f64 = 0.7;
/// RFC 9438 §4.3: `α_cubic = 3·(1 − β_cubic) / (1 + β_cubic)` (≈ 0.529), the additive
/// increase per RTT that makes `AIMD(α_cubic, β_cubic)` as aggressive as Reno's `AIMD(1, 0.5)`.
pub const ALPHA_CUBIC: f64 = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);

/// `flight · β_cubic` in integer arithmetic (β = 7/10 exactly).
fn beta_of(flight: u32) -> u32 {
    (u64::from(flight) * 7 / 10) as u32
}

/// The real cube root of `x ≥ 0` (0 for anything else), by Newton's method from a power of
/// two within a factor of two of the root: deterministic on every IEEE 754 platform, unlike a
/// libm `cbrt`. Twelve steps reach full precision from there (each step at least halves the
/// error far from the root and squares it near it).
fn cube_root(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return 0.0;
    }
    let exponent = ((x.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let mut y = f64::from_bits(((exponent / 3 + 1023) as u64) << 52);
    for _ in 0..12 {
        y = (2.0 * y + x / (y * y)) / 3.0;
    }
    y
}

/// One congestion-avoidance stage ("epoch"): from the first ACK after `cwnd` reached
/// `ssthresh` to the next congestion event or idle restart.
#[derive(Debug, Clone, PartialEq)]
struct Epoch {
    /// `t` of RFC 9438 Figure 1: time since the stage began, without the application-limited
    /// stretches (§4.2: "The elapsed time t in Figure 1 MUST NOT include periods during which
    /// cwnd has not been updated due to application-limited behavior"). Nanoseconds: the
    /// gaps between ACKs add up to at most the span of an [`Instant`] (`u64::MAX − 1` ns),
    /// and in 8 bytes where a `Duration` takes 16.
    elapsed_ns: u64,
    /// When the last ACK of the stage arrived: the gap to the next one counts towards
    /// `elapsed` only if that next ACK is cwnd-limited.
    last_ack: Instant,
    /// `K`, seconds (Figure 2).
    k: f64,
    /// `W_est`, bytes (Figure 4).
    w_est: f64,
}

impl Epoch {
    /// `t`, see `elapsed_ns`.
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns)
    }
}

/// What [`CongestionControl::undo`] restores (RFC 9438 §4.9.2's `undo_*` variables).
#[derive(Debug, Clone, PartialEq)]
struct Saved {
    cwnd: u32,
    cwnd_frac: f64,
    cwnd_prior: f64,
    ssthresh: u32,
    w_max: MaybeF64,
    epoch: Option<Epoch>,
}

/// CUBIC congestion control (RFC 9438), in bytes, with HyStart++ (RFC 9406) for the first
/// slow start.
///
/// * **Slow start** while `ssthresh` is still infinite runs [`HyStart`]: standard slow start
///   (at most `L = 8` segments of growth per ACK), Conservative Slow Start once the round's
///   minimum RTT has risen, congestion avoidance after [`CSS_ROUNDS`] rounds of it without a
///   loss (RFC 9438 §4.10: "CUBIC SHOULD use the HyStart++ slow start algorithm"). Later slow
///   starts (after a timeout or a deflated recovery exit, towards a known `ssthresh`) are
///   NewReno's: every byte acknowledged, up to `ssthresh`, the rest counted in congestion
///   avoidance. RFC 9406 §4.2: "An implementation SHOULD use HyStart++ only for the initial
///   slow start ... subsequent slow starts will use the discovered ssthresh value".
/// * **Congestion avoidance** (§4.2–4.5): a stage starts at its first ACK with
///   `cwnd_epoch = cwnd`, `W_est = cwnd_epoch` and `K` from Figure 2. Each cwnd-limited ACK
///   of `N` bytes grows `W_est` by `α·N·SMSS/cwnd` (Figure 4 in bytes; `α = 1` once `W_est ≥
///   cwnd_prior`). If `W_cubic(t) < W_est`, CUBIC is in the Reno-friendly region and `cwnd`
///   becomes `W_est` (never less than it was); otherwise `target = W_cubic(t + RTT)`,
///   clamped to `[cwnd, 1.5·cwnd]`, and `cwnd` grows by `(target − cwnd)/cwnd` per segment
///   acknowledged (the concave region below `W_max`, the convex one above). `RTT` is a
///   smoothed RTT kept from the samples the engine passes (RFC 6298's gain of 1/8); Linux
///   uses its minimum RTT there instead.
/// * **Multiplicative decrease** (§4.6, Figure 5): `ssthresh = max(FlightSize·β_cubic,
///   2·SMSS)`, `cwnd = ssthresh` on loss, `max(FlightSize·β_cubic, SMSS)` on ECN-Echo, with
///   FlightSize taken as at most `cwnd` (Linux uses `cwnd`; see `reduction_base` for why
///   the smaller of the two).
/// * **Fast convergence** (§4.7), on as in Linux (`fast_convergence = 1`): a loss below the
///   last `W_max` sets `W_max = cwnd·(1 + β_cubic)/2`, else `W_max = cwnd`.
/// * **Timeout** (§4.8): Reno's loss window (`cwnd = SMSS`) with `ssthresh` as above;
///   `W_max` is forgotten, so the first stage after it starts with `K = 0` and `W_max =
///   cwnd_epoch` (Linux: `bictcp_reset` on `TCP_CA_Loss`). A repeated timeout holds
///   `ssthresh` (RFC 5681 §3.1).
/// * **Application-limited ACKs** (§5.8) change no window and do not advance `t`.
/// * **Idle restart**: the restart window as NewReno's (RFC 5681 §4.1, Linux
///   `tcp_cwnd_restart`), and the stage ends, so the next one measures `t` afresh (§5.8: `t`
///   must not include idle periods, "otherwise W_cubic(t) might be very high after restarting
///   from these periods").
/// * **Undo** (§4.9.2): a fast retransmit or timeout saves `cwnd`, `cwnd_prior`, `ssthresh`,
///   `W_max`, `K`, `t_epoch` and `W_est`; [`CongestionControl::undo`], which the engine calls
///   when D-SACKs or timestamps show the retransmissions were spurious, restores them "if the
///   current cwnd is lower than cwnd_prior".
///
/// 136 bytes: optional floats keep `None` as NaN and durations are nanoseconds in 8 bytes
/// (see [`HyStart`]), decoded to the same values for every computation.
///
/// [`CSS_ROUNDS`]: super::hystart::CSS_ROUNDS
#[derive(Debug, Clone, PartialEq)]
pub struct Cubic {
    /// SMSS, at least 1.
    smss: u32,
    /// `cwnd`, bytes, at least `smss`.
    cwnd: u32,
    /// Growth of less than a byte not yet in `cwnd`, in `[0, 1)`.
    cwnd_frac: f64,
    /// `ssthresh`, at least `2·smss` (saturating) or [`INFINITE_SSTHRESH`].
    ssthresh: u32,
    /// IW, for the restart window after idle (RFC 5681 §4.1).
    initial_window: u32,
    /// `W_max`, bytes; `None` while undefined (before the first reduction, after a timeout,
    /// after HyStart++ ended slow start without a loss) until a stage starts.
    w_max: MaybeF64,
    /// `cwnd_prior`, bytes (§4.1.2: "Size of cwnd ... at the time of setting ssthresh most
    /// recently").
    cwnd_prior: f64,
    /// The congestion-avoidance stage under way.
    epoch: Option<Epoch>,
    /// Smoothed RTT, seconds, from the samples passed to `on_ack`.
    srtt: MaybeF64,
    /// HyStart++, consulted while `ssthresh` is infinite.
    hystart: HyStart,
    /// The state before the last fast retransmit or timeout, for `undo`.
    /// Boxed: only a reduction sets it, and most connections never see one.
    saved: Option<Box<Saved>>,
}

impl Cubic {
    /// A controller for a connection with SMSS `mss` (raised to at least 1) and an initial
    /// window of `initial_window` bytes (raised to at least one SMSS); `ssthresh` starts at
    /// [`INFINITE_SSTHRESH`].
    #[must_use]
    pub fn new(mss: u32, initial_window: u32) -> Self {
        let smss = mss.max(1);
        let iw = initial_window.max(smss);
        Cubic {
            smss,
            cwnd: iw,
            cwnd_frac: 0.0,
            ssthresh: INFINITE_SSTHRESH,
            initial_window: iw,
            w_max: MaybeF64::NONE,
            cwnd_prior: 0.0,
            epoch: None,
            srtt: MaybeF64::NONE,
            hystart: HyStart::new(),
            saved: None,
        }
    }

    /// HyStart++'s phase while it runs (the first slow start), else `None`.
    #[must_use]
    pub fn hystart_phase(&self) -> Option<HyStartPhase> {
        (self.ssthresh == INFINITE_SSTHRESH && self.cwnd < self.ssthresh)
            .then(|| self.hystart.phase())
    }

    /// `cwnd` with its fraction, bytes.
    fn cwnd_f64(&self) -> f64 {
        f64::from(self.cwnd) + self.cwnd_frac
    }

    /// Sets `cwnd` (with its fraction) to `bytes`, within `[SMSS, u32::MAX]`.
    fn set_window(&mut self, bytes: f64) {
        let max = f64::from(u32::MAX);
        let bytes = bytes.max(f64::from(self.smss));
        if bytes >= max {
            self.cwnd = u32::MAX;
            self.cwnd_frac = 0.0;
        } else {
            let whole = bytes.floor();
            self.cwnd = whole as u32;
            self.cwnd_frac = bytes - whole;
        }
    }

    /// RFC 9438 Figure 1 in bytes: `W_cubic(t) = C·SMSS·(t − K)³ + W_max`.
    fn w_cubic(&self, k: f64, w_max: f64, t: f64) -> f64 {
        let d = t - k;
        C * f64::from(self.smss) * d * d * d + w_max
    }

    /// A congestion-avoidance stage begins (§4.2): `t_epoch = now`, `cwnd_epoch = cwnd`,
    /// `W_est = cwnd_epoch` (§4.3), `K = ∛((W_max − cwnd_epoch)/C)` (Figure 2). With `W_max`
    /// undefined, or not above `cwnd_epoch`, `K = 0` and `W_max = cwnd_epoch` (§4.8 after a
    /// timeout, §4.10 after HyStart++; Linux's `bictcp_update` whenever `last_max_cwnd ≤
    /// cwnd`).
    fn start_epoch(&mut self, now: Instant) -> Epoch {
        let cwnd_epoch = self.cwnd_f64();
        let k = match self.w_max.get() {
            Some(w_max) if w_max > cwnd_epoch => {
                cube_root((w_max - cwnd_epoch) / (C * f64::from(self.smss)))
            }
            _ => {
                self.w_max = MaybeF64::some(cwnd_epoch);
                0.0
            }
        };
        Epoch { elapsed_ns: 0, last_ack: now, k, w_est: cwnd_epoch }
    }

    /// Congestion avoidance for one ACK of `acked` bytes (§4.2–4.5).
    fn congestion_avoidance(&mut self, now: Instant, acked: u32, app_limited: bool) {
        let mut epoch = match self.epoch.take() {
            Some(epoch) => epoch,
            None => self.start_epoch(now),
        };
        let gap = now - epoch.last_ack;
        epoch.last_ack = now;
        if app_limited || acked == 0 {
            // §5.8: "CUBIC does not increase its congestion window if a flow is
            // application-limited", and t leaves the time out.
            self.epoch = Some(epoch);
            return;
        }
        let gap_ns = u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX);
        epoch.elapsed_ns = epoch.elapsed_ns.saturating_add(gap_ns);
        let t = epoch.elapsed().as_secs_f64();
        let cwnd = self.cwnd_f64();
        let acked = f64::from(acked);
        let smss = f64::from(self.smss);
        // §4.3, Figure 4: "W_est = W_est + α_cubic · segments_acked / cwnd", in bytes; "Once
        // W_est has grown to reach the cwnd at the time of most recently setting ssthresh
        // ... the sender SHOULD set α_cubic to 1".
        let alpha = if epoch.w_est >= self.cwnd_prior { 1.0 } else { ALPHA_CUBIC };
        epoch.w_est += alpha * acked * smss / cwnd;
        let w_max = self.w_max.get().unwrap_or(cwnd);
        let grown = if self.w_cubic(epoch.k, w_max, t) < epoch.w_est {
            // §4.3: "If so, CUBIC is in the Reno-friendly region and cwnd SHOULD be set to
            // W_est" (an ACK never shrinks cwnd, so not below it).
            cwnd.max(epoch.w_est)
        } else {
            // §4.2: target = W_cubic(t + RTT) within [cwnd, 1.5·cwnd]; §4.4, §4.5: "cwnd
            // MUST be incremented by (target − cwnd)/cwnd for each received new ACK", per
            // segment acknowledged when counting bytes.
            let rtt = self.srtt.get().unwrap_or(0.0);
            let target = self.w_cubic(epoch.k, w_max, t + rtt).min(1.5 * cwnd).max(cwnd);
            cwnd + (target - cwnd) * acked / cwnd
        };
        self.set_window(grown);
        self.epoch = Some(epoch);
    }

    /// One ACK outside recovery; `seq` is the engine's [`NewAck`] when it gave one.
    fn ack(
        &mut self,
        now: Instant,
        acked_bytes: u32,
        rtt: Option<Duration>,
        app_limited: bool,
        seq: Option<&NewAck>,
    ) {
        if let Some(sample) = rtt {
            // RFC 6298 (2.2)/(2.3): SRTT <- R, then SRTT <- (1 - 1/8)·SRTT + 1/8·R'.
            let r = sample.as_secs_f64();
            self.srtt = MaybeF64::some(self.srtt.get().map_or(r, |s| s + (r - s) / 8.0));
        }
        let mut acked = acked_bytes;
        if self.cwnd < self.ssthresh {
            if self.ssthresh == INFINITE_SSTHRESH {
                let step = match seq {
                    Some(info) => self.hystart.on_ack(info, self.smss),
                    None => self.hystart.on_ack_unsequenced(
                        acked_bytes,
                        rtt,
                        app_limited,
                        self.cwnd,
                        self.smss,
                    ),
                };
                if !step.exit {
                    self.cwnd = self.cwnd.saturating_add(step.growth);
                    return;
                }
                // RFC 9406 §4.2: "enter congestion avoidance by setting the ssthresh to the
                // current cwnd"; RFC 9438 §4.10: "CUBIC sets cwnd_prior = cwnd and switches
                // to congestion avoidance ... K is set to 0, and W_max is set to the
                // congestion window size at the beginning of the current congestion
                // avoidance stage".
                self.ssthresh = self.cwnd.max(self.smss.saturating_mul(2));
                self.cwnd_prior = self.cwnd_f64();
                self.w_max = MaybeF64::NONE;
                self.epoch = None;
            } else {
                if app_limited {
                    return;
                }
                // RFC 5681 §3.1 with byte counting, as NewReno: grow by what was
                // acknowledged up to ssthresh, the rest is congestion avoidance.
                let grown = self.cwnd.saturating_add(acked).min(self.ssthresh);
                acked -= grown - self.cwnd;
                self.cwnd = grown;
                self.cwnd_frac = 0.0;
                if acked == 0 {
                    return;
                }
            }
        }
        self.congestion_avoidance(now, acked, app_limited);
    }

    /// The state [`CongestionControl::undo`] would restore.
    fn save(&self) -> Saved {
        Saved {
            cwnd: self.cwnd,
            cwnd_frac: self.cwnd_frac,
            cwnd_prior: self.cwnd_prior,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
            epoch: self.epoch.clone(),
        }
    }

    /// RFC 9438 §4.6 and §4.7: `cwnd_prior`, `W_max` with fast convergence, and `ssthresh`;
    /// returns `β_cubic` of the reduction's base (see [`Cubic::reduction_base`]).
    fn reduce(&mut self, flight_size: u32) -> u32 {
        let cwnd = self.cwnd_f64();
        // §4.7: "W_max = cwnd · (1 + β_cubic)/2 if cwnd < W_max and fast convergence
        // enabled, further reduce W_max; cwnd otherwise, remember cwnd before reduction".
        self.w_max = MaybeF64::some(match self.w_max.get() {
            Some(w_max) if cwnd < w_max => cwnd * (1.0 + BETA_CUBIC) / 2.0,
            _ => cwnd,
        });
        // Figure 5: "cwnd_prior = cwnd" (save cwnd), "ssthresh = flight_size · β_cubic",
        // "ssthresh = max(ssthresh, 2)" (at least 2 MSS).
        self.cwnd_prior = cwnd;
        let reduced = beta_of(self.reduction_base(flight_size));
        self.ssthresh = reduced.max(self.smss.saturating_mul(2));
        reduced
    }

    /// What `β_cubic` multiplies: FlightSize (Figure 5), but never more than `cwnd`. RFC 9438
    /// §4.6 uses FlightSize so that a sender using little of its window does not keep a
    /// window it never tested; Linux uses `cwnd`, which the RFC allows with measures against a
    /// `cwnd` larger than the flight (the engine's cwnd-limited test is one). The smaller of
    /// the two does both: with SACK, FlightSize (`SND.MAX − SND.UNA`) also counts data the
    /// receiver already holds above a hole, since the sender keeps its pipe, not FlightSize,
    /// within `cwnd`; a loss right after another recovery then finds FlightSize well above
    /// `cwnd`, and `β·FlightSize` would raise `ssthresh` above the window the loss happened
    /// at (seen in `ustack sim` at 1% loss: the window grew through every loss).
    fn reduction_base(&self, flight_size: u32) -> u32 {
        flight_size.min(self.cwnd)
    }
}

/// `value · new / old` in 64 bits, saturating to `u32`; `old` is never 0.
fn rescale(value: u32, new: u32, old: u32) -> u32 {
    let scaled = u64::from(value) * u64::from(new) / u64::from(old.max(1));
    u32::try_from(scaled).unwrap_or(u32::MAX)
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn window(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, acked_bytes: u32, rtt: Option<Duration>, app_limited: bool) {
        self.ack(now, acked_bytes, rtt, app_limited, None);
    }

    fn on_new_ack(&mut self, now: Instant, ack: &NewAck) {
        self.ack(now, ack.acked_bytes, ack.rtt, ack.app_limited, Some(ack));
    }

    fn on_congestion_event(&mut self, _now: Instant, event: CongestionEvent, flight_size: u32) {
        match event {
            // Figure 5: "cwnd = max(ssthresh, 2)" on loss (ssthresh is at least 2 SMSS
            // already); the engine adds fast recovery's inflation on top.
            CongestionEvent::FastRetransmit => {
                self.saved = Some(Box::new(self.save()));
                self.reduce(flight_size);
                self.cwnd = self.ssthresh;
            }
            // Figure 5: "cwnd = max(ssthresh, 1)" on ECE: "CUBIC MUST continue to reduce
            // cwnd in response to congestion events due to ECN-Echo ACKs until it reaches a
            // value of 1 MSS". Not undoable.
            CongestionEvent::Ecn => {
                self.saved = None;
                let reduced = self.reduce(flight_size);
                self.cwnd = reduced.max(self.smss);
            }
            // §4.8: "CUBIC follows Reno to reduce cwnd [RFC5681], but sets ssthresh using
            // β_cubic"; "During the first congestion avoidance stage after a timeout ... K is
            // set to 0, and W_max is set to the congestion window size at the beginning of
            // the current congestion avoidance stage": W_max is forgotten here.
            CongestionEvent::Timeout => {
                self.saved = Some(Box::new(self.save()));
                self.cwnd_prior = self.cwnd_f64();
                let reduced = beta_of(self.reduction_base(flight_size));
                self.ssthresh = reduced.max(self.smss.saturating_mul(2));
                self.w_max = MaybeF64::NONE;
                self.cwnd = self.smss;
            }
            // RFC 5681 §3.1: "the value of ssthresh is held constant"; the loss window again.
            CongestionEvent::RepeatedTimeout => {
                self.cwnd = self.smss;
            }
        }
        self.cwnd_frac = 0.0;
        // The stage ends with the event; the next begins with the first ACK in congestion
        // avoidance after recovery (Linux: `epoch_start = 0` in `bictcp_recalc_ssthresh`).
        self.epoch = None;
    }

    /// RFC 6582 §3.2 step 3, option (1), as NewReno: `cwnd = min(ssthresh, max(FlightSize,
    /// SMSS) + SMSS)`. Without pacing, jumping to `ssthresh` (option 2, Linux with PRR
    /// having sent along the way) would release `ssthresh − FlightSize` bytes at once; slow
    /// start regrows the gap within a round trip and the next stage starts at `ssthresh`.
    fn on_recovery_exit(&mut self, _now: Instant, flight_size: u32) {
        let deflated = flight_size.max(self.smss).saturating_add(self.smss);
        self.cwnd = self.ssthresh.min(deflated).max(self.smss);
        self.cwnd_frac = 0.0;
    }

    /// Windows keep their size in segments, as NewReno's; `K` (seconds) is unchanged because
    /// `W_max`, `cwnd_epoch` and `C·SMSS` scale alike. The saved state for `undo` is dropped.
    fn on_mss_change(&mut self, mss: u32) {
        let new = mss.max(1);
        let old = self.smss;
        if new == old {
            return;
        }
        let ratio = f64::from(new) / f64::from(old);
        self.smss = new;
        self.set_window(self.cwnd_f64() * ratio);
        self.initial_window = rescale(self.initial_window, new, old).max(new);
        if self.ssthresh != INFINITE_SSTHRESH {
            self.ssthresh = rescale(self.ssthresh, new, old).max(new.saturating_mul(2));
        }
        self.w_max = self.w_max.get().map(|w| w * ratio).into();
        self.cwnd_prior *= ratio;
        if let Some(epoch) = &mut self.epoch {
            epoch.w_est *= ratio;
        }
        self.saved = None;
    }

    /// RFC 5681 §4.1's restart window and Linux's `tcp_cwnd_restart` threshold, as NewReno:
    /// `ssthresh = max(ssthresh, 3/4·cwnd)`, `cwnd = min(IW, cwnd)`. The congestion-avoidance
    /// stage ends (RFC 9438 §5.8: `t` excludes idle periods), and during the first slow start
    /// HyStart++ starts its rounds afresh.
    fn on_idle_restart(&mut self, _now: Instant) {
        let three_quarters = (self.cwnd / 2).saturating_add(self.cwnd / 4);
        self.ssthresh = self.ssthresh.max(three_quarters);
        if self.initial_window < self.cwnd {
            self.cwnd = self.initial_window;
            self.cwnd_frac = 0.0;
        }
        self.epoch = None;
        if self.ssthresh == INFINITE_SSTHRESH {
            self.hystart.restart();
        }
    }

    /// RFC 9438 §4.9.2: "CUBIC MAY restore the original values of the above-mentioned
    /// variables as follows if the current cwnd is lower than cwnd_prior"; otherwise "CUBIC
    /// SHOULD continue to use the current and the most recent values of these variables". The
    /// values are the ones saved at the fast retransmit or timeout (the engine's
    /// `prior_cwnd` and `prior_ssthresh` are the same window and threshold). Without a saved
    /// state (an MSS change came in between), Linux's generic undo:
    /// `cwnd = max(cwnd, prior_cwnd)`, `ssthresh = max(ssthresh, prior_ssthresh)`.
    fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        let Some(saved) = self.saved.take() else {
            self.restore(self.cwnd.max(prior_cwnd), self.ssthresh.max(prior_ssthresh));
            return;
        };
        if self.cwnd_f64() >= self.cwnd_prior {
            return;
        }
        self.cwnd = saved.cwnd;
        self.cwnd_frac = saved.cwnd_frac;
        self.cwnd_prior = saved.cwnd_prior;
        self.ssthresh = saved.ssthresh;
        self.w_max = saved.w_max;
        self.epoch = saved.epoch;
    }

    /// Sets `cwnd` and `ssthresh` (at least one and two SMSS); the congestion-avoidance stage
    /// ends, so the next one starts from this window.
    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        self.cwnd = cwnd.max(self.smss);
        self.cwnd_frac = 0.0;
        self.ssthresh = ssthresh.max(self.smss.saturating_mul(2));
        self.epoch = None;
    }

    fn metrics(&self) -> CcMetrics {
        let mut metrics = CcMetrics::new(self.cwnd, self.ssthresh);
        metrics.w_max = self.w_max.get().map(|w| w.clamp(0.0, f64::from(u32::MAX)) as u32);
        metrics
    }

    fn clone_box(&self) -> Box<dyn CongestionControl> {
        Box::new(self.clone())
    }
}

/// Builds [`Cubic`] controllers; registered as `"cubic"`, the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CubicFactory;

impl CongestionControlFactory for CubicFactory {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn build(&self, mss: u32, initial_window: u32) -> Box<dyn CongestionControl> {
        Box::new(Cubic::new(mss, initial_window))
    }

    fn build_controller(&self, mss: u32, initial_window: u32) -> Controller {
        Controller::Cubic(Cubic::new(mss, initial_window))
    }
}
