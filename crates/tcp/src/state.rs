//! The eleven connection states of RFC 9293 §3.3.2, as names: what netstat, `ss` and trace
//! events show. The engine's own per-state data lives with the connection.

use core::fmt;

/// A TCP connection state (RFC 9293 §3.3.2, Figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for a connection request (a listener; it lives in the host stack).
    Listen,
    /// SYN sent, waiting for a matching SYN (active open).
    SynSent,
    /// SYN received and SYN sent, waiting for the ACK of our SYN.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed (FIN sent); waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed (its FIN received); waiting for our application to close.
    CloseWait,
    /// Both sides closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed first and then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both FINs exchanged and acknowledged by us last; waiting 2·MSL so stale segments die.
    TimeWait,
}

impl TcpState {
    /// Every state, in the order of RFC 9293's list.
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The name RFC 9293 uses, e.g. `SYN-RECEIVED`.
    pub const fn rfc_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// The name `ss -tan` prints in its State column (iproute2 `sstate_name`), e.g. `ESTAB`,
    /// `SYN-RECV`, `CLOSE` for CLOSED.
    pub const fn ss_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSE",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECV",
            TcpState::Established => "ESTAB",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// The name `netstat -tan` prints, e.g. `SYN_RECV`, `TIME_WAIT`.
    pub const fn netstat_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSE",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }

    /// Whether the state is synchronized (RFC 9293 §3.5.2: ESTABLISHED and every later state);
    /// RST and challenge-ACK rules differ on either side of this line.
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived
        )
    }

    /// Whether our side may still send new data (before our FIN).
    pub const fn can_send(self) -> bool {
        matches!(self, TcpState::Established | TcpState::CloseWait)
    }

    /// Whether the peer may still send us data (before its FIN).
    pub const fn can_receive(self) -> bool {
        matches!(
            self,
            TcpState::SynReceived | TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }
}

impl fmt::Display for TcpState {
    /// The RFC name, e.g. `FIN-WAIT-2`; `{:#}` gives the `ss` name, e.g. `ESTAB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if f.alternate() { self.ss_name() } else { self.rfc_name() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(TcpState::SynReceived.to_string(), "SYN-RECEIVED");
        assert_eq!(format!("{:#}", TcpState::Established), "ESTAB");
        assert_eq!(TcpState::TimeWait.netstat_name(), "TIME_WAIT");
        assert_eq!(TcpState::ALL.len(), 11);
        let mut names: Vec<_> = TcpState::ALL.iter().map(|s| s.ss_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 11, "ss names are distinct");
    }

    #[test]
    fn synchronized_states_follow_rfc_9293_3_5_2() {
        let sync: Vec<_> = TcpState::ALL.into_iter().filter(|s| s.is_synchronized()).collect();
        assert_eq!(sync.first(), Some(&TcpState::Established));
        assert_eq!(sync.len(), 7);
    }
}
