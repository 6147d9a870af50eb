//! Packet capture: a pcap writer with explicit timestamps ([`PcapSink`]) and a middleware that
//! records every packet a device receives and sends ([`PcapDevice`]).
//!
//! Files are classic pcap (not pcapng), link type `LINKTYPE_RAW` (101: each record is an IP
//! packet with no link header), microsecond timestamps, in the host's byte order. Wireshark,
//! tshark and tcpdump read them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use pcap_file::pcap::PcapHeader;
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use super::{Device, Readiness};

/// The snap length written in the file header: the largest IPv4 packet, so no packet is ever
/// cut short.
const SNAPLEN: u32 = 65_535;

/// A pcap file being written, one record per [`write_packet`](PcapSink::write_packet), each
/// with the timestamp the caller gives (wall-clock or virtual time).
///
/// Records go through `W`; [`PcapSink::create`] puts a [`BufWriter`] in front of the file,
/// which writes out what it holds when dropped, so the file is complete once the sink is
/// dropped. Call [`flush`](PcapSink::flush) to see write errors or to make the file readable
/// while capture goes on.
#[derive(Debug)]
pub struct PcapSink<W: Write> {
    out: W,
    packets: u64,
}

impl PcapSink<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the pcap header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("creating pcap file {}: {e}", path.display()))
        })?;
        PcapSink::new(BufWriter::new(file))
    }
}

impl<W: Write> PcapSink<W> {
    /// Writes the pcap file header (`LINKTYPE_RAW`, microseconds) to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::native(),
            ..PcapHeader::default()
        };
        header.write_to(&mut out).map_err(pcap_to_io)?;
        Ok(PcapSink { out, packets: 0 })
    }

    /// Appends one IP packet captured at `timestamp`, the time since the Unix epoch, or for
    /// virtual time the time since the simulation's start (`now.since_epoch()` of a
    /// [`ustack_core::Instant`]; tools then show dates in January 1970). The timestamp is
    /// truncated to microseconds.
    ///
    /// Errors: [`io::ErrorKind::InvalidInput`] when the packet is longer than 65,535 bytes
    /// (no IPv4 packet is) or the timestamp lies past the year 2106 (pcap's 32-bit seconds);
    /// otherwise the errors of `W`.
    pub fn write_packet(&mut self, timestamp: Duration, packet: &[u8]) -> io::Result<()> {
        let len =
            u32::try_from(packet.len()).ok().filter(|&len| len <= SNAPLEN).ok_or_else(|| {
                invalid(format!("pcap: packet of {} bytes is over 65535", packet.len()))
            })?;
        let secs = u32::try_from(timestamp.as_secs())
            .map_err(|_| invalid(format!("pcap: timestamp {timestamp:?} is past 2106")))?;
        // The 16-byte record header, in the byte order of the file header. Written here rather
        // than through pcap-file's `PcapWriter`, which cannot flush the writer it owns.
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&secs.to_ne_bytes());
        record[4..8].copy_from_slice(&timestamp.subsec_micros().to_ne_bytes());
        record[8..12].copy_from_slice(&len.to_ne_bytes()); // captured length
        record[12..16].copy_from_slice(&len.to_ne_bytes()); // original length
        self.out.write_all(&record)?;
        self.out.write_all(packet)?;
        self.packets += 1;
        Ok(())
    }

    /// How many packets have been written.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Flushes `W`, so that everything written so far is in the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A [`Device`] that records every packet it receives and sends into a [`PcapSink`], with
/// wall-clock timestamps, then passes it on unchanged.
///
/// A packet is recorded after the inner device accepted it (`send`) or delivered it (`recv`),
/// so the file shows what crossed the device. A capture write error never fails the packet's
/// own `send` or `recv`: capture stops at the first one, which
/// [`take_capture_error`](PcapDevice::take_capture_error) returns.
///
/// Dropping it drops the sink, which completes the file (see [`PcapSink`]).
#[derive(Debug)]
pub struct PcapDevice<D, W: Write = BufWriter<File>> {
    inner: D,
    sink: PcapSink<W>,
    capture_error: Option<io::Error>,
    capture_stopped: bool,
    /// A copy of a packet recorded with its TCP checksum filled in (`record_filled`).
    filled: Vec<u8>,
}

impl<D: Device> PcapDevice<D> {
    /// Wraps `inner`, capturing to a new file at `path`.
    pub fn create(inner: D, path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(PcapDevice::from_sink(inner, PcapSink::create(path)?))
    }
}

impl<D: Device, W: Write> PcapDevice<D, W> {
    /// Wraps `inner`, capturing to `writer` (the pcap header is written now).
    pub fn new(inner: D, writer: W) -> io::Result<Self> {
        Ok(PcapDevice::from_sink(inner, PcapSink::new(writer)?))
    }

    /// Wraps `inner`, capturing into `sink`.
    pub fn from_sink(inner: D, sink: PcapSink<W>) -> Self {
        PcapDevice { inner, sink, capture_error: None, capture_stopped: false, filled: Vec::new() }
    }

    /// How many packets have been recorded.
    pub fn packets_written(&self) -> u64 {
        self.sink.packets_written()
    }

    /// The error that stopped capture, if any and not taken before. Capture stays stopped.
    pub fn take_capture_error(&mut self) -> Option<io::Error> {
        self.capture_error.take()
    }

    /// Whether capture is still on (no write error so far).
    pub fn capturing(&self) -> bool {
        !self.capture_stopped
    }

    /// Flushes the capture so the file holds every packet recorded so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }

    /// The wrapped device.
    pub fn get_ref(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably (packets sent or received through it directly are not
    /// recorded).
    pub fn get_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The wrapped device and the sink.
    pub fn into_parts(self) -> (D, PcapSink<W>) {
        (self.inner, self.sink)
    }

    /// Records `packet` with its TCP checksum filled in. A packet the device cuts into
    /// segments (sent with a [`Gso`](super::Gso)) or whose checksum it vouched for (received
    /// with [`RxMeta::checksum_verified`](super::RxMeta)) may carry only the pseudo-header
    /// sum, which a reader of the capture would take for corruption; the copy recorded holds
    /// the checksum the packet has as one segment, and the packet itself is not changed.
    fn record_filled(&mut self, packet: &[u8]) {
        if self.capture_stopped {
            return;
        }
        let mut copy = std::mem::take(&mut self.filled);
        copy.clear();
        copy.extend_from_slice(packet);
        fill_tcp_checksum(&mut copy);
        self.record(&copy);
        self.filled = copy;
    }

    fn record(&mut self, packet: &[u8]) {
        if self.capture_stopped {
            return;
        }
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        if let Err(e) = self.sink.write_packet(now, packet) {
            self.capture_stopped = true;
            self.capture_error = Some(e);
        }
    }
}

impl<D: Device, W: Write> Device for PcapDevice<D, W> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.recv(buf)?;
        self.record(&buf[..n]);
        Ok(n)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.inner.send(packet)?;
        self.record(packet);
        Ok(())
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    /// The inner device's: packets are recorded as it carries them, TCP packets of up to
    /// 64 KiB whole (as tcpdump shows them on a Linux interface with offloads), but with
    /// the TCP checksums the device fills in or vouched for computed into the recorded copy,
    /// so that the capture's checksums verify.
    fn offloads(&self) -> super::Offloads {
        self.inner.offloads()
    }

    fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, super::RxMeta)> {
        let (n, meta) = self.inner.recv_with(buf)?;
        if meta.checksum_verified {
            self.record_filled(&buf[..n]);
        } else {
            self.record(&buf[..n]);
        }
        Ok((n, meta))
    }

    fn send_with(&mut self, packet: &[u8], gso: Option<super::Gso>) -> io::Result<()> {
        self.inner.send_with(packet, gso)?;
        if gso.is_some() {
            self.record_filled(packet);
        } else {
            self.record(packet);
        }
        Ok(())
    }
}

/// Computes the TCP checksum of an IPv4 (unfragmented) or IPv6 (no extension header) TCP
/// packet into its field; anything else is left as it is.
fn fill_tcp_checksum(packet: &mut [u8]) {
    use ustack_core::wire::{IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket};
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let Ok(ip) = Ipv4Packet::new_checked(&*packet) else { return };
            if ip.protocol() != IpProtocol::TCP || ip.more_frags() || ip.frag_offset() != 0 {
                return;
            }
            let (src, dst, start) = (ip.src_addr(), ip.dst_addr(), ip.header_len());
            let end = usize::from(ip.total_len());
            if let Some(Ok(mut tcp)) = packet.get_mut(start..end).map(TcpPacket::new_checked) {
                tcp.fill_checksum(src, dst);
            }
        }
        Some(6) => {
            let Ok(ip) = Ipv6Packet::new_checked(&*packet) else { return };
            if ip.next_header() != IpProtocol::TCP {
                return;
            }
            let (src, dst) = (ip.src_addr(), ip.dst_addr());
            let end = 40 + usize::from(ip.payload_len());
            if let Some(Ok(mut tcp)) = packet.get_mut(40..end).map(TcpPacket::new_checked) {
                tcp.fill_checksum(src, dst);
            }
        }
        _ => {}
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn pcap_to_io(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemoryLink;
    use pcap_file::pcap::PcapReader;
    use std::path::PathBuf;

    /// Every record of a pcap file: (timestamp, bytes).
    fn read_back(bytes: &[u8]) -> (PcapHeader, Vec<(Duration, Vec<u8>)>) {
        let mut reader = PcapReader::new(bytes).unwrap();
        let header = reader.header();
        let mut records = Vec::new();
        while let Some(packet) = reader.next_packet() {
            let packet = packet.unwrap();
            assert_eq!(packet.orig_len as usize, packet.data.len());
            records.push((packet.timestamp, packet.data.into_owned()));
        }
        (header, records)
    }

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("ustack-pcap-{}-{tag}.pcap", std::process::id()))
    }

    /// A device that hands over, and takes, one TCP packet whose checksum field holds only
    /// the pseudo-header sum, as a TUN with offloads does.
    struct Offloading {
        packet: Vec<u8>,
        sent: Vec<Vec<u8>>,
    }

    impl Device for Offloading {
        fn mtu(&self) -> usize {
            1500
        }
        fn recv(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn send(&mut self, _: &[u8]) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn readiness(&self) -> Readiness {
            Readiness::Notify(std::sync::Arc::new(super::super::Notify::new()))
        }
        fn recv_with(&mut self, buf: &mut [u8]) -> io::Result<(usize, super::super::RxMeta)> {
            buf[..self.packet.len()].copy_from_slice(&self.packet);
            Ok((self.packet.len(), super::super::RxMeta { checksum_verified: true }))
        }
        fn send_with(&mut self, packet: &[u8], _: Option<super::super::Gso>) -> io::Result<()> {
            self.sent.push(packet.to_vec());
            Ok(())
        }
    }

    /// 10.0.0.1:1000 > 10.0.0.2:2000, 3000 bytes of data, the TCP checksum field seeded
    /// with the pseudo-header sum (what the kernel leaves to fill).
    fn seeded_tcp() -> Vec<u8> {
        use ustack_core::wire::checksum;
        let (src, dst) =
            (std::net::Ipv4Addr::new(10, 0, 0, 1), std::net::Ipv4Addr::new(10, 0, 0, 2));
        let total = 20 + 20 + 3000;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        ustack_core::wire::Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
        p[20..22].copy_from_slice(&1000u16.to_be_bytes());
        p[22..24].copy_from_slice(&2000u16.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = 0x10;
        for (i, b) in p[40..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let seed = checksum::pseudo_header_v4(src, dst, 6, (total - 20) as u32);
        p[36..38].copy_from_slice(&seed.to_be_bytes());
        p
    }

    fn tcp_checksum_ok(p: &[u8]) -> bool {
        let ip = ustack_core::wire::Ipv4Packet::new_checked(p).unwrap();
        ustack_core::wire::TcpPacket::new_checked(ip.payload())
            .unwrap()
            .verify_checksum(ip.src_addr(), ip.dst_addr())
    }

    #[test]
    fn offloaded_packets_are_recorded_with_their_checksum_filled_in() {
        let packet = seeded_tcp();
        assert!(!tcp_checksum_ok(&packet));
        let inner = Offloading { packet: packet.clone(), sent: Vec::new() };
        let mut dev = PcapDevice::new(inner, Vec::new()).unwrap();
        let mut buf = vec![0u8; 65_536];
        let (n, meta) = dev.recv_with(&mut buf).unwrap();
        assert!(meta.checksum_verified);
        assert_eq!(&buf[..n], &packet[..], "the packet itself is handed over unchanged");
        let gso = super::super::Gso { segment_size: 1000, header_len: 40, csum_start: 20 };
        dev.send_with(&packet, Some(gso)).unwrap();
        let (inner, sink) = dev.into_parts();
        assert_eq!(inner.sent, vec![packet.clone()], "and sent unchanged");
        let (_, records) = read_back(&sink.into_inner().unwrap());
        assert_eq!(records.len(), 2);
        for (_, rec) in &records {
            assert!(tcp_checksum_ok(rec), "recorded with a checksum that verifies");
            assert_eq!(rec[..36], packet[..36]);
            assert_eq!(rec[38..], packet[38..]);
        }
    }

    #[test]
    fn sink_records_read_back_exactly() {
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        let packets: [(Duration, &[u8]); 3] = [
            (Duration::ZERO, &[0x45, 0, 0, 20]),
            (Duration::new(1, 500_000_999), &[1; 1500]),
            (Duration::new(4_000_000_000, 999_999_000), &[]),
        ];
        for (ts, p) in packets {
            sink.write_packet(ts, p).unwrap();
        }
        assert_eq!(sink.packets_written(), 3);
        let bytes = sink.into_inner().unwrap();
        assert_eq!(bytes.len(), 24 + 3 * 16 + 4 + 1500);
        let (header, records) = read_back(&bytes);
        assert_eq!(header.datalink, DataLink::RAW);
        assert_eq!(header.ts_resolution, TsResolution::MicroSecond);
        assert_eq!(header.snaplen, 65_535);
        assert_eq!(records.len(), 3);
        for ((ts, p), (got_ts, got)) in packets.iter().zip(&records) {
            // Microsecond resolution: the nanoseconds below a microsecond are cut.
            let micros = Duration::new(ts.as_secs(), ts.subsec_micros() * 1000);
            assert_eq!(*got_ts, micros);
            assert_eq!(got, p);
        }
    }

    #[test]
    fn sink_rejects_what_pcap_cannot_hold() {
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        let big = vec![0; 65_536];
        let err = sink.write_packet(Duration::ZERO, &big).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = sink.write_packet(Duration::from_secs(1 << 32), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        sink.write_packet(Duration::ZERO, &big[..65_535]).unwrap();
        assert_eq!(sink.packets_written(), 1);
        let (_, records) = read_back(&sink.into_inner().unwrap());
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn device_records_both_directions_and_file_is_complete_on_drop() {
        let path = temp_path("device");
        let (a, mut b) = MemoryLink::pair(1500, 8);
        let mut a = PcapDevice::create(a, &path).unwrap();
        let sent: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 20 + usize::from(i)]).collect();
        for p in &sent {
            a.send(p).unwrap();
        }
        b.send(b"from b").unwrap();
        let mut buf = [0u8; 1500];
        let n = a.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"from b");
        // Not recorded: nothing crossed the device.
        assert_eq!(a.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(a.send(&[0; 1501]).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(a.packets_written(), 6);
        assert!(a.capturing());
        drop(a);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let (_, records) = read_back(&bytes);
        let mut expected = sent.clone();
        expected.push(b"from b".to_vec());
        let got: Vec<Vec<u8>> = records.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(got, expected);
        // Wall-clock timestamps, in order.
        assert!(records[0].0 > Duration::from_secs(1_600_000_000));
        assert!(records.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    /// A writer that accepts the header, then fails.
    struct FailAfter(usize);

    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn capture_error_stops_capture_but_not_traffic() {
        let (a, mut b) = MemoryLink::pair(1500, 8);
        let mut a = PcapDevice::new(a, FailAfter(24)).unwrap();
        a.send(b"one").unwrap();
        a.send(b"two").unwrap();
        assert!(!a.capturing());
        assert_eq!(a.packets_written(), 0);
        assert_eq!(a.take_capture_error().unwrap().to_string(), "disk full");
        assert!(a.take_capture_error().is_none());
        assert!(!a.capturing());
        let mut buf = [0u8; 16];
        assert_eq!(b.recv(&mut buf).unwrap(), 3);
        assert_eq!(b.recv(&mut buf).unwrap(), 3);
    }
}
