//! Explicit Congestion Notification (RFC 3168 §6.1) as Linux runs it: the ECN-setup
//! handshake both ways (`tcp_ecn` 0, 1, 2), ECT(0) on new data only, the receiver's ECE echo
//! from a CE mark until the sender's CWR, the sender's single reduction per window of data and
//! its CWR, the SYN fallback (`tcp_ecn_fallback`) and SYN cookies that carry ECN.

use ustack_wire::{TcpOptions, Timestamps};

use super::*;
use crate::CcName;
use crate::syncookie::{CookieOptions, SynCookies};

fn ecn_cfg(ecn: u8) -> TcpConfig {
    TcpConfig { ecn, ..TcpConfig::default() }
}

/// A client with `tcp_ecn` = 1 and ECN negotiated: SYN with ECE and CWR, SYN-ACK with ECE
/// (MSS 1000, no options).
fn ecn_client(cfg: TcpConfig) -> Script {
    let mut s = Script::client(TcpConfig { ecn: 1, ..cfg });
    s.run(
        "
        0    > [noecn] SEW 0:0(0)
        +0.1 < SE. 0:0(0) ack 1 win 65535 <mss 1000>
        +0   > [noecn] . 1:1(0) ack 1
        ",
    );
    assert!(s.conn.ecn_ok());
    s
}

/// A server (default `tcp_ecn` = 2) that accepted an ECN-setup SYN (MSS 1000, no options).
fn ecn_server() -> Script {
    let mut s = Script::server(cfg(), "0 < SEW 0:0(0) win 65535 <mss 1000>");
    s.run(
        "
        0    > [noecn] SE. 0:0(0) ack 1 <mss 1460>
        +0.1 < . 1:1(0) ack 1 win 65535
        ",
    );
    assert!(s.conn.ecn_ok());
    s
}

#[test]
fn ecn_client_with_tcp_ecn_1_sends_an_ecn_setup_syn_and_ect0_data() {
    // RFC 3168 §6.1.1: "Host A sets the ECE and CWR flags in the TCP header of the SYN";
    // "Host B sets the ECE flag ... but does not set the CWR flag" in the SYN-ACK. §6.1.2: data
    // goes ECT; pure ACKs are not ECT (§6.1.4: "the TCP data sender MUST NOT set either ECT
    // codepoint in the IP header" of a pure ACK). Linux sends ECT(0).
    let mut s = ecn_client(cfg());
    s.send(1000);
    s.run("+0 > [ect0] P. 1:1001(1000) ack 1");
    let info = s.conn.info();
    assert!(info.ecn && !info.ecn_seen);
    s.done();
}

#[test]
fn ecn_client_gives_ecn_up_on_a_synack_without_ece() {
    // RFC 3168 §6.1.1: a host "MUST NOT set ECT on data packets unless it has sent at least one
    // ECN-setup SYN or ECN-setup SYN-ACK packet and has received at least one ECN-setup SYN or
    // ECN-setup SYN-ACK packet". A SYN-ACK with ECE *and* CWR is no ECN-setup SYN-ACK either
    // (Linux `tcp_ecn_rcv_synack`).
    for synack in ["S.", "SEW."] {
        let mut s = Script::client(ecn_cfg(1));
        s.run(&format!(
            "
            0    > SEW 0:0(0)
            +0.1 < {synack} 0:0(0) ack 1 win 65535 <mss 1000>
            +0   > . 1:1(0) ack 1
            "
        ));
        assert!(!s.conn.ecn_ok(), "{synack}");
        s.send(1000);
        s.run("+0 > [noecn] P. 1:1001(1000) ack 1");
        s.done();
    }
}

#[test]
fn ecn_client_asks_only_with_tcp_ecn_1() {
    // Linux `tcp_ecn_send_syn`: only tcp_ecn = 1 sends an ECN-setup SYN; 2 (the default) only
    // accepts. A SYN-ACK with ECE then does not turn ECN on.
    for (ecn, syn, data) in [(0, "S", "[noecn]"), (1, "SEW", "[ect0]"), (2, "S", "[noecn]")] {
        let mut s = Script::client(ecn_cfg(ecn));
        s.run(&format!(
            "
            0    > {syn} 0:0(0)
            +0.1 < SE. 0:0(0) ack 1 win 65535 <mss 1000>
            +0   > . 1:1(0) ack 1
            "
        ));
        assert_eq!(s.conn.ecn_ok(), ecn == 1, "tcp_ecn={ecn}");
        s.send(1000);
        s.run(&format!("+0 > {data} P. 1:1001(1000) ack 1"));
        s.done();
    }
}

#[test]
fn ecn_server_accepts_an_ecn_setup_syn_unless_tcp_ecn_is_0() {
    // RFC 3168 §6.1.1: the answer to an ECN-setup SYN is an ECN-setup SYN-ACK (ECE, not CWR),
    // not ECT itself; then data goes ECT(0). tcp_ecn = 0: a plain SYN-ACK and no ECT ("Test
    // ECN-setup SYN with ECN disabled", packetdrill's pure-syn-data.pkt).
    for (ecn, synack, data) in [(0, "S.", "[noecn]"), (1, "SE.", "[ect0]"), (2, "SE.", "[ect0]")] {
        let mut s = Script::server(ecn_cfg(ecn), "0 < SEW 0:0(0) win 65535 <mss 1000>");
        s.run(&format!(
            "
            0    > [noecn] {synack} 0:0(0) ack 1 <mss 1460>
            +0.1 < . 1:1(0) ack 1 win 65535
            "
        ));
        assert_eq!(s.conn.ecn_ok(), ecn != 0, "tcp_ecn={ecn}");
        s.send(1000);
        s.run(&format!("+0 > {data} P. 1:1001(1000) ack 1"));
        s.done();
    }
}

#[test]
fn ecn_a_syn_with_only_ece_or_only_cwr_is_not_ecn_setup() {
    // RFC 3168 §6.1.1: an ECN-setup SYN has both flags; RFC 3168 §6.1.1.1 and Linux
    // `tcp_ecn_create_request` (`th->ece && th->cwr`) take nothing less.
    for (flags, synack, data) in
        [("SE", "S.", "[noecn]"), ("SW", "S.", "[noecn]"), ("SEW", "SE.", "[ect0]")]
    {
        let mut s = Script::server(cfg(), &format!("0 < {flags} 0:0(0) win 65535 <mss 1000>"));
        s.run(&format!(
            "
            0    > {synack} 0:0(0) ack 1 <mss 1460>
            +0.1 < . 1:1(0) ack 1 win 65535
            "
        ));
        assert_eq!(s.conn.ecn_ok(), flags == "SEW", "{flags}");
        s.send(1000);
        s.run(&format!("+0 > {data} P. 1:1001(1000) ack 1"));
        s.done();
    }
}

#[test]
fn ecn_ce_is_echoed_with_ece_on_every_segment_until_cwr() {
    // RFC 3168 §6.1.3: "the TCP receiver sets the ECN-Echo flag in a series of ACK packets ...
    // until it receives a CWR packet"; Linux sets ECE on data it sends meanwhile too
    // (`tcp_ecn_send`). A CWR on data is acknowledged at once (`tcp_ecn_accept_cwr`). Our
    // reply made the connection interactive, so the ACK after that is delayed again.
    let mut s = ecn_server();
    s.run(
        "
        +0.1 < [ect0] . 1:1001(1000) ack 1 win 65535
        +0   > . 1:1(0) ack 1001
        +0.1 < [ce] . 1001:2001(1000) ack 1 win 65535
        +0   > [noecn] E. 1:1(0) ack 2001
        +0.1 < [ect0] . 2001:3001(1000) ack 1 win 65535
        +0   > [noecn] E. 1:1(0) ack 3001
        ",
    );
    s.send(500);
    s.run(
        "
        +0   > [ect0] PE. 1:501(500) ack 3001
        +0.1 < [ect0] W. 3001:4001(1000) ack 501 win 65535
        +0   > [noecn] . 501:501(0) ack 4001
        +0.1 < [ect0] . 4001:5001(1000) ack 501 win 65535
        +0.04 > . 501:501(0) ack 5001
        ",
    );
    let info = s.conn.info();
    assert!(info.ecn && info.ecn_seen);
    assert_eq!(s.conn.stats().ce_received, 1);
    s.done();
}

#[test]
fn ecn_ce_on_an_interactive_connection_is_acknowledged_at_once() {
    // Linux `__tcp_ecn_check_ce`: "Better not delay acks, sender can have a very low cwnd":
    // a CE mark ends interactive mode (quick-ACK mode) although the ACK could wait for a reply.
    let mut s = ecn_server();
    // Interactive: each request answered within the delayed-ACK time, so its ACK rides on
    // the reply.
    for i in 0..4u32 {
        let (a, b) = (1 + 100 * i, 101 + 100 * i);
        let (x, y) = (1 + 10 * i, 11 + 10 * i);
        s.run(&format!("+0.2 < [ect0] P. {a}:{b}(100) ack {x} win 65535"));
        if i < 1 {
            // The first data of the connection is acknowledged at once (quick ACKs).
            s.run(&format!("+0 > . {x}:{x}(0) ack {b}"));
        }
        s.send(10);
        s.run(&format!("+0 > [ect0] P. {x}:{y}(10) ack {b}"));
    }
    s.run(
        "
        +0.2 < [ce] P. 401:501(100) ack 41 win 65535
        +0   > [noecn] E. 41:41(0) ack 501
        ",
    );
    s.done();
}

/// A NewReno client with ECN, ten 1000-byte segments in flight (cwnd 10).
fn ecn_sender_with_ten_in_flight() -> Script {
    let wmem = crate::BufferSizes { min: 4096, default: 1 << 20, max: 4 << 20 };
    let cfg = TcpConfig { congestion_control: CcName::NEWRENO, wmem, ..cfg() };
    let mut s = ecn_client(cfg);
    s.send(30_000);
    s.run(
        "
        +0 > [ect0] . 1:1001(1000) ack 1
        +0 > [ect0] . 1001:2001(1000) ack 1
        +0 > [ect0] . 2001:3001(1000) ack 1
        +0 > [ect0] . 3001:4001(1000) ack 1
        +0 > [ect0] . 4001:5001(1000) ack 1
        +0 > [ect0] . 5001:6001(1000) ack 1
        +0 > [ect0] . 6001:7001(1000) ack 1
        +0 > [ect0] . 7001:8001(1000) ack 1
        +0 > [ect0] . 8001:9001(1000) ack 1
        +0 > [ect0] P. 9001:10001(1000) ack 1
        ",
    );
    assert_eq!(s.conn.congestion_control().window(), 10_000);
    s
}

#[test]
fn ecn_echo_reduces_the_window_once_per_window_and_the_next_data_carries_cwr() {
    // RFC 3168 §6.1.2: on ECE "the TCP source halves the congestion window "cwnd" and reduces
    // the slow start threshold "ssthresh"", "SHOULD NOT ... react to congestion indications
    // more than once every window of data (or more loosely, more than once every round-trip
    // time)", and "sets the CWR flag in the TCP header of the first new data packet sent after
    // the window reduction". Linux spreads the reduction with PRR (RFC 6937) in its CWR state:
    // NewReno's ssthresh is half the flight the ECE finds (9 segments after the ACK).
    let mut s = ecn_sender_with_ten_in_flight();
    s.run(
        "
        +0.1 < E. 1:1(0) ack 1001 win 65535
        +0   > [ect0] W. 10001:11001(1000) ack 1
        ",
    );
    assert_eq!(s.conn.congestion_control().ssthresh(), 4500);
    assert_eq!(s.conn.stats().ecn_reductions, 1);
    // The peer echoes until it sees our CWR: these ECEs are of the same window, no new
    // reduction. PRR (RFC 6937 §3, ssthresh 4 segments of the 9 in flight) lets out
    // ceil(4 · delivered / 9) segments in all.
    s.run(
        "
        +0   < E. 1:1(0) ack 2001 win 65535
        +0   < E. 1:1(0) ack 3001 win 65535
        +0   > [ect0] . 11001:12001(1000) ack 1
        +0   < E. 1:1(0) ack 4001 win 65535
        +0   < E. 1:1(0) ack 5001 win 65535
        +0   > [ect0] . 12001:13001(1000) ack 1
        +0   < . 1:1(0) ack 6001 win 65535
        +0   < . 1:1(0) ack 7001 win 65535
        +0   > [ect0] . 13001:14001(1000) ack 1
        +0   < . 1:1(0) ack 8001 win 65535
        +0   < . 1:1(0) ack 9001 win 65535
        +0   < . 1:1(0) ack 10001 win 65535
        ",
    );
    assert_eq!(s.conn.stats().ecn_reductions, 1, "one reduction for the window");
    assert!(s.conn.info().in_cwr, "SND.UNA has not passed the reduction's mark");
    // The ACK past everything sent before the reduction ends it (cwnd = ssthresh); an ECE
    // after it is a new window's and reduces again (half the flight of 3), with CWR on the
    // next data.
    s.run(
        "
        +0   < . 1:1(0) ack 11001 win 65535
        +0   > [ect0] . 14001:15001(1000) ack 1
        ",
    );
    assert!(!s.conn.info().in_cwr);
    assert_eq!(s.conn.congestion_control().window(), 4500);
    s.run(
        "
        +0   < E. 1:1(0) ack 12001 win 65535
        +0   > [ect0] W. 15001:16001(1000) ack 1
        ",
    );
    assert_eq!(s.conn.stats().ecn_reductions, 2);
    assert_eq!(s.conn.congestion_control().ssthresh(), 2000);
    s.done();
}

#[test]
fn ecn_retransmissions_and_probes_are_not_ect_and_a_timeout_queues_cwr() {
    // RFC 3168 §6.1.5: "the TCP data sender MUST NOT set either ECT codepoint in the IP header
    // of retransmitted data packets"; §6.1.6: nor of window probes. Linux `tcp_ecn_send` sets
    // ECT only on "not-retransmitted data", and a timeout (`tcp_enter_loss`) queues CWR for
    // the next new data.
    let mut s = ecn_client(cfg());
    s.send(1000);
    s.run(
        "
        +0   > [ect0] P. 1:1001(1000) ack 1
        +0.3 > [noecn] P. 1:1001(1000) ack 1
        +0.1 < . 1:1(0) ack 1001 win 0
        ",
    );
    s.send(1000);
    // The zero window: the persist timer's probe (SND.UNA − 1, no data) is not ECT.
    s.run(
        "
        +0.3 > [noecn] . 1000:1000(0) ack 1
        +0.1 < . 1:1(0) ack 1001 win 65535
        +0   > [ect0] PW. 1001:2001(1000) ack 1
        ",
    );
    s.done();
}

#[test]
fn ecn_setup_syn_retransmissions_fall_back_to_a_plain_syn() {
    // RFC 3168 §6.1.1.1: a host "that receives no reply to an ECN-setup SYN ... SHOULD resend
    // a SYN with CWR and ECE cleared"; Linux `tcp_ecn_clear_syn` with tcp_ecn_fallback = 1
    // (the default). A plain SYN-ACK then leaves ECN off.
    let mut s = Script::client(ecn_cfg(1));
    s.run(
        "
        0    > SEW 0:0(0)
        1    > S 0:0(0)
        3    > S 0:0(0)
        +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1000>
        +0   > . 1:1(0) ack 1
        ",
    );
    assert!(!s.conn.ecn_ok());
    s.done();
    // tcp_ecn_fallback = 0: every SYN asks for ECN.
    let mut s = Script::client(TcpConfig { ecn_fallback: false, ..ecn_cfg(1) });
    s.run(
        "
        0    > SEW 0:0(0)
        1    > SEW 0:0(0)
        +0.1 < SE. 0:0(0) ack 1 win 65535 <mss 1000>
        +0   > . 1:1(0) ack 1
        ",
    );
    assert!(s.conn.ecn_ok());
    s.done();
}

#[test]
fn ecn_syn_cookie_carries_ecn_in_the_timestamp() {
    // Linux `cookie_init_timestamp` sets TS_OPT_ECN (bit 5) of the cookie SYN-ACK's TSval for
    // an accepted ECN-setup SYN, and the SYN-ACK carries ECE; `cookie_ecn_ok` turns ECN on for
    // the connection the echoed TSval opens, if tcp_ecn still accepts it.
    let cfg = cfg();
    let now = Instant::from_millis(61_500);
    let cookies = SynCookies::new([3; 16]);
    let syn = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS,
        ack: SeqNum(0),
        flags: TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR,
        window: 65_535,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            sack_permitted: true,
            timestamps: Some(Timestamps { tsval: 700, tsecr: 0 }),
            ..TcpOptions::default()
        },
        payload: &[],
    };
    let (iss, _) = cookies.isn(now, tuple(), syn.seq, 1460);
    let synack = Conn::cookie_synack(now, &cfg, tuple(), MTU, &syn, iss, 0);
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE);
    let tsval = synack.options.timestamps.unwrap().tsval;
    assert_eq!(tsval & 0x3f, 0x0f | 0x10 | 0x20, "no wscale, SACK, ECN");
    let opts = CookieOptions::decode_timestamp(tsval);
    assert!(opts.ecn && opts.sack && opts.wscale.is_none());
    let ack = TcpRepr {
        seq: REMOTE_ISS + 1u32,
        ack: iss + 1u32,
        flags: TcpFlags::ACK,
        options: TcpOptions {
            timestamps: Some(Timestamps { tsval: 730, tsecr: tsval }),
            ..TcpOptions::default()
        },
        ..syn
    };
    let valid = cookies.check(now, tuple(), ack.seq, ack.ack).expect("a valid cookie");
    let open = |cfg: &TcpConfig| {
        let mut conn = Conn::from_cookie(
            now,
            *cfg,
            tuple(),
            MTU,
            valid,
            Some(opts),
            &ack,
            Conn::default_cc(cfg),
        );
        conn.handle_segment(now, &ack);
        assert_eq!(conn.state(), TcpState::Established);
        conn
    };
    let mut conn = open(&cfg);
    assert!(conn.ecn_ok());
    conn.send(&[7; 100]).unwrap();
    let mut scratch = [0u8; 256];
    let (seg, ecn) = conn.poll_transmit_ecn(now, &mut scratch).expect("the data");
    assert_eq!((seg.payload.len(), ecn), (100, crate::Ecn::Ect0));
    // tcp_ecn = 0 by the time the ACK comes: no ECN.
    assert!(!open(&ecn_cfg(0)).ecn_ok());
    // A plain SYN's cookie says no ECN, and its SYN-ACK has no ECE.
    let plain = TcpRepr { flags: TcpFlags::SYN, ..syn };
    let synack = Conn::cookie_synack(now, &cfg, tuple(), MTU, &plain, iss, 0);
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert!(!CookieOptions::decode_timestamp(synack.options.timestamps.unwrap().tsval).ecn);
}
