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
fn drain(mut r: impl Read) -> (u64, Duration) {
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0u64;
    let mut first = None;
    let mut last = StdInstant::now();
    while let Ok(n @ 1..) = r.read(&mut buf) {
        first.get_or_insert_with(StdInstant::now);
        bytes += n as u64;
        last = StdInstant::now();
    }
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
