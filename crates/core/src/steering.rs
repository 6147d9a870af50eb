//! Queue steering for a multi-queue device with a stack per queue (a shard): which queue the
//! device hands a packet to, computed from the packet's ports so that every packet of a
//! connection or flow reaches the one shard that holds it.
//!
//! A device that steers by this rule (the TUN driver in `ustack` loads it into the kernel as
//! an eBPF program, `TUNSETSTEERINGEBPF`) hands a packet addressed to the stack to queue
//! [`queue_for`]`(protocol, source port, destination port, queues)`: for TCP a hash of both
//! ports, so that connections the kernel opens spread over the shards; for UDP a hash of the
//! destination (the stack's) port alone, so that a socket's datagrams from anyone arrive on
//! its shard; anything else (ICMP, IPv4 fragments, IPv6 packets with extension headers) on
//! queue 0.
//!
//! A stack told its place ([`Stack::set_shard`]) picks its ephemeral ports so the rule sends
//! the answers back to it: a TCP connect only a port whose hash with the destination's port
//! names its queue, a UDP socket bound to port 0 only a port that does. Whatever the kernel
//! opens lands where the rule says, and that shard owns it. What the rule cannot place: a
//! listener on a port chosen by binding port 0 on one shard (the kernel's connections to it
//! go by their own ports: bind it on every shard, as `ustack tun` does), and fragmented UDP
//! datagrams (queue 0).

use ustack_wire::IpProtocol;

use crate::stack::Stack;

/// A stack's place among the shards of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard's queue, below `queues`.
    pub queue: u16,
    /// How many queues (shards) the device has, at least 1.
    pub queues: u16,
}

/// The multiplier of the port hash: the 32-bit golden ratio (Fibonacci hashing), whose high
/// bits mix every bit of the two ports.
pub const MULTIPLIER: u32 = 0x9e37_79b1;

/// The hash of a packet's ports: the top 16 bits of `(source << 16 | destination) *
/// MULTIPLIER` in 32-bit arithmetic, as the eBPF program computes it. (A product's high bits
/// depend on every bit of the operand; its low ones only on the operand's low bits, which is
/// why the queue is taken from the top too.)
pub fn port_hash(src_port: u16, dst_port: u16) -> u32 {
    ((u32::from(src_port) << 16) | u32::from(dst_port)).wrapping_mul(MULTIPLIER) >> 16
}

/// The queue, of `queues`, that a packet of `protocol` from `src_port` to `dst_port` (the
/// stack's) is steered to: `(hash * queues) >> 16`, the hash scaled to the queues (as
/// Linux's `reciprocal_scale`).
pub fn queue_for(protocol: IpProtocol, src_port: u16, dst_port: u16, queues: u16) -> u16 {
    let hash = match protocol {
        IpProtocol::TCP => port_hash(src_port, dst_port),
        IpProtocol::UDP => port_hash(0, dst_port),
        _ => 0,
    };
    ((hash * u32::from(queues.max(1))) >> 16) as u16
}

impl Shard {
    /// Whether packets of `protocol` from `remote_port` to the stack's `local_port` come to
    /// this shard.
    pub fn takes(&self, protocol: IpProtocol, remote_port: u16, local_port: u16) -> bool {
        queue_for(protocol, remote_port, local_port, self.queues) == self.queue
    }
}

impl Stack {
    /// Tells the stack it is `shard` of a multi-queue device that steers by [`queue_for`]
    /// (module documentation), or that it is alone (`None`, the default): its ephemeral
    /// ports are then chosen so that the answers come back to its queue.
    pub fn set_shard(&mut self, shard: Option<Shard>) {
        debug_assert!(shard.is_none_or(|s| s.queue < s.queues));
        self.shard = shard;
    }

    /// The stack's place among the shards of its device, if it has one.
    pub fn shard(&self) -> Option<Shard> {
        self.shard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_spreads_over_both_ports_and_udp_goes_by_the_local_port_alone() {
        // Connections from consecutive kernel ports to one listening port spread over every
        // queue, about evenly.
        let mut per_queue = [0u32; 4];
        for kernel_port in 40_000..44_000u16 {
            per_queue[usize::from(queue_for(IpProtocol::TCP, kernel_port, 80, 4))] += 1;
        }
        assert!(per_queue.iter().all(|&n| (800..1200).contains(&n)), "{per_queue:?}");
        // Even ports only (Linux's connect prefers them) spread too.
        let mut even = [0u32; 2];
        for kernel_port in (40_000..44_000u16).step_by(2) {
            even[usize::from(queue_for(IpProtocol::TCP, kernel_port, 80, 2))] += 1;
        }
        assert!(even.iter().all(|&n| (800..1200).contains(&n)), "{even:?}");
        // A UDP socket's datagrams all reach one queue, whoever sends them.
        let q = queue_for(IpProtocol::UDP, 1, 5353, 4);
        assert!((2..65535).all(|from| queue_for(IpProtocol::UDP, from, 5353, 4) == q));
        // Other protocols: queue 0; one queue: always 0.
        assert_eq!(queue_for(IpProtocol::ICMP, 7, 7, 4), 0);
        assert!((0..1000).all(|p| queue_for(IpProtocol::TCP, p, 80, 1) == 0));
    }

    #[test]
    fn the_hash_is_the_documented_formula() {
        assert_eq!(port_hash(0, 0), 0);
        assert_eq!(port_hash(0, 1), MULTIPLIER >> 16);
        assert_eq!(port_hash(1, 0), 0x0001_0000u32.wrapping_mul(MULTIPLIER) >> 16);
        assert_eq!(
            port_hash(443, 50_000),
            ((443u32 << 16 | 50_000).wrapping_mul(MULTIPLIER)) >> 16
        );
    }
}
