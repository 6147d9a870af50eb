//! One measurement, in a process of its own: `ustack bench --worker ID --peer PEER` (hidden
//! flags the suite passes to its own executable). It prints one `KEY VALUE` line per value
//! (row keys, and `ROWKEY.detail` for what the JSON keeps beside a row), `note: TEXT` lines,
//! or a single `skip: REASON` line when the workload cannot run here.

use std::io::Write;

use super::catalogue::{Peer, Scale};
use super::pair::smol::SmolPair;
use super::pair::us::UstackPair;
use super::pair::{Pair, PairConfig};
use super::{bulk, checksum, cycles, idle, kernel, latency, loopback, simulator, tun};

/// What a worker found.
pub(crate) enum Outcome {
    Values { values: Vec<(String, f64)>, notes: Vec<String> },
    Skip(String),
}

/// Runs workload `id` on `peer` and prints what it measured. `netns`: the bench's network
/// namespace, entered first.
pub(crate) fn run(id: &str, peer: &str, scale: &Scale, netns: Option<&str>) -> Result<(), String> {
    let peer = Peer::parse(peer).ok_or_else(|| format!("--peer: no peer {peer:?}"))?;
    if let Some(count) = id.strip_prefix("hold-idle-") {
        let count = count.parse().map_err(|e| format!("--worker {id}: {e}"))?;
        return kernel::hold_idle(count);
    }
    if let Some(ns) = netns {
        ustack::device::tun::enter_netns(std::path::Path::new("/run/netns").join(ns))
            .map_err(|e| format!("entering network namespace {ns}: {e}"))?;
    }
    let outcome = match measure(id, peer, scale, netns.is_some()) {
        Ok(o) => o,
        Err(e) => match e.strip_prefix("skip: ") {
            Some(reason) => Outcome::Skip(reason.to_string()),
            None => return Err(e),
        },
    };
    let mut out = std::io::stdout().lock();
    let w = match outcome {
        Outcome::Skip(reason) => writeln!(out, "skip: {reason}"),
        Outcome::Values { values, notes } => (|| {
            for n in notes {
                writeln!(out, "note: {n}")?;
            }
            for (k, v) in values {
                writeln!(out, "{k} {v}")?;
            }
            Ok(())
        })(),
    };
    w.map_err(|e| format!("writing the results: {e}"))
}

fn values(v: Vec<(&str, f64)>) -> Outcome {
    Outcome::Values {
        values: v.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        notes: vec![],
    }
}

fn measured(v: Vec<(&str, f64)>, notes: Vec<String>) -> Outcome {
    match values(v) {
        Outcome::Values { values, .. } => Outcome::Values { values, notes },
        skip => skip,
    }
}

/// A pair of the peer's kind, the MTU and measured buffers given, and what `f` makes of it.
fn on_pair<R>(
    peer: Peer,
    cfg: PairConfig,
    f_us: impl FnOnce(&mut UstackPair) -> Result<R, String>,
    f_smol: impl FnOnce(&mut SmolPair) -> Result<R, String>,
) -> Result<R, String> {
    match peer {
        Peer::Ustack => f_us(&mut UstackPair::new(&cfg)),
        Peer::Smoltcp => f_smol(&mut SmolPair::new(&cfg)),
        p => Err(format!("no in-memory pair of {}", p.name())),
    }
}

/// Calls `$f` with a pair of the peer's kind (the same generic code for both).
macro_rules! with_pair {
    ($peer:expr, $cfg:expr, |$p:ident| $body:expr) => {
        on_pair($peer, $cfg, |$p| $body, |$p| $body)
    };
}

fn measure(id: &str, peer: Peer, scale: &Scale, own_ns: bool) -> Result<Outcome, String> {
    let t = scale.time;
    let big = PairConfig { mtu: 1500, buffer: bulk::BUFFER };
    let kernel_note = || {
        if own_ns {
            "kernel: loopback in a network namespace of the bench's own".to_string()
        } else {
            "kernel: 127.0.0.1 of the current network namespace (not root: no namespace of \
             its own, the MTU of lo as it is)"
                .to_string()
        }
    };
    Ok(match (id, peer) {
        ("bulk-1500" | "bulk-65535" | "bulk-1500-idle", _) => {
            let mtu = if id == "bulk-65535" { 65_535 } else { 1500 };
            let key = id.replace('-', "_");
            let n_idle = if id.ends_with("-idle") { scale.idle } else { 0 };
            let (r, notes) = if peer == Peer::Kernel {
                let lo = kernel::set_lo_mtu(mtu, own_ns)?;
                let _idle = kernel::idle(n_idle)?;
                let mut notes = vec![kernel_note()];
                if lo != mtu {
                    notes.push(format!("kernel: lo has MTU {lo}"));
                }
                (bulk::on_kernel(lo, t)?, notes)
            } else {
                let cfg = PairConfig { mtu, ..big };
                idle::room_for(peer, n_idle)?;
                let r = with_pair!(peer, cfg, |p| {
                    p.add_idle(n_idle)?;
                    bulk::on_pair(p, mtu, t)
                })?;
                (r, vec![])
            };
            let k1 = format!("{key}.ns_per_segment");
            let k2 = format!("{key}.packets_per_segment");
            measured(
                vec![(&key, r.gbps), (&k1, r.ns_per_segment), (&k2, r.packets_per_segment)],
                notes,
            )
        }
        ("cycles" | "cycles-idle", _) => {
            let key = id.replace('-', "_");
            let n_idle = if id == "cycles-idle" { scale.idle } else { 0 };
            let (r, notes) = if peer == Peer::Kernel {
                kernel::set_lo_mtu(1500, own_ns)?;
                let _idle = kernel::idle(n_idle)?;
                (cycles::on_kernel(t)?, vec![kernel_note()])
            } else {
                idle::room_for(peer, n_idle)?;
                let r = with_pair!(peer, big, |p| {
                    p.add_idle(n_idle)?;
                    cycles::on_pair(p, t)
                })?;
                (r, vec![])
            };
            let k1 = format!("{key}.packets_per_cycle");
            measured(vec![(&key, r.us_per_cycle), (&k1, r.packets_per_cycle)], notes)
        }
        ("rss-idle" | "rss-big", Peer::Ustack | Peer::Smoltcp) => {
            let (n, prefix) =
                if id == "rss-idle" { (scale.idle, "rss_idle") } else { (scale.big, "rss_big") };
            // ustack as it ships: Linux's buffer settings, buffers grown on demand.
            let cfg = PairConfig { mtu: 1500, buffer: 0 };
            idle::room_for(peer, n)?;
            let r = with_pair!(peer, cfg, |p| idle::rss(p, n))?;
            let mut notes = vec![];
            if peer == Peer::Smoltcp {
                notes.push(format!(
                    "smoltcp: {} B send and {} B receive buffer per idle socket, allocated up front",
                    super::pair::smol::IDLE_BUFFER,
                    super::pair::smol::IDLE_BUFFER
                ));
            }
            let (b, a) = (format!("{prefix}_before"), format!("{prefix}_after"));
            let c = format!("{prefix}_before.connections");
            measured(vec![(&b, r.before), (&a, r.after), (&c, n as f64)], notes)
        }
        ("poll" | "poll-idle", Peer::Ustack | Peer::Smoltcp) => {
            let (conns, key) = if id == "poll" {
                (scale.poll_sockets / 2, "poll_empty")
            } else {
                (scale.idle, "poll_empty_idle")
            };
            idle::room_for(peer, conns)?;
            let ns = with_pair!(peer, big, |p| idle::empty_poll(p, conns, t))?;
            values(vec![(key, ns)])
        }
        ("latency", _) => {
            let (r, notes) = if peer == Peer::Kernel {
                kernel::set_lo_mtu(1500, own_ns)?;
                (latency::on_kernel(t)?, vec![kernel_note()])
            } else {
                (with_pair!(peer, big, |p| latency::on_pair(p, t))?, vec![])
            };
            measured(vec![("latency_p50", r.p50_us), ("latency_p99", r.p99_us)], notes)
        }
        ("checksum", Peer::Ustack | Peer::Smoltcp) => {
            let which =
                if peer == Peer::Ustack { checksum::Impl::Ustack } else { checksum::Impl::Smoltcp };
            values(vec![
                ("checksum_1500", checksum::gbps(which, 1500, t)),
                ("checksum_65536", checksum::gbps(which, 65_536, t)),
            ])
        }
        ("sim", Peer::Ustack) => {
            let (pps, packets) = simulator::packets_per_second(scale.sim_bytes)?;
            values(vec![("sim_pps", pps), ("sim_pps.packets", packets as f64)])
        }
        ("tun-k2u" | "tun-u2k" | "tun-k2u-offload" | "tun-u2k-offload", Peer::Ustack) => {
            if !own_ns {
                return Ok(Outcome::Skip(
                    "needs root: a TUN device in a network namespace of the bench's own".into(),
                ));
            }
            let (dir, key) = match id {
                "tun-k2u" => (tun::Direction::KernelToUstack, "tun_kernel_to_ustack"),
                "tun-u2k" => (tun::Direction::UstackToKernel, "tun_ustack_to_kernel"),
                "tun-k2u-offload" => {
                    (tun::Direction::KernelToUstack, "tun_kernel_to_ustack_offload")
                }
                _ => (tun::Direction::UstackToKernel, "tun_ustack_to_kernel_offload"),
            };
            let offload = id.ends_with("-offload");
            values(vec![(key, tun::gbps(dir, offload, t)?)])
        }
        ("tun-k2u-queues", Peer::Ustack) => {
            if !own_ns {
                return Ok(Outcome::Skip(
                    "needs root: a TUN device in a network namespace of the bench's own".into(),
                ));
            }
            let queues = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
            let flows = 4 * queues;
            let (one, _) = tun::gbps_sharded(1, flows, t)?;
            let (gbps, used) = tun::gbps_sharded(queues, flows, t)?;
            let note = format!(
                "TUN queues: {flows} kernel connections on 1 queue and stack, then on {queues} queues with a stack each (the kernel spread them over {used})"
            );
            measured(
                vec![("tun_kernel_to_ustack_flows", one), ("tun_kernel_to_ustack_queues", gbps)],
                vec![note],
            )
        }
        ("loopback-bulk" | "loopback-rtt", _) => {
            let transport = match peer {
                Peer::Ustack => loopback::Transport::Ustack,
                Peer::Kernel => loopback::Transport::KernelTcp,
                Peer::Unix => loopback::Transport::Unix,
                Peer::Smoltcp => return Err("smoltcp has no loopback row".to_string()),
            };
            let notes = if peer == Peer::Kernel { vec![kernel_note()] } else { vec![] };
            if id == "loopback-bulk" {
                measured(vec![("loopback_bulk", loopback::bulk(transport, t)?)], notes)
            } else {
                measured(vec![("loopback_rtt", loopback::rtt(transport, t)?)], notes)
            }
        }
        (id, peer) => return Err(format!("no workload {id:?} on {}", peer.name())),
    })
}
