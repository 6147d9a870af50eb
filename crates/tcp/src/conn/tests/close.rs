//! Closing: SPEC S1 (simultaneous close), S9 (four-way close, half-close), S11 (FIN-WAIT-2
//! timeout), S12 (TIME-WAIT), close with unread data, abort.

use super::*;

/// An established client with `cfg` that closed actively: FIN sent at 0.1, ACKed at 0.2, the
/// peer's FIN at 0.3: TIME-WAIT from 0.3 s.
pub(super) fn client_in_time_wait(cfg: TcpConfig) -> Script {
    let mut s = Script::established_client(cfg);
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        +0.1 < F. 1:1(0) ack 2 win 65535
        +0   > . 2:2(0) ack 2
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::TimeWait);
    s
}

#[test]
fn s9_four_way_close_active() {
    // SPEC S9: the active closer goes FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED, TIME-WAIT
    // lasting 2·MSL (60 s).
    let mut s = client_in_time_wait(cfg());
    assert_eq!(
        s.states(),
        [TcpState::Established, TcpState::FinWait1, TcpState::FinWait2, TcpState::TimeWait]
    );
    assert_eq!(s.conn.timers().get(TimerKind::TimeWait), Some(secs(60.3)));
    // Nothing else runs in TIME-WAIT (RFC 9293: "turn off the other timers").
    assert_eq!(s.conn.timers().iter().count(), 1);
    s.wait_until(60.3);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert_eq!(s.event_at(Event::Closed(None)), Some(secs(60.3)));
    assert!(s.events.iter().any(|(_, e)| *e == Event::TimerFired(TimerKind::TimeWait)));
}

#[test]
fn s9_four_way_close_passive() {
    // SPEC S9: the passive closer goes CLOSE-WAIT → LAST-ACK → CLOSED, and "still sends all
    // buffered data before its own FIN": the FIN rides on the last data segment.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < F. 1:1(0) ack 1 win 65535
        +0   > . 1:1(0) ack 2
        ",
    );
    assert_eq!(s.conn.state(), TcpState::CloseWait);
    assert_eq!(s.recv_all(), 0);
    assert_eq!(s.conn.recv(&mut [0; 8]), Ok(0), "end of stream");
    assert_eq!(s.app_events(), [Event::Connected, Event::PeerClosed, Event::Readable]);
    s.wait_until(0.5);
    s.queue(2500);
    s.close();
    s.run(
        "
        +0   > . 1:1001(1000) ack 2
        +0   > . 1001:2001(1000) ack 2
        +0   > FP. 2001:2501(500) ack 2
        +0.1 < . 2:2(0) ack 2502 win 65535
        ",
    );
    s.done();
    assert_eq!(
        s.states(),
        [TcpState::Established, TcpState::CloseWait, TcpState::LastAck, TcpState::Closed]
    );
    assert_eq!(s.event_at(Event::Closed(None)), Some(secs(0.6)));
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn s9_half_close_peer_keeps_sending() {
    // SPEC S9: "After its FIN the active closer can still receive."
    let mut s = Script::established_client(cfg());
    s.shutdown_write();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        +0   < P. 1:1001(1000) ack 2 win 65535
        +0   > . 2:2(0) ack 1001
        +0.1 < FP. 1001:2001(1000) ack 2 win 65535
        +0   > . 2:2(0) ack 2002
        ",
    );
    s.done();
    assert_eq!(s.recv_all(), 2000);
    assert_eq!(s.conn.recv(&mut [0; 8]), Ok(0));
    assert_eq!(s.conn.state(), TcpState::TimeWait);
    // Our side is shut: no more sending.
    assert_eq!(s.conn.send(b"x"), Err(SendError::Closed));
}

#[test]
fn s1_simultaneous_close_through_closing() {
    // RFC 9293 Figure 13: both FINs cross; each side goes FIN-WAIT-1 → CLOSING → TIME-WAIT.
    let mut s = Script::established_client(cfg());
    s.close();
    s.run(
        "
        +0    > F. 1:1(0) ack 1
        +0.05 < F. 1:1(0) ack 1 win 65535
        +0    > . 2:2(0) ack 2
        +0.05 < . 2:2(0) ack 2 win 65535
        ",
    );
    s.done();
    assert_eq!(
        s.states(),
        [TcpState::Established, TcpState::FinWait1, TcpState::Closing, TcpState::TimeWait]
    );
    assert_eq!(s.conn.timers().get(TimerKind::TimeWait), Some(secs(60.2)));
}

#[test]
fn s9_fin_and_ack_together_go_straight_to_time_wait() {
    // RFC 9293, FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this segment), then enter
    // TIME-WAIT".
    let mut s = Script::established_client(cfg());
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < F. 1:1(0) ack 2 win 65535
        +0   > . 2:2(0) ack 2
        ",
    );
    s.done();
    assert_eq!(
        s.states(),
        [TcpState::Established, TcpState::FinWait1, TcpState::FinWait2, TcpState::TimeWait]
    );
}

#[test]
fn s9_lost_fin_is_retransmitted() {
    let mut s = Script::established_client(cfg());
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.3 > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::FinWait2);
}

#[test]
fn s12_time_wait_reacks_fin_and_restarts() {
    // SPEC S12 / RFC 9293: "The only thing that can arrive in this state is a retransmission
    // of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
    let mut s = client_in_time_wait(cfg());
    s.run(
        "
        +10 < F. 1:1(0) ack 2 win 65535
        +0  > . 2:2(0) ack 2
        ",
    );
    s.wait_until(60.3);
    s.done();
    assert_eq!(s.conn.state(), TcpState::TimeWait);
    s.wait_until(70.3);
    s.done();
    assert_eq!(s.event_at(Event::Closed(None)), Some(secs(70.3)));
}

#[test]
fn s12_time_wait_acks_stale_segments_and_delivers_nothing() {
    // SPEC S12: TIME-WAIT keeps the 4-tuple's sequence space alive so that stale segments of
    // this connection cannot be taken by a new one. Old data is not delivered and is
    // answered with an ACK of RCV.NXT (RFC 9293 §3.10.7.4: "If an incoming segment is not
    // acceptable, an acknowledgment should be sent in reply"); so is a SYN (RFC 5961 §4.2;
    // whether a SYN may reopen the 4-tuple, RFC 6191, is the host's call).
    let mut s = client_in_time_wait(cfg());
    s.run(
        "
        +1 < P. 1:101(100) ack 2 win 65535
        +0 > . 2:2(0) ack 2
        +1 < S 5000:5000(0) win 65535
        +0 > . 2:2(0) ack 2
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::TimeWait);
    assert_eq!(s.recv_all(), 0);
    assert_eq!(s.conn.stats().bytes_received, 0);
}

#[test]
fn s12_rst_does_not_kill_time_wait() {
    // SPEC S12, RFC 1337 §3: "Ignore RST segments in TIME-WAIT state."
    let mut s = client_in_time_wait(cfg());
    s.run("+1 < R. 2:2(0) ack 2 win 0");
    s.done();
    assert_eq!(s.conn.state(), TcpState::TimeWait);
    assert_eq!(s.conn.stats().dropped(DropReason::BadRst), 1);
    s.wait_until(60.3);
    assert_eq!(s.conn.state(), TcpState::Closed);

    // With tcp_rfc1337 = 0 (Linux's default) the RST ends TIME-WAIT at once.
    let mut s = Script::established_client(TcpConfig { rfc1337: false, ..cfg() });
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < F. 1:1(0) ack 2 win 65535
        +0   > . 2:2(0) ack 2
        +1   < R. 2:2(0) ack 2 win 0
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert_eq!(s.conn.error(), None);
}

#[test]
fn s11_fin_wait_2_timeout() {
    // SPEC S11: an orphaned connection (the application called close()) whose peer never
    // sends its FIN is closed tcp_fin_timeout (60 s) after entering FIN-WAIT-2, silently
    // (Linux turns it into a FIN-WAIT-2 timewait socket that simply expires).
    let mut s = Script::established_client(cfg());
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        ",
    );
    assert_eq!(s.conn.state(), TcpState::FinWait2);
    s.wait_until(60.19);
    assert_eq!(s.conn.state(), TcpState::FinWait2);
    s.wait_until(60.2);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert!(s.events.iter().any(|(_, e)| *e == Event::TimerFired(TimerKind::FinWait2)));

    // Not orphaned (only shutdown_write): FIN-WAIT-2 waits for the peer as long as it takes.
    let mut s = Script::established_client(cfg());
    s.shutdown_write();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        ",
    );
    s.wait_until(1000.0);
    s.done();
    assert_eq!(s.conn.state(), TcpState::FinWait2);
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn s9_close_with_unread_data_sends_rst() {
    // Linux (tcp_close, RFC 2525 §2.17): closing with unread data aborts with RST, so the
    // peer learns the data was lost.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        ",
    );
    s.close();
    s.run("+0 > R. 1:1(0) ack 1001");
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    // A closed connection answers with RST (RFC 9293 §3.10.7.1).
    s.run(
        "
        +0.1 < P. 1001:2001(1000) ack 1 win 65535
        +0   > R 1:1(0)
        ",
    );
    s.done();
}

#[test]
fn abort_sends_rst_and_reports_aborted() {
    let mut s = Script::established_client(cfg());
    s.send(100);
    s.run("+0 > P. 1:101(100) ack 1");
    s.abort();
    s.run("+0 > R. 101:101(0) ack 1");
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Aborted));
    assert_eq!(s.conn.poll_timeout(), None);
    // In SYN-SENT there is nobody to tell.
    let mut s = Script::client(cfg());
    s.run("0 > S 0:0(0)");
    s.abort();
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Aborted));
}

#[test]
fn peer_reset_in_established_is_reported() {
    // RFC 5961 §3.2: a RST exactly at RCV.NXT resets; one elsewhere in the window only gets
    // a challenge ACK.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < R. 500:500(0) ack 1 win 0
        +0   > . 1:1(0) ack 1
        +0.1 < R. 1:1(0) ack 1 win 0
        ",
    );
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Reset));
    assert_eq!(s.conn.recv(&mut [0; 8]), Err(RecvError::Failed(ConnError::Reset)));
}

#[test]
fn data_after_close_resets_the_connection() {
    // Linux (tcp_rcv_state_process, "TCPAbortOnData"): the application closed, so data that
    // arrives can never be read: answer with RST. The RST answers the segment, as
    // RFC 9293 §3.10.7.1 answers one for no connection (Linux `tcp_v4_send_reset`):
    // <SEQ=SEG.ACK><CTL=RST>, no ACK bit (packetdrill's user_timeout.pkt expects it).
    let mut s = Script::established_client(cfg());
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < . 1:1(0) ack 2 win 65535
        +0.1 < P. 1:101(100) ack 2 win 65535
        +0   > R 2:2(0)
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
}

#[test]
fn rst_in_last_ack_closes_without_error() {
    // RFC 9293 §3.10.7.4: "CLOSING, LAST-ACK, TIME-WAIT: If the RST bit is set, then enter
    // the CLOSED state".
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < F. 1:1(0) ack 1 win 65535
        +0   > . 1:1(0) ack 2
        ",
    );
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 2
        +0.1 < R 2:2(0)
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert_eq!(s.conn.error(), None);
}

#[test]
fn abortive_close_rst_carries_timestamps() {
    // RFC 7323 §3.2: once negotiated, TSopt "SHOULD be sent in an <RST> segment"; Linux's
    // active reset carries it (packetdrill's ts_recent/reset_tsval). Closing with unread
    // data resets the connection (RFC 2525 §2.17): RST+ACK with TS val at our 1 ms clock and
    // TS.Recent echoed.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 5 ecr 0,nop,wscale 0>
        +0   > . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 5>
        +0   < P. 1:11(10) ack 1 win 65535 <nop,nop,TS val 6 ecr 100>
        +0   > . 1:1(0) ack 11 <nop,nop,TS val 100 ecr 6>
        ",
    );
    s.wait_until(1.1);
    s.close();
    s.run("+0 > R. 1:1(0) ack 11 win 0 <nop,nop,TS val 1100 ecr 6>");
    s.done();
}
