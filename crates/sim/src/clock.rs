//! The simulation's clock: it moves only when the simulator jumps to the next event.

use ustack_core::{Duration, Instant};

/// Virtual time. It never goes backwards and never moves on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtualClock {
    now: Instant,
}

impl VirtualClock {
    /// A clock at the epoch.
    pub const fn new() -> Self {
        VirtualClock { now: Instant::ZERO }
    }

    /// The current virtual time.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Jumps to `to`, the time of the next event. Earlier times are ignored: events due in the
    /// past run at the current time.
    pub fn advance_to(&mut self, to: Instant) {
        if to > self.now {
            self.now = to;
        }
    }

    /// Moves forward by `d`.
    pub fn advance_by(&mut self, d: Duration) {
        self.now += d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let mut c = VirtualClock::new();
        c.advance_to(Instant::from_millis(5));
        c.advance_to(Instant::from_millis(2));
        assert_eq!(c.now(), Instant::from_millis(5));
        c.advance_by(Duration::from_millis(1));
        assert_eq!(c.now(), Instant::from_millis(6));
    }
}
