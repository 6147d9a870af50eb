//! TCP in the host: demux of arriving segments, listeners with a SYN queue and an accept
//! queue (SPEC S4), port use and bind rules (SPEC S13, S25), and the TCP socket API.
//!
//! Demux (after gVisor's `transport_demuxer.go`): the exact 4-tuple (connections from
//! SYN-RECEIVED to TIME-WAIT), then a listener on (local address, port), then on the
//! unspecified address of the packet's family, then (IPv4 only) a dual-stack listener on `::`
//! (`crate::bind`), then in transparent mode the any-IP listener ([`crate::transparent`]),
//! else a RST (RFC 9293 §3.10.7.1).
//!
//! Both families: a connection's [`FourTuple`] holds the addresses on the wire. A socket
//! opened through an IPv6 address (a listener on `::` or `::ffff:a.b.c.d`, a connect to an
//! IPv4-mapped address) is an IPv6 socket: its API shows IPv4 peers as IPv4-mapped addresses
//! (RFC 3493 §3.7), as Linux's `AF_INET6` sockets do ([`Stack::tcp_local_addr`],
//! [`Stack::tcp_peer_addr`]).
//!
//! A listener's SYN queue holds its connections in SYN-RECEIVED, its accept queue those that
//! completed the handshake and wait for `tcp_accept`; both are bounded by the backlog as in
//! Linux: a SYN is dropped (and counted) when either queue is full, and a final ACK that finds
//! the accept queue full is dropped (the SYN-ACK is retransmitted, so the peer's ACK comes
//! again) or, with `tcp_abort_on_overflow`, answered by a RST.

use core::net::{IpAddr, SocketAddr};
use core::num::NonZeroU8;
use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use ustack_tcp::{
    Conn, ConnError, DropReason, Ecn, Event, FourTuple, RecvError, SendError, TcpConfig, TcpState,
};
use ustack_wire::{IpProtocol, SeqNum, TcpFlags, TcpPacket, TcpRepr, checksum};

use crate::addr::{canonical, mapped, unspecified_like};
use crate::hash::{ConnKey, KeyedSet};
use crate::socket::{BindError, ConnectError, SocketHandle};
use crate::stack::Invoking;
use crate::stack::{Socket, SocketEventKind, Stack};
use crate::{Instant, hash};

/// A TCP connection in the socket table: the connection and 40 bytes of the host's fields
/// (`tests/basic.rs` holds them to it; a million connections pay for every byte twice over,
/// one per end, when both ends are in one process).
#[derive(Debug)]
pub(crate) struct TcpSocket {
    pub(crate) conn: Conn,
    /// The listener it came from (a passive open; `None` for an active one): the one whose
    /// queues hold it while `queued`, and whose Fast Open queue counts it while `tfo`. One
    /// handle for both, as both are the listener that took the SYN ([`TcpSocket::parent`],
    /// [`TcpSocket::tfo_listener`]).
    pub(crate) listener: Option<SocketHandle>,
    /// The deadline of its live entry in the timer queue: the connection's deadline, or an
    /// earlier one it had (the entry then wakes the stack early and is queued again).
    pub(crate) timer_at: Option<Instant>,
    /// Our initial sequence number: in SYN-RECEIVED the only acceptable ACK is ISS + 1.
    pub(crate) iss: SeqNum,
    /// The flow label of its IPv6 packets (`crate::ipv6`; 0 over IPv4).
    pub(crate) flow_label: u32,
    pub(crate) iface: IfaceId,
    /// `IP_TTL`, when set (a listener's connections inherit it; never 0: `Stack::set_ttl`).
    pub(crate) ttl: Option<NonZeroU8>,
    /// In `listener`'s queues, until `tcp_accept` takes it (or it closes in the SYN queue,
    /// or the listener closes).
    pub(crate) queued: bool,
    /// A Fast Open child still in its handshake, counted in `listener`'s Fast Open queue
    /// (`fastopen.rs`).
    pub(crate) tfo: bool,
    /// In the parent's accept queue (else in its SYN queue).
    pub(crate) in_accept_queue: bool,
    /// The application holds the handle.
    pub(crate) owned: bool,
    /// In `tcp_conns` (and counted in `tcp_conn_ports`).
    pub(crate) hashed: bool,
    /// Queued in the tx-ready queue.
    pub(crate) in_tx: bool,
    /// An IPv6 socket (`AF_INET6`): IPv4 addresses are shown IPv4-mapped.
    pub(crate) v6: bool,
}

impl TcpSocket {
    /// Nobody will touch it again: closed, released by the application, in no listener queue.
    pub(crate) fn is_finished(&self) -> bool {
        !self.owned && !self.queued && self.conn.state() == TcpState::Closed
    }

    /// The listener whose queues hold this connection, until `tcp_accept` takes it.
    pub(crate) fn parent(&self) -> Option<SocketHandle> {
        self.listener.filter(|_| self.queued)
    }

    /// The listener whose Fast Open queue counts this connection, a Fast Open child still in
    /// its handshake.
    pub(crate) fn tfo_listener(&self) -> Option<SocketHandle> {
        self.listener.filter(|_| self.tfo)
    }
}

/// An interface index in 4 bytes, for the sockets a million connections hold: a device
/// interface's index (fewer than 2^32 - 1 of them), or [`Stack::LOOPBACK`] as `u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IfaceId(u32);

impl IfaceId {
    /// Interface `iface` (a device's index, or [`Stack::LOOPBACK`]).
    pub(crate) fn new(iface: usize) -> IfaceId {
        if iface == Stack::LOOPBACK {
            return IfaceId(u32::MAX);
        }
        match u32::try_from(iface) {
            Ok(i) if i != u32::MAX => IfaceId(i),
            _ => panic!("interface index {iface} out of range"),
        }
    }

    /// The interface's index, as `Stack`'s API numbers them.
    pub(crate) fn get(self) -> usize {
        if self.0 == u32::MAX { Stack::LOOPBACK } else { self.0 as usize }
    }
}

/// The most boxes of freed connections a stack keeps for new ones (`Stack::free_tcp`): a
/// burst of closes leaves no more than this much memory behind.
pub(crate) const TCP_SPARE_MAX: usize = 64;

/// A listening socket.
#[derive(Debug)]
pub(crate) struct Listener {
    /// The bound address, canonical (`crate::addr::canonical`).
    pub(crate) local: SocketAddr,
    /// IPV6_V6ONLY: a listener on `::` takes IPv6 only.
    pub(crate) v6only: bool,
    /// An IPv6 socket (its connections are too).
    pub(crate) v6: bool,
    pub(crate) backlog: u32,
    /// The settings its connections start with (the stack's, or the socket's own options),
    /// shared with them until one sets an option of its own.
    pub(crate) tcp: Arc<TcpConfig>,
    /// Connections in SYN-RECEIVED.
    pub(crate) syn_queue: KeyedSet<SocketHandle>,
    /// Connections established and not yet accepted.
    pub(crate) accept_queue: VecDeque<SocketHandle>,
    /// `IP_TTL` its connections start with, when set.
    pub(crate) ttl: Option<u8>,
    /// When the listener last answered a SYN with a cookie (Linux `tcp_synq_overflow`):
    /// ACKs that match no connection are checked for a cookie only within
    /// `syncookie::VALID_SECS` of it (`syncookies.rs`).
    pub(crate) last_cookie_at: Option<Instant>,
    /// Fast Open on this listener (SPEC S6, `fastopen.rs`).
    pub(crate) fastopen: crate::fastopen::ListenerFastOpen,
    /// `TCP_DEFER_ACCEPT` as SYN-ACK retransmissions (0: off; SPEC S7).
    pub(crate) defer_accept: u8,
}

impl Listener {
    /// A listener on `local` with empty queues.
    pub(crate) fn new(
        local: SocketAddr,
        backlog: u32,
        tcp: &TcpConfig,
        cfg: &crate::StackConfig,
    ) -> Listener {
        Listener {
            local,
            v6only: false,
            v6: false,
            backlog,
            tcp: Arc::new(*tcp),
            syn_queue: hash::set(cfg.secret, 6),
            accept_queue: VecDeque::new(),
            ttl: None,
            last_cookie_at: None,
            fastopen: crate::fastopen::ListenerFastOpen::at_listen(cfg, backlog),
            defer_accept: 0,
        }
    }

    /// Linux `sk_acceptq_is_full`: more than `backlog` waiting.
    pub(crate) fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() > self.backlog as usize
    }
}

impl Stack {
    // ------------------------------------------------------------------------------------
    // Socket API
    // ------------------------------------------------------------------------------------

    /// Opens a listener on `local` (`0.0.0.0` for every IPv4 address, `::` for every IPv6
    /// address and, unless `bindv6only`, every IPv4 one as well; port 0 picks an ephemeral
    /// port) with room for `backlog` connections in each queue (clamped to `somaxconn`, at
    /// least 1). Without `reuse_addr`, connections still using the port — TIME-WAIT ones
    /// among them — make the bind fail with [`BindError::AddrInUse`] (SPEC S13); with it,
    /// only another listener whose addresses overlap does (`crate::bind`'s table).
    pub fn tcp_listen(
        &mut self,
        local: impl Into<SocketAddr>,
        backlog: u32,
        reuse_addr: bool,
    ) -> Result<SocketHandle, BindError> {
        let tcp = self.cfg.tcp;
        self.tcp_listen_with(local.into(), backlog, reuse_addr, &tcp)
    }

    /// [`Stack::tcp_listen`] whose connections start with `tcp` instead of the stack's TCP
    /// settings (a socket's own options, e.g. `TCP_MAXSEG` or `SO_KEEPALIVE` set on the
    /// listener, which its connections inherit as on Linux). `tcp` must pass
    /// [`TcpConfig::validate`].
    pub fn tcp_listen_with(
        &mut self,
        local: impl Into<SocketAddr>,
        backlog: u32,
        reuse_addr: bool,
        tcp: &TcpConfig,
    ) -> Result<SocketHandle, BindError> {
        let v6only = self.cfg.bindv6only;
        self.tcp_listen_v6only(local.into(), backlog, reuse_addr, v6only, tcp)
    }

    /// [`Stack::tcp_listen_with`] with IPV6_V6ONLY given for this socket instead of taken
    /// from `bindv6only` (it matters only for a listener on `::`).
    pub fn tcp_listen_v6only(
        &mut self,
        local: SocketAddr,
        backlog: u32,
        reuse_addr: bool,
        v6only: bool,
        tcp: &TcpConfig,
    ) -> Result<SocketHandle, BindError> {
        debug_assert_eq!(tcp.validate(), Ok(()));
        let v6 = local.is_ipv6();
        let local = canonical(local);
        // An IPv4-mapped bind is an IPv4 bind; IPV6_V6ONLY forbids it (Linux EINVAL).
        let v6only = v6only && local.is_ipv6();
        if !self.is_bindable(local.ip()) || (v6 && local.is_ipv4() && self.cfg.bindv6only) {
            return Err(BindError::AddrNotAvailable);
        }
        let port = if local.port() == 0 {
            let listeners = &self.tcp_listeners;
            let conn_ports = &self.tcp_conn_ports;
            self.ports
                .pick(local.ip(), None, |p| !listeners.port_used(p) && !conn_ports.contains_key(&p))
                .ok_or(BindError::NoEphemeralPort)?
        } else {
            local.port()
        };
        let local = SocketAddr::new(local.ip(), port);
        let listener_conflict = self.tcp_listeners.conflicts(local, v6only);
        if listener_conflict || (!reuse_addr && self.tcp_conn_ports.contains_key(&port)) {
            return Err(BindError::AddrInUse);
        }
        let backlog = backlog.clamp(1, self.cfg.somaxconn);
        let mut listener = Listener::new(local, backlog, tcp, &self.cfg);
        listener.v6only = v6only;
        listener.v6 = v6;
        let h = self.insert(Socket::Listener(Box::new(listener)));
        self.tcp_listeners.insert(local, v6only, h);
        Ok(h)
    }

    /// Takes the oldest connection from a listener's accept queue, or `None` when it is empty
    /// (`EAGAIN`; wait for [`SocketEventKind::AcceptReady`]). The connection may already have
    /// data, or even have been reset: its own calls tell.
    pub fn tcp_accept(&mut self, listener: SocketHandle) -> Option<SocketHandle> {
        let Some(Socket::Listener(l)) = self.socket_mut(listener) else {
            panic!("tcp_accept on {listener}, which is not a listener")
        };
        let h = l.accept_queue.pop_front()?;
        let t = self.tcp_mut(h);
        t.queued = false;
        t.in_accept_queue = false;
        t.owned = true;
        Some(h)
    }

    /// Opens a connection to `remote` (active open, SPEC S3), IPv4 or IPv6. `local` picks
    /// our address and/or port (`None`, an unspecified address or port 0: the route's
    /// address and an ephemeral port chosen per RFC 6056). An IPv6 `remote` (IPv4-mapped
    /// ones included) makes an IPv6 socket. The SYN goes out on the next `poll_transmit`;
    /// [`Event::Connected`] or [`Event::Closed`] tells how it went.
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: impl Into<SocketAddr>,
    ) -> Result<SocketHandle, ConnectError> {
        let tcp = self.cfg.tcp;
        self.tcp_connect_with(now, local, remote.into(), &tcp)
    }

    /// [`Stack::tcp_connect`] with `tcp` as the connection's settings instead of the
    /// stack's (a socket's own options set before `connect`). `tcp` must pass
    /// [`TcpConfig::validate`].
    pub fn tcp_connect_with(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        tcp: &TcpConfig,
    ) -> Result<SocketHandle, ConnectError> {
        debug_assert_eq!(tcp.validate(), Ok(()));
        let v6 = remote.is_ipv6() || local.is_some_and(|l| l.is_ipv6());
        let remote = canonical(remote);
        if !is_unicast(remote.ip()) || remote.port() == 0 {
            return Err(ConnectError::InvalidDestination);
        }
        let (iface, route_src) = self.route(remote.ip()).ok_or(ConnectError::NoRoute)?;
        let local = local.map_or(SocketAddr::new(unspecified_like(remote.ip()), 0), canonical);
        let src = if local.ip().is_unspecified() {
            route_src
        } else if self.is_bindable(local.ip()) && local.is_ipv4() == remote.is_ipv4() {
            local.ip()
        } else {
            return Err(ConnectError::AddrNotAvailable);
        };
        // What the port search found holding the 4-tuple of the port it picked (`Some(None)`:
        // nothing), so that it is not looked up twice.
        let mut holder: Option<Option<SocketHandle>> = None;
        let port = if local.port() == 0 {
            let conns = &self.tcp_conns;
            let listeners = &self.tcp_listeners;
            let (cfg, slots, shard) = (&self.cfg, &self.slots, self.shard);
            self.ports
                .pick(src, Some(remote), |p| {
                    // On a shard, only a port the device steers the answers of to it.
                    if listeners.port_used(p)
                        || shard.is_some_and(|s| !s.takes(IpProtocol::TCP, remote.port(), p))
                    {
                        return false;
                    }
                    let tuple = FourTuple { local: SocketAddr::new(src, p), remote };
                    let found = conns.get(slots, &ConnKey::from(tuple));
                    holder = Some(found);
                    // A 4-tuple in TIME-WAIT is free for tcp_tw_reuse (`twreuse.rs`).
                    found.is_none_or(|h| {
                        crate::twreuse::reusable(cfg, now, tuple, slot_in(slots, h)).is_some()
                    })
                })
                .ok_or(ConnectError::NoEphemeralPort)?
        } else {
            local.port()
        };
        let tuple = FourTuple { local: SocketAddr::new(src, port), remote };
        let (mut iss, ts_offset) = self.isn.isn_and_ts_offset(now, tuple.local, tuple.remote);
        // The connection holding the 4-tuple, if any: the port search looked it up already.
        let holder = match holder {
            Some(found) => found,
            None => self.tcp_conns.get(&self.slots, &ConnKey::from(tuple)),
        };
        if let Some(old) = holder {
            let reuse = crate::twreuse::reusable(&self.cfg, now, tuple, self.slot(old));
            let Some(after) = reuse else { return Err(ConnectError::AddrInUse) };
            self.recycle_time_wait(old);
            iss = after;
        }
        let mtu = self.path_mtu(iface, remote.ip());
        let shared = self.shared_tcp_config(tcp);
        let flow_label =
            self.flow_label_for(tuple.local, tuple.remote, ustack_wire::IpProtocol::TCP);
        // Built in the socket's literal and prepared there (the connection is 2 KB: one copy
        // less than building it first and moving it in). Nothing in the literal may panic
        // once the connection is built, or it is built aside and copied in (to be dropped
        // on the way out): the interface's index is packed before.
        let iface = IfaceId::new(iface);
        let mut sock = TcpSocket {
            conn: Conn::connect(now, shared, tuple, iss, mtu, Conn::default_cc(tcp)),
            listener: None,
            timer_at: None,
            iss,
            flow_label,
            iface,
            ttl: None,
            queued: false,
            tfo: false,
            in_accept_queue: false,
            owned: true,
            hashed: false,
            in_tx: false,
            v6,
        };
        self.prepare_conn(&mut sock.conn, ts_offset);
        let h = self.insert_tcp(sock);
        self.hash_conn(h, tuple);
        self.counters.tcp_active_opens += 1;
        self.after_input(h);
        Ok(h)
    }

    /// Queues data to send; see [`Conn::send`].
    pub fn tcp_send(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize, SendError> {
        let r = self.tcp_mut(h).conn.send(data);
        self.after_input(h);
        r
    }

    /// Reads received data; see [`Conn::recv`].
    pub fn tcp_recv(&mut self, h: SocketHandle, buf: &mut [u8]) -> Result<usize, RecvError> {
        let r = self.tcp_mut(h).conn.recv(buf);
        self.after_input(h);
        r
    }

    /// Closes the sending side (`shutdown(SHUT_WR)`); see [`Conn::shutdown_write`].
    pub fn tcp_shutdown_write(&mut self, h: SocketHandle) {
        self.tcp_mut(h).conn.shutdown_write();
        self.after_input(h);
    }

    /// Aborts a connection with a RST ([`Conn::abort`]) and releases the handle.
    pub fn tcp_abort(&mut self, h: SocketHandle) {
        let t = self.tcp_mut(h);
        t.conn.abort();
        t.owned = false;
        self.after_input(h);
    }

    /// Turns Nagle's algorithm off (true) or on.
    pub fn tcp_set_nodelay(&mut self, h: SocketHandle, nodelay: bool) {
        self.tcp_mut(h).conn.set_nodelay(nodelay);
        self.after_input(h);
    }

    /// Turns keepalive on or off.
    pub fn tcp_set_keepalive(&mut self, now: Instant, h: SocketHandle, on: bool) {
        self.tcp_mut(h).conn.set_keepalive(now, on);
        self.after_input(h);
    }

    /// The connection, to read its state, queues, counters and timers. Once the application
    /// has closed it, a connection in TIME-WAIT is a record with none of these
    /// (`crate::timewait`; [`Stack::tcp_state`] and [`Stack::netstat`] still show it): this
    /// panics on it then.
    pub fn tcp_conn(&self, h: SocketHandle) -> &Conn {
        match self.slot(h) {
            Some(Socket::Tcp(t)) => &t.conn,
            _ => panic!("{h} is not a live TCP connection"),
        }
    }

    /// The RFC 9293 state of connection `h`, also after the application closed it: a
    /// connection in TIME-WAIT that nobody holds is a record then (`crate::timewait`), which
    /// [`Stack::tcp_conn`] does not reach.
    pub fn tcp_state(&self, h: SocketHandle) -> TcpState {
        match self.slot(h) {
            Some(Socket::Tcp(t)) => t.conn.state(),
            Some(Socket::TimeWait(_)) => TcpState::TimeWait,
            _ => panic!("{h} is not a live TCP connection"),
        }
    }

    /// The TIME-WAIT record that connection `h` became once the application closed it
    /// (`crate::timewait`), to read its 4-tuple, RCV.NXT and time left; `None` for a live
    /// connection ([`Stack::tcp_conn`] reads it) and for any other socket.
    pub fn tcp_time_wait(&self, h: SocketHandle) -> Option<&ustack_tcp::TimeWait> {
        match self.slot(h) {
            Some(Socket::TimeWait(r)) => Some(&r.tw),
            _ => None,
        }
    }

    /// The address a listener is bound to (its port filled in when it was 0; IPv4-mapped
    /// when an IPv6 socket was bound to one).
    pub fn tcp_listener_addr(&self, h: SocketHandle) -> SocketAddr {
        match self.slot(h) {
            Some(Socket::Listener(l)) if l.v6 => mapped(l.local),
            Some(Socket::Listener(l)) => l.local,
            _ => panic!("{h} is not a listener"),
        }
    }

    /// Our address of a connection as its socket shows it (`getsockname`): IPv4-mapped for
    /// an IPv4 connection of an IPv6 socket.
    pub fn tcp_local_addr(&self, h: SocketHandle) -> SocketAddr {
        match self.slot(h) {
            Some(Socket::Tcp(t)) if t.v6 => mapped(t.conn.tuple().local),
            Some(Socket::Tcp(t)) => t.conn.tuple().local,
            _ => panic!("{h} is not a live TCP connection"),
        }
    }

    /// The peer's address of a connection as its socket shows it (`getpeername`).
    pub fn tcp_peer_addr(&self, h: SocketHandle) -> SocketAddr {
        match self.slot(h) {
            Some(Socket::Tcp(t)) if t.v6 => mapped(t.conn.tuple().remote),
            Some(Socket::Tcp(t)) => t.conn.tuple().remote,
            _ => panic!("{h} is not a live TCP connection"),
        }
    }

    pub(crate) fn tcp_mut(&mut self, h: SocketHandle) -> &mut TcpSocket {
        match self.socket_mut(h) {
            Some(Socket::Tcp(t)) => t,
            _ => panic!("{h} is not a live TCP connection"),
        }
    }

    /// Closes a listener: connections waiting in its queues are reset (Linux
    /// `inet_csk_listen_stop`).
    pub(crate) fn close_listener(&mut self, h: SocketHandle) {
        let Some(Socket::Listener(l)) = self.remove(h) else { unreachable!("checked by close") };
        if self.tcp_is_any_listener(h) {
            self.any_ip_closed(h);
        } else {
            self.tcp_listeners.remove(l.local, l.v6only);
        }
        for child in l.syn_queue.iter().copied().chain(l.accept_queue.iter().copied()) {
            let t = self.tcp_mut(child);
            t.queued = false;
            t.conn.abort();
            self.after_input(child);
        }
    }

    /// Closes a connection for the application (`close()`): it finishes on its own.
    pub(crate) fn close_tcp(&mut self, now: Instant, h: SocketHandle) {
        let t = self.tcp_mut(h);
        t.owned = false;
        t.conn.close(now);
        self.after_input(h);
    }

    // ------------------------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------------------------

    pub(crate) fn tcp_input(
        &mut self,
        now: Instant,
        iface: usize,
        from: Invoking<'_>,
        payload: &[u8],
    ) {
        let Ok(view) = TcpPacket::new_checked(payload) else {
            self.counters.tcp_in_errs += 1;
            return;
        };
        // Data for an established connection: its payload summed as it is copied into the
        // receive buffer, and verified before it is taken.
        if !self.rx_checksum_verified
            && !view.payload().is_empty()
            && let Ok(seg) = TcpRepr::parse_trusted(&view)
            && self.tcp_input_summed(now, from, &view, &seg)
        {
            return;
        }
        let parsed = match from {
            // The device vouched for the checksum (`crate::offload`).
            _ if self.rx_checksum_verified => TcpRepr::parse_trusted(&view),
            Invoking::V4 { header, .. } => TcpRepr::parse(&view, header.src, header.dst),
            Invoking::V6 { src, dst, .. } => TcpRepr::parse(&view, src, dst),
        };
        let seg = match parsed {
            Ok(seg) => seg,
            Err(ustack_wire::ParseError::BadChecksum) => {
                // SPEC S16: dropped silently, not ACKed.
                self.counters.tcp_in_csum_errors += 1;
                self.counters.tcp_in_errs += 1;
                return;
            }
            Err(_) => {
                self.counters.tcp_in_errs += 1;
                return;
            }
        };
        self.counters.tcp_in_segs += 1;
        let ecn = from.ecn();
        let (remote, local) = from.ends(seg.src_port, seg.dst_port);
        let tuple = FourTuple { local, remote };
        if let Some(h) = self.find_conn(ConnKey::from(tuple)) {
            if !self.syn_reopens_time_wait(h, &seg) {
                self.conn_segment(now, h, &seg, ecn);
                return;
            }
            // RFC 9293 §3.6.1 / RFC 6191, as Linux `tcp_timewait_state_process` (TCP_TW_SYN):
            // a new SYN above the old connection's sequence space ends TIME-WAIT early and
            // opens a new connection through the listener.
            self.end_time_wait(h);
        }
        let mut seg = seg;
        if seg.flags.contains(TcpFlags::SYN) && ecn.is_ect() {
            // Linux `tcp_ecn_create_request`: a SYN that is itself ECT (RFC 3168 §6.1.1 has
            // SYNs Not-ECT) is not taken as an ECN-setup SYN.
            seg.flags.remove(TcpFlags::ECE | TcpFlags::CWR);
        }
        match self.listener_for(tuple.local) {
            Some(l) => self.listener_segment(now, iface, l, tuple, &seg, ecn),
            None => {
                self.counters.tcp_no_socket += 1;
                self.reply_reset(iface, tuple, &seg);
            }
        }
    }

    /// Whether `seg` is a SYN that may reuse the 4-tuple of connection `h`, which sits in
    /// TIME-WAIT: a bare SYN whose sequence number is past the old connection's RCV.NXT, and a
    /// listener to take it.
    fn syn_reopens_time_wait(&self, h: SocketHandle, seg: &TcpRepr<'_>) -> bool {
        let (recv_next, local) = match self.slot(h) {
            Some(Socket::Tcp(t)) if t.conn.state() == TcpState::TimeWait => {
                (t.conn.recv_next(), t.conn.tuple().local)
            }
            Some(Socket::TimeWait(r)) => (r.tw.recv_next(), r.tw.tuple().local),
            _ => return false,
        };
        seg.flags.contains(TcpFlags::SYN)
            && !seg.flags.intersects(TcpFlags::ACK | TcpFlags::RST)
            && seg.seq > recv_next
            && self.listener_for(local).is_some()
    }

    /// Ends TIME-WAIT of `h` (a connection or a record) for a new connection that takes its
    /// 4-tuple: it leaves the demux table and closes (`Aborted`, as `Conn::abort`).
    pub(crate) fn end_time_wait(&mut self, h: SocketHandle) {
        if let Some(Socket::TimeWait(_)) = self.slot(h) {
            self.close_time_wait(h, Some(ConnError::Aborted));
            return;
        }
        self.unhash_conn(h);
        self.tcp_mut(h).conn.abort();
        self.after_input(h);
    }

    /// The listener that takes SYNs for `local`: on its address, else on any address of its
    /// family, else (IPv4) a dual-stack listener on `::`, else (transparent mode, an address
    /// not ours) the any-IP listener.
    fn listener_for(&self, local: SocketAddr) -> Option<SocketHandle> {
        self.tcp_listeners.lookup(local).or_else(|| self.any_ip_listener_for(local.ip()))
    }

    /// The common case of a data segment (`Conn::handle_segment_summed`): a segment whose
    /// checksum is still to be verified, for an established connection. Returns whether it
    /// was handled (taken, or dropped for its checksum as `tcp_input` drops one, with the
    /// same counters); `false` leaves it all to `tcp_input`.
    fn tcp_input_summed(
        &mut self,
        now: Instant,
        from: Invoking<'_>,
        view: &TcpPacket<&[u8]>,
        seg: &TcpRepr<'_>,
    ) -> bool {
        let (remote, local) = from.ends(seg.src_port, seg.dst_port);
        let Some(h) = self.find_conn(ConnKey::from(FourTuple { local, remote })) else {
            return false;
        };
        if let Some(Socket::TimeWait(_)) = self.slot(h) {
            return false;
        }
        let header = match from {
            Invoking::V4 { header, .. } => view.header_sum(header.src, header.dst),
            Invoking::V6 { src, dst, .. } => view.header_sum(src, dst),
        };
        let verify = |payload: u16| checksum::combine(&[header, payload]) == 0xffff;
        match self.tcp_mut(h).conn.handle_segment_summed(now, seg, from.ecn(), verify) {
            None => false,
            Some(false) => {
                // SPEC S16: dropped silently, not ACKed.
                self.counters.tcp_in_csum_errors += 1;
                self.counters.tcp_in_errs += 1;
                true
            }
            Some(true) => {
                self.counters.tcp_in_segs += 1;
                self.conn_segment_done(now, h);
                true
            }
        }
    }

    fn conn_segment(&mut self, now: Instant, h: SocketHandle, seg: &TcpRepr<'_>, ecn: Ecn) {
        let t = match self.socket_mut(h) {
            Some(Socket::Tcp(t)) => t,
            Some(Socket::TimeWait(_)) => return self.time_wait_segment(now, h, seg),
            _ => panic!("{h} is not a live TCP connection"),
        };
        // SPEC S4: the final ACK of a handshake whose listener's accept queue is full is
        // dropped (Linux `tcp_check_req` → `listen_overflow`), or answered by a RST with
        // tcp_abort_on_overflow. Only an ACK of our SYN-ACK can overflow: Linux checks
        // `ack_seq == snt_isn + 1` first, and a bad ACK gets the connection's own RST
        // (RFC 9293 §3.10.7.4), so a blind ACK cannot abort a half-open connection.
        if t.conn.state() == TcpState::SynReceived
            && seg.flags.contains(TcpFlags::ACK)
            && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::RST)
            && seg.ack == t.iss + 1u32
            && !t.conn.is_fast_open_child()
            && !t.conn.defers_final_ack(seg)
            && let Some(p) = t.parent()
            && matches!(self.slot(p), Some(Socket::Listener(l)) if l.accept_queue_full())
        {
            self.counters.tcp_listen_overflows += 1;
            self.counters.tcp_listen_drops += 1;
            if self.cfg.tcp_abort_on_overflow {
                self.tcp_mut(h).conn.abort();
                self.after_input(h);
            }
            return;
        }
        self.tcp_mut(h).conn.handle_segment_ecn(now, seg, ecn);
        self.conn_segment_done(now, h);
    }

    /// What follows a segment handled by connection `h`.
    fn conn_segment_done(&mut self, now: Instant, h: SocketHandle) {
        let t = self.tcp_mut(h);
        if t.tfo && t.conn.syn_acked() {
            self.fastopen_child_done(h, false);
        }
        let t = self.tcp_mut(h);
        if t.conn.challenge_ack_pending() {
            // RFC 5961 §7, Linux `tcp_send_challenge_ack`: the connection's own rate limit let
            // it through; the host-wide one may not.
            let limit = self.cfg.tcp.challenge_ack_limit;
            if self.challenge_acks.take(now, limit) {
                self.counters.tcp_challenge_acks += 1;
            } else {
                self.counters.tcp_challenge_acks_skipped += 1;
                self.tcp_mut(h).conn.suppress_challenge_ack();
            }
        }
        self.after_input(h);
    }

    fn listener_segment(
        &mut self,
        now: Instant,
        iface: usize,
        lh: SocketHandle,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        ecn: Ecn,
    ) {
        let f = seg.flags;
        // RFC 9293 §3.10.7.2, LISTEN: "first check for a RST ... should be ignored";
        // "second check for an ACK ... form a reset"; "third check for a SYN". (Linux checks
        // ACK before RST, but never answers a RST, so RST+ACK is ignored either way.)
        if f.contains(TcpFlags::RST) {
            return;
        }
        if f.contains(TcpFlags::ACK) {
            // SPEC S8: the final ACK of a handshake answered with a SYN cookie (Linux
            // `tcp_v4_cookie_check` before LISTEN's "second check for an ACK").
            if !f.contains(TcpFlags::SYN) && self.cookie_ack(now, iface, lh, tuple, seg, ecn) {
                return;
            }
            self.counters.tcp_listen_bad_acks += 1;
            self.reply_reset(iface, tuple, seg);
            return;
        }
        // Linux `tcp_rcv_state_process`, LISTEN: a segment without SYN, or a SYN with FIN
        // (no connection opens and closes in one segment; SKB_DROP_REASON_TCP_FLAGS), is
        // dropped silently. URG, PSH, ECE and CWR beside SYN change nothing.
        if !f.contains(TcpFlags::SYN) || f.contains(TcpFlags::FIN) {
            return;
        }
        let Some(Socket::Listener(l)) = self.slot(lh) else { return };
        let syn_queue_full = l.syn_queue.len() >= l.backlog as usize;
        let accept_queue_full = l.accept_queue_full();
        let tcp = Arc::clone(&l.tcp);
        let defer_accept = l.defer_accept;
        let v6 = l.v6;
        let ttl = l.ttl;
        // Linux `tcp_conn_request`: with the SYN queue full (or tcp_syncookies = 2) the SYN is
        // answered with a cookie, or dropped when cookies are off (SPEC S8).
        let mut want_cookie = false;
        if self.cfg.tcp_syncookies == 2 || syn_queue_full {
            if self.cfg.tcp_syncookies == 0 {
                self.counters.tcp_req_q_full_drop += 1;
                self.counters.tcp_listen_drops += 1;
                return;
            }
            self.counters.tcp_req_q_full_do_cookies += 1;
            want_cookie = true;
        }
        if accept_queue_full {
            self.counters.tcp_listen_overflows += 1;
            self.counters.tcp_listen_drops += 1;
            return;
        }
        if want_cookie {
            self.send_syn_cookie(now, iface, lh, tuple, seg);
            return;
        }
        let (iss, ts_offset) = self.isn.isn_and_ts_offset(now, tuple.local, tuple.remote);
        let mtu = self.path_mtu(iface, tuple.remote.ip());
        let cc = Conn::default_cc(&tcp);
        let flow_label =
            self.flow_label_for(tuple.local, tuple.remote, ustack_wire::IpProtocol::TCP);
        // Built in the socket's literal and prepared there (one copy of the 2 KB connection
        // less than building it first and moving it in; nothing after it in the literal may
        // panic, as in `tcp_connect_with`).
        let iface = IfaceId::new(iface);
        let mut sock = TcpSocket {
            conn: Conn::accept(now, tcp, tuple, iss, mtu, seg, cc),
            listener: Some(lh),
            timer_at: None,
            iss,
            flow_label,
            iface,
            ttl: ttl.and_then(NonZeroU8::new),
            queued: true,
            tfo: false,
            in_accept_queue: false,
            owned: false,
            hashed: false,
            in_tx: false,
            v6,
        };
        self.prepare_conn(&mut sock.conn, ts_offset);
        // SPEC S6: Fast Open decides what becomes of the SYN's data and its cookie.
        let fast_open = self.fastopen_syn(now, lh, &mut sock.conn, tuple, seg);
        if !fast_open {
            // SPEC S7 (a Fast Open child is never deferred: it is accept()able already).
            sock.conn.set_defer_accept(defer_accept);
        }
        sock.tfo = fast_open;
        let h = self.insert_tcp(sock);
        self.hash_conn(h, tuple);
        if let Some(Socket::Listener(l)) = self.socket_mut(lh) {
            l.syn_queue.insert(h);
        }
        self.counters.tcp_passive_opens += 1;
        self.after_input(h);
    }

    /// RFC 9293 §3.10.7.1: a segment for no connection gets a RST (unless it is one).
    fn reply_reset(&mut self, iface: usize, tuple: FourTuple, seg: &TcpRepr<'_>) {
        if let Some(rst) = ustack_tcp::conn::reset_for(seg) {
            self.queue_tcp(iface, tuple.local.ip(), tuple.remote.ip(), &rst);
        }
    }

    /// Tracing as the stack has it, and the timestamp offset of the connection's 4-tuple
    /// ([`Stack::ts_offset`]).
    pub(crate) fn prepare_conn(&self, conn: &mut Conn, ts_offset: u32) {
        conn.set_tracing(self.tracing);
        conn.set_timestamp_offset(ts_offset);
    }

    /// RFC 7323 §5.4: a per-connection random offset for TSval, the same for every
    /// incarnation of a 4-tuple (so timestamps keep growing across them, as PAWS and
    /// `tcp_tw_reuse` need). It comes from the ISN's keyed hash of the 4-tuple
    /// ([`ustack_tcp::IsnGenerator::isn_and_ts_offset`]), which gives both in one pass when
    /// a connection opens.
    pub(crate) fn ts_offset(&self, tuple: FourTuple) -> u32 {
        self.isn.ts_offset(tuple.local, tuple.remote)
    }

    /// The connection of `key` in the demux table, the last one found first.
    fn find_conn(&mut self, key: ConnKey) -> Option<SocketHandle> {
        match self.tcp_conns_last {
            Some((k, h)) if k == key => Some(h),
            _ => {
                let h = self.tcp_conns.get(&self.slots, &key)?;
                self.tcp_conns_last = Some((key, h));
                Some(h)
            }
        }
    }

    pub(crate) fn hash_conn(&mut self, h: SocketHandle, tuple: FourTuple) {
        self.tcp_conns_last = None;
        self.tcp_conns.insert(&self.slots, ConnKey::from(tuple), h);
        *self.tcp_conn_ports.entry(tuple.local.port()).or_insert(0) += 1;
        self.tcp_mut(h).hashed = true;
    }

    /// Takes a connection out of the demux table (it reached CLOSED, or is freed).
    pub(crate) fn unhash_conn(&mut self, h: SocketHandle) {
        let t = self.tcp_mut(h);
        if !t.hashed {
            return;
        }
        t.hashed = false;
        let tuple = t.conn.tuple();
        self.unhash_tuple(h, tuple);
    }

    /// Takes `tuple` out of the demux table if `h` holds it there, and gives back its port.
    pub(crate) fn unhash_tuple(&mut self, h: SocketHandle, tuple: FourTuple) {
        self.tcp_conns_last = None;
        self.tcp_conns.remove(&ConnKey::from(tuple), h);
        release_port(&mut self.tcp_conn_ports, tuple.local.port());
    }

    /// Frees a finished connection's slot; its drop counters go into the stack's, and its
    /// box is kept for the next connection (up to [`TCP_SPARE_MAX`]).
    pub(crate) fn free_tcp(&mut self, h: SocketHandle) {
        self.unhash_conn(h);
        if let Some(Socket::Tcp(t)) = self.remove(h) {
            self.retire_conn(t);
        }
    }

    /// A connection that is done with (freed, or become a TIME-WAIT record): its counters
    /// go into the stack's, and its box is kept for the next connection (up to
    /// [`TCP_SPARE_MAX`]).
    pub(crate) fn retire_conn(&mut self, t: Box<TcpSocket>) {
        let stats = t.conn.stats();
        self.counters.tcp_retrans_segs += stats.retransmits;
        self.counters.tcp_ecn_reductions += stats.ecn_reductions;
        self.counters.tcp_ecn_ce_recv += stats.ce_received;
        for r in DropReason::ALL {
            self.counters.tcp_conn_drops[r as usize] += stats.dropped(r);
        }
        if self.tcp_spare.len() < TCP_SPARE_MAX {
            self.tcp_spare.push(t);
        }
    }

    /// Inserts `sock`, in the box of a freed connection when there is one (whose finished
    /// connection is dropped now, after handing its small ring buffers and event queue to
    /// the new one: [`ustack_tcp::ConnSpare`]), else in a new one.
    pub(crate) fn insert_tcp(&mut self, sock: TcpSocket) -> SocketHandle {
        let boxed = match self.tcp_spare.pop() {
            Some(mut spare) => {
                let left = spare.conn.take_spare();
                *spare = sock;
                spare.conn.use_spare(left);
                spare
            }
            None => Box::new(sock),
        };
        self.insert(Socket::Tcp(boxed))
    }

    /// A connection reported `ev`: listener queues move, CLOSED leaves the demux table, and
    /// the event goes to the application.
    pub(crate) fn on_conn_event(&mut self, h: SocketHandle, ev: Event) {
        match ev {
            Event::Connected => {
                self.fastopen_connected(h);
                let t = self.tcp_mut(h);
                t.in_accept_queue = t.queued;
                if let Some(p) = t.parent()
                    && let Some(Socket::Listener(l)) = self.socket_mut(p)
                {
                    l.syn_queue.remove(&h);
                    l.accept_queue.push_back(h);
                    self.push_event(p, SocketEventKind::AcceptReady);
                }
            }
            Event::Closed(error) => {
                self.unhash_conn(h);
                if self.tcp_mut(h).tfo {
                    self.fastopen_child_done(h, error == Some(ConnError::Reset));
                }
                self.fastopen_closed(h);
                match error {
                    Some(ConnError::Refused) | Some(ConnError::Unreachable) => {
                        self.counters.tcp_attempt_fails += 1
                    }
                    Some(ConnError::Reset) => self.counters.tcp_estab_resets += 1,
                    _ => {}
                }
                // A connection still in the SYN queue leaves it: nobody will accept it. One
                // in the accept queue stays, so accept() returns it with its error (Linux).
                let t = self.tcp_mut(h);
                if let Some(p) = t.parent()
                    && !t.in_accept_queue
                {
                    t.queued = false;
                    if let Some(Socket::Listener(l)) = self.socket_mut(p) {
                        l.syn_queue.remove(&h);
                    }
                }
            }
            _ => {}
        }
        self.push_event(h, SocketEventKind::Tcp(ev));
    }
}

/// The socket in `slots` that `h` names, if it is alive.
fn slot_in(slots: &[crate::stack::Slot], h: SocketHandle) -> Option<&Socket> {
    slots.get(h.index as usize).filter(|s| s.generation == h.generation)?.sock.as_ref()
}

pub(crate) fn release_port(map: &mut crate::hash::KeyedMap<u16, u32>, port: u16) {
    if let Entry::Occupied(mut e) = map.entry(port) {
        *e.get_mut() -= 1;
        if *e.get() == 0 {
            e.remove();
        }
    }
}

/// Whether a connection may go to `ip`: not unspecified, broadcast or multicast.
pub(crate) fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}
