//! The blocking API end to end: two NetStacks joined by an in-memory link, real threads and
//! the real clock.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::thread;
use std::time::Duration;

use ustack::core::Ipv4Cidr;
use ustack::device::MemoryLink;
use ustack::{NetConfig, NetStack, TcpListener, TcpStream, UdpSocket};

const A: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let a = NetStack::spawn(da, NetConfig::new(Ipv4Cidr::new(A, 24).unwrap())).unwrap();
    let b = NetStack::spawn(db, NetConfig::new(Ipv4Cidr::new(B, 24).unwrap())).unwrap();
    (a, b)
}

#[test]
fn echo_and_bulk_transfer_between_two_stacks() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (B, 7)).unwrap();
    let server = thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), A);
        let mut buf = vec![0u8; 65536];
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
    });
    let c = TcpStream::connect(&a, (B, 7)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
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
    assert_eq!(server.join().unwrap(), data.len() as u64);
    assert!(echoed == data, "echo differs");
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn connect_to_a_closed_port_is_refused_and_udp_round_trips() {
    let (a, b) = pair();
    let err = TcpStream::connect(&a, (B, 9)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    let ub = UdpSocket::bind(&b, (B, 5353)).unwrap();
    let ua = UdpSocket::bind(&a, (Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    ua.send_to(b"ping", (B, 5353)).unwrap();
    let mut buf = [0u8; 64];
    ub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (n, from) = ub.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(from, ua.local_addr().map(|l| SocketAddr::new(A.into(), l.port())).unwrap());
    ub.send_to(b"pong", from).unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (n, _) = ua.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");

    // A connected UDP socket hears about a closed port (ICMP port unreachable).
    ua.connect((B, 9999)).unwrap();
    ua.send(b"anyone?").unwrap();
    let err = ua.recv(&mut buf).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    a.stop().unwrap();
    b.stop().unwrap();
}
