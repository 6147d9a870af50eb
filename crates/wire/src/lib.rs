//! ustack-wire: the bytes <-> types layer of ustack.
//!
//! IPv4 (RFC 791), IPv6 (RFC 8200) and its extension headers, ICMPv4 (RFC 792), ICMPv6
//! (RFC 4443), UDP (RFC 768) and TCP (RFC 9293). Every protocol has two levels:
//!
//! - a zero-copy checked view over a buffer (`Ipv4Packet<T>`, `Ipv6Packet<T>`, `TcpPacket<T>`,
//!   ...), built with `new_checked` on untrusted bytes; after `new_checked` succeeds no
//!   accessor panics;
//! - a plain `Repr` (`Ipv4Repr`, `Ipv6Repr`, `TcpRepr`, ...) with `parse`, `buffer_len` and
//!   `emit`, which writes into a caller's buffer and never allocates.
//!
//! TCP and UDP are address-family agnostic: their checksum functions, `parse` and `emit` take
//! the source and destination as two [`Ipv4Addr`]s or two [`Ipv6Addr`]s
//! ([`checksum::PseudoHeader`]), which pick the pseudo-header.
//!
//! **No-panic contract:** no function in this crate panics on any input bytes. Parsers return a
//! [`ParseError`] naming the reason. The only panics are caller bugs on the emit side, each
//! documented: emitting into a buffer shorter than `buffer_len()`.
//!
//! The crate is `no_std` and has no dependencies. Its one unsafe module is
//! `checksum::accel`: the checksum loop built for AVX2 and AVX-512, chosen at run time by
//! what the CPU has, and the cache prefetch hint (`checksum::prefetch`).

#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod checksum;
mod error;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6ext;
mod seq;
pub mod tcp;
pub mod udp;

pub use checksum::PseudoHeader;
pub use error::ParseError;
pub use icmpv4::{DstUnreachable, Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Packet, Icmpv6Repr};
pub use ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use ipv6ext::{ExtHeaderError, ExtHeaderLimits, Ipv6Chain, Ipv6FragRepr};
pub use seq::SeqNum;
pub use tcp::{
    FastOpenCookie, SackBlock, SackList, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps,
};
pub use udp::{UdpPacket, UdpRepr};

/// The IPv4 address type used throughout ustack.
pub use core::net::Ipv4Addr;
/// The IPv6 address type used throughout ustack.
pub use core::net::Ipv6Addr;
