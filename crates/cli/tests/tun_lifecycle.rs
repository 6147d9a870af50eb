//! Starting and stopping `ustack tun`: stop signals in the middle of traffic, and what it
//! refuses to touch at start (a `--control` path that is not its socket, an existing
//! persistent TUN given as `--dev`).
//!
//! **Layout.** As in `tun_interop.rs`: each test (each lane of the cycling test) makes its own
//! network namespace (`ustl-<pid>-<n>`) and runs `ip netns exec NS ustack tun --dev
//! ul<pid>x<n> ...` in it; kernel sockets are made on threads that entered the namespace.
//! Stopping is by `kill -INT` / `kill -TERM`, as Ctrl-C or a service manager does.
//!
//! **Bounds.** Every wait and every kernel socket operation is bounded; a ustack that does
//! not start, stop or refuse in time fails the test with its stderr.
//!
//! **Preconditions.** Root and `ip`. Without them a test prints why and returns, unless the
//! environment variable `CI` is set and non-empty: then it fails.

// The tests report what they skipped and how long they took.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ustack::device::tun::enter_netns;

#[path = "support/env.rs"]
mod env;
use env::{am_root, command_runs, describe, precondition};

/// The kernel's side of the TUN, in every namespace.
const HOST: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 1);
/// The stack's address.
const STACK: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 2);
/// In the TUN's prefix, owned by nobody (the namespace does not forward): a SYN to it is
/// never answered, so `connect` to it stays in SYN-SENT.
const BLACK_HOLE: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 3);
/// Bound on ustack starting, refusing or stopping.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound on each kernel socket operation of the traffic clients: short, so they notice the
/// end of a cycle quickly.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(300);

// ---- stop signals in the middle of traffic ----

/// The services of `ustack tun --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Echo,
    Discard,
    Source,
    UdpEcho,
    Http,
    Hold,
    Connect,
}

impl Service {
    const ALL: [Service; 7] = [
        Service::Echo,
        Service::Discard,
        Service::Source,
        Service::UdpEcho,
        Service::Http,
        Service::Hold,
        Service::Connect,
    ];

    fn index(self) -> usize {
        Service::ALL.iter().position(|&s| s == self).expect("listed")
    }

    /// Its command-line arguments; `target` is where `connect` connects.
    fn args(self, target: SocketAddr) -> Vec<String> {
        let words = match self {
            Service::Echo => vec!["echo", "--port", "7"],
            Service::Discard => vec!["discard", "--port", "9"],
            // More than a cycle moves: every connection is cut mid-transfer.
            Service::Source => vec!["source", "--port", "19", "--bytes", "1000000000"],
            Service::UdpEcho => vec!["udp-echo", "--port", "7"],
            Service::Http => vec!["http", "--port", "80"],
            Service::Hold => vec!["hold", "--port", "7"],
            Service::Connect => return vec!["connect".into(), target.to_string()],
        };
        words.into_iter().map(String::from).collect()
    }

    /// The kernel-side clients run against it (`connect` has a server instead, or nothing).
    fn clients(self) -> Vec<Client> {
        match self {
            Service::Echo => vec![echo_client, echo_client, churn_client::<7>],
            Service::Discard => vec![discard_client, discard_client, churn_client::<9>],
            Service::Source => vec![source_client, source_client, churn_client::<19>],
            Service::UdpEcho => vec![udp_client, udp_client, udp_client],
            Service::Http => vec![http_client, http_client, churn_client::<80>],
            Service::Hold => vec![hold_client, churn_client::<7>, churn_client::<7>],
            Service::Connect => vec![],
        }
    }
}

/// A kernel-side client: runs until the flag is set, counts into the tally; seeded.
type Client = fn(&AtomicBool, &Tally, u64);

/// What the kernel-side clients got done, per service: evidence that the stops really came
/// in the middle of traffic.
#[derive(Default)]
struct Tally {
    cycles: [AtomicU64; 7],
    /// TCP connections established (kernel side), UDP exchanges answered.
    exchanges: [AtomicU64; 7],
    /// Bytes moved either way.
    bytes: [AtomicU64; 7],
    /// Echoed data that differed from what was sent.
    corrupt: AtomicU64,
}

impl Tally {
    fn add(counter: &[AtomicU64; 7], service: Service, n: u64) {
        counter[service.index()].fetch_add(n, Ordering::Relaxed);
    }
}

/// 200 runs of `ustack tun` spread over all seven services, four namespaces at a time; in
/// each, kernel clients connect, get accepted and move data (TCP and UDP; as the server of
/// `connect`, or a black hole that leaves it in SYN-SENT) while SIGINT or SIGTERM arrives at
/// a seeded random moment, with a grace period from 0 to 0.5 s. Every run must stop cleanly:
/// exit status 0, the device removed, no thread panicked. (Before the fix, the accept and
/// receive threads panicked on handles the shutdown had released, and ustack still exited
/// 0.)
#[test]
fn stop_signals_mid_traffic_never_panic_over_200_cycles_of_every_service() {
    const LANES: usize = 4;
    const CYCLES: usize = 200;
    const SEED: u64 = 0x5709_c1c1_e500;
    if !root_and_ip()
        || !precondition(command_runs("kill", &["-l"]), "the `kill` command is missing")
    {
        return;
    }
    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let lanes: Vec<JoinHandle<Result<(), String>>> = (0..LANES)
        .map(|lane| {
            let tally = Arc::clone(&tally);
            thread::spawn(move || {
                let ns = Netns::create();
                for k in (lane..CYCLES).step_by(LANES) {
                    let seed = SEED ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    let service = Service::ALL[k % Service::ALL.len()];
                    run_cycle(&ns, lane, k, service, seed, &tally)
                        .map_err(|e| format!("cycle {k} ({service:?}, seed {seed:#x}): {e}"))?;
                }
                Ok(())
            })
        })
        .collect();
    let failures: Vec<String> = lanes
        .into_iter()
        .filter_map(|l| l.join().unwrap_or_else(|p| std::panic::resume_unwind(p)).err())
        .collect();
    assert!(failures.is_empty(), "{} lane(s) failed:\n{}", failures.len(), failures.join("\n\n"));

    let mut summary = Vec::new();
    for s in Service::ALL {
        let i = s.index();
        let (cycles, exchanges, bytes) = (
            tally.cycles[i].load(Ordering::Relaxed),
            tally.exchanges[i].load(Ordering::Relaxed),
            tally.bytes[i].load(Ordering::Relaxed),
        );
        assert!(cycles >= 28, "{s:?} ran {cycles} cycles");
        assert!(
            exchanges > 0 && bytes > 0,
            "{s:?}: no traffic ({exchanges} exchanges, {bytes} bytes)"
        );
        summary.push(format!("{s:?} {cycles} cycles, {exchanges} exchanges, {bytes} bytes"));
    }
    assert_eq!(tally.corrupt.load(Ordering::Relaxed), 0, "echoes that differed from the data");
    println!(
        "stop_signals_mid_traffic: {CYCLES} cycles in {:.1?}: {}",
        started.elapsed(),
        summary.join("; ")
    );
}

/// One run: start, wait for the service, start the clients, let them run a seeded while,
/// signal, check the stop.
fn run_cycle(
    ns: &Netns,
    lane: usize,
    k: usize,
    service: Service,
    seed: u64,
    tally: &Arc<Tally>,
) -> Result<(), String> {
    let mut rng = SplitMix64(seed);
    let signal = if k.is_multiple_of(2) { "INT" } else { "TERM" };
    let grace = ["0", "0.05", "0.2", "0.5"][rng.below(4)];
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();

    // `connect`: half the runs reach a kernel server (mid-transfer at the stop), half a
    // black hole (mid-connect).
    let to_server = rng.below(2) == 0;
    let target = if to_server { SocketAddr::from((HOST, 5001)) } else { (BLACK_HOLE, 5001).into() };
    if service == Service::Connect && to_server {
        let listener = in_netns(ns, || TcpListener::bind((Ipv4Addr::UNSPECIFIED, 5001)))
            .map_err(|e| format!("kernel listener: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let (stop, tally) = (Arc::clone(&stop), Arc::clone(tally));
        clients.push(spawn_in(ns, move || kernel_server(&listener, &stop, &tally)));
    }

    let extra = ["--grace", grace];
    let mut ustack = Ustack::start(ns, lane, &service.args(target), &extra);
    let (proto, port, row) = match service {
        Service::Echo | Service::Hold => ("t l", 7, None),
        Service::Discard => ("t l", 9, None),
        Service::Source => ("t l", 19, None),
        Service::UdpEcho => ("u l", 7, None),
        Service::Http => ("t l", 80, None),
        // Connected: ESTAB, or FIN-WAIT already (its stdin is empty, so it half-closes).
        Service::Connect if to_server => ("t", 0, Some(&["ESTAB", "FIN-WAIT-1", "FIN-WAIT-2"][..])),
        Service::Connect => ("t", 0, Some(&["SYN-SENT"][..])),
    };
    ustack.wait_for("the service to be up", |ustack| {
        let table = ustack.query(&format!("ss {proto}"));
        let up = match row {
            None => {
                let local = format!("0.0.0.0:{port}");
                table.lines().any(|l| l.split_whitespace().nth(3) == Some(local.as_str()))
            }
            Some(states) => table
                .lines()
                .any(|l| l.split_whitespace().next().is_some_and(|s| states.contains(&s))),
        };
        up.then_some(())
    })?;
    tally.cycles[service.index()].fetch_add(1, Ordering::Relaxed);

    for f in service.clients() {
        let (stop, tally) = (Arc::clone(&stop), Arc::clone(tally));
        let seed = rng.next();
        clients.push(spawn_in(ns, move || f(&stop, &tally, seed)));
    }

    // A fifth of the stops come at once (connects and accepts in flight), the rest after up
    // to 150 ms of traffic.
    if rng.below(5) != 0 {
        thread::sleep(Duration::from_millis(rng.below(150) as u64));
    }
    ustack.signal(signal);
    stop.store(true, Ordering::SeqCst);
    let status = ustack.wait_exit();
    for c in clients {
        c.join().map_err(|_| "a kernel-side client panicked".to_string())?;
    }
    let status = status?;
    let err = ustack.stderr();
    if err.contains("panicked") || !status.success() || !err.contains("removed") {
        return Err(format!("SIG{signal} with --grace {grace}: {status}; stderr:\n{err}"));
    }
    Ok(())
}

/// Connects to the stack's `port` with the short client timeouts.
fn connect(port: u16) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&SocketAddr::from((STACK, port)), CLIENT_TIMEOUT).ok()?;
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    s.set_write_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    Some(s)
}

/// Runs `session` on connection after connection to `port` until `stop`; each call moves
/// some bytes (returned) or fails, which ends the connection.
fn tcp_loop(
    service: Service,
    port: u16,
    stop: &AtomicBool,
    tally: &Tally,
    mut session: impl FnMut(&mut TcpStream) -> io::Result<u64>,
) {
    while !stop.load(Ordering::SeqCst) {
        let Some(mut s) = connect(port) else {
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        Tally::add(&tally.exchanges, service, 1);
        while !stop.load(Ordering::SeqCst) {
            match session(&mut s) {
                Ok(0) | Err(_) => break,
                Ok(n) => Tally::add(&tally.bytes, service, n),
            }
        }
    }
}

/// 8 KiB out, the same 8 KiB back, checked.
fn echo_client(stop: &AtomicBool, tally: &Tally, seed: u64) {
    let mut rng = SplitMix64(seed);
    let mut back = vec![0u8; 8192];
    tcp_loop(Service::Echo, 7, stop, tally, |s| {
        let data = rng.bytes(8192);
        s.write_all(&data)?;
        s.read_exact(&mut back)?;
        if back != data {
            tally.corrupt.fetch_add(1, Ordering::Relaxed);
        }
        Ok(16_384)
    });
}

/// 64 KiB at a time into discard.
fn discard_client(stop: &AtomicBool, tally: &Tally, _seed: u64) {
    let chunk = vec![0x42u8; 65_536];
    tcp_loop(Service::Discard, 9, stop, tally, |s| s.write_all(&chunk).map(|()| 65_536));
}

/// Reads source's stream, whatever arrives.
fn source_client(stop: &AtomicBool, tally: &Tally, _seed: u64) {
    let mut buf = vec![0u8; 65_536];
    tcp_loop(Service::Source, 19, stop, tally, |s| s.read(&mut buf).map(|n| n as u64));
}

/// GET / again and again on one keep-alive connection, each response read whole.
fn http_client(stop: &AtomicBool, tally: &Tally, _seed: u64) {
    tcp_loop(Service::Http, 80, stop, tally, |s| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: ustack\r\n\r\n")?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other("no content-length"))?;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)?;
        Ok((head.len() + len) as u64)
    });
}

/// Opens up to 8 connections that send 1 KiB each and then stay open, unread by hold.
fn hold_client(stop: &AtomicBool, tally: &Tally, _seed: u64) {
    let mut held = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if held.len() < 8
            && let Some(mut s) = connect(7)
        {
            Tally::add(&tally.exchanges, Service::Hold, 1);
            if s.write_all(&[0x17; 1024]).is_ok() {
                Tally::add(&tally.bytes, Service::Hold, 1024);
            }
            held.push(s);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Connects and closes at once, over and over: handshakes in flight and connections waiting
/// in the accept queue at the stop.
fn churn_client<const PORT: u16>(stop: &AtomicBool, _tally: &Tally, _seed: u64) {
    while !stop.load(Ordering::SeqCst) {
        if connect(PORT).is_none() {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Datagrams of 0 to 3,000 bytes (the larger ones fragmented) to udp-echo, each echo awaited
/// briefly.
fn udp_client(stop: &AtomicBool, tally: &Tally, seed: u64) {
    let mut rng = SplitMix64(seed);
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else { return };
    if sock.connect((STACK, 7)).is_err() || sock.set_read_timeout(Some(CLIENT_TIMEOUT)).is_err() {
        return;
    }
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let len = rng.below(3001);
        let msg = rng.bytes(len);
        if sock.send(&msg).is_err() {
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            Tally::add(&tally.exchanges, Service::UdpEcho, 1);
            Tally::add(&tally.bytes, Service::UdpEcho, (msg.len() + n) as u64);
        }
    }
}

/// The server `connect` reaches: accepts, and sends 64 KiB chunks on every connection until
/// the cycle ends (ustack's stdin is empty: it half-closes at once and keeps reading).
fn kernel_server(listener: &TcpListener, stop: &AtomicBool, tally: &Tally) {
    let mut conns: Vec<TcpStream> = Vec::new();
    let chunk = vec![0x5au8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        if let Ok((s, _)) = listener.accept() {
            let ok = s.set_nonblocking(false).is_ok()
                && s.set_write_timeout(Some(CLIENT_TIMEOUT)).is_ok();
            if ok {
                Tally::add(&tally.exchanges, Service::Connect, 1);
                conns.push(s);
            }
        }
        if conns.is_empty() {
            thread::sleep(Duration::from_millis(5));
        }
        conns.retain_mut(|s| match s.write(&chunk) {
            Ok(n) => {
                Tally::add(&tally.bytes, Service::Connect, n as u64);
                true
            }
            Err(_) => false,
        });
    }
}

// ---- what `ustack tun` refuses at start ----

/// A `--control` path holding a regular file, a directory or a symbolic link is refused with
/// a clear error, before any device is made, and left exactly as it was. (Before the fix,
/// the file was deleted.)
#[test]
fn control_path_that_is_not_a_socket_is_refused_and_left_alone() {
    if !root_and_ip() {
        return;
    }
    let ns = Netns::create();
    let base = format!("/tmp/{}", ns.name);
    let file = PathBuf::from(format!("{base}.file"));
    let dir = PathBuf::from(format!("{base}.dir"));
    let link = PathBuf::from(format!("{base}.link"));
    std::fs::write(&file, "precious\n").expect("writing the file");
    std::fs::create_dir_all(&dir).expect("making the directory");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&file, &link).expect("making the link");
    let cleanup = Cleanup(vec![file.clone(), dir.clone(), link.clone()]);

    for (path, kind) in
        [(&file, "a regular file"), (&dir, "a directory"), (&link, "a symbolic link")]
    {
        let mut ustack = Ustack::start_with_control(
            &ns,
            0,
            path,
            &["echo".into(), "--port".into(), "7".into()],
            &[],
        );
        let status = ustack.wait_exit().unwrap_or_else(|e| panic!("--control {kind}: {e}"));
        let err = ustack.stderr();
        assert_eq!(status.code(), Some(1), "--control {kind}: {status}; stderr:\n{err}");
        let want = format!("--control {} exists and is {kind}, not a Unix socket", path.display());
        assert!(err.contains(&want), "stderr lacks {want:?}:\n{err}");
        assert!(!err.contains(" up, "), "ustack started with --control {kind}:\n{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).expect("the file is still there"), "precious\n");
    assert!(std::fs::symlink_metadata(&dir).expect("the directory").is_dir());
    assert!(std::fs::symlink_metadata(&link).expect("the link").file_type().is_symlink());
    assert!(!ns.has_link(&Ustack::dev_name(0)), "a device was made though --control was refused");
    drop(cleanup);
}

/// With `--queues 2`, `--pcap` (one queue's packets) is refused before any device is made (no
/// root needed to see it).
#[test]
fn queues_refuse_pcap_before_making_a_device() {
    let out = Command::new(env!("CARGO_BIN_EXE_ustack"))
        .args(["tun", "--dev", "ustkq0", "--addr", "10.97.0.2/24", "--host-addr", "10.97.0.1/24"])
        .args(["--queues", "2", "--pcap", "/nonexistent/q.pcap", "echo", "--port", "7"])
        .stdin(Stdio::null())
        .output()
        .expect("running ustack");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}; stderr:\n{err}", out.status);
    let want = "--queues 2: --pcap captures one device queue";
    assert!(err.contains(want), "stderr lacks {want:?}:\n{err}");
}

/// A control socket something listens on is refused (the listener keeps it); a stale one,
/// left by a process that is gone, is replaced, answers, and is removed at the stop.
#[test]
fn control_socket_in_use_is_refused_and_a_stale_one_is_replaced() {
    if !root_and_ip() {
        return;
    }
    let ns = Netns::create();
    let path = PathBuf::from(format!("/tmp/{}.sock", ns.name));
    let _ = std::fs::remove_file(&path);
    let cleanup = Cleanup(vec![path.clone()]);
    let service = ["echo".to_string(), "--port".into(), "7".into()];

    let live = UnixListener::bind(&path).expect("binding a Unix listener");
    let mut ustack = Ustack::start_with_control(&ns, 0, &path, &service, &[]);
    let status = ustack.wait_exit().expect("ustack refusing a socket in use");
    let err = ustack.stderr();
    assert_eq!(status.code(), Some(1), "{status}; stderr:\n{err}");
    assert!(err.contains("is in use"), "stderr:\n{err}");
    live.set_nonblocking(true).expect("non-blocking");
    let _probe =
        std::os::unix::net::UnixStream::connect(&path).expect("the listener still owns it");
    assert!(live.accept().is_ok(), "the listener lost its socket file");
    // Dropping a std UnixListener leaves its file behind: a stale socket.
    drop(live);
    assert!(std::fs::symlink_metadata(&path).expect("stale socket").file_type().is_socket());

    let mut ustack = Ustack::start_with_control(&ns, 1, &path, &service, &[]);
    ustack
        .wait_for("ustack to answer on the replaced socket", |ustack| {
            ustack.query("ss t l").contains("0.0.0.0:7").then_some(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    ustack.signal("TERM");
    let status = ustack.wait_exit().expect("ustack stopping");
    assert!(status.success(), "{status}; stderr:\n{}", ustack.stderr());
    assert!(std::fs::symlink_metadata(&path).is_err(), "the control socket was not removed");
    drop(cleanup);
}

/// A persistent TUN (`ip tuntap add`) given as `--dev` is refused with a clear error and left
/// exactly as it was: down, without the host address, its own MTU; ustack does not claim to
/// have removed it. (Before the fix, ustack attached to it, configured it, and left it up
/// with the address and route after printing "removed".)
#[test]
fn existing_persistent_tun_given_as_dev_is_refused_and_left_as_it_was() {
    if !root_and_ip() {
        return;
    }
    let ns = Netns::create();
    let dev = Ustack::dev_name(0);
    ns.ip(&["tuntap", "add", "dev", &dev, "mode", "tun"]);
    let before =
        (ns.ip(&["-o", "link", "show", &dev]), ns.ip(&["-o", "addr", "show", "dev", &dev]));

    let mut ustack =
        Ustack::start(&ns, 0, &["echo".into(), "--port".into(), "7".into()], &["--mtu", "1400"]);
    let status = ustack.wait_exit();
    if status.is_err() {
        // Still running: it took the device. Stop it before looking.
        ustack.signal("TERM");
        let _ = ustack.wait_exit();
    }
    let err = ustack.stderr();
    let after = (ns.ip(&["-o", "link", "show", &dev]), ns.ip(&["-o", "addr", "show", "dev", &dev]));
    ns.ip(&["tuntap", "del", "dev", &dev, "mode", "tun"]);

    let status = status.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(1), "{status}; stderr:\n{err}");
    assert!(err.contains(&format!("network interface \"{dev}\" already exists")), "stderr:\n{err}");
    assert!(!err.contains("removed"), "ustack claims to have removed {dev}:\n{err}");
    assert_eq!(after, before, "ustack changed the persistent TUN");
    assert!(!after.0.contains("UP"), "{dev} is up: {}", after.0);
}

// ---- a ustack process ----

/// A `ustack tun` in a namespace; killed when dropped.
struct Ustack {
    child: Child,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    control: PathBuf,
}

impl Ustack {
    /// The device of lane (or instance) `n` of this test process.
    fn dev_name(n: usize) -> String {
        format!("ul{}x{n}", std::process::id())
    }

    /// Starts `ustack tun` in `ns` with a control socket of its own.
    fn start(ns: &Netns, n: usize, service: &[String], extra: &[&str]) -> Ustack {
        let control = PathBuf::from(format!("/tmp/{}-{n}.sock", ns.name));
        Ustack::start_with_control(ns, n, &control, service, extra)
    }

    fn start_with_control(
        ns: &Netns,
        n: usize,
        control: &Path,
        service: &[String],
        extra: &[&str],
    ) -> Ustack {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_ustack"), "tun"])
            .args(["--dev", &Ustack::dev_name(n)])
            .args(["--addr", &format!("{STACK}/24"), "--host-addr", &format!("{HOST}/24")])
            .arg("--control")
            .arg(control)
            .args(extra)
            .args(service)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting ustack: {e}"));
        let err = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stderr.take().expect("piped stderr"), Some(Arc::clone(&err))),
            // stdout (discard's lines, connect's data) is read and dropped.
            collect(child.stdout.take().expect("piped stdout"), None),
        ];
        Ustack { child, err, readers, control: control.to_path_buf() }
    }

    /// Everything ustack wrote to stderr so far (all of it once it has exited).
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().expect("stderr buffer")).into_owned()
    }

    /// The control socket's answer to `request`, or "" while it does not answer.
    fn query(&self, request: &str) -> String {
        let Ok(mut conn) = std::os::unix::net::UnixStream::connect(&self.control) else {
            return String::new();
        };
        let _ = conn.set_read_timeout(Some(PROCESS_TIMEOUT));
        let mut answer = String::new();
        let ok = conn.write_all(format!("{request}\n").as_bytes()).is_ok()
            && conn.read_to_string(&mut answer).is_ok();
        if ok { answer } else { String::new() }
    }

    /// Polls `probe` (given this ustack) every 5 ms until it gives a value; an error after
    /// [`PROCESS_TIMEOUT`] or as soon as ustack has exited.
    fn wait_for<T>(
        &mut self,
        what: &str,
        mut probe: impl FnMut(&Ustack) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        loop {
            if let Some(v) = probe(self) {
                return Ok(v);
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                let why = exited.map_or("timed out".to_string(), |s| format!("ustack exited, {s}"));
                // Killed first, so that its stderr ends and can be read whole.
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.join_readers();
                return Err(format!("waiting for {what}: {why}; stderr:\n{}", self.stderr()));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends SIG`name` (INT, TERM) to ustack.
    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let out = Command::new("kill").args([&format!("-{name}"), &pid]).output().expect("kill");
        assert!(out.status.success(), "kill -{name} {pid}: {}", describe(&out));
    }

    /// Waits (bounded) for ustack to exit; its stderr is complete afterwards.
    fn wait_exit(&mut self) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for ustack") {
                self.join_readers();
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "ustack still running after {PROCESS_TIMEOUT:?}; stderr so far:\n{}",
                    self.stderr()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Ustack {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `from` to its end on a thread of its own, keeping what it read in `into`.
fn collect(
    mut from: impl Read + Send + 'static,
    into: Option<Arc<Mutex<Vec<u8>>>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(into) = &into {
                into.lock().expect("output buffer").extend_from_slice(&buf[..n]);
            }
        }
    })
}

/// Removes the files of a test when dropped.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir(p));
        }
    }
}

/// Runs `f` on a thread that entered `ns` and returns its result.
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in(ns, f).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Spawns `f` on a thread that first enters `ns`.
fn spawn_in<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = ns.path();
    thread::Builder::new()
        .name(format!("in-{}", ns.name))
        .spawn(move || {
            enter_netns(&path).unwrap_or_else(|e| panic!("{e}"));
            f()
        })
        .expect("spawning a namespace thread")
}

/// SplitMix64: seeded payloads and timings.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---- preconditions (as in tun_interop.rs) ----

/// Root and `ip`, or the reason the test is skipped.
fn root_and_ip() -> bool {
    precondition(am_root(), "not root: creating namespaces and TUN devices needs root")
        && precondition(command_runs("ip", &["-V"]), "the `ip` command is missing")
}

// ---- the namespace ----

const NETNS_PREFIX: &str = "ustl-";

/// A network namespace made with `ip netns add`, deleted on drop (after the processes in it,
/// which are dropped first by the tests).
struct Netns {
    name: String,
}

impl Netns {
    /// Clears namespaces of dead earlier runs and makes a fresh one.
    fn create() -> Netns {
        remove_stale_namespaces();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NETNS_PREFIX}{}-{n}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        match out {
            Ok(out) if out.status.success() => Netns { name },
            Ok(out) => panic!("ip netns add {name}: {}", describe(&out)),
            Err(e) => panic!("ip netns add {name}: {e}"),
        }
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// `ip -n NS args...`, which must succeed; its stdout.
    fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("ip -n {} {args:?}: {e}", self.name));
        assert!(out.status.success(), "ip -n {} {args:?}: {}", self.name, describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether an interface `name` exists in the namespace.
    fn has_link(&self, name: &str) -> bool {
        Command::new("ip")
            .args(["-n", &self.name, "link", "show", name])
            .output()
            .is_ok_and(|out| out.status.success())
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

/// Deletes namespaces left by earlier runs that were killed before their guard ran: those
/// named after a process that no longer exists.
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
            // Quietly: another test of this run may be deleting it too.
            let _ = Command::new("ip").args(["netns", "delete", &name]).output();
        }
    }
}
