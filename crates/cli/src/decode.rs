//! `ustack decode FILE`: a pcap file, one line per packet.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;

use crate::describe::{Outcome, describe};

/// Arguments of `ustack decode`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The pcap file (link types raw IP, IPv4, Ethernet or Linux cooked capture).
    file: PathBuf,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let path = args.file.display();
    let file = File::open(&args.file).map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut reader = PcapReader::new(BufReader::new(file))
        .map_err(|e| format!("{path} is not a pcap file: {e}"))?;
    let datalink = reader.header().datalink;
    let strip = link_header(datalink).ok_or_else(|| {
        format!("{path}: link type {datalink:?} is not supported (raw IP, IPv4, Ethernet, Linux SLL are)")
    })?;

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut first_ts = None;
    let (mut total, mut decoded, mut skipped) = (0u64, 0u64, 0u64);
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| format!("{path}: packet {}: {e}", total + 1))?;
        total += 1;
        let start = *first_ts.get_or_insert(packet.timestamp);
        let rel = packet.timestamp.saturating_sub(start);
        let (line, outcome) = match strip(&packet.data) {
            Some(ip) => describe(ip),
            None => ("not IPv4 at the link layer".to_string(), Outcome::Skipped),
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
