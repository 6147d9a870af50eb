//! Loss recovery: SPEC S20, RFC 5681 §3.2 fast retransmit and fast recovery with window
//! inflation (`prr` off, the algorithm as the RFC and the notes describe it), RFC 6582 NewReno
//! partial ACKs. The peer offers no SACK. Linux's way (PRR, limited transmit) is in
//! `prr.rs`; SACK recovery and RACK-TLP in `sack.rs`.

use super::*;

/// RFC 5681 fast recovery (PRR off) with NewReno's window math: these tests check RFC 5681's
/// and RFC 6582's numbers (CUBIC, the default, reduces by β = 0.7, RFC 9438 §4.6).
fn classic() -> TcpConfig {
    TcpConfig { prr: false, congestion_control: crate::CcName::NEWRENO, ..cfg() }
}

/// An established client with 15000 bytes to send; the first 10 segments (the initial
/// window) leave at 0.1 s.
fn ten_segments_out() -> Script {
    let mut s = Script::established_client(classic());
    s.send(15_000);
    for i in 0..10 {
        // The last segment the write's burst puts out is pushed (Linux `tcp_push`).
        let flags = if i == 9 { "P." } else { "." };
        s.run(&format!("+0 > {flags} {}:{}(1000) ack 1", 1 + i * 1000, 1001 + i * 1000));
    }
    s.done();
    s
}

fn dup_ack(s: &mut Script, at: &str) {
    s.run(&format!("{at} < . 1:1(0) ack 1 win 65535"));
}

#[test]
fn s20_fast_retransmit_on_third_dup_ack_then_recovery() {
    // Segment 1 is lost; segments 2..10 arrive and each is answered by a duplicate ACK.
    let mut s = ten_segments_out();
    dup_ack(&mut s, "+0.1");
    dup_ack(&mut s, "+0");
    s.done();
    // RFC 5681 §3.2 step 2–3: on the third, ssthresh = FlightSize / 2 = 5000, the lost
    // segment is sent again at once, cwnd = ssthresh + 3·SMSS.
    dup_ack(&mut s, "+0");
    s.run("+0 > . 1:1001(1000) ack 1");
    s.done();
    assert_eq!(s.conn.congestion_control().ssthresh(), 5000);
    assert_eq!(s.conn.usable_cwnd(), 8000);
    // Step 4: each further duplicate ACK inflates cwnd by one SMSS; once cwnd exceeds the
    // 10000 bytes in flight, new segments go out.
    dup_ack(&mut s, "+0");
    dup_ack(&mut s, "+0");
    s.done();
    for i in 10..14 {
        dup_ack(&mut s, "+0");
        s.run(&format!("+0 > . {}:{}(1000) ack 1", 1 + i * 1000, 1001 + i * 1000));
    }
    s.done();
    // RFC 6582 §3.2 step 3: the ACK covering everything sent before recovery (recover =
    // 10001) ends it; cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(5000, 4000 +
    // 1000).
    s.run(
        "
        +0.1 < . 1:1(0) ack 10001 win 65535
        +0   > P. 14001:15001(1000) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.congestion_control().window(), 5000);
    assert_eq!(s.conn.usable_cwnd(), 5000);
    assert!(s.events.iter().any(|(_, e)| matches!(
        e,
        Event::Retransmit { reason: RetransmitReason::FastRetransmit, len: 1000, .. }
    )));
    assert_eq!(s.conn.stats().retransmits, 1);
}

#[test]
fn s20_newreno_partial_ack_retransmits_the_next_hole() {
    // Segments 1 and 5 are lost. Three duplicate ACKs (for 2, 3, 4) trigger the fast
    // retransmission of 1; five more (for 6..10) inflate the window.
    let mut s = ten_segments_out();
    dup_ack(&mut s, "+0.1");
    dup_ack(&mut s, "+0");
    dup_ack(&mut s, "+0");
    s.run("+0 > . 1:1001(1000) ack 1");
    dup_ack(&mut s, "+0");
    dup_ack(&mut s, "+0");
    for i in 10..13 {
        dup_ack(&mut s, "+0");
        s.run(&format!("+0 > . {}:{}(1000) ack 1", 1 + i * 1000, 1001 + i * 1000));
    }
    s.done();
    // The retransmission of 1 fills up to 4001: a partial ACK (below recover = 10001).
    // RFC 6582 §3.2 step 3: retransmit the first unacknowledged segment at once, deflate
    // by the 4000 bytes acknowledged, add back one SMSS, and send new data if cwnd allows.
    s.run(
        "
        +0.1 < . 1:1(0) ack 4001 win 65535
        +0   > . 4001:5001(1000) ack 1
        +0   > . 13001:14001(1000) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.usable_cwnd(), 5000 + 5000);
    // The rest arrives: the full ACK ends recovery with an empty flight: cwnd = 2·SMSS.
    s.run(
        "
        +0.1 < . 1:1(0) ack 14001 win 65535
        +0   > P. 14001:15001(1000) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.congestion_control().window(), 2000);
    assert_eq!(s.conn.stats().retransmits, 2);
}

#[test]
fn s20_no_second_fast_retransmit_for_the_same_window_after_rto() {
    // RFC 6582 §3.2 step 4: after a timeout, recover = SND.MAX; duplicate ACKs for data sent
    // before it do not start fast recovery again (they are the go-back-N retransmissions
    // the receiver already had).
    let mut s = ten_segments_out();
    s.run("+0.3 > . 1:1001(1000) ack 1");
    assert_eq!(s.conn.congestion_control().window(), 1000);
    for _ in 0..4 {
        dup_ack(&mut s, "+0.01");
    }
    s.done();
    assert_eq!(s.conn.snd.phase, super::super::send::Phase::Loss);
}
