//! Reusable scenarios: applications on two simulated hosts, run to completion within bounds,
//! with a report of what happened.
//!
//! An application is a small state machine driven by its stack's events (an [`App`]); a
//! [`Scenario`] names the client's and the server's, and [`ScenarioRun`] runs them on a
//! [`Setup`] (the link, the TCP settings, the bounds) from a seed. Three come with the crate:
//!
//! - [`BulkTransfer`]: one connection carries N bytes from client to server;
//! - [`RequestResponse`]: K requests of q bytes, each answered by r bytes, on one connection;
//! - [`ManyConnections`]: M connections at once, each carrying a few bytes.
//!
//! Every byte is checked: the sender sends a pattern fixed by the connection and the offset,
//! and the receiver checks each byte it reads against it, so a byte lost, duplicated or
//! reordered by the stack is found, at its offset. Every run ends with both ends CLOSED and
//! released (the client's TIME-WAIT runs its course in virtual time) and no socket left.
//!
//! ```
//! use ustack_sim::scenario::{BulkTransfer, Scenario, Setup};
//! use ustack_sim::{Duration, LinkConfig};
//!
//! let link = LinkConfig::new().rate_bps(10_000_000).delay(Duration::from_millis(5)).loss(0.01);
//! let report = BulkTransfer::new(100_000).run(&Setup::new(link), 7)?;
//! assert_eq!(report.delivered, 100_000);
//! assert!(report.goodput_bps().unwrap() > 1e6);
//! # Ok::<(), ustack_sim::scenario::ScenarioError>(())
//! ```
//!
//! [`App`]: crate::App

use core::net::SocketAddr;

use crate::app::App;

mod bulk;
mod conn;
mod error;
mod many;
mod pattern;
mod reqresp;
mod run;
mod stream;

pub use bulk::{BulkReport, BulkTransfer};
pub use conn::ConnSummary;
pub use error::{Failure, ScenarioError, Side};
pub use many::{ManyConnections, ManyReport};
pub use reqresp::{RequestResponse, RequestResponseReport, RrClient, RrServer};
pub use run::{RunTimes, ScenarioRun, Setup};
pub use stream::{Received, StreamClient, StreamServer};

/// What a scenario's runner asks of an application.
pub trait Status {
    /// The application has done its work: everything sent, read and checked, its side of
    /// each connection closed.
    fn done(&self) -> bool;

    /// Every connection it used reached CLOSED and was released, its listener closed.
    fn finished(&self) -> bool;

    /// The first thing that went wrong, if anything did.
    fn failure(&self) -> Option<&Failure>;

    /// How far it got, in a few words, for the error of a run that hit its bounds.
    fn progress(&self) -> String;
}

/// A client application and a server application, and what their run reports.
pub trait Scenario: Sized {
    /// The application on the client host.
    type Client: App + Status + 'static;
    /// The application on the server host.
    type Server: App + Status + 'static;
    /// What a run reports.
    type Report;

    /// The client, which connects to `server`.
    fn client(&self, server: SocketAddr) -> Self::Client;

    /// The server, which listens on `local`.
    fn server(&self, local: SocketAddr) -> Self::Server;

    /// The report of a run, whether it succeeded or not.
    fn report(&self, run: &ScenarioRun<Self>) -> Self::Report;

    /// Sets the scenario up on `setup` with `seed`, runs it, and reports.
    fn run(&self, setup: &Setup, seed: u64) -> Result<Self::Report, ScenarioError> {
        let mut run = ScenarioRun::new(self, setup, seed)?;
        run.run()?;
        Ok(self.report(&run))
    }
}

/// Keeps the first failure.
fn set_failure(slot: &mut Option<Failure>, failure: Failure) {
    if slot.is_none() {
        *slot = Some(failure);
    }
}
