//! Socket addresses as C passes them (`struct sockaddr_in`, `struct sockaddr_in6`), read by
//! the rules of the socket's family and of the call, as Linux reads them (the comments name
//! the kernel function whose checks each one follows; checked against Linux 6.18).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libc::{c_int, sockaddr, socklen_t};

use crate::errno::Errno;

/// `sizeof(struct sockaddr_in)`.
const SIN_LEN: usize = core::mem::size_of::<libc::sockaddr_in>();
/// `sizeof(struct sockaddr_in6)`.
const SIN6_LEN: usize = core::mem::size_of::<libc::sockaddr_in6>();
/// `SIN6_LEN_RFC2133`: a `sockaddr_in6` without `sin6_scope_id`, which Linux still accepts.
const SIN6_LEN_RFC2133: usize = 24;
/// `offsetof(struct sockaddr, sa_data)`: the family field.
const FAMILY_LEN: usize = core::mem::size_of::<libc::sa_family_t>();

/// An address the caller passed: its family, its length and its first bytes (as many as a
/// `sockaddr_in6` holds; the rest is zero).
#[derive(Clone, Copy)]
pub(crate) struct RawAddr {
    family: c_int,
    len: usize,
    bytes: [u8; SIN6_LEN],
}

impl RawAddr {
    /// Copies `len` bytes (at most a `sockaddr_in6`'s) from `addr`. `EFAULT` for null,
    /// `EINVAL` for a negative-as-unsigned length beyond `sockaddr_storage` (Linux
    /// `move_addr_to_kernel`) or one without the family field.
    pub(crate) fn read(addr: *const sockaddr, len: socklen_t) -> Result<RawAddr, Errno> {
        if addr.is_null() {
            return Err(libc::EFAULT);
        }
        let len = len as usize;
        if len > core::mem::size_of::<libc::sockaddr_storage>() || len < FAMILY_LEN {
            return Err(libc::EINVAL);
        }
        let mut bytes = [0u8; SIN6_LEN];
        let n = len.min(SIN6_LEN);
        // SAFETY: non-null, and the caller says `len` bytes are readable; we copy at most
        // that many into our own buffer.
        unsafe { core::ptr::copy_nonoverlapping(addr.cast::<u8>(), bytes.as_mut_ptr(), n) };
        let family = c_int::from(libc::sa_family_t::from_ne_bytes([bytes[0], bytes[1]]));
        Ok(RawAddr { family, len, bytes })
    }

    /// The bytes as a `sockaddr_in` (the caller checked the length).
    fn v4(&self) -> SocketAddrV4 {
        let port = u16::from_be_bytes([self.bytes[2], self.bytes[3]]);
        let ip = Ipv4Addr::new(self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]);
        SocketAddrV4::new(ip, port)
    }

    /// The bytes as a `sockaddr_in6` (the caller checked for `SIN6_LEN_RFC2133`; a shorter
    /// one's `sin6_scope_id` is 0).
    fn v6(&self) -> SocketAddrV6 {
        let b = &self.bytes;
        let port = u16::from_be_bytes([b[2], b[3]]);
        let flowinfo = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&b[8..24]);
        let scope =
            if self.len >= SIN6_LEN { u32::from_ne_bytes([b[24], b[25], b[26], b[27]]) } else { 0 };
        SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope)
    }
}

/// The family and IPV6_V6ONLY of the socket an address is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    pub(crate) v6: bool,
    pub(crate) v6only: bool,
}

/// A link-local destination or bind address needs `sin6_scope_id` to name the interface
/// (Linux `__inet6_bind`, `tcp_v6_connect`: EINVAL without one); ustack's interfaces have
/// no link-local addresses, so one with a scope is simply not ours / not reachable.
fn needs_scope(a: &SocketAddrV6) -> bool {
    a.ip().is_unicast_link_local() && a.scope_id() == 0
}

/// `bind` (Linux `inet_bind_sk` / `inet6_bind_sk` and `__inet6_bind`).
pub(crate) fn for_bind(f: Family, raw: &RawAddr) -> Result<SocketAddr, Errno> {
    if !f.v6 {
        if raw.len < SIN_LEN {
            return Err(libc::EINVAL);
        }
        let a = raw.v4();
        // Linux accepts AF_UNSPEC with INADDR_ANY as AF_INET, for old programs.
        let unspec_any = raw.family == libc::AF_UNSPEC && a.ip().is_unspecified();
        if raw.family != libc::AF_INET && !unspec_any {
            return Err(libc::EAFNOSUPPORT);
        }
        return Ok(a.into());
    }
    if raw.len < SIN6_LEN_RFC2133 {
        return Err(libc::EINVAL);
    }
    if raw.family != libc::AF_INET6 {
        return Err(libc::EAFNOSUPPORT);
    }
    let a = raw.v6();
    if (f.v6only && a.ip().to_ipv4_mapped().is_some()) || needs_scope(&a) {
        return Err(libc::EINVAL);
    }
    Ok(a.into())
}

/// `connect` of a TCP socket (Linux `__inet_stream_connect`, `tcp_v4_connect`,
/// `tcp_v6_connect`); `Ok(None)` for `AF_UNSPEC` (dissolve the connection). Also the
/// address of `sendto(MSG_FASTOPEN)`, which connects the same way.
pub(crate) fn for_tcp_connect(f: Family, raw: &RawAddr) -> Result<Option<SocketAddr>, Errno> {
    if raw.family == libc::AF_UNSPEC {
        return Ok(None);
    }
    if !f.v6 {
        if raw.len < SIN_LEN {
            return Err(libc::EINVAL);
        }
        if raw.family != libc::AF_INET {
            return Err(libc::EAFNOSUPPORT);
        }
        return Ok(Some(raw.v4().into()));
    }
    if raw.len < SIN6_LEN_RFC2133 {
        return Err(libc::EINVAL);
    }
    if raw.family != libc::AF_INET6 {
        return Err(libc::EAFNOSUPPORT);
    }
    let a = raw.v6();
    if a.ip().is_multicast() {
        return Err(libc::ENETUNREACH);
    }
    if needs_scope(&a) {
        return Err(libc::EINVAL);
    }
    if f.v6only && a.ip().to_ipv4_mapped().is_some() {
        return Err(libc::ENETUNREACH);
    }
    Ok(Some(a.into()))
}

/// `connect` of a UDP socket (Linux `inet_dgram_connect`, `__ip4_datagram_connect`,
/// `__ip6_datagram_connect`, which takes a `sockaddr_in` on a dual-stack socket);
/// `Ok(None)` for `AF_UNSPEC` (forget the peer).
pub(crate) fn for_udp_connect(f: Family, raw: &RawAddr) -> Result<Option<SocketAddr>, Errno> {
    if raw.family == libc::AF_UNSPEC {
        return Ok(None);
    }
    let v4 = |raw: &RawAddr| {
        if raw.len < SIN_LEN {
            return Err(libc::EINVAL);
        }
        if raw.family != libc::AF_INET {
            return Err(libc::EAFNOSUPPORT);
        }
        Ok(Some(SocketAddr::from(raw.v4())))
    };
    if !f.v6 {
        return v4(raw);
    }
    if raw.family == libc::AF_INET {
        if f.v6only {
            return Err(libc::EAFNOSUPPORT);
        }
        return v4(raw);
    }
    if raw.len < SIN6_LEN_RFC2133 {
        return Err(libc::EINVAL);
    }
    if raw.family != libc::AF_INET6 {
        return Err(libc::EAFNOSUPPORT);
    }
    let a = raw.v6();
    if f.v6only && a.ip().to_ipv4_mapped().is_some() {
        return Err(libc::ENETUNREACH);
    }
    Ok(Some(a.into()))
}

/// The destination of a UDP `sendto`/`sendmsg` (Linux `udp_sendmsg`, `udpv6_sendmsg`);
/// `Ok(None)`: send to the connected peer (`AF_UNSPEC` on an IPv6 socket).
pub(crate) fn for_udp_send(f: Family, raw: &RawAddr) -> Result<Option<SocketAddr>, Errno> {
    let v4 = |raw: &RawAddr| {
        if raw.len < SIN_LEN {
            return Err(libc::EINVAL);
        }
        // `udp_sendmsg` reads an AF_UNSPEC address as an AF_INET one.
        if raw.family != libc::AF_INET && raw.family != libc::AF_UNSPEC {
            return Err(libc::EAFNOSUPPORT);
        }
        Ok(Some(SocketAddr::from(raw.v4())))
    };
    if !f.v6 {
        return v4(raw);
    }
    match raw.family {
        libc::AF_INET6 => {
            if raw.len < SIN6_LEN_RFC2133 {
                return Err(libc::EINVAL);
            }
            let a = raw.v6();
            if f.v6only && a.ip().to_ipv4_mapped().is_some() {
                return Err(libc::ENETUNREACH);
            }
            Ok(Some(a.into()))
        }
        libc::AF_INET if f.v6only => Err(libc::ENETUNREACH),
        libc::AF_INET => v4(raw),
        libc::AF_UNSPEC => Ok(None),
        _ => Err(libc::EINVAL),
    }
}

/// An address as a socket of family `v6` shows it: an IPv6 socket every address as IPv6
/// (IPv4 ones IPv4-mapped, `::ffff:a.b.c.d`), an IPv4 socket as IPv4.
pub(crate) fn shown(a: SocketAddr, v6: bool) -> SocketAddr {
    match (a, v6) {
        (SocketAddr::V4(a), true) => {
            SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0).into()
        }
        (SocketAddr::V6(a), false) => {
            SocketAddrV4::new(a.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED), a.port())
                .into()
        }
        (a, _) => a,
    }
}

/// The unspecified address of a family, port 0 (an unbound socket's name).
pub(crate) fn unspecified(v6: bool) -> SocketAddr {
    let ip = if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    SocketAddr::new(ip, 0)
}

/// Writes `a` as the `sockaddr_in` or `sockaddr_in6` of a socket of family `v6` into
/// `(addr, len)`, cut to `*len`, and sets `*len` to the full size (Linux `move_addr_to_user`).
/// Null pointers write nothing.
pub(crate) fn write(a: SocketAddr, v6: bool, addr: *mut sockaddr, len: *mut socklen_t) {
    if addr.is_null() || len.is_null() {
        return;
    }
    let mut out = [0u8; SIN6_LEN];
    let full = match shown(a, v6) {
        SocketAddr::V4(a) => {
            out[..2].copy_from_slice(&(libc::AF_INET as libc::sa_family_t).to_ne_bytes());
            out[2..4].copy_from_slice(&a.port().to_be_bytes());
            out[4..8].copy_from_slice(&a.ip().octets());
            SIN_LEN
        }
        SocketAddr::V6(a) => {
            out[..2].copy_from_slice(&(libc::AF_INET6 as libc::sa_family_t).to_ne_bytes());
            out[2..4].copy_from_slice(&a.port().to_be_bytes());
            out[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            out[8..24].copy_from_slice(&a.ip().octets());
            out[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            SIN6_LEN
        }
    };
    // SAFETY: `len` is non-null and points at the caller's length; `addr` has room for
    // `*len` bytes, and we copy at most that many.
    unsafe {
        let room = (*len as usize).min(full);
        core::ptr::copy_nonoverlapping(out.as_ptr(), addr.cast::<u8>(), room);
        *len = full as socklen_t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: Family = Family { v6: false, v6only: false };
    const DUAL: Family = Family { v6: true, v6only: false };
    const ONLY: Family = Family { v6: true, v6only: true };

    fn sin(family: c_int, ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut b = vec![0u8; SIN_LEN];
        b[..2].copy_from_slice(&(family as libc::sa_family_t).to_ne_bytes());
        b[2..4].copy_from_slice(&port.to_be_bytes());
        b[4..8].copy_from_slice(&ip);
        b
    }

    fn sin6(family: c_int, ip: &str, port: u16, scope: u32) -> Vec<u8> {
        let mut b = vec![0u8; SIN6_LEN];
        b[..2].copy_from_slice(&(family as libc::sa_family_t).to_ne_bytes());
        b[2..4].copy_from_slice(&port.to_be_bytes());
        b[4..8].copy_from_slice(&7u32.to_be_bytes());
        b[8..24].copy_from_slice(&ip.parse::<Ipv6Addr>().unwrap().octets());
        b[24..28].copy_from_slice(&scope.to_ne_bytes());
        b
    }

    fn raw(b: &[u8], len: usize) -> RawAddr {
        RawAddr::read(b.as_ptr().cast(), len as socklen_t).unwrap()
    }

    // Expected values: Linux 6.18, the same calls on kernel sockets in a network namespace.

    #[test]
    fn an_ipv4_socket_refuses_a_sockaddr_in6_as_linux_does() {
        let a = sin6(libc::AF_INET6, "2001:db8::1", 80, 0);
        assert_eq!(for_bind(V4, &raw(&a, 28)), Err(libc::EAFNOSUPPORT));
        assert_eq!(for_bind(V4, &raw(&a, 12)), Err(libc::EINVAL));
        assert_eq!(for_tcp_connect(V4, &raw(&a, 28)), Err(libc::EAFNOSUPPORT));
        assert_eq!(for_tcp_connect(V4, &raw(&a, 12)), Err(libc::EINVAL));
        assert_eq!(for_udp_connect(V4, &raw(&a, 28)), Err(libc::EAFNOSUPPORT));
        assert_eq!(for_udp_send(V4, &raw(&a, 28)), Err(libc::EAFNOSUPPORT));
    }

    #[test]
    fn an_ipv6_socket_checks_length_before_family_as_linux_does() {
        let a = sin(libc::AF_INET, [10, 0, 0, 1], 80);
        let mut long = a.clone();
        long.resize(SIN6_LEN, 0);
        assert_eq!(for_bind(DUAL, &raw(&a, 16)), Err(libc::EINVAL));
        assert_eq!(for_bind(DUAL, &raw(&long, 28)), Err(libc::EAFNOSUPPORT));
        assert_eq!(for_tcp_connect(DUAL, &raw(&a, 16)), Err(libc::EINVAL));
        let b = sin6(libc::AF_INET6, "2001:db8::1", 80, 0);
        assert_eq!(for_bind(DUAL, &raw(&b, 23)), Err(libc::EINVAL));
        assert_eq!(for_tcp_connect(DUAL, &raw(&b, 23)), Err(libc::EINVAL));
        assert_eq!(for_udp_send(DUAL, &raw(&b, 23)), Err(libc::EINVAL));
        let mut other = b.clone();
        other[..2].copy_from_slice(&99u16.to_ne_bytes());
        assert_eq!(for_bind(DUAL, &raw(&other, 28)), Err(libc::EAFNOSUPPORT));
        assert_eq!(for_udp_send(DUAL, &raw(&other, 28)), Err(libc::EINVAL));
    }

    #[test]
    fn a_sockaddr_in6_without_scope_id_is_accepted_and_flowinfo_read() {
        let b = sin6(libc::AF_INET6, "2001:db8::1", 80, 5);
        let SocketAddr::V6(a) = for_bind(DUAL, &raw(&b, 24)).unwrap() else { panic!() };
        assert_eq!((a.port(), a.flowinfo(), a.scope_id()), (80, 7, 0));
        let SocketAddr::V6(a) = for_bind(DUAL, &raw(&b, 28)).unwrap() else { panic!() };
        assert_eq!(a.scope_id(), 5);
    }

    #[test]
    fn v6only_refuses_ipv4_as_linux_does() {
        let m = sin6(libc::AF_INET6, "::ffff:10.0.0.1", 80, 0);
        let v4 = sin(libc::AF_INET, [10, 0, 0, 1], 80);
        assert_eq!(for_bind(ONLY, &raw(&m, 28)), Err(libc::EINVAL));
        assert_eq!(for_tcp_connect(ONLY, &raw(&m, 28)), Err(libc::ENETUNREACH));
        assert_eq!(for_udp_connect(ONLY, &raw(&v4, 16)), Err(libc::EAFNOSUPPORT));
        assert_eq!(for_udp_connect(ONLY, &raw(&m, 28)), Err(libc::ENETUNREACH));
        assert_eq!(for_udp_send(ONLY, &raw(&v4, 16)), Err(libc::ENETUNREACH));
        assert_eq!(for_udp_send(ONLY, &raw(&m, 28)), Err(libc::ENETUNREACH));
        // Dual stack: both forms reach IPv4.
        assert!(for_bind(DUAL, &raw(&m, 28)).is_ok());
        assert_eq!(for_udp_send(DUAL, &raw(&v4, 16)), Ok(Some("10.0.0.1:80".parse().unwrap())));
        assert_eq!(for_udp_send(DUAL, &raw(&v4, 8)), Err(libc::EINVAL));
        assert_eq!(for_udp_connect(DUAL, &raw(&v4, 16)), Ok(Some("10.0.0.1:80".parse().unwrap())));
    }

    #[test]
    fn link_local_without_scope_and_multicast_are_refused_as_linux_does() {
        let ll = sin6(libc::AF_INET6, "fe80::1", 80, 0);
        let mc = sin6(libc::AF_INET6, "ff02::1", 80, 0);
        assert_eq!(for_bind(ONLY, &raw(&ll, 28)), Err(libc::EINVAL));
        assert_eq!(for_tcp_connect(ONLY, &raw(&ll, 28)), Err(libc::EINVAL));
        assert_eq!(for_tcp_connect(ONLY, &raw(&mc, 28)), Err(libc::ENETUNREACH));
    }

    #[test]
    fn af_unspec_means_what_each_call_makes_of_it() {
        let u = sin(libc::AF_UNSPEC, [10, 0, 0, 1], 80);
        assert_eq!(for_tcp_connect(DUAL, &raw(&u, 16)), Ok(None));
        assert_eq!(for_udp_connect(V4, &raw(&u, 16)), Ok(None));
        assert_eq!(for_udp_send(DUAL, &raw(&u, 16)), Ok(None));
        // udp_sendmsg reads it as AF_INET; inet_bind only with INADDR_ANY.
        assert_eq!(for_udp_send(V4, &raw(&u, 16)), Ok(Some("10.0.0.1:80".parse().unwrap())));
        assert_eq!(for_bind(V4, &raw(&u, 16)), Err(libc::EAFNOSUPPORT));
        let any = sin(libc::AF_UNSPEC, [0; 4], 80);
        assert_eq!(for_bind(V4, &raw(&any, 16)), Ok("0.0.0.0:80".parse().unwrap()));
    }

    #[test]
    fn an_ipv6_socket_names_ipv4_peers_as_mapped_addresses() {
        let a: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(shown(a, true), "[::ffff:10.0.0.1]:80".parse().unwrap());
        assert_eq!(shown(shown(a, true), false), a);
        let mut buf = [0u8; 28];
        let mut len: socklen_t = 28;
        write(a, true, buf.as_mut_ptr().cast(), &mut len);
        assert_eq!(len, 28);
        assert_eq!(c_int::from(u16::from_ne_bytes([buf[0], buf[1]])), libc::AF_INET6);
        assert_eq!(&buf[8..24], &"::ffff:10.0.0.1".parse::<Ipv6Addr>().unwrap().octets());
        let mut short: socklen_t = 16;
        write(a, true, buf.as_mut_ptr().cast(), &mut short);
        assert_eq!(short, 28, "the full length is reported, the copy cut");
    }
}
