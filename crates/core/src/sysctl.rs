//! Linux sysctl names mapped onto the stack's settings: `net.ipv4.tcp_sack = 0` sets
//! [`TcpConfig::sack`](ustack_tcp::TcpConfig::sack), and so on for every setting that has a
//! Linux twin ([`SETTINGS`]).
//!
//! Values are parsed as Linux writes them under `/proc/sys`: integers, `0`/`1` switches,
//! whitespace-separated triples for `tcp_rmem` / `tcp_wmem`, seconds, milliseconds or
//! microseconds as the sysctl's own unit. A name may be given dotted (`net.ipv4.tcp_sack`) or
//! as a path under `/proc/sys` (`net/ipv4/tcp_sack`).
//!
//! Linux has sysctls for features ustack does not have (F-RTO, FACK, ...). For those, [`set`] accepts the value that describes what ustack does (e.g.
//! `tcp_fastopen = 0`) and answers any other value with [`SysctlError::NotImplemented`], so a
//! caller never believes a setting took effect when it did not ([`FIXED`] lists them with the
//! value ustack behaves as).

use core::fmt;

use ustack_tcp::{BufferSizes, CcName, Duration, TcpConfig, cc};

use crate::StackConfig;

/// Why a sysctl could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlError {
    /// Neither a setting of ustack nor a Linux sysctl it knows about.
    Unknown,
    /// A Linux sysctl for behaviour ustack does not have; `accepts` is the only value that
    /// describes ustack (setting it is allowed and changes nothing).
    NotImplemented {
        /// The value ustack behaves as.
        accepts: &'static str,
    },
    /// The value does not parse, or is outside the range Linux accepts.
    InvalidValue(String),
}

impl fmt::Display for SysctlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysctlError::Unknown => f.write_str("no such setting"),
            SysctlError::NotImplemented { accepts } => {
                write!(f, "not implemented in ustack, which behaves as the value {accepts}")
            }
            SysctlError::InvalidValue(why) => write!(f, "invalid value: {why}"),
        }
    }
}

impl std::error::Error for SysctlError {}

/// Every sysctl [`set`] and [`get`] map onto a setting, dotted.
pub const SETTINGS: &[&str] = &[
    "net.core.rmem_default",
    "net.core.somaxconn",
    "net.core.wmem_default",
    "net.ipv4.icmp_echo_ignore_all",
    "net.ipv4.icmp_msgs_burst",
    "net.ipv4.icmp_msgs_per_sec",
    "net.ipv4.ip_default_ttl",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ipfrag_high_thresh",
    "net.ipv4.ipfrag_time",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_base_mss",
    "net.ipv4.tcp_challenge_ack_limit",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_dsack",
    "net.ipv4.tcp_early_retrans",
    "net.ipv4.tcp_ecn",
    "net.ipv4.tcp_ecn_fallback",
    "net.ipv4.tcp_fastopen",
    "net.ipv4.tcp_fastopen_blackhole_timeout_sec",
    "net.ipv4.tcp_fastopen_key",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_invalid_ratelimit",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_max_reordering",
    "net.ipv4.tcp_min_snd_mss",
    "net.ipv4.tcp_moderate_rcvbuf",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_orphan_retries",
    "net.ipv4.tcp_recovery",
    "net.ipv4.tcp_reordering",
    "net.ipv4.tcp_retries1",
    "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_rfc1337",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_rto_max_ms",
    "net.ipv4.tcp_rto_min_us",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_tw_reuse_delay",
    "net.ipv4.tcp_window_scaling",
    "net.ipv4.tcp_wmem",
    "net.ipv6.auto_flowlabels",
    "net.ipv6.bindv6only",
    "net.ipv6.conf.default.hop_limit",
    "net.ipv6.icmp.ratelimit",
    "net.ipv6.ip6frag_high_thresh",
    "net.ipv6.ip6frag_time",
    "net.ipv6.route.mtu_expires",
];

/// Linux sysctls for behaviour ustack does not have, with the value that describes ustack.
pub const FIXED: &[(&str, &str)] = &[
    ("net.ipv4.tcp_fack", "0"),
    ("net.ipv4.tcp_frto", "0"),
    ("net.ipv4.tcp_slow_start_after_idle", "1"),
    ("net.ipv4.tcp_syn_linear_timeouts", "0"),
];

/// The known name closest to `name` (a setting or a fixed one), for a "did you mean" hint:
/// at most a third of its length away in edits, else `None`.
pub fn suggest(name: &str) -> Option<&'static str> {
    let name = normalize(name);
    let mut known = SETTINGS.iter().copied().chain(FIXED.iter().map(|(n, _)| *n));
    if known.any(|k| k == name) {
        return None;
    }
    SETTINGS
        .iter()
        .copied()
        .chain(FIXED.iter().map(|(n, _)| *n))
        .map(|known| (edit_distance(&name, known), known))
        .filter(|&(d, known)| d <= known.len() / 3)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance, in bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The dotted form of `name` (`net/ipv4/tcp_sack` and `/proc/sys/net/ipv4/tcp_sack` become
/// `net.ipv4.tcp_sack`).
pub fn normalize(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_prefix("/proc/sys/").unwrap_or(name);
    name.trim_matches('/').replace('/', ".")
}

/// Applies sysctl `name = value` to `cfg`. The result is checked with
/// [`StackConfig::validate`]: a value that would make the configuration invalid is refused
/// and `cfg` is left as it was.
pub fn set(cfg: &mut StackConfig, name: &str, value: &str) -> Result<(), SysctlError> {
    let name = normalize(name);
    let value = value.trim();
    if let Some(&(_, accepts)) = FIXED.iter().find(|(n, _)| *n == name) {
        return if parse_u64(value)? == parse_u64(accepts)? {
            Ok(())
        } else {
            Err(SysctlError::NotImplemented { accepts })
        };
    }
    let mut new = *cfg;
    apply(&mut new, &name, value)?;
    new.validate().map_err(|e| SysctlError::InvalidValue(e.to_string()))?;
    *cfg = new;
    Ok(())
}

/// The value of sysctl `name` in `cfg`, formatted as Linux shows it.
pub fn get(cfg: &StackConfig, name: &str) -> Result<String, SysctlError> {
    let name = normalize(name);
    if let Some(&(_, accepts)) = FIXED.iter().find(|(n, _)| *n == name) {
        return Ok(accepts.to_string());
    }
    let t = &cfg.tcp;
    let triple = |b: &BufferSizes| format!("{}\t{}\t{}", b.min, b.default, b.max);
    let key = name.as_str();
    Ok(match key {
        "net.core.rmem_default" => cfg.udp_rmem.to_string(),
        "net.core.somaxconn" => cfg.somaxconn.to_string(),
        "net.core.wmem_default" => cfg.wmem.to_string(),
        "net.ipv4.icmp_echo_ignore_all" => u8::from(!cfg.icmp_echo).to_string(),
        "net.ipv4.icmp_msgs_burst" => cfg.icmp_msgs_burst.to_string(),
        "net.ipv4.icmp_msgs_per_sec" => cfg.icmp_msgs_per_sec.to_string(),
        "net.ipv4.ip_default_ttl" => cfg.ip_default_ttl.to_string(),
        "net.ipv4.ip_local_port_range" => {
            format!("{}\t{}", cfg.ip_local_port_range.0, cfg.ip_local_port_range.1)
        }
        "net.ipv4.ipfrag_high_thresh" => cfg.ipfrag_high_thresh.to_string(),
        "net.ipv4.ipfrag_time" => cfg.ipfrag_time.as_secs().to_string(),
        "net.ipv4.tcp_abort_on_overflow" => u8::from(cfg.tcp_abort_on_overflow).to_string(),
        "net.ipv4.tcp_base_mss" => t.base_mss.to_string(),
        "net.ipv4.tcp_challenge_ack_limit" => t.challenge_ack_limit.to_string(),
        "net.ipv4.tcp_congestion_control" => t.congestion_control.to_string(),
        "net.ipv4.tcp_dsack" => u8::from(t.dsack).to_string(),
        "net.ipv4.tcp_moderate_rcvbuf" => u8::from(t.moderate_rcvbuf).to_string(),
        "net.ipv4.tcp_early_retrans" => if t.tlp { "3" } else { "0" }.to_string(),
        "net.ipv4.tcp_ecn" => t.ecn.to_string(),
        "net.ipv4.tcp_ecn_fallback" => u8::from(t.ecn_fallback).to_string(),
        "net.ipv4.tcp_fastopen" => format!("{}", cfg.tcp_fastopen),
        "net.ipv4.tcp_fastopen_blackhole_timeout_sec" => {
            cfg.tcp_fastopen_blackhole_timeout.as_secs().to_string()
        }
        // Linux shows zeros until a key is set or first drawn.
        "net.ipv4.tcp_fastopen_key" => match cfg.tcp_fastopen_key {
            Some(k) => k.to_string(),
            None => "00000000-00000000-00000000-00000000".to_string(),
        },
        "net.ipv4.tcp_syncookies" => cfg.tcp_syncookies.to_string(),
        "net.ipv4.tcp_tw_reuse" => cfg.tcp_tw_reuse.to_string(),
        "net.ipv4.tcp_tw_reuse_delay" => cfg.tcp_tw_reuse_delay.as_millis().to_string(),
        "net.ipv4.tcp_mtu_probing" => t.mtu_probing.to_string(),
        "net.ipv4.tcp_recovery" => u8::from(t.rack).to_string(),
        "net.ipv4.tcp_reordering" => t.reordering.to_string(),
        "net.ipv4.tcp_max_reordering" => t.max_reordering.to_string(),
        "net.ipv4.tcp_fin_timeout" => t.fin_timeout.as_secs().to_string(),
        "net.ipv4.tcp_invalid_ratelimit" => t.invalid_ratelimit.as_millis().to_string(),
        "net.ipv4.tcp_keepalive_intvl" => t.keepalive_intvl.as_secs().to_string(),
        "net.ipv4.tcp_keepalive_probes" => t.keepalive_probes.to_string(),
        "net.ipv4.tcp_keepalive_time" => t.keepalive_time.as_secs().to_string(),
        "net.ipv4.tcp_min_snd_mss" => t.min_snd_mss.to_string(),
        "net.ipv4.tcp_orphan_retries" => t.orphan_retries.to_string(),
        "net.ipv4.tcp_retries1" => t.retries1.to_string(),
        "net.ipv4.tcp_retries2" => t.retries2.to_string(),
        "net.ipv4.tcp_rfc1337" => u8::from(t.rfc1337).to_string(),
        "net.ipv4.tcp_rmem" => triple(&t.rmem),
        "net.ipv4.tcp_rto_max_ms" => t.rto_max.as_millis().to_string(),
        "net.ipv4.tcp_rto_min_us" => t.rto_min.as_micros().to_string(),
        "net.ipv4.tcp_sack" => u8::from(t.sack).to_string(),
        "net.ipv4.tcp_syn_retries" => t.syn_retries.to_string(),
        "net.ipv4.tcp_synack_retries" => t.synack_retries.to_string(),
        "net.ipv4.tcp_timestamps" => u8::from(t.timestamps).to_string(),
        "net.ipv4.tcp_window_scaling" => u8::from(t.window_scaling).to_string(),
        "net.ipv4.tcp_wmem" => triple(&t.wmem),
        "net.ipv6.auto_flowlabels" => cfg.auto_flowlabels.to_string(),
        "net.ipv6.bindv6only" => u8::from(cfg.bindv6only).to_string(),
        "net.ipv6.conf.default.hop_limit" => cfg.ipv6_hop_limit.to_string(),
        "net.ipv6.icmp.ratelimit" => cfg.icmpv6_ratelimit.as_millis().to_string(),
        "net.ipv6.ip6frag_high_thresh" => cfg.ip6frag_high_thresh.to_string(),
        "net.ipv6.ip6frag_time" => cfg.ip6frag_time.as_secs().to_string(),
        "net.ipv6.route.mtu_expires" => cfg.ip6_rt_mtu_expires.as_secs().to_string(),
        _ => return Err(SysctlError::Unknown),
    })
}

fn apply(cfg: &mut StackConfig, name: &str, value: &str) -> Result<(), SysctlError> {
    let t: &mut TcpConfig = &mut cfg.tcp;
    match name {
        "net.core.rmem_default" => cfg.udp_rmem = parse_usize(value)?,
        "net.core.somaxconn" => cfg.somaxconn = parse_u32(value)?,
        "net.core.wmem_default" => cfg.wmem = parse_usize(value)?,
        "net.ipv4.icmp_echo_ignore_all" => cfg.icmp_echo = !parse_bool(value)?,
        "net.ipv4.icmp_msgs_burst" => cfg.icmp_msgs_burst = parse_u32(value)?,
        "net.ipv4.icmp_msgs_per_sec" => cfg.icmp_msgs_per_sec = parse_u32(value)?,
        "net.ipv4.ip_default_ttl" => {
            cfg.ip_default_ttl = u8::try_from(parse_u64(value)?)
                .map_err(|_| SysctlError::InvalidValue(format!("{value} is not 1 to 255")))?
        }
        "net.ipv4.ip_local_port_range" => {
            let [lo, hi] = fields::<2>(value)?;
            let port = |v: u64| {
                u16::try_from(v)
                    .map_err(|_| SysctlError::InvalidValue(format!("{v} is not a port")))
            };
            cfg.ip_local_port_range = (port(lo)?, port(hi)?);
        }
        "net.ipv4.ipfrag_high_thresh" => cfg.ipfrag_high_thresh = parse_usize(value)?,
        "net.ipv4.ipfrag_time" => cfg.ipfrag_time = Duration::from_secs(parse_u64(value)?),
        "net.ipv4.tcp_abort_on_overflow" => cfg.tcp_abort_on_overflow = parse_bool(value)?,
        "net.ipv4.tcp_base_mss" => t.base_mss = parse_u16(value)?,
        "net.ipv4.tcp_challenge_ack_limit" => t.challenge_ack_limit = parse_u32(value)?,
        "net.ipv4.tcp_congestion_control" => {
            let name = CcName::new(value)
                .map_err(|e| SysctlError::InvalidValue(format!("{value:?}: {e}")))?;
            if cc::factory_by_name(name.as_str()).is_none() {
                let known: Vec<&str> = cc::available().collect();
                return Err(SysctlError::InvalidValue(format!(
                    "{value:?} is not an available congestion control (available: {})",
                    known.join(" ")
                )));
            }
            t.congestion_control = name;
        }
        "net.ipv4.tcp_fin_timeout" => t.fin_timeout = Duration::from_secs(parse_u64(value)?),
        "net.ipv4.tcp_dsack" => t.dsack = parse_bool(value)?,
        "net.ipv4.tcp_moderate_rcvbuf" => t.moderate_rcvbuf = parse_bool(value)?,
        "net.ipv4.tcp_fastopen" => cfg.tcp_fastopen = parse_u32(value)?,
        "net.ipv4.tcp_fastopen_blackhole_timeout_sec" => {
            cfg.tcp_fastopen_blackhole_timeout = Duration::from_secs(parse_u64(value)?)
        }
        // All zeros is how Linux shows a key not set yet: the default key stays.
        "net.ipv4.tcp_fastopen_key" => {
            let keys: ustack_tcp::tfo::FastOpenKeys =
                value.parse().map_err(|e: ustack_tcp::tfo::KeyParseError| {
                    SysctlError::InvalidValue(e.to_string())
                })?;
            cfg.tcp_fastopen_key = (keys.primary.words() != [0; 4]).then_some(keys);
        }
        "net.ipv4.tcp_syncookies" => {
            cfg.tcp_syncookies = small(value, 2)?;
        }
        "net.ipv4.tcp_tw_reuse" => cfg.tcp_tw_reuse = small(value, 2)?,
        "net.ipv4.tcp_tw_reuse_delay" => {
            cfg.tcp_tw_reuse_delay = Duration::from_millis(parse_u64(value)?)
        }
        // Linux: 0 off; 1 and 2 the early retransmit RACK replaced; 3 (default) and 4 the
        // tail loss probe.
        "net.ipv4.tcp_early_retrans" => {
            t.tlp = match parse_u64(value)? {
                0..=2 => false,
                3 | 4 => true,
                n => return Err(SysctlError::InvalidValue(format!("{n} is not 0 to 4"))),
            }
        }
        // Linux: 0 off, 1 request and accept, 2 accept only; 3 to 5 are Accurate ECN, which
        // ustack does not have.
        "net.ipv4.tcp_ecn" => {
            t.ecn = match parse_u64(value)? {
                n @ 0..=2 => n as u8,
                3..=5 => return Err(SysctlError::NotImplemented { accepts: "0, 1 or 2" }),
                n => return Err(SysctlError::InvalidValue(format!("{n} is not 0 to 5"))),
            }
        }
        "net.ipv4.tcp_ecn_fallback" => t.ecn_fallback = parse_bool(value)?,
        "net.ipv4.tcp_mtu_probing" => {
            t.mtu_probing = u8::try_from(parse_u64(value)?)
                .map_err(|_| SysctlError::InvalidValue(format!("{value} is not 0 to 2")))?
        }
        // Linux: bit 1 RACK; the other bits (static reordering window, no duplicate-ACK
        // threshold) tune RACK in ways ustack does not implement.
        "net.ipv4.tcp_recovery" => {
            let v = parse_u64(value)?;
            if v & !1 != 0 {
                return Err(SysctlError::NotImplemented { accepts: "0 or 1" });
            }
            t.rack = v == 1;
        }
        "net.ipv4.tcp_reordering" => t.reordering = parse_u32(value)?.max(1),
        "net.ipv4.tcp_max_reordering" => t.max_reordering = parse_u32(value)?.max(1),
        "net.ipv4.tcp_invalid_ratelimit" => {
            t.invalid_ratelimit = Duration::from_millis(parse_u64(value)?)
        }
        "net.ipv4.tcp_keepalive_intvl" => {
            t.keepalive_intvl = Duration::from_secs(parse_u64(value)?)
        }
        "net.ipv4.tcp_keepalive_probes" => t.keepalive_probes = parse_u32(value)?,
        "net.ipv4.tcp_keepalive_time" => t.keepalive_time = Duration::from_secs(parse_u64(value)?),
        "net.ipv4.tcp_min_snd_mss" => t.min_snd_mss = parse_u16(value)?,
        // Linux: 0 means the built-in 8 (`tcp_orphan_retries()`).
        "net.ipv4.tcp_orphan_retries" => {
            t.orphan_retries = match parse_u32(value)? {
                0 => 8,
                n => n,
            }
        }
        "net.ipv4.tcp_retries1" => t.retries1 = parse_u32(value)?,
        "net.ipv4.tcp_retries2" => t.retries2 = parse_u32(value)?,
        "net.ipv4.tcp_rfc1337" => t.rfc1337 = parse_bool(value)?,
        "net.ipv4.tcp_rmem" => t.rmem = buffer_sizes(value)?,
        "net.ipv4.tcp_rto_max_ms" => t.rto_max = Duration::from_millis(parse_u64(value)?),
        "net.ipv4.tcp_rto_min_us" => t.rto_min = Duration::from_micros(parse_u64(value)?),
        "net.ipv4.tcp_sack" => t.sack = parse_bool(value)?,
        "net.ipv4.tcp_syn_retries" => t.syn_retries = parse_u32(value)?,
        "net.ipv4.tcp_synack_retries" => t.synack_retries = parse_u32(value)?,
        // Linux: 1 = on with a random per-connection offset, 2 = on without it. ustack
        // always uses the offset (RFC 7323 §5.4), so 2 reads back as 1.
        "net.ipv4.tcp_timestamps" => t.timestamps = parse_u64(value)? != 0,
        "net.ipv4.tcp_window_scaling" => t.window_scaling = parse_bool(value)?,
        "net.ipv4.tcp_wmem" => t.wmem = buffer_sizes(value)?,
        "net.ipv6.auto_flowlabels" => cfg.auto_flowlabels = small(value, 3)?,
        "net.ipv6.bindv6only" => cfg.bindv6only = parse_bool(value)?,
        "net.ipv6.conf.default.hop_limit" => {
            cfg.ipv6_hop_limit = u8::try_from(parse_u64(value)?)
                .map_err(|_| SysctlError::InvalidValue(format!("{value} is not 1 to 255")))?
        }
        "net.ipv6.icmp.ratelimit" => {
            cfg.icmpv6_ratelimit = Duration::from_millis(parse_u64(value)?)
        }
        "net.ipv6.ip6frag_high_thresh" => cfg.ip6frag_high_thresh = parse_usize(value)?,
        "net.ipv6.ip6frag_time" => cfg.ip6frag_time = Duration::from_secs(parse_u64(value)?),
        "net.ipv6.route.mtu_expires" => {
            cfg.ip6_rt_mtu_expires = Duration::from_secs(parse_u64(value)?)
        }
        _ => return Err(SysctlError::Unknown),
    }
    Ok(())
}

fn parse_u64(value: &str) -> Result<u64, SysctlError> {
    let v = value.trim();
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| SysctlError::InvalidValue(format!("{v:?} is not a non-negative integer")))
}

fn parse_u32(value: &str) -> Result<u32, SysctlError> {
    u32::try_from(parse_u64(value)?)
        .map_err(|_| SysctlError::InvalidValue(format!("{value} is too large")))
}

fn parse_u16(value: &str) -> Result<u16, SysctlError> {
    u16::try_from(parse_u64(value)?)
        .map_err(|_| SysctlError::InvalidValue(format!("{value} is too large")))
}

fn parse_usize(value: &str) -> Result<usize, SysctlError> {
    usize::try_from(parse_u64(value)?)
        .map_err(|_| SysctlError::InvalidValue(format!("{value} is too large")))
}

/// An integer from 0 to `max`.
fn small(value: &str, max: u8) -> Result<u8, SysctlError> {
    match u8::try_from(parse_u64(value)?) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(SysctlError::InvalidValue(format!("{value} is not 0 to {max}"))),
    }
}

fn parse_bool(value: &str) -> Result<bool, SysctlError> {
    match parse_u64(value)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(SysctlError::InvalidValue(format!("{n} is not 0 or 1"))),
    }
}

fn fields<const N: usize>(value: &str) -> Result<[u64; N], SysctlError> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    if parts.len() != N {
        return Err(SysctlError::InvalidValue(format!("{value:?} is not {N} numbers")));
    }
    let mut out = [0u64; N];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = parse_u64(p)?;
    }
    Ok(out)
}

fn buffer_sizes(value: &str) -> Result<BufferSizes, SysctlError> {
    let [min, default, max] = fields::<3>(value)?;
    let b = |v: u64| {
        u32::try_from(v).map_err(|_| SysctlError::InvalidValue(format!("{v} is too large")))
    };
    Ok(BufferSizes { min: b(min)?, default: b(default)?, max: b(max)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> StackConfig {
        StackConfig::new([7; 16])
    }

    #[test]
    fn every_setting_reads_back_what_was_written() {
        // Values Linux's defaults.sh (packetdrill) and ip-sysctl.rst use.
        let cases = [
            ("net.ipv4.tcp_rmem", "4096\t540000\t15728640"),
            ("net.ipv4.tcp_wmem", "4096\t262144\t4194304"),
            ("net.ipv4.tcp_timestamps", "0"),
            ("net.ipv4.tcp_sack", "0"),
            ("net.ipv4.tcp_window_scaling", "0"),
            ("net.ipv4.tcp_syn_retries", "5"),
            ("net.ipv4.tcp_synack_retries", "3"),
            ("net.ipv4.tcp_retries1", "2"),
            ("net.ipv4.tcp_retries2", "8"),
            ("net.ipv4.tcp_orphan_retries", "3"),
            ("net.ipv4.tcp_fin_timeout", "30"),
            ("net.ipv4.tcp_rfc1337", "0"),
            ("net.ipv4.tcp_keepalive_time", "600"),
            ("net.ipv4.tcp_keepalive_intvl", "10"),
            ("net.ipv4.tcp_keepalive_probes", "4"),
            ("net.ipv4.tcp_base_mss", "512"),
            ("net.ipv4.tcp_min_snd_mss", "100"),
            ("net.ipv4.tcp_challenge_ack_limit", "1000"),
            ("net.ipv4.tcp_invalid_ratelimit", "250"),
            ("net.ipv4.tcp_rto_min_us", "50000"),
            ("net.ipv4.tcp_rto_max_ms", "60000"),
            ("net.ipv4.tcp_congestion_control", "reno"),
            ("net.ipv4.tcp_dsack", "0"),
            ("net.ipv4.tcp_moderate_rcvbuf", "0"),
            ("net.ipv4.tcp_early_retrans", "0"),
            ("net.ipv4.tcp_ecn", "1"),
            ("net.ipv4.tcp_ecn_fallback", "0"),
            ("net.ipv4.tcp_mtu_probing", "1"),
            ("net.ipv4.tcp_recovery", "0"),
            ("net.ipv4.tcp_reordering", "5"),
            ("net.ipv4.tcp_max_reordering", "100"),
            ("net.ipv4.tcp_abort_on_overflow", "1"),
            ("net.ipv4.ip_default_ttl", "32"),
            ("net.ipv4.ip_local_port_range", "10000\t20000"),
            ("net.ipv4.ipfrag_high_thresh", "1048576"),
            ("net.ipv4.ipfrag_time", "10"),
            ("net.ipv4.icmp_msgs_per_sec", "10"),
            ("net.ipv4.icmp_msgs_burst", "5"),
            ("net.ipv4.icmp_echo_ignore_all", "1"),
            ("net.core.somaxconn", "128"),
            ("net.core.rmem_default", "65536"),
            ("net.core.wmem_default", "131072"),
            ("net.ipv4.tcp_syncookies", "2"),
            ("net.ipv4.tcp_fastopen", "1027"),
            ("net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"),
            ("net.ipv4.tcp_fastopen_blackhole_timeout_sec", "3600"),
            ("net.ipv4.tcp_tw_reuse", "1"),
            ("net.ipv4.tcp_tw_reuse_delay", "2000"),
            ("net.ipv6.auto_flowlabels", "0"),
            ("net.ipv6.bindv6only", "1"),
            ("net.ipv6.conf.default.hop_limit", "255"),
            ("net.ipv6.icmp.ratelimit", "100"),
            ("net.ipv6.ip6frag_high_thresh", "1048576"),
            ("net.ipv6.ip6frag_time", "30"),
            ("net.ipv6.route.mtu_expires", "60"),
        ];
        assert_eq!(cases.len(), SETTINGS.len(), "one case per setting");
        for (name, value) in cases {
            let mut c = cfg();
            set(&mut c, name, value).unwrap_or_else(|e| panic!("{name} = {value}: {e}"));
            assert_ne!(c, cfg(), "{name} = {value} changed nothing");
            assert_eq!(get(&c, name).as_deref(), Ok(value), "{name}");
            assert!(SETTINGS.contains(&name));
        }
    }

    #[test]
    fn listener_sysctls_take_linux_values() {
        // packetdrill's defaults.sh: tcp_fastopen=0x70403 (bits above 0x400 are ignored by
        // Linux and kept here), the key, tcp_syncookies=1.
        let mut c = cfg();
        assert_eq!(get(&c, "net.ipv4.tcp_fastopen").as_deref(), Ok("1"), "Linux's default");
        assert_eq!(get(&c, "net.ipv4.tcp_syncookies").as_deref(), Ok("1"));
        assert_eq!(get(&c, "net.ipv4.tcp_tw_reuse").as_deref(), Ok("2"));
        set(&mut c, "net.ipv4.tcp_fastopen", "0x70403").unwrap();
        assert_eq!(c.tcp_fastopen, 0x70403);
        set(&mut c, "net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4,1-2-3-4")
            .unwrap();
        assert_eq!(
            get(&c, "net.ipv4.tcp_fastopen_key").as_deref(),
            Ok("a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4,00000001-00000002-00000003-00000004")
        );
    }

    #[test]
    fn values_map_onto_the_fields_of_the_same_meaning() {
        let mut c = cfg();
        set(&mut c, "/proc/sys/net/ipv4/tcp_rmem", "4096 540000 15728640\n").unwrap();
        assert_eq!(c.tcp.rmem, BufferSizes { min: 4096, default: 540_000, max: 15_728_640 });
        set(&mut c, "net/ipv4/tcp_rto_min_us", "200000").unwrap();
        assert_eq!(c.tcp.rto_min, Duration::from_millis(200));
        set(&mut c, "net.ipv4.tcp_keepalive_time", "7").unwrap();
        assert_eq!(c.tcp.keepalive_time, Duration::from_secs(7));
        set(&mut c, "net.ipv4.tcp_orphan_retries", "0").unwrap();
        assert_eq!(c.tcp.orphan_retries, 8, "Linux's 0 means 8");
        set(&mut c, "net.ipv4.tcp_timestamps", "2").unwrap();
        assert!(c.tcp.timestamps);
    }

    #[test]
    fn invalid_values_leave_the_config_unchanged() {
        let bad = [
            ("net.ipv4.tcp_sack", "2"),
            ("net.ipv4.tcp_sack", "yes"),
            ("net.ipv4.tcp_rmem", "4096 131072"),
            ("net.ipv4.tcp_rmem", "8192 4096 16384"),
            ("net.ipv4.tcp_syn_retries", "0"),
            ("net.ipv4.tcp_syn_retries", "128"),
            ("net.ipv4.ip_default_ttl", "256"),
            ("net.ipv4.ip_local_port_range", "20000 10000"),
            ("net.ipv4.tcp_congestion_control", "no such cc"),
            ("net.ipv4.tcp_congestion_control", "bbr"),
            ("net.ipv4.tcp_syncookies", "3"),
            ("net.ipv4.tcp_tw_reuse", "3"),
            ("net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3"),
        ];
        for (name, value) in bad {
            let mut c = cfg();
            let e = set(&mut c, name, value).expect_err(name);
            assert!(matches!(e, SysctlError::InvalidValue(_)), "{name} = {value}: {e:?}");
            assert_eq!(c, cfg());
        }
    }

    #[test]
    fn tcp_ecn_defaults_to_linux_2_and_takes_0_to_2() {
        let mut c = cfg();
        assert_eq!(get(&c, "net.ipv4.tcp_ecn").as_deref(), Ok("2"));
        assert_eq!(get(&c, "net.ipv4.tcp_ecn_fallback").as_deref(), Ok("1"));
        for v in ["0", "1", "2"] {
            set(&mut c, "net.ipv4.tcp_ecn", v).unwrap();
            assert_eq!(get(&c, "net.ipv4.tcp_ecn").as_deref(), Ok(v));
        }
        assert!(matches!(set(&mut c, "net.ipv4.tcp_ecn", "6"), Err(SysctlError::InvalidValue(_))));
    }

    #[test]
    fn a_misspelt_name_gets_the_closest_known_one() {
        assert_eq!(suggest("net.ipv4.tcp_sak"), Some("net.ipv4.tcp_sack"));
        assert_eq!(suggest("net/ipv4/tcp_rmen"), Some("net.ipv4.tcp_rmem"));
        assert_eq!(
            suggest("net.ipv4.tcp_congestion_contrl"),
            Some("net.ipv4.tcp_congestion_control")
        );
        assert_eq!(suggest("net.ipv4.tcp_sack"), None, "an exact name needs no hint");
        assert_eq!(suggest("kernel.hostname"), None, "nothing close");
    }

    #[test]
    fn missing_features_accept_only_what_ustack_does() {
        let mut c = cfg();
        assert_eq!(set(&mut c, "net.ipv4.tcp_frto", "0"), Ok(()));
        assert_eq!(
            set(&mut c, "net.ipv4.tcp_frto", "2"),
            Err(SysctlError::NotImplemented { accepts: "0" })
        );
        assert_eq!(
            set(&mut c, "net.ipv4.tcp_ecn", "3"),
            Err(SysctlError::NotImplemented { accepts: "0, 1 or 2" }),
            "Accurate ECN"
        );
        assert_eq!(get(&c, "net.ipv4.tcp_slow_start_after_idle").as_deref(), Ok("1"));
        assert_eq!(set(&mut c, "net.ipv4.tcp_no_such_thing", "1"), Err(SysctlError::Unknown));
        assert_eq!(get(&c, "net.ipv4.tcp_no_such_thing"), Err(SysctlError::Unknown));
        assert_eq!(c, cfg());
    }
}
