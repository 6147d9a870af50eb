//! The loopback interface and local delivery: a client and a server in one stack, over
//! 127.0.0.1 and over the stack's own device address, with nothing reaching the device
//! (Linux `lo`: 127.0.0.1/8, MTU 65536; the `local` routing table for the host's own
//! addresses).

use ustack_tcp::{ConnError, Event, TcpState};

use super::*;
use crate::Route;

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// One stack at B (10.0.0.2/24) with a default route out of its device, so that a packet to
/// 127.0.0.1 or to B that were not delivered locally would show up at the device.
struct Local {
    s: Stack,
    now: Instant,
    events: Vec<SocketEvent>,
    /// Packets `poll_transmit` handed to the device.
    device: Vec<Vec<u8>>,
}

impl Local {
    fn new() -> Local {
        let mut s = stack(B, 3);
        s.add_route(Route {
            dest: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).unwrap().into(),
            iface: 0,
        });
        Local { s, now: Instant::from_secs(1), events: Vec::new(), device: Vec::new() }
    }

    /// The outputs, in the documented order, after an input.
    fn poll(&mut self) {
        let mut buf = vec![0u8; 1500];
        while let Some(t) = self.s.poll_transmit(self.now, &mut buf) {
            self.device.push(buf[..t.len].to_vec());
        }
        while let Some(e) = self.s.poll_event() {
            self.events.push(e);
        }
    }

    fn took(&mut self, socket: SocketHandle, kind: SocketEventKind) -> bool {
        let before = self.events.len();
        self.events.retain(|e| !(e.socket == socket && e.kind == kind));
        self.events.len() < before
    }

    /// A connection from a client to `server` accepted by `listener`.
    fn connect(
        &mut self,
        listener: SocketHandle,
        server: std::net::SocketAddr,
    ) -> (SocketHandle, SocketHandle) {
        let c = self.s.tcp_connect(self.now, None, server).unwrap();
        self.poll();
        assert!(self.took(c, SocketEventKind::Tcp(Event::Connected)), "{:?}", self.events);
        assert!(self.took(listener, SocketEventKind::AcceptReady));
        let a = self.s.tcp_accept(listener).expect("the handshake completed in one poll");
        (c, a)
    }

    /// Moves `data` from `tx` to `rx` with the application writing and reading between polls,
    /// firing timers only when nothing else moves; returns what `rx` read and how many
    /// times the transfer had to wait for a timer.
    fn transfer(&mut self, tx: SocketHandle, rx: SocketHandle, data: &[u8]) -> (Vec<u8>, usize) {
        let mut sent = 0;
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 64 << 10];
        let mut timer_waits = 0;
        for _ in 0..100_000 {
            if got.len() == data.len() {
                return (got, timer_waits);
            }
            let mut moved = false;
            if sent < data.len() {
                let n = self.s.tcp_send(tx, &data[sent..]).unwrap_or(0);
                sent += n;
                moved |= n > 0;
            }
            self.poll();
            while let Ok(n) = self.s.tcp_recv(rx, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                moved = true;
            }
            self.poll();
            if !moved {
                let at = self.s.poll_timeout().expect("a stalled transfer has a timer");
                self.now = self.now.max(at);
                self.s.handle_timeout(self.now);
                timer_waits += 1;
            }
        }
        panic!("transfer did not finish: {} of {} bytes", got.len(), data.len());
    }
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[test]
fn every_stack_has_a_loopback_interface_127_0_0_1_slash_8_with_an_unfragmented_mtu() {
    let s = Stack::new(config(1)).unwrap();
    let lo = s.interface(Stack::LOOPBACK).expect("a loopback interface from the start");
    assert_eq!(lo.ipv4, Some("127.0.0.1/8".parse().unwrap()));
    assert_eq!(lo.ipv6, vec!["::1/128".parse().unwrap()]);
    // Linux lo: MTU 65536, i.e. no IPv4 packet (at most 65535 bytes) is ever fragmented.
    assert_eq!(lo.mtu, 65_535);
    assert!(s.interfaces().is_empty(), "device interfaces are numbered apart from it");
    assert_eq!(s.interface(0), None);
}

#[test]
fn tcp_echo_over_127_0_0_1_in_one_stack_never_reaches_the_device() {
    let mut l = Local::new();
    let listener = l.s.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 7), 16, false).unwrap();
    let (c, a) = l.connect(listener, sa(LO, 7));
    // Linux picks 127.0.0.1 as the source toward 127.0.0.1 (`local 127.0.0.0/8 dev lo src
    // 127.0.0.1`).
    let tuple = l.s.tcp_conn(c).tuple();
    assert_eq!(tuple.local.ip(), LO);
    assert_eq!(l.s.tcp_conn(a).tuple().remote, tuple.local);
    // The MSS follows the loopback MTU: 65535 − 40, less 12 bytes of timestamp option per
    // segment, the `mss:65483` `ss -i` shows for a connection over Linux lo.
    assert_eq!(l.s.tcp_conn(c).effective_mss(), 65_483);

    l.s.tcp_send(c, b"hello over lo").unwrap();
    l.poll();
    let mut buf = [0u8; 64];
    let n = l.s.tcp_recv(a, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello over lo");
    l.s.tcp_send(a, &buf[..n]).unwrap();
    l.poll();
    let n = l.s.tcp_recv(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello over lo");

    // Both ends close: FIN, FIN, ACKs all looped; the client holds TIME-WAIT.
    l.s.close(l.now, c);
    l.poll();
    l.s.close(l.now, a);
    l.poll();
    assert_eq!(l.s.netstat(l.now).count(TcpState::TimeWait), 1);
    assert!(l.device.is_empty(), "{} packets reached the device", l.device.len());
    let counters = l.s.counters();
    assert_eq!(counters.tcp_in_csum_errors, 0, "looped segments carry correct checksums");
    // SYN, SYN-ACK, ACK, data, ACK + echo, ACK, FIN, ACK, FIN, ACK at most: each sent once and
    // received once, all through the loopback interface.
    assert_eq!(counters.ip_out_loopback, counters.ip_out_requests);
    assert_eq!(counters.ip_in_receives, counters.ip_out_loopback);
    assert_eq!(counters.tcp_in_segs, counters.tcp_out_segs);
}

#[test]
fn tcp_to_the_stacks_own_device_address_is_delivered_locally() {
    let mut l = Local::new();
    let listener = l.s.tcp_listen(sa(B, 80), 16, false).unwrap();
    let (c, a) = l.connect(listener, sa(B, 80));
    // Linux: `ip route get 10.0.0.2` on that host says `local 10.0.0.2 dev lo src 10.0.0.2`.
    assert_eq!(l.s.tcp_conn(c).tuple().local.ip(), B);
    assert_eq!(l.s.tcp_conn(c).effective_mss(), 65_483, "through lo, not the 1500-byte device");
    l.s.tcp_send(c, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    l.poll();
    let mut buf = [0u8; 64];
    let n = l.s.tcp_recv(a, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"GET / HTTP/1.0\r\n\r\n");
    assert!(l.device.is_empty());
}

#[test]
fn multi_mib_transfers_over_loopback_arrive_byte_for_byte_in_both_directions() {
    for server in [LO, B] {
        let mut l = Local::new();
        let listener = l.s.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 9000), 16, false).unwrap();
        let (c, a) = l.connect(listener, sa(server, 9000));
        let up = pattern(6 << 20, 1);
        let (got, waits_up) = l.transfer(c, a, &up);
        assert!(got == up, "client -> server over {server} differs");
        let down = pattern(5 << 20, 2);
        let (got, waits_down) = l.transfer(a, c, &down);
        assert!(got == down, "server -> client over {server} differs");
        // The whole transfer moves on looped packets and application calls alone: no
        // retransmission, no timer (delayed ACK, RTO, persist) had to fire.
        assert_eq!((waits_up, waits_down), (0, 0));
        assert_eq!(l.s.tcp_conn(c).stats().retransmits, 0);
        assert_eq!(l.s.tcp_conn(a).stats().retransmits, 0);
        assert!(l.device.is_empty());
    }
}

#[test]
fn udp_over_127_0_0_1_and_the_own_address_round_trips_whole_datagrams() {
    let mut l = Local::new();
    let server = l.s.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 5353)).unwrap();
    let client = l.s.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = l.s.udp_local_addr(client).port();
    let mut buf = vec![0u8; 70_000];
    for (dst, src) in [(LO, LO), (B, B)] {
        // Larger than the device's 1500-byte MTU, as large as UDP over IPv4 goes: it
        // arrives whole, never fragmented (lo's MTU).
        let big = pattern(crate::UDP_MAX_PAYLOAD, 3);
        for data in [&b"ping"[..], &big] {
            l.s.udp_send_to(l.now, client, sa(dst, 5353), data).unwrap();
            l.poll();
            assert!(l.took(server, SocketEventKind::UdpReadable));
            let (n, from) = l.s.udp_recv_from(server, &mut buf).unwrap();
            assert!(buf[..n] == *data);
            assert_eq!(from, sa(src, port));
            l.s.udp_send_to(l.now, server, from, &buf[..n]).unwrap();
            l.poll();
            let (n, from) = l.s.udp_recv_from(client, &mut buf).unwrap();
            assert!(buf[..n] == *data);
            assert_eq!(from, sa(dst, 5353));
        }
    }
    assert_eq!(l.s.counters().ip_frag_creates, 0);
    assert!(l.device.is_empty());
}

#[test]
fn connect_to_an_unused_port_on_127_0_0_1_is_refused_at_once() {
    let mut l = Local::new();
    let t0 = l.now;
    let c = l.s.tcp_connect(l.now, None, sa(LO, 81)).unwrap();
    l.poll();
    // RFC 9293 §3.10.7.1: the SYN finds no socket, the RST comes straight back
    // (`ECONNREFUSED`), in the same poll, without a timer or a retransmitted SYN.
    assert!(
        l.took(c, SocketEventKind::Tcp(Event::Closed(Some(ConnError::Refused)))),
        "{:?}",
        l.events
    );
    assert_eq!(l.now, t0);
    assert_eq!(l.s.counters().tcp_attempt_fails, 1);
    assert!(l.device.is_empty());

    // A connected UDP socket learns the same from the looped ICMP port unreachable.
    let u = l.s.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    l.s.udp_connect(u, sa(LO, 81)).unwrap();
    l.s.udp_send(l.now, u, b"anyone?").unwrap();
    l.poll();
    assert!(l.took(u, SocketEventKind::UdpError));
    assert_eq!(l.s.udp_recv_from(u, &mut [0; 8]), Err(crate::UdpRecvError::Refused));
}

#[test]
fn all_of_127_0_0_0_slash_8_is_local_and_reached_from_127_0_0_1() {
    let mut l = Local::new();
    // Linux: `local 127.0.0.0/8 dev lo src 127.0.0.1`: any 127/8 address can be bound, and
    // a connection to one leaves from 127.0.0.1.
    let other = Ipv4Addr::new(127, 1, 2, 3);
    let listener = l.s.tcp_listen(sa(other, 22), 16, false).unwrap();
    let (c, _) = l.connect(listener, sa(other, 22));
    assert_eq!(l.s.tcp_conn(c).tuple().local.ip(), LO);
    assert!(l.device.is_empty());
}

#[test]
fn the_loopback_interface_works_without_any_device_interface() {
    let mut s = Stack::new(config(4)).unwrap();
    let listener = s.tcp_listen(sa(LO, 7), 4, false).unwrap();
    let c = s.tcp_connect(Instant::from_secs(1), None, sa(LO, 7)).unwrap();
    let mut buf = vec![0u8; 64];
    assert_eq!(s.poll_transmit(Instant::from_secs(1), &mut buf), None);
    assert!(s.tcp_accept(listener).is_some());
    assert_eq!(s.tcp_conn(c).state(), TcpState::Established);
}

#[test]
fn packets_from_or_to_loopback_or_own_addresses_arriving_on_a_device_are_dropped() {
    let mut l = Local::new();
    let _listener = l.s.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    // Linux drops, on a non-loopback device: a 127/8 destination (martian destination),
    // and a source that is one of the host's own addresses (`accept_local` off) — a LAND
    // attack's SYN from our own address and port gets no SYN-ACK. (127/8 sources: the
    // martian test in demux.rs.)
    for (src, dst) in [(sa(A, 4000), sa(LO, 80)), (sa(B, 80), sa(B, 80)), (sa(B, 4000), sa(B, 80))]
    {
        l.s.handle_packet(l.now, 0, &syn_packet(src, dst, 77));
        l.poll();
    }
    assert!(l.device.is_empty(), "answered a martian: {:?}", l.device.len());
    assert_eq!(l.s.socket_count(), 1, "only the listener");
    assert_eq!(l.s.counters().ip_in_addr_errors, 3);
    assert_eq!(l.s.counters().tcp_in_segs, 0);

    // The same SYN from a real peer is answered on the device.
    l.s.handle_packet(l.now, 0, &syn_packet(sa(A, 4000), sa(B, 80), 77));
    l.poll();
    assert_eq!(l.device.len(), 1, "SYN-ACK to the peer");
}

#[test]
fn a_receiver_that_stops_reading_stops_the_sender_and_reading_resumes_it_at_once() {
    // The receiver does not read: the sender fills the receive window and its own buffer,
    // and the poll that carries it ends (nothing loops on inside the stack). Reading opens
    // the window; the window update is looped back at once and the rest follows without a
    // persist timer (RFC 9293 §3.8.6.2.2: the receiver announces the opened window).
    let mut l = Local::new();
    let listener = l.s.tcp_listen(sa(LO, 5001), 16, false).unwrap();
    let (c, a) = l.connect(listener, sa(LO, 5001));
    let data = pattern(16 << 20, 5);
    let mut sent = 0;
    while let Ok(n @ 1..) = l.s.tcp_send(c, &data[sent..]) {
        sent += n;
        l.poll();
    }
    assert!(sent < data.len(), "send buffer and receive window hold less than 16 MiB");
    assert!(l.s.tcp_conn(a).recv_queue() > 0);
    assert!(l.s.tcp_conn(c).send_queue() > 0, "the sender holds what the window refused");

    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 64 << 10];
    for _ in 0..100_000 {
        while let Ok(n @ 1..) = l.s.tcp_recv(a, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        l.poll();
        if sent < data.len() {
            sent += l.s.tcp_send(c, &data[sent..]).unwrap_or(0);
            l.poll();
        }
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data, "{} of {} bytes, or corrupted", got.len(), data.len());
    assert_eq!(l.s.tcp_conn(c).stats().retransmits, 0);
}

#[test]
fn a_socket_connected_to_its_own_address_and_port_opens_simultaneously_and_talks_to_itself() {
    // Linux lets a socket bound to 127.0.0.1:P connect to 127.0.0.1:P: its SYN arrives in
    // SYN-SENT, which is the simultaneous open of RFC 9293 §3.5 (Figure 8), and the
    // connection is established with itself. Everything happens within one poll.
    let mut l = Local::new();
    let c = l.s.tcp_connect(l.now, Some(sa(LO, 5000)), sa(LO, 5000)).unwrap();
    l.poll();
    assert!(l.took(c, SocketEventKind::Tcp(Event::Connected)), "{:?}", l.events);
    l.s.tcp_send(c, b"me").unwrap();
    l.poll();
    let mut b = [0u8; 8];
    assert_eq!(l.s.tcp_recv(c, &mut b), Ok(2));
    assert_eq!(&b[..2], b"me");
    l.s.close(l.now, c);
    l.poll();
    assert_eq!(l.s.netstat(l.now).count(TcpState::TimeWait), 1);
    assert!(l.device.is_empty());
}
