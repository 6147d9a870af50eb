//! The acceptance tests of `ustack tun` over IPv6, against the Linux kernel: the IPv4
//! suite's checks (tun_interop.rs) with the kernel's clients and servers speaking IPv6 to
//! the stack, a dual-stack listener taking an IPv4 and an IPv6 kernel client at once, and a
//! Packet Too Big from a kernel router lowering ustack's segment size.
//!
//! **Layout.** As in tun_interop.rs: each test makes its own namespace (`us6-<pid>-<n>`) and
//! runs `ip netns exec NS ustack tun --dev u6<pid>x<n> --addr 10.80.0.2/24 --host-addr
//! 10.80.0.1/24 --addr6 fd00:80::2/64 --host-addr6 fd00:80::1/64 ... SERVICE` in it. The
//! stack is at [`STACK`] (and [`STACK4`]), the kernel at [`HOST`] (and [`HOST4`]); with
//! `--addr6` every service listens on `[::]`. Kernel sockets are made on a thread that
//! entered the namespace ([`in_netns`]); `curl` and `ss` run under `ip netns exec`.
//!
//! **Waiting.** Readiness is polled, never slept on; every wait and socket operation is
//! bounded, and a timeout fails the test with ustack's stderr.
//!
//! **Cleanup.** A [`Lab`] kills its ustack, removes its files and deletes its namespace when
//! dropped, also on a panic; namespaces of dead earlier runs are deleted at the start.
//!
//! **Preconditions.** Root, `ip`, and per test `curl`, `ss` or `tshark`. Without one the test
//! prints why and returns, unless the environment variable `CI` is set and non-empty: then it
//! fails, so CI can never pass by skipping.

// The tests report what they skipped and how long they took.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

mod support;
use support::checks::*;
use support::env::*;
use support::tunlab::*;

/// The kernel's IPv6 address on the TUN, in every namespace.
const HOST: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x80, 0, 0, 0, 0, 0, 1);
/// The stack's IPv6 address.
const STACK: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x80, 0, 0, 0, 0, 0, 2);
/// The kernel's IPv4 address on the TUN.
const HOST4: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 1);
/// The stack's IPv4 address.
const STACK4: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 2);

fn stack(port: u16) -> SocketAddr {
    SocketAddr::from((STACK, port))
}

/// This file's labs: dual stack, every service on `[::]`.
const ADDRS: Addrs = Addrs {
    dev_prefix: "u6",
    netns_prefix: "us6-",
    tun_args: &[
        "--addr",
        "10.80.0.2/24",
        "--host-addr",
        "10.80.0.1/24",
        "--addr6",
        "fd00:80::2/64",
        "--host-addr6",
        "fd00:80::1/64",
    ],
    any: "[::]",
};

/// The addresses the checks shared with the IPv4 suite speak to.
const V6: Family = Family { host: IpAddr::V6(HOST), stack: IpAddr::V6(STACK) };

// ---- 1-7. the IPv4 suite's checks over IPv6 (support/checks.rs) ----

/// 100 IPv6 kernel connections at once to `echo`, each with its own seeded random payload
/// of 1 B to 256 KiB, written and read concurrently, checked byte for byte.
#[test]
fn echo_100_concurrent_ipv6_kernel_connections() {
    echo_100_concurrent(&V6, "echo6", 0x5eed_ec46);
}

/// 256 MiB into `discard` over IPv6; ustack's line for the connection names exactly that
/// many bytes and the kernel's IPv6 address.
#[test]
fn discard_256_mib_over_ipv6_counted_exactly() {
    discard_256_mib(&V6, "discard6");
}

/// `source --bytes N` over IPv6: the kernel reads exactly N bytes, byte i = i % 251, then EOF.
#[test]
fn source_bytes_over_ipv6_received_exactly() {
    source_bytes(&V6, "source6");
}

/// curl gets the page from `http://[fd00:80::2]:80/`; then 1,000 requests by one curl on
/// one keep-alive connection.
#[test]
fn http_over_ipv6_page_and_1000_keep_alive_requests() {
    http_page_and_1000_keep_alive_requests(&V6, "http6");
}

/// IPv6 datagrams of several sizes, the largest fragmented both ways (IPv6 fragment
/// header, RFC 8200 §4.5), come back unchanged.
#[test]
fn udp_echo_over_ipv6_with_fragments() {
    udp_echo(&V6, "udp6", &[0, 1, 512, 1452, 4000, 20_000], |lab| {
        assert!(lab.nstat("Ip6ReasmOKs") >= 2, "ustack reassembled no IPv6 datagram");
        assert!(lab.nstat("Ip6FragCreates") >= 2, "ustack fragmented no IPv6 datagram");
    });
}

/// An IPv6 kernel connect to a closed port is refused (ustack's RST); a datagram to a closed
/// UDP port brings the kernel ICMPv6 port unreachable (RFC 4443 §3.1, code 4), so a
/// connected UDP socket's next recv fails with ECONNREFUSED. Captured with `--pcap` and
/// decoded by tshark with nothing malformed and checksums good.
#[test]
fn closed_ports_over_ipv6_refuse_with_rst_and_icmpv6() {
    closed_ports_refused(
        &V6,
        "refused6",
        "Icmp6OutDestUnreachs",
        &[
            "Internet Protocol Version 6",
            "Type: Destination Unreachable (1)",
            "Code: 4 (Port unreachable)",
        ],
    );
}

/// `connect [fd00:80::1]:PORT` to a kernel listener: ustack half-closes first, so ustack
/// holds TIME-WAIT and the kernel does not (RFC 9293 §3.6).
#[test]
fn connect_over_ipv6_ustack_closes_first_and_holds_time_wait() {
    connect_ustack_closes_first(&V6, "connect6a", 5001, 0xc0ffee6);
}

/// `connect` to an IPv6 kernel server that sends and shuts down first (CLOSE-WAIT in
/// `ustack ss` while ustack still sends): the kernel holds TIME-WAIT.
#[test]
fn connect_over_ipv6_kernel_closes_first_and_holds_time_wait() {
    connect_kernel_closes_first(&V6, "connect6b", 5002, 0xbeef6);
}

// ---- 8. one dual-stack listener, an IPv4 and an IPv6 kernel client at once ----

/// `echo` listens on `[::]:7`: an IPv4 and an IPv6 kernel client connect at once, both
/// ESTABLISHED together in `ustack ss` (the IPv4 one as `::ffff:10.80.0.1`, as Linux shows
/// an IPv4 client of an IPv6 socket), and both get their echo.
#[test]
fn dual_stack_listener_takes_an_ipv4_and_an_ipv6_kernel_client_at_once() {
    let Some(lab) = Lab::start("dual", &["echo", "--port", "7"], Io::Collect) else { return };
    lab.wait_listening("t", 7);
    let (c4, c6) = in_netns(&lab.ns, || {
        let c4 = TcpStream::connect_timeout(&SocketAddr::from((STACK4, 7)), IO_TIMEOUT)
            .expect("the IPv4 client connecting");
        let c6 =
            TcpStream::connect_timeout(&stack(7), IO_TIMEOUT).expect("the IPv6 client connecting");
        (c4, c6)
    });
    set_timeouts(&c4);
    set_timeouts(&c6);
    let peer4 = format!("[{}]:{}", HOST4.to_ipv6_mapped(), c4.local_addr().expect("local").port());
    let peer6 = c6.local_addr().expect("local").to_string();
    let rows = lab.wait_for("both connections ESTABLISHED in ustack ss", || {
        let table = lab.query("ss t");
        let est: Vec<String> =
            table.lines().filter(|l| l.starts_with("ESTAB")).map(str::to_string).collect();
        let has = |peer: &str| est.iter().any(|r| r.split_whitespace().nth(4) == Some(peer));
        (has(&peer4) && has(&peer6)).then_some(est)
    });
    assert!(
        rows.iter()
            .any(|r| r.split_whitespace().nth(3)
                == Some(&format!("[{}]:7", STACK4.to_ipv6_mapped()))),
        "the IPv4 connection's local address is IPv4-mapped: {rows:#?}"
    );
    for (name, c) in [("IPv4", &c4), ("IPv6", &c6)] {
        let msg = format!("hello over {name}");
        (&*c).write_all(msg.as_bytes()).expect("writing");
        c.shutdown(Shutdown::Write).expect("shutdown(Write)");
        let mut got = String::new();
        (&*c).read_to_string(&mut got).expect("reading the echo");
        assert_eq!(got, msg);
    }
    lab.assert_no_errors();
    lab.report(&format!("{peer4} and {peer6} on one listener"));
}

// ---- 9. Packet Too Big ----

/// The kernel namespace forwards to a second namespace over a path whose route MTU is 1280
/// (`ip -6 route ... mtu lock 1280`: Linux's forwarding honours a route MTU only when it is
/// locked); ustack sends 1 MiB to a kernel server there with segments
/// sized for its 1500-byte link and the server's MSS of 1440. The kernel router answers the
/// first too-big packet with ICMPv6 Packet Too Big (RFC 4443 §3.2) carrying MTU 1280; ustack
/// lowers its path MTU (RFC 8201) and its segments shrink to fit: `ss -i` shows an MSS of at
/// most 1280 - 40 - 20 = 1220, and every byte still arrives.
#[test]
fn packet_too_big_from_a_kernel_router_lowers_ustacks_segment_size() {
    const PORT: u16 = 5003;
    const FAR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x81, 0, 0, 0, 0, 0, 2);
    let Some(mut sandbox) = Netns::for_test() else { return };
    let Some(far) = Netns::for_test() else { return };
    // router side: veth a (in the lab's namespace) <-> b (in `far`), 1500 bytes, with the
    // route into it limited to 1280.
    let (a, b) = (
        format!("u6a{}x{}", std::process::id(), far.n),
        format!("u6b{}x{}", std::process::id(), far.n),
    );
    let ip = |ns: &Netns, args: &[&str]| {
        let out = ns.run("ip", args);
        assert!(out.status.success(), "ip {args:?} in {}: {}", ns.name, describe(&out));
    };
    ip(&sandbox, &["link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &far.name]);
    // noprefixroute: the only route into the prefix is the one with the MTU.
    ip(&sandbox, &["addr", "add", "fd00:81::1/64", "dev", &a, "nodad", "noprefixroute"]);
    ip(&sandbox, &["link", "set", &a, "up"]);
    ip(&sandbox, &["-6", "route", "add", "fd00:81::/64", "dev", &a, "mtu", "lock", "1280"]);
    sysctl(&sandbox, "net.ipv6.conf.all.forwarding", "1");
    ip(&far, &["addr", "add", "fd00:81::2/64", "dev", &b, "nodad"]);
    ip(&far, &["link", "set", &b, "up"]);
    ip(&far, &["-6", "route", "add", "fd00:80::/64", "via", "fd00:81::1"]);
    let listener = in_netns(&far, || {
        let l = TcpListener::bind((FAR, PORT)).expect("binding the far listener");
        l.set_nonblocking(true).expect("non-blocking");
        l
    });
    // The router resolves the far end before ustack's SYN needs it: a kernel connection to a
    // closed port of it is refused once the veth pair passes packets (while neighbour
    // discovery is still failing it is "unreachable", and a loaded machine can take seconds).
    in_netns(&sandbox, || {
        let closed = SocketAddr::from((FAR, PORT + 1));
        let reachable = poll_until(
            || match TcpStream::connect_timeout(&closed, Duration::from_secs(1)) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Some(()),
                _ => None,
            },
            || false,
        );
        assert!(reachable.is_some(), "the far namespace never became reachable over the veth");
    });
    let target = format!("[{FAR}]:{PORT}");
    let mut lab = Lab::start_in(sandbox.take(), "ptb", &["connect", &target], Io::Piped, &[]);
    let data = Arc::new(SplitMix64(0x9eb).bytes(1 << 20));
    let stdin = lab.stdin.take().expect("ustack's stdin");
    let sent = Arc::clone(&data);
    let feeder = thread::spawn(move || feed(stdin, &sent));
    let drain = {
        let stdout = lab.stdout.take().expect("ustack's stdout");
        thread::spawn(move || read_all(stdout))
    };
    let (conn, peer) = accept_within(&listener, &lab);
    assert_eq!(peer.ip(), STACK);
    let mut got = Vec::new();
    (&conn).read_to_end(&mut got).expect("the far server reading");
    feeder.join().expect("the stdin feeder");
    assert!(
        got == *data,
        "the far server got {} of {} bytes, or different ones",
        got.len(),
        data.len()
    );
    // ustack has sent its FIN and waits for ours: the connection is still in its table.
    let row = lab.wait_for("ustack's connection in ss -i", || {
        let table = lab.query("ss t i");
        let mut lines = table.lines();
        while let Some(l) = lines.next() {
            if l.contains(&target) {
                return lines.next().map(str::to_string);
            }
        }
        None
    });
    let mss: u32 = row
        .split_whitespace()
        .find_map(|f| f.strip_prefix("mss:")?.parse().ok())
        .unwrap_or_else(|| panic!("no mss: in {row:?}"));
    let ptbs = lab.nstat("Icmp6InPktTooBigs");
    assert!(ptbs >= 1, "ustack counted no Packet Too Big:\n{}", lab.query("nstat"));
    assert!(mss <= 1220, "ustack's MSS is {mss} after {ptbs} Packet Too Big with MTU 1280: {row}");
    drop(conn);
    drain.join().expect("the stdout reader");
    let status = lab.wait_exit();
    assert!(status.success(), "ustack connect: {status}; stderr:\n{}", lab.stderr());
    lab.report(&format!("1 MiB through a 1280-byte hop; ustack's mss {mss}"));
}

fn sysctl(ns: &Netns, name: &str, value: &str) {
    let out = ns.run("sysctl", &["-qw", &format!("{name}={value}")]);
    assert!(out.status.success(), "sysctl {name}={value}: {}", describe(&out));
}
