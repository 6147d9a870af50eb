//! The seed corpora: short operation sequences that each reach a state worth starting from,
//! written with [`crate::ops::encode`]. `cargo test --lib -- --ignored write_seed_corpus`
//! (in `fuzz/`) writes them to `corpus/<target>/seed-<name>`; the tests check that each
//! decodes back to its operations and does what its name says.

use core::net::SocketAddrV4;

use ustack_core::wire::{
    DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, SeqNum, TcpFlags,
    TcpOptions, TcpPacket, TcpRepr, Timestamps, UdpPacket, UdpRepr,
};

use crate::harness::{GHOST, Harness, P_ADDR, S_ADDR};
use crate::ops::{
    AckBase, Advance, App, Bytes, Corrupt, Fragments, IcmpError, IpTweak, Offset, Op, PeerApp, Raw,
    SackSpec, Segment, SegmentOptions, SeqBase, Setup, Structured, TsSpec, Wire,
};

// The flows right after setup, in the order the harness first sees them: the stack's own
// connection to the peer (its SYN goes out first), then the peer's two connections to it.
const TO_PEER: u8 = 0;
const FROM_PEER: u8 = 1;
const FROM_PEER_2: u8 = 2;
/// With three known flows, flow 3 is a new one from the fuzzer's host to port 80, then the
/// flow it created.
const GHOST_FLOW: u8 = 3;
// The stack's connections, in the order its application got them.
const SOCK_TO_PEER: u8 = 0;
const SOCK_FROM_PEER: u8 = 1;
const SOCK_GHOST: u8 = 3;

const ACK: u8 = 0x10;
const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;

fn seg(flow: u8, seq: (SeqBase, Offset), ack: (AckBase, Offset), flags: u8, len: u16) -> Segment {
    Segment {
        flow,
        seq: seq.0,
        seq_off: seq.1,
        ack: ack.0,
        ack_off: ack.1,
        flags,
        window: 65_535,
        urgent: 0,
        len,
        options: SegmentOptions {
            timestamps: Some(TsSpec { val: 1, ecr: 0 }),
            ..SegmentOptions::default()
        },
        ip: IpTweak::default(),
    }
}

/// In sequence: the next byte the stack expects, acknowledging all it sent.
fn next(flow: u8, flags: u8, len: u16) -> Segment {
    seg(flow, (SeqBase::RcvNxt, Offset::Zero), (AckBase::SndNxt, Offset::Zero), flags, len)
}

fn input(s: Segment) -> Op<Structured> {
    Op::Input(Structured::Segment(s))
}

/// The structure-aware seeds.
pub fn segment_seeds() -> Vec<(&'static str, Vec<Op<Structured>>)> {
    let syn = Segment {
        options: SegmentOptions {
            mss: Some(1460),
            wscale: Some(7),
            sack_permitted: true,
            sack: [None; 3],
            timestamps: Some(TsSpec { val: 0, ecr: 0 }),
        },
        ..seg(
            GHOST_FLOW,
            (SeqBase::PeerIss, Offset::Zero),
            (AckBase::Absolute, Offset::Zero),
            SYN,
            0,
        )
    };
    let handshake = vec![
        input(syn),
        Op::Flush,
        input(seg(
            GHOST_FLOW,
            (SeqBase::PeerNxt, Offset::Zero),
            (AckBase::SndNxt, Offset::Zero),
            ACK,
            0,
        )),
        Op::App(App::Accept),
    ];
    let mut ghost = handshake.clone();
    ghost.extend([
        input(next(GHOST_FLOW, ACK | PSH, 1000)),
        Op::Flush,
        Op::App(App::Recv { sock: SOCK_GHOST, len: 2000 }),
        Op::App(App::Send { sock: SOCK_GHOST, len: 700 }),
        Op::Flush,
        input(next(GHOST_FLOW, ACK | FIN, 0)),
        Op::Flush,
        Op::App(App::Close { sock: SOCK_GHOST }),
        Op::Flush,
        input(next(GHOST_FLOW, ACK, 0)),
        Op::Time(Advance::NextTimer),
    ]);
    let mut time_wait = handshake;
    time_wait.extend([
        Op::App(App::Close { sock: SOCK_GHOST }),
        Op::Flush,
        input(next(GHOST_FLOW, ACK | FIN, 0)),
        Op::Flush,
        Op::Time(Advance::Seconds(5)),
        // A new SYN above the old sequence space reopens the tuple in TIME-WAIT.
        input(seg(
            GHOST_FLOW,
            (SeqBase::PeerNxt, Offset::Windows(2)),
            (AckBase::Absolute, Offset::Zero),
            SYN,
            0,
        )),
        Op::Flush,
        Op::Time(Advance::NextTimer),
    ]);
    let out_of_order = vec![
        input(seg(
            FROM_PEER,
            (SeqBase::RcvNxt, Offset::Segments(1)),
            (AckBase::SndNxt, Offset::Zero),
            ACK,
            1000,
        )),
        Op::Flush,
        input(seg(
            FROM_PEER,
            (SeqBase::RcvNxt, Offset::Segments(3)),
            (AckBase::SndNxt, Offset::Zero),
            ACK,
            500,
        )),
        Op::Flush,
        input(next(FROM_PEER, ACK | PSH, 1000)),
        Op::Flush,
        Op::App(App::Recv { sock: SOCK_FROM_PEER, len: 16_000 }),
        Op::Time(Advance::Millis(200)),
    ];
    let dup_ack = |sack: Option<SackSpec>| {
        let mut s =
            seg(TO_PEER, (SeqBase::PeerNxt, Offset::Zero), (AckBase::SndUna, Offset::Zero), ACK, 0);
        s.options.sack[0] = sack;
        input(s)
    };
    let sack =
        |from: i8, len: u16| SackSpec { base: AckBase::SndUna, start: Offset::Segments(from), len };
    let recovery = vec![
        Op::App(App::Send { sock: SOCK_TO_PEER, len: 12_000 }),
        Op::Flush,
        dup_ack(Some(sack(1, 1000))),
        dup_ack(Some(sack(1, 2000))),
        dup_ack(Some(sack(1, 3000))),
        Op::Flush,
        dup_ack(Some(sack(1, 5000))),
        Op::Flush,
        Op::Time(Advance::NextTimer),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
    ];
    let mut closed = next(TO_PEER, ACK, 0);
    closed.seq = SeqBase::PeerNxt;
    closed.window = 0;
    let mut open = closed;
    open.window = 65_535;
    let zero_window = vec![
        input(closed),
        Op::App(App::Send { sock: SOCK_TO_PEER, len: 3000 }),
        Op::Flush,
        Op::Time(Advance::NextTimer),
        Op::Flush,
        Op::Time(Advance::NextTimer),
        Op::Flush,
        input(open),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
    ];
    let rst_in_window = seg(
        FROM_PEER_2,
        (SeqBase::RcvNxt, Offset::Bytes(5)),
        (AckBase::SndNxt, Offset::Zero),
        RST,
        0,
    );
    let syn_in_window = seg(
        FROM_PEER_2,
        (SeqBase::RcvNxt, Offset::Bytes(5)),
        (AckBase::Absolute, Offset::Zero),
        SYN,
        0,
    );
    let resets = vec![
        input(rst_in_window),
        Op::Flush,
        input(syn_in_window),
        Op::Flush,
        input(next(FROM_PEER_2, RST, 0)),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::Flush,
    ];
    let mut fragmented = next(FROM_PEER, ACK | PSH, 600);
    fragmented.ip.fragment = Some(Fragments { size: 7, reverse: true });
    let mut corrupted = next(FROM_PEER, ACK | PSH, 600);
    corrupted.ip.corrupt = Some(Corrupt { at: 100, xor: 0x20 });
    let fragments = vec![
        input(corrupted),
        input(fragmented),
        Op::Flush,
        Op::App(App::Recv { sock: SOCK_FROM_PEER, len: 4000 }),
    ];
    let peer = vec![
        Op::Peer(PeerApp::Send { sock: 0, len: 6000 }),
        Op::Flush,
        Op::Wire(Wire::Deliver { to_s: true, nth: 1 }),
        Op::Wire(Wire::DeliverAll),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::Flush,
        Op::App(App::Recv { sock: SOCK_FROM_PEER, len: 8000 }),
        Op::Peer(PeerApp::Close { sock: 0 }),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::App(App::Close { sock: SOCK_FROM_PEER }),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::Time(Advance::Seconds(61)),
    ];
    let ghost_connect = vec![
        Op::App(App::Connect { ghost: true, port: 443 }),
        Op::Flush,
        // Flow 3 is now the stack's SYN to the fuzzer's host: answer it.
        input(Segment {
            options: SegmentOptions { mss: Some(536), ..SegmentOptions::default() },
            ..seg(
                GHOST_FLOW,
                (SeqBase::PeerIss, Offset::Zero),
                (AckBase::Iss, Offset::Zero),
                SYN | ACK,
                0,
            )
        }),
        Op::Flush,
        Op::App(App::Send { sock: SOCK_GHOST, len: 2000 }),
        Op::Flush,
        Op::Time(Advance::NextTimer),
        Op::Flush,
    ];
    let frag_needed = Op::Input(Structured::IcmpError(IcmpError {
        flow: TO_PEER,
        code: 4,
        mtu: 576,
        seq: AckBase::SndUna,
        seq_off: Offset::Zero,
    }));
    let icmp = vec![
        Op::App(App::Send { sock: SOCK_TO_PEER, len: 4000 }),
        Op::Flush,
        frag_needed,
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
        Op::Flush,
        Op::Wire(Wire::DeliverAll),
    ];
    vec![
        ("icmp-frag-needed", icmp),
        ("ghost-handshake-data-close", ghost),
        ("time-wait-reopen", time_wait),
        ("out-of-order", out_of_order),
        ("sack-recovery", recovery),
        ("zero-window", zero_window),
        ("resets", resets),
        ("fragments-corruption", fragments),
        ("peer-driven", peer),
        ("active-open-to-ghost", ghost_connect),
    ]
}

// ----------------------------------------------------------------------------------------
// Raw seeds: real packets, built against the flows of the default setup.
// ----------------------------------------------------------------------------------------

fn ip(src: core::net::Ipv4Addr, protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let repr = Ipv4Repr {
        src,
        dst: S_ADDR,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 7,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut b[..]));
    b[repr.header_len()..].copy_from_slice(payload);
    b
}

fn tcp(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: SeqNum,
    ack: SeqNum,
    flags: TcpFlags,
    options: TcpOptions,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq,
        ack,
        flags,
        window: 65_535,
        urgent: 0,
        options,
        payload,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), *src.ip(), *dst.ip());
    ip(*src.ip(), IpProtocol::TCP, &b)
}

fn raw(fix: u8, bytes: Vec<u8>) -> Op<Raw> {
    Op::Input(Raw { fix, flow: 0, bytes: Bytes(bytes) })
}

/// The raw-bytes seeds.
pub fn raw_seeds() -> Vec<(&'static str, Vec<Op<Raw>>)> {
    let h = Harness::new(&Setup::default(), false);
    let flow = h.flows[usize::from(FROM_PEER)];
    let rcv_nxt = flow.s_ack.expect("the stack acknowledged the peer's data");
    let snd_nxt = flow.s_nxt.expect("the stack sent on the flow");
    let ts = Timestamps { tsval: flow.p_tsval.wrapping_add(1), tsecr: flow.s_tsval };
    let with_ts = TcpOptions { timestamps: Some(ts), ..TcpOptions::default() };
    let v4 = |a| SocketAddrV4::new(crate::harness::ipv4(a), std::net::SocketAddr::port(&a));
    let (remote, local) = (v4(flow.tuple.remote), v4(flow.tuple.local));
    let data: Vec<u8> = (0..300u32)
        .map(|i| crate::host::pattern(SeqNum::new(rcv_nxt.get() + i), crate::harness::P_SALT))
        .collect();
    let on_flow = vec![
        raw(0, tcp(remote, local, rcv_nxt, snd_nxt, TcpFlags::ACK | TcpFlags::PSH, with_ts, &data)),
        Op::Flush,
        raw(
            0,
            tcp(
                remote,
                local,
                SeqNum::new(rcv_nxt.get() + 300),
                snd_nxt,
                TcpFlags::ACK | TcpFlags::FIN,
                with_ts,
                &[],
            ),
        ),
        Op::Flush,
        Op::App(App::Recv { sock: SOCK_FROM_PEER, len: 4000 }),
        Op::App(App::Close { sock: SOCK_FROM_PEER }),
        Op::Flush,
    ];

    let ghost = SocketAddrV4::new(GHOST, 40_000);
    let syn_opts = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        window_scale: Some(7),
        ..TcpOptions::default()
    };
    let syn = vec![
        raw(
            0,
            tcp(
                ghost,
                SocketAddrV4::new(S_ADDR, 80),
                SeqNum::new(1000),
                SeqNum::new(0),
                TcpFlags::SYN,
                syn_opts,
                &[],
            ),
        ),
        Op::Flush,
        raw(
            0,
            tcp(
                SocketAddrV4::new(GHOST, 40_001),
                SocketAddrV4::new(S_ADDR, 81),
                SeqNum::new(5),
                SeqNum::new(0),
                TcpFlags::SYN,
                TcpOptions::default(),
                &[],
            ),
        ),
        Op::Flush,
        Op::Time(Advance::NextTimer),
        Op::Flush,
    ];

    let udp = |dst_port: u16, payload: &[u8]| {
        let repr = UdpRepr { src_port: 5353, dst_port, payload };
        let mut b = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpPacket::new_unchecked(&mut b[..]), GHOST, S_ADDR);
        ip(GHOST, IpProtocol::UDP, &b)
    };
    let icmp = |msg: &Icmpv4Repr<'_>| {
        let mut b = vec![0u8; msg.buffer_len()];
        msg.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]));
        ip(P_ADDR, IpProtocol::ICMP, &b)
    };
    // A fragment-needed about the stack's own connection to the peer (RFC 1191).
    let to_peer = h.flows[usize::from(TO_PEER)];
    let quoted = Ipv4Repr {
        src: S_ADDR,
        dst: P_ADDR,
        protocol: IpProtocol::TCP,
        payload_len: 1000,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut first8 = Vec::new();
    first8.extend_from_slice(&to_peer.tuple.local.port().to_be_bytes());
    first8.extend_from_slice(&to_peer.tuple.remote.port().to_be_bytes());
    first8.extend_from_slice(&to_peer.s_iss.map_or(0, |s| s.get() + 1).to_be_bytes());
    let frag_needed = Icmpv4Repr::DstUnreachable {
        reason: DstUnreachable::FragRequired,
        next_hop_mtu: 576,
        header: quoted,
        data: &first8,
    };
    let mut big = udp(53, &[0x5a; 1200]);
    let second = big.split_off(20 + 600);
    let first_frag = {
        let mut b = big.clone();
        let mut v = Ipv4Packet::new_unchecked(&mut b[..]);
        v.set_total_len(620);
        v.set_flags_and_offset(false, true, 0);
        v.fill_checksum();
        b
    };
    let second_frag = {
        let mut b = big[..20].to_vec();
        b.extend_from_slice(&second);
        let len = b.len() as u16;
        let mut v = Ipv4Packet::new_unchecked(&mut b[..]);
        v.set_total_len(len);
        v.set_flags_and_offset(false, false, 600);
        v.fill_checksum();
        b
    };
    let other = vec![
        raw(0, udp(53, b"question")),
        raw(0, udp(54, b"nobody")),
        raw(0, icmp(&Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: b"ping" })),
        raw(0, icmp(&frag_needed)),
        raw(0, second_frag),
        raw(0, first_frag),
        raw(0, ip(GHOST, IpProtocol(253), b"experimental")),
        Op::Flush,
        Op::App(App::UdpRecv),
        Op::App(App::Send { sock: SOCK_TO_PEER, len: 3000 }),
        Op::Flush,
    ];
    // Garbage made valid by the fix-ups: addresses, length and checksums.
    let all = Raw::VERSION | Raw::AIM | Raw::LEN | Raw::L4SUM | Raw::IPSUM;
    let mut junk = vec![0u8; 40];
    junk[9] = IpProtocol::TCP.0;
    junk[32] = 0x50;
    junk[33] = 0x12;
    let fixed = vec![
        Op::Input(Raw { fix: all, flow: FROM_PEER, bytes: Bytes(junk.clone()) }),
        Op::Input(Raw {
            fix: Raw::VERSION | Raw::ADDR | Raw::LEN | Raw::IPSUM,
            flow: 0,
            bytes: Bytes(junk),
        }),
        Op::Flush,
    ];
    vec![
        ("data-fin-on-flow", on_flow),
        ("syns", syn),
        ("udp-icmp-fragments", other),
        ("fixed-up-junk", fixed),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{decode, encode};

    #[test]
    fn every_seed_decodes_to_the_operations_it_was_written_from() {
        let setup = Setup::default();
        for (name, ops) in segment_seeds() {
            let (s, back) = decode::<Structured>(&encode(&setup, &ops));
            assert_eq!((s, &back), (setup, &ops), "seed {name}");
        }
        for (name, ops) in raw_seeds() {
            let (s, back) = decode::<Raw>(&encode(&setup, &ops));
            assert_eq!((s, &back), (setup, &ops), "seed {name}");
        }
    }

    #[test]
    fn segment_seeds_reach_what_they_are_named_for() {
        let setup = Setup::default();
        let baseline = crate::run::<Structured>(&encode::<Structured>(&setup, &[]));
        for (name, ops) in segment_seeds() {
            let o = crate::run::<Structured>(&encode(&setup, &ops));
            match name {
                "ghost-handshake-data-close" => {
                    assert_eq!(o.s_accepted, 1, "{name}: {o:?}");
                    assert!(o.s_read >= baseline.s_read + 1000, "{name}: {o:?}");
                }
                "time-wait-reopen" => {
                    let reopened = baseline.s_passive_opens + 2;
                    assert_eq!(o.s_passive_opens, reopened, "{name}: {o:?}");
                }
                "out-of-order" | "fragments-corruption" => {
                    // Out of order: 1000 bytes fill the gap before the first; the gap before the last
                    // 500 stays open.
                    let more = if name == "out-of-order" { 2000 } else { 600 };
                    assert_eq!(o.s_read, baseline.s_read + more, "{name}: {o:?}");
                }
                "peer-driven" => assert_eq!(o.s_read, baseline.s_read + 6000, "{name}: {o:?}"),
                "sack-recovery" => assert_eq!(o.p_read, baseline.p_read + 12_000, "{name}: {o:?}"),
                "zero-window" => assert_eq!(o.p_read, baseline.p_read + 3000, "{name}: {o:?}"),
                "icmp-frag-needed" => {
                    assert_eq!(o.s_icmp_unreachables, baseline.s_icmp_unreachables + 1);
                    assert_eq!(o.p_read, baseline.p_read + 4000, "{name}: {o:?}");
                }
                "resets" => assert_eq!(o.s_resets, baseline.s_resets + 1, "{name}: {o:?}"),
                _ => assert!(o.s_sent > baseline.s_sent, "{name}: {o:?}"),
            }
        }
    }

    #[test]
    fn raw_seeds_reach_what_they_are_named_for() {
        let setup = Setup::default();
        let baseline = crate::run::<Raw>(&encode::<Raw>(&setup, &[]));
        for (name, ops) in raw_seeds() {
            let o = crate::run::<Raw>(&encode(&setup, &ops));
            if name == "data-fin-on-flow" {
                assert_eq!(o.s_read, baseline.s_read + 300, "{name}: {o:?}");
            }
            assert!(o.s_sent > baseline.s_sent, "{name}: {o:?}");
        }
    }

    /// The checked-in corpus holds every seed as the generator encodes it today, so a change
    /// to the seeds or to their encoding cannot leave the fuzzers starting from stale inputs.
    /// With `USTACK_WRITE_SEEDS=1` it writes them instead (then commit `fuzz/corpus`).
    #[test]
    fn the_checked_in_corpus_holds_every_seed_as_encoded_now() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let write = std::env::var_os("USTACK_WRITE_SEEDS").is_some_and(|v| v == "1");
        let setup = Setup::default();
        let check = |target: &str, name: &str, bytes: Vec<u8>| {
            let dir = root.join(target);
            let path = dir.join(format!("seed-{name}"));
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, bytes).unwrap();
            } else {
                let stored = std::fs::read(&path).unwrap_or_else(|e| {
                    panic!("{}: {e} (USTACK_WRITE_SEEDS=1 writes it)", path.display())
                });
                assert!(
                    stored == bytes,
                    "{} differs from the seed as encoded now (USTACK_WRITE_SEEDS=1 rewrites it)",
                    path.display()
                );
            }
        };
        for (name, ops) in segment_seeds() {
            check("stack_segments", name, encode(&setup, &ops));
        }
        for (name, ops) in raw_seeds() {
            check("stack_raw", name, encode(&setup, &ops));
        }
    }
}
