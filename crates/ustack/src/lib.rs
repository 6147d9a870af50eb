//! ustack: a userspace TCP/IP stack.
//!
//! This is the facade crate users depend on. It holds what touches the operating system:
//! [`device`]s (Linux TUN, in-memory links, pcap capture), the driver that runs a stack over a
//! device ([`NetStack`]), and socket APIs shaped like `std::net` ([`TcpListener`],
//! [`TcpStream`], [`UdpSocket`], [`TcpSocket`]) and, with the `tokio` feature, like
//! `tokio::net` (`ustack::tokio`), with a hyper connector under the `hyper` feature
//! (`ustack::hyper`). The protocol crates are re-exported as [`wire`] (packet formats) and
//! [`core`] (the sans-IO host stack). `docs/api.md` in the repository compares the APIs with
//! std's and tokio's method by method.
//!
//! # Example
//!
//! Two stacks in one process, joined by an in-memory link (no root needed; a [`device::Tun`]
//! puts a stack on a real network instead), an echo server on one and a client on the other:
//!
//! ```
//! use std::io::{Read, Write};
//! use ustack::device::MemoryLink;
//! use ustack::{NetConfig, NetStack, TcpListener, TcpStream};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (dev_a, dev_b) = MemoryLink::pair(1500, 1024);
//! let a = NetStack::spawn(dev_a, NetConfig::new("10.0.0.1/24".parse()?))?;
//! let mut cfg_b = NetConfig::new("10.0.0.2/24".parse()?);
//! cfg_b.set("net.ipv4.tcp_congestion_control", "reno")?; // settings by their sysctl names
//! let b = NetStack::spawn(dev_b, cfg_b)?;
//!
//! let listener = TcpListener::bind(&b, "10.0.0.2:7")?;
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut s, _peer) = listener.accept()?;
//!     let mut buf = [0u8; 64];
//!     let n = s.read(&mut buf)?;
//!     s.write_all(&buf[..n])
//! });
//!
//! let mut c = TcpStream::connect(&a, "10.0.0.2:7")?;
//! c.write_all(b"hello, ustack")?;
//! let mut echoed = [0u8; 13];
//! c.read_exact(&mut echoed)?;
//! assert_eq!(&echoed, b"hello, ustack");
//! server.join().unwrap()?;
//! println!("{}", a.netstat()); // like ss -tan
//! # Ok(()) }
//! ```
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
