//! [`Controller`]: the congestion controller as a connection holds it.

use core::time::Duration;

use super::{CcMetrics, CongestionControl, CongestionEvent, Cubic, NewAck, NewReno};
use crate::Instant;

/// A connection's congestion controller: a built-in algorithm held inline, or any other
/// [`CongestionControl`] in a box.
///
/// The engine calls the controller on every ACK and keeps one per connection, of which a host
/// may hold a million: inline, the built-ins cost no allocation when a connection opens and
/// no pointer to follow on each call, and their methods are called directly (a `match` on
/// the variant, not a virtual call). An algorithm from outside this crate is still a trait
/// object: its factory's [`build`](super::CongestionControlFactory::build) gives the box, and
/// [`build_controller`](super::CongestionControlFactory::build_controller) wraps it in
/// [`Controller::Boxed`] unless the factory says otherwise.
///
/// `Controller` implements [`CongestionControl`] by handing every call to the algorithm it
/// holds, the provided methods included, so each algorithm's own versions run.
#[derive(Debug, Clone)]
pub enum Controller {
    /// CUBIC with HyStart++ ([`CubicFactory`](super::CubicFactory), the default).
    Cubic(Cubic),
    /// NewReno ([`NewRenoFactory`](super::NewRenoFactory)).
    NewReno(NewReno),
    /// Any other algorithm.
    Boxed(Box<dyn CongestionControl>),
}

impl From<Cubic> for Controller {
    fn from(cc: Cubic) -> Self {
        Controller::Cubic(cc)
    }
}

impl From<NewReno> for Controller {
    fn from(cc: NewReno) -> Self {
        Controller::NewReno(cc)
    }
}

impl From<Box<dyn CongestionControl>> for Controller {
    fn from(cc: Box<dyn CongestionControl>) -> Self {
        Controller::Boxed(cc)
    }
}

/// `$body` with `$cc` bound to the algorithm `$controller` holds.
macro_rules! each {
    ($controller:expr, $cc:ident => $body:expr) => {
        match $controller {
            Controller::Cubic($cc) => $body,
            Controller::NewReno($cc) => $body,
            Controller::Boxed($cc) => $body,
        }
    };
}

/// The trait's methods, callable without the trait in scope; [`CongestionControl`]'s
/// implementation calls these.
impl Controller {
    /// [`CongestionControl::name`] of the algorithm held.
    pub fn name(&self) -> &'static str {
        each!(self, cc => cc.name())
    }

    /// [`CongestionControl::window`] of the algorithm held.
    #[inline]
    pub fn window(&self) -> u32 {
        each!(self, cc => cc.window())
    }

    /// [`CongestionControl::ssthresh`] of the algorithm held.
    #[inline]
    pub fn ssthresh(&self) -> u32 {
        each!(self, cc => cc.ssthresh())
    }

    /// [`CongestionControl::in_slow_start`] of the algorithm held.
    pub fn in_slow_start(&self) -> bool {
        each!(self, cc => cc.in_slow_start())
    }

    /// [`CongestionControl::on_ack`] of the algorithm held.
    pub fn on_ack(
        &mut self,
        now: Instant,
        acked_bytes: u32,
        rtt: Option<Duration>,
        app_limited: bool,
    ) {
        each!(self, cc => cc.on_ack(now, acked_bytes, rtt, app_limited));
    }

    /// [`CongestionControl::on_new_ack`] of the algorithm held.
    pub fn on_new_ack(&mut self, now: Instant, ack: &NewAck) {
        each!(self, cc => cc.on_new_ack(now, ack));
    }

    /// [`CongestionControl::on_congestion_event`] of the algorithm held.
    pub fn on_congestion_event(&mut self, now: Instant, event: CongestionEvent, flight_size: u32) {
        each!(self, cc => cc.on_congestion_event(now, event, flight_size));
    }

    /// [`CongestionControl::on_recovery_exit`] of the algorithm held.
    pub fn on_recovery_exit(&mut self, now: Instant, flight_size: u32) {
        each!(self, cc => cc.on_recovery_exit(now, flight_size));
    }

    /// [`CongestionControl::on_mss_change`] of the algorithm held.
    pub fn on_mss_change(&mut self, mss: u32) {
        each!(self, cc => cc.on_mss_change(mss));
    }

    /// [`CongestionControl::on_idle_restart`] of the algorithm held.
    pub fn on_idle_restart(&mut self, now: Instant) {
        each!(self, cc => cc.on_idle_restart(now));
    }

    /// [`CongestionControl::undo`] of the algorithm held.
    pub fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        each!(self, cc => cc.undo(prior_cwnd, prior_ssthresh));
    }

    /// [`CongestionControl::restore`] of the algorithm held.
    pub fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        each!(self, cc => cc.restore(cwnd, ssthresh));
    }

    /// [`CongestionControl::metrics`] of the algorithm held.
    pub fn metrics(&self) -> CcMetrics {
        each!(self, cc => cc.metrics())
    }

    /// [`CongestionControl::clone_box`]: a copy of the algorithm held, in its own box (not
    /// wrapped in a `Controller`).
    pub fn clone_box(&self) -> Box<dyn CongestionControl> {
        each!(self, cc => cc.clone_box())
    }
}

impl CongestionControl for Controller {
    fn name(&self) -> &'static str {
        Controller::name(self)
    }

    #[inline]
    fn window(&self) -> u32 {
        Controller::window(self)
    }

    #[inline]
    fn ssthresh(&self) -> u32 {
        Controller::ssthresh(self)
    }

    fn in_slow_start(&self) -> bool {
        Controller::in_slow_start(self)
    }

    fn on_ack(&mut self, now: Instant, acked_bytes: u32, rtt: Option<Duration>, app_limited: bool) {
        Controller::on_ack(self, now, acked_bytes, rtt, app_limited);
    }

    fn on_new_ack(&mut self, now: Instant, ack: &NewAck) {
        Controller::on_new_ack(self, now, ack);
    }

    fn on_congestion_event(&mut self, now: Instant, event: CongestionEvent, flight_size: u32) {
        Controller::on_congestion_event(self, now, event, flight_size);
    }

    fn on_recovery_exit(&mut self, now: Instant, flight_size: u32) {
        Controller::on_recovery_exit(self, now, flight_size);
    }

    fn on_mss_change(&mut self, mss: u32) {
        Controller::on_mss_change(self, mss);
    }

    fn on_idle_restart(&mut self, now: Instant) {
        Controller::on_idle_restart(self, now);
    }

    fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        Controller::undo(self, prior_cwnd, prior_ssthresh);
    }

    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        Controller::restore(self, cwnd, ssthresh);
    }

    fn metrics(&self) -> CcMetrics {
        Controller::metrics(self)
    }

    /// A copy of the algorithm held, in its own box (not wrapped in a `Controller`).
    fn clone_box(&self) -> Box<dyn CongestionControl> {
        Controller::clone_box(self)
    }
}
