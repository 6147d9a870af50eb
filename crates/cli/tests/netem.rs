//! `ustack netem` between two network namespaces the test creates, with the kernel's TCP at
//! both ends: what the kernel measures of the path (its RTT, its retransmissions, its
//! goodput) is what netem was told to do, and the counters netem prints at its stop agree
//! with the kernel's interface counters.
//!
//! **Layout.** Each test makes two namespaces, `unm-<pid>-<n>-a` and `-b`, with IPv6 off (so
//! that nothing but the test's traffic crosses), and starts `ustack netem --a NS_A:10.93.1.1/24
//! --b NS_B:10.93.2.1/24 ...`. A kernel listener in B (a socket made by a thread that entered
//! the namespace) takes a connection from a client in A; the client sends, the receiver
//! answers one byte once it has everything, and the client reads the connection's TCP_INFO
//! with `ss -tin` while it is still open.
//!
//! **Bounds and cleanup.** Every wait and socket operation is bounded; netem is stopped with
//! SIGINT by its process id and killed if it does not stop; the namespaces are deleted when
//! the test ends, also when it fails, and those of dead earlier runs at the start.
//!
//! **Preconditions.** Root, `ip`, `ss` and `/dev/net/tun`. Without one the test prints why
//! and returns, unless the environment variable `CI` is set and non-empty: then it fails, so
//! CI can never pass by skipping.

// The tests report what they measured and what they skipped.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ustack::device::tun::enter_netns;

#[path = "support/env.rs"]
mod env;
use env::{am_root, command_runs, describe, precondition};

const NETNS_PREFIX: &str = "unm-";
/// The kernel's address in namespace A, and its prefix.
const A: &str = "10.93.1.1/24";
/// The kernel's address in namespace B.
const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 93, 2, 1);
const B: &str = "10.93.2.1/24";
const PORT: u16 = 5001;
/// Bound on every socket operation and every wait.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn a_kernel_connection_through_netem_measures_the_delay_as_its_round_trip() {
    // 25 ms each way: a round trip of 50 ms, whatever the load (a late wake-up can only add).
    let Some(lab) = Lab::start(&["--rate", "100mbit", "--delay", "25ms"]) else { return };
    let t = lab.transfer(2 << 20);
    let report = lab.stop();
    assert!(
        (50.0..60.0).contains(&t.min_rtt_ms),
        "the kernel's minimum RTT is {} ms through 2 x 25 ms; {t:?}",
        t.min_rtt_ms
    );
    assert_eq!(report.a_to_b.dropped, 0, "{report:?}");
    eprintln!("min RTT {} ms, {:.1} Mbit/s", t.min_rtt_ms, t.goodput_mbps());
}

#[test]
fn five_percent_loss_makes_the_kernel_retransmit_and_the_counters_agree() {
    let Some(lab) =
        Lab::start(&["--rate", "100mbit", "--delay", "5ms", "--loss", "5%", "--seed", "7"])
    else {
        return;
    };
    let t = lab.transfer(4 << 20);
    let kernel = lab.interface_counters();
    let report = lab.stop();
    let ab = &report.a_to_b;
    // Binomial: the share lost lies within four standard deviations of 5%.
    let (n, p) = (ab.sent as f64, 0.05);
    let bound = 4.0 * (n * p * (1.0 - p)).sqrt();
    assert!((ab.loss as f64 - n * p).abs() < bound, "{ab:?}");
    // Every lost data segment is sent again (a lost SYN, FIN or bare ACK of A's may not be:
    // at most three of those).
    assert!(
        t.retransmitted + 3 >= ab.loss,
        "the kernel retransmitted {} segments, netem lost {} of A's packets",
        t.retransmitted,
        ab.loss
    );
    // What netem read is what the kernel sent into its device, and what it wrote is what the
    // other kernel received from its own, packet for packet.
    assert_eq!(kernel.a_tx, ab.read, "A's device sent {}; {ab:?}", kernel.a_tx);
    assert_eq!(kernel.b_rx, ab.written, "B's device received {}; {ab:?}", kernel.b_rx);
    assert_eq!(kernel.b_tx, report.b_to_a.read, "{report:?}");
    assert_eq!(kernel.a_rx, report.b_to_a.written, "{report:?}");
    for d in [&report.a_to_b, &report.b_to_a] {
        assert_eq!(d.sent, d.read, "every packet read is IPv4 and offered: {d:?}");
        assert_eq!(d.sent, d.delivered + d.dropped + d.in_flight, "{d:?}");
        assert_eq!((d.in_flight, d.write_errors, d.kernel_dropped), (0, 0, 0), "{d:?}");
        assert_eq!(d.written, d.delivered, "{d:?}");
    }
    eprintln!("{} of {} lost, {} retransmitted", ab.loss, ab.sent, t.retransmitted);
}

#[test]
fn the_rate_caps_the_kernel_goodput() {
    // 20 Mbit/s of IP packets: 1,500-byte packets carry 1,448 bytes of data (timestamps on).
    let Some(lab) = Lab::start(&["--rate", "20mbit", "--delay", "2ms", "--queue", "100"]) else {
        return;
    };
    let t = lab.transfer(8 << 20);
    let report = lab.stop();
    let cap = 20.0 * 1448.0 / 1500.0;
    assert!(
        t.goodput_mbps() <= cap * 1.01,
        "{:.2} Mbit/s over a cap of {cap:.2}",
        t.goodput_mbps()
    );
    assert!(t.goodput_mbps() >= cap * 0.5, "{:.2} Mbit/s, cap {cap:.2}", t.goodput_mbps());
    eprintln!("{:.2} Mbit/s at a cap of {cap:.2}; {report:?}", t.goodput_mbps());
}

// ---- the lab ----

/// Two namespaces and `ustack netem` between them.
struct Lab {
    netem: Child,
    stdout: mpsc::Receiver<String>,
    a: Netns,
    b: Netns,
}

/// One direction's line of netem's report.
#[derive(Debug, Default)]
struct Direction {
    kernel_dropped: u64,
    read: u64,
    sent: u64,
    delivered: u64,
    dropped: u64,
    loss: u64,
    in_flight: u64,
    written: u64,
    write_errors: u64,
}

#[derive(Debug)]
struct Report {
    a_to_b: Direction,
    b_to_a: Direction,
}

/// The kernel's counters of the two devices.
#[derive(Debug)]
struct Interfaces {
    a_tx: u64,
    a_rx: u64,
    b_tx: u64,
    b_rx: u64,
}

/// What one transfer measured.
#[derive(Debug)]
struct Transfer {
    bytes: u64,
    elapsed: Duration,
    min_rtt_ms: f64,
    retransmitted: u64,
}

impl Transfer {
    fn goodput_mbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.elapsed.as_secs_f64() / 1e6
    }
}

impl Lab {
    /// Makes the namespaces and starts netem with `args`, once it says it is up. `None`
    /// when the test is skipped.
    fn start(args: &[&str]) -> Option<Lab> {
        if !precondition(am_root(), "not root: namespaces and TUN devices need root")
            || !precondition(command_runs("ip", &["-V"]), "the `ip` command is missing")
            || !precondition(command_runs("ss", &["-V"]), "the `ss` command is missing")
            || !precondition(Path::new("/dev/net/tun").exists(), "/dev/net/tun is missing")
        {
            return None;
        }
        remove_stale_namespaces();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("{NETNS_PREFIX}{}-{n}", std::process::id());
        let (a, b) = (Netns::new(format!("{base}-a")), Netns::new(format!("{base}-b")));
        let mut netem = Command::new(env!("CARGO_BIN_EXE_ustack"))
            .args(["netem", "--a", &format!("{}:{A}", a.name), "--b", &format!("{}:{B}", b.name)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting ustack netem");
        let (up_tx, up_rx) = mpsc::channel();
        let stderr = netem.stderr.take().expect("piped stderr");
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("netem: {line}");
                if line.starts_with("ustack netem: up") {
                    let _ = up_tx.send(());
                }
            }
        });
        let (out_tx, out_rx) = mpsc::channel();
        let stdout = netem.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let mut lab = Lab { netem, stdout: out_rx, a, b };
        if up_rx.recv_timeout(IO_TIMEOUT).is_err() {
            let status = lab.netem.try_wait();
            panic!("ustack netem did not come up within {IO_TIMEOUT:?} ({status:?})");
        }
        Some(lab)
    }

    /// `bytes` from a kernel client in A to a kernel listener in B; the client reads its
    /// connection's TCP_INFO once the receiver has said it got everything.
    fn transfer(&self, bytes: u64) -> Transfer {
        let listener = in_netns(&self.b, || {
            TcpListener::bind((B_ADDR, PORT)).expect("binding the listener in B")
        });
        let receiver = thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accepting in B");
            s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
            s.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
            let mut buf = vec![0u8; 1 << 16];
            let mut got = 0u64;
            while got < bytes {
                let n = s.read(&mut buf).expect("reading in B");
                assert!(n > 0, "the sender closed after {got} of {bytes} bytes");
                got += n as u64;
            }
            s.write_all(b"!").expect("answering");
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).expect("reading to the FIN");
            assert!(rest.is_empty(), "{} bytes past the end", rest.len());
        });
        let client = in_netns(&self.a, || {
            let s = TcpStream::connect_timeout(&SocketAddr::from((B_ADDR, PORT)), IO_TIMEOUT)
                .expect("connecting from A to B");
            s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
            s.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
            s
        });
        let start = Instant::now();
        let chunk = vec![0x5au8; 1 << 16];
        let mut sent = 0u64;
        while sent < bytes {
            let n = chunk.len().min((bytes - sent) as usize);
            (&client).write_all(&chunk[..n]).expect("sending from A");
            sent += n as u64;
        }
        let mut answer = [0u8; 1];
        (&client).read_exact(&mut answer).expect("the receiver's answer");
        let elapsed = start.elapsed();
        let info = self.a.run("ss", &["-tin", "dst", &B_ADDR.to_string()]);
        assert!(info.status.success(), "ss: {}", describe(&info));
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        client.shutdown(Shutdown::Both).expect("closing in A");
        receiver.join().expect("the receiver failed");
        let field = |name: &str| {
            info.split_whitespace().find_map(|w| w.strip_prefix(name)).map(str::to_string)
        };
        let min_rtt_ms = field("minrtt:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no minrtt in ss's line: {info}"));
        // `retrans:CURRENT/TOTAL`, only once something was retransmitted.
        let retransmitted = field("retrans:")
            .and_then(|v| v.split('/').nth(1).and_then(|t| t.parse().ok()))
            .unwrap_or(0);
        Transfer { bytes, elapsed, min_rtt_ms, retransmitted }
    }

    /// The packet counters of both devices, once they have stopped moving (the last packets
    /// of the transfer may still be inside netem).
    fn interface_counters(&self) -> Interfaces {
        let read = |ns: &Netns, what: &str| -> u64 {
            let path = format!("/sys/class/net/netem0/statistics/{what}");
            let out = ns.run("cat", &[&path]);
            assert!(out.status.success(), "cat {path}: {}", describe(&out));
            String::from_utf8_lossy(&out.stdout).trim().parse().expect("a counter")
        };
        let snapshot = || Interfaces {
            a_tx: read(&self.a, "tx_packets"),
            a_rx: read(&self.a, "rx_packets"),
            b_tx: read(&self.b, "tx_packets"),
            b_rx: read(&self.b, "rx_packets"),
        };
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut last = snapshot();
        loop {
            thread::sleep(Duration::from_millis(300));
            let now = snapshot();
            if (now.a_tx, now.a_rx, now.b_tx, now.b_rx)
                == (last.a_tx, last.a_rx, last.b_tx, last.b_rx)
            {
                return now;
            }
            assert!(Instant::now() < deadline, "the counters never settled: {now:?}");
            last = now;
        }
    }

    /// Stops netem with SIGINT and reads its report.
    fn stop(mut self) -> Report {
        let pid = self.netem.id().to_string();
        let out = Command::new("kill").args(["-INT", &pid]).output().expect("kill -INT");
        assert!(out.status.success(), "kill -INT {pid}: {}", describe(&out));
        let deadline = Instant::now() + IO_TIMEOUT;
        let status = loop {
            if let Some(status) = self.netem.try_wait().expect("waiting for netem") {
                break status;
            }
            assert!(Instant::now() < deadline, "netem did not stop within {IO_TIMEOUT:?}");
            thread::sleep(Duration::from_millis(20));
        };
        let lines: Vec<String> = std::iter::from_fn(|| self.stdout.recv_timeout(IO_TIMEOUT).ok())
            .take_while(|l| !l.contains("removed"))
            .collect();
        assert!(status.success(), "netem exited with {status}; stdout: {lines:#?}");
        let direction = |prefix: &str| {
            let line = lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix} line in {lines:#?}"));
            parse_direction(line)
        };
        let report = Report { a_to_b: direction("a->b: "), b_to_a: direction("b->a: ") };
        // The devices went with netem.
        for ns in [&self.a, &self.b] {
            let out = ns.run("ip", &["-o", "link", "show"]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!text.contains("netem0"), "netem0 is still in {}: {text}", ns.name);
        }
        report
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.netem.try_wait().ok().flatten().is_none() {
            let _ = self.netem.kill();
            let _ = self.netem.wait();
        }
        // The namespaces drop next, after the process that used them.
    }
}

/// Reads `kernel dropped 0; read 5 (not IPv4 0, ...); link: sent 5, delivered 4, dropped 1
/// (loss 1, ...), ...; written 4, write errors 0`.
fn parse_direction(line: &str) -> Direction {
    let (kernel, line) = line.split_once("; ").unwrap_or_else(|| panic!("no ';' in {line}"));
    let kernel_dropped = kernel
        .strip_prefix("kernel dropped ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no kernel drops in {kernel}"));
    let words: Vec<&str> =
        line.split([' ', ',', ';', '(', ')']).filter(|w| !w.is_empty()).collect();
    let after = |key: &[&str]| -> u64 {
        let at = words
            .windows(key.len() + 1)
            .position(|w| &w[..key.len()] == key)
            .unwrap_or_else(|| panic!("no {key:?} in {line}"));
        words[at + key.len()].parse().unwrap_or_else(|_| panic!("{key:?} in {line}"))
    };
    Direction {
        kernel_dropped,
        read: after(&["read"]),
        sent: after(&["sent"]),
        delivered: after(&["delivered"]),
        dropped: after(&["dropped"]),
        loss: after(&["loss"]),
        in_flight: after(&["in", "flight"]),
        written: after(&["written"]),
        write_errors: after(&["write", "errors"]),
    }
}

// ---- namespaces and the environment ----

/// A network namespace made for the test, deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Netns {
        let out = Command::new("ip").args(["netns", "add", &name]).output().expect("ip netns add");
        assert!(out.status.success(), "ip netns add {name}: {}", describe(&out));
        let ns = Netns { name };
        // No IPv6: no router solicitation or the like crosses netem, only the test's traffic.
        let out = ns.run("sysctl", &["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        assert!(out.status.success(), "disabling IPv6: {}", describe(&out));
        let out = ns.run("sysctl", &["-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        assert!(out.status.success(), "disabling IPv6: {}", describe(&out));
        ns
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `program` in the namespace and waits for it.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {} {program}: {e}", self.name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        match Command::new("ip").args(["netns", "delete", &self.name]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("ip netns delete {}: {}", self.name, describe(&out)),
            Err(e) => eprintln!("ip netns delete {}: {e}", self.name),
        }
    }
}

/// Deletes the namespaces of earlier runs whose process is gone.
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(NETNS_PREFIX).and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
        {
            drop(Netns { name });
        }
    }
}

/// Runs `f` on a thread inside `ns`; sockets it makes belong to `ns`, whichever thread uses
/// them afterwards.
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = ns.path();
    thread::spawn(move || {
        enter_netns(&path).unwrap_or_else(|e| panic!("{e}"));
        f()
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
