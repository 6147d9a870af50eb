//! Fragment reassembly: IPv4 (RFC 791 §3.2) with Linux's policy (`net/ipv4/ip_fragment.c`),
//! and the same machinery for IPv6 (RFC 8200 §4.5, Linux `net/ipv6/reassembly.c`, whose
//! policy is the same but for its limits: `ip6frag_high_thresh` 4 MiB, `ip6frag_time` 60 s,
//! and 65,535 bytes of reassembled payload; `crate::ipv6` keys it by source, destination and
//! identification).
//!
//! Fragments are queued per datagram, keyed by (source, destination, protocol, identification)
//! as RFC 791 says. Each queue records the received pieces by offset (the "holes" of RFC 815 are
//! the gaps between them) and is complete once the last fragment has fixed the length and the
//! received bytes add up to it. The policy is Linux's:
//!
//! - **Timeout** (`ipfrag_time`, 30 s): a queue's timer starts with its first fragment and is
//!   not pushed back by later ones; when it runs out the incomplete datagram is discarded.
//! - **Memory** (`ipfrag_high_thresh`, 4 MiB): while the buffered fragments would exceed the
//!   limit, new fragments are dropped; queued ones stay until they complete or time out.
//! - **Overlap** (RFC 5722 §4, which Linux applies to IPv4 too): a fragment that overlaps data
//!   already received discards the whole datagram, except a duplicate, one whose every byte has
//!   been received already, which is ignored (its copy is not compared; the first copy wins).
//! - **Length**: a datagram whose payload would pass 65,515 bytes (65,535 minus the smallest
//!   header) is discarded, as soon as a fragment reaches past that.
//! - **Consistency**: a fragment past the length the last fragment fixed, or a last fragment
//!   short of data already received or disagreeing with an earlier last fragment, discards the
//!   datagram (Linux `ip_frag_queue`, "the segment is corrupted").
//!
//! Nothing here panics on any input, and nothing reads a clock: `now` is an argument.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::{Duration, Instant};
use ustack_wire::{IpProtocol, Ipv4Addr, Ipv4Repr};

/// The largest payload a reassembled datagram may carry: the total length field is 16 bits and
/// the header at least 20 bytes (RFC 791 §3.1).
pub(crate) const MAX_PAYLOAD: usize = 65_535 - 20;

/// Bytes charged against [`FragLimits::max_bytes`] per buffered fragment on top of its payload:
/// its bookkeeping, so that a flood of 8-byte fragments cannot hold memory the limit does not
/// see (Linux charges each fragment's `skb->truesize` for the same reason).
pub(crate) const FRAG_OVERHEAD: usize = 64;

/// How many emptied payload buffers are kept for the next datagrams.
const SPARE_BUFFERS: usize = 4;

/// The limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FragLimits {
    /// Most bytes buffered for all incomplete datagrams together: each fragment's payload plus
    /// [`FRAG_OVERHEAD`]. A fragment that would pass it is dropped (Linux
    /// `net.ipv4.ipfrag_high_thresh`).
    pub(crate) max_bytes: usize,
    /// How long an incomplete datagram is kept after its first fragment (Linux
    /// `net.ipv4.ipfrag_time`; RFC 791 §3.2 suggests 15 s as the initial timer setting).
    pub(crate) timeout: Duration,
}

impl Default for FragLimits {
    /// Linux's defaults: 4 MiB and 30 s.
    fn default() -> Self {
        FragLimits { max_bytes: 4 * 1024 * 1024, timeout: Duration::from_secs(30) }
    }
}

/// What became of a fragment handed to [`Reassembler::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum FragOutcome<'a> {
    /// Queued (or ignored as a duplicate); the datagram still misses data.
    Incomplete,
    /// The fragment completed its datagram: here is the reassembled transport payload. The
    /// slice borrows a buffer the next call reuses.
    Complete(&'a [u8]),
    /// The fragment was dropped, and with it its whole datagram unless the reason says
    /// otherwise.
    Dropped(FragDrop),
}

/// Why a fragment was dropped; each reason has its counter in [`FragStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FragDrop {
    /// Buffering it would pass [`FragLimits::max_bytes`]; only this fragment is dropped.
    OverMemory,
    /// It overlaps data already received without being a duplicate; the datagram is dropped.
    Overlap,
    /// It reaches past [`MAX_PAYLOAD`]; the datagram is dropped.
    TooLong,
    /// The fragment is malformed on its own (a fragment with More Fragments set whose length is
    /// zero or not a multiple of 8, an offset not a multiple of 8, a payload shorter than the
    /// header says), and only it is dropped; or it contradicts the datagram's length (data past
    /// the last fragment, two different last fragments), and the datagram is dropped.
    Malformed,
}

impl fmt::Display for FragDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FragDrop::OverMemory => "fragment memory limit reached",
            FragDrop::Overlap => "overlapping fragment",
            FragDrop::TooLong => "reassembled datagram over 65535 bytes",
            FragDrop::Malformed => "malformed fragment",
        })
    }
}

/// Counters and occupancy of a [`Reassembler`] (Linux's `Ip: Reasm*` counters of
/// `netstat -s`, split by drop reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FragStats {
    /// Fragments pushed (Linux `ReasmReqds`).
    pub(crate) fragments: u64,
    /// Datagrams reassembled (`ReasmOKs`).
    pub(crate) reassembled: u64,
    /// Incomplete datagrams discarded when their timer ran out (`ReasmTimeout`).
    pub(crate) timed_out: u64,
    /// Fragments dropped for [`FragDrop::OverMemory`].
    pub(crate) over_memory: u64,
    /// Datagrams dropped for [`FragDrop::Overlap`] (`ReasmOverlaps`).
    pub(crate) overlap: u64,
    /// Fragments or datagrams dropped for [`FragDrop::TooLong`].
    pub(crate) too_long: u64,
    /// Fragments or datagrams dropped for [`FragDrop::Malformed`].
    pub(crate) malformed: u64,
    /// Duplicate fragments ignored.
    pub(crate) duplicates: u64,
    /// Incomplete datagrams buffered now.
    pub(crate) datagrams_buffered: usize,
    /// Bytes charged for them now (payloads plus [`FRAG_OVERHEAD`] per fragment).
    pub(crate) bytes_buffered: usize,
}

impl fmt::Display for FragStats {
    /// One line: `12 fragments, 3 reassembled, 1 timed out, dropped: 0 over memory, 1 overlap,
    /// 0 too long, 0 malformed; 2 duplicates; 1 datagrams (1088 bytes) buffered`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} fragments, {} reassembled, {} timed out, dropped: {} over memory, {} overlap, \
             {} too long, {} malformed; {} duplicates; {} datagrams ({} bytes) buffered",
            self.fragments,
            self.reassembled,
            self.timed_out,
            self.over_memory,
            self.overlap,
            self.too_long,
            self.malformed,
            self.duplicates,
            self.datagrams_buffered,
            self.bytes_buffered
        )
    }
}

/// What identifies the fragments of one IPv4 datagram (RFC 791 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FragKey {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    ident: u16,
}

impl FragKey {
    fn of(hdr: &Ipv4Repr) -> Self {
        FragKey { src: hdr.src, dst: hdr.dst, protocol: hdr.protocol, ident: hdr.ident }
    }
}

/// A received fragment's payload, as a range of [`Datagram::data`].
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Where its bytes start in `data`.
    at: usize,
    /// Its length, never zero.
    len: usize,
}

/// How a fragment relates to the data already received.
enum Coverage {
    /// It overlaps none of it.
    Disjoint,
    /// Every byte of it has been received: a duplicate.
    Covered,
    /// It overlaps some of it.
    Partial,
}

/// What [`Datagram::accept`] did with a fragment.
enum Accepted {
    /// Stored.
    Stored,
    /// Ignored as a duplicate.
    Duplicate,
    /// Refused: the datagram must be discarded for this reason.
    Conflict(FragDrop),
}

/// An incomplete datagram.
#[derive(Debug)]
struct Datagram {
    /// When it is discarded: its first fragment's arrival plus the timeout.
    deadline: Instant,
    /// The received fragments by offset; they never overlap.
    pieces: BTreeMap<usize, Piece>,
    /// Their payloads, in arrival order.
    data: Vec<u8>,
    /// Bytes received (the sum of the pieces' lengths).
    received: usize,
    /// The furthest end of any piece.
    max_end: usize,
    /// The payload length, once the last fragment (More Fragments clear) has come.
    total: Option<usize>,
    /// Bytes charged against the memory limit.
    charged: usize,
    /// What the caller attached to the fragment at offset 0 (IPv6: its Next Header).
    tag: Option<u8>,
}

impl Datagram {
    fn new(deadline: Instant, data: Vec<u8>) -> Self {
        Datagram {
            deadline,
            pieces: BTreeMap::new(),
            data,
            received: 0,
            max_end: 0,
            total: None,
            charged: 0,
            tag: None,
        }
    }

    /// Takes the fragment `bytes` at `offset`; `last` when More Fragments is clear. The caller
    /// has checked that a non-last fragment is non-empty.
    fn accept(&mut self, offset: usize, bytes: &[u8], last: bool) -> Accepted {
        let end = offset + bytes.len();
        // Linux ip_frag_queue: "If we already have some bits beyond end or have different end,
        // the segment is corrupted"; likewise a fragment past the end the last one fixed.
        if last {
            if end < self.max_end || self.total.is_some_and(|total| total != end) {
                return Accepted::Conflict(FragDrop::Malformed);
            }
        } else if self.total.is_some_and(|total| end > total) {
            return Accepted::Conflict(FragDrop::Malformed);
        }
        if bytes.is_empty() {
            // An empty last fragment only fixes the length.
            if self.total.is_some() {
                return Accepted::Duplicate;
            }
            self.total = Some(end);
            return Accepted::Stored;
        }
        match self.coverage(offset, end) {
            Coverage::Disjoint => {}
            // A copy of a last fragment must come after one: a "last" fragment inside data
            // that so far had no end contradicts it.
            Coverage::Covered if !last || self.total.is_some() => return Accepted::Duplicate,
            // RFC 5722 §4: an overlapping fragment discards the whole datagram.
            Coverage::Covered | Coverage::Partial => {
                return Accepted::Conflict(FragDrop::Overlap);
            }
        }
        let at = self.data.len();
        self.data.extend_from_slice(bytes);
        self.pieces.insert(offset, Piece { at, len: bytes.len() });
        self.received += bytes.len();
        self.max_end = self.max_end.max(end);
        if last {
            self.total = Some(end);
        }
        Accepted::Stored
    }

    /// How `offset..end` (non-empty) relates to the received pieces. Costs O(log n) plus the
    /// pieces inside the range, so at most one step per 8 bytes of the fragment.
    fn coverage(&self, offset: usize, end: usize) -> Coverage {
        // The last piece starting before `end`: if it ends by `offset`, so do all before it.
        match self.pieces.range(..end).next_back() {
            None => return Coverage::Disjoint,
            Some((&start, piece)) if start + piece.len <= offset => return Coverage::Disjoint,
            Some(_) => {}
        }
        // Something overlaps: a duplicate only if the pieces cover the range without a gap.
        let mut covered = match self.pieces.range(..=offset).next_back() {
            Some((&start, piece)) if start + piece.len > offset => start + piece.len,
            _ => return Coverage::Partial,
        };
        for (&start, piece) in self.pieces.range(offset + 1..end) {
            if covered >= end {
                break;
            }
            if start != covered {
                return Coverage::Partial;
            }
            covered = start + piece.len;
        }
        if covered >= end { Coverage::Covered } else { Coverage::Partial }
    }

    /// Whether every byte up to the last fragment's end has come. Pieces never overlap and
    /// none passes the end, so counting bytes suffices.
    fn is_complete(&self) -> bool {
        self.total == Some(self.received)
    }

    /// Writes the payload, in order, into `out` (cleared first).
    fn assemble_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.received);
        for piece in self.pieces.values() {
            out.extend_from_slice(&self.data[piece.at..piece.at + piece.len]);
        }
    }
}

/// IPv4 fragment reassembly for one host (see the module doc for the policy).
///
/// Call order (sans-IO, like the stack around it): hand every IPv4 fragment that reaches
/// the host to [`push`](Self::push) with the time it arrived; after any call, ask
/// [`poll_timeout`](Self::poll_timeout) for the next deadline and call
/// [`handle_timeout`](Self::handle_timeout) once it has passed. A fragment arriving after its
/// datagram's deadline starts a new datagram even if `handle_timeout` has not run yet.
#[derive(Debug)]
pub(crate) struct Reassembler<K = FragKey> {
    limits: FragLimits,
    /// The largest reassembled payload.
    max_payload: usize,
    /// The incomplete datagrams.
    datagrams: BTreeMap<K, Datagram>,
    /// Their deadlines, earliest first: finding the next one never scans the datagrams.
    timers: BTreeSet<(Instant, K)>,
    /// Bytes charged for all of them.
    buffered: usize,
    /// The last reassembled payload ([`FragOutcome::Complete`] borrows it).
    out: Vec<u8>,
    /// Emptied payload buffers of finished datagrams, for new ones to reuse.
    spare: Vec<Vec<u8>>,
    /// Counters (`datagrams_buffered` and `bytes_buffered` are filled in by `stats`).
    stats: FragStats,
    /// The tag of the datagram `out` holds.
    out_tag: Option<u8>,
}

impl Reassembler<FragKey> {
    /// An empty IPv4 reassembler with these limits.
    pub(crate) fn new(limits: FragLimits) -> Self {
        Reassembler::with_max_payload(limits, MAX_PAYLOAD)
    }

    /// Takes a fragment that arrived at `now`: `hdr` is its parsed header (`frag_offset` in
    /// bytes, as `Ipv4Repr` has it), `payload` its payload, of which the first
    /// `hdr.payload_len` bytes are used (link-layer padding after them is ignored).
    ///
    /// A datagram that is not a fragment (More Fragments clear, offset 0) is returned whole as
    /// [`FragOutcome::Complete`]; the stack need not route those here, but may.
    pub(crate) fn push(&mut self, now: Instant, hdr: &Ipv4Repr, payload: &[u8]) -> FragOutcome<'_> {
        let Some(bytes) = payload.get(..hdr.payload_len) else {
            return self.dropped(FragDrop::Malformed);
        };
        if !hdr.is_fragment() {
            self.out.clear();
            self.out.extend_from_slice(bytes);
            return FragOutcome::Complete(&self.out);
        }
        let offset = usize::from(hdr.frag_offset);
        self.push_fragment(now, FragKey::of(hdr), offset, hdr.more_frags, bytes, None)
    }
}

impl<K: Ord + Copy> Reassembler<K> {
    /// An empty reassembler with these limits, for datagrams of at most `max_payload` bytes.
    pub(crate) fn with_max_payload(limits: FragLimits, max_payload: usize) -> Self {
        Reassembler {
            limits,
            max_payload,
            out_tag: None,
            datagrams: BTreeMap::new(),
            timers: BTreeSet::new(),
            buffered: 0,
            out: Vec::new(),
            spare: Vec::new(),
            stats: FragStats::default(),
        }
    }

    /// Takes the fragment `bytes` at `offset` of datagram `key` (`more`: More Fragments set)
    /// that arrived at `now`. `tag`, given with the fragment at offset 0, is handed back by
    /// [`completed_tag`](Self::completed_tag) when the datagram completes.
    pub(crate) fn push_fragment(
        &mut self,
        now: Instant,
        key: K,
        offset: usize,
        more: bool,
        bytes: &[u8],
        tag: Option<u8>,
    ) -> FragOutcome<'_> {
        self.stats.fragments += 1;
        let end = offset + bytes.len();
        // RFC 791 §3.2 (RFC 8200 §4.5 alike): every fragment but the last carries a multiple
        // of 8 bytes, and the offset counts 8-byte units. (Linux trims such a fragment; the
        // RFC makes it invalid.)
        if !offset.is_multiple_of(8)
            || (more && (bytes.is_empty() || !bytes.len().is_multiple_of(8)))
        {
            return self.dropped(FragDrop::Malformed);
        }
        // RFC 791 §3.1: the total length is 16 bits. Linux finds out when it reassembles; a
        // fragment that already reaches past the limit dooms its datagram, so drop it now.
        if end > self.max_payload {
            self.discard(&key);
            return self.dropped(FragDrop::TooLong);
        }
        // A datagram whose timer has run out is gone, whether or not handle_timeout has run.
        if self.datagrams.get(&key).is_some_and(|d| d.deadline <= now) {
            self.discard(&key);
            self.stats.timed_out += 1;
        }
        // Linux inet_frag_find: over ipfrag_high_thresh, fragments are dropped until queues
        // complete or time out.
        let charge = bytes.len() + FRAG_OVERHEAD;
        if self.buffered.saturating_add(charge) > self.limits.max_bytes {
            return self.dropped(FragDrop::OverMemory);
        }
        let datagram = match self.datagrams.entry(key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                // Linux starts the timer with the queue and never pushes it back.
                let deadline = now + self.limits.timeout;
                self.timers.insert((deadline, key));
                entry.insert(Datagram::new(deadline, self.spare.pop().unwrap_or_default()))
            }
        };
        match datagram.accept(offset, bytes, !more) {
            Accepted::Stored => {
                if offset == 0 {
                    datagram.tag = tag;
                }
                datagram.charged += charge;
                self.buffered += charge;
                if datagram.is_complete() {
                    return self.finish(&key);
                }
                FragOutcome::Incomplete
            }
            Accepted::Duplicate => {
                self.stats.duplicates += 1;
                FragOutcome::Incomplete
            }
            Accepted::Conflict(reason) => {
                self.discard(&key);
                self.dropped(reason)
            }
        }
    }

    /// The earliest deadline of an incomplete datagram, if any. O(log n).
    #[must_use]
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(deadline, _)| deadline)
    }

    /// Discards the incomplete datagrams whose deadline is at or before `now`, and returns
    /// how many.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> usize {
        let mut expired = 0;
        while let Some(&(deadline, key)) = self.timers.first() {
            if deadline > now {
                break;
            }
            self.discard(&key);
            expired += 1;
        }
        self.stats.timed_out += expired as u64;
        expired
    }

    /// The counters and what is buffered now.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn stats(&self) -> FragStats {
        FragStats {
            datagrams_buffered: self.datagrams.len(),
            bytes_buffered: self.buffered,
            ..self.stats
        }
    }

    /// Counts a drop and says so.
    fn dropped(&mut self, reason: FragDrop) -> FragOutcome<'static> {
        let counter = match reason {
            FragDrop::OverMemory => &mut self.stats.over_memory,
            FragDrop::Overlap => &mut self.stats.overlap,
            FragDrop::TooLong => &mut self.stats.too_long,
            FragDrop::Malformed => &mut self.stats.malformed,
        };
        *counter += 1;
        FragOutcome::Dropped(reason)
    }

    /// Removes a datagram, if there is one, releasing its memory and timer.
    fn remove(&mut self, key: &K) -> Option<Datagram> {
        let datagram = self.datagrams.remove(key)?;
        self.timers.remove(&(datagram.deadline, *key));
        self.buffered -= datagram.charged;
        Some(datagram)
    }

    /// Discards a datagram, if there is one.
    fn discard(&mut self, key: &K) {
        if let Some(datagram) = self.remove(key) {
            self.recycle(datagram.data);
        }
    }

    /// Hands out a complete datagram's payload.
    fn finish(&mut self, key: &K) -> FragOutcome<'_> {
        let Some(datagram) = self.remove(key) else {
            return FragOutcome::Incomplete;
        };
        datagram.assemble_into(&mut self.out);
        self.out_tag = datagram.tag;
        self.recycle(datagram.data);
        self.stats.reassembled += 1;
        FragOutcome::Complete(&self.out)
    }

    /// The tag the offset-0 fragment of the datagram the last [`FragOutcome::Complete`]
    /// returned carried.
    pub(crate) fn completed_tag(&self) -> Option<u8> {
        self.out_tag
    }

    /// Keeps an emptied payload buffer for a later datagram, up to [`SPARE_BUFFERS`].
    fn recycle(&mut self, mut data: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            data.clear();
            self.spare.push(data);
        }
    }
}

#[cfg(test)]
#[path = "frag_tests.rs"]
mod tests;
