//! The halves of a [`TcpStream`], as tokio's `split` and `into_split` give them: borrowed
//! halves for one task, owned halves (sharing the connection by reference count) for two.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use super::TcpStream;
use super::tcp::{poll_read, poll_ready, poll_write, try_read, try_write};
use crate::net::sock::Sock;

/// The reading half of [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The writing half of [`TcpStream::split`]; `poll_shutdown` shuts down writing.
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

pub(crate) fn split(stream: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

/// The reading half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    sock: Arc<Sock>,
}

/// The writing half of [`TcpStream::into_split`]. Dropping it shuts down writing (a FIN
/// after the queued data), as tokio's does, unless [`OwnedWriteHalf::forget`] was called.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    sock: Arc<Sock>,
    shutdown_on_drop: bool,
}

pub(crate) fn into_split(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let sock = stream.sock;
    (OwnedReadHalf { sock: Arc::clone(&sock) }, OwnedWriteHalf { sock, shutdown_on_drop: true })
}

/// [`OwnedReadHalf::reunite`] was given halves of two different streams; they are handed
/// back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

macro_rules! common {
    ($sock:expr) => {
        /// The peer's address.
        pub fn peer_addr(&self) -> io::Result<SocketAddr> {
            let s: &Sock = $sock(self);
            s.with(|inner| inner.stack.tcp_peer_addr(s.h))
        }

        /// Our address.
        pub fn local_addr(&self) -> io::Result<SocketAddr> {
            let s: &Sock = $sock(self);
            s.with(|inner| inner.stack.tcp_local_addr(s.h))
        }

        /// Waits until the connection is ready for any of `interest`.
        pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
            let s: &Sock = $sock(self);
            std::future::poll_fn(|cx| poll_ready(s, cx, interest)).await
        }
    };
}

macro_rules! reader {
    ($sock:expr) => {
        /// Waits until a read would not block.
        pub async fn readable(&self) -> io::Result<()> {
            self.ready(Interest::READABLE).await.map(|_| ())
        }

        /// Reads without waiting (see [`TcpStream::try_read`]).
        pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            try_read($sock(self), buf)
        }

        /// Waits for data and copies it without taking it (see [`TcpStream::peek`]).
        pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
            let s: &Sock = $sock(self);
            std::future::poll_fn(|cx| {
                super::poll_op(&s.net, s.h, cx, |inner| {
                    crate::net::tcp::peek_op(s, inner, &mut buf[..])
                })
            })
            .await
        }
    };
}

macro_rules! writer {
    ($sock:expr) => {
        /// Waits until a write would not block.
        pub async fn writable(&self) -> io::Result<()> {
            self.ready(Interest::WRITABLE).await.map(|_| ())
        }

        /// Writes without waiting (see [`TcpStream::try_write`]).
        pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
            try_write($sock(self), buf)
        }
    };
}

fn borrowed_read<'a>(h: &'a ReadHalf<'_>) -> &'a Sock {
    &h.0.sock
}
fn borrowed_write<'a>(h: &'a WriteHalf<'_>) -> &'a Sock {
    &h.0.sock
}
fn owned_read(h: &OwnedReadHalf) -> &Sock {
    &h.sock
}
fn owned_write(h: &OwnedWriteHalf) -> &Sock {
    &h.sock
}

impl ReadHalf<'_> {
    common!(borrowed_read);
    reader!(borrowed_read);
}

impl WriteHalf<'_> {
    common!(borrowed_write);
    writer!(borrowed_write);
}

impl OwnedReadHalf {
    common!(owned_read);
    reader!(owned_read);

    /// Puts the halves back together into the stream; fails (handing them back) when they
    /// come from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if Arc::ptr_eq(&self.sock, &other.sock) {
            let mut other = other;
            other.shutdown_on_drop = false;
            drop(other);
            Ok(TcpStream { sock: self.sock })
        } else {
            Err(ReuniteError(self, other))
        }
    }
}

impl OwnedWriteHalf {
    common!(owned_write);
    writer!(owned_write);

    /// Drops the half without shutting down writing.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = crate::net::tcp::shutdown(&self.sock, Shutdown::Write);
        }
    }
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read(&self.0.sock, cx, buf)
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read(&self.sock, cx, buf)
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.0.sock, cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.sock.check_live())
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(crate::net::tcp::shutdown(&self.0.sock, Shutdown::Write))
    }
}

impl AsyncWrite for OwnedWriteHalf {
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
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(crate::net::tcp::shutdown(&self.sock, Shutdown::Write))
    }
}
