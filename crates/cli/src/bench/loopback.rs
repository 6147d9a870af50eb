//! SPEC S24, a program talking to itself: ustack's loopback interface through the blocking
//! API against the kernel's TCP over 127.0.0.1 and an AF_UNIX stream socket pair (the
//! criterion version is `crates/ustack/benches/loopback.rs`).
//!
//! - bulk: 64 KiB writes to a server thread that reads 64 KiB at a time and answers one byte
//!   per 4 MiB; the client waits for that byte, so each 4 MiB is counted once read;
//! - rtt: a 64-byte request and a 64-byte answer on one connection, Nagle off; the median
//!   round trip.
//!
//! The ustack rows: client and server on one `NetStack` over 127.0.0.1 (three threads:
//! client, server, the driver; its device is an in-memory link that carries nothing).

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use ustack::core::Ipv4Cidr;
use ustack::device::{MemoryDevice, MemoryLink};
use ustack::{NetConfig, NetStack};

use super::kernel;

const BULK: usize = 4 << 20;
const WRITE: usize = 64 << 10;
const MSG: usize = 64;
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));

/// The transports of S24.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Transport {
    Ustack,
    KernelTcp,
    Unix,
}

/// A connected (client, server) of a transport, boxed so one code path serves them all.
trait Stream: Read + Write + Send + 'static {}
impl<T: Read + Write + Send + 'static> Stream for T {}

/// The connection and whatever must live as long as it (ustack's stack and its link's far
/// end).
struct Conn {
    client: Box<dyn Stream>,
    server: Box<dyn Stream>,
    _keep: Option<(NetStack, MemoryDevice)>,
}

fn connect(t: Transport) -> Result<Conn, String> {
    match t {
        Transport::KernelTcp => {
            let l = kernel::listener()?;
            let (c, s) = kernel::connect(&l)?;
            for x in [&c, &s] {
                x.set_nodelay(true).map_err(|e| e.to_string())?;
            }
            Ok(Conn { client: Box::new(c), server: Box::new(s), _keep: None })
        }
        Transport::Unix => {
            let (c, s) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
            for x in [&c, &s] {
                x.set_read_timeout(TIMEOUT).map_err(|e| e.to_string())?;
                x.set_write_timeout(TIMEOUT).map_err(|e| e.to_string())?;
            }
            Ok(Conn { client: Box::new(c), server: Box::new(s), _keep: None })
        }
        Transport::Ustack => {
            let (dev, far) = MemoryLink::pair(1500, 64);
            let addr = Ipv4Cidr::new(Ipv4Addr::new(10, 99, 0, 1), 24).expect("a /24");
            let net = NetStack::spawn(dev, NetConfig::new(addr))
                .map_err(|e| format!("starting the stack: {e}"))?;
            let l = ustack::TcpListener::bind(&net, (Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| format!("bind: {e}"))?;
            let to = l.local_addr().map_err(|e| e.to_string())?;
            let c = ustack::TcpStream::connect(&net, to).map_err(|e| format!("connect: {e}"))?;
            let (s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
            for x in [&c, &s] {
                x.set_nodelay(true).map_err(|e| e.to_string())?;
                x.set_read_timeout(TIMEOUT).map_err(|e| e.to_string())?;
                x.set_write_timeout(TIMEOUT).map_err(|e| e.to_string())?;
            }
            Ok(Conn { client: Box::new(c), server: Box::new(s), _keep: Some((net, far)) })
        }
    }
}

/// Gbit/s of the bulk workload over `t` for `time`, after a warm-up.
pub(crate) fn bulk(t: Transport, time: Duration) -> Result<f64, String> {
    let Conn { mut client, mut server, _keep } = connect(t)?;
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; WRITE];
        let mut got = 0;
        loop {
            match server.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
            while got >= BULK {
                got -= BULK;
                if server.write_all(&[1]).is_err() {
                    return;
                }
            }
        }
    });
    let data = vec![0x5a_u8; WRITE];
    let mut run = |time: Duration| -> Result<f64, String> {
        let start = StdInstant::now();
        let mut n = 0u64;
        while start.elapsed() < time || n == 0 {
            for _ in 0..BULK / WRITE {
                client.write_all(&data).map_err(|e| format!("write: {e}"))?;
            }
            let mut ack = [0u8; 1];
            client.read_exact(&mut ack).map_err(|e| format!("reading the ack: {e}"))?;
            n += 1;
        }
        Ok((n * BULK as u64) as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e9)
    };
    run(time / 5)?;
    let r = run(time);
    drop(client);
    reader.join().map_err(|_| "the reader thread panicked".to_string())?;
    r
}

/// The median round trip over `t`, microseconds, for `time` after a warm-up.
pub(crate) fn rtt(t: Transport, time: Duration) -> Result<f64, String> {
    let Conn { mut client, mut server, _keep } = connect(t)?;
    let echo = thread::spawn(move || {
        let mut buf = [0u8; MSG];
        while server.read_exact(&mut buf).is_ok() {
            if server.write_all(&buf).is_err() {
                return;
            }
        }
    });
    let req = [7u8; MSG];
    let mut resp = [0u8; MSG];
    let mut run = |time: Duration| -> Result<f64, String> {
        let start = StdInstant::now();
        let mut samples = Vec::new();
        while start.elapsed() < time || samples.is_empty() {
            let t = StdInstant::now();
            client.write_all(&req).map_err(|e| format!("request: {e}"))?;
            client.read_exact(&mut resp).map_err(|e| format!("answer: {e}"))?;
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(super::stats::median(&samples))
    };
    run(time / 5)?;
    let r = run(time);
    drop(client);
    echo.join().map_err(|_| "the echo thread panicked".to_string())?;
    r
}
