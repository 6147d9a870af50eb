//! Receive-buffer autotuning: Linux's dynamic right-sizing (`tcp_rcv_space_adjust`, after
//! Fisk and Feng's DRS). The receive buffer starts at `rmem.default` (128 KiB) and grows, up
//! to `rmem.max` (6 MiB), to about twice what the application read in the last round trip,
//! plus room for the sender's growth; the window we advertise grows with it. Without this a
//! long fat path is capped at `rmem.default` per round trip (128 KiB / 50 ms = 21 Mbit/s).
//!
//! The round trip is the receiver's own estimate (Linux `tcp_rcv_rtt_measure`): from the
//! timestamps the peer echoes, or, without timestamps, from the time it takes the peer to
//! fill one window. Setting the buffer size by hand (`SO_RCVBUF`) turns autotuning off for
//! the connection, as in Linux.

use core::time::Duration;

use ustack_wire::{SeqNum, TcpRepr};

use super::super::Conn;
use crate::Instant;
use crate::time::Nanos;

/// The state autotuning keeps (Linux `rcvq_space` and `rcv_rtt_est`).
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::conn) struct Tune {
    /// Bytes the application read in the last measured round trip (`rcvq_space.space`).
    space: u32,
    /// Bytes read in all, and at the start of the current measurement.
    pub(in crate::conn) read: u64,
    read_at_start: u64,
    /// When the current measurement started.
    started: Option<Instant>,
    /// The receiver's RTT estimate.
    rtt: Option<Nanos>,
    /// Without timestamps: the window edge whose filling ends the current RTT sample, and,
    /// once one is set, when (two fields: the sequence number packs with the other 4-byte
    /// fields, 12 bytes where the pair takes 16).
    probe_edge: SeqNum,
    probe_at: Option<Instant>,
    /// The last TSecr an RTT sample was taken from.
    last_tsecr: u32,
    /// The application set the buffer size: no autotuning.
    pub(in crate::conn) locked: bool,
}

impl Tune {
    /// The out-of-order ranges a receive buffer of `bytes` may hold. Linux bounds its
    /// out-of-order queue by the buffer's memory, each segment costing its `truesize`
    /// (about 2 KiB for a 1448-byte segment); so do we, with at least 64.
    pub(in crate::conn) fn reassembly_limit(bytes: usize) -> usize {
        (bytes / 2048).max(64)
    }
}

impl Conn {
    /// The connection became established: the first measurement's baseline is the initial
    /// window, at most ten segments (Linux `tcp_init_buffer_space`).
    pub(in crate::conn) fn init_rcv_space(&mut self) {
        let ten = 10 * u32::from(self.rcv.mss);
        self.rcv.tune.space = (self.rcv.buf.free() as u32).min(ten).max(1);
    }

    /// An RTT sample for the receiver from a segment with data (Linux
    /// `tcp_rcv_rtt_measure_ts` and `tcp_rcv_rtt_measure`).
    pub(in crate::conn) fn rcv_rtt_measure(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let full = seg.payload.len() >= usize::from(self.rcv.seg_mss);
        if self.opts.timestamps {
            let Some(ts) = seg.options.timestamps else { return };
            if !full || ts.tsecr == 0 || ts.tsecr == self.rcv.tune.last_tsecr {
                return;
            }
            self.rcv.tune.last_tsecr = ts.tsecr;
            let ms = self.ts_now(now).wrapping_sub(ts.tsecr);
            if ms < 1 << 31 {
                let sample = Duration::from_millis(u64::from(ms.max(1)));
                // An average with gain 1/8, as SRTT.
                self.rcv.tune.rtt = Some(Nanos::new(match self.rcv.tune.rtt {
                    Some(rtt) => rtt.get() - rtt.get() / 8 + sample / 8,
                    None => sample,
                }));
            }
            return;
        }
        // Without timestamps: the time the peer takes to send one window, the least seen.
        if let Some(since) = self.rcv.tune.probe_at {
            if (self.rcv.nxt - self.rcv.tune.probe_edge) < 0 {
                return;
            }
            let sample = (now - since).max(Duration::from_millis(1));
            self.rcv.tune.rtt =
                Some(Nanos::new(self.rcv.tune.rtt.map_or(sample, |r| r.get().min(sample))));
        }
        let edge = self.rcv.nxt + self.rcv.adv_wnd().max(1);
        self.rcv.tune.probe_edge = edge;
        self.rcv.tune.probe_at = Some(now);
    }

    /// Once a round trip: grow the buffer to what the application reads (Linux
    /// `tcp_rcv_space_adjust`).
    pub(in crate::conn) fn rcv_space_adjust(&mut self, now: Instant) {
        if !self.cfg.moderate_rcvbuf || self.rcv.tune.locked {
            return;
        }
        let Some(rtt) = self.rcv.tune.rtt.map(Nanos::get) else { return };
        let tune = &mut self.rcv.tune;
        let Some(started) = tune.started else {
            tune.started = Some(now);
            tune.read_at_start = tune.read;
            return;
        };
        if now - started < rtt {
            return;
        }
        let copied = tune.read - tune.read_at_start;
        tune.started = Some(now);
        tune.read_at_start = tune.read;
        let space = u64::from(tune.space.max(1));
        if copied <= space {
            return;
        }
        // "copied = bytes received in previous RTT, our base window. To cope with packet
        // losses, we need a 2x factor. To cope with slow start, and sender growing its cwin
        // by 100 % every RTT, we need a 4x factor" (Linux): twice what was read, sixteen
        // segments of cushion, and the growth since the last round trip, twice.
        let advmss = u64::from(self.rcv.mss);
        let mut rcvwin = 2 * copied + 16 * advmss;
        let grow = rcvwin * (copied - space) / space;
        rcvwin += 2 * grow;
        let rcvbuf = rcvwin.min(u64::from(self.cfg.rmem.max)) as usize;
        if rcvbuf > self.rcv.buf.limit() {
            self.rcv.buf.set_limit(rcvbuf);
            self.rcv.asm.set_limit(super::Tune::reassembly_limit(rcvbuf));
        }
        self.rcv.tune.space = copied.min(u64::from(u32::MAX)) as u32;
    }
}
