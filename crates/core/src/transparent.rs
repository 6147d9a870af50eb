//! Transparent (any-IP) mode: the stack answers for every address a device routes to it, as
//! a tun2socks or VPN program needs (gVisor's netstack calls it promiscuous mode with
//! spoofing, smoltcp `any_ip`, Linux `IP_TRANSPARENT` with a TPROXY rule).
//!
//! Off by default. With [`Stack::set_transparent`] on:
//!
//! - A TCP segment, UDP datagram or ICMP (ICMPv6) error that arrives **on a device
//!   interface** addressed to any unicast address, IPv4 or IPv6, is taken as if that address
//!   were the stack's own. What is still refused: broadcast, multicast, 0.0.0.0 and `::`,
//!   127.0.0.0/8 and `::1`, the directed broadcast of an interface's network, IPv6
//!   link-local (fe80::/10) and IPv4-mapped addresses; other protocols; echo requests to
//!   addresses not ours (the stack does not answer pings for hosts it is not). Nothing
//!   changes for packets that come round the loopback interface.
//! - A connection to a dialled address `D:p` has `D:p` as its local address (what
//!   `getsockname` returns, and what the application reads to learn where the client meant
//!   to go), and everything the stack sends on it leaves from `D:p`.
//! - TCP demux keeps its specificity order and adds one last step: the exact 4-tuple, then a
//!   listener on `(D, p)`, then a listener on `(0.0.0.0, p)`, then the **any-IP listener**
//!   ([`Stack::tcp_listen_any`]) that takes every port of every address not the stack's own.
//!   Connections to the stack's own addresses never reach the any-IP listener: a port nobody
//!   listens on there is refused with a RST as before, so a program relaying what it accepts
//!   cannot be made to relay to itself.
//! - UDP demux likewise: a socket bound to `(D, p)`, then `(0.0.0.0, p)`, then the **any-IP
//!   UDP socket** ([`Stack::udp_bind_any`]), whose datagrams carry their destination
//!   ([`Stack::udp_recv_from_to`]) and whose replies name their source
//!   ([`Stack::udp_send_from_to`]).
//! - Binding to an address that is not the stack's own is allowed (Linux needs
//!   `IP_TRANSPARENT` or `ip_nonlocal_bind` for it), so a listener on one dialled address and
//!   port can take that destination while the any-IP listener takes the rest.
//!
//! Replies leave through the interface the route to the peer names; a device that routes a
//! destination to the stack must route the stack's replies back the same way, as the kernel
//! does for a TUN device.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::socket::{BindError, SocketHandle};
use crate::stack::{Socket, Stack};

/// The any-IP state of a stack.
#[derive(Debug, Default)]
pub(crate) struct AnyIp {
    /// Transparent mode is on.
    pub(crate) on: bool,
    /// The listener that takes every port of every non-local address.
    pub(crate) tcp: Option<SocketHandle>,
    /// The UDP socket that takes every port of every non-local address.
    pub(crate) udp: Option<SocketHandle>,
}

impl Stack {
    /// Switches transparent (any-IP) mode on or off (module documentation). Turning it off
    /// leaves connections already accepted alone; new packets to addresses not the stack's
    /// own are dropped again.
    pub fn set_transparent(&mut self, on: bool) {
        self.any_ip.on = on;
    }

    /// Whether transparent mode is on.
    pub fn transparent(&self) -> bool {
        self.any_ip.on
    }

    /// Opens the any-IP listener: in transparent mode, it takes connections to every port of
    /// every address that is not the stack's own and that no listener on `(address, port)` or
    /// `(0.0.0.0, port)` takes. Its connections' local addresses are what the client dialled.
    /// One per stack ([`BindError::AddrInUse`] for a second); it may be opened while
    /// transparent mode is off, and then receives nothing until it is turned on. Its
    /// connections start with the stack's TCP settings; close it with [`Stack::close`].
    pub fn tcp_listen_any(&mut self, backlog: u32) -> Result<SocketHandle, BindError> {
        let tcp = self.cfg.tcp;
        self.tcp_listen_any_with(backlog, &tcp)
    }

    /// [`Stack::tcp_listen_any`] whose connections start with `tcp`.
    pub fn tcp_listen_any_with(
        &mut self,
        backlog: u32,
        tcp: &ustack_tcp::TcpConfig,
    ) -> Result<SocketHandle, BindError> {
        debug_assert_eq!(tcp.validate(), Ok(()));
        if self.any_ip.tcp.is_some() {
            return Err(BindError::AddrInUse);
        }
        let h = self.insert(Socket::Listener(Box::new(crate::tcp::Listener::new(
            core::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into(),
            backlog.clamp(1, self.cfg.somaxconn),
            tcp,
            &self.cfg,
        ))));
        self.any_ip.tcp = Some(h);
        Ok(h)
    }

    /// Whether `h` is the any-IP listener.
    pub fn tcp_is_any_listener(&self, h: SocketHandle) -> bool {
        self.any_ip.tcp == Some(h)
    }

    /// Opens the any-IP UDP socket: in transparent mode, it receives datagrams to every port
    /// of every address that is not the stack's own and that no socket bound to
    /// `(address, port)` or `(0.0.0.0, port)` takes. Read them with
    /// [`Stack::udp_recv_from_to`] (which tells the destination) and answer with
    /// [`Stack::udp_send_from_to`]. One per stack; close it with [`Stack::close`].
    pub fn udp_bind_any(&mut self) -> Result<SocketHandle, BindError> {
        if self.any_ip.udp.is_some() {
            return Err(BindError::AddrInUse);
        }
        let any = core::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        let h = self.insert(Socket::Udp(Box::new(crate::udp::UdpSocket::new(any.into()))));
        self.any_ip.udp = Some(h);
        Ok(h)
    }

    /// Whether `h` is the any-IP UDP socket.
    pub fn udp_is_any_socket(&self, h: SocketHandle) -> bool {
        self.any_ip.udp == Some(h)
    }

    /// Forgets `h` if it is one of the any-IP sockets (it is being closed).
    pub(crate) fn any_ip_closed(&mut self, h: SocketHandle) {
        if self.any_ip.tcp == Some(h) {
            self.any_ip.tcp = None;
        }
        if self.any_ip.udp == Some(h) {
            self.any_ip.udp = None;
        }
    }

    /// Whether a packet to `dst` of `protocol` arriving on `iface` is for this stack: `dst`
    /// is one of its addresses, or transparent mode takes it.
    pub(crate) fn accepts_dst(
        &self,
        iface: usize,
        dst: Ipv4Addr,
        protocol: ustack_wire::IpProtocol,
    ) -> bool {
        use ustack_wire::IpProtocol;
        self.is_local(dst.into())
            || (self.any_ip.on
                && iface != Stack::LOOPBACK
                && matches!(protocol, IpProtocol::TCP | IpProtocol::UDP | IpProtocol::ICMP)
                && self.is_any_ip_addr(dst))
    }

    /// Whether transparent mode may stand for `addr`, of either family
    /// ([`Stack::is_any_ip_addr`], [`Stack::is_any_ip_addr6`]).
    pub(crate) fn is_any_ip(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.is_any_ip_addr(a),
            IpAddr::V6(a) => self.is_any_ip_addr6(a),
        }
    }

    /// Whether transparent mode may stand for the IPv6 `addr`: a unicast address beyond the
    /// link that is not ours: not `::`, not `::1`, not multicast, not link-local (fe80::/10:
    /// the link's own neighbours, which ND answers for, not a route), not IPv4-mapped (never
    /// on the wire, RFC 4291 §2.5.5.2).
    pub(crate) fn is_any_ip_addr6(&self, addr: Ipv6Addr) -> bool {
        !(addr.is_unspecified()
            || addr.is_loopback()
            || addr.is_multicast()
            || addr.is_unicast_link_local()
            || addr.to_ipv4_mapped().is_some()
            || self.is_local(addr.into()))
    }

    /// Whether transparent mode may stand for `addr`: a unicast address that is not ours,
    /// not 0.0.0.0, not in 127.0.0.0/8, and not an interface network's directed broadcast.
    pub(crate) fn is_any_ip_addr(&self, addr: Ipv4Addr) -> bool {
        let directed = self.ifaces.iter().filter_map(|i| i.ipv4).any(|c| {
            c.prefix_len() < 31
                && u32::from(addr) == u32::from(c.network()) | !u32::from(c.netmask())
        });
        !(addr.is_unspecified()
            || addr.is_broadcast()
            || addr.octets()[0] >= 224
            || addr.is_loopback()
            || directed
            || self.is_local(addr.into()))
    }

    /// The any-IP listener, for a SYN to `local`, which no listener on its address or on
    /// the wildcard took: only in transparent mode and only for addresses not the stack's own.
    pub(crate) fn any_ip_listener_for(&self, local: IpAddr) -> Option<SocketHandle> {
        self.any_ip.tcp.filter(|_| self.any_ip.on && !self.is_local(local))
    }

    /// The any-IP UDP socket, for a datagram to `local` that no bound socket took.
    pub(crate) fn any_ip_udp_for(&self, local: IpAddr) -> Option<SocketHandle> {
        self.any_ip.udp.filter(|_| self.any_ip.on && !self.is_local(local))
    }
}

impl Stack {
    /// Sends a datagram from `from` to `to` on UDP socket `h`: the any-IP socket's reply to
    /// a datagram it received (`from` is where that datagram was sent, so the reply comes
    /// from the address the peer dialled), or any socket's datagram with a source of its
    /// choosing. `from` must be an address the stack may bind (its own, or in transparent mode
    /// any unicast address) with a port; else [`crate::UdpSendError::AddrNotAvailable`].
    pub fn udp_send_from_to(
        &mut self,
        now: crate::Instant,
        h: SocketHandle,
        from: impl Into<core::net::SocketAddr>,
        to: impl Into<core::net::SocketAddr>,
        data: &[u8],
    ) -> Result<usize, crate::UdpSendError> {
        let from = crate::addr::canonical(from.into());
        if from.port() == 0 || from.ip().is_unspecified() || !self.is_bindable(from.ip()) {
            return Err(crate::UdpSendError::AddrNotAvailable);
        }
        self.udp_send_inner(now, h, Some(from), to.into(), data)
    }
}
