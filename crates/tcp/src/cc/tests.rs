//! Congestion-control tests: each checks a rule of RFC 5681, 6582 or 6928 by the numbers, on
//! NewReno; the registry; invariants every algorithm keeps. CUBIC's and HyStart++'s own
//! rules are tested in `cubic/tests.rs` and `hystart/tests.rs`.

use proptest::prelude::*;
use ustack_wire::SeqNum;

use super::*;

const MSS: u32 = 1000;
const T0: Instant = Instant::ZERO;

fn reno() -> Box<dyn CongestionControl> {
    NewRenoFactory.build(MSS, initial_window(MSS, 10))
}

fn segs(cc: &dyn CongestionControl) -> u32 {
    cc.window() / MSS
}

fn ack(cc: &mut dyn CongestionControl, bytes: u32) {
    cc.on_ack(T0, bytes, Some(Duration::from_millis(100)), false);
}

/// One round trip with one ACK per full-sized segment: the window at the start of the round
/// is sent and acknowledged segment by segment. Returns the window afterwards, in segments.
fn round_trip(cc: &mut dyn CongestionControl) -> u32 {
    for _ in 0..cc.window() / MSS {
        ack(cc, MSS);
    }
    segs(cc)
}

/// Same, with a delayed-ACK receiver: one ACK per two segments.
fn round_trip_delayed_acks(cc: &mut dyn CongestionControl) -> u32 {
    for _ in 0..cc.window() / (2 * MSS) {
        ack(cc, 2 * MSS);
    }
    segs(cc)
}

#[test]
fn s20_initial_window_is_ten_segments_and_ssthresh_infinite() {
    let cc = reno();
    assert_eq!(cc.window(), 10 * MSS);
    assert_eq!(cc.ssthresh(), INFINITE_SSTHRESH);
    assert!(cc.in_slow_start());
    assert_eq!(cc.metrics(), {
        let mut m = CcMetrics::new(10 * MSS, u32::MAX);
        m.bytes_acked = Some(0);
        m
    });
}

#[test]
fn initial_window_linux_and_rfc6928() {
    assert_eq!(initial_window(1460, 10), 14_600);
    assert_eq!(initial_window(u32::MAX, 10), u32::MAX);
    // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)).
    assert_eq!(rfc6928_initial_window(536), 5_360);
    assert_eq!(rfc6928_initial_window(1460), 14_600);
    assert_eq!(rfc6928_initial_window(9_000), 18_000);
    assert_eq!(rfc6928_initial_window(65_483), 130_966);
    assert_eq!(rfc6928_initial_window(u32::MAX), u32::MAX);
    // Linux and the RFC agree up to an MSS of 1460 ...
    for mss in [1, 88, 536, 1220, 1448, 1460] {
        assert_eq!(initial_window(mss, 10), rfc6928_initial_window(mss), "mss {mss}");
    }
    // ... and Linux's flat 10·MSS is larger beyond.
    assert_eq!(initial_window(9_000, 10), 90_000);
}

#[test]
fn build_raises_degenerate_inputs() {
    let cc = NewRenoFactory.build(MSS, 0);
    assert_eq!(cc.window(), MSS, "cwnd is at least one SMSS");
    let cc = NewRenoFactory.build(0, 0);
    assert_eq!(cc.window(), 1, "an SMSS of 0 is treated as 1");
}

#[test]
fn s20_slow_start_doubles_per_round_trip() {
    // RFC 5681 §3.1 (SPEC S20): one segment per ACK, so the window doubles every RTT.
    let mut cc = reno();
    assert_eq!(round_trip(&mut *cc), 20);
    assert_eq!(round_trip(&mut *cc), 40);
    assert_eq!(round_trip(&mut *cc), 80);
    assert!(cc.in_slow_start());
}

#[test]
fn slow_start_doubles_with_delayed_and_stretch_acks() {
    // Byte counting (Linux tcp_slow_start): an ACK for two segments grows cwnd by two.
    // RFC 5681's min(N, SMSS) would give 10 -> 15 here.
    let mut cc = reno();
    assert_eq!(round_trip_delayed_acks(&mut *cc), 20);
    assert_eq!(round_trip_delayed_acks(&mut *cc), 40);
    // One stretch ACK for the whole window (GRO receiver): still a doubling.
    let mut cc = reno();
    ack(&mut *cc, 10 * MSS);
    assert_eq!(segs(&*cc), 20);
}

#[test]
fn slow_start_byte_counting_resists_ack_division() {
    // RFC 3465's ACK division: a receiver splitting one segment's ACK into many gains nothing.
    let mut cc = reno();
    for _ in 0..MSS {
        ack(&mut *cc, 1);
    }
    assert_eq!(cc.window(), 11 * MSS);
}

#[test]
fn s20_crossing_ssthresh_switches_to_one_segment_per_round_trip() {
    let mut cc = reno();
    // Timeout with 30 segments in flight: ssthresh 15 segments, cwnd 1.
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 30 * MSS);
    assert_eq!((segs(&*cc), cc.ssthresh()), (1, 15 * MSS));
    assert_eq!(round_trip(&mut *cc), 2);
    assert_eq!(round_trip(&mut *cc), 4);
    assert_eq!(round_trip(&mut *cc), 8);
    // Eight ACKs: the seventh reaches ssthresh, the eighth is congestion avoidance.
    assert_eq!(round_trip(&mut *cc), 15);
    assert!(!cc.in_slow_start());
    assert_eq!(cc.metrics().bytes_acked, Some(MSS), "the overflow counts towards CA");
    // From here, one SMSS per RTT.
    for expected in 16..=30 {
        assert_eq!(round_trip(&mut *cc), expected);
    }
}

#[test]
fn slow_start_overflow_in_one_ack_carries_into_congestion_avoidance() {
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 24 * MSS); // ssthresh 12
    ack(&mut *cc, 11 * MSS); // 1 + 11 = 12: exactly at ssthresh
    assert_eq!((segs(&*cc), cc.metrics().bytes_acked), (12, Some(0)));
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 24 * MSS);
    ack(&mut *cc, 30 * MSS); // 11 to reach ssthresh, then 19 = 12 + 7 in CA
    assert_eq!((segs(&*cc), cc.metrics().bytes_acked), (13, Some(7 * MSS)));
}

#[test]
fn s20_congestion_avoidance_adds_one_smss_per_window_acked() {
    let mut cc = reno();
    // Fast retransmit with 20 segments in flight: ssthresh = cwnd = 10 segments, in CA.
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    assert_eq!((cc.window(), cc.ssthresh()), (10 * MSS, 10 * MSS));
    assert!(!cc.in_slow_start());
    // RFC 5681 §3.1: "When the number of bytes acknowledged reaches cwnd, then cwnd can be
    // incremented by up to SMSS bytes." One byte short: nothing.
    for _ in 0..9 {
        ack(&mut *cc, MSS);
    }
    ack(&mut *cc, MSS - 1);
    assert_eq!(cc.window(), 10 * MSS);
    ack(&mut *cc, 1);
    assert_eq!(cc.window(), 11 * MSS);
    assert_eq!(cc.metrics().bytes_acked, Some(0));
    // The next increase needs the new window, 11 segments.
    ack(&mut *cc, 11 * MSS - 1);
    assert_eq!(cc.window(), 11 * MSS);
    ack(&mut *cc, 1);
    assert_eq!(cc.window(), 12 * MSS);
    // With delayed ACKs, still one segment per RTT (eq. 3's SMSS*SMSS/cwnd would lag).
    assert_eq!(round_trip_delayed_acks(&mut *cc), 13);
    assert_eq!(round_trip_delayed_acks(&mut *cc), 13, "odd window: a byte count short");
    assert_eq!(round_trip_delayed_acks(&mut *cc), 14);
}

#[test]
fn congestion_avoidance_stretch_ack_over_several_windows_is_exact() {
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    // 10 + 11 + 12 segments acknowledged at once: three increases, nothing left over.
    ack(&mut *cc, 33 * MSS);
    assert_eq!((segs(&*cc), cc.metrics().bytes_acked), (13, Some(0)));
}

#[test]
fn s20_fast_retransmit_halves_flight_with_a_two_segment_floor() {
    // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = ssthresh (the engine
    // adds the 3*SMSS inflation).
    let mut cc = reno();
    round_trip(&mut *cc);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 17 * MSS);
    assert_eq!((cc.ssthresh(), cc.window()), (8 * MSS + MSS / 2, 8 * MSS + MSS / 2));
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 3 * MSS);
    assert_eq!((cc.ssthresh(), cc.window()), (2 * MSS, 2 * MSS));
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 0);
    assert_eq!((cc.ssthresh(), cc.window()), (2 * MSS, 2 * MSS));
    // FlightSize, not cwnd: a sender using little of a large window halves the flight.
    let mut cc = reno();
    round_trip(&mut *cc);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 6 * MSS);
    assert_eq!(cc.window(), 3 * MSS);
    // ECN-Echo reduces the same way (RFC 3168 §6.1.2).
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::Ecn, 10 * MSS);
    assert_eq!((cc.ssthresh(), cc.window()), (5 * MSS, 5 * MSS));
}

#[test]
fn s20_timeout_sets_loss_window_then_slow_start_to_new_ssthresh() {
    let mut cc = reno();
    round_trip(&mut *cc);
    round_trip(&mut *cc); // 40 segments
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 40 * MSS);
    // RFC 5681 §3.1: cwnd = LW = 1 SMSS "regardless of the value of IW".
    assert_eq!((cc.window(), cc.ssthresh()), (MSS, 20 * MSS));
    assert!(cc.in_slow_start());
    let windows: Vec<u32> = (0..7).map(|_| round_trip(&mut *cc)).collect();
    assert_eq!(windows, [2, 4, 8, 16, 20, 21, 22]);
}

#[test]
fn repeated_timeout_holds_ssthresh() {
    // RFC 5681 §3.1: for a segment already retransmitted by the timer "the value of ssthresh
    // is held constant".
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 40 * MSS);
    cc.on_congestion_event(T0, CongestionEvent::RepeatedTimeout, MSS);
    assert_eq!((cc.window(), cc.ssthresh()), (MSS, 20 * MSS));
    // Even if a few ACKs got through in between, the loss window applies again.
    ack(&mut *cc, 3 * MSS);
    cc.on_congestion_event(T0, CongestionEvent::RepeatedTimeout, 4 * MSS);
    assert_eq!((cc.window(), cc.ssthresh()), (MSS, 20 * MSS));
}

#[test]
fn recovery_exit_deflates_to_flight_plus_one_segment() {
    // RFC 6582 §3.2 step 3, option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    cc.on_recovery_exit(T0, 3 * MSS);
    assert_eq!((segs(&*cc), cc.ssthresh()), (4, 10 * MSS));
    assert!(cc.in_slow_start(), "slow start regrows to ssthresh");
    assert_eq!(round_trip(&mut *cc), 8);
    assert_eq!(round_trip(&mut *cc), 10);
    // Nothing in flight: two segments.
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    cc.on_recovery_exit(T0, 0);
    assert_eq!(segs(&*cc), 2);
    // Much in flight: ssthresh.
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    cc.on_recovery_exit(T0, 15 * MSS);
    assert_eq!(segs(&*cc), 10);
}

#[test]
fn app_limited_acks_do_not_grow_cwnd() {
    // Slow start.
    let mut cc = reno();
    for _ in 0..20 {
        cc.on_ack(T0, MSS, None, true);
    }
    assert_eq!(segs(&*cc), 10);
    // Congestion avoidance: the accumulator does not move either.
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    for _ in 0..20 {
        cc.on_ack(T0, MSS, None, true);
    }
    assert_eq!((segs(&*cc), cc.metrics().bytes_acked), (10, Some(0)));
    ack(&mut *cc, 10 * MSS);
    assert_eq!(segs(&*cc), 11, "cwnd-limited ACKs grow it again");
}

#[test]
fn idle_restart_uses_restart_window_and_remembers_ssthresh() {
    // RFC 5681 §4.1: RW = min(IW, cwnd).
    let mut cc = reno();
    round_trip(&mut *cc);
    round_trip(&mut *cc); // 40 segments, ssthresh infinite
    cc.on_idle_restart(T0);
    assert_eq!((segs(&*cc), cc.ssthresh()), (10, INFINITE_SSTHRESH));
    // In congestion avoidance: ssthresh = max(ssthresh, 3/4·cwnd) (Linux tcp_cwnd_restart).
    let mut cc = reno();
    round_trip(&mut *cc);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 32 * MSS); // 16 segments
    cc.on_idle_restart(T0);
    assert_eq!((segs(&*cc), cc.ssthresh()), (10, 16 * MSS));
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS); // 10 segments
    for expected in 11..=16 {
        assert_eq!(round_trip(&mut *cc), expected);
    }
    cc.on_idle_restart(T0);
    assert_eq!((segs(&*cc), cc.ssthresh()), (10, 12 * MSS));
    // Below IW (after a timeout) the window stays.
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 10 * MSS);
    cc.on_idle_restart(T0);
    assert_eq!(segs(&*cc), 1);
}

#[test]
fn mss_change_keeps_windows_in_segments() {
    // The handshake raises the MSS from the 536 default to 1460: 10 segments stay 10.
    let mut cc = NewRenoFactory.build(536, initial_window(536, 10));
    cc.on_mss_change(1460);
    assert_eq!((cc.window(), cc.ssthresh()), (14_600, INFINITE_SSTHRESH));
    ack(&mut *cc, 1460);
    assert_eq!(cc.window(), 16_060);
    // The restart window moved too.
    let mut cc = NewRenoFactory.build(536, initial_window(536, 10));
    cc.on_mss_change(1460);
    round_trip(&mut *cc);
    cc.on_idle_restart(T0);
    assert_eq!(cc.window(), 14_600);
    // A PMTU drop scales a finite ssthresh, never below 2·SMSS.
    let mut cc = reno();
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    cc.on_mss_change(500);
    assert_eq!((cc.window(), cc.ssthresh()), (5_000, 5_000));
    cc.on_mss_change(0);
    assert_eq!((cc.window(), cc.ssthresh()), (10, 10));
}

#[test]
fn undo_restores_newreno_after_a_spurious_reduction() {
    // Linux tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd: cwnd = max(cwnd, prior_cwnd),
    // ssthresh = max(ssthresh, prior_ssthresh), the values from before the event.
    let mut cc = reno();
    round_trip(&mut *cc); // 20 segments, ssthresh infinite
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS);
    cc.on_recovery_exit(T0, 10 * MSS);
    cc.undo(20 * MSS, INFINITE_SSTHRESH);
    assert_eq!((segs(&*cc), cc.ssthresh()), (20, INFINITE_SSTHRESH));
    assert!(cc.in_slow_start(), "a spurious loss in slow start resumes slow start");
    // A timeout and its repeats.
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 20 * MSS); // 10, 10
    cc.on_recovery_exit(T0, 10 * MSS);
    cc.on_congestion_event(T0, CongestionEvent::Timeout, 10 * MSS);
    cc.on_congestion_event(T0, CongestionEvent::RepeatedTimeout, 10 * MSS);
    assert_eq!((segs(&*cc), cc.ssthresh()), (1, 5 * MSS));
    cc.undo(10 * MSS, 10 * MSS);
    assert_eq!((segs(&*cc), cc.ssthresh()), (10, 10 * MSS));
    assert_eq!(cc.metrics().bytes_acked, Some(0));
    // A window that regrew past the old one keeps the larger.
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 4 * MSS); // 2, 2
    ack(&mut *cc, 54 * MSS); // 2 + 3 + ... + 10 = 54 segments: cwnd 11
    cc.undo(10 * MSS, 10 * MSS);
    assert_eq!((segs(&*cc), cc.ssthresh()), (11, 10 * MSS));
}

#[test]
fn on_new_ack_defaults_to_on_ack() {
    // NewReno counts no rounds: the sequence numbers change nothing.
    let mut with_info = reno();
    let mut plain = reno();
    for i in 1..=30u32 {
        let info = NewAck::new(
            MSS,
            Some(Duration::from_millis(100)),
            i % 7 == 0,
            SeqNum(i * MSS),
            SeqNum(40 * MSS),
        );
        with_info.on_new_ack(T0, &info);
        plain.on_ack(T0, MSS, Some(Duration::from_millis(100)), i % 7 == 0);
    }
    assert_eq!(with_info.metrics(), plain.metrics());
    assert_eq!(segs(&*plain), 36);
}

#[test]
fn factory_lookup_by_name() {
    for name in ["newreno", "reno", "NewReno", "RENO"] {
        let factory = factory_by_name(name).unwrap_or_else(|| panic!("{name} is registered"));
        assert_eq!(factory.name(), "newreno");
        let cc = factory.build(1460, initial_window(1460, 10));
        assert_eq!((cc.name(), cc.window(), cc.ssthresh()), ("newreno", 14_600, u32::MAX));
    }
    for name in ["cubic", "CUBIC", "Cubic"] {
        let factory = factory_by_name(name).unwrap_or_else(|| panic!("{name} is registered"));
        assert_eq!(factory.name(), "cubic");
        let cc = factory.build(1460, initial_window(1460, 10));
        assert_eq!((cc.name(), cc.window(), cc.ssthresh()), ("cubic", 14_600, u32::MAX));
    }
    for name in ["", "bbr", "cubic ", "newreno ", "new reno", "htcp"] {
        assert!(factory_by_name(name).is_none(), "{name:?} is not registered");
    }
    assert_eq!(available().collect::<Vec<_>>(), ["cubic", "newreno"]);
    assert_eq!(names().collect::<Vec<_>>(), ["cubic", "newreno", "reno"]);
    // Linux's default since 2.6.19.
    assert_eq!(default_factory().name(), "cubic");
    assert_eq!(format!("{:?}", factory_by_name("reno").map(|f| f.name())), "Some(\"newreno\")");
}

#[test]
fn clone_box_is_independent() {
    let mut original = reno();
    round_trip(&mut *original);
    let copy = original.clone_box();
    let boxed_clone = original.clone();
    assert_eq!(copy.metrics(), original.metrics());
    original.on_congestion_event(T0, CongestionEvent::Timeout, 20 * MSS);
    ack(&mut *original, MSS);
    assert_eq!((copy.window(), copy.ssthresh()), (20 * MSS, INFINITE_SSTHRESH));
    assert_eq!(boxed_clone.metrics(), copy.metrics());
    assert_eq!((original.window(), original.ssthresh()), (2 * MSS, 10 * MSS));
    assert!(format!("{copy:?}").starts_with("NewReno {"));
}

#[test]
fn extreme_values_saturate() {
    let mut cc = NewRenoFactory.build(u32::MAX, u32::MAX);
    ack(&mut *cc, u32::MAX);
    assert_eq!(cc.window(), u32::MAX);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, u32::MAX);
    assert_eq!(cc.ssthresh(), u32::MAX);
    let mut cc = NewRenoFactory.build(1, 1);
    ack(&mut *cc, u32::MAX); // slow start to u32::MAX
    assert_eq!(cc.window(), u32::MAX);
    cc.on_congestion_event(T0, CongestionEvent::FastRetransmit, 4);
    ack(&mut *cc, u32::MAX); // congestion avoidance with SMSS 1: a bounded loop
    assert!(cc.window() > 2);
}

#[derive(Debug, Clone)]
enum Op {
    Ack {
        bytes: u32,
        app_limited: bool,
        rtt: Option<u64>,
        seq: Option<(u32, u32)>,
    },
    Event {
        event: CongestionEvent,
        flight: u32,
    },
    RecoveryExit {
        flight: u32,
    },
    Mss(u32),
    Idle,
    Undo,
    /// Time passes, milliseconds.
    Wait(u64),
}

fn byte_count() -> impl Strategy<Value = u32> {
    prop_oneof![0..200_000u32, any::<u32>(), Just(0), Just(u32::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    let event = prop_oneof![
        Just(CongestionEvent::FastRetransmit),
        Just(CongestionEvent::Timeout),
        Just(CongestionEvent::RepeatedTimeout),
        Just(CongestionEvent::Ecn),
    ];
    prop_oneof![
        6 => (
            byte_count(),
            any::<bool>(),
            proptest::option::of(prop_oneof![0..500u64, any::<u32>().prop_map(u64::from)]),
            proptest::option::of((any::<u32>(), any::<u32>())),
        )
            .prop_map(|(bytes, app_limited, rtt, seq)| Op::Ack { bytes, app_limited, rtt, seq }),
        2 => (event, byte_count()).prop_map(|(event, flight)| Op::Event { event, flight }),
        1 => byte_count().prop_map(|flight| Op::RecoveryExit { flight }),
        1 => prop_oneof![0..10_000u32, any::<u32>()].prop_map(Op::Mss),
        1 => Just(Op::Idle),
        1 => Just(Op::Undo),
        2 => prop_oneof![0..1_000u64, any::<u32>().prop_map(u64::from)].prop_map(Op::Wait),
    ]
}

proptest! {
    #[test]
    fn random_events_keep_the_invariants(
        cubic in any::<bool>(),
        mss in prop_oneof![1..10_000u32, any::<u32>()],
        iw in byte_count(),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let factory: &dyn CongestionControlFactory =
            if cubic { &CubicFactory } else { &NewRenoFactory };
        let mut cc = factory.build(mss, iw);
        let mut smss = mss.max(1);
        let mut now = Instant::ZERO;
        // What the engine passes to undo: the window and threshold before the last event.
        let mut prior = (cc.window(), cc.ssthresh());
        for op in ops {
            let before = cc.metrics();
            match op {
                Op::Ack { bytes, app_limited, rtt, seq } => {
                    let rtt = rtt.map(Duration::from_millis);
                    match seq {
                        Some((una, max)) => {
                            let info = NewAck::new(bytes, rtt, app_limited, SeqNum(una), SeqNum(max));
                            cc.on_new_ack(now, &info);
                        }
                        None => cc.on_ack(now, bytes, rtt, app_limited),
                    }
                    prop_assert!(cc.window() >= before.cwnd, "an ACK never shrinks cwnd");
                    if app_limited {
                        prop_assert_eq!(cc.window(), before.cwnd, "app-limited: no growth");
                    }
                }
                Op::Undo => cc.undo(prior.0, prior.1),
                Op::Wait(ms) => now += Duration::from_millis(ms),
                Op::Event { event, flight } => {
                    prior = (cc.window(), cc.ssthresh());
                    cc.on_congestion_event(now, event, flight);
                }
                Op::RecoveryExit { flight } => cc.on_recovery_exit(now, flight),
                Op::Mss(m) => {
                    cc.on_mss_change(m);
                    smss = m.max(1);
                }
                Op::Idle => cc.on_idle_restart(now),
            }
            let m = cc.metrics();
            prop_assert!(m.cwnd >= smss, "cwnd {} < SMSS {} after {:?}", m.cwnd, smss, m);
            prop_assert!(m.ssthresh >= smss.saturating_mul(2), "ssthresh below 2·SMSS: {:?}", m);
            let acked = m.bytes_acked.unwrap_or(0);
            prop_assert!(acked < m.cwnd || m.cwnd == u32::MAX, "accumulator {} ≥ cwnd", acked);
        }
    }
}

/// A factory from outside the crate's registry: NewReno under another name, with only
/// `build`, so its connections get [`Controller::Boxed`].
#[derive(Debug)]
struct OutsideFactory;

/// NewReno with another name, as an algorithm from outside the crate would be.
#[derive(Debug, Clone)]
struct Outside(NewReno);

impl CongestionControl for Outside {
    fn name(&self) -> &'static str {
        "outside"
    }
    fn window(&self) -> u32 {
        self.0.window()
    }
    fn ssthresh(&self) -> u32 {
        self.0.ssthresh()
    }
    fn on_ack(&mut self, now: Instant, acked: u32, rtt: Option<Duration>, app_limited: bool) {
        self.0.on_ack(now, acked, rtt, app_limited);
    }
    fn on_congestion_event(&mut self, now: Instant, event: CongestionEvent, flight: u32) {
        self.0.on_congestion_event(now, event, flight);
    }
    fn on_recovery_exit(&mut self, now: Instant, flight: u32) {
        self.0.on_recovery_exit(now, flight);
    }
    fn on_mss_change(&mut self, mss: u32) {
        self.0.on_mss_change(mss);
    }
    fn on_idle_restart(&mut self, now: Instant) {
        self.0.on_idle_restart(now);
    }
    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        self.0.restore(cwnd, ssthresh);
    }
    fn metrics(&self) -> CcMetrics {
        self.0.metrics()
    }
    fn clone_box(&self) -> Box<dyn CongestionControl> {
        Box::new(self.clone())
    }
}

impl CongestionControlFactory for OutsideFactory {
    fn name(&self) -> &'static str {
        "outside"
    }
    fn build(&self, mss: u32, initial_window: u32) -> Box<dyn CongestionControl> {
        Box::new(Outside(NewReno::new(mss, initial_window)))
    }
}

#[test]
fn built_in_factories_build_inline_controllers_and_others_boxed_ones() {
    let iw = initial_window(MSS, 10);
    let cubic = CubicFactory.build_controller(MSS, iw);
    assert!(matches!(cubic, Controller::Cubic(_)), "{cubic:?}");
    assert_eq!((cubic.name(), cubic.window(), cubic.ssthresh()), ("cubic", iw, INFINITE_SSTHRESH));
    let reno = factory_by_name("reno").expect("registered").build_controller(MSS, iw);
    assert!(matches!(reno, Controller::NewReno(_)), "{reno:?}");
    assert_eq!(reno.name(), "newreno");
    let outside = OutsideFactory.build_controller(MSS, iw);
    assert!(matches!(outside, Controller::Boxed(_)), "{outside:?}");
    assert_eq!((outside.name(), outside.window()), ("outside", iw));
    // A box built elsewhere goes in as it is; `clone_box` copies the algorithm, not the
    // wrapper.
    let boxed = Controller::from(CubicFactory.build(MSS, iw));
    assert!(matches!(boxed, Controller::Boxed(_)));
    assert!(format!("{:?}", cubic.clone_box()).starts_with("Cubic {"));
    assert!(format!("{:?}", boxed.clone_box()).starts_with("Cubic {"));
}

proptest! {
    /// A [`Controller`] only hands calls on: whatever happens, the algorithm it holds, inline
    /// or boxed, ends in the same state as the same algorithm driven on its own.
    #[test]
    fn a_controller_behaves_as_the_algorithm_it_holds(
        algorithm in 0..3usize,
        mss in prop_oneof![1..10_000u32, any::<u32>()],
        iw in byte_count(),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let factory: &dyn CongestionControlFactory =
            [&CubicFactory as &dyn CongestionControlFactory, &NewRenoFactory, &OutsideFactory]
                [algorithm];
        let mut alone = factory.build(mss, iw);
        let mut held = factory.build_controller(mss, iw);
        let mut now = Instant::ZERO;
        let mut prior = (alone.window(), alone.ssthresh());
        for op in ops {
            if let Op::Event { .. } = op {
                prior = (alone.window(), alone.ssthresh());
            }
            for cc in [&mut *alone, &mut held as &mut dyn CongestionControl] {
                match op {
                    Op::Ack { bytes, app_limited, rtt, seq } => {
                        let rtt = rtt.map(Duration::from_millis);
                        match seq {
                            Some((una, max)) => {
                                let ack = NewAck::new(bytes, rtt, app_limited, SeqNum(una), SeqNum(max));
                                cc.on_new_ack(now, &ack);
                            }
                            None => cc.on_ack(now, bytes, rtt, app_limited),
                        }
                    }
                    Op::Undo => cc.undo(prior.0, prior.1),
                    Op::Wait(_) => {}
                    Op::Event { event, flight } => cc.on_congestion_event(now, event, flight),
                    Op::RecoveryExit { flight } => cc.on_recovery_exit(now, flight),
                    Op::Mss(m) => cc.on_mss_change(m),
                    Op::Idle => cc.on_idle_restart(now),
                }
            }
            if let Op::Wait(ms) = op {
                now += Duration::from_millis(ms);
            }
            prop_assert_eq!(held.metrics(), alone.metrics());
            prop_assert_eq!(held.in_slow_start(), alone.in_slow_start());
            prop_assert_eq!(held.name(), alone.name());
            prop_assert_eq!(format!("{:?}", held.clone_box()), format!("{alone:?}"));
        }
    }
}
