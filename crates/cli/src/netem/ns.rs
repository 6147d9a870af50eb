//! Network namespaces: doing something inside one from a process that stays outside.
//!
//! A thread can enter a namespace (`setns`) and never come back, so every call here runs on
//! a thread of its own that enters the namespace, does its work and ends. What it creates
//! there stays there: a TUN device is born in the namespace of the thread that creates it,
//! and a process started by that thread (`ip`) runs in it.

use std::io;
use std::path::PathBuf;
use std::process::Command;

use ustack::device::tun::enter_netns;

/// The file of network namespace `ns`: `/run/netns/NAME` for a name given to `ip netns add`,
/// or `ns` itself when it holds a `/` (`/proc/PID/ns/net`, say).
pub(crate) fn path(ns: &str) -> PathBuf {
    if ns.contains('/') { PathBuf::from(ns) } else { PathBuf::from("/run/netns").join(ns) }
}

/// Runs `f` on a new thread inside namespace `ns` and returns what it returns.
pub(crate) fn run_in<T: Send>(
    ns: &str,
    f: impl FnOnce() -> Result<T, String> + Send,
) -> Result<T, String> {
    let path = path(ns);
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                enter_netns(&path).map_err(|e| e.to_string())?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(format!("the thread working in namespace {ns} panicked")))
    })
}

/// Runs `ip ARGS` inside namespace `ns`; its standard output, or an error with its standard
/// error.
pub(crate) fn ip(ns: &str, args: &[&str]) -> Result<String, String> {
    let line = format!("ip {}", args.join(" "));
    run_in(ns, || {
        let out = Command::new("ip").args(args).output().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("{line}: `ip` (iproute2) is not installed"),
            _ => format!("{line}: {e}"),
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{line} in namespace {ns} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
}
