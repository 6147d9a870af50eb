//! The recorder both nodes of a run write into: it numbers packets, matches each arrival to
//! the packet it is a copy of, and keeps the order of everything.

use std::collections::VecDeque;

use ustack_core::Instant;

use crate::segment::Segment;
use crate::trace::{Fate, Item, Note, NoteRecord, Packet, Sample, Side, Trace};

/// Shared by the two nodes of a run (through `Rc<RefCell<_>>`: the simulator is one thread).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) trace: Trace,
    /// Ids of packets each side sent that may still arrive, oldest first.
    in_flight: [VecDeque<usize>; 2],
}

impl Recorder {
    /// Records a packet `from` put on the link; returns its id.
    pub(crate) fn send(
        &mut self,
        from: Side,
        at: Instant,
        bytes: Vec<u8>,
        segment: Option<Segment>,
        fate: Fate,
        injected: Option<String>,
    ) -> usize {
        let id = self.trace.packets.len() + 1;
        if fate.travels() {
            self.in_flight[from.index()].push_back(id);
        }
        self.trace.packets.push(Packet {
            id,
            from,
            sent_at: at,
            bytes,
            segment,
            fate,
            injected,
            arrivals: Vec::new(),
        });
        self.trace.items.push(Item::Sent(id));
        id
    }

    /// A packet `from` sent arrived at the other side: the oldest packet in flight with the
    /// same bytes.
    pub(crate) fn arrive(&mut self, from: Side, at: Instant, bytes: &[u8]) {
        let queue = &mut self.in_flight[from.index()];
        let found = queue.iter().position(|id| self.trace.packets[id - 1].bytes == bytes);
        let id = match found {
            Some(i) => queue.remove(i),
            // A second copy made by the link: the latest packet with these bytes.
            None => self
                .trace
                .packets
                .iter()
                .rev()
                .find(|p| p.from == from && p.bytes == bytes)
                .map(|p| p.id),
        };
        if let Some(id) = id {
            self.trace.packets[id - 1].arrivals.push(at);
            self.trace.items.push(Item::Arrived(id, at));
        }
    }

    pub(crate) fn note(&mut self, at: Instant, side: Side, conn: Option<(u16, u16)>, note: Note) {
        let n = self.trace.notes.len();
        self.trace.notes.push(NoteRecord { at, side, conn, note });
        self.trace.items.push(Item::Note(n));
    }

    pub(crate) fn sample(&mut self, sample: Sample) {
        self.trace.samples.push(sample);
    }
}
