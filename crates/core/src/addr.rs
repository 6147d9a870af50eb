//! Interface addresses: an IPv4 or IPv6 address with its prefix length, and the helpers the
//! stack uses to keep one canonical form of an address (an IPv4-mapped IPv6 address,
//! `::ffff:a.b.c.d`, is the IPv4 address `a.b.c.d` inside the stack: RFC 4291 §2.5.5.2).

use core::fmt;
use core::net::{IpAddr, SocketAddr, SocketAddrV6};
use core::str::FromStr;
use ustack_wire::{Ipv4Addr, Ipv6Addr};

/// An IPv4 address and prefix length, as `ip addr` writes it: `10.0.0.2/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix_len: u8,
}

/// Why a string is not an `ADDR/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrParseError {
    /// No `/` separates address and prefix length.
    MissingPrefix,
    /// The part before `/` is not an address of the family asked for.
    BadAddress,
    /// The prefix length is not a number from 0 to 32 (IPv4) or 128 (IPv6).
    BadPrefix,
}

impl fmt::Display for CidrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CidrParseError::MissingPrefix => "expected ADDR/PREFIX, e.g. 10.0.0.2/24",
            CidrParseError::BadAddress => {
                "not an address (expected e.g. 10.0.0.2/24 or 2001:db8::2/64)"
            }
            CidrParseError::BadPrefix => {
                "prefix length must be a number from 0 to 32 (IPv4) or 128 (IPv6)"
            }
        })
    }
}

impl std::error::Error for CidrParseError {}

impl Ipv4Cidr {
    /// `addr/prefix_len`, or `None` when the prefix length exceeds 32.
    pub const fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Self> {
        if prefix_len > 32 { None } else { Some(Ipv4Cidr { addr, prefix_len }) }
    }

    /// The address.
    pub const fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length, 0 to 32.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask, e.g. 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// Whether `other` lies in this prefix.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        (u32::from(other) & self.mask()) == (u32::from(self.addr) & self.mask())
    }

    fn mask(&self) -> u32 {
        if self.prefix_len == 0 { 0 } else { u32::MAX << (32 - self.prefix_len) }
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrParseError::MissingPrefix)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| CidrParseError::BadAddress)?;
        let prefix: u8 = prefix.parse().map_err(|_| CidrParseError::BadPrefix)?;
        Ipv4Cidr::new(addr, prefix).ok_or(CidrParseError::BadPrefix)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// An IPv6 address and prefix length, as `ip -6 addr` writes it: `2001:db8::2/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Cidr {
    addr: Ipv6Addr,
    prefix_len: u8,
}

impl Ipv6Cidr {
    /// `addr/prefix_len`, or `None` when the prefix length exceeds 128.
    pub const fn new(addr: Ipv6Addr, prefix_len: u8) -> Option<Self> {
        if prefix_len > 128 { None } else { Some(Ipv6Cidr { addr, prefix_len }) }
    }

    /// The address.
    pub const fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length, 0 to 128.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & self.mask())
    }

    /// Whether `other` lies in this prefix.
    pub fn contains(&self, other: Ipv6Addr) -> bool {
        (u128::from(other) & self.mask()) == (u128::from(self.addr) & self.mask())
    }

    fn mask(&self) -> u128 {
        if self.prefix_len == 0 { 0 } else { u128::MAX << (128 - self.prefix_len) }
    }
}

impl FromStr for Ipv6Cidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrParseError::MissingPrefix)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| CidrParseError::BadAddress)?;
        let prefix: u8 = prefix.parse().map_err(|_| CidrParseError::BadPrefix)?;
        Ipv6Cidr::new(addr, prefix).ok_or(CidrParseError::BadPrefix)
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A prefix of either family: a route's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpCidr {
    /// An IPv4 prefix.
    V4(Ipv4Cidr),
    /// An IPv6 prefix.
    V6(Ipv6Cidr),
}

impl IpCidr {
    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        match self {
            IpCidr::V4(c) => c.prefix_len(),
            IpCidr::V6(c) => c.prefix_len(),
        }
    }

    /// Whether `addr` lies in this prefix (never for an address of the other family).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self, addr) {
            (IpCidr::V4(c), IpAddr::V4(a)) => c.contains(a),
            (IpCidr::V6(c), IpAddr::V6(a)) => c.contains(a),
            _ => false,
        }
    }

    /// The same prefix with the host bits cleared.
    pub fn network(&self) -> IpCidr {
        match self {
            IpCidr::V4(c) => IpCidr::V4(Ipv4Cidr { addr: c.network(), prefix_len: c.prefix_len }),
            IpCidr::V6(c) => IpCidr::V6(Ipv6Cidr { addr: c.network(), prefix_len: c.prefix_len }),
        }
    }
}

impl From<Ipv4Cidr> for IpCidr {
    fn from(c: Ipv4Cidr) -> Self {
        IpCidr::V4(c)
    }
}

impl From<Ipv6Cidr> for IpCidr {
    fn from(c: Ipv6Cidr) -> Self {
        IpCidr::V6(c)
    }
}

impl FromStr for IpCidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') { s.parse().map(IpCidr::V6) } else { s.parse().map(IpCidr::V4) }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpCidr::V4(c) => c.fmt(f),
            IpCidr::V6(c) => c.fmt(f),
        }
    }
}

/// The stack's form of an address: an IPv4-mapped IPv6 address becomes the IPv4 address.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// [`canonical_ip`] of a socket address; an IPv6 address loses its flow info and scope id.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match canonical_ip(addr.ip()) {
        IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, addr.port(), 0, 0)),
        v4 => SocketAddr::new(v4, addr.port()),
    }
}

/// `addr` as an IPv6 socket's API shows it: IPv4 as IPv4-mapped (RFC 3493 §3.7).
pub(crate) fn mapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        v6 => v6,
    }
}

/// The unspecified address of `addr`'s family.
pub(crate) fn unspecified_like(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_prefixes_parse_and_match() {
        let c: Ipv6Cidr = "2001:db8:1::5/64".parse().unwrap();
        assert_eq!(c.network(), "2001:db8:1::".parse::<Ipv6Addr>().unwrap());
        assert!(c.contains("2001:db8:1::ffff".parse().unwrap()));
        assert!(!c.contains("2001:db8:2::1".parse().unwrap()));
        assert_eq!(c.to_string(), "2001:db8:1::5/64");
        assert_eq!("::1/129".parse::<Ipv6Cidr>(), Err(CidrParseError::BadPrefix));
        let any: IpCidr = "::/0".parse().unwrap();
        assert!(any.contains("2001:db8::1".parse().unwrap()));
        assert!(!any.contains("10.0.0.1".parse().unwrap()), "a v6 route holds no v4 address");
        assert_eq!("10.0.0.0/8".parse::<IpCidr>().unwrap().prefix_len(), 8);
    }

    #[test]
    fn mapped_addresses_are_ipv4_inside_the_stack() {
        let m: SocketAddr = "[::ffff:10.0.0.1]:80".parse().unwrap();
        assert_eq!(canonical(m), "10.0.0.1:80".parse::<SocketAddr>().unwrap());
        assert_eq!(mapped("10.0.0.1:80".parse().unwrap()), m);
        let v6: SocketAddr = "[2001:db8::1%3]:80".parse().unwrap();
        assert_eq!(canonical(v6), "[2001:db8::1]:80".parse::<SocketAddr>().unwrap());
    }

    #[test]
    fn parse_and_mask() {
        let c: Ipv4Cidr = "10.1.2.3/24".parse().unwrap();
        assert_eq!(c.addr(), Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(c.network(), Ipv4Addr::new(10, 1, 2, 0));
        assert!(c.contains(Ipv4Addr::new(10, 1, 2, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 1, 3, 1)));
        assert_eq!(c.to_string(), "10.1.2.3/24");
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn parse_errors_say_why() {
        assert_eq!("10.0.0.1".parse::<Ipv4Cidr>(), Err(CidrParseError::MissingPrefix));
        assert_eq!("10.0.0/8".parse::<Ipv4Cidr>(), Err(CidrParseError::BadAddress));
        assert_eq!("10.0.0.1/33".parse::<Ipv4Cidr>(), Err(CidrParseError::BadPrefix));
        assert_eq!("10.0.0.1/x".parse::<Ipv4Cidr>(), Err(CidrParseError::BadPrefix));
    }
}
