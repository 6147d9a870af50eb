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
