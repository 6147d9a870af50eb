//! `ustack tun --offload` and `--queues N` against the Linux kernel: concurrent kernel echo
//! connections, checked byte for byte, over a TUN with the kernel's offloads, on one queue
//! and on two queues with a stack each.
//!
//! **Layout.** Each run makes its own namespace (`uso-<pid>-<n>`) and runs `ip netns exec
//! NS ustack tun --dev uo<pid>x<n> --addr 10.81.0.2/24 --host-addr 10.81.0.1/24 --offload
//! [--queues 2] echo --port 7` in it (no `--control`: with several queues each stack is its
//! own, so the test waits for the service by connecting). Kernel sockets are made on a
//! thread that entered the namespace ([`in_netns`]).
//!
//! **Waiting.** Polled, never slept on; every wait and socket operation is bounded.
//!
//! **Preconditions.** Root and `ip`. Without them the test prints why and returns, unless the
//! environment variable `CI` is set and non-empty: then it fails.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod support;
use support::env::*;
use support::tunlab::*;

const STACK: Ipv4Addr = Ipv4Addr::new(10, 81, 0, 2);

const ADDRS: Addrs = Addrs {
    dev_prefix: "uo",
    netns_prefix: "uso-",
    tun_args: &["--addr", "10.81.0.2/24", "--host-addr", "10.81.0.1/24"],
    any: "0.0.0.0",
};

/// 32 concurrent kernel connections to `echo`, 1 MiB each way per connection, through a TUN
/// with the kernel's offloads; once on one queue, once on two queues with a stack each. Every
/// byte comes back in order, the kernel counts no reset and no bad segment, and ustack says
/// what it set up and stops cleanly on SIGTERM.
#[test]
fn echo_over_tun_offloads_on_one_and_two_queues() {
    for extra in [&["--offload"][..], &["--offload", "--queues", "2"]] {
        let Some(ns) = Netns::for_test() else { return };
        echo_run(ns, extra);
    }
}

fn echo_run(ns: Netns, extra: &[&str]) {
    const CONNS: usize = 32;
    const LEN: usize = 1 << 20;
    let started = Instant::now();
    let dev = format!("{}{}x{}", ADDRS.dev_prefix, std::process::id(), ns.n);
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_ustack"), "tun", "--dev", &dev])
        .args(ADDRS.tun_args)
        .args(extra)
        .args(["echo", "--port", "7"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting ustack: {e}"));
    let err = Arc::new(Mutex::new(Vec::new()));
    collect(child.stderr.take().expect("piped stderr"), Arc::clone(&err));
    let stderr = || String::from_utf8_lossy(&err.lock().expect("stderr")).into_owned();

    // The service is up once ustack says so and a kernel connection gets through (a SYN in
    // the moment before the service listens is refused: try again; the kernel's counters
    // are compared from here on).
    wait_until("ustack's up line", || stderr().contains(" up, ").then_some(()));
    in_netns(&ns, || {
        wait_until("ustack's echo service", || {
            TcpStream::connect_timeout(&SocketAddr::from((STACK, 7)), Duration::from_secs(1)).ok()
        })
    });
    let before = kernel_tcp(&ns);
    let up = stderr();
    assert!(up.contains("offloads on"), "ustack says the offloads are on:\n{up}");
    if extra.contains(&"--queues") {
        assert!(up.contains("2 queues and stacks"), "ustack says it runs two shards:\n{up}");
    }

    let mut rng = SplitMix64(0x0ff1_0ad5);
    let payloads: Vec<Arc<Vec<u8>>> = (0..CONNS).map(|_| Arc::new(rng.bytes(LEN))).collect();
    let results = in_netns(&ns, move || {
        let threads: Vec<_> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                thread::spawn(move || {
                    echo_once(SocketAddr::from((STACK, 7)), &p)
                        .map_err(|e| format!("conn {i}: {e}"))
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("an echo thread panicked")).collect::<Vec<_>>()
    });
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{extra:?}: {failed:#?}\nustack stderr:\n{}", stderr());
    let after = kernel_tcp(&ns);
    for name in ["EstabResets", "InErrs", "OutRsts", "InCsumErrors"] {
        let (b, a) = (before.get(name), after.get(name));
        assert_eq!(a, b, "{extra:?}: the kernel's Tcp {name} moved");
    }

    let pid = child.id().to_string();
    let out = Command::new("kill").args(["-TERM", &pid]).output().expect("running kill");
    assert!(out.status.success(), "kill -TERM {pid}: {}", describe(&out));
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for ustack") {
            break status;
        }
        assert!(Instant::now() < deadline, "ustack did not exit:\n{}", stderr());
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{extra:?}: ustack exited with {status}:\n{}", stderr());
    println!(
        "{extra:?}: {CONNS} echo connections of {LEN} bytes each way in {:?}",
        started.elapsed()
    );
}

/// The kernel's Tcp counters in `ns` (`/proc/net/snmp`), by name.
fn kernel_tcp(ns: &Netns) -> std::collections::HashMap<String, u64> {
    let out = ns.run("cat", &["/proc/net/snmp"]);
    assert!(out.status.success(), "cat /proc/net/snmp: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tcp = text.lines().filter_map(|l| l.strip_prefix("Tcp:"));
    let (names, values) = (tcp.next().expect("Tcp names"), tcp.next().expect("Tcp values"));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .map(|(n, v)| (n.to_string(), v.parse().unwrap_or(0)))
        .collect()
}
