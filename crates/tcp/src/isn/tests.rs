use super::{IsnGenerator, KeyedHash};
use crate::{Duration, Instant};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::collections::BTreeSet;
use ustack_wire::SeqNum;

const KEY: [u8; 16] = *b"0123456789abcdef";

fn addr(a: u8, port: u16) -> SocketAddr {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, a), port).into()
}

fn addr6(a: u16, port: u16) -> SocketAddr {
    SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a).into(), port)
}

fn key(seed: u8) -> [u8; 16] {
    core::array::from_fn(|i| seed.wrapping_mul(151).wrapping_add(i as u8 * 17))
}

#[test]
fn siphash_matches_the_reference_vector() {
    // The SipHash paper, appendix A: key 00 01 .. 0f, message 00 01 .. 0e.
    let key: [u8; 16] = core::array::from_fn(|i| i as u8);
    let message: [u8; 15] = core::array::from_fn(|i| i as u8);
    assert_eq!(KeyedHash::new(key).hash(&message), 0xa129_ca61_49be_45e5);
    // The first entry of the reference vectors.h table: the empty message.
    assert_eq!(KeyedHash::new(key).hash(&[]), 0x726f_db47_dd0e_0e31);
}

#[test]
fn the_four_tuple_message_layout_is_fixed() {
    let prf = KeyedHash::new(KEY);
    let (local, remote) = (addr(1, 0x1234), addr(2, 80));
    let mut message = [10, 0, 0, 1, 0x12, 0x34, 10, 0, 0, 2, 0, 80, 0, 0, 0, 7];
    assert_eq!(prf.hash_four_tuple(local, remote, 7), prf.hash(&message));
    message[15] = 0;
    assert_eq!(prf.hash_four_tuple(local, remote, 0), prf.hash(&message));
}

#[test]
fn the_ipv6_four_tuple_message_holds_the_full_addresses() {
    // RFC 6528 §3: F is a function of the connection-id, the whole of each 128-bit address
    // (Linux `secure_tcpv6_seq` hashes saddr and daddr whole).
    let prf = KeyedHash::new(KEY);
    let (local, remote) = (addr6(1, 0x1234), addr6(2, 80));
    let mut message = [0u8; 40];
    message[..16].copy_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets());
    message[16..18].copy_from_slice(&[0x12, 0x34]);
    message[18..34].copy_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
    message[34..36].copy_from_slice(&[0, 80]);
    message[39] = 7;
    assert_eq!(prf.hash_four_tuple(local, remote, 7), prf.hash(&message));
    // Peers that differ only in the first 64 bits get unrelated ISNs.
    let isn = IsnGenerator::new(KEY);
    let now = Instant::from_millis(5);
    let other = SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb9, 0, 0, 0, 0, 0, 2).into(), 80);
    assert_ne!(isn.isn(now, local, remote), isn.isn(now, local, other));
}

#[test]
fn same_tuple_same_time_same_isn() {
    let isn = IsnGenerator::new(KEY);
    let now = Instant::from_millis(1_234);
    let a = isn.isn(now, addr(1, 40_000), addr(2, 80));
    assert_eq!(a, isn.isn(now, addr(1, 40_000), addr(2, 80)));
    assert_eq!(a, IsnGenerator::new(KEY).isn(now, addr(1, 40_000), addr(2, 80)));
}

#[test]
fn every_part_of_the_tuple_and_the_key_matters() {
    let isn = IsnGenerator::new(KEY);
    let now = Instant::from_secs(5);
    let base = isn.isn(now, addr(1, 40_000), addr(2, 80));
    let variants = [
        isn.isn(now, addr(1, 40_001), addr(2, 80)),
        isn.isn(now, addr(1, 40_000), addr(2, 81)),
        isn.isn(now, addr(3, 40_000), addr(2, 80)),
        isn.isn(now, addr(1, 40_000), addr(3, 80)),
        isn.isn(now, addr(2, 80), addr(1, 40_000)),
        IsnGenerator::new(key(1)).isn(now, addr(1, 40_000), addr(2, 80)),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_ne!(*v, base, "variant {i}");
    }
}

#[test]
fn m_ticks_every_four_microseconds_and_wraps() {
    assert_eq!(IsnGenerator::clock(Instant::ZERO), 0);
    assert_eq!(IsnGenerator::clock(Instant::from_nanos(3_999)), 0);
    assert_eq!(IsnGenerator::clock(Instant::from_micros(4)), 1);
    assert_eq!(IsnGenerator::clock(Instant::from_secs(1)), 250_000);
    // 2^32 ticks of 4 µs: 17 179.869184 s, about 4.77 hours.
    let wrap = Instant::from_nanos((1u64 << 32) * 4_000);
    assert_eq!(wrap.as_nanos(), 17_179_869_184_000);
    assert_eq!(IsnGenerator::clock(wrap), 0);
    assert_eq!(IsnGenerator::clock(wrap + Duration::from_micros(8)), 2);
    assert_eq!(IsnGenerator::clock(Instant::MAX), (u64::MAX / 4_000) as u32);

    // The ISN of one 4-tuple moves with M.
    let isn = IsnGenerator::new(KEY);
    let (local, remote) = (addr(1, 40_000), addr(2, 80));
    let t0 = Instant::from_secs(100);
    let base = isn.isn(t0, local, remote);
    assert_eq!(isn.isn(t0 + Duration::from_nanos(3_999), local, remote), base);
    assert_eq!(isn.isn(t0 + Duration::from_micros(4), local, remote), base + 1u32);
    assert_eq!(isn.isn(t0 + Duration::from_secs(1), local, remote), base + 250_000u32);
    assert_eq!(
        isn.isn(Instant::ZERO, local, remote) + 1u32,
        isn.isn(Instant::from_micros(4), local, remote)
    );
    let later = t0 + Duration::from_nanos((1u64 << 32) * 4_000);
    assert_eq!(isn.isn(later, local, remote), base, "M wraps modulo 2^32");
}

#[test]
fn unpredictable_across_keys_and_ports() {
    // A crude check: over many keys (or many ports), the ISNs of one 4-tuple are distinct and
    // each bit is set about half the time; consecutive ports do not give ISNs a constant
    // distance apart (F is not linear in the tuple).
    let now = Instant::from_secs(42);
    let (local, remote) = (addr(1, 40_000), addr(2, 80));
    let by_key: Vec<u32> =
        (0..=255u8).map(|k| IsnGenerator::new(key(k)).isn(now, local, remote).get()).collect();
    let isn = IsnGenerator::new(KEY);
    let by_port: Vec<u32> =
        (0..256u16).map(|p| isn.isn(now, addr(1, 40_000 + p), remote).get()).collect();
    for sample in [&by_key, &by_port] {
        assert_eq!(sample.iter().collect::<BTreeSet<_>>().len(), sample.len());
        for bit in 0..32 {
            let ones = sample.iter().filter(|&&x| x >> bit & 1 == 1).count();
            assert!((80..=176).contains(&ones), "bit {bit} set {ones} times of 256");
        }
    }
    let steps: BTreeSet<u32> = by_port.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    assert!(steps.len() > 250);
}

#[test]
fn debug_hides_the_key() {
    let shown = format!("{:?}", IsnGenerator::new(KEY));
    assert_eq!(shown, "IsnGenerator { prf: KeyedHash { .. } }");
    assert!(!shown.contains("0123"));
    let _: SeqNum = IsnGenerator::new(KEY).isn(Instant::ZERO, addr(1, 1), addr(2, 2));
}

#[test]
fn the_timestamp_offset_is_the_other_half_of_the_isn_hash() {
    // One PRF pass gives both: F is the low 32 bits (the ISN is unchanged by taking the
    // offset from the same pass), the timestamp offset the high 32.
    let isn = IsnGenerator::new(KEY);
    let (local, remote) = (addr(1, 40_000), addr(2, 80));
    let now = Instant::from_secs(3);
    let h = KeyedHash::new(KEY).hash_four_tuple(local, remote, 0);
    let (iss, offset) = isn.isn_and_ts_offset(now, local, remote);
    assert_eq!(iss, isn.isn(now, local, remote));
    assert_eq!(iss, SeqNum(IsnGenerator::clock(now)) + h as u32);
    assert_eq!(offset, (h >> 32) as u32);
    assert_eq!(offset, isn.ts_offset(local, remote));
    // RFC 7323 §5.4 with tcp_tw_reuse: the same offset for every incarnation of the 4-tuple,
    // whenever it opens; another 4-tuple's is unrelated.
    let later = now + Duration::from_secs(100);
    assert_eq!(isn.isn_and_ts_offset(later, local, remote).1, offset);
    let others: BTreeSet<u32> = [addr(1, 40_001), addr(3, 40_000)]
        .into_iter()
        .map(|l| isn.ts_offset(l, remote))
        .chain([isn.ts_offset(local, addr(2, 81)), isn.ts_offset(addr6(1, 40_000), addr6(2, 80))])
        .collect();
    assert_eq!(others.len(), 4);
    assert!(!others.contains(&offset));
}
