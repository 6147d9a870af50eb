use super::*;

const HANDSHAKE: &str = "
0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale *>   # SYN-ACK
+0.1  < . 1:1(0) ack 1 win 512
+0    < P. 1:1001(1000) ack 1 win 512
+0.04 > . 1:1(0) ack 1001
";

fn lines(s: &str) -> Vec<Line> {
    parse(s).collect::<Result<_, _>>().unwrap()
}

#[test]
fn parses_a_handshake() {
    let l = lines(HANDSHAKE);
    assert_eq!(l.len(), 5);
    assert_eq!(l[0].when, When::At(Duration::ZERO));
    assert_eq!(l[0].segment.direction, Direction::In);
    assert_eq!(l[0].segment.flags, TcpFlags::SYN);
    assert_eq!(l[0].segment.window, Some(Field::Is(65535)));
    let (opts, n) = l[0].segment.options.as_ref().unwrap();
    assert_eq!(*n, 5);
    assert_eq!(opts[0], Some(OptionSpec::Mss(Field::Is(1460))));
    assert_eq!(opts[2], Some(OptionSpec::Timestamps { val: Field::Is(100), ecr: Field::Is(0) }));
    assert_eq!(l[1].segment.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(l[1].segment.ack, Some(1));
    assert_eq!(l[2].when, When::After(Duration::from_millis(100)));
    assert_eq!((l[3].segment.seq, l[3].segment.len), (1, 1000));
    assert_eq!(l[4].segment.window, None);
    assert_eq!(l[4].number, 6);
}

#[test]
fn errors_name_the_line() {
    let bad = |s: &str| parse(s).find_map(Result::err).unwrap();
    assert_eq!(bad("0 < X 0:0(0)").message, "unknown flag letter (use S F R P . U E W)");
    assert_eq!(bad("\n\n0 < S 0:5(0)").line, 3);
    assert_eq!(bad("0 = S 0:0(0)").message, "expected < or > after the time");
    assert_eq!(bad("x < S 0:0(0)").message, "bad time");
    assert_eq!(
        bad("0 < . 1:1(0)").message,
        "an ACK segment needs `ack N`, and only an ACK segment may have it"
    );
    assert_eq!(bad("0 < S 0:0(0) win *").message, "`*` only on > lines");
    assert_eq!(bad("0 < S 0:0(0) <mss *>").message, "`*` only on > lines");
    assert_eq!(bad("0 < S 0:0(0) <mss>").message, "bad option");
    assert_eq!(bad("0 < S 0:0(0) <FO 0102>").message, "FO cookie: 4 to 16 bytes, even");
    assert_eq!(bad("0 < S 0:0(0) frob 3").message, "unknown keyword (expected ack or win)");
}

#[test]
fn inbound_line_builds_absolute_segment() {
    let base = SeqBase { local_iss: SeqNum(5000), remote_iss: SeqNum(u32::MAX - 10) };
    let l = lines("0 < P. 1:1001(1000) ack 1 win 512 <nop,nop,TS val 7 ecr 9,sack 1:101 201:301>");
    let data = [0xabu8; 2000];
    let r = l[0].segment.to_repr(base, (80, 40000), &data);
    assert_eq!(r.seq, SeqNum(u32::MAX - 9));
    assert_eq!(r.ack, SeqNum(5001));
    assert_eq!(r.payload.len(), 1000);
    assert_eq!(r.window, 512);
    assert_eq!(r.options.timestamps, Some(Timestamps { tsval: 7, tsecr: 9 }));
    // The peer SACKs our data: relative to our ISS.
    assert_eq!(
        r.options.sack_blocks.as_slice(),
        &[
            SackBlock { left: SeqNum(5001), right: SeqNum(5101) },
            SackBlock { left: SeqNum(5201), right: SeqNum(5301) }
        ]
    );
}

#[test]
fn outbound_line_checks_with_wildcards() {
    let base = SeqBase { local_iss: SeqNum(1_000_000), remote_iss: SeqNum(77) };
    let l = lines(HANDSHAKE);
    let spec = &l[1].segment;
    let mut options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(9),
        sack_permitted: true,
        timestamps: Some(Timestamps { tsval: 123_456, tsecr: 100 }),
        ..Default::default()
    };
    let sent = TcpRepr {
        src_port: 80,
        dst_port: 40000,
        seq: SeqNum(1_000_000),
        ack: SeqNum(78),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65535,
        urgent: 0,
        options,
        payload: &[],
    };
    assert_eq!(spec.check(base, &sent), Ok(()));
    assert_eq!(spec.check(base, &TcpRepr { ack: SeqNum(79), ..sent }), Err(Mismatch::Ack));
    assert_eq!(spec.check(base, &TcpRepr { flags: TcpFlags::SYN, ..sent }), Err(Mismatch::Flags));
    assert_eq!(spec.check(base, &TcpRepr { seq: SeqNum(1), ..sent }), Err(Mismatch::Seq));
    assert_eq!(spec.check(base, &TcpRepr { window: 1, ..sent }), Err(Mismatch::Window));
    options.timestamps = Some(Timestamps { tsval: 1, tsecr: 99 });
    assert_eq!(spec.check(base, &TcpRepr { options, ..sent }), Err(Mismatch::Options));
    options.timestamps = None;
    assert_eq!(spec.check(base, &TcpRepr { options, ..sent }), Err(Mismatch::Options));
    assert_eq!(spec.check(base, &TcpRepr { payload: b"x", ..sent }), Err(Mismatch::Len));
}

#[test]
fn ecn_codepoints_parse_as_packetdrill_writes_them() {
    let line = parse_line(1, "+0 < [ce] . 1:1001(1000) ack 1 win 100").unwrap();
    assert_eq!(line.segment.ecn, Some(crate::Ecn::Ce));
    assert_eq!(line.segment.flags, TcpFlags::ACK);
    let out = parse_line(2, "+0 > [ect0] P. 1:1001(1000) ack 1").unwrap();
    assert_eq!(out.segment.check_ecn(crate::Ecn::Ect0), Ok(()));
    assert_eq!(out.segment.check_ecn(crate::Ecn::NotEct), Err(Mismatch::Ecn));
    let unchecked = parse_line(3, "+0 > P. 1:1001(1000) ack 1").unwrap();
    assert_eq!(unchecked.segment.check_ecn(crate::Ecn::Ce), Ok(()));
    assert!(parse_line(4, "+0 < [ect2] . 1:1(0) ack 1").is_err());
}
