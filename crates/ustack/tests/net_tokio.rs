//! The tokio API end to end: async accept, AsyncRead/AsyncWrite and async UDP between two
//! NetStacks joined by an in-memory link.
#![cfg(feature = "tokio")]

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ustack::core::Ipv4Cidr;
use ustack::device::MemoryLink;
use ustack::tokio::{TcpListener, TcpStream, UdpSocket};
use ustack::{NetConfig, NetStack};

const A: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);

fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let a = NetStack::spawn(da, NetConfig::new(Ipv4Cidr::new(A, 24).unwrap())).unwrap();
    let b = NetStack::spawn(db, NetConfig::new(Ipv4Cidr::new(B, 24).unwrap())).unwrap();
    (a, b)
}

#[tokio::test(flavor = "current_thread")]
async fn async_echo_of_many_concurrent_connections_and_udp() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (B, 7)).unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..20 {
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
                s.shutdown().await.unwrap();
            });
        }
    });
    let mut clients = Vec::new();
    for i in 0..20u32 {
        let a = a.clone();
        clients.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&a, (B, 7)).await.unwrap();
            let data: Vec<u8> = (0..(50_000 + i * 1000)).map(|j| (j * 7 + i) as u8).collect();
            let (mut r, mut w) = tokio::io::split(&mut s);
            let write = async {
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
            };
            let mut got = Vec::new();
            let read = r.read_to_end(&mut got);
            let ((), n) = tokio::join!(write, read);
            n.unwrap();
            assert!(got == data, "connection {i}: echo differs");
        }));
    }
    for c in clients {
        tokio::time::timeout(Duration::from_secs(60), c).await.expect("echo in time").unwrap();
    }
    server.await.unwrap();

    let ub = UdpSocket::bind(&b, (B, 53)).unwrap();
    let ua = UdpSocket::bind(&a, (A, 0)).unwrap();
    ua.send_to(b"query", (B, 53)).await.unwrap();
    let mut buf = [0u8; 32];
    let (n, from) = ub.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"query");
    ub.send_to(b"answer", from).await.unwrap();
    let (n, _) = ua.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"answer");
    a.stop().unwrap();
    b.stop().unwrap();
}
