//! UDP (RFC 768): a checked zero-copy view and a plain representation.
//!
//! **No-panic contract:** after [`UdpPacket::new_checked`] succeeds, no getter panics.
//! [`UdpRepr::parse`] never panics. Only emit panics, on a buffer shorter than
//! [`UdpRepr::buffer_len`].
//!
//! Over IPv4 and IPv6 alike: the addresses passed to the checksum functions (two
//! [`Ipv4Addr`](core::net::Ipv4Addr)s or two [`Ipv6Addr`](core::net::Ipv6Addr)s) pick the
//! pseudo-header and the rule for a zero checksum field, which means "none" over IPv4 (RFC
//! 768) and is invalid over IPv6 (RFC 8200 §8.1).

use core::fmt;

use crate::ParseError;
use crate::checksum::{self, PseudoHeader};
use crate::ipv4::IpProtocol;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A checked view over a UDP datagram in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checking it (for buffers about to be emitted into).
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps untrusted bytes: the header is present and the length field covers at least the
    /// header and at most the buffer. Bytes past the length field are ignored.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let packet = UdpPacket { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let field = self.len() as usize;
        if field < HEADER_LEN {
            return Err(ParseError::BadTotalLength);
        }
        if field > len {
            return Err(ParseError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }

    /// The length field: header plus payload.
    pub fn len(&self) -> u16 {
        self.u16_at(4)
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() as usize == HEADER_LEN
    }

    /// The checksum field (0: the sender computed none).
    pub fn checksum(&self) -> u16 {
        self.u16_at(6)
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len() as usize]
    }

    /// Whether the checksum verifies. A zero checksum field means "none": over IPv4 it
    /// verifies (RFC 768), over IPv6 it does not (RFC 8200 §8.1: "IPv6 receivers must discard
    /// UDP packets containing a zero checksum").
    pub fn verify_checksum<A: PseudoHeader>(&self, src: A, dst: A) -> bool {
        if self.checksum() == 0 {
            return A::UDP_ZERO_CHECKSUM_ALLOWED;
        }
        let len = self.len();
        let mut c = checksum::Checksum::new();
        c.add_sum(A::pseudo_header(src, dst, IpProtocol::UDP.0, len as u32));
        c.add_bytes(&self.buffer.as_ref()[..len as usize]);
        c.sum() == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    fn set_u16_at(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.set_u16_at(0, value)
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.set_u16_at(2, value)
    }

    /// Sets the length field.
    pub fn set_len(&mut self, value: u16) {
        self.set_u16_at(4, value)
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(6, value)
    }

    /// The payload, writable, up to the length field.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = self.len() as usize;
        &mut self.buffer.as_mut()[HEADER_LEN..len]
    }

    /// Computes and writes the checksum over pseudo-header, header and payload. A computed
    /// zero is sent as 0xffff, since zero means "no checksum" (RFC 768; RFC 8200 §8.1 for
    /// IPv6).
    pub fn fill_checksum<A: PseudoHeader>(&mut self, src: A, dst: A) {
        self.set_checksum(0);
        let len = self.len();
        let mut c = checksum::Checksum::new();
        c.add_sum(A::pseudo_header(src, dst, IpProtocol::UDP.0, len as u32));
        c.add_bytes(&self.buffer.as_ref()[..len as usize]);
        let sum = c.finish();
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
}

/// A parsed UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    /// Parses a checked view sent from `src` to `dst` (both IPv4 or both IPv6), verifying the
    /// checksum ([`UdpPacket::verify_checksum`]: a zero field is accepted over IPv4 and is
    /// [`ParseError::BadChecksum`] over IPv6). Destination port 0 is reserved and rejected as
    /// [`ParseError::BadField`].
    pub fn parse<T: AsRef<[u8]> + ?Sized, A: PseudoHeader>(
        packet: &UdpPacket<&'a T>,
        src: A,
        dst: A,
    ) -> Result<UdpRepr<'a>, ParseError> {
        packet.check_len()?;
        if packet.dst_port() == 0 {
            return Err(ParseError::BadField);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(ParseError::BadChecksum);
        }
        let bytes: &'a [u8] = packet.buffer.as_ref();
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload: &bytes[HEADER_LEN..packet.len() as usize],
        })
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes header, payload and the checksum for `src` and `dst` (both IPv4 or both IPv6).
    /// The payload must fit the 16-bit length field.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>, A: PseudoHeader>(
        &self,
        packet: &mut UdpPacket<T>,
        src: A,
        dst: A,
    ) {
        debug_assert!(self.buffer_len() <= u16::MAX as usize, "UDP datagram over 65535 bytes");
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(self.buffer_len() as u16);
        packet.payload_mut().copy_from_slice(self.payload);
        packet.fill_checksum(src, dst);
    }
}

impl fmt::Display for UdpRepr<'_> {
    /// tcpdump style: `5353 > 53: UDP, length 12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}: UDP, length {}", self.src_port, self.dst_port, self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;
    use std::vec;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A DNS query header as sent by a real resolver: 10.0.0.1:5353 -> 10.0.0.2:53, 12-byte
    /// payload, checksum computed by hand over the pseudo-header.
    #[test]
    fn hand_checked_datagram() {
        let payload = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut bytes = vec![0x14, 0xe9, 0x00, 0x35, 0x00, 0x14, 0x00, 0x00];
        bytes.extend(payload);
        // Pseudo-header: 0a00 0001 0a00 0002 0011 0014; header: 14e9 0035 0014;
        // payload: 1234 0100 0001 0000 0000 0000.
        let sum: u32 = [
            0x0a00u32, 0x0001, 0x0a00, 0x0002, 0x0011, 0x0014, 0x14e9, 0x0035, 0x0014, 0x1234,
            0x0100, 0x0001,
        ]
        .iter()
        .sum();
        let folded = ((sum & 0xffff) + (sum >> 16)) as u16;
        bytes[6..8].copy_from_slice(&(!folded).to_be_bytes());
        let p = UdpPacket::new_checked(&bytes[..]).unwrap();
        let repr = UdpRepr::parse(&p, SRC, DST).unwrap();
        assert_eq!((repr.src_port, repr.dst_port), (5353, 53));
        assert_eq!(repr.payload, &payload);
        assert_eq!(std::format!("{repr}"), "5353 > 53: UDP, length 12");
        // Our emit writes the same checksum.
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), SRC, DST);
        assert_eq!(out, bytes);
    }

    #[test]
    fn zero_checksum_means_none() {
        let bytes = [0, 7, 0, 9, 0, 9, 0, 0, 0xab];
        let p = UdpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, SRC, DST).unwrap().payload, &[0xab]);
    }

    #[test]
    fn errors_name_their_reason() {
        let mut bytes = vec![0u8; 20];
        let repr = UdpRepr { src_port: 1, dst_port: 2, payload: b"hello" };
        repr.emit(&mut UdpPacket::new_unchecked(&mut bytes[..]), SRC, DST);
        assert_eq!(UdpPacket::new_checked(&bytes[..7]).unwrap_err(), ParseError::Truncated);
        assert_eq!(UdpPacket::new_checked(&bytes[..12]).unwrap_err(), ParseError::Truncated);
        let mut short = bytes.clone();
        short[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(UdpPacket::new_checked(&short[..]).unwrap_err(), ParseError::BadTotalLength);
        let mut corrupt = bytes.clone();
        corrupt[9] ^= 0x40;
        let p = UdpPacket::new_checked(&corrupt[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, SRC, DST).unwrap_err(), ParseError::BadChecksum);
        let p = UdpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            UdpRepr::parse(&p, SRC, Ipv4Addr::new(10, 0, 0, 3)).unwrap_err(),
            ParseError::BadChecksum
        );
        let mut port0 = bytes.clone();
        port0[2..4].copy_from_slice(&[0, 0]);
        let p = UdpPacket::new_checked(&port0[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, SRC, DST).unwrap_err(), ParseError::BadField);
    }

    /// A datagram the Linux kernel sent from fd00::1 to fd00::2 port 9 (its checksum, 0x96e8,
    /// computed by Linux over the IPv6 pseudo-header).
    #[test]
    fn linux_datagram_over_ipv6() {
        use crate::ipv6::tests::{FD00_1, FD00_2, LINUX_UDP};
        let bytes = &LINUX_UDP[40..];
        let p = UdpPacket::new_checked(bytes).unwrap();
        assert!(p.verify_checksum(FD00_1, FD00_2));
        let repr = UdpRepr::parse(&p, FD00_1, FD00_2).unwrap();
        assert_eq!(
            (repr.src_port, repr.dst_port, repr.payload),
            (45_005, 9, &b"from the kernel"[..])
        );
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), FD00_1, FD00_2);
        assert_eq!(out, bytes);
        // The same bytes between other addresses do not verify.
        let other = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3);
        assert_eq!(UdpRepr::parse(&p, FD00_1, other), Err(ParseError::BadChecksum));
    }

    /// RFC 8200 §8.1: "IPv6 receivers must discard UDP packets containing a zero checksum";
    /// RFC 768 lets IPv4 senders leave it zero.
    #[test]
    fn zero_checksum_is_none_over_ipv4_and_invalid_over_ipv6() {
        let bytes = [0, 7, 0, 9, 0, 9, 0, 0, 0xab];
        let p = UdpPacket::new_checked(&bytes[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        let (s6, d6) = (Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST);
        assert!(!p.verify_checksum(s6, d6));
        assert_eq!(UdpRepr::parse(&p, s6, d6), Err(ParseError::BadChecksum));
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip_v6(src: u16, dst in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..600),
                                    a: [u8; 16], b: [u8; 16]) {
            let (sa, da) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            let repr = UdpRepr { src_port: src, dst_port: dst, payload: &payload };
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut UdpPacket::new_unchecked(&mut buf[..]), sa, da);
            let p = UdpPacket::new_checked(&buf[..]).unwrap();
            prop_assert_ne!(p.checksum(), 0);
            prop_assert_eq!(UdpRepr::parse(&p, sa, da).unwrap(), repr);
        }

        #[test]
        fn parse_emit_round_trip(src: u16, dst in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..600),
                                 a: [u8; 4], b: [u8; 4]) {
            let (sa, da) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
            let repr = UdpRepr { src_port: src, dst_port: dst, payload: &payload };
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut UdpPacket::new_unchecked(&mut buf[..]), sa, da);
            let p = UdpPacket::new_checked(&buf[..]).unwrap();
            prop_assert_ne!(p.checksum(), 0);
            prop_assert_eq!(UdpRepr::parse(&p, sa, da).unwrap(), repr);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = UdpPacket::new_checked(&bytes[..]) {
                let _ = (p.src_port(), p.dst_port(), p.len(), p.is_empty(), p.checksum(), p.payload());
                let _ = UdpRepr::parse(&p, SRC, DST);
            }
        }
    }
}
