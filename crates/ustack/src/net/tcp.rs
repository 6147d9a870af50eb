//! Blocking TCP sockets shaped like `std::net::{TcpListener, TcpStream}`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ustack_core::SocketHandle;
use ustack_core::tcp_engine::RecvError;

use super::{Inner, NetStack, Shared, connect_progress, recv_error, send_error};

mod fastopen;

/// Options of [`TcpListener::bind_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenOptions {
    /// Connections each listen queue holds (clamped to `somaxconn`). `std` uses 128.
    pub backlog: u32,
    /// `SO_REUSEADDR`: bind even while connections of an earlier listener still use the port
    /// (TIME-WAIT, SPEC S13). On by default, as `std::net::TcpListener::bind` sets it on Unix.
    pub reuse_address: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { backlog: 128, reuse_address: true }
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
    op: impl FnMut(&mut Inner) -> io::Result<T>,
) -> io::Result<T> {
    blocking_inner(shared, h, None, true, op)
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

fn timeout_to_nanos(t: Option<Duration>) -> io::Result<u64> {
    match t {
        Some(d) if d.is_zero() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"))
        }
        Some(d) => Ok(d.as_nanos().min(u128::from(u64::MAX)) as u64),
        None => Ok(0),
    }
}

fn nanos_to_timeout(n: u64) -> Option<Duration> {
    (n != 0).then(|| Duration::from_nanos(n))
}

/// A listening socket (`std::net::TcpListener`).
#[derive(Debug)]
pub struct TcpListener {
    net: NetStack,
    h: SocketHandle,
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
        Ok(TcpListener { net: net.clone(), h })
    }

    /// Waits for a connection and returns it with the peer's address. Fails with
    /// `NotConnected` once the stack is shut down, also when already waiting.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let h = blocking(&self.net.shared, self.h, None, |inner| {
            inner.stack.tcp_accept(self.h).ok_or_else(|| io::ErrorKind::WouldBlock.into())
        })?;
        let stream = TcpStream::from_handle(&self.net, h);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.tcp_listener_addr(self.h))
    }

    /// The stack it lives on.
    pub fn net(&self) -> &NetStack {
        &self.net
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.net.release(self.h);
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
/// too, so one thread can read while another writes.
#[derive(Debug)]
pub struct TcpStream {
    net: NetStack,
    h: SocketHandle,
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    read_shut: AtomicBool,
    nodelay: AtomicBool,
}

impl TcpStream {
    fn from_handle(net: &NetStack, h: SocketHandle) -> TcpStream {
        TcpStream {
            net: net.clone(),
            h,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
            read_shut: AtomicBool::new(false),
            nodelay: AtomicBool::new(false),
        }
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

    /// Shuts down reading (reads return 0), writing (a FIN follows the queued data, SPEC S9),
    /// or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut.store(true, Ordering::Relaxed);
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            inner.stack.tcp_shutdown_write(self.h);
            drop(inner);
            self.net.shared.nudge();
        }
        Ok(())
    }

    /// `TCP_NODELAY`: true turns Nagle's algorithm off.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        inner.stack.tcp_set_nodelay(self.h, nodelay);
        self.nodelay.store(nodelay, Ordering::Relaxed);
        Ok(())
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.check_live()?;
        Ok(self.nodelay.load(Ordering::Relaxed))
    }

    /// Bounds how long a read waits (`None`: forever); expiry is `WouldBlock`, as std.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.check_live()?;
        self.read_timeout.store(timeout_to_nanos(t)?, Ordering::Relaxed);
        Ok(())
    }

    /// Bounds how long a write waits for room in the send buffer.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.check_live()?;
        self.write_timeout.store(timeout_to_nanos(t)?, Ordering::Relaxed);
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.check_live()?;
        Ok(nanos_to_timeout(self.read_timeout.load(Ordering::Relaxed)))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.check_live()?;
        Ok(nanos_to_timeout(self.write_timeout.load(Ordering::Relaxed)))
    }

    /// `NotConnected` once the stack is shut down or the connection's handle released.
    fn check_live(&self) -> io::Result<()> {
        self.net.shared.lock().live(self.h)
    }

    /// The stack it lives on.
    pub fn net(&self) -> &NetStack {
        &self.net
    }

    /// The stack's handle of this connection (for [`NetStack::with_stack`]).
    pub fn handle(&self) -> SocketHandle {
        self.h
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read_shut.load(Ordering::Relaxed) || buf.is_empty() {
            self.check_live()?;
            return Ok(0);
        }
        let timeout = nanos_to_timeout(self.read_timeout.load(Ordering::Relaxed));
        blocking(&self.net.shared, self.h, timeout, |inner| {
            match inner.stack.tcp_recv(self.h, buf) {
                Ok(n) => Ok(n),
                Err(RecvError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(recv_error(e)),
            }
        })
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            self.check_live()?;
            return Ok(0);
        }
        let timeout = nanos_to_timeout(self.write_timeout.load(Ordering::Relaxed));
        blocking(&self.net.shared, self.h, timeout, |inner| {
            inner.stack.tcp_send(self.h, buf).map_err(send_error)
        })
    }
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
        self.check_live()
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.check_live()
    }
}

impl Drop for TcpStream {
    /// Closes like `close(2)`: a FIN after the queued data (a RST when received data was
    /// left unread, as Linux); the connection finishes in the background.
    fn drop(&mut self) {
        self.net.release(self.h);
    }
}
