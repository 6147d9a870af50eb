//! `ustack capture`: a TUN device, and every packet the kernel routes into it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ustack::core::{Ipv4Cidr, Ipv6Cidr};
use ustack::device::{Device, PcapDevice, Tun, TunConfig};

use crate::describe::describe;

/// Arguments of `ustack capture`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Name of the TUN device to create (up to 15 bytes; `%d` lets the kernel number it). It
    /// must not exist yet (a persistent TUN is refused too): it goes away when capture stops.
    #[arg(long, default_value = "ustack%d")]
    dev: String,
    /// The kernel side's address and prefix, e.g. 10.77.0.1/24: the rest of the prefix is
    /// routed into the device.
    #[arg(long, required_unless_present = "host_addr6")]
    host_addr: Option<Ipv4Cidr>,
    /// The kernel side's IPv6 address and prefix, e.g. fd00:77::1/64, beside or instead of
    /// --host-addr: IPv6 is switched on for the device (no duplicate address detection) and
    /// the rest of the prefix is routed into it. Needs --mtu 1280 or more.
    #[arg(long)]
    host_addr6: Option<Ipv6Cidr>,
    /// The device MTU.
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    /// Also write every packet to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Stop after this many packets.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    if args.host_addr6.is_some() && args.mtu < 1280 {
        return Err(format!("--host-addr6 needs --mtu 1280 or more (RFC 8200), not {}", args.mtu));
    }
    let config = TunConfig {
        name: args.dev.clone(),
        mtu: args.mtu,
        host_addr: args.host_addr,
        multi_queue: false,
        offload: false,
    };
    let tun = Tun::create(&config).map_err(|e| e.to_string())?;
    if let Some(host6) = args.host_addr6 {
        tun.add_host_addr6(host6).map_err(|e| e.to_string())?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot install the SIGINT/SIGTERM handler: {e}"))?;
    let sides: Vec<String> = args
        .host_addr
        .map(|a| a.to_string())
        .into_iter()
        .chain(args.host_addr6.map(|a| a.to_string()))
        .collect();
    eprintln!(
        "ustack: capturing on {} (kernel side {}, mtu {}); stop with Ctrl-C",
        tun.name(),
        sides.join(" "),
        args.mtu
    );
    let deadline = args
        .duration
        .map(|s| Duration::try_from_secs_f64(s).map_err(|e| format!("--duration: {e}")))
        .transpose()?
        .map(|d| Instant::now() + d);
    match &args.pcap {
        Some(path) => {
            let dev = PcapDevice::create(tun, path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let mut dev = dev;
            let n = capture_loop(&mut dev, args.count, deadline, &stop)?;
            dev.flush().map_err(|e| format!("writing {}: {e}", path.display()))?;
            if let Some(e) = dev.take_capture_error() {
                return Err(format!("writing {}: {e}", path.display()));
            }
            eprintln!("ustack: {n} packets, saved to {}", path.display());
        }
        None => {
            let mut dev = tun;
            let n = capture_loop(&mut dev, args.count, deadline, &stop)?;
            eprintln!("ustack: {n} packets");
        }
    }
    Ok(())
}

fn capture_loop(
    dev: &mut impl Device,
    count: Option<u64>,
    deadline: Option<Instant>,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let mut buf = vec![0u8; dev.mtu()];
    let readiness = dev.readiness();
    let start = Instant::now();
    let mut seen = 0u64;
    let stdout = io::stdout();
    while !stop.load(Ordering::SeqCst) && count.is_none_or(|c| seen < c) {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        // Wake at least every 100 ms to notice Ctrl-C and the deadline.
        let wait = deadline
            .map_or(Duration::from_millis(100), |d| (d - now).min(Duration::from_millis(100)));
        readiness.wait_timeout(wait).map_err(|e| format!("waiting for the device: {e}"))?;
        loop {
            if count.is_some_and(|c| seen >= c) {
                break;
            }
            let n = match dev.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("reading the device: {e}")),
            };
            seen += 1;
            let t = start.elapsed();
            let (line, _) = describe(&buf[..n]);
            let mut out = stdout.lock();
            writeln!(out, "{seen:>5} {:>4}.{:06} {line}", t.as_secs(), t.subsec_micros())
                .and_then(|()| out.flush())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(seen)
}
