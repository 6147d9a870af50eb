//! A blocking UDP socket shaped like `std::net::UdpSocket` (SPEC S23).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ustack_core::{SocketHandle, UdpSendError};

use super::tcp::{blocking, blocking_nudged};
use super::{NetStack, connect_error, resolve, udp_recv_error, udp_send_error};

/// A UDP socket (`std::net::UdpSocket`).
#[derive(Debug)]
pub struct UdpSocket {
    net: NetStack,
    h: SocketHandle,
    read_timeout: AtomicU64,
}

impl UdpSocket {
    /// Binds to `addr` (port 0: an ephemeral port).
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let h = net.open_udp(addr)?;
        Ok(UdpSocket { net: net.clone(), h, read_timeout: AtomicU64::new(0) })
    }

    /// Sets the peer: `send` goes there and only its datagrams are received. Can be called
    /// again to change it.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = resolve(addr)?;
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        inner.stack.udp_connect(self.h, addr).map_err(connect_error)
    }

    /// Forgets the peer (`connect(AF_UNSPEC)`).
    pub fn disconnect(&self) -> io::Result<()> {
        let mut inner = self.net.shared.lock();
        inner.live(self.h)?;
        inner.stack.udp_disconnect(self.h);
        Ok(())
    }

    /// Sends a datagram to the connected peer. When the stack's transmit queue is full, waits
    /// until the driver has emptied it, as a blocking send waits for buffer space.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_with(|inner, now| inner.stack.udp_send(now, self.h, buf))
    }

    /// Sends a datagram to `addr`, waiting for room like [`UdpSocket::send`].
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = resolve(addr)?;
        self.send_with(|inner, now| inner.stack.udp_send_to(now, self.h, addr, buf))
    }

    fn send_with(
        &self,
        mut send: impl FnMut(&mut super::Inner, ustack_core::Instant) -> Result<usize, UdpSendError>,
    ) -> io::Result<usize> {
        blocking_nudged(&self.net.shared, self.h, |inner| {
            let now = inner.now();
            let r = send(inner, now);
            send_or_wait(inner, self.h, r)
        })
    }

    /// Waits for a datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// Waits for a datagram; returns its length (only `buf.len()` bytes are kept) and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let t = self.read_timeout.load(Ordering::Relaxed);
        let timeout = (t != 0).then(|| Duration::from_nanos(t));
        let (n, from) = blocking(&self.net.shared, self.h, timeout, |inner| {
            inner.stack.udp_recv_from(self.h, buf).map_err(udp_recv_error)
        })?;
        Ok((n.min(buf.len()), from))
    }

    /// Bounds how long a receive waits (`None`: forever); expiry is `WouldBlock`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.net.shared.lock().live(self.h)?;
        if t.is_some_and(|d| d.is_zero()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        self.read_timeout.store(
            t.map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.udp_local_addr(self.h))
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        inner
            .stack
            .udp_peer_addr(self.h)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket not connected"))
    }

    /// Datagrams dropped because the receive queue was full.
    pub fn drops(&self) -> io::Result<u64> {
        let inner = self.net.shared.lock();
        inner.live(self.h)?;
        Ok(inner.stack.udp_drops(self.h))
    }
}

/// A send's outcome for both APIs: a full transmit queue becomes `WouldBlock` with `h`
/// registered to be woken once the driver has emptied the queue.
pub(crate) fn send_or_wait(
    inner: &mut super::Inner,
    h: SocketHandle,
    r: Result<usize, UdpSendError>,
) -> io::Result<usize> {
    match r {
        Err(UdpSendError::BufferFull) => {
            inner.wait_tx_room(h);
            Err(io::ErrorKind::WouldBlock.into())
        }
        r => r.map_err(udp_send_error),
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.net.release(self.h);
    }
}
