//! ACKs arriving for what we sent (RFC 9293 §3.10.7.4 "fifth, check the ACK field"): SND.UNA
//! and the send window, RTT samples, duplicate ACKs, and the congestion controller's view.

use core::time::Duration;

use ustack_wire::{TcpFlags, TcpRepr};

use super::super::{Conn, Event, State, seq_len};
use crate::cc::CongestionEvent;
use crate::{Instant, TimerKind};

impl Conn {
    /// The ACK of an acceptable segment: SND.UNA, the send window, duplicate ACKs, and the
    /// state changes an ACK of our FIN causes. Returns false when the connection closed.
    pub(in crate::conn) fn process_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        let ack = seg.ack;
        let old_una = self.snd.una;
        let window = u32::from(seg.window) << self.snd.wscale;
        if ack > self.snd.una {
            self.on_new_ack(now, seg);
        } else if ack == self.snd.una
            && self.snd.una < self.snd.max
            && seg.payload.is_empty()
            && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
            && window == self.snd.wnd
        {
            // RFC 5681 §2, DUPLICATE ACKNOWLEDGMENT: outstanding data, no data, no SYN or
            // FIN, the same acknowledgment number and the same window.
            self.on_dup_ack(now);
        }
        // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 <
        // SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND,
        // set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
        if old_una <= ack
            && (self.snd.wl1 < seg.seq || (self.snd.wl1 == seg.seq && self.snd.wl2 <= ack))
        {
            let opened = self.snd.wnd == 0 && window > 0;
            self.snd.wnd = window;
            self.snd.max_wnd = self.snd.max_wnd.max(window);
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = ack;
            if opened {
                self.timers.stop(TimerKind::Persist);
                self.snd.persist_backoff = 0;
            }
        }
        match self.state {
            // "FIN-WAIT-1 STATE: In addition to the processing for the ESTABLISHED state, if
            // the FIN segment is now acknowledged, then enter FIN-WAIT-2 and continue
            // processing in that state."
            State::FinWait1 if self.snd.fin_acked() => {
                self.set_state(State::FinWait2);
                if self.orphan {
                    self.arm_fin_wait2(now);
                }
            }
            // "CLOSING STATE: In addition to the processing for the ESTABLISHED state, if the
            // ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the
            // segment."
            State::Closing if self.snd.fin_acked() => self.enter_time_wait(now),
            // "LAST-ACK STATE: The only thing that can arrive in this state is an
            // acknowledgment of our FIN. If our FIN is now acknowledged, delete the TCB, enter
            // the CLOSED state, and return."
            State::LastAck if self.snd.fin_acked() => {
                self.close_with(None);
                return false;
            }
            _ => {}
        }
        true
    }

    /// SND.UNA < SEG.ACK =< SND.MAX: new data acknowledged.
    pub(in crate::conn) fn on_new_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let ack = seg.ack;
        let acked = seq_len(self.snd.una, ack);
        let syn = u32::from(!self.snd.syn_acked);
        self.snd.syn_acked = true;
        let fin = u32::from(self.snd.fin.is_some_and(|f| ack == f + 1u32));
        let data_acked = acked.saturating_sub(syn + fin);
        self.snd.buf.consume(data_acked as usize);
        // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK."
        self.snd.una = ack;
        if self.snd.nxt < ack {
            self.snd.nxt = ack;
        }
        self.stats.bytes_acked += u64::from(data_acked);
        let sample = self.take_rtt_sample(now, seg);
        if syn == 1 && sample.is_none() && self.snd.syn_retransmitted {
            // RFC 6298 (5.7): the SYN-ACK timed out and no sample came: RTO 3 s.
            self.rtt.apply_syn_fallback();
        }
        let mss = u32::from(self.effective_mss());
        if self.snd.in_recovery {
            if ack >= self.snd.recover {
                // RFC 6582 §3.2 step 3, full acknowledgment: leave fast recovery; the
                // controller deflates the window (cc/mod.rs).
                self.snd.in_recovery = false;
                self.snd.inflation = 0;
                self.snd.dupacks = 0;
                self.cc.on_recovery_exit(now, self.snd.flight());
            } else {
                // RFC 6582 §3.2 step 3, partial acknowledgment: "retransmit the first
                // unacknowledged segment [...] deflate the congestion window by the amount
                // of new data acknowledged by the Cumulative Acknowledgment field. If the
                // partial ACK acknowledges at least one SMSS of new data, then add back SMSS
                // bytes to the congestion window."
                self.snd.fast_rtx = true;
                self.snd.inflation -= i64::from(acked);
                if acked >= mss {
                    self.snd.inflation += i64::from(mss);
                }
            }
        } else {
            self.snd.dupacks = 0;
            let app_limited = !self.was_cwnd_limited();
            self.cc.on_ack(now, data_acked, sample, app_limited);
        }
        // `recover` and `snd_sml` are only ever compared with SND.UNA, and such a comparison
        // holds only within 2^31: a mark left behind reads as *ahead* after 2 GiB more. Keep
        // both in [SND.UNA, SND.MAX]; a mark SND.UNA has passed means the same as one at it.
        if self.snd.recover < ack {
            self.snd.recover = ack;
        }
        if self.snd.sml < ack {
            self.snd.sml = ack;
        }
        self.note_cc();
        self.expand_send_buffer();
        if ack >= self.snd.pipe_mark {
            self.snd.pipe_mark = self.snd.max;
            self.snd.max_pipe = self.snd.pipe();
        }
        self.snd.rto_retries = 0;
        self.snd.retrans_stamp = None;
        self.snd.rtx_reason = None;
        if self.snd.una == self.snd.max {
            // RFC 6298 (5.2): "When all outstanding data has been acknowledged, turn off the
            // retransmission timer."
            self.timers.stop(TimerKind::Retransmit);
        } else {
            // (5.3): "When an ACK is received that acknowledges new data, restart the
            // retransmission timer so that it will expire after RTO seconds".
            self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
        }
        if self.send_blocked && self.snd.buf.free() > 0 && self.snd.fin.is_none() {
            self.send_blocked = false;
            self.push_event(Event::Writable);
        }
    }

    /// Linux `tcp_sndbuf_expand`: the send buffer grows towards twice the congestion window,
    /// so one window can be in flight while the application queues the next. It is bounded
    /// by twice the peer's largest window (more could never be sent in one round trip) and by
    /// `wmem.max`; it never shrinks. The ring allocates only as data actually fills it.
    pub(in crate::conn) fn expand_send_buffer(&mut self) {
        let window = self.cc.window().min(self.snd.max_wnd.max(u32::from(self.snd.mss)));
        let want = (2 * u64::from(window)).min(u64::from(self.cfg.wmem.max)) as usize;
        if want > self.snd.buf.limit() {
            self.snd.buf.set_limit(want);
        }
    }

    /// RFC 5681 §3.2 and RFC 6582 §3.2 steps 1–2 and 4.
    pub(in crate::conn) fn on_dup_ack(&mut self, now: Instant) {
        self.snd.dupacks += 1;
        let mss = i64::from(self.effective_mss());
        if self.snd.in_recovery {
            // RFC 5681 §3.2 step 4: "For each additional duplicate ACK received (after the
            // third), cwnd MUST be incremented by SMSS."
            self.snd.inflation += mss;
            return;
        }
        // RFC 6582 §3.2 step 1: "When the third duplicate ACK is received, the TCP sender
        // first checks the value of recover to see if the Cumulative Acknowledgment field
        // covers more than recover." (`recover` holds one past the highest sequence number
        // sent, so "covers more" is `>=`.)
        if self.snd.dupacks == 3 && self.snd.una >= self.snd.recover {
            self.snd.recover = self.snd.max;
            self.snd.in_recovery = true;
            // RFC 5681 §3.2 steps 2–3: ssthresh and cwnd are the controller's; the engine
            // retransmits and inflates by 3·SMSS.
            self.cc.on_congestion_event(now, CongestionEvent::FastRetransmit, self.snd.flight());
            self.snd.inflation = 3 * mss;
            self.snd.fast_rtx = true;
            self.note_cc();
        }
    }

    /// Whether the sender used its congestion window in the flight an ACK covers (Linux's
    /// `tcp_is_cwnd_limited`): in slow start, cwnd < 2·(largest flight); after it, the
    /// flight came within a segment of cwnd.
    pub(in crate::conn) fn was_cwnd_limited(&self) -> bool {
        let cwnd = self.cc.window();
        if self.cc.in_slow_start() {
            cwnd < self.snd.max_pipe.saturating_mul(2)
        } else {
            self.snd.max_pipe.saturating_add(u32::from(self.effective_mss())) > cwnd
        }
    }

    /// An RTT sample from an ACK of new data: the echoed timestamp (RFC 7323 §4.1) when
    /// timestamps are on, else the timed segment if this ACK covers it (Karn's rule is kept
    /// by never timing a retransmitted segment).
    ///
    /// An echo older than the last retransmission timeout is not taken: it comes from a
    /// transmission the timeout already gave up on (its ACK was lost, and the receiver echoes
    /// TS.Recent, RFC 7323 §4.3), so it measures RTT plus loss plus the whole RTO. Taken, it
    /// makes the next RTO at least as long, and after a few losses the RTO sits at its cap:
    /// the ambiguity Karn's rule (RFC 6298 §3) exists to avoid. The ACK still shows that
    /// the path delivers, so the backoff is cleared ([`RttEstimator::reset_backoff`]): RFC
    /// 6298 keeps it until a new sample because without timestamps none can be taken after
    /// a retransmission, but with them (RFC 7323 §4) the next fresh echo gives one. (Keeping
    /// it, a lossy path whose receiver echoes TS.Recent of duplicates doubles the RTO on every
    /// further loss while data is being acknowledged, up to its cap.)
    ///
    /// [`RttEstimator::reset_backoff`]: crate::RttEstimator::reset_backoff
    pub(in crate::conn) fn take_rtt_sample(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
    ) -> Option<Duration> {
        let mut sample = None;
        if self.opts.timestamps
            && let Some(ts) = seg.options.timestamps
        {
            let ms = self.ts_now(now).wrapping_sub(ts.tsecr);
            let stale = self.snd.rto_tsval.is_some_and(|t| (ts.tsecr.wrapping_sub(t) as i32) < 0);
            if stale {
                self.rtt.reset_backoff();
            } else if ts.tsecr != 0 && ms < 1 << 31 {
                sample = Some(Duration::from_millis(u64::from(ms)));
            }
        }
        if let Some((end, sent)) = self.snd.timed
            && seg.ack >= end
        {
            self.snd.timed = None;
            sample = sample.or(Some(now - sent));
        }
        if let Some(rtt) = sample {
            self.rtt.on_sample(rtt);
            if self.tracing {
                let srtt = self.rtt.srtt().unwrap_or(rtt);
                self.trace(Event::Rtt { sample: rtt, srtt, rto: self.rtt.rto() });
            }
        }
        sample
    }
}
