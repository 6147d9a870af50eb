//! The stack's per-operation errors mapped to `io::ErrorKind` as the kernel's errno values
//! map: ECONNREFUSED → ConnectionRefused, ETIMEDOUT → TimedOut, ...

use std::io;

use ustack_core::tcp_engine::{ConnError, RecvError, SendError};
use ustack_core::{BindError, ConnectError, UdpRecvError, UdpSendError};

pub(crate) fn conn_error(e: ConnError) -> io::Error {
    let kind = match e {
        ConnError::Refused => io::ErrorKind::ConnectionRefused,
        ConnError::Reset => io::ErrorKind::ConnectionReset,
        ConnError::TimedOut => io::ErrorKind::TimedOut,
        ConnError::Aborted => io::ErrorKind::ConnectionAborted,
        ConnError::Unreachable => io::ErrorKind::HostUnreachable,
    };
    io::Error::new(kind, e)
}

pub(crate) fn bind_error(e: BindError) -> io::Error {
    let kind = match e {
        BindError::AddrInUse | BindError::NoEphemeralPort => io::ErrorKind::AddrInUse,
        BindError::AddrNotAvailable => io::ErrorKind::AddrNotAvailable,
    };
    io::Error::new(kind, e)
}

pub(crate) fn connect_error(e: ConnectError) -> io::Error {
    let kind = match e {
        ConnectError::NoRoute => io::ErrorKind::NetworkUnreachable,
        ConnectError::NoEphemeralPort | ConnectError::AddrNotAvailable => {
            io::ErrorKind::AddrNotAvailable
        }
        ConnectError::AddrInUse => io::ErrorKind::AddrInUse,
        ConnectError::InvalidDestination => io::ErrorKind::InvalidInput,
        ConnectError::FastOpenDisabled => io::ErrorKind::Unsupported,
    };
    io::Error::new(kind, e)
}

pub(crate) fn send_error(e: SendError) -> io::Error {
    match e {
        SendError::Full => io::ErrorKind::WouldBlock.into(),
        SendError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, e),
        SendError::Failed(c) => conn_error(c),
    }
}

pub(crate) fn recv_error(e: RecvError) -> io::Error {
    match e {
        RecvError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        RecvError::Failed(c) => conn_error(c),
    }
}

pub(crate) fn udp_send_error(e: UdpSendError) -> io::Error {
    let kind = match e {
        UdpSendError::NoRoute => io::ErrorKind::NetworkUnreachable,
        UdpSendError::TooLarge => io::ErrorKind::InvalidInput,
        UdpSendError::BufferFull => io::ErrorKind::WouldBlock,
        UdpSendError::NotConnected => io::ErrorKind::NotConnected,
        UdpSendError::Refused => io::ErrorKind::ConnectionRefused,
        UdpSendError::InvalidDestination => io::ErrorKind::InvalidInput,
        UdpSendError::AddrNotAvailable => io::ErrorKind::AddrNotAvailable,
    };
    io::Error::new(kind, e)
}

pub(crate) fn udp_recv_error(e: UdpRecvError) -> io::Error {
    match e {
        UdpRecvError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        UdpRecvError::Refused => io::Error::new(io::ErrorKind::ConnectionRefused, e),
    }
}

/// The first address `addr` resolves to, of either family (std::net's `bind` takes the
/// first one too).
pub(crate) fn resolve(addr: impl std::net::ToSocketAddrs) -> io::Result<std::net::SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to use"))
}
