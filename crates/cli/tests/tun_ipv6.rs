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
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{ChildStdin, ChildStdout, Command};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

mod support;
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

// ---- 1. echo ----

/// 100 IPv6 kernel connections at once to `echo`, each with its own seeded random payload
/// of 1 B to 256 KiB, written and read concurrently, checked byte for byte.
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

#[test]
fn echo_100_concurrent_ipv6_kernel_connections() {
    const CONNS: usize = 100;
    const SEED: u64 = 0x5eed_ec46;
    let Some(lab) = Lab::start("echo6", &["echo", "--port", "7"], Io::Collect) else { return };
    lab.wait_listening("t", 7);
    let mut rng = SplitMix64(SEED);
    let payloads: Vec<Arc<Vec<u8>>> = (0..CONNS)
        .map(|_| {
            let len = 1 + rng.below(256 * 1024);
            Arc::new((0..len).map(|_| rng.next() as u8).collect())
        })
        .collect();
    let total: usize = payloads.iter().map(|p| p.len()).sum();
    let results = in_netns(&lab.ns, move || {
        let threads: Vec<_> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                thread::spawn(move || {
                    echo_once(stack(7), &p).map_err(|e| format!("connection {i}: {e}"))
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("an echo thread panicked")).collect::<Vec<_>>()
    });
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} of {CONNS} echo connections failed (seed {SEED:#x}): {failed:#?}\nustack stderr:\n{}",
        failed.len(),
        lab.stderr()
    );
    lab.assert_no_errors();
    lab.report(&format!("{CONNS} connections, {total} bytes each way"));
}

// ---- 2. discard ----

/// 256 MiB into `discard` over IPv6; ustack's line for the connection names exactly that
/// many bytes and the kernel's IPv6 address.
#[test]
fn discard_256_mib_over_ipv6_counted_exactly() {
    const TOTAL: u64 = 256 << 20;
    let Some(lab) = Lab::start("discard6", &["discard", "--port", "9"], Io::Collect) else {
        return;
    };
    lab.wait_listening("t", 9);
    let local = in_netns(&lab.ns, || {
        let mut s = TcpStream::connect_timeout(&stack(9), IO_TIMEOUT).expect("connecting");
        set_timeouts(&s);
        let local = s.local_addr().expect("local address");
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
        for _ in 0..TOTAL / chunk.len() as u64 {
            s.write_all(&chunk).expect("writing to discard");
        }
        s.shutdown(Shutdown::Write).expect("shutdown(Write)");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("reading discard's FIN");
        assert!(rest.is_empty(), "discard sent {} bytes", rest.len());
        local
    });
    assert_eq!(local.ip(), HOST, "the kernel's source address");
    let prefix = format!("discard: {local}: ");
    let line = lab.wait_for("ustack's discard line", || {
        lab.stdout().lines().find(|l| l.starts_with(&prefix)).map(str::to_string)
    });
    let bytes: u64 = line[prefix.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {line:?}"));
    assert_eq!(bytes, TOTAL, "{line}");
    lab.assert_no_errors();
    lab.report(&line);
}

// ---- 3. source ----

/// `source --bytes N` over IPv6: the kernel reads exactly N bytes, byte i = i % 251, then EOF.
#[test]
fn source_bytes_over_ipv6_received_exactly() {
    const N: usize = 3_000_017;
    let Some(lab) =
        Lab::start("source6", &["source", "--port", "19", "--bytes", &N.to_string()], Io::Collect)
    else {
        return;
    };
    lab.wait_listening("t", 19);
    let got = in_netns(&lab.ns, || {
        let mut s = TcpStream::connect_timeout(&stack(19), IO_TIMEOUT).expect("connecting");
        set_timeouts(&s);
        let mut got = Vec::with_capacity(N);
        s.read_to_end(&mut got).expect("reading from source");
        got
    });
    assert_eq!(got.len(), N, "bytes received");
    if let Some(i) = got.iter().enumerate().position(|(i, &b)| b != (i % 251) as u8) {
        panic!("byte {i} is {}, expected {}", got[i], i % 251);
    }
    lab.assert_no_errors();
    lab.report(&format!("{N} bytes"));
}

// ---- 4. http ----

/// curl gets the page from `http://[fd00:80::2]:80/`; then 1,000 requests by one curl on
/// one keep-alive connection.
#[test]
fn http_over_ipv6_page_and_1000_keep_alive_requests() {
    const REQUESTS: usize = 1000;
    let Some(lab) = Lab::start("http6", &["http", "--port", "80"], Io::Collect) else { return };
    if !precondition(command_runs("curl", &["--version"]), "curl is not installed") {
        return;
    }
    lab.wait_listening("t", 80);
    let url = format!("http://[{STACK}]:80/");
    let out = lab.ns.run("curl", &["-gsS", "-m", "10", "-w", "\n%{http_code}", &url]);
    assert!(out.status.success(), "curl {url}: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
    assert_eq!(status, "200", "status of GET {url}; body: {body}");
    assert!(body.contains("ustack"), "the page does not say ustack: {body}");
    let opens_before = lab.counter("passive connection openings");

    let config = PathBuf::from(format!("{}.curlrc", lab.tmp_prefix));
    let mut lines = String::from("globoff\n");
    for i in 0..REQUESTS {
        lines.push_str(&format!("url = \"{url}?n={i}\"\noutput = \"/dev/null\"\n"));
    }
    std::fs::write(&config, lines).expect("writing the curl config");
    let out = lab.ns.run(
        "curl",
        &[
            "-sS",
            "-m",
            "60",
            "-K",
            config.to_str().expect("UTF-8 path"),
            "-w",
            "%{http_code} %{num_connects}\n",
        ],
    );
    let _ = std::fs::remove_file(&config);
    assert!(out.status.success(), "curl with {REQUESTS} URLs: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut connects, mut statuses) = (0, 0);
    for line in text.lines() {
        let (code, n) = line.split_once(' ').unwrap_or_else(|| panic!("curl -w line {line:?}"));
        assert_eq!(code, "200", "a keep-alive request failed: {line:?}");
        statuses += 1;
        connects += n.parse::<u32>().unwrap_or_else(|_| panic!("num_connects in {line:?}"));
    }
    assert_eq!(statuses, REQUESTS, "one status line per request");
    assert_eq!(connects, 1, "curl opened {connects} connections for {REQUESTS} requests");
    let opens = lab.counter("passive connection openings") - opens_before;
    assert_eq!(opens, 1, "ustack accepted {opens} connections for the keep-alive run");
    lab.assert_no_errors();
    lab.report(&format!("1 + {REQUESTS} requests to [{STACK}], the {REQUESTS} on one connection"));
}

// ---- 5. udp-echo ----

/// IPv6 datagrams of several sizes, the largest fragmented both ways (IPv6 fragment
/// header, RFC 8200 §4.5), come back unchanged.
#[test]
fn udp_echo_over_ipv6_with_fragments() {
    let Some(lab) = Lab::start("udp6", &["udp-echo", "--port", "7"], Io::Collect) else {
        return;
    };
    lab.wait_listening("u", 7);
    let sizes = [0usize, 1, 512, 1452, 4000, 20_000];
    in_netns(&lab.ns, move || {
        let sock = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).expect("binding a UDP socket");
        sock.connect(stack(7)).expect("connecting the UDP socket");
        sock.set_read_timeout(Some(Duration::from_secs(1))).expect("read timeout");
        let mut buf = vec![0u8; 65_536];
        for (k, &size) in sizes.iter().enumerate() {
            let msg: Vec<u8> = (0..size).map(|i| (i * 7 + k) as u8).collect();
            let echoed = (0..5).find_map(|_| {
                sock.send(&msg).expect("sending a datagram");
                match sock.recv(&mut buf) {
                    Ok(n) => Some(buf[..n].to_vec()),
                    Err(e) if timed_out(&e) => None,
                    Err(e) => panic!("recv of the {size}-byte echo: {e}"),
                }
            });
            let echoed = echoed.unwrap_or_else(|| panic!("no echo of {size} bytes in 5 tries"));
            assert_eq!(echoed, msg, "the echo of a {size}-byte datagram");
        }
    });
    assert!(lab.nstat("Ip6ReasmOKs") >= 2, "ustack reassembled no IPv6 datagram");
    assert!(lab.nstat("Ip6FragCreates") >= 2, "ustack fragmented no IPv6 datagram");
    lab.assert_no_errors();
    lab.report(&format!("datagrams of {sizes:?} bytes"));
}

/// A read timeout's error (Linux says EAGAIN, `WouldBlock`).
fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

// ---- 6. closed ports ----

/// An IPv6 kernel connect to a closed port is refused (ustack's RST); a datagram to a closed
/// UDP port brings the kernel ICMPv6 port unreachable (RFC 4443 §3.1, code 4), so a
/// connected UDP socket's next recv fails with ECONNREFUSED. Captured with `--pcap` and
/// decoded by tshark with nothing malformed and checksums good.
#[test]
fn closed_ports_over_ipv6_refuse_with_rst_and_icmpv6() {
    const CLOSED: u16 = 8;
    let Some(mut lab) = Lab::start_with(
        "refused6",
        &["udp-echo", "--port", "7"],
        Io::Collect,
        &["--pcap", "{tmp}.pcap"],
    ) else {
        return;
    };
    if !precondition(command_runs("tshark", &["-v"]), "tshark is not installed") {
        return;
    }
    lab.wait_listening("u", 7);
    in_netns(&lab.ns, || {
        match TcpStream::connect_timeout(&stack(CLOSED), IO_TIMEOUT) {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "TCP connect: {e}"),
            Ok(s) => panic!("connected to a closed port: {:?}", s.peer_addr()),
        }
        let sock = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).expect("binding a UDP socket");
        sock.connect(stack(CLOSED)).expect("connecting the UDP socket");
        sock.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
        sock.send(b"anyone?").expect("sending to the closed port");
        let mut buf = [0u8; 64];
        match sock.recv(&mut buf) {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "UDP recv: {e}"),
            Ok(n) => panic!("a {n}-byte answer from a closed port"),
        }
    });
    assert!(lab.counter("resets sent") >= 1, "ustack counted no RST");
    assert!(lab.nstat("Icmp6OutDestUnreachs") >= 1, "ustack counted no ICMPv6 error");
    let status = lab.stop();
    assert!(status.success(), "ustack after SIGTERM: {status}; stderr:\n{}", lab.stderr());
    let pcap = format!("{}.pcap", lab.tmp_prefix);
    let decoded = tshark_verbose(&pcap);
    for want in [
        "Internet Protocol Version 6".to_string(),
        "Flags: 0x014 (RST, ACK)".to_string(),
        format!("Src Port: {CLOSED}, Dst Port:"),
        "Type: Destination Unreachable (1)".to_string(),
        "Code: 4 (Port unreachable)".to_string(),
    ] {
        assert!(decoded.contains(&want), "tshark output of {pcap} lacks {want:?}:\n{decoded}");
    }
    let _ = std::fs::remove_file(&pcap);
    lab.report("RST and ICMPv6 port unreachable, pcap decoded clean");
}

/// `tshark -V` of `pcap` with checksums verified; fails on anything malformed or bad.
fn tshark_verbose(pcap: &str) -> String {
    let out = Command::new("tshark")
        .args(["-r", pcap, "-V", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
        .output()
        .expect("running tshark");
    assert!(out.status.success(), "tshark -r {pcap}: {}", describe(&out));
    let text = String::from_utf8(out.stdout).expect("tshark prints UTF-8");
    for bad in ["Malformed", "[Expert Info (Error", "Checksum Status: Bad"] {
        assert!(!text.contains(bad), "tshark found {bad:?} in {pcap}:\n{text}");
    }
    text
}

// ---- 7. half-closes and TIME-WAIT against kernel servers ----

/// `connect [fd00:80::1]:PORT` to a kernel listener: stdin reaches the kernel, then ustack
/// half-closes while the kernel keeps sending, which reaches stdout; the kernel closes last.
/// ustack closed first, so ustack holds TIME-WAIT and the kernel does not (RFC 9293 §3.6).
#[test]
fn connect_over_ipv6_ustack_closes_first_and_holds_time_wait() {
    const PORT: u16 = 5001;
    let Some(mut sandbox) = Netns::for_test() else { return };
    if !precondition(command_runs("ss", &["-V"]), "ss (iproute2) is not installed") {
        return;
    }
    let listener = kernel_listener(&sandbox, PORT);
    let target = format!("[{HOST}]:{PORT}");
    let mut lab = Lab::start_in(sandbox.take(), "connect6a", &["connect", &target], Io::Piped, &[]);
    let mut rng = SplitMix64(0xc0ffee6);
    let to_kernel = Arc::new(rng.bytes(300 * 1024));
    let to_ustack = rng.bytes(500 * 1024);
    let stdin = lab.stdin.take().expect("ustack's stdin");
    let sent = Arc::clone(&to_kernel);
    let feeder = thread::spawn(move || feed(stdin, &sent));
    let stdout = lab.stdout.take().expect("ustack's stdout");
    let drain = thread::spawn(move || read_all(stdout));

    let (conn, peer) = accept_within(&listener, &lab);
    assert_eq!(peer.ip(), STACK, "ustack's source address");
    let mut from_ustack = Vec::new();
    (&conn).read_to_end(&mut from_ustack).expect("the kernel reading ustack's data");
    assert!(
        from_ustack == *to_kernel,
        "kernel got {} of {} bytes, or different ones",
        from_ustack.len(),
        to_kernel.len()
    );
    (&conn).write_all(&to_ustack).expect("the kernel sending after ustack's FIN");
    drop(conn);
    feeder.join().expect("the stdin feeder");
    let got = drain.join().expect("the stdout reader");
    assert!(
        got == to_ustack,
        "stdout had {} of {} bytes, or different ones",
        got.len(),
        to_ustack.len()
    );
    let status = lab.wait_exit();
    let err = lab.stderr();
    assert!(status.success(), "ustack connect: {status}; stderr:\n{err}");
    assert!(err.contains("ustack: connection closed, state TIME-WAIT"), "stderr:\n{err}");
    let rows = wait_until("the kernel's socket to leave LAST-ACK", || {
        let rows = kernel_ss_rows(&lab.ns, peer.port());
        (!rows.iter().any(|r| r.starts_with("LAST-ACK"))).then_some(rows)
    });
    assert!(
        !rows.iter().any(|r| r.starts_with("TIME-WAIT")),
        "the kernel holds TIME-WAIT though ustack closed first: {rows:#?}"
    );
    lab.ns.assert_kernel_tcp_clean();
    lab.report("300 KiB up, 500 KiB down after ustack's FIN; TIME-WAIT in ustack");
}

/// `connect` to an IPv6 kernel server that sends and shuts down first: the kernel's FIN
/// reaches ustack (CLOSE-WAIT in `ustack ss`), ustack keeps sending stdin, then closes. The
/// kernel closed first, so the kernel holds TIME-WAIT.
#[test]
fn connect_over_ipv6_kernel_closes_first_and_holds_time_wait() {
    const PORT: u16 = 5002;
    let Some(mut sandbox) = Netns::for_test() else { return };
    if !precondition(command_runs("ss", &["-V"]), "ss (iproute2) is not installed") {
        return;
    }
    let listener = kernel_listener(&sandbox, PORT);
    let target = format!("[{HOST}]:{PORT}");
    let mut lab = Lab::start_in(sandbox.take(), "connect6b", &["connect", &target], Io::Piped, &[]);
    let mut rng = SplitMix64(0xbeef6);
    let to_ustack = Arc::new(rng.bytes(192 * 1024));
    let to_kernel = rng.bytes(300 * 1024);

    let (conn, peer) = accept_within(&listener, &lab);
    (&conn).write_all(&to_ustack).expect("the kernel sending");
    conn.shutdown(Shutdown::Write).expect("the kernel's shutdown(Write)");
    let kernel_reader = thread::spawn(move || {
        let mut got = Vec::new();
        (&conn).read_to_end(&mut got).map(|_| got)
    });
    let peer_col = format!("[{HOST}]:{PORT}");
    lab.wait_for("ustack ss to show the IPv6 connection in CLOSE-WAIT", || {
        lab.query("ss t")
            .lines()
            .find(|l| l.starts_with("CLOSE-WAIT") && l.contains(&peer_col))
            .map(str::to_string)
    });
    let stdin = lab.stdin.take().expect("ustack's stdin");
    feed(stdin, &to_kernel);
    let from_ustack = kernel_reader.join().expect("the kernel reader").expect("kernel read");
    assert!(
        from_ustack == to_kernel,
        "kernel got {} of {} bytes, or different ones",
        from_ustack.len(),
        to_kernel.len()
    );
    lab.assert_no_errors();
    let got = read_all(lab.stdout.take().expect("ustack's stdout"));
    assert!(
        got == *to_ustack,
        "stdout had {} of {} bytes, or different ones",
        got.len(),
        to_ustack.len()
    );
    let status = lab.wait_exit();
    let err = lab.stderr();
    assert!(status.success(), "ustack connect: {status}; stderr:\n{err}");
    assert!(err.contains("ustack: connection closed, state CLOSED"), "stderr:\n{err}");
    let rows = wait_until("the kernel's socket in TIME-WAIT", || {
        let rows = kernel_ss_rows(&lab.ns, peer.port());
        rows.iter().any(|r| r.starts_with("TIME-WAIT")).then_some(rows)
    });
    assert_eq!(rows.len(), 1, "one kernel socket for the connection: {rows:#?}");
    lab.ns.assert_kernel_tcp_clean();
    lab.report("192 KiB down then the kernel's FIN, 300 KiB up after it; TIME-WAIT in the kernel");
}

/// A kernel listener on `[::]:port` (dual-stack), made in the namespace before the TUN.
fn kernel_listener(ns: &Netns, port: u16) -> TcpListener {
    in_netns(ns, move || {
        let l = TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).expect("binding the listener");
        l.set_nonblocking(true).expect("a non-blocking listener");
        l
    })
}

/// Accepts ustack's connection, polling so the wait is bounded.
fn accept_within(listener: &TcpListener, lab: &Lab) -> (TcpStream, SocketAddr) {
    let (conn, peer) =
        lab.wait_for("ustack to connect to the kernel listener", || match listener.accept() {
            Ok(c) => Some(c),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("accept: {e}"),
        });
    conn.set_nonblocking(false).expect("a blocking connection");
    set_timeouts(&conn);
    (conn, peer)
}

fn feed(mut stdin: ChildStdin, data: &[u8]) {
    stdin.write_all(data).expect("writing ustack's stdin");
}

fn read_all(mut stdout: ChildStdout) -> Vec<u8> {
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).expect("reading ustack's stdout");
    got
}

/// The kernel's TCP sockets in the namespace with `port` at either end, as `ss -tan` rows.
fn kernel_ss_rows(ns: &Netns, port: u16) -> Vec<String> {
    let out = ns.run("ss", &["-tan"]);
    assert!(out.status.success(), "ss -tan: {}", describe(&out));
    let suffix = format!(":{port}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().skip(3).take(2).any(|a| a.ends_with(&suffix)))
        .map(str::to_string)
        .collect()
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
