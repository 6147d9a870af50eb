//! SPEC S21: the timers not covered elsewhere (keepalive), each firing and being cancelled.

use super::*;

fn keepalive_cfg() -> TcpConfig {
    TcpConfig {
        keepalive: true,
        keepalive_time: Duration::from_secs(10),
        keepalive_intvl: Duration::from_secs(1),
        keepalive_probes: 3,
        ..cfg()
    }
}

#[test]
fn s21_keepalive_probes_then_gives_up() {
    // RFC 9293 §3.8.4: an idle connection is probed (a segment the peer must answer, SEQ =
    // SND.UNA − 1) after keepalive_time, then every keepalive_intvl; after keepalive_probes
    // unanswered probes Linux resets it and reports ETIMEDOUT.
    let mut s = Script::established_client(keepalive_cfg());
    s.run(
        "
        10.1 > . 0:0(0) ack 1
        11.1 > . 0:0(0) ack 1
        12.1 > . 0:0(0) ack 1
        13.1 > R. 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(13.1)));
}

#[test]
fn s21_answered_keepalive_keeps_the_connection() {
    let mut s = Script::established_client(keepalive_cfg());
    s.run(
        "
        10.1 > . 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        20.2 > . 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    s.wait_until(30.0);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    // Traffic postpones the probe; turning keepalive off cancels the timer.
    s.conn.set_keepalive(s.now, false);
    assert_eq!(s.conn.timers().get(TimerKind::Keepalive), None);
    s.wait_until(100.0);
    s.done();
}

#[test]
fn s21_keepalive_is_off_by_default() {
    // RFC 9293 §3.8.4: "MUST default to off (MUST-25)".
    let s = Script::established_client(cfg());
    assert_eq!(s.conn.timers().get(TimerKind::Keepalive), None);
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn s21_delayed_ack_is_cancelled_by_a_piggybacked_ack() {
    // After the quick ACKs (4096 / (2 · 536) = 3), a lone segment arms the delayed-ACK
    // timer; it stops when a data segment carries the ACK.
    let c = TcpConfig { rmem: crate::BufferSizes { min: 4096, default: 4096, max: 4096 }, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        +0.1 < . 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        +0.1 < . 101:201(100) ack 1 win 65535
        +0   > . 1:1(0) ack 201
        +0.1 < . 201:301(100) ack 1 win 65535
        +0   > . 1:1(0) ack 301
        +0.1 < . 301:401(100) ack 1 win 65535
        ",
    );
    assert!(s.conn.timers().is_armed(TimerKind::DelayedAck));
    s.send(10);
    s.run("+0 > P. 1:11(10) ack 401");
    assert!(!s.conn.timers().is_armed(TimerKind::DelayedAck));
    s.run("+0.1 < . 401:401(0) ack 11 win 65535");
    s.wait_until(1.0);
    s.done();
}
