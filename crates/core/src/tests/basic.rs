//! A connection through two stacks: listen, connect, accept, data, close.

use ustack_tcp::TcpState;

use super::*;
use crate::{Duration, SocketEventKind};

#[test]
fn s3_s9_connect_accept_transfer_and_close_through_two_stacks() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 7), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B, 7)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    assert!(p.events_b.iter().any(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady));
    let s = p.b.tcp_accept(l).expect("a connection to accept");
    assert_eq!(p.b.tcp_accept(l), None);
    assert_eq!(p.b.tcp_conn(s).tuple().remote, p.a.tcp_conn(c).tuple().local);

    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    while got.len() < data.len() {
        if sent < data.len() {
            sent += p.a.tcp_send(c, &data[sent..]).unwrap_or(0);
        }
        p.run_for(Duration::from_millis(50));
        while let Ok(n) = p.b.tcp_recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(got, data);

    // The client closes first: it holds TIME-WAIT (S26), the server goes through
    // CLOSE-WAIT and LAST-ACK.
    p.a.close(p.now, c);
    p.settle();
    assert_eq!(p.b.tcp_conn(s).state(), TcpState::CloseWait);
    assert_eq!(p.b.netstat(p.now).count(TcpState::CloseWait), 1);
    p.b.close(p.now, s);
    p.settle();
    let ns = p.a.netstat(p.now);
    assert_eq!(ns.count(TcpState::TimeWait), 1, "{ns}");
    assert_eq!(p.b.socket_count(), 1, "only the listener is left on the server");
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.socket_count(), 0, "TIME-WAIT ended after 2 MSL");
}

/// S13/S26: the server closed first and holds TIME-WAIT; the same client port connects again
/// within 2 MSL with a higher sequence number and gets a new connection (RFC 6191, Linux
/// `tcp_timewait_state_process`), instead of a re-ACK of the old one.
#[test]
fn s13_new_syn_above_the_old_sequence_space_reopens_time_wait() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(B, 80), 16, false).unwrap();
    let client = sa(A, 40000);
    let c = p.a.tcp_connect(p.now, Some(client), sa(B, 80)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    p.b.close(p.now, s); // the server closes first
    p.settle();
    p.a.close(p.now, c);
    p.settle();
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 1);
    assert_eq!(p.a.socket_count(), 0, "the client went LAST-ACK -> CLOSED");

    p.run_for(Duration::from_secs(1));
    let c2 = p.a.tcp_connect(p.now, Some(client), sa(B, 80)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c2).state(), TcpState::Established);
    let s2 = p.b.tcp_accept(l).expect("the reopened connection is accepted");
    assert_eq!(p.b.tcp_conn(s2).tuple().remote, client);
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 0);
}
