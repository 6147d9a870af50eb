//! A ustack-core [`Stack`] is a [`Host`]: the network drives it directly, and a host's secret
//! comes from the network's seed so that a run replays from it.

use ustack_core::{Instant, Stack};

use crate::host::Host;
use crate::net::Network;

/// A bare stack: packets in, packets out, timers. Its socket events wait in the stack until
/// the caller polls them (reach the stack with [`Network::host_mut`]); to run an application
/// after every input, wrap the stack in a [`SimHost`](crate::SimHost).
impl Host for Stack {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        Stack::handle_packet(self, now, iface, packet);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        Stack::poll_transmit(self, now, buf).map(|t| (t.iface, t.len))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Stack::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Stack::handle_timeout(self, now);
    }
}

impl Network {
    /// A 16-byte secret for a host's [`StackConfig`](ustack_core::StackConfig) (it keys ISNs,
    /// port choice and the stack's hash tables), fixed by the network's seed and `label`:
    /// give each host its own label (below 2^62) and the run replays from the seed.
    ///
    /// ```
    /// use ustack_sim::Network;
    ///
    /// let net = Network::new(7);
    /// assert_eq!(net.derive_secret(0), Network::new(7).derive_secret(0));
    /// assert_ne!(net.derive_secret(0), net.derive_secret(1));
    /// assert_ne!(net.derive_secret(0), Network::new(8).derive_secret(0));
    /// ```
    pub fn derive_secret(&self, label: u64) -> [u8; 16] {
        let mut secret = [0; 16];
        secret[..8].copy_from_slice(&self.derive_seed(2 * label).to_le_bytes());
        secret[8..].copy_from_slice(&self.derive_seed(2 * label + 1).to_le_bytes());
        secret
    }
}
