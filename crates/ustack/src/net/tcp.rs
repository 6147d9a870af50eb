//! Blocking TCP sockets shaped like `std::net::{TcpListener, TcpStream}`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ustack_core::SocketHandle;
use ustack_core::tcp_engine::{RecvError, TcpState};

use super::sock::{Kind, Sock};
use super::{Inner, NetStack, Shared, conn_error, connect_progress, recv_error, send_error};

mod fastopen;

/// Options of [`TcpListener::bind_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenOptions {
    /// Connections each listen queue holds (clamped to `somaxconn`). `std` uses 128.
    pub backlog: u32,
    /// `SO_REUSEADDR`: bind even while connections of an earlier listener still use the port
    /// (TIME-WAIT, SPEC S13). On by default, as `std::net::TcpListener::bind` sets it on Unix.
    pub reuse_address: bool,
    /// `IPV6_V6ONLY` for a listener on `[::]`: `Some(true)` takes IPv6 clients only,
    /// `Some(false)` IPv4 ones too (as `::ffff:a.b.c.d`), `None` as `net.ipv6.bindv6only`
    /// says (0 by default, as Linux: dual stack). Ignored for other addresses.
    pub only_v6: Option<bool>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { backlog: 128, reuse_address: true, only_v6: None }
    }
}

/// Runs `op` under the stack lock until it returns something other than `WouldBlock`,
/// sleeping on the socket's condition variable in between; the driver is nudged afterwards.
/// With a `timeout`, gives up with `WouldBlock` (as a `std` socket with `SO_RCVTIMEO` does).
/// Fails as soon as the socket is closed or the stack shut down, also while waiting
/// ([`Inner::live`]), so `op` only ever sees a live handle.
pub(crate) fn blocking<T>(
    shared: &Shared,
    h: SocketHandle,
    timeout: Option<Duration>,
    op: impl FnMut(&mut Inner) -> io::Result<T>,
) -> io::Result<T> {
    blocking_inner(shared, h, timeout, false, op)
}

/// As [`blocking`], nudging the driver before each wait: for a wait on the driver's own
/// work (emptying the transmit queue) rather than on the peer.
pub(crate) fn blocking_nudged<T>(
    shared: &Shared,
    h: SocketHandle,
    timeout: Option<Duration>,
    op: impl FnMut(&mut Inner) -> io::Result<T>,
) -> io::Result<T> {
    blocking_inner(shared, h, timeout, true, op)
}

fn blocking_inner<T>(
    shared: &Shared,
    h: SocketHandle,
    timeout: Option<Duration>,
    nudge_before_wait: bool,
    mut op: impl FnMut(&mut Inner) -> io::Result<T>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut inner = shared.lock();
    let result = loop {
        if let Err(e) = inner.live(h) {
            break Err(e);
        }
        match op(&mut inner) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => break other,
        }
        if nudge_before_wait {
            shared.nudge();
        }
        let cv = inner.condvar(h);
        inner = match deadline {
            None => cv.wait(inner).unwrap_or_else(std::sync::PoisonError::into_inner),
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break Err(io::Error::new(io::ErrorKind::WouldBlock, "timed out waiting"));
                }
                cv.wait_timeout(inner, left).unwrap_or_else(std::sync::PoisonError::into_inner).0
            }
        };
    };
    drop(inner);
    shared.nudge();
    result
}

/// A listening socket (`std::net::TcpListener`).
#[derive(Debug)]
pub struct TcpListener {
    sock: Arc<Sock>,
}

impl TcpListener {
    /// Listens on `addr` (port 0: an ephemeral port) with [`ListenOptions::default`].
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with(net, addr, ListenOptions::default())
    }

    /// Listens on `addr` with the given backlog and reuse-address setting.
    pub fn bind_with(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        let h = net.open_listener(addr, opts)?;
        Ok(TcpListener::from_handle(net, h))
    }

    /// The any-IP listener of a stack in transparent mode ([`NetConfig::transparent`]): it
    /// accepts connections to every port of every address the device delivers that is not the
    /// stack's own and that no listener on `(address, port)` or `(0.0.0.0, port)` takes. Each
    /// accepted stream's [`TcpStream::local_addr`] is the address and port the client dialled.
    /// One per stack (`AddrInUse` for a second); `InvalidInput` when the stack is not
    /// transparent. `docs/host-stack.md` describes transparent mode.
    ///
    /// [`NetConfig::transparent`]: crate::NetConfig::transparent
    pub fn bind_any(net: &NetStack) -> io::Result<TcpListener> {
        TcpListener::bind_any_with(net, ListenOptions::default())
    }

    /// [`TcpListener::bind_any`] with a backlog of `opts.backlog`.
    pub fn bind_any_with(net: &NetStack, opts: ListenOptions) -> io::Result<TcpListener> {
        let h = net.open_any_listener(opts.backlog, None)?;
        Ok(TcpListener::from_handle(net, h))
    }

    pub(crate) fn from_handle(net: &NetStack, h: SocketHandle) -> TcpListener {
        TcpListener { sock: Arc::new(Sock::new(net, h, Kind::Listener)) }
    }

    /// Waits for a connection and returns it with the peer's address. Fails with
    /// `NotConnected` once the stack is shut down, also when already waiting; in non-blocking
    /// mode returns `WouldBlock` when no connection is waiting.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let lh = self.sock.h;
        let h = self.sock.wait(None, |inner| {
            inner.stack.tcp_accept(lh).ok_or_else(|| io::ErrorKind::WouldBlock.into())
        })?;
        let stream = TcpStream::from_handle(&self.sock.net, h);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address it listens on (`0.0.0.0:0` for the any-IP listener).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.tcp_listener_addr(self.sock.h))
    }

    /// `IPV6_V6ONLY`: whether the listener, on `[::]`, takes IPv6 clients only (false for
    /// other addresses). Set it before listening: [`ListenOptions::only_v6`] or
    /// [`crate::TcpSocket::set_only_v6`] (Linux refuses it on a bound socket).
    pub fn only_v6(&self) -> io::Result<bool> {
        self.sock.with(|inner| inner.stack.v6only(self.sock.h))
    }

    /// Another handle to the same listener (`dup`): both accept from the same queue, and
    /// the listener closes when the last handle is dropped.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        self.sock.check_live()?;
        Ok(TcpListener { sock: Arc::clone(&self.sock) })
    }

    /// Non-blocking mode: `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.sock.set_nonblocking(nonblocking)
    }

    /// `IP_TTL` of the connections it accepts from now on.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// `SO_ERROR`: a listener has none (`Ok(None)`, as Linux).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.check_live().map(|()| None)
    }

    /// The stack it lives on.
    pub fn net(&self) -> &NetStack {
        &self.sock.net
    }

    /// The stack's handle of this listener (for [`NetStack::with_stack`]).
    pub fn handle(&self) -> SocketHandle {
        self.sock.h
    }
}

/// The iterator of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection (`std::net::TcpStream`). `Read` and `Write` are implemented for `&TcpStream`
/// too, so one thread can read while another writes; [`TcpStream::try_clone`] gives another
/// handle to the same connection.
#[derive(Debug)]
pub struct TcpStream {
    pub(crate) sock: Arc<Sock>,
}

impl TcpStream {
    pub(crate) fn from_handle(net: &NetStack, h: SocketHandle) -> TcpStream {
        TcpStream { sock: Arc::new(Sock::new(net, h, Kind::Conn)) }
    }

    /// Connects to `addr`; fails like the kernel's `connect` (ConnectionRefused on a RST,
    /// TimedOut after the SYN retries, SPEC S5).
    pub fn connect(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        TcpStream::connect_inner(net, addr, None)
    }

    /// Connects with a bound on the wait; on expiry the attempt is abandoned and the error
    /// is `TimedOut`.
    pub fn connect_timeout(
        net: &NetStack,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_inner(net, addr, Some(timeout))
    }

    fn connect_inner(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let h = net.start_connect(addr)?;
        TcpStream::finish_connect(net, h, timeout)
    }

    /// Waits for the handshake of the active open `h`.
    pub(crate) fn finish_connect(
        net: &NetStack,
        h: SocketHandle,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let stream = TcpStream::from_handle(net, h);
        let r = blocking(&net.shared, h, timeout, |inner| connect_progress(inner, h));
        match r {
            Ok(()) => Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))
            }
            Err(e) => Err(e),
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.tcp_peer_addr(self.sock.h))
    }

    /// Our address. On a connection accepted by the any-IP listener (transparent mode), the
    /// address and port the client dialled.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.tcp_local_addr(self.sock.h))
    }

    /// Shuts down reading (reads return 0), writing (a FIN follows the queued data, SPEC S9),
    /// or both. Applies to every handle of the connection.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        shutdown(&self.sock, how)
    }

    /// Another handle to the same connection (`dup`): reads and writes on either go to the
    /// same byte streams, options are shared, and the connection closes when the last handle
    /// is dropped.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        self.sock.check_live()?;
        Ok(TcpStream { sock: Arc::clone(&self.sock) })
    }

    /// Copies received data into `buf` without taking it (`MSG_PEEK`): the next read returns
    /// the same bytes. Waits like a read; 0 at the end of the stream.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            self.sock.check_live()?;
            return Ok(0);
        }
        self.sock.wait(self.sock.read_timeout(), |inner| peek_op(&self.sock, inner, buf))
    }

    /// `TCP_NODELAY`: true turns Nagle's algorithm off.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock.with(|inner| inner.stack.tcp_set_nodelay(self.sock.h, nodelay))
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.with(|inner| inner.stack.tcp_conn(self.sock.h).config().nodelay)
    }

    /// `IP_TTL`: the TTL of the packets this connection sends.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// `SO_ERROR`: the error that ended the connection (refused, reset, timed out), reported
    /// once; `None` while it is healthy.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_tcp_error()
    }

    /// Non-blocking mode: reads, writes and peeks return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.sock.set_nonblocking(nonblocking)
    }

    /// `SO_LINGER`: what dropping the last handle does. `None` (default): close and let the
    /// connection finish in the background. `Some(0)`: reset it (RST, queued data
    /// discarded). `Some(d)`: close and wait up to `d` for the peer to acknowledge all data
    /// and the FIN.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sock.set_linger(linger)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock.linger()
    }

    /// Bounds how long a read waits (`None`: forever); expiry is `WouldBlock`, as std.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }

    /// Bounds how long a write waits for room in the send buffer.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(t)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.sock.check_live()?;
        Ok(self.sock.read_timeout())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.sock.check_live()?;
        Ok(self.sock.write_timeout())
    }

    /// The stack it lives on.
    pub fn net(&self) -> &NetStack {
        &self.sock.net
    }

    /// The stack's handle of this connection (for [`NetStack::with_stack`]).
    pub fn handle(&self) -> SocketHandle {
        self.sock.h
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sock.read_shut.load(Ordering::Relaxed) || buf.is_empty() {
            self.sock.check_live()?;
            return Ok(0);
        }
        let h = self.sock.h;
        self.sock.wait(self.sock.read_timeout(), |inner| recv_op(inner, h, buf))
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            self.sock.check_live()?;
            return Ok(0);
        }
        let h = self.sock.h;
        self.sock.wait(self.sock.write_timeout(), |inner| {
            inner.stack.tcp_send(h, buf).map_err(send_error)
        })
    }
}

/// One receive attempt on connection `h`.
pub(crate) fn recv_op(inner: &mut Inner, h: SocketHandle, buf: &mut [u8]) -> io::Result<usize> {
    match inner.stack.tcp_recv(h, buf) {
        Ok(n) => Ok(n),
        Err(RecvError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(recv_error(e)),
    }
}

/// One peek attempt: bytes copied, 0 at the end of the stream, `WouldBlock` when nothing is
/// there yet.
pub(crate) fn peek_op(sock: &Sock, inner: &mut Inner, buf: &mut [u8]) -> io::Result<usize> {
    let n = inner.stack.tcp_peek(sock.h, buf);
    if n > 0 {
        return Ok(n);
    }
    let c = inner.stack.tcp_conn(sock.h);
    if let Some(e) = c.error() {
        return Err(conn_error(e));
    }
    if sock.read_shut.load(Ordering::Relaxed) || c.peer_closed() || c.state() == TcpState::Closed {
        return Ok(0);
    }
    Err(io::ErrorKind::WouldBlock.into())
}

/// `shutdown` for both APIs.
pub(crate) fn shutdown(sock: &Sock, how: Shutdown) -> io::Result<()> {
    let mut inner = sock.shared().lock();
    inner.live(sock.h)?;
    if matches!(how, Shutdown::Read | Shutdown::Both) {
        sock.read_shut.store(true, Ordering::Relaxed);
    }
    if matches!(how, Shutdown::Write | Shutdown::Both) {
        inner.stack.tcp_shutdown_write(sock.h);
        drop(inner);
        sock.shared().nudge();
    }
    Ok(())
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.sock.check_live()
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.sock.check_live()
    }
}

impl TcpListener {
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn into_sock(self) -> Arc<Sock> {
        self.sock
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn from_sock(sock: Arc<Sock>) -> TcpListener {
        TcpListener { sock }
    }
}
