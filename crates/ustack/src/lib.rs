//! ustack: a userspace TCP/IP stack.
//!
//! This is the facade crate users depend on. It holds what touches the operating system:
//! [`device`]s (Linux TUN, in-memory links, pcap capture), the driver that runs a stack over a
//! device ([`NetStack`]) and the socket APIs shaped like `std::net` ([`net`]). The protocol crates are re-exported as
//! [`wire`] (packet formats) and [`core`] (the sans-IO host stack).
//!
//! The only unsafe code of ustack is the system-call module under [`device::tun`]; the rest of
//! this crate denies `unsafe`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod device;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod net;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use ustack_core as core;
pub use ustack_wire as wire;

pub use device::{Device, Notify, Readiness};
pub use net::{
    ListenOptions, NetConfig, NetStack, SettingError, TcpListener, TcpSocket, TcpStream, UdpSocket,
};
