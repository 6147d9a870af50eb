//! Sockets outliving their stack's shutdown, in both APIs: two NetStacks joined by an
//! in-memory link, real threads and the real clock.
//!
//! What is expected is what a kernel socket does once its descriptor is gone: every call
//! fails, a call that was blocked returns with an error, nothing crashes the process. ustack
//! says `NotConnected` ("the stack was shut down") for all of them. Every wait is bounded: a
//! call that does not come back in [`BOUND`] fails the test instead of hanging it.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ustack::core::Ipv4Cidr;
use ustack::device::MemoryLink;
use ustack::{NetConfig, NetStack, TcpListener, TcpStream, UdpSocket};

const A: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 2);
/// In A's prefix, routed onto the link, owned by nobody: a SYN to it is never answered.
const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 99);
/// Bound on every wait of these tests.
const BOUND: Duration = Duration::from_secs(10);

fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let a = NetStack::spawn(da, NetConfig::new(Ipv4Cidr::new(A, 24).unwrap())).unwrap();
    let b = NetStack::spawn(db, NetConfig::new(Ipv4Cidr::new(B, 24).unwrap())).unwrap();
    (a, b)
}

fn assert_not_connected<T: std::fmt::Debug>(what: &str, r: io::Result<T>) {
    match r {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{what}: {e}"),
        Ok(v) => panic!("{what} after shutdown: Ok({v:?}), expected NotConnected"),
    }
}

/// An established connection A -> B: (A's end, B's end).
fn connection(a: &NetStack, b: &NetStack, port: u16) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, (B, port)).unwrap();
    let c = TcpStream::connect(a, (B, port)).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Runs each call on a thread of its own and sends its outcome as text ("Ok" or the error's
/// kind) with its name; a panic is reported as such.
fn spawn_call(
    done: &mpsc::Sender<(&'static str, String)>,
    name: &'static str,
    call: impl FnOnce() -> io::Result<()> + Send + 'static,
) {
    let done = done.clone();
    thread::spawn(move || {
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
            Ok(Ok(())) => "Ok".to_string(),
            Ok(Err(e)) => format!("{:?}: {e}", e.kind()),
            Err(_) => "panicked".to_string(),
        };
        let _ = done.send((name, outcome));
    });
}

/// Waits until `progress` has not moved for 200 ms: the writer is blocked on a full send
/// buffer.
fn wait_until_stalled(progress: &AtomicU64) {
    let deadline = Instant::now() + BOUND;
    let mut last = progress.load(Ordering::SeqCst);
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_millis(200) {
        assert!(Instant::now() < deadline, "the writer never filled its send buffer");
        thread::sleep(Duration::from_millis(10));
        let now = progress.load(Ordering::SeqCst);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
}

/// Accept on an empty queue, read with nothing to read, write into a full send buffer,
/// receive on a quiet UDP socket and connect to an address that never answers all block;
/// shutting the stack down (with a grace period, when the driver still runs) wakes each of
/// them with `NotConnected`, and none touches a handle the stack released.
#[test]
fn calls_blocked_at_shutdown_wake_and_fail_not_connected() {
    let (a, b) = pair();
    let (done, outcomes) = mpsc::channel();

    let listener = TcpListener::bind(&a, (A, 7)).unwrap();
    spawn_call(&done, "accept", move || listener.accept().map(drop));

    let (reader, _reader_peer) = connection(&a, &b, 8);
    spawn_call(&done, "read", move || (&reader).read(&mut [0u8; 64]).map(drop));

    // B never reads: A's writes fill B's window, then A's send buffer.
    let (writer, _writer_peer) = connection(&a, &b, 9);
    let written = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&written);
    spawn_call(&done, "write", move || {
        let chunk = vec![7u8; 16 * 1024];
        loop {
            let n = (&writer).write(&chunk)?;
            progress.fetch_add(n as u64, Ordering::SeqCst);
        }
    });

    let udp = UdpSocket::bind(&a, (A, 53)).unwrap();
    spawn_call(&done, "recv_from", move || udp.recv_from(&mut [0u8; 64]).map(drop));

    let net = a.clone();
    spawn_call(&done, "connect", move || TcpStream::connect(&net, (NOBODY, 80)).map(drop));

    wait_until_stalled(&written);
    // The other calls were started before the writer stalled; give their threads a moment
    // to reach their wait (a call that has not yet would fail the same way, untested).
    thread::sleep(Duration::from_millis(50));

    let unfinished = a.shutdown(Duration::from_millis(300)).unwrap();
    assert!(unfinished > 0, "the stalled connections could not finish their FIN exchange");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (name, outcome) = outcomes
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("still blocked after shutdown; returned: {seen:?}"));
        assert!(
            outcome.starts_with("NotConnected"),
            "{name} returned {outcome}, expected NotConnected"
        );
        seen.push(name);
    }
    b.stop().unwrap();
}

/// After shutdown every call on a listener, a connection and a UDP socket fails with
/// `NotConnected`, as does opening a new socket; dropping them afterwards is quiet.
#[test]
fn every_socket_call_after_shutdown_fails_not_connected() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, (A, 7)).unwrap();
    let (_peer, mut stream) = {
        let c = TcpStream::connect(&b, (A, 7)).unwrap();
        let (s, _) = listener.accept().unwrap();
        (c, s)
    };
    let udp = UdpSocket::bind(&a, (A, 53)).unwrap();
    udp.connect((B, 53)).unwrap();

    assert_eq!(a.shutdown(Duration::ZERO).unwrap(), 1, "the connection could not finish");

    assert_not_connected("accept", listener.accept());
    assert_not_connected("listener local_addr", listener.local_addr());
    assert_not_connected("incoming", listener.incoming().next().unwrap());

    assert_not_connected("read", stream.read(&mut [0u8; 16]));
    assert_not_connected("read of 0 bytes", stream.read(&mut []));
    assert_not_connected("write", stream.write(b"late"));
    assert_not_connected("write of 0 bytes", stream.write(b""));
    assert_not_connected("flush", stream.flush());
    assert_not_connected("peer_addr", stream.peer_addr());
    assert_not_connected("local_addr", stream.local_addr());
    assert_not_connected("shutdown(Write)", stream.shutdown(std::net::Shutdown::Write));
    assert_not_connected("shutdown(Read)", stream.shutdown(std::net::Shutdown::Read));
    assert_not_connected("set_nodelay", stream.set_nodelay(true));
    assert_not_connected("nodelay", stream.nodelay());
    assert_not_connected("set_read_timeout", stream.set_read_timeout(None));
    assert_not_connected("read_timeout", stream.read_timeout());
    assert_not_connected("set_write_timeout", stream.set_write_timeout(None));
    assert_not_connected("write_timeout", stream.write_timeout());

    assert_not_connected("send", udp.send(b"late"));
    assert_not_connected("send_to", udp.send_to(b"late", (B, 53)));
    assert_not_connected("recv", udp.recv(&mut [0u8; 16]));
    assert_not_connected("recv_from", udp.recv_from(&mut [0u8; 16]));
    assert_not_connected("udp connect", udp.connect((B, 54)));
    assert_not_connected("udp disconnect", udp.disconnect());
    assert_not_connected("udp local_addr", udp.local_addr());
    assert_not_connected("udp peer_addr", udp.peer_addr());
    assert_not_connected("udp drops", udp.drops());
    assert_not_connected("udp set_read_timeout", udp.set_read_timeout(None));

    assert_not_connected("bind", TcpListener::bind(&a, (A, 8)));
    assert_not_connected("connect", TcpStream::connect(&a, (B, 7)));
    assert_not_connected(
        "connect_timeout",
        TcpStream::connect_timeout(&a, &SocketAddr::from((B, 7)), Duration::from_secs(1)),
    );
    assert_not_connected("udp bind", UdpSocket::bind(&a, (A, 54)));
    drop((listener, stream, udp));
    b.stop().unwrap();
}

/// Sockets whose handles were closed behind their backs (through `with_stack`; a listener
/// and a UDP socket are freed at once) fail their calls with `NotConnected` instead of
/// reaching the released handles.
#[test]
fn calls_on_a_handle_closed_through_with_stack_fail_not_connected() {
    let (a, b) = pair();
    let l = TcpListener::bind(&a, (A, 7)).unwrap();
    let u = UdpSocket::bind(&a, (A, 53)).unwrap();
    let handles: Vec<_> = a.netstat().sockets.iter().map(|s| s.handle).collect();
    assert_eq!(handles.len(), 2);
    a.with_stack(|stack, now| handles.iter().for_each(|&h| stack.close(now, h)));
    assert_not_connected("accept", l.accept());
    assert_not_connected("listener local_addr", l.local_addr());
    assert_not_connected("recv_from", u.recv_from(&mut [0u8; 16]));
    assert_not_connected("send_to", u.send_to(b"x", (B, 9)));
    assert_not_connected("udp local_addr", u.local_addr());
    assert_not_connected("udp peer_addr", u.peer_addr());
    drop((l, u));
    a.stop().unwrap();
    b.stop().unwrap();
}

/// With the last NetStack clone and the last socket dropped, the driver ends and drops the
/// device (the link's other end sees it go), as `NetStack`'s docs promise.
#[test]
fn dropping_the_last_handle_and_socket_stops_the_driver() {
    let (da, db) = MemoryLink::pair(1500, 64);
    let a = NetStack::spawn(da, NetConfig::new(Ipv4Cidr::new(A, 24).unwrap())).unwrap();
    let sock = UdpSocket::bind(&a, (A, 53)).unwrap();
    drop(a);
    thread::sleep(Duration::from_millis(50));
    assert!(db.peer_connected(), "a socket still holds the stack: the driver runs on");
    drop(sock);
    let deadline = Instant::now() + BOUND;
    while db.peer_connected() {
        assert!(Instant::now() < deadline, "the driver still holds the device");
        thread::sleep(Duration::from_millis(5));
    }
}

/// 5,000 back-to-back datagrams, far more than the stack's transmit queue holds: each
/// blocking send waits for room and succeeds, as a kernel UDP send blocks on a full send
/// buffer.
#[test]
fn blocking_udp_sends_wait_for_room() {
    const N: u64 = 5_000;
    let (a, b) = pair();
    let _sink = UdpSocket::bind(&b, (B, 9)).unwrap();
    let sock = UdpSocket::bind(&a, (A, 0)).unwrap();
    let payload = [0x5au8; 1000];
    for i in 0..N {
        if let Err(e) = sock.send_to(&payload, (B, 9)) {
            panic!("send {i} of {N}: {e}");
        }
    }
    assert_eq!(a.counters().udp_out_datagrams, N);
    a.stop().unwrap();
    b.stop().unwrap();
}

#[cfg(feature = "tokio")]
mod tokio_api {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ustack::tokio::{TcpListener, TcpStream, UdpSocket};

    fn assert_not_connected<T: std::fmt::Debug>(what: &str, r: io::Result<T>) {
        super::assert_not_connected(what, r);
    }

    /// Shuts `net` down from a thread of its own (it blocks for the grace period) and
    /// returns the number of unfinished connections.
    async fn shutdown(net: &NetStack, grace: Duration) -> usize {
        let net = net.clone();
        tokio::task::spawn_blocking(move || net.shutdown(grace).unwrap()).await.unwrap()
    }

    /// 5,000 back-to-back async sends: each waits for room in the transmit queue and
    /// succeeds, as tokio's `UdpSocket::send_to` waits for the socket to be writable.
    #[tokio::test(flavor = "current_thread")]
    async fn async_udp_sends_wait_for_room_instead_of_failing() {
        const N: u64 = 5_000;
        let (a, b) = pair();
        // A receiver, so that no ICMP port unreachable comes back; it reads nothing.
        let _sink = UdpSocket::bind(&b, (B, 9)).unwrap();
        let to = UdpSocket::bind(&a, (A, 0)).unwrap();
        let connected = UdpSocket::bind(&a, (A, 0)).unwrap();
        connected.connect((B, 9)).unwrap();
        let payload = [0xa5u8; 1000];
        let mut failed = Vec::new();
        for i in 0..N {
            let r = if i % 2 == 0 {
                to.send_to(&payload, (B, 9)).await
            } else {
                connected.send(&payload).await
            };
            if let Err(e) = r {
                failed.push((i, e.kind()));
            }
        }
        assert!(
            failed.is_empty(),
            "{} of {N} sends failed, the first: {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
        assert_eq!(a.counters().udp_out_datagrams, N);
        a.stop().unwrap();
        b.stop().unwrap();
    }

    /// Tasks waiting in accept, read, receive and connect when the stack shuts down are
    /// woken and fail with `NotConnected`; none touches a released handle.
    #[tokio::test(flavor = "current_thread")]
    async fn async_calls_waiting_at_shutdown_wake_and_fail_not_connected() {
        let (a, b) = pair();
        let listener = TcpListener::bind(&a, (A, 7)).unwrap();
        let accept = tokio::spawn(async move { listener.accept().await.map(drop) });

        let l = TcpListener::bind(&b, (B, 8)).unwrap();
        let mut reader = TcpStream::connect(&a, (B, 8)).await.unwrap();
        let _peer = l.accept().await.unwrap();
        let read = tokio::spawn(async move { reader.read(&mut [0u8; 64]).await.map(drop) });

        let udp = UdpSocket::bind(&a, (A, 53)).unwrap();
        let recv = tokio::spawn(async move { udp.recv_from(&mut [0u8; 64]).await.map(drop) });

        let net = a.clone();
        let connect =
            tokio::spawn(async move { TcpStream::connect(&net, (NOBODY, 80)).await.map(drop) });

        // Let every task run to its first wait.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        for t in [&accept, &read, &recv, &connect] {
            assert!(!t.is_finished(), "a task finished before the shutdown");
        }
        assert_eq!(shutdown(&a, Duration::from_millis(300)).await, 1);
        for (name, task) in
            [("accept", accept), ("read", read), ("recv", recv), ("connect", connect)]
        {
            let r = tokio::time::timeout(BOUND, task)
                .await
                .unwrap_or_else(|_| panic!("{name} still waiting after shutdown"))
                .unwrap_or_else(|e| panic!("{name}: the task failed: {e}"));
            assert_not_connected(name, r);
        }
        b.stop().unwrap();
    }

    /// After shutdown every async call fails with `NotConnected`.
    #[tokio::test(flavor = "current_thread")]
    async fn every_async_call_after_shutdown_fails_not_connected() {
        let (a, b) = pair();
        let listener = TcpListener::bind(&a, (A, 7)).unwrap();
        let peer = ustack::TcpStream::connect(&b, (A, 7)).unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let udp = UdpSocket::bind(&a, (A, 53)).unwrap();

        assert_eq!(shutdown(&a, Duration::ZERO).await, 1);

        assert_not_connected("accept", listener.accept().await);
        assert_not_connected("listener local_addr", listener.local_addr());
        assert_not_connected("read", stream.read(&mut [0u8; 16]).await);
        assert_not_connected("write", stream.write(b"late").await);
        assert_not_connected("flush", stream.flush().await);
        assert_not_connected("shutdown", stream.shutdown().await);
        assert_not_connected("shutdown_std", stream.shutdown_std(std::net::Shutdown::Read));
        assert_not_connected("peer_addr", stream.peer_addr());
        assert_not_connected("local_addr", stream.local_addr());
        assert_not_connected("set_nodelay", stream.set_nodelay(true));
        assert_not_connected("udp send_to", udp.send_to(b"late", (B, 53)).await);
        assert_not_connected("udp connect", udp.connect((B, 53)));
        assert_not_connected("udp send", udp.send(b"late").await);
        assert_not_connected("udp recv_from", udp.recv_from(&mut [0u8; 16]).await);
        assert_not_connected("udp local_addr", udp.local_addr());
        assert_not_connected("bind", TcpListener::bind(&a, (A, 8)));
        assert_not_connected("connect", TcpStream::connect(&a, (B, 7)).await);
        assert_not_connected("udp bind", UdpSocket::bind(&a, (A, 54)));
        drop(peer);
        b.stop().unwrap();
    }
}
