//! Which bytes past RCV.NXT have arrived: reassembly bookkeeping (SPEC S15) and the source of
//! the SACK blocks a receiver reports (RFC 2018).
//!
//! The [`Assembler`] holds no data, only offsets; the bytes themselves go into the receive
//! [`RingBuffer`](crate::RingBuffer) with `write_at` at the same offsets. Offsets are `u32`
//! counts of bytes past the in-order point (RCV.NXT), as in sequence space: the engine trims
//! every segment to the receive window (at most 2^30 bytes) before it gets here. A range
//! reaching past `u32::MAX` is cut there.
//!
//! The receive path, per segment already trimmed to the window:
//!
//! ```text
//! let off = seg.seq - rcv.nxt;                      // >= 0 after trimming
//! match assembler.add(off, len) {
//!     Err(TooManyRanges) => { /* drop the segment, count it, send a duplicate ACK */ }
//!     Ok(outcome) => {
//!         rx.write_at(off, payload);
//!         let ready = assembler.pop_front();         // in-order bytes now complete
//!         rx.commit(ready); rcv.nxt += ready;
//!         // ACK, with assembler.sack_blocks(rcv.nxt, trigger, max) when SACK is on
//!     }
//! }
//! ```
//!
//! The ranges and the SACK history live in a box allocated when the first out-of-order
//! segment arrives (an in-order stream never allocates) and reused after, until
//! [`Assembler::release_storage`] gives it back once nothing is held: an assembler with
//! nothing out of order is 16 bytes, as a connection that has been idle keeps one. No method
//! panics, whatever its arguments.

use core::fmt;
use core::ops::Range;

use ustack_wire::{SackBlock, SackList, SeqNum};

/// How many recently received segments the assembler remembers for SACK generation: one per
/// block an option can carry.
const RECENT: usize = SackList::CAPACITY;

/// A half-open range of offsets, `start < end`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The number of offsets in both `self` and `other`.
    fn overlap(self, other: Span) -> u32 {
        self.end.min(other.end).saturating_sub(self.start.max(other.start))
    }
}

/// The out-of-order ranges received past the in-order point, at most [`limit`](Self::limit)
/// of them.
///
/// # State and invariants
///
/// - `front`: the bytes `0..front` have all arrived and wait for [`pop_front`](Self::pop_front)
///   (in-order data never needs a range slot, so it is always accepted).
/// - Up to `limit` out-of-order ranges, sorted and non-empty, each with at least one missing
///   byte before it: touching or overlapping ranges are merged, and a range reaching `front`
///   is folded into it. `limit` ranges mean `limit` holes.
/// - A history of the last [`SackList::CAPACITY`] out-of-order segments added, most recent
///   first, at most one per range, for SACK generation (see [`sack_blocks`](Self::sack_blocks)).
///
/// # The bound
///
/// A segment that would open a `limit + 1`-th range below the highest one makes room as
/// Linux's `tcp_prune_ofo_queue` does under memory pressure: the highest range is forgotten
/// (its bytes will be sent again; [`AddOutcome::pruned`] says how many). One that would open
/// it above every range is refused with [`TooManyRanges`] and changes nothing; the caller
/// drops it and counts the drop. A segment that touches or overlaps an existing range, or
/// arrives in order, is always accepted (it cannot raise the count), so the connection
/// always progresses: the sender's retransmission of the first hole fills it. The receiver
/// sets the limit from its buffer size, so it bounds memory as Linux's receive buffer does.
#[derive(Clone)]
pub struct Assembler {
    front: u32,
    /// At most `u32::MAX` (a receive window holds fewer than 2^30 ranges).
    limit: u32,
    /// The out-of-order ranges and the SACK history: `None` while none is held and the
    /// storage has been released (or never needed).
    held: Option<Box<Held>>,
}

/// What an assembler holding out-of-order ranges keeps. Every history entry names a range
/// of `spans` (`forget_stale_history` drops the others), so the history is empty whenever
/// `spans` is.
#[derive(Clone, Default)]
struct Held {
    spans: Vec<Span>,
    recent: [Span; RECENT],
    recent_count: usize,
}

/// The ranges of an assembler whose storage was released: none.
const NO_SPANS: &[Span] = &[];

/// What [`Assembler::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOutcome {
    /// Bytes of the range not held before; zero for a complete duplicate (or an empty range).
    pub new_bytes: u32,
    /// Bytes of the highest range forgotten to make room (see the bound in [`Assembler`]).
    pub pruned: u32,
}

impl AddOutcome {
    /// Whether every byte had arrived before (SPEC S15: "duplicates are discarded (and
    /// re-ACKed)"); also true for an empty range.
    pub const fn is_duplicate(self) -> bool {
        self.new_bytes == 0
    }
}

/// [`Assembler::add`] refused a segment: it would open more out-of-order ranges than the
/// assembler holds. Nothing changed; drop the segment and count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

impl fmt::Display for TooManyRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("out-of-order segment refused: too many holes in the receive queue")
    }
}

impl core::error::Error for TooManyRanges {}

impl Assembler {
    /// The limit [`new`](Self::new) sets.
    pub const DEFAULT_LIMIT: usize = 64;

    /// An assembler with nothing received past the in-order point, holding at most
    /// [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) out-of-order ranges.
    pub const fn new() -> Self {
        Self::with_limit(Self::DEFAULT_LIMIT)
    }

    /// An assembler that holds at most `limit` out-of-order ranges.
    pub const fn with_limit(limit: usize) -> Self {
        Assembler { front: 0, limit: Self::narrow(limit), held: None }
    }

    /// `limit` as stored: at most `u32::MAX`, more than any window's worth of ranges.
    const fn narrow(limit: usize) -> u32 {
        if limit > u32::MAX as usize { u32::MAX } else { limit as u32 }
    }

    /// The most out-of-order ranges held at once.
    pub const fn limit(&self) -> usize {
        self.limit as usize
    }

    /// The out-of-order ranges, sorted.
    fn spans(&self) -> &[Span] {
        match &self.held {
            Some(held) => &held.spans,
            None => NO_SPANS,
        }
    }

    /// The storage of the ranges and the history, allocated on first use.
    fn held_mut(&mut self) -> &mut Held {
        self.held.get_or_insert_with(Box::default)
    }

    /// Changes the limit. Ranges already held above a lowered limit stay until delivered.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = Self::narrow(limit);
    }

    /// Records that the bytes `offset..offset + len` past the in-order point arrived, merging
    /// them with what is held, and says how many of them are new.
    ///
    /// An empty range changes nothing and reports zero new bytes. An out-of-order range
    /// (`offset` past [`front_len`](Self::front_len)), even a duplicate, becomes the most
    /// recent entry of the SACK history: the ACK it triggers must report its block first.
    pub fn add(&mut self, offset: u32, len: u32) -> Result<AddOutcome, TooManyRanges> {
        let seg = Span { start: offset, end: offset.saturating_add(len) };
        if seg.start >= seg.end {
            return Ok(AddOutcome { new_bytes: 0, pruned: 0 });
        }
        if seg.start <= self.front {
            return Ok(AddOutcome { new_bytes: self.extend_front(seg), pruned: 0 });
        }
        // Ranges `first..last` touch or overlap `seg`: they end at or after its start and
        // begin at or before its end. Both predicates hold on a prefix of the sorted ranges.
        let spans = self.spans();
        let first = spans.partition_point(|s| s.end < seg.start);
        let last = spans.partition_point(|s| s.start <= seg.end);
        if first == last && spans.len() >= self.limit() && (first == spans.len() || self.limit == 0)
        {
            return Err(TooManyRanges);
        }
        let limit = self.limit();
        let spans = &mut self.held_mut().spans;
        let mut pruned = 0;
        let new_bytes = if first == last {
            if spans.len() >= limit {
                let gone = spans.pop().expect("a range above");
                pruned = gone.end - gone.start;
            }
            spans.insert(first, seg);
            seg.end - seg.start
        } else {
            let covered: u32 = spans[first..last].iter().map(|s| s.overlap(seg)).sum();
            let merged = Span {
                start: seg.start.min(spans[first].start),
                end: seg.end.max(spans[last - 1].end),
            };
            spans[first] = merged;
            spans.drain(first + 1..last);
            seg.end - seg.start - covered
        };
        self.remember(seg);
        Ok(AddOutcome { new_bytes, pruned })
    }

    /// The number of bytes at offset 0 onwards that have all arrived: in-order data ready to
    /// be committed to the receive buffer.
    pub const fn front_len(&self) -> u32 {
        self.front
    }

    /// Takes the in-order bytes ready at the front and returns how many: the in-order point
    /// moves past them (RCV.NXT advances by the returned count) and every remaining offset
    /// drops by it.
    pub fn pop_front(&mut self) -> u32 {
        let n = self.front;
        self.advance(n);
        n
    }

    /// The in-order point moved by `n` bytes (e.g. in-order data handled without
    /// [`add`](Self::add)): the bytes `0..n` count as received and every offset drops by `n`.
    /// Ranges wholly below `n` are forgotten; a range that now starts at offset 0 joins the
    /// ready front.
    pub fn advance(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.front = self.front.saturating_sub(n);
        let Some(held) = self.held.as_deref_mut() else { return };
        let gone = held.spans.partition_point(|s| s.end <= n);
        held.spans.drain(..gone);
        for span in &mut held.spans {
            span.start = span.start.saturating_sub(n);
            span.end -= n;
        }
        for span in &mut held.recent[..held.recent_count] {
            span.start = span.start.saturating_sub(n);
            span.end = span.end.saturating_sub(n);
        }
        if held.spans.first().is_some_and(|s| s.start <= self.front) {
            let span = held.spans.remove(0);
            self.front = self.front.max(span.end);
        }
        self.forget_stale_history();
    }

    /// Whether nothing is held: no ready bytes, no out-of-order range.
    pub fn is_empty(&self) -> bool {
        self.front == 0 && self.spans().is_empty()
    }

    /// The number of out-of-order ranges held (each one a hole before it), at most
    /// [`limit`](Self::limit).
    pub fn range_count(&self) -> usize {
        self.spans().len()
    }

    /// Every range of received offsets in ascending order: the ready front `0..front_len`
    /// first when it is not empty, then the out-of-order ranges.
    pub fn ranges(&self) -> impl Iterator<Item = Range<u32>> + '_ {
        let front = (self.front > 0).then_some(0..self.front);
        front.into_iter().chain(self.spans().iter().map(|s| s.start..s.end))
    }

    /// Frees the storage of the out-of-order ranges and the SACK history when no range is
    /// held (an idle connection; the history names held ranges only, so it is empty too);
    /// the next out-of-order segment allocates again.
    pub fn release_storage(&mut self) {
        if self.spans().is_empty() {
            self.held = None;
        }
    }

    /// Bytes allocated for out-of-order ranges and the SACK history.
    pub fn storage_bytes(&self) -> usize {
        self.held.as_ref().map_or(0, |held| {
            core::mem::size_of::<Held>() + held.spans.capacity() * core::mem::size_of::<Span>()
        })
    }

    /// Forgets everything (e.g. when the connection is reset).
    pub fn clear(&mut self) {
        self.front = 0;
        if let Some(held) = self.held.as_deref_mut() {
            held.spans.clear();
            held.recent_count = 0;
        }
    }

    /// The SACK blocks to send with an ACK whose acknowledgment number is `rcv_nxt`, which
    /// must be the sequence number of offset 0 (call [`pop_front`](Self::pop_front) first).
    ///
    /// At most `max_blocks` blocks (and never more than [`SackList::CAPACITY`]; the caller
    /// passes 3 when the timestamps option shares the header, RFC 2018 §3), each a distinct
    /// out-of-order range, chosen in this order:
    ///
    /// 1. The range holding `most_recent` (offset and length of the segment that triggered
    ///    this ACK, when it was out of order): RFC 2018 §4, "The first SACK block ... MUST
    ///    specify the contiguous block of data containing the segment which triggered this
    ///    ACK, unless that segment advanced the Acknowledgment Number field in the header."
    ///    Pass `None` when it advanced RCV.NXT, or when the ACK has another cause.
    /// 2. The ranges holding the most recently added out-of-order segments, most recent
    ///    first: "The SACK option SHOULD be filled out by repeating the most recently
    ///    reported SACK blocks (based on first SACK blocks in previous SACK options) that are
    ///    not subsets of a SACK block already included in the SACK option being
    ///    constructed." Every out-of-order segment triggers an immediate ACK (RFC 5681 §4.2),
    ///    whose first block holds it, so the history of added segments is the history of
    ///    first blocks. As in Linux (`tcp_sack_new_ofo_skb`), a block that grows moves to the
    ///    front.
    /// 3. If room remains, the other ranges from the lowest offset up: "The data receiver
    ///    SHOULD include as many distinct SACK blocks as possible in the SACK option." The
    ///    lowest ones sit next to the sender's SND.UNA, where the retransmissions go.
    ///
    /// The ready front, if not yet popped, is not reported: it is not out of order.
    pub fn sack_blocks(
        &self,
        rcv_nxt: SeqNum,
        most_recent: Option<(u32, u32)>,
        max_blocks: usize,
    ) -> SackList {
        let max_blocks = max_blocks.min(SackList::CAPACITY);
        let mut chosen = [0usize; SackList::CAPACITY];
        let mut list = SackList::new();
        let mut choose = |index: usize, list: &mut SackList| {
            let n = list.len();
            if n < max_blocks && !chosen[..n].contains(&index) {
                let span = self.spans()[index];
                chosen[n] = index;
                let _ = list.push(SackBlock::new(rcv_nxt + span.start, rcv_nxt + span.end));
            }
        };
        if let Some(index) = most_recent.and_then(|(offset, _)| self.find(offset)) {
            choose(index, &mut list);
        }
        if let Some(held) = &self.held {
            for seg in &held.recent[..held.recent_count] {
                if let Some(index) = self.find(seg.start) {
                    choose(index, &mut list);
                }
            }
        }
        for index in 0..self.spans().len() {
            choose(index, &mut list);
        }
        list
    }

    /// `seg.start <= front`: grows the ready front over `seg` and over every range it now
    /// reaches; returns the bytes that were new.
    fn extend_front(&mut self, seg: Span) -> u32 {
        if seg.end <= self.front {
            return 0;
        }
        let fresh = Span { start: self.front, end: seg.end };
        let mut new_bytes = fresh.end - fresh.start;
        let mut front = seg.end;
        let mut absorbed = 0;
        for span in self.spans() {
            if span.start > front {
                break;
            }
            new_bytes -= span.overlap(fresh);
            front = front.max(span.end);
            absorbed += 1;
        }
        if let Some(held) = self.held.as_deref_mut() {
            held.spans.drain(..absorbed);
        }
        self.front = front;
        self.forget_stale_history();
        new_bytes
    }

    /// The index of the out-of-order range holding `offset`.
    fn find(&self, offset: u32) -> Option<usize> {
        find_in(self.spans(), offset)
    }

    /// Puts `seg`, just added out of order, at the front of the SACK history.
    fn remember(&mut self, seg: Span) {
        let held = self.held_mut();
        let keep = held.recent_count.min(RECENT - 1);
        held.recent.copy_within(..keep, 1);
        held.recent[0] = seg;
        held.recent_count = keep + 1;
        self.forget_stale_history();
    }

    /// Drops history entries whose range is gone (delivered in order) or is already named by
    /// a more recent entry, keeping the order of the rest.
    fn forget_stale_history(&mut self) {
        let Some(held) = self.held.as_deref_mut() else { return };
        let mut kept = 0;
        for i in 0..held.recent_count {
            let seg = held.recent[i];
            let Some(index) = find_in(&held.spans, seg.start) else { continue };
            let duplicate =
                held.recent[..kept].iter().any(|r| find_in(&held.spans, r.start) == Some(index));
            if !duplicate {
                held.recent[kept] = seg;
                kept += 1;
            }
        }
        held.recent_count = kept;
    }
}

/// The index of the range of sorted `spans` holding `offset`.
fn find_in(spans: &[Span], offset: u32) -> Option<usize> {
    let index = spans.partition_point(|s| s.end <= offset);
    spans.get(index).filter(|s| s.start <= offset).map(|_| index)
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Assembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assembler")
            .field("front", &self.front)
            .field("ranges", &self.spans())
            .field("limit", &self.limit)
            .field("recent", &self.held.as_ref().map_or(&[][..], |h| &h.recent[..h.recent_count]))
            .finish()
    }
}

#[cfg(test)]
mod tests;
