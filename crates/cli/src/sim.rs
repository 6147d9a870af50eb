//! `ustack sim`: a TCP transfer between two simulated hosts over one link, in virtual time.
//!
//! The client (10.0.0.1, or 2001:db8::1 with `--ipv6`) connects to the server (10.0.0.2:5001,
//! or [2001:db8::2]:5001) and sends `--bytes` bytes;
//! the server checks every byte (exactly once, in order), both close, and the client's
//! TIME-WAIT runs out. Everything random follows from `--seed`: the same seed replays the
//! same run, pcap bytes included.

use std::path::PathBuf;

use ustack::core::Counters;
use ustack::core::tcp_engine::{BufferSizes, DropReason, TcpConfig, TcpState};
use ustack_sim::scenario::{BulkReport, BulkTransfer, ConnSummary, Scenario, ScenarioRun, Setup};
use ustack_sim::{Bounds, Duration, GilbertElliott, LinkConfig, LinkStats, TapPoint, TimedBursts};

use crate::units;

/// Arguments of `ustack sim`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("burst_model").args(["burst_len", "burst_packets"])))]
pub(crate) struct SimArgs {
    /// Link rate, each direction: bits per second (`100000`) or with a unit: `500kbit`,
    /// `10mbit`, `1gbit` (powers of 1000; `kibit`, `mibit`, `gibit` for powers of 1024; as in
    /// tc, `kbps`, `mbps`, `gbps` are bytes per second).
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rate: u64,

    /// One-way propagation delay: `10ms`, `1s`, `250us`, `0`.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    delay: Duration,

    /// Probability that a packet is lost, each direction: `0.05` or `5%`. Drawn for each
    /// packet on its own, so losses come one at a time (for losses in bursts, see
    /// --burst-loss).
    #[arg(long, value_name = "P", allow_negative_numbers = true,
          value_parser = |s: &str| parse_probability("loss", s))]
    loss: f64,

    /// Bytes to transfer: `1000`, `1MB` (10^6), `64MiB` (64 x 2^20); kB, MB, GB and KiB, MiB,
    /// GiB.
    #[arg(long, value_name = "N", value_parser = parse_bytes)]
    bytes: u64,

    /// Seed of every random draw: a seed replays its run exactly, pcap bytes included.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,

    /// Write the link's packets to FILE as they enter it (both directions, lost ones
    /// included): pcap, LINKTYPE_RAW, nanosecond timestamps in virtual time from 0.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,

    /// The link's drop-tail queue, in packets, each direction.
    #[arg(long, value_name = "PACKETS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    queue: u32,

    /// Bursty loss, each direction, on top of --loss: the link is bad this share of the time
    /// (--burst-len) or of the packets (--burst-packets), `0.07` or `7%`; every packet sent
    /// while it is bad is lost, none while it is good. Needs one of --burst-len or
    /// --burst-packets, which say how long a burst lasts.
    #[arg(long, value_name = "P", allow_negative_numbers = true, requires = "burst_model",
          value_parser = parse_burst_loss)]
    burst_loss: Option<f64>,

    /// Bursty loss per time: bad periods ("fades") last D on average (`50ms`), good periods
    /// D x (1 - P) / P, both of random (exponential) length in virtual time. A fade ends when
    /// its time is up, however few packets were sent in it, so a sender that backed off to a
    /// packet a second gets through after it, as on a real link.
    #[arg(long, value_name = "D", requires = "burst_loss", conflicts_with = "burst_packets",
          value_parser = parse_burst_len)]
    burst_len: Option<Duration>,

    /// Bursty loss per packet (the Gilbert-Elliott model): a burst lasts N packets on average,
    /// the link's state changing only when a packet is sent, whatever the time between
    /// packets. A sender backed off to one packet per retransmission timeout stays in a
    /// burst for N of its timeouts, often past its retry limit; --burst-len is the model
    /// that ends a burst with time.
    #[arg(long, value_name = "N", requires = "burst_loss", value_parser = parse_burst_packets)]
    burst_packets: Option<f64>,

    /// Probability that a packet arrives twice: `0.01` or `1%`.
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| parse_probability("dup", s))]
    dup: f64,

    /// Probability that a packet is held back by --reorder-delay, so later ones overtake it.
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| parse_probability("reorder", s))]
    reorder: f64,

    /// How long a reordered packet is held back.
    #[arg(long, value_name = "D", default_value = "1ms", value_parser = parse_duration)]
    reorder_delay: Duration,

    /// Probability that one bit of a packet is flipped (checksums catch it).
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| parse_probability("corrupt", s))]
    corrupt: f64,

    /// The link MTU, bytes (the hosts' MSS follows from it; at least 1280 with --ipv6).
    #[arg(long, value_name = "BYTES", default_value_t = 1500,
          value_parser = clap::value_parser!(u16).range(68..))]
    mtu: u16,

    /// Run over IPv6: the client 2001:db8::1 connects to [2001:db8::2]:5001 (MSS = MTU − 60).
    #[arg(long)]
    ipv6: bool,

    /// Each host's initial send buffer, bytes (Linux's tcp_wmem default is 16 KiB). As in
    /// Linux (tcp_sndbuf_expand), it grows with the congestion window, to twice the window,
    /// up to tcp_wmem's max (4 MiB, or N if larger).
    #[arg(long, value_name = "N", value_parser = parse_bytes)]
    wmem: Option<u64>,

    /// Each host's initial receive buffer, bytes (Linux's tcp_rmem default is 128 KiB). As in
    /// Linux (tcp_rcv_space_adjust), it grows as the application reads faster, up to
    /// tcp_rmem's max (6 MiB, or N if larger); --sysctl net.ipv4.tcp_moderate_rcvbuf=0 keeps
    /// it at N.
    #[arg(long, value_name = "N", value_parser = parse_bytes)]
    rmem: Option<u64>,

    /// Give up when the run (the final TIME-WAIT included) has not ended after this much
    /// virtual time [default: an hour, or 4 times what the bytes take at the rate if longer].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    time_limit: Option<Duration>,

    /// TCP settings by sysctl name (--sysctl, --config), applied to both hosts after --wmem
    /// and --rmem.
    #[command(flatten)]
    settings: crate::settings::SettingsArgs,
}

/// Runs the transfer and prints its report; an error when it did not complete.
pub(crate) fn run(args: &SimArgs) -> Result<(), String> {
    if args.ipv6 && args.mtu < 1280 {
        return Err(format!("--mtu {} is below IPv6's minimum of 1280 (RFC 8200 §5)", args.mtu));
    }
    let mut link = LinkConfig::new()
        .rate_bps(args.rate)
        .delay(args.delay)
        .queue_packets(args.queue as usize)
        .mtu(usize::from(args.mtu))
        .loss(args.loss)
        .duplicate(args.dup)
        .reorder(args.reorder, args.reorder_delay)
        .corrupt(args.corrupt);
    match burst(args)? {
        Some(Burst::Time(model)) => link = link.timed_burst_loss(model),
        Some(Burst::Packets(model)) => link = link.burst_loss(model),
        None => {}
    }
    link.validate().map_err(|e| e.to_string())?;
    let mut tcp = TcpConfig::LINUX;
    if let Some(wmem) = args.wmem {
        tcp.wmem = buffer(tcp.wmem, wmem, "wmem")?;
    }
    if let Some(rmem) = args.rmem {
        tcp.rmem = buffer(tcp.rmem, rmem, "rmem")?;
    }
    args.settings.apply_tcp(&mut tcp)?;
    tcp.validate().map_err(|e| e.to_string())?;
    let time_limit = args.time_limit.unwrap_or_else(|| {
        let at_rate = Duration::from_secs_f64(args.bytes as f64 * 8.0 / args.rate as f64);
        (4 * at_rate).max(Duration::from_secs(3_600))
    });
    // Room for every segment to be sent, acknowledged and retransmitted several times over.
    let events = (args.bytes / 100).max(Bounds::DEFAULT_MAX_EVENTS);
    let setup = Setup::new(link)
        .tcp(tcp)
        .bounds(Bounds::time(time_limit).max_events(events))
        .ipv6(args.ipv6);
    let scenario = BulkTransfer::new(args.bytes);
    let mut run = ScenarioRun::new(&scenario, &setup, args.seed).map_err(|e| e.to_string())?;
    let tap = match &args.pcap {
        Some(path) => {
            let l = run.link();
            Some(run.network_mut().tap_file(l, TapPoint::Sent, path).map_err(|e| e.to_string())?)
        }
        None => None,
    };

    let result = run.run();
    let report = scenario.report(&run);
    print_report(args, &report);
    if let (Some(path), Some(tap)) = (&args.pcap, tap) {
        run.network_mut()
            .flush_taps()
            .map_err(|e| format!("writing pcap file {}: {e}", path.display()))?;
        let packets = run.network().tap_packets(tap);
        line("pcap", format!("{} ({packets} packets)", path.display()));
    }
    result.map(drop).map_err(|e| e.to_string())
}

/// The bursty-loss model the arguments ask for.
pub(crate) enum Burst {
    Time(TimedBursts),
    Packets(GilbertElliott),
}

/// The model of --burst-loss with --burst-len or --burst-packets (clap has checked that
/// exactly one comes with it), or `None` without bursty loss (or at 0).
fn burst(args: &SimArgs) -> Result<Option<Burst>, String> {
    burst_model(args.burst_loss, args.burst_len, args.burst_packets)
}

/// The model of --burst-loss `loss` with --burst-len `len` or --burst-packets `packets`, or
/// `None` without bursty loss (or at 0). `ustack netem` takes the same flags.
pub(crate) fn burst_model(
    loss: Option<f64>,
    len: Option<Duration>,
    packets: Option<f64>,
) -> Result<Option<Burst>, String> {
    let Some(loss) = loss.filter(|p| *p > 0.0) else {
        return Ok(None);
    };
    if let Some(len) = len {
        return Ok(Some(Burst::Time(TimedBursts::from_mean_loss(loss, len))));
    }
    let Some(packets) = packets else {
        return Err("--burst-loss needs --burst-len or --burst-packets".to_string());
    };
    // Good to Bad with probability loss / (packets (1 - loss)), at most 1.
    let shortest = loss / (1.0 - loss);
    if packets < shortest {
        return Err(format!(
            "--burst-loss {} needs bursts of at least {shortest:.3} packets (--burst-packets): \
             shorter ones cannot add up to that much loss",
            percent(loss)
        ));
    }
    Ok(Some(Burst::Packets(GilbertElliott::from_mean_loss(loss, packets))))
}

/// `sizes` with its default set to `bytes` (its max raised to it if need be).
fn buffer(sizes: BufferSizes, bytes: u64, what: &str) -> Result<BufferSizes, String> {
    let bytes = u32::try_from(bytes).map_err(|_| format!("{what} must be below 4 GiB"))?;
    if bytes < sizes.min {
        return Err(format!("{what} must be at least {} bytes", sizes.min));
    }
    Ok(BufferSizes { default: bytes, max: sizes.max.max(bytes), ..sizes })
}

/// One line of the report: the label, padded, then the value.
fn line(label: &str, value: impl core::fmt::Display) {
    println!("{:<22}{value}", format!("{label}:"));
}

fn print_report(args: &SimArgs, r: &BulkReport) {
    println!(
        "ustack sim: {} bytes from {} to {} over {}, {} one-way delay, {} loss, seed {}",
        args.bytes,
        if args.ipv6 { Setup::CLIENT6.to_string() } else { Setup::CLIENT.to_string() },
        Setup::new(LinkConfig::new()).ipv6(args.ipv6).server_addr(),
        units::rate(args.rate as f64),
        fmt_duration(args.delay),
        percent(args.loss),
        args.seed
    );
    let mut link = format!("queue {} packets, MTU {}", args.queue, args.mtu);
    match burst(args) {
        Ok(Some(Burst::Time(m))) => link.push_str(&format!(
            ", burst loss {} in fades of {} on average (per time)",
            percent(m.mean_loss()),
            fmt_duration(m.mean_bad)
        )),
        Ok(Some(Burst::Packets(m))) => link.push_str(&format!(
            ", burst loss {} in bursts of {} packets on average (per packet)",
            percent(m.mean_loss()),
            (1.0 / m.r * 1e3).round() / 1e3
        )),
        Ok(None) | Err(_) => {}
    }
    for (what, p) in [("dup", args.dup), ("reorder", args.reorder), ("corrupt", args.corrupt)] {
        if p > 0.0 {
            link.push_str(&format!(", {what} {}", percent(p)));
        }
    }
    line("link", link);
    let complete = r.delivered == r.bytes && r.completed_at.is_some();
    line(
        "transfer",
        format!(
            "{}: {} of {} bytes delivered, each checked: once and in order",
            if complete { "complete" } else { "INCOMPLETE" },
            r.delivered,
            r.bytes
        ),
    );
    line(
        "completion time",
        r.completion_time()
            .map_or("- (not completed)".to_string(), |t| format!("{} (virtual)", fmt_duration(t))),
    );
    line(
        "goodput",
        r.goodput_bps().map_or("-".to_string(), |g| format!("{} ({g:.0} bit/s)", units::rate(g))),
    );
    line(
        "retransmissions",
        format!("client {}, server {}", r.client.retransmits, r.server.retransmits),
    );
    line("client", states(&r.client));
    line("server", states(&r.server));
    line(
        "segments discarded",
        format!("client {}; server {}", discards(&r.client_counters), discards(&r.server_counters)),
    );
    for (name, s) in ["link client->server", "link server->client"].into_iter().zip(&r.link) {
        line(name, link_line(s));
    }
    line(
        "run",
        format!(
            "ended at {} (virtual), {} events",
            fmt_duration(r.end - ustack_sim::Instant::ZERO),
            r.events
        ),
    );
}

/// `TIME-WAIT -> CLOSED`: the state when the transfer was done, then at the end of the run.
fn states(c: &ConnSummary) -> String {
    let name = |s: Option<TcpState>| s.map_or("-", TcpState::rfc_name);
    let mut line = format!("{} -> {}", name(c.state_at_done), name(c.state_at_end));
    if let Some(e) = c.error {
        line.push_str(&format!(" ({e})"));
    }
    line
}

/// What a host's stack threw away: bad checksums (the link's corruption), and segments its
/// connections dropped, by reason.
fn discards(c: &Counters) -> String {
    let mut parts = Vec::new();
    let bad = c.tcp_in_csum_errors + c.ip_in_hdr_errors;
    if bad > 0 {
        parts.push(format!("bad checksum {bad}"));
    }
    for reason in DropReason::ALL {
        let n = c.tcp_conn_drops[reason as usize];
        if n > 0 {
            parts.push(format!("{} {n}", reason.name()));
        }
    }
    if parts.is_empty() { "none".to_string() } else { parts.join(", ") }
}

fn link_line(s: &LinkStats) -> String {
    let d = &s.dropped;
    format!(
        "{} packets sent, {} delivered; dropped {} (loss {}, queue {}, burst loss {}, \
         partition {}, mtu {}); {} duplicated, {} reordered, {} corrupted",
        s.sent,
        s.delivered,
        d.total(),
        d.loss,
        d.queue,
        // Only one of the two bursty models is ever on here.
        d.burst_loss + d.timed_burst_loss,
        d.partition,
        d.mtu,
        s.duplicated,
        s.reordered,
        s.corrupted
    )
}

pub(crate) fn percent(p: f64) -> String {
    format!("{}%", (p * 100.0 * 1e6).round() / 1e6)
}

/// `0.951234 s`, `10 ms`, `250 us`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0 s".to_string()
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{} s", nanos / 1_000_000_000)
    } else if nanos >= 1_000_000_000 {
        format!("{:.6} s", d.as_secs_f64())
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{} ms", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) && nanos < 1_000_000 {
        format!("{} us", nanos / 1_000)
    } else {
        format!("{:.3} ms", d.as_secs_f64() * 1e3)
    }
}

// ---- parsing ----

/// Splits `10mbit` into (10.0, "mbit"); the unit is lowercased.
fn number_and_unit(s: &str) -> Result<(f64, String), String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("'{s}' does not start with a number"))?;
    Ok((value, unit.trim().to_ascii_lowercase()))
}

/// Bits per second.
pub(crate) fn parse_rate(s: &str) -> Result<u64, String> {
    let (value, unit) = number_and_unit(s)?;
    let scale: f64 = match unit.as_str() {
        "" | "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "kibit" => 1024.0,
        "mibit" => 1024.0 * 1024.0,
        "gibit" => 1024.0 * 1024.0 * 1024.0,
        // tc(8): "bps" and its multiples are bytes per second.
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        _ => {
            return Err(format!(
                "unknown rate unit '{unit}': use bit/s (100000) or kbit, mbit, gbit \
                 (e.g. 10mbit)"
            ));
        }
    };
    let bps = (value * scale).round();
    if !(1.0..=1e15).contains(&bps) {
        return Err("rate must be between 1 bit/s and 1 Pbit/s".to_string());
    }
    Ok(bps as u64)
}

/// A duration with a unit: ns, us, ms, s, min, h; `0` alone.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let (value, unit) = number_and_unit(s)?;
    let nanos_per: f64 = match unit.as_str() {
        "" if value == 0.0 => 1.0,
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 60e9,
        "h" => 3_600e9,
        "" => return Err(format!("'{s}' needs a unit: ns, us, ms, s, min or h (e.g. 10ms)")),
        _ => return Err(format!("unknown time unit '{unit}': use ns, us, ms, s, min or h")),
    };
    let nanos = (value * nanos_per).round();
    if nanos > 1e18 {
        return Err(format!("'{s}' is too long"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// A probability: `0.05` or `5%`.
pub(crate) fn parse_probability(what: &str, s: &str) -> Result<f64, String> {
    let s = s.trim();
    let p = match s.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("{what} must be a probability: 0.05 or 5%"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{what} must be between 0 and 1 (or 0% and 100%)"));
    }
    Ok(p)
}

/// --burst-loss: a probability below 1.
pub(crate) fn parse_burst_loss(s: &str) -> Result<f64, String> {
    let p = parse_probability("burst-loss", s)?;
    if p >= 1.0 {
        return Err("burst-loss must be below 1 (100%): the link would never come back; \
                    --loss 1 loses every packet"
            .to_string());
    }
    Ok(p)
}

/// --burst-len: a duration of at least [`TimedBursts::MIN_MEAN`].
pub(crate) fn parse_burst_len(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < TimedBursts::MIN_MEAN {
        return Err(format!("burst-len must be at least {}", fmt_duration(TimedBursts::MIN_MEAN)));
    }
    Ok(d)
}

/// --burst-packets: a mean of at least one packet.
pub(crate) fn parse_burst_packets(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if (1.0..=1e12).contains(&n) => Ok(n),
        _ => Err("burst-packets must be a number of packets from 1 (e.g. 10 or 2.5)".to_string()),
    }
}

/// Bytes: `1000`, `1kB`, `1MB`, `1GB` (powers of 1000), `1KiB`, `64MiB`, `1GiB` (of 1024).
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let (value, unit) = number_and_unit(s)?;
    let scale: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown size unit '{unit}': use bytes (1000), kB, MB, GB or KiB, MiB, GiB"
            ));
        }
    };
    let bytes = (value * scale).round();
    if !(1.0..=1e15).contains(&bytes) {
        return Err("bytes must be between 1 and 10^15".to_string());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100000"), Ok(100_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("10Mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("1.5mbit"), Ok(1_500_000));
        assert_eq!(parse_rate("1kibit"), Ok(1024));
        assert_eq!(parse_rate("1mbps"), Ok(8_000_000));
        assert!(parse_rate("0").unwrap_err().contains("between 1 bit/s"));
        assert!(parse_rate("10furlongs").unwrap_err().contains("unknown rate unit"));
        assert!(parse_rate("fast").unwrap_err().contains("number"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1_500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("10 days").unwrap_err().contains("unknown time unit"));
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("loss", "0.05"), Ok(0.05));
        assert_eq!(parse_probability("loss", "5%"), Ok(0.05));
        assert_eq!(parse_probability("loss", "0"), Ok(0.0));
        assert_eq!(
            parse_probability("loss", "1.5"),
            Err("loss must be between 0 and 1 (or 0% and 100%)".to_string())
        );
        assert!(parse_probability("dup", "-0.1").unwrap_err().starts_with("dup must be between"));
        assert!(parse_probability("loss", "lots").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("1MB"), Ok(1_000_000));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("1 parsec").unwrap_err().contains("unknown size unit"));
    }

    #[test]
    fn durations_print_in_their_unit() {
        assert_eq!(fmt_duration(Duration::from_millis(10)), "10 ms");
        assert_eq!(fmt_duration(Duration::from_micros(250)), "250 us");
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2 s");
        assert_eq!(fmt_duration(Duration::from_micros(951_234)), "951.234 ms");
        assert_eq!(fmt_duration(Duration::from_micros(1_951_234)), "1.951234 s");
    }
}
