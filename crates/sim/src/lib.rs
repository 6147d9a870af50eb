//! ustack-sim: a deterministic, event-driven network of simulated hosts (docs/simulator.md).
//!
//! Virtual time only: a run jumps from event to event and replays exactly from its seed.
//!
//! - [`Host`]: what the network drives, sans-IO (a `Stack`, or a test fixture).
//! - [`Network`]: hosts joined by point-to-point links; [`step`](Network::step),
//!   [`run_until`](Network::run_until), [`run_while`](Network::run_while) within [`Bounds`].
//! - [`LinkConfig`]: rate, propagation delay, drop-tail queue, MTU, and the impairments
//!   (random loss, bursty loss per packet ([`GilbertElliott`]) or in time ([`TimedBursts`]),
//!   duplication, jitter, reordering, corruption, timed partitions), applied in the fixed order its
//!   documentation lists.
//! - [`LinkStats`]: per link direction, what was sent, delivered, and dropped and why.
//! - [`LinkModel`]: one link direction on its own, for a driver with its own packets and
//!   clock (`ustack netem` runs it in real time between two network namespaces).
//! - [`Inject`]: a host wrapper that hands its host extra packets on a schedule of their own
//!   (an [`Injector`]), e.g. a flood of spoofed segments from off the path.
//! - Per-link pcap taps ([`Network::tap`], [`TapPoint`]) with virtual timestamps.
//! - Hosts running ustack: a [`Stack`](ustack_core::Stack) is a [`Host`]; a [`SimHost`] runs
//!   an [`App`] (a state machine driven by the stack's socket events) on one, and
//!   [`Network::derive_secret`] gives each stack a secret that follows from the seed.
//! - [`scenario`]: reusable two-host scenarios (bulk transfer, request/response, many
//!   connections), checked byte by byte, bounded, and reported.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod app;
mod clock;
mod config;
mod event;
mod host;
mod impair;
mod inject;
mod link;
mod net;
mod pcap;
mod rng;
mod run;
pub mod scenario;
mod stack_host;

pub use app::{App, SimHost};
pub use clock::VirtualClock;
pub use config::{
    GilbertElliott, LinkConfig, LinkConfigError, MAX_MTU, Partition, QueueLimit, Reorder,
    TimedBursts,
};
pub use host::{Endpoint, Host, HostCounters, HostId};
pub use inject::{Inject, Injector};
pub use link::{Delivery, Direction, Drops, LinkId, LinkModel, LinkStats};
pub use net::{ConnectError, Network};
pub use pcap::{TapId, TapPoint};
pub use run::{Bounds, RunError, RunSummary};
pub use ustack_core::{Duration, Instant};
