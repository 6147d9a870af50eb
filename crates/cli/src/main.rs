//! The `ustack` command.
//!
//! `decode` (a pcap file, tcpdump style, through ustack's own parsers), `capture` (what the
//! kernel routes into a ustack TUN device), `tun` (the stack on a TUN device running a
//! service), `ss` (the sockets of a running `tun`), `sim` (a transfer between two simulated
//! hosts in virtual time). The lab joins as the stack grows.

#![forbid(unsafe_code)]
// A command-line tool prints; the workspace warns about printing only in libraries.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod capture;
mod decode;
mod describe;
mod sim;
mod ss;
mod tun;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ustack", version, about = "ustack: a userspace TCP/IP stack you can watch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a pcap file, one line per packet, with ustack's own parsers.
    Decode(decode::Args),
    /// Create a TUN device and print (and optionally save) every packet the kernel sends
    /// into it. Needs root or CAP_NET_ADMIN.
    Capture(capture::Args),
    /// Run the stack on a TUN device with a service (echo, discard, source, udp-echo, http,
    /// connect, hold) until SIGINT/SIGTERM. Needs root or CAP_NET_ADMIN.
    Tun(tun::Args),
    /// List the sockets of a running `ustack tun --control PATH`, like `ss -tan`.
    Ss(ss::Args),
    /// Run a TCP transfer between two simulated hosts over one link, in virtual time, and
    /// print goodput, retransmissions and both ends' final states.
    Sim(sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Capture(args) => capture::run(&args),
        Command::Tun(args) => tun::run(&args),
        Command::Ss(args) => ss::run(&args),
        Command::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ustack: {e}");
            ExitCode::FAILURE
        }
    }
}
