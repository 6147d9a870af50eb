//! [`TcpSocket`]: options before `connect` or `listen`, as `tokio::net::TcpSocket`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::{TcpListener, TcpStream};
use crate::net::NetStack;

/// A TCP socket before `connect` or `listen` (`tokio::net::TcpSocket`): the same options as
/// the blocking [`crate::TcpSocket`], with an async [`TcpSocket::connect`].
#[derive(Debug)]
pub struct TcpSocket {
    inner: crate::TcpSocket,
}

macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.inner.$name($($arg),*)
            }
        )*
    };
}

impl TcpSocket {
    /// A new IPv4 TCP socket on `net`, with the stack's TCP settings.
    pub fn new_v4(net: &NetStack) -> io::Result<TcpSocket> {
        Ok(TcpSocket { inner: crate::TcpSocket::new_v4(net)? })
    }

    /// A new IPv6 TCP socket on `net` (see [`crate::TcpSocket::new_v6`]).
    pub fn new_v6(net: &NetStack) -> io::Result<TcpSocket> {
        Ok(TcpSocket { inner: crate::TcpSocket::new_v6(net)? })
    }

    forward! {
        /// `SO_REUSEADDR` (see [`crate::TcpSocket::set_reuseaddr`]).
        fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()>;
        /// `SO_REUSEADDR`.
        fn reuseaddr(&self) -> io::Result<bool>;
        /// `SO_SNDBUF` (see [`crate::TcpSocket::set_send_buffer_size`]).
        fn set_send_buffer_size(&self, size: u32) -> io::Result<()>;
        /// `SO_SNDBUF`.
        fn send_buffer_size(&self) -> io::Result<u32>;
        /// `SO_RCVBUF` (see [`crate::TcpSocket::set_recv_buffer_size`]).
        fn set_recv_buffer_size(&self, size: u32) -> io::Result<()>;
        /// `SO_RCVBUF`.
        fn recv_buffer_size(&self) -> io::Result<u32>;
        /// `SO_KEEPALIVE`.
        fn set_keepalive(&self, keepalive: bool) -> io::Result<()>;
        /// `SO_KEEPALIVE`.
        fn keepalive(&self) -> io::Result<bool>;
        /// `TCP_KEEPIDLE`.
        fn set_keepalive_time(&self, time: Duration) -> io::Result<()>;
        /// `TCP_KEEPIDLE`.
        fn keepalive_time(&self) -> io::Result<Duration>;
        /// `TCP_KEEPINTVL`.
        fn set_keepalive_interval(&self, interval: Duration) -> io::Result<()>;
        /// `TCP_KEEPINTVL`.
        fn keepalive_interval(&self) -> io::Result<Duration>;
        /// `TCP_KEEPCNT`.
        fn set_keepalive_retries(&self, retries: u32) -> io::Result<()>;
        /// `TCP_KEEPCNT`.
        fn keepalive_retries(&self) -> io::Result<u32>;
        /// `TCP_NODELAY`.
        fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;
        /// `TCP_NODELAY`.
        fn nodelay(&self) -> io::Result<bool>;
        /// `TCP_CONGESTION` (see [`crate::TcpSocket::set_congestion_control`]).
        fn set_congestion_control(&self, name: &str) -> io::Result<()>;
        /// `TCP_CONGESTION`.
        fn congestion_control(&self) -> io::Result<String>;
        /// `TCP_USER_TIMEOUT`.
        fn set_user_timeout(&self, timeout: Duration) -> io::Result<()>;
        /// `TCP_MAXSEG`.
        fn set_mss(&self, mss: u16) -> io::Result<()>;
        /// `IP_TTL`.
        fn set_ttl(&self, ttl: u32) -> io::Result<()>;
        /// `IPV6_V6ONLY` (see [`crate::TcpSocket::set_only_v6`]).
        fn set_only_v6(&self, only_v6: bool) -> io::Result<()>;
        /// `IPV6_V6ONLY`.
        fn only_v6(&self) -> io::Result<bool>;
        /// `SO_LINGER`.
        fn set_linger(&self, linger: Option<Duration>) -> io::Result<()>;
        /// `SO_LINGER`.
        fn linger(&self) -> io::Result<Option<Duration>>;
        /// `TCP_FASTOPEN` for `listen` (see [`crate::TcpSocket::set_fastopen`]).
        fn set_fastopen(&self, qlen: u32) -> io::Result<()>;
        /// `TCP_DEFER_ACCEPT` for `listen`.
        fn set_defer_accept(&self, wait: Duration) -> io::Result<()>;
        /// Chooses the local address and port (see [`crate::TcpSocket::bind`]).
        fn bind(&self, addr: SocketAddr) -> io::Result<()>;
        /// The bound address.
        fn local_addr(&self) -> io::Result<SocketAddr>;
        /// `SO_ERROR`: none before a connection exists.
        fn take_error(&self) -> io::Result<Option<io::Error>>;
    }

    /// Connects to `addr` with the socket's options.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let (net, opts) = self.inner.into_parts();
        let h = net.start_connect_with(addr, &opts)?;
        let stream = TcpStream::finish_connect(&net, h).await?;
        stream.set_linger(opts.linger)?;
        Ok(stream)
    }

    /// Connects to `addr` with the socket's options and `data` to send, using TCP Fast Open
    /// (see [`crate::TcpSocket::connect_with_data`]).
    pub async fn connect_with_data(self, addr: SocketAddr, data: &[u8]) -> io::Result<TcpStream> {
        let (net, opts) = self.inner.into_parts();
        let stream = TcpStream::connect_with_data_and(&net, addr, data, Some(&opts)).await?;
        stream.set_linger(opts.linger)?;
        Ok(stream)
    }

    /// Listens on the bound address (see [`crate::TcpSocket::listen`]).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        TcpListener::from_std(self.inner.listen(backlog)?)
    }

    /// Opens the any-IP listener with the socket's options.
    pub fn listen_any(self, backlog: u32) -> io::Result<TcpListener> {
        TcpListener::from_std(self.inner.listen_any(backlog)?)
    }
}
