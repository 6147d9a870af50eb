//! TCP Fast Open in a connection (RFC 7413; SPEC S6): data in the SYN, both ways.
//!
//! - Server (passive): the listener decides (cookie, `tcp_fastopen`, its Fast Open queue) and
//!   calls [`Conn::accept_syn_data`]: the SYN's data goes into the receive buffer, the SYN-ACK
//!   acknowledges it (RFC 7413 §4.2.2: "the server [...] sends a SYN-ACK acknowledging the
//!   SYN and the data"), and the connection is reported [`Event::Connected`] at once, so the
//!   application can accept, read and even write it before the handshake completes, as on
//!   Linux, where the child goes straight into the accept queue. Until the SYN-ACK is
//!   acknowledged only the SYN-ACK is retransmitted (Linux `tcp_fastopen_synack_timer`, which
//!   allows one more retry than `synack_retries`). A listener that does not take the data but
//!   owes the client a cookie puts it in the SYN-ACK with [`Conn::set_synack_cookie`].
//! - Client (active): the host hands [`FastOpenConnect`] to [`Conn::set_fast_open`] before the
//!   SYN goes out. The first SYN carries the Fast Open option and, with a cookie, the start of
//!   what the application has sent; a retransmitted SYN carries neither (Linux: "Exclude Fast
//!   Open option for SYN retries"). Data the SYN-ACK does not acknowledge is sent again at once
//!   after the handshake (RFC 7413 §4.2.2: "the client [...] retransmits the data that is not
//!   acknowledged"). [`Conn::take_fast_open_outcome`] then tells the host what to cache.

use ustack_wire::{FastOpenCookie, TcpRepr};

use super::{Conn, Event, State, seq_len};
use crate::tfo::{FastOpenConnect, FastOpenOutcome};
use crate::{Instant, TimerKind};

/// A connection's Fast Open state.
#[derive(Debug, Clone, Copy)]
pub(super) struct FastOpen {
    /// Server: a Fast Open child, reported connected before its handshake completed.
    pub(super) passive: bool,
    /// Server: the cookie the first SYN-ACK carries.
    pub(super) synack_cookie: Option<FastOpenCookie>,
    /// Client: what the first SYN does; taken when it is sent.
    pub(super) connect: Option<FastOpenConnect>,
    /// Client: the first SYN carried a Fast Open option (Linux `syn_fastopen`).
    pub(super) attempted: bool,
    /// Client: ... in the experimental encoding (Linux `syn_fastopen_exp`).
    pub(super) experimental: bool,
    /// Client: bytes of data the first SYN carried.
    pub(super) syn_data: u32,
    /// Client: what the SYN-ACK said, for the host.
    pub(super) outcome: Option<FastOpenOutcome>,
    /// Client: retransmission timeouts of the SYN so far.
    pub(super) syn_timeouts: u32,
    /// Client: a third timeout in a row suggested a black hole, for the host.
    pub(super) blackhole: bool,
    /// The data of the SYN was acknowledged by the SYN-ACK (client) or taken with the SYN
    /// (server): Linux `syn_data_acked`, `TCPI_OPT_SYN_DATA`.
    pub(super) syn_data_acked: bool,
}

impl FastOpen {
    /// No Fast Open: what a connection without the box reads.
    const NONE: FastOpen = FastOpen {
        passive: false,
        synack_cookie: None,
        connect: None,
        attempted: false,
        experimental: false,
        syn_data: 0,
        outcome: None,
        syn_timeouts: 0,
        blackhole: false,
        syn_data_acked: false,
    };
}

impl Conn {
    /// The Fast Open state (all off when the connection never used it).
    pub(super) fn fo(&self) -> &FastOpen {
        self.fo.as_deref().unwrap_or(&FastOpen::NONE)
    }

    /// The Fast Open state to change, allocated on first use.
    pub(super) fn fo_mut(&mut self) -> &mut FastOpen {
        self.fo.get_or_insert_with(|| Box::new(FastOpen::NONE))
    }

    /// Server side: the listener accepted the data of `syn`, the SYN this connection was
    /// created from with [`Conn::accept`] (a valid cookie, or no cookie needed). Call it
    /// right after `accept`. The data becomes readable, the SYN-ACK acknowledges it, and
    /// [`Event::Connected`] is reported now, not when the handshake completes.
    pub fn accept_syn_data(&mut self, now: Instant, syn: &TcpRepr<'_>) {
        self.fo_mut().passive = true;
        // Connected first: the host queues the child for accept() before it reports the data.
        self.push_event(Event::Connected);
        if !syn.payload.is_empty() {
            let n = self.rcv.buf.push(syn.payload);
            self.rcv.nxt += n;
            self.rcv.last_ack_sent = self.rcv.nxt;
            self.rcv.adv_right = self.rcv.nxt;
            // Not `got_data`: like Linux (`tcp_fastopen_add_skb` bypasses
            // `tcp_event_data_recv`), the first data after the SYN starts quick-ACK mode.
            self.fo_mut().syn_data_acked = n > 0;
            self.signal_readable();
        }
        // Linux `tcp_fastopen_synack_timer`: "Add one more retry for fastopen".
        let retries = self.cfg.synack_retries + 1;
        let limit = self.cfg.model_timeout(retries, self.cfg.rto_initial);
        self.timers.set(TimerKind::Establish, now + limit);
    }

    /// Server side: the first SYN-ACK carries `cookie` (the client asked for one, or sent
    /// one that did not check out; RFC 7413 §4.1.2).
    pub fn set_synack_cookie(&mut self, cookie: FastOpenCookie) {
        self.fo_mut().synack_cookie = Some(cookie);
    }

    /// Client side: what the first SYN does with Fast Open. Call it before the first
    /// `poll_transmit`; data for the SYN goes in with [`Conn::send`] first.
    pub fn set_fast_open(&mut self, fo: FastOpenConnect) {
        self.fo_mut().connect = Some(fo);
    }

    /// Whether the data of the SYN was acknowledged in the handshake: sent by us and wholly
    /// acknowledged by the SYN-ACK, or received by a Fast Open listener (Linux's
    /// `TCPI_OPT_SYN_DATA`).
    pub fn syn_data_acked(&self) -> bool {
        self.fo().syn_data_acked
    }

    /// Whether this connection was accepted with Fast Open (it may still be in SYN-RECEIVED).
    pub fn is_fast_open_child(&self) -> bool {
        self.fo().passive
    }

    /// Whether the first SYN tried Fast Open (a cookie request or data with a cookie).
    pub fn fast_open_attempted(&self) -> bool {
        self.fo().attempted || self.fo().syn_data > 0
    }

    /// Client side: whether a retransmission timeout suggested that a middlebox drops Fast
    /// Open connections (once; then `false`). Linux `tcp_fastopen_active_detect_blackhole`:
    /// the third timeout in a row, of the SYN or of data, on a connection that tried Fast
    /// Open; the host then pauses active Fast Open (`tcp_fastopen_blackhole_timeout`).
    pub fn take_fast_open_blackhole(&mut self) -> bool {
        self.fo.as_mut().is_some_and(|f| core::mem::take(&mut f.blackhole))
    }

    /// Client side: a retransmission timeout (called by `on_rto` before it counts it).
    pub(super) fn fast_open_rto(&mut self) {
        if self.fo().passive || !(self.fast_open_attempted() || self.fo().syn_data_acked) {
            return;
        }
        let timeouts =
            if self.snd.syn_acked { self.snd.loss().rto_retries } else { self.fo().syn_timeouts };
        if timeouts == 2 {
            self.fo_mut().blackhole = true;
        }
        if !self.snd.syn_acked {
            self.fo_mut().syn_timeouts += 1;
        }
    }

    /// Client side: what the SYN-ACK said about Fast Open, once (then `None`).
    pub fn take_fast_open_outcome(&mut self) -> Option<FastOpenOutcome> {
        self.fo.as_mut().and_then(|f| f.outcome.take())
    }

    /// Bytes the first SYN carries, and its Fast Open option: called by `syn_segment` for a
    /// SYN in SYN-SENT. `None` data for a retransmission.
    pub(super) fn syn_fast_open(&mut self) -> (u32, Option<FastOpenCookie>) {
        let Some(fo) = self.fo.as_mut().and_then(|f| f.connect.take()) else { return (0, None) };
        let buffered = self.snd.buf.len() as u32;
        match fo {
            FastOpenConnect::RequestCookie | FastOpenConnect::RequestExperimentalCookie => {
                let experimental = fo == FastOpenConnect::RequestExperimentalCookie;
                let f = self.fo_mut();
                f.attempted = true;
                f.experimental = experimental;
                (0, Some(FastOpenCookie::request().with_experimental(experimental)))
            }
            FastOpenConnect::WithCookie { cookie, max_data } => {
                let f = self.fo_mut();
                f.attempted = true;
                f.experimental = cookie.is_experimental();
                let n = buffered.min(max_data);
                self.fo_mut().syn_data = n;
                (n, Some(cookie))
            }
            FastOpenConnect::NoCookie { max_data } => {
                let n = buffered.min(max_data);
                self.fo_mut().syn_data = n;
                (n, None)
            }
        }
    }

    /// Client side, the SYN-ACK arrived (RFC 9293 §3.10.7.3 has set SND.UNA): what of the
    /// SYN's data it acknowledged (Linux `tcp_rcv_fastopen_synack`). Data it did not
    /// acknowledge is sent again at once: SND.NXT goes back to SEG.ACK.
    pub(super) fn on_fast_open_synack(&mut self, synack: &TcpRepr<'_>) {
        if !self.fast_open_attempted() {
            return;
        }
        let data_end = self.snd.iss + 1u32 + self.fo().syn_data;
        let acked = seq_len(self.snd.iss + 1u32, synack.ack).min(self.fo().syn_data);
        let all = self.fo().syn_data > 0 && synack.ack == data_end;
        let cookie = synack.options.fast_open.filter(|c| !c.is_request());
        let outcome = FastOpenOutcome {
            cookie: cookie.filter(|_| self.fo().attempted),
            mss: synack.options.mss,
            sent_data: self.fo().syn_data > 0,
            data_acked: all,
            syn_lost: self.snd.syn_retransmitted
                && cookie.is_none()
                && self.fo().syn_data > 0
                && !all,
            unanswered_request: self.fo().attempted
                && !self.snd.syn_retransmitted
                && self.fo().syn_data == 0
                && synack.options.fast_open.is_none(),
            experimental: self.fo().experimental,
        };
        self.fo_mut().outcome = Some(outcome);
        self.fo_mut().syn_data_acked = all;
        if acked > 0 {
            self.snd.buf.consume(acked as usize);
            self.stats.bytes_acked += u64::from(acked);
        }
        if self.snd.nxt < synack.ack {
            // The SYN-ACK acknowledges the data of a SYN sent before the one retransmitted.
            self.snd.nxt = synack.ack;
        }
        if self.fo().syn_data > 0 && !all {
            // RFC 7413 §4.2.2: the data not acknowledged goes again, right after the ACK
            // (Linux marks it lost and retransmits it, `tcp_non_congestion_loss_retransmit`).
            self.snd.nxt = synack.ack.max(self.snd.iss + 1u32);
            self.snd.sb = super::send::Scoreboard::default();
        }
    }

    /// A Fast Open child sends data before its SYN-ACK is acknowledged (Linux lets a passive
    /// Fast Open socket write in SYN-RECV), after its first SYN-ACK and until that SYN-ACK
    /// times out: then only the SYN-ACK goes again until the ACK comes (Linux
    /// `tcp_retransmit_timer`: "Before we receive ACK to our SYN-ACK don't retransmit
    /// anything else").
    pub(super) fn fast_open_may_send(&self) -> bool {
        self.fo().passive
            && !self.snd.syn_acked
            && self.snd.nxt != self.snd.iss
            && !self.snd.syn_retransmitted
            && matches!(self.state, State::SynReceived { .. } | State::FinWait1 | State::CloseWait)
    }
}
