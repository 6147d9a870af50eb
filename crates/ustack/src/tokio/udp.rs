//! Async UDP: [`UdpSocket`], shaped like `tokio::net::UdpSocket`.

use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{Interest, ReadBuf, Ready};
use ustack_core::{Instant, UdpSendError};

use super::{poll_op, poll_op_inner, try_op};
use crate::net::sock::{Kind, Sock};
use crate::net::{Inner, NetStack, connect_error, resolve, udp_recv_error};

/// An async UDP socket (`tokio::net::UdpSocket`).
#[derive(Debug)]
pub struct UdpSocket {
    sock: Arc<Sock>,
}

type SendFn<'a> = dyn FnMut(&mut Inner, Instant) -> Result<usize, UdpSendError> + 'a;

impl UdpSocket {
    /// Binds to `addr`, of either family (see [`crate::UdpSocket::bind`]).
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let h = net.open_udp(addr, None)?;
        Ok(UdpSocket { sock: Arc::new(Sock::new(net, h, Kind::Udp)) })
    }

    /// Binds with `IPV6_V6ONLY` set (see [`crate::UdpSocket::bind_only_v6`]).
    pub fn bind_only_v6(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        only_v6: bool,
    ) -> io::Result<UdpSocket> {
        let h = net.open_udp(addr, Some(only_v6))?;
        Ok(UdpSocket { sock: Arc::new(Sock::new(net, h, Kind::Udp)) })
    }

    /// `IPV6_V6ONLY`.
    pub fn only_v6(&self) -> io::Result<bool> {
        self.sock.with(|inner| inner.stack.v6only(self.sock.h))
    }

    /// The any-IP UDP socket of a transparent stack (see [`crate::UdpSocket::bind_any`]).
    pub fn bind_any(net: &NetStack) -> io::Result<UdpSocket> {
        UdpSocket::from_std(crate::UdpSocket::bind_any(net)?)
    }

    /// The blocking socket as an async one: both are handles to the same socket.
    pub fn from_std(socket: crate::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket { sock: socket.sock })
    }

    /// This socket as a blocking one.
    pub fn into_std(self) -> io::Result<crate::UdpSocket> {
        Ok(crate::UdpSocket { sock: self.sock })
    }

    /// Sets the peer.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = resolve(addr)?;
        self.sock.with(|inner| inner.stack.udp_connect(self.sock.h, addr))?.map_err(connect_error)
    }

    fn poll_send_with(
        &self,
        cx: &mut Context<'_>,
        send: &mut SendFn<'_>,
    ) -> Poll<io::Result<usize>> {
        let h = self.sock.h;
        poll_op_inner(&self.sock.net, h, cx, true, |inner| {
            let now = inner.now();
            let r = send(inner, now);
            crate::net::udp_send_or_wait(inner, h, r)
        })
    }

    fn try_send_with(&self, send: &mut SendFn<'_>) -> io::Result<usize> {
        let h = self.sock.h;
        try_op(&self.sock.net, h, |inner| {
            let now = inner.now();
            let r = send(inner, now);
            crate::net::udp_send_or_wait(inner, h, r)
        })
    }

    /// Sends to the connected peer. When the stack's transmit queue is full, waits until the
    /// driver has emptied it (as tokio's `send` waits for the socket to be writable).
    pub async fn send(&self, data: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, data)).await
    }

    /// Polls [`UdpSocket::send`].
    pub fn poll_send(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let h = self.sock.h;
        self.poll_send_with(cx, &mut |inner, now| inner.stack.udp_send(now, h, data))
    }

    /// Sends to the connected peer without waiting.
    pub fn try_send(&self, data: &[u8]) -> io::Result<usize> {
        let h = self.sock.h;
        self.try_send_with(&mut |inner, now| inner.stack.udp_send(now, h, data))
    }

    /// Sends to `addr`, waiting for room like [`UdpSocket::send`].
    pub async fn send_to(&self, data: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = resolve(addr)?;
        poll_fn(|cx| self.poll_send_to(cx, data, addr)).await
    }

    /// Polls [`UdpSocket::send_to`].
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        data: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        let h = self.sock.h;
        self.poll_send_with(cx, &mut |inner, now| inner.stack.udp_send_to(now, h, target, data))
    }

    /// Sends to `target` without waiting.
    pub fn try_send_to(&self, data: &[u8], target: SocketAddr) -> io::Result<usize> {
        let h = self.sock.h;
        self.try_send_with(&mut |inner, now| inner.stack.udp_send_to(now, h, target, data))
    }

    /// Sends to `to` from `from` (see [`crate::UdpSocket::send_from_to`]).
    pub async fn send_from_to(
        &self,
        data: &[u8],
        from: SocketAddr,
        to: SocketAddr,
    ) -> io::Result<usize> {
        let h = self.sock.h;
        poll_fn(|cx| {
            self.poll_send_with(cx, &mut |inner, now| {
                inner.stack.udp_send_from_to(now, h, from, to, data)
            })
        })
        .await
    }

    /// Waits for a datagram; returns its length (at most `buf.len()` kept) and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_to(buf).await.map(|(n, from, _)| (n, from))
    }

    /// [`UdpSocket::recv_from`] that also tells the datagram's destination (for the any-IP
    /// socket, the address and port the sender dialled).
    pub async fn recv_from_to(
        &self,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, SocketAddr)> {
        let h = self.sock.h;
        let (n, from, to) = poll_fn(|cx| {
            poll_op(&self.sock.net, h, cx, |inner| {
                inner.stack.udp_recv_from_to(h, buf).map_err(udp_recv_error)
            })
        })
        .await?;
        Ok((n.min(buf.len()), from, to))
    }

    /// Polls for a datagram into `buf`; returns the sender.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let h = self.sock.h;
        let dst = buf.initialize_unfilled();
        let room = dst.len();
        match poll_op(&self.sock.net, h, cx, |inner| {
            inner.stack.udp_recv_from(h, dst).map_err(udp_recv_error)
        }) {
            Poll::Ready(Ok((n, from))) => {
                buf.advance(n.min(room));
                Poll::Ready(Ok(from))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Polls for a datagram from the connected peer into `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.poll_recv_from(cx, buf).map_ok(|_| ())
    }

    /// Waits for a datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    /// Takes a datagram without waiting: `WouldBlock` when none is queued.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let h = self.sock.h;
        let (n, from) = try_op(&self.sock.net, h, |inner| {
            inner.stack.udp_recv_from(h, buf).map_err(udp_recv_error)
        })?;
        Ok((n.min(buf.len()), from))
    }

    /// [`UdpSocket::try_recv_from`] without the sender.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_recv_from(buf).map(|(n, _)| n)
    }

    /// Waits for a datagram and copies it without taking it (`MSG_PEEK`).
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let h = self.sock.h;
        let (n, from, _) = poll_fn(|cx| {
            poll_op(&self.sock.net, h, cx, |inner| {
                inner.stack.udp_peek_from_to(h, buf).map_err(udp_recv_error)
            })
        })
        .await?;
        Ok((n.min(buf.len()), from))
    }

    /// [`UdpSocket::peek_from`] without the sender.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.peek_from(buf).await.map(|(n, _)| n)
    }

    /// Peeks without waiting.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let h = self.sock.h;
        let (n, from, _) = try_op(&self.sock.net, h, |inner| {
            inner.stack.udp_peek_from_to(h, buf).map_err(udp_recv_error)
        })?;
        Ok((n.min(buf.len()), from))
    }

    /// Waits until the socket is ready for any of `interest`: readable when a datagram is
    /// queued; always writable (a send that finds the stack's transmit queue full waits in
    /// the send itself).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        let h = self.sock.h;
        poll_fn(|cx| {
            poll_op(&self.sock.net, h, cx, |inner| {
                let mut r = Ready::EMPTY;
                if interest.is_readable() && inner.stack.udp_has_datagram(h) {
                    r |= Ready::READABLE;
                }
                if interest.is_writable() {
                    r |= Ready::WRITABLE;
                }
                if r.is_empty() { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(r) }
            })
        })
        .await
    }

    /// Waits until a datagram is queued.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Ready at once (see [`UdpSocket::ready`]).
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.udp_local_addr(self.sock.h))
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock
            .with(|inner| inner.stack.udp_peer_addr(self.sock.h))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket not connected"))
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// `SO_ERROR`: an ICMP port unreachable for the connected peer, reported once.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let r = self.sock.with(|inner| inner.stack.udp_take_error(self.sock.h))?;
        Ok(r.map(udp_recv_error))
    }
}
