//! The blocking and tokio APIs over IPv6, as `std::net` and `tokio::net` take it: two
//! dual-stack NetStacks (an IPv4 and an IPv6 address each) joined by an in-memory link, real
//! threads and the real clock. What Linux does is the reference: a listener on `[::]` takes
//! IPv4 clients as `::ffff:a.b.c.d` unless IPV6_V6ONLY (`net.ipv6.bindv6only` 0), a closed
//! port answers a SYN with a RST and a datagram with ICMPv6 port unreachable.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::thread;
use std::time::Duration;

use ustack::core::{Ipv4Cidr, Ipv6Cidr};
use ustack::device::MemoryLink;
use ustack::{ListenOptions, NetConfig, NetStack, TcpListener, TcpSocket, TcpStream, UdpSocket};

const A4: Ipv4Addr = Ipv4Addr::new(10, 19, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(10, 19, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x19, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x19, 0, 0, 0, 0, 2);
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(20));

fn config(v4: Ipv4Addr, v6: Ipv6Addr) -> NetConfig {
    NetConfig::new(Ipv4Cidr::new(v4, 24).unwrap()).with_ipv6(Ipv6Cidr::new(v6, 64).unwrap())
}

fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let a = NetStack::spawn(da, config(A4, A6)).unwrap();
    let b = NetStack::spawn(db, config(B4, B6)).unwrap();
    (a, b)
}

fn mapped(v4: Ipv4Addr) -> std::net::IpAddr {
    v4.to_ipv6_mapped().into()
}

#[test]
fn ipv6_tcp_echo_is_byte_for_byte_with_ipv6_addresses_on_both_ends() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, "[2001:db8:19::2]:7").unwrap();
    assert_eq!(listener.local_addr().unwrap(), SocketAddr::new(B6.into(), 7));
    let server = thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), A6);
        assert_eq!(s.local_addr().unwrap(), SocketAddr::new(B6.into(), 7));
        let mut buf = vec![0u8; 65536];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).unwrap();
        }
        s.shutdown(Shutdown::Write).unwrap();
    });
    let c = TcpStream::connect(&a, (B6, 7)).unwrap();
    c.set_read_timeout(TIMEOUT).unwrap();
    assert_eq!(c.peer_addr().unwrap(), SocketAddr::new(B6.into(), 7));
    assert_eq!(c.local_addr().unwrap().ip(), A6);
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let echoed = thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut got = Vec::with_capacity(data.len());
            (&c).read_to_end(&mut got).unwrap();
            got
        });
        (&c).write_all(&data).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        reader.join().unwrap()
    });
    server.join().unwrap();
    assert!(echoed == data, "echo differs");
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn listener_on_ipv6_unspecified_accepts_an_ipv4_client_as_mapped_and_an_ipv6_client() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, "[::]:80").unwrap();
    assert!(!listener.only_v6().unwrap(), "bindv6only 0: dual stack");
    let c4 = TcpStream::connect(&a, (B4, 80)).unwrap();
    let c6 = TcpStream::connect(&a, (B6, 80)).unwrap();
    let mut peers = Vec::new();
    let mut locals = Vec::new();
    for _ in 0..2 {
        let (s, peer) = listener.accept().unwrap();
        peers.push(peer);
        locals.push(s.local_addr().unwrap());
    }
    peers.sort();
    locals.sort();
    // Linux reports an IPv4 client of an IPv6 socket with IPv4-mapped addresses.
    assert_eq!(
        peers,
        vec![
            SocketAddr::new(mapped(A4), c4.local_addr().unwrap().port()),
            SocketAddr::new(A6.into(), c6.local_addr().unwrap().port()),
        ]
    );
    assert_eq!(locals, vec![SocketAddr::new(mapped(B4), 80), SocketAddr::new(B6.into(), 80)]);
    // The IPv4 client itself sees plain IPv4 addresses.
    assert_eq!(c4.peer_addr().unwrap(), SocketAddr::new(B4.into(), 80));
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn v6only_listener_refuses_ipv4_clients_and_leaves_the_port_to_an_ipv4_listener() {
    let (a, b) = pair();
    let opts = ListenOptions { only_v6: Some(true), ..ListenOptions::default() };
    let l6 = TcpListener::bind_with(&b, "[::]:81", opts).unwrap();
    assert!(l6.only_v6().unwrap());
    // Nothing listens for IPv4 on port 81: the SYN is answered with a RST.
    let err = TcpStream::connect(&a, (B4, 81)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    // The port's IPv4 side is free (Linux: a V6ONLY socket on :: and one on 0.0.0.0 coexist).
    let l4 = TcpListener::bind(&b, (Ipv4Addr::UNSPECIFIED, 81)).unwrap();
    let _c4 = TcpStream::connect(&a, (B4, 81)).unwrap();
    let (_, peer4) = l4.accept().unwrap();
    assert_eq!(peer4.ip(), A4);
    let _c6 = TcpStream::connect(&a, (B6, 81)).unwrap();
    let (_, peer6) = l6.accept().unwrap();
    assert_eq!(peer6.ip(), A6);
    // A dual-stack listener cannot share the port with an IPv4 one.
    let opts = ListenOptions { only_v6: Some(false), ..ListenOptions::default() };
    let err = TcpListener::bind_with(&b, "[::]:82", opts)
        .and_then(|_dual| TcpListener::bind(&b, (Ipv4Addr::UNSPECIFIED, 82)).map(|_| ()));
    assert_eq!(err.unwrap_err().kind(), ErrorKind::AddrInUse);
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn tcp_socket_new_v6_binds_sets_only_v6_and_refuses_the_other_family() {
    let (a, b) = pair();
    let s = TcpSocket::new_v6(&b).unwrap();
    assert_eq!(s.local_addr().unwrap(), SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0));
    s.set_only_v6(true).unwrap();
    assert!(s.only_v6().unwrap());
    // Linux: an AF_INET address on an AF_INET6 socket is EINVAL.
    assert_eq!(s.bind((B4, 83).into()).unwrap_err().kind(), ErrorKind::InvalidInput);
    s.bind("[::]:83".parse().unwrap()).unwrap();
    // IPV6_V6ONLY after bind: EINVAL.
    assert_eq!(s.set_only_v6(false).unwrap_err().kind(), ErrorKind::InvalidInput);
    let l = s.listen(16).unwrap();
    assert!(l.only_v6().unwrap());
    assert_eq!(TcpStream::connect(&a, (B4, 83)).unwrap_err().kind(), ErrorKind::ConnectionRefused);

    // An IPv4 socket has no IPV6_V6ONLY (ENOPROTOOPT) and takes no IPv6 address.
    let s4 = TcpSocket::new_v4(&a).unwrap();
    assert_eq!(s4.set_only_v6(true).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(s4.bind((A6, 0).into()).unwrap_err().kind(), ErrorKind::Unsupported);

    // A dual-stack IPv6 socket reaches an IPv4 peer through its mapped address.
    let l4 = TcpListener::bind(&b, (B4, 84)).unwrap();
    let c = TcpSocket::new_v6(&a).unwrap().connect((mapped(B4), 84).into()).unwrap();
    // Its own addresses stay IPv6 ones, as getpeername on Linux shows.
    assert_eq!(c.peer_addr().unwrap(), SocketAddr::new(mapped(B4), 84));
    assert_eq!(c.local_addr().unwrap().ip(), mapped(A4));
    let (_, peer) = l4.accept().unwrap();
    assert_eq!(peer.ip(), A4);
    // ... but a V6ONLY one may not.
    let v6only = TcpSocket::new_v6(&a).unwrap();
    v6only.set_only_v6(true).unwrap();
    assert_eq!(
        v6only.connect((mapped(B4), 84).into()).unwrap_err().kind(),
        ErrorKind::NetworkUnreachable
    );
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn udp_over_ipv6_round_trips_fragments_and_hears_port_unreachable() {
    let (a, b) = pair();
    let ub = UdpSocket::bind(&b, (B6, 5353)).unwrap();
    let ua = UdpSocket::bind(&a, "[::]:0").unwrap();
    ub.set_read_timeout(TIMEOUT).unwrap();
    ua.set_read_timeout(TIMEOUT).unwrap();
    // 4,000 bytes over a 1,500-byte link: the IPv6 fragment header carries it in three.
    let big: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 256) as u8).collect();
    ua.send_to(&big, (B6, 5353)).unwrap();
    let mut buf = vec![0u8; 8192];
    let (n, from) = ub.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], &big[..]);
    assert_eq!(from, SocketAddr::new(A6.into(), ua.local_addr().unwrap().port()));
    ub.send_to(b"pong", from).unwrap();
    let (n, from) = ua.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"pong"[..], SocketAddr::new(B6.into(), 5353)));

    // The dual-stack socket takes an IPv4 datagram too; its sender is IPv4-mapped.
    let ua4 = UdpSocket::bind(&a, (A4, 0)).unwrap();
    let ub_any = UdpSocket::bind(&b, "[::]:5354").unwrap();
    ub_any.set_read_timeout(TIMEOUT).unwrap();
    ua4.send_to(b"from v4", (B4, 5354)).unwrap();
    let (n, from) = ub_any.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"from v4");
    assert_eq!(from, SocketAddr::new(mapped(A4), ua4.local_addr().unwrap().port()));

    // A V6ONLY socket on [::] leaves IPv4 to another socket on the same port.
    let only6 = UdpSocket::bind_only_v6(&b, "[::]:5355", true).unwrap();
    assert!(only6.only_v6().unwrap());
    let v4_side = UdpSocket::bind(&b, (Ipv4Addr::UNSPECIFIED, 5355)).unwrap();
    assert!(!v4_side.only_v6().unwrap());

    // A connected socket hears ICMPv6 port unreachable from a closed port (RFC 4443 §3.1).
    ua.connect((B6, 9999)).unwrap();
    ua.send(b"anyone?").unwrap();
    let err = ua.recv(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn tokio_api_over_ipv6_echoes_and_sends_datagrams() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ustack::tokio as ut;

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (a, b) = pair();
        let listener = ut::TcpListener::bind(&b, "[::]:7").unwrap();
        assert!(!listener.only_v6().unwrap());
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16384];
                    loop {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let targets: [(SocketAddr, std::net::IpAddr); 2] =
            [((B6, 7).into(), B6.into()), ((B4, 7).into(), B4.into())];
        for (dst, expect_peer) in targets {
            let mut c = ut::TcpStream::connect(&a, dst).await.unwrap();
            assert_eq!(c.peer_addr().unwrap().ip(), expect_peer);
            let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
            c.write_all(&data).await.unwrap();
            c.shutdown().await.unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).await.unwrap();
            assert!(got == data, "async echo over {dst} differs");
        }
        server.await.unwrap();

        let sock = ut::TcpSocket::new_v6(&a).unwrap();
        sock.set_only_v6(true).unwrap();
        assert!(sock.only_v6().unwrap());

        let ub = ut::UdpSocket::bind(&b, (B6, 53)).unwrap();
        let ua = ut::UdpSocket::bind(&a, "[::]:0").unwrap();
        ua.send_to(b"query", (B6, 53)).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = ub.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"query");
        assert_eq!(from.ip(), A6);
        ub.send_to(b"answer", from).await.unwrap();
        let (n, from) = ua.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"answer"[..], SocketAddr::new(B6.into(), 53)));
        a.stop().unwrap();
        b.stop().unwrap();
    });
}
