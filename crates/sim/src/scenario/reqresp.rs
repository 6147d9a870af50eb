//! [`RequestResponse`]: requests answered by responses, one at a time, on one connection.
//!
//! Client: connect; send request k (its bytes the pattern of stream 2k); read response k
//! (stream 2k+1), checking each byte; then request k+1. After the last response,
//! `shutdown_write`, read the server's FIN, release at CLOSED. Server: accept one
//! connection; read request k exactly (never past it), checking each byte; send response k;
//! at the client's FIN after the last request, `shutdown_write`; release at CLOSED, then
//! close the listener.

use core::net::SocketAddr;

use ustack_core::tcp_engine::{ConnError, Event};
use ustack_core::{Instant, SocketEvent, SocketEventKind, SocketHandle, Stack};

use super::conn::{ConnSummary, Tracked};
use super::error::{Failure, Side};
use super::run::ScenarioRun;
use super::{Scenario, Status, pattern, set_failure};
use crate::Duration;
use crate::app::App;
use crate::link::LinkStats;

const CHUNK: usize = 16 * 1024;

fn request_stream(k: usize) -> u64 {
    2 * k as u64
}

fn response_stream(k: usize) -> u64 {
    2 * k as u64 + 1
}

/// `requests` requests of `request_bytes` bytes, each answered by `response_bytes` bytes
/// before the next is sent (no pipelining), on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestResponse {
    /// How many requests.
    pub requests: usize,
    /// Bytes in each request, at least 1.
    pub request_bytes: u64,
    /// Bytes in each response, at least 1.
    pub response_bytes: u64,
    /// `TCP_NODELAY` on both ends (default true, as request-response protocols set it:
    /// with Nagle on, a response's last partial segment waits for the client's delayed ACK).
    pub nodelay: bool,
}

impl RequestResponse {
    /// `requests` exchanges of `request_bytes` then `response_bytes`, with `TCP_NODELAY`.
    ///
    /// # Panics
    ///
    /// If a request or a response is empty: the other end could not tell it came.
    pub fn new(requests: usize, request_bytes: u64, response_bytes: u64) -> Self {
        assert!(request_bytes > 0 && response_bytes > 0, "requests and responses carry bytes");
        RequestResponse { requests, request_bytes, response_bytes, nodelay: true }
    }

    /// Sets `TCP_NODELAY` on both ends.
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }
}

/// Sends from `sent` up to `len` bytes of `stream` as the send buffer takes them, at most
/// `chunk` per call; returns the new `sent`.
fn send_pattern(
    stack: &mut Stack,
    h: SocketHandle,
    chunk: usize,
    stream: u64,
    mut sent: u64,
    len: u64,
) -> u64 {
    while sent < len {
        let data = pattern::run(stream, sent, chunk.min((len - sent) as usize));
        match stack.tcp_send(h, data) {
            Ok(k) => {
                sent += k as u64;
                if k < data.len() {
                    // The buffer is full: `Writable` follows.
                    break;
                }
            }
            // Full: `Writable` follows. Closed or failed: `Closed` follows.
            Err(_) => break,
        }
    }
    sent
}

/// Checks `data`, read at `offset` of `stream`.
fn check(stream: u64, offset: u64, data: &[u8], what: &str, k: usize) -> Result<(), String> {
    match pattern::first_mismatch(stream, offset, data) {
        None => Ok(()),
        Some((at, want)) => Err(format!(
            "{what} {k}: byte {at} is {:#04x}, expected {want:#04x}",
            data[(at - offset) as usize]
        )),
    }
}

/// The client of a [`RequestResponse`].
#[derive(Debug)]
pub struct RrClient {
    server: SocketAddr,
    spec: RequestResponse,
    conn: Option<Tracked>,
    /// The exchange under way.
    k: usize,
    req_sent: u64,
    resp_read: u64,
    sent_at: Instant,
    shut: bool,
    latencies: Vec<Duration>,
    last_response_at: Option<Instant>,
    failure: Option<Failure>,
    buf: Vec<u8>,
}

impl RrClient {
    /// A client of `spec`, connecting to `server`.
    pub fn new(server: SocketAddr, spec: RequestResponse) -> Self {
        RrClient {
            server,
            spec,
            conn: None,
            k: 0,
            req_sent: 0,
            resp_read: 0,
            sent_at: Instant::ZERO,
            shut: false,
            latencies: Vec::new(),
            last_response_at: None,
            failure: None,
            buf: vec![0; CHUNK],
        }
    }

    /// For each response read in full, the time from its request's first byte queued.
    pub fn latencies(&self) -> &[Duration] {
        &self.latencies
    }

    /// When the last response was read in full.
    pub fn last_response_at(&self) -> Option<Instant> {
        self.last_response_at
    }

    /// The connection.
    pub fn summary(&self, stack: &Stack) -> ConnSummary {
        self.conn.as_ref().map(|t| t.summary(stack)).unwrap_or_default()
    }

    fn fail(&mut self, detail: String) {
        set_failure(&mut self.failure, Failure::Data { side: Side::Client, conn: 0, detail });
    }

    fn pump(&mut self, now: Instant, stack: &mut Stack) {
        let Some(t) = &self.conn else { return };
        if t.is_released() || t.is_done() || self.failure.is_some() {
            return;
        }
        let h = t.handle;
        let spec = self.spec;
        loop {
            if self.k < spec.requests {
                if self.req_sent < spec.request_bytes {
                    if self.req_sent == 0 {
                        self.sent_at = now;
                    }
                    let stream = request_stream(self.k);
                    self.req_sent = send_pattern(
                        stack,
                        h,
                        self.buf.len(),
                        stream,
                        self.req_sent,
                        spec.request_bytes,
                    );
                    if self.req_sent < spec.request_bytes {
                        return;
                    }
                }
            } else if !self.shut {
                self.shut = true;
                stack.tcp_shutdown_write(h);
            }
            let want = if self.k < spec.requests {
                ((spec.response_bytes - self.resp_read) as usize).min(self.buf.len())
            } else {
                self.buf.len()
            };
            match stack.tcp_recv(h, &mut self.buf[..want]) {
                Ok(0) => {
                    if self.k < spec.requests {
                        let k = self.k;
                        self.fail(format!("end of stream in exchange {k} of {}", spec.requests));
                    } else if let Some(t) = &mut self.conn {
                        t.mark_done(now, stack);
                    }
                    return;
                }
                Ok(n) => {
                    if self.k >= spec.requests {
                        self.fail(format!("{n} bytes after the last response"));
                        return;
                    }
                    let (stream, at) = (response_stream(self.k), self.resp_read);
                    if let Err(detail) = check(stream, at, &self.buf[..n], "response", self.k) {
                        self.fail(detail);
                        return;
                    }
                    self.resp_read += n as u64;
                    if self.resp_read == spec.response_bytes {
                        self.latencies.push(now - self.sent_at);
                        self.k += 1;
                        self.req_sent = 0;
                        self.resp_read = 0;
                        if self.k == spec.requests {
                            self.last_response_at = Some(now);
                        }
                    }
                }
                Err(_) => return,
            }
        }
    }

    fn closed(&mut self, now: Instant, stack: &mut Stack, error: Option<ConnError>) {
        let Some(t) = &mut self.conn else { return };
        if let Some(f) =
            t.close(now, stack, error, (Side::Client, 0), "closed before the last response")
        {
            set_failure(&mut self.failure, f);
        }
    }
}

impl App for RrClient {
    fn start(&mut self, now: Instant, stack: &mut Stack) {
        match stack.tcp_connect(now, None, self.server) {
            Ok(h) => {
                stack.tcp_set_nodelay(h, self.spec.nodelay);
                self.conn = Some(Tracked::new(h));
            }
            Err(e) => {
                let detail = format!("connect to {} failed: {e}", self.server);
                set_failure(&mut self.failure, Failure::Api { side: Side::Client, detail });
            }
        }
    }

    fn on_event(&mut self, now: Instant, stack: &mut Stack, event: SocketEvent) {
        let Some(t) = &self.conn else { return };
        if t.handle != event.socket || t.is_released() {
            return;
        }
        match event.kind {
            SocketEventKind::Tcp(Event::Closed(error)) => self.closed(now, stack, error),
            SocketEventKind::Tcp(
                Event::Connected | Event::Writable | Event::Readable | Event::PeerClosed,
            ) => self.pump(now, stack),
            _ => {}
        }
    }
}

impl Status for RrClient {
    fn done(&self) -> bool {
        self.conn.as_ref().is_some_and(Tracked::is_done)
    }

    fn finished(&self) -> bool {
        self.conn.as_ref().is_some_and(Tracked::is_released)
    }

    fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    fn progress(&self) -> String {
        format!(
            "client: {} of {} responses read, request {} bytes queued, response {} bytes read",
            self.latencies.len(),
            self.spec.requests,
            self.req_sent,
            self.resp_read
        )
    }
}

/// The server of a [`RequestResponse`].
#[derive(Debug)]
pub struct RrServer {
    local: SocketAddr,
    spec: RequestResponse,
    listener: Option<SocketHandle>,
    listener_closed: bool,
    conn: Option<Tracked>,
    k: usize,
    req_read: u64,
    responding: bool,
    resp_sent: u64,
    failure: Option<Failure>,
    buf: Vec<u8>,
}

impl RrServer {
    /// A server of `spec`, listening on `local`.
    pub fn new(local: SocketAddr, spec: RequestResponse) -> Self {
        RrServer {
            local,
            spec,
            listener: None,
            listener_closed: false,
            conn: None,
            k: 0,
            req_read: 0,
            responding: false,
            resp_sent: 0,
            failure: None,
            buf: vec![0; CHUNK],
        }
    }

    /// Responses queued in full.
    pub fn answered(&self) -> usize {
        self.k
    }

    /// The connection.
    pub fn summary(&self, stack: &Stack) -> ConnSummary {
        self.conn.as_ref().map(|t| t.summary(stack)).unwrap_or_default()
    }

    fn fail(&mut self, detail: String) {
        set_failure(&mut self.failure, Failure::Data { side: Side::Server, conn: 0, detail });
    }

    fn pump(&mut self, now: Instant, stack: &mut Stack) {
        let Some(t) = &self.conn else { return };
        if t.is_released() || t.is_done() || self.failure.is_some() {
            return;
        }
        let h = t.handle;
        let spec = self.spec;
        loop {
            if self.responding {
                let stream = response_stream(self.k);
                self.resp_sent = send_pattern(
                    stack,
                    h,
                    self.buf.len(),
                    stream,
                    self.resp_sent,
                    spec.response_bytes,
                );
                if self.resp_sent < spec.response_bytes {
                    return;
                }
                self.responding = false;
                self.k += 1;
                self.req_read = 0;
            }
            let want = if self.k < spec.requests {
                ((spec.request_bytes - self.req_read) as usize).min(self.buf.len())
            } else {
                self.buf.len()
            };
            match stack.tcp_recv(h, &mut self.buf[..want]) {
                Ok(0) => {
                    if self.k < spec.requests {
                        let (k, read) = (self.k, self.req_read);
                        self.fail(format!("end of stream in request {k} after {read} bytes"));
                    } else {
                        stack.tcp_shutdown_write(h);
                        if let Some(t) = &mut self.conn {
                            t.mark_done(now, stack);
                        }
                    }
                    return;
                }
                Ok(n) => {
                    if self.k >= spec.requests {
                        self.fail(format!("{n} bytes after the last request"));
                        return;
                    }
                    let (stream, at) = (request_stream(self.k), self.req_read);
                    if let Err(detail) = check(stream, at, &self.buf[..n], "request", self.k) {
                        self.fail(detail);
                        return;
                    }
                    self.req_read += n as u64;
                    if self.req_read == spec.request_bytes {
                        self.responding = true;
                        self.resp_sent = 0;
                    }
                }
                Err(_) => return,
            }
        }
    }

    fn closed(&mut self, now: Instant, stack: &mut Stack, error: Option<ConnError>) {
        let Some(t) = &mut self.conn else { return };
        if let Some(f) =
            t.close(now, stack, error, (Side::Server, 0), "closed before the last request")
        {
            set_failure(&mut self.failure, f);
        }
        if let Some(l) = self.listener.take() {
            stack.close(now, l);
            self.listener_closed = true;
        }
    }
}

impl App for RrServer {
    fn start(&mut self, _now: Instant, stack: &mut Stack) {
        match stack.tcp_listen(self.local, 1, false) {
            Ok(h) => self.listener = Some(h),
            Err(e) => {
                let detail = format!("listen on {} failed: {e}", self.local);
                set_failure(&mut self.failure, Failure::Api { side: Side::Server, detail });
            }
        }
    }

    fn on_event(&mut self, now: Instant, stack: &mut Stack, event: SocketEvent) {
        if Some(event.socket) == self.listener {
            while let Some(h) = stack.tcp_accept(event.socket) {
                if self.conn.is_some() {
                    stack.tcp_abort(h);
                    let detail = "a second connection".to_string();
                    set_failure(&mut self.failure, Failure::Api { side: Side::Server, detail });
                    continue;
                }
                stack.tcp_set_nodelay(h, self.spec.nodelay);
                self.conn = Some(Tracked::new(h));
                self.pump(now, stack);
            }
            return;
        }
        let Some(t) = &self.conn else { return };
        if t.handle != event.socket || t.is_released() {
            return;
        }
        match event.kind {
            SocketEventKind::Tcp(Event::Closed(error)) => self.closed(now, stack, error),
            SocketEventKind::Tcp(Event::Writable | Event::Readable | Event::PeerClosed) => {
                self.pump(now, stack);
            }
            _ => {}
        }
    }
}

impl Status for RrServer {
    fn done(&self) -> bool {
        self.conn.as_ref().is_some_and(Tracked::is_done)
    }

    fn finished(&self) -> bool {
        self.conn.as_ref().is_some_and(Tracked::is_released) && self.listener_closed
    }

    fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    fn progress(&self) -> String {
        format!(
            "server: {} of {} responses queued, request {} bytes read",
            self.k, self.spec.requests, self.req_read
        )
    }
}

/// What a [`RequestResponse`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestResponseReport {
    /// The seed.
    pub seed: u64,
    /// For each exchange completed, from its request's first byte to its response's last.
    pub latencies: Vec<Duration>,
    /// When the client read the last response.
    pub completed_at: Option<Instant>,
    /// The client's connection.
    pub client: ConnSummary,
    /// The server's connection.
    pub server: ConnSummary,
    /// The link: client to server, then server to client.
    pub link: [LinkStats; 2],
    /// Virtual time at the end of the run.
    pub end: Instant,
    /// Events the network ran.
    pub events: u64,
}

impl RequestResponseReport {
    /// The mean of the latencies.
    pub fn mean_latency(&self) -> Option<Duration> {
        let n = u32::try_from(self.latencies.len()).ok().filter(|&n| n > 0)?;
        Some(self.latencies.iter().sum::<Duration>() / n)
    }

    /// The longest latency.
    pub fn max_latency(&self) -> Option<Duration> {
        self.latencies.iter().max().copied()
    }
}

impl Scenario for RequestResponse {
    type Client = RrClient;
    type Server = RrServer;
    type Report = RequestResponseReport;

    fn client(&self, server: SocketAddr) -> RrClient {
        RrClient::new(server, *self)
    }

    fn server(&self, local: SocketAddr) -> RrServer {
        RrServer::new(local, *self)
    }

    fn report(&self, run: &ScenarioRun<Self>) -> RequestResponseReport {
        let client = run.client().app();
        let latencies = client.latencies().to_vec();
        RequestResponseReport {
            seed: run.seed(),
            completed_at: client.last_response_at(),
            latencies,
            client: client.summary(run.client().stack()),
            server: run.server().app().summary(run.server().stack()),
            link: run.link_stats(),
            end: run.network().now(),
            events: run.network().events_run(),
        }
    }
}
