//! The sending half of a connection (RFC 9293 §3.3.1, §3.8): the send sequence space and
//! buffer, and the state retransmission and loss recovery keep. `ack.rs` takes the ACKs that
//! arrive; what to send next is `output.rs`'s.

use ustack_wire::SeqNum;

use super::seq_len;
use crate::{Instant, RingBuffer};

mod ack;
mod chrono;
mod rack;
mod recovery;
mod scoreboard;

pub use chrono::ChronoStats;
pub(super) use chrono::{Chrono, ChronoKind};
pub(super) use rack::Rack;
pub(super) use recovery::{Phase, Prr, RtxTimer, Undo};
pub(super) use scoreboard::{Mark, Scoreboard};

/// The sending half of a connection: the send sequence space (RFC 9293 §3.3.1), the send
/// buffer, and what retransmission and loss recovery keep.
#[derive(Debug)]
pub(super) struct Sender {
    pub(super) iss: SeqNum,
    /// Oldest unacknowledged sequence number.
    pub(super) una: SeqNum,
    /// Next sequence number of new data (SND.NXT): `max` once the SYN is out. Only the SYN
    /// is ever sent again by moving it back; data is retransmitted from the scoreboard.
    pub(super) nxt: SeqNum,
    /// One past the highest sequence number ever sent (SND.MAX).
    pub(super) max: SeqNum,
    /// Peer's window, scaled, relative to `una`.
    pub(super) wnd: u32,
    /// The largest window the peer has advertised (RFC 5961 §5.2 MAX.SND.WND; sender SWS).
    pub(super) max_wnd: u32,
    pub(super) wl1: SeqNum,
    pub(super) wl2: SeqNum,
    /// The segment size the peer accepts (its MSS option, within our path), before options.
    pub(super) mss: u16,
    /// Shift applied to the windows the peer advertises (RFC 7323 §2.3).
    pub(super) wscale: u8,
    /// Bytes from the first unacknowledged data byte on: offset 0 is `data_start()`.
    pub(super) buf: RingBuffer,
    /// Sequence number of our FIN once the application closed its side.
    pub(super) fin: Option<SeqNum>,
    /// Whether our SYN has been acknowledged. A flag, not `una != iss`: sequence numbers
    /// wrap, and after 2^32 bytes `una` (and `nxt`) come round to `iss` again.
    pub(super) syn_acked: bool,
    /// The segments in flight, with the SACK scoreboard (`scoreboard.rs`).
    pub(super) sb: Scoreboard,
    /// Where loss recovery stands (`recovery.rs`).
    pub(super) phase: Phase,
    /// RFC 6582 `recover`: one past the highest sequence number sent when recovery (or the
    /// timeout) began; recovery ends once SND.UNA passes it.
    pub(super) recover: SeqNum,
    /// With `prr` off (RFC 5681 fast recovery): retransmit the first lost segment once,
    /// whatever the windows say (RFC 5681 §3.2 step 3, RFC 6582 §3.2 step 3).
    pub(super) rtx_now: bool,
    /// Window inflation during RFC 5681 fast recovery (`prr` off), on top of `cc.window()`.
    pub(super) inflation: i64,
    /// Proportional Rate Reduction's counters during recovery (RFC 6937).
    pub(super) prr: Prr,
    /// RACK's state (RFC 8985).
    pub(super) rack: Rack,
    /// The reordering degree in segments (Linux `tp->reordering`): starts at
    /// `TcpConfig::reordering`, raised when SACKs show deeper reordering
    /// (`tcp_check_sack_reordering`), up to `max_reordering`.
    pub(super) reordering: u32,
    /// Times reordering was seen (Linux `reord_seen`, `tcpi_reord_seen`).
    pub(super) reord_seen: u32,
    /// Busy, window-limited and buffer-limited time (`chrono.rs`).
    pub(super) chrono: Chrono,
    /// A `send` queued data with nothing unsent before it: busy time starts at the next
    /// `poll_transmit` (the same instant: `send` has no clock).
    pub(super) busy_pending: bool,
    /// The PTO fired: the next transmission is a tail loss probe (`output.rs`).
    pub(super) tlp_pending: bool,
    /// The tail loss probe in flight, if any: SND.NXT when it was sent, and whether it was a
    /// retransmission (RFC 8985 §7.4, Linux `tlp_high_seq`).
    pub(super) tlp: Option<(SeqNum, bool)>,
    /// What to restore if the last reduction proves spurious (`recovery.rs`). Boxed: only a
    /// connection in or after a loss episode holds one (96 bytes).
    pub(super) undo: Option<Box<Undo>>,
    /// What the retransmission timer is armed for: RTO, tail loss probe or RACK's
    /// reordering timeout (Linux multiplexes the three the same way).
    pub(super) rtx_timer: RtxTimer,
    /// Duplicate ACKs in a row (RFC 5681 §2); without SACK they stand for segments that
    /// arrived (Linux's "reno" `sacked_out`).
    pub(super) dupacks: u32,
    /// Segments reported duplicate by D-SACKs taken so far (Linux `dsack_dups`): never more
    /// than the retransmissions sent, or the D-SACK is dubious and ignored.
    pub(super) dsack_dups: u64,
    /// One segment timed for an RTT sample when timestamps are off (Karn): its end and when
    /// it was sent.
    pub(super) timed: Option<(SeqNum, Instant)>,
    /// The smallest RTT sample seen (RACK's min_RTT).
    pub(super) min_rtt: Option<core::time::Duration>,
    /// Consecutive RTO expirations without progress.
    pub(super) rto_retries: u32,
    /// When the oldest unacknowledged segment was first sent, once it had to be retransmitted
    /// (Linux's `retrans_stamp`): the base of the `retries2` deadline.
    pub(super) retrans_stamp: Option<Instant>,
    /// Our TSval when the retransmission timer last expired: echoes older than it are not
    /// RTT samples (see `take_rtt_sample`).
    pub(super) rto_tsval: Option<u32>,
    /// Whether the SYN (or SYN-ACK) had to be retransmitted (RFC 6298 (5.7)).
    pub(super) syn_retransmitted: bool,
    pub(super) persist_backoff: u32,
    /// Window probes sent since the peer last acknowledged anything, and when the first of
    /// them went (Linux `icsk_probes_out`, `icsk_probes_tstamp`).
    pub(super) probes_out: u32,
    pub(super) probes_since: Option<Instant>,
    pub(super) last_send: Instant,
    /// End of the last segment sent shorter than the MSS (Linux's `snd_sml`, for Nagle).
    pub(super) sml: SeqNum,
    /// The segment size black-hole detection allows (`mtu_probing`, see `timers.rs`), once
    /// it has found one; Linux's `icsk_mtup.search_low` as an MSS.
    pub(super) black_hole_mss: Option<u16>,
    /// The largest pipe since `pipe_mark` was acknowledged (was the sender cwnd-limited?).
    pub(super) max_pipe: u32,
    pub(super) pipe_mark: SeqNum,
}

impl Sender {
    /// The sequence number of the first unacknowledged data byte (past the SYN).
    ///
    /// Never a sequence-space `max` with the ISS: comparisons are only valid within 2^31 of
    /// each other, and SND.UNA leaves the ISS that far behind after 2 GiB.
    pub(super) fn data_start(&self) -> SeqNum {
        if self.syn_acked { self.una } else { self.iss + 1u32 }
    }

    /// Whether the SYN (or SYN-ACK) is the next segment to send: at the start, or after its
    /// retransmission timer pulled SND.NXT back to the ISS.
    pub(super) fn syn_owed(&self) -> bool {
        !self.syn_acked && self.nxt == self.iss
    }

    /// The SYN (or SYN-ACK) goes again next: SND.NXT back at the ISS. A FIN sent after a
    /// SYN-ACK (CLOSE in SYN-RECEIVED) follows it again, so it leaves the queue.
    pub(super) fn rewind_to_syn(&mut self) {
        self.nxt = self.iss;
        self.sb = Scoreboard::default();
    }

    /// One past the last byte buffered.
    pub(super) fn data_end(&self) -> SeqNum {
        self.data_start() + self.buf.len()
    }

    /// Bytes sent and not yet acknowledged, SYN and FIN included (RFC 5681 FlightSize).
    pub(super) fn flight(&self) -> u32 {
        seq_len(self.una, self.max)
    }

    /// Bytes in flight (RFC 6675 `pipe`): sent, neither SACKed nor deemed lost.
    pub(super) fn pipe(&self) -> u32 {
        self.sb.pipe()
    }

    /// Whether our FIN has been sent and acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin.is_some_and(|f| self.una == f + 1u32)
    }
}
