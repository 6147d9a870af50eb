//! Scripted impairments: what a scenario does to the packets a host sends, chosen by what
//! they are ("the first SYN-ACK", "every pure ACK before the first data", "the third data
//! segment") rather than by chance, so that each behaviour shows up exactly where the notes
//! describe it.
//!
//! A [`Rule`] is a matcher, an [`Action`] and which of the matching packets it takes. Every
//! rule counts every packet the stack sends, whatever the others do with it ("the 4th data
//! segment" is the 4th the stack sent); when several take a packet, the first one added
//! decides its fate.

use core::fmt;

use ustack_core::{Duration, Instant};

use crate::segment::{Segment, TcpSummary};

/// What happens to a packet a rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Lost: it never reaches the other host.
    Drop,
    /// One bit of its last byte flipped: the receiver's checksum fails.
    Corrupt,
    /// Held back this long before it enters the link (it arrives after later packets).
    Delay(Duration),
    /// Sent twice, the copy `Duration` later.
    Duplicate(Duration),
}

/// A scenario's own test of a segment, given the time it is sent.
pub type Predicate = Box<dyn Fn(&TcpSummary, Instant) -> bool>;

/// Which packets a rule looks at.
pub enum Match {
    /// SYN without ACK.
    Syn,
    /// SYN with ACK.
    SynAck,
    /// An ACK without payload, SYN, FIN or RST.
    PureAck,
    /// A segment with payload.
    Data,
    /// A segment with FIN.
    Fin,
    /// Any TCP segment.
    AnyTcp,
    /// Any packet.
    Any,
    /// A test of the scenario's own.
    Custom(Predicate),
}

impl fmt::Debug for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Match::Syn => "Syn",
            Match::SynAck => "SynAck",
            Match::PureAck => "PureAck",
            Match::Data => "Data",
            Match::Fin => "Fin",
            Match::AnyTcp => "AnyTcp",
            Match::Any => "Any",
            Match::Custom(_) => "Custom",
        })
    }
}

impl Match {
    fn test(&self, seg: Option<&Segment>, now: Instant) -> bool {
        let tcp = seg.and_then(Segment::tcp);
        match self {
            Match::Any => true,
            Match::AnyTcp => tcp.is_some(),
            Match::Syn => tcp.is_some_and(TcpSummary::is_syn),
            Match::SynAck => tcp.is_some_and(TcpSummary::is_syn_ack),
            Match::PureAck => tcp.is_some_and(TcpSummary::is_pure_ack),
            Match::Data => tcp.is_some_and(TcpSummary::has_data),
            Match::Fin => tcp.is_some_and(TcpSummary::is_fin),
            Match::Custom(f) => tcp.is_some_and(|t| f(t, now)),
        }
    }
}

/// One scripted impairment.
#[derive(Debug)]
pub struct Rule {
    matcher: Match,
    action: Action,
    /// Matching packets let through before the rule starts taking them.
    skip: u32,
    /// How many it takes; `None`: every one after the skipped ones.
    take: Option<u32>,
    seen: u32,
    taken: u32,
    /// What the trace says about a packet this rule took.
    why: String,
}

impl Rule {
    /// Takes every packet `matcher` accepts.
    pub fn every(matcher: Match, action: Action, why: impl Into<String>) -> Rule {
        Rule { matcher, action, skip: 0, take: None, seen: 0, taken: 0, why: why.into() }
    }

    /// Takes the `n`th packet `matcher` accepts (from 1), only.
    pub fn nth(matcher: Match, n: u32, action: Action, why: impl Into<String>) -> Rule {
        assert!(n >= 1, "packets are counted from 1");
        Rule { matcher, action, skip: n - 1, take: Some(1), seen: 0, taken: 0, why: why.into() }
    }

    /// Takes `count` packets `matcher` accepts, after letting `skip` through.
    pub fn range(
        matcher: Match,
        skip: u32,
        count: u32,
        action: Action,
        why: impl Into<String>,
    ) -> Rule {
        Rule { matcher, action, skip, take: Some(count), seen: 0, taken: 0, why: why.into() }
    }

    /// How many packets the rule took so far.
    pub fn taken(&self) -> u32 {
        self.taken
    }

    /// Offers a packet: the action and the reason, when the rule takes it.
    pub(crate) fn offer(&mut self, seg: Option<&Segment>, now: Instant) -> Option<(Action, &str)> {
        if !self.matcher.test(seg, now) {
            return None;
        }
        self.seen += 1;
        if self.seen <= self.skip || self.take.is_some_and(|t| self.taken >= t) {
            return None;
        }
        self.taken += 1;
        Some((self.action, &self.why))
    }
}
