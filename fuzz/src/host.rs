//! One ustack [`Stack`] and its application as the harness plays it: the sockets it holds,
//! the bytes it wrote and read, and the checks on everything the stack hands out (packets,
//! events, timers, socket counts).
//!
//! Application data follows a pattern of the absolute sequence number (and of who sends it),
//! so a check needs no copy of the stream: a byte the stack sends at sequence number `x` must
//! be `pattern(x, own salt)`, and a byte the application reads must be
//! `pattern(x, peer salt)`. Every sender of data towards this stack (the peer stack, the
//! fuzzer's structured segments) follows the peer's pattern.

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

use ustack_core::tcp_engine::{Event, FourTuple, RecvError, TcpState};
use ustack_core::wire::{
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Addr, Ipv4Packet, Ipv4Repr, ParseError, SeqNum,
    TcpFlags, TcpPacket, TcpRepr, UdpPacket, UdpRepr, checksum,
};
use ustack_core::{
    Instant, InterfaceConfig, Ipv4Cidr, SocketEventKind, SocketHandle, Stack, StackConfig,
};

/// Hash maps with a fixed key: the harness is deterministic.
pub type Map<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<DefaultHasher>>;
type Set<K> = std::collections::HashSet<K, BuildHasherDefault<DefaultHasher>>;

/// How many packets one `poll_transmit` drain may yield before the harness calls it a
/// livelock.
const DRAIN_LIMIT: usize = 10_000;

/// The byte a sender with `salt` puts at sequence number `seq`.
pub fn pattern(seq: SeqNum, salt: u8) -> u8 {
    (seq.get().wrapping_mul(0x9E37_79B1) >> 24) as u8 ^ salt
}

/// `seq + n` for a signed or wrapping `n`.
pub fn seq_add(seq: SeqNum, n: u32) -> SeqNum {
    SeqNum::new(seq.get().wrapping_add(n))
}

/// A TCP connection the application knows of.
#[derive(Debug)]
struct Sock {
    h: SocketHandle,
    tuple: FourTuple,
    /// Our initial sequence number, once a SYN or SYN-ACK of ours was seen on the wire.
    iss: Option<SeqNum>,
    /// The peer's, learned when the connection reported `Connected`.
    irs: Option<SeqNum>,
    /// Bytes `send` took.
    written: u32,
    /// Bytes `recv` returned.
    read: u32,
    /// `shutdown`, `close` or abort was called: a FIN may follow the data.
    shut: bool,
    connected: bool,
    closed: bool,
}

/// What we sent on a 4-tuple: the ISS of the current connection on it and, once it
/// connected, which socket that is.
#[derive(Debug, Clone, Copy)]
struct Sent {
    iss: SeqNum,
    sock: Option<usize>,
}

/// A stack and its application.
pub struct Host {
    /// For messages.
    pub name: &'static str,
    /// The stack.
    pub stack: Stack,
    /// Its address.
    pub addr: Ipv4Addr,
    mtu: usize,
    salt: u8,
    peer_salt: u8,
    /// Check that received bytes follow the peer's pattern (off when raw bytes may have
    /// landed in a connection).
    check_reads: bool,
    socks: Vec<Sock>,
    by_handle: Map<SocketHandle, usize>,
    sent: Map<FourTuple, Sent>,
    /// Handles of passive connections that closed before they connected (for the
    /// at-most-once checks).
    closed_unknown: Set<SocketHandle>,
    /// Connections the application holds, in the order it got them.
    pub owned: Vec<SocketHandle>,
    /// The listener, while open.
    pub listener: Option<SocketHandle>,
    listener_port: u16,
    /// The UDP socket, while open.
    pub udp: Option<SocketHandle>,
    /// Accept every connection as soon as it is ready.
    pub auto_accept: bool,
    /// The most sockets the stack may hold after a drain: every socket the application opened
    /// or accepted, plus each listener's queues (SYN queue up to the backlog, accept queue up
    /// to the backlog plus one).
    bound: usize,
    /// `handle_packet` calls, to check the stack's count of received packets.
    received: u64,
    scratch: Vec<u8>,
}

impl Host {
    /// A stack with one interface `addr/24` of `mtu` bytes.
    pub fn new(
        name: &'static str,
        cfg: StackConfig,
        addr: Ipv4Addr,
        mtu: u16,
        salt: u8,
        peer_salt: u8,
        check_reads: bool,
    ) -> Host {
        let mut stack = Stack::new(cfg).expect("the harness builds valid configurations");
        stack.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).expect("a /24"), mtu));
        Host {
            name,
            stack,
            addr,
            mtu: usize::from(mtu),
            salt,
            peer_salt,
            check_reads,
            socks: Vec::new(),
            by_handle: Map::default(),
            sent: Map::default(),
            closed_unknown: Set::default(),
            owned: Vec::new(),
            listener: None,
            listener_port: 0,
            udp: None,
            auto_accept: false,
            bound: 0,
            received: 0,
            scratch: vec![0; 65_536],
        }
    }

    // ------------------------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------------------------

    /// A packet arrives.
    pub fn receive(&mut self, now: Instant, packet: &[u8]) {
        self.stack.handle_packet(now, 0, packet);
        self.received += 1;
        self.events();
    }

    /// Time passes to `now`: due timers fire.
    pub fn advance(&mut self, now: Instant) {
        if self.stack.poll_timeout().is_some_and(|t| t <= now) {
            self.stack.handle_timeout(now);
            if let Some(t) = self.stack.poll_timeout() {
                assert!(
                    t > now,
                    "{}: after handle_timeout({now:?}) poll_timeout is {t:?}, not in the future",
                    self.name
                );
            }
        }
        self.events();
    }

    /// Everything the stack has to send, checked, into `out`.
    pub fn drain(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let mut buf = std::mem::take(&mut self.scratch);
        let mut n = 0;
        while let Some(t) = self.stack.poll_transmit(now, &mut buf) {
            n += 1;
            assert!(n <= DRAIN_LIMIT, "{}: poll_transmit never runs dry", self.name);
            assert_eq!(t.iface, 0, "{}: a packet for an interface that does not exist", self.name);
            let packet = &buf[..t.len];
            self.check_sent(packet);
            out.push(packet.to_vec());
        }
        self.scratch = buf;
        self.events();
        assert!(
            self.stack.socket_count() <= self.bound,
            "{}: {} sockets after a drain, more than the {} the application and the listen \
             queues account for\n{}",
            self.name,
            self.stack.socket_count(),
            self.bound,
            self.stack.netstat(now)
        );
    }

    // ------------------------------------------------------------------------------------
    // The application
    // ------------------------------------------------------------------------------------

    /// Opens the listener on `port` (if none is open).
    pub fn listen(&mut self, port: u16, backlog: u32) {
        if self.listener.is_some() {
            return;
        }
        let local = core::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        // With reuse-address: connections of an earlier listener may still use the port.
        let Ok(l) = self.stack.tcp_listen(local, backlog, true) else { return };
        let backlog = backlog.clamp(1, self.stack.config().somaxconn) as usize;
        self.bound += 1 + backlog + backlog + 1;
        self.listener = Some(l);
        self.listener_port = port;
    }

    /// Closes the listener.
    pub fn close_listener(&mut self, now: Instant) {
        if let Some(l) = self.listener.take() {
            self.stack.close(now, l);
            self.events();
        }
    }

    /// Binds the UDP socket.
    pub fn udp_bind(&mut self, port: u16) {
        let local = core::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        self.udp = Some(self.stack.udp_bind(local).expect("a free UDP port"));
        self.bound += 1;
    }

    /// An active open.
    pub fn connect(&mut self, now: Instant, remote: core::net::SocketAddrV4) {
        let Ok(h) = self.stack.tcp_connect(now, None, remote) else { return };
        self.bound += 1;
        let tuple = self.stack.tcp_conn(h).tuple();
        self.add_sock(h, tuple);
        self.owned.push(h);
        self.events();
    }

    /// Accepts every waiting connection.
    pub fn accept_all(&mut self) {
        while self.accept() {}
    }

    /// Accepts one connection; false when none waits.
    pub fn accept(&mut self) -> bool {
        let Some(l) = self.listener else { return false };
        let Some(h) = self.stack.tcp_accept(l) else { return false };
        self.bound += 1;
        assert!(
            self.by_handle.contains_key(&h),
            "{}: accept returned {h}, which never reported Connected",
            self.name
        );
        self.owned.push(h);
        true
    }

    fn pick(&self, sock: u8) -> Option<SocketHandle> {
        if self.owned.is_empty() {
            return None;
        }
        Some(self.owned[usize::from(sock) % self.owned.len()])
    }

    /// `send` of `len` pattern bytes on connection `sock`, once we know its ISS.
    pub fn send(&mut self, sock: u8, len: usize) {
        let Some(h) = self.pick(sock) else { return };
        let s = &self.socks[self.by_handle[&h]];
        let Some(iss) = s.iss else { return };
        if !s.connected {
            return;
        }
        let start = seq_add(iss, 1 + s.written);
        let data: Vec<u8> =
            (0..len).map(|i| pattern(seq_add(start, i as u32), self.salt)).collect();
        if let Ok(n) = self.stack.tcp_send(h, &data) {
            assert!(n <= len, "{}: send took {n} of {len} bytes", self.name);
            let i = self.by_handle[&h];
            self.socks[i].written += n as u32;
        }
        self.events();
    }

    /// `recv` into a `len`-byte buffer on connection `sock`, checking the bytes.
    pub fn recv(&mut self, sock: u8, len: usize) {
        let Some(h) = self.pick(sock) else { return };
        self.read_from(h, len);
        self.events();
    }

    /// Reads everything every held connection has.
    pub fn recv_all(&mut self) {
        for h in self.owned.clone() {
            while self.read_from(h, 65_536) > 0 {}
        }
        self.events();
    }

    fn read_from(&mut self, h: SocketHandle, len: usize) -> usize {
        let mut buf = vec![0u8; len];
        let n = match self.stack.tcp_recv(h, &mut buf) {
            Ok(n) => n,
            Err(RecvError::WouldBlock | RecvError::Failed(_)) => return 0,
        };
        assert!(n <= len, "{}: recv returned {n} bytes into a {len}-byte buffer", self.name);
        let s = &mut self.socks[self.by_handle[&h]];
        if n > 0 && self.check_reads {
            let irs = s.irs.unwrap_or_else(|| {
                panic!("{}: {h} delivered data before it reported Connected", self.name)
            });
            let start = seq_add(irs, 1 + s.read);
            for (i, &b) in buf[..n].iter().enumerate() {
                let seq = seq_add(start, i as u32);
                assert_eq!(
                    b,
                    pattern(seq, self.peer_salt),
                    "{}: {h} read a byte at stream offset {} (seq {seq}) that the peer never sent",
                    self.name,
                    s.read as usize + i
                );
            }
        }
        s.read += n as u32;
        n
    }

    /// `shutdown(SHUT_WR)`.
    pub fn shutdown(&mut self, sock: u8) {
        let Some(h) = self.pick(sock) else { return };
        self.stack.tcp_shutdown_write(h);
        self.socks[self.by_handle[&h]].shut = true;
        self.events();
    }

    /// `close`: the handle is released.
    pub fn close(&mut self, now: Instant, sock: u8) {
        let Some(h) = self.pick(sock) else { return };
        self.release(h);
        self.stack.close(now, h);
        self.events();
    }

    /// Abort with a RST: the handle is released.
    pub fn abort(&mut self, sock: u8) {
        let Some(h) = self.pick(sock) else { return };
        self.release(h);
        self.stack.tcp_abort(h);
        self.events();
    }

    fn release(&mut self, h: SocketHandle) {
        self.owned.retain(|&o| o != h);
        self.socks[self.by_handle[&h]].shut = true;
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&mut self, sock: u8, on: bool) {
        let Some(h) = self.pick(sock) else { return };
        self.stack.tcp_set_nodelay(h, on);
        self.events();
    }

    /// `SO_KEEPALIVE`.
    pub fn set_keepalive(&mut self, now: Instant, sock: u8, on: bool) {
        let Some(h) = self.pick(sock) else { return };
        self.stack.tcp_set_keepalive(now, h, on);
        self.events();
    }

    /// A datagram of `len` pattern bytes from the UDP socket.
    pub fn udp_send(&mut self, now: Instant, to: core::net::SocketAddrV4, len: usize) {
        let Some(u) = self.udp else { return };
        let data: Vec<u8> = (0..len).map(|i| i as u8 ^ self.salt).collect();
        let _ = self.stack.udp_send_to(now, u, to, &data);
        self.events();
    }

    /// Reads every queued datagram.
    pub fn udp_recv(&mut self) {
        let Some(u) = self.udp else { return };
        let mut buf = vec![0u8; 65_536];
        for _ in 0..10_000 {
            if self.stack.udp_recv_from(u, &mut buf).is_err() {
                break;
            }
        }
        self.events();
    }

    /// The application lets go of everything: connections closed, listener and UDP socket
    /// closed.
    pub fn close_everything(&mut self, now: Instant) {
        while !self.owned.is_empty() {
            self.close(now, 0);
        }
        self.close_listener(now);
        if let Some(u) = self.udp.take() {
            self.stack.close(now, u);
        }
        self.events();
    }

    // ------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------

    fn add_sock(&mut self, h: SocketHandle, tuple: FourTuple) -> usize {
        let i = self.socks.len();
        self.socks.push(Sock {
            h,
            tuple,
            iss: None,
            irs: None,
            written: 0,
            read: 0,
            shut: false,
            connected: false,
            closed: false,
        });
        self.by_handle.insert(h, i);
        i
    }

    /// Takes every queued event, checks it and keeps what the application learns from it.
    /// Called after every call into the stack, so `Connected` is seen right after the
    /// packet that caused it.
    fn events(&mut self) {
        let mut accept = false;
        while let Some(ev) = self.stack.poll_event() {
            let h = ev.socket;
            match ev.kind {
                SocketEventKind::Tcp(Event::Connected) => self.on_connected(h),
                SocketEventKind::Tcp(Event::Closed(_)) => match self.by_handle.get(&h) {
                    Some(&i) => {
                        let s = &mut self.socks[i];
                        assert!(!s.closed, "{}: {h} reported Closed twice", self.name);
                        s.closed = true;
                    }
                    None => assert!(
                        self.closed_unknown.insert(h),
                        "{}: {h} reported Closed twice",
                        self.name
                    ),
                },
                SocketEventKind::AcceptReady => {
                    assert_eq!(
                        Some(h),
                        self.listener,
                        "{}: AcceptReady for {h}, which is not the listener",
                        self.name
                    );
                    accept = true;
                }
                _ => {}
            }
        }
        if accept && self.auto_accept {
            self.accept_all();
        }
    }

    fn on_connected(&mut self, h: SocketHandle) {
        assert!(
            !self.closed_unknown.contains(&h),
            "{}: {h} reported Connected after Closed",
            self.name
        );
        let conn = self.stack.tcp_conn(h);
        let tuple = conn.tuple();
        // The peer's ISS: RCV.NXT less the SYN, the bytes that came with the handshake and
        // a FIN if one came too (this runs right after the packet that connected it).
        let fin = matches!(
            conn.state(),
            TcpState::CloseWait | TcpState::LastAck | TcpState::Closing | TcpState::TimeWait
        );
        let taken = 1 + conn.recv_queue() as u32 + u32::from(fin);
        let irs = SeqNum::new(conn.recv_next().get().wrapping_sub(taken));
        let i = match self.by_handle.get(&h) {
            Some(&i) => i,
            None => self.add_sock(h, tuple),
        };
        let s = &mut self.socks[i];
        assert!(!s.connected, "{}: {h} reported Connected twice", self.name);
        assert!(!s.closed, "{}: {h} reported Connected after Closed", self.name);
        s.connected = true;
        s.irs = Some(irs);
        if let Some(sent) = self.sent.get_mut(&tuple) {
            s.iss = Some(sent.iss);
            sent.sock = Some(i);
        }
    }

    // ------------------------------------------------------------------------------------
    // Checks
    // ------------------------------------------------------------------------------------

    /// A packet the stack sent: a valid IPv4 packet from us that fits the MTU, with a valid
    /// transport checksum; TCP data is the application's, at its sequence numbers.
    fn check_sent(&mut self, packet: &[u8]) {
        let name = self.name;
        assert!(
            packet.len() <= self.mtu,
            "{name}: sent a {}-byte packet on a {}-byte MTU",
            packet.len(),
            self.mtu
        );
        let view = Ipv4Packet::new_checked(packet)
            .unwrap_or_else(|e| panic!("{name}: sent a bad IPv4 packet ({e:?}): {packet:02x?}"));
        let ip = Ipv4Repr::parse(&view)
            .unwrap_or_else(|e| panic!("{name}: sent a bad IPv4 header ({e:?}): {packet:02x?}"));
        assert_eq!(ip.src, self.addr, "{name}: sent a packet from an address not its own");
        assert_eq!(
            usize::from(view.total_len()),
            packet.len(),
            "{name}: total length field and packet length differ"
        );
        let payload = view.payload();
        if ip.is_fragment() {
            assert_ne!(ip.protocol, IpProtocol::TCP, "{name}: fragmented a TCP segment");
            return;
        }
        match ip.protocol {
            IpProtocol::TCP => {
                let tv = TcpPacket::new_checked(payload)
                    .unwrap_or_else(|e| panic!("{name}: sent a bad TCP header ({e:?})"));
                let seg = TcpRepr::parse(&tv, ip.src, ip.dst)
                    .unwrap_or_else(|e| panic!("{name}: sent a bad TCP segment ({e:?})"));
                assert!(ip.dont_frag, "{name}: sent a TCP segment without DF");
                let tuple = FourTuple {
                    local: core::net::SocketAddr::from((ip.src, seg.src_port)),
                    remote: core::net::SocketAddr::from((ip.dst, seg.dst_port)),
                };
                self.check_segment(tuple, &seg);
            }
            IpProtocol::UDP => {
                let uv = UdpPacket::new_checked(payload)
                    .unwrap_or_else(|e| panic!("{name}: sent a bad UDP header ({e:?})"));
                UdpRepr::parse(&uv, ip.src, ip.dst)
                    .unwrap_or_else(|e| panic!("{name}: sent a bad UDP datagram ({e:?})"));
            }
            IpProtocol::ICMP => {
                let iv = Icmpv4Packet::new_checked(payload)
                    .unwrap_or_else(|e| panic!("{name}: sent a bad ICMP header ({e:?})"));
                match Icmpv4Repr::parse(&iv) {
                    Ok(_) => {}
                    // An error about a datagram shorter than 8 bytes of data quotes all of it
                    // (RFC 1812 §4.3.2.3: as much as possible, as Linux's icmp_send), and
                    // the parser, like Linux's icmp_socket_deliver, wants 8 bytes to hand an
                    // error to a protocol. The checksum must still be right.
                    Err(ParseError::Truncated)
                        if iv.msg_type() == 3
                            && payload.len() < 8 + 60 + 8
                            && checksum::data(payload) == 0xffff => {}
                    Err(e) => panic!("{name}: sent a bad ICMP message ({e:?}): {payload:02x?}"),
                }
            }
            other => panic!("{name}: sent a packet of protocol {other:?}"),
        }
    }

    fn check_segment(&mut self, tuple: FourTuple, seg: &TcpRepr<'_>) {
        let name = self.name;
        let f = seg.flags;
        if f.contains(TcpFlags::RST) {
            assert!(seg.payload.is_empty(), "{name}: sent a RST with data");
            return;
        }
        if f.contains(TcpFlags::SYN) {
            // No Fast Open: a SYN or SYN-ACK carries no data and no FIN.
            assert!(
                seg.payload.is_empty() && !f.contains(TcpFlags::FIN),
                "{name}: sent a SYN with data or FIN on {tuple:?}"
            );
            let known = self.socks.iter().any(|s| s.tuple == tuple);
            assert!(
                known || f.contains(TcpFlags::ACK) || self.sent.contains_key(&tuple),
                "{name}: sent a SYN on {tuple:?}, which no connect asked for"
            );
            let entry = self.sent.entry(tuple).or_insert(Sent { iss: seg.seq, sock: None });
            if entry.iss != seg.seq {
                *entry = Sent { iss: seg.seq, sock: None };
            }
            return;
        }
        let known = self.sent.contains_key(&tuple) || self.socks.iter().any(|s| s.tuple == tuple);
        assert!(known, "{name}: sent {f:?} on {tuple:?}, where it never had a connection");
        if seg.payload.is_empty() && !f.contains(TcpFlags::FIN) {
            return;
        }
        let sock = self.sent.get(&tuple).and_then(|s| s.sock).map(|i| &self.socks[i]);
        let Some(s) = sock else {
            // Its SYN never went out (a blind handshake completed it): no ISS to check
            // against.
            let ours = self.socks.iter().any(|s| s.tuple == tuple && s.iss.is_none());
            assert!(ours, "{name}: sent data on {tuple:?} before it connected");
            return;
        };
        let Some(iss) = s.iss else { return };
        let first = seq_add(iss, 1);
        let off = seg.seq.get().wrapping_sub(first.get());
        let len = seg.payload.len() as u32;
        if len > 0 {
            assert!(
                off < 0x8000_0000 && off + len <= s.written,
                "{name}: {} sent bytes {off}..{} of its stream; the application wrote {}",
                s.h,
                off.wrapping_add(len),
                s.written
            );
            for (i, &b) in seg.payload.iter().enumerate() {
                let seq = seq_add(seg.seq, i as u32);
                assert_eq!(
                    b,
                    pattern(seq, self.salt),
                    "{name}: {} sent a byte at seq {seq} that is not the application's",
                    s.h
                );
            }
        }
        if f.contains(TcpFlags::FIN) {
            assert!(s.shut, "{name}: {} sent a FIN the application did not ask for", s.h);
            assert_eq!(
                off.wrapping_add(len),
                s.written,
                "{name}: {} sent its FIN somewhere else than after the last byte written",
                s.h
            );
        }
    }

    /// Checks that hold after every step: the stack's deadline is not in the past and not
    /// later than any connection's; its counts agree with its table.
    pub fn check(&self, now: Instant) {
        let name = self.name;
        let deadline = self.stack.poll_timeout();
        if let Some(t) = deadline {
            assert!(t >= now, "{name}: poll_timeout {t:?} is in the past (now {now:?})");
        }
        let table = self.stack.netstat(now);
        assert_eq!(
            table.sockets.len(),
            self.stack.socket_count(),
            "{name}: socket_count disagrees with the socket table"
        );
        for info in &table.sockets {
            if info.protocol != ustack_core::Protocol::Tcp || info.state == TcpState::Listen {
                continue;
            }
            // A connection in TIME-WAIT that the application closed is a record.
            let timeout = match self.stack.tcp_time_wait(info.handle) {
                Some(tw) => Some(tw.poll_timeout()),
                None => self.stack.tcp_conn(info.handle).poll_timeout(),
            };
            if let Some(t) = timeout {
                assert!(
                    deadline.is_some_and(|d| d <= t),
                    "{name}: {} needs a timer at {t:?}, but poll_timeout says {deadline:?}",
                    info.handle
                );
            }
        }
        // Each packet handed in is counted once, by the family its version field names.
        let c = self.stack.counters();
        assert_eq!(
            c.ip_in_receives + c.ip6_in_receives,
            self.received,
            "{name}: counted packets differ from packets handed in"
        );
    }

    /// Bytes the application read, over every connection.
    pub fn bytes_read(&self) -> u64 {
        self.socks.iter().map(|s| u64::from(s.read)).sum()
    }

    /// The stack's sockets, for a message.
    pub fn table(&self, now: Instant) -> String {
        self.stack.netstat(now).to_string()
    }
}
