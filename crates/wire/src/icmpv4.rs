//! ICMPv4 (RFC 792): echo request and reply, and destination unreachable with the quoted
//! header of the datagram that caused it (including "fragmentation needed" with the next-hop
//! MTU of RFC 1191).
//!
//! **No-panic contract:** after [`Icmpv4Packet::new_checked`] succeeds, no getter panics.
//! [`Icmpv4Repr::parse`] never panics. Only emit panics, on a buffer shorter than
//! [`Icmpv4Repr::buffer_len`].

use core::fmt;

use crate::ParseError;
use crate::checksum;
use crate::ipv4::{self, Ipv4Packet, Ipv4Repr};

/// Length of the ICMP header common to the messages parsed here (type, code, checksum and
/// four bytes of rest-of-header).
pub const HEADER_LEN: usize = 8;

/// Message type: echo reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Message type: destination unreachable.
pub const TYPE_DST_UNREACHABLE: u8 = 3;
/// Message type: echo request.
pub const TYPE_ECHO_REQUEST: u8 = 8;

/// The code of a destination unreachable message (RFC 792, RFC 1122 §3.2.2.1, RFC 1812).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum DstUnreachable {
    NetUnreachable = 0,
    HostUnreachable = 1,
    ProtoUnreachable = 2,
    PortUnreachable = 3,
    /// Fragmentation needed and DF set; carries the next-hop MTU (RFC 1191).
    FragRequired = 4,
    SrcRouteFailed = 5,
    DstNetUnknown = 6,
    DstHostUnknown = 7,
    SrcHostIsolated = 8,
    NetProhibited = 9,
    HostProhibited = 10,
    NetUnreachToS = 11,
    HostUnreachToS = 12,
    CommProhibited = 13,
    HostPrecedenceViolation = 14,
    PrecedenceCutoff = 15,
}

impl DstUnreachable {
    /// The code for a value, or `None` past 15.
    pub const fn from_code(code: u8) -> Option<Self> {
        use DstUnreachable::*;
        Some(match code {
            0 => NetUnreachable,
            1 => HostUnreachable,
            2 => ProtoUnreachable,
            3 => PortUnreachable,
            4 => FragRequired,
            5 => SrcRouteFailed,
            6 => DstNetUnknown,
            7 => DstHostUnknown,
            8 => SrcHostIsolated,
            9 => NetProhibited,
            10 => HostProhibited,
            11 => NetUnreachToS,
            12 => HostUnreachToS,
            13 => CommProhibited,
            14 => HostPrecedenceViolation,
            15 => PrecedenceCutoff,
            _ => return None,
        })
    }

    /// The code value.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Whether RFC 1122 §4.2.3.9 calls it a hard error for TCP (protocol unreachable, port
    /// unreachable, fragmentation needed are the hard ones; Linux also treats administrative
    /// prohibitions as hard).
    pub const fn is_hard_error(self) -> bool {
        matches!(
            self,
            DstUnreachable::ProtoUnreachable
                | DstUnreachable::PortUnreachable
                | DstUnreachable::FragRequired
                | DstUnreachable::NetProhibited
                | DstUnreachable::HostProhibited
                | DstUnreachable::CommProhibited
        )
    }
}

impl fmt::Display for DstUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DstUnreachable::*;
        f.write_str(match self {
            NetUnreachable => "net unreachable",
            HostUnreachable => "host unreachable",
            ProtoUnreachable => "protocol unreachable",
            PortUnreachable => "port unreachable",
            FragRequired => "fragmentation needed",
            SrcRouteFailed => "source route failed",
            DstNetUnknown => "destination net unknown",
            DstHostUnknown => "destination host unknown",
            SrcHostIsolated => "source host isolated",
            NetProhibited => "net prohibited",
            HostProhibited => "host prohibited",
            NetUnreachToS => "net unreachable for ToS",
            HostUnreachToS => "host unreachable for ToS",
            CommProhibited => "communication prohibited",
            HostPrecedenceViolation => "host precedence violation",
            PrecedenceCutoff => "precedence cutoff",
        })
    }
}

/// A checked view over an ICMPv4 message in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it (for buffers about to be emitted into).
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps untrusted bytes: at least the 8-byte header is present. The whole buffer is
    /// the message (the IPv4 layer has already cut it to its payload).
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[1]
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

    /// Destination unreachable, fragmentation needed: the next-hop MTU (RFC 1191); zero
    /// from routers that predate it.
    pub fn next_hop_mtu(&self) -> u16 {
        self.u16_at(6)
    }

    /// Everything after the 8-byte header: echo data, or the quoted datagram.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    fn set_u16_at(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

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
        self.set_u16_at(2, value)
    }

    /// Sets the four rest-of-header bytes as two 16-bit words (echo identifier and sequence
    /// number; for destination unreachable, zero and the next-hop MTU).
    pub fn set_rest_of_header(&mut self, high: u16, low: u16) {
        self.set_u16_at(4, high);
        self.set_u16_at(6, low);
    }

    /// Everything after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(checksum::finish(sum));
    }
}

/// A parsed ICMPv4 message of a type ustack handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr<'a> {
    /// Echo request ("ping").
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to be echoed.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echoed data.
        data: &'a [u8],
    },
    /// Destination unreachable, quoting the header of the datagram that caused it.
    DstUnreachable {
        /// Why.
        reason: DstUnreachable,
        /// Next-hop MTU (meaningful for [`DstUnreachable::FragRequired`], else zero).
        next_hop_mtu: u16,
        /// The quoted IP header. Its `payload_len` is the original datagram's, which is
        /// usually longer than the `data` quoted.
        header: Ipv4Repr,
        /// The quoted bytes after the IP header: at least the first 8 (RFC 792), which hold
        /// the ports of TCP and UDP (and TCP's sequence number).
        data: &'a [u8],
    },
}

/// The quoted datagram must carry at least this much after its IP header (RFC 792: "Internet
/// Header + 64 bits of Data Datagram").
const MIN_QUOTED_DATA: usize = 8;

impl<'a> Icmpv4Repr<'a> {
    /// Parses a checked view, verifying the checksum. Types other than echo and destination
    /// unreachable are [`ParseError::Unsupported`].
    ///
    /// The quoted header of a destination unreachable is parsed leniently: its total length
    /// may exceed what was quoted (only part of the datagram is quoted) and its checksum is
    /// not verified, but it must be IPv4 with a sane header length and at least 8 bytes of
    /// data must follow it.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
    ) -> Result<Icmpv4Repr<'a>, ParseError> {
        let bytes: &'a [u8] = packet.buffer.as_ref();
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if !packet.verify_checksum() {
            return Err(ParseError::BadChecksum);
        }
        let data = &bytes[HEADER_LEN..];
        match (packet.msg_type(), packet.msg_code()) {
            (TYPE_ECHO_REQUEST, 0) => Ok(Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            (TYPE_ECHO_REPLY, 0) => Ok(Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            (TYPE_DST_UNREACHABLE, code) => {
                let reason = DstUnreachable::from_code(code).ok_or(ParseError::BadField)?;
                let (header, data) = parse_quoted(data)?;
                Ok(Icmpv4Repr::DstUnreachable {
                    reason,
                    next_hop_mtu: packet.next_hop_mtu(),
                    header,
                    data,
                })
            }
            (TYPE_ECHO_REQUEST | TYPE_ECHO_REPLY, _) => Err(ParseError::BadField),
            _ => Err(ParseError::Unsupported),
        }
    }

    /// The message length: header plus data (plus the 20-byte quoted header for destination
    /// unreachable).
    pub const fn buffer_len(&self) -> usize {
        match self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv4Repr::DstUnreachable { data, .. } => HEADER_LEN + ipv4::HEADER_LEN + data.len(),
        }
    }

    /// Writes the message and its checksum.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv4Packet<T>) {
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, data }
            | Icmpv4Repr::EchoReply { ident, seq_no, data } => {
                let ty = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    TYPE_ECHO_REQUEST
                } else {
                    TYPE_ECHO_REPLY
                };
                packet.set_msg_type(ty);
                packet.set_msg_code(0);
                packet.set_rest_of_header(ident, seq_no);
                packet.data_mut()[..data.len()].copy_from_slice(data);
            }
            Icmpv4Repr::DstUnreachable { reason, next_hop_mtu, header, data } => {
                packet.set_msg_type(TYPE_DST_UNREACHABLE);
                packet.set_msg_code(reason.code());
                packet.set_rest_of_header(0, next_hop_mtu);
                let out = packet.data_mut();
                header.emit(&mut Ipv4Packet::new_unchecked(&mut out[..ipv4::HEADER_LEN]));
                out[ipv4::HEADER_LEN..ipv4::HEADER_LEN + data.len()].copy_from_slice(data);
            }
        }
        let len = self.buffer_len();
        let mut whole = Icmpv4Packet::new_unchecked(&mut packet.buffer.as_mut()[..len]);
        whole.fill_checksum();
    }
}

/// Parses the quoted IP header of an error message and the data after it.
fn parse_quoted(quoted: &[u8]) -> Result<(Ipv4Repr, &[u8]), ParseError> {
    if quoted.len() < ipv4::HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let view = Ipv4Packet::new_unchecked(quoted);
    if view.version() != 4 {
        return Err(ParseError::BadVersion);
    }
    let header_len = view.header_len();
    if header_len < ipv4::HEADER_LEN || header_len > quoted.len() {
        return Err(ParseError::BadHeaderLength);
    }
    let total_len = view.total_len() as usize;
    if total_len < header_len {
        return Err(ParseError::BadTotalLength);
    }
    let data = &quoted[header_len..];
    if data.len() < MIN_QUOTED_DATA {
        return Err(ParseError::Truncated);
    }
    let header = Ipv4Repr::from_fields(&view);
    Ok((header, data))
}

impl fmt::Display for Icmpv4Repr<'_> {
    /// tcpdump style: `ICMP echo request, id 7, seq 1, length 64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                write!(
                    f,
                    "ICMP echo request, id {ident}, seq {seq_no}, length {}",
                    self.buffer_len()
                )
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                write!(f, "ICMP echo reply, id {ident}, seq {seq_no}, length {}", self.buffer_len())
            }
            Icmpv4Repr::DstUnreachable { reason, next_hop_mtu, header, data } => {
                write!(f, "ICMP {} {}", header.dst, reason)?;
                if data.len() >= 4 {
                    let dport = u16::from_be_bytes([data[2], data[3]]);
                    write!(f, " ({} port {dport})", header.protocol)?;
                }
                if *reason == DstUnreachable::FragRequired {
                    write!(f, ", mtu {next_hop_mtu}")?;
                }
                write!(f, ", length {}", self.buffer_len())
            }
        }
    }
}

#[cfg(test)]
#[path = "icmpv4_tests.rs"]
mod tests;
