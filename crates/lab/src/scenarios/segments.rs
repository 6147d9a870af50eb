//! Segments and UDP: the TCP header and its options, field by field (S22); UDP's bind,
//! connect and receive buffer (S23).

use core::fmt::Write as _;

use ustack_core::tcp_engine::TcpState;
use ustack_core::{Duration, Instant};
use ustack_wire::checksum;
use ustack_wire::tcp::{TcpOption, TcpOptionIter};

use crate::check::Checks;
use crate::node::Auto;
use crate::registry::Run;
use crate::script::{Action, Match, Rule};
use crate::trace::{Packet, Side};
use crate::world::{Setup, World};

use super::close::establish;

/// The TCP header of `p`, field by field: offset, size, raw bytes, value, meaning.
fn decode(p: &Packet) -> (String, Vec<(String, String)>) {
    let ip = &p.bytes;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let tcp = &ip[ihl..];
    let hex = |r: core::ops::Range<usize>| {
        tcp[r].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    };
    let be16 = |i: usize| u16::from_be_bytes([tcp[i], tcp[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([tcp[i], tcp[i + 1], tcp[i + 2], tcp[i + 3]]);
    let offset = usize::from(tcp[12] >> 4);
    let flags = tcp[13];
    let names = [
        (0x80, "CWR"),
        (0x40, "ECE"),
        (0x20, "URG"),
        (0x10, "ACK"),
        (0x08, "PSH"),
        (0x04, "RST"),
        (0x02, "SYN"),
        (0x01, "FIN"),
    ];
    let set: Vec<&str> = names.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| *n).collect();
    let src = core::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = core::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let sum = checksum::combine(&[
        checksum::pseudo_header_v4(src, dst, 6, tcp.len() as u32),
        checksum::data(tcp),
    ]);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut out = String::new();
    let _ = writeln!(out, "offset  bytes                field                 value");
    let mut row = |off: &str, bytes: String, field: &str, value: String| {
        let _ = writeln!(out, "{off:<7} {bytes:<20} {field:<21} {value}");
        fields.push((field.to_string(), value));
    };
    row("0", hex(0..2), "source port", be16(0).to_string());
    row("2", hex(2..4), "destination port", be16(2).to_string());
    row("4", hex(4..8), "sequence number", be32(4).to_string());
    row(
        "8",
        hex(8..12),
        "acknowledgment",
        format!(
            "{} ({})",
            be32(8),
            if flags & 0x10 != 0 { "valid: ACK set" } else { "ignored: ACK not set" }
        ),
    );
    row(
        "12",
        format!("{:x}_", tcp[12] >> 4),
        "data offset",
        format!("{offset} words = {} bytes of header", offset * 4),
    );
    row(
        "12-13",
        format!("{:02x} {:02x}", tcp[12] & 0x0f, flags),
        "reserved + flags",
        format!("{} ({flags:08b})", set.join(" ")),
    );
    row(
        "14",
        hex(14..16),
        "window",
        format!("{} (unscaled; a SYN's window is never scaled)", be16(14)),
    );
    row(
        "16",
        hex(16..18),
        "checksum",
        format!(
            "0x{:04x} (sum with pseudo-header 0x{sum:04x}: {})",
            be16(16),
            if sum == 0xffff { "valid" } else { "INVALID" }
        ),
    );
    row(
        "18",
        hex(18..20),
        "urgent pointer",
        format!(
            "{} ({})",
            be16(18),
            if flags & 0x20 != 0 { "URG set" } else { "meaningless: URG not set" }
        ),
    );
    let mut at = 20;
    for option in TcpOptionIter::new(&tcp[20..offset * 4]) {
        let Ok(option) = option else { break };
        let len = match option {
            TcpOption::End | TcpOption::Nop => 1,
            _ => usize::from(tcp[at + 1]),
        };
        let name = match option {
            TcpOption::End => "option EOL (kind 0)",
            TcpOption::Nop => "option NOP (kind 1)",
            TcpOption::Mss(_) => "option MSS (kind 2)",
            TcpOption::WindowScale(_) => "option wscale (kind 3)",
            TcpOption::SackPermitted => "option SACK-perm (4)",
            TcpOption::Sack(_) => "option SACK (kind 5)",
            TcpOption::Timestamps(_) => "option TS (kind 8)",
            TcpOption::FastOpen(_) => "option TFO (kind 34)",
            TcpOption::Other { .. } => "option (unknown)",
        };
        let value = match option {
            TcpOption::Nop => "padding, aligns the next option".to_string(),
            TcpOption::WindowScale(w) => format!("shift {w}: windows after the SYN are << {w}"),
            other => other.to_string(),
        };
        let bytes =
            tcp[at..at + len].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        row(
            &at.to_string(),
            if bytes.len() > 20 { format!("{}…", &bytes[..18]) } else { bytes },
            name,
            value,
        );
        at += len;
    }
    row(&at.to_string(), String::new(), "payload", format!("{} bytes", tcp.len() - at));
    (out, fields)
}

/// S22: a SYN and a SACK-carrying ACK decoded field by field.
pub(crate) fn header_and_options(seed: u64) -> Run {
    let mut w = World::new(&Setup::new(), seed);
    w.rule(
        Side::Client,
        Rule::nth(Match::Data, 1, Action::Drop, "lost, so that the next ones draw SACK blocks"),
    );
    let (c, sv) = establish(&mut w, Auto { read: true, ..Auto::default() });
    w.send(Side::Client, c, &crate::pattern(3 * 1448));
    w.run_while(Duration::from_secs(5), |v| v.node(Side::Server).received(sv).len() < 3 * 1448);
    w.run_for(Duration::from_millis(100)).expect("run");
    let trace = w.finish();

    let mut checks = Checks::default();
    let mut extras = Vec::new();
    let syn = trace.sent_by(Side::Client).find(|p| p.tcp().is_some_and(|t| t.is_syn()));
    let sack = trace
        .sent_by(Side::Server)
        .find(|p| p.tcp().is_some_and(|t| !t.options.sack_blocks.as_slice().is_empty()));
    if let Some(p) = syn {
        let (table, fields) = decode(p);
        extras.push(("the client's SYN, field by field".to_string(), table));
        let get = |name: &str| {
            fields.iter().find(|f| f.0 == name).map(|f| f.1.clone()).unwrap_or_default()
        };
        checks.that(
            "data offset 10 words: 20 bytes of fixed header and 20 of options",
            get("data offset").starts_with("10 words"),
            get("data offset"),
        );
        checks.that(
            "flags: SYN alone",
            get("reserved + flags").starts_with("SYN ("),
            get("reserved + flags"),
        );
        checks.that(
            "the checksum verifies over pseudo-header, header and data (RFC 9293 §3.1)",
            get("checksum").contains("valid") && !get("checksum").contains("INVALID"),
            get("checksum"),
        );
        checks.that(
            "MSS 1460 (interface MTU 1500 less 40)",
            get("option MSS (kind 2)") == "mss 1460",
            get("option MSS (kind 2)"),
        );
        checks.that(
            "SACK-permitted, timestamps (TSecr 0 on a SYN) and window scale 7 are offered",
            get("option SACK-perm (4)") == "sackOK"
                && get("option TS (kind 8)").ends_with("ecr 0")
                && get("option wscale (kind 3)").starts_with("shift 7"),
            "",
        );
        checks.that(
            "NOPs pad the options to 4-byte words; no EOL is needed",
            get("option NOP (kind 1)").starts_with("padding")
                && get("option EOL (kind 0)").is_empty(),
            "",
        );
        checks.that(
            "the urgent pointer is 0 and means nothing without URG",
            get("urgent pointer").starts_with("0 ("),
            get("urgent pointer"),
        );
    }
    match sack {
        Some(p) => {
            let (table, fields) = decode(p);
            extras.push((
                "a duplicate ACK of the server with a SACK block, field by field".to_string(),
                table,
            ));
            let block = fields.iter().find(|f| f.0 == "option SACK (kind 5)").map(|f| f.1.clone());
            checks.that("after a lost segment the receiver's ACKs carry SACK blocks (RFC 2018) for what arrived past the hole", block.is_some(), block.unwrap_or_default());
        }
        None => {
            checks.that(
                "after a lost segment the receiver's ACKs carry SACK blocks",
                false,
                "no SACK block seen",
            );
        }
    }
    // EOL: ustack pads with NOPs, so show how its parser reads a list that ends with EOL.
    let list = [2u8, 4, 0x05, 0xb4, 0, 0, 0, 0];
    let parsed: Vec<String> = TcpOptionIter::new(&list)
        .map(|o| o.map_or_else(|e| e.to_string(), |o| o.to_string()))
        .collect();
    checks.equal(
        "an option list ending in EOL (kind 0) stops there: the bytes after it are padding",
        vec!["mss 1460".to_string(), "eol".to_string()],
        parsed.clone(),
    );
    extras.push((
        "options 02 04 05 b4 00 00 00 00 (MSS, then EOL and padding), as ustack parses them"
            .to_string(),
        parsed.join(", "),
    ));
    let _ = TcpState::Closed;
    Run { trace, checks, extras, quiet: vec!["cwnd", "rtt"], ..Run::default() }
}

/// S23: UDP: no handshake, 8-byte header, bind, connect (and again, and undone), a connected
/// socket's filter, a full receive buffer dropping datagrams, no retransmission.
pub(crate) fn udp_connect(seed: u64) -> Run {
    let setup = Setup::new().stack(Side::Server, |s| s.udp_rmem = 4096);
    let mut w = World::new(&setup, seed);
    let server = w.udp_bind(Side::Server, 7000).expect("bind");
    let filtered = w.udp_bind(Side::Server, 7001).expect("bind");
    let a = w.udp_bind(Side::Client, 0).expect("bind");
    let b = w.udp_bind(Side::Client, 0).expect("bind");
    let (pa, pb) = (
        w.stack(Side::Client).udp_local_addr(a).port(),
        w.stack(Side::Client).udp_local_addr(b).port(),
    );
    // Datagrams, one lost: nothing resends it.
    w.rule(Side::Client, Rule::nth(Match::Any, 2, Action::Drop, "lost; UDP never resends"));
    for k in 0..3 {
        w.udp_send(Side::Client, a, Some(7000), format!("datagram {k}").as_bytes());
        w.run_for(Duration::from_millis(50)).expect("run");
    }
    w.run_for(Duration::from_millis(500)).expect("run");
    let got_plain = drain(&mut w, server);
    // A connected socket takes datagrams from its peer only.
    w.udp_connect(Side::Server, filtered, pa);
    w.udp_send(Side::Client, a, Some(7001), b"from a, the peer");
    w.udp_send(Side::Client, b, Some(7001), b"from b, a stranger");
    w.run_for(Duration::from_millis(100)).expect("run");
    let got_connected = drain(&mut w, filtered);
    // Connect again: the peer changes.
    w.udp_connect(Side::Server, filtered, pb);
    w.udp_send(Side::Client, a, Some(7001), b"from a, now a stranger");
    w.udp_send(Side::Client, b, Some(7001), b"from b, now the peer");
    w.run_for(Duration::from_millis(100)).expect("run");
    let got_reconnected = drain(&mut w, filtered);
    // Undone: both get through.
    w.udp_disconnect(Side::Server, filtered);
    w.udp_send(Side::Client, a, Some(7001), b"from a");
    w.udp_send(Side::Client, b, Some(7001), b"from b");
    w.run_for(Duration::from_millis(100)).expect("run");
    let got_disconnected = drain(&mut w, filtered);
    // A full receive buffer: ten 1000-byte datagrams into 4096 bytes, nobody reading.
    for _ in 0..10 {
        w.udp_send(Side::Client, a, Some(7000), &[0x55; 1000]);
    }
    w.run_for(Duration::from_millis(100)).expect("run");
    let drops = w.stack(Side::Server).udp_drops(server);
    let queued = drain(&mut w, server).len();
    let view = w.stack(Side::Server).netstat(w.now()).filter(false, true, false).to_string();
    let trace = w.finish();

    let mut checks = Checks::default();
    checks.that(
        "bind to port 0 picks an ephemeral port (32768-60999)",
        (32768..=60999).contains(&pa) && (32768..=60999).contains(&pb) && pa != pb,
        format!("{pa} and {pb}"),
    );
    let first = trace.sent_by(Side::Client).next();
    checks.that(
        "no handshake: the first packet is the first datagram, 20 bytes of IP + 8 of UDP header + payload",
        first.is_some_and(|p| matches!(p.segment, Some(crate::segment::Segment::Udp(ref u)) if p.bytes.len() == 20 + 8 + u.len)),
        first.map(|p| format!("{} bytes", p.bytes.len())).unwrap_or_default(),
    );
    checks.equal(
        "the lost datagram is never resent: two of three arrive",
        vec!["datagram 0".to_string(), "datagram 2".to_string()],
        got_plain.iter().map(|(_, d)| String::from_utf8_lossy(d).into_owned()).collect::<Vec<_>>(),
    );
    checks.equal(
        "a connected socket takes its peer's datagram only",
        vec![pa],
        got_connected.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
    );
    let unreach = trace.notes_matching(Side::Server, "destination unreachable sent").count();
    checks.that(
        "the stranger's datagram finds no socket and gets an ICMP port unreachable",
        unreach >= 1,
        format!("{unreach} sent"),
    );
    checks.equal(
        "connect() again changes the peer",
        vec![pb],
        got_reconnected.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
    );
    let mut both: Vec<u16> = got_disconnected.iter().map(|(p, _)| *p).collect();
    both.sort_unstable();
    let mut expected = vec![pa, pb];
    expected.sort_unstable();
    checks.equal("disconnect undoes it: datagrams from both get through", expected, both);
    checks.equal(
        "a full receive buffer drops datagrams and counts them: 4 of 1000 bytes fit in 4096, 6 dropped",
        (4, 6),
        (queued, drops),
    );
    let counted = trace
        .notes_matching(Side::Server, "receive buffer errors")
        .map(|n| match &n.note {
            crate::trace::Note::Counter { delta, .. } => *delta,
            _ => 0,
        })
        .sum::<u64>();
    checks.equal("netstat -s counts them too", 6, counted);
    let extras = vec![("ss -uan on the server".to_string(), view)];
    let _ = Instant::ZERO;
    Run { trace, checks, extras, ..Run::default() }
}

fn drain(w: &mut World, h: ustack_core::SocketHandle) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    let now = w.now();
    let node = w.node_mut(Side::Server);
    while let Ok((n, from)) = node.stack.udp_recv_from(h, &mut buf) {
        out.push((from.port(), buf[..n].to_vec()));
    }
    let local = node.stack.udp_local_addr(h).port();
    if !out.is_empty() {
        node.note(
            now,
            None,
            crate::trace::Note::App(format!("udp :{local} read {} datagrams", out.len())),
        );
    }
    out
}
