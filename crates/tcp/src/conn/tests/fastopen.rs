//! SPEC S6: TCP Fast Open in the engine (RFC 7413), both sides, every fallback.

use ustack_wire::FastOpenCookie;

use super::*;
use crate::IcmpError;
use crate::tfo::{FastOpenConnect, FastOpenOutcome};

fn no_ts() -> TcpConfig {
    TcpConfig { timestamps: false, ..cfg() }
}

fn cookie(hex: &str) -> FastOpenCookie {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    FastOpenCookie::new(&bytes).unwrap()
}

/// A Fast Open child of the SYN on `syn_line`: `Conn::accept` and the listener's
/// `accept_syn_data`.
fn tfo_server(cfg: TcpConfig, syn_line: &str) -> Script {
    let line = parse_one(syn_line);
    let base = SeqBase { local_iss: LOCAL_ISS, remote_iss: REMOTE_ISS };
    let data = pattern_bytes(0, line.segment.len as usize);
    let syn = line.segment.to_repr(base, (REMOTE_PORT, LOCAL_PORT), &data);
    let mut conn =
        Conn::accept(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, &syn, Conn::default_cc(&cfg));
    conn.accept_syn_data(Instant::ZERO, &syn);
    Script::with(conn)
}

/// A client whose first SYN does `fo`, with `data` bytes sent before it.
fn tfo_client(cfg: TcpConfig, data: usize, fo: FastOpenConnect) -> Script {
    let mut conn =
        Conn::connect(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, Conn::default_cc(&cfg));
    assert_eq!(conn.send(&pattern_bytes(0, data)), if data > 0 { Ok(data) } else { Ok(0) });
    conn.set_fast_open(fo);
    let mut s = Script::with(conn);
    s.app_sent = data as u64;
    s
}

#[test]
fn s6_server_takes_syn_data_acks_it_in_the_synack_and_is_connected_at_once() {
    // RFC 7413 §4.2.2 and Linux (`tcp_fastopen_create_child`): the data is readable and the
    // connection accept()able before the handshake completes; the SYN-ACK acknowledges the
    // data and carries no cookie (the client's was valid); the application may write before
    // the client's ACK comes (packetdrill fastopen/server/opt34/basic-rw).
    let mut s =
        tfo_server(no_ts(), "0 < S 0:10(10) win 32792 <mss 1460,sackOK,FO 3021b9d889017eeb>");
    s.run("0 > S. 0:0(0) ack 11 win 65535 <mss 1460,sackOK>");
    assert_eq!(s.app_events(), [Event::Connected, Event::Readable]);
    assert_eq!(s.conn.state(), TcpState::SynReceived);
    assert!(s.conn.syn_data_acked() && s.conn.is_fast_open_child());
    assert_eq!(s.recv_all(), 10);
    s.wait_until(0.1);
    s.send(100);
    s.run(
        "
        0.1  > P. 1:101(100) ack 11
        +0.1 < . 11:11(0) ack 101 win 5840
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
    let connected = s.app_events().iter().filter(|e| **e == Event::Connected).count();
    assert_eq!(connected, 1, "Connected once, at the SYN");
}

#[test]
fn s6_server_child_retransmits_only_the_synack_until_it_is_acknowledged() {
    // Linux `tcp_retransmit_timer` for a Fast Open child: "Before we receive ACK to our
    // SYN-ACK don't retransmit anything else"; once the ACK (of the SYN only) comes, the
    // data goes again.
    let mut s = tfo_server(no_ts(), "0 < S 0:10(10) win 32792 <mss 1460,FO 3021b9d889017eeb>");
    s.run("0 > S. 0:0(0) ack 11 <mss 1460>");
    s.send(100);
    s.run(
        "
        0    > P. 1:101(100) ack 11
        1    > S. 0:0(0) ack 11 <mss 1460>
        3    > S. 0:0(0) ack 11 <mss 1460>
        +0.5 < . 11:11(0) ack 1 win 5840
        +0   > P. 1:101(100) ack 11
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::Established);
}

#[test]
fn s6_server_child_gives_up_one_retry_later_than_a_plain_synack() {
    // tcp_synack_retries 5 and Linux's one more for Fast Open: SYN-ACKs at 0, 1, 3, 7, 15, 31,
    // 63 s and the child is dropped with a timeout at 127 s.
    let mut s = tfo_server(no_ts(), "0 < S 0:5(5) win 32792 <mss 1460,FO 3021b9d889017eeb>");
    for t in ["0", "1", "3", "7", "15", "31", "63"] {
        s.run(&format!("{t} > S. 0:0(0) ack 6 <mss 1460>"));
    }
    s.wait_until(200.0);
    s.done();
    assert_eq!(s.conn.error(), Some(ConnError::TimedOut));
    assert_eq!(s.event_at(Event::Closed(Some(ConnError::TimedOut))), Some(secs(127.0)));
}

#[test]
fn s6_server_sends_the_cookie_in_the_first_synack_only() {
    // RFC 7413 §4.1.2: a cookie request (or an invalid cookie) is answered with the cookie
    // in the SYN-ACK; Linux's retransmitted SYN-ACKs carry none (`tcp_rtx_synack` has no
    // cookie to send).
    let base = SeqBase { local_iss: LOCAL_ISS, remote_iss: REMOTE_ISS };
    let syn = parse_one("0 < S 0:0(0) win 32792 <mss 1460,FO>").segment.to_repr(
        base,
        (REMOTE_PORT, LOCAL_PORT),
        &[],
    );
    let cfg = no_ts();
    let mut conn =
        Conn::accept(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, &syn, Conn::default_cc(&cfg));
    conn.set_synack_cookie(cookie("3021b9d889017eeb"));
    let mut s = Script::with(conn);
    s.run(
        "
        0 > S. 0:0(0) ack 1 <mss 1460,FO 3021b9d889017eeb>
        1 > S. 0:0(0) ack 1 <mss 1460>
        ",
    );
    s.done();
    assert!(!s.conn.syn_data_acked());
    assert!(s.app_events().is_empty(), "a plain passive open: no Connected before the ACK");
}

#[test]
fn s6_client_requests_a_cookie_and_learns_it_with_the_mss() {
    // RFC 7413 §4.1.3: the first SYN carries an empty Fast Open option; the SYN-ACK's cookie
    // and MSS are for the host's cache (packetdrill fastopen/client cache warm-up).
    let mut s = tfo_client(no_ts(), 0, FastOpenConnect::RequestCookie);
    s.run(
        "
        0     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7,FO>
        +0.01 < S. 123:123(0) ack 1 win 5840 <mss 1040,sackOK,nop,wscale 6,FO abcd1234>
        +0    > . 1:1(0) ack 124
        ",
    );
    s.done();
    assert_eq!(
        s.conn.take_fast_open_outcome(),
        Some(FastOpenOutcome {
            cookie: Some(cookie("abcd1234")),
            mss: Some(1040),
            sent_data: false,
            data_acked: false,
            syn_lost: false,
            unanswered_request: false,
            experimental: false,
        })
    );
    assert_eq!(s.conn.take_fast_open_outcome(), None, "reported once");
}

#[test]
fn s6_client_request_in_the_experimental_encoding_and_what_the_synack_said() {
    // packetdrill fastopen/client/fallback-exp-opt: the request goes as `FOEXP` (kind 254,
    // magic 0xF989); a SYN-ACK with no Fast Open option leaves it unanswered, which the
    // host's cache counts (Linux `try_exp`); a cookie in the experimental encoding is
    // learned in it, to be sent back the same way.
    let mut s = tfo_client(no_ts(), 0, FastOpenConnect::RequestExperimentalCookie);
    s.run(
        "
        0     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7,FOEXP>
        +0.01 < S. 123:123(0) ack 1 win 5840 <mss 1460,nop,wscale 6>
        +0    > . 1:1(0) ack 124
        ",
    );
    s.done();
    let o = s.conn.take_fast_open_outcome().unwrap();
    assert_eq!((o.cookie, o.unanswered_request, o.experimental), (None, true, true));

    let mut s = tfo_client(no_ts(), 0, FastOpenConnect::RequestExperimentalCookie);
    s.run(
        "
        0     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7,FOEXP>
        +0.01 < S. 123:123(0) ack 1 win 5840 <mss 1460,nop,wscale 6,FOEXP 1234abcd>
        +0    > . 1:1(0) ack 124
        ",
    );
    s.done();
    let o = s.conn.take_fast_open_outcome().unwrap();
    let exp = cookie("1234abcd").with_experimental(true);
    assert_eq!((o.cookie, o.unanswered_request), (Some(exp), false));
}

#[test]
fn s6_client_cookie_request_is_not_repeated_in_a_retransmitted_syn() {
    // packetdrill fastopen/client/cookie-req-timeout: the SYN retransmitted after 1 s has no
    // Fast Open option; a cookie in the SYN-ACK is still learned.
    let mut s = tfo_client(no_ts(), 0, FastOpenConnect::RequestCookie);
    s.run(
        "
        0     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7,FO>
        1     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7>
        +0.01 < S. 123:123(0) ack 1 win 60000 <mss 1240,FO aaaabbbbcccc>
        +0    > . 1:1(0) ack 124
        ",
    );
    s.done();
    let o = s.conn.take_fast_open_outcome().unwrap();
    assert_eq!((o.cookie, o.mss, o.syn_lost), (Some(cookie("aaaabbbbcccc")), Some(1240), false));
}

#[test]
fn s6_client_sends_data_in_the_syn_and_the_synack_acknowledges_it() {
    // RFC 7413 §3: the SYN carries the cookie and the data; the SYN-ACK acknowledges it, the
    // rest of what was written goes after the handshake (packetdrill
    // fastopen/client/blocking-sendto: 1900 bytes, 900 in the SYN).
    let fo = FastOpenConnect::WithCookie { cookie: cookie("1234abcd5678dcba"), max_data: 900 };
    let mut s = tfo_client(no_ts(), 1900, fo);
    s.run(
        "
        0     > S 0:900(900) <mss 1460,sackOK,nop,wscale 7,FO 1234abcd5678dcba>
        +0.02 < S. 5678:5678(0) ack 901 win 5840 <mss 1460,sackOK,nop,wscale 6,FO abcd1234>
        +0    > P. 901:1901(1000) ack 5679
        ",
    );
    s.done();
    assert!(s.conn.syn_data_acked());
    let o = s.conn.take_fast_open_outcome().unwrap();
    assert!(o.sent_data && o.data_acked && !o.syn_lost);
    assert_eq!(o.cookie, Some(cookie("abcd1234")), "a new cookie replaces the cached one");
}

#[test]
fn s6_fragmentation_needed_for_a_syn_with_data_resends_the_syn_announcing_the_path_mss() {
    // packetdrill fastopen/client/syn-data-icmp-unreach-frag-needed (Linux
    // `tcp_v4_mtu_reduced` in SYN-SENT): the SYN with 1000 bytes does not fit an MTU of 800;
    // the SYN goes again at once, without the data, announcing 800 − 40; the SYN-ACK's MSS
    // of 1040 is capped by the path, so the data follows in segments of 760.
    let fo = FastOpenConnect::WithCookie { cookie: cookie("abcd1234"), max_data: 1420 };
    let mut s = tfo_client(no_ts(), 1000, fo);
    s.run("0 > S 0:1000(1000) <mss 1460,sackOK,nop,wscale 7,FO abcd1234>");
    let now = Instant::from_millis(10);
    s.advance(now);
    assert!(s.conn.handle_icmp_error(now, LOCAL_ISS, IcmpError::FragNeeded { mtu: 800 }));
    s.collect();
    s.run(
        "
        +0.01 > S 0:0(0) <mss 760,sackOK,nop,wscale 7>
        +0.02 < S. 0:0(0) ack 1 win 5840 <mss 1040,nop,nop,sackOK,nop,wscale 6>
        +0    > . 1:761(760) ack 1
        +0    > P. 761:1001(240) ack 1
        ",
    );
    s.done();
    assert!(!s.conn.syn_data_acked());

    // A SYN without data fits any MTU: it is not sent again, but the next one announces the
    // path's MSS.
    let mut s = tfo_client(no_ts(), 0, FastOpenConnect::RequestCookie);
    s.run("0 > S 0:0(0) <mss 1460,sackOK,nop,wscale 7,FO>");
    let now = Instant::from_millis(10);
    s.advance(now);
    assert!(s.conn.handle_icmp_error(now, LOCAL_ISS, IcmpError::FragNeeded { mtu: 800 }));
    s.collect();
    s.run("1 > S 0:0(0) <mss 760,sackOK,nop,wscale 7>");
}

#[test]
fn s6_client_resends_syn_data_the_synack_acknowledges_only_in_part() {
    // RFC 7413 §4.2.2 (server did not take the data, or took part of it): "the client
    // retransmits the data that is not acknowledged", right after the handshake
    // (packetdrill fastopen/client/syn-data-partial-or-over-ack, syn-data-only-syn-acked).
    let fo = FastOpenConnect::WithCookie { cookie: cookie("abcd1234"), max_data: 1420 };
    let mut s = tfo_client(no_ts(), 18, fo);
    s.run(
        "
        0      > S 0:18(18) <mss 1460,sackOK,nop,wscale 7,FO abcd1234>
        +0.005 < S. 9999:9999(0) ack 10 win 5840 <mss 1460,sackOK,nop,wscale 6>
        +0     > P. 10:19(9) ack 10000
        ",
    );
    s.done();
    assert!(!s.conn.syn_data_acked(), "TCPI_OPT_SYN_DATA only when all of it is acknowledged");
    let o = s.conn.take_fast_open_outcome().unwrap();
    assert!(o.sent_data && !o.data_acked && !o.syn_lost && o.cookie.is_none());

    let fo = FastOpenConnect::WithCookie { cookie: cookie("1234abcd"), max_data: 1420 };
    let mut s = tfo_client(no_ts(), 700, fo);
    s.run(
        "
        0     > S 0:700(700) <mss 1460,sackOK,nop,wscale 7,FO 1234abcd>
        +0.02 < S. 0:0(0) ack 1 win 5840 <mss 1040,sackOK,nop,wscale 6,FO 1234abcd>
        +0    > P. 1:701(700) ack 1
        +0.02 < . 1:1(0) ack 701 win 257
        ",
    );
    s.done();
    assert_eq!(s.conn.send_queue(), 0);
}

#[test]
fn s6_client_retransmits_a_plain_syn_and_then_the_data_when_the_syn_data_is_lost() {
    // packetdrill fastopen/client/syn-data-timeout: the SYN is retransmitted without the
    // cookie or the data; the SYN-ACK without cookie acknowledging only the SYN means the
    // SYN with data was dropped on the way (Linux `syn_drop`), and the data goes at once.
    let fo = FastOpenConnect::WithCookie { cookie: cookie("abcd1234"), max_data: 1420 };
    let mut s = tfo_client(no_ts(), 1000, fo);
    s.run(
        "
        0     > S 0:1000(1000) <mss 1460,sackOK,nop,wscale 7,FO abcd1234>
        1     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7>
        +0.02 < S. 0:0(0) ack 1 win 5840 <mss 1460,sackOK,nop,wscale 6>
        +0    > P. 1:1001(1000) ack 1
        +0    < P. 1:1401(1400) ack 1001 win 257
        +0    > . 1001:1001(0) ack 1401
        ",
    );
    s.done();
    let o = s.conn.take_fast_open_outcome().unwrap();
    assert!(o.syn_lost && !o.data_acked);
    assert_eq!(s.recv_all(), 1400);
}

#[test]
fn s6_client_resets_a_synack_that_acknowledges_more_than_the_syn_carried() {
    // RFC 9293 §3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
    // <SEQ=SEG.ACK><CTL=RST>" (packetdrill syn-data-partial-or-over-ack, over-ack by 100000).
    let fo = FastOpenConnect::WithCookie { cookie: cookie("12345678ffff"), max_data: 1420 };
    let mut s = tfo_client(no_ts(), 100, fo);
    s.run(
        "
        0     > S 0:100(100) <mss 1460,sackOK,nop,wscale 7,FO 12345678ffff>
        +0.02 < S. 0:0(0) ack 100101 win 5840 <mss 1040,sackOK,nop,wscale 6,FO badc00ce>
        +0    > R 100101:100101(0)
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::SynSent);
    assert_eq!(s.conn.take_fast_open_outcome(), None, "nothing learned from a bogus SYN-ACK");
}

#[test]
fn s6_client_takes_data_and_fin_in_the_synack_of_a_fast_open() {
    // packetdrill fastopen/client/synack-data: a Fast Open client takes the SYN-ACK's data
    // (Linux `tcp_fastopen_add_skb`), and with a FIN goes from SYN-SENT to CLOSE-WAIT.
    let fo = FastOpenConnect::WithCookie { cookie: cookie("abcd1234"), max_data: 1420 };
    let mut s = tfo_client(no_ts(), 1000, fo);
    s.run(
        "
        0     > S 0:1000(1000) <mss 1460,sackOK,nop,wscale 7,FO abcd1234>
        +0.01 < SF. 0:1400(1400) ack 1001 win 5840 <mss 1040,sackOK,nop,wscale 6>
        +0    > . 1001:1001(0) ack 1402
        ",
    );
    s.done();
    assert_eq!(s.conn.state(), TcpState::CloseWait);
    assert_eq!(s.recv_all(), 1400);
    assert_eq!(s.conn.recv(&mut [0u8; 8]), Ok(0));
}

#[test]
fn s6_plain_client_ignores_data_in_the_synack() {
    // Without Fast Open, Linux does not take data in a SYN-ACK: it is not acknowledged and
    // the server sends it again.
    let mut s = Script::client(no_ts());
    s.run(
        "
        0     > S 0:0(0) <mss 1460,sackOK,nop,wscale 7>
        +0.01 < S. 0:100(100) ack 1 win 5840 <mss 1040,sackOK,nop,wscale 6>
        +0    > . 1:1(0) ack 1
        ",
    );
    s.done();
    assert_eq!(s.conn.recv_queue(), 0);
}

#[test]
fn s6_client_without_cookie_sends_data_and_no_option() {
    // tcp_fastopen 0x4 (`TFO_CLIENT_NO_COOKIE`): data in the SYN, no Fast Open option.
    let mut s = tfo_client(no_ts(), 300, FastOpenConnect::NoCookie { max_data: 1420 });
    s.run(
        "
        0     > S 0:300(300) <mss 1460,sackOK,nop,wscale 7>
        +0.01 < S. 0:0(0) ack 301 win 5840 <mss 1460>
        +0    > . 301:301(0) ack 1
        ",
    );
    s.done();
    assert!(s.conn.syn_data_acked());
}

#[test]
fn s6_server_child_acknowledges_the_first_data_after_the_syn_at_once() {
    // Linux: the SYN's data does not start the delayed-ACK engine (`tcp_fastopen_add_skb`
    // bypasses `tcp_event_data_recv`), so the next data is the "first" and quick-ACKed
    // (packetdrill opt34/basic-cookie-not-reqd).
    let mut s = tfo_server(no_ts(), "0 < S 0:1000(1000) win 32792 <mss 1460,sackOK>");
    s.run("0 > S. 0:0(0) ack 1001 <mss 1460,sackOK>");
    assert_eq!(s.recv_all(), 1000);
    s.run(
        "
        0.3 < . 1001:2001(1000) ack 1 win 5840
        +0  > . 1:1(0) ack 2001
        ",
    );
    s.done();
}

#[test]
fn s6_delivered_counts_the_syn_with_its_data_as_one_segment() {
    // Linux `tcpi_delivered`: the SYN carrying data, acknowledged whole, is one delivered
    // segment ("SYN-data is counted as two separate packets in tcp_ack()" and then one
    // taken back); each data segment acknowledged after it adds one.
    let fo = FastOpenConnect::WithCookie { cookie: cookie("1234abcd5678dcba"), max_data: 900 };
    let mut s = tfo_client(no_ts(), 1900, fo);
    s.run(
        "
        0     > S 0:900(900) <mss 1460,sackOK,nop,wscale 7,FO 1234abcd5678dcba>
        +0.02 < S. 5678:5678(0) ack 901 win 5840 <mss 1460,sackOK,nop,wscale 6>
        +0    > P. 901:1901(1000) ack 5679
        ",
    );
    assert_eq!(s.conn.stats().delivered, 1);
    s.run("+0.02 < . 5679:5679(0) ack 1901 win 257");
    s.done();
    assert_eq!(s.conn.stats().delivered, 2);
}
