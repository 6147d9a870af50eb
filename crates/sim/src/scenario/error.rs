//! What can go wrong in a scenario, always with the seed that replays it.

use core::fmt;

use ustack_core::tcp_engine::ConnError;

use crate::run::RunError;
use crate::{ConnectError, Instant};

/// Which host of a two-host scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The host that opens the connections.
    Client,
    /// The host that listens.
    Server,
}

impl Side {
    /// `"client"` or `"server"`.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an application found wrong: the first problem it met.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A connection closed on an error.
    Conn {
        /// Where.
        side: Side,
        /// The connection, numbered from 0 in the order the application opened or accepted it.
        conn: usize,
        /// The error.
        error: ConnError,
        /// When the application learnt of it.
        at: Instant,
    },
    /// The bytes read were not the bytes sent: a byte differs, is missing, or is extra.
    Data {
        /// Where they were read.
        side: Side,
        /// The connection, as in [`Failure::Conn`].
        conn: usize,
        /// What differs, at which offset.
        detail: String,
    },
    /// A socket call failed where it cannot in a correct run (a listen, a connect).
    Api {
        /// Where.
        side: Side,
        /// What failed and why.
        detail: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Conn { side, conn, error, at } => {
                write!(f, "{side} connection {conn} closed at {at}: {error}")
            }
            Failure::Data { side, conn, detail } => {
                write!(f, "{side} connection {conn} read wrong data: {detail}")
            }
            Failure::Api { side, detail } => write!(f, "{side}: {detail}"),
        }
    }
}

/// Why a scenario did not complete. Every variant names the seed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The link could not be set up.
    Setup {
        /// The seed.
        seed: u64,
        /// What was refused.
        error: ConnectError,
    },
    /// The run hit a bound (virtual time or events) or stalled before the applications were
    /// done (`phase` "transfer") or had closed every socket (`phase` "close").
    Bound {
        /// `"transfer"` or `"close"`.
        phase: &'static str,
        /// The bound hit; it carries the seed.
        error: RunError,
        /// How far each application got.
        progress: String,
    },
    /// An application met a failure.
    Failed {
        /// The seed.
        seed: u64,
        /// What went wrong.
        failure: Failure,
    },
    /// Both applications finished but sockets are left on a host.
    Leak {
        /// The seed.
        seed: u64,
        /// Which host.
        side: Side,
        /// How many sockets are left.
        sockets: usize,
        /// The host's socket table, as `ss` shows it.
        netstat: String,
    },
}

impl ScenarioError {
    /// The seed that replays the failure.
    pub fn seed(&self) -> u64 {
        match self {
            ScenarioError::Setup { seed, .. }
            | ScenarioError::Failed { seed, .. }
            | ScenarioError::Leak { seed, .. } => *seed,
            ScenarioError::Bound { error, .. } => error.seed(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Setup { seed, error } => write!(f, "seed {seed}: {error}"),
            ScenarioError::Bound { phase, error, progress } => {
                write!(f, "{phase} did not finish: {error}; {progress}")
            }
            ScenarioError::Failed { seed, failure } => write!(f, "seed {seed}: {failure}"),
            ScenarioError::Leak { seed, side, sockets, netstat } => write!(
                f,
                "seed {seed}: {sockets} socket(s) left on the {side} after the run:\n{netstat}"
            ),
        }
    }
}

impl std::error::Error for ScenarioError {}
