//! `ustack netem`: an impaired path between two network namespaces, in user space.
//!
//! A TUN device in each of two existing namespaces carries the kernel's address there; the
//! kernel of each routes the other side's prefix into its device, and the relay carries the
//! packets from one device to the other through the simulator's link model, one
//! [`LinkModel`](ustack_sim::LinkModel) per direction in real time: rate, queue, delay,
//! jitter, loss (random or bursty), duplication, reordering and corruption, in the order and
//! with the counters of `ustack sim`. It needs no qdisc (no `sch_netem`), only `/dev/net/tun`.
//!
//! Each device is created by a thread that entered its namespace (`setns`), so it is born
//! there; its route is added by `ip route` run from such a thread. Both go away with the
//! devices at the stop (SIGINT or SIGTERM), after the counters are printed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use ustack::core::Ipv4Cidr;
use ustack::device::{PcapSink, Tun, TunConfig};
use ustack_sim::{Duration, LinkConfig};

use crate::sim::{self, Burst};

mod ns;
mod relay;

pub(crate) use ns::{ip, run_in};
pub(crate) use relay::DirectionReport;
use relay::Relay;

/// One end: a namespace and the kernel's address in it, `NS:IP/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct End {
    /// The namespace: a name of `ip netns` or a path (`/proc/PID/ns/net`).
    pub(crate) ns: String,
    /// The kernel's address and prefix on the device in that namespace.
    pub(crate) addr: Ipv4Cidr,
}

impl core::str::FromStr for End {
    type Err = String;

    fn from_str(s: &str) -> Result<End, String> {
        let (ns, addr) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}' is not NS:IP/PREFIX (e.g. left:10.1.0.1/24)"))?;
        if ns.is_empty() {
            return Err(format!("'{s}' names no namespace before the ':'"));
        }
        let addr = addr.parse::<Ipv4Cidr>().map_err(|e| format!("'{addr}': {e}"))?;
        Ok(End { ns: ns.to_string(), addr })
    }
}

impl core::fmt::Display for End {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}", self.ns, self.addr)
    }
}

/// Arguments of `ustack netem`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("burst_model").args(["burst_len", "burst_packets"])))]
#[command(after_help = "Each device is created by a thread that entered its namespace, with the \
kernel's address and the MTU, a queue of 10,000 packets towards netem (txqueuelen) and a route \
to the other end's prefix. Only IPv4 is relayed: other packets are counted and dropped. The \
impairments apply in the simulator's order (queue and rate, loss, bursty loss, corruption, \
duplication, jitter, reordering), each direction drawing from its own seeded streams.

On SIGINT or SIGTERM netem prints one line per direction (a->b, b->a): the packets the kernel \
dropped before netem read them (its queue was full), the packets read, what the link did with \
them (sent, delivered, dropped by reason, duplicated, reordered, corrupted, still in flight), \
and the packets written; then it removes both devices, and their routes with them.")]
pub(crate) struct Args {
    /// One end, NS:IP/PREFIX: a TUN device is created in network namespace NS (a name of
    /// `ip netns`, or a path such as /proc/PID/ns/net) with the kernel's address IP/PREFIX,
    /// and the other end's prefix is routed into it.
    #[arg(long, value_name = "NS:IP/PREFIX")]
    a: End,

    /// The other end, NS:IP/PREFIX, in another namespace.
    #[arg(long, value_name = "NS:IP/PREFIX")]
    b: End,

    /// Link rate, each direction: `10mbit`, `1gbit`, bits per second, ... (as `ustack sim`).
    #[arg(long, value_name = "R", value_parser = sim::parse_rate)]
    rate: u64,

    /// One-way delay, each direction: `10ms`, `250us`, `0`.
    #[arg(long, value_name = "D", value_parser = sim::parse_duration)]
    delay: Duration,

    /// Each packet's delay varies by up to D either way (uniformly), never reordering
    /// packets: one never arrives before the one sent before it.
    #[arg(long, value_name = "D", default_value = "0", value_parser = sim::parse_duration)]
    jitter: Duration,

    /// Probability that a packet is lost, each direction: `0.01` or `1%`.
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| sim::parse_probability("loss", s))]
    loss: f64,

    /// Bursty loss on top of --loss: the link is bad this share of the time (--burst-len)
    /// or of the packets (--burst-packets), and loses every packet while bad. Needs one of
    /// those two.
    #[arg(long, value_name = "P", allow_negative_numbers = true, requires = "burst_model",
          value_parser = sim::parse_burst_loss)]
    burst_loss: Option<f64>,

    /// Bursty loss in time: bad periods last D on average (exponentially distributed).
    #[arg(long, value_name = "D", requires = "burst_loss", conflicts_with = "burst_packets",
          value_parser = sim::parse_burst_len)]
    burst_len: Option<Duration>,

    /// Bursty loss per packet (Gilbert-Elliott): a burst lasts N packets on average.
    #[arg(long, value_name = "N", requires = "burst_loss",
          value_parser = sim::parse_burst_packets)]
    burst_packets: Option<f64>,

    /// Probability that a packet arrives twice.
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| sim::parse_probability("dup", s))]
    dup: f64,

    /// Probability that a packet is held back by --reorder-delay, so later ones overtake it.
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| sim::parse_probability("reorder", s))]
    reorder: f64,

    /// How long a reordered packet is held back.
    #[arg(long, value_name = "D", default_value = "1ms", value_parser = sim::parse_duration)]
    reorder_delay: Duration,

    /// Probability that one bit of a packet is flipped (checksums catch it).
    #[arg(long, value_name = "P", default_value = "0", allow_negative_numbers = true,
          value_parser = |s: &str| sim::parse_probability("corrupt", s))]
    corrupt: f64,

    /// The drop-tail queue in front of the rate, in packets, each direction.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    queue: u32,

    /// MTU of both devices and of the link.
    #[arg(long, value_name = "BYTES", default_value_t = 1500,
          value_parser = clap::value_parser!(u16).range(68..))]
    mtu: u16,

    /// Name of the device in each namespace (up to 15 bytes; `%d` lets the kernel number it).
    #[arg(long, value_name = "NAME", default_value = "netem%d")]
    dev: String,

    /// Seed of the impairments' random draws.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,

    /// Write every IPv4 packet to FILE as it enters the link (both directions, lost ones
    /// included): pcap, LINKTYPE_RAW, microsecond timestamps from netem's start.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

impl Args {
    /// The link both directions run.
    fn link(&self) -> Result<LinkConfig, String> {
        link_config(&Impairments {
            rate: self.rate,
            delay: self.delay,
            jitter: self.jitter,
            loss: self.loss,
            burst: sim::burst_model(self.burst_loss, self.burst_len, self.burst_packets)?,
            dup: self.dup,
            reorder: (self.reorder, self.reorder_delay),
            corrupt: self.corrupt,
            queue: self.queue as usize,
            mtu: usize::from(self.mtu),
        })
    }
}

/// What the link does, each direction.
pub(crate) struct Impairments {
    pub(crate) rate: u64,
    pub(crate) delay: Duration,
    pub(crate) jitter: Duration,
    pub(crate) loss: f64,
    pub(crate) burst: Option<Burst>,
    pub(crate) dup: f64,
    pub(crate) reorder: (f64, Duration),
    pub(crate) corrupt: f64,
    pub(crate) queue: usize,
    pub(crate) mtu: usize,
}

/// The [`LinkConfig`] of `imp`, checked.
pub(crate) fn link_config(imp: &Impairments) -> Result<LinkConfig, String> {
    let mut link = LinkConfig::new()
        .rate_bps(imp.rate)
        .delay(imp.delay)
        .jitter(imp.jitter)
        .queue_packets(imp.queue)
        .mtu(imp.mtu)
        .loss(imp.loss)
        .duplicate(imp.dup)
        .reorder(imp.reorder.0, imp.reorder.1)
        .corrupt(imp.corrupt);
    match &imp.burst {
        Some(Burst::Time(model)) => link = link.timed_burst_loss(*model),
        Some(Burst::Packets(model)) => link = link.burst_loss(*model),
        None => {}
    }
    link.validate().map_err(|e| e.to_string())?;
    Ok(link)
}

/// The length of each device's queue towards the relay (`txqueuelen`, 500 for a TUN by
/// default): the kernel drops what comes when it is full, before the link model sees it. A
/// sender's burst (64 KiB segmented at once, 44 packets) lands in it in one go; 10,000
/// packets absorb such bursts at any rate the relay keeps up with. What it drops is counted
/// as `kernel dropped`.
const DEVICE_QUEUE: &str = "10000";

/// An impaired path between two namespaces: the devices, their routes, and the relay.
pub(crate) struct Netem {
    relay: Relay,
    names: [String; 2],
    namespaces: [String; 2],
    capture: Option<relay::Capture>,
}

/// What one direction did: the relay's and the model's counters, and the packets the
/// kernel dropped before the relay could read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) relay: DirectionReport,
    /// Packets the source device's kernel dropped because its queue towards the relay was
    /// full (`tx_dropped` of the device).
    pub(crate) kernel_dropped: u64,
}

impl Netem {
    /// Creates the device of each end in its namespace with the kernel's address, routes the
    /// other end's prefix into it, and starts relaying through `link` with `seed`, recording
    /// what enters the link into the pcap file `pcap` if given.
    pub(crate) fn start(
        a: &End,
        b: &End,
        dev: &str,
        mtu: u16,
        link: &LinkConfig,
        seed: u64,
        pcap: Option<&Path>,
    ) -> Result<Netem, String> {
        if ns::path(&a.ns) == ns::path(&b.ns) {
            return Err(format!("both ends are in namespace {}: give two namespaces", a.ns));
        }
        if a.addr.contains(b.addr.network()) || b.addr.contains(a.addr.network()) {
            return Err(format!(
                "{} and {} overlap: each side routes the other's prefix into its device",
                a.addr, b.addr
            ));
        }
        let device = |end: &End, other: &End| -> Result<Tun, String> {
            let config = TunConfig {
                name: dev.to_string(),
                mtu: usize::from(mtu),
                host_addr: Some(end.addr),
                multi_queue: false,
                offload: false,
            };
            let tun = run_in(&end.ns, || Tun::create(&config).map_err(|e| e.to_string()))
                .map_err(|e| format!("namespace {}: {e}", end.ns))?;
            let prefix = format!("{}/{}", other.addr.network(), other.addr.prefix_len());
            ip(&end.ns, &["route", "replace", &prefix, "dev", tun.name()])?;
            ip(&end.ns, &["link", "set", "dev", tun.name(), "txqueuelen", DEVICE_QUEUE])?;
            Ok(tun)
        };
        let capture = pcap
            .map(|path| {
                PcapSink::create(path)
                    .map(|sink| Arc::new(Mutex::new(sink)))
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))
            })
            .transpose()?;
        let tun_a = device(a, b)?;
        let tun_b = device(b, a)?;
        let names = [tun_a.name().to_string(), tun_b.name().to_string()];
        let relay = Relay::start(tun_a, tun_b, link, seed, capture.clone())?;
        Ok(Netem { relay, names, namespaces: [a.ns.clone(), b.ns.clone()], capture })
    }

    /// The devices' names, A's first.
    pub(crate) fn names(&self) -> &[String; 2] {
        &self.names
    }

    /// Why the relay stopped on its own, if it did (a device failed).
    pub(crate) fn failure(&self) -> Option<String> {
        self.relay.failure()
    }

    /// Stops relaying and removes both devices (and their routes); what each direction did,
    /// A to B first.
    pub(crate) fn stop(self) -> [Report; 2] {
        let (relay, devices) = self.relay.stop();
        let dropped = [0, 1].map(|i| tx_dropped(&self.namespaces[i], &self.names[i]));
        drop(devices);
        if let Some(capture) = &self.capture {
            // A failure to write was reported when it happened; this is the tail.
            let _ = capture.lock().map(|mut c| c.flush());
        }
        [0, 1].map(|i| Report { relay: relay[i], kernel_dropped: dropped[i].unwrap_or(0) })
    }
}

/// The `tx_dropped` counter of device `dev` in namespace `ns`, from the namespace's
/// `/proc/net/dev` (read by a thread inside it: `/proc/thread-self/net`).
fn tx_dropped(ns: &str, dev: &str) -> Option<u64> {
    let text = run_in(ns, || {
        std::fs::read_to_string("/proc/thread-self/net/dev").map_err(|e| e.to_string())
    })
    .ok()?;
    // `  name: rx_bytes rx_packets rx_errs rx_drop fifo frame compressed multicast tx_bytes
    // tx_packets tx_errs tx_drop ...`
    let line = text.lines().find_map(|l| l.trim_start().strip_prefix(&format!("{dev}:")))?;
    line.split_whitespace().nth(11)?.parse().ok()
}

/// Runs `ustack netem` until SIGINT or SIGTERM.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let link = args.link()?;
    let netem = Netem::start(
        &args.a,
        &args.b,
        &args.dev,
        args.mtu,
        &link,
        args.seed,
        args.pcap.as_deref(),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot install the SIGINT/SIGTERM handler: {e}"))?;
    let [dev_a, dev_b] = netem.names().clone();
    eprintln!(
        "ustack netem: up: {} {dev_a} <-> {} {dev_b}; {}; seed {}; SIGINT or SIGTERM stops",
        args.a,
        args.b,
        describe(&link),
        args.seed
    );
    let started = std::time::Instant::now();
    let failure = loop {
        if stop.load(Ordering::SeqCst) {
            break None;
        }
        if let Some(f) = netem.failure() {
            break Some(f);
        }
        if crate::panicked() {
            break Some("a thread panicked (see above)".to_string());
        }
        std::thread::sleep(StdDuration::from_millis(20));
    };
    let capture = netem.capture.clone();
    let report = netem.stop();
    println!("ustack netem: ran {:.3} s", started.elapsed().as_secs_f64());
    if let (Some(path), Some(c)) = (&args.pcap, capture) {
        let n = c.lock().map_or(0, |c| c.packets_written());
        println!("ustack netem: {n} packets recorded in {}", path.display());
    }
    for (name, r) in ["a->b", "b->a"].iter().zip(&report) {
        println!("{name}: {}", report_line(r));
    }
    println!("ustack netem: {dev_a} removed from {}, {dev_b} from {}", args.a.ns, args.b.ns);
    failure.map_or(Ok(()), Err)
}

/// The link in a few words: `100.0 Mbit/s, 10 ms delay, loss 1%, queue 1000 packets`.
pub(crate) fn describe(link: &LinkConfig) -> String {
    let mut s = format!(
        "{}, {} delay",
        link.rate_bps.map_or("unlimited rate".to_string(), |r| crate::units::rate(r as f64)),
        sim::fmt_duration(link.delay)
    );
    if !link.jitter.is_zero() {
        s.push_str(&format!(" +- {} jitter", sim::fmt_duration(link.jitter)));
    }
    if link.loss > 0.0 {
        s.push_str(&format!(", loss {}", sim::percent(link.loss)));
    }
    if let Some(m) = link.timed_burst_loss {
        s.push_str(&format!(
            ", burst loss {} in fades of {}",
            sim::percent(m.mean_loss()),
            sim::fmt_duration(m.mean_bad)
        ));
    }
    if let Some(m) = link.burst_loss {
        s.push_str(&format!(
            ", burst loss {} in bursts of {} packets",
            sim::percent(m.mean_loss()),
            (1.0 / m.r * 1e3).round() / 1e3
        ));
    }
    for (what, p) in [("dup", link.duplicate), ("corrupt", link.corrupt)] {
        if p > 0.0 {
            s.push_str(&format!(", {what} {}", sim::percent(p)));
        }
    }
    if let Some(r) = link.reorder.filter(|r| r.probability > 0.0) {
        s.push_str(&format!(
            ", reorder {} by {}",
            sim::percent(r.probability),
            sim::fmt_duration(r.extra_delay)
        ));
    }
    if let ustack_sim::QueueLimit::Packets(n) = link.queue {
        s.push_str(&format!(", queue {n} packets"));
    }
    s
}

/// One direction's counters on one line, `key N` pairs a script can read.
pub(crate) fn report_line(report: &Report) -> String {
    let r = &report.relay;
    let l = &r.link;
    let d = &l.dropped;
    format!(
        "kernel dropped {}; read {} (not IPv4 {}, too long {}, overflow {}); link: sent {}, \
         delivered {}, dropped {} (loss {}, burst loss {}, queue {}, mtu {}), duplicated {}, \
         reordered {}, corrupted {}, in flight {}; written {}, write errors {}",
        report.kernel_dropped,
        r.read,
        r.not_ipv4,
        r.too_long,
        r.overflow,
        l.sent,
        l.delivered,
        d.total(),
        d.loss,
        d.burst_loss + d.timed_burst_loss,
        d.queue,
        d.mtu,
        l.duplicated,
        l.reordered,
        l.corrupted,
        l.in_flight,
        r.written,
        r.write_errors
    )
}
