//! `ustack bench`: workloads that measure ustack against the Linux kernel, each a
//! subcommand that prints a table and can write it as JSON.
//!
//! - `paths`: bulk goodput over impaired paths, ustack and Linux sending to a Linux receiver
//!   through `ustack netem`, or ustack to ustack in the simulator (`--sim`).

mod json;
mod paths;

/// Arguments of `ustack bench`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// What to measure.
    #[command(subcommand)]
    workload: Workload,
}

#[derive(clap::Subcommand)]
enum Workload {
    /// Bulk goodput over a grid of paths (rate x round trip x loss): ustack and Linux
    /// sending to a Linux receiver through `ustack netem` (root), side by side with the ratio
    /// per cell; or, with --sim, ustack to ustack in the simulator, in virtual time.
    Paths(paths::Args),
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    match &args.workload {
        Workload::Paths(a) => paths::run(a),
    }
}
