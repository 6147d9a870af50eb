//! ustack: a userspace TCP/IP stack.
//!
//! This is the facade crate users depend on. It holds what touches the operating system:
//! [`device`]s (Linux TUN, in-memory links, pcap capture), and, as they land, the driver that
//! runs a stack over a device and the socket APIs. The protocol crates are re-exported as
//! [`wire`] (packet formats) and [`core`] (the sans-IO host stack).
//!
//! The only unsafe code of ustack is the system-call module under [`device::tun`]; the rest of
//! this crate denies `unsafe`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod device;

pub use ustack_core as core;
pub use ustack_wire as wire;

pub use device::{Device, Notify, Readiness};
