//! packetdrill's shared-object interface (`packetdrill --so_filename=libustack_capi.so`):
//! [`packetdrill_interface_init`] fills packetdrill's `struct packetdrill_interface` (our own
//! `repr(C)` definition of the layout of its `packetdrill.h`) with the socket calls of
//! `ffi.rs` and four calls that make ustack the machine under test:
//!
//! - `netdev_send`: a packet from the script enters the stack.
//! - `netdev_receive`: the next packet the stack sent, with the virtual time it left at. When
//!   none is waiting, the clock jumps to the next timer deadline and the timer fires, until a
//!   packet comes out; with no timer left it answers with an empty packet (packetdrill then
//!   fails the script: "packet of 0 bytes"), where Linux would have kept silent until
//!   packetdrill's own timeout.
//! - `usleep`: moves the virtual clock, firing every timer on the way at its exact time.
//! - `gettimeofday`: reads the virtual clock. A read on packetdrill's main thread moves it by
//!   one microsecond: packetdrill sleeps until just before an event and then spins on the
//!   clock, which must therefore advance.
//!
//! packetdrill runs blocking calls on a second thread. A call that must wait sleeps until
//! virtual time or an injected packet lets it finish; whoever moved the clock or injected
//! the packet waits until the sleeping call has looked at the result, and the clock holds
//! still until the second thread has read the time its call returned at (packetdrill reads it
//! right after the call). So a blocking call returns at the virtual instant that released it.
//!
//! The host pretends to own packetdrill's tun device: 192.168.0.1/16 with a default route,
//! and any address packetdrill uses for it (its `--local_ip`, random in 192.168.0.0/16 by
//! default) becomes one of the host's addresses when a script binds to it or sends to it.
//! Settings come from the sysctls of the network namespace (`/proc/sys`), re-read at every
//! `socket()`; see `settings.rs`.
//!
//! `--so_flags` takes space- or comma-separated words: `sysctl=DIR` reads the sysctls under
//! `DIR` instead of `/proc/sys` (`sysctl=none`: ustack's defaults), `log` prints the sysctls
//! that could not be applied to standard error at every `socket()`, `mtu=N` gives the
//! interface MTU N instead of 1500 (packetdrill's IPv6 runs use `--mtu=1520`, so that the
//! scripts' MSS of 1460 holds over IPv6's 40-byte header).

use core::ffi::{c_char, c_int, c_void};
use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use libc::{iovec, msghdr, nfds_t, pollfd, sockaddr, socklen_t, ssize_t, timeval};
use ustack_core::{Duration, Instant, IpCidr};

use crate::ffi::*;
use crate::host::{Fd, Host};
use crate::settings::Settings;
use crate::world::{Clock, VirtualClock, World};
use crate::{Shared, Ustack, errno};

/// packetdrill's `struct packetdrill_interface` (`packetdrill.h` at packetdrill commit
/// 2c4001c4): the handle and 32 function pointers, in this order. `fcntl` and `ioctl` are
/// variadic in C; ours take their third argument as a plain parameter, which the x86-64 and
/// AArch64 Linux calling conventions pass in the same register either way.
#[repr(C)]
pub struct PacketdrillInterface {
    /// The handle every call gets first.
    pub userdata: *mut c_void,
    /// Frees the handle at the end of the script.
    pub free: Option<extern "C" fn(*mut c_void)>,
    /// `socket`.
    pub socket: Option<extern "C" fn(*mut Ustack, c_int, c_int, c_int) -> c_int>,
    /// `bind`.
    pub bind: Option<extern "C" fn(*mut Ustack, c_int, *const sockaddr, socklen_t) -> c_int>,
    /// `listen`.
    pub listen: Option<extern "C" fn(*mut Ustack, c_int, c_int) -> c_int>,
    /// `accept`.
    pub accept: Option<extern "C" fn(*mut Ustack, c_int, *mut sockaddr, *mut socklen_t) -> c_int>,
    /// `connect`.
    pub connect: Option<extern "C" fn(*mut Ustack, c_int, *const sockaddr, socklen_t) -> c_int>,
    /// `read`.
    pub read: Option<extern "C" fn(*mut Ustack, c_int, *mut c_void, usize) -> ssize_t>,
    /// `readv`.
    pub readv: Option<extern "C" fn(*mut Ustack, c_int, *const iovec, c_int) -> ssize_t>,
    /// `recv`.
    pub recv: Option<extern "C" fn(*mut Ustack, c_int, *mut c_void, usize, c_int) -> ssize_t>,
    /// `recvfrom`.
    pub recvfrom: Option<
        extern "C" fn(
            *mut Ustack,
            c_int,
            *mut c_void,
            usize,
            c_int,
            *mut sockaddr,
            *mut socklen_t,
        ) -> ssize_t,
    >,
    /// `recvmsg`.
    pub recvmsg: Option<extern "C" fn(*mut Ustack, c_int, *mut msghdr, c_int) -> ssize_t>,
    /// `write`.
    pub write: Option<extern "C" fn(*mut Ustack, c_int, *const c_void, usize) -> ssize_t>,
    /// `writev`.
    pub writev: Option<extern "C" fn(*mut Ustack, c_int, *const iovec, c_int) -> ssize_t>,
    /// `send`.
    pub send: Option<extern "C" fn(*mut Ustack, c_int, *const c_void, usize, c_int) -> ssize_t>,
    /// `sendto`.
    pub sendto: Option<
        extern "C" fn(
            *mut Ustack,
            c_int,
            *const c_void,
            usize,
            c_int,
            *const sockaddr,
            socklen_t,
        ) -> ssize_t,
    >,
    /// `sendmsg`.
    pub sendmsg: Option<extern "C" fn(*mut Ustack, c_int, *const msghdr, c_int) -> ssize_t>,
    /// `fcntl`.
    pub fcntl: Option<extern "C" fn(*mut Ustack, c_int, c_int, libc::c_long) -> c_int>,
    /// `ioctl`.
    pub ioctl: Option<extern "C" fn(*mut Ustack, c_int, libc::c_ulong, *mut c_void) -> c_int>,
    /// `close`.
    pub close: Option<extern "C" fn(*mut Ustack, c_int) -> c_int>,
    /// `shutdown`.
    pub shutdown: Option<extern "C" fn(*mut Ustack, c_int, c_int) -> c_int>,
    /// `getsockopt`.
    pub getsockopt: Option<
        extern "C" fn(*mut Ustack, c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int,
    >,
    /// `setsockopt`.
    pub setsockopt:
        Option<extern "C" fn(*mut Ustack, c_int, c_int, c_int, *const c_void, socklen_t) -> c_int>,
    /// `poll`.
    pub poll: Option<extern "C" fn(*mut Ustack, *mut pollfd, nfds_t, c_int) -> c_int>,
    /// A packet from the script into the stack.
    pub netdev_send: Option<extern "C" fn(*mut Ustack, *const c_void, usize) -> c_int>,
    /// The next packet out of the stack, with its time.
    pub netdev_receive:
        Option<extern "C" fn(*mut Ustack, *mut c_void, *mut usize, *mut i64) -> c_int>,
    /// Sleep in virtual time.
    pub usleep: Option<extern "C" fn(*mut Ustack, libc::useconds_t) -> c_int>,
    /// The virtual clock.
    pub gettimeofday: Option<extern "C" fn(*mut Ustack, *mut timeval, *mut c_void) -> c_int>,
    /// `epoll_create`.
    pub epoll_create: Option<extern "C" fn(*mut Ustack, c_int) -> c_int>,
    /// `epoll_ctl`.
    pub epoll_ctl:
        Option<extern "C" fn(*mut Ustack, c_int, c_int, c_int, *mut libc::epoll_event) -> c_int>,
    /// `epoll_wait`.
    pub epoll_wait:
        Option<extern "C" fn(*mut Ustack, c_int, *mut libc::epoll_event, c_int, c_int) -> c_int>,
    /// `pipe`.
    pub pipe: Option<extern "C" fn(*mut Ustack, *mut c_int) -> c_int>,
    /// `splice`.
    pub splice: Option<
        extern "C" fn(
            *mut Ustack,
            c_int,
            *mut libc::loff_t,
            c_int,
            *mut libc::loff_t,
            usize,
            libc::c_uint,
        ) -> ssize_t,
    >,
}

/// The virtual clock's reading at time zero: gettimeofday's seconds and microseconds are
/// this plus the virtual time (a fixed value, so runs are identical).
const EPOCH_USECS: i64 = 1_600_000_000 * 1_000_000;

/// netdev_receive gives up looking for a packet after the clock has moved this far without
/// one (a keepalive at two hours is the longest timer a script could wait for).
const RECEIVE_HORIZON: Duration = Duration::from_secs(3 * 3600);

/// The instance whose descriptors packetdrill's `%{ }%` blocks read (see
/// [`ustack_packetdrill_getsockopt`]).
static CURRENT: AtomicPtr<Ustack> = AtomicPtr::new(core::ptr::null_mut());

/// Fills packetdrill's interface with a fresh stack in virtual time. `flags` is packetdrill's
/// `--so_flags` (may be null); see the module documentation.
///
/// # Safety
///
/// `ifc` must point at a writable `struct packetdrill_interface`; `flags` is null or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packetdrill_interface_init(
    flags: *const c_char,
    ifc: *mut PacketdrillInterface,
) {
    let flags = if flags.is_null() {
        String::new()
    } else {
        // SAFETY: non-null NUL-terminated string (the caller's contract).
        unsafe { CStr::from_ptr(flags) }.to_string_lossy().into_owned()
    };
    let mut root = Some(PathBuf::from("/proc/sys"));
    let mut log = false;
    let mut mtu: u16 = 1500;
    for word in flags.split([' ', ',']).filter(|w| !w.is_empty()) {
        match word.split_once('=') {
            Some(("sysctl", "none")) => root = None,
            Some(("sysctl", dir)) => root = Some(PathBuf::from(dir)),
            Some(("mtu", n)) if n.parse::<u16>().is_ok_and(|n| n >= 68) => {
                mtu = n.parse().expect("checked");
            }
            None if word == "log" => log = true,
            _ => eprintln_flag(word),
        }
    }
    let settings = match root {
        Some(r) => Settings::from_sysctls(r),
        None => Settings::defaults(),
    };
    // A fixed secret: the same script gives the same ISNs and ports every run.
    let addrs: [IpCidr; 2] = [
        "192.168.0.1/16".parse().expect("valid CIDR"),
        "fd3d:fa7b:d17d::1/48".parse().expect("valid CIDR"),
    ];
    let stack =
        crate::stack_on(&addrs, mtu, *b"ustack-packetdri").expect("Linux defaults validate");
    let mut host = Host::new(stack, settings, true);
    host.log_settings = log;
    let clock = Clock::Virtual(VirtualClock {
        now: Instant::ZERO,
        main: std::thread::current().id(),
        read_owed: false,
        returned_on: None,
    });
    let world = Arc::new(World::new(vec![host], clock));
    let shared = Arc::new(Shared { world, driver: Mutex::new(None) });
    let u = Box::into_raw(Box::new(Ustack { shared, host: 0 }));
    CURRENT.store(u, Ordering::SeqCst);
    register_getsockopt_hook();
    let i = PacketdrillInterface {
        userdata: u.cast(),
        free: Some(pd_free),
        socket: Some(ustack_socket),
        bind: Some(ustack_bind),
        listen: Some(ustack_listen),
        accept: Some(ustack_accept),
        connect: Some(ustack_connect),
        read: Some(ustack_read),
        readv: Some(ustack_readv),
        recv: Some(ustack_recv),
        recvfrom: Some(ustack_recvfrom),
        recvmsg: Some(ustack_recvmsg),
        write: Some(ustack_write),
        writev: Some(ustack_writev),
        send: Some(ustack_send),
        sendto: Some(ustack_sendto),
        sendmsg: Some(ustack_sendmsg),
        fcntl: Some(ustack_fcntl),
        ioctl: Some(ustack_ioctl),
        close: Some(ustack_close),
        shutdown: Some(ustack_shutdown),
        getsockopt: Some(ustack_getsockopt),
        setsockopt: Some(ustack_setsockopt),
        poll: Some(ustack_poll),
        netdev_send: Some(pd_netdev_send),
        netdev_receive: Some(pd_netdev_receive),
        usleep: Some(pd_usleep),
        gettimeofday: Some(pd_gettimeofday),
        epoll_create: Some(ustack_epoll_create),
        epoll_ctl: Some(ustack_epoll_ctl),
        epoll_wait: Some(ustack_epoll_wait),
        pipe: Some(pd_pipe),
        splice: Some(pd_splice),
    };
    // SAFETY: `ifc` points at packetdrill's writable interface structure.
    unsafe { ifc.write(i) };
}

#[allow(clippy::print_stderr)]
fn eprintln_flag(word: &str) {
    eprintln!("libustack_capi: ignoring unknown --so_flags word {word:?}");
}

extern "C" fn pd_free(userdata: *mut c_void) {
    let u = userdata.cast::<Ustack>();
    let _ = CURRENT.compare_exchange(u, core::ptr::null_mut(), Ordering::SeqCst, Ordering::SeqCst);
    if !u.is_null() {
        // SAFETY: the pointer `packetdrill_interface_init` made with `Box::into_raw`;
        // packetdrill frees it once, at the end.
        drop(unsafe { Box::from_raw(u) });
    }
}

extern "C" fn pd_netdev_send(st: *mut Ustack, buf: *const c_void, count: usize) -> c_int {
    let r = (|| {
        let u = handle_of(st)?;
        if buf.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: packetdrill passes `count` readable bytes.
        let packet = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        let (w, mut g) = lock(u);
        // The destination of an IPv4 packet (bytes 16..20) or an IPv6 packet (bytes 24..40)
        // is an address of ours.
        if packet.len() >= 20 && packet[0] >> 4 == 4 {
            let dst = core::net::Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            g.hosts[u.host].learn(dst.into());
        } else if packet.len() >= 40 && packet[0] >> 4 == 6 {
            let mut dst = [0u8; 16];
            dst.copy_from_slice(&packet[24..40]);
            g.hosts[u.host].learn(core::net::Ipv6Addr::from(dst).into());
        }
        let now = g.now();
        g.hosts[u.host].stack.handle_packet(now, 0, packet);
        drop(w.changed(g));
        Ok(0)
    })();
    errno::ret(r)
}

extern "C" fn pd_netdev_receive(
    st: *mut Ustack,
    buf: *mut c_void,
    count: *mut usize,
    time_usecs: *mut i64,
) -> c_int {
    let r = (|| {
        let u = handle_of(st)?;
        if buf.is_null() || count.is_null() || time_usecs.is_null() {
            return Err(libc::EFAULT);
        }
        let (w, mut g) = lock(u);
        let start = g.now();
        loop {
            if let Some((at, packet)) = g.hosts[u.host].egress.pop_front() {
                // SAFETY: packetdrill passes a buffer of `*count` bytes and the two outputs.
                unsafe {
                    let n = packet.len().min(*count);
                    core::ptr::copy_nonoverlapping(packet.as_ptr(), buf.cast::<u8>(), n);
                    *count = n;
                    *time_usecs = EPOCH_USECS + (at.as_nanos() / 1000) as i64;
                }
                return Ok(0);
            }
            let (g2, more) = w.advance_to_next(g);
            g = g2;
            if !more || g.now().saturating_duration_since(start) > RECEIVE_HORIZON {
                // Nothing will ever come out: an empty packet.
                // SAFETY: as above.
                unsafe {
                    *count = 0;
                    *time_usecs = EPOCH_USECS + (g.now().as_nanos() / 1000) as i64;
                }
                return Ok(0);
            }
        }
    })();
    errno::ret(r)
}

extern "C" fn pd_usleep(st: *mut Ustack, usec: libc::useconds_t) -> c_int {
    let r = (|| {
        let u = handle_of(st)?;
        let (w, g) = lock(u);
        let to = g.now() + Duration::from_micros(u64::from(usec));
        let mut g = w.advance_to(g, to);
        let returned = match &mut g.clock {
            Clock::Virtual(v) if std::thread::current().id() == v.main => v.returned_on.take(),
            _ => None,
        };
        drop(g);
        if let Some(tid) = returned {
            // packetdrill's system-call thread, after its call returned and it read the
            // clock, takes packetdrill's lock to record the result (the descriptor accept
            // returned, ...). The main thread released that lock to sleep: a real sleep would
            // have given the other thread its turn, so wait until it has taken it and gone
            // back to waiting for its next call.
            await_sleeping(tid);
        }
        Ok(0)
    })();
    errno::ret(r)
}

/// Waits (on the wall clock, at most 200 ms) until thread `tid` of this process sleeps.
fn await_sleeping(tid: libc::pid_t) {
    let path = format!("/proc/self/task/{tid}/stat");
    let until = std::time::Instant::now() + std::time::Duration::from_millis(200);
    while std::time::Instant::now() < until {
        let Ok(stat) = std::fs::read_to_string(&path) else { return };
        // The state is the field after the parenthesized command name.
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        if state != Some('R') {
            return;
        }
        std::thread::yield_now();
    }
}

extern "C" fn pd_gettimeofday(st: *mut Ustack, tv: *mut timeval, _tz: *mut c_void) -> c_int {
    let r = (|| {
        let u = handle_of(st)?;
        if tv.is_null() {
            return Err(libc::EFAULT);
        }
        let (w, g) = lock(u);
        let (_g, now) = w.read_clock(g);
        let us = EPOCH_USECS + (now.as_nanos() / 1000) as i64;
        // SAFETY: non-null pointer to packetdrill's timeval.
        unsafe {
            (*tv).tv_sec = us / 1_000_000;
            (*tv).tv_usec = us % 1_000_000;
        }
        Ok(0)
    })();
    errno::ret(r)
}

/// ustack has no pipes.
extern "C" fn pd_pipe(_st: *mut Ustack, _fds: *mut c_int) -> c_int {
    errno::ret(Err(libc::ENOSYS))
}

/// ustack has no splice.
extern "C" fn pd_splice(
    _st: *mut Ustack,
    _in: c_int,
    _off_in: *mut libc::loff_t,
    _out: c_int,
    _off_out: *mut libc::loff_t,
    _len: usize,
    _flags: libc::c_uint,
) -> ssize_t {
    errno::ret(Err(libc::ENOSYS))
}

fn handle_of<'a>(st: *mut Ustack) -> Result<&'a Ustack, crate::errno::Errno> {
    // SAFETY: packetdrill hands back the userdata `packetdrill_interface_init` gave it.
    unsafe { st.as_ref() }.ok_or(libc::EINVAL)
}

/// `getsockopt` for packetdrill's `%{ }%` blocks, which read `TCP_INFO` (and
/// `TCP_CC_INFO`, `SO_MEMINFO`) with the C library's `getsockopt` on the script's
/// descriptor instead of through the shared-object interface. A small preloaded library
/// (`crates/capi/preload/getsockopt_hook.c`, which the packetdrill runner builds and sets
/// in `LD_PRELOAD`) sends those calls here: a descriptor of the running script's stack is
/// answered by ustack (`*handled = 1`), anything else goes on to the C library.
///
/// # Safety
///
/// As `getsockopt(2)`; `handled` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ustack_packetdrill_getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
    handled: *mut c_int,
) -> c_int {
    let u = CURRENT.load(Ordering::SeqCst);
    // SAFETY: `CURRENT` holds a live instance (cleared before it is freed) or null.
    let Some(inst) = (unsafe { u.as_ref() }) else { return 0 };
    let ours = {
        let (_, g) = lock(inst);
        matches!(g.hosts[inst.host].fds.get(&fd), Some(Fd::Sock(_)))
    };
    if !ours || handled.is_null() {
        return 0;
    }
    // SAFETY: non-null, the caller's flag.
    unsafe { *handled = 1 };
    ustack_getsockopt(u, fd, level, name, val, len)
}

/// `close` for the descriptors a script leaves open: packetdrill closes them with the C
/// library's `close` when the script ends, which the preloaded library
/// (`crates/capi/preload/getsockopt_hook.c`) sends here for a descriptor the process does
/// not have open: one of the running script's stack is closed by ustack (`*handled = 1`).
///
/// # Safety
///
/// `handled` must be writable or null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ustack_packetdrill_close(fd: c_int, handled: *mut c_int) -> c_int {
    let u = CURRENT.load(Ordering::SeqCst);
    // SAFETY: `CURRENT` holds a live instance (cleared before it is freed) or null.
    let Some(inst) = (unsafe { u.as_ref() }) else { return 0 };
    let ours = {
        let (_, g) = lock(inst);
        g.hosts[inst.host].fds.contains_key(&fd)
    };
    if !ours || handled.is_null() {
        return 0;
    }
    // SAFETY: non-null, the caller's flag.
    unsafe { *handled = 1 };
    ustack_close(u, fd)
}

/// Registers [`ustack_packetdrill_getsockopt`] and [`ustack_packetdrill_close`] with the
/// preloaded hook library, when it is there (looked up in the process's global scope).
fn register_getsockopt_hook() {
    type CloseHook = unsafe extern "C" fn(c_int, *mut c_int) -> c_int;
    // SAFETY: dlsym with a NUL-terminated name; a null result means the library is absent.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"ustack_preload_set_close_hook".as_ptr()) };
    if !sym.is_null() {
        // SAFETY: the preload library defines this symbol as `void f(hook)`.
        let set: extern "C" fn(CloseHook) =
            unsafe { core::mem::transmute::<*mut c_void, extern "C" fn(CloseHook)>(sym) };
        set(ustack_packetdrill_close);
    }
    type Hook =
        unsafe extern "C" fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t, *mut c_int) -> c_int;
    // SAFETY: dlsym with a NUL-terminated name; a null result means the library is absent.
    let sym =
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"ustack_preload_set_getsockopt_hook".as_ptr()) };
    if sym.is_null() {
        return;
    }
    // SAFETY: the preload library defines this symbol as `void f(hook)`.
    let set: extern "C" fn(Hook) =
        unsafe { core::mem::transmute::<*mut c_void, extern "C" fn(Hook)>(sym) };
    set(ustack_packetdrill_getsockopt);
}
