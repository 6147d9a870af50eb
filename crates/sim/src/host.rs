//! What the simulator drives: a [`Host`], named by a typed [`HostId`], plugged into links at
//! [`Endpoint`]s.

use core::any::Any;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

use ustack_core::Instant;

/// A simulated host: anything that takes IP packets and produces them, sans-IO.
///
/// The [`Network`](crate::Network) calls it in this order, always with the current virtual
/// time as `now`:
///
/// 1. one input: [`handle_packet`](Host::handle_packet) when a packet arrives, or
///    [`handle_timeout`](Host::handle_timeout) when the deadline last returned by
///    [`poll_timeout`](Host::poll_timeout) has come (or after the host was added or reached
///    through [`Network::host_mut`](crate::Network::host_mut), no input at all);
/// 2. [`poll_transmit`](Host::poll_transmit) until it returns `None`, each packet going into
///    the link on its interface;
/// 3. [`poll_timeout`](Host::poll_timeout), once, to learn the next deadline.
///
/// A host never reads a clock: `now` is always an argument.
pub trait Host {
    /// An IPv4 packet arrived on interface `iface` at `now`.
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]);

    /// The next packet to send, written into `buf`: `Some((iface, len))`, or `None` when
    /// nothing is ready. `buf` holds 65,535 bytes, the largest IPv4 packet; a `len` past it
    /// is cut to it.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)>;

    /// When [`handle_timeout`](Host::handle_timeout) must next be called, or `None` for no
    /// deadline. A deadline in the past fires at the current time.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The deadline returned by [`poll_timeout`](Host::poll_timeout) has passed.
    fn handle_timeout(&mut self, now: Instant);
}

impl<H: Host + ?Sized> Host for Box<H> {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        (**self).handle_packet(now, iface, packet);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        (**self).poll_transmit(now, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
}

/// A [`Host`] the network can hand back as its concrete type.
pub(crate) trait HostAny: Host {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Host + Any> HostAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A host in a [`Network`](crate::Network), typed by what was added, so that
/// [`Network::host`](crate::Network::host) gives back a `&T` without a cast at the call site.
///
/// Returned by [`Network::add_host`](crate::Network::add_host); only meaningful for the
/// network that returned it.
pub struct HostId<T> {
    index: usize,
    _host: PhantomData<fn() -> T>,
}

impl<T> HostId<T> {
    pub(crate) const fn new(index: usize) -> Self {
        HostId { index, _host: PhantomData }
    }

    /// The host's position in the order hosts were added, from 0.
    pub const fn index(self) -> usize {
        self.index
    }

    /// Interface `iface` of this host, an end of a link.
    pub const fn iface(self, iface: usize) -> Endpoint {
        Endpoint { host: self.index, iface }
    }
}

impl<T> Clone for HostId<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for HostId<T> {}

impl<T> PartialEq for HostId<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl<T> Eq for HostId<T> {}

impl<T> Hash for HostId<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state);
    }
}

impl<T> fmt::Debug for HostId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostId({})", self.index)
    }
}

/// One end of a link: an interface of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// The host's [`index`](HostId::index).
    pub host: usize,
    /// The interface number the host uses in `handle_packet` and `poll_transmit`.
    pub iface: usize,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host {} iface {}", self.host, self.iface)
    }
}

/// What the network saw of one host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostCounters {
    /// Packets the host returned from `poll_transmit`.
    pub transmitted: u64,
    /// Of those, packets sent on an interface no link is connected to, and so dropped.
    pub no_link: u64,
    /// Packets handed to `handle_packet`.
    pub received: u64,
    /// Calls of `handle_timeout`.
    pub timeouts: u64,
}
