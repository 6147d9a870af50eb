//! IPv6 extension headers (RFC 8200 §4): the chain between the fixed header and the
//! upper-layer header, walked and bounded.
//!
//! Two levels, as elsewhere in this crate:
//!
//! - [`ExtHeaderIter`] steps through the chain and only checks lengths: it yields each
//!   Hop-by-Hop Options, Routing, Fragment and Destination Options header and stops at the
//!   first other Next Header value. It reads quoted packets in ICMPv6 errors, where the chain
//!   is all that matters.
//! - [`Ipv6Packet::walk_ext_headers`] is what a host does on receipt: it processes every header
//!   as RFC 8200 §4 says and returns an [`Ipv6Chain`] (the upper-layer protocol, where it
//!   starts, the fragment header if any), or an [`ExtHeaderError`]: discard silently, or
//!   discard and answer with an ICMPv6 Parameter Problem whose code and pointer it carries.
//!
//! What the walk does, header by header:
//!
//! - **Hop-by-Hop Options** only right after the fixed header (RFC 8200 §4.3); elsewhere its
//!   Next Header value 0 is answered as an unrecognized Next Header (RFC 8200 §4: "The same
//!   action should be taken if a node encounters a Next Header value of zero in any header
//!   other than an IPv6 header").
//! - **Hop-by-Hop and Destination Options**: each option's length must stay in the header; no
//!   option is known to ustack but the padding, so every other option is handled by the two
//!   high bits of its type (RFC 8200 §4.2): `00` skip, `01` discard, `10` discard and answer
//!   code 2 pointing at the option type, `11` the same unless the destination is multicast
//!   (then discard). Router Alert (`00`) is skipped; the Jumbo Payload option (`11`) is
//!   answered as unrecognized, ustack not doing jumbograms.
//! - **Routing**: with Segments Left zero it is skipped (RFC 8200 §4.4). ustack is a host and
//!   forwards nothing, so it processes no routing type: with Segments Left non-zero it answers
//!   code 0 pointing at the Routing Type field, as RFC 8200 §4.4 says for an unrecognized type
//!   (and RFC 5095 for type 0). Linux answers the same for the types it does not process; it
//!   drops segment routing headers (types 3 and 4) silently unless they are enabled.
//! - **Fragment** (RFC 8200 §4.5): an atomic fragment (offset 0, M clear) is processed in
//!   isolation (RFC 6946): the walk goes on past it. Any other fragment ends the walk after the
//!   fragment header (what follows is reassembled first), after three checks in Linux's order:
//!   a first fragment must hold the whole chain through the upper-layer header (RFC 7112,
//!   code 3, pointer 0; as Linux, 20 bytes of a TCP header, 8 of UDP or ICMPv6, 1 of anything
//!   else); the packet reassembled from the fragment may not pass 65,535 bytes of payload
//!   (code 0, pointing at the Fragment Offset field); a fragment with M set must carry a
//!   multiple of 8 bytes (code 0, pointing at the Payload Length field).
//! - **The upper layer**: TCP, UDP, ICMPv6 and No Next Header end the walk. Any other value
//!   (AH, ESP, mobility, SCTP, ...) is answered as an unrecognized Next Header (RFC 8200 §4,
//!   code 1) pointing at the Next Header field that names it, as Linux does for a protocol it
//!   has no handler for.
//!
//! **Limits** ([`ExtHeaderLimits`], defaults after Linux): at most 8 non-padding options in a
//! Hop-by-Hop Options header and 8 in a Destination Options header (Linux's
//! `net.ipv6.max_hbh_opts_number` and `max_dst_opts_number`, both 8), runs of padding of at
//! most 7 bytes and PadN bytes all zero (Linux's `ip6_parse_tlv`, RFC 4942 §2.1.9.5). Linux
//! bounds no count of headers, only the packet; ustack walks at most 8, more than the 5 a
//! sender following RFC 8200 §4.1 puts in a packet of the kinds walked here. A header's length
//! is bounded by its own length field (2,048 bytes), so a walk reads at most 8 headers, each
//! scanned once. A packet over a limit is discarded silently ([`ParseError::LimitExceeded`]),
//! as Linux does; RFC 8883's optional ICMPv6 codes for such drops are not sent.
//!
//! **No-panic contract:** nothing here panics on any bytes. Only [`Ipv6FragRepr::emit`]
//! panics, on a caller bug: a buffer shorter than 8 bytes.

use core::fmt;

use crate::ParseError;
use crate::icmpv6::ParamProblem;
use crate::ipv4::IpProtocol;
use crate::ipv6::{self, Ipv6Packet};

/// Length of the Fragment header (RFC 8200 §4.5).
pub const FRAG_HEADER_LEN: usize = 8;

/// The longest run of padding (Pad1 and PadN bytes) accepted between two options: RFC 8200
/// §4.2 pads to 8-byte alignment, so 7 is the most that is ever needed (RFC 4942 §2.1.9.5).
pub const MAX_OPTION_PADDING: usize = 7;

/// Option type Pad1 (RFC 8200 §4.2).
pub const OPT_PAD1: u8 = 0;
/// Option type PadN (RFC 8200 §4.2).
pub const OPT_PADN: u8 = 1;

/// Whether a Next Header value names a header this module walks.
const fn is_walked(protocol: IpProtocol) -> bool {
    matches!(
        protocol,
        IpProtocol::HOP_BY_HOP
            | IpProtocol::ROUTING
            | IpProtocol::FRAGMENT
            | IpProtocol::DST_OPTIONS
    )
}

/// The bounds of a walk; see the module doc for where the defaults come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtHeaderLimits {
    /// Most extension headers in a chain (default 8).
    pub max_headers: usize,
    /// Most non-padding options in a Hop-by-Hop Options header (default 8, Linux's
    /// `net.ipv6.max_hbh_opts_number`).
    pub max_hbh_options: usize,
    /// Most non-padding options in a Destination Options header (default 8, Linux's
    /// `net.ipv6.max_dst_opts_number`).
    pub max_dst_options: usize,
}

impl ExtHeaderLimits {
    /// The defaults.
    pub const DEFAULT: ExtHeaderLimits =
        ExtHeaderLimits { max_headers: 8, max_hbh_options: 8, max_dst_options: 8 };
}

impl Default for ExtHeaderLimits {
    fn default() -> Self {
        ExtHeaderLimits::DEFAULT
    }
}

/// One extension header in a chain, as [`ExtHeaderIter`] yields it: at least 8 bytes, its
/// length as its own length field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<'a> {
    kind: IpProtocol,
    offset: usize,
    bytes: &'a [u8],
}

impl<'a> ExtHeader<'a> {
    /// Which header it is: [`IpProtocol::HOP_BY_HOP`], [`IpProtocol::ROUTING`],
    /// [`IpProtocol::FRAGMENT`] or [`IpProtocol::DST_OPTIONS`].
    pub const fn kind(&self) -> IpProtocol {
        self.kind
    }

    /// Its offset in the bytes walked (for a packet, from the end of the fixed header).
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The whole header, Next Header byte first.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The Next Header field: what follows this header.
    pub const fn next_header(&self) -> IpProtocol {
        IpProtocol(self.bytes[0])
    }
}

/// Steps through a chain of extension headers, checking only that each fits in the bytes.
///
/// Yields the Hop-by-Hop Options, Routing, Fragment and Destination Options headers in order
/// and ends at the first other Next Header value, which [`pending`](Self::pending) then gives
/// with its offset. A header that does not fit is one `Err(ParseError::Truncated)`, then the
/// end. Each header is at least 8 bytes, so the iteration is bounded by the length.
#[derive(Debug, Clone)]
pub struct ExtHeaderIter<'a> {
    bytes: &'a [u8],
    next: IpProtocol,
    offset: usize,
    failed: bool,
}

impl<'a> ExtHeaderIter<'a> {
    /// A walk of `bytes` (for a packet, its payload), whose first header is `first` (the fixed
    /// header's Next Header).
    pub const fn new(first: IpProtocol, bytes: &'a [u8]) -> Self {
        ExtHeaderIter { bytes, next: first, offset: 0, failed: false }
    }

    /// The Next Header value not yet walked and the offset where its header starts: after the
    /// iteration ended without an error, the upper-layer protocol and where it starts.
    pub const fn pending(&self) -> (IpProtocol, usize) {
        (self.next, self.offset)
    }

    /// The upper-layer header as far as the chain can be followed without reassembly, the way
    /// Linux's `ipv6_skip_exthdr` finds it (but for AH, which Linux steps over and ustack does
    /// not handle): the walk stops at a Fragment header with a non-zero offset and returns
    /// [`IpProtocol::FRAGMENT`] and that header's offset (what follows it is not the start of
    /// the upper layer). For the quoted packet of an ICMPv6 error.
    pub fn upper_layer(mut self) -> Result<(IpProtocol, usize), ParseError> {
        for header in self.by_ref() {
            let header = header?;
            if header.kind == IpProtocol::FRAGMENT && frag_offset_field(header.bytes) != 0 {
                return Ok((IpProtocol::FRAGMENT, header.offset));
            }
        }
        Ok(self.pending())
    }
}

impl<'a> Iterator for ExtHeaderIter<'a> {
    type Item = Result<ExtHeader<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || !is_walked(self.next) {
            return None;
        }
        let rest = self.bytes.get(self.offset..).unwrap_or_default();
        let len = match (self.next, rest.get(1)) {
            (IpProtocol::FRAGMENT, _) => FRAG_HEADER_LEN,
            (_, Some(&words)) => (usize::from(words) + 1) * 8,
            (_, None) => usize::MAX,
        };
        let Some(bytes) = rest.get(..len) else {
            self.failed = true;
            return Some(Err(ParseError::Truncated));
        };
        let header = ExtHeader { kind: self.next, offset: self.offset, bytes };
        self.next = IpProtocol(bytes[0]);
        self.offset += len;
        Some(Ok(header))
    }
}

/// The Fragment Offset word's offset bits (in bytes) of an 8-byte fragment header.
fn frag_offset_field(header: &[u8]) -> u16 {
    u16::from_be_bytes([header[2], header[3]]) & !0x7
}

/// The Fragment header (RFC 8200 §4.5) as plain values.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Identification                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6FragRepr {
    /// The first header of the fragmentable part.
    pub next_header: IpProtocol,
    /// Offset of the fragment's data in the fragmentable part, in bytes (a multiple of 8).
    pub frag_offset: u16,
    /// More fragments follow (the M flag).
    pub more_frags: bool,
    /// Identification, shared by the fragments of one packet.
    pub ident: u32,
}

impl Ipv6FragRepr {
    /// Parses the first 8 bytes; the reserved fields are ignored on receipt (RFC 8200 §4.5).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] below 8 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Ipv6FragRepr, ParseError> {
        let Some(b) = bytes.get(..FRAG_HEADER_LEN) else {
            return Err(ParseError::Truncated);
        };
        Ok(Ipv6FragRepr {
            next_header: IpProtocol(b[0]),
            frag_offset: frag_offset_field(b),
            more_frags: b[3] & 0x01 != 0,
            ident: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// Whether it is an atomic fragment (offset 0, M clear: the whole packet), which RFC 6946
    /// processes in isolation, with no reassembly.
    pub const fn is_atomic(&self) -> bool {
        self.frag_offset == 0 && !self.more_frags
    }

    /// The header length: 8.
    pub const fn buffer_len(&self) -> usize {
        FRAG_HEADER_LEN
    }

    /// Writes the header into the first 8 bytes of `buf`, reserved fields zero. The low three
    /// bits of `frag_offset` are dropped.
    ///
    /// # Panics
    /// If `buf` is shorter than 8 bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let word = (self.frag_offset & !0x7) | u16::from(self.more_frags);
        buf[0] = self.next_header.0;
        buf[1] = 0;
        buf[2..4].copy_from_slice(&word.to_be_bytes());
        buf[4..8].copy_from_slice(&self.ident.to_be_bytes());
    }
}

impl fmt::Display for Ipv6FragRepr {
    /// `frag (id 0x12345678, offset 1232+)`, `+` when more fragments follow.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frag (id {:#010x}, offset {}{})",
            self.ident,
            self.frag_offset,
            if self.more_frags { "+" } else { "" }
        )
    }
}

/// A fragment header met in a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// The header's fields.
    pub repr: Ipv6FragRepr,
    /// Its offset in the payload: the extension headers of the unfragmentable part are the
    /// payload's first `offset` bytes, and the fragment's data starts at `offset + 8`.
    pub offset: usize,
    /// The offset in the packet of the Next Header field that names the fragment header (the
    /// fixed header's, or that of the last unfragmentable extension header): reassembly
    /// writes `repr.next_header` there (RFC 8200 §4.5).
    pub next_header_field: usize,
}

impl FragmentInfo {
    /// Where the fragment's data starts in the payload.
    pub const fn data_offset(&self) -> usize {
        self.offset + FRAG_HEADER_LEN
    }
}

/// The result of a successful walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Chain {
    /// The upper-layer protocol: TCP, UDP, ICMPv6 or No Next Header. For a fragment that is
    /// not atomic, the fragment header's Next Header (the walk stops there).
    pub protocol: IpProtocol,
    /// Where the upper-layer header starts in the payload (for a fragment that is not atomic,
    /// where its data starts).
    pub offset: usize,
    /// The offset in the packet of the Next Header field that holds `protocol`.
    pub protocol_field: usize,
    /// The fragment header: one that is not atomic (which ended the walk), else the first
    /// atomic one, else none.
    pub fragment: Option<FragmentInfo>,
}

impl Ipv6Chain {
    /// Whether the packet is a fragment to reassemble (a fragment header that is not atomic).
    pub fn needs_reassembly(&self) -> bool {
        self.fragment.is_some_and(|f| !f.repr.is_atomic())
    }
}

/// Why a walk ended without an upper-layer header, and what RFC 8200 §4 says to do about it.
///
/// A [`ParamProblem`](Self::ParamProblem) is an answer to send, subject to the rules of RFC
/// 4443 §2.4 that belong to the sender: rate limits, and no error about a packet sent to a
/// multicast address but Packet Too Big and Parameter Problem code 2. The walk already turns
/// an option whose type says "only if not multicast" into a silent discard for a multicast
/// destination, so a code 2 left over for one is always to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtHeaderError {
    /// Discard the packet silently, for this reason.
    Discard(ParseError),
    /// Discard the packet and answer with an ICMPv6 Parameter Problem (RFC 4443 §3.4).
    ParamProblem {
        /// Its code.
        reason: ParamProblem,
        /// Its pointer: the offset of the offending byte from the start of the IPv6 header.
        pointer: u32,
    },
}

impl ExtHeaderError {
    /// A short stable name, suitable for a counter label.
    pub const fn name(self) -> &'static str {
        match self {
            ExtHeaderError::Discard(e) => e.name(),
            ExtHeaderError::ParamProblem { reason, .. } => match reason {
                ParamProblem::ErroneousField => "param_problem_header_field",
                ParamProblem::UnrecognizedNextHeader => "param_problem_next_header",
                ParamProblem::UnrecognizedOption => "param_problem_option",
                ParamProblem::IncompleteChain => "param_problem_incomplete_chain",
                _ => "param_problem",
            },
        }
    }

    const fn problem(reason: ParamProblem, pointer: usize) -> ExtHeaderError {
        // Pointers are offsets in a packet of at most 40 + 65,535 bytes.
        ExtHeaderError::ParamProblem { reason, pointer: pointer as u32 }
    }
}

impl fmt::Display for ExtHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtHeaderError::Discard(e) => write!(f, "discarded: {e}"),
            ExtHeaderError::ParamProblem { reason, pointer } => {
                write!(f, "parameter problem: {reason} at byte {pointer}")
            }
        }
    }
}

impl core::error::Error for ExtHeaderError {}

impl From<ParseError> for ExtHeaderError {
    fn from(e: ParseError) -> Self {
        ExtHeaderError::Discard(e)
    }
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Walks the extension headers as a host receiving the packet (see the module doc for
    /// what each header and each limit does). Never panics, even on a view built with
    /// `new_unchecked`: the lengths are checked again first.
    pub fn walk_ext_headers(&self, limits: &ExtHeaderLimits) -> Result<Ipv6Chain, ExtHeaderError> {
        self.check_len()?;
        let payload = self.payload();
        let dst_multicast = self.dst_addr().is_multicast();
        let mut headers = ExtHeaderIter::new(self.next_header(), payload);
        // The Next Header field that names the header about to be walked.
        let mut field = ipv6::NEXT_HEADER_FIELD;
        let mut count = 0;
        let mut fragment = None;
        loop {
            let (next, offset) = headers.pending();
            if !is_walked(next) {
                return match next {
                    IpProtocol::TCP
                    | IpProtocol::UDP
                    | IpProtocol::ICMPV6
                    | IpProtocol::NO_NEXT_HEADER => {
                        Ok(Ipv6Chain { protocol: next, offset, protocol_field: field, fragment })
                    }
                    _ => Err(ExtHeaderError::problem(ParamProblem::UnrecognizedNextHeader, field)),
                };
            }
            if next == IpProtocol::HOP_BY_HOP && offset != 0 {
                return Err(ExtHeaderError::problem(ParamProblem::UnrecognizedNextHeader, field));
            }
            count += 1;
            if count > limits.max_headers {
                return Err(ParseError::LimitExceeded.into());
            }
            let Some(header) = headers.next() else {
                // is_walked(next) holds, so the iterator yields; stop rather than loop.
                return Err(ParseError::Truncated.into());
            };
            let header = header?;
            let at = ipv6::HEADER_LEN + header.offset;
            match header.kind {
                IpProtocol::HOP_BY_HOP => {
                    check_options(header.bytes, at, limits.max_hbh_options, dst_multicast)?
                }
                IpProtocol::DST_OPTIONS => {
                    check_options(header.bytes, at, limits.max_dst_options, dst_multicast)?
                }
                IpProtocol::ROUTING => {
                    // Segments Left (byte 3) non-zero asks for forwarding, which no routing
                    // type gets from ustack: point at the Routing Type (byte 2).
                    if header.bytes[3] != 0 {
                        return Err(ExtHeaderError::problem(ParamProblem::ErroneousField, at + 2));
                    }
                }
                _ => {
                    let repr = Ipv6FragRepr::parse(header.bytes)?;
                    let info =
                        FragmentInfo { repr, offset: header.offset, next_header_field: field };
                    if repr.is_atomic() {
                        fragment = fragment.or(Some(info));
                    } else {
                        check_fragment(payload, &info, &mut count, limits)?;
                        return Ok(Ipv6Chain {
                            protocol: repr.next_header,
                            offset: info.data_offset(),
                            protocol_field: at,
                            fragment: Some(info),
                        });
                    }
                }
            }
            field = at;
        }
    }
}

/// The options of a Hop-by-Hop or Destination Options header that starts at byte `at` of the
/// packet (RFC 8200 §4.2, with Linux's `ip6_parse_tlv` limits).
fn check_options(
    header: &[u8],
    at: usize,
    max_options: usize,
    dst_multicast: bool,
) -> Result<(), ExtHeaderError> {
    let mut i = 2;
    let mut padding = 0;
    let mut options = 0;
    while let Some(&kind) = header.get(i) {
        let malformed = ExtHeaderError::Discard(ParseError::BadOption { kind });
        if kind == OPT_PAD1 {
            padding += 1;
            if padding > MAX_OPTION_PADDING {
                return Err(malformed);
            }
            i += 1;
            continue;
        }
        let len = header.get(i + 1).map_or(usize::MAX, |&l| usize::from(l));
        let Some(body) = header.get(i + 2..).and_then(|rest| rest.get(..len)) else {
            return Err(malformed);
        };
        if kind == OPT_PADN {
            padding += 2 + len;
            // RFC 4942 §2.1.9.5: padding longer than alignment needs, or not zero, is a
            // covert channel; Linux drops both.
            if padding > MAX_OPTION_PADDING || body.iter().any(|&b| b != 0) {
                return Err(malformed);
            }
        } else {
            options += 1;
            if options > max_options {
                return Err(ParseError::LimitExceeded.into());
            }
            // No option but padding is known: the type's two high bits decide.
            match kind >> 6 {
                0b00 => {}
                0b01 => return Err(ParseError::Unsupported.into()),
                0b11 if dst_multicast => return Err(ParseError::Unsupported.into()),
                _ => return Err(ExtHeaderError::problem(ParamProblem::UnrecognizedOption, at + i)),
            }
            padding = 0;
        }
        i += 2 + len;
    }
    Ok(())
}

/// The checks on a fragment that is not atomic (RFC 8200 §4.5), in Linux's order
/// (`ipv6_frag_rcv`, then `ip6_frag_queue`).
fn check_fragment(
    payload: &[u8],
    info: &FragmentInfo,
    count: &mut usize,
    limits: &ExtHeaderLimits,
) -> Result<(), ExtHeaderError> {
    let data = payload.get(info.data_offset()..).unwrap_or_default();
    if info.repr.frag_offset == 0 {
        check_first_fragment(info.repr.next_header, data, count, limits)?;
    }
    // RFC 8200 §4.5: "If the length and offset of a fragment are such that the Payload Length
    // of the packet reassembled from that fragment would exceed 65,535 octets". The reassembled
    // payload is the unfragmentable extension headers plus the fragmentable part (Linux
    // leaves out the former).
    let reassembled = info.offset + usize::from(info.repr.frag_offset) + data.len();
    if reassembled > usize::from(u16::MAX) {
        let fragment_offset_field = ipv6::HEADER_LEN + info.offset + 2;
        return Err(ExtHeaderError::problem(ParamProblem::ErroneousField, fragment_offset_field));
    }
    // "If the length of a fragment ... is not a multiple of 8 octets and the M flag of that
    // fragment is 1".
    if info.repr.more_frags && data.len() % 8 != 0 {
        return Err(ExtHeaderError::problem(ParamProblem::ErroneousField, ipv6::PAYLOAD_LEN_FIELD));
    }
    Ok(())
}

/// RFC 8200 §4.5 and RFC 7112: "If the first fragment does not include all headers through an
/// Upper-Layer header, then that fragment should be discarded and an ICMP Parameter Problem,
/// Code 3, message should be sent to the source of the fragment, with the Pointer field set to
/// zero." The upper-layer header must be there as far as Linux's `ipv6frag_thdr_truncated`
/// asks: 20 bytes of TCP, 8 of UDP or ICMPv6, 1 of another protocol, none after No Next
/// Header; a further fragment header with a non-zero offset ends the check.
fn check_first_fragment(
    first: IpProtocol,
    data: &[u8],
    count: &mut usize,
    limits: &ExtHeaderLimits,
) -> Result<(), ExtHeaderError> {
    let incomplete = ExtHeaderError::problem(ParamProblem::IncompleteChain, 0);
    let mut headers = ExtHeaderIter::new(first, data);
    loop {
        let (next, offset) = headers.pending();
        if !is_walked(next) {
            let needed = match next {
                IpProtocol::TCP => 20,
                IpProtocol::UDP | IpProtocol::ICMPV6 => 8,
                IpProtocol::NO_NEXT_HEADER => 0,
                _ => 1,
            };
            return if data.len() - offset < needed { Err(incomplete) } else { Ok(()) };
        }
        *count += 1;
        if *count > limits.max_headers {
            return Err(ParseError::LimitExceeded.into());
        }
        match headers.next() {
            Some(Ok(h)) if h.kind == IpProtocol::FRAGMENT && frag_offset_field(h.bytes) != 0 => {
                return Ok(());
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(incomplete),
        }
    }
}

#[cfg(test)]
#[path = "ipv6ext_tests.rs"]
mod tests;
