//! The receiving half of a connection (RFC 9293 §3.3.1, §3.10.7.4 "seventh"): the receive
//! sequence space and buffer, reassembly (`data.rs`), the window we advertise (`window.rs`)
//! and when we acknowledge (`ack.rs`).

use ustack_wire::SeqNum;

use super::seq_len;
use crate::{Assembler, Instant, RingBuffer};

mod ack;
mod data;
mod tune;
mod window;

pub(super) use tune::Tune;

/// The receive sequence space and the receive buffer.
#[derive(Debug)]
pub(super) struct Receiver {
    pub(super) irs: SeqNum,
    pub(super) nxt: SeqNum,
    /// The right edge of the window last advertised: RFC 9293 §3.8.6.2.2, never moved left.
    pub(super) adv_right: SeqNum,
    /// Our window scale shift (0 when scaling is not in effect).
    pub(super) wscale: u8,
    /// The MSS we announce (route MTU − 40).
    pub(super) mss: u16,
    /// The largest payload seen from the peer (Linux's `rcv_mss` estimate), for the
    /// "every second full-sized segment" ACK rule and receiver SWS avoidance.
    pub(super) seg_mss: u16,
    /// Offset 0 is the first unread byte; readable bytes end at `nxt`.
    pub(super) buf: RingBuffer,
    /// What arrived out of order; its range limit follows the buffer size (`tune.rs`).
    pub(super) asm: Assembler,
    /// A duplicate the next ACK reports as its first SACK block (RFC 2883 D-SACK).
    pub(super) dsack: Option<(SeqNum, SeqNum)>,
    /// Receive-buffer autotuning (`tune.rs`).
    pub(super) tune: Tune,
    /// Sequence number of the peer's FIN when it arrived ahead of a hole.
    pub(super) fin: Option<SeqNum>,
    /// The peer's FIN has been processed: `recv` returns 0 once the buffer is drained.
    pub(super) eof: bool,
    /// The out-of-order segment the next ACK's first SACK block must name (RFC 2018 §4).
    pub(super) sack_trigger: Option<(u32, u32)>,
    /// ACKs still to send at once before delaying (quick-ACK mode at the start).
    pub(super) quickacks: u8,
    /// Whether any data has arrived yet (quick-ACK mode starts with the first).
    pub(super) got_data: bool,
    /// The delayed-ACK timeout as Linux adapts it (`icsk_ack.ato`): it starts at
    /// `delack_min`, follows the gaps between arriving segments, grows when a delayed ACK
    /// had to fire, and is capped by `delack_max` when the timer is armed (`ack.rs`).
    pub(super) ato: crate::time::Nanos,
    /// When in-order data last arrived (`icsk_ack.lrcvtime`).
    pub(super) last_data_at: Instant,
    /// Interactive mode (`icsk_ack.pingpong`): data we sent within `ato` of receiving
    /// (a reply) counts up; in it, ACKs wait to ride on the next reply.
    pub(super) pingpong: u8,
    /// RCV.NXT carried by the last ACK sent (RFC 7323 §4.3 Last.ACK.sent).
    pub(super) last_ack_sent: SeqNum,
    /// While [`Conn::handle_segment_summed`](super::Conn::handle_segment_summed) handles a
    /// segment: its payload already sits in the buffer at offset 0, verified.
    pub(super) staged: bool,
}

impl Receiver {
    /// Bytes of window we advertised and the peer may still fill.
    pub(super) fn adv_wnd(&self) -> u32 {
        seq_len(self.nxt, self.adv_right)
    }
}
