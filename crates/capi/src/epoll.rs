//! Readiness (`poll`, `epoll`): what a socket is ready for, as Linux's `tcp_poll` computes it,
//! and epoll instances.

use std::collections::BTreeMap;

use libc::c_int;
use ustack_core::tcp_engine::TcpState;

use crate::host::{Host, Phase, Proto, Sock};

/// Linux `POLL*` / `EPOLL*` bits (the same values in both).
pub(crate) mod bits {
    pub(crate) const IN: u32 = libc::POLLIN as u32;
    pub(crate) const OUT: u32 = libc::POLLOUT as u32;
    pub(crate) const ERR: u32 = libc::POLLERR as u32;
    pub(crate) const HUP: u32 = libc::POLLHUP as u32;
    pub(crate) const NVAL: u32 = libc::POLLNVAL as u32;
    pub(crate) const RDNORM: u32 = libc::POLLRDNORM as u32;
    pub(crate) const WRNORM: u32 = libc::POLLWRNORM as u32;
    pub(crate) const RDHUP: u32 = libc::POLLRDHUP as u32;
    pub(crate) const ET: u32 = libc::EPOLLET as u32;
    pub(crate) const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
}

impl Host {
    /// The readiness of `fd`: Linux's `tcp_poll` for TCP, `udp_poll` for UDP; `POLLNVAL` for
    /// a descriptor that is not open.
    pub(crate) fn readiness(&self, fd: c_int) -> u32 {
        use bits::*;
        let Ok(s) = self.sock(fd) else { return NVAL };
        match s.proto {
            Proto::Tcp => self.tcp_readiness(s),
            Proto::Udp => {
                let mut m = OUT | WRNORM;
                if let Phase::Udp(h) = s.phase
                    && self.stack.udp_has_datagram(h)
                {
                    m |= IN | RDNORM;
                }
                m
            }
        }
    }

    fn tcp_readiness(&self, s: &Sock) -> u32 {
        use bits::*;
        let h = match s.phase {
            Phase::Listening(l) => {
                return if self.stack.tcp_accept_queue_len(l) > 0 { IN | RDNORM } else { 0 };
            }
            // A deferred Fast Open connect (TCP_FASTOPEN_CONNECT with a cookie): writable,
            // the first write sends the SYN (Linux `tcp_poll` for a deferred connect).
            Phase::Unconnected if s.deferred_to.is_some() => return OUT | WRNORM,
            // A fresh socket: CLOSE state, nothing shut down: writable and hung up.
            Phase::Unconnected => return OUT | WRNORM | HUP,
            Phase::Connecting(h) | Phase::Connected(h) => h,
            Phase::Udp(_) => unreachable!("TCP socket"),
        };
        let conn = self.stack.tcp_conn(h);
        let state = conn.state();
        let closed = state == TcpState::Closed;
        let rcv_shut = s.shut_rd || conn.peer_closed() || closed;
        let snd_shut = s.shut_wr || conn.write_closed() || closed;
        let mut m = 0;
        if (rcv_shut && snd_shut) || closed {
            m |= HUP;
        }
        if rcv_shut {
            m |= IN | RDNORM | RDHUP;
        }
        // A Fast Open child is usable in SYN-RECEIVED (Linux `tcp_passive_fastopen`).
        let usable = match state {
            TcpState::SynSent => false,
            TcpState::SynReceived => conn.is_fast_open_child(),
            _ => true,
        };
        if usable {
            if conn.recv_queue() >= s.rcvlowat.max(1) as usize {
                m |= IN | RDNORM;
            }
            if snd_shut || conn.send_capacity() > 0 {
                m |= OUT | WRNORM;
            }
        }
        if self.pending_error(s).is_some() {
            m |= ERR;
        }
        m
    }
}

/// An epoll instance: the descriptors it watches.
#[derive(Debug, Default)]
pub(crate) struct Epoll {
    /// fd → (events asked for, user data, what was last reported for edge triggering).
    pub(crate) watched: BTreeMap<c_int, Watch>,
}

/// One watched descriptor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    pub(crate) events: u32,
    pub(crate) data: u64,
    /// Edge-triggered: the readiness last reported (or seen when added); a bit is reported
    /// again only after it has been clear.
    pub(crate) last: u32,
    /// `EPOLLONESHOT` fired: disabled until `EPOLL_CTL_MOD`.
    pub(crate) disabled: bool,
}

impl Epoll {
    pub(crate) fn forget(&mut self, fd: c_int) {
        self.watched.remove(&fd);
    }

    /// Events ready now, at most `max`, as (events, data); updates edge and one-shot state.
    pub(crate) fn collect(&mut self, host: &Host, max: usize) -> Vec<(u32, u64)> {
        use bits::*;
        let mut out = Vec::new();
        for (&fd, w) in self.watched.iter_mut() {
            if out.len() >= max {
                break;
            }
            let now = host.readiness(fd);
            // EPOLLERR and EPOLLHUP are always reported (epoll_ctl(2)).
            let ready = now & (w.events | ERR | HUP);
            if w.events & ET != 0 {
                let fresh = ready & !w.last;
                w.last = ready;
                if fresh == 0 || w.disabled {
                    continue;
                }
            } else if ready == 0 || w.disabled {
                continue;
            }
            if w.events & ONESHOT != 0 {
                w.disabled = true;
            }
            out.push((ready, w.data));
        }
        out
    }
}
