//! The kernel's side of the in-memory workloads: TCP over its loopback device, on one
//! thread, in the network namespace the bench made (or the current one, unprivileged).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// Bound on every blocking read and write, so a wedged kernel path ends the run.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Listeners idle connections are spread over, so that their client ports do not run out.
const IDLE_LISTENERS: usize = 16;

/// A listener on 127.0.0.1 with a deep backlog.
pub(crate) fn listener() -> Result<TcpListener, String> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| format!("socket: {e}"))?;
    s.set_reuse_address(true).map_err(|e| format!("SO_REUSEADDR: {e}"))?;
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(|e| format!("bind 127.0.0.1: {e}"))?;
    s.listen(4096).map_err(|e| format!("listen: {e}"))?;
    Ok(s.into())
}

/// A connection over 127.0.0.1 to `l`: (client, server), blocking, bounded reads and writes.
pub(crate) fn connect(l: &TcpListener) -> Result<(TcpStream, TcpStream), String> {
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let c = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    let (s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    for x in [&c, &s] {
        x.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
        x.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    }
    Ok((c, s))
}

/// `n` established connections over 127.0.0.1 that then stay idle: held here, or, when this
/// process may not open that many descriptors, spread over helper processes (each the same
/// executable, `--worker hold-idle-COUNT`) that hold their share until this ends.
pub(crate) struct Idle {
    _own: Held,
    helpers: Vec<std::process::Child>,
}

impl Drop for Idle {
    fn drop(&mut self) {
        for h in &mut self.helpers {
            // The end of its standard input tells a helper to close its connections and go.
            drop(h.stdin.take());
        }
        for h in &mut self.helpers {
            let _ = h.wait();
        }
    }
}

/// Connections and their listeners, open in this process.
struct Held {
    _listeners: Vec<TcpListener>,
    _conns: Vec<(TcpStream, TcpStream)>,
}

/// Opens `n` idle connections, in this process when its descriptor limit allows, else over
/// as many helper processes as it takes.
pub(crate) fn idle(n: usize) -> Result<Idle, String> {
    let (limit, hard) = open_files_limit()?;
    let per_process = (limit.saturating_sub(64) / 2) as usize;
    if n <= per_process {
        return Ok(Idle { _own: open_idle(n)?, helpers: Vec::new() });
    }
    if per_process < 1_000 {
        return Err(format!(
            "skip: {n} idle kernel connections need many helper processes: the descriptor \
             limit is {limit} (hard limit {hard})"
        ));
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding the executable: {e}"))?;
    let mut idle = Idle { _own: open_idle(0)?, helpers: Vec::new() };
    let mut left = n;
    while left > 0 {
        let count = left.min(per_process);
        let mut child = std::process::Command::new(&exe)
            .args(["bench", "--worker", &format!("hold-idle-{count}"), "--peer", "kernel"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting a helper for idle connections: {e}"))?;
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        let read = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        idle.helpers.push(child);
        if read.is_err() || line.trim() != "ready" {
            return Err(format!("a helper holding {count} idle connections failed: {line:?}"));
        }
        left -= count;
    }
    Ok(idle)
}

/// `hold-idle-COUNT`: opens COUNT idle connections, says `ready` on standard output, and
/// holds them until its standard input ends.
pub(crate) fn hold_idle(count: usize) -> Result<(), String> {
    let held = open_idle(count)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").and_then(|()| out.flush()).map_err(|e| format!("ready: {e}"))?;
    drop(out);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
    Ok(())
}

/// `n` idle connections over 127.0.0.1 in this process, spread over [`IDLE_LISTENERS`].
fn open_idle(n: usize) -> Result<Held, String> {
    let listeners = if n == 0 {
        Vec::new()
    } else {
        (0..IDLE_LISTENERS).map(|_| listener()).collect::<Result<Vec<_>, _>>()?
    };
    let mut conns = Vec::with_capacity(n);
    const BATCH: usize = 256;
    while conns.len() < n {
        let batch = BATCH.min(n - conns.len());
        let mut clients = Vec::with_capacity(batch);
        for k in 0..batch {
            let l = &listeners[(conns.len() + k) % IDLE_LISTENERS];
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            let c = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
                .map_err(|e| format!("idle connection {}: connect: {e}", conns.len() + k))?;
            clients.push(c);
        }
        for (k, c) in clients.into_iter().enumerate() {
            let l = &listeners[(conns.len()) % IDLE_LISTENERS];
            let (s, _) = l.accept().map_err(|e| format!("idle connection {k}: accept: {e}"))?;
            conns.push((c, s));
        }
    }
    Ok(Held { _listeners: listeners, _conns: conns })
}

/// The soft and hard limits on open files, from `/proc/self/limits`.
fn open_files_limit() -> Result<(u64, u64), String> {
    let limits = std::fs::read_to_string("/proc/self/limits")
        .map_err(|e| format!("reading /proc/self/limits: {e}"))?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("/proc/self/limits: no open files line")?;
    let value = |w: Option<&str>| match w {
        Some("unlimited") => u64::MAX,
        w => w.and_then(|w| w.parse().ok()).unwrap_or(0),
    };
    let mut words = line.split_whitespace().skip(3);
    Ok((value(words.next()), value(words.next())))
}

/// Writes what the socket takes of `data` without blocking; bytes written.
pub(crate) fn write_some(s: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    match s.write(data) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// Reads what is there without blocking; bytes read (0 when nothing is).
pub(crate) fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    match s.read(buf) {
        Ok(0) => Err(io::Error::new(ErrorKind::UnexpectedEof, "the peer closed")),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// The MTU of the loopback device in this namespace, set to `mtu` when we may (root in a
/// namespace of the bench's own); what it is after.
pub(crate) fn set_lo_mtu(mtu: usize, in_own_namespace: bool) -> Result<usize, String> {
    if in_own_namespace {
        let out = std::process::Command::new("ip")
            .args(["link", "set", "dev", "lo", "mtu", &mtu.to_string(), "up"])
            .output()
            .map_err(|e| format!("ip link set lo mtu {mtu}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip link set lo mtu {mtu}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    // Not /sys/class/net/lo/mtu: sysfs shows the namespace it was mounted in, not ours.
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "dev", "lo"])
        .output()
        .map_err(|e| format!("ip link show lo: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words
        .find(|w| *w == "mtu")
        .and_then(|_| words.next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("the MTU of lo: none in {:?}", text.trim()))
}
