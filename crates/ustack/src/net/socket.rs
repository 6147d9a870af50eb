//! [`TcpSocket`]: a TCP socket before `connect` or `listen`, shaped like tokio's
//! `TcpSocket`, where the per-socket options go that must be set before the connection
//! exists (buffer sizes, keepalive, congestion control, the local address).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ustack_core::tcp_engine::{CcName, TcpConfig, cc};

use super::{NetStack, TcpListener, TcpStream, bind_error, connect_error, resolve};

/// A TCP socket that is neither connected nor listening yet (tokio's `TcpSocket`, or
/// `socket(2)` before `connect`/`listen`): set its options, optionally [`bind`] it, then
/// [`connect`] (a [`TcpStream`]) or [`listen`] (a [`TcpListener`]). The options start as the
/// stack's settings (its `TcpConfig`, the sysctls); what is set here applies to this socket
/// only, and a listener's connections inherit it, as on Linux.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// # let net: ustack::NetStack = unimplemented!();
/// use std::time::Duration;
/// let socket = ustack::TcpSocket::new_v4(&net)?;
/// socket.set_recv_buffer_size(1 << 20)?;
/// socket.set_keepalive(true)?;
/// socket.set_keepalive_time(Duration::from_secs(30))?;
/// socket.set_congestion_control("reno")?;
/// socket.bind("0.0.0.0:40000".parse().unwrap())?;
/// let stream = socket.connect("10.0.0.1:80".parse().unwrap())?;
/// # Ok(()) }
/// ```
///
/// The tokio API has the same builder with an async `connect`: `ustack::tokio::TcpSocket`.
///
/// [`bind`]: TcpSocket::bind
/// [`connect`]: TcpSocket::connect
/// [`listen`]: TcpSocket::listen
#[derive(Debug)]
pub struct TcpSocket {
    net: NetStack,
    opts: Mutex<Options>,
}

/// What a [`TcpSocket`] will be created with.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) tcp: TcpConfig,
    /// An IPv6 socket (`new_v6`): IPv6 addresses, IPv4 peers as `::ffff:a.b.c.d`.
    pub(crate) v6: bool,
    pub(crate) local: Option<SocketAddr>,
    /// `IPV6_V6ONLY` (`None`: `net.ipv6.bindv6only`).
    pub(crate) only_v6: Option<bool>,
    pub(crate) reuse_address: bool,
    pub(crate) ttl: Option<u32>,
    pub(crate) linger: Option<Duration>,
    /// `TCP_FASTOPEN` queue for `listen`.
    pub(crate) fastopen: Option<u32>,
    /// `TCP_DEFER_ACCEPT` for `listen`.
    pub(crate) defer_accept: Option<Duration>,
}

impl TcpSocket {
    /// A new IPv4 TCP socket on `net`, with the stack's TCP settings.
    pub fn new_v4(net: &NetStack) -> io::Result<TcpSocket> {
        TcpSocket::new(net, false)
    }

    /// A new IPv6 TCP socket on `net`, with the stack's TCP settings. Its addresses are
    /// IPv6 ones; unless [`TcpSocket::set_only_v6`] (or `net.ipv6.bindv6only`), it also
    /// reaches IPv4 peers through IPv4-mapped addresses (`::ffff:a.b.c.d`), and listening on
    /// `[::]` takes IPv4 clients too, as on Linux.
    pub fn new_v6(net: &NetStack) -> io::Result<TcpSocket> {
        TcpSocket::new(net, true)
    }

    /// A new socket of the family of `addr`, as tokio's `TcpStream::connect` and
    /// `TcpListener::bind` make one.
    pub fn new_for_addr(net: &NetStack, addr: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(net, addr.is_ipv6())
    }

    fn new(net: &NetStack, v6: bool) -> io::Result<TcpSocket> {
        let tcp = {
            let inner = net.shared.lock();
            inner.check_running()?;
            inner.stack.config().tcp
        };
        Ok(TcpSocket {
            net: net.clone(),
            opts: Mutex::new(Options {
                tcp,
                v6,
                local: None,
                only_v6: None,
                reuse_address: false,
                ttl: None,
                linger: None,
                fastopen: None,
                defer_accept: None,
            }),
        })
    }

    fn opts(&self) -> MutexGuard<'_, Options> {
        self.opts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the TCP settings, refusing a result that does not validate.
    fn tcp(&self, f: impl FnOnce(&mut TcpConfig)) -> io::Result<()> {
        let mut o = self.opts();
        let mut tcp = o.tcp;
        f(&mut tcp);
        tcp.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        o.tcp = tcp;
        Ok(())
    }

    /// `SO_REUSEADDR`: bind and listen even while connections of an earlier socket still use
    /// the port (TIME-WAIT). Off by default, as for a new kernel socket.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.opts().reuse_address = reuseaddr;
        Ok(())
    }

    /// `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        Ok(self.opts().reuse_address)
    }

    /// `SO_SNDBUF`: the send buffer holds `size` bytes, fixed (no growth with the congestion
    /// window). Linux reports twice the value set, counting its own bookkeeping; ustack's
    /// buffer holds payload only and reports what was set.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        let size = size.max(1);
        self.tcp(|t| {
            t.wmem.default = size;
            t.wmem.max = size;
            t.wmem.min = t.wmem.min.min(size);
        })
    }

    /// `SO_SNDBUF`: the send buffer's size (`tcp_wmem`'s default unless set).
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        Ok(self.opts().tcp.wmem.default)
    }

    /// `SO_RCVBUF`: the receive buffer holds `size` bytes, fixed (receive-buffer autotuning
    /// off, as Linux locks a buffer set by hand).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        let size = size.max(1);
        self.tcp(|t| {
            t.rmem.default = size;
            t.rmem.max = size;
            t.rmem.min = t.rmem.min.min(size);
            t.moderate_rcvbuf = false;
        })
    }

    /// `SO_RCVBUF`: the receive buffer's initial size (`tcp_rmem`'s default unless set).
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        Ok(self.opts().tcp.rmem.default)
    }

    /// `SO_KEEPALIVE`: probe the connection after it has been idle (RFC 9293 §3.8.4).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.tcp(|t| t.keepalive = keepalive)
    }

    /// `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(self.opts().tcp.keepalive)
    }

    /// `TCP_KEEPIDLE`: idle time before the first keepalive probe (`tcp_keepalive_time`,
    /// 7200 s, unless set).
    pub fn set_keepalive_time(&self, time: Duration) -> io::Result<()> {
        self.tcp(|t| t.keepalive_time = time)
    }

    /// `TCP_KEEPIDLE`.
    pub fn keepalive_time(&self) -> io::Result<Duration> {
        Ok(self.opts().tcp.keepalive_time)
    }

    /// `TCP_KEEPINTVL`: time between unanswered keepalive probes (`tcp_keepalive_intvl`, 75 s).
    pub fn set_keepalive_interval(&self, interval: Duration) -> io::Result<()> {
        self.tcp(|t| t.keepalive_intvl = interval)
    }

    /// `TCP_KEEPINTVL`.
    pub fn keepalive_interval(&self) -> io::Result<Duration> {
        Ok(self.opts().tcp.keepalive_intvl)
    }

    /// `TCP_KEEPCNT`: unanswered probes before the connection is reset
    /// (`tcp_keepalive_probes`, 9).
    pub fn set_keepalive_retries(&self, retries: u32) -> io::Result<()> {
        self.tcp(|t| t.keepalive_probes = retries)
    }

    /// `TCP_KEEPCNT`.
    pub fn keepalive_retries(&self) -> io::Result<u32> {
        Ok(self.opts().tcp.keepalive_probes)
    }

    /// `TCP_NODELAY`: true turns Nagle's algorithm off.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.tcp(|t| t.nodelay = nodelay)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.opts().tcp.nodelay)
    }

    /// `TCP_CONGESTION`: the congestion control by its Linux name (`reno`, `newreno`, and
    /// whatever else `ustack_core::tcp_engine::cc::available` lists). An unknown name is
    /// `NotFound` (Linux: `ENOENT`).
    pub fn set_congestion_control(&self, name: &str) -> io::Result<()> {
        let not_found = || {
            let known: Vec<&str> = cc::available().collect();
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{name:?} is not an available congestion control (available: {})",
                    known.join(" ")
                ),
            )
        };
        let cc_name = CcName::new(name).map_err(|_| not_found())?;
        if cc::factory_by_name(cc_name.as_str()).is_none() {
            return Err(not_found());
        }
        self.tcp(|t| t.congestion_control = cc_name)
    }

    /// `TCP_CONGESTION`.
    pub fn congestion_control(&self) -> io::Result<String> {
        Ok(self.opts().tcp.congestion_control.to_string())
    }

    /// `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the connection
    /// is aborted (zero: the `tcp_retries2` rule).
    pub fn set_user_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.tcp(|t| t.user_timeout = timeout)
    }

    /// `TCP_MAXSEG`: a cap on the MSS announced and used (0: none).
    pub fn set_mss(&self, mss: u16) -> io::Result<()> {
        self.tcp(|t| t.user_mss = mss)
    }

    /// `IPV6_V6ONLY` of an IPv6 socket, before [`TcpSocket::bind`]: true limits it to IPv6
    /// (listening on `[::]` takes no IPv4 client, and IPv4-mapped peers are refused), false
    /// makes it dual-stack whatever `net.ipv6.bindv6only` says. After a bind it is
    /// `InvalidInput` (Linux: `EINVAL`); on an IPv4 socket, which has no such option
    /// (Linux: `ENOPROTOOPT`), `Unsupported`.
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        let mut o = self.opts();
        if !o.v6 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "IPV6_V6ONLY is an option of IPv6 sockets",
            ));
        }
        if o.local.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "IPV6_V6ONLY must be set before bind",
            ));
        }
        o.only_v6 = Some(only_v6);
        Ok(())
    }

    /// `IPV6_V6ONLY`: as set, else `net.ipv6.bindv6only` (false for an IPv4 socket).
    pub fn only_v6(&self) -> io::Result<bool> {
        let o = self.opts();
        if !o.v6 {
            return Ok(false);
        }
        match o.only_v6 {
            Some(v) => Ok(v),
            None => {
                let inner = self.net.shared.lock();
                inner.check_running()?;
                Ok(inner.stack.config().bindv6only)
            }
        }
    }

    /// `IP_TTL` of the connection's packets (IPv4; IPv6 packets carry
    /// `net.ipv6.conf.default.hop_limit`).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        if !(1..=255).contains(&ttl) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a TTL must be 1 to 255"));
        }
        self.opts().ttl = Some(ttl);
        Ok(())
    }

    /// `SO_LINGER` of the stream `connect` returns (see [`TcpStream::set_linger`]).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.opts().linger = linger;
        Ok(())
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self.opts().linger)
    }

    /// `TCP_FASTOPEN` for [`TcpSocket::listen`]: the listener takes data in SYNs that carry
    /// a valid cookie, with at most `qlen` such connections in their handshake at once (see
    /// [`TcpListener::set_fastopen`]). The client side is [`TcpSocket::connect_with_data`].
    pub fn set_fastopen(&self, qlen: u32) -> io::Result<()> {
        self.opts().fastopen = Some(qlen);
        Ok(())
    }

    /// `TCP_DEFER_ACCEPT` for [`TcpSocket::listen`] (see [`TcpListener::set_defer_accept`]).
    pub fn set_defer_accept(&self, wait: Duration) -> io::Result<()> {
        self.opts().defer_accept = Some(wait);
        Ok(())
    }

    /// Chooses the local address and port (port 0: an ephemeral port, chosen now). The
    /// address must be of the socket's family (an IPv6 socket takes IPv4-mapped ones unless
    /// `IPV6_V6ONLY`) and the stack's own or unspecified (any address in transparent mode);
    /// the port must be free of listeners and, without [`set_reuseaddr`], of connections.
    /// The port is checked here and taken by `connect` or `listen`.
    ///
    /// [`set_reuseaddr`]: TcpSocket::set_reuseaddr
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let (reuse, v6, only_v6) = {
            let o = self.opts();
            (o.reuse_address, o.v6, o.only_v6)
        };
        check_family(v6, addr)?;
        let mut inner = self.net.shared.lock();
        inner.check_running()?;
        let only_v6 = v6 && only_v6.unwrap_or(inner.stack.config().bindv6only);
        if only_v6 && is_v4_mapped(addr) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPV6_V6ONLY socket cannot bind an IPv4-mapped address",
            ));
        }
        let stack = &mut inner.stack;
        if !stack.is_local_addr(addr.ip()) {
            return Err(bind_error(ustack_core::BindError::AddrNotAvailable));
        }
        let port = if addr.port() == 0 {
            stack
                .tcp_pick_port(addr.ip(), |_| true)
                .ok_or_else(|| bind_error(ustack_core::BindError::NoEphemeralPort))?
        } else {
            let used = stack.tcp_port_use_v6only(addr, only_v6);
            if used.listener || (!reuse && used.connections > 0) {
                return Err(bind_error(ustack_core::BindError::AddrInUse));
            }
            addr.port()
        };
        drop(inner);
        self.opts().local = Some(SocketAddr::new(addr.ip(), port));
        Ok(())
    }

    /// The address [`TcpSocket::bind`] chose (`0.0.0.0:0`, or `[::]:0` for an IPv6
    /// socket, before a bind).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let o = self.opts();
        Ok(o.local.unwrap_or(unspecified(o.v6)))
    }

    /// `SO_ERROR`: a socket not yet connected has none.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }

    /// The stack it belongs to.
    pub fn net(&self) -> &NetStack {
        &self.net
    }

    pub(crate) fn into_parts(self) -> (NetStack, Options) {
        let opts = self.opts.into_inner().unwrap_or_else(PoisonError::into_inner);
        (self.net, opts)
    }

    /// Connects to `addr` with the socket's options and waits for the handshake (like
    /// [`TcpStream::connect`]).
    pub fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let (net, opts) = self.into_parts();
        let h = net.start_connect_with(addr, &opts)?;
        let stream = TcpStream::finish_connect(&net, h, None)?;
        stream.set_linger(opts.linger)?;
        Ok(stream)
    }

    /// Listens on the bound address (0.0.0.0 and an ephemeral port when not bound) with
    /// room for `backlog` connections, which start with the socket's options.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let (net, opts) = self.into_parts();
        let h = net.open_listener_with(backlog, &opts)?;
        TcpListener::from_handle(&net, h).with_listen_options(&opts)
    }

    /// Connects to `addr` with the socket's options and `data` to send, using TCP Fast Open
    /// (see [`TcpStream::connect_with_data`]): the SYN carries the start of `data` when the
    /// stack holds a cookie from this server.
    pub fn connect_with_data(self, addr: SocketAddr, data: &[u8]) -> io::Result<TcpStream> {
        let (net, opts) = self.into_parts();
        let stream = TcpStream::connect_with_data_and(&net, addr, data, Some(&opts))?;
        stream.set_linger(opts.linger)?;
        Ok(stream)
    }

    /// Opens the any-IP listener ([`TcpListener::bind_any`]) with the socket's options.
    pub fn listen_any(self, backlog: u32) -> io::Result<TcpListener> {
        let (net, opts) = self.into_parts();
        let h = net.open_any_listener(backlog, Some(&opts.tcp))?;
        net.apply_ttl(h, opts.ttl)?;
        TcpListener::from_handle(&net, h).with_listen_options(&opts)
    }
}

impl NetStack {
    /// Starts an active open with a [`TcpSocket`]'s options.
    pub(crate) fn start_connect_with(
        &self,
        addr: impl ToSocketAddrs,
        opts: &Options,
    ) -> io::Result<ustack_core::SocketHandle> {
        let remote = opts.remote(resolve(addr)?)?;
        let h = {
            let mut inner = self.shared.lock();
            inner.check_running()?;
            let now = inner.now();
            let local = opts.local.or(opts.v6.then(|| unspecified(true)));
            let h = inner
                .stack
                .tcp_connect_with(now, local, remote, &opts.tcp)
                .map_err(connect_error)?;
            if let Some(ttl) = opts.ttl {
                // Checked by set_ttl: 1 to 255.
                let _ = inner.stack.set_ttl(h, ttl as u8);
            }
            h
        };
        self.shared.nudge();
        Ok(h)
    }

    /// Opens a listener with a [`TcpSocket`]'s options.
    pub(crate) fn open_listener_with(
        &self,
        backlog: u32,
        opts: &Options,
    ) -> io::Result<ustack_core::SocketHandle> {
        let local = opts.local.unwrap_or(unspecified(opts.v6));
        let h = {
            let mut inner = self.shared.lock();
            inner.check_running()?;
            let only_v6 = opts.only_v6.unwrap_or(inner.stack.config().bindv6only);
            inner
                .stack
                .tcp_listen_v6only(local, backlog, opts.reuse_address, only_v6, &opts.tcp)
                .map_err(bind_error)?
        };
        self.apply_ttl(h, opts.ttl)?;
        Ok(h)
    }

    fn apply_ttl(&self, h: ustack_core::SocketHandle, ttl: Option<u32>) -> io::Result<()> {
        if let Some(ttl) = ttl {
            let mut inner = self.shared.lock();
            inner.live(h)?;
            let _ = inner.stack.set_ttl(h, ttl as u8);
        }
        Ok(())
    }
}

impl Options {
    /// The address an active open of this socket goes to: `addr` checked against the
    /// socket's family, an IPv4 one on an IPv6 socket refused as Linux does (`EINVAL`: the
    /// caller passes `::ffff:a.b.c.d`), an IPv4-mapped one refused under `IPV6_V6ONLY`.
    pub(crate) fn remote(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        check_family(self.v6, addr)?;
        if self.only_v6 == Some(true) && is_v4_mapped(addr) {
            return Err(io::Error::new(
                io::ErrorKind::NetworkUnreachable,
                "an IPV6_V6ONLY socket cannot reach an IPv4-mapped address",
            ));
        }
        Ok(addr)
    }
}

/// The unspecified address and port 0 of a family.
fn unspecified(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
    } else {
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
    }
}

/// An address of the other family than the socket's: Linux's `EINVAL` for an IPv4 address
/// on an IPv6 socket, `EAFNOSUPPORT` for the reverse.
fn check_family(v6: bool, addr: SocketAddr) -> io::Result<()> {
    match (v6, addr) {
        (true, SocketAddr::V4(_)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an IPv4 address on an IPv6 socket (use ::ffff:a.b.c.d)",
        )),
        (false, SocketAddr::V6(_)) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "an IPv6 address on an IPv4 socket (make it with TcpSocket::new_v6)",
        )),
        _ => Ok(()),
    }
}

fn is_v4_mapped(addr: SocketAddr) -> bool {
    matches!(addr, SocketAddr::V6(a) if a.ip().to_ipv4_mapped().is_some())
}
