//! `ustack bench` without a subcommand: every workload on ustack, smoltcp and the kernel in
//! one invocation, interleaved round by round (ustack, smoltcp, kernel, ustack, ...), each
//! measurement in a process of its own (the same executable, `--worker`), so that no row
//! inherits the memory or the caches another left.
//!
//! The kernel's rows run in a network namespace the bench creates (its loopback only) and
//! deletes at the end, when it runs as root; otherwise on 127.0.0.1 of the current
//! namespace, said in a note.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as StdInstant};

use super::catalogue::{self, Peer, Row, Scale, Target, Workload};
use super::json::Json;
use super::stats::{self, Progress, Summary};

/// Arguments of `ustack bench` without a subcommand.
#[derive(clap::Args)]
pub(crate) struct SuiteArgs {
    /// Small and short: every row, tiny counts (1k idle connections), 40 ms per
    /// measurement, one round; under a minute. CI's smoke run (no thresholds).
    #[arg(long)]
    quick: bool,

    /// Rounds: each workload runs this many times on each peer, interleaved [default: 5, or
    /// 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,

    /// Only these workloads, comma-separated: families (bulk, cycles, rss, poll, latency,
    /// checksum, sim, tun, loopback), workload ids (bulk-1500, bulk-65535, bulk-1500-idle,
    /// cycles, cycles-idle, rss-idle, rss-big, poll-idle, poll, latency, checksum, sim, tun-k2u,
    /// tun-u2k, tun-k2u-offload, tun-u2k-offload, tun-k2u-queues, loopback-bulk, loopback-rtt)
    /// or row keys (as in the JSON).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    only: Vec<String>,

    /// Also write the results to FILE as JSON: every round of every peer, medians, ranges
    /// and ratios per row.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Print the table as Markdown.
    #[arg(long)]
    markdown: bool,

    /// Internal: run one measurement and print it (the suite runs itself this way).
    #[arg(long, value_name = "ID", hide = true)]
    worker: Option<String>,

    /// Internal: the peer of --worker.
    #[arg(long, value_name = "PEER", hide = true, requires = "worker")]
    peer: Option<String>,

    /// Internal: the network namespace --worker enters first.
    #[arg(long, value_name = "NS", hide = true, requires = "worker")]
    netns: Option<String>,
}

/// Arguments of `ustack bench loopback`: the suite's, but for --only.
#[derive(clap::Args)]
pub(crate) struct LoopbackArgs {
    /// One short round (40 ms per measurement).
    #[arg(long)]
    quick: bool,

    /// Rounds, interleaved [default: 5, or 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,

    /// Also write the results to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Print the table as Markdown.
    #[arg(long)]
    markdown: bool,
}

impl LoopbackArgs {
    /// The suite's arguments that run the loopback rows alone.
    pub(crate) fn suite(&self) -> SuiteArgs {
        SuiteArgs {
            quick: self.quick,
            rounds: self.rounds,
            only: vec!["loopback".to_string()],
            json: self.json.clone(),
            markdown: self.markdown,
            worker: None,
            peer: None,
            netns: None,
        }
    }
}

const NS_PREFIX: &str = "ubench-";

/// The bench's network namespace, deleted when dropped.
struct Namespace {
    name: String,
}

impl Namespace {
    /// A namespace with its loopback up, room for many connections (ports 1024-65535, a deep
    /// accept queue), or why there is none.
    fn create() -> Result<Namespace, String> {
        remove_stale();
        let name = format!("{NS_PREFIX}{}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("ip netns add: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip netns add {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let ns = Namespace { name };
        crate::netem::ip(&ns.name, &["link", "set", "dev", "lo", "up"])?;
        crate::netem::run_in(&ns.name, || {
            for (key, value) in [
                ("ipv4/ip_local_port_range", "1024 65535"),
                ("core/somaxconn", "65535"),
                ("ipv4/tcp_max_syn_backlog", "65535"),
            ] {
                let path = format!("/proc/sys/net/{key}");
                std::fs::write(&path, value)
                    .map_err(|e| format!("writing {value} to {path}: {e}"))?;
            }
            Ok(())
        })?;
        Ok(ns)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.name]).output();
    }
}

/// Deletes the namespaces of earlier runs whose process is gone.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(NS_PREFIX) else { continue };
        if !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !std::path::Path::new("/proc").join(pid).exists()
        {
            let _ = Command::new("ip").args(["netns", "delete", &name]).output();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// What one worker process gave.
#[derive(Debug, Clone)]
enum Got {
    Values(BTreeMap<String, f64>),
    Skip(String),
    Error(String),
}

/// The results of one workload on one peer, round by round.
#[derive(Default)]
struct Cell {
    rounds: Vec<Got>,
    notes: Vec<String>,
}

impl Cell {
    /// The rounds' values of `key` (NaN where a round has none).
    fn series(&self, key: &str) -> Vec<f64> {
        self.rounds
            .iter()
            .map(|g| match g {
                Got::Values(v) => v.get(key).copied().unwrap_or(f64::NAN),
                _ => f64::NAN,
            })
            .collect()
    }

    /// Why there is no value: the first skip or error.
    fn missing(&self) -> Option<String> {
        self.rounds.iter().find_map(|g| match g {
            Got::Skip(r) => Some(format!("skipped: {r}")),
            Got::Error(e) => Some(format!("error: {e}")),
            Got::Values(_) => None,
        })
    }

    fn extras(&self, key: &str) -> Vec<(String, f64)> {
        let prefix = format!("{key}.");
        let mut names: Vec<String> = Vec::new();
        for g in &self.rounds {
            if let Got::Values(v) = g {
                for k in v.keys().filter(|k| k.starts_with(&prefix)) {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
        }
        names
            .into_iter()
            .map(|k| {
                let m = stats::median(&self.series(&k));
                (k[prefix.len()..].to_string(), m)
            })
            .collect()
    }
}

pub(crate) fn run(args: &SuiteArgs) -> Result<(), String> {
    let scale = if args.quick { Scale::QUICK } else { Scale::FULL };
    if let Some(id) = &args.worker {
        let peer = args.peer.as_deref().ok_or("--worker needs --peer")?;
        return super::worker::run(id, peer, &scale, args.netns.as_deref());
    }
    let workloads = catalogue::select(&args.only)?;
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 });
    let root = is_root();
    let wants_kernel =
        workloads.iter().any(|w| w.peers.iter().any(|p| p.uses_kernel()) || w.family == "tun");
    let mut notes = Vec::new();
    let ns = if root && wants_kernel {
        Some(Namespace::create()?)
    } else {
        if wants_kernel {
            notes.push(
                "not root: the kernel's rows run on 127.0.0.1 of the current network namespace, \
                 the TUN rows are skipped"
                    .to_string(),
            );
        }
        None
    };
    let load_before = load();
    let started = StdInstant::now();
    let exe = std::env::current_exe().map_err(|e| format!("finding the executable: {e}"))?;
    let mut cells: BTreeMap<(&str, &str), Cell> = BTreeMap::new();
    let mut progress = Progress::new();
    let per_round: usize = workloads.iter().map(|w| w.peers.len()).sum();
    for round in 1..=rounds {
        let mut done = 0;
        for w in &workloads {
            for &peer in w.peers {
                done += 1;
                progress.show(&format!(
                    "round {round}/{rounds}, {done}/{per_round}: {} on {}",
                    w.id,
                    peer.name()
                ));
                let netns = ns.as_ref().filter(|_| peer.uses_kernel() || w.family == "tun");
                let (got, worker_notes) =
                    spawn(&exe, w, peer, args.quick, netns.map(|n| n.name.as_str()));
                let cell = cells.entry((w.id, peer.name())).or_default();
                for n in worker_notes {
                    if !cell.notes.contains(&n) {
                        cell.notes.push(n);
                    }
                }
                cell.rounds.push(got);
            }
        }
    }
    progress.finish();
    drop(ns);
    let report = Report {
        scale,
        rounds,
        workloads,
        cells,
        notes,
        load_before,
        load_after: load(),
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", if args.markdown { report.markdown() } else { report.text() });
    if let Some(path) = &args.json {
        std::fs::write(path, report.json().pretty())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The load averages (`/proc/loadavg`): the machine is shared, so the table says how busy.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

/// Runs one measurement in a child process and reads what it printed.
fn spawn(
    exe: &std::path::Path,
    w: &Workload,
    peer: Peer,
    quick: bool,
    netns: Option<&str>,
) -> (Got, Vec<String>) {
    let mut args: Vec<String> =
        vec!["bench".into(), "--worker".into(), w.id.into(), "--peer".into(), peer.name().into()];
    if quick {
        args.push("--quick".into());
    }
    if let Some(ns) = netns {
        args.extend(["--netns".into(), ns.into()]);
    }
    // Idle kernel connections take two descriptors each: raise the child's soft limit as far
    // as the hard limit lets it, or to 1M when it can (root with CAP_SYS_RESOURCE); a shell's
    // `ulimit`, then the executable in its place.
    let mut cmd = if peer == Peer::Kernel {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(
                "ulimit -n 1048576 2>/dev/null || ulimit -Sn \"$(ulimit -Hn)\" 2>/dev/null; \
                 exec \"$0\" \"$@\"",
            )
            .arg(exe)
            .args(&args);
        c
    } else {
        let mut c = Command::new(exe);
        c.args(&args);
        c
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let limit = if quick { Duration::from_secs(120) } else { Duration::from_secs(900) };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Got::Error(format!("starting {}: {e}", exe.display())), vec![]),
    };
    // Read both pipes on threads so a chatty child never blocks on a full pipe.
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let start = StdInstant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("ran past its bound of {} s and was killed", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(format!("waiting: {e}")),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let status = match status {
        Ok(s) => s,
        Err(e) => return (Got::Error(e), vec![]),
    };
    if !status.success() {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        return (Got::Error(format!("{status}: {last}")), vec![]);
    }
    parse(&stdout)
}

/// A worker's output: `KEY VALUE`, `note: TEXT`, `skip: REASON` lines.
fn parse(stdout: &str) -> (Got, Vec<String>) {
    let mut values = BTreeMap::new();
    let mut notes = Vec::new();
    for line in stdout.lines() {
        if let Some(reason) = line.strip_prefix("skip: ") {
            return (Got::Skip(reason.to_string()), notes);
        } else if let Some(note) = line.strip_prefix("note: ") {
            notes.push(note.to_string());
        } else if let Some((k, v)) = line.split_once(' ') {
            match v.parse::<f64>() {
                Ok(v) => {
                    values.insert(k.to_string(), v);
                }
                Err(_) => return (Got::Error(format!("unreadable output line {line:?}")), notes),
            }
        }
    }
    (Got::Values(values), notes)
}

/// Everything a run measured.
struct Report {
    scale: Scale,
    rounds: u32,
    workloads: Vec<&'static Workload>,
    cells: BTreeMap<(&'static str, &'static str), Cell>,
    notes: Vec<String>,
    load_before: String,
    load_after: String,
    seconds: f64,
}

/// One line of the table: a row's ustack figure, or a peer's beside it.
struct Line {
    title: String,
    unit: &'static str,
    who: String,
    value: String,
    ratio: String,
    target: String,
}

impl Report {
    fn cell(&self, w: &Workload, p: Peer) -> Option<&Cell> {
        self.cells.get(&(w.id, p.name()))
    }

    /// The lines of the table, row by row: ustack's first, then one per peer (or the
    /// target as the reference when the row has no peer).
    fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        for w in &self.workloads {
            for row in w.rows {
                let title = self.scale.title(row.title);
                let us = self.cell(w, Peer::Ustack);
                let us_series = us.map(|c| c.series(row.key)).unwrap_or_default();
                let us_sum = Summary::of(&us_series);
                let value = match us.and_then(|c| c.missing()).filter(|_| us_sum.median.is_nan()) {
                    Some(why) => why,
                    None => fmt_summary(&us_sum),
                };
                lines.push(Line {
                    title,
                    unit: row.unit,
                    who: "ustack".into(),
                    value,
                    ratio: String::new(),
                    target: target_line(row, &us_sum, self.ratio_median(w, row, row_peer(row))),
                });
                let peers: Vec<Peer> =
                    w.peers.iter().copied().filter(|p| *p != Peer::Ustack).collect();
                if peers.is_empty() {
                    lines.push(Line {
                        title: String::new(),
                        unit: "",
                        who: "reference".into(),
                        value: reference(row),
                        ratio: "(no peer)".into(),
                        target: String::new(),
                    });
                }
                for p in peers {
                    let cell = self.cell(w, p);
                    let series = cell.map(|c| c.series(row.key)).unwrap_or_default();
                    let sum = Summary::of(&series);
                    let value = match cell.and_then(|c| c.missing()).filter(|_| sum.median.is_nan())
                    {
                        Some(why) => why,
                        None => fmt_summary(&sum),
                    };
                    let ratios = ratios(row, &us_series, &series);
                    let ratio = if ratios.iter().all(|r| r.is_nan()) {
                        "-".to_string()
                    } else {
                        format!(
                            "{} [{}]",
                            stats::num(stats::median(&ratios)),
                            ratios.iter().map(|r| stats::num(*r)).collect::<Vec<_>>().join(" ")
                        )
                    };
                    lines.push(Line {
                        title: String::new(),
                        unit: "",
                        who: p.name().into(),
                        value,
                        ratio,
                        target: String::new(),
                    });
                }
            }
        }
        lines
    }

    fn ratio_median(&self, w: &Workload, row: &Row, peer: Option<Peer>) -> f64 {
        let Some(peer) = peer else { return f64::NAN };
        let us = self.cell(w, Peer::Ustack).map(|c| c.series(row.key)).unwrap_or_default();
        let them = self.cell(w, peer).map(|c| c.series(row.key)).unwrap_or_default();
        stats::median(&ratios(row, &us, &them))
    }

    fn header(&self) -> Vec<String> {
        let mut h = vec![
            format!(
                "ustack bench{}: {} round{} interleaved (ustack, smoltcp, kernel, ...), {} s",
                if self.scale.quick { " --quick" } else { "" },
                self.rounds,
                if self.rounds == 1 { "" } else { "s" },
                stats::num(self.seconds)
            ),
            format!(
                "machine: {}; load average {} before, {} after",
                machine(),
                self.load_before,
                self.load_after
            ),
            "each figure: median [min-max] over the rounds; ratio: how many times better ustack \
             is (above 1: ustack ahead), per round [..] and their median"
                .to_string(),
        ];
        h.extend(self.notes.iter().cloned());
        let mut seen: Vec<&String> = Vec::new();
        for c in self.cells.values() {
            for n in &c.notes {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
        }
        h.extend(seen.into_iter().cloned());
        h
    }

    fn text(&self) -> String {
        let lines = self.lines();
        let head = ["workload", "unit", "", "median [range]", "ratio [per round]", "target"];
        let cols = |l: &Line| -> [String; 6] {
            [
                l.title.clone(),
                l.unit.to_string(),
                l.who.clone(),
                l.value.clone(),
                l.ratio.clone(),
                l.target.clone(),
            ]
        };
        let mut widths = head.map(str::len);
        for l in &lines {
            for (i, c) in cols(l).iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for h in self.header() {
            out.push_str(&format!("# {h}\n"));
        }
        let fmt = |cells: [String; 6]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let w = widths[i];
                s.push_str(&format!("{c:<w$}  "));
            }
            s.trim_end().to_string() + "\n"
        };
        out.push_str(&fmt(head.map(String::from)));
        for l in &lines {
            out.push_str(&fmt(cols(l)));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        for h in self.header() {
            out.push_str(&format!("{h}  \n"));
        }
        out.push_str("\n| workload | unit | who | median [range] | ratio [per round] | target |\n");
        out.push_str("|---|---|---|---:|---|---|\n");
        for l in self.lines() {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                l.title, l.unit, l.who, l.value, l.ratio, l.target
            ));
        }
        out
    }

    fn json(&self) -> Json {
        let mut rows = Vec::new();
        for w in &self.workloads {
            for row in w.rows {
                let mut peers = Vec::new();
                let us_series =
                    self.cell(w, Peer::Ustack).map(|c| c.series(row.key)).unwrap_or_default();
                for &p in w.peers {
                    let Some(cell) = self.cell(w, p) else { continue };
                    let series = cell.series(row.key);
                    let sum = Summary::of(&series);
                    let mut o: Vec<(String, Json)> = vec![
                        ("peer".into(), Json::Str(p.name().into())),
                        ("median".into(), Json::Num(sum.median)),
                        ("min".into(), Json::Num(sum.min)),
                        ("max".into(), Json::Num(sum.max)),
                        (
                            "rounds".into(),
                            Json::Arr(series.iter().map(|v| Json::Num(*v)).collect()),
                        ),
                    ];
                    if p != Peer::Ustack {
                        let r = ratios(row, &us_series, &series);
                        o.push(("ratio_median".into(), Json::Num(stats::median(&r))));
                        o.push((
                            "ratio_rounds".into(),
                            Json::Arr(r.iter().map(|v| Json::Num(*v)).collect()),
                        ));
                    }
                    for (k, v) in cell.extras(row.key) {
                        o.push((k, Json::Num(v)));
                    }
                    if let Some(why) = cell.missing() {
                        o.push(("missing".into(), Json::Str(why)));
                    }
                    if !cell.notes.is_empty() {
                        o.push((
                            "notes".into(),
                            Json::Arr(cell.notes.iter().map(|n| Json::Str(n.clone())).collect()),
                        ));
                    }
                    peers.push(Json::Obj(o));
                }
                let us_sum = Summary::of(&us_series);
                let met = met(row, &us_sum, self.ratio_median(w, row, row_peer(row)));
                rows.push(Json::obj([
                    ("key", Json::Str(row.key.into())),
                    ("workload", Json::Str(w.id.into())),
                    ("title", Json::Str(self.scale.title(row.title))),
                    ("unit", Json::Str(row.unit.into())),
                    ("better", Json::Str(row.better.name().into())),
                    ("target", Json::Str(row.target_text.into())),
                    (
                        "target_met",
                        match met {
                            Some(true) => Json::Str("yes".into()),
                            Some(false) => Json::Str("no".into()),
                            None => Json::Str("-".into()),
                        },
                    ),
                    ("peers", Json::Arr(peers)),
                ]));
            }
        }
        Json::obj([
            ("command", Json::Str(std::env::args().collect::<Vec<_>>().join(" "))),
            ("quick", Json::Str(self.scale.quick.to_string())),
            ("rounds", Json::Num(f64::from(self.rounds))),
            ("seconds", Json::Num(self.seconds)),
            ("machine", Json::Str(machine())),
            ("load_before", Json::Str(self.load_before.clone())),
            ("load_after", Json::Str(self.load_after.clone())),
            (
                "scale",
                Json::obj([
                    ("time_ms", Json::Num(self.scale.time.as_secs_f64() * 1e3)),
                    ("idle", Json::Num(self.scale.idle as f64)),
                    ("big", Json::Num(self.scale.big as f64)),
                    ("poll_sockets", Json::Num(self.scale.poll_sockets as f64)),
                    ("sim_bytes", Json::Num(self.scale.sim_bytes as f64)),
                ]),
            ),
            ("notes", Json::Arr(self.header().into_iter().skip(3).map(Json::Str).collect())),
            ("rows", Json::Arr(rows)),
        ])
    }
}

/// The peer a row's target names.
fn row_peer(row: &Row) -> Option<Peer> {
    match row.target {
        Target::Ratio(p, _) => Some(p),
        _ => None,
    }
}

/// The ratio per round (NaN where either side has no value).
fn ratios(row: &Row, us: &[f64], them: &[f64]) -> Vec<f64> {
    us.iter().zip(them).map(|(u, t)| row.better.ratio(*u, *t)).collect()
}

fn fmt_summary(s: &Summary) -> String {
    if s.median.is_nan() {
        return "-".to_string();
    }
    if s.min == s.max {
        return stats::num(s.median);
    }
    format!("{} [{}-{}]", stats::num(s.median), stats::num(s.min), stats::num(s.max))
}

/// Whether the row meets its target; `None` when it has none or nothing was measured.
fn met(row: &Row, us: &Summary, ratio: f64) -> Option<bool> {
    let (v, ok) = match row.target {
        Target::None => return None,
        Target::Ratio(_, at_least) => (ratio, ratio >= at_least),
        Target::AtLeast(x) => (us.median, us.median >= x),
        Target::AtMost(x) => (us.median, us.median <= x),
    };
    if v.is_nan() { None } else { Some(ok) }
}

fn target_line(row: &Row, us: &Summary, ratio: f64) -> String {
    if row.target == Target::None {
        return String::new();
    }
    match met(row, us, ratio) {
        Some(true) => format!("{}: met", row.target_text),
        Some(false) => format!("{}: not met", row.target_text),
        None => row.target_text.to_string(),
    }
}

/// What a row without a peer is read against: its target.
fn reference(row: &Row) -> String {
    match row.target {
        Target::AtLeast(x) | Target::AtMost(x) => {
            format!("target: {} ({})", stats::num(x), row.target_text)
        }
        _ => "no target".to_string(),
    }
}

/// The CPU model, the number of CPUs and the kernel release.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".to_string());
    format!("{cpu}, {cpus} CPUs, Linux {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_output_is_read_back() {
        let (got, notes) = parse("note: kernel in a namespace\nbulk_1500 3.5\nbulk_1500.x 7\n");
        assert_eq!(notes, ["kernel in a namespace"]);
        match got {
            Got::Values(v) => {
                assert_eq!(v.get("bulk_1500"), Some(&3.5));
                assert_eq!(v.get("bulk_1500.x"), Some(&7.0));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse("skip: needs root\n").0, Got::Skip(r) if r == "needs root"));
        assert!(matches!(parse("bulk_1500 fast\n").0, Got::Error(_)));
    }
}
