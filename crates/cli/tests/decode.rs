//! `ustack decode` on a real capture: the kernel's packets sent into a ustack TUN device
//! (docs/samples/kernel-probes.pcap, made by docs/samples/make-kernel-probes.sh).

use std::path::Path;
use std::process::Command;

fn ustack(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ustack")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn sample() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples/kernel-probes.pcap");
    p.to_str().unwrap().to_string()
}

#[test]
fn decodes_the_kernel_sample() {
    let (ok, out, err) = ustack(&["decode", &sample()]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("10.77.0.1 > 10.77.0.2: ICMP echo request, id 30067, seq 1")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.contains("10.77.0.1.45497 > 10.77.0.2.9: UDP, length 3")),
        "{out}"
    );
    let syns: Vec<&&str> =
        lines.iter().filter(|l| l.contains("> 10.77.0.2.80: Flags [S], seq 677020948")).collect();
    assert_eq!(syns.len(), 4, "the SYN and three retransmissions: {out}");
    for syn in syns {
        assert!(
            syn.contains("options [mss 1460,sackOK,TS val ")
                && syn.contains(" ecr 0,nop,wscale 10]"),
            "{syn}"
        );
    }
    assert_eq!(lines.last(), Some(&"8 packets: 6 decoded, 0 malformed, 2 skipped"));
}

#[test]
fn corrupt_packet_is_reported_with_its_reason() {
    let mut bytes = std::fs::read(sample()).unwrap();
    // Flip a byte of the last SYN's timestamp option: its TCP checksum fails.
    let at = bytes.len() - 8;
    bytes[at] ^= 0x55;
    let path = std::env::temp_dir().join(format!("ustack-corrupt-{}.pcap", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let (ok, out, err) = ustack(&["decode", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("10.77.0.1 > 10.77.0.2: TCP bad checksum"), "{out}");
    assert!(
        out.ends_with("8 packets: 5 decoded, 1 malformed, 2 skipped (bad_checksum 1)\n"),
        "{out}"
    );
}

#[test]
fn clear_errors_for_bad_input() {
    let (ok, _, err) = ustack(&["decode", "/nonexistent/x.pcap"]);
    assert!(!ok);
    assert!(err.contains("cannot open /nonexistent/x.pcap"), "{err}");
    let (ok, _, err) = ustack(&["decode", env!("CARGO_MANIFEST_DIR")]);
    assert!(!ok);
    assert!(err.contains("is not a pcap file") || err.contains("cannot open"), "{err}");
    let (ok, _, err) = ustack(&["capture", "--host-addr", "10.0.0.1"]);
    assert!(!ok);
    assert!(err.contains("expected ADDR/PREFIX"), "{err}");
}

/// The sample pcap rewritten as pcapng: one interface with `if_tsresol` `resol` (none:
/// the default, microseconds), an enhanced packet block per packet.
fn as_pcapng(resol: Option<u8>) -> std::path::PathBuf {
    use pcap_file::pcap::PcapReader;
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::{
        InterfaceDescriptionBlock, InterfaceDescriptionOption,
    };
    let mut reader = PcapReader::new(std::fs::File::open(sample()).unwrap()).unwrap();
    let datalink = reader.header().datalink;
    let out = std::env::temp_dir().join(format!(
        "ustack-decode-{}-{}.pcapng",
        std::process::id(),
        resol.map_or(-1, i32::from)
    ));
    let mut w = PcapNgWriter::new(std::fs::File::create(&out).unwrap()).unwrap();
    let mut idb = InterfaceDescriptionBlock::new(datalink, 65535);
    if let Some(r) = resol {
        idb.options.push(InterfaceDescriptionOption::IfTsResol(r));
    }
    w.write_pcapng_block(idb).unwrap();
    let units_per_sec: u128 = 10u128.pow(u32::from(resol.unwrap_or(6)));
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        // pcap-file writes the Duration's nanoseconds as the raw 64-bit timestamp.
        let raw = p.timestamp.as_nanos() * units_per_sec / 1_000_000_000;
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: std::time::Duration::from_nanos(raw as u64),
            original_len: p.orig_len,
            data: p.data,
            options: vec![],
        };
        w.write_pcapng_block(epb).unwrap();
    }
    out
}

#[test]
fn decodes_pcapng_as_it_decodes_the_same_packets_in_pcap() {
    // pcapng (the format Wireshark and dumpcap write by default) carries the same packets
    // with their link type per interface and timestamps in the interface's if_tsresol units
    // (microseconds by default): the lines must be the same as for the pcap.
    let (ok, want, err) = ustack(&["decode", &sample()]);
    assert!(ok, "{err}");
    for resol in [None, Some(9)] {
        let file = as_pcapng(resol);
        let (ok, got, err) = ustack(&["decode", file.to_str().unwrap()]);
        std::fs::remove_file(&file).unwrap();
        assert!(ok, "{err}");
        assert_eq!(got, want, "if_tsresol {resol:?}");
    }
}
