//! IPv4 (RFC 791): a checked zero-copy view and a plain representation.
//!
//! **No-panic contract:** after [`Ipv4Packet::new_checked`] succeeds, no getter of the view
//! panics, whatever the bytes. [`Ipv4Repr::parse`] never panics. Only the emit side may
//! panic, on a caller bug: a buffer shorter than [`Ipv4Repr::buffer_len`].
//!
//! Header options are accepted and skipped: the view exposes them as bytes, the repr drops
//! them (ustack never sends IP options).

use core::fmt;
use core::net::Ipv4Addr;

use crate::ParseError;
use crate::checksum;

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// The value of the IPv4 protocol field and of an IPv6 Next Header field: one IANA registry
/// of protocol numbers serves both, IPv6 extension headers included.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// IPv6 Hop-by-Hop Options header (0; RFC 8200 §4.3).
    pub const HOP_BY_HOP: IpProtocol = IpProtocol(0);
    /// ICMP (1).
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// TCP (6).
    pub const TCP: IpProtocol = IpProtocol(6);
    /// UDP (17).
    pub const UDP: IpProtocol = IpProtocol(17);
    /// IPv6 Routing header (43; RFC 8200 §4.4).
    pub const ROUTING: IpProtocol = IpProtocol(43);
    /// IPv6 Fragment header (44; RFC 8200 §4.5).
    pub const FRAGMENT: IpProtocol = IpProtocol(44);
    /// ICMPv6 (58; RFC 4443).
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    /// IPv6 No Next Header (59; RFC 8200 §4.7): nothing follows.
    pub const NO_NEXT_HEADER: IpProtocol = IpProtocol(59);
    /// IPv6 Destination Options header (60; RFC 8200 §4.6).
    pub const DST_OPTIONS: IpProtocol = IpProtocol(60);
}

impl fmt::Debug for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpProtocol::HOP_BY_HOP => f.write_str("hop-by-hop"),
            IpProtocol::ICMP => f.write_str("ICMP"),
            IpProtocol::TCP => f.write_str("TCP"),
            IpProtocol::UDP => f.write_str("UDP"),
            IpProtocol::ROUTING => f.write_str("routing"),
            IpProtocol::FRAGMENT => f.write_str("fragment"),
            IpProtocol::ICMPV6 => f.write_str("ICMP6"),
            IpProtocol::NO_NEXT_HEADER => f.write_str("no-next-header"),
            IpProtocol::DST_OPTIONS => f.write_str("dst-options"),
            IpProtocol(other) => write!(f, "proto-{other}"),
        }
    }
}

mod field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOS: usize = 1;
    pub(super) const LENGTH: core::ops::Range<usize> = 2..4;
    pub(super) const IDENT: core::ops::Range<usize> = 4..6;
    pub(super) const FLG_OFF: core::ops::Range<usize> = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: core::ops::Range<usize> = 10..12;
    pub(super) const SRC: core::ops::Range<usize> = 12..16;
    pub(super) const DST: core::ops::Range<usize> = 16..20;
}

/// Flag bits of the fragment word (RFC 791 §3.1).
const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A checked view over an IPv4 packet in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it; getters may panic on a short buffer. Use for
    /// buffers about to be written by [`Ipv4Repr::emit`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps untrusted bytes after checking that every getter stays in bounds: the fixed
    /// header is present, the version is 4, the header length is at least 20 and within the
    /// total length, and the total length is within the buffer. A buffer longer than the
    /// total length (link padding) is accepted; [`payload`](Self::payload) stops at the total
    /// length. The checksum is not checked here: see [`verify_checksum`](Self::verify_checksum).
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let packet = Ipv4Packet { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    fn check_len(&self) -> Result<(), ParseError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if self.version() != 4 {
            return Err(ParseError::BadVersion);
        }
        let header_len = self.header_len();
        let total_len = self.total_len() as usize;
        if header_len < HEADER_LEN {
            return Err(ParseError::BadHeaderLength);
        }
        if total_len < header_len {
            // Either the header length is past the end or the total length is too small;
            // RFC 791 defines total length as header plus data, so blame the header length
            // when the buffer cannot hold it, else the total length.
            return Err(if header_len > b.len() {
                ParseError::BadHeaderLength
            } else {
                ParseError::BadTotalLength
            });
        }
        if total_len > b.len() {
            return Err(ParseError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }

    /// The version field (4).
    pub fn version(&self) -> u8 {
        self.b()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        ((self.b()[field::VER_IHL] & 0x0f) as usize) * 4
    }

    /// The DSCP (upper six bits of the former TOS byte).
    pub fn dscp(&self) -> u8 {
        self.b()[field::TOS] >> 2
    }

    /// The ECN codepoint (lower two bits of the former TOS byte).
    pub fn ecn(&self) -> u8 {
        self.b()[field::TOS] & 0x03
    }

    /// The total length field: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }

    /// The reserved flag bit (must be zero, RFC 791).
    pub fn reserved_flag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_RESERVED != 0
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_DF != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_MF != 0
    }

    /// The fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.u16_at(field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// The time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    /// The protocol field.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.b()[field::PROTOCOL])
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.b()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.b()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The header options, as bytes (empty when the header is 20 bytes).
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }

    /// Whether the header checksum verifies (the sum over the header is all ones).
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.b()[..self.header_len()]) == 0xffff
    }

    /// The payload: from the end of the header to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn set_u16_at(&mut self, r: core::ops::Range<usize>, value: u16) {
        self.bm()[r].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets version 4 and the header length in bytes (a multiple of 4, 20 to 60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.bm()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Sets DSCP and ECN.
    pub fn set_dscp_ecn(&mut self, dscp: u8, ecn: u8) {
        self.bm()[field::TOS] = tos(dscp, ecn);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, value: u16) {
        self.set_u16_at(field::LENGTH, value)
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, value: u16) {
        self.set_u16_at(field::IDENT, value)
    }

    /// Sets the flags and the fragment offset (in bytes; the low three bits are dropped).
    /// The reserved bit is always written as zero.
    pub fn set_flags_and_offset(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        self.set_u16_at(field::FLG_OFF, flags_and_offset(dont_frag, more_frags, offset))
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        self.bm()[field::TTL] = value;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: IpProtocol) {
        self.bm()[field::PROTOCOL] = value.0;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM, value)
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.bm()[field::SRC].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.bm()[field::DST].copy_from_slice(&addr.octets());
    }

    /// Computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::data(&self.b()[..header_len]);
        self.set_checksum(checksum::finish(sum));
    }

    /// The payload, writable (from the end of the header to the total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), self.total_len() as usize);
        &mut self.bm()[start..end]
    }
}

/// A parsed IPv4 header, options left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated services codepoint, 0 to 63.
    pub dscp: u8,
    /// ECN codepoint, 0 to 3.
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
    /// More Fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
}

impl Ipv4Repr {
    /// Parses a checked view, verifying the header checksum (RFC 791: a datagram whose header
    /// checksum fails is discarded).
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr, ParseError> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(ParseError::BadChecksum);
        }
        Ok(Ipv4Repr::from_fields(packet))
    }

    /// The repr of a view's fields, with no check: the caller has checked the lengths (the
    /// quoted header of an ICMP error is read this way, its total length being the original
    /// datagram's).
    pub(crate) fn from_fields<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Ipv4Repr {
        Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: (packet.total_len() as usize).saturating_sub(packet.header_len()),
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        }
    }

    /// Whether this is a fragment (MF set or a non-zero offset).
    pub const fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// The header length emit writes: always 20, ustack sends no IP options.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header, checksum included, into the first 20 bytes of the view; the payload
    /// is the caller's to write (before or after). `payload_len + 20` must fit in 16 bits and
    /// `frag_offset` be a multiple of 8 (its low bits are dropped).
    ///
    /// # Panics
    /// If the buffer is shorter than 20 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        debug_assert!(self.buffer_len() <= u16::MAX as usize, "IPv4 packet over 65535 bytes");
        packet.set_version_and_header_len(HEADER_LEN);
        packet.set_dscp_ecn(self.dscp, self.ecn);
        packet.set_total_len(self.buffer_len() as u16);
        packet.set_ident(self.ident);
        packet.set_flags_and_offset(self.dont_frag, self.more_frags, self.frag_offset);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.set_checksum(checksum::finish(self.header_sum()));
    }

    /// The folded sum of the header `emit` writes, checksum field zero, computed from the
    /// field values rather than read back from the bytes just written.
    fn header_sum(&self) -> u16 {
        let (src, dst) = (u32::from(self.src), u32::from(self.dst));
        let words = [
            u16::from_be_bytes([0x40 | (HEADER_LEN / 4) as u8, tos(self.dscp, self.ecn)]),
            self.buffer_len() as u16,
            self.ident,
            flags_and_offset(self.dont_frag, self.more_frags, self.frag_offset),
            u16::from_be_bytes([self.ttl, self.protocol.0]),
        ];
        let mut sum: u32 = words.iter().map(|&w| u32::from(w)).sum();
        sum += (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
        checksum::combine(&[(sum >> 16) as u16, sum as u16])
    }
}

/// The TOS byte: DSCP in its upper six bits, ECN in the lower two.
const fn tos(dscp: u8, ecn: u8) -> u8 {
    (dscp << 2) | (ecn & 0x03)
}

/// The flags and fragment offset word (`offset` in bytes, stored in 8-byte units).
const fn flags_and_offset(dont_frag: bool, more_frags: bool, offset: u16) -> u16 {
    let mut word = (offset >> 3) & OFFSET_MASK;
    if dont_frag {
        word |= FLAG_DF;
    }
    if more_frags {
        word |= FLAG_MF;
    }
    word
}

impl fmt::Display for Ipv4Repr {
    /// tcpdump style: `10.0.0.1 > 10.0.0.2: TCP, ttl 64, id 7, DF, length 60`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}: {}, ttl {}, id {}",
            self.src, self.dst, self.protocol, self.ttl, self.ident
        )?;
        if self.dont_frag {
            f.write_str(", DF")?;
        }
        if self.is_fragment() {
            write!(
                f,
                ", frag offset {}{}",
                self.frag_offset,
                if self.more_frags { "+" } else { "" }
            )?;
        }
        write!(f, ", length {}", self.buffer_len())
    }
}

#[cfg(test)]
#[path = "ipv4_tests.rs"]
pub(crate) mod tests;
