//! The README works as written: every command block is taken from README.md itself and run
//! as it stands, from the repository's root, in order, each with `set -eu` (through
//! `BASH_ENV`, so a nested `unshare -Urn bash` stops at a failing line too) and a time bound.
//!
//! An HTML comment on the line before a block says what it needs:
//!
//! - none: runs anywhere (no root, no network);
//! - `<!-- readme-test: netns -->`: starts `unshare -Urn bash` for a network namespace of its
//!   own, which works with or without root; as root, a block that does not build with cargo
//!   runs a second time as the unprivileged user `nobody`, to show it needs no root;
//! - `<!-- readme-test: root -->`: needs root (installing packages);
//! - `<!-- readme-test: long -->`: takes minutes (fuzzing);
//! - `<!-- readme-test: ci-step ... -->`: a command `.ci/run` runs itself (the test suite,
//!   which runs this test): checked to be in `.ci/run`, not run here.
//!
//! The checks of the text (the marks, no `sudo`, no `pkill`/`killall`, no namespace deleted
//! halfway, every path the README names exists in the repository and no link leaves it, the
//! Rust block is the example it says it is) always run. The blocks run when `CI` is set (as
//! in `.ci/run`, as root: then nothing is skipped) or `USTACK_README=1`; `root` blocks need
//! root and `long` ones need `CI` or `USTACK_README_LONG=1`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/env.rs"]
mod env;
use env::{am_root, under_ci};

/// What a block needs, from its mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Netns,
    Root,
    Long,
    CiStep,
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    needs: Needs,
    text: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

fn blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```").filter(|l| !l.is_empty()) else {
            i += 1;
            continue;
        };
        let mark = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim());
        let needs = match mark.and_then(|m| m.strip_prefix("<!-- readme-test:")) {
            None => Needs::Nothing,
            Some(m) => match m.split_whitespace().next() {
                Some("netns") => Needs::Netns,
                Some("root") => Needs::Root,
                Some("long") => Needs::Long,
                Some("ci-step") => Needs::CiStep,
                other => panic!("README.md:{}: unknown readme-test mark {other:?}", i),
            },
        };
        let start = i;
        let mut text = String::new();
        i += 1;
        while i < lines.len() && lines[i] != "```" {
            text.push_str(lines[i]);
            text.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "README.md:{}: unclosed code block", start + 1);
        out.push(Block { line: start + 1, lang: lang.to_string(), needs, text });
        i += 1;
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).expect("README.md")
}

#[test]
fn the_readme_text_stands_alone_and_its_commands_are_marked() {
    let text = readme();
    let blocks = blocks(&text);
    let sh: Vec<&Block> = blocks.iter().filter(|b| b.lang == "sh").collect();
    assert!(sh.len() >= 8, "the README's command blocks: {}", sh.len());
    for b in &sh {
        for word in ["sudo ", "pkill", "killall", "ip netns del", "nc "] {
            assert!(
                !b.text.contains(word),
                "README.md:{}: {word:?}: the walkthroughs use no sudo, stop processes by PID, \
                 delete no namespace another one needs, and need no netcat",
                b.line
            );
        }
        if b.text.contains("unshare -Urn") {
            assert_eq!(b.needs, Needs::Netns, "README.md:{}: mark it netns", b.line);
        }
        if b.needs == Needs::Netns {
            assert!(
                b.text.starts_with("unshare -Urn bash") && b.text.trim_end().ends_with("exit"),
                "README.md:{}: a netns block starts its own namespace and leaves it",
                b.line
            );
        }
        if b.needs == Needs::CiStep {
            let ci = std::fs::read_to_string(repo().join(".ci/run")).expect(".ci/run");
            for cmd in b.text.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    ci.contains(cmd.trim()),
                    "README.md:{}: .ci/run does not run {cmd:?}",
                    b.line
                );
            }
        }
    }
    // The Rust block is the example the README says it is.
    let rust = blocks.iter().find(|b| b.lang == "rust").expect("a Rust block");
    let example = std::fs::read_to_string(repo().join("crates/ustack/examples/echo_tun.rs"))
        .expect("echo_tun.rs");
    assert!(example.contains(&rust.text), "the README's Rust block differs from echo_tun.rs");
    // Links and images stay inside the repository and exist.
    for (n, line) in text.lines().enumerate() {
        for target in line.split("](").skip(1).filter_map(|r| r.split(')').next()) {
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            assert!(!target.contains(".."), "README.md:{}: {target} leaves the repository", n + 1);
            assert!(repo().join(target).exists(), "README.md:{}: {target} does not exist", n + 1);
        }
    }
    // So do the files and directories it names in backquotes.
    for name in text.split('`').skip(1).step_by(2) {
        let top = ["crates/", "docs/", "fuzz/", "scripts/", "tests/", ".ci/"];
        if top.iter().any(|t| name.starts_with(t)) && !name.contains(' ') {
            assert!(repo().join(name).exists(), "README.md names {name}, which does not exist");
        }
    }
}

/// Runs `block` with bash from `dir`, as `as_nobody` the unprivileged user; panics with its
/// output when it fails or outlives `limit`. What it leaves running is killed.
fn run(what: &str, block: &str, dir: &Path, as_nobody: bool, limit: Duration) {
    // `set -eu` for bash, and for the shell `unshare -Urn bash` starts, which reads the
    // lines after it from the same input.
    let mut script = String::from("set -eu\n");
    for line in block.lines() {
        script.push_str(line);
        script.push('\n');
        if line.starts_with("unshare -Urn bash") {
            script.push_str("set -eu\n");
        }
    }
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-s"]);
        c
    } else {
        let mut c = Command::new("bash");
        c.arg("-s");
        c
    };
    let out_file = std::env::temp_dir().join(format!("ustack-readme-out-{}", std::process::id()));
    let out = std::fs::File::create(&out_file).expect("output file");
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: starting bash: {e}"));
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("the script");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for bash") {
            break Some(s);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // What the block left running (after a failure or a timeout): its process group, by id.
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
    let _ = child.wait();
    let output = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    match status {
        Some(s) if s.success() => {
            println!("{what}: ok in {:.1?}", started.elapsed());
        }
        Some(s) => panic!("{what}: {s}\n--- script ---\n{script}--- output ---\n{output}"),
        None => panic!(
            "{what}: still running after {limit:?}\n--- script ---\n{script}--- output ---\n{output}"
        ),
    }
}

/// A world-readable copy of what the netns walkthroughs read (the release binary and
/// `docs/`), for running them as `nobody`.
fn nobody_tree() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ustack-readme-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("target/release")).expect("tree");
    std::fs::copy(repo().join("target/release/ustack"), dir.join("target/release/ustack"))
        .expect("copying the release binary (the build block runs first)");
    let ok = Command::new("cp")
        .args(["-r"])
        .arg(repo().join("docs"))
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "copying docs/");
    let ok =
        Command::new("chmod").args(["-R", "a+rX"]).arg(&dir).status().is_ok_and(|s| s.success());
    assert!(ok, "chmod");
    dir
}

#[test]
fn every_readme_command_block_runs_as_written() {
    let asked = std::env::var("USTACK_README").is_ok_and(|v| v == "1");
    if !under_ci() && !asked {
        eprintln!("SKIPPED: the README's blocks run under CI or with USTACK_README=1");
        return;
    }
    let long = under_ci() || std::env::var("USTACK_README_LONG").is_ok_and(|v| v == "1");
    let root = am_root();
    let text = readme();
    let mut nobody_dir = None;
    for b in blocks(&text).iter().filter(|b| b.lang == "sh") {
        let what = format!("README.md:{} ({:?})", b.line, b.needs);
        let limit = if b.text.contains("cargo ") {
            Duration::from_secs(20 * 60)
        } else {
            Duration::from_secs(3 * 60)
        };
        match b.needs {
            Needs::CiStep => continue,
            Needs::Root if !root => {
                assert!(!under_ci(), "{what} needs root, and CI runs as root");
                eprintln!("SKIPPED {what}: needs root");
                continue;
            }
            Needs::Long if !long => {
                eprintln!("SKIPPED {what}: long; set USTACK_README_LONG=1");
                continue;
            }
            _ => {}
        }
        run(&what, &b.text, &repo(), false, limit);
        if b.needs == Needs::Netns && root && !b.text.contains("cargo ") {
            let dir = nobody_dir.get_or_insert_with(nobody_tree);
            run(&format!("{what} as nobody"), &b.text, dir, true, limit);
        }
    }
    if let Some(dir) = nobody_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn docs_api_md_names_every_setting_and_every_missing_method_has_a_reason() {
    let text = std::fs::read_to_string(repo().join("docs/api.md")).expect("docs/api.md");
    let settings = ustack::core::sysctl::SETTINGS.iter();
    for name in settings.chain(ustack::core::sysctl::FIXED.iter().map(|(n, _)| n)) {
        assert!(text.contains(&format!("`{name}`")), "docs/api.md does not list {name}");
    }
    let mut missing = 0;
    for line in text.lines().filter(|l| l.starts_with('|') && l.contains("**missing**")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "{line}");
        assert!(cells[2].len() > 10, "a missing row without a reason: {line}");
        missing += 1;
    }
    assert!(missing > 0);
}
