//! One stack and its file descriptors: the POSIX socket layer over `ustack_core::Stack`.
//!
//! Every operation returns `Err(errno)` with the value Linux returns in the same case
//! (the comments name the kernel function that decides it). Operations that may block return
//! `Ok(None)` for "would block"; the caller (`ffi.rs`) either fails with `EAGAIN` or waits
//! and tries again.

use core::net::{IpAddr, SocketAddr};
use std::collections::BTreeMap;

use libc::c_int;
use ustack_core::tcp_engine::{ConnError, RecvError, SendError, TcpConfig, TcpState};
use ustack_core::{
    BindError, ConnectError, Instant, InterfaceConfig, Ipv4Cidr, Ipv6Cidr, SocketHandle, Stack,
    StackConfig, UdpRecvError, UdpSendError,
};

use crate::epoll::Epoll;
use crate::errno::Errno;
use crate::settings::Settings;
use crate::sockaddr::{self, Family};
use crate::world::Egress;

/// What a would-block operation returns: `Ok(Some)` done, `Ok(None)` would block.
pub(crate) type Attempt<T> = Result<Option<T>, Errno>;

/// The lowest descriptor handed out (0 to 2 are the standard streams in a process).
const FIRST_FD: c_int = 3;

/// A host: a stack and its descriptor table.
pub(crate) struct Host {
    pub(crate) stack: Stack,
    pub(crate) fds: BTreeMap<c_int, Fd>,
    /// Packets sent, for the test tool (virtual time).
    pub(crate) egress: Egress,
    /// Where the stack's settings come from.
    pub(crate) settings: Settings,
    /// Adopt any address the test tool uses as ours (packetdrill chooses the address of
    /// the interface it pretends to own; see `packetdrill.rs`).
    pub(crate) learn_addrs: bool,
    /// Print the settings that could not be applied at every `socket()` (standard error).
    pub(crate) log_settings: bool,
}

/// An open descriptor.
pub(crate) enum Fd {
    Sock(Box<Sock>),
    Epoll(Epoll),
}

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Tcp,
    Udp,
}

/// The socket layer's view of a TCP socket (Linux's `sock->state` beside `sk->sk_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not connected, not listening; maybe bound.
    Unconnected,
    /// `connect` started and has not been seen to finish.
    Connecting(SocketHandle),
    /// Connected (or accepted).
    Connected(SocketHandle),
    /// Listening.
    Listening(SocketHandle),
    /// A UDP socket with its stack socket (after bind, connect or a first send).
    Udp(SocketHandle),
}

/// A socket descriptor.
pub(crate) struct Sock {
    pub(crate) proto: Proto,
    /// `AF_INET6` (else `AF_INET`).
    pub(crate) v6: bool,
    /// `IPV6_V6ONLY` (an `AF_INET6` socket on `::` takes no IPv4).
    pub(crate) v6only: bool,
    pub(crate) nonblock: bool,
    pub(crate) cloexec: bool,
    /// The settings of the next connection (options set before connect or listen).
    pub(crate) tcp: TcpConfig,
    pub(crate) reuse_addr: bool,
    /// The address `bind` reserved (before listen or connect takes it over).
    pub(crate) bound: Option<SocketAddr>,
    pub(crate) phase: Phase,
    /// The connection's error has been reported once (Linux clears `sk_err` when it reports
    /// it: later calls see end of stream or EPIPE).
    pub(crate) err_reported: bool,
    /// `shutdown(SHUT_RD)`: reads return 0 once the buffer is empty.
    pub(crate) shut_rd: bool,
    /// `shutdown(SHUT_WR)`.
    pub(crate) shut_wr: bool,
    /// `SO_LINGER` (on, seconds).
    pub(crate) linger: Option<u32>,
    /// `SO_SNDBUF` / `SO_RCVBUF` as set (Linux doubles the value it is given).
    pub(crate) sndbuf: Option<u32>,
    pub(crate) rcvbuf: Option<u32>,
    /// `SO_RCVLOWAT`.
    pub(crate) rcvlowat: u32,
    /// `TCP_FASTOPEN`: the Fast Open queue a listener gets (set before `listen`).
    pub(crate) fastopen_qlen: Option<u32>,
    /// `TCP_FASTOPEN_CONNECT`.
    pub(crate) fastopen_connect: bool,
    /// `TCP_FASTOPEN_KEY`: the socket's own Fast Open server keys (a listener's, or what
    /// `listen` gives the listener).
    pub(crate) fastopen_key: Option<ustack_core::tcp_engine::tfo::FastOpenKeys>,
    /// A `connect` under `TCP_FASTOPEN_CONNECT` with a cookie at hand: the SYN waits for the
    /// first write, which it carries (Linux `tcp_fastopen_defer_connect`).
    pub(crate) deferred_to: Option<SocketAddr>,
    /// `TCP_DEFER_ACCEPT` seconds as set.
    pub(crate) defer_accept: i64,
}

impl Sock {
    fn new(proto: Proto, v6: bool, v6only: bool, tcp: TcpConfig) -> Sock {
        Sock {
            proto,
            v6,
            v6only: v6 && v6only,
            nonblock: false,
            cloexec: false,
            tcp,
            reuse_addr: false,
            bound: None,
            phase: Phase::Unconnected,
            err_reported: false,
            shut_rd: false,
            shut_wr: false,
            linger: None,
            sndbuf: None,
            rcvbuf: None,
            rcvlowat: 1,
            fastopen_qlen: None,
            fastopen_connect: false,
            fastopen_key: None,
            deferred_to: None,
            defer_accept: 0,
        }
    }

    /// The family and IPV6_V6ONLY, which decide how addresses are read.
    pub(crate) fn family(&self) -> Family {
        Family { v6: self.v6, v6only: self.v6only }
    }

    /// Whether the socket has a local port (Linux `inet_num`): bound, listening, connecting,
    /// connected, or a UDP socket in use.
    pub(crate) fn has_port(&self) -> bool {
        self.bound.is_some() || self.phase != Phase::Unconnected || self.deferred_to.is_some()
    }

    /// The TCP connection, once connecting, connected or accepted.
    pub(crate) fn conn(&self) -> Option<SocketHandle> {
        match self.phase {
            Phase::Connecting(h) | Phase::Connected(h) => Some(h),
            _ => None,
        }
    }
}

/// Whether the application must wait for the handshake before reading or writing: SYN-SENT,
/// and SYN-RECEIVED except for a Fast Open child, which Linux lets the application use at
/// once (`tcp_passive_fastopen`).
fn in_handshake(conn: &ustack_core::tcp_engine::Conn) -> bool {
    match conn.state() {
        TcpState::SynSent => true,
        TcpState::SynReceived => !conn.is_fast_open_child(),
        _ => false,
    }
}

/// The errno of a connection failure (Linux `sk_err`).
pub(crate) fn conn_errno(e: ConnError) -> Errno {
    match e {
        ConnError::Refused => libc::ECONNREFUSED,
        ConnError::Reset => libc::ECONNRESET,
        ConnError::TimedOut => libc::ETIMEDOUT,
        // An abort we made ourselves (SO_LINGER 0, a listener closed under a pending
        // connection): Linux reports ECONNRESET for the latter, ECONNABORTED for the
        // socket-level abort.
        ConnError::Aborted => libc::ECONNABORTED,
        ConnError::Unreachable => libc::EHOSTUNREACH,
    }
}

fn bind_errno(e: BindError) -> Errno {
    match e {
        BindError::AddrInUse | BindError::NoEphemeralPort => libc::EADDRINUSE,
        BindError::AddrNotAvailable => libc::EADDRNOTAVAIL,
    }
}

fn connect_errno(e: ConnectError) -> Errno {
    match e {
        ConnectError::NoRoute => libc::ENETUNREACH,
        // Linux `__inet_hash_connect`: no free port, or the 4-tuple asked for is taken.
        ConnectError::NoEphemeralPort | ConnectError::AddrInUse => libc::EADDRNOTAVAIL,
        ConnectError::AddrNotAvailable => libc::EADDRNOTAVAIL,
        ConnectError::InvalidDestination => libc::EINVAL,
        ConnectError::FastOpenDisabled => libc::EOPNOTSUPP,
    }
}

impl Host {
    pub(crate) fn new(stack: Stack, settings: Settings, learn_addrs: bool) -> Host {
        Host {
            stack,
            fds: BTreeMap::new(),
            egress: Egress::new(),
            settings,
            learn_addrs,
            log_settings: false,
        }
    }

    /// The lowest free descriptor (POSIX: "the lowest numbered unused file descriptor").
    fn alloc_fd(&self) -> c_int {
        let mut fd = FIRST_FD;
        for &used in self.fds.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        fd
    }

    pub(crate) fn insert(&mut self, f: Fd) -> c_int {
        let fd = self.alloc_fd();
        self.fds.insert(fd, f);
        fd
    }

    pub(crate) fn sock(&self, fd: c_int) -> Result<&Sock, Errno> {
        match self.fds.get(&fd) {
            Some(Fd::Sock(s)) => Ok(s),
            Some(Fd::Epoll(_)) => Err(libc::ENOTSOCK),
            None => Err(libc::EBADF),
        }
    }

    pub(crate) fn sock_mut(&mut self, fd: c_int) -> Result<&mut Sock, Errno> {
        match self.fds.get_mut(&fd) {
            Some(Fd::Sock(s)) => Ok(s),
            Some(Fd::Epoll(_)) => Err(libc::ENOTSOCK),
            None => Err(libc::EBADF),
        }
    }

    /// Makes `addr` one of ours when the host learns addresses (packetdrill mode).
    pub(crate) fn learn(&mut self, addr: IpAddr) {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
            a => a,
        };
        if !self.learn_addrs || addr.is_unspecified() || addr.is_multicast() {
            return;
        }
        if self.stack.is_local_addr(addr) {
            return;
        }
        let mtu = self.stack.interfaces().first().map_or(1500, |i| i.mtu);
        match addr {
            IpAddr::V4(a) if !a.is_broadcast() => {
                let cidr = Ipv4Cidr::new(a, 32).expect("a /32 is a valid prefix");
                self.stack.add_interface(InterfaceConfig::ipv4(cidr, mtu));
            }
            IpAddr::V6(a) if !a.is_unicast_link_local() => {
                let cidr = Ipv6Cidr::new(a, 128).expect("a /128 is a valid prefix");
                self.stack.add_ipv6_addr(0, cidr);
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------------------------------
    // socket, bind, listen, accept, connect
    // ------------------------------------------------------------------------------------

    /// `socket(domain, type, protocol)` (Linux `__sock_create`, `inet_create`).
    pub(crate) fn socket(
        &mut self,
        domain: c_int,
        ty: c_int,
        protocol: c_int,
    ) -> Result<c_int, Errno> {
        let v6 = match domain {
            libc::AF_INET => false,
            libc::AF_INET6 => true,
            _ => return Err(libc::EAFNOSUPPORT),
        };
        let flags = ty & (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        let proto = match (ty & !flags, protocol) {
            (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) => Proto::Tcp,
            (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP) => Proto::Udp,
            (libc::SOCK_STREAM | libc::SOCK_DGRAM, _) => return Err(libc::EPROTONOSUPPORT),
            (libc::SOCK_RAW, _) => return Err(libc::EPERM),
            _ => return Err(libc::ESOCKTNOSUPPORT),
        };
        let cfg = self.refresh_settings();
        // IPV6_V6ONLY starts as `net.ipv6.bindv6only` (Linux `inet6_create`).
        let mut s = Sock::new(proto, v6, cfg.bindv6only, cfg.tcp);
        s.nonblock = flags & libc::SOCK_NONBLOCK != 0;
        s.cloexec = flags & libc::SOCK_CLOEXEC != 0;
        Ok(self.insert(Fd::Sock(Box::new(s))))
    }

    /// Re-reads the settings (sysctls) and applies the stack-wide ones; returns them.
    pub(crate) fn refresh_settings(&mut self) -> StackConfig {
        let cfg = self.settings.load(self.stack.config());
        let mut stack_cfg = *self.stack.config();
        stack_cfg.tcp = cfg.tcp;
        stack_cfg.somaxconn = cfg.somaxconn;
        stack_cfg.tcp_abort_on_overflow = cfg.tcp_abort_on_overflow;
        stack_cfg.ip_default_ttl = cfg.ip_default_ttl;
        stack_cfg.udp_rmem = cfg.udp_rmem;
        stack_cfg.icmp_echo = cfg.icmp_echo;
        stack_cfg.tcp_syncookies = cfg.tcp_syncookies;
        stack_cfg.tcp_fastopen = cfg.tcp_fastopen;
        stack_cfg.tcp_fastopen_key = cfg.tcp_fastopen_key;
        stack_cfg.tcp_fastopen_blackhole_timeout = cfg.tcp_fastopen_blackhole_timeout;
        stack_cfg.tcp_tw_reuse = cfg.tcp_tw_reuse;
        stack_cfg.tcp_tw_reuse_delay = cfg.tcp_tw_reuse_delay;
        // Validated by `Settings::load`; a refusal only keeps the previous settings.
        let _ = self.stack.set_config(stack_cfg);
        if self.log_settings {
            self.log_ignored();
        }
        *self.stack.config()
    }

    /// Whether another socket's reservation of `addr`'s port conflicts with a bind by a
    /// socket with `reuse` (Linux `inet_csk_bind_conflict`: overlapping addresses, unless
    /// both sockets set SO_REUSEADDR and the other is not listening).
    fn bind_conflict(&self, me: c_int, addr: SocketAddr, v6only: bool, reuse: bool) -> bool {
        let mine = self.fds.iter().any(|(&fd, f)| match f {
            Fd::Sock(s) if fd != me && s.proto == Proto::Tcp => {
                s.phase == Phase::Unconnected
                    && s.bound.is_some_and(|b| overlap(b, s.v6only, addr, v6only))
                    && !(reuse && s.reuse_addr)
            }
            _ => false,
        });
        let used = self.stack.tcp_port_use_v6only(addr, v6only);
        mine || used.listener || (used.connections > 0 && !reuse)
    }

    /// `bind(fd, addr)` (Linux `inet_bind`).
    pub(crate) fn bind(&mut self, fd: c_int, addr: SocketAddr) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        let (proto, reuse, v6only) = (s.proto, s.reuse_addr, s.v6only);
        if s.bound.is_some() || s.phase != Phase::Unconnected {
            return Err(libc::EINVAL);
        }
        self.learn(addr.ip());
        if !self.stack.is_local_addr(addr.ip()) {
            return Err(libc::EADDRNOTAVAIL);
        }
        if proto == Proto::Udp {
            let h = self.stack.udp_bind_v6only(addr, v6only).map_err(bind_errno)?;
            let local = self.stack.udp_local_addr(h);
            let s = self.sock_mut(fd)?;
            s.bound = Some(local);
            s.phase = Phase::Udp(h);
            return Ok(());
        }
        let addr = if addr.port() == 0 {
            let taken: Vec<u16> = self
                .fds
                .values()
                .filter_map(|f| match f {
                    Fd::Sock(s) => s.bound.map(|b| b.port()),
                    Fd::Epoll(_) => None,
                })
                .collect();
            let port = self
                .stack
                .tcp_pick_port(addr.ip(), |p| !taken.contains(&p))
                .ok_or(libc::EADDRINUSE)?;
            SocketAddr::new(addr.ip(), port)
        } else {
            if self.bind_conflict(fd, addr, v6only, reuse) {
                return Err(libc::EADDRINUSE);
            }
            addr
        };
        self.sock_mut(fd)?.bound = Some(addr);
        Ok(())
    }

    /// `listen(fd, backlog)` (Linux `inet_listen`).
    pub(crate) fn listen(&mut self, fd: c_int, backlog: c_int) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        if s.proto != Proto::Tcp {
            return Err(libc::EOPNOTSUPP);
        }
        match s.phase {
            Phase::Unconnected => {}
            // Linux lets listen() change the backlog of a listener; ustack fixes the backlog
            // when the listener opens, so a second listen() leaves it as it was.
            Phase::Listening(_) => return Ok(()),
            _ => return Err(libc::EINVAL),
        }
        if s.bound.is_none() {
            // Linux binds an unbound socket to an ephemeral port (`inet_autobind`).
            let any = sockaddr::unspecified(s.v6);
            self.bind(fd, any)?;
        }
        let s = self.sock(fd)?;
        let local = s.bound.expect("bound above");
        let v6only = s.v6only;
        let backlog = u32::try_from(backlog.max(0)).unwrap_or(0);
        let tcp = s.tcp;
        let reuse = s.reuse_addr;
        // Linux checks the port again when the listener starts (`inet_csk_listen_start`).
        let (fastopen, defer, key) = (s.fastopen_qlen, s.defer_accept, s.fastopen_key);
        let h = self
            .stack
            .tcp_listen_v6only(local, backlog, reuse, v6only, &tcp)
            .map_err(bind_errno)?;
        if let Some(qlen) = fastopen {
            self.stack.tcp_set_fastopen(h, qlen);
        }
        self.stack.tcp_set_fastopen_key(h, key);
        self.stack.tcp_set_defer_accept(h, defer);
        let s = self.sock_mut(fd)?;
        s.phase = Phase::Listening(h);
        Ok(())
    }

    /// `accept4(fd, flags)`: the new descriptor and the peer's address.
    pub(crate) fn accept(&mut self, fd: c_int, flags: c_int) -> Attempt<(c_int, SocketAddr)> {
        if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
            return Err(libc::EINVAL);
        }
        let s = self.sock(fd)?;
        let Phase::Listening(l) = s.phase else { return Err(libc::EINVAL) };
        let tcp = s.tcp;
        let (sndbuf, rcvbuf, linger, reuse) = (s.sndbuf, s.rcvbuf, s.linger, s.reuse_addr);
        let (v6, v6only) = (s.v6, s.v6only);
        let Some(h) = self.stack.tcp_accept(l) else { return Ok(None) };
        let peer = self.stack.tcp_peer_addr(h);
        let conn = self.stack.tcp_conn(h);
        let mut child = Sock::new(Proto::Tcp, v6, v6only, *conn.config());
        child.tcp = tcp;
        child.tcp.keepalive = conn.config().keepalive;
        child.nonblock = flags & libc::SOCK_NONBLOCK != 0;
        child.cloexec = flags & libc::SOCK_CLOEXEC != 0;
        child.phase = Phase::Connected(h);
        child.sndbuf = sndbuf;
        child.rcvbuf = rcvbuf;
        child.linger = linger;
        child.reuse_addr = reuse;
        Ok(Some((self.insert(Fd::Sock(Box::new(child))), peer)))
    }

    /// `connect(fd, addr)` (Linux `__inet_stream_connect`): starts the handshake, or reports
    /// how a started one went. `Ok(None)`: still connecting.
    pub(crate) fn connect(&mut self, now: Instant, fd: c_int, addr: SocketAddr) -> Attempt<()> {
        let s = self.sock(fd)?;
        let (any, v6only) = (sockaddr::unspecified(s.v6), s.v6only);
        match s.phase {
            Phase::Udp(h) => {
                self.stack.udp_connect(h, addr).map_err(connect_errno)?;
                return Ok(Some(()));
            }
            Phase::Unconnected if s.proto == Proto::Udp => {
                let h = self.stack.udp_bind_v6only(any, v6only).map_err(bind_errno)?;
                if let Err(e) = self.stack.udp_connect(h, addr) {
                    self.stack.close(now, h);
                    return Err(connect_errno(e));
                }
                let s = self.sock_mut(fd)?;
                s.phase = Phase::Udp(h);
                return Ok(Some(()));
            }
            Phase::Connected(_) | Phase::Listening(_) => return Err(libc::EISCONN),
            // A second connect() during the handshake: EALREADY when non-blocking; a blocking
            // one waits for the outcome.
            Phase::Connecting(_) => return self.connect_progress(now, fd, s.nonblock),
            Phase::Unconnected => {}
        }
        let (bound, tcp, fastopen) = (s.bound, s.tcp, s.fastopen_connect);
        if unspecified(addr) || addr.port() == 0 {
            // Linux connects 0.0.0.0 (or ::) to the loopback address and gets refused on port 0;
            // ustack has no loopback: the destination cannot be reached.
            return Err(libc::ENETUNREACH);
        }
        if s.deferred_to.is_some() {
            // Linux `__inet_stream_connect` on a deferred Fast Open connect: EISCONN.
            return Err(libc::EISCONN);
        }
        if fastopen {
            self.refresh_settings();
        }
        let h = if fastopen {
            // TCP_FASTOPEN_CONNECT (Linux `tcp_fastopen_defer_connect`): with a cookie, the
            // SYN waits for the first write and connect() returns 0; without one, the SYN
            // asks for a cookie now.
            if self.stack.tcp_fastopen_has_cookie(now, addr) {
                self.sock_mut(fd)?.deferred_to = Some(addr);
                return Ok(Some(()));
            }
            self.stack.tcp_connect_fast_open(now, bound, addr, &tcp, &[]).map_err(connect_errno)?.0
        } else {
            self.stack.tcp_connect_with(now, bound, addr, &tcp).map_err(connect_errno)?
        };
        let s = self.sock_mut(fd)?;
        s.phase = Phase::Connecting(h);
        s.bound = None;
        s.err_reported = false;
        self.apply_buffers(fd);
        Ok(None)
    }

    /// `sendto(MSG_FASTOPEN)` (or the first write after a deferred `TCP_FASTOPEN_CONNECT`)
    /// on an unconnected TCP socket (Linux `tcp_sendmsg_fastopen`): the connection starts
    /// with as much of `data` in its SYN as a cached cookie allows. Returns how many bytes
    /// the SYN carries (0: none, the SYN asked for a cookie or Fast Open is paused).
    pub(crate) fn fastopen_connect(
        &mut self,
        now: Instant,
        fd: c_int,
        to: Option<SocketAddr>,
        data: &[u8],
    ) -> Result<usize, Errno> {
        // `tcp_fastopen` is read when it is used, as Linux does.
        self.refresh_settings();
        let s = self.sock(fd)?;
        if s.proto != Proto::Tcp {
            return Err(libc::EOPNOTSUPP);
        }
        match s.phase {
            Phase::Unconnected => {}
            Phase::Connecting(_) => return Err(libc::EALREADY),
            Phase::Connected(_) => return Err(libc::EISCONN),
            Phase::Listening(_) | Phase::Udp(_) => return Err(libc::EINVAL),
        }
        let addr = s.deferred_to.or(to).ok_or(libc::EINVAL)?;
        if unspecified(addr) || addr.port() == 0 {
            return Err(libc::ENETUNREACH);
        }
        let (bound, tcp) = (s.bound, s.tcp);
        let (h, start) = self
            .stack
            .tcp_connect_fast_open(now, bound, addr, &tcp, data)
            .map_err(connect_errno)?;
        let s = self.sock_mut(fd)?;
        s.phase = Phase::Connecting(h);
        s.bound = None;
        s.deferred_to = None;
        s.err_reported = false;
        self.apply_buffers(fd);
        Ok(start.syn_data)
    }

    /// Whether the socket's connection is still in its handshake (SYN-SENT, or SYN-RECEIVED
    /// for an active open).
    pub(crate) fn handshaking(&self, fd: c_int) -> Result<bool, Errno> {
        let s = self.sock(fd)?;
        Ok(s.conn().is_some_and(|h| in_handshake(self.stack.tcp_conn(h))))
    }

    /// Whether the first write must start the connection (`sendto(MSG_FASTOPEN)` or a
    /// deferred `TCP_FASTOPEN_CONNECT`).
    pub(crate) fn fastopen_pending(&self, fd: c_int) -> bool {
        self.sock(fd).is_ok_and(|s| s.deferred_to.is_some())
    }

    /// How a started connect stands: `Ok(None)` still in the handshake, `Ok(Some)` done (the
    /// socket is connected), `Err` failed (the error is reported, the socket can connect
    /// again). `again`: this is a second `connect()` call, which in Linux reports EALREADY
    /// while the handshake runs.
    pub(crate) fn connect_progress(&mut self, now: Instant, fd: c_int, again: bool) -> Attempt<()> {
        let s = self.sock(fd)?;
        let h = match s.phase {
            Phase::Connecting(h) => h,
            Phase::Connected(_) => return if again { Err(libc::EISCONN) } else { Ok(Some(())) },
            _ => return Err(libc::EBADF),
        };
        let conn = self.stack.tcp_conn(h);
        match conn.state() {
            TcpState::SynSent | TcpState::SynReceived => {
                if again {
                    Err(libc::EALREADY)
                } else {
                    Ok(None)
                }
            }
            TcpState::Closed => {
                let err = conn.error().map_or(libc::ECONNABORTED, conn_errno);
                // Linux `sock_error` then `tcp_disconnect`: the error is reported once and
                // the socket is unconnected again.
                self.stack.close(now, h);
                let s = self.sock_mut(fd)?;
                s.phase = Phase::Unconnected;
                Err(err)
            }
            _ => {
                self.sock_mut(fd)?.phase = Phase::Connected(h);
                Ok(Some(()))
            }
        }
    }

    /// Applies `SO_SNDBUF` / `SO_RCVBUF` set before the connection existed.
    fn apply_buffers(&mut self, fd: c_int) {
        let Ok(s) = self.sock(fd) else { return };
        let (Some(h), snd, rcv) = (s.conn(), s.sndbuf, s.rcvbuf) else { return };
        if let Some(b) = snd {
            self.stack.tcp_set_send_buffer(h, b);
        }
        if let Some(b) = rcv {
            self.stack.tcp_set_recv_buffer(h, b);
        }
    }

    // ------------------------------------------------------------------------------------
    // read and write
    // ------------------------------------------------------------------------------------

    /// Reports the connection's error once; afterwards `None` (end of stream / EPIPE).
    fn take_error(&mut self, fd: c_int, e: ConnError) -> Option<Errno> {
        let s = self.sock_mut(fd).ok()?;
        if s.err_reported {
            None
        } else {
            s.err_reported = true;
            Some(conn_errno(e))
        }
    }

    /// The pending error of a socket without consuming it (`POLLERR`).
    pub(crate) fn pending_error(&self, s: &Sock) -> Option<Errno> {
        if s.err_reported {
            return None;
        }
        let h = s.conn()?;
        self.stack.tcp_conn(h).error().map(conn_errno)
    }

    /// `SO_ERROR`: the pending error, consumed.
    pub(crate) fn so_error(&mut self, fd: c_int) -> Result<Errno, Errno> {
        let s = self.sock(fd)?;
        match self.pending_error(s) {
            Some(e) => {
                self.sock_mut(fd)?.err_reported = true;
                Ok(e)
            }
            None => Ok(0),
        }
    }

    /// `recv(fd, buf, flags)` on TCP (Linux `tcp_recvmsg_locked`). `Ok(None)`: would block.
    pub(crate) fn tcp_recv(&mut self, fd: c_int, buf: &mut [u8], peek: bool) -> Attempt<usize> {
        let s = self.sock(fd)?;
        let h = match s.phase {
            Phase::Listening(_) => return Err(libc::ENOTCONN),
            // A deferred Fast Open connect is in SYN-SENT for Linux: nothing to read yet.
            Phase::Unconnected if s.deferred_to.is_some() => return Ok(None),
            Phase::Unconnected => return Err(libc::ENOTCONN),
            Phase::Connecting(h) | Phase::Connected(h) => h,
            Phase::Udp(_) => unreachable!("TCP socket"),
        };
        let shut_rd = s.shut_rd;
        let conn = self.stack.tcp_conn(h);
        if in_handshake(conn) {
            return Ok(None);
        }
        if buf.is_empty() {
            return Ok(Some(0));
        }
        if peek {
            let n = self.stack.tcp_peek(h, buf);
            if n > 0 {
                return Ok(Some(n));
            }
        } else {
            match self.stack.tcp_recv(h, buf) {
                Ok(n) => return Ok(Some(n)),
                Err(RecvError::Failed(e)) => {
                    return match self.take_error(fd, e) {
                        Some(errno) => Err(errno),
                        None => Ok(Some(0)),
                    };
                }
                Err(RecvError::WouldBlock) => {}
            }
        }
        let conn = self.stack.tcp_conn(h);
        if let Some(e) = conn.error() {
            return match self.take_error(fd, e) {
                Some(errno) => Err(errno),
                None => Ok(Some(0)),
            };
        }
        if shut_rd || conn.peer_closed() || conn.state() == TcpState::Closed {
            return Ok(Some(0));
        }
        Ok(None)
    }

    /// `send(fd, data)` on TCP (Linux `tcp_sendmsg_locked`): how much was queued.
    /// `Ok(None)`: nothing fits (or the handshake runs) and nothing was queued.
    pub(crate) fn tcp_send(&mut self, fd: c_int, data: &[u8]) -> Attempt<usize> {
        let s = self.sock(fd)?;
        let h = match s.phase {
            // `sk_stream_wait_connect`: not connecting → EPIPE.
            Phase::Unconnected | Phase::Listening(_) => return Err(libc::EPIPE),
            Phase::Connecting(h) | Phase::Connected(h) => h,
            Phase::Udp(_) => unreachable!("TCP socket"),
        };
        let shut_wr = s.shut_wr;
        let conn = self.stack.tcp_conn(h);
        if let Some(e) = conn.error() {
            return match self.take_error(fd, e) {
                Some(errno) => Err(errno),
                None => Err(libc::EPIPE),
            };
        }
        if shut_wr || conn.write_closed() {
            return Err(libc::EPIPE);
        }
        if in_handshake(conn) {
            return Ok(None);
        }
        if data.is_empty() {
            return Ok(Some(0));
        }
        match self.stack.tcp_send(h, data) {
            Ok(n) => Ok(Some(n)),
            Err(SendError::Full) => Ok(None),
            Err(SendError::Closed) => Err(libc::EPIPE),
            Err(SendError::Failed(e)) => match self.take_error(fd, e) {
                Some(errno) => Err(errno),
                None => Err(libc::EPIPE),
            },
        }
    }

    /// UDP `sendto`: `to` `None` for a connected socket.
    pub(crate) fn udp_send(
        &mut self,
        now: Instant,
        fd: c_int,
        data: &[u8],
        to: Option<SocketAddr>,
    ) -> Attempt<usize> {
        let s = self.sock(fd)?;
        let (any, v6only) = (sockaddr::unspecified(s.v6), s.v6only);
        let h = match s.phase {
            Phase::Udp(h) => h,
            _ => {
                if to.is_none() {
                    return Err(libc::EDESTADDRREQ);
                }
                let h = self.stack.udp_bind_v6only(any, v6only).map_err(bind_errno)?;
                let local = self.stack.udp_local_addr(h);
                let s = self.sock_mut(fd)?;
                s.phase = Phase::Udp(h);
                s.bound = Some(local);
                h
            }
        };
        let r = match to {
            Some(to) => self.stack.udp_send_to(now, h, to, data),
            None => self.stack.udp_send(now, h, data),
        };
        match r {
            Ok(n) => Ok(Some(n)),
            Err(UdpSendError::BufferFull) => Ok(None),
            Err(UdpSendError::NoRoute) => Err(libc::ENETUNREACH),
            Err(UdpSendError::TooLarge) => Err(libc::EMSGSIZE),
            Err(UdpSendError::NotConnected) => Err(libc::EDESTADDRREQ),
            Err(UdpSendError::Refused) => Err(libc::ECONNREFUSED),
            Err(UdpSendError::InvalidDestination) => Err(libc::EINVAL),
            Err(UdpSendError::AddrNotAvailable) => Err(libc::EADDRNOTAVAIL),
        }
    }

    /// UDP `recvfrom`: the datagram's length (cut to `buf`) and its source.
    pub(crate) fn udp_recv(
        &mut self,
        fd: c_int,
        buf: &mut [u8],
    ) -> Attempt<(usize, usize, SocketAddr)> {
        let s = self.sock(fd)?;
        let Phase::Udp(h) = s.phase else { return Ok(None) };
        match self.stack.udp_recv_from(h, buf) {
            Ok((n, from)) => Ok(Some((n.min(buf.len()), n, from))),
            Err(UdpRecvError::WouldBlock) => Ok(None),
            Err(UdpRecvError::Refused) => Err(libc::ECONNREFUSED),
        }
    }

    // ------------------------------------------------------------------------------------
    // shutdown, close, names
    // ------------------------------------------------------------------------------------

    /// `shutdown(fd, how)` (Linux `inet_shutdown`).
    pub(crate) fn shutdown(&mut self, now: Instant, fd: c_int, how: c_int) -> Result<(), Errno> {
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(libc::EINVAL),
        };
        let s = self.sock(fd)?;
        match s.phase {
            Phase::Connected(h) | Phase::Connecting(h) => {
                let state = self.stack.tcp_conn(h).state();
                if matches!(state, TcpState::SynSent) {
                    // Linux: shutdown in SYN-SENT disconnects the socket.
                    self.stack.close(now, h);
                    let s = self.sock_mut(fd)?;
                    s.phase = Phase::Unconnected;
                    return Ok(());
                }
                let s = self.sock_mut(fd)?;
                s.shut_rd |= rd;
                s.shut_wr |= wr;
                if wr && state != TcpState::Closed {
                    self.stack.tcp_shutdown_write(h);
                }
                if state == TcpState::Closed {
                    return Err(libc::ENOTCONN);
                }
                Ok(())
            }
            Phase::Listening(h) => {
                if rd {
                    // Linux: SHUT_RD on a listener disconnects it (the listener closes).
                    self.stack.close(now, h);
                    let s = self.sock_mut(fd)?;
                    s.phase = Phase::Unconnected;
                    s.bound = None;
                }
                Ok(())
            }
            Phase::Udp(_) => {
                let s = self.sock_mut(fd)?;
                s.shut_rd |= rd;
                s.shut_wr |= wr;
                Ok(())
            }
            Phase::Unconnected => Err(libc::ENOTCONN),
        }
    }

    /// `close(fd)`.
    pub(crate) fn close(&mut self, now: Instant, fd: c_int) -> Result<(), Errno> {
        let Some(f) = self.fds.remove(&fd) else { return Err(libc::EBADF) };
        let Fd::Sock(s) = f else { return Ok(()) };
        for other in self.fds.values_mut() {
            if let Fd::Epoll(e) = other {
                e.forget(fd);
            }
        }
        match s.phase {
            Phase::Connected(h) | Phase::Connecting(h) => {
                if s.linger == Some(0) && self.stack.tcp_conn(h).state() != TcpState::Closed {
                    // SO_LINGER with a zero timeout: an abortive close, a RST (Linux
                    // `tcp_close`: "Check zero linger _after_ checking for unread data").
                    self.stack.tcp_abort(h);
                } else {
                    self.stack.close(now, h);
                }
            }
            Phase::Listening(h) | Phase::Udp(h) => self.stack.close(now, h),
            Phase::Unconnected => {}
        }
        Ok(())
    }

    /// `getsockname(fd)`.
    pub(crate) fn local_addr(&self, fd: c_int) -> Result<SocketAddr, Errno> {
        let s = self.sock(fd)?;
        Ok(match s.phase {
            Phase::Connected(h) | Phase::Connecting(h) => self.stack.tcp_local_addr(h),
            Phase::Listening(h) => self.stack.tcp_listener_addr(h),
            Phase::Udp(h) => self.stack.udp_local_addr(h),
            Phase::Unconnected => s.bound.unwrap_or(sockaddr::unspecified(s.v6)),
        })
    }

    /// `getpeername(fd)` (Linux `inet_getname` with peer: ENOTCONN unless connected).
    pub(crate) fn peer_addr(&self, fd: c_int) -> Result<SocketAddr, Errno> {
        let s = self.sock(fd)?;
        match s.phase {
            // Linux `inet_getname`: CLOSE and SYN-SENT have no peer yet (or any more).
            Phase::Connected(h) | Phase::Connecting(h) => {
                let conn = self.stack.tcp_conn(h);
                match conn.state() {
                    TcpState::Closed | TcpState::SynSent => Err(libc::ENOTCONN),
                    _ => Ok(self.stack.tcp_peer_addr(h)),
                }
            }
            Phase::Udp(h) => self.stack.udp_peer_addr(h).ok_or(libc::ENOTCONN),
            _ => Err(libc::ENOTCONN),
        }
    }

    /// Bytes readable (`FIONREAD` / `SIOCINQ`; Linux `tcp_inq`). A listener: EINVAL.
    pub(crate) fn inq(&self, fd: c_int) -> Result<usize, Errno> {
        let s = self.sock(fd)?;
        match s.phase {
            Phase::Listening(_) => Err(libc::EINVAL),
            Phase::Connected(h) | Phase::Connecting(h) => {
                let conn = self.stack.tcp_conn(h);
                if in_handshake(conn) {
                    return Ok(0);
                }
                Ok(conn.recv_queue())
            }
            _ => Ok(0),
        }
    }

    /// Bytes sent and not acknowledged or not yet sent (`SIOCOUTQ`). A listener: EINVAL.
    pub(crate) fn outq(&self, fd: c_int) -> Result<usize, Errno> {
        let s = self.sock(fd)?;
        match s.phase {
            Phase::Listening(_) => Err(libc::EINVAL),
            Phase::Connected(h) | Phase::Connecting(h) => Ok(self.stack.tcp_conn(h).send_queue()),
            _ => Ok(0),
        }
    }
}

impl Host {
    #[allow(clippy::print_stderr)]
    fn log_ignored(&self) {
        for (name, value, why) in &self.settings.ignored {
            eprintln!("libustack_capi: sysctl {name} = {value} not applied: {why}");
        }
    }
}

/// Whether `a` is the unspecified address of either family (`::ffff:0.0.0.0` included).
fn unspecified(a: SocketAddr) -> bool {
    match a.ip() {
        IpAddr::V4(ip) => ip.is_unspecified(),
        IpAddr::V6(ip) => {
            ip.is_unspecified() || ip.to_ipv4_mapped().is_some_and(|m| m.is_unspecified())
        }
    }
}

/// Whether two TCP reservations of the same port cover a common address (Linux
/// `inet_bind_conflict` over `ipv6_rcv_saddr_equal`): `0.0.0.0` every IPv4 address, `::` every
/// IPv6 address and, without IPV6_V6ONLY, every IPv4 one; an IPv4-mapped address is the
/// IPv4 address.
fn overlap(a: SocketAddr, a_v6only: bool, b: SocketAddr, b_v6only: bool) -> bool {
    /// (covers every IPv4 address, covers every IPv6 address, the one address otherwise).
    fn cover(x: SocketAddr, v6only: bool) -> (bool, bool, Option<IpAddr>) {
        match x.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => (true, false, None),
            IpAddr::V6(ip) if ip.is_unspecified() => (!v6only, true, None),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(m) if m.is_unspecified() => (true, false, None),
                Some(m) => (false, false, Some(IpAddr::V4(m))),
                None => (false, false, Some(IpAddr::V6(ip))),
            },
            ip => (false, false, Some(ip)),
        }
    }
    if a.port() != b.port() {
        return false;
    }
    let (a4, a6, aip) = cover(a, a_v6only);
    let (b4, b6, bip) = cover(b, b_v6only);
    let covers = |all4: bool, all6: bool, ip: Option<IpAddr>| match ip {
        Some(IpAddr::V4(_)) => all4,
        Some(IpAddr::V6(_)) => all6,
        None => false,
    };
    (a4 && b4)
        || (a6 && b6)
        || covers(a4, a6, bip)
        || covers(b4, b6, aip)
        || (aip.is_some() && aip == bip)
}
