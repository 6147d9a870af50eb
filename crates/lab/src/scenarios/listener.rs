//! The listener's options: TCP Fast Open (S6), TCP_DEFER_ACCEPT (S7), SYN cookies under a
//! SYN flood (S8). Each check states what RFC 7413, RFC 4987 or Linux does.

use ustack_core::tcp_engine::TcpState;
use ustack_core::tcp_engine::tfo::{FastOpenKey, FastOpenKeys};
use ustack_core::{Duration, Instant};
use ustack_wire::{TcpFlags, TcpOptions};

use crate::check::{Checks, s, times};
use crate::node::Auto;
use crate::registry::Run;
use crate::segment::{bare_segment, build_tcp};
use crate::trace::{Side, Trace};
use crate::world::{CLIENT, SERVER, Setup, World};

use super::{PORT, SERVE};

/// The key Linux's packetdrill setup gives `tcp_fastopen_key`, so the cookie can be checked
/// against Linux's SipHash of the two addresses.
const KEY: FastOpenKey =
    FastOpenKey::from_words([0xa1a1_a1a1, 0xb2b2_b2b2, 0xc3c3_c3c3, 0xd4d4_d4d4]);

/// When the server's application read its first bytes on the connection from `cport`.
fn server_read_at(trace: &Trace, cport: u16) -> Option<Instant> {
    trace
        .notes_matching(Side::Server, "read ")
        .find(|n| n.conn.is_some_and(|c| c.1 == cport) && n.note.to_string().ends_with("bytes"))
        .map(|n| n.at)
}

/// S6: two requests to a Fast Open server; the first asks for a cookie, the second carries
/// its request in the SYN.
pub(crate) fn fastopen(seed: u64) -> Run {
    let fo = |c: &mut ustack_core::StackConfig| {
        c.tcp_fastopen = 0x3;
        c.tcp_fastopen_key = Some(FastOpenKeys::new(KEY));
    };
    let setup = Setup::new().stack(Side::Client, fo).stack(Side::Server, fo);
    let mut w = World::new(&setup, seed);
    w.auto(Side::Server, SERVE);
    let l = w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.set_fastopen(Side::Server, l, 16);
    let request = b"GET / HTTP/1.1\r\nHost: ustack\r\n\r\n";
    let mut starts = Vec::new();
    let mut ports = Vec::new();
    for at in [Instant::ZERO, Instant::from_secs(1)] {
        w.run_until(at).expect("run");
        starts.push(w.now());
        let c = w.connect_with_data(Side::Client, PORT, request).expect("connect");
        ports.push(w.node(Side::Client).ports(c).expect("ports").0);
        w.run_for(Duration::from_millis(200)).expect("run");
        w.close(Side::Client, c);
    }
    w.run_for(Duration::from_millis(500)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    let syn = |port: u16| {
        trace
            .sent_by(Side::Client)
            .find_map(|p| p.tcp().filter(|t| t.is_syn() && t.src.port() == port).cloned())
    };
    let synack = |port: u16| {
        trace
            .sent_by(Side::Server)
            .find_map(|p| p.tcp().filter(|t| t.is_syn_ack() && t.dst.port() == port).cloned())
    };
    let (syn1, syn2) = (syn(ports[0]), syn(ports[1]));
    let (sa1, sa2) = (synack(ports[0]), synack(ports[1]));
    checks.equal(
        "the first SYN asks for a cookie: an empty Fast Open option, no data (RFC 7413 §4.1.3)",
        Some((true, 0)),
        syn1.as_ref().map(|t| (t.options.fast_open.is_some_and(|c| c.is_request()), t.len)),
    );
    let cookie = KEY.cookie(CLIENT, SERVER);
    checks.equal(
        "the server's SYN-ACK brings the cookie: Linux's SipHash-2-4 of both addresses under tcp_fastopen_key",
        Some(Some(cookie)),
        sa1.as_ref().map(|t| t.options.fast_open),
    );
    let (r1, r2) = (server_read_at(&trace, ports[0]), server_read_at(&trace, ports[1]));
    let after = |r: Option<Instant>, start: Instant| r.map(|r| r - start);
    checks.equal(
        "without the cookie the request reaches the server after the handshake, 1.5 round trips (30 ms) after connect",
        Some(Duration::from_millis(30)),
        after(r1, starts[0]).map(round_ms),
    );
    checks.equal(
        "the second SYN carries the cookie and the request (RFC 7413 §3)",
        Some((Some(cookie), request.len() as u32)),
        syn2.as_ref().map(|t| (t.options.fast_open, t.len)),
    );
    checks.equal(
        "the SYN-ACK acknowledges the SYN and its data, and carries no cookie (the one sent was valid)",
        Some((syn2.as_ref().map_or(0, |t| t.seq).wrapping_add(1 + request.len() as u32), None)),
        sa2.as_ref().map(|t| (t.ack, t.options.fast_open)),
    );
    checks.equal(
        "the server's application has the request half a round trip (10 ms) after connect: one round trip earlier",
        Some(Duration::from_millis(10)),
        after(r2, starts[1]).map(round_ms),
    );
    let passive = trace.notes_matching(Side::Server, "(TCPFastOpenPassive)").count();
    let active = trace.notes_matching(Side::Client, "(TCPFastOpenActive)").count();
    checks.equal(
        "counted: TCPFastOpenPassive on the server, TCPFastOpenActive on the client",
        (1, 1),
        (passive, active),
    );
    Run { trace, checks, ..Run::default() }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(((d.as_secs_f64() * 1e3).round()) as u64)
}

/// `t` to the nearest millisecond (the link's transmission times are a few µs).
fn ms(t: Instant) -> Instant {
    Instant::ZERO + round_ms(t - Instant::ZERO)
}

/// S7: a listener with TCP_DEFER_ACCEPT 5 s: one client sends its request 1.5 s after
/// connecting, another never sends.
pub(crate) fn defer_accept(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, Auto { accept: true, read: true, close_on_eof: false });
    let l = w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.set_defer_accept(Side::Server, l, 5);
    let talker = w.connect(Side::Client, 0, PORT).expect("connect");
    let silent = w.connect(Side::Client, 0, PORT).expect("connect");
    let tport = w.node(Side::Client).ports(talker).expect("ports").0;
    let sport = w.node(Side::Client).ports(silent).expect("ports").0;
    w.run_until(Instant::from_millis(1500)).expect("run");
    let ss_before = w.ss(Side::Server);
    w.send(Side::Client, talker, b"GET / HTTP/1.0\r\n\r\n");
    w.run_until(Instant::from_secs(10)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    let est = |side, port| trace.entered(side, port, TcpState::Established).map(ms);
    checks.equal(
        "both clients are ESTABLISHED after one round trip: their handshake is the usual one",
        (Some(Instant::from_millis(20)), Some(Instant::from_millis(20))),
        (est(Side::Client, tport), est(Side::Client, sport)),
    );
    let drops = trace
        .notes_matching(Side::Server, "(TCPDeferAcceptDrop)")
        .map(|n| n.at)
        .collect::<Vec<_>>();
    checks.that(
        "the server drops both bare final ACKs and keeps the connections in SYN-RECEIVED (Linux tcp_check_req, TCPDeferAcceptDrop)",
        drops.len() == 2 && ss_before.lines().filter(|l| l.starts_with("SYN-RECV")).count() == 2,
        format!("drops at {:?}; ss at 1.5 s:\n{ss_before}", times(&drops)),
    );
    let accepted = |port: u16| {
        trace
            .notes_matching(Side::Server, "accept()")
            .find(|n| n.conn.is_some_and(|c| c.1 == port))
            .map(|n| n.at)
    };
    checks.equal(
        "the talker is accepted when its request arrives (1.51 s), and the request is read at once",
        (Some(Instant::from_millis(1510)), Some(Instant::from_millis(1510))),
        (accepted(tport).map(ms), server_read_at(&trace, tport).map(ms)),
    );
    let synacks = |port: u16| {
        trace
            .sent_by(Side::Server)
            .filter(|p| p.tcp().is_some_and(|t| t.is_syn_ack() && t.dst.port() == port))
            .map(|p| p.sent_at)
            .collect::<Vec<_>>()
    };
    checks.equal(
        "the silent client's SYN-ACK is not sent again 1 s or 3 s after the first, only 7 s after it: the end of 5 s rounded up to three retransmissions (Linux syn_ack_recalc)",
        vec![s(Instant::from_millis(10)), s(Instant::from_millis(7010))],
        synacks(sport).into_iter().map(|t| s(ms(t))).collect::<Vec<_>>(),
    );
    checks.equal(
        "its answer to that last SYN-ACK, a bare ACK, completes the connection: accepted at 7.03 s, nothing to read",
        (Some(Instant::from_millis(7030)), None),
        (accepted(sport).map(ms), server_read_at(&trace, sport)),
    );
    Run { trace, checks, ..Run::default() }
}

/// S8: 200 SYNs from spoofed addresses fill a backlog-8 SYN queue; the listener answers the
/// rest with cookies, and a real client still gets in.
pub(crate) fn syn_flood_cookies(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.auto(Side::Server, SERVE);
    w.listen(Side::Server, PORT, 8, false).expect("listen");
    for i in 0..200u32 {
        let src = std::net::Ipv4Addr::new(10, 0, 0, 100 + (i % 100) as u8);
        let sport = 20_000 + i as u16;
        let mut syn = bare_segment(sport, PORT, i.wrapping_mul(2_654_435_761), 0, TcpFlags::SYN);
        syn.options.mss = Some(1460);
        let bytes = build_tcp(
            std::net::SocketAddrV4::new(src, sport),
            std::net::SocketAddrV4::new(SERVER, PORT),
            &syn,
        );
        w.inject(Side::Client, bytes, "a SYN from a spoofed address");
    }
    w.run_until(Instant::from_millis(100)).expect("run");
    let ss_flooded = w.ss(Side::Server);
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    let cport = w.node(Side::Client).ports(c).expect("ports").0;
    w.send(Side::Client, c, b"hello through a cookie");
    w.run_until(Instant::from_millis(300)).expect("run");
    // A forged ACK: a 4-tuple that never sent a SYN.
    let mut forged = bare_segment(4_444, PORT, 1, 0xdead_beef, TcpFlags::ACK);
    forged.options = TcpOptions::default();
    let bytes = build_tcp(
        std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 77), 4_444),
        std::net::SocketAddrV4::new(SERVER, PORT),
        &forged,
    );
    w.inject(Side::Client, bytes, "a forged ACK with no SYN behind it");
    w.run_until(Instant::from_millis(500)).expect("run");
    let server = w.stack(Side::Server);
    let info = w
        .node(Side::Server)
        .accepted()
        .iter()
        .map(|&h| server.tcp_conn(h))
        .find(|c| c.tuple().remote.port() == cport)
        .map(|c| c.info());
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.equal(
        "the SYN queue holds the backlog (8) half-open connections and no more",
        8,
        ss_flooded.lines().filter(|l| l.starts_with("SYN-RECV")).count(),
    );
    let sent = trace.notes_matching(Side::Server, "(SyncookiesSent)").map(|n| match &n.note {
        crate::trace::Note::Counter { delta, .. } => *delta,
        _ => 0,
    });
    checks.equal(
        "the other 192 spoofed SYNs and the client's get a cookie SYN-ACK (SyncookiesSent)",
        193,
        sent.sum::<u64>(),
    );
    let client_syn = trace
        .sent_by(Side::Client)
        .find_map(|p| p.tcp().filter(|t| t.is_syn() && t.src.port() == cport).cloned());
    let synack = trace
        .sent_by(Side::Server)
        .find_map(|p| p.tcp().filter(|t| t.is_syn_ack() && t.dst.port() == cport).cloned());
    let ts = synack.as_ref().and_then(|t| t.options.timestamps).is_some();
    let offered = client_syn.as_ref().map(|t| (t.options.window_scale, t.options.sack_permitted));
    let (wscale, sack) = offered.unwrap_or((None, false));
    checks.equal(
        "nothing is kept for the cookie, yet the connection gets the client's window scale and SACK-permitted back: the SYN-ACK's TSval carried them in its low 6 bits (Linux cookie_init_timestamp)",
        Some((true, wscale, sack)),
        info.map(|i| (ts, i.window_scaling.then_some(i.snd_wscale), i.sack)),
    );
    checks.equal(
        "the client's ACK carries the cookie back: the connection opens straight into the accept queue and its data is read (SyncookiesRecv)",
        (Some(Instant::from_millis(130)), 1),
        (
            server_read_at(&trace, cport).map(ms),
            trace.notes_matching(Side::Server, "(SyncookiesRecv)").count(),
        ),
    );
    let rst = trace
        .sent_by(Side::Server)
        .find_map(|p| p.tcp().filter(|t| t.is_rst() && t.dst.port() == 4_444).map(|t| t.seq));
    checks.equal(
        "a forged ACK fails the check (SyncookiesFailed) and gets the listener's RST, seq = SEG.ACK",
        (1, Some(0xdead_beef)),
        (trace.notes_matching(Side::Server, "(SyncookiesFailed)").count(), rst),
    );
    Run { trace, checks, ..Run::default() }
}
