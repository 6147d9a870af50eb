//! What the root tests of this crate share: their preconditions (root, iproute2; a skip
//! with the reason printed, or a failure when CI is set) and a network namespace deleted when
//! dropped. Included by each test file with `#[path = "support/netns.rs"] mod netns;`.

#![allow(dead_code)] // each test file uses its own part

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

// ---- preconditions ----

pub(crate) fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// `true` when `ok`; otherwise prints why the test is skipped and returns `false`, or fails
/// when running under CI.
pub(crate) fn precondition(ok: bool, why: &str) -> bool {
    if !ok {
        assert!(!under_ci(), "{why} (CI is set: this test must run, not skip)");
        eprintln!("SKIPPED: {why}");
    }
    ok
}

/// Whether the effective user is root (the second field of `Uid:` in /proc/self/status).
pub(crate) fn am_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

pub(crate) fn command_runs(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|out| out.status.success())
}

pub(crate) fn describe(out: &Output) -> String {
    format!("{}; stderr: {}", out.status, String::from_utf8_lossy(&out.stderr).trim())
}

// ---- the namespace ----

/// A network namespace made with `ip netns add`, deleted on drop.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// A namespace named `{prefix}{pid}-{n}`: the prefix tells the tests that made it apart,
    /// the pid lets [`remove_stale_namespaces`] find those whose process is gone.
    pub(crate) fn create(prefix: &str) -> io::Result<Netns> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}{}-{n}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!("ip netns add {name}: {}", describe(&out))));
        }
        Ok(Netns { name })
    }

    pub(crate) fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
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
pub(crate) fn remove_stale_namespaces(prefix: &str) {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix).and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            drop(Netns { name });
        }
    }
}

/// Runs `body` on a thread that entered a network namespace of its own (made with `prefix`,
/// deleted afterwards), when the preconditions hold (root, iproute2); else skips, or fails
/// under CI. A panic in `body` fails the caller.
pub(crate) fn in_new_netns(prefix: &str, body: fn(&Path)) {
    if !precondition(am_root(), "not root: creating namespaces and TUN devices needs root") {
        return;
    }
    if !precondition(command_runs("ip", &["-V"]), "the `ip` command (iproute2) is missing") {
        return;
    }
    remove_stale_namespaces(prefix);
    let ns = Netns::create(prefix).unwrap_or_else(|e| panic!("ip netns add: {e}"));
    let path = ns.path();
    let inside = std::thread::spawn(move || body(&path));
    if let Err(panic) = inside.join() {
        std::panic::resume_unwind(panic);
    }
}
