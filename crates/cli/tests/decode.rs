//! `ustack decode` on real captures: the kernel's packets sent into a ustack TUN device over
//! IPv4 (docs/samples/kernel-probes.pcap, made by docs/samples/make-kernel-probes.sh) and over
//! IPv6 (docs/samples/kernel-probes6.pcap, make-kernel-probes6.sh); and `ustack capture` of
//! the kernel's IPv6 packets, run as root in a network namespace of its own.

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
    sample_named("kernel-probes.pcap")
}

fn sample_named(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples").join(name);
    p.to_str().unwrap().to_string()
}

#[test]
fn decodes_the_kernel_ipv6_sample_one_line_per_packet() {
    // Linux's packets into the device: tcpdump would print the same fields.
    let (ok, out, err) = ustack(&["decode", &sample_named("kernel-probes6.pcap")]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let has = |text: &str| lines.iter().any(|l| l.contains(text));
    assert!(
        has("fd00:77::1 > fd00:77::2: ICMP6, echo request, id 30067, seq 1, length 19"),
        "{out}"
    );
    assert!(has("fd00:77::1.36443 > fd00:77::2.9: UDP, length 3"), "{out}");
    // A 2,000-byte datagram over a 1280-byte MTU: two fragments with a Fragment header; the
    // first carries the UDP header (the whole datagram's length), the second data only.
    assert!(
        has("fd00:77::1.36443 > fd00:77::2.9: frag (id 0xb11851ce, offset 0+), UDP, length 2000"),
        "{out}"
    );
    assert!(
        has("fd00:77::1 > fd00:77::2: frag (id 0xb11851ce, offset 1232), UDP, length 776"),
        "{out}"
    );
    let syns: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("fd00:77::1.57376 > fd00:77::2.80: Flags [S], seq 931817116"))
        .collect();
    assert_eq!(syns.len(), 4, "the SYN and three retransmissions: {out}");
    for syn in syns {
        // The MSS of a 1280-byte MTU: 1280 - 40 - 20.
        assert!(syn.contains("options [mss 1220,sackOK,TS val "), "{syn}");
    }
    // Router solicitations are ICMPv6 that ustack does not parse: shown, counted as skipped.
    assert!(has("> ff02::2: ICMP6 type 133 (not decoded)"), "{out}");
    assert_eq!(lines.last(), Some(&"10 packets: 8 decoded, 0 malformed, 2 skipped"));
}

#[test]
fn corrupt_ipv6_packet_is_reported_with_its_reason() {
    let mut bytes = std::fs::read(sample_named("kernel-probes6.pcap")).unwrap();
    // The last packet is a SYN: flip a byte of its timestamp option.
    let at = bytes.len() - 8;
    bytes[at] ^= 0x55;
    let path = std::env::temp_dir().join(format!("ustack-corrupt6-{}.pcap", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let (ok, out, err) = ustack(&["decode", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("fd00:77::1 > fd00:77::2: TCP bad checksum"), "{out}");
    assert!(
        out.ends_with("10 packets: 7 decoded, 1 malformed, 2 skipped (bad_checksum 1)\n"),
        "{out}"
    );
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

// ---- ustack capture over IPv6, as root in a network namespace ----

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Whether the effective user is root (the second field of `Uid:` in /proc/self/status).
fn am_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// A network namespace made with `ip netns add`, deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).output();
    }
}

#[test]
#[allow(clippy::print_stderr)] // the reason a skipped test did not run
fn capture_shows_the_ipv6_packets_the_kernel_sends_into_the_device() {
    if !am_root() || !Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success()) {
        assert!(!under_ci(), "needs root and `ip` (CI is set: this test must run, not skip)");
        eprintln!("SKIPPED: not root, or no `ip`: creating namespaces and TUN devices needs both");
        return;
    }
    let ns = Netns(format!("ust-cap6-{}", std::process::id()));
    let made = Command::new("ip").args(["netns", "add", &ns.0]).output().unwrap();
    assert!(made.status.success(), "ip netns add: {made:?}");
    // Capture for at most 10 s (until one datagram to port 9 has come, or the time is up);
    // the kernel sends the datagram once its address is on the device and no longer
    // tentative (before, it would send from ::1).
    let script = format!(
        r#"ip link set lo up
"{bin}" capture --dev ustcap0 --host-addr6 fd00:78::1/64 --mtu 1280 --duration 10 > "$OUT" &
capture=$!
for i in $(seq 100); do
  ip -6 addr show dev ustcap0 2>/dev/null | grep fd00:78::1 | grep -qv tentative && break
  sleep 0.1
done
echo hi > /dev/udp/fd00:78::2/9
for i in $(seq 100); do grep -q '> fd00:78::2.9: UDP' "$OUT" && break; sleep 0.1; done
kill -TERM $capture
wait $capture"#,
        bin = env!("CARGO_BIN_EXE_ustack")
    );
    let out_file = std::env::temp_dir().join(format!("ustack-cap6-{}.txt", std::process::id()));
    let run = Command::new("ip")
        .args(["netns", "exec", &ns.0, "bash", "-c", &script])
        .env("OUT", &out_file)
        .output()
        .unwrap();
    let lines = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}\n{lines}");
    assert!(
        stderr.contains("capturing on ustcap0 (kernel side fd00:78::1/64, mtu 1280)"),
        "{stderr}"
    );
    assert!(
        lines
            .lines()
            .any(|l| l.contains("fd00:78::1.") && l.contains(" > fd00:78::2.9: UDP, length 3")),
        "the kernel's datagram, one line:\n{lines}\n{stderr}"
    );
}
