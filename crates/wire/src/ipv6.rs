//! IPv6 (RFC 8200): a checked zero-copy view of the fixed header and a plain representation.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Source Address (128 bits)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Destination Address (128 bits)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! **No-panic contract:** after [`Ipv6Packet::new_checked`] succeeds, no getter of the view
//! panics, whatever the bytes, and neither does
//! [`walk_ext_headers`](Ipv6Packet::walk_ext_headers). [`Ipv6Repr::parse`] never panics. Only
//! the emit side may panic, on a caller bug: a buffer shorter than [`HEADER_LEN`].
//!
//! The payload of the view is everything after the fixed header, extension headers included;
//! [`crate::ipv6ext`] walks them. The repr is the fixed header only: ustack sends no extension
//! header but the fragment header ([`crate::ipv6ext::Ipv6FragRepr`]). IPv6 has no header
//! checksum. Jumbograms (RFC 2675) are not supported: a payload length of zero means an empty
//! payload.

use core::fmt;
use core::net::Ipv6Addr;

use crate::ParseError;
use crate::ipv4::IpProtocol;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The IPv6 minimum link MTU (RFC 8200 §5): every link carries packets of 1280 bytes without
/// fragmentation, so ICMPv6 errors are cut to fit it and a path MTU never goes below it.
pub const MIN_MTU: usize = 1280;

mod field {
    /// Version (4 bits), then the high 4 bits of the traffic class.
    pub(super) const VER_TC: usize = 0;
    /// Low 4 bits of the traffic class, then the high 4 bits of the flow label.
    pub(super) const TC_FLOW: usize = 1;
    pub(super) const PAYLOAD_LEN: core::ops::Range<usize> = 4..6;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC: core::ops::Range<usize> = 8..24;
    pub(super) const DST: core::ops::Range<usize> = 24..40;
}

/// Byte offset of the Payload Length field: the pointer of a Parameter Problem about a
/// fragment whose length is not a multiple of 8 (RFC 8200 §4.5).
pub const PAYLOAD_LEN_FIELD: usize = field::PAYLOAD_LEN.start;

/// Byte offset of the fixed header's Next Header field: the pointer of a Parameter Problem
/// about the first header of the chain.
pub const NEXT_HEADER_FIELD: usize = field::NEXT_HEADER;

/// The largest flow label (20 bits).
pub const MAX_FLOW_LABEL: u32 = 0x000f_ffff;

/// A checked view over an IPv6 packet in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking it; getters may panic on a short buffer. Use for
    /// buffers about to be written by [`Ipv6Repr::emit`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps untrusted bytes after checking that every getter stays in bounds: the fixed
    /// header is present, the version is 6, and the payload length is within the buffer. A
    /// buffer longer than header plus payload length (link padding) is accepted;
    /// [`payload`](Self::payload) stops at the payload length.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let packet = Ipv6Packet { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    pub(crate) fn check_len(&self) -> Result<(), ParseError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if self.version() != 6 {
            return Err(ParseError::BadVersion);
        }
        if HEADER_LEN + self.payload_len() as usize > b.len() {
            return Err(ParseError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub(crate) fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The version field (6).
    pub fn version(&self) -> u8 {
        self.b()[field::VER_TC] >> 4
    }

    /// The traffic class: DSCP in the upper six bits, ECN in the lower two (RFC 2474, RFC
    /// 3168).
    pub fn traffic_class(&self) -> u8 {
        let b = self.b();
        (b[field::VER_TC] << 4) | (b[field::TC_FLOW] >> 4)
    }

    /// The DSCP (upper six bits of the traffic class).
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// The ECN codepoint (lower two bits of the traffic class).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// The 20-bit flow label (RFC 6437).
    pub fn flow_label(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([0, b[field::TC_FLOW] & 0x0f, b[2], b[3]])
    }

    /// The payload length field: the bytes after the fixed header, extension headers
    /// included.
    pub fn payload_len(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::PAYLOAD_LEN.start], b[field::PAYLOAD_LEN.start + 1]])
    }

    /// The fixed header's Next Header field: the first extension header or the upper-layer
    /// protocol.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.b()[field::NEXT_HEADER])
    }

    /// The hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.b()[field::SRC]);
        Ipv6Addr::from(octets)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.b()[field::DST]);
        Ipv6Addr::from(octets)
    }

    /// The payload: from the end of the fixed header to the payload length, extension
    /// headers included.
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..HEADER_LEN + self.payload_len() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets version 6, the traffic class and the flow label (its low 20 bits) at once: the
    /// three share the first four bytes.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & MAX_FLOW_LABEL);
        self.bm()[..4].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        self.bm()[field::PAYLOAD_LEN].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the Next Header field.
    pub fn set_next_header(&mut self, value: IpProtocol) {
        self.bm()[field::NEXT_HEADER] = value.0;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.bm()[field::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.bm()[field::SRC].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.bm()[field::DST].copy_from_slice(&addr.octets());
    }

    /// The payload, writable (from the end of the fixed header to the payload length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + self.payload_len() as usize;
        &mut self.bm()[HEADER_LEN..end]
    }
}

/// A parsed IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The fixed header's Next Header: the first extension header, or the upper-layer
    /// protocol when there is none.
    pub next_header: IpProtocol,
    /// Payload length in bytes (extension headers included).
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Differentiated services codepoint, 0 to 63.
    pub dscp: u8,
    /// ECN codepoint, 0 to 3.
    pub ecn: u8,
    /// Flow label, 20 bits (RFC 6437).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses a checked view. There is nothing to verify past the lengths: IPv6 has no header
    /// checksum (RFC 8200 §3), and which addresses a host accepts is the stack's judgment.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr, ParseError> {
        packet.check_len()?;
        Ok(Ipv6Repr::from_fields(packet))
    }

    /// The repr of a view's fields, with no check: the caller has checked that 40 bytes are
    /// there (the quoted header of an ICMPv6 error is read this way, its payload length being
    /// the original packet's).
    pub(crate) fn from_fields<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Ipv6Repr {
        Ipv6Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: packet.payload_len() as usize,
            hop_limit: packet.hop_limit(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            flow_label: packet.flow_label(),
        }
    }

    /// The header length emit writes: always 40, extension headers are the caller's.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the fixed header into the first 40 bytes of the view; the payload (extension
    /// headers included) is the caller's to write. `payload_len` must fit in 16 bits, `dscp`
    /// in 6, `ecn` in 2 and `flow_label` in 20 (higher bits are dropped).
    ///
    /// # Panics
    /// If the buffer is shorter than 40 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) {
        debug_assert!(self.payload_len <= u16::MAX as usize, "IPv6 payload over 65535 bytes");
        packet.set_version_tc_flow((self.dscp << 2) | (self.ecn & 0x03), self.flow_label);
        packet.set_payload_len(self.payload_len as u16);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
    }
}

impl fmt::Display for Ipv6Repr {
    /// tcpdump style: `2001:db8::1 > 2001:db8::2: TCP, hlim 64, flowlabel 0x12345, length 60`
    /// (the flow label only when it is not zero; the length is header plus payload).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}: {}, hlim {}", self.src, self.dst, self.next_header, self.hop_limit)?;
        if self.flow_label != 0 {
            write!(f, ", flowlabel {:#07x}", self.flow_label)?;
        }
        write!(f, ", length {}", self.buffer_len())
    }
}

#[cfg(test)]
#[path = "ipv6_tests.rs"]
pub(crate) mod tests;
