//! The tokio API's tokio::net methods beyond AsyncRead/AsyncWrite, each against what
//! tokio::net does: owned and borrowed halves, readiness (`ready`, `readable`, `writable`)
//! with `try_read`/`try_write`, `peek`, `nodelay`, `from_std`/`into_std`, the async
//! `TcpSocket`, and UDP's `try_*` and `peek_from`. Two NetStacks on an in-memory link.
#![cfg(feature = "tokio")]

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ustack::core::Ipv4Cidr;
use ustack::device::MemoryLink;
use ustack::tokio::{Interest, TcpListener, TcpSocket, TcpStream, UdpSocket};
use ustack::{NetConfig, NetStack};

const A: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);
const WAIT: Duration = Duration::from_secs(10);

fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let a = NetStack::spawn(da, NetConfig::new(Ipv4Cidr::new(A, 24).unwrap())).unwrap();
    let b = NetStack::spawn(db, NetConfig::new(Ipv4Cidr::new(B, 24).unwrap())).unwrap();
    (a, b)
}

async fn connected(a: &NetStack, b: &NetStack) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, (B, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let (c, s) = tokio::join!(TcpStream::connect(a, (B, port)), l.accept());
    (c.unwrap(), s.unwrap().0)
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_halves_run_in_two_tasks_and_the_write_half_sends_fin_when_dropped() {
    let (a, b) = pair();
    let (c, s) = connected(&a, &b).await;
    // The server echoes with its halves in two tasks joined by a channel.
    let (mut rd, mut wr) = s.into_split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let n = rd.read(&mut buf).await.unwrap();
            if n == 0 {
                return rd;
            }
            tx.send(buf[..n].to_vec()).await.unwrap();
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            wr.write_all(&chunk).await.unwrap();
        }
        wr
    });
    let (mut crd, mut cwr) = c.into_split();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let sent = data.clone();
    let send = tokio::spawn(async move {
        cwr.write_all(&sent).await.unwrap();
        cwr.shutdown().await.unwrap();
        cwr
    });
    // The client reads the echo as it comes: the bytes in flight exceed what the buffers
    // between the two tasks hold, so a client that read only after writing would stall both.
    let echoed = tokio::spawn(async move {
        let mut got = Vec::new();
        crd.read_to_end(&mut got).await.unwrap();
        (crd, got)
    });
    let rd = bounded(reader).await.unwrap();
    let wr = bounded(writer).await.unwrap();
    let cwr = bounded(send).await.unwrap();
    let s = rd.reunite(wr).expect("halves of one stream");
    drop(s); // FIN from the server.
    let (crd, got) = bounded(echoed).await.unwrap();
    assert_eq!(got, data);
    let c = crd.reunite(cwr).unwrap();
    assert!(c.peer_addr().is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn reunite_refuses_halves_of_different_streams() {
    let (a, b) = pair();
    let (c1, _s1) = connected(&a, &b).await;
    let (c2, _s2) = connected(&a, &b).await;
    let (r1, _w1) = c1.into_split();
    let (_r2, w2) = c2.into_split();
    let e = r1.reunite(w2).unwrap_err();
    assert!(e.to_string().contains("not from the same socket"));
}

#[tokio::test(flavor = "current_thread")]
async fn borrowed_halves_read_and_write_at_once() {
    let (a, b) = pair();
    let (mut c, mut s) = connected(&a, &b).await;
    let (mut rd, mut wr) = s.split();
    let data = vec![0x5au8; 200_000];
    let echo = async {
        tokio::io::copy(&mut rd, &mut wr).await.unwrap();
        wr.shutdown().await.unwrap();
    };
    let client = async {
        let (mut crd, mut cwr) = c.split();
        let w = async {
            cwr.write_all(&data).await.unwrap();
            cwr.shutdown().await.unwrap();
        };
        let mut got = Vec::new();
        let r = crd.read_to_end(&mut got);
        let ((), n) = tokio::join!(w, r);
        n.unwrap();
        got
    };
    let ((), got) = bounded(async { tokio::join!(echo, client) }).await;
    assert_eq!(got, data);
}

#[tokio::test(flavor = "current_thread")]
async fn readiness_with_try_read_and_try_write() {
    // tokio's readiness loop: wait until readable, try_read until WouldBlock; same for
    // writes until the send buffer is full (WouldBlock), then writable again once the peer
    // has read.
    let (a, b) = pair();
    let (c, s) = connected(&a, &b).await;
    assert_eq!(s.try_read(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    bounded(c.writable()).await.unwrap();
    let chunk = vec![1u8; 65_536];
    let mut written = 0usize;
    loop {
        match c.try_write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(written < 64 << 20, "the send buffer never filled");
    }
    // Ready for any of the interests: s's own send buffer is empty, so writable at once.
    let ready = bounded(s.ready(Interest::READABLE | Interest::WRITABLE)).await.unwrap();
    assert!(ready.is_writable());
    bounded(s.readable()).await.unwrap();
    let mut read = 0usize;
    let mut buf = vec![0u8; 65_536];
    while read < written {
        bounded(s.readable()).await.unwrap();
        match s.try_read(&mut buf) {
            Ok(n) => read += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(read, written);
    bounded(c.writable()).await.unwrap();
    assert!(c.try_write(b"more").unwrap() > 0);
    drop(c);
    let ready = bounded(s.ready(Interest::READABLE)).await.unwrap();
    assert!(ready.is_readable());
    let mut rest = Vec::new();
    loop {
        bounded(s.readable()).await.unwrap();
        match s.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rest, b"more");
    assert!(bounded(s.ready(Interest::READABLE)).await.unwrap().is_read_closed());
}

#[tokio::test(flavor = "current_thread")]
async fn peek_nodelay_and_conversion_to_and_from_the_blocking_api() {
    let (a, b) = pair();
    let (mut c, s) = connected(&a, &b).await;
    assert!(!c.nodelay().unwrap());
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
    c.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    let mut n = 0;
    while n < 5 {
        n = bounded(s.peek(&mut buf)).await.unwrap();
    }
    assert_eq!(&buf, b"hello");
    // The same connection through the blocking API: the peeked bytes are still there.
    let std_s = s.into_std().unwrap();
    std_s.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = [0u8; 5];
    std::io::Read::read_exact(&mut &std_s, &mut got).unwrap();
    assert_eq!(&got, b"hello");
    let mut s = TcpStream::from_std(std_s).unwrap();
    c.write_all(b"again").await.unwrap();
    bounded(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"again");
}

#[tokio::test(flavor = "current_thread")]
async fn tcp_socket_connects_with_its_options() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, (B, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let sock = TcpSocket::new_v4(&a).unwrap();
    sock.set_nodelay(true).unwrap();
    sock.set_keepalive(true).unwrap();
    sock.set_recv_buffer_size(70_000).unwrap();
    sock.bind(SocketAddr::from((A, 41_000))).unwrap();
    let (c, s) = tokio::join!(sock.connect(SocketAddr::from((B, port))), l.accept());
    let c = c.unwrap();
    let (_s, peer) = s.unwrap();
    assert_eq!(peer, SocketAddr::from((A, 41_000)));
    assert!(c.nodelay().unwrap());
    let (keepalive, rcvbuf) = a.with_stack(|st, _| {
        let h =
            st.netstat(_now()).sockets.iter().find(|x| x.local.port() == 41_000).unwrap().handle;
        let conn = st.tcp_conn(h);
        (conn.config().keepalive, conn.buffer_limits().1)
    });
    assert!(keepalive);
    assert_eq!(rcvbuf, 70_000);
}

fn _now() -> ustack::core::Instant {
    ustack::core::Instant::from_nanos(0)
}

#[tokio::test(flavor = "current_thread")]
async fn udp_try_calls_readiness_and_peek() {
    let (a, b) = pair();
    let ua = UdpSocket::bind(&a, (A, 0)).unwrap();
    let ub = UdpSocket::bind(&b, (B, 0)).unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(ub.try_recv_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    ua.try_send_to(b"first", ub.local_addr().unwrap()).unwrap();
    bounded(ub.readable()).await.unwrap();
    let (n, from) = ub.try_peek_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"first"[..], ua.local_addr().unwrap()));
    let (n, _) = bounded(ub.peek_from(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"first");
    assert_eq!(ub.try_recv(&mut buf).unwrap(), 5, "peeking took nothing");
    ub.connect(ua.local_addr().unwrap()).unwrap();
    bounded(ub.writable()).await.unwrap();
    ub.try_send(b"back").unwrap();
    let n = bounded(ua.recv(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"back");
    ua.set_ttl(5).unwrap();
    assert_eq!(ua.ttl().unwrap(), 5);
    assert!(ua.take_error().unwrap().is_none());
}
