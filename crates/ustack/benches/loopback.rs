//! SPEC S24, local sockets vs loopback: a program talking to itself through ustack's loopback
//! interface, against the kernel's TCP over 127.0.0.1 and an AF_UNIX stream socket, in the
//! same run. Two measurements per transport:
//!
//! - `bulk`: 4 MiB written in 64 KiB writes to a server that reads and discards; the server
//!   answers one byte per 4 MiB so an iteration ends when every byte has been read;
//! - `rtt`: a 64-byte request and a 64-byte response on one connection (TCP_NODELAY on).
//!
//! The ustack rows: the blocking API over a [`NetStack`] (client, server and driver threads;
//! the device is an in-memory link that carries nothing), and `ustack-core` alone (one
//! `Stack`, one thread, no driver, no locks: the cost of the protocol processing itself).
//! Results and the command are in docs/performance.md. Each benchmark is bounded: 1 s of
//! warm-up, 3 s of measurement, 20 samples, and every blocking read and write has a timeout.

#![allow(missing_docs)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ustack::core::{Instant, Ipv4Cidr, SocketHandle, Stack, StackConfig};
use ustack::device::{MemoryDevice, MemoryLink};
use ustack::{NetConfig, NetStack};

const BULK: usize = 4 << 20;
const WRITE: usize = 64 << 10;
const MSG: usize = 64;
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));

/// A connected client/server pair of some transport, with bounded blocking reads and writes.
trait Pair {
    type S: Read + Write + Send + 'static;
    fn connect() -> (Self::S, Self::S);
}

struct KernelTcp;
impl Pair for KernelTcp {
    type S = std::net::TcpStream;
    fn connect() -> (Self::S, Self::S) {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        for x in [&c, &s] {
            x.set_nodelay(true).unwrap();
            x.set_read_timeout(TIMEOUT).unwrap();
            x.set_write_timeout(TIMEOUT).unwrap();
        }
        (c, s)
    }
}

struct Unix;
impl Pair for Unix {
    type S = UnixStream;
    fn connect() -> (Self::S, Self::S) {
        let (c, s) = UnixStream::pair().unwrap();
        for x in [&c, &s] {
            x.set_read_timeout(TIMEOUT).unwrap();
            x.set_write_timeout(TIMEOUT).unwrap();
        }
        (c, s)
    }
}

/// ustack's blocking API, client and server on one NetStack over 127.0.0.1.
struct UstackTcp;
impl Pair for UstackTcp {
    type S = ustack::TcpStream;
    fn connect() -> (Self::S, Self::S) {
        let (net, _far) = ustack_net();
        let l = ustack::TcpListener::bind(&net, (Ipv4Addr::LOCALHOST, 0)).unwrap();
        let c = ustack::TcpStream::connect(&net, l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        for x in [&c, &s] {
            x.set_nodelay(true).unwrap();
            x.set_read_timeout(TIMEOUT).unwrap();
            x.set_write_timeout(TIMEOUT).unwrap();
        }
        // The driver ends when the last socket is dropped; the far end of the link may go.
        (c, s)
    }
}

fn ustack_net() -> (NetStack, MemoryDevice) {
    let (dev, far) = MemoryLink::pair(1500, 64);
    let cfg = NetConfig::new(Ipv4Cidr::new(Ipv4Addr::new(10, 99, 0, 1), 24).unwrap());
    (NetStack::spawn(dev, cfg).unwrap(), far)
}

/// Starts the bulk server: reads and discards, one byte back per `BULK` bytes read.
fn bulk_server<S: Read + Write + Send + 'static>(mut s: S) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = vec![0u8; WRITE];
        let mut got = 0;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
            while got >= BULK {
                got -= BULK;
                if s.write_all(&[1]).is_err() {
                    return;
                }
            }
        }
    })
}

/// Starts the request/response server: a `MSG`-byte answer to every `MSG`-byte request.
fn rtt_server<S: Read + Write + Send + 'static>(mut s: S) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; MSG];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                return;
            }
        }
    })
}

fn bench_transport<P: Pair>(c: &mut Criterion, name: &str) {
    let data = vec![0x5au8; WRITE];
    let (mut client, server) = P::connect();
    let t = bulk_server(server);
    let mut g = c.benchmark_group("s24_bulk_4MiB");
    g.throughput(Throughput::Bytes(BULK as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            for _ in 0..BULK / WRITE {
                client.write_all(&data).unwrap();
            }
            let mut ack = [0u8; 1];
            client.read_exact(&mut ack).unwrap();
        })
    });
    g.finish();
    drop(client);
    t.join().unwrap();

    let (mut client, server) = P::connect();
    let t = rtt_server(server);
    let mut g = c.benchmark_group("s24_rtt_64B");
    g.bench_function(name, |b| {
        let req = [7u8; MSG];
        let mut resp = [0u8; MSG];
        b.iter(|| {
            client.write_all(&req).unwrap();
            client.read_exact(&mut resp).unwrap();
        })
    });
    g.finish();
    drop(client);
    t.join().unwrap();
}

/// One `Stack`, one thread: a connection over 127.0.0.1 driven by hand, in virtual time that
/// never moves (nothing on loopback waits for a timer).
struct Sans {
    s: Stack,
    now: Instant,
    c: SocketHandle,
    a: SocketHandle,
    buf: Vec<u8>,
}

impl Sans {
    fn new() -> Sans {
        let mut s = Stack::new(StackConfig::new([7; 16])).unwrap();
        let now = Instant::from_secs(1);
        let l = s.tcp_listen(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7), 8, false).unwrap();
        let c = s.tcp_connect(now, None, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7)).unwrap();
        let mut sans = Sans { s, now, c, a: c, buf: vec![0u8; 65_536] };
        sans.poll();
        sans.a = sans.s.tcp_accept(l).expect("handshake done in one poll");
        sans.s.tcp_set_nodelay(sans.c, true);
        sans.s.tcp_set_nodelay(sans.a, true);
        sans
    }

    fn poll(&mut self) {
        let mut dev = [0u8; 1500];
        assert!(self.s.poll_transmit(self.now, &mut dev).is_none(), "nothing for a device");
        while self.s.poll_event().is_some() {}
    }

    /// Sends `data` from `tx` and reads `len` bytes at `rx`.
    fn pass(&mut self, tx: SocketHandle, rx: SocketHandle, data: &[u8], len: usize) {
        let (mut sent, mut got) = (0, 0);
        while got < len {
            if sent < data.len() {
                sent += self.s.tcp_send(tx, &data[sent..]).unwrap_or(0);
                self.poll();
            }
            while let Ok(n @ 1..) = self.s.tcp_recv(rx, &mut self.buf) {
                got += n;
            }
            self.poll();
        }
    }
}

fn bench_sans_io(c: &mut Criterion) {
    let name = "ustack-core, one thread";
    let data = vec![0x5au8; WRITE];
    let mut sans = Sans::new();
    let mut g = c.benchmark_group("s24_bulk_4MiB");
    g.throughput(Throughput::Bytes(BULK as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            let (c, a) = (sans.c, sans.a);
            for _ in 0..BULK / WRITE {
                sans.pass(c, a, &data, WRITE);
            }
            sans.pass(a, c, &[1], 1);
        })
    });
    g.finish();
    let mut g = c.benchmark_group("s24_rtt_64B");
    g.bench_function(name, |b| {
        let req = [7u8; MSG];
        b.iter(|| {
            let (c, a) = (sans.c, sans.a);
            sans.pass(c, a, &req, MSG);
            sans.pass(a, c, &req, MSG);
        })
    });
    g.finish();
}

fn s24(c: &mut Criterion) {
    bench_transport::<UstackTcp>(c, "ustack 127.0.0.1, blocking API");
    bench_sans_io(c);
    bench_transport::<KernelTcp>(c, "kernel TCP 127.0.0.1");
    bench_transport::<Unix>(c, "kernel AF_UNIX stream");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = s24
}
criterion_main!(benches);
