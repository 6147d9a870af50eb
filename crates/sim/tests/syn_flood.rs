//! SPEC S8 in the simulator: 1,000,000 SYNs from random spoofed sources at line rate against
//! a listener with the default backlog (128). With SYN cookies (Linux's default,
//! `tcp_syncookies` 1) the server keeps nothing for the flood beyond its full SYN queue, its
//! memory stays flat, and a client connecting during the flood gets in on its first SYN, as
//! fast as without the flood. Without cookies the same client's SYNs are dropped until the
//! flood's half-open connections expire.
//!
//! Topology: the server has two interfaces. The client is on 10.0.0.0/24 (iface 0, 1 Gbit/s,
//! 10 ms each way); the attacker is on 10.1.0.0/24 (iface 1, 1 Gbit/s, 1 ms), and the
//! server's default route points there, so the SYN-ACKs for the spoofed sources go back into
//! the attacker's link, which drops them. The attacker sends one 44-byte SYN (IPv4, TCP, MSS
//! option) every 352 ns: the line rate of its 1 Gbit/s link.
//!
//! Memory is measured with a counting global allocator in this test binary (one test, so
//! nothing else allocates meanwhile): the bytes allocated and not yet freed, sampled every
//! 100,000 SYNs.

// The test prints what it measured.
#![allow(clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicIsize, Ordering};

use ustack_core::tcp_engine::TcpState;
use ustack_core::wire::{
    IpProtocol, Ipv4Packet, Ipv4Repr, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr,
};
use ustack_core::{Counters, InterfaceConfig, Ipv4Cidr, Route, SocketHandle, Stack, StackConfig};
use ustack_sim::{Bounds, Duration, Host, HostId, Instant, LinkConfig, Network};

/// Live heap bytes of this test binary.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

#[allow(unsafe_code)] // A counting allocator: the only way to measure the heap.
// SAFETY: every call goes to the system allocator unchanged; the counter only watches.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const SERVER_C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_A: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const PORT: u16 = 80;
const SYNS: u64 = 1_000_000;
const RATE: u64 = 1_000_000_000;
const SYN_LEN: usize = 44;
/// The listener's backlog: the blocking API's default, as `std::net::TcpListener`'s.
const BACKLOG: u32 = 128;

/// Spoofed SYNs to the server at line rate: one every `gap`, `left` more to go. What comes
/// back (the SYN-ACKs) is counted and dropped.
struct Flooder {
    next: Instant,
    gap: Duration,
    left: u64,
    rng: u64,
    answers: u64,
}

impl Flooder {
    fn new(start: Instant, count: u64) -> Flooder {
        let gap = Duration::from_nanos(SYN_LEN as u64 * 8 * 1_000_000_000 / RATE);
        Flooder { next: start, gap, left: count, rng: 0x5eed_f100d, answers: 0 }
    }

    fn next_random(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Host for Flooder {
    fn handle_packet(&mut self, _now: Instant, _iface: usize, _packet: &[u8]) {
        self.answers += 1;
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        if self.left == 0 || self.next > now {
            return None;
        }
        self.left -= 1;
        self.next += self.gap;
        let r = self.next_random();
        // Sources anywhere in 10.200.0.0/16, ports and sequence numbers at random.
        let src = Ipv4Addr::new(10, 200, (r >> 8) as u8, (r >> 16) as u8 | 1);
        let seg = TcpRepr {
            src_port: 1024 + ((r >> 24) as u16 % 60_000),
            dst_port: PORT,
            seq: SeqNum((r >> 32) as u32),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 64_240,
            urgent: 0,
            options: TcpOptions { mss: Some(1460), ..TcpOptions::default() },
            payload: &[],
        };
        let ip = Ipv4Repr {
            src,
            dst: SERVER_A,
            protocol: IpProtocol::TCP,
            payload_len: seg.buffer_len(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: r as u16,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let len = ip.buffer_len();
        assert_eq!(len, SYN_LEN);
        seg.emit(&mut TcpPacket::new_unchecked(&mut buf[20..len]), src, SERVER_A);
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..len]));
        Some((0, len))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (self.left > 0).then_some(self.next)
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}

struct World {
    net: Network,
    server: HostId<Stack>,
    client: HostId<Stack>,
    flooder: HostId<Flooder>,
}

fn world(syncookies: u8, syns: u64) -> World {
    let mut net = Network::new(0x5_f100d);
    net.set_event_limit(200_000_000);
    let cfg = StackConfig { tcp_syncookies: syncookies, ..StackConfig::new(net.derive_secret(1)) };
    let mut server = Stack::new(cfg).unwrap();
    server.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(SERVER_C, 24).unwrap(), 1500));
    let to_attacker =
        server.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(SERVER_A, 24).unwrap(), 1500));
    server.add_route(Route {
        dest: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).unwrap().into(),
        iface: to_attacker,
    });
    server.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT), BACKLOG, false).unwrap();
    let mut client = Stack::new(StackConfig::new(net.derive_secret(2))).unwrap();
    client.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(CLIENT, 24).unwrap(), 1500));
    let server = net.add_host(server);
    let client = net.add_host(client);
    let flooder = net.add_host(Flooder::new(Instant::ZERO, syns));
    let link = |delay| LinkConfig::new().rate_bps(RATE).delay(delay).queue_packets(1000);
    net.connect(client.iface(0), server.iface(0), link(Duration::from_millis(10))).unwrap();
    net.connect(flooder.iface(0), server.iface(1), link(Duration::from_millis(1))).unwrap();
    World { net, server, client, flooder }
}

/// Starts a connection from the client at `at` and runs until it is established: its
/// connect time, and whether the SYN had to be retransmitted.
fn connect_at(w: &mut World, at: Instant, limit: Duration) -> (Duration, u64) {
    w.net.run_until(at).unwrap();
    let h: SocketHandle =
        w.net.host_mut(w.client).tcp_connect(at, None, SocketAddrV4::new(SERVER_C, PORT)).unwrap();
    let client = w.client;
    w.net
        .run_while(Bounds::time(limit), |n| {
            n.host(client).tcp_conn(h).state() != TcpState::Established
        })
        .unwrap_or_else(|e| panic!("the client did not connect: {e}"));
    let c = w.net.host(w.client).tcp_conn(h);
    (w.net.now() - at, c.stats().retransmits)
}

fn counters(w: &World) -> Counters {
    w.net.host(w.server).counters()
}

#[test]
fn s8_a_million_spoofed_syns_at_line_rate_leave_memory_flat_and_a_client_connects_on_its_first_syn()
{
    // Baseline: no flood.
    let mut quiet = world(1, 0);
    let (baseline, rtx) = connect_at(&mut quiet, Instant::from_millis(100), Duration::from_secs(5));
    assert_eq!(rtx, 0);

    // The flood, with SYN cookies: memory sampled every 100,000 SYNs while it runs, and the
    // client connecting in the middle of it (the flood lasts 352 ms).
    let mut w = world(1, SYNS);
    let gap = w.net.host(w.flooder).gap;
    let mut samples = Vec::new();
    let mut sockets = Vec::new();
    let (mut flooded, mut rtx) = (Duration::ZERO, 0);
    for k in 1..=10u32 {
        w.net.run_until(Instant::ZERO + gap * (100_000 * k)).unwrap();
        samples.push(LIVE.load(Ordering::Relaxed));
        sockets.push(w.net.host(w.server).socket_count());
        if k == 5 {
            let at = w.net.now();
            (flooded, rtx) = connect_at(&mut w, at, Duration::from_secs(5));
            assert!(w.net.host(w.flooder).left > 0, "connected during the flood, not after it");
        }
    }
    // The last SYNs still on the link.
    w.net.run_for(Duration::from_millis(10)).unwrap();
    let c = counters(&w);
    let growth = samples[1..].iter().max().unwrap() - samples[1..].iter().min().unwrap();
    println!(
        "syn flood: {SYNS} SYNs at {} Mbit/s; connect {:.3} ms quiet, {:.3} ms during the flood \
         (SYN retransmitted {rtx} times); live heap {} KiB at 100k SYNs, growth {} KiB to 1M; \
         sockets {:?}; SyncookiesSent {}, TCPReqQFullDoCookies {}, flood answers {}",
        RATE / 1_000_000,
        baseline.as_secs_f64() * 1e3,
        flooded.as_secs_f64() * 1e3,
        samples[0] / 1024,
        growth / 1024,
        sockets,
        c.syncookies_sent,
        c.tcp_req_q_full_do_cookies,
        w.net.host(w.flooder).answers
    );
    assert_eq!(rtx, 0, "the client's first SYN got through");
    assert!(flooded <= baseline * 2, "connect {flooded:?} during the flood against {baseline:?}");
    assert!(growth < 1 << 20, "memory grew {growth} bytes from 100,000 to 1,000,000 SYNs");
    // The listener, the full SYN queue, and from the 5th sample on the client's connection.
    assert!(sockets.iter().all(|&n| n <= 2 + BACKLOG as usize), "{sockets:?}");
    // Every SYN past the full SYN queue was answered with a cookie, none dropped; the
    // client's SYN too.
    assert_eq!(c.syncookies_sent + u64::from(BACKLOG), SYNS + 1);
    assert_eq!(w.net.host(w.flooder).answers, SYNS, "a SYN-ACK for every spoofed SYN");
    assert_eq!(c.tcp_listen_drops, 0);
    assert_eq!(c.syncookies_recv, 1, "the client came in through a cookie");

    // Without cookies (tcp_syncookies 0) the client's SYN finds the SYN queue full of the
    // flood's half-open connections and is dropped, and so are its retransmissions, until
    // those time out (63 s after the flood began).
    let mut w3 = world(0, SYNS);
    let during = Instant::ZERO + gap * 500_000;
    let (locked_out, rtx) = connect_at(&mut w3, during, Duration::from_secs(130));
    println!(
        "without cookies: connect after {:.1} s, SYN retransmitted {rtx} times, TCPReqQFullDrop {}",
        locked_out.as_secs_f64(),
        counters(&w3).tcp_req_q_full_drop
    );
    assert!(rtx >= 5 && locked_out > Duration::from_secs(60), "{locked_out:?}, {rtx}");
}
