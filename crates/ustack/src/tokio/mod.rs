//! The async socket API, on tokio (feature `tokio`), shaped like `tokio::net`:
//! [`TcpListener::accept`] is a future, [`TcpStream`] implements tokio's `AsyncRead` and
//! `AsyncWrite` (so hyper runs on it through `hyper_util::rt::TokioIo`, or with the `hyper`
//! feature through `ustack::hyper`), splits into halves ([`TcpStream::split`],
//! [`TcpStream::into_split`]), and has `readable`/`writable`/`ready`, `try_read`/`try_write`
//! and `peek`; [`UdpSocket`] has async send and receive; [`TcpSocket`] sets options before
//! `connect` or `listen`.
//!
//! The same driver thread serves both APIs: a task that must wait registers its waker on the
//! socket, under the stack lock, and the driver wakes it when the socket reports an event
//! (for a UDP send, when the driver has emptied the full transmit queue). Nothing here needs
//! a particular tokio runtime flavour. A blocking socket becomes an async one and back with
//! `from_std` / `into_std`: both are handles to the same socket.
//!
//! After [`NetStack::shutdown`] every call fails with `NotConnected`, and tasks waiting in a
//! call are woken to fail the same way, as in the blocking API.
//!
//! [`NetStack::shutdown`]: crate::NetStack::shutdown

use std::io;
use std::task::{Context, Poll};

use ustack_core::SocketHandle;

use crate::net::NetStack;

mod fastopen;
mod socket;
mod split;
mod tcp;
mod udp;

pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use tokio::io::{Interest, Ready};
pub use udp::UdpSocket;

/// Polls `op` under the stack lock: `WouldBlock` registers the task's waker on `h`. Fails
/// once the socket is closed or the stack shut down, so `op` only sees a live handle.
pub(crate) fn poll_op<T>(
    net: &NetStack,
    h: SocketHandle,
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut crate::net::Inner) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    poll_op_inner(net, h, cx, false, op)
}

/// [`poll_op`], nudging the driver before waiting: for a wait on the driver's own work
/// (emptying the transmit queue).
pub(crate) fn poll_op_inner<T>(
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

/// Runs `op` once under the stack lock, without waiting (the `try_*` calls).
pub(crate) fn try_op<T>(
    net: &NetStack,
    h: SocketHandle,
    op: impl FnOnce(&mut crate::net::Inner) -> io::Result<T>,
) -> io::Result<T> {
    let r = {
        let mut inner = net.shared.lock();
        inner.live(h)?;
        op(&mut inner)
    };
    net.shared.nudge();
    r
}
