//! The host: [`Stack`], its interfaces and routes, IPv4 input and output, the socket table,
//! the timer queue and the transmit queues (docs/host-stack.md follows a packet through them).
//!
//! # Call order
//!
//! ```text
//! inputs:   handle_packet(now, iface, bytes)   an IPv4 or IPv6 packet arrived
//!           handle_timeout(now)                poll_timeout()'s deadline passed
//!           the socket API (tcp_*, udp_*, close) the application
//! outputs:  after every input, in this order:
//!           poll_transmit(now, buf)   until None: the packets to send, written into buf
//!           poll_event()              until None: what happened to which socket
//!           poll_timeout()            when to call handle_timeout next
//! ```
//!
//! # Loopback and local delivery
//!
//! Every stack has a loopback interface, [`Stack::LOOPBACK`] (127.0.0.1/8 and ::1/128, like
//! Linux `lo`),
//! besides the device interfaces [`Stack::add_interface`] numbers from 0. A packet to one of
//! the stack's own addresses (anything in 127.0.0.0/8, or the address of any interface) is
//! routed to it and never reaches a device: [`Stack::poll_transmit`] feeds it back into the
//! stack's own input (as `handle_packet(now, Stack::LOOPBACK, ..)`) at the moment it would
//! have returned it, and carries on with whatever that input made ready (the SYN-ACK, the
//! ACK, the response), returning only packets for devices. So when `poll_transmit` returns
//! `None`, no looped packet is pending: every exchange between local sockets that needed no
//! application call has happened, at the same `now`, and its events wait for `poll_event`.
//! The call order above is unchanged.
//!
//! Per-packet and per-timer work never scans the sockets: TCP segments are found by hash
//! demux (exact 4-tuple, then a listener on (address, port), then on (any, port), then in
//! transparent mode the any-IP listener: [`crate::transparent`]),
//! a socket with something to send sits in the tx-ready queue, and a socket with a timer sits
//! in the keyed timer queue (`timerq.rs`).
//!
//! Sockets live in a table of generational slots. The application owns the sockets it
//! creates (`tcp_connect`, `tcp_listen`, `tcp_accept`, `udp_bind`) until it calls
//! [`Stack::close`] or [`Stack::tcp_abort`]; a closed TCP connection then finishes on its own
//! (FIN exchange, TIME-WAIT) and its slot is freed when it reaches CLOSED. Operations on a
//! handle the application has released are a caller bug and panic.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::num::NonZeroU8;
use std::collections::VecDeque;

use ustack_tcp::{DropReason, Ecn, Event, IsnGenerator, KeyedHash};
use ustack_wire::{
    IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpPacket, TcpRepr, ipv4, ipv6,
};

use crate::bind::BindTable;
use crate::config::{StackConfig, StackConfigError};
use crate::counters::Counters;
use crate::frag::{FragLimits, FragOutcome, Reassembler};
use crate::hash::{self, ConnKey, KeyedMap};
use crate::ports::PortAllocator;
use crate::socket::SocketHandle;
use crate::tcp::{Listener, TcpSocket};
use crate::timerq::TimerQueue;
use crate::udp::UdpSocket;
use crate::{Instant, IpCidr, Ipv4Cidr, Ipv6Cidr};

/// An interface of the stack: its addresses (each with its prefix) and MTU. An interface may
/// have an IPv4 address, IPv6 addresses (several prefixes), or both. Devices are layer 3
/// (TUN, in-memory links, the simulator): there is no link-layer address, so no ARP and no
/// IPv6 Neighbor Discovery (RFC 4861) is needed or done, and no link-local address is
/// configured: the device delivers every packet routed into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Our IPv4 address and the connected network, if any.
    pub ipv4: Option<Ipv4Cidr>,
    /// Our IPv6 addresses and their connected prefixes.
    pub ipv6: Vec<Ipv6Cidr>,
    /// Largest IP packet the interface carries. IPv6 needs at least 1280 (RFC 8200 §5);
    /// below that the interface carries IPv4 only.
    pub mtu: u16,
}

impl InterfaceConfig {
    /// An interface with one IPv4 address.
    pub fn ipv4(addr: Ipv4Cidr, mtu: u16) -> InterfaceConfig {
        InterfaceConfig { ipv4: Some(addr), ipv6: Vec::new(), mtu }
    }

    /// An interface with one IPv6 address.
    pub fn ipv6(addr: Ipv6Cidr, mtu: u16) -> InterfaceConfig {
        InterfaceConfig { ipv4: None, ipv6: vec![addr], mtu }
    }

    /// The same interface with one more IPv6 address.
    #[must_use]
    pub fn with_ipv6(mut self, addr: Ipv6Cidr) -> InterfaceConfig {
        self.ipv6.push(addr);
        self
    }

    /// Whether `addr` is one of the interface's addresses.
    pub fn has_addr(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.ipv4.is_some_and(|c| c.addr() == a),
            IpAddr::V6(a) => self.ipv6.iter().any(|c| c.addr() == a),
        }
    }
}

/// A route: destinations in `dest` leave through interface `iface`. Longest prefix wins,
/// within each family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination network (`0.0.0.0/0` or `::/0` for a default route).
    pub dest: IpCidr,
    /// Interface index, as [`Stack::add_interface`] returned it.
    pub iface: usize,
}

/// A packet [`Stack::poll_transmit`] wrote: send `buf[..len]` on device interface `iface`
/// (never [`Stack::LOOPBACK`]: looped packets do not leave the stack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Interface index.
    pub iface: usize,
    /// Packet length in the buffer.
    pub len: usize,
    /// How the device is to cut the packet into segments: only on an interface that does
    /// TSO ([`Stack::set_offloads`]), for a TCP packet carrying several segments
    /// (`crate::offload`). `None`: the packet goes as it is, its checksums complete.
    pub gso: Option<crate::offload::Gso>,
}

/// Something that happened to a socket, from [`Stack::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketEvent {
    /// The socket.
    pub socket: SocketHandle,
    /// What happened.
    pub kind: SocketEventKind,
}

/// What happened to a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketEventKind {
    /// An event of a TCP connection (application events always, trace events when tracing
    /// is on; see [`Event`]).
    Tcp(Event),
    /// A listener's accept queue holds a connection: `tcp_accept` returns it.
    AcceptReady,
    /// A UDP socket has a datagram to read (reported again after `udp_recv_from` was called).
    UdpReadable,
    /// A connected UDP socket got an ICMP (or ICMPv6) port unreachable; the next send or
    /// receive reports it.
    UdpError,
}

/// The stack: see the module documentation for the call order.
#[derive(Debug)]
pub struct Stack {
    pub(crate) cfg: StackConfig,
    /// The device interfaces, by index.
    pub(crate) ifaces: Vec<InterfaceConfig>,
    /// The loopback interface (`crate::loopback`).
    pub(crate) lo: InterfaceConfig,
    pub(crate) routes: Vec<Route>,
    /// What each device interface offloads (`crate::offload`), by index; missing: nothing.
    pub(crate) offloads: Vec<crate::offload::Offloads>,
    /// The packet being handled came with its TCP checksum verified by the device
    /// ([`Stack::handle_packet_with`]).
    pub(crate) rx_checksum_verified: bool,
    pub(crate) slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// The boxes of freed TCP connections, at most
    /// [`TCP_SPARE_MAX`](crate::tcp::TCP_SPARE_MAX), which new connections move into instead
    /// of allocating: at steady state a connection cycle allocates no socket
    /// (`Stack::insert_tcp`). The boxes themselves are what is kept, hence the box in a
    /// `Vec`.
    #[allow(clippy::vec_box)]
    pub(crate) tcp_spare: Vec<Box<TcpSocket>>,
    /// The boxes of ended TIME-WAIT records, kept as `tcp_spare` keeps connections' (at most
    /// [`TCP_SPARE_MAX`](crate::tcp::TCP_SPARE_MAX)).
    #[allow(clippy::vec_box)]
    pub(crate) tw_spare: Vec<Box<crate::timewait::TimeWaitSocket>>,
    pub(crate) live: usize,
    /// Exact 4-tuple → connection (SYN-RECEIVED to TIME-WAIT): slot indices hashed by the
    /// fixed-size [`ConnKey`] (hashed once per packet, whatever the family), each entry's key
    /// read from its slot (`crate::demux`).
    pub(crate) tcp_conns: crate::demux::ConnTable,
    /// The last hit of `tcp_conns`, tried before hashing: the segments of a bulk flow come
    /// one connection at a time. Forgotten whenever `tcp_conns` changes (`hash_conn`,
    /// `unhash_conn`), so it never names what the table would not.
    pub(crate) tcp_conns_last: Option<(ConnKey, SocketHandle)>,
    /// Listeners by (address, any address of either family, port), with the dual-stack
    /// rules (`crate::bind`).
    pub(crate) tcp_listeners: BindTable,
    /// Local port → hashed connections using it.
    pub(crate) tcp_conn_ports: KeyedMap<u16, u32>,
    /// UDP sockets by address and port, as listeners are.
    pub(crate) udp_binds: BindTable,
    pub(crate) timers: TimerQueue,
    pub(crate) tx_ready: VecDeque<SocketHandle>,
    pub(crate) out: OutQueue,
    pub(crate) events: VecDeque<SocketEvent>,
    pub(crate) counters: Counters,
    pub(crate) isn: IsnGenerator,
    /// The host-wide challenge-ACK allowance (`challenge_ack_limit`).
    pub(crate) challenge_acks: crate::challenge::ChallengeBudget,
    /// The TCP settings of the latest outgoing connection, shared by every connection made
    /// with the same ones (`Stack::shared_tcp_config`): a connection's settings take a
    /// pointer, not a copy of their own.
    tcp_shared: std::sync::Arc<ustack_tcp::TcpConfig>,
    /// SYN cookies (SPEC S8), keyed from the secret.
    pub(crate) syncookies: ustack_tcp::syncookie::SynCookies,
    /// Fast Open (SPEC S6): the server key used while `tcp_fastopen_key` is unset, the
    /// client's cookie cache and black-hole state (`fastopen.rs`).
    pub(crate) fastopen: crate::fastopen::FastOpenHost,
    pub(crate) ports: PortAllocator,
    /// The stack's place among the shards of a multi-queue device (`crate::steering`).
    pub(crate) shard: Option<crate::steering::Shard>,
    pub(crate) ip_ident: u16,
    frag: Reassembler<crate::frag::FragKey>,
    /// IPv6 reassembly (`crate::ipv6`).
    pub(crate) frag6: Reassembler<crate::ipv6::Frag6Key>,
    /// IPv6: the path MTU cache, the Identification counter, the ICMPv6 rate limits.
    pub(crate) v6: crate::ipv6::V6State,
    reasm_buf: Vec<u8>,
    pub(crate) icmp_tokens: TokenBucket,
    pub(crate) scratch: Vec<u8>,
    /// Where a TCP segment to a local address is built before it is fed back to the input.
    lo_buf: Vec<u8>,
    pub(crate) tracing: bool,
    /// Transparent (any-IP) mode and its sockets.
    pub(crate) any_ip: crate::transparent::AnyIp,
    /// The time of the latest input (`handle_packet`, `handle_timeout`, `poll_transmit`), for
    /// bookkeeping that happens where no `now` is handed in (socket events).
    pub(crate) last_now: Instant,
}

/// Entries of room a drained queue keeps (`shrink_drained`).
pub(crate) const QUEUE_KEEP: usize = 1024;

/// Gives back the room a burst left in a queue once it is drained: the event and tx-ready
/// queues grow to hold every connection of a burst (a burst of 100k connections left 7 MiB
/// of room in the event queue and 1 MiB in the other), and a `VecDeque` keeps its room. Only
/// a queue with four times `QUEUE_KEEP` of room shrinks, to `QUEUE_KEEP`, so a stack that
/// runs at its usual size never reallocates.
fn shrink_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 4 * QUEUE_KEEP {
        queue.shrink_to(QUEUE_KEEP);
    }
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) generation: u32,
    pub(crate) sock: Option<Socket>,
}

/// A socket of the table. Every variant is boxed, so a slot costs 24 bytes whatever it
/// holds: a million connections do not each pay for the size of a listener.
#[derive(Debug)]
pub(crate) enum Socket {
    Listener(Box<Listener>),
    Tcp(Box<TcpSocket>),
    /// A connection in TIME-WAIT that nobody holds, reduced to a record (`crate::timewait`).
    TimeWait(Box<crate::timewait::TimeWaitSocket>),
    Udp(Box<UdpSocket>),
}

/// Datagrams built whole (UDP, ICMP, RSTs for no connection), waiting for `poll_transmit`.
/// Bounded by `wmem` bytes; the buffers are recycled.
#[derive(Debug)]
pub(crate) struct OutQueue {
    queue: VecDeque<(usize, Vec<u8>)>,
    bytes: usize,
    limit: usize,
    pool: Vec<Vec<u8>>,
}

impl OutQueue {
    fn new(limit: usize) -> OutQueue {
        OutQueue { queue: VecDeque::new(), bytes: 0, limit, pool: Vec::new() }
    }

    /// Whether `len` more bytes may be queued: they fit under the limit, or the queue is
    /// empty (one packet always goes, however large, as Linux's `sock_alloc_send_pskb` only
    /// looks at what is queued already; else it could never be sent).
    pub(crate) fn has_room(&self, len: usize) -> bool {
        self.bytes == 0 || self.bytes + len <= self.limit
    }

    /// A zeroed buffer of `len` bytes from the pool.
    pub(crate) fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b.resize(len, 0);
        b
    }

    pub(crate) fn push(&mut self, iface: usize, packet: Vec<u8>) {
        self.bytes += packet.len();
        self.queue.push_back((iface, packet));
    }

    /// The oldest datagram and its interface; hand the buffer back with `recycle`.
    pub(crate) fn pop(&mut self) -> Option<(usize, Vec<u8>)> {
        let (iface, packet) = self.queue.pop_front()?;
        self.bytes -= packet.len();
        Some((iface, packet))
    }

    pub(crate) fn recycle(&mut self, packet: Vec<u8>) {
        if self.pool.len() < 64 {
            self.pool.push(packet);
        }
    }
}

/// Linux's ICMP rate limit (`icmp_msgs_per_sec`, `icmp_msgs_burst`) as a token bucket.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    per_sec: u64,
    burst: u64,
    /// Tokens in millionths.
    credit: u64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.as_nanos().saturating_sub(self.last.as_nanos());
        self.last = now;
        let refill = (u128::from(elapsed) * u128::from(self.per_sec) / 1000) as u64;
        self.credit = self.credit.saturating_add(refill).min(self.burst * 1_000_000);
        if self.credit >= 1_000_000 {
            self.credit -= 1_000_000;
            true
        } else {
            false
        }
    }
}

/// The IP header fields a packet we send needs: both addresses of one family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpOut {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) protocol: IpProtocol,
    /// IPv4 only: set DF. (IPv6 routers never fragment; the source does, for UDP.)
    pub(crate) dont_frag: bool,
    /// The socket's own TTL (`IP_TTL`), else the stack's default.
    pub(crate) ttl: Option<u8>,
}

impl Stack {
    /// A stack with no interface yet. Fails when the configuration does not validate.
    pub fn new(cfg: StackConfig) -> Result<Stack, StackConfigError> {
        cfg.validate()?;
        let s = cfg.secret;
        Ok(Stack {
            ifaces: Vec::new(),
            lo: crate::loopback::loopback_iface(),
            routes: Vec::new(),
            offloads: Vec::new(),
            rx_checksum_verified: false,
            slots: Vec::new(),
            free_slots: Vec::new(),
            tcp_spare: Vec::new(),
            tw_spare: Vec::new(),
            live: 0,
            tcp_conns: crate::demux::ConnTable::new(hash::Keyed::new(s, 1)),
            tcp_conns_last: None,
            tcp_listeners: BindTable::new(s, 2),
            tcp_conn_ports: hash::map(s, 4),
            udp_binds: BindTable::new(s, 5),
            timers: TimerQueue::default(),
            tx_ready: VecDeque::new(),
            out: OutQueue::new(cfg.wmem),
            events: VecDeque::new(),
            counters: Counters::default(),
            isn: IsnGenerator::new(s),
            challenge_acks: crate::challenge::ChallengeBudget::new(s),
            tcp_shared: std::sync::Arc::new(cfg.tcp),
            syncookies: ustack_tcp::syncookie::SynCookies::new(derived_key(s, b"syncookies")),
            fastopen: crate::fastopen::FastOpenHost::new(derived_key(s, b"fastopen"), s),
            ports: PortAllocator::new(cfg.ip_local_port_range, s),
            shard: None,
            ip_ident: (KeyedHash::new(s).hash(b"ip-ident") & 0xffff) as u16,
            frag: Reassembler::new(FragLimits {
                max_bytes: cfg.ipfrag_high_thresh,
                timeout: cfg.ipfrag_time,
            }),
            frag6: Reassembler::with_max_payload(
                FragLimits { max_bytes: cfg.ip6frag_high_thresh, timeout: cfg.ip6frag_time },
                crate::ipv6::MAX_REASSEMBLED,
            ),
            v6: crate::ipv6::V6State::new(s),
            reasm_buf: Vec::new(),
            icmp_tokens: TokenBucket {
                per_sec: u64::from(cfg.icmp_msgs_per_sec),
                burst: u64::from(cfg.icmp_msgs_burst),
                credit: u64::from(cfg.icmp_msgs_burst) * 1_000_000,
                last: Instant::from_nanos(0),
            },
            scratch: vec![0; 65_536],
            lo_buf: vec![0; 65_536],
            tracing: false,
            any_ip: crate::transparent::AnyIp::default(),
            last_now: Instant::ZERO,
            cfg,
        })
    }

    /// `tcp` as a shared value: the one the latest connection got when equal (the stack's
    /// settings, or a socket's own that many connections repeat), a new one otherwise.
    pub(crate) fn shared_tcp_config(
        &mut self,
        tcp: &ustack_tcp::TcpConfig,
    ) -> std::sync::Arc<ustack_tcp::TcpConfig> {
        if *self.tcp_shared != *tcp {
            self.tcp_shared = std::sync::Arc::new(*tcp);
        }
        std::sync::Arc::clone(&self.tcp_shared)
    }

    /// The configuration.
    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    /// Adds an interface and its connected routes (one per address); returns its index.
    pub fn add_interface(&mut self, iface: InterfaceConfig) -> usize {
        let index = self.ifaces.len();
        let prefixes = iface
            .ipv4
            .map(IpCidr::V4)
            .into_iter()
            .chain(iface.ipv6.iter().map(|&c| IpCidr::V6(c)))
            .map(|c| c.network());
        for dest in prefixes {
            self.routes.push(Route { dest, iface: index });
        }
        self.ifaces.push(iface);
        index
    }

    /// Adds an IPv6 address (and its connected route) to device interface `iface`. Panics if
    /// `iface` is not a device interface.
    pub fn add_ipv6_addr(&mut self, iface: usize, addr: Ipv6Cidr) {
        assert!(iface < self.ifaces.len(), "interface {iface} does not exist");
        self.ifaces[iface].ipv6.push(addr);
        let dest = Ipv6Cidr::new(addr.network(), addr.prefix_len()).expect("a valid prefix");
        self.routes.push(Route { dest: IpCidr::V6(dest), iface });
    }

    /// The device interfaces, by index (the loopback interface is not among them: see
    /// [`Stack::interface`]).
    pub fn interfaces(&self) -> &[InterfaceConfig] {
        &self.ifaces
    }

    /// Interface `iface`: a device interface, or the loopback one for [`Stack::LOOPBACK`].
    pub fn interface(&self, iface: usize) -> Option<&InterfaceConfig> {
        if iface == Stack::LOOPBACK { Some(&self.lo) } else { self.ifaces.get(iface) }
    }

    /// Adds a route (`0.0.0.0/0` or `::/0` for a default route) through a device interface. Routes to
    /// the stack's own addresses need none: they are always delivered locally (module
    /// documentation). Panics if `route.iface` is not a device interface.
    pub fn add_route(&mut self, route: Route) {
        assert!(
            route.iface < self.ifaces.len(),
            "route to interface {} which does not exist",
            route.iface
        );
        self.routes.push(route);
    }

    /// Switches trace events on or off for every connection created from now on (and those
    /// alive now).
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
        for slot in &mut self.slots {
            match &mut slot.sock {
                Some(Socket::Tcp(t)) => t.conn.set_tracing(on),
                Some(Socket::TimeWait(r)) => r.tw.set_tracing(on),
                _ => {}
            }
        }
    }

    /// The counters, with the retransmissions and drops of the live connections added in.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        for slot in &self.slots {
            if let Some(Socket::Tcp(t)) = &slot.sock {
                c.tcp_retrans_segs += t.conn.stats().retransmits;
                c.tcp_ecn_reductions += t.conn.stats().ecn_reductions;
                c.tcp_ecn_ce_recv += t.conn.stats().ce_received;
                for r in DropReason::ALL {
                    c.tcp_conn_drops[r as usize] += t.conn.stats().dropped(r);
                }
            }
        }
        // Linux counts deferred final ACKs in TcpExt; the connections count them per reason.
        c.tcp_defer_accept_drop = c.tcp_conn_drops[DropReason::DeferAccept as usize];
        c
    }

    /// How many sockets are alive (listeners, connections in any state, UDP).
    pub fn socket_count(&self) -> usize {
        self.live
    }

    /// Whether `h` still names a live socket.
    pub fn contains(&self, h: SocketHandle) -> bool {
        self.slot(h).is_some()
    }

    // ------------------------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------------------------

    /// An IPv4 or IPv6 packet (told apart by the version field) arrived on interface
    /// `iface`. Bad packets are counted (per reason) and dropped, or answered as the RFCs
    /// say (an ICMPv6 Parameter Problem for an IPv6 header RFC 8200 §4 rejects: `crate::ipv6`).
    /// `iface` [`Stack::LOOPBACK`] says the packet went round the loopback interface, where
    /// local source addresses are allowed; `poll_transmit` itself hands looped packets in that
    /// way.
    pub fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.last_now = now;
        if packet.first().is_some_and(|b| b >> 4 == 6) {
            self.ipv6_input(now, iface, packet);
            return;
        }
        self.counters.ip_in_receives += 1;
        let Ok(view) = Ipv4Packet::new_checked(packet) else {
            self.counters.ip_in_hdr_errors += 1;
            return;
        };
        let Ok(ip) = Ipv4Repr::parse(&view) else {
            self.counters.ip_in_hdr_errors += 1;
            return;
        };
        // Linux `ip_rcv_core`: every packet counted by its ECN codepoint (IpExtIn*Pkts).
        *match Ecn::from_bits(ip.ecn) {
            Ecn::NotEct => &mut self.counters.ip_in_no_ect_pkts,
            Ecn::Ect1 => &mut self.counters.ip_in_ect1_pkts,
            Ecn::Ect0 => &mut self.counters.ip_in_ect0_pkts,
            Ecn::Ce => &mut self.counters.ip_in_ce_pkts,
        } += 1;
        // RFC 1122 §3.2.1.3: "A host MUST silently discard an incoming datagram containing
        // an IP source address that is invalid" (Linux drops these martians on input). A
        // destination not ours is taken only in transparent mode (`crate::transparent`).
        if !self.accepts_dst(iface, ip.dst, ip.protocol) || self.is_martian(iface, ip.src, ip.dst) {
            self.counters.ip_in_addr_errors += 1;
            return;
        }
        let payload = view.payload();
        if ip.is_fragment() {
            self.counters.ip_reasm_reqds += 1;
            let mut whole = std::mem::take(&mut self.reasm_buf);
            match self.frag.push(now, &ip, payload) {
                FragOutcome::Incomplete => {}
                FragOutcome::Complete(bytes) => {
                    self.counters.ip_reasm_oks += 1;
                    whole.clear();
                    whole.extend_from_slice(bytes);
                    let ip = Ipv4Repr {
                        more_frags: false,
                        frag_offset: 0,
                        payload_len: whole.len(),
                        ..ip
                    };
                    self.deliver(now, iface, &ip, &whole);
                }
                FragOutcome::Dropped(_) => {
                    self.counters.ip_reasm_fails += 1;
                }
            }
            self.reasm_buf = whole;
            return;
        }
        self.deliver(now, iface, &ip, payload);
    }

    fn deliver(&mut self, now: Instant, iface: usize, ip: &Ipv4Repr, payload: &[u8]) {
        self.counters.ip_in_delivers += 1;
        let from = Invoking::V4 { header: ip, payload };
        match ip.protocol {
            IpProtocol::TCP => self.tcp_input(now, iface, from, payload),
            IpProtocol::UDP => self.udp_input(now, iface, from, payload),
            IpProtocol::ICMP => self.icmp_input(now, iface, ip, payload),
            _ => {
                self.counters.ip_in_unknown_protos += 1;
                // RFC 1122 §3.2.2.1: a host SHOULD send protocol unreachable.
                self.send_dst_unreachable(
                    now,
                    ustack_wire::DstUnreachable::ProtoUnreachable,
                    ip,
                    payload,
                );
            }
        }
    }

    /// Timers whose deadline has passed fire: connections' timers (through the keyed queue)
    /// and fragment reassembly timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        // A connection that had an input since the last `poll_transmit` has its deadline
        // filed only once its output is sent (`after_input`); filed now, one already due
        // fires in this call instead of after the next `poll_transmit`. None is waiting in
        // the documented call order.
        for &h in &self.tx_ready {
            let slot =
                self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation);
            match slot {
                Some(Slot { sock: Some(Socket::Tcp(t)), .. }) => file_timer(&mut self.timers, t, h),
                Some(Slot { sock: Some(Socket::TimeWait(r)), .. }) => {
                    let at = r.tw.poll_timeout();
                    if r.timer_at.is_none_or(|queued| at < queued) {
                        r.timer_at = Some(at);
                        self.timers.push(at, h);
                    }
                }
                _ => {}
            }
        }
        while let Some((at, h)) = self.timers.pop_due(now) {
            if let Some(Socket::TimeWait(_)) = self.slot(h) {
                self.time_wait_timer(now, at, h);
                continue;
            }
            let Some(Socket::Tcp(t)) = self.socket_mut(h) else { continue };
            if t.timer_at != Some(at) {
                continue;
            }
            // The entry may be earlier than the connection's deadline now (it moved later, or
            // the timer stopped, after the entry was queued: `drain_conn`): it is queued again
            // for the deadline it has, if any.
            t.timer_at = None;
            match t.conn.poll_timeout() {
                Some(due) if due <= now => {}
                Some(later) => {
                    t.timer_at = Some(later);
                    self.timers.push(later, h);
                    continue;
                }
                None => continue,
            }
            t.conn.handle_timeout(now);
            if t.conn.take_fast_open_blackhole() {
                self.fastopen_blackhole(now);
            }
            self.after_input(h);
        }
        self.counters.ip_reasm_timeouts += self.frag.handle_timeout(now) as u64;
        self.ipv6_timeout(now);
        let live = self.live;
        let slots = &self.slots;
        self.timers.compact_if_needed(live, || {
            slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match &s.sock {
                    Some(Socket::Tcp(t)) => t
                        .timer_at
                        .map(|at| (at, SocketHandle { index: i as u32, generation: s.generation })),
                    Some(Socket::TimeWait(r)) => r
                        .timer_at
                        .map(|at| (at, SocketHandle { index: i as u32, generation: s.generation })),
                    _ => None,
                })
                .collect()
        });
    }

    // ------------------------------------------------------------------------------------
    // Outputs
    // ------------------------------------------------------------------------------------

    /// The next packet to send on a device, written into `buf` (which must hold the largest
    /// device interface MTU), or `None` when nothing is ready. Packets to the stack's own
    /// addresses are handed back to its input on the way, and what they cause is sent in
    /// turn (module documentation, "Loopback and local delivery").
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.last_now = now;
        loop {
            if let Some((iface, packet)) = self.out.pop() {
                self.counters.ip_out(packet.first().is_some_and(|b| b >> 4 == 6));
                if iface == Stack::LOOPBACK {
                    self.counters.ip_out_loopback += 1;
                    self.handle_packet(now, Stack::LOOPBACK, &packet);
                    self.out.recycle(packet);
                    continue;
                }
                let len = packet.len();
                buf[..len].copy_from_slice(&packet);
                self.out.recycle(packet);
                return Some(Transmit { iface, len, gso: None });
            }
            let Some(&h) = self.tx_ready.front() else {
                shrink_drained(&mut self.tx_ready);
                return None;
            };
            let slot =
                self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation);
            let t = match slot {
                Some(Slot { sock: Some(Socket::Tcp(t)), .. }) => t,
                Some(Slot { sock: Some(Socket::TimeWait(r)), .. }) => {
                    let Some(seg) = r.tw.poll_transmit(now) else {
                        r.in_tx = false;
                        self.tx_ready.pop_front();
                        self.file_time_wait_timer(h);
                        continue;
                    };
                    let tuple = r.tw.tuple();
                    let (iface, flow_label, sock_ttl) = (r.iface.get(), r.flow_label, r.ttl);
                    let hdr = TcpHeader::of(&self.cfg, tuple, sock_ttl, flow_label, Ecn::NotEct);
                    if let Some(len) = self.send_time_wait_ack(now, iface, hdr, &seg, buf) {
                        return Some(Transmit { iface, len, gso: None });
                    }
                    continue;
                }
                _ => {
                    self.tx_ready.pop_front();
                    continue;
                }
            };
            let tuple = t.conn.tuple();
            let iface = t.iface.get();
            let flow_label = t.flow_label;
            let sock_ttl = t.ttl;
            match t.conn.poll_transmit_ecn(now, &mut self.scratch) {
                Some((seg, ecn)) => {
                    let is_rst = seg.flags.contains(ustack_wire::TcpFlags::RST);
                    self.counters.tcp_out_segs += 1;
                    self.counters.tcp_out_rsts += u64::from(is_rst);
                    let hdr = TcpHeader::of(&self.cfg, tuple, sock_ttl, flow_label, ecn);
                    self.counters.ip_out(hdr.src.is_ipv6());
                    if iface == Stack::LOOPBACK {
                        self.counters.ip_out_loopback += 1;
                        let mut packet = std::mem::take(&mut self.lo_buf);
                        let len = emit_tcp(&mut packet, &mut self.ip_ident, hdr, &seg);
                        self.handle_packet(now, Stack::LOOPBACK, &packet[..len]);
                        self.lo_buf = packet;
                        continue;
                    }
                    let lead = if self.offloads.get(iface).is_some_and(|o| o.tso_max > 0) {
                        crate::offload::Lead::of(&seg, ecn)
                    } else {
                        None
                    };
                    let len = emit_tcp(buf, &mut self.ip_ident, hdr, &seg);
                    return Some(match lead {
                        Some(lead) => {
                            let first = crate::offload::First { iface, hdr, len, lead };
                            self.coalesce(now, h, buf, first)
                        }
                        None => Transmit { iface, len, gso: None },
                    });
                }
                None => {
                    t.in_tx = false;
                    self.tx_ready.pop_front();
                    self.after_output(h);
                }
            }
        }
    }

    /// The next socket event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SocketEvent> {
        let event = self.events.pop_front();
        if event.is_none() {
            shrink_drained(&mut self.events);
        }
        event
    }

    /// When to call `handle_timeout` next. Never late; occasionally early (a deadline that
    /// moved later or a timer that stopped since it was queued), in which case
    /// `handle_timeout` fires nothing.
    ///
    /// A connection that had an input since the last `poll_transmit` drained it has its
    /// deadline filed only then (`after_input`); until then it is read here from the
    /// connection itself, so that a caller that asks before sending is not told too late.
    /// The queue of such connections is empty in the documented call order.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let earliest = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut at = earliest(
            earliest(self.timers.peek(), self.frag.poll_timeout()),
            self.frag6.poll_timeout(),
        );
        for &h in &self.tx_ready {
            match self.slot(h) {
                Some(Socket::Tcp(t)) => at = earliest(at, t.conn.poll_timeout()),
                Some(Socket::TimeWait(r)) => at = earliest(at, Some(r.tw.poll_timeout())),
                _ => {}
            }
        }
        at
    }

    // ------------------------------------------------------------------------------------
    // Shared bookkeeping
    // ------------------------------------------------------------------------------------

    pub(crate) fn slot(&self, h: SocketHandle) -> Option<&Socket> {
        self.slots.get(h.index as usize).filter(|s| s.generation == h.generation)?.sock.as_ref()
    }

    pub(crate) fn socket_mut(&mut self, h: SocketHandle) -> Option<&mut Socket> {
        self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation)?.sock.as_mut()
    }

    pub(crate) fn insert(&mut self, sock: Socket) -> SocketHandle {
        self.live += 1;
        if let Some(index) = self.free_slots.pop() {
            let slot = &mut self.slots[index as usize];
            slot.sock = Some(sock);
            SocketHandle { index, generation: slot.generation }
        } else {
            let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 sockets");
            self.slots.push(Slot { generation: 0, sock: Some(sock) });
            SocketHandle { index, generation: 0 }
        }
    }

    /// Frees a slot; the handle is dead from now on.
    pub(crate) fn remove(&mut self, h: SocketHandle) -> Option<Socket> {
        let slot = self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation)?;
        let sock = slot.sock.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(h.index);
        self.live -= 1;
        Some(sock)
    }

    /// After an input to a TCP connection (segment, timer, application call): its events are
    /// handled and queued, and it waits in the tx-ready queue. Its timer is filed when it
    /// leaves that queue (`after_output`), once what the input let out has been sent: the
    /// call order has `poll_transmit` run before `poll_timeout`, and the deadlines that
    /// sending sets (the retransmission timer) are the ones the queue needs, so it takes one
    /// look per input instead of two, and no entry for a deadline that sending replaces at
    /// once (the handshake's 127 s behind a SYN's 1 s retransmission timer).
    pub(crate) fn after_input(&mut self, h: SocketHandle) {
        loop {
            let slot =
                self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation);
            let Some(Slot { sock: Some(Socket::Tcp(t)), .. }) = slot else { return };
            if let Some(ev) = t.conn.poll_event() {
                self.on_conn_event(h, ev);
                continue;
            }
            if !t.in_tx {
                t.in_tx = true;
                self.tx_ready.push_back(h);
            }
            return;
        }
    }

    /// After a connection has sent all it had: events again (sending may change state), the
    /// timer (sending arms the retransmission timer), and a finished orphan is freed.
    pub(crate) fn after_output(&mut self, h: SocketHandle) {
        self.drain_conn(h);
        if let Some(Socket::Tcp(t)) = self.slot(h)
            && t.is_finished()
        {
            self.free_tcp(h);
            return;
        }
        self.time_wait_record(h);
    }

    /// Sends a TIME-WAIT record's ACK as a connection's segments are sent: counted, looped
    /// back to our own input for a local address (then `None`), else written into `buf`
    /// (its length returned).
    fn send_time_wait_ack(
        &mut self,
        now: Instant,
        iface: usize,
        hdr: TcpHeader,
        seg: &TcpRepr<'_>,
        buf: &mut [u8],
    ) -> Option<usize> {
        self.counters.tcp_out_segs += 1;
        self.counters.ip_out(hdr.src.is_ipv6());
        if iface == Stack::LOOPBACK {
            self.counters.ip_out_loopback += 1;
            let mut packet = std::mem::take(&mut self.lo_buf);
            let len = emit_tcp(&mut packet, &mut self.ip_ident, hdr, seg);
            self.handle_packet(now, Stack::LOOPBACK, &packet[..len]);
            self.lo_buf = packet;
            return None;
        }
        Some(emit_tcp(buf, &mut self.ip_ident, hdr, seg))
    }

    fn drain_conn(&mut self, h: SocketHandle) {
        loop {
            // The slot is looked up once per event, and once when there is none (the usual
            // case), borrowing the slots alone so that the timer queue stays at hand.
            let slot =
                self.slots.get_mut(h.index as usize).filter(|s| s.generation == h.generation);
            let Some(Slot { sock: Some(Socket::Tcp(t)), .. }) = slot else { return };
            if let Some(ev) = t.conn.poll_event() {
                self.on_conn_event(h, ev);
                continue;
            }
            file_timer(&mut self.timers, t, h);
            return;
        }
    }

    pub(crate) fn push_event(&mut self, socket: SocketHandle, kind: SocketEventKind) {
        self.events.push_back(SocketEvent { socket, kind });
    }

    /// Queues a datagram of `payload_len` bytes whose transport header and payload
    /// `write` fills in, fragmenting it when it exceeds the interface MTU (RFC 791). Returns
    /// false when the transmit queue is full.
    pub(crate) fn queue_datagram(
        &mut self,
        iface: usize,
        ip: IpOut,
        payload_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> bool {
        match (ip.src, ip.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                self.queue_datagram_v4(iface, src, dst, ip, payload_len, write)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                self.queue_datagram_v6(iface, src, dst, ip.protocol, payload_len, write)
            }
            _ => {
                debug_assert!(false, "a datagram from {} to {}", ip.src, ip.dst);
                self.counters.ip_out_discards += 1;
                false
            }
        }
    }

    fn queue_datagram_v4(
        &mut self,
        iface: usize,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ip: IpOut,
        payload_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> bool {
        let total = ipv4::HEADER_LEN + payload_len;
        let mtu = usize::from(self.iface_mtu(iface));
        if !self.out.has_room(total + total / mtu.max(1) * ipv4::HEADER_LEN) {
            self.counters.ip_out_discards += 1;
            return false;
        }
        let mut packet = self.out.buffer(total);
        write(&mut packet[ipv4::HEADER_LEN..]);
        let ident = self.next_ident();
        let mut repr = Ipv4Repr {
            src,
            dst,
            protocol: ip.protocol,
            payload_len,
            ttl: ip.ttl.unwrap_or(self.cfg.ip_default_ttl),
            dscp: 0,
            ecn: 0,
            ident,
            dont_frag: ip.dont_frag && total <= mtu,
            more_frags: false,
            frag_offset: 0,
        };
        if total <= mtu {
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut packet[..]));
            self.out.push(iface, packet);
            return true;
        }
        // RFC 791 fragmentation: every fragment but the last carries a multiple of 8 bytes.
        let chunk = (mtu - ipv4::HEADER_LEN) & !7;
        let mut offset = 0;
        while offset < payload_len {
            let len = chunk.min(payload_len - offset);
            let mut frag = self.out.buffer(ipv4::HEADER_LEN + len);
            let start = ipv4::HEADER_LEN + offset;
            frag[ipv4::HEADER_LEN..].copy_from_slice(&packet[start..start + len]);
            repr.payload_len = len;
            repr.frag_offset = offset as u16;
            repr.more_frags = offset + len < payload_len;
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut frag[..]));
            self.out.push(iface, frag);
            self.counters.ip_frag_creates += 1;
            offset += len;
        }
        true
    }

    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    /// Takes an ICMP error token (Linux `icmp_global_allow`).
    pub(crate) fn icmp_allowed(&mut self, now: Instant) -> bool {
        let ok = self.icmp_tokens.take(now);
        if !ok {
            self.counters.icmp_out_rate_limited += 1;
        }
        ok
    }

    /// Builds a TCP segment that belongs to no connection (a RST, a SYN-ACK with a cookie)
    /// into the transmit queue.
    pub(crate) fn queue_tcp(&mut self, iface: usize, src: IpAddr, dst: IpAddr, seg: &TcpRepr<'_>) {
        let ip = IpOut { src, dst, protocol: IpProtocol::TCP, dont_frag: true, ttl: None };
        let sent = self.queue_datagram(iface, ip, seg.buffer_len(), |out| {
            emit_segment(out, src, dst, seg);
        });
        if sent {
            self.counters.tcp_out_segs += 1;
            self.counters.tcp_out_rsts += u64::from(seg.flags.contains(ustack_wire::TcpFlags::RST));
        }
    }
}

/// A 128-bit key for one use, derived from the stack's secret.
fn derived_key(secret: [u8; 16], label: &[u8]) -> [u8; 16] {
    let h = KeyedHash::new(secret);
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&h.hash(label).to_le_bytes());
    key[8..].copy_from_slice(&h.hash(&[label, b"/2"].concat()).to_le_bytes());
    key
}

/// The IP header of a connection's segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpHeader {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ttl: u8,
    pub(crate) hop_limit: u8,
    pub(crate) flow_label: u32,
    /// The ECN codepoint the connection chose (RFC 3168 §6.1.2).
    pub(crate) ecn: Ecn,
}

impl TcpHeader {
    /// The IP fields of a segment of the connection `tuple`: its `IP_TTL` if set, else the
    /// stack's default TTL; the stack's hop limit; its flow label and the segment's ECN
    /// codepoint (connections and TIME-WAIT records alike).
    pub(crate) fn of(
        cfg: &StackConfig,
        tuple: ustack_tcp::FourTuple,
        ttl: Option<NonZeroU8>,
        flow_label: u32,
        ecn: Ecn,
    ) -> TcpHeader {
        TcpHeader {
            src: tuple.local.ip(),
            dst: tuple.remote.ip(),
            ttl: ttl.map_or(cfg.ip_default_ttl, NonZeroU8::get),
            hop_limit: cfg.ipv6_hop_limit,
            flow_label,
            ecn,
        }
    }
}

/// Writes `seg` (header, options, payload, checksum over the pseudo-header of its family)
/// into `out`.
pub(crate) fn emit_segment(out: &mut [u8], src: IpAddr, dst: IpAddr, seg: &TcpRepr<'_>) {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => seg.emit(&mut TcpPacket::new_unchecked(out), s, d),
        (IpAddr::V6(s), IpAddr::V6(d)) => seg.emit(&mut TcpPacket::new_unchecked(out), s, d),
        _ => debug_assert!(false, "a segment from {src} to {dst}"),
    }
}

/// Writes an IP packet carrying `seg` into `buf`; returns its length. IPv4 packets carry DF
/// and the next Identification; IPv6 ones the connection's flow label; both the ECN
/// codepoint the connection chose.
pub(crate) fn emit_tcp(
    buf: &mut [u8],
    ident: &mut u16,
    hdr: TcpHeader,
    seg: &TcpRepr<'_>,
) -> usize {
    let ip_len = if hdr.src.is_ipv6() { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
    let len = ip_len + seg.buffer_len();
    assert!(
        buf.len() >= len,
        "poll_transmit buffer of {} bytes is smaller than the {len}-byte packet: pass one of at least the largest interface MTU",
        buf.len()
    );
    emit_segment(&mut buf[ip_len..len], hdr.src, hdr.dst, seg);
    match (hdr.src, hdr.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            *ident = ident.wrapping_add(1);
            let repr = Ipv4Repr {
                src,
                dst,
                protocol: IpProtocol::TCP,
                payload_len: len - ip_len,
                ttl: hdr.ttl,
                dscp: 0,
                ecn: hdr.ecn.bits(),
                ident: *ident,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..len]));
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let repr = Ipv6Repr {
                src,
                dst,
                next_header: IpProtocol::TCP,
                payload_len: len - ip_len,
                hop_limit: hdr.hop_limit,
                dscp: 0,
                ecn: hdr.ecn.bits(),
                flow_label: hdr.flow_label,
            };
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..len]));
        }
        _ => {}
    }
    len
}

/// The packet an ICMP error would be about, as the transport input got it: for IPv4 its
/// header and payload, for IPv6 the whole packet (extension headers included, or the
/// reassembled packet with none).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Invoking<'a> {
    /// An IPv4 datagram.
    V4 {
        /// Its header.
        header: &'a Ipv4Repr,
        /// Its (reassembled) payload.
        payload: &'a [u8],
    },
    /// An IPv6 packet from its fixed header on.
    V6 {
        /// The packet.
        packet: &'a [u8],
        /// Its source and destination.
        src: Ipv6Addr,
        /// Its destination.
        dst: Ipv6Addr,
    },
}

impl Invoking<'_> {
    /// The source address.
    pub(crate) fn src(&self) -> IpAddr {
        match self {
            Invoking::V4 { header, .. } => IpAddr::V4(header.src),
            Invoking::V6 { src, .. } => IpAddr::V6(*src),
        }
    }

    /// The destination address.
    pub(crate) fn dst(&self) -> IpAddr {
        match self {
            Invoking::V4 { header, .. } => IpAddr::V4(header.dst),
            Invoking::V6 { dst, .. } => IpAddr::V6(*dst),
        }
    }

    /// The ECN codepoint of the IP header (RFC 3168 §5; IPv6: the traffic class's low bits).
    pub(crate) fn ecn(&self) -> Ecn {
        match self {
            Invoking::V4 { header, .. } => Ecn::from_bits(header.ecn),
            Invoking::V6 { packet, .. } => Ecn::from_bits(packet.get(1).map_or(0, |b| b >> 4)),
        }
    }

    /// `(src, port)` and `(dst, port)` as socket addresses.
    pub(crate) fn ends(&self, src_port: u16, dst_port: u16) -> (SocketAddr, SocketAddr) {
        (SocketAddr::new(self.src(), src_port), SocketAddr::new(self.dst(), dst_port))
    }
}

/// Files connection `h`'s deadline in the timer queue when it comes before the one queued
/// already: one that moved later, or a timer that stopped, leaves its entry to wake the
/// stack early once (`handle_timeout` queues the connection again then). Most inputs move
/// the retransmission timer on or stop it; none of them touches the queue.
fn file_timer(timers: &mut TimerQueue, t: &mut TcpSocket, h: SocketHandle) {
    if let Some(at) = t.conn.poll_timeout()
        && t.timer_at.is_none_or(|queued| at < queued)
    {
        t.timer_at = Some(at);
        timers.push(at, h);
    }
}
