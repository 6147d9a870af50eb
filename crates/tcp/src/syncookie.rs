//! SYN cookies (RFC 4987 §3.6), encoded as Linux encodes them (`net/ipv4/syncookies.c`), so a
//! listener whose SYN queue is full can answer a SYN without keeping any state and still
//! open the connection when the final ACK comes back (SPEC S8).
//!
//! # The sequence number
//!
//! Our initial sequence number *is* the cookie (Linux `secure_tcp_syn_cookie`):
//!
//! ```text
//!   ISS = H0(4-tuple) + SEG.SEQ + (count << 24) + ((H1(4-tuple, count) + mss_index) mod 2^24)
//! ```
//!
//! `count` is a minute counter ([`SynCookies::counter`]): Linux's `tcp_cookie_time()`, jiffies
//! divided by 60 s. H0 and H1 are SipHash-2-4 under two halves of the secret (Linux keeps two
//! random `siphash_key_t`). `mss_index` picks the MSS from a table of four (`msstab`: 536,
//! 1300, 1440, 1460): the largest entry not above the peer's MSS option. The final ACK
//! acknowledges ISS + 1; taking H0 and its SEG.SEQ − 1 away leaves the count in the top 8
//! bits, which must be this minute's or the last one's (Linux `MAX_SYNCOOKIE_AGE` 2), and
//! then H1 of that count gives back the MSS index, which must be in the table. A forged ACK
//! passes with probability about 4 in 2^24 per guess.
//!
//! # The timestamp
//!
//! The 32 bits of the sequence number have no room for the other options of the SYN. When the
//! peer offered timestamps, Linux (`cookie_init_timestamp`) puts them in the low 6 bits of the
//! TSval of the SYN-ACK, which the final ACK echoes: the peer's window shift (4 bits, 15 when
//! it offered none), SACK-permitted (bit 4) and ECN (bit 5); the clock's value is rounded
//! down to a multiple of 64 ms so the timestamps that follow never go backwards. Without
//! timestamps the connection gets no window scaling, no SACK and no ECN (Linux clears the options of
//! a SYN it answers with a cookie when it carries no timestamp, and ECN with it).
//!
//! Nothing here reads a clock or draws randomness: `now` and the key are arguments.

use core::net::{IpAddr, SocketAddr};

use ustack_wire::SeqNum;

use crate::conn::FourTuple;
use crate::{Instant, KeyedHash};

/// Linux `msstab`: the MSS values a cookie can carry.
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];

/// The MSS values a cookie encodes over IPv6 (Linux's IPv6 `msstab`: the minimum MTU, 1480,
/// 1500 and 9000, each less 60 bytes of headers).
pub const MSS_TABLE_V6: [u16; 4] = [1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60];

/// Bits of the sequence number below the minute counter (Linux `COOKIEBITS`).
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;
/// A cookie is valid in the minute it was made and the next (Linux `MAX_SYNCOOKIE_AGE`).
const MAX_AGE: u32 = 2;
/// Length of one counter period (Linux `TCP_SYNCOOKIE_PERIOD`).
pub const PERIOD_SECS: u64 = 60;
/// How long cookies sent by a listener stay worth checking: Linux `TCP_SYNCOOKIE_VALID`,
/// `MAX_SYNCOOKIE_AGE` periods. An ACK reaching a listener that sent no cookie for this long
/// is not checked (`tcp_synq_no_recent_overflow`).
pub const VALID_SECS: u64 = MAX_AGE as u64 * PERIOD_SECS;

/// Bits of the timestamp that carry options (Linux `TSBITS`).
const TS_BITS: u32 = 6;
const TS_WSCALE_MASK: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;
const TS_ECN: u32 = 1 << 5;

/// The SYN's options a cookie carries in the timestamp (Linux `cookie_init_timestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CookieOptions {
    /// The peer's window shift, when it offered window scaling and we accepted it.
    pub wscale: Option<u8>,
    /// SACK-permitted was offered and accepted.
    pub sack: bool,
    /// An ECN-setup SYN was accepted (RFC 3168 §6.1.1; the SYN-ACK carried ECE).
    pub ecn: bool,
}

impl CookieOptions {
    /// The TSval of a cookie SYN-ACK: `ts_clock` (our millisecond clock, before the
    /// connection's offset is added) rounded down to a multiple of 64 with the options in
    /// its low 6 bits, never above `ts_clock` (Linux `cookie_init_timestamp`).
    pub fn encode_timestamp(self, ts_clock: u32) -> u32 {
        let mut options = match self.wscale {
            Some(shift) => u32::from(shift.min(14)),
            None => TS_WSCALE_MASK,
        };
        if self.sack {
            options |= TS_SACK;
        }
        if self.ecn {
            options |= TS_ECN;
        }
        let mut ts = (ts_clock >> TS_BITS << TS_BITS) | options;
        if ts > ts_clock {
            ts = ts.wrapping_sub(1 << TS_BITS);
        }
        ts
    }

    /// The options an echoed cookie timestamp carries (`tsecr` less the connection's
    /// timestamp offset; Linux `cookie_timestamp_decode`).
    pub fn decode_timestamp(tsecr: u32) -> CookieOptions {
        let shift = tsecr & TS_WSCALE_MASK;
        CookieOptions {
            wscale: (shift != TS_WSCALE_MASK).then_some(shift as u8),
            sack: tsecr & TS_SACK != 0,
            ecn: tsecr & TS_ECN != 0,
        }
    }
}

/// What a valid cookie says about the connection it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidCookie {
    /// Our initial sequence number: the cookie (SEG.ACK − 1).
    pub iss: SeqNum,
    /// The peer's initial sequence number (SEG.SEQ − 1).
    pub irs: SeqNum,
    /// The MSS the cookie encodes (an entry of [`MSS_TABLE`]).
    pub mss: u16,
}

/// The SYN-cookie generator and checker of one host: two keyed hashes (Linux's two
/// `syncookie_secret`s).
#[derive(Clone, Debug)]
pub struct SynCookies {
    h0: KeyedHash,
    h1: KeyedHash,
}

impl SynCookies {
    /// A generator keyed with `key` (128 random bits; its two hashes are derived from it).
    pub fn new(key: [u8; 16]) -> SynCookies {
        let outer = KeyedHash::new(key);
        let derive = |label: &[u8]| {
            let a = outer.hash(label).to_le_bytes();
            let b = outer.hash(&[label, b"/2"].concat()).to_le_bytes();
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&a);
            k[8..].copy_from_slice(&b);
            KeyedHash::new(k)
        };
        SynCookies { h0: derive(b"syncookie-0"), h1: derive(b"syncookie-1") }
    }

    /// The minute counter at `now` (Linux `tcp_cookie_time`).
    pub fn counter(now: Instant) -> u32 {
        (now.as_nanos() / (PERIOD_SECS * 1_000_000_000)) as u32
    }

    /// The index in [`MSS_TABLE`] of the largest MSS not above `mss` (the first entry when
    /// all are above it).
    pub fn mss_index(mss: u16) -> usize {
        Self::mss_index_in(&MSS_TABLE, mss)
    }

    fn mss_index_in(table: &[u16; 4], mss: u16) -> usize {
        table.iter().rposition(|&m| mss >= m).unwrap_or(0)
    }

    fn hash(h: &KeyedHash, tuple: FourTuple, count: u32) -> u32 {
        match (tuple.remote.ip(), tuple.local.ip()) {
            (IpAddr::V6(saddr), IpAddr::V6(daddr)) => {
                // Linux's IPv6 `cookie_hash`: saddr, daddr, count, sport, dport.
                let mut m = [0u8; 40];
                m[0..16].copy_from_slice(&saddr.octets());
                m[16..32].copy_from_slice(&daddr.octets());
                m[32..36].copy_from_slice(&count.to_be_bytes());
                m[36..38].copy_from_slice(&tuple.remote.port().to_be_bytes());
                m[38..40].copy_from_slice(&tuple.local.port().to_be_bytes());
                h.hash(&m) as u32
            }
            (saddr, daddr) => {
                // The inputs of Linux's `cookie_hash`: saddr, daddr, sport << 16 | dport,
                // count, with the SYN's source (the peer) first.
                let v4 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a.octets(),
                    IpAddr::V6(a) => a.to_ipv4_mapped().map_or([0; 4], |a| a.octets()),
                };
                let mut m = [0u8; 16];
                m[0..4].copy_from_slice(&v4(saddr));
                m[4..8].copy_from_slice(&v4(daddr));
                let ports = u32::from(tuple.remote.port()) << 16 | u32::from(tuple.local.port());
                m[8..12].copy_from_slice(&ports.to_be_bytes());
                m[12..16].copy_from_slice(&count.to_be_bytes());
                h.hash(&m) as u32
            }
        }
    }

    /// The MSS values a cookie can encode for `tuple`'s family.
    pub fn mss_table(tuple: FourTuple) -> &'static [u16; 4] {
        if tuple.is_ipv6() { &MSS_TABLE_V6 } else { &MSS_TABLE }
    }

    /// The cookie for a SYN with sequence number `syn_seq` from `tuple.remote` whose MSS
    /// option (or 536 without one) is `peer_mss`: our ISS, and the MSS it encodes (Linux
    /// `__cookie_v4_init_sequence`).
    pub fn isn(
        &self,
        now: Instant,
        tuple: FourTuple,
        syn_seq: SeqNum,
        peer_mss: u16,
    ) -> (SeqNum, u16) {
        let table = Self::mss_table(tuple);
        let index = Self::mss_index_in(table, peer_mss);
        let count = Self::counter(now);
        let low = Self::hash(&self.h1, tuple, count).wrapping_add(index as u32) & COOKIE_MASK;
        let cookie = Self::hash(&self.h0, tuple, 0)
            .wrapping_add(syn_seq.0)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(low);
        (SeqNum(cookie), table[index])
    }

    /// Checks the cookie of an ACK (sequence number `seq`, acknowledgment number `ack`) that
    /// found no connection: `Some` when SEG.ACK − 1 is a cookie this host made for the peer's
    /// SEG.SEQ − 1 in this minute or the last (Linux `__cookie_v4_check`).
    pub fn check(
        &self,
        now: Instant,
        tuple: FourTuple,
        seq: SeqNum,
        ack: SeqNum,
    ) -> Option<ValidCookie> {
        let iss = ack - 1u32;
        let irs = seq - 1u32;
        let count = Self::counter(now);
        let rest = iss.0.wrapping_sub(Self::hash(&self.h0, tuple, 0).wrapping_add(irs.0));
        let diff = count.wrapping_sub(rest >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
        if diff >= MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(diff);
        let index = rest.wrapping_sub(Self::hash(&self.h1, tuple, made)) & COOKIE_MASK;
        let mss = *Self::mss_table(tuple).get(index as usize)?;
        Some(ValidCookie { iss, irs, mss })
    }
}

/// `local`/`remote` as the [`FourTuple`] the functions above take.
pub fn tuple(local: SocketAddr, remote: SocketAddr) -> FourTuple {
    FourTuple { local, remote }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

    fn t() -> FourTuple {
        tuple(
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80).into(),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 40_000).into(),
        )
    }

    fn t6(peer_last: u16) -> FourTuple {
        tuple(
            SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(), 80),
            SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, peer_last).into(), 40_000),
        )
    }

    #[test]
    fn s8_ipv6_cookie_encodes_linux_ipv6_mss_table_and_binds_the_full_addresses() {
        // Linux's IPv6 msstab: 1220, 1420, 1440, 8940; a peer MSS below 1220 gets 1220.
        let c = SynCookies::new([9; 16]);
        let now = Instant::from_secs(1000);
        for (peer, want) in [(536, 1220), (1220, 1220), (1440, 1440), (1460, 1440), (9000, 8940)] {
            let syn = SeqNum(77);
            let (iss, mss) = c.isn(now, t6(9), syn, peer);
            assert_eq!(mss, want, "peer MSS {peer}");
            let ok = c.check(now, t6(9), syn + 1u32, iss + 1u32).expect("valid");
            assert_eq!(ok.mss, want);
            // The same cookie from another IPv6 peer (differing only in the low bits, which
            // an IPv4-sized hash would never see) is refused.
            let other = c.check(now, t6(10), syn + 1u32, iss + 1u32);
            assert!(other.is_none_or(|o| o.mss != want || o.iss != iss), "peer {peer}");
        }
    }

    #[test]
    fn s8_cookie_round_trips_each_mss_of_linux_table() {
        // Linux msstab: a peer MSS maps to the largest entry not above it; below 536 it is
        // 536 (the table's floor).
        let c = SynCookies::new([7; 16]);
        let now = Instant::from_secs(1000);
        for (peer, want) in [
            (1460, 1460),
            (9000, 1460),
            (1459, 1440),
            (1440, 1440),
            (1400, 1300),
            (1300, 1300),
            (1299, 536),
            (536, 536),
            (100, 536),
        ] {
            let syn = SeqNum(0xffff_fff0);
            let (iss, mss) = c.isn(now, t(), syn, peer);
            assert_eq!(mss, want, "peer MSS {peer}");
            let v = c.check(now, t(), syn + 1u32, iss + 1u32).expect("valid");
            assert_eq!(v, ValidCookie { iss, irs: syn, mss: want });
        }
    }

    #[test]
    fn s8_cookie_is_valid_in_its_minute_and_the_next_and_not_after() {
        // Linux MAX_SYNCOOKIE_AGE 2: made in minute n, checked in n and n + 1, refused in n + 2.
        let c = SynCookies::new([1; 16]);
        let made = Instant::from_secs(60 * 100 + 59);
        let (iss, _) = c.isn(made, t(), SeqNum(5), 1460);
        let check = |secs| c.check(Instant::from_secs(secs), t(), SeqNum(6), iss + 1u32);
        assert!(check(60 * 100 + 59).is_some());
        assert!(check(60 * 101).is_some());
        assert!(check(60 * 101 + 59).is_some());
        assert!(check(60 * 102).is_none());
    }

    #[test]
    fn s8_cookie_fails_for_another_tuple_sequence_or_key() {
        let c = SynCookies::new([1; 16]);
        let now = Instant::from_secs(5);
        let (iss, _) = c.isn(now, t(), SeqNum(5), 1460);
        assert!(c.check(now, t(), SeqNum(6), iss + 1u32).is_some());
        // SEG.SEQ is added to the cookie, so one a few more than the SYN's moves the MSS index
        // (as in Linux); one further off leaves the table.
        assert!(c.check(now, t(), SeqNum(6 + 1000), iss + 1u32).is_none(), "another SEG.SEQ");
        let mut other = t();
        other.remote.set_port(40_001);
        assert!(c.check(now, other, SeqNum(6), iss + 1u32).is_none(), "another port");
        assert!(SynCookies::new([2; 16]).check(now, t(), SeqNum(6), iss + 1u32).is_none());
        // A blind guess of the acknowledgment number passes about 4 times in 2^24.
        let passed = (0..100_000u32)
            .filter(|k| c.check(now, t(), SeqNum(6), iss + 2u32 + k * 40_503).is_some())
            .count();
        assert_eq!(passed, 0);
    }

    #[test]
    fn s8_timestamp_carries_wscale_sack_and_ecn_and_never_runs_ahead() {
        // Linux cookie_init_timestamp: options in the low 6 bits, the clock rounded down.
        let opts = CookieOptions { wscale: Some(7), sack: true, ecn: false };
        let ts = opts.encode_timestamp(1_000_000);
        assert_eq!(ts & 63, 7 | 16);
        assert!(ts <= 1_000_000 && 1_000_000 - ts < 64, "{ts}");
        assert_eq!(CookieOptions::decode_timestamp(ts), opts);
        // A clock whose low bits are below the options: one period back.
        let ts = opts.encode_timestamp(1_000_000 & !63);
        assert_eq!(ts, (1_000_000 & !63) - 64 + 23);
        let none = CookieOptions { wscale: None, sack: false, ecn: true };
        let ts = none.encode_timestamp(12_345_678);
        assert_eq!(ts & 63, 15 | 32);
        assert_eq!(CookieOptions::decode_timestamp(ts), none);
        // Across the wrap of the clock.
        let ts = opts.encode_timestamp(5);
        assert_eq!(CookieOptions::decode_timestamp(ts), opts);
    }
}
