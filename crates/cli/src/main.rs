//! The `ustack` command.
//!
//! `lab` (every behaviour of the TCP notes replayed in the simulator, checked and drawn),
//! `decode` (a pcap or pcapng file, tcpdump style, through ustack's own parsers), `capture` (what the
//! kernel routes into a ustack TUN device), `tun` (the stack on a TUN device running a
//! service), `ss` (the sockets of a running `tun`), `sim` (a transfer between two simulated
//! hosts in virtual time), `netem` (an impaired path between two network namespaces), `bench`
//! (ustack measured against smoltcp and Linux).
//!
//! Exit status: 0 on success, 1 on an error, 101 (as for a panic of the main thread) when any
//! thread panicked, whatever the command's own outcome.

#![forbid(unsafe_code)]
// A command-line tool prints; the workspace warns about printing only in libraries.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod capture;
mod decode;
mod describe;
mod lab;
mod netem;
mod settings;
mod sim;
mod ss;
mod tun;
mod units;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ustack", version, about = "ustack: a userspace TCP/IP stack you can watch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay every behaviour of the TCP notes in the simulator, check each against the RFCs
    /// and Linux (PASS/FAIL), and write a report: ladder diagrams, pcaps, traces, plots and
    /// index.html. Exits non-zero when a scenario fails.
    Lab(lab::Args),
    /// Decode a capture file (pcap or pcapng), one line per packet, with ustack's own parsers.
    Decode(decode::Args),
    /// Create a TUN device and print (and optionally save) every packet the kernel sends
    /// into it. Needs root or CAP_NET_ADMIN.
    Capture(capture::Args),
    /// Run the stack on a TUN device with a service (echo, discard, source, udp-echo, http,
    /// hold, connect, forward) until SIGINT/SIGTERM, or for connect until its connection
    /// closes. Needs CAP_NET_ADMIN (root, or a namespace of one's own: unshare -Urn). Exits 0
    /// after a clean stop, non-zero on an error, 101 when any thread panicked.
    Tun(tun::Args),
    /// List the sockets of a running `ustack tun --control PATH`, like `ss -tan` (-i
    /// internals, -e timers), or its counters like `nstat` (-s).
    Ss(ss::Args),
    /// Run a TCP transfer between two simulated hosts over one link, in virtual time, and
    /// print goodput, retransmissions and both ends' final states.
    Sim(sim::SimArgs),
    /// Impair the path between two network namespaces in user space (no qdisc needed): a TUN
    /// device in each, packets relayed through the simulator's link model in real time, until
    /// SIGINT/SIGTERM; then the link's counters, and the devices are removed. Needs root.
    Netem(netem::Args),
    /// Measure ustack against smoltcp and the Linux kernel: without a subcommand, every
    /// workload of the suite on all three in one run, interleaved, with medians, ranges and
    /// ratios (--quick, --rounds, --only, --json); `paths`: bulk goodput over a grid of
    /// impaired paths, through netem or in the simulator; `loopback`: the suite's S24 rows.
    Bench(bench::Args),
}

/// The exit status when a thread panicked (Rust's own for a panic of the main thread).
const PANIC_EXIT: u8 = 101;

/// Set by the panic hook: a panic on any thread, even one nobody joins, makes `ustack` exit
/// with [`PANIC_EXIT`].
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Whether a thread has panicked.
pub(crate) fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// The exit code for a command whose own outcome is `code`: [`PANIC_EXIT`] after a panic.
pub(crate) fn exit_code(code: u8) -> u8 {
    if panicked() { PANIC_EXIT } else { code }
}

/// Installs a panic hook that records the panic (for [`panicked`]) and then prints it as the
/// default hook does.
fn record_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        default_hook(info);
    }));
}

fn main() -> ExitCode {
    record_panics();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lab(args) => lab::run(&args),
        Command::Decode(args) => decode::run(&args),
        Command::Capture(args) => capture::run(&args),
        Command::Tun(args) => tun::run(&args),
        Command::Ss(args) => ss::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Netem(args) => netem::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ustack: {e}");
            1
        }
    };
    if panicked() {
        eprintln!("ustack: a thread panicked (see above)");
    }
    ExitCode::from(exit_code(code))
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand and option (unique names and
    /// groups, valid defaults): a mistake there panics at parse time for every user.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// A panic on a thread nobody joins (a service's accept thread, say) still turns the
    /// command's outcome into exit status 101, a success included.
    #[test]
    fn a_panic_on_any_thread_makes_the_exit_status_101() {
        super::record_panics();
        assert_eq!((super::exit_code(0), super::exit_code(1)), (0, 1), "no panic yet");
        let t = std::thread::spawn(|| panic!("a deliberate panic on a service thread"));
        assert!(t.join().is_err());
        assert!(super::panicked());
        assert_eq!((super::exit_code(0), super::exit_code(1)), (101, 101));
    }
}
