//! IPv6 stack ingress: raw bytes handed to a dual-stack `Stack` as IPv6 packets, after
//! optional fix-ups that get them past validation (version 6, the addresses of a live flow or
//! of the fuzzer's host, the payload length, the ports of a live flow, the TCP, UDP or ICMPv6
//! checksum over the IPv6 pseudo-header when the upper layer follows the fixed header),
//! interleaved with the wire between the stack and an IPv6 peer stack, virtual time and
//! application reads. The stack is in transparent (any-IP) mode with an any-IP listener and
//! UDP socket, and a fix-up aims a packet at a foreign address, so that what a tun2socks
//! stack takes for other hosts is fuzzed too. Checks: nothing panics; `poll_transmit` runs
//! dry; every IPv6 packet the stack sends parses, comes from one of its addresses or (being
//! transparent) from a unicast address beyond the link, and fits the MTU.

use core::net::{IpAddr, Ipv6Addr, SocketAddr};

use arbitrary::{Arbitrary, Unstructured};
use ustack_core::wire::checksum::{self, Checksum};
use ustack_core::wire::{IpProtocol, Ipv6Packet};
use ustack_core::{
    Duration, Instant, InterfaceConfig, Ipv4Cidr, Ipv6Cidr, SocketHandle, Stack, StackConfig,
};

/// The stack under test.
pub const S6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// Its peer stack.
pub const P6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// The fuzzer's host: what the stack sends there is lost.
pub const GHOST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3);
/// A host beyond the link that the stack under test answers for in transparent mode.
pub const FOREIGN6: Ipv6Addr = Ipv6Addr::new(0x2606, 0x2800, 0x220, 1, 0, 0, 0, 0x42);

/// One step of a run.
#[derive(Arbitrary, Debug)]
pub enum Op6 {
    /// A packet for the stack under test.
    Packet {
        /// Fix-ups, one bit each: 1 version, 2 addresses, 4 aim at the live flow,
        /// 8 payload length, 16 upper-layer checksum, 32 to [`FOREIGN6`] instead of the
        /// stack's own address (with 2 or 4).
        fix: u8,
        /// The packet (at most 2,000 bytes are used).
        bytes: Vec<u8>,
    },
    /// Both stacks' transmits onto the wire, delivered.
    Drain,
    /// Some milliseconds pass; due timers fire.
    Time(u16),
    /// The applications read and write on their connections and sockets.
    App(u8),
}

struct Host {
    stack: Stack,
    addr: Ipv6Addr,
    mtu: usize,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mtu = 1280 + usize::from(u.arbitrary::<u8>().unwrap_or(0)) % 221;
    let mut s = host(S6, mtu, [1; 16]);
    let mut p = host(P6, mtu, [2; 16]);
    let mut now = Instant::from_nanos(0);
    let listener = s.stack.tcp_listen(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 80), 8, true);
    let udp = s.stack.udp_bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 53));
    let (Ok(listener), Ok(udp)) = (listener, udp) else { panic!("setting up the stack") };
    s.stack.set_transparent(true);
    let (Ok(any_tcp), Ok(any_udp)) = (s.stack.tcp_listen_any(8), s.stack.udp_bind_any()) else {
        panic!("setting up the any-IP sockets")
    };
    let conn = p
        .stack
        .tcp_connect(now, None, SocketAddr::new(S6.into(), 80))
        .expect("the peer connecting");
    let mut live = SocketAddr::new(P6.into(), 0);
    wire(&mut s, &mut p, now);
    let mut accepted: Vec<SocketHandle> = Vec::new();
    if let Some(h) = s.stack.tcp_accept(listener) {
        live = s.stack.tcp_peer_addr(h);
        accepted.push(h);
    }
    let mut steps = 0;
    while let Ok(op) = u.arbitrary::<Op6>() {
        steps += 1;
        if steps > 256 {
            break;
        }
        match op {
            Op6::Packet { fix, bytes } => {
                let b = fix_up(fix, &bytes[..bytes.len().min(2000)], live);
                s.stack.handle_packet(now, 0, &b);
                check_out(&mut s, now);
            }
            Op6::Drain => wire(&mut s, &mut p, now),
            Op6::Time(ms) => {
                now += Duration::from_millis(u64::from(ms));
                for h in [&mut s, &mut p] {
                    if h.stack.poll_timeout().is_some_and(|t| t <= now) {
                        h.stack.handle_timeout(now);
                    }
                }
                wire(&mut s, &mut p, now);
            }
            Op6::App(what) => {
                let mut buf = [0u8; 4096];
                while let Some(h) = s.stack.tcp_accept(listener) {
                    accepted.push(h);
                }
                while let Some(h) = s.stack.tcp_accept(any_tcp) {
                    accepted.push(h);
                }
                for &h in &accepted {
                    if s.stack.contains(h) {
                        let _ = s.stack.tcp_recv(h, &mut buf);
                        if what & 1 != 0 {
                            let _ = s.stack.tcp_send(h, &buf[..usize::from(what)]);
                        }
                    }
                }
                let _ = s.stack.udp_recv_from(udp, &mut buf);
                // The any-IP socket answers each datagram from where it was sent.
                if let Ok((n, from, to)) = s.stack.udp_recv_from_to(any_udp, &mut buf) {
                    let _ = s.stack.udp_send_from_to(now, any_udp, to, from, &buf[..n.min(64)]);
                }
                if p.stack.contains(conn) {
                    let _ = p.stack.tcp_send(conn, &[what; 100]);
                    let _ = p.stack.tcp_recv(conn, &mut buf);
                }
                wire(&mut s, &mut p, now);
            }
        }
    }
    // Wind down: everything closed, time runs on; the stacks must end without a panic.
    for h in accepted {
        if s.stack.contains(h) {
            s.stack.close(now, h);
        }
    }
    if p.stack.contains(conn) {
        p.stack.close(now, conn);
    }
    for _ in 0..50 {
        now += Duration::from_secs(5);
        for h in [&mut s, &mut p] {
            h.stack.handle_timeout(now);
        }
        wire(&mut s, &mut p, now);
    }
}

fn host(addr: Ipv6Addr, mtu: usize, secret: [u8; 16]) -> Host {
    let mut stack = Stack::new(StackConfig::new(secret)).expect("default settings");
    let v4 = Ipv4Cidr::new(core::net::Ipv4Addr::new(10, 0, 0, addr.octets()[15]), 24);
    let iface = InterfaceConfig::ipv4(v4.expect("a /24"), mtu as u16)
        .with_ipv6(Ipv6Cidr::new(addr, 64).expect("a /64"));
    stack.add_interface(iface);
    Host { stack, addr, mtu }
}

/// Both stacks' transmits to each other until neither has anything left (bounded).
fn wire(s: &mut Host, p: &mut Host, now: Instant) {
    for _ in 0..64 {
        let to_p = check_out(s, now);
        let to_s = check_out(p, now);
        if to_p.is_empty() && to_s.is_empty() {
            return;
        }
        for pkt in to_p.iter().filter(|b| dst6(b) == Some(p.addr)) {
            p.stack.handle_packet(now, 0, pkt);
        }
        for pkt in to_s.iter().filter(|b| dst6(b) == Some(s.addr)) {
            s.stack.handle_packet(now, 0, pkt);
        }
    }
}

fn dst6(b: &[u8]) -> Option<Ipv6Addr> {
    Ipv6Packet::new_checked(b).ok().map(|v| v.dst_addr())
}

/// Drains `h`'s transmits, checking each IPv6 packet.
fn check_out(h: &mut Host, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Some(t) = h.stack.poll_transmit(now, &mut buf) {
        let pkt = &buf[..t.len];
        assert!(pkt.len() <= h.mtu, "a {}-byte packet on a {}-byte MTU", pkt.len(), h.mtu);
        if pkt.first().is_some_and(|v| v >> 4 == 6) {
            let v =
                Ipv6Packet::new_checked(pkt).expect("the stack sent an IPv6 packet that parses");
            let src = v.src_addr();
            assert!(
                src == h.addr || (h.stack.transparent() && stands_for(src)),
                "the source {src} of an IPv6 packet the stack sent"
            );
        }
        out.push(pkt.to_vec());
        assert!(out.len() <= 10_000, "poll_transmit does not run dry");
    }
    out
}

/// Whether transparent mode may answer from `a` (RFC 4291 §2: a unicast address beyond the
/// link): not `::`, `::1`, multicast, link-local or IPv4-mapped.
fn stands_for(a: Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || a.is_unicast_link_local()
        || a.to_ipv4_mapped().is_some())
}

/// The fix-ups `fix` asks for (see [`Op6::Packet`]).
fn fix_up(fix: u8, bytes: &[u8], live: SocketAddr) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if fix & 1 != 0 && !b.is_empty() {
        b[0] = 0x60 | (b[0] & 0x0f);
    }
    if b.len() < 40 {
        return b;
    }
    let aim = fix & 4 != 0 && live.port() != 0;
    if aim || fix & 2 != 0 {
        let src = match (aim, live.ip()) {
            (true, IpAddr::V6(a)) => a,
            _ => GHOST6,
        };
        let dst = if fix & 32 != 0 { FOREIGN6 } else { S6 };
        b[8..24].copy_from_slice(&src.octets());
        b[24..40].copy_from_slice(&dst.octets());
    }
    if aim && b.len() >= 44 {
        b[40..42].copy_from_slice(&live.port().to_be_bytes());
        b[42..44].copy_from_slice(&80u16.to_be_bytes());
    }
    if fix & 8 != 0 {
        let len = (b.len() - 40).min(65_535) as u16;
        b[4..6].copy_from_slice(&len.to_be_bytes());
    }
    if fix & 16 != 0 {
        fix_checksum(&mut b);
    }
    b
}

/// Recomputes the TCP, UDP or ICMPv6 checksum of an upper layer right after the fixed header.
fn fix_checksum(b: &mut [u8]) {
    let total = (40 + usize::from(u16::from_be_bytes([b[4], b[5]]))).min(b.len());
    let next = b[6];
    let at = match IpProtocol(next) {
        IpProtocol::TCP => 16,
        IpProtocol::UDP => 6,
        IpProtocol::ICMPV6 => 2,
        _ => return,
    };
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&b[8..24]);
    dst.copy_from_slice(&b[24..40]);
    let l4 = &mut b[40..total];
    if l4.len() < at + 2 {
        return;
    }
    l4[at..at + 2].fill(0);
    let mut c = Checksum::new();
    c.add_sum(checksum::pseudo_header_v6(src.into(), dst.into(), next, l4.len() as u32));
    c.add_bytes(l4);
    let mut sum = c.finish();
    if next == IpProtocol::UDP.0 && sum == 0 {
        sum = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    /// Pseudo-random inputs: the harness's own check that setup, steps and wind-down hold.
    #[test]
    fn pseudo_random_inputs_pass_every_check() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..200 {
            let data: Vec<u8> = (0..(i * 53) % 3000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            super::run(&data);
        }
    }
}
