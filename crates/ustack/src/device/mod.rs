//! Devices: where IPv4 packets enter and leave a stack.
//!
//! A [`Device`] moves one IPv4 packet per call, with no link-layer header. Devices are small
//! and stack: [`PcapDevice`] wraps any device and records what passes through it.
//!
//! - [`MemoryLink::pair`]: two ends of an in-memory point-to-point link, for tests and for
//!   running two stacks in one process.
//! - [`Tun`] (Linux): a kernel TUN interface; the kernel routes a prefix into it.
//! - [`PcapDevice`] / [`PcapSink`]: capture to a pcap file Wireshark and tshark open.
//!
//! # Waiting for a device
//!
//! A driver owns a stack and a device and sleeps until the earliest of three things: the
//! device has a packet ([`Device::readiness`]), the stack's next timer is due, or the
//! application nudged it (a socket call queued data to send). [`Readiness`] says how to wait:
//!
//! - [`Readiness::Notify`]: the device signals a [`Notify`]. The driver hands a clone of the
//!   same `Arc<Notify>` to the application side, which calls [`Notify::notify`] to nudge; the
//!   driver then waits with `notify.wait_timeout(until_next_timer)`. One wait covers all three
//!   causes, and a signal sent while the driver was busy is kept, so none is lost.
//! - [`Readiness::Fd`] (Linux): a file descriptor that polls readable (`POLLIN`) when a packet
//!   waits. The driver polls it together with a descriptor of its own that the application
//!   makes readable to nudge (an eventfd or a pipe), with the timer's remaining time as the
//!   poll timeout. [`Readiness::wait_timeout`] does the single-descriptor wait.
//!
//! Either way the driver then calls [`Device::recv`] until it returns
//! [`io::ErrorKind::WouldBlock`]: readiness is a hint that something may be waiting, never a
//! count of packets.
//!
//! # Offloads
//!
//! A device may do part of the stack's work ([`Device::offloads`]): a [`Tun`] opened with
//! [`TunConfig::offload`] takes TCP packets of up to 64 KiB and cuts them into segments
//! itself (TSO), and hands over the kernel's packets of up to 64 KiB with checksums it
//! vouches for. The driver then receives with [`Device::recv_with`] and sends with
//! [`Device::send_with`], which carry that knowledge ([`RxMeta`], [`Gso`]) to and from the
//! stack ([`Stack::set_offloads`](ustack_core::Stack::set_offloads)). A device without
//! offloads needs none of this: the default methods fall back on `recv` and `send`.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

mod memory;
mod notify;
mod pcap;
#[cfg(target_os = "linux")]
pub mod tun;

pub use memory::{LinkStats, MemoryDevice, MemoryLink};
pub use notify::Notify;
pub use pcap::{PcapDevice, PcapSink};
#[cfg(target_os = "linux")]
pub use tun::{SteeringProgram, Tun, TunConfig, TunError};
pub use ustack_core::{Gso, Offloads, RxMeta};

/// A network device that carries IP packets, one per call, without a link-layer header.
///
/// Implementations never block: when nothing is waiting, or the device cannot take a packet
/// now, the call returns [`io::ErrorKind::WouldBlock`], and the driver waits on
/// [`Device::readiness`] (see the [module docs](self)).
///
/// Batched variants (`recv_batch`, `send_batch`) can join later as default methods without
/// breaking implementations.
pub trait Device {
    /// The largest IP packet, in bytes, the device carries (its MTU).
    fn mtu(&self) -> usize;

    /// Receives one packet into `buf` and returns its length.
    ///
    /// Errors:
    /// - [`io::ErrorKind::WouldBlock`]: no packet is waiting.
    /// - [`io::ErrorKind::InvalidInput`] with a [`RecvBufferTooSmall`] inside (reach it with
    ///   [`io::Error::get_ref`] and `downcast_ref`): the waiting packet is longer than `buf`.
    ///   That packet is discarded, never delivered truncated. A buffer of [`Device::mtu`]
    ///   bytes always suffices, except on a device whose [`offloads`](Device::offloads)
    ///   include TSO: it may deliver TCP packets of up to 65,535 bytes.
    /// - other kinds: the device failed.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Sends one packet.
    ///
    /// Errors:
    /// - [`io::ErrorKind::InvalidInput`]: the packet is longer than [`Device::mtu`].
    /// - [`io::ErrorKind::WouldBlock`]: the device cannot take it now; try again when the
    ///   driver next wakes. (A device may instead drop the packet like a real link's full
    ///   queue; each device documents which.)
    /// - other kinds: the device failed.
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;

    /// What a driver waits on for this device to have a packet to receive.
    fn readiness(&self) -> Readiness;

    /// What the device does for the stack (module docs, "Offloads"). By default nothing.
    fn offloads(&self) -> Offloads {
        Offloads::default()
    }

    /// [`recv`](Device::recv), with what the device knows of the packet: with offloads, a
    /// TCP packet may be longer than the MTU (pass a buffer of 65,535 bytes) and its checksum
    /// may be vouched for ([`RxMeta::checksum_verified`]) and not filled in. By default
    /// `recv`, knowing nothing.
    fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, RxMeta)> {
        self.recv(buf).map(|n| (n, RxMeta::default()))
    }

    /// [`send`](Device::send), or with a [`Gso`] a TCP packet for the device to cut into
    /// segments (only a device whose [`offloads`](Device::offloads) has TSO takes one; the
    /// stack sends one to no other). By default `send`, and
    /// [`io::ErrorKind::Unsupported`] for a packet with a `Gso`.
    fn send_with(&mut self, packet: &[u8], gso: Option<Gso>) -> io::Result<()> {
        match gso {
            None => self.send(packet),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the device does not cut packets into segments (no TSO)",
            )),
        }
    }
}

impl<D: Device + ?Sized> Device for &mut D {
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).recv(buf)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        (**self).send(packet)
    }
    fn readiness(&self) -> Readiness {
        (**self).readiness()
    }
    fn offloads(&self) -> Offloads {
        (**self).offloads()
    }
    fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, RxMeta)> {
        (**self).recv_with(buf)
    }
    fn send_with(&mut self, packet: &[u8], gso: Option<Gso>) -> io::Result<()> {
        (**self).send_with(packet, gso)
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).recv(buf)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        (**self).send(packet)
    }
    fn readiness(&self) -> Readiness {
        (**self).readiness()
    }
    fn offloads(&self) -> Offloads {
        (**self).offloads()
    }
    fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, RxMeta)> {
        (**self).recv_with(buf)
    }
    fn send_with(&mut self, packet: &[u8], gso: Option<Gso>) -> io::Result<()> {
        (**self).send_with(packet, gso)
    }
}

/// How to wait until a [`Device`] may have a packet (see the [module docs](self)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Readiness {
    /// A file descriptor that polls readable (`POLLIN`) when a packet waits. It stays valid
    /// while the device lives; the driver must not close it.
    #[cfg(target_os = "linux")]
    Fd(std::os::fd::RawFd),
    /// A [`Notify`] the device signals when a packet arrives.
    Notify(Arc<Notify>),
}

impl Readiness {
    /// Waits up to `timeout` for the device to signal. `Ok(true)`: it did (a packet may be
    /// waiting, or for [`Readiness::Notify`] someone else notified); `Ok(false)`: the time ran
    /// out, or the wait was interrupted by a signal. Either way, `recv` until `WouldBlock`.
    ///
    /// This waits on the device alone; a driver that also takes application nudges waits as
    /// the [module docs](self) describe.
    pub fn wait_timeout(&self, timeout: Duration) -> io::Result<bool> {
        match self {
            #[cfg(target_os = "linux")]
            Readiness::Fd(fd) => tun::poll_readable(*fd, timeout),
            Readiness::Notify(notify) => Ok(notify.wait_timeout(timeout)),
        }
    }
}

/// The error payload of [`Device::recv`] when the waiting packet is longer than the buffer.
/// The packet has been discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvBufferTooSmall {
    /// The length of the discarded packet.
    pub packet_len: usize,
    /// The length of the buffer passed to `recv`.
    pub buf_len: usize,
}

impl fmt::Display for RecvBufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received packet of {} bytes does not fit the {}-byte buffer and was discarded \
             (pass a buffer of at least the device MTU)",
            self.packet_len, self.buf_len
        )
    }
}

impl std::error::Error for RecvBufferTooSmall {}

impl From<RecvBufferTooSmall> for io::Error {
    fn from(e: RecvBufferTooSmall) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// The [`io::ErrorKind::InvalidInput`] error of [`Device::send`] for a packet over the MTU.
pub(crate) fn packet_too_big(len: usize, mtu: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("packet of {len} bytes exceeds the device MTU of {mtu} bytes"),
    )
}
