//! [`Setup`] and [`ScenarioRun`]: two hosts, one link, and the bounded run of a [`Scenario`].

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ustack_core::tcp_engine::TcpConfig;
use ustack_core::{InterfaceConfig, Ipv4Cidr, Ipv6Cidr, Stack, StackConfig};

use super::error::{ScenarioError, Side};
use super::{Scenario, Status};
use crate::app::SimHost;
use crate::config::LinkConfig;
use crate::host::HostId;
use crate::link::{Direction, LinkId, LinkStats};
use crate::net::Network;
use crate::run::{Bounds, RunError};
use crate::{Duration, Instant};

/// Where a scenario runs: a client host and a server host joined by one link, the TCP
/// settings of both, and the bounds of the run.
///
/// The client is 10.0.0.1/24 and 2001:db8::1/64, the server 10.0.0.2/24 and 2001:db8::2/64
/// listening on port 5001; both interfaces take the link's MTU. The scenario runs over IPv4,
/// or over IPv6 with [`Setup::ipv6`] (the server's address the client dials, and the one the
/// server listens on, are then its IPv6 one). Each stack's secret comes from the network's
/// seed ([`Network::derive_secret`], labels 0 and 1).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Setup {
    /// Both directions of the link.
    pub link: LinkConfig,
    /// The TCP settings of both hosts.
    pub tcp: TcpConfig,
    /// The bounds of the whole run, from the start to the last socket released (TIME-WAIT
    /// included).
    pub bounds: Bounds,
    /// Run over IPv6 instead of IPv4.
    pub ipv6: bool,
}

impl Setup {
    /// The client's address.
    pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    /// The server's address.
    pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    /// The client's IPv6 address.
    pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    /// The server's IPv6 address.
    pub const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    /// The port the server listens on.
    pub const PORT: u16 = 5001;
    /// The default bounds: an hour of virtual time, 10 million events.
    pub const DEFAULT_BOUNDS: Bounds =
        Bounds::time(Duration::from_secs(3_600)).max_events(Bounds::DEFAULT_MAX_EVENTS);

    /// Two hosts over `link`, with Linux's TCP settings and the default bounds.
    pub fn new(link: LinkConfig) -> Self {
        Setup { link, tcp: TcpConfig::LINUX, bounds: Self::DEFAULT_BOUNDS, ipv6: false }
    }

    /// Runs over IPv6 (`true`) or IPv4.
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// The address the server listens on and the client dials.
    pub fn server_addr(&self) -> SocketAddr {
        let ip = if self.ipv6 { IpAddr::V6(Self::SERVER6) } else { IpAddr::V4(Self::SERVER) };
        SocketAddr::new(ip, Self::PORT)
    }

    /// Uses `tcp` on both hosts.
    pub fn tcp(mut self, tcp: TcpConfig) -> Self {
        self.tcp = tcp;
        self
    }

    /// Bounds the run.
    pub fn bounds(mut self, bounds: Bounds) -> Self {
        self.bounds = bounds;
        self
    }

    fn stack(&self, net: &Network, label: u64, addr: Ipv4Addr, addr6: Ipv6Addr) -> Stack {
        let cfg = StackConfig { tcp: self.tcp, ..StackConfig::new(net.derive_secret(label)) };
        let mut stack = Stack::new(cfg).unwrap_or_else(|e| panic!("stack config: {e}"));
        stack.add_interface(InterfaceConfig::ipv4(
            Ipv4Cidr::new(addr, 24).expect("a /24"),
            u16::try_from(self.link.mtu).unwrap_or(u16::MAX),
        ));
        stack.add_ipv6_addr(0, Ipv6Cidr::new(addr6, 64).expect("a /64"));
        stack
    }
}

/// When the phases of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunTimes {
    /// When both applications were done with their work.
    pub done_at: Instant,
    /// When both had closed and released every socket.
    pub finished_at: Instant,
    /// Events run.
    pub events: u64,
}

/// A [`Scenario`] set up on a [`Setup`] with a seed, ready to [`run`](ScenarioRun::run).
///
/// Between [`new`](ScenarioRun::new) and `run`, the network is open to change (a pcap tap on
/// [`link`](ScenarioRun::link), say); after `run`, whatever its outcome, the hosts and the
/// network are there to read, and [`Scenario::report`] reads them.
///
/// A run has two phases, together within the setup's bounds:
///
/// 1. "transfer": until both applications are [`done`](Status::done) (or one met a
///    failure);
/// 2. "close": until both have [`finished`](Status::finished): every connection closed
///    (TIME-WAIT over) and released.
///
/// Then neither stack may hold a socket.
pub struct ScenarioRun<S: Scenario> {
    net: Network,
    client: HostId<SimHost<S::Client>>,
    server: HostId<SimHost<S::Server>>,
    link: LinkId,
    bounds: Bounds,
    start: Instant,
    times: Option<RunTimes>,
}

impl<S: Scenario> core::fmt::Debug for ScenarioRun<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScenarioRun")
            .field("net", &self.net)
            .field("link", &self.link)
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}

impl<S: Scenario> ScenarioRun<S> {
    /// Builds the network of `setup` with seed `seed`, the client and server of `scenario`
    /// on it.
    pub fn new(scenario: &S, setup: &Setup, seed: u64) -> Result<Self, ScenarioError> {
        let mut net = Network::new(seed);
        let server_addr = setup.server_addr();
        let client_stack = setup.stack(&net, 0, Setup::CLIENT, Setup::CLIENT6);
        let server_stack = setup.stack(&net, 1, Setup::SERVER, Setup::SERVER6);
        let client = net.add_host(SimHost::new(client_stack, scenario.client(server_addr)));
        let server = net.add_host(SimHost::new(server_stack, scenario.server(server_addr)));
        let link = net
            .connect(client.iface(0), server.iface(0), setup.link.clone())
            .map_err(|error| ScenarioError::Setup { seed, error })?;
        let start = net.now();
        Ok(ScenarioRun { net, client, server, link, bounds: setup.bounds, start, times: None })
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The network, to change before the run (add a tap) or to run on afterwards.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// The link between the client (its first end) and the server.
    pub fn link(&self) -> LinkId {
        self.link
    }

    /// What the link carried: client to server, then server to client.
    pub fn link_stats(&self) -> [LinkStats; 2] {
        Direction::BOTH.map(|d| *self.net.link_stats(self.link, d))
    }

    /// The client host.
    pub fn client(&self) -> &SimHost<S::Client> {
        self.net.host(self.client)
    }

    /// The server host.
    pub fn server(&self) -> &SimHost<S::Server> {
        self.net.host(self.server)
    }

    /// The network's seed.
    pub fn seed(&self) -> u64 {
        self.net.seed()
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// How the run went, once [`run`](ScenarioRun::run) succeeded.
    pub fn times(&self) -> Option<RunTimes> {
        self.times
    }

    /// Runs both phases within the bounds. Errors name the seed: a bound hit (with how far
    /// each application got), an application's failure, or sockets left over.
    pub fn run(&mut self) -> Result<RunTimes, ScenarioError> {
        let (c, s) = (self.client, self.server);
        let events_at_start = self.net.events_run();
        let failed = move |net: &Network| {
            net.host(c).app().failure().is_some() || net.host(s).app().failure().is_some()
        };

        let done =
            |net: &Network| failed(net) || (net.host(c).app().done() && net.host(s).app().done());
        let result = self.net.run_while(self.bounds, |net| !done(net));
        result.map_err(|error| self.bound_error("transfer", error))?;
        self.check_failures()?;
        let done_at = self.net.now();

        let used = self.net.events_run() - events_at_start;
        let rest = Bounds::time(self.bounds.time_limit().saturating_sub(done_at - self.start))
            .max_events(self.bounds.event_limit().saturating_sub(used));
        let finished = |net: &Network| {
            failed(net) || (net.host(c).app().finished() && net.host(s).app().finished())
        };
        let result = self.net.run_while(rest, |net| !finished(net));
        result.map_err(|error| self.bound_error("close", error))?;
        self.check_failures()?;

        for side in [Side::Client, Side::Server] {
            let stack = match side {
                Side::Client => self.client().stack(),
                Side::Server => self.server().stack(),
            };
            if stack.socket_count() != 0 {
                return Err(ScenarioError::Leak {
                    seed: self.seed(),
                    side,
                    sockets: stack.socket_count(),
                    netstat: stack.netstat(self.net.now()).to_string(),
                });
            }
        }
        let times = RunTimes {
            done_at,
            finished_at: self.net.now(),
            events: self.net.events_run() - events_at_start,
        };
        self.times = Some(times);
        Ok(times)
    }

    fn bound_error(&self, phase: &'static str, error: RunError) -> ScenarioError {
        let progress =
            format!("{}; {}", self.client().app().progress(), self.server().app().progress());
        ScenarioError::Bound { phase, error, progress }
    }

    fn check_failures(&self) -> Result<(), ScenarioError> {
        let failure = self.client().app().failure().or(self.server().app().failure());
        match failure {
            Some(failure) => {
                Err(ScenarioError::Failed { seed: self.seed(), failure: failure.clone() })
            }
            None => Ok(()),
        }
    }
}
