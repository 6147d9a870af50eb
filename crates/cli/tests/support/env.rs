//! What every root test of the command shares: its preconditions (root, a command present)
//! skip the test with the reason printed, unless the environment variable `CI` is set and
//! non-empty: then they fail it, so CI can never pass by skipping.
#![allow(dead_code)] // each test file uses its share

use std::process::{Command, Output};

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
    format!(
        "{}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}
