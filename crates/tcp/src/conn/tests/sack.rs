//! SACK-based loss recovery (RFC 2018, RFC 6675), RACK-TLP (RFC 8985), Proportional Rate
//! Reduction (RFC 6937), D-SACK (RFC 2883) and undo (RFC 3708), with Linux's defaults. The
//! peer offers SACK (no timestamps, so RTTs come from timed segments): SRTT 100 ms, RTO
//! 300 ms after the handshake.

use super::*;

/// A client whose peer offered SACK; `n` bytes queued and the initial window (10 segments of
/// 1000 bytes) sent at 0.1 s.
fn sack_client(cfg: TcpConfig, n: usize) -> Script {
    let mut s = Script::client(cfg);
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK>
        +0   > . 1:1(0) ack 1
        ",
    );
    s.send(n);
    let burst = 10usize.min(n.div_ceil(1000));
    for i in 0..burst {
        let end = (1000 * (i + 1)).min(n);
        // PSH on the end of the data, and on the last segment of the write's burst when the
        // initial window stops it (Linux `tcp_push`).
        let flags = if end == n || i + 1 == burst { "P." } else { "." };
        s.run(&format!("+0 > {flags} {}:{}({}) ack 1", 1 + 1000 * i, 1 + end, end - 1000 * i));
    }
    s.done();
    s
}

/// The default config with NewReno, for scripts whose segment-by-segment timing follows
/// from its ssthresh (half the flight; CUBIC's is 0.7 of it).
fn newreno() -> TcpConfig {
    TcpConfig { congestion_control: crate::CcName::NEWRENO, ..cfg() }
}

fn retransmissions(s: &Script) -> Vec<(RetransmitReason, u32)> {
    s.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Retransmit { reason, seq, .. } => {
                Some((*reason, seq.get().wrapping_sub(LOCAL_ISS.get())))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn s20_sack_recovery_repairs_every_hole_of_a_burst_in_the_first_round_trip() {
    // Segments 2, 4 and 6 (1001, 3001, 5001) are lost. The ACK of segment 1 grows the window
    // by a segment (slow start): two new segments go. Each SACK of a segment that arrived
    // takes it out of the pipe (RFC 6675): one new segment each. On the third SACKed
    // segment RACK's reordering window is zero (RFC 8985 §6.2 step 4, DupThresh) and every
    // segment sent before the last one delivered is lost at once: recovery, ssthresh = half
    // of cwnd 11 (FlightSize, 13 with the SACKed ones, is capped by cwnd as Linux reduces
    // from cwnd). PRR (RFC 6937) then sends ceil(ssthresh · delivered / RecoverFS) − out
    // segments per ACK (RecoverFS = cwnd 11) while pipe is above ssthresh,
    // then (pipe at or below it) at most ssthresh − pipe: the three holes go again within
    // the round trip, paced by the ACKs, then new data. (ssthresh is NewReno's half.)
    let mut s = sack_client(newreno(), 15_000);
    s.run(
        "
        0.2  < . 1:1(0) ack 1001 win 65535
        +0   > . 10001:11001(1000) ack 1
        +0   > . 11001:12001(1000) ack 1
        +0   < . 1:1(0) ack 1001 win 65535 <sack 2001:3001>
        +0   > . 12001:13001(1000) ack 1
        +0   < . 1:1(0) ack 1001 win 65535 <sack 2001:3001 4001:5001>
        +0   > . 13001:14001(1000) ack 1
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:7001 2001:3001 4001:5001>
        +0   > . 1001:2001(1000) ack 1
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:8001 2001:3001 4001:5001>
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:9001 2001:3001 4001:5001>
        +0   > . 3001:4001(1000) ack 1
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:10001 2001:3001 4001:5001>
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:11001 2001:3001 4001:5001>
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:12001 2001:3001 4001:5001>
        +0   > . 5001:6001(1000) ack 1
        +0   < . 1:1(0) ack 1001 win 65535 <sack 6001:13001 2001:3001 4001:5001>
        +0   > P. 14001:15001(1000) ack 1
        ",
    );
    s.done();
    let rtx = retransmissions(&s);
    let fast = RetransmitReason::FastRetransmit;
    assert_eq!(rtx, [(fast, 1001), (fast, 3001), (fast, 5001)]);
    assert_eq!(s.conn.congestion_control().ssthresh(), 5500);
    // The retransmissions' ACK ends recovery: cwnd = ssthresh (RFC 6937 §3).
    s.run(
        "
        0.3  < . 1:1(0) ack 14001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.snd.phase, super::super::send::Phase::Open);
}

#[test]
fn s20_tail_loss_probe_finds_a_lost_tail_without_the_rto() {
    // RFC 8985 §7: the last two segments of the flight are lost. Nothing follows them to be
    // SACKed, so only a timeout could find them. The PTO (2·SRTT + 2 ms, two segments in
    // flight, but never later than the RTO of the oldest segment: sent at 0.1 s, RTO 300
    // ms) fires at 0.4 s and sends the last segment again; its SACK lets RACK mark the
    // other one lost, and fast recovery repairs it: no retransmission timeout.
    let mut s = sack_client(cfg(), 10_000);
    s.run(
        "
        0.2   < . 1:1(0) ack 8001 win 65535
        0.4   > P. 9001:10001(1000) ack 1
        0.5   < . 1:1(0) ack 8001 win 65535 <sack 9001:10001>
        +0    > . 8001:9001(1000) ack 1
        0.6   < . 1:1(0) ack 10001 win 65535
        ",
    );
    s.done();
    assert_eq!(
        retransmissions(&s),
        [(RetransmitReason::TailLossProbe, 9001), (RetransmitReason::FastRetransmit, 8001)]
    );
    assert_eq!(s.conn.stats().tlp_probes, 1);
    assert_eq!(s.fired(TimerKind::Retransmit), [secs(0.4)], "the probe timeout only");
    assert_eq!(s.conn.snd.phase, super::super::send::Phase::Open);
}

#[test]
fn s20_a_dsack_for_other_data_does_not_cancel_the_reduction_a_repaired_tail_loss_earns() {
    // The last segment is lost; the tail loss probe sends it again and repairs it, and an ACK
    // past the probe's end shows a loss happened: the window is reduced once (RFC 8985 §7.4,
    // Linux `tcp_process_tlp_ack`). A D-SACK on that ACK cancels the reduction only if it
    // names the probe (the original and the probe both arrived); one for data sent after the
    // probe, never retransmitted, proves nothing about it.
    let mut s = sack_client(cfg(), 10_000);
    s.run(
        "
        0.2   < . 1:1(0) ack 9001 win 65535
        0.4   > P. 9001:10001(1000) ack 1
        ",
    );
    s.send(2000);
    s.run(
        "
        +0    > . 10001:11001(1000) ack 1
        +0    > P. 11001:12001(1000) ack 1
        0.5   < . 1:1(0) ack 11001 win 65535 <sack 11001:11501 11001:12001>
        0.6   < . 1:1(0) ack 12001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().tlp_probes, 1);
    assert_eq!(s.conn.stats().dsacks_received, 1);
    assert_eq!(s.conn.stats().tlp_recoveries, 1, "the repaired tail loss reduces the window");
}

#[test]
fn s20_a_sack_of_a_segments_last_byte_marks_nothing_and_the_tail_loss_probe_goes() {
    // Linux (`tcp_match_skb_to_sack`; packetdrill's fr-4pkt-fack-last-byte) counts a segment
    // SACKed only whole: a block naming the last byte of segment 4 says nothing delivered,
    // so RACK has nothing sent after segments 1-3 to judge them by and there is no fast
    // recovery. Nor does an ACK that acknowledges no new data move the probe timeout
    // (RFC 8985 §7.2; Linux re-arms it only when data is acknowledged): the tail loss probe
    // goes 2·SRTT + 2 ms after the flight left at 0.1 s and sends the last segment again.
    let mut s = sack_client(cfg(), 4000);
    s.run(
        "
        0.2   < . 1:1(0) ack 1 win 65535 <sack 4000:4001>
        0.302 > P. 3001:4001(1000) ack 1
        ",
    );
    s.done();
    assert_eq!(retransmissions(&s), [(RetransmitReason::TailLossProbe, 3001)]);
    assert_eq!(s.conn.snd.phase, super::super::send::Phase::Open);
}

#[test]
fn s20_a_sack_of_a_segment_below_the_highest_sack_raises_the_reordering_degree() {
    // packetdrill's sack-shift-sacked-2-6-8-3-9-nofack, as Linux 6.18 runs it. Segments 3,
    // 7 and 9 are SACKed: RACK marks the six below 8001:9001 lost and recovery sends
    // 1:1001. Then 3001:4001, one of those six and never sent again, is SACKed: it arrived
    // after 8001:9001, reordering six segments deep (9001 − 3001), and Linux's
    // `tcp_check_sack_reordering` raises the connection's reordering degree from 3 to 6
    // (`tcpi_reordering`).
    let mut s = sack_client(cfg(), 10_000);
    assert_eq!(s.conn.info().reordering, 3);
    s.run(
        "
        0.2   < . 1:1(0) ack 1 win 65535 <sack 2001:3001>
        0.201 < . 1:1(0) ack 1 win 65535 <sack 2001:3001 6001:7001>
        0.202 < . 1:1(0) ack 1 win 65535 <sack 2001:3001 6001:7001 8001:9001>
        +0    > . 1:1001(1000) ack 1
        ",
    );
    assert_eq!(s.conn.info().lost_segments, 6);
    s.run(
        "
        0.209 < . 1:1(0) ack 1 win 65535 <sack 2001:4001 6001:7001 8001:9001>
        +0    > . 1001:2001(1000) ack 1
        ",
    );
    s.done();
    let info = s.conn.info();
    assert_eq!(info.lost_segments, 5);
    assert_eq!(info.reordering, 6);
    assert_eq!(info.reord_seen, 1);
}

#[test]
fn s20_a_lost_retransmission_is_found_by_rack_not_by_the_rto() {
    // RFC 8985 §3.3: a retransmission lost again. Segment 1 is lost; three SACKs put it in
    // recovery and it goes again at 0.2 s, after new segments 10001 and 11001 and before
    // 12001. That retransmission is lost too. SACKs for segments sent before it say
    // nothing about it; the SACK of 12001 (sent after it) does: an RTT has passed since it
    // was sent (RACK.rtt 0.2 s, reordering window 0 in recovery), so it is lost and goes a
    // third time, without waiting for the retransmission timer. (Which segment PRR sends when
    // follows from NewReno's ssthresh, half the flight.)
    let mut s = sack_client(newreno(), 15_000);
    s.run(
        "
        0.2  < . 1:1(0) ack 1 win 65535 <sack 1001:2001>
        +0   > . 10001:11001(1000) ack 1
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:3001>
        +0   > . 11001:12001(1000) ack 1
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:4001>
        +0   > . 1:1001(1000) ack 1
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:5001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:6001>
        +0   > . 12001:13001(1000) ack 1
        0.3  < . 1:1(0) ack 1 win 65535 <sack 1001:11001>
        +0   > . 13001:14001(1000) ack 1
        +0   > P. 14001:15001(1000) ack 1
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:12001>
        0.4  < . 1:1(0) ack 1 win 65535 <sack 1001:13001>
        +0   > . 1:1001(1000) ack 1
        ",
    );
    s.run("0.5  < . 1:1(0) ack 15001 win 65535");
    s.done();
    let again = retransmissions(&s).iter().filter(|r| r.1 == 1).count();
    assert_eq!(again, 2, "segment 1 sent three times in all");
    assert!(s.fired(TimerKind::Retransmit).is_empty(), "no timeout");
}

#[test]
fn s20_bare_duplicate_acks_do_not_start_recovery_on_a_sack_connection() {
    // A peer (or an off-path attacker making the peer answer its segments) sends duplicate
    // ACKs without SACK blocks: on a SACK connection they carry no evidence of loss.
    let mut s = sack_client(cfg(), 10_000);
    for _ in 0..10 {
        s.run("+0.01 < . 1:1(0) ack 1001 win 65535");
    }
    s.done();
    assert!(retransmissions(&s).is_empty());
    assert_eq!(s.conn.snd.phase, super::super::send::Phase::Open);
}

#[test]
fn s15_a_duplicate_segment_is_reported_with_a_dsack_block() {
    // RFC 2883 §4: the first SACK block of the ACK for a duplicate names it.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000,sackOK>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 <mss 1460,sackOK>
        +0.1 < . 1:1(0) ack 1 win 65535
        +0.1 < . 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        +0.1 < . 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001 <sack 1:1001>
        +0.1 < . 2001:3001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001 <sack 2001:3001>
        +0.1 < . 2001:3001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001 <sack 2001:3001 2001:3001>
        ",
    );
    s.done();
}

#[test]
fn s20_dsack_for_a_spurious_retransmission_undoes_the_reduction() {
    // RFC 3708: segment 1 was only delayed (reordered), but three SACKs made it look lost
    // and it was sent again. The peer then reports the retransmission as a duplicate
    // (D-SACK below the cumulative ACK): every retransmission of the episode arrived twice,
    // so the window comes back to where it was.
    let mut s = sack_client(cfg(), 10_000);
    let cwnd = s.conn.congestion_control().window();
    s.run(
        "
        0.2  < . 1:1(0) ack 1 win 65535 <sack 1001:2001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:3001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:4001>
        +0   > . 1:1001(1000) ack 1
        +0   < . 1:1(0) ack 10001 win 65535
        0.3  < . 1:1(0) ack 10001 win 65535 <sack 1:1001>
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().spurious_undos, 1);
    assert!(s.conn.congestion_control().window() >= cwnd);
}

#[test]
fn s20_dsacks_an_off_path_attacker_can_provoke_undo_nothing() {
    // Anyone who knows the 4-tuple can make the peer send D-SACKs: a spoofed data segment
    // below its RCV.NXT is reported as a duplicate (RFC 2883 §4). Segment 1 is really lost
    // here and sent again; the reduction must stay. D-SACKs for data sent before the episode
    // began (below the undo marker, ISS + 1), beyond SND.MAX, or longer than the peer's
    // largest window are not evidence (Linux `tcp_is_sackblock_valid`, `tcp_dsack_seen`).
    let mut s = sack_client(cfg(), 10_000);
    s.run(
        "
        0.2  < . 1:1(0) ack 1 win 65535 <sack 1001:2001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:3001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:4001>
        +0   > . 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 10001 win 65535
        ",
    );
    let cwnd = s.conn.congestion_control().window();
    s.run(
        "
        +0.01 < . 1:1(0) ack 10001 win 65535 <sack 4294960001:4294960513>
        +0.01 < . 1:1(0) ack 10001 win 65535 <sack 2000000001:2000000513>
        +0.01 < . 1:1(0) ack 10001 win 65535 <sack 4294967000:10001>
        +0.01 < . 1:1(0) ack 10001 win 65535 <sack 1:200001>
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().dsacks_received, 0);
    assert_eq!(s.conn.stats().spurious_undos, 0);
    assert_eq!(s.conn.congestion_control().window(), cwnd);
}

#[test]
fn s20_a_dsack_inside_the_flight_for_data_never_retransmitted_undoes_nothing() {
    // Segment 1 is lost and sent again: one retransmission in the episode. A D-SACK inside
    // the flight naming segment 6, which was sent once, proves nothing about that
    // retransmission (a spoofed copy of segment 6 reached the peer after the original, or
    // the network duplicated it); Linux counts it only for a segment marked retransmitted
    // (`tcp_sacktag_one`: `TCPCB_RETRANS`), so the reduction stays.
    let mut s = sack_client(cfg(), 10_000);
    s.run(
        "
        0.2  < . 1:1(0) ack 1 win 65535 <sack 1001:2001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:3001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:4001>
        +0   > . 1:1001(1000) ack 1
        ",
    );
    let cwnd = s.conn.congestion_control().window();
    s.run(
        "
        +0.01 < . 1:1(0) ack 1 win 65535 <sack 5001:6001 1001:7001>
        +0.1  < . 1:1(0) ack 10001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().dsacks_received, 1);
    assert_eq!(s.conn.stats().spurious_undos, 0);
    assert!(
        s.conn.congestion_control().window() <= cwnd.max(s.conn.congestion_control().ssthresh())
    );
}

#[test]
fn s20_a_dsack_below_snd_una_for_data_never_retransmitted_undoes_nothing() {
    // The shape of s20_dsack_for_a_spurious_retransmission_undoes_the_reduction, but the
    // D-SACK below SND.UNA names segment 3, which arrived the first time and was never sent
    // again: a copy someone else made (a blind attacker's, answered by the peer), not
    // evidence that the retransmission of segment 1 was spurious. RFC 3708 §3 has the sender
    // check that the duplicate is one it retransmitted; Linux counts any D-SACK above the
    // undo marker here (`tcp_check_dsack`), which a blind flood turns into undone
    // reductions. The reduction stays.
    let mut s = sack_client(cfg(), 10_000);
    s.run(
        "
        0.2  < . 1:1(0) ack 1 win 65535 <sack 1001:2001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:3001>
        +0   < . 1:1(0) ack 1 win 65535 <sack 1001:4001>
        +0   > . 1:1001(1000) ack 1
        +0   < . 1:1(0) ack 10001 win 65535
        ",
    );
    let cwnd = s.conn.congestion_control().window();
    s.run("0.3 < . 1:1(0) ack 10001 win 65535 <sack 2001:3001>");
    assert_eq!(s.conn.stats().dsacks_received, 1);
    assert_eq!(s.conn.stats().spurious_undos, 0);
    assert_eq!(s.conn.congestion_control().window(), cwnd);
    s.done();
}

#[test]
fn s20_dsacks_naming_more_duplicates_than_retransmissions_are_ignored() {
    // Nothing was ever retransmitted, so no D-SACK can be about a retransmission: duplicates
    // the network made (or a spoofer provoked) do not count (Linux: "Skip the DSACK if dup
    // segs weren't retransmitted by sender"). Segments 2 and 3 are reported duplicate while
    // in flight (inside the SACK block that follows).
    let mut s = sack_client(cfg(), 10_000);
    s.run(
        "
        0.2  < . 1:1(0) ack 1001 win 65535
        +0   < . 1:1(0) ack 1001 win 65535 <sack 1001:2001 1001:4001>
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().retransmits, 0);
    assert_eq!(s.conn.stats().dsacks_received, 0);
}

#[test]
fn s18_stop_and_wait_keeps_one_segment_in_flight_even_with_tail_loss_probes_on() {
    // SPEC S18's stop-and-wait (max_flight_segments = 1) with SACK: a lost segment is
    // found by the RTO alone; a tail loss probe sending the next segment would put two in
    // flight.
    let c = TcpConfig { max_flight_segments: Some(1), ..cfg() };
    let mut s = Script::client(c);
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK>
        +0   > . 1:1(0) ack 1
        ",
    );
    s.send(3000);
    s.run(
        "
        +0   > P. 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 65535
        +0   > . 1001:2001(1000) ack 1
        +0.3 > . 1001:2001(1000) ack 1
        +0.1 < . 1:1(0) ack 2001 win 65535
        +0   > P. 2001:3001(1000) ack 1
        ",
    );
    s.done();
    assert_eq!(retransmissions(&s), [(RetransmitReason::Rto, 1001)]);
}
