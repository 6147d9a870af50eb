//! Socket handles and the per-operation errors of the socket API: one error enum per
//! operation, each saying what happened.

use core::fmt;

/// A socket of a [`crate::Stack`]: an index into the socket table and the generation of the
/// slot, so a handle kept after its socket was freed can never reach the socket that reuses
/// the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl SocketHandle {
    /// The slot index (for display and for maps keyed by socket).
    pub const fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Display for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sk{}.{}", self.index, self.generation)
    }
}

/// Why a bind (`tcp_listen`, `udp_bind`) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindError {
    /// Another socket holds the address and port (`EADDRINUSE`). For TCP without
    /// reuse-address, connections still using the port (TIME-WAIT among them) hold it too
    /// (SPEC S13).
    AddrInUse,
    /// The address is not one of this host's (`EADDRNOTAVAIL`).
    AddrNotAvailable,
    /// Port 0 was asked for and every ephemeral port is taken (`EADDRINUSE`, as Linux).
    NoEphemeralPort,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BindError::AddrInUse => "address already in use",
            BindError::AddrNotAvailable => "cannot assign requested address: not a local address",
            BindError::NoEphemeralPort => "address already in use: no free ephemeral port",
        })
    }
}

impl std::error::Error for BindError {}

/// Why `tcp_connect` or `udp_connect` failed before anything was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectError {
    /// No route to the destination (`ENETUNREACH`).
    NoRoute,
    /// Every ephemeral port towards this destination is in use (`EADDRNOTAVAIL`, SPEC S25).
    NoEphemeralPort,
    /// The 4-tuple asked for is already in use (`EADDRINUSE`).
    AddrInUse,
    /// The local address asked for is not one of this host's (`EADDRNOTAVAIL`).
    AddrNotAvailable,
    /// The destination is the unspecified address, a broadcast address or port 0
    /// (`EINVAL`-like).
    InvalidDestination,
    /// Connect-with-data (TCP Fast Open) while `tcp_fastopen` lacks the client bit
    /// (`EOPNOTSUPP`, as Linux's `sendto(MSG_FASTOPEN)`).
    FastOpenDisabled,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectError::NoRoute => "network is unreachable: no route to the destination",
            ConnectError::NoEphemeralPort => {
                "cannot assign requested address: every ephemeral port to this destination is in use"
            }
            ConnectError::AddrInUse => "address already in use: the 4-tuple exists",
            ConnectError::AddrNotAvailable => {
                "cannot assign requested address: not a local address"
            }
            ConnectError::InvalidDestination => {
                "invalid destination: unspecified, broadcast, or port 0"
            }
            ConnectError::FastOpenDisabled => {
                "operation not supported: tcp_fastopen does not enable the client (bit 0x1)"
            }
        })
    }
}

impl std::error::Error for ConnectError {}

/// Why a UDP send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpSendError {
    /// No route to the destination (`ENETUNREACH`).
    NoRoute,
    /// The datagram exceeds 65507 bytes (`EMSGSIZE`).
    TooLarge,
    /// The stack's transmit queue is full; try again after `poll_transmit` ran (`EAGAIN`).
    BufferFull,
    /// `udp_send` on a socket that is not connected (`EDESTADDRREQ`).
    NotConnected,
    /// An ICMP port unreachable came back for an earlier datagram of this connected socket
    /// (`ECONNREFUSED`, reported once).
    Refused,
    /// Destination is the unspecified address or port 0.
    InvalidDestination,
    /// The source asked for is not an address the stack may send from, or has port 0: the
    /// any-IP socket sends only with a source given ([`crate::Stack::udp_send_from_to`])
    /// (`EADDRNOTAVAIL`).
    AddrNotAvailable,
}

impl fmt::Display for UdpSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UdpSendError::NoRoute => "network is unreachable: no route to the destination",
            UdpSendError::TooLarge => "message too long: a UDP datagram holds at most 65507 bytes",
            UdpSendError::BufferFull => "transmit queue full",
            UdpSendError::NotConnected => "destination address required: socket not connected",
            UdpSendError::Refused => "connection refused: the peer's port is closed (ICMP)",
            UdpSendError::InvalidDestination => "invalid destination: unspecified or port 0",
            UdpSendError::AddrNotAvailable => {
                "cannot assign requested address: not a source the stack may send from"
            }
        })
    }
}

impl std::error::Error for UdpSendError {}

/// Why a UDP receive returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpRecvError {
    /// No datagram queued (`EAGAIN`).
    WouldBlock,
    /// An ICMP port unreachable came back for a datagram of this connected socket
    /// (`ECONNREFUSED`, reported once).
    Refused,
}

impl fmt::Display for UdpRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UdpRecvError::WouldBlock => "no datagram queued",
            UdpRecvError::Refused => "connection refused: the peer's port is closed (ICMP)",
        })
    }
}

impl std::error::Error for UdpRecvError {}
