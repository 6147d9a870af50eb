//! `ustack bench`: ustack measured against its peers.
//!
//! Without a subcommand, the suite ([`suite`]): the same workloads on ustack,
//! smoltcp and the Linux kernel in one invocation, interleaved round by round, each
//! measurement in a process of its own; a table of medians, ranges and ratios, and JSON.
//! One file per family of workloads: [`bulk`], [`cycles`], [`latency`], [`idle`] (memory and
//! the empty poll), [`checksum`], [`simulator`], [`tun`], [`loopback`]; the in-memory stacks
//! they drive in [`pair`], the kernel's side in [`kernel`], the shared statistics and the
//! progress line in [`stats`], the JSON in [`json`].
//!
//! - `paths`: bulk goodput over impaired paths, ustack and Linux sending to a Linux receiver
//!   through `ustack netem`, or ustack to ustack in the simulator (`--sim`);
//! - `loopback`: the suite's S24 rows alone (ustack loopback, kernel 127.0.0.1, AF_UNIX).

mod bulk;
mod catalogue;
mod checksum;
mod cycles;
mod idle;
mod json;
mod kernel;
mod latency;
mod loopback;
mod pair;
mod paths;
mod simulator;
mod stats;
mod suite;
mod tun;
mod worker;

/// Arguments of `ustack bench`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    /// A workload of its own; without one, the suite: every row on ustack, smoltcp and the
    /// kernel.
    #[command(subcommand)]
    workload: Option<Workload>,

    #[command(flatten)]
    suite: suite::SuiteArgs,
}

#[derive(clap::Subcommand)]
enum Workload {
    /// Bulk goodput over a grid of paths (rate x round trip x loss): ustack and Linux
    /// sending to a Linux receiver through `ustack netem` (root), side by side with the ratio
    /// per cell; or, with --sim, ustack to ustack in the simulator, in virtual time.
    Paths(paths::Args),
    /// SPEC S24, a program talking to itself: ustack's loopback through the blocking API
    /// against the kernel's TCP over 127.0.0.1 and AF_UNIX, bulk and round trip (the suite's
    /// loopback rows, `ustack bench --only loopback`).
    Loopback(suite::LoopbackArgs),
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    match &args.workload {
        Some(Workload::Paths(a)) => paths::run(a),
        Some(Workload::Loopback(a)) => suite::run(&a.suite()),
        None => suite::run(&args.suite),
    }
}
