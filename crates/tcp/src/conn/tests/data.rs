//! Established data: SPEC S14 (segmentation), S15 (reassembly, duplicates), S17 (RTO),
//! S19 (windows), S21 (delayed ACK), Nagle.

use super::*;
use crate::{BufferSizes, Ecn};

#[test]
fn s14_segments_are_cut_at_mss() {
    // The peer's MSS is 1000 (no timestamps): a 3500-byte write leaves as 1000, 1000, 1000
    // and 500 bytes, PSH on the last. The initial window (10 segments) and the peer's window
    // (65535) allow all of it at once. Linux's Nagle (Minshall) lets the short tail go:
    // no short segment is unacknowledged.
    let mut s = Script::established_client(cfg());
    s.send(3500);
    s.run(
        "
        +0 > . 1:1001(1000) ack 1
        +0 > . 1001:2001(1000) ack 1
        +0 > . 2001:3001(1000) ack 1
        +0 > P. 3001:3501(500) ack 1
        +0.1 < . 1:1(0) ack 3501 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.send_queue(), 0);
    assert_eq!(s.conn.stats().bytes_acked, 3500);
}

#[test]
fn s14_timestamps_take_twelve_bytes_of_the_mss() {
    // RFC 9293 §3.7.1 / RFC 6691: the MSS option excludes TCP options, so with timestamps a
    // 1460-byte MSS carries 1448 bytes.
    let mut s = Script::client(cfg());
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 5 ecr 0,nop,wscale 0>
        +0   > . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 5>
        ",
    );
    s.send(2000);
    s.run(
        "
        +0 > . 1:1449(1448) ack 1 <nop,nop,TS val 100 ecr 5>
        +0 > P. 1449:2001(552) ack 1 <nop,nop,TS val 100 ecr 5>
        ",
    );
    s.done();
}

#[test]
fn s14_flight_is_limited_by_cwnd_and_peer_window() {
    // SPEC S14/S20: at most min(cwnd, peer window) in flight. The initial window is 10
    // segments (RFC 6928, Linux TCP_INIT_CWND).
    let mut s = Script::established_client(cfg());
    s.send(12_000);
    for i in 0..10 {
        // The last segment the write's burst puts out is pushed (Linux `tcp_push`).
        let flags = if i == 9 { "P." } else { "." };
        s.run(&format!("+0 > {flags} {}:{}(1000) ack 1", 1 + i * 1000, 1001 + i * 1000));
    }
    s.done();
    // An ACK for two segments: slow start grows cwnd by 2000 bytes to 12 segments, so
    // cwnd would let 4000 more bytes go; but the peer's window now ends at 2001 + 9000 =
    // 11001, which allows one segment.
    s.run(
        "
        +0.1 < . 1:1(0) ack 2001 win 9000
        +0   > . 10001:11001(1000) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.congestion_control().window(), 12_000);
    s.run(
        "
        +0.1 < . 1:1(0) ack 11001 win 65535
        +0   > P. 11001:12001(1000) ack 1
        ",
    );
    s.done();
}

#[test]
fn nagle_holds_a_small_segment_behind_an_unacknowledged_small_one() {
    // RFC 9293 §3.7.4 (with Linux's Minshall variant): while a short segment is
    // unacknowledged, the next short one waits for its ACK.
    let mut s = Script::established_client(cfg());
    s.send(100);
    s.run("+0 > P. 1:101(100) ack 1");
    s.send(100);
    s.send(100);
    s.done();
    s.run(
        "
        +0.1 < . 1:1(0) ack 101 win 65535
        +0   > P. 101:301(200) ack 1
        ",
    );
    s.done();
    // TCP_NODELAY: no holding back.
    s.conn.set_nodelay(true);
    s.send(10);
    s.send(10);
    s.run(
        "
        +0 > P. 301:311(10) ack 1
        +0 > P. 311:321(10) ack 1
        ",
    );
    s.done();
}

#[test]
fn s15_out_of_order_reassembled_and_acked() {
    // RFC 5681 §4.2: an out-of-order segment is answered at once with a duplicate ACK, and
    // with SACK (RFC 2018 §4) its block comes first; the segment that fills the hole is
    // ACKed at once and the data is delivered in order.
    let mut s =
        Script::server(cfg(), "0 < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 <mss 1460,sackOK,nop,wscale 7>
        +0.1 < . 1:1(0) ack 1 win 512
        +0   < P. 1001:2001(1000) ack 1 win 512
        +0   > . 1:1(0) ack 1 <nop,nop,sack 1001:2001>
        +0   < P. 3001:4001(1000) ack 1 win 512
        +0   > . 1:1(0) ack 1 <nop,nop,sack 3001:4001 1001:2001>
        +0   < P. 2001:3001(1000) ack 1 win 512
        +0   > . 1:1(0) ack 1 <nop,nop,sack 1001:4001>
        +0   < P. 1:1001(1000) ack 1 win 512
        +0   > . 1:1(0) ack 4001
        ",
    );
    s.done();
    assert_eq!(s.recv_all(), 4000);
    assert_eq!(s.conn.stats().bytes_received, 4000);
}

#[test]
fn s15_duplicate_is_dropped_and_reacked() {
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        +0.1 < P. 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        +0   < P. 501:1501(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1501
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().dropped(DropReason::OutOfWindow), 1);
    assert_eq!(s.recv_all(), 1500);
}

#[test]
fn s15_out_of_order_data_is_bounded_by_the_buffer_not_by_a_count_of_holes() {
    // Linux keeps out-of-order segments as long as the receive buffer's memory allows. Here
    // 100 holes (every other 100-byte segment lost) within a 1 MiB buffer: every segment
    // is kept, and the retransmissions complete the stream. (ustack used to refuse more than
    // 64 holes.)
    let rmem = BufferSizes { min: 4096, default: 1 << 20, max: 1 << 20 };
    let c = TcpConfig { rmem, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    for k in 0..100u32 {
        let seq = 101 + 200 * k;
        s.run(&format!("+0 < . {seq}:{}(100) ack 1 win 65535", seq + 100));
        s.run("+0 > . 1:1(0) ack 1");
    }
    for k in 0..100u32 {
        let seq = 1 + 200 * k;
        let acked = seq + 200;
        s.run(&format!("+0 < . {seq}:{}(100) ack 1 win 65535", seq + 100));
        s.run(&format!("+0 > . 1:1(0) ack {acked}"));
    }
    s.done();
    assert_eq!(s.conn.stats().dropped_total(), 0);
    assert_eq!(s.recv_all(), 20_000);
}

#[test]
fn s15_at_its_memory_bound_reassembly_prunes_the_highest_data_first() {
    // With a 64 KiB buffer the out-of-order store holds 64 ranges. A 65th above them all is
    // dropped; a hole below the highest range makes room by dropping that range (Linux
    // `tcp_prune_ofo_queue`), and the sender sends it again.
    let rmem = BufferSizes { min: 4096, default: 65_535, max: 65_535 };
    let c = TcpConfig { rmem, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    for k in 0..64u32 {
        let seq = 201 + 200 * k;
        s.run(&format!("+0 < . {seq}:{}(100) ack 1 win 65535", seq + 100));
        s.run("+0 > . 1:1(0) ack 1");
    }
    assert_eq!(s.conn.rcv.asm.range_count(), 64);
    s.run("+0 < . 13001:13101(100) ack 1 win 65535");
    s.run("+0 > . 1:1(0) ack 1");
    assert_eq!(s.conn.stats().dropped(DropReason::ReassemblyFull), 1);
    s.run("+0 < . 51:101(50) ack 1 win 65535");
    s.run("+0 > . 1:1(0) ack 1");
    assert_eq!(s.conn.rcv.asm.range_count(), 64);
    assert_eq!(s.conn.rcv.asm.ranges().last().map(|r| r.end), Some(12_800 - 100));
}

#[test]
fn s17_rto_backoff_then_give_up() {
    // The handshake measured 100 ms: RTO = SRTT + max(4·RTTVAR, rto_min) = 100 + 200 ms.
    // Unanswered, the segment is sent again after 0.3, 0.6, 1.2, 2.4, 4.8 s (RFC 6298 (5.5));
    // with retries2 = 5 the connection gives up once 5 doublings from rto_min (12.6 s) have
    // passed since the first transmission: at the expiry 9.6 s after the last one.
    let c = TcpConfig { retries2: 5, retries1: 3, ..cfg() };
    assert_eq!(c.retries2_timeout(), Duration::from_millis(12_600));
    let mut s = Script::established_client(c);
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(300));
    s.send(1000);
    s.run(
        "
        +0   > P. 1:1001(1000) ack 1
        +0.3 > P. 1:1001(1000) ack 1
        +0.6 > P. 1:1001(1000) ack 1
        +1.2 > P. 1:1001(1000) ack 1
        +2.4 > P. 1:1001(1000) ack 1
        +4.8 > P. 1:1001(1000) ack 1
        ",
    );
    s.wait_until(18.99);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    s.wait_until(19.0);
    s.done();
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(19.0)));
    let rtos = s
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Retransmit { reason: RetransmitReason::Rto, .. }))
        .count();
    assert_eq!(rtos, 5);
    // RFC 5681 §3.1: after the timeout cwnd is one segment.
    assert!(s.events.iter().any(|(_, e)| matches!(e, Event::Cwnd { cwnd: 1000, .. })));
}

#[test]
fn s17_rto_go_back_n_and_cwnd_one_segment() {
    // Three segments lost: the RTO resends the first (cwnd = 1 segment, RFC 5681 §3.1);
    // its ACK opens cwnd to 2 and the next two follow.
    let mut s = Script::established_client(cfg());
    s.send(3000);
    s.run(
        "
        +0   > . 1:1001(1000) ack 1
        +0   > . 1001:2001(1000) ack 1
        +0   > P. 2001:3001(1000) ack 1
        +0.3 > . 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 65535
        +0   > . 1001:2001(1000) ack 1
        +0   > P. 2001:3001(1000) ack 1
        +0.1 < . 1:1(0) ack 3001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.timers().get(TimerKind::Retransmit), None);
}

#[test]
fn s21_delayed_ack_after_quick_acks() {
    // Quick-ACK mode first (Linux: rcv window / (2·MSS) segments, here 6000 / 2000 = 3),
    // then RFC 9293 §3.8.6.3: a lone segment is ACKed after the delayed-ACK timeout (40 ms,
    // delack_min), a second full-sized segment at once. Reading opens the window: announced
    // at once when it doubles (Linux `tcp_cleanup_rbuf`).
    let c = TcpConfig { rmem: BufferSizes { min: 4096, default: 6000, max: 6_291_456 }, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 win 6000
        +0.1 < . 1:1(0) ack 1 win 65535
        +0.1 < . 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001 win 5000
        +0.1 < . 1001:2001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 2001 win 4000
        +0.1 < . 2001:3001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 3001 win 3000
        ",
    );
    assert_eq!(s.recv_all(), 3000);
    s.run(
        "
        +0    > . 1:1(0) ack 3001 win 6000
        +0.1  < . 3001:4001(1000) ack 1 win 65535
        +0.04 > . 1:1(0) ack 4001 win 5000
        +0.06 < . 4001:5001(1000) ack 1 win 65535
        +0.01 < . 5001:6001(1000) ack 1 win 65535
        +0    > . 1:1(0) ack 6001 win 3000
        ",
    );
    s.done();
    assert!(s.events.iter().any(|(_, e)| *e == Event::TimerFired(TimerKind::DelayedAck)));
}

#[test]
fn s19_zero_window_stops_the_sender_and_the_persist_timer_probes() {
    // SPEC S19: the peer's window closes; nothing more is sent; the persist timer probes
    // (Linux: a segment with SND.UNA − 1 that the peer must answer) with backoff until the
    // window opens.
    let mut s = Script::established_client(cfg());
    s.send(3000);
    s.run(
        "
        +0   > . 1:1001(1000) ack 1
        +0   > . 1001:2001(1000) ack 1
        +0   > P. 2001:3001(1000) ack 1
        +0.1 < . 1:1(0) ack 3001 win 0
        ",
    );
    s.send(500);
    s.done();
    // RTO 300 ms: probes after 0.3, then 0.6, 1.2 s.
    s.run(
        "
        +0.3 > . 3000:3000(0) ack 1
        +0.1 < . 1:1(0) ack 3001 win 0
        +0.5 > . 3000:3000(0) ack 1
        +0.1 < . 1:1(0) ack 3001 win 0
        +1.1 > . 3000:3000(0) ack 1
        +0.1 < . 1:1(0) ack 3001 win 65535
        +0   > P. 3001:3501(500) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    assert_eq!(s.conn.timers().get(TimerKind::Persist), None);
}

#[test]
fn s19_receiver_advertises_zero_window_and_reopens_on_read() {
    // Our receive buffer (4096 bytes) fills: the window advertised falls to zero (after two
    // quick ACKs, one ACK per two full segments); a probe is answered with the zero window;
    // the application reads and the window update goes out at once.
    let c = TcpConfig { rmem: BufferSizes { min: 4096, default: 4096, max: 4096 }, ..cfg() };
    let mut s = Script::server(c, "0 < S 0:0(0) win 65535 <mss 1024>");
    s.run(
        "
        0    > S. 0:0(0) ack 1 win 4096
        +0.1 < . 1:1(0) ack 1 win 65535
        +0.1 < . 1:1025(1024) ack 1 win 65535
        +0   > . 1:1(0) ack 1025 win 3072
        +0   < . 1025:2049(1024) ack 1 win 65535
        +0   > . 1:1(0) ack 2049 win 2048
        +0   < . 2049:3073(1024) ack 1 win 65535
        +0   < . 3073:4097(1024) ack 1 win 65535
        +0   > . 1:1(0) ack 4097 win 0
        +0.3 < . 4097:4098(1) ack 1 win 65535
        +0   > . 1:1(0) ack 4097 win 0
        ",
    );
    s.done();
    assert_eq!(s.recv_all(), 4096);
    s.run("+0 > . 1:1(0) ack 4097 win 4096");
    s.done();
}

#[test]
fn s19_a_read_sends_no_window_update_that_repeats_the_window() {
    // Without window scaling the window field says at most 65,535 bytes, and the default
    // receive buffer (128 KiB) is larger: a read of 100 bytes frees room the field cannot
    // show. Linux (`tcp_cleanup_rbuf`) compares the window it would advertise, not the free
    // space, against twice the window offered, and sends nothing; an ACK here would only
    // repeat `win 65435`.
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101 win 65435
        ",
    );
    s.done();
    assert_eq!(s.recv_all(), 100);
    s.done();
}

#[test]
fn s18_stop_and_wait_keeps_one_segment_in_flight() {
    let c = TcpConfig { max_flight_segments: Some(1), ..cfg() };
    let mut s = Script::established_client(c);
    s.send(2500);
    s.run(
        "
        +0   > P. 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 65535
        +0   > . 1001:2001(1000) ack 1
        +0.1 < . 1:1(0) ack 2001 win 65535
        +0   > P. 2001:2501(500) ack 1
        +0.1 < . 1:1(0) ack 2501 win 65535
        ",
    );
    s.done();
}

#[test]
fn s18_stop_and_wait_lost_data_is_sent_again_after_the_timeout() {
    // S18's second case: the segment is lost (or corrupted: a bad checksum is dropped
    // by the host before the engine sees it, SPEC S16, so it is lost too). No ACK comes;
    // the retransmission timer sends it again after the RTO (300 ms), then the next one
    // follows its ACK.
    let c = TcpConfig { max_flight_segments: Some(1), ..cfg() };
    let mut s = Script::established_client(c);
    s.send(2000);
    s.run(
        "
        +0   > P. 1:1001(1000) ack 1
        +0.3 > . 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 65535
        +0   > P. 1001:2001(1000) ack 1
        +0.1 < . 1:1(0) ack 2001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.stats().retransmits, 1);
}

#[test]
fn s18_stop_and_wait_lost_ack_the_receiver_drops_the_copy_and_acks_again() {
    // S18's third case, at the receiver: our ACK is lost, the sender's timer sends the
    // segment again; the copy is discarded (delivered once) and acknowledged again, which
    // lets the sender go on. (At the sender a lost ACK looks like lost data: see above.)
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        +0.3 < P. 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        +0.1 < P. 1001:2001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 2001
        ",
    );
    s.done();
    assert_eq!(s.recv_all(), 2000);
    assert_eq!(s.conn.stats().bytes_received, 2000);
}

#[test]
fn s18_stop_and_wait_late_ack() {
    // S18's fourth case: the ACK is late, not lost. The timer has already sent the
    // segment again; the late ACK still acknowledges it and the next segment goes; the ACK
    // of the needless copy is a duplicate and changes nothing. Karn's rule (RFC 6298 §3,
    // SPEC S17): no RTT sample from an ACK of a retransmitted segment, and the backed-off
    // RTO (600 ms) is kept for the next segment.
    let c = TcpConfig { max_flight_segments: Some(1), ..cfg() };
    let mut s = Script::established_client(c);
    let srtt = s.conn.rtt().srtt();
    s.send(2000);
    s.run(
        "
        +0    > P. 1:1001(1000) ack 1
        +0.3  > . 1:1001(1000) ack 1
        +0.05 < . 1:1(0) ack 1001 win 65535
        +0    > P. 1001:2001(1000) ack 1
        +0.1  < . 1:1(0) ack 1001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.rtt().srtt(), srtt);
    assert_eq!(s.conn.rtt().rto(), Duration::from_millis(600));
    assert_eq!(s.conn.timers().get(TimerKind::Retransmit), Some(secs(1.05)));
    s.run("+0.1 < . 1:1(0) ack 2001 win 65535");
    s.done();
    assert_eq!(s.conn.stats().retransmits, 1);
}

#[test]
fn s19_window_shrunk_to_zero_under_flight_is_probed_not_timed_out() {
    // The peer ACKs part of the data and closes its window on the rest: the retransmission
    // timer's expiries become window probes, and retries2 does not end the connection while
    // the peer answers.
    let c = TcpConfig { retries2: 3, ..cfg() };
    let mut s = Script::established_client(c);
    s.send(2000);
    s.run(
        "
        +0   > . 1:1001(1000) ack 1
        +0   > P. 1001:2001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        +0.3 > . 1000:1000(0) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        +0.5 > . 1000:1000(0) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        +1.1 > . 1000:1000(0) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        +2.3 > . 1000:1000(0) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        +4.7 > . 1000:1000(0) ack 1
        +0.1 < . 1:1(0) ack 1001 win 65535
        +0   > P. 1001:2001(1000) ack 1
        +0.1 < . 1:1(0) ack 2001 win 65535
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn send_buffer_full_then_writable() {
    // The send buffer holds wmem.default bytes; a send that does not fit takes what fits,
    // the next gets Full, and Writable follows the ACK that frees room.
    let c = TcpConfig { wmem: BufferSizes { min: 4096, default: 4096, max: 4096 }, ..cfg() };
    let mut s = Script::established_client(c);
    assert_eq!(s.conn.send(&[7; 5000]), Ok(4096));
    assert_eq!(s.conn.send(&[7; 10]), Err(SendError::Full));
    s.collect();
    // The initial window sends 4096 bytes in five segments.
    assert_eq!(s.pending.len(), 5);
    s.pending.clear();
    assert!(!s.app_events().contains(&Event::Writable));
    s.run("+0.1 < . 1:1(0) ack 1001 win 65535");
    s.pending.clear();
    assert!(s.app_events().contains(&Event::Writable));
    assert_eq!(s.conn.send_capacity(), 1000);
}

#[test]
fn received_data_stays_readable_after_a_reset() {
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        +0   < R. 101:101(0) ack 1 win 0
        ",
    );
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::Reset));
    assert_eq!(s.recv_all(), 100);
    assert_eq!(s.conn.recv(&mut [0; 8]), Err(RecvError::Failed(ConnError::Reset)));
}

#[test]
fn write_burst_cut_by_the_congestion_window_pushes_its_last_segment() {
    // Linux (`tcp_sendmsg` → `tcp_push`; packetdrill's mss, limited-transmit and PRR scripts
    // expect it, and Linux 6.18 does it) pushes the last segment a write puts out when the
    // congestion window stops the burst, not only the segment that ends the data. Segments
    // sent later because ACKs opened the window are not pushed, except the one that
    // empties the buffer.
    let mut s = Script::established_client(cfg());
    s.send(12_000);
    for i in 0..9 {
        s.run(&format!("+0 > . {}:{}(1000) ack 1", 1 + i * 1000, 1001 + i * 1000));
    }
    s.run(
        "
        +0   > P. 9001:10001(1000) ack 1
        +0.1 < . 1:1(0) ack 10001 win 65535
        +0   > . 10001:11001(1000) ack 1
        +0   > P. 11001:12001(1000) ack 1
        ",
    );
    s.done();
}

#[test]
fn s19_unanswered_window_probes_end_the_connection_after_retries2() {
    // Linux `tcp_probe_timer`: the peer closed its window and went silent; after retries2
    // unanswered probes (3 here) the connection ends with ETIMEDOUT. (It used to probe for
    // ever; found by fuzzing.) Answered probes keep it open: see the test above.
    let mut s = Script::established_client(TcpConfig { retries2: 3, ..cfg() });
    s.send(1000);
    s.run(
        "
        +0   > P. 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        ",
    );
    s.send(500);
    s.done();
    // Probes at 0.3, 0.6, 1.2 s intervals (the RTO, doubled), then the end.
    s.run(
        "
        +0.3 > . 1000:1000(0) ack 1
        +0.6 > . 1000:1000(0) ack 1
        +1.2 > . 1000:1000(0) ack 1
        ",
    );
    s.wait_until(10.0);
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
}

#[test]
fn s19_an_orphan_stuck_behind_a_zero_window_gives_up_after_orphan_retries() {
    // The application wrote, closed and left; the peer's window stays shut and it answers
    // nothing: the orphan in FIN-WAIT-1 gives up after orphan_retries probes (Linux
    // `tcp_orphan_retries`), instead of probing every two minutes for ever.
    let c = TcpConfig { orphan_retries: 2, ..cfg() };
    let mut s = Script::established_client(c);
    s.send(1000);
    s.run(
        "
        +0   > P. 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        ",
    );
    s.send(700);
    s.close();
    s.run(
        "
        +0.3 > . 1000:1000(0) ack 1
        +0.6 > . 1000:1000(0) ack 1
        ",
    );
    s.wait_until(10.0);
    s.done();
    assert_eq!(s.conn.state(), TcpState::Closed);
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
}

#[test]
fn summed_input_takes_in_order_data_only_when_verified_and_leaves_other_segments_to_the_host() {
    // `handle_segment_summed` (the receive side's checksum folded into the copy): the payload
    // of an in-order data segment is handed to `verify` as its checksum; a failed check
    // leaves nothing readable and RCV.NXT where it was (RFC 9293 §3.1: the segment is
    // dropped), a passed one is taken as `handle_segment` takes it. Segments it does not
    // apply to (out of order, with FIN) come back as None, untouched, for the host to verify.
    let mut s = Script::established_server(cfg());
    let rcv_nxt = s.conn.recv_next();
    let payload = pattern_bytes(0, 700);
    let seg = |seq: SeqNum, flags: TcpFlags, payload: &'static [u8]| TcpRepr {
        src_port: tuple().remote.port(),
        dst_port: tuple().local.port(),
        seq,
        ack: LOCAL_ISS + 1u32,
        flags,
        window: 65_535,
        urgent: 0,
        options: Default::default(),
        payload,
    };
    let payload: &'static [u8] = Vec::leak(payload);
    let now = s.now;
    let mut seen = None;
    let data = seg(rcv_nxt, TcpFlags::ACK | TcpFlags::PSH, payload);
    let verdict = s.conn.handle_segment_summed(now, &data, Ecn::NotEct, |sum| {
        seen = Some(sum);
        false
    });
    assert_eq!(verdict, Some(false));
    assert_eq!(seen, Some(ustack_wire::checksum::data(payload)), "the payload's checksum");
    assert_eq!((s.conn.recv_queue(), s.conn.recv_next()), (0, rcv_nxt), "a failed check took data");
    let mut buf = [0u8; 1000];
    assert!(s.conn.recv(&mut buf).is_err(), "nothing to read");
    // Out of order, and with FIN: not for this path.
    let ooo = seg(rcv_nxt + 1000u32, TcpFlags::ACK, payload);
    assert_eq!(s.conn.handle_segment_summed(now, &ooo, Ecn::NotEct, |_| true), None);
    let fin = seg(rcv_nxt, TcpFlags::ACK | TcpFlags::FIN, payload);
    assert_eq!(s.conn.handle_segment_summed(now, &fin, Ecn::NotEct, |_| true), None);
    assert_eq!((s.conn.recv_queue(), s.conn.recv_next()), (0, rcv_nxt));
    // The same segment, verified: taken whole.
    assert_eq!(s.conn.handle_segment_summed(now, &data, Ecn::NotEct, |_| true), Some(true));
    assert_eq!(s.conn.recv_next(), rcv_nxt + 700u32);
    assert_eq!(s.conn.recv(&mut buf), Ok(700));
    assert_eq!(&buf[..700], payload);
}
