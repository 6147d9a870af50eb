//! [`ManyConnections`]: many connections at once, each carrying a few bytes.

use core::net::SocketAddr;

use super::Scenario;
use super::conn::ConnSummary;
use super::run::ScenarioRun;
use super::stream::{Received, StreamClient, StreamServer};
use crate::Instant;
use crate::link::LinkStats;

/// The client opens `connections` connections at once (the listener's backlog holds them
/// all) and sends `bytes` bytes on each; the server checks every byte of every one; each
/// closes as in a [`BulkTransfer`](super::BulkTransfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManyConnections {
    /// How many connections.
    pub connections: usize,
    /// Bytes each carries.
    pub bytes: u64,
}

impl ManyConnections {
    /// `connections` connections of `bytes` bytes each.
    pub fn new(connections: usize, bytes: u64) -> Self {
        ManyConnections { connections, bytes }
    }
}

/// What a [`ManyConnections`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ManyReport {
    /// The seed.
    pub seed: u64,
    /// The client's connections, in the order it opened them.
    pub clients: Vec<ConnSummary>,
    /// The server's connections, in the order it accepted them.
    pub servers: Vec<Received>,
    /// When the last connection's last byte was read, if every one's was.
    pub completed_at: Option<Instant>,
    /// The link: client to server, then server to client.
    pub link: [LinkStats; 2],
    /// Virtual time at the end of the run.
    pub end: Instant,
    /// Events the network ran.
    pub events: u64,
}

impl ManyReport {
    /// Server connections that read every byte they expected.
    pub fn completed(&self, bytes: u64) -> usize {
        self.servers.iter().filter(|r| r.bytes == bytes && r.complete_at.is_some()).count()
    }

    /// Retransmissions over all connections: (client, server).
    pub fn retransmits(&self) -> (u64, u64) {
        (
            self.clients.iter().map(|c| c.retransmits).sum(),
            self.servers.iter().map(|s| s.summary.retransmits).sum(),
        )
    }
}

impl Scenario for ManyConnections {
    type Client = StreamClient;
    type Server = StreamServer;
    type Report = ManyReport;

    fn client(&self, server: SocketAddr) -> StreamClient {
        StreamClient::new(server, self.connections, self.bytes)
    }

    fn server(&self, local: SocketAddr) -> StreamServer {
        StreamServer::new(local, self.connections, self.bytes)
    }

    fn report(&self, run: &ScenarioRun<Self>) -> ManyReport {
        let servers = run.server().app().received(run.server().stack());
        let all = servers.len() == self.connections;
        let completed_at = servers
            .iter()
            .map(|r| r.complete_at)
            .try_fold(Instant::ZERO, |last, t| Some(last.max(t?)))
            .filter(|_| all && self.bytes > 0);
        ManyReport {
            seed: run.seed(),
            clients: run.client().app().summaries(run.client().stack()),
            servers,
            completed_at,
            link: run.link_stats(),
            end: run.network().now(),
            events: run.network().events_run(),
        }
    }
}
