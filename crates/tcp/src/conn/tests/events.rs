//! Observability is data (docs/tcp-engine.md "Events"): application events are
//! always reported, trace events only while tracing is on, drops are always counted, and the
//! trace queue is bounded.

use super::*;

/// A handshake, a segment lost once (RTO, retransmission), its ACK, an in-window RST that
/// only earns a challenge ACK, and an orderly close by the peer.
fn scenario(tracing: bool) -> Script {
    let mut s = Script::client(cfg());
    s.conn.set_tracing(tracing);
    s.run(
        "
        0    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000>
        +0   > . 1:1(0) ack 1
        ",
    );
    s.send(100);
    s.run(
        "
        +0   > P. 1:101(100) ack 1
        +0.3 > P. 1:101(100) ack 1
        +0.1 < . 1:1(0) ack 101 win 65535
        +0.1 < R. 500:500(0) ack 101 win 0
        +0   > . 101:101(0) ack 1
        +0.1 < F. 1:1(0) ack 101 win 65535
        +0   > . 101:101(0) ack 2
        ",
    );
    s.done();
    s
}

#[test]
fn observability_trace_events_only_while_tracing_is_on() {
    let off = scenario(false);
    assert!(off.events.iter().all(|(_, e)| !e.is_trace()), "{:?}", off.events);
    let on = scenario(true);
    // The same application events either way, at the same times.
    let app = |s: &Script| -> Vec<(Instant, Event)> {
        s.events.iter().copied().filter(|(_, e)| !e.is_trace()).collect()
    };
    assert_eq!(app(&off), app(&on));
    assert_eq!(off.app_events(), [Event::Connected, Event::PeerClosed, Event::Readable]);
    // Drops are counted whether or not they are traced.
    assert_eq!(off.conn.stats().dropped(DropReason::BadRst), 1);
    assert_eq!(off.conn.stats(), on.conn.stats());
}

#[test]
fn observability_trace_shows_states_timers_retransmissions_windows_rtt_and_drops() {
    let s = scenario(true);
    assert_eq!(s.states(), [TcpState::Established, TcpState::CloseWait]);
    assert_eq!(s.fired(TimerKind::Retransmit), [secs(0.4)]);
    let has = |want: &dyn Fn(&Event) -> bool| s.events.iter().any(|(_, e)| want(e));
    assert!(has(&|e| matches!(
        e,
        Event::Retransmit { reason: RetransmitReason::Rto, seq, len: 100 } if *seq == LOCAL_ISS + 1u32
    )));
    // RFC 5681 §3.1: cwnd falls to one segment after the timeout.
    assert!(has(&|e| matches!(e, Event::Cwnd { cwnd: 1000, ssthresh: 2000 })));
    // The SYN's RTT: 100 ms.
    assert!(has(
        &|e| matches!(e, Event::Rtt { sample, .. } if *sample == Duration::from_millis(100))
    ));
    assert!(has(&|e| *e == Event::Dropped(DropReason::BadRst)));
}

#[test]
fn observability_trace_queue_is_bounded_and_counts_what_it_loses() {
    // Nobody polls events: trace events stop at 1024 and the rest are counted as lost;
    // application events are never lost.
    let mut s = Script::established_server(cfg());
    let base = s.base;
    for _ in 0..1100 {
        let rst = parse_one("0 < R. 500:500(0) ack 1 win 0").segment;
        let seg = rst.to_repr(base, (REMOTE_PORT, LOCAL_PORT), &[]);
        s.conn.handle_segment(s.now, &seg);
    }
    assert_eq!(s.conn.stats().dropped(DropReason::BadRst), 1100);
    assert_eq!(s.conn.stats().events_lost, 1100 - 1024);
    s.conn.abort();
    // The StateChanged of the abort is lost too; Closed is not.
    assert_eq!(s.conn.stats().events_lost, 1100 - 1024 + 1);
    let mut n = 0;
    let mut last = None;
    while let Some(e) = s.conn.poll_event() {
        n += 1;
        last = Some(e);
    }
    assert_eq!(n, 1025);
    assert_eq!(last, Some(Event::Closed(Some(ConnError::Aborted))));
}

/// The queue keeps the order events were pushed in, whether an application event waits in
/// the inline slot or in the allocated storage, and a lone application event (what a host
/// that drains after every call sees) allocates nothing.
#[test]
fn the_event_queue_keeps_order_and_holds_a_lone_application_event_inline() {
    use super::event::EventQueue;
    let mut q = EventQueue::default();
    q.push_back(Event::Connected);
    assert_eq!(q.storage_bytes(), 0, "one application event is held inline");
    assert_eq!(q.pop_front(), Some(Event::Connected));
    assert_eq!(q.pop_front(), None);

    // The inline slot holds the oldest; what comes while it is full goes behind it, and an
    // application event that arrives while others wait stays behind them.
    let trace = Event::TimerFired(TimerKind::Retransmit);
    q.push_back(Event::Readable);
    q.push_back(trace);
    q.push_back(Event::Writable);
    assert_eq!(q.len(), 3);
    assert!(q.storage_bytes() > 0);
    assert_eq!(q.pop_front(), Some(Event::Readable));
    q.push_back(Event::PeerClosed);
    assert_eq!(q.pop_front(), Some(trace));
    assert_eq!(q.pop_front(), Some(Event::Writable));
    assert_eq!(q.pop_front(), Some(Event::PeerClosed));
    assert!(q.is_empty());

    // A trace event first: nothing goes inline ahead of it.
    q.push_back(trace);
    q.push_back(Event::Closed(Some(ConnError::Reset)));
    assert_eq!(q.pop_front(), Some(trace));
    assert_eq!(q.pop_front(), Some(Event::Closed(Some(ConnError::Reset))));
    q.release_if_empty();
    assert_eq!(q.storage_bytes(), 0, "the idle release frees the empty storage");
}
