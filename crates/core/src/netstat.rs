//! A snapshot of every socket, shown like `ss -tan` / `ss -uan` (SPEC S2, S10).

use core::fmt;
use core::net::SocketAddr;

use ustack_tcp::{TcpState, TimerKind};

use crate::socket::SocketHandle;
use crate::ssinfo::{SsTimer, TcpInternals};
use crate::stack::{Socket, Stack};
use crate::{Duration, Instant};

/// The protocol of a socket in a [`Netstat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// One socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketInfo {
    /// The handle.
    pub handle: SocketHandle,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The TCP state (LISTEN for listeners); for UDP, ESTABLISHED when connected, else
    /// CLOSED (ss prints UNCONN).
    pub state: TcpState,
    /// TCP: bytes received and not read (for a listener, connections waiting in the accept
    /// queue). UDP: bytes queued.
    pub recv_q: usize,
    /// TCP: bytes not yet acknowledged (for a listener, the backlog). UDP: 0.
    pub send_q: usize,
    /// Our address (IPv4-mapped for IPv4 traffic of an IPv6 socket, as `ss` shows it).
    pub local: SocketAddr,
    /// The peer's, or `None` (ss prints `0.0.0.0:*`, or `[::]:*` for an IPv6 socket).
    pub peer: Option<SocketAddr>,
    /// The next timer and how long until it fires.
    pub timer: Option<(TimerKind, Duration)>,
    /// The timer `ss -o` shows (`timer:(on,200ms,0)`), TCP connections only.
    pub ss_timer: Option<SsTimer>,
    /// What `ss -i` shows under a TCP connection.
    pub internals: Option<TcpInternals>,
    /// Whether the application still holds the socket (false: orphaned, finishing alone).
    pub owned: bool,
}

impl SocketInfo {
    /// The state as `ss` prints it (`ESTAB`, `CLOSE-WAIT`, `UNCONN` ...).
    pub fn ss_state(&self) -> &'static str {
        match (self.protocol, self.state) {
            (Protocol::Udp, TcpState::Established) => "ESTAB",
            (Protocol::Udp, _) => "UNCONN",
            (Protocol::Tcp, s) => s.ss_name(),
        }
    }

    /// A listening socket (TCP LISTEN, or UDP not connected), as `ss -l` selects.
    pub fn is_listening(&self) -> bool {
        match self.protocol {
            Protocol::Tcp => self.state == TcpState::Listen,
            Protocol::Udp => self.peer.is_none(),
        }
    }
}

/// A snapshot of the socket table. `Display` prints it with the columns of `ss -tan`
/// (State, Recv-Q, Send-Q, Local Address:Port, Peer Address:Port), with a leading Netid
/// column when it holds both protocols' sockets, like `ss -tuan`; with `show_timers` each
/// connection's timer as `ss -o` (`timer:(on,200ms,0)`), with `show_internals` a line of
/// internals under each connection as `ss -i`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Netstat {
    /// The sockets, in table order.
    pub sockets: Vec<SocketInfo>,
    /// Print the Netid column.
    pub show_netid: bool,
    /// Print each connection's timer (`ss -o`).
    pub show_timers: bool,
    /// Print each connection's internals (`ss -i`).
    pub show_internals: bool,
}

impl Netstat {
    /// Keeps TCP and/or UDP sockets, only the listening ones when `listening` (`ss -l`).
    /// Netid is shown when both protocols are kept.
    pub fn filter(mut self, tcp: bool, udp: bool, listening: bool) -> Netstat {
        self.sockets.retain(|s| {
            let proto = match s.protocol {
                Protocol::Tcp => tcp,
                Protocol::Udp => udp,
            };
            proto && (!listening || s.is_listening())
        });
        self.show_netid = tcp && udp;
        self
    }

    /// Shows each connection's timer like `ss -o` (`ustack ss -e`).
    pub fn with_timers(mut self, on: bool) -> Netstat {
        self.show_timers = on;
        self
    }

    /// Shows each connection's internals like `ss -i`.
    pub fn with_internals(mut self, on: bool) -> Netstat {
        self.show_internals = on;
        self
    }

    /// How many sockets are in `state` (TCP).
    pub fn count(&self, state: TcpState) -> usize {
        self.sockets.iter().filter(|s| s.protocol == Protocol::Tcp && s.state == state).count()
    }
}

impl fmt::Display for Netstat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.show_netid {
            write!(f, "{:<6}", "Netid")?;
        }
        writeln!(
            f,
            "{:<11}{:>7} {:>7} {:>22} {:>22}",
            "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
        )?;
        for s in &self.sockets {
            if self.show_netid {
                let id = match s.protocol {
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                };
                write!(f, "{id:<6}")?;
            }
            let peer = match s.peer {
                Some(p) => p.to_string(),
                None if s.local.is_ipv6() => "[::]:*".to_string(),
                None => "0.0.0.0:*".to_string(),
            };
            // The any-IP listener and UDP socket (transparent mode) take every port.
            let local = if s.local.port() == 0 && s.peer.is_none() {
                format!("{}:*", s.local.ip())
            } else {
                s.local.to_string()
            };
            write!(
                f,
                "{:<11}{:>7} {:>7} {:>22} {:>22}",
                s.ss_state(),
                s.recv_q,
                s.send_q,
                local,
                peer
            )?;
            if self.show_timers
                && let Some(t) = s.ss_timer
            {
                write!(f, " {t}")?;
            }
            if !s.owned && s.protocol == Protocol::Tcp && s.state != TcpState::Listen {
                f.write_str(" orphan")?;
            }
            writeln!(f)?;
            if self.show_internals
                && let Some(i) = &s.internals
            {
                writeln!(f, "\t {i}")?;
            }
        }
        Ok(())
    }
}

impl Stack {
    /// Every socket, like `ss -tuan` (S2): state, queues, addresses, next timer.
    pub fn netstat(&self, now: Instant) -> Netstat {
        let mut sockets = Vec::with_capacity(self.live);
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(sock) = &slot.sock else { continue };
            let handle = SocketHandle { index: i as u32, generation: slot.generation };
            let info = match sock {
                Socket::Listener(l) => SocketInfo {
                    handle,
                    protocol: Protocol::Tcp,
                    state: TcpState::Listen,
                    recv_q: l.accept_queue.len(),
                    send_q: l.backlog as usize,
                    local: if l.v6 { crate::addr::mapped(l.local) } else { l.local },
                    peer: None,
                    timer: None,
                    ss_timer: None,
                    internals: None,
                    owned: true,
                },
                Socket::Tcp(t) => {
                    let c = &t.conn;
                    let show = |a| if t.v6 { crate::addr::mapped(a) } else { a };
                    SocketInfo {
                        handle,
                        protocol: Protocol::Tcp,
                        state: c.state(),
                        recv_q: c.recv_queue(),
                        send_q: c.send_queue(),
                        local: show(c.tuple().local),
                        peer: Some(show(c.tuple().remote)),
                        timer: c
                            .timers()
                            .next_expiry()
                            .map(|(k, at)| (k, at.saturating_duration_since(now))),
                        ss_timer: SsTimer::of(c, now),
                        internals: (c.state() != TcpState::Closed)
                            .then(|| TcpInternals::of(c, now)),
                        owned: t.owned || t.parent().is_some(),
                    }
                }
                // Linux's `inet_timewait_sock`: no queues, no `ss -i` internals, its timer
                // `timewait`.
                Socket::TimeWait(r) => {
                    let show = |a| if r.v6 { crate::addr::mapped(a) } else { a };
                    let tuple = r.tw.tuple();
                    let left = r.tw.time_left(now);
                    SocketInfo {
                        handle,
                        protocol: Protocol::Tcp,
                        state: TcpState::TimeWait,
                        recv_q: 0,
                        send_q: 0,
                        local: show(tuple.local),
                        peer: Some(show(tuple.remote)),
                        timer: Some((TimerKind::TimeWait, left)),
                        ss_timer: Some(SsTimer {
                            name: "timewait",
                            left,
                            count: 0,
                            kind: TimerKind::TimeWait,
                        }),
                        internals: None,
                        owned: false,
                    }
                }
                Socket::Udp(u) => SocketInfo {
                    handle,
                    protocol: Protocol::Udp,
                    state: if u.peer.is_some() { TcpState::Established } else { TcpState::Closed },
                    recv_q: u.rx_bytes,
                    send_q: 0,
                    local: if u.v6 { crate::addr::mapped(u.local) } else { u.local },
                    peer: if u.v6 { u.peer.map(crate::addr::mapped) } else { u.peer },
                    timer: None,
                    ss_timer: None,
                    internals: None,
                    owned: true,
                },
            };
            sockets.push(info);
        }
        Netstat { sockets, show_netid: true, show_timers: false, show_internals: false }
    }

    /// Closes any socket for the application: a TCP connection finishes on its own (FIN,
    /// or RST when unread data remains; SPEC S9), a listener resets the connections still in
    /// its queues, a UDP socket is gone at once. The handle is dead afterwards.
    pub fn close(&mut self, now: Instant, h: SocketHandle) {
        match self.slot(h) {
            Some(Socket::Tcp(_)) => self.close_tcp(now, h),
            Some(Socket::TimeWait(_)) => panic!("close of {h}, which the application closed"),
            Some(Socket::Listener(_)) => self.close_listener(h),
            Some(Socket::Udp(_)) => self.close_udp(h),
            None => panic!("close of {h}, which is not a live socket"),
        }
    }
}
