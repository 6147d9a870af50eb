//! Checks: what a scenario asserts about its run, each with the expected behaviour (from
//! the RFC or Linux) and what was seen.

use core::fmt::{self, Debug};

/// One assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What must happen, in words.
    pub claim: String,
    /// Whether it did.
    pub ok: bool,
    /// What was expected and what was seen.
    pub detail: String,
}

/// Every assertion of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// In the order they were made.
    pub items: Vec<Check>,
}

impl Checks {
    /// Records `claim` as holding when `ok`, with `detail` (what was seen).
    pub fn that(&mut self, claim: impl Into<String>, ok: bool, detail: impl fmt::Display) -> bool {
        self.items.push(Check { claim: claim.into(), ok, detail: detail.to_string() });
        ok
    }

    /// Records `claim` as holding when `seen == expected`.
    pub fn equal<T: PartialEq + Debug>(
        &mut self,
        claim: impl Into<String>,
        expected: T,
        seen: T,
    ) -> bool {
        let ok = seen == expected;
        let detail =
            if ok { format!("{seen:?}") } else { format!("expected {expected:?}, seen {seen:?}") };
        self.that(claim, ok, detail)
    }

    /// Whether every check held (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.items.is_empty() && self.items.iter().all(|c| c.ok)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> + '_ {
        self.items.iter().filter(|c| !c.ok)
    }

    /// The reason of the first failure, in one line.
    pub fn reason(&self) -> Option<String> {
        if self.items.is_empty() {
            return Some("the scenario checked nothing".to_string());
        }
        self.failures().next().map(|c| format!("{}: {}", c.claim, c.detail))
    }
}

/// Seconds as a short decimal, for details.
pub fn s(t: ustack_core::Instant) -> String {
    let n = t.as_nanos();
    let text = format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_string() + " s"
}

/// Times as short decimals, for comparing lists of times.
pub fn times(list: &[ustack_core::Instant]) -> Vec<String> {
    list.iter().map(|t| s(*t)).collect()
}
