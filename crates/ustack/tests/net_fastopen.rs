//! SPEC S6 and S7 through the blocking and tokio APIs: two NetStacks on an in-memory link,
//! real threads and the real clock. Connect-with-data asks for a Fast Open cookie the first
//! time and carries its data in the SYN the next; a listener with TCP_DEFER_ACCEPT hands out
//! a connection only once its data has come.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown};
use std::thread;
use std::time::Duration;

use ustack::core::Ipv4Cidr;
use ustack::device::MemoryLink;
use ustack::{NetConfig, NetStack, TcpListener, TcpStream};

const A: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 2);

/// Two stacks with Fast Open on both sides (`tcp_fastopen` 0x3).
fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryLink::pair(1500, 4096);
    let cfg = |addr| {
        let mut c = NetConfig::new(Ipv4Cidr::new(addr, 24).unwrap());
        c.stack.tcp_fastopen = 0x3;
        c
    };
    (NetStack::spawn(da, cfg(A)).unwrap(), NetStack::spawn(db, cfg(B)).unwrap())
}

/// An echo server on B:7 with a Fast Open queue, for `n` connections.
fn echo_server(b: &NetStack, n: usize) -> thread::JoinHandle<()> {
    let listener = TcpListener::bind(b, (B, 7)).unwrap();
    listener.set_fastopen(16).unwrap();
    thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            loop {
                let k = s.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                s.write_all(&buf[..k]).unwrap();
            }
            s.shutdown(Shutdown::Write).unwrap();
        }
    })
}

#[test]
fn s6_connect_with_data_gets_a_cookie_then_sends_its_data_in_the_syn() {
    let (a, b) = pair();
    let server = echo_server(&b, 2);
    for (round, in_syn) in [(1, false), (2, true)] {
        let request = format!("request {round}");
        let mut c = TcpStream::connect_with_data(&a, (B, 7), request.as_bytes()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        assert_eq!(c.fast_open_accepted().unwrap(), in_syn, "round {round}");
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, request);
    }
    server.join().unwrap();
    let (ca, cb) = (a.counters(), b.counters());
    assert_eq!((ca.tcp_fastopen_active, cb.tcp_fastopen_passive), (1, 1));
    assert_eq!(cb.tcp_fastopen_cookie_reqd, 1);
    a.stop().unwrap();
    b.stop().unwrap();
}

#[cfg(feature = "tokio")]
#[test]
fn s6_tokio_connect_with_data_uses_the_cookie_the_blocking_api_learned() {
    // The cookie cache belongs to the stack: learned through one API, used by the other.
    let (a, b) = pair();
    let server = echo_server(&b, 2);
    let mut first = TcpStream::connect_with_data(&a, (B, 7), b"one").unwrap();
    first.shutdown(Shutdown::Write).unwrap();
    let mut echo = Vec::new();
    first.read_to_end(&mut echo).unwrap();
    assert_eq!(echo, b"one");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (accepted, echo) = rt.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut s = ustack::tokio::TcpStream::connect_with_data(&a, (B, 7), b"two").await.unwrap();
        let accepted = s.fast_open_accepted().unwrap();
        s.shutdown_std(Shutdown::Write).unwrap();
        let mut echo = Vec::new();
        s.read_to_end(&mut echo).await.unwrap();
        (accepted, echo)
    });
    assert!(accepted);
    assert_eq!(echo, b"two");
    server.join().unwrap();
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn s7_defer_accept_hands_out_the_connection_with_its_data() {
    // The client is connected at once; the server's accept() returns only once the request
    // has arrived, and it is there to read.
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (B, 8)).unwrap();
    listener.set_defer_accept(Duration::from_secs(30)).unwrap();
    let c = TcpStream::connect(&a, (B, 8)).unwrap();
    let accepted = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    // The client's final ACK reaches B and is held back (TCPDeferAcceptDrop).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.counters().tcp_defer_accept_drop == 0 {
        assert!(std::time::Instant::now() < deadline, "the final ACK never reached B");
        thread::yield_now();
    }
    assert_eq!(b.netstat().count(ustack::core::tcp_engine::TcpState::SynReceived), 1);
    assert!(!accepted.is_finished(), "accept() returned before any data came");
    (&c).write_all(b"GET /").unwrap();
    assert_eq!(accepted.join().unwrap(), b"GET /");
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn s6_tcp_socket_builder_sets_fast_open_on_both_sides() {
    // The listener's Fast Open queue and the client's connect-with-data come from TcpSocket;
    // the client's other options (a bound port) still apply to the Fast Open connection.
    let (a, b) = pair();
    let ls = ustack::TcpSocket::new_v4(&b).unwrap();
    ls.bind((B, 9).into()).unwrap();
    ls.set_fastopen(4).unwrap();
    let listener = ls.listen(8).unwrap();
    let server = thread::spawn(move || {
        let mut firsts = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            firsts.push((s.fast_open_accepted().unwrap(), got));
        }
        firsts
    });
    for (round, port) in [(1u8, 40_001u16), (2, 40_002)] {
        let cs = ustack::TcpSocket::new_v4(&a).unwrap();
        cs.bind((A, port).into()).unwrap();
        let mut c = cs.connect_with_data((B, 9).into(), &[round; 100]).unwrap();
        assert_eq!(c.local_addr().unwrap(), (A, port).into());
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c.read_to_end(&mut rest).unwrap();
    }
    let firsts = server.join().unwrap();
    assert_eq!(firsts, vec![(false, vec![1; 100]), (true, vec![2; 100])]);
    assert_eq!(b.counters().tcp_fastopen_passive, 1);
    a.stop().unwrap();
    b.stop().unwrap();
}
