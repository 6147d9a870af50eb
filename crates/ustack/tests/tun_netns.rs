//! Interop with the Linux kernel through a TUN device inside a network namespace the test
//! creates. CI runs as root, so this runs there and is never skipped.
//!
//! **Getting into the namespace.** Network namespaces are per thread on Linux. The test makes
//! one with `ip netns add`, then runs the whole exchange on a dedicated thread that first calls
//! [`enter_netns`] (setns(2) on `/run/netns/NAME`). The TUN device, the kernel socket (on a
//! thread spawned from that thread, so it inherits the namespace) and every read and write
//! happen in the namespace; no other thread of the test binary ever leaves the original one.
//! A guard deletes the namespace when the test ends, passed, failed or panicked.
//!
//! **Preconditions.** Root, `ip` (iproute2), and `tshark` for the decode check. When one is
//! missing the test prints why and returns, except when the environment variable `CI` is set
//! and non-empty: then it fails, so CI can never pass by skipping.

// The test reports what it skipped and what the kernel sent on stdout/stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

#[path = "support/netns.rs"]
mod netns;

use netns::{Netns, am_root, command_runs, describe, precondition, remove_stale_namespaces};
use ustack::core::Ipv4Cidr;
use ustack::device::tun::enter_netns;
use ustack::device::{Device, PcapDevice, Tun, TunConfig, TunError};
use ustack::wire::{
    IpProtocol, Ipv4Packet, Ipv4Repr, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr,
};

/// The kernel's side of the TUN.
const HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The address the kernel connects to, routed into the TUN.
const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const PORT: u16 = 7007;
const MTU: usize = 1500;
const TUN_NAME: &str = "ustk0";

/// What the namespace thread learned from the kernel's SYN.
struct SynSeen {
    src_port: u16,
    window_scale: u8,
    /// Packets written to the pcap file (skipped ones included).
    captured: u64,
}

/// Prefix of the namespaces this file makes.
const NETNS_PREFIX: &str = "ustack-test-";

#[test]
fn kernel_syn_through_tun_in_netns() {
    if !precondition(am_root(), "not root: creating namespaces and TUN devices needs root") {
        return;
    }
    if !precondition(command_runs("ip", &["-V"]), "the `ip` command (iproute2) is missing") {
        return;
    }
    let started = Instant::now();
    remove_stale_namespaces(NETNS_PREFIX);
    let ns = Netns::create(NETNS_PREFIX).unwrap_or_else(|e| panic!("ip netns add: {e}"));
    let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tun_netns-{}.pcap", std::process::id()));

    let ns_path = ns.path();
    let pcap_path = pcap.clone();
    let inside = thread::Builder::new()
        .name("in-netns".into())
        .spawn(move || exchange_in_netns(&ns_path, &pcap_path))
        .expect("spawning the namespace thread");
    let seen = match inside.join() {
        Ok(seen) => seen,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    drop(ns);
    let exchanged = started.elapsed();

    check_with_tshark(&pcap, &seen);
    std::fs::remove_file(&pcap).expect("removing the pcap file");
    println!("tun_netns: namespace and exchange {exchanged:?}, total {:?}", started.elapsed());
}

/// Runs on a thread of its own: enters the namespace, creates the TUN, lets the kernel
/// connect through it, reads and checks the SYN, answers with a RST and sees the kernel
/// refuse the connection.
fn exchange_in_netns(ns: &Path, pcap: &Path) -> SynSeen {
    enter_netns(ns).unwrap_or_else(|e| panic!("{e}"));

    let config = TunConfig {
        name: TUN_NAME.into(),
        mtu: MTU,
        host_addr: Some(Ipv4Cidr::new(HOST, 24).unwrap()),
        multi_queue: false,
        offload: false,
    };
    let tun = Tun::create(&config).unwrap_or_else(|e| panic!("Tun::create: {e}"));
    assert_eq!(tun.name(), TUN_NAME);
    check_busy_names(&config);
    check_multi_queue();
    check_persistent_tun_is_refused_and_left_alone(ns);

    let mut dev = PcapDevice::create(tun, pcap).expect("creating the pcap file");
    let connect = thread::spawn(|| {
        TcpStream::connect_timeout(&SocketAddr::from((PEER, PORT)), Duration::from_secs(5))
    });

    // Read until the kernel's SYN to PEER:PORT shows up; skip anything else (IPv6 router
    // solicitations and the like, which the kernel may send as the interface comes up).
    let readiness = dev.readiness();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; dev.mtu()];
    let (syn_ip, seen) = loop {
        let n = match dev.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "no SYN to {PEER}:{PORT} came out of the TUN in 5 s");
                readiness.wait_timeout(left).expect("polling the TUN");
                continue;
            }
            Err(e) => panic!("reading the TUN: {e}"),
        };
        let packet = &buf[..n];
        if packet.first().map(|b| b >> 4) != Some(4) {
            println!("skipped a non-IPv4 packet of {n} bytes");
            continue;
        }
        let ip_packet = Ipv4Packet::new_checked(packet).expect("the kernel's IPv4 packet");
        let ip = Ipv4Repr::parse(&ip_packet).expect("IPv4 header checksum verified");
        if ip.protocol != IpProtocol::TCP {
            println!("skipped {ip}");
            continue;
        }
        let tcp_packet = TcpPacket::new_checked(ip_packet.payload()).expect("a TCP header");
        let tcp = TcpRepr::parse(&tcp_packet, ip.src, ip.dst).expect("TCP checksum verified");
        if ip.dst != PEER || tcp.dst_port != PORT {
            println!("skipped {ip}: {tcp}");
            continue;
        }
        println!("kernel SYN: {ip}: {tcp}");
        check_syn(&ip, &tcp);
        let window_scale = tcp.options.window_scale.unwrap_or_default();
        println!("kernel SYN window scale: {window_scale}");
        break (ip, (tcp.src_port, tcp.seq, window_scale));
    };
    let (src_port, syn_seq, window_scale) = seen;

    // Refuse the connection: RFC 9293 §3.10.7.1, a RST for a SYN acknowledges it.
    dev.send(&rst_for(&syn_ip, src_port, syn_seq)).expect("writing the RST into the TUN");
    match connect.join().expect("the connect thread") {
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionRefused,
            "the kernel should take our RST as a refusal, got: {e}"
        ),
        Ok(stream) => panic!("connected to {:?}: nobody should have accepted", stream.peer_addr()),
    }
    let captured = dev.packets_written();
    assert!(dev.capturing(), "capture failed: {:?}", dev.take_capture_error());
    SynSeen { src_port, window_scale, captured }
}

/// What Linux puts in the SYN of a socket with default settings on a 1500-byte link.
fn check_syn(ip: &Ipv4Repr, tcp: &TcpRepr<'_>) {
    assert_eq!((ip.src, ip.dst), (HOST, PEER));
    assert!(tcp.flags.contains(TcpFlags::SYN), "not a SYN: {tcp}");
    assert!(!tcp.flags.contains(TcpFlags::ACK), "a SYN-ACK, not a SYN: {tcp}");
    let opts = &tcp.options;
    assert_eq!(opts.mss, Some((MTU - 40) as u16), "MSS is the MTU less 40 bytes of headers");
    assert!(opts.sack_permitted, "SACK-permitted missing: {tcp}");
    let ts = opts.timestamps.unwrap_or_else(|| panic!("timestamps missing: {tcp}"));
    assert_eq!(ts.tsecr, 0, "a SYN echoes no timestamp");
    let ws = opts.window_scale.unwrap_or_else(|| panic!("window scale missing: {tcp}"));
    assert!(ws <= 14, "window scale {ws} is over RFC 7323's 14");
}

/// A RST|ACK from PEER:PORT answering the SYN, as IPv4 bytes.
fn rst_for(syn_ip: &Ipv4Repr, syn_src_port: u16, syn_seq: SeqNum) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: PORT,
        dst_port: syn_src_port,
        seq: SeqNum::new(0),
        ack: syn_seq + 1u32,
        flags: TcpFlags::RST | TcpFlags::ACK,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    let ip = Ipv4Repr {
        src: syn_ip.dst,
        dst: syn_ip.src,
        protocol: IpProtocol::TCP,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0u8; ip.buffer_len()];
    let mut ip_packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
    ip.emit(&mut ip_packet);
    tcp.emit(&mut TcpPacket::new_unchecked(ip_packet.payload_mut()), ip.src, ip.dst);
    bytes
}

/// Error paths that need a namespace to themselves: names already taken.
fn check_busy_names(config: &TunConfig) {
    match Tun::create(config) {
        Err(TunError::NameBusy { name }) => assert_eq!(name, TUN_NAME),
        other => panic!("a second open of {TUN_NAME}: expected NameBusy, got {other:?}"),
    }
    match Tun::create(&TunConfig::new("lo")) {
        Err(e @ TunError::NameBusy { .. }) => {
            assert_eq!(io::Error::from(e).kind(), io::ErrorKind::ResourceBusy);
        }
        other => panic!("a TUN named lo: expected NameBusy, got {other:?}"),
    }
}

/// A persistent TUN (`ip tuntap add`) of the name asked for is refused, and left exactly as
/// it was: down, no address, its own MTU. `Tun::create` used to attach to it, configure it,
/// and leave it configured and up when dropped.
fn check_persistent_tun_is_refused_and_left_alone(ns: &Path) {
    const NAME: &str = "ustkp0";
    let ns = ns.file_name().and_then(|n| n.to_str()).expect("a namespace name");
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(["-n", ns]).args(args).output().expect("running ip");
        assert!(out.status.success(), "ip -n {ns} {args:?}: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ip(&["tuntap", "add", "dev", NAME, "mode", "tun"]);
    let before = (ip(&["-o", "link", "show", NAME]), ip(&["-o", "addr", "show", "dev", NAME]));
    let config = TunConfig {
        name: NAME.into(),
        mtu: 1400,
        host_addr: Some(Ipv4Cidr::new(Ipv4Addr::new(10, 77, 9, 1), 24).unwrap()),
        multi_queue: false,
        offload: false,
    };
    match Tun::create(&config) {
        Err(e @ TunError::NameBusy { .. }) => {
            assert!(e.to_string().contains("already exists"), "{e}");
        }
        other => panic!("a persistent TUN {NAME}: expected NameBusy, got {other:?}"),
    }
    let after = (ip(&["-o", "link", "show", NAME]), ip(&["-o", "addr", "show", "dev", NAME]));
    ip(&["tuntap", "del", "dev", NAME, "mode", "tun"]);
    assert_eq!(after, before, "the persistent TUN was changed");
    assert!(!after.0.contains(",UP") && !after.0.contains("<UP"), "{NAME} is up: {}", after.0);
    assert!(after.1.is_empty(), "{NAME} has addresses: {}", after.1);
}

/// A multi-queue interface takes a second queue; a single-queue one refuses.
fn check_multi_queue() {
    let config = TunConfig { multi_queue: true, ..TunConfig::new("ustkmq%d") };
    let first = Tun::create(&config).unwrap_or_else(|e| panic!("multi-queue Tun::create: {e}"));
    assert!(first.name().starts_with("ustkmq"), "kernel-chosen name {}", first.name());
    let second = first.new_queue().unwrap_or_else(|e| panic!("Tun::new_queue: {e}"));
    assert_eq!(second.name(), first.name());
    let single = Tun::create(&TunConfig::new("ustksq")).expect("single-queue Tun::create");
    assert!(single.new_queue().is_err(), "a single-queue TUN has no second queue");
}

/// Decodes the capture with tshark, checksums verified: the SYN and the RST, nothing
/// malformed. Two tshark runs (each costs about a quarter of a second).
fn check_with_tshark(pcap: &Path, seen: &SynSeen) {
    let checksums = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"];
    let file = pcap.to_str().expect("a UTF-8 temp path");

    let Some(verbose) = run_tshark(&[&["-r", file, "-V"], &checksums[..]].concat()) else {
        return;
    };
    for bad in ["Malformed", "[Expert Info (Error", "Checksum Status: Bad"] {
        assert!(!verbose.contains(bad), "tshark found {bad:?} in {file}:\n{verbose}");
    }
    for want in [
        format!("Src: {HOST}, Dst: {PEER}"),
        format!("Src Port: {}, Dst Port: {PORT}", seen.src_port),
        "Flags: 0x002 (SYN)".to_string(),
        "Maximum segment size: 1460 bytes".to_string(),
        format!("Multiplier: {}", 1u32 << seen.window_scale),
        "Flags: 0x014 (RST, ACK)".to_string(),
    ] {
        assert!(verbose.contains(&want), "tshark output lacks {want:?}:\n{verbose}");
    }

    // One line per captured packet; the TCP ones carry these fields.
    let fields = run_tshark(
        &[
            &["-r", file, "-T", "fields", "-E", "separator=,"],
            &checksums[..],
            &["-e", "ip.src", "-e", "ip.dst", "-e", "tcp.srcport", "-e", "tcp.dstport"],
            &["-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.flags.reset"],
            &["-e", "tcp.options.mss_val", "-e", "tcp.checksum.status"],
        ]
        .concat(),
    )
    .expect("tshark ran a moment ago");
    // tshark 4.0 prints booleans as 1/0, later versions as True/False.
    let fields = fields.replace("True", "1").replace("False", "0");
    assert_eq!(fields.lines().count() as u64, seen.captured, "one line per captured packet");
    let tcp: Vec<&str> = fields
        .lines()
        .filter(|line| line.split(',').nth(2).is_some_and(|p| !p.is_empty()))
        .collect();
    let sport = seen.src_port;
    assert_eq!(
        tcp,
        [
            format!("{HOST},{PEER},{sport},{PORT},1,0,0,1460,1"),
            format!("{PEER},{HOST},{PORT},{sport},0,1,1,,1")
        ],
        "tshark fields (src,dst,sport,dport,syn,ack,rst,mss,checksum good)"
    );
}

/// tshark's stdout; `None` (after the precondition report) when tshark is not installed.
fn run_tshark(args: &[&str]) -> Option<String> {
    let out = match Command::new("tshark").args(args).output() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            precondition(false, "tshark is not installed: the capture was not decoded");
            return None;
        }
        result => result.expect("running tshark"),
    };
    assert!(out.status.success(), "tshark {args:?} failed: {}", describe(&out));
    Some(String::from_utf8(out.stdout).expect("tshark prints UTF-8"))
}

#[test]
fn invalid_tun_name_is_rejected_without_root() {
    for (name, reason) in [
        ("", "empty"),
        ("a-name-of-16-byte", "IFNAMSIZ"),
        ("bad name", "whitespace"),
        ("bad/name", "'/'"),
    ] {
        match Tun::create(&TunConfig::new(name)) {
            Err(e @ TunError::InvalidName { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(reason), "{msg:?} does not say {reason:?}");
                assert_eq!(io::Error::from(e).kind(), io::ErrorKind::InvalidInput);
            }
            other => panic!("{name:?}: expected InvalidName, got {other:?}"),
        }
    }
}
