//! `ustack tun ... forward` (tun2socks) end to end: a kernel client in one network namespace
//! reaches a kernel server in another through ustack in transparent mode, TCP and UDP, 100
//! concurrent flows of each checked byte for byte; directly through the host's sockets and
//! through a SOCKS5 proxy (Dante's `danted`).
//!
//! **Layout**, as a tun2socks host is set up:
//!
//! ```text
//!  namespace H (client + ustack)                           namespace S (server)
//!  kernel client ──route 10.99.0.0/24 (table 100)──▶ TUN ─▶ ustack forward
//!                                                            │ host sockets, SO_MARK 0x77
//!  ip rule: not fwmark 0x77 → table 100                      ▼ (main table)
//!  veth 10.99.0.1 ◀──────────────────────────────────────────────▶ veth 10.99.0.2: echo
//! ```
//!
//! The client dials the server's real address, 10.99.0.2; the kernel routes it into the TUN
//! (table 100), where ustack takes it although 10.99.0.2 is not its address; the relay's own
//! sockets carry the mark, so the main table sends them out of the veth. The server checks
//! who it saw: the kernel's veth address when ustack relays directly, the proxy's when
//! through SOCKS5.
//!
//! **Preconditions** as in `tun_interop.rs`: root and `ip` (and `danted` for the SOCKS5
//! test); without them the test prints why and returns, unless `CI` is set: then it fails.
//! Namespaces are created and deleted by the test (also when it panics); every wait and
//! socket operation is bounded.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ustack::device::tun::enter_netns;

#[path = "support/env.rs"]
mod env;
use env::{am_root, command_runs, describe, precondition};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const H_VETH: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// The server's and H's IPv6 addresses on the veth pair (the dual-stack labs).
const SERVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 2);
const H_VETH6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 1);
const PORT: u16 = 7;
const SOCKS_PORT: u16 = 1080;
const MARK: &str = "0x77";
const FLOWS: usize = 100;
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn forward_100_tcp_and_100_udp_flows_directly_through_host_sockets() {
    let Some(lab) = Lab::start(Setup::default()) else { return };
    let report = lab.run_flows();
    let peers = lab.server_peers();
    assert_eq!(peers, BTreeSet::from([H_VETH.into()]), "only the relay's host sockets");
    lab.check_ss();
    lab.finish(&format!("direct: {report}"));
}

/// Dual stack (`--addr6`, `--host-addr6`, the server's IPv6 network routed into the device
/// too): every other flow dials the server's IPv6 address; the relay takes both families on
/// its any-IP sockets and reaches the server in the family dialled, from host sockets of
/// that family.
#[test]
fn forward_ipv4_and_ipv6_flows_directly_through_host_sockets() {
    let Some(lab) = Lab::start(Setup { ipv6: true, ..Setup::default() }) else { return };
    let report = lab.run_flows();
    let peers = lab.server_peers();
    assert_eq!(peers, BTreeSet::from([H_VETH.into(), H_VETH6.into()]), "the relay's sockets");
    lab.check_ss();
    lab.finish(&format!("dual stack: {report}"));
}

/// With two queues (`--queues 2`), a stack on each: the kernel spreads the flows over the
/// queues, each shard relays the ones it gets (a flow on a shard that did not relay would be
/// refused), and `ustack ss --control` lists both shards' sockets (an any-IP listener on
/// each) and sums their counters.
#[test]
fn forward_100_tcp_and_100_udp_flows_over_two_queues_each_with_a_stack() {
    let Some(lab) = Lab::start(Setup { queues: 2, ..Setup::default() }) else { return };
    let report = lab.run_flows();
    assert_eq!(lab.server_peers(), BTreeSet::from([H_VETH.into()]));
    lab.check_ss();
    lab.finish(&format!("two queues: {report}"));
}

#[test]
fn forward_100_tcp_and_100_udp_flows_through_a_socks5_proxy() {
    if !precondition(command_runs("danted", &["-v"]), "danted (Dante SOCKS server) is missing") {
        return;
    }
    let Some(lab) = Lab::start(Setup { socks: true, ..Setup::default() }) else { return };
    let report = lab.run_flows();
    let peers = lab.server_peers();
    assert_eq!(peers, BTreeSet::from([SERVER.into()]), "every flow came from the proxy (in S)");
    lab.finish(&format!("SOCKS5: {report}"));
}

/// Through the proxy, dual stack: ustack reaches the proxy over IPv4 and asks for the IPv6
/// destinations by address (RFC 1928 ATYP 4, in CONNECT and in each UDP datagram's header);
/// the proxy reaches the server in the family asked for.
#[test]
fn forward_ipv4_and_ipv6_flows_through_a_socks5_proxy() {
    if !precondition(command_runs("danted", &["-v"]), "danted (Dante SOCKS server) is missing") {
        return;
    }
    let Some(lab) = Lab::start(Setup { socks: true, ipv6: true, ..Setup::default() }) else {
        return;
    };
    let report = lab.run_flows();
    let peers = lab.server_peers();
    assert_eq!(peers, BTreeSet::from([SERVER.into(), SERVER6.into()]), "all from the proxy");
    lab.finish(&format!("SOCKS5, dual stack: {report}"));
}

/// How a test sets its lab up.
#[derive(Clone, Copy)]
struct Setup {
    /// Relay through a SOCKS5 proxy (Dante, in S) instead of directly.
    socks: bool,
    /// The device's queues, a stack on each.
    queues: u16,
    /// Dual stack: IPv6 addresses on the veth pair and the device, the server's IPv6
    /// network routed into the device, and every other flow over IPv6.
    ipv6: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup { socks: false, queues: 1, ipv6: false }
    }
}

/// The two namespaces, the server, the proxy and ustack.
struct Lab {
    started: Instant,
    ustack: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    danted: Option<Child>,
    /// The addresses the echo server saw its clients come from.
    peers: Arc<Mutex<BTreeSet<IpAddr>>>,
    server_stop: Arc<AtomicBool>,
    setup: Setup,
    h: Netns,
    s: Netns,
}

impl Lab {
    fn start(setup: Setup) -> Option<Lab> {
        let Setup { socks, queues, ipv6 } = setup;
        if !precondition(am_root(), "not root: namespaces and TUN devices need root")
            || !precondition(command_runs("ip", &["-V"]), "the `ip` command is missing")
        {
            return None;
        }
        let h = Netns::new("h");
        let s = Netns::new("s");
        let (vh, vs) = (format!("vh{}", h.tag), format!("vs{}", h.tag));
        run_ok(
            "ip",
            &[
                "link", "add", &vh, "netns", &h.name, "type", "veth", "peer", "name", &vs, "netns",
                &s.name,
            ],
        );
        for (ns, dev, addr, addr6) in
            [(&h, &vh, "10.99.0.1/24", "fd00:99::1/64"), (&s, &vs, "10.99.0.2/24", "fd00:99::2/64")]
        {
            ns.ip(&["addr", "add", addr, "dev", dev]);
            // Without duplicate address detection, so the address is usable at once.
            ns.ip(&["addr", "add", addr6, "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
            ns.ip(&["link", "set", "lo", "up"]);
        }
        let peers = Arc::new(Mutex::new(BTreeSet::new()));
        let server_stop = Arc::new(AtomicBool::new(false));
        start_echo_server(&s, Arc::clone(&peers), Arc::clone(&server_stop));
        let danted = socks.then(|| start_danted(&s));

        let dev = format!("uf{}", h.tag);
        let control = control_path(&h);
        let control_arg = control.to_string_lossy().into_owned();
        let mut args = vec![
            "tun",
            "--dev",
            &dev,
            "--addr",
            "10.98.0.2/24",
            "--host-addr",
            "10.98.0.1/24",
            "--control",
            &control_arg,
            "forward",
            "--mark",
            MARK,
        ];
        let queues_arg = queues.to_string();
        if queues > 1 {
            args.splice(0..1, ["tun", "--queues", &queues_arg]);
        }
        if ipv6 {
            let at = args.iter().position(|a| *a == "--control").expect("--control");
            let v6 = ["--addr6", "fd00:98::2/64", "--host-addr6", "fd00:98::1/64"];
            args.splice(at..at, v6);
        }
        let proxy = format!("{SERVER}:{SOCKS_PORT}");
        if socks {
            args.extend(["--socks5", &proxy]);
        }
        let mut ustack = Command::new("ip")
            .args(["netns", "exec", &h.name, env!("CARGO_BIN_EXE_ustack")])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting ustack");
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        collect(ustack.stdout.take().expect("stdout"), Arc::clone(&out));
        collect(ustack.stderr.take().expect("stderr"), Arc::clone(&err));
        let lab = Lab {
            started: Instant::now(),
            ustack,
            out,
            err,
            danted,
            peers,
            server_stop,
            setup,
            h,
            s,
        };
        lab.wait_for("ustack's device", || {
            lab.h.run("ip", &["link", "show", &dev]).status.success().then_some(())
        });
        // Everything to 10.99.0.0/24 that is not the relay's own goes into the device.
        lab.h.ip(&["route", "add", "10.99.0.0/24", "dev", &dev, "table", "100"]);
        lab.h.ip(&["rule", "add", "not", "fwmark", MARK, "table", "100", "pref", "100"]);
        if ipv6 {
            lab.h.ip(&["-6", "route", "add", "fd00:99::/64", "dev", &dev, "table", "100"]);
            lab.h.ip(&["-6", "rule", "add", "not", "fwmark", MARK, "table", "100", "pref", "100"]);
            // The veths' link-local addresses go through duplicate address detection (a
            // second or two), and neighbour discovery on the veth waits for it: a flow's
            // first datagram would wait that long for the server's link address.
            for ns in [&lab.h, &lab.s] {
                lab.wait_for("IPv6 duplicate address detection", || {
                    let out = ns.run("ip", &["-6", "addr", "show", "tentative"]);
                    (out.status.success() && out.stdout.is_empty()).then_some(())
                });
            }
        }
        if socks {
            lab.wait_for("danted listening", || {
                let ss = lab.s.run("ss", &["-ltn"]);
                String::from_utf8_lossy(&ss.stdout)
                    .contains(&format!(":{SOCKS_PORT}"))
                    .then_some(())
            });
        }
        Some(lab)
    }

    /// 100 TCP echo flows and 100 UDP echo flows at once, from the kernel in H to the
    /// server's address (in a dual-stack lab, every other flow to its IPv6 address); returns
    /// a summary.
    fn run_flows(&self) -> String {
        let started = Instant::now();
        let ipv6 = self.setup.ipv6;
        let server = move |i: usize| -> SocketAddr {
            if ipv6 && i % 2 == 1 { (SERVER6, PORT).into() } else { (SERVER, PORT).into() }
        };
        let (tcp, udp) = in_netns(&self.h, move || {
            let tcp: Vec<_> =
                (0..FLOWS).map(|i| thread::spawn(move || tcp_flow(i, server(i)))).collect();
            let udp: Vec<_> =
                (0..FLOWS).map(|i| thread::spawn(move || udp_flow(i, server(i)))).collect();
            let join = |v: Vec<thread::JoinHandle<Result<usize, String>>>| {
                v.into_iter().map(|t| t.join().expect("a flow thread panicked")).collect::<Vec<_>>()
            };
            (join(tcp), join(udp))
        });
        let failed: Vec<&String> =
            tcp.iter().chain(udp.iter()).filter_map(|r| r.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "{} of {} flows failed: {failed:#?}\nustack stderr:\n{}",
            failed.len(),
            2 * FLOWS,
            self.stderr()
        );
        let tcp_bytes: usize = tcp.iter().flatten().sum();
        let udp_bytes: usize = udp.iter().flatten().sum();
        // ustack printed one line per TCP connection, with the bytes both ways.
        let lines = self.wait_for("ustack's line for every TCP flow", || {
            let out = String::from_utf8_lossy(&self.out.lock().expect("stdout")).into_owned();
            let lines: Vec<String> = out
                .lines()
                .filter(|l| l.starts_with("forward: tcp "))
                .map(str::to_string)
                .collect();
            (lines.len() >= FLOWS).then_some(lines)
        });
        let relayed: usize = lines
            .iter()
            .map(|l| {
                let n = l
                    .split(": ")
                    .nth(2)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse::<usize>().ok());
                n.unwrap_or_else(|| panic!("no byte count in {l:?}"))
            })
            .sum();
        assert_eq!(relayed, tcp_bytes, "ustack relayed every byte up");
        format!(
            "{FLOWS} TCP flows ({tcp_bytes} bytes each way) and {FLOWS} UDP flows ({udp_bytes} bytes each way) in {:.2?}",
            started.elapsed()
        )
    }

    /// `ustack ss` on the relay while a connection through it is open: the connection's
    /// row with the dialled address as its local one, its internals (`-i`), the any-IP
    /// listener on every port, and the counters by their Linux names (`-s`).
    fn check_ss(&self) {
        let control = control_path(&self.h);
        let held = in_netns(&self.h, || {
            let mut s = TcpStream::connect_timeout(&SocketAddr::from((SERVER, PORT)), IO_TIMEOUT)
                .expect("a connection through the relay");
            s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
            s.write_all(b"held open").expect("write");
            let mut buf = [0u8; 9];
            s.read_exact(&mut buf).expect("echo");
            s
        });
        let local = held.local_addr().expect("local address");
        let ss = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_ustack"))
                .args(["ss", "--control"])
                .arg(&control)
                .args(args)
                .output()
                .expect("running ustack ss");
            assert!(out.status.success(), "ustack ss {args:?}: {}", describe(&out));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let table = ss(&["-t", "-i", "-e"]);
        let lines: Vec<&str> = table.lines().collect();
        let row = lines
            .iter()
            .position(|l| l.contains(&format!("{SERVER}:{PORT}")) && l.contains(&local.to_string()))
            .unwrap_or_else(|| panic!("no row for {local} -> {SERVER}:{PORT} in\n{table}"));
        assert!(lines[row].starts_with("ESTAB"), "{table}");
        let internals = lines.get(row + 1).copied().unwrap_or_default();
        assert!(
            internals.starts_with("\t ")
                && internals.contains(" rtt:")
                && internals.contains(" bytes_acked:9 "),
            "{table}"
        );
        let listeners =
            lines.iter().filter(|l| l.starts_with("LISTEN") && l.contains("0.0.0.0:*")).count();
        assert_eq!(
            listeners,
            usize::from(self.setup.queues),
            "an any-IP listener per shard: {table}"
        );
        let nstat = ss(&["-s"]);
        assert!(nstat.starts_with("#ustack\n"), "{nstat}");
        let passive: u64 = nstat
            .lines()
            .find_map(|l| l.strip_prefix("TcpPassiveOpens"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no TcpPassiveOpens in\n{nstat}"));
        assert_eq!(passive, FLOWS as u64 + 1, "{nstat}");
        drop(held);
    }

    fn server_peers(&self) -> BTreeSet<IpAddr> {
        self.peers.lock().expect("peers").clone()
    }

    /// Stops ustack with SIGTERM (by its PID) and checks it exits 0 with no error.
    fn finish(mut self, what: &str) {
        let pid = self.ustack.id().to_string();
        run_ok("kill", &["-TERM", &pid]);
        let deadline = Instant::now() + IO_TIMEOUT;
        let status = loop {
            if let Some(s) = self.ustack.try_wait().expect("waiting for ustack") {
                break s;
            }
            assert!(Instant::now() < deadline, "ustack did not stop:\n{}", self.stderr());
            thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "ustack exited with {status}:\n{}", self.stderr());
        let err = self.stderr();
        assert!(!err.contains("routing loop"), "{err}");
        println!("{what}; {:.2?} in all", self.started.elapsed());
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().expect("stderr")).into_owned()
    }

    fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; ustack stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.ustack.kill();
        let _ = self.ustack.wait();
        if let Some(d) = &mut self.danted {
            let _ = d.kill();
            let _ = d.wait();
        }
        self.server_stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(control_path(&self.h));
        // The namespaces go when h and s drop.
    }
}

/// SplitMix64: each flow's seeded payload.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// One TCP flow: a seeded payload of 1 B to 128 KiB written (then FIN) while the echo is
/// read until the server's FIN; compared byte for byte.
fn tcp_flow(i: usize, server: SocketAddr) -> Result<usize, String> {
    let len = 1 + (i * 1327) % (128 * 1024);
    let data = payload(0x7cb0 + i as u64, len);
    let s = TcpStream::connect_timeout(&server, IO_TIMEOUT)
        .map_err(|e| format!("tcp {i}: connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let sent = data.clone();
    let writer =
        thread::spawn(move || w.write_all(&sent).and_then(|()| w.shutdown(Shutdown::Write)));
    let mut got = Vec::with_capacity(len);
    (&s).read_to_end(&mut got)
        .map_err(|e| format!("tcp {i}: read after {} bytes: {e}", got.len()))?;
    writer.join().expect("writer").map_err(|e| format!("tcp {i}: write: {e}"))?;
    if got != data {
        return Err(format!("tcp {i}: sent {len} bytes, got {} back, different", got.len()));
    }
    Ok(len)
}

/// One UDP flow: 20 datagrams of 1 to 1400 bytes, each sent and its echo awaited (sent
/// again after a second without one, at most 5 times), compared byte for byte. A late echo
/// of an earlier datagram (sent again when its echo was slow) is passed over.
fn udp_flow(i: usize, server: SocketAddr) -> Result<usize, String> {
    let any: SocketAddr = if server.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let u = UdpSocket::bind(any).map_err(|e| e.to_string())?;
    u.connect(server).map_err(|e| e.to_string())?;
    u.set_read_timeout(Some(Duration::from_secs(1))).map_err(|e| e.to_string())?;
    let mut total = 0;
    let mut buf = vec![0u8; 2048];
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for k in 0..20 {
        let len = 1 + (i * 31 + k * 97) % 1400;
        let data = payload(((i as u64) << 8) | k as u64, len);
        let mut tries = 0;
        loop {
            u.send(&data).map_err(|e| format!("udp {i}/{k}: send: {e}"))?;
            match u.recv(&mut buf) {
                Ok(n) if buf[..n] == data[..] => break,
                Ok(n) if sent.iter().any(|d| buf[..n] == d[..]) => tries += 1,
                Ok(n) => {
                    return Err(format!("udp {i}/{k}: sent {len} bytes, got {n} different ones"));
                }
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
                        && tries < 5 =>
                {
                    tries += 1
                }
                Err(e) => return Err(format!("udp {i}/{k}: no echo after {tries} tries: {e}")),
            }
        }
        total += len;
        sent.push(data);
    }
    Ok(total)
}

/// TCP and UDP echo on 10.99.0.2:7 and [fd00:99::2]:7 in S, noting every client address.
fn start_echo_server(s: &Netns, peers: Arc<Mutex<BTreeSet<IpAddr>>>, stop: Arc<AtomicBool>) {
    for server in [IpAddr::from(SERVER), IpAddr::from(SERVER6)] {
        start_echo_server_on(s, (server, PORT).into(), Arc::clone(&peers), Arc::clone(&stop));
    }
}

fn start_echo_server_on(
    s: &Netns,
    at: SocketAddr,
    peers: Arc<Mutex<BTreeSet<IpAddr>>>,
    stop: Arc<AtomicBool>,
) {
    let (tcp, udp) = in_netns(s, move || {
        let t = TcpListener::bind(at).expect("binding the TCP echo server");
        let u = UdpSocket::bind(at).expect("binding the UDP echo server");
        (t, u)
    });
    tcp.set_nonblocking(true).expect("nonblocking listener");
    let p = Arc::clone(&peers);
    let st = Arc::clone(&stop);
    thread::spawn(move || {
        while !st.load(Ordering::SeqCst) {
            match tcp.accept() {
                Ok((mut c, peer)) => {
                    p.lock().expect("peers").insert(peer.ip());
                    let _ = c.set_nonblocking(false);
                    let _ = c.set_read_timeout(Some(IO_TIMEOUT));
                    thread::spawn(move || {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = c.read(&mut buf) {
                            if n == 0 || c.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = c.shutdown(Shutdown::Write);
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(2))
                }
                Err(_) => break,
            }
        }
    });
    udp.set_read_timeout(Some(Duration::from_millis(100))).expect("udp timeout");
    thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::SeqCst) {
            if let Ok((n, from)) = udp.recv_from(&mut buf) {
                peers.lock().expect("peers").insert(from.ip());
                let _ = udp.send_to(&buf[..n], from);
            }
        }
    });
}

/// Dante in S on 10.99.0.2:1080: CONNECT and UDP ASSOCIATE for anyone, no authentication.
fn start_danted(s: &Netns) -> Child {
    let conf = std::env::temp_dir().join(format!("ustack-danted-{}.conf", s.tag));
    std::fs::write(
        &conf,
        format!(
            "logoutput: stderr\ninternal: {SERVER} port = {SOCKS_PORT}\nexternal: {SERVER}\n\
             external: {SERVER6}\n\
             clientmethod: none\nsocksmethod: none\nuser.privileged: root\nuser.unprivileged: nobody\n\
             client pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n\
             socks pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate udpreply }}\n\
             socks pass {{ from: 0.0.0.0/0 to: ::/0 command: connect udpassociate udpreply }}\n\
             socks pass {{ from: ::/0 to: 0.0.0.0/0 command: udpreply }}\n\
             socks pass {{ from: ::/0 to: ::/0 command: udpreply }}\n"
        ),
    )
    .expect("writing danted's configuration");
    let pid = std::env::temp_dir().join(format!("ustack-danted-{}.pid", s.tag));
    Command::new("ip")
        .args(["netns", "exec", &s.name, "danted", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(&pid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting danted")
}

// ---- namespaces and helpers (the conventions of tun_interop.rs) ----

const NETNS_PREFIX: &str = "ustfw-";

/// A namespace made with `ip netns add`, deleted on drop.
struct Netns {
    name: String,
    /// `<pid>x<n>`: numbers this process's namespaces and devices.
    tag: String,
}

impl Netns {
    fn new(role: &str) -> Netns {
        remove_stale_namespaces();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}x{n}", std::process::id());
        let name = format!("{NETNS_PREFIX}{}-{n}{role}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        Netns { name, tag }
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    fn ip(&self, args: &[&str]) {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ok("ip", &full);
    }

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
        if let Ok(out) = Command::new("ip").args(["netns", "delete", &self.name]).output()
            && !out.status.success()
        {
            eprintln!("ip netns delete {}: {}", self.name, describe(&out));
        }
    }
}

/// Deletes namespaces of earlier runs that were killed before their guard ran.
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(NETNS_PREFIX).and_then(|r| r.split('-').next()) else {
            continue;
        };
        if !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = Command::new("ip").args(["netns", "delete", &name]).output();
        }
    }
}

/// Runs `f` on a thread that entered `ns`; sockets it makes live there.
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = ns.path();
    thread::spawn(move || {
        enter_netns(&path).unwrap_or_else(|e| panic!("{e}"));
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().expect("output buffer").extend_from_slice(&buf[..n]);
        }
    });
}

/// The control socket of the ustack running in `h`.
fn control_path(h: &Netns) -> PathBuf {
    std::env::temp_dir().join(format!("ustack-fw-{}.sock", h.tag))
}

fn run_ok(program: &str, args: &[&str]) {
    let out =
        Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {}: {}", args.join(" "), describe(&out));
}
