//! `TCP_DEFER_ACCEPT` in a passive connection (SPEC S7), as Linux does it.
//!
//! The listener's option is a number of SYN-ACK retransmissions (Linux converts the seconds
//! given to `setsockopt` with `secs_to_retrans`, [`crate::tfo`]'s neighbour
//! [`secs_to_retrans`]). While fewer SYN-ACK timeouts than that have passed, a bare final ACK
//! (no data, no FIN) does not complete the handshake: it is dropped and remembered (Linux
//! `tcp_check_req`: "While TCP_DEFER_ACCEPT is active, drop bare ACK", counted as
//! `TCPDeferAcceptDrop`), and the connection stays in SYN-RECEIVED, out of the accept queue.
//! The first segment with data completes it, so `accept` returns a connection with data to
//! read.
//!
//! The SYN-ACK timer keeps running. Once the peer has acknowledged, the SYN-ACK is not sent
//! again at each timeout, except on the last one of the period, which gives the peer a last
//! chance: its answer, a bare ACK, then completes the connection anyway. The request expires
//! once both `synack_retries` timeouts and the period have passed (Linux `syn_ack_recalc`).

use super::{Conn, ConnError};
use crate::Instant;

/// The deferral state of a connection in SYN-RECEIVED.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Defer {
    /// SYN-ACK timeouts during which bare ACKs are dropped (0: not deferred).
    pub(super) retrans: u8,
    /// The peer acknowledged our SYN-ACK with a bare ACK (Linux `inet_rsk(req)->acked`).
    pub(super) acked: bool,
    /// SYN-ACK timeouts so far (Linux `req->num_timeout`).
    pub(super) timeouts: u32,
}

/// Linux `secs_to_retrans`: how many SYN-ACK retransmissions, from a timeout of `initial`
/// seconds doubling up to `max` seconds, it takes to cover `secs` seconds (0 for 0 or less,
/// at most 255).
pub fn secs_to_retrans(secs: i64, initial: u32, max: u32) -> u8 {
    if secs <= 0 {
        return 0;
    }
    let mut res = 1u8;
    let mut timeout = i64::from(initial);
    let mut period = timeout;
    while secs > period && res < 255 {
        res += 1;
        timeout = (timeout << 1).min(i64::from(max));
        period += timeout;
    }
    res
}

/// Linux `retrans_to_secs`: the seconds `retrans` retransmissions cover (what `getsockopt`
/// returns for `TCP_DEFER_ACCEPT`).
pub fn retrans_to_secs(retrans: u8, initial: u32, max: u32) -> u32 {
    if retrans == 0 {
        return 0;
    }
    let mut timeout = initial;
    let mut period = timeout;
    for _ in 1..retrans {
        timeout = (timeout << 1).min(max);
        period += timeout;
    }
    period
}

impl Conn {
    /// Defers the completion of this passive connection until data arrives, for at most
    /// `retrans` SYN-ACK timeouts (the listener's `TCP_DEFER_ACCEPT`, converted with
    /// [`secs_to_retrans`]). Call it right after [`Conn::accept`]; 0 leaves it off.
    pub fn set_defer_accept(&mut self, retrans: u8) {
        self.defer.retrans = retrans;
    }

    /// Whether the host should expect this connection to drop `seg`, a final ACK, as a bare
    /// ACK of a deferred handshake (no data, no FIN, within the period): such an ACK is not
    /// the completion of the handshake, so a full accept queue does not matter for it.
    pub fn defers_final_ack(&self, seg: &ustack_wire::TcpRepr<'_>) -> bool {
        matches!(self.state, super::State::SynReceived { passive: true }) && self.defers(seg)
    }

    /// Whether `seg`, an acceptable final ACK, is a bare ACK to drop while deferring: no data
    /// and no FIN (Linux: `end_seq == rcv_isn + 1`) within the deferral period.
    pub(super) fn defers(&self, seg: &ustack_wire::TcpRepr<'_>) -> bool {
        self.defer.timeouts < u32::from(self.defer.retrans)
            && seg.seq + seg.segment_len() == self.rcv.irs + 1u32
    }

    /// The SYN-ACK timer of a deferred connection expired (Linux `reqsk_timer_handler` with
    /// `syn_ack_recalc`): expire it, or send the SYN-ACK again, or only count the timeout.
    /// Returns whether the SYN-ACK goes again.
    pub(super) fn on_deferred_synack_timeout(&mut self, _now: Instant) -> bool {
        let n = self.defer.timeouts;
        let defer = u32::from(self.defer.retrans);
        let expire = n >= self.cfg.synack_retries && (!self.defer.acked || n >= defer);
        if expire {
            self.close_with(Some(ConnError::TimedOut));
            return false;
        }
        // "Do not resend while waiting for data after ACK, start to resend on end of
        // deferring period to give last chance for data or ACK to create established socket."
        let resend = !self.defer.acked || n + 1 >= defer;
        self.defer.timeouts += 1;
        resend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s7_seconds_to_retransmissions_as_linux() {
        // TCP_TIMEOUT_INIT 1 s, TCP_RTO_MAX 120 s: 1, 3, 7, 15, 31, 63, 127, 247, ... s.
        let r = |s| secs_to_retrans(s, 1, 120);
        assert_eq!(
            [r(-1), r(0), r(1), r(2), r(3), r(4), r(7), r(8), r(30), r(31), r(32)],
            [0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 6]
        );
        assert_eq!(r(127), 7);
        assert_eq!(r(128), 8);
        assert_eq!(r(i64::from(i32::MAX)), 255);
        let s = |n| retrans_to_secs(n, 1, 120);
        assert_eq!([s(0), s(1), s(2), s(3), s(5), s(7), s(8)], [0, 1, 3, 7, 31, 127, 247]);
        // getsockopt gives back the period the retransmissions cover.
        assert_eq!(s(r(5)), 7);
    }
}
