//! SPEC S4: a listener's SYN queue and accept queue, both bounded by the backlog as in Linux
//! (`tcp_conn_request`, `tcp_check_req`, `inet_csk_listen_stop`).

use ustack_tcp::{ConnError, Event, TcpState};
use ustack_wire::TcpFlags;

use super::*;
use crate::{Duration, SocketEventKind};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

/// A lone server stack B with a listener on port 80.
fn server(cfg: StackConfig, backlog: u32) -> (Stack, SocketHandle, Instant) {
    let mut b = stack_with(B, cfg);
    let l = b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), backlog, false).unwrap();
    (b, l, Instant::from_secs(1))
}

#[test]
fn s4_syn_queue_holds_backlog_half_open_connections_and_drops_further_syns() {
    // Expected (Linux without SYN cookies, `inet_csk_reqsk_queue_is_full`): with backlog 3,
    // three SYNs get a SYN-ACK (ack = their seq + 1) and wait in SYN-RECV; the fourth and
    // fifth get nothing at all and are counted in ListenDrops and TCPReqQFullDrop (not
    // ListenOverflows, which is for the accept queue).
    let (mut b, l, now) = server(StackConfig { tcp_syncookies: 0, ..config(2) }, 3);
    let mut synacks = Vec::new();
    for i in 0..5u16 {
        b.handle_packet(now, 0, &syn_packet(sa(CLIENT, 1000 + i), sa(B, 80), 7000 * u32::from(i)));
        let out: Vec<Seg> = drain(&mut b, now).iter().filter_map(|p| tcp(p)).collect();
        if i < 3 {
            assert_eq!(out.len(), 1, "SYN {i} gets one SYN-ACK: {out:?}");
            assert!(out[0].is(TcpFlags::SYN | TcpFlags::ACK));
            assert_eq!(out[0].ack, 7000 * u32::from(i) + 1);
            assert_eq!(out[0].dst, sa(CLIENT, 1000 + i));
            synacks.push(out[0].clone());
        } else {
            assert!(out.is_empty(), "SYN {i} is dropped silently: {out:?}");
        }
    }
    let c = b.counters();
    assert_eq!(c.tcp_listen_drops, 2);
    assert_eq!(c.tcp_req_q_full_drop, 2);
    assert_eq!(c.tcp_listen_overflows, 0);
    assert_eq!(c.syncookies_sent, 0);
    assert_eq!(c.tcp_passive_opens, 3);
    assert_eq!(b.netstat(now).count(TcpState::SynReceived), 3);
    assert_eq!(b.socket_count(), 4);

    // The final ACK of the first moves it to the accept queue (SPEC S4: the ACK is matched
    // against the SYN queue), which makes room in the SYN queue for one more SYN.
    let first = &synacks[0];
    b.handle_packet(
        now,
        0,
        &tcp_packet(first.dst, first.src, 1, first.seq + 1, TcpFlags::ACK, &[]),
    );
    assert!(drain(&mut b, now).is_empty());
    assert!(events(&mut b).iter().any(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady));
    b.handle_packet(now, 0, &syn_packet(sa(CLIENT, 2000), sa(B, 80), 5));
    let out: Vec<Seg> = drain(&mut b, now).iter().filter_map(|p| tcp(p)).collect();
    assert_eq!(out.len(), 1);
    assert!(out[0].is(TcpFlags::SYN | TcpFlags::ACK));
    b.handle_packet(now, 0, &syn_packet(sa(CLIENT, 2001), sa(B, 80), 5));
    assert!(drain(&mut b, now).is_empty(), "the SYN queue is full again");
    assert_eq!(b.counters().tcp_listen_drops, 3);
    let s = b.tcp_accept(l).expect("the completed connection");
    assert_eq!(b.tcp_conn(s).tuple().remote, sa(CLIENT, 1000));
}

#[test]
fn s4_backlog_is_clamped_to_somaxconn() {
    // Linux `__sys_listen`: backlog = min(backlog, somaxconn). ss shows the backlog in the
    // Send-Q column of a LISTEN socket. (Without SYN cookies, so the SYNs beyond are
    // dropped rather than answered with a cookie.)
    let mut cfg = config(2);
    cfg.somaxconn = 2;
    cfg.tcp_syncookies = 0;
    let (mut b, l, now) = server(cfg, 100);
    let info = b.netstat(now).sockets.into_iter().find(|s| s.handle == l).unwrap();
    assert_eq!(info.send_q, 2, "backlog 100 clamped to somaxconn 2");
    let mut answered = 0;
    for i in 0..4u16 {
        b.handle_packet(now, 0, &syn_packet(sa(CLIENT, 1000 + i), sa(B, 80), 1));
        answered += drain(&mut b, now).len();
    }
    assert_eq!(answered, 2, "two half-open connections, not 100");
    assert_eq!(b.counters().tcp_listen_drops, 2);
}

/// B listens on port 80 with backlog 2; two connections complete and wait in the accept queue.
fn two_waiting(cfg_b: StackConfig) -> (Pair, SocketHandle, Vec<SocketHandle>) {
    let mut p = Pair::with(stack(A, 1), stack_with(B, cfg_b));
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 2, false).unwrap();
    let mut clients = Vec::new();
    for _ in 0..2 {
        clients.push(p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap());
        p.settle();
    }
    assert_eq!(p.b.netstat(p.now).count(TcpState::Established), 2);
    (p, l, clients)
}

#[test]
fn s4_accept_queue_overflow_drops_final_ack_and_completes_once_accept_makes_room() {
    // Linux: the accept queue is full when it holds more than the backlog
    // (`sk_acceptq_is_full`: ack_backlog > max_ack_backlog), so backlog 2 holds 3. Two wait;
    // two more SYNs arrive together and both get into the SYN queue. The first final ACK
    // fills the accept queue to 3; the second finds it full: `tcp_check_req` drops it and
    // counts ListenOverflows and ListenDrops. The client believes it is established and
    // sends data; the server keeps SYN-RECV and retransmits its SYN-ACK (1 s, then 2 s
    // later); the client's ACKs (and data) are dropped while the queue is full. Once
    // accept() makes room the next ACK completes the handshake and the data arrives.
    let (mut p, l, mut clients) = two_waiting(config(2));
    let c3 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let c4 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    clients.push(c3);
    let port4 = p.a.tcp_conn(c4).tuple().local.port();
    p.settle();
    assert_eq!(p.a.tcp_conn(c4).state(), TcpState::Established, "the client thinks it is open");
    let c = p.b.counters();
    assert_eq!((c.tcp_listen_overflows, c.tcp_listen_drops), (1, 1));
    let ns = p.b.netstat(p.now);
    assert_eq!(ns.count(TcpState::SynReceived), 1, "{ns}");
    assert_eq!(ns.count(TcpState::Established), 3, "{ns}");
    let li = ns.sockets.iter().find(|s| s.handle == l).unwrap();
    assert_eq!(li.recv_q, 3, "three connections wait in the accept queue");

    assert_eq!(p.a.tcp_send(c4, b"hello").unwrap(), 5);
    let mark = p.log.len();
    p.run_for(Duration::from_millis(1500));
    let synacks: Vec<Seg> = p
        .segs(false, mark)
        .into_iter()
        .filter(|s| s.dst.port() == port4 && s.is(TcpFlags::SYN | TcpFlags::ACK))
        .collect();
    assert_eq!(synacks.len(), 1, "the SYN-ACK is retransmitted after 1 s");
    assert!(p.b.counters().tcp_listen_overflows >= 2, "the client's answer is dropped again");
    assert_eq!(p.b.netstat(p.now).count(TcpState::SynReceived), 1);

    let first = p.b.tcp_accept(l).unwrap();
    assert_eq!(p.b.tcp_conn(first).tuple().remote, p.a.tcp_conn(clients[0]).tuple().local);
    p.run_for(Duration::from_secs(10));
    let ns = p.b.netstat(p.now);
    assert_eq!(ns.count(TcpState::SynReceived), 0, "{ns}");
    let mut order = Vec::new();
    while let Some(s) = p.b.tcp_accept(l) {
        order.push(s);
    }
    assert_eq!(order.len(), 3);
    let s4 = order[2];
    assert_eq!(p.b.tcp_conn(s4).tuple().remote.port(), port4, "c4 completed last");
    assert_eq!(p.read_all_b(s4), b"hello");
    assert_eq!(p.a.tcp_conn(c4).state(), TcpState::Established);
}

#[test]
fn s4_abort_on_overflow_answers_the_final_ack_with_rst() {
    // Linux with tcp_abort_on_overflow = 1: `tcp_check_req` resets the embryonic connection
    // instead of dropping the ACK. The client, established, gets ECONNRESET; the server
    // frees the half-open connection and never retransmits its SYN-ACK.
    let mut cfg = config(2);
    cfg.tcp_abort_on_overflow = true;
    let (mut p, _l, _) = two_waiting(cfg);
    let c3 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let c4 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let port4 = p.a.tcp_conn(c4).tuple().local.port();
    let mark = p.log.len();
    p.settle();
    let to4: Vec<Seg> = p.segs(false, mark).into_iter().filter(|s| s.dst.port() == port4).collect();
    assert_eq!(to4.len(), 2, "SYN-ACK then RST: {to4:?}");
    assert!(to4[1].has(TcpFlags::RST));
    assert_eq!(to4[1].seq, to4[0].seq + 1, "the RST's seq is the ACK the client sent");
    assert_eq!(p.a.tcp_conn(c4).state(), TcpState::Closed);
    assert!(tcp_events(&p.events_a, c4).contains(&Event::Closed(Some(ConnError::Reset))));
    assert_eq!(p.a.tcp_conn(c3).state(), TcpState::Established);
    assert_eq!(p.b.counters().tcp_listen_overflows, 1);
    assert_eq!(p.b.socket_count(), 4, "listener and three connections; c4 is freed");
    let mark = p.log.len();
    p.run_for(Duration::from_secs(10));
    assert!(p.segs(false, mark).iter().all(|s| s.dst.port() != port4), "no SYN-ACK retransmit");
}

#[test]
fn s4_accept_returns_connections_in_the_order_they_completed() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16, false).unwrap();
    let mut ports = Vec::new();
    for _ in 0..5 {
        let c = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
        ports.push(p.a.tcp_conn(c).tuple().local.port());
        p.settle();
        p.run_for(Duration::from_millis(3));
    }
    let ready = p
        .events_b
        .iter()
        .filter(|e| e.socket == l && e.kind == SocketEventKind::AcceptReady)
        .count();
    assert_eq!(ready, 5);
    let accepted: Vec<SocketHandle> = std::iter::from_fn(|| p.b.tcp_accept(l)).collect();
    let accepted: Vec<u16> =
        accepted.into_iter().map(|s| p.b.tcp_conn(s).tuple().remote.port()).collect();
    assert_eq!(accepted, ports, "FIFO");
    assert_eq!(p.b.tcp_accept(l), None);
}

#[test]
fn s4_closing_a_listener_resets_the_connections_in_its_queues() {
    // Linux `inet_csk_listen_stop`: children waiting in the accept queue are disconnected
    // with a RST (`tcp_disconnect` → `tcp_need_reset`); half-open ones are dropped (ustack
    // resets them too). Every one of them is freed on the server; the clients get
    // ECONNRESET, and the port answers SYNs with RST from then on.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 4, false).unwrap();
    let c1 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let c2 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.settle();
    // The third's final ACK is lost: it stays half-open in the SYN queue.
    let c3 = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    let port3 = p.a.tcp_conn(c3).tuple().local.port();
    p.drop_if = Some(Box::new(move |from_a, pkt| {
        from_a && tcp(pkt).is_some_and(|s| s.src.port() == port3 && s.is(TcpFlags::ACK))
    }));
    p.settle();
    p.drop_if = None;
    let ns = p.b.netstat(p.now);
    assert_eq!((ns.count(TcpState::Established), ns.count(TcpState::SynReceived)), (2, 1), "{ns}");

    let mark = p.log.len();
    p.b.close(p.now, l);
    p.settle();
    let rsts: Vec<u16> =
        p.segs(false, mark).iter().filter(|s| s.has(TcpFlags::RST)).map(|s| s.dst.port()).collect();
    for c in [c1, c2, c3] {
        let port = p.a.tcp_conn(c).tuple().local.port();
        assert!(rsts.contains(&port), "RST to {port}: {rsts:?}");
        assert_eq!(p.a.tcp_conn(c).state(), TcpState::Closed);
        assert!(tcp_events(&p.events_a, c).contains(&Event::Closed(Some(ConnError::Reset))));
    }
    assert_eq!(p.b.socket_count(), 0, "{}", p.b.netstat(p.now));
    assert!(!p.b.contains(l));
    let c = p.a.tcp_connect(p.now, None, sa(B, 80)).unwrap();
    p.settle();
    assert!(tcp_events(&p.events_a, c).contains(&Event::Closed(Some(ConnError::Refused))));
}

/// Sends a SYN from CLIENT:`port` to a lone server and returns its SYN-ACK (none: `None`).
fn raw_syn(b: &mut Stack, now: Instant, port: u16) -> Option<Seg> {
    b.handle_packet(now, 0, &syn_packet(sa(CLIENT, port), sa(B, 80), u32::from(port) << 16));
    let out: Vec<Seg> = drain(b, now).iter().filter_map(|p| tcp(p)).collect();
    assert!(out.len() <= 1, "{out:?}");
    out.into_iter().next()
}

/// The client's final ACK for `synack`; returns what the server sent back.
fn raw_ack(b: &mut Stack, now: Instant, synack: &Seg, ack: u32) -> Vec<Seg> {
    let seq = synack.ack;
    b.handle_packet(now, 0, &tcp_packet(synack.dst, synack.src, seq, ack, TcpFlags::ACK, &[]));
    drain(b, now).iter().filter_map(|p| tcp(p)).collect()
}

/// Backlog 2: two connections wait in the accept queue, a third completes and fills it
/// (3 > 2), a fourth is half-open. Returns the fourth's SYN-ACK.
fn full_accept_queue(b: &mut Stack, now: Instant) -> Seg {
    for port in [1001, 1002] {
        let sa_ = raw_syn(b, now, port).unwrap();
        assert!(raw_ack(b, now, &sa_, sa_.seq + 1).is_empty());
    }
    let s3 = raw_syn(b, now, 1003).unwrap();
    let s4 = raw_syn(b, now, 1004).unwrap();
    assert!(raw_ack(b, now, &s3, s3.seq + 1).is_empty());
    assert_eq!(b.netstat(now).count(TcpState::Established), 3);
    assert_eq!(b.counters().tcp_listen_overflows, 0);
    s4
}

#[test]
fn s4_accept_queue_full_drops_new_syns() {
    // Linux `tcp_conn_request`: "if (sk_acceptq_is_full(sk)) { LISTENOVERFLOWS; goto drop }"
    // (and the drop counts ListenDrops): no SYN-ACK while the accept queue is full.
    let (mut b, l, now) = server(config(2), 2);
    let _ = full_accept_queue(&mut b, now);
    assert!(raw_syn(&mut b, now, 1005).is_none());
    let c = b.counters();
    assert_eq!((c.tcp_listen_overflows, c.tcp_listen_drops), (1, 1));
    b.tcp_accept(l).unwrap();
    b.tcp_accept(l).unwrap();
    assert!(raw_syn(&mut b, now, 1006).is_some(), "room again");
}

#[test]
fn s4_a_bad_ack_while_the_accept_queue_is_full_gets_rst_and_leaves_the_half_open_connection() {
    // Linux `tcp_check_req` validates the ACK before it tries to create the child: an ACK
    // that does not acknowledge our SYN-ACK (SEG.ACK ≠ ISS + 1) is answered with
    // <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.4 in SYN-RECEIVED) and the request stays; only
    // an acceptable ACK can overflow the accept queue. So a blind ACK cannot make
    // tcp_abort_on_overflow reset somebody else's half-open connection.
    for abort_on_overflow in [false, true] {
        let mut cfg = config(2);
        cfg.tcp_abort_on_overflow = abort_on_overflow;
        let (mut b, _l, now) = server(cfg, 2);
        let s4 = full_accept_queue(&mut b, now);
        let bad = s4.seq.wrapping_add(1000);
        let out = raw_ack(&mut b, now, &s4, bad);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].is(TcpFlags::RST) && out[0].seq == bad, "{:?}", out[0]);
        assert_eq!(b.counters().tcp_listen_overflows, 0, "not an overflow");
        assert_eq!(b.netstat(now).count(TcpState::SynReceived), 1, "the request stays");
        // The real ACK does overflow.
        let out = raw_ack(&mut b, now, &s4, s4.seq + 1);
        assert_eq!(b.counters().tcp_listen_overflows, 1);
        if abort_on_overflow {
            assert!(out.len() == 1 && out[0].has(TcpFlags::RST) && out[0].seq == s4.seq + 1);
        } else {
            assert!(out.is_empty(), "{out:?}");
        }
    }
}

#[test]
fn s5_half_open_connection_is_dropped_after_synack_retries_and_a_late_ack_gets_rst() {
    // SPEC S5, lost final ACK, second outcome (Linux `reqsk_timer_handler`): the server
    // retransmits its SYN-ACK tcp_synack_retries (5) times, at 1, 3, 7, 15 and 31 s, gives
    // up at 63 s and drops the entry silently, freeing its place in the SYN queue. The
    // client's data arriving afterwards meets only the listener: RST <SEQ=SEG.ACK>.
    let (mut b, _l, t0) = server(config(2), 1);
    let synack = raw_syn(&mut b, t0, 1001).unwrap();
    let mut sent_at = vec![0u64];
    let mut freed_at = None;
    while let Some(t) = b.poll_timeout() {
        assert!(t <= t0 + Duration::from_secs(100));
        b.handle_timeout(t);
        for s in drain(&mut b, t).iter().filter_map(|p| tcp(p)) {
            assert!(s.is(TcpFlags::SYN | TcpFlags::ACK) && s.seq == synack.seq, "{s:?}");
            sent_at.push(t.saturating_duration_since(t0).as_secs());
        }
        if freed_at.is_none() && b.socket_count() == 1 {
            freed_at = Some(t.saturating_duration_since(t0));
        }
    }
    assert_eq!(sent_at, [0, 1, 3, 7, 15, 31]);
    assert_eq!(freed_at, Some(Duration::from_secs(63)));
    assert_eq!(b.netstat(t0).count(TcpState::SynReceived), 0);
    assert!(!events(&mut b).iter().any(|e| e.kind == SocketEventKind::AcceptReady));

    let late = t0 + Duration::from_secs(64);
    b.handle_packet(
        late,
        0,
        &tcp_packet(
            synack.dst,
            synack.src,
            synack.ack,
            synack.seq + 1,
            TcpFlags::ACK | TcpFlags::PSH,
            b"GET /",
        ),
    );
    let out: Vec<Seg> = drain(&mut b, late).iter().filter_map(|p| tcp(p)).collect();
    assert_eq!(out.len(), 1);
    assert!(out[0].is(TcpFlags::RST) && out[0].seq == synack.seq + 1, "{:?}", out[0]);
    assert!(raw_syn(&mut b, late, 1002).is_some(), "the SYN queue has room again");
}

/// What a listener does with a segment, as Linux's `tcp_rcv_state_process` (LISTEN) and
/// `tcp_v4_send_reset` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenAnswer {
    /// A SYN-ACK: a half-open connection in the SYN queue.
    SynAck,
    /// `<SEQ=SEG.ACK><CTL=RST>` (RFC 9293 §3.10.7.2, "second check for an ACK").
    Reset,
    /// Nothing, and no state.
    Silent,
}

/// Hands `flags` (seq 7000, ack 5000) to a fresh listener and says what came back.
fn listen_answer(flags: TcpFlags) -> ListenAnswer {
    let (mut b, _, now) = server(config(2), 8);
    let pkt = tcp_packet(sa(CLIENT, 4000), sa(B, 80), 7000, 5000, flags, &[]);
    b.handle_packet(now, 0, &pkt);
    let out: Vec<Seg> = drain(&mut b, now).iter().filter_map(|p| tcp(p)).collect();
    let half_open = b.netstat(now).count(TcpState::SynReceived);
    match out.as_slice() {
        [] => {
            assert_eq!(half_open, 0, "{flags:?}: state kept without an answer");
            ListenAnswer::Silent
        }
        [s] if s.is(TcpFlags::SYN | TcpFlags::ACK)
            || s.is(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE) =>
        {
            assert_eq!((s.ack, half_open), (7001, 1), "{flags:?}");
            ListenAnswer::SynAck
        }
        [s] if s.is(TcpFlags::RST) => {
            assert_eq!((s.seq, half_open), (5000, 0), "{flags:?}: RST must carry SEG.ACK");
            ListenAnswer::Reset
        }
        other => panic!("{flags:?}: unexpected answer {other:?}"),
    }
}

#[test]
fn s4_listener_answers_each_flag_combination_as_linux() {
    use ListenAnswer::{Reset, Silent, SynAck};
    let f = |bits: &[TcpFlags]| bits.iter().fold(TcpFlags::empty(), |a, &b| a | b);
    let (syn, ack, rst, fin, psh, urg) =
        (TcpFlags::SYN, TcpFlags::ACK, TcpFlags::RST, TcpFlags::FIN, TcpFlags::PSH, TcpFlags::URG);
    let (ece, cwr) = (TcpFlags::ECE, TcpFlags::CWR);
    let table = [
        (f(&[syn]), SynAck),
        // URG and PSH change nothing on a SYN; ECE+CWR ask for ECN, which tcp_ecn = 2 (the
        // default) accepts: the SYN-ACK carries ECE (tests/ecn.rs).
        (f(&[syn, urg]), SynAck),
        (f(&[syn, psh]), SynAck),
        (f(&[syn, ece, cwr]), SynAck),
        // Linux: "if (th->fin) goto discard" before conn_request. (ustack used to open a
        // connection for it.)
        (f(&[syn, fin]), Silent),
        (f(&[syn, fin, psh, urg]), Silent),
        // RFC 9293 §3.10.7.2: "An incoming RST should be ignored", whatever comes with it.
        (f(&[rst]), Silent),
        (f(&[syn, rst]), Silent),
        (f(&[rst, ack]), Silent),
        (f(&[syn, rst, ack]), Silent),
        // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
        // state. An acceptable reset segment should be formed".
        (f(&[ack]), Reset),
        (f(&[syn, ack]), Reset),
        (f(&[fin, ack]), Reset),
        (f(&[psh, ack]), Reset),
        (f(&[syn, fin, ack]), Reset),
        // Neither SYN, RST nor ACK: "drop the segment and return".
        (TcpFlags::empty(), Silent),
        (f(&[fin]), Silent),
        (f(&[psh]), Silent),
        (f(&[urg]), Silent),
        (f(&[fin, psh, urg]), Silent),
    ];
    for (flags, want) in table {
        assert_eq!(listen_answer(flags), want, "{flags:?}");
    }
    // And every combination of the six classic bits follows the same three rules.
    for bits in 0u16..64 {
        let flags = TcpFlags::from_bits_truncate(bits);
        let want = if flags.contains(rst) {
            Silent
        } else if flags.contains(ack) {
            Reset
        } else if flags.contains(syn) && !flags.contains(fin) {
            SynAck
        } else {
            Silent
        };
        assert_eq!(listen_answer(flags), want, "{flags:?}");
    }
}
