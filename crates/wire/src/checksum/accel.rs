//! The checksum loops compiled for wider vectors than the baseline target, chosen once at run
//! time by what the CPU supports, and the cache prefetch hint: the only unsafe code in this
//! crate.
//!
//! The loops themselves are the portable ones of the parent module ([`super::sum_native`],
//! [`super::copy_sum_native`]), inlined into functions built with AVX2 or AVX-512BW enabled,
//! so LLVM vectorizes the same code with 256- or 512-bit registers; no intrinsic computes a
//! sum here. What is unsafe is calling a function built for features the CPU may lack, and
//! reading the CPU's feature registers. Each call is guarded by [`level`], which reports a
//! feature only when CPUID says the CPU has it *and* XGETBV says the operating system saves
//! the registers it uses (the check `std::is_x86_feature_detected!` makes, written out
//! because this crate is `no_std`).
//!
//! [`prefetch`] issues PREFETCHT0, an SSE instruction (part of every x86-64 CPU), which
//! Rust's intrinsic marks unsafe only for its target feature.
//!
//! Elsewhere than on x86-64 [`level`] is always [`Level::Portable`] and [`prefetch`] does
//! nothing.

#![allow(unsafe_code)]

use core::sync::atomic::{AtomicU8, Ordering};

/// The widest checksum loop this CPU can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The baseline target's (SSE2 on x86-64).
    Portable,
    /// 256-bit AVX2.
    Avx2,
    /// 512-bit AVX-512 (F and BW).
    Avx512,
}

impl Level {
    /// The name docs/performance.md and `ustack bench` print.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    fn from_u8(v: u8) -> Option<Level> {
        match v {
            1 => Some(Level::Portable),
            2 => Some(Level::Avx2),
            3 => Some(Level::Avx512),
            _ => None,
        }
    }

    const fn to_u8(self) -> u8 {
        match self {
            Level::Portable => 1,
            Level::Avx2 => 2,
            Level::Avx512 => 3,
        }
    }
}

/// What [`detect`] found; 0 until the first call.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The widest loop the CPU runs, detected on the first call and remembered.
#[inline]
pub(super) fn level() -> Level {
    if let Some(l) = Level::from_u8(LEVEL.load(Ordering::Relaxed)) {
        return l;
    }
    let l = detect();
    LEVEL.store(l.to_u8(), Ordering::Relaxed);
    l
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // CPUID leaf 1, ECX: bit 27 OSXSAVE (the OS enabled XGETBV), bit 28 AVX.
    // CPUID leaf 7 subleaf 0, EBX: bit 5 AVX2, bit 16 AVX512F, bit 30 AVX512BW.
    // XCR0: bits 1-2 SSE and AVX state, bits 5-7 opmask and the upper ZMM state.
    #[allow(unused_unsafe)]
    // SAFETY: CPUID exists on every x86-64 CPU; leaf 0 gives the highest leaf there is.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    if max_leaf < 7 {
        return Level::Portable;
    }
    #[allow(unused_unsafe)]
    // SAFETY: leaf 1 is at most `max_leaf`.
    let l1 = unsafe { __cpuid(1) };
    if l1.ecx & (1 << 27) == 0 || l1.ecx & (1 << 28) == 0 {
        return Level::Portable;
    }
    // SAFETY: OSXSAVE is set, so XGETBV is enabled and register 0 (XCR0) exists.
    let xcr0 = unsafe { xgetbv0() };
    if xcr0 & 0b110 != 0b110 {
        return Level::Portable;
    }
    #[allow(unused_unsafe)]
    // SAFETY: leaf 7 is at most `max_leaf`.
    let l7 = unsafe { __cpuid_count(7, 0) };
    let avx512 = l7.ebx & (1 << 16) != 0 && l7.ebx & (1 << 30) != 0;
    if avx512 && xcr0 & 0b1110_0000 == 0b1110_0000 {
        Level::Avx512
    } else if l7.ebx & (1 << 5) != 0 {
        Level::Avx2
    } else {
        Level::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Portable
}

/// XCR0, the register that says which register states the OS saves on a context switch.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "xsave")]
unsafe fn xgetbv0() -> u64 {
    // SAFETY: the caller checked OSXSAVE, which makes XGETBV legal.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// Below this many bytes (a header, an ACK, a small datagram) the portable loop runs inline:
/// a call into a wider loop, its setup and its reduction cost more than they save there.
const WIDE_FROM: usize = 128;

/// [`super::sum_native`] with the widest vectors [`level`] allows.
#[inline]
pub(super) fn sum(bytes: &[u8]) -> u64 {
    if bytes.len() < WIDE_FROM {
        return super::sum_native(bytes);
    }
    sum_at(level(), bytes)
}

/// [`super::sum_native`] built for `l`, which must not be above [`level`] (the portable
/// loop otherwise).
#[inline]
pub(super) fn sum_at(l: Level, bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if l <= level() {
        match l {
            // SAFETY: `level` found AVX-512F and AVX-512BW, and the OS saves their state.
            Level::Avx512 => return unsafe { x86::sum_avx512(bytes) },
            // SAFETY: `level` found AVX2, and the OS saves its state.
            Level::Avx2 => return unsafe { x86::sum_avx2(bytes) },
            Level::Portable => {}
        }
    }
    let _ = l;
    super::sum_native(bytes)
}

/// [`super::copy_sum_native`] with the widest vectors [`level`] allows.
#[inline]
pub(super) fn copy_sum(dst: &mut [u8], src: &[u8]) -> u64 {
    if src.len() < WIDE_FROM {
        return super::copy_sum_native(dst, src);
    }
    copy_sum_at(level(), dst, src)
}

/// [`super::copy_sum_native`] built for `l`, which must not be above [`level`] (the portable
/// loop otherwise).
#[inline]
pub(super) fn copy_sum_at(l: Level, dst: &mut [u8], src: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if l <= level() {
        match l {
            // SAFETY: as in `sum_at`.
            Level::Avx512 => return unsafe { x86::copy_sum_avx512(dst, src) },
            // SAFETY: as in `sum_at`.
            Level::Avx2 => return unsafe { x86::copy_sum_avx2(dst, src) },
            Level::Portable => {}
        }
    }
    let _ = l;
    super::copy_sum_native(dst, src)
}

/// Asks the CPU to bring every cache line of `bytes` into the cache (see
/// [`super::prefetch`]).
#[inline]
pub(super) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // One address per 64 bytes, and the last byte: a slice that does not start on a line
        // boundary ends in the line after its last 64-byte step. A plain loop: an iterator
        // chain cost twice the instructions per line here.
        let line = |at: usize| {
            // SAFETY: PREFETCHT0 is SSE, which every x86-64 CPU has (the baseline target
            // enables it); it is a hint that neither reads memory the program can observe nor
            // faults, and the address lies inside a live slice besides.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().wrapping_add(at).cast()) };
        };
        let mut at = 0;
        while at < bytes.len() {
            line(at);
            at += 64;
        }
        if !bytes.is_empty() {
            line(bytes.len() - 1);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx2")]
    pub(super) fn sum_avx2(bytes: &[u8]) -> u64 {
        super::super::sum_native(bytes)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn sum_avx512(bytes: &[u8]) -> u64 {
        super::super::sum_native(bytes)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn copy_sum_avx2(dst: &mut [u8], src: &[u8]) -> u64 {
        super::super::copy_sum_native(dst, src)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn copy_sum_avx512(dst: &mut [u8], src: &[u8]) -> u64 {
        super::super::copy_sum_native(dst, src)
    }
}
