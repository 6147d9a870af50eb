//! The `forward` service (tun2socks): the stack in transparent mode takes every TCP
//! connection and UDP flow the kernel routes into the device, whatever its destination, and
//! relays each to that destination through the host's own sockets, or through a SOCKS5
//! proxy (RFC 1928: CONNECT for TCP, UDP ASSOCIATE for UDP).
//!
//! TCP: the any-IP listener accepts the connection (the handshake completes at once); the
//! relay connects to the destination the client dialled (the stream's local address); bytes
//! go both ways, each end's FIN is passed on as a FIN (half-close kept); when the
//! destination cannot be reached, or resets, the client's connection is reset.
//!
//! UDP: the any-IP UDP socket receives datagrams with their destination; each (client,
//! destination) pair is a flow with a host UDP socket of its own, connected to the
//! destination; replies go back to the client from the destination's address. A flow with no
//! datagram either way for `--udp-timeout` seconds is forgotten.
//!
//! The host sockets must not be routed back into the device, or every relayed connection
//! would come round again: give them a mark (`--mark`, `SO_MARK`) and route marked packets
//! by the main table (`ip rule add not fwmark MARK table T`, with the device's routes in
//! `T`), as tun2socks setups do. A connection or datagram that comes back from one of the
//! relay's own sockets is refused (RST, or dropped) and reported as a routing loop.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ustack::NetStack;

/// Options of the `forward` service.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct ForwardArgs {
    /// Relay through this SOCKS5 proxy (no authentication) instead of connecting directly:
    /// TCP with CONNECT, UDP with UDP ASSOCIATE, one association per flow (IPv4 and IPv6
    /// destinations alike).
    #[arg(long, value_name = "HOST:PORT")]
    socks5: Option<String>,
    /// Set this mark (SO_MARK) on every host socket the relay opens, so that a routing rule
    /// can keep them out of the device (e.g. `ip rule add not fwmark 0x1 table 100` with the
    /// device's routes in table 100).
    #[arg(long, value_parser = parse_mark)]
    mark: Option<u32>,
    /// Seconds a UDP flow may go without a datagram either way before it is forgotten.
    #[arg(long, default_value_t = 60)]
    udp_timeout: u64,
}

fn parse_mark(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not a 32-bit mark (decimal or 0x hex)"))
}

impl ForwardArgs {
    pub(crate) fn describe(&self) -> String {
        let via = match &self.socks5 {
            Some(p) => format!("through the SOCKS5 proxy {p}"),
            None => "through the host's sockets".to_string(),
        };
        let mark = self.mark.map_or_else(String::new, |m| format!(", mark {m:#x}"));
        format!("forward (transparent: every TCP connection and UDP flow, {via}{mark})")
    }
}

/// Where the relay connects.
#[derive(Clone, Copy, Debug)]
enum Upstream {
    Direct,
    Socks5(SocketAddr),
}

/// The wildcard address of `ip`'s family.
fn unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::from([0u8; 4]),
        IpAddr::V6(_) => IpAddr::from([0u16; 8]),
    }
}

/// What every relay task shares.
struct Relay {
    upstream: Upstream,
    mark: Option<u32>,
    udp_timeout: Duration,
    /// The kernel's addresses on the device (IPv4, and IPv6 if it has one): the source of the
    /// relay's own sockets if they are routed back in.
    host_ips: Vec<IpAddr>,
    /// Local ports of the relay's live host sockets (TCP and UDP): a connection from one of
    /// `host_ips` and one of them came back round (a routing loop).
    own_ports: Mutex<HashSet<(bool, u16)>>,
    /// Routing loops seen, reported once.
    loop_reported: AtomicBool,
}

/// A port of the relay's own, registered while the socket lives.
struct OwnPort {
    relay: Arc<Relay>,
    key: (bool, u16),
}

impl Drop for OwnPort {
    fn drop(&mut self) {
        self.relay.own_ports.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
    }
}

/// Registers `port` as one of the relay's own while the returned guard lives.
fn own(relay: &Arc<Relay>, tcp: bool, port: u16) -> OwnPort {
    relay.own_ports.lock().unwrap_or_else(PoisonError::into_inner).insert((tcp, port));
    OwnPort { relay: Arc::clone(relay), key: (tcp, port) }
}

/// A TCP connection to `to` from a marked socket registered as the relay's own.
async fn tcp_connect(
    relay: &Arc<Relay>,
    to: SocketAddr,
) -> io::Result<(tokio::net::TcpStream, OwnPort)> {
    let sock = relay.tcp_socket(to.ip())?;
    let guard = own(relay, true, sock.local_addr()?.port());
    Ok((sock.connect(to).await?, guard))
}

/// The upstream of a TCP connection to `dst`.
async fn connect(
    relay: &Arc<Relay>,
    dst: SocketAddr,
) -> io::Result<(tokio::net::TcpStream, OwnPort)> {
    match relay.upstream {
        Upstream::Direct => tcp_connect(relay, dst).await,
        Upstream::Socks5(proxy) => {
            let (mut s, guard) = tcp_connect(relay, proxy).await?;
            socks5::request(&mut s, socks5::CONNECT, dst).await?;
            Ok((s, guard))
        }
    }
}

impl Relay {
    /// Whether `peer` is one of the relay's own sockets come back through the device.
    fn is_loop(&self, tcp: bool, peer: SocketAddr) -> bool {
        let looped = self.host_ips.contains(&peer.ip())
            && self
                .own_ports
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&(tcp, peer.port()));
        if looped && !self.loop_reported.swap(true, Ordering::Relaxed) {
            eprintln!(
                "ustack: forward: routing loop: the relay's own connection came back through \
                 the device; mark its sockets (--mark) and route marked packets outside the \
                 device"
            );
        }
        looped
    }

    /// A host socket of `ty` for reaching `to`'s family, marked, bound to an ephemeral port.
    fn host_socket(&self, to: IpAddr, ty: socket2::Type) -> io::Result<socket2::Socket> {
        let local = SocketAddr::new(unspecified(to), 0);
        let s = socket2::Socket::new(socket2::Domain::for_address(local), ty, None)?;
        if let Some(m) = self.mark {
            s.set_mark(m).map_err(|e| io::Error::new(e.kind(), format!("SO_MARK {m:#x}: {e}")))?;
        }
        s.set_nonblocking(true)?;
        s.bind(&local.into())?;
        Ok(s)
    }

    /// A host TCP socket for reaching `to`, marked, bound to an ephemeral port.
    fn tcp_socket(&self, to: IpAddr) -> io::Result<tokio::net::TcpSocket> {
        let s = self.host_socket(to, socket2::Type::STREAM)?;
        Ok(tokio::net::TcpSocket::from_std_stream(s.into()))
    }

    /// A host UDP socket for reaching `to`, marked, bound to an ephemeral port.
    fn udp_socket(&self, to: IpAddr) -> io::Result<tokio::net::UdpSocket> {
        tokio::net::UdpSocket::from_std(self.host_socket(to, socket2::Type::DGRAM)?.into())
    }
}

/// Runs the service on every shard (a stack per queue of the device) until the stacks stop:
/// binds each shard's any-IP sockets first (so an error is reported before the service is
/// announced), then relays each shard's connections and flows on a thread of its own. The
/// shards share the relay's settings and its record of its own host sockets, so a routing
/// loop is caught whichever queue the looped connection comes back on.
pub(crate) fn start(
    shards: &[NetStack],
    args: &ForwardArgs,
    host_ips: Vec<IpAddr>,
    done: super::services::Done,
) -> Result<(), String> {
    let upstream = match &args.socks5 {
        None => Upstream::Direct,
        Some(p) => {
            use std::net::ToSocketAddrs;
            let addr = p
                .to_socket_addrs()
                .map_err(|e| format!("--socks5 {p}: {e}"))?
                .next()
                .ok_or_else(|| format!("--socks5 {p}: no address"))?;
            Upstream::Socks5(addr)
        }
    };
    let relay = Arc::new(Relay {
        upstream,
        mark: args.mark,
        udp_timeout: Duration::from_secs(args.udp_timeout.max(1)),
        host_ips,
        own_ports: Mutex::new(HashSet::new()),
        loop_reported: AtomicBool::new(false),
    });
    // The mark needs CAP_NET_ADMIN: check it now rather than on the first connection.
    relay.tcp_socket(relay.host_ips[0]).map_err(|e| format!("forward: a host socket: {e}"))?;
    let sockets = shards
        .iter()
        .map(|net| {
            let tcp = ustack::TcpListener::bind_any(net).map_err(|e| format!("forward: {e}"))?;
            let udp = ustack::UdpSocket::bind_any(net).map_err(|e| format!("forward: {e}"))?;
            Ok((tcp, udp))
        })
        .collect::<Result<Vec<_>, String>>()?;
    for (i, (tcp, udp)) in sockets.into_iter().enumerate() {
        let relay = Arc::clone(&relay);
        let done = done.clone();
        std::thread::Builder::new()
            .name(format!("ustack-forward-{i}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => return done.set(Err(format!("forward: {e}"))),
                };
                rt.block_on(async move {
                    let tcp = ustack::tokio::TcpListener::from_std(tcp).expect("same socket");
                    let udp =
                        Arc::new(ustack::tokio::UdpSocket::from_std(udp).expect("same socket"));
                    tokio::spawn(udp_loop(Arc::clone(&relay), udp));
                    // Accepts until the stack stops (accept then fails).
                    while let Ok((client, peer)) = tcp.accept().await {
                        tokio::spawn(relay_tcp(Arc::clone(&relay), client, peer));
                    }
                });
            })
            .map_err(|e| format!("forward: {e}"))?;
    }
    Ok(())
}

async fn relay_tcp(relay: Arc<Relay>, mut client: ustack::tokio::TcpStream, peer: SocketAddr) {
    let reset = |c: &ustack::tokio::TcpStream| {
        let _ = c.set_linger(Some(Duration::ZERO));
    };
    let Ok(dst) = client.local_addr() else { return };
    if relay.is_loop(true, peer) {
        return reset(&client);
    }
    let start = Instant::now();
    let (mut upstream, _own) = match connect(&relay, dst).await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("ustack: forward: tcp {peer} -> {dst}: {e}");
            return reset(&client);
        }
    };
    match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        Ok((up, down)) => println!(
            "forward: tcp {peer} -> {dst}: {up} bytes up, {down} bytes down, {:.3} s",
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("ustack: forward: tcp {peer} -> {dst}: {e}");
            reset(&client);
            let _ = socket2::SockRef::from(&upstream).set_linger(Some(Duration::ZERO));
        }
    }
}

/// One UDP flow: the host socket towards the destination (or the SOCKS5 relay).
struct Flow {
    socket: tokio::net::UdpSocket,
    /// The host socket's port, registered as the relay's own while the flow lives.
    _own: OwnPort,
    /// The association's control connection's port, likewise.
    _own_control: Option<OwnPort>,
    /// Payload bytes from the client.
    up: AtomicU64,
    /// The SOCKS5 association's control connection (the association lives while it does).
    _control: Option<tokio::net::TcpStream>,
    socks: bool,
    /// When a datagram last went either way, in milliseconds since `epoch`.
    last: AtomicU64,
    epoch: Instant,
}

impl Flow {
    fn touch(&self) {
        self.last.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

type Flows = Arc<Mutex<HashMap<(SocketAddr, SocketAddr), Arc<Flow>>>>;

async fn udp_loop(relay: Arc<Relay>, any: Arc<ustack::tokio::UdpSocket>) {
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; 65_536];
    // Ends when the stack stops (the receive fails).
    while let Ok((n, src, dst)) = any.recv_from_to(&mut buf).await {
        if relay.is_loop(false, src) {
            continue;
        }
        let existing =
            flows.lock().unwrap_or_else(PoisonError::into_inner).get(&(src, dst)).cloned();
        let flow = match existing {
            Some(f) => f,
            None => match open_flow(&relay, dst).await {
                Ok(flow) => {
                    let flow = Arc::new(flow);
                    flows
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((src, dst), Arc::clone(&flow));
                    tokio::spawn(udp_replies(
                        Arc::clone(&relay),
                        Arc::clone(&flows),
                        Arc::clone(&flow),
                        Arc::clone(&any),
                        (src, dst),
                    ));
                    flow
                }
                Err(e) => {
                    eprintln!("ustack: forward: udp {src} -> {dst}: {e}");
                    continue;
                }
            },
        };
        flow.touch();
        flow.up.fetch_add(n as u64, Ordering::Relaxed);
        let sent = if flow.socks {
            let mut packet = socks5::udp_header(dst);
            packet.extend_from_slice(&buf[..n]);
            flow.socket.send(&packet).await
        } else {
            flow.socket.send(&buf[..n]).await
        };
        if let Err(e) = sent {
            eprintln!("ustack: forward: udp {src} -> {dst}: {e}");
        }
    }
}

async fn open_flow(relay: &Arc<Relay>, dst: SocketAddr) -> io::Result<Flow> {
    let (socket, guard, control, own_control, socks) = match relay.upstream {
        Upstream::Direct => {
            let socket = relay.udp_socket(dst.ip())?;
            let guard = own(relay, false, socket.local_addr()?.port());
            socket.connect(dst).await?;
            (socket, guard, None, None, false)
        }
        Upstream::Socks5(proxy) => {
            let (mut control, own_tcp) = tcp_connect(relay, proxy).await?;
            // RFC 1928 §7: the client's address is not known to it yet: all zeros.
            let unspecified = SocketAddr::new(unspecified(proxy.ip()), 0);
            let mut bound =
                socks5::request(&mut control, socks5::UDP_ASSOCIATE, unspecified).await?;
            if bound.ip().is_unspecified() {
                // The relay listens on the address we reached the proxy at.
                bound.set_ip(proxy.ip());
            }
            let socket = relay.udp_socket(bound.ip())?;
            let guard = own(relay, false, socket.local_addr()?.port());
            socket.connect(bound).await?;
            (socket, guard, Some(control), Some(own_tcp), true)
        }
    };
    let flow = Flow {
        socket,
        _own: guard,
        _own_control: own_control,
        up: AtomicU64::new(0),
        _control: control,
        socks,
        last: AtomicU64::new(0),
        epoch: Instant::now(),
    };
    flow.touch();
    Ok(flow)
}

/// Carries a flow's replies back to the client, from the destination's address, until the
/// flow has been idle for the timeout.
async fn udp_replies(
    relay: Arc<Relay>,
    flows: Flows,
    flow: Arc<Flow>,
    any: Arc<ustack::tokio::UdpSocket>,
    (client, dst): (SocketAddr, SocketAddr),
) {
    let mut buf = vec![0u8; 65_536];
    let mut down = 0u64;
    loop {
        let wait = relay.udp_timeout.saturating_sub(flow.idle());
        if wait.is_zero() {
            break;
        }
        let n = match tokio::time::timeout(wait, flow.socket.recv(&mut buf)).await {
            Err(_) => continue, // idle for now: the loop checks the flow's age again
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Ok(Err(e)) => {
                eprintln!("ustack: forward: udp {client} -> {dst}: {e}");
                break;
            }
            Ok(Ok(n)) => n,
        };
        flow.touch();
        let payload = if flow.socks {
            match socks5::strip_udp_header(&buf[..n]) {
                Some(p) => p,
                None => continue,
            }
        } else {
            &buf[..n]
        };
        down += payload.len() as u64;
        if any.send_from_to(payload, dst, client).await.is_err() {
            break; // the stack stopped
        }
    }
    flows.lock().unwrap_or_else(PoisonError::into_inner).remove(&(client, dst));
    let up = flow.up.load(Ordering::Relaxed);
    println!("forward: udp {client} -> {dst}: {up} bytes up, {down} bytes down, idle flow ended");
}

/// The client side of SOCKS5 (RFC 1928), no authentication.
mod socks5 {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub(super) const CONNECT: u8 = 1;
    pub(super) const UDP_ASSOCIATE: u8 = 3;

    /// ATYP, DST.ADDR and DST.PORT of `addr` (RFC 1928 §4 and §5: ATYP 1 for IPv4, 4 for
    /// IPv6).
    fn put_addr(out: &mut Vec<u8>, addr: SocketAddr) {
        match addr.ip() {
            IpAddr::V4(a) => {
                out.push(1);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.push(4);
                out.extend_from_slice(&a.octets());
            }
        }
        out.extend_from_slice(&addr.port().to_be_bytes());
    }

    /// Method negotiation (no authentication), then `command` for `addr`; returns the
    /// address the proxy bound (BND.ADDR, BND.PORT; a name reads as 0.0.0.0).
    pub(super) async fn request(
        s: &mut tokio::net::TcpStream,
        command: u8,
        addr: SocketAddr,
    ) -> io::Result<SocketAddr> {
        s.write_all(&[5, 1, 0]).await?;
        let mut reply = [0u8; 2];
        s.read_exact(&mut reply).await?;
        if reply != [5, 0] {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("SOCKS5 proxy refused the no-authentication method (answer {reply:?})"),
            ));
        }
        let mut req = vec![5, command, 0];
        put_addr(&mut req, addr);
        s.write_all(&req).await?;
        let mut head = [0u8; 4];
        s.read_exact(&mut head).await?;
        if head[0] != 5 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not a SOCKS5 reply"));
        }
        if head[1] != 0 {
            return Err(reply_error(head[1]));
        }
        let ip = match head[3] {
            1 => {
                let mut a = [0u8; 4];
                s.read_exact(&mut a).await?;
                IpAddr::V4(Ipv4Addr::from(a))
            }
            3 => {
                let len = s.read_u8().await?;
                let mut name = vec![0u8; usize::from(len)];
                s.read_exact(&mut name).await?;
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
            4 => {
                let mut a = [0u8; 16];
                s.read_exact(&mut a).await?;
                IpAddr::V6(Ipv6Addr::from(a))
            }
            t => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("SOCKS5 reply with address type {t}"),
                ));
            }
        };
        let port = s.read_u16().await?;
        Ok(SocketAddr::new(ip, port))
    }

    /// RFC 1928 §6's reply codes as errors.
    fn reply_error(code: u8) -> io::Error {
        use io::ErrorKind::*;
        let (kind, what) = match code {
            1 => (Other, "general SOCKS server failure"),
            2 => (PermissionDenied, "connection not allowed by ruleset"),
            3 => (NetworkUnreachable, "network unreachable"),
            4 => (HostUnreachable, "host unreachable"),
            5 => (ConnectionRefused, "connection refused"),
            6 => (TimedOut, "TTL expired"),
            7 => (Unsupported, "command not supported"),
            8 => (Unsupported, "address type not supported"),
            _ => (Other, "unknown SOCKS5 error"),
        };
        io::Error::new(kind, format!("SOCKS5 proxy: {what} (reply {code})"))
    }

    /// RFC 1928 §7: RSV, FRAG 0, ATYP, DST.ADDR, DST.PORT.
    pub(super) fn udp_header(dst: SocketAddr) -> Vec<u8> {
        let mut h = vec![0, 0, 0];
        put_addr(&mut h, dst);
        h
    }

    /// The payload of a datagram from the relay; `None` for a fragment (FRAG ≠ 0, which a
    /// client may drop) or a malformed header.
    pub(super) fn strip_udp_header(d: &[u8]) -> Option<&[u8]> {
        if d.len() < 4 || d[2] != 0 {
            return None;
        }
        let addr_len = match d[3] {
            1 => 4,
            4 => 16,
            3 => 1 + usize::from(*d.get(4)?),
            _ => return None,
        };
        d.get(4 + addr_len + 2..)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn udp_header_round_trip_per_rfc_1928_section_7() {
            let dst = SocketAddr::from((Ipv4Addr::new(10, 99, 0, 2), 53));
            let mut d = udp_header(dst);
            assert_eq!(d, [0, 0, 0, 1, 10, 99, 0, 2, 0, 53]);
            let dst6 = SocketAddr::from((Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 2), 53));
            let mut d6 = udp_header(dst6);
            assert_eq!(d6[..4], [0, 0, 0, 4], "ATYP 4: an IPv6 address");
            assert_eq!(d6[4..20], dst6.ip().to_string().parse::<Ipv6Addr>().unwrap().octets());
            assert_eq!(d6[20..], [0, 53]);
            d6.extend_from_slice(b"six");
            assert_eq!(strip_udp_header(&d6), Some(&b"six"[..]));
            d.extend_from_slice(b"payload");
            assert_eq!(strip_udp_header(&d), Some(&b"payload"[..]));
            let mut frag = d.clone();
            frag[2] = 1;
            assert_eq!(strip_udp_header(&frag), None, "fragments are dropped");
            let name = [0, 0, 0, 3, 4, b'h', b'o', b's', b't', 0, 80, b'x'];
            assert_eq!(strip_udp_header(&name), Some(&b"x"[..]));
            assert_eq!(strip_udp_header(&[0, 0, 0, 1, 1, 2]), None);
        }
    }
}
