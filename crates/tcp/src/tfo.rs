//! TCP Fast Open (RFC 7413) as Linux does it (`net/ipv4/tcp_fastopen.c`): the
//! `tcp_fastopen` bits, the server key and the cookies it makes, and what a client asks a
//! connection to do with its SYN (SPEC S6).
//!
//! # Server cookies
//!
//! RFC 7413 §4.1.2 leaves the cookie's computation to the server ("The server is in charge
//! of cookie generation and authentication"). Linux's is SipHash-2-4 of the client's and the
//! server's IPv4 addresses (the SYN's source, then its destination, network byte order)
//! under the 128-bit `tcp_fastopen_key`, the 8 bytes of the hash in little-endian order
//! (`__tcp_fastopen_cookie_gen_cipher`). The key is written as four 32-bit hex words
//! (`a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4`), each stored little-endian, so SipHash's `k0` is
//! words 0 and 1 and `k1` words 2 and 3. ustack computes exactly that, so a cookie a Linux
//! server with the same key would give is the one ustack gives, and packetdrill's Fast Open
//! scripts, written against Linux, check ustack's cookies byte for byte.
//!
//! A second (backup) key is accepted as well, so the key can be rotated without turning away
//! the cookies clients hold (Linux's `tcp_fastopen_key` takes "primary,backup").

use core::fmt;
use core::net::IpAddr;

use ustack_wire::FastOpenCookie;

use crate::KeyedHash;

/// `tcp_fastopen` bit: the client may use Fast Open (`sendto(MSG_FASTOPEN)`,
/// `TCP_FASTOPEN_CONNECT`). Linux's default (`0x1`).
pub const CLIENT_ENABLE: u32 = 0x1;
/// `tcp_fastopen` bit: listeners may use Fast Open once enabled on them (`TCP_FASTOPEN`).
pub const SERVER_ENABLE: u32 = 0x2;
/// `tcp_fastopen` bit: the client sends data in its SYN without a cookie.
pub const CLIENT_NO_COOKIE: u32 = 0x4;
/// `tcp_fastopen` bit: a listener accepts data in a SYN without a cookie.
pub const SERVER_COOKIE_NOT_REQD: u32 = 0x200;
/// `tcp_fastopen` bit: Fast Open on every listener without `TCP_FASTOPEN`, with a queue the
/// size of its backlog (Linux `TFO_SERVER_WO_SOCKOPT1`).
pub const SERVER_WO_SOCKOPT: u32 = 0x400;
/// Linux's default `tcp_fastopen`: client on, server off.
pub const DEFAULT: u32 = CLIENT_ENABLE;

/// A Fast Open server key: four 32-bit words, as `tcp_fastopen_key` writes them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FastOpenKey {
    words: [u32; 4],
}

impl FastOpenKey {
    /// A key from its four words.
    pub const fn from_words(words: [u32; 4]) -> FastOpenKey {
        FastOpenKey { words }
    }

    /// A key from 16 bytes (e.g. drawn at random): the words read little-endian.
    pub fn from_bytes(bytes: [u8; 16]) -> FastOpenKey {
        let w = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        FastOpenKey { words: [w(0), w(4), w(8), w(12)] }
    }

    /// The key's words.
    pub const fn words(&self) -> [u32; 4] {
        self.words
    }

    /// The cookie a client at `client` gets from this server at `server` (Linux
    /// `__tcp_fastopen_cookie_gen_cipher`: SipHash of the two addresses, 4 bytes each over
    /// IPv4, 16 over IPv6).
    pub fn cookie(&self, client: impl Into<IpAddr>, server: impl Into<IpAddr>) -> FastOpenCookie {
        let (client, server) = (client.into(), server.into());
        let mut key = [0u8; 16];
        for (i, w) in self.words.iter().enumerate() {
            key[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        let mut input = [0u8; 32];
        let len = match (client, server) {
            (IpAddr::V4(c), IpAddr::V4(s)) => {
                input[..4].copy_from_slice(&c.octets());
                input[4..8].copy_from_slice(&s.octets());
                8
            }
            (c, s) => {
                input[..16].copy_from_slice(&to_v6(c).octets());
                input[16..].copy_from_slice(&to_v6(s).octets());
                32
            }
        };
        let hash = KeyedHash::new(key).hash(&input[..len]);
        FastOpenCookie::new(&hash.to_le_bytes()).expect("8 bytes is a valid cookie length")
    }
}

/// `a` as an IPv6 address (IPv4 as IPv4-mapped).
fn to_v6(a: IpAddr) -> core::net::Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

impl fmt::Display for FastOpenKey {
    /// As Linux shows the sysctl: `%08x-%08x-%08x-%08x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.words;
        write!(f, "{a:08x}-{b:08x}-{c:08x}-{d:08x}")
    }
}

impl fmt::Debug for FastOpenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FastOpenKey(..)")
    }
}

impl core::str::FromStr for FastOpenKey {
    type Err = KeyParseError;

    /// Four hex words separated by `-` (Linux parses the sysctl with `%x-%x-%x-%x`).
    fn from_str(s: &str) -> Result<FastOpenKey, KeyParseError> {
        let mut words = [0u32; 4];
        let mut parts = s.trim().split('-');
        for w in &mut words {
            let part = parts.next().ok_or(KeyParseError)?;
            if part.is_empty() || part.len() > 8 {
                return Err(KeyParseError);
            }
            *w = u32::from_str_radix(part, 16).map_err(|_| KeyParseError)?;
        }
        if parts.next().is_some() {
            return Err(KeyParseError);
        }
        Ok(FastOpenKey { words })
    }
}

/// A `tcp_fastopen_key` value that is not four `-`-separated hex words of up to 8 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParseError;

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Fast Open key is four hex words, e.g. a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4")
    }
}

impl core::error::Error for KeyParseError {}

/// The keys a server checks cookies with: the primary one, which makes the cookies it hands
/// out, and an optional backup one still accepted (Linux `tcp_fastopen_key` "primary,backup").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FastOpenKeys {
    /// Makes cookies and checks them.
    pub primary: FastOpenKey,
    /// Only checks them.
    pub backup: Option<FastOpenKey>,
}

/// What a server made of the cookie in a SYN (Linux `tcp_fastopen_cookie_gen_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCheck {
    /// Made with the primary key.
    Valid,
    /// Made with the backup key: valid, and the client gets the primary key's cookie
    /// (Linux counts `TCPFastOpenPassiveAltKey`).
    ValidBackup,
    /// Made with neither.
    Invalid,
}

impl FastOpenKeys {
    /// One key, no backup.
    pub const fn new(primary: FastOpenKey) -> FastOpenKeys {
        FastOpenKeys { primary, backup: None }
    }

    /// Checks `cookie` from `client` to `server` against both keys.
    pub fn check(
        &self,
        cookie: &FastOpenCookie,
        client: impl Into<IpAddr>,
        server: impl Into<IpAddr>,
    ) -> CookieCheck {
        let (client, server) = (client.into(), server.into());
        // The cookie itself, in either encoding (Linux compares the bytes).
        let made_by = |k: FastOpenKey| k.cookie(client, server).as_bytes() == cookie.as_bytes();
        if made_by(self.primary) {
            CookieCheck::Valid
        } else if self.backup.is_some_and(made_by) {
            CookieCheck::ValidBackup
        } else {
            CookieCheck::Invalid
        }
    }
}

impl fmt::Display for FastOpenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.primary)?;
        if let Some(b) = self.backup {
            write!(f, ",{b}")?;
        }
        Ok(())
    }
}

impl core::str::FromStr for FastOpenKeys {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<FastOpenKeys, KeyParseError> {
        let mut parts = s.split(',');
        let primary = parts.next().ok_or(KeyParseError)?.parse()?;
        let backup = parts.next().map(str::parse).transpose()?;
        if parts.next().is_some() {
            return Err(KeyParseError);
        }
        Ok(FastOpenKeys { primary, backup })
    }
}

/// What an active open does with Fast Open (RFC 7413 §3), decided by the host from
/// `tcp_fastopen` and its cookie cache; [`crate::Conn::set_fast_open`] hands it to the
/// connection before its SYN goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastOpenConnect {
    /// Ask for a cookie: the SYN carries an empty Fast Open option and no data (RFC 7413
    /// §4.1.3, "the client [...] sends a SYN with a Fast Open option with an empty cookie
    /// field to request a cookie").
    RequestCookie,
    /// Ask for a cookie in the experimental encoding (kind 254, magic 0xF989): Linux tries it
    /// once for a destination that answered a request in RFC 7413's encoding with no Fast
    /// Open option at all, in case the server speaks only the older one.
    RequestExperimentalCookie,
    /// Send data in the SYN with this cookie, at most `max_data` bytes of what is buffered.
    WithCookie {
        /// The cookie the server gave this destination, in the encoding it came in (the SYN
        /// uses the same).
        cookie: FastOpenCookie,
        /// Most bytes the SYN may carry.
        max_data: u32,
    },
    /// Send data in the SYN with no Fast Open option at all (`tcp_fastopen` 0x4, for a
    /// server known to accept data without a cookie).
    NoCookie {
        /// Most bytes the SYN may carry.
        max_data: u32,
    },
}

/// What the SYN-ACK told an active Fast Open, for the host's cookie cache (Linux
/// `tcp_rcv_fastopen_synack` → `tcp_fastopen_cache_set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastOpenOutcome {
    /// The cookie the SYN-ACK carried, if any (valid length; RFC 7413 §4.1.1).
    pub cookie: Option<FastOpenCookie>,
    /// The MSS option of the SYN-ACK (Linux caches it for the data of the next SYN).
    pub mss: Option<u16>,
    /// Data went in the SYN.
    pub sent_data: bool,
    /// The SYN-ACK acknowledged all of the SYN's data (RFC 7413 §3: the server accepted it).
    pub data_acked: bool,
    /// The SYN timed out and the SYN-ACK neither carried a cookie nor acknowledged the data:
    /// the network probably dropped the SYN with data (Linux `syn_drop`).
    pub syn_lost: bool,
    /// The SYN asked for a cookie (no data) and the SYN-ACK carried no Fast Open option.
    pub unanswered_request: bool,
    /// The SYN's Fast Open option was in the experimental encoding (Linux
    /// `syn_fastopen_exp`). With `unanswered_request`, Linux's cache tries the experimental
    /// encoding next time after an unanswered RFC 7413 request, and RFC 7413's for good after
    /// an unanswered experimental one (`try_exp` 1 and 2).
    pub experimental: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn s6_ipv6_server_cookie_is_siphash_of_both_full_addresses() {
        // Linux `__tcp_fastopen_cookie_gen_cipher` for IPv6: siphash over saddr then daddr,
        // 32 bytes, under the same key as IPv4.
        let key: FastOpenKey = "a0bf63f7-ed803d81-cd641d30-cebc4a90".parse().unwrap();
        let client = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        let server = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let mut input = [0u8; 32];
        input[..16].copy_from_slice(&client.octets());
        input[16..].copy_from_slice(&server.octets());
        let mut k = [0u8; 16];
        for (i, w) in key.words().iter().enumerate() {
            k[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        let want = KeyedHash::new(k).hash(&input).to_le_bytes();
        assert_eq!(key.cookie(client, server), FastOpenCookie::new(&want).unwrap());
        let elsewhere = Ipv6Addr::new(0x2001, 0xdb9, 0, 0, 0, 0, 0, 2);
        assert_ne!(key.cookie(client, server), key.cookie(elsewhere, server));
        let keys = FastOpenKeys::new(key);
        assert_eq!(keys.check(&key.cookie(client, server), client, server), CookieCheck::Valid);
        assert_eq!(
            keys.check(&key.cookie(client, server), elsewhere, server),
            CookieCheck::Invalid
        );
    }

    #[test]
    fn s6_server_cookie_is_linux_siphash_of_both_addresses() {
        // The cookies packetdrill's Fast Open scripts expect from a Linux server: its
        // harness's default key and addresses, and opt34/simple1..3.
        let key: FastOpenKey = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4".parse().unwrap();
        let c = key.cookie(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(
            c,
            FastOpenCookie::new(&[0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb]).unwrap()
        );
        let key: FastOpenKey = "a0bf63f7-ed803d81-cd641d30-cebc4a90".parse().unwrap();
        let c = key.cookie(Ipv4Addr::new(10, 248, 0, 2), Ipv4Addr::new(192, 168, 0, 2));
        assert_eq!(
            c,
            FastOpenCookie::new(&[0x00, 0xab, 0xaa, 0xab, 0xe8, 0xe9, 0x54, 0xc2]).unwrap()
        );
    }

    #[test]
    fn key_parses_and_prints_as_the_sysctl() {
        let k: FastOpenKeys = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4".parse().unwrap();
        assert_eq!(k.to_string(), "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4");
        let k: FastOpenKeys = "1-2-3-4,ffffffff-0-0-0".parse().unwrap();
        assert_eq!(
            k.to_string(),
            "00000001-00000002-00000003-00000004,ffffffff-00000000-00000000-00000000"
        );
        for bad in [
            "",
            "1-2-3",
            "1-2-3-4-5",
            "1-2-3-x",
            "123456789-0-0-0",
            "1-2-3-4,",
            "1-2-3-4,1-2-3-4,1-2-3-4",
        ] {
            assert!(bad.parse::<FastOpenKeys>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn s6_backup_key_cookies_are_valid_but_marked() {
        let a = FastOpenKey::from_words([1, 2, 3, 4]);
        let b = FastOpenKey::from_words([5, 6, 7, 8]);
        let keys = FastOpenKeys { primary: a, backup: Some(b) };
        let (c, s) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(keys.check(&a.cookie(c, s), c, s), CookieCheck::Valid);
        assert_eq!(keys.check(&b.cookie(c, s), c, s), CookieCheck::ValidBackup);
        assert_eq!(keys.check(&a.cookie(s, c), c, s), CookieCheck::Invalid);
        assert_eq!(FastOpenKeys::new(a).check(&b.cookie(c, s), c, s), CookieCheck::Invalid);
    }
}
