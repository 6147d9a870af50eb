//! `tcp_tw_reuse`: an outgoing connection may take the 4-tuple of a connection in TIME-WAIT
//! when timestamps make it safe (Linux `tcp_twsk_unique`), so a client that connects in a
//! loop to one server does not run out of ports while its closed connections sit out their
//! 60 s of TIME-WAIT (SPEC S13, S25, S26).
//!
//! The conditions, as Linux's:
//!
//! - `tcp_tw_reuse` is 1, or 2 (the default) and the connection is loopback traffic (its
//!   local or remote address in 127.0.0.0/8);
//! - the old connection used timestamps: the new one's timestamps come from the same clock
//!   and offset (the offset is a function of the 4-tuple), so they are newer than anything
//!   the old one sent, and the peer's PAWS (RFC 7323 §5) rejects the old connection's
//!   duplicates;
//! - it has been in TIME-WAIT longer than `tcp_tw_reuse_delay` (1 s).
//!
//! The new connection starts its sequence space 65537 past the old connection's SND.NXT
//! (Linux: `tw_snd_nxt + 65535 + 2`), beyond anything the old one could still have in
//! flight. Each reuse counts `TWRecycled`.

use ustack_tcp::FourTuple;
use ustack_wire::SeqNum;

use crate::socket::SocketHandle;
use crate::stack::{Socket, Stack};
use crate::{Instant, StackConfig};

/// Whether `sock`, the connection holding `tuple`, may give it to a new outgoing connection
/// at `now`; if so, the ISS the new connection takes.
pub(crate) fn reusable(
    cfg: &StackConfig,
    now: Instant,
    tuple: FourTuple,
    sock: Option<&Socket>,
) -> Option<SeqNum> {
    let reuse = time_wait_reuse(sock);
    let loopback = tuple.local.ip().is_loopback() || tuple.remote.ip().is_loopback();
    let allowed = match cfg.tcp_tw_reuse {
        1 => true,
        2 => loopback,
        _ => false,
    };
    if !allowed {
        return None;
    }
    let (snd_nxt, since) = reuse?;
    if now.saturating_duration_since(since) <= cfg.tcp_tw_reuse_delay {
        return None;
    }
    let iss = snd_nxt + 65_537u32;
    Some(if iss == SeqNum(0) { SeqNum(1) } else { iss })
}

/// SND.NXT and when TIME-WAIT began, of a connection or record in TIME-WAIT whose peer
/// sent timestamps (`Conn::time_wait_reuse`, `TimeWait::time_wait_reuse`).
pub(crate) fn time_wait_reuse(sock: Option<&Socket>) -> Option<(SeqNum, Instant)> {
    match sock {
        Some(Socket::Tcp(t)) => t.conn.time_wait_reuse(),
        Some(Socket::TimeWait(r)) => r.tw.time_wait_reuse(),
        _ => None,
    }
}

impl Stack {
    /// Takes the 4-tuple from connection `h` in TIME-WAIT for a new outgoing connection: it
    /// leaves the demux table and closes.
    pub(crate) fn recycle_time_wait(&mut self, h: SocketHandle) {
        self.end_time_wait(h);
        self.counters.tw_recycled += 1;
    }
}
