//! The host stack's settings, named after the Linux sysctls they mirror, with Linux defaults
//! (the rule and the list of defaults: `ustack_tcp::config`).

use core::fmt;

use ustack_tcp::tfo::FastOpenKeys;
use ustack_tcp::{ConfigError, TcpConfig};

use crate::Duration;

/// Settings of a [`crate::Stack`]. Build one with [`StackConfig::new`] (Linux defaults, the
/// given secret) and change fields; [`crate::Stack::new`] validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackConfig {
    /// Per-connection TCP settings (`net.ipv4.tcp_*`).
    pub tcp: TcpConfig,
    /// The key of every keyed hash in the stack: RFC 6528 ISNs, RFC 6056 port choice,
    /// timestamp offsets and the hash tables' hasher. Hand in 16 random bytes in production
    /// and a fixed value in simulation, so a run replays from its seed.
    pub secret: [u8; 16],
    /// TTL of the datagrams we send (`net.ipv4.ip_default_ttl`, 64).
    pub ip_default_ttl: u8,
    /// The ephemeral port range (`net.ipv4.ip_local_port_range`, 32768–60999), inclusive.
    pub ip_local_port_range: (u16, u16),
    /// Upper bound of a listener's backlog (`net.core.somaxconn`, 4096): `listen(backlog)` is
    /// clamped to it, as Linux does.
    pub somaxconn: u32,
    /// Reset a connection whose final ACK finds the accept queue full instead of dropping
    /// the ACK (`net.ipv4.tcp_abort_on_overflow`, off).
    pub tcp_abort_on_overflow: bool,
    /// Bytes a UDP socket may hold unread before arriving datagrams are dropped and counted
    /// (`net.core.rmem_default`, 212992).
    pub udp_rmem: usize,
    /// Bytes of datagrams (UDP, ICMP, RSTs) waiting for `poll_transmit` before sends fail
    /// with a full buffer (`net.core.wmem_default`, 212992).
    pub wmem: usize,
    /// Memory for IPv4 fragments awaiting reassembly (`net.ipv4.ipfrag_high_thresh`, 4 MiB).
    pub ipfrag_high_thresh: usize,
    /// How long an incomplete datagram is kept (`net.ipv4.ipfrag_time`, 30 s).
    pub ipfrag_time: Duration,
    /// ICMP errors we send per second at most (`net.ipv4.icmp_msgs_per_sec`, 1000).
    pub icmp_msgs_per_sec: u32,
    /// Burst of ICMP errors allowed above the rate (`net.ipv4.icmp_msgs_burst`, 50).
    pub icmp_msgs_burst: u32,
    /// Answer ICMP and ICMPv6 echo requests (`net.ipv4.icmp_echo_ignore_all` = 0; Linux's
    /// `net.ipv6.icmp.echo_ignore_all` follows the same setting here).
    pub icmp_echo: bool,
    /// SYN cookies (`net.ipv4.tcp_syncookies`, 1; SPEC S8): 0 never (a SYN finding the SYN
    /// queue full is dropped), 1 when the SYN queue of a listener is full, 2 for every SYN.
    pub tcp_syncookies: u8,
    /// TCP Fast Open (`net.ipv4.tcp_fastopen`, 0x1; SPEC S6), Linux's bits
    /// ([`ustack_tcp::tfo`]): 0x1 client, 0x2 server (on listeners that ask for it with
    /// [`crate::Stack::tcp_set_fastopen`]), 0x4 client sends data without a cookie, 0x200
    /// server takes data without a cookie, 0x400 server on every listener.
    pub tcp_fastopen: u32,
    /// The Fast Open server key and an optional backup (`net.ipv4.tcp_fastopen_key`).
    /// `None` (default): a key derived from `secret`, as Linux draws a random one on first use.
    pub tcp_fastopen_key: Option<FastOpenKeys>,
    /// After a suspected Fast Open black hole (a middlebox dropping SYNs with data), active
    /// Fast Open is off for this long, doubling with each further one up to 64 times
    /// (`net.ipv4.tcp_fastopen_blackhole_timeout_sec`, 0 = detection off, Linux's default).
    pub tcp_fastopen_blackhole_timeout: Duration,
    /// Reuse of a 4-tuple in TIME-WAIT for an outgoing connection when timestamps make it
    /// safe (`net.ipv4.tcp_tw_reuse`, 2): 0 never, 1 always, 2 only for loopback traffic.
    pub tcp_tw_reuse: u8,
    /// How long a TIME-WAIT connection must have been in that state before `tcp_tw_reuse`
    /// may take its 4-tuple (`net.ipv4.tcp_tw_reuse_delay`, 1000 ms).
    pub tcp_tw_reuse_delay: Duration,
    /// IPv6 sockets bound to `::` take IPv6 only, as if each had IPV6_V6ONLY set
    /// (`net.ipv6.bindv6only`, 0: a socket on `::` takes IPv4 too, as IPv4-mapped addresses).
    pub bindv6only: bool,
    /// Hop limit of the IPv6 packets we send (`net.ipv6.conf.default.hop_limit`, 64).
    pub ipv6_hop_limit: u8,
    /// Memory for IPv6 fragments awaiting reassembly (`net.ipv6.ip6frag_high_thresh`, 4 MiB).
    pub ip6frag_high_thresh: usize,
    /// How long an incomplete IPv6 packet is kept (`net.ipv6.ip6frag_time`, 60 s; RFC 8200
    /// §4.5: "within 60 seconds of the reception of the first-arriving fragment").
    pub ip6frag_time: Duration,
    /// Least spacing between ICMPv6 errors to one destination, on top of the host-wide
    /// `icmp_msgs_per_sec` (`net.ipv6.icmp.ratelimit`, 1000 ms; 0 turns it off). As Linux,
    /// a burst of 6 is allowed and the spacing shrinks for wider prefixes.
    pub icmpv6_ratelimit: Duration,
    /// Flow labels on the IPv6 packets we send (`net.ipv6.auto_flowlabels`, 1): 0 none, 1
    /// and 3 one per flow from a keyed hash of its addresses, ports and protocol, 2 only
    /// for sockets that opt in (none can in ustack, so none).
    pub auto_flowlabels: u8,
    /// How long a path MTU learnt from a Packet Too Big holds before the interface MTU is
    /// tried again (`net.ipv6.route.mtu_expires`, 600 s).
    pub ip6_rt_mtu_expires: Duration,
}

impl StackConfig {
    /// Linux defaults with `secret` as the hash key.
    pub const fn new(secret: [u8; 16]) -> StackConfig {
        StackConfig {
            tcp: TcpConfig::LINUX,
            secret,
            ip_default_ttl: 64,
            ip_local_port_range: (32768, 60999),
            somaxconn: 4096,
            tcp_abort_on_overflow: false,
            udp_rmem: 212_992,
            wmem: 212_992,
            ipfrag_high_thresh: 4 << 20,
            ipfrag_time: Duration::from_secs(30),
            icmp_msgs_per_sec: 1000,
            icmp_msgs_burst: 50,
            icmp_echo: true,
            tcp_syncookies: 1,
            tcp_fastopen: ustack_tcp::tfo::DEFAULT,
            tcp_fastopen_key: None,
            tcp_fastopen_blackhole_timeout: Duration::ZERO,
            tcp_tw_reuse: 2,
            tcp_tw_reuse_delay: Duration::from_millis(1000),
            bindv6only: false,
            ipv6_hop_limit: 64,
            ip6frag_high_thresh: 4 << 20,
            ip6frag_time: Duration::from_secs(60),
            icmpv6_ratelimit: Duration::from_millis(1000),
            auto_flowlabels: 1,
            ip6_rt_mtu_expires: Duration::from_secs(600),
        }
    }

    /// Checks every setting; [`crate::Stack::new`] calls it.
    pub fn validate(&self) -> Result<(), StackConfigError> {
        self.tcp.validate().map_err(StackConfigError::Tcp)?;
        let (lo, hi) = self.ip_local_port_range;
        if lo == 0 || lo > hi {
            return Err(StackConfigError::PortRange(lo, hi));
        }
        if self.ip_default_ttl == 0 {
            return Err(StackConfigError::Invalid("ip_default_ttl must be 1 to 255"));
        }
        if self.somaxconn == 0 {
            return Err(StackConfigError::Invalid("somaxconn must be at least 1"));
        }
        if self.udp_rmem == 0 || self.wmem < 65_535 + 20 {
            return Err(StackConfigError::Invalid(
                "udp_rmem must be positive and wmem hold one 64 KiB datagram",
            ));
        }
        if self.ipfrag_time.is_zero() {
            return Err(StackConfigError::Invalid("ipfrag_time must be positive"));
        }
        if self.tcp_syncookies > 2 {
            return Err(StackConfigError::Invalid("tcp_syncookies must be 0, 1 or 2"));
        }
        if self.tcp_tw_reuse > 2 {
            return Err(StackConfigError::Invalid("tcp_tw_reuse must be 0, 1 or 2"));
        }
        if self.ipv6_hop_limit == 0 {
            return Err(StackConfigError::Invalid("hop_limit must be 1 to 255"));
        }
        if self.ip6frag_time.is_zero() {
            return Err(StackConfigError::Invalid("ip6frag_time must be positive"));
        }
        if self.auto_flowlabels > 3 {
            return Err(StackConfigError::Invalid("auto_flowlabels must be 0 to 3"));
        }
        Ok(())
    }
}

/// A setting [`StackConfig::validate`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackConfigError {
    /// A TCP setting.
    Tcp(ConfigError),
    /// The ephemeral range is empty or starts at 0.
    PortRange(u16, u16),
    /// Another setting, with what is wrong with it.
    Invalid(&'static str),
}

impl fmt::Display for StackConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackConfigError::Tcp(e) => write!(f, "tcp: {e}"),
            StackConfigError::PortRange(lo, hi) => {
                write!(f, "ip_local_port_range {lo}-{hi} is empty or starts at 0")
            }
            StackConfigError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StackConfigError {}
