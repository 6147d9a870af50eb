//! TCP sequence numbers with serial number arithmetic (RFC 1982, RFC 9293 §3.4).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A 32-bit TCP sequence number. Arithmetic wraps modulo 2^32 and comparisons follow serial
/// number arithmetic: `a < b` when `b - a`, taken modulo 2^32, lies in `1..2^31`.
///
/// Two numbers exactly 2^31 apart are unordered (RFC 1982 §3.2 leaves them undefined), so
/// `partial_cmp` returns `None` and every comparison operator returns `false` for them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Wraps a raw value.
    pub const fn new(value: u32) -> Self {
        SeqNum(value)
    }

    /// The raw value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The signed distance `self - other`, valid while the two are less than 2^31 apart.
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The larger of the two in sequence space.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.diff(other) >= 0 { self } else { other }
    }

    /// The smaller of the two in sequence space.
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.diff(other) <= 0 { self } else { other }
    }

    /// `start <= self < start + len` in sequence space: the test RFC 9293 §3.10.7.4 applies to
    /// segment edges against the receive window. Always false when `len` is zero.
    pub const fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        match self.0.wrapping_sub(other.0) {
            0 => Some(Ordering::Equal),
            0x8000_0000 => None,
            d if d < 0x8000_0000 => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNum {
    type Output = SeqNum;
    /// Adds a length; lengths are taken modulo 2^32, as sequence space is.
    fn add(self, rhs: usize) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl AddAssign<usize> for SeqNum {
    fn add_assign(&mut self, rhs: usize) {
        self.0 = self.0.wrapping_add(rhs as u32);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl SubAssign<u32> for SeqNum {
    fn sub_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_sub(rhs);
    }
}

impl Sub<SeqNum> for SeqNum {
    type Output = i32;
    /// The signed distance, as [`SeqNum::diff`].
    fn sub(self, rhs: SeqNum) -> i32 {
        self.diff(rhs)
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for SeqNum {
    fn from(value: u32) -> Self {
        SeqNum(value)
    }
}

impl From<SeqNum> for u32 {
    fn from(value: SeqNum) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordering_across_wrap() {
        let a = SeqNum(u32::MAX - 5);
        let b = a + 10u32;
        assert_eq!(b.get(), 4);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 10);
        assert_eq!(a - b, -10);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }

    #[test]
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn half_space_apart_is_unordered() {
        let a = SeqNum(7);
        let b = a + 0x8000_0000u32;
        assert_eq!(a.partial_cmp(&b), None);
        assert!(!(a < b) && !(a > b) && !(a <= b) && !(a >= b));
    }

    #[test]
    fn in_window_edges() {
        let start = SeqNum(u32::MAX - 1);
        assert!(start.in_window(start, 4));
        assert!((start + 3u32).in_window(start, 4));
        assert!(!(start + 4u32).in_window(start, 4));
        assert!(!(start - 1u32).in_window(start, 4));
        assert!(!start.in_window(start, 0));
    }

    proptest! {
        #[test]
        fn add_then_diff_is_identity(x: u32, n in 0u32..0x8000_0000) {
            let a = SeqNum(x);
            prop_assert_eq!((a + n).diff(a), n as i32);
            prop_assert!(a + n >= a);
            prop_assert_eq!(a + n - n, a);
        }

        #[test]
        fn ordering_is_antisymmetric(x: u32, y: u32) {
            let (a, b) = (SeqNum(x), SeqNum(y));
            match a.partial_cmp(&b) {
                Some(o) => prop_assert_eq!(b.partial_cmp(&a), Some(o.reverse())),
                None => prop_assert_eq!(b.partial_cmp(&a), None),
            }
        }
    }
}
