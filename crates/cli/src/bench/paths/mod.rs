//! `ustack bench paths`: bulk goodput over a grid of impaired paths.
//!
//! The grid: rate 10, 100, 1000 Mbit/s; round trip 2, 20, 100, 200 ms; loss none, 0.1%, 1%,
//! 3% at random, and 2% in bursts (Gilbert-Elliott, 3 packets per burst on average). Each
//! direction of a cell is the simulator's link with that rate, half the round trip as its
//! delay, the loss, and a drop-tail queue of one bandwidth-delay product (at least 64
//! packets).
//!
//! Two modes:
//!
//! - through `ustack netem` (the default; root): a Linux receiver in one network namespace,
//!   and in the other, in turn, ustack and Linux sending to it, each run a bulk transfer of a
//!   fixed time (see [`Cell::run_time`]: up to 8 s lossless, up to 20 s lossy) whose goodput
//!   the receiver measures. Runs
//!   are interleaved (ustack, Linux, Linux, ustack, ...) and the table shows each side's
//!   median and the ratio ustack / Linux per cell;
//! - `--sim`: ustack to ustack over the same cells in the simulator, in virtual time, so the
//!   table is the same on every machine: a regression table.

use std::path::PathBuf;

use ustack::core::tcp_engine::{CcName, TcpConfig};
use ustack_sim::{Duration, GilbertElliott, LinkConfig};

use super::json::Json;
pub(crate) use super::stats::median;
use crate::sim::fmt_duration;

mod real;
mod virt;

/// Arguments of `ustack bench paths`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Run ustack to ustack in the simulator, in virtual time, instead of through netem.
    #[arg(long)]
    sim: bool,

    /// A small grid: 10 and 100 Mbit/s, 2 and 20 ms, no loss, 1% and bursty 2%; one run per
    /// side and cell.
    #[arg(long)]
    quick: bool,

    /// Rates to run, Mbit/s, comma-separated [default: 10,100,1000].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    rates: Vec<u64>,

    /// Round trips to run, ms, comma-separated [default: 2,20,100,200].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    rtts: Vec<u64>,

    /// Losses to run, comma-separated: `0`, `0.1%`, `1%`, `3%` (random), `2%-bursty`
    /// (Gilbert-Elliott, bursts of 3 packets on average) [default: all five].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_loss)]
    losses: Vec<Loss>,

    /// Runs per side and cell through netem; the table shows the medians [default: 3, or 1
    /// with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    runs: Option<u32>,

    /// Length of each run [default: on a lossless path 40 round trips, at least 3 s and at
    /// most 8 s; on a lossy path 200 round trips, at least 3 s and at most 20 s].
    #[arg(long, value_name = "D", value_parser = crate::sim::parse_duration)]
    time: Option<Duration>,

    /// ustack's congestion control [default: the engine's default].
    #[arg(long, value_name = "NAME")]
    ustack_cc: Option<String>,

    /// The Linux sender's congestion control, set per socket (TCP_CONGESTION; as root any
    /// loaded algorithm may be used, also one a namespace's sysctl does not allow).
    #[arg(long, value_name = "NAME", default_value = "cubic")]
    linux_cc: String,

    /// Seed of the link's random draws (and of the simulator).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,

    /// Also write the results to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Print the table as Markdown.
    #[arg(long)]
    markdown: bool,
}

/// The loss of a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Loss {
    /// Each packet lost on its own with this probability.
    Random(f64),
    /// Gilbert-Elliott: this share of the packets, in bursts of `burst` packets on average.
    Bursty { loss: f64, burst: f64 },
}

impl Loss {
    /// The grid's five.
    const GRID: [Loss; 5] = [
        Loss::Random(0.0),
        Loss::Random(0.001),
        Loss::Random(0.01),
        Loss::Random(0.03),
        Loss::Bursty { loss: 0.02, burst: 3.0 },
    ];

    /// `0`, `0.1%`, `2%-bursty`.
    pub(crate) fn label(&self) -> String {
        match *self {
            Loss::Random(0.0) => "0".to_string(),
            Loss::Random(p) => format!("{}%", p * 100.0),
            Loss::Bursty { loss, burst: 3.0 } => format!("{}%-bursty", loss * 100.0),
            Loss::Bursty { loss, burst } => format!("{}%-bursty{burst}", loss * 100.0),
        }
    }
}

fn parse_loss(s: &str) -> Result<Loss, String> {
    let s = s.trim();
    if let Some(p) = s.strip_suffix("-bursty") {
        let loss = crate::sim::parse_probability("loss", p)?;
        return Ok(Loss::Bursty { loss, burst: 3.0 });
    }
    Ok(Loss::Random(crate::sim::parse_probability("loss", s)?))
}

/// One cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cell {
    pub(crate) rate_bps: u64,
    pub(crate) rtt: Duration,
    pub(crate) loss: Loss,
}

impl Cell {
    /// The link of each direction: the rate, half the round trip, the loss, a queue of one
    /// bandwidth-delay product (at least 64 packets).
    pub(crate) fn link(&self) -> LinkConfig {
        let bdp_packets = (self.rate_bps as f64 * self.rtt.as_secs_f64() / 8.0 / 1500.0).ceil();
        let link = LinkConfig::new()
            .rate_bps(self.rate_bps)
            .delay(self.rtt / 2)
            .queue_packets((bdp_packets as usize).max(64));
        match self.loss {
            Loss::Random(p) => link.loss(p),
            Loss::Bursty { loss, burst } => {
                link.burst_loss(GilbertElliott::from_mean_loss(loss, burst))
            }
        }
    }

    /// How long a run lasts: on a lossless path 40 round trips, at least 3 s and at most 8 s;
    /// on a lossy one 200 round trips, at least 3 s and at most 20 s.
    ///
    /// A lossy path's goodput is set by its loss events, one every few round trips at the
    /// grid's rates of loss: in 40 round trips a sender sees a handful, so the first one, in
    /// slow start, and whether a retransmission is lost too (a timeout) decide the run, and
    /// runs of one sender differ twofold. 200 round trips average over tens of them.
    pub(crate) fn run_time(&self, fixed: Option<Duration>) -> Duration {
        fixed.unwrap_or_else(|| {
            let lossless = matches!(self.loss, Loss::Random(p) if p == 0.0);
            let (rtts, max) = if lossless { (40, 8) } else { (200, 20) };
            (self.rtt * rtts).clamp(Duration::from_secs(3), Duration::from_secs(max))
        })
    }

    fn label(&self) -> (String, String, String) {
        (format!("{} Mbit/s", self.rate_bps / 1_000_000), fmt_duration(self.rtt), self.loss.label())
    }

    fn json(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("rate_mbps", Json::Num((self.rate_bps / 1_000_000) as f64)),
            ("rtt_ms", Json::Num(self.rtt.as_secs_f64() * 1e3)),
            ("loss", Json::Str(self.loss.label())),
        ]
    }
}

/// The cells `args` selects, in the order they run: by rate, then round trip, then loss.
fn grid(args: &Args) -> Vec<Cell> {
    let pick = |given: &[u64], full: &[u64], quick: &[u64]| -> Vec<u64> {
        if !given.is_empty() {
            given.to_vec()
        } else if args.quick {
            quick.to_vec()
        } else {
            full.to_vec()
        }
    };
    let rates = pick(&args.rates, &[10, 100, 1000], &[10, 100]);
    let rtts = pick(&args.rtts, &[2, 20, 100, 200], &[2, 20]);
    let losses: Vec<Loss> = if !args.losses.is_empty() {
        args.losses.clone()
    } else if args.quick {
        vec![Loss::GRID[0], Loss::GRID[2], Loss::GRID[4]]
    } else {
        Loss::GRID.to_vec()
    };
    let mut cells = Vec::new();
    for &rate in &rates {
        for &rtt in &rtts {
            for &loss in &losses {
                cells.push(Cell {
                    rate_bps: rate * 1_000_000,
                    rtt: Duration::from_millis(rtt),
                    loss,
                });
            }
        }
    }
    cells
}

/// The TCP settings of ustack's sender (and, in the simulator, of both ends).
fn ustack_tcp(args: &Args) -> Result<TcpConfig, String> {
    let mut tcp = TcpConfig::LINUX;
    if let Some(name) = &args.ustack_cc {
        tcp.congestion_control = CcName::new(name).map_err(|e| format!("--ustack-cc: {e}"))?;
    }
    // Room for the largest bandwidth-delay product of the grid (1 Gbit/s x 200 ms = 25 MB)
    // in the send and receive buffers, as the namespaces' sysctls give Linux.
    tcp.wmem.max = tcp.wmem.max.max(BUFFER_MAX);
    tcp.rmem.max = tcp.rmem.max.max(BUFFER_MAX);
    tcp.validate().map_err(|e| e.to_string())?;
    Ok(tcp)
}

/// The largest send and receive buffer either side may grow to: 64 MiB.
pub(crate) const BUFFER_MAX: u32 = 64 << 20;

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let cells = grid(args);
    if cells.is_empty() {
        return Err("the grid is empty".to_string());
    }
    let tcp = ustack_tcp(args)?;
    let table =
        if args.sim { virt::run(args, &cells, &tcp)? } else { real::run(args, &cells, &tcp)? };
    print!("{}", if args.markdown { table.markdown() } else { table.text() });
    if let Some(path) = &args.json {
        std::fs::write(path, table.json().pretty())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What a mode measured, ready to print.
pub(crate) struct Table {
    /// A line or two saying what was measured, how, and on what.
    pub(crate) title: Vec<String>,
    /// The column names after rate, round trip and loss.
    pub(crate) columns: Vec<&'static str>,
    /// A row per cell.
    pub(crate) rows: Vec<Row>,
    /// The JSON of the whole run, beside the cells.
    pub(crate) meta: Vec<(&'static str, Json)>,
}

impl Table {
    fn text(&self) -> String {
        let mut out = String::new();
        for t in &self.title {
            out.push_str(&format!("# {t}\n"));
        }
        let widths = self.widths();
        let mut header = format!("{:<13}{:<9}{:<12}", "rate", "rtt", "loss");
        for (c, w) in self.columns.iter().zip(&widths) {
            header.push_str(&format!("{c:>w$}", w = w + 2));
        }
        out.push_str(header.trim_end());
        out.push('\n');
        for Row { cell, values, .. } in &self.rows {
            let (rate, rtt, loss) = cell.label();
            let mut line = format!("{rate:<13}{rtt:<9}{loss:<12}");
            for (v, w) in values.iter().zip(&widths) {
                line.push_str(&format!("{v:>w$}", w = w + 2));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn widths(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows.iter().map(|r| r.values[i].len()).chain([c.len()]).max().unwrap_or(0)
            })
            .collect()
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        for t in &self.title {
            out.push_str(&format!("{t}\n"));
        }
        out.push('\n');
        out.push_str("| rate | rtt | loss |");
        for c in &self.columns {
            out.push_str(&format!(" {c} |"));
        }
        out.push_str("\n|---|---|---|");
        for _ in &self.columns {
            out.push_str("---:|");
        }
        out.push('\n');
        for Row { cell, values, .. } in &self.rows {
            let (rate, rtt, loss) = cell.label();
            out.push_str(&format!("| {rate} | {rtt} | {loss} |"));
            for v in values {
                out.push_str(&format!(" {v} |"));
            }
            out.push('\n');
        }
        out
    }

    fn json(&self) -> Json {
        let cells = self
            .rows
            .iter()
            .map(|r| Json::obj(r.cell.json().into_iter().chain(r.json.iter().cloned())))
            .collect();
        Json::obj(self.meta.iter().cloned().chain([("cells", Json::Arr(cells))]))
    }
}

/// One cell's row of a [`Table`].
pub(crate) struct Row {
    pub(crate) cell: Cell,
    /// The values of the table's columns, formatted.
    pub(crate) values: Vec<String>,
    /// What the JSON says of the cell beside its rate, round trip and loss.
    pub(crate) json: Vec<(&'static str, Json)>,
}

/// Mbit/s with three significant digits or so: `941`, `94.1`, `9.41`, `0.941`.
pub(crate) fn mbps(bps: f64) -> String {
    let m = bps / 1e6;
    if m.is_nan() {
        "-".to_string()
    } else if m >= 100.0 {
        format!("{m:.0}")
    } else if m >= 10.0 {
        format!("{m:.1}")
    } else if m >= 1.0 {
        format!("{m:.2}")
    } else {
        format!("{m:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_parse_and_print_the_same() {
        for loss in Loss::GRID {
            assert_eq!(parse_loss(&loss.label()), Ok(loss), "{}", loss.label());
        }
        assert_eq!(parse_loss("1%"), Ok(Loss::Random(0.01)));
        assert!(parse_loss("lots").is_err());
    }

    #[test]
    fn cells_queue_a_bandwidth_delay_product() {
        let cell = |rate_mbps: u64, rtt_ms: u64| Cell {
            rate_bps: rate_mbps * 1_000_000,
            rtt: Duration::from_millis(rtt_ms),
            loss: Loss::Random(0.0),
        };
        // 1 Gbit/s x 200 ms = 25 MB = 16,667 packets of 1,500 bytes.
        let big = cell(1000, 200).link();
        assert_eq!(big.queue, ustack_sim::QueueLimit::Packets(16_667));
        assert_eq!(big.delay, Duration::from_millis(100));
        assert_eq!(cell(10, 2).link().queue, ustack_sim::QueueLimit::Packets(64));
        assert_eq!(cell(10, 2).run_time(None), Duration::from_secs(3));
        assert_eq!(cell(10, 200).run_time(None), Duration::from_secs(8));
        assert_eq!(cell(10, 100).run_time(None), Duration::from_secs(4));
        let lossy = |rtt_ms: u64, loss: Loss| Cell { loss, ..cell(10, rtt_ms) };
        assert_eq!(lossy(2, Loss::Random(0.01)).run_time(None), Duration::from_secs(3));
        assert_eq!(lossy(20, Loss::Random(0.001)).run_time(None), Duration::from_secs(4));
        let bursty = Loss::Bursty { loss: 0.02, burst: 3.0 };
        assert_eq!(lossy(100, bursty).run_time(None), Duration::from_secs(20));
        assert_eq!(lossy(200, Loss::Random(0.03)).run_time(None), Duration::from_secs(20));
        let fixed = Some(Duration::from_secs(5));
        assert_eq!(lossy(200, bursty).run_time(fixed), Duration::from_secs(5));
    }
}
