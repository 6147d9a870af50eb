//! ustack-core: the sans-IO host stack (docs/host-stack.md follows a packet through it).
//!
//! [`Stack`] owns interfaces, routes, IPv4 and IPv6 (each with fragment reassembly), ICMP
//! and ICMPv6, UDP, TCP
//! listeners and the socket table, and is driven with `handle_packet` / `poll_transmit` /
//! `poll_event` / `poll_timeout` / `handle_timeout` (the call order is in [`stack`]'s
//! documentation). Like ustack-tcp it never reads a clock or a random source: [`Instant`]
//! is an argument everywhere and the secret in [`StackConfig`] keys every hash.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ustack_tcp as tcp_engine;
pub use ustack_tcp::{Duration, Instant};
pub use ustack_wire as wire;

mod addr;
mod bind;
mod challenge;
mod config;
mod counters;
mod demux;
mod fastopen;
mod frag;
mod hash;
mod icmp;
mod ipopt;
mod ipv6;
mod loopback;
mod netstat;
pub mod offload;
mod ports;
mod socket;
mod sockopt;
mod ssinfo;
pub mod stack;
pub mod steering;
mod syncookies;
pub mod sysctl;
mod tcp;
mod timerq;
mod timewait;
pub mod transparent;
mod twreuse;
mod udp;

#[cfg(test)]
mod tests;

pub use addr::{CidrParseError, IpCidr, Ipv4Cidr, Ipv6Cidr};
pub use config::{StackConfig, StackConfigError};
pub use counters::{Counters, Nstat};
pub use fastopen::FastOpenStart;
pub use ipv6::PMTU_CACHE_MAX;
pub use netstat::{Netstat, Protocol, SocketInfo};
pub use offload::{Gso, Offloads, RxMeta};
pub use socket::{BindError, ConnectError, SocketHandle, UdpRecvError, UdpSendError};
pub use sockopt::PortUse;
pub use ssinfo::{SsTimer, TcpInternals};
pub use stack::{InterfaceConfig, Route, SocketEvent, SocketEventKind, Stack, Transmit};
pub use udp::{UDP_MAX_PAYLOAD, UDP6_MAX_PAYLOAD};
