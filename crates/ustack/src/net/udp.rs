//! A blocking UDP socket shaped like `std::net::UdpSocket` (SPEC S23).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ustack_core::{SocketHandle, UdpSendError};

use super::sock::{Kind, Sock};
use super::{NetStack, connect_error, resolve, udp_recv_error, udp_send_error};

/// A UDP socket (`std::net::UdpSocket`).
#[derive(Debug)]
pub struct UdpSocket {
    pub(crate) sock: Arc<Sock>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0: an ephemeral port).
    /// An address of either family: `[::]` takes IPv4 datagrams too (their sender seen as
    /// `::ffff:a.b.c.d`) unless `net.ipv6.bindv6only` is set.
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let h = net.open_udp(addr, None)?;
        Ok(UdpSocket::from_handle(net, h))
    }

    /// [`UdpSocket::bind`] with `IPV6_V6ONLY` set to `only_v6` (it matters for `[::]` only:
    /// true takes IPv6 datagrams only and leaves the port's IPv4 side to another socket).
    pub fn bind_only_v6(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        only_v6: bool,
    ) -> io::Result<UdpSocket> {
        let h = net.open_udp(addr, Some(only_v6))?;
        Ok(UdpSocket::from_handle(net, h))
    }

    /// `IPV6_V6ONLY`: whether the socket, bound to `[::]`, takes IPv6 datagrams only (false
    /// for other addresses).
    pub fn only_v6(&self) -> io::Result<bool> {
        self.sock.with(|inner| inner.stack.v6only(self.sock.h))
    }

    /// The any-IP UDP socket of a stack in transparent mode ([`crate::NetConfig::transparent`]):
    /// it receives datagrams to every port of every address the device delivers that is not
    /// the stack's own and that no socket bound to `(address, port)` or `(0.0.0.0, port)`
    /// takes. [`UdpSocket::recv_from_to`] tells where each was sent; answer with
    /// [`UdpSocket::send_from_to`] so the reply comes from that address. One per stack;
    /// `InvalidInput` when the stack is not transparent.
    pub fn bind_any(net: &NetStack) -> io::Result<UdpSocket> {
        let h = net.open_any_udp()?;
        Ok(UdpSocket::from_handle(net, h))
    }

    pub(crate) fn from_handle(net: &NetStack, h: SocketHandle) -> UdpSocket {
        UdpSocket { sock: Arc::new(Sock::new(net, h, Kind::Udp)) }
    }

    /// Sets the peer: `send` goes there and only its datagrams are received. Can be called
    /// again to change it.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = resolve(addr)?;
        self.sock.with(|inner| inner.stack.udp_connect(self.sock.h, addr))?.map_err(connect_error)
    }

    /// Forgets the peer (`connect(AF_UNSPEC)`).
    pub fn disconnect(&self) -> io::Result<()> {
        self.sock.with(|inner| inner.stack.udp_disconnect(self.sock.h))
    }

    /// Sends a datagram to the connected peer. When the stack's transmit queue is full, waits
    /// until the driver has emptied it, as a blocking send waits for buffer space.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let h = self.sock.h;
        self.send_with(|inner, now| inner.stack.udp_send(now, h, buf))
    }

    /// Sends a datagram to `addr`, waiting for room like [`UdpSocket::send`].
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = resolve(addr)?;
        let h = self.sock.h;
        self.send_with(|inner, now| inner.stack.udp_send_to(now, h, addr, buf))
    }

    /// Sends a datagram to `to` from `from` (Linux: `sendmsg` with `IP_PKTINFO` on an
    /// `IP_TRANSPARENT` socket): the any-IP socket's reply from the address a datagram was
    /// sent to. `from` must be the stack's own address or, in transparent mode, any unicast
    /// address, with a port (`AddrNotAvailable` otherwise).
    pub fn send_from_to(&self, buf: &[u8], from: SocketAddr, to: SocketAddr) -> io::Result<usize> {
        let h = self.sock.h;
        self.send_with(|inner, now| inner.stack.udp_send_from_to(now, h, from, to, buf))
    }

    fn send_with(
        &self,
        mut send: impl FnMut(&mut super::Inner, ustack_core::Instant) -> Result<usize, UdpSendError>,
    ) -> io::Result<usize> {
        let h = self.sock.h;
        let op = |inner: &mut super::Inner| {
            let now = inner.now();
            let r = send(inner, now);
            send_or_wait(inner, h, r)
        };
        if self.sock.nonblocking() {
            return self.sock.wait(None, op);
        }
        super::tcp::blocking_nudged(self.sock.shared(), h, self.sock.write_timeout(), op)
    }

    /// Waits for a datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// Waits for a datagram; returns its length (only `buf.len()` bytes are kept) and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_to(buf).map(|(n, from, _)| (n, from))
    }

    /// [`UdpSocket::recv_from`] that also tells where the datagram was sent (Linux
    /// `IP_ORIGDSTADDR`): for the any-IP socket, the address and port the sender dialled.
    pub fn recv_from_to(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, SocketAddr)> {
        let h = self.sock.h;
        let (n, from, to) = self.sock.wait(self.sock.read_timeout(), |inner| {
            inner.stack.udp_recv_from_to(h, buf).map_err(udp_recv_error)
        })?;
        Ok((n.min(buf.len()), from, to))
    }

    /// Copies the next datagram into `buf` without taking it (`MSG_PEEK`); waits like
    /// [`UdpSocket::recv_from`].
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let h = self.sock.h;
        let (n, from, _) = self.sock.wait(self.sock.read_timeout(), |inner| {
            inner.stack.udp_peek_from_to(h, buf).map_err(udp_recv_error)
        })?;
        Ok((n.min(buf.len()), from))
    }

    /// [`UdpSocket::peek_from`] without the sender.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.peek_from(buf).map(|(n, _)| n)
    }

    /// Bounds how long a receive waits (`None`: forever); expiry is `WouldBlock`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.sock.check_live()?;
        Ok(self.sock.read_timeout())
    }

    /// Bounds how long a send waits for room in the stack's transmit queue; expiry is
    /// `WouldBlock`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(t)
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.sock.check_live()?;
        Ok(self.sock.write_timeout())
    }

    /// Non-blocking mode: receives return `WouldBlock` when nothing is queued, sends when
    /// the transmit queue is full.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.sock.set_nonblocking(nonblocking)
    }

    /// Another handle to the same socket (`dup`).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        self.sock.check_live()?;
        Ok(UdpSocket { sock: Arc::clone(&self.sock) })
    }

    /// `IP_TTL`: the TTL of the datagrams it sends (IPv4; IPv6 datagrams carry
    /// `net.ipv6.conf.default.hop_limit`).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// `SO_ERROR`: an ICMP port unreachable for the connected peer (`ConnectionRefused`),
    /// reported once.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let r = self.sock.with(|inner| inner.stack.udp_take_error(self.sock.h))?;
        Ok(r.map(udp_recv_error))
    }

    /// Our address (`0.0.0.0:0` for the any-IP socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.with(|inner| inner.stack.udp_local_addr(self.sock.h))
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock
            .with(|inner| inner.stack.udp_peer_addr(self.sock.h))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket not connected"))
    }

    /// Datagrams dropped because the receive queue was full.
    pub fn drops(&self) -> io::Result<u64> {
        self.sock.with(|inner| inner.stack.udp_drops(self.sock.h))
    }

    /// The stack it lives on.
    pub fn net(&self) -> &NetStack {
        &self.sock.net
    }

    /// The stack's handle of this socket (for [`NetStack::with_stack`]).
    pub fn handle(&self) -> SocketHandle {
        self.sock.h
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
