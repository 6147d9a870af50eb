//! The Security item: RFC 5961 (blind in-window attacks), under SPEC S15 (sequence
//! numbers), and RFC 7323 timestamps (PAWS and RTT measurement), under SPEC S17. ISNs
//! (RFC 6528) are tested in `isn/tests.rs`.

use super::*;

#[test]
fn s15_rfc5961_in_window_rst_gets_a_challenge_ack() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number does not exactly match
    // the next expected sequence value, yet is within the current receive window, TCP
    // endpoints MUST send an acknowledgment (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT>
    // <CTL=ACK>". The connection lives on: data still flows both ways.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < R. 1001:1001(0) ack 1 win 0
        +0   > . 1:1(0) ack 1
        +0.1 < P. 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        ",
    );
    s.send(50);
    s.run("+0 > P. 1:51(50) ack 101");
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.conn.stats().dropped(DropReason::BadRst), 1);
    assert_eq!(s.recv_all(), 100);
}

#[test]
fn s15_rfc5961_rst_at_rcv_nxt_resets() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number exactly matches the next
    // expected sequence number (RCV.NXT), then TCP MUST reset the connection." Nothing is
    // sent in answer; the application hears ECONNRESET.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        +0.1 < R. 101:101(0) ack 1 win 0
        ",
    );
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Reset));
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::Reset))), Some(secs(0.3)));
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn s15_rfc5961_out_of_window_rst_is_dropped_silently() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number is outside the current
    // receive window, silently drop the segment." No challenge ACK (RFC 9293 §3.10.7.4
    // too: an unacceptable segment is answered "unless the RST bit is set").
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < R. 70000:70000(0) ack 1 win 0
        +0.1 < R 4294967000:4294967000(0)
        +0.1 < R. 0:0(0) ack 1 win 0
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.conn.stats().dropped(DropReason::OutOfWindow), 3);
}

#[test]
fn s15_rfc5961_out_of_window_syn_gets_an_ack() {
    // RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence number, TCP MUST
    // send an ACK (also referred to as challenge ACK) to the remote peer". One far outside
    // the window is answered too (RFC 9293's first check), and the connection lives on.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < S 2000000:2000000(0) win 65535
        +0   > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.conn.stats().dropped(DropReason::OutOfWindow), 1);
}

#[test]
fn s15_rfc5961_in_window_syn_gets_a_challenge_ack() {
    // RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence number, is
    // answered by an ACK and dropped; the connection lives on.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < S 500:500(0) win 65535
        +0   > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.conn.stats().dropped(DropReason::UnexpectedSyn), 1);
}

#[test]
fn s15_rfc5961_challenge_acks_are_rate_limited() {
    // RFC 5961 §7 / Linux tcp_invalid_ratelimit (500 ms): at most one answer to invalid
    // segments per half second.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < R. 500:500(0) ack 1 win 0
        +0   > . 1:1(0) ack 1
        +0.1 < R. 600:600(0) ack 1 win 0
        +0.1 < S 700:700(0) win 65535
        +0.4 < R. 800:800(0) ack 1 win 0
        +0   > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.conn.stats().dropped(DropReason::BadRst), 3);
}

#[test]
fn s15_rfc5961_ack_outside_the_acceptable_range_is_dropped() {
    // RFC 5961 §5.2: acceptable is (SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT; otherwise
    // discard the segment and send an ACK. The data in it is not taken.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:101(100) ack 5000 win 65535
        +0   > . 1:1(0) ack 1
        +1   < P. 1:101(100) ack 4294897297 win 65535
        +0   > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().dropped(DropReason::BadAck), 2);
    assert_eq!(s.conn.recv_queue(), 0);
}

#[test]
fn s17_rfc7323_paws_drops_an_old_timestamp() {
    // RFC 7323 §5.3: a segment whose TSval is older than TS.Recent is a duplicate from an
    // earlier wrap of the sequence space: dropped, and answered with an ACK.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000,TS val 1000 ecr 0>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 <mss 1460,nop,nop,TS val 0 ecr 1000>
        +0.1 < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 1100 ecr 0>
        +0.1 < P. 1:1001(1000) ack 1 win 65535 <nop,nop,TS val 1200 ecr 100>
        +0   > . 1:1(0) ack 1001 <nop,nop,TS val 200 ecr 1200>
        +0.1 < P. 1001:2001(1000) ack 1 win 65535 <nop,nop,TS val 1150 ecr 100>
        +0   > . 1:1(0) ack 1001 <nop,nop,TS val 300 ecr 1200>
        +0   < P. 1001:2001(1000) ack 1 win 65535 <nop,nop,TS val 1300 ecr 100>
        +0   > . 1:1(0) ack 2001 <nop,nop,TS val 300 ecr 1300>
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().dropped(DropReason::Paws), 1);
    assert_eq!(s.recv_all(), 2000);
}

#[test]
fn s17_rfc7323_rtt_from_the_echoed_timestamp() {
    // RFC 7323 §4: with timestamps every ACK of new data gives an RTT sample, even for a
    // retransmitted segment.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,TS val 5 ecr 0>
        +0   > . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 5>
        ",
    );
    s.send(500);
    s.run(
        "
        +0    > P. 1:501(500) ack 1 <nop,nop,TS val 100 ecr 5>
        +0.3  > P. 1:501(500) ack 1 <nop,nop,TS val 400 ecr 5>
        +0.05 < . 1:1(0) ack 501 win 65535 <nop,nop,TS val 6 ecr 400>
        ",
    );
    s.done();
    assert_eq!(s.conn.rtt().latest(), Some(Duration::from_millis(50)));
}

/// A client with timestamps on both sides; the peer's TSval is 5 at 0.1 s.
fn ts_client() -> Script {
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,TS val 5 ecr 0>
        +0   > . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 5>
        ",
    );
    s
}

#[test]
fn s17_rfc7323_an_echo_from_before_the_timeout_is_no_rtt_sample() {
    // The first transmission's ACK was lost; after the RTO the peer's ACK arrives echoing
    // the first transmission's TSval (its TS.Recent): that "RTT" includes the whole RTO.
    // It is not taken, but the backoff is cleared (the path delivers).
    let mut s = ts_client();
    let srtt = s.conn.rtt().srtt();
    s.send(500);
    s.run(
        "
        +0    > P. 1:501(500) ack 1 <nop,nop,TS val 100 ecr 5>
        +0.3  > P. 1:501(500) ack 1 <nop,nop,TS val 400 ecr 5>
        +0.01 < . 1:1(0) ack 501 win 65535 <nop,nop,TS val 6 ecr 100>
        ",
    );
    s.done();
    assert_eq!(s.conn.rtt().srtt(), srtt);
    assert_eq!(s.conn.rtt().backoffs(), 0);
    // The next echo of a fresh transmission is a sample again.
    s.send(500);
    s.run(
        "
        +0    > P. 501:1001(500) ack 1 <nop,nop,TS val 410 ecr 6>
        +0.02 < . 1:1(0) ack 1001 win 65535 <nop,nop,TS val 7 ecr 410>
        ",
    );
    assert_eq!(s.conn.rtt().latest(), Some(Duration::from_millis(20)));
}

#[test]
fn s17_rfc7323_a_repeat_of_the_last_acked_segment_refreshes_ts_recent() {
    // Our ACK of 1:1001 is lost and the peer sends the segment again with a new TSval. RFC
    // 793's test rejects it (it is all old), but it ends exactly at Last.ACK.sent: TS.Recent
    // takes its TSval (as Linux does), so the duplicate ACK lets the peer time the
    // retransmission rather than the first transmission.
    let mut s = ts_client();
    s.run(
        "
        +0.1 < P. 1:1001(1000) ack 1 win 65535 <nop,nop,TS val 10 ecr 100>
        +0   > . 1:1(0) ack 1001 <nop,nop,TS val 200 ecr 10>
        +0.3 < P. 1:1001(1000) ack 1 win 65535 <nop,nop,TS val 13 ecr 100>
        +0   > . 1:1(0) ack 1001 <nop,nop,TS val 500 ecr 13>
        +0.1 < P. 1:501(500) ack 1 win 65535 <nop,nop,TS val 14 ecr 100>
        +0   > . 1:1(0) ack 1001 <nop,nop,TS val 600 ecr 13>
        ",
    );
    s.done();
}
