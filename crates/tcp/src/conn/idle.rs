//! Giving back the memory of an idle connection.
//!
//! The send and receive rings, the queue of segments in flight and the out-of-order ranges
//! grow on demand (`RingBuffer`) and, left alone, keep their storage for the life of the
//! connection: a million connections that each moved one byte would hold some 2 KiB of
//! empty rings apiece. Linux holds no such storage (its buffers are lists of skbs, freed as
//! soon as data is acknowledged or read). Freeing a ring the moment it empties would cost an
//! allocation on nearly every segment of a bulk flow whose reader keeps up, so the engine
//! waits until the connection has been quiet (nothing received, nothing sent) for
//! [`RELEASE_AFTER`], then frees whatever storage is empty: the send ring and the
//! scoreboard's queue once every byte is acknowledged (with the loss-recovery state, once it
//! is back at rest), the receive ring and the reassembly ranges once the application has
//! read everything and nothing is held out of order, and the event queue once drained. The next byte allocates again.
//!
//! The release deadline is not one of the seven protocol timers (`TimerKind`): it sends
//! nothing and changes no state the peer can see. It is armed when a side empties (an ACK
//! covers everything sent; `recv` drains the receive ring, armed at the next `poll_transmit`,
//! which knows the time), merged into `poll_timeout`, and handled by `handle_timeout` after
//! the protocol timers.

use core::time::Duration;

use super::{Conn, State};
use crate::Instant;

/// How long a connection must be quiet before its empty storage is freed. Long against the
/// gaps inside a flow (delayed ACKs are at most 0.5 s, RFC 9293 §3.8.6.3), so a busy
/// connection never frees and reallocates, and short against the life of an idle one.
pub const RELEASE_AFTER: Duration = Duration::from_secs(1);

impl Conn {
    /// Arms the release of empty storage at `quiet_since + RELEASE_AFTER`, unless it is
    /// armed already (then it fires at its deadline and looks again). Not in TIME-WAIT
    /// (which released what it could on entry) nor CLOSED (no deadline of any kind there:
    /// the host drops the connection).
    pub(super) fn arm_release(&mut self, quiet_since: Instant) {
        if self.release_at.is_none()
            && !matches!(self.state, State::TimeWait | State::Closed { .. })
        {
            self.release_at = Some(quiet_since + RELEASE_AFTER);
        }
    }

    /// A read emptied the receive buffer (`recv`, which is not told the time): arms the
    /// release a quiet second after the last segment arrived, or now if that is past. A
    /// deadline is never armed in the past, where a host's `poll_timeout` would report it.
    pub(super) fn arm_release_after_read(&mut self, now: Instant) {
        if core::mem::take(&mut self.release_after_read) {
            self.arm_release(self.last_recv);
            if let Some(at) = self.release_at
                && at < now
            {
                self.release_at = Some(now);
            }
        }
    }

    /// The release deadline passed: frees what is empty if the connection has been quiet
    /// for `RELEASE_AFTER`, else looks again that long after its last activity.
    pub(super) fn on_release_timeout(&mut self, now: Instant) {
        self.release_at = None;
        let last =
            if self.last_recv > self.snd.last_send { self.last_recv } else { self.snd.last_send };
        if now < last + RELEASE_AFTER {
            self.release_at = Some(last + RELEASE_AFTER);
            return;
        }
        self.release_empty_storage();
    }

    /// Frees the storage of every part that holds nothing: the send side once every byte is
    /// acknowledged (and its loss state, `send::Loss`, once all of it is at rest), the
    /// receive side once everything is read and nothing is held out of
    /// order, the event queue once drained. Returns nothing; the next write reallocates.
    pub(super) fn release_empty_storage(&mut self) {
        if self.snd.buf.is_empty() && self.snd.sb.is_empty() {
            self.snd.buf.release_if_empty();
            if self.state == State::TimeWait {
                // Nothing more to send: the queue's box waits, empty, for the connection
                // that takes this one's place (`ConnSpare`), which would allocate it again.
                self.snd.sb.release_entries();
            } else {
                self.snd.sb.release_storage();
            }
            self.snd.release_loss();
        }
        if self.rcv.buf.is_empty() && self.rcv.asm.is_empty() {
            self.rcv.buf.release_if_empty();
            self.rcv.asm.release_storage();
        }
        self.events.release_if_empty();
    }

    /// Bytes of storage allocated for the rings, the scoreboard, the reassembly ranges, the
    /// event queue and the loss-recovery state (what [`RELEASE_AFTER`] of quiet gives back when they are empty).
    pub fn storage_bytes(&self) -> usize {
        self.snd.buf.capacity()
            + self.rcv.buf.capacity()
            + self.snd.sb.storage_bytes()
            + self.rcv.asm.storage_bytes()
            + self.events.storage_bytes()
            + self.snd.loss.as_ref().map_or(0, |_| core::mem::size_of::<super::send::Loss>())
    }
}
