//! ustack-core: the sans-IO host stack (DESIGN.md "Inbound packet", "Outbound write").
//!
//! It owns interfaces, routes, IPv4, ICMP, UDP, TCP listeners and the socket table, and is
//! driven with `handle_packet` / `poll_transmit` / `poll_timeout` / `handle_timeout`. Like
//! ustack-tcp it never reads a clock: [`Instant`] is an argument everywhere.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ustack_tcp::{Duration, Instant};
pub use ustack_wire as wire;

mod addr;

pub use addr::{CidrParseError, Ipv4Cidr};
