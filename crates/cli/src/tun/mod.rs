//! `ustack tun`: a TUN device, the stack at `--addr` on it, and a service, until SIGINT or
//! SIGTERM, when connections are closed gracefully and the device goes away.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ustack::core::{Ipv4Cidr, Ipv6Cidr};
use ustack::device::{PcapDevice, SteeringProgram, Tun, TunConfig};
use ustack::{NetConfig, NetStack};

mod control;
mod forward;
mod http;
mod services;

pub(crate) use control::query;

/// Arguments of `ustack tun`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Name of the TUN device to create (up to 15 bytes; `%d` lets the kernel number it). It
    /// must not exist yet (a persistent TUN is refused too): ustack removes it when it stops.
    #[arg(long)]
    dev: String,
    /// The stack's address and prefix on the device, e.g. 10.77.0.2/24.
    #[arg(long)]
    addr: Ipv4Cidr,
    /// The kernel side's address and prefix, e.g. 10.77.0.1/24.
    #[arg(long)]
    host_addr: Ipv4Cidr,
    /// The stack's IPv6 address and prefix on the device, e.g. fd00:77::2/64 (with
    /// --host-addr6): the stack is then dual-stack and every service listens on [::],
    /// taking IPv4 clients too (seen as ::ffff:a.b.c.d). Needs --mtu 1280 or more.
    #[arg(long, requires = "host_addr6")]
    addr6: Option<Ipv6Cidr>,
    /// The kernel side's IPv6 address and prefix, e.g. fd00:77::1/64: added to the device
    /// without duplicate address detection, with IPv6 switched on for it
    /// (net.ipv6.conf.DEV.disable_ipv6=0).
    #[arg(long, requires = "addr6")]
    host_addr6: Option<Ipv6Cidr>,
    /// The device MTU.
    #[arg(long, default_value_t = 1500)]
    mtu: u16,
    /// Open the device with the kernel's offloads (IFF_VNET_HDR; checksum offload and TSO
    /// for IPv4 and IPv6): TCP moves up to 64 KiB per read or write instead of one packet of
    /// at most the MTU, the kernel cutting ustack's large packets into segments and handing
    /// over its own whole. A --pcap capture then shows the large packets, as tcpdump shows
    /// them on a Linux interface with offloads (with their TCP checksums computed).
    #[arg(long)]
    offload: bool,
    /// Open the device with N queues (IFF_MULTI_QUEUE) and run a stack of its own on each,
    /// on its own driver thread: one shard per core. The shards share the addresses. ustack
    /// loads an eBPF program that makes the kernel pick each packet's queue by its ports
    /// (needs CAP_BPF), and each stack picks its ephemeral ports so that the answers come
    /// back to it: every connection stays on one shard, the kernel's spread over all of
    /// them. Every shard runs the service for the connections it gets (forward too), and
    /// `connect` runs on the first; --control lists the sockets of every shard and sums
    /// their counters. Without the program (no privilege to load it) the kernel's own flow
    /// hash spreads the connections and `connect` is refused. Not with --pcap.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    queues: u16,
    /// Write every packet in and out to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// A Unix socket where `ustack ss --control PATH` reads the sockets and counters. A stale
    /// socket left there by an earlier run is replaced; anything else at PATH is refused.
    #[arg(long)]
    control: Option<PathBuf>,
    /// Seconds to let connections finish (FIN exchange) on SIGINT/SIGTERM.
    #[arg(long, default_value_t = 2.0)]
    grace: f64,
    /// Switch the stack's trace events on and print them to stderr.
    #[arg(long)]
    trace: bool,
    /// TCP Fast Open (RFC 7413), client and server (`tcp_fastopen` 0x3): the service's
    /// listeners take the data of SYNs with a valid cookie, with a Fast Open queue of QLEN
    /// (128 when not given); `connect` puts its first bytes in the SYN once the stack holds
    /// a cookie from the server (the first connection asks for one; see `connect --count`).
    /// Written `--fastopen` or `--fastopen=QLEN`.
    #[arg(long, value_name = "QLEN", num_args = 0..=1, require_equals = true, default_missing_value = "128")]
    fastopen: Option<u32>,
    /// TCP_DEFER_ACCEPT on the service's listeners: a connection is accepted once its first
    /// data has come, or after SECS seconds (rounded up to SYN-ACK retransmissions, as Linux).
    #[arg(long, value_name = "SECS")]
    defer_accept: Option<u32>,
    #[command(flatten)]
    settings: crate::settings::SettingsArgs,
    /// What to run on the stack.
    #[command(subcommand)]
    service: services::Service,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    if args.addr.addr() == args.host_addr.addr() {
        return Err(format!(
            "--addr and --host-addr are both {}: the stack and the kernel need different addresses",
            args.addr.addr()
        ));
    }
    if !args.host_addr.contains(args.addr.addr()) {
        return Err(format!(
            "--addr {} is outside --host-addr {}: the kernel routes only its own prefix into the device",
            args.addr, args.host_addr
        ));
    }
    if let (Some(addr6), Some(host6)) = (args.addr6, args.host_addr6) {
        if addr6.addr() == host6.addr() {
            return Err(format!(
                "--addr6 and --host-addr6 are both {}: the stack and the kernel need different addresses",
                addr6.addr()
            ));
        }
        if !host6.contains(addr6.addr()) {
            return Err(format!(
                "--addr6 {addr6} is outside --host-addr6 {host6}: the kernel routes only its own prefix into the device"
            ));
        }
        if args.mtu < 1280 {
            return Err(format!("--mtu {}: IPv6 needs 1280 or more (RFC 8200 §5)", args.mtu));
        }
    }
    if args.queues > 1 && args.pcap.is_some() {
        return Err(format!(
            "--queues {}: --pcap captures one device queue; use it with --queues 1",
            args.queues
        ));
    }
    // With more than one queue, the kernel steers packets to the queues by ports, so that
    // every connection reaches its shard, those a shard opens too. Loaded before the device
    // is made, so that a refusal leaves the network untouched.
    let steering = if args.queues > 1 {
        match SteeringProgram::load(args.queues) {
            Ok(program) => Some(program),
            Err(e) if matches!(args.service, services::Service::Connect { .. }) => {
                return Err(format!(
                    "--queues {}: connect needs the kernel to steer the queues by ports: {e}; \
                     use --queues 1",
                    args.queues
                ));
            }
            Err(e) => {
                eprintln!(
                    "ustack: --queues {}: {e}; the kernel's own flow hash spreads the \
                     connections instead",
                    args.queues
                );
                None
            }
        }
    } else {
        None
    };
    let grace = Duration::try_from_secs_f64(args.grace).map_err(|e| format!("--grace: {e}"))?;
    let mut net_cfg = NetConfig::new(args.addr);
    net_cfg.ipv6.extend(args.addr6);
    // Before the device, so a bad setting leaves the network untouched.
    args.settings.apply(&mut net_cfg)?;
    // Before the device, so a bad path leaves the network untouched.
    let control = args.control.as_deref().map(control::claim).transpose()?;
    let config = TunConfig {
        name: args.dev.clone(),
        mtu: usize::from(args.mtu),
        host_addr: Some(args.host_addr),
        multi_queue: args.queues > 1,
        offload: args.offload,
    };
    let tun = Tun::create(&config).map_err(|e| e.to_string())?;
    if let Some(host6) = args.host_addr6 {
        tun.add_host_addr6(host6).map_err(|e| e.to_string())?;
    }
    let more_queues = (1..args.queues)
        .map(|_| tun.new_queue().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(program) = &steering {
        tun.set_steering(program).map_err(|e| e.to_string())?;
    }
    let shard = |queue: u16| {
        steering.as_ref().map(|_| ustack::core::steering::Shard { queue, queues: args.queues })
    };
    let dev_name = tun.name().to_string();
    net_cfg.mtu = Some(args.mtu);
    net_cfg.tracing = args.trace;
    net_cfg.transparent = matches!(args.service, services::Service::Forward(_));
    if args.fastopen.is_some() {
        net_cfg.stack.tcp_fastopen |= ustack::core::tcp_engine::tfo::CLIENT_ENABLE
            | ustack::core::tcp_engine::tfo::SERVER_ENABLE;
    }
    net_cfg.shard = shard(0);
    let net = match &args.pcap {
        Some(path) => {
            let dev = PcapDevice::create(tun, path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            NetStack::spawn(dev, net_cfg.clone())
        }
        None => NetStack::spawn(tun, net_cfg.clone()),
    }
    .map_err(|e| format!("cannot start the stack: {e}"))?;
    // The other shards, one per further queue (their sockets are their own).
    let mut shards = vec![net.clone()];
    for (i, queue) in (1..).zip(more_queues) {
        let cfg = NetConfig { shard: shard(i), ..net_cfg.clone() };
        let stack = NetStack::spawn(queue, cfg)
            .map_err(|e| format!("cannot start the stack of another queue: {e}"))?;
        shards.push(stack);
    }
    if args.trace {
        for (i, shard) in shards.iter().enumerate() {
            let tag = if args.queues > 1 { format!(" q{i}") } else { String::new() };
            shard.set_observer(Box::new(move |now, ev| {
                let t = now.since_epoch().as_secs_f64();
                eprintln!("{t:>12.6}{tag} {} {:?}", ev.socket, ev.kind);
            }));
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot install the SIGINT/SIGTERM handler: {e}"))?;
    let _control = control.map(|c| c.serve(&shards)).transpose()?;
    let (v6_stack, v6_kernel) = match (args.addr6, args.host_addr6) {
        (Some(a), Some(h)) => (format!(" and {a}"), format!(" and {h}")),
        _ => (String::new(), String::new()),
    };
    let opts = services::Options {
        fastopen: args.fastopen,
        defer_accept: args.defer_accept,
        host_ip: args.host_addr.addr(),
        host_ip6: args.host_addr6.map(|c| c.addr()),
        dual_stack: args.addr6.is_some(),
    };
    let up = format!(
        "ustack: {} up, stack at {}{v6_stack}, kernel at {}{v6_kernel}, mtu {}{}{}; {}",
        dev_name,
        args.addr,
        args.host_addr,
        args.mtu,
        if args.offload { ", offloads on" } else { "" },
        if args.queues > 1 {
            format!(", {} queues and stacks", args.queues)
        } else {
            String::new()
        },
        args.service.describe()
    );
    // "up" tells a waiting client it may connect: a listening service says it once its
    // listeners are bound (a SYN before that would be refused), a connecting one before it
    // starts, so that its own lines follow.
    let connects = matches!(args.service, services::Service::Connect { .. });
    if connects {
        eprintln!("{up}");
    }
    let done = services::start(&shards, &args.service, opts, &stop)?;
    if !connects {
        eprintln!("{up}");
    }
    // Wait for a signal, for a service that ends on its own (connect), or for a panic (the
    // service may be dead: stop, and exit non-zero).
    let outcome = loop {
        if crate::panicked() {
            break Err("a thread panicked (see above); stopping".to_string());
        }
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        if let Some(r) = done.try_take() {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The shards close their connections at once, each given the grace period.
    let closing: Vec<_> =
        shards.into_iter().map(|shard| std::thread::spawn(move || shard.shutdown(grace))).collect();
    let mut unfinished = 0;
    for c in closing {
        unfinished += c
            .join()
            .map_err(|_| "stopping the stack panicked".to_string())?
            .map_err(|e| format!("stopping the stack: {e}"))?;
    }
    if unfinished > 0 {
        eprintln!(
            "ustack: {unfinished} connections had not finished closing after {:.1} s",
            grace.as_secs_f64()
        );
    }
    eprintln!("ustack: stopped; {dev_name} removed");
    outcome
}
