//! tcp_tw_reuse (Linux `tcp_twsk_unique`): an outgoing connection takes a 4-tuple still in
//! TIME-WAIT when timestamps make it safe, so a client connecting in a loop does not run out
//! of ports (SPEC S13, S25, S26).

use ustack_tcp::{TcpConfig, TcpState};

use super::*;
use crate::{ConnectError, Duration};

const LO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// One stack talking to itself over loopback with a single ephemeral port; one connection
/// opened and closed by the client first, so the client's side sits in TIME-WAIT.
fn one_port(cfg: StackConfig, to: Ipv4Addr) -> (Stack, SocketHandle, Instant, u32) {
    let cfg = StackConfig { ip_local_port_range: (40000, 40000), ..cfg };
    let mut s = stack_with(A, cfg);
    let l = s.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 8, false).unwrap();
    let now = Instant::from_secs(1);
    let c = s.tcp_connect(now, None, sa(to, 80)).unwrap();
    assert!(drain(&mut s, now).is_empty(), "all on loopback");
    let srv = s.tcp_accept(l).unwrap();
    s.close(now, c);
    let _ = drain(&mut s, now);
    s.close(now, srv);
    let _ = drain(&mut s, now);
    assert_eq!(s.netstat(now).count(TcpState::TimeWait), 1);
    let tw = s
        .netstat(now)
        .sockets
        .iter()
        .find(|i| i.state == TcpState::TimeWait)
        .map(|i| i.handle)
        .unwrap();
    let snd_nxt = crate::twreuse::time_wait_reuse(s.slot(tw)).map_or(0, |(n, _)| n.0);
    (s, l, now, snd_nxt)
}

#[test]
fn tw_reuse_takes_a_loopback_time_wait_tuple_after_one_second() {
    // tcp_tw_reuse 2 (default): loopback traffic may reuse; not before tcp_tw_reuse_delay
    // (1 s) has passed since TIME-WAIT began, then with an ISS 65537 past the old SND.NXT
    // (TWRecycled).
    let (mut s, _l, now, snd_nxt) = one_port(config(1), LO);
    let early = now + Duration::from_millis(900);
    assert_eq!(
        s.tcp_connect(early, None, sa(LO, 80)).map(|_| ()),
        Err(ConnectError::NoEphemeralPort)
    );
    let later = now + Duration::from_millis(1001);
    let c = s.tcp_connect(later, None, sa(LO, 80)).expect("the TIME-WAIT tuple is reused");
    assert_eq!(s.counters().tw_recycled, 1);
    assert_eq!(s.tcp_mut(c).iss.0, snd_nxt.wrapping_add(65_537));
    // The SYN goes out (over loopback) and the connection opens.
    let _ = drain(&mut s, later);
    assert_eq!(s.tcp_conn(c).state(), TcpState::Established);
    assert_eq!(s.netstat(later).count(TcpState::TimeWait), 0);
}

#[test]
fn tw_reuse_needs_timestamps_loopback_or_1_and_is_off_with_0() {
    // Without timestamps there is no PAWS to make it safe: no reuse. tcp_tw_reuse 0: never.
    // 2 with a non-loopback address (the stack's own 10.0.0.1): no; 1: yes.
    let later = Instant::from_secs(1) + Duration::from_secs(2);
    let no_ts =
        StackConfig { tcp: TcpConfig { timestamps: false, ..TcpConfig::LINUX }, ..config(1) };
    let (mut s, ..) = one_port(no_ts, LO);
    assert_eq!(
        s.tcp_connect(later, None, sa(LO, 80)).map(|_| ()),
        Err(ConnectError::NoEphemeralPort)
    );
    let (mut s, ..) = one_port(StackConfig { tcp_tw_reuse: 0, ..config(1) }, LO);
    assert_eq!(
        s.tcp_connect(later, None, sa(LO, 80)).map(|_| ()),
        Err(ConnectError::NoEphemeralPort)
    );
    let (mut s, ..) = one_port(config(1), A);
    assert_eq!(
        s.tcp_connect(later, None, sa(A, 80)).map(|_| ()),
        Err(ConnectError::NoEphemeralPort)
    );
    let (mut s, ..) = one_port(StackConfig { tcp_tw_reuse: 1, ..config(1) }, A);
    assert!(s.tcp_connect(later, None, sa(A, 80)).is_ok());
    assert_eq!(s.counters().tw_recycled, 1);
}
