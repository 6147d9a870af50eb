//! SPEC S1: the transitions of the RFC 9293 §3.3.2 state diagram (Figure 5) that no other
//! file covers: CLOSE in SYN-RECEIVED and in SYN-SENT, and a FIN arriving with the ACK that
//! completes a passive open. docs/spec-coverage.md maps every transition of the diagram to
//! its test, here or in `handshake.rs` and `close.rs`.

use super::*;

#[test]
fn s1_syn_received_close_sends_fin() {
    // RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have been issued and there is no
    // pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1
    // state". The FIN follows the SYN-ACK at once (SEQ = ISS + 1), without waiting for the
    // handshake's ACK. The peer's ACK of SYN and FIN leads to FIN-WAIT-2, its FIN to
    // TIME-WAIT.
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run("0 > S. 0:0(0) ack 1 <mss 1460>");
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
    assert_eq!(s.states(), [TcpState::FinWait1, TcpState::FinWait2, TcpState::TimeWait]);
    // The handshake's timer stopped with the ACK of our SYN; only TIME-WAIT runs.
    assert_eq!(s.conn.timers().iter().map(|(k, _)| k).collect::<Vec<_>>(), [TimerKind::TimeWait]);
    // The application closed before the handshake completed: no Connected.
    s.wait_until(60.2);
    s.done();
    assert_eq!(s.app_events(), [Event::PeerClosed, Event::Closed(None)]);
    assert!(s.fired(TimerKind::Establish).is_empty());
}

#[test]
fn s1_syn_received_close_gives_up_after_synack_retries() {
    // The same close, and the peer never answers: the SYN-ACK and the FIN are sent again
    // (go-back-N from SND.UNA = ISS) until the establishment timer ends the attempt after
    // synack_retries, as it would have in SYN-RECEIVED (SPEC S5).
    let c = TcpConfig { synack_retries: 1, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run("0 > S. 0:0(0) ack 1 <mss 1460>");
    s.close();
    s.run(
        "
        +0 > F. 1:1(0) ack 1
        1  > S. 0:0(0) ack 1 <mss 1460>
        +0 > F. 1:1(0) ack 1
        ",
    );
    s.wait_until(2.99);
    s.done();
    assert_eq!(s.conn.state(), TcpState::FinWait1);
    s.wait_until(3.0);
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    assert_eq!(s.fired(TimerKind::Establish), [secs(3.0)]);
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn s1_syn_received_shutdown_sends_queued_data_and_fin_once_established() {
    // RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED with data queued: "queue for processing after
    // entering ESTABLISHED state". The data and the FIN leave with the handshake's ACK, the
    // application hears Connected, and can still receive (half-close, SPEC S9).
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run("0 > S. 0:0(0) ack 1 <mss 1460>");
    s.queue(300);
    s.shutdown_write();
    s.done();
    s.run(
        "
        +0.1 < . 1:1(0) ack 1 win 65535
        +0   > FP. 1:301(300) ack 1
        +0.1 < P. 1:101(100) ack 302 win 65535
        +0   > . 302:302(0) ack 101
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::FinWait2);
    assert_eq!(s.recv_all(), 100);
    assert_eq!(s.app_events(), [Event::Connected, Event::Readable]);
    assert_eq!(s.conn.timers().get(TimerKind::Establish), None);
}

#[test]
fn s1_syn_sent_close_deletes_the_tcb() {
    // RFC 9293 §3.10.4, CLOSE in SYN-SENT: "Delete the TCB and return "error: closing"
    // responses to any queued SENDs, or RECEIVEs." Nothing is sent; a SYN-ACK that arrives
    // later finds no connection and gets <SEQ=SEG.ACK><CTL=RST> (§3.10.7.1).
    let mut s = Script::client(cfg());
    s.run("0 > S 0:0(0)");
    s.close();
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert_eq!(s.conn.error(), None);
    assert_eq!(s.app_events(), [Event::Closed(None)]);
    assert_eq!(s.conn.poll_timeout(), None);
    s.run(
        "
        +0.1 < S. 0:0(0) ack 1 win 65535
        +0   > R 1:1(0)
        ",
    );
    s.done();
}

#[test]
fn s1_syn_received_fin_with_the_ack_enters_close_wait() {
    // RFC 9293 §3.10.7.4: the ACK completes the handshake (fifth check), then the FIN
    // (eighth check): "SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the CLOSE-WAIT state."
    let mut s = Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 <mss 1460>
        +0.1 < F. 1:1(0) ack 1 win 65535
        +0   > . 1:1(0) ack 2
        ",
    );
    s.done();
    assert_eq!(s.states(), [TcpState::Established, TcpState::CloseWait]);
    assert_eq!(s.app_events(), [Event::Connected, Event::PeerClosed, Event::Readable]);
}

#[test]
fn s1_simultaneous_open_then_close_in_syn_received() {
    // Simultaneous open (SYN-SENT → SYN-RECEIVED), then CLOSE before the peer's SYN-ACK:
    // the FIN goes at once (RFC 9293 §3.10.4). The peer's SYN-ACK acknowledges our SYN only
    // and is taken as the ACK it is; its FIN, acknowledging ours, leads to TIME-WAIT.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0) <mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 7>
        +0.1 < S 0:0(0) win 65535 <mss 1000,nop,wscale 6>
        +0   > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
        ",
    );
    s.close();
    s.run(
        "
        +0   > F. 1:1(0) ack 1
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,nop,wscale 6>
        +0.1 < F. 1:1(0) ack 2 win 1000
        +0   > . 2:2(0) ack 2
        ",
    );
    s.done();
    assert_eq!(
        s.states(),
        [TcpState::SynReceived, TcpState::FinWait1, TcpState::FinWait2, TcpState::TimeWait]
    );
    // RFC 7323 §2.2: the SYN-ACK's window unscaled, the FIN's scaled (1000 << 6).
    assert_eq!(s.conn.peer_window(), 64_000);
}
