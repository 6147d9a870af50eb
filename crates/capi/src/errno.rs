//! `errno`: every failing call returns -1 and sets the calling thread's `errno` (the C
//! library's, so a C caller reads it as after any system call).

/// An errno value (`libc::E*`).
pub(crate) type Errno = libc::c_int;

/// Sets the calling thread's `errno`.
pub(crate) fn set(e: Errno) {
    // SAFETY: `__errno_location` returns the address of the calling thread's `errno`, valid
    // for the thread's lifetime.
    unsafe { *libc::__errno_location() = e };
}

/// The calling thread's `errno`.
pub(crate) fn get() -> Errno {
    // SAFETY: as in `set`.
    unsafe { *libc::__errno_location() }
}

/// The C convention for a call's result: the value, or -1 with `errno` set.
pub(crate) fn ret<T: From<i8>>(r: Result<T, Errno>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            set(e);
            T::from(-1)
        }
    }
}
