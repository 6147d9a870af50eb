//! The storage of an idle connection (`idle.rs`): given back after `RELEASE_AFTER` of quiet
//! once empty, kept while data moves or waits, allocated again by the next byte. Linux
//! holds no buffer memory for a socket whose data is all acknowledged and read (its queues
//! are lists of skbs, freed as they empty); a ring that stayed allocated would cost an idle
//! connection some 2 KiB.

use super::*;

/// One request and one answer on an established server: 100 bytes in, read, 100 bytes out,
/// acknowledged. Every ring involved holds storage afterwards. What this checks is memory:
/// the ACKs on the way (quick, delayed, or the window update a read may send) are left to
/// the tests of `delack.rs` and `window.rs`; the bytes are checked both ways.
fn exchange(s: &mut Script, from: u64) {
    s.run(&format!("+0.1 < P. {}:{}(100) ack {} win 65535", from + 1, from + 101, from + 1));
    assert_eq!(s.recv_all(), 100);
    s.send(100);
    let sent: Vec<Sent> = s.pending.drain(..).map(|(_, p)| p).collect();
    assert!(sent.iter().any(|p| p.payload.len() == 100), "the answer went out: {sent:?}");
    s.run(&format!("+0.1 < . {b}:{b}(0) ack {b} win 65535", b = from + 101));
    s.collect();
    s.pending.clear();
}

#[test]
fn an_idle_connection_gives_back_its_empty_buffers_after_a_quiet_second() {
    let mut s = Script::established_server(cfg());
    exchange(&mut s, 0);
    let quiet_from = s.line_time.since_epoch().as_secs_f64();
    assert!(s.conn.storage_bytes() >= 2 * RingBuffer::MIN_CAPACITY, "both rings were used");
    // Just short of a quiet second: still held (the next message would find it).
    s.wait_until(quiet_from + RELEASE_AFTER.as_secs_f64() - 0.001);
    assert!(s.conn.storage_bytes() >= 2 * RingBuffer::MIN_CAPACITY);
    s.wait_until(quiet_from + RELEASE_AFTER.as_secs_f64());
    assert_eq!(s.conn.storage_bytes(), 0, "every empty buffer freed");
    assert_eq!(s.conn.poll_timeout(), None, "nothing left to do: no deadline");
    // The next exchange allocates again, and every byte arrives intact.
    exchange(&mut s, 100);
    assert!(s.conn.storage_bytes() >= 2 * RingBuffer::MIN_CAPACITY);
    s.done();
}

#[test]
fn a_connection_busy_every_half_second_keeps_its_buffers() {
    // Messages closer together than RELEASE_AFTER: the rings empty after each one but are
    // never freed, so a busy connection does not allocate per message.
    let mut s = Script::established_server(cfg());
    for i in 0..8 {
        exchange(&mut s, i * 100);
        let t = s.line_time.since_epoch().as_secs_f64();
        s.wait_until(t + 0.3);
        assert!(s.conn.storage_bytes() >= 2 * RingBuffer::MIN_CAPACITY, "message {i}");
    }
    s.done();
}

#[test]
fn unread_data_is_kept_however_long_the_connection_is_quiet() {
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 1:101(100) ack 1 win 65535
        +0   > . 1:1(0) ack 101
        ",
    );
    s.wait_until(10.0);
    assert!(s.conn.recv_queue() == 100 && s.conn.storage_bytes() >= RingBuffer::MIN_CAPACITY);
    assert_eq!(s.recv_all(), 100);
    // The read empties the buffer ten seconds after the data arrived: no deadline in the
    // past (a host's poll_timeout would report it), the release at once instead.
    let now = s.line_time;
    assert!(
        s.conn.poll_timeout().is_none_or(|t| t >= now),
        "{:?} is before {now:?}",
        s.conn.poll_timeout()
    );
    s.collect();
    assert_eq!(s.conn.poll_timeout(), Some(now), "released at the next call that knows the time");
    s.wait_until(10.0 + RELEASE_AFTER.as_secs_f64());
    assert_eq!(s.conn.storage_bytes(), 0);
    s.done();
}

#[test]
fn out_of_order_data_is_kept_however_long_the_connection_is_quiet() {
    let mut s = Script::established_server(cfg());
    s.run(
        "
        +0.1 < P. 101:201(100) ack 1 win 65535
        +0   > . 1:1(0) ack 1
        ",
    );
    s.wait_until(10.0);
    s.run(
        "
        +0 < P. 1:101(100) ack 1 win 65535
        +0 > . 1:1(0) ack 201
        ",
    );
    assert_eq!(s.recv_all(), 200, "the bytes held out of order survived the quiet time");
    s.done();
}

#[test]
fn a_connection_back_at_rest_after_a_loss_episode_gives_back_its_loss_state() {
    // The loss-recovery state (`send::Loss`) is allocated by the episode and, once the
    // episode is over and every byte acknowledged, freed by the quiet second like the
    // buffers: with RFC 5681's window inflation and with PRR (whose counters are dead out of
    // recovery).
    for prr in [false, true] {
        let cfg = TcpConfig { prr, congestion_control: crate::CcName::NEWRENO, ..cfg() };
        let mut s = Script::established_client(cfg);
        assert!(
            s.conn.snd.loss.is_none(),
            "prr {prr}: nothing lost yet, nothing held: {:?}",
            s.conn.snd.loss
        );
        s.send(15_000);
        // What goes out is not what this test checks (`recovery.rs`, `prr.rs` do): it
        // feeds the peer's side only.
        let input = |s: &mut Script, line: &str| {
            s.pending.clear();
            s.run(line);
            s.collect();
        };
        // The first segment is lost: three duplicate ACKs (RFC 5681 §3.2), then the ACK of
        // the repair and of everything else.
        input(&mut s, "+0.05 < . 1:1(0) ack 1 win 65535");
        input(&mut s, "+0 < . 1:1(0) ack 1 win 65535");
        input(&mut s, "+0 < . 1:1(0) ack 1 win 65535");
        assert!(s.conn.snd.loss.is_some(), "prr {prr}: recovery holds its state");
        assert_eq!(s.conn.stats().retransmits, 1, "prr {prr}: the fast retransmit");
        // The peer acknowledges whatever was sent, until the stream is through.
        for _ in 0..20 {
            let sent = s.conn.snd.max - s.conn.snd.iss;
            input(&mut s, &format!("+0.05 < . 1:1(0) ack {sent} win 65535"));
            if sent == 15_001 && s.conn.snd.una == s.conn.snd.max {
                break;
            }
        }
        assert_eq!(s.conn.snd.una - s.conn.snd.iss, 15_001, "prr {prr}: all acknowledged");
        s.pending.clear();
        assert_eq!(s.conn.snd.phase, send::Phase::Open, "prr {prr}: recovery is over");
        let quiet_from = s.line_time.since_epoch().as_secs_f64();
        s.wait_until(quiet_from + RELEASE_AFTER.as_secs_f64());
        assert!(s.conn.snd.loss.is_none(), "prr {prr}: {:?}", s.conn.snd.loss);
        assert_eq!(s.conn.storage_bytes(), 0, "prr {prr}");
        assert_eq!(s.conn.stats().retransmits, 1, "prr {prr}: what ss shows is kept");
    }
}
