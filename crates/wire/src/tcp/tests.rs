//! Tests of the TCP module. Fixtures are real segments: four captured from Linux on loopback
//! (the checksum field recomputed, as a loopback capture carries only the partial sum left for
//! checksum offload) and two written out by hand in the layout Linux uses; every checksum was
//! computed with an independent script, not with this crate.

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use core::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;

const LO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const SERVER: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);

/// Hand-written SYN, 192.168.1.10:54321 > 93.184.216.34:80, as Linux 6.x sends it on
/// Ethernet: `mss 1460,sackOK,TS val 2773384626 ecr 0,nop,wscale 7`.
const SYN: [u8; 40] = [
    0xd4, 0x31, 0x00, 0x50, 0x3a, 0xde, 0x68, 0xb1, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
    0xba, 0x6f, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xa5, 0x4e, 0x7d, 0xb2,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
];

/// Hand-written ACK from 93.184.216.34:80 with timestamps and two SACK blocks, Linux layout:
/// `nop,nop,TS val 7 ecr 8,nop,nop,sack 2 {3001:4001}{5001:6001}`.
const SACK_ACK: [u8; 52] = [
    0x00, 0x50, 0xd4, 0x31, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0, 0xd0, 0x10, 0x01, 0xf5,
    0x00, 0x77, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08,
    0x01, 0x01, 0x05, 0x12, 0x00, 0x00, 0x0b, 0xb9, 0x00, 0x00, 0x0f, 0xa1, 0x00, 0x00, 0x13, 0x89,
    0x00, 0x00, 0x17, 0x71,
];

/// Captured SYN, 127.0.0.1:41550 > 127.0.0.1:45678.
const LO_SYN: &str =
    "a24eb26e4320ad7700000000a002ffd7bba000000204ffd70402080aa14eadba000000000103030a";
/// Captured SYN-ACK, the reply.
const LO_SYN_ACK: &str =
    "b26ea24e7176656e4320ad78a012ffcb3cf300000204ffd70402080a910016c3a14eadba0103030a";
/// Captured ACK ending the handshake.
const LO_ACK: &str = "a24eb26e4320ad787176656f80100040657200000101080aa14eadba910016c3";
/// Captured PSH/ACK carrying "hello".
const LO_DATA: &str = "a24eb26e4320ad787176656f80180040219300000101080aa14eadba910016c368656c6c6f";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn parse(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<TcpRepr<'_>, ParseError> {
    TcpRepr::parse(&TcpPacket::new_checked(bytes)?, src, dst)
}

fn emit_vec(repr: &TcpRepr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst);
    buf
}

fn sack(pairs: &[(u32, u32)]) -> SackList {
    let blocks: Vec<SackBlock> =
        pairs.iter().map(|&(l, r)| SackBlock::new(SeqNum(l), SeqNum(r))).collect();
    SackList::from_slice(&blocks).unwrap()
}

// ---- Real segments -----------------------------------------------------------------------

#[test]
fn s22_linux_syn_parses_to_its_fields_and_options() {
    let packet = TcpPacket::new_checked(&SYN[..]).unwrap();
    assert_eq!(packet.src_port(), 54321);
    assert_eq!(packet.dst_port(), 80);
    assert_eq!(packet.seq_number(), SeqNum(987_654_321));
    assert_eq!(packet.ack_number(), SeqNum(0));
    assert_eq!(packet.header_len(), 40);
    assert_eq!(packet.flags(), TcpFlags::SYN);
    assert_eq!(packet.window_len(), 64240);
    assert_eq!(packet.checksum(), 0xba6f);
    assert_eq!(packet.urgent_at(), 0);
    assert_eq!(packet.options(), &SYN[20..]);
    assert_eq!(packet.payload(), &[] as &[u8]);
    assert!(packet.verify_checksum(CLIENT, SERVER));

    let repr = TcpRepr::parse(&packet, CLIENT, SERVER).unwrap();
    let expected = TcpRepr {
        src_port: 54321,
        dst_port: 80,
        seq: SeqNum(987_654_321),
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack_blocks: SackList::new(),
            timestamps: Some(Timestamps { tsval: 2_773_384_626, tsecr: 0 }),
            fast_open: None,
        },
        payload: &[],
    };
    assert_eq!(repr, expected);
    assert_eq!(
        repr.to_string(),
        "54321 > 80: Flags [S], seq 987654321, win 64240, options [mss 1460,sackOK,\
         TS val 2773384626 ecr 0,nop,wscale 7], length 0"
    );
}

#[test]
fn s22_sack_ack_parses() {
    let repr = parse(&SACK_ACK, SERVER, CLIENT).unwrap();
    assert_eq!((repr.seq, repr.ack, repr.window), (SeqNum(1000), SeqNum(2000), 501));
    assert_eq!(repr.flags, TcpFlags::ACK);
    assert_eq!(repr.options.timestamps, Some(Timestamps { tsval: 7, tsecr: 8 }));
    assert_eq!(repr.options.sack_blocks, sack(&[(3001, 4001), (5001, 6001)]));
    assert_eq!(repr.options.mss, None);
    assert!(!repr.options.sack_permitted);
    assert_eq!(
        repr.to_string(),
        "80 > 54321: Flags [.], ack 2000, win 501, options [nop,nop,TS val 7 ecr 8,nop,nop,\
         sack 2 {3001:4001}{5001:6001}], length 0"
    );
}

#[test]
fn s22_loopback_handshake_and_data_parse() {
    let syn = hex(LO_SYN);
    let syn = parse(&syn, LO, LO).unwrap();
    assert_eq!((syn.src_port, syn.dst_port), (41550, 45678));
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!(syn.options.mss, Some(65495));
    assert_eq!(syn.options.window_scale, Some(10));
    assert!(syn.options.sack_permitted);
    assert_eq!(syn.options.timestamps, Some(Timestamps { tsval: 2_706_288_058, tsecr: 0 }));

    let syn_ack = hex(LO_SYN_ACK);
    let syn_ack = parse(&syn_ack, LO, LO).unwrap();
    assert_eq!(syn_ack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(syn_ack.ack, syn.seq + 1u32);
    assert_eq!(
        syn_ack.options.timestamps,
        Some(Timestamps { tsval: 2_432_702_147, tsecr: 2_706_288_058 })
    );
    assert_eq!(
        syn_ack.to_string(),
        "45678 > 41550: Flags [S.], seq 1903584622, ack 1126215032, win 65483, options \
         [mss 65495,sackOK,TS val 2432702147 ecr 2706288058,nop,wscale 10], length 0"
    );

    let ack = hex(LO_ACK);
    let ack = parse(&ack, LO, LO).unwrap();
    assert_eq!(ack.flags, TcpFlags::ACK);
    assert_eq!(ack.window, 64);
    assert_eq!(ack.options.mss, None);

    let data = hex(LO_DATA);
    let data = parse(&data, LO, LO).unwrap();
    assert_eq!(data.payload, b"hello");
    assert_eq!(data.segment_len(), 5);
    assert_eq!(
        data.to_string(),
        "41550 > 45678: Flags [P.], seq 1126215032:1126215037, ack 1903584623, win 64, options \
         [nop,nop,TS val 2706288058 ecr 2432702147], length 5"
    );
}

#[test]
fn s22_emit_reproduces_linux_layout_byte_for_byte() {
    let fixtures: [(Vec<u8>, Ipv4Addr, Ipv4Addr); 6] = [
        (SYN.to_vec(), CLIENT, SERVER),
        (SACK_ACK.to_vec(), SERVER, CLIENT),
        (hex(LO_SYN), LO, LO),
        (hex(LO_SYN_ACK), LO, LO),
        (hex(LO_ACK), LO, LO),
        (hex(LO_DATA), LO, LO),
    ];
    for (bytes, src, dst) in fixtures {
        let repr = parse(&bytes, src, dst).unwrap();
        assert_eq!(repr.buffer_len(), bytes.len());
        assert_eq!(emit_vec(&repr, src, dst), bytes, "{repr}");
    }
}

// ---- Options: layout ---------------------------------------------------------------------

fn options_bytes(options: &TcpOptions) -> Vec<u8> {
    let mut buf = [0u8; TcpOptions::MAX_LEN];
    let n = options.emit(&mut buf);
    assert_eq!(n, options.buffer_len());
    buf[..n].to_vec()
}

#[test]
fn s22_sack_permitted_and_timestamps_pack_as_linux_does() {
    let ts = Some(Timestamps { tsval: 0x0102_0304, tsecr: 0x0506_0708 });
    let both = TcpOptions { sack_permitted: true, timestamps: ts, ..TcpOptions::default() };
    assert_eq!(options_bytes(&both), [4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
    let ts_only = TcpOptions { timestamps: ts, ..TcpOptions::default() };
    assert_eq!(options_bytes(&ts_only), [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
    let sack_ok_only = TcpOptions { sack_permitted: true, ..TcpOptions::default() };
    assert_eq!(options_bytes(&sack_ok_only), [1, 1, 4, 2]);
    let ws = TcpOptions { window_scale: Some(14), ..TcpOptions::default() };
    assert_eq!(options_bytes(&ws), [1, 3, 3, 14]);
    assert_eq!(options_bytes(&TcpOptions::default()), [0u8; 0]);
}

#[test]
fn s22_fast_open_layout_pads_with_nops() {
    let with =
        |cookie: FastOpenCookie| TcpOptions { fast_open: Some(cookie), ..Default::default() };
    // Cookie request: kind 34, length 2 (RFC 7413 erratum 4239), then NOP NOP.
    assert_eq!(options_bytes(&with(FastOpenCookie::request())), [34, 2, 1, 1]);
    let c8 = FastOpenCookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(options_bytes(&with(c8)), [34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1]);
    let c6 = FastOpenCookie::new(&[9, 8, 7, 6, 5, 4]).unwrap();
    assert_eq!(options_bytes(&with(c6)), [34, 8, 9, 8, 7, 6, 5, 4]);
    let c16 = FastOpenCookie::new(&[0xaa; 16]).unwrap();
    let bytes = options_bytes(&with(c16));
    assert_eq!(bytes.len(), 20);
    assert_eq!(&bytes[..2], &[34, 18]);
    assert_eq!(&bytes[18..], &[1, 1]);
}

/// The experimental encoding Linux still speaks (`TCPOPT_EXP` with `TCPOPT_FASTOPEN_MAGIC`,
/// packetdrill's `FOEXP`): kind 254, length, 0xF9 0x89, the cookie, NOP NOP when the length
/// is 2 modulo 4; parsed back into the same cookie, marked experimental.
#[test]
fn s6_fast_open_in_the_experimental_encoding_is_written_and_read_back() {
    let with =
        |cookie: FastOpenCookie| TcpOptions { fast_open: Some(cookie), ..Default::default() };
    let request = FastOpenCookie::request().with_experimental(true);
    assert_eq!(options_bytes(&with(request)), [254, 4, 0xf9, 0x89]);
    let c4 = FastOpenCookie::new(&[0x12, 0x34, 0xab, 0xcd]).unwrap().with_experimental(true);
    assert_eq!(options_bytes(&with(c4)), [254, 8, 0xf9, 0x89, 0x12, 0x34, 0xab, 0xcd]);
    let c6 = FastOpenCookie::new(&[9, 8, 7, 6, 5, 4]).unwrap().with_experimental(true);
    assert_eq!(options_bytes(&with(c6)), [254, 10, 0xf9, 0x89, 9, 8, 7, 6, 5, 4, 1, 1]);
    for cookie in [request, c4, c6] {
        let parsed = TcpOptions::parse(&options_bytes(&with(cookie))).unwrap();
        assert_eq!(parsed.fast_open, Some(cookie));
        assert!(parsed.fast_open.unwrap().is_experimental());
    }
    // The same bytes in either encoding are the same cookie, told apart by the encoding.
    assert_eq!(c4.as_bytes(), c4.with_experimental(false).as_bytes());
    assert_ne!(c4, c4.with_experimental(false));
    assert_eq!(format!("{c4:?}"), "FastOpenCookie(exp 1234abcd)");
    assert_eq!(format!("{}", TcpOption::FastOpen(request)), "exp-tfo cookiereq");
    // Another experiment under kind 254, and a Fast Open cookie of a length RFC 7413 does
    // not allow, are skipped as unknown options, not errors.
    let other = TcpOptions::parse(&[254, 6, 0x12, 0x34, 1, 2, 1, 1]).unwrap();
    assert_eq!(other.fast_open, None);
    let odd = TcpOptions::parse(&[254, 7, 0xf9, 0x89, 1, 2, 3, 1]).unwrap();
    assert_eq!(odd.fast_open, None);
    // The last Fast Open option of a segment wins, whichever its encoding (Linux).
    let both = TcpOptions::parse(&[254, 4, 0xf9, 0x89, 34, 6, 1, 2, 3, 4]).unwrap();
    assert_eq!(both.fast_open, FastOpenCookie::new(&[1, 2, 3, 4]));
}

#[test]
fn s22_fast_open_cookie_lengths_follow_rfc7413() {
    // RFC 7413 §4.1.1 with erratum 4238: "Cookie 0, or 4 to 16 bytes", length "MUST be even".
    let allowed: Vec<usize> =
        (0..=20).filter(|&n| FastOpenCookie::new(&vec![0x5a; n]).is_some()).collect();
    assert_eq!(allowed, [0, 4, 6, 8, 10, 12, 14, 16]);
    let cookie = FastOpenCookie::new(&[1, 2, 3, 4]).unwrap();
    assert_eq!(cookie.as_bytes(), &[1, 2, 3, 4]);
    assert!(!cookie.is_request());
    assert!(FastOpenCookie::request().is_request());
    assert_eq!(format!("{cookie:?}"), "FastOpenCookie(01020304)");
}

#[test]
fn s22_sack_blocks_that_do_not_fit_are_dropped_from_the_tail() {
    let four = sack(&[(1, 2), (3, 4), (5, 6), (7, 8)]);
    let ts = Some(Timestamps { tsval: 1, tsecr: 2 });
    // RFC 2018 §3: 4 blocks alone, "a maximum of 3 SACK blocks" beside timestamps.
    let alone = TcpOptions { sack_blocks: four, ..TcpOptions::default() };
    assert_eq!(alone.sack_capacity(), 4);
    assert_eq!(alone.buffer_len(), 36);
    let with_ts = TcpOptions { sack_blocks: four, timestamps: ts, ..TcpOptions::default() };
    assert_eq!(with_ts.sack_capacity(), 3);
    assert_eq!(with_ts.sack_emitted(), 3);
    assert_eq!(with_ts.buffer_len(), 40);
    let busy = TcpOptions { mss: Some(1460), window_scale: Some(7), ..with_ts };
    assert_eq!(busy.sack_capacity(), 2);
    let full = TcpOptions { fast_open: FastOpenCookie::new(&[7; 16]), ..busy };
    assert_eq!(full.sack_capacity(), 0);
    assert_eq!(full.buffer_len(), 40);

    let repr = TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: SeqNum(3),
        ack: SeqNum(4),
        flags: TcpFlags::ACK,
        window: 5,
        urgent: 0,
        options: with_ts,
        payload: b"xy",
    };
    assert_eq!(repr.header_len(), 60);
    let bytes = emit_vec(&repr, LO, LO);
    let back = parse(&bytes, LO, LO).unwrap();
    assert_eq!(back.options.sack_blocks, sack(&[(1, 2), (3, 4), (5, 6)]));
    assert_eq!(back.options.timestamps, ts);
    assert_eq!(back.payload, b"xy");
}

// ---- Options: parsing rules --------------------------------------------------------------

/// A segment whose options are `options` (a multiple of 4 bytes), with a valid checksum.
fn segment_with_options(options: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut bytes = vec![0u8; 20];
    bytes.extend_from_slice(options);
    bytes.extend_from_slice(b"data");
    bytes[12] = (((20 + options.len()) / 4) << 4) as u8;
    bytes[13] = 0x10;
    TcpPacket::new_unchecked(&mut bytes[..]).fill_checksum(LO, LO);
    bytes
}

#[test]
fn s22_malformed_option_lengths_are_bad_option_with_their_kind() {
    let cases: &[(&str, &[u8], u8)] = &[
        ("mss length 3", &[2, 3, 5, 0xb4], 2),
        ("mss length 5", &[2, 5, 5, 0xb4, 0, 0, 0, 0], 2),
        ("mss length 0", &[2, 0, 0, 0], 2),
        ("window scale length 2", &[3, 2, 1, 1], 3),
        ("window scale length 4", &[3, 4, 7, 0], 3),
        ("sack-permitted length 3", &[4, 3, 0, 0], 4),
        ("sack-permitted length 4", &[4, 4, 0, 0], 4),
        ("timestamps length 8", &[8, 8, 0, 0, 0, 0, 0, 0], 8),
        ("timestamps length 12", &[8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8),
        ("sack with no block", &[5, 2, 1, 1], 5),
        ("sack length 9", &[5, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1], 5),
        ("sack length 11", &[5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 5),
        ("sack half a block extra", &[5, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1], 5),
        ("unknown kind length 0", &[99, 0, 0, 0], 99),
        ("unknown kind length 1", &[99, 1, 1, 1], 99),
        ("length byte missing", &[1, 1, 1, 2], 2),
        ("unknown kind past the end", &[30, 8, 0, 0], 30),
        ("timestamps past the end", &[1, 1, 8, 10, 0, 0, 0, 0], 8),
        ("fast open length 0", &[34, 0, 1, 1], 34),
        ("fast open past the end", &[34, 18, 0, 0, 0, 0, 0, 0], 34),
        ("second option bad", &[2, 4, 5, 0xb4, 3, 3, 7, 1, 8, 4, 0, 0], 8),
    ];
    for &(name, options, kind) in cases {
        let expected = Err(ParseError::BadOption { kind });
        assert_eq!(TcpOptions::parse(options), expected, "{name}");
        let segment = segment_with_options(options);
        assert_eq!(parse(&segment, LO, LO).map(|r| r.options), expected, "{name}");
        let last = TcpOptionIter::new(options).last();
        assert_eq!(last, Some(Err(ParseError::BadOption { kind })), "{name}");
    }
}

#[test]
fn s22_eol_ends_the_list() {
    // RFC 9293 §3.1: EOL "is used at the end of all options"; what follows is padding, here
    // deliberately a malformed window scale that must not be read.
    let options = TcpOptions::parse(&[2, 4, 5, 0xb4, 0, 3, 9, 7]).unwrap();
    assert_eq!(options, TcpOptions { mss: Some(1460), ..TcpOptions::default() });
    let items: Vec<_> = TcpOptionIter::new(&[1, 0, 2, 4]).collect();
    assert_eq!(items, [Ok(TcpOption::Nop), Ok(TcpOption::End)]);
}

#[test]
fn s22_options_need_not_be_aligned() {
    // RFC 9293 §3.1 MUST-64: window scale at 0, MSS at 3, then a NOP.
    let options = TcpOptions::parse(&[3, 3, 7, 2, 4, 5, 0xb4, 1]).unwrap();
    assert_eq!(options.window_scale, Some(7));
    assert_eq!(options.mss, Some(1460));
}

#[test]
fn s22_unknown_options_are_skipped_by_their_length() {
    // RFC 9293 §3.2 MUST-6. Kind 30 (MPTCP) and the experimental TFO encoding (kind 254,
    // magic 0xf989) are not interpreted.
    let bytes = [30, 6, 1, 2, 3, 4, 1, 1, 254, 6, 0xf9, 0x89, 9, 9, 2, 4, 0x05, 0xdc];
    let options = TcpOptions::parse(&bytes).unwrap();
    assert_eq!(options, TcpOptions { mss: Some(1500), ..TcpOptions::default() });
    let first = TcpOptionIter::new(&bytes).next();
    assert_eq!(first, Some(Ok(TcpOption::Other { kind: 30, data: &[1, 2, 3, 4] })));
}

#[test]
fn s22_fast_open_with_a_disallowed_length_is_ignored() {
    // RFC 7413 §4.1.1: "Options with invalid Length values [...] MUST be ignored."
    for options in [
        &[34, 3, 0xaa, 1][..],
        &[34, 4, 0xaa, 0xbb],
        &[34, 5, 1, 2, 3, 1, 1, 1],
        &[34, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        let parsed = TcpOptions::parse(options).unwrap();
        assert_eq!(parsed.fast_open, None, "{options:?}");
        let first = TcpOptionIter::new(options).next().unwrap().unwrap();
        assert!(matches!(first, TcpOption::Other { kind: 34, .. }), "{options:?}");
    }
    let request = TcpOptions::parse(&[34, 2, 1, 1]).unwrap();
    assert_eq!(request.fast_open, Some(FastOpenCookie::request()));
    let cookie = TcpOptions::parse(&[34, 8, 1, 2, 3, 4, 5, 6]).unwrap();
    assert_eq!(cookie.fast_open.unwrap().as_bytes(), &[1, 2, 3, 4, 5, 6]);
}

#[test]
fn s22_a_repeated_option_replaces_the_earlier_one() {
    let options = TcpOptions::parse(&[2, 4, 0, 1, 2, 4, 0, 2]).unwrap();
    assert_eq!(options.mss, Some(2));
}

#[test]
fn s22_four_sack_blocks_parse() {
    let mut bytes = vec![1, 1, 5, 34];
    for v in 1u32..=8 {
        bytes.extend_from_slice(&(v * 100).to_be_bytes());
    }
    let options = TcpOptions::parse(&bytes).unwrap();
    assert_eq!(options.sack_blocks, sack(&[(100, 200), (300, 400), (500, 600), (700, 800)]));
}

// ---- Checksum and lengths ----------------------------------------------------------------

#[test]
fn parse_trusted_takes_a_partial_checksum_and_still_checks_length_and_options() {
    // A segment as a TUN with checksum offload hands it over: the checksum field holds only
    // the folded pseudo-header sum (Linux CHECKSUM_PARTIAL), so `parse` refuses it.
    let mut data = hex(LO_DATA);
    let original = data.clone();
    let full = parse(&original, LO, LO).unwrap();
    let seed = checksum::pseudo_header_v4(LO, LO, 6, data.len() as u32);
    data[16..18].copy_from_slice(&seed.to_be_bytes());
    assert_eq!(parse(&data, LO, LO), Err(ParseError::BadChecksum));
    let trusted = TcpRepr::parse_trusted(&TcpPacket::new_unchecked(&data[..])).unwrap();
    assert_eq!(trusted, full);
    // Length and options are still checked.
    let short = &data[..19];
    assert!(TcpRepr::parse_trusted(&TcpPacket::new_unchecked(short)).is_err());
    let bad_options = segment_with_options(&[2, 3, 0, 0]);
    assert!(TcpRepr::parse_trusted(&TcpPacket::new_unchecked(&bad_options[..])).is_err());
}

#[test]
fn s16_bad_checksum_is_an_error() {
    let mut data = hex(LO_DATA);
    assert!(parse(&data, LO, LO).is_ok());
    // Wrong pseudo-header: another destination address.
    assert_eq!(parse(&data, LO, Ipv4Addr::new(127, 0, 0, 2)), Err(ParseError::BadChecksum));
    // One payload bit flipped.
    let last = data.len() - 1;
    data[last] ^= 0x01;
    assert_eq!(parse(&data, LO, LO), Err(ParseError::BadChecksum));
    data[last] ^= 0x01;
    // Checksum field zeroed.
    data[16] = 0;
    data[17] = 0;
    assert_eq!(parse(&data, LO, LO), Err(ParseError::BadChecksum));
    // A corrupted segment is a checksum error even when its options are also malformed.
    let mut bad_options = segment_with_options(&[2, 3, 0, 0]);
    bad_options[16] ^= 0xff;
    assert_eq!(parse(&bad_options, LO, LO), Err(ParseError::BadChecksum));
}

/// A SYN Linux sent from [fd00::1]:46460 to [fd00::2]:80 and the RST it sent from port 80 to
/// a SYN for a closed port (tests/data/linux-ipv6.pcap, through a TUN device, so with the
/// checksum Linux computed over the IPv6 pseudo-header of RFC 8200 §8.1).
const V6_SYN: &str =
    "b57c00509682ed5e00000000a002fd20a5fa0000020405a00402080a41a92f9a000000000103030a";
const V6_RST: &str = "00509c4100000000000003e95014000015520000";

#[test]
fn s22_linux_segments_over_ipv6_parse_and_reemit() {
    use core::net::Ipv6Addr;
    let kernel = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    let peer = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
    let syn = hex(V6_SYN);
    let packet = TcpPacket::new_checked(&syn[..]).unwrap();
    let repr = TcpRepr::parse(&packet, kernel, peer).unwrap();
    assert_eq!((repr.src_port, repr.dst_port, repr.flags), (46460, 80, TcpFlags::SYN));
    // MSS 1440: a 1500-byte link less 40 bytes of IPv6 header and 20 of TCP.
    assert_eq!(repr.options.mss, Some(1440));
    assert_eq!(repr.options.window_scale, Some(10));
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), kernel, peer);
    assert_eq!(out, syn);

    let rst = hex(V6_RST);
    let repr = TcpRepr::parse(&TcpPacket::new_checked(&rst[..]).unwrap(), kernel, peer).unwrap();
    assert_eq!(repr.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(repr.ack, SeqNum(1001));
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), kernel, peer);
    assert_eq!(out, rst);

    // The IPv4 pseudo-header of the same segment is another sum.
    assert_eq!(parse(&rst, LO, LO), Err(ParseError::BadChecksum));
    assert_eq!(
        TcpRepr::parse(&TcpPacket::new_checked(&rst[..]).unwrap(), kernel, kernel),
        Err(ParseError::BadChecksum)
    );
}

#[test]
fn s22_short_buffers_are_truncated_or_bad_header_length() {
    for len in 0..20 {
        assert_eq!(TcpPacket::new_checked(&SYN[..len]).err(), Some(ParseError::Truncated));
        // parse checks again, so even an unchecked view does not panic.
        let unchecked = TcpPacket::new_unchecked(&SYN[..len]);
        assert_eq!(TcpRepr::parse(&unchecked, CLIENT, SERVER), Err(ParseError::Truncated));
    }
    // The data offset says 40 bytes; the buffer holds fewer.
    for len in 20..40 {
        let err = TcpPacket::new_checked(&SYN[..len]).err();
        assert_eq!(err, Some(ParseError::BadHeaderLength), "len {len}");
    }
    // Data offset below 5 words.
    for offset in 0..5u8 {
        let mut bytes = SYN;
        bytes[12] = offset << 4;
        assert_eq!(TcpPacket::new_checked(&bytes[..]).err(), Some(ParseError::BadHeaderLength));
    }
    // Data offset 15 (60 bytes) in a 40-byte buffer.
    let mut bytes = SYN;
    bytes[12] = 0xf0;
    assert_eq!(TcpPacket::new_checked(&bytes[..]).err(), Some(ParseError::BadHeaderLength));
}

#[test]
fn s22_header_len_of_20_means_no_options() {
    let mut bytes = [0u8; 24];
    bytes[12] = 0x50;
    let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.header_len(), 20);
    assert!(packet.options().is_empty());
    assert_eq!(packet.payload().len(), 4);
}

// ---- Flags ---------------------------------------------------------------------------

#[test]
fn s22_flags_print_as_tcpdump_and_debug() {
    use TcpFlags as F;
    let cases = [
        (F::SYN, "[S]"),
        (F::SYN | F::ACK, "[S.]"),
        (F::PSH | F::ACK, "[P.]"),
        (F::FIN | F::ACK, "[F.]"),
        (F::FIN | F::PSH | F::ACK, "[FP.]"),
        (F::RST, "[R]"),
        (F::RST | F::ACK, "[R.]"),
        (F::ACK, "[.]"),
        (F::URG | F::ACK, "[.U]"),
        (F::SYN | F::ECE | F::CWR, "[SEW]"),
        (F::NS, "[e]"),
        (F::empty(), "[none]"),
    ];
    for (flags, text) in cases {
        assert_eq!(flags.to_string(), text);
    }
    assert_eq!(format!("{:?}", F::SYN | F::ACK), "SYN|ACK");
    assert_eq!(format!("{:?}", F::FIN | F::NS), "FIN|NS");
    assert_eq!(format!("{:?}", F::default()), "(empty)");
}

#[test]
fn s22_flags_bits_and_set_operations() {
    assert_eq!(TcpFlags::from_bits_truncate(0xffff).bits(), 0x01ff);
    let mut f = TcpFlags::SYN;
    f |= TcpFlags::ACK;
    assert!(f.contains(TcpFlags::SYN | TcpFlags::ACK));
    assert!(!f.contains(TcpFlags::SYN | TcpFlags::FIN));
    assert!(f.intersects(TcpFlags::SYN | TcpFlags::FIN));
    assert_eq!(f & TcpFlags::ACK, TcpFlags::ACK);
    f.remove(TcpFlags::SYN);
    assert_eq!(f, TcpFlags::ACK);
    f.set(TcpFlags::FIN, true);
    assert_eq!(f.bits(), 0x11);
    assert!(TcpFlags::empty().is_empty());
}

#[test]
fn s22_ns_is_bit_0_of_byte_12_and_reserved_bits_are_ignored() {
    let mut bytes = [0u8; 20];
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_header_len(20);
    packet.set_flags(TcpFlags::NS | TcpFlags::ACK);
    assert_eq!(packet.flags(), TcpFlags::NS | TcpFlags::ACK);
    assert_eq!(packet.header_len(), 20);
    assert_eq!(&bytes[12..14], &[0x51, 0x10]);
    // The three reserved bits (byte 12, bits 1..3) are not flags.
    let mut bytes = SYN;
    bytes[12] |= 0x0e;
    let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.flags(), TcpFlags::SYN);
    assert_eq!(packet.header_len(), 40);
}

#[test]
fn s22_setters_write_the_fields_getters_read() {
    let mut bytes = [0u8; 28];
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_src_port(0x1234);
    packet.set_dst_port(0x5678);
    packet.set_seq_number(SeqNum(0x9abc_def0));
    packet.set_ack_number(SeqNum(0x0fed_cba9));
    packet.set_header_len(24);
    packet.set_flags(TcpFlags::PSH | TcpFlags::ACK);
    packet.set_window_len(0x4321);
    packet.set_urgent_at(0x0102);
    packet.options_mut().copy_from_slice(&[1, 3, 3, 2]);
    packet.payload_mut().copy_from_slice(b"abcd");
    packet.fill_checksum(CLIENT, SERVER);
    assert!(packet.verify_checksum(CLIENT, SERVER));
    assert_eq!(
        &bytes[..20],
        &[
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0xed, 0xcb, 0xa9, 0x60, 0x18,
            0x43, 0x21, bytes[16], bytes[17], 0x01, 0x02
        ]
    );
    let repr = parse(&bytes, CLIENT, SERVER).unwrap();
    assert_eq!(repr.options.window_scale, Some(2));
    assert_eq!(repr.payload, b"abcd");
    assert_eq!(repr.urgent, 0x0102);
}

#[test]
fn s22_getters_do_not_panic_after_a_bad_header_len_is_set() {
    let mut bytes = [0u8; 24];
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_header_len(60);
    assert_eq!(packet.options().len(), 4);
    assert!(packet.payload().is_empty());
    packet.set_header_len(8);
    assert!(packet.options().is_empty());
    assert_eq!(packet.payload_mut().len(), 4);
}

#[test]
fn s22_display_shows_urgent_fin_and_rst() {
    let repr = TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: SeqNum(u32::MAX),
        ack: SeqNum(9),
        flags: TcpFlags::FIN | TcpFlags::URG | TcpFlags::ACK,
        window: 3,
        urgent: 2,
        options: TcpOptions::default(),
        payload: b"ab",
    };
    assert_eq!(
        repr.to_string(),
        "1 > 2: Flags [F.U], seq 4294967295:1, ack 9, win 3, urg 2, length 2"
    );
    assert_eq!(repr.segment_len(), 3);
    let rst = TcpRepr { flags: TcpFlags::RST, payload: &[], ..repr };
    assert_eq!(rst.to_string(), "1 > 2: Flags [R], seq 4294967295, win 3, length 0");
    let tfo = TcpRepr {
        flags: TcpFlags::SYN,
        options: TcpOptions { fast_open: Some(FastOpenCookie::request()), ..Default::default() },
        payload: &[],
        ..repr
    };
    assert_eq!(
        tfo.to_string(),
        "1 > 2: Flags [S], seq 4294967295, win 3, options [tfo cookiereq,nop,nop], length 0"
    );
}

// ---- Property tests ----------------------------------------------------------------------

prop_compose! {
    fn arb_sack_list()(blocks in prop::collection::vec((any::<u32>(), any::<u32>()), 0..=4))
        -> SackList {
        sack(&blocks)
    }
}

fn arb_cookie() -> impl Strategy<Value = FastOpenCookie> {
    prop::sample::select(vec![0usize, 4, 6, 8, 10, 12, 14, 16])
        .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
        .prop_flat_map(|bytes| (Just(bytes), any::<bool>()))
        .prop_map(|(bytes, exp)| FastOpenCookie::new(&bytes).unwrap().with_experimental(exp))
}

prop_compose! {
    /// Any options, SACK blocks possibly more than fit.
    fn arb_options_any()(
        mss in any::<Option<u16>>(),
        window_scale in any::<Option<u8>>(),
        sack_permitted in any::<bool>(),
        sack_blocks in arb_sack_list(),
        timestamps in any::<Option<(u32, u32)>>(),
        fast_open in prop::option::of(arb_cookie()),
    ) -> TcpOptions {
        TcpOptions {
            mss,
            window_scale,
            sack_permitted,
            sack_blocks,
            timestamps: timestamps.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            fast_open,
        }
    }
}

/// Options that fit: the SACK list cut to what fits beside the others.
fn arb_options() -> impl Strategy<Value = TcpOptions> {
    arb_options_any().prop_map(|mut o| {
        o.sack_blocks.truncate(o.sack_capacity());
        o
    })
}

prop_compose! {
    /// A repr with an empty payload (the payload is drawn beside it, as it is borrowed).
    fn arb_repr_fields()(
        src_port in any::<u16>(),
        dst_port in any::<u16>(),
        seq in any::<u32>(),
        ack in any::<u32>(),
        flags in any::<u16>(),
        window in any::<u16>(),
        urgent in any::<u16>(),
        options in arb_options(),
    ) -> TcpRepr<'static> {
        TcpRepr {
            src_port,
            dst_port,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: TcpFlags::from_bits_truncate(flags),
            window,
            urgent,
            options,
            payload: &[],
        }
    }
}

fn arb_addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

/// A length that is right for `kind` (`pick` chooses among several right ones).
fn good_len(kind: u8, pick: u8) -> u8 {
    match kind {
        KIND_MSS => 4,
        KIND_WINDOW_SCALE => 3,
        KIND_SACK_PERMITTED => 2,
        KIND_SACK => 2 + 8 * (1 + pick % 4),
        KIND_TIMESTAMPS => 10,
        KIND_FAST_OPEN => [2, 6, 8, 10, 12, 14, 16, 18][usize::from(pick % 8)],
        _ => 2 + pick % 12,
    }
}

/// Option bytes built from plausible pieces, mostly well formed, so that every parsing branch
/// is reached and whole lists often parse.
fn arb_option_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        1 => Just(vec![KIND_EOL]),
        3 => Just(vec![KIND_NOP]),
        12 => (
            prop::sample::select(vec![2u8, 3, 4, 5, 8, 34, 30, 254, 19]),
            prop::bool::weighted(0.8),
            0u8..=20,
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 32),
        )
            .prop_map(|(kind, good, any_len, pick, data)| {
                let len = if good { good_len(kind, pick) } else { any_len };
                let mut piece = vec![kind, len];
                piece.extend(data.into_iter().take(usize::from(len).saturating_sub(2)));
                piece
            }),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| {
        let mut bytes: Vec<u8> = pieces.concat();
        bytes.truncate(TcpOptions::MAX_LEN);
        bytes
    })
}

/// Exercises every getter and parser on `bytes`; must never panic.
fn poke(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Option<String> {
    let _ = TcpOptions::parse(bytes);
    TcpOptionIter::new(bytes).for_each(|o| drop(o.map(|o| o.to_string())));
    let _ = TcpRepr::parse(&TcpPacket::new_unchecked(bytes), src, dst);
    let packet = TcpPacket::new_checked(bytes).ok()?;
    let _ = (packet.src_port(), packet.dst_port(), packet.seq_number(), packet.ack_number());
    let _ = (packet.header_len(), packet.flags(), packet.window_len(), packet.checksum());
    let _ = (packet.urgent_at(), packet.options(), packet.payload());
    let _ = packet.verify_checksum(src, dst);
    let _ = TcpOptions::parse(packet.options());
    TcpRepr::parse(&packet, src, dst).ok().map(|repr| repr.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn s22_parse_of_emit_is_identity(
        fields in arb_repr_fields(),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        src in arb_addr(),
        dst in arb_addr(),
    ) {
        let repr = TcpRepr { payload: &payload, ..fields };
        let bytes = emit_vec(&repr, src, dst);
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        prop_assert_eq!(repr.header_len() % 4, 0);
        prop_assert!(repr.header_len() <= MAX_HEADER_LEN);
        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        prop_assert!(packet.verify_checksum(src, dst));
        prop_assert_eq!(packet.header_len(), repr.header_len());
        prop_assert_eq!(TcpRepr::parse(&packet, src, dst), Ok(repr));
    }

    #[test]
    fn emit_sums_the_timestamp_only_header_from_its_values_like_the_bytes(
        fields in arb_repr_fields(),
        tsval in any::<u32>(),
        tsecr in any::<u32>(),
        sack_permitted in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..100),
        src in arb_addr(),
        dst in arb_addr(),
    ) {
        // The options of nearly every established segment, `NOP NOP TS` (and `SACKOK TS`,
        // as long), whose sum `emit` takes from the values: the checksum verifies over the
        // bytes written, whatever the flags (NS included), numbers and timestamps.
        let options = TcpOptions {
            timestamps: Some(Timestamps { tsval, tsecr }),
            sack_permitted,
            ..TcpOptions::default()
        };
        let repr = TcpRepr { payload: &payload, options, ..fields };
        let bytes = emit_vec(&repr, src, dst);
        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        prop_assert!(packet.verify_checksum(src, dst));
        prop_assert_eq!(TcpRepr::parse(&packet, src, dst), Ok(repr));
    }

    #[test]
    fn s22_parse_of_emit_is_identity_over_ipv6(
        fields in arb_repr_fields(),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        src: [u8; 16],
        dst: [u8; 16],
    ) {
        let (src, dst) = (core::net::Ipv6Addr::from(src), core::net::Ipv6Addr::from(dst));
        let repr = TcpRepr { payload: &payload, ..fields };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut bytes[..]), src, dst);
        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        prop_assert!(packet.verify_checksum(src, dst));
        prop_assert_eq!(TcpRepr::parse(&packet, src, dst), Ok(repr));
    }

    #[test]
    fn s22_emit_keeps_the_sack_blocks_that_fit(
        options in arb_options_any(),
        fields in arb_repr_fields(),
    ) {
        let repr = TcpRepr { options, ..fields };
        let bytes = emit_vec(&repr, LO, LO);
        let back = parse(&bytes, LO, LO).unwrap();
        let kept = options.sack_blocks.len().min(options.sack_capacity());
        prop_assert_eq!(back.options.sack_blocks.as_slice(), &options.sack_blocks.as_slice()[..kept]);
        let mut expected = options;
        expected.sack_blocks.truncate(kept);
        prop_assert_eq!(back.options, expected);
        prop_assert!(options.buffer_len() <= TcpOptions::MAX_LEN);
    }

    #[test]
    fn s22_random_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..100),
        src in arb_addr(),
        dst in arb_addr(),
    ) {
        poke(&bytes, src, dst);
    }

    #[test]
    fn s22_random_options_never_panic_and_reparse(
        soup in arb_option_soup(),
        payload in prop::collection::vec(any::<u8>(), 0..16),
        offset_nibble in 5u8..=15,
        flags in any::<u8>(),
    ) {
        // A header whose data offset may disagree with the option bytes, with a valid
        // checksum so that parsing reaches the options.
        let mut bytes = vec![0u8; 20];
        bytes.extend_from_slice(&soup);
        bytes.extend_from_slice(&payload);
        bytes[12] = offset_nibble << 4;
        bytes[13] = flags;
        if let Ok(mut packet) = TcpPacket::new_checked(&mut bytes[..]) {
            packet.fill_checksum(LO, LO);
        }
        poke(&bytes, LO, LO);
        if let Ok(repr) = parse(&bytes, LO, LO) {
            // Whatever parsed re-emits to the same values, SACK blocks cut to what fits.
            let again_bytes = emit_vec(&repr, LO, LO);
            let again = parse(&again_bytes, LO, LO).unwrap();
            let mut expected = repr;
            expected.options.sack_blocks.truncate(repr.options.sack_capacity());
            prop_assert_eq!(again, expected);
        }
    }
}

/// Twelve option bytes near `NOP NOP TS`: the aligned timestamp itself, or one of its bytes
/// changed, so that both the fast path and every near miss of it are tried.
fn arb_near_aligned_timestamp() -> impl Strategy<Value = Vec<u8>> {
    (any::<[u8; 8]>(), 0usize..13, any::<u8>()).prop_map(|(ts, at, byte)| {
        let mut b = vec![KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, 10];
        b.extend_from_slice(&ts);
        if at < b.len() {
            b[at] = byte;
        }
        b
    })
}

#[test]
fn s22_aligned_timestamp_reads_tsval_and_tsecr_in_network_order() {
    // RFC 7323 Appendix A's layout, `nop,nop,TS val 0x01020304 ecr 0xa0b0c0d0`.
    let bytes = [1, 1, 8, 10, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0];
    let o = TcpOptions::parse(&bytes).unwrap();
    assert_eq!(o.timestamps, Some(Timestamps { tsval: 0x0102_0304, tsecr: 0xa0b0_c0d0 }));
    assert_eq!(o, TcpOptions { timestamps: o.timestamps, ..TcpOptions::default() });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn s22_option_parse_fast_path_agrees_with_the_walk(bytes in arb_near_aligned_timestamp()) {
        prop_assert_eq!(TcpOptions::parse(&bytes), TcpOptions::parse_list(&bytes));
    }

    #[test]
    fn s22_option_parse_agrees_with_the_walk_on_any_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..=40),
    ) {
        prop_assert_eq!(TcpOptions::parse(&bytes), TcpOptions::parse_list(&bytes));
    }
}
