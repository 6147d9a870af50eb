use super::{AddOutcome, Assembler, TooManyRanges};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::ops::Range;
use ustack_wire::{SackList, SeqNum};

fn blocks(list: &SackList) -> Vec<(u32, u32)> {
    list.as_slice().iter().map(|b| (b.left.get(), b.right.get())).collect()
}

fn ranges(asm: &Assembler) -> Vec<(u32, u32)> {
    asm.ranges().map(|r| (r.start, r.end)).collect()
}

fn new(bytes: u32) -> Result<AddOutcome, TooManyRanges> {
    Ok(AddOutcome { new_bytes: bytes, pruned: 0 })
}

/// A receiver in the style of RFC 2018 §7: it tracks RCV.NXT as a sequence number and turns
/// every arriving segment into the SACK blocks of the ACK it triggers.
struct Receiver {
    rcv_nxt: SeqNum,
    asm: Assembler,
    max_blocks: usize,
}

impl Receiver {
    fn new(rcv_nxt: u32, max_blocks: usize) -> Receiver {
        Receiver { rcv_nxt: SeqNum(rcv_nxt), asm: Assembler::new(), max_blocks }
    }

    /// Receives `seq..seq+len`; returns (ACK number, SACK blocks) of the ACK it triggers.
    fn segment(&mut self, seq: u32, len: u32) -> (u32, Vec<(u32, u32)>) {
        let offset = SeqNum(seq).diff(self.rcv_nxt) as u32;
        self.asm.add(offset, len).unwrap();
        let ready = self.asm.pop_front();
        self.rcv_nxt += ready;
        // RFC 2018 §4: the first block holds the trigger "unless that segment advanced the
        // Acknowledgment Number field".
        let trigger = (ready == 0).then_some((offset, len));
        let sack = self.asm.sack_blocks(self.rcv_nxt, trigger, self.max_blocks);
        (self.rcv_nxt.get(), blocks(&sack))
    }
}

// RFC 2018 §7: "Assume the left window edge is 5000 and that the data transmitter sends a burst
// of 8 segments, each containing 500 data bytes."

#[test]
fn rfc2018_case1_tail_lost_gives_plain_acks() {
    // "Case 1: The first 4 segments are received but the last 4 are dropped. The data
    // receiver will return a normal TCP ACK segment acknowledging sequence number 7000, with
    // no SACK option."
    let mut rx = Receiver::new(5_000, 4);
    for seq in [5_000, 5_500, 6_000, 6_500] {
        let (ack, sack) = rx.segment(seq, 500);
        assert_eq!((ack, sack), (seq + 500, vec![]));
    }
    assert!(rx.asm.is_empty());
}

#[test]
fn rfc2018_case2_first_segment_lost() {
    // "Case 2: The first segment is dropped but the remaining 7 are received. Upon receiving
    // each of the last seven packets, the data receiver will return a TCP ACK segment that
    // acknowledges sequence number 5000 and contains a SACK option specifying one block of
    // queued data."
    let mut rx = Receiver::new(5_000, 4);
    for (seq, right) in [
        (5_500, 6_000),
        (6_000, 6_500),
        (6_500, 7_000),
        (7_000, 7_500),
        (7_500, 8_000),
        (8_000, 8_500),
        (8_500, 9_000),
    ] {
        assert_eq!(rx.segment(seq, 500), (5_000, vec![(5_500, right)]), "trigger {seq}");
    }
    // The retransmission of the first segment fills the hole.
    assert_eq!(rx.segment(5_000, 500), (9_000, vec![]));
    assert!(rx.asm.is_empty());
}

#[test]
fn rfc2018_case3_every_other_segment_lost() {
    // "Case 3: The 2nd, 4th, 6th, and 8th (last) segments are dropped. The data receiver ACKs
    // the first packet normally. The third, fifth, and seventh packets trigger SACK options":
    // three blocks, the room left beside the timestamps option.
    let mut rx = Receiver::new(5_000, 3);
    assert_eq!(rx.segment(5_000, 500), (5_500, vec![]));
    assert_eq!(rx.segment(6_000, 500), (5_500, vec![(6_000, 6_500)]));
    assert_eq!(rx.segment(7_000, 500), (5_500, vec![(7_000, 7_500), (6_000, 6_500)]));
    assert_eq!(
        rx.segment(8_000, 500),
        (5_500, vec![(8_000, 8_500), (7_000, 7_500), (6_000, 6_500)])
    );
    // "Suppose at this point, the 4th packet is received out of order. ... At this point the
    // data receiver has only two SACK blocks to report."
    assert_eq!(rx.segment(6_500, 500), (5_500, vec![(6_000, 7_500), (8_000, 8_500)]));
    // "Suppose at this point, the 2nd segment is received."
    assert_eq!(rx.segment(5_500, 500), (7_500, vec![(8_000, 8_500)]));
}

#[test]
fn rfc2018_case3_with_room_for_four_blocks_is_the_same() {
    let mut rx = Receiver::new(5_000, 4);
    rx.segment(5_000, 500);
    rx.segment(6_000, 500);
    rx.segment(7_000, 500);
    assert_eq!(rx.segment(8_000, 500).1, vec![(8_000, 8_500), (7_000, 7_500), (6_000, 6_500)]);
}

#[test]
fn every_block_is_reported_in_three_successive_acks() {
    // RFC 2018 §4: "This assures that in normal operation, any segment remaining part of a
    // non-contiguous block of data held by the data receiver is reported in at least three
    // successive SACK options, even for large-window TCPs." Ten holes, three blocks per ACK.
    let mut rx = Receiver::new(0, 3);
    let acks: Vec<_> = (1..=10u32).map(|k| rx.segment(k * 1_000, 500).1).collect();
    for k in 1..=10u32 {
        let block = (k * 1_000, k * 1_000 + 500);
        for later in acks.iter().skip(k as usize - 1).take(3) {
            assert!(later.contains(&block), "{block:?} missing from {later:?}");
        }
        assert_eq!(acks[k as usize - 1][0], block, "the trigger comes first");
    }
}

#[test]
fn a_growing_block_moves_to_the_front() {
    // As Linux's tcp_sack_new_ofo_skb: the block the new segment extends is reported first,
    // the others keep their recency order.
    let mut asm: Assembler = Assembler::new();
    for offset in [100, 200, 300] {
        assert_eq!(asm.add(offset, 10), new(10));
    }
    assert_eq!(asm.add(210, 10), new(10));
    let sack = asm.sack_blocks(SeqNum(0), None, 4);
    assert_eq!(blocks(&sack), [(200, 220), (300, 310), (100, 110)]);
    // A duplicate moves its block to the front too: the ACK it triggers reports it first.
    assert!(asm.add(100, 5).unwrap().is_duplicate());
    assert_eq!(blocks(&asm.sack_blocks(SeqNum(0), None, 4)), [(100, 110), (200, 220), (300, 310)]);
}

#[test]
fn sack_fills_remaining_room_from_the_lowest_range() {
    // RFC 2018 §4: "The data receiver SHOULD include as many distinct SACK blocks as
    // possible in the SACK option." Six ranges, the history remembers four segments.
    let mut asm: Assembler = Assembler::new();
    for offset in [600, 500, 400, 300, 200, 100] {
        asm.add(offset, 10).unwrap();
    }
    assert_eq!(
        blocks(&asm.sack_blocks(SeqNum(0), None, 4)),
        [(100, 110), (200, 210), (300, 310), (400, 410)]
    );
    // Merge the four recent ones into one block: the history now names one range.
    asm.add(110, 300).unwrap();
    assert_eq!(asm.range_count(), 3);
    assert_eq!(
        blocks(&asm.sack_blocks(SeqNum(0), Some((110, 300)), 4)),
        [(100, 410), (500, 510), (600, 610)]
    );
}

#[test]
fn sack_edge_cases() {
    let mut asm: Assembler = Assembler::new();
    assert!(asm.sack_blocks(SeqNum(7), Some((3, 4)), 4).is_empty());
    asm.add(10, 10).unwrap();
    asm.add(30, 10).unwrap();
    assert!(asm.sack_blocks(SeqNum(0), None, 0).is_empty());
    assert_eq!(asm.sack_blocks(SeqNum(0), None, usize::MAX).len(), 2);
    // A trigger that is not held (refused, or in order) is skipped.
    assert_eq!(blocks(&asm.sack_blocks(SeqNum(0), Some((25, 1)), 1)), [(30, 40)]);
    // The trigger names any byte of its block.
    assert_eq!(blocks(&asm.sack_blocks(SeqNum(0), Some((15, 2)), 1)), [(10, 20)]);
    // Sequence numbers wrap.
    let rcv_nxt = SeqNum(u32::MAX - 14);
    assert_eq!(blocks(&asm.sack_blocks(rcv_nxt, Some((10, 10)), 4)), [(u32::MAX - 4, 5), (15, 25)]);
    // The unpopped front is not out of order and is not reported.
    asm.add(0, 5).unwrap();
    assert_eq!(asm.front_len(), 5);
    assert_eq!(blocks(&asm.sack_blocks(SeqNum(0), Some((0, 5)), 4)), [(30, 40), (10, 20)]);
}

#[test]
fn merges_overlaps_and_counts_new_bytes() {
    let mut asm: Assembler = Assembler::new();
    assert_eq!(asm.add(10, 5), new(5));
    assert_eq!(asm.add(20, 5), new(5));
    assert_eq!(ranges(&asm), [(10, 15), (20, 25)]);
    assert_eq!(asm.add(15, 5), new(5), "adjacent on both sides");
    assert_eq!(ranges(&asm), [(10, 25)]);
    assert_eq!(asm.add(12, 10), new(0));
    assert!(asm.add(12, 10).unwrap().is_duplicate());
    assert_eq!(asm.add(40, 5), new(5));
    assert_eq!(asm.add(50, 5), new(5));
    assert_eq!(asm.add(5, 60), new(60 - 15 - 10), "one segment bridges three ranges");
    assert_eq!(ranges(&asm), [(5, 65)]);
    assert_eq!(asm.range_count(), 1);
    assert_eq!(asm.add(3, 0), new(0), "empty");
    assert_eq!(ranges(&asm), [(5, 65)]);
}

#[test]
fn in_order_data_joins_the_front_and_absorbs_ranges() {
    let mut asm: Assembler = Assembler::new();
    asm.add(10, 10).unwrap();
    asm.add(30, 10).unwrap();
    assert_eq!(asm.front_len(), 0);
    assert_eq!(asm.add(0, 5), new(5));
    assert_eq!(asm.front_len(), 5);
    assert_eq!(asm.add(0, 5), new(0), "an in-order duplicate");
    assert_eq!(asm.add(3, 12), new(5), "overlaps the front and the first range");
    assert_eq!(ranges(&asm), [(0, 20), (30, 40)]);
    assert_eq!(asm.range_count(), 1);
    assert_eq!(asm.pop_front(), 20);
    assert_eq!(ranges(&asm), [(10, 20)]);
    assert_eq!(asm.pop_front(), 0);
    assert_eq!(asm.add(0, 10), new(10));
    assert_eq!(asm.pop_front(), 20);
    assert!(asm.is_empty());
}

#[test]
fn advance_shifts_and_forgets() {
    let mut asm: Assembler = Assembler::new();
    asm.add(10, 10).unwrap();
    asm.add(30, 10).unwrap();
    asm.add(50, 10).unwrap();
    asm.advance(0);
    assert_eq!(ranges(&asm), [(10, 20), (30, 40), (50, 60)]);
    asm.advance(5);
    assert_eq!(ranges(&asm), [(5, 15), (25, 35), (45, 55)]);
    // Into the middle of a range: it becomes the ready front.
    asm.advance(30);
    assert_eq!(ranges(&asm), [(0, 5), (15, 25)]);
    assert_eq!(blocks(&asm.sack_blocks(SeqNum(0), None, 4)), [(15, 25)]);
    asm.advance(u32::MAX);
    assert!(asm.is_empty());
    assert!(asm.sack_blocks(SeqNum(0), None, 4).is_empty());
}

#[test]
fn the_bound_prunes_the_highest_range_for_a_lower_hole_and_refuses_one_above_all() {
    // Linux `tcp_prune_ofo_queue`: under memory pressure the data furthest ahead goes first.
    let mut asm = Assembler::with_limit(3);
    for offset in [10, 30, 50] {
        asm.add(offset, 5).unwrap();
    }
    let before_sack = asm.sack_blocks(SeqNum(0), None, 4);
    assert_eq!(asm.add(70, 5), Err(TooManyRanges), "above every range: refused");
    assert_eq!(ranges(&asm), [(10, 15), (30, 35), (50, 55)]);
    assert_eq!(asm.sack_blocks(SeqNum(0), None, 4), before_sack);
    assert_eq!(asm.add(20, 5), Ok(AddOutcome { new_bytes: 5, pruned: 5 }), "between two");
    assert_eq!(ranges(&asm), [(10, 15), (20, 25), (30, 35)]);
    // Touching or overlapping a range never needs a slot.
    assert_eq!(asm.add(35, 5), new(5));
    assert_eq!(asm.add(15, 5), new(5), "joins two ranges, freeing a slot");
    assert_eq!(ranges(&asm), [(10, 25), (30, 40)]);
    assert_eq!(asm.add(70, 5), new(5));
    // In-order data is always accepted, even when every slot is taken.
    assert_eq!(asm.add(0, 3), new(3));
    assert_eq!(asm.pop_front(), 3);
    assert_eq!(asm.range_count(), 3);
    assert_eq!(
        TooManyRanges.to_string(),
        "out-of-order segment refused: too many holes in the receive queue"
    );
}

#[test]
fn zero_capacity_holds_only_in_order_data() {
    let mut asm = Assembler::with_limit(0);
    assert_eq!(asm.add(1, 5), Err(TooManyRanges));
    assert_eq!(asm.add(0, 5), new(5));
    assert_eq!(asm.pop_front(), 5);
    assert!(asm.sack_blocks(SeqNum(0), Some((1, 5)), 4).is_empty());
}

#[test]
fn offsets_saturate_at_the_top_of_u32() {
    let mut asm: Assembler = Assembler::new();
    assert_eq!(asm.add(u32::MAX - 5, 100), new(5));
    assert_eq!(asm.add(u32::MAX, 10), new(0));
    assert_eq!(asm.add(u32::MAX - 10, u32::MAX), new(5));
    assert_eq!(ranges(&asm), [(u32::MAX - 10, u32::MAX)]);
    assert_eq!(asm.add(0, u32::MAX), new(u32::MAX - 10));
    assert_eq!(asm.pop_front(), u32::MAX);
    assert!(asm.is_empty());
}

#[test]
fn clear_and_debug() {
    let mut asm: Assembler = Assembler::default();
    asm.add(0, 5).unwrap();
    asm.add(10, 5).unwrap();
    assert_eq!(
        format!("{asm:?}"),
        "Assembler { front: 5, ranges: [Span { start: 10, end: 15 }], limit: 64, \
         recent: [Span { start: 10, end: 15 }] }"
    );
    asm.clear();
    assert!(asm.is_empty());
    assert_eq!(ranges(&asm), [] as [(u32, u32); 0]);
    assert!(asm.sack_blocks(SeqNum(0), None, 4).is_empty());
}

#[test]
fn the_default_assembler_is_small_and_allocates_only_for_out_of_order_data() {
    assert_eq!(Assembler::new().limit(), Assembler::DEFAULT_LIMIT);
    // Every receiver holds one, idle or not: 80 bytes when the ranges' vector and the SACK
    // history were inline, 16 with both in a box that exists only while ranges are held.
    assert!(size_of::<Assembler>() <= 16, "{}", size_of::<Assembler>());
    let mut asm = Assembler::new();
    asm.add(0, 100).unwrap();
    asm.pop_front();
    assert_eq!(asm.storage_bytes(), 0, "in-order data allocated");
    asm.add(200, 100).unwrap();
    assert!(asm.storage_bytes() > 0);
    asm.release_storage();
    assert!(asm.storage_bytes() > 0, "a held range's storage was released");
    asm.add(0, 200).unwrap();
    assert_eq!(asm.pop_front(), 300);
    asm.release_storage();
    assert_eq!(asm.storage_bytes(), 0, "nothing held, storage kept");
    // The SACK history went with it: the next out-of-order segment is the only block.
    asm.add(50, 10).unwrap();
    assert_eq!(asm.sack_blocks(SeqNum(0), None, 4).len(), 1);
}

/// The model: the set of received offsets.
fn model_ranges(set: &BTreeSet<u32>) -> Vec<Range<u32>> {
    let mut out: Vec<Range<u32>> = Vec::new();
    for &x in set {
        match out.last_mut() {
            Some(r) if r.end == x => r.end += 1,
            _ => out.push(x..x + 1),
        }
    }
    out
}

fn out_of_order(ranges: &[Range<u32>]) -> Vec<Range<u32>> {
    ranges.iter().filter(|r| r.start > 0).cloned().collect()
}

#[derive(Debug, Clone)]
enum Op {
    Add(u32, u32),
    PopFront,
    Advance(u32),
    Sack(Option<(u32, u32)>, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u32..300, 0u32..30).prop_map(|(o, l)| Op::Add(o, l)),
        1 => Just(Op::PopFront),
        1 => (0u32..40).prop_map(Op::Advance),
        2 => (proptest::option::of((0u32..300, 1u32..30)), 0usize..6).prop_map(|(t, m)| Op::Sack(t, m)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn behaves_like_a_set_of_offsets(ops in proptest::collection::vec(op(), 1..120)) {
        const N: usize = 5;
        let mut asm = Assembler::with_limit(N);
        let mut set = BTreeSet::new();
        for op in ops {
            match op {
                Op::Add(offset, len) => {
                    let mut after = set.clone();
                    let fresh = (offset..offset + len).filter(|&x| after.insert(x)).count() as u32;
                    let ofo_after = out_of_order(&model_ranges(&after)).len();
                    let result = asm.add(offset, len);
                    let highest = out_of_order(&model_ranges(&set)).last().cloned();
                    if ofo_after <= N {
                        prop_assert_eq!(result, new(fresh));
                        set = after;
                    } else if highest.as_ref().is_some_and(|h| h.start > offset) {
                        // A new hole below the highest range: that range is pruned first.
                        let h = highest.expect("the highest range");
                        for x in h.clone() {
                            after.remove(&x);
                        }
                        let pruned = h.end - h.start;
                        prop_assert_eq!(result, Ok(AddOutcome { new_bytes: fresh, pruned }));
                        set = after;
                    } else {
                        prop_assert_eq!(result, Err(TooManyRanges));
                    }
                }
                Op::PopFront => {
                    let ready = set.iter().enumerate().take_while(|&(i, &x)| i as u32 == x).count() as u32;
                    prop_assert_eq!(asm.pop_front(), ready);
                    set = set.into_iter().filter(|&x| x >= ready).map(|x| x - ready).collect();
                }
                Op::Advance(n) => {
                    asm.advance(n);
                    set = set.into_iter().filter(|&x| x >= n).map(|x| x - n).collect();
                }
                Op::Sack(trigger, max) => {
                    let ofo = out_of_order(&model_ranges(&set));
                    let rcv_nxt = SeqNum(u32::MAX - 100);
                    let sack = asm.sack_blocks(rcv_nxt, trigger, max);
                    prop_assert_eq!(sack.len(), ofo.len().min(max).min(SackList::CAPACITY));
                    let got: Vec<Range<u32>> = sack
                        .as_slice()
                        .iter()
                        .map(|b| (b.left - rcv_nxt) as u32..(b.right - rcv_nxt) as u32)
                        .collect();
                    for (i, block) in got.iter().enumerate() {
                        prop_assert!(ofo.contains(block), "{:?} is not a held range", block);
                        prop_assert!(!got[..i].contains(block), "{:?} repeated", block);
                    }
                    if let (Some((offset, _)), Some(first)) = (trigger, got.first())
                        && let Some(held) = ofo.iter().find(|r| r.contains(&offset)) {
                            prop_assert_eq!(first, held);
                        }
                }
            }
            let model = model_ranges(&set);
            prop_assert_eq!(asm.ranges().collect::<Vec<_>>(), model.clone());
            prop_assert_eq!(asm.front_len(), model.first().filter(|r| r.start == 0).map_or(0, |r| r.end));
            prop_assert_eq!(asm.range_count(), out_of_order(&model).len());
            prop_assert_eq!(asm.is_empty(), set.is_empty());
        }
    }
}
