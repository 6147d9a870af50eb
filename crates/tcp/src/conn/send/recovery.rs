//! Loss detection and recovery: which segments are lost, when to send them again, and what
//! the congestion window does meanwhile. Linux's `tcp_fastretrans_alert` and friends are the
//! model; the RFCs say why.
//!
//! - **Detection.** With SACK: RACK (RFC 8985, `rack.rs`; `TcpConfig::rack`, Linux
//!   `tcp_recovery` bit 1, on by default), or RFC 6675's `IsLost` (three SACKed segments
//!   above a hole) without it. Duplicate ACKs without SACK information never start recovery
//!   on a SACK connection (an attacker's segments make them). Without SACK: NewReno, three
//!   duplicate ACKs (RFC 5681 §3.2) and partial ACKs (RFC 6582 §3.2).
//! - **Phases.** `Open` (nothing known lost), `Recovery` (fast recovery, until SND.UNA passes
//!   `recover`, RFC 6582), `Loss` (after a retransmission timeout, until the same).
//! - **The window in recovery.** Proportional Rate Reduction (RFC 6937, Linux
//!   `tcp_cwnd_reduction`, counted in segments as Linux does) by default; with
//!   `TcpConfig::prr` off, RFC 5681's window inflation (`cwnd = ssthresh + 3·SMSS`, one SMSS
//!   more per duplicate ACK, deflated on partial ACKs), the behaviour the textbooks describe.
//! - **Tail loss probe** (RFC 8985 §7): when the last segments of a flight are lost there is
//!   nothing to SACK; 2·SRTT after the last transmission, a probe (new data, or the last
//!   segment again) draws the ACK that lets RACK find the loss without waiting for the RTO.
//! - **ECN** (RFC 3168 §6.1.2, Linux `tcp_enter_cwr`): an ECE outside recovery enters the
//!   `Cwr` phase: one reduction, brought about by PRR like fast recovery's, until everything
//!   sent before it is acknowledged (`conn/ecn.rs`).
//! - **Undo** (RFC 3708 with D-SACK, RFC 3522's Eifel test with timestamps; Linux
//!   `tcp_try_undo_*`): when every retransmission of an episode proves spurious, the window
//!   reduction is taken back.

use core::time::Duration;

use crate::time::Nanos;

use ustack_wire::{SeqNum, TcpRepr};

use super::super::{Conn, State};
use super::scoreboard::{Delivered, Mark};
use crate::cc::CongestionEvent;
use crate::{Instant, TimerKind};

/// Where loss recovery stands (Linux's `icsk_ca_state`, without Disorder, which only matters
/// to Linux's bookkeeping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::conn) enum Phase {
    /// No loss known.
    Open,
    /// Reducing the window for an ECN-Echo (RFC 3168 §6.1.2; Linux `TCP_CA_CWR`), until
    /// SND.UNA passes `recover`.
    Cwr,
    /// Fast recovery.
    Recovery,
    /// After a retransmission timeout.
    Loss,
}

/// What the retransmission timer is armed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::conn) enum RtxTimer {
    /// The retransmission timeout (RFC 6298).
    Rto,
    /// The tail loss probe timeout (RFC 8985 §7.2, PTO).
    Probe,
    /// RACK's reordering timeout (RFC 8985 §6.3).
    Reorder,
}

/// Proportional Rate Reduction's counters (RFC 6937), in segments as Linux keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::conn) struct Prr {
    /// RecoverFS: cwnd when recovery began (Linux `prior_cwnd`).
    pub(in crate::conn) prior_cwnd: u32,
    /// prr_delivered: segments delivered to the receiver since recovery began.
    pub(in crate::conn) delivered: u32,
    /// prr_out: segments sent since recovery began.
    pub(in crate::conn) out: u32,
    /// The window for the next transmissions: segments that may be in flight.
    pub(in crate::conn) cwnd: u32,
}

/// What a window reduction can be undone to, and the evidence for doing so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::conn) struct Undo {
    /// cwnd and ssthresh before the reduction.
    pub(in crate::conn) prior_cwnd: u32,
    pub(in crate::conn) prior_ssthresh: u32,
    /// SND.UNA when it began (Linux `undo_marker`).
    pub(in crate::conn) marker: SeqNum,
    /// Retransmissions not yet shown spurious by a D-SACK (Linux `undo_retrans`); `None`
    /// until the first retransmission of the episode.
    pub(in crate::conn) retrans: Option<u32>,
    /// Our TSval on the first retransmission (Linux `retrans_stamp`, as a timestamp).
    pub(in crate::conn) first_rtx_tsval: Option<u32>,
    /// What the episode retransmitted, for D-SACKs below SND.UNA.
    pub(in crate::conn) sent_again: Retransmitted,
}

/// The sequence ranges retransmitted in an undo episode, so that a D-SACK below SND.UNA
/// counts only if it names one of them (RFC 3708 §3: the sender checks that the duplicate
/// reported is a segment it retransmitted). Linux forgets acknowledged segments and counts
/// every D-SACK above the undo marker ("dumb counting", `tcp_check_dsack`), which lets a
/// blind attacker's duplicates, answered with D-SACKs by the peer, undo the reduction of a
/// real loss. A few ranges cover an episode (retransmissions go out in order and adjacent
/// ones merge); past that the check falls back to Linux's counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(in crate::conn) struct Retransmitted {
    ranges: [(SeqNum, SeqNum); 8],
    len: u8,
    overflowed: bool,
}

impl Retransmitted {
    /// `[left, right)` was sent again.
    pub(in crate::conn) fn add(&mut self, left: SeqNum, right: SeqNum) {
        let n = usize::from(self.len);
        if let Some(last) = self.ranges[..n].last_mut()
            && (left - last.1) <= 0
            && (right - last.0) >= 0
        {
            if (left - last.0) < 0 {
                last.0 = left;
            }
            if (right - last.1) > 0 {
                last.1 = right;
            }
        } else if n < self.ranges.len() {
            self.ranges[n] = (left, right);
            self.len += 1;
        } else {
            self.overflowed = true;
        }
    }

    /// Whether `[left, right)` overlaps a range sent again (always, once too many were).
    pub(in crate::conn) fn overlaps(&self, left: SeqNum, right: SeqNum) -> bool {
        self.overflowed
            || self.ranges[..usize::from(self.len)]
                .iter()
                .any(|&(l, r)| (left - r) < 0 && (right - l) > 0)
    }
}

/// What an ACK told the sender, for [`Conn::after_ack`].
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::conn) struct AckInfo {
    /// Segments newly delivered, cumulatively or by SACK.
    pub(in crate::conn) delivered: Delivered,
    /// Whether SND.UNA moved.
    pub(in crate::conn) una_advanced: bool,
    /// Payload bytes the cumulative ACK covered.
    pub(in crate::conn) data_acked: u32,
    /// The RTT sample it gave.
    pub(in crate::conn) sample: Option<Duration>,
    /// Whether it is a duplicate ACK (RFC 5681 §2).
    pub(in crate::conn) dupack: bool,
    /// The block of a credible D-SACK (RFC 2883) it carried, if any.
    pub(in crate::conn) dsack: Option<(SeqNum, SeqNum)>,
    /// Whether it carried any SACK information at all.
    pub(in crate::conn) sack_info: bool,
    /// Whether it echoed congestion (ECE on a connection using ECN, RFC 3168 §6.1.2).
    pub(in crate::conn) ece: bool,
    /// Whether SND.UNA went strictly past `recover` (before the ACK moved `recover` along).
    pub(in crate::conn) beyond_recover: bool,
    /// Whether the sender was not using its window in the flight the ACK ends.
    pub(in crate::conn) app_limited: bool,
}

/// Linux's `TCP_RTO_MIN`, added to the PTO when one segment is in flight (the receiver may
/// delay its ACK that long).
const TLP_DELAYED_ACK: Duration = Duration::from_millis(200);
/// Linux's `TCP_TIMEOUT_MIN` (2 jiffies): the PTO's slack with more in flight.
const TLP_SLACK: Duration = Duration::from_millis(2);
/// RFC 8985 §7.2: the PTO without an RTT sample.
const TLP_NO_RTT: Duration = Duration::from_secs(1);

impl Conn {
    /// Whether loss detection may use SACK information.
    fn sack_in_use(&self) -> bool {
        self.opts.sack
    }

    /// Segments the peer holds that a non-SACK peer told us of by duplicate ACKs (Linux's
    /// "reno" `sacked_out`), counted out of the pipe outside RFC 5681 mode.
    pub(in crate::conn) fn reno_sacked(&self) -> u32 {
        if self.sack_in_use() || !self.cfg.prr {
            return 0;
        }
        let holes = self.snd.sb.lost_segments().max(1);
        let limit =
            (self.snd.sb.pipe_segments() + self.snd.sb.lost_segments()).saturating_sub(holes);
        self.snd.loss().dupacks.min(limit)
    }

    /// Bytes in flight as the windows see them.
    pub(in crate::conn) fn pipe_for_window(&self) -> u32 {
        if self.snd.phase == Phase::Recovery && !self.cfg.prr {
            // RFC 5681 fast recovery counts FlightSize; inflation makes room.
            return self.snd.flight();
        }
        let mss = u32::from(self.effective_mss());
        self.snd.sb.pipe().saturating_sub(self.reno_sacked() * mss)
    }

    /// Whether a segment of `len` bytes may go now as far as the congestion window goes
    /// (`retransmission`: a lost segment sent again).
    pub(in crate::conn) fn cwnd_allows(&mut self, len: u32, retransmission: bool) -> bool {
        match self.snd.phase {
            Phase::Recovery | Phase::Cwr if self.cfg.prr => {
                let pipe = self.snd.sb.pipe_segments().saturating_sub(self.reno_sacked());
                pipe < self.snd.loss().prr.cwnd
            }
            Phase::Recovery if retransmission => {
                self.snd.loss_held().is_some_and(|l| core::mem::take(&mut l.rtx_now))
            }
            _ => self.pipe_for_window().saturating_add(len) <= self.usable_cwnd(),
        }
    }

    /// After an ACK's SACK blocks and cumulative acknowledgment were taken: RACK, loss
    /// detection, the recovery phases, the window, and the retransmission timer.
    pub(in crate::conn) fn after_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, a: &AckInfo) {
        let mss = u32::from(self.effective_mss());
        self.process_tlp_ack(now, seg.ack, a);
        if self.sack_in_use() {
            let ambiguous = a.delivered.latest.is_some_and(|(sent, _, retransmitted)| {
                retransmitted && self.ambiguous_retransmission_ack(now, sent, seg)
            });
            let last_ambiguous = a.delivered.last.is_some_and(|(sent, retransmitted)| {
                retransmitted && self.ambiguous_retransmission_ack(now, sent, seg)
            });
            self.snd.rack.on_delivered(now, &a.delivered, ambiguous, last_ambiguous);
            if a.dsack.is_some() {
                let (una, nxt) = (self.snd.una, self.snd.nxt);
                self.snd.rack.on_dsack(una, nxt);
            }
        }
        if self.try_undo(now, seg, a) {
            return self.rearm_after_ack(now, a);
        }
        // The full ACK that ends fast recovery sets the window (RFC 6582 §3.2 step 3); it is
        // no ACK for slow start or congestion avoidance too.
        let mut ended_recovery = false;
        let over = match self.snd.phase {
            Phase::Open => false,
            // Linux `tcp_fastretrans_alert`: "CWR is to be held something *above* high_seq
            // is ACKed for CWR bit to reach receiver".
            Phase::Cwr => a.una_advanced && a.beyond_recover,
            Phase::Recovery | Phase::Loss => a.una_advanced && self.snd.una >= self.snd.recover,
        };
        if over {
            ended_recovery = matches!(self.snd.phase, Phase::Recovery | Phase::Cwr);
            self.end_recovery(now);
        }
        let lost_before = self.snd.sb.lost_segments();
        let mut newly_lost = false;
        if self.sack_in_use() {
            if self.cfg.rack {
                newly_lost = self.rack_detect(now);
            } else {
                newly_lost = self.snd.sb.mark_lost_by_sacks(mss, self.snd.reordering);
            }
        } else {
            // NewReno (RFC 6582 §3.2 step 1): three duplicate ACKs, unless they are for
            // data sent before the last recovery or timeout began.
            if matches!(self.snd.phase, Phase::Open | Phase::Cwr)
                && a.dupack
                && self.snd.loss().dupacks >= 3
                && self.snd.una >= self.snd.recover
            {
                newly_lost = self.mark_head_lost();
            }
            // Step 3, partial acknowledgment: the next hole is lost too.
            if self.snd.phase == Phase::Recovery && a.una_advanced {
                newly_lost = self.mark_head_lost();
            }
        }
        newly_lost |= self.snd.sb.lost_segments() > lost_before;
        if matches!(self.snd.phase, Phase::Open | Phase::Cwr) && self.snd.sb.lost() > 0 {
            self.enter_recovery(now);
        }
        // RFC 3168 §6.1.2: "the TCP source halves the congestion window "cwnd" and reduces
        // the slow start threshold "ssthresh"" once per window; Linux `tcp_try_to_open`
        // enters CWR only from Open (a recovery or a CWR in progress is reduction enough).
        if self.snd.phase == Phase::Open && a.ece {
            self.enter_cwr(now);
        }
        match self.snd.phase {
            Phase::Recovery | Phase::Cwr if self.cfg.prr => {
                let newly = if self.sack_in_use() {
                    a.delivered.segments
                } else if a.dupack {
                    1
                } else {
                    a.delivered.segments
                };
                self.prr_update(newly, a.una_advanced, newly_lost);
            }
            Phase::Recovery => {
                // RFC 5681 §3.2 step 4: "For each additional duplicate ACK received (after
                // the third), cwnd MUST be incremented by SMSS."
                if a.dupack && !newly_lost {
                    self.snd.loss_mut().inflation += i64::from(mss);
                }
                if a.una_advanced {
                    // RFC 6582 §3.2 step 3, partial acknowledgment: "deflate the congestion
                    // window by the amount of new data acknowledged by the Cumulative
                    // Acknowledgment field. If the partial ACK acknowledges at least one SMSS
                    // of new data, then add back SMSS bytes to the congestion window."
                    let acked = a.delivered.bytes;
                    self.snd.loss_mut().inflation -= i64::from(acked);
                    if acked >= mss {
                        self.snd.loss_mut().inflation += i64::from(mss);
                    }
                }
                if newly_lost {
                    self.snd.loss_mut().rtx_now = true;
                }
            }
            // Without PRR the controller set the reduced window at once; it does not grow
            // until the CWR phase ends.
            Phase::Cwr => {}
            Phase::Open | Phase::Loss => {
                if a.una_advanced && !ended_recovery {
                    if self.snd.phase == Phase::Open
                        && let Some(l) = self.snd.loss_held()
                    {
                        l.dupacks = 0;
                    }
                    let ack = crate::cc::NewAck::new(
                        a.data_acked,
                        a.sample,
                        a.app_limited,
                        self.snd.una,
                        self.snd.max,
                    );
                    self.cc.on_new_ack(now, &ack);
                }
            }
        }
        self.note_cc();
        self.rearm_after_ack(now, a);
    }

    /// RFC 8985 §6.2 step 1's ambiguity test for the most recently sent segment an ACK
    /// delivered, a retransmission sent at `sent`: the ACK may answer its original.
    fn ambiguous_retransmission_ack(&self, now: Instant, sent: Instant, seg: &TcpRepr<'_>) -> bool {
        if self.opts.timestamps
            && let Some(ts) = seg.options.timestamps
        {
            // "the ACK's TSecr is earlier than the retransmission's TSval"
            return (ts.tsecr.wrapping_sub(self.ts_now(sent)) as i32) < 0;
        }
        // "the segment's RTT is below the minimum RTT"
        self.snd.min_rtt.is_some_and(|min| now - sent < min.get())
    }

    /// Runs RACK's loss scan and arms its reordering timer; returns whether it marked any.
    fn rack_detect(&mut self, now: Instant) -> bool {
        let in_recovery = matches!(self.snd.phase, Phase::Recovery | Phase::Loss);
        let reo = self.snd.rack.reo_wnd(
            in_recovery,
            self.snd.sb.sacked_segments(),
            self.snd.reordering,
            self.snd.min_rtt.map(Nanos::get),
            self.rtt.srtt(),
        );
        let found = self.snd.rack.detect(&mut self.snd.sb, now, reo);
        if let Some(at) = found.timeout {
            let current = self.timers.get(TimerKind::Retransmit);
            if current.is_none_or(|t| at < t) || self.snd.rtx_timer == RtxTimer::Reorder {
                self.timers.set(TimerKind::Retransmit, at);
                self.snd.rtx_timer = RtxTimer::Reorder;
            }
        } else if self.snd.rtx_timer == RtxTimer::Reorder {
            self.snd.rtx_timer = RtxTimer::Rto;
            self.arm_rto(now);
        }
        found.lost > 0
    }

    /// Marks the first segment still in flight lost (NewReno); returns whether one was.
    fn mark_head_lost(&mut self) -> bool {
        match self.snd.sb.get(0) {
            Some(seg) if seg.mark == Mark::InFlight => {
                self.snd.sb.set_mark(0, Mark::Lost);
                true
            }
            _ => false,
        }
    }

    /// RFC 6675 §5 / RFC 6582 §3.2 step 2 / Linux `tcp_enter_recovery`: loss was found.
    /// In the CWR phase the window is being reduced already: recovery goes on with that
    /// reduction (Linux: `if (!tcp_in_cwnd_reduction(sk)) tcp_init_cwnd_reduction(sk)`).
    fn enter_recovery(&mut self, now: Instant) {
        if self.snd.phase == Phase::Cwr {
            self.snd.recover = self.snd.max;
            self.snd.phase = Phase::Recovery;
            if let Some(l) = self.snd.loss_held() {
                l.tlp = None;
            }
            if !self.cfg.prr {
                let mss = i64::from(self.effective_mss());
                let l = self.snd.loss_mut();
                l.inflation = 3 * mss;
                l.rtx_now = true;
            }
            return;
        }
        let mss = u32::from(self.effective_mss());
        let prior_cwnd = self.cc.window();
        self.snd.undo = Some(Box::new(Undo {
            prior_cwnd,
            prior_ssthresh: self.cc.ssthresh(),
            marker: self.snd.una,
            retrans: None,
            first_rtx_tsval: None,
            sent_again: Retransmitted::default(),
        }));
        self.snd.recover = self.snd.max;
        self.snd.phase = Phase::Recovery;
        if let Some(l) = self.snd.loss_held() {
            l.tlp = None;
        }
        self.ecn_queue_cwr();
        let base = self.reduction_base();
        self.cc.on_congestion_event(now, CongestionEvent::FastRetransmit, base);
        if self.cfg.prr {
            // RecoverFS (RFC 6937 §3: "FlightSize at the start of recovery"), the same amount
            // the reduction worked from: then ssthresh / RecoverFS is the algorithm's β and
            // PRR spreads exactly that reduction over the round trip. (Linux takes cwnd,
            // which in slow start can be well above what is in flight, and then sends too
            // little: a tenth of a window per round trip after an overshoot.)
            self.snd.loss_mut().prr =
                Prr { prior_cwnd: base.div_ceil(mss).max(1), ..Prr::default() };
        } else {
            // RFC 5681 §3.2 step 3: "set cwnd to ssthresh plus 3*SMSS".
            let l = self.snd.loss_mut();
            l.inflation = 3 * i64::from(mss);
            l.rtx_now = true;
        }
        self.note_cc();
    }

    /// What a reduction halves (or multiplies by CUBIC's β): RFC 5681's FlightSize, except
    /// that with SACK data the receiver already holds counts in it and can carry it past
    /// cwnd, which would raise ssthresh on a loss; like Linux (`tcp_reno_ssthresh`,
    /// `cubictcp_recalc_ssthresh` work from cwnd) it is then capped by cwnd. RFC 5681
    /// recovery (`prr` off) takes FlightSize as the RFC says.
    pub(in crate::conn) fn reduction_base(&self) -> u32 {
        let flight = self.snd.flight();
        if self.cfg.prr { flight.min(self.cc.window()) } else { flight }
    }

    /// RFC 3168 §6.1.2 / Linux `tcp_enter_cwr`: an ECN-Echo outside recovery. The controller
    /// reduces as for congestion (`CongestionEvent::Ecn`); PRR brings the flight down to the
    /// new ssthresh over the next round trip, as in fast recovery (Linux since 3.7: "use PRR
    /// to reduce cwin in CWR state"); nothing is retransmitted, and there is nothing to undo.
    fn enter_cwr(&mut self, now: Instant) {
        let mss = u32::from(self.effective_mss()).max(1);
        let prior_cwnd = self.cc.window();
        self.snd.undo = None;
        self.snd.recover = self.snd.max;
        self.snd.phase = Phase::Cwr;
        self.ecn_queue_cwr();
        let base = self.reduction_base();
        self.cc.on_congestion_event(now, CongestionEvent::Ecn, base);
        if self.cfg.prr {
            // Until an ACK delivers something the window stays as it was (Linux changes
            // `snd_cwnd` only in `tcp_cwnd_reduction`).
            self.snd.loss_mut().prr = Prr {
                prior_cwnd: base.div_ceil(mss).max(1),
                cwnd: prior_cwnd / mss,
                ..Prr::default()
            };
        }
        self.stats.rare_mut().ecn_reductions += 1;
        self.note_cc();
    }

    /// SND.UNA passed `recover`: the episode is over (RFC 6582 §3.2 step 3 "full
    /// acknowledgment"; Linux `tcp_end_cwnd_reduction`).
    fn end_recovery(&mut self, now: Instant) {
        let phase = self.snd.phase;
        if matches!(phase, Phase::Recovery | Phase::Cwr) {
            // With PRR the flight was brought to ssthresh, and Linux's
            // `tcp_end_cwnd_reduction` sets cwnd to ssthresh; RFC 5681 recovery deflates
            // to what is really in flight (RFC 6582 §3.2 step 3, option 1).
            let flight = self.snd.flight();
            let flight = if self.cfg.prr { flight.max(self.cc.ssthresh()) } else { flight };
            self.cc.on_recovery_exit(now, flight);
        }
        self.snd.phase = Phase::Open;
        if let Some(l) = self.snd.loss_held() {
            l.inflation = 0;
            l.dupacks = 0;
            l.rtx_now = false;
        }
        // The undo state stays: D-SACKs for the retransmissions may still come (Linux keeps
        // `undo_marker` until the next episode or an undo).
        if phase != Phase::Cwr {
            self.snd.rack.on_recovery_end();
        }
        self.note_cc();
    }

    /// A retransmission timeout (Linux `tcp_enter_loss`): everything not SACKed is lost, and
    /// is sent again from the first hole as the (now one-segment) window allows.
    pub(in crate::conn) fn enter_loss(&mut self) {
        if self.snd.phase != Phase::Loss || self.snd.undo.is_none() {
            self.snd.undo = Some(Box::new(Undo {
                prior_cwnd: self.cc.window(),
                prior_ssthresh: self.cc.ssthresh(),
                marker: self.snd.una,
                retrans: None,
                first_rtx_tsval: None,
                sent_again: Retransmitted::default(),
            }));
        }
        // Linux `tcp_enter_loss`: a timeout with enough SACKed for a fast retransmit, that
        // none came, says the reordering degree was set too high: back to the default.
        if self.snd.phase == Phase::Open && self.snd.sb.sacked_segments() >= self.cfg.reordering {
            self.snd.reordering = self.snd.reordering.min(self.cfg.reordering.max(1));
        }
        // RFC 2018 §8: a SACKed segment at SND.UNA when the timer fires means the receiver
        // reneged (dropped what it SACKed): forget every SACK.
        if self.snd.sb.get(0).is_some_and(|s| s.mark == Mark::Sacked) {
            self.snd.sb.clear_sacks();
        }
        self.snd.sb.mark_all_lost();
        self.snd.phase = Phase::Loss;
        self.ecn_queue_cwr();
        self.snd.recover = self.snd.max;
        if let Some(l) = self.snd.loss_held() {
            l.inflation = 0;
            l.dupacks = 0;
            l.rtx_now = false;
            l.tlp = None;
        }
    }

    /// RFC 6937 (Linux `tcp_cwnd_reduction`, in segments): `newly` segments were delivered.
    fn prr_update(&mut self, newly: u32, una_advanced: bool, newly_lost: bool) {
        if newly == 0 {
            return;
        }
        let mss = u32::from(self.effective_mss());
        let ssthresh = i64::from(self.cc.ssthresh() / mss.max(1));
        let pipe = i64::from(self.snd.sb.pipe_segments().saturating_sub(self.reno_sacked()));
        let prr = &mut self.snd.loss_mut().prr;
        prr.delivered += newly;
        let (delivered, out) = (i64::from(prr.delivered), i64::from(prr.out));
        let delta = ssthresh - pipe;
        let mut sndcnt = if delta < 0 {
            // Proportional part: "sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) -
            // prr_out".
            let prior = i64::from(prr.prior_cwnd.max(1));
            (ssthresh * delivered + prior - 1) / prior - out
        } else {
            // Slow-start reduction bound: "limit = MAX(prr_delivered - prr_out,
            // DeliveredData) + MSS" (the MSS only when SND.UNA advanced and nothing new was
            // lost, as Linux); "sndcnt = MIN(ssthresh - pipe, limit)".
            let mut limit = (delivered - out).max(i64::from(newly));
            if una_advanced && !newly_lost {
                limit += 1;
            }
            delta.min(limit)
        };
        // Linux: "Force a fast retransmit upon entering fast recovery".
        sndcnt = sndcnt.max(if out == 0 { 1 } else { 0 });
        prr.cwnd = (pipe + sndcnt).clamp(0, i64::from(u32::MAX)) as u32;
    }

    /// A segment went out during recovery (PRR's `prr_out`).
    pub(in crate::conn) fn note_recovery_send(&mut self) {
        if matches!(self.snd.phase, Phase::Recovery | Phase::Cwr) {
            self.snd.loss_mut().prr.out += 1;
        }
    }

    /// `[seq, seq + len)` was sent again: the undo bookkeeping counts it.
    pub(in crate::conn) fn note_retransmission(&mut self, now: Instant, seq: SeqNum, len: u32) {
        let tsval = self.ts_now(now);
        if let Some(u) = self.snd.undo.as_mut() {
            u.retrans = Some(u.retrans.map_or(1, |n| n + 1));
            u.first_rtx_tsval.get_or_insert(tsval);
            u.sent_again.add(seq, seq + len);
        }
    }

    /// RFC 3522 (Eifel): the ACK echoes a timestamp from before our first retransmission, so
    /// what it acknowledges is the original transmission: the retransmissions were spurious
    /// (Linux `tcp_packet_delayed`).
    fn eifel_spurious(&self, seg: &TcpRepr<'_>) -> bool {
        let Some(first) = self.snd.undo.as_ref().and_then(|u| u.first_rtx_tsval) else {
            return false;
        };
        self.opts.timestamps
            && seg
                .options
                .timestamps
                .is_some_and(|ts| ts.tsecr != 0 && (ts.tsecr.wrapping_sub(first) as i32) < 0)
    }

    /// Undo (Linux `tcp_try_undo_dsack`, `tcp_try_undo_partial`, `tcp_try_undo_loss`):
    /// the last reduction was for nothing when D-SACKs reported every retransmission of the
    /// episode as a duplicate (RFC 3708), or when the ACK echoes a timestamp from before the
    /// first retransmission, so it acknowledges the original (RFC 3522, Eifel). The window
    /// goes back to what it was and nothing stays marked lost. Returns whether it did.
    fn try_undo(&mut self, _now: Instant, seg: &TcpRepr<'_>, a: &AckInfo) -> bool {
        let Some(u) = self.snd.undo.as_deref().copied() else { return false };
        let dsack_proof = a.dsack.is_some() && u.retrans == Some(0);
        let eifel = a.una_advanced && self.eifel_spurious(seg);
        let undo = match self.snd.phase {
            Phase::Open => dsack_proof,
            // A CWR phase has no undo state (Linux clears `undo_marker` in `tcp_enter_cwr`).
            Phase::Cwr => false,
            Phase::Recovery | Phase::Loss => dsack_proof || eifel,
        };
        if !undo {
            return false;
        }
        self.cc.undo(u.prior_cwnd, u.prior_ssthresh);
        for i in 0..self.snd.sb.len() {
            if self.snd.sb.get(i).is_some_and(|s| s.mark == Mark::Lost) {
                self.snd.sb.set_mark(i, Mark::InFlight);
            }
        }
        if self.snd.phase != Phase::Open {
            self.snd.rack.on_recovery_end();
        }
        self.snd.phase = Phase::Open;
        self.snd.undo = None;
        if let Some(l) = self.snd.loss_held() {
            l.inflation = 0;
            l.rtx_now = false;
        }
        self.stats.rare_mut().spurious_undos += 1;
        self.note_cc();
        true
    }

    /// A D-SACK for `[_, right)` (RFC 2883): a segment sent during the episode arrived
    /// twice, so one of its retransmissions was not needed (Linux `tcp_check_dsack`).
    pub(in crate::conn) fn note_dsack(&mut self, right: SeqNum) {
        if let Some(u) = self.snd.undo.as_mut()
            && (right - u.marker) > 0
            && let Some(n) = u.retrans.as_mut()
        {
            *n = n.saturating_sub(1);
        }
    }

    /// RFC 8985 §7.4 / Linux `tcp_process_tlp_ack`: an ACK at or past the probe tells
    /// whether it repaired a loss.
    fn process_tlp_ack(&mut self, now: Instant, ack: SeqNum, a: &AckInfo) {
        let Some((high, retransmitted)) = self.snd.loss().tlp else { return };
        if ack < high {
            return;
        }
        if let Some(l) = self.snd.loss_held() {
            l.tlp = None;
        }
        // The D-SACK must name the probe (the segment ending at `high`; Linux
        // `FLAG_DSACK_TLP`): one for other data says nothing about it, and taken as proof it
        // would let a duplicate the network or a spoofer made cancel the reduction for a loss
        // the probe repaired.
        let probe_dsacked = a.dsack.is_some_and(|(left, right)| left < high && right >= high);
        if !retransmitted || probe_dsacked {
            // New data probed, or the D-SACK says the original and the probe both arrived.
            return;
        }
        if ack > high {
            // The probe repaired a loss: reduce as for one (Linux enters CWR and ends it).
            self.ecn_queue_cwr();
            self.cc.on_congestion_event(
                now,
                CongestionEvent::FastRetransmit,
                self.reduction_base(),
            );
            self.cc.on_recovery_exit(now, self.snd.flight().max(self.cc.ssthresh()));
            self.stats.rare_mut().tlp_recoveries += 1;
            self.note_cc();
        }
    }

    /// The retransmission timer after an ACK: off when nothing is outstanding; a tail loss
    /// probe when one may be sent; else the RTO (RFC 6298 (5.2), (5.3)).
    fn rearm_after_ack(&mut self, now: Instant, a: &AckInfo) {
        if self.snd.sb.is_empty() {
            self.timers.stop(TimerKind::Retransmit);
            self.snd.rtx_timer = RtxTimer::Rto;
            return;
        }
        if self.snd.rtx_timer == RtxTimer::Reorder && self.timers.is_armed(TimerKind::Retransmit) {
            return;
        }
        // Only an ACK of new data moves the timer (RFC 8985 §7.2; Linux sets it again only
        // on `FLAG_SET_XMIT_TIMER`, which `tcp_clean_rtx_queue` raises for data acked): a
        // SACK alone leaves the PTO where the last transmission put it.
        if a.una_advanced && !self.schedule_loss_probe(now) {
            self.arm_rto(now);
        }
    }

    /// Arms the RTO (RFC 6298 (5.1), (5.3)).
    pub(in crate::conn) fn arm_rto(&mut self, now: Instant) {
        self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
        self.snd.rtx_timer = RtxTimer::Rto;
    }

    /// RFC 8985 §7.2 / Linux `tcp_schedule_loss_probe`: arms the PTO if a probe may be sent;
    /// returns whether it did.
    pub(in crate::conn) fn schedule_loss_probe(&mut self, now: Instant) -> bool {
        // Not with a cap on segments in flight (SPEC S18's stop-and-wait): a probe of new data
        // would break it, and the point of that mode is to show ARQ by the RTO alone.
        if !self.cfg.tlp
            || self.cfg.max_flight_segments.is_some()
            || !self.cfg.rack
            || !self.sack_in_use()
            || !matches!(self.snd.phase, Phase::Open | Phase::Cwr)
            || self.snd.loss().tlp.is_some()
            || self.snd.sb.is_empty()
            || !matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            )
        {
            return false;
        }
        let pto = match self.rtt.srtt() {
            Some(srtt) => {
                let extra = if self.snd.sb.len() == 1 { TLP_DELAYED_ACK } else { TLP_SLACK };
                srtt * 2 + extra
            }
            None => TLP_NO_RTT,
        };
        // "If the RTO would fire earlier, arm it instead" (Linux: the PTO never goes past
        // the RTO of the oldest segment in flight).
        let head_sent = self.snd.sb.get(0).map_or(now, |s| s.sent_at);
        let rto_at = head_sent + self.rtt.rto();
        let at = (now + pto).min(rto_at.max(now));
        self.timers.set(TimerKind::Retransmit, at);
        self.snd.rtx_timer = RtxTimer::Probe;
        true
    }

    /// The PTO fired (RFC 8985 §7.3): send one probe, new data if there is some, else the
    /// last segment again; then the RTO takes over.
    pub(in crate::conn) fn on_probe_timeout(&mut self, now: Instant) {
        if self.snd.sb.is_empty() {
            return;
        }
        self.snd.loss_mut().tlp_pending = true;
        self.stats.rare_mut().tlp_probes += 1;
        self.arm_rto(now);
    }

    /// RACK's reordering timer fired (RFC 8985 §6.3): look for losses again.
    pub(in crate::conn) fn on_reorder_timeout(&mut self, now: Instant) {
        self.snd.rtx_timer = RtxTimer::Rto;
        self.arm_rto(now);
        if self.rack_detect(now) && matches!(self.snd.phase, Phase::Open | Phase::Cwr) {
            self.enter_recovery(now);
            if self.cfg.prr {
                // Linux `tcp_rack_reo_timeout`: the window reduction starts without an ACK.
                let pipe = self.snd.sb.pipe_segments();
                self.snd.loss_mut().prr.cwnd = pipe + 1;
            }
        }
    }
}
