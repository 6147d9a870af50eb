//! The scoreboard's bookkeeping: marks, byte counts, splits at SACK edges, RFC 6675 `IsLost`.

use proptest::prelude::*;

use super::*;

const MSS: u32 = 1000;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// `n` full segments from sequence number `start`, sent 1 ms apart.
fn board(start: u32, n: u32) -> Scoreboard {
    let mut sb = Scoreboard::default();
    for k in 0..n {
        sb.push(SeqNum(start) + k * MSS, MSS, false, t(u64::from(k)));
    }
    sb.check();
    sb
}

#[test]
fn cumulative_ack_removes_whole_and_cuts_partial_segments() {
    let mut sb = board(u32::MAX - 1500, 4);
    assert_eq!(sb.pipe(), 4000);
    let d = sb.ack(SeqNum(u32::MAX - 1500), SeqNum(u32::MAX - 1500) + 1500u32);
    sb.check();
    assert_eq!((d.bytes, d.segments), (1500, 2));
    assert_eq!(d.latest, Some((t(1), 1, false)), "segment 1, the second transmission");
    assert_eq!(sb.len(), 3);
    assert_eq!(sb.pipe(), 2500);
    assert_eq!(sb.get(0).unwrap().len, 500);
}

#[test]
fn sack_blocks_mark_only_whole_segments() {
    // Linux `tcp_match_skb_to_sack`: a segment the block covers only in part is not SACKed.
    let mut sb = board(0, 5);
    // Segments 2 and 3 (2000..4000) and half of 4.
    let d = sb.sack(SeqNum(2000), SeqNum(4500), MSS);
    sb.check();
    assert_eq!((d.bytes, d.segments), (2000, 2));
    assert_eq!(sb.q().bytes[Mark::Sacked.index()], 2000);
    assert_eq!(sb.pipe(), 3000);
    assert_eq!(sb.fack, Some(SeqNum(4000)));
    // The same block again delivers nothing new.
    assert_eq!(sb.sack(SeqNum(2000), SeqNum(4500), MSS).bytes, 0);
    // A block inside one segment, or covering its last byte only, marks nothing and cuts
    // nothing.
    assert_eq!(sb.sack(SeqNum(300), SeqNum(700), MSS), Delivered::default());
    assert_eq!(sb.sack(SeqNum(4999), SeqNum(5000), MSS), Delivered::default());
    sb.check();
    assert_eq!(sb.len(), 5);
    // Blocks outside the queue change nothing.
    assert_eq!(sb.sack(SeqNum(9000), SeqNum(9100), MSS), Delivered::default());
    sb.check();
}

#[test]
fn sack_blocks_cut_a_longer_entry_at_whole_segments() {
    // An entry of three segments' length (sent before the MSS fell): the SACKed part is cut
    // at multiples of the MSS from its start, rounded towards the inside of the block.
    let mut sb = Scoreboard::default();
    sb.push(SeqNum(0), 3 * MSS, false, t(0));
    // 500..2600: only 1000..2000 is a whole segment inside it.
    let d = sb.sack(SeqNum(500), SeqNum(2600), MSS);
    sb.check();
    assert_eq!((d.bytes, d.segments), (1000, 1));
    let marks: Vec<_> = sb.iter().map(|s| (s.start.get(), s.len, s.mark)).collect();
    assert_eq!(
        marks,
        [(0, 1000, Mark::InFlight), (1000, 1000, Mark::Sacked), (2000, 1000, Mark::InFlight)]
    );
    // Less than a segment at the left edge of an entry marks nothing.
    let mut sb = Scoreboard::default();
    sb.push(SeqNum(0), 3 * MSS, false, t(0));
    assert_eq!(sb.sack(SeqNum(0), SeqNum(900), MSS), Delivered::default());
    assert_eq!(sb.len(), 1);
}

#[test]
fn is_lost_needs_three_sacked_segments_or_more_than_two_segments_of_bytes_above() {
    // RFC 6675 §4: DupThresh = 3.
    let mut sb = board(0, 6);
    sb.sack(SeqNum(1000), SeqNum(3000), MSS);
    assert!(!sb.mark_lost_by_sacks(MSS, 3), "two SACKed segments above are not enough");
    sb.sack(SeqNum(3000), SeqNum(4000), MSS);
    assert!(sb.mark_lost_by_sacks(MSS, 3), "three SACKed segments above");
    sb.check();
    assert_eq!(sb.first_lost(), Some(0));
    assert_eq!(sb.lost(), 1000);
    // Entries above the highest SACK are not lost.
    assert_eq!(sb.iter().filter(|s| s.mark == Mark::Lost).count(), 1);
}

#[test]
fn retransmission_of_a_shorter_piece_splits_the_entry_and_keeps_the_rest_lost() {
    let mut sb = board(0, 2);
    sb.mark_all_lost();
    assert_eq!((sb.lost(), sb.pipe()), (2000, 0));
    sb.retransmitted(0, 600, t(50));
    sb.check();
    assert_eq!((sb.lost(), sb.pipe()), (1400, 600));
    assert!(sb.retransmissions_in_flight());
    assert_eq!(sb.first_lost(), Some(1));
    assert_eq!(sb.get(1).unwrap().start, SeqNum(600));
    let d = sb.ack(SeqNum(0), SeqNum(600));
    assert!(d.retransmitted);
    assert!(!sb.retransmissions_in_flight());
    sb.check();
}

#[test]
fn a_late_segment_below_the_highest_sack_shows_reordering() {
    let mut sb = board(0, 3);
    assert!(!sb.sack(SeqNum(2000), SeqNum(3000), MSS).reordered);
    let d = sb.ack(SeqNum(0), SeqNum(1000));
    assert!(d.reordered, "segment 0 arrived after segment 2 and was never sent again");
}

proptest! {
    #[test]
    fn counts_always_match_the_marks(
        ops in proptest::collection::vec((0u8..4, 0u32..8000, 0u32..3000), 1..60),
    ) {
        let mut sb = board(4_294_960_000, 8);
        let mut una = SeqNum(4_294_960_000);
        for (op, a, b) in ops {
            match op {
                0 => { sb.sack(una + a, una + a + b, MSS); }
                1 => { let ack = una + a.min(b); sb.ack(una, ack); una = ack; }
                2 => { sb.mark_lost_by_sacks(MSS, 3); }
                _ => if let Some(i) = sb.first_lost() {
                    let len = sb.get(i).unwrap().len;
                    sb.retransmitted(i, len.min(b.max(1)), t(100));
                } else { sb.mark_all_lost(); },
            }
            sb.check();
        }
    }
}
