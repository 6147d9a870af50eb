//! `ustack sim`: a transfer between two simulated hosts, its report, its pcap, its replay, and
//! its errors.

use std::process::Command;

fn ustack(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ustack")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The value of the report line `label: value`.
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}:");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no '{label}:' line in:\n{out}"))
        .trim()
}

#[test]
fn a_transfer_reports_goodput_retransmissions_and_states_and_replays_from_its_seed() {
    let dir = std::env::temp_dir();
    let pcap = |n| dir.join(format!("ustack-sim-{}-{n}.pcap", std::process::id()));
    let run = |file: &std::path::Path| {
        ustack(&[
            "sim",
            "--rate",
            "10mbit",
            "--delay",
            "5ms",
            "--loss",
            "2%",
            "--bytes",
            "64KiB",
            "--seed",
            "3",
            "--pcap",
            file.to_str().unwrap(),
        ])
    };
    let (code, out, err) = run(&pcap(1));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("ustack sim: 65536 bytes from 10.0.0.1 to 10.0.0.2:5001"), "{out}");
    assert!(out.lines().next().unwrap().ends_with("2% loss, seed 3"), "{out}");
    assert!(field(&out, "transfer").starts_with("complete: 65536 of 65536 bytes"), "{out}");
    assert!(field(&out, "completion time").ends_with("(virtual)"), "{out}");
    let goodput = field(&out, "goodput");
    assert!(goodput.contains(" Mbit/s (") && goodput.ends_with(" bit/s)"), "{goodput}");
    let retransmissions = field(&out, "retransmissions");
    assert!(retransmissions.starts_with("client ") && retransmissions.contains(", server "));
    assert_eq!(field(&out, "client"), "TIME-WAIT -> CLOSED");
    assert_eq!(field(&out, "server"), "LAST-ACK -> CLOSED");
    let link = field(&out, "link client->server");
    assert!(link.contains("packets sent") && link.contains("(loss "), "{link}");
    assert!(field(&out, "link server->client").contains("dropped"), "{out}");
    assert!(field(&out, "pcap").ends_with(" packets)"), "{out}");

    // A pcap of raw IPv4 packets, nanosecond timestamps.
    let bytes = std::fs::read(pcap(1)).unwrap();
    assert_eq!(bytes[..4], [0x4d, 0x3c, 0xb2, 0xa1], "nanosecond pcap magic, little-endian");
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101, "LINKTYPE_RAW");
    assert_eq!(bytes[24 + 16] >> 4, 4, "an IPv4 packet");

    // The same seed replays: the same report, the same capture, byte for byte.
    let (code, again, _) = run(&pcap(2));
    assert_eq!(code, Some(0));
    let strip_pcap = |s: &str| -> String {
        s.lines().filter(|l| !l.starts_with("pcap:")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip_pcap(&out), strip_pcap(&again));
    assert!(bytes == std::fs::read(pcap(2)).unwrap(), "seed 3 gave two different captures");
    for n in [1, 2] {
        std::fs::remove_file(pcap(n)).unwrap();
    }
}

#[test]
fn ipv6_transfer_runs_between_2001_db8_1_and_2_and_captures_ipv6_packets() {
    // `--ipv6`: the same transfer over IPv6; the pcap's LINKTYPE_RAW (101) carries IPv6 as
    // it carries IPv4 (version nibble 6), the SYN announcing MSS 1500 − 60 = 1440.
    let pcap = std::env::temp_dir().join(format!("ustack-sim6-{}.pcap", std::process::id()));
    let (code, out, err) = ustack(&[
        "sim",
        "--ipv6",
        "--rate",
        "10mbit",
        "--delay",
        "5ms",
        "--loss",
        "2%",
        "--bytes",
        "64KiB",
        "--seed",
        "3",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("ustack sim: 65536 bytes from 2001:db8::1 to [2001:db8::2]:5001"));
    assert!(field(&out, "transfer").starts_with("complete: 65536 of 65536 bytes"), "{out}");
    assert_eq!(field(&out, "client"), "TIME-WAIT -> CLOSED");
    let bytes = std::fs::read(&pcap).unwrap();
    std::fs::remove_file(&pcap).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101, "LINKTYPE_RAW");
    let first = &bytes[24 + 16..];
    assert_eq!(first[0] >> 4, 6, "an IPv6 packet");
    assert_eq!(first[6], 6, "TCP");
    // The SYN's options start with MSS (kind 2, length 4).
    assert_eq!(&first[60..64], &[2, 4, 0x05, 0xa0], "MSS 1440");

    let (code, _, err) = ustack(&[
        "sim", "--ipv6", "--mtu", "1000", "--rate", "10mbit", "--delay", "5ms", "--loss", "0",
        "--bytes", "1KiB",
    ]);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("below IPv6's minimum of 1280"), "{err}");
}

#[test]
fn a_transfer_that_misses_its_time_limit_fails_naming_the_seed() {
    let (code, out, err) = ustack(&[
        "sim",
        "--rate",
        "100kbit",
        "--delay",
        "10ms",
        "--loss",
        "0",
        "--bytes",
        "1MB",
        "--seed",
        "9",
        "--time-limit",
        "2s",
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(field(&out, "transfer").starts_with("INCOMPLETE: "), "{out}");
    assert_eq!(field(&out, "goodput"), "-");
    assert_eq!(field(&out, "client"), "- -> ESTABLISHED");
    assert!(err.contains("virtual-time bound") && err.contains("seed 9"), "{err}");
}

#[test]
fn bursty_loss_per_time_and_per_packet_are_named_counted_and_replayed() {
    let run = |model: &[&str]| {
        let mut args = vec![
            "sim",
            "--rate",
            "10mbit",
            "--delay",
            "5ms",
            "--loss",
            "0",
            "--bytes",
            "64KiB",
            "--seed",
            "2",
            "--burst-loss",
            "20%",
        ];
        args.extend(model);
        let (code, out, err) = ustack(&args);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(field(&out, "transfer").starts_with("complete: 65536 of 65536 bytes"), "{out}");
        out
    };
    let burst_drops = |out: &str| -> u64 {
        let link = field(out, "link client->server");
        let n = link.split("burst loss ").nth(1).unwrap().split(',').next().unwrap();
        n.parse().unwrap()
    };

    let timed = run(&["--burst-len", "20ms"]);
    assert!(
        field(&timed, "link").ends_with("burst loss 20% in fades of 20 ms on average (per time)"),
        "{timed}"
    );
    assert!(burst_drops(&timed) > 0, "{timed}");
    assert_eq!(timed, run(&["--burst-len", "20ms"]), "seed 2 replays");

    let per_packet = run(&["--burst-packets", "4"]);
    assert!(
        field(&per_packet, "link")
            .ends_with("burst loss 20% in bursts of 4 packets on average (per packet)"),
        "{per_packet}"
    );
    assert!(burst_drops(&per_packet) > 0, "{per_packet}");
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let base = ["sim", "--rate", "10mbit", "--delay", "10ms", "--loss", "0.01", "--bytes", "1000"];
    let with = |flag: &str, value: &str| {
        let mut args: Vec<&str> = base.to_vec();
        match args.iter().position(|a| *a == flag) {
            Some(i) => args[i + 1] = value,
            None => args.extend([flag, value]),
        }
        let (code, out, err) = ustack(&args.iter().map(|s| &**s).collect::<Vec<_>>());
        assert_ne!(code, Some(0), "{flag} {value} accepted: {out}");
        err
    };
    assert!(with("--loss", "1.5").contains("loss must be between 0 and 1"));
    assert!(with("--loss", "150%").contains("loss must be between 0 and 1"));
    assert!(with("--dup", "-0.1").contains("dup must be between 0 and 1"));
    assert!(with("--rate", "fast").contains("does not start with a number"));
    assert!(with("--rate", "10mbits").contains("unknown rate unit"));
    assert!(with("--delay", "10").contains("needs a unit"));
    assert!(with("--bytes", "1 parsec").contains("unknown size unit"));
    assert!(with("--bytes", "0").contains("bytes must be between 1"));
    assert!(with("--mtu", "40").contains("--mtu"));
    assert!(with("--burst-len", "5ms").contains("--burst-loss <P>"));
    assert!(with("--burst-loss", "5%").contains("<--burst-len <D>|--burst-packets <N>>"));
    assert!(with("--burst-loss", "100%").contains("burst-loss must be below 1"));
    let both = ["--burst-loss", "5%", "--burst-len", "5ms", "--burst-packets", "3"];
    let (code, _, err) = ustack(&[&base[..], &both].concat());
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
    let short = ["--burst-loss", "60%", "--burst-packets", "1"];
    let (code, _, err) = ustack(&[&base[..], &short].concat());
    assert_eq!(code, Some(1));
    assert!(err.contains("needs bursts of at least 1.500 packets"), "{err}");
    assert!(with("--burst-len", "0").contains("burst-len must be at least 1 us"));
    let (code, _, err) = ustack(&["sim", "--rate", "10mbit", "--delay", "1ms", "--loss", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--bytes <N>"), "{err}");
}

#[test]
fn settings_by_sysctl_name_apply_and_a_misspelt_one_is_refused_with_a_hint() {
    let base = ["sim", "--rate", "10mbit", "--delay", "5ms", "--loss", "0", "--bytes", "64KiB"];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        ustack(&args)
    };
    let (code, out, err) = with(&["--sysctl", "net.ipv4.tcp_congestion_control=reno"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, err) = with(&["--sysctl", "net.ipv4.tcp_sak=0"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        "ustack: --sysctl: net.ipv4.tcp_sak: no such setting (did you mean net.ipv4.tcp_sack?)"
    );
    let (code, _, err) = with(&["--sysctl", "net.core.somaxconn=8"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("only TCP settings"), "{err}");
}
