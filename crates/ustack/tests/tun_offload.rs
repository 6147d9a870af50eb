//! TUN offloads against the Linux kernel: bulk both ways over a TUN opened with
//! `TunConfig::offload` (IFF_VNET_HDR, checksum offload, TSO for IPv4 and IPv6), inside a
//! network namespace the test creates, over IPv4 and IPv6, checked byte for byte.
//!
//! The device is wrapped in a counter, so the test sees that the offloads were used: the
//! kernel handed over TCP packets longer than the MTU (its TSO) and the stack handed the
//! kernel packets to cut (ours). The kernel's and the stack's checksum error counters stay
//! at zero.
//!
//! **Getting into the namespace.** As tun_netns.rs: a dedicated thread enters the namespace
//! and creates the TUN, the stack's driver and the kernel sockets from there (threads it
//! spawns inherit the namespace). A guard deletes the namespace, also on a panic.
//!
//! **Preconditions.** Root and `ip` (iproute2). Without them the test prints why and
//! returns, except when the environment variable `CI` is set and non-empty: then it fails.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[path = "support/netns.rs"]
mod netns;

use netns::in_new_netns;
use ustack::core::{Ipv4Cidr, Ipv6Cidr};
use ustack::device::tun::enter_netns;
use ustack::device::{Device, Gso, Offloads, Readiness, RxMeta, Tun, TunConfig};
use ustack::{NetConfig, NetStack};

const HOST: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const STACK: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const HOST6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x79, 0, 0, 0, 0, 0, 1);
const STACK6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x79, 0, 0, 0, 0, 0, 2);
const MTU: usize = 1500;
/// Bytes per transfer.
const BULK: u64 = 256 << 20;
/// Every transfer ends within this, or the test fails.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What went through the device.
#[derive(Default)]
struct Seen {
    /// Packets received longer than the MTU (the kernel's TSO).
    rx_large: AtomicU64,
    /// Packets received with the checksum vouched for.
    rx_verified: AtomicU64,
    /// Packets sent for the kernel to cut into segments.
    tx_gso: AtomicU64,
    /// Bytes in those.
    tx_gso_bytes: AtomicU64,
}

/// A device that counts what its inner device carries.
struct Counting<D> {
    inner: D,
    seen: Arc<Seen>,
}

impl<D: Device> Device for Counting<D> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.inner.send(packet)
    }
    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }
    fn offloads(&self) -> Offloads {
        self.inner.offloads()
    }
    fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, RxMeta)> {
        let (n, meta) = self.inner.recv_with(buf)?;
        if n > MTU {
            self.seen.rx_large.fetch_add(1, Ordering::Relaxed);
        }
        if meta.checksum_verified {
            self.seen.rx_verified.fetch_add(1, Ordering::Relaxed);
        }
        Ok((n, meta))
    }
    fn send_with(&mut self, packet: &[u8], gso: Option<Gso>) -> io::Result<()> {
        self.inner.send_with(packet, gso)?;
        if gso.is_some() {
            self.seen.tx_gso.fetch_add(1, Ordering::Relaxed);
            self.seen.tx_gso_bytes.fetch_add(packet.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The byte at `offset` of a transfer: a pattern that a shifted or repeated chunk breaks.
fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// Writes `BULK` bytes of the pattern.
fn write_bulk(w: &mut impl Write) -> io::Result<()> {
    write_pattern(w, BULK)
}

/// Writes `len` bytes of the pattern.
fn write_pattern(w: &mut impl Write, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut off = 0u64;
    while off < len {
        let n = (buf.len() as u64).min(len - off) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(off + i as u64);
        }
        w.write_all(&buf[..n])?;
        off += n as u64;
    }
    Ok(())
}

/// Reads to the end and checks every byte against the pattern; returns the count.
fn read_bulk(r: &mut impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut off = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(off);
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if b != pattern(off + i as u64) {
                return Err(io::Error::other(format!("byte {} differs", off + i as u64)));
            }
        }
        off += n as u64;
    }
}

/// Prefix of the namespaces this file makes.
const NETNS_PREFIX: &str = "ustack-offload-";

#[test]
fn bulk_both_ways_over_tun_offloads_ipv4_and_ipv6() {
    in_new_netns(NETNS_PREFIX, bulk_in_netns);
}

fn bulk_in_netns(ns: &Path) {
    enter_netns(ns).unwrap_or_else(|e| panic!("{e}"));
    let config = TunConfig {
        mtu: MTU,
        host_addr: Some(Ipv4Cidr::new(HOST, 24).unwrap()),
        offload: true,
        ..TunConfig::new("uoff%d")
    };
    let tun = Tun::create(&config).unwrap_or_else(|e| panic!("Tun::create: {e}"));
    assert!(tun.offload());
    tun.add_host_addr6(Ipv6Cidr::new(HOST6, 64).unwrap()).expect("the kernel's IPv6 address");
    let seen = Arc::new(Seen::default());
    let dev = Counting { inner: tun, seen: Arc::clone(&seen) };
    let cfg = NetConfig::new(Ipv4Cidr::new(STACK, 24).unwrap())
        .with_ipv6(Ipv6Cidr::new(STACK6, 64).unwrap());
    let net = NetStack::spawn(dev, cfg).expect("starting the stack");

    for (host, stack) in [(IpAddr::V4(HOST), IpAddr::V4(STACK)), (HOST6.into(), STACK6.into())] {
        let before = (seen.rx_large.load(Ordering::Relaxed), seen.tx_gso.load(Ordering::Relaxed));
        let started = Instant::now();
        // Kernel to ustack.
        let l = ustack::TcpListener::bind(&net, SocketAddr::new(stack, 5001)).unwrap();
        let reader = thread::spawn(move || {
            let (mut s, _) = l.accept().expect("ustack accept");
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            read_bulk(&mut s)
        });
        let mut c = std::net::TcpStream::connect_timeout(&SocketAddr::new(stack, 5001), IO_TIMEOUT)
            .expect("kernel connect");
        c.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        write_bulk(&mut c).expect("kernel write");
        drop(c);
        let got = reader.join().unwrap().expect("ustack read");
        assert_eq!(got, BULK, "{stack}: kernel to ustack");
        let k2u = started.elapsed();

        // ustack to kernel.
        let started = Instant::now();
        let l = std::net::TcpListener::bind(SocketAddr::new(host, 5002)).expect("kernel bind");
        let reader = thread::spawn(move || {
            let (mut s, _) = l.accept().expect("kernel accept");
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            read_bulk(&mut s)
        });
        let mut c =
            ustack::TcpStream::connect(&net, SocketAddr::new(host, 5002)).expect("ustack connect");
        c.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        write_bulk(&mut c).expect("ustack write");
        drop(c);
        let got = reader.join().unwrap().expect("kernel read");
        assert_eq!(got, BULK, "{host}: ustack to kernel");
        let u2k = started.elapsed();

        let rx_large = seen.rx_large.load(Ordering::Relaxed) - before.0;
        let tx_gso = seen.tx_gso.load(Ordering::Relaxed) - before.1;
        println!(
            "{stack}: 256 MiB kernel->ustack in {k2u:?} ({rx_large} packets over the MTU), \
             ustack->kernel in {u2k:?} ({tx_gso} packets for the kernel to cut)"
        );
        assert!(rx_large > 100, "{stack}: the kernel's TSO packets came through ({rx_large})");
        assert!(tx_gso > 100, "{stack}: the kernel cut our packets ({tx_gso})");
    }
    let avg = seen.tx_gso_bytes.load(Ordering::Relaxed) / seen.tx_gso.load(Ordering::Relaxed);
    println!("average packet for the kernel to cut: {avg} bytes");
    assert!(seen.rx_verified.load(Ordering::Relaxed) > 0);
    assert_eq!(net.counters().tcp_in_csum_errors, 0, "ustack saw no bad checksum");
    assert_eq!(kernel_csum_errors(), 0, "the kernel saw no bad checksum");
    net.shutdown(Duration::from_secs(1)).expect("shutdown");
}

/// A multi-queue TUN with offloads, a stack on each of its two queues (shards at the same
/// address, each listening): 16 kernel connections, which the kernel spreads over the queues
/// by the hash of their addresses and ports, each carry 8 MiB checked byte for byte; every
/// connection is served whole by the shard that took its SYN (the kernel keeps a
/// connection's packets on one queue), and both shards take some.
#[test]
fn kernel_connections_spread_over_tun_queues_each_with_its_own_stack() {
    in_new_netns(NETNS_PREFIX, queues_in_netns);
}

fn queues_in_netns(ns: &Path) {
    const FLOWS: usize = 16;
    const EACH: u64 = 8 << 20;
    enter_netns(ns).unwrap_or_else(|e| panic!("{e}"));
    let config = TunConfig {
        mtu: MTU,
        host_addr: Some(Ipv4Cidr::new(HOST, 24).unwrap()),
        multi_queue: true,
        offload: true,
        ..TunConfig::new("uoffq%d")
    };
    let first = Tun::create(&config).unwrap_or_else(|e| panic!("Tun::create: {e}"));
    let second = first.new_queue().expect("a second queue");
    assert!(second.offload(), "a new queue has the interface's offloads");
    let mut shards = Vec::new();
    let mut acceptors = Vec::new();
    let finished = Arc::new(AtomicU64::new(0));
    for tun in [first, second] {
        let finished = Arc::clone(&finished);
        let net = NetStack::spawn(tun, NetConfig::new(Ipv4Cidr::new(STACK, 24).unwrap()))
            .expect("starting a shard");
        let l = ustack::TcpListener::bind(&net, (Ipv4Addr::UNSPECIFIED, 5003)).unwrap();
        acceptors.push(thread::spawn(move || {
            let mut readers = Vec::new();
            while let Ok((mut s, _)) = l.accept() {
                let finished = Arc::clone(&finished);
                readers.push(thread::spawn(move || {
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    let got = read_bulk(&mut s);
                    finished.fetch_add(1, Ordering::SeqCst);
                    got
                }));
            }
            readers.into_iter().map(|r| r.join().unwrap().expect("a shard's read")).collect()
        }));
        shards.push(net);
    }
    let writers: Vec<_> = (0..FLOWS)
        .map(|_| {
            thread::spawn(|| {
                let to = SocketAddr::from((STACK, 5003));
                let mut c = std::net::TcpStream::connect_timeout(&to, IO_TIMEOUT)?;
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                write_pattern(&mut c, EACH)
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap().expect("a kernel connection's write");
    }
    // Every byte is written; wait until the shards' readers reach the ends, then stop them.
    let deadline = Instant::now() + IO_TIMEOUT;
    while finished.load(Ordering::SeqCst) < FLOWS as u64 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    for net in &shards {
        net.stop().expect("stopping a shard");
    }
    let per_shard: Vec<Vec<u64>> = acceptors.into_iter().map(|a| a.join().unwrap()).collect();
    let counts: Vec<usize> = per_shard.iter().map(Vec::len).collect();
    println!("connections per shard: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), FLOWS, "every connection was accepted once");
    assert!(counts.iter().all(|&c| c > 0), "the kernel spread them: {counts:?}");
    for got in per_shard.iter().flatten() {
        assert_eq!(*got, EACH, "a connection read whole by its shard");
    }
}

/// The kernel's `InCsumErrors` of TCP in this thread's namespace (/proc/thread-self: the
/// process's /proc/net is the main thread's namespace).
fn kernel_csum_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").expect("reading snmp");
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let i = names.split_whitespace().position(|n| n == "InCsumErrors").expect("InCsumErrors");
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}
