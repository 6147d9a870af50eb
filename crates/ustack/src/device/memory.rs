//! An in-memory point-to-point link: two [`MemoryDevice`]s joined by a bounded queue in each
//! direction.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Device, Notify, Readiness, RecvBufferTooSmall, packet_too_big};

/// An in-memory point-to-point link; [`MemoryLink::pair`] makes its two ends.
///
/// Each direction is a drop-tail queue of `queue_capacity` packets, like the transmit queue of
/// a real link: a packet sent while the queue toward the peer is full is dropped and counted
/// in [`LinkStats::dropped_overflow`], and `send` still returns `Ok`. It never returns
/// `WouldBlock`, so a sender cannot tell a drop from a delivery, as on a wire; the protocol
/// above recovers (TCP retransmits).
///
/// The ends are `Send` and `Sync`: they may live on different threads. Frame buffers are
/// recycled through a pool per direction, so once each direction has held its peak number of
/// packets, sending and receiving allocate nothing.
#[derive(Debug, Clone, Copy)]
pub struct MemoryLink;

impl MemoryLink {
    /// The two ends of a new link carrying packets of up to `mtu` bytes, with
    /// `queue_capacity` packets of buffering in each direction.
    ///
    /// # Panics
    ///
    /// If `mtu` is 0 or above 65,535 (the largest IPv4 packet), or `queue_capacity` is 0.
    pub fn pair(mtu: usize, queue_capacity: usize) -> (MemoryDevice, MemoryDevice) {
        assert!((1..=65_535).contains(&mtu), "MemoryLink::pair: mtu {mtu} is not in 1..=65535");
        assert!(queue_capacity > 0, "MemoryLink::pair: queue_capacity must be at least 1");
        let a_to_b = Arc::new(Channel::new(queue_capacity));
        let b_to_a = Arc::new(Channel::new(queue_capacity));
        let a = MemoryDevice::new(mtu, queue_capacity, Arc::clone(&a_to_b), Arc::clone(&b_to_a));
        let b = MemoryDevice::new(mtu, queue_capacity, b_to_a, a_to_b);
        (a, b)
    }
}

/// Packet counters of one end of a [`MemoryLink`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets this end sent that the link queued for the peer.
    pub sent: u64,
    /// Packets this end received.
    pub received: u64,
    /// Packets this end sent that were dropped because the queue toward the peer was full.
    pub dropped_overflow: u64,
    /// Packets this end sent after the peer end was dropped (nobody to deliver to).
    pub dropped_disconnected: u64,
    /// Packets discarded by this end's `recv` because the caller's buffer was too short.
    pub dropped_short_buffer: u64,
}

/// One end of a [`MemoryLink`]. Dropping it disconnects the link: the peer's later sends are
/// dropped and counted in [`LinkStats::dropped_disconnected`].
pub struct MemoryDevice {
    mtu: usize,
    capacity: usize,
    /// Toward the peer: this end pushes, the peer pops.
    tx: Arc<Channel>,
    /// From the peer: the peer pushes, this end pops.
    rx: Arc<Channel>,
    stats: LinkStats,
}

/// One direction of the link.
struct Channel {
    queue: Mutex<Queue>,
    /// The receiving end's readiness: signaled on every packet queued.
    notify: Arc<Notify>,
    /// Cleared when the receiving end is dropped.
    receiver_alive: AtomicBool,
}

struct Queue {
    packets: VecDeque<Vec<u8>>,
    /// Frames the receiver has emptied, for the sender to fill again.
    pool: Vec<Vec<u8>>,
}

impl Channel {
    fn new(capacity: usize) -> Self {
        Channel {
            queue: Mutex::new(Queue {
                packets: VecDeque::with_capacity(capacity),
                pool: Vec::with_capacity(capacity),
            }),
            notify: Arc::new(Notify::new()),
            receiver_alive: AtomicBool::new(true),
        }
    }

    /// The queue holds plain buffers, consistent after any panic, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryDevice {
    fn new(mtu: usize, capacity: usize, tx: Arc<Channel>, rx: Arc<Channel>) -> Self {
        MemoryDevice { mtu, capacity, tx, rx, stats: LinkStats::default() }
    }

    /// This end's counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// How many packets each direction of the link buffers.
    pub fn queue_capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the peer end still exists.
    pub fn peer_connected(&self) -> bool {
        self.tx.receiver_alive.load(Ordering::Acquire)
    }
}

impl fmt::Debug for MemoryDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One lock at a time: the peer's Debug takes them in the other order.
        let queued_to_peer = self.tx.lock().packets.len();
        let queued_from_peer = self.rx.lock().packets.len();
        f.debug_struct("MemoryDevice")
            .field("mtu", &self.mtu)
            .field("queue_capacity", &self.capacity)
            .field("queued_to_peer", &queued_to_peer)
            .field("queued_from_peer", &queued_from_peer)
            .field("peer_connected", &self.peer_connected())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Device for MemoryDevice {
    fn mtu(&self) -> usize {
        self.mtu
    }

    /// Takes the oldest packet sent by the peer.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut queue = self.rx.lock();
        let Some(frame) = queue.packets.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let len = frame.len();
        let fits = len <= buf.len();
        if fits {
            buf[..len].copy_from_slice(&frame);
        }
        queue.pool.push(frame);
        drop(queue);
        if fits {
            self.stats.received += 1;
            Ok(len)
        } else {
            self.stats.dropped_short_buffer += 1;
            Err(RecvBufferTooSmall { packet_len: len, buf_len: buf.len() }.into())
        }
    }

    /// Queues the packet for the peer. A full queue drops it (drop-tail) and counts it; see
    /// [`MemoryLink`]. Never returns `WouldBlock`.
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        if packet.len() > self.mtu {
            return Err(packet_too_big(packet.len(), self.mtu));
        }
        if !self.tx.receiver_alive.load(Ordering::Acquire) {
            self.stats.dropped_disconnected += 1;
            return Ok(());
        }
        let mut queue = self.tx.lock();
        if queue.packets.len() >= self.capacity {
            drop(queue);
            self.stats.dropped_overflow += 1;
            return Ok(());
        }
        let mut frame = queue.pool.pop().unwrap_or_else(|| Vec::with_capacity(self.mtu));
        frame.clear();
        frame.extend_from_slice(packet);
        queue.packets.push_back(frame);
        drop(queue);
        self.tx.notify.notify();
        self.stats.sent += 1;
        Ok(())
    }

    /// A [`Readiness::Notify`] signaled whenever the peer queues a packet for this end.
    fn readiness(&self) -> Readiness {
        Readiness::Notify(Arc::clone(&self.rx.notify))
    }
}

impl Drop for MemoryDevice {
    fn drop(&mut self) {
        self.rx.receiver_alive.store(false, Ordering::Release);
        let mut queue = self.rx.lock();
        queue.packets.clear();
        queue.pool.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

    fn recv_vec(dev: &mut MemoryDevice) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; dev.mtu()];
        let n = dev.recv(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    #[test]
    fn delivers_in_order_both_ways() {
        let (mut a, mut b) = MemoryLink::pair(1500, 8);
        for i in 0..5u8 {
            a.send(&[i; 20]).unwrap();
        }
        b.send(b"reply").unwrap();
        for i in 0..5u8 {
            assert_eq!(recv_vec(&mut b).unwrap(), vec![i; 20]);
        }
        assert_eq!(recv_vec(&mut b).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(recv_vec(&mut a).unwrap(), b"reply");
        assert_eq!(a.stats(), LinkStats { sent: 5, received: 1, ..LinkStats::default() });
        assert_eq!(b.stats(), LinkStats { sent: 1, received: 5, ..LinkStats::default() });
    }

    #[test]
    fn empty_queue_would_block() {
        let (mut a, _b) = MemoryLink::pair(1500, 1);
        assert_eq!(recv_vec(&mut a).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn overflow_is_dropped_tail_and_counted() {
        let (mut a, mut b) = MemoryLink::pair(100, 3);
        for i in 0..5u8 {
            a.send(&[i]).unwrap();
        }
        assert_eq!(a.stats().sent, 3);
        assert_eq!(a.stats().dropped_overflow, 2);
        // Drop-tail: the first three survive, in order.
        for i in 0..3u8 {
            assert_eq!(recv_vec(&mut b).unwrap(), [i]);
        }
        assert_eq!(recv_vec(&mut b).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        // Room again after draining.
        a.send(&[9]).unwrap();
        assert_eq!(recv_vec(&mut b).unwrap(), [9]);
        assert_eq!(b.stats().received, 4);
    }

    #[test]
    fn packet_over_mtu_is_invalid_input() {
        let (mut a, mut b) = MemoryLink::pair(100, 4);
        a.send(&[0; 100]).unwrap();
        let err = a.send(&[0; 101]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("101 bytes exceeds the device MTU of 100"), "{err}");
        assert_eq!(a.stats().sent, 1);
        assert_eq!(recv_vec(&mut b).unwrap().len(), 100);
    }

    #[test]
    fn short_buffer_is_an_error_not_a_truncation() {
        let (mut a, mut b) = MemoryLink::pair(100, 4);
        a.send(&[7; 60]).unwrap();
        a.send(&[8; 10]).unwrap();
        let mut small = [0u8; 20];
        let err = b.recv(&mut small).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let detail = err.get_ref().unwrap().downcast_ref::<RecvBufferTooSmall>().unwrap();
        assert_eq!(*detail, RecvBufferTooSmall { packet_len: 60, buf_len: 20 });
        assert_eq!(small, [0; 20], "nothing was written into the short buffer");
        // The long packet is gone; the next one comes through.
        assert_eq!(b.recv(&mut small).unwrap(), 10);
        assert_eq!(b.stats().dropped_short_buffer, 1);
        assert_eq!(b.stats().received, 1);
    }

    #[test]
    fn frames_are_recycled() {
        let (mut a, mut b) = MemoryLink::pair(1500, 4);
        for round in 0..10u8 {
            a.send(&[round; 1500]).unwrap();
            a.send(&[round; 40]).unwrap();
            assert_eq!(recv_vec(&mut b).unwrap(), [round; 1500]);
            assert_eq!(recv_vec(&mut b).unwrap(), [round; 40]);
        }
        // Two frames ever allocated in this direction, both back in the pool.
        assert_eq!(a.tx.lock().pool.len(), 2);
        assert!(a.tx.lock().pool.iter().all(|f| f.capacity() == 1500));
    }

    #[test]
    fn debug_shows_state_not_buffers() {
        let (mut a, _b) = MemoryLink::pair(1500, 4);
        a.send(&[0; 1500]).unwrap();
        let text = format!("{a:?}");
        assert!(text.contains("queued_to_peer: 1"), "{text}");
        assert!(text.len() < 400, "{text}");
    }

    #[test]
    fn peer_dropped_disconnects() {
        let (mut a, b) = MemoryLink::pair(1500, 4);
        assert!(a.peer_connected());
        drop(b);
        assert!(!a.peer_connected());
        a.send(b"x").unwrap();
        assert_eq!(a.stats().dropped_disconnected, 1);
        assert_eq!(a.stats().sent, 0);
    }

    #[test]
    fn readiness_signals_arrivals() {
        let (mut a, b) = MemoryLink::pair(1500, 4);
        let ready = b.readiness();
        assert!(!ready.wait_timeout(Duration::from_millis(1)).unwrap());
        a.send(b"x").unwrap();
        assert!(ready.wait_timeout(Duration::ZERO).unwrap());
    }

    #[test]
    fn ends_on_different_threads() {
        const N: u32 = 10_000;
        let (mut a, mut b) = MemoryLink::pair(64, 16);
        // The receiver echoes every packet back; the sender keeps at most 8 in flight, so
        // nothing overflows and every packet must come back, in order.
        let echo = thread::spawn(move || {
            let ready = b.readiness();
            let mut buf = [0u8; 64];
            let mut echoed = 0;
            while echoed < N {
                match b.recv(&mut buf) {
                    Ok(n) => {
                        b.send(&buf[..n]).unwrap();
                        echoed += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let woke = ready.wait_timeout(Duration::from_secs(10)).unwrap();
                        assert!(woke, "echo side: nothing arrived for 10 s");
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            b.stats()
        });
        let ready = a.readiness();
        let (mut next_send, mut next_recv) = (0u32, 0u32);
        let mut buf = [0u8; 64];
        while next_recv < N {
            while next_send < N && next_send - next_recv < 8 {
                a.send(&next_send.to_be_bytes()).unwrap();
                next_send += 1;
            }
            match a.recv(&mut buf) {
                Ok(n) => {
                    assert_eq!(&buf[..n], next_recv.to_be_bytes());
                    next_recv += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let woke = ready.wait_timeout(Duration::from_secs(10)).unwrap();
                    assert!(woke, "sender side: no echo for 10 s");
                }
                Err(e) => panic!("{e}"),
            }
        }
        let b_stats = echo.join().unwrap();
        let n = u64::from(N);
        assert_eq!(a.stats(), LinkStats { sent: n, received: n, ..LinkStats::default() });
        assert_eq!(b_stats, LinkStats { sent: n, received: n, ..LinkStats::default() });
    }

    #[test]
    #[should_panic(expected = "mtu 0 is not in 1..=65535")]
    fn zero_mtu_panics() {
        let _ = MemoryLink::pair(0, 1);
    }
}
