//! TIME-WAIT as a small record ([`TimeWait`]), Linux's `inet_timewait_sock`: once nobody
//! holds a connection in TIME-WAIT, all that is left of it is answering the segments that
//! can still arrive for its 4-tuple and holding the 4-tuple for 2·MSL. The connection's
//! state (send and receive sides, RTT estimator, congestion controller, counters) is not
//! needed for that; [`Conn::time_wait`] reduces it to the fields the answers read.
//!
//! The record answers as [`Conn::handle_segment`] does in TIME-WAIT (`input.rs`,
//! `on_time_wait`), segment for segment and byte for byte:
//!
//! - RFC 1337 §3: "Ignore RST segments in TIME-WAIT state" (`rfc1337`, on by default); with
//!   it off, a RST at RCV.NXT ends TIME-WAIT (RFC 9293 §3.10.7.4 with RFC 5961 §3.2);
//! - a SYN without ACK is answered as an old duplicate, an ACK (whether it may open a new
//!   connection, RFC 6191, is the host's call: it asks [`TimeWait::recv_next`]);
//! - RFC 9293 §3.10.7.4: "The only thing that can arrive in this state is a retransmission
//!   of the remote FIN. Acknowledge it, and restart the 2 MSL timeout"; like Linux
//!   (`tcp_timewait_state_process`) any segment with ACK restarts it, and a bare ACK at
//!   RCV.NXT is not answered;
//! - answers to anything but data are limited to one per `invalid_ratelimit`
//!   (`tcp_invalid_ratelimit`, RFC 5961 §7), as the connection limits them.
//!
//! The ACK it sends is the connection's: SEQ = SND.NXT, ACK = RCV.NXT, the window field the
//! connection advertised last (nothing is read or received in TIME-WAIT, so it cannot
//! change), ECE while the connection owed it, and the timestamps option with TSval from the
//! same clock and offset and TSecr = TS.Recent.

use core::time::Duration;
use std::sync::Arc;

use ustack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr, Timestamps};

use super::{Conn, DropReason, FourTuple, State, tuple};
use crate::{Instant, TcpConfig, TimerKind};

/// A connection in TIME-WAIT reduced to what its answers need (about 100 bytes, where the
/// connection takes 880 and its congestion controller and scoreboard boxes more). Made by
/// [`Conn::time_wait`].
///
/// # Call order
///
/// As a connection's: inputs are [`handle_segment`](Self::handle_segment),
/// [`handle_timeout`](Self::handle_timeout) and [`handle_icmp_error`](Self::handle_icmp_error);
/// after each, [`poll_transmit`](Self::poll_transmit) until `None`, then
/// [`poll_timeout`](Self::poll_timeout). What an input did is its return value (there is no
/// event queue): the host reports it as the connection's events.
#[derive(Debug)]
pub struct TimeWait {
    /// The settings (`rfc1337`, `msl`, `invalid_ratelimit`), shared as the connection shared
    /// them.
    cfg: Arc<TcpConfig>,
    tuple: tuple::Packed,
    /// SND.NXT: everything we sent, our FIN included, is acknowledged.
    snd_nxt: SeqNum,
    /// RCV.NXT, past the peer's FIN.
    rcv_nxt: SeqNum,
    /// TS.Recent (RFC 7323 §4.3), echoed in TSecr.
    ts_recent: u32,
    /// Added to our millisecond clock to form TSval (RFC 7323 §5.4).
    ts_offset: u32,
    /// When TIME-WAIT was entered (Linux `tw_entry_stamp`, for `tcp_tw_reuse`).
    entered: Instant,
    /// When it ends: 2·MSL after it was entered or after the last segment with ACK or FIN.
    expires: Instant,
    /// When we last answered a segment other than data (RFC 5961 §7 throttling).
    last_oow_ack: Option<Instant>,
    /// The window field of our ACKs (already scaled).
    window: u16,
    /// The connection negotiated timestamps (RFC 7323).
    timestamps: bool,
    /// ECE on our ACKs: a CE arrived and no CWR since (RFC 3168 §6.1.3).
    ece: bool,
    /// An ACK is owed at the next `poll_transmit`.
    ack_owed: bool,
    /// Trace events are reported (the host reports them for the record).
    tracing: bool,
}

/// What a segment or an ICMP error did to a [`TimeWait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum TimeWaitInput {
    /// Taken: it restarted the 2·MSL timer, or asked for an ACK, or neither (a bare ACK).
    Taken,
    /// Dropped and counted for this reason (the connection's [`DropReason`]); an ACK may be
    /// owed all the same (a SYN is answered as an old duplicate).
    Dropped(DropReason),
    /// A RST ended TIME-WAIT (only with `rfc1337` off): the connection is CLOSED, without
    /// error, as when the 2·MSL timer expires.
    Closed,
}

impl Conn {
    /// The record this connection can be reduced to, when it is in TIME-WAIT with nothing
    /// else to do: no event or segment owed, no timer but TIME-WAIT's, nothing queued either
    /// way, no SACK block to send. `None` otherwise (keep the connection; ask again after its
    /// next output).
    ///
    /// The counters stay with the connection: read them ([`Conn::stats`]) before dropping it.
    pub fn time_wait(&mut self) -> Option<TimeWait> {
        let expires = self.timers.get(TimerKind::TimeWait)?;
        let quiet = self.state == State::TimeWait
            && self.events.is_empty()
            && self.pending_rst.is_none()
            && !self.ack_now
            && !self.challenge_owed
            && !self.force_send
            && !self.probe_now
            && self.release_at.is_none()
            && self.timers.iter().all(|(k, _)| k == TimerKind::TimeWait)
            && self.recv_queue() == 0
            && self.send_queue() == 0
            && self.rcv.dsack.is_none()
            && self.rcv.asm.range_count() == 0;
        if !quiet {
            return None;
        }
        Some(TimeWait {
            cfg: Arc::clone(&self.cfg),
            tuple: self.tuple,
            snd_nxt: self.snd.max,
            rcv_nxt: self.rcv.nxt,
            ts_recent: self.ts_recent,
            ts_offset: self.ts_offset,
            entered: self.time_wait_at,
            expires,
            last_oow_ack: self.last_oow_ack,
            // Nothing is read or received any more: the field the last ACK carried, as
            // every later one would compute it.
            window: self.window_field(),
            timestamps: self.opts.timestamps,
            ece: self.ecn.ok && self.ecn.demand_cwr,
            ack_owed: false,
            tracing: self.tracing,
        })
    }
}

impl TimeWait {
    /// A segment for the 4-tuple arrived (checksum verified by the host): RFC 9293
    /// §3.10.7.4 in TIME-WAIT with RFC 1337, as the module documentation says.
    pub fn handle_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) -> TimeWaitInput {
        let flags = seg.flags;
        if flags.contains(TcpFlags::RST) {
            // RFC 1337 §3: "Ignore RST segments in TIME-WAIT state" (SPEC S12). Without it,
            // RFC 9293's second check: "If the RST bit is set, then enter the CLOSED state"
            // (for an exact sequence number, RFC 5961 §3.2).
            if !self.cfg.rfc1337 && seg.seq == self.rcv_nxt {
                self.ack_owed = false;
                return TimeWaitInput::Closed;
            }
            return TimeWaitInput::Dropped(DropReason::BadRst);
        }
        if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
            // A new SYN the host did not let reopen the 4-tuple (RFC 6191): an old duplicate.
            self.oow_ack(now, seg);
            return TimeWaitInput::Dropped(DropReason::UnexpectedSyn);
        }
        // RFC 9293 §3.10.7.4, fifth check: acknowledge a retransmitted FIN "and restart the 2
        // MSL timeout"; like Linux, any segment with ACK restarts it, and a bare ACK at
        // RCV.NXT is not answered.
        if flags.contains(TcpFlags::ACK) || flags.contains(TcpFlags::FIN) {
            self.expires = now + self.cfg.time_wait_len();
        }
        let bare_ack =
            seg.payload.is_empty() && !flags.contains(TcpFlags::FIN) && seg.seq == self.rcv_nxt;
        if !bare_ack {
            self.oow_ack(now, seg);
        }
        TimeWaitInput::Taken
    }

    /// An ICMP error quoting a segment of this 4-tuple: nothing is in flight in TIME-WAIT,
    /// so it is dropped as out of window (RFC 5927 §4.1), as the connection drops it.
    pub fn handle_icmp_error(&mut self) -> TimeWaitInput {
        TimeWaitInput::Dropped(DropReason::IcmpOutOfWindow)
    }

    /// The 2·MSL timer: true when it expired at `now` (RFC 9293 §3.10.8: "If the time-wait
    /// timeout expires on a connection, delete the TCB, enter the CLOSED state, and
    /// return."). The record is done with then; drop it.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.expires <= now {
            self.ack_owed = false;
            return true;
        }
        false
    }

    /// The ACK owed, if any (one per call; then `None`). Emit it with the 4-tuple's
    /// addresses, Not-ECT, as the connection's own segments.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<TcpRepr<'static>> {
        if !core::mem::take(&mut self.ack_owed) {
            return None;
        }
        let mut options = TcpOptions::default();
        if self.timestamps {
            let tsval = ((now.as_nanos() / 1_000_000) as u32).wrapping_add(self.ts_offset);
            options.timestamps = Some(Timestamps { tsval, tsecr: self.ts_recent });
        }
        let mut flags = TcpFlags::ACK;
        if self.ece {
            flags |= TcpFlags::ECE;
        }
        Some(TcpRepr {
            src_port: self.tuple.local_port(),
            dst_port: self.tuple.remote_port(),
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags,
            window: self.window,
            urgent: 0,
            options,
            payload: &[],
        })
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the end of TIME-WAIT.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        self.expires
    }

    /// The 4-tuple.
    pub fn tuple(&self) -> FourTuple {
        self.tuple.get()
    }

    /// RCV.NXT: a new SYN above it may reopen the 4-tuple (RFC 6191, Linux
    /// `tcp_timewait_state_process`), the host's call.
    pub fn recv_next(&self) -> SeqNum {
        self.rcv_nxt
    }

    /// What `tcp_tw_reuse` needs, as [`Conn::time_wait_reuse`]: SND.NXT and when TIME-WAIT
    /// began, for a connection whose peer sent timestamps.
    pub fn time_wait_reuse(&self) -> Option<(SeqNum, Instant)> {
        self.timestamps.then_some((self.snd_nxt, self.entered))
    }

    /// Whether the host reports trace events for it (the connection's setting).
    pub fn tracing(&self) -> bool {
        self.tracing
    }

    /// Switches trace events on or off, as [`Conn::set_tracing`].
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// What the timer column shows: the time left to the end of TIME-WAIT at `now`.
    pub fn time_left(&self, now: Instant) -> Duration {
        self.expires.saturating_duration_since(now)
    }

    /// RFC 5961 §7 with Linux's `tcp_oow_rate_limited`: answers other than to data at most
    /// one per `invalid_ratelimit` (as `Conn::oow_ack`).
    fn oow_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let data = !seg.payload.is_empty() && !seg.flags.contains(TcpFlags::SYN);
        if data
            || !super::input::oow_rate_limited(
                &mut self.last_oow_ack,
                self.cfg.invalid_ratelimit,
                now,
            )
        {
            self.ack_owed = true;
        }
    }
}
