//! The rows of `ustack bench`: which workloads run, on which peers, what each row reports,
//! and the target set for it.

use std::time::Duration;

use super::stats::Better;

/// Who runs a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Ustack,
    Smoltcp,
    /// The Linux kernel's TCP over its loopback device.
    Kernel,
    /// The kernel's AF_UNIX stream sockets (SPEC S24).
    Unix,
}

impl Peer {
    pub(crate) const ALL: [Peer; 4] = [Peer::Ustack, Peer::Smoltcp, Peer::Kernel, Peer::Unix];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Ustack => "ustack",
            Peer::Smoltcp => "smoltcp",
            Peer::Kernel => "kernel",
            Peer::Unix => "AF_UNIX",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// Whether it runs in the bench's network namespace (when there is one).
    pub(crate) fn uses_kernel(self) -> bool {
        matches!(self, Peer::Kernel | Peer::Unix)
    }
}

/// What is asked of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Target {
    None,
    /// The median ratio against the peer at least this.
    Ratio(Peer, f64),
    /// ustack's median at least this (a rate).
    AtLeast(f64),
    /// ustack's median at most this (a cost).
    AtMost(f64),
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    /// The key in the JSON file and the worker's output.
    pub(crate) key: &'static str,
    /// What the row shows; `{idle}`, `{big}` and `{poll}` stand for the scale's counts.
    pub(crate) title: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) better: Better,
    pub(crate) target: Target,
    /// The words of the target.
    pub(crate) target_text: &'static str,
}

/// One measurement, run once per peer and round in a process of its own; it fills one or
/// more rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Workload {
    pub(crate) id: &'static str,
    /// The name `--only` picks it by (as well as by its id or a row key).
    pub(crate) family: &'static str,
    pub(crate) peers: &'static [Peer],
    pub(crate) rows: &'static [Row],
}

const USK: &[Peer] = &[Peer::Ustack, Peer::Smoltcp, Peer::Kernel];
const US: &[Peer] = &[Peer::Ustack, Peer::Smoltcp];
const U: &[Peer] = &[Peer::Ustack];
const UKX: &[Peer] = &[Peer::Ustack, Peer::Kernel, Peer::Unix];

const fn row(key: &'static str, title: &'static str, unit: &'static str, better: Better) -> Row {
    Row { key, title, unit, better, target: Target::None, target_text: "" }
}

const fn with(r: Row, target: Target, target_text: &'static str) -> Row {
    Row { target, target_text, ..r }
}

use Better::{Higher, Lower};

/// Every workload, in the order they run and print.
pub(crate) const WORKLOADS: &[Workload] = &[
    Workload {
        id: "bulk-1500",
        family: "bulk",
        peers: USK,
        rows: &[with(
            row("bulk_1500", "bulk, MTU 1500", "Gbit/s", Higher),
            Target::Ratio(Peer::Smoltcp, 2.0),
            ">= 2x smoltcp",
        )],
    },
    Workload {
        id: "bulk-65535",
        family: "bulk",
        peers: USK,
        rows: &[with(
            row("bulk_65535", "bulk, MTU 65535", "Gbit/s", Higher),
            Target::Ratio(Peer::Smoltcp, 1.5),
            ">= 1.5x smoltcp",
        )],
    },
    Workload {
        id: "cycles",
        family: "cycles",
        peers: USK,
        rows: &[with(
            row("cycles", "connect, 1-byte echo, close", "us/cycle", Lower),
            Target::Ratio(Peer::Smoltcp, 1.5),
            ">= 1.5x smoltcp",
        )],
    },
    Workload {
        id: "bulk-1500-idle",
        family: "bulk",
        peers: USK,
        rows: &[row("bulk_1500_idle", "bulk, MTU 1500, {idle} idle connections", "Gbit/s", Higher)],
    },
    Workload {
        id: "cycles-idle",
        family: "cycles",
        peers: USK,
        rows: &[row("cycles_idle", "cycles, {idle} idle connections", "us/cycle", Lower)],
    },
    Workload {
        id: "rss-idle",
        family: "rss",
        peers: US,
        rows: &[
            with(
                row("rss_idle_before", "RSS per idle connection, {idle}, opened", "B/conn", Lower),
                Target::AtMost(2048.0),
                "< 1 KiB per socket",
            ),
            with(
                row(
                    "rss_idle_after",
                    "RSS per idle connection, {idle}, 1 B each way",
                    "B/conn",
                    Lower,
                ),
                Target::AtMost(2048.0),
                "< 1 KiB per socket",
            ),
        ],
    },
    Workload {
        id: "rss-big",
        family: "rss",
        peers: US,
        rows: &[
            with(
                row("rss_big_before", "RSS per idle connection, {big}, opened", "B/conn", Lower),
                Target::AtMost(2048.0),
                "< 1 KiB per socket",
            ),
            with(
                row(
                    "rss_big_after",
                    "RSS per idle connection, {big}, 1 B each way",
                    "B/conn",
                    Lower,
                ),
                Target::AtMost(2147.0),
                "1M connections in 2 GiB",
            ),
        ],
    },
    Workload {
        id: "poll-idle",
        family: "poll",
        peers: US,
        rows: &[row("poll_empty_idle", "empty poll, {idle} idle connections", "ns/poll", Lower)],
    },
    Workload {
        id: "poll",
        family: "poll",
        peers: US,
        rows: &[row("poll_empty", "empty poll, {poll} sockets", "ns/poll", Lower)],
    },
    Workload {
        id: "latency",
        family: "latency",
        peers: USK,
        rows: &[
            row("latency_p50", "request/response 64 B, p50", "us", Lower),
            row("latency_p99", "request/response 64 B, p99", "us", Lower),
        ],
    },
    Workload {
        id: "checksum",
        family: "checksum",
        peers: US,
        rows: &[
            row("checksum_1500", "checksum, 1500 B", "GB/s", Higher),
            row("checksum_65536", "checksum, 64 KiB", "GB/s", Higher),
        ],
    },
    Workload {
        id: "sim",
        family: "sim",
        peers: U,
        rows: &[with(
            row("sim_pps", "simulator, packets per wall second", "pkt/s", Higher),
            Target::AtLeast(2e6),
            ">= 2M pkt/s",
        )],
    },
    Workload {
        id: "tun-k2u",
        family: "tun",
        peers: U,
        rows: &[row("tun_kernel_to_ustack", "TUN bulk, kernel -> ustack", "Gbit/s", Higher)],
    },
    Workload {
        id: "tun-u2k",
        family: "tun",
        peers: U,
        rows: &[row("tun_ustack_to_kernel", "TUN bulk, ustack -> kernel", "Gbit/s", Higher)],
    },
    Workload {
        id: "tun-k2u-offload",
        family: "tun",
        peers: U,
        rows: &[with(
            row(
                "tun_kernel_to_ustack_offload",
                "TUN bulk, kernel -> ustack, offloads",
                "Gbit/s",
                Higher,
            ),
            Target::AtLeast(15.0),
            "15 Gbit/s",
        )],
    },
    Workload {
        id: "tun-u2k-offload",
        family: "tun",
        peers: U,
        rows: &[with(
            row(
                "tun_ustack_to_kernel_offload",
                "TUN bulk, ustack -> kernel, offloads",
                "Gbit/s",
                Higher,
            ),
            Target::AtLeast(3.5),
            "past the per-packet bound (~3.5)",
        )],
    },
    Workload {
        id: "tun-k2u-queues",
        family: "tun",
        peers: U,
        rows: &[
            row(
                "tun_kernel_to_ustack_flows",
                "TUN bulk, kernel -> ustack, offloads, 4 connections per CPU, one queue",
                "Gbit/s",
                Higher,
            ),
            with(
                row(
                    "tun_kernel_to_ustack_queues",
                    "TUN bulk, kernel -> ustack, offloads, the same, a queue and stack per CPU",
                    "Gbit/s",
                    Higher,
                ),
                Target::AtLeast(15.0),
                "15 Gbit/s",
            ),
        ],
    },
    Workload {
        id: "loopback-bulk",
        family: "loopback",
        peers: UKX,
        rows: &[row("loopback_bulk", "S24 loopback bulk, blocking API", "Gbit/s", Higher)],
    },
    Workload {
        id: "loopback-rtt",
        family: "loopback",
        peers: UKX,
        rows: &[row("loopback_rtt", "S24 loopback rtt 64 B, blocking API", "us", Lower)],
    },
];

/// How big the workloads are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub(crate) quick: bool,
    /// How long each timed measurement runs (after a warm-up of a fifth of it).
    pub(crate) time: Duration,
    /// Idle connections of the `{idle}` rows.
    pub(crate) idle: usize,
    /// Idle connections of the `{big}` rows.
    pub(crate) big: usize,
    /// Sockets of the empty poll (half as many connections).
    pub(crate) poll_sockets: usize,
    /// Bytes of the simulated transfer.
    pub(crate) sim_bytes: u64,
}

impl Scale {
    pub(crate) const FULL: Scale = Scale {
        quick: false,
        time: Duration::from_secs(1),
        idle: 100_000,
        big: 1_000_000,
        poll_sockets: 1_000_000,
        sim_bytes: 256 << 20,
    };

    /// Small enough for CI's smoke run in a debug build: every row, tiny counts.
    pub(crate) const QUICK: Scale = Scale {
        quick: true,
        time: Duration::from_millis(40),
        idle: 1_000,
        big: 4_000,
        poll_sockets: 4_000,
        sim_bytes: 2 << 20,
    };

    /// `title` with the counts filled in.
    pub(crate) fn title(&self, title: &str) -> String {
        title
            .replace("{idle}", &count(self.idle))
            .replace("{big}", &count(self.big))
            .replace("{poll}", &count(self.poll_sockets))
    }
}

/// `100k`, `1M`, `4k`, `250`.
pub(crate) fn count(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// The workloads `only` picks (families, workload ids or row keys, comma-separated); all
/// when empty.
pub(crate) fn select(only: &[String]) -> Result<Vec<&'static Workload>, String> {
    if only.is_empty() {
        return Ok(WORKLOADS.iter().collect());
    }
    for name in only {
        let known = WORKLOADS
            .iter()
            .any(|w| w.family == name || w.id == name || w.rows.iter().any(|r| r.key == name));
        if !known {
            let families: Vec<&str> =
                WORKLOADS.iter().map(|w| w.family).fold(Vec::new(), |mut v, f| {
                    if !v.contains(&f) {
                        v.push(f);
                    }
                    v
                });
            return Err(format!(
                "--only: no workload {name:?}; families: {}; or a workload id or row key \
                 (see --help)",
                families.join(", ")
            ));
        }
    }
    Ok(WORKLOADS
        .iter()
        .filter(|w| {
            only.iter().any(|n| w.family == n || w.id == n || w.rows.iter().any(|r| r.key == n))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_keys_and_workload_ids_are_unique() {
        let mut keys: Vec<&str> =
            WORKLOADS.iter().flat_map(|w| w.rows.iter().map(|r| r.key)).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n);
        let mut ids: Vec<&str> = WORKLOADS.iter().map(|w| w.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), WORKLOADS.len());
    }

    #[test]
    fn only_picks_by_family_id_or_row_key() {
        let ids = |only: &[&str]| -> Vec<&str> {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select(&only).expect("known names").iter().map(|w| w.id).collect()
        };
        assert_eq!(ids(&["cycles"]), ["cycles", "cycles-idle"]);
        assert_eq!(ids(&["poll"]), ["poll-idle", "poll"]);
        assert_eq!(ids(&["bulk-65535", "latency_p99"]), ["bulk-65535", "latency"]);
        assert_eq!(ids(&[]).len(), WORKLOADS.len());
        assert!(select(&["nonsense".to_string()]).is_err());
    }

    #[test]
    fn titles_say_the_counts_of_the_scale() {
        assert_eq!(Scale::FULL.title("{idle} and {big}, {poll}"), "100k and 1M, 1M");
        assert_eq!(Scale::QUICK.title("{idle}"), "1k");
        assert_eq!(count(2_500), "2500");
    }
}
