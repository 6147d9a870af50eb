//! The Internet checksum (RFC 1071), the IPv4 pseudo-header (RFC 9293 §3.1), the IPv6
//! pseudo-header (RFC 8200 §8.1) and incremental update (RFC 1624).
//!
//! Sums here are *folded* 16-bit ones-complement sums in network-order value (the value a
//! big-endian reader sees), not yet complemented; [`finish`] complements one into the field
//! value. A packet verifies when the sum over it, checksum field included, is `0xffff`.
//!
//! [`data`] runs over every byte ustack sends and receives, so it is written for the
//! vectorizer: it adds native-endian 16-bit words into 32-bit lanes and swaps once at the end
//! (RFC 1071 §2(B): the ones-complement sum is byte-order independent). The same loop is
//! built three times, for the baseline target, AVX2 and AVX-512, and the widest the CPU runs
//! is chosen on the first call (`checksum::accel`, the crate's only unsafe code;
//! [`accel_level`] says which); [`copy_and_sum`] sums what it copies in the same pass, so a
//! payload copied into a packet is read once.
//! docs/performance.md records their speed beside a byte-at-a-time loop and a memcpy.
//!
//! [`PseudoHeader`] is what makes TCP, UDP and ICMPv6 address-family agnostic: their `parse`,
//! `emit`, `verify_checksum` and `fill_checksum` take the source and destination as any
//! `A: PseudoHeader` (an [`Ipv4Addr`] or an [`Ipv6Addr`] pair), and each family gets its own
//! monomorphized copy, so the IPv4 path is the same code it was before IPv6 existed.

use core::net::{Ipv4Addr, Ipv6Addr};

mod accel;

pub use accel::Level;

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
/// whose second byte is zero. Always inlined, so that [`accel`] builds it for wider vectors.
#[inline(always)]
fn sum_native(bytes: &[u8]) -> u64 {
    let mut total: u64 = 0;
    let mut blocks = bytes.chunks_exact(BLOCK);
    for block in &mut blocks {
        total += sum_block(block) as u64;
    }
    let rest = blocks.remainder();
    total += sum_block(rest) as u64;
    total + odd_tail(rest)
}

/// The word a trailing odd byte makes (the byte first, then zero), or 0 for an even length.
#[inline(always)]
fn odd_tail(bytes: &[u8]) -> u64 {
    match bytes.len() % 2 {
        1 => u16::from_ne_bytes([bytes[bytes.len() - 1], 0]) as u64,
        _ => 0,
    }
}

/// Sums the even-length prefix of at most [`BLOCK`] bytes. The loop shape (u16 words into a
/// u32 accumulator, no early exits) is the one LLVM vectorizes.
#[inline(always)]
fn sum_block(block: &[u8]) -> u32 {
    debug_assert!(block.len() <= BLOCK);
    let mut acc: u32 = 0;
    for word in block.chunks_exact(2) {
        acc += u16::from_ne_bytes([word[0], word[1]]) as u32;
    }
    acc
}

/// Copies `src` into the start of `dst` and returns [`sum_native`] of it, in one pass: 64
/// bytes at a time are loaded, stored, and added word by word into 32 lanes that stay in
/// vector registers until the end of the block (at most 1,024 words of 0xffff each per lane:
/// no overflow).
///
/// # Panics
///
/// When `dst` is shorter than `src`.
#[inline(always)]
fn copy_sum_native(dst: &mut [u8], src: &[u8]) -> u64 {
    let dst = &mut dst[..src.len()];
    let mut total: u64 = 0;
    for (d, s) in dst.chunks_mut(BLOCK).zip(src.chunks(BLOCK)) {
        let (d64, d_rest) = d.as_chunks_mut::<64>();
        let (s64, s_rest) = s.as_chunks::<64>();
        let mut lanes = [0u32; 32];
        for (d, s) in d64.iter_mut().zip(s64) {
            *d = *s;
            for (lane, word) in lanes.iter_mut().zip(s.as_chunks::<2>().0) {
                *lane += u16::from_ne_bytes(*word) as u32;
            }
        }
        d_rest.copy_from_slice(s_rest);
        total += lanes.iter().map(|&l| l as u64).sum::<u64>();
        total += sum_block(s_rest) as u64 + odd_tail(s_rest);
    }
    total
}

/// The folded ones-complement sum of `bytes` taken as big-endian 16-bit words, padded with a
/// zero byte when the length is odd.
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    u16::from_be(fold(accel::sum(bytes)))
}

/// [`data`] as the baseline target builds it (SSE2 on x86-64), whatever the CPU: what the
/// checksum benchmark compares the vector loops with.
pub fn data_portable(bytes: &[u8]) -> u16 {
    u16::from_be(fold(sum_native(bytes)))
}

/// [`data`] with the loop built for `level`, or the portable one when the CPU cannot run
/// it (see [`accel_level`]): lets a test or a benchmark try each loop the CPU has.
pub fn data_at(level: Level, bytes: &[u8]) -> u16 {
    u16::from_be(fold(accel::sum_at(level, bytes)))
}

/// The widest checksum loop this CPU runs, the one [`data`] and [`copy_and_sum`] use.
pub fn accel_level() -> Level {
    accel::level()
}

/// Copies `src` into the first `src.len()` bytes of `dst` and returns [`data`] of `src`,
/// reading each byte once: the payload of a segment being built is summed as it is copied
/// into the packet.
///
/// # Panics
///
/// When `dst` is shorter than `src`: a caller bug.
#[inline]
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u16 {
    u16::from_be(fold(accel::copy_sum(dst, src)))
}

/// A hint that `bytes` will be read (summed, copied) soon: on x86-64 each of their 64-byte
/// cache lines is asked into the cache (PREFETCHT0), so that a packet that waited long
/// enough to leave the caches (one in flight on a long path, in the simulator) is fetched
/// while other work runs instead of when the checksum loop reaches it. Nothing elsewhere.
/// It changes no result: a prefetch reads nothing the program can see and never faults.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    accel::prefetch(bytes);
}

/// [`copy_and_sum`] with the loop built for `level` (see [`data_at`]).
pub fn copy_and_sum_at(level: Level, dst: &mut [u8], src: &[u8]) -> u16 {
    u16::from_be(fold(accel::copy_sum_at(level, dst, src)))
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

    /// A prefetch is only a hint: for any slice (empty, one byte, any start within a cache
    /// line, any length across lines, up to the end of its allocation) it returns and leaves
    /// the bytes and their sum as they were.
    #[test]
    fn prefetch_takes_any_slice_and_changes_nothing() {
        let buf: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        let before = buf.clone();
        for start in 0..70 {
            for len in 0..=buf.len() - start {
                let bytes = &buf[start..start + len];
                prefetch(bytes);
                assert_eq!(data(bytes), data_bytewise(bytes), "start {start} len {len}");
            }
        }
        assert_eq!(buf, before);
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

    /// Every loop this CPU can run, the portable one first.
    fn levels() -> Vec<Level> {
        [Level::Portable, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| *l <= accel_level())
            .collect()
    }

    #[test]
    fn every_loop_sums_block_boundaries_and_odd_tails_like_the_textbook() {
        for level in levels() {
            for len in [0, 1, 2, 3, 63, 64, 65, 127, 1500, 1501, BLOCK - 1, BLOCK, BLOCK + 1] {
                let buf: Vec<u8> = (0..len + 1).map(|i| (i * 131 + 7) as u8).collect();
                // Both alignments of the start.
                for start in [0, 1] {
                    let b = &buf[start..start + len];
                    assert_eq!(data_at(level, b), data_bytewise(b), "{level:?} len {len}");
                    let mut dst = std::vec![0xa5u8; len + 3];
                    let sum = copy_and_sum_at(level, &mut dst, b);
                    assert_eq!(sum, data_bytewise(b), "{level:?} copy len {len}");
                    assert_eq!(&dst[..len], b);
                    assert_eq!(dst[len..], [0xa5; 3], "{level:?}: bytes past the copy kept");
                }
            }
        }
    }

    #[test]
    fn all_ones_sum_without_overflow_in_every_loop() {
        // 0xffff words are the largest; a 32-bit lane that overflowed would lose carries.
        for level in levels() {
            for len in [BLOCK, 2 * BLOCK + 1, 3 * BLOCK + 64] {
                let buf = std::vec![0xffu8; len];
                assert_eq!(data_at(level, &buf), data_bytewise(&buf), "{level:?} {len}");
                let mut dst = std::vec![0u8; len];
                assert_eq!(copy_and_sum_at(level, &mut dst, &buf), data_bytewise(&buf));
            }
        }
    }

    #[test]
    fn data_and_copy_and_sum_use_the_widest_loop_there_is() {
        let buf: Vec<u8> = (0..1500).map(|i| (i * 7) as u8).collect();
        let mut dst = std::vec![0u8; 1500];
        assert_eq!(data(&buf), data_at(accel_level(), &buf));
        assert_eq!(copy_and_sum(&mut dst, &buf), data_portable(&buf));
        // On x86-64 the level is what std's own detection says.
        #[cfg(target_arch = "x86_64")]
        {
            let want = if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
            {
                Level::Avx512
            } else if std::is_x86_feature_detected!("avx2") {
                Level::Avx2
            } else {
                Level::Portable
            };
            assert_eq!(accel_level(), want);
        }
    }

    proptest! {
        #[test]
        fn every_loop_matches_bytewise_at_any_offset_and_length(
            bytes in proptest::collection::vec(any::<u8>(), 0..4200),
            start in 0usize..64,
        ) {
            let b = &bytes[start.min(bytes.len())..];
            for level in levels() {
                prop_assert_eq!(data_at(level, b), data_bytewise(b), "{:?}", level);
                let mut dst = std::vec![0u8; b.len() + 64];
                let at = start % 7;
                let sum = copy_and_sum_at(level, &mut dst[at..], b);
                prop_assert_eq!(sum, data_bytewise(b), "{:?}", level);
                prop_assert_eq!(&dst[at..at + b.len()], b);
            }
        }

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
