//! Socket options on a live connection, and the figures `TCP_INFO` reports.
//!
//! A connection copies its [`TcpConfig`] when it is created; the setters here change that
//! copy afterwards, as `setsockopt` does on a Linux socket, and apply what the change means
//! right away (a keepalive timer re-armed for a new idle time, a buffer limit moved). Options
//! set before the connection exists belong in the `TcpConfig` handed to [`Conn::connect`] or
//! [`Conn::accept`].

use core::time::Duration;

use crate::time::Nanos;

use super::{Conn, State};
use crate::{Instant, TcpConfig, TcpState, TimerKind};

/// What a connection knows of itself for Linux's `struct tcp_info` (`getsockopt(TCP_INFO)`),
/// in the units Linux uses there. Fields the engine does not track are absent: a caller
/// filling Linux's structure leaves them zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// The RFC 9293 state.
    pub state: TcpState,
    /// Timestamps (RFC 7323) in use.
    pub timestamps: bool,
    /// SACK (RFC 2018) in use.
    pub sack: bool,
    /// Window scaling in use.
    pub window_scaling: bool,
    /// The shift applied to the peer's windows.
    pub snd_wscale: u8,
    /// The shift applied to our windows.
    pub rcv_wscale: u8,
    /// Current retransmission timeout, backoff included.
    pub rto: Duration,
    /// Consecutive RTO expirations without progress (`tcpi_retransmits`, `tcpi_backoff`).
    pub rto_retries: u32,
    /// In fast recovery (RFC 6582, RFC 6675).
    pub in_recovery: bool,
    /// Recovering from a retransmission timeout.
    pub in_loss: bool,
    /// Reducing the window for an ECN-Echo (Linux `TCP_CA_CWR`).
    pub in_cwr: bool,
    /// ECN (RFC 3168) in use (`TCPI_OPT_ECN`).
    pub ecn: bool,
    /// An ECT or CE data segment arrived (`TCPI_OPT_ECN_SEEN`).
    pub ecn_seen: bool,
    /// The lowest RTT seen (`tcpi_min_rtt`), once measured.
    pub min_rtt: Option<Duration>,
    /// How many times the RTO has been doubled (`tcpi_backoff`).
    pub backoffs: u32,
    /// Keepalive or zero-window probes sent since the peer was last heard (`tcpi_probes`).
    pub probes: u32,
    /// The segment size we send (`tcpi_snd_mss`).
    pub snd_mss: u16,
    /// The largest segment seen from the peer (`tcpi_rcv_mss`).
    pub rcv_mss: u16,
    /// The MSS we announced (`tcpi_advmss`).
    pub advmss: u16,
    /// Bytes sent and not acknowledged, SYN and FIN included.
    pub flight_bytes: u32,
    /// Segments sent and not cumulatively acknowledged (`tcpi_unacked`).
    pub unacked_segments: u32,
    /// Of those, segments the peer SACKed (`tcpi_sacked`).
    pub sacked_segments: u32,
    /// Of those, segments deemed lost, sent again or not (`tcpi_lost`: Linux's `lost_out`
    /// keeps a retransmitted segment until it is acknowledged).
    pub lost_segments: u32,
    /// Bytes queued and not yet sent (`tcpi_notsent_bytes`).
    pub notsent_bytes: u32,
    /// Congestion window, bytes.
    pub cwnd_bytes: u32,
    /// Slow-start threshold, bytes (`u32::MAX` before the first loss).
    pub ssthresh_bytes: u32,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variation, once measured.
    pub rttvar: Option<Duration>,
    /// Peer's window, scaled (`tcpi_snd_wnd`).
    pub snd_wnd: u32,
    /// Window we last advertised, scaled (`tcpi_rcv_wnd`).
    pub rcv_wnd: u32,
    /// Room in the receive buffer (`tcpi_rcv_space` stand-in).
    pub rcv_space: u32,
    /// When we last sent data, received data, received an ACK.
    pub last_send: Instant,
    /// When the last acceptable segment arrived.
    pub last_recv: Instant,
    /// The data of the SYN was acknowledged in the handshake (Fast Open, either side;
    /// Linux's `TCPI_OPT_SYN_DATA`).
    pub syn_data: bool,
    /// The reordering degree in segments (`tcpi_reordering`): `TcpConfig::reordering`,
    /// raised as SACKs show reordering.
    pub reordering: u32,
    /// Times reordering was seen (`tcpi_reord_seen`).
    pub reord_seen: u32,
}

impl Conn {
    /// Busy, window-limited and send-buffer-limited time up to `now` (`tcpi_busy_time`,
    /// `tcpi_rwnd_limited`, `tcpi_sndbuf_limited`; Linux's chronographs).
    pub fn chrono_stats(&self, now: Instant) -> super::ChronoStats {
        self.snd.chrono.stats(now)
    }

    /// The settings this connection runs with (its copy of the [`TcpConfig`]).
    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`: the keepalive idle time, probe
    /// interval and probe count. With keepalive on in a synchronized state, the timer is
    /// re-armed for the new idle time counted from the last segment received, as Linux's
    /// `keepalive_time_elapsed` does (at once if that time has passed).
    pub fn set_keepalive_params(
        &mut self,
        now: Instant,
        idle: Duration,
        intvl: Duration,
        probes: u32,
    ) {
        let idle_changed = idle != self.cfg.keepalive_time;
        let cfg = self.config_mut();
        cfg.keepalive_time = idle;
        cfg.keepalive_intvl = intvl;
        cfg.keepalive_probes = probes;
        if idle_changed
            && self.cfg.keepalive
            && matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait1 | State::FinWait2
            )
        {
            let at = (self.last_recv + idle).max(now);
            self.timers.set(TimerKind::Keepalive, at);
        }
    }

    /// `TCP_USER_TIMEOUT`: how long data may stay unacknowledged before the connection is
    /// aborted (zero: the `retries2` rule).
    pub fn set_user_timeout(&mut self, timeout: Duration) {
        self.config_mut().user_timeout = timeout;
    }

    /// `TCP_SYNCNT`: how many times the SYN is sent again before the connection gives up.
    /// Linux reads it at every SYN timeout, so it also bounds a handshake under way: the
    /// deadline moves to the first SYN plus the new count's doublings.
    pub fn set_syn_retries(&mut self, retries: u32) {
        let old = self.cfg.syn_timeout();
        self.config_mut().syn_retries = retries;
        if self.state == State::SynSent
            && let Some(deadline) = self.timers.get(TimerKind::Establish)
        {
            let old = u64::try_from(old.as_nanos()).unwrap_or(u64::MAX);
            let first_syn = Instant::from_nanos(deadline.as_nanos().saturating_sub(old));
            self.timers.set(TimerKind::Establish, first_syn + self.cfg.syn_timeout());
        }
    }

    /// `SO_SNDBUF`: the send buffer's size, fixed (it no longer grows with the congestion
    /// window). Data already queued stays.
    pub fn set_send_buffer(&mut self, bytes: u32) {
        let bytes = bytes.max(1);
        let wmem = &mut self.config_mut().wmem;
        wmem.max = bytes;
        wmem.default = bytes;
        wmem.min = wmem.min.min(bytes);
        self.snd.buf.set_limit(bytes as usize);
    }

    /// `SO_RCVBUF`: the receive buffer's size. Once a window has been advertised the buffer
    /// never shrinks below what the peer may still send (RFC 9293 §3.8.6.2.2: the right edge
    /// of the window does not move left), so a smaller value only keeps it where it is. As
    /// Linux's `SOCK_RCVBUF_LOCK`, it ends receive autotuning for the connection.
    pub fn set_recv_buffer(&mut self, bytes: u32) {
        self.rcv.tune.locked = true;
        let bytes = bytes.max(1);
        let held = self.rcv.buf.len() + self.rcv.adv_wnd() as usize;
        let limit = (bytes as usize).max(held);
        let rmem = &mut self.config_mut().rmem;
        rmem.max = limit as u32;
        rmem.default = limit as u32;
        rmem.min = rmem.min.min(limit as u32);
        self.rcv.buf.set_limit(limit);
    }

    /// Copies up to `buf.len()` bytes of in-order received data into `buf` without consuming
    /// them (`MSG_PEEK`); returns how many.
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        let (a, b) = self.rcv.buf.peek(0, buf.len());
        buf[..a.len()].copy_from_slice(a);
        buf[a.len()..a.len() + b.len()].copy_from_slice(b);
        a.len() + b.len()
    }

    /// The limits of the send and receive buffers, in bytes.
    pub fn buffer_limits(&self) -> (usize, usize) {
        (self.snd.buf.limit(), self.rcv.buf.limit())
    }

    /// The MSS we announced in our SYN or SYN-ACK (route MTU − 40, capped by `TCP_MAXSEG`).
    pub fn advertised_mss(&self) -> u16 {
        self.rcv.mss
    }

    /// Whether our SYN (or SYN-ACK) has been acknowledged.
    pub fn syn_acked(&self) -> bool {
        self.snd.syn_acked
    }

    /// Whether the peer's FIN has been received (reads return 0 once the buffer is empty).
    pub fn peer_closed(&self) -> bool {
        self.rcv.eof
    }

    /// Whether our side has been shut down (`shutdown_write` or `close`): no more sends.
    pub fn write_closed(&self) -> bool {
        self.snd.fin.is_some()
    }

    /// The figures of Linux's `tcp_info` this engine tracks.
    pub fn info(&self) -> ConnInfo {
        ConnInfo {
            state: self.state(),
            timestamps: self.opts.timestamps,
            sack: self.opts.sack,
            window_scaling: self.opts.window_scaling,
            snd_wscale: self.snd.wscale,
            rcv_wscale: self.rcv.wscale,
            rto: self.rtt.rto(),
            rto_retries: self.snd.loss().rto_retries,
            in_recovery: self.snd.phase == super::send::Phase::Recovery,
            in_loss: self.snd.phase == super::send::Phase::Loss,
            in_cwr: self.snd.phase == super::send::Phase::Cwr,
            ecn: self.ecn.ok,
            ecn_seen: self.ecn.seen,
            min_rtt: self.snd.min_rtt.map(Nanos::get),
            backoffs: self.rtt.backoffs(),
            probes: self.keepalive_probes_out.max(self.snd.loss().persist_backoff),
            snd_mss: self.effective_mss(),
            rcv_mss: self.rcv.seg_mss,
            advmss: self.rcv.mss,
            flight_bytes: self.snd.flight(),
            unacked_segments: self.snd.sb.len() as u32,
            sacked_segments: self.snd.sb.sacked_segments(),
            lost_segments: (0..self.snd.sb.len())
                .filter_map(|i| self.snd.sb.get(i))
                .filter(|g| {
                    g.mark == super::send::Mark::Lost
                        || (g.mark == super::send::Mark::InFlight && g.retransmitted)
                })
                .count() as u32,
            notsent_bytes: self.snd.buf.len().saturating_sub(self.snd.pipe() as usize) as u32,
            cwnd_bytes: self.cc.window(),
            ssthresh_bytes: self.cc.ssthresh(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            snd_wnd: self.snd.wnd,
            rcv_wnd: self.rcv.adv_wnd(),
            rcv_space: self.rcv.buf.free() as u32,
            last_send: self.snd.last_send,
            last_recv: self.last_recv,
            syn_data: self.fo().syn_data_acked,
            reordering: self.snd.reordering,
            reord_seen: self.snd.loss().reord_seen,
        }
    }
}
