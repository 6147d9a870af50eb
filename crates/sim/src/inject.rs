//! Packets from nowhere: [`Inject`] wraps a [`Host`] and hands it extra packets on a schedule
//! of their own, as if they had arrived on one of its interfaces, without a link or another
//! host to send them. An [`Injector`] says when and what.
//!
//! What it is for: traffic that no host of the network sends, an attacker off the path above
//! all (spoofed segments with a connection's 4-tuple and guessed sequence numbers), or
//! background noise at a fixed rate.

use ustack_core::Instant;

use crate::config::MAX_MTU;
use crate::host::Host;

/// The most packets one [`Inject`] hands its host at one instant before it takes its
/// injector for one whose schedule never moves on.
const MAX_INJECTED_AT_ONCE: u64 = 1 << 20;

/// The packets an [`Inject`] hands its host: when the next one is due, and what it is.
///
/// The schedule may change between calls (a flood that starts once the connection it aims
/// at exists, say): reach the injector through [`Network::host_mut`](crate::Network::host_mut)
/// and [`Inject::injector_mut`], and the network reads [`next_at`](Injector::next_at) again.
pub trait Injector {
    /// When the next packet is due, or `None` for none (now, or for ever).
    fn next_at(&self) -> Option<Instant>;

    /// The packet due at `now` (`next_at()` was at or before `now`), written into `buf` (65,535
    /// bytes): returns the interface it arrives on and its length. Afterwards `next_at` must
    /// move on (a later time, `None`, or the same time for another packet due at once).
    fn inject(&mut self, now: Instant, buf: &mut [u8]) -> (usize, usize);
}

/// A host that also receives the packets of an [`Injector`].
///
/// As a [`Host`] it is its inner host, but its deadline is the earlier of the host's and the
/// injector's, and when the injector's comes it hands the host, through
/// [`Host::handle_packet`], every packet due, at the time it is due. The host cannot tell them
/// from packets that came over a link. They cross no link and no tap, and the network's
/// [`HostCounters::received`](crate::HostCounters::received) does not count them:
/// [`injected`](Inject::injected) does.
///
/// ```
/// use ustack_sim::{Host, Inject, Injector, Instant, Network, Duration};
///
/// /// One packet every millisecond until 10 ms.
/// struct Ticks(Instant);
/// impl Injector for Ticks {
///     fn next_at(&self) -> Option<Instant> {
///         (self.0 < Instant::from_millis(10)).then_some(self.0)
///     }
///     fn inject(&mut self, _: Instant, buf: &mut [u8]) -> (usize, usize) {
///         self.0 += Duration::from_millis(1);
///         buf[0] = 0x45;
///         (0, 1)
///     }
/// }
///
/// /// Remembers when packets came.
/// #[derive(Default)]
/// struct Sink(Vec<Instant>);
/// impl Host for Sink {
///     fn handle_packet(&mut self, now: Instant, _: usize, _: &[u8]) { self.0.push(now); }
///     fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<(usize, usize)> { None }
///     fn poll_timeout(&self) -> Option<Instant> { None }
///     fn handle_timeout(&mut self, _: Instant) {}
/// }
///
/// let mut net = Network::new(1);
/// let sink = net.add_host(Inject::new(Sink::default(), Ticks(Instant::ZERO)));
/// net.run_until(Instant::from_secs(1))?;
/// assert_eq!(net.host(sink).injected(), 10);
/// assert_eq!(net.host(sink).host().0[9], Instant::from_millis(9));
/// # Ok::<(), ustack_sim::RunError>(())
/// ```
#[derive(Debug)]
pub struct Inject<H, I> {
    host: H,
    injector: I,
    buf: Vec<u8>,
    injected: u64,
}

impl<H: Host, I: Injector> Inject<H, I> {
    /// `host`, which also receives the packets of `injector`.
    pub fn new(host: H, injector: I) -> Self {
        Inject { host, injector, buf: vec![0; MAX_MTU], injected: 0 }
    }

    /// The host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The host, to change. Reached through [`Network::host_mut`](crate::Network::host_mut),
    /// it is served when the network next runs.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// The injector.
    pub fn injector(&self) -> &I {
        &self.injector
    }

    /// The injector, to change its schedule. Reached through
    /// [`Network::host_mut`](crate::Network::host_mut), its new deadline counts when the
    /// network next runs.
    pub fn injector_mut(&mut self) -> &mut I {
        &mut self.injector
    }

    /// Packets handed to the host so far.
    pub fn injected(&self) -> u64 {
        self.injected
    }

    /// The host and the injector.
    pub fn into_parts(self) -> (H, I) {
        (self.host, self.injector)
    }
}

impl<H: Host, I: Injector> Host for Inject<H, I> {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.host.handle_packet(now, iface, packet);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.host.poll_transmit(now, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.host.poll_timeout(), self.injector.next_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.host.poll_timeout().is_some_and(|at| at <= now) {
            self.host.handle_timeout(now);
        }
        let mut at_once = 0u64;
        while self.injector.next_at().is_some_and(|at| at <= now) {
            at_once += 1;
            assert!(
                at_once <= MAX_INJECTED_AT_ONCE,
                "the injector had {MAX_INJECTED_AT_ONCE} packets due at {now}: its schedule \
                 does not move on"
            );
            let (iface, len) = self.injector.inject(now, &mut self.buf);
            self.injected += 1;
            self.host.handle_packet(now, iface, &self.buf[..len.min(MAX_MTU)]);
        }
    }
}
