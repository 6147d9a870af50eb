//! Running a network: bounds and what they report, event order, hosts reached mid-run,
//! connection errors.

mod fixtures;

use fixtures::{Echo, Node};
use ustack_sim::{
    Bounds, ConnectError, Direction, Duration, Endpoint, Host, Instant, LinkConfig,
    LinkConfigError, Network, RunError,
};

const MS: Duration = Duration::from_millis(1);

/// Two echoes bouncing one packet forever over a 1 ms link.
fn ping_pong(seed: u64) -> Network {
    let mut net = Network::new(seed);
    let a = net.add_host(Echo::kick());
    let b = net.add_host(Echo::new());
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(MS)).unwrap();
    net
}

#[test]
fn run_while_reports_the_time_bound() {
    let mut net = ping_pong(5);
    let err = net.run_while(Bounds::time(Duration::from_secs(1)), |_| true).unwrap_err();
    assert_eq!(err, RunError::TimeLimit { deadline: Instant::from_secs(1), events: 1000, seed: 5 });
    assert_eq!(net.now(), Instant::from_secs(1));
    assert!(err.to_string().contains("virtual-time bound"), "{err}");
    assert!(err.to_string().contains("seed 5"), "{err}");
}

#[test]
fn run_while_reports_the_event_bound() {
    let mut net = ping_pong(6);
    let bounds = Bounds::time(Duration::from_secs(3_600)).max_events(100);
    let err = net.run_while(bounds, |_| true).unwrap_err();
    assert_eq!(err, RunError::EventLimit { limit: 100, at: Instant::from_millis(100), seed: 6 });
    assert_eq!(net.events_run(), 100);
    assert!(err.to_string().contains("100 events"), "{err}");
}

#[test]
fn run_while_reports_a_stall() {
    let mut net = Network::new(7);
    let a = net.add_host(Node::new().send_at(Instant::from_millis(2), 0, 40));
    let b = net.add_host(Node::new());
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(MS)).unwrap();
    let err = net.run_while(Bounds::time(Duration::from_secs(1)), |_| true).unwrap_err();
    assert_eq!(err, RunError::Stalled { at: Instant::from_millis(3), events: 2, seed: 7 });
    assert_eq!(err.seed(), 7);
}

#[test]
fn run_while_stops_when_the_condition_turns_false() {
    let mut net = Network::new(1);
    let a = net.add_host(Node::new().send_every(Instant::ZERO, MS, 0, 10, 40));
    let b = net.add_host(Node::new());
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(5 * MS)).unwrap();
    let run = net
        .run_while(Bounds::time(Duration::from_secs(1)), |net| net.host(b).arrivals.len() < 3)
        .unwrap();
    assert_eq!(run.now, Instant::from_millis(7));
    assert_eq!(net.host(b).ids(), [0, 1, 2]);
}

/// A host whose deadline is always now: a zero-time loop.
struct Spinner;

impl Host for Spinner {
    fn handle_packet(&mut self, _: Instant, _: usize, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<(usize, usize)> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn run_until_is_bounded_in_events() {
    let mut net = Network::new(9);
    let s = net.add_host(Spinner);
    net.set_event_limit(1_000);
    let err = net.run_until(Instant::from_secs(1)).unwrap_err();
    assert_eq!(err, RunError::EventLimit { limit: 1_000, at: Instant::ZERO, seed: 9 });
    assert_eq!(net.host_counters(s).timeouts, 1_000);
}

#[test]
fn run_until_and_step_move_the_clock() {
    let mut net = Network::new(1);
    let a = net.add_host(Node::new().send_at(Instant::from_millis(3), 0, 40));
    let b = net.add_host(Node::new());
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(MS)).unwrap();
    assert_eq!(net.next_event_time(), Some(Instant::from_millis(3)));
    assert_eq!(net.step(), Some(Instant::from_millis(3))); // a's timer: it sends
    assert_eq!(net.step(), Some(Instant::from_millis(4))); // arrival at b
    assert_eq!(net.step(), None);
    let run = net.run_until(Instant::from_millis(10)).unwrap();
    assert_eq!((run.events, run.now), (0, Instant::from_millis(10)));
    let run = net.run_for(5 * MS).unwrap();
    assert_eq!(run.now, Instant::from_millis(15));
    assert_eq!(net.host(b).times(), [Instant::from_millis(4)]);
}

#[test]
fn a_host_reached_mid_run_sends_at_the_current_time() {
    let mut net = Network::new(1);
    let a = net.add_host(Node::new());
    let b = net.add_host(Node::new());
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(2 * MS)).unwrap();
    net.run_until(Instant::from_millis(50)).unwrap();
    net.host_mut(a).send_now(0, 42, 60);
    net.run_until(Instant::from_millis(100)).unwrap();
    assert_eq!(net.host(b).times(), [Instant::from_millis(52)]);
    assert_eq!(net.host(b).ids(), [42]);
}

#[test]
fn simultaneous_events_run_in_the_order_they_were_scheduled() {
    // A's packet (sent at 0, 10 ms link) and B's (sent at 5 ms, 5 ms link) both reach C at
    // 10 ms: A's was scheduled first, so it arrives first, in every run.
    let mut net = Network::new(1);
    let a = net.add_host(Node::new().send_at(Instant::ZERO, 1, 40));
    let b = net.add_host(Node::new().send_at(Instant::from_millis(5), 2, 40));
    let c = net.add_host(Node::new());
    net.connect(b.iface(0), c.iface(1), LinkConfig::new().delay(5 * MS)).unwrap();
    net.connect(a.iface(0), c.iface(0), LinkConfig::new().delay(10 * MS)).unwrap();
    net.run_until(Instant::from_secs(1)).unwrap();
    assert_eq!(net.host(c).ids(), [1, 2]);
    assert_eq!(net.host(c).times(), [Instant::from_millis(10); 2]);
    assert_eq!(net.host(c).arrivals[1].iface, 1);
}

#[test]
fn connect_refuses_bad_links() {
    let mut net = Network::new(1);
    let a = net.add_host(Node::new().send_on(Instant::ZERO, 3, 0, 40));
    let b = net.add_host(Node::new());
    net.connect(a.iface(0), b.iface(0), LinkConfig::new()).unwrap();
    assert_eq!(
        net.connect(a.iface(1), b.iface(0), LinkConfig::new()),
        Err(ConnectError::InterfaceInUse(Endpoint { host: 1, iface: 0 }))
    );
    assert_eq!(
        net.connect(a.iface(1), Endpoint { host: 9, iface: 0 }, LinkConfig::new()),
        Err(ConnectError::NoSuchHost(9))
    );
    assert_eq!(
        net.connect(a.iface(1), a.iface(1), LinkConfig::new()),
        Err(ConnectError::InterfaceInUse(a.iface(1)))
    );
    let err = net
        .connect_asymmetric(
            a.iface(1),
            b.iface(1),
            LinkConfig::new(),
            LinkConfig::new().duplicate(-1.0),
        )
        .unwrap_err();
    assert_eq!(
        err,
        ConnectError::Config {
            direction: Direction::BToA,
            error: LinkConfigError::Probability { what: "duplicate", value: -1.0 }
        }
    );
    assert!(err.to_string().contains("duplicate probability -1"), "{err}");
    // A host connected on two interfaces of one host is fine.
    net.connect(a.iface(1), a.iface(2), LinkConfig::new()).unwrap();
    assert_eq!(net.links().count(), 2);

    // A packet on an interface with no link is counted, not carried.
    net.run_until(Instant::from_secs(1)).unwrap();
    let counters = net.host_counters(a);
    assert_eq!((counters.transmitted, counters.no_link), (1, 1));
}

/// An echo that pushes a far deadline back on every packet, like a keepalive timer.
struct KeepaliveEcho {
    echo: Echo,
    idle_until: Instant,
}

impl Host for KeepaliveEcho {
    fn handle_packet(&mut self, now: Instant, iface: usize, packet: &[u8]) {
        self.idle_until = now + Duration::from_secs(7_200);
        self.echo.handle_packet(now, iface, packet);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.echo.poll_transmit(now, buf)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.idle_until)
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn rearmed_deadlines_do_not_pile_up() {
    let mut net = Network::new(1);
    let far = Instant::from_secs(7_200);
    let a = net.add_host(KeepaliveEcho { echo: Echo::kick(), idle_until: far });
    let b = net.add_host(KeepaliveEcho { echo: Echo::new(), idle_until: far });
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(MS)).unwrap();
    for _ in 0..20 {
        net.run_for(Duration::from_secs(1)).unwrap();
        // One packet in flight, two deadlines armed; stale deadlines compacted away.
        assert_eq!(net.pending_events(), 3);
        assert!(format!("{net:?}").contains("pending_events: 3"));
    }
    assert_eq!(net.host(a).echo.echoed + net.host(b).echo.echoed, 20_001);
    assert_eq!(net.host_counters(a).timeouts, 0);
}
