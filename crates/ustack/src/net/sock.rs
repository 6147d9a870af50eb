//! The socket object the blocking and async handles share: one per socket of the stack,
//! behind an `Arc`, so `try_clone`, `into_split` and the conversions between the two APIs
//! hand out more handles to the same socket, as `dup(2)` does for a kernel socket. The
//! options a kernel keeps per socket (timeouts, non-blocking mode, linger) live here, so every
//! handle sees the same; the socket is closed when the last handle is dropped.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ustack_core::SocketHandle;
use ustack_core::tcp_engine::TcpState;

use super::{Inner, NetStack, Shared};

/// No linger set (`SO_LINGER` off).
const NO_LINGER: u64 = u64::MAX;

/// What kind of socket a [`Sock`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Listener,
    Conn,
    Udp,
}

/// One socket of the stack and its options.
pub(crate) struct Sock {
    pub(crate) net: NetStack,
    pub(crate) h: SocketHandle,
    kind: Kind,
    /// `SO_RCVTIMEO` in nanoseconds, 0 for none.
    read_timeout: AtomicU64,
    /// `SO_SNDTIMEO` in nanoseconds, 0 for none.
    write_timeout: AtomicU64,
    /// `O_NONBLOCK` (blocking API only: the async API never blocks a thread).
    nonblocking: AtomicBool,
    /// `shutdown(Read)` was called: reads return 0.
    pub(crate) read_shut: AtomicBool,
    /// `SO_LINGER` in nanoseconds, [`NO_LINGER`] when off.
    linger: AtomicU64,
    /// The connection's error has been reported by `take_error`.
    error_taken: AtomicBool,
}

impl std::fmt::Debug for Sock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sock").field("handle", &self.h).finish_non_exhaustive()
    }
}

impl Sock {
    pub(crate) fn new(net: &NetStack, h: SocketHandle, kind: Kind) -> Sock {
        Sock {
            net: net.clone(),
            h,
            kind,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
            nonblocking: AtomicBool::new(false),
            read_shut: AtomicBool::new(false),
            linger: AtomicU64::new(NO_LINGER),
            error_taken: AtomicBool::new(false),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.net.shared
    }

    /// `NotConnected` once the stack is shut down or the socket released.
    pub(crate) fn check_live(&self) -> io::Result<()> {
        self.shared().lock().live(self.h)
    }

    /// Runs `f` on the live socket under the stack lock.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> io::Result<T> {
        let mut inner = self.shared().lock();
        inner.live(self.h)?;
        Ok(f(&mut inner))
    }

    /// Runs `op` until it returns something other than `WouldBlock`, waiting for the socket's
    /// events in between; in non-blocking mode returns the `WouldBlock` at once, and with a
    /// `timeout` gives up with `WouldBlock` when it passes (as a std socket does).
    pub(crate) fn wait<T>(
        &self,
        timeout: Option<Duration>,
        op: impl FnMut(&mut Inner) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.nonblocking() {
            let mut op = op;
            let r = self.with(|inner| op(inner))?;
            self.shared().nudge();
            return r;
        }
        super::tcp::blocking(self.shared(), self.h, timeout, op)
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        nanos_to_timeout(self.read_timeout.load(Ordering::Relaxed))
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        nanos_to_timeout(self.write_timeout.load(Ordering::Relaxed))
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.check_live()?;
        self.read_timeout.store(timeout_to_nanos(t)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.check_live()?;
        self.write_timeout.store(timeout_to_nanos(t)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.check_live()?;
        self.nonblocking.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// `IP_TTL`.
    pub(crate) fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl)
            .ok()
            .filter(|&t| t > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a TTL must be 1 to 255"))?;
        self.with(|inner| inner.stack.set_ttl(self.h, ttl))?
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    }

    /// `IP_TTL`.
    pub(crate) fn ttl(&self) -> io::Result<u32> {
        self.with(|inner| u32::from(inner.stack.ttl(self.h)))
    }

    /// `SO_LINGER` (TCP connections).
    pub(crate) fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.check_live()?;
        let v = linger.map_or(NO_LINGER, |d| d.as_nanos().min(u128::from(NO_LINGER - 1)) as u64);
        self.linger.store(v, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn linger(&self) -> io::Result<Option<Duration>> {
        self.check_live()?;
        let v = self.linger.load(Ordering::Relaxed);
        Ok((v != NO_LINGER).then(|| Duration::from_nanos(v)))
    }

    /// `SO_ERROR` of a TCP connection: the error that ended it, reported once.
    pub(crate) fn take_tcp_error(&self) -> io::Result<Option<io::Error>> {
        self.with(|inner| {
            let err = inner.stack.tcp_conn(self.h).error();
            match err {
                Some(e) if !self.error_taken.swap(true, Ordering::Relaxed) => {
                    Some(super::conn_error(e))
                }
                _ => None,
            }
        })
    }
}

impl Drop for Sock {
    /// The last handle is gone: close the socket (`close(2)`). A TCP connection with
    /// `SO_LINGER` set to zero is reset; with a positive linger the drop waits, up to that
    /// long, until the peer has acknowledged everything sent, FIN included (Linux
    /// `tcp_close` → `sk_stream_wait_close`); without one it finishes in the background.
    fn drop(&mut self) {
        let linger = *self.linger.get_mut();
        if linger == NO_LINGER {
            self.net.release(self.h);
            return;
        }
        let shared = &self.net.shared;
        let mut inner = shared.lock();
        if self.kind != Kind::Conn || inner.live(self.h).is_err() {
            drop(inner);
            self.net.release(self.h);
            return;
        }
        if linger == 0 {
            inner.stack.tcp_abort(self.h);
            inner.forget(self.h);
            drop(inner);
            shared.nudge();
            return;
        }
        let now = inner.now();
        inner.stack.close(now, self.h);
        drop(inner);
        shared.nudge();
        let deadline = std::time::Instant::now() + Duration::from_nanos(linger);
        let mut inner = shared.lock();
        loop {
            let sending = inner.check_running().is_ok()
                && inner.stack.contains(self.h)
                && matches!(
                    inner.stack.tcp_state(self.h),
                    TcpState::SynSent
                        | TcpState::SynReceived
                        | TcpState::Established
                        | TcpState::CloseWait
                        | TcpState::FinWait1
                        | TcpState::Closing
                        | TcpState::LastAck
                );
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if !sending || left.is_zero() {
                break;
            }
            let cv = inner.condvar(self.h);
            inner =
                cv.wait_timeout(inner, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        inner.forget(self.h);
    }
}

pub(crate) fn timeout_to_nanos(t: Option<Duration>) -> io::Result<u64> {
    match t {
        Some(d) if d.is_zero() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"))
        }
        Some(d) => Ok(d.as_nanos().min(u128::from(u64::MAX)) as u64),
        None => Ok(0),
    }
}

pub(crate) fn nanos_to_timeout(n: u64) -> Option<Duration> {
    (n != 0).then(|| Duration::from_nanos(n))
}
