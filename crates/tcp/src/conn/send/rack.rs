//! RACK (RFC 8985 §6): loss detection by time. A segment is lost when a segment sent after it
//! has been delivered and more than an RTT plus a reordering window has passed since it was
//! sent. Where three duplicate ACKs count packets, RACK counts time, so it repairs a whole
//! burst of losses in the first round trip, a lost retransmission, and losses at the tail.
//!
//! The reordering window starts at zero once three segments are SACKed and no reordering was
//! seen (RFC 8985 §6.2 step 4, the DupThresh fallback), at a quarter of the minimum RTT
//! otherwise, and grows with the D-SACKs that reveal spurious retransmissions.

use core::time::Duration;

use ustack_wire::SeqNum;

use super::scoreboard::{Delivered, Mark, Scoreboard};
use crate::Instant;
use crate::time::Nanos;

/// RFC 8985's DupThresh (Linux's initial `tcp_reordering`), for the tests.
#[cfg(test)]
const DUP_THRESH: u32 = 3;
/// Recoveries without a D-SACK after which the reordering window shrinks back (RFC 8985
/// §6.2 step 4: "RACK.reo_wnd_persist = 16").
const REO_WND_PERSIST: u8 = 16;

/// RACK's variables (RFC 8985 §6.1).
#[derive(Debug, Clone, Copy)]
pub(in crate::conn) struct Rack {
    /// The latest transmission time of the most recently sent segment known delivered
    /// (RACK.xmit_ts), and that transmission's order (RFC 8985 uses RACK.end_seq to break
    /// ties between equal times; an order number never ties).
    pub(in crate::conn) xmit_ts: Option<Instant>,
    pub(in crate::conn) order: u64,
    /// The RTT of that segment (RACK.rtt).
    pub(in crate::conn) rtt: Nanos,
    /// Whether reordering was seen on this connection (RACK.reordering_seen).
    pub(in crate::conn) reordering_seen: bool,
    /// RACK.reo_wnd_mult, RACK.reo_wnd_persist, RACK.dsack_round.
    reo_wnd_mult: u32,
    reo_wnd_persist: u8,
    dsack_round: Option<SeqNum>,
}

impl Default for Rack {
    fn default() -> Self {
        Rack {
            xmit_ts: None,
            order: 0,
            rtt: Nanos::ZERO,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            dsack_round: None,
        }
    }
}

/// What a RACK loss scan found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::conn) struct Detected {
    /// Segments newly marked lost.
    pub(in crate::conn) lost: u32,
    /// When the reordering timer must fire to look again, if a segment may still turn out
    /// lost (RFC 8985 §6.3).
    pub(in crate::conn) timeout: Option<Instant>,
}

impl Rack {
    /// RFC 8985 §6.2 step 1: the ACK delivered `d`; `ambiguous` says whether the most recently
    /// sent of its segments is a retransmission that the ACK may be answering the original
    /// of (its timestamp echo is older than the retransmission, or its RTT is below the
    /// minimum RTT), `last_ambiguous` the same of the segment taken last. Step 2:
    /// reordering.
    ///
    /// RACK.rtt is the RTT of the last segment taken that is not ambiguous, as Linux's
    /// `tcp_rack_advance` leaves it (it sets the RTT for each segment in the order it takes
    /// them: SACKed ones, then cumulatively acknowledged ones, each in sequence order), not
    /// necessarily the most recently sent one's: a late original below a retransmission
    /// gives the longer RTT.
    pub(in crate::conn) fn on_delivered(
        &mut self,
        now: Instant,
        d: &Delivered,
        ambiguous: bool,
        last_ambiguous: bool,
    ) {
        if d.reordered {
            self.reordering_seen = true;
        }
        match d.last {
            Some((sent, _)) if !last_ambiguous => self.rtt = Nanos::new(now - sent),
            Some(_) => {
                if let Some(sent) = d.last_original {
                    self.rtt = Nanos::new(now - sent);
                }
            }
            None => {}
        }
        let Some((sent, order, _)) = d.latest else { return };
        if ambiguous {
            return;
        }
        if self.xmit_ts.is_none() || order > self.order {
            self.xmit_ts = Some(sent);
            self.order = order;
        }
    }

    /// RFC 8985 §6.2 step 3: a D-SACK arrived (`una`/`nxt` now): the window grows one step
    /// per round trip that sees one.
    pub(in crate::conn) fn on_dsack(&mut self, una: SeqNum, nxt: SeqNum) {
        if let Some(round) = self.dsack_round
            && (una - round) >= 0
        {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// A recovery ended (RFC 8985 §6.2 step 3: "Else if exiting Fast or RTO recovery").
    pub(in crate::conn) fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 step 4, `RACK_update_reo_wnd`; DupThresh is the connection's
    /// reordering degree (`reordering`), as Linux's `tcp_rack_reo_wnd` compares `sacked_out`
    /// with `tp->reordering`.
    pub(in crate::conn) fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_segments: u32,
        reordering: u32,
        min_rtt: Option<Duration>,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked_segments >= reordering) {
            return Duration::ZERO;
        }
        let quarter = min_rtt.unwrap_or(Duration::ZERO) / 4;
        let wnd = quarter.saturating_mul(self.reo_wnd_mult);
        match srtt {
            Some(srtt) => wnd.min(srtt),
            None => wnd,
        }
    }

    /// RFC 8985 §6.2 step 5, `RACK_detect_loss`: marks lost every segment in flight sent
    /// before RACK.xmit_ts whose time is up (sent more than RACK.rtt + `reo_wnd` ago), and
    /// says when to look again for the others.
    pub(in crate::conn) fn detect(
        &self,
        sb: &mut Scoreboard,
        now: Instant,
        reo_wnd: Duration,
    ) -> Detected {
        let mut found = Detected::default();
        if self.xmit_ts.is_none() {
            return found;
        }
        let mut i = 0;
        while i < sb.len() {
            let seg = *sb.get(i).expect("an entry");
            i += 1;
            if seg.mark != Mark::InFlight {
                continue;
            }
            if seg.order >= self.order {
                // Never-retransmitted segments are in sending order: once one was sent after
                // RACK.xmit_ts, so were all those after it, unless a retransmission sits there.
                if !seg.retransmitted && !sb.retransmissions_in_flight() {
                    break;
                }
                continue;
            }
            let deadline = seg.sent_at + self.rtt.get() + reo_wnd;
            if deadline <= now {
                sb.set_mark(i - 1, Mark::Lost);
                found.lost += 1;
            } else if found.timeout.is_none_or(|t| deadline < t) {
                found.timeout = Some(deadline);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Ten segments of 1000 bytes sent 1 ms apart from t = 0.
    fn flight() -> Scoreboard {
        let mut sb = Scoreboard::default();
        for k in 0..10u32 {
            sb.push(SeqNum(k * 1000), 1000, false, Instant::from_millis(u64::from(k)));
        }
        sb
    }

    #[test]
    fn rfc8985_a_segment_sent_before_a_delivered_one_is_lost_after_rtt_plus_reo_wnd() {
        // Segment 0 lost; segment 1's SACK arrives at 50 ms (RTT 49 ms).
        let mut sb = flight();
        let mut rack = Rack::default();
        let now = Instant::from_millis(50);
        let d = sb.sack(SeqNum(1000), SeqNum(2000), 1000);
        rack.on_delivered(now, &d, false, false);
        assert_eq!(
            (rack.xmit_ts, rack.rtt.get(), rack.order),
            (Some(Instant::from_millis(1)), ms(49), 1)
        );
        // One SACKed segment and no reordering seen: reo_wnd = min_RTT / 4 = 12 ms; segment 0
        // (sent at 0) is lost at 0 + 49 + 12 = 61 ms: a timer, not yet a loss.
        let reo = rack.reo_wnd(false, sb.sacked_segments(), DUP_THRESH, Some(ms(48)), Some(ms(49)));
        assert_eq!(reo, ms(12));
        let found = rack.detect(&mut sb, now, reo);
        assert_eq!(found, Detected { lost: 0, timeout: Some(Instant::from_millis(61)) });
        assert_eq!(rack.detect(&mut sb, Instant::from_millis(61), reo).lost, 1);
        assert_eq!(sb.first_lost(), Some(0));
    }

    #[test]
    fn rfc8985_with_three_sacked_segments_and_no_reordering_the_window_is_zero() {
        let mut sb = flight();
        let mut rack = Rack::default();
        let now = Instant::from_millis(60);
        // Segments 0, 2 and 5 lost; the others SACKed by now.
        for k in [1u32, 3, 4, 6, 7, 8, 9] {
            let d = sb.sack(SeqNum(k * 1000), SeqNum(k * 1000 + 1000), 1000);
            rack.on_delivered(now, &d, false, false);
        }
        let reo = rack.reo_wnd(false, sb.sacked_segments(), DUP_THRESH, Some(ms(50)), Some(ms(50)));
        assert_eq!(reo, Duration::ZERO);
        // Every hole is lost at once: the whole burst is repaired in one round trip.
        let found = rack.detect(&mut sb, now, reo);
        assert_eq!(found.lost, 3);
        let lost: Vec<u32> =
            sb.iter().filter(|s| s.mark == Mark::Lost).map(|s| s.start.get()).collect();
        assert_eq!(lost, [0, 2000, 5000]);
    }

    #[test]
    fn rfc8985_reordering_widens_the_window_and_dsacks_grow_it() {
        let mut rack = Rack { reordering_seen: true, ..Rack::default() };
        assert_eq!(rack.reo_wnd(true, 5, DUP_THRESH, Some(ms(40)), Some(ms(100))), ms(10));
        rack.on_dsack(SeqNum(0), SeqNum(5000));
        assert_eq!(rack.reo_wnd(true, 5, DUP_THRESH, Some(ms(40)), Some(ms(100))), ms(20));
        // One step per round trip: another D-SACK before SND.UNA passes 5000 changes nothing.
        rack.on_dsack(SeqNum(1000), SeqNum(6000));
        assert_eq!(rack.reo_wnd(true, 5, DUP_THRESH, Some(ms(40)), Some(ms(100))), ms(20));
        rack.on_dsack(SeqNum(5000), SeqNum(9000));
        assert_eq!(rack.reo_wnd(true, 5, DUP_THRESH, Some(ms(40)), Some(ms(100))), ms(30));
        // Capped by SRTT; back to one step after 16 recoveries without a D-SACK.
        assert_eq!(rack.reo_wnd(true, 5, DUP_THRESH, Some(ms(400)), Some(ms(100))), ms(100));
        for _ in 0..16 {
            rack.on_recovery_end();
        }
        assert_eq!(rack.reo_wnd(true, 5, DUP_THRESH, Some(ms(40)), Some(ms(100))), ms(10));
    }

    #[test]
    fn an_ambiguous_retransmission_is_not_a_rack_sample() {
        let mut sb = flight();
        let mut rack = Rack::default();
        let d = sb.sack(SeqNum(3000), SeqNum(4000), 1000);
        rack.on_delivered(Instant::from_millis(10), &d, true, true);
        assert_eq!(rack.xmit_ts, None);
    }
}
