//! The driver and the socket APIs: a [`NetStack`] runs a [`Stack`] over a [`Device`] on a
//! thread of its own; [`TcpListener`], [`TcpStream`] and [`UdpSocket`] are shaped like
//! `std::net`'s and block; the `tokio` feature adds async twins (`ustack::tokio`).
//!
//! # How it runs (docs/host-stack.md)
//!
//! The driver thread owns the device. It loops: receive every waiting packet and hand it to
//! the stack, fire due timers, send what the stack has to send, wake the sockets the stack
//! reported events for, then sleep until the earliest of the next timer, device readiness
//! and a nudge from a socket call. The clock is mapped once: [`Instant`] 0 is when the
//! driver started. Traffic between the stack's own sockets (127.0.0.1, or the stack's own
//! address) never reaches the device: `Stack::poll_transmit` feeds it back to the stack's
//! input and carries the exchange on, so when the driver's flush ends nothing looped is
//! pending and sleeping cannot delay it.
//!
//! Socket calls lock the stack, act on it and nudge the driver when they may have produced
//! something to send; a call that must wait (read with nothing to read, accept on an empty
//! queue) sleeps on its socket's condition variable (or registers its task's waker) until
//! the driver reports an event for that socket. A UDP send that finds the stack's transmit
//! queue full waits the same way until the driver has emptied it.
//!
//! # Shutdown
//!
//! [`NetStack::shutdown`] first marks the stack closed, then closes the sockets: from that
//! moment every call on a socket of the stack, and every call that was waiting, fails with
//! `NotConnected` ("the stack was shut down"); none reaches a handle the stack has already
//! released. The same holds after [`NetStack::stop`], after the driver failed (the error then
//! says why), and for a socket whose handle was closed behind its back through
//! [`NetStack::with_stack`].

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::thread;
use std::time::Duration;

use ustack_core::{
    Counters, Instant, InterfaceConfig, Ipv4Cidr, Ipv6Cidr, Netstat, Route, SocketHandle, Stack,
    StackConfig,
};

use ustack_core::tcp_engine::TcpState;

use crate::device::{Device, Notify, Readiness};

mod config;
pub(crate) mod error;
pub(crate) mod sock;
pub(crate) mod socket;
pub(crate) mod tcp;
mod udp;

pub use config::SettingError;
pub use socket::TcpSocket;
pub use tcp::{Incoming, ListenOptions, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(feature = "tokio")]
pub(crate) use udp::send_or_wait as udp_send_or_wait;

use error::udp_send_error;
pub(crate) use error::{
    bind_error, conn_error, connect_error, recv_error, resolve, send_error, udp_recv_error,
};

/// How to set up a [`NetStack`].
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Our IPv4 address and prefix on the device, e.g. 10.7.0.2/24.
    pub addr: Ipv4Cidr,
    /// Our IPv6 addresses and prefixes on the device, e.g. 2001:db8::2/64 (none by default;
    /// [`NetConfig::with_ipv6`] adds one). The stack is dual-stack with one or more: sockets
    /// take `SocketAddr`s of both families, and one on `[::]` takes IPv4 clients too (as
    /// `::ffff:a.b.c.d`) unless IPV6_V6ONLY (`net.ipv6.bindv6only`). IPv6 needs an MTU of
    /// at least 1280; below that the device carries IPv4 only. The device is layer 3: no
    /// Neighbor Discovery, no link-local address.
    pub ipv6: Vec<Ipv6Cidr>,
    /// MTU; `None` takes the device's.
    pub mtu: Option<u16>,
    /// Send everything outside `addr`'s network through the device too (a default route;
    /// `::/0` as well when there is an IPv6 address).
    pub default_route: bool,
    /// The stack's settings. [`NetConfig::new`] fills the secret with random bytes.
    pub stack: StackConfig,
    /// Switch trace events on (they go to the observer, see [`NetStack::set_observer`]).
    pub tracing: bool,
    /// Transparent (any-IP) mode: take TCP connections and UDP datagrams to any unicast
    /// address the device delivers, not only to `addr`, with the dialled address as the
    /// local one and the source of the replies ([`TcpListener::bind_any`],
    /// [`UdpSocket::bind_any`]; `docs/host-stack.md`), over IPv4 and IPv6 (IPv6 needs an
    /// address of the stack's, `ipv6`, for the device to carry it). Off by default.
    pub transparent: bool,
    /// The stack's place among the shards of a multi-queue device whose queues are steered
    /// by [`ustack_core::steering`]'s rule ([`crate::device::Tun::set_steering`]): its
    /// ephemeral ports are then picked so that the answers come back to its queue. `None`
    /// (the default) for a stack alone on its device.
    pub shard: Option<ustack_core::steering::Shard>,
}

impl NetConfig {
    /// Linux defaults, a random secret, a default route through the device.
    pub fn new(addr: Ipv4Cidr) -> NetConfig {
        NetConfig {
            addr,
            ipv6: Vec::new(),
            mtu: None,
            default_route: true,
            stack: StackConfig::new(random_secret()),
            tracing: false,
            transparent: false,
            shard: None,
        }
    }

    /// The same configuration with one more IPv6 address (dual stack).
    ///
    /// ```
    /// let cfg = ustack::NetConfig::new("10.0.0.2/24".parse().unwrap())
    ///     .with_ipv6("2001:db8::2/64".parse().unwrap());
    /// assert_eq!(cfg.ipv6.len(), 1);
    /// ```
    #[must_use]
    pub fn with_ipv6(mut self, addr: Ipv6Cidr) -> NetConfig {
        self.ipv6.push(addr);
        self
    }
}

/// 16 bytes from the kernel's random source (the keys of the stack's hashes: ISNs, ports).
fn random_secret() -> [u8; 16] {
    use std::io::Read;
    let mut key = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).is_err() {
        // No /dev/urandom: fall back on the clock and the process id, still unpredictable
        // enough to keep ISNs apart between runs.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        key[..16].copy_from_slice(&(t ^ u128::from(std::process::id()) << 64).to_le_bytes());
    }
    key
}

/// A function the driver calls with every socket event (trace events included when tracing
/// is on), under the stack lock: keep it short.
pub type Observer = Box<dyn FnMut(Instant, &ustack_core::SocketEvent) + Send>;

/// A running stack: the handle sockets are opened on. Cloning it is cheap; the driver stops
/// when [`NetStack::shutdown`] or [`NetStack::stop`] is called, or (as abruptly as `stop`)
/// when the last clone and the last socket are dropped, and the device is dropped with it.
#[derive(Clone)]
pub struct NetStack {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for NetStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetStack").finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) inner: Mutex<Inner>,
    nudge: Nudge,
    driver: Mutex<Option<thread::JoinHandle<io::Result<()>>>>,
}

/// What the lock protects: the stack and who waits on which socket.
pub(crate) struct Inner {
    pub(crate) stack: Stack,
    epoch: std::time::Instant,
    waits: HashMap<SocketHandle, Waits>,
    observer: Option<Observer>,
    /// Socket calls fail: set first thing by `shutdown` and `stop`, before any handle is
    /// released, so no call can reach a released handle.
    closed: bool,
    /// The driver is to exit (or has exited).
    stop: bool,
    /// Why the driver stopped, when it failed.
    failed: Option<String>,
    /// Sockets whose send found the transmit queue full: woken once the driver has emptied
    /// it.
    tx_waiting: Vec<SocketHandle>,
}

/// The waiters of one socket.
#[derive(Default)]
struct Waits {
    cv: Arc<Condvar>,
    wakers: Vec<Waker>,
}

/// How socket calls wake the driver.
enum Nudge {
    Notify(Arc<Notify>),
    Pipe(UnixStream),
}

impl Inner {
    /// The stack's clock: time since the driver started.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// The condition variable a blocking call on `h` waits on.
    pub(crate) fn condvar(&mut self, h: SocketHandle) -> Arc<Condvar> {
        Arc::clone(&self.waits.entry(h).or_default().cv)
    }

    /// Registers a task to wake on `h`'s next event.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn register_waker(&mut self, h: SocketHandle, waker: &Waker) {
        let w = &mut self.waits.entry(h).or_default().wakers;
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
    }

    pub(crate) fn forget(&mut self, h: SocketHandle) {
        if let Some(w) = self.waits.remove(&h) {
            w.cv.notify_all();
            w.wakers.into_iter().for_each(Waker::wake);
        }
    }

    /// The driver failed or the stack was shut down (or is shutting down): socket calls
    /// fail with this.
    pub(crate) fn check_running(&self) -> io::Result<()> {
        if let Some(why) = &self.failed {
            return Err(io::Error::other(format!("the stack's driver stopped: {why}")));
        }
        if self.closed || self.stop {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the stack was shut down"));
        }
        Ok(())
    }

    /// Whether a call may use the socket `h`: the stack runs and the handle still names a
    /// socket. Every socket call checks this before it touches the stack, whose lookups
    /// panic on a released handle.
    pub(crate) fn live(&self, h: SocketHandle) -> io::Result<()> {
        self.check_running()?;
        if !self.stack.contains(h) {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the socket was closed"));
        }
        Ok(())
    }

    /// Wakes `h` once the driver has emptied the transmit queue.
    pub(crate) fn wait_tx_room(&mut self, h: SocketHandle) {
        if !self.tx_waiting.contains(&h) {
            self.tx_waiting.push(h);
        }
    }

    fn wake(&mut self, h: SocketHandle) {
        if let Some(w) = self.waits.get_mut(&h) {
            w.cv.notify_all();
            w.wakers.drain(..).for_each(Waker::wake);
        }
    }

    fn wake_all(&mut self) {
        self.tx_waiting.clear();
        for w in self.waits.values_mut() {
            w.cv.notify_all();
            w.wakers.drain(..).for_each(Waker::wake);
        }
    }
}

impl NetStack {
    /// Starts a stack at `cfg.addr` over `device`, with its driver on a new thread.
    pub fn spawn<D: Device + Send + 'static>(device: D, cfg: NetConfig) -> io::Result<NetStack> {
        let mtu = match cfg.mtu {
            Some(m) => m,
            None => u16::try_from(device.mtu()).unwrap_or(u16::MAX),
        };
        let mut stack = Stack::new(cfg.stack)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut iface_cfg = InterfaceConfig::ipv4(cfg.addr, mtu);
        iface_cfg.ipv6.clone_from(&cfg.ipv6);
        let iface = stack.add_interface(iface_cfg);
        // TSO and trusted checksums when the device offers them (`device` module docs).
        stack.set_offloads(iface, device.offloads());
        if cfg.default_route {
            let any = Ipv4Cidr::new(std::net::Ipv4Addr::UNSPECIFIED, 0).expect("a /0 prefix");
            stack.add_route(Route { dest: any.into(), iface });
            if !cfg.ipv6.is_empty() {
                let any6 = Ipv6Cidr::new(std::net::Ipv6Addr::UNSPECIFIED, 0).expect("a /0 prefix");
                stack.add_route(Route { dest: any6.into(), iface });
            }
        }
        stack.set_tracing(cfg.tracing);
        stack.set_transparent(cfg.transparent);
        stack.set_shard(cfg.shard);
        let readiness = device.readiness();
        let (nudge, wake_rx) = match &readiness {
            Readiness::Notify(n) => (Nudge::Notify(Arc::clone(n)), None),
            #[cfg(target_os = "linux")]
            Readiness::Fd(_) => {
                let (tx, rx) = UnixStream::pair()?;
                tx.set_nonblocking(true)?;
                rx.set_nonblocking(true)?;
                (Nudge::Pipe(tx), Some(rx))
            }
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                stack,
                epoch: std::time::Instant::now(),
                waits: HashMap::new(),
                observer: None,
                closed: false,
                stop: false,
                failed: None,
                tx_waiting: Vec::new(),
            }),
            nudge,
            driver: Mutex::new(None),
        });
        // The driver holds the stack weakly: when the last NetStack and socket are gone, the
        // stack is dropped (which nudges the driver) and the driver ends.
        let driver_shared = Arc::downgrade(&shared);
        let handle = thread::Builder::new().name("ustack-driver".into()).spawn(move || {
            let r = drive(&driver_shared, device, readiness, wake_rx, usize::from(mtu));
            if let Some(shared) = driver_shared.upgrade() {
                let mut inner = shared.lock();
                if let Err(e) = &r {
                    inner.failed = Some(e.to_string());
                }
                inner.closed = true;
                inner.stop = true;
                inner.wake_all();
            }
            r
        })?;
        *shared.driver.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(NetStack { shared })
    }

    /// Every socket, like `ss -tuan` (SPEC S2).
    pub fn netstat(&self) -> Netstat {
        let inner = self.shared.lock();
        let now = inner.now();
        inner.stack.netstat(now)
    }

    /// The stack's counters, like `netstat -s`.
    pub fn counters(&self) -> Counters {
        self.shared.lock().stack.counters()
    }

    /// Calls `observer` with every socket event from now on (trace events too when tracing
    /// is on: [`NetStack::set_tracing`]).
    pub fn set_observer(&self, observer: Observer) {
        self.shared.lock().observer = Some(observer);
    }

    /// Switches trace events on or off.
    pub fn set_tracing(&self, on: bool) {
        self.shared.lock().stack.set_tracing(on);
    }

    /// Runs `f` on the stack under the lock, e.g. to read a connection's counters. The
    /// driver is nudged afterwards in case `f` queued something to send.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> R {
        let r = {
            let mut inner = self.shared.lock();
            let now = inner.now();
            f(&mut inner.stack, now)
        };
        self.shared.nudge();
        r
    }

    /// Closes every socket (connections gracefully: FIN after their data), waits up to
    /// `grace` for the connections to finish their exchange (TIME-WAIT counts as finished:
    /// the stack goes away with it), then stops the driver and drops the device. From the
    /// start, every socket call fails with `NotConnected`, and calls that were waiting
    /// (accept, read, connect, ...) wake and fail the same way. Returns how many connections
    /// had not finished in time.
    pub fn shutdown(&self, grace: Duration) -> io::Result<usize> {
        {
            let mut inner = self.shared.lock();
            // Closed before any handle is released: a call that comes now, or wakes up now,
            // fails instead of reaching a released handle.
            inner.closed = true;
            let now = inner.now();
            let handles: Vec<SocketHandle> = inner
                .stack
                .netstat(now)
                .sockets
                .iter()
                .filter(|s| s.owned)
                .map(|s| s.handle)
                .collect();
            for h in handles {
                if inner.stack.contains(h) {
                    inner.stack.close(now, h);
                }
            }
            inner.wake_all();
        }
        self.shared.nudge();
        let deadline = std::time::Instant::now() + grace;
        let unfinished = loop {
            let left = {
                let inner = self.shared.lock();
                let now = inner.now();
                inner
                    .stack
                    .netstat(now)
                    .sockets
                    .iter()
                    .filter(|s| {
                        !matches!(s.state, TcpState::TimeWait | TcpState::Closed)
                            && s.protocol == ustack_core::Protocol::Tcp
                    })
                    .count()
            };
            if left == 0 || std::time::Instant::now() >= deadline {
                break left;
            }
            thread::sleep(Duration::from_millis(10));
        };
        self.stop()?;
        Ok(unfinished)
    }

    /// Stops the driver now (no goodbye to the peers) and waits for its thread. Socket calls
    /// fail with `NotConnected` afterwards; calls that were waiting wake and fail.
    pub fn stop(&self) -> io::Result<()> {
        {
            let mut inner = self.shared.lock();
            inner.closed = true;
            inner.stop = true;
            inner.wake_all();
        }
        self.shared.nudge();
        let handle = self.shared.driver.lock().unwrap_or_else(PoisonError::into_inner).take();
        match handle {
            Some(h) => h.join().map_err(|_| io::Error::other("the driver thread panicked"))?,
            None => Ok(()),
        }
    }
}

/// The socket operations the blocking and the async APIs share.
impl NetStack {
    /// Opens a listener (both APIs' `bind_with`).
    pub(crate) fn open_listener(
        &self,
        addr: impl std::net::ToSocketAddrs,
        opts: ListenOptions,
    ) -> io::Result<SocketHandle> {
        let addr = resolve(addr)?;
        let mut inner = self.shared.lock();
        inner.check_running()?;
        let v6only = opts.only_v6.unwrap_or(inner.stack.config().bindv6only);
        let tcp = inner.stack.config().tcp;
        inner
            .stack
            .tcp_listen_v6only(addr, opts.backlog, opts.reuse_address, v6only, &tcp)
            .map_err(bind_error)
    }

    /// Opens the any-IP listener (transparent mode), with `tcp` as its connections' settings
    /// when given.
    pub(crate) fn open_any_listener(
        &self,
        backlog: u32,
        tcp: Option<&ustack_core::tcp_engine::TcpConfig>,
    ) -> io::Result<SocketHandle> {
        let mut inner = self.shared.lock();
        inner.check_running()?;
        if !inner.stack.transparent() {
            return Err(not_transparent());
        }
        match tcp {
            Some(tcp) => inner.stack.tcp_listen_any_with(backlog, tcp),
            None => inner.stack.tcp_listen_any(backlog),
        }
        .map_err(bind_error)
    }

    /// Opens the any-IP UDP socket (transparent mode).
    pub(crate) fn open_any_udp(&self) -> io::Result<SocketHandle> {
        let mut inner = self.shared.lock();
        inner.check_running()?;
        if !inner.stack.transparent() {
            return Err(not_transparent());
        }
        inner.stack.udp_bind_any().map_err(bind_error)
    }

    /// Binds a UDP socket, with IPV6_V6ONLY `only_v6` (`None`: `net.ipv6.bindv6only`).
    pub(crate) fn open_udp(
        &self,
        addr: impl std::net::ToSocketAddrs,
        only_v6: Option<bool>,
    ) -> io::Result<SocketHandle> {
        let addr = resolve(addr)?;
        let mut inner = self.shared.lock();
        inner.check_running()?;
        let v6only = only_v6.unwrap_or(inner.stack.config().bindv6only);
        inner.stack.udp_bind_v6only(addr, v6only).map_err(bind_error)
    }

    /// Starts an active open; the SYN leaves when the driver runs.
    pub(crate) fn start_connect(
        &self,
        addr: impl std::net::ToSocketAddrs,
    ) -> io::Result<SocketHandle> {
        let remote = resolve(addr)?;
        let h = {
            let mut inner = self.shared.lock();
            inner.check_running()?;
            let now = inner.now();
            inner.stack.tcp_connect(now, None, remote).map_err(connect_error)?
        };
        self.shared.nudge();
        Ok(h)
    }

    /// Starts an active open with TCP Fast Open (SPEC S6): the SYN carries the start of
    /// `data` when a cookie allows it. Returns the handle and how many bytes of `data` are
    /// queued for the SYN; the rest is the caller's to write once connected.
    pub(crate) fn start_connect_fast_open(
        &self,
        addr: impl std::net::ToSocketAddrs,
        data: &[u8],
        opts: Option<&socket::Options>,
    ) -> io::Result<(SocketHandle, usize)> {
        let remote = resolve(addr)?;
        let remote = match opts {
            Some(o) => o.remote(remote)?,
            None => remote,
        };
        let r = {
            let mut inner = self.shared.lock();
            inner.check_running()?;
            let now = inner.now();
            let tcp = opts.map_or(inner.stack.config().tcp, |o| o.tcp);
            let local = opts.and_then(|o| {
                o.local.or(o.v6.then(|| (std::net::Ipv6Addr::UNSPECIFIED, 0).into()))
            });
            let r = inner
                .stack
                .tcp_connect_fast_open(now, local, remote, &tcp, data)
                .map_err(connect_error)?;
            if let Some(ttl) = opts.and_then(|o| o.ttl) {
                // Checked by set_ttl: 1 to 255.
                let _ = inner.stack.set_ttl(r.0, ttl as u8);
            }
            r
        };
        self.shared.nudge();
        Ok((r.0, r.1.syn_data))
    }

    /// Releases a socket when its handle is dropped: `close` (TCP finishes in the
    /// background), its waiters woken and forgotten. After a shutdown the stack has closed
    /// it already.
    pub(crate) fn release(&self, h: SocketHandle) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        if !inner.closed && inner.stack.contains(h) {
            inner.stack.close(now, h);
        }
        inner.forget(h);
        drop(inner);
        self.shared.nudge();
    }
}

fn not_transparent() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the stack is not in transparent mode: set NetConfig::transparent to take every address",
    )
}

/// Where an active open stands: `WouldBlock` while the handshake runs, then connected or the
/// error that ended it.
pub(crate) fn connect_progress(inner: &Inner, h: SocketHandle) -> io::Result<()> {
    inner.live(h)?;
    let conn = inner.stack.tcp_conn(h);
    match conn.state() {
        TcpState::SynSent | TcpState::SynReceived => Err(io::ErrorKind::WouldBlock.into()),
        TcpState::Closed => conn.error().map_or(Ok(()), |e| Err(conn_error(e))),
        _ => Ok(()),
    }
}

impl Drop for Shared {
    /// The last NetStack and socket are gone: wake the driver so that it sees it and ends.
    fn drop(&mut self) {
        self.nudge();
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the driver: a socket call queued something to send.
    pub(crate) fn nudge(&self) {
        match &self.nudge {
            Nudge::Notify(n) => n.notify(),
            Nudge::Pipe(tx) => {
                use std::io::Write;
                // A full pipe already holds a wake-up; nothing is lost.
                let _ = (&*tx).write(&[1]);
            }
        }
    }
}

/// The driver loop (module docs). It ends when the stack is stopped or dropped.
fn drive<D: Device>(
    shared: &std::sync::Weak<Shared>,
    mut device: D,
    readiness: Readiness,
    wake_rx: Option<UnixStream>,
    mtu: usize,
) -> io::Result<()> {
    let mut buf = vec![0u8; mtu.max(65_536)];
    let mut events = Vec::new();
    loop {
        // Held for one round, never across the wait below, so that dropping the last
        // NetStack drops the stack.
        let Some(shared) = shared.upgrade() else { return Ok(()) };
        // Receive: one lock per packet, so socket calls interleave with a burst.
        let mut received = 0;
        loop {
            match device.recv_with(&mut buf) {
                Ok((n, meta)) => {
                    let mut inner = shared.lock();
                    let now = inner.now();
                    inner.stack.handle_packet_with(now, 0, &buf[..n], meta);
                    received += 1;
                    if received % 64 == 0 {
                        flush(&mut inner, &mut device, &mut buf, &mut events)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => continue, // oversized: counted by the device
                Err(e) => return Err(io::Error::new(e.kind(), format!("device receive: {e}"))),
            }
        }
        let timeout = {
            let mut inner = shared.lock();
            if inner.stop {
                return Ok(());
            }
            let now = inner.now();
            if inner.stack.poll_timeout().is_some_and(|t| t <= now) {
                inner.stack.handle_timeout(now);
            }
            flush(&mut inner, &mut device, &mut buf, &mut events)?;
            let now = inner.now();
            match inner.stack.poll_timeout() {
                Some(t) => Duration::from_nanos(t.as_nanos().saturating_sub(now.as_nanos())),
                None => Duration::from_secs(3600),
            }
        };
        drop(shared);
        match (&readiness, &wake_rx) {
            #[cfg(target_os = "linux")]
            (Readiness::Fd(fd), Some(rx)) => {
                use std::os::fd::AsRawFd;
                let [_, woken] =
                    crate::device::tun::poll_readable2([*fd, rx.as_raw_fd()], timeout)?;
                if woken {
                    use std::io::Read;
                    let mut sink = [0u8; 64];
                    while matches!((&*rx).read(&mut sink), Ok(n) if n > 0) {}
                }
            }
            (r, _) => {
                r.wait_timeout(timeout)?;
            }
        }
    }
}

/// Sends everything the stack has to send and delivers its events.
fn flush<D: Device>(
    inner: &mut Inner,
    device: &mut D,
    buf: &mut [u8],
    events: &mut Vec<ustack_core::SocketEvent>,
) -> io::Result<()> {
    let now = inner.now();
    while let Some(t) = inner.stack.poll_transmit(now, buf) {
        match device.send_with(&buf[..t.len], t.gso) {
            Ok(()) => {}
            // A full device queue is a loss on the wire: TCP retransmits.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("device send: {e}"))),
        }
    }
    // The transmit queue is empty now: senders that found it full can try again.
    while let Some(h) = inner.tx_waiting.pop() {
        inner.wake(h);
    }
    events.clear();
    while let Some(ev) = inner.stack.poll_event() {
        events.push(ev);
    }
    for ev in events.iter() {
        if let Some(obs) = inner.observer.as_mut() {
            obs(now, ev);
        }
        inner.wake(ev.socket);
    }
    Ok(())
}
