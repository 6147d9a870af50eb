//! SPEC S2 / S10: the netstat view (`ss -tan`), a leaked CLOSE-WAIT socket in it; and S26:
//! who holds TIME-WAIT, and that every socket is freed in the end.

use ustack_tcp::{TcpState, TimerKind};

use super::*;
use crate::{Duration, Protocol};

const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

/// The rows of a `Display`ed netstat, each cut into its first `n` columns, sorted.
fn rows(text: &str, n: usize) -> Vec<Vec<String>> {
    let mut r: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(n).map(str::to_string).collect())
        .collect();
    r.sort();
    r
}

fn row(cols: &[&str]) -> Vec<String> {
    cols.iter().map(|c| c.to_string()).collect()
}

#[test]
fn s2_s10_netstat_shows_a_listener_an_established_connection_and_a_leaked_close_wait() {
    // S2's example (a leaked CLOSE-WAIT): the client sent 1234 bytes and closed; the server application
    // neither reads nor closes. `ss -tan` on the server then shows
    //   State      Recv-Q Send-Q Local Address:Port  Peer Address:Port
    //   LISTEN     0      16     0.0.0.0:80          0.0.0.0:*
    //   ESTAB      0      0      10.0.0.2:80         10.0.0.1:<p1>
    //   CLOSE-WAIT 1234   0      10.0.0.2:80         10.0.0.1:<p2>
    // (for a listener Recv-Q is the accept queue and Send-Q the backlog), and the
    // CLOSE-WAIT row stays there for good (SPEC S10), long after the client gave up.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 16, false).unwrap();
    let (c1, _s1) = p.connect_accept(l, 80);
    let (c2, s2) = p.connect_accept(l, 80);
    let (p1, p2) = (p.a.tcp_conn(c1).tuple().local.port(), p.a.tcp_conn(c2).tuple().local.port());
    assert_eq!(p.a.tcp_send(c2, &[7u8; 1234]).unwrap(), 1234);
    p.a.close(p.now, c2);
    p.run_for(Duration::from_millis(500));
    assert_eq!(p.b.tcp_conn(s2).state(), TcpState::CloseWait);

    let ns = p.b.netstat(p.now);
    assert_eq!(ns.sockets.len(), 3);
    assert_eq!(ns.count(TcpState::CloseWait), 1);
    let cw = ns.sockets.iter().find(|s| s.handle == s2).unwrap();
    assert_eq!((cw.recv_q, cw.send_q, cw.owned), (1234, 0, true));
    assert_eq!((cw.local, cw.peer), (sa(B, 80), Some(sa(A, p2))));
    assert_eq!(cw.ss_state(), "CLOSE-WAIT");

    let tcp_only = ns.clone().filter(true, false, false);
    let text = tcp_only.to_string();
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["State", "Recv-Q", "Send-Q", "Local", "Address:Port", "Peer", "Address:Port"],
        "{text}"
    );
    assert_eq!(
        rows(&text, 5),
        [
            row(&["CLOSE-WAIT", "1234", "0", "10.0.0.2:80", &format!("10.0.0.1:{p2}")]),
            row(&["ESTAB", "0", "0", "10.0.0.2:80", &format!("10.0.0.1:{p1}")]),
            row(&["LISTEN", "0", "16", "0.0.0.0:80", "0.0.0.0:*"]),
        ],
        "{text}"
    );
    let listening = ns.clone().filter(true, false, true).to_string();
    assert_eq!(rows(&listening, 5), [row(&["LISTEN", "0", "16", "0.0.0.0:80", "0.0.0.0:*"])]);

    // UDP sockets: ss -uan shows an unconnected one as UNCONN, a connected one as ESTAB;
    // with both protocols a Netid column comes first (ss -tuan).
    let u1 = p.b.udp_bind(sa(ANY, 53)).unwrap();
    let u2 = p.b.udp_bind(sa(B, 5353)).unwrap();
    p.b.udp_connect(u2, sa(A, 9)).unwrap();
    let ns = p.b.netstat(p.now);
    let udp_text = ns.clone().filter(false, true, false).to_string();
    assert!(udp_text.starts_with("State"), "{udp_text}");
    assert_eq!(
        rows(&udp_text, 5),
        [
            row(&["ESTAB", "0", "0", "10.0.0.2:5353", "10.0.0.1:9"]),
            row(&["UNCONN", "0", "0", "0.0.0.0:53", "0.0.0.0:*"]),
        ]
    );
    let all = ns.clone().to_string();
    assert!(all.starts_with("Netid"), "{all}");
    assert_eq!(all.lines().count(), 1 + 5);
    assert!(rows(&all, 2).contains(&row(&["udp", "UNCONN"])));
    assert!(rows(&all, 2).contains(&row(&["tcp", "CLOSE-WAIT"])));
    let listen_all = ns.clone().filter(true, true, true);
    let mut handles: Vec<SocketHandle> = listen_all.sockets.iter().map(|s| s.handle).collect();
    handles.sort();
    let mut want = vec![l, u1];
    want.sort();
    assert_eq!(handles, want, "ss -tuln: the listener and the unconnected UDP socket");
    assert!(ns.filter(false, true, false).sockets.iter().all(|s| s.protocol == Protocol::Udp));

    // Unread data keeps arriving nowhere; the client's orphaned FIN-WAIT-2 gives up after
    // tcp_fin_timeout (S11), the server's CLOSE-WAIT stays, with its 1234 bytes.
    p.run_for(Duration::from_secs(120));
    assert_eq!(p.a.socket_count(), 1, "only c1 is left on the client");
    let ns = p.b.netstat(p.now);
    let cw = ns.sockets.iter().find(|s| s.handle == s2).unwrap();
    assert_eq!((cw.state, cw.recv_q), (TcpState::CloseWait, 1234), "{ns}");
}

#[test]
fn s26_the_active_closer_holds_time_wait_and_the_passive_closer_does_not() {
    // RFC 9293 §3.6 / SPEC S26: the side that closes first goes FIN-WAIT-1 → FIN-WAIT-2 →
    // TIME-WAIT (2·MSL = 60 s); the other CLOSE-WAIT → LAST-ACK → CLOSED, with no TIME-WAIT.
    // A server that closes first pays with one TIME-WAIT socket per connection.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 64, false).unwrap();

    // The client closes first.
    let (c, s) = p.connect_accept(l, 80);
    p.a.close(p.now, c);
    p.settle();
    assert_eq!(p.a.netstat(p.now).count(TcpState::FinWait2), 1);
    assert_eq!(p.b.tcp_conn(s).state(), TcpState::CloseWait);
    p.b.close(p.now, s);
    p.run_for(Duration::from_millis(1));
    assert_eq!(p.b.netstat(p.now).count(TcpState::LastAck), 1, "LAST-ACK until our FIN is acked");
    p.settle();
    let ns = p.a.netstat(p.now);
    assert_eq!(ns.count(TcpState::TimeWait), 1, "{ns}");
    let tw = ns.sockets.iter().find(|s| s.state == TcpState::TimeWait).unwrap();
    let (kind, left) = tw.timer.unwrap();
    assert_eq!(kind, TimerKind::TimeWait);
    assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60), "{left:?}");
    assert!(!tw.owned && ns.to_string().contains("orphan"));
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 0);
    assert_eq!(p.b.socket_count(), 1, "the passive closer freed its socket at once");

    // The server closes first, 20 times.
    let pairs: Vec<_> = (0..20).map(|_| p.connect_accept(l, 80)).collect();
    for &(_, s) in &pairs {
        p.b.close(p.now, s);
    }
    p.settle();
    for &(c, _) in &pairs {
        assert_eq!(p.a.tcp_conn(c).state(), TcpState::CloseWait);
        p.a.close(p.now, c);
    }
    p.settle();
    assert_eq!(p.b.netstat(p.now).count(TcpState::TimeWait), 20);
    assert_eq!(p.a.netstat(p.now).count(TcpState::TimeWait), 1, "only the first connection's");
    assert_eq!(p.a.socket_count(), 1);

    // 2·MSL later every connection is gone on both sides.
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.a.socket_count(), 0, "{}", p.a.netstat(p.now));
    assert_eq!(p.b.socket_count(), 1, "{}", p.b.netstat(p.now));
    p.b.close(p.now, l);
    assert_eq!(p.b.socket_count(), 0);
    assert!(p.a.tcp_conns.is_empty() && p.b.tcp_conns.is_empty(), "demux tables empty");
    assert!(p.b.tcp_conn_ports.is_empty() && p.b.tcp_listeners.is_empty());
}

#[test]
fn ss_i_shows_the_engines_internals_and_ss_o_its_timers_as_linux_names_them() {
    // `ss -tin`: under each connection the congestion control, rto, rtt, mss, cwnd (in
    // segments), bytes acked, and after a loss the retransmission counts; `ss -o`: the
    // pending retransmission as timer:(on,EXPIRES,RETRIES), TIME-WAIT as timewait.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 16, false).unwrap();
    let (c, s) = p.connect_accept(l, 80);
    p.a.tcp_send(c, &[1u8; 5000]).unwrap();
    p.settle();
    assert_eq!(p.read_all_b(s).len(), 5000);
    let ns = p.a.netstat(p.now).filter(true, false, false).with_internals(true);
    let text = ns.to_string();
    let line = text.lines().find(|l| l.starts_with("\t ")).unwrap_or_else(|| panic!("{text}"));
    for want in
        ["ts sack cubic wscale:", " rto:", " rtt:", " mss:1448 ", " cwnd:10 ", " bytes_acked:5000 "]
    {
        assert!(line.contains(want), "{want:?} in {line:?}");
    }
    assert!(line.ends_with("ca_state:open"), "{line}");
    assert!(!line.contains("ssthresh"), "no ssthresh before a loss (Linux: infinite): {line}");
    assert!(!text.contains("timer:("), "timers only with -o: {text}");

    // A lost segment: the retransmission timer runs; the tail loss probe (RFC 8985 §7) goes
    // first and is no RTO, so the count stays 0 (Linux counts icsk_retransmits there); then
    // the RTO fires.
    p.drop_if = Some(Box::new(|_, _| true));
    p.a.tcp_send(c, b"lost").unwrap();
    p.settle();
    let row = |p: &Pair| {
        let ns = p.a.netstat(p.now).filter(true, false, false).with_timers(true);
        ns.to_string().lines().nth(1).unwrap().to_string()
    };
    let r = row(&p);
    assert!(r.contains(" timer:(on,") && r.ends_with(",0)"), "{r}");
    p.run_for(Duration::from_millis(700));
    let r = row(&p);
    let internals =
        p.a.netstat(p.now).sockets.iter().find(|x| x.handle == c).unwrap().internals.unwrap();
    let rto = internals.info.rto_retries;
    assert!(rto >= 1, "{r}");
    assert!(r.ends_with(&format!(",{rto})")), "the RTO count in the timer: {r}");
    assert_eq!(internals.total_retrans, u64::from(rto) + 1, "the probe and the RTOs");
    let text = internals.to_string();
    assert!(text.contains(&format!("retrans:{rto}/{}", rto + 1)), "{text}");
    assert!(text.contains(" unacked:1 ") && text.contains(" lost:1 "), "{text}");
    assert_eq!(internals.ca_state(), "loss");

    // TIME-WAIT on the side that closed first.
    p.drop_if = None;
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.read_all_b(s), b"lost");
    p.a.close(p.now, c);
    p.b.close(p.now, s);
    p.run_for(Duration::from_secs(1));
    let r = row(&p);
    assert!(r.starts_with("TIME-WAIT") && r.contains(" timer:(timewait,5"), "{r}");
}

#[test]
fn tcp_retrans_segs_counts_live_connections_and_nstat_uses_linux_mib_names() {
    // Linux's TcpRetransSegs (RFC 1213 tcpRetransSegs) counts every retransmitted segment,
    // of connections alive or gone; `nstat` prints the counters by their MIB names.
    let mut p = Pair::new();
    let l = p.b.tcp_listen(sa(ANY, 80), 16, false).unwrap();
    let (c, _s) = p.connect_accept(l, 80);
    p.drop_if = Some(Box::new(|from_a, _| from_a));
    p.a.tcp_send(c, b"lost").unwrap();
    p.run_for(Duration::from_millis(700));
    let retrans = p.a.tcp_conn(c).stats().retransmits;
    assert!(retrans >= 2, "a probe and an RTO at least");
    let counters = p.a.counters();
    assert_eq!(counters.tcp_retrans_segs, retrans, "the live connection's retransmissions");
    let text = crate::Nstat(&counters).to_string();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#ustack"));
    let table: Vec<(String, u64)> = lines
        .map(|l| {
            // nstat's "%-32s" name column, then the value.
            let (name, value) = l.split_at(32);
            assert!(!name.ends_with(|ch: char| !ch.is_whitespace()), "{l:?}");
            (name.trim().to_string(), value.parse().unwrap())
        })
        .collect();
    let get =
        |n: &str| table.iter().find(|(k, _)| k == n).unwrap_or_else(|| panic!("{n} in\n{text}")).1;
    assert_eq!(get("TcpRetransSegs"), retrans);
    assert_eq!(get("TcpActiveOpens"), 1);
    assert_eq!(get("IpInReceives"), counters.ip_in_receives);
    for name in [
        "TcpExtListenDrops",
        "TcpExtTCPChallengeACK",
        "UdpRcvbufErrors",
        "IcmpOutRateLimitGlobal",
        "UstackTcpDropOutOfWindow",
        "UstackTcpNoSocket",
    ] {
        get(name);
    }
    assert_eq!(table.len(), text.lines().count() - 1);
}
