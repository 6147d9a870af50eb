//! The report: for each scenario its ladder (SVG), pcap, text trace and, for the congestion
//! scenarios, plots, all named after the scenario's ID; and an `index.html` that explains
//! each behaviour, shows its diagram and verdict, and links the files.

use core::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use crate::ladder;
use crate::plots;
use crate::registry::{Run, Scenario, Status};

/// How a scenario came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held.
    Pass,
    /// A check failed: the first failure, in one line.
    Fail(String),
    /// The scenario waits for the stack: why.
    NotYet(&'static str),
}

impl Verdict {
    /// `PASS`, `FAIL` or `NOT YET AVAILABLE`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail(_) => "FAIL",
            Verdict::NotYet(_) => "NOT YET AVAILABLE",
        }
    }

    /// The verdict of a run.
    pub fn of(run: &Run) -> Verdict {
        match run.checks.reason() {
            None => Verdict::Pass,
            Some(reason) => Verdict::Fail(reason),
        }
    }
}

/// One scenario's part of the report.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The scenario.
    pub scenario: &'static Scenario,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its run, when it ran.
    pub run: Option<Run>,
    /// The files written for it, relative to the report's directory.
    pub files: Vec<String>,
}

/// Runs `scenario` with `seed` (or notes why it cannot run).
pub fn run(scenario: &'static Scenario, seed: u64) -> Entry {
    match scenario.status {
        Status::NotYet(why) => {
            Entry { scenario, verdict: Verdict::NotYet(why), run: None, files: Vec::new() }
        }
        Status::Ready(f) => {
            let run = f(seed);
            let verdict = Verdict::of(&run);
            Entry { scenario, verdict, run: Some(run), files: Vec::new() }
        }
    }
}

/// The text trace of a run, its checks and its extra views.
pub fn text(entry: &Entry, seed: u64) -> String {
    let s = entry.scenario;
    let mut out = format!("# {}: {} ({})\n# seed {seed}", s.id, s.title, s.spec);
    if entry.run.as_ref().is_some_and(|r| r.real_time) {
        out.push_str(" (measured in real time: numbers vary from run to run)");
    }
    let _ = writeln!(out, "\n# verdict: {}", entry.verdict.word());
    let Some(run) = &entry.run else { return out };
    // A measurement in real time has no trace of packets and notes to list.
    if !(run.real_time && run.trace.packets.is_empty() && run.trace.notes.is_empty()) {
        out.push_str(&run.trace.to_text());
    }
    out.push_str("\n# checks\n");
    for c in &run.checks.items {
        let _ = writeln!(out, "{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.claim, c.detail);
    }
    for (title, body) in &run.extras {
        let _ = writeln!(out, "\n# {title}\n{body}");
    }
    out
}

/// Writes `entry`'s files into `dir`; fills in `entry.files`.
pub fn write_entry(dir: &Path, entry: &mut Entry, seed: u64) -> io::Result<()> {
    let id = entry.scenario.id;
    let mut files = Vec::new();
    let mut put = |name: String, bytes: &[u8]| -> io::Result<()> {
        fs::write(dir.join(&name), bytes).map_err(|e| {
            io::Error::new(e.kind(), format!("writing {}: {e}", dir.join(&name).display()))
        })?;
        files.push(name);
        Ok(())
    };
    if let Some(run) = &entry.run {
        let verdict = match &entry.verdict {
            Verdict::Fail(why) => format!("FAIL — {why}"),
            v => format!("{} — seed {seed}", v.word()),
        };
        // A run with nothing on the wire and no note (a measurement in real time) has no
        // ladder to draw.
        if !run.trace.packets.is_empty() || !run.trace.notes.is_empty() {
            let svg = ladder::render(run, id, entry.scenario.title, &verdict);
            put(format!("{id}.svg"), svg.as_bytes())?;
        }
        if !run.trace.packets.is_empty() {
            put(format!("{id}.pcap"), &crate::pcap::pcap(&run.trace))?;
        }
        put(format!("{id}.txt"), text(entry, seed).as_bytes())?;
        for (name, svg) in &run.figures {
            put(format!("{id}-{name}.svg"), svg.as_bytes())?;
        }
        if run.plots {
            let series = plots::series(&run.trace);
            put(format!("{id}-window.svg"), plots::window_plot(&series, id).as_bytes())?;
            put(format!("{id}-tseq.svg"), plots::time_sequence_plot(&series, id).as_bytes())?;
        }
    }
    entry.files = files;
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The `index.html` of `entries`.
pub fn index(entries: &[Entry], seed: u64) -> String {
    let pass = entries.iter().filter(|e| e.verdict == Verdict::Pass).count();
    let fail = entries.iter().filter(|e| matches!(e.verdict, Verdict::Fail(_))).count();
    let not_yet = entries.iter().filter(|e| matches!(e.verdict, Verdict::NotYet(_))).count();
    let mut h = String::new();
    h.push_str(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ustack lab</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; margin: 0 auto; max-width: 1240px; padding: 0 16px 40px; color: #212121; }
h1 { margin-bottom: 4px; }
.summary { font-size: 15px; margin: 6px 0 18px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 4px; font-weight: bold; font-size: 13px; color: white; }
.PASS { background: #2e7d32; } .FAIL { background: #c62828; } .NOTYET { background: #757575; }
table.toc { border-collapse: collapse; font-size: 13px; }
table.toc td { padding: 2px 10px 2px 0; }
section { border-top: 1px solid #ccc; margin-top: 26px; padding-top: 6px; }
.notes { background: #fff8e1; border-left: 4px solid #ffb300; padding: 6px 10px; }
ul.checks { font-size: 13px; padding-left: 18px; }
ul.checks li.ok::marker { content: "✓ "; color: #2e7d32; }
ul.checks li.bad::marker { content: "✗ "; color: #c62828; }
pre { background: #f5f5f5; padding: 8px; font-size: 12px; overflow-x: auto; }
img.ladder, img.plot { max-width: 100%; border: 1px solid #e0e0e0; }
.files a { margin-right: 12px; }
</style></head><body>
<h1>ustack lab</h1>
"#,
    );
    let real: Vec<&str> = entries
        .iter()
        .filter(|e| e.run.as_ref().is_some_and(|r| r.real_time))
        .map(|e| e.scenario.id)
        .collect();
    let how = if real.is_empty() {
        format!("every scenario replayed in ustack's simulator in virtual time, seed {seed}")
    } else {
        format!(
            "every scenario replayed in ustack's simulator in virtual time, seed {seed}, but {}, measured in real time",
            real.join(", ")
        )
    };
    let _ = writeln!(
        h,
        r#"<p class="summary"><span class="badge PASS">{pass} PASS</span> <span class="badge FAIL">{fail} FAIL</span> <span class="badge NOTYET">{not_yet} NOT YET AVAILABLE</span> &nbsp; {how}</p>"#
    );
    h.push_str(
        "<p>Each section is one behaviour of TCP: what must happen (from the RFCs and Linux), \
         where the notes the project started from are wrong or loose, the checks the run passed \
         or failed, and the ladder diagram of the run (client left, server right, time down the \
         page; hover an arrow in the opened SVG for the whole segment). The pcap opens in \
         Wireshark; the text trace lists every packet, state change, timer and retransmission.</p>\n",
    );
    h.push_str("<table class=\"toc\">\n");
    for e in entries {
        let class = match e.verdict {
            Verdict::NotYet(_) => "NOTYET",
            _ => e.verdict.word(),
        };
        let _ = writeln!(
            h,
            r##"<tr><td><span class="badge {class}">{}</span></td><td>{}</td><td><a href="#{}">{}</a></td><td>{}</td></tr>"##,
            e.verdict.word(),
            e.scenario.spec,
            e.scenario.id,
            e.scenario.id,
            esc(e.scenario.title)
        );
    }
    h.push_str("</table>\n");
    for e in entries {
        let s = e.scenario;
        let class = match e.verdict {
            Verdict::NotYet(_) => "NOTYET",
            _ => e.verdict.word(),
        };
        let _ = writeln!(
            h,
            r#"<section id="{}"><h2>{} <small>({})</small> <span class="badge {class}">{}</span></h2>"#,
            s.id,
            esc(&format!("{}: {}", s.id, s.title)),
            s.spec,
            e.verdict.word()
        );
        let _ = writeln!(h, "<p>{}</p>", esc(s.shows));
        if let Some(n) = s.notes {
            let _ = writeln!(
                h,
                r#"<p class="notes"><b>Where the notes are wrong or loose.</b> {}</p>"#,
                esc(n)
            );
        }
        match &e.verdict {
            Verdict::NotYet(why) => {
                let _ = writeln!(h, "<p><b>Not yet available:</b> {}.</p>", esc(why));
            }
            Verdict::Fail(why) => {
                let _ = writeln!(h, r#"<p style="color:#c62828"><b>FAIL:</b> {}</p>"#, esc(why));
            }
            Verdict::Pass => {}
        }
        if let Some(run) = &e.run {
            if run.real_time {
                h.push_str("<p><i>Measured in real time on this machine: the numbers vary from run to run.</i></p>\n");
            }
            h.push_str("<ul class=\"checks\">\n");
            for c in &run.checks.items {
                let _ = writeln!(
                    h,
                    r#"<li class="{}">{} — <code>{}</code></li>"#,
                    if c.ok { "ok" } else { "bad" },
                    esc(&c.claim),
                    esc(&c.detail)
                );
            }
            h.push_str("</ul>\n");
            for (title, body) in &run.extras {
                let _ = writeln!(h, "<p><b>{}</b></p><pre>{}</pre>", esc(title), esc(body));
            }
            h.push_str(r#"<p class="files">"#);
            for f in &e.files {
                let _ = write!(h, r#"<a href="{f}">{f}</a>"#);
            }
            h.push_str("</p>\n");
            // The plots and figures: every SVG but the ladder.
            let ladder = format!("{}.svg", s.id);
            for f in e.files.iter().filter(|f| f.ends_with(".svg") && **f != ladder) {
                let _ = writeln!(h, r#"<p><img class="plot" src="{f}" alt="{f}"></p>"#);
            }
            if e.files.iter().any(|f| *f == format!("{}.svg", s.id)) {
                let _ = writeln!(
                    h,
                    r#"<p><a href="{0}.svg"><img class="ladder" src="{0}.svg" alt="ladder diagram of {0}"></a></p>"#,
                    s.id
                );
            }
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h
}
