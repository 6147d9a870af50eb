//! The scenarios: one per behaviour of the notes (SPEC S1 to S26), each with what it shows
//! in the project's own words, where the notes are wrong or loose, and either the function
//! that runs it or why it cannot run yet.
//!
//! A scenario that waits for a feature of the stack is listed with [`Status::NotYet`] and
//! the reason; filling it in is one line here (its status becomes [`Status::Ready`] with its
//! function) and its module: the framework does not change.

use crate::check::Checks;
use crate::trace::Trace;

/// What a scenario's run produced.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Everything that happened.
    pub trace: Trace,
    /// What was asserted about it.
    pub checks: Checks,
    /// Extra views, titled (an `ss` listing, a decoded header), shown in the report.
    pub extras: Vec<(String, String)>,
    /// Draw the congestion plots (cwnd, ssthresh, flight, RTO, time-sequence).
    pub plots: bool,
    /// The ladder leaves out notes of these kinds (e.g. `"cwnd"`, `"rtt"` in long transfers).
    pub quiet: Vec<&'static str>,
    /// The ladder starts at this time (a transfer's interesting moment).
    pub ladder_from: Option<ustack_core::Instant>,
    /// The ladder stops at this time (long transfers: the pcap and the plots have the rest).
    pub ladder_until: Option<ustack_core::Instant>,
    /// Draw every stretch of time in proportion, however long (for backoffs, whose
    /// doubling is the point); otherwise long idle stretches are shortened.
    pub no_breaks: bool,
    /// Measured in real time, not replayable from the seed.
    pub real_time: bool,
    /// Further figures, each written as `ID-NAME.svg` and shown in the report: (NAME, SVG).
    pub figures: Vec<(String, String)>,
}

/// Whether a scenario can run.
#[derive(Debug, Clone, Copy)]
pub enum Status {
    /// It runs: the function takes the seed.
    Ready(fn(u64) -> Run),
    /// It waits for the stack: why.
    NotYet(&'static str),
}

/// One scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its ID, which names its files: `s5-lost-syn`.
    pub id: &'static str,
    /// The behaviour of SPEC it shows: `S5`.
    pub spec: &'static str,
    /// A title.
    pub title: &'static str,
    /// What it shows and what must happen, in a few sentences.
    pub shows: &'static str,
    /// Where the notes are wrong or loose about it, if they are.
    pub notes: Option<&'static str>,
    /// Whether it runs.
    pub status: Status,
}

/// The seed every scenario runs with unless told otherwise.
pub const DEFAULT_SEED: u64 = 1;

/// Every scenario, in the order of SPEC.
pub fn all() -> &'static [Scenario] {
    crate::scenarios::ALL
}

/// The scenario `id`.
pub fn find(id: &str) -> Option<&'static Scenario> {
    all().iter().find(|s| s.id == id)
}
