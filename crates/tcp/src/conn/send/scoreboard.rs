//! The retransmission queue with its SACK scoreboard (RFC 6675 §2–4, RFC 2018): one entry per
//! segment sent and not yet cumulatively acknowledged, in sequence order, each marked in
//! flight, SACKed or lost, with the time of its latest transmission (RACK, RFC 8985, needs it).
//!
//! The bytes themselves stay in the send buffer; an entry only says where a segment starts,
//! how long it is (in sequence space: its data plus one for a FIN) and what became of it.
//! The byte counts by mark are kept as the marks change, so RFC 6675's `pipe` (bytes in
//! flight: neither SACKed nor lost, retransmissions included) is O(1):
//!
//! ```text
//!   in_flight + sacked + lost == SND.MAX − SND.UNA   (over the entries)
//! ```
//!
//! Entries are split where a SACK block or a smaller segment size cuts one; they are never
//! merged. The queue's storage grows to the largest flight and is then reused: no allocation
//! per segment in the steady state.

use std::collections::VecDeque;

use ustack_wire::SeqNum;

use crate::Instant;

/// What became of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(in crate::conn) enum Mark {
    /// Sent (or sent again) and not known to have arrived or to be lost.
    InFlight,
    /// The peer SACKed it (RFC 2018): it arrived, out of order.
    Sacked,
    /// Deemed lost (three SACKs above it, RACK, NewReno, a timeout) and not sent again since.
    Lost,
}

impl Mark {
    const fn index(self) -> usize {
        self as usize
    }
}

/// One segment in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::conn) struct Segment {
    /// Its first sequence number.
    pub(in crate::conn) start: SeqNum,
    /// Sequence space it covers: payload bytes, plus one if it carries the FIN.
    pub(in crate::conn) len: u32,
    /// Whether it carries our FIN (the last sequence number of the segment).
    pub(in crate::conn) fin: bool,
    /// When it was last transmitted.
    pub(in crate::conn) sent_at: Instant,
    /// The order of its last transmission among all transmissions: RACK's "sent after"
    /// (RFC 8985 §6.2) must not depend on clock resolution, and in virtual time many
    /// segments leave at the same instant.
    pub(in crate::conn) order: u64,
    /// Whether it was ever transmitted more than once (Karn; RACK's ambiguity check).
    pub(in crate::conn) retransmitted: bool,
    pub(in crate::conn) mark: Mark,
}

impl Segment {
    /// One past its last sequence number.
    pub(in crate::conn) fn end(&self) -> SeqNum {
        self.start + self.len
    }

    /// Its payload bytes (without the FIN).
    pub(in crate::conn) fn data_len(&self) -> u32 {
        self.len - u32::from(self.fin)
    }
}

/// What a cumulative ACK or a SACK block newly delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::conn) struct Delivered {
    /// Sequence space newly known to have arrived (not counting what was SACKed before).
    pub(in crate::conn) bytes: u32,
    /// Segments newly known to have arrived.
    pub(in crate::conn) segments: u32,
    /// Of those, the one transmitted last (RACK.xmit_ts, RACK.end_seq): its latest
    /// transmission time and order, and whether it was ever retransmitted.
    pub(in crate::conn) latest: Option<(Instant, u64, bool)>,
    /// The transmission time of the segment taken last, in the order Linux takes them
    /// (SACK blocks in sequence order, then the cumulative ACK), and whether it was ever
    /// retransmitted; and the last one taken that never was. RACK.rtt comes from it:
    /// Linux's `tcp_rack_advance` sets `rack.rtt_us` for every segment it takes, so the last
    /// one's RTT stays, which need not be the most recently sent one's.
    pub(in crate::conn) last: Option<(Instant, bool)>,
    pub(in crate::conn) last_original: Option<Instant>,
    /// Whether any of them was ever retransmitted.
    pub(in crate::conn) retransmitted: bool,
    /// The lowest end of a newly delivered segment that was never retransmitted, if it lies
    /// below the highest end delivered before (RFC 8985 §6.2 step 2: reordering).
    pub(in crate::conn) reordered: bool,
    /// The lowest start of such a segment (Linux's `reord`, which
    /// `tcp_check_sack_reordering` measures the reordering degree from).
    pub(in crate::conn) reord: Option<SeqNum>,
}

impl Delivered {
    fn note_reordered(&mut self, seg: &Segment) {
        self.reordered = true;
        if self.reord.is_none_or(|r| seg.start < r) {
            self.reord = Some(seg.start);
        }
    }

    fn note(&mut self, seg: &Segment) {
        self.bytes += seg.len;
        self.segments += 1;
        self.retransmitted |= seg.retransmitted;
        self.last = Some((seg.sent_at, seg.retransmitted));
        if !seg.retransmitted {
            self.last_original = Some(seg.sent_at);
        }
        if self.latest.is_none_or(|(_, order, _)| seg.order > order) {
            self.latest = Some((seg.sent_at, seg.order, seg.retransmitted));
        }
    }
}

/// The queue. See the [module docs](self).
///
/// The entries and their counts by mark live in a box allocated by the first segment sent
/// and freed with the rest of an idle connection's storage
/// ([`release_storage`](Self::release_storage), `idle.rs`): a connection with nothing in
/// flight holds 24 bytes here (88 with the queue inline).
#[derive(Debug, Default)]
pub(in crate::conn) struct Scoreboard {
    /// `None`: nothing outstanding and no storage.
    q: Option<Box<Queue>>,
    /// Transmissions so far (the next `order`).
    transmissions: u64,
    /// One past the highest sequence number known delivered, by a SACK or the cumulative ACK
    /// (RFC 8985's RACK.fack; Linux `snd_una + fackets`).
    fack: Option<SeqNum>,
}

/// The entries and their counts.
#[derive(Debug, Default)]
struct Queue {
    segs: VecDeque<Segment>,
    /// Sequence space by mark (`Mark::index`).
    bytes: [u32; 3],
    /// Entries by mark.
    count: [u32; 3],
    /// Retransmitted segments still in flight (a RACK scan cannot stop early while any is).
    retransmitted_in_flight: u32,
}

/// The queue of a scoreboard without storage: nothing outstanding.
static EMPTY: Queue =
    Queue { segs: VecDeque::new(), bytes: [0; 3], count: [0; 3], retransmitted_in_flight: 0 };

impl Queue {
    /// Changes entry `i`'s mark.
    fn set_mark(&mut self, i: usize, mark: Mark) {
        let seg = self.segs[i];
        if seg.mark == mark {
            return;
        }
        if seg.retransmitted && seg.mark == Mark::InFlight {
            self.retransmitted_in_flight -= 1;
        }
        if seg.retransmitted && mark == Mark::InFlight {
            self.retransmitted_in_flight += 1;
        }
        self.unmark(seg.mark, seg.len);
        self.add(mark, seg.len);
        self.segs[i].mark = mark;
    }

    fn add(&mut self, mark: Mark, len: u32) {
        self.bytes[mark.index()] += len;
        self.count[mark.index()] += 1;
    }

    fn unmark(&mut self, mark: Mark, len: u32) {
        self.bytes[mark.index()] -= len;
        self.count[mark.index()] -= 1;
    }

    /// See [`Scoreboard::split`].
    fn split(&mut self, i: usize, at: u32) {
        let seg = self.segs[i];
        debug_assert!(at > 0 && at < seg.len);
        let tail = Segment { start: seg.start + at, len: seg.len - at, ..seg };
        self.segs[i].len = at;
        self.segs[i].fin = false;
        self.count[seg.mark.index()] += 1;
        if seg.retransmitted && seg.mark == Mark::InFlight {
            self.retransmitted_in_flight += 1;
        }
        self.segs.insert(i + 1, tail);
    }
}

impl Scoreboard {
    /// The most segments whose room a finished connection's queue hands on to a new one
    /// ([`Scoreboard::take_spare`]); a queue grown larger is freed.
    const SPARE_MAX: usize = 16;

    /// The entries and counts (empty ones when there is no storage).
    fn q(&self) -> &Queue {
        self.q.as_deref().unwrap_or(&EMPTY)
    }

    /// The entries and counts, allocated when there is no storage.
    fn q_mut(&mut self) -> &mut Queue {
        self.q.get_or_insert_with(Box::default)
    }

    /// An empty scoreboard holding this one's queue storage when it is small, for a new
    /// connection to start with ([`Scoreboard::use_spare`]); this one is left empty.
    pub(in crate::conn) fn take_spare(&mut self) -> Scoreboard {
        let mut q = self.q.take();
        if let Some(queue) = q.as_deref_mut() {
            if queue.segs.capacity() > Self::SPARE_MAX {
                queue.segs = VecDeque::new();
            }
            queue.segs.clear();
            queue.bytes = [0; 3];
            queue.count = [0; 3];
            queue.retransmitted_in_flight = 0;
        }
        Scoreboard { q, ..Scoreboard::default() }
    }

    /// Takes the queue storage of `spare` ([`Scoreboard::take_spare`]) when this scoreboard
    /// has allocated none yet.
    pub(in crate::conn) fn use_spare(&mut self, spare: Scoreboard) {
        if self.q.is_none() {
            self.q = spare.q;
        }
    }

    /// Bytes in flight: sent, neither SACKed nor lost (RFC 6675 `pipe`, Linux
    /// `tcp_packets_in_flight` in bytes).
    pub(in crate::conn) fn pipe(&self) -> u32 {
        self.q().bytes[Mark::InFlight.index()]
    }

    /// Segments in flight (Linux's `tcp_packets_in_flight`).
    pub(in crate::conn) fn pipe_segments(&self) -> u32 {
        self.q().count[Mark::InFlight.index()]
    }

    /// Segments SACKed above SND.UNA.
    pub(in crate::conn) fn sacked_segments(&self) -> u32 {
        self.q().count[Mark::Sacked.index()]
    }

    /// Bytes marked lost and not sent again.
    pub(in crate::conn) fn lost(&self) -> u32 {
        self.q().bytes[Mark::Lost.index()]
    }

    /// Segments marked lost and not sent again.
    pub(in crate::conn) fn lost_segments(&self) -> u32 {
        self.q().count[Mark::Lost.index()]
    }

    /// Whether nothing is outstanding.
    pub(in crate::conn) fn is_empty(&self) -> bool {
        self.q().segs.is_empty()
    }

    pub(in crate::conn) fn len(&self) -> usize {
        self.q().segs.len()
    }

    /// Frees the queue's storage when nothing is outstanding (an idle connection,
    /// `idle.rs`); the next segment sent allocates again.
    pub(in crate::conn) fn release_storage(&mut self) {
        if self.is_empty() {
            self.q = None;
        }
    }

    /// Frees the storage of the entries when nothing is outstanding, and keeps the (empty)
    /// box of the counts: for a connection that will send no more data (TIME-WAIT), whose
    /// box a new connection takes over ([`take_spare`](Self::take_spare)) rather than
    /// allocate one.
    pub(in crate::conn) fn release_entries(&mut self) {
        if let Some(q) = self.q.as_deref_mut()
            && q.segs.is_empty()
        {
            q.segs = VecDeque::new();
        }
    }

    /// Bytes allocated for the queue.
    pub(in crate::conn) fn storage_bytes(&self) -> usize {
        self.q.as_deref().map_or(0, |q| {
            core::mem::size_of::<Queue>() + q.segs.capacity() * core::mem::size_of::<Segment>()
        })
    }

    pub(in crate::conn) fn get(&self, i: usize) -> Option<&Segment> {
        self.q().segs.get(i)
    }

    /// The entries, oldest first.
    #[cfg(test)]
    pub(in crate::conn) fn iter(&self) -> impl Iterator<Item = &Segment> + '_ {
        self.q().segs.iter()
    }

    /// Whether any retransmitted segment is in flight.
    pub(in crate::conn) fn retransmissions_in_flight(&self) -> bool {
        self.q().retransmitted_in_flight > 0
    }

    /// A new segment went out at `start` (the end of the last entry, or SND.UNA when empty).
    pub(in crate::conn) fn push(&mut self, start: SeqNum, len: u32, fin: bool, now: Instant) {
        let order = self.transmissions;
        self.transmissions += 1;
        let q = self.q_mut();
        debug_assert!(q.segs.back().is_none_or(|s| s.end() == start), "a gap in the queue");
        q.segs.push_back(Segment {
            start,
            len,
            fin,
            sent_at: now,
            order,
            retransmitted: false,
            mark: Mark::InFlight,
        });
        q.add(Mark::InFlight, len);
    }

    /// Entry `i` was sent again at `now`, its first `len` bytes of sequence space (the rest,
    /// if any, becomes an entry of its own that keeps its mark).
    pub(in crate::conn) fn retransmitted(&mut self, i: usize, len: u32, now: Instant) {
        let order = self.transmissions;
        self.transmissions += 1;
        let q = self.q_mut();
        if len < q.segs[i].len {
            q.split(i, len);
        }
        let seg = &mut q.segs[i];
        let was = seg.mark;
        seg.sent_at = now;
        seg.order = order;
        if !seg.retransmitted || was != Mark::InFlight {
            q.retransmitted_in_flight += 1;
        }
        let seg = &mut q.segs[i];
        seg.retransmitted = true;
        seg.mark = Mark::InFlight;
        let len = seg.len;
        q.unmark(was, len);
        q.add(Mark::InFlight, len);
    }

    /// Changes entry `i`'s mark.
    pub(in crate::conn) fn set_mark(&mut self, i: usize, mark: Mark) {
        self.q_mut().set_mark(i, mark);
    }

    /// Splits entry `i` after `at` bytes of sequence space (0 < at < len); both parts keep
    /// the mark and the transmission time, the FIN goes with the second.
    pub(in crate::conn) fn split(&mut self, i: usize, at: u32) {
        self.q_mut().split(i, at);
    }

    /// The cumulative ACK moved SND.UNA from `una` to `ack`: entries below it leave the queue
    /// (one cut in two leaves its first part). Returns what was newly delivered.
    pub(in crate::conn) fn ack(&mut self, una: SeqNum, ack: SeqNum) -> Delivered {
        let mut d = Delivered::default();
        let fack = self.fack.unwrap_or(una);
        if let Some(q) = self.q.as_deref_mut() {
            while let Some(front) = q.segs.front() {
                let covered = (ack - front.start).max(0) as u32;
                if covered == 0 {
                    break;
                }
                if covered < front.len {
                    q.split(0, covered);
                }
                let seg = q.segs.pop_front().expect("the front entry");
                if seg.mark != Mark::Sacked {
                    d.note(&seg);
                    if !seg.retransmitted && seg.end() < fack {
                        d.note_reordered(&seg);
                    }
                }
                if seg.retransmitted && seg.mark == Mark::InFlight {
                    q.retransmitted_in_flight -= 1;
                }
                q.unmark(seg.mark, seg.len);
            }
        }
        if self.fack.is_none_or(|f| f < ack) {
            self.fack = Some(ack);
        }
        if self.is_empty() {
            self.fack = None;
        }
        d
    }

    /// A SACK block `[left, right)` (RFC 2018 §3) arrived: the entries inside it are SACKed.
    /// As Linux (`tcp_match_skb_to_sack`), a segment counts only whole: one the block covers
    /// only in part is not SACKed (a SACK of its last byte says nothing about the rest), and
    /// an entry longer than `mss` is cut only at a multiple of `mss` from its start, so that
    /// the SACKed part is whole segments (rounded down at the block's right edge, up at its
    /// left edge). Blocks that name nothing in the queue change nothing. Returns what was
    /// newly delivered.
    pub(in crate::conn) fn sack(&mut self, left: SeqNum, right: SeqNum, mss: u32) -> Delivered {
        let mut d = Delivered::default();
        let Some(q) = self.q.as_deref_mut() else { return d };
        let Some(first) = q.segs.front().map(|s| s.start) else { return d };
        let fack = self.fack.unwrap_or(first);
        // The highest end of a segment this block delivered, for RACK.fack.
        let mut delivered_end: Option<SeqNum> = None;
        // Sequence numbers compared relative to the first entry (all within 2^31 of it).
        let rel = |s: SeqNum| (s - first) as i64;
        let (l, r) = (rel(left), rel(right));
        let mut i = q.segs.partition_point(|s| rel(s.end()) <= l);
        while i < q.segs.len() {
            let seg = q.segs[i];
            let (s, e) = (rel(seg.start), rel(seg.end()));
            if s >= r {
                break;
            }
            if s < l {
                // The block starts inside the entry: cut where the whole segments after `l`
                // begin, if that leaves any.
                let at = ((l - s) as u32).div_ceil(mss.max(1)) * mss.max(1);
                if seg.data_len() > mss && at < seg.len {
                    q.split(i, at);
                }
                i += 1;
                continue;
            }
            if e > r {
                // The block ends inside the entry: SACK the whole segments before `r`.
                let at = (r - s) as u32 / mss.max(1) * mss.max(1);
                if seg.data_len() > mss && at > 0 {
                    q.split(i, at);
                    continue;
                }
                break;
            }
            if seg.mark != Mark::Sacked {
                d.note(&seg);
                if !seg.retransmitted && seg.end() < fack {
                    d.note_reordered(&seg);
                }
                if delivered_end.is_none_or(|e| e < seg.end()) {
                    delivered_end = Some(seg.end());
                }
                q.set_mark(i, Mark::Sacked);
            }
            i += 1;
        }
        if let Some(end) = delivered_end
            && self.fack.is_none_or(|f| f < end)
        {
            self.fack = Some(end);
        }
        d
    }

    /// Whether any entry overlapping `[left, right)` was ever retransmitted (what makes a
    /// D-SACK inside the flight prove a retransmission spurious, Linux `tcp_sacktag_one`'s
    /// `TCPCB_RETRANS` test).
    pub(in crate::conn) fn any_retransmitted(&self, left: SeqNum, right: SeqNum) -> bool {
        let segs = &self.q().segs;
        let Some(first) = segs.front().map(|s| s.start) else { return false };
        let rel = |s: SeqNum| (s - first) as i64;
        let (l, r) = (rel(left), rel(right));
        let i = segs.partition_point(|s| rel(s.end()) <= l);
        segs.iter().skip(i).take_while(|s| rel(s.start) < r).any(|s| s.retransmitted)
    }

    /// One past the highest sequence number known delivered (RACK.fack), if anything above
    /// SND.UNA was SACKed.
    pub(in crate::conn) fn fack(&self) -> Option<SeqNum> {
        self.fack
    }

    /// The index of the first lost entry, if any.
    pub(in crate::conn) fn first_lost(&self) -> Option<usize> {
        if self.lost() == 0 {
            return None;
        }
        self.q().segs.iter().position(|s| s.mark == Mark::Lost)
    }

    /// Marks every entry not SACKed as lost (a retransmission timeout, RFC 6675 §5.1).
    pub(in crate::conn) fn mark_all_lost(&mut self) {
        let Some(q) = self.q.as_deref_mut() else { return };
        for i in 0..q.segs.len() {
            if q.segs[i].mark == Mark::InFlight {
                q.set_mark(i, Mark::Lost);
            }
        }
    }

    /// Forgets every SACK (the peer reneged, RFC 2018 §8): SACKed entries count as in flight
    /// again.
    pub(in crate::conn) fn clear_sacks(&mut self) {
        if let Some(q) = self.q.as_deref_mut() {
            for i in 0..q.segs.len() {
                if q.segs[i].mark == Mark::Sacked {
                    q.set_mark(i, Mark::InFlight);
                }
            }
        }
        self.fack = None;
    }

    /// RFC 6675 §4 `IsLost(SeqNum)` for entry `i`: "DupThresh discontiguous SACKed sequences
    /// ... or more than (DupThresh - 1) * SMSS bytes with sequence numbers greater than
    /// SeqNum have been SACKed". `sacked_above` is what the caller counted above it;
    /// DupThresh is the connection's reordering degree, as Linux (`tcp_time_to_recover`
    /// compares with `tp->reordering`), 3 unless reordering was seen.
    pub(in crate::conn) fn is_lost_by_sacks(
        sacked_segments_above: u32,
        sacked_bytes_above: u32,
        smss: u32,
        dup_thresh: u32,
    ) -> bool {
        sacked_segments_above >= dup_thresh
            || sacked_bytes_above > (dup_thresh - 1).saturating_mul(smss)
    }

    /// Marks lost, as RFC 6675 `IsLost` decides, every entry in flight that was never
    /// retransmitted below the highest SACKed one; returns whether any was.
    pub(in crate::conn) fn mark_lost_by_sacks(&mut self, smss: u32, dup_thresh: u32) -> bool {
        let dup_thresh = dup_thresh.max(1);
        let mut any = false;
        let Some(q) = self.q.as_deref_mut() else { return false };
        let (mut segs_above, mut bytes_above) = (0u32, 0u32);
        for i in (0..q.segs.len()).rev() {
            let seg = q.segs[i];
            match seg.mark {
                Mark::Sacked => {
                    segs_above += 1;
                    bytes_above = bytes_above.saturating_add(seg.len);
                }
                Mark::InFlight
                    if !seg.retransmitted
                        && Scoreboard::is_lost_by_sacks(
                            segs_above,
                            bytes_above,
                            smss,
                            dup_thresh,
                        ) =>
                {
                    q.set_mark(i, Mark::Lost);
                    any = true;
                }
                _ => {}
            }
        }
        any
    }

    /// Checks the byte counts against the entries (tests).
    #[cfg(test)]
    pub(in crate::conn) fn check(&self) {
        let q = self.q();
        for m in [Mark::InFlight, Mark::Sacked, Mark::Lost] {
            let of = || q.segs.iter().filter(move |s| s.mark == m);
            assert_eq!(q.bytes[m.index()], of().map(|s| s.len).sum::<u32>(), "{m:?}");
            assert_eq!(q.count[m.index()], of().count() as u32, "{m:?}");
        }
        let rif =
            q.segs.iter().filter(|s| s.retransmitted && s.mark == Mark::InFlight).count() as u32;
        assert_eq!(q.retransmitted_in_flight, rif);
        for w in q.segs.iter().zip(q.segs.iter().skip(1)) {
            assert_eq!(w.0.end(), w.1.start, "entries must be contiguous");
        }
    }
}

#[cfg(test)]
mod tests;
