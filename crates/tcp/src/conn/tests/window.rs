//! The receive window with window scaling (RFC 7323 §2.4, RFC 9293 §3.8.6.2.2): what is
//! offered fits in the buffer and is accepted, and a receiver that never reads ends at a zero
//! window, not at one that looks open while its data is dropped.
//!
//! The peer here is the strictest RFC 7323 §2.4 allows: "The receiver must honor, as in a
//! window, any segment that would have been in window for any ACK sent by the receiver", so
//! it sends up to the largest right edge any of our ACKs ever implied, not just the latest.

use proptest::prelude::*;

use super::*;
use crate::BufferSizes;

/// A server connection and a scripted peer that sends in-order data as far as our ACKs let it.
struct Receiver {
    conn: Conn,
    now: Instant,
    scratch: Vec<u8>,
    /// The peer's next sequence number.
    peer_nxt: SeqNum,
    /// Our ISS + 1, what the peer acknowledges.
    our_nxt: SeqNum,
    /// Our window scale.
    shift: u8,
    /// The first data byte's sequence number.
    start: SeqNum,
    /// The right edge of our latest ACK, and the largest of all ACKs.
    latest_edge: SeqNum,
    max_edge: SeqNum,
    latest_field: u16,
    /// Payload bytes the peer sent.
    sent: u64,
}

impl Receiver {
    /// Handshake done: our receive buffer holds `limit` bytes and grows no further; `rmem_max`
    /// sets our window scale (the smallest shift that can advertise it).
    fn new(limit: u32, rmem_max: u32) -> Receiver {
        let cfg = TcpConfig {
            rmem: BufferSizes { min: limit.min(4096), default: limit, max: rmem_max.max(limit) },
            timestamps: false,
            ..TcpConfig::default()
        };
        let syn = TcpRepr {
            src_port: REMOTE_PORT,
            dst_port: LOCAL_PORT,
            seq: REMOTE_ISS,
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 65_535,
            urgent: 0,
            options: ustack_wire::TcpOptions {
                mss: Some(1460),
                window_scale: Some(0),
                ..Default::default()
            },
            payload: &[],
        };
        let conn =
            Conn::accept(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, &syn, Conn::default_cc(&cfg));
        let mut r = Receiver {
            conn,
            now: Instant::ZERO,
            scratch: vec![0; 65_536],
            peer_nxt: REMOTE_ISS + 1u32,
            our_nxt: LOCAL_ISS + 1u32,
            shift: 0,
            start: REMOTE_ISS + 1u32,
            latest_edge: REMOTE_ISS + 1u32,
            max_edge: REMOTE_ISS + 1u32,
            latest_field: 0,
            sent: 0,
        };
        let synack = r.conn.poll_transmit(r.now, &mut r.scratch).expect("SYN-ACK");
        r.shift = synack.options.window_scale.expect("window scale offered");
        let edge = synack.ack + u32::from(synack.window);
        r.latest_edge = edge;
        r.max_edge = edge;
        r.segment(&[], r.now + Duration::from_millis(10));
        assert_eq!(r.conn.state(), TcpState::Established);
        r
    }

    /// Hands the peer's next segment (at `peer_nxt`, carrying `payload`) to the connection at
    /// `at`, then reads every ACK it sends.
    fn segment(&mut self, payload: &[u8], at: Instant) {
        self.now = at;
        let seg = TcpRepr {
            src_port: REMOTE_PORT,
            dst_port: LOCAL_PORT,
            seq: self.peer_nxt,
            ack: self.our_nxt,
            flags: if payload.is_empty() { TcpFlags::ACK } else { TcpFlags::ACK | TcpFlags::PSH },
            window: 65_535,
            urgent: 0,
            options: Default::default(),
            payload,
        };
        self.conn.handle_segment(self.now, &seg);
        self.peer_nxt += payload.len();
        self.sent += payload.len() as u64;
        self.drain();
    }

    /// Reads what the connection sends, noting each ACK's right edge.
    fn drain(&mut self) {
        let unit = 1u32 << self.shift;
        while let Some(ack) = self.conn.poll_transmit(self.now, &mut self.scratch) {
            assert!(ack.payload.is_empty() && ack.flags == TcpFlags::ACK, "only ACKs expected");
            let edge = ack.ack + (u32::from(ack.window) << self.shift);
            // RFC 7323 §2.4: the advertised edge may fall short of the one offered only by
            // less than one unit of the scale.
            assert!(
                edge + unit > self.max_edge,
                "the right edge moved left by a unit or more: {edge} after {}",
                self.max_edge
            );
            self.latest_edge = edge;
            self.latest_field = ack.window;
            if edge > self.max_edge {
                self.max_edge = edge;
            }
        }
    }

    /// The peer sends segments of the sizes `sizes` yields, as far as any ACK allowed,
    /// cutting the last one at the edge, until the window is closed; delayed ACKs are let
    /// fire. Returns the number of segments sent.
    fn fill(&mut self, mut sizes: impl FnMut() -> usize) -> usize {
        let mut segments = 0;
        for _ in 0..1_000_000 {
            let allowed = seq_len(self.peer_nxt, self.max_edge) as usize;
            if allowed == 0 {
                // An ACK may still be owed (delayed): let its timer fire.
                match self.conn.poll_timeout() {
                    Some(at) if self.conn.timers().is_armed(TimerKind::DelayedAck) => {
                        self.now = at;
                        self.conn.handle_timeout(at);
                        self.drain();
                        continue;
                    }
                    _ => return segments,
                }
            }
            let len = sizes().clamp(1, 65_000).min(allowed);
            let payload = pattern_bytes(self.sent, len);
            let at = self.now + Duration::from_micros(100);
            self.segment(&payload, at);
            segments += 1;
        }
        panic!("the window never closed");
    }

    /// What a receiver that never read must show at the end: every byte offered was taken
    /// (none dropped), within the buffer, and the last ACK closes the window.
    fn check_closed(&self, limit: u32) {
        let stats = self.conn.stats();
        assert_eq!(stats.dropped_total(), 0, "segments dropped: {stats:?}");
        assert_eq!(self.conn.recv_queue() as u64, self.sent, "every byte sent is held");
        assert!(self.sent <= u64::from(limit), "{} bytes held in a {limit}-byte buffer", self.sent);
        assert!(
            seq_len(self.start, self.max_edge) <= limit,
            "offered {} bytes with a {limit}-byte buffer",
            seq_len(self.start, self.max_edge)
        );
        assert_eq!(self.latest_field, 0, "the last ACK still shows an open window");
        assert_eq!(self.peer_nxt, self.max_edge, "the peer filled everything offered");
    }
}

#[test]
fn s19_unread_receiver_with_window_scaling_takes_every_offered_byte_of_1448_byte_segments() {
    // 200,000 bytes is not a multiple of 128 (shift 7, the default for rmem.max 6 MiB), and
    // 1448-byte segments move RCV.NXT off every 128-byte boundary.
    let limit = 200_000;
    let mut r = Receiver::new(limit, 6 << 20);
    assert_eq!(r.shift, 7);
    let segments = r.fill(|| 1448);
    assert!(segments > 100);
    r.check_closed(limit);
}

#[test]
fn s19_unread_receiver_with_window_scaling_takes_every_offered_byte_of_odd_sized_segments() {
    let limit = 100_003;
    let mut r = Receiver::new(limit, 6 << 20);
    let sizes = [1usize, 7, 333, 1001, 1447, 99, 3];
    let mut i = 0;
    r.fill(|| {
        i += 1;
        sizes[i % sizes.len()]
    });
    r.check_closed(limit);
}

#[test]
fn s19_one_byte_segments_do_not_creep_the_window_past_the_buffer() {
    // One byte per segment is the worst case for rounding up: each ACK could move the edge a
    // whole unit (16 KiB at shift 14) for one byte received.
    let limit = 70_000;
    let mut r = Receiver::new(limit, 1 << 30);
    assert_eq!(r.shift, 14);
    r.fill(|| 1);
    r.check_closed(limit);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn s19_window_scaling_never_offers_what_the_buffer_cannot_take(
        limit in 1_000u32..400_000,
        shift in 0u32..=14,
        sizes in proptest::collection::vec(1usize..3_000, 1..16),
    ) {
        // rmem.max picks the shift: the smallest one that can advertise it.
        let rmem_max = if shift == 0 { 65_535 } else { (65_535u32 << (shift - 1)) + 1 };
        let limit = limit.min(rmem_max);
        let mut r = Receiver::new(limit, rmem_max);
        prop_assert_eq!(u32::from(r.shift), shift);
        let mut i = 0;
        r.fill(|| {
            i += 1;
            sizes[i % sizes.len()]
        });
        r.check_closed(limit);
    }
}

#[test]
fn tcp_info_counts_time_limited_by_the_peers_window_and_busy_time_as_linux() {
    // packetdrill's tcp-info-rwnd-limited (Linux's chronographs, `tcp_chrono_start` and
    // `tcp_chrono_stop`): busy time runs while data is queued or in flight; the window-limited
    // time while the peer's window keeps queued data back, here a zero window for 0.2 s and a
    // 10-byte one (less than a segment, which sender SWS avoidance does not send) for 0.1 s.
    let mut s = Script::client(cfg());
    s.run(
        "
        0     > S 0:0(0)
        +0.01 < S. 0:0(0) ack 1 win 0 <mss 1000,sackOK>
        +0    > . 1:1(0) ack 1
        ",
    );
    let ms = |n: u64| Duration::from_millis(n);
    assert_eq!(s.conn.chrono_stats(secs(0.01)), crate::ChronoStats::default());
    s.send(1000);
    s.done();
    assert_eq!(s.conn.chrono_stats(secs(0.11)).rwnd_limited, ms(100));
    s.run(
        "
        0.21  < . 1:1(0) ack 1 win 2000
        +0    > P. 1:1001(1000) ack 1
        ",
    );
    assert_eq!(s.conn.chrono_stats(secs(0.21)).rwnd_limited, ms(200));
    s.run("0.24  < . 1:1(0) ack 1001 win 10");
    s.send(1000);
    s.run(
        "
        0.34  < . 1:1(0) ack 1001 win 2000
        +0    > P. 1001:2001(1000) ack 1
        ",
    );
    let c = s.conn.chrono_stats(secs(0.34));
    assert_eq!((c.rwnd_limited, c.busy, c.sndbuf_limited), (ms(300), ms(330), ms(0)));
    s.run("0.36  < . 1:1(0) ack 2001 win 2000");
    s.done();
    // Nothing queued or in flight since 0.36 s: busy time stops there.
    assert_eq!(s.conn.chrono_stats(secs(1.0)).busy, ms(350));
}
