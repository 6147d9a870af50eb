//! Every setting a connection uses, named after its Linux sysctl, with Linux's defaults.
//!
//! The rule: defaults follow Linux, because that is what users compare against: initial RTO
//! 1 s, minimum RTO 200 ms, SYN retries 6, SYN-ACK retries 5, initial window 10 segments,
//! delayed ACK at most 40 ms, MSL 30 s (TIME-WAIT 60 s), `tcp_fin_timeout` 60 s, keepalive
//! 7200 s / 75 s / 9 probes, ephemeral ports 32768–60999, `somaxconn` 4096. Every one of them
//! is a setting a user can change, named after its Linux sysctl.
//!
//! Ephemeral ports and `somaxconn` belong to the host stack (ustack-core), which owns ports and
//! listeners; everything else in that list is a field of [`TcpConfig`]. A field is named after
//! its `net.ipv4.tcp_*` sysctl without the prefix; where Linux has only a constant
//! (`TCP_TIMEOUT_INIT`, `TCP_DELACK_MIN`, ...) or a socket option (`TCP_NODELAY`,
//! `SO_KEEPALIVE`), the field doc says so.
//!
//! Where this crate departs from Linux's default, the field doc says why: `rfc1337` (SPEC S12
//! asks for RFC 1337 behaviour), `delack_max` (SPEC's "at most 40 ms").
//!
//! A connection copies its `TcpConfig` when it is created, so a setting changed later applies
//! to new connections only, like a sysctl. Call [`TcpConfig::validate`] before handing a
//! config to the engine: the engine assumes a valid one.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

/// The settings of one connection. [`Default`] (= [`TcpConfig::LINUX`]) gives Linux's values.
///
/// Fields are public: build a variant with struct update syntax, e.g. the stop-and-wait mode of
/// SPEC S18: `TcpConfig { max_flight_segments: Some(1), ..TcpConfig::default() }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    // ---- opening ----
    /// `tcp_syn_retries` (default 6): how many times an unanswered SYN is retransmitted before
    /// `connect()` fails. With a 1 s initial RTO and doubling, the SYNs leave at 0, 1, 3, 7,
    /// 15, 31 and 63 s and the attempt fails at 127 s ([`TcpConfig::syn_timeout`]). Linux
    /// accepts 1..=127.
    ///
    /// RFC 9293 §3.8.3 asks for more: "R2 for a SYN segment MUST be set large enough to
    /// provide retransmission of the segment for at least 3 minutes (MUST-23)". Linux stops at
    /// 127 s and so do we (SPEC: defaults follow Linux). Recent kernels also have
    /// `tcp_syn_linear_timeouts` (first SYN retries at a constant 1 s); SPEC S5 asks for the
    /// plain doubling (1 s, 2 s, 4 s, ...), which is that sysctl set to 0.
    pub syn_retries: u32,
    /// `tcp_synack_retries` (default 5): how many times a SYN-ACK is retransmitted before the
    /// half-open connection is dropped: SYN-ACKs at 0, 1, 3, 7, 15, 31 s, dropped at 63 s
    /// ([`TcpConfig::synack_timeout`]). Linux accepts 0..=255.
    pub synack_retries: u32,

    // ---- retransmission ----
    /// `tcp_retries1` (default 3): once unanswered RTO retransmissions have lasted as long as
    /// this many would ([`TcpConfig::retries1_timeout`], 3 s), the path is suspect, and every
    /// further timeout takes Linux's black-hole step (`tcp_write_timeout`): with
    /// `mtu_probing` on, the segment size drops to `base_mss` and then halves, in case large
    /// packets are being dropped without an ICMP message. (Linux also gives the route
    /// "negative advice", dropping a cached route; ustack looks the route up for every packet,
    /// so there is nothing to drop.) RFC 9293 §3.8.3: "The value of R1 SHOULD correspond to at
    /// least 3 retransmissions, at the current RTO (SHLD-10)".
    pub retries1: u32,
    /// `tcp_retries2` (default 15): an established connection whose RTO retransmissions stay
    /// unanswered is aborted once the time since the first retransmission exceeds the time
    /// 15 doublings from `rto_min` would take, 924.6 s ([`TcpConfig::retries2_timeout`];
    /// Linux's `tcp_retransmits_timed_out`). RFC 9293 §3.8.3: "The value of R2 SHOULD
    /// correspond to at least 100 seconds (SHLD-11)".
    pub retries2: u32,
    /// `tcp_orphan_retries` (Linux's sysctl reads 0, which `tcp_orphan_retries()` turns into
    /// 8; the field holds the effective 8): `retries2` for a connection the application has
    /// closed (an orphan still sending its FIN or its last data). 8 is 102.2 s from `rto_min`.
    pub orphan_retries: u32,
    /// Initial RTO, before the first RTT sample (Linux constant `TCP_TIMEOUT_INIT`, 1 s).
    /// RFC 6298 (2.1): "the sender SHOULD set RTO <- 1 second". Also the base of SYN and
    /// SYN-ACK backoff.
    pub rto_initial: Duration,
    /// `tcp_rto_min_us` (default 200 ms; older kernels have only the constant `TCP_RTO_MIN`):
    /// the floor of the RTO. Linux adds it to SRTT rather than clamping to it; see
    /// [`crate::RttEstimator`].
    pub rto_min: Duration,
    /// `tcp_rto_max_ms` (default 120 s; older kernels have only the constant `TCP_RTO_MAX`):
    /// the cap of the RTO, backoff included. RFC 6298 (2.5): "A maximum value MAY be placed on
    /// RTO provided it is at least 60 seconds."
    pub rto_max: Duration,

    // ---- acknowledgements ----
    /// Shortest delay of a delayed ACK (Linux constants `TCP_DELACK_MIN` and `TCP_ATO_MIN`,
    /// both 40 ms at HZ >= 100). Linux starts a connection's ACK timeout (`ato`) here.
    pub delack_min: Duration,
    /// Longest delay of a delayed ACK (Linux's per-socket `icsk_delack_max`, default the
    /// constant `TCP_DELACK_MAX`, 200 ms). The delay adapts as in Linux: it starts at
    /// `delack_min`, doubles each time a delayed ACK has to fire, follows the gaps between
    /// arriving segments, and is capped by the smoothed RTT and by this. Default **40 ms**
    /// here, as SPEC asks ("delayed ACK at most 40 ms"): every delayed ACK then leaves after
    /// 40 ms, which is also what a lone delayed ACK in a Linux capture shows. Set 200 ms for
    /// Linux's full range. RFC 9293 §3.8.6.3: "the delay MUST be less than 0.5 seconds
    /// (MUST-40)", which [`TcpConfig::validate`] enforces.
    pub delack_max: Duration,

    // ---- closing ----
    /// `tcp_fin_timeout` (default 60 s): how long an orphaned connection waits in FIN-WAIT-2
    /// for the peer's FIN (SPEC S11). Linux never waits less than 3.5 RTO
    /// ([`TcpConfig::fin_wait2_time`]).
    pub fin_timeout: Duration,
    /// Maximum segment lifetime (default 30 s). TIME-WAIT lasts 2·MSL
    /// ([`TcpConfig::time_wait_len`], 60 s = Linux's constant `TCP_TIMEWAIT_LEN`). RFC 9293
    /// §3.4.2 takes MSL = 2 minutes; Linux's 60 s TIME-WAIT is what SPEC S12 follows.
    pub msl: Duration,
    /// `tcp_rfc1337` (default **true** here, Linux 0): a RST received in TIME-WAIT does not end
    /// it. RFC 1337 calls the early end "TIME-WAIT assassination" and fixes it by ignoring RSTs
    /// in TIME-WAIT; SPEC S12 asks for that ("Resists assassination by RST"). With false, a RST
    /// ends TIME-WAIT at once, as Linux does by default.
    pub rfc1337: bool,

    // ---- keepalive ----
    /// `SO_KEEPALIVE` (default false). RFC 9293 §3.8.4: keep-alives "MUST default to off
    /// (MUST-25)".
    pub keepalive: bool,
    /// `tcp_keepalive_time` (default 7200 s): idle time before the first probe. RFC 9293
    /// §3.8.4: "This interval MUST be configurable (MUST-27) and MUST default to no less than
    /// two hours (MUST-28)."
    pub keepalive_time: Duration,
    /// `tcp_keepalive_intvl` (default 75 s): time between unanswered probes.
    pub keepalive_intvl: Duration,
    /// `tcp_keepalive_probes` (default 9): unanswered probes before the connection is aborted,
    /// 7875 s after the last sign of life ([`TcpConfig::keepalive_timeout`]).
    pub keepalive_probes: u32,

    // ---- options ----
    /// `tcp_window_scaling` (default true): offer the window scale option (RFC 7323 §2).
    pub window_scaling: bool,
    /// `tcp_timestamps` (default true): offer timestamps (RFC 7323 §3), for RTT measurement
    /// and PAWS.
    pub timestamps: bool,
    /// `tcp_ecn` (default 2): Explicit Congestion Notification (RFC 3168). 0: off; 1: ask for
    /// it on outgoing connections (a SYN with ECE and CWR) and accept it on incoming ones; 2:
    /// accept it on incoming connections only (Linux's default). Once negotiated, new data
    /// goes out ECT(0), a CE mark is echoed with ECE until the peer's CWR, and an ECE reduces
    /// the congestion window once per window of data (docs/tcp-engine.md, "ECN").
    pub ecn: u8,
    /// `tcp_ecn_fallback` (default true): a retransmitted ECN-setup SYN goes without ECE and
    /// CWR (RFC 3168 §6.1.1.1: the path may drop SYNs that carry them).
    pub ecn_fallback: bool,
    /// `tcp_sack` (default true): offer SACK-permitted, send SACK blocks (RFC 2018) and
    /// D-SACK blocks (RFC 2883), and recover from losses with the SACKs received.
    pub sack: bool,

    // ---- loss recovery ----
    /// `tcp_recovery` bit 1 (default on): RACK (RFC 8985) finds losses on SACK connections,
    /// by time, so a burst of losses is repaired in one round trip. Off: RFC 6675's `IsLost`
    /// (three SACKed segments above a hole). Without SACK neither applies (NewReno).
    pub rack: bool,
    /// `tcp_early_retrans` 3 (default) or 0: the tail loss probe of RFC 8985 §7 (needs
    /// `rack` and SACK). When the last segments of a flight are lost, a probe 2·SRTT after
    /// the last transmission makes the receiver report the loss, instead of waiting for the
    /// retransmission timeout.
    pub tlp: bool,
    /// Proportional Rate Reduction (RFC 6937) for the window during fast recovery (default
    /// on; Linux always uses it). Off: RFC 5681 §3.2 fast recovery as the textbooks tell it,
    /// `cwnd = ssthresh + 3·SMSS` inflated by one SMSS per duplicate ACK and deflated on the
    /// ACK that ends recovery (no Linux equivalent; for showing the classic algorithm).
    pub prr: bool,
    /// `tcp_reordering` (default 3): the reordering degree a connection starts with, in
    /// segments: RACK's reordering window is zero once this many segments are SACKed and no
    /// reordering was seen, and RFC 6675's `IsLost` (`rack` off) takes it as DupThresh. A
    /// connection raises its own degree when SACKs show deeper reordering (Linux
    /// `tcp_check_sack_reordering`; `TCP_INFO`'s `tcpi_reordering`).
    pub reordering: u32,
    /// `tcp_max_reordering` (default 300): the most a connection raises its reordering degree
    /// to.
    pub max_reordering: u32,

    // ---- segment size ----
    /// Send MSS assumed when the peer's SYN carries no MSS option (Linux constant
    /// `TCP_MSS_DEFAULT`, 536). RFC 9293 §3.7.1: "If an MSS Option is not received at
    /// connection setup, TCP implementations MUST assume a default send MSS of 536 (576 - 40)
    /// for IPv4 or 1220 (1280 - 60) for IPv6 (MUST-15)." This is the IPv4 value; an IPv6
    /// connection uses 1220.
    pub mss_default: u16,
    /// `tcp_base_mss` (default 1024): the segment size a connection falls back to when
    /// `mtu_probing` finds a black hole (see `retries1`), the start of Linux's search. It is
    /// not the MSS used without an MSS option (that is `mss_default`).
    pub base_mss: u16,
    /// `tcp_mtu_probing` (default 0, as Linux): 0 off; 1 on once a black hole is suspected
    /// (`retries1`): the segment size drops to `base_mss`, then halves at each further
    /// timeout (not below 48 bytes nor `min_snd_mss`, Linux's `tcp_mtu_probe_floor`). Linux's
    /// 2 (probe from `base_mss` upwards from the start, RFC 4821) is not implemented and
    /// fails [`TcpConfig::validate`]: ustack never probes upwards, so a size lowered here
    /// stays lowered for the connection.
    pub mtu_probing: u8,
    /// `tcp_min_snd_mss` (default 48): a peer's MSS option below this is raised to it, so a
    /// peer cannot make us cut the stream into tiny segments (Linux added it for
    /// CVE-2019-11479).
    pub min_snd_mss: u16,

    // ---- windows and buffers ----
    /// `tcp_rmem` (default 4096 / 131072 / 6291456 bytes): receive buffer min, initial, max.
    /// The receive window advertised is what is free in it.
    pub rmem: BufferSizes,
    /// `tcp_wmem` (default 4096 / 16384 / 4194304 bytes): send buffer min, initial, max.
    pub wmem: BufferSizes,
    /// Initial congestion window in segments (Linux constant `TCP_INIT_CWND`, 10; route option
    /// `initcwnd`). RFC 6928 §2 allows min(10·MSS, max(2·MSS, 14600)) bytes; like Linux we use
    /// 10 segments flat.
    pub initial_cwnd: u32,
    /// Cap on segments in flight, on top of cwnd and the peer's window (no Linux equivalent).
    /// `None` (default): no cap. `Some(1)`: stop-and-wait, one unacknowledged segment at a
    /// time, the mode SPEC S18 demonstrates ARQ with.
    pub max_flight_segments: Option<u32>,
    /// `TCP_NODELAY` (default false: Nagle's algorithm on, RFC 9293 §3.7.4).
    pub nodelay: bool,
    /// `TCP_MAXSEG` (default 0: none): a cap on the MSS we announce and on the segments we
    /// send, below what the route's MTU allows (Linux `user_mss`).
    pub user_mss: u16,
    /// `TCP_USER_TIMEOUT` (default zero: off): when set, how long transmitted data may stay
    /// unacknowledged before the connection is aborted with a timeout, in place of the
    /// `retries2` / `orphan_retries` limits (RFC 5482; Linux `icsk_user_timeout`).
    pub user_timeout: Duration,
    /// `tcp_congestion_control`: the algorithm's name, resolved by the congestion-control
    /// factory when the connection is created. Default `"cubic"`: CUBIC (RFC 9438) with
    /// HyStart++ (RFC 9406) as its first slow start, as in Linux kernels (built with
    /// `CONFIG_DEFAULT_TCP_CONG="cubic"` since 2.6.19; Linux's slow-start exit is the older
    /// HyStart). On a long fat path its window regrows to the last saturation point in
    /// seconds where Reno's adds a segment per RTT, and HyStart++ slows the first slow start
    /// once the RTT rises instead of doubling until the bottleneck queue overflows (in
    /// `ustack sim` at 100 Mbit/s, 50 ms, a 1000-packet queue: 374 packets dropped instead
    /// of 1418). `"newreno"` (RFC 5681 and RFC 6582, SPEC S20) is selectable; Linux's
    /// `"reno"` is the same NewReno window math, since Linux runs fast recovery in the engine
    /// as we do. A name the registry does not know ([`crate::cc::names`]) fails
    /// [`TcpConfig::validate`], as Linux refuses an algorithm it has not loaded.
    pub congestion_control: CcName,
    /// `tcp_moderate_rcvbuf` (default true): receive-buffer autotuning. The receive buffer
    /// starts at `rmem.default` and grows towards `rmem.max` as the application reads, to
    /// about twice what it read in a round trip (Linux's dynamic right-sizing), so the window
    /// can fill a long fat path. A buffer size set by hand for a connection turns it off.
    pub moderate_rcvbuf: bool,
    /// `tcp_dsack` (default true): report duplicate segments with a D-SACK block (RFC 2883),
    /// so the sender can tell a spurious retransmission. Needs `sack`.
    pub dsack: bool,

    // ---- robustness ----
    /// `tcp_challenge_ack_limit`: challenge ACKs (RFC 5961 §3, §4, §5) sent per second, per
    /// host. Default `i32::MAX` as u32 ("unlimited"), Linux's default since 6.0 (it was 100,
    /// then 1000 after CVE-2016-5696): a host-wide counter is a side channel, an off-path
    /// attacker can infer sequence numbers from how many challenge ACKs it sees (Cao et al.,
    /// "Off-Path TCP Exploits", USENIX Security 2016). The per-connection limit
    /// `invalid_ratelimit` does the throttling RFC 5961 §7 asks for ("An implementation SHOULD
    /// include an ACK throttling mechanism to be conservative"). The host stack applies this
    /// one, since it spans connections: as Linux 5.x+, each second's allowance is drawn at
    /// random between half the limit and one and a half times it (ustack-core
    /// `challenge.rs`); 0 sends none.
    pub challenge_ack_limit: u32,
    /// `tcp_invalid_ratelimit` (default 500 ms): least time between two ACKs a connection sends
    /// in answer to invalid segments (out-of-window sequence or ACK, PAWS failure) and between
    /// challenge ACKs; stops ACK loops. Zero: no limit.
    pub invalid_ratelimit: Duration,
}

impl TcpConfig {
    /// Linux's defaults; what [`Default`] returns.
    pub const LINUX: TcpConfig = TcpConfig {
        syn_retries: 6,
        synack_retries: 5,
        retries1: 3,
        retries2: 15,
        orphan_retries: 8,
        rto_initial: Duration::from_secs(1),
        rto_min: Duration::from_millis(200),
        rto_max: Duration::from_secs(120),
        delack_min: Duration::from_millis(40),
        delack_max: Duration::from_millis(40),
        fin_timeout: Duration::from_secs(60),
        msl: Duration::from_secs(30),
        rfc1337: true,
        keepalive: false,
        keepalive_time: Duration::from_secs(7200),
        keepalive_intvl: Duration::from_secs(75),
        keepalive_probes: 9,
        window_scaling: true,
        timestamps: true,
        ecn: 2,
        ecn_fallback: true,
        sack: true,
        rack: true,
        tlp: true,
        prr: true,
        reordering: 3,
        max_reordering: 300,
        mss_default: 536,
        base_mss: 1024,
        mtu_probing: 0,
        min_snd_mss: 48,
        rmem: BufferSizes { min: 4096, default: 131_072, max: 6_291_456 },
        wmem: BufferSizes { min: 4096, default: 16_384, max: 4_194_304 },
        initial_cwnd: 10,
        max_flight_segments: None,
        nodelay: false,
        user_mss: 0,
        user_timeout: Duration::ZERO,
        congestion_control: CcName::CUBIC,
        moderate_rcvbuf: true,
        dsack: true,
        challenge_ack_limit: i32::MAX as u32,
        invalid_ratelimit: Duration::from_millis(500),
    };

    /// Longest `syn_retries` Linux accepts (`MAX_TCP_SYNCNT`).
    pub const MAX_SYN_RETRIES: u32 = 127;
    /// Longest `synack_retries` Linux accepts (the sysctl is a u8).
    pub const MAX_SYNACK_RETRIES: u32 = 255;
    /// Bound on `delack_max`: RFC 9293 §3.8.6.3, "the delay MUST be less than 0.5 seconds".
    pub const DELACK_LIMIT: Duration = Duration::from_millis(500);

    /// Checks that the settings make sense together; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.syn_retries == 0 || self.syn_retries > Self::MAX_SYN_RETRIES {
            return Err(ConfigError::SynRetriesOutOfRange(self.syn_retries));
        }
        if self.synack_retries > Self::MAX_SYNACK_RETRIES {
            return Err(ConfigError::SynackRetriesOutOfRange(self.synack_retries));
        }
        if self.retries1 > self.retries2 {
            return Err(ConfigError::Retries1AboveRetries2 {
                retries1: self.retries1,
                retries2: self.retries2,
            });
        }
        if self.rto_min.is_zero() {
            return Err(ConfigError::RtoMinZero);
        }
        if self.rto_min > self.rto_max {
            return Err(ConfigError::RtoMinAboveMax { min: self.rto_min, max: self.rto_max });
        }
        if self.rto_initial < self.rto_min || self.rto_initial > self.rto_max {
            return Err(ConfigError::RtoInitialOutOfRange {
                initial: self.rto_initial,
                min: self.rto_min,
                max: self.rto_max,
            });
        }
        if self.delack_min > self.delack_max {
            return Err(ConfigError::DelackMinAboveMax {
                min: self.delack_min,
                max: self.delack_max,
            });
        }
        if self.delack_max >= Self::DELACK_LIMIT {
            return Err(ConfigError::DelackMaxTooLong(self.delack_max));
        }
        if self.msl.is_zero() {
            return Err(ConfigError::MslZero);
        }
        if self.keepalive_time.is_zero() {
            return Err(ConfigError::KeepaliveTimeZero);
        }
        if self.keepalive_intvl.is_zero() {
            return Err(ConfigError::KeepaliveIntvlZero);
        }
        if self.keepalive_probes == 0 {
            return Err(ConfigError::KeepaliveProbesZero);
        }
        if self.min_snd_mss == 0 {
            return Err(ConfigError::MinSndMssZero);
        }
        if self.mtu_probing > 1 {
            return Err(ConfigError::MtuProbingUnsupported(self.mtu_probing));
        }
        if self.base_mss < self.min_snd_mss {
            return Err(ConfigError::BaseMssBelowMinSndMss {
                base_mss: self.base_mss,
                min_snd_mss: self.min_snd_mss,
            });
        }
        if self.mss_default < self.min_snd_mss {
            return Err(ConfigError::MssDefaultBelowMinSndMss {
                mss_default: self.mss_default,
                min_snd_mss: self.min_snd_mss,
            });
        }
        if !self.rmem.is_valid() {
            return Err(ConfigError::RmemInvalid(self.rmem));
        }
        if !self.wmem.is_valid() {
            return Err(ConfigError::WmemInvalid(self.wmem));
        }
        if self.initial_cwnd == 0 {
            return Err(ConfigError::InitialCwndZero);
        }
        if self.max_flight_segments == Some(0) {
            return Err(ConfigError::MaxFlightSegmentsZero);
        }
        // Linux refuses to set tcp_congestion_control to an algorithm it does not have
        // (ENOENT), and so do we: a name that runs something else would be a setting that
        // lies.
        if crate::cc::factory_by_name(self.congestion_control.as_str()).is_none() {
            return Err(ConfigError::UnknownCongestionControl(self.congestion_control));
        }
        Ok(())
    }

    /// How long TIME-WAIT lasts: 2·MSL (60 s by default, Linux's `TCP_TIMEWAIT_LEN`).
    pub fn time_wait_len(&self) -> Duration {
        self.msl.saturating_mul(2)
    }

    /// Linux's `tcp_model_timeout`: the time `retries` retransmissions take when the RTO starts
    /// at `rto_base` and doubles up to `rto_max`, counted up to the moment the last one times
    /// out. Linux gives up on a connection at the first RTO expiry past this time.
    ///
    /// With L = ⌊log2(rto_max / rto_base)⌋: (2^(retries+1) − 1)·rto_base if retries ≤ L,
    /// else (2^(L+1) − 1)·rto_base + (retries − L)·rto_max.
    pub fn model_timeout(&self, retries: u32, rto_base: Duration) -> Duration {
        let base = rto_base.as_nanos();
        if base == 0 {
            return Duration::ZERO;
        }
        let max = self.rto_max.as_nanos().max(base);
        // As u64 when both fit (always, short of centuries): no u128 division routine.
        let linear_threshold = match (u64::try_from(max), u64::try_from(base)) {
            (Ok(max), Ok(base)) => (max / base).ilog2(),
            _ => (max / base).ilog2(),
        };
        let doublings = retries.min(linear_threshold);
        let pow = 1u128.checked_shl(doublings + 1).unwrap_or(u128::MAX);
        let capped = u128::from(retries - doublings);
        let total = (pow - 1).saturating_mul(base).saturating_add(capped.saturating_mul(max));
        crate::time::duration_from_nanos(total)
    }

    /// How long an active open tries: `syn_retries` doublings from `rto_initial` (127 s by
    /// default). The deadline of [`crate::TimerKind::Establish`] for a connecting socket.
    pub fn syn_timeout(&self) -> Duration {
        self.model_timeout(self.syn_retries, self.rto_initial)
    }

    /// How long a passive open waits for the final ACK: `synack_retries` doublings from
    /// `rto_initial` (63 s by default).
    pub fn synack_timeout(&self) -> Duration {
        self.model_timeout(self.synack_retries, self.rto_initial)
    }

    /// When unanswered retransmissions make the path suspect: `retries1` doublings from
    /// `rto_min` (3 s by default).
    pub fn retries1_timeout(&self) -> Duration {
        self.model_timeout(self.retries1, self.rto_min)
    }

    /// When unanswered retransmissions abort an established connection: `retries2` doublings
    /// from `rto_min` (924.6 s by default, the figure Linux's documentation gives).
    pub fn retries2_timeout(&self) -> Duration {
        self.model_timeout(self.retries2, self.rto_min)
    }

    /// [`TcpConfig::retries2_timeout`] for an orphaned connection: `orphan_retries` doublings
    /// from `rto_min` (102.2 s by default).
    pub fn orphan_timeout(&self) -> Duration {
        self.model_timeout(self.orphan_retries, self.rto_min)
    }

    /// How long after the last segment from the peer a keepalive connection whose probes all
    /// go unanswered is aborted: `keepalive_time + keepalive_probes·keepalive_intvl` (7875 s
    /// by default).
    pub fn keepalive_timeout(&self) -> Duration {
        self.keepalive_time
            .saturating_add(self.keepalive_intvl.saturating_mul(self.keepalive_probes))
    }

    /// How long an orphaned connection stays in FIN-WAIT-2 given its current RTO: Linux's
    /// `tcp_fin_time`, `max(fin_timeout, 3.5·rto)`, so a slow path still gets time for the
    /// peer's FIN.
    pub fn fin_wait2_time(&self, rto: Duration) -> Duration {
        let floor = rto.saturating_mul(4).saturating_sub(rto / 2);
        self.fin_timeout.max(floor)
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig::LINUX
    }
}

/// A Linux `tcp_rmem` / `tcp_wmem` triple, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferSizes {
    /// Guaranteed even under memory pressure.
    pub min: u32,
    /// Initial size of a new connection's buffer.
    pub default: u32,
    /// Largest size automatic tuning may grow the buffer to.
    pub max: u32,
}

impl BufferSizes {
    /// `0 < min <= default <= max`.
    pub const fn is_valid(&self) -> bool {
        self.min > 0 && self.min <= self.default && self.default <= self.max
    }
}

/// A congestion-control algorithm's name, as `tcp_congestion_control` and `TCP_CONGESTION`
/// take it: 1 to 15 ASCII letters, digits, `_` or `-` (Linux's `TCP_CA_NAME_MAX` is 16 with the
/// NUL). Stored inline so [`TcpConfig`] stays `Copy` and allocation-free; the set of algorithms
/// is open, the congestion-control factory decides which names it knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CcName {
    len: u8,
    bytes: [u8; CcName::MAX_LEN],
}

impl CcName {
    /// Longest name, in bytes.
    pub const MAX_LEN: usize = 15;
    /// `"newreno"`: RFC 5681 with RFC 6582's fast recovery. The default.
    pub const NEWRENO: CcName = CcName::from_ascii(b"newreno");
    /// `"reno"`: Linux's name for the same window math.
    pub const RENO: CcName = CcName::from_ascii(b"reno");
    /// `"cubic"`: RFC 9438, the default of most Linux builds.
    pub const CUBIC: CcName = CcName::from_ascii(b"cubic");

    /// Checks and stores `name`.
    pub fn new(name: &str) -> Result<CcName, ConfigError> {
        let bytes = name.as_bytes();
        if bytes.is_empty()
            || bytes.len() > Self::MAX_LEN
            || !bytes.iter().all(|&b| Self::valid_byte(b))
        {
            return Err(ConfigError::BadCongestionControlName);
        }
        Ok(CcName::from_ascii(bytes))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (see `new` and the constants), so this never fails.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    const fn valid_byte(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
    }

    /// For checked input and the constants; truncates past `MAX_LEN`.
    const fn from_ascii(name: &[u8]) -> CcName {
        let mut bytes = [0u8; CcName::MAX_LEN];
        let mut i = 0;
        while i < name.len() && i < CcName::MAX_LEN {
            bytes[i] = name[i];
            i += 1;
        }
        CcName { len: i as u8, bytes }
    }
}

impl FromStr for CcName {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CcName::new(s)
    }
}

impl fmt::Debug for CcName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CcName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`TcpConfig::validate`] (or [`CcName::new`]) found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `syn_retries` must be 1..=127 (Linux's range).
    SynRetriesOutOfRange(u32),
    /// `synack_retries` must be at most 255 (Linux's range).
    SynackRetriesOutOfRange(u32),
    /// `retries1` (path suspect) must not exceed `retries2` (abort); RFC 9293 §3.8.3 has
    /// R1 < R2.
    Retries1AboveRetries2 {
        /// The `retries1` given.
        retries1: u32,
        /// The `retries2` given.
        retries2: u32,
    },
    /// `rto_min` must be positive (Linux: `tcp_rto_min_us` >= 1).
    RtoMinZero,
    /// `rto_min` must not exceed `rto_max`.
    RtoMinAboveMax {
        /// The `rto_min` given.
        min: Duration,
        /// The `rto_max` given.
        max: Duration,
    },
    /// `rto_initial` must lie within `[rto_min, rto_max]`.
    RtoInitialOutOfRange {
        /// The `rto_initial` given.
        initial: Duration,
        /// The `rto_min` given.
        min: Duration,
        /// The `rto_max` given.
        max: Duration,
    },
    /// `delack_min` must not exceed `delack_max`.
    DelackMinAboveMax {
        /// The `delack_min` given.
        min: Duration,
        /// The `delack_max` given.
        max: Duration,
    },
    /// `delack_max` must be under 500 ms (RFC 9293 §3.8.6.3, MUST-40).
    DelackMaxTooLong(Duration),
    /// `msl` must be positive: TIME-WAIT (2·MSL) protects new connections (SPEC S12).
    MslZero,
    /// `keepalive_time` must be positive.
    KeepaliveTimeZero,
    /// `keepalive_intvl` must be positive.
    KeepaliveIntvlZero,
    /// `keepalive_probes` must be at least 1.
    KeepaliveProbesZero,
    /// `min_snd_mss` must be at least 1: a zero MSS cannot carry data.
    MinSndMssZero,
    /// `mss_default` must be at least `min_snd_mss`.
    MssDefaultBelowMinSndMss {
        /// The `mss_default` given.
        mss_default: u16,
        /// The `min_snd_mss` given.
        min_snd_mss: u16,
    },
    /// `mtu_probing` must be 0 or 1 (Linux's 2, probing upwards from the start, is not
    /// implemented).
    MtuProbingUnsupported(u8),
    /// `base_mss` must be at least `min_snd_mss`.
    BaseMssBelowMinSndMss {
        /// The `base_mss` given.
        base_mss: u16,
        /// The `min_snd_mss` given.
        min_snd_mss: u16,
    },
    /// `rmem` must have `0 < min <= default <= max`.
    RmemInvalid(BufferSizes),
    /// `wmem` must have `0 < min <= default <= max`.
    WmemInvalid(BufferSizes),
    /// `initial_cwnd` must be at least 1 segment.
    InitialCwndZero,
    /// `max_flight_segments` must be `None` or at least 1: zero would never send.
    MaxFlightSegmentsZero,
    /// A congestion-control name must be 1..=15 ASCII letters, digits, `_` or `-`.
    BadCongestionControlName,
    /// `congestion_control` names an algorithm the registry does not have
    /// ([`crate::cc::available`] lists those it has).
    UnknownCongestionControl(CcName),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::SynRetriesOutOfRange(n) => {
                write!(f, "tcp_syn_retries {n} is outside 1..=127")
            }
            ConfigError::SynackRetriesOutOfRange(n) => {
                write!(f, "tcp_synack_retries {n} is above 255")
            }
            ConfigError::Retries1AboveRetries2 { retries1, retries2 } => {
                write!(f, "tcp_retries1 {retries1} is above tcp_retries2 {retries2}")
            }
            ConfigError::RtoMinZero => f.write_str("tcp_rto_min_us is zero"),
            ConfigError::RtoMinAboveMax { min, max } => {
                write!(f, "tcp_rto_min_us ({min:?}) is above tcp_rto_max_ms ({max:?})")
            }
            ConfigError::RtoInitialOutOfRange { initial, min, max } => {
                write!(f, "initial RTO {initial:?} is outside [{min:?}, {max:?}]")
            }
            ConfigError::DelackMinAboveMax { min, max } => {
                write!(f, "delayed-ACK minimum {min:?} is above its maximum {max:?}")
            }
            ConfigError::DelackMaxTooLong(d) => {
                write!(f, "delayed-ACK maximum {d:?} is not under 500ms (RFC 9293 MUST-40)")
            }
            ConfigError::MslZero => f.write_str("MSL is zero"),
            ConfigError::KeepaliveTimeZero => f.write_str("tcp_keepalive_time is zero"),
            ConfigError::KeepaliveIntvlZero => f.write_str("tcp_keepalive_intvl is zero"),
            ConfigError::KeepaliveProbesZero => f.write_str("tcp_keepalive_probes is zero"),
            ConfigError::MinSndMssZero => f.write_str("tcp_min_snd_mss is zero"),
            ConfigError::MssDefaultBelowMinSndMss { mss_default, min_snd_mss } => {
                write!(f, "default MSS {mss_default} is below tcp_min_snd_mss {min_snd_mss}")
            }
            ConfigError::RmemInvalid(b) => write!(
                f,
                "tcp_rmem {} {} {} is not 0 < min <= default <= max",
                b.min, b.default, b.max
            ),
            ConfigError::WmemInvalid(b) => write!(
                f,
                "tcp_wmem {} {} {} is not 0 < min <= default <= max",
                b.min, b.default, b.max
            ),
            ConfigError::InitialCwndZero => f.write_str("initial congestion window is zero"),
            ConfigError::MaxFlightSegmentsZero => f.write_str("max_flight_segments is Some(0)"),
            ConfigError::BadCongestionControlName => f.write_str(
                "congestion control name is not 1 to 15 ASCII letters, digits, '_' or '-'",
            ),
            ConfigError::MtuProbingUnsupported(n) => write!(
                f,
                "tcp_mtu_probing {n} is not supported: 0 (off) and 1 (on a black hole) are; \
                 2 (probing upwards from tcp_base_mss) is not implemented"
            ),
            ConfigError::BaseMssBelowMinSndMss { base_mss, min_snd_mss } => {
                write!(f, "tcp_base_mss {base_mss} is below tcp_min_snd_mss {min_snd_mss}")
            }
            ConfigError::UnknownCongestionControl(name) => {
                write!(f, "tcp_congestion_control {name:?} is not available (available:")?;
                for n in crate::cc::names() {
                    write!(f, " {n}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn defaults_are_specs_linux_values() {
        let c = TcpConfig::default();
        assert_eq!(c, TcpConfig::LINUX);
        // The list in the module documentation.
        assert_eq!(c.rto_initial, secs(1));
        assert_eq!(c.rto_min, ms(200));
        assert_eq!(c.syn_retries, 6);
        assert_eq!(c.synack_retries, 5);
        assert_eq!(c.initial_cwnd, 10);
        assert_eq!(c.delack_max, ms(40));
        assert_eq!(c.msl, secs(30));
        assert_eq!(c.time_wait_len(), secs(60));
        assert_eq!(c.fin_timeout, secs(60));
        assert_eq!(c.keepalive_time, secs(7200));
        assert_eq!(c.keepalive_intvl, secs(75));
        assert_eq!(c.keepalive_probes, 9);
        // The rest of Linux's defaults.
        assert_eq!(c.rto_max, secs(120));
        assert_eq!(c.delack_min, ms(40));
        assert_eq!((c.retries1, c.retries2, c.orphan_retries), (3, 15, 8));
        assert!(c.window_scaling && c.timestamps && c.sack);
        assert!(!c.keepalive && !c.nodelay);
        assert!(c.rfc1337, "SPEC S12: TIME-WAIT resists assassination");
        assert_eq!((c.mss_default, c.base_mss, c.min_snd_mss), (536, 1024, 48));
        assert_eq!(c.rmem, BufferSizes { min: 4096, default: 131_072, max: 6_291_456 });
        assert_eq!(c.wmem, BufferSizes { min: 4096, default: 16_384, max: 4_194_304 });
        assert_eq!(c.max_flight_segments, None);
        assert_eq!(c.congestion_control.as_str(), "cubic");
        assert_eq!(c.challenge_ack_limit, 2_147_483_647);
        assert_eq!(c.invalid_ratelimit, ms(500));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn retry_timeouts_match_linux_documentation() {
        let c = TcpConfig::default();
        // tcp_syn_retries: SYNs at 0, 1, 3, 7, 15, 31, 63 s; connect() fails at 127 s.
        assert_eq!(c.syn_timeout(), secs(127));
        // ip-sysctl.rst, tcp_synack_retries: "the final timeout for a passive TCP connection
        // will happen after 63seconds".
        assert_eq!(c.synack_timeout(), secs(63));
        // ip-sysctl.rst, tcp_retries2: "The default value of 15 yields a hypothetical timeout
        // of 924.6 seconds".
        assert_eq!(c.retries2_timeout(), ms(924_600));
        assert_eq!(c.retries1_timeout(), secs(3));
        // tcp_orphan_retries(): "8 corresponds to >100 seconds with minimal RTO of 200msec".
        assert_eq!(c.orphan_timeout(), ms(102_200));
        assert_eq!(c.keepalive_timeout(), secs(7875));
    }

    #[test]
    fn model_timeout_edges() {
        let c = TcpConfig::default();
        assert_eq!(c.model_timeout(0, secs(1)), secs(1));
        // ⌊log2(120)⌋ = 6 doublings, then 120 s per retry.
        assert_eq!(c.model_timeout(6, secs(1)), secs(127));
        assert_eq!(c.model_timeout(7, secs(1)), secs(247));
        assert_eq!(c.model_timeout(3, Duration::ZERO), Duration::ZERO);
        // rto_base above rto_max: no doubling, every retry waits rto_base.
        assert_eq!(c.model_timeout(2, secs(200)), secs(600));
        // No overflow on absurd input.
        assert!(c.model_timeout(u32::MAX, Duration::MAX) >= secs(u64::MAX / 2));
    }

    #[test]
    fn fin_wait2_time_is_at_least_three_and_a_half_rto() {
        let c = TcpConfig::default();
        assert_eq!(c.fin_wait2_time(ms(200)), secs(60));
        assert_eq!(c.fin_wait2_time(secs(20)), secs(70));
    }

    #[test]
    fn stop_and_wait_config_is_valid() {
        let c = TcpConfig { max_flight_segments: Some(1), ..TcpConfig::default() };
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn each_bad_value_has_its_error() {
        let d = TcpConfig::default();
        let cases: [(TcpConfig, ConfigError); 24] = [
            (TcpConfig { mtu_probing: 2, ..d }, ConfigError::MtuProbingUnsupported(2)),
            (
                TcpConfig { base_mss: 40, ..d },
                ConfigError::BaseMssBelowMinSndMss { base_mss: 40, min_snd_mss: 48 },
            ),
            (
                TcpConfig { congestion_control: CcName::from_ascii(b"bbr"), ..d },
                ConfigError::UnknownCongestionControl(CcName::from_ascii(b"bbr")),
            ),
            (TcpConfig { syn_retries: 0, ..d }, ConfigError::SynRetriesOutOfRange(0)),
            (TcpConfig { syn_retries: 128, ..d }, ConfigError::SynRetriesOutOfRange(128)),
            (TcpConfig { synack_retries: 256, ..d }, ConfigError::SynackRetriesOutOfRange(256)),
            (
                TcpConfig { retries1: 16, ..d },
                ConfigError::Retries1AboveRetries2 { retries1: 16, retries2: 15 },
            ),
            (TcpConfig { rto_min: Duration::ZERO, ..d }, ConfigError::RtoMinZero),
            (
                TcpConfig { rto_min: secs(5), rto_max: secs(2), ..d },
                ConfigError::RtoMinAboveMax { min: secs(5), max: secs(2) },
            ),
            (
                TcpConfig { rto_initial: ms(100), ..d },
                ConfigError::RtoInitialOutOfRange {
                    initial: ms(100),
                    min: ms(200),
                    max: secs(120),
                },
            ),
            (
                TcpConfig { rto_initial: secs(121), ..d },
                ConfigError::RtoInitialOutOfRange {
                    initial: secs(121),
                    min: ms(200),
                    max: secs(120),
                },
            ),
            (
                TcpConfig { delack_min: ms(50), ..d },
                ConfigError::DelackMinAboveMax { min: ms(50), max: ms(40) },
            ),
            (TcpConfig { delack_max: ms(500), ..d }, ConfigError::DelackMaxTooLong(ms(500))),
            (TcpConfig { msl: Duration::ZERO, ..d }, ConfigError::MslZero),
            (TcpConfig { keepalive_time: Duration::ZERO, ..d }, ConfigError::KeepaliveTimeZero),
            (TcpConfig { keepalive_intvl: Duration::ZERO, ..d }, ConfigError::KeepaliveIntvlZero),
            (TcpConfig { keepalive_probes: 0, ..d }, ConfigError::KeepaliveProbesZero),
            (TcpConfig { min_snd_mss: 0, ..d }, ConfigError::MinSndMssZero),
            (
                TcpConfig { mss_default: 40, ..d },
                ConfigError::MssDefaultBelowMinSndMss { mss_default: 40, min_snd_mss: 48 },
            ),
            (
                TcpConfig { rmem: BufferSizes { min: 0, default: 1, max: 2 }, ..d },
                ConfigError::RmemInvalid(BufferSizes { min: 0, default: 1, max: 2 }),
            ),
            (
                TcpConfig { rmem: BufferSizes { min: 4096, default: 8192, max: 4096 }, ..d },
                ConfigError::RmemInvalid(BufferSizes { min: 4096, default: 8192, max: 4096 }),
            ),
            (
                TcpConfig { wmem: BufferSizes { min: 8192, default: 4096, max: 16_384 }, ..d },
                ConfigError::WmemInvalid(BufferSizes { min: 8192, default: 4096, max: 16_384 }),
            ),
            (TcpConfig { initial_cwnd: 0, ..d }, ConfigError::InitialCwndZero),
            (TcpConfig { max_flight_segments: Some(0), ..d }, ConfigError::MaxFlightSegmentsZero),
        ];
        for (config, error) in cases {
            assert_eq!(config.validate(), Err(error), "{error}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn boundary_values_are_accepted() {
        let d = TcpConfig::default();
        let ok = [
            TcpConfig { syn_retries: 1, ..d },
            TcpConfig { syn_retries: 127, ..d },
            TcpConfig { synack_retries: 0, ..d },
            TcpConfig { synack_retries: 255, ..d },
            TcpConfig { retries1: 15, ..d },
            TcpConfig { rto_min: secs(1), rto_initial: secs(1), rto_max: secs(1), ..d },
            TcpConfig { delack_min: Duration::ZERO, delack_max: ms(499), ..d },
            TcpConfig { fin_timeout: Duration::ZERO, ..d },
            TcpConfig { mss_default: 48, ..d },
            TcpConfig { rmem: BufferSizes { min: 1, default: 1, max: 1 }, ..d },
            TcpConfig { moderate_rcvbuf: false, dsack: false, challenge_ack_limit: 0, ..d },
        ];
        for config in ok {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }

    #[test]
    fn congestion_control_names() {
        assert_eq!(CcName::NEWRENO.as_str(), "newreno");
        assert_eq!(CcName::RENO.as_str(), "reno");
        assert_eq!(CcName::CUBIC.to_string(), "cubic");
        assert_eq!(format!("{:?}", CcName::CUBIC), "\"cubic\"");
        assert_eq!(CcName::new("cubic"), Ok(CcName::CUBIC));
        assert_eq!("bbr".parse::<CcName>().map(|n| n.to_string()), Ok("bbr".to_string()));
        assert_eq!(CcName::new("abcdefghijklmno").map(|n| n.as_str().len()), Ok(15));
        for bad in ["", "abcdefghijklmnop", "new reno", "cübic", "a/b"] {
            assert_eq!(CcName::new(bad), Err(ConfigError::BadCongestionControlName), "{bad:?}");
        }
    }

    #[test]
    fn an_algorithm_that_is_not_implemented_is_a_configuration_error_not_newreno() {
        // "cubic" used to be accepted and silently run NewReno; it is implemented now, these
        // are not.
        for name in ["bbr", "vegas", "htcp"] {
            let cfg =
                TcpConfig { congestion_control: CcName::new(name).unwrap(), ..TcpConfig::LINUX };
            let err = cfg.validate().unwrap_err();
            assert_eq!(err, ConfigError::UnknownCongestionControl(CcName::new(name).unwrap()));
            assert_eq!(
                err.to_string(),
                format!(
                    "tcp_congestion_control \"{name}\" is not available (available: cubic \
                     newreno reno)"
                )
            );
        }
        for name in ["cubic", "newreno", "reno", "NewReno"] {
            let cfg =
                TcpConfig { congestion_control: CcName::new(name).unwrap(), ..TcpConfig::LINUX };
            assert_eq!(cfg.validate(), Ok(()), "{name}");
        }
    }

    proptest! {
        #[test]
        fn model_timeout_grows_with_retries(retries in 0u32..200, base_ms in 1u64..5_000) {
            let c = TcpConfig::default();
            let base = ms(base_ms);
            let t = c.model_timeout(retries, base);
            let next = c.model_timeout(retries + 1, base);
            // Each further retry adds one RTO, between rto_base and max(rto_base, rto_max).
            prop_assert!(next - t >= base);
            prop_assert!(next - t <= base.max(c.rto_max));
        }
    }
}
