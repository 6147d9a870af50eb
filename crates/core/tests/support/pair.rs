//! Two stacks joined in memory (10.0.0.1 and 10.0.0.2, Linux's settings, MTU 1500), for the
//! integration tests that count allocations: each such test file includes it with `#[path =
//! "support/pair.rs"] mod pair;` and adds the steps it needs in an `impl Pair` of its own.

use std::net::Ipv4Addr;

use ustack_core::{Instant, InterfaceConfig, Ipv4Cidr, Stack, StackConfig};

pub(crate) const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub(crate) struct Pair {
    pub(crate) a: Stack,
    pub(crate) b: Stack,
    pub(crate) now: Instant,
    pub(crate) buf: Vec<u8>,
}

impl Pair {
    /// A at 10.0.0.1 and B at 10.0.0.2, at 1 s.
    pub(crate) fn new() -> Pair {
        let stack = |addr, secret| {
            let mut s = Stack::new(StackConfig::new([secret; 16])).expect("a valid configuration");
            s.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).expect("a /24"), 1500));
            s
        };
        Pair { a: stack(A, 1), b: stack(B, 2), now: Instant::from_secs(1), buf: vec![0; 1500] }
    }

    /// Hands packets both ways until neither stack has any, firing due timers first.
    pub(crate) fn pump(&mut self) {
        for s in [&mut self.a, &mut self.b] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
            }
        }
        loop {
            let mut moved = false;
            for from_a in [true, false] {
                let (tx, rx) =
                    if from_a { (&mut self.a, &mut self.b) } else { (&mut self.b, &mut self.a) };
                while let Some(t) = tx.poll_transmit(self.now, &mut self.buf) {
                    rx.handle_packet(self.now, 0, &self.buf[..t.len]);
                    moved = true;
                }
                while tx.poll_event().is_some() {}
            }
            if !moved {
                break;
            }
        }
    }
}
