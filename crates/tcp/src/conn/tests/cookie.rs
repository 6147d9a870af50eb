//! SPEC S8: the SYN-ACK of a SYN cookie and the connection its final ACK opens (Linux
//! `syncookies.c`: `cookie_init_timestamp`, `cookie_v4_check`).

use ustack_wire::{TcpOptions, Timestamps};

use super::*;
use crate::syncookie::{CookieOptions, SynCookies};

const NOW: Instant = Instant::from_millis(61_500);

fn syn(options: TcpOptions) -> TcpRepr<'static> {
    TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS,
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 65_535,
        urgent: 0,
        options,
        payload: &[],
    }
}

fn linux_syn() -> TcpRepr<'static> {
    syn(TcpOptions {
        mss: Some(1460),
        window_scale: Some(8),
        sack_permitted: true,
        timestamps: Some(Timestamps { tsval: 700, tsecr: 0 }),
        ..TcpOptions::default()
    })
}

#[test]
fn s8_cookie_synack_offers_what_accept_offers_and_hides_the_options_in_tsval() {
    // Linux answers a SYN from its SYN queue or with a cookie alike on the wire, but for the
    // ISS and the TSval: `cookie_init_timestamp` puts the peer's window shift (8) and
    // SACK-permitted (bit 4) in the low 6 bits of a TSval not above the clock (61500 ms).
    let cfg = cfg();
    let s = linux_syn();
    let iss = SeqNum(0x1234_5678);
    let synack = Conn::cookie_synack(NOW, &cfg, tuple(), MTU, &s, iss, 1000);
    let mut normal = Conn::accept(NOW, cfg, tuple(), iss, MTU, &s, Conn::default_cc(&cfg));
    normal.set_timestamp_offset(1000);
    let mut scratch = [0u8; 64];
    let expected = normal.poll_transmit(NOW, &mut scratch).expect("the SYN-ACK");
    let ts = synack.options.timestamps.expect("timestamps answered");
    let tsval = ts.tsval.wrapping_sub(1000);
    assert_eq!(tsval & 63, 8 | 16);
    assert!(tsval <= 61_500 && 61_500 - tsval < 64, "{tsval}");
    assert_eq!(ts.tsecr, 700);
    let clear_ts = |r: &TcpRepr<'_>| TcpRepr {
        options: TcpOptions { timestamps: None, ..r.options },
        payload: &[],
        ..*r
    };
    assert_eq!(clear_ts(&synack), clear_ts(&expected));
}

#[test]
fn s8_cookie_synack_without_timestamps_answers_only_the_mss() {
    // Linux `tcp_conn_request`: "if (want_cookie && !tmp_opt.saw_tstamp)
    // tcp_clear_options(&tmp_opt)": no room for wscale and SACK-permitted.
    let s = syn(TcpOptions {
        mss: Some(1400),
        window_scale: Some(8),
        sack_permitted: true,
        ..TcpOptions::default()
    });
    let synack = Conn::cookie_synack(NOW, &cfg(), tuple(), MTU, &s, SeqNum(9), 0);
    assert_eq!(synack.options, TcpOptions { mss: Some(1460), ..TcpOptions::default() });
    assert_eq!((synack.seq, synack.ack), (SeqNum(9), REMOTE_ISS + 1u32));
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
}

#[test]
fn s8_final_ack_with_a_valid_cookie_opens_an_established_connection_with_the_options() {
    // The ACK echoes the cookie TSval; the connection that comes of it scales the peer's
    // windows by 8, sends SACK blocks, uses the cookie's MSS (1460 less timestamps), and takes
    // the data the ACK carries.
    let cfg = cfg();
    let cookies = SynCookies::new([3; 16]);
    let s = linux_syn();
    let (iss, mss) = cookies.isn(NOW, tuple(), s.seq, 1460);
    assert_eq!(mss, 1460);
    let synack = Conn::cookie_synack(NOW, &cfg, tuple(), MTU, &s, iss, 0);
    let tsval = synack.options.timestamps.unwrap().tsval;
    let later = NOW + Duration::from_millis(30);
    let data = pattern_bytes(0, 100);
    let ack = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS + 1u32,
        ack: iss + 1u32,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window: 100,
        urgent: 0,
        options: TcpOptions {
            timestamps: Some(Timestamps { tsval: 730, tsecr: tsval }),
            ..TcpOptions::default()
        },
        payload: &data,
    };
    let valid = cookies.check(later, tuple(), ack.seq, ack.ack).expect("a valid cookie");
    let opts = CookieOptions::decode_timestamp(tsval);
    let mut conn = Conn::from_cookie(
        later,
        cfg,
        tuple(),
        MTU,
        valid,
        Some(opts),
        &ack,
        Conn::default_cc(&cfg),
    );
    conn.handle_segment(later, &ack);
    assert_eq!(conn.state(), TcpState::Established);
    let events: Vec<Event> = std::iter::from_fn(|| conn.poll_event()).collect();
    assert_eq!(events, [Event::Connected, Event::Readable]);
    let info = conn.info();
    assert!(info.timestamps && info.sack && info.window_scaling);
    assert_eq!((info.snd_wscale, info.rcv_wscale), (8, 7));
    assert_eq!(conn.peer_window(), 100 << 8);
    assert_eq!(conn.effective_mss(), 1448);
    let mut buf = [0u8; 200];
    assert_eq!(conn.recv(&mut buf), Ok(100));
    assert_eq!(&buf[..100], &data[..]);
    // The data is acknowledged (quick ACK at the start), with the timestamps.
    let mut scratch = [0u8; 64];
    let out = conn.poll_transmit(later, &mut scratch).expect("an ACK");
    assert_eq!((out.seq, out.ack), (iss + 1u32, REMOTE_ISS + 101u32));
    assert_eq!(out.options.timestamps.map(|t| t.tsecr), Some(730));
}

#[test]
fn s8_cookie_ack_without_timestamps_opens_a_connection_without_scaling_or_sack() {
    // Linux `cookie_timestamp_decode`: no timestamp in the ACK, no options but the MSS; a
    // 1400-byte MSS option comes back as the table's 1300.
    let cfg = cfg();
    let cookies = SynCookies::new([3; 16]);
    let (iss, mss) = cookies.isn(NOW, tuple(), REMOTE_ISS, 1400);
    assert_eq!(mss, 1300);
    let ack = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS + 1u32,
        ack: iss + 1u32,
        flags: TcpFlags::ACK,
        window: 5000,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    let valid = cookies.check(NOW, tuple(), ack.seq, ack.ack).unwrap();
    let mut conn =
        Conn::from_cookie(NOW, cfg, tuple(), MTU, valid, None, &ack, Conn::default_cc(&cfg));
    conn.handle_segment(NOW, &ack);
    assert_eq!(conn.state(), TcpState::Established);
    let info = conn.info();
    assert!(!info.timestamps && !info.sack && !info.window_scaling);
    assert_eq!(conn.peer_window(), 5000);
    assert_eq!(conn.effective_mss(), 1300);
    let mut scratch = [0u8; 64];
    assert!(conn.poll_transmit(NOW, &mut scratch).is_none(), "a bare ACK is not answered");
}
