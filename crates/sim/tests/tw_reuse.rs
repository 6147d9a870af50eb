//! tcp_tw_reuse in the simulator (SPEC S13, S25, S26): a client that opens a connection to
//! one server every 1.5 s and closes it first, so each one leaves a 60 s TIME-WAIT behind,
//! with only 5 ephemeral ports. With `tcp_tw_reuse` 1 every connect after the fifth takes
//! over a 4-tuple whose TIME-WAIT is more than 1 s old (Linux `tcp_twsk_unique`), and the
//! loop runs for ever; with 0, or with Linux's default 2 (loopback only) between two hosts,
//! the sixth connect finds every port in TIME-WAIT and fails (`EADDRNOTAVAIL`).

// The test prints what it measured.
#![allow(clippy::print_stdout)]

use std::net::{Ipv4Addr, SocketAddrV4};

use ustack_core::tcp_engine::TcpState;
use ustack_core::{ConnectError, InterfaceConfig, Ipv4Cidr, Stack, StackConfig};
use ustack_sim::{Bounds, Duration, HostId, LinkConfig, Network};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct Loop {
    net: Network,
    client: HostId<Stack>,
    server: HostId<Stack>,
    listener: ustack_core::SocketHandle,
}

fn setup(tw_reuse: u8) -> Loop {
    let mut net = Network::new(0x7e_05e);
    let cfg = StackConfig {
        tcp_tw_reuse: tw_reuse,
        ip_local_port_range: (40_000, 40_004),
        ..StackConfig::new(net.derive_secret(1))
    };
    let mut client = Stack::new(cfg).unwrap();
    client.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(CLIENT, 24).unwrap(), 1500));
    let mut server = Stack::new(StackConfig::new(net.derive_secret(2))).unwrap();
    server.add_interface(InterfaceConfig::ipv4(Ipv4Cidr::new(SERVER, 24).unwrap(), 1500));
    let listener = server.tcp_listen(SocketAddrV4::new(SERVER, 80), 16, false).unwrap();
    let client = net.add_host(client);
    let server = net.add_host(server);
    let link = LinkConfig::new().rate_bps(100_000_000).delay(Duration::from_millis(5));
    net.connect(client.iface(0), server.iface(0), link).unwrap();
    Loop { net, client, server, listener }
}

/// One round: connect, a request and its answer, the client closes first, the server after
/// it. `Err` when connect fails at once.
fn round(l: &mut Loop, i: u32) -> Result<(), ConnectError> {
    let now = l.net.now();
    let c = l.net.host_mut(l.client).tcp_connect(now, None, SocketAddrV4::new(SERVER, 80))?;
    let client = l.client;
    l.net
        .run_while(Bounds::time(Duration::from_secs(5)), |n| {
            n.host(client).tcp_conn(c).state() != TcpState::Established
        })
        .unwrap_or_else(|e| panic!("round {i}: {e}"));
    let request = format!("request {i}");
    l.net.host_mut(l.client).tcp_send(c, request.as_bytes()).unwrap();
    l.net.run_for(Duration::from_millis(20)).unwrap();
    let server = l.net.host_mut(l.server);
    let s = server.tcp_accept(l.listener).expect("the connection");
    let mut buf = [0u8; 64];
    let n = server.tcp_recv(s, &mut buf).unwrap();
    assert_eq!(&buf[..n], request.as_bytes(), "round {i}: the request");
    server.tcp_send(s, b"answer").unwrap();
    l.net.run_for(Duration::from_millis(20)).unwrap();
    let now = l.net.now();
    let client_stack = l.net.host_mut(l.client);
    assert_eq!(client_stack.tcp_recv(c, &mut buf), Ok(6), "round {i}: the answer");
    client_stack.close(now, c);
    l.net.run_for(Duration::from_millis(20)).unwrap();
    let now = l.net.now();
    l.net.host_mut(l.server).close(now, s);
    l.net.run_for(Duration::from_millis(1440)).unwrap();
    Ok(())
}

#[test]
fn tw_reuse_1_lets_a_client_connecting_in_a_loop_outlive_its_time_wait_build_up() {
    let mut l = setup(1);
    for i in 0..100 {
        round(&mut l, i).unwrap_or_else(|e| panic!("round {i}: {e}"));
    }
    let c = l.net.host(l.client).counters();
    let time_wait = l.net.host(l.client).netstat(l.net.now()).count(TcpState::TimeWait);
    println!(
        "tw_reuse 1: 100 rounds on 5 ports, TWRecycled {}, {time_wait} in TIME-WAIT",
        c.tw_recycled
    );
    assert_eq!(c.tw_recycled, 95, "every connect after the fifth took a TIME-WAIT tuple");
    assert_eq!(time_wait, 5);
    // Nothing stale confused a new incarnation: no RST either way, no bad segment.
    let s = l.net.host(l.server).counters();
    assert_eq!(
        (c.tcp_out_rsts, s.tcp_out_rsts, c.tcp_estab_resets, s.tcp_estab_resets),
        (0, 0, 0, 0)
    );
}

#[test]
fn without_tw_reuse_the_sixth_connect_finds_every_port_in_time_wait() {
    // 0 never reuses; Linux's default 2 reuses only loopback traffic.
    for tw_reuse in [0, 2] {
        let mut l = setup(tw_reuse);
        for i in 0..5 {
            round(&mut l, i).unwrap();
        }
        assert_eq!(round(&mut l, 5), Err(ConnectError::NoEphemeralPort), "tcp_tw_reuse {tw_reuse}");
        assert_eq!(l.net.host(l.client).counters().tw_recycled, 0);
    }
}
