//! The delayed-ACK timeout as Linux adapts it (`conn/ack.rs`): `delack_min` at first, doubled
//! each time a delayed ACK has to fire on a bulk connection, capped by the smoothed RTT and by
//! `delack_max`; on an interactive connection (replies within the timeout) no quick ACKs, and a
//! delayed ACK that fires ends interactive mode. SPEC S21 (the delayed-ACK timer).

use super::*;
use crate::BufferSizes;

/// A server whose peer sent its ACK at 0.1 s (SRTT 100 ms, RTO 300 ms), with a buffer of
/// `rmem` bytes: quick-ACK mode lasts `rmem / 1072` ACKs (half the window in segments of the
/// default MSS, 536).
fn server_with(delack_max_ms: u64, rmem: u32) -> Script {
    let cfg = TcpConfig {
        rmem: BufferSizes { min: rmem, default: rmem, max: rmem },
        delack_max: Duration::from_millis(delack_max_ms),
        ..cfg()
    };
    let s = Script::established_server(cfg);
    assert_eq!(s.conn.rtt().srtt(), Some(Duration::from_millis(100)));
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(300));
    s
}

/// Quick-ACK mode lasts two ACKs.
fn server(delack_max_ms: u64) -> Script {
    server_with(delack_max_ms, 3000)
}

#[test]
fn s21_delayed_ack_timeout_doubles_when_it_fires_up_to_srtt_with_delack_max_200ms() {
    // Two quick ACKs, then: 40 ms (fires: 80), 80 ms (fires: 160), then capped by SRTT (100
    // ms); data arrives every 200 ms, longer than the timeout and shorter than the RTO.
    let mut s = server(200);
    s.run(
        "
        0.2   < P. 1:101(100) ack 1 win 65535
        +0    > . 1:1(0) ack 101
        0.4   < P. 101:201(100) ack 1 win 65535
        +0    > . 1:1(0) ack 201
        0.6   < P. 201:301(100) ack 1 win 65535
        +0.04 > . 1:1(0) ack 301
        0.8   < P. 301:401(100) ack 1 win 65535
        +0.08 > . 1:1(0) ack 401
        1.0   < P. 401:501(100) ack 1 win 65535
        +0.1  > . 1:1(0) ack 501
        1.2   < P. 501:601(100) ack 1 win 65535
        +0.1  > . 1:1(0) ack 601
        ",
    );
    s.done();
    assert_eq!(s.fired(TimerKind::DelayedAck), [secs(0.64), secs(0.88), secs(1.1), secs(1.3)]);
}

#[test]
fn s21_delayed_ack_waits_at_most_delack_max_40ms_by_default() {
    let mut s = server(40);
    s.run(
        "
        0.2   < P. 1:101(100) ack 1 win 65535
        +0    > . 1:1(0) ack 101
        0.4   < P. 101:201(100) ack 1 win 65535
        +0    > . 1:1(0) ack 201
        0.6   < P. 201:301(100) ack 1 win 65535
        +0.04 > . 1:1(0) ack 301
        0.8   < P. 301:401(100) ack 1 win 65535
        +0.04 > . 1:1(0) ack 401
        1.0   < P. 401:501(100) ack 1 win 65535
        +0.04 > . 1:1(0) ack 501
        ",
    );
    s.done();
}

#[test]
fn s21_interactive_connection_gets_no_quick_ack_until_a_delayed_ack_fires() {
    // Linux `tcp_in_quickack_mode`: quick ACKs only outside interactive ("pingpong") mode. A
    // reply sent within the timeout of a request makes the connection interactive; a request
    // left unanswered then waits the delayed-ACK timeout, whose firing ends interactive mode,
    // and the next request gets the quick ACK that was left (each ACK, delayed or not, uses
    // one up, as Linux's `tcp_dec_quickack_mode`: three here).
    let mut s = server_with(200, 3300);
    s.run(
        "
        0.2   < P. 1:101(100) ack 1 win 65535
        +0    > . 1:1(0) ack 101
        ",
    );
    s.send(50);
    s.run(
        "
        0.2   > P. 1:51(50) ack 101
        0.3   < . 101:101(0) ack 51 win 65535
        0.4   < P. 101:201(100) ack 51 win 65535
        +0.04 > . 51:51(0) ack 201
        0.6   < P. 201:301(100) ack 51 win 65535
        +0    > . 51:51(0) ack 301
        ",
    );
    s.done();
}

#[test]
fn s21_quick_acks_return_after_a_gap_longer_than_the_rto() {
    // Linux `tcp_event_data_recv`: "Too long gap. Apparently sender failed to restart window,
    // so that we send ACKs quickly." Quick-ACK mode is entered again.
    let mut s = server(200);
    s.run(
        "
        0.2   < P. 1:101(100) ack 1 win 65535
        +0    > . 1:1(0) ack 101
        0.4   < P. 101:201(100) ack 1 win 65535
        +0    > . 1:1(0) ack 201
        0.6   < P. 201:301(100) ack 1 win 65535
        +0.04 > . 1:1(0) ack 301
        1.5   < P. 301:401(100) ack 1 win 65535
        +0    > . 1:1(0) ack 401
        1.6   < P. 401:501(100) ack 1 win 65535
        +0    > . 1:1(0) ack 501
        ",
    );
    s.done();
}

#[test]
fn a_fin_after_data_is_acked_with_a_delay_as_linux_does() {
    // Linux (`tcp_fin`: CLOSE-WAIT and interactive mode; packetdrill's 2013
    // close-read-data-fin, and Linux 6.18 here): once data has come, the FIN's ACK is a
    // delayed ACK (the application's reply or FIN would carry it), 40 ms later. On a
    // connection that never received data it leaves at once (`s_close` tests).
    let mut s = Script::established_server(cfg());
    s.run(
        "
        0.11  < P. 1:1001(1000) ack 1 win 65535
        +0    > . 1:1(0) ack 1001
        ",
    );
    s.send(1000);
    s.run(
        "
        +0    > P. 1:1001(1000) ack 1001
        0.2   < . 1001:1001(0) ack 1001 win 65535
        0.51  < F. 1001:1001(0) ack 1001 win 65535
        0.55  > . 1001:1001(0) ack 1002
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::CloseWait);
}
