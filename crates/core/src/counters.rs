//! Stack-wide counters, one per event and per drop reason, shown like `netstat -s`.

use core::fmt;

use ustack_tcp::DropReason;

macro_rules! counters {
    ($( $section:literal { $( $field:ident : $text:literal ),* $(,)? } )*) => {
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
    };
}

counters! {
    "Ip" {
        ip_in_receives: "total packets received",
        ip_in_hdr_errors: "with invalid headers (version, length, checksum)",
        ip_in_addr_errors: "with invalid addresses (not for this host)",
        ip_in_unknown_protos: "with unknown protocol",
        ip_in_delivers: "incoming packets delivered",
        ip_out_requests: "requests sent out",
        ip_out_loopback: "of which delivered locally (loopback interface, never a device)",
        ip_out_no_routes: "dropped because of missing route",
        ip_out_discards: "outgoing packets dropped (transmit queue full)",
        ip_reasm_reqds: "fragments received",
        ip_reasm_oks: "packets reassembled ok",
        ip_reasm_fails: "fragments dropped (overlap, too long, malformed, memory)",
        ip_reasm_timeouts: "reassemblies timed out",
        ip_frag_creates: "fragments created",
    }
    "Icmp" {
        icmp_in_msgs: "ICMP messages received",
        icmp_in_errors: "input ICMP message failed (checksum, truncated, unsupported)",
        icmp_in_echos: "echo requests received",
        icmp_in_dest_unreachs: "destination unreachable received",
        icmp_out_msgs: "ICMP messages sent",
        icmp_out_echo_reps: "echo replies sent",
        icmp_out_dest_unreachs: "destination unreachable sent",
        icmp_out_rate_limited: "ICMP errors not sent (rate limit)",
    }
    "Tcp" {
        tcp_active_opens: "active connection openings",
        tcp_passive_opens: "passive connection openings",
        tcp_attempt_fails: "failed connection attempts (refused, unreachable)",
        tcp_estab_resets: "connection resets received",
        tcp_in_segs: "segments received",
        tcp_out_segs: "segments sent out",
        tcp_retrans_segs: "segments retransmitted (closed connections)",
        tcp_in_errs: "bad segments received (length, header, options)",
        tcp_in_csum_errors: "segments with a bad checksum (dropped silently, not acknowledged)",
        tcp_out_rsts: "resets sent",
        tcp_no_socket: "segments for no connection and no listener (answered with RST)",
        tcp_listen_bad_acks: "ACKs to LISTEN sockets that matched no connection (answered with RST)",
        tcp_icmp_unmatched: "ICMP errors for no connection",
        tcp_challenge_acks: "challenge ACKs sent (RFC 5961; Linux TCPChallengeACK)",
        tcp_challenge_acks_skipped: "challenge ACKs not sent: the host-wide challenge_ack_limit per second was spent",
    }
    "TcpExt" {
        tcp_listen_overflows: "times the listen queue of a socket overflowed (ListenOverflows)",
        tcp_listen_drops: "SYNs to LISTEN sockets dropped (ListenDrops)",
        tcp_req_q_full_drop: "SYNs dropped because the SYN queue was full and SYN cookies are off (TCPReqQFullDrop)",
        tcp_req_q_full_do_cookies: "SYNs answered with a cookie because the SYN queue was full or tcp_syncookies is 2 (TCPReqQFullDoCookies)",
        syncookies_sent: "SYN cookies sent (SyncookiesSent)",
        syncookies_recv: "SYN cookies received (SyncookiesRecv)",
        syncookies_failed: "invalid SYN cookies received (SyncookiesFailed)",
        tcp_fastopen_active: "successful outbound Fast Open attempts: the SYN's data acknowledged (TCPFastOpenActive)",
        tcp_fastopen_active_fail: "outbound Fast Open attempts whose SYN data was not acknowledged or that timed out (TCPFastOpenActiveFail)",
        tcp_fastopen_passive: "successful inbound Fast Open attempts (TCPFastOpenPassive)",
        tcp_fastopen_passive_fail: "inbound Fast Open attempts with an invalid cookie (TCPFastOpenPassiveFail)",
        tcp_fastopen_passive_alt_key: "inbound Fast Open cookies made with the backup key (TCPFastOpenPassiveAltKey)",
        tcp_fastopen_listen_overflow: "inbound Fast Open attempts refused because the Fast Open queue was full (TCPFastOpenListenOverflow)",
        tcp_fastopen_cookie_reqd: "Fast Open cookie requests received (TCPFastOpenCookieReqd)",
        tcp_fastopen_blackhole: "times active Fast Open was turned off after a suspected black hole (TCPFastOpenBlackhole)",
        tcp_defer_accept_drop: "bare final ACKs dropped while TCP_DEFER_ACCEPT waited for data (TCPDeferAcceptDrop)",
        tw_recycled: "TIME-WAIT 4-tuples reused by an outgoing connection, tcp_tw_reuse (TWRecycled)",
    }
    "Ip6" {
        ip6_in_receives: "total IPv6 packets received (Ip6InReceives)",
        ip6_in_hdr_errors: "with invalid headers or extension headers (Ip6InHdrErrors)",
        ip6_in_addr_errors: "with invalid addresses: not ours, multicast, martian (Ip6InAddrErrors)",
        ip6_in_unknown_protos: "with unknown next header (Ip6InUnknownProtos)",
        ip6_in_delivers: "incoming packets delivered (Ip6InDelivers)",
        ip6_out_requests: "requests sent out (Ip6OutRequests)",
        ip6_reasm_reqds: "fragments received (Ip6ReasmReqds)",
        ip6_reasm_oks: "packets reassembled ok (Ip6ReasmOKs)",
        ip6_reasm_fails: "fragments dropped (overlap, too long, malformed, memory) (Ip6ReasmFails)",
        ip6_reasm_timeouts: "reassemblies timed out (Ip6ReasmTimeout)",
        ip6_frag_creates: "fragments created (Ip6FragCreates)",
        ip6_atomic_frags: "atomic fragments processed in isolation (RFC 6946)",
        ip6_pmtu_lowered: "path MTU estimates lowered by a Packet Too Big",
    }
    "Icmp6" {
        icmp6_in_msgs: "ICMPv6 messages received (Icmp6InMsgs)",
        icmp6_in_errors: "input ICMPv6 message failed: checksum, truncated, unsupported (Icmp6InErrors)",
        icmp6_in_echos: "echo requests received (Icmp6InEchos)",
        icmp6_in_dest_unreachs: "destination unreachable received (Icmp6InDestUnreachs)",
        icmp6_in_pkt_too_bigs: "packet too big received (Icmp6InPktTooBigs)",
        icmp6_in_time_excds: "time exceeded received (Icmp6InTimeExcds)",
        icmp6_in_parm_problems: "parameter problem received (Icmp6InParmProblems)",
        icmp6_out_msgs: "ICMPv6 messages sent (Icmp6OutMsgs)",
        icmp6_out_echo_replies: "echo replies sent (Icmp6OutEchoReplies)",
        icmp6_out_dest_unreachs: "destination unreachable sent (Icmp6OutDestUnreachs)",
        icmp6_out_parm_problems: "parameter problem sent (Icmp6OutParmProblems)",
        icmp6_out_rate_limited: "ICMPv6 errors not sent (host-wide or per-destination rate limit)",
    }
    "Udp" {
        udp_in_datagrams: "packets received",
        udp_no_ports: "packets to unknown port received (answered with ICMP port unreachable)",
        udp_in_errors: "packet receive errors (length, checksum)",
        udp_rcvbuf_errors: "receive buffer errors (socket queue full, dropped)",
        udp_out_datagrams: "packets sent",
    }
}
