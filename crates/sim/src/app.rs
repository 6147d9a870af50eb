//! Applications on simulated hosts: an [`App`] is a small state machine driven by its stack's
//! socket events, and a [`SimHost`] is a [`Stack`] with an `App` on top, run by the network
//! after every input.

use ustack_core::{Instant, SocketEvent, Stack};

use crate::host::Host;

/// The most socket events one input may lead to before the host is taken for an application
/// that answers every event with another, forever.
const MAX_EVENTS_PER_INPUT: u64 = 1 << 20;

/// An application: reacts to its stack's socket events, and to a deadline of its own, by
/// calling the stack's socket API (`tcp_connect`, `tcp_send`, `tcp_recv`, `close`, ...).
///
/// A [`SimHost`] calls it, always with the current virtual time:
///
/// 1. [`start`](App::start) once, the first time the network serves the host (at the time it
///    runs next after [`Network::add_host`](crate::Network::add_host));
/// 2. after every input to the stack (a packet, a timer), and after the stack has sent what
///    it had (sending can change a connection's state),
///    [`on_event`](App::on_event) for each event the stack reports, in order, until there
///    are none;
/// 3. [`on_timeout`](App::on_timeout) when the deadline of
///    [`poll_timeout`](App::poll_timeout) has come.
///
/// Whatever the application queues goes out in the same step: the host drains the stack's
/// transmissions after the application ran.
pub trait App {
    /// The host starts: open listeners, start connections.
    fn start(&mut self, now: Instant, stack: &mut Stack);

    /// The stack reported `event`.
    fn on_event(&mut self, now: Instant, stack: &mut Stack, event: SocketEvent);

    /// When [`on_timeout`](App::on_timeout) must next be called, or `None` (the default) for
    /// no deadline.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The deadline of [`poll_timeout`](App::poll_timeout) has come.
    fn on_timeout(&mut self, now: Instant, stack: &mut Stack) {
        let _ = (now, stack);
    }
}

/// A simulated host: a [`Stack`] and the [`App`] that uses it.
///
/// As a [`Host`] it passes packets and timers to the stack and, before handing out each packet
/// to send, lets the application react to the stack's events, so that an application's answer
/// to a packet leaves in the same step as the stack's own (an ACK and the data it unblocked
/// in one burst, as in a kernel). Its deadline is the earlier of the stack's and the
/// application's.
///
/// ```
/// use ustack_core::{SocketEvent, Stack, StackConfig};
/// use ustack_sim::{App, Instant, Network, SimHost};
///
/// /// Counts the events its stack reports.
/// #[derive(Default)]
/// struct Counter(usize);
/// impl App for Counter {
///     fn start(&mut self, _: Instant, _: &mut Stack) {}
///     fn on_event(&mut self, _: Instant, _: &mut Stack, _: SocketEvent) {
///         self.0 += 1;
///     }
/// }
///
/// let mut net = Network::new(1);
/// let stack = Stack::new(StackConfig::new(net.derive_secret(0)))?;
/// let host = net.add_host(SimHost::new(stack, Counter::default()));
/// net.run_until(Instant::from_secs(1))?;
/// assert_eq!(net.host(host).app().0, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SimHost<A> {
    stack: Stack,
    app: A,
    started: bool,
}

impl<A: App> SimHost<A> {
    /// A host running `app` on `stack`.
    pub fn new(stack: Stack, app: A) -> Self {
        SimHost { stack, app, started: false }
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The stack, to change. Reached through [`Network::host_mut`](crate::Network::host_mut),
    /// the host is served (the application sees the events, the packets go out) when the
    /// network next runs.
    pub fn stack_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The application, to change.
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }

    /// The stack and the application.
    pub fn into_parts(self) -> (Stack, A) {
        (self.stack, self.app)
    }

    /// Starts the application if it has not started, then hands it the stack's events until
    /// there are none. Returns whether it ran at all.
    fn drive(&mut self, now: Instant) -> bool {
        let mut ran = false;
        if !self.started {
            self.started = true;
            self.app.start(now, &mut self.stack);
            ran = true;
        }
        let mut events = 0u64;
        while let Some(event) = self.stack.poll_event() {
            events += 1;
            assert!(
                events <= MAX_EVENTS_PER_INPUT,
                "the application answered {MAX_EVENTS_PER_INPUT} events at {now} with more \
                 events: a loop"
            );
            self.app.on_event(now, &mut self.stack, event);
            ran = true;
        }
        ran
    }
}

impl<A: App> Host for SimHost<A> {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.stack.handle_packet(now, iface, packet);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        // The application sees the events of the last input before the first packet goes
        // out, and again once the stack has sent everything (events the sending itself
        // queued, a retransmission's trace or a close, included), until neither has more to
        // do.
        loop {
            let mut ran = self.drive(now);
            if let Some(t) = self.stack.poll_transmit(now, buf) {
                return Some((t.iface, t.len));
            }
            ran |= self.drive(now);
            if !ran {
                return None;
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.stack.poll_timeout(), self.app.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.stack.poll_timeout().is_some_and(|at| at <= now) {
            self.stack.handle_timeout(now);
        }
        if self.app.poll_timeout().is_some_and(|at| at <= now) {
            self.app.on_timeout(now, &mut self.stack);
        }
    }
}
