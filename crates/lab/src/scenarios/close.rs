//! Closing: simultaneous close (S1), half-close (S9), the CLOSE-WAIT leak (S10), the
//! FIN-WAIT-2 timeout (S11), TIME-WAIT (S12), SO_REUSEADDR (S13), who holds which state
//! (S26).

use ustack_core::tcp_engine::{TcpState, TimerKind};
use ustack_core::{BindError, Duration, Instant, SocketHandle};
use ustack_wire::TcpFlags;

use crate::check::{Checks, s, times};
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::segment::{bare_segment, build_tcp};
use crate::trace::{Note, Side, Trace};
use crate::world::{Setup, World};

use super::PORT;

/// Opens one connection (the server accepts it); returns the client's and the server's
/// handles.
pub(crate) fn establish(w: &mut World, server: Auto) -> (SocketHandle, SocketHandle) {
    w.auto(Side::Server, Auto { accept: true, ..server });
    if w.stack(Side::Server).netstat(w.now()).sockets.iter().all(|s| s.state != TcpState::Listen) {
        w.listen(Side::Server, PORT, 128, false).expect("listen");
    }
    let before = w.node(Side::Server).accepted().len();
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    let ok = w.run_while(Duration::from_secs(10), |v| {
        !(v.node(Side::Client).connected(c) && v.node(Side::Server).accepted().len() > before)
    });
    assert!(ok, "the connection did not open");
    let sv = w.node(Side::Server).accepted()[before];
    (c, sv)
}

fn port(w: &World, side: Side, h: SocketHandle) -> u16 {
    w.node(side).ports(h).map_or(0, |p| p.0)
}

/// How long `side`'s connection `port` spent in TIME-WAIT, if it entered and left it.
fn time_wait_span(trace: &Trace, side: Side, port: u16) -> Option<Duration> {
    let states = trace.states(side, port);
    let i = states.iter().position(|(_, s)| *s == TcpState::TimeWait)?;
    let end = states.get(i + 1)?;
    Some(end.0 - states[i].0)
}

/// S1: both ends close at the same moment; the FINs cross.
pub(crate) fn simultaneous_close(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (c, sv) = establish(&mut w, Auto::default());
    let (cp, sp) = (port(&w, Side::Client, c), port(&w, Side::Server, sv));
    w.run_until(Instant::from_millis(500)).expect("run");
    w.close(Side::Client, c);
    w.close(Side::Server, sv);
    w.run_until(Instant::from_secs(70)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    for (side, p) in [(Side::Client, cp), (Side::Server, sp)] {
        let names = trace.state_names(side, p);
        let from = names.iter().position(|n| *n == "ESTABLISHED").map_or(0, |i| i + 1);
        checks.equal(
            format!(
                "the {side} goes FIN-WAIT-1 -> CLOSING -> TIME-WAIT -> CLOSED (RFC 9293 Figure 13)"
            ),
            vec!["FIN-WAIT-1", "CLOSING", "TIME-WAIT", "CLOSED"],
            names[from..].to_vec(),
        );
        checks.equal(
            format!("the {side} stays in TIME-WAIT 2·MSL = 60 s"),
            Some(Duration::from_secs(60)),
            time_wait_span(&trace, side, p),
        );
    }
    let fins: Vec<Side> = trace
        .packets
        .iter()
        .filter(|p| p.tcp().is_some_and(|t| t.is_fin()))
        .map(|p| p.from)
        .collect();
    checks.equal("one FIN each way, crossing", 2, fins.len());
    checks.that(
        "both sides hold TIME-WAIT: each sent a FIN before it received one",
        fins.contains(&Side::Client) && fins.contains(&Side::Server),
        "",
    );
    Run { trace, checks, ..Run::default() }
}

/// S9: the client sends and shuts down its side; the server keeps sending; then closes.
pub(crate) fn half_close(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    w.auto(Side::Client, Auto { read: true, ..Auto::default() });
    let (cp, sp) = (port(&w, Side::Client, c), port(&w, Side::Server, sv));
    let request = crate::pattern(2_000);
    w.send(Side::Client, c, &request);
    w.shutdown(Side::Client, c);
    w.run_while(Duration::from_secs(5), |v| !v.node(Side::Server).saw_eof(sv));
    let after_fin = w.now();
    // The server answers after it saw the client's end of stream: 30,000 bytes, then its FIN.
    w.run_for(Duration::from_millis(100)).expect("run");
    w.send_stream(Side::Server, sv, 30_000, true);
    let ok = w.run_while(Duration::from_secs(10), |v| !v.node(Side::Client).saw_eof(c));
    let client_got = w.node(Side::Client).received(c).to_vec();
    let server_got = w.node(Side::Server).received(sv).to_vec();
    w.close(Side::Client, c);
    w.run_for(Duration::from_secs(61)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that(
        "the server reads the client's 2,000 bytes, then the end of its stream",
        server_got == request,
        format!("{} bytes", server_got.len()),
    );
    let cs = trace.state_names(Side::Client, cp);
    checks.equal(
        "the active closer goes ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED",
        vec!["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"],
        cs,
    );
    let ss = trace.state_names(Side::Server, sp);
    checks.equal(
        "the passive closer goes ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED",
        vec!["SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED"],
        ss,
    );
    let fw2 = trace.entered(Side::Client, cp, TcpState::FinWait2);
    let data_in_fw2 = trace
        .sent_by(Side::Server)
        .filter(|p| p.tcp().is_some_and(|t| t.has_data()))
        .filter(|p| p.arrived_at().zip(fw2).is_some_and(|(a, f)| a > f))
        .count();
    checks.that(
        "after its FIN the client still receives: data arrives while it is in FIN-WAIT-2",
        data_in_fw2 > 0,
        format!("{data_in_fw2} data segments arrived in FIN-WAIT-2 (from {:?})", fw2.map(s)),
    );
    checks.that(
        "the server sends everything it buffered before its own FIN: the client reads all 30,000 bytes, then end of stream",
        ok && client_got == crate::pattern(30_000),
        format!("{} bytes", client_got.len()),
    );
    let last_data = trace
        .sent_by(Side::Server)
        .filter(|p| p.tcp().is_some_and(|t| t.has_data()))
        .map(|p| p.sent_at)
        .max();
    let fin = trace
        .sent_by(Side::Server)
        .find(|p| p.tcp().is_some_and(|t| t.is_fin()))
        .map(|p| p.sent_at);
    checks.that(
        "the server's FIN follows its last data",
        fin.zip(last_data).is_some_and(|(f, d)| f >= d && f > after_fin),
        format!("last data {:?}, FIN {:?}", last_data.map(s), fin.map(s)),
    );
    Run { trace, checks, ..Run::default() }
}

/// S10: the server never closes after the client did: CLOSE-WAIT forever, with unread bytes.
pub(crate) fn close_wait_leak(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (c, sv) = establish(&mut w, Auto::default());
    let sp = port(&w, Side::Server, sv);
    let cp = port(&w, Side::Client, c);
    w.send(Side::Client, c, b"a request nobody reads\n");
    w.run_for(Duration::from_millis(100)).expect("run");
    w.close(Side::Client, c);
    w.run_until(Instant::from_secs(30)).expect("run");
    let at_30 = w.ss(Side::Server);
    let client_30 = w.ss(Side::Client);
    w.run_until(Instant::from_secs(600)).expect("run");
    let at_600 = w.ss(Side::Server);
    let trace = w.finish();

    let mut checks = Checks::default();
    let line = |ss: &str| {
        ss.lines()
            .find(|l| l.contains("CLOSE-WAIT"))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
    };
    checks.equal(
        "ss on the server shows CLOSE-WAIT with the 23 unread bytes in Recv-Q",
        Some("CLOSE-WAIT 23 0".to_string()),
        line(&at_30),
    );
    checks.equal(
        "ten minutes later it is still there: nothing but the application's close() ends CLOSE-WAIT",
        Some("CLOSE-WAIT 23 0".to_string()),
        line(&at_600),
    );
    checks.equal(
        "the server's socket never leaves CLOSE-WAIT",
        Some(TcpState::CloseWait),
        trace.states(Side::Server, sp).last().map(|x| x.1),
    );
    let fins = trace.sent_by(Side::Server).filter(|p| p.tcp().is_some_and(|t| t.is_fin())).count();
    checks.equal("the server never sends a FIN", 0, fins);
    let timer = trace.timer_firings(Side::Client, TimerKind::FinWait2);
    checks.that(
        "the client, which closed, gives up waiting in FIN-WAIT-2 after tcp_fin_timeout (60 s) and is gone",
        timer.len() == 1 && trace.states(Side::Client, cp).last().is_some_and(|x| x.1 == TcpState::Closed),
        format!("FIN-WAIT-2 timer at {:?}", times(&timer)),
    );
    let extras = vec![
        ("ss -tan on the server at 30 s (the leak)".to_string(), at_30),
        ("ss -tan on the client at 30 s".to_string(), client_30),
        ("ss -tan on the server at 600 s".to_string(), at_600),
    ];
    Run { trace, checks, extras, ..Run::default() }
}

/// S11: an orphaned FIN-WAIT-2 socket is closed after tcp_fin_timeout; a socket the
/// application still holds (shutdown, not close) waits on.
pub(crate) fn fin_wait_2_timeout(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (a, _) = establish(&mut w, Auto::default());
    let (b, _) = establish(&mut w, Auto::default());
    let (pa, pb) = (port(&w, Side::Client, a), port(&w, Side::Client, b));
    w.run_until(Instant::from_secs(1)).expect("run");
    w.close(Side::Client, a);
    w.shutdown(Side::Client, b);
    w.run_until(Instant::from_secs(100)).expect("run");
    let view = w.ss(Side::Client);
    let trace = w.finish();

    let mut checks = Checks::default();
    let fw2 = trace.entered(Side::Client, pa, TcpState::FinWait2);
    let fired = trace
        .notes_of(Side::Client)
        .filter(|n| n.note == Note::Timer(TimerKind::FinWait2) && n.conn.is_some_and(|c| c.0 == pa))
        .map(|n| n.at)
        .collect::<Vec<_>>();
    checks.equal(
        "the closed (orphaned) socket's FIN-WAIT-2 timer fires tcp_fin_timeout = 60 s after it entered FIN-WAIT-2",
        fw2.map(|t| times(&[t + Duration::from_secs(60)])),
        Some(times(&fired)),
    );
    checks.equal(
        "and the socket is gone: FIN-WAIT-2 -> CLOSED, no RST sent",
        Some(TcpState::Closed),
        trace.states(Side::Client, pa).last().map(|x| x.1),
    );
    checks.that("no RST", !trace.packets.iter().any(|p| p.tcp().is_some_and(|t| t.is_rst())), "");
    checks.equal(
        "the half-closed socket the application still holds stays in FIN-WAIT-2 (Linux applies the timeout to orphans only)",
        Some(TcpState::FinWait2),
        trace.states(Side::Client, pb).last().map(|x| x.1),
    );
    let extras = vec![("ss -tan on the client at 100 s".to_string(), view)];
    Run { trace, checks, extras, ..Run::default() }
}

/// S12: the client's last ACK is lost; the server retransmits its FIN, which TIME-WAIT
/// ACKs again and restarts its 2·MSL; a RST in TIME-WAIT is ignored (RFC 1337).
pub(crate) fn time_wait_lost_last_ack(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let (c, _sv) = establish(&mut w, Auto { read: true, close_on_eof: true, ..Auto::default() });
    let cp = port(&w, Side::Client, c);
    w.run_until(Instant::from_millis(500)).expect("run");
    // Lose the client's ACK of the server's FIN: the first pure ACK it sends after its own
    // FIN (the first rule only watches for that FIN and takes nothing).
    let fin_sent: std::rc::Rc<std::cell::Cell<bool>> = std::rc::Rc::default();
    let seen = fin_sent.clone();
    w.rule(
        Side::Client,
        Rule::every(
            Match::Custom(Box::new(move |t, _| {
                if t.is_fin() {
                    seen.set(true);
                }
                false
            })),
            Action::Drop,
            "",
        ),
    );
    let after_fin = fin_sent.clone();
    w.rule(
        Side::Client,
        Rule::nth(
            Match::Custom(Box::new(move |t, _| t.is_pure_ack() && after_fin.get())),
            1,
            Action::Drop,
            "the last ACK is lost",
        ),
    );
    w.close(Side::Client, c);
    let tuple = w.stack(Side::Client).tcp_conn(c).tuple();
    w.run_while(Duration::from_secs(5), |v| {
        v.node(Side::Client).state(c) != Some(TcpState::TimeWait)
    });
    let entered = w.now();
    w.run_until(entered + Duration::from_secs(20)).expect("run");
    // An attacker's RST, in window, 20 s into TIME-WAIT.
    // Closed by the application, the connection is a TIME-WAIT record by now.
    let client = w.stack(Side::Client);
    let recv_next = match client.tcp_time_wait(c) {
        Some(tw) => tw.recv_next(),
        None => client.tcp_conn(c).recv_next(),
    };
    let rst = bare_segment(tuple.remote.port(), tuple.local.port(), recv_next.0, 0, TcpFlags::RST);
    w.inject(
        Side::Server,
        build_tcp(tuple.remote, tuple.local, &rst),
        "a RST for the connection in TIME-WAIT",
    );
    w.run_until(entered + Duration::from_secs(120)).expect("run");
    let mut trace = w.finish();
    // Point out the 2·MSL timer where the run shows it starting and restarting.
    let conn = Some((tuple.local.port(), tuple.remote.port()));
    if let Some(t) = trace.entered(Side::Client, cp, TcpState::TimeWait) {
        trace.annotate(t, Side::Client, conn, "2·MSL timer started: 60 s");
    }
    let refin = trace
        .sent_by(Side::Server)
        .filter(|p| p.injected.is_none() && p.tcp().is_some_and(|t| t.is_fin()))
        .nth(1)
        .and_then(|p| p.arrived_at());
    if let Some(t) = refin {
        trace.annotate(t, Side::Client, conn, "FIN again: re-ACKed, 2·MSL timer restarted: 60 s");
    }

    let mut checks = Checks::default();
    let server_fins: Vec<Instant> = trace
        .sent_by(Side::Server)
        .filter(|p| p.injected.is_none() && p.tcp().is_some_and(|t| t.is_fin()))
        .map(|p| p.sent_at)
        .collect();
    checks.that(
        "the server, its FIN unacknowledged, retransmits it after its RTO",
        server_fins.len() == 2,
        format!("FINs at {:?}", times(&server_fins)),
    );
    let rexmit_arrival = trace
        .sent_by(Side::Server)
        .filter(|p| p.injected.is_none() && p.tcp().is_some_and(|t| t.is_fin()))
        .nth(1)
        .and_then(|p| p.arrived_at());
    let reack = trace
        .sent_by(Side::Client)
        .find(|p| Some(p.sent_at) == rexmit_arrival && p.tcp().is_some_and(|t| t.is_pure_ack()));
    checks.that(
        "the client in TIME-WAIT ACKs the retransmitted FIN again, at once",
        reack.is_some_and(|p| !p.lost()),
        format!("retransmitted FIN arrived {:?}", rexmit_arrival.map(s)),
    );
    let tw = trace.entered(Side::Client, cp, TcpState::TimeWait);
    let closed =
        trace.states(Side::Client, cp).into_iter().find(|x| x.1 == TcpState::Closed).map(|x| x.0);
    checks.equal(
        "TIME-WAIT is restarted by the retransmitted FIN: it ends 2·MSL = 60 s after that FIN, not after entering",
        rexmit_arrival.map(|t| s(t + Duration::from_secs(60))),
        closed.map(s),
    );
    checks.that(
        "so it lasted longer than 60 s in all",
        tw.zip(closed).is_some_and(|(a, b)| b - a > Duration::from_secs(60)),
        format!("entered {:?}, left {:?}", tw.map(s), closed.map(s)),
    );
    checks.equal(
        "the TIME-WAIT timer fires once, at the end",
        closed.map(|t| times(&[t])),
        Some(times(&trace.timer_firings(Side::Client, TimerKind::TimeWait))),
    );
    let rst_ignored = trace.notes_of(Side::Client).any(|n| n.note == Note::Dropped("bad-rst"));
    checks.that(
        "a RST arriving in TIME-WAIT is ignored (RFC 1337, tcp_rfc1337): TIME-WAIT is not assassinated",
        rst_ignored && closed.is_some_and(|t| t > Instant::from_secs(60)),
        "",
    );
    checks.equal(
        "the server ends when the re-ACK arrives: LAST-ACK -> CLOSED",
        Some(TcpState::Closed),
        trace
            .notes_of(Side::Server)
            .filter_map(|n| match n.note {
                Note::State { to, .. } if n.conn.is_some_and(|c| c.1 == cp) => Some(to),
                _ => None,
            })
            .last(),
    );
    Run { trace, checks, ..Run::default() }
}

/// S13: a server that closes first collects TIME-WAIT sockets; restarting it needs
/// SO_REUSEADDR.
pub(crate) fn reuseaddr(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    let l = w.listen(Side::Server, PORT, 128, false).expect("listen");
    w.auto(Side::Client, Auto { read: true, close_on_eof: true, ..Auto::default() });
    for _ in 0..5 {
        let (_, sv) = establish(&mut w, Auto::default());
        w.send(Side::Server, sv, b"HTTP/1.0 200 OK\r\n\r\nhello\n");
        w.close(Side::Server, sv);
        w.run_for(Duration::from_millis(200)).expect("run");
    }
    let view = w.ss(Side::Server);
    let tw = w.stack(Side::Server).netstat(w.now()).count(TcpState::TimeWait);
    // The server restarts: its listener closes and a new one binds the port.
    w.close(Side::Server, l);
    let without = w.listen(Side::Server, PORT, 128, false);
    let with = w.listen(Side::Server, PORT, 128, true);
    w.run_for(Duration::from_secs(61)).expect("run");
    let tw_after = w.stack(Side::Server).netstat(w.now()).count(TcpState::TimeWait);
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.equal(
        "the server, which closed each connection first, holds 5 TIME-WAIT sockets",
        5,
        tw,
    );
    checks.equal(
        "a restarted server's bind without SO_REUSEADDR fails: address in use",
        Err(BindError::AddrInUse),
        without.map(drop),
    );
    checks.that(
        "with SO_REUSEADDR the bind succeeds while they are in TIME-WAIT",
        with.is_ok(),
        format!("{with:?}"),
    );
    checks.equal(
        "SO_REUSEADDR does not end TIME-WAIT: 2·MSL later they are gone on their own",
        0,
        tw_after,
    );
    let client_tw = trace
        .notes_of(Side::Client)
        .any(|n| matches!(n.note, Note::State { to: TcpState::TimeWait, .. }));
    checks.that("the clients, the passive closers, hold no TIME-WAIT", !client_tw, "");
    let extras = vec![("ss -tan on the server before the restart".to_string(), view)];
    Run { trace, checks, extras, ..Run::default() }
}

/// S26: TIME-WAIT is on whichever side closes first; CLOSE-WAIT on the other.
pub(crate) fn who_holds_time_wait(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    // Connection A: the client closes first. Connection B: the server closes first.
    let (a, sa) = establish(&mut w, Auto::default());
    let (b, sb) = establish(&mut w, Auto::default());
    w.auto(Side::Client, Auto { read: true, ..Auto::default() });
    w.auto(Side::Server, Auto { read: true, ..Auto::default() });
    w.close(Side::Client, a);
    w.close(Side::Server, sb);
    w.run_for(Duration::from_millis(200)).expect("run");
    let client_mid = w.ss(Side::Client);
    let server_mid = w.ss(Side::Server);
    w.close(Side::Server, sa);
    w.close(Side::Client, b);
    w.run_for(Duration::from_millis(200)).expect("run");
    let client_tw = w.ss(Side::Client);
    let server_tw = w.ss(Side::Server);
    let (pa, pb) = (port(&w, Side::Client, a), port(&w, Side::Client, b));
    // Many short connections the server closes first; each client closes when it reads the
    // end of the stream.
    w.auto(Side::Client, Auto { read: true, close_on_eof: true, ..Auto::default() });
    for _ in 0..20 {
        let (_, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
        w.close(Side::Server, sv);
    }
    w.run_for(Duration::from_millis(200)).expect("run");
    let server_many = w.stack(Side::Server).netstat(w.now()).count(TcpState::TimeWait);
    let client_many = w.stack(Side::Client).netstat(w.now()).count(TcpState::TimeWait);
    let trace = w.finish();

    let mut checks = Checks::default();
    let has = |ss: &str, port: u16, state: &str| {
        ss.lines().any(|l| l.contains(&format!(":{port}")) && l.starts_with(state))
    };
    checks.that(
        "A (client closed first): the client holds FIN-WAIT-2, the server CLOSE-WAIT",
        has(&client_mid, pa, "FIN-WAIT-2") && server_mid.contains("CLOSE-WAIT"),
        "",
    );
    checks.that(
        "B (server closed first): the client holds CLOSE-WAIT",
        has(&client_mid, pb, "CLOSE-WAIT"),
        "",
    );
    checks.that(
        "after both close, A's TIME-WAIT is on the client",
        has(&client_tw, pa, "TIME-WAIT"),
        "",
    );
    checks.that(
        "and B's TIME-WAIT is on the server",
        server_tw.lines().any(|l| l.starts_with("TIME-WAIT") && l.contains(&format!(":{pb}"))),
        "",
    );
    checks.that(
        "and never the other way round",
        !has(&client_tw, pb, "TIME-WAIT")
            && !server_tw
                .lines()
                .any(|l| l.starts_with("TIME-WAIT") && l.contains(&format!(":{pa}"))),
        "",
    );
    checks.equal("a server that closes 20 short connections first pays 20 more TIME-WAIT sockets (21 with B)", 21, server_many);
    checks.equal(
        "its clients, which closed second, hold none (the one TIME-WAIT on the client is A's)",
        1,
        client_many,
    );
    let extras = vec![
        ("ss -tan on the client after one close each".to_string(), client_mid),
        ("ss -tan on the server after one close each".to_string(), server_mid),
        ("ss -tan on the client after both closed".to_string(), client_tw),
        ("ss -tan on the server after both closed".to_string(), server_tw),
    ];
    let _ = TimerKind::TimeWait;
    Run { trace, checks, extras, ..Run::default() }
}
