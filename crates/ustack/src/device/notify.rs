//! A wake-up signal between threads: the readiness of in-memory devices and the application's
//! nudge to a driver.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A wake-up signal that is kept until consumed, like a thread-park token.
///
/// [`notify`](Notify::notify) sets the signal and wakes waiters;
/// [`wait_timeout`](Notify::wait_timeout) returns at once when the signal is set (and clears
/// it), otherwise it waits for a `notify` or the timeout. A `notify` that comes while nobody
/// waits is therefore not lost: the next wait returns at once. Several notifies before a wait
/// collapse into one wake-up; the woken side drains everything that is waiting (all packets,
/// all queued work), so one is enough.
///
/// Share it as `Arc<Notify>`: a device signals it when a packet arrives and the application
/// signals it to nudge the driver, which waits on it with its next timer as the timeout (see
/// the [device module docs](super)).
#[derive(Debug, Default)]
pub struct Notify {
    signaled: Mutex<bool>,
    cond: Condvar,
}

impl Notify {
    /// A signal that is not set.
    pub fn new() -> Self {
        Notify::default()
    }

    /// Sets the signal and wakes the threads waiting on it.
    pub fn notify(&self) {
        *self.lock() = true;
        self.cond.notify_all();
    }

    /// Waits until the signal is set or `timeout` has passed. Returns `true` when the signal
    /// was set (and clears it), `false` on timeout.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let mut signaled = self.lock();
        // A timeout too large for the clock means "no timeout".
        let deadline = Instant::now().checked_add(timeout);
        while !*signaled {
            signaled = match deadline {
                None => self.cond.wait(signaled).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.cond.wait_timeout(signaled, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
        *signaled = false;
        true
    }

    /// Waits until the signal is set, then clears it.
    pub fn wait(&self) {
        let mut signaled = self.lock();
        while !*signaled {
            signaled = self.cond.wait(signaled).unwrap_or_else(PoisonError::into_inner);
        }
        *signaled = false;
    }

    /// The flag is a plain bool, valid whatever a panicking holder left, so poisoning is
    /// ignored.
    fn lock(&self) -> MutexGuard<'_, bool> {
        self.signaled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn signal_before_wait_is_kept_and_consumed() {
        let n = Notify::new();
        n.notify();
        n.notify();
        assert!(n.wait_timeout(Duration::ZERO));
        assert!(!n.wait_timeout(Duration::from_millis(1)), "the two notifies collapse into one");
    }

    #[test]
    fn wakes_a_waiter_on_another_thread() {
        let n = Arc::new(Notify::new());
        let waiter = {
            let n = Arc::clone(&n);
            thread::spawn(move || n.wait_timeout(Duration::from_secs(30)))
        };
        n.notify();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn huge_timeout_means_no_timeout() {
        let n = Notify::new();
        n.notify();
        assert!(n.wait_timeout(Duration::MAX));
        n.notify();
        n.wait();
    }
}
