//! SPEC S7: TCP_DEFER_ACCEPT in a passive connection, as Linux (`tcp_check_req`,
//! `reqsk_timer_handler` with `syn_ack_recalc`).

use super::*;

fn deferred(retrans: u8) -> Script {
    let cfg = TcpConfig { timestamps: false, ..cfg() };
    let base = SeqBase { local_iss: LOCAL_ISS, remote_iss: REMOTE_ISS };
    let syn = parse_one("0 < S 0:0(0) win 65535 <mss 1460>").segment.to_repr(
        base,
        (REMOTE_PORT, LOCAL_PORT),
        &[],
    );
    let mut conn =
        Conn::accept(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, &syn, Conn::default_cc(&cfg));
    conn.set_defer_accept(retrans);
    let mut s = Script::with(conn);
    s.run("0 > S. 0:0(0) ack 1 <mss 1460>");
    s
}

#[test]
fn s7_bare_final_ack_is_dropped_and_data_completes_the_connection() {
    // "While TCP_DEFER_ACCEPT is active, drop bare ACK" (TCPDeferAcceptDrop); the first data
    // completes the handshake, and the connection is reported with its data.
    let mut s = deferred(3);
    s.run("0.1 < . 1:1(0) ack 1 win 5840");
    s.done();
    assert_eq!(s.conn.state(), TcpState::SynReceived);
    assert!(s.app_events().is_empty());
    assert_eq!(s.conn.stats().dropped(DropReason::DeferAccept), 1);
    s.run(
        "
        0.5 < P. 1:11(10) ack 1 win 5840
        +0  > . 1:1(0) ack 11
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.app_events(), [Event::Connected, Event::Readable]);
    assert_eq!(s.recv_all(), 10);
}

#[test]
fn s7_after_a_bare_ack_the_synack_goes_again_only_at_the_end_of_the_period_and_a_last_ack_completes()
 {
    // syn_ack_recalc with defer 3 after the peer acked: no SYN-ACK at the timeouts of 1 s and
    // 3 s ("Do not resend while waiting for data after ACK"), one at 7 s ("start to resend on
    // end of deferring period to give last chance"); the bare ACK answering it is no longer
    // dropped (three timeouts have passed) and completes the connection, without data.
    let mut s = deferred(3);
    s.run(
        "
        0.1  < . 1:1(0) ack 1 win 5840
        7    > S. 0:0(0) ack 1 <mss 1460>
        +0.1 < . 1:1(0) ack 1 win 5840
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.event_at(Event::Connected), Some(secs(7.1)));
    assert_eq!(s.fired(TimerKind::Retransmit), [secs(1.0), secs(3.0), secs(7.0)]);
    assert_eq!(s.conn.stats().dropped(DropReason::DeferAccept), 1);
}

#[test]
fn s7_without_an_ack_the_synack_is_retransmitted_as_usual_and_a_bare_ack_still_waits() {
    // Not acked yet: resend at every timeout (1 s, 3 s); a bare ACK within the period
    // is dropped all the same.
    let mut s = deferred(4);
    s.run(
        "
        1    > S. 0:0(0) ack 1 <mss 1460>
        3    > S. 0:0(0) ack 1 <mss 1460>
        +0.1 < . 1:1(0) ack 1 win 5840
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::SynReceived);
    s.run(
        "
        15    > S. 0:0(0) ack 1 <mss 1460>
        +0.1  < . 1:1(0) ack 1 win 5840
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s7_acked_request_expires_after_both_synack_retries_and_the_period() {
    // expire = num_timeout >= synack_retries (5) && (!acked || num_timeout >= defer (7)):
    // timeouts at 1, 3, 7, 15, 31, 63, 127 s, the last-chance SYN-ACK at 127 s (the 7th),
    // and the request dropped at the 8th, 247 s (the timeout capped at 120 s).
    let mut s = deferred(7);
    s.run(
        "
        0.1  < . 1:1(0) ack 1 win 5840
        127  > S. 0:0(0) ack 1 <mss 1460>
        ",
    );
    s.wait_until(300.0);
    s.done();
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(247.0)));
}

#[test]
fn s7_unacked_request_expires_like_any_other() {
    // Never acked: expire at num_timeout >= synack_retries, 63 s, as without the option.
    let mut s = deferred(7);
    for t in ["1", "3", "7", "15", "31"] {
        s.run(&format!("{t} > S. 0:0(0) ack 1 <mss 1460>"));
    }
    s.wait_until(100.0);
    s.done();
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(63.0)));
}

#[test]
fn s7_a_fin_is_not_a_bare_ack() {
    // Linux checks `end_seq == rcv_isn + 1`: a FIN moves end_seq, so it completes the
    // connection (into CLOSE-WAIT).
    let mut s = deferred(3);
    s.run(
        "
        0.1 < F. 1:1(0) ack 1 win 5840
        +0  > . 1:1(0) ack 2
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::CloseWait);
}
