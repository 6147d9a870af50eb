//! [`World`]: two ustack hosts joined by one simulated link, the API scenarios script them
//! with, and the recorder that turns the run into a [`Trace`].
//!
//! The client is 10.0.0.1/24, the server 10.0.0.2/24. Both stacks trace (state changes,
//! timers, retransmissions, windows, RTT samples, drops) and take their secrets from the
//! seed, so a run replays exactly.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::cell::RefCell;
use std::rc::Rc;

use ustack_core::tcp_engine::TcpConfig;
use ustack_core::{
    BindError, ConnectError, Duration, Instant, InterfaceConfig, Ipv4Cidr, SocketHandle, Stack,
    StackConfig,
};
use ustack_sim::{Bounds, HostId, LinkConfig, Network, RunError};

use crate::node::{Auto, Node};
use crate::recorder::Recorder;
use crate::script::Rule;
use crate::trace::{Note, Side, Trace};

/// The client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The server's address.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// The address of `side`.
pub const fn addr(side: Side) -> Ipv4Addr {
    match side {
        Side::Client => CLIENT,
        Side::Server => SERVER,
    }
}

/// How a world is built.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The link, both directions.
    pub link: LinkConfig,
    /// The stack settings of the client and of the server (the secret is replaced by one
    /// derived from the seed).
    pub stacks: [StackConfig; 2],
    /// The interface MTU of the client and of the server.
    pub mtu: [u16; 2],
}

impl Setup {
    /// Linux defaults on both hosts, a 10 Mbit/s link with 10 ms of delay each way.
    pub fn new() -> Setup {
        Setup {
            link: LinkConfig::new().rate_bps(10_000_000).delay(Duration::from_millis(10)),
            stacks: [StackConfig::new([0; 16]); 2],
            mtu: [1500; 2],
        }
    }

    /// Uses `link`.
    pub fn link(mut self, link: LinkConfig) -> Setup {
        self.link = link;
        self
    }

    /// Changes the TCP settings of both hosts.
    pub fn tcp(mut self, f: impl Fn(&mut TcpConfig)) -> Setup {
        for s in &mut self.stacks {
            f(&mut s.tcp);
        }
        self
    }

    /// Changes the stack settings of one host.
    pub fn stack(mut self, side: Side, f: impl FnOnce(&mut StackConfig)) -> Setup {
        f(&mut self.stacks[side.index()]);
        self
    }

    /// Sets one host's interface MTU.
    pub fn mtu(mut self, side: Side, mtu: u16) -> Setup {
        self.mtu[side.index()] = mtu;
        self
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup::new()
    }
}

/// Two hosts, one link, a recorder.
pub struct World {
    net: Network,
    nodes: [HostId<Node>; 2],
    rec: Rc<RefCell<Recorder>>,
    delay: Duration,
}

impl core::fmt::Debug for World {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("World").field("net", &self.net).finish_non_exhaustive()
    }
}

/// What a run condition sees: the nodes, read-only.
pub struct View<'a> {
    net: &'a Network,
    nodes: [HostId<Node>; 2],
}

impl View<'_> {
    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// A node.
    pub fn node(&self, side: Side) -> &Node {
        self.net.host(self.nodes[side.index()])
    }

    /// A node's stack.
    pub fn stack(&self, side: Side) -> &Stack {
        self.node(side).stack()
    }
}

/// The bound of every `run_*` call: a run that needs more is a finding, not a hang.
const MAX_EVENTS: u64 = 5_000_000;

impl World {
    /// Builds the world of `setup` from `seed`.
    pub fn new(setup: &Setup, seed: u64) -> World {
        let mut net = Network::new(seed);
        let rec = Rc::new(RefCell::new(Recorder::default()));
        let mut ids = Vec::new();
        for side in Side::BOTH {
            let mut cfg = setup.stacks[side.index()];
            cfg.secret = net.derive_secret(side.index() as u64);
            let mut stack = Stack::new(cfg).unwrap_or_else(|e| panic!("{side} stack config: {e}"));
            stack.add_interface(InterfaceConfig::ipv4(
                Ipv4Cidr::new(addr(side), 24).expect("a /24"),
                setup.mtu[side.index()],
            ));
            stack.set_tracing(true);
            ids.push(net.add_host(Node::new(side, stack, Rc::clone(&rec))));
        }
        let nodes = [ids[0], ids[1]];
        net.connect(nodes[0].iface(0), nodes[1].iface(0), setup.link.clone())
            .unwrap_or_else(|e| panic!("link config: {e}"));
        net.set_event_limit(MAX_EVENTS);
        rec.borrow_mut().trace.delay = setup.link.delay;
        World { net, nodes, rec, delay: setup.link.delay }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// The link's one-way delay.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// A node.
    pub fn node(&self, side: Side) -> &Node {
        self.net.host(self.nodes[side.index()])
    }

    /// A node, to change; it is served at the current time when the world next runs.
    pub fn node_mut(&mut self, side: Side) -> &mut Node {
        self.net.host_mut(self.nodes[side.index()])
    }

    /// A node's stack.
    pub fn stack(&self, side: Side) -> &Stack {
        self.node(side).stack()
    }

    /// Sets what a node's application does by itself.
    pub fn auto(&mut self, side: Side, auto: Auto) {
        self.node_mut(side).auto = auto;
    }

    /// Samples every connection's cwnd, ssthresh and RTO after every packet (for plots).
    pub fn sample(&mut self, side: Side) {
        self.node_mut(side).sample = true;
    }

    /// Stops diffing `side`'s socket table after every input (for runs with many sockets).
    pub fn unwatch(&mut self, side: Side) {
        self.node_mut(side).watch = false;
    }

    /// Adds a scripted impairment to the packets `side` sends.
    pub fn rule(&mut self, side: Side, rule: Rule) {
        self.node_mut(side).add_rule(rule);
    }

    /// Sends a packet the scenario made, from `side`, now.
    pub fn inject(&mut self, side: Side, bytes: Vec<u8>, why: &str) {
        let now = self.now();
        self.node_mut(side).inject(now, bytes, why);
    }

    /// Notes something about `side` in the trace.
    pub fn note(&mut self, side: Side, conn: Option<SocketHandle>, note: Note) {
        let now = self.now();
        let node = self.node(side);
        let ports = conn.and_then(|h| node.ports(h));
        node.note(now, ports, note);
    }

    // ---- the socket API, recorded ----

    /// `listen()` on `port` of `side`'s address.
    pub fn listen(
        &mut self,
        side: Side,
        port: u16,
        backlog: u32,
        reuse_addr: bool,
    ) -> Result<SocketHandle, BindError> {
        let now = self.now();
        let node = self.node_mut(side);
        let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        let r = node.stack.tcp_listen(local, backlog, reuse_addr);
        let reuse = if reuse_addr { ", SO_REUSEADDR" } else { "" };
        match &r {
            Ok(h) => {
                node.learn(now, *h);
                node.note(
                    now,
                    Some((port, 0)),
                    Note::App(format!("listen(:{port}, backlog {backlog}{reuse})")),
                );
            }
            Err(e) => node.note(
                now,
                Some((port, 0)),
                Note::Error(format!("listen(:{port}{reuse}) failed: {e}")),
            ),
        }
        r
    }

    /// `connect()` from `side` (local port `local`, 0 for an ephemeral one) to the other
    /// side's `port`.
    pub fn connect(
        &mut self,
        side: Side,
        local: u16,
        port: u16,
    ) -> Result<SocketHandle, ConnectError> {
        let now = self.now();
        let node = self.node_mut(side);
        let remote = SocketAddrV4::new(addr(side.peer()), port);
        let local_addr = (local != 0).then(|| SocketAddrV4::new(addr(side), local).into());
        let r = node.stack.tcp_connect(now, local_addr, remote);
        match &r {
            Ok(h) => {
                let h = *h;
                let t = node.stack.tcp_conn(h).tuple();
                let ports = Some((t.local.port(), port));
                node.note(now, ports, Note::App(format!("connect() to {remote}")));
                node.learn(now, h);
            }
            Err(e) => {
                node.note(now, None, Note::Error(format!("connect() to {remote} failed: {e}")))
            }
        }
        r
    }

    /// `sendto(MSG_FASTOPEN)` from `side` to the other side's `port` (SPEC S6): a
    /// connection whose SYN carries the start of `data` when a Fast Open cookie allows it,
    /// the rest written once connected.
    pub fn connect_with_data(
        &mut self,
        side: Side,
        port: u16,
        data: &[u8],
    ) -> Result<SocketHandle, ConnectError> {
        let now = self.now();
        let node = self.node_mut(side);
        let remote = SocketAddrV4::new(addr(side.peer()), port);
        let tcp = node.stack.config().tcp;
        let r = node.stack.tcp_connect_fast_open(now, None, remote, &tcp, data);
        match &r {
            Ok((h, start)) => {
                let h = *h;
                let t = node.stack.tcp_conn(h).tuple();
                let ports = Some((t.local.port(), port));
                let how = match (start.syn_data, start.cookie_request) {
                    (0, true) => "no cookie yet: the SYN asks for one".to_string(),
                    (0, false) => "Fast Open not used".to_string(),
                    (n, _) => format!("{n} bytes in the SYN"),
                };
                node.note(
                    now,
                    ports,
                    Note::App(format!(
                        "sendto({} bytes, MSG_FASTOPEN) to {remote}: {how}",
                        data.len()
                    )),
                );
                node.learn(now, h);
                if start.syn_data < data.len() {
                    // The rest waits in the send buffer for the handshake.
                    let _ = node.stack.tcp_send(h, &data[start.syn_data..]);
                }
            }
            Err(e) => node.note(
                now,
                None,
                Note::Error(format!("sendto(MSG_FASTOPEN) to {remote} failed: {e}")),
            ),
        }
        r.map(|(h, _)| h)
    }

    /// `setsockopt(TCP_FASTOPEN, qlen)` on listener `l` (SPEC S6).
    pub fn set_fastopen(&mut self, side: Side, l: SocketHandle, qlen: u32) {
        let now = self.now();
        let node = self.node_mut(side);
        node.stack.tcp_set_fastopen(l, qlen);
        node.note_sock(now, l, Note::App(format!("setsockopt(TCP_FASTOPEN, {qlen})")));
    }

    /// `setsockopt(TCP_DEFER_ACCEPT, secs)` on listener `l` (SPEC S7).
    pub fn set_defer_accept(&mut self, side: Side, l: SocketHandle, secs: i64) {
        let now = self.now();
        let node = self.node_mut(side);
        node.stack.tcp_set_defer_accept(l, secs);
        let covers = node.stack.tcp_defer_accept(l);
        node.note_sock(
            now,
            l,
            Note::App(format!(
                "setsockopt(TCP_DEFER_ACCEPT, {secs}): SYN-ACK retransmissions covering {covers} s"
            )),
        );
    }

    /// `accept()` on listener `l`.
    pub fn accept(&mut self, side: Side, l: SocketHandle) -> Option<SocketHandle> {
        let now = self.now();
        let node = self.node_mut(side);
        let h = node.stack.tcp_accept(l)?;
        node.accepted.push(h);
        node.learn(now, h);
        node.note_sock(now, h, Note::App("accept()".into()));
        Some(h)
    }

    /// Writes `data` on `h`; returns how much the send buffer took.
    pub fn send(&mut self, side: Side, h: SocketHandle, data: &[u8]) -> usize {
        let now = self.now();
        let node = self.node_mut(side);
        match node.stack.tcp_send(h, data) {
            Ok(n) => {
                node.note_sock(now, h, Note::App(format!("write {n} bytes")));
                n
            }
            Err(e) => {
                node.note_sock(now, h, Note::Error(format!("write failed: {e}")));
                0
            }
        }
    }

    /// Writes `bytes` bytes of the lab's pattern on `h` as fast as the connection takes
    /// them, then closes it when `close`.
    pub fn send_stream(&mut self, side: Side, h: SocketHandle, bytes: usize, close: bool) {
        let now = self.now();
        let node = self.node_mut(side);
        node.note_sock(now, h, Note::App(format!("start writing {bytes} bytes")));
        node.pump(now, h, bytes, close);
    }

    /// Reads everything `h` holds now.
    pub fn read(&mut self, side: Side, h: SocketHandle) -> usize {
        let now = self.now();
        self.node_mut(side).read_all(now, h)
    }

    /// `close()`.
    pub fn close(&mut self, side: Side, h: SocketHandle) {
        let now = self.now();
        let node = self.node_mut(side);
        node.note_sock(now, h, Note::App("close()".into()));
        node.mark_closed(h);
        node.stack.close(now, h);
    }

    /// `shutdown(SHUT_WR)`: our FIN after the data, the socket stays ours.
    pub fn shutdown(&mut self, side: Side, h: SocketHandle) {
        let now = self.now();
        let node = self.node_mut(side);
        node.note_sock(now, h, Note::App("shutdown(SHUT_WR)".into()));
        node.stack.tcp_shutdown_write(h);
    }

    // ---- UDP, recorded ----

    /// `bind()` a UDP socket on `port` (0: an ephemeral one).
    pub fn udp_bind(&mut self, side: Side, port: u16) -> Result<SocketHandle, BindError> {
        let now = self.now();
        let node = self.node_mut(side);
        let r = node.stack.udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        let text = match &r {
            Ok(h) => format!("udp bind(:{port}) -> {}", node.stack.udp_local_addr(*h)),
            Err(e) => format!("udp bind(:{port}) failed: {e}"),
        };
        node.note(now, None, Note::App(text));
        r
    }

    /// `connect()` a UDP socket to the other side's `port`.
    pub fn udp_connect(&mut self, side: Side, h: SocketHandle, port: u16) {
        let now = self.now();
        let remote = SocketAddrV4::new(addr(side.peer()), port);
        let node = self.node_mut(side);
        let r = node.stack.udp_connect(h, remote);
        let local = node.stack.udp_local_addr(h).port();
        node.note(now, None, Note::App(format!("udp :{local} connect({remote}) -> {r:?}")));
    }

    /// `connect(AF_UNSPEC)`: forget the peer.
    pub fn udp_disconnect(&mut self, side: Side, h: SocketHandle) {
        let now = self.now();
        let node = self.node_mut(side);
        node.stack.udp_disconnect(h);
        let local = node.stack.udp_local_addr(h).port();
        node.note(now, None, Note::App(format!("udp :{local} disconnect")));
    }

    /// `sendto()` the other side's `port` (`None`: `send()` to the connected peer).
    pub fn udp_send(
        &mut self,
        side: Side,
        h: SocketHandle,
        port: Option<u16>,
        data: &[u8],
    ) -> bool {
        let now = self.now();
        let node = self.node_mut(side);
        let r = match port {
            Some(p) => {
                node.stack.udp_send_to(now, h, SocketAddrV4::new(addr(side.peer()), p), data)
            }
            None => node.stack.udp_send(now, h, data),
        };
        let local = node.stack.udp_local_addr(h).port();
        let what = port.map_or_else(|| "send".to_string(), |p| format!("sendto(:{p})"));
        match r {
            Ok(_) => {
                node.note(
                    now,
                    None,
                    Note::App(format!("udp :{local} {what} {} bytes", data.len())),
                );
                true
            }
            Err(e) => {
                node.note(now, None, Note::Error(format!("udp :{local} {what} failed: {e}")));
                false
            }
        }
    }

    /// The socket table of `side` now, like `ss -tan`.
    pub fn ss(&self, side: Side) -> String {
        self.stack(side).netstat(self.now()).filter(true, false, false).to_string()
    }

    // ---- running ----

    /// Runs every event up to `t`.
    pub fn run_until(&mut self, t: Instant) -> Result<(), RunError> {
        self.net.run_until(t).map(drop)
    }

    /// Runs for `d`.
    pub fn run_for(&mut self, d: Duration) -> Result<(), RunError> {
        self.net.run_for(d).map(drop)
    }

    /// Runs while `cond` holds, for at most `limit` of virtual time. Returns whether `cond`
    /// became false (false: the limit came first, or nothing was left to happen).
    pub fn run_while(&mut self, limit: Duration, mut cond: impl FnMut(&View<'_>) -> bool) -> bool {
        let bounds = Bounds::time(limit).max_events(MAX_EVENTS);
        let nodes = self.nodes;
        self.net.run_while(bounds, |net| cond(&View { net, nodes })).is_ok()
    }

    /// Ends the run: the trace.
    pub fn finish(self) -> Trace {
        let now = self.now();
        drop(self.net);
        let mut trace = core::mem::take(&mut self.rec.borrow_mut().trace);
        trace.end = now;
        trace
    }
}
