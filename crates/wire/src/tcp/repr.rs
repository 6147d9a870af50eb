//! [`TcpRepr`]: a TCP segment as plain values.

use core::fmt;

use super::{HEADER_LEN, TcpFlags, TcpOptionIter, TcpOptions, TcpPacket, field};
use crate::checksum::{self, PseudoHeader};
use crate::{ParseError, SeqNum};

/// A TCP segment as plain values: every header field raw, the options parsed, the payload
/// borrowed.
///
/// Fields are the wire values, not their interpretation: `ack` is kept when ACK is not set,
/// `window` is unscaled, `urgent` is kept when URG is not set. So
/// `TcpRepr::parse(emit(x)) == x` for every `x` whose SACK blocks all fit (see
/// [`TcpOptions::sack_capacity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment number, significant only with ACK.
    pub ack: SeqNum,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window: u16,
    /// Urgent pointer, significant only with URG.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a segment sent from `src` to `dst`: two [`Ipv4Addr`](core::net::Ipv4Addr)s or
    /// two [`Ipv6Addr`](core::net::Ipv6Addr)s, which decide the pseudo-header the checksum
    /// covers (RFC 9293 §3.1, RFC 8200 §8.1).
    ///
    /// Checks the length (as [`TcpPacket::check_len`]), then the checksum: SPEC S16 and
    /// RFC 9293 §3.10.7.4 drop a segment whose checksum fails, so a bad one is
    /// `BadChecksum` before any option is read. Then parses the options
    /// ([`TcpOptions::parse`]). Never panics.
    pub fn parse<A: PseudoHeader>(
        packet: &TcpPacket<&'a [u8]>,
        src: A,
        dst: A,
    ) -> Result<TcpRepr<'a>, ParseError> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(ParseError::BadChecksum);
        }
        TcpRepr::parse_trusted(packet)
    }

    /// Parses a segment whose checksum is not to be checked here: one the device that
    /// delivered it vouched for. A TUN device with checksum offload hands over the local
    /// kernel's segments with the checksum field only seeded (Linux's `CHECKSUM_PARTIAL`:
    /// the data came from the host's own memory, and Linux's receive path takes such a
    /// segment as verified too). Checks the length and parses the options as
    /// [`parse`](Self::parse) does. Never panics.
    pub fn parse_trusted(packet: &TcpPacket<&'a [u8]>) -> Result<TcpRepr<'a>, ParseError> {
        packet.check_len()?;
        let options = TcpOptions::parse(packet.options())?;
        let buffer: &'a [u8] = packet.buffer;
        let payload = buffer.get(packet.header_len()..).ok_or(ParseError::BadHeaderLength)?;
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            options,
            payload,
        })
    }

    /// The header length in bytes, options included: 20 plus
    /// [`TcpOptions::buffer_len`], a multiple of 4 no larger than 60.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.buffer_len()
    }

    /// The segment length in bytes: header and payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// The length in sequence space (RFC 9293 §3.3.1 SEG.LEN): the payload plus one for SYN
    /// and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    /// Writes the segment into the first [`buffer_len`](Self::buffer_len) bytes of the
    /// packet's buffer: header, options (in the layout of [`TcpOptions::emit`], SACK blocks
    /// that do not fit dropped from the tail), payload, and the checksum for `src` and `dst`
    /// (both IPv4 or both IPv6).
    /// The reserved bits are written as zero (RFC 9293 §3.1: "Must be zero in generated
    /// segments").
    ///
    /// The checksum covers those `buffer_len()` bytes only: a caller emitting into a larger
    /// buffer must send just that prefix.
    ///
    /// # Panics
    ///
    /// When the buffer is shorter than `buffer_len()`: a caller bug.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>, A: PseudoHeader>(
        &self,
        packet: &mut TcpPacket<T>,
        src: A,
        dst: A,
    ) {
        let header_len = self.header_len();
        let total = header_len + self.payload.len();
        let mut seg = TcpPacket::new_unchecked(&mut packet.buffer.as_mut()[..total]);
        seg.buffer[field::OFFSET_NS] = 0;
        seg.set_src_port(self.src_port);
        seg.set_dst_port(self.dst_port);
        seg.set_seq_number(self.seq);
        seg.set_ack_number(self.ack);
        seg.set_header_len(header_len);
        seg.set_flags(self.flags);
        seg.set_window_len(self.window);
        seg.set_urgent_at(self.urgent);
        self.options.emit(&mut seg.buffer[HEADER_LEN..header_len]);
        // The payload is summed as it is copied (one pass over it), then the header, which
        // ends on an even offset, with its checksum field zero.
        let payload_sum = checksum::copy_and_sum(&mut seg.buffer[header_len..], self.payload);
        seg.set_checksum(0);
        let sum = checksum::combine(&[
            A::pseudo_header(src, dst, super::PROTOCOL, total as u32),
            self.header_sum(header_len, &seg.buffer[HEADER_LEN..header_len]),
            payload_sum,
        ]);
        seg.set_checksum(checksum::finish(sum));
    }

    /// The folded sum of the header `emit` writes (`options`: the option bytes it wrote),
    /// checksum field zero, taken from the field values rather than read back from the bytes
    /// just written; the options of nearly every established segment, `NOP NOP TS`, too.
    fn header_sum(&self, header_len: usize, options: &[u8]) -> u16 {
        let word = |v: u32| (v >> 16) + (v & 0xffff);
        let mut sum = u32::from(self.src_port)
            + u32::from(self.dst_port)
            + word(self.seq.0)
            + word(self.ack.0)
            + (((header_len / 4) as u32) << 12 | u32::from(self.flags.bits() & 0x1ff))
            + u32::from(self.window)
            + u32::from(self.urgent);
        match self.options.timestamps {
            Some(ts) if header_len == HEADER_LEN + 12 && !self.options.sack_permitted => {
                sum += 0x0101 + 0x080a + word(ts.tsval) + word(ts.tsecr);
            }
            _ => sum += u32::from(checksum::data(options)),
        }
        checksum::combine(&[(sum >> 16) as u16, sum as u16])
    }
}

impl fmt::Display for TcpRepr<'_> {
    /// tcpdump's line without addresses, sequence numbers absolute (`tcpdump -S`):
    /// `1234 > 80: Flags [S], seq 100, win 64240, options [mss 1460,sackOK,TS val 5 ecr 0,nop,wscale 7], length 0`.
    ///
    /// As tcpdump (`print-tcp.c`): `seq` appears when there is payload or SYN, FIN or RST, as
    /// `first:past-last` when there is payload; `ack` with ACK; `urg` with URG; `options` when
    /// there are any, in the order [`emit`](TcpRepr::emit) writes them, NOPs included;
    /// `length` is the payload length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}: Flags {}", self.src_port, self.dst_port, self.flags)?;
        let len = self.payload.len();
        if len > 0 || self.flags.intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) {
            write!(f, ", seq {}", self.seq)?;
            if len > 0 {
                write!(f, ":{}", self.seq + len)?;
            }
        }
        if self.flags.contains(TcpFlags::ACK) {
            write!(f, ", ack {}", self.ack)?;
        }
        write!(f, ", win {}", self.window)?;
        if self.flags.contains(TcpFlags::URG) {
            write!(f, ", urg {}", self.urgent)?;
        }
        if !self.options.is_empty() {
            let mut bytes = [0u8; TcpOptions::MAX_LEN];
            let n = self.options.emit(&mut bytes);
            f.write_str(", options [")?;
            let mut first = true;
            for option in TcpOptionIter::new(&bytes[..n]) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                // Our own emit output always parses; were it not to, show the error.
                match option {
                    Ok(option) => write!(f, "{option}")?,
                    Err(e) => write!(f, "{e}")?,
                }
            }
            f.write_str("]")?;
        }
        write!(f, ", length {len}")
    }
}
