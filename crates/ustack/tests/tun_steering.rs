//! The TUN queue-steering program (`SteeringProgram`) computes ustack-core's rule
//! (`ustack_core::steering::queue_for`) for every kind of packet: run in the kernel on
//! packets built here (`BPF_PROG_TEST_RUN`), its answer is compared with the rule's, for 1 to
//! 256 queues. Root test: loading eBPF needs CAP_BPF or CAP_SYS_ADMIN; without root it is
//! skipped with the reason, unless CI is set.

#![allow(clippy::print_stderr)]

use std::net::{Ipv4Addr, Ipv6Addr};

use ustack::core::steering::queue_for;
use ustack::core::wire::IpProtocol;
use ustack::device::SteeringProgram;

#[path = "support/netns.rs"]
mod netns;
use netns::{am_root, precondition};

/// An IPv4 packet: header of `ihl` words (options zero), `protocol`, the fragment field
/// `frag`, then `payload`.
fn ipv4(ihl: u8, protocol: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let hlen = usize::from(ihl) * 4;
    let mut p = vec![0u8; hlen];
    p[0] = 0x40 | ihl;
    let total = u16::try_from(hlen + payload.len()).expect("small");
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6..8].copy_from_slice(&frag.to_be_bytes());
    p[8] = 64;
    p[9] = protocol;
    p[12..16].copy_from_slice(&Ipv4Addr::new(10, 0, 0, 1).octets());
    p[16..20].copy_from_slice(&Ipv4Addr::new(10, 0, 0, 2).octets());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet with Next Header `next` and `payload`.
fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&u16::try_from(payload.len()).expect("small").to_be_bytes());
    p[6] = next;
    p[7] = 64;
    p[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
    p[24..40].copy_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().expect("addr").octets());
    p.extend_from_slice(payload);
    p
}

/// A transport header's first bytes: the ports, then zeros up to 20 bytes.
fn ports(src: u16, dst: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&src.to_be_bytes());
    t[2..4].copy_from_slice(&dst.to_be_bytes());
    t
}

#[test]
fn the_kernels_steering_program_computes_the_rule_for_every_kind_of_packet() {
    if !precondition(am_root(), "not root: loading an eBPF program needs CAP_BPF") {
        return;
    }
    let mut checked = 0;
    for queues in [1u16, 2, 3, 4, 7, 16, 256] {
        let prog = SteeringProgram::load(queues).unwrap_or_else(|e| panic!("{queues} queues: {e}"));
        assert_eq!(prog.queues(), queues);
        let pairs =
            [(40_000u16, 80u16), (80, 40_001), (1, 65535), (65535, 1), (443, 50_000), (0, 0)];
        for (i, &(src, dst)) in pairs.iter().chain(&[(12_345, 6_789), (61_000, 7)]).enumerate() {
            let tcp = queue_for(IpProtocol::TCP, src, dst, queues);
            let udp = queue_for(IpProtocol::UDP, src, dst, queues);
            let cases: Vec<(&str, Vec<u8>, u16)> = vec![
                ("IPv4 TCP", ipv4(5, 6, 0x4000, &ports(src, dst)), tcp),
                ("IPv4 TCP with options (IHL 7)", ipv4(7, 6, 0, &ports(src, dst)), tcp),
                ("IPv4 UDP", ipv4(5, 17, 0, &ports(src, dst)), udp),
                ("IPv4 first fragment", ipv4(5, 17, 0x2000, &ports(src, dst)), 0),
                ("IPv4 later fragment", ipv4(5, 17, 0x0010 + i as u16, &ports(src, dst)), 0),
                ("IPv4 ICMP", ipv4(5, 1, 0, &ports(src, dst)), 0),
                ("IPv4 TCP cut before its ports", ipv4(5, 6, 0, &[0x12]), 0),
                ("IPv6 TCP", ipv6(6, &ports(src, dst)), tcp),
                ("IPv6 UDP", ipv6(17, &ports(src, dst)), udp),
                ("IPv6 hop-by-hop header", ipv6(0, &ports(src, dst)), 0),
                ("IPv6 fragment header", ipv6(44, &ports(src, dst)), 0),
                ("IPv6 ICMPv6", ipv6(58, &ports(src, dst)), 0),
            ];
            for (what, packet, want) in cases {
                let got = prog.run(&packet).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(got, want, "{what}, ports {src} -> {dst}, {queues} queues");
                assert!(got < queues, "{what}: queue {got} of {queues}");
                checked += 1;
            }
        }
    }
    eprintln!("{checked} packets steered as the rule says");
}

#[test]
fn a_program_for_no_queues_or_more_than_256_is_refused_before_loading() {
    for queues in [0u16, 257] {
        let err = SteeringProgram::load(queues).expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    }
}

// ---- a multi-queue TUN steered by the program, a stack on each queue ----

const HOST: Ipv4Addr = Ipv4Addr::new(10, 81, 0, 1);
const STACK: Ipv4Addr = Ipv4Addr::new(10, 81, 0, 2);
/// Connections each shard opens.
const PER_SHARD: usize = 12;
/// Longer than the kernel's flow-table ageing (`TUN_FLOW_EXPIRE`, 3 s), after which the
/// kernel, without a steering program, picks a queue by its own hash instead of the one the
/// flow's packets last came from.
const IDLE: std::time::Duration = std::time::Duration::from_secs(4);
const IO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Two queues steered by the program, a stack on each told its place (`NetConfig::shard`):
/// each shard opens connections to a kernel listener, says hello, and goes quiet for longer
/// than the kernel keeps a flow's queue on its own; the kernel then answers every
/// connection, and each answer reaches the shard that opened it (without the program, about
/// half would reach the other shard, which answers with a RST). Kernel connections to a
/// listener on both shards still spread over both.
#[test]
fn connections_a_shard_opens_get_their_answers_on_its_queue_after_an_idle_spell() {
    netns::in_new_netns("usteer-", steered_shards);
}

fn steered_shards(ns: &std::path::Path) {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use ustack::core::Ipv4Cidr;
    use ustack::core::steering::Shard;
    use ustack::device::tun::enter_netns;
    use ustack::device::{Tun, TunConfig};
    use ustack::{NetConfig, NetStack};

    enter_netns(ns).unwrap_or_else(|e| panic!("{e}"));
    let config = TunConfig {
        host_addr: Some(Ipv4Cidr::new(HOST, 24).unwrap()),
        multi_queue: true,
        ..TunConfig::new("usteer%d")
    };
    let first = Tun::create(&config).unwrap_or_else(|e| panic!("Tun::create: {e}"));
    let second = first.new_queue().expect("a second queue");
    let program = SteeringProgram::load(2).expect("loading the steering program");
    first.set_steering(&program).expect("TUNSETSTEERINGEBPF");
    let listener = TcpListener::bind((HOST, 7000)).expect("the kernel's listener");
    let shards: Vec<NetStack> = [first, second]
        .into_iter()
        .zip(0..)
        .map(|(tun, queue)| {
            let cfg = NetConfig {
                shard: Some(Shard { queue, queues: 2 }),
                ..NetConfig::new(Ipv4Cidr::new(STACK, 24).unwrap())
            };
            NetStack::spawn(tun, cfg).expect("starting a shard")
        })
        .collect();
    // Each shard opens its connections and says hello; the kernel accepts and reads.
    let mut ours = Vec::new();
    for (s, net) in shards.iter().enumerate() {
        for i in 0..PER_SHARD {
            let mut c = ustack::TcpStream::connect(net, SocketAddr::from((HOST, 7000)))
                .unwrap_or_else(|e| panic!("shard {s}, connection {i}: {e}"));
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            c.write_all(format!("hello {s} {i}\n").as_bytes()).unwrap();
            ours.push((s, i, c));
        }
    }
    let mut theirs = Vec::new();
    for _ in 0..ours.len() {
        let (mut k, _) = listener.accept().expect("accept");
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while byte[0] != b'\n' {
            k.read_exact(&mut byte).expect("the hello");
            line.push(byte[0]);
        }
        theirs.push((String::from_utf8(line).unwrap(), k));
    }
    std::thread::sleep(IDLE);
    for (hello, k) in &mut theirs {
        k.write_all(format!("answer to {hello}").as_bytes()).expect("the kernel's answer");
    }
    for (s, i, c) in &mut ours {
        let want = format!("answer to hello {s} {i}\n");
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("shard {s}, connection {i}, after {IDLE:?} idle: {e}"));
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    let resets: u64 = shards.iter().map(|n| n.counters().tcp_out_rsts).sum();
    assert_eq!(resets, 0, "no shard was handed another's segment");
    for net in &shards {
        net.stop().expect("stopping a shard");
    }
    eprintln!("{} connections, {PER_SHARD} per shard, answered after {IDLE:?} idle", ours.len());
}
