//! The byte storage behind a connection's send and receive buffers.
//!
//! [`RingBuffer`] is a ring of bytes that starts empty (no allocation at all), grows on demand
//! up to a limit the caller sets (SO_SNDBUF / SO_RCVBUF), and from then on never allocates:
//! idle connections cost little memory, and the steady state allocates nothing per segment.
//!
//! How the engine uses it (docs/tcp-engine.md):
//! - send buffer: offset 0 is SND.UNA. [`push`](RingBuffer::push) appends what the application
//!   sends, [`peek`](RingBuffer::peek) reads the payload of a segment at `seq - SND.UNA`
//!   without copying it twice, [`consume`](RingBuffer::consume) drops what an ACK covers.
//! - receive buffer: offset 0 is the first byte the application has not read; the readable
//!   length ends at RCV.NXT. In-order and out-of-order data alike are placed with
//!   [`write_at`](RingBuffer::write_at) at their offset *past RCV.NXT* (the offsets the
//!   [`Assembler`](crate::Assembler) works in), and [`commit`](RingBuffer::commit) makes them
//!   readable once the bytes before them have arrived; [`pop`](RingBuffer::pop) serves
//!   `recv()`.
//!
//! No method panics, whatever its arguments: counts and offsets out of range are clamped, and
//! every method that may do less than asked returns how much it did.

use core::fmt;

/// A growable ring of bytes with a readable part and room past it for out-of-order data.
///
/// # Model
///
/// The buffer holds a sequence of *logical positions* counted from the front (the oldest
/// readable byte):
///
/// ```text
///  0                len                         limit
///  |  readable bytes  |  pending (write_at) area  |
/// ```
///
/// - Positions `0..len` are readable: [`peek`](Self::peek), [`pop`](Self::pop) and
///   [`consume`](Self::consume) work there.
/// - Positions `len..limit` are free. [`push`](Self::push) appends at `len`;
///   [`write_at`](Self::write_at) stores bytes there without making them readable, and
///   [`commit`](Self::commit) later extends `len` over them. `write_at` offsets count from
///   `len`, so data placed there keeps its offset when the front is popped or consumed
///   (both `len` and the front move).
///
/// # Invariants
///
/// 1. `len <= capacity`, and `capacity <= MAX_LIMIT`.
/// 2. Storage grows only inside `push` and `write_at`, only when the bytes to store reach past
///    `capacity`; it grows by doubling (at least [`MIN_CAPACITY`](Self::MIN_CAPACITY)), capped
///    by the limit in force at that moment, but by half of the old capacity at least (so up
///    to 1.5 times the limit when the limit creeps up a little at a time): it is allocated
///    O(log limit) times over the buffer's life and never again once the working set fits.
///    Nothing else allocates.
/// 3. Growing keeps every logical position below the old capacity, readable or pending.
/// 4. Pending bytes keep their offset from `len` across `pop`/`consume`, and shift down by `n`
///    when `push` or `commit` makes `n` more bytes readable (`push` overwrites the pending
///    bytes it lands on).
/// 5. A pending position that was never written (or was freed by `pop`/`consume`/`clear`)
///    holds unspecified bytes of this same buffer (or zeroes): committing it exposes them, so
///    commit only what was written (the [`Assembler`](crate::Assembler) says how much).
/// 6. `len <= limit` holds unless [`set_limit`](Self::set_limit) lowered the limit below
///    `len`; then the data stays and [`free`](Self::free) is zero until enough is consumed.
pub struct RingBuffer {
    /// The allocated bytes; `storage.len()` is the capacity. Always fully initialised.
    storage: Box<[u8]>,
    /// Index in `storage` of logical position 0; `< capacity`, or 0 while nothing is allocated.
    /// Positions and counts are `u32` (every one is at most `MAX_LIMIT` times 1.5): a
    /// connection has two rings, and 32 bytes each instead of 48 count at a million.
    head: u32,
    /// Readable bytes.
    len: u32,
    /// Most bytes the buffer may hold; `<= MAX_LIMIT`.
    limit: u32,
}

impl RingBuffer {
    /// The largest limit accepted; larger requests are clamped to it. 1 GiB is the largest
    /// window TCP can advertise (65535 << 14, RFC 7323 §2.3) rounded up, and keeps every
    /// offset well inside the 2^31 that sequence arithmetic allows.
    pub const MAX_LIMIT: usize = 1 << 30;

    /// The first allocation, made by the first write (or the limit, if smaller).
    pub const MIN_CAPACITY: usize = 1024;

    /// An empty buffer that may grow to `limit` bytes (clamped to
    /// [`MAX_LIMIT`](Self::MAX_LIMIT)). Allocates nothing until the first write.
    pub fn with_limit(limit: usize) -> RingBuffer {
        let limit = if limit > Self::MAX_LIMIT { Self::MAX_LIMIT } else { limit };
        RingBuffer { storage: Box::new([]), head: 0, len: 0, limit: limit as u32 }
    }

    /// Changes the limit (clamped to [`MAX_LIMIT`](Self::MAX_LIMIT)), e.g. when the
    /// application sets SO_RCVBUF. Never reallocates and never drops data: a limit below
    /// [`len`](Self::len) only makes [`free`](Self::free) zero, and bytes already written
    /// past it stay committable. A caller that has advertised a receive window must not lower
    /// the limit under it (RFC 9293 §3.8.6.2.2: the right window edge must not move left).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(Self::MAX_LIMIT) as u32;
    }

    /// The most bytes the buffer may hold.
    pub const fn limit(&self) -> usize {
        self.limit as usize
    }

    /// Readable bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no byte is readable.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left under the limit: `limit - len`, or zero when the limit was lowered below
    /// `len`. A receive buffer's window is derived from it.
    pub const fn free(&self) -> usize {
        self.limit.saturating_sub(self.len) as usize
    }

    /// Bytes allocated now; `0` until the first write.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Appends as much of `data` as fits under the limit and returns how much; the bytes are
    /// readable at once. Overwrites pending bytes it lands on.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        let at = self.len();
        self.reserve(at + n);
        self.write_ring(at, &data[..n]);
        self.len += n as u32;
        n
    }

    /// Copies readable bytes from the front into `dst`, removes them, and returns how many:
    /// `min(dst.len(), len)`.
    pub fn pop(&mut self, dst: &mut [u8]) -> usize {
        let (a, b) = self.peek(0, dst.len());
        let (n_a, n) = (a.len(), a.len() + b.len());
        dst[..n_a].copy_from_slice(a);
        dst[n_a..n].copy_from_slice(b);
        self.consume(n)
    }

    /// The readable bytes at `offset..offset + len` from the front, as two slices (the range
    /// may wrap around the end of the storage; the second slice is empty when it does not).
    /// The range is clamped to the readable bytes: an `offset` at or past [`len`](Self::len)
    /// gives two empty slices.
    pub fn peek(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let start = offset.min(self.len());
        let n = len.min(self.len() - start);
        self.ring_slices(start, n)
    }

    /// Drops up to `n` readable bytes from the front (e.g. the bytes an ACK covers) and
    /// returns how many: `min(n, len)`.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.head = self.physical(n) as u32;
        self.len -= n as u32;
        n
    }

    /// Stores `data` at `offset` bytes *past the readable end* (logical position
    /// `len + offset`) without making it readable, growing the storage if needed, and returns
    /// how many bytes were stored: `data` is cut at the limit, and nothing is stored when
    /// `len + offset` is at or past it. For the receive buffer, `offset` is the segment's
    /// offset from RCV.NXT, the same offset the [`Assembler`](crate::Assembler) takes.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let Some(start) = self.len().checked_add(offset) else { return 0 };
        let n = data.len().min(self.limit().saturating_sub(start));
        if n == 0 {
            return 0;
        }
        self.reserve(start + n);
        self.write_ring(start, &data[..n]);
        n
    }

    /// [`write_at`](Self::write_at) of all of `data` at `offset` that also returns the
    /// checksum of `data` ([`checksum::data`](ustack_wire::checksum::data): its folded
    /// ones-complement sum as big-endian words), reading each byte once
    /// ([`checksum::copy_and_sum`](ustack_wire::checksum::copy_and_sum)): a received
    /// segment's payload is verified as it is placed. Stores nothing and returns `None` when
    /// not all of `data` fits under the limit. Like `write_at`, nothing becomes readable:
    /// the caller commits the bytes only once the sum is found good.
    pub fn write_at_summed(&mut self, offset: usize, data: &[u8]) -> Option<u16> {
        use ustack_wire::checksum;
        let start = self.len().checked_add(offset)?;
        if data.len() > self.limit().saturating_sub(start) {
            return None;
        }
        if data.is_empty() {
            return Some(0);
        }
        self.reserve(start + data.len());
        let at = self.physical(start);
        let first = data.len().min(self.capacity() - at);
        let (a, b) = data.split_at(first);
        let sum_a = checksum::copy_and_sum(&mut self.storage[at..at + first], a);
        if b.is_empty() {
            return Some(sum_a);
        }
        let sum_b = checksum::copy_and_sum(&mut self.storage[..b.len()], b);
        // The second piece starts at an odd offset of `data` when the first is odd: its
        // words are the byte-swapped ones, and so is their ones-complement sum (RFC 1071
        // §2 (B), byte-order independence).
        let sum_b = if first % 2 == 1 { sum_b.swap_bytes() } else { sum_b };
        Some(checksum::combine(&[sum_a, sum_b]))
    }

    /// Makes the next `n` bytes past the readable end readable (stored earlier with
    /// [`write_at`](Self::write_at), once the hole before them is filled) and returns how many:
    /// `n` is clamped to the allocated bytes past `len` (`capacity - len`), which always
    /// includes every byte `write_at` stored.
    pub fn commit(&mut self, n: usize) -> usize {
        let n = n.min(self.capacity() - self.len());
        self.len += n as u32;
        n
    }

    /// When nothing is readable, starts the ring over at the beginning of its storage, so
    /// that the next bytes land where the last ones did (still in cache) instead of going
    /// round the whole allocation: a receive buffer grown to megabytes and read as fast as it
    /// fills then touches a few kilobytes. Pending bytes do not move with it: call it only
    /// when none is held (no out-of-order data).
    pub fn rewind_if_empty(&mut self) {
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Drops every byte, readable or pending. Keeps the storage.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Frees the storage when nothing is readable, so an idle connection gives its memory
    /// back (the next write allocates again), and returns whether it did. Pending bytes are
    /// dropped with it: call it only when no out-of-order data is held.
    pub fn release_if_empty(&mut self) -> bool {
        if self.len != 0 {
            return false;
        }
        self.storage = Box::new([]);
        self.head = 0;
        true
    }

    /// Gives up the storage, when it is the size of a first allocation
    /// ([`MIN_CAPACITY`](Self::MIN_CAPACITY)), for a new buffer to start with
    /// ([`adopt_storage`](Self::adopt_storage)); a larger one stays (and is freed with this
    /// buffer). This buffer is left empty, with nothing allocated.
    pub fn take_small_storage(&mut self) -> Option<Box<[u8]>> {
        if self.capacity() != Self::MIN_CAPACITY {
            return None;
        }
        self.head = 0;
        self.len = 0;
        Some(core::mem::take(&mut self.storage))
    }

    /// Starts a buffer that has allocated nothing yet on `storage` given up by another one
    /// ([`take_small_storage`](Self::take_small_storage)), zeroed first, so that its first
    /// write allocates nothing: it is what that write would have allocated (the first
    /// allocation's size, within the limit). Otherwise `storage` is dropped and nothing
    /// changes.
    pub fn adopt_storage(&mut self, mut storage: Box<[u8]>) {
        if self.capacity() == 0
            && storage.len() == Self::MIN_CAPACITY
            && self.limit as usize >= Self::MIN_CAPACITY
        {
            storage.fill(0);
            self.storage = storage;
            self.head = 0;
        }
    }

    /// The storage index of logical position `at`, for `at <= capacity`.
    fn physical(&self, at: usize) -> usize {
        let i = self.head as usize + at;
        if i >= self.capacity() { i - self.capacity() } else { i }
    }

    /// The two storage slices of logical positions `at..at + n`, for `at + n <= capacity`.
    fn ring_slices(&self, at: usize, n: usize) -> (&[u8], &[u8]) {
        if n == 0 {
            return (&[], &[]);
        }
        let start = self.physical(at);
        let first = n.min(self.capacity() - start);
        (&self.storage[start..start + first], &self.storage[..n - first])
    }

    /// Copies `data` to logical positions `at..at + data.len()`, which must be allocated.
    fn write_ring(&mut self, at: usize, data: &[u8]) {
        let start = self.physical(at);
        let first = data.len().min(self.capacity() - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        self.storage[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Makes logical positions `0..needed` allocated, for `needed <= limit`: doubles (to a
    /// power of two of at least `MIN_CAPACITY`, capped by the limit) and moves the contents,
    /// readable and pending, to the start of the new storage.
    fn reserve(&mut self, needed: usize) {
        let old = self.capacity();
        if needed <= old {
            return;
        }
        let doubled = needed.next_power_of_two().max(Self::MIN_CAPACITY);
        // Capped by the limit, but growing by half at least: a limit raised a little at a
        // time (autotuning raises it on every ACK while the window grows) would otherwise
        // cost a reallocation and a copy of the whole buffer per raise.
        let limit = self.limit();
        let target = if doubled > limit {
            limit.max((old + old / 2).min(doubled)).min(Self::MAX_LIMIT)
        } else {
            doubled
        };
        let mut storage = vec![0; target.max(needed)].into_boxed_slice();
        let (before_head, from_head) = self.storage.split_at(self.head as usize);
        storage[..from_head.len()].copy_from_slice(from_head);
        storage[from_head.len()..old].copy_from_slice(before_head);
        self.storage = storage;
        self.head = 0;
    }
}

impl fmt::Debug for RingBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuffer")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("limit", &self.limit)
            .finish()
    }
}

#[cfg(test)]
mod tests;
