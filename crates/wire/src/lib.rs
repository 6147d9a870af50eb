//! ustack-wire: the bytes <-> types layer of ustack.
//!
//! Every protocol has two levels:
//!
//! - a zero-copy checked view over a buffer (`Ipv4Packet<T>`, `TcpPacket<T>`, ...), built with
//!   `new_checked` on untrusted bytes; after `new_checked` succeeds no accessor panics;
//! - a plain `Repr` (`Ipv4Repr`, `TcpRepr`, ...) with `parse`, `buffer_len` and `emit`, which
//!   writes into a caller's buffer and never allocates.
//!
//! **No-panic contract:** no function in this crate panics on any input bytes. Parsers return a
//! [`ParseError`] naming the reason. The only panics are caller bugs on the emit side, each
//! documented: emitting into a buffer shorter than `buffer_len()`.
//!
//! The crate is `no_std` and has no dependencies.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod checksum;
mod error;
pub mod icmpv4;
pub mod ipv4;
mod seq;
pub mod tcp;
pub mod udp;

pub use error::ParseError;
pub use icmpv4::{DstUnreachable, Icmpv4Packet, Icmpv4Repr};
pub use ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
pub use seq::SeqNum;
pub use tcp::{
    FastOpenCookie, SackBlock, SackList, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps,
};
pub use udp::{UdpPacket, UdpRepr};

/// The IPv4 address type used throughout ustack.
pub use core::net::Ipv4Addr;
