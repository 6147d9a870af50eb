//! UDP (RFC 768, SPEC S23): datagrams, no retransmission, no flow control. A socket is bound
//! to (address or 0.0.0.0, port); `connect` only records the peer (it can be changed, and
//! undone), and a connected socket takes datagrams from that peer only. A full receive queue
//! drops arriving datagrams and counts them.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;

use ustack_wire::{DstUnreachable, IpProtocol, Ipv4Repr, UdpPacket, UdpRepr};

use crate::Instant;
use crate::socket::{BindError, ConnectError, SocketHandle, UdpRecvError, UdpSendError};
use crate::stack::{IpOut, Socket, SocketEventKind, Stack};

/// How many read datagram buffers a socket keeps for reuse.
const SPARE_BUFFERS: usize = 16;
/// Only buffers up to this capacity are kept (one MTU-sized datagram and more), so an idle
/// socket holds at most 16 × 4 KiB.
const SPARE_MAX_CAPACITY: usize = 4096;

/// The largest UDP payload over IPv4: 65535 − 20 − 8.
pub const UDP_MAX_PAYLOAD: usize = 65_507;

/// A UDP socket.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    pub(crate) local: SocketAddrV4,
    pub(crate) peer: Option<SocketAddrV4>,
    /// Datagrams waiting: (sender, destination, payload).
    rx: VecDeque<(SocketAddrV4, SocketAddrV4, Vec<u8>)>,
    /// Buffers of datagrams already read, reused for the next ones: no allocation per
    /// datagram once the queue has reached its working depth.
    spare: Vec<Vec<u8>>,
    pub(crate) rx_bytes: usize,
    /// Datagrams dropped because the receive queue was full.
    pub(crate) drops: u64,
    /// An ICMP port unreachable arrived for the connected peer.
    refused: bool,
    /// `IP_TTL`, when set.
    pub(crate) ttl: Option<u8>,
    readable_signalled: bool,
}

impl UdpSocket {
    /// A socket bound to `local`, with nothing queued.
    pub(crate) fn new(local: SocketAddrV4) -> UdpSocket {
        UdpSocket {
            local,
            peer: None,
            rx: VecDeque::new(),
            spare: Vec::new(),
            rx_bytes: 0,
            drops: 0,
            refused: false,
            ttl: None,
            readable_signalled: false,
        }
    }

    /// Datagrams waiting to be read.
    pub(crate) fn queued(&self) -> usize {
        self.rx.len()
    }
}

impl Stack {
    /// Binds a UDP socket to `local` (`0.0.0.0` for every address; port 0 picks an ephemeral
    /// port). [`BindError::AddrInUse`] when another socket overlaps it.
    pub fn udp_bind(&mut self, local: SocketAddrV4) -> Result<SocketHandle, BindError> {
        if !self.is_bindable(*local.ip()) {
            return Err(BindError::AddrNotAvailable);
        }
        let ip = *local.ip();
        let port = if local.port() == 0 {
            let binds = &self.udp_binds;
            let ports = &self.udp_ports;
            // Linux `udp_lib_get_port`: only a port that passes the conflict check below;
            // 0.0.0.0 conflicts with a socket on any address of the port.
            self.ports
                .pick(ip, None, |p| {
                    if ip.is_unspecified() {
                        return !ports.contains_key(&p);
                    }
                    !binds.contains_key(&SocketAddrV4::new(ip, p))
                        && !binds.contains_key(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p))
                })
                .ok_or(BindError::NoEphemeralPort)?
        } else {
            local.port()
        };
        let local = SocketAddrV4::new(ip, port);
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        let conflict = if ip.is_unspecified() {
            self.udp_ports.contains_key(&port)
        } else {
            self.udp_binds.contains_key(&local) || self.udp_binds.contains_key(&any)
        };
        if conflict {
            return Err(BindError::AddrInUse);
        }
        let h = self.insert(Socket::Udp(UdpSocket::new(local)));
        self.udp_binds.insert(local, h);
        *self.udp_ports.entry(port).or_insert(0) += 1;
        Ok(h)
    }

    /// Records `remote` as the socket's peer: `udp_send` goes there and only its datagrams
    /// are received. Can be called again to change the peer.
    pub fn udp_connect(
        &mut self,
        h: SocketHandle,
        remote: SocketAddrV4,
    ) -> Result<(), ConnectError> {
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(ConnectError::InvalidDestination);
        }
        self.route(*remote.ip()).ok_or(ConnectError::NoRoute)?;
        let u = self.udp_mut(h);
        u.peer = Some(remote);
        u.refused = false;
        Ok(())
    }

    /// Forgets the peer (`connect(AF_UNSPEC)`): datagrams from anyone are received again.
    pub fn udp_disconnect(&mut self, h: SocketHandle) {
        let u = self.udp_mut(h);
        u.peer = None;
        u.refused = false;
    }

    /// Sends a datagram to the connected peer.
    pub fn udp_send(
        &mut self,
        now: Instant,
        h: SocketHandle,
        data: &[u8],
    ) -> Result<usize, UdpSendError> {
        let peer = self.udp_mut(h).peer.ok_or(UdpSendError::NotConnected)?;
        self.udp_send_to(now, h, peer, data)
    }

    /// Sends a datagram to `dst`. Larger than the interface MTU, it leaves in fragments.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: SocketHandle,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<usize, UdpSendError> {
        self.udp_send_inner(now, h, None, dst, data)
    }

    /// Sends from `from` (a source address and port other than the socket's own, e.g. the
    /// destination a datagram of the any-IP socket was sent to) when given, else from the
    /// socket's address.
    pub(crate) fn udp_send_inner(
        &mut self,
        _now: Instant,
        h: SocketHandle,
        from: Option<SocketAddrV4>,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<usize, UdpSendError> {
        if dst.ip().is_unspecified() || dst.port() == 0 {
            return Err(UdpSendError::InvalidDestination);
        }
        if data.len() > UDP_MAX_PAYLOAD {
            return Err(UdpSendError::TooLarge);
        }
        let u = self.udp_mut(h);
        if u.refused && u.peer.is_some() {
            u.refused = false;
            return Err(UdpSendError::Refused);
        }
        let local = from.unwrap_or(u.local);
        let ttl = u.ttl;
        if local.port() == 0 {
            return Err(UdpSendError::AddrNotAvailable);
        }
        let Some((iface, route_src)) = self.route(*dst.ip()) else {
            self.counters.ip_out_no_routes += 1;
            return Err(UdpSendError::NoRoute);
        };
        let src = if local.ip().is_unspecified() { route_src } else { *local.ip() };
        let repr = UdpRepr { src_port: local.port(), dst_port: dst.port(), payload: data };
        let ip = IpOut { src, dst: *dst.ip(), protocol: IpProtocol::UDP, dont_frag: true, ttl };
        let queued = self.queue_datagram(iface, ip, repr.buffer_len(), |out| {
            repr.emit(&mut UdpPacket::new_unchecked(out), src, *dst.ip());
        });
        if !queued {
            return Err(UdpSendError::BufferFull);
        }
        self.counters.udp_out_datagrams += 1;
        Ok(data.len())
    }

    /// Takes the oldest datagram: copies it into `buf` (the part that does not fit is
    /// discarded, as `recvfrom` does) and returns its full length and sender.
    pub fn udp_recv_from(
        &mut self,
        h: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4), UdpRecvError> {
        self.udp_recv_from_to(h, buf).map(|(n, from, _)| (n, from))
    }

    /// [`Stack::udp_recv_from`] that also tells where the datagram was sent: the address and
    /// port it was addressed to (for the any-IP socket, what the sender dialled; Linux's
    /// `IP_ORIGDSTADDR`).
    pub fn udp_recv_from_to(
        &mut self,
        h: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4, SocketAddrV4), UdpRecvError> {
        let u = self.udp_mut(h);
        u.readable_signalled = false;
        if u.refused && u.peer.is_some() {
            u.refused = false;
            return Err(UdpRecvError::Refused);
        }
        let (from, to, data) = u.rx.pop_front().ok_or(UdpRecvError::WouldBlock)?;
        u.rx_bytes -= data.len();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let len = data.len();
        if u.spare.len() < SPARE_BUFFERS && data.capacity() <= SPARE_MAX_CAPACITY {
            u.spare.push(data);
        }
        Ok((len, from, to))
    }

    /// Copies the oldest datagram into `buf` without taking it (`MSG_PEEK`): its full
    /// length, sender and destination, as [`Stack::udp_recv_from_to`] would return them.
    pub fn udp_peek_from_to(
        &mut self,
        h: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4, SocketAddrV4), UdpRecvError> {
        let u = self.udp_mut(h);
        if u.refused && u.peer.is_some() {
            u.refused = false;
            return Err(UdpRecvError::Refused);
        }
        let (from, to, data) = u.rx.front().ok_or(UdpRecvError::WouldBlock)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((data.len(), *from, *to))
    }

    /// Takes the socket's pending error (`SO_ERROR`): an ICMP port unreachable for its
    /// connected peer, reported once, here or by the next send or receive.
    pub fn udp_take_error(&mut self, h: SocketHandle) -> Option<UdpRecvError> {
        let u = self.udp_mut(h);
        let refused = u.refused && u.peer.is_some();
        u.refused = false;
        refused.then_some(UdpRecvError::Refused)
    }

    /// The address a UDP socket is bound to.
    pub fn udp_local_addr(&self, h: SocketHandle) -> SocketAddrV4 {
        match self.slot(h) {
            Some(Socket::Udp(u)) => u.local,
            _ => panic!("{h} is not a UDP socket"),
        }
    }

    /// The connected peer, if any.
    pub fn udp_peer_addr(&self, h: SocketHandle) -> Option<SocketAddrV4> {
        match self.slot(h) {
            Some(Socket::Udp(u)) => u.peer,
            _ => panic!("{h} is not a UDP socket"),
        }
    }

    /// Datagrams this socket dropped because its receive queue was full.
    pub fn udp_drops(&self, h: SocketHandle) -> u64 {
        match self.slot(h) {
            Some(Socket::Udp(u)) => u.drops,
            _ => panic!("{h} is not a UDP socket"),
        }
    }

    fn udp_mut(&mut self, h: SocketHandle) -> &mut UdpSocket {
        match self.socket_mut(h) {
            Some(Socket::Udp(u)) => u,
            _ => panic!("{h} is not a live UDP socket"),
        }
    }

    pub(crate) fn close_udp(&mut self, h: SocketHandle) {
        if let Some(Socket::Udp(u)) = self.remove(h) {
            if self.udp_is_any_socket(h) {
                self.any_ip_closed(h);
                return;
            }
            self.udp_binds.remove(&u.local);
            crate::tcp::release_port(&mut self.udp_ports, u.local.port());
        }
    }

    /// The socket a datagram from `remote` to `local` belongs to: bound to the address or
    /// to any, and, when connected, connected to `remote` (Linux `compute_score`).
    pub(crate) fn udp_lookup(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Option<SocketHandle> {
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port());
        [local, any]
            .into_iter()
            .find_map(|addr| {
                let h = *self.udp_binds.get(&addr)?;
                match self.slot(h) {
                    Some(Socket::Udp(u)) if u.peer.is_none_or(|p| p == remote) => Some(h),
                    _ => None,
                }
            })
            .or_else(|| self.any_ip_udp_for(*local.ip()))
    }

    pub(crate) fn udp_input(&mut self, now: Instant, _iface: usize, ip: &Ipv4Repr, payload: &[u8]) {
        let Ok(view) = UdpPacket::new_checked(payload) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let Ok(repr) = UdpRepr::parse(&view, ip.src, ip.dst) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let local = SocketAddrV4::new(ip.dst, repr.dst_port);
        let remote = SocketAddrV4::new(ip.src, repr.src_port);
        let Some(h) = self.udp_lookup(local, remote) else {
            // RFC 1122 §4.1.3.1: port unreachable for a datagram no socket takes.
            self.counters.udp_no_ports += 1;
            self.send_dst_unreachable(now, DstUnreachable::PortUnreachable, ip, payload);
            return;
        };
        let limit = self.cfg.udp_rmem;
        let Some(Socket::Udp(u)) = self.socket_mut(h) else { return };
        let len = repr.payload.len();
        // Linux `__udp_enqueue_schedule_skb`: past the receive buffer, drop and count.
        if u.rx_bytes + len > limit && !u.rx.is_empty() {
            u.drops += 1;
            self.counters.udp_rcvbuf_errors += 1;
            return;
        }
        let mut data = u.spare.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(repr.payload);
        u.rx.push_back((remote, local, data));
        u.rx_bytes += len;
        let signal = !u.readable_signalled;
        u.readable_signalled = true;
        self.counters.udp_in_datagrams += 1;
        if signal {
            self.push_event(h, SocketEventKind::UdpReadable);
        }
    }

    /// An ICMP port unreachable quoting a datagram we sent from `local` to `remote`.
    pub(crate) fn udp_icmp_refused(&mut self, local: SocketAddrV4, remote: SocketAddrV4) {
        let Some(h) = self.udp_lookup(local, remote) else { return };
        let Some(Socket::Udp(u)) = self.socket_mut(h) else { return };
        if u.peer == Some(remote) {
            u.refused = true;
            self.push_event(h, SocketEventKind::UdpError);
        }
    }
}
