//! `ustack ss`: the sockets of a running `ustack tun`, like `ss -tan`; with `-i` each
//! connection's internals like `ss -tin`, with `-e` its timer like `ss -o`; `-s` the
//! counters like `nstat -az`, by Linux's names.

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
    /// Each TCP connection's internals on a line under it, like `ss -tin`: congestion
    /// control, rto, rtt/rttvar, mss, cwnd and ssthresh (segments), bytes acked and
    /// received, send rate, unacked, retrans (RTOs in a row / total), lost, sacked,
    /// rcv_space, minrtt, and ustack's ca_state (open, recovery, loss).
    #[arg(short = 'i', long = "info")]
    info: bool,
    /// Each TCP connection's timer, like `ss -o`: `timer:(on,200ms,0)` (on = retransmission,
    /// persist, keepalive, timewait; the count is RTOs in a row, or probes).
    #[arg(short = 'e', long = "extended", visible_short_alias = 'o')]
    extended: bool,
    /// The counters instead of the sockets, like `nstat -az`: one a line, by their Linux MIB
    /// names (IpInReceives, TcpRetransSegs, TcpExtListenDrops, ...); ustack's own counters
    /// start with `Ustack`.
    #[arg(short = 's', long = "summary")]
    summary: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let request = if args.summary {
        "nstat".to_string()
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
        if args.info {
            r.push_str(" i");
        }
        if args.extended {
            r.push_str(" e");
        }
        r
    };
    let out = crate::tun::query(&args.control, &request)?;
    print!("{out}");
    Ok(())
}
