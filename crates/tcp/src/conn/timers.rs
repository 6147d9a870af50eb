//! What each timer of SPEC S21 does when it fires: `handle_timeout`.

use super::send::{Phase, RtxTimer};
use super::{Conn, ConnError, Event, State};
use crate::cc::CongestionEvent;
use crate::{Instant, TimerKind};

impl Conn {
    /// Fires every timer due at `now` (deadline at or before it), earliest first. Call it
    /// when [`Conn::poll_timeout`]'s deadline has passed, then the outputs.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(kind) = self.timers.pop_expired(now) {
            if matches!(self.state, State::Closed { .. }) {
                break;
            }
            self.trace(Event::TimerFired(kind));
            match kind {
                TimerKind::Establish => self.on_establish_timeout(),
                // One timer, three uses, as in Linux: the RTO, the tail loss probe timeout
                // and RACK's reordering timeout (`send/recovery.rs`).
                TimerKind::Retransmit => match self.snd.rtx_timer {
                    RtxTimer::Rto => self.on_rto(now),
                    RtxTimer::Probe => self.on_probe_timeout(now),
                    RtxTimer::Reorder => self.on_reorder_timeout(now),
                },
                TimerKind::DelayedAck => self.on_delayed_ack_timeout(),
                TimerKind::Persist => self.on_persist(now),
                TimerKind::Keepalive => self.on_keepalive(now),
                // SPEC S11: an orphaned connection whose peer never sends its FIN is closed
                // after `fin_timeout`. Linux turns it into a FIN-WAIT-2 timewait socket that
                // expires silently; no RST.
                TimerKind::FinWait2 => self.close_with(None),
                // RFC 9293 §3.10.8: "If the time-wait timeout expires on a connection, delete
                // the TCB, enter the CLOSED state, and return."
                TimerKind::TimeWait => self.close_with(None),
            }
        }
        if self.release_at.is_some_and(|at| at <= now) {
            self.on_release_timeout(now);
        }
    }

    /// The handshake took too long: SYN-SENT after `syn_retries` retransmissions (SPEC S5:
    /// "after the retry limit `connect()` fails with a timeout error"), SYN-RECEIVED after
    /// `synack_retries`, and so does a FIN-WAIT-1 entered from SYN-RECEIVED by a CLOSE
    /// (RFC 9293 §3.10.4) whose SYN-ACK is still unacknowledged: its SYN-ACK is what is
    /// being retransmitted.
    fn on_establish_timeout(&mut self) {
        if !self.snd.syn_acked && self.defer.retrans == 0 {
            self.close_with(Some(ConnError::TimedOut));
        }
    }

    /// The retransmission timer expired: RFC 6298 §5.4–5.6.
    fn on_rto(&mut self, now: Instant) {
        self.fast_open_rto();
        if !self.snd.syn_acked {
            // The SYN or SYN-ACK (SPEC S5): resend it with the doubled RTO; the Establish
            // timer bounds the attempts. A deferred connection (`defer.rs`) decides for
            // itself whether to resend and when to give up.
            if self.defer.retrans > 0 && !self.on_deferred_synack_timeout(now) {
                if matches!(self.state, State::Closed { .. }) {
                    return;
                }
                self.rtt.backoff();
                self.arm_rto(now);
                return;
            }
            self.rtt.backoff();
            self.snd.rewind_to_syn();
            self.arm_rto(now);
            return;
        }
        if self.snd.sb.is_empty() {
            return;
        }
        if self.snd.wnd == 0 && !self.orphan {
            // The peer shrank its window to zero under data in flight. Like Linux
            // (`tcp_retransmit_timer`: "Receiver dastardly shrinks window. Our retransmits
            // become zero probes, but we should not timeout this connection"), probe instead
            // of counting towards retries2, and give up only after rto_max without a sign of
            // life.
            if now - self.last_recv > self.rtt.rto_max() {
                self.close_with(Some(ConnError::TimedOut));
                return;
            }
            self.rtt.backoff();
            self.force_send = true;
            // What is in flight went beyond the window: it goes again once the window opens
            // (Linux `tcp_enter_loss` here). RFC 6582 §3.2 step 4, as for any timeout: the
            // answers to the probes are duplicate ACKs that must not start a fast
            // retransmit.
            self.snd.sb.mark_all_lost();
            self.snd.phase = Phase::Loss;
            self.snd.recover = self.snd.max;
            self.arm_rto(now);
            return;
        }
        // SPEC S17 / RFC 9293 §3.8.3 R2: give up once the retransmissions have lasted longer
        // than `retries2` doublings from rto_min would (Linux `retransmits_timed_out`),
        // counted from when the oldest outstanding segment was sent (approximated by when
        // the timer that just expired was armed).
        let stamp = *self.snd.loss_mut().retrans_stamp.get_or_insert(Instant::from_nanos(
            now.as_nanos().saturating_sub(self.rtt.rto().as_nanos() as u64),
        ));
        let limit = if !self.cfg.user_timeout.is_zero() {
            self.cfg.user_timeout
        } else if self.orphan {
            self.cfg.orphan_timeout()
        } else {
            self.cfg.retries2_timeout()
        };
        if now - stamp >= limit {
            self.close_with(Some(ConnError::TimedOut));
            return;
        }
        if now - stamp >= self.cfg.retries1_timeout() {
            self.black_hole_step();
        }
        // RFC 5681 §3.1 (the controller sets ssthresh and cwnd), RFC 6582 §3.2 step 4:
        // "After a retransmit timeout, record the highest sequence number transmitted in the
        // variable recover, and exit the fast recovery procedure if applicable."
        let event = if self.snd.loss().rto_retries == 0 {
            CongestionEvent::Timeout
        } else {
            CongestionEvent::RepeatedTimeout
        };
        self.cc.on_congestion_event(now, event, self.reduction_base());
        // (5.4) "Retransmit the earliest segment that has not been acknowledged by the TCP
        // receiver": everything not SACKed is lost and goes again from the first hole, as
        // the window (one segment now) allows (RFC 6675 §5.1; Linux `tcp_enter_loss`).
        self.enter_loss();
        self.note_cc();
        // (5.5) "The host MUST set RTO <- RTO * 2 ("back off the timer")".
        // (5.6) "Start the retransmission timer, such that it expires after RTO seconds (for
        // the value of RTO after the doubling operation)."
        self.rtt.backoff();
        self.snd.loss_mut().rto_retries += 1;
        self.snd.loss_mut().rto_tsval = Some(self.ts_now(now));
        self.snd.set_timed(None);
        self.arm_rto(now);
    }

    /// `retries1` timeouts have gone unanswered: the path may be a black hole for large
    /// packets (Linux `tcp_mtu_probing`, called from `tcp_write_timeout`). With
    /// `mtu_probing` on, the first time the segment size drops to `base_mss`, each later time
    /// it halves, not below 48 bytes (Linux's `tcp_mtu_probe_floor`) nor `min_snd_mss`; what
    /// is in flight goes again at the new size, since the timeout marked it lost.
    fn black_hole_step(&mut self) {
        if self.cfg.mtu_probing == 0 {
            return;
        }
        let mss = match self.snd.loss().black_hole_mss {
            None => self.cfg.base_mss,
            Some(mss) => (mss / 2).min(self.cfg.base_mss).max(48).max(self.cfg.min_snd_mss),
        };
        self.snd.loss_mut().black_hole_mss = Some(mss);
        if mss < self.snd.mss {
            self.snd.mss = mss;
            self.cc.on_mss_change(u32::from(self.effective_mss()));
            self.note_cc();
        }
    }

    /// The keepalive timer (RFC 9293 §3.8.4, Linux `tcp_keepalive_timer`): after
    /// `keepalive_time` without hearing from the peer, probe every `keepalive_intvl`; after
    /// `keepalive_probes` unanswered probes, reset the connection with
    /// [`ConnError::TimedOut`]. While data is outstanding or queued the retransmission and
    /// persist timers are in charge and no probe is sent.
    fn on_keepalive(&mut self, now: Instant) {
        if !self.cfg.keepalive
            || !matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait1 | State::FinWait2
            )
        {
            return;
        }
        let idle = now - self.last_recv;
        if self.snd.una != self.snd.max || !self.snd.buf.is_empty() {
            self.timers.set(TimerKind::Keepalive, now + self.cfg.keepalive_time);
            return;
        }
        if idle < self.cfg.keepalive_time {
            self.timers.set(TimerKind::Keepalive, self.last_recv + self.cfg.keepalive_time);
            return;
        }
        if self.keepalive_probes_out >= self.cfg.keepalive_probes {
            self.queue_active_reset();
            self.close_with(Some(ConnError::TimedOut));
            return;
        }
        self.keepalive_probes_out += 1;
        self.probe_now = true;
        self.timers.set(TimerKind::Keepalive, now + self.cfg.keepalive_intvl);
    }

    /// The persist timer (RFC 9293 §3.8.6.1; SPEC S19): the peer's window keeps our data
    /// back and nothing is in flight. Send what fits, or a zero-window probe, and back off.
    ///
    /// A peer that answers the probes keeps the connection open for ever (RFC 1122
    /// §4.2.2.17: "as long as the receiving TCP continues to send acknowledgments in
    /// response to the probe segments"); every ACK clears the count. Unanswered, like Linux
    /// (`tcp_probe_timer`) the connection is given up with ETIMEDOUT after `retries2` probes
    /// (`orphan_retries` once the application closed it), or after `user_timeout`.
    fn on_persist(&mut self, now: Instant) {
        if matches!(self.state, State::TimeWait | State::FinWait2) {
            return;
        }
        let since = *self.snd.loss_mut().probes_since.get_or_insert(now);
        let max = if self.orphan { self.cfg.orphan_retries } else { self.cfg.retries2 };
        let user_timeout = !self.cfg.user_timeout.is_zero() && now - since >= self.cfg.user_timeout;
        if self.snd.loss().probes_out >= max || user_timeout {
            self.close_with(Some(ConnError::TimedOut));
            return;
        }
        self.snd.loss_mut().probes_out += 1;
        self.force_send = true;
        let l = self.snd.loss_mut();
        l.persist_backoff = l.persist_backoff.saturating_add(1);
        let backed =
            self.rtt.base_rto().saturating_mul(1u32 << self.snd.loss().persist_backoff.min(16));
        self.timers.set(TimerKind::Persist, now + backed.min(self.rtt.rto_max()));
    }
}
