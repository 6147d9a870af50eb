//! The one error type of every parser in this crate.

use core::fmt;

/// Why a buffer could not be parsed. Each variant names one reason, so a counter per drop
/// reason can be kept by the layers above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// The buffer is shorter than the fixed header, or than a length the header declares.
    Truncated,
    /// The IP version field is not the one expected: 4 in an IPv4 header, 6 in an IPv6
    /// header (a quoted header of an ICMP error included).
    BadVersion,
    /// A header-length field (IPv4 IHL, TCP data offset) is below the minimum or past the
    /// end of the packet.
    BadHeaderLength,
    /// A total-length field (IPv4 total length, UDP length) is inconsistent with the header
    /// or with the buffer.
    BadTotalLength,
    /// The checksum does not verify.
    BadChecksum,
    /// An option's length byte is malformed: below 2, past the end of the options, or wrong
    /// for an option of fixed size (MSS, window scale, SACK-permitted, timestamps, SACK,
    /// Fast Open cookie).
    BadOption {
        /// The option kind whose length is malformed.
        kind: u8,
    },
    /// A field holds a value the protocol forbids (e.g. an IPv4 packet with both DF and a
    /// fragment offset that overflows, a TCP segment with SYN and RST).
    BadField,
    /// A message type this crate does not parse (e.g. an ICMP type other than echo and
    /// destination unreachable), or an IPv6 option it does not know whose type says to
    /// discard the packet silently (RFC 8200 §4.2, action `01`, or `11` sent to multicast).
    Unsupported,
    /// A count over a bound this crate keeps to make parsing cheap whatever the input: the
    /// IPv6 extension headers in a chain, the options in one of them
    /// ([`ExtHeaderLimits`](crate::ipv6ext::ExtHeaderLimits)).
    LimitExceeded,
}

impl ParseError {
    /// A short stable name, suitable for a counter label (`truncated`, `bad_checksum`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ParseError::Truncated => "truncated",
            ParseError::BadVersion => "bad_version",
            ParseError::BadHeaderLength => "bad_header_length",
            ParseError::BadTotalLength => "bad_total_length",
            ParseError::BadChecksum => "bad_checksum",
            ParseError::BadOption { .. } => "bad_option",
            ParseError::BadField => "bad_field",
            ParseError::Unsupported => "unsupported",
            ParseError::LimitExceeded => "limit_exceeded",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated => f.write_str("truncated packet"),
            ParseError::BadVersion => f.write_str("bad IP version"),
            ParseError::BadHeaderLength => f.write_str("bad header length"),
            ParseError::BadTotalLength => f.write_str("bad total length"),
            ParseError::BadChecksum => f.write_str("bad checksum"),
            ParseError::BadOption { kind } => write!(f, "malformed option (kind {kind})"),
            ParseError::BadField => f.write_str("forbidden field value"),
            ParseError::Unsupported => f.write_str("unsupported message type or option"),
            ParseError::LimitExceeded => f.write_str("over a parsing limit"),
        }
    }
}

impl core::error::Error for ParseError {}
