//! TIME-WAIT as a small record (Linux's `inet_timewait_sock`): a connection in TIME-WAIT
//! that nobody holds any more (the application closed it, no listener queues it) gives its
//! place in the socket table to a [`ustack_tcp::TimeWait`] record, about 150 bytes with the
//! host's fields, where the connection held 880 bytes, its congestion controller's box and
//! its scoreboard's for the 60 s of TIME-WAIT.
//!
//! The record keeps the connection's handle, its entry in the demux table (and the port it
//! holds) and its entry in the timer queue, so it is found, answers, shows in `ss` and
//! expires as the connection would have: it answers every segment with the bytes the
//! connection would have sent (`ustack_tcp::TimeWait`), the host reports the same events
//! (the trace events when tracing, `Closed` at the end) and counts the same drops. The
//! connection's counters go into the stack's when it becomes a record, as when a finished
//! connection is freed, and its box goes to the spares new connections start in.
//!
//! A connection the application still holds stays whole until the application closes it
//! (its handle reads the connection's state and counters); it becomes a record then.

use ustack_tcp::{ConnError, DropReason, Event, TcpState, TimeWait, TimeWaitInput};
use ustack_wire::TcpRepr;

use crate::Instant;
use crate::socket::SocketHandle;
use crate::stack::{Slot, Socket, SocketEventKind, Stack};
use crate::tcp::TCP_SPARE_MAX;

/// A TIME-WAIT record in the socket table: the engine's record and what the host needs to
/// send its ACKs as the connection sent them.
#[derive(Debug)]
pub(crate) struct TimeWaitSocket {
    pub(crate) tw: TimeWait,
    pub(crate) iface: crate::tcp::IfaceId,
    /// `IP_TTL` of the connection, when it had one.
    pub(crate) ttl: Option<core::num::NonZeroU8>,
    /// The flow label of its IPv6 packets (0 over IPv4).
    pub(crate) flow_label: u32,
    /// An IPv6 socket: IPv4 addresses are shown IPv4-mapped.
    pub(crate) v6: bool,
    /// The deadline of its live entry in the timer queue (as a connection's `timer_at`).
    pub(crate) timer_at: Option<Instant>,
    /// Queued in the tx-ready queue.
    pub(crate) in_tx: bool,
    /// Its end tells Fast Open's black-hole detection that a Fast Open connection worked
    /// (`Stack::fastopen_closed`): it tried Fast Open on a device and received data.
    pub(crate) fast_open_worked: bool,
}

impl Stack {
    /// After connection `h` sent all it had: if it is in TIME-WAIT, unheld, and has nothing
    /// else to do, it becomes a record.
    pub(crate) fn time_wait_record(&mut self, h: SocketHandle) {
        let slot = self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation);
        let Some(Slot { sock: Some(Socket::Tcp(t)), .. }) = slot else { return };
        if t.owned
            || t.queued
            || t.in_tx
            || !t.hashed
            || t.tfo
            || t.conn.state() != TcpState::TimeWait
        {
            return;
        }
        let Some(tw) = t.conn.time_wait() else { return };
        let record = TimeWaitSocket {
            tw,
            iface: t.iface,
            ttl: t.ttl,
            flow_label: t.flow_label,
            v6: t.v6,
            timer_at: t.timer_at,
            in_tx: false,
            fast_open_worked: t.iface.get() != Stack::LOOPBACK
                && t.conn.fast_open_attempted()
                && t.conn.stats().bytes_received > 0,
        };
        let boxed = match self.tw_spare.pop() {
            Some(mut spare) => {
                *spare = record;
                spare
            }
            None => Box::new(record),
        };
        let slot = &mut self.slots[h.index as usize];
        if let Some(Socket::Tcp(t)) = slot.sock.replace(Socket::TimeWait(boxed)) {
            self.retire_conn(t);
        }
    }

    /// A segment for record `h`.
    pub(crate) fn time_wait_segment(&mut self, now: Instant, h: SocketHandle, seg: &TcpRepr<'_>) {
        let Some(Socket::TimeWait(r)) = self.socket_mut(h) else { return };
        match r.tw.handle_segment(now, seg) {
            TimeWaitInput::Taken => {}
            TimeWaitInput::Dropped(reason) => self.time_wait_dropped(h, reason),
            TimeWaitInput::Closed => {
                self.close_time_wait(h, None);
                return;
            }
        }
        self.time_wait_ready(h);
    }

    /// An ICMP error for record `h`.
    pub(crate) fn time_wait_icmp(&mut self, h: SocketHandle) {
        let Some(Socket::TimeWait(r)) = self.socket_mut(h) else { return };
        if let TimeWaitInput::Dropped(reason) = r.tw.handle_icmp_error() {
            self.time_wait_dropped(h, reason);
        }
        self.time_wait_ready(h);
    }

    /// Record `h`'s entry in the timer queue, due at `at`, was popped at `now`.
    pub(crate) fn time_wait_timer(&mut self, now: Instant, at: Instant, h: SocketHandle) {
        let Some(Socket::TimeWait(r)) = self.socket_mut(h) else { return };
        if r.timer_at != Some(at) {
            return;
        }
        r.timer_at = None;
        if !r.tw.handle_timeout(now) {
            // Restarted by a segment since the entry was queued: queued again.
            let later = r.tw.poll_timeout();
            r.timer_at = Some(later);
            self.timers.push(later, h);
            return;
        }
        if r.tw.tracing() {
            self.push_event(
                h,
                SocketEventKind::Tcp(Event::TimerFired(ustack_tcp::TimerKind::TimeWait)),
            );
        }
        self.close_time_wait(h, None);
    }

    /// Files record `h`'s deadline in the timer queue, unless an entry as early is there.
    pub(crate) fn file_time_wait_timer(&mut self, h: SocketHandle) {
        let Some(Socket::TimeWait(r)) = self.socket_mut(h) else { return };
        let at = r.tw.poll_timeout();
        if r.timer_at.is_none_or(|queued| at < queued) {
            r.timer_at = Some(at);
            self.timers.push(at, h);
        }
    }

    /// Ends record `h`: it reaches CLOSED (`error`: `None` at the end of 2·MSL or on a RST,
    /// `Aborted` when a new connection takes the 4-tuple), reports it as the connection
    /// would have, and its slot is freed.
    pub(crate) fn close_time_wait(&mut self, h: SocketHandle, error: Option<ConnError>) {
        let Some(Socket::TimeWait(r)) = self.slot(h) else { return };
        // Out of the demux table while its slot still holds it (`crate::demux`).
        let tuple = r.tw.tuple();
        self.unhash_tuple(h, tuple);
        let Some(Socket::TimeWait(r)) = self.remove(h) else { unreachable!("read above") };
        if r.fast_open_worked && self.fastopen.disable_times > 0 {
            self.fastopen.disable_times = 0;
        }
        if r.tw.tracing() {
            let changed = Event::StateChanged { from: TcpState::TimeWait, to: TcpState::Closed };
            self.push_event(h, SocketEventKind::Tcp(changed));
        }
        self.push_event(h, SocketEventKind::Tcp(Event::Closed(error)));
        if self.tw_spare.len() < TCP_SPARE_MAX {
            self.tw_spare.push(r);
        }
    }

    fn time_wait_dropped(&mut self, h: SocketHandle, reason: DropReason) {
        self.counters.tcp_conn_drops[reason as usize] += 1;
        if let Some(Socket::TimeWait(r)) = self.slot(h)
            && r.tw.tracing()
        {
            self.push_event(h, SocketEventKind::Tcp(Event::Dropped(reason)));
        }
    }

    /// As `after_input`: the record waits in the tx-ready queue for `poll_transmit`.
    fn time_wait_ready(&mut self, h: SocketHandle) {
        if let Some(Socket::TimeWait(r)) = self.socket_mut(h)
            && !r.in_tx
        {
            r.in_tx = true;
            self.tx_ready.push_back(h);
        }
    }
}
