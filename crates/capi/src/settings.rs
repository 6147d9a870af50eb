//! Where a host's settings come from: ustack's defaults, or the Linux sysctls of the
//! network namespace the process runs in, read the way the kernel would use them.
//!
//! With a sysctl root (the packetdrill shim reads `/proc/sys`), every `socket()` re-reads
//! `net/ipv4/tcp_*`, `net/ipv4/ip_default_ttl` and `net/core/{rmem,wmem}_{default,max}`,
//! `net/core/somaxconn`, and maps each onto ustack's setting of the same name
//! ([`ustack_core::sysctl`]), so a test's sysctl writes take effect for the sockets it
//! creates next, as on Linux. What cannot be applied is remembered ([`Settings::ignored`]):
//! sysctls of features ustack does not have (F-RTO, Accurate ECN, ...) set to anything but what
//! ustack does.
//!
//! One sysctl is not taken from the namespace: `tcp_congestion_control`. A network namespace
//! other than the first may only choose among `tcp_allowed_congestion_control`, so Linux test
//! setups that ask for `cubic` silently keep whatever the namespace had; the value read there
//! says nothing about what the test wanted. ustack runs its own default (CUBIC, as Linux).

use std::path::PathBuf;

use ustack_core::StackConfig;
use ustack_core::sysctl::{self, SysctlError};

/// The settings source of a host.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Root of the sysctl tree to read (`/proc/sys`), or none: ustack's defaults.
    root: Option<PathBuf>,
    /// `net.core.rmem_max` / `wmem_max`: the most `SO_RCVBUF` / `SO_SNDBUF` may ask for.
    pub(crate) rmem_max: u32,
    pub(crate) wmem_max: u32,
    /// Sysctls read last time that could not be applied, with why.
    pub(crate) ignored: Vec<(String, String, SysctlError)>,
}

/// Linux's `net.core.rmem_max` and `wmem_max` defaults.
const CORE_MEM_MAX: u32 = 212_992;

impl Settings {
    /// ustack's defaults, nothing read.
    pub(crate) fn defaults() -> Settings {
        Settings { root: None, rmem_max: CORE_MEM_MAX, wmem_max: CORE_MEM_MAX, ignored: Vec::new() }
    }

    /// Read from the sysctl tree at `root`.
    pub(crate) fn from_sysctls(root: PathBuf) -> Settings {
        Settings { root: Some(root), ..Settings::defaults() }
    }

    /// The settings to use now: `base` with the sysctls applied (when there is a root).
    pub(crate) fn load(&mut self, base: &StackConfig) -> StackConfig {
        let mut cfg = *base;
        let Some(root) = &self.root else { return cfg };
        self.ignored.clear();
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        let ipv4 = root.join("net/ipv4");
        if let Ok(dir) = std::fs::read_dir(&ipv4) {
            for entry in dir.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("tcp_") || name == "ip_default_ttl" {
                    files.push((format!("net.ipv4.{name}"), entry.path()));
                }
            }
        }
        for name in ["rmem_default", "wmem_default", "rmem_max", "wmem_max", "somaxconn"] {
            files.push((format!("net.core.{name}"), root.join("net/core").join(name)));
        }
        files.sort();
        for (name, path) in files {
            let Ok(value) = std::fs::read_to_string(&path) else { continue };
            let value = value.trim();
            match name.as_str() {
                // See the module documentation.
                "net.ipv4.tcp_congestion_control" => continue,
                "net.core.rmem_max" => {
                    self.rmem_max = value.parse().unwrap_or(self.rmem_max);
                    continue;
                }
                "net.core.wmem_max" => {
                    self.wmem_max = value.parse().unwrap_or(self.wmem_max);
                    continue;
                }
                // The stack's transmit queue is sized when the stack is made.
                "net.core.wmem_default" => continue,
                _ => {}
            }
            match sysctl::set(&mut cfg, &name, value) {
                Ok(()) | Err(SysctlError::Unknown) => {}
                Err(e) => self.ignored.push((name, value.to_string(), e)),
            }
        }
        cfg
    }
}
