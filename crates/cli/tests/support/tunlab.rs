//! The lab of the `ustack tun` acceptance tests: a network namespace made for one test and
//! the `ustack tun` process running in it, with the kernel's sockets made on threads that
//! entered the namespace. The test file that includes it names its addresses in `ADDRS`.
#![allow(dead_code)] // each test file uses its share

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ustack::device::tun::enter_netns;

use super::env::{am_root, command_runs, describe, precondition};

/// Bound on a single socket read or write, and on every poll loop.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on waiting for ustack to come up or to stop.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What sets one test file's labs apart.
pub(crate) struct Addrs {
    /// The start of the TUN devices' names (the process id and a number follow).
    pub(crate) dev_prefix: &'static str,
    /// The start of the namespaces' names (the process id and a number follow).
    pub(crate) netns_prefix: &'static str,
    /// The addresses `ustack tun` is given (`--addr`, `--host-addr`, ...).
    pub(crate) tun_args: &'static [&'static str],
    /// The wildcard address the services listen on, as `ustack ss` prints it.
    pub(crate) any: &'static str,
}

/// How the test talks to ustack's stdin and stdout.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Io {
    /// stdin is /dev/null; stdout is collected by a thread (see [`Lab::stdout`]).
    Collect,
    /// stdin and stdout are pipes the test takes from [`Lab::stdin`] and [`Lab::stdout`].
    Piped,
}

/// One test's namespace and the `ustack tun` running in it. Dropping it kills ustack, removes
/// its files, then deletes the namespace.
pub(crate) struct Lab {
    pub(crate) name: &'static str,
    pub(crate) started: Instant,
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) out: Arc<Mutex<Vec<u8>>>,
    pub(crate) err: Arc<Mutex<Vec<u8>>>,
    pub(crate) control: PathBuf,
    /// `/tmp/ust-<pid>-<n>`: the control socket and any other file of the test start with it.
    pub(crate) tmp_prefix: String,
    /// Last field: deleted after the process is gone.
    pub(crate) ns: Netns,
}

impl Lab {
    /// Checks the preconditions, makes a namespace and starts ustack with `service`; `None`
    /// when the test is skipped.
    pub(crate) fn start(name: &'static str, service: &[&str], io: Io) -> Option<Lab> {
        Lab::start_with(name, service, io, &[])
    }

    /// As [`Lab::start`], with extra `tun` options; `{tmp}` in them becomes the test's prefix.
    pub(crate) fn start_with(
        name: &'static str,
        service: &[&str],
        io: Io,
        extra: &[&str],
    ) -> Option<Lab> {
        let ns = Netns::for_test()?;
        Some(Lab::start_in(ns, name, service, io, extra))
    }

    pub(crate) fn start_in(
        ns: Netns,
        name: &'static str,
        service: &[&str],
        io: Io,
        extra: &[&str],
    ) -> Lab {
        let tmp_prefix = format!("/tmp/{}", ns.name);
        let control = PathBuf::from(format!("{tmp_prefix}.sock"));
        let dev = format!("{}{}x{}", crate::ADDRS.dev_prefix, std::process::id(), ns.n);
        let extra: Vec<String> = extra.iter().map(|a| a.replace("{tmp}", &tmp_prefix)).collect();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_ustack"), "tun", "--dev", &dev])
            .args(crate::ADDRS.tun_args)
            .arg("--control")
            .arg(&control)
            .args(&extra)
            .args(service)
            .stdin(if io == Io::Piped { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting ustack: {e}"));
        let err = Arc::new(Mutex::new(Vec::new()));
        collect(child.stderr.take().expect("piped stderr"), Arc::clone(&err));
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take();
        if io == Io::Collect {
            collect(stdout.take().expect("piped stdout"), Arc::clone(&out));
        }
        let stdin = child.stdin.take();
        Lab {
            name,
            started: Instant::now(),
            child,
            stdin,
            stdout,
            out,
            err,
            control,
            tmp_prefix,
            ns,
        }
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().expect("stderr buffer")).into_owned()
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().expect("stdout buffer")).into_owned()
    }

    /// Polls `probe` until it gives a value; fails after [`IO_TIMEOUT`], or as soon as
    /// ustack has exited while `probe` still gives nothing.
    pub(crate) fn wait_for<T>(&self, what: &str, probe: impl FnMut() -> Option<T>) -> T {
        poll_until(probe, || self.child_exited()).unwrap_or_else(|| {
            let why = if self.child_exited() { "ustack exited" } else { "timed out" };
            panic!("{}: waiting for {what}: {why}; ustack stderr:\n{}", self.name, self.stderr())
        })
    }

    pub(crate) fn child_exited(&self) -> bool {
        // try_wait needs &mut; the pid's /proc entry tells the same without reaping.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        stat.map_or(true, |s| {
            s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    }

    /// The control socket's answer to `request`, or `""` while it is not answering yet.
    pub(crate) fn query(&self, request: &str) -> String {
        let Ok(mut conn) = std::os::unix::net::UnixStream::connect(&self.control) else {
            return String::new();
        };
        let mut answer = String::new();
        let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
        let ok = conn.write_all(format!("{request}\n").as_bytes()).is_ok()
            && conn.read_to_string(&mut answer).is_ok();
        if ok { answer } else { String::new() }
    }

    /// Waits until ustack lists a listening socket (`proto` "t" or "u") on `port` of the
    /// test's wildcard address ([`Addrs::any`]).
    pub(crate) fn wait_listening(&self, proto: &str, port: u16) {
        let local = format!("{}:{port}", crate::ADDRS.any);
        self.wait_for(&format!("a listening socket on port {port}"), || {
            let table = self.query(&format!("ss {proto} l"));
            table.lines().any(|l| l.split_whitespace().nth(3) == Some(&local)).then_some(())
        });
    }

    /// A counter from the control socket's `stats` (the `netstat -s` text), by its text.
    pub(crate) fn counter(&self, text: &str) -> u64 {
        let stats = self.query("stats");
        stats
            .lines()
            .find_map(|l| l.trim().strip_suffix(text)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no counter {text:?} in:\n{stats}"))
    }

    /// A counter from the control socket's `nstat`, by its Linux name (`Icmp6OutDestUnreachs`).
    pub(crate) fn nstat(&self, name: &str) -> u64 {
        let table = self.query("nstat");
        table
            .lines()
            .find_map(|l| {
                let mut cols = l.split_whitespace();
                (cols.next() == Some(name)).then(|| cols.next()?.parse().ok()).flatten()
            })
            .unwrap_or_else(|| panic!("no counter {name} in:\n{table}"))
    }

    /// Waits (bounded) for ustack to exit on its own.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for ustack") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: ustack did not exit:\n{}",
                self.name,
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits (bounded) for the graceful stop.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let out = Command::new("kill").args(["-TERM", &pid]).output().expect("running kill");
        assert!(out.status.success(), "kill -TERM {pid}: {}", describe(&out));
        self.wait_exit()
    }

    /// Neither side reset a connection or saw a bad segment: ustack's counters (over the
    /// control socket) and the kernel's (`/proc/net/snmp` in the namespace).
    pub(crate) fn assert_no_errors(&self) {
        for text in [
            "resets sent",
            "connection resets received",
            "bad segments received (length, header, options)",
            "segments with a bad checksum (dropped silently, not acknowledged)",
        ] {
            let n = self.counter(text);
            assert_eq!(n, 0, "ustack counted {n} {text}:\n{}", self.query("stats"));
        }
        self.ns.assert_kernel_tcp_clean();
    }

    /// Prints the test's wall time and what it did.
    pub(crate) fn report(&self, what: &str) {
        println!("{}: {:.2?} ({what})", self.name, self.started.elapsed());
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.control);
        // self.ns drops next: the namespace goes after the process.
    }
}

/// Polls `probe` every 10 ms until it gives a value; `None` after [`IO_TIMEOUT`] or as soon
/// as `give_up()`.
pub(crate) fn poll_until<T>(
    mut probe: impl FnMut() -> Option<T>,
    mut give_up: impl FnMut() -> bool,
) -> Option<T> {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if give_up() || Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `probe` (on the kernel's side, whether or not ustack still runs) until it gives a
/// value; fails after [`IO_TIMEOUT`].
pub(crate) fn wait_until<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    poll_until(probe, || false).unwrap_or_else(|| panic!("waiting for {what}: timed out"))
}

/// Appends everything from `from` to `into`, on a thread of its own.
pub(crate) fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
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

pub(crate) fn set_timeouts(s: &TcpStream) {
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    s.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
}

/// Runs `f` on a thread that entered `ns`; threads it spawns are in `ns` too. A panic in `f`
/// is the caller's panic.
pub(crate) fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = ns.path();
    let t = thread::Builder::new()
        .name(format!("in-{}", ns.name))
        .spawn(move || {
            enter_netns(&path).unwrap_or_else(|e| panic!("{e}"));
            f()
        })
        .expect("spawning the namespace thread");
    t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a seeded generator for payloads, and the
/// stream `source --seed` documents in its --help.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// The generator's outputs as little-endian bytes, the stream `source --seed` sends.
    /// `buf` must be a multiple of 8 bytes long unless it is the stream's last piece.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_mut(8) {
            word.copy_from_slice(&self.next().to_le_bytes()[..word.len()]);
        }
    }
}

// ---- the namespace ----

/// A network namespace made with `ip netns add`, deleted on drop.
pub(crate) struct Netns {
    pub(crate) name: String,
    /// Numbers this process's namespaces, TUN devices and files.
    pub(crate) n: u32,
}

impl Netns {
    /// Checks root and `ip`, clears namespaces of dead earlier runs, makes a fresh one.
    /// `None` when the test is skipped.
    pub(crate) fn for_test() -> Option<Netns> {
        if !precondition(am_root(), "not root: creating namespaces and TUN devices needs root")
            || !precondition(command_runs("ip", &["-V"]), "the `ip` command is missing")
        {
            return None;
        }
        remove_stale_namespaces();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{}-{n}", crate::ADDRS.netns_prefix, std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        match out {
            Ok(out) if out.status.success() => Some(Netns { name, n }),
            Ok(out) => panic!("ip netns add {name}: {}", describe(&out)),
            Err(e) => panic!("ip netns add {name}: {e}"),
        }
    }

    /// Moves the namespace out (into a [`Lab`]), leaving an empty guard behind.
    pub(crate) fn take(&mut self) -> Netns {
        Netns { name: std::mem::take(&mut self.name), n: self.n }
    }

    pub(crate) fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// The kernel sent no RST, saw none, and took no bad segment in this namespace (the Tcp
    /// lines of `/proc/net/snmp`).
    pub(crate) fn assert_kernel_tcp_clean(&self) {
        let out = self.run("cat", &["/proc/net/snmp"]);
        assert!(out.status.success(), "cat /proc/net/snmp: {}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let mut tcp = text.lines().filter_map(|l| l.strip_prefix("Tcp:"));
        let (names, values) = (tcp.next().expect("Tcp names"), tcp.next().expect("Tcp values"));
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if ["AttemptFails", "EstabResets", "InErrs", "OutRsts", "InCsumErrors"].contains(&name)
            {
                assert_eq!(value, "0", "the kernel's Tcp {name} in {}:\n{text}", self.name);
            }
        }
    }

    /// Runs `program` in the namespace and waits for it.
    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Output {
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
        if self.name.is_empty() {
            return;
        }
        match Command::new("ip").args(["netns", "delete", &self.name]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("ip netns delete {}: {}", self.name, describe(&out)),
            Err(e) => eprintln!("ip netns delete {}: {e}", self.name),
        }
    }
}

/// Deletes namespaces left by earlier runs that were killed before their guard ran: those
/// named after a process that no longer exists.
pub(crate) fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) =
            name.strip_prefix(crate::ADDRS.netns_prefix).and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
        {
            drop(Netns { name, n: 0 });
        }
    }
}

/// One echo connection to `to`: a writer thread sends `payload` then FIN, this thread reads
/// until the echo's FIN and compares.
pub(crate) fn echo_once(to: SocketAddr, payload: &Arc<Vec<u8>>) -> Result<(), String> {
    let s = TcpStream::connect_timeout(&to, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&s);
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let p = Arc::clone(payload);
    let writer = thread::spawn(move || {
        w.write_all(&p)
            .and_then(|()| w.shutdown(Shutdown::Write))
            .map_err(|e| format!("write: {e}"))
    });
    let mut got = Vec::with_capacity(payload.len());
    let read =
        (&s).read_to_end(&mut got).map_err(|e| format!("read after {} bytes: {e}", got.len()));
    writer.join().expect("the writer thread panicked")?;
    read?;
    if got != **payload {
        let at = got.iter().zip(payload.iter()).position(|(a, b)| a != b);
        return Err(format!(
            "sent {} bytes, got back {}; first difference at {:?}",
            payload.len(),
            got.len(),
            at.unwrap_or(got.len().min(payload.len()))
        ));
    }
    Ok(())
}
