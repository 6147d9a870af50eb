//! SPEC S6: TCP Fast Open between two stacks and against crafted SYNs (RFC 7413; Linux
//! `tcp_fastopen.c`), every fallback, with Linux's counters.

use ustack_tcp::tfo::{FastOpenKey, FastOpenKeys};
use ustack_tcp::{Event, TcpState};
use ustack_wire::{FastOpenCookie, TcpFlags, TcpOptions};

use super::*;
use crate::{ConnectError, Duration, SocketEventKind};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const KEY: FastOpenKey =
    FastOpenKey::from_words([0xa1a1_a1a1, 0xb2b2_b2b2, 0xc3c3_c3c3, 0xd4d4_d4d4]);

/// Client and server both with `tcp_fastopen` 0x3 (client and server); the server listens
/// on port 80 with a Fast Open queue of 16 and the key `KEY`.
fn tfo_pair() -> (Pair, SocketHandle) {
    let cfg = |secret| StackConfig {
        tcp_fastopen: 0x3,
        tcp_fastopen_key: Some(FastOpenKeys::new(KEY)),
        ..config(secret)
    };
    let mut p = Pair::with(stack_with(A, cfg(1)), stack_with(B, cfg(2)));
    p.delay = Duration::from_millis(10);
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    p.b.tcp_set_fastopen(l, 16);
    (p, l)
}

fn connect_fo(p: &mut Pair, data: &[u8]) -> (SocketHandle, crate::FastOpenStart) {
    let tcp = p.a.config().tcp;
    p.a.tcp_connect_fast_open(p.now, None, sa(B, 80), &tcp, data).unwrap()
}

/// When socket `h` of B reported `kind`, by the log of B's events (the time is not kept:
/// compare positions instead).
fn accept_ready(p: &Pair, l: SocketHandle) -> bool {
    p.events_b.iter().any(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady)
}

#[test]
fn s6_first_connection_asks_for_a_cookie_and_the_second_sends_its_data_in_the_syn() {
    // RFC 7413 §3: the first connection requests a cookie (no data in the SYN: Linux's
    // non-blocking sendto returns EINPROGRESS), the server answers with its cookie (Linux's
    // SipHash of the addresses), the client caches it with the server's MSS. The second
    // connection's SYN carries the cookie and the request; the server delivers the data and
    // makes the connection accept()able before the handshake completes, so its answer leaves
    // one round trip earlier than without Fast Open.
    let (mut p, l) = tfo_pair();
    let (c1, start) = connect_fo(&mut p, b"GET /1");
    assert_eq!(start, crate::FastOpenStart { syn_data: 0, cookie_request: true });
    let mark = p.log.len();
    p.settle();
    let syn = &p.segs(true, mark)[0];
    assert!(syn.is(TcpFlags::SYN) && syn.payload.is_empty());
    assert_eq!(syn.options.fast_open, Some(FastOpenCookie::request()));
    let synack = p.segs(false, mark).into_iter().find(|s| s.has(TcpFlags::SYN)).unwrap();
    let cookie = KEY.cookie(A, B);
    assert_eq!(synack.options.fast_open, Some(cookie));
    assert_eq!(p.a.tcp_fastopen_cached(B), Some((Some(cookie), Some(1460))));
    assert_eq!(p.b.counters().tcp_fastopen_cookie_reqd, 1);
    assert_eq!(p.a.tcp_conn(c1).state(), TcpState::Established);
    p.b.tcp_accept(l).unwrap();

    // The second connection: data in the SYN.
    let t0 = p.now;
    let (c2, start) = connect_fo(&mut p, b"GET /2");
    assert_eq!(start, crate::FastOpenStart { syn_data: 6, cookie_request: false });
    let mark = p.log.len();
    // One way: the SYN reaches B, which can accept and read before any ACK.
    p.run_for(Duration::from_millis(10));
    assert!(accept_ready(&p, l));
    let s2 = p.b.tcp_accept(l).expect("the Fast Open child, accept()able at once");
    assert_eq!(p.b.tcp_conn(s2).state(), TcpState::SynReceived);
    assert!(p.b.tcp_conn(s2).syn_data_acked());
    let mut buf = [0u8; 16];
    assert_eq!(p.b.tcp_recv(s2, &mut buf), Ok(6));
    assert_eq!(&buf[..6], b"GET /2");
    assert_eq!(p.b.tcp_send(s2, b"200 OK").unwrap(), 6);
    p.settle();
    let syn = p.segs(true, mark)[0].clone();
    assert_eq!((syn.payload.as_slice(), syn.options.fast_open), (&b"GET /2"[..], Some(cookie)));
    let synack = p.segs(false, mark)[0].clone();
    assert_eq!(synack.ack, syn.seq.wrapping_add(7), "the SYN-ACK acknowledges the data");
    assert_eq!(synack.options.fast_open, None, "a valid cookie is not sent back");
    assert!(p.a.tcp_conn(c2).syn_data_acked());
    // The answer arrives one round trip (20 ms) after the connect: SYN out, data back.
    let answer_at = p
        .log
        .iter()
        .skip(mark)
        .find(|(_, from_a, pkt)| !from_a && tcp(pkt).is_some_and(|s| !s.payload.is_empty()))
        .map(|(at, _, _)| *at)
        .unwrap();
    assert_eq!(answer_at - t0, Duration::from_millis(10), "sent by B when the SYN arrived");
    let mut got = [0u8; 16];
    assert_eq!(p.a.tcp_recv(c2, &mut got), Ok(6));
    let (ca, cb) = (p.a.counters(), p.b.counters());
    assert_eq!((ca.tcp_fastopen_active, ca.tcp_fastopen_active_fail), (1, 0));
    assert_eq!((cb.tcp_fastopen_passive, cb.tcp_fastopen_passive_fail), (1, 0));
    assert_eq!(p.b.tcp_conn(s2).state(), TcpState::Established);
    let connected = tcp_events(&p.events_b, s2).iter().filter(|e| **e == Event::Connected).count();
    assert_eq!(connected, 1);
}

/// A SYN from CLIENT:`port` with `data` and Fast Open option `fo`.
fn syn_fo(port: u16, fo: Option<FastOpenCookie>, data: &[u8]) -> Vec<u8> {
    let opts = TcpOptions { mss: Some(1460), fast_open: fo, ..TcpOptions::default() };
    tcp_packet_opts(sa(CLIENT, port), sa(B, 80), 1000, 0, TcpFlags::SYN, 65_535, opts, data)
}

fn server(cfg: StackConfig, fastopen_qlen: u32) -> (Stack, SocketHandle, Instant) {
    let mut b =
        stack_with(B, StackConfig { tcp_fastopen_key: Some(FastOpenKeys::new(KEY)), ..cfg });
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 8, false).unwrap();
    b.tcp_set_fastopen(l, fastopen_qlen);
    (b, l, Instant::from_secs(10))
}

fn answer(b: &mut Stack, now: Instant, pkt: &[u8]) -> Seg {
    b.handle_packet(now, 0, pkt);
    let out: Vec<Seg> = drain(b, now).iter().filter_map(|p| tcp(p)).collect();
    assert_eq!(out.len(), 1, "{out:?}");
    out.into_iter().next().unwrap()
}

#[test]
fn s6_invalid_cookie_gets_a_normal_handshake_and_the_right_cookie() {
    // Linux `tcp_fastopen_cookie_gen_check` fails: TCPFastOpenPassiveFail, the data is not
    // acknowledged, the SYN-ACK carries the valid cookie (packetdrill opt34/
    // reset-non-tfo-socket), and nothing is accept()able before the final ACK.
    let (mut b, l, now) = server(StackConfig { tcp_fastopen: 0x3, ..config(2) }, 4);
    let bogus = FastOpenCookie::new(&[0xaa; 8]).unwrap();
    let synack = answer(&mut b, now, &syn_fo(4000, Some(bogus), b"0123456789"));
    assert_eq!(synack.ack, 1001, "only the SYN");
    assert_eq!(synack.options.fast_open, Some(KEY.cookie(CLIENT, B)));
    assert_eq!(b.counters().tcp_fastopen_passive_fail, 1);
    assert!(b.tcp_accept(l).is_none());
}

#[test]
fn s6_listener_without_fast_open_ignores_the_data_and_sends_no_cookie() {
    // A listener without TCP_FASTOPEN (Linux `tcp_fastopen_queue_check`: max_qlen 0), or a
    // host without the server bit: a plain SYN-ACK, no cookie even when asked for one.
    for (sysctl, qlen) in [(0x3, 0), (0x1, 16)] {
        let (mut b, l, now) = server(StackConfig { tcp_fastopen: sysctl, ..config(2) }, qlen);
        let valid = KEY.cookie(CLIENT, B);
        let synack = answer(&mut b, now, &syn_fo(4000, Some(valid), b"0123456789"));
        assert_eq!((synack.ack, synack.options.fast_open), (1001, None), "{sysctl:#x} {qlen}");
        let synack = answer(&mut b, now, &syn_fo(4001, Some(FastOpenCookie::request()), &[]));
        assert_eq!(synack.options.fast_open, None);
        assert!(b.tcp_accept(l).is_none());
        assert_eq!(b.counters().tcp_fastopen_passive, 0);
    }
}

#[test]
fn s6_every_listener_has_fast_open_with_0x400_and_data_needs_no_cookie_with_0x200() {
    // tcp_fastopen 0x402: Fast Open on listeners without the option, queue = backlog (8);
    // 0x202: data without a cookie is accepted (packetdrill opt34/basic-cookie-not-reqd).
    let mut b = stack_with(B, StackConfig { tcp_fastopen: 0x402, ..config(2) });
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 8, false).unwrap();
    assert_eq!(b.tcp_fastopen_qlen(l), 8);
    let now = Instant::from_secs(1);
    let synack = answer(&mut b, now, &syn_fo(4000, None, b"abc"));
    assert_eq!(synack.ack, 1001, "0x402 still wants a cookie");
    let (mut b, l, now) = server(StackConfig { tcp_fastopen: 0x202, ..config(2) }, 4);
    let synack = answer(&mut b, now, &syn_fo(4000, None, b"abc"));
    assert_eq!((synack.ack, synack.options.fast_open), (1004, None));
    let s = b.tcp_accept(l).expect("a Fast Open child");
    assert_eq!(b.tcp_recv(s, &mut [0u8; 8]), Ok(3));
}

#[test]
fn s6_backup_key_cookie_opens_and_the_synack_brings_the_primary_cookie() {
    // Linux: a cookie of the backup key is valid (TCPFastOpenPassiveAltKey) and the client
    // gets the primary key's cookie to use next time.
    let old = FastOpenKey::from_words([1, 2, 3, 4]);
    let keys = FastOpenKeys { primary: KEY, backup: Some(old) };
    let cfg = StackConfig { tcp_fastopen: 0x3, tcp_fastopen_key: Some(keys), ..config(2) };
    let mut b = stack_with(B, cfg);
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 8, false).unwrap();
    b.tcp_set_fastopen(l, 4);
    let now = Instant::from_secs(1);
    let synack = answer(&mut b, now, &syn_fo(4000, Some(old.cookie(CLIENT, B)), b"xy"));
    assert_eq!((synack.ack, synack.options.fast_open), (1003, Some(KEY.cookie(CLIENT, B))));
    let c = b.counters();
    assert_eq!((c.tcp_fastopen_passive, c.tcp_fastopen_passive_alt_key), (1, 1));
    assert!(b.tcp_accept(l).is_some());
}

#[test]
fn s6_full_fast_open_queue_falls_back_to_a_normal_handshake() {
    // TCP_FASTOPEN 1: one child in its handshake fills the queue; the next SYN with a valid
    // cookie gets a plain SYN-ACK (TCPFastOpenListenOverflow). When the first completes, the
    // queue has room again.
    let (mut b, l, now) = server(StackConfig { tcp_fastopen: 0x3, ..config(2) }, 1);
    let valid = KEY.cookie(CLIENT, B);
    let first = answer(&mut b, now, &syn_fo(4000, Some(valid), b"one"));
    assert_eq!(first.ack, 1004);
    let second = answer(&mut b, now, &syn_fo(4001, Some(valid), b"two"));
    assert_eq!((second.ack, second.options.fast_open), (1001, None));
    assert_eq!(b.counters().tcp_fastopen_listen_overflow, 1);
    // The first child's handshake completes.
    let ack = tcp_packet(
        sa(CLIENT, 4000),
        sa(B, 80),
        1004,
        first.seq.wrapping_add(1),
        TcpFlags::ACK,
        &[],
    );
    b.handle_packet(now, 0, &ack);
    let third = answer(&mut b, now, &syn_fo(4002, Some(valid), b"three"));
    assert_eq!(third.ack, 1006, "room again");
    let _ = l;
}

#[test]
fn s6_an_accepted_child_reset_in_its_handshake_holds_its_place_for_60_seconds() {
    // Linux `reqsk_fastopen_remove(.., reset = true)`: against spoofed SYNs with data, a
    // child that was accepted and then reset before its handshake completed keeps counting
    // in the Fast Open queue for 60 s.
    let (mut b, l, now) = server(StackConfig { tcp_fastopen: 0x3, ..config(2) }, 1);
    let valid = KEY.cookie(CLIENT, B);
    let first = answer(&mut b, now, &syn_fo(4000, Some(valid), b"one"));
    let s = b.tcp_accept(l).unwrap();
    let rst = tcp_packet(sa(CLIENT, 4000), sa(B, 80), 1004, 0, TcpFlags::RST, &[]);
    b.handle_packet(now, 0, &rst);
    assert_eq!(b.tcp_conn(s).state(), TcpState::Closed);
    let _ = first;
    let second = answer(&mut b, now + Duration::from_secs(59), &syn_fo(4001, Some(valid), b"two"));
    assert_eq!(second.ack, 1001, "still held");
    let later = now + Duration::from_secs(61);
    let third = answer(&mut b, later, &syn_fo(4002, Some(valid), b"three"));
    assert_eq!(third.ack, 1006, "released after 60 s");
}

#[test]
fn s6_client_falls_back_when_the_server_no_longer_takes_the_data() {
    // The client holds a cookie, but the server's Fast Open is off now: the SYN-ACK
    // acknowledges only the SYN, the client sends the data again at once
    // (TCPFastOpenActiveFail), the request is answered all the same, and the cookie stays
    // cached (Linux keeps it: the loss was not of the SYN).
    let (mut p, l) = tfo_pair();
    let (_c, _) = connect_fo(&mut p, &[]);
    p.settle();
    p.b.tcp_accept(l).unwrap();
    p.b.tcp_set_fastopen(l, 0);
    let (c, start) = connect_fo(&mut p, b"ping");
    assert_eq!(start.syn_data, 4);
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    assert_eq!(p.read_all_b(s), b"ping");
    assert!(!p.a.tcp_conn(c).syn_data_acked());
    assert_eq!(p.a.counters().tcp_fastopen_active_fail, 1);
    assert_eq!(p.a.tcp_fastopen_cached(B).and_then(|(c, _)| c), Some(KEY.cookie(A, B)));
}

#[test]
fn s6_client_stops_fast_open_to_a_destination_that_keeps_losing_syns_with_data() {
    // Linux `tcp_fastopen_cookie_check`: after two SYN-data losses in a row (the SYN timed
    // out and the SYN-ACK neither acknowledged the data nor carried a cookie), no Fast Open
    // to that destination for 60 s << 2: the SYN carries neither cookie nor data.
    let (mut p, l) = tfo_pair();
    let (_c, _) = connect_fo(&mut p, &[]);
    p.settle();
    p.b.tcp_accept(l).unwrap();
    p.b.tcp_set_fastopen(l, 0);
    for _ in 0..2 {
        // The network drops SYNs that carry data.
        p.drop_if = Some(Box::new(|from_a, pkt| {
            from_a && tcp(pkt).is_some_and(|s| s.has(TcpFlags::SYN) && !s.payload.is_empty())
        }));
        let (c, start) = connect_fo(&mut p, b"data");
        assert_eq!(start.syn_data, 4);
        p.run_for(Duration::from_secs(2));
        assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
        p.b.tcp_accept(l).unwrap();
    }
    p.drop_if = None;
    let (_c, start) = connect_fo(&mut p, b"data");
    assert_eq!(start, crate::FastOpenStart { syn_data: 0, cookie_request: false });
    let mark = p.log.len();
    p.settle();
    let syn = &p.segs(true, mark)[0];
    assert_eq!((syn.payload.len(), syn.options.fast_open), (0, None));
}

#[test]
fn s6_black_hole_pauses_active_fast_open_host_wide() {
    // Linux `tcp_fastopen_active_detect_blackhole` with tcp_fastopen_blackhole_timeout_sec:
    // the third timeout in a row of a Fast Open SYN turns active Fast Open off for the
    // timeout (TCPFastOpenBlackhole); a plain connection then, and Fast Open again after it.
    let (mut p, l) = tfo_pair();
    let mut cfg = *p.a.config();
    cfg.tcp_fastopen_blackhole_timeout = Duration::from_secs(3600);
    p.a.set_config(cfg).unwrap();
    let (_c, _) = connect_fo(&mut p, &[]);
    p.settle();
    p.b.tcp_accept(l).unwrap();
    // A middlebox eats every SYN carrying data.
    p.drop_if = Some(Box::new(|from_a, pkt| {
        from_a && tcp(pkt).is_some_and(|s| s.has(TcpFlags::SYN) && s.options.fast_open.is_some())
    }));
    let (c, _) = connect_fo(&mut p, b"data");
    // Drop also the plain retransmissions, so the SYN times out three times.
    p.drop_if =
        Some(Box::new(|from_a, pkt| from_a && tcp(pkt).is_some_and(|s| s.has(TcpFlags::SYN))));
    p.run_for(Duration::from_secs(8));
    assert_eq!(p.a.counters().tcp_fastopen_blackhole, 1);
    p.drop_if = None;
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.a.tcp_conn(c).state(), TcpState::Established);
    let (_c2, start) = connect_fo(&mut p, b"data");
    assert_eq!(start.syn_data, 0, "paused");
    p.now += Duration::from_secs(3601);
    let (_c3, start) = connect_fo(&mut p, b"data");
    assert_eq!(start.syn_data, 4, "back after the timeout");
}

#[test]
fn s6_connect_with_data_fails_without_the_client_bit() {
    // Linux: sendto(MSG_FASTOPEN) with tcp_fastopen lacking 0x1 is EOPNOTSUPP.
    let mut a = stack_with(A, StackConfig { tcp_fastopen: 0x2, ..config(1) });
    let tcp = a.config().tcp;
    let r = a.tcp_connect_fast_open(Instant::ZERO, None, sa(B, 80), &tcp, b"x");
    assert_eq!(r.map(|_| ()), Err(ConnectError::FastOpenDisabled));
}

#[test]
fn s6_a_request_in_the_experimental_encoding_is_answered_in_it() {
    // Linux `tcp_try_fastopen` answers in the encoding the SYN's option came in (packetdrill
    // server/simple1: `FOEXP` in, `FOEXP 00abaaabe8e954c2` out), and takes a cookie in
    // either encoding: it compares the cookie's bytes.
    let (mut b, l, now) = server(StackConfig { tcp_fastopen: 0x3, ..config(2) }, 4);
    let exp = |c: FastOpenCookie| Some(c.with_experimental(true));
    let valid = KEY.cookie(CLIENT, B);
    let synack = answer(&mut b, now, &syn_fo(4000, exp(FastOpenCookie::request()), &[]));
    assert_eq!(synack.options.fast_open, exp(valid));
    assert_eq!(b.counters().tcp_fastopen_cookie_reqd, 1);

    let synack = answer(&mut b, now, &syn_fo(4001, exp(valid), b"0123456789"));
    assert_eq!(synack.ack, 1011, "the SYN and its data");
    assert_eq!(synack.options.fast_open, None, "a valid cookie is not sent back");
    assert_eq!(b.counters().tcp_fastopen_passive, 1);
    assert!(b.tcp_accept(l).is_some(), "the Fast Open child");

    let bogus = FastOpenCookie::new(&[0xaa; 8]).unwrap();
    let synack = answer(&mut b, now, &syn_fo(4002, exp(bogus), b"0123456789"));
    assert_eq!(synack.ack, 1001, "only the SYN");
    assert_eq!(synack.options.fast_open, exp(valid));
    assert_eq!(b.counters().tcp_fastopen_passive_fail, 1);
}

#[test]
fn s6_client_tries_the_experimental_encoding_once_after_an_unanswered_request() {
    // Linux `tcp_rcv_fastopen_synack` and the cache's `try_exp` (packetdrill
    // client/fallback-exp-opt): a cookie request the SYN-ACK does not answer at all makes the
    // next request go in the experimental encoding; if that one goes unanswered too, requests
    // go in RFC 7413's for good. A cookie that comes in the experimental encoding is sent back
    // in it.
    let (mut p, l) = tfo_pair();
    p.b.tcp_set_fastopen(l, 0);
    let mut requests = Vec::new();
    for _ in 0..4 {
        let (_c, start) = connect_fo(&mut p, b"data");
        assert!(start.cookie_request);
        let mark = p.log.len();
        p.settle();
        let syn = &p.segs(true, mark)[0];
        let synack = p.segs(false, mark).into_iter().find(|s| s.has(TcpFlags::SYN)).unwrap();
        assert_eq!(synack.options.fast_open, None);
        requests.push(syn.options.fast_open.map(|c| (c.is_request(), c.is_experimental())));
        p.b.tcp_accept(l).unwrap();
    }
    let (rfc, exp) = (Some((true, false)), Some((true, true)));
    assert_eq!(requests, [rfc, exp, rfc, rfc]);

    // A fresh destination cache, a server that answers: after one unanswered request the
    // next goes in the experimental encoding, the server answers in it, and the SYN with
    // data carries the cookie in the encoding it came in.
    let (mut p, l) = tfo_pair();
    p.b.tcp_set_fastopen(l, 0);
    connect_fo(&mut p, &[]);
    p.settle();
    p.b.tcp_accept(l).unwrap();
    p.b.tcp_set_fastopen(l, 16);
    let mark = p.log.len();
    connect_fo(&mut p, &[]);
    p.settle();
    p.b.tcp_accept(l).unwrap();
    let cookie = KEY.cookie(A, B).with_experimental(true);
    let synack = p.segs(false, mark).into_iter().find(|s| s.has(TcpFlags::SYN)).unwrap();
    assert_eq!(synack.options.fast_open, Some(cookie));
    assert_eq!(p.a.tcp_fastopen_cached(B).and_then(|(c, _)| c), Some(cookie));
    let mark = p.log.len();
    let (c, start) = connect_fo(&mut p, b"ping");
    assert_eq!(start.syn_data, 4);
    p.settle();
    let syn = &p.segs(true, mark)[0];
    assert_eq!((syn.payload.as_slice(), syn.options.fast_open), (&b"ping"[..], Some(cookie)));
    assert!(p.a.tcp_conn(c).syn_data_acked(), "the server took the data");
}

#[test]
fn s6_a_listener_with_its_own_key_makes_and_checks_cookies_with_it() {
    // Linux TCP_FASTOPEN_KEY on a listener (packetdrill server/sockopt-fastopen-key): its
    // cookies come from its key, the host's cookie no longer opens it, and without its key it
    // is back on the host's.
    let (mut b, l, now) = server(StackConfig { tcp_fastopen: 0x3, ..config(2) }, 4);
    let own = FastOpenKey::from_words([0xa0bf_63f7, 0xed80_3d81, 0xcd64_1d30, 0xcebc_4a90]);
    b.tcp_set_fastopen_key(l, Some(FastOpenKeys::new(own)));
    assert_eq!(b.tcp_fastopen_key(l), FastOpenKeys::new(own));
    let synack = answer(&mut b, now, &syn_fo(4000, Some(FastOpenCookie::request()), &[]));
    assert_eq!(synack.options.fast_open, Some(own.cookie(CLIENT, B)));
    let synack = answer(&mut b, now, &syn_fo(4001, Some(KEY.cookie(CLIENT, B)), b"data"));
    assert_eq!(synack.ack, 1001, "the host's cookie does not open this listener");
    let synack = answer(&mut b, now, &syn_fo(4002, Some(own.cookie(CLIENT, B)), b"data"));
    assert_eq!(synack.ack, 1005, "its own does");

    b.tcp_set_fastopen_key(l, None);
    assert_eq!(b.tcp_fastopen_key(l), b.tcp_fastopen_keys());
    let synack = answer(&mut b, now, &syn_fo(4003, Some(KEY.cookie(CLIENT, B)), b"data"));
    assert_eq!(synack.ack, 1005, "back on the host's key");
}
