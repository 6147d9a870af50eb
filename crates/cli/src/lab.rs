//! `ustack lab`: runs the lab's scenarios (every behaviour of the TCP notes, in the
//! simulator), prints PASS or FAIL for each with the reason, and writes the report.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use ustack_lab::registry::{self, Status};
use ustack_lab::report::{self, Verdict};

/// Arguments of `ustack lab`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The scenarios to run, by ID (all of them when none is given; `--list` shows them).
    ids: Vec<String>,
    /// List the scenarios and whether each can run, then exit.
    #[arg(long)]
    list: bool,
    /// Where to write the report (index.html, and per scenario its ladder SVG, pcap, text
    /// trace and plots).
    #[arg(long, default_value = "lab-report")]
    out: PathBuf,
    /// The seed of every scenario's simulation: the same seed gives the same files.
    #[arg(long, default_value_t = registry::DEFAULT_SEED)]
    seed: u64,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    if args.list {
        for s in registry::all() {
            let status = match s.status {
                Status::Ready(_) => "ready".to_string(),
                Status::NotYet(why) => format!("not yet available ({why})"),
            };
            println!("{:<34} {:<4} {}  [{status}]", s.id, s.spec, s.title);
        }
        return Ok(());
    }
    let scenarios: Vec<&'static registry::Scenario> = if args.ids.is_empty() {
        registry::all().iter().collect()
    } else {
        args.ids
            .iter()
            .map(|id| {
                registry::find(id).ok_or_else(|| format!("no scenario {id} (ustack lab --list)"))
            })
            .collect::<Result<_, _>>()?
    };
    fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let started = Instant::now();
    let total = scenarios.len();
    let progress = io::stderr().is_terminal();
    let mut entries = Vec::with_capacity(total);
    let mut failed = 0;
    for (i, scenario) in scenarios.into_iter().enumerate() {
        if progress {
            eprint!("\r\x1b[2K[{}/{total}] {} ...", i + 1, scenario.id);
            let _ = io::stderr().flush();
        } else {
            eprintln!("[{}/{total}] {} ...", i + 1, scenario.id);
        }
        let t0 = Instant::now();
        let mut entry = report::run(scenario, args.seed);
        report::write_entry(&args.out, &mut entry, args.seed).map_err(|e| e.to_string())?;
        let took = t0.elapsed().as_secs_f64();
        if progress {
            eprint!("\r\x1b[2K");
        }
        match &entry.verdict {
            Verdict::Pass => println!("PASS  {:<34} ({took:.2} s)", scenario.id),
            Verdict::Fail(why) => {
                failed += 1;
                println!("FAIL  {:<34} {why}", scenario.id);
            }
            Verdict::NotYet(why) => println!("--    {:<34} not yet available: {why}", scenario.id),
        }
        entries.push(entry);
    }
    let index = args.out.join("index.html");
    fs::write(&index, report::index(&entries, args.seed))
        .map_err(|e| format!("writing {}: {e}", index.display()))?;
    let pass = entries.iter().filter(|e| e.verdict == Verdict::Pass).count();
    let not_yet = entries.iter().filter(|e| matches!(e.verdict, Verdict::NotYet(_))).count();
    println!(
        "{pass} passed, {failed} failed, {not_yet} not yet available, in {:.1} s; report: {}",
        started.elapsed().as_secs_f64(),
        index.display()
    );
    if failed > 0 {
        return Err(format!("{failed} scenario(s) failed"));
    }
    Ok(())
}
