//! Linux TUN devices: the kernel routes a prefix into an interface and ustack reads and writes
//! the IP packets.
//!
//! [`Tun::create`] opens `/dev/net/tun` (non-blocking), creates the interface and configures
//! the kernel's side of it: the kernel's own address and prefix, the MTU, and up. With
//! `host_addr` 10.7.0.1/24 the kernel owns 10.7.0.1 and routes the rest of 10.7.0.0/24 into
//! the TUN, where a ustack stack can own, say, 10.7.0.2.
//!
//! The interface is always a new one, never persistent: dropping the `Tun` (its last queue)
//! removes it with its address and routes. An existing interface of the same name, a
//! persistent TUN included, is refused ([`TunError::NameBusy`]) before anything about it is
//! changed, so nothing is left configured that ustack did not create.
//!
//! # Offloads
//!
//! With [`TunConfig::offload`] the interface is opened with `IFF_VNET_HDR` and the kernel's
//! offloads on (`TUNSETOFFLOAD` with `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`): every read and
//! write carries a virtio-net header (`vnet.rs`) besides the packet, and a packet may be a
//! TCP "super packet" of up to 64 KiB, whatever the MTU, that the kernel's TCP built whole
//! (TSO: the segments it would have sent, laid end to end behind one set of headers) or that
//! the kernel cuts into segments itself ([`Device::send_with`] with a
//! [`Gso`]). The kernel may also leave a checksum to fill (Linux
//! `CHECKSUM_PARTIAL`: the packet comes from the host's own memory). One system call then
//! moves up to 64 KiB instead of one MTU-sized packet.
//!
//! [`Device::recv_with`] hands such a packet over as it is and says, for TCP, that its
//! checksum needs no check ([`RxMeta`]); [`Device::recv`] completes a checksum left to fill
//! in software, so a reader that knows nothing of offloads still gets packets whose checksums
//! verify (a TCP super packet still arrives whole). [`Device::send`] writes a packet with an
//! empty header: no offload, the kernel checks its checksums as without `IFF_VNET_HDR`.
//!
//! All the unsafe code of ustack is in this module's `sys` submodule.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use ustack_core::{Gso, Ipv4Cidr, Ipv6Cidr, Offloads, RxMeta};

use super::{Device, Readiness, RecvBufferTooSmall, packet_too_big};

mod steering;
#[allow(unsafe_code)]
mod sys;
mod vnet;

use vnet::VnetHdr;

const CLONE_DEVICE: &str = "/dev/net/tun";

/// The smallest MTU an IPv4 interface may have (RFC 791: every host takes 68-byte packets).
const MIN_MTU: usize = 68;
/// The largest MTU of a TUN interface (and the largest IPv4 packet).
const MAX_MTU: usize = 65_535;

/// What [`Tun::create`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    /// The interface name: up to 15 bytes, no `/`, `:` or whitespace. A `%d` in it lets the
    /// kernel pick a free number (`ustack%d` becomes `ustack0`, ...); [`Tun::name`] tells which.
    pub name: String,
    /// The interface MTU, 68 to 65,535: the largest IP packet either side sends.
    pub mtu: usize,
    /// The kernel side's address and prefix, e.g. 10.7.0.1/24: the kernel takes the address
    /// and routes the rest of the prefix into the TUN. `None` leaves the interface without an
    /// address (routes are then the caller's business).
    pub host_addr: Option<Ipv4Cidr>,
    /// Create the interface with `IFF_MULTI_QUEUE`, so that [`Tun::new_queue`] can open more
    /// queues and the kernel spreads flows across them.
    pub multi_queue: bool,
    /// Open the interface with the kernel's offloads (`IFF_VNET_HDR`, checksum offload, TSO
    /// for IPv4 and IPv6; the module docs say what changes): TCP moves up to 64 KiB per
    /// read or write instead of one MTU-sized packet.
    pub offload: bool,
}

impl TunConfig {
    /// A config for interface `name`: MTU 1500, no address, single queue, no offloads.
    pub fn new(name: impl Into<String>) -> Self {
        TunConfig {
            name: name.into(),
            mtu: 1500,
            host_addr: None,
            multi_queue: false,
            offload: false,
        }
    }
}

/// Why a TUN device could not be created or configured.
#[derive(Debug)]
#[non_exhaustive]
pub enum TunError {
    /// The process lacks root or `CAP_NET_ADMIN`.
    PermissionDenied,
    /// `/dev/net/tun` does not exist or its driver is not loaded.
    NoTunDevice,
    /// The interface name cannot be used.
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The MTU is outside 68 to 65,535.
    InvalidMtu {
        /// The MTU as given.
        mtu: usize,
    },
    /// An interface of that name exists: a TUN open elsewhere, a persistent TUN (`ip tuntap
    /// add`), or an interface of another kind. [`Tun::create`] makes a new interface and
    /// never takes over an existing one.
    NameBusy {
        /// The name.
        name: String,
    },
    /// Another system call failed.
    Io {
        /// What was being done, e.g. "setting the MTU of ustack0".
        context: String,
        /// The error of the system call.
        source: io::Error,
    },
}

impl fmt::Display for TunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunError::PermissionDenied => {
                f.write_str("creating a TUN device needs root or CAP_NET_ADMIN")
            }
            TunError::NoTunDevice => write!(
                f,
                "{CLONE_DEVICE} is missing or its driver is not loaded; load the tun module: \
                 modprobe tun"
            ),
            TunError::InvalidName { name, reason } => {
                write!(f, "invalid TUN interface name {name:?}: {reason}")
            }
            TunError::InvalidMtu { mtu } => {
                write!(f, "invalid TUN MTU {mtu}: must be from {MIN_MTU} to {MAX_MTU}")
            }
            TunError::NameBusy { name } => write!(
                f,
                "network interface {name:?} already exists (ustack creates its own TUN device \
                 and removes it when done, so it does not take over an existing one, a \
                 persistent TUN included): choose another name, or delete that interface \
                 (ip link delete {name})"
            ),
            TunError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for TunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TunError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl TunError {
    /// The [`io::ErrorKind`] this error maps to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            TunError::PermissionDenied => io::ErrorKind::PermissionDenied,
            TunError::NoTunDevice => io::ErrorKind::NotFound,
            TunError::InvalidName { .. } | TunError::InvalidMtu { .. } => {
                io::ErrorKind::InvalidInput
            }
            TunError::NameBusy { .. } => io::ErrorKind::ResourceBusy,
            TunError::Io { source, .. } => source.kind(),
        }
    }

    /// Classifies the error of a system call made while `context`.
    fn from_io(context: impl FnOnce() -> String, err: io::Error) -> TunError {
        if err.kind() == io::ErrorKind::PermissionDenied {
            TunError::PermissionDenied
        } else {
            TunError::Io { context: context(), source: err }
        }
    }
}

impl From<TunError> for io::Error {
    fn from(e: TunError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// One queue of a Linux TUN interface, as a [`Device`].
///
/// Non-blocking: `recv` returns `WouldBlock` when no packet waits and
/// [`readiness`](Device::readiness) is the descriptor to poll. Every packet the kernel routes
/// into the interface is returned, IPv6 included: the caller filters. `send` hands a packet
/// to the kernel as if it had arrived on the interface.
///
/// Dropping the last queue removes the interface (it is never persistent, see
/// [`Tun::create`]), and with it its address and routes.
pub struct Tun {
    file: File,
    name: String,
    mtu: usize,
    multi_queue: bool,
    /// Opened with `IFF_VNET_HDR` and the offloads on (module docs, "Offloads").
    offload: bool,
    /// The virtio-net header of the packet being read.
    rx_hdr: [u8; vnet::LEN],
    /// Catches the part of a packet longer than the caller's buffer, so that `recv` can say
    /// how long it was instead of handing out a truncated packet.
    overflow: Box<[u8]>,
}

impl Tun {
    /// Creates the interface, then sets its MTU, its address and netmask when `host_addr` is
    /// given, and brings it up. An interface of that name that exists already, a persistent
    /// TUN included, is refused with [`TunError::NameBusy`] and left as it was.
    ///
    /// The interface is created in the network namespace of the calling thread.
    pub fn create(config: &TunConfig) -> Result<Tun, TunError> {
        validate_name(&config.name)?;
        if !(MIN_MTU..=MAX_MTU).contains(&config.mtu) {
            return Err(TunError::InvalidMtu { mtu: config.mtu });
        }
        // A name without a `%d` template may name an interface that exists: refuse it before
        // TUNSETIFF, which would attach to a persistent TUN (or join a multi-queue one).
        let busy = || TunError::NameBusy { name: config.name.clone() };
        if !config.name.contains('%')
            && sys::inet_socket().is_ok_and(|sock| sys::interface_exists(&sock, &config.name))
        {
            return Err(busy());
        }
        let tun = Tun::attach(&config.name, config.mtu, config.multi_queue, config.offload)?;
        // A persistent TUN made between the check above and TUNSETIFF: we attached to it.
        // Detach (dropping the descriptor leaves a persistent interface as it was).
        let flags = sys::tun_flags(&tun.file).map_err(|e| {
            TunError::from_io(|| format!("reading the flags of {} (TUNGETIFF)", tun.name), e)
        })?;
        if flags & libc::IFF_PERSIST != 0 {
            return Err(busy());
        }
        tun.configure(config)?;
        Ok(tun)
    }

    /// Opens another queue of this interface. Only for interfaces created with
    /// [`TunConfig::multi_queue`]; the kernel spreads flows across the queues by hash, so
    /// each queue can feed its own stack on its own core.
    pub fn new_queue(&self) -> Result<Tun, TunError> {
        if !self.multi_queue {
            return Err(TunError::Io {
                context: format!("opening another queue of {}", self.name),
                source: io::Error::new(
                    io::ErrorKind::Unsupported,
                    "the interface was created without multi_queue",
                ),
            });
        }
        Tun::attach(&self.name, self.mtu, true, self.offload)
    }

    /// Makes the kernel steer the packets it sends into this multi-queue interface by
    /// [`ustack_core::steering`]'s rule, `program` built for the interface's number of
    /// queues: each connection and flow then reaches the queue whose stack
    /// ([`ustack_core::Stack::set_shard`]) holds it, those the stacks open included. Without
    /// it the kernel picks queues by its own flow hash, which only keeps a flow where its
    /// packets last came from. Needs `CAP_BPF` or `CAP_SYS_ADMIN` in the initial user
    /// namespace (loading the program) and an interface made with
    /// [`TunConfig::multi_queue`].
    pub fn set_steering(&self, program: &SteeringProgram) -> Result<(), TunError> {
        sys::tun_set_steering_ebpf(&self.file, &program.fd).map_err(|e| {
            TunError::from_io(
                || format!("setting the queue steering of {} (TUNSETSTEERINGEBPF)", self.name),
                e,
            )
        })
    }

    /// Whether the interface was opened with the kernel's offloads ([`TunConfig::offload`]).
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// The interface name the kernel gave.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Gives the kernel side IPv6 address `cidr` (e.g. 2001:db8::1/64), beside or instead of
    /// [`TunConfig::host_addr`]: IPv6 is switched on for the interface
    /// (`net.ipv6.conf.<dev>.disable_ipv6` 0), the address is added ready for use, with no
    /// duplicate address detection (a TUN device has no neighbours: Linux skips DAD on
    /// every `IFF_NOARP` interface, and `accept_dad` is set to 0 as well), and the kernel
    /// routes the rest of the prefix into the TUN. Needs an MTU of at least 1280 (RFC 8200
    /// §5; Linux turns IPv6 off on a smaller link).
    pub fn add_host_addr6(&self, cidr: Ipv6Cidr) -> Result<(), TunError> {
        configure_ipv6(&self.name, self.mtu, cidr)
    }

    fn attach(name: &str, mtu: usize, multi_queue: bool, offload: bool) -> Result<Tun, TunError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(CLONE_DEVICE)
            .map_err(|e| match (e.kind(), e.raw_os_error()) {
                (io::ErrorKind::NotFound, _) | (_, Some(libc::ENODEV | libc::ENXIO)) => {
                    TunError::NoTunDevice
                }
                _ => TunError::from_io(|| format!("opening {CLONE_DEVICE}"), e),
            })?;
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
        if multi_queue {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        if offload {
            flags |= libc::IFF_VNET_HDR;
        }
        let name = match sys::tun_set_iff(&file, name, flags) {
            Ok(given) => given,
            Err(e) => return Err(set_iff_error(name, e)),
        };
        if offload {
            sys::tun_set_vnet_hdr_size(&file, vnet::LEN as libc::c_int).map_err(|e| {
                TunError::from_io(|| format!("setting the virtio header size of {name}"), e)
            })?;
            let features = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
            sys::tun_set_offload(&file, features).map_err(|e| {
                TunError::from_io(
                    || format!("switching on the offloads of {name} (TUNSETOFFLOAD)"),
                    e,
                )
            })?;
        }
        Ok(Tun {
            file,
            name,
            mtu,
            multi_queue,
            offload,
            rx_hdr: [0; vnet::LEN],
            overflow: vec![0; MAX_MTU].into_boxed_slice(),
        })
    }

    fn configure(&self, config: &TunConfig) -> Result<(), TunError> {
        let name = self.name.as_str();
        let sock = sys::inet_socket()
            .map_err(|e| TunError::from_io(|| "opening a socket for ioctls".into(), e))?;
        sys::set_mtu(&sock, name, self.mtu as libc::c_int)
            .map_err(|e| TunError::from_io(|| format!("setting the MTU of {name}"), e))?;
        if let Some(cidr) = config.host_addr {
            sys::set_ipv4(&sock, name, sys::AddrKind::Local, cidr.addr()).map_err(|e| {
                TunError::from_io(|| format!("setting address {} on {name}", cidr.addr()), e)
            })?;
            sys::set_ipv4(&sock, name, sys::AddrKind::Netmask, cidr.netmask()).map_err(|e| {
                TunError::from_io(|| format!("setting netmask {} on {name}", cidr.netmask()), e)
            })?;
        }
        sys::set_up(&sock, name).map_err(|e| TunError::from_io(|| format!("bringing {name} up"), e))
    }
}

/// Switches IPv6 on for interface `name` and gives it `cidr` (see [`TunConfig::host_addr6`]).
fn configure_ipv6(name: &str, mtu: usize, cidr: Ipv6Cidr) -> Result<(), TunError> {
    if mtu < 1280 {
        return Err(TunError::Io {
            context: format!("setting address {cidr} on {name}"),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("IPv6 needs an MTU of at least 1280, not {mtu}"),
            ),
        });
    }
    let conf = format!("/proc/sys/net/ipv6/conf/{name}");
    for (knob, value) in [("disable_ipv6", "0"), ("accept_dad", "0")] {
        let path = format!("{conf}/{knob}");
        std::fs::write(&path, value)
            .map_err(|e| TunError::from_io(|| format!("writing {value} to {path}"), e))?;
    }
    let sock6 = sys::inet6_socket()
        .map_err(|e| TunError::from_io(|| "opening an IPv6 socket for ioctls".into(), e))?;
    let index = sys::interface_index(&sock6, name)
        .map_err(|e| TunError::from_io(|| format!("looking up the index of {name}"), e))?;
    sys::add_ipv6(&sock6, index, cidr.addr(), cidr.prefix_len())
        .map_err(|e| TunError::from_io(|| format!("setting address {cidr} on {name}"), e))?;
    wait_until_usable(name, cidr)
}

/// Waits (at most five seconds) until the kernel may use `cidr`'s address on `name`. Even
/// with no duplicate address detection to run, a new IPv6 address starts tentative and a
/// kernel work item clears the flag a moment later; until then a socket cannot send from
/// it (`connect` fails with EADDRNOTAVAIL), which a loaded machine makes long enough to hit.
fn wait_until_usable(name: &str, cidr: Ipv6Cidr) -> Result<(), TunError> {
    const IFA_F_TENTATIVE: u32 = 0x40;
    let hex: String = cidr.addr().octets().iter().map(|b| format!("{b:02x}")).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        // if_inet6: address, ifindex, prefix length, scope, flags, name (hex). The calling
        // thread's namespace's (/proc/net is the main thread's, which differs after
        // `enter_netns`).
        let table = std::fs::read_to_string("/proc/thread-self/net/if_inet6").unwrap_or_default();
        let flags = table.lines().find_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.len() == 6 && cols[0] == hex && cols[5] == name)
                .then(|| u32::from_str_radix(cols[4], 16).ok())
                .flatten()
        });
        if flags.is_some_and(|f| f & IFA_F_TENTATIVE == 0) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(TunError::Io {
                context: format!("setting address {cidr} on {name}"),
                source: io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the kernel still holds the address tentative after 5 s",
                ),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Linux's rules for interface names (`dev_valid_name`), checked here so the error can say
/// what is wrong; NUL and other control bytes are refused as well.
fn validate_name(name: &str) -> Result<(), TunError> {
    let invalid = |reason| Err(TunError::InvalidName { name: name.to_owned(), reason });
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() >= sys::IFNAMSIZ {
        return invalid("it is longer than 15 bytes (IFNAMSIZ)");
    }
    if name == "." || name == ".." {
        return invalid("\".\" and \"..\" are reserved");
    }
    if name.bytes().any(|b| b == b'/' || b == b':') {
        return invalid("it contains '/' or ':'");
    }
    if name.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return invalid("it contains whitespace or a control character");
    }
    Ok(())
}

/// ustack-core's queue-steering rule ([`ustack_core::steering::queue_for`]) as an eBPF
/// program loaded into the kernel, for [`Tun::set_steering`].
#[derive(Debug)]
pub struct SteeringProgram {
    fd: std::os::fd::OwnedFd,
    queues: u16,
}

impl SteeringProgram {
    /// Builds the program for an interface of `queues` queues (1 to 256) and loads it
    /// (`bpf(BPF_PROG_LOAD)`, a socket filter). Fails without the privilege to load eBPF
    /// programs (`PermissionDenied`: `CAP_BPF` or `CAP_SYS_ADMIN`, or
    /// `kernel.unprivileged_bpf_disabled` 0), or on a kernel without eBPF.
    pub fn load(queues: u16) -> io::Result<SteeringProgram> {
        if !(1..=256).contains(&queues) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{queues} queues: a TUN interface has 1 to 256"),
            ));
        }
        let fd = sys::bpf_load_socket_filter(&steering::program(queues)).map_err(|e| {
            io::Error::new(e.kind(), format!("loading the queue-steering eBPF program: {e}"))
        })?;
        Ok(SteeringProgram { fd, queues })
    }

    /// The number of queues the program steers over.
    pub fn queues(&self) -> u16 {
        self.queues
    }

    /// The queue the kernel's copy of the program picks for `packet` (an IP packet, as the
    /// kernel sends it into the interface), by running it once (`BPF_PROG_TEST_RUN`): what
    /// checks that it computes [`ustack_core::steering::queue_for`].
    pub fn run(&self, packet: &[u8]) -> io::Result<u16> {
        // The kernel runs a socket filter of a test on an Ethernet frame, past its header.
        let mut frame = vec![0u8; 14];
        frame[12..14].copy_from_slice(match packet.first().map(|b| b >> 4) {
            Some(6) => &[0x86, 0xdd],
            _ => &[0x08, 0x00],
        });
        frame.extend_from_slice(packet);
        let queue = sys::bpf_test_run(&self.fd, &frame)?;
        u16::try_from(queue).map_err(|_| io::Error::other(format!("the program returned {queue}")))
    }
}

/// Classifies a TUNSETIFF failure.
fn set_iff_error(name: &str, err: io::Error) -> TunError {
    let busy = || TunError::NameBusy { name: name.to_owned() };
    match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => TunError::PermissionDenied,
        Some(libc::EBUSY) => busy(),
        // EINVAL also means "an interface of that name exists but is not a TUN with these
        // flags": look whether one exists to tell which.
        Some(libc::EINVAL)
            if sys::inet_socket().is_ok_and(|sock| sys::interface_exists(&sock, name)) =>
        {
            busy()
        }
        _ => TunError::Io {
            context: format!("creating TUN interface {name:?} (TUNSETIFF)"),
            source: err,
        },
    }
}

impl Device for Tun {
    fn mtu(&self) -> usize {
        self.mtu
    }

    /// Reads one packet. A packet longer than `buf` is consumed and reported as
    /// [`RecvBufferTooSmall`] with its full length. With offloads a TCP packet may be up to
    /// 64 KiB, and a checksum the kernel left to fill is filled here (module docs).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_packet(buf)?;
        if self.offload {
            let hdr = VnetHdr::decode(&self.rx_hdr);
            if hdr.flags & vnet::F_NEEDS_CSUM != 0 {
                vnet::complete_checksum(&mut buf[..n], hdr.csum_start, hdr.csum_offset);
            }
        }
        Ok(n)
    }

    /// Writes one packet. The kernel takes it whole or not at all.
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.send_with(packet, None)
    }

    /// With offloads: TSO up to 65,535 bytes (module docs).
    fn offloads(&self) -> Offloads {
        if self.offload { Offloads { tso_max: MAX_MTU as u16 } } else { Offloads::default() }
    }

    /// [`recv`](Device::recv), but a TCP checksum the kernel left to fill or verified itself
    /// is left as it is and [`RxMeta::checksum_verified`] says so.
    fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, RxMeta)> {
        let n = self.read_packet(buf)?;
        let mut meta = RxMeta::default();
        if self.offload {
            let hdr = VnetHdr::decode(&self.rx_hdr);
            let vouched = hdr.flags & (vnet::F_NEEDS_CSUM | vnet::F_DATA_VALID) != 0;
            if vouched && vnet::is_tcp(&buf[..n]) {
                meta.checksum_verified = true;
            } else if hdr.flags & vnet::F_NEEDS_CSUM != 0 {
                vnet::complete_checksum(&mut buf[..n], hdr.csum_start, hdr.csum_offset);
            }
        }
        Ok((n, meta))
    }

    /// Writes one packet; with a [`Gso`] (offloads only) a TCP packet of up to 65,535 bytes
    /// that the kernel cuts into segments and whose checksums it fills.
    fn send_with(&mut self, packet: &[u8], gso: Option<Gso>) -> io::Result<()> {
        let limit = if gso.is_some() { MAX_MTU } else { self.mtu };
        if packet.len() > limit {
            return Err(packet_too_big(packet.len(), limit));
        }
        let n = if self.offload {
            let hdr = gso.map_or_else(VnetHdr::default, |g| VnetHdr::for_gso(packet, g));
            let hdr = hdr.encode();
            let n = self.file.write_vectored(&[IoSlice::new(&hdr), IoSlice::new(packet)])?;
            n.saturating_sub(vnet::LEN)
        } else if gso.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("TUN {} was opened without offloads: it cannot cut packets", self.name),
            ));
        } else {
            self.file.write(packet)?
        };
        if n != packet.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("TUN {} took {n} of {} bytes", self.name, packet.len()),
            ));
        }
        Ok(())
    }

    /// [`Readiness::Fd`]: the TUN descriptor, readable when a packet waits.
    fn readiness(&self) -> Readiness {
        Readiness::Fd(self.file.as_raw_fd())
    }
}

impl Tun {
    /// Reads one packet into `buf` (and with offloads its virtio-net header into
    /// `rx_hdr`); a longer one is consumed and reported as [`RecvBufferTooSmall`].
    fn read_packet(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let buf_len = buf.len();
        let n = if self.offload {
            let mut iov = [
                IoSliceMut::new(&mut self.rx_hdr),
                IoSliceMut::new(buf),
                IoSliceMut::new(&mut self.overflow),
            ];
            self.file.read_vectored(&mut iov)?.saturating_sub(vnet::LEN)
        } else {
            let mut iov = [IoSliceMut::new(buf), IoSliceMut::new(&mut self.overflow)];
            self.file.read_vectored(&mut iov)?
        };
        if n > buf_len {
            return Err(RecvBufferTooSmall { packet_len: n, buf_len }.into());
        }
        Ok(n)
    }
}

impl fmt::Debug for Tun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("fd", &self.file.as_raw_fd())
            .field("mtu", &self.mtu)
            .field("multi_queue", &self.multi_queue)
            .field("offload", &self.offload)
            .finish_non_exhaustive()
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Moves the calling thread, and only it, into the network namespace at `path`
/// (`/run/netns/NAME` as made by `ip netns add NAME`, or `/proc/PID/ns/net`).
///
/// Network namespaces are per thread: sockets and TUN devices the thread creates afterwards
/// live in that namespace, and so do threads it spawns afterwards. Meant for tests and tools
/// that run a TUN inside a namespace; use a dedicated thread, since there is no way back
/// except entering the original namespace the same way. Needs `CAP_SYS_ADMIN`.
pub fn enter_netns(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let ns = File::open(path).map_err(|e| {
        io::Error::new(e.kind(), format!("opening network namespace {}: {e}", path.display()))
    })?;
    sys::setns_net(&ns).map_err(|e| {
        io::Error::new(e.kind(), format!("entering network namespace {}: {e}", path.display()))
    })
}

/// Waits up to `timeout` for `fd` to poll readable.
pub(super) fn poll_readable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    sys::poll_readable(fd, timeout)
}

/// Waits up to `timeout` for either descriptor to poll readable; returns which are.
pub(crate) fn poll_readable2(fds: [RawFd; 2], timeout: Duration) -> io::Result<[bool; 2]> {
    sys::poll_readable2(fds, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_reason(name: &str) -> &'static str {
        match Tun::create(&TunConfig::new(name)) {
            Err(TunError::InvalidName { name: got, reason }) => {
                assert_eq!(got, name);
                reason
            }
            other => panic!("{name:?}: expected InvalidName, got {other:?}"),
        }
    }

    #[test]
    fn invalid_names_are_refused_before_any_system_call() {
        assert_eq!(invalid_reason(""), "it is empty");
        assert!(invalid_reason("0123456789abcdef").contains("IFNAMSIZ"));
        assert!(invalid_reason("..").contains("reserved"));
        assert!(invalid_reason("a/b").contains('/'));
        assert!(invalid_reason("eth0:1").contains(':'));
        assert!(invalid_reason("a b").contains("whitespace"));
        assert!(invalid_reason("a\0b").contains("control"));
        assert!(validate_name("0123456789abcde").is_ok(), "15 bytes fit");
        assert!(validate_name("ustack%d").is_ok(), "kernel templates pass through");
    }

    #[test]
    fn invalid_mtu_is_refused() {
        for mtu in [0, 67, 65_536] {
            let config = TunConfig { mtu, ..TunConfig::new("ustack%d") };
            match Tun::create(&config) {
                Err(TunError::InvalidMtu { mtu: got }) => assert_eq!(got, mtu),
                other => panic!("mtu {mtu}: expected InvalidMtu, got {other:?}"),
            }
        }
    }

    #[test]
    fn errors_map_to_io_kinds_with_clear_messages() {
        let cases = [
            (TunError::PermissionDenied, io::ErrorKind::PermissionDenied, "root or CAP_NET_ADMIN"),
            (TunError::NoTunDevice, io::ErrorKind::NotFound, "modprobe tun"),
            (
                TunError::InvalidName { name: "x y".into(), reason: "r" },
                io::ErrorKind::InvalidInput,
                "invalid TUN interface name \"x y\": r",
            ),
            (
                TunError::NameBusy { name: "lo".into() },
                io::ErrorKind::ResourceBusy,
                "\"lo\" already exists",
            ),
            (
                TunError::Io {
                    context: "bringing t0 up".into(),
                    source: io::ErrorKind::Other.into(),
                },
                io::ErrorKind::Other,
                "bringing t0 up: ",
            ),
        ];
        for (err, kind, text) in cases {
            let msg = err.to_string();
            assert!(msg.contains(text), "{msg:?} lacks {text:?}");
            let io_err = io::Error::from(err);
            assert_eq!(io_err.kind(), kind);
            assert!(io_err.to_string().contains(text));
        }
    }
}
