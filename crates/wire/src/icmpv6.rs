//! ICMPv6 (RFC 4443): echo request and reply, and the four error messages, destination
//! unreachable, packet too big, time exceeded and parameter problem, each quoting the packet
//! that caused it.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Identifier / Sequence Number, MTU, Pointer or Unused         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Echo data, or as much of the invoking packet as fits 1280    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The checksum covers the IPv6 pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1, next header 58),
//! so parse, emit and the checksum functions take the source and destination addresses.
//!
//! **No-panic contract:** after [`Icmpv6Packet::new_checked`] succeeds, no getter panics.
//! [`Icmpv6Repr::parse`] and [`quote`] never panic. Only emit panics, on a buffer shorter
//! than [`Icmpv6Repr::buffer_len`].

use core::fmt;
use core::net::Ipv6Addr;

use crate::ParseError;
use crate::checksum;
use crate::ipv4::IpProtocol;
use crate::ipv6::{self, Ipv6Packet, Ipv6Repr};

/// Length of the ICMPv6 header common to the messages parsed here (type, code, checksum and
/// the four bytes that follow).
pub const HEADER_LEN: usize = 8;

/// The most bytes of the invoking packet an error message quotes: RFC 4443 §2.4(c) quotes "as
/// much of invoking packet as possible without the ICMPv6 packet exceeding the minimum IPv6
/// MTU", so 1280 less the IPv6 header and the ICMPv6 header.
pub const MAX_QUOTE_LEN: usize = ipv6::MIN_MTU - ipv6::HEADER_LEN - HEADER_LEN;

/// Message type: destination unreachable.
pub const TYPE_DST_UNREACHABLE: u8 = 1;
/// Message type: packet too big.
pub const TYPE_PACKET_TOO_BIG: u8 = 2;
/// Message type: time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 3;
/// Message type: parameter problem.
pub const TYPE_PARAM_PROBLEM: u8 = 4;
/// Message type: echo request.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Message type: echo reply.
pub const TYPE_ECHO_REPLY: u8 = 129;

/// Defines a code enum with `from_code`, `code` and `Display`.
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value,)*
        }

        impl $name {
            /// The code for a value, or `None` for one with no meaning assigned.
            pub const fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($value => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The code value.
            pub const fn code(self) -> u8 {
                self as u8
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $($name::$variant => $text,)*
                })
            }
        }
    };
}

codes! {
    /// The code of a destination unreachable message (RFC 4443 §3.1; 7 from RFC 6550, 8 from
    /// RFC 8883).
    DstUnreachable {
        /// No route to destination.
        NoRoute = 0 => "no route",
        /// Communication with destination administratively prohibited.
        AdminProhibited = 1 => "administratively prohibited",
        /// Beyond scope of source address.
        BeyondScope = 2 => "beyond scope of source address",
        /// Address unreachable.
        AddrUnreachable = 3 => "unreachable address",
        /// Port unreachable.
        PortUnreachable = 4 => "unreachable port",
        /// Source address failed ingress/egress policy.
        FailedPolicy = 5 => "source address failed policy",
        /// Reject route to destination.
        RejectRoute = 6 => "reject route",
        /// Error in source routing header (RFC 6550).
        SrcRoutingError = 7 => "source routing header error",
        /// Headers too long (RFC 8883).
        HeadersTooLong = 8 => "headers too long",
    }
}

impl DstUnreachable {
    /// Whether Linux makes it a hard error for a socket (`icmpv6_err_convert`: administrative
    /// prohibition, port unreachable, failed policy, reject route and the codes it has no
    /// entry for are fatal; no route, beyond scope and address unreachable are soft, as RFC
    /// 1122 §4.2.3.9 treats their IPv4 counterparts).
    pub const fn is_hard_error(self) -> bool {
        !matches!(
            self,
            DstUnreachable::NoRoute | DstUnreachable::BeyondScope | DstUnreachable::AddrUnreachable
        )
    }
}

codes! {
    /// The code of a time exceeded message (RFC 4443 §3.3).
    TimeExceeded {
        /// Hop limit exceeded in transit.
        HopLimit = 0 => "in-transit",
        /// Fragment reassembly time exceeded.
        Reassembly = 1 => "reassembly",
    }
}

codes! {
    /// The code of a parameter problem message (RFC 4443 §3.4; 3 from RFC 7112, 4 from RFC
    /// 8754, 5 to 10 from RFC 8883).
    ParamProblem {
        /// Erroneous header field encountered.
        ErroneousField = 0 => "erroneous header field",
        /// Unrecognized Next Header type encountered.
        UnrecognizedNextHeader = 1 => "unrecognized next header",
        /// Unrecognized IPv6 option encountered.
        UnrecognizedOption = 2 => "unrecognized option",
        /// IPv6 first fragment has incomplete IPv6 header chain (RFC 7112).
        IncompleteChain = 3 => "first fragment has incomplete header chain",
        /// SR upper-layer header error (RFC 8754).
        SrUpperLayer = 4 => "SR upper-layer header error",
        /// Unrecognized Next Header type encountered by intermediate node (RFC 8883).
        IntermediateNextHeader = 5 => "unrecognized next header at intermediate node",
        /// Extension header too big (RFC 8883).
        ExtHeaderTooBig = 6 => "extension header too big",
        /// Extension header chain too long (RFC 8883).
        ChainTooLong = 7 => "extension header chain too long",
        /// Too many extension headers (RFC 8883).
        TooManyExtHeaders = 8 => "too many extension headers",
        /// Too many options in extension header (RFC 8883).
        TooManyOptions = 9 => "too many options in extension header",
        /// Option too big (RFC 8883).
        OptionTooBig = 10 => "option too big",
    }
}

/// A checked view over an ICMPv6 message in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking it (for buffers about to be emitted into).
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps untrusted bytes: at least the 8-byte header is present. The whole buffer is
    /// the message (the IPv6 layer has already cut it to its payload, past any extension
    /// header).
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        Ok(Icmpv6Packet { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Whether the type is an error message (RFC 4443 §2.1: types 0 to 127; 128 to 255 are
    /// informational). RFC 4443 §2.4(a) passes an error of a type a node does not know to the
    /// upper layer, and §2.4(b) discards an unknown informational message silently.
    pub fn is_error(&self) -> bool {
        self.msg_type() < 128
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(2)
    }

    /// Echo messages: the identifier.
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(4)
    }

    /// Echo messages: the sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(6)
    }

    /// Packet too big: the MTU of the next-hop link.
    pub fn mtu(&self) -> u32 {
        self.u32_at(4)
    }

    /// Parameter problem: the offset in the invoking packet where the problem was found.
    pub fn pointer(&self) -> u32 {
        self.u32_at(4)
    }

    /// Everything after the 8-byte header: echo data, or the quoted invoking packet.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The folded sum over the pseudo-header and the whole message.
    fn checksum_sum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> u16 {
        let b = self.buffer.as_ref();
        checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6.0, b.len() as u32),
            checksum::data(b),
        ])
    }

    /// Whether the checksum over the pseudo-header for `src` and `dst` and the whole message
    /// verifies (RFC 4443 §2.3).
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        self.checksum_sum(src, dst) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the four bytes after the checksum: identifier and sequence number for echo
    /// (`ident << 16 | seq_no`), the MTU, the pointer, or zero.
    pub fn set_rest_of_header(&mut self, value: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&value.to_be_bytes());
    }

    /// Everything after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and writes the checksum over the pseudo-header for `src` and `dst` and the
    /// whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let sum = self.checksum_sum(src, dst);
        self.set_checksum(checksum::finish(sum));
    }
}

/// A parsed ICMPv6 message of a type ustack handles.
///
/// Each error carries the quoted invoking packet as its IPv6 header and the bytes after it
/// (extension headers, then the upper-layer header: [`crate::ipv6ext::ExtHeaderIter`] finds
/// it). The header's `payload_len` is the original packet's, usually longer than the `data`
/// quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Repr<'a> {
    /// Echo request ("ping", RFC 4443 §4.1).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to be echoed.
        data: &'a [u8],
    },
    /// Echo reply (RFC 4443 §4.2).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echoed data.
        data: &'a [u8],
    },
    /// Destination unreachable (RFC 4443 §3.1).
    DstUnreachable {
        /// Why.
        reason: DstUnreachable,
        /// The quoted IPv6 header.
        header: Ipv6Repr,
        /// The quoted bytes after it.
        data: &'a [u8],
    },
    /// Packet too big (RFC 4443 §3.2), the signal of Path MTU Discovery (RFC 8201).
    PacketTooBig {
        /// The MTU of the next-hop link, as reported (it may be below 1280; the receiver
        /// decides what to make of that, RFC 8201 §4).
        mtu: u32,
        /// The quoted IPv6 header.
        header: Ipv6Repr,
        /// The quoted bytes after it.
        data: &'a [u8],
    },
    /// Time exceeded (RFC 4443 §3.3).
    TimeExceeded {
        /// Hop limit or reassembly.
        reason: TimeExceeded,
        /// The quoted IPv6 header.
        header: Ipv6Repr,
        /// The quoted bytes after it.
        data: &'a [u8],
    },
    /// Parameter problem (RFC 4443 §3.4).
    ParamProblem {
        /// What kind of problem.
        reason: ParamProblem,
        /// The offset in the invoking packet, from the start of its IPv6 header, where the
        /// problem is.
        pointer: u32,
        /// The quoted IPv6 header.
        header: Ipv6Repr,
        /// The quoted bytes after it.
        data: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a checked view of a message sent from `src` to `dst`, verifying the checksum
    /// over the pseudo-header. Types other than echo and the four errors are
    /// [`ParseError::Unsupported`] (see [`Icmpv6Packet::is_error`] for what RFC 4443 §2.4
    /// asks of them); a code with no meaning assigned, or a non-zero echo code, is
    /// [`ParseError::BadField`]. The code of packet too big and the unused words of
    /// destination unreachable and time exceeded are ignored, as RFC 4443 §3 tells a receiver.
    ///
    /// The quoted packet of an error is parsed leniently: at least its 40-byte IPv6 header,
    /// version 6; its payload length may exceed what was quoted and what follows is not
    /// looked at.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv6Packet<&'a T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<Icmpv6Repr<'a>, ParseError> {
        let bytes: &'a [u8] = packet.buffer.as_ref();
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(ParseError::BadChecksum);
        }
        let data = &bytes[HEADER_LEN..];
        let code = packet.msg_code();
        match packet.msg_type() {
            TYPE_ECHO_REQUEST | TYPE_ECHO_REPLY if code != 0 => Err(ParseError::BadField),
            TYPE_ECHO_REQUEST => Ok(Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            TYPE_ECHO_REPLY => Ok(Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            TYPE_DST_UNREACHABLE => {
                let reason = DstUnreachable::from_code(code).ok_or(ParseError::BadField)?;
                let (header, data) = parse_quoted(data)?;
                Ok(Icmpv6Repr::DstUnreachable { reason, header, data })
            }
            TYPE_PACKET_TOO_BIG => {
                let (header, data) = parse_quoted(data)?;
                Ok(Icmpv6Repr::PacketTooBig { mtu: packet.mtu(), header, data })
            }
            TYPE_TIME_EXCEEDED => {
                let reason = TimeExceeded::from_code(code).ok_or(ParseError::BadField)?;
                let (header, data) = parse_quoted(data)?;
                Ok(Icmpv6Repr::TimeExceeded { reason, header, data })
            }
            TYPE_PARAM_PROBLEM => {
                let reason = ParamProblem::from_code(code).ok_or(ParseError::BadField)?;
                let (header, data) = parse_quoted(data)?;
                Ok(Icmpv6Repr::ParamProblem { reason, pointer: packet.pointer(), header, data })
            }
            _ => Err(ParseError::Unsupported),
        }
    }

    /// The quoted header and the bytes after it, for the error messages; `None` for echo.
    pub const fn quoted(&self) -> Option<(Ipv6Repr, &'a [u8])> {
        match *self {
            Icmpv6Repr::EchoRequest { .. } | Icmpv6Repr::EchoReply { .. } => None,
            Icmpv6Repr::DstUnreachable { header, data, .. }
            | Icmpv6Repr::PacketTooBig { header, data, .. }
            | Icmpv6Repr::TimeExceeded { header, data, .. }
            | Icmpv6Repr::ParamProblem { header, data, .. } => Some((header, data)),
        }
    }

    /// The message length: header plus data (plus the 40-byte quoted header for errors).
    pub const fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::PacketTooBig { data, .. }
            | Icmpv6Repr::TimeExceeded { data, .. }
            | Icmpv6Repr::ParamProblem { data, .. } => HEADER_LEN + ipv6::HEADER_LEN + data.len(),
        }
    }

    /// Writes the message and its checksum for `src` and `dst` into the first
    /// [`buffer_len`](Self::buffer_len) bytes of the view. The quote is written as given: build
    /// errors with [`quote`] so that they fit the minimum MTU.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv6Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        let len = self.buffer_len();
        let mut whole = Icmpv6Packet::new_unchecked(&mut packet.buffer.as_mut()[..len]);
        let (ty, code, rest) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                (TYPE_ECHO_REQUEST, 0, (u32::from(ident) << 16) | u32::from(seq_no))
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                (TYPE_ECHO_REPLY, 0, (u32::from(ident) << 16) | u32::from(seq_no))
            }
            Icmpv6Repr::DstUnreachable { reason, .. } => (TYPE_DST_UNREACHABLE, reason.code(), 0),
            Icmpv6Repr::PacketTooBig { mtu, .. } => (TYPE_PACKET_TOO_BIG, 0, mtu),
            Icmpv6Repr::TimeExceeded { reason, .. } => (TYPE_TIME_EXCEEDED, reason.code(), 0),
            Icmpv6Repr::ParamProblem { reason, pointer, .. } => {
                (TYPE_PARAM_PROBLEM, reason.code(), pointer)
            }
        };
        whole.set_msg_type(ty);
        whole.set_msg_code(code);
        whole.set_rest_of_header(rest);
        let out = whole.data_mut();
        match *self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                out.copy_from_slice(data);
            }
            Icmpv6Repr::DstUnreachable { header, data, .. }
            | Icmpv6Repr::PacketTooBig { header, data, .. }
            | Icmpv6Repr::TimeExceeded { header, data, .. }
            | Icmpv6Repr::ParamProblem { header, data, .. } => {
                let (quoted_header, rest) = out.split_at_mut(ipv6::HEADER_LEN);
                header.emit(&mut Ipv6Packet::new_unchecked(quoted_header));
                rest.copy_from_slice(data);
            }
        }
        whole.fill_checksum(src, dst);
    }
}

/// The quote of an error message about `invoking`, a packet from its IPv6 header on: its
/// header, and as many bytes after it as fit (RFC 4443 §2.4(c): the whole error packet within
/// the 1280-byte minimum MTU, so at most [`MAX_QUOTE_LEN`] bytes quoted in all). Bytes past
/// the packet's payload length (link padding) are not quoted.
///
/// # Errors
/// [`ParseError::Truncated`] below 40 bytes, [`ParseError::BadVersion`] if not IPv6.
pub fn quote(invoking: &[u8]) -> Result<(Ipv6Repr, &[u8]), ParseError> {
    let (header, data) = parse_quoted(invoking)?;
    let keep = header.payload_len.min(data.len()).min(MAX_QUOTE_LEN - ipv6::HEADER_LEN);
    Ok((header, &data[..keep]))
}

/// Parses the quoted IPv6 header of an error message and the bytes after it.
fn parse_quoted(quoted: &[u8]) -> Result<(Ipv6Repr, &[u8]), ParseError> {
    if quoted.len() < ipv6::HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let view = Ipv6Packet::new_unchecked(quoted);
    if view.version() != 6 {
        return Err(ParseError::BadVersion);
    }
    Ok((Ipv6Repr::from_fields(&view), &quoted[ipv6::HEADER_LEN..]))
}

impl fmt::Display for Icmpv6Repr<'_> {
    /// tcpdump style: `ICMP6, echo request, id 7, seq 1, length 64`,
    /// `ICMP6, destination unreachable, unreachable port, 2001:db8::2 UDP port 9, length 56`,
    /// `ICMP6, packet too big, mtu 1280, length 1240`,
    /// `ICMP6, time exceeded in-transit, length 88`,
    /// `ICMP6, parameter problem, unrecognized next header, pointer 6, length 56`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.buffer_len();
        match self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                write!(f, "ICMP6, echo request, id {ident}, seq {seq_no}, length {len}")
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                write!(f, "ICMP6, echo reply, id {ident}, seq {seq_no}, length {len}")
            }
            Icmpv6Repr::DstUnreachable { reason, header, data } => {
                write!(f, "ICMP6, destination unreachable, {reason}, {}", header.dst)?;
                // The port when the upper-layer header follows the IPv6 header directly.
                if matches!(header.next_header, IpProtocol::TCP | IpProtocol::UDP)
                    && data.len() >= 4
                {
                    let dport = u16::from_be_bytes([data[2], data[3]]);
                    write!(f, " {} port {dport}", header.next_header)?;
                }
                write!(f, ", length {len}")
            }
            Icmpv6Repr::PacketTooBig { mtu, .. } => {
                write!(f, "ICMP6, packet too big, mtu {mtu}, length {len}")
            }
            Icmpv6Repr::TimeExceeded { reason, .. } => {
                write!(f, "ICMP6, time exceeded {reason}, length {len}")
            }
            Icmpv6Repr::ParamProblem { reason, pointer, .. } => {
                write!(f, "ICMP6, parameter problem, {reason}, pointer {pointer}, length {len}")
            }
        }
    }
}

#[cfg(test)]
#[path = "icmpv6_tests.rs"]
mod tests;
