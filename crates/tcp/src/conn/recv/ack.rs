//! When to acknowledge: quick-ACK mode, interactive ("ping-pong") mode and the adaptive
//! delayed-ACK timeout, as Linux runs them (`tcp_event_data_recv`, `tcp_event_data_sent`,
//! `tcp_send_delayed_ack`, `tcp_delack_timer_handler`).
//!
//! RFC 9293 §3.8.6.3 asks that an ACK be delayed less than 0.5 s and sent for at least every
//! second full-sized segment (`input.rs` does the latter). Within that, Linux adapts the delay
//! (`ato`) to the connection:
//!
//! - it starts at `delack_min` (40 ms) when the first data arrives;
//! - data arriving in quick succession pulls it towards the gap between segments;
//! - a delayed ACK that had to fire (no reply and no more data carried it) doubles it, up to
//!   the RTO, on a bulk connection; on an interactive one it ends interactive mode and resets
//!   it to `delack_min`;
//! - when the timer is armed, the delay is capped by the smoothed RTT, by 200 ms on an
//!   interactive connection (500 ms otherwise), and by `delack_max`.
//!
//! With the default `delack_max` of 40 ms every delayed ACK leaves after 40 ms, as SPEC asks;
//! `delack_max` = 200 ms gives Linux's full range.

use core::time::Duration;

use crate::time::Nanos;

use super::super::Conn;
use crate::Instant;
use crate::TimerKind;

/// Linux's `TCP_MAX_QUICKACKS`: at most this many quick ACKs at a time.
const MAX_QUICKACKS: u32 = 16;
/// Linux's `TCP_DELACK_MAX`: the cap of the delay on an interactive connection.
const INTERACTIVE_MAX: Duration = Duration::from_millis(200);
/// Linux's `HZ / 2`: the cap of the delay otherwise.
const BULK_MAX: Duration = Duration::from_millis(500);

impl Conn {
    /// Quick-ACK mode (Linux `tcp_incr_quickack`): the next ACKs go at once, as many as
    /// half the window in segments (2 to 16), so a sender in slow start is not held back.
    pub(in crate::conn) fn enter_quickack(&mut self) {
        let per = 2 * u32::from(self.rcv.seg_mss);
        let quick = (self.rcv.adv_wnd() / per).clamp(2, MAX_QUICKACKS) as u8;
        self.rcv.quickacks = self.rcv.quickacks.max(quick);
    }

    /// Linux `tcp_enter_quickack_mode`: quick ACKs for the next segments (half the window in
    /// segments, at least 2, at most `max`), out of interactive mode, the delay back to
    /// `delack_min`.
    pub(in crate::conn) fn enter_quickack_mode(&mut self, max: u8) {
        let per = 2 * u32::from(self.rcv.seg_mss.max(1));
        let quick = match self.rcv.adv_wnd() / per {
            0 => 2,
            n => n.min(u32::from(max)) as u8,
        };
        self.rcv.quickacks = self.rcv.quickacks.max(quick.min(max));
        self.rcv.pingpong = 0;
        self.rcv.ato = Nanos::new(self.cfg.delack_min);
    }

    /// In-order data arrived on a connection that had data before (Linux
    /// `tcp_event_data_recv`): adapt `ato` to the gap since the last, or, after a gap longer
    /// than the RTO, go back to quick ACKs ("apparently sender failed to restart window").
    pub(in crate::conn) fn note_data_gap(&mut self, now: Instant) {
        let gap = now - self.rcv.last_data_at;
        let half_min = self.cfg.delack_min / 2;
        let rto = self.rtt.rto();
        let ato = self.rcv.ato.get();
        if gap <= half_min {
            self.rcv.ato = Nanos::new(ato / 2 + half_min);
        } else if gap < ato {
            self.rcv.ato = Nanos::new((ato / 2 + gap).min(rto));
        } else if gap > rto {
            self.enter_quickack();
        }
        self.rcv.last_data_at = now;
    }

    /// We sent new data (Linux `tcp_event_data_sent`): sent within `ato` of the last data
    /// received, it is a reply, and the connection counts as interactive.
    pub(in crate::conn) fn note_data_sent(&mut self, now: Instant) {
        if self.rcv.got_data && now - self.rcv.last_data_at < self.rcv.ato.get() {
            self.rcv.pingpong = self.rcv.pingpong.saturating_add(1);
        }
    }

    /// How long to delay an ACK now (Linux `tcp_send_delayed_ack`).
    pub(in crate::conn) fn delayed_ack_timeout(&self) -> Duration {
        let min = self.cfg.delack_min;
        let mut ato = self.rcv.ato.get().max(min);
        if ato > min {
            let mut cap = if self.rcv.pingpong > 0 { INTERACTIVE_MAX } else { BULK_MAX };
            if let Some(srtt) = self.rtt.srtt() {
                cap = cap.min(srtt.max(min));
            }
            ato = ato.min(cap);
        }
        ato.min(self.cfg.delack_max)
    }

    /// The delayed-ACK timer fired (Linux `tcp_delack_timer_handler`): the ACK goes now, and
    /// the delay adapts: doubled (up to the RTO) on a bulk connection; on an interactive one,
    /// whose reply did not come in time, interactive mode ends and the delay starts over.
    pub(in crate::conn) fn on_delayed_ack_timeout(&mut self) {
        if self.rcv.pingpong > 0 {
            self.rcv.pingpong = 0;
            self.rcv.ato = Nanos::new(self.cfg.delack_min);
        } else {
            self.rcv.ato = Nanos::new((self.rcv.ato.get() * 2).min(self.rtt.rto()));
        }
        self.ack_now = true;
    }
    /// Every segment with ACK acknowledges RCV.NXT: the delayed ACK is no longer owed.
    pub(in crate::conn) fn on_ack_sent(&mut self) {
        if self.rcv.last_ack_sent != self.rcv.nxt && self.rcv.quickacks > 0 {
            self.rcv.quickacks -= 1;
        }
        self.ack_now = false;
        self.challenge_owed = false;
        self.timers.stop(TimerKind::DelayedAck);
        self.rcv.last_ack_sent = self.rcv.nxt;
        self.rcv.sack_trigger = None;
        self.rcv.dsack = None;
    }
}
