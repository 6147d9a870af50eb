//! A blind attacker off the path floods the receiver of a bulk transfer with spoofed data
//! segments: the connection's 4-tuple, the sender as the source, random sequence and
//! acknowledgment numbers, 512 bytes of payload, 10,000 a second for the whole transfer.
//!
//! RFC 5961 and RFC 9293 §3.10.7.4 say what the receiver does with them: a segment outside the
//! receive window is dropped and answered with an ACK (rate-limited in Linux,
//! `tcp_invalid_ratelimit`, 500 ms); one inside it whose acknowledgment number is not
//! acceptable is dropped too (RFC 5961 §5.2, with a challenge ACK under a host-wide limit).
//! None of it carries new information for the sender: an ACK that acknowledges nothing new,
//! carries no SACK block and no window change is a bare duplicate, which must not start loss
//! recovery on a SACK connection (RFC 6675 §5: recovery starts from SACKed data) nor shrink
//! the window. So the flood may cost the transfer the bandwidth of those ACKs and little
//! else: the test asks for at least 90% of the goodput without it.
//!
//! Both runs use the same seed, so the link, the ISNs and the ports are the same; only the
//! flood differs. Everything happens in virtual time.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ustack_core::tcp_engine::{ConnStats, TcpConfig, TcpState};
use ustack_core::{InterfaceConfig, Ipv4Cidr, SocketHandle, Stack, StackConfig};
use ustack_sim::scenario::{Status, StreamClient, StreamServer};
use ustack_sim::{Bounds, Duration, Inject, Injector, Instant, LinkConfig, Network, SimHost};
use ustack_wire::SeqNum;
use ustack_wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use ustack_wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;

/// Spoofed segments from the client to the server at a fixed rate, from when
/// [`Flood::aim`] gives it the client's port: random sequence and acknowledgment numbers,
/// random payload.
struct Flood {
    rng: ChaCha8Rng,
    interval: Duration,
    payload: usize,
    /// The client's port and the time of the next segment, once aimed.
    target: Option<(u16, Instant)>,
    sent: u64,
}

impl Flood {
    fn new(seed: u64, per_second: u64, payload: usize) -> Self {
        Flood {
            rng: ChaCha8Rng::seed_from_u64(seed),
            interval: Duration::from_nanos(1_000_000_000 / per_second),
            payload,
            target: None,
            sent: 0,
        }
    }

    /// Starts at `now`, at the connection from the client's `port`.
    fn aim(&mut self, port: u16, now: Instant) {
        self.target = Some((port, now));
    }
}

impl Injector for Flood {
    fn next_at(&self) -> Option<Instant> {
        self.target.map(|(_, at)| at)
    }

    fn inject(&mut self, _: Instant, buf: &mut [u8]) -> (usize, usize) {
        let (port, at) = self.target.expect("injected only when aimed");
        self.target = Some((port, at + self.interval));
        self.sent += 1;
        let mut payload = vec![0u8; self.payload];
        self.rng.fill(&mut payload[..]);
        let tcp = TcpRepr {
            src_port: port,
            dst_port: PORT,
            seq: SeqNum::new(self.rng.random()),
            ack: SeqNum::new(self.rng.random()),
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 65_535,
            urgent: 0,
            options: TcpOptions::default(),
            payload: &payload,
        };
        let ip = Ipv4Repr {
            src: CLIENT,
            dst: SERVER,
            protocol: IpProtocol::TCP,
            payload_len: tcp.buffer_len(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: self.sent as u16,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let len = ip.buffer_len();
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..len]);
        ip.emit(&mut packet);
        let header = packet.header_len();
        tcp.emit(&mut TcpPacket::new_unchecked(&mut buf[header..len]), CLIENT, SERVER);
        (0, len)
    }
}

/// What one transfer did.
#[derive(Debug)]
struct Outcome {
    goodput_bps: f64,
    /// Spoofed segments handed to the receiver.
    injected: u64,
    /// The sender's connection at the end of the transfer.
    sender: ConnStats,
}

fn stack(net: &Network, label: u64, addr: Ipv4Addr) -> Stack {
    let cfg = StackConfig { tcp: TcpConfig::LINUX, ..StackConfig::new(net.derive_secret(label)) };
    let mut stack = Stack::new(cfg).expect("stack config");
    stack.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).unwrap(), 1500));
    stack
}

/// The connection of `stack` (the only one with a peer).
fn conn(stack: &Stack, now: Instant) -> SocketHandle {
    let sockets = stack.netstat(now).sockets;
    sockets.iter().find(|s| s.peer.is_some()).map(|s| s.handle).expect("a connection")
}

/// `bytes` from client to server over `link` with seed `seed`, and from the moment the
/// connection is established a flood of `per_second` spoofed segments (none at 0). Goodput
/// counts from that moment to the last byte read.
fn transfer(seed: u64, link: &LinkConfig, bytes: u64, per_second: u64) -> Outcome {
    let mut net = Network::new(seed);
    let server_addr = SocketAddr::from(SocketAddrV4::new(SERVER, PORT));
    let client_stack = stack(&net, 0, CLIENT);
    let server_stack = stack(&net, 1, SERVER);
    let client = net.add_host(SimHost::new(client_stack, StreamClient::new(server_addr, 1, bytes)));
    let flood = Flood::new(net.derive_seed(7), per_second.max(1), 512);
    let server_app = StreamServer::new(server_addr, 1, bytes);
    let server = net.add_host(Inject::new(SimHost::new(server_stack, server_app), flood));
    net.connect(client.iface(0), server.iface(0), link.clone()).unwrap();
    let bounds = Bounds::time(Duration::from_secs(600)).max_events(50_000_000);

    // Once the connection is established, the attacker knows (guessed) its port.
    let established = |net: &Network| {
        let sockets = net.host(client).stack().netstat(net.now()).sockets;
        sockets.iter().find(|s| s.state == TcpState::Established).map(|s| s.local.port())
    };
    net.run_while(bounds, |net| established(net).is_none()).unwrap();
    let start = net.now();
    if per_second > 0 {
        let port = established(&net).unwrap();
        net.host_mut(server).injector_mut().aim(port, start);
    }

    let received = |net: &Network| {
        let host = net.host(server).host();
        host.app().received(host.stack()).first().copied()
    };
    let failed = |net: &Network| {
        net.host(server).host().app().failure().or(net.host(client).app().failure()).cloned()
    };
    let done = |net: &Network| {
        failed(net).is_some() || received(net).is_some_and(|r| r.complete_at.is_some())
    };
    net.run_while(bounds, |net| !done(net)).unwrap_or_else(|e| panic!("transfer: {e}"));
    assert_eq!(failed(&net), None, "every byte arrives once, in order, as sent");
    let received = received(&net).unwrap();
    assert_eq!(received.bytes, bytes);
    let elapsed = received.complete_at.unwrap() - start;
    let sender = net.host(client).stack();
    Outcome {
        goodput_bps: bytes as f64 * 8.0 / elapsed.as_secs_f64(),
        injected: net.host(server).injected(),
        sender: sender.tcp_conn(conn(sender, net.now())).stats(),
    }
}

/// 100 Mbit/s, 20 ms round trip, a queue of about a bandwidth-delay product (170 packets),
/// losing `loss` of the packets each way.
fn path(loss: f64) -> LinkConfig {
    LinkConfig::new()
        .rate_bps(100_000_000)
        .delay(Duration::from_millis(10))
        .queue_packets(170)
        .loss(loss)
}

/// The transfer with and without the flood, same seed; asserts the flood ran and returns
/// both.
fn with_and_without(seed: u64, link: &LinkConfig, bytes: u64) -> (Outcome, Outcome) {
    let quiet = transfer(seed, link, bytes, 0);
    let flooded = transfer(seed, link, bytes, FLOOD_PER_SECOND);
    let secs = bytes as f64 * 8.0 / flooded.goodput_bps;
    let expected = (secs * FLOOD_PER_SECOND as f64) as u64;
    assert!(flooded.injected + 1 >= expected, "the flood ran: {flooded:?}");
    (quiet, flooded)
}

const FLOOD_PER_SECOND: u64 = 10_000;

fn assert_costs_less_than_ten_percent(seed: u64, link: &LinkConfig, bytes: u64) {
    let (quiet, flooded) = with_and_without(seed, link, bytes);
    let ratio = flooded.goodput_bps / quiet.goodput_bps;
    assert!(
        ratio >= 0.9,
        "with the flood ({} segments) the transfer ran at {:.2} Mbit/s, {:.1}% of the {:.2} \
         Mbit/s without (seed {seed})\nsender without: {:?}\nsender with: {:?}",
        flooded.injected,
        flooded.goodput_bps / 1e6,
        ratio * 100.0,
        quiet.goodput_bps / 1e6,
        quiet.sender,
        flooded.sender
    );
}

#[test]
fn a_blind_data_flood_costs_a_sack_transfer_less_than_a_tenth_of_its_goodput() {
    // 40 MB take some 3.5 s at 92 Mbit/s: about 35,000 spoofed segments. (Without SACK the
    // same flood halves the goodput: every answer to it is a duplicate ACK that NewReno has to
    // count, RFC 5681 §3.2.)
    assert_costs_less_than_ten_percent(1, &path(0.0), 40_000_000);
}

#[test]
fn a_blind_data_flood_costs_a_lossy_sack_transfer_less_than_a_tenth_of_its_goodput() {
    // The same path losing 1% each way: some 8 Mbit/s, 20 MB in 20 s, 200,000 spoofed
    // segments. Before the sender checked D-SACKs, the flood cost 13% here (86.7% with
    // seed 1); what it changed was the receiver's ACK pattern (every spoofed segment is
    // answered at once, so data is acknowledged segment by segment instead of two by two)
    // and with it how deep the sender's reductions went.
    assert_costs_less_than_ten_percent(1, &path(0.01), 20_000_000);
}

#[test]
fn a_blind_data_flood_makes_the_sender_undo_no_window_reduction() {
    // Half of the spoofed segments lie below the receiver's RCV.NXT, and the receiver reports
    // each with a D-SACK block (RFC 2883 §4; Linux does so too, `tcp_send_dupack`). RFC 2883
    // §5 leaves it to the sender to believe them or not. The sender drops those outside its
    // flight and below the undo marker, as Linux does (`tcp_is_sackblock_valid`); a few fall
    // inside the flight (2 to 5 over 20 MB here), and those count only if they name a
    // segment that was retransmitted, as in Linux (`tcp_sacktag_one`: `TCPCB_RETRANS`).
    // Before that last check the flood got 3 to 4 reductions of real losses undone, and the
    // transfer ran at 160 to 213% of its goodput without the flood (seeds 1, 2): an
    // off-path attacker turned congestion control off.
    let (quiet, flooded) = with_and_without(1, &path(0.001), 20_000_000);
    assert!(
        flooded.sender.spurious_undos <= quiet.sender.spurious_undos,
        "{} undos with the flood, {} without; D-SACKs taken: {} with, {} without",
        flooded.sender.spurious_undos,
        quiet.sender.spurious_undos,
        flooded.sender.dsacks_received,
        quiet.sender.dsacks_received
    );
}
