//! SYN cookies in the host (SPEC S8, RFC 4987 §3.6), as Linux's `tcp_conn_request` and
//! `cookie_v4_check` use them: when a listener's SYN queue is full (or `tcp_syncookies` is 2)
//! a SYN is answered with a SYN-ACK whose sequence number is a cookie and nothing is kept;
//! an ACK that then finds no connection is checked for a cookie and, if it holds one, opens
//! the connection straight into the accept queue. The encoding is `ustack_tcp::syncookie`'s.
//!
//! Counters (Linux names): `SyncookiesSent` per cookie SYN-ACK, `SyncookiesRecv` per valid
//! cookie, `SyncookiesFailed` per ACK that carried none while cookies were recently sent.

use std::sync::Arc;

use ustack_tcp::syncookie::{CookieOptions, VALID_SECS};
use ustack_tcp::{Conn, Duration, FourTuple};
use ustack_wire::TcpRepr;

use crate::Instant;
use crate::socket::SocketHandle;
use crate::stack::{Socket, Stack};
use crate::tcp::TcpSocket;

/// Linux `TCP_MSS_DEFAULT`: the MSS of a SYN without the option.
const MSS_DEFAULT: u16 = 536;

impl Stack {
    /// Answers `syn` on listener `lh` with a cookie SYN-ACK (Linux `cookie_init_sequence`,
    /// `tcp_make_synack` with `TCP_SYNACK_COOKIE`): no state is kept but the time, so that
    /// ACKs are checked for cookies for the next two minutes (`tcp_synq_overflow`).
    pub(crate) fn send_syn_cookie(
        &mut self,
        now: Instant,
        iface: usize,
        lh: SocketHandle,
        tuple: FourTuple,
        syn: &TcpRepr<'_>,
    ) {
        let Some(Socket::Listener(l)) = self.socket_mut(lh) else { return };
        l.last_cookie_at = Some(now);
        let tcp = *l.tcp;
        let mut peer_mss = syn.options.mss.unwrap_or(MSS_DEFAULT);
        if tcp.user_mss != 0 {
            peer_mss = peer_mss.min(tcp.user_mss);
        }
        let (iss, _) = self.syncookies.isn(now, tuple, syn.seq, peer_mss);
        let ts_offset = self.ts_offset(tuple);
        let mtu = self.iface_mtu(iface);
        let synack = Conn::cookie_synack(now, &tcp, tuple, mtu, syn, iss, ts_offset);
        self.counters.syncookies_sent += 1;
        self.queue_tcp(iface, tuple.local.ip(), tuple.remote.ip(), &synack);
    }

    /// An ACK for listener `lh` that matched no connection: if the listener sent cookies in
    /// the last two minutes and the ACK carries a valid one, the connection it stands for is
    /// created, takes the ACK (and any data in it) and waits in the accept queue (Linux
    /// `cookie_v4_check` → `tcp_get_cookie_sock`). Returns whether the ACK was consumed: a
    /// valid cookie, also when the accept queue is full and the ACK is dropped (Linux:
    /// `ListenOverflows`, no RST; the client's next segment tries again). `false` lets the
    /// listener answer with a RST.
    pub(crate) fn cookie_ack(
        &mut self,
        now: Instant,
        iface: usize,
        lh: SocketHandle,
        tuple: FourTuple,
        ack: &TcpRepr<'_>,
        ecn: ustack_tcp::Ecn,
    ) -> bool {
        let Some(Socket::Listener(l)) = self.slot(lh) else { return false };
        let recent = l.last_cookie_at.is_some_and(|at| now - at <= Duration::from_secs(VALID_SECS));
        if self.cfg.tcp_syncookies == 0 || !recent {
            return false;
        }
        let tcp = Arc::clone(&l.tcp);
        let v6 = l.v6;
        let accept_full = l.accept_queue_full();
        let Some(cookie) = self.syncookies.check(now, tuple, ack.seq, ack.ack) else {
            self.counters.syncookies_failed += 1;
            return false;
        };
        self.counters.syncookies_recv += 1;
        // Linux `cookie_timestamp_decode`: the options the TSval carried, refused when the
        // listener no longer allows them.
        let opts = match ack.options.timestamps {
            None => None,
            Some(ts) => {
                let o =
                    CookieOptions::decode_timestamp(ts.tsecr.wrapping_sub(self.ts_offset(tuple)));
                if !tcp.timestamps
                    || (o.sack && !tcp.sack)
                    || (o.wscale.is_some() && !tcp.window_scaling)
                {
                    return false;
                }
                Some(o)
            }
        };
        if accept_full {
            self.counters.tcp_listen_overflows += 1;
            self.counters.tcp_listen_drops += 1;
            return true;
        }
        let mtu = self.path_mtu(iface, tuple.remote.ip());
        let cc = Conn::default_cc(&tcp);
        let mut conn = Conn::from_cookie(now, tcp, tuple, mtu, cookie, opts, ack, cc);
        self.prepare_conn(&mut conn, self.ts_offset(tuple));
        let h = self.insert_tcp(TcpSocket {
            conn,
            listener: Some(lh),
            timer_at: None,
            iss: cookie.iss,
            flow_label: self.flow_label_for(
                tuple.local,
                tuple.remote,
                ustack_wire::IpProtocol::TCP,
            ),
            iface: crate::tcp::IfaceId::new(iface),
            ttl: match self.slot(lh) {
                Some(Socket::Listener(l)) => l.ttl.and_then(core::num::NonZeroU8::new),
                _ => None,
            },
            queued: true,
            tfo: false,
            in_accept_queue: false,
            owned: false,
            hashed: false,
            in_tx: false,
            v6,
        });
        self.hash_conn(h, tuple);
        self.counters.tcp_passive_opens += 1;
        self.tcp_mut(h).conn.handle_segment_ecn(now, ack, ecn);
        self.after_input(h);
        true
    }
}
