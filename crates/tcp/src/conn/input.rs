//! Segment arrival: RFC 9293 §3.10.7, state by state, with RFC 5961 (blind attacks),
//! RFC 7323 (timestamps, PAWS), RFC 5681 and RFC 6582 (duplicate ACKs and recovery).
//!
//! `handle_segment` dispatches on the state: CLOSED (§3.10.7.1), SYN-SENT (§3.10.7.3),
//! TIME-WAIT (§3.10.7.4 with RFC 1337), and every other state through the eight checks of
//! §3.10.7.4 in order: sequence number, RST, (security), SYN, ACK, (URG), text, FIN.
//! Nothing here panics, whatever the segment.

use core::time::Duration;

use ustack_wire::{TcpFlags, TcpRepr};

use super::{Conn, ConnError, DropReason, Event, Rst, State, reset_for, seq_len};
use crate::{Ecn, Instant, TimerKind};

/// RFC 7323 §5.5: TS.Recent is invalid after 24 days of idleness.
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 3600);

impl Conn {
    /// A segment for this connection's 4-tuple arrived (checksum already verified by the
    /// host) in an IP packet without ECN marks (Not-ECT). Call the outputs afterwards.
    pub fn handle_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        self.handle_segment_ecn(now, seg, Ecn::NotEct);
    }

    /// [`handle_segment`](Self::handle_segment) for a segment whose IP header carried the ECN
    /// codepoint `ecn` (RFC 3168 §5): a host that runs ECN hands every segment in this way.
    pub fn handle_segment_ecn(&mut self, now: Instant, seg: &TcpRepr<'_>, ecn: Ecn) {
        self.in_ecn = ecn;
        self.stats.segments_in += 1;
        self.quick_ack_only = false;
        match self.state {
            State::Closed { .. } => self.on_closed(seg),
            State::SynSent => self.on_syn_sent(now, seg),
            State::TimeWait => self.on_time_wait(now, seg),
            _ => self.on_synchronized(now, seg),
        }
    }

    /// RFC 9293 §3.10.7.1, CLOSED: "An incoming segment containing a RST is discarded. An
    /// incoming segment not containing a RST causes a RST to be sent in response."
    fn on_closed(&mut self, seg: &TcpRepr<'_>) {
        if let Some(rst) = reset_for(seg) {
            let ack = rst.flags.contains(TcpFlags::ACK).then_some(rst.ack);
            self.pending_rst = Some(Rst { seq: rst.seq, ack, active: false });
        }
    }

    /// RFC 9293 §3.10.7.3, SYN-SENT.
    fn on_syn_sent(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let flags = seg.flags;
        let has_ack = flags.contains(TcpFlags::ACK);
        if has_ack {
            // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set,
            // if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the
            // segment. Return."
            if seg.ack <= self.snd.iss || seg.ack > self.snd.max {
                if !flags.contains(TcpFlags::RST) {
                    self.pending_rst = Some(Rst { seq: seg.ack, ack: None, active: false });
                }
                self.drop_segment(DropReason::BadAck);
                return;
            }
            // Linux `tcp_rcv_synsent_state_process` (PAWSActiveRejected): a SYN-ACK whose
            // timestamp echo is not one of our SYNs' (between the first SYN's TSval and now)
            // answers some other SYN; it is reset like an unacceptable ACK.
            if let (Some(first), Some(ts)) = (self.first_syn_tsval, seg.options.timestamps)
                && !flags.contains(TcpFlags::RST)
                && ts.tsecr != 0
                && ts.tsecr.wrapping_sub(first) > self.ts_now(now).wrapping_sub(first)
            {
                self.pending_rst = Some(Rst { seq: seg.ack, ack: None, active: false });
                self.drop_segment(DropReason::Paws);
                return;
            }
        }
        if flags.contains(TcpFlags::RST) {
            // "If the ACK was acceptable, then signal to the user "error: connection reset",
            // drop the segment, enter CLOSED state, delete TCB, and return. Otherwise (no
            // ACK), drop the segment and return."
            if has_ack {
                self.close_with(Some(ConnError::Refused));
            } else {
                self.drop_segment(DropReason::BadRst);
            }
            return;
        }
        if !flags.contains(TcpFlags::SYN) {
            // "If neither of the SYN or RST bits is set, then drop the segment and return."
            self.drop_segment(DropReason::Unexpected);
            return;
        }
        // "If the SYN bit is on [...] RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ.
        // SND.UNA should be advanced to equal SEG.ACK (if there is an ACK)".
        self.take_peer_syn(now, seg);
        self.ecn_on_peer_syn(seg);
        if has_ack {
            self.snd.una = seg.ack;
            self.snd.wl2 = seg.ack;
            self.snd.syn_acked = true;
            self.stats.delivered += 1;
            // The SYN's retransmission timer may have pulled SND.NXT back to the ISS, with
            // the SYN not yet sent again: it is acknowledged now (found by fuzzing: the FIN
            // went out at the ISS).
            if self.snd.nxt < seg.ack {
                self.snd.nxt = seg.ack;
            }
            // RFC 7413 §4.2.2: what of the SYN's data the server took (`fastopen.rs`).
            self.on_fast_open_synack(seg);
        }
        if self.snd.syn_acked {
            // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to
            // ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send
            // it."
            self.rcv.adv_right = self.rcv.nxt + u32::from(self.syn_window);
            let sample = self.take_rtt_sample(now, seg);
            if sample.is_none() && self.snd.syn_retransmitted {
                self.rtt.apply_syn_fallback();
            }
            self.timers.stop(TimerKind::Retransmit);
            self.establish(now);
            self.ack_now = true;
            // Data in the SYN-ACK: "If there are other controls or text in the segment,
            // continue processing at the sixth step under "Check the URG bit"". Linux takes it
            // only on a Fast Open connection whose SYN data was all acknowledged
            // (`tcp_rcv_fastopen_synack` → `tcp_fastopen_add_skb`); otherwise it is not
            // acknowledged and the peer sends it again.
            if self.fast_open_attempted()
                && (self.fo().syn_data == 0 || self.fo().syn_data_acked)
                && (!seg.payload.is_empty() || flags.contains(TcpFlags::FIN))
            {
                let mut fin = flags.contains(TcpFlags::FIN);
                if !seg.payload.is_empty() && !self.receive_data(now, self.rcv.nxt, seg.payload) {
                    fin = false;
                }
                if fin {
                    self.on_fin(now);
                }
            }
        } else {
            // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
            // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it." (simultaneous open, SPEC S1)
            self.set_state(State::SynReceived { passive: false });
            self.snd.rewind_to_syn();
            self.syn_fresh = true;
        }
    }

    /// The handshake completed (RFC 9293: "enter ESTABLISHED state"). A connection the
    /// application shut down in SYN-RECEIVED is in FIN-WAIT-1 already and stays there
    /// (RFC 9293 §3.10.4); it is set up all the same, and an orphaned one is not announced.
    fn establish(&mut self, now: Instant) {
        self.timers.stop(TimerKind::Establish);
        if self.cfg.keepalive {
            self.timers.set(TimerKind::Keepalive, now + self.cfg.keepalive_time);
        }
        if matches!(self.state, State::SynSent | State::SynReceived { .. }) {
            self.set_state(State::Established);
        }
        self.cc.on_mss_change(u32::from(self.effective_mss()));
        self.note_cc();
        self.snd.recover = self.snd.una;
        self.snd.pipe_mark = self.snd.una;
        self.init_rcv_space();
        // A Fast Open child was reported connected when it took the SYN's data.
        if !self.orphan && !self.fo().passive {
            self.push_event(Event::Connected);
        }
    }

    /// TIME-WAIT (RFC 9293 §3.10.7.4 with RFC 1337).
    fn on_time_wait(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let flags = seg.flags;
        if flags.contains(TcpFlags::RST) {
            // RFC 1337 §3: "Ignore RST segments in TIME-WAIT state" (SPEC S12). Without it,
            // RFC 9293's second check: "If the RST bit is set, then enter the CLOSED state"
            // (for an exact sequence number, RFC 5961 §3.2).
            if !self.cfg.rfc1337 && seg.seq == self.rcv.nxt {
                self.close_with(None);
            } else {
                self.drop_segment(DropReason::BadRst);
            }
            return;
        }
        if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
            // A new SYN for this 4-tuple: whether it may reopen the connection (RFC 6191) is
            // the host's call; the connection itself answers it as an old duplicate.
            self.drop_segment(DropReason::UnexpectedSyn);
            self.oow_ack(now, seg);
            return;
        }
        // RFC 9293 §3.10.7.4, fifth check: "TIME-WAIT STATE: The only thing that can arrive
        // in this state is a retransmission of the remote FIN. Acknowledge it, and restart
        // the 2 MSL timeout." Like Linux (`tcp_timewait_state_process`), any segment with
        // ACK restarts it, and a bare ACK at RCV.NXT is not answered.
        if flags.contains(TcpFlags::ACK) || flags.contains(TcpFlags::FIN) {
            self.timers.set(TimerKind::TimeWait, now + self.cfg.time_wait_len());
        }
        let bare_ack =
            seg.payload.is_empty() && !flags.contains(TcpFlags::FIN) && seg.seq == self.rcv.nxt;
        if !bare_ack {
            self.oow_ack(now, seg);
        }
    }

    /// SYN-RECEIVED and the synchronized states: RFC 9293 §3.10.7.4.
    fn on_synchronized(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let flags = seg.flags;
        let rst = flags.contains(TcpFlags::RST);
        let syn = flags.contains(TcpFlags::SYN);

        // The handshake is open while our SYN is unacknowledged: SYN-RECEIVED, or FIN-WAIT-1
        // entered from it by a CLOSE (RFC 9293 §3.10.4).
        let handshake_open = !self.snd.syn_acked;
        if handshake_open && syn && !rst && seg.seq == self.rcv.irs {
            if !flags.contains(TcpFlags::ACK) {
                // The peer repeated its SYN: our SYN-ACK was lost. Like Linux
                // (`tcp_check_req`, "Check for pure retransmitted SYN"), send the SYN-ACK
                // again now and restart its timer (SPEC S5).
                if !self.ack_rate_limited(now) {
                    self.snd.rewind_to_syn();
                    self.timers.set(TimerKind::Retransmit, now + self.rtt.rto());
                }
                return;
            }
            if seg.payload.is_empty()
                && !flags.contains(TcpFlags::FIN)
                && self.snd.iss < seg.ack
                && seg.ack <= self.snd.max
            {
                // Simultaneous open (RFC 9293 Figure 8, line 6): the peer's SYN-ACK
                // repeats the SYN we took and acknowledges ours. Linux passes it on as
                // the ACK it is (`tcp_validate_incoming`); so do we.
                let mut ack_only = *seg;
                ack_only.seq = seg.seq + 1u32;
                ack_only.flags.remove(TcpFlags::SYN);
                let max_wnd = self.snd.max_wnd;
                self.on_synchronized(now, &ack_only);
                if self.snd.syn_acked {
                    // RFC 7323 §2.2: the window of a <SYN,ACK> is not scaled.
                    self.snd.wnd = u32::from(seg.window);
                    self.snd.max_wnd = max_wnd.max(self.snd.wnd);
                }
                return;
            }
        }

        // RFC 7323 §5.3 R1 (PAWS): "If there is a Timestamps option in the arriving segment,
        // SEG.TSval < TS.Recent, TS.Recent is valid (see later discussion), and if the RST bit
        // is not set, then treat the arriving segment as not acceptable: Send an
        // acknowledgment in reply as specified in [RFC793] page 69 and drop the segment."
        if self.opts.timestamps
            && !rst
            && let Some(ts) = seg.options.timestamps
            && self.paws_reject(now, ts.tsval)
        {
            self.drop_segment(DropReason::Paws);
            self.oow_ack(now, seg);
            return;
        }

        // First, check the sequence number.
        if !self.acceptable(seg) {
            // "If an incoming segment is not acceptable, an acknowledgment should be sent in
            // reply (unless the RST bit is set, if so drop the segment and return)".
            if !rst {
                self.take_ts_of_repeated_segment(now, seg);
                self.oow_ack(now, seg);
                // Data we already have: a duplicate, reported as such (RFC 2883 §4 (1)).
                let end = seg.seq + seg.payload.len();
                if !seg.payload.is_empty() && (end - self.rcv.nxt) <= 0 {
                    self.note_duplicate(seg.seq, end);
                }
            }
            self.drop_segment(DropReason::OutOfWindow);
            return;
        }
        // A sign of life for keepalive (RFC 9293 §3.8.4).
        self.last_recv = now;
        self.keepalive_probes_out = 0;
        // RFC 7323 §4.3 R3: "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then
        // record its timestamp in TS.Recent."
        if let Some(ts) = seg.options.timestamps.filter(|_| self.opts.timestamps)
            && ts.tsval.wrapping_sub(self.ts_recent) as i32 >= 0
            && seg.seq <= self.rcv.last_ack_sent
        {
            self.ts_recent = ts.tsval;
            self.ts_recent_at = now;
        }

        // Second, check the RST bit (RFC 9293 with RFC 5961 §3.2).
        if rst {
            if seg.seq != self.rcv.nxt {
                // "If the RST bit is set and the sequence number does not exactly match the
                // next expected sequence value, yet is within the current receive window, TCP
                // endpoints MUST send an acknowledgment (challenge ACK)".
                self.drop_segment(DropReason::BadRst);
                self.challenge_ack(now);
                return;
            }
            let error = match self.state {
                // "If this connection was initiated with an active OPEN (i.e., came from
                // SYN-SENT state), then the connection was refused". A passive one returns to
                // LISTEN: for us, the host drops it.
                State::SynReceived { passive: false } => Some(ConnError::Refused),
                State::SynReceived { passive: true } => Some(ConnError::Reset),
                // "ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT: [...] any outstanding
                // RECEIVEs and SEND should receive "reset" responses".
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    Some(ConnError::Reset)
                }
                // "CLOSING, LAST-ACK, TIME-WAIT: If the RST bit is set, then enter the CLOSED
                // state, delete the TCB, and return."
                _ => None,
            };
            self.close_with(error);
            return;
        }

        // Fourth, check the SYN bit.
        if syn {
            self.drop_segment(DropReason::UnexpectedSyn);
            if let State::SynReceived { passive: true } = self.state {
                // "If the connection was initiated with a passive OPEN, then return this
                // connection to the LISTEN state and return."
                self.close_with(Some(ConnError::Reset));
            } else {
                // RFC 5961 §4.2: "the receiver MUST send an ACK (challenge ACK) to the remote
                // peer".
                self.challenge_ack(now);
            }
            return;
        }

        // Fifth, check the ACK field.
        if !flags.contains(TcpFlags::ACK) {
            // "if the ACK bit is off, drop the segment and return"
            self.drop_segment(DropReason::NoAck);
            return;
        }
        if handshake_open {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
            // processing with the variables below set to: SND.WND <- SEG.WND, SND.WL1 <-
            // SEG.SEQ, SND.WL2 <- SEG.ACK. If the segment acknowledgment is not acceptable,
            // form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
            if !(self.snd.una < seg.ack && seg.ack <= self.snd.max) {
                self.pending_rst = Some(Rst { seq: seg.ack, ack: None, active: false });
                self.drop_segment(DropReason::BadAck);
                return;
            }
            if self.defers(seg) {
                // TCP_DEFER_ACCEPT (`defer.rs`): a bare ACK leaves the connection half-open.
                self.defer.acked = true;
                self.drop_segment(DropReason::DeferAccept);
                return;
            }
            self.snd.wnd = u32::from(seg.window) << self.snd.wscale;
            self.snd.max_wnd = self.snd.max_wnd.max(self.snd.wnd);
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = seg.ack;
            self.establish(now);
        }
        // RFC 9293: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an
        // ACK, drop the segment, and return."
        if seg.ack > self.snd.max {
            self.drop_segment(DropReason::BadAck);
            self.oow_ack(now, seg);
            return;
        }
        // RFC 5961 §5.2: "the ACK value is acceptable only if it is in the range of ((SND.UNA
        // - MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming segments whose ACK value
        // doesn't satisfy the above condition MUST be discarded and an ACK sent back." Linux
        // (`tcp_ack`) makes that ACK a challenge ACK.
        if seq_len(seg.ack, self.snd.una) > self.snd.max_wnd {
            self.drop_segment(DropReason::BadAck);
            self.challenge_ack(now);
            return;
        }
        if !self.process_ack(now, seg) {
            return;
        }

        // Sixth, the URG bit: urgent data is not supported; the pointer is ignored and the
        // bytes are delivered inline (RFC 6093 §5 advises new applications not to use it).

        // Seventh, process the segment text.
        let fin_seq = seg.seq + seg.payload.len();
        let mut fin = flags.contains(TcpFlags::FIN);
        if !seg.payload.is_empty() || fin {
            self.ecn_accept_cwr(seg);
        }
        let skip = seq_len(seg.seq, self.rcv.nxt) as usize;
        let payload = seg.payload.get(skip..).unwrap_or(&[]);
        if !payload.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.orphan {
                        // The application closed and will never read. RFC 1122 §4.2.2.13:
                        // data on a connection the application closed gets a RST. Linux
                        // (`tcp_rcv_state_process`, "TCPAbortOnData") resets the connection
                        // and answers the segment as §3.10.7.1 answers one for no connection:
                        // <SEQ=SEG.ACK><CTL=RST> (the segment carries an ACK here).
                        self.drop_segment(DropReason::DataNotExpected);
                        self.pending_rst = Some(Rst { seq: seg.ack, ack: None, active: false });
                        self.close_with(Some(ConnError::Aborted));
                        return;
                    }
                    if skip > 0 {
                        // Its start is a duplicate (RFC 2883 §4 (1)).
                        self.note_duplicate(seg.seq, self.rcv.nxt);
                    }
                    self.rcv_rtt_measure(now, seg);
                    let start = seg.seq.max(self.rcv.nxt);
                    if !self.receive_data(now, start, payload) {
                        fin = false;
                    }
                }
                // "CLOSE-WAIT STATE, CLOSING STATE, LAST-ACK STATE, TIME-WAIT STATE: This
                // should not occur since a FIN has been received from the remote side.
                // Ignore the segment text."
                _ => {
                    self.drop_segment(DropReason::DataNotExpected);
                    fin = false;
                }
            }
        }

        // Eighth, check the FIN bit.
        if fin {
            if fin_seq == self.rcv.nxt {
                self.on_fin(now);
            } else if fin_seq > self.rcv.nxt {
                // Ahead of a hole: processed when the data before it arrives.
                self.rcv.fin = Some(fin_seq);
            }
        }
    }

    /// A repeat of the segment our last ACK acknowledged (it ends exactly at Last.ACK.sent:
    /// our ACK was lost and the peer's RTO sent it again) updates TS.Recent although RFC 793's
    /// test rejects it, so the duplicate ACK echoes the retransmission's timestamp and the
    /// peer measures the RTT from it (RFC 7323 §4.3, case (C)'s intent). Otherwise the echo is
    /// of the first transmission, an RTT sample of a whole RTO, and the peer's RTO climbs to
    /// its cap. Linux accepts such a segment outright (`tcp_sequence`: end_seq >= rcv_wup)
    /// and updates TS.Recent (`tcp_replace_ts_recent`).
    fn take_ts_of_repeated_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let Some(ts) = seg.options.timestamps.filter(|_| self.opts.timestamps) else { return };
        let end = seg.seq + seg.segment_len();
        if seg.segment_len() > 0
            && end == self.rcv.last_ack_sent
            && ts.tsval.wrapping_sub(self.ts_recent) as i32 >= 0
        {
            self.ts_recent = ts.tsval;
            self.ts_recent_at = now;
        }
    }

    /// RFC 9293 §3.10.7.4, the four cases of the acceptability test (with "special allowance
    /// [...] to accept valid ACKs, URGs, and RSTs" when the window is zero).
    fn acceptable(&self, seg: &TcpRepr<'_>) -> bool {
        let len = seg.segment_len() as u32;
        let nxt = self.rcv.nxt;
        let wnd = self.rcv.adv_wnd();
        match (len, wnd) {
            (0, 0) => seg.seq == nxt,
            (0, _) => seg.seq.in_window(nxt, wnd),
            // Zero window: the segment's data is not taken, but its ACK, RST or FIN is looked
            // at if it starts at RCV.NXT.
            (_, 0) => seg.seq == nxt,
            (_, _) => seg.seq.in_window(nxt, wnd) || (seg.seq + (len - 1)).in_window(nxt, wnd),
        }
    }

    /// RFC 9293 §3.10.7.4, eighth check: "If the FIN bit is set, signal the user "connection
    /// closing" and return any pending RECEIVEs with same message, advance RCV.NXT over the
    /// FIN, and send an acknowledgment for the FIN."
    pub(in crate::conn) fn on_fin(&mut self, now: Instant) {
        self.rcv.nxt += 1u32;
        self.rcv.fin = None;
        self.rcv.eof = true;
        self.push_event(Event::PeerClosed);
        self.signal_readable();
        match self.state {
            // "SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the CLOSE-WAIT state." Linux
            // (`tcp_fin`) also makes the connection interactive: the application will likely
            // answer, and its reply or FIN carries the ACK. So the FIN's ACK is delayed like
            // any other (`tcp_ack_snd_check`), unless more than a segment is unacknowledged
            // or no data ever came (no delayed-ACK timeout yet: Linux's `ato` is 0 and its
            // delayed ACK leaves at once).
            State::SynReceived { .. } | State::Established => {
                self.rcv.pingpong = self.rcv.pingpong.max(1);
                if !self.rcv.got_data {
                    self.ack_now = true;
                } else {
                    if core::mem::take(&mut self.quick_ack_only) {
                        self.ack_now = false;
                    }
                    self.schedule_ack(now);
                }
                self.set_state(State::CloseWait);
            }
            // "FIN-WAIT-1 STATE: If our FIN has been ACKed (perhaps in this segment), then
            // enter TIME-WAIT, start the time-wait timer, turn off the other timers;
            // otherwise, enter the CLOSING state."
            State::FinWait1 => {
                self.ack_now = true;
                if self.snd.fin_acked() {
                    self.enter_time_wait(now);
                } else {
                    self.set_state(State::Closing);
                }
            }
            // "FIN-WAIT-2 STATE: Enter the TIME-WAIT state. Start the time-wait timer, turn
            // off the other timers."
            State::FinWait2 => {
                self.ack_now = true;
                self.enter_time_wait(now);
            }
            _ => self.ack_now = true,
        }
    }

    pub(in crate::conn) fn enter_time_wait(&mut self, now: Instant) {
        self.time_wait_at = now;
        self.set_state(State::TimeWait);
        self.timers.stop_all();
        self.timers.set(TimerKind::TimeWait, now + self.cfg.time_wait_len());
        // Nothing is sent or read any more but ACKs: the storage goes back now, unless the
        // application closed the connection: then the host reduces it to a `TimeWait` record
        // and hands its storage, empty, to the next connection (`ConnSpare`) instead of
        // freeing it for that one to allocate again.
        self.release_at = None;
        if !self.orphan {
            self.release_empty_storage();
        }
    }

    /// RFC 7323 §5.3 R1 with §5.5's rule that TS.Recent expires after 24 days idle.
    fn paws_reject(&self, now: Instant, tsval: u32) -> bool {
        if now - self.ts_recent_at > PAWS_IDLE_LIMIT {
            return false;
        }
        (tsval.wrapping_sub(self.ts_recent) as i32) < 0
    }

    /// Answers an unacceptable segment with an ACK, rate-limited as Linux does
    /// (`tcp_oow_rate_limited`): "Data packets without SYNs are not likely part of an ACK
    /// loop", so a duplicate data segment is always re-ACKed (SPEC S15).
    fn oow_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let data = !seg.payload.is_empty() && !seg.flags.contains(TcpFlags::SYN);
        if data || !self.ack_rate_limited(now) {
            self.ack_now = true;
        }
    }

    /// A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), throttled per RFC 5961 §7 by
    /// `invalid_ratelimit` here, and host-wide by `challenge_ack_limit` in the host, which may
    /// withdraw it ([`Conn::suppress_challenge_ack`]) before the next `poll_transmit`.
    fn challenge_ack(&mut self, now: Instant) {
        if !self.ack_rate_limited(now) {
            self.challenge_owed = true;
        }
    }

    /// Whether the last input asked for a challenge ACK (RFC 5961) that `poll_transmit` is
    /// about to send. The host counts these against its host-wide `challenge_ack_limit`.
    pub fn challenge_ack_pending(&self) -> bool {
        self.challenge_owed
    }

    /// Withdraws the pending challenge ACK: the host's per-second budget
    /// (`challenge_ack_limit`, Linux's `tcp_challenge_ack_limit`) is spent. Call it between
    /// the input and `poll_transmit`.
    pub fn suppress_challenge_ack(&mut self) {
        self.challenge_owed = false;
    }

    /// Whether an answer to an invalid segment must be skipped (`invalid_ratelimit`); if not,
    /// records that one is sent now.
    pub(super) fn ack_rate_limited(&mut self, now: Instant) -> bool {
        oow_rate_limited(&mut self.last_oow_ack, self.cfg.invalid_ratelimit, now)
    }
}

/// Linux `tcp_oow_rate_limited`: whether an answer sent at `now` would come within `limit`
/// of the last one, sent at `last` (then it is skipped); if not, `now` becomes the last. A
/// zero `limit` limits nothing. For connections and TIME-WAIT records alike.
pub(super) fn oow_rate_limited(
    last: &mut Option<Instant>,
    limit: core::time::Duration,
    now: Instant,
) -> bool {
    if !limit.is_zero()
        && let Some(at) = *last
        && now - at < limit
    {
        return true;
    }
    *last = Some(now);
    false
}
