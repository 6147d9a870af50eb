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
    /// RACK's state (RFC 8985).
    pub(super) rack: Rack,
    /// The reordering degree in segments (Linux `tp->reordering`): starts at
    /// `TcpConfig::reordering`, raised when SACKs show deeper reordering
    /// (`tcp_check_sack_reordering`), up to `max_reordering`.
    pub(super) reordering: u32,
    /// Busy, window-limited and buffer-limited time (`chrono.rs`).
    pub(super) chrono: Chrono,
    /// A `send` queued data with nothing unsent before it: busy time starts at the next
    /// `poll_transmit` (the same instant: `send` has no clock).
    pub(super) busy_pending: bool,
    /// What to restore if the last reduction proves spurious (`recovery.rs`). Boxed: only a
    /// connection in or after a loss episode holds one (96 bytes).
    pub(super) undo: Option<Box<Undo>>,
    /// What the retransmission timer is armed for: RTO, tail loss probe or RACK's
    /// reordering timeout (Linux multiplexes the three the same way).
    pub(super) rtx_timer: RtxTimer,
    /// The smallest RTT sample seen (RACK's min_RTT).
    pub(super) min_rtt: Option<crate::time::Nanos>,
    /// Whether the SYN (or SYN-ACK) had to be retransmitted (RFC 6298 (5.7)).
    pub(super) syn_retransmitted: bool,
    pub(super) last_send: Instant,
    /// End of the last segment sent shorter than the MSS (Linux's `snd_sml`, for Nagle).
    pub(super) sml: SeqNum,
    /// The largest pipe since `pipe_mark` was acknowledged (was the sender cwnd-limited?).
    pub(super) max_pipe: u32,
    pub(super) pipe_mark: SeqNum,
    /// One segment timed for an RTT sample when timestamps are off (Karn): its end and,
    /// when one is timed, when it was sent (`timed`; two fields, so that the sequence
    /// number packs with the other 4-byte fields: 12 bytes where the pair takes 16).
    pub(super) timed_end: SeqNum,
    pub(super) timed_at: Option<Instant>,
    /// What loss recovery, timeouts and window probes keep (`Loss`): boxed, allocated when
    /// any of it leaves its resting value and freed by the idle release once all of it is
    /// back there; `None` reads as [`Loss::RESTING`].
    pub(super) loss: Option<Box<Loss>>,
}

/// What loss recovery (RFC 5681, RFC 6582, RFC 6937, RFC 8985's tail loss probe),
/// retransmission timeouts and window probes keep, with the counters of the rare events
/// that go with them. All of it rests at zero or `None` ([`Loss::RESTING`]) on a connection
/// that has lost nothing and is not probing, which is what most connections are most of the
/// time; the sender allocates it when a field leaves that value ([`Sender::loss_mut`]) and
/// the idle release frees it once every field is back ([`Sender::release_loss`]), so a
/// freed one reads exactly as the values it held. Some never go back: a connection that
/// had a retransmission timeout (`rto_tsval`), found a black hole or counted reordering or
/// D-SACKed retransmissions keeps its box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Loss {
    /// With `prr` off (RFC 5681 fast recovery): retransmit the first lost segment once,
    /// whatever the windows say (RFC 5681 §3.2 step 3, RFC 6582 §3.2 step 3).
    pub(in crate::conn) rtx_now: bool,
    /// Window inflation during RFC 5681 fast recovery (`prr` off), on top of `cc.window()`.
    pub(in crate::conn) inflation: i64,
    /// Proportional Rate Reduction's counters during recovery (RFC 6937).
    pub(in crate::conn) prr: Prr,
    /// Times reordering was seen (Linux `reord_seen`, `tcpi_reord_seen`).
    pub(in crate::conn) reord_seen: u32,
    /// The PTO fired: the next transmission is a tail loss probe (`output.rs`).
    pub(in crate::conn) tlp_pending: bool,
    /// The tail loss probe in flight, if any: SND.NXT when it was sent, and whether it was a
    /// retransmission (RFC 8985 §7.4, Linux `tlp_high_seq`).
    pub(in crate::conn) tlp: Option<(SeqNum, bool)>,
    /// Duplicate ACKs in a row (RFC 5681 §2); without SACK they stand for segments that
    /// arrived (Linux's "reno" `sacked_out`).
    pub(in crate::conn) dupacks: u32,
    /// Segments reported duplicate by D-SACKs taken so far (Linux `dsack_dups`): never more
    /// than the retransmissions sent, or the D-SACK is dubious and ignored.
    pub(in crate::conn) dsack_dups: u64,
    /// Consecutive RTO expirations without progress.
    pub(in crate::conn) rto_retries: u32,
    /// When the oldest unacknowledged segment was first sent, once it had to be retransmitted
    /// (Linux's `retrans_stamp`): the base of the `retries2` deadline.
    pub(in crate::conn) retrans_stamp: Option<Instant>,
    /// Our TSval when the retransmission timer last expired: echoes older than it are not
    /// RTT samples (see `take_rtt_sample`).
    pub(in crate::conn) rto_tsval: Option<u32>,
    /// Doublings of the persist timer since the peer last opened its window.
    pub(in crate::conn) persist_backoff: u32,
    /// Window probes sent since the peer last acknowledged anything, and when the first of
    /// them went (Linux `icsk_probes_out`, `icsk_probes_tstamp`).
    pub(in crate::conn) probes_out: u32,
    pub(in crate::conn) probes_since: Option<Instant>,
    /// The segment size black-hole detection allows (`mtu_probing`, see `timers.rs`), once
    /// it has found one; Linux's `icsk_mtup.search_low` as an MSS.
    pub(in crate::conn) black_hole_mss: Option<u16>,
}

impl Loss {
    /// Nothing lost, nothing being probed.
    pub(super) const RESTING: Loss = Loss {
        rtx_now: false,
        inflation: 0,
        prr: Prr { prior_cwnd: 0, delivered: 0, out: 0, cwnd: 0 },
        tlp_pending: false,
        tlp: None,
        dupacks: 0,
        dsack_dups: 0,
        rto_retries: 0,
        retrans_stamp: None,
        rto_tsval: None,
        persist_backoff: 0,
        probes_out: 0,
        probes_since: None,
        black_hole_mss: None,
        reord_seen: 0,
    };
}

/// The loss state of a sender that holds none.
static RESTING: Loss = Loss::RESTING;

impl Sender {
    /// The segment timed for an RTT sample, if any: its end and when it was sent.
    pub(super) fn timed(&self) -> Option<(SeqNum, Instant)> {
        self.timed_at.map(|at| (self.timed_end, at))
    }

    pub(super) fn set_timed(&mut self, timed: Option<(SeqNum, Instant)>) {
        if let Some((end, _)) = timed {
            self.timed_end = end;
        }
        self.timed_at = timed.map(|(_, at)| at);
    }

    /// The loss state ([`Loss`]).
    pub(super) fn loss(&self) -> &Loss {
        self.loss.as_deref().unwrap_or(&RESTING)
    }

    /// The loss state, to change: allocated if the sender held none.
    pub(super) fn loss_mut(&mut self) -> &mut Loss {
        self.loss.get_or_insert_with(|| Box::new(Loss::RESTING))
    }

    /// The loss state to put back to rest, if the sender holds one (none is at rest).
    pub(super) fn loss_held(&mut self) -> Option<&mut Loss> {
        self.loss.as_deref_mut()
    }

    /// Frees the loss state if every field is at rest (the idle release, `idle.rs`). Out of
    /// recovery, PRR's counters are dead (read only in the CWR and recovery phases, set
    /// afresh on entering either from the open phase), so they count as at rest.
    pub(super) fn release_loss(&mut self) {
        let Some(l) = self.loss.as_deref_mut() else { return };
        if self.phase == Phase::Open {
            l.prr = Prr::default();
        }
        if *l == Loss::RESTING {
            self.loss = None;
        }
    }

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
