//! Data arriving (RFC 9293 §3.10.7.4 "seventh, process the segment text"): in-order data
//! into the receive buffer, out-of-order data held for reassembly, and whether to ACK now.

use ustack_wire::{SeqNum, TcpFlags, TcpRepr};

use super::super::{Conn, DropReason, State, seq_len};
use crate::{Ecn, Instant, TimerKind};

impl Conn {
    /// [`handle_segment_ecn`](Self::handle_segment_ecn) for a segment whose checksum the host
    /// has not verified yet, with the payload summed as it is copied into the receive buffer
    /// (one pass over it instead of two). Applies to the common case only: a data segment
    /// with ACK (and no SYN, RST, FIN or URG) at RCV.NXT of an established connection that
    /// holds no out-of-order data, the whole payload within the window and the buffer. Then
    /// the payload is placed past the readable end, where nothing is readable yet, and
    /// `verify` gets its checksum ([`checksum::data`](ustack_wire::checksum::data) of the
    /// payload) and says whether the segment's checksum holds; only then is the segment
    /// handled as `handle_segment_ecn` handles it, the payload taken from where it was
    /// placed. Returns `Some(verified)`, or `None` when the segment is not such a segment
    /// (nothing done: the host verifies it and calls `handle_segment_ecn`).
    ///
    /// A segment that fails `verify` changes nothing (RFC 9293 §3.1, SPEC S16: it is
    /// dropped): the bytes it left past the readable end are never committed, as any bytes
    /// there are committed only once written again by a segment taken.
    pub fn handle_segment_summed(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
        ecn: Ecn,
        verify: impl FnOnce(u16) -> bool,
    ) -> Option<bool> {
        if self.state != State::Established
            || seg.seq != self.rcv.nxt
            || seg.payload.is_empty()
            || !seg.flags.contains(TcpFlags::ACK)
            || seg.flags.intersects(TcpFlags::SYN | TcpFlags::RST | TcpFlags::FIN | TcpFlags::URG)
            || !self.rcv.asm.is_empty()
            || seg.payload.len() > self.rcv.adv_wnd() as usize
        {
            return None;
        }
        let sum = self.rcv.buf.write_at_summed(0, seg.payload)?;
        if !verify(sum) {
            return Some(false);
        }
        self.rcv.staged = true;
        self.handle_segment_ecn(now, seg, ecn);
        self.rcv.staged = false;
        Some(true)
    }

    /// In-order or out-of-order data at `seq` (>= RCV.NXT). Returns whether all of it was
    /// taken (else a FIN after it is not).
    pub(in crate::conn) fn receive_data(
        &mut self,
        now: Instant,
        seq: SeqNum,
        payload: &[u8],
    ) -> bool {
        let offset = seq_len(self.rcv.nxt, seq);
        // Trim to the window we advertised and to what the buffer holds (RFC 9293: "Segments
        // with higher beginning sequence numbers [...] the segment text beyond the window is
        // trimmed").
        let room = self.rcv.adv_wnd().min(self.rcv.buf.free() as u32);
        if offset >= room {
            self.drop_segment(DropReason::BufferFull);
            self.ack_now = true;
            return false;
        }
        let take = (payload.len() as u32).min(room - offset);
        if (take as usize) < payload.len() {
            self.drop_segment(DropReason::BufferFull);
        }
        let data = &payload[..take as usize];
        self.rcv.seg_mss =
            self.rcv.seg_mss.max(payload.len().min(usize::from(self.rcv.mss)) as u16);
        if !self.rcv.got_data {
            // Quick-ACK mode at the start (Linux `tcp_incr_quickack`): ACK every segment at
            // once, so the sender's slow start is not held back by delayed ACKs.
            self.rcv.got_data = true;
            self.rcv.last_data_at = now;
            self.enter_quickack();
        } else if offset == 0 {
            self.note_data_gap(now);
        }
        // RFC 3168 §6.1.3: a CE mark is echoed (Linux `tcp_event_data_recv` and
        // `tcp_data_queue_ofo` check it for in-order and out-of-order data alike).
        self.ecn_check_ce(self.in_ecn);
        if offset == 0 {
            let had_holes = self.rcv.asm.range_count() > 0;
            // A payload `handle_segment_summed` placed is there already, all of it (this
            // is the segment it placed: at RCV.NXT, cut by nothing).
            let stored = if core::mem::take(&mut self.rcv.staged) {
                data.len() as u32
            } else {
                self.rcv.buf.write_at(0, data) as u32
            };
            // In-order data never needs a range slot, so this cannot fail.
            let _ = self.rcv.asm.add(0, stored);
            let ready = self.rcv.asm.pop_front();
            self.rcv.buf.commit(ready as usize);
            self.rcv.nxt += ready;
            self.stats.bytes_received += u64::from(ready);
            self.rcv.sack_trigger = None;
            self.rcv_space_adjust(now);
            if ready > 0 {
                self.signal_readable();
            }
            if had_holes {
                // RFC 5681 §4.2: "an immediate ACK SHOULD be generated when [...] a segment
                // [...] fills in all or part of a gap in the sequence space."
                self.ack_now = true;
            } else {
                self.schedule_ack(now);
            }
            if self.rcv.fin == Some(self.rcv.nxt) {
                self.on_fin(now);
            }
        } else {
            let stored = self.rcv.buf.write_at(offset as usize, data) as u32;
            match self.rcv.asm.add(offset, stored) {
                Err(_) => {
                    // Above every hole, with the out-of-order store at its memory bound.
                    self.drop_segment(DropReason::ReassemblyFull);
                    self.ack_now = true;
                    return false;
                }
                Ok(outcome) if outcome.is_duplicate() && stored > 0 => {
                    // RFC 2883 §4 (2): "the first SACK block ... should specify the
                    // contiguous block of data containing the segment which triggered this
                    // ACK" comes after the D-SACK block for the duplicate.
                    self.note_duplicate(seq, seq + stored);
                }
                Ok(_) => {}
            }
            self.rcv.sack_trigger = Some((offset, stored));
            // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK when an
            // out-of-order segment arrives."
            self.ack_now = true;
        }
        take as usize == payload.len()
    }

    /// A duplicate of `[left, right)` arrived: the next ACK says so with a D-SACK block
    /// (RFC 2883; Linux `tcp_dsack_set`) and goes at once.
    pub(in crate::conn) fn note_duplicate(&mut self, left: SeqNum, right: SeqNum) {
        if self.opts.sack && self.cfg.dsack && (right - left) > 0 {
            self.rcv.dsack = Some((left, right));
        }
        self.ack_now = true;
    }

    /// In-order data arrived: ACK now or arm the delayed-ACK timer. RFC 9293 §3.8.6.3: "an
    /// ACK SHOULD be generated for at least every second full-sized segment, and MUST be
    /// generated within 0.5 seconds of the arrival of the first unacknowledged packet".
    pub(in crate::conn) fn schedule_ack(&mut self, now: Instant) {
        // Linux `tcp_in_quickack_mode`: quick ACKs, unless the connection is interactive
        // (its ACKs ride on the replies).
        if self.rcv.quickacks > 0 && self.rcv.pingpong == 0 {
            self.quick_ack_only = !self.ack_now;
            self.ack_now = true;
            return;
        }
        let unacked = seq_len(self.rcv.last_ack_sent, self.rcv.nxt);
        if unacked > u32::from(self.rcv.seg_mss) {
            self.ack_now = true;
            return;
        }
        if !self.timers.is_armed(TimerKind::DelayedAck) {
            self.timers.set(TimerKind::DelayedAck, now + self.delayed_ack_timeout());
        }
    }
}
