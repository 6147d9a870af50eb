//! [`Network`]: hosts, links, taps and the event loop.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use ustack_core::{Duration, Instant};

use crate::clock::VirtualClock;
use crate::config::{LinkConfig, LinkConfigError, MAX_MTU};
use crate::event::{EventKind, EventQueue};
use crate::host::{Endpoint, Host, HostAny, HostCounters, HostId};
use crate::link::{Channel, Direction, LinkId, LinkStats};
use crate::pcap::{Tap, TapId, TapPoint};
use crate::rng;
use crate::run::{Bounds, RunError, RunSummary};

/// The most packets one host may return from `poll_transmit` in a row before the network
/// takes it for a host that never returns `None`.
const MAX_TRANSMIT_BURST: u64 = 1 << 20;

/// The most packet buffers the network keeps for reuse: as many as a busy link has on the
/// wire, without holding on to every buffer of a queue that once overflowed.
const POOL_MAX: usize = 4096;

/// An event-driven network of [`Host`]s joined by point-to-point links, in virtual time.
///
/// Nothing happens between events: [`step`](Network::step) jumps the clock to the next packet
/// arrival or host deadline and runs it. Events due at the same instant run in the order they
/// were scheduled. All randomness comes from the seed given to [`Network::new`], one
/// independent stream per link direction and impairment, so a run replays exactly, pcap bytes
/// included, and adding a link leaves the draws of the others as they were.
///
/// After every input to a host (a packet, a deadline, or being added or reached through
/// [`host_mut`](Network::host_mut)) the network drains the host's `poll_transmit` into its
/// links, then reads its `poll_timeout` again. A host reached through `host_mut` is served at
/// the current time when the network next runs.
///
/// ```
/// use ustack_sim::{Bounds, Duration, Host, Instant, LinkConfig, Network};
///
/// /// Sends one packet at start.
/// struct Hello(bool);
/// impl Host for Hello {
///     fn handle_packet(&mut self, _: Instant, _: usize, _: &[u8]) {}
///     fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
///         if self.0 { return None; }
///         self.0 = true;
///         buf[..5].copy_from_slice(b"hello");
///         Some((0, 5))
///     }
///     fn poll_timeout(&self) -> Option<Instant> { None }
///     fn handle_timeout(&mut self, _: Instant) {}
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
/// let mut net = Network::new(42);
/// let a = net.add_host(Hello(false));
/// let b = net.add_host(Sink::default());
/// let cfg = LinkConfig::new().rate_bps(8_000).delay(Duration::from_millis(10));
/// net.connect(a.iface(0), b.iface(0), cfg)?;
/// net.run_while(Bounds::time(Duration::from_secs(1)), |net| net.host(b).0.is_empty())?;
/// // 5 bytes at 8 kbit/s take 5 ms, then 10 ms on the wire.
/// assert_eq!(net.host(b).0, [Instant::from_millis(15)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Network {
    seed: u64,
    clock: VirtualClock,
    hosts: Vec<HostSlot>,
    links: Vec<Link>,
    events: EventQueue,
    /// Hosts to serve (drain, re-read the deadline) before the next event, by index.
    dirty: BTreeSet<usize>,
    taps: Vec<Tap>,
    /// The buffer hosts write packets into.
    scratch: Vec<u8>,
    /// Buffers of packets delivered or dropped, for the link to copy the next ones into.
    pool: Vec<Vec<u8>>,
    /// The event bound of `run_until`.
    event_limit: u64,
    events_run: u64,
}

struct HostSlot {
    host: Box<dyn HostAny>,
    /// What each connected interface sends into.
    ifaces: BTreeMap<usize, (LinkId, Direction)>,
    /// The deadline scheduled in the event queue.
    timer: Option<Instant>,
    counters: HostCounters,
}

struct Link {
    ends: [Endpoint; 2],
    /// Indexed by `Direction::index`.
    channels: [Channel; 2],
    /// Indices into `Network::taps`.
    taps: Vec<usize>,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("seed", &self.seed)
            .field("now", &self.now())
            .field("hosts", &self.hosts.len())
            .field("links", &self.links.len())
            .field("pending_events", &self.pending_events())
            .field("events_run", &self.events_run)
            .finish_non_exhaustive()
    }
}

/// Why [`Network::connect`] refused a link.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectError {
    /// No host has this index.
    NoSuchHost(usize),
    /// The interface is already the end of a link (or both ends were the same).
    InterfaceInUse(Endpoint),
    /// The config of one direction has a value out of range.
    Config {
        /// Which direction's config.
        direction: Direction,
        /// What is wrong with it.
        error: LinkConfigError,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::NoSuchHost(host) => write!(f, "connect: no host {host}"),
            ConnectError::InterfaceInUse(end) => {
                write!(f, "connect: {end} is already connected to a link")
            }
            ConnectError::Config { direction, error } => {
                write!(f, "connect ({direction:?}): {error}")
            }
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Config { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl Network {
    /// An empty network at time zero whose every random draw follows from `seed`.
    pub fn new(seed: u64) -> Self {
        Network {
            seed,
            clock: VirtualClock::new(),
            hosts: Vec::new(),
            links: Vec::new(),
            events: EventQueue::default(),
            dirty: BTreeSet::new(),
            taps: Vec::new(),
            scratch: vec![0; MAX_MTU],
            pool: Vec::new(),
            event_limit: Bounds::DEFAULT_MAX_EVENTS,
            events_run: 0,
        }
    }

    /// The seed the network was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// A seed for something outside the network, a host's random source say, fixed by the
    /// network's seed and `label` and independent of every link's draws. Different labels
    /// (below 2^63) give independent seeds.
    pub fn derive_seed(&self, label: u64) -> u64 {
        rng::derive_seed(self.seed, label)
    }

    // ---- hosts ----

    /// Adds a host. It is served (its `poll_transmit` drained, its `poll_timeout` read) at the
    /// current time when the network next runs, so links connected before then carry what it
    /// sends first.
    pub fn add_host<T: Host + 'static>(&mut self, host: T) -> HostId<T> {
        let index = self.hosts.len();
        self.hosts.push(HostSlot {
            host: Box::new(host),
            ifaces: BTreeMap::new(),
            timer: None,
            counters: HostCounters::default(),
        });
        self.events.add_host(index);
        self.dirty.insert(index);
        HostId::new(index)
    }

    /// The host `id`.
    ///
    /// # Panics
    ///
    /// If `id` came from another network and names no host of type `T` here.
    pub fn host<T: Host + 'static>(&self, id: HostId<T>) -> &T {
        // Through `&dyn HostAny`: the box itself is a `Host` too, so a call on it would see
        // the box.
        let host: &dyn HostAny = &*self.hosts[id.index()].host;
        host.as_any().downcast_ref().expect("HostId of another Network")
    }

    /// The host `id`, to change. The network serves it at the current time when it next runs,
    /// so packets it queued go out and a new deadline is seen.
    ///
    /// # Panics
    ///
    /// If `id` came from another network and names no host of type `T` here.
    pub fn host_mut<T: Host + 'static>(&mut self, id: HostId<T>) -> &mut T {
        self.dirty.insert(id.index());
        let host: &mut dyn HostAny = &mut *self.hosts[id.index()].host;
        host.as_any_mut().downcast_mut().expect("HostId of another Network")
    }

    /// What the network saw of host `id`.
    pub fn host_counters<T>(&self, id: HostId<T>) -> HostCounters {
        self.hosts[id.index()].counters
    }

    /// How many hosts there are.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    // ---- links ----

    /// Joins `a` and `b` with a link whose two directions both behave as `config` says
    /// (each with its own queue and random streams).
    pub fn connect(
        &mut self,
        a: Endpoint,
        b: Endpoint,
        config: LinkConfig,
    ) -> Result<LinkId, ConnectError> {
        self.connect_asymmetric(a, b, config.clone(), config)
    }

    /// Joins `a` and `b` with a link that behaves as `a_to_b` from `a` to `b` and as `b_to_a`
    /// back.
    pub fn connect_asymmetric(
        &mut self,
        a: Endpoint,
        b: Endpoint,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
    ) -> Result<LinkId, ConnectError> {
        for (direction, config) in [(Direction::AToB, &a_to_b), (Direction::BToA, &b_to_a)] {
            config.validate().map_err(|error| ConnectError::Config { direction, error })?;
        }
        for end in [a, b] {
            let slot = self.hosts.get(end.host).ok_or(ConnectError::NoSuchHost(end.host))?;
            if slot.ifaces.contains_key(&end.iface) {
                return Err(ConnectError::InterfaceInUse(end));
            }
        }
        if a == b {
            return Err(ConnectError::InterfaceInUse(a));
        }
        let id = LinkId(self.links.len());
        self.hosts[a.host].ifaces.insert(a.iface, (id, Direction::AToB));
        self.hosts[b.host].ifaces.insert(b.iface, (id, Direction::BToA));
        self.events.add_link(id);
        self.links.push(Link {
            ends: [a, b],
            channels: [
                Channel::new(a_to_b, self.seed, id.0, Direction::AToB),
                Channel::new(b_to_a, self.seed, id.0, Direction::BToA),
            ],
            taps: Vec::new(),
        });
        Ok(id)
    }

    /// The ends of `link`, in the order given to [`connect`](Network::connect).
    pub fn link_ends(&self, link: LinkId) -> (Endpoint, Endpoint) {
        let [a, b] = self.links[link.0].ends;
        (a, b)
    }

    /// The config of one direction of `link`.
    pub fn link_config(&self, link: LinkId, dir: Direction) -> &LinkConfig {
        &self.links[link.0].channels[dir.index()].cfg
    }

    /// What one direction of `link` did so far.
    pub fn link_stats(&self, link: LinkId, dir: Direction) -> &LinkStats {
        &self.links[link.0].channels[dir.index()].stats
    }

    /// Every link, in the order they were connected.
    pub fn links(&self) -> impl Iterator<Item = LinkId> + '_ {
        (0..self.links.len()).map(LinkId)
    }

    // ---- capture ----

    /// Captures `link` (both directions) at `point` into memory; read it with
    /// [`tap_bytes`](Network::tap_bytes).
    pub fn tap(&mut self, link: LinkId, point: TapPoint) -> TapId {
        self.add_tap(link, Tap::memory(link, point))
    }

    /// Captures `link` (both directions) at `point` into `out`, writing the file header now.
    /// A write error later stops this capture; [`flush_taps`](Network::flush_taps) returns it.
    pub fn tap_writer(
        &mut self,
        link: LinkId,
        point: TapPoint,
        out: impl Write + 'static,
    ) -> io::Result<TapId> {
        let tap = Tap::writer(link, point, Box::new(out))?;
        Ok(self.add_tap(link, tap))
    }

    /// Captures `link` (both directions) at `point` into a pcap file at `path`, created or
    /// truncated. The file is complete once [`flush_taps`](Network::flush_taps) returns or
    /// the network is dropped.
    pub fn tap_file(
        &mut self,
        link: LinkId,
        point: TapPoint,
        path: impl AsRef<Path>,
    ) -> io::Result<TapId> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("creating pcap file {}: {e}", path.display()))
        })?;
        self.tap_writer(link, point, BufWriter::new(file))
    }

    fn add_tap(&mut self, link: LinkId, tap: Tap) -> TapId {
        let id = self.taps.len();
        self.links[link.0].taps.push(id);
        self.taps.push(tap);
        TapId(id)
    }

    /// The pcap file captured so far by a tap made with [`tap`](Network::tap); `None` for
    /// one writing elsewhere.
    pub fn tap_bytes(&self, tap: TapId) -> Option<&[u8]> {
        self.taps[tap.0].bytes()
    }

    /// How many packets a tap recorded.
    pub fn tap_packets(&self, tap: TapId) -> u64 {
        self.taps[tap.0].packets()
    }

    /// Flushes every tap's writer. Returns the first error: a write error that stopped a
    /// capture, or a flush error.
    pub fn flush_taps(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        for tap in &mut self.taps {
            let result = tap.flush();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    // ---- running ----

    /// Runs the next event (serving hosts reached through `host_mut` first) and returns its
    /// time, or `None` when nothing is left to happen.
    pub fn step(&mut self) -> Option<Instant> {
        self.serve_dirty();
        let event = self.events.pop()?;
        self.clock.advance_to(event.at);
        self.events_run += 1;
        self.dispatch(event.kind);
        Some(self.now())
    }

    /// When the next event is due, or `None` when nothing is left to happen. Serves hosts
    /// reached through `host_mut` first, since they may schedule something.
    pub fn next_event_time(&mut self) -> Option<Instant> {
        self.serve_dirty();
        self.events.peek()
    }

    /// Runs every event due up to and including `deadline`, then sets the clock to
    /// `deadline` (or leaves it, if it is later). Bounded by the event limit
    /// ([`set_event_limit`](Network::set_event_limit)).
    pub fn run_until(&mut self, deadline: Instant) -> Result<RunSummary, RunError> {
        let start = self.events_run;
        while self.next_event_time().is_some_and(|t| t <= deadline) {
            if self.events_run - start >= self.event_limit {
                return Err(RunError::EventLimit {
                    limit: self.event_limit,
                    at: self.now(),
                    seed: self.seed,
                });
            }
            self.step();
        }
        self.clock.advance_to(deadline);
        Ok(RunSummary { events: self.events_run - start, now: self.now() })
    }

    /// [`run_until`](Network::run_until) `now + d`.
    pub fn run_for(&mut self, d: Duration) -> Result<RunSummary, RunError> {
        self.run_until(self.now() + d)
    }

    /// Runs events while `cond` holds, checking it before each one, within `bounds`.
    ///
    /// Returns once `cond` is false. Errors, naming the bound: the next event lies past the
    /// time bound (the clock is left at the bound), the event bound is reached, or `cond`
    /// still holds with nothing left to happen.
    pub fn run_while(
        &mut self,
        bounds: Bounds,
        mut cond: impl FnMut(&Network) -> bool,
    ) -> Result<RunSummary, RunError> {
        let start = self.events_run;
        let deadline = self.now() + bounds.time_limit();
        loop {
            self.serve_dirty();
            let events = self.events_run - start;
            if !cond(self) {
                return Ok(RunSummary { events, now: self.now() });
            }
            match self.events.peek() {
                None => {
                    return Err(RunError::Stalled { at: self.now(), events, seed: self.seed });
                }
                Some(t) if t > deadline => {
                    self.clock.advance_to(deadline);
                    return Err(RunError::TimeLimit { deadline, events, seed: self.seed });
                }
                Some(_) if events >= bounds.event_limit() => {
                    return Err(RunError::EventLimit {
                        limit: bounds.event_limit(),
                        at: self.now(),
                        seed: self.seed,
                    });
                }
                Some(_) => {
                    self.step();
                }
            }
        }
    }

    /// Sets the event bound of [`run_until`](Network::run_until) and
    /// [`run_for`](Network::run_for) (default [`Bounds::DEFAULT_MAX_EVENTS`]).
    pub fn set_event_limit(&mut self, events: u64) {
        self.event_limit = events;
    }

    /// Events waiting to run: packets in flight and armed host deadlines.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Events run since the network was made.
    pub fn events_run(&self) -> u64 {
        self.events_run
    }

    // ---- the event loop's insides ----

    fn dispatch(&mut self, kind: EventKind) {
        let now = self.now();
        match kind {
            EventKind::Arrival { link, dir, packet } => {
                let l = &mut self.links[link.0];
                if !l.channels[dir.index()].arrive(now, packet.len()) {
                    self.recycle(packet);
                    return;
                }
                // A to B delivers to the second end, B to A to the first.
                let to = l.ends[1 - dir.index()];
                self.record(link, TapPoint::Delivered, &packet);
                let slot = &mut self.hosts[to.host];
                slot.counters.received += 1;
                slot.host.handle_packet(now, to.iface, &packet);
                self.recycle(packet);
                self.serve(to.host);
            }
            EventKind::Timer { host } => {
                let slot = &mut self.hosts[host];
                slot.timer = None;
                slot.counters.timeouts += 1;
                slot.host.handle_timeout(now);
                self.serve(host);
            }
        }
    }

    fn serve_dirty(&mut self) {
        while let Some(host) = self.dirty.pop_first() {
            self.serve(host);
        }
    }

    /// Drains `host`'s transmissions into its links, then schedules its deadline.
    fn serve(&mut self, host: usize) {
        let now = self.now();
        let mut buf = core::mem::take(&mut self.scratch);
        let mut burst = 0u64;
        while let Some((iface, len)) = self.hosts[host].host.poll_transmit(now, &mut buf) {
            burst += 1;
            assert!(
                burst <= MAX_TRANSMIT_BURST,
                "host {host} returned {MAX_TRANSMIT_BURST} packets from poll_transmit at {now} \
                 without a None (seed {})",
                self.seed
            );
            self.transmit(host, iface, &buf[..len.min(buf.len())]);
        }
        self.scratch = buf;

        let slot = &mut self.hosts[host];
        let deadline = slot.host.poll_timeout();
        if deadline != slot.timer {
            slot.timer = deadline;
            self.events.set_timer(host, deadline.map(|at| at.max(now)));
        }
    }

    /// `host` sent `packet` on `iface`.
    fn transmit(&mut self, host: usize, iface: usize, packet: &[u8]) {
        let now = self.now();
        let slot = &mut self.hosts[host];
        slot.counters.transmitted += 1;
        let Some(&(link, dir)) = slot.ifaces.get(&iface) else {
            slot.counters.no_link += 1;
            return;
        };
        self.record(link, TapPoint::Sent, packet);
        let events = &mut self.events;
        self.links[link.0].channels[dir.index()].offer(now, packet, &mut self.pool, |copy| {
            events.push_arrival(copy.at, link, dir, copy.packet);
        });
    }

    /// Keeps the buffer of a packet that left the network for the next one, up to
    /// [`POOL_MAX`] of them.
    fn recycle(&mut self, packet: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            self.pool.push(packet);
        }
    }

    fn record(&mut self, link: LinkId, point: TapPoint, packet: &[u8]) {
        let now = self.now();
        for &tap in &self.links[link.0].taps {
            let tap = &mut self.taps[tap];
            if tap.point == point {
                tap.record(now, packet);
            }
        }
    }
}
