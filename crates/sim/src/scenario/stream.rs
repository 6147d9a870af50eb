//! One-way stream transfers: [`StreamClient`] opens connections and sends a known pattern on
//! each, [`StreamServer`] accepts them and checks every byte. [`BulkTransfer`] is one such
//! connection, [`ManyConnections`] many.
//!
//! Each connection, client side: connect; on `Connected` and `Writable`, send until the send
//! buffer is full; after the last byte, `shutdown_write` (FIN); read until the server's FIN;
//! on `Closed`, record and release. Server side: accept; on `Readable`, read and check each
//! byte against the pattern at its offset; at the client's FIN, having read exactly the
//! bytes expected, `shutdown_write`; on `Closed`, record and release; when every expected
//! connection is released, close the listener.
//!
//! [`BulkTransfer`]: super::BulkTransfer
//! [`ManyConnections`]: super::ManyConnections

use core::net::SocketAddr;
use std::collections::BTreeMap;

use ustack_core::tcp_engine::{ConnError, Event, RecvError};
use ustack_core::{Instant, SocketEvent, SocketEventKind, SocketHandle, Stack};

use super::conn::{ConnSummary, Tracked};
use super::error::{Failure, Side};
use super::{Status, pattern, set_failure};
use crate::app::App;

/// Size of the buffer the applications send from and read into.
const CHUNK: usize = 16 * 1024;

/// The pattern stream of a connection: its client port, which both ends know.
fn stream_of(client_port: u16) -> u64 {
    u64::from(client_port)
}

/// Client connection.
#[derive(Debug)]
struct Outgoing {
    t: Tracked,
    stream: u64,
    sent: u64,
    shut: bool,
}

/// Opens `connections` connections to a server and sends `bytes` on each (see the module
/// documentation).
#[derive(Debug)]
pub struct StreamClient {
    server: SocketAddr,
    connections: usize,
    bytes: u64,
    conns: Vec<Outgoing>,
    by_handle: BTreeMap<SocketHandle, usize>,
    done: usize,
    released: usize,
    failure: Option<Failure>,
    buf: Vec<u8>,
}

impl StreamClient {
    /// A client that will open `connections` connections to `server` and send `bytes` on
    /// each.
    pub fn new(server: SocketAddr, connections: usize, bytes: u64) -> Self {
        StreamClient {
            server,
            connections,
            bytes,
            conns: Vec::with_capacity(connections),
            by_handle: BTreeMap::new(),
            done: 0,
            released: 0,
            failure: None,
            buf: vec![0; CHUNK],
        }
    }

    /// Each connection, in the order it was opened.
    pub fn summaries(&self, stack: &Stack) -> Vec<ConnSummary> {
        self.conns.iter().map(|c| c.t.summary(stack)).collect()
    }

    /// Bytes the stack took, over all connections.
    pub fn bytes_sent(&self) -> u64 {
        self.conns.iter().map(|c| c.sent).sum()
    }

    fn fail(&mut self, failure: Failure) {
        set_failure(&mut self.failure, failure);
    }

    /// Sends what the send buffer takes; after the last byte, the FIN.
    fn send(&mut self, i: usize, stack: &mut Stack) {
        let c = &mut self.conns[i];
        let h = c.t.handle;
        while c.sent < self.bytes {
            let n = self.buf.len().min((self.bytes - c.sent) as usize);
            let data = pattern::run(c.stream, c.sent, n);
            match stack.tcp_send(h, data) {
                Ok(k) => {
                    c.sent += k as u64;
                    if k < data.len() {
                        // The buffer is full: `Writable` follows.
                        return;
                    }
                }
                // Full: `Writable` follows. Closed or failed: `Closed` follows.
                Err(_) => return,
            }
        }
        if !c.shut {
            c.shut = true;
            stack.tcp_shutdown_write(h);
        }
    }

    /// Reads the server's FIN: the server sends nothing else.
    fn read(&mut self, i: usize, now: Instant, stack: &mut Stack) {
        let h = self.conns[i].t.handle;
        match stack.tcp_recv(h, &mut self.buf) {
            Ok(0) => {
                let c = &mut self.conns[i];
                if c.t.is_done() {
                    return;
                }
                if !c.shut {
                    let detail = format!("the server closed after {} bytes were sent", c.sent);
                    self.fail(Failure::Data { side: Side::Client, conn: i, detail });
                    return;
                }
                c.t.mark_done(now, stack);
                self.done += 1;
            }
            Ok(n) => {
                let detail = format!("{n} bytes from the server, which sends none");
                self.fail(Failure::Data { side: Side::Client, conn: i, detail });
            }
            // Nothing yet, or failed: `Closed` follows.
            Err(RecvError::WouldBlock | RecvError::Failed(_)) => {}
        }
    }

    fn closed(&mut self, i: usize, now: Instant, stack: &mut Stack, error: Option<ConnError>) {
        let c = &mut self.conns[i];
        let failure =
            c.t.close(now, stack, error, (Side::Client, i), "closed before the transfer finished");
        self.by_handle.remove(&c.t.handle);
        self.released += 1;
        if let Some(f) = failure {
            self.fail(f);
        }
    }
}

impl App for StreamClient {
    fn start(&mut self, now: Instant, stack: &mut Stack) {
        for i in 0..self.connections {
            match stack.tcp_connect(now, None, self.server) {
                Ok(h) => {
                    let stream = stream_of(stack.tcp_conn(h).tuple().local.port());
                    self.conns.push(Outgoing { t: Tracked::new(h), stream, sent: 0, shut: false });
                    self.by_handle.insert(h, i);
                }
                Err(e) => {
                    let detail = format!("connect {i} to {} failed: {e}", self.server);
                    self.fail(Failure::Api { side: Side::Client, detail });
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, stack: &mut Stack, event: SocketEvent) {
        let Some(&i) = self.by_handle.get(&event.socket) else { return };
        match event.kind {
            SocketEventKind::Tcp(Event::Connected | Event::Writable) => self.send(i, stack),
            SocketEventKind::Tcp(Event::Readable | Event::PeerClosed) => self.read(i, now, stack),
            SocketEventKind::Tcp(Event::Closed(error)) => self.closed(i, now, stack, error),
            _ => {}
        }
    }
}

impl Status for StreamClient {
    fn done(&self) -> bool {
        self.done == self.connections
    }

    fn finished(&self) -> bool {
        self.released == self.connections
    }

    fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    fn progress(&self) -> String {
        format!(
            "client: {} of {} bytes queued, {}/{} connections done, {} closed",
            self.bytes_sent(),
            self.bytes * self.connections as u64,
            self.done,
            self.connections,
            self.released
        )
    }
}

/// Server connection.
#[derive(Debug)]
struct Incoming {
    t: Tracked,
    stream: u64,
    received: u64,
    last_byte_at: Option<Instant>,
}

/// What a [`StreamServer`] read on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Bytes read, each checked against the pattern at its offset.
    pub bytes: u64,
    /// When the last expected byte was read.
    pub complete_at: Option<Instant>,
    /// How the connection went.
    pub summary: ConnSummary,
}

/// Listens, accepts `connections` connections and checks the `bytes` each carries (see the
/// module documentation).
#[derive(Debug)]
pub struct StreamServer {
    local: SocketAddr,
    connections: usize,
    bytes: u64,
    listener: Option<SocketHandle>,
    listener_closed: bool,
    conns: Vec<Incoming>,
    by_handle: BTreeMap<SocketHandle, usize>,
    done: usize,
    released: usize,
    failure: Option<Failure>,
    buf: Vec<u8>,
}

impl StreamServer {
    /// A server that will listen on `local`, accept `connections` connections and expect
    /// `bytes` on each.
    pub fn new(local: SocketAddr, connections: usize, bytes: u64) -> Self {
        StreamServer {
            local,
            connections,
            bytes,
            listener: None,
            listener_closed: false,
            conns: Vec::with_capacity(connections),
            by_handle: BTreeMap::new(),
            done: 0,
            released: 0,
            failure: None,
            buf: vec![0; CHUNK],
        }
    }

    /// Each connection, in the order it was accepted.
    pub fn received(&self, stack: &Stack) -> Vec<Received> {
        self.conns
            .iter()
            .map(|c| Received {
                bytes: c.received,
                complete_at: c.last_byte_at,
                summary: c.t.summary(stack),
            })
            .collect()
    }

    fn fail(&mut self, failure: Failure) {
        set_failure(&mut self.failure, failure);
    }

    fn accept(&mut self, now: Instant, stack: &mut Stack, listener: SocketHandle) {
        while let Some(h) = stack.tcp_accept(listener) {
            let i = self.conns.len();
            if i == self.connections {
                let detail = format!("connection {i} accepted; {} expected", self.connections);
                self.fail(Failure::Api { side: Side::Server, detail });
                stack.tcp_abort(h);
                continue;
            }
            let stream = stream_of(stack.tcp_conn(h).tuple().remote.port());
            let t = Tracked::new(h);
            self.conns.push(Incoming { t, stream, received: 0, last_byte_at: None });
            self.by_handle.insert(h, i);
            // Data (even the FIN) may have come before the accept, and its `Readable` with it.
            self.read(i, now, stack);
        }
    }

    /// Reads and checks; at the client's FIN, sends its own.
    fn read(&mut self, i: usize, now: Instant, stack: &mut Stack) {
        let h = self.conns[i].t.handle;
        loop {
            match stack.tcp_recv(h, &mut self.buf) {
                Ok(0) => {
                    let c = &mut self.conns[i];
                    if c.t.is_done() {
                        return;
                    }
                    if c.received != self.bytes {
                        let detail =
                            format!("end of stream after {} of {} bytes", c.received, self.bytes);
                        self.fail(Failure::Data { side: Side::Server, conn: i, detail });
                        return;
                    }
                    stack.tcp_shutdown_write(h);
                    c.t.mark_done(now, stack);
                    self.done += 1;
                    return;
                }
                Ok(n) => {
                    let c = &mut self.conns[i];
                    let data = &self.buf[..n];
                    let problem = if c.received + n as u64 > self.bytes {
                        Some(format!(
                            "{} bytes past the {} expected",
                            c.received + n as u64 - self.bytes,
                            self.bytes
                        ))
                    } else {
                        pattern::first_mismatch(c.stream, c.received, data).map(|(at, want)| {
                            let got = data[(at - c.received) as usize];
                            format!("byte {at} is {got:#04x}, expected {want:#04x}")
                        })
                    };
                    if let Some(detail) = problem {
                        self.fail(Failure::Data { side: Side::Server, conn: i, detail });
                        return;
                    }
                    c.received += n as u64;
                    if c.received == self.bytes {
                        c.last_byte_at = Some(now);
                    }
                    if stack.tcp_conn(h).recv_queue() == 0 {
                        // All read: `Readable` (or `PeerClosed`) follows whatever comes next,
                        // the end of the stream included.
                        return;
                    }
                }
                Err(RecvError::WouldBlock | RecvError::Failed(_)) => return,
            }
        }
    }

    fn closed(&mut self, i: usize, now: Instant, stack: &mut Stack, error: Option<ConnError>) {
        let c = &mut self.conns[i];
        let failure =
            c.t.close(now, stack, error, (Side::Server, i), "closed before the transfer finished");
        self.by_handle.remove(&c.t.handle);
        self.released += 1;
        if let Some(f) = failure {
            self.fail(f);
        }
        if self.released == self.connections
            && let Some(l) = self.listener.take()
        {
            stack.close(now, l);
            self.listener_closed = true;
        }
    }
}

impl App for StreamServer {
    fn start(&mut self, _now: Instant, stack: &mut Stack) {
        let backlog = u32::try_from(self.connections).unwrap_or(u32::MAX);
        match stack.tcp_listen(self.local, backlog, false) {
            Ok(h) => self.listener = Some(h),
            Err(e) => {
                let detail = format!("listen on {} failed: {e}", self.local);
                self.fail(Failure::Api { side: Side::Server, detail });
            }
        }
    }

    fn on_event(&mut self, now: Instant, stack: &mut Stack, event: SocketEvent) {
        if Some(event.socket) == self.listener {
            if event.kind == SocketEventKind::AcceptReady {
                self.accept(now, stack, event.socket);
            }
            return;
        }
        let Some(&i) = self.by_handle.get(&event.socket) else { return };
        match event.kind {
            SocketEventKind::Tcp(Event::Readable | Event::PeerClosed) => self.read(i, now, stack),
            SocketEventKind::Tcp(Event::Closed(error)) => self.closed(i, now, stack, error),
            _ => {}
        }
    }
}

impl Status for StreamServer {
    fn done(&self) -> bool {
        self.done == self.connections
    }

    fn finished(&self) -> bool {
        self.released == self.connections && self.listener_closed
    }

    fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    fn progress(&self) -> String {
        let received: u64 = self.conns.iter().map(|c| c.received).sum();
        format!(
            "server: {received} of {} bytes read, {}/{} connections accepted, {} done, {} closed",
            self.bytes * self.connections as u64,
            self.conns.len(),
            self.connections,
            self.done,
            self.released
        )
    }
}
