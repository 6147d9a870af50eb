//! Every scenario of the lab is a test: it runs from the default seed and every one of its
//! checks (the behaviour the RFCs and Linux prescribe) must hold. A scenario that waits for
//! the stack must say so, never pass. The loopback measurement (S24) runs in real time; its
//! checks are about correctness (every byte and answer intact, every number measured), never
//! about speed, so a loaded machine does not fail it.

use ustack_lab::registry::{self, Status};

fn run(id: &str) {
    let scenario = registry::find(id).unwrap_or_else(|| panic!("no scenario {id}"));
    let Status::Ready(f) = scenario.status else { panic!("{id} is not available: it has no test") };
    let run = f(registry::DEFAULT_SEED);
    // Only the loopback measurement runs on the wall clock, and it must say so.
    assert_eq!(run.real_time, scenario.spec == "S24", "{id}: measured in real time?");
    if !run.checks.passed() {
        let failed: Vec<String> =
            run.checks.failures().map(|c| format!("  {}: {}", c.claim, c.detail)).collect();
        panic!(
            "{id} (seed {}): failed checks:\n{}\n--- trace ---\n{}",
            registry::DEFAULT_SEED,
            failed.join("\n"),
            run.trace.to_text()
        );
    }
}

macro_rules! scenario_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run($id);
            }
        )*
    };
}

scenario_tests! {
    s1_simultaneous_open_goes_syn_sent_syn_received_established => "s1-simultaneous-open",
    s1_simultaneous_close_closing_then_time_wait_on_both => "s1-simultaneous-close",
    s3_handshake_numbers_and_old_duplicate_syn_reset => "s3-handshake",
    s4_accept_queue_overflow_drops_ack_and_syn_until_accept => "s4-accept-queue-overflow",
    s5_lost_syn_backs_off_1_2_4_s_then_connect_times_out => "s5-lost-syn",
    s5_lost_synack_both_ends_retransmit => "s5-lost-synack",
    s5_lost_final_ack_first_data_completes_handshake => "s5-lost-final-ack",
    s5_lost_final_ack_after_server_gave_up_data_gets_rst => "s5-lost-final-ack-after-giveup",
    s6_fastopen_cookie_first_then_the_request_in_the_syn_one_round_trip_earlier => "s6-fastopen",
    s7_defer_accept_hands_out_connections_with_their_data_or_after_the_period => "s7-defer-accept",
    s8_syn_flood_answered_with_cookies_and_a_client_still_gets_in => "s8-syn-flood-cookies",
    s9_half_close_passive_closer_sends_all_before_its_fin => "s9-half-close",
    s10_close_wait_leak_shows_in_ss_with_unread_bytes => "s10-close-wait-leak",
    s11_orphan_fin_wait_2_closed_after_fin_timeout => "s11-fin-wait-2-timeout",
    s12_retransmitted_fin_reacked_and_time_wait_restarted => "s12-time-wait-lost-last-ack",
    s13_bind_needs_reuseaddr_while_time_wait => "s13-reuseaddr",
    s14_segments_no_larger_than_negotiated_mss => "s14-mss",
    s15_reordered_and_duplicate_segments_delivered_once_in_order => "s15-reorder-duplicate",
    s16_bad_checksum_dropped_silently_then_retransmitted => "s16-bad-checksum",
    s17_rto_doubles_karn_rule_and_gives_up_after_retries2 => "s17-rto-backoff",
    s18_stop_and_wait_four_cases => "s18-stop-and-wait",
    s19_zero_window_persist_probes_survive_lost_update => "s19-zero-window-persist",
    s20_slow_start_doubles_every_round_trip => "s20-slow-start",
    s20_congestion_avoidance_one_segment_per_round_trip => "s20-congestion-avoidance",
    s20_fast_retransmit_on_third_dup_ack_and_recovery => "s20-fast-retransmit-recovery",
    s20_sack_repairs_three_holes_in_one_round_trip => "s20-sack-recovery",
    s20_rto_collapses_cwnd_to_one_segment => "s20-rto-collapse",
    s20_cubic_reduces_by_0_7_and_regrows_along_the_cubic_faster_than_newreno => "s20-cubic-vs-newreno",
    s21_all_seven_timers_fire_when_configured => "s21-timers",
    s22_syn_and_sack_decoded_field_by_field => "s22-header-and-options",
    s23_udp_bind_connect_filter_and_full_buffer => "s23-udp-connect",
    s24_loopback_kernel_tcp_and_unix_move_every_byte_and_are_measured => "s24-loopback-vs-unix",
    s25_ephemeral_ports_exhausted_per_remote_endpoint => "s25-port-exhaustion",
    s26_time_wait_on_active_closer_close_wait_on_passive => "s26-who-holds-time-wait",
}
