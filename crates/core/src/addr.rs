//! Interface addresses: an IPv4 address with its prefix length.

use core::fmt;
use core::str::FromStr;
use ustack_wire::Ipv4Addr;

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
    /// The part before `/` is not a dotted-quad IPv4 address.
    BadAddress,
    /// The prefix length is not a number from 0 to 32.
    BadPrefix,
}

impl fmt::Display for CidrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CidrParseError::MissingPrefix => "expected ADDR/PREFIX, e.g. 10.0.0.2/24",
            CidrParseError::BadAddress => "not an IPv4 address (expected e.g. 10.0.0.2/24)",
            CidrParseError::BadPrefix => "prefix length must be a number from 0 to 32",
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

#[cfg(test)]
mod tests {
    use super::*;

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
