//! Per-link packet capture in virtual time.
//!
//! Files are classic pcap, link type `LINKTYPE_RAW` (101: each record an IP packet, no link
//! header), nanosecond timestamps counted from the simulation's epoch (tools show January
//! 1970), little-endian whatever the machine, so the same seed gives the same bytes
//! everywhere. Wireshark, tshark and tcpdump read them. A tap records both directions of its
//! link, in the order the network handled the packets, so timestamps never go backwards.

use std::fmt;
use std::io::{self, Write};

use pcap_file::pcap::PcapHeader;
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use ustack_core::Instant;

use crate::config::MAX_MTU;
use crate::link::LinkId;

/// Where on a link a tap records packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapPoint {
    /// Where packets enter the link: every packet a host sent, as it sent it, at the time it
    /// sent it, including those the link then drops.
    Sent,
    /// Where packets leave the link: what the receiving host got, at the time it got it,
    /// corrupted bits and duplicates included.
    Delivered,
}

/// A capture on a link, returned by [`Network::tap`](crate::Network::tap) and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TapId(pub(crate) usize);

/// One capture: where it listens and where its records go.
pub(crate) struct Tap {
    pub(crate) link: LinkId,
    pub(crate) point: TapPoint,
    out: Out,
    packets: u64,
    /// The first write error; the tap records nothing after it.
    error: Option<io::Error>,
}

enum Out {
    Memory(Vec<u8>),
    Writer(Box<dyn Write>),
}

impl fmt::Debug for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tap")
            .field("link", &self.link)
            .field("point", &self.point)
            .field("in_memory", &matches!(self.out, Out::Memory(_)))
            .field("packets", &self.packets)
            .field("error", &self.error)
            .finish()
    }
}

impl Tap {
    /// A capture kept in memory.
    pub(crate) fn memory(link: LinkId, point: TapPoint) -> Self {
        let mut buf = Vec::new();
        write_header(&mut buf).expect("writing to a Vec cannot fail");
        Tap { link, point, out: Out::Memory(buf), packets: 0, error: None }
    }

    /// A capture written to `out`, starting with the file header.
    pub(crate) fn writer(
        link: LinkId,
        point: TapPoint,
        mut out: Box<dyn Write>,
    ) -> io::Result<Self> {
        write_header(&mut out)?;
        Ok(Tap { link, point, out: Out::Writer(out), packets: 0, error: None })
    }

    /// Appends `packet`, captured at `now`.
    pub(crate) fn record(&mut self, now: Instant, packet: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.out {
            Out::Memory(buf) => write_record(buf, now, packet),
            Out::Writer(w) => write_record(w, now, packet),
        };
        match result {
            Ok(()) => self.packets += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// The file so far, for a capture kept in memory.
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match &self.out {
            Out::Memory(buf) => Some(buf),
            Out::Writer(_) => None,
        }
    }

    pub(crate) fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes the writer; returns the first write error, if one stopped the capture.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &mut self.out {
            Out::Memory(_) => Ok(()),
            Out::Writer(w) => w.flush(),
        }
    }
}

fn write_header(out: &mut impl Write) -> io::Result<()> {
    let header = PcapHeader {
        snaplen: MAX_MTU as u32,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::NanoSecond,
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    header.write_to(out).map(drop).map_err(|e| match e {
        PcapError::IoError(e) => e,
        other => io::Error::other(other),
    })
}

/// The 16-byte record header (seconds, nanoseconds, captured and original length), then the
/// packet. Written here because pcap-file's record writer wants a byte-order type parameter
/// from a crate of its own.
fn write_record(out: &mut impl Write, now: Instant, packet: &[u8]) -> io::Result<()> {
    let nanos = now.as_nanos();
    let secs = u32::try_from(nanos / 1_000_000_000).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("pcap: time {now} is past 2106"))
    })?;
    // The network never carries more than MAX_MTU bytes.
    let len = packet.len().min(MAX_MTU) as u32;
    let mut record = [0u8; 16];
    record[0..4].copy_from_slice(&secs.to_le_bytes());
    record[4..8].copy_from_slice(&((nanos % 1_000_000_000) as u32).to_le_bytes());
    record[8..12].copy_from_slice(&len.to_le_bytes());
    record[12..16].copy_from_slice(&len.to_le_bytes());
    out.write_all(&record)?;
    out.write_all(&packet[..len as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;

    #[test]
    fn records_read_back_with_virtual_timestamps() {
        let mut tap = Tap::memory(LinkId(0), TapPoint::Delivered);
        tap.record(Instant::from_nanos(1_500_000_123), &[0x45, 1, 2]);
        tap.record(Instant::from_secs(3), &[0x45]);
        assert_eq!(tap.packets(), 2);
        let mut reader = PcapReader::new(tap.bytes().unwrap()).unwrap();
        assert_eq!(reader.header().datalink, DataLink::RAW);
        assert_eq!(reader.header().ts_resolution, TsResolution::NanoSecond);
        let p = reader.next_packet().unwrap().unwrap();
        assert_eq!(p.timestamp, Instant::from_nanos(1_500_000_123).since_epoch());
        assert_eq!(&*p.data, &[0x45, 1, 2]);
        let p = reader.next_packet().unwrap().unwrap();
        assert_eq!(p.timestamp.as_secs(), 3);
        assert!(reader.next_packet().is_none());
    }
}
