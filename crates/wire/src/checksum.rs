//! The Internet checksum (RFC 1071), the IPv4 pseudo-header (RFC 9293 §3.1), the IPv6
//! pseudo-header (RFC 8200 §8.1) and incremental update (RFC 1624).
//!
//! Sums here are *folded* 16-bit ones-complement sums in network-order value (the value a
//! big-endian reader sees), not yet complemented; [`finish`] complements one into the field
//! value. A packet verifies when the sum over it, checksum field included, is `0xffff`.
//!
//! [`data`] runs over every byte ustack sends and receives, so it is written for the
//! vectorizer: it adds native-endian 16-bit words into 32-bit lanes and swaps once at the end
//! (RFC 1071 §2(B): the ones-complement sum is byte-order independent). docs/performance.md
//! records its speed beside a byte-at-a-time loop and a memcpy.
//!
//! [`PseudoHeader`] is what makes TCP, UDP and ICMPv6 address-family agnostic: their `parse`,
//! `emit`, `verify_checksum` and `fill_checksum` take the source and destination as any
//! `A: PseudoHeader` (an [`Ipv4Addr`] or an [`Ipv6Addr`] pair), and each family gets its own
//! monomorphized copy, so the IPv4 path is the same code it was before IPv6 existed.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Bytes summed into one 32-bit accumulator before it is folded into the 64-bit total:
/// 32,768 words of at most 0xffff cannot overflow 32 bits.
const BLOCK: usize = 65_536;

/// Folds a wide ones-complement sum into 16 bits.
#[inline]
const fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Sums native-endian 16-bit words; a trailing odd byte counts as the first byte of a word
/// whose second byte is zero.
#[inline]
fn sum_native(bytes: &[u8]) -> u64 {
    let mut total: u64 = 0;
    let mut blocks = bytes.chunks_exact(BLOCK);
    for block in &mut blocks {
        total += sum_block(block) as u64;
    }
    let rest = blocks.remainder();
    total += sum_block(rest) as u64;
    if rest.len() % 2 == 1 {
        total += u16::from_ne_bytes([rest[rest.len() - 1], 0]) as u64;
    }
    total
}

/// Sums the even-length prefix of at most [`BLOCK`] bytes. The loop shape (u16 words into a
/// u32 accumulator, no early exits) is the one LLVM vectorizes at the baseline target.
#[inline]
fn sum_block(block: &[u8]) -> u32 {
    debug_assert!(block.len() <= BLOCK);
    let mut acc: u32 = 0;
    for word in block.chunks_exact(2) {
        acc += u16::from_ne_bytes([word[0], word[1]]) as u32;
    }
    acc
}

/// The folded ones-complement sum of `bytes` taken as big-endian 16-bit words, padded with a
/// zero byte when the length is odd.
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    u16::from_be(fold(sum_native(bytes)))
}

/// The textbook loop: one big-endian word at a time into a u32. It is the oracle the fast
/// [`data`] is tested against and the baseline the checksum benchmark compares with.
pub fn data_bytewise(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        sum += u16::from_be_bytes([bytes[i], bytes[i + 1]]) as u64;
        i += 2;
    }
    if i < bytes.len() {
        sum += (bytes[i] as u64) << 8;
    }
    fold(sum)
}

/// Adds folded sums (ones-complement addition).
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    let mut total: u64 = 0;
    for &s in sums {
        total += s as u64;
    }
    fold(total)
}

/// The folded sum of the IPv4 pseudo-header: source, destination, zero, protocol, and the
/// length of the transport header plus payload.
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> u16 {
    let s = u32::from(src);
    let d = u32::from(dst);
    let sum = (s >> 16) as u64
        + (s & 0xffff) as u64
        + (d >> 16) as u64
        + (d & 0xffff) as u64
        + protocol as u64
        + (length >> 16) as u64
        + (length & 0xffff) as u64;
    fold(sum)
}

/// The folded sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, the 32-bit
/// upper-layer packet length, three zero bytes and the next header value of the upper-layer
/// protocol (not that of an extension header before it).
#[inline]
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut sum = next_header as u64 + (length >> 16) as u64 + (length & 0xffff) as u64;
    for addr in [src, dst] {
        for word in addr.segments() {
            sum += word as u64;
        }
    }
    fold(sum)
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for core::net::Ipv4Addr {}
    impl Sealed for core::net::Ipv6Addr {}
}

/// An address family as the transport checksums see it: the pseudo-header its addresses make
/// and its rule for a UDP checksum of zero. Implemented for [`Ipv4Addr`] and [`Ipv6Addr`] (and
/// sealed): source and destination are one type, so a pair of mixed families cannot be passed.
pub trait PseudoHeader: Copy + sealed::Sealed {
    /// Whether a UDP checksum field of zero means "the sender computed none" and is accepted
    /// (IPv4, RFC 768), or makes the datagram invalid (IPv6, RFC 8200 §8.1: "IPv6 receivers
    /// must discard UDP packets containing a zero checksum").
    const UDP_ZERO_CHECKSUM_ALLOWED: bool;

    /// The folded sum of the pseudo-header for a segment of `length` bytes of `protocol` from
    /// `src` to `dst`.
    fn pseudo_header(src: Self, dst: Self, protocol: u8, length: u32) -> u16;
}

impl PseudoHeader for Ipv4Addr {
    const UDP_ZERO_CHECKSUM_ALLOWED: bool = true;

    #[inline]
    fn pseudo_header(src: Self, dst: Self, protocol: u8, length: u32) -> u16 {
        pseudo_header_v4(src, dst, protocol, length)
    }
}

impl PseudoHeader for Ipv6Addr {
    const UDP_ZERO_CHECKSUM_ALLOWED: bool = false;

    #[inline]
    fn pseudo_header(src: Self, dst: Self, protocol: u8, length: u32) -> u16 {
        pseudo_header_v6(src, dst, protocol, length)
    }
}

/// The field value for a folded sum: its ones complement.
#[inline]
pub const fn finish(sum: u16) -> u16 {
    !sum
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changes from
/// `old` to `new`, without summing the data again: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub const fn update(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = (!checksum) as u64 + (!old) as u64 + new as u64;
    !fold(sum)
}

/// [`update`] for a 32-bit field (an address, a sequence number): two word updates.
#[inline]
pub const fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update(c, old as u16, new as u16)
}

/// A running checksum over pieces that may have odd lengths (a header in one buffer, the
/// payload in another). Each piece continues at the byte offset where the last one ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    sum: u64,
    odd: bool,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Self {
        Checksum { sum: 0, odd: false }
    }

    /// Adds a folded sum computed elsewhere (e.g. [`pseudo_header_v4`]); it must start at an
    /// even offset, so add such sums before any odd-length piece.
    pub fn add_sum(&mut self, sum: u16) -> &mut Self {
        debug_assert!(!self.odd, "a folded sum added after an odd-length piece");
        self.sum += sum as u64;
        self
    }

    /// Adds a piece of data that continues where the previous piece ended.
    pub fn add_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let s = data(bytes);
        // A piece that starts at an odd offset has its bytes in the other halves of words.
        self.sum += if self.odd { s.swap_bytes() } else { s } as u64;
        self.odd ^= bytes.len() % 2 == 1;
        self
    }

    /// The folded sum so far.
    pub const fn sum(&self) -> u16 {
        fold(self.sum)
    }

    /// The field value: the complement of the folded sum.
    pub const fn finish(&self) -> u16 {
        !fold(self.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(data_bytewise(&bytes), 0xddf2);
    }

    #[test]
    fn ipv4_header_verifies() {
        // A real IPv4 header (checksum b861) from the Wikipedia example.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(data(&hdr), 0xffff);
        let mut zeroed = hdr;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(finish(data(&zeroed)), 0xb861);
    }

    #[test]
    fn all_ones_and_block_boundaries() {
        for len in [0, 1, 2, 3, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7] {
            let buf: Vec<u8> = std::vec![0xff; len];
            assert_eq!(data(&buf), data_bytewise(&buf), "len {len}");
        }
    }

    proptest! {
        #[test]
        fn fast_matches_bytewise(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(data(&bytes), data_bytewise(&bytes));
        }

        #[test]
        fn pieces_match_whole(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                              cuts in proptest::collection::vec(0usize..600, 0..5)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut c = Checksum::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                c.add_bytes(&bytes[start..cut]);
                start = cut;
            }
            prop_assert_eq!(c.sum(), data(&bytes));
        }

        #[test]
        fn incremental_update_matches_recompute(
            mut bytes in proptest::collection::vec(any::<u8>(), 2..200),
            at in 0usize..100, new: u16,
        ) {
            let at = (at % (bytes.len() / 2)) * 2;
            let before = finish(data(&bytes));
            let old = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            bytes[at..at + 2].copy_from_slice(&new.to_be_bytes());
            let after = finish(data(&bytes));
            // RFC 1624 §3: eqn. 3 may give 0xffff where a recompute gives 0x0000 (both mean
            // zero in ones complement); it never gives the -0 the RFC 1141 form could.
            let inc = update(before, old, new);
            prop_assert!(inc == after || (inc == 0xffff && after == 0) || (inc == 0 && after == 0xffff));
        }

        #[test]
        fn pseudo_header_matches_bytes(src: u32, dst: u32, proto: u8, len: u16) {
            let mut b = [0u8; 12];
            b[0..4].copy_from_slice(&src.to_be_bytes());
            b[4..8].copy_from_slice(&dst.to_be_bytes());
            b[9] = proto;
            b[10..12].copy_from_slice(&len.to_be_bytes());
            prop_assert_eq!(
                pseudo_header_v4(Ipv4Addr::from(src), Ipv4Addr::from(dst), proto, len as u32),
                data(&b)
            );
        }

        /// RFC 8200 §8.1's figure: source (16), destination (16), upper-layer packet length
        /// (32 bits), three zero bytes, next header; summed as bytes it is the same sum.
        #[test]
        fn pseudo_header_v6_matches_bytes(src: u128, dst: u128, proto: u8, len: u32) {
            let mut b = [0u8; 40];
            b[0..16].copy_from_slice(&src.to_be_bytes());
            b[16..32].copy_from_slice(&dst.to_be_bytes());
            b[32..36].copy_from_slice(&len.to_be_bytes());
            b[39] = proto;
            let (s, d) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
            prop_assert_eq!(pseudo_header_v6(s, d, proto, len), data(&b));
            prop_assert_eq!(<Ipv6Addr as PseudoHeader>::pseudo_header(s, d, proto, len), data(&b));
        }
    }
}
