//! TCP Fast Open in the host (SPEC S6, RFC 7413), as Linux's `tcp_fastopen.c` runs it: the
//! listener's side (which SYNs may bring data, the Fast Open queue) and the client's (the
//! cookie cache per destination, connect-with-data, black-hole detection). The connection's
//! own part is `ustack_tcp::conn`'s (`fastopen.rs` there).
//!
//! # Server
//!
//! A listener takes data in a SYN when `tcp_fastopen` has the server bit (0x2) and the
//! listener has a Fast Open queue: set with [`Stack::tcp_set_fastopen`] (`TCP_FASTOPEN`), or
//! the size of its backlog when `tcp_fastopen` has 0x400 at `listen` time. Then (Linux
//! `tcp_try_fastopen`):
//!
//! - a SYN with a valid cookie (or any SYN with data when `tcp_fastopen` has 0x200) makes a
//!   Fast Open child: the data is delivered, the SYN-ACK acknowledges it, and the child waits
//!   in the accept queue at once (`TCPFastOpenPassive`);
//! - a cookie request, or a cookie that does not check out (`TCPFastOpenPassiveFail`), gets
//!   the cookie in the SYN-ACK and a normal handshake, the data not acknowledged;
//! - a cookie made with the backup key makes a child and the SYN-ACK carries the primary
//!   key's cookie (`TCPFastOpenPassiveAltKey`).
//!
//! The Fast Open queue counts children whose handshake has not completed, plus, for 60 s,
//! accepted ones reset in it (Linux's defence against spoofed SYNs with data). A SYN that
//! finds it full gets a normal handshake (`TCPFastOpenListenOverflow`).
//!
//! # Client
//!
//! [`Stack::tcp_connect_fast_open`] is `sendto(MSG_FASTOPEN)`: with a cookie cached for the
//! destination, the SYN carries it and the first data, at most the cached MSS less 40 bytes
//! (Linux reserves the largest option space); without one, the SYN asks for a cookie and
//! carries no data. The SYN-ACK's cookie and MSS go into the cache, which outlives the
//! connection (Linux's `tcp_metrics`). Fast Open is not tried for a while when it seems not to
//! work: after repeated losses of SYNs with data to that destination (Linux: SYN losses `n > 1`
//! pause it for `60 s << n`), and host-wide after a suspected black hole
//! (`tcp_fastopen_blackhole_timeout`, off by default).

use core::net::{IpAddr, SocketAddr};
use std::collections::VecDeque;

use ustack_tcp::tfo::{
    self, CookieCheck, FastOpenConnect, FastOpenKey, FastOpenKeys, FastOpenOutcome,
};
use ustack_tcp::{Conn, Duration, FourTuple, TcpConfig};
use ustack_wire::{FastOpenCookie, TcpRepr};

use crate::hash::{self, KeyedMap};
use crate::socket::{ConnectError, SocketHandle};
use crate::stack::{Socket, Stack};
use crate::{Instant, StackConfig};

/// Destinations the client cookie cache remembers (Linux bounds `tcp_metrics` too; the
/// oldest entry goes first).
const CACHE_CAPACITY: usize = 1024;
/// Linux `MAX_TCP_OPTION_SPACE`: room a SYN with data leaves for options.
const MAX_OPTION_SPACE: u16 = 40;
/// How long an accepted Fast Open child reset in its handshake keeps its place in the
/// listener's Fast Open queue (Linux: 60 s).
const RESET_HOLD: Duration = Duration::from_secs(60);

/// A listener's Fast Open queue (Linux `fastopen_queue`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ListenerFastOpen {
    /// Its length (`TCP_FASTOPEN`); 0: off on this listener.
    pub(crate) max_qlen: u32,
    /// Children whose handshake has not completed.
    pub(crate) pending: u32,
    /// When the accepted children reset in their handshake stop counting, oldest first.
    pub(crate) reset_until: VecDeque<Instant>,
    /// Its own server keys (`TCP_FASTOPEN_KEY`), used instead of the host's.
    pub(crate) keys: Option<FastOpenKeys>,
}

impl ListenerFastOpen {
    /// A new listener's queue: its backlog when `tcp_fastopen` has both the server bit and
    /// 0x400 (Linux `inet_listen`), else off until `TCP_FASTOPEN`.
    pub(crate) fn at_listen(cfg: &StackConfig, backlog: u32) -> ListenerFastOpen {
        let all = tfo::SERVER_ENABLE | tfo::SERVER_WO_SOCKOPT;
        let max_qlen = if cfg.tcp_fastopen & all == all { backlog } else { 0 };
        ListenerFastOpen { max_qlen, ..ListenerFastOpen::default() }
    }
}

/// One destination in the client's cache (Linux `tcp_fastopen_metrics`).
#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    /// The MSS the destination announced.
    mss: Option<u16>,
    /// Its cookie.
    cookie: Option<FastOpenCookie>,
    /// SYNs with data lost in a row, and when the last was.
    syn_loss: u32,
    last_syn_loss: Instant,
    /// Linux `try_exp`: 1 after a cookie request in RFC 7413's encoding went unanswered (the
    /// next asks in the experimental one), 2 after one in the experimental encoding did too
    /// (back to RFC 7413's for good); 0 before either.
    try_exp: u8,
}

/// What the client has learned, per destination, and the host-wide black-hole state.
#[derive(Debug)]
pub(crate) struct FastOpenHost {
    /// The server key while `tcp_fastopen_key` is unset.
    default_key: FastOpenKeys,
    cache: KeyedMap<IpAddr, CacheEntry>,
    order: VecDeque<IpAddr>,
    /// Suspected black holes in a row (Linux `tfo_active_disable_times`) and the last one.
    pub(crate) disable_times: u32,
    disable_stamp: Instant,
}

impl FastOpenHost {
    pub(crate) fn new(key: [u8; 16], secret: [u8; 16]) -> FastOpenHost {
        FastOpenHost {
            default_key: FastOpenKeys::new(FastOpenKey::from_bytes(key)),
            cache: hash::map(secret, 9),
            order: VecDeque::new(),
            disable_times: 0,
            disable_stamp: Instant::ZERO,
        }
    }
}

/// What [`Stack::tcp_connect_fast_open`] did with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastOpenStart {
    /// Bytes of the data queued for the SYN (the start of it); the rest is the caller's to
    /// send once connected. 0 when the SYN carries none (a cookie request, or Fast Open not
    /// used): `sendto(MSG_FASTOPEN)` then fails with `EINPROGRESS` on a non-blocking socket.
    pub syn_data: usize,
    /// The SYN asks for a cookie (none is cached for the destination).
    pub cookie_request: bool,
}

impl Stack {
    /// Turns Fast Open on for a listener with a queue of `qlen` connections (`TCP_FASTOPEN`;
    /// 0 turns it off): clamped to `somaxconn` as Linux's `fastopen_queue_tune` does. It
    /// takes effect only while `tcp_fastopen` has the server bit (0x2).
    pub fn tcp_set_fastopen(&mut self, listener: SocketHandle, qlen: u32) {
        let somaxconn = self.cfg.somaxconn;
        match self.socket_mut(listener) {
            Some(Socket::Listener(l)) => l.fastopen.max_qlen = qlen.min(somaxconn),
            _ => panic!("{listener} is not a listener"),
        }
    }

    /// A listener's Fast Open queue length (0: off).
    pub fn tcp_fastopen_qlen(&self, listener: SocketHandle) -> u32 {
        match self.slot(listener) {
            Some(Socket::Listener(l)) => l.fastopen.max_qlen,
            _ => panic!("{listener} is not a listener"),
        }
    }

    /// Gives a listener server keys of its own (`TCP_FASTOPEN_KEY`: the primary makes its
    /// cookies, the backup is accepted too), used instead of the host's
    /// ([`Stack::tcp_fastopen_keys`]); `None` goes back to the host's. A listener restarted
    /// with the same key keeps its clients' cookies valid, and different listeners on one
    /// host may hand out different ones (Linux keeps the key in the listener's
    /// `fastopenq.ctx`).
    pub fn tcp_set_fastopen_key(&mut self, listener: SocketHandle, keys: Option<FastOpenKeys>) {
        match self.socket_mut(listener) {
            Some(Socket::Listener(l)) => l.fastopen.keys = keys,
            _ => panic!("{listener} is not a listener"),
        }
    }

    /// The keys a listener's cookies are made and checked with: its own, else the host's.
    pub fn tcp_fastopen_key(&self, listener: SocketHandle) -> FastOpenKeys {
        match self.slot(listener) {
            Some(Socket::Listener(l)) => l.fastopen.keys.unwrap_or(self.tcp_fastopen_keys()),
            _ => panic!("{listener} is not a listener"),
        }
    }

    /// The cookie and MSS the client has cached for `dest`, as `ip tcp_metrics` shows them.
    pub fn tcp_fastopen_cached(
        &self,
        dest: impl Into<IpAddr>,
    ) -> Option<(Option<FastOpenCookie>, Option<u16>)> {
        self.fastopen.cache.get(&crate::addr::canonical_ip(dest.into())).map(|e| (e.cookie, e.mss))
    }

    /// The host's server keys, for listeners without keys of their own: `tcp_fastopen_key`,
    /// or a key derived from the stack's secret.
    pub fn tcp_fastopen_keys(&self) -> FastOpenKeys {
        self.cfg.tcp_fastopen_key.unwrap_or(self.fastopen.default_key)
    }

    /// Opens a connection to `remote` whose SYN carries the start of `data` when a cookie
    /// allows it (`sendto(MSG_FASTOPEN)` / `TCP_FASTOPEN_CONNECT` then `write`; RFC 7413 §3):
    /// [`Stack::tcp_connect_with`] plus Fast Open. Returns the connection and how much of
    /// `data` went into the send buffer for the SYN; the caller sends the rest after
    /// [`ustack_tcp::Event::Connected`]. Fails with [`ConnectError::FastOpenDisabled`] when
    /// `tcp_fastopen` lacks the client bit (Linux: `EOPNOTSUPP`).
    pub fn tcp_connect_fast_open(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: impl Into<SocketAddr>,
        tcp: &TcpConfig,
        data: &[u8],
    ) -> Result<(SocketHandle, FastOpenStart), ConnectError> {
        if self.cfg.tcp_fastopen & tfo::CLIENT_ENABLE == 0 {
            return Err(ConnectError::FastOpenDisabled);
        }
        // The SYN leaves at the next `poll_transmit`: its Fast Open is set before that.
        let remote = remote.into();
        let h = self.tcp_connect_with(now, local, remote, tcp)?;
        let remote = crate::addr::canonical(remote);
        let mode = self.fastopen_mode(now, h, remote, tcp);
        let mut start = FastOpenStart { syn_data: 0, cookie_request: false };
        let t = self.tcp_mut(h);
        match mode {
            Some(FastOpenConnect::RequestCookie | FastOpenConnect::RequestExperimentalCookie) => {
                start.cookie_request = true;
            }
            Some(
                FastOpenConnect::WithCookie { max_data, .. }
                | FastOpenConnect::NoCookie { max_data },
            ) => {
                let n = data.len().min(max_data as usize);
                start.syn_data = t.conn.send(&data[..n]).unwrap_or(0);
            }
            None => {}
        }
        if let Some(mode) = mode {
            t.conn.set_fast_open(mode);
        }
        self.after_input(h);
        Ok((h, start))
    }

    /// Whether a Fast Open connect to `remote` now would put data in its SYN: a cookie is
    /// cached (or `tcp_fastopen` 0x4 needs none) and Fast Open is not paused. Linux's
    /// `TCP_FASTOPEN_CONNECT` then defers the SYN to the first write
    /// (`tcp_fastopen_defer_connect`).
    pub fn tcp_fastopen_has_cookie(&self, now: Instant, remote: impl Into<SocketAddr>) -> bool {
        let remote = crate::addr::canonical(remote.into());
        self.cfg.tcp_fastopen & tfo::CLIENT_ENABLE != 0
            && self.fastopen_paused(now, remote).is_some()
            && (self.cfg.tcp_fastopen & tfo::CLIENT_NO_COOKIE != 0
                || self.fastopen.cache.get(&remote.ip()).is_some_and(|e| e.cookie.is_some()))
    }

    /// The cache entry for `remote`, or `None` when Fast Open to it is paused: a suspected
    /// black hole, or recurring losses of SYNs with data (Linux `tcp_fastopen_cookie_check`).
    fn fastopen_paused(&self, now: Instant, remote: SocketAddr) -> Option<Option<CacheEntry>> {
        if self.fastopen_blackholed(now) {
            return None;
        }
        let entry = self.fastopen.cache.get(&remote.ip()).copied();
        if let Some(e) = entry
            && e.syn_loss > 1
            && now < e.last_syn_loss + Duration::from_secs(60u64 << e.syn_loss.min(20))
        {
            // "Recurring FO SYN losses: no cookie or data in SYN".
            return None;
        }
        Some(entry)
    }

    /// What the SYN of connection `h` to `remote` does (Linux `tcp_fastopen_cookie_check` and
    /// `tcp_send_syn_data`).
    fn fastopen_mode(
        &mut self,
        now: Instant,
        h: SocketHandle,
        remote: SocketAddr,
        tcp: &TcpConfig,
    ) -> Option<FastOpenConnect> {
        let entry = self.fastopen_paused(now, remote)?;
        // The SYN's data: the cached MSS (else our own) within the route, less the largest
        // option space, as Linux's `tcp_send_syn_data`.
        let iface = self.tcp_mut(h).iface.get();
        let mtu = self.path_mtu(iface, remote.ip());
        let headers = if remote.is_ipv6() { 60 } else { 40 };
        let mut mss = mtu.saturating_sub(headers);
        if let Some(cached) = entry.and_then(|e| e.mss) {
            mss = mss.min(cached);
        }
        if tcp.user_mss != 0 {
            mss = mss.min(tcp.user_mss);
        }
        let max_data = u32::from(mss.max(tcp.min_snd_mss).saturating_sub(MAX_OPTION_SPACE));
        if self.cfg.tcp_fastopen & tfo::CLIENT_NO_COOKIE != 0 {
            return Some(FastOpenConnect::NoCookie { max_data });
        }
        match entry.and_then(|e| e.cookie) {
            Some(cookie) => Some(FastOpenConnect::WithCookie { cookie, max_data }),
            None if entry.is_some_and(|e| e.try_exp == 1) => {
                Some(FastOpenConnect::RequestExperimentalCookie)
            }
            None => Some(FastOpenConnect::RequestCookie),
        }
    }

    /// Linux `tcp_fastopen_active_should_disable`: a suspected black hole turns active Fast
    /// Open off for `tcp_fastopen_blackhole_timeout`, doubled for each further one in a row
    /// (at most 64 times).
    fn fastopen_blackholed(&self, now: Instant) -> bool {
        let base = self.cfg.tcp_fastopen_blackhole_timeout;
        let times = self.fastopen.disable_times;
        if base.is_zero() || times == 0 {
            return false;
        }
        let multiplier = 1u32 << (times - 1).min(6);
        now < self.fastopen.disable_stamp + base.saturating_mul(multiplier)
    }

    /// A connection's handshake completed: an active Fast Open's outcome goes into the cache
    /// and the counters (Linux `tcp_rcv_fastopen_synack`, `tcp_fastopen_cache_set`).
    pub(crate) fn fastopen_connected(&mut self, h: SocketHandle) {
        let t = self.tcp_mut(h);
        let Some(outcome) = t.conn.take_fast_open_outcome() else { return };
        let dest = t.conn.tuple().remote.ip();
        self.fastopen_learn(dest, outcome);
        if outcome.data_acked {
            self.counters.tcp_fastopen_active += 1;
        } else if outcome.sent_data {
            self.counters.tcp_fastopen_active_fail += 1;
        }
    }

    /// A connection closed: an active Fast Open connection that received data proves the
    /// path works again after a black hole was suspected (Linux
    /// `tcp_fastopen_active_disable_ofo_check`, not for loopback).
    pub(crate) fn fastopen_closed(&mut self, h: SocketHandle) {
        let disabled = self.fastopen.disable_times > 0;
        let t = self.tcp_mut(h);
        if disabled
            && t.parent().is_none()
            && t.iface.get() != Stack::LOOPBACK
            && t.conn.fast_open_attempted()
            && t.conn.stats().bytes_received > 0
        {
            self.fastopen.disable_times = 0;
        }
    }

    fn fastopen_learn(&mut self, dest: IpAddr, o: FastOpenOutcome) {
        let now_entry = self.fastopen.cache.get(&dest).copied();
        let mut e = now_entry.unwrap_or(CacheEntry {
            mss: None,
            cookie: None,
            syn_loss: 0,
            last_syn_loss: Instant::ZERO,
            try_exp: 0,
        });
        if o.mss.is_some() {
            e.mss = o.mss;
        }
        if o.cookie.is_some() {
            e.cookie = o.cookie;
        } else if o.unanswered_request {
            let try_exp = if o.experimental { 2 } else { 1 };
            if try_exp > e.try_exp && e.cookie.is_none() {
                e.try_exp = try_exp;
            }
        }
        if o.syn_lost {
            e.syn_loss += 1;
            e.last_syn_loss = self.last_now;
        } else {
            e.syn_loss = 0;
        }
        if now_entry.is_none() {
            if self.fastopen.order.len() >= CACHE_CAPACITY
                && let Some(old) = self.fastopen.order.pop_front()
            {
                self.fastopen.cache.remove(&old);
            }
            self.fastopen.order.push_back(dest);
        }
        self.fastopen.cache.insert(dest, e);
    }

    /// A retransmission timeout of an active Fast Open connection suggested a black hole
    /// (Linux `tcp_fastopen_active_detect_blackhole`): active Fast Open pauses host-wide.
    pub(crate) fn fastopen_blackhole(&mut self, now: Instant) {
        if self.cfg.tcp_fastopen_blackhole_timeout.is_zero() {
            return;
        }
        self.fastopen.disable_times = self.fastopen.disable_times.saturating_add(1);
        self.fastopen.disable_stamp = now;
        self.counters.tcp_fastopen_blackhole += 1;
        self.counters.tcp_fastopen_active_fail += 1;
    }

    // ------------------------------------------------------------------------------------
    // Server
    // ------------------------------------------------------------------------------------

    /// Fast Open for a SYN that listener `lh` turned into `conn` (Linux `tcp_try_fastopen`).
    /// Returns whether `conn` became a Fast Open child (it took the data and is connected).
    pub(crate) fn fastopen_syn(
        &mut self,
        now: Instant,
        lh: SocketHandle,
        conn: &mut Conn,
        tuple: FourTuple,
        syn: &TcpRepr<'_>,
    ) -> bool {
        let foc = syn.options.fast_open;
        // The SYN-ACK's cookie goes in the encoding the SYN's option came in (Linux
        // `tcp_try_fastopen`: `valid_foc.exp = foc->exp`).
        let exp = foc.is_some_and(|c| c.is_experimental());
        if foc.is_some_and(|c| c.is_request()) {
            self.counters.tcp_fastopen_cookie_reqd += 1;
        }
        let sysctl = self.cfg.tcp_fastopen;
        let syn_data = !syn.payload.is_empty();
        if sysctl & tfo::SERVER_ENABLE == 0
            || !(syn_data || foc.is_some())
            || !self.fastopen_queue_check(now, lh)
        {
            return false;
        }
        let (client, server) = (tuple.remote.ip(), tuple.local.ip());
        let keys = self.tcp_fastopen_key(lh);
        let child = if sysctl & tfo::SERVER_COOKIE_NOT_REQD != 0 {
            true
        } else {
            match foc {
                None => false,
                Some(c) if c.is_request() => {
                    conn.set_synack_cookie(
                        keys.primary.cookie(client, server).with_experimental(exp),
                    );
                    false
                }
                Some(c) => match keys.check(&c, client, server) {
                    CookieCheck::Valid => true,
                    CookieCheck::ValidBackup => {
                        self.counters.tcp_fastopen_passive_alt_key += 1;
                        conn.set_synack_cookie(
                            keys.primary.cookie(client, server).with_experimental(exp),
                        );
                        true
                    }
                    CookieCheck::Invalid => {
                        self.counters.tcp_fastopen_passive_fail += 1;
                        conn.set_synack_cookie(
                            keys.primary.cookie(client, server).with_experimental(exp),
                        );
                        false
                    }
                },
            }
        };
        if child {
            conn.accept_syn_data(now, syn);
            self.counters.tcp_fastopen_passive += 1;
            if let Some(Socket::Listener(l)) = self.socket_mut(lh) {
                l.fastopen.pending += 1;
            }
        }
        child
    }

    /// Linux `tcp_fastopen_queue_check`: Fast Open is on for the listener and its queue has
    /// room (the oldest reset child past its 60 s makes room for one).
    fn fastopen_queue_check(&mut self, now: Instant, lh: SocketHandle) -> bool {
        let Some(Socket::Listener(l)) = self.socket_mut(lh) else { return false };
        let q = &mut l.fastopen;
        if q.max_qlen == 0 {
            return false;
        }
        if q.pending + q.reset_until.len() as u32 >= q.max_qlen {
            match q.reset_until.front() {
                Some(&until) if until <= now => {
                    q.reset_until.pop_front();
                }
                _ => {
                    self.counters.tcp_fastopen_listen_overflow += 1;
                    return false;
                }
            }
        }
        true
    }

    /// A Fast Open child of listener `tfo_listener` left its handshake: completed, or closed
    /// (`reset`: by the peer's RST). It leaves the Fast Open queue; if it was accepted and
    /// reset, its place stays taken for 60 s (Linux `reqsk_fastopen_remove`).
    pub(crate) fn fastopen_child_done(&mut self, h: SocketHandle, reset: bool) {
        let t = self.tcp_mut(h);
        let Some(lh) = t.tfo_listener() else { return };
        t.tfo = false;
        let accepted = t.owned;
        let now = self.last_now;
        if let Some(Socket::Listener(l)) = self.socket_mut(lh) {
            l.fastopen.pending = l.fastopen.pending.saturating_sub(1);
            if reset && accepted {
                l.fastopen.reset_until.push_back(now + RESET_HOLD);
            }
        }
    }
}
