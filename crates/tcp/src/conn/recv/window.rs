//! The receive window we advertise (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4).

use super::super::{Conn, State};

impl Conn {
    /// The window field for a non-SYN segment, moving the advertised right edge.
    ///
    /// RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): "keep RCV.NXT+RCV.WND fixed until the
    /// reduction satisfies: RCV.BUFF - RCV.USER - RCV.WND >= min( Fr * RCV.BUFF, Eff.snd.MSS )"
    /// with Fr = 1/2: the window opens only by at least half the buffer or a segment.
    ///
    /// With a scale factor the field counts units of `2^wscale` bytes, so a window is rarely
    /// expressible exactly. RFC 7323 §2.4: the TCP "will have to either advertise a new window
    /// that is beyond what it previously advertised (and perhaps beyond the buffer) or will
    /// have to advertise a smaller window", and "the receiver must honor, as in a window, any
    /// segment that would have been in window for any ACK sent". So the window is rounded
    /// *down*: nothing is ever offered that the buffer cannot hold (rounded up on every ACK,
    /// the edge would creep up to a unit per segment past the buffer's end, and the data the
    /// peer then sends would be dropped while the window still looked open). The one
    /// exception keeps the edge already offered from moving left (RFC 9293 §3.8.6.2.2), by
    /// rounding up when the buffer has room for that. When it has not, the field shows the
    /// edge less than one unit short, and `adv_right` still accepts up to the old edge.
    pub(in crate::conn) fn window_field(&mut self) -> u16 {
        let ws = u32::from(self.rcv.wscale);
        let (wanted, free) = self.window_wanted();
        let cur = self.rcv.adv_wnd();
        let mut field = wanted >> ws;
        if (field << ws) < cur && (field + 1) << ws <= free {
            field += 1;
        }
        let field = field.min(65_535);
        let right = self.rcv.nxt + (field << ws);
        if self.rcv.adv_right < right {
            self.rcv.adv_right = right;
        }
        field as u16
    }

    /// After the application read: announce the window if it opened enough. Linux's rule
    /// (`tcp_cleanup_rbuf`): when the window last advertised is at most half the buffer and
    /// the new one would be at least twice as large, ACK now rather than wait for data.
    pub(in crate::conn) fn after_read(&mut self) {
        if !matches!(self.state, State::Established | State::FinWait1 | State::FinWait2)
            || self.rcv.eof
        {
            return;
        }
        let cur = self.rcv.adv_wnd();
        let limit = self.rcv.buf.limit() as u32;
        // The window an ACK would offer now, as `window_field` chooses it: within what the
        // field can say (65,535 bytes without scaling) and held back by SWS avoidance. The
        // free space alone would ask for an ACK that repeats the window it already offered.
        let (wanted, _) = self.window_wanted();
        if cur.saturating_mul(2) <= limit && wanted >= cur.saturating_mul(2) && wanted > cur {
            self.ack_now = true;
        }
    }

    /// The window to offer (RFC 9293's receiver SWS avoidance: the free space once it has
    /// grown by half the buffer or a segment past the window offered, else that window) and
    /// the free space, both within what the window field can say with our scale.
    fn window_wanted(&self) -> (u32, u32) {
        let max = 65_535u32 << u32::from(self.rcv.wscale);
        // The buffer's end is RCV.NXT + free: the limit of anything we may offer.
        let free = (self.rcv.buf.free() as u64).min(u64::from(max)) as u32;
        let cur = self.rcv.adv_wnd();
        let threshold = (self.rcv.buf.limit() as u32 / 2).min(u32::from(self.rcv.seg_mss)).max(1);
        let wanted = if free >= cur.saturating_add(threshold) { free } else { cur };
        (wanted, free)
    }
}
