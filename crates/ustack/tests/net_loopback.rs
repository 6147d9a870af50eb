//! A program talking to itself through one NetStack: over 127.0.0.1 and over the stack's own
//! device address, with the blocking and the tokio APIs, through the real driver. The device
//! is one end of an in-memory link (no root needed); the test holds the other end and checks
//! that nothing reached it, as Linux keeps such traffic on `lo`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::thread;
use std::time::Duration;

use ustack::core::Ipv4Cidr;
use ustack::device::{MemoryDevice, MemoryLink};
use ustack::{Device, NetConfig, NetStack, TcpListener, TcpStream, UdpSocket};

const ADDR: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A stack at ADDR/24 with a default route through its device, and the far end of that
/// device: a packet to 127.0.0.1 or ADDR that left the stack would arrive there.
fn one_stack() -> (NetStack, MemoryDevice) {
    let (dev, far) = MemoryLink::pair(1500, 4096);
    let net = NetStack::spawn(dev, NetConfig::new(Ipv4Cidr::new(ADDR, 24).unwrap())).unwrap();
    (net, far)
}

fn assert_device_silent(far: &mut MemoryDevice) {
    let mut buf = vec![0u8; 1500];
    match far.recv(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a packet reached the device: {other:?}"),
    }
    assert_eq!(far.stats().received, 0);
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// An echo server for one connection on `listener`, in a thread; returns the bytes echoed.
fn echo_once(listener: TcpListener) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).unwrap();
            total += n as u64;
        }
        s.shutdown(Shutdown::Write).unwrap();
        total
    })
}

#[test]
fn blocking_echo_of_a_multi_mib_stream_over_127_0_0_1_and_the_own_address() {
    let (net, mut far) = one_stack();
    for (i, server) in [LO, ADDR].into_iter().enumerate() {
        let listener = TcpListener::bind(&net, (Ipv4Addr::UNSPECIFIED, 7)).unwrap();
        let echo = echo_once(listener);
        let addr = SocketAddr::new(server.into(), 7);
        let c = TcpStream::connect_timeout(&net, &addr, Duration::from_secs(5)).unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        assert_eq!(c.local_addr().unwrap().ip(), server, "the source is the local route's");
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let data = pattern(8 << 20, i as u32);
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
        assert_eq!(echo.join().unwrap(), data.len() as u64);
        assert!(echoed == data, "echo over {server} differs");
    }
    assert_device_silent(&mut far);
    net.stop().unwrap();
}

#[test]
fn blocking_udp_round_trips_over_127_0_0_1_and_the_own_address() {
    let (net, mut far) = one_stack();
    let server = UdpSocket::bind(&net, (Ipv4Addr::UNSPECIFIED, 5353)).unwrap();
    let client = UdpSocket::bind(&net, (Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    server.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = client.local_addr().unwrap().port();
    let mut buf = vec![0u8; 65_536];
    for dst in [LO, ADDR] {
        // 60000 bytes: far above the device's MTU, one datagram on loopback.
        for data in [b"ping".to_vec(), pattern(60_000, 9)] {
            client.send_to(&data, (dst, 5353)).unwrap();
            let (n, from) = server.recv_from(&mut buf).unwrap();
            assert!(buf[..n] == data[..]);
            assert_eq!(from, SocketAddr::new(dst.into(), port));
            server.send_to(&buf[..n], from).unwrap();
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert!(buf[..n] == data[..]);
            assert_eq!(from, SocketAddr::new(dst.into(), 5353));
        }
    }
    assert_device_silent(&mut far);
    net.stop().unwrap();
}

#[test]
fn connect_to_an_unused_port_on_127_0_0_1_is_refused_at_once() {
    let (net, mut far) = one_stack();
    for server in [LO, ADDR] {
        let started = std::time::Instant::now();
        let addr = SocketAddr::new(server.into(), 9);
        let err = TcpStream::connect_timeout(&net, &addr, Duration::from_secs(5)).unwrap_err();
        // RFC 9293 §3.10.7.1: the SYN finds no listener and the RST comes straight back
        // (Linux: ECONNREFUSED on lo at once). A lost SYN would be retried after the 1 s
        // initial RTO, so anything slower than that was not the RST.
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "to {server}: {err}");
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    }
    assert_device_silent(&mut far);
    net.stop().unwrap();
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_echo_udp_and_refusal_over_127_0_0_1_and_the_own_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ustack::tokio as ut;

    let (net, mut far) = one_stack();
    let listener = ut::TcpListener::bind(&net, (Ipv4Addr::UNSPECIFIED, 7)).unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).await.unwrap();
                }
                s.shutdown().await.unwrap();
            });
        }
    });
    // Bounded: without local delivery the first connect would wait out the SYN retries.
    let clients = async {
        for (i, dst) in [LO, ADDR].into_iter().enumerate() {
            let mut s = ut::TcpStream::connect(&net, (dst, 7)).await.unwrap();
            assert_eq!(s.local_addr().unwrap().ip(), dst);
            let data = pattern(4 << 20, 20 + i as u32);
            let (mut r, mut w) = tokio::io::split(&mut s);
            let write = async {
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
            };
            let mut got = Vec::new();
            let ((), n) = tokio::join!(write, r.read_to_end(&mut got));
            n.unwrap();
            assert!(got == data, "echo over {dst} differs");

            let u1 = ut::UdpSocket::bind(&net, (dst, 0)).unwrap();
            let u2 = ut::UdpSocket::bind(&net, (dst, 0)).unwrap();
            u1.send_to(b"hi", u2.local_addr().unwrap()).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = u2.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"hi"[..], u1.local_addr().unwrap()));

            let err = ut::TcpStream::connect(&net, (dst, 9)).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), clients).await.expect("the clients finished");
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
    assert_device_silent(&mut far);
    net.stop().unwrap();
}
