//! The system calls behind [`Tun`](super::Tun): the only unsafe code of ustack.
//!
//! Each function is a safe wrapper over one or two calls into libc; every `unsafe` block says
//! why it is sound. The callers validate what the kernel cannot (interface names).

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use libc::{c_char, c_int, c_short, c_ulong};

/// The size of an interface name buffer, including its terminating NUL.
pub(super) const IFNAMSIZ: usize = libc::IFNAMSIZ;

/// The request argument type of `ioctl` differs between C libraries (glibc: `c_ulong`, musl:
/// `c_int`); the `SIOC*` constants are `c_ulong`.
#[allow(clippy::unnecessary_cast)]
const fn request(r: c_ulong) -> libc::Ioctl {
    r as libc::Ioctl
}

/// An `ifreq` carrying `name`. The caller has checked that `name` is shorter than
/// [`IFNAMSIZ`] and holds no NUL.
fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: `ifreq` is a C struct of a byte array and a union of integers, plain structs and
    // a pointer; the all-zero bit pattern is a valid value of each (a null pointer included).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    // Copy at most IFNAMSIZ - 1 bytes so the name stays NUL-terminated whatever the caller did.
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes()).take(IFNAMSIZ - 1) {
        *dst = src as c_char;
    }
    req
}

/// The NUL-terminated name in `req`.
fn ifreq_name(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `ioctl(fd, request, &mut req)` for the requests that take an `ifreq`.
fn ioctl_ifreq(fd: RawFd, req_code: libc::Ioctl, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request passed here (TUNSETIFF, TUNGETIFF, SIOCGIFINDEX, SIOCGIFFLAGS,
    // SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFMTU) reads and/or writes exactly one
    // `struct ifreq` through its third argument; `req` is one, exclusively borrowed for the
    // whole call. An invalid `fd` makes the call fail with EBADF, nothing worse.
    let rc = unsafe { libc::ioctl(fd, req_code, req as *mut libc::ifreq) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Attaches the opened `/dev/net/tun` to the TUN interface `name` (creating it when it does
/// not exist) with `flags` (`IFF_TUN | IFF_NO_PI | ...`). Returns the name the kernel gave,
/// which differs from `name` when that is a template such as `tun%d`.
pub(super) fn tun_set_iff(dev: &File, name: &str, flags: c_int) -> io::Result<String> {
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_flags = flags as c_short;
    ioctl_ifreq(dev.as_raw_fd(), libc::TUNSETIFF, &mut req)?;
    Ok(ifreq_name(&req))
}

/// The flags of the TUN interface the descriptor is attached to (`TUNGETIFF`): `IFF_TUN`,
/// `IFF_NO_PI`, `IFF_MULTI_QUEUE`, `IFF_PERSIST`, ...
pub(super) fn tun_flags(dev: &File) -> io::Result<c_int> {
    let mut req = ifreq("");
    ioctl_ifreq(dev.as_raw_fd(), libc::TUNGETIFF, &mut req)?;
    // SAFETY: TUNGETIFF succeeded, so the kernel wrote the interface's name and its flags in
    // `ifru_flags`, a plain `c_short` (every bit pattern is valid).
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    // The kernel stores the flags as an unsigned short: read them back without sign
    // extension.
    Ok(c_int::from(flags as u16))
}

/// An `AF_INET` datagram socket, the handle for the interface-configuration ioctls.
pub(super) fn inet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; it returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(), is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `AF_INET6` datagram socket, the handle for `SIOCSIFADDR` with an IPv6 address.
pub(super) fn inet6_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; it returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(), is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The index of interface `name` (`SIOCGIFINDEX`).
pub(super) fn interface_index(sock: &OwnedFd, name: &str) -> io::Result<c_int> {
    let mut req = ifreq(name);
    ioctl_ifreq(sock.as_raw_fd(), request(libc::SIOCGIFINDEX), &mut req)?;
    // SAFETY: SIOCGIFINDEX succeeded, so the kernel wrote `ifru_ifindex`, a plain `c_int`.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex })
}

/// Adds IPv6 address `addr/prefix_len` to the interface of index `index` (`SIOCSIFADDR` on
/// an `AF_INET6` socket, which takes an `in6_ifreq`); the kernel adds the prefix's route.
pub(super) fn add_ipv6(
    sock6: &OwnedFd,
    index: c_int,
    addr: Ipv6Addr,
    prefix_len: u8,
) -> io::Result<()> {
    let mut req = libc::in6_ifreq {
        ifr6_addr: libc::in6_addr { s6_addr: addr.octets() },
        ifr6_prefixlen: u32::from(prefix_len),
        ifr6_ifindex: index,
    };
    // SAFETY: SIOCSIFADDR on an AF_INET6 socket reads exactly one `struct in6_ifreq` through
    // its third argument; `req` is one, exclusively borrowed for the call. An invalid
    // descriptor or index makes the call fail, nothing worse.
    let rc = unsafe {
        libc::ioctl(sock6.as_raw_fd(), request(libc::SIOCSIFADDR), &mut req as *mut libc::in6_ifreq)
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Whether an interface called `name` exists in the socket's network namespace.
pub(super) fn interface_exists(sock: &OwnedFd, name: &str) -> bool {
    let mut req = ifreq(name);
    ioctl_ifreq(sock.as_raw_fd(), request(libc::SIOCGIFINDEX), &mut req).is_ok()
}

/// Which IPv4 address of an interface to set.
#[derive(Debug, Clone, Copy)]
pub(super) enum AddrKind {
    /// The local address (`SIOCSIFADDR`).
    Local,
    /// The netmask (`SIOCSIFNETMASK`).
    Netmask,
}

/// Sets the local address or the netmask of interface `name`.
pub(super) fn set_ipv4(
    sock: &OwnedFd,
    name: &str,
    kind: AddrKind,
    addr: Ipv4Addr,
) -> io::Result<()> {
    // A `sockaddr_in` laid out in a `sockaddr`: family, then port (0) and address, both in
    // network byte order, in `sa_data`.
    let mut sa = libc::sockaddr { sa_family: libc::AF_INET as libc::sa_family_t, sa_data: [0; 14] };
    for (dst, src) in sa.sa_data[2..6].iter_mut().zip(addr.octets()) {
        *dst = src as c_char;
    }
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_addr = sa;
    let code = match kind {
        AddrKind::Local => libc::SIOCSIFADDR,
        AddrKind::Netmask => libc::SIOCSIFNETMASK,
    };
    ioctl_ifreq(sock.as_raw_fd(), request(code), &mut req)
}

/// Sets the MTU of interface `name`.
pub(super) fn set_mtu(sock: &OwnedFd, name: &str, mtu: c_int) -> io::Result<()> {
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_mtu = mtu;
    ioctl_ifreq(sock.as_raw_fd(), request(libc::SIOCSIFMTU), &mut req)
}

/// Brings interface `name` up (`IFF_UP | IFF_RUNNING`), keeping its other flags.
pub(super) fn set_up(sock: &OwnedFd, name: &str) -> io::Result<()> {
    let mut req = ifreq(name);
    ioctl_ifreq(sock.as_raw_fd(), request(libc::SIOCGIFFLAGS), &mut req)?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel wrote `ifru_flags`, a plain `c_short`
    // (every bit pattern is valid).
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | (libc::IFF_UP | libc::IFF_RUNNING) as c_short;
    ioctl_ifreq(sock.as_raw_fd(), request(libc::SIOCSIFFLAGS), &mut req)
}

/// Waits up to `timeout` (rounded up to a millisecond) for `fd` to poll readable. `Ok(false)`
/// on timeout or when a signal interrupted the wait.
pub(crate) fn poll_readable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let millis = timeout.as_nanos().div_ceil(1_000_000).min(c_int::MAX as u128) as c_int;
    // SAFETY: `pfd` is an array of one valid `pollfd`, exclusively borrowed for the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, millis) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(err) };
    }
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(rc > 0)
}

/// Waits up to `timeout` (rounded up to a millisecond) for either descriptor to poll
/// readable; returns which are. Both false on timeout or when a signal interrupted the wait.
pub(crate) fn poll_readable2(fds: [RawFd; 2], timeout: Duration) -> io::Result<[bool; 2]> {
    let mut pfds = fds.map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
    let millis = timeout.as_nanos().div_ceil(1_000_000).min(c_int::MAX as u128) as c_int;
    // SAFETY: `pfds` is an array of two valid `pollfd`s, exclusively borrowed for the call,
    // and 2 is its length.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), 2, millis) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted { Ok([false; 2]) } else { Err(err) };
    }
    if pfds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(pfds.map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0))
}

/// Moves the calling thread into the network namespace that `ns` (an open
/// `/run/netns/NAME` or `/proc/PID/ns/net`) refers to.
pub(super) fn setns_net(ns: &File) -> io::Result<()> {
    // SAFETY: setns() takes a descriptor, here open for the whole call, and a flag; no
    // pointers. It changes only the calling thread's network namespace.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Sets the offloads of the TUN interface the descriptor is attached to (`TUNSETOFFLOAD`,
/// `TUN_F_*` bits): what the kernel may hand over unfinished (checksums left to fill,
/// packets longer than the MTU for the reader to cut).
pub(super) fn tun_set_offload(dev: &File, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value, an unsigned integer; no pointer. An
    // invalid descriptor makes the call fail with EBADF, nothing worse.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), libc::TUNSETOFFLOAD, c_ulong::from(flags)) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Sets the length of the virtio header that leads every packet read from or written to an
/// `IFF_VNET_HDR` TUN interface (`TUNSETVNETHDRSZ`).
pub(super) fn tun_set_vnet_hdr_size(dev: &File, size: c_int) -> io::Result<()> {
    // SAFETY: TUNSETVNETHDRSZ reads one `int` through its third argument; `size` is one,
    // borrowed for the whole call.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), libc::TUNSETVNETHDRSZ, &size as *const c_int) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// One eBPF instruction (`struct bpf_insn`): opcode, destination register in the low four
/// bits of `regs` and source register in the high four, offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BpfInsn {
    pub(super) code: u8,
    pub(super) regs: u8,
    pub(super) off: i16,
    pub(super) imm: i32,
}

/// The head of `union bpf_attr` for `BPF_PROG_LOAD`, up to `prog_flags` (the kernel reads
/// the rest as zero).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// The `test` member of `union bpf_attr` for `BPF_PROG_TEST_RUN`, up to `ctx_out`.
#[repr(C)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
}

const BPF_PROG_LOAD: c_int = 5;
const BPF_PROG_TEST_RUN: c_int = 10;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
/// `TUNSETSTEERINGEBPF`: `_IOR('T', 224, int)`.
const TUNSETSTEERINGEBPF: c_ulong = 0x8004_54e0;

/// Loads `insns` as a socket-filter eBPF program (the type a TUN device's steering program
/// has), GPL-licensed (the licence only matters for helpers; these programs call none).
/// On a verifier rejection the error carries the verifier's log.
pub(super) fn bpf_load_socket_filter(insns: &[BpfInsn]) -> io::Result<OwnedFd> {
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: BPF_PROG_LOAD reads `size_of::<ProgLoadAttr>()` bytes at `&attr` (the kernel
    // takes a shorter attribute as zero-extended), then `insn_cnt` instructions at `insns`,
    // the NUL-terminated licence, and writes at most `log_size` bytes at `log_buf`: all three
    // buffers live until the call returns and have the sizes given. It returns a new
    // descriptor, which is then owned here, or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as u32,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        return Err(if text.trim().is_empty() {
            err
        } else {
            io::Error::new(err.kind(), format!("{err}; verifier: {}", text.trim()))
        });
    }
    // SAFETY: a descriptor the kernel just returned and nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Runs the loaded program `prog` once on `frame` (an Ethernet frame: the kernel builds a
/// socket buffer of it and hands the program what follows the Ethernet header) and returns
/// the program's return value (`BPF_PROG_TEST_RUN`).
pub(super) fn bpf_test_run(prog: &OwnedFd, frame: &[u8]) -> io::Result<u32> {
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        retval: 0,
        data_size_in: u32::try_from(frame.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        data_size_out: 0,
        data_in: frame.as_ptr() as u64,
        data_out: 0,
        repeat: 1,
        duration: 0,
        ctx_size_in: 0,
        ctx_size_out: 0,
        ctx_in: 0,
        ctx_out: 0,
    };
    // SAFETY: BPF_PROG_TEST_RUN reads and writes `size_of::<TestRunAttr>()` bytes at `&mut
    // attr` and reads `data_size_in` bytes at `data_in` (`frame`, borrowed for the call);
    // with `data_out` null it writes no packet back.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestRunAttr,
            std::mem::size_of::<TestRunAttr>() as u32,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(attr.retval) }
}

/// Makes `prog` the queue-steering program of the multi-queue TUN interface `dev` is
/// attached to (`TUNSETSTEERINGEBPF`): the kernel hands each packet it sends into the device
/// to queue `prog(packet) % queues`. The interface keeps its own reference to the program.
pub(super) fn tun_set_steering_ebpf(dev: &File, prog: &OwnedFd) -> io::Result<()> {
    let fd: c_int = prog.as_raw_fd();
    // SAFETY: TUNSETSTEERINGEBPF reads one `int` (a program descriptor, or -1 to detach)
    // through its third argument; `fd` is one, borrowed for the whole call.
    let rc =
        unsafe { libc::ioctl(dev.as_raw_fd(), request(TUNSETSTEERINGEBPF), &fd as *const c_int) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
