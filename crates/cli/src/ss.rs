//! `ustack ss`: the sockets of a running `ustack tun`, like `ss -tan` (SPEC S2, S10).

use std::path::PathBuf;

/// Arguments of `ustack ss`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The control socket of the running instance (`ustack tun --control PATH`).
    #[arg(long)]
    control: PathBuf,
    /// TCP sockets.
    #[arg(short = 't', long = "tcp")]
    tcp: bool,
    /// UDP sockets.
    #[arg(short = 'u', long = "udp")]
    udp: bool,
    /// Only listening sockets.
    #[arg(short = 'l', long = "listening")]
    listening: bool,
    /// The counters, like `netstat -s`, instead of the sockets.
    #[arg(short = 's', long = "summary")]
    summary: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let request = if args.summary {
        "stats".to_string()
    } else {
        let mut r = String::from("ss");
        if args.tcp {
            r.push_str(" t");
        }
        if args.udp {
            r.push_str(" u");
        }
        if args.listening {
            r.push_str(" l");
        }
        r
    };
    let out = crate::tun::query(&args.control, &request)?;
    print!("{out}");
    Ok(())
}
