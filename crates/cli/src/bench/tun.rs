//! Bulk between the kernel and ustack over a TUN device, in the network namespace the bench
//! made (root only).
//!
//! The TUN device has MTU 1500, the kernel's end 10.78.0.1/24, ustack (a `NetStack` on the
//! device, Linux's settings) 10.78.0.2. The per-packet rows open it without offloads (one
//! packet of at most 1500 bytes per read or write); the offload rows with them
//! (`TunConfig::offload`: up to 64 KiB per read or write, TSO both ways, checksums left to
//! the kernel). One direction per row: the sender writes 64 KiB at a time for a fixed time,
//! the receiver reads and counts; goodput is what the receiver read from its first byte to
//! the end of the time.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use ustack::core::Ipv4Cidr;
use ustack::device::{Tun, TunConfig};
use ustack::{NetConfig, NetStack};

use super::kernel::IO_TIMEOUT;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const USTACK: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const PORT: u16 = 5001;
const CHUNK: usize = 64 << 10;

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    KernelToUstack,
    UstackToKernel,
}

/// Reads until the end of the stream: (bytes, time from the first byte to the last).
fn drain(r: impl Read) -> (u64, Duration) {
    let (bytes, first, last) = drain_timed(r);
    (bytes, first.map_or(Duration::ZERO, |f| last - f))
}

/// Writes for `time`, then closes.
fn source(w: &mut impl Write, time: Duration) -> Result<(), String> {
    let data = vec![0x5a_u8; CHUNK];
    let start = StdInstant::now();
    while start.elapsed() < time {
        w.write_all(&data).map_err(|e| format!("write: {e}"))?;
    }
    Ok(())
}

/// Gbit/s one way over the TUN device, with or without its offloads, for `time`.
pub(crate) fn gbps(dir: Direction, offload: bool, time: Duration) -> Result<f64, String> {
    let config = TunConfig {
        mtu: 1500,
        host_addr: Some(Ipv4Cidr::new(KERNEL, 24).expect("a /24")),
        offload,
        ..TunConfig::new("ubench%d")
    };
    let tun = Tun::create(&config).map_err(|e| format!("skip: {e}"))?;
    let mut cfg = NetConfig::new(Ipv4Cidr::new(USTACK, 24).expect("a /24"));
    cfg.mtu = Some(1500);
    let net = NetStack::spawn(tun, cfg).map_err(|e| format!("starting ustack: {e}"))?;
    let result = match dir {
        Direction::KernelToUstack => {
            let l = ustack::TcpListener::bind(&net, (Ipv4Addr::UNSPECIFIED, PORT))
                .map_err(|e| format!("ustack bind: {e}"))?;
            let reader = thread::spawn(move || {
                let (s, _) = l.accept().map_err(|e| format!("ustack accept: {e}"))?;
                Ok::<_, String>(drain(s))
            });
            let mut c = std::net::TcpStream::connect_timeout(
                &SocketAddrV4::new(USTACK, PORT).into(),
                IO_TIMEOUT,
            )
            .map_err(|e| format!("kernel connect: {e}"))?;
            c.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
            source(&mut c, time)?;
            drop(c);
            reader.join().map_err(|_| "the ustack reader panicked".to_string())?
        }
        Direction::UstackToKernel => {
            let l = std::net::TcpListener::bind((KERNEL, PORT))
                .map_err(|e| format!("kernel bind: {e}"))?;
            let reader = thread::spawn(move || {
                let (s, _) = l.accept().map_err(|e| format!("kernel accept: {e}"))?;
                s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
                Ok::<_, String>(drain(s))
            });
            let mut c = ustack::TcpStream::connect(&net, (KERNEL, PORT))
                .map_err(|e| format!("ustack connect: {e}"))?;
            c.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
            source(&mut c, time)?;
            drop(c);
            reader.join().map_err(|_| "the kernel reader panicked".to_string())?
        }
    };
    let (bytes, took) = result?;
    if took.is_zero() {
        return Err("no byte arrived".to_string());
    }
    Ok(bytes as f64 * 8.0 / took.as_secs_f64() / 1e9)
}

/// Gbit/s kernel -> ustack over a multi-queue TUN with offloads, for `time`: one stack per
/// queue (a shard, with its own driver thread), all at the same address, each listening;
/// `flows` kernel connections, which the kernel spreads over the queues by the hash of
/// their addresses and ports (a connection's packets, both ways, stay on its queue). The
/// goodput is every byte the shards read, from the first byte to the last. Also returns how
/// many shards took connections.
pub(crate) fn gbps_sharded(
    queues: usize,
    flows: usize,
    time: Duration,
) -> Result<(f64, usize), String> {
    let config = TunConfig {
        mtu: 1500,
        host_addr: Some(Ipv4Cidr::new(KERNEL, 24).expect("a /24")),
        multi_queue: true,
        offload: true,
        ..TunConfig::new("ubench%d")
    };
    let first = Tun::create(&config).map_err(|e| format!("skip: {e}"))?;
    let mut tuns = Vec::with_capacity(queues);
    for _ in 1..queues {
        tuns.push(first.new_queue().map_err(|e| format!("another queue: {e}"))?);
    }
    tuns.insert(0, first);
    let totals = Arc::new(Mutex::new(Totals::default()));
    let mut shards = Vec::with_capacity(queues);
    let mut acceptors = Vec::with_capacity(queues);
    for tun in tuns {
        let mut cfg = NetConfig::new(Ipv4Cidr::new(USTACK, 24).expect("a /24"));
        cfg.mtu = Some(1500);
        let net = NetStack::spawn(tun, cfg).map_err(|e| format!("starting ustack: {e}"))?;
        let l = ustack::TcpListener::bind(&net, (Ipv4Addr::UNSPECIFIED, PORT))
            .map_err(|e| format!("ustack bind: {e}"))?;
        let totals = Arc::clone(&totals);
        // Accepts until the stack is shut down; one reader per connection.
        acceptors.push(thread::spawn(move || {
            let mut readers = Vec::new();
            while let Ok((s, _)) = l.accept() {
                let mine = Arc::clone(&totals);
                readers.push(thread::spawn(move || {
                    let (bytes, first, last) = drain_timed(s);
                    mine.lock().unwrap_or_else(|e| e.into_inner()).add(bytes, first, last);
                }));
            }
            let had = !readers.is_empty();
            for r in readers {
                let _ = r.join();
            }
            had
        }));
        shards.push(net);
    }
    let writers: Vec<_> = (0..flows)
        .map(|_| {
            thread::spawn(move || {
                let mut c = std::net::TcpStream::connect_timeout(
                    &SocketAddrV4::new(USTACK, PORT).into(),
                    IO_TIMEOUT,
                )
                .map_err(|e| format!("kernel connect: {e}"))?;
                c.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
                source(&mut c, time)
            })
        })
        .collect();
    let mut failed = None;
    for w in writers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = Some(e),
            Err(_) => failed = Some("a kernel writer panicked".to_string()),
        }
    }
    // Every connection is closed by now; wait for the readers to reach the end.
    let deadline = StdInstant::now() + IO_TIMEOUT;
    while totals.lock().map_or(0, |t| t.done) < flows && StdInstant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    for net in &shards {
        let _ = net.stop();
    }
    let mut used = 0;
    for a in acceptors {
        used += usize::from(a.join().unwrap_or(false));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let t = totals.lock().map_err(|_| "the totals were poisoned".to_string())?;
    let (Some(first), Some(last)) = (t.first, t.last) else {
        return Err("no byte arrived".to_string());
    };
    if t.done < flows {
        return Err(format!("{} of {flows} connections reached their end", t.done));
    }
    Ok((t.bytes as f64 * 8.0 / (last - first).as_secs_f64() / 1e9, used))
}

/// What the shards' readers read.
#[derive(Default)]
struct Totals {
    bytes: u64,
    first: Option<StdInstant>,
    last: Option<StdInstant>,
    /// Connections read to their end.
    done: usize,
}

impl Totals {
    fn add(&mut self, bytes: u64, first: Option<StdInstant>, last: StdInstant) {
        self.bytes += bytes;
        self.done += 1;
        if let Some(f) = first {
            self.first = Some(self.first.map_or(f, |x| x.min(f)));
            self.last = Some(self.last.map_or(last, |x| x.max(last)));
        }
    }
}

/// Reads until the end of the stream: (bytes, when the first byte came, when the last did).
fn drain_timed(mut r: impl Read) -> (u64, Option<StdInstant>, StdInstant) {
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0u64;
    let mut first = None;
    let mut last = StdInstant::now();
    while let Ok(n @ 1..) = r.read(&mut buf) {
        first.get_or_insert_with(StdInstant::now);
        bytes += n as u64;
        last = StdInstant::now();
    }
    (bytes, first, last)
}
