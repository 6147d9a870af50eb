//! ustack-sim: a deterministic, event-driven network of simulated hosts (DESIGN.md).
//!
//! Virtual time only: a run jumps from event to event and replays exactly from its seed.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;

pub use clock::VirtualClock;
pub use ustack_core::{Duration, Instant};
