//! What every workload of `ustack bench` shares: medians and ranges over rounds, ratios
//! between ustack and a peer, numbers printed to about three significant digits, the progress
//! line on standard error, and the reading of the process's resident memory.

use std::io::{IsTerminal, Write};
use std::time::Instant as StdInstant;

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
/// NaNs (runs that measured nothing) are left out.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Median, smallest and largest of the rounds of one measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Summary {
    /// The summary of `values`, NaNs left out; all NaN when none is a number.
    pub(crate) fn of(values: &[f64]) -> Summary {
        let nums = values.iter().copied().filter(|x| !x.is_nan());
        let min = nums.clone().fold(f64::INFINITY, f64::min);
        let max = nums.fold(f64::NEG_INFINITY, f64::max);
        if min > max {
            return Summary { median: f64::NAN, min: f64::NAN, max: f64::NAN };
        }
        Summary { median: median(values), min, max }
    }
}

/// Which way a measurement improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// A rate: Gbit/s, GB/s, packets per second.
    Higher,
    /// A cost: time per operation, bytes per connection.
    Lower,
}

impl Better {
    /// How many times better `ustack` is than `peer`: above 1, ustack is ahead. For a rate
    /// that is ustack / peer, for a cost peer / ustack.
    pub(crate) fn ratio(self, ustack: f64, peer: f64) -> f64 {
        match self {
            Better::Higher => ustack / peer,
            Better::Lower => peer / ustack,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// `x` with about three significant digits, thousands grouped: `1,234,567`, `12,345`, `123`,
/// `12.3`, `1.23`, `0.123`, `0.0123`; `-` for NaN.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        return "-".to_string();
    }
    let a = x.abs();
    if a >= 999.5 {
        let digits = format!("{:.0}", a);
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        return if x < 0.0 { format!("-{grouped}") } else { grouped };
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else if a >= 0.1 {
        3
    } else if a == 0.0 {
        0
    } else {
        (2.0 - a.log10().floor()) as usize
    };
    format!("{x:.decimals$}")
}

/// The process's resident memory, bytes, from `/proc/self/statm` (resident pages x page size).
pub(crate) fn rss_bytes() -> Result<u64, String> {
    let statm = std::fs::read_to_string("/proc/self/statm")
        .map_err(|e| format!("reading /proc/self/statm: {e}"))?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("/proc/self/statm: no resident pages in {statm:?}"))?;
    Ok(pages * page_size())
}

/// The page size: 4 KiB unless `/proc/self/smaps` says otherwise.
fn page_size() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb * 1024)
}

/// The progress line on standard error: one line rewritten in place (`\r`) on a terminal,
/// one plain line per step otherwise (a log, CI).
pub(crate) struct Progress {
    tty: bool,
    start: StdInstant,
    width: usize,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress { tty: std::io::stderr().is_terminal(), start: StdInstant::now(), width: 0 }
    }

    /// Shows `text` with the time since the start.
    pub(crate) fn show(&mut self, text: &str) {
        let secs = self.start.elapsed().as_secs();
        let line = format!("[{}:{:02}] {text}", secs / 60, secs % 60);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let pad = self.width.saturating_sub(line.chars().count());
            let _ = write!(err, "\r{line}{:pad$}", "");
            self.width = line.chars().count();
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Clears the line on a terminal.
    pub(crate) fn finish(&mut self) {
        if self.tty && self.width > 0 {
            let _ = write!(std::io::stderr(), "\r{:w$}\r", "", w = self.width);
            self.width = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 4.0]), 4.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn summaries_give_the_range_of_the_rounds() {
        let s = Summary::of(&[3.0, 1.0, f64::NAN, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert!(Summary::of(&[f64::NAN]).median.is_nan());
    }

    #[test]
    fn a_ratio_above_one_means_ustack_is_ahead_whichever_way_the_unit_goes() {
        // 6.2 µs against 2.3 µs per connection cycle: smoltcp is 2.7 times faster.
        assert!((Better::Lower.ratio(6.2, 2.3) - 0.371).abs() < 1e-3);
        assert_eq!(Better::Higher.ratio(4.0, 2.0), 2.0);
    }

    #[test]
    fn numbers_keep_about_three_significant_digits() {
        assert_eq!(num(1_234_567.0), "1,234,567");
        assert_eq!(num(999.6), "1,000");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(num(0.01234), "0.0123");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "-");
    }

    #[test]
    fn the_resident_memory_grows_by_what_is_touched() {
        let before = rss_bytes().expect("statm");
        let v = vec![1u8; 64 << 20];
        let after = rss_bytes().expect("statm");
        assert!(after >= before + (60 << 20), "{before} -> {after}");
        drop(v);
    }
}
