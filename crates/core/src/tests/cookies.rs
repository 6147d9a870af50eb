//! SPEC S8: SYN cookies in the host (Linux `tcp_conn_request`, `cookie_v4_check`), with the
//! counters Linux keeps for them.

use ustack_tcp::{Event, TcpState};
use ustack_wire::{TcpFlags, TcpOptions, Timestamps};

use super::*;
use crate::{Duration, SocketEventKind};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

fn server(cfg: StackConfig, backlog: u32) -> (Stack, SocketHandle, Instant) {
    let mut b = stack_with(B, cfg);
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), backlog, false).unwrap();
    (b, l, Instant::from_secs(1000))
}

/// A SYN from CLIENT:`port` with Linux's options (MSS 1460, SACK-permitted, timestamps,
/// window scale 7) and its answer.
fn syn(b: &mut Stack, now: Instant, port: u16, seq: u32) -> Vec<Seg> {
    let opts = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        timestamps: Some(Timestamps { tsval: 5000, tsecr: 0 }),
        window_scale: Some(7),
        ..TcpOptions::default()
    };
    let pkt =
        tcp_packet_opts(sa(CLIENT, port), sa(B, 80), seq, 0, TcpFlags::SYN, 64_240, opts, &[]);
    b.handle_packet(now, 0, &pkt);
    drain(b, now).iter().filter_map(|p| tcp(p)).collect()
}

/// The final ACK answering `synack`, echoing its timestamp, with `data`.
fn ack(b: &mut Stack, now: Instant, synack: &Seg, ack_no: u32, data: &[u8]) -> Vec<Seg> {
    let tsecr = synack.options.timestamps.map_or(0, |t| t.tsval);
    let opts =
        TcpOptions { timestamps: Some(Timestamps { tsval: 5010, tsecr }), ..TcpOptions::default() };
    let flags = if data.is_empty() { TcpFlags::ACK } else { TcpFlags::ACK | TcpFlags::PSH };
    let pkt = tcp_packet_opts(synack.dst, synack.src, synack.ack, ack_no, flags, 502, opts, data);
    b.handle_packet(now, 0, &pkt);
    drain(b, now).iter().filter_map(|p| tcp(p)).collect()
}

#[test]
fn s8_syn_queue_overflow_is_answered_with_a_cookie_that_opens_the_connection() {
    // Linux with tcp_syncookies = 1: once the SYN queue holds the backlog, a SYN is
    // answered with a cookie SYN-ACK and no state (TCPReqQFullDoCookies, SyncookiesSent);
    // the final ACK carrying the cookie creates the connection straight into the accept
    // queue (SyncookiesRecv), with the options the timestamp carried and the data the ACK
    // carried.
    let (mut b, l, now) = server(config(2), 2);
    for port in [1001, 1002] {
        assert_eq!(syn(&mut b, now, port, 100).len(), 1);
    }
    assert_eq!(b.socket_count(), 3);
    let out = syn(&mut b, now, 1003, 7000);
    assert_eq!(out.len(), 1, "a cookie SYN-ACK");
    let synack = &out[0];
    assert!(synack.is(TcpFlags::SYN | TcpFlags::ACK) && synack.ack == 7001);
    assert_eq!(synack.options.mss, Some(1460));
    assert_eq!(synack.options.window_scale, Some(7));
    assert!(synack.options.sack_permitted);
    let c = b.counters();
    assert_eq!((c.syncookies_sent, c.tcp_req_q_full_do_cookies, c.tcp_listen_drops), (1, 1, 0));
    assert_eq!(b.socket_count(), 3, "nothing kept for the cookie");

    let later = now + Duration::from_millis(40);
    let out = ack(&mut b, later, synack, synack.seq.wrapping_add(1), b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(out.len(), 1, "the data is acknowledged: {out:?}");
    assert_eq!(out[0].ack, 7001 + 18);
    assert_eq!(b.counters().syncookies_recv, 1);
    assert!(events(&mut b).iter().any(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady));
    let s = b.tcp_accept(l).expect("the cookie connection");
    let conn = b.tcp_conn(s);
    assert_eq!(conn.state(), TcpState::Established);
    assert_eq!(conn.tuple().remote, sa(CLIENT, 1003));
    let info = conn.info();
    assert!(info.timestamps && info.sack && info.window_scaling);
    assert_eq!(info.snd_wscale, 7);
    assert_eq!(conn.peer_window(), 502 << 7);
    let mut buf = [0u8; 64];
    assert_eq!(b.tcp_recv(s, &mut buf), Ok(18));
    // The SYN queue still holds the two half-open connections.
    assert_eq!(b.netstat(later).count(TcpState::SynReceived), 2);
}

#[test]
fn s8_a_forged_ack_fails_the_cookie_check_and_is_reset() {
    // An ACK whose acknowledgment number is not a cookie for its 4-tuple and sequence
    // number: SyncookiesFailed, then LISTEN's answer to an ACK, <SEQ=SEG.ACK><CTL=RST>.
    let (mut b, _l, now) = server(config(2), 1);
    assert_eq!(syn(&mut b, now, 1001, 100).len(), 1);
    let synack = syn(&mut b, now, 1002, 7000).remove(0);
    let bad = synack.seq.wrapping_add(1_000_001);
    let out = ack(&mut b, now, &synack, bad, &[]);
    assert_eq!(out.len(), 1);
    assert!(out[0].is(TcpFlags::RST) && out[0].seq == bad);
    let c = b.counters();
    assert_eq!((c.syncookies_failed, c.syncookies_recv), (1, 0));
    assert_eq!(b.socket_count(), 2);
}

#[test]
fn s8_acks_are_checked_for_cookies_only_within_two_minutes_of_the_last_one_sent() {
    // Linux `tcp_synq_no_recent_overflow`: without a cookie sent in the last
    // TCP_SYNCOOKIE_VALID (2 min), an ACK to a listener is reset without a cookie check, and
    // a cookie older than its two minutes no longer opens anything.
    let (mut b, _l, now) = server(config(2), 1);
    let stray = tcp_packet(sa(CLIENT, 999), sa(B, 80), 5, 12345, TcpFlags::ACK, &[]);
    b.handle_packet(now, 0, &stray);
    assert_eq!(drain(&mut b, now).len(), 1, "RST");
    assert_eq!(b.counters().syncookies_failed, 0, "not checked");

    assert_eq!(syn(&mut b, now, 1001, 100).len(), 1);
    let synack = syn(&mut b, now, 1002, 7000).remove(0);
    let late = now + Duration::from_secs(121);
    let out = ack(&mut b, late, &synack, synack.seq.wrapping_add(1), &[]);
    assert!(out.len() == 1 && out[0].has(TcpFlags::RST), "{out:?}");
    let c = b.counters();
    assert_eq!((c.syncookies_failed, c.syncookies_recv), (0, 0));
}

#[test]
fn s8_cookie_is_valid_in_the_minute_after_it_was_sent() {
    // Two counter periods: sent at 1000 s (minute 16), still good at 1079 s (minute 17).
    let (mut b, l, now) = server(config(2), 1);
    assert_eq!(syn(&mut b, now, 1001, 100).len(), 1);
    let synack = syn(&mut b, now, 1002, 7000).remove(0);
    let out = ack(&mut b, now + Duration::from_secs(79), &synack, synack.seq.wrapping_add(1), &[]);
    assert!(out.is_empty(), "{out:?}");
    assert!(b.tcp_accept(l).is_some());
}

#[test]
fn s8_syncookies_2_answers_every_syn_with_a_cookie() {
    // tcp_syncookies = 2: cookies always, the SYN queue never used.
    let (mut b, l, now) = server(StackConfig { tcp_syncookies: 2, ..config(2) }, 128);
    let synack = syn(&mut b, now, 1001, 100).remove(0);
    assert_eq!(b.socket_count(), 1);
    assert_eq!(b.netstat(now).count(TcpState::SynReceived), 0);
    assert_eq!(b.counters().syncookies_sent, 1);
    assert!(ack(&mut b, now, &synack, synack.seq.wrapping_add(1), &[]).is_empty());
    assert!(b.tcp_accept(l).is_some());
}

#[test]
fn s8_cookie_ack_finding_the_accept_queue_full_is_dropped_and_the_next_segment_opens_it() {
    // Linux `tcp_v4_syn_recv_sock`: the accept queue is full (ListenOverflows); the ACK is
    // dropped without a RST. The client, established, sends data with the same SEG.SEQ,
    // which carries the cookie again: once accept() has made room, it opens the connection.
    let (mut b, l, now) = server(config(2), 1);
    let half = syn(&mut b, now, 1001, 100).remove(0);
    let cookie = syn(&mut b, now, 1002, 7000).remove(0);
    assert_eq!(b.counters().syncookies_sent, 1);
    // Backlog 1: the accept queue is full with two waiting.
    assert!(ack(&mut b, now, &half, half.seq.wrapping_add(1), &[]).is_empty());
    let third = syn(&mut b, now, 1003, 100).remove(0);
    assert!(ack(&mut b, now, &third, third.seq.wrapping_add(1), &[]).is_empty());
    assert_eq!(b.tcp_accept_queue_len(l), 2);

    let out = ack(&mut b, now, &cookie, cookie.seq.wrapping_add(1), &[]);
    assert!(out.is_empty(), "dropped silently: {out:?}");
    let c = b.counters();
    assert_eq!((c.syncookies_recv, c.tcp_listen_overflows), (1, 1));
    assert_eq!(b.tcp_accept_queue_len(l), 2);

    b.tcp_accept(l).unwrap();
    let later = now + Duration::from_millis(200);
    let out = ack(&mut b, later, &cookie, cookie.seq.wrapping_add(1), b"hello");
    assert_eq!(out.len(), 1, "the data is acknowledged");
    assert_eq!(b.counters().syncookies_recv, 2);
    b.tcp_accept(l).unwrap();
    let s = b.tcp_accept(l).expect("the cookie connection, last");
    assert_eq!(b.tcp_conn(s).tuple().remote.port(), 1002);
    let mut buf = [0u8; 16];
    assert_eq!(b.tcp_recv(s, &mut buf), Ok(5));
}

#[test]
fn s8_a_client_connects_through_a_cookie_while_the_syn_queue_is_pinned() {
    // Two ustack stacks: B's SYN queue (backlog 1) is held by a half-open connection from a
    // spoofed address that never answers. A connects: its SYN gets a cookie, its ACK opens
    // the connection, and data flows both ways with SACK and timestamps as negotiated.
    let mut p = Pair::with(stack(A, 1), stack(B, 2));
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 1, false).unwrap();
    p.inject(true, &syn_packet(sa(CLIENT, 4000), sa(B, 80), 1));
    let c = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.settle();
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    assert!(tcp_events(&p.events_a, c).contains(&Event::Connected));
    let s = p.b.tcp_accept(l).expect("accepted through the cookie");
    let cb = p.b.counters();
    assert_eq!((cb.syncookies_sent, cb.syncookies_recv, cb.syncookies_failed), (1, 1, 0));
    let info = p.b.tcp_conn(s).info();
    assert!(info.sack && info.timestamps && info.window_scaling);
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut sent = 0;
    while sent < data.len() {
        sent += p.a.tcp_send(c, &data[sent..]).unwrap_or(0);
        p.run_for(Duration::from_millis(5));
        let _ = p.read_all_b(s);
    }
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.b.tcp_conn(s).stats().bytes_received, data.len() as u64);
}
