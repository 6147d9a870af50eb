//! The acceptance tests: the `ustack` binary (`ustack tun ... SERVICE`) on a TUN device
//! inside a network namespace, against the Linux kernel's own TCP and UDP in the same
//! namespace.
//!
//! **Layout.** Each test makes its own namespace (`ust-<pid>-<n>`) and starts one
//! `ip netns exec NS ustack tun --dev ut<pid>x<n> ... --control /tmp/ust-<pid>-<n>.sock SERVICE`
//! in it, so tests run in parallel without sharing a name, a device, a path or an address.
//! The stack is at [`STACK`], the kernel at [`HOST`]. Kernel sockets are made on a thread that
//! entered the namespace ([`in_netns`]); a socket belongs to the namespace it was created in,
//! so it can be used from any thread afterwards. Kernel tools (`curl`, `ss`) run under
//! `ip netns exec`.
//!
//! **Waiting.** Readiness is polled, never slept on: the control socket listing the service's
//! socket, a line on ustack's stdout, a row in the kernel's `ss`. Every wait and every socket
//! operation is bounded; a timeout fails the test with ustack's stderr.
//!
//! **Cleanup.** A [`Lab`] kills its ustack process, removes the control socket and then
//! deletes the namespace when dropped, also when the test panics; namespaces left behind by a
//! killed earlier run (named after a dead process) are deleted at the start.
//!
//! **Preconditions.** Root, `ip`, and per test `curl`, `ss` or `tshark`. Without one the test
//! prints why and returns, unless the environment variable `CI` is set and non-empty: then it
//! fails, so CI can never pass by skipping.

// The tests report what they skipped and how long they took.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use ustack::device::tun::enter_netns;

mod support;
use support::checks::{self, *};
use support::env::*;
use support::tunlab::*;

/// The kernel's side of the TUN, in every namespace.
const HOST: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
/// The stack's address.
const STACK: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);

/// This file's labs: IPv4 only.
const ADDRS: Addrs = Addrs {
    dev_prefix: "ut",
    netns_prefix: "ust-",
    tun_args: &["--addr", "10.78.0.2/24", "--host-addr", "10.78.0.1/24"],
    any: "0.0.0.0",
};

/// The addresses the checks shared with the IPv6 suite speak to.
const V4: Family = Family { host: IpAddr::V4(HOST), stack: IpAddr::V4(STACK) };

// ---- 1-7. the checks the IPv6 suite runs too (support/checks.rs) ----

/// 100 kernel connections at once to `echo`, each with its own seeded random payload of
/// 1 B to 256 KiB, written and read concurrently, checked byte for byte.
#[test]
fn echo_100_concurrent_kernel_connections() {
    echo_100_concurrent(&V4, "echo", 0x5eed_ec40);
}

/// 256 MiB into `discard`; ustack's line for the connection names exactly that many bytes.
#[test]
fn discard_256_mib_counted_exactly() {
    discard_256_mib(&V4, "discard");
}

/// `source --bytes N`: the kernel reads exactly N bytes, byte i = i % 251, then EOF.
#[test]
fn source_bytes_received_exactly() {
    source_bytes(&V4, "source");
}

/// curl gets the page; then 1,000 requests by one curl on one keep-alive connection.
#[test]
fn http_page_and_1000_keep_alive_requests() {
    checks::http_page_and_1000_keep_alive_requests(&V4, "http");
}

/// Datagrams of several sizes (one needing fragmentation both ways) come back unchanged.
#[test]
fn udp_echo_round_trip() {
    udp_echo(&V4, "udp", &[0, 1, 512, 1472, 4000], |lab| {
        assert!(lab.nstat("IpReasmOKs") >= 1, "ustack reassembled no datagram");
        assert!(lab.nstat("IpFragCreates") >= 2, "ustack fragmented no datagram");
    });
}

/// A kernel connect to a port nobody listens on is refused (ustack's RST); a datagram to a
/// closed UDP port brings the kernel ICMP port unreachable, so a connected UDP socket's next
/// recv fails with ECONNREFUSED. Captured with `--pcap`, decoded by tshark with nothing
/// malformed and checksums good.
#[test]
fn closed_ports_refuse_with_rst_and_icmp() {
    closed_ports_refused(
        &V4,
        "refused",
        "IcmpOutDestUnreachs",
        &["Type: 3 (Destination unreachable)", "Code: 3 (Port unreachable)"],
    );
}

/// `connect` to a kernel listener: ustack half-closes first, so ustack holds TIME-WAIT and
/// the kernel does not (SPEC S26).
#[test]
fn connect_ustack_closes_first_and_holds_time_wait() {
    connect_ustack_closes_first(&V4, "connect1", 5001, 0xc0ffee);
}

/// `--queues 2 connect`: the connection runs on the first shard, and the kernel steers its
/// packets to that shard's queue by their ports (the eBPF program `ustack tun` loads), also
/// after the connection was quiet for longer than the kernel's flow table remembers a queue
/// (3 s): ustack half-closes at once, the kernel answers 4 s later, and the answer reaches
/// stdout.
#[test]
fn connect_over_two_queues_gets_its_answer_after_an_idle_spell() {
    const PORT: u16 = 5003;
    let Some(mut sandbox) = Netns::for_test() else { return };
    let listener = kernel_listener(&sandbox, V4.unspecified(), PORT);
    let target = format!("{HOST}:{PORT}");
    let mut lab = Lab::start_in(
        sandbox.take(),
        "connectq",
        &["connect", &target],
        Io::Piped,
        &["--queues", "2"],
    );
    feed(lab.stdin.take().expect("ustack's stdin"), b"ping\n");
    let stdout = lab.stdout.take().expect("ustack's stdout");
    let drain = thread::spawn(move || read_all(stdout));
    let (conn, _) = accept_within(&listener, &lab);
    let mut got = Vec::new();
    (&conn).read_to_end(&mut got).expect("the kernel reading ustack's data and FIN");
    assert_eq!(got, b"ping\n");
    thread::sleep(Duration::from_secs(4));
    (&conn).write_all(b"pong after a quiet spell\n").expect("the kernel's answer");
    drop(conn);
    assert_eq!(drain.join().expect("the stdout reader"), b"pong after a quiet spell\n");
    let status = lab.wait_exit();
    assert!(status.success(), "ustack connect: {status}; stderr:\n{}", lab.stderr());
    assert!(lab.stderr().contains("2 queues and stacks"), "{}", lab.stderr());
    lab.report("answered on its shard's queue after 4 s quiet");
}

/// `connect` to a kernel server that sends and shuts down first (CLOSE-WAIT in `ustack ss`
/// while ustack still sends): the kernel holds TIME-WAIT (S26).
#[test]
fn connect_kernel_closes_first_and_holds_time_wait() {
    connect_kernel_closes_first(&V4, "connect2", 5002, 0xbeef);
}

// ---- 8. CLOSE-WAIT in ustack ss ----

/// `hold` never reads nor closes: after the kernel sends 1234 bytes and closes, `ustack ss -t`
/// shows the connection in CLOSE-WAIT with the 1234 bytes unread (SPEC S10).
#[test]
fn ss_shows_leaked_socket_in_close_wait_with_unread_bytes() {
    const PORT: u16 = 4000;
    let Some(lab) = Lab::start("hold", &["hold", "--port", "4000"], Io::Collect) else { return };
    lab.wait_listening("t", PORT);
    let local = in_netns(&lab.ns, || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((STACK, PORT)), IO_TIMEOUT)
            .expect("connecting to hold");
        set_timeouts(&s);
        s.write_all(&[0x42; 1234]).expect("sending 1234 bytes");
        s.local_addr().expect("local address")
        // Dropped: closed, FIN sent.
    });
    let peer = local.to_string();
    let control = lab.control.to_str().expect("UTF-8 path").to_string();
    let row = lab.wait_for("`ustack ss -t` to show CLOSE-WAIT with 1234 bytes", || {
        let out = Command::new(env!("CARGO_BIN_EXE_ustack"))
            .args(["ss", "--control", &control, "-t"])
            .output()
            .expect("running ustack ss");
        assert!(out.status.success(), "ustack ss: {}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let row = text.lines().find(|l| l.split_whitespace().nth(4) == Some(&peer))?;
        let cols: Vec<&str> = row.split_whitespace().collect();
        (cols[0] == "CLOSE-WAIT" && cols[1] == "1234").then(|| row.to_string())
    });
    assert!(row.contains(&format!("{STACK}:{PORT}")), "{row}");
    lab.assert_no_errors();
    lab.report(&row);
}

// ---- 9. more than 2^32 bytes each way, checked by SHA-256 ----

/// Bytes moved each way by the two tests below: past 2^31 and 2^32, where 32-bit sequence
/// numbers and windows wrap (RFC 9293 §3.4: sequence arithmetic is modulo 2^32), so a
/// comparison that forgets the wrap stalls or corrupts the stream there. Odd, so the last
/// SplitMix64 word of `source --seed` is cut.
const BIG: u64 = 4_400_000_003;
/// Bound on each big transfer's wall time; a stall fails sooner, at [`IO_TIMEOUT`] on one
/// read or write. Each direction takes about 15 s alone on 2 cores at opt-level 1, 25 s with
/// both at once, and was seen at 115 s on a machine loaded 6 times over.
const BIG_LIMIT: Duration = Duration::from_secs(600);

/// The kernel sends [`BIG`] pseudo-random bytes to `discard --sha256`; ustack's line for the
/// connection names exactly that many bytes and the SHA-256 of what the kernel sent.
#[test]
fn kernel_to_ustack_more_than_4_gib_arrive_with_their_sha256() {
    const PORT: u16 = 9;
    const SEED: u64 = 0x461b_0001;
    let Some(lab) = Lab::start("big-up", &["discard", "--port", "9", "--sha256"], Io::Collect)
    else {
        return;
    };
    lab.wait_listening("t", PORT);

    let (local, sent_digest, elapsed) = in_netns(&lab.ns, || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((STACK, PORT)), IO_TIMEOUT)
            .expect("connecting to discard");
        set_timeouts(&s);
        let local = s.local_addr().expect("local address");
        let mut stream = SplitMix64(SEED);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let start = Instant::now();
        let mut sent: u64 = 0;
        while sent < BIG {
            let n = (BIG - sent).min(buf.len() as u64) as usize;
            stream.fill(&mut buf[..n]);
            hasher.update(&buf[..n]);
            if let Err(e) = s.write_all(&buf[..n]) {
                panic!("the kernel's write to discard failed {}", failed(&e, sent, start));
            }
            sent += n as u64;
            assert!(start.elapsed() < BIG_LIMIT, "{}", too_slow(sent, start));
        }
        s.shutdown(Shutdown::Write).expect("shutdown(Write)");
        // discard closes once it has read our FIN.
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("reading discard's FIN");
        assert!(rest.is_empty(), "discard sent {} bytes", rest.len());
        (local, hex(&hasher.finalize()), start.elapsed())
    });

    let (line, bytes) = discard_line(&lab, local);
    let digest = line.rsplit_once(" sha256 ").map(|(_, d)| d.trim());
    assert_eq!(bytes, BIG, "bytes ustack received: {line}");
    assert_eq!(digest, Some(sent_digest.as_str()), "SHA-256 of what ustack received: {line}");
    lab.assert_no_errors();
    lab.report(&format!(
        "{BIG} bytes kernel -> ustack in {elapsed:.2?}, {:.2} Gbit/s; {line}",
        gbit_per_s(BIG, elapsed)
    ));
}

/// `source --bytes BIG --seed S` sends [`BIG`] bytes of the SplitMix64 stream its --help
/// documents; the kernel reads exactly that many, then EOF, and their SHA-256 is that of
/// the stream regenerated here.
#[test]
fn ustack_to_kernel_more_than_4_gib_arrive_with_their_sha256() {
    const PORT: u16 = 19;
    const SEED: u64 = 0x461b_0002;
    let service =
        ["source", "--port", "19", "--bytes", &BIG.to_string(), "--seed", &SEED.to_string()];
    let Some(lab) = Lab::start("big-down", &service, Io::Collect) else { return };
    lab.wait_listening("t", PORT);
    // The expected digest, worked out while the bytes move.
    let expected = thread::spawn(|| {
        let mut stream = SplitMix64(SEED);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut done: u64 = 0;
        while done < BIG {
            let n = (BIG - done).min(buf.len() as u64) as usize;
            stream.fill(&mut buf[..n]);
            hasher.update(&buf[..n]);
            done += n as u64;
        }
        hex(&hasher.finalize())
    });

    let (got, got_digest, elapsed) = in_netns(&lab.ns, || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((STACK, PORT)), IO_TIMEOUT)
            .expect("connecting to source");
        set_timeouts(&s);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let start = Instant::now();
        let mut got: u64 = 0;
        loop {
            let n = s.read(&mut buf).unwrap_or_else(|e| {
                panic!("the kernel's read from source failed {}", failed(&e, got, start))
            });
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            got += n as u64;
            assert!(start.elapsed() < BIG_LIMIT, "{}", too_slow(got, start));
        }
        (got, hex(&hasher.finalize()), start.elapsed())
    });
    assert_eq!(got, BIG, "bytes the kernel read before source's FIN");
    let expected = expected.join().expect("the thread hashing the expected stream");
    assert_eq!(got_digest, expected, "SHA-256 of what the kernel read, of the seed-{SEED} stream");
    lab.assert_no_errors();
    lab.report(&format!(
        "{BIG} bytes ustack -> kernel in {elapsed:.2?}, {:.2} Gbit/s, sha256 {got_digest}",
        gbit_per_s(BIG, elapsed)
    ));
}

/// "after N of BIG bytes (past 2^31, before 2^32), T s": where a big transfer failed.
fn progress(n: u64, start: Instant) -> String {
    let mark = match n {
        n if n >= 1 << 32 => "past 2^32",
        n if n >= 1 << 31 => "past 2^31, before 2^32",
        _ => "before 2^31",
    };
    format!("after {n} of {BIG} bytes ({mark}), {:.1} s", start.elapsed().as_secs_f64())
}

/// Why a big transfer's read or write failed, and where.
fn failed(e: &io::Error, n: u64, start: Instant) -> String {
    let stalled = if timed_out(e) {
        format!(" (a timeout: no byte moved for {IO_TIMEOUT:?}, the transfer stalled)")
    } else {
        String::new()
    };
    format!("{}: {e}{stalled}", progress(n, start))
}

/// A big transfer still running at [`BIG_LIMIT`].
fn too_slow(n: u64, start: Instant) -> String {
    format!(
        "the transfer is still running at its {BIG_LIMIT:?} bound (alone on 2 cores it takes \
         about 15 s at opt-level 1), {}",
        progress(n, start)
    )
}

fn gbit_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64().max(1e-9) / 1e9
}

/// Lowercase hex, two digits a byte, as `discard --sha256` prints a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- 9. listener options: Fast Open, DEFER_ACCEPT, SYN cookies (SPEC S6, S7, S8) ----

/// A kernel client using `sendto(MSG_FASTOPEN)` twice against ustack's `echo --fastopen`:
/// the first SYN asks for a cookie and the request follows the handshake; the second SYN
/// carries the cookie and the request, which ustack delivers at once. From ustack's capture:
/// the first request reaches ustack one round trip after its SYN (after the SYN-ACK went
/// out), the second with its SYN, and ustack's echo of the second acknowledges the SYN's
/// data.
#[test]
fn s6_kernel_fastopen_client_gets_its_syn_data_served() {
    const PORT: u16 = 7;
    let Some(mut lab) = Lab::start_with(
        "tfo-server",
        &["echo", "--port", "7"],
        Io::Collect,
        &["--fastopen=16", "--pcap", "{tmp}.pcap"],
    ) else {
        return;
    };
    sysctl(&lab.ns, "net.ipv4.tcp_fastopen", "1");
    lab.wait_listening("t", PORT);
    let requests = ["the first request", "the second request, in the SYN"];
    let replies = in_netns(&lab.ns, move || {
        requests.map(|r| fastopen_exchange(SocketAddr::from((STACK, PORT)), r.as_bytes()))
    });
    for (request, reply) in requests.iter().zip(&replies) {
        assert_eq!(reply.as_slice(), request.as_bytes(), "the echo");
    }
    assert_eq!(lab.counter("Fast Open cookie requests received (TCPFastOpenCookieReqd)"), 1);
    assert_eq!(lab.counter("successful inbound Fast Open attempts (TCPFastOpenPassive)"), 1);
    let status = lab.stop();
    assert!(status.success(), "ustack after SIGTERM: {status}; stderr:\n{}", lab.stderr());

    let pcap = format!("{}.pcap", lab.tmp_prefix);
    let conns = handshakes(&pcap, PORT);
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(conns.len(), 2, "two connections in {pcap}: {conns:#?}");
    let (first, second) = (&conns[0], &conns[1]);
    assert_eq!(first.syn_cookie, Some(Vec::new()), "the first SYN asks for a cookie");
    let cookie = first.synack_cookie.clone().expect("ustack's SYN-ACK brings a cookie");
    assert_eq!(first.syn_payload, 0);
    assert!(first.request_at > first.synack_at, "{first:#?}");
    assert_eq!(second.syn_cookie, Some(cookie), "the second SYN carries the cookie");
    assert_eq!(second.syn_payload, requests[1].len());
    assert_eq!(second.request_at, second.syn_at, "the request came with the SYN");
    assert_eq!(second.synack_acks, requests[1].len() as u32 + 1, "the SYN-ACK acknowledges it");
    let before = |c: &Handshake| (c.request_at - c.syn_at).as_secs_f64() * 1e3;
    lab.report(&format!(
        "request at SYN + {:.3} ms (after the SYN-ACK's round trip), then with the SYN (+ {:.3} ms)",
        before(first),
        before(second)
    ));
}

/// `ustack tun --fastopen connect --count 2` against a kernel listener with `TCP_FASTOPEN`:
/// the first connection asks for the cookie, the second sends its data in the SYN, and the
/// kernel's accepted socket says so (`TCPI_OPT_SYN_DATA`).
#[test]
fn s6_ustack_fastopen_client_sends_syn_data_to_a_kernel_listener_cookie_first() {
    const PORT: u16 = 5003;
    let Some(mut sandbox) = Netns::for_test() else { return };
    sysctl(&sandbox, "net.ipv4.tcp_fastopen", "3");
    let listener = kernel_listener(&sandbox, V4.unspecified(), PORT);
    set_int_opt(&listener, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, 16);
    let target = format!("{HOST}:{PORT}");
    let mut lab = Lab::start_in(
        sandbox.take(),
        "tfo-client",
        &["connect", "--count", "2", &target],
        Io::Piped,
        &["--fastopen"],
    );
    let request = b"a request small enough for the SYN".to_vec();
    let stdin = lab.stdin.take().expect("ustack's stdin");
    let sent = request.clone();
    let feeder = thread::spawn(move || feed(stdin, &sent));
    let stdout = lab.stdout.take().expect("ustack's stdout");
    let drain = thread::spawn(move || read_all(stdout));
    let mut syn_data = Vec::new();
    for i in 0..2 {
        let (conn, _) = accept_within(&listener, &lab);
        set_timeouts(&conn);
        syn_data.push(tcp_info_options(&conn) & TCPI_OPT_SYN_DATA != 0);
        let mut got = Vec::new();
        (&conn).read_to_end(&mut got).expect("the kernel reading the request");
        assert_eq!(got, request, "request {i}");
        (&conn).write_all(format!("reply {i}").as_bytes()).expect("the kernel replying");
    }
    feeder.join().expect("the stdin feeder");
    assert_eq!(syn_data, [false, true], "data in the SYN: the second connection only");
    assert_eq!(drain.join().expect("the stdout reader"), b"reply 0reply 1");
    let status = lab.wait_exit();
    let err = lab.stderr();
    assert!(status.success(), "ustack connect: {status}; stderr:\n{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("connection 2:")
                && l.contains("fast open: data in the SYN accepted")),
        "stderr:\n{err}"
    );
    assert!(!err.lines().any(|l| l.contains("connection 1:") && l.contains("fast open")), "{err}");
    let ext = kernel_tcp_ext(&lab.ns);
    assert_eq!(ext.get("TCPFastOpenCookieReqd"), Some(&1), "the kernel's counters: {ext:?}");
    assert_eq!(ext.get("TCPFastOpenPassive"), Some(&1), "the kernel's counters: {ext:?}");
    lab.report("cookie request, then data in the SYN, accepted by the kernel");
}

/// `--defer-accept 5`: a kernel client's connect() returns at once, but ustack keeps the
/// connection half-open (SYN-RECV, TCPDeferAcceptDrop) and accepts it only once the client
/// sends; then the echo comes back.
#[test]
fn s7_kernel_client_is_accepted_by_a_defer_accept_listener_only_once_it_sends() {
    const PORT: u16 = 7;
    let Some(lab) =
        Lab::start_with("defer", &["echo", "--port", "7"], Io::Collect, &["--defer-accept", "5"])
    else {
        return;
    };
    lab.wait_listening("t", PORT);
    let conn = in_netns(&lab.ns, || {
        let s = TcpStream::connect_timeout(&SocketAddr::from((STACK, PORT)), IO_TIMEOUT)
            .expect("connecting");
        set_timeouts(&s);
        s
    });
    let port = conn.local_addr().expect("local address").port();
    let peer = format!("{HOST}:{port}");
    lab.wait_for("the deferred final ACK", || {
        (lab.counter(
            "bare final ACKs dropped while TCP_DEFER_ACCEPT waited for data (TCPDeferAcceptDrop)",
        ) == 1)
            .then_some(())
    });
    let row = ustack_row(&lab, &peer).expect("ustack's socket for the connection");
    assert!(row.starts_with("SYN-RECV"), "not accepted before any data: {row}");
    (&conn).write_all(b"ping").expect("the kernel sending");
    let mut buf = [0u8; 4];
    (&conn).read_exact(&mut buf).expect("the echo");
    assert_eq!(&buf, b"ping");
    let row = ustack_row(&lab, &peer).expect("ustack's socket for the connection");
    assert!(row.starts_with("ESTAB"), "accepted with its data: {row}");
    lab.assert_no_errors();
    lab.report("SYN-RECV until the data came, then accepted and echoed");
}

/// 20,000 spoofed SYNs from a raw socket in the namespace (random sources in 10.200/16) at
/// ustack's `echo` with the default backlog: the SYN queue stays full and the flood is
/// answered with cookies (SyncookiesSent); a kernel client connecting during the flood gets
/// a cookie too, and its ACK opens the connection (SyncookiesRecv): the echo comes back.
#[test]
fn s8_syn_flood_from_spoofed_sources_still_lets_a_kernel_client_in_through_cookies() {
    const PORT: u16 = 80;
    const SYNS: u32 = 20_000;
    let Some(lab) = Lab::start("flood", &["echo", "--port", "80"], Io::Collect) else { return };
    lab.wait_listening("t", PORT);
    let flooder = {
        let ns = lab.ns.path();
        thread::spawn(move || {
            enter_netns(&ns).unwrap_or_else(|e| panic!("{e}"));
            spoofed_syn_flood(SocketAddr::from((STACK, PORT)), SYNS, 0xf100d)
        })
    };
    let sent = flooder.join().expect("the flood thread");
    assert_eq!(sent, SYNS, "raw sendto() calls that succeeded");
    lab.wait_for("cookies for the flood", || {
        (lab.counter("SYN cookies sent (SyncookiesSent)") > 0).then_some(())
    });
    let reply = in_netns(&lab.ns, || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((STACK, PORT)), IO_TIMEOUT)
            .expect("connecting during the flood");
        set_timeouts(&s);
        s.write_all(b"still here").expect("sending");
        let mut buf = [0u8; 10];
        s.read_exact(&mut buf).expect("the echo");
        buf
    });
    assert_eq!(&reply, b"still here");
    let cookies = lab.counter("SYN cookies sent (SyncookiesSent)");
    let recv = lab.counter("SYN cookies received (SyncookiesRecv)");
    assert!(recv >= 1, "the client came in through a cookie: {}", lab.query("stats"));
    let half_open = lab.query("ss t").lines().filter(|l| l.starts_with("SYN-RECV")).count();
    assert!(half_open <= 128, "the SYN queue is bounded by the backlog: {half_open}");
    lab.report(&format!(
        "{SYNS} spoofed SYNs, {cookies} cookies sent, {recv} received, {half_open} half-open"
    ));
}

/// `TCPI_OPT_SYN_DATA` in `tcpi_options`.
const TCPI_OPT_SYN_DATA: u8 = 32;

/// Sets an integer socket option on a kernel socket.
#[allow(unsafe_code)] // FFI for the kernel's side: socket options, MSG_FASTOPEN, raw sockets.
fn set_int_opt(
    sock: &impl std::os::fd::AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) {
    // SAFETY: a valid descriptor and a pointer to a c_int of the size given.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt({level}, {name}, {v}): {}", io::Error::last_os_error());
}

/// `tcpi_options` of a kernel socket (byte 5 of `struct tcp_info`).
#[allow(unsafe_code)] // FFI for the kernel's side: socket options, MSG_FASTOPEN, raw sockets.
fn tcp_info_options(sock: &TcpStream) -> u8 {
    use std::os::fd::AsRawFd;
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: a valid descriptor, a buffer of `len` bytes and its length.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "TCP_INFO: {}", io::Error::last_os_error());
    info[5]
}

/// Sets a sysctl in the namespace.
fn sysctl(ns: &Netns, name: &str, value: &str) {
    let out = ns.run("sysctl", &["-q", "-w", &format!("{name}={value}")]);
    assert!(out.status.success(), "sysctl {name}={value}: {}", describe(&out));
}

/// The kernel's TcpExt counters in the namespace (`/proc/net/netstat`).
fn kernel_tcp_ext(ns: &Netns) -> std::collections::HashMap<String, u64> {
    let out = ns.run("cat", &["/proc/net/netstat"]);
    assert!(out.status.success(), "cat /proc/net/netstat: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ext = text.lines().filter_map(|l| l.strip_prefix("TcpExt:"));
    let (names, values) = (ext.next().expect("TcpExt names"), ext.next().expect("TcpExt values"));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .map(|(n, v)| (n.to_string(), v.parse().unwrap_or(0)))
        .collect()
}

/// ustack's `ss t` row for the connection with peer `peer` (state first).
fn ustack_row(lab: &Lab, peer: &str) -> Option<String> {
    lab.query("ss t")
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some(peer))
        .map(str::to_string)
}

/// One request by a kernel client with `sendto(MSG_FASTOPEN)` (blocking): the request, then
/// shutdown(Write), then the reply to the end.
#[allow(unsafe_code)] // FFI for the kernel's side: socket options, MSG_FASTOPEN, raw sockets.
fn fastopen_exchange(to: SocketAddr, request: &[u8]) -> Vec<u8> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = to else { panic!("IPv4 only") };
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor this function owns from here.
    let s = unsafe { TcpStream::from_raw_fd(fd) };
    set_timeouts(&s);
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) },
        sin_zero: [0; 8],
    };
    // SAFETY: a valid descriptor, the request's bytes and a sockaddr_in of the size given.
    let n = unsafe {
        libc::sendto(
            fd,
            request.as_ptr().cast(),
            request.len(),
            libc::MSG_FASTOPEN,
            (&addr as *const libc::sockaddr_in).cast(),
            core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(n, request.len() as isize, "sendto(MSG_FASTOPEN): {}", io::Error::last_os_error());
    s.shutdown(Shutdown::Write).expect("shutdown(Write)");
    let mut reply = Vec::new();
    (&s).read_to_end(&mut reply).expect("reading the reply");
    reply
}

/// Sends `count` SYNs to `to` from a raw socket, each from a random address in 10.200/16 and
/// a random port, with a random sequence number and an MSS option; returns how many sends
/// succeeded.
#[allow(unsafe_code)] // FFI for the kernel's side: socket options, MSG_FASTOPEN, raw sockets.
fn spoofed_syn_flood(to: SocketAddr, count: u32, seed: u64) -> u32 {
    use ustack::wire::{
        IpProtocol, Ipv4Packet, Ipv4Repr, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr,
    };
    let SocketAddr::V4(dst) = to else { panic!("IPv4 only") };
    // SAFETY: plain socket creation; IPPROTO_RAW implies IP_HDRINCL.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(fd >= 0, "raw socket: {}", io::Error::last_os_error());
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(dst.ip().octets()) },
        sin_zero: [0; 8],
    };
    let mut rng = SplitMix64(seed);
    let mut sent = 0;
    let mut buf = [0u8; 64];
    for _ in 0..count {
        let r = rng.next();
        let src = Ipv4Addr::new(10, 200, (r >> 8) as u8, (r >> 16) as u8 | 1);
        let seg = TcpRepr {
            src_port: 1024 + (r >> 24) as u16 % 60_000,
            dst_port: dst.port(),
            seq: SeqNum((r >> 32) as u32),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 64_240,
            urgent: 0,
            options: TcpOptions { mss: Some(1460), ..TcpOptions::default() },
            payload: &[],
        };
        let ip = Ipv4Repr {
            src,
            dst: *dst.ip(),
            protocol: IpProtocol::TCP,
            payload_len: seg.buffer_len(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: r as u16,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let len = ip.buffer_len();
        let hdr = len - seg.buffer_len();
        seg.emit(&mut TcpPacket::new_unchecked(&mut buf[hdr..len]), src, *dst.ip());
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..len]));
        // SAFETY: a valid descriptor, `len` bytes of `buf`, a sockaddr_in of the size given.
        let n = unsafe {
            libc::sendto(
                fd,
                buf.as_ptr().cast(),
                len,
                0,
                (&addr as *const libc::sockaddr_in).cast(),
                core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if n == len as isize {
            sent += 1;
        }
    }
    // SAFETY: closing the descriptor this function opened.
    unsafe { libc::close(fd) };
    sent
}

/// One connection's handshake as ustack's capture shows it (times from the capture).
#[derive(Debug)]
struct Handshake {
    syn_at: Duration,
    syn_payload: usize,
    syn_cookie: Option<Vec<u8>>,
    synack_at: Duration,
    synack_cookie: Option<Vec<u8>>,
    /// The SYN-ACK's acknowledgment number less the SYN's sequence number.
    synack_acks: u32,
    /// When the first byte of the request reached ustack (the SYN, or a later segment).
    request_at: Duration,
}

/// The handshakes of the connections to `port` in the pcap at `path`, in order.
fn handshakes(path: &str, port: u16) -> Vec<Handshake> {
    use ustack::wire::{Ipv4Packet, Ipv4Repr, TcpFlags, TcpPacket, TcpRepr};
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut conns: Vec<(u16, Handshake)> = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.expect("a pcap record");
        let Ok(view) = Ipv4Packet::new_checked(&pkt.data[..]) else { continue };
        let Ok(ip) = Ipv4Repr::parse(&view) else { continue };
        let Ok(tv) = TcpPacket::new_checked(view.payload()) else { continue };
        let Ok(seg) = TcpRepr::parse(&tv, ip.src, ip.dst) else { continue };
        let at = pkt.timestamp;
        let cookie = seg.options.fast_open.map(|c| c.as_bytes().to_vec());
        if seg.dst_port == port {
            let client = seg.src_port;
            if seg.flags == TcpFlags::SYN {
                conns.push((
                    client,
                    Handshake {
                        syn_at: at,
                        syn_payload: seg.payload.len(),
                        syn_cookie: cookie,
                        synack_at: Duration::MAX,
                        synack_cookie: None,
                        synack_acks: seg.seq.0,
                        request_at: if seg.payload.is_empty() { Duration::MAX } else { at },
                    },
                ));
            } else if let Some((_, h)) = conns.iter_mut().rev().find(|(c, _)| *c == client)
                && !seg.payload.is_empty()
                && h.request_at == Duration::MAX
            {
                h.request_at = at;
            }
        } else if seg.src_port == port
            && seg.flags == TcpFlags::SYN | TcpFlags::ACK
            && let Some((_, h)) = conns.iter_mut().rev().find(|(c, _)| *c == seg.dst_port)
            && h.synack_at == Duration::MAX
        {
            h.synack_at = at;
            h.synack_cookie = cookie;
            h.synack_acks = seg.ack.0.wrapping_sub(h.synack_acks);
        }
    }
    conns.into_iter().map(|(_, h)| h).collect()
}
