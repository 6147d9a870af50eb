//! Choosing and building the segments a connection sends: `poll_transmit`.
//!
//! Priority, one segment per call:
//!
//! 1. a RST owed (an unacceptable ACK in SYN-SENT, `abort`, `close` with unread data);
//! 2. the SYN or SYN-ACK, while SND.NXT is at the ISS (first send, or after its timer expired);
//! 3. data and FIN: a fast retransmission first, then from SND.NXT within
//!    min(cwnd, peer window) (SPEC S14), cut at the MSS less the options, held back by
//!    Nagle's algorithm and sender SWS avoidance;
//! 4. a pure ACK (an ACK owed and no data to carry it), or a zero-window probe.
//!
//! Every segment but a RST and a SYN carries ACK, our receive window and, when negotiated,
//! timestamps and SACK blocks. With ECN in use, new data goes out ECT(0) and the ECN flags
//! follow `ecn.rs`.

use ustack_wire::{SackBlock, SackList, SeqNum, TcpFlags, TcpOptions, TcpRepr, Timestamps};

use super::send::{ChronoKind, Mark, Phase, RtxTimer};
use super::{Conn, Event, RetransmitReason, Rst, State, seq_len};
use crate::{Ecn, Instant, TimerKind};

/// What the data path decided to send.
#[derive(Debug, Clone, Copy)]
struct DataSegment {
    seq: SeqNum,
    len: u32,
    fin: bool,
    /// `Some` when the segment is sent again.
    reason: Option<RetransmitReason>,
    /// The scoreboard entry it sends again; `None` for new data (SND.NXT moves past it).
    rtx: Option<usize>,
    /// Whether it is a tail loss probe.
    probe: bool,
    /// New data that the windows end: no further segment fits after it now.
    burst_end: bool,
}

impl Conn {
    /// The next segment to send, or `None` when there is nothing to send now. Call it after
    /// every input until it returns `None`.
    ///
    /// The payload borrows the send buffer when its bytes are contiguous there, else it is
    /// copied into `scratch`; it is never longer than `scratch.len()` (pass at least the MSS).
    /// Headers and checksum are the caller's: emit the returned [`TcpRepr`] with the
    /// connection's addresses. The segment's ECN codepoint is dropped: a host that sends ECN
    /// calls [`poll_transmit_ecn`](Self::poll_transmit_ecn) instead.
    #[must_use]
    pub fn poll_transmit<'a>(
        &'a mut self,
        now: Instant,
        scratch: &'a mut [u8],
    ) -> Option<TcpRepr<'a>> {
        self.poll_transmit_ecn(now, scratch).map(|(seg, _)| seg)
    }

    /// [`poll_transmit`](Self::poll_transmit) with the ECN codepoint to put in the segment's
    /// IP header (RFC 3168 §6.1.2): ECT(0) on new data once ECN is negotiated, Not-ECT on
    /// everything else.
    #[must_use]
    pub fn poll_transmit_ecn<'a>(
        &'a mut self,
        now: Instant,
        scratch: &'a mut [u8],
    ) -> Option<(TcpRepr<'a>, Ecn)> {
        self.arm_release_after_read(now);
        self.poll_segment(now, scratch)
    }

    fn poll_segment<'a>(
        &'a mut self,
        now: Instant,
        scratch: &'a mut [u8],
    ) -> Option<(TcpRepr<'a>, Ecn)> {
        if let Some(rst) = self.pending_rst.take() {
            self.stats.segments_out += 1;
            return Some((self.rst_segment(now, rst), Ecn::NotEct));
        }
        if matches!(self.state, State::Closed { .. }) {
            return None;
        }
        if self.snd.syn_owed() {
            // Fast Open (`fastopen.rs`): the client's first SYN may carry data and a cookie
            // (or a cookie request); the server's first SYN-ACK may carry a cookie.
            let (data, cookie) = if self.state == State::SynSent {
                self.syn_fast_open()
            } else {
                (0, self.fo.as_mut().and_then(|f| f.synack_cookie.take()))
            };
            let mut seg = self.syn_segment(now, data);
            seg.options.fast_open = cookie;
            let n = data as usize;
            let (a, b) = self.snd.buf.peek(0, n);
            scratch[..a.len()].copy_from_slice(a);
            scratch[a.len()..n].copy_from_slice(b);
            // RFC 3168 §6.1.1: SYNs and SYN-ACKs are never ECT.
            return Some((TcpRepr { payload: &scratch[..n], ..seg }, Ecn::NotEct));
        }
        if let Some(d) = self.choose_data(now, scratch.len()) {
            return Some(self.data_segment(now, d, scratch));
        }
        if core::mem::take(&mut self.probe_now) {
            // Keepalive (RFC 9293 §3.8.4): "sending a segment with SEG.SEQ = SND.NXT-1", which
            // the peer must answer; Linux uses SND.UNA − 1, the same when nothing is in
            // flight.
            let seq = self.snd.una - 1u32;
            return Some((self.ack_segment(now, seq), Ecn::NotEct));
        }
        if core::mem::take(&mut self.force_send) {
            // RFC 9293 §3.8.6.1: "The sending TCP must regularly retransmit to the receiving
            // TCP even when the window is zero". Like Linux (`tcp_xmit_probe_skb`: "Use a
            // previous sequence. This should cause the other end to send an ack.") the probe
            // carries SND.UNA − 1 and no data, so it never counts as data in flight.
            let seq = self.snd.una - 1u32;
            self.stats.rare_mut().retransmits += 1;
            self.trace(Event::Retransmit { reason: RetransmitReason::Probe, seq, len: 0 });
            return Some((self.ack_segment(now, seq), Ecn::NotEct));
        }
        if self.ack_now || self.challenge_owed {
            let seq = self.snd.max;
            return Some((self.ack_segment(now, seq), Ecn::NotEct));
        }
        // Everything the last `send` made sendable has gone.
        self.push_burst = false;
        None
    }

    /// The data segment to send next, if any (RFC 9293 §3.7.4, §3.8.6.2.1, RFC 5681).
    fn choose_data(&mut self, now: Instant, scratch_len: usize) -> Option<DataSegment> {
        if core::mem::take(&mut self.snd.busy_pending) {
            self.snd.chrono.start(now, ChronoKind::Busy);
        }
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) && !self.fast_open_may_send()
        {
            return None;
        }
        // Nothing but the SYN-ACK while our SYN is unacknowledged, except a FIN: RFC 9293
        // §3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have been issued and there is no
        // pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1
        // state; otherwise, queue for processing after entering ESTABLISHED state."
        let bare_fin = self.state == State::FinWait1 && self.snd.buf.is_empty();
        if !self.snd.syn_acked && !bare_fin && !self.fast_open_may_send() {
            return None;
        }
        let options = self.segment_options(now);
        let max_payload = self.max_payload(&options).min(scratch_len as u32);
        let data_end = self.snd.data_end();

        if self.snd.loss_held().is_some_and(|l| core::mem::take(&mut l.tlp_pending))
            && let Some(d) = self.probe_segment(max_payload, data_end)
        {
            return Some(d);
        }

        // Lost segments go first, oldest first (RFC 6675 §4 NextSeg rule 1; Linux
        // `tcp_xmit_retransmit_queue`), as the congestion window allows.
        if let Some(i) = self.snd.sb.first_lost() {
            let seg = *self.snd.sb.get(i).expect("the lost entry");
            let data = seg.data_len();
            let len = data.min(max_payload);
            let fin = seg.fin && len == data;
            // RFC 7323 §2.4 and Linux `tcp_retransmit_skb`: nothing past the peer's window
            // goes again, except the first unacknowledged segment; a zero window gets the
            // persist timer's probes instead.
            let edge = self.snd.una + self.snd.wnd;
            let in_window = (seg.start - edge) < 0 || (i == 0 && self.snd.wnd > 0);
            if in_window && self.cwnd_allows(len + u32::from(fin), true) {
                let reason = if self.snd.phase == Phase::Loss {
                    RetransmitReason::Rto
                } else {
                    RetransmitReason::FastRetransmit
                };
                return Some(DataSegment {
                    seq: seg.start,
                    len,
                    fin,
                    reason: Some(reason),
                    rtx: Some(i),
                    probe: false,
                    burst_end: false,
                });
            }
            // New data never overtakes data known lost.
            return None;
        }

        let seq = self.snd.nxt;
        let unsent = seq_len(seq, data_end);
        let fin_pending = self.snd.fin.is_some_and(|f| seq <= f);
        if unsent == 0 && !fin_pending {
            let idle = self.snd.sb.is_empty();
            self.snd.chrono.stop(now, ChronoKind::RwndLimited, idle);
            return None;
        }
        let outstanding = !self.snd.sb.is_empty();
        let pipe = self.pipe_for_window();
        let wnd_avail = seq_len(seq, self.snd.una + self.snd.wnd);
        let mut cwnd_avail =
            if matches!(self.snd.phase, Phase::Recovery | Phase::Cwr) && self.cfg.prr {
                if self.cwnd_allows(max_payload, false) { u32::MAX } else { 0 }
            } else {
                self.usable_cwnd().saturating_sub(pipe)
            };
        if let Some(segments) = self.cfg.max_flight_segments {
            // SPEC S18: at most this many segments in flight (stop-and-wait with 1).
            let cap = segments.saturating_mul(u32::from(self.effective_mss()));
            cwnd_avail = cwnd_avail.min(cap.saturating_sub(self.snd.sb.pipe()));
        }
        // Linux `tcp_write_xmit`: the peer's window stopped the next segment (the congestion
        // window did not stop it first) starts window-limited time; anything else ends it.
        if unsent > 0 && cwnd_avail > 0 && wnd_avail < unsent.min(max_payload) {
            self.snd.chrono.start(now, ChronoKind::RwndLimited);
        } else {
            self.snd.chrono.stop(now, ChronoKind::RwndLimited, false);
        }
        let len = unsent.min(max_payload).min(wnd_avail).min(cwnd_avail);
        // The FIN rides on the segment that carries the last byte. Like Linux
        // (`tcp_cwnd_test`: "Don't be strict about the congestion window for the final
        // FIN"), a bare FIN goes out whatever the windows.
        let fin = fin_pending && len == unsent;
        let force = self.force_send;
        if len == 0 && !fin {
            if unsent > 0 && !outstanding {
                self.arm_persist(now);
            }
            return None;
        }
        if !fin && len < max_payload && !force {
            // Nagle, RFC 9293 §3.7.4: "If there is unacknowledged data (i.e., SND.NXT >
            // SND.UNA), then the sending TCP endpoint buffers all user data (regardless of
            // the PSH bit) until the outstanding data has been acknowledged or until the TCP
            // endpoint can send a full-sized segment (Eff.snd.MSS bytes)." As Linux
            // (`tcp_minshall_check`), only an unacknowledged *small* segment holds the next
            // one back (Minshall's variant): the tail of a large write goes out at once
            // instead of waiting a round trip (or a delayed ACK) behind full segments.
            let small_unacked = self.snd.sml > self.snd.una;
            let nagle_ok = self.cfg.nodelay || !outstanding || !small_unacked;
            // Sender SWS avoidance, RFC 9293 §3.8.6.2.1: send "(2) if data is pushed and all
            // queued data can be sent now" or "(3) if at least a fraction Fs of the maximum
            // window can be sent now", with Fs = 1/2.
            let sws_ok = len == unsent || len >= self.snd.max_wnd / 2;
            if !(nagle_ok && sws_ok) {
                if !outstanding {
                    // Nothing in flight, so no ACK will come: the persist timer is the
                    // override timeout of §3.8.6.2.1 (4).
                    self.arm_persist(now);
                }
                return None;
            }
        }
        self.force_send = false;
        // The windows stop the burst after this segment while data remains.
        let rest = unsent - len;
        let burst_end = rest > 0
            && wnd_avail.saturating_sub(len).min(cwnd_avail.saturating_sub(len))
                < rest.min(max_payload);
        Some(DataSegment { seq, len, fin, reason: None, rtx: None, probe: false, burst_end })
    }

    /// The tail loss probe (RFC 8985 §7.3, Linux `tcp_send_loss_probe`): a new segment if
    /// the peer's window takes one, else the last segment sent, again (cut to its last
    /// `max_payload` bytes). Outside the congestion window, as the RFC allows.
    fn probe_segment(&mut self, max_payload: u32, data_end: SeqNum) -> Option<DataSegment> {
        let seq = self.snd.nxt;
        let unsent = seq_len(seq, data_end);
        let wnd_avail = seq_len(seq, self.snd.una + self.snd.wnd);
        if unsent > 0 && wnd_avail > 0 {
            let len = unsent.min(max_payload).min(wnd_avail);
            let fin = self.snd.fin.is_some_and(|f| seq + len == f);
            return Some(DataSegment {
                seq,
                len,
                fin,
                reason: None,
                rtx: None,
                probe: true,
                burst_end: false,
            });
        }
        let mut i = self.snd.sb.len().checked_sub(1)?;
        let last = *self.snd.sb.get(i)?;
        if last.mark == Mark::Sacked {
            return None;
        }
        let data = last.data_len();
        if data > max_payload {
            self.snd.sb.split(i, data - max_payload);
            i += 1;
        }
        let seg = *self.snd.sb.get(i)?;
        Some(DataSegment {
            seq: seg.start,
            len: seg.data_len(),
            fin: seg.fin,
            reason: Some(RetransmitReason::TailLossProbe),
            rtx: Some(i),
            probe: true,
            burst_end: false,
        })
    }

    /// Builds a data segment (and does the sender's bookkeeping: SND.NXT, the timers, RTT
    /// timing, events). The payload is taken last, borrowing the send buffer or `scratch`.
    fn data_segment<'a>(
        &'a mut self,
        now: Instant,
        d: DataSegment,
        scratch: &'a mut [u8],
    ) -> (TcpRepr<'a>, Ecn) {
        let options = self.segment_options(now);
        let seg_len = d.len + u32::from(d.fin);
        let mut flags = TcpFlags::ACK;
        // PSH on the segment that empties the send buffer, and (Linux `tcp_push` after
        // `tcp_sendmsg`, checked with packetdrill on Linux 6.18) on the last segment the
        // windows let a `send` put out: the receiver gets what was written so far at once.
        if d.len > 0 && (d.seq + d.len == self.snd.data_end() || (self.push_burst && d.burst_end)) {
            flags |= TcpFlags::PSH;
        }
        if d.fin {
            flags |= TcpFlags::FIN;
        }
        // Linux `tcp_ecn_send`: "Not-retransmitted data segment: set ECT and inject CWR".
        let ecn = self.ecn_mark(d.rtx.is_none() && d.len > 0, &mut flags);
        match d.rtx {
            Some(i) => {
                let reason = d.reason.unwrap_or(RetransmitReason::Rto);
                self.stats.rare_mut().retransmits += 1;
                self.trace(Event::Retransmit { reason, seq: d.seq, len: seg_len });
                // Karn (RFC 6298 §3): "RTT samples MUST NOT be made using segments that
                // were retransmitted".
                self.snd.set_timed(None);
                self.snd.sb.retransmitted(i, seg_len, now);
                self.snd.max_pipe = self.snd.max_pipe.max(self.snd.pipe());
                self.note_retransmission(now, d.seq, seg_len);
            }
            None => {
                // RFC 5681 §4.1: restart from at most the initial window after an idle
                // period longer than the RTO.
                if self.snd.sb.is_empty() && now - self.snd.last_send > self.rtt.rto() {
                    self.cc.on_idle_restart(now);
                    self.note_cc();
                }
                if !self.opts.timestamps && self.snd.timed().is_none() && d.len > 0 {
                    self.snd.set_timed(Some((d.seq + seg_len, now)));
                }
                if d.len < self.max_payload(&options) {
                    self.snd.sml = d.seq + d.len;
                }
                if d.len > 0 {
                    self.note_data_sent(now);
                }
                self.snd.sb.push(d.seq, seg_len, d.fin, now);
                self.snd.nxt = d.seq + seg_len;
                if self.snd.max < self.snd.nxt {
                    self.snd.max = self.snd.nxt;
                }
                self.snd.max_pipe = self.snd.max_pipe.max(self.snd.pipe());
                // Linux `tcp_cwnd_validate`: everything queued is out, the window was not
                // what stopped it, and the application waits for room in the send buffer.
                if self.send_blocked
                    && self.snd.nxt == self.snd.data_end()
                    && self.snd.pipe() < self.cc.window()
                    && matches!(self.state, State::Established | State::CloseWait)
                {
                    self.snd.chrono.start(now, ChronoKind::SndbufLimited);
                }
            }
        }
        self.note_recovery_send();
        if d.probe {
            // RFC 8985 §7.3: the probe is out; the RTO (already armed) takes over.
            self.snd.loss_mut().tlp = Some((self.snd.nxt, d.rtx.is_some()));
        } else if seg_len > 0 {
            // RFC 6298 (5.1): "Every time a packet containing data is sent (including a
            // retransmission), if the timer is not running, start it running so that it will
            // expire after RTO seconds". New data moves a tail loss probe's deadline (Linux
            // `tcp_schedule_loss_probe` after every transmission).
            let probe_armed = self.snd.rtx_timer == RtxTimer::Probe;
            let rearmed = d.rtx.is_none()
                && (probe_armed || !self.timers.is_armed(TimerKind::Retransmit))
                && self.schedule_loss_probe(now);
            // Linux `tcp_xmit_retransmit_queue`: sending the first unacknowledged segment
            // again restarts the RTO (unless RACK's reordering timer holds the timer).
            let head_again = d.rtx == Some(0) && self.snd.rtx_timer != RtxTimer::Reorder;
            if head_again || (!rearmed && !self.timers.is_armed(TimerKind::Retransmit)) {
                self.arm_rto(now);
            }
        }
        if seg_len > 0 {
            self.timers.stop(TimerKind::Persist);
        }
        self.snd.last_send = now;
        let window = self.window_field();
        self.on_ack_sent();
        self.stats.segments_out += 1;
        let offset = seq_len(self.snd.data_start(), d.seq) as usize;
        let len = d.len as usize;
        let header = TcpRepr {
            src_port: self.tuple.local_port(),
            dst_port: self.tuple.remote_port(),
            seq: d.seq,
            ack: self.rcv.nxt,
            flags,
            window,
            urgent: 0,
            options,
            payload: &[],
        };
        let this: &'a Conn = self;
        let (a, b) = this.snd.buf.peek(offset, len);
        let payload: &'a [u8] = if b.is_empty() {
            a
        } else {
            let (first, rest) = scratch.split_at_mut(a.len());
            first.copy_from_slice(a);
            rest[..b.len()].copy_from_slice(b);
            &scratch[..a.len() + b.len()]
        };
        (TcpRepr { payload, ..header }, ecn)
    }

    /// The SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED, and its retransmissions); a Fast Open
    /// SYN covers `data` bytes of the send buffer besides (the caller adds the payload).
    fn syn_segment(&mut self, now: Instant, data: u32) -> TcpRepr<'static> {
        let synack = !matches!(self.state, State::SynSent);
        let fresh = core::mem::take(&mut self.syn_fresh);
        if self.snd.max != self.snd.iss && !fresh {
            self.stats.rare_mut().retransmits += 1;
            self.snd.syn_retransmitted = true;
            self.snd.set_timed(None);
            let reason = RetransmitReason::SynRetry;
            self.trace(Event::Retransmit { reason, seq: self.snd.iss, len: 1 });
        } else if fresh {
            // The SYN-ACK of a simultaneous open resends our SYN's sequence number: Karn.
            self.snd.set_timed(None);
        } else {
            // Timed even when timestamps are offered: the peer may not take them, and a
            // TSecr of 0 gives no sample (Linux ignores it too).
            self.snd.set_timed(Some((self.snd.iss + 1u32, now)));
        }
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        let window = self.rcv.buf.free().min(65_535) as u16;
        self.syn_window = window;
        let options = TcpOptions {
            mss: Some(self.rcv.mss),
            window_scale: self.opts.window_scaling.then_some(self.rcv.wscale),
            sack_permitted: self.opts.sack,
            timestamps: self.opts.timestamps.then(|| Timestamps {
                tsval: self.ts_now(now),
                tsecr: if synack { self.ts_recent } else { 0 },
            }),
            ..TcpOptions::default()
        };
        if !synack && self.first_syn_tsval.is_none() {
            self.first_syn_tsval = options.timestamps.map(|t| t.tsval);
        }
        let mut flags = TcpFlags::SYN;
        if !synack {
            let retransmission = self.snd.syn_retransmitted;
            flags |= self.ecn_syn_flags(retransmission);
        }
        let mut ack = SeqNum(0);
        if synack {
            flags |= TcpFlags::ACK | self.ecn_synack_flags();
            ack = self.rcv.nxt;
            let right = self.rcv.nxt + u32::from(window);
            if self.rcv.adv_right < right {
                self.rcv.adv_right = right;
            }
            self.on_ack_sent();
        }
        self.snd.nxt = self.snd.iss + 1u32 + data;
        if self.snd.max < self.snd.nxt {
            self.snd.max = self.snd.nxt;
        }
        if !self.timers.is_armed(TimerKind::Retransmit) {
            self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
        }
        self.snd.last_send = now;
        self.stats.segments_out += 1;
        TcpRepr {
            src_port: self.tuple.local_port(),
            dst_port: self.tuple.remote_port(),
            seq: self.snd.iss,
            ack,
            flags,
            window,
            urgent: 0,
            options,
            payload: &[],
        }
    }

    /// A segment with no data: an ACK, or a window probe. Never ECT; ECE while a CE mark
    /// waits for the peer's CWR (RFC 3168 §6.1.3).
    fn ack_segment(&mut self, now: Instant, seq: SeqNum) -> TcpRepr<'static> {
        let options = self.segment_options(now);
        let window = self.window_field();
        let mut flags = TcpFlags::ACK;
        let _ = self.ecn_mark(false, &mut flags);
        self.on_ack_sent();
        self.stats.segments_out += 1;
        TcpRepr {
            src_port: self.tuple.local_port(),
            dst_port: self.tuple.remote_port(),
            seq,
            ack: self.rcv.nxt,
            flags,
            window,
            urgent: 0,
            options,
            payload: &[],
        }
    }

    fn rst_segment(&self, now: Instant, rst: Rst) -> TcpRepr<'static> {
        let mut flags = TcpFlags::RST;
        if rst.ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        // RFC 7323 §3.2: TSopt "SHOULD be sent in an <RST> segment" of a connection that
        // negotiated it. Linux puts it on its own aborts; a RST answering a segment goes out
        // bare, as for a segment with no connection.
        let mut options = TcpOptions::default();
        if rst.active && self.opts.timestamps {
            options.timestamps =
                Some(Timestamps { tsval: self.ts_now(now), tsecr: self.ts_recent });
        }
        TcpRepr {
            src_port: self.tuple.local_port(),
            dst_port: self.tuple.remote_port(),
            seq: rst.seq,
            ack: rst.ack.unwrap_or(SeqNum(0)),
            flags,
            window: 0,
            urgent: 0,
            options,
            payload: &[],
        }
    }

    /// Timestamps (RFC 7323 §3.2: "MUST be sent in every non-<RST> segment" once
    /// negotiated) and SACK blocks while out-of-order data is held (RFC 2018 §4; three
    /// blocks beside timestamps, RFC 2018 §3).
    fn segment_options(&self, now: Instant) -> TcpOptions {
        let mut options = TcpOptions::default();
        if self.opts.timestamps {
            options.timestamps =
                Some(Timestamps { tsval: self.ts_now(now), tsecr: self.ts_recent });
        }
        if self.opts.sack && (self.rcv.asm.range_count() > 0 || self.rcv.dsack.is_some()) {
            let mut max = if self.opts.timestamps { 3 } else { 4 };
            let mut list = SackList::new();
            if let Some((left, right)) = self.rcv.dsack {
                // RFC 2883 §4: "If the duplicate segment ... the first SACK block should
                // specify the contiguous sequence space of the duplicate segment".
                let _ = list.push(SackBlock::new(left, right));
                max -= 1;
            }
            let blocks = self.rcv.asm.sack_blocks(self.rcv.nxt, self.rcv.sack_trigger, max);
            for b in blocks.as_slice() {
                let _ = list.push(*b);
            }
            options.sack_blocks = list;
        }
        options
    }

    /// Payload that fits beside `options` in one segment: RFC 9293 §3.7.1, Eff.snd.MSS is the
    /// MSS less the TCP options (RFC 6691).
    fn max_payload(&self, options: &TcpOptions) -> u32 {
        let opts = options.buffer_len() as u32;
        u32::from(self.snd.mss).saturating_sub(opts).max(1)
    }

    /// cwnd plus the fast-recovery inflation (cc/mod.rs: "The usable window is `window() +
    /// adjustment`, never below zero").
    pub(super) fn usable_cwnd(&self) -> u32 {
        let w = i64::from(self.cc.window()) + self.snd.loss().inflation;
        w.clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Starts the persist timer when the peer's window keeps data back and nothing in flight
    /// will bring an ACK (RFC 9293 §3.8.6.1). Backs off like the RTO.
    fn arm_persist(&mut self, now: Instant) {
        if self.timers.is_armed(TimerKind::Persist) || self.timers.is_armed(TimerKind::Retransmit) {
            return;
        }
        let base = self.rtt.base_rto();
        let backed = base.saturating_mul(1u32 << self.snd.loss().persist_backoff.min(16));
        self.timers.set(TimerKind::Persist, now + backed.min(self.rtt.rto_max()));
    }
}
