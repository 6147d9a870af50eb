//! The stack's keyed timer queue: `poll_timeout` is the earliest deadline of all
//! connections without a scan, `handle_timeout` fires exactly the due ones, and stale entries
//! left by re-armed timers (and the queue's compaction) lose no deadline.

use std::collections::BTreeMap;

use ustack_tcp::{ConnError, Event, TcpState};
use ustack_wire::TcpFlags;

use super::*;
use crate::Duration;

/// The true earliest deadline, from the connections themselves.
fn earliest(s: &Stack, conns: &[SocketHandle]) -> Option<Instant> {
    conns.iter().filter(|h| s.contains(**h)).filter_map(|h| s.tcp_conn(*h).poll_timeout()).min()
}

#[test]
fn timer_queue_of_1000_connections_fires_the_due_ones_in_order() {
    // 1000 SYNs sent 1 ms apart, nobody answers. Connection i's SYN is retransmitted at
    // t0 + i ms + 1 s (initial RTO), then 2, 4 ... 32 s later (RFC 6298 backoff, SPEC S5), and
    // after syn_retries (6) it fails with ETIMEDOUT 127 s after its first SYN.
    let mut a = stack(A, 1);
    let t0 = Instant::from_secs(1);
    let mut conns = Vec::new();
    let mut port_of = BTreeMap::new();
    for i in 0..1000u64 {
        let now = t0 + Duration::from_millis(i);
        let c = a.tcp_connect(now, None, sa(B, 80)).unwrap();
        assert_eq!(drain(&mut a, now).len(), 1);
        port_of.insert(a.tcp_conn(c).tuple().local.port(), i);
        conns.push(c);
    }
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    assert_eq!(a.poll_timeout(), earliest(&a, &conns));

    // Half a second later exactly the first 500 are due.
    let mid = t0 + Duration::from_millis(1499) + Duration::from_micros(500);
    a.handle_timeout(mid);
    let fired: Vec<u64> =
        drain(&mut a, mid).iter().map(|x| port_of[&tcp(x).unwrap().src.port()]).collect();
    assert_eq!(fired, (0..500).collect::<Vec<_>>(), "the due ones, earliest first");
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_millis(1500)));
    assert_eq!(a.poll_timeout(), earliest(&a, &conns));
    a.handle_timeout(mid);
    assert!(drain(&mut a, mid).is_empty(), "nothing fires twice");

    // Run every timer: each connection sends 6 retransmissions and then times out.
    let mut syns = vec![1u32; 1000];
    for &i in &fired {
        syns[i as usize] += 1;
    }
    let mut closed = 0;
    let mut steps = 0;
    while let Some(t) = a.poll_timeout() {
        steps += 1;
        assert!(steps < 100_000, "timers do not run dry");
        let true_min = earliest(&a, &conns);
        assert!(true_min.is_none_or(|m| t <= m), "poll_timeout is never late");
        a.handle_timeout(t);
        for x in drain(&mut a, t) {
            let s = tcp(&x).unwrap();
            assert!(s.is(TcpFlags::SYN));
            syns[port_of[&s.src.port()] as usize] += 1;
        }
        for e in events(&mut a) {
            if e.kind == crate::SocketEventKind::Tcp(Event::Closed(Some(ConnError::TimedOut))) {
                let i = conns.iter().position(|c| *c == e.socket).unwrap();
                let expected = t0 + Duration::from_millis(i as u64) + Duration::from_secs(127);
                assert_eq!(t, expected, "connection {i} gave up 127 s after its SYN");
                closed += 1;
            }
        }
    }
    assert_eq!(closed, 1000);
    assert!(syns.iter().all(|&n| n == 7), "one SYN and six retransmissions each");
    assert!(conns.iter().all(|c| a.tcp_conn(*c).state() == TcpState::Closed));
    for c in conns {
        a.close(t0, c);
    }
    let _ = drain(&mut a, t0);
    assert_eq!(a.socket_count(), 0);
}

#[test]
fn timer_queue_keeps_idle_deadlines_through_busy_connections() {
    // Fifty idle connections with keepalive (probe after 7200 s, a deadline that never
    // moves), then a bulk transfer whose ACKs re-arm the retransmission timer over and over,
    // and 2000 small exchanges on a keepalive connection: each exchange moves that
    // connection's earliest deadline to its RTO and back to its (fixed) keepalive deadline,
    // leaving a stale copy in the queue each time. The queue must stay bounded (it is
    // compacted when stale entries dominate) and lose no live deadline: each idle connection
    // sends exactly one keepalive probe, 7200 s after keepalive was turned on.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 128, false).unwrap();
    let idle: Vec<SocketHandle> = (0..50).map(|_| p.connect_accept(l, 80).0).collect();
    let armed_at = p.now;
    for &c in &idle {
        p.a.tcp_set_keepalive(p.now, c, true);
    }
    let idle_ports: Vec<u16> = idle.iter().map(|c| p.a.tcp_conn(*c).tuple().local.port()).collect();
    let (bulk, sink) = p.connect_accept(l, 80);
    let (chatty, chatty_peer) = p.connect_accept(l, 80);
    p.a.tcp_set_keepalive(p.now, chatty, true);
    let mut all = idle.clone();
    all.extend([bulk, chatty]);
    let check = |p: &Pair| {
        let true_min = earliest(&p.a, &all);
        assert!(
            true_min.is_none_or(|m| p.a.poll_timeout().is_some_and(|t| t <= m)),
            "poll_timeout is never late"
        );
        assert!(p.a.timers.len() <= 2 * p.a.socket_count() + 1024 + 8, "{}", p.a.timers.len());
    };

    let data = vec![0x5au8; 4 << 20];
    let (mut sent, mut got) = (0, 0);
    for _ in 0..100_000 {
        if got == data.len() {
            break;
        }
        if sent < data.len() {
            sent += p.a.tcp_send(bulk, &data[sent..]).unwrap_or(0);
        }
        p.run_for(Duration::from_millis(5));
        got += p.read_all_b(sink).len();
        check(&p);
    }
    assert_eq!(got, data.len());
    assert!(p.a.tcp_conn(bulk).stats().segments_out > 2800);

    for i in 0..2000u32 {
        p.a.tcp_send(chatty, &i.to_be_bytes()).unwrap();
        p.run_for(Duration::from_millis(50));
        assert_eq!(p.read_all_b(chatty_peer), i.to_be_bytes());
        check(&p);
    }
    let busy_until = p.now;
    assert!(busy_until < armed_at + Duration::from_secs(200));

    let mark = p.log.len();
    p.run_for(Duration::from_secs(7300) - busy_until.saturating_duration_since(armed_at));
    let probes: Vec<(Instant, Seg)> = p.log[mark..]
        .iter()
        .filter(|x| x.1)
        .filter_map(|x| tcp(&x.2).map(|s| (x.0, s)))
        .filter(|(_, s)| idle_ports.contains(&s.src.port()))
        .collect();
    assert_eq!(probes.len(), 50, "one probe per idle connection");
    for (at, s) in &probes {
        assert_eq!(*at, armed_at + Duration::from_secs(7200), "{s:?}");
    }
    assert!(idle.iter().all(|c| p.a.tcp_conn(*c).state() == TcpState::Established));
}

#[test]
fn a_deadline_that_moves_later_queues_no_new_timer_entry() {
    // 100 small sends 5 ms apart on one connection (1 ms each way): each send arms or moves
    // on the retransmission timer (200 ms at least, rto_min), each ACK stops it. A deadline
    // later than the one queued, or a stopped timer, leaves the queued entry as it is (it
    // wakes the stack early once, and the connection is queued again then), so the queue
    // takes a few entries for the whole burst instead of one or more per send; and what the
    // connection has armed when an early entry comes due is queued again and fires on time.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 128, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    p.run_for(Duration::from_secs(5));
    let before = p.a.timers.len();
    let mut buf = [0u8; 16];
    for i in 0..100u32 {
        // A request, and B's answer carrying the ACK: A's retransmission timer is armed,
        // then stopped, and A's delayed ACK of the answer armed, then stopped by the next
        // request, which arms the retransmission timer again.
        p.a.tcp_send(c, &i.to_be_bytes()).unwrap();
        p.run_for(Duration::from_millis(2));
        assert_eq!(p.read_all_b(s), i.to_be_bytes());
        p.b.tcp_send(s, b"!").unwrap();
        p.run_for(Duration::from_millis(3));
        assert_eq!(p.a.tcp_recv(c, &mut buf), Ok(1));
    }
    let pushed = p.a.timers.len() - before;
    assert!(pushed <= 20, "{pushed} entries queued for 100 exchanges");
    // Every early entry wakes the stack, finds nothing armed and leaves nothing behind.
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.a.tcp_conn(c).poll_timeout(), None, "every byte acknowledged");
    assert_eq!(p.a.tcp_mut(c).timer_at, None, "no live entry left");
    // Keepalive armed while a send's retransmission timer is queued: the connection's
    // deadline moves later when the ACK stops the retransmission timer, and it is queued
    // again for it when the old entry comes due.
    p.a.tcp_send(c, b"x").unwrap();
    p.a.tcp_set_keepalive(p.now, c, true);
    p.run_for(Duration::from_millis(50));
    assert_eq!(p.read_all_b(s), b"x");
    p.run_for(Duration::from_secs(2));
    let keepalive_at = p.a.tcp_conn(c).poll_timeout().expect("keepalive armed");
    assert!(keepalive_at > p.now + Duration::from_secs(7000));
    assert_eq!(p.a.tcp_mut(c).timer_at, Some(keepalive_at), "queued again for its deadline");
    let mark = p.log.len();
    p.run_for(Duration::from_secs(7200));
    // (The keepalive timer, when it fires, counts the idle time from the last segment
    // received, B's delayed ACK of "x" 42 ms later, and waits out the rest.)
    let probe = p.log[mark..].iter().find(|x| x.1).expect("a keepalive probe");
    let late = probe.0.saturating_duration_since(keepalive_at);
    assert!(probe.0 >= keepalive_at && late <= Duration::from_millis(50), "{late:?} late");
}

#[test]
fn a_connect_queues_one_timer_entry_once_its_syn_is_sent() {
    // A connection's timer is filed after its input has been sent: the SYN's retransmission
    // timer (1 s), not first the handshake's 127 s deadline that the SYN at once puts behind
    // it, which would sit in the queue as a stale entry for two minutes.
    let mut a = stack(A, 1);
    let t0 = Instant::from_secs(1);
    let c = a.tcp_connect(t0, None, sa(B, 80)).unwrap();
    assert_eq!(drain(&mut a, t0).len(), 1, "the SYN");
    assert_eq!(a.tcp_conn(c).poll_timeout(), Some(t0 + Duration::from_secs(1)));
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    assert_eq!(a.timers.len(), 1);
}

#[test]
fn poll_timeout_before_the_output_is_sent_is_not_later_than_a_connection_needs() {
    // A connection's deadline is filed when `poll_transmit` has sent what its input let out;
    // a caller that asks `poll_timeout` in between (after an input, before sending) must
    // still not be told a time later than the connection needs (here the handshake's
    // deadline, armed by the connect before its SYN goes out).
    let mut a = stack(A, 1);
    let t0 = Instant::from_secs(1);
    let c = a.tcp_connect(t0, None, sa(B, 80)).unwrap();
    let needs = a.tcp_conn(c).poll_timeout().expect("a connecting socket has a deadline");
    assert!(a.poll_timeout().is_some_and(|at| at <= needs), "{:?} > {needs:?}", a.poll_timeout());
    assert_eq!(a.timers.len(), 0, "nothing filed before the SYN is sent");
    assert_eq!(drain(&mut a, t0).len(), 1, "the SYN");
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(1)));
}

#[test]
fn handle_timeout_fires_a_due_deadline_of_a_connection_whose_output_was_not_sent_yet() {
    // The same gap from the other side: `handle_timeout` past the deadline of a connection
    // still waiting for `poll_transmit` fires it, and leaves no deadline in the past behind.
    let mut a = stack(A, 1);
    let t0 = Instant::from_secs(1);
    let c = a.tcp_connect(t0, None, sa(B, 80)).unwrap();
    let needs = a.tcp_conn(c).poll_timeout().expect("a connecting socket has a deadline");
    a.handle_timeout(needs);
    let next = a.poll_timeout();
    assert!(next.is_none_or(|at| at > needs), "{next:?} is not after {needs:?}");
}
