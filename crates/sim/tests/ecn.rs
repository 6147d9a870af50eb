//! ECN (RFC 3168) through a congested link whose queue marks instead of dropping: the same
//! bulk transfer without ECN overflows the queue and repairs the losses with
//! retransmissions; with ECN the queue's CE marks slow the sender before it overflows,
//! nothing is lost and nothing is sent twice, and the sender reduces its window at most once
//! per round trip of marks.

use ustack_sim::scenario::{BulkReport, BulkTransfer, Scenario, ScenarioRun, Setup};
use ustack_sim::{Duration, LinkConfig};
use ustack_tcp::TcpConfig;

/// 20 Mbit/s, 10 ms each way (a bandwidth-delay product of 34 full segments), a drop-tail
/// queue of 100 packets that marks ECN-capable packets CE from 10 queued on.
fn congested() -> LinkConfig {
    LinkConfig::new()
        .rate_bps(20_000_000)
        .delay(Duration::from_millis(10))
        .queue_packets(100)
        .ecn_threshold(30)
}

fn transfer(tcp_ecn: u8) -> BulkReport {
    let scenario = BulkTransfer::new(16 << 20);
    let setup = Setup::new(congested()).tcp(TcpConfig { ecn: tcp_ecn, ..TcpConfig::LINUX });
    let mut run = ScenarioRun::new(&scenario, &setup, 7).unwrap();
    run.run().unwrap_or_else(|e| panic!("tcp_ecn={tcp_ecn}: {e}"));
    let report = scenario.report(&run);
    assert_eq!(report.delivered, 16 << 20, "tcp_ecn={tcp_ecn}");
    report
}

#[test]
fn ecn_marks_instead_of_drops_keep_a_congested_link_free_of_retransmissions() {
    // Without ECN (tcp_ecn = 2: the client does not ask) the packets are Not-ECT: the queue
    // only drops, at its limit, and every loss is sent again.
    let plain = transfer(2);
    let [up, _] = plain.link;
    assert_eq!(up.ce_marked, 0, "Not-ECT packets are never marked");
    assert!(up.dropped.queue > 0, "slow start overflows the queue");
    assert!(plain.client.retransmits >= up.dropped.queue);
    assert_eq!(plain.client_counters.tcp_ecn_reductions, 0);

    // With ECN (tcp_ecn = 1 on both ends) the data is ECT(0): the queue marks it, the
    // receiver echoes, the sender reduces; the queue never reaches its limit.
    let ecn = transfer(1);
    let [up, down] = ecn.link;
    assert!(up.ce_marked > 0, "the queue marked");
    assert_eq!(down.ce_marked, 0, "pure ACKs are Not-ECT");
    assert_eq!(up.dropped.queue, 0, "no queue overflow");
    assert_eq!(ecn.client.retransmits, 0, "nothing sent twice");
    assert_eq!(ecn.server_counters.ip_in_ce_pkts, up.ce_marked);
    assert_eq!(ecn.server_counters.tcp_ecn_ce_recv, up.ce_marked);
    let reductions = ecn.client_counters.tcp_ecn_reductions;
    assert!(reductions > 0);
    // RFC 3168 §6.1.2: at most one reduction per window of data. A window takes at least the
    // 20 ms round trip, so the transfer leaves room for at most one reduction every 20 ms;
    // the marks come many to a window.
    let took = ecn.completion_time().unwrap();
    let rtts = took.as_millis() as u64 / 20;
    assert!(reductions <= rtts, "{reductions} reductions in {took:?}");
    assert!(up.ce_marked >= 3 * reductions, "{} marks, {reductions} reductions", up.ce_marked);
    // Fewer losses, no slower: the link stays busy.
    let ecn_goodput = ecn.goodput_bps().unwrap();
    let plain_goodput = plain.goodput_bps().unwrap();
    assert!(
        ecn_goodput > 0.9 * plain_goodput,
        "ECN {:.2} Mbit/s, without {:.2} Mbit/s",
        ecn_goodput / 1e6,
        plain_goodput / 1e6
    );
}
