//! `ustack lab`: the list, a run of every scenario, the files of one, and its errors.

use std::path::PathBuf;
use std::process::Command;

fn ustack(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ustack")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ustack-lab-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn list_names_every_scenario_and_says_whether_it_runs() {
    let (code, out, err) = ustack(&["lab", "--list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.lines().count() >= 34, "{out}");
    let line = |id: &str| {
        out.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} missing:\n{out}"))
    };
    assert!(line("s5-lost-syn ").ends_with("[ready]"));
    for id in
        ["s6-fastopen ", "s8-syn-flood-cookies ", "s20-cubic-vs-newreno ", "s24-loopback-vs-unix "]
    {
        assert!(line(id).ends_with("[ready]"), "{out}");
    }
    assert!(!out.contains("not yet available"), "every scenario runs now: {out}");
}

/// The README's first command: every available scenario passes, nothing waiting is reported
/// as passing, and the report is written.
#[test]
fn the_whole_lab_passes_every_available_scenario_and_writes_the_report() {
    let dir = out_dir("all");
    let (code, out, err) = ustack(&["lab", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("FAIL"), "{out}");
    let pass = out.lines().filter(|l| l.starts_with("PASS  ")).count();
    let waiting = out.lines().filter(|l| l.contains("not yet available:")).count();
    assert!(pass >= 34 && waiting == 0, "{out}");
    let summary = out.lines().last().unwrap();
    assert!(
        summary.starts_with(&format!("{pass} passed, 0 failed, {waiting} not yet available")),
        "{summary}"
    );
    // A progress line per scenario on stderr.
    assert!(err.lines().filter(|l| l.starts_with('[')).count() >= pass + waiting, "{err}");
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        index.contains(&format!("{pass} PASS"))
            && index.contains(&format!("{waiting} NOT YET AVAILABLE"))
    );
    for id in ["s5-lost-syn", "s12-time-wait-lost-last-ack", "s20-slow-start"] {
        for ext in ["svg", "pcap", "txt"] {
            assert!(dir.join(format!("{id}.{ext}")).is_file(), "{id}.{ext}");
        }
        assert!(index.contains(&format!(r#"src="{id}.svg""#)), "{id} ladder not in index.html");
    }
    for plot in ["s20-slow-start-window.svg", "s20-slow-start-tseq.svg"] {
        let svg = std::fs::read_to_string(dir.join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{plot}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_scenario_writes_its_ladder_pcap_and_trace() {
    let dir = out_dir("one");
    let (code, out, err) =
        ustack(&["lab", "s5-lost-syn", "--out", dir.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("PASS  s5-lost-syn"), "{out}");
    let trace = std::fs::read_to_string(dir.join("s5-lost-syn.txt")).unwrap();
    assert!(trace.starts_with("# s5-lost-syn: ") && trace.contains("# seed 3"), "{trace}");
    assert_eq!(trace.matches("Flags [S]").count(), 7);
    assert!(trace.contains("connection failed: connection timed out"));
    // The pcap: classic nanosecond pcap of raw IP, the 7 SYNs at 0, 1, 3, ... 63 s.
    let pcap = std::fs::read(dir.join("s5-lost-syn.pcap")).unwrap();
    assert_eq!(&pcap[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(u32::from_le_bytes(pcap[20..24].try_into().unwrap()), 101);
    let mut at = 24;
    let mut secs = Vec::new();
    while at + 16 <= pcap.len() {
        secs.push(u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap()));
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + len;
    }
    assert_eq!(secs, [0, 1, 3, 7, 15, 31, 63]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_scenario_id_fails_and_names_the_list() {
    let dir = out_dir("unknown");
    let (code, _, err) = ustack(&["lab", "s99-nothing", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no scenario s99-nothing") && err.contains("ustack lab --list"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
