//! A small encoding of the controllers' optional values, so that a connection's controller
//! takes little room (a host may hold a million; docs/performance.md, idle connections). Each
//! decodes to exactly the value it was given, so the arithmetic done on the decoded values is
//! the same as on the plain types. (Durations: `crate::time::Nanos`.)

use core::fmt;

/// An `Option<f64>` in 8 bytes instead of 16: NaN stands for `None`. The values the
/// controllers keep here are windows in bytes and times in seconds, all finite, so no
/// `Some` is lost to the encoding (a NaN given to [`MaybeF64::some`] would read back as
/// `None`; debug builds catch it).
#[derive(Clone, Copy)]
pub(crate) struct MaybeF64(f64);

impl MaybeF64 {
    /// `None`.
    pub(crate) const NONE: MaybeF64 = MaybeF64(f64::NAN);

    /// `Some(value)`; `value` is not NaN.
    pub(crate) fn some(value: f64) -> Self {
        debug_assert!(!value.is_nan(), "NaN stands for None");
        MaybeF64(value)
    }

    /// The value, bit for bit as it was stored, or `None`.
    pub(crate) fn get(self) -> Option<f64> {
        if self.0.is_nan() { None } else { Some(self.0) }
    }
}

impl From<Option<f64>> for MaybeF64 {
    fn from(value: Option<f64>) -> Self {
        value.map_or(MaybeF64::NONE, MaybeF64::some)
    }
}

/// Compares the decoded values (two `None`s are equal, unlike two NaNs).
impl PartialEq for MaybeF64 {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for MaybeF64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_float_reads_back_bit_for_bit_in_8_bytes() {
        assert_eq!(core::mem::size_of::<MaybeF64>(), 8);
        for v in [0.0, -0.0, 1.5, f64::MIN_POSITIVE, f64::MAX, f64::INFINITY, -f64::INFINITY] {
            let back = MaybeF64::some(v).get().expect("a value is not None");
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
            assert_eq!(MaybeF64::from(Some(v)), MaybeF64::some(v));
        }
        assert_eq!(MaybeF64::NONE.get(), None);
        assert_eq!(MaybeF64::from(None), MaybeF64::NONE, "None equals None");
        assert_ne!(MaybeF64::NONE, MaybeF64::some(0.0));
        assert_eq!(format!("{:?}", MaybeF64::some(2.5)), "Some(2.5)");
    }
}
