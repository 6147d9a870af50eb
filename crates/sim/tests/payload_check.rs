//! The scenarios check every byte they read: a byte changed on the way, in a packet whose
//! checksums were made to match, so that TCP takes it, fails the transfer and is named at its
//! offset in the stream.

use core::net::{Ipv4Addr, SocketAddr};

use ustack_core::tcp_engine::TcpConfig;
use ustack_core::{InterfaceConfig, Ipv4Cidr, Stack, StackConfig};
use ustack_sim::scenario::{Failure, Side, Status, StreamClient, StreamServer};
use ustack_sim::{Bounds, Duration, Host, Instant, LinkConfig, Network, SimHost};
use ustack_wire::{Ipv4Packet, SeqNum, TcpFlags, TcpPacket};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A host that changes one byte of what it sends: the first copy of stream byte `at` of its
/// (one) TCP connection, then fixes the TCP checksum, as a sender with a bug would.
struct Tamper<H> {
    inner: H,
    at: u64,
    /// The client's initial sequence number, from its SYN.
    isn: Option<SeqNum>,
    /// (stream offset, value sent there) once tampered with.
    changed: Option<(u64, u8)>,
}

impl<H: Host> Tamper<H> {
    fn tamper(&mut self, packet: &mut [u8]) {
        let Ok(ip) = Ipv4Packet::new_checked(&packet[..]) else { return };
        let (src, dst, hlen) = (ip.src_addr(), ip.dst_addr(), ip.header_len());
        let Ok(mut tcp) = TcpPacket::new_checked(&mut packet[hlen..]) else { return };
        if tcp.flags().contains(TcpFlags::SYN) {
            self.isn = Some(tcp.seq_number());
            return;
        }
        let (Some(isn), None) = (self.isn, self.changed) else { return };
        let start = u64::from(tcp.seq_number().0.wrapping_sub(isn.0).wrapping_sub(1));
        let len = tcp.payload().len() as u64;
        if !(start..start + len).contains(&self.at) {
            return;
        }
        let byte = &mut tcp.payload_mut()[(self.at - start) as usize];
        *byte ^= 0x5a;
        self.changed = Some((self.at, *byte));
        tcp.fill_checksum(src, dst);
    }
}

impl<H: Host> Host for Tamper<H> {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.inner.handle_packet(now, iface, packet);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        let (iface, len) = self.inner.poll_transmit(now, buf)?;
        self.tamper(&mut buf[..len]);
        Some((iface, len))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }
}

fn stack(net: &Network, label: u64, addr: Ipv4Addr) -> Stack {
    let cfg = StackConfig { tcp: TcpConfig::LINUX, ..StackConfig::new(net.derive_secret(label)) };
    let mut s = Stack::new(cfg).unwrap();
    s.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).unwrap(), 1500));
    s
}

/// A one-connection bulk transfer of `bytes`, the client changing stream byte `at`: what the
/// server reported, and what the client changed.
fn transfer_with_byte_changed(bytes: u64, at: u64) -> (Option<Failure>, Option<(u64, u8)>) {
    let mut net = Network::new(11);
    let server_addr = SocketAddr::from((SERVER, 5001));
    let client = SimHost::new(stack(&net, 0, CLIENT), StreamClient::new(server_addr, 1, bytes));
    let client = net.add_host(Tamper { inner: client, at, isn: None, changed: None });
    let server = SimHost::new(stack(&net, 1, SERVER), StreamServer::new(server_addr, 1, bytes));
    let server = net.add_host(server);
    let link = LinkConfig::new().rate_bps(100_000_000).delay(Duration::from_millis(2));
    net.connect(client.iface(0), server.iface(0), link).unwrap();
    let bounds = Bounds::time(Duration::from_secs(60));
    net.run_while(bounds, |net| {
        let s = net.host(server).app();
        s.failure().is_none() && !s.done()
    })
    .unwrap();
    (net.host(server).app().failure().cloned(), net.host(client).changed)
}

#[test]
fn a_byte_changed_with_matching_checksums_fails_the_transfer_at_its_offset() {
    // Offsets near the start, at a 64 KiB boundary and deep into the stream.
    for at in [0, 1_000, 65_535, 65_536, 250_001] {
        let (failure, changed) = transfer_with_byte_changed(300_000, at);
        let (offset, value) = changed.expect("the client sent the byte");
        assert_eq!(offset, at);
        match failure {
            Some(Failure::Data { side: Side::Server, conn: 0, detail }) => {
                let named = format!("byte {at} is {value:#04x}, expected ");
                assert!(detail.starts_with(&named), "at {at}: {detail}");
            }
            other => panic!("at {at}: the server reported {other:?}"),
        }
    }
}

#[test]
fn the_same_transfer_untouched_passes() {
    // The control: past the end of the stream, nothing is changed, and the transfer passes.
    let (failure, changed) = transfer_with_byte_changed(300_000, 300_000);
    assert_eq!(changed, None);
    assert_eq!(failure, None);
}
