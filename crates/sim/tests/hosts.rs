//! ustack's stack on simulated hosts: a bare `Stack` is a `Host`, and a `SimHost` runs an
//! application on one after every input.

use core::net::{Ipv4Addr, SocketAddrV4};

use ustack_core::tcp_engine::Event;
use ustack_core::{
    InterfaceConfig, Ipv4Cidr, SocketEvent, SocketEventKind, SocketHandle, Stack, StackConfig,
};
use ustack_sim::{App, Duration, Instant, LinkConfig, Network, SimHost};

const A: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

fn stack(net: &Network, label: u64, addr: Ipv4Addr) -> Stack {
    let mut s = Stack::new(StackConfig::new(net.derive_secret(label))).unwrap();
    s.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(addr, 24).unwrap(), 1500));
    s
}

#[test]
fn bare_stacks_exchange_a_datagram() {
    let mut net = Network::new(3);
    let a = net.add_host(stack(&net, 0, A));
    let b = net.add_host(stack(&net, 1, B));
    net.connect(a.iface(0), b.iface(0), LinkConfig::new().delay(Duration::from_millis(7))).unwrap();
    let rx = net.host_mut(b).udp_bind(SocketAddrV4::new(B, 9)).unwrap();
    let now = net.now();
    let tx = net.host_mut(a).udp_bind(SocketAddrV4::new(A, 0)).unwrap();
    net.host_mut(a).udp_send_to(now, tx, SocketAddrV4::new(B, 9), b"hello").unwrap();
    net.run_until(Instant::from_millis(10)).unwrap();

    let mut buf = [0; 16];
    let (n, from) = net.host_mut(b).udp_recv_from(rx, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from.ip(), A);
    let event = net.host_mut(b).poll_event().unwrap();
    assert_eq!((event.socket, event.kind), (rx, SocketEventKind::UdpReadable));
    assert_eq!(net.host_counters(b).received, 1);
}

/// Echoes every TCP byte back, then closes when the peer does.
#[derive(Default)]
struct Echo {
    listener: Option<SocketHandle>,
    echoed: usize,
}

impl App for Echo {
    fn start(&mut self, _: Instant, stack: &mut Stack) {
        self.listener = Some(stack.tcp_listen(SocketAddrV4::new(B, 7), 8, false).unwrap());
    }

    fn on_event(&mut self, now: Instant, stack: &mut Stack, ev: SocketEvent) {
        if Some(ev.socket) == self.listener {
            while stack.tcp_accept(ev.socket).is_some() {}
            return;
        }
        if let SocketEventKind::Tcp(Event::Readable) = ev.kind {
            let mut buf = [0; 256];
            while let Ok(n) = stack.tcp_recv(ev.socket, &mut buf) {
                if n == 0 {
                    stack.close(now, ev.socket);
                    break;
                }
                self.echoed += stack.tcp_send(ev.socket, &buf[..n]).unwrap();
            }
        }
    }
}

/// Connects at a time of its choosing (its own deadline), sends a greeting, records the echo.
struct Greeter {
    at: Instant,
    conn: Option<SocketHandle>,
    got: Vec<u8>,
    got_at: Option<Instant>,
}

impl App for Greeter {
    fn start(&mut self, _: Instant, _: &mut Stack) {}

    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.is_none().then_some(self.at)
    }

    fn on_timeout(&mut self, now: Instant, stack: &mut Stack) {
        let h = stack.tcp_connect(now, None, SocketAddrV4::new(B, 7)).unwrap();
        stack.tcp_send(h, b"ping").unwrap();
        self.conn = Some(h);
    }

    fn on_event(&mut self, now: Instant, stack: &mut Stack, ev: SocketEvent) {
        if Some(ev.socket) != self.conn || ev.kind != SocketEventKind::Tcp(Event::Readable) {
            return;
        }
        let mut buf = [0; 256];
        while let Ok(n @ 1..) = stack.tcp_recv(ev.socket, &mut buf) {
            self.got.extend_from_slice(&buf[..n]);
            self.got_at = Some(now);
        }
    }
}

#[test]
fn an_app_answers_in_the_same_step_as_its_stack() {
    let mut net = Network::new(9);
    let client =
        Greeter { at: Instant::from_millis(100), conn: None, got: Vec::new(), got_at: None };
    let c = net.add_host(SimHost::new(stack(&net, 0, A), client));
    let s = net.add_host(SimHost::new(stack(&net, 1, B), Echo::default()));
    net.connect(c.iface(0), s.iface(0), LinkConfig::new().delay(Duration::from_millis(5))).unwrap();
    net.run_until(Instant::from_secs(1)).unwrap();

    assert_eq!(net.host(s).app().echoed, 4);
    assert_eq!(net.host(c).app().got, b"ping");
    // SYN at 100 ms, SYN-ACK back at 110, the ACK with "ping" at 115, the echo (the server
    // answers the data it read in the same step) back at 120 ms.
    assert_eq!(net.host(c).app().got_at, Some(Instant::from_millis(120)));
    assert_eq!(net.host(c).stack().socket_count(), 1);
}
