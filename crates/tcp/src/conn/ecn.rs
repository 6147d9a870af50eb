//! Explicit Congestion Notification (RFC 3168 §6.1), as Linux runs it (`tcp_ecn_*` in
//! `tcp_input.c` and `tcp_output.c`).
//!
//! - **Negotiation** (§6.1.1). `tcp_ecn` = 1: our SYN carries ECE and CWR (an "ECN-setup
//!   SYN"); with `tcp_ecn_fallback` its retransmissions carry neither, in case the path drops
//!   them. A SYN-ACK with ECE and without CWR completes it. A listener with `tcp_ecn` 1 or 2
//!   answers an ECN-setup SYN (both flags, and not itself ECT: Linux
//!   `tcp_ecn_create_request`) with a SYN-ACK carrying ECE only; a SYN with one of the two
//!   flags is not one.
//! - **Sending** (§6.1.2, Linux `tcp_ecn_send`). Once negotiated, a segment of new data goes
//!   out ECT(0); pure ACKs, retransmissions, window and keepalive probes, SYNs, SYN-ACKs and
//!   RSTs go out Not-ECT (§6.1.1.1, §6.1.5, §6.1.6).
//! - **Receiving CE** (§6.1.3, Linux `tcp_ecn_check_ce`). A data segment marked CE makes
//!   every segment we send carry ECE until a segment with CWR arrives (`TCP_ECN_DEMAND_CWR`);
//!   the first CE of such a period, and a CWR on a data segment, are acknowledged at once
//!   (quick-ACK mode: the sender's window may be small).
//! - **Receiving ECE** (§6.1.2, Linux `tcp_enter_cwr`). An ACK with ECE, outside a recovery,
//!   reduces the window once: ssthresh as the controller computes it for congestion
//!   (`CongestionEvent::Ecn`), the flight brought down by PRR over the next round trip (the
//!   CWR phase), which ends when everything sent before the reduction is acknowledged; ECEs
//!   meanwhile change nothing ("no more than once per window of data"). The next new data
//!   segment carries CWR (`TCP_ECN_QUEUE_CWR`), and so does the first after any other
//!   reduction (fast recovery, a timeout).

use ustack_wire::{TcpFlags, TcpRepr};

use super::Conn;
use crate::Ecn;

/// A connection's ECN state (Linux `tp->ecn_flags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct EcnState {
    /// ECN is in use (`TCP_ECN_OK`); for an active open, offered in our SYN until the SYN-ACK
    /// says otherwise.
    pub(super) ok: bool,
    /// An ECT or CE codepoint arrived on a data segment (`TCP_ECN_SEEN`).
    pub(super) seen: bool,
    /// A CE arrived: set ECE on everything we send until a CWR comes (`TCP_ECN_DEMAND_CWR`).
    pub(super) demand_cwr: bool,
    /// The window was reduced: CWR on the next new data segment (`TCP_ECN_QUEUE_CWR`).
    pub(super) queue_cwr: bool,
    /// `tcp_ecn_fallback`: our SYN has been sent again, without ECE and CWR.
    pub(super) syn_fallback: bool,
}

impl Conn {
    /// Whether ECN is in use on this connection (`ss -i` shows `ecn`; `TCPI_OPT_ECN`).
    pub fn ecn_ok(&self) -> bool {
        self.ecn.ok
    }

    /// Whether an ECT or CE data segment has arrived (`ss -i` shows `ecnseen`;
    /// `TCPI_OPT_ECN_SEEN`).
    pub fn ecn_seen(&self) -> bool {
        self.ecn.seen
    }

    /// The ECE and CWR flags of our SYN: both when `tcp_ecn` is 1 (Linux `tcp_ecn_send_syn`),
    /// none on a retransmission with `tcp_ecn_fallback` (Linux `tcp_ecn_clear_syn`: "RFC3168,
    /// section 6.1.1.1. ECN fallback").
    pub(super) fn ecn_syn_flags(&mut self, retransmission: bool) -> TcpFlags {
        if retransmission && self.cfg.ecn_fallback {
            self.ecn.syn_fallback = true;
        }
        if self.ecn.ok && !self.ecn.syn_fallback {
            TcpFlags::ECE | TcpFlags::CWR
        } else {
            TcpFlags::empty()
        }
    }

    /// The ECE flag of our SYN-ACK (RFC 3168 §6.1.1: "an ECN-setup SYN-ACK packet", ECE set
    /// and CWR clear; Linux `tcp_ecn_make_synack`).
    pub(super) fn ecn_synack_flags(&self) -> TcpFlags {
        if self.ecn.ok { TcpFlags::ECE } else { TcpFlags::empty() }
    }

    /// A listener's SYN (passive open): ECN is in use if we accept it (`tcp_ecn` not 0) and
    /// the SYN is an ECN-setup SYN: ECE and CWR both set (RFC 3168 §6.1.1). The host strips
    /// the flags of a SYN that is itself ECT (Linux refuses it then).
    pub(super) fn ecn_on_passive_syn(&mut self, syn: &TcpRepr<'_>) {
        let setup = syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR);
        self.ecn.ok = self.cfg.ecn != 0 && setup;
    }

    /// The peer's SYN-ACK in SYN-SENT (Linux `tcp_ecn_rcv_synack`): ECN stays on only if it
    /// carries ECE and not CWR (RFC 3168 §6.1.1: "a host MUST NOT set ECT on data packets
    /// unless it has sent at least one ECN-Echo ... and received an ECN-setup SYN-ACK").
    /// A SYN without ACK (simultaneous open) must be an ECN-setup SYN (`tcp_ecn_rcv_syn`).
    pub(super) fn ecn_on_peer_syn(&mut self, seg: &TcpRepr<'_>) {
        let ece = seg.flags.contains(TcpFlags::ECE);
        let cwr = seg.flags.contains(TcpFlags::CWR);
        let keep = if seg.flags.contains(TcpFlags::ACK) { ece && !cwr } else { ece && cwr };
        self.ecn.ok &= keep;
    }

    /// A segment with data (or FIN) arrived in sequence space: its CWR ends our ECE echo
    /// (RFC 3168 §6.1.3; Linux `tcp_ecn_accept_cwr`), and a CWR on data is acknowledged at
    /// once ("its cwnd may be very low").
    pub(super) fn ecn_accept_cwr(&mut self, seg: &TcpRepr<'_>) {
        if self.ecn.ok && seg.flags.contains(TcpFlags::CWR) {
            self.ecn.demand_cwr = false;
            if !seg.payload.is_empty() {
                self.ack_now = true;
            }
        }
    }

    /// A data segment's codepoint (Linux `__tcp_ecn_check_ce`): CE starts the ECE echo and
    /// quick ACKs ("better not delay acks, sender can have a very low cwnd"); ECT marks ECN as
    /// seen; Not-ECT after ECT was seen is "probably a retransmit", answered with quick ACKs.
    pub(super) fn ecn_check_ce(&mut self, ecn: Ecn) {
        if !self.ecn.ok {
            return;
        }
        match ecn {
            Ecn::NotEct => {
                if self.ecn.seen {
                    self.enter_quickack_mode(2);
                }
            }
            Ecn::Ce => {
                self.stats.rare_mut().ce_received += 1;
                if !self.ecn.demand_cwr {
                    self.enter_quickack_mode(2);
                    self.ecn.demand_cwr = true;
                }
                self.ecn.seen = true;
            }
            Ecn::Ect0 | Ecn::Ect1 => self.ecn.seen = true,
        }
    }

    /// Whether an ACK echoes congestion (Linux `tcp_ecn_rcv_ecn_echo`): ECE, not on a SYN,
    /// on a connection using ECN.
    pub(super) fn ecn_echoed(&self, seg: &TcpRepr<'_>) -> bool {
        self.ecn.ok && seg.flags.contains(TcpFlags::ECE) && !seg.flags.contains(TcpFlags::SYN)
    }

    /// The codepoint and flags of a non-SYN segment we send (Linux `tcp_ecn_send`): ECT(0)
    /// on new data, and CWR on the first new data after a reduction; ECE on everything while
    /// a CE waits for the peer's CWR.
    pub(super) fn ecn_mark(&mut self, new_data: bool, flags: &mut TcpFlags) -> Ecn {
        if !self.ecn.ok {
            return Ecn::NotEct;
        }
        if self.ecn.demand_cwr {
            *flags |= TcpFlags::ECE;
        }
        if new_data {
            if core::mem::take(&mut self.ecn.queue_cwr) {
                *flags |= TcpFlags::CWR;
            }
            Ecn::Ect0
        } else {
            Ecn::NotEct
        }
    }

    /// The window was reduced (fast recovery, a timeout, an ECE): the next new data segment
    /// tells the peer with CWR (Linux `tcp_ecn_queue_cwr`).
    pub(super) fn ecn_queue_cwr(&mut self) {
        if self.ecn.ok {
            self.ecn.queue_cwr = true;
        }
    }
}
