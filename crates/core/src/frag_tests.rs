//! Reassembly tests: each scripts fragments in at virtual times and checks the outcome and the
//! counters.

use super::*;
use proptest::prelude::*;
use ustack_wire::{IpProtocol, Ipv4Addr, Ipv4Repr};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const T0: Instant = Instant::from_secs(100);

/// A fragment of datagram `ident` from SRC to DST: `len` bytes at byte offset `offset`.
fn hdr(ident: u16, offset: usize, len: usize, more_frags: bool) -> Ipv4Repr {
    Ipv4Repr {
        src: SRC,
        dst: DST,
        protocol: IpProtocol::UDP,
        payload_len: len,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident,
        dont_frag: false,
        more_frags,
        frag_offset: offset as u16,
    }
}

/// A payload whose bytes differ from their neighbours', so misplaced bytes show.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `data` cut into fragments of `size` bytes (a multiple of 8; the last may be shorter):
/// (header, payload) pairs in order.
fn fragment(ident: u16, data: &[u8], size: usize) -> Vec<(Ipv4Repr, Vec<u8>)> {
    assert!(size.is_multiple_of(8) && size > 0);
    data.chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i * size;
            let more = offset + chunk.len() < data.len();
            (hdr(ident, offset, chunk.len(), more), chunk.to_vec())
        })
        .collect()
}

/// What a push returned, owned, so that several can be compared after the fact.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Incomplete,
    Complete(Vec<u8>),
    Dropped(FragDrop),
}

fn push(r: &mut Reassembler, now: Instant, frag: &(Ipv4Repr, Vec<u8>)) -> Got {
    match r.push(now, &frag.0, &frag.1) {
        FragOutcome::Incomplete => Got::Incomplete,
        FragOutcome::Complete(bytes) => Got::Complete(bytes.to_vec()),
        FragOutcome::Dropped(reason) => Got::Dropped(reason),
    }
}

/// Pushes all of `frags` at `now`; returns every outcome.
fn push_all(r: &mut Reassembler, now: Instant, frags: &[(Ipv4Repr, Vec<u8>)]) -> Vec<Got> {
    frags.iter().map(|f| push(r, now, f)).collect()
}

fn reassembler() -> Reassembler {
    Reassembler::new(FragLimits::default())
}

/// All Incomplete but the last, which is Complete(`data`).
fn expect_completes_at_end(got: &[Got], data: &[u8]) {
    let (last, rest) = got.split_last().expect("some fragments");
    assert!(rest.iter().all(|g| *g == Got::Incomplete), "{got:?}");
    assert_eq!(*last, Got::Complete(data.to_vec()));
}

#[test]
fn defaults_are_linux() {
    let limits = FragLimits::default();
    assert_eq!(limits.max_bytes, 4 << 20);
    assert_eq!(limits.timeout, Duration::from_secs(30));
}

#[test]
fn in_order_fragments_reassemble() {
    let data = payload(4000);
    let mut r = reassembler();
    let got = push_all(&mut r, T0, &fragment(1, &data, 1480));
    expect_completes_at_end(&got, &data);
    let stats = r.stats();
    assert_eq!((stats.fragments, stats.reassembled), (3, 1));
    assert_eq!((stats.datagrams_buffered, stats.bytes_buffered), (0, 0));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn reverse_order_fragments_reassemble() {
    let data = payload(3001);
    let mut frags = fragment(2, &data, 800);
    frags.reverse();
    let mut r = reassembler();
    expect_completes_at_end(&push_all(&mut r, T0, &frags), &data);
    assert_eq!(r.stats().reassembled, 1);
}

#[test]
fn buffered_bytes_are_charged_per_fragment() {
    let data = payload(100);
    let frags = fragment(3, &data, 40);
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &frags[0]), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &frags[2]), Got::Incomplete);
    let stats = r.stats();
    assert_eq!(stats.datagrams_buffered, 1);
    assert_eq!(stats.bytes_buffered, 40 + 20 + 2 * FRAG_OVERHEAD);
}

#[test]
fn a_datagram_that_is_no_fragment_passes_through() {
    let data = payload(50);
    let mut r = reassembler();
    let whole = (hdr(4, 0, 50, false), data.clone());
    assert_eq!(push(&mut r, T0, &whole), Got::Complete(data));
    assert_eq!(r.stats().fragments, 0);
}

#[test]
fn link_padding_after_the_payload_is_ignored() {
    let data = payload(24);
    let mut frags = fragment(5, &data, 16);
    frags[1].1.extend_from_slice(&[0xee; 30]);
    let mut r = reassembler();
    expect_completes_at_end(&push_all(&mut r, T0, &frags), &data);
}

#[test]
fn exact_duplicates_are_ignored() {
    let data = payload(2000);
    let frags = fragment(6, &data, 504);
    let mut r = reassembler();
    for frag in &frags[..frags.len() - 1] {
        assert_eq!(push(&mut r, T0, frag), Got::Incomplete);
        assert_eq!(push(&mut r, T0, frag), Got::Incomplete);
    }
    let charged = r.stats().bytes_buffered;
    assert_eq!(charged, 3 * (504 + FRAG_OVERHEAD), "duplicates are not buffered");
    assert_eq!(push(&mut r, T0, frags.last().unwrap()), Got::Complete(data));
    let stats = r.stats();
    assert_eq!((stats.duplicates, stats.overlap, stats.reassembled), (3, 0, 1));
}

#[test]
fn a_duplicate_last_fragment_is_ignored() {
    let data = payload(100);
    let frags = fragment(7, &data, 64);
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &frags[1]), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &frags[1]), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &frags[0]), Got::Complete(data));
    assert_eq!(r.stats().duplicates, 1);
}

#[test]
fn a_fragment_inside_received_data_is_a_duplicate() {
    // Linux inet_frag_queue_insert: wholly inside what was received is IPFRAG_DUP, even when
    // it spans two fragments; the first copy wins.
    let data = payload(64);
    let mut r = reassembler();
    let first = (hdr(8, 0, 16, true), data[..16].to_vec());
    let second = (hdr(8, 16, 16, true), data[16..32].to_vec());
    let inside = (hdr(8, 8, 16, true), vec![0xff; 16]);
    assert_eq!(push(&mut r, T0, &first), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &second), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &inside), Got::Incomplete);
    let rest = (hdr(8, 32, 32, false), data[32..].to_vec());
    assert_eq!(push(&mut r, T0, &rest), Got::Complete(data));
    assert_eq!(r.stats().duplicates, 1);
}

#[test]
fn a_fragment_spanning_a_hole_drops_the_datagram() {
    let data = payload(64);
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &(hdr(9, 0, 16, true), data[..16].to_vec())), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &(hdr(9, 24, 8, true), data[24..32].to_vec())), Got::Incomplete);
    // 8..32 covers both received pieces but also the hole 16..24.
    let spanning = (hdr(9, 8, 24, true), data[8..32].to_vec());
    assert_eq!(push(&mut r, T0, &spanning), Got::Dropped(FragDrop::Overlap));
    assert_eq!(r.stats().overlap, 1);
}

#[test]
fn partial_overlaps_drop_the_datagram() {
    // RFC 5722 §4, Linux for IPv4 too: overlap at the front, at the back, and around.
    let data = payload(96);
    let overlapping = [(8, 16), (24, 16), (8, 32)];
    for (i, &(offset, len)) in overlapping.iter().enumerate() {
        let mut r = reassembler();
        let middle = (hdr(10, 16, 16, true), data[16..32].to_vec());
        assert_eq!(push(&mut r, T0, &middle), Got::Incomplete);
        let bad = (hdr(10, offset, len, true), data[offset..offset + len].to_vec());
        assert_eq!(push(&mut r, T0, &bad), Got::Dropped(FragDrop::Overlap), "case {i}");
        let stats = r.stats();
        assert_eq!(stats.overlap, 1);
        assert_eq!((stats.datagrams_buffered, stats.bytes_buffered), (0, 0));
        assert_eq!(r.poll_timeout(), None);
        // The rest of the datagram starts a new one, which lacks the discarded middle.
        let others = [
            (hdr(10, 0, 16, true), data[..16].to_vec()),
            (hdr(10, 32, 64, false), data[32..].to_vec()),
        ];
        assert_eq!(push_all(&mut r, T0, &others), [Got::Incomplete, Got::Incomplete]);
    }
}

#[test]
fn a_last_fragment_inside_data_without_an_end_is_an_overlap() {
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &(hdr(11, 0, 32, true), payload(32))), Got::Incomplete);
    let last = (hdr(11, 16, 16, false), payload(16));
    assert_eq!(push(&mut r, T0, &last), Got::Dropped(FragDrop::Overlap));
}

#[test]
fn interleaved_datagrams_reassemble_separately() {
    let (a, b) = (payload(3000), payload(2500).iter().map(|x| !x).collect::<Vec<u8>>());
    let (fa, fb) = (fragment(100, &a, 1000), fragment(101, &b, 1000));
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &fa[0]), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &fb[2]), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &fa[2]), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &fb[0]), Got::Incomplete);
    assert_eq!(r.stats().datagrams_buffered, 2);
    assert_eq!(push(&mut r, T0, &fb[1]), Got::Complete(b));
    assert_eq!(push(&mut r, T0, &fa[1]), Got::Complete(a));
    assert_eq!(r.stats().reassembled, 2);
}

#[test]
fn the_key_is_source_destination_protocol_and_ident() {
    // Same ident, offsets that would overlap: each key is its own datagram.
    let data = payload(32);
    let base = (hdr(12, 0, 16, true), data[..16].to_vec());
    let mut other_src = base.clone();
    other_src.0.src = Ipv4Addr::new(10, 0, 0, 9);
    let mut other_dst = base.clone();
    other_dst.0.dst = Ipv4Addr::new(10, 0, 0, 9);
    let mut other_proto = base.clone();
    other_proto.0.protocol = IpProtocol::TCP;
    let mut r = reassembler();
    for frag in [&base, &other_src, &other_dst, &other_proto] {
        assert_eq!(push(&mut r, T0, frag), Got::Incomplete);
    }
    assert_eq!(r.stats().datagrams_buffered, 4);
    let mut tail = (hdr(12, 16, 16, false), data[16..].to_vec());
    tail.0.protocol = IpProtocol::TCP;
    assert_eq!(push(&mut r, T0, &tail), Got::Complete(data));
    assert_eq!(r.stats().datagrams_buffered, 3);
}

#[test]
fn a_missing_last_fragment_leaves_the_datagram_incomplete_until_the_timeout() {
    let data = payload(5000);
    let frags = fragment(13, &data, 1000);
    let (_, head) = frags.split_last().unwrap();
    let mut r = reassembler();
    assert!(push_all(&mut r, T0, head).iter().all(|g| *g == Got::Incomplete));
    // Duplicates of what is there never complete it.
    assert!(
        push_all(&mut r, T0 + Duration::from_secs(10), head).iter().all(|g| *g == Got::Incomplete)
    );
    let deadline = T0 + Duration::from_secs(30);
    assert_eq!(r.poll_timeout(), Some(deadline));
    assert_eq!(r.handle_timeout(Instant::from_nanos(deadline.as_nanos() - 1)), 0);
    assert_eq!(r.stats().datagrams_buffered, 1);
    assert_eq!(r.handle_timeout(deadline), 1);
    let stats = r.stats();
    assert_eq!((stats.timed_out, stats.reassembled), (1, 0));
    assert_eq!((stats.datagrams_buffered, stats.bytes_buffered), (0, 0));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn later_fragments_do_not_push_the_deadline_back() {
    let data = payload(300);
    let frags = fragment(14, &data, 100 - 100 % 8);
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &frags[0]), Got::Incomplete);
    assert_eq!(push(&mut r, T0 + Duration::from_secs(20), &frags[1]), Got::Incomplete);
    assert_eq!(r.poll_timeout(), Some(T0 + Duration::from_secs(30)));
}

#[test]
fn poll_timeout_is_the_earliest_deadline() {
    let mut r = reassembler();
    let frag = |ident| (hdr(ident, 0, 8, true), payload(8));
    assert_eq!(push(&mut r, T0 + Duration::from_secs(5), &frag(1)), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &frag(2)), Got::Incomplete);
    assert_eq!(push(&mut r, T0 + Duration::from_secs(9), &frag(3)), Got::Incomplete);
    assert_eq!(r.poll_timeout(), Some(T0 + Duration::from_secs(30)));
    assert_eq!(r.handle_timeout(T0 + Duration::from_secs(35)), 2);
    assert_eq!(r.poll_timeout(), Some(T0 + Duration::from_secs(39)));
    assert_eq!(r.stats().timed_out, 2);
}

#[test]
fn a_fragment_after_the_timeout_starts_a_fresh_datagram() {
    let data = payload(16);
    let frags = fragment(15, &data, 8);
    let late = T0 + Duration::from_secs(30);
    for run_timers in [false, true] {
        let mut r = reassembler();
        assert_eq!(push(&mut r, T0, &frags[0]), Got::Incomplete);
        if run_timers {
            assert_eq!(r.handle_timeout(late), 1);
        }
        // Without the timeout this would complete the datagram.
        assert_eq!(push(&mut r, late, &frags[1]), Got::Incomplete, "timers run: {run_timers}");
        let stats = r.stats();
        assert_eq!((stats.timed_out, stats.datagrams_buffered), (1, 1));
        assert_eq!(stats.bytes_buffered, 8 + FRAG_OVERHEAD);
        assert_eq!(r.poll_timeout(), Some(late + Duration::from_secs(30)));
        // The fresh datagram completes with what it lacks.
        assert_eq!(push(&mut r, late, &frags[0]), Got::Complete(data.clone()));
    }
}

#[test]
fn over_the_memory_limit_new_fragments_are_dropped() {
    let frag = |ident, offset, more| (hdr(ident, offset, 1000, more), payload(1000));
    let charge = 1000 + FRAG_OVERHEAD;
    let limits = FragLimits { max_bytes: 3 * charge, ..FragLimits::default() };
    let mut r = Reassembler::new(limits);
    assert_eq!(push(&mut r, T0, &frag(1, 0, true)), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &frag(2, 0, true)), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &frag(1, 1000, true)), Got::Incomplete);
    assert_eq!(r.stats().bytes_buffered, 3 * charge);
    // Full: a new datagram's fragment and an existing one's are both refused.
    assert_eq!(push(&mut r, T0, &frag(3, 0, true)), Got::Dropped(FragDrop::OverMemory));
    assert_eq!(push(&mut r, T0, &frag(1, 2000, false)), Got::Dropped(FragDrop::OverMemory));
    let stats = r.stats();
    assert_eq!((stats.over_memory, stats.datagrams_buffered), (2, 2));
    // What is queued stays; once a datagram goes, there is room again.
    assert_eq!(r.handle_timeout(T0 + Duration::from_secs(30)), 2);
    assert_eq!(push(&mut r, T0 + Duration::from_secs(31), &frag(3, 0, true)), Got::Incomplete);
}

#[test]
fn a_completing_fragment_needs_room_too() {
    // Linux checks the limit before looking the datagram up; so does this.
    let limits = FragLimits { max_bytes: 2 * (8 + FRAG_OVERHEAD) - 1, ..FragLimits::default() };
    let mut r = Reassembler::new(limits);
    assert_eq!(push(&mut r, T0, &(hdr(1, 0, 8, true), payload(8))), Got::Incomplete);
    let last = (hdr(1, 8, 8, false), payload(8));
    assert_eq!(push(&mut r, T0, &last), Got::Dropped(FragDrop::OverMemory));
}

#[test]
fn a_datagram_over_65535_bytes_is_dropped() {
    let mut r = reassembler();
    // The largest payload, 65515 bytes, in two fragments: fine.
    let data = payload(MAX_PAYLOAD);
    let frags = fragment(20, &data, 65_512);
    assert_eq!(frags[1].0.frag_offset, 65_512);
    expect_completes_at_end(&push_all(&mut r, T0, &frags), &data);
    // One byte more (the ping of death) is dropped, and so is what was queued for it.
    assert_eq!(push(&mut r, T0, &frags[0].clone()), Got::Incomplete);
    let over = (hdr(20, 65_512, 4, false), payload(4));
    assert_eq!(push(&mut r, T0, &over), Got::Dropped(FragDrop::TooLong));
    let stats = r.stats();
    assert_eq!((stats.too_long, stats.datagrams_buffered, stats.bytes_buffered), (1, 0, 0));
    // Even a lone fragment at the largest offset.
    let far = (hdr(21, 65_528, 8, true), payload(8));
    assert_eq!(push(&mut r, T0, &far), Got::Dropped(FragDrop::TooLong));
    assert_eq!(r.stats().too_long, 2);
}

#[test]
fn a_non_last_fragment_not_a_multiple_of_8_is_malformed() {
    let mut r = reassembler();
    for len in [0, 1, 12, 1481] {
        let frag = (hdr(30, 0, len, true), payload(len));
        assert_eq!(push(&mut r, T0, &frag), Got::Dropped(FragDrop::Malformed), "length {len}");
    }
    let misaligned = (hdr(30, 4, 8, false), payload(8));
    assert_eq!(push(&mut r, T0, &misaligned), Got::Dropped(FragDrop::Malformed));
    let short = (hdr(30, 0, 16, true), payload(8));
    assert_eq!(push(&mut r, T0, &short), Got::Dropped(FragDrop::Malformed));
    let stats = r.stats();
    assert_eq!((stats.malformed, stats.datagrams_buffered), (6, 0));
}

#[test]
fn a_malformed_fragment_alone_leaves_its_datagram() {
    let data = payload(32);
    let frags = fragment(31, &data, 16);
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &frags[0]), Got::Incomplete);
    let odd = (hdr(31, 16, 9, true), payload(9));
    assert_eq!(push(&mut r, T0, &odd), Got::Dropped(FragDrop::Malformed));
    assert_eq!(push(&mut r, T0, &frags[1]), Got::Complete(data));
}

#[test]
fn data_past_the_last_fragment_drops_the_datagram() {
    // (offset, length, last fragment), in arrival order.
    let cases: [[(usize, usize, bool); 2]; 3] = [
        // A fragment past the end the last one fixed.
        [(8, 8, true), (16, 8, false)],
        // A last fragment short of data received.
        [(16, 16, false), (8, 8, true)],
        // Two last fragments with different ends.
        [(16, 8, true), (16, 16, true)],
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut r = reassembler();
        let [(o1, l1, last1), (o2, l2, last2)] = *case;
        assert_eq!(push(&mut r, T0, &(hdr(32, o1, l1, !last1), payload(l1))), Got::Incomplete);
        let second = (hdr(32, o2, l2, !last2), payload(l2));
        assert_eq!(push(&mut r, T0, &second), Got::Dropped(FragDrop::Malformed), "case {i}");
        let stats = r.stats();
        assert_eq!((stats.malformed, stats.datagrams_buffered), (1, 0), "case {i}");
    }
}

#[test]
fn an_empty_last_fragment_fixes_the_length() {
    let data = payload(16);
    let mut r = reassembler();
    let end = (hdr(33, 16, 0, false), Vec::new());
    assert_eq!(push(&mut r, T0, &end), Got::Incomplete);
    assert_eq!(push(&mut r, T0, &end), Got::Incomplete);
    assert_eq!(r.stats().duplicates, 1);
    assert_eq!(push(&mut r, T0, &(hdr(33, 0, 16, true), data.clone())), Got::Complete(data));
}

#[test]
fn stats_display_like_netstat() {
    let mut r = reassembler();
    assert_eq!(push(&mut r, T0, &(hdr(34, 0, 8, true), payload(8))), Got::Incomplete);
    assert_eq!(
        r.stats().to_string(),
        "1 fragments, 0 reassembled, 0 timed out, dropped: 0 over memory, 0 overlap, \
         0 too long, 0 malformed; 0 duplicates; 1 datagrams (72 bytes) buffered"
    );
    assert_eq!(FragDrop::Overlap.to_string(), "overlapping fragment");
}

/// A datagram cut in 2 to 256 fragments of a multiple of 8 bytes (up to 1480), up to
/// MAX_PAYLOAD bytes, in a random order with random exact duplicates.
fn shuffled_fragments() -> impl Strategy<Value = (Vec<u8>, Vec<(Ipv4Repr, Vec<u8>)>)> {
    (1usize..=185)
        .prop_flat_map(|units| {
            let size = units * 8;
            (Just(size), size + 1..=MAX_PAYLOAD.min(size * 256), any::<u64>())
        })
        .prop_flat_map(|(size, len, seed)| {
            let data: Vec<u8> =
                (0..len).map(|i| (i as u64 ^ seed).wrapping_mul(31) as u8).collect();
            let frags = fragment(0x4242, &data, size);
            let dups = proptest::collection::vec(0..frags.len(), 0..4);
            (Just(data), Just(frags), dups)
        })
        .prop_flat_map(|(data, frags, dups)| {
            let mut all = frags;
            let copies: Vec<_> = dups.iter().map(|&i| all[i].clone()).collect();
            all.extend(copies);
            (Just(data), Just(all).prop_shuffle())
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any order, with duplicates: Complete with the original payload exactly when the last
    /// missing fragment comes, Incomplete otherwise (a copy arriving after completion starts a
    /// new datagram); nothing is dropped.
    #[test]
    fn shuffled_fragments_reassemble((data, frags) in shuffled_fragments()) {
        let distinct = frags.iter().map(|f| f.0.frag_offset).collect::<BTreeSet<_>>().len();
        let mut r = reassembler();
        let (mut received, mut completions, mut duplicates) = (BTreeSet::new(), 0, 0);
        for (i, frag) in frags.iter().enumerate() {
            let got = push(&mut r, T0 + Duration::from_millis(i as u64), frag);
            if !received.insert(frag.0.frag_offset) {
                duplicates += 1;
                prop_assert_eq!(got, Got::Incomplete, "duplicate {} of {}", i, frags.len());
            } else if received.len() == distinct {
                prop_assert_eq!(got, Got::Complete(data.clone()), "fragment {}", i);
                received.clear();
                completions += 1;
            } else {
                prop_assert_eq!(got, Got::Incomplete, "fragment {} of {}", i, frags.len());
            }
        }
        let stats = r.stats();
        prop_assert_eq!((stats.reassembled, stats.duplicates), (completions, duplicates));
        prop_assert!(completions >= 1);
        prop_assert_eq!(stats.overlap + stats.malformed + stats.too_long + stats.over_memory, 0);
        prop_assert_eq!(stats.datagrams_buffered, usize::from(!received.is_empty()));
    }
}
