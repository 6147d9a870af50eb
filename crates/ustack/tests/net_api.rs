//! The blocking API's std::net methods beyond read and write, each against what std (on
//! Linux) does: `try_clone` (a `dup`: one connection, closed by the last handle), `peek`
//! (`MSG_PEEK`), non-blocking mode, `IP_TTL`, `SO_ERROR`, `SO_LINGER`, UDP `peek_from`
//! and timeouts; the `TcpSocket` builder; transparent mode's `bind_any`. Two NetStacks on
//! an in-memory link, real threads; every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use ustack::core::Ipv4Cidr;
use ustack::core::tcp_engine::TcpState;
use ustack::device::MemoryLink;
use ustack::{NetConfig, NetStack, TcpListener, TcpSocket, TcpStream, UdpSocket};

const A: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const FAR: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);
const WAIT: Duration = Duration::from_secs(10);

fn pair_with(transparent_b: bool) -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let a = NetStack::spawn(da, NetConfig::new(Ipv4Cidr::new(A, 24).unwrap())).unwrap();
    let mut cb = NetConfig::new(Ipv4Cidr::new(B, 24).unwrap());
    cb.transparent = transparent_b;
    let b = NetStack::spawn(db, cb).unwrap();
    (a, b)
}

fn pair() -> (NetStack, NetStack) {
    pair_with(false)
}

/// A connected pair of streams: (A's, B's).
fn connected(a: &NetStack, b: &NetStack) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, (B, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let c = TcpStream::connect(a, (B, port)).unwrap();
    let (s, _) = l.accept().unwrap();
    for x in [&c, &s] {
        x.set_read_timeout(Some(WAIT)).unwrap();
        x.set_write_timeout(Some(WAIT)).unwrap();
    }
    (c, s)
}

fn state_of(net: &NetStack, local: SocketAddr) -> Option<TcpState> {
    net.netstat()
        .sockets
        .iter()
        .find(|s| s.local == local && s.state != TcpState::Listen)
        .map(|s| s.state)
}

#[test]
fn try_clone_is_one_connection_that_closes_with_the_last_handle() {
    let (a, b) = pair();
    let (c, mut s) = connected(&a, &b);
    let c2 = c.try_clone().unwrap();
    (&c).write_all(b"one ").unwrap();
    (&c2).write_all(b"stream").unwrap();
    c2.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(50)), "options are shared");
    drop(c);
    let mut buf = [0u8; 10];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"one stream");
    // One handle left: the connection is open, the peer sees no end of stream.
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert_eq!(s.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    drop(c2);
    s.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 0, "closed with the last handle: FIN");
}

#[test]
fn peek_returns_what_the_next_read_returns() {
    let (a, b) = pair();
    let (c, mut s) = connected(&a, &b);
    (&c).write_all(b"peek-a-boo").unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(s.peek(&mut buf).unwrap(), 4);
    assert_eq!(&buf, b"peek");
    let mut all = [0u8; 32];
    let mut n = s.peek(&mut all).unwrap();
    while n < 10 {
        n = s.peek(&mut all).unwrap();
    }
    assert_eq!(&all[..n], b"peek-a-boo");
    s.read_exact(&mut all[..10]).unwrap();
    assert_eq!(&all[..10], b"peek-a-boo");
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(s.peek(&mut buf).unwrap(), 0, "0 at the end of the stream");
}

#[test]
fn nonblocking_calls_return_would_block_instead_of_waiting() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, (B, 0)).unwrap();
    l.set_nonblocking(true).unwrap();
    let t = Instant::now();
    assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    let (c, s) = connected(&a, &b);
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!((&s).read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(s.peek(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(t.elapsed() < Duration::from_secs(1), "nothing waited for its timeout");
    (&c).write_all(b"now").unwrap();
    let deadline = Instant::now() + WAIT;
    let n = loop {
        match (&s).read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(&buf[..n], b"now");
    let u = UdpSocket::bind(&b, (B, 0)).unwrap();
    u.set_nonblocking(true).unwrap();
    assert_eq!(u.recv_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn ttl_defaults_to_ip_default_ttl_and_zero_is_refused() {
    let (a, b) = pair();
    let (c, _s) = connected(&a, &b);
    assert_eq!(c.ttl().unwrap(), 64);
    c.set_ttl(7).unwrap();
    assert_eq!(c.ttl().unwrap(), 7);
    assert_eq!(c.set_ttl(0).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(c.set_ttl(256).unwrap_err().kind(), ErrorKind::InvalidInput);
    let l = TcpListener::bind(&b, (B, 0)).unwrap();
    l.set_ttl(3).unwrap();
    assert_eq!(l.ttl().unwrap(), 3);
    let u = UdpSocket::bind(&a, (A, 0)).unwrap();
    u.set_ttl(200).unwrap();
    assert_eq!(u.ttl().unwrap(), 200);
}

#[test]
fn linger_zero_resets_and_take_error_reports_the_reset_once() {
    // SO_LINGER {on, 0}: close sends a RST (Linux tcp_close → tcp_disconnect). The peer's
    // read fails with ConnectionReset; SO_ERROR on it reports the reset once.
    let (a, b) = pair();
    let (c, s) = connected(&a, &b);
    assert!(s.take_error().unwrap().is_none(), "healthy");
    c.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(c.linger().unwrap(), Some(Duration::ZERO));
    drop(c);
    let mut buf = [0u8; 4];
    assert_eq!((&s).read(&mut buf).unwrap_err().kind(), ErrorKind::ConnectionReset);
    assert_eq!(s.take_error().unwrap().map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
    assert!(s.take_error().unwrap().is_none(), "reported once");
}

#[test]
fn linger_waits_until_the_peer_has_acknowledged_data_and_fin() {
    // SO_LINGER {on, t}: close returns once everything, FIN included, is acknowledged
    // (Linux sk_stream_wait_close), so the connection is past FIN-WAIT-1 when drop returns.
    let (a, b) = pair();
    let (c, mut s) = connected(&a, &b);
    let local = c.local_addr().unwrap();
    c.set_linger(Some(WAIT)).unwrap();
    let data = vec![7u8; 1 << 20];
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got.len()
    });
    (&c).write_all(&data).unwrap();
    let t = Instant::now();
    drop(c);
    assert!(t.elapsed() < WAIT);
    let state = state_of(&a, local);
    assert!(
        matches!(state, Some(TcpState::FinWait2 | TcpState::TimeWait) | None),
        "drop returned in {state:?}"
    );
    assert_eq!(reader.join().unwrap(), data.len());
}

#[test]
fn udp_peek_from_timeouts_and_connection_refused() {
    let (a, b) = pair();
    let ua = UdpSocket::bind(&a, (A, 0)).unwrap();
    let ub = UdpSocket::bind(&b, (B, 0)).unwrap();
    ub.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(ub.read_timeout().unwrap(), Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16];
    assert_eq!(ub.recv_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    ub.set_read_timeout(Some(WAIT)).unwrap();
    ua.send_to(b"datagram", ub.local_addr().unwrap()).unwrap();
    let (n, from) = ub.peek_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"datagram"[..], ua.local_addr().unwrap()));
    assert_eq!(ub.peek(&mut buf[..4]).unwrap(), 4, "the part that fits");
    let (n, _) = ub.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"datagram", "peeking took nothing");
    ub.set_write_timeout(Some(WAIT)).unwrap();
    assert_eq!(ub.write_timeout().unwrap(), Some(WAIT));
    // A connected socket is told of the peer's closed port once.
    ua.connect((B, 9)).unwrap();
    ua.send(b"anyone?").unwrap();
    let deadline = Instant::now() + WAIT;
    let err = loop {
        if let Some(e) = ua.take_error().unwrap() {
            break e;
        }
        assert!(Instant::now() < deadline, "no ICMP port unreachable");
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(ua.take_error().unwrap().is_none());
    let ub2 = ub.try_clone().unwrap();
    assert_eq!(ub2.local_addr().unwrap(), ub.local_addr().unwrap());
}

#[test]
fn tcp_socket_options_reach_the_connection_and_the_listeners_connections() {
    let (a, b) = pair();
    let ls = TcpSocket::new_v4(&b).unwrap();
    ls.set_recv_buffer_size(100_000).unwrap();
    ls.set_keepalive(true).unwrap();
    ls.set_keepalive_time(Duration::from_secs(30)).unwrap();
    ls.set_keepalive_interval(Duration::from_secs(5)).unwrap();
    ls.set_keepalive_retries(3).unwrap();
    ls.bind(SocketAddr::from((B, 0))).unwrap();
    let port = ls.local_addr().unwrap().port();
    assert_ne!(port, 0, "bind to port 0 picks a port at once");
    let l = ls.listen(16).unwrap();
    assert_eq!(l.local_addr().unwrap(), SocketAddr::from((B, port)));

    let cs = TcpSocket::new_v4(&a).unwrap();
    assert_eq!(cs.set_congestion_control("no-such-cc").unwrap_err().kind(), ErrorKind::NotFound);
    cs.set_congestion_control("reno").unwrap();
    assert_eq!(cs.congestion_control().unwrap(), "reno");
    cs.set_send_buffer_size(50_000).unwrap();
    assert_eq!(cs.send_buffer_size().unwrap(), 50_000);
    cs.set_nodelay(true).unwrap();
    cs.set_ttl(9).unwrap();
    cs.bind(SocketAddr::from((A, 40_123))).unwrap();
    let c = cs.connect(SocketAddr::from((B, port))).unwrap();
    assert_eq!(c.local_addr().unwrap(), SocketAddr::from((A, 40_123)), "bind then connect");
    assert!(c.nodelay().unwrap());
    assert_eq!(c.ttl().unwrap(), 9);
    let (s, _) = l.accept().unwrap();
    let (cc_name, c_limits) = a.with_stack(|st, _| {
        let conn = st.tcp_conn(c.handle());
        (conn.congestion_control().name(), conn.buffer_limits())
    });
    assert_eq!(cc_name, "newreno", "reno is NewReno's Linux name");
    assert_eq!(c_limits.0, 50_000, "SO_SNDBUF");
    let (keepalive, rcv_limit) = b.with_stack(|st, _| {
        let conn = st.tcp_conn(s.handle());
        let cfg = conn.config();
        (
            (cfg.keepalive, cfg.keepalive_time, cfg.keepalive_intvl, cfg.keepalive_probes),
            conn.buffer_limits().1,
        )
    });
    assert_eq!(keepalive, (true, Duration::from_secs(30), Duration::from_secs(5), 3));
    assert_eq!(rcv_limit, 100_000, "SO_RCVBUF, inherited from the listener");

    // The port of a listener cannot be bound, with or without SO_REUSEADDR; a port that
    // only connections use can, with it.
    let taken = TcpSocket::new_v4(&b).unwrap();
    assert_eq!(taken.bind(SocketAddr::from((B, port))).unwrap_err().kind(), ErrorKind::AddrInUse);
    let reuse = TcpSocket::new_v4(&a).unwrap();
    assert_eq!(
        reuse.bind(SocketAddr::from((A, 40_123))).unwrap_err().kind(),
        ErrorKind::AddrInUse,
        "a connection uses it"
    );
    reuse.set_reuseaddr(true).unwrap();
    reuse.bind(SocketAddr::from((A, 40_123))).unwrap();
    assert_eq!(
        TcpSocket::new_v4(&a).unwrap().bind(SocketAddr::from((FAR, 1))).unwrap_err().kind(),
        ErrorKind::AddrNotAvailable
    );
    // A has no IPv6 address: an IPv6 socket can be made, but not bound to one.
    let v6 = TcpSocket::new_v6(&a).unwrap();
    let far6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
    assert_eq!(v6.bind(far6).unwrap_err().kind(), ErrorKind::AddrNotAvailable);
}

#[test]
fn bind_any_accepts_every_destination_with_the_dialled_address_as_local() {
    // B in transparent mode: A's connections to addresses B is not, on any port, reach B's
    // any-IP listener, and each stream's local address is what A dialled; UDP likewise.
    let (a, b) = pair_with(true);
    let l = TcpListener::bind_any(&b).unwrap();
    assert_eq!(TcpListener::bind_any(&b).unwrap_err().kind(), ErrorKind::AddrInUse);
    for (ip, port) in [(FAR, 80), (FAR, 443), (Ipv4Addr::new(198, 51, 100, 9), 22)] {
        let mut c = TcpStream::connect(&a, (ip, port)).unwrap();
        let (mut s, peer) = l.accept().unwrap();
        assert_eq!(s.local_addr().unwrap(), SocketAddr::from((ip, port)));
        assert_eq!(peer, c.local_addr().unwrap());
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }
    let u = UdpSocket::bind_any(&b).unwrap();
    u.set_read_timeout(Some(WAIT)).unwrap();
    let ua = UdpSocket::bind(&a, (A, 0)).unwrap();
    ua.set_read_timeout(Some(WAIT)).unwrap();
    ua.send_to(b"query", (FAR, 53)).unwrap();
    let mut buf = [0u8; 16];
    let (n, from, to) = u.recv_from_to(&mut buf).unwrap();
    assert_eq!((&buf[..n], from, to), (&b"query"[..], ua.local_addr().unwrap(), (FAR, 53).into()));
    u.send_from_to(b"answer", to, from).unwrap();
    let (n, src) = ua.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], src), (&b"answer"[..], SocketAddr::from((FAR, 53))));

    let (a2, b2) = pair();
    drop(a2);
    assert_eq!(TcpListener::bind_any(&b2).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(UdpSocket::bind_any(&b2).unwrap_err().kind(), ErrorKind::InvalidInput);
}
