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
//! IPv4 only for now: `AF_INET6` sockets fail with `EAFNOSUPPORT`. Addresses are handled as
//! `SocketAddr`-shaped values internally so IPv6 can come later.

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

use ustack_core::{InterfaceConfig, Ipv4Cidr, Route, Stack, StackConfig};

mod epoll;
mod errno;
pub mod ffi;
mod host;
pub mod packetdrill;
mod settings;
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

/// A stack with Linux's defaults (a random secret) and one interface `addr` with a default
/// route through it.
fn stack_on(addr: Ipv4Cidr, secret: [u8; 16]) -> Result<Stack, libc::c_int> {
    let mut stack = Stack::new(StackConfig::new(secret)).map_err(|_| libc::EINVAL)?;
    let iface = stack.add_interface(InterfaceConfig::ipv4(addr, 1500));
    let default = Ipv4Cidr::new(core::net::Ipv4Addr::UNSPECIFIED, 0).expect("/0 is valid");
    stack.add_route(Route { dest: default.into(), iface });
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

fn parse_cidr(s: *const c_char) -> Result<Ipv4Cidr, libc::c_int> {
    if s.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller passes a NUL-terminated string (checked for null).
    let text = unsafe { CStr::from_ptr(s) }.to_str().map_err(|_| libc::EINVAL)?;
    text.parse().map_err(|_| libc::EINVAL)
}

/// Makes two stacks joined by an in-memory link (every packet one sends, the other
/// receives at once), with addresses `addr_a` and `addr_b` in CIDR notation (e.g.
/// `"10.0.0.1/24"`), Linux's default settings, and a driver thread that runs their timers on
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
        let (ca, cb) = (parse_cidr(addr_a)?, parse_cidr(addr_b)?);
        let hosts = vec![
            Host::new(stack_on(ca, random_secret())?, Settings::defaults(), false),
            Host::new(stack_on(cb, random_secret())?, Settings::defaults(), false),
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
