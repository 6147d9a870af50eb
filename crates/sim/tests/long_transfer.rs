//! Transfers long enough to wrap sequence space several times (RFC 9293 §3.4): a connection
//! that carries more than 2^32 bytes completes exact, every byte checked once and in order,
//! and closes cleanly. (The engine's own tests place the same paths at the wraps; this is the
//! whole host stack in the simulator.)

use ustack_core::tcp_engine::{BufferSizes, TcpConfig, TcpState};
use ustack_sim::scenario::{BulkTransfer, Scenario, Setup};
use ustack_sim::{Bounds, Duration, LinkConfig};

#[test]
fn s15_a_transfer_of_two_wraps_of_sequence_space_completes_exact() {
    // 2 x 2^32 bytes and a little more: the sender's and receiver's numbers wrap twice and
    // pass 2^31 from every reference they hold four times. Jumbo frames keep it to about
    // 130,000 data segments.
    let bytes = 2 * (1u64 << 32) + 12_345;
    let link =
        LinkConfig::new().rate_bps(100_000_000_000).delay(Duration::from_micros(100)).mtu(65_535);
    let buffers = BufferSizes { min: 4096, default: 4 << 20, max: 8 << 20 };
    let tcp = TcpConfig { rmem: buffers, wmem: buffers, ..TcpConfig::LINUX };
    let setup = Setup::new(link)
        .tcp(tcp)
        .bounds(Bounds::time(Duration::from_secs(3_600)).max_events(5_000_000));
    let report = BulkTransfer::new(bytes).run(&setup, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.delivered, bytes);
    assert_eq!(report.client.state_at_end, Some(TcpState::Closed));
    assert_eq!(report.server.state_at_end, Some(TcpState::Closed));
    assert_eq!(report.client.error, None);
    assert_eq!(report.server.error, None);
    assert_eq!((report.client.retransmits, report.server.retransmits), (0, 0));
}
