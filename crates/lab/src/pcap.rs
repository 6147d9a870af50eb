//! The pcap file of a run: every packet as its host put it on the link (lost ones included,
//! corrupted ones as corrupted), at the virtual time it was sent.
//!
//! Classic pcap, link type raw IP (101), nanosecond timestamps counted from the start of the
//! run (tools show January 1970), little-endian: Wireshark, tshark and tcpdump read it, and
//! the same seed gives the same bytes.

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::trace::Trace;

/// The pcap file of `trace`.
pub fn pcap(trace: &Trace) -> Vec<u8> {
    let header = PcapHeader {
        snaplen: 65_535,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::NanoSecond,
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).expect("writing to a Vec");
    for p in &trace.packets {
        let ts = p.sent_at.since_epoch();
        let packet = PcapPacket::new(ts, p.bytes.len() as u32, &p.bytes);
        w.write_packet(&packet).expect("writing to a Vec");
    }
    w.into_writer()
}
