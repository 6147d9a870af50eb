use super::RingBuffer;
use proptest::prelude::*;
use std::collections::VecDeque;

/// The bytes `peek` returns, joined.
fn peeked(buf: &RingBuffer, offset: usize, len: usize) -> Vec<u8> {
    let (a, b) = buf.peek(offset, len);
    [a, b].concat()
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn a_new_buffer_allocates_nothing() {
    let mut buf = RingBuffer::with_limit(65_536);
    assert_eq!((buf.len(), buf.capacity(), buf.free(), buf.limit()), (0, 0, 65_536, 65_536));
    assert!(buf.is_empty());
    assert_eq!(buf.push(&[]), 0);
    assert_eq!(buf.write_at(0, &[]), 0);
    assert_eq!(buf.commit(10), 0);
    assert_eq!(buf.pop(&mut [0; 8]), 0);
    assert_eq!(buf.consume(3), 0);
    assert_eq!(buf.capacity(), 0);
}

#[test]
fn a_small_storage_passes_to_a_new_buffer_zeroed_and_a_large_one_stays() {
    let mut old = RingBuffer::with_limit(64 << 10);
    assert_eq!(old.push(&bytes(700, 3)), 700);
    assert_eq!(old.write_at(100, &bytes(50, 9)), 50);
    assert_eq!(old.capacity(), RingBuffer::MIN_CAPACITY);
    let storage = old.take_small_storage().expect("the first allocation's size");
    assert_eq!((old.len(), old.capacity()), (0, 0), "left empty, nothing allocated");

    let mut new = RingBuffer::with_limit(128 << 10);
    new.adopt_storage(storage);
    assert_eq!((new.len(), new.capacity()), (0, RingBuffer::MIN_CAPACITY));
    // Nothing of the old buffer shows, even where the new one never wrote.
    assert_eq!(new.commit(RingBuffer::MIN_CAPACITY), RingBuffer::MIN_CAPACITY);
    assert!(peeked(&new, 0, usize::MAX).iter().all(|&b| b == 0));
    new.clear();
    assert_eq!(new.push(&bytes(900, 5)), 900);
    assert_eq!(peeked(&new, 0, usize::MAX), bytes(900, 5));
    assert_eq!(new.capacity(), RingBuffer::MIN_CAPACITY, "no allocation for the first write");

    // A grown storage is not handed on; a buffer that has storage, or whose limit is below
    // a first allocation, takes none.
    let mut big = RingBuffer::with_limit(64 << 10);
    big.push(&bytes(3000, 1));
    assert_eq!(big.take_small_storage(), None);
    assert_eq!(peeked(&big, 0, usize::MAX), bytes(3000, 1));
    let mut small_limit = RingBuffer::with_limit(512);
    small_limit.adopt_storage(vec![7; RingBuffer::MIN_CAPACITY].into_boxed_slice());
    assert_eq!(small_limit.capacity(), 0);
    new.adopt_storage(vec![7; RingBuffer::MIN_CAPACITY].into_boxed_slice());
    assert_eq!(peeked(&new, 0, usize::MAX), bytes(900, 5));
}

#[test]
fn grows_by_doubling_up_to_the_limit() {
    let mut buf = RingBuffer::with_limit(5_000);
    assert_eq!(buf.push(&bytes(100, 0)), 100);
    assert_eq!(buf.capacity(), RingBuffer::MIN_CAPACITY);
    assert_eq!(buf.push(&bytes(1_000, 1)), 1_000);
    assert_eq!(buf.capacity(), 2_048);
    assert_eq!(buf.push(&bytes(3_000, 2)), 3_000);
    assert_eq!(buf.capacity(), 5_000, "the next power of two is capped by the limit");
    assert_eq!(buf.push(&bytes(2_000, 3)), 900, "cut at the limit");
    assert_eq!((buf.len(), buf.free()), (5_000, 0));
    assert_eq!(buf.push(&[1]), 0);
    let expected = [bytes(100, 0), bytes(1_000, 1), bytes(3_000, 2), bytes(900, 3)].concat();
    assert_eq!(peeked(&buf, 0, usize::MAX), expected);
}

#[test]
fn a_limit_raised_a_little_at_a_time_costs_few_allocations() {
    // Send-buffer autotuning raises the limit on almost every ACK while the window grows,
    // by a segment or so; the buffer is full each time. From 64 KiB to 8 MiB in 1 KiB steps
    // that is 8,000 raises: growth must stay geometric, not one copy of the buffer per raise.
    let mut buf = RingBuffer::with_limit(64 * 1024);
    let mut allocations = 0;
    let mut capacity = buf.capacity();
    while buf.limit() < 8 << 20 {
        buf.push(&vec![1; buf.free()]);
        if buf.capacity() != capacity {
            allocations += 1;
            capacity = buf.capacity();
        }
        assert!(buf.capacity() <= buf.limit() * 3 / 2, "{buf:?}");
        buf.set_limit(buf.limit() + 1024);
    }
    assert!(allocations <= 20, "{allocations} allocations");
}

#[test]
fn a_small_limit_is_the_first_allocation() {
    let mut buf = RingBuffer::with_limit(100);
    assert_eq!(buf.push(&[7; 10]), 10);
    assert_eq!(buf.capacity(), 100);
}

#[test]
fn limit_is_clamped() {
    assert_eq!(RingBuffer::with_limit(usize::MAX).limit(), RingBuffer::MAX_LIMIT);
    let mut buf = RingBuffer::with_limit(0);
    assert_eq!(buf.push(&[1, 2, 3]), 0);
    assert_eq!(buf.capacity(), 0);
    buf.set_limit(usize::MAX);
    assert_eq!(buf.limit(), RingBuffer::MAX_LIMIT);
    assert_eq!(buf.push(&[1, 2, 3]), 3);
}

#[test]
fn steady_state_never_reallocates_and_wraps_correctly() {
    let mut buf = RingBuffer::with_limit(4_096);
    let mut model = VecDeque::new();
    buf.push(&[0; 4_096]);
    buf.consume(4_096);
    let capacity = buf.capacity();
    let mut out = vec![0; 4_096];
    for round in 0..2_000usize {
        let data = bytes(round * 7 % 1_500 + 1, round as u8);
        let n = buf.push(&data);
        model.extend(&data[..n]);
        let want = round * 13 % 1_700;
        let got = buf.pop(&mut out[..want]);
        let expected: Vec<u8> = model.drain(..got).collect();
        assert_eq!(&out[..got], &expected[..]);
        assert_eq!(buf.capacity(), capacity, "round {round}");
    }
}

#[test]
fn an_emptied_buffer_rewound_takes_the_next_bytes_at_the_start_of_its_storage() {
    let mut buf = RingBuffer::with_limit(1_024);
    buf.push(&bytes(1_000, 0));
    let mut out = [0u8; 1_000];
    assert_eq!(buf.pop(&mut out), 1_000);
    buf.rewind_if_empty();
    // 500 bytes from the front at 1,000 would wrap; from the start they do not.
    buf.push(&bytes(500, 1));
    let (a, b) = buf.peek(0, 500);
    assert_eq!((a, b.len()), (&bytes(500, 1)[..], 0));
    assert_eq!(buf.capacity(), 1_024);
}

#[test]
fn rewinding_a_buffer_that_holds_bytes_changes_nothing() {
    let mut buf = RingBuffer::with_limit(1_024);
    buf.push(&bytes(1_000, 0));
    buf.consume(900);
    buf.push(&bytes(500, 1));
    buf.rewind_if_empty();
    let expected = [bytes(1_000, 0)[900..].to_vec(), bytes(500, 1)].concat();
    assert_eq!(peeked(&buf, 0, usize::MAX), expected);
}

#[test]
fn peek_returns_both_halves_of_a_wrapped_range() {
    let mut buf = RingBuffer::with_limit(1_024);
    buf.push(&bytes(1_000, 0));
    buf.consume(900);
    buf.push(&bytes(500, 1));
    let expected = [bytes(1_000, 0)[900..].to_vec(), bytes(500, 1)].concat();
    let (a, b) = buf.peek(50, 500);
    assert!(!a.is_empty() && !b.is_empty(), "the range wraps");
    assert_eq!([a, b].concat(), expected[50..550]);
    assert_eq!(peeked(&buf, 0, usize::MAX), expected);
}

#[test]
fn out_of_range_arguments_clamp() {
    let mut buf = RingBuffer::with_limit(64);
    buf.push(b"0123456789");
    assert_eq!(buf.peek(10, 5), (&[][..], &[][..]));
    assert_eq!(buf.peek(usize::MAX, usize::MAX), (&[][..], &[][..]));
    assert_eq!(peeked(&buf, 3, usize::MAX), b"3456789");
    assert_eq!(peeked(&buf, 8, 10), b"89");
    assert_eq!(buf.write_at(usize::MAX, b"x"), 0);
    assert_eq!(buf.write_at(54, b"x"), 0, "len + offset is at the limit");
    assert_eq!(buf.write_at(53, b"xyz"), 1, "cut at the limit");
    assert_eq!(buf.consume(usize::MAX), 10);
    assert_eq!(buf.commit(usize::MAX), buf.capacity(), "clamped to the storage");
}

#[test]
fn write_at_then_commit_reassembles() {
    let mut buf = RingBuffer::with_limit(1_000);
    assert_eq!(buf.write_at(6, b"world"), 5);
    assert_eq!(buf.len(), 0, "out-of-order bytes are not readable");
    assert_eq!(buf.write_at(0, b"hello "), 6);
    assert_eq!(buf.commit(11), 11);
    let mut out = [0; 32];
    assert_eq!(buf.pop(&mut out), 11);
    assert_eq!(&out[..11], b"hello world");
}

#[test]
fn write_at_summed_stores_like_write_at_and_sums_like_checksum_data_across_the_wrap() {
    use ustack_wire::checksum;
    // Every split of the data by the end of the storage, odd ones included (the second
    // piece then starts on an odd byte of the data), and offsets past the readable end.
    for head in [0, 1, 2, 1023, 1000, 1017] {
        for (offset, n) in [(0, 1), (0, 24), (0, 1000), (3, 1021), (7, 333), (0, 1024 - 5)] {
            let mut buf = RingBuffer::with_limit(1024);
            buf.push(&bytes(head, 9));
            buf.consume(head);
            buf.push(&[0xaa; 5]);
            let data = bytes(n, 77);
            let fits = 5 + offset + n <= 1024;
            let sum = buf.write_at_summed(offset, &data);
            assert_eq!(sum, fits.then(|| checksum::data(&data)), "head {head} at {offset}+{n}");
            if fits {
                assert_eq!(buf.len(), 5, "nothing becomes readable");
                buf.commit(offset + n);
                assert_eq!(peeked(&buf, 5 + offset, n), data, "head {head} at {offset}+{n}");
            }
        }
    }
    let mut buf = RingBuffer::with_limit(100);
    assert_eq!(buf.write_at_summed(1, &[0; 100]), None, "stores nothing past the limit");
    assert_eq!(buf.capacity(), 0);
}

#[test]
fn pending_bytes_keep_their_offset_across_pop() {
    let mut buf = RingBuffer::with_limit(1_000);
    buf.push(b"0123456789");
    assert_eq!(buf.write_at(5, b"xyz"), 3);
    assert_eq!(buf.pop(&mut [0; 10]), 10);
    assert_eq!(buf.write_at(0, b"abcde"), 5);
    assert_eq!(buf.commit(8), 8);
    assert_eq!(peeked(&buf, 0, 100), b"abcdexyz");
}

#[test]
fn growth_keeps_wrapped_pending_bytes() {
    let mut buf = RingBuffer::with_limit(8_192);
    buf.push(&[0; 1_000]);
    buf.consume(1_000);
    assert_eq!(buf.capacity(), 1_024);
    assert_eq!(buf.write_at(20, b"abc"), 3, "wraps around the end of the storage");
    assert_eq!(buf.write_at(3_000, b"zz"), 2);
    assert_eq!(buf.capacity(), 4_096);
    assert_eq!(buf.write_at(0, &[9; 20]), 20);
    assert_eq!(buf.commit(23), 23);
    assert_eq!(peeked(&buf, 0, 100), [vec![9; 20], b"abc".to_vec()].concat());
    assert_eq!(buf.write_at(0, &[5; 2_977]), 2_977);
    assert_eq!(buf.commit(2_979), 2_979);
    assert_eq!(peeked(&buf, 3_000, 100), b"zz");
}

#[test]
fn lowering_the_limit_keeps_data() {
    let mut buf = RingBuffer::with_limit(200);
    buf.push(&[1; 100]);
    buf.set_limit(50);
    assert_eq!((buf.len(), buf.free(), buf.limit()), (100, 0, 50));
    assert_eq!(buf.push(&[2]), 0);
    assert_eq!(buf.write_at(0, &[2]), 0);
    assert_eq!(buf.consume(60), 60);
    assert_eq!(buf.free(), 10);
    assert_eq!(buf.push(&[2; 20]), 10);
    assert_eq!(buf.capacity(), 200, "never shrinks by itself");
}

#[test]
fn clear_and_release() {
    let mut buf = RingBuffer::with_limit(4_096);
    buf.push(&[1; 2_000]);
    assert!(!buf.release_if_empty());
    buf.clear();
    assert_eq!((buf.len(), buf.capacity()), (0, 2_048));
    assert!(buf.release_if_empty());
    assert_eq!(buf.capacity(), 0);
    assert_eq!(buf.push(b"again"), 5);
    assert_eq!(peeked(&buf, 0, 10), b"again");
}

#[test]
fn debug_does_not_dump_the_storage() {
    let mut buf = RingBuffer::with_limit(4_096);
    buf.push(b"secret");
    assert_eq!(format!("{buf:?}"), "RingBuffer { len: 6, capacity: 1024, limit: 4096 }");
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>),
    Pop(usize),
    Consume(usize),
    Peek(usize, usize),
    WriteAt(usize, Vec<u8>),
    /// Commits at most this many of the contiguous written bytes past `len`.
    Commit(usize),
    SetLimit(usize),
    Clear,
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    let data = || proptest::collection::vec(any::<u8>(), 0..1_200);
    prop_oneof![
        4 => data().prop_map(Op::Push),
        3 => (0usize..1_500).prop_map(Op::Pop),
        2 => (0usize..1_500).prop_map(Op::Consume),
        2 => (0usize..5_000, 0usize..2_000).prop_map(|(o, l)| Op::Peek(o, l)),
        4 => (0usize..4_000, data()).prop_map(|(o, d)| Op::WriteAt(o, d)),
        3 => (0usize..3_000).prop_map(Op::Commit),
        1 => (0usize..6_000).prop_map(Op::SetLimit),
        1 => Just(Op::Clear),
        1 => Just(Op::Release),
    ]
}

/// The model: the readable bytes, and what is known of the bytes past them.
struct Model {
    readable: VecDeque<u8>,
    pending: Vec<Option<u8>>,
    limit: usize,
}

impl Model {
    fn drop_pending_front(&mut self, n: usize) {
        self.pending.drain(..n.min(self.pending.len()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn behaves_like_a_vecdeque(limit in 0usize..6_000, ops in proptest::collection::vec(op(), 1..80)) {
        let mut buf = RingBuffer::with_limit(limit);
        let mut model = Model { readable: VecDeque::new(), pending: Vec::new(), limit };
        let mut max_limit = limit;
        let mut out = vec![0; 2_000];
        for op in ops {
            let capacity_before = buf.capacity();
            match op {
                Op::Push(data) => {
                    let n = data.len().min(model.limit.saturating_sub(model.readable.len()));
                    prop_assert_eq!(buf.push(&data), n);
                    model.readable.extend(&data[..n]);
                    model.drop_pending_front(n);
                }
                Op::Pop(want) => {
                    let n = buf.pop(&mut out[..want]);
                    prop_assert_eq!(n, want.min(model.readable.len()));
                    let expected: Vec<u8> = model.readable.drain(..n).collect();
                    prop_assert_eq!(&out[..n], &expected[..]);
                }
                Op::Consume(want) => {
                    let n = buf.consume(want);
                    prop_assert_eq!(n, want.min(model.readable.len()));
                    model.readable.drain(..n);
                }
                Op::Peek(offset, len) => {
                    let start = offset.min(model.readable.len());
                    let end = start + len.min(model.readable.len() - start);
                    let expected: Vec<u8> = model.readable.range(start..end).copied().collect();
                    prop_assert_eq!(peeked(&buf, offset, len), expected);
                }
                Op::WriteAt(offset, data) => {
                    let start = model.readable.len() + offset;
                    let n = data.len().min(model.limit.saturating_sub(start));
                    prop_assert_eq!(buf.write_at(offset, &data), n);
                    if n > 0 {
                        if model.pending.len() < offset + n {
                            model.pending.resize(offset + n, None);
                        }
                        for (slot, &byte) in model.pending[offset..offset + n].iter_mut().zip(&data) {
                            *slot = Some(byte);
                        }
                    }
                }
                Op::Commit(want) => {
                    let written = model.pending.iter().take_while(|b| b.is_some()).count();
                    let n = want.min(written);
                    prop_assert_eq!(buf.commit(n), n);
                    let bytes: Vec<u8> = model.pending.drain(..n).map(|b| b.unwrap_or(0)).collect();
                    model.readable.extend(bytes);
                }
                Op::SetLimit(new_limit) => {
                    buf.set_limit(new_limit);
                    model.limit = new_limit;
                    max_limit = max_limit.max(new_limit);
                }
                Op::Clear => {
                    buf.clear();
                    model.readable.clear();
                    model.pending.clear();
                }
                Op::Release => {
                    let released = buf.release_if_empty();
                    prop_assert_eq!(released, model.readable.is_empty());
                    if released {
                        model.pending.clear();
                        prop_assert_eq!(buf.capacity(), 0);
                    }
                }
            }
            prop_assert_eq!(buf.len(), model.readable.len());
            prop_assert_eq!(buf.is_empty(), model.readable.is_empty());
            prop_assert_eq!(buf.free(), model.limit.saturating_sub(model.readable.len()));
            prop_assert!(buf.len() <= buf.capacity());
            prop_assert!(buf.capacity() <= max_limit * 3 / 2);
            if buf.capacity() > capacity_before {
                // Doubling: a power of two of at least MIN_CAPACITY, unless capped by the limit,
                // or by half the old capacity more when that is above the limit.
                let capacity = buf.capacity();
                prop_assert!(
                    capacity == model.limit
                        || capacity == capacity_before + capacity_before / 2
                        || (capacity.is_power_of_two() && capacity >= RingBuffer::MIN_CAPACITY)
                );
            }
            let all: Vec<u8> = model.readable.iter().copied().collect();
            prop_assert_eq!(peeked(&buf, 0, usize::MAX), all);
        }
    }
}
