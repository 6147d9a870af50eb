//! The C functions (`include/ustack.h`): each takes the stack handle first and otherwise the
//! arguments of the POSIX call it is named after, returns what that call returns and sets
//! `errno` as Linux does. docs/c-api.md lists them with what is and is not supported.

use core::ffi::c_void;
use core::net::{Ipv4Addr, SocketAddrV4};
use std::sync::MutexGuard;

use libc::{c_int, c_long, c_ulong, iovec, msghdr, nfds_t, pollfd, sockaddr, socklen_t, ssize_t};
use ustack_core::Instant;

use crate::Ustack;
use crate::epoll::{Epoll, Watch};
use crate::errno::{self, Errno};
use crate::host::{Attempt, Fd, Host, Phase, Proto};
use crate::sockopt::OptVal;
use crate::world::{State, WaitEnd, World};

// ----------------------------------------------------------------------------------------
// Plumbing
// ----------------------------------------------------------------------------------------

/// The handle behind a C pointer.
fn handle<'a>(st: *const Ustack) -> Result<&'a Ustack, Errno> {
    // SAFETY: the C caller passes a pointer `ustack_pair_new` (or the packetdrill shim)
    // handed out and has not freed; null is refused.
    unsafe { st.as_ref() }.ok_or(libc::EINVAL)
}

/// Runs a call that does not block.
fn call<T>(
    st: *const Ustack,
    f: impl FnOnce(&mut Host, Instant) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let u = handle(st)?;
    let w = u.world();
    let mut g = w.lock();
    let now = g.now();
    let r = f(&mut g.hosts[u.host], now);
    drop(w.changed(g));
    r
}

/// Marks the return of a C call when dropped (see [`World::call_returned`]): every
/// `extern "C"` function that may run on packetdrill's second thread holds one.
pub(crate) struct Returning(pub(crate) *const Ustack);

impl Drop for Returning {
    fn drop(&mut self) {
        if let Ok(u) = handle(self.0) {
            // Taking the lock may clobber errno (a contended futex): keep the call's.
            let saved = errno::get();
            let w = u.world();
            let mut g = w.lock();
            w.call_returned(&mut g);
            drop(g);
            errno::set(saved);
        }
    }
}

/// Runs a call that may block: `attempt` until it is done, unless `nonblock` (then EAGAIN).
/// `deadline`: when a blocking wait gives up (`Ok(None)` is then returned by the wrapper
/// through `on_timeout`).
fn blocking<T>(
    st: *const Ustack,
    nonblock: impl FnOnce(&Host) -> Result<bool, Errno>,
    deadline: impl FnOnce(Instant) -> Option<Instant>,
    on_timeout: impl FnOnce() -> Result<T, Errno>,
    mut attempt: impl FnMut(&mut Host, Instant) -> Attempt<T>,
) -> Result<T, Errno> {
    let u = handle(st)?;
    let w = u.world();
    let mut g = w.lock();
    let nb = nonblock(&g.hosts[u.host])?;
    let now = g.now();
    let first = attempt(&mut g.hosts[u.host], now);
    let (g, r) = match first {
        Ok(Some(v)) => (g, Ok(v)),
        Err(e) => (g, Err(e)),
        Ok(None) if nb => (g, Err(libc::EAGAIN)),
        Ok(None) => {
            let dl = deadline(now);
            g = w.changed(g);
            let (g, r) = w.wait(g, dl, |s: &mut State| {
                let now = s.now();
                match attempt(&mut s.hosts[u.host], now) {
                    Ok(Some(v)) => Some(Ok(v)),
                    Err(e) => Some(Err(e)),
                    Ok(None) => None,
                }
            });
            match r {
                Ok(r) => (g, r),
                Err(WaitEnd::TimedOut) => (g, on_timeout()),
                Err(WaitEnd::WouldHang) => (g, Err(libc::EAGAIN)),
            }
        }
    };
    drop(w.changed(g));
    r
}

fn is_nonblock(h: &Host, fd: c_int) -> Result<bool, Errno> {
    Ok(h.sock(fd)?.nonblock)
}

/// Reads a `struct sockaddr_in` (Linux `inet_bind` / `inet_stream_connect` checks).
/// `Ok(None)`: `AF_UNSPEC`.
fn read_addr(addr: *const sockaddr, len: socklen_t) -> Result<Option<SocketAddrV4>, Errno> {
    if addr.is_null() {
        return Err(libc::EFAULT);
    }
    if (len as usize) < core::mem::size_of::<libc::sa_family_t>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null, and the caller says `len` bytes are readable; we read the family
    // field first, then a whole `sockaddr_in` only when `len` covers it.
    let family = c_int::from(unsafe { (*addr).sa_family });
    match family {
        libc::AF_INET => {}
        libc::AF_UNSPEC => return Ok(None),
        _ => return Err(libc::EAFNOSUPPORT),
    }
    if (len as usize) < core::mem::size_of::<libc::sockaddr_in>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: as above; `read_unaligned` copes with any alignment.
    let sin = unsafe { core::ptr::read_unaligned(addr.cast::<libc::sockaddr_in>()) };
    let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
    Ok(Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
}

/// Writes `a` as a `struct sockaddr_in` into `(addr, len)`, cut to `*len`, and sets `*len`
/// to the full size. Null pointers write nothing.
fn write_addr(a: SocketAddrV4, addr: *mut sockaddr, len: *mut socklen_t) -> Result<(), Errno> {
    if addr.is_null() || len.is_null() {
        return Ok(());
    }
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*a.ip()).to_be() },
        sin_zero: [0; 8],
    };
    let full = core::mem::size_of::<libc::sockaddr_in>();
    // SAFETY: `len` is non-null and points at the caller's length; `addr` has room for
    // `*len` bytes, and we copy at most that many.
    unsafe {
        let room = (*len as usize).min(full);
        core::ptr::copy_nonoverlapping(
            (&sin as *const libc::sockaddr_in).cast::<u8>(),
            addr.cast::<u8>(),
            room,
        );
        *len = full as socklen_t;
    }
    Ok(())
}

/// A readable buffer from C, or EFAULT for a null pointer with a length.
fn in_buf<'a>(buf: *const c_void, len: usize) -> Result<&'a [u8], Errno> {
    if len == 0 {
        return Ok(&[]);
    }
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller guarantees `len` readable bytes at `buf` (POSIX's contract).
    Ok(unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) })
}

/// A writable buffer from C, or EFAULT for a null pointer with a length.
fn out_buf<'a>(buf: *mut c_void, len: usize) -> Result<&'a mut [u8], Errno> {
    if len == 0 {
        return Ok(&mut []);
    }
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller guarantees `len` writable bytes at `buf` that nothing else touches
    // during the call.
    Ok(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) })
}

/// The iovecs of a call.
fn iovecs<'a>(iov: *const iovec, cnt: usize) -> Result<&'a [iovec], Errno> {
    if cnt > libc::UIO_MAXIOV as usize {
        return Err(libc::EINVAL);
    }
    if cnt == 0 {
        return Ok(&[]);
    }
    if iov.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller passes `cnt` iovecs at `iov`.
    Ok(unsafe { core::slice::from_raw_parts(iov, cnt) })
}

fn gather(iov: &[iovec]) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::new();
    for i in iov {
        v.extend_from_slice(in_buf(i.iov_base, i.iov_len)?);
    }
    Ok(v)
}

fn scatter(iov: &[iovec], data: &[u8]) -> Result<(), Errno> {
    let mut rest = data;
    for i in iov {
        if rest.is_empty() {
            break;
        }
        let n = i.iov_len.min(rest.len());
        out_buf(i.iov_base, n)?.copy_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
    Ok(())
}

fn iov_len(iov: &[iovec]) -> Result<usize, Errno> {
    iov.iter().try_fold(0usize, |a, i| a.checked_add(i.iov_len).ok_or(libc::EINVAL))
}

// ----------------------------------------------------------------------------------------
// Sockets
// ----------------------------------------------------------------------------------------

/// `socket(2)`: `AF_INET` with `SOCK_STREAM` (TCP) or `SOCK_DGRAM` (UDP), optionally
/// or-ed with `SOCK_NONBLOCK` / `SOCK_CLOEXEC`. `AF_INET6`: `EAFNOSUPPORT`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_socket(
    st: *mut Ustack,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| h.socket(domain, ty, protocol)))
}

/// `bind(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_bind(
    st: *mut Ustack,
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        h.sock(fd)?;
        let a = match read_addr(addr, len)? {
            Some(a) => a,
            // Linux accepts AF_UNSPEC with INADDR_ANY as AF_INET, for old programs.
            None => {
                let a = read_addr_unspec(addr, len)?;
                if !a.ip().is_unspecified() {
                    return Err(libc::EAFNOSUPPORT);
                }
                a
            }
        };
        h.bind(fd, a).map(|()| 0)
    }))
}

fn read_addr_unspec(addr: *const sockaddr, len: socklen_t) -> Result<SocketAddrV4, Errno> {
    if (len as usize) < core::mem::size_of::<libc::sockaddr_in>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null (checked by `read_addr`) with `len` readable bytes.
    let sin = unsafe { core::ptr::read_unaligned(addr.cast::<libc::sockaddr_in>()) };
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
        u16::from_be(sin.sin_port),
    ))
}

/// `listen(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_listen(st: *mut Ustack, fd: c_int, backlog: c_int) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| h.listen(fd, backlog).map(|()| 0)))
}

/// `accept(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_accept(
    st: *mut Ustack,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    let _returning = Returning(st);
    ustack_accept4(st, fd, addr, len, 0)
}

/// `accept4(2)`: `flags` may hold `SOCK_NONBLOCK` and `SOCK_CLOEXEC`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_accept4(
    st: *mut Ustack,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let _returning = Returning(st);
    let r = blocking(
        st,
        |h| is_nonblock(h, fd),
        |_| None,
        || Err(libc::EAGAIN),
        |h, _| h.accept(fd, flags),
    );
    errno::ret(r.and_then(|(nfd, peer)| write_addr(peer, addr, len).map(|()| nfd)))
}

/// `connect(2)`: blocks until the handshake ends unless the socket is non-blocking
/// (`EINPROGRESS`, then `EALREADY` while it runs, `EISCONN` once connected).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_connect(
    st: *mut Ustack,
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> c_int {
    let _returning = Returning(st);
    let target = match read_addr(addr, len) {
        Ok(a) => a,
        Err(e) => return errno::ret(Err(e)),
    };
    let Some(target) = target else {
        // AF_UNSPEC: dissolve the association (Linux `tcp_disconnect`).
        return errno::ret(call(st, |h, now| h.disconnect(now, fd).map(|()| 0)));
    };
    // Start (or look at) the handshake.
    let started = call(st, |h, now| {
        let nb = h.sock(fd)?.nonblock;
        Ok((nb, h.connect(now, fd, target)))
    });
    let (nb, r) = match started {
        Ok(x) => x,
        Err(e) => return errno::ret(Err(e)),
    };
    let r = match r {
        Ok(Some(())) => Ok(0),
        Err(e) => Err(e),
        // A new handshake on a non-blocking socket.
        Ok(None) if nb => Err(libc::EINPROGRESS),
        Ok(None) => blocking(
            st,
            |_| Ok(false),
            |_| None,
            || Err(libc::ETIMEDOUT),
            |h, now| h.connect_progress(now, fd, false),
        )
        .map(|()| 0),
    };
    errno::ret(r)
}

/// `read(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_read(
    st: *mut Ustack,
    fd: c_int,
    buf: *mut c_void,
    count: usize,
) -> ssize_t {
    let _returning = Returning(st);
    ustack_recv(st, fd, buf, count, 0)
}

/// `recv(2)`: `MSG_DONTWAIT` and `MSG_PEEK` are supported.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_recv(
    st: *mut Ustack,
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
) -> ssize_t {
    let _returning = Returning(st);
    ustack_recvfrom(st, fd, buf, len, flags, core::ptr::null_mut(), core::ptr::null_mut())
}

/// `recvfrom(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_recvfrom(
    st: *mut Ustack,
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    let _returning = Returning(st);
    let r = out_buf(buf, len).and_then(|b| recv_into(st, fd, b, flags)).and_then(|(n, _, from)| {
        if let Some(from) = from {
            write_addr(from, addr, addrlen)?;
        } else if !addrlen.is_null() {
            // A connected stream has no source address to report (Linux leaves it untouched
            // and sets the length to 0).
            // SAFETY: non-null pointer to the caller's length.
            unsafe { *addrlen = 0 };
        }
        Ok(n as ssize_t)
    });
    errno::ret(r)
}

/// Receives into `buf`: (bytes copied, full datagram length, source for UDP).
fn recv_into(
    st: *const Ustack,
    fd: c_int,
    buf: &mut [u8],
    flags: c_int,
) -> Result<(usize, usize, Option<SocketAddrV4>), Errno> {
    const KNOWN: c_int = libc::MSG_DONTWAIT
        | libc::MSG_PEEK
        | libc::MSG_TRUNC
        | libc::MSG_WAITALL
        | libc::MSG_NOSIGNAL
        | libc::MSG_CMSG_CLOEXEC;
    if flags & !KNOWN != 0 {
        return Err(libc::EOPNOTSUPP);
    }
    let peek = flags & libc::MSG_PEEK != 0;
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    blocking(
        st,
        |h| Ok(dontwait || is_nonblock(h, fd)?),
        |_| None,
        || Err(libc::EAGAIN),
        |h, _| match h.sock(fd)?.proto {
            Proto::Tcp => Ok(h.tcp_recv(fd, buf, peek)?.map(|n| (n, n, None))),
            Proto::Udp => Ok(h.udp_recv(fd, buf)?.map(|(n, full, from)| (n, full, Some(from)))),
        },
    )
}

/// `readv(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_readv(
    st: *mut Ustack,
    fd: c_int,
    iov: *const iovec,
    iovcnt: c_int,
) -> ssize_t {
    let _returning = Returning(st);
    let r = (|| {
        let iov = iovecs(iov, usize::try_from(iovcnt).map_err(|_| libc::EINVAL)?)?;
        let mut tmp = vec![0u8; iov_len(iov)?];
        let (n, _, _) = recv_into(st, fd, &mut tmp, 0)?;
        scatter(iov, &tmp[..n])?;
        Ok(n as ssize_t)
    })();
    errno::ret(r)
}

/// `recvmsg(2)`: data into `msg_iov`, the source into `msg_name`; no control messages
/// (`msg_controllen` becomes 0).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_recvmsg(
    st: *mut Ustack,
    fd: c_int,
    msg: *mut msghdr,
    flags: c_int,
) -> ssize_t {
    let _returning = Returning(st);
    let r = (|| {
        // SAFETY: the caller passes a valid msghdr (checked for null).
        let m = unsafe { msg.as_mut() }.ok_or(libc::EFAULT)?;
        let iov = iovecs(m.msg_iov, m.msg_iovlen)?;
        let mut tmp = vec![0u8; iov_len(iov)?];
        let (n, full, from) = recv_into(st, fd, &mut tmp, flags)?;
        scatter(iov, &tmp[..n])?;
        m.msg_flags = 0;
        if full > n {
            m.msg_flags |= libc::MSG_TRUNC;
        }
        m.msg_controllen = 0;
        match from {
            Some(from) if !m.msg_name.is_null() => {
                let mut len = m.msg_namelen;
                write_addr(from, m.msg_name.cast(), &mut len)?;
                m.msg_namelen = len;
            }
            _ => m.msg_namelen = 0,
        }
        let ret = if flags & libc::MSG_TRUNC != 0 { full } else { n };
        Ok(ret as ssize_t)
    })();
    errno::ret(r)
}

/// `write(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_write(
    st: *mut Ustack,
    fd: c_int,
    buf: *const c_void,
    count: usize,
) -> ssize_t {
    let _returning = Returning(st);
    ustack_send(st, fd, buf, count, 0)
}

/// `send(2)`: `MSG_DONTWAIT`, `MSG_NOSIGNAL` (ustack never raises SIGPIPE) and `MSG_MORE`
/// (accepted: ustack sends as soon as Nagle allows, like a socket without it).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_send(
    st: *mut Ustack,
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> ssize_t {
    let _returning = Returning(st);
    ustack_sendto(st, fd, buf, len, flags, core::ptr::null(), 0)
}

/// `sendto(2)`. `MSG_FASTOPEN` on an unconnected TCP socket connects with the start of the
/// data in the SYN when a Fast Open cookie is cached (Linux `tcp_sendmsg_fastopen`): a
/// non-blocking call returns the bytes the SYN carries, or fails with `EINPROGRESS` when it
/// carries none; a blocking one waits for the connection and sends the rest.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_sendto(
    st: *mut Ustack,
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    let _returning = Returning(st);
    let r = in_buf(buf, len).and_then(|data| {
        let to = if addr.is_null() { None } else { read_addr(addr, addrlen)? };
        if flags & libc::MSG_FASTOPEN != 0 && !addr.is_null() && to.is_none() {
            // Linux `tcp_sendmsg_fastopen`: an AF_UNSPEC address is EOPNOTSUPP.
            return Err(libc::EOPNOTSUPP);
        }
        send_from(st, fd, data, flags, to).map(|n| n as ssize_t)
    });
    errno::ret(r)
}

fn send_from(
    st: *const Ustack,
    fd: c_int,
    data: &[u8],
    flags: c_int,
    to: Option<SocketAddrV4>,
) -> Result<usize, Errno> {
    const KNOWN: c_int = libc::MSG_DONTWAIT
        | libc::MSG_NOSIGNAL
        | libc::MSG_MORE
        | libc::MSG_EOR
        | libc::MSG_FASTOPEN;
    if flags & !KNOWN != 0 {
        return Err(libc::EOPNOTSUPP);
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    let mut sent = 0usize;
    // MSG_FASTOPEN starts a connection on an unconnected socket; on one already connected
    // it is an ordinary send.
    let (deferred, unconnected) =
        call(st, |h, _| Ok((h.fastopen_pending(fd), h.sock(fd)?.phase == Phase::Unconnected)))?;
    if flags & libc::MSG_FASTOPEN != 0 && !unconnected && call(st, |h, _| h.handshaking(fd))? {
        // Linux `__inet_stream_connect` in SS_CONNECTING: another connect is in progress.
        return Err(libc::EALREADY);
    }
    if (flags & libc::MSG_FASTOPEN != 0 && unconnected) || deferred {
        // Linux `tcp_sendmsg_locked` → `tcp_sendmsg_fastopen` → `__inet_stream_connect`.
        let (nb, syn) = call(st, |h, now| {
            let nb = dontwait || is_nonblock(h, fd)?;
            if h.sock(fd)?.proto == Proto::Udp {
                // MSG_FASTOPEN means nothing to UDP.
                return Ok((nb, None));
            }
            h.fastopen_connect(now, fd, to, data).map(|n| (nb, Some(n)))
        })?;
        if let Some(syn) = syn {
            if nb {
                // "if (err == -EINPROGRESS && copied_syn > 0) goto out".
                return if syn > 0 { Ok(syn) } else { Err(libc::EINPROGRESS) };
            }
            blocking(
                st,
                |_| Ok(false),
                |_| None,
                || Err(libc::ETIMEDOUT),
                |h, now| h.connect_progress(now, fd, false),
            )?;
            sent = syn;
            if sent == data.len() {
                return Ok(sent);
            }
        }
    }
    let nb = std::cell::Cell::new(false);
    blocking(
        st,
        |h| {
            nb.set(dontwait || is_nonblock(h, fd)?);
            Ok(nb.get())
        },
        |_| None,
        || Err(libc::EAGAIN),
        |h, now| {
            if h.sock(fd)?.proto == Proto::Udp {
                return h.udp_send(now, fd, data, to);
            }
            // TCP ignores the address of sendto (Linux `tcp_sendmsg`).
            loop {
                match h.tcp_send(fd, &data[sent..]) {
                    Ok(Some(0)) => return Ok(Some(sent)),
                    Ok(Some(n)) => {
                        sent += n;
                        if sent == data.len() {
                            return Ok(Some(sent));
                        }
                    }
                    Ok(None) => return Ok(if sent > 0 && nb.get() { Some(sent) } else { None }),
                    Err(e) => return if sent > 0 { Ok(Some(sent)) } else { Err(e) },
                }
            }
        },
    )
}

/// `writev(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_writev(
    st: *mut Ustack,
    fd: c_int,
    iov: *const iovec,
    iovcnt: c_int,
) -> ssize_t {
    let _returning = Returning(st);
    let r = (|| {
        let iov = iovecs(iov, usize::try_from(iovcnt).map_err(|_| libc::EINVAL)?)?;
        let data = gather(iov)?;
        send_from(st, fd, &data, 0, None).map(|n| n as ssize_t)
    })();
    errno::ret(r)
}

/// `sendmsg(2)`: `msg_iov` gathered, `msg_name` for UDP; control messages are refused
/// (`EINVAL`).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_sendmsg(
    st: *mut Ustack,
    fd: c_int,
    msg: *const msghdr,
    flags: c_int,
) -> ssize_t {
    let _returning = Returning(st);
    let r = (|| {
        // SAFETY: the caller passes a valid msghdr (checked for null).
        let m = unsafe { msg.as_ref() }.ok_or(libc::EFAULT)?;
        if m.msg_controllen != 0 {
            return Err(libc::EINVAL);
        }
        let iov = iovecs(m.msg_iov, m.msg_iovlen)?;
        let data = gather(iov)?;
        let to =
            if m.msg_name.is_null() { None } else { read_addr(m.msg_name.cast(), m.msg_namelen)? };
        send_from(st, fd, &data, flags, to).map(|n| n as ssize_t)
    })();
    errno::ret(r)
}

/// `close(2)`. With `SO_LINGER` on and a zero timeout the connection is reset; otherwise
/// close returns at once and the connection finishes in the background (a non-zero linger
/// time does not make close wait).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_close(st: *mut Ustack, fd: c_int) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, now| h.close(now, fd).map(|()| 0)))
}

/// `shutdown(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_shutdown(st: *mut Ustack, fd: c_int, how: c_int) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, now| h.shutdown(now, fd, how).map(|()| 0)))
}

/// `fcntl(2)` with its third argument explicit: `F_GETFL`, `F_SETFL` (`O_NONBLOCK`),
/// `F_GETFD`, `F_SETFD` (`FD_CLOEXEC`).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_fcntl(st: *mut Ustack, fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        let s = h.sock_mut(fd).map_err(|e| if e == libc::ENOTSOCK { libc::EINVAL } else { e })?;
        match cmd {
            libc::F_GETFL => Ok(libc::O_RDWR | if s.nonblock { libc::O_NONBLOCK } else { 0 }),
            libc::F_SETFL => {
                s.nonblock = arg as c_int & libc::O_NONBLOCK != 0;
                Ok(0)
            }
            libc::F_GETFD => Ok(if s.cloexec { libc::FD_CLOEXEC } else { 0 }),
            libc::F_SETFD => {
                s.cloexec = arg as c_int & libc::FD_CLOEXEC != 0;
                Ok(0)
            }
            _ => Err(libc::EINVAL),
        }
    }))
}

/// `ioctl(2)`: `FIONREAD` / `SIOCINQ` and `SIOCOUTQ` write an `int`; `FIONBIO` reads one.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_ioctl(
    st: *mut Ustack,
    fd: c_int,
    request: c_ulong,
    arg: *mut c_void,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        h.sock(fd)?;
        if arg.is_null() {
            return Err(libc::EFAULT);
        }
        let out = arg.cast::<c_int>();
        let v = match request {
            libc::FIONREAD => h.inq(fd)?,
            libc::TIOCOUTQ => h.outq(fd)?,
            libc::FIONBIO => {
                // SAFETY: non-null pointer to the caller's int.
                let on = unsafe { out.read_unaligned() } != 0;
                h.sock_mut(fd)?.nonblock = on;
                return Ok(0);
            }
            _ => return Err(libc::ENOTTY),
        };
        // SAFETY: non-null pointer to the caller's int.
        unsafe { out.write_unaligned(v.min(c_int::MAX as usize) as c_int) };
        Ok(0)
    }))
}

/// `getsockname(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_getsockname(
    st: *mut Ustack,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        if addr.is_null() || len.is_null() {
            return Err(libc::EFAULT);
        }
        write_addr(h.local_addr(fd)?, addr, len).map(|()| 0)
    }))
}

/// `getpeername(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_getpeername(
    st: *mut Ustack,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        if addr.is_null() || len.is_null() {
            return Err(libc::EFAULT);
        }
        write_addr(h.peer_addr(fd)?, addr, len).map(|()| 0)
    }))
}

/// `setsockopt(2)`; docs/c-api.md lists the options.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_setsockopt(
    st: *mut Ustack,
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, now| {
        let v = in_buf(val, len as usize)?;
        h.setsockopt(now, fd, level, name, v).map(|()| 0)
    }))
}

/// `getsockopt(2)`; docs/c-api.md lists the options. Values are cut to `*len` and `*len`
/// set to what was written, as Linux does.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_getsockopt(
    st: *mut Ustack,
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, now| {
        if len.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: non-null pointer to the caller's length.
        let room = unsafe { *len };
        if (room as i32) < 0 {
            return Err(libc::EINVAL);
        }
        let bytes = match h.getsockopt(now, fd, level, name)? {
            OptVal::Int(v) => v.to_ne_bytes().to_vec(),
            OptVal::Bytes(b) => b,
        };
        let n = (room as usize).min(bytes.len());
        out_buf(val, n)?.copy_from_slice(&bytes[..n]);
        // SAFETY: as above.
        unsafe { *len = n as socklen_t };
        Ok(0)
    }))
}

// ----------------------------------------------------------------------------------------
// poll and epoll
// ----------------------------------------------------------------------------------------

/// Deadline of a `poll` / `epoll_wait` timeout in milliseconds (negative: none).
fn ms_deadline(timeout: c_int) -> impl FnOnce(Instant) -> Option<Instant> {
    move |now| (timeout >= 0).then(|| now + ustack_core::Duration::from_millis(timeout as u64))
}

/// `poll(2)` over ustack descriptors.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_poll(
    st: *mut Ustack,
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
) -> c_int {
    let _returning = Returning(st);
    let r = (|| {
        if nfds as usize > 0 && fds.is_null() {
            return Err(libc::EFAULT);
        }
        if nfds > libc::RLIM_INFINITY as nfds_t || nfds as usize > 1 << 20 {
            return Err(libc::EINVAL);
        }
        let fds: &mut [pollfd] = if nfds == 0 {
            &mut []
        } else {
            // SAFETY: the caller passes `nfds` pollfd structures at `fds`.
            unsafe { core::slice::from_raw_parts_mut(fds, nfds as usize) }
        };
        let once = |h: &mut Host, fds: &mut [pollfd]| {
            let mut n = 0;
            for p in fds.iter_mut() {
                p.revents = 0;
                if p.fd < 0 {
                    continue;
                }
                let ready = h.readiness(p.fd);
                let wanted = (p.events as u16 as u32)
                    | crate::epoll::bits::ERR
                    | crate::epoll::bits::HUP
                    | crate::epoll::bits::NVAL;
                let r = ready & wanted;
                p.revents = r as i16;
                if r != 0 {
                    n += 1;
                }
            }
            n
        };
        let fds_ptr = fds.as_mut_ptr();
        let len = fds.len();
        blocking(
            st,
            |_| Ok(timeout == 0),
            ms_deadline(timeout),
            || Ok(0),
            |h, _| {
                // SAFETY: the same slice as above, re-borrowed for each attempt.
                let fds = unsafe { core::slice::from_raw_parts_mut(fds_ptr, len) };
                let n = once(h, fds);
                Ok((n > 0).then_some(n))
            },
        )
        .or_else(|e| if e == libc::EAGAIN && timeout == 0 { Ok(0) } else { Err(e) })
    })();
    errno::ret(r)
}

/// `epoll_create(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_epoll_create(st: *mut Ustack, size: c_int) -> c_int {
    let _returning = Returning(st);
    if size <= 0 {
        return errno::ret(Err(libc::EINVAL));
    }
    ustack_epoll_create1(st, 0)
}

/// `epoll_create1(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_epoll_create1(st: *mut Ustack, flags: c_int) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        if flags & !libc::EPOLL_CLOEXEC != 0 {
            return Err(libc::EINVAL);
        }
        Ok(h.insert(Fd::Epoll(Epoll::default())))
    }))
}

/// `epoll_ctl(2)` over ustack descriptors: `EPOLLIN`, `EPOLLOUT`, `EPOLLRDHUP`, `EPOLLET`,
/// `EPOLLONESHOT`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_epoll_ctl(
    st: *mut Ustack,
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: *mut libc::epoll_event,
) -> c_int {
    let _returning = Returning(st);
    errno::ret(call(st, |h, _| {
        if epfd == fd {
            return Err(libc::EINVAL);
        }
        match h.fds.get(&fd) {
            None => return Err(libc::EBADF),
            // Nested epoll instances are not supported.
            Some(Fd::Epoll(_)) => return Err(libc::EINVAL),
            Some(Fd::Sock(_)) => {}
        }
        let ev = if op == libc::EPOLL_CTL_DEL {
            None
        } else {
            // SAFETY: the caller passes a valid epoll_event for ADD and MOD (null: EFAULT).
            let e = unsafe { event.as_ref() }.ok_or(libc::EFAULT)?;
            Some((e.events, e.u64))
        };
        let ready = h.readiness(fd);
        let Some(Fd::Epoll(ep)) = h.fds.get_mut(&epfd) else {
            return Err(if h.fds.contains_key(&epfd) { libc::EINVAL } else { libc::EBADF });
        };
        match (op, ev) {
            (libc::EPOLL_CTL_ADD, Some((events, data))) => {
                if ep.watched.contains_key(&fd) {
                    return Err(libc::EEXIST);
                }
                ep.watched.insert(fd, Watch { events, data, last: 0, disabled: false });
            }
            (libc::EPOLL_CTL_MOD, Some((events, data))) => {
                let w = ep.watched.get_mut(&fd).ok_or(libc::ENOENT)?;
                *w = Watch { events, data, last: 0, disabled: false };
            }
            (libc::EPOLL_CTL_DEL, None) => {
                ep.watched.remove(&fd).ok_or(libc::ENOENT)?;
            }
            _ => return Err(libc::EINVAL),
        }
        let _ = ready;
        Ok(0)
    }))
}

/// `epoll_wait(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_epoll_wait(
    st: *mut Ustack,
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    let _returning = Returning(st);
    let r = (|| {
        if maxevents <= 0 {
            return Err(libc::EINVAL);
        }
        if events.is_null() {
            return Err(libc::EFAULT);
        }
        let max = maxevents as usize;
        blocking(
            st,
            |h| match h.fds.get(&epfd) {
                Some(Fd::Epoll(_)) => Ok(timeout == 0),
                Some(Fd::Sock(_)) => Err(libc::EINVAL),
                None => Err(libc::EBADF),
            },
            ms_deadline(timeout),
            || Ok(0),
            |h, _| {
                let Some(Fd::Epoll(mut ep)) = h.fds.remove(&epfd) else { return Err(libc::EBADF) };
                let got = ep.collect(h, max);
                h.fds.insert(epfd, Fd::Epoll(ep));
                if got.is_empty() {
                    return Ok(None);
                }
                for (i, (ev, data)) in got.iter().enumerate() {
                    // SAFETY: the caller passes room for `maxevents` events; i < max.
                    unsafe {
                        events.add(i).write_unaligned(libc::epoll_event { events: *ev, u64: *data })
                    };
                }
                Ok(Some(got.len() as c_int))
            },
        )
        .or_else(|e| if e == libc::EAGAIN && timeout == 0 { Ok(0) } else { Err(e) })
    })();
    errno::ret(r)
}

impl Host {
    /// `connect(AF_UNSPEC)`: Linux `tcp_disconnect` (a RST if the peer holds state).
    pub(crate) fn disconnect(&mut self, _now: Instant, fd: c_int) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        match s.phase {
            Phase::Connected(h) | Phase::Connecting(h) => {
                self.stack.tcp_abort(h);
                let s = self.sock_mut(fd)?;
                s.phase = Phase::Unconnected;
                s.shut_rd = false;
                s.shut_wr = false;
                s.err_reported = false;
                Ok(())
            }
            Phase::Udp(h) => {
                self.stack.udp_disconnect(h);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Used by the packetdrill shim: the world behind a handle, locked.
pub(crate) fn lock(u: &Ustack) -> (&World, MutexGuard<'_, State>) {
    let w = u.world();
    (w, w.lock())
}
