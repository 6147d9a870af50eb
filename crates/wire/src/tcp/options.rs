//! TCP options: the typed set [`TcpOptions`], its parts, and a raw iterator [`TcpOptionIter`].
//!
//! RFC 9293 §3.1: "Options may occupy space at the end of the TCP header and are a multiple of
//! 8 bits in length. [...] An option may begin on any octet boundary. There are two cases for
//! the format of an option: Case 1: A single octet of option-kind. Case 2: An octet of
//! option-kind (Kind), an octet of option-length, and the actual option-data octets. The
//! option-length counts the two octets of option-kind and option-length as well as the
//! option-data octets."
//!
//! Parsing rules, in the order they apply to each option:
//!
//! - EOL (kind 0) ends the list; the bytes after it are padding and are not read.
//! - NOP (kind 1) is skipped. RFC 9293 §3.1: "receivers MUST be prepared to process options
//!   even if they do not begin on a word boundary (MUST-64)."
//! - Every other kind has a length byte. A length below 2, or one that runs past the end of
//!   the options, is `BadOption { kind }`. RFC 9293 §3.2: "A TCP implementation MUST be
//!   prepared to handle an illegal option length (e.g., zero); a suggested procedure is to
//!   reset the connection and log the error cause (MUST-7)."
//! - Kinds this module does not interpret are skipped by their length. RFC 9293 §3.2: "A TCP
//!   implementation MUST ignore without error any TCP Option it does not implement, assuming
//!   that the option has a length field (MUST-6)."
//! - MSS (length 4), window scale (3), SACK-permitted (2), timestamps (10) and SACK (2 + 8n,
//!   n in 1..=4) with any other length are `BadOption { kind }`.
//! - Fast Open (kind 34) with a length RFC 7413 does not allow is *ignored*, as RFC 7413
//!   §4.1.1 requires (see [`FastOpenCookie`]).
//! - An option that appears twice replaces the earlier one, as Linux `tcp_parse_options` does.
//!
//! The wire layer does not look at the flags: an MSS, window scale, SACK-permitted or Fast
//! Open option on a segment without SYN is reported as it is, and the TCP layer ignores it
//! (RFC 9293 §3.7.1, RFC 7323 §2.2, RFC 2018 §2, RFC 7413 §4.1.1). Values are raw as well: a
//! window shift above 14 is kept, and clamping it is the TCP layer's job (RFC 7323 §2.3).

use core::fmt;

use crate::{ParseError, SeqNum};

/// End of option list (RFC 9293 §3.1).
pub const KIND_EOL: u8 = 0;
/// No-operation (RFC 9293 §3.1).
pub const KIND_NOP: u8 = 1;
/// Maximum segment size (RFC 9293 §3.1).
pub const KIND_MSS: u8 = 2;
/// Window scale (RFC 7323 §2.2).
pub const KIND_WINDOW_SCALE: u8 = 3;
/// SACK-permitted (RFC 2018 §2).
pub const KIND_SACK_PERMITTED: u8 = 4;
/// SACK (RFC 2018 §3).
pub const KIND_SACK: u8 = 5;
/// Timestamps (RFC 7323 §3.2).
pub const KIND_TIMESTAMPS: u8 = 8;
/// TCP Fast Open cookie (RFC 7413 §4.1.1).
pub const KIND_FAST_OPEN: u8 = 34;
/// The shared experimental option kind (RFC 6994 §2, RFC 4727's 254) that Fast Open used
/// before it had kind 34, marked by [`FAST_OPEN_MAGIC`].
pub const KIND_EXPERIMENTAL: u8 = 254;
/// The Experiment Identifier (RFC 6994 §3) of the experimental Fast Open option: kind 254,
/// length, `0xF989`, then the cookie (Linux `TCPOPT_FASTOPEN_MAGIC`).
pub const FAST_OPEN_MAGIC: u16 = 0xF989;

/// One SACK block (RFC 2018 §3): the received bytes `left..right` in sequence space, `right`
/// being the sequence number just past the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SackBlock {
    /// "Left Edge of Block: This is the first sequence number of this block."
    pub left: SeqNum,
    /// "Right Edge of Block: This is the sequence number immediately following the last
    /// sequence number of this block."
    pub right: SeqNum,
}

impl SackBlock {
    /// A block from its edges.
    pub const fn new(left: SeqNum, right: SeqNum) -> SackBlock {
        SackBlock { left, right }
    }
}

/// The timestamps option (RFC 7323 §3.2): "Kind: 8, Length: 10 bytes", two 4-byte fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamps {
    /// TSval: "the current value of the timestamp clock of the TCP sending the option".
    pub tsval: u32,
    /// TSecr: the echoed TSval, "only valid if the ACK bit is set"; zero otherwise.
    pub tsecr: u32,
}

/// Up to four SACK blocks, in the order they appear on the wire, held inline.
///
/// RFC 2018 §3: "A SACK option that specifies n blocks will have a length of 8*n+2 bytes, so
/// the 40 bytes available for TCP options can specify a maximum of 4 blocks."
#[derive(Clone, Copy, Default)]
pub struct SackList {
    blocks: [SackBlock; SackList::CAPACITY],
    len: u8,
}

impl SackList {
    /// The most blocks an option can carry.
    pub const CAPACITY: usize = 4;

    /// An empty list.
    pub const fn new() -> SackList {
        let zero = SackBlock { left: SeqNum(0), right: SeqNum(0) };
        SackList { blocks: [zero; SackList::CAPACITY], len: 0 }
    }

    /// A list holding `blocks`, or `None` when there are more than [`CAPACITY`](Self::CAPACITY).
    pub fn from_slice(blocks: &[SackBlock]) -> Option<SackList> {
        let mut list = SackList::new();
        for &block in blocks {
            list.push(block).ok()?;
        }
        Some(list)
    }

    /// The blocks.
    pub fn as_slice(&self) -> &[SackBlock] {
        &self.blocks[..usize::from(self.len)]
    }

    /// Appends a block; gives it back when the list is full.
    pub fn push(&mut self, block: SackBlock) -> Result<(), SackBlock> {
        let slot = self.blocks.get_mut(usize::from(self.len)).ok_or(block)?;
        *slot = block;
        self.len += 1;
        Ok(())
    }

    /// The number of blocks.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the list holds no block.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the first `len` blocks.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.len = len as u8;
        }
    }

    /// Removes every block.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl PartialEq for SackList {
    fn eq(&self, other: &SackList) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackList {}

impl core::hash::Hash for SackList {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for SackList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'l> IntoIterator for &'l SackList {
    type Item = &'l SackBlock;
    type IntoIter = core::slice::Iter<'l, SackBlock>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// A TCP Fast Open cookie (RFC 7413 §4.1.1), held inline; an empty cookie is a cookie
/// *request*.
///
/// RFC 7413 §4.1.1, as corrected by verified erratum 4238: "Kind 1 byte: value = 34 / Length
/// 1 byte: range 2 to 18 (bytes); limited by remaining space in the options field. The number
/// MUST be even. / Cookie 0, or 4 to 16 bytes in length (Length - 2)". So a cookie is empty
/// or 4, 6, ..., 16 bytes long; a cookie of 2 bytes (length 4) is not allowed.
///
/// The same section: "Options with invalid Length values or without the SYN flag set MUST be
/// ignored." The parser therefore skips a Fast Open option with a disallowed length rather
/// than rejecting the segment (Linux `tcp_parse_fastopen_option` does the same: odd lengths
/// are ignored, others outside 4..=16 are marked invalid). Honoring the SYN rule is left to
/// the TCP layer, which sees the flags.
///
/// A cookie also travels in the pre-RFC experimental encoding (kind 254 with the magic
/// 0xF989 of RFC 6994, then the cookie, with the same lengths), which Linux still speaks: a
/// server answers a request in the encoding it came in, and a client whose cookie request
/// went unanswered tries that encoding once. [`is_experimental`](Self::is_experimental) says
/// which encoding a cookie was parsed from or will be written in; it takes part in the
/// comparisons, so compare [`as_bytes`](Self::as_bytes) to compare cookies alone.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FastOpenCookie {
    // Invariant: bytes[len..] are zero, so the derived comparisons see only the cookie.
    bytes: [u8; FastOpenCookie::MAX_LEN],
    len: u8,
    experimental: bool,
}

impl FastOpenCookie {
    /// The shortest non-empty cookie.
    pub const MIN_LEN: usize = 4;
    /// The longest cookie.
    pub const MAX_LEN: usize = 16;

    /// The empty cookie: a request for a cookie, sent by a client in its SYN.
    pub const fn request() -> FastOpenCookie {
        FastOpenCookie { bytes: [0; FastOpenCookie::MAX_LEN], len: 0, experimental: false }
    }

    /// A cookie holding `bytes`, or `None` unless the length is 0 or even in 4..=16.
    pub fn new(bytes: &[u8]) -> Option<FastOpenCookie> {
        let len = bytes.len();
        let allowed =
            len == 0 || (len.is_multiple_of(2) && (Self::MIN_LEN..=Self::MAX_LEN).contains(&len));
        if !allowed {
            return None;
        }
        let mut cookie = FastOpenCookie::request();
        cookie.bytes.get_mut(..len)?.copy_from_slice(bytes);
        cookie.len = len as u8;
        Some(cookie)
    }

    /// The cookie bytes; empty for a request.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The cookie length in bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the cookie is empty, i.e. a cookie request.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this is a cookie request (an empty cookie).
    pub const fn is_request(&self) -> bool {
        self.is_empty()
    }

    /// Whether the cookie travels in the experimental encoding (kind 254, magic 0xF989).
    pub const fn is_experimental(&self) -> bool {
        self.experimental
    }

    /// The same cookie, in the experimental encoding when `experimental` is true, else in
    /// RFC 7413's.
    #[must_use]
    pub const fn with_experimental(self, experimental: bool) -> FastOpenCookie {
        FastOpenCookie { experimental, ..self }
    }

    /// Bytes of the option before the cookie: kind and length, and the magic of the
    /// experimental encoding.
    const fn base_len(&self) -> usize {
        if self.experimental { 4 } else { 2 }
    }

    /// Bytes the option takes on the wire with its padding: kind, length (and magic), cookie,
    /// then NOP NOP when that is not a multiple of 4 (Linux `tcp_options_write`).
    const fn padded_len(&self) -> usize {
        (self.base_len() + self.len() + 3) & !3
    }
}

impl fmt::Debug for FastOpenCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.experimental { "FastOpenCookie(exp " } else { "FastOpenCookie(" })?;
        if self.is_request() {
            return f.write_str("request)");
        }
        write_hex(f, self.as_bytes())?;
        f.write_str(")")
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

/// The options of a TCP header, as values.
///
/// [`parse`](Self::parse) reads them from the option bytes; [`emit`](Self::emit) writes them
/// in Linux's layout (see there). Absent options are `None`, `false` or empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpOptions {
    /// Maximum segment size (RFC 9293 §3.7.1); meaningful only on a SYN.
    pub mss: Option<u16>,
    /// Window scale shift count (RFC 7323 §2.2), raw: values above 14 are kept.
    pub window_scale: Option<u8>,
    /// SACK-permitted (RFC 2018 §2); meaningful only on a SYN.
    pub sack_permitted: bool,
    /// SACK blocks (RFC 2018 §3), first block first. [`emit`](Self::emit) sends only the
    /// first [`sack_capacity`](Self::sack_capacity) of them.
    pub sack_blocks: SackList,
    /// Timestamps (RFC 7323 §3.2).
    pub timestamps: Option<Timestamps>,
    /// Fast Open cookie or cookie request (RFC 7413 §4.1.1).
    pub fast_open: Option<FastOpenCookie>,
}

impl TcpOptions {
    /// The most option bytes a header can carry: a data offset of 15 words less the 20-byte
    /// fixed header.
    pub const MAX_LEN: usize = 40;

    /// Parses option bytes (the header past its 20 fixed bytes). See the module doc for the
    /// rules. Never panics.
    ///
    /// The options of nearly every segment of an established connection are `NOP NOP TS`
    /// (twelve bytes, the layout of [`emit`](Self::emit) and of Linux, RFC 7323 Appendix A),
    /// so those are read at once without walking the list, as Linux's
    /// `tcp_parse_aligned_timestamp` does; the result is the same as the walk's.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<TcpOptions, ParseError> {
        if let Ok(&[KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, 10, a0, a1, a2, a3, e0, e1, e2, e3]) =
            <&[u8; 12]>::try_from(bytes)
        {
            let ts = Timestamps {
                tsval: u32::from_be_bytes([a0, a1, a2, a3]),
                tsecr: u32::from_be_bytes([e0, e1, e2, e3]),
            };
            return Ok(TcpOptions { timestamps: Some(ts), ..TcpOptions::default() });
        }
        if bytes.is_empty() {
            return Ok(TcpOptions::default());
        }
        TcpOptions::parse_list(bytes)
    }

    /// [`parse`](Self::parse) by walking the list, whatever it holds.
    pub(super) fn parse_list(bytes: &[u8]) -> Result<TcpOptions, ParseError> {
        let mut options = TcpOptions::default();
        for option in TcpOptionIter::new(bytes) {
            match option? {
                TcpOption::Mss(mss) => options.mss = Some(mss),
                TcpOption::WindowScale(shift) => options.window_scale = Some(shift),
                TcpOption::SackPermitted => options.sack_permitted = true,
                TcpOption::Sack(blocks) => options.sack_blocks = blocks,
                TcpOption::Timestamps(ts) => options.timestamps = Some(ts),
                TcpOption::FastOpen(cookie) => options.fast_open = Some(cookie),
                TcpOption::End | TcpOption::Nop | TcpOption::Other { .. } => {}
            }
        }
        Ok(options)
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == TcpOptions::default()
    }

    /// Bytes taken by every option but SACK, padding included. At most 40: MSS 4, timestamps
    /// 12 (with SACK-permitted folded in), window scale 4, a 16-byte cookie 20.
    #[inline]
    fn fixed_len(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.timestamps.is_some() {
            len += 12;
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        if let Some(cookie) = &self.fast_open {
            len += cookie.padded_len();
        }
        len
    }

    /// How many SACK blocks fit beside the other options set: the blocks that fit in what is
    /// left of the 40 bytes after them and a `NOP NOP kind length` prefix, at most 4.
    ///
    /// With timestamps alone that is 3, without any other option 4: RFC 2018 §3, "It is
    /// expected that SACK will often be used in conjunction with the Timestamp option [...]
    /// which takes an additional 10 bytes (plus two bytes of padding); thus a maximum of 3 SACK
    /// blocks will be allowed in this case." Linux `tcp_established_options` computes the
    /// same `(remaining - TCPOLEN_SACK_BASE_ALIGNED) / TCPOLEN_SACK_PERBLOCK`.
    pub fn sack_capacity(&self) -> usize {
        let left = TcpOptions::MAX_LEN.saturating_sub(self.fixed_len());
        (left.saturating_sub(4) / 8).min(SackList::CAPACITY)
    }

    /// The number of SACK blocks [`emit`](Self::emit) writes: the first ones, as many as fit.
    /// RFC 2018 §4 wants the first block kept: "The first SACK block [...] MUST specify the
    /// contiguous block of data containing the segment which triggered this ACK".
    pub fn sack_emitted(&self) -> usize {
        self.sack_blocks.len().min(self.sack_capacity())
    }

    /// Bytes [`emit`](Self::emit) writes: a multiple of 4, at most [`MAX_LEN`](Self::MAX_LEN).
    #[inline]
    pub fn buffer_len(&self) -> usize {
        let fixed = self.fixed_len();
        if self.sack_blocks.is_empty() {
            // Every segment but those reporting out-of-order data: no room to work out.
            return fixed;
        }
        let sacks = self.sack_emitted();
        fixed + if sacks > 0 { 4 + 8 * sacks } else { 0 }
    }

    /// Writes the options into `buf` and returns the bytes written ([`buffer_len`]).
    ///
    /// The layout is Linux's (`tcp_options_write` in `net/ipv4/tcp_output.c`), every part
    /// padded with NOPs to 4 bytes so the total is a multiple of 4 and no EOL is needed:
    ///
    /// 1. `MSS`;
    /// 2. `SACKOK TS` when both SACK-permitted and timestamps are set, `NOP NOP TS` for
    ///    timestamps alone, `NOP NOP SACKOK` for SACK-permitted alone;
    /// 3. `NOP WS`;
    /// 4. `NOP NOP SACK` with the first [`sack_emitted`](Self::sack_emitted) blocks; blocks
    ///    that do not fit in 40 bytes are dropped from the tail, never an error;
    /// 5. `TFO` (kind 34, or 254 with the magic in the experimental encoding), followed by
    ///    `NOP NOP` when its length is not a multiple of 4.
    ///
    /// A Linux SYN thus reads `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`.
    ///
    /// # Panics
    ///
    /// When `buf` is shorter than [`buffer_len`](Self::buffer_len): a caller bug.
    ///
    /// [`buffer_len`]: Self::buffer_len
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let mut w = Writer { buf, at: 0 };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            w.put(&[KIND_MSS, 4, hi, lo]);
        }
        match (self.timestamps, self.sack_permitted) {
            (Some(ts), sack_permitted) => {
                if sack_permitted {
                    w.put(&[KIND_SACK_PERMITTED, 2]);
                } else {
                    w.put(&[KIND_NOP, KIND_NOP]);
                }
                w.put(&[KIND_TIMESTAMPS, 10]);
                w.put(&ts.tsval.to_be_bytes());
                w.put(&ts.tsecr.to_be_bytes());
            }
            (None, true) => w.put(&[KIND_NOP, KIND_NOP, KIND_SACK_PERMITTED, 2]),
            (None, false) => {}
        }
        if let Some(shift) = self.window_scale {
            w.put(&[KIND_NOP, KIND_WINDOW_SCALE, 3, shift]);
        }
        let sacks = self.sack_emitted();
        if sacks > 0 {
            w.put(&[KIND_NOP, KIND_NOP, KIND_SACK, (2 + 8 * sacks) as u8]);
            for block in &self.sack_blocks.as_slice()[..sacks] {
                w.put(&block.left.0.to_be_bytes());
                w.put(&block.right.0.to_be_bytes());
            }
        }
        if let Some(cookie) = &self.fast_open {
            let len = (cookie.base_len() + cookie.len()) as u8;
            if cookie.experimental {
                let [m0, m1] = FAST_OPEN_MAGIC.to_be_bytes();
                w.put(&[KIND_EXPERIMENTAL, len, m0, m1]);
            } else {
                w.put(&[KIND_FAST_OPEN, len]);
            }
            w.put(cookie.as_bytes());
            if len % 4 == 2 {
                w.put(&[KIND_NOP, KIND_NOP]);
            }
        }
        w.at
    }
}

/// A cursor over an output buffer; `put` panics past its end, which `emit` documents.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

/// One option as it appears on the wire, yielded by [`TcpOptionIter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0); the iterator stops after it.
    End,
    /// No-operation (kind 1).
    Nop,
    /// Maximum segment size (kind 2, length 4).
    Mss(u16),
    /// Window scale shift count (kind 3, length 3).
    WindowScale(u8),
    /// SACK-permitted (kind 4, length 2).
    SackPermitted,
    /// SACK blocks (kind 5, length 2 + 8n, n in 1..=4).
    Sack(SackList),
    /// Timestamps (kind 8, length 10).
    Timestamps(Timestamps),
    /// Fast Open cookie or cookie request (kind 34, length 2 or even in 6..=18; or kind 254
    /// with the magic 0xF989, length 4 or even in 8..=20: [`FastOpenCookie::is_experimental`]).
    FastOpen(FastOpenCookie),
    /// An option this module does not interpret: an unknown kind, a kind-254 option of
    /// another experiment, or a Fast Open option whose length RFC 7413 §4.1.1 says to
    /// ignore. `data` excludes the kind and length bytes.
    Other {
        /// The option kind.
        kind: u8,
        /// The option data.
        data: &'a [u8],
    },
}

impl fmt::Display for TcpOption<'_> {
    /// tcpdump's rendering of one option: `mss 1460`, `sackOK`, `TS val 1 ecr 0`, `nop`,
    /// `wscale 7`, `sack 2 {1:2}{3:4}`, `tfo cookiereq`, `tfo cookie 0102030405060708`; the
    /// experimental Fast Open encoding as `exp-tfo cookiereq` and `exp-tfo cookie ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let TcpOption::FastOpen(cookie) = self
            && cookie.is_experimental()
        {
            f.write_str("exp-")?;
        }
        match self {
            TcpOption::End => f.write_str("eol"),
            TcpOption::Nop => f.write_str("nop"),
            TcpOption::Mss(mss) => write!(f, "mss {mss}"),
            TcpOption::WindowScale(shift) => write!(f, "wscale {shift}"),
            TcpOption::SackPermitted => f.write_str("sackOK"),
            TcpOption::Sack(blocks) => {
                write!(f, "sack {} ", blocks.len())?;
                blocks.as_slice().iter().try_for_each(|b| write!(f, "{{{}:{}}}", b.left, b.right))
            }
            TcpOption::Timestamps(ts) => write!(f, "TS val {} ecr {}", ts.tsval, ts.tsecr),
            TcpOption::FastOpen(cookie) if cookie.is_request() => f.write_str("tfo cookiereq"),
            TcpOption::FastOpen(cookie) => {
                f.write_str("tfo cookie ")?;
                write_hex(f, cookie.as_bytes())
            }
            TcpOption::Other { kind: KIND_FAST_OPEN, .. } => f.write_str("tfo invalid"),
            TcpOption::Other { kind, data } => {
                write!(f, "unknown-{kind}")?;
                if !data.is_empty() {
                    f.write_str(" 0x")?;
                    write_hex(f, data)?;
                }
                Ok(())
            }
        }
    }
}

/// Walks option bytes one option at a time, in wire order, NOPs and EOL included.
///
/// Yields `Err(BadOption { kind })` for a malformed option (see the module doc) and then
/// stops; stops after EOL. Never panics on any bytes.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    /// An iterator over `options`, the header bytes past the fixed 20.
    pub const fn new(options: &'a [u8]) -> TcpOptionIter<'a> {
        TcpOptionIter { rest: options }
    }

    /// Reads the option at the front of `self.rest`, advancing past it.
    fn read(&mut self) -> Option<Result<TcpOption<'a>, ParseError>> {
        let (&kind, after_kind) = self.rest.split_first()?;
        match kind {
            KIND_EOL => {
                self.rest = &[];
                return Some(Ok(TcpOption::End));
            }
            KIND_NOP => {
                self.rest = after_kind;
                return Some(Ok(TcpOption::Nop));
            }
            _ => {}
        }
        let bad = ParseError::BadOption { kind };
        let Some(&len) = after_kind.first() else { return Some(Err(bad)) };
        let len = usize::from(len);
        if len < 2 || len > self.rest.len() {
            return Some(Err(bad));
        }
        let (option, after) = self.rest.split_at(len);
        self.rest = after;
        let data = &option[2..];
        let parsed = match kind {
            KIND_MSS => {
                <[u8; 2]>::try_from(data).ok().map(|b| TcpOption::Mss(u16::from_be_bytes(b)))
            }
            KIND_WINDOW_SCALE => match data {
                &[shift] => Some(TcpOption::WindowScale(shift)),
                _ => None,
            },
            KIND_SACK_PERMITTED => data.is_empty().then_some(TcpOption::SackPermitted),
            KIND_TIMESTAMPS => <[u8; 8]>::try_from(data).ok().map(|b| {
                let [a0, a1, a2, a3, b0, b1, b2, b3] = b;
                TcpOption::Timestamps(Timestamps {
                    tsval: u32::from_be_bytes([a0, a1, a2, a3]),
                    tsecr: u32::from_be_bytes([b0, b1, b2, b3]),
                })
            }),
            KIND_SACK => parse_sack(data).map(TcpOption::Sack),
            KIND_FAST_OPEN => Some(match FastOpenCookie::new(data) {
                Some(cookie) => TcpOption::FastOpen(cookie),
                // RFC 7413 §4.1.1: "Options with invalid Length values [...] MUST be ignored."
                None => TcpOption::Other { kind, data },
            }),
            // The experimental Fast Open encoding, with the same cookie lengths (Linux
            // `tcp_parse_options`, `TCPOPT_EXP`); another experiment's option is skipped.
            KIND_EXPERIMENTAL => Some(match data.split_first_chunk::<2>() {
                Some((magic, cookie)) if u16::from_be_bytes(*magic) == FAST_OPEN_MAGIC => {
                    match FastOpenCookie::new(cookie) {
                        Some(cookie) => TcpOption::FastOpen(cookie.with_experimental(true)),
                        None => TcpOption::Other { kind, data },
                    }
                }
                _ => TcpOption::Other { kind, data },
            }),
            _ => Some(TcpOption::Other { kind, data }),
        };
        Some(parsed.ok_or(bad))
    }
}

/// The blocks of a SACK option's data: 8n bytes, n in 1..=4 (RFC 2018 §3).
fn parse_sack(data: &[u8]) -> Option<SackList> {
    if data.is_empty() || !data.len().is_multiple_of(8) {
        return None;
    }
    let mut list = SackList::new();
    for block in data.chunks_exact(8) {
        let [l0, l1, l2, l3, r0, r1, r2, r3] = <[u8; 8]>::try_from(block).ok()?;
        let left = SeqNum(u32::from_be_bytes([l0, l1, l2, l3]));
        let right = SeqNum(u32::from_be_bytes([r0, r1, r2, r3]));
        list.push(SackBlock { left, right }).ok()?;
    }
    Some(list)
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.read();
        if let Some(Err(_)) = item {
            self.rest = &[];
        }
        item
    }
}

impl core::iter::FusedIterator for TcpOptionIter<'_> {}
