//! What a connection costs in memory: a host may hold a million of them (docs/performance.md,
//! idle connections), so their size is watched. Each bound is the size measured when it was
//! set plus a little room; a change that crosses one should say what it buys.

use super::*;

#[test]
fn a_connection_stays_within_its_memory_budget() {
    // 1,928 bytes before the state was shrunk (shared settings, boxed Fast Open and undo
    // state, narrower timers, RTT estimator and rings), 1,224 after; 880 once what only
    // matters while data is out of order, in flight or lost went into boxes that an idle
    // connection gives back, and the counters of rare events into one allocated by the
    // first (docs/performance.md, idle connections); 808 with the durations it holds in 8
    // bytes (`Nanos`) instead of 16, the event queue as one inline application event and a
    // pointer, and the (sequence number, time) pairs split so the number packs with the
    // other 4-byte fields; 928 with the congestion controller inline (136 bytes where its
    // box pointer took 16): the 200-byte box it replaces was a second allocation per
    // connection, 208 bytes of heap, and one per connection cycle.
    assert!(core::mem::size_of::<Conn>() <= 928, "Conn is {} bytes", core::mem::size_of::<Conn>());
    // Two per connection.
    assert!(core::mem::size_of::<RingBuffer>() <= 32);
    assert!(core::mem::size_of::<crate::TimerTable>() <= 56);
    assert!(core::mem::size_of::<crate::RttEstimator>() <= 64);
    // The parts an idle connection keeps of what it gives back or allocates late: the
    // reassembler 80 bytes inline before, the scoreboard 88, the counters 160, the
    // 4-tuple 64.
    assert!(core::mem::size_of::<Assembler>() <= 16);
    assert!(core::mem::size_of::<send::Scoreboard>() <= 24);
    assert!(core::mem::size_of::<event::Counters>() <= 48);
    assert!(core::mem::size_of::<tuple::Packed>() <= 38);
    // RACK 56 and autotuning 72 while they held `Duration`s; the event queue 32 (a
    // `VecDeque`).
    assert!(core::mem::size_of::<send::Rack>() <= 40);
    assert!(core::mem::size_of::<recv::Tune>() <= 56);
    assert!(core::mem::size_of::<event::EventQueue>() <= 16);
    // Allocated only during and after a loss episode, freed once it is over.
    assert!(core::mem::size_of::<send::Loss>() <= 96);
}

#[test]
fn the_default_congestion_controller_stays_small_and_inline() {
    // Boxed per connection: 272 bytes before the state saved for undo was boxed, 200 before
    // CUBIC's optional values were packed. Now inline in the connection, as NewReno's.
    let cc = Conn::default_cc(&TcpConfig::default());
    assert!(matches!(cc, cc::Controller::Cubic(_)), "CUBIC, not boxed: {cc:?}");
    assert!(core::mem::size_of::<cc::Controller>() <= 136, "{} bytes", core::mem::size_of_val(&cc));
    assert!(core::mem::size_of::<cc::Cubic>() <= 136);
    assert!(core::mem::size_of::<cc::HyStart>() <= 48);
    let reno = TcpConfig { congestion_control: crate::CcName::RENO, ..TcpConfig::default() };
    assert!(matches!(Conn::default_cc(&reno), cc::Controller::NewReno(_)));
}

#[test]
fn connections_made_with_the_same_settings_share_them() {
    let cfg = Arc::new(TcpConfig::default());
    let mut a = Conn::connect(
        Instant::ZERO,
        Arc::clone(&cfg),
        tuple(),
        LOCAL_ISS,
        MTU,
        Conn::default_cc(&cfg),
    );
    let b = Conn::connect(
        Instant::ZERO,
        Arc::clone(&cfg),
        tuple(),
        LOCAL_ISS,
        MTU,
        Conn::default_cc(&cfg),
    );
    assert!(core::ptr::eq(a.config(), b.config()), "one copy of the settings");
    // An option of its own gives a connection its own copy; the other keeps the shared one.
    a.set_nodelay(true);
    assert!(a.config().nodelay && !b.config().nodelay && !cfg.nodelay);
    assert!(core::ptr::eq(b.config(), &*cfg));
}
