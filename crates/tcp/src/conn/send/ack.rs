//! ACKs arriving for what we sent (RFC 9293 §3.10.7.4 "fifth, check the ACK field"): SND.UNA
//! and the send window, RTT samples, duplicate ACKs, and the congestion controller's view.

use core::time::Duration;

use crate::time::Nanos;

use ustack_wire::{SeqNum, TcpFlags, TcpRepr};

use super::super::{Conn, Event, State, seq_len};
use super::ChronoKind;
use super::recovery::AckInfo;
use super::scoreboard::Delivered;
use crate::{Instant, TimerKind};

impl Conn {
    /// The ACK of an acceptable segment: SACK blocks, SND.UNA, RTT, loss detection and
    /// recovery (`recovery.rs`), the send window, and the state changes an ACK of our FIN
    /// causes. Returns false when the connection closed.
    pub(in crate::conn) fn process_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        let ack = seg.ack;
        let old_una = self.snd.una;
        let window = u32::from(seg.window) << self.snd.wscale;
        let mut info = AckInfo::default();
        // Any acknowledgment answers the window probes (Linux `tcp_ack` clears
        // `icsk_probes_out` for every ACK it takes).
        if let Some(l) = self.snd.loss_held() {
            l.probes_out = 0;
            l.probes_since = None;
        }
        if self.snd.syn_acked || ack > self.snd.una {
            self.take_sack_blocks(seg, &mut info);
        }
        if ack > self.snd.una {
            // Linux counts the SYN among the segments delivered.
            self.stats.delivered += u64::from(!self.snd.syn_acked);
            self.on_new_ack(now, seg, &mut info);
        } else if ack == self.snd.una
            && self.snd.una < self.snd.max
            && seg.payload.is_empty()
            && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
            && window == self.snd.wnd
        {
            // RFC 5681 §2, DUPLICATE ACKNOWLEDGMENT: outstanding data, no data, no SYN or
            // FIN, the same acknowledgment number and the same window. On a SACK connection
            // only one that brings SACK information counts: a bare one says nothing an
            // off-path attacker's data segments could not make the peer say.
            if !self.opts.sack || info.sack_info {
                info.dupack = true;
                self.snd.loss_mut().dupacks += 1;
            }
        }
        self.stats.delivered += u64::from(info.delivered.segments);
        if let Some(low) = info.delivered.reord {
            self.check_sack_reordering(low);
        }
        // RFC 3168 §6.1.2: the ACK echoes a CE mark the network put on our data.
        info.ece = self.ecn_echoed(seg);
        if info.ece {
            self.stats.rare_mut().delivered_ce += u64::from(info.delivered.segments);
        }
        if self.snd.syn_acked
            && (info.una_advanced
                || info.dupack
                || info.sack_info
                || info.dsack.is_some()
                || info.ece)
        {
            self.after_ack(now, seg, &info);
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
                if let Some(l) = self.snd.loss_held() {
                    l.persist_backoff = 0;
                }
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

    /// The SACK blocks of an ACK (RFC 2018 §3): those naming data in flight mark it on the
    /// scoreboard. The first block is a D-SACK (RFC 2883 §4) when it lies below the
    /// cumulative ACK or inside the second block; blocks outside SND.UNA..SND.MAX are
    /// ignored (RFC 6675 §5: only "valid" SACK blocks count).
    fn take_sack_blocks(&mut self, seg: &TcpRepr<'_>, info: &mut AckInfo) {
        if !self.opts.sack || seg.options.sack_blocks.is_empty() {
            return;
        }
        let blocks = seg.options.sack_blocks.as_slice();
        let (una, max) = (self.snd.una, self.snd.max);
        let first = blocks[0];
        let dsack = (first.right - seg.ack) <= 0
            || blocks
                .get(1)
                .is_some_and(|b| (first.left - b.left) >= 0 && (b.right - first.right) >= 0);
        if dsack && self.dsack_credible(first.left, first.right) {
            info.dsack = Some((first.left, first.right));
            self.stats.rare_mut().dsacks_received += 1;
            // A D-SACK proves a retransmission spurious only if it names data that was
            // retransmitted (RFC 3708 §3): inside the flight the scoreboard knows (Linux
            // `tcp_sacktag_one`), below SND.UNA the episode's record of what it sent again.
            let retransmitted = if (first.left - una) >= 0 {
                self.snd.sb.any_retransmitted(first.left, first.right)
            } else {
                self.snd
                    .undo
                    .as_ref()
                    .is_some_and(|u| u.sent_again.overlaps(first.left, first.right))
            };
            if retransmitted {
                self.note_dsack(first.right);
            }
        }
        // In sequence order, as Linux (`tcp_sacktag_write_queue` sorts them): the segment
        // taken last gives RACK its RTT.
        let mut order = [0usize, 1, 2, 3];
        let order = &mut order[..blocks.len().min(4)];
        order.sort_by_key(|&k| blocks[k].left - una);
        for &k in order.iter() {
            let b = &blocks[k];
            if k == 0 && dsack {
                continue;
            }
            let valid = (b.right - b.left) > 0 && (b.left - una) >= 0 && (max - b.right) >= 0;
            if !valid {
                continue;
            }
            info.sack_info = true;
            let mss = u32::from(self.effective_mss());
            let d = self.snd.sb.sack(b.left, b.right, mss);
            merge(&mut info.delivered, &d);
        }
    }

    /// Segments from `low` on were delivered after segments above them (they were never
    /// retransmitted and lie below the highest SACK): reordering. As Linux's
    /// `tcp_check_sack_reordering`, the reordering degree rises to the distance in segments
    /// from `low` to the highest sequence number known delivered, if that is more, up to
    /// `max_reordering`.
    fn check_sack_reordering(&mut self, low: SeqNum) {
        let fack = self.snd.sb.fack().unwrap_or(self.snd.una);
        let metric = fack - low;
        if metric <= 0 {
            return;
        }
        let mss = u32::from(self.effective_mss());
        let metric = metric as u32;
        if metric > self.snd.reordering.saturating_mul(mss) {
            self.snd.reordering = metric.div_ceil(mss).min(self.cfg.max_reordering.max(1));
        }
        let l = self.snd.loss_mut();
        l.reord_seen = l.reord_seen.saturating_add(1);
    }

    /// Whether a D-SACK for `[left, right)` can be believed. Anyone who guesses the 4-tuple
    /// can make the peer send D-SACKs: a spoofed segment below its RCV.NXT is reported as a
    /// duplicate (RFC 2883 §4), and taken as true each would prove a retransmission spurious
    /// and undo the reduction of a real loss. RFC 2883 §5 leaves the checking to the sender;
    /// like Linux (`tcp_is_sackblock_valid`, `tcp_dsack_seen`) a D-SACK counts only if it
    /// names data in flight, or data below SND.UNA sent since the last reduction began
    /// (the undo marker), spans no more than the peer's largest window, and the segments
    /// reported duplicate so far do not outnumber the retransmissions sent.
    fn dsack_credible(&mut self, left: SeqNum, right: SeqNum) -> bool {
        let (una, max) = (self.snd.una, self.snd.max);
        let len = right - left;
        if len <= 0 || (right - max) > 0 || len as u32 > self.snd.max_wnd.max(1) {
            return false;
        }
        let in_flight = (left - una) >= 0;
        if !in_flight {
            let Some(marker) = self.snd.undo.as_ref().map(|u| u.marker) else { return false };
            // All below SND.UNA, and not all below the marker (one straddling it is bounded
            // by the length check, as Linux bounds it).
            if (right - una) > 0 || (right - marker) <= 0 {
                return false;
            }
        }
        let mss = u64::from(self.snd.mss.max(1));
        self.snd.loss_mut().dsack_dups += (len as u64).div_ceil(mss);
        self.snd.loss().dsack_dups <= self.stats.retransmits()
    }

    /// SND.UNA < SEG.ACK =< SND.MAX: new data acknowledged. The bookkeeping of the
    /// cumulative ACK; recovery and the window are `after_ack`'s.
    fn on_new_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, info: &mut AckInfo) {
        let ack = seg.ack;
        let acked = seq_len(self.snd.una, ack);
        let syn = u32::from(!self.snd.syn_acked);
        self.snd.syn_acked = true;
        let fin = u32::from(self.snd.fin.is_some_and(|f| ack == f + 1u32));
        let data_acked = acked.saturating_sub(syn + fin);
        self.snd.buf.consume(data_acked as usize);
        let d = self.snd.sb.ack(self.snd.una, ack);
        merge(&mut info.delivered, &d);
        // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK."
        self.snd.una = ack;
        if self.snd.nxt < ack {
            self.snd.nxt = ack;
        }
        // Linux `tcp_clean_rtx_queue`: everything sent is acknowledged.
        if self.snd.sb.is_empty() {
            let idle = self.snd.nxt == self.snd.data_end();
            self.snd.chrono.stop(now, ChronoKind::Busy, idle);
            if self.snd.buf.is_empty() {
                self.arm_release(now);
            }
        }
        self.stats.bytes_acked += u64::from(data_acked);
        let sample = self.take_rtt_sample(now, seg);
        if syn == 1 && sample.is_none() && self.snd.syn_retransmitted {
            // RFC 6298 (5.7): the SYN-ACK timed out and no sample came: RTO 3 s.
            self.rtt.apply_syn_fallback();
        }
        info.una_advanced = true;
        info.data_acked = data_acked;
        info.sample = sample;
        // Linux `tcp_remove_reno_sacks`: without SACK, duplicate ACKs stood for segments
        // the peer held; a cumulative ACK takes them back, all but one per hole.
        if !self.opts.sack {
            let acked_segments = d.segments.max(1);
            let l = self.snd.loss_mut();
            l.dupacks = l.dupacks.saturating_sub(acked_segments - 1);
        }
        // `recover` and `snd_sml` are only ever compared with SND.UNA, and such a comparison
        // holds only within 2^31: a mark left behind reads as *ahead* after 2 GiB more. Keep
        // both in [SND.UNA, SND.MAX]; a mark SND.UNA has passed means the same as one at it.
        info.beyond_recover = self.snd.recover < ack;
        if self.snd.recover < ack {
            self.snd.recover = ack;
        }
        if self.snd.sml < ack {
            self.snd.sml = ack;
        }
        self.expand_send_buffer();
        // Whether the flight this ACK ends used the window, before the next one starts.
        info.app_limited = !self.was_cwnd_limited();
        if ack >= self.snd.pipe_mark {
            self.snd.pipe_mark = self.snd.max;
            self.snd.max_pipe = self.snd.pipe();
        }
        if let Some(l) = self.snd.loss_held() {
            l.rto_retries = 0;
            l.retrans_stamp = None;
        }
        if self.send_blocked && self.snd.buf.free() > 0 && self.snd.fin.is_none() {
            self.send_blocked = false;
            self.push_event(Event::Writable);
            // Linux `tcp_check_space`: the application may write again.
            let idle = self.snd.sb.is_empty() && self.snd.nxt == self.snd.data_end();
            self.snd.chrono.stop(now, ChronoKind::SndbufLimited, idle);
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
            let stale =
                self.snd.loss().rto_tsval.is_some_and(|t| (ts.tsecr.wrapping_sub(t) as i32) < 0);
            if stale {
                self.rtt.reset_backoff();
            } else if ts.tsecr != 0 && ms < 1 << 31 {
                sample = Some(Duration::from_millis(u64::from(ms)));
            }
        }
        if let Some((end, sent)) = self.snd.timed()
            && seg.ack >= end
        {
            self.snd.set_timed(None);
            sample = sample.or(Some(now - sent));
        }
        if let Some(rtt) = sample {
            self.rtt.on_sample(rtt);
            self.snd.min_rtt = Some(Nanos::new(self.snd.min_rtt.map_or(rtt, |m| m.get().min(rtt))));
            if self.tracing {
                let srtt = self.rtt.srtt().unwrap_or(rtt);
                self.trace(Event::Rtt { sample: rtt, srtt, rto: self.rtt.rto() });
            }
        }
        sample
    }
}

/// Adds `d` to `into` (an ACK's SACK blocks and its cumulative part).
fn merge(into: &mut Delivered, d: &Delivered) {
    into.bytes += d.bytes;
    into.segments += d.segments;
    into.retransmitted |= d.retransmitted;
    into.reordered |= d.reordered;
    if let Some(r) = d.reord
        && into.reord.is_none_or(|low| r < low)
    {
        into.reord = Some(r);
    }
    if d.last.is_some() {
        into.last = d.last;
    }
    if d.last_original.is_some() {
        into.last_original = d.last_original;
    }
    if let Some((t, order, r)) = d.latest
        && into.latest.is_none_or(|(_, o, _)| order > o)
    {
        into.latest = Some((t, order, r));
    }
}
