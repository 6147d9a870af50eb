//! `ustack bench paths` through `ustack netem`: ustack and Linux sending to a Linux receiver
//! over the same impaired path.
//!
//! Two network namespaces, made for the run and deleted after it:
//!
//! ```text
//!  namespace A                                              namespace B
//!  ustack 10.94.3.2 --TUN-- kernel 10.94.3.1                  kernel 10.95.1.1
//!  (in this process)         kernel 10.94.1.1/16 --netem-- 10.95.1.1/16  (receiver)
//!  Linux sender: a socket of A's kernel
//! ```
//!
//! netem's devices carry 10.94.1.1/16 in A and 10.95.1.1/16 in B, so B routes all of
//! 10.94.0.0/16 (ustack's 10.94.3.2 included) into netem, and A forwards between ustack's TUN
//! and netem's device (`ip_forward` on in A). ustack's packets cross A's kernel once more than
//! the Linux sender's (a forwarding hop, no transport work), and its stack runs in this
//! process; both go through the same netem device, model and impairments, and B's kernel
//! receives both the same way.
//!
//! Each run: the receiver in B listens on 10.95.1.1:5201; the sender connects and writes
//! until the connection fails; the receiver reads for the run's time from the accept, then
//! closes (its unread data makes that a RST, which stops the sender). Goodput is what the
//! receiver read over that time. A namespace's sysctls give both senders room for the grid's
//! largest bandwidth-delay product (`tcp_wmem` max 64 MiB in A, as ustack's own, `tcp_rmem`
//! max 64 MiB in B), and A's kernel keeps no metrics of earlier connections
//! (`tcp_no_metrics_save`), so that every run starts afresh.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use socket2::{Domain, Socket, Type};
use ustack::core::Ipv4Cidr;
use ustack::core::tcp_engine::TcpConfig;
use ustack::device::{Tun, TunConfig};
use ustack::{NetConfig, NetStack};

use super::{Args, BUFFER_MAX, Cell, Row, Table, mbps, median};
use crate::bench::json::Json;
use crate::netem::{self, End, Netem, Report};

const NS_PREFIX: &str = "ubp-";
/// The receiver's address, B's end of netem.
const RECEIVER: Ipv4Addr = Ipv4Addr::new(10, 95, 1, 1);
const PORT: u16 = 5201;
/// Bound on a connect, an accept, and the end of a sender.
const IO_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// Who sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    Ustack,
    Linux,
}

/// The two namespaces, deleted when dropped.
struct Namespaces {
    a: String,
    b: String,
}

impl Namespaces {
    fn create() -> Result<Namespaces, String> {
        remove_stale();
        let base = format!("{NS_PREFIX}{}", std::process::id());
        let ns = Namespaces { a: format!("{base}-a"), b: format!("{base}-b") };
        for name in [&ns.a, &ns.b] {
            let out = std::process::Command::new("ip")
                .args(["netns", "add", name])
                .output()
                .map_err(|e| format!("ip netns add {name}: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "ip netns add {name}: {} (this needs root)",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        let sysctls: [(&str, &[(&str, String)]); 2] = [
            (
                &ns.a,
                &[
                    ("ipv4/ip_forward", "1".into()),
                    ("ipv4/tcp_wmem", format!("4096 16384 {BUFFER_MAX}")),
                    ("ipv4/tcp_no_metrics_save", "1".into()),
                    ("ipv6/conf/all/disable_ipv6", "1".into()),
                    ("ipv6/conf/default/disable_ipv6", "1".into()),
                ],
            ),
            (
                &ns.b,
                &[
                    ("ipv4/tcp_rmem", format!("4096 131072 {BUFFER_MAX}")),
                    ("ipv4/tcp_no_metrics_save", "1".into()),
                    ("ipv6/conf/all/disable_ipv6", "1".into()),
                    ("ipv6/conf/default/disable_ipv6", "1".into()),
                ],
            ),
        ];
        for (name, settings) in sysctls {
            netem::run_in(name, || {
                for (key, value) in settings {
                    let path = format!("/proc/sys/net/{key}");
                    std::fs::write(&path, value)
                        .map_err(|e| format!("writing {value} to {path}: {e}"))?;
                }
                Ok(())
            })?;
        }
        Ok(ns)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in [&self.a, &self.b] {
            let _ = std::process::Command::new("ip").args(["netns", "delete", name]).output();
        }
    }
}

/// Deletes the namespaces of earlier runs whose process is gone.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(NS_PREFIX).and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        if !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !std::path::Path::new("/proc").join(pid).exists()
        {
            let _ = std::process::Command::new("ip").args(["netns", "delete", &name]).output();
        }
    }
}

/// ustack on a TUN device in namespace A.
fn start_ustack(ns: &str, tcp: &TcpConfig) -> Result<NetStack, String> {
    let host: Ipv4Cidr = "10.94.3.1/24".parse().map_err(|e| format!("{e}"))?;
    let addr: Ipv4Cidr = "10.94.3.2/24".parse().map_err(|e| format!("{e}"))?;
    let config = TunConfig { host_addr: Some(host), ..TunConfig::new("ubp%d") };
    let tun = netem::run_in(ns, || Tun::create(&config).map_err(|e| e.to_string()))?;
    let mut cfg = NetConfig::new(addr);
    cfg.mtu = Some(1500);
    cfg.stack.tcp = *tcp;
    NetStack::spawn(tun, cfg).map_err(|e| format!("starting ustack: {e}"))
}

/// A connected sender: writes until the connection fails, on a thread of its own.
struct Sending {
    thread: thread::JoinHandle<u64>,
    stop: Box<dyn Fn() + Send>,
}

fn send_linux(ns: &str, cc: &str) -> Result<Sending, String> {
    let cc = cc.to_string();
    let stream = netem::run_in(ns, move || {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| e.to_string())?;
        sock.set_tcp_congestion(cc.as_bytes())
            .map_err(|e| format!("TCP_CONGESTION {cc} on the Linux sender: {e}"))?;
        let to = SocketAddr::V4(SocketAddrV4::new(RECEIVER, PORT));
        sock.connect_timeout(&to.into(), IO_TIMEOUT)
            .map_err(|e| format!("the Linux sender connecting to {to}: {e}"))?;
        Ok(TcpStream::from(sock))
    })?;
    let stopper = stream.try_clone().map_err(|e| e.to_string())?;
    let thread = thread::spawn(move || write_until_error(&stream));
    Ok(Sending {
        thread,
        stop: Box::new(move || {
            let _ = stopper.shutdown(Shutdown::Both);
        }),
    })
}

fn send_ustack(net: &NetStack) -> Result<Sending, String> {
    let to = SocketAddr::V4(SocketAddrV4::new(RECEIVER, PORT));
    let stream = ustack::TcpStream::connect_timeout(net, &to, IO_TIMEOUT)
        .map_err(|e| format!("ustack connecting to {to}: {e}"))?;
    let stream = Arc::new(stream);
    let writer = Arc::clone(&stream);
    let thread = thread::spawn(move || write_until_error(&*writer));
    Ok(Sending {
        thread,
        stop: Box::new(move || {
            let _ = stream.shutdown(Shutdown::Both);
        }),
    })
}

/// Writes until the connection fails; the bytes written.
fn write_until_error(mut w: impl Write) -> u64 {
    let chunk = vec![0xa5u8; 1 << 20];
    let mut sent = 0u64;
    while w.write_all(&chunk).is_ok() {
        sent += chunk.len() as u64;
    }
    sent
}

/// Accepts one connection (bounded) and reads for `time`: bytes read and the time taken.
fn receive(listener: &TcpListener, time: StdDuration) -> Result<(u64, StdDuration), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = StdInstant::now() + IO_TIMEOUT;
    let (mut conn, _) = loop {
        match listener.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if StdInstant::now() > deadline {
                    return Err("no connection came to the receiver".to_string());
                }
                thread::sleep(StdDuration::from_millis(1));
            }
            Err(e) => return Err(format!("accepting: {e}")),
        }
    };
    let start = StdInstant::now();
    conn.set_nonblocking(false).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let left = time.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        conn.set_read_timeout(Some(left.max(StdDuration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match conn.read(&mut buf) {
            Ok(0) => return Err(format!("the sender closed after {bytes} bytes")),
            Ok(n) => bytes += n as u64,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("receiving: {e}")),
        }
    }
    Ok((bytes, start.elapsed()))
}

/// One run: the sender's goodput to the receiver, bits per second.
fn one_run(
    sender: Sender,
    listener: &TcpListener,
    time: StdDuration,
    ns_a: &str,
    linux_cc: &str,
    net: &NetStack,
) -> Result<f64, String> {
    let sending = match sender {
        Sender::Linux => send_linux(ns_a, linux_cc)?,
        Sender::Ustack => send_ustack(net)?,
    };
    let received = receive(listener, time);
    (sending.stop)();
    // The receiver's close (a RST) or the shutdown ends the writer; bounded all the same.
    let deadline = StdInstant::now() + IO_TIMEOUT;
    while !sending.thread.is_finished() {
        if StdInstant::now() > deadline {
            return Err(format!("the {sender:?} sender did not stop"));
        }
        thread::sleep(StdDuration::from_millis(5));
    }
    let _ = sending.thread.join();
    let (bytes, elapsed) = received?;
    Ok(bytes as f64 * 8.0 / elapsed.as_secs_f64())
}

pub(super) fn run(args: &Args, cells: &[Cell], tcp: &TcpConfig) -> Result<Table, String> {
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 3 }) as usize;
    let total: f64 =
        cells.iter().map(|c| c.run_time(args.time).as_secs_f64()).sum::<f64>() * 2.0 * runs as f64;
    eprintln!(
        "ustack bench paths: {} cells x {runs} runs x 2 senders, about {:.0} min",
        cells.len(),
        total / 60.0 * 1.1
    );
    let ns = Namespaces::create()?;
    let net = start_ustack(&ns.a, tcp)?;
    let a = End { ns: ns.a.clone(), addr: "10.94.1.1/16".parse().map_err(|e| format!("{e}"))? };
    let b = End { ns: ns.b.clone(), addr: "10.95.1.1/16".parse().map_err(|e| format!("{e}"))? };
    let mut rows = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let link = cell.link();
        let netem = Netem::start(&a, &b, "netem%d", 1500, &link, args.seed, None)?;
        let listener = netem::run_in(&ns.b, || {
            TcpListener::bind((RECEIVER, PORT)).map_err(|e| format!("binding the receiver: {e}"))
        })?;
        let time = StdDuration::from_nanos(cell.run_time(args.time).as_nanos() as u64);
        // Time for the path to drain between runs: queued packets, the sender's last
        // retransmissions and the receiver's RSTs.
        let settle =
            StdDuration::from_nanos(cell.rtt.as_nanos() as u64) * 2 + StdDuration::from_millis(300);
        let mut got = [Vec::new(), Vec::new()];
        let (rate, rtt, loss) = cell.label();
        for r in 0..runs {
            let order = if r % 2 == 0 {
                [Sender::Ustack, Sender::Linux]
            } else {
                [Sender::Linux, Sender::Ustack]
            };
            for sender in order {
                let bps = one_run(sender, &listener, time, &ns.a, &args.linux_cc, &net)
                    .map_err(|e| format!("{rate} {rtt} loss {loss}, {sender:?}: {e}"))?;
                got[usize::from(sender == Sender::Linux)].push(bps);
                eprintln!(
                    "[{}/{}] {rate} {rtt} loss {loss}: run {}/{runs} {sender:?} {} Mbit/s",
                    i + 1,
                    cells.len(),
                    r + 1,
                    mbps(bps)
                );
                thread::sleep(settle);
            }
        }
        if let Some(f) = netem.failure() {
            return Err(format!("netem: {f}"));
        }
        let report = netem.stop();
        let (u, l) = (median(&got[0]), median(&got[1]));
        let ratio = u / l;
        let lost = share_lost(&report[0]);
        rows.push(Row {
            cell: *cell,
            values: vec![
                mbps(u),
                mbps(l),
                format!("{ratio:.2}"),
                format!("{:.2}%", lost * 100.0),
                report[0].kernel_dropped.to_string(),
            ],
            json: vec![
                ("seconds", Json::Num(time.as_secs_f64())),
                ("ustack_mbps", Json::Arr(got[0].iter().map(|b| Json::Num(b / 1e6)).collect())),
                ("linux_mbps", Json::Arr(got[1].iter().map(|b| Json::Num(b / 1e6)).collect())),
                ("ustack_median_mbps", Json::Num(u / 1e6)),
                ("linux_median_mbps", Json::Num(l / 1e6)),
                ("ratio", Json::Num(ratio)),
                ("netem_a_to_b", direction_json(&report[0])),
                ("netem_b_to_a", direction_json(&report[1])),
            ],
        });
    }
    // Connections still closing after a second are simply dropped with the stack.
    let _ = net.shutdown(StdDuration::from_secs(1));
    let ucc = tcp.congestion_control.as_str().to_string();
    let seconds: Vec<f64> = cells.iter().map(|c| c.run_time(args.time).as_secs_f64()).collect();
    let shortest = seconds.iter().copied().fold(f64::MAX, f64::min);
    let longest = seconds.iter().copied().fold(0.0, f64::max);
    let lengths = if shortest == longest {
        format!("{shortest} s")
    } else {
        format!("{shortest} to {longest} s")
    };
    Ok(Table {
        title: vec![
            format!(
                "ustack bench paths: ustack ({ucc}) and Linux ({}) sending to Linux through \
                 ustack netem; goodput in Mbit/s, median of {runs} interleaved runs of {lengths} \
                 each; ratio = ustack / Linux; lost = share of the packets netem's link \
                 dropped on the way to the receiver (loss and queue, all runs); kernel drops = \
                 packets the sending namespace's kernel dropped before netem read them",
                args.linux_cc
            ),
            format!("kernel {}, {} CPUs", kernel(), cpus()),
        ],
        columns: vec!["ustack", "Linux", "ratio", "lost", "kernel drops"],
        rows,
        meta: vec![
            ("mode", Json::Str("netem".into())),
            ("ustack_cc", Json::Str(ucc)),
            ("linux_cc", Json::Str(args.linux_cc.clone())),
            ("runs", Json::Num(runs as f64)),
            ("seed", Json::Num(args.seed as f64)),
            ("kernel", Json::Str(kernel())),
            ("cpus", Json::Num(cpus() as f64)),
        ],
    })
}

/// The share of the packets offered that the link dropped.
fn share_lost(r: &Report) -> f64 {
    let l = &r.relay.link;
    if l.sent == 0 { 0.0 } else { l.dropped.total() as f64 / l.sent as f64 }
}

fn direction_json(r: &Report) -> Json {
    let d = &r.relay;
    let l = &d.link;
    Json::obj([
        ("kernel_dropped", Json::Num(r.kernel_dropped as f64)),
        ("read", Json::Num(d.read as f64)),
        ("sent", Json::Num(l.sent as f64)),
        ("delivered", Json::Num(l.delivered as f64)),
        ("dropped_loss", Json::Num((l.dropped.loss + l.dropped.burst_loss) as f64)),
        ("dropped_queue", Json::Num(l.dropped.queue as f64)),
        ("written", Json::Num(d.written as f64)),
        ("write_errors", Json::Num(d.write_errors as f64)),
        ("overflow", Json::Num(d.overflow as f64)),
    ])
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or("?".into(), |s| s.trim().into())
}

fn cpus() -> usize {
    thread::available_parallelism().map_or(0, usize::from)
}
