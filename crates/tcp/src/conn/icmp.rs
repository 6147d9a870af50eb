//! ICMP errors about this connection's segments (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191).
//!
//! The host parses the ICMP message, finds the connection by the quoted header's 4-tuple and
//! hands over what matters: which error, and the sequence number of the quoted segment.
//! Like Linux (`tcp_v4_err`), an error whose quoted sequence number is not in flight
//! (outside SND.UNA..SND.MAX) is ignored: RFC 5927 §4.1 makes that check the defence against
//! forged ICMP.

use ustack_wire::SeqNum;

use super::send::{Mark, Phase};
use super::{Conn, State};
use crate::{ConnError, DropReason, Instant};

/// An ICMP error the host delivers to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// Destination unreachable, port or protocol unreachable (codes 2, 3): nobody is there.
    PortUnreachable,
    /// Destination unreachable for another reason (network, host, administratively
    /// prohibited...).
    HostUnreachable,
    /// Fragmentation needed and DF set (ICMPv4 code 4, RFC 1191), or an ICMPv6 Packet Too
    /// Big (RFC 8201), with the path MTU to use.
    FragNeeded {
        /// The MTU of the next hop, from the ICMP message (the host's path MTU cache may
        /// have lowered it further).
        mtu: u16,
    },
}

/// The smallest MTU we accept from an ICMP "fragmentation needed": Linux's `ip_min_pmtu`
/// (552), so a forged message cannot shrink segments to nothing.
pub const MIN_PMTU: u16 = 552;

impl Conn {
    /// An ICMP error quoting a segment of ours whose sequence number was `seq`. Returns
    /// whether the connection took it (false: the quoted segment is not in flight, the error
    /// is stale or forged, and is dropped).
    ///
    /// - Unreachable during the handshake (SYN-SENT, SYN-RECEIVED) ends the connection as
    ///   Linux does: [`ConnError::Refused`] for port/protocol unreachable, otherwise
    ///   [`ConnError::Unreachable`]. On a synchronized connection it is a soft error
    ///   (RFC 1122 §4.2.3.9: "SHOULD NOT abort"): retransmissions go on.
    /// - Fragmentation needed lowers the segment size to `mtu − 40` (not below
    ///   [`MIN_PMTU`]); over IPv6 to `mtu − 60`, the MTU never below 1280 (RFC 8201 §4:
    ///   "a node MUST NOT reduce its estimate of the Path MTU below the IPv6 minimum link
    ///   MTU"), and resends what is in flight at the new size (RFC 1191 §6.5, Linux
    ///   `tcp_simple_retransmit`), without a congestion response. In SYN-SENT it lowers the
    ///   MSS the SYN announces (and so the one the SYN-ACK can set), and a SYN whose data
    ///   no longer fits goes again at once without it.
    pub fn handle_icmp_error(&mut self, now: Instant, seq: SeqNum, error: IcmpError) -> bool {
        let in_flight = seq.in_window(self.snd.una, super::seq_len(self.snd.una, self.snd.max));
        if !in_flight || matches!(self.state, State::Closed { .. }) {
            self.drop_segment(DropReason::IcmpOutOfWindow);
            return false;
        }
        match error {
            IcmpError::PortUnreachable | IcmpError::HostUnreachable => {
                if matches!(self.state, State::SynSent | State::SynReceived { .. }) {
                    let e = if error == IcmpError::PortUnreachable {
                        ConnError::Refused
                    } else {
                        ConnError::Unreachable
                    };
                    self.close_with(Some(e));
                }
            }
            IcmpError::FragNeeded { mtu } => {
                let floor = if self.tuple.is_ipv6() { super::IPV6_MIN_MTU } else { MIN_PMTU };
                let mss = mtu.max(floor) - self.tuple.header_len();
                if self.state == State::SynSent && mss < self.rcv.mss {
                    // Before the peer's MSS is known (SND.MSS is still the default), Linux
                    // (`tcp_v4_mtu_reduced`) lowers what the SYN announces, which follows
                    // the path (`tcp_advertise_mss`), and caps the segment size the SYN-ACK
                    // will set; a SYN whose data no longer fits goes again at once, without
                    // it (`tcp_simple_retransmit`; a retransmitted SYN carries no data).
                    self.rcv.mss = mss;
                    if self.fo().syn_data > u32::from(mss) && self.snd.nxt != self.snd.iss {
                        self.snd.rewind_to_syn();
                    }
                }
                if mss < self.snd.mss {
                    self.snd.mss = mss;
                    self.rcv.mss = self.rcv.mss.min(mss);
                    self.cc.on_mss_change(u32::from(self.effective_mss()));
                    if self.snd.syn_acked && self.mark_oversized_lost() {
                        self.snd.set_timed(None);
                    }
                    self.arm_rto(now);
                }
            }
        }
        true
    }

    /// The segment size dropped (RFC 1191): segments in flight larger than it will not get
    /// through, so they are lost and go again at the new size, without a congestion
    /// response (Linux `tcp_simple_retransmit`: loss state, window unchanged). Returns
    /// whether any was.
    fn mark_oversized_lost(&mut self) -> bool {
        let max = u32::from(self.effective_mss());
        let mut any = false;
        for i in 0..self.snd.sb.len() {
            let seg = *self.snd.sb.get(i).expect("an entry");
            if seg.mark == Mark::InFlight && seg.data_len() > max {
                self.snd.sb.set_mark(i, Mark::Lost);
                any = true;
            }
        }
        if any && self.snd.phase == Phase::Open {
            self.snd.phase = Phase::Loss;
            self.snd.recover = self.snd.max;
        }
        any
    }
}
