//! One connection as a scenario's application tracks it: its handle, and what the report says
//! about it.

use ustack_core::tcp_engine::{ConnError, TcpState};
use ustack_core::{Instant, SocketHandle, Stack};

use super::{Failure, Side};

/// How one connection went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnSummary {
    /// Its state when the application had done its part (sent and read all it meant to and
    /// closed its side), or `None` if it never got there.
    pub state_at_done: Option<TcpState>,
    /// When that was.
    pub done_at: Option<Instant>,
    /// Its state at the end of the run: CLOSED once the connection closed and the
    /// application released it, else the state it was left in.
    pub state_at_end: Option<TcpState>,
    /// When it reached CLOSED.
    pub closed_at: Option<Instant>,
    /// The error it closed on.
    pub error: Option<ConnError>,
    /// Segments it sent again (`ConnStats::retransmits`).
    pub retransmits: u64,
}

/// A connection the application holds.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) handle: SocketHandle,
    summary: ConnSummary,
    released: bool,
}

impl Tracked {
    pub(crate) fn new(handle: SocketHandle) -> Self {
        Tracked { handle, summary: ConnSummary::default(), released: false }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.summary.done_at.is_some()
    }

    pub(crate) fn is_released(&self) -> bool {
        self.released
    }

    /// The application has done its part.
    pub(crate) fn mark_done(&mut self, now: Instant, stack: &Stack) {
        let conn = stack.tcp_conn(self.handle);
        self.summary.state_at_done = Some(conn.state());
        self.summary.done_at = Some(now);
        self.summary.retransmits = conn.stats().retransmits;
    }

    /// The connection reached CLOSED: record how, release it, and say what went wrong if it
    /// closed on an error or before the application had done its part (`unfinished` says
    /// what was missing). `side` and `conn` name it in the failure.
    pub(crate) fn close(
        &mut self,
        now: Instant,
        stack: &mut Stack,
        error: Option<ConnError>,
        (side, conn): (Side, usize),
        unfinished: &str,
    ) -> Option<Failure> {
        let done = self.is_done();
        self.record_close(now, stack, error);
        match error {
            Some(error) => Some(Failure::Conn { side, conn, error, at: now }),
            None if !done => Some(Failure::Data { side, conn, detail: unfinished.to_string() }),
            None => None,
        }
    }

    fn record_close(&mut self, now: Instant, stack: &mut Stack, error: Option<ConnError>) {
        let conn = stack.tcp_conn(self.handle);
        self.summary.state_at_end = Some(conn.state());
        self.summary.closed_at = Some(now);
        self.summary.error = error;
        self.summary.retransmits = conn.stats().retransmits;
        stack.close(now, self.handle);
        self.released = true;
    }

    /// The summary, with the state and counters of the connection if it is still alive.
    pub(crate) fn summary(&self, stack: &Stack) -> ConnSummary {
        let mut s = self.summary;
        if !self.released && stack.contains(self.handle) {
            let conn = stack.tcp_conn(self.handle);
            s.state_at_end = Some(conn.state());
            s.retransmits = conn.stats().retransmits;
            s.error = s.error.or(conn.error());
        }
        s
    }
}
