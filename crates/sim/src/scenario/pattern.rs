//! The bytes a scenario sends: a pattern fixed by a stream number and the offset, so that a
//! receiver can check every byte it reads without keeping a copy of what was sent.
//!
//! The stream is cut into periods of [`PERIOD`] bytes. Within a period the bytes are a run of
//! a fixed table of pseudo-random bytes, entered at a point (a rotation) drawn from the stream
//! and the period's number; the table is built once, so sending is copying from it and
//! checking is comparing with it, both in bulk. A byte delivered twice, lost, or out of order
//! lands where the pattern differs: within a period every offset reads its own table byte, so
//! a byte from elsewhere matches only by chance (1 in 256 per byte); across periods, and
//! between two streams, a run of bytes matches only if the two rotations happen to line it up
//! (1 in 65,536 for a given shift and pair of periods), and then still byte by byte.

use std::sync::OnceLock;

/// Bytes per period, the table's length.
const PERIOD: usize = 1 << 16;

/// The stream the table's bytes are drawn from.
const TABLE_STREAM: u64 = 0x7573_7461_636b_7061;

/// The table twice over, so that the run from any point of the first copy up to
/// [`PERIOD`] bytes long is one slice.
fn table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; 2 * PERIOD];
        for (i, word) in t[..PERIOD].chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&mix(TABLE_STREAM, i as u64).to_le_bytes());
        }
        t.copy_within(..PERIOD, PERIOD);
        t.into_boxed_slice()
    })
}

/// The bytes of stream `stream` from `offset` on, at most `len` of them: up to the end of
/// the period `offset` lies in (at least one byte when `len` is not zero).
pub(crate) fn run(stream: u64, offset: u64, len: usize) -> &'static [u8] {
    let period = offset / PERIOD as u64;
    let within = (offset % PERIOD as u64) as usize;
    // Below PERIOD: the cast keeps every bit that matters.
    let start = within + (mix(stream, period) % PERIOD as u64) as usize;
    &table()[start..start + len.min(PERIOD - within)]
}

/// The first offset at which `data`, read from stream `stream` at `offset`, differs from the
/// pattern, with the byte expected there.
pub(crate) fn first_mismatch(stream: u64, offset: u64, data: &[u8]) -> Option<(u64, u8)> {
    let mut at = 0;
    while at < data.len() {
        let want = run(stream, offset + at as u64, data.len() - at);
        let got = &data[at..at + want.len()];
        if want != got {
            let j = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
            return Some((offset + (at + j) as u64, want[j]));
        }
        at += want.len();
    }
    None
}

/// SplitMix64's finalizer over (stream, word).
fn mix(stream: u64, word: u64) -> u64 {
    let mut z = word
        .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the bytes of stream `stream` from `offset` on into `buf`.
    fn fill(stream: u64, offset: u64, buf: &mut [u8]) {
        let mut at = 0;
        while at < buf.len() {
            let want = run(stream, offset + at as u64, buf.len() - at);
            buf[at..at + want.len()].copy_from_slice(want);
            at += want.len();
        }
    }

    /// Bytes of `stream` from `offset`, `len` of them.
    fn bytes(stream: u64, offset: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        fill(stream, offset, &mut v);
        v
    }

    #[test]
    fn any_split_gives_the_same_bytes() {
        // Across a period boundary too.
        let start = PERIOD as u64 - 50;
        let whole = bytes(3, start, 100);
        for cut in 0..100 {
            let mut parts = [0u8; 100];
            let (a, b) = parts.split_at_mut(cut);
            fill(3, start, a);
            fill(3, start + cut as u64, b);
            assert_eq!(parts[..], whole[..]);
        }
        assert_eq!(first_mismatch(3, start, &whole), None);
    }

    #[test]
    fn a_shifted_or_foreign_stream_is_caught() {
        let mut data = bytes(1, 0, 3000);
        assert_eq!(first_mismatch(1, 1, &data[..2000]).map(|m| m.0), Some(1));
        assert!(first_mismatch(2, 0, &data).is_some());
        data[2500] ^= 1;
        assert_eq!(first_mismatch(1, 0, &data), Some((2500, data[2500] ^ 1)));
    }

    #[test]
    fn a_flipped_bit_is_found_at_its_offset_anywhere_in_a_long_stream() {
        let len = 3 * PERIOD + 123;
        let clean = bytes(9, 77, len);
        for at in [0, 1, PERIOD - 78, PERIOD - 77, PERIOD, 2 * PERIOD + 5, len - 1] {
            let mut data = clean.clone();
            data[at] ^= 0x10;
            assert_eq!(first_mismatch(9, 77, &data), Some((77 + at as u64, clean[at])), "{at}");
        }
    }

    #[test]
    fn data_a_whole_period_away_does_not_pass() {
        // A stream replayed one period late (a 16-bit wrap of the offset, say): every
        // period's rotation differs from the next one's.
        let data = bytes(5, 0, 4 * PERIOD);
        for k in 0..3 {
            let next = &data[(k + 1) * PERIOD..(k + 2) * PERIOD];
            assert!(first_mismatch(5, (k * PERIOD) as u64, next).is_some(), "period {k}");
        }
    }

    #[test]
    fn the_bytes_look_random() {
        // Not constant, not short-periodic: over a period each byte value shows up about as
        // often.
        let data = bytes(0, 0, PERIOD);
        let mut counts = [0u32; 256];
        for &b in &data {
            counts[usize::from(b)] += 1;
        }
        let mean = data.len() as f64 / 256.0;
        assert!(counts.iter().all(|&c| (f64::from(c) - mean).abs() < 6.0 * mean.sqrt()));
    }
}
