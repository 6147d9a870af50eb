//! ustack-capi: ustack behind a POSIX-shaped C API, built as the shared library
//! `libustack_capi.so` with the header `include/ustack.h` (docs/c-api.md).
//!
//! Every call takes a stack handle (`ustack_t *`) first and otherwise the arguments of the
//! socket call it is named after (`ustack_socket`, `ustack_connect`, `ustack_read`, ...),
//! returns what that call returns, and sets `errno` to the value Linux sets in the same case.
//! Descriptors are small integers of the stack's own table, not kernel descriptors.
//!
//! Two ways to get a stack:
//!
//! - [`ustack_pair_new`]: two stacks joined by an in-memory link, running on the wall clock
//!   with a driver thread of their own: a C program runs a client on one and a server on the
//!   other (the test in `tests/c_api.rs` does).
//! - `packetdrill_interface_init`: the shared-object interface of Google's packetdrill
//!   (`packetdrill --so_filename=libustack_capi.so`), one stack in virtual time that the test
//!   tool feeds packets and moves the clock of (`packetdrill.rs`).
//!
//! Sockets of both families: `AF_INET` and `AF_INET6` (dual stack unless `IPV6_V6ONLY`: an
//! IPv4 peer of an `AF_INET6` socket appears as `::ffff:a.b.c.d`), with the address checks
//! and errno values of Linux (`sockaddr.rs`).

// The C API dereferences the caller's pointers: every unsafe block says what it relies on.
#![allow(unsafe_code)]
// The `extern "C"` functions take C's pointers: their contract is the C caller's (a valid
// pointer or null, which is checked), as with any system call; Rust code does not call them.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![warn(missing_docs)]

use core::ffi::c_char;
use std::ffi::CStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use ustack_core::{InterfaceConfig, IpCidr, Route, Stack, StackConfig};

mod epoll;
mod errno;
pub mod ffi;
mod host;
pub mod packetdrill;
mod settings;
mod sockaddr;
mod sockopt;
mod tcp_info;
mod world;

use host::Host;
use settings::Settings;
use world::{Clock, World};

/// A handle on one stack of a world (`ustack_t` in C).
pub struct Ustack {
    shared: Arc<Shared>,
    host: usize,
}

/// What the handles of one world share; the last one dropped stops the driver.
struct Shared {
    world: Arc<World>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.world.stop();
        if let Some(d) = self.driver.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = d.join();
        }
    }
}

impl Ustack {
    pub(crate) fn world(&self) -> &World {
        &self.shared.world
    }
}

/// A stack with Linux's defaults (`secret` for its ISNs and cookies) and one interface with
/// `addrs` (at most one IPv4 address, any number of IPv6 ones) and MTU `mtu`, and a default
/// route of each family it has an address of.
fn stack_on(addrs: &[IpCidr], mtu: u16, secret: [u8; 16]) -> Result<Stack, libc::c_int> {
    let mut stack = Stack::new(StackConfig::new(secret)).map_err(|_| libc::EINVAL)?;
    let mut cfg = InterfaceConfig { ipv4: None, ipv6: Vec::new(), mtu };
    for a in addrs {
        match *a {
            IpCidr::V4(_) if cfg.ipv4.is_some() => return Err(libc::EINVAL),
            IpCidr::V4(c) => cfg.ipv4 = Some(c),
            IpCidr::V6(c) => cfg.ipv6.push(c),
        }
    }
    if addrs.is_empty() {
        return Err(libc::EINVAL);
    }
    let (v4, v6) = (cfg.ipv4.is_some(), !cfg.ipv6.is_empty());
    let iface = stack.add_interface(cfg);
    if v4 {
        let dest = IpCidr::V4("0.0.0.0/0".parse().expect("/0 is valid"));
        stack.add_route(Route { dest, iface });
    }
    if v6 {
        let dest = IpCidr::V6("::/0".parse().expect("/0 is valid"));
        stack.add_route(Route { dest, iface });
    }
    Ok(stack)
}

fn random_secret() -> [u8; 16] {
    use std::io::Read;
    let mut key = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        key.copy_from_slice(&(t ^ (u128::from(std::process::id()) << 64)).to_le_bytes());
    }
    key
}

/// A comma-separated list of addresses in CIDR notation.
fn parse_cidrs(s: *const c_char) -> Result<Vec<IpCidr>, libc::c_int> {
    if s.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller passes a NUL-terminated string (checked for null).
    let text = unsafe { CStr::from_ptr(s) }.to_str().map_err(|_| libc::EINVAL)?;
    text.split(',').map(|c| c.trim().parse().map_err(|_| libc::EINVAL)).collect()
}

/// Makes two stacks joined by an in-memory link (every packet one sends, the other
/// receives at once), with addresses `addr_a` and `addr_b` in CIDR notation (e.g.
/// `"10.0.0.1/24"`; an IPv4 and IPv6 addresses separated by commas for a dual-stack host,
/// e.g. `"10.0.0.1/24,fd00::1/64"`), Linux's default settings, and a driver thread that runs their timers on
/// the wall clock. On success stores the handles in `*a` and `*b` and returns 0; on failure
/// returns -1 with `errno` set (`EINVAL`: a bad address or null pointer). Free each handle
/// with [`ustack_free`]; the driver stops with the last.
#[unsafe(no_mangle)]
pub extern "C" fn ustack_pair_new(
    addr_a: *const c_char,
    addr_b: *const c_char,
    a: *mut *mut Ustack,
    b: *mut *mut Ustack,
) -> libc::c_int {
    let r = (|| {
        if a.is_null() || b.is_null() {
            return Err(libc::EINVAL);
        }
        let (ca, cb) = (parse_cidrs(addr_a)?, parse_cidrs(addr_b)?);
        let hosts = vec![
            Host::new(stack_on(&ca, 1500, random_secret())?, Settings::defaults(), false),
            Host::new(stack_on(&cb, 1500, random_secret())?, Settings::defaults(), false),
        ];
        let world = Arc::new(World::new(hosts, Clock::Real { epoch: std::time::Instant::now() }));
        let w = Arc::clone(&world);
        let driver = std::thread::Builder::new()
            .name("ustack-driver".into())
            .spawn(move || w.drive())
            .map_err(|_| libc::EAGAIN)?;
        let shared = Arc::new(Shared { world, driver: Mutex::new(Some(driver)) });
        let ha = Box::new(Ustack { shared: Arc::clone(&shared), host: 0 });
        let hb = Box::new(Ustack { shared, host: 1 });
        // SAFETY: both output pointers are non-null (checked above) and point at the caller's
        // `ustack_t *` variables.
        unsafe {
            *a = Box::into_raw(ha);
            *b = Box::into_raw(hb);
        }
        Ok(0)
    })();
    errno::ret(r)
}

/// Frees a handle from [`ustack_pair_new`]. Its descriptors are closed as by `close`
/// (connections finish in the background while the other handle of the pair lives).
#[unsafe(no_mangle)]
pub extern "C" fn ustack_free(st: *mut Ustack) {
    if st.is_null() {
        return;
    }
    // SAFETY: `st` came from `Box::into_raw` in this crate and is freed once (the caller's
    // contract, as with free(3)).
    let u = unsafe { Box::from_raw(st) };
    let w = u.world();
    let mut g = w.lock();
    let now = g.now();
    let host = &mut g.hosts[u.host];
    let fds: Vec<libc::c_int> = host.fds.keys().copied().collect();
    for fd in fds {
        let _ = host.close(now, fd);
    }
    drop(w.changed(g));
}
