//! Proportional Rate Reduction (RFC 6937) and limited transmit (RFC 3042), as Linux runs them
//! (`tcp_cwnd_reduction`, counted in segments; "reno" duplicate ACKs standing for segments the
//! peer holds), and timestamp-based undo (RFC 3522).

use super::*;

fn retransmitted(s: &Script) -> Vec<u32> {
    s.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Retransmit { seq, .. } => Some(seq.get().wrapping_sub(LOCAL_ISS.get())),
            _ => None,
        })
        .collect()
}

/// Data segments sent from line `from` of the pending queue on, as relative sequence numbers.
fn sent_since(s: &mut Script) -> Vec<u32> {
    s.collect();
    let mut out = Vec::new();
    while let Some((_, sent)) = s.pending.pop_front() {
        if !sent.payload.is_empty() {
            out.push(sent.seg.seq.get().wrapping_sub(LOCAL_ISS.get()));
        }
    }
    out
}

#[test]
fn s20_prr_spreads_the_reduction_over_the_round_trip_one_segment_per_two_acks() {
    // RFC 6937 §3, "Example 1": one segment lost, every other one SACKed. While pipe is
    // above ssthresh, PRR sends CEIL(prr_delivered · ssthresh / RecoverFS) − prr_out: with
    // ssthresh half of RecoverFS, one segment for every two delivered, instead of RFC
    // 6675's silence for half a round trip and a burst after it.
    // NewReno's halving (RFC 6937's example; CUBIC's ssthresh would be 0.7 of the flight).
    let buffers = crate::BufferSizes { min: 4096, default: 1 << 20, max: 1 << 20 };
    let newreno = crate::CcName::NEWRENO;
    let mut s = Script::client(TcpConfig { wmem: buffers, congestion_control: newreno, ..cfg() });
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK>
        +0   > . 1:1(0) ack 1
        ",
    );
    s.send(40_000);
    let first = sent_since(&mut s);
    assert_eq!(first.len(), 10);
    // Segment 1 (seq 1) is lost; the SACKs for 2, 3, 4 arrive. The first two free a place
    // each in the pipe (RFC 6675): segments 11 and 12 go. The third makes RACK mark segment
    // 1 lost: recovery, ssthresh = half of cwnd 10 (Linux reduces from cwnd; FlightSize
    // counts 12 with the SACKed ones), RecoverFS = cwnd = 10.
    let mut sends = Vec::new();
    for k in 1..=11u32 {
        let right = 1001 + 1000 * k;
        s.run(&format!("0.2 < . 1:1(0) ack 1 win 65535 <sack 1001:{right}>"));
        sends.push(sent_since(&mut s));
    }
    assert_eq!(sends[0], [10_001]);
    assert_eq!(sends[1], [11_001]);
    // In recovery, while pipe is above ssthresh: per ACK CEIL(5 · delivered / 10) − out, so
    // 1, 0, 1, 0, 1, 0 for the first six: one for every two segments delivered (pipe falls
    // from 8 to 5). Then pipe is at ssthresh: the slow-start reduction bound sends what is
    // delivered, keeping pipe at ssthresh: 0 (pipe 5 = ssthresh), 1, 1.
    let in_recovery: Vec<usize> = sends[2..].iter().map(Vec::len).collect();
    assert_eq!(in_recovery, [1, 0, 1, 0, 1, 0, 0, 1, 1]);
    assert_eq!(sends[2], [1], "the lost segment first");
    assert_eq!(retransmitted(&s), [1]);
    assert_eq!(s.conn.congestion_control().ssthresh(), 5000);
}

#[test]
fn s20_limited_transmit_sends_new_data_on_the_first_two_duplicate_acks() {
    // RFC 3042 (Linux: duplicate ACKs of a non-SACK peer count as segments that left the
    // network): the first and second duplicate ACKs each let one new segment go; the third
    // starts fast recovery with the retransmission.
    let mut s = Script::established_client(cfg());
    s.send(15_000);
    let first = sent_since(&mut s);
    assert_eq!(first.len(), 10);
    s.run("+0.1 < . 1:1(0) ack 1 win 65535");
    assert_eq!(sent_since(&mut s), [10_001]);
    s.run("+0 < . 1:1(0) ack 1 win 65535");
    assert_eq!(sent_since(&mut s), [11_001]);
    s.run("+0 < . 1:1(0) ack 1 win 65535");
    assert_eq!(sent_since(&mut s), [1]);
    assert_eq!(retransmitted(&s), [1]);
}

#[test]
fn s20_timestamps_show_a_spurious_fast_retransmit_and_it_is_undone() {
    // RFC 3522 (Eifel), Linux `tcp_try_undo_partial`/`tcp_try_undo_recovery`: the ACK that
    // covers the retransmitted segment echoes the timestamp of its first transmission (sent
    // at 100 ms, TSval 100), older than the retransmission's: the original arrived, the
    // retransmission was not needed, and the window reduction is taken back.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1012,sackOK,TS val 1 ecr 0>
        +0   > . 1:1(0) ack 1 <TS val 100 ecr 1>
        ",
    );
    s.send(10_000);
    assert_eq!(sent_since(&mut s).len(), 10);
    let cwnd = s.conn.congestion_control().window();
    for right in [2001, 3001, 4001] {
        s.run(&format!("0.2 < . 1:1(0) ack 1 win 65535 <TS val 2 ecr 100,sack 1001:{right}>"));
    }
    assert_eq!(sent_since(&mut s), [1], "three SACKs: segment 1 sent again");
    assert!(s.conn.congestion_control().window() < cwnd);
    // The reordered original arrives; its ACK echoes 100, not the retransmission's 200.
    s.run("0.21 < . 1:1(0) ack 10001 win 65535 <TS val 3 ecr 100>");
    sent_since(&mut s);
    assert_eq!(s.conn.stats().spurious_undos, 1);
    assert!(s.conn.congestion_control().window() >= cwnd);
}

#[test]
fn s20_a_late_original_below_a_retransmission_gives_rack_its_rtt_and_prr_its_extra_segment() {
    // packetdrill's prr-ss-ack-below-snd_una-cubic, as Linux 6.18 runs it. Segments 1, 5
    // and 8 are lost; the SACK of 8001:9001 (three segments SACKed, reordering window 0)
    // makes RACK mark every segment below it lost, and PRR sends the first again. The ACK
    // of 4001 then delivers the retransmitted segment 1 (sent at 0.02 s) and segment 4, an
    // original from 0.01 s that arrived after 8001:9001: reordering (reordering window now
    // min_rtt / 4) and, because Linux's `tcp_rack_advance` leaves RACK.rtt at the RTT of the
    // last segment it takes (in sequence order), RACK.rtt 22 ms, not the retransmission's
    // 12 ms. So 9001:10001 (sent at 0.01 s) is not yet lost at 0.032 s, the ACK finds no
    // new loss, and PRR's slow-start reduction bound adds one (Linux `tcp_cwnd_reduction`):
    // ssthresh 7 (CUBIC), pipe 1, prr_delivered 3, prr_out 1: min(7 - 1, max(3 - 1, 2) + 1)
    // = 3 retransmissions at once.
    let mut s = Script::client(cfg());
    s.run(
        "
        0     > S 0:0(0)
        +0.01 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK>
        +0    > . 1:1(0) ack 1
        ",
    );
    s.send(10_000);
    assert_eq!(sent_since(&mut s).len(), 10);
    s.run(
        "
        0.02  < . 1:1(0) ack 1 win 65535 <sack 1001:2001>
        +0    < . 1:1(0) ack 1 win 65535 <sack 1001:3001>
        +0    < . 1:1(0) ack 1 win 65535 <sack 1001:3001 8001:9001>
        +0    > . 1:1001(1000) ack 1
        0.032 < . 1:1(0) ack 4001 win 65535 <sack 8001:9001>
        +0    > . 4001:5001(1000) ack 1
        +0    > . 5001:6001(1000) ack 1
        +0    > . 6001:7001(1000) ack 1
        ",
    );
    s.done();
}
