//! `ustack decode FILE`: a capture file (pcap or pcapng), one line per packet.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};

use crate::describe::{Outcome, describe};

/// Arguments of `ustack decode`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The capture file, pcap or pcapng (link types raw IP, IPv4, Ethernet or Linux cooked
    /// capture).
    file: PathBuf,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let path = args.file.display();
    let mut file = File::open(&args.file).map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!("{path} is not a pcap file (nor pcapng): too short")
        }
        _ => format!("cannot open {path}: {e}"),
    })?;
    file.seek(SeekFrom::Start(0)).map_err(|e| format!("{path}: {e}"))?;
    let packets: Box<dyn Iterator<Item = Result<Packet, String>>> = if magic == PCAPNG_MAGIC {
        pcapng(BufReader::new(file), &path.to_string())?
    } else {
        pcap(BufReader::new(file), &path.to_string())?
    };

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut first_ts = None;
    let (mut total, mut decoded, mut skipped) = (0u64, 0u64, 0u64);
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    for packet in packets {
        let packet = packet.map_err(|e| format!("{path}: packet {}: {e}", total + 1))?;
        total += 1;
        let start = *first_ts.get_or_insert(packet.timestamp);
        let rel = packet.timestamp.saturating_sub(start);
        let (line, outcome) = match link_header(packet.datalink) {
            None => (format!("link type {:?} is not supported", packet.datalink), Outcome::Skipped),
            Some(strip) => match strip(&packet.data) {
                Some(ip) => describe(ip),
                None => ("not IPv4 at the link layer".to_string(), Outcome::Skipped),
            },
        };
        match outcome {
            Outcome::Decoded => decoded += 1,
            Outcome::Skipped => skipped += 1,
            Outcome::Error(e) => *errors.entry(e.name()).or_default() += 1,
        }
        writeln!(out, "{total:>5} {:>4}.{:06} {line}", rel.as_secs(), rel.subsec_micros())
            .map_err(|e| e.to_string())?;
    }
    let failed: u64 = errors.values().sum();
    let mut summary =
        format!("{total} packets: {decoded} decoded, {failed} malformed, {skipped} skipped");
    if failed > 0 {
        let reasons: Vec<String> = errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        summary.push_str(&format!(" ({})", reasons.join(", ")));
    }
    writeln!(out, "{summary}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

/// A pcapng file starts with a section header block, type 0x0A0D0D0A.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// One captured frame.
struct Packet {
    timestamp: Duration,
    datalink: DataLink,
    data: Vec<u8>,
}

fn pcap(
    r: BufReader<File>,
    path: &str,
) -> Result<Box<dyn Iterator<Item = Result<Packet, String>>>, String> {
    let mut reader =
        PcapReader::new(r).map_err(|e| format!("{path} is not a pcap file (nor pcapng): {e}"))?;
    let datalink = reader.header().datalink;
    if link_header(datalink).is_none() {
        return Err(format!(
            "{path}: link type {datalink:?} is not supported (raw IP, IPv4, Ethernet, Linux SLL are)"
        ));
    }
    Ok(Box::new(std::iter::from_fn(move || {
        let p = reader.next_packet()?;
        Some(p.map_err(|e| e.to_string()).map(|p| Packet {
            timestamp: p.timestamp,
            datalink,
            data: p.data.into_owned(),
        }))
    })))
}

/// pcapng: enhanced and simple packet blocks, each with its interface's link type and
/// timestamp resolution (`if_tsresol`, microseconds unless the interface says otherwise).
fn pcapng(
    r: BufReader<File>,
    path: &str,
) -> Result<Box<dyn Iterator<Item = Result<Packet, String>>>, String> {
    let mut reader =
        PcapNgReader::new(r).map_err(|e| format!("{path} is not a pcapng file: {e}"))?;
    // Each interface's link type and timestamp resolution, as its description block came.
    let mut interfaces: Vec<(DataLink, u8)> = Vec::new();
    Ok(Box::new(std::iter::from_fn(move || {
        loop {
            let (id, raw, data) = match reader.next_block()? {
                Err(e) => return Some(Err(e.to_string())),
                Ok(Block::SectionHeader(_)) => {
                    interfaces.clear(); // a new section numbers its interfaces anew
                    continue;
                }
                Ok(Block::InterfaceDescription(idb)) => {
                    let resol = idb.options.iter().find_map(|o| match o {
                        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                        _ => None,
                    });
                    interfaces.push((idb.linktype, resol.unwrap_or(6)));
                    continue;
                }
                // The block's 64-bit timestamp counts units of the interface's resolution;
                // pcap-file hands it over as if they were nanoseconds.
                Ok(Block::EnhancedPacket(epb)) => {
                    (epb.interface_id, epb.timestamp.as_nanos(), epb.data.into_owned())
                }
                Ok(Block::SimplePacket(spb)) => (0, 0, spb.data.into_owned()),
                Ok(_) => continue,
            };
            let Some(&(datalink, resol)) = interfaces.get(id as usize) else {
                return Some(Err(format!("interface {id} is not described")));
            };
            return Some(Ok(Packet { timestamp: units_to_duration(raw, resol), datalink, data }));
        }
    })))
}

/// `raw` units of `if_tsresol` `resol` (bit 7 clear: 10^-n s, set: 2^-n s) as a duration.
fn units_to_duration(raw: u128, resol: u8) -> Duration {
    let n = u32::from(resol & 0x7f);
    let nanos = if resol & 0x80 == 0 {
        if n <= 9 { raw * 10u128.pow(9 - n) } else { raw / 10u128.pow((n - 9).min(38)) }
    } else {
        (raw * 1_000_000_000) >> n.min(127)
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Finds the IP packet inside a link-layer frame, or `None` when the frame carries no IPv4.
type Unwrap = fn(&[u8]) -> Option<&[u8]>;

/// The function that finds the IP packet inside a frame of this link type.
fn link_header(datalink: DataLink) -> Option<Unwrap> {
    fn raw(frame: &[u8]) -> Option<&[u8]> {
        Some(frame)
    }
    fn ethernet(frame: &[u8]) -> Option<&[u8]> {
        (frame.get(12..14)? == [0x08, 0x00]).then(|| &frame[14..])
    }
    fn linux_sll(frame: &[u8]) -> Option<&[u8]> {
        (frame.get(14..16)? == [0x08, 0x00]).then(|| &frame[16..])
    }
    match datalink {
        DataLink::RAW | DataLink::IPV4 => Some(raw),
        DataLink::ETHERNET => Some(ethernet),
        DataLink::LINUX_SLL => Some(linux_sll),
        _ => None,
    }
}
