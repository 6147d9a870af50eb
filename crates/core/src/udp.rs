//! UDP (RFC 768, SPEC S23): datagrams, no retransmission, no flow control. A socket is bound
//! to (address or 0.0.0.0, port); `connect` only records the peer (it can be changed, and
//! undone), and a connected socket takes datagrams from that peer only. A full receive queue
//! drops arriving datagrams and counts them.
//!
//! Both families, with the dual-stack rules of `crate::bind`: a socket bound to `::` takes
//! IPv4 datagrams too unless IPV6_V6ONLY, and an IPv6 socket shows IPv4 peers as IPv4-mapped
//! addresses (RFC 3493 §3.7). Over IPv6 a datagram larger than the path MTU leaves in
//! fragments (`crate::ipv6`), and a datagram to a closed port is answered by an ICMPv6
//! port unreachable.

use core::net::{IpAddr, SocketAddr};
use std::collections::VecDeque;

use ustack_wire::{DstUnreachable, IpProtocol, UdpPacket, UdpRepr};

use crate::addr::{canonical, mapped};
use crate::stack::Invoking;

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

/// The largest UDP payload over IPv6: 65535 − 8 (the Payload Length does not count the fixed
/// header; no jumbograms).
pub const UDP6_MAX_PAYLOAD: usize = 65_527;

/// A UDP socket.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    /// Bound address, canonical (`crate::addr::canonical`).
    pub(crate) local: SocketAddr,
    /// Connected peer, canonical.
    pub(crate) peer: Option<SocketAddr>,
    /// IPV6_V6ONLY (matters on `::` only).
    pub(crate) v6only: bool,
    /// An IPv6 socket: IPv4 addresses are shown IPv4-mapped.
    pub(crate) v6: bool,
    /// Datagrams waiting: (sender, destination, payload), canonical.
    rx: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
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
    pub(crate) fn new(local: SocketAddr) -> UdpSocket {
        UdpSocket {
            local,
            peer: None,
            v6only: false,
            v6: false,
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
    /// Binds a UDP socket to `local` (`0.0.0.0` for every IPv4 address, `::` for every IPv6
    /// address and, unless `bindv6only`, every IPv4 one; port 0 picks an ephemeral port).
    /// [`BindError::AddrInUse`] when another socket overlaps it.
    pub fn udp_bind(&mut self, local: impl Into<SocketAddr>) -> Result<SocketHandle, BindError> {
        let v6only = self.cfg.bindv6only;
        self.udp_bind_v6only(local.into(), v6only)
    }

    /// [`Stack::udp_bind`] with IPV6_V6ONLY given for this socket.
    pub fn udp_bind_v6only(
        &mut self,
        local: SocketAddr,
        v6only: bool,
    ) -> Result<SocketHandle, BindError> {
        let v6 = local.is_ipv6();
        let local = canonical(local);
        let v6only = v6only && local.is_ipv6();
        if !self.is_bindable(local.ip()) || (v6 && local.is_ipv4() && self.cfg.bindv6only) {
            return Err(BindError::AddrNotAvailable);
        }
        let ip = local.ip();
        let port = if local.port() == 0 {
            let (binds, shard) = (&self.udp_binds, self.shard);
            // Linux `udp_lib_get_port`: only a port that passes the conflict check below,
            // and on a shard only one the device steers to it (`crate::steering`).
            self.ports
                .pick(ip, None, |p| {
                    !binds.conflicts(SocketAddr::new(ip, p), v6only)
                        && shard.is_none_or(|s| s.takes(IpProtocol::UDP, 0, p))
                })
                .ok_or(BindError::NoEphemeralPort)?
        } else {
            local.port()
        };
        let local = SocketAddr::new(ip, port);
        if self.udp_binds.conflicts(local, v6only) {
            return Err(BindError::AddrInUse);
        }
        let mut sock = UdpSocket::new(local);
        sock.v6only = v6only;
        sock.v6 = v6;
        let h = self.insert(Socket::Udp(Box::new(sock)));
        self.udp_binds.insert(local, v6only, h);
        Ok(h)
    }

    /// Records `remote` as the socket's peer: `udp_send` goes there and only its datagrams
    /// are received. Can be called again to change the peer.
    pub fn udp_connect(
        &mut self,
        h: SocketHandle,
        remote: impl Into<SocketAddr>,
    ) -> Result<(), ConnectError> {
        let remote = canonical(remote.into());
        if remote.ip().is_unspecified() || remote.port() == 0 || !self.udp_family_ok(h, remote) {
            return Err(ConnectError::InvalidDestination);
        }
        self.route(remote.ip()).ok_or(ConnectError::NoRoute)?;
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

    /// Whether socket `h` can reach `remote` (canonical): an IPv4 socket only IPv4
    /// addresses, an IPv6 one IPv6 addresses and, unless V6ONLY, IPv4-mapped ones.
    fn udp_family_ok(&mut self, h: SocketHandle, remote: SocketAddr) -> bool {
        let u = self.udp_mut(h);
        match (u.v6, remote.is_ipv6()) {
            (false, v6) => !v6,
            (true, true) => !u.local.is_ipv4(),
            (true, false) => !u.v6only && (u.local.is_ipv4() || u.local.ip().is_unspecified()),
        }
    }

    /// Sends a datagram to `dst`. Larger than the path MTU, it leaves in fragments.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: SocketHandle,
        dst: impl Into<SocketAddr>,
        data: &[u8],
    ) -> Result<usize, UdpSendError> {
        self.udp_send_inner(now, h, None, dst.into(), data)
    }

    /// Sends from `from` (a source address and port other than the socket's own, e.g. the
    /// destination a datagram of the any-IP socket was sent to) when given, else from the
    /// socket's address.
    pub(crate) fn udp_send_inner(
        &mut self,
        _now: Instant,
        h: SocketHandle,
        from: Option<SocketAddr>,
        dst: SocketAddr,
        data: &[u8],
    ) -> Result<usize, UdpSendError> {
        let dst = canonical(dst);
        // The any-IP socket answers in either family, from the address it was sent to.
        let family_ok = if self.udp_is_any_socket(h) {
            from.is_none_or(|f| canonical(f).is_ipv4() == dst.is_ipv4())
        } else {
            self.udp_family_ok(h, dst)
        };
        if dst.ip().is_unspecified() || dst.port() == 0 || !family_ok {
            return Err(UdpSendError::InvalidDestination);
        }
        let max = if dst.is_ipv6() { UDP6_MAX_PAYLOAD } else { UDP_MAX_PAYLOAD };
        if data.len() > max {
            return Err(UdpSendError::TooLarge);
        }
        let u = self.udp_mut(h);
        if u.refused && u.peer.is_some() {
            u.refused = false;
            return Err(UdpSendError::Refused);
        }
        let local = from.map_or(u.local, canonical);
        let ttl = u.ttl;
        if local.port() == 0 {
            return Err(UdpSendError::AddrNotAvailable);
        }
        let Some((iface, route_src)) = self.route(dst.ip()) else {
            self.counters.ip_out_no_routes += 1;
            return Err(UdpSendError::NoRoute);
        };
        let src = if local.ip().is_unspecified() { route_src } else { local.ip() };
        let repr = UdpRepr { src_port: local.port(), dst_port: dst.port(), payload: data };
        let ip = IpOut { src, dst: dst.ip(), protocol: IpProtocol::UDP, dont_frag: true, ttl };
        let queued = self.queue_datagram(iface, ip, repr.buffer_len(), |out| {
            let mut packet = UdpPacket::new_unchecked(out);
            match (src, dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => repr.emit(&mut packet, s, d),
                (IpAddr::V6(s), IpAddr::V6(d)) => repr.emit(&mut packet, s, d),
                _ => {}
            }
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
    ) -> Result<(usize, SocketAddr), UdpRecvError> {
        self.udp_recv_from_to(h, buf).map(|(n, from, _)| (n, from))
    }

    /// [`Stack::udp_recv_from`] that also tells where the datagram was sent: the address and
    /// port it was addressed to (for the any-IP socket, what the sender dialled; Linux's
    /// `IP_ORIGDSTADDR`). IPv4-mapped on an IPv6 socket.
    pub fn udp_recv_from_to(
        &mut self,
        h: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), UdpRecvError> {
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
        let show = |a| if u.v6 { mapped(a) } else { a };
        Ok((len, show(from), show(to)))
    }

    /// Copies the oldest datagram into `buf` without taking it (`MSG_PEEK`): its full
    /// length, sender and destination, as [`Stack::udp_recv_from_to`] would return them.
    pub fn udp_peek_from_to(
        &mut self,
        h: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), UdpRecvError> {
        let u = self.udp_mut(h);
        if u.refused && u.peer.is_some() {
            u.refused = false;
            return Err(UdpRecvError::Refused);
        }
        let (from, to, data) = u.rx.front().ok_or(UdpRecvError::WouldBlock)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let show = |a| if u.v6 { mapped(a) } else { a };
        Ok((data.len(), show(*from), show(*to)))
    }

    /// Takes the socket's pending error (`SO_ERROR`): an ICMP port unreachable for its
    /// connected peer, reported once, here or by the next send or receive.
    pub fn udp_take_error(&mut self, h: SocketHandle) -> Option<UdpRecvError> {
        let u = self.udp_mut(h);
        let refused = u.refused && u.peer.is_some();
        u.refused = false;
        refused.then_some(UdpRecvError::Refused)
    }

    /// The address a UDP socket is bound to (IPv4-mapped on an IPv6 socket bound to one).
    pub fn udp_local_addr(&self, h: SocketHandle) -> SocketAddr {
        match self.slot(h) {
            Some(Socket::Udp(u)) if u.v6 => mapped(u.local),
            Some(Socket::Udp(u)) => u.local,
            _ => panic!("{h} is not a UDP socket"),
        }
    }

    /// The connected peer, if any.
    pub fn udp_peer_addr(&self, h: SocketHandle) -> Option<SocketAddr> {
        match self.slot(h) {
            Some(Socket::Udp(u)) if u.v6 => u.peer.map(mapped),
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
            self.udp_binds.remove(u.local, u.v6only);
        }
    }

    /// The socket a datagram from `remote` to `local` belongs to: bound to the address, to
    /// any address of its family, or (IPv4) to a dual-stack `::`, and, when connected,
    /// connected to `remote` (Linux `compute_score`); else, in transparent mode, the any-IP
    /// socket.
    pub(crate) fn udp_lookup(&self, local: SocketAddr, remote: SocketAddr) -> Option<SocketHandle> {
        self.udp_binds
            .candidates(local)
            .find(|&h| match self.slot(h) {
                Some(Socket::Udp(u)) => u.peer.is_none_or(|p| p == remote),
                _ => false,
            })
            .or_else(|| self.any_ip_udp_for(local.ip()))
    }

    pub(crate) fn udp_input(
        &mut self,
        now: Instant,
        _iface: usize,
        from: Invoking<'_>,
        payload: &[u8],
    ) {
        let Ok(view) = UdpPacket::new_checked(payload) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let parsed = match from {
            Invoking::V4 { header, .. } => UdpRepr::parse(&view, header.src, header.dst),
            Invoking::V6 { src, dst, .. } => UdpRepr::parse(&view, src, dst),
        };
        let Ok(repr) = parsed else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let (remote, local) = from.ends(repr.src_port, repr.dst_port);
        let Some(h) = self.udp_lookup(local, remote) else {
            // RFC 1122 §4.1.3.1 (RFC 4443 §3.1 over IPv6): port unreachable for a datagram
            // no socket takes.
            self.counters.udp_no_ports += 1;
            match from {
                Invoking::V4 { header, payload } => {
                    self.send_dst_unreachable(now, DstUnreachable::PortUnreachable, header, payload)
                }
                Invoking::V6 { packet, .. } => self.send_dst_unreachable_v6(
                    now,
                    ustack_wire::icmpv6::DstUnreachable::PortUnreachable,
                    packet,
                ),
            }
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
    pub(crate) fn udp_icmp_refused(&mut self, local: SocketAddr, remote: SocketAddr) {
        let Some(h) = self.udp_lookup(local, remote) else { return };
        let Some(Socket::Udp(u)) = self.socket_mut(h) else { return };
        if u.peer == Some(remote) {
            u.refused = true;
            self.push_event(h, SocketEventKind::UdpError);
        }
    }
}
