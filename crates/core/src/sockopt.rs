//! Socket options and bind bookkeeping for a sockets API on top of the stack (the C API's
//! `setsockopt`, `bind`): per-connection settings changed after the connection exists, the
//! settings a listener hands its connections, and the questions `bind()` asks before any
//! listener or connection holds the port.

use core::net::{IpAddr, SocketAddr};

use ustack_tcp::{Duration, TcpConfig};

use crate::socket::SocketHandle;
use crate::stack::{Socket, Stack};
use crate::{Instant, StackConfig, StackConfigError};

/// Who uses a local TCP port, as `bind()` must know (Linux `inet_csk_bind_conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortUse {
    /// A listener holds the port on this address or on the unspecified address (or, when
    /// asked about the unspecified address, on any address).
    pub listener: bool,
    /// Connections (any state, TIME-WAIT included) use the port as their local port.
    pub connections: usize,
}

impl Stack {
    /// Who uses TCP port `local.port()` where it overlaps `local.ip()` (a bind to `::` as
    /// one with IPV6_V6ONLY per `bindv6only`).
    pub fn tcp_port_use(&self, local: impl Into<SocketAddr>) -> PortUse {
        self.tcp_port_use_v6only(local.into(), self.cfg.bindv6only)
    }

    /// [`Stack::tcp_port_use`] for a socket whose IPV6_V6ONLY is `v6only` (it matters only
    /// for `::`).
    pub fn tcp_port_use_v6only(&self, local: SocketAddr, v6only: bool) -> PortUse {
        let local = crate::addr::canonical(local);
        let v6only = v6only && local.is_ipv6();
        let port = local.port();
        let listener = self.tcp_listeners.conflicts(local, v6only);
        let connections = self.tcp_conn_ports.get(&port).copied().unwrap_or(0) as usize;
        PortUse { listener, connections }
    }

    /// An ephemeral port for `bind()` to port 0 on `addr` (RFC 6056 order, as `tcp_listen`
    /// picks one): free of listeners and connections, and accepted by `also_free` (the
    /// caller's own reservations). `None` when every port of the range is taken.
    pub fn tcp_pick_port(
        &mut self,
        addr: impl Into<IpAddr>,
        mut also_free: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let listeners = &self.tcp_listeners;
        let conn_ports = &self.tcp_conn_ports;
        self.ports.pick(addr.into(), None, |p| {
            !listeners.port_used(p) && !conn_ports.contains_key(&p) && also_free(p)
        })
    }

    /// Whether `addr` may be bound: unspecified, or an address of one of the interfaces.
    pub fn is_local_addr(&self, addr: impl Into<IpAddr>) -> bool {
        self.is_bindable(crate::addr::canonical_ip(addr.into()))
    }

    /// IPV6_V6ONLY of a listener or UDP socket: whether, bound to `::`, it takes IPv6 only
    /// (false for sockets of other addresses and for connections). Panics on a dead handle.
    pub fn v6only(&self, h: SocketHandle) -> bool {
        match self.slot(h) {
            Some(Socket::Listener(l)) => l.v6only,
            Some(Socket::Udp(u)) => u.v6only,
            Some(Socket::Tcp(_) | Socket::TimeWait(_)) => false,
            None => panic!("v6only of {h}, which is not a live socket"),
        }
    }

    /// The settings a listener's new connections start with.
    pub fn tcp_listener_config(&self, h: SocketHandle) -> &TcpConfig {
        match self.slot(h) {
            Some(Socket::Listener(l)) => &l.tcp,
            _ => panic!("{h} is not a listener"),
        }
    }

    /// Changes the settings a listener's next connections start with (options set on a
    /// listening socket; Linux children inherit them). Refuses settings that do not validate.
    pub fn tcp_set_listener_config(
        &mut self,
        h: SocketHandle,
        tcp: TcpConfig,
    ) -> Result<(), ustack_tcp::ConfigError> {
        tcp.validate()?;
        match self.socket_mut(h) {
            Some(Socket::Listener(l)) => l.tcp = std::sync::Arc::new(tcp),
            _ => panic!("{h} is not a listener"),
        }
        Ok(())
    }

    /// `TCP_DEFER_ACCEPT` on a listener (SPEC S7): its next connections complete only when
    /// data arrives, for at most `secs` seconds, converted as Linux does into SYN-ACK
    /// retransmissions from its 1 s initial timeout doubling up to 120 s
    /// ([`ustack_tcp::conn::secs_to_retrans`]: 5 s are 3 retransmissions, which cover 7 s);
    /// 0 or less turns it off.
    pub fn tcp_set_defer_accept(&mut self, listener: SocketHandle, secs: i64) {
        let retrans = ustack_tcp::conn::secs_to_retrans(secs, 1, 120);
        match self.socket_mut(listener) {
            Some(Socket::Listener(l)) => l.defer_accept = retrans,
            _ => panic!("{listener} is not a listener"),
        }
    }

    /// A listener's `TCP_DEFER_ACCEPT` in seconds, as Linux's `getsockopt` returns it: the
    /// period its retransmissions cover ([`ustack_tcp::conn::retrans_to_secs`]).
    pub fn tcp_defer_accept(&self, listener: SocketHandle) -> u32 {
        match self.slot(listener) {
            Some(Socket::Listener(l)) => ustack_tcp::conn::retrans_to_secs(l.defer_accept, 1, 120),
            _ => panic!("{listener} is not a listener"),
        }
    }

    /// `TCP_KEEPIDLE` / `TCP_KEEPINTVL` / `TCP_KEEPCNT` on a connection; see
    /// [`ustack_tcp::Conn::set_keepalive_params`].
    pub fn tcp_set_keepalive_params(
        &mut self,
        now: Instant,
        h: SocketHandle,
        idle: Duration,
        intvl: Duration,
        probes: u32,
    ) {
        self.tcp_mut(h).conn.set_keepalive_params(now, idle, intvl, probes);
        self.after_input(h);
    }

    /// `TCP_USER_TIMEOUT` on a connection.
    pub fn tcp_set_user_timeout(&mut self, h: SocketHandle, timeout: Duration) {
        self.tcp_mut(h).conn.set_user_timeout(timeout);
        self.after_input(h);
    }

    /// `TCP_SYNCNT` on a connection; see [`ustack_tcp::Conn::set_syn_retries`].
    pub fn tcp_set_syn_retries(&mut self, h: SocketHandle, retries: u32) {
        self.tcp_mut(h).conn.set_syn_retries(retries);
        self.after_input(h);
    }

    /// `SO_SNDBUF` on a connection; see [`ustack_tcp::Conn::set_send_buffer`].
    pub fn tcp_set_send_buffer(&mut self, h: SocketHandle, bytes: u32) {
        self.tcp_mut(h).conn.set_send_buffer(bytes);
        self.after_input(h);
    }

    /// `SO_RCVBUF` on a connection; see [`ustack_tcp::Conn::set_recv_buffer`].
    pub fn tcp_set_recv_buffer(&mut self, h: SocketHandle, bytes: u32) {
        self.tcp_mut(h).conn.set_recv_buffer(bytes);
        self.after_input(h);
    }

    /// Replaces the stack's settings while it runs (sysctl writes). Only what is read when
    /// it is used may change: TCP settings (new connections copy them), `somaxconn` (new
    /// listeners), `tcp_abort_on_overflow`, the TTL, UDP receive buffers of new sockets,
    /// ICMP echo, and the listener options (`tcp_syncookies`, `tcp_fastopen` and its key and
    /// black-hole timeout, `tcp_tw_reuse` and its delay; a listener's Fast Open queue from
    /// `tcp_fastopen` 0x400 is fixed when it starts listening). A change to anything else (the secret, the port range, the transmit queue,
    /// fragment limits, ICMP rate) is refused with [`StackConfigError::Invalid`], as is a
    /// configuration that does not validate.
    pub fn set_config(&mut self, cfg: StackConfig) -> Result<(), StackConfigError> {
        cfg.validate()?;
        let fixed = |c: &StackConfig| {
            (
                c.secret,
                c.ip_local_port_range,
                c.wmem,
                c.ipfrag_high_thresh,
                c.ipfrag_time,
                c.icmp_msgs_per_sec,
                c.icmp_msgs_burst,
            )
        };
        if fixed(&cfg) != fixed(&self.cfg) {
            return Err(StackConfigError::Invalid(
                "the secret, port range, transmit queue, fragment limits and ICMP rate are fixed when the stack is created",
            ));
        }
        self.cfg = cfg;
        Ok(())
    }
}

impl Stack {
    /// How many connections wait in a listener's accept queue (`poll` readiness of a
    /// listening socket).
    pub fn tcp_accept_queue_len(&self, h: SocketHandle) -> usize {
        match self.slot(h) {
            Some(Socket::Listener(l)) => l.accept_queue.len(),
            _ => panic!("{h} is not a listener"),
        }
    }

    /// Copies received data into `buf` without consuming it (`MSG_PEEK`); see
    /// [`ustack_tcp::Conn::peek`].
    pub fn tcp_peek(&self, h: SocketHandle, buf: &mut [u8]) -> usize {
        self.tcp_conn(h).peek(buf)
    }
}

impl Stack {
    /// Whether a UDP socket has a datagram to read (`poll` readiness).
    pub fn udp_has_datagram(&self, h: SocketHandle) -> bool {
        match self.slot(h) {
            Some(Socket::Udp(u)) => u.queued() > 0,
            _ => panic!("{h} is not a UDP socket"),
        }
    }
}
