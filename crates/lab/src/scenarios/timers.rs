//! The seven timers (S21): each fires, at the time its setting says, and shows in the trace.

use ustack_core::tcp_engine::{BufferSizes, ConnError, TcpState, TimerKind};
use ustack_core::{Duration, Instant, SocketHandle};

use crate::check::{Checks, s, times};
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::trace::{Note, Side, Trace};
use crate::world::{Setup, World};

use super::PORT;

/// Port nobody answers (its SYNs are lost).
const DARK: u16 = 6000;

fn fired(trace: &Trace, side: Side, port: u16, kind: TimerKind) -> Vec<Instant> {
    trace
        .notes_of(side)
        .filter(|n| n.note == Note::Timer(kind) && n.conn.is_some_and(|c| c.0 == port))
        .map(|n| n.at)
        .collect()
}

fn open(w: &mut World) -> (SocketHandle, SocketHandle) {
    let before = w.node(Side::Server).accepted().len();
    let c = w.connect(Side::Client, 0, PORT).expect("connect");
    w.run_while(Duration::from_secs(5), |v| {
        !(v.node(Side::Client).connected(c) && v.node(Side::Server).accepted().len() > before)
    });
    (c, w.node(Side::Server).accepted()[before])
}

/// S21: connection-establishment, retransmission, delayed ACK, persist, keepalive,
/// FIN-WAIT-2 and TIME-WAIT, each firing.
pub(crate) fn timers(seed: u64) -> Run {
    // Every timer's setting is changed from Linux's default, to show it is one.
    let setup = Setup::new()
        .tcp(|t| {
            t.syn_retries = 2;
            t.keepalive_time = Duration::from_secs(20);
            t.keepalive_intvl = Duration::from_secs(5);
            t.keepalive_probes = 3;
            t.fin_timeout = Duration::from_secs(15);
            t.msl = Duration::from_secs(5);
        })
        .stack(Side::Server, |s| s.tcp.rmem = BufferSizes { min: 4096, default: 8192, max: 8192 });
    let mut w = World::new(&setup, seed);
    w.auto(Side::Server, Auto { accept: true, ..Auto::default() });
    w.listen(Side::Server, PORT, 16, false).expect("listen");
    w.rule(
        Side::Client,
        Rule::every(
            Match::Custom(Box::new(|t, _| t.is_syn() && t.dst.port() == DARK)),
            Action::Drop,
            "nobody answers on port 6000",
        ),
    );

    // 1. Connection establishment (and retransmission of the SYN): tcp_syn_retries 2.
    let dark = w.connect(Side::Client, 0, DARK).expect("connect");
    let dark_port = w.node(Side::Client).ports(dark).map_or(0, |p| p.0);
    w.run_until(Instant::from_secs(10)).expect("run");
    let dark_error = w.node(Side::Client).closed(dark);

    // 2. Delayed ACK: small writes 200 ms apart; the server has nothing to send back.
    let (a, sa) = open(&mut w);
    let pa = w.node(Side::Client).ports(a).map_or(0, |p| p.0);
    for _ in 0..8 {
        w.send(Side::Client, a, b"ping\n");
        w.run_for(Duration::from_millis(200)).expect("run");
    }
    // 3. Retransmission: the next segment is lost.
    let lost_from = w.now();
    w.rule(
        Side::Client,
        Rule::every(
            Match::Custom(Box::new(move |t, now| {
                t.has_data()
                    && t.src.port() == pa
                    && now >= lost_from
                    && now < lost_from + Duration::from_millis(1)
            })),
            Action::Drop,
            "this segment is lost",
        ),
    );
    w.send(Side::Client, a, b"lost once\n");
    w.run_for(Duration::from_secs(2)).expect("run");
    // 4. Persist: the server stops reading; 30,000 bytes fill its 8 KiB buffer.
    w.send_stream(Side::Client, a, 30_000, false);
    w.run_for(Duration::from_secs(6)).expect("run");
    w.auto(Side::Server, Auto { accept: true, read: true, ..Auto::default() });
    w.read(Side::Server, sa);
    let want = 8 * 5 + 10 + 30_000;
    w.run_while(Duration::from_secs(30), |v| v.node(Side::Server).received(sa).len() < want);
    w.run_for(Duration::from_secs(1)).expect("run");
    // 5. Keepalive: on, then idle for 20 s and more.
    let now = w.now();
    w.node_mut(Side::Client).stack.tcp_set_keepalive(now, a, true);
    w.note(Side::Client, Some(a), Note::App("setsockopt(SO_KEEPALIVE, 1)".into()));
    w.run_for(Duration::from_secs(30)).expect("run");
    // 6. FIN-WAIT-2: the client closes; the server never does.
    w.close(Side::Client, a);
    w.run_for(Duration::from_secs(20)).expect("run");
    // 7. TIME-WAIT: a connection the client closes first and the server closes after.
    w.auto(Side::Server, Auto { accept: true, read: true, close_on_eof: true });
    let (b, _) = open(&mut w);
    let pb = w.node(Side::Client).ports(b).map_or(0, |p| p.0);
    w.close(Side::Client, b);
    w.run_for(Duration::from_secs(15)).expect("run");
    let sp = w.node(Side::Server).ports(sa).map_or(0, |p| p.0);
    let trace = w.finish();

    let mut checks = Checks::default();
    let syns: Vec<Instant> = trace
        .sent_by(Side::Client)
        .filter(|p| p.tcp().is_some_and(|t| t.is_syn() && t.dst.port() == DARK))
        .map(|p| p.sent_at)
        .collect();
    checks.equal(
        "retransmission: the unanswered SYN is resent at 1 s and 3 s (tcp_syn_retries set to 2)",
        times(&[0, 1, 3].map(Instant::from_secs)),
        times(&syns),
    );
    checks.equal(
        "connection establishment: fires at 7 s (1 + 2 + 4) and connect() fails with ETIMEDOUT",
        (times(&[Instant::from_secs(7)]), Some(Some(ConnError::TimedOut))),
        (times(&fired(&trace, Side::Client, dark_port, TimerKind::Establish)), dark_error),
    );
    let delack = fired(&trace, Side::Server, sp, TimerKind::DelayedAck);
    let delayed_ok = delack.iter().any(|t| {
        trace
            .sent_by(Side::Server)
            .any(|p| p.sent_at == *t && p.tcp().is_some_and(|x| x.is_pure_ack()))
            && trace.sent_by(Side::Client).any(|p| {
                p.arrived_at().is_some_and(|a| a + Duration::from_millis(40) == *t)
                    && p.tcp().is_some_and(|x| x.has_data())
            })
    });
    checks.that(
        "delayed ACK: the server holds its ACK of a lone segment 40 ms, then the timer sends it",
        delayed_ok,
        format!("fired at {:?}", times(&delack)),
    );
    let rto = fired(&trace, Side::Client, pa, TimerKind::Retransmit);
    checks.that(
        "retransmission: the lost data segment is resent when the RTO expires",
        rto.iter().any(|t| *t > lost_from && *t < lost_from + Duration::from_secs(2)),
        format!("fired at {:?}", times(&rto)),
    );
    let persist = fired(&trace, Side::Client, pa, TimerKind::Persist);
    checks.that(
        "persist: the server's window closes and the client's probes go out, backing off",
        persist.len() >= 2,
        format!("fired at {:?}", times(&persist)),
    );
    let keep = fired(&trace, Side::Client, pa, TimerKind::Keepalive);
    let first_probe = keep.first().copied().unwrap_or(Instant::ZERO);
    let last_activity = trace
        .packets
        .iter()
        .filter(|p| p.sent_at < first_probe)
        .filter(|p| p.tcp().is_some_and(|t| t.src.port() == pa || t.dst.port() == pa))
        .filter_map(|p| if p.from == Side::Client { Some(p.sent_at) } else { p.arrived_at() })
        .max();
    let answered = trace
        .sent_by(Side::Server)
        .any(|p| p.sent_at > first_probe && p.sent_at < first_probe + Duration::from_secs(1));
    checks.that(
        "keepalive: 20 s after the connection went idle (tcp_keepalive_time set to 20 s) a probe goes out and is answered",
        answered && keep.first().zip(last_activity).is_some_and(|(k, l)| *k - l >= Duration::from_secs(20) && *k - l < Duration::from_secs(21)),
        format!("fired at {:?}, idle since {:?}", times(&keep), last_activity.map(s)),
    );
    let fw2 = trace.entered(Side::Client, pa, TcpState::FinWait2);
    checks.equal(
        "FIN-WAIT-2: the orphaned connection is closed tcp_fin_timeout (set to 15 s) after it entered FIN-WAIT-2",
        fw2.map(|t| times(&[t + Duration::from_secs(15)])),
        Some(times(&fired(&trace, Side::Client, pa, TimerKind::FinWait2))),
    );
    let tw = trace.entered(Side::Client, pb, TcpState::TimeWait);
    checks.equal(
        "TIME-WAIT: ends 2·MSL (MSL set to 5 s) after it began",
        tw.map(|t| times(&[t + Duration::from_secs(10)])),
        Some(times(&fired(&trace, Side::Client, pb, TimerKind::TimeWait))),
    );
    let kinds: Vec<&str> = TimerKind::ALL
        .iter()
        .filter(|k| trace.notes.iter().any(|n| n.note == Note::Timer(**k)))
        .map(|k| k.name())
        .collect();
    checks.equal(
        "all seven timers fired",
        TimerKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>(),
        kinds,
    );
    Run { trace, checks, quiet: vec!["cwnd", "rtt"], ..Run::default() }
}
