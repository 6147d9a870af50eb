//! NewReno's window math (RFC 5681 §3.1–3.2, RFC 6582 §3.2, RFC 3465 byte counting), with
//! Linux's choices where the RFCs leave room (`net/ipv4/tcp_cong.c`: `tcp_reno_cong_avoid`,
//! `tcp_slow_start`, `tcp_cong_avoid_ai`). Fast recovery itself (duplicate ACKs, inflation,
//! partial ACKs) is the engine's; see the [module docs](super).

use core::time::Duration;

use super::{
    CcMetrics, CongestionControl, CongestionControlFactory, CongestionEvent, Controller,
    INFINITE_SSTHRESH,
};
use crate::Instant;

/// NewReno congestion control, in bytes.
///
/// * **Slow start** (`cwnd < ssthresh`): `cwnd` grows by every byte newly acknowledged, up to
///   `ssthresh`; bytes beyond `ssthresh` count towards congestion avoidance. This is Linux's
///   `tcp_slow_start` ("Slow start processes a stretch ACK of degree N as if N acks of degree
///   1 are received back to back"), not RFC 5681's conservative `cwnd += min(N, SMSS)` (eq. 2)
///   nor RFC 3465's `min(N, L)` with `L = 2·SMSS`. With one ACK per segment all three double
///   `cwnd` per RTT; with delayed ACKs `min(N, SMSS)` only grows it by 1.5× per RTT, and with
///   the stretch ACKs that GRO/LRO receivers and ACK thinning produce, any `L` slows growth
///   further, while byte counting keeps RFC 3465's defence against ACK division (an ACK of
///   one byte grows `cwnd` by one byte).
/// * **Congestion avoidance** (`cwnd ≥ ssthresh`): the byte-counting accumulator RFC 5681
///   §3.1 recommends ("When the number of bytes acknowledged reaches cwnd, then cwnd can be
///   incremented by up to SMSS bytes"; RFC 3465 §2.1's `bytes_acked`): exactly one SMSS per
///   `cwnd` bytes acknowledged, whatever the ACK pattern. The approximation
///   `cwnd += SMSS·SMSS/cwnd` (eq. 3) rounds down to zero growth once `cwnd > SMSS²` and
///   under-grows with delayed ACKs, so it is not used.
/// * **App-limited ACKs** change nothing, not even the accumulator, as in Linux's
///   `tcp_reno_cong_avoid` (`if (!tcp_is_cwnd_limited(sk)) return;`): a window the sender
///   did not fill was not probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReno {
    /// SMSS, at least 1.
    smss: u32,
    /// `cwnd`, at least `smss`.
    cwnd: u32,
    /// `ssthresh`, at least `2·smss` (saturating) or [`INFINITE_SSTHRESH`].
    ssthresh: u32,
    /// RFC 3465 `bytes_acked`: bytes acknowledged in congestion avoidance since `cwnd` last
    /// grew. Below `cwnd` between calls.
    bytes_acked: u64,
    /// IW, for the restart window after idle (RFC 5681 §4.1).
    initial_window: u32,
}

impl NewReno {
    /// A controller for a connection with SMSS `mss` (raised to at least 1) and an initial
    /// window of `initial_window` bytes (raised to at least one SMSS); `ssthresh` starts at
    /// [`INFINITE_SSTHRESH`].
    #[must_use]
    pub fn new(mss: u32, initial_window: u32) -> Self {
        let smss = mss.max(1);
        let iw = initial_window.max(smss);
        NewReno { smss, cwnd: iw, ssthresh: INFINITE_SSTHRESH, bytes_acked: 0, initial_window: iw }
    }

    /// RFC 5681 eq. 4: `ssthresh = max(FlightSize / 2, 2*SMSS)`.
    fn halved(&self, flight_size: u32) -> u32 {
        (flight_size / 2).max(self.smss.saturating_mul(2))
    }

    /// Congestion avoidance: one SMSS per `cwnd` bytes acknowledged. Each increase consumes
    /// the window current at that moment, so a stretch ACK covering several windows is
    /// counted exactly. The loop is short: `bytes_acked` starts below `cwnd + acked < 2^33`,
    /// and since `cwnd` grows by SMSS each round, k rounds consume at least SMSS·k(k−1)/2
    /// bytes, so k < 2^17.5 even for an SMSS of 1 (and 1 for ordinary ACKs).
    fn congestion_avoidance(&mut self, acked: u32) {
        self.bytes_acked += u64::from(acked);
        while self.bytes_acked >= u64::from(self.cwnd) {
            self.bytes_acked -= u64::from(self.cwnd);
            self.cwnd = self.cwnd.saturating_add(self.smss);
        }
    }
}

/// `value · new / old` in 64 bits, saturating to `u32`; `old` is never 0.
fn rescale(value: u32, new: u32, old: u32) -> u32 {
    let scaled = u64::from(value) * u64::from(new) / u64::from(old.max(1));
    u32::try_from(scaled).unwrap_or(u32::MAX)
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn window(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(
        &mut self,
        _now: Instant,
        acked_bytes: u32,
        _rtt: Option<Duration>,
        app_limited: bool,
    ) {
        if app_limited || acked_bytes == 0 {
            return;
        }
        let mut acked = acked_bytes;
        if self.in_slow_start() {
            // RFC 5681 §3.1: "Slow start ends when cwnd exceeds ssthresh"; Linux caps the
            // growth at ssthresh and hands the rest of the ACK to congestion avoidance.
            let grown = self.cwnd.saturating_add(acked).min(self.ssthresh);
            acked = acked.saturating_sub(grown - self.cwnd);
            self.cwnd = grown;
            if acked == 0 {
                return;
            }
        }
        self.congestion_avoidance(acked);
    }

    fn on_congestion_event(&mut self, _now: Instant, event: CongestionEvent, flight_size: u32) {
        match event {
            // RFC 5681 §3.2 step 2: "ssthresh = max (FlightSize / 2, 2*SMSS)"; step 3 sets
            // "cwnd to ssthresh plus 3*SMSS": the `3*SMSS` (and every later `+SMSS`) is the
            // engine's inflation on top of `window()`, so cwnd itself is ssthresh.
            // RFC 3168 §6.1.2 has ECN-Echo halve cwnd and ssthresh alike.
            CongestionEvent::FastRetransmit | CongestionEvent::Ecn => {
                self.ssthresh = self.halved(flight_size);
                self.cwnd = self.ssthresh;
            }
            // RFC 5681 §3.1: on a timeout for a segment not yet retransmitted by the timer,
            // ssthresh per eq. 4, and "cwnd MUST be set to no more than the loss window, LW,
            // which equals 1 full-sized segment (regardless of the value of IW)".
            CongestionEvent::Timeout => {
                self.ssthresh = self.halved(flight_size);
                self.cwnd = self.smss;
            }
            // ... and for one already retransmitted by the timer "the value of ssthresh is
            // held constant" (Linux: `tcp_enter_loss` keeps ssthresh while
            // `icsk_retransmits` > 0). The loss window applies again.
            CongestionEvent::RepeatedTimeout => {
                self.cwnd = self.smss;
            }
        }
        // Linux `tcp_init_cwnd_reduction` / `tcp_enter_loss`: `snd_cwnd_cnt = 0`.
        self.bytes_acked = 0;
    }

    /// RFC 6582 §3.2 step 3, full acknowledgment: "Set cwnd to either (1) min (ssthresh,
    /// max(FlightSize, SMSS) + SMSS) or (2) ssthresh ... If the second option is selected,
    /// the implementation is encouraged to take measures to avoid a possible burst of data".
    /// ustack has no pacing, so option (1): the window restarts from what is really in flight
    /// plus one segment and slow start regrows it to `ssthresh` within an RTT or so, instead
    /// of releasing up to `ssthresh − flight` bytes in one burst.
    fn on_recovery_exit(&mut self, _now: Instant, flight_size: u32) {
        let deflated = flight_size.max(self.smss).saturating_add(self.smss);
        self.cwnd = self.ssthresh.min(deflated).max(self.smss);
        self.bytes_acked = 0;
    }

    /// Windows and thresholds keep their size in segments, as Linux's packet-counted
    /// `snd_cwnd` and `snd_ssthresh` do: an MSS learned in the handshake turns a 10·536-byte
    /// initial window into 10·1460 bytes, a PMTU drop shrinks the window proportionally.
    fn on_mss_change(&mut self, mss: u32) {
        let new = mss.max(1);
        let old = self.smss;
        if new == old {
            return;
        }
        self.smss = new;
        self.cwnd = rescale(self.cwnd, new, old).max(new);
        self.initial_window = rescale(self.initial_window, new, old).max(new);
        if self.ssthresh != INFINITE_SSTHRESH {
            self.ssthresh = rescale(self.ssthresh, new, old).max(new.saturating_mul(2));
        }
        let acked = self.bytes_acked * u64::from(new) / u64::from(old);
        self.bytes_acked = acked.min(u64::from(self.cwnd).saturating_sub(1));
    }

    /// RFC 5681 §4.1: "a TCP SHOULD set cwnd to no more than RW before beginning
    /// transmission if the TCP has not sent data in an interval exceeding the retransmission
    /// timeout", with "RW = min(IW,cwnd)". Like Linux's `tcp_cwnd_restart`, the old operating
    /// point is remembered first, `ssthresh = max(ssthresh, 3/4·cwnd)`, so slow start climbs
    /// back to near it quickly. (Linux halves cwnd once per idle RTO down to RW; going to RW
    /// at once is the RFC's rule and Linux's result after a few RTOs.)
    fn on_idle_restart(&mut self, _now: Instant) {
        let three_quarters = (self.cwnd / 2).saturating_add(self.cwnd / 4);
        self.ssthresh = self.ssthresh.max(three_quarters);
        self.cwnd = self.cwnd.min(self.initial_window);
        self.bytes_acked = 0;
    }

    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        self.cwnd = cwnd.max(self.smss);
        self.ssthresh = ssthresh.max(self.smss.saturating_mul(2));
        self.bytes_acked = 0;
    }

    fn metrics(&self) -> CcMetrics {
        let mut metrics = CcMetrics::new(self.cwnd, self.ssthresh);
        metrics.bytes_acked = Some(u32::try_from(self.bytes_acked).unwrap_or(u32::MAX));
        metrics
    }

    fn clone_box(&self) -> Box<dyn CongestionControl> {
        Box::new(self.clone())
    }
}

/// Builds [`NewReno`] controllers; registered as `"newreno"` and `"reno"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewRenoFactory;

impl CongestionControlFactory for NewRenoFactory {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn build(&self, mss: u32, initial_window: u32) -> Box<dyn CongestionControl> {
        Box::new(NewReno::new(mss, initial_window))
    }

    fn build_controller(&self, mss: u32, initial_window: u32) -> Controller {
        Controller::NewReno(NewReno::new(mss, initial_window))
    }
}
