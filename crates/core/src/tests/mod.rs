//! Stack tests: two stacks joined back to back in virtual time.

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::{Instant, InterfaceConfig, Ipv4Cidr, SocketEvent, Stack, StackConfig};

mod basic;

pub(crate) const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub(crate) fn stack(addr: Ipv4Addr, secret: u8) -> Stack {
    stack_with(addr, StackConfig::new([secret; 16]))
}

pub(crate) fn stack_with(addr: Ipv4Addr, cfg: StackConfig) -> Stack {
    let mut s = Stack::new(cfg).expect("valid config");
    s.add_interface(InterfaceConfig { addr: Ipv4Cidr::new(addr, 24).unwrap(), mtu: 1500 });
    s
}

pub(crate) fn sa(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip, port)
}

/// Decides, per packet (`from_a`, bytes), whether the wire loses it.
pub(crate) type DropRule = Box<dyn FnMut(bool, &[u8]) -> bool>;

/// Two stacks on one wire (no delay unless `delay` is set), a virtual clock, a capture of
/// every packet and the events each side reported.
pub(crate) struct Pair {
    pub(crate) a: Stack,
    pub(crate) b: Stack,
    pub(crate) now: Instant,
    /// Packets in flight: (arrival time, to_b, bytes).
    pub(crate) wire: Vec<(Instant, bool, Vec<u8>)>,
    pub(crate) delay: crate::Duration,
    /// Every packet sent: (time, from_a, bytes).
    pub(crate) log: Vec<(Instant, bool, Vec<u8>)>,
    pub(crate) events_a: Vec<SocketEvent>,
    pub(crate) events_b: Vec<SocketEvent>,
    /// Drop the next packet for which this returns true.
    pub(crate) drop_if: Option<DropRule>,
}

impl Pair {
    pub(crate) fn new() -> Pair {
        Pair::with(stack(A, 1), stack(B, 2))
    }

    pub(crate) fn with(a: Stack, b: Stack) -> Pair {
        Pair {
            a,
            b,
            now: Instant::from_secs(1),
            wire: Vec::new(),
            delay: crate::Duration::from_millis(1),
            log: Vec::new(),
            events_a: Vec::new(),
            events_b: Vec::new(),
            drop_if: None,
        }
    }

    /// Moves packets until nothing is in flight and both stacks are quiet; timers fire only
    /// while packets are in flight before `until` (no jump to a far timer).
    pub(crate) fn settle(&mut self) {
        self.run_until(self.now, false);
    }

    /// Runs until `until`, firing timers on the way.
    pub(crate) fn run_for(&mut self, d: crate::Duration) {
        let until = self.now + d;
        self.run_until(until, true);
    }

    fn flush(&mut self) {
        let mut buf = vec![0u8; 65_536];
        for from_a in [true, false] {
            let (s, events) = if from_a {
                (&mut self.a, &mut self.events_a)
            } else {
                (&mut self.b, &mut self.events_b)
            };
            while let Some(t) = s.poll_transmit(self.now, &mut buf) {
                let pkt = buf[..t.len].to_vec();
                self.log.push((self.now, from_a, pkt.clone()));
                let dropped = self.drop_if.as_mut().is_some_and(|f| f(from_a, &pkt));
                if !dropped {
                    self.wire.push((self.now + self.delay, from_a, pkt));
                }
            }
            while let Some(e) = s.poll_event() {
                events.push(e);
            }
        }
    }

    fn run_until(&mut self, until: Instant, timers: bool) {
        for _ in 0..10_000_000 {
            self.flush();
            let next_pkt = self.wire.iter().map(|w| w.0).min();
            let next_timer =
                [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
            let next = match (next_pkt, next_timer) {
                (Some(p), Some(t)) if timers || t <= p => Some(p.min(t)),
                (Some(p), _) => Some(p),
                (None, Some(t)) if timers => Some(t),
                _ => None,
            };
            let Some(next) = next.filter(|&n| n <= until || (!timers && next_pkt.is_some())) else {
                if timers && self.now < until {
                    self.now = until;
                }
                return;
            };
            self.now = self.now.max(next);
            let mut i = 0;
            while i < self.wire.len() {
                if self.wire[i].0 <= self.now {
                    let (_, to_b, pkt) = self.wire.remove(i);
                    if to_b {
                        self.b.handle_packet(self.now, 0, &pkt)
                    } else {
                        self.a.handle_packet(self.now, 0, &pkt)
                    }
                } else {
                    i += 1;
                }
            }
            if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                self.b.handle_timeout(self.now);
            }
        }
        panic!("run did not settle");
    }
}
