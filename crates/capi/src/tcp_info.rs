//! Linux's `struct tcp_info` (`getsockopt(TCP_INFO)`), laid out as in Linux 6.18's
//! `include/uapi/linux/tcp.h`, 280 bytes. Fields the engine does not track stay zero.

use ustack_core::tcp_engine::{ConnInfo, TcpState};

/// `struct tcp_info`. The bit fields of the C structure are whole bytes here:
/// `snd_rcv_wscale` holds `tcpi_snd_wscale` in its low 4 bits and `tcpi_rcv_wscale` in the
/// high 4 (GCC's order on little-endian machines); `app_limited` holds
/// `tcpi_delivery_rate_app_limited` and the fast-open client failure bits.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TcpInfo {
    pub(crate) state: u8,
    pub(crate) ca_state: u8,
    pub(crate) retransmits: u8,
    pub(crate) probes: u8,
    pub(crate) backoff: u8,
    pub(crate) options: u8,
    pub(crate) snd_rcv_wscale: u8,
    pub(crate) app_limited: u8,
    pub(crate) rto: u32,
    pub(crate) ato: u32,
    pub(crate) snd_mss: u32,
    pub(crate) rcv_mss: u32,
    pub(crate) unacked: u32,
    pub(crate) sacked: u32,
    pub(crate) lost: u32,
    pub(crate) retrans: u32,
    pub(crate) fackets: u32,
    pub(crate) last_data_sent: u32,
    pub(crate) last_ack_sent: u32,
    pub(crate) last_data_recv: u32,
    pub(crate) last_ack_recv: u32,
    pub(crate) pmtu: u32,
    pub(crate) rcv_ssthresh: u32,
    pub(crate) rtt: u32,
    pub(crate) rttvar: u32,
    pub(crate) snd_ssthresh: u32,
    pub(crate) snd_cwnd: u32,
    pub(crate) advmss: u32,
    pub(crate) reordering: u32,
    pub(crate) rcv_rtt: u32,
    pub(crate) rcv_space: u32,
    pub(crate) total_retrans: u32,
    pub(crate) pacing_rate: u64,
    pub(crate) max_pacing_rate: u64,
    pub(crate) bytes_acked: u64,
    pub(crate) bytes_received: u64,
    pub(crate) segs_out: u32,
    pub(crate) segs_in: u32,
    pub(crate) notsent_bytes: u32,
    pub(crate) min_rtt: u32,
    pub(crate) data_segs_in: u32,
    pub(crate) data_segs_out: u32,
    pub(crate) delivery_rate: u64,
    pub(crate) busy_time: u64,
    pub(crate) rwnd_limited: u64,
    pub(crate) sndbuf_limited: u64,
    pub(crate) delivered: u32,
    pub(crate) delivered_ce: u32,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_retrans: u64,
    pub(crate) dsack_dups: u32,
    pub(crate) reord_seen: u32,
    pub(crate) rcv_ooopack: u32,
    pub(crate) snd_wnd: u32,
    pub(crate) rcv_wnd: u32,
    pub(crate) rehash: u32,
    pub(crate) total_rto: u16,
    pub(crate) total_rto_recoveries: u16,
    pub(crate) total_rto_time: u32,
    pub(crate) received_ce: u32,
    pub(crate) delivered_e1_bytes: u32,
    pub(crate) delivered_e0_bytes: u32,
    pub(crate) delivered_ce_bytes: u32,
    pub(crate) received_e1_bytes: u32,
    pub(crate) received_e0_bytes: u32,
    pub(crate) received_ce_bytes: u32,
    pub(crate) ecn_bits: u32,
}

/// Linux's `TCP_*` state numbers (`include/net/tcp_states.h`).
pub(crate) fn linux_state(s: TcpState) -> u8 {
    match s {
        TcpState::Established => 1,
        TcpState::SynSent => 2,
        TcpState::SynReceived => 3,
        TcpState::FinWait1 => 4,
        TcpState::FinWait2 => 5,
        TcpState::TimeWait => 6,
        TcpState::Closed => 7,
        TcpState::CloseWait => 8,
        TcpState::LastAck => 9,
        TcpState::Listen => 10,
        TcpState::Closing => 11,
    }
}

/// `TCP_INFINITE_SSTHRESH`.
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// Linux's `TCP_CA_Open`, `TCP_CA_CWR`, `TCP_CA_Recovery`, `TCP_CA_Loss`.
const CA_OPEN: u8 = 0;
const CA_CWR: u8 = 2;
const CA_RECOVERY: u8 = 3;
const CA_LOSS: u8 = 4;

/// What the connection knows, in Linux's units; `stats` adds its counters, `mtu` is the
/// interface's, `ato_us` the delayed-ACK timeout.
pub(crate) fn fill(
    i: &ConnInfo,
    stats: &ustack_core::tcp_engine::ConnStats,
    mtu: u16,
    ato_us: u32,
) -> TcpInfo {
    let us = |d: core::time::Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
    let mss = u32::from(i.snd_mss.max(1));
    let mut options = 0u8;
    if i.timestamps {
        options |= 1; // TCPI_OPT_TIMESTAMPS
    }
    if i.sack {
        options |= 2; // TCPI_OPT_SACK
    }
    if i.window_scaling {
        options |= 4; // TCPI_OPT_WSCALE
    }
    if i.ecn {
        options |= 8; // TCPI_OPT_ECN
    }
    if i.ecn_seen {
        options |= 16; // TCPI_OPT_ECN_SEEN
    }
    if i.syn_data {
        options |= 32; // TCPI_OPT_SYN_DATA
    }
    let (snd_ws, rcv_ws) = if i.window_scaling { (i.snd_wscale, i.rcv_wscale) } else { (0, 0) };
    let ca_state = if i.in_loss {
        CA_LOSS
    } else if i.in_recovery {
        CA_RECOVERY
    } else if i.in_cwr {
        CA_CWR
    } else {
        CA_OPEN
    };
    TcpInfo {
        state: linux_state(i.state),
        ca_state,
        retransmits: i.rto_retries.min(255) as u8,
        probes: i.probes.min(255) as u8,
        backoff: i.backoffs.min(255) as u8,
        options,
        snd_rcv_wscale: (snd_ws & 0xf) | ((rcv_ws & 0xf) << 4),
        rto: us(i.rto),
        ato: ato_us,
        snd_mss: u32::from(i.snd_mss),
        unacked: i.unacked_segments,
        sacked: i.sacked_segments,
        lost: i.lost_segments,
        rcv_mss: u32::from(i.rcv_mss),
        pmtu: u32::from(mtu),
        rtt: i.srtt.map_or(0, us),
        rttvar: i.rttvar.map_or(0, us),
        min_rtt: i.min_rtt.map_or(0, us),
        snd_ssthresh: if i.ssthresh_bytes >= INFINITE_SSTHRESH {
            INFINITE_SSTHRESH
        } else {
            i.ssthresh_bytes / mss
        },
        snd_cwnd: i.cwnd_bytes / mss,
        advmss: u32::from(i.advmss),
        reordering: i.reordering,
        reord_seen: i.reord_seen,
        rcv_space: i.rcv_space,
        total_retrans: stats.retransmits.min(u64::from(u32::MAX)) as u32,
        bytes_acked: stats.bytes_acked,
        bytes_received: stats.bytes_received,
        delivered: stats.delivered.min(u64::from(u32::MAX)) as u32,
        delivered_ce: stats.delivered_ce.min(u64::from(u32::MAX)) as u32,
        segs_out: stats.segments_out.min(u64::from(u32::MAX)) as u32,
        segs_in: stats.segments_in.min(u64::from(u32::MAX)) as u32,
        notsent_bytes: i.notsent_bytes,
        snd_wnd: i.snd_wnd,
        rcv_wnd: i.rcv_wnd,
        ..TcpInfo::default()
    }
}

/// `tcpi_busy_time`, `tcpi_rwnd_limited`, `tcpi_sndbuf_limited`, in microseconds.
pub(crate) fn fill_chrono(info: &mut TcpInfo, c: ustack_core::tcp_engine::ChronoStats) {
    let us = |d: core::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    info.busy_time = us(c.busy);
    info.rwnd_limited = us(c.rwnd_limited);
    info.sndbuf_limited = us(c.sndbuf_limited);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_linux_6_18s() {
        // Sizes and offsets of `struct tcp_info` in Linux 6.18 (offsetof on x86-64).
        assert_eq!(core::mem::size_of::<TcpInfo>(), 280);
        assert_eq!(core::mem::offset_of!(TcpInfo, rto), 8);
        assert_eq!(core::mem::offset_of!(TcpInfo, pacing_rate), 104);
        assert_eq!(core::mem::offset_of!(TcpInfo, busy_time), 168);
        assert_eq!(core::mem::offset_of!(TcpInfo, rwnd_limited), 176);
        assert_eq!(core::mem::offset_of!(TcpInfo, delivered), 192);
        assert_eq!(core::mem::offset_of!(TcpInfo, rcv_wnd), 232);
        assert_eq!(core::mem::offset_of!(TcpInfo, total_rto), 240);
        assert_eq!(core::mem::offset_of!(TcpInfo, ecn_bits), 276);
    }
}
