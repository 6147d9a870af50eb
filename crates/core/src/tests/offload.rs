//! Device offloads (`crate::offload`): TSO runs and checksums the device vouched for.

use ustack_wire::checksum;

use super::*;
use crate::{Duration, Gso, Ipv6Cidr, Offloads, RxMeta};

const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// Cuts a packet sent with `gso` as Linux does: `tcp_gso_segment` copies the headers for
/// each segment of `segment_size` payload bytes, advances the sequence number, keeps PSH
/// and FIN for the last segment and CWR for the first, adjusts the checksum seed from the
/// whole length to the segment's, and numbers the IPv4 segments on from the first one's
/// Identification; then `skb_checksum_help` completes each checksum (the sum from
/// `csum_start` to the end, seed included, complemented, at `csum_start + 16`).
pub(crate) fn gso_segment(pkt: &[u8], gso: Gso) -> Vec<Vec<u8>> {
    let (hl, cs) = (usize::from(gso.header_len), usize::from(gso.csum_start));
    let v6 = pkt[0] >> 4 == 6;
    let word = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let seq0 = u32::from_be_bytes(pkt[cs + 4..cs + 8].try_into().unwrap());
    let seed = word(pkt, cs + 16);
    let whole = (pkt.len() - cs) as u16;
    let chunks: Vec<&[u8]> = pkt[hl..].chunks(usize::from(gso.segment_size)).collect();
    let n = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut seg = pkt[..hl].to_vec();
            seg.extend_from_slice(chunk);
            let len = seg.len();
            if v6 {
                seg[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
            } else {
                let mut ip = Ipv4Packet::new_unchecked(&mut seg[..]);
                ip.set_total_len(len as u16);
                ip.set_ident(word(pkt, 4).wrapping_add(i as u16));
                ip.fill_checksum();
            }
            let seq = seq0.wrapping_add((i * usize::from(gso.segment_size)) as u32);
            seg[cs + 4..cs + 8].copy_from_slice(&seq.to_be_bytes());
            if i + 1 < n {
                seg[cs + 13] &= !(0x08 | 0x01); // PSH, FIN
            }
            if i > 0 {
                seg[cs + 13] &= !0x80; // CWR
            }
            let this = (len - cs) as u16;
            let adjusted = checksum::combine(&[seed, !whole, this]);
            seg[cs + 16..cs + 18].copy_from_slice(&adjusted.to_be_bytes());
            let sum = checksum::data(&seg[cs..]);
            seg[cs + 16..cs + 18].copy_from_slice(&checksum::finish(sum).to_be_bytes());
            seg
        })
        .collect()
}

/// Sends `len` bytes from A to B (`b_addr`), A's device interface doing TSO up to
/// `tso_max` (0: none). Returns what A put on the wire, after the device cut it, and the
/// pair.
fn transfer(mut pair: Pair, b_addr: IpAddr, tso_max: u16, len: usize) -> (Vec<Vec<u8>>, Pair) {
    pair.a.set_offloads(0, Offloads { tso_max });
    let l = pair.b.tcp_listen(sa(b_addr, 7), 16, false).unwrap();
    let c = pair.a.tcp_connect(pair.now, None, sa(b_addr, 7)).unwrap();
    pair.settle();
    let s = pair.b.tcp_accept(l).expect("a connection to accept");
    let data: Vec<u8> = (0..len as u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 65_536];
    while got.len() < data.len() {
        if sent < data.len() {
            sent += pair.a.tcp_send(c, &data[sent..]).unwrap_or(0);
        }
        pair.run_for(Duration::from_millis(5));
        while let Ok(n @ 1..) = pair.b.tcp_recv(s, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(got == data, "B received other bytes than A sent");
    assert_eq!(pair.b.counters().tcp_in_csum_errors, 0, "every segment's checksum verifies");
    let wire = pair.log.iter().filter(|l| l.1).map(|l| l.2.clone()).collect();
    (wire, pair)
}

fn dual(v4: Ipv4Addr, v6: Ipv6Addr, secret: u8) -> Stack {
    let mut s = stack(v4, secret);
    s.add_ipv6_addr(0, Ipv6Cidr::new(v6, 64).unwrap());
    s
}

/// With TSO, the stack hands the device runs of segments; cut as Linux cuts them, they are
/// byte for byte the segments the stack sends without TSO (same sequence numbers, flags,
/// IPv4 Identifications and checksums), over IPv4 and IPv6.
#[test]
fn tso_runs_cut_as_linux_cuts_them_are_the_segments_sent_without_tso() {
    for (b_addr, pair) in [
        (IpAddr::V4(B), (|| Pair::new()) as fn() -> Pair),
        (IpAddr::V6(B6), || Pair::with(dual(A, A6, 1), dual(B, B6, 2))),
    ] {
        let (plain, p0) = transfer(pair(), b_addr, 0, 2 << 20);
        assert_eq!(p0.gso_packets, 0);
        let (cut, p1) = transfer(pair(), b_addr, 65_535, 2 << 20);
        assert!(
            // 2 MiB in runs of up to 44 segments: at least 32 runs.
            p1.gso_packets >= 32,
            "{b_addr}: runs of segments went to the device ({})",
            p1.gso_packets
        );
        assert_eq!(cut.len(), plain.len(), "{b_addr}: as many segments on the wire");
        for (i, (x, y)) in cut.iter().zip(&plain).enumerate() {
            assert!(x == y, "{b_addr}: segment {i} differs:\n{:?}\n{:?}", tcp(x), tcp(y));
        }
    }
}

/// A run stops at the device's limit, and a packet for the device is never longer.
#[test]
fn tso_runs_stay_within_the_device_limit() {
    let mut a = stack(A, 1);
    a.set_offloads(0, Offloads { tso_max: 10_000 });
    let mut p = Pair::with(a, stack(B, 2));
    p.a.set_offloads(0, Offloads { tso_max: 10_000 });
    let l = p.b.tcp_listen(sa(B, 7), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B, 7)).unwrap();
    p.settle();
    let _s = p.b.tcp_accept(l).unwrap();
    p.a.tcp_send(c, &[7u8; 200_000]).unwrap();
    let mut buf = vec![0u8; 65_536];
    let mut runs = 0;
    while let Some(t) = p.a.poll_transmit(p.now, &mut buf) {
        if let Some(gso) = t.gso {
            runs += 1;
            assert!(t.len <= 10_000, "a run of {} bytes", t.len);
            assert!(t.len > usize::from(gso.header_len) + usize::from(gso.segment_size));
            assert_eq!(usize::from(gso.header_len), 20 + 32, "IPv4 and TCP with timestamps");
        }
    }
    assert!(runs > 0);
}

/// A TCP segment whose checksum field holds only the pseudo-header sum, as a TUN with
/// checksum offload hands over the local kernel's segments (Linux `CHECKSUM_PARTIAL`), is
/// taken when the device says it vouched for it, and dropped as a checksum error otherwise
/// (SPEC S16).
#[test]
fn a_partial_checksum_is_taken_only_when_the_device_vouched_for_it() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(B, 7), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B, 7)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    let (from, to) = (p.a.tcp_conn(c).tuple().local, p.a.tcp_conn(c).tuple().remote);
    let seq = p.b.tcp_conn(s).recv_next().0;
    let ack = p.a.tcp_conn(c).recv_next().0;
    let payload = vec![0x42u8; 30_000];
    let mut pkt = tcp_packet(from, to, seq, ack, TcpFlags::ACK | TcpFlags::PSH, &payload);
    let tcp_len = (pkt.len() - 20) as u32;
    let seed = checksum::pseudo_header_v4(A, B, 6, tcp_len);
    pkt[20 + 16..20 + 18].copy_from_slice(&seed.to_be_bytes());

    let errors = p.b.counters().tcp_in_csum_errors;
    p.b.handle_packet(p.now, 0, &pkt);
    assert_eq!(p.b.counters().tcp_in_csum_errors, errors + 1);
    let mut buf = vec![0u8; 65_536];
    assert!(p.b.tcp_recv(s, &mut buf).is_err(), "nothing to read");

    p.b.handle_packet_with(p.now, 0, &pkt, RxMeta { checksum_verified: true });
    assert_eq!(p.b.counters().tcp_in_csum_errors, errors + 1);
    assert_eq!(p.b.tcp_recv(s, &mut buf).unwrap(), payload.len());
    // The flag held for that packet only.
    p.b.handle_packet(p.now, 0, &pkt);
    assert_eq!(p.b.counters().tcp_in_csum_errors, errors + 2);
}

/// A large segment from the peer (a TUN hands over what the kernel's TSO built) is one
/// segment to the connection, and is acknowledged at once, as Linux acknowledges every
/// coalesced (GRO) packet of more than one full-sized segment (`__tcp_ack_snd_check`).
#[test]
fn a_segment_of_many_mss_is_acknowledged_at_once() {
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(B, 7), 16, false).unwrap();
    let c = p.a.tcp_connect(p.now, None, sa(B, 7)).unwrap();
    p.settle();
    let s = p.b.tcp_accept(l).unwrap();
    // Past the quick-ACK start: 1 MB each way first, read as it comes.
    let mut buf = vec![0u8; 65_536];
    let mut left = 1 << 20;
    while left > 0 {
        left -= p.a.tcp_send(c, &vec![1u8; left.min(65_536)]).unwrap_or(0);
        p.run_for(Duration::from_millis(5));
        while p.b.tcp_recv(s, &mut buf).is_ok_and(|n| n > 0) {}
    }
    p.run_for(Duration::from_secs(1));
    let (from, to) = (p.a.tcp_conn(c).tuple().local, p.a.tcp_conn(c).tuple().remote);
    let seq = p.b.tcp_conn(s).recv_next().0;
    let ack = p.a.tcp_conn(c).recv_next().0;
    let payload = vec![0x42u8; 40 * 1448];
    let pkt = tcp_packet(from, to, seq, ack, TcpFlags::ACK, &payload);
    p.b.handle_packet_with(p.now, 0, &pkt, RxMeta { checksum_verified: true });
    let mut out = vec![0u8; 65_536];
    let t = p.b.poll_transmit(p.now, &mut out).expect("an ACK at once, no delayed-ACK timer");
    let seg = tcp(&out[..t.len]).unwrap();
    assert!(seg.has(TcpFlags::ACK));
    assert_eq!(seg.ack, seq.wrapping_add(payload.len() as u32));
}
