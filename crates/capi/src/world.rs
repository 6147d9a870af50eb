//! The stacks behind the C API, their clock and how calls wait.
//!
//! A [`World`] holds one or two hosts (a [`Host`] is a `Stack` with its table of file
//! descriptors) behind one lock, and a clock:
//!
//! - **Real time** (stacks made by `ustack_pair_new`): a driver thread fires the stacks'
//!   timers on the wall clock and sleeps until the next one or until a socket call nudges it;
//!   the packets each host sends are handed to the other at once (an in-memory link).
//! - **Virtual time** (the packetdrill shim): time moves only when the test tool says so
//!   (`usleep`, `gettimeofday`, waiting for the next packet), and jumps from one timer
//!   deadline to the next, so a script's RTOs and TIME-WAITs run exactly and fast. Packets
//!   the stack sends wait in a queue with the virtual time they left at.
//!
//! A call that must wait (a blocking `accept`, `connect`, `read`, `write`, `poll`) sleeps on
//! the world's condition variable and checks again after every change. In virtual time the
//! thread that moves the clock or injects a packet then waits until every sleeping call has
//! looked at the new state ([`World::settle`]), so whatever a woken call does (a `write`
//! that now fits and sends) happens at the virtual instant that woke it, whatever the
//! operating system's thread scheduling.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::Duration as StdDuration;

use ustack_core::Instant;

use crate::host::Host;

/// How long a thread that moved the virtual clock waits (on the wall clock) for sleeping
/// calls to catch up, or for the end-of-call clock read of the tool's second thread. Only
/// reached when a thread outside the shim's control stalls; a bound so nothing hangs.
const CATCH_UP_LIMIT: StdDuration = StdDuration::from_secs(2);

/// The clock of a world.
#[derive(Debug)]
pub(crate) enum Clock {
    /// Wall-clock time since the world was made.
    Real { epoch: std::time::Instant },
    /// Time the test tool moves.
    Virtual(VirtualClock),
}

/// Virtual time and who may move it.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    pub(crate) now: Instant,
    /// The thread that set the shim up (packetdrill's main thread): its clock reads move
    /// time by a microsecond each, so a caller that spins on the clock makes progress.
    pub(crate) main: ThreadId,
    /// A call returned on another thread (packetdrill's system-call thread), which reads the
    /// clock next to time its return: the clock does not move until it has.
    pub(crate) read_owed: bool,
    /// The kernel thread id of the other thread, when a call of it returned and the main
    /// thread has not yet let it finish its own bookkeeping (see `packetdrill.rs`).
    pub(crate) returned_on: Option<libc::pid_t>,
}

/// A call sleeping until the state changes.
#[derive(Debug, Clone, Copy)]
struct Sleeper {
    /// The generation of the state it last looked at.
    seen: u64,
    /// Virtual time at which it gives up waiting (a poll timeout), if any.
    deadline: Option<Instant>,
}

/// Everything behind the lock.
pub(crate) struct State {
    pub(crate) hosts: Vec<Host>,
    pub(crate) clock: Clock,
    /// Bumped at every change sleeping calls must look at.
    generation: u64,
    sleepers: BTreeMap<u64, Sleeper>,
    next_sleeper: u64,
    /// The real-time driver is to exit.
    pub(crate) stop: bool,
    /// Scratch for `poll_transmit`.
    buf: Vec<u8>,
}

/// One or two hosts, their clock and their waiters.
pub(crate) struct World {
    state: Mutex<State>,
    /// Sleeping calls wait on this.
    changed: Condvar,
    /// The clock mover waits on this for sleepers to catch up; the driver for nudges.
    settled: Condvar,
}

/// Why a wait ended without the call completing.
pub(crate) enum WaitEnd {
    /// The deadline passed.
    TimedOut,
    /// Virtual time, on the thread that moves the clock: no timer runs and no deadline is
    /// set, so the state can never change.
    WouldHang,
}

impl World {
    pub(crate) fn new(hosts: Vec<Host>, clock: Clock) -> World {
        World {
            state: Mutex::new(State {
                hosts,
                clock,
                generation: 0,
                sleepers: BTreeMap::new(),
                next_sleeper: 0,
                stop: false,
                buf: vec![0; 65_536],
            }),
            changed: Condvar::new(),
            settled: Condvar::new(),
        }
    }

    /// Locks the state. A panic while locked (a bug) poisons nothing we cannot go on with:
    /// the state is plain data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After a call changed the stacks: send what they have to send, then wake whoever
    /// sleeps (calls, and the real-time driver whose next deadline may have moved). In
    /// virtual time, wait until the sleeping calls have looked.
    pub(crate) fn changed<'a>(&'a self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        st.pump();
        st.generation += 1;
        self.changed.notify_all();
        self.settled.notify_all();
        if st.is_virtual() {
            st = self.settle(st);
        }
        st
    }

    /// Virtual time: waits until every sleeping call has seen the current generation.
    fn settle<'a>(&'a self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let until = std::time::Instant::now() + CATCH_UP_LIMIT;
        loop {
            let g = st.generation;
            if st.sleepers.values().all(|s| s.seen >= g) {
                return st;
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return st;
            }
            st = self.settled.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Runs `attempt` until it returns `Some`, sleeping between attempts until the state
    /// changes. `deadline` (in the world's time) ends the wait with [`WaitEnd::TimedOut`].
    ///
    /// In virtual time the thread that moves the clock cannot sleep (nobody else would move
    /// it): it moves the clock itself to the next deadline instead, and gives up with
    /// [`WaitEnd::WouldHang`] when nothing is left that could ever change the state.
    pub(crate) fn wait<'a, T>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(&mut State) -> Option<T>,
    ) -> (MutexGuard<'a, State>, Result<T, WaitEnd>) {
        let id = st.next_sleeper;
        st.next_sleeper += 1;
        let virt = st.is_virtual();
        let mover = virt && std::thread::current().id() == st.main_thread();
        let result = loop {
            if let Some(r) = attempt(&mut st) {
                break Ok(r);
            }
            if deadline.is_some_and(|d| st.now() >= d) {
                break Err(WaitEnd::TimedOut);
            }
            if mover {
                let next = match (st.next_deadline(), deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                match next {
                    Some(t) => st = self.advance_to(st, t),
                    None => break Err(WaitEnd::WouldHang),
                }
                continue;
            }
            let seen = st.generation;
            st.sleepers.insert(id, Sleeper { seen, deadline });
            self.settled.notify_all();
            st = match (virt, deadline) {
                (false, Some(d)) => {
                    let left = d.saturating_duration_since(st.now());
                    self.changed.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0
                }
                _ => self.changed.wait(st).unwrap_or_else(PoisonError::into_inner),
            };
        };
        st.sleepers.remove(&id);
        // What the call did (copied data, sent a segment) goes out now, and whoever waits
        // on the other end of a link looks again.
        st.pump();
        st.generation += 1;
        self.changed.notify_all();
        self.settled.notify_all();
        (st, result)
    }

    /// Marks the end of a call made on a thread other than the clock mover's, in virtual
    /// time: the clock holds still until that thread has read it (packetdrill times a
    /// blocking call's return with its next clock read).
    pub(crate) fn call_returned(&self, st: &mut State) {
        if let Clock::Virtual(v) = &mut st.clock
            && std::thread::current().id() != v.main
        {
            v.read_owed = true;
            // SAFETY: gettid has no preconditions.
            v.returned_on = Some(unsafe { libc::gettid() });
        }
    }

    /// Reads the clock: the world's time. In virtual time every read moves time by a
    /// microsecond (firing what falls due): packetdrill waits for an event by spinning on
    /// the clock, on whichever of its threads runs the event. A read by a thread other than
    /// the main one also settles the read it owed (see [`World::call_returned`]).
    pub(crate) fn read_clock<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
    ) -> (MutexGuard<'a, State>, Instant) {
        if let Clock::Virtual(v) = &mut st.clock {
            if std::thread::current().id() != v.main && v.read_owed {
                v.read_owed = false;
                self.settled.notify_all();
                let now = v.now;
                return (st, now);
            }
            let to = v.now + ustack_core::Duration::from_micros(1);
            st = self.advance_to(st, to);
        }
        let now = st.now();
        (st, now)
    }

    /// Virtual time: moves the clock to `to`, stopping at every timer deadline on the way
    /// (and every sleeping call's deadline) to fire it at its exact time.
    pub(crate) fn advance_to<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        to: Instant,
    ) -> MutexGuard<'a, State> {
        st = self.await_clock_read(st);
        loop {
            let next = st.next_deadline().filter(|&d| d <= to);
            let Some(at) = next else { break };
            let t = at.max(st.now());
            st.set_virtual_now(t);
            st.fire_timers();
            st = self.changed(st);
        }
        let t = to.max(st.now());
        st.set_virtual_now(t);
        st
    }

    /// Virtual time: moves the clock to the next timer deadline and fires it. Returns false
    /// when no timer runs (nothing will ever happen without an outside input).
    pub(crate) fn advance_to_next<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
    ) -> (MutexGuard<'a, State>, bool) {
        st = self.await_clock_read(st);
        let Some(at) = st.next_deadline() else { return (st, false) };
        let t = at.max(st.now());
        st.set_virtual_now(t);
        st.fire_timers();
        st = self.changed(st);
        (st, true)
    }

    /// The main thread waits, before it moves the clock, for the other thread's read of the
    /// time its call returned at.
    fn await_clock_read<'a>(&'a self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if std::thread::current().id() != st.main_thread() {
            return st;
        }
        let until = std::time::Instant::now() + CATCH_UP_LIMIT;
        while matches!(&st.clock, Clock::Virtual(v) if v.read_owed) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                if let Clock::Virtual(v) = &mut st.clock {
                    v.read_owed = false;
                }
                break;
            }
            st = self.settled.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        st
    }

    /// The real-time driver: fires timers when due, sleeps until the next deadline or a
    /// nudge, until told to stop.
    pub(crate) fn drive(&self) {
        let mut st = self.lock();
        while !st.stop {
            st.fire_timers();
            st = self.changed(st);
            let now = st.now();
            st = match st.next_deadline() {
                Some(at) => {
                    let left = at.saturating_duration_since(now);
                    self.settled.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0
                }
                None => self.settled.wait(st).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    /// Tells the real-time driver to exit.
    pub(crate) fn stop(&self) {
        let mut st = self.lock();
        st.stop = true;
        drop(st);
        self.settled.notify_all();
        self.changed.notify_all();
    }
}

impl State {
    pub(crate) fn is_virtual(&self) -> bool {
        matches!(self.clock, Clock::Virtual(_))
    }

    fn main_thread(&self) -> ThreadId {
        match &self.clock {
            Clock::Virtual(v) => v.main,
            Clock::Real { .. } => std::thread::current().id(),
        }
    }

    /// The world's time.
    pub(crate) fn now(&self) -> Instant {
        match &self.clock {
            Clock::Real { epoch } => Instant::from_nanos(epoch.elapsed().as_nanos() as u64),
            Clock::Virtual(v) => v.now,
        }
    }

    fn set_virtual_now(&mut self, t: Instant) {
        if let Clock::Virtual(v) = &mut self.clock {
            v.now = t;
        }
    }

    /// The earliest stack timer or sleeper deadline.
    fn next_deadline(&self) -> Option<Instant> {
        let timers = self.hosts.iter().filter_map(|h| h.stack.poll_timeout());
        let sleepers = self.sleepers.values().filter_map(|s| s.deadline);
        timers.chain(sleepers).min()
    }

    /// Fires the timers due now.
    fn fire_timers(&mut self) {
        let now = self.now();
        for h in &mut self.hosts {
            if h.stack.poll_timeout().is_some_and(|t| t <= now) {
                h.stack.handle_timeout(now);
            }
        }
    }

    /// Sends what the stacks have to send: to the other host of a pair, or (one host) into
    /// its queue for the test tool. Repeats until no host has anything more, then drops the
    /// socket events (calls look at the sockets themselves).
    pub(crate) fn pump(&mut self) {
        let now = self.now();
        let n = self.hosts.len();
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let mut moved = false;
            for i in 0..n {
                while let Some(tx) = self.hosts[i].stack.poll_transmit(now, &mut buf) {
                    moved = true;
                    let packet = &buf[..tx.len];
                    if n == 2 {
                        self.hosts[1 - i].stack.handle_packet(now, 0, packet);
                    } else {
                        self.hosts[i].egress.push_back((now, packet.to_vec()));
                    }
                }
            }
            if !moved {
                break;
            }
        }
        self.buf = buf;
        for h in &mut self.hosts {
            while h.stack.poll_event().is_some() {}
        }
    }
}

/// Queue of packets a host sent, with the time each left (virtual time only).
pub(crate) type Egress = VecDeque<(Instant, Vec<u8>)>;
