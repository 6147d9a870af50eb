//! The control socket of a running `ustack tun`: a Unix stream socket where each connection
//! sends one request line and reads the answer until EOF.
//!
//! Requests: `ss [t] [u] [l]` (the sockets, filtered like `ss -t -u -l`) and `stats` (the
//! counters, like `netstat -s`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread;

use ustack::NetStack;

/// Removes the socket file when the service stops.
pub(crate) struct ControlGuard {
    path: PathBuf,
}

impl Drop for ControlGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(crate) fn serve(net: &NetStack, path: &Path) -> Result<ControlGuard, String> {
    // A socket file left by an earlier run that is not answering any more is stale.
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!("{} is in use by another running ustack", path.display()));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale {}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot bind control socket {}: {e}", path.display()))?;
    let net = net.clone();
    thread::Builder::new()
        .name("ustack-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let net = net.clone();
                let _ =
                    thread::Builder::new().name("ustack-control-conn".into()).spawn(move || {
                        let _ = answer(&net, conn);
                    });
            }
        })
        .map_err(|e| format!("cannot start the control thread: {e}"))?;
    Ok(ControlGuard { path: path.to_path_buf() })
}

fn answer(net: &NetStack, conn: UnixStream) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(&conn).take(1024).read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let reply = match words.next() {
        Some("ss") => {
            let flags: Vec<&str> = words.collect();
            let (mut t, mut u) = (flags.contains(&"t"), flags.contains(&"u"));
            if !t && !u {
                (t, u) = (true, true);
            }
            net.netstat().filter(t, u, flags.contains(&"l")).to_string()
        }
        Some("stats") => net.counters().to_string(),
        _ => format!(
            "error: unknown request {:?} (expected `ss [t] [u] [l]` or `stats`)\n",
            line.trim()
        ),
    };
    (&conn).write_all(reply.as_bytes())
}

/// Sends `request` to the control socket at `path` and returns the answer.
pub(crate) fn query(path: &Path, request: &str) -> Result<String, String> {
    let mut conn = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach a running ustack at {}: {e} (is `ustack tun --control {}` running?)",
            path.display(),
            path.display()
        )
    })?;
    conn.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("control socket: {e}"))?;
    let mut out = String::new();
    conn.read_to_string(&mut out).map_err(|e| format!("control socket: {e}"))?;
    if let Some(err) = out.strip_prefix("error: ") {
        return Err(err.trim().to_string());
    }
    Ok(out)
}
