//! ustack-lab: every behaviour of the TCP notes the project started from, replayed in the
//! simulator, checked, and drawn.
//!
//! A scenario ([`registry`]) builds a [`World`](world::World) of two ustack hosts on one
//! simulated link, scripts what the applications do and what the link does to chosen
//! packets ([`script`]), runs it in virtual time from a seed, and checks the run against
//! what the RFCs and Linux say must happen ([`check`]). The run's [`Trace`](trace::Trace)
//! is then drawn: a ladder diagram ([`ladder`]), the pcap of the link, the text trace, time
//! series plots for the congestion scenarios ([`plots`]), and an `index.html` that ties them
//! together ([`report`]).
//!
//! Everything but the loopback measurement (S24, real time) is deterministic: the same seed
//! gives byte-identical files.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod ladder;
mod node;
pub mod pcap;
pub mod plots;
mod recorder;
pub mod registry;
pub mod report;
pub mod scenarios;
pub mod script;
pub mod segment;
pub mod trace;
pub mod world;

pub use node::{Auto, Node};

/// The byte at offset `i` of every stream the lab writes: a pattern that finds a byte lost,
/// duplicated or out of place.
pub const fn pattern_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// `n` bytes of the pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(pattern_byte).collect()
}
