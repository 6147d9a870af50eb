//! The checks the IPv4 suite (tun_interop.rs) and the IPv6 suite (tun_ipv6.rs) both run: the
//! same services and the same kernel clients and servers, with the addresses of one family
//! ([`Family`]). Each suite's test is one call with its own lab name, seed and port, so the
//! two runs stay separate tests that run in parallel.
#![allow(dead_code)] // each test file uses its share

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{ChildStdin, ChildStdout, Command};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::env::{command_runs, describe, precondition};
use super::tunlab::*;

/// The addresses of the family under test: the kernel's on the device and the stack's.
pub(crate) struct Family {
    pub(crate) host: IpAddr,
    pub(crate) stack: IpAddr,
}

impl Family {
    /// The stack's address and `port`.
    pub(crate) fn stack(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.stack, port)
    }

    /// The family's wildcard address, for the kernel's sockets.
    pub(crate) fn unspecified(&self) -> IpAddr {
        match self.host {
            IpAddr::V4(_) => IpAddr::from([0u8; 4]),
            IpAddr::V6(_) => IpAddr::from([0u16; 8]),
        }
    }
}

// ---- echo ----

/// 100 kernel connections at once to `echo` on port 7, each with its own payload of 1 B to
/// 256 KiB drawn from `seed`, written and read concurrently, checked byte for byte.
pub(crate) fn echo_100_concurrent(f: &Family, name: &'static str, seed: u64) {
    const CONNS: usize = 100;
    let Some(lab) = Lab::start(name, &["echo", "--port", "7"], Io::Collect) else { return };
    lab.wait_listening("t", 7);
    let mut rng = SplitMix64(seed);
    let payloads: Vec<Arc<Vec<u8>>> = (0..CONNS)
        .map(|_| {
            let len = 1 + rng.below(256 * 1024);
            Arc::new((0..len).map(|_| rng.next() as u8).collect())
        })
        .collect();
    let total: usize = payloads.iter().map(|p| p.len()).sum();
    let to = f.stack(7);
    let results = in_netns(&lab.ns, move || {
        let threads: Vec<_> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                thread::spawn(move || {
                    echo_once(to, &payload).map_err(|e| format!("connection {i}: {e}"))
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("an echo thread panicked")).collect::<Vec<_>>()
    });
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} of {CONNS} echo connections failed (seed {seed:#x}): {failed:#?}\nustack stderr:\n{}",
        failed.len(),
        lab.stderr()
    );
    lab.assert_no_errors();
    lab.report(&format!("{CONNS} connections, {total} bytes each way"));
}

// ---- discard ----

/// 256 MiB into `discard` on port 9; ustack's line for the connection names the kernel's
/// address and exactly that many bytes.
pub(crate) fn discard_256_mib(f: &Family, name: &'static str) {
    const TOTAL: u64 = 256 << 20;
    let Some(lab) = Lab::start(name, &["discard", "--port", "9"], Io::Collect) else { return };
    lab.wait_listening("t", 9);
    let to = f.stack(9);
    let local = in_netns(&lab.ns, move || {
        let mut s = TcpStream::connect_timeout(&to, IO_TIMEOUT).expect("connecting to discard");
        set_timeouts(&s);
        let local = s.local_addr().expect("local address");
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
        for _ in 0..TOTAL / chunk.len() as u64 {
            s.write_all(&chunk).expect("writing to discard");
        }
        s.shutdown(Shutdown::Write).expect("shutdown(Write)");
        // discard closes once it has read our FIN.
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("reading discard's FIN");
        assert!(rest.is_empty(), "discard sent {} bytes", rest.len());
        local
    });
    assert_eq!(local.ip(), f.host, "the kernel's source address");
    let (line, bytes) = discard_line(&lab, local);
    assert_eq!(bytes, TOTAL, "{line}");
    lab.assert_no_errors();
    lab.report(&line);
}

/// ustack's `discard` line for the connection from `peer`, and the byte count it names.
pub(crate) fn discard_line(lab: &Lab, peer: SocketAddr) -> (String, u64) {
    let prefix = format!("discard: {peer}: ");
    let line = lab.wait_for("ustack's discard line", || {
        lab.stdout().lines().find(|l| l.starts_with(&prefix)).map(str::to_string)
    });
    let bytes = line[prefix.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {line:?}"));
    (line, bytes)
}

// ---- source ----

/// `source --bytes N` on port 19: the kernel reads exactly N bytes, byte i = i % 251, then
/// EOF.
pub(crate) fn source_bytes(f: &Family, name: &'static str) {
    const N: usize = 3_000_017;
    let Some(lab) =
        Lab::start(name, &["source", "--port", "19", "--bytes", &N.to_string()], Io::Collect)
    else {
        return;
    };
    lab.wait_listening("t", 19);
    let from = f.stack(19);
    let got = in_netns(&lab.ns, move || {
        let mut s = TcpStream::connect_timeout(&from, IO_TIMEOUT).expect("connecting to source");
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

// ---- http ----

/// curl gets the page from `http` on port 80; then 1,000 requests by one curl on one
/// keep-alive connection (curl keeps the connection and reuses it for the next URL).
pub(crate) fn http_page_and_1000_keep_alive_requests(f: &Family, name: &'static str) {
    const REQUESTS: usize = 1000;
    let Some(lab) = Lab::start(name, &["http", "--port", "80"], Io::Collect) else { return };
    if !precondition(command_runs("curl", &["--version"]), "curl is not installed") {
        return;
    }
    lab.wait_listening("t", 80);
    // An IPv6 address in brackets; -g (globoff) keeps curl from reading them as a range.
    let url = format!("http://{}/", f.stack(80));
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
    lab.report(&format!("1 + {REQUESTS} requests to {url}, the {REQUESTS} on one connection"));
}

// ---- udp-echo ----

/// Datagrams of `sizes` bytes to `udp-echo` on port 7 come back unchanged (UDP may lose one:
/// a few tries each, bounded); then `check` looks at the lab (the counters of what the sizes
/// made ustack fragment and reassemble).
pub(crate) fn udp_echo(f: &Family, name: &'static str, sizes: &[usize], check: impl FnOnce(&Lab)) {
    let Some(lab) = Lab::start(name, &["udp-echo", "--port", "7"], Io::Collect) else { return };
    lab.wait_listening("u", 7);
    let (any, to, list) = (f.unspecified(), f.stack(7), sizes.to_vec());
    in_netns(&lab.ns, move || {
        let sock = UdpSocket::bind((any, 0)).expect("binding a UDP socket");
        sock.connect(to).expect("connecting the UDP socket");
        sock.set_read_timeout(Some(Duration::from_secs(1))).expect("read timeout");
        let mut buf = vec![0u8; 65_536];
        for (k, &size) in list.iter().enumerate() {
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
    check(&lab);
    lab.assert_no_errors();
    lab.report(&format!("datagrams of {sizes:?} bytes"));
}

/// A read timeout's error (Linux says EAGAIN, `WouldBlock`).
pub(crate) fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

// ---- closed ports ----

/// A kernel connect to port 8, where nobody listens, is refused (ustack's RST); a datagram
/// to the closed UDP port 8 brings the kernel a port unreachable (ICMP type 3 code 3, or
/// ICMPv6 type 1 code 4), so a connected UDP socket's next recv fails with ECONNREFUSED.
/// ustack counts the error under `unreachable_counter` (its nstat name); the run is captured
/// with `--pcap` and decoded by tshark with nothing malformed, checksums good, and each of
/// `decoded` in the decoding.
pub(crate) fn closed_ports_refused(
    f: &Family,
    name: &'static str,
    unreachable_counter: &str,
    decoded: &[&str],
) {
    const CLOSED: u16 = 8;
    let Some(mut lab) =
        Lab::start_with(name, &["udp-echo", "--port", "7"], Io::Collect, &["--pcap", "{tmp}.pcap"])
    else {
        return;
    };
    if !precondition(command_runs("tshark", &["-v"]), "tshark is not installed") {
        return;
    }
    lab.wait_listening("u", 7);
    let (any, to) = (f.unspecified(), f.stack(CLOSED));
    in_netns(&lab.ns, move || {
        match TcpStream::connect_timeout(&to, IO_TIMEOUT) {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "TCP connect: {e}"),
            Ok(s) => panic!("connected to a closed port: {:?}", s.peer_addr()),
        }
        let sock = UdpSocket::bind((any, 0)).expect("binding a UDP socket");
        sock.connect(to).expect("connecting the UDP socket");
        sock.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
        sock.send(b"anyone?").expect("sending to the closed port");
        let mut buf = [0u8; 64];
        match sock.recv(&mut buf) {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "UDP recv: {e}"),
            Ok(n) => panic!("a {n}-byte answer from a closed port"),
        }
    });
    assert!(lab.counter("resets sent") >= 1, "ustack counted no RST");
    assert!(lab.nstat(unreachable_counter) >= 1, "ustack counted no {unreachable_counter}");

    let status = lab.stop();
    assert!(status.success(), "ustack after SIGTERM: {status}; stderr:\n{}", lab.stderr());
    assert!(lab.stderr().contains("removed"), "no graceful stop:\n{}", lab.stderr());
    let pcap = format!("{}.pcap", lab.tmp_prefix);
    let text = tshark_verbose(&pcap);
    let src_port = format!("Src Port: {CLOSED}, Dst Port:");
    for want in ["Flags: 0x014 (RST, ACK)", &src_port].iter().chain(decoded) {
        assert!(text.contains(want), "tshark output of {pcap} lacks {want:?}:\n{text}");
    }
    let _ = std::fs::remove_file(&pcap);
    lab.report("RST and port unreachable, pcap decoded clean");
}

/// `tshark -V` of `pcap` with checksums verified; fails on anything malformed or bad.
pub(crate) fn tshark_verbose(pcap: &str) -> String {
    let out = Command::new("tshark")
        .args(["-r", pcap, "-V", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"])
        .args(["-o", "udp.check_checksum:TRUE"])
        .output()
        .expect("running tshark");
    assert!(out.status.success(), "tshark -r {pcap}: {}", describe(&out));
    let text = String::from_utf8(out.stdout).expect("tshark prints UTF-8");
    for bad in ["Malformed", "[Expert Info (Error", "Checksum Status: Bad"] {
        assert!(!text.contains(bad), "tshark found {bad:?} in {pcap}:\n{text}");
    }
    text
}

// ---- half-closes and TIME-WAIT against kernel servers ----

/// `connect` to a kernel listener on `port`: stdin (300 KiB from `seed`) reaches the kernel,
/// then ustack half-closes while the kernel keeps sending (500 KiB), which reaches stdout;
/// the kernel closes last. ustack closed first, so ustack holds TIME-WAIT and the kernel
/// does not (RFC 9293 §3.6).
pub(crate) fn connect_ustack_closes_first(f: &Family, name: &'static str, port: u16, seed: u64) {
    let Some(mut sandbox) = Netns::for_test() else { return };
    if !precondition(command_runs("ss", &["-V"]), "ss (iproute2) is not installed") {
        return;
    }
    let listener = kernel_listener(&sandbox, f.unspecified(), port);
    let target = SocketAddr::new(f.host, port).to_string();
    let mut lab = Lab::start_in(sandbox.take(), name, &["connect", &target], Io::Piped, &[]);
    let mut rng = SplitMix64(seed);
    let to_kernel = Arc::new(rng.bytes(300 * 1024));
    let to_ustack = rng.bytes(500 * 1024);
    let stdin = lab.stdin.take().expect("ustack's stdin");
    let sent = Arc::clone(&to_kernel);
    // stdin → ustack, then EOF: ustack sends its FIN first.
    let feeder = thread::spawn(move || feed(stdin, &sent));
    let stdout = lab.stdout.take().expect("ustack's stdout");
    let drain = thread::spawn(move || read_all(stdout));

    let (conn, peer) = accept_within(&listener, &lab);
    assert_eq!(peer.ip(), f.stack, "ustack's source address");
    let mut from_ustack = Vec::new();
    (&conn).read_to_end(&mut from_ustack).expect("the kernel reading ustack's data");
    assert_same_bytes("the kernel", &from_ustack, &to_kernel);
    // Half-closed by ustack; the kernel (CLOSE-WAIT) keeps sending, then closes.
    (&conn).write_all(&to_ustack).expect("the kernel sending after ustack's FIN");
    drop(conn);
    feeder.join().expect("the stdin feeder");
    let got = drain.join().expect("the stdout reader");
    assert_same_bytes("stdout", &got, &to_ustack);
    let status = lab.wait_exit();
    let err = lab.stderr();
    assert!(status.success(), "ustack connect: {status}; stderr:\n{err}");
    assert!(err.contains("ustack: connection closed, state TIME-WAIT"), "stderr:\n{err}");
    // The kernel was the passive closer: LAST-ACK, then CLOSED on ustack's ACK; never
    // TIME-WAIT.
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

/// `connect` to a kernel server on `port` that sends (160 KiB from `seed`) and shuts down
/// first: the kernel's FIN reaches ustack (CLOSE-WAIT in `ustack ss`) while ustack's stdout
/// is not yet read; ustack keeps sending stdin (300 KiB), then closes. The kernel closed
/// first, so the kernel holds TIME-WAIT.
pub(crate) fn connect_kernel_closes_first(f: &Family, name: &'static str, port: u16, seed: u64) {
    let Some(mut sandbox) = Netns::for_test() else { return };
    if !precondition(command_runs("ss", &["-V"]), "ss (iproute2) is not installed") {
        return;
    }
    let listener = kernel_listener(&sandbox, f.unspecified(), port);
    let target = SocketAddr::new(f.host, port);
    let mut lab =
        Lab::start_in(sandbox.take(), name, &["connect", &target.to_string()], Io::Piped, &[]);
    let mut rng = SplitMix64(seed);
    // More than the stdout pipe (64 KiB) and ustack's 64 KiB read buffer hold, so ustack's
    // reader blocks on stdout before it can read the FIN; and well under what the pipe and
    // the receive buffer (128 KiB) hold, so the FIN reaches the stack whatever the size of
    // the read the reader holds while it blocks. At 192 KiB the sum was exact: a reader that
    // blocked holding a short read left the last bytes and the FIN outside a full window,
    // and the test timed out (about 1 run in 70, here and on the code before).
    let to_ustack = Arc::new(rng.bytes(160 * 1024));
    let to_kernel = rng.bytes(300 * 1024);

    let (conn, peer) = accept_within(&listener, &lab);
    (&conn).write_all(&to_ustack).expect("the kernel sending");
    conn.shutdown(Shutdown::Write).expect("the kernel's shutdown(Write)");
    let kernel_reader = thread::spawn(move || {
        let mut got = Vec::new();
        (&conn).read_to_end(&mut got).map(|_| got)
    });
    let peer_col = target.to_string();
    lab.wait_for("ustack ss to show the connection in CLOSE-WAIT", || {
        lab.query("ss t")
            .lines()
            .find(|l| l.starts_with("CLOSE-WAIT") && l.contains(&peer_col))
            .map(str::to_string)
    });
    // ustack keeps sending after the kernel's FIN, then closes.
    let stdin = lab.stdin.take().expect("ustack's stdin");
    feed(stdin, &to_kernel);
    let from_ustack = kernel_reader.join().expect("the kernel reader").expect("kernel read");
    assert_same_bytes("the kernel", &from_ustack, &to_kernel);
    // ustack is still running: its reader waits for stdout to be read.
    lab.assert_no_errors();
    let got = read_all(lab.stdout.take().expect("ustack's stdout"));
    assert_same_bytes("stdout", &got, &to_ustack);
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
    lab.report("160 KiB down then the kernel's FIN, 300 KiB up after it; TIME-WAIT in the kernel");
}

/// Fails unless `got` (what `who` received) is `want`, byte for byte, naming the lengths.
pub(crate) fn assert_same_bytes(who: &str, got: &[u8], want: &[u8]) {
    assert!(got == want, "{who} got {} of {} bytes, or different ones", got.len(), want.len());
}

/// A kernel listener on (`any`, `port`), made in the namespace before the TUN exists (on
/// `[::]` it takes IPv4 clients too).
pub(crate) fn kernel_listener(ns: &Netns, any: IpAddr, port: u16) -> TcpListener {
    in_netns(ns, move || {
        let l = TcpListener::bind((any, port)).expect("binding the listener");
        l.set_nonblocking(true).expect("a non-blocking listener");
        l
    })
}

/// Accepts ustack's connection, polling so the wait is bounded.
pub(crate) fn accept_within(listener: &TcpListener, lab: &Lab) -> (TcpStream, SocketAddr) {
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

/// Writes `data` to ustack's stdin and closes it.
pub(crate) fn feed(mut stdin: ChildStdin, data: &[u8]) {
    stdin.write_all(data).expect("writing ustack's stdin");
}

pub(crate) fn read_all(mut stdout: ChildStdout) -> Vec<u8> {
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).expect("reading ustack's stdout");
    got
}

/// The kernel's TCP sockets in the namespace with `port` at either end, as `ss -tan` rows.
pub(crate) fn kernel_ss_rows(ns: &Netns, port: u16) -> Vec<String> {
    let out = ns.run("ss", &["-tan"]);
    assert!(out.status.success(), "ss -tan: {}", describe(&out));
    let suffix = format!(":{port}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().skip(3).take(2).any(|a| a.ends_with(&suffix)))
        .map(str::to_string)
        .collect()
}
