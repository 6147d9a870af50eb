//! The async socket API, on tokio (feature `tokio`): [`TcpListener::accept`] is a future,
//! [`TcpStream`] implements tokio's `AsyncRead` and `AsyncWrite` (so hyper runs on it through
//! `hyper_util::rt::TokioIo`), [`UdpSocket`] has async send and receive.
//!
//! The same driver thread serves both APIs: a task that must wait registers its waker on the
//! socket, under the stack lock, and the driver wakes it when the socket reports an event
//! (for a UDP send, when the driver has emptied the full transmit queue). Nothing here needs
//! a particular tokio runtime flavour.
//!
//! After [`NetStack::shutdown`] every call fails with `NotConnected`, and tasks waiting in a
//! call are woken to fail the same way, as in the blocking API.

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ustack_core::SocketHandle;
use ustack_core::tcp_engine::RecvError;

use crate::net::{
    ListenOptions, NetStack, connect_error, connect_progress, recv_error, resolve, send_error,
    udp_recv_error,
};

mod fastopen;

/// Polls `op` under the stack lock: `WouldBlock` registers the task's waker on `h`. Fails
/// once the socket is closed or the stack shut down, so `op` only sees a live handle.
fn poll_op<T>(
    net: &NetStack,
    h: SocketHandle,
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut crate::net::Inner) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    poll_op_inner(net, h, cx, false, op)
}

fn poll_op_inner<T>(
    net: &NetStack,
    h: SocketHandle,
    cx: &mut Context<'_>,
    nudge_before_wait: bool,
    op: impl FnOnce(&mut crate::net::Inner) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    let mut inner = net.shared.lock();
    if let Err(e) = inner.live(h) {
        return Poll::Ready(Err(e));
    }
    let r = op(&mut inner);
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            inner.register_waker(h, cx.waker());
            if nudge_before_wait {
                net.shared.nudge();
            }
            Poll::Pending
        }
        r => {
            drop(inner);
            net.shared.nudge();
            Poll::Ready(r)
        }
    }
}

/// An async listener.
#[derive(Debug)]
pub struct TcpListener {
    net: NetStack,
    h: SocketHandle,
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
        Ok(TcpListener { net: net.clone(), h })
    }

    /// Waits for a connection. Fails with `NotConnected` once the stack is shut down, also
    /// when already waiting.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let h = poll_fn(|cx| {
            poll_op(&self.net, self.h, cx, |inner| {
                inner.stack.tcp_accept(self.h).ok_or_else(|| io::ErrorKind::WouldBlock.into())
            })
        })
        .await?;
        let stream = TcpStream { net: self.net.clone(), h, read_shut: false };
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.tcp_listener_addr(self.h))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.net.release(self.h);
    }
}

/// An async TCP connection.
#[derive(Debug)]
pub struct TcpStream {
    net: NetStack,
    h: SocketHandle,
    read_shut: bool,
}

impl TcpStream {
    /// Connects to `addr`.
    pub async fn connect(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let h = net.start_connect(addr)?;
        let stream = TcpStream { net: net.clone(), h, read_shut: false };
        poll_fn(|cx| poll_op(net, h, cx, |inner| connect_progress(inner, h))).await?;
        Ok(stream)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.tcp_peer_addr(self.h))
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.tcp_local_addr(self.h))
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        inner.stack.tcp_set_nodelay(self.h, nodelay);
        Ok(())
    }

    /// Shuts down reading, writing or both (see [`crate::TcpStream::shutdown`]).
    pub fn shutdown_std(&mut self, how: Shutdown) -> io::Result<()> {
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            inner.stack.tcp_shutdown_write(self.h);
            drop(inner);
            self.net.shared.nudge();
        }
        Ok(())
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read_shut || buf.remaining() == 0 {
            return Poll::Ready(this.net.shared.lock().live(this.h));
        }
        let h = this.h;
        let dst = buf.initialize_unfilled();
        match poll_op(&this.net, h, cx, |inner| match inner.stack.tcp_recv(h, dst) {
            Ok(n) => Ok(n),
            Err(RecvError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(e) => Err(recv_error(e)),
        }) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(self.net.shared.lock().live(self.h).map(|()| 0));
        }
        let h = self.h;
        poll_op(&self.net, h, cx, |inner| inner.stack.tcp_send(h, data).map_err(send_error))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.net.shared.lock().live(self.h))
    }

    /// `shutdown(Write)`: a FIN follows the queued data.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().shutdown_std(Shutdown::Write)?;
        Poll::Ready(Ok(()))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.net.release(self.h);
    }
}

/// An async UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    net: NetStack,
    h: SocketHandle,
}

impl UdpSocket {
    /// Binds to `addr`.
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let h = net.open_udp(addr)?;
        Ok(UdpSocket { net: net.clone(), h })
    }

    /// Sets the peer.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = resolve(addr)?;
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        inner.stack.udp_connect(self.h, addr).map_err(connect_error)
    }

    /// Sends to the connected peer. When the stack's transmit queue is full, waits until the
    /// driver has emptied it (as tokio's `send` waits for the socket to be writable).
    pub async fn send(&self, data: &[u8]) -> io::Result<usize> {
        let h = self.h;
        poll_fn(|cx| {
            poll_op_inner(&self.net, h, cx, true, |inner| {
                let now = inner.now();
                let r = inner.stack.udp_send(now, h, data);
                crate::net::udp_send_or_wait(inner, h, r)
            })
        })
        .await
    }

    /// Sends to `addr`, waiting for room like [`UdpSocket::send`].
    pub async fn send_to(&self, data: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = resolve(addr)?;
        let h = self.h;
        poll_fn(|cx| {
            poll_op_inner(&self.net, h, cx, true, |inner| {
                let now = inner.now();
                let r = inner.stack.udp_send_to(now, h, addr, data);
                crate::net::udp_send_or_wait(inner, h, r)
            })
        })
        .await
    }

    /// Waits for a datagram; returns its length (at most `buf.len()` kept) and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = poll_fn(|cx| {
            poll_op(&self.net, self.h, cx, |inner| {
                inner.stack.udp_recv_from(self.h, buf).map_err(udp_recv_error)
            })
        })
        .await?;
        Ok((n.min(buf.len()), from))
    }

    /// Waits for a datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.udp_local_addr(self.h))
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.net.release(self.h);
    }
}
