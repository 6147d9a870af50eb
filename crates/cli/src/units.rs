//! Human units for rates and sizes.

/// `929.3 Mbit/s`.
pub(crate) fn rate(bits_per_sec: f64) -> String {
    let (v, unit) = if bits_per_sec >= 1e9 {
        (bits_per_sec / 1e9, "Gbit/s")
    } else if bits_per_sec >= 1e6 {
        (bits_per_sec / 1e6, "Mbit/s")
    } else if bits_per_sec >= 1e3 {
        (bits_per_sec / 1e3, "kbit/s")
    } else {
        (bits_per_sec, "bit/s")
    };
    format!("{v:.1} {unit}")
}
