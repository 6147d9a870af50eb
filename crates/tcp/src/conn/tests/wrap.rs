//! Sequence numbers across the wraps (RFC 9293 §3.4, RFC 1982): a connection must work the
//! same after 2 GiB and 4 GiB as in its first second.
//!
//! Sequence space is compared modulo 2^32, and such a comparison is meaningful only between
//! numbers less than 2^31 apart. A reference that stays behind while the connection moves on
//! (the ISS, a recovery point, the end of the last small segment) reads as *ahead* of SND.UNA
//! once 2^31 more bytes have gone by. So every path here runs twice: in the first megabytes,
//! and again past 2^31 bytes, where any such stale reference has turned around. The ISS is
//! placed just below 2^32 in one test and just below 2^31 in the other, so each run also
//! carries the raw numbers across 0 and across 2^31 in the middle of its paths.
//!
//! Two connections joined by a link with a fixed delay, in virtual time. Segments carry 64 KiB
//! (MTU 65535) so 2 GiB is about 33,000 segments; the bytes are checked at the receiver
//! against a repeating pattern whose period (a prime) never lines up with a segment.

use std::collections::{BTreeSet, VecDeque};

use super::*;
use crate::BufferSizes;

const WRAP_MTU: u16 = 65_535;
/// The stream's pattern repeats every this many bytes.
const PERIOD: usize = 65_521;
/// The largest write or read, in bytes.
const CHUNK: usize = 1 << 20;
const DELAY: Duration = Duration::from_millis(1);
/// The receiver's ISS: its FIN crosses 2^32.
const SERVER_ISS: SeqNum = SeqNum(u32::MAX - 1);

/// `pattern` repeated, long enough that any `CHUNK` from any offset is one slice.
fn stream_table() -> Vec<u8> {
    (0..PERIOD + CHUNK).map(|i| pattern((i % PERIOD) as u64)).collect()
}

struct Flight {
    arrives: Instant,
    seg: TcpRepr<'static>,
    payload: Vec<u8>,
}

/// What happened to the sender, as its trace shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rtx {
    at: Instant,
    reason: RetransmitReason,
    /// Stream offset of the first byte.
    offset: u64,
}

struct WrapPair {
    now: Instant,
    cfg: TcpConfig,
    client_iss: SeqNum,
    client: Conn,
    server: Option<Conn>,
    to_server: VecDeque<Flight>,
    to_client: VecDeque<Flight>,
    scratch: Vec<u8>,
    table: Vec<u8>,
    read_buf: Vec<u8>,
    /// The client application writes up to this stream offset.
    write_limit: u64,
    written: u64,
    read: u64,
    /// Whether the server application reads.
    reading: bool,
    /// Stream offsets whose data segment is dropped the first time it is sent.
    drop_at: BTreeSet<u64>,
    dropped: Vec<u64>,
    rtx: Vec<Rtx>,
    /// Data segments the client sent: (when, offset, length).
    data_sent: Vec<(Instant, u64, u32)>,
    server_eof: bool,
    /// When set, the client writes whole segments of this size only.
    whole_segments: Option<usize>,
}

impl WrapPair {
    fn new(client_iss: SeqNum) -> WrapPair {
        let buffers = BufferSizes { min: 4096, default: 8 << 20, max: 8 << 20 };
        let cfg = TcpConfig { rmem: buffers, wmem: buffers, ..TcpConfig::default() };
        let mut client = Conn::connect(
            Instant::ZERO,
            cfg,
            tuple(),
            client_iss,
            WRAP_MTU,
            Conn::default_cc(&cfg),
        );
        client.set_tracing(true);
        WrapPair {
            now: Instant::ZERO,
            cfg,
            client_iss,
            client,
            server: None,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            scratch: vec![0; 65_536],
            table: stream_table(),
            read_buf: vec![0; CHUNK],
            write_limit: 0,
            written: 0,
            read: 0,
            reading: true,
            drop_at: BTreeSet::new(),
            dropped: Vec::new(),
            rtx: Vec::new(),
            data_sent: Vec::new(),
            server_eof: false,
            whole_segments: None,
        }
    }

    /// The stream offset of a client sequence number (the stream stays below 4 GiB).
    fn offset(&self, seq: SeqNum) -> u64 {
        u64::from(seq.get().wrapping_sub(self.client_iss.get().wrapping_add(1)))
    }

    fn server(&mut self) -> &mut Conn {
        self.server.as_mut().expect("the server connection")
    }

    fn apps(&mut self) {
        while self.written < self.write_limit {
            let from = (self.written % PERIOD as u64) as usize;
            let mut n = (self.write_limit - self.written).min(CHUNK as u64) as usize;
            if let Some(unit) = self.whole_segments {
                // Whole segments only, and only when they fit: the sender never has a
                // partial segment to send.
                n -= n % unit;
                if n == 0 || self.client.send_capacity() < n {
                    break;
                }
            }
            match self.client.send(&self.table[from..from + n]) {
                Ok(taken) => self.written += taken as u64,
                Err(_) => break,
            }
        }
        let Some(server) = self.server.as_mut() else { return };
        while self.reading {
            match server.recv(&mut self.read_buf) {
                Ok(0) => {
                    self.server_eof = true;
                    break;
                }
                Ok(n) => {
                    let from = (self.read % PERIOD as u64) as usize;
                    assert!(
                        self.read_buf[..n] == self.table[from..from + n],
                        "bytes {}..{} differ from the stream's",
                        self.read,
                        self.read + n as u64
                    );
                    self.read += n as u64;
                }
                Err(_) => break,
            }
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        while let Some(seg) = self.client.poll_transmit(now, &mut self.scratch) {
            let payload = seg.payload.to_vec();
            let seg = TcpRepr { payload: &[], ..seg };
            if !payload.is_empty() {
                let offset = self.offset(seg.seq);
                let end = offset + payload.len() as u64;
                self.data_sent.push((now, offset, payload.len() as u32));
                if let Some(&x) = self.drop_at.range(offset..end).next() {
                    self.drop_at.remove(&x);
                    self.dropped.push(x);
                    continue;
                }
            }
            self.to_server.push_back(Flight { arrives: now + DELAY, seg, payload });
        }
        while let Some(event) = self.client.poll_event() {
            if let Event::Retransmit { reason, seq, .. } = event {
                let offset = self.offset(seq);
                self.rtx.push(Rtx { at: now, reason, offset });
            }
        }
        if let Some(server) = self.server.as_mut() {
            while let Some(seg) = server.poll_transmit(now, &mut self.scratch) {
                let payload = seg.payload.to_vec();
                let seg = TcpRepr { payload: &[], ..seg };
                self.to_client.push_back(Flight { arrives: now + DELAY, seg, payload });
            }
            while server.poll_event().is_some() {}
        }
    }

    /// Hands every segment due by now to its connection, one at a time, each followed by
    /// what the connections send in answer (as a host that polls after every packet).
    fn deliver(&mut self) {
        let now = self.now;
        while self.to_server.front().is_some_and(|f| f.arrives <= now) {
            let f = self.to_server.pop_front().expect("a segment");
            let seg = TcpRepr { payload: &f.payload, ..f.seg };
            match self.server.as_mut() {
                Some(server) => server.handle_segment(now, &seg),
                None => {
                    let cc = Conn::default_cc(&self.cfg);
                    let tuple = FourTuple { local: tuple().remote, remote: tuple().local };
                    let conn = Conn::accept(now, self.cfg, tuple, SERVER_ISS, WRAP_MTU, &seg, cc);
                    self.server = Some(conn);
                }
            }
            self.flush();
        }
        while self.to_client.front().is_some_and(|f| f.arrives <= now) {
            let f = self.to_client.pop_front().expect("a segment");
            let seg = TcpRepr { payload: &f.payload, ..f.seg };
            self.client.handle_segment(now, &seg);
            self.flush();
        }
    }

    /// Runs until `done` holds after a step, or nothing is left to happen, or virtual time
    /// passes `until`. Returns whether `done` held.
    fn run_until(&mut self, until: Instant, mut done: impl FnMut(&WrapPair) -> bool) -> bool {
        for _ in 0..2_000_000 {
            self.apps();
            self.flush();
            if done(self) {
                return true;
            }
            let arrivals = [self.to_server.front(), self.to_client.front()];
            let timers =
                [self.client.poll_timeout(), self.server.as_ref().and_then(Conn::poll_timeout)];
            let next = arrivals
                .into_iter()
                .flatten()
                .map(|f| f.arrives)
                .chain(timers.into_iter().flatten())
                .min();
            let Some(next) = next.filter(|&t| t <= until) else { return false };
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            if let Some(server) = self.server.as_mut() {
                server.handle_timeout(self.now);
            }
            self.deliver();
        }
        panic!("no end after 2,000,000 steps at {:?}", self.now);
    }

    /// Writes up to `offset` and runs until the receiver has read all of it, within a bound.
    fn transfer_to(&mut self, offset: u64) {
        self.write_limit = offset;
        let until = self.now + Duration::from_secs(600);
        let done = self.run_until(until, |p| p.read >= offset);
        assert!(
            done,
            "stalled at {:?}: {} of {offset} bytes read; client {:?} una {:?}, server {:?}",
            self.now,
            self.read,
            self.client.state(),
            self.client.snd.una,
            self.server.as_ref().map(Conn::state),
        );
    }

    fn retransmissions_since(&self, from: usize) -> &[Rtx] {
        &self.rtx[from..]
    }

    /// The payload the client puts in a full segment.
    fn full_segment(&self) -> u64 {
        u64::from(self.client.effective_mss())
    }

    /// Every path, starting at stream offset `base` (all acknowledged up to it). Nagle comes
    /// first: the end of any other path's transfer is a short segment, which refreshes the
    /// reference it checks.
    fn exercise_every_path(&mut self, base: u64) {
        let mss = self.full_segment();
        assert_eq!(self.read, base);

        // Nagle with Minshall's rule (RFC 9293 §3.7.4, Linux `tcp_minshall_check`): a large
        // write's small tail goes at once when no small segment is unacknowledged (here the
        // last one was sent 2 GiB ago); then, after idle, a small segment goes at once and a
        // second small one waits for its ACK.
        self.run_until(self.now + Duration::from_secs(1), |_| false);
        let start = self.read;
        let sent_before = self.data_sent.len();
        self.write_limit = start + 2 * mss + 100;
        self.apps();
        self.flush();
        let now = self.now;
        let burst: Vec<_> = self.data_sent[sent_before..].to_vec();
        let expected =
            [(now, start, mss as u32), (now, start + mss, mss as u32), (now, start + 2 * mss, 100)];
        assert_eq!(burst, expected, "the tail of a large write must not wait");
        self.transfer_to(start + 2 * mss + 100);
        self.run_until(self.now + Duration::from_secs(1), |_| false);
        let start = self.read;
        let sent_before = self.data_sent.len();
        self.write_limit = start + 100;
        self.apps();
        self.flush();
        self.write_limit = start + 200;
        self.apps();
        self.flush();
        let first_sent = self.now;
        let sent: Vec<_> = self.data_sent[sent_before..].to_vec();
        assert_eq!(sent, [(first_sent, start, 100)], "the second small write must wait");
        self.transfer_to(start + 200);
        let (second_at, second_offset, _) = self.data_sent[sent_before + 1];
        assert_eq!(second_offset, start + 100);
        assert!(second_at >= first_sent + 2 * DELAY, "sent before the first was acknowledged");

        // Fast retransmit (RFC 5681 §3.2): one segment lost in a window of many; the three
        // duplicate ACKs the following ones bring retransmit it at once, no RTO.
        let base = self.read;
        let lost = base + 20 * mss + 5;
        self.drop_at.insert(lost);
        let mark = self.rtx.len();
        self.transfer_to(base + 4 * CHUNK as u64);
        let rtx = self.retransmissions_since(mark);
        assert!(self.dropped.contains(&lost), "the segment at {lost} was not dropped");
        assert_eq!(rtx.len(), 1, "one fast retransmission expected: {rtx:?}");
        assert_eq!(rtx[0].reason, RetransmitReason::FastRetransmit);
        assert!(rtx[0].offset <= lost && lost < rtx[0].offset + mss, "{rtx:?}");

        // NewReno (RFC 6582): three segments lost in one window; the first is fast
        // retransmitted, the others on the partial ACKs, still without an RTO.
        let base2 = self.read;
        let lost: Vec<u64> = [12, 15, 18].iter().map(|k| base2 + k * mss + 1).collect();
        self.drop_at.extend(lost.iter().copied());
        let mark = self.rtx.len();
        self.transfer_to(base2 + 4 * CHUNK as u64);
        let rtx = self.retransmissions_since(mark);
        assert_eq!(rtx.len(), 3, "three repairs expected: {rtx:?}");
        for (r, x) in rtx.iter().zip(&lost) {
            assert_eq!(r.reason, RetransmitReason::FastRetransmit, "{rtx:?}");
            assert!(r.offset <= *x && *x < r.offset + mss, "{x} not repaired by {r:?}");
        }

        // Zero window and persist (RFC 9293 §3.8.6.1, SPEC S19): the receiver stops reading,
        // its window closes, the sender probes with backoff; reading again opens the window
        // (a window update) and the transfer resumes.
        self.reading = false;
        let start = self.read;
        let target = start + 20 * CHUNK as u64;
        self.write_limit = target;
        let mark = self.rtx.len();
        let stop = self.now + Duration::from_secs(20);
        self.run_until(stop, |_| false);
        let probes = self.retransmissions_since(mark);
        assert!(
            probes.len() >= 3 && probes.iter().all(|r| r.reason == RetransmitReason::Probe),
            "zero-window probes expected: {probes:?}"
        );
        assert_eq!(self.client.peer_window(), 0);
        assert_eq!(self.client.state(), TcpState::Established);
        self.reading = true;
        self.transfer_to(target);
    }

    /// The client closes after the last byte; the server reads to the end and closes; both
    /// finish (the client through TIME-WAIT).
    fn close_both(&mut self) {
        let end = self.write_limit;
        self.transfer_to(end);
        self.client.close(self.now);
        let until = self.now + Duration::from_secs(10);
        assert!(self.run_until(until, |p| p.server_eof), "the FIN did not arrive");
        let now = self.now;
        self.server().close(now);
        let until = self.now + Duration::from_secs(200);
        self.run_until(until, |p| {
            p.client.state() == TcpState::Closed
                && p.server.as_ref().is_some_and(|s| s.state() == TcpState::Closed)
        });
        assert_eq!(self.client.state(), TcpState::Closed);
        assert_eq!(self.client.error(), None);
        assert_eq!(self.server().state(), TcpState::Closed);
        assert_eq!(self.server().error(), None);
        assert_eq!(self.read, end);
    }
}

/// Every path in the first megabytes, then again past 2^31 bytes, then the close.
fn every_path_across_the_wraps(client_iss: SeqNum) {
    let mut p = WrapPair::new(client_iss);
    let handshake = p.run_until(secs(1.0), |p| {
        p.client.state() == TcpState::Established
            && p.server.as_ref().is_some_and(|s| s.state() == TcpState::Established)
    });
    assert!(handshake, "no handshake");
    // A first megabyte, so the peer's scaled window replaces the unscaled one of its SYN-ACK.
    p.transfer_to(CHUNK as u64);
    p.exercise_every_path(CHUNK as u64);
    // 2^31 bytes further on, every reference left behind by those paths reads as "ahead".
    // Whole segments only on the way, so nothing (such as a short segment) refreshes the
    // references by chance.
    let mss = p.full_segment();
    let far = p.read + ((1u64 << 31) + 8 * CHUNK as u64).next_multiple_of(mss);
    p.whole_segments = Some(mss as usize);
    p.transfer_to(far);
    p.whole_segments = None;
    p.exercise_every_path(far);
    p.close_both();
    assert!(p.drop_at.is_empty(), "every planned loss happened");
}

#[test]
fn s15_every_path_works_past_2_31_bytes_with_the_iss_just_below_2_32() {
    // The raw numbers wrap to 0 6 MiB in, between the fast retransmit and the NewReno
    // losses; past 2^31 bytes they cross 2^31 there.
    every_path_across_the_wraps(SeqNum(0u32.wrapping_sub(6 << 20)));
}

#[test]
fn s15_every_path_works_past_2_31_bytes_with_the_iss_just_below_2_31() {
    every_path_across_the_wraps(SeqNum((1u32 << 31) - (6 << 20)));
}

#[test]
fn s15_snd_una_back_at_the_iss_after_2_32_bytes_is_not_a_handshake() {
    // 2^32 - 1 data bytes after the SYN bring SND.UNA (and SND.NXT) round to the ISS itself:
    // nothing may take that for "our SYN is unacknowledged" (send a SYN, refuse data).
    let iss = SeqNum(0x1234_5678);
    let mut p = WrapPair::new(iss);
    let handshake = p.run_until(secs(1.0), |p| p.client.state() == TcpState::Established);
    assert!(handshake, "no handshake");
    let around = (1u64 << 32) - 1;
    p.transfer_to(around);
    let idle = p.now + Duration::from_secs(1);
    p.run_until(idle, |_| false);
    assert_eq!((p.client.snd.una, p.client.snd.nxt), (iss, iss));
    let sent_before = p.data_sent.len();
    p.transfer_to(around + 4 * CHUNK as u64);
    assert_eq!(p.data_sent[sent_before].1 as u32, around as u32, "data resumes at the ISS");
    p.close_both();
}
