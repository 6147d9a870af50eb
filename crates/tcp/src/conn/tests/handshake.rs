//! Opening: SPEC S1 (simultaneous open), S3 (three-way handshake), S5 (lost handshake
//! segments), RFC 9293 §3.10.7.3 (SYN-SENT).

use super::*;

#[test]
fn s3_three_way_handshake_active() {
    let mut s = Script::client(cfg());
    // A Linux SYN: MSS from the route MTU (1500 − 40), SACK-permitted, timestamps, and the
    // window scale rmem.max (6 MiB) needs, 7. The SYN's window is never scaled.
    s.run(
        "
        0     > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 7>
        +0.05 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 8>
        +0    > . 1:1(0) ack 1 win 1024 <nop,nop,TS val 50 ecr 700>
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.app_events(), [Event::Connected]);
    // RFC 7323: the SYN-ACK's window is taken unscaled; the ACK's 1024 << 7 is our 128 KiB
    // receive buffer. Segments carry 1460 − 12 (timestamps) bytes.
    assert_eq!(s.conn.peer_window(), 65_535);
    assert_eq!(s.conn.effective_mss(), 1448);
    assert_eq!(s.states(), [TcpState::Established]);
    // The SYN was timed: RTT 50 ms.
    assert_eq!(s.conn.rtt().srtt(), Some(Duration::from_millis(50)));
}

#[test]
fn s3_three_way_handshake_passive() {
    let mut s = Script::server(
        cfg(),
        "0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 8>",
    );
    s.run(
        "
        0    > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 0 ecr 700,nop,wscale 7>
        +0.1 < . 1:1(0) ack 1 win 256 <nop,nop,TS val 800 ecr 0>
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.app_events(), [Event::Connected]);
    // After the handshake the window is scaled: 256 << 8.
    assert_eq!(s.conn.peer_window(), 65_536);
    assert_eq!(s.conn.rtt().srtt(), Some(Duration::from_millis(100)));
    assert_eq!(s.conn.timers().get(TimerKind::Establish), None);
    assert_eq!(s.conn.timers().get(TimerKind::Retransmit), None);
}

#[test]
fn s3_passive_open_answers_only_the_options_offered() {
    // RFC 7323 §2.2, §3.2, RFC 2018 §2: no window scale, timestamps or SACK-permitted in the
    // SYN-ACK unless the SYN had them. The MSS option is our own (RFC 9293 §3.7.1); we send
    // the peer's 536.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 8192 <mss 536>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
        +0.1 < . 1:1(0) ack 1 win 8192
        ",
    );
    s.done();
    assert_eq!(s.conn.peer_window(), 8192);
    assert_eq!(s.conn.effective_mss(), 536);
}

#[test]
fn s3_peer_mss_below_min_snd_mss_is_raised() {
    // Linux tcp_min_snd_mss (CVE-2019-11479): an MSS of 10 would cut the stream into tiny
    // segments.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 8192 <mss 10>");
    s.run("0 > S. 0:0(0) ack 1 <mss 1460>");
    assert_eq!(s.conn.effective_mss(), 48);
}

#[test]
fn s5_lost_syn_backoff_then_timeout() {
    // SPEC S5: the SYN is retransmitted with exponential backoff from the 1 s initial RTO,
    // syn_retries (6) times; connect() fails with a timeout at 127 s (TcpConfig::syn_timeout).
    let mut s = Script::client(cfg());
    s.run(
        "
        0  > S 0:0(0)
        1  > S 0:0(0)
        3  > S 0:0(0)
        7  > S 0:0(0)
        15 > S 0:0(0)
        31 > S 0:0(0)
        63 > S 0:0(0)
        ",
    );
    assert_eq!(cfg().syn_timeout(), Duration::from_secs(127));
    s.wait_until(126.9);
    s.done();
    assert_eq!(s.conn.state(), TcpState::SynSent);
    s.wait_until(127.0);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(127.0)));
    let retries = s
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Retransmit { reason: RetransmitReason::SynRetry, .. }))
        .count();
    assert_eq!(retries, 6);
    assert_eq!(s.conn.poll_timeout(), None);
    assert_eq!(s.conn.send(b"x"), Err(SendError::Failed(ConnError::TimedOut)));
}

#[test]
fn s5_lost_synack_both_retransmit() {
    // The client: its SYN is not answered (the SYN-ACK was lost), so it sends the SYN
    // again after 1 s; the second SYN-ACK completes the handshake.
    let mut client = Script::client(cfg());
    client.run(
        "
        0    > S 0:0(0)
        1    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>
        +0   > . 1:1(0) ack 1
        ",
    );
    client.done();
    assert_eq!(client.conn.state(), TcpState::Established);
    // RFC 6298 (5.7): no RTT sample (Karn), and the SYN timed out: RTO 3 s.
    assert_eq!(client.conn.rtt().rto(), Duration::from_secs(3));

    // The server: its SYN-ACK is lost. The client's repeated SYN is answered at once
    // (Linux tcp_check_req) and the timer restarts; its own timer sends it again too.
    let mut server = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1460>");
    server.run(
        "
        0    > S. 0:0(0) ack 1 <mss 1460>
        +0.9 < S 0:0(0) win 65535 <mss 1460>
        +0   > S. 0:0(0) ack 1 <mss 1460>
        +1   > S. 0:0(0) ack 1 <mss 1460>
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    server.done();
    assert_eq!(server.conn.state(), TcpState::Established);
    assert_eq!(server.conn.rtt().rto(), Duration::from_secs(3));
    assert_eq!(server.conn.stats().retransmits, 2);
}

#[test]
fn s5_lost_final_ack_completed_by_data() {
    // SPEC S5: the client's ACK is lost; the server repeats its SYN-ACK; the client's first
    // data segment carries the ACK and completes the handshake.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 <mss 1460>
        1    > S. 0:0(0) ack 1 <mss 1460>
        +0.1 < P. 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.recv_all(), 1000);
    assert_eq!(s.app_events(), [Event::Connected, Event::Readable]);
}

#[test]
fn s5_client_reacks_a_repeated_synack() {
    // The other side of the lost final ACK: the client, ESTABLISHED, gets the SYN-ACK again
    // and answers with an ACK (RFC 9293 §3.10.7.4: the segment is not acceptable, "an
    // acknowledgment should be sent in reply").
    let mut s = Script::established_client(cfg());
    s.run(
        "
        +1 < S. 0:0(0) ack 1 win 65535 <mss 1000>
        +0 > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s5_server_gives_up_then_data_gets_rst() {
    // SPEC S5, second outcome: the SYN-ACK is never answered; after synack_retries (5) the
    // half-open connection is dropped at 63 s. The client's data then gets a RST
    // (RFC 9293 §3.10.7.1: <SEQ=SEG.ACK><CTL=RST>).
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1460>");
    s.run(
        "
        0  > S. 0:0(0) ack 1
        1  > S. 0:0(0) ack 1
        3  > S. 0:0(0) ack 1
        7  > S. 0:0(0) ack 1
        15 > S. 0:0(0) ack 1
        31 > S. 0:0(0) ack 1
        ",
    );
    s.wait_until(63.0);
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    s.run(
        "
        64 < P. 1:1001(1000) ack 1 win 65535
        +0 > R 1:1(0)
        ",
    );
    s.done();
}

#[test]
fn s1_simultaneous_open() {
    // RFC 9293 §3.5 Figure 8: both ends send a SYN; each answers the other's with a SYN-ACK
    // from SYN-RECEIVED; each SYN-ACK completes the other's handshake.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0) <mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 7>
        +0.1 < S 0:0(0) win 65535 <mss 1000,nop,wscale 6>
        +0   > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,nop,wscale 6>
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.states(), [TcpState::SynReceived, TcpState::Established]);
    assert_eq!(s.app_events(), [Event::Connected]);
    assert_eq!(s.conn.peer_window(), 65_535);
    assert_eq!(s.conn.effective_mss(), 1000);
    // Data flows.
    s.send(100);
    s.run("+0 > P. 1:101(100) ack 1");
    s.done();
}

#[test]
fn s3_rst_answering_syn_means_refused() {
    // RFC 9293 §3.10.7.3: "If the ACK was acceptable, then signal to the user "error:
    // connection reset" [...] enter CLOSED state". A RST without an acceptable ACK is dropped.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < R. 0:0(0) ack 7
        +0.1 < R 0:0(0)
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::SynSent);
    s.run("+0.1 < R. 0:0(0) ack 1");
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Refused));
    assert_eq!(s.app_events(), [Event::Closed(Some(ConnError::Refused))]);
    assert_eq!(s.conn.stats().dropped(DropReason::BadAck), 1);
    assert_eq!(s.conn.stats().dropped(DropReason::BadRst), 1);
}

#[test]
fn s3_unacceptable_ack_in_syn_sent_gets_rst() {
    // RFC 9293 §3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
    // <SEQ=SEG.ACK><CTL=RST>" (an old duplicate SYN-ACK), and keep waiting.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 5 win 65535
        +0   > R 5:5(0)
        +0.1 < . 0:0(0) ack 0 win 65535
        +0   > R 0:0(0)
        1    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535
        +0   > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s3_synack_retransmissions_end_after_synack_retries() {
    let c = TcpConfig { synack_retries: 1, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535");
    s.run(
        "
        0 > S. 0:0(0) ack 1
        1 > S. 0:0(0) ack 1
        ",
    );
    s.wait_until(3.0);
    s.done();
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(3.0)));
}

#[test]
fn s3_syn_received_answers_a_bad_ack_with_rst() {
    // RFC 9293 §3.10.7.4, fifth check, SYN-RECEIVED: "If the segment acknowledgment is not
    // acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535");
    s.run(
        "
        0    > S. 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 0 win 65535
        +0   > R 0:0(0)
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s3_rst_in_syn_received() {
    // RFC 9293 §3.10.7.4, second check: a passive open "returns to LISTEN" (the host drops
    // it); a simultaneous open was refused.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535");
    s.run(
        "
        0    > S. 0:0(0) ack 1
        +0.1 < R 1:1(0)
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);

    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S 0:0(0) win 65535
        +0   > S. 0:0(0) ack 1
        +0.1 < R. 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Refused));
}

#[test]
fn s3_data_sent_during_the_handshake_leaves_with_the_ack() {
    // RFC 9293 §3.10.2, SEND in SYN-SENT: "queue the data for transmission after entering
    // ESTABLISHED state". The first data segment carries the handshake's ACK.
    let mut s = Script::client(cfg());
    s.run("0 > S 0:0(0)");
    s.send(300);
    s.run(
        "
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000>
        +0   > P. 1:301(300) ack 1
        ",
    );
    s.done();
}

#[test]
fn s5_a_syn_ack_arriving_after_the_syn_timer_fired_leaves_snd_nxt_past_the_syn() {
    // The SYN's retransmission timer fires (SND.NXT back at the ISS for the SYN to go
    // again) and the SYN-ACK arrives before the SYN is sent again. The connection is
    // established and its data starts at ISS + 1. (It used to send its data, and its FIN,
    // from the ISS; found by fuzzing.)
    let cfg = cfg();
    let mut c = Conn::connect(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, Conn::default_cc(&cfg));
    let mut scratch = vec![0; 65_536];
    assert!(c.poll_transmit(Instant::ZERO, &mut scratch).is_some(), "the SYN");
    c.handle_timeout(secs(1.0));
    let synack = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS,
        ack: LOCAL_ISS + 1u32,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65_535,
        urgent: 0,
        options: ustack_wire::TcpOptions { mss: Some(1000), ..Default::default() },
        payload: &[],
    };
    c.handle_segment(secs(1.0), &synack);
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(c.send(b"hello"), Ok(5));
    c.close(secs(1.0));
    let mut sent = Vec::new();
    while let Some(seg) = c.poll_transmit(secs(1.0), &mut scratch) {
        sent.push((seg.seq, seg.payload.len(), seg.flags.contains(TcpFlags::FIN)));
    }
    assert_eq!(sent, [(LOCAL_ISS + 1u32, 5, true)], "data then FIN right after the SYN");
}

#[test]
fn s3_synack_echoing_a_timestamp_we_never_sent_is_reset() {
    // Linux `tcp_rcv_synsent_state_process` (PAWSActiveRejected, packetdrill
    // fastopen/client/synack-data TEST5): a SYN-ACK whose TSecr lies outside [TSval of our
    // first SYN, now] answers no SYN of ours; it gets <SEQ=SEG.ACK><CTL=RST> and the
    // connection keeps waiting, so a later SYN-ACK with a good echo opens it.
    let mut s = Script::client(cfg());
    s.run(
        "
        0     > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 7>
        +0.01 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 700 ecr 9999,nop,wscale 8>
        +0    > R 1:1(0)
        +0.01 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 8>
        +0    > . 1:1(0) ack 1 <nop,nop,TS val 20 ecr 700>
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}
