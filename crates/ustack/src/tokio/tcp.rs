//! Async TCP: [`TcpListener`] and [`TcpStream`], shaped like `tokio::net`'s.

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};
use ustack_core::tcp_engine::TcpState;

use super::{poll_op, try_op};
use crate::net::sock::{Kind, Sock};
use crate::net::tcp::{peek_op, recv_op};
use crate::net::{Inner, ListenOptions, NetStack, connect_progress, send_error};

/// An async listener (`tokio::net::TcpListener`).
#[derive(Debug)]
pub struct TcpListener {
    pub(crate) sock: Arc<Sock>,
}

impl TcpListener {
    /// Listens on `addr` with [`ListenOptions::default`].
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with(net, addr, ListenOptions::default())
    }

    /// Listens on `addr` with the given options.
    pub fn bind_with(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        let h = net.open_listener(addr, opts)?;
        Ok(TcpListener { sock: Arc::new(Sock::new(net, h, Kind::Listener)) })
    }

    /// The any-IP listener of a transparent stack (see [`crate::TcpListener::bind_any`]).
    pub fn bind_any(net: &NetStack) -> io::Result<TcpListener> {
        TcpListener::from_std(crate::TcpListener::bind_any(net)?)
    }

    /// Waits for a connection. Fails with `NotConnected` once the stack is shut down, also
    /// when already waiting.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (`tokio::net::TcpListener::poll_accept`).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let lh = self.sock.h;
        let h = match poll_op(&self.sock.net, lh, cx, |inner| {
            inner.stack.tcp_accept(lh).ok_or_else(|| io::ErrorKind::WouldBlock.into())
        }) {
            Poll::Ready(Ok(h)) => h,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let stream = TcpStream { sock: Arc::new(Sock::new(&self.sock.net, h, Kind::Conn)) };
        Poll::Ready(stream.peer_addr().map(|peer| (stream, peer)))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.tcp_listener_addr(self.sock.h))
    }

    /// `IPV6_V6ONLY` (see [`crate::TcpListener::only_v6`]).
    pub fn only_v6(&self) -> io::Result<bool> {
        self.sock.with(|inner| inner.stack.v6only(self.sock.h))
    }

    /// `IP_TTL` of the connections it accepts from now on.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// The blocking listener as an async one: both are handles to the same socket.
    pub fn from_std(listener: crate::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener { sock: listener.into_sock() })
    }

    /// This listener as a blocking one.
    pub fn into_std(self) -> io::Result<crate::TcpListener> {
        Ok(crate::TcpListener::from_sock(self.sock))
    }
}

/// An async TCP connection (`tokio::net::TcpStream`).
#[derive(Debug)]
pub struct TcpStream {
    pub(crate) sock: Arc<Sock>,
}

impl TcpStream {
    /// Connects to `addr`.
    pub async fn connect(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let h = net.start_connect(addr)?;
        TcpStream::finish_connect(net, h).await
    }

    pub(crate) async fn finish_connect(
        net: &NetStack,
        h: ustack_core::SocketHandle,
    ) -> io::Result<TcpStream> {
        let stream = TcpStream { sock: Arc::new(Sock::new(net, h, Kind::Conn)) };
        poll_fn(|cx| poll_op(net, h, cx, |inner| connect_progress(inner, h))).await?;
        Ok(stream)
    }

    /// The blocking stream as an async one: both are handles to the same connection.
    pub fn from_std(stream: crate::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream { sock: stream.sock })
    }

    /// This stream as a blocking one.
    pub fn into_std(self) -> io::Result<crate::TcpStream> {
        Ok(crate::TcpStream { sock: self.sock })
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.tcp_peer_addr(self.sock.h))
    }

    /// Our address (on an any-IP connection, the address the client dialled).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.tcp_local_addr(self.sock.h))
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock.with(|inner| inner.stack.tcp_set_nodelay(self.sock.h, nodelay))
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.with(|inner| inner.stack.tcp_conn(self.sock.h).config().nodelay)
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// `SO_LINGER` (see [`crate::TcpStream::set_linger`]).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sock.set_linger(linger)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock.linger()
    }

    /// `SO_ERROR`: the error that ended the connection, reported once.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_tcp_error()
    }

    /// Shuts down reading, writing or both (see [`crate::TcpStream::shutdown`]).
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        crate::net::tcp::shutdown(&self.sock, how)
    }

    /// Waits until the connection is ready for any of `interest` and returns what it is
    /// ready for: readable (data, or the end of the stream), writable (room in the send
    /// buffer), closed halves, error. The readiness can be gone by the next call (another
    /// handle took the data): `try_read` then returns `WouldBlock`.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| poll_ready(&self.sock, cx, interest)).await
    }

    /// Waits until a read would not block.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Waits until a write would not block.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// Polls for read readiness.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_ready(&self.sock, cx, Interest::READABLE).map_ok(|_| ())
    }

    /// Polls for write readiness.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_ready(&self.sock, cx, Interest::WRITABLE).map_ok(|_| ())
    }

    /// Reads what is there without waiting: `WouldBlock` when nothing is, 0 at the end of
    /// the stream.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        try_read(&self.sock, buf)
    }

    /// Writes what fits without waiting: `WouldBlock` when the send buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        try_write(&self.sock, buf)
    }

    /// Waits for data and copies it into `buf` without taking it (`MSG_PEEK`).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut rb = ReadBuf::new(buf);
            self.poll_peek(cx, &mut rb)
        })
        .await
    }

    /// Polls [`TcpStream::peek`]: the bytes peeked are put in `buf`.
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let sock = &self.sock;
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(sock.check_live().map(|()| 0));
        }
        match poll_op(&sock.net, sock.h, cx, |inner| peek_op(sock, inner, dst)) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    /// Borrowed halves for reading and writing at once within one task or scope.
    pub fn split(&mut self) -> (super::ReadHalf<'_>, super::WriteHalf<'_>) {
        super::split::split(self)
    }

    /// Owned halves, each movable to its own task; the write half shuts down writing when
    /// dropped, and [`super::OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (super::OwnedReadHalf, super::OwnedWriteHalf) {
        super::split::into_split(self)
    }
}

/// What connection `sock` is ready for, among `interest`.
fn readiness(sock: &Sock, inner: &Inner, interest: Interest) -> Ready {
    let c = inner.stack.tcp_conn(sock.h);
    let state = c.state();
    let closed = state == TcpState::Closed;
    let read_shut = sock.read_shut.load(Ordering::Relaxed);
    let connecting = matches!(state, TcpState::SynSent | TcpState::SynReceived);
    let mut r = Ready::EMPTY;
    if interest.is_readable() {
        if c.peer_closed() || closed || read_shut {
            r |= Ready::READABLE | Ready::READ_CLOSED;
        } else if c.recv_queue() > 0 {
            r |= Ready::READABLE;
        }
    }
    if interest.is_writable() {
        if c.write_closed() || closed {
            r |= Ready::WRITABLE | Ready::WRITE_CLOSED;
        } else if !connecting && c.send_capacity() > 0 {
            r |= Ready::WRITABLE;
        }
    }
    if c.error().is_some() {
        r |= Ready::ERROR;
    }
    r
}

pub(crate) fn poll_ready(
    sock: &Sock,
    cx: &mut Context<'_>,
    interest: Interest,
) -> Poll<io::Result<Ready>> {
    poll_op(&sock.net, sock.h, cx, |inner| {
        let r = readiness(sock, inner, interest);
        if r.is_empty() { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(r) }
    })
}

pub(crate) fn try_read(sock: &Sock, buf: &mut [u8]) -> io::Result<usize> {
    if sock.read_shut.load(Ordering::Relaxed) || buf.is_empty() {
        return sock.check_live().map(|()| 0);
    }
    try_op(&sock.net, sock.h, |inner| recv_op(inner, sock.h, buf))
}

pub(crate) fn try_write(sock: &Sock, buf: &[u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return sock.check_live().map(|()| 0);
    }
    try_op(&sock.net, sock.h, |inner| inner.stack.tcp_send(sock.h, buf).map_err(send_error))
}

pub(crate) fn poll_read(
    sock: &Sock,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if sock.read_shut.load(Ordering::Relaxed) || buf.remaining() == 0 {
        return Poll::Ready(sock.check_live());
    }
    let h = sock.h;
    let dst = buf.initialize_unfilled();
    match poll_op(&sock.net, h, cx, |inner| recv_op(inner, h, dst)) {
        Poll::Ready(Ok(n)) => {
            buf.advance(n);
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

pub(crate) fn poll_write(
    sock: &Sock,
    cx: &mut Context<'_>,
    data: &[u8],
) -> Poll<io::Result<usize>> {
    if data.is_empty() {
        return Poll::Ready(sock.check_live().map(|()| 0));
    }
    let h = sock.h;
    poll_op(&sock.net, h, cx, |inner| inner.stack.tcp_send(h, data).map_err(send_error))
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read(&self.sock, cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.sock, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.sock.check_live())
    }

    /// `shutdown(Write)`: a FIN follows the queued data.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(crate::net::tcp::shutdown(&self.sock, Shutdown::Write))
    }
}
