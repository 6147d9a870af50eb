//! The control socket of a running `ustack tun`: a Unix stream socket where each connection
//! sends one request line and reads the answer until EOF.
//!
//! Requests: `ss [t] [u] [l] [i] [e]` (the sockets, filtered like `ss -t -u -l`, with
//! internals like `ss -i` and timers like `ss -o`), `nstat` (the counters by their Linux
//! names, like `nstat -az`) and `stats` (the counters described, like `netstat -s`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use ustack::core::{Counters, Netstat};

use ustack::NetStack;

/// The bound control socket, not answering yet: claimed before the TUN device is made, so a
/// bad `--control` path fails without touching the network.
pub(crate) struct Control {
    listener: UnixListener,
    guard: ControlGuard,
}

/// Removes the socket file when the service stops, if it is still the socket this process
/// bound (not a file someone put in its place since).
pub(crate) struct ControlGuard {
    path: PathBuf,
    /// Device and inode of the socket file bound.
    id: (u64, u64),
}

impl Drop for ControlGuard {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == self.id)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds the control socket at `path`. Only a stale Unix socket is replaced there (one that
/// nothing listens on, left by an earlier run that did not clean up); a socket in use, or
/// anything else at `path` (a regular file, a directory, a symbolic link, ...), is refused.
pub(crate) fn claim(path: &Path) -> Result<Control, String> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("--control {shown}: cannot inspect it: {e}")),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(format!(
                "--control {shown} exists and is {}, not a Unix socket: refusing to replace \
                 it; choose another path",
                kind_of(meta.file_type())
            ));
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(format!(
                    "--control {shown} is in use: something listens on it (another running \
                     ustack?)"
                ));
            }
            // Nothing listens on it: a stale socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(|e| {
                    format!("--control {shown}: cannot remove the stale socket: {e}")
                })?;
            }
            Err(e) => {
                return Err(format!(
                    "--control {shown} is a socket that cannot be checked ({e}): refusing to \
                     remove it"
                ));
            }
        },
    }
    let listener =
        UnixListener::bind(path).map_err(|e| format!("cannot bind control socket {shown}: {e}"))?;
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("control socket {shown}: cannot inspect it: {e}"))?;
    Ok(Control {
        listener,
        guard: ControlGuard { path: path.to_path_buf(), id: (meta.dev(), meta.ino()) },
    })
}

/// What a file type is, for an error message.
fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_block_device() || t.is_char_device() {
        "a device node"
    } else {
        "not a socket"
    }
}

impl Control {
    /// Answers requests about the stacks of `shards` (one per queue of the device: their
    /// sockets listed together, their counters summed) on a thread of its own; the returned
    /// guard removes the socket file when dropped.
    pub(crate) fn serve(self, shards: &[NetStack]) -> Result<ControlGuard, String> {
        let Control { listener, guard } = self;
        let shards: Arc<[NetStack]> = shards.into();
        thread::Builder::new()
            .name("ustack-control".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let shards = Arc::clone(&shards);
                    let _ = thread::Builder::new().name("ustack-control-conn".into()).spawn(
                        move || {
                            let _ = answer(&shards, conn);
                        },
                    );
                }
            })
            .map_err(|e| format!("cannot start the control thread: {e}"))?;
        Ok(guard)
    }
}

/// The socket tables of every shard as one (in shard order; a listener bound on every
/// shard shows once per shard, as SO_REUSEPORT listeners do in `ss`).
fn netstat(shards: &[NetStack]) -> Netstat {
    let mut all = Netstat::default();
    for net in shards {
        all.sockets.extend(net.netstat().sockets);
    }
    all
}

/// The counters of every shard, summed.
fn counters(shards: &[NetStack]) -> Counters {
    let mut sum = Counters::default();
    for net in shards {
        sum += &net.counters();
    }
    sum
}

fn answer(shards: &[NetStack], conn: UnixStream) -> std::io::Result<()> {
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
            netstat(shards)
                .filter(t, u, flags.contains(&"l"))
                .with_internals(flags.contains(&"i"))
                .with_timers(flags.contains(&"e"))
                .to_string()
        }
        Some("nstat") => ustack::core::Nstat(&counters(shards)).to_string(),
        Some("stats") => counters(shards).to_string(),
        _ => format!(
            "error: unknown request {:?} (expected `ss [t] [u] [l] [i] [e]`, `nstat` or `stats`)\n",
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
