//! TCP segments (RFC 9293 §3.1): the checked view [`TcpPacket`], the plain [`TcpRepr`], the
//! control bits [`TcpFlags`] and the options [`TcpOptions`] (MSS, window scale, SACK-permitted,
//! SACK, timestamps, Fast Open; NOP and EOL as layout).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |     |N|C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsv |S|W|C|R|C|S|S|Y|I|            Window             |
//! |       |     | |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           [Options]                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             Data                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! **No-panic contract.** Nothing here panics on any input bytes:
//!
//! - [`TcpPacket::new_checked`] accepts any buffer and returns a [`ParseError`] unless it
//!   holds a whole header; after it succeeds, no getter panics.
//! - [`TcpRepr::parse`] checks the length again itself, so it does not panic even on a view
//!   built with `new_unchecked`; it verifies the checksum and parses every option.
//! - [`TcpOptions::parse`] and [`TcpOptionIter`] accept any bytes.
//!
//! The panics are caller bugs on the building side, each documented where it applies: the
//! getters and setters of a view built with [`TcpPacket::new_unchecked`] over fewer than 20
//! bytes, and emitting into a buffer shorter than `buffer_len()`.
//!
//! The wire layer keeps raw values and leaves judgments to the TCP layer: flag combinations
//! such as SYN+RST, port 0, an ACK number without ACK, options that are meaningful only on a
//! SYN, window shifts above 14 all parse as they are, so that a pcap decoder can show them
//! and `TcpRepr::parse(emit(x)) == x` holds for every `x` whose options fit.

mod flags;
mod options;
mod repr;

#[cfg(test)]
mod tests;

use crate::checksum::{self, PseudoHeader};
use crate::{ParseError, SeqNum};

pub use flags::TcpFlags;
pub use options::{
    FAST_OPEN_MAGIC, FastOpenCookie, KIND_EOL, KIND_EXPERIMENTAL, KIND_FAST_OPEN, KIND_MSS,
    KIND_NOP, KIND_SACK, KIND_SACK_PERMITTED, KIND_TIMESTAMPS, KIND_WINDOW_SCALE, SackBlock,
    SackList, TcpOption, TcpOptionIter, TcpOptions, Timestamps,
};
pub use repr::TcpRepr;

/// The IP protocol number of TCP, as it goes into the pseudo-header.
pub const PROTOCOL: u8 = 6;

/// The length of the fixed header, without options.
pub const HEADER_LEN: usize = 20;

/// The largest header, data offset 15.
pub const MAX_HEADER_LEN: usize = 60;

/// Byte offsets of the fixed header fields (RFC 9293 §3.1).
mod field {
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const SEQ: usize = 4;
    pub(super) const ACK: usize = 8;
    /// Data offset (high nibble), three reserved bits, NS (bit 0).
    pub(super) const OFFSET_NS: usize = 12;
    /// CWR ECE URG ACK PSH RST SYN FIN.
    pub(super) const FLAGS: usize = 13;
    pub(super) const WINDOW: usize = 14;
    pub(super) const CHECKSUM: usize = 16;
    pub(super) const URGENT: usize = 18;
}

/// A zero-copy view of a TCP segment (header, options and payload) in a buffer.
///
/// The buffer is the whole segment: the IP payload, sliced to the length the IP header
/// declares. [`verify_checksum`](Self::verify_checksum) and
/// [`fill_checksum`](Self::fill_checksum) cover all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it. Getters and setters panic if it is shorter than
    /// 20 bytes; use [`new_checked`](Self::new_checked) on untrusted bytes.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len); no getter panics afterwards.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>, ParseError> {
        let packet = TcpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header (`Truncated` otherwise) and that the data
    /// offset is at least 5 words and within the buffer (`BadHeaderLength` otherwise).
    ///
    /// RFC 9293 §3.1: "Data Offset (DOffset): 4 bits. The number of 32-bit words in the TCP
    /// header. This indicates where the data begins. The TCP header (even one including
    /// options) is an integer multiple of 32 bits long."
    pub fn check_len(&self) -> Result<(), ParseError> {
        let buf = self.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let header_len = usize::from(buf[field::OFFSET_NS] >> 4) * 4;
        if header_len < HEADER_LEN || header_len > buf.len() {
            return Err(ParseError::BadHeaderLength);
        }
        Ok(())
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn read_u32(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        self.read_u16(field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        self.read_u16(field::DST_PORT)
    }

    /// The sequence number.
    pub fn seq_number(&self) -> SeqNum {
        SeqNum(self.read_u32(field::SEQ))
    }

    /// The acknowledgment number, whether or not ACK is set.
    pub fn ack_number(&self) -> SeqNum {
        SeqNum(self.read_u32(field::ACK))
    }

    /// The header length in bytes: the data offset times 4.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFFSET_NS] >> 4) * 4
    }

    /// The control bits, NS included; the three other reserved bits are dropped.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits_truncate(self.read_u16(field::OFFSET_NS))
    }

    /// The window field, unscaled.
    pub fn window_len(&self) -> u16 {
        self.read_u16(field::WINDOW)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// The urgent pointer field, whether or not URG is set.
    pub fn urgent_at(&self) -> u16 {
        self.read_u16(field::URGENT)
    }

    /// The header length clamped into `20..=len`, so that slicing by it never panics even
    /// after a setter wrote a data offset the buffer cannot hold.
    fn header_end(&self) -> usize {
        let len = self.buffer.as_ref().len();
        self.header_len().max(HEADER_LEN).min(len)
    }

    /// The option bytes: the header past its fixed 20 bytes.
    pub fn options(&self) -> &[u8] {
        let end = self.header_end();
        &self.buffer.as_ref()[HEADER_LEN.min(end)..end]
    }

    /// The payload: the buffer past the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_end()..]
    }

    /// The folded ones-complement sum over the pseudo-header and the whole buffer.
    fn checksum_sum<A: PseudoHeader>(&self, src: A, dst: A) -> u16 {
        let buf = self.buffer.as_ref();
        checksum::combine(&[
            A::pseudo_header(src, dst, PROTOCOL, buf.len() as u32),
            checksum::data(buf),
        ])
    }

    /// The folded ones-complement sum over the pseudo-header for `src` and `dst` (the
    /// segment's length being the buffer's) and the header, options and checksum field
    /// included: [`checksum::combine`] of it and [`checksum::data`] of the payload (which
    /// starts at an even offset) is the sum [`verify_checksum`](Self::verify_checksum)
    /// compares with `0xffff`. Lets a receiver sum the payload as it copies it.
    pub fn header_sum<A: PseudoHeader>(&self, src: A, dst: A) -> u16 {
        let buf = self.buffer.as_ref();
        checksum::combine(&[
            A::pseudo_header(src, dst, PROTOCOL, buf.len() as u32),
            checksum::data(&buf[..self.header_end()]),
        ])
    }

    /// Whether the checksum verifies over the pseudo-header for `src` and `dst`, the header
    /// and the payload (RFC 9293 §3.1: "The checksum field is the 16-bit ones' complement of
    /// the ones' complement sum of all 16-bit words in the header and text"). The addresses
    /// are both IPv4 or both IPv6 (RFC 8200 §8.1: the IPv6 pseudo-header, with the segment
    /// length as its upper-layer packet length).
    pub fn verify_checksum<A: PseudoHeader>(&self, src: A, dst: A) -> bool {
        self.checksum_sum(src, dst) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn write_u16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    fn write_u32(&mut self, at: usize, value: u32) {
        self.buffer.as_mut()[at..at + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        self.write_u16(field::SRC_PORT, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        self.write_u16(field::DST_PORT, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: SeqNum) {
        self.write_u32(field::SEQ, seq.0);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: SeqNum) {
        self.write_u32(field::ACK, ack.0);
    }

    /// Sets the data offset to `len / 4` words, keeping the reserved bits and NS. `len` should
    /// be a multiple of 4 in `20..=60`; other values are stored truncated to 4 bits.
    pub fn set_header_len(&mut self, len: usize) {
        let byte = &mut self.buffer.as_mut()[field::OFFSET_NS];
        *byte = (((len / 4) as u8) << 4) | (*byte & 0x0f);
    }

    /// Sets the control bits, NS included, keeping the data offset and the reserved bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let [ns, low] = flags.bits().to_be_bytes();
        let buf = self.buffer.as_mut();
        buf[field::OFFSET_NS] = (buf[field::OFFSET_NS] & 0xfe) | (ns & 0x01);
        buf[field::FLAGS] = low;
    }

    /// Sets the window field.
    pub fn set_window_len(&mut self, window: u16) {
        self.write_u16(field::WINDOW, window);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.write_u16(field::CHECKSUM, checksum);
    }

    /// Sets the urgent pointer field.
    pub fn set_urgent_at(&mut self, urgent: u16) {
        self.write_u16(field::URGENT, urgent);
    }

    /// The option bytes, mutable; the data offset decides where they end.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_end();
        &mut self.buffer.as_mut()[HEADER_LEN.min(end)..end]
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_end();
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes the checksum over the pseudo-header for `src` and `dst` (both IPv4 or both
    /// IPv6) and the whole buffer, and stores it.
    pub fn fill_checksum<A: PseudoHeader>(&mut self, src: A, dst: A) {
        self.set_checksum(0);
        let sum = self.checksum_sum(src, dst);
        self.set_checksum(checksum::finish(sum));
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}
