//! [`BulkTransfer`]: one connection carries N bytes from the client to the server.

use core::net::SocketAddr;

use ustack_core::Counters;

use super::Scenario;
use super::conn::ConnSummary;
use super::run::ScenarioRun;
use super::stream::{StreamClient, StreamServer};
use crate::Instant;
use crate::link::LinkStats;

/// The client connects to the server and sends `bytes` bytes; the server reads and checks
/// each of them, exactly once and in order; the client closes first (FIN after the last
/// byte), the server answers with its FIN, and the client's TIME-WAIT runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkTransfer {
    /// Bytes to carry.
    pub bytes: u64,
}

impl BulkTransfer {
    /// A transfer of `bytes` bytes.
    pub fn new(bytes: u64) -> Self {
        BulkTransfer { bytes }
    }
}

/// What a [`BulkTransfer`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BulkReport {
    /// The seed.
    pub seed: u64,
    /// Bytes to carry.
    pub bytes: u64,
    /// Bytes the server read, every one checked.
    pub delivered: u64,
    /// When the transfer started (the client's connect).
    pub start: Instant,
    /// When the server read the last byte.
    pub completed_at: Option<Instant>,
    /// When both applications were done (the client read the server's FIN): the states
    /// "at the end of the transfer".
    pub done_at: Option<Instant>,
    /// The client's connection.
    pub client: ConnSummary,
    /// The server's connection.
    pub server: ConnSummary,
    /// The link: client to server, then server to client.
    pub link: [LinkStats; 2],
    /// The client stack's counters at the end (`netstat -s`; drops by reason among them).
    pub client_counters: Counters,
    /// The server stack's counters at the end.
    pub server_counters: Counters,
    /// Virtual time at the end of the run.
    pub end: Instant,
    /// Events the network ran.
    pub events: u64,
}

impl BulkReport {
    /// From the start to the last byte read, if it was.
    pub fn completion_time(&self) -> Option<crate::Duration> {
        self.completed_at.map(|t| t - self.start)
    }

    /// Bytes delivered per second of [`completion_time`](BulkReport::completion_time), in
    /// bits per second.
    pub fn goodput_bps(&self) -> Option<f64> {
        let secs = self.completion_time()?.as_secs_f64();
        (secs > 0.0).then(|| self.delivered as f64 * 8.0 / secs)
    }
}

impl Scenario for BulkTransfer {
    type Client = StreamClient;
    type Server = StreamServer;
    type Report = BulkReport;

    fn client(&self, server: SocketAddr) -> StreamClient {
        StreamClient::new(server, 1, self.bytes)
    }

    fn server(&self, local: SocketAddr) -> StreamServer {
        StreamServer::new(local, 1, self.bytes)
    }

    fn report(&self, run: &ScenarioRun<Self>) -> BulkReport {
        let opened = run.client().app().summaries(run.client().stack());
        let accepted = run.server().app().received(run.server().stack());
        let received = accepted.first();
        let net = run.network();
        let client = opened.first().copied().unwrap_or_default();
        let server = received.map(|r| r.summary).unwrap_or_default();
        BulkReport {
            seed: run.seed(),
            bytes: self.bytes,
            delivered: received.map_or(0, |r| r.bytes),
            start: run.start(),
            completed_at: received.and_then(|r| r.complete_at),
            done_at: client.done_at.zip(server.done_at).map(|(c, s)| c.max(s)),
            client,
            server,
            link: run.link_stats(),
            client_counters: run.client().stack().counters(),
            server_counters: run.server().stack().counters(),
            end: net.now(),
            events: net.events_run(),
        }
    }
}
