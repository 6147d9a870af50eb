//! The bytes a scenario sends: a pattern fixed by a stream number and the offset, so that a
//! receiver can check every byte it reads without keeping a copy of what was sent. Any byte
//! delivered twice, lost, or out of order lands at an offset where the pattern differs (but
//! for a 1 in 256 chance per byte).

/// Writes the bytes of stream `stream` from `offset` on into `buf`.
pub(crate) fn fill(stream: u64, offset: u64, buf: &mut [u8]) {
    let mut word = offset / 8;
    let mut skip = (offset % 8) as usize;
    let mut at = 0;
    while at < buf.len() {
        let bytes = mix(stream, word).to_le_bytes();
        let take = (8 - skip).min(buf.len() - at);
        buf[at..at + take].copy_from_slice(&bytes[skip..skip + take]);
        at += take;
        skip = 0;
        word += 1;
    }
}

/// The first offset at which `data`, read from stream `stream` at `offset`, differs from the
/// pattern, with the byte expected there.
pub(crate) fn first_mismatch(stream: u64, offset: u64, data: &[u8]) -> Option<(u64, u8)> {
    let mut expected = [0u8; 1024];
    for (i, chunk) in data.chunks(expected.len()).enumerate() {
        let at = offset + (i * expected.len()) as u64;
        let want = &mut expected[..chunk.len()];
        fill(stream, at, want);
        if want != chunk {
            let j = want.iter().zip(chunk).position(|(a, b)| a != b).unwrap_or(0);
            return Some((at + j as u64, want[j]));
        }
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

    #[test]
    fn any_split_gives_the_same_bytes() {
        let mut whole = [0u8; 100];
        fill(3, 5, &mut whole);
        for cut in 0..100 {
            let mut parts = [0u8; 100];
            let (a, b) = parts.split_at_mut(cut);
            fill(3, 5, a);
            fill(3, 5 + cut as u64, b);
            assert_eq!(parts, whole);
        }
        assert_eq!(first_mismatch(3, 5, &whole), None);
    }

    #[test]
    fn a_shifted_or_foreign_stream_is_caught() {
        let mut data = vec![0u8; 3000];
        fill(1, 0, &mut data);
        assert_eq!(first_mismatch(1, 1, &data[..2000]).map(|m| m.0), Some(1));
        assert!(first_mismatch(2, 0, &data).is_some());
        data[2500] ^= 1;
        assert_eq!(first_mismatch(1, 0, &data).map(|m| m.0), Some(2500));
    }
}
