//! What `ss -i` and `ss -o` show of a TCP connection, from the engine's `TCP_INFO` figures
//! ([`ustack_tcp::ConnInfo`]) and its counters, in the units and formats of iproute2's `ss`:
//! [`TcpInternals`] for the line under each connection with `-i`, [`SsTimer`] for the
//! `timer:(on,200ms,0)` column with `-o` (`ustack ss -e`).

use core::fmt;

use ustack_tcp::{Conn, ConnInfo, TcpState, TimerKind};

use crate::{Duration, Instant};

/// A connection's internals as `ss -tin` prints them (the line under the socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInternals {
    /// The engine's `TCP_INFO` figures.
    pub info: ConnInfo,
    /// The congestion control's name (`cubic`, `newreno`).
    pub cc: &'static str,
    /// CUBIC's `W_max`, when the controller has one.
    pub w_max: Option<u32>,
    /// Pacing rate in bytes per second, when the controller paces.
    pub pacing_rate: Option<u64>,
    /// Segments sent and received.
    pub segs_out: u64,
    /// Segments received.
    pub segs_in: u64,
    /// Payload bytes the peer acknowledged (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
    /// Payload bytes received in order (`tcpi_bytes_received`).
    pub bytes_received: u64,
    /// Segments sent again, over the connection's life (`tcpi_total_retrans`).
    pub total_retrans: u64,
    /// Time since the last data sent and received.
    pub last_send: Duration,
    /// Time since the last segment received.
    pub last_recv: Duration,
}

impl TcpInternals {
    pub(crate) fn of(conn: &Conn, now: Instant) -> TcpInternals {
        let info = conn.info();
        let metrics = conn.congestion_control().metrics();
        let stats = conn.stats();
        TcpInternals {
            info,
            cc: conn.congestion_control().name(),
            w_max: metrics.w_max,
            pacing_rate: metrics.pacing_rate,
            segs_out: stats.segments_out,
            segs_in: stats.segments_in,
            bytes_acked: stats.bytes_acked,
            bytes_received: stats.bytes_received,
            total_retrans: stats.retransmits,
            last_send: now.saturating_duration_since(info.last_send),
            last_recv: now.saturating_duration_since(info.last_recv),
        }
    }

    /// Linux's `tcpi_ca_state` name: `open`, `recovery` (fast recovery) or `loss` (after a
    /// retransmission timeout).
    pub fn ca_state(&self) -> &'static str {
        if self.info.in_loss {
            "loss"
        } else if self.info.in_recovery {
            "recovery"
        } else {
            "open"
        }
    }
}

/// Milliseconds as `ss` prints them (`%g`): up to three decimals, no trailing zeros.
fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A rate in bits per second as `ss` prints it (`sprint_bw`).
fn bw(bits_per_sec: f64) -> String {
    if bits_per_sec > 1e9 {
        format!("{:.1}Gbps", bits_per_sec / 1e9)
    } else if bits_per_sec > 1e6 {
        format!("{:.1}Mbps", bits_per_sec / 1e6)
    } else if bits_per_sec > 1e3 {
        format!("{:.1}Kbps", bits_per_sec / 1e3)
    } else {
        format!("{bits_per_sec:.0}bps")
    }
}

impl fmt::Display for TcpInternals {
    /// The fields of `ss -i`, in its order: `ts sack cubic wscale:7,7 rto:204 rtt:0.5/0.25
    /// mss:1448 ... cwnd:10 ssthresh:20 bytes_acked:... segs_out:... send 231.7Mbps lastsnd:...
    /// unacked:1 retrans:0/2 lost:1 sacked:2 rcv_space:... minrtt:0.3`, then ustack's
    /// `ca_state:` (Linux keeps it in `tcpi_ca_state`, which `ss` does not print) and the
    /// controller's own figures (`wmax:` for CUBIC). cwnd and ssthresh are in segments of
    /// the sending MSS, as Linux counts them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.info;
        let mss = u32::from(i.snd_mss.max(1));
        let mut parts: Vec<String> = Vec::new();
        if i.timestamps {
            parts.push("ts".into());
        }
        if i.sack {
            parts.push("sack".into());
        }
        // iproute2's order: `ecn` (TCPI_OPT_ECN), `ecnseen` (TCPI_OPT_ECN_SEEN) after `sack`.
        if i.ecn {
            parts.push("ecn".into());
        }
        if i.ecn_seen {
            parts.push("ecnseen".into());
        }
        parts.push(self.cc.to_string());
        if i.window_scaling {
            parts.push(format!("wscale:{},{}", i.snd_wscale, i.rcv_wscale));
        }
        parts.push(format!("rto:{}", ms(i.rto)));
        if let (Some(srtt), Some(var)) = (i.srtt, i.rttvar) {
            parts.push(format!("rtt:{}/{}", ms(srtt), ms(var)));
        }
        parts.push(format!("mss:{}", i.snd_mss));
        parts.push(format!("rcvmss:{}", i.rcv_mss));
        parts.push(format!("advmss:{}", i.advmss));
        parts.push(format!("cwnd:{}", i.cwnd_bytes.div_ceil(mss)));
        // Linux leaves ssthresh out while it is "infinite" (>= TCP_INFINITE_SSTHRESH).
        if i.ssthresh_bytes != u32::MAX {
            parts.push(format!("ssthresh:{}", i.ssthresh_bytes / mss));
        }
        parts.push(format!("bytes_acked:{}", self.bytes_acked));
        parts.push(format!("bytes_received:{}", self.bytes_received));
        parts.push(format!("segs_out:{}", self.segs_out));
        parts.push(format!("segs_in:{}", self.segs_in));
        if let Some(srtt) = i.srtt.filter(|d| !d.is_zero()) {
            // ss computes "send" itself: cwnd * mss * 8 / rtt.
            parts.push(format!("send {}", bw(f64::from(i.cwnd_bytes) * 8.0 / srtt.as_secs_f64())));
        }
        parts.push(format!("lastsnd:{}", self.last_send.as_millis()));
        parts.push(format!("lastrcv:{}", self.last_recv.as_millis()));
        if let Some(rate) = self.pacing_rate {
            parts.push(format!("pacing_rate {}", bw(rate as f64 * 8.0)));
        }
        if i.unacked_segments > 0 {
            parts.push(format!("unacked:{}", i.unacked_segments));
        }
        if i.rto_retries > 0 || self.total_retrans > 0 {
            parts.push(format!("retrans:{}/{}", i.rto_retries, self.total_retrans));
        }
        if i.lost_segments > 0 {
            parts.push(format!("lost:{}", i.lost_segments));
        }
        if i.sacked_segments > 0 {
            parts.push(format!("sacked:{}", i.sacked_segments));
        }
        if i.notsent_bytes > 0 {
            parts.push(format!("notsent:{}", i.notsent_bytes));
        }
        parts.push(format!("rcv_space:{}", i.rcv_space));
        if let Some(min) = i.min_rtt {
            parts.push(format!("minrtt:{}", ms(min)));
        }
        parts.push(format!("ca_state:{}", self.ca_state()));
        if let Some(w) = self.w_max {
            parts.push(format!("wmax:{}", w / mss));
        }
        f.write_str(&parts.join(" "))
    }
}

/// The timer column of `ss -o`: `timer:(NAME,EXPIRES,COUNT)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsTimer {
    /// Linux's name for it: `on` (retransmission, the SYN's included), `persist`,
    /// `keepalive` (also FIN-WAIT-2's timer, which Linux runs on the keepalive timer),
    /// `timewait`.
    pub name: &'static str,
    /// Time left.
    pub left: Duration,
    /// Retransmissions (for `on`) or probes (`keepalive`, `persist`) so far.
    pub count: u32,
    /// ustack's own timer (SPEC S21's seven), for readers who want it.
    pub kind: TimerKind,
}

impl SsTimer {
    /// The timer `ss -o` would show for `conn`, chosen as Linux's `inet_diag` does: a
    /// pending retransmission first, then the zero-window probe, then the keepalive timer;
    /// TIME-WAIT its own. A delayed ACK alone is not shown (Linux reports none either).
    pub(crate) fn of(conn: &Conn, now: Instant) -> Option<SsTimer> {
        let info = conn.info();
        let timers = conn.timers();
        let pick = |kind: TimerKind, name: &'static str, count: u32| {
            timers.get(kind).map(|at| SsTimer {
                name,
                left: at.saturating_duration_since(now),
                count,
                kind,
            })
        };
        if conn.state() == TcpState::TimeWait {
            return pick(TimerKind::TimeWait, "timewait", 0);
        }
        pick(TimerKind::Retransmit, "on", info.rto_retries)
            .or_else(|| pick(TimerKind::Establish, "on", info.rto_retries))
            .or_else(|| pick(TimerKind::Persist, "persist", info.probes))
            .or_else(|| pick(TimerKind::Keepalive, "keepalive", info.probes))
            .or_else(|| pick(TimerKind::FinWait2, "keepalive", 0))
    }
}

/// Milliseconds as `ss`'s `print_ms_timer`: `200ms`, `1.500ms`, `59sec`, `1min1sec`.
fn ms_timer(d: Duration) -> String {
    let timeout = d.as_millis();
    let minutes = timeout / 60_000;
    let mut secs = (timeout / 1000) % 60;
    let mut msecs = timeout % 1000;
    let mut out = String::new();
    if minutes > 0 {
        msecs = 0;
        out.push_str(&format!("{minutes}min"));
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        out.push_str(&format!("{secs}{}", if msecs > 0 { "." } else { "sec" }));
    }
    if msecs > 0 {
        out.push_str(&format!("{msecs:03}ms"));
    }
    out
}

impl fmt::Display for SsTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timer:({},{},{})", self.name, ms_timer(self.left), self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_expiry_is_printed_as_ss_print_ms_timer_does() {
        // iproute2 misc/ss.c print_ms_timer.
        let cases = [
            (200, "200ms"),
            (1500, "1.500ms"),
            (9_999, "9.999ms"),
            (10_500, "10sec"),
            (59_000, "59sec"),
            (61_000, "1min1sec"),
            (61_250, "1min1sec"),
            (600_000, "10min"),
            (0, ""),
        ];
        for (millis, want) in cases {
            assert_eq!(ms_timer(Duration::from_millis(millis)), want, "{millis} ms");
        }
    }

    #[test]
    fn rates_and_milliseconds_are_printed_as_ss_does() {
        assert_eq!(bw(231_700_000.0), "231.7Mbps");
        assert_eq!(bw(2_500_000_000.0), "2.5Gbps");
        assert_eq!(bw(12_000.0), "12.0Kbps");
        assert_eq!(bw(800.0), "800bps");
        assert_eq!(ms(Duration::from_micros(204_000)), "204");
        assert_eq!(ms(Duration::from_micros(512)), "0.512");
        assert_eq!(ms(Duration::from_micros(250)), "0.25");
    }
}
