//! The relay: two TUN devices, and between them one [`LinkModel`] per direction driven in
//! real time.
//!
//! Four threads. For each direction, a reader waits for its source device to be readable,
//! reads every packet waiting, stamps each with the monotonic clock (mapped to the model's
//! `Instant`: nanoseconds since the relay started) and offers it to the direction's model,
//! which says when each copy is due at the far end; the copies wait in a heap ordered by that
//! time. A releaser sleeps on a condition variable until the earliest copy is due (or a
//! reader puts in an earlier one), hands every due copy to the model's `arrive` and writes it
//! to the destination device. Only the readers call `offer`, so its clock never goes back;
//! the sleep is the kernel's high-resolution timer (some 50 µs of slack), not a tick.
//!
//! A device is read by one thread and written by another: each sits behind a mutex held only
//! for a non-blocking `recv` or `send`, never while waiting.

use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use std::fs::File;
use std::io::BufWriter;

use ustack::device::{Device, PcapSink, RecvBufferTooSmall, Tun};
use ustack_sim::{Direction, Instant, LinkConfig, LinkModel, LinkStats};

/// How long a thread waits before it looks at the stop flag again.
const STOP_POLL: StdDuration = StdDuration::from_millis(50);

/// The most bytes of copies held for later delivery per direction. A link with a rate holds
/// at most its queue and a bandwidth-delay product; one without a rate holds all that comes
/// in one delay. Past this, packets are dropped before the model sees them (`overflow`).
const MAX_HELD_BYTES: usize = 256 << 20;

/// The clock of the model: nanoseconds since the relay started, from the monotonic clock.
#[derive(Clone, Copy)]
struct Clock(std::time::Instant);

impl Clock {
    fn now(self) -> Instant {
        Instant::from_nanos(u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// How long until `at`, or zero.
    fn until(self, at: Instant) -> StdDuration {
        StdDuration::from_nanos(at.as_nanos().saturating_sub(self.now().as_nanos()))
    }
}

/// A copy waiting for its time, ordered earliest first (then in the order it was made).
struct Held {
    at: Instant,
    seq: u64,
    packet: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    /// Reversed: `BinaryHeap` is a max-heap.
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// What one direction holds between its reader and its releaser.
struct Queue {
    model: LinkModel,
    held: BinaryHeap<Held>,
    held_bytes: usize,
    next_seq: u64,
}

/// One direction: its queue, the condition its releaser sleeps on, its counters.
struct Channel {
    queue: Mutex<Queue>,
    wake: Condvar,
    counters: Counters,
}

/// What the relay itself counted for one direction, beside the model's [`LinkStats`].
#[derive(Default)]
struct Counters {
    read: AtomicU64,
    not_ipv4: AtomicU64,
    too_long: AtomicU64,
    overflow: AtomicU64,
    written: AtomicU64,
    write_errors: AtomicU64,
}

/// What one direction did, at the stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirectionReport {
    /// Packets read from the source device.
    pub(crate) read: u64,
    /// Of those, packets that were not IPv4 (IPv6 neighbour discovery, say): not relayed.
    pub(crate) not_ipv4: u64,
    /// Of those, packets longer than the read buffer (the device MTU): dropped.
    pub(crate) too_long: u64,
    /// Of those, packets dropped because the relay held too much already.
    pub(crate) overflow: u64,
    /// The model: every IPv4 packet offered, what it dropped and why, what it delivered.
    pub(crate) link: LinkStats,
    /// Copies the model delivered that were written to the destination device.
    pub(crate) written: u64,
    /// Copies whose write failed.
    pub(crate) write_errors: u64,
}

/// The relay's view of a device: shared by a reader and a releaser.
type Shared = Arc<Mutex<Tun>>;

/// Where the readers record what enters the link, if anywhere.
pub(crate) type Capture = Arc<Mutex<PcapSink<BufWriter<File>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running relay between device `a` and device `b`.
pub(crate) struct Relay {
    stop: Arc<AtomicBool>,
    channels: [Arc<Channel>; 2],
    threads: Vec<JoinHandle<()>>,
    devices: [Shared; 2],
    failure: Arc<Mutex<Option<String>>>,
}

impl Relay {
    /// Starts relaying between `a` and `b`, both directions through a model of `link`
    /// (direction A to B is the model's `AToB`), every draw from `seed`; every IPv4 packet
    /// read is recorded into `capture`, if given, as it enters the link.
    pub(crate) fn start(
        a: Tun,
        b: Tun,
        link: &LinkConfig,
        seed: u64,
        capture: Option<Capture>,
    ) -> Result<Relay, String> {
        let clock = Clock(std::time::Instant::now());
        let stop = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(Mutex::new(None));
        let channel = |dir| -> Result<Arc<Channel>, String> {
            let model = LinkModel::new(link.clone(), seed, dir).map_err(|e| e.to_string())?;
            let queue = Queue { model, held: BinaryHeap::new(), held_bytes: 0, next_seq: 0 };
            Ok(Arc::new(Channel {
                queue: Mutex::new(queue),
                wake: Condvar::new(),
                counters: Counters::default(),
            }))
        };
        let channels = [channel(Direction::AToB)?, channel(Direction::BToA)?];
        let devices = [Arc::new(Mutex::new(a)), Arc::new(Mutex::new(b))];
        let mut threads = Vec::new();
        for (i, ch) in channels.iter().enumerate() {
            let (from, to) = (Arc::clone(&devices[i]), Arc::clone(&devices[1 - i]));
            let worker = Worker {
                channel: Arc::clone(ch),
                stop: Arc::clone(&stop),
                failure: Arc::clone(&failure),
                clock,
                capture: capture.clone(),
            };
            let name = if i == 0 { "a-to-b" } else { "b-to-a" };
            let reader = worker.clone();
            threads.push(spawn(&format!("netem-read-{name}"), move || reader.read(&from))?);
            threads.push(spawn(&format!("netem-write-{name}"), move || worker.release(&to))?);
        }
        Ok(Relay { stop, channels, threads, devices, failure })
    }

    /// Why the relay stopped on its own, if a device failed.
    pub(crate) fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    /// Stops every thread; what each direction did (A to B first) and the two devices, which
    /// go away when dropped. Copies still held are dropped, counted as in flight.
    pub(crate) fn stop(self) -> ([DirectionReport; 2], [Tun; 2]) {
        self.stop.store(true, Ordering::SeqCst);
        for ch in &self.channels {
            ch.wake.notify_all();
        }
        for t in self.threads {
            // A panic is recorded by the process's panic hook; the relay still stops.
            let _ = t.join();
        }
        let report = self.channels.each_ref().map(|ch| {
            let c = &ch.counters;
            let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
            DirectionReport {
                read: load(&c.read),
                not_ipv4: load(&c.not_ipv4),
                too_long: load(&c.too_long),
                overflow: load(&c.overflow),
                link: *lock(&ch.queue).model.stats(),
                written: load(&c.written),
                write_errors: load(&c.write_errors),
            }
        });
        let devices = self.devices.map(|d| match Arc::try_unwrap(d) {
            Ok(m) => m.into_inner().unwrap_or_else(PoisonError::into_inner),
            Err(_) => unreachable!("every thread holding a device has been joined"),
        });
        (report, devices)
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| format!("starting thread {name}: {e}"))
}

/// What a reader and a releaser of one direction share.
#[derive(Clone)]
struct Worker {
    channel: Arc<Channel>,
    stop: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<String>>>,
    clock: Clock,
    capture: Option<Capture>,
}

impl Worker {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Records the first failure and stops the relay.
    fn fail(&self, what: String) {
        lock(&self.failure).get_or_insert(what);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Reads `from` until the stop, offering every IPv4 packet to the model.
    fn read(&self, from: &Shared) {
        let (readiness, mtu) = {
            let dev = lock(from);
            (dev.readiness(), dev.mtu())
        };
        let mut buf = vec![0u8; mtu];
        let c = &self.channel.counters;
        while !self.stopped() {
            if let Err(e) = readiness.wait_timeout(STOP_POLL) {
                return self.fail(format!("waiting for a packet: {e}"));
            }
            loop {
                let got = lock(from).recv(&mut buf);
                let now = self.clock.now();
                let len = match got {
                    Ok(len) => len,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.get_ref().is_some_and(|r| r.is::<RecvBufferTooSmall>()) => {
                        c.read.fetch_add(1, Ordering::Relaxed);
                        c.too_long.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Err(e) => return self.fail(format!("reading a packet: {e}")),
                };
                c.read.fetch_add(1, Ordering::Relaxed);
                if len == 0 || buf[0] >> 4 != 4 {
                    c.not_ipv4.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(capture) = &self.capture {
                    let at = StdDuration::from_nanos(now.as_nanos());
                    if let Err(e) = lock(capture).write_packet(at, &buf[..len]) {
                        return self.fail(format!("writing the capture: {e}"));
                    }
                }
                self.offer(now, &buf[..len]);
            }
        }
    }

    /// Puts `packet`, read at `now`, into the model and its copies into the heap; wakes the
    /// releaser when the earliest copy changed.
    fn offer(&self, now: Instant, packet: &[u8]) {
        let mut q = lock(&self.channel.queue);
        if q.held_bytes + packet.len() > MAX_HELD_BYTES {
            self.channel.counters.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let earliest = q.held.peek().map(|h| h.at);
        for copy in q.model.offer(now, packet).into_iter().flatten() {
            let seq = q.next_seq;
            q.next_seq += 1;
            q.held_bytes += copy.packet.len();
            q.held.push(Held { at: copy.at, seq, packet: copy.packet });
        }
        let new_earliest = q.held.peek().map(|h| h.at);
        drop(q);
        if new_earliest != earliest {
            self.channel.wake.notify_one();
        }
    }

    /// Until the stop, writes every copy to `to` when it is due.
    fn release(&self, to: &Shared) {
        let c = &self.channel.counters;
        let mut due = Vec::new();
        let mut q = lock(&self.channel.queue);
        while !self.stopped() {
            let now = self.clock.now();
            while q.held.peek().is_some_and(|h| h.at <= now) {
                let Some(h) = q.held.pop() else { break };
                q.held_bytes -= h.packet.len();
                if q.model.arrive(now, h.packet.len()) {
                    due.push(h.packet);
                }
            }
            if !due.is_empty() {
                drop(q);
                let mut dev = lock(to);
                for packet in due.drain(..) {
                    match dev.send(&packet) {
                        Ok(()) => c.written.fetch_add(1, Ordering::Relaxed),
                        Err(_) => c.write_errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
                drop(dev);
                q = lock(&self.channel.queue);
                continue;
            }
            let wait = q.held.peek().map_or(STOP_POLL, |h| self.clock.until(h.at).min(STOP_POLL));
            q = self.channel.wake.wait_timeout(q, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}
