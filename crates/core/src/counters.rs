//! Stack-wide counters, one per event and per drop reason, shown like `netstat -s`, and by
//! their Linux MIB names like `nstat` ([`Counters::nstat`]).
//!
//! A counter with a Linux twin carries its name (`IpInReceives`, `TcpExtListenDrops`, ...:
//! the names `nstat` prints from `/proc/net/snmp` and `/proc/net/netstat`); one Linux does
//! not keep is named in the same style with a `Ustack` prefix (`UstackTcpNoSocket`).

use core::fmt;

use ustack_tcp::DropReason;

macro_rules! counters {
    ($( $section:literal { $( $field:ident : $name:literal $text:literal ),* $(,)? } )*) => {
        /// What the stack counted since it was created. `Display` prints it like
        /// `netstat -s`: a section per protocol, a line per counter.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct Counters {
            $($(
                #[doc = $text]
                pub $field: u64,
            )*)*
            /// Segments the TCP connections dropped, per reason (live and closed connections).
            pub tcp_conn_drops: [u64; DropReason::COUNT],
        }

        impl fmt::Display for Counters {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                $(
                    writeln!(f, "{}:", $section)?;
                    $( writeln!(f, "    {} {}", self.$field, $text)?; )*
                    if $section == "Tcp" {
                        for reason in DropReason::ALL {
                            writeln!(
                                f,
                                "    {} segments dropped by connections: {}",
                                self.tcp_conn_drops[reason as usize],
                                reason.name()
                            )?;
                        }
                    }
                )*
                Ok(())
            }
        }

        /// Adds `other`'s counts to these, counter by counter: the counters of several
        /// stacks (the shards of a multi-queue device) as one.
        impl core::ops::AddAssign<&Counters> for Counters {
            fn add_assign(&mut self, other: &Counters) {
                $($( self.$field += other.$field; )*)*
                for (mine, theirs) in self.tcp_conn_drops.iter_mut().zip(other.tcp_conn_drops) {
                    *mine += theirs;
                }
            }
        }

        impl Counters {
            /// Every counter by its MIB name, in `nstat`'s order (the drops per reason after
            /// the TCP counters, as `UstackTcpDrop<Reason>`).
            pub fn nstat(&self) -> Vec<(String, u64)> {
                let mut out = Vec::with_capacity(64);
                $(
                    $( out.push(($name.to_string(), self.$field)); )*
                    if $section == "Tcp" {
                        for reason in DropReason::ALL {
                            out.push((drop_name(reason), self.tcp_conn_drops[reason as usize]));
                        }
                    }
                )*
                out
            }
        }
    };
}

/// `UstackTcpDrop` and the reason in CamelCase (`out-of-window` → `OutOfWindow`).
fn drop_name(reason: DropReason) -> String {
    let mut name = String::from("UstackTcpDrop");
    for word in reason.name().split('-') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// [`Counters`] shown like `nstat -az`: a `#ustack` line, then one counter a line, its name
/// in 32 columns and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nstat<'a>(pub &'a Counters);

impl Counters {
    /// A datagram handed to IP to send (`IpOutRequests`, or `Ip6OutRequests` for IPv6).
    pub(crate) fn ip_out(&mut self, v6: bool) {
        if v6 {
            self.ip6_out_requests += 1;
        } else {
            self.ip_out_requests += 1;
        }
    }
}

impl fmt::Display for Nstat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "#ustack")?;
        for (name, value) in self.0.nstat() {
            writeln!(f, "{name:<32}{value}")?;
        }
        Ok(())
    }
}

counters! {
    "Ip" {
        ip_in_receives: "IpInReceives" "total packets received",
        ip_in_hdr_errors: "IpInHdrErrors" "with invalid headers (version, length, checksum)",
        ip_in_addr_errors: "IpInAddrErrors" "with invalid addresses (not for this host)",
        ip_in_unknown_protos: "IpInUnknownProtos" "with unknown protocol",
        ip_in_delivers: "IpInDelivers" "incoming packets delivered",
        ip_out_requests: "IpOutRequests" "requests sent out",
        ip_out_loopback: "UstackIpOutLoopback" "of which delivered locally (loopback interface, never a device)",
        ip_out_no_routes: "IpOutNoRoutes" "dropped because of missing route",
        ip_out_discards: "IpOutDiscards" "outgoing packets dropped (transmit queue full)",
        ip_reasm_reqds: "IpReasmReqds" "fragments received",
        ip_reasm_oks: "IpReasmOKs" "packets reassembled ok",
        ip_reasm_fails: "IpReasmFails" "fragments dropped (overlap, too long, malformed, memory)",
        ip_reasm_timeouts: "IpReasmTimeout" "reassemblies timed out",
        ip_frag_creates: "IpFragCreates" "fragments created",
        ip_in_no_ect_pkts: "IpExtInNoECTPkts" "received without ECN (Not-ECT, RFC 3168)",
        ip_in_ect1_pkts: "IpExtInECT1Pkts" "received ECT(1)",
        ip_in_ect0_pkts: "IpExtInECT0Pkts" "received ECT(0)",
        ip_in_ce_pkts: "IpExtInCEPkts" "received marked Congestion Experienced (CE)",
    }
    "Icmp" {
        icmp_in_msgs: "IcmpInMsgs" "ICMP messages received",
        icmp_in_errors: "IcmpInErrors" "input ICMP message failed (checksum, truncated, unsupported)",
        icmp_in_echos: "IcmpInEchos" "echo requests received",
        icmp_in_dest_unreachs: "IcmpInDestUnreachs" "destination unreachable received",
        icmp_out_msgs: "IcmpOutMsgs" "ICMP messages sent",
        icmp_out_echo_reps: "IcmpOutEchoReps" "echo replies sent",
        icmp_out_dest_unreachs: "IcmpOutDestUnreachs" "destination unreachable sent",
        icmp_out_rate_limited: "IcmpOutRateLimitGlobal" "ICMP errors not sent (rate limit)",
    }
    "Tcp" {
        tcp_active_opens: "TcpActiveOpens" "active connection openings",
        tcp_passive_opens: "TcpPassiveOpens" "passive connection openings",
        tcp_attempt_fails: "TcpAttemptFails" "failed connection attempts (refused, unreachable)",
        tcp_estab_resets: "TcpEstabResets" "connection resets received",
        tcp_in_segs: "TcpInSegs" "segments received",
        tcp_out_segs: "TcpOutSegs" "segments sent out",
        tcp_retrans_segs: "TcpRetransSegs" "segments retransmitted",
        tcp_in_errs: "TcpInErrs" "bad segments received (length, header, options)",
        tcp_in_csum_errors: "TcpInCsumErrors" "segments with a bad checksum (dropped silently, not acknowledged)",
        tcp_out_rsts: "TcpOutRsts" "resets sent",
        tcp_no_socket: "UstackTcpNoSocket" "segments for no connection and no listener (answered with RST)",
        tcp_listen_bad_acks: "UstackTcpListenBadAcks" "ACKs to LISTEN sockets that matched no connection (answered with RST)",
        tcp_icmp_unmatched: "UstackTcpIcmpUnmatched" "ICMP errors for no connection",
        tcp_challenge_acks: "TcpExtTCPChallengeACK" "challenge ACKs sent (RFC 5961; Linux TCPChallengeACK)",
        tcp_challenge_acks_skipped: "UstackTcpChallengeACKSkipped" "challenge ACKs not sent: the host-wide challenge_ack_limit per second was spent",
    }
    "TcpExt" {
        tcp_listen_overflows: "TcpExtListenOverflows" "times the listen queue of a socket overflowed (ListenOverflows)",
        tcp_listen_drops: "TcpExtListenDrops" "SYNs to LISTEN sockets dropped (ListenDrops)",
        tcp_req_q_full_drop: "TcpExtTCPReqQFullDrop" "SYNs dropped because the SYN queue was full and SYN cookies are off (TCPReqQFullDrop)",
        tcp_req_q_full_do_cookies: "TcpExtTCPReqQFullDoCookies" "SYNs answered with a cookie because the SYN queue was full or tcp_syncookies is 2 (TCPReqQFullDoCookies)",
        syncookies_sent: "TcpExtSyncookiesSent" "SYN cookies sent (SyncookiesSent)",
        syncookies_recv: "TcpExtSyncookiesRecv" "SYN cookies received (SyncookiesRecv)",
        syncookies_failed: "TcpExtSyncookiesFailed" "invalid SYN cookies received (SyncookiesFailed)",
        tcp_fastopen_active: "TcpExtTCPFastOpenActive" "successful outbound Fast Open attempts: the SYN's data acknowledged (TCPFastOpenActive)",
        tcp_fastopen_active_fail: "TcpExtTCPFastOpenActiveFail" "outbound Fast Open attempts whose SYN data was not acknowledged or that timed out (TCPFastOpenActiveFail)",
        tcp_fastopen_passive: "TcpExtTCPFastOpenPassive" "successful inbound Fast Open attempts (TCPFastOpenPassive)",
        tcp_fastopen_passive_fail: "TcpExtTCPFastOpenPassiveFail" "inbound Fast Open attempts with an invalid cookie (TCPFastOpenPassiveFail)",
        tcp_fastopen_passive_alt_key: "TcpExtTCPFastOpenPassiveAltKey" "inbound Fast Open cookies made with the backup key (TCPFastOpenPassiveAltKey)",
        tcp_fastopen_listen_overflow: "TcpExtTCPFastOpenListenOverflow" "inbound Fast Open attempts refused because the Fast Open queue was full (TCPFastOpenListenOverflow)",
        tcp_fastopen_cookie_reqd: "TcpExtTCPFastOpenCookieReqd" "Fast Open cookie requests received (TCPFastOpenCookieReqd)",
        tcp_fastopen_blackhole: "TcpExtTCPFastOpenBlackhole" "times active Fast Open was turned off after a suspected black hole (TCPFastOpenBlackhole)",
        tcp_defer_accept_drop: "TcpExtTCPDeferAcceptDrop" "bare final ACKs dropped while TCP_DEFER_ACCEPT waited for data (TCPDeferAcceptDrop)",
        tw_recycled: "TcpExtTWRecycled" "TIME-WAIT 4-tuples reused by an outgoing connection, tcp_tw_reuse (TWRecycled)",
        tcp_ecn_reductions: "UstackTcpEcnReductions" "congestion window reductions for ECN-Echo (RFC 3168 §6.1.2)",
        tcp_ecn_ce_recv: "UstackTcpEcnCeRecv" "data segments received marked CE on connections using ECN",
    }
    "Ip6" {
        ip6_in_receives: "Ip6InReceives" "total IPv6 packets received",
        ip6_in_hdr_errors: "Ip6InHdrErrors" "with invalid headers or extension headers",
        ip6_in_addr_errors: "Ip6InAddrErrors" "with invalid addresses: not ours, multicast, martian",
        ip6_in_unknown_protos: "Ip6InUnknownProtos" "with unknown next header",
        ip6_in_delivers: "Ip6InDelivers" "incoming packets delivered",
        ip6_out_requests: "Ip6OutRequests" "requests sent out",
        ip6_reasm_reqds: "Ip6ReasmReqds" "fragments received",
        ip6_reasm_oks: "Ip6ReasmOKs" "packets reassembled ok",
        ip6_reasm_fails: "Ip6ReasmFails" "fragments dropped (overlap, too long, malformed, memory)",
        ip6_reasm_timeouts: "Ip6ReasmTimeout" "reassemblies timed out",
        ip6_frag_creates: "Ip6FragCreates" "fragments created",
        ip6_atomic_frags: "UstackIp6AtomicFrags" "atomic fragments processed in isolation (RFC 6946)",
        ip6_pmtu_lowered: "UstackIp6PmtuLowered" "path MTU estimates lowered by a Packet Too Big",
        ip6_in_no_ect_pkts: "Ip6InNoECTPkts" "received without ECN (Not-ECT, RFC 3168)",
        ip6_in_ect1_pkts: "Ip6InECT1Pkts" "received ECT(1)",
        ip6_in_ect0_pkts: "Ip6InECT0Pkts" "received ECT(0)",
        ip6_in_ce_pkts: "Ip6InCEPkts" "received marked Congestion Experienced (CE)",
    }
    "Icmp6" {
        icmp6_in_msgs: "Icmp6InMsgs" "ICMPv6 messages received",
        icmp6_in_errors: "Icmp6InErrors" "input ICMPv6 message failed: checksum, truncated, unsupported",
        icmp6_in_echos: "Icmp6InEchos" "echo requests received",
        icmp6_in_dest_unreachs: "Icmp6InDestUnreachs" "destination unreachable received",
        icmp6_in_pkt_too_bigs: "Icmp6InPktTooBigs" "packet too big received",
        icmp6_in_time_excds: "Icmp6InTimeExcds" "time exceeded received",
        icmp6_in_parm_problems: "Icmp6InParmProblems" "parameter problem received",
        icmp6_out_msgs: "Icmp6OutMsgs" "ICMPv6 messages sent",
        icmp6_out_echo_replies: "Icmp6OutEchoReplies" "echo replies sent",
        icmp6_out_dest_unreachs: "Icmp6OutDestUnreachs" "destination unreachable sent",
        icmp6_out_parm_problems: "Icmp6OutParmProblems" "parameter problem sent",
        icmp6_out_rate_limited: "UstackIcmp6OutRateLimited" "ICMPv6 errors not sent (host-wide or per-destination rate limit)",
    }
    "Udp" {
        udp_in_datagrams: "UdpInDatagrams" "packets received",
        udp_no_ports: "UdpNoPorts" "packets to unknown port received (answered with ICMP port unreachable)",
        udp_in_errors: "UdpInErrors" "packet receive errors (length, checksum)",
        udp_rcvbuf_errors: "UdpRcvbufErrors" "receive buffer errors (socket queue full, dropped)",
        udp_out_datagrams: "UdpOutDatagrams" "packets sent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_counters_sums_every_counter_and_every_drop_reason() {
        let mut a = Counters { tcp_active_opens: 3, ip_in_receives: 10, ..Counters::default() };
        a.tcp_conn_drops[DropReason::ALL[0] as usize] = 1;
        let mut b = Counters { tcp_active_opens: 4, tcp_passive_opens: 2, ..Counters::default() };
        b.tcp_conn_drops[DropReason::ALL[0] as usize] = 5;
        b.tcp_conn_drops[DropReason::ALL[1] as usize] = 7;
        a += &b;
        assert_eq!((a.tcp_active_opens, a.tcp_passive_opens, a.ip_in_receives), (7, 2, 10));
        assert_eq!(a.tcp_conn_drops[DropReason::ALL[0] as usize], 6);
        assert_eq!(a.tcp_conn_drops[DropReason::ALL[1] as usize], 7);
    }
}
