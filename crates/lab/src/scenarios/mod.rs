//! The scenarios, by part of the notes: opening, closing, reliability, congestion, timers,
//! segments and UDP, scale. [`ALL`] lists them in the order of SPEC.

use crate::node::Auto;
use crate::registry::{Scenario, Status};

mod close;
mod congestion;
mod cubic;
mod listener;
mod local;
mod open;
mod reliability;
mod scale;
mod segments;
mod timers;

/// The port servers listen on.
const PORT: u16 = 5001;

/// A server that accepts, reads everything, and closes when the client has.
const SERVE: Auto = Auto { accept: true, read: true, close_on_eof: true };

/// Every scenario.
pub static ALL: &[Scenario] = &[
    Scenario {
        id: "s1-simultaneous-open",
        spec: "S1",
        title: "Simultaneous open: the SYNs cross",
        shows: "Both hosts call connect() to each other at the same moment, each from the port \
                the other connects to. Each SYN finds its receiver in SYN-SENT, which moves to \
                SYN-RECEIVED and answers with a SYN-ACK; each SYN-ACK then completes the other \
                side. Four segments, no listener, and both ends go SYN-SENT -> SYN-RECEIVED -> \
                ESTABLISHED: the transition of the RFC 9293 diagram most stacks never show.",
        notes: Some(
            "The notes describe SYN-RECEIVED as the state a client enters when it \
                     receives the ACK of its request. It is the server's state after it \
                     received a SYN and sent its SYN-ACK, and, as here, the state of either end \
                     of a simultaneous open.",
        ),
        status: Status::Ready(open::simultaneous_open),
    },
    Scenario {
        id: "s1-simultaneous-close",
        spec: "S1",
        title: "Simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT",
        shows: "Both ends call close() at the same moment; the FINs cross. Each end, in \
                FIN-WAIT-1, receives the other's FIN before the ACK of its own, moves to \
                CLOSING and ACKs it; the ACK of its own FIN then takes it to TIME-WAIT, which \
                lasts 2·MSL (60 s) on both ends, since both closed actively.",
        notes: Some(
            "The notes say TIME-WAIT is entered from CLOSING when no ACK came for a \
                     while. It is the other way round: CLOSING moves to TIME-WAIT when the \
                     ACK of our FIN arrives (RFC 9293 Figure 5); FIN-WAIT-2 moves there on the \
                     peer's FIN.",
        ),
        status: Status::Ready(close::simultaneous_close),
    },
    Scenario {
        id: "s3-handshake",
        spec: "S3",
        title: "Three-way handshake, and the old duplicate SYN it defeats",
        shows: "SYN (seq = x), SYN-ACK (seq = y, ack = x + 1), ACK (seq = x + 1, ack = y + 1), \
                each SYN carrying MSS, window scale, SACK-permitted and timestamps. Why a third \
                step: here an old duplicate SYN of an earlier connection on the same ports \
                reaches the server before the client's new SYN (which the network holds back). \
                The server cannot tell it is old and answers it; the client, which never sent \
                that sequence number, resets the half-open connection, and only then does its \
                real SYN open one (RFC 9293 §3.5, Figure 9). With two steps the server would \
                already have opened a connection for the stale SYN.",
        notes: Some(
            "The notes justify the third step by the server's wasted resources and \
                     by each side checking that it can send and receive. The reason RFC 9293 \
                     gives is the one shown here: stale duplicate SYNs must not open \
                     connections.",
        ),
        status: Status::Ready(open::handshake),
    },
    Scenario {
        id: "s4-accept-queue-overflow",
        spec: "S4",
        title: "Listen queues: the accept queue overflows",
        shows: "A listener with backlog 2 whose application does not call accept(). SYNs wait \
                in the SYN queue (SYN-RECEIVED) and completed connections in the accept queue, \
                which Linux lets reach backlog + 1 entries before it counts as full. The \
                fourth connection's final ACK then finds the queue full and is dropped and \
                counted (the server keeps retransmitting its SYN-ACK while the client already \
                thinks it is ESTABLISHED); the fifth connection's SYNs are dropped and counted. \
                At 2.5 s the application accepts; the next SYN-ACK and SYN retransmissions \
                complete both.",
        notes: Some(
            "The notes describe the two queues well. They do not say what happens \
                     when one is full; Linux drops (and counts) the SYN or the ACK, which the \
                     peer's retransmission recovers, or with tcp_abort_on_overflow resets.",
        ),
        status: Status::Ready(open::accept_queue_overflow),
    },
    Scenario {
        id: "s5-lost-syn",
        spec: "S5",
        title: "Lost SYN: backoff 1, 2, 4, ... s, then connect() fails",
        shows: "Every SYN the client sends is lost. The client retransmits it when its \
                retransmission timer fires, doubling the timeout each time from the initial \
                1 s (RFC 6298 §5.5, Linux tcp_syn_retries = 6): SYNs leave at 0, 1, 3, 7, 15, 31 \
                and 63 s, and 127 s after the first one the connection-establishment timer \
                gives up and connect() fails with a timeout (ETIMEDOUT).",
        notes: Some(
            "The notes say the SYN is retried after a fixed 3 s. That was the initial \
                     timeout of RFC 1122; RFC 6298 lowered it to 1 s, and the retries back off \
                     exponentially rather than repeat at one interval.",
        ),
        status: Status::Ready(open::lost_syn),
    },
    Scenario {
        id: "s5-lost-synack",
        spec: "S5",
        title: "Lost SYN-ACK: both ends retransmit",
        shows: "The server's SYN-ACK is lost. The client, hearing nothing, retransmits its SYN \
                after its 1 s RTO; the server, whose SYN-ACK is not acknowledged, retransmits \
                it after its own 1 s RTO (or on the repeated SYN). The handshake completes \
                about one RTO late, with the same initial sequence numbers.",
        notes: Some(
            "The notes say the server then blocks in accept() waiting for the ACK. \
                     accept() knows nothing of a half-open connection: it only returns \
                     connections from the accept queue, which this one joins when the \
                     handshake completes.",
        ),
        status: Status::Ready(open::lost_synack),
    },
    Scenario {
        id: "s5-lost-final-ack",
        spec: "S5",
        title: "Lost final ACK: the first data completes the handshake",
        shows: "The client's ACK of the SYN-ACK is lost; the client, ESTABLISHED, sends its \
                first data 200 ms later. Every segment after the SYN carries the ACK bit, so \
                the data segment acknowledges the SYN-ACK too: the server moves from \
                SYN-RECEIVED to ESTABLISHED when it arrives and delivers the data. Nothing is \
                reset; had the client stayed silent, the server's SYN-ACK retransmission (1 s) \
                would have drawn a new ACK.",
        notes: Some(
            "The notes say a lost third ACK leads to a RST when the client sends data. \
                     That is only so once the server has given up (see \
                     s5-lost-final-ack-after-giveup); usually the data or the re-ACK simply \
                     completes the handshake.",
        ),
        status: Status::Ready(open::lost_final_ack),
    },
    Scenario {
        id: "s5-lost-final-ack-after-giveup",
        spec: "S5",
        title: "Lost final ACK after the server gave up: RST",
        shows: "Every ACK the client sends in the handshake is lost. The server retransmits \
                its SYN-ACK 1, 3, 7, 15 and 31 s after the first (tcp_synack_retries 5), gives \
                up 63 s after it and drops the half-open entry, while the client sits \
                ESTABLISHED. When the client finally sends data at 70 s, the server has no \
                connection for it and answers with a RST: the client's connection fails with \
                ECONNRESET.",
        notes: Some(
            "This is the case the notes describe, but only this one: the RST comes \
                     because the server gave up, not because the ACK was lost.",
        ),
        status: Status::Ready(open::lost_final_ack_after_giveup),
    },
    Scenario {
        id: "s6-fastopen",
        spec: "S6",
        title: "TCP Fast Open: data in the SYN, one round trip saved",
        shows: "A client that got a Fast Open cookie on an earlier connection sends its \
                request in the SYN; the server checks the cookie and hands the data to the \
                application before the handshake completes, so the answer comes one round \
                trip earlier (RFC 7413). The server side is off by default, as with Linux's \
                tcp_fastopen (0x1: client only); here both hosts have 0x3.",
        notes: Some(
            "The notes' sketch is right in outline (sendto with MSG_FASTOPEN on the \
                     client, the TCP_FASTOPEN option with a queue length on the server); they \
                     leave out the cookie that makes the first connection a normal one.",
        ),
        status: Status::Ready(listener::fastopen),
    },
    Scenario {
        id: "s7-defer-accept",
        spec: "S7",
        title: "TCP_DEFER_ACCEPT: accept() waits for data",
        shows: "A listener with TCP_DEFER_ACCEPT does not hand a connection to accept() when \
                the handshake completes, but when the first data arrives on it (or the defer \
                timeout passes), so a server thread never waits on an idle connection.",
        notes: Some(
            "The notes say the server skips waiting for the final ACK after its \
                     SYN-ACK. It does not: the handshake is the same; only the moment the \
                     connection is handed to accept() moves (Linux also ignores the bare final \
                     ACK while deferring).",
        ),
        status: Status::Ready(listener::defer_accept),
    },
    Scenario {
        id: "s8-syn-flood-cookies",
        spec: "S8",
        title: "SYN flood and SYN cookies",
        shows: "A flood of SYNs fills the SYN queue; the listener then answers with SYN \
                cookies (RFC 4987): the SYN-ACK's sequence number encodes the connection, no \
                state is kept, and a legitimate client's final ACK still opens its \
                connection.",
        notes: None,
        status: Status::Ready(listener::syn_flood_cookies),
    },
    Scenario {
        id: "s9-half-close",
        spec: "S9",
        title: "Four-way close and half-close",
        shows: "The client sends a request and shuts down its sending side (shutdown \
                SHUT_WR): FIN-WAIT-1, then FIN-WAIT-2 once its FIN is ACKed. The server reads \
                the request and the end of the stream, and, in CLOSE-WAIT, still sends its \
                whole 30,000-byte answer, which the client receives in FIN-WAIT-2; its FIN \
                follows the last byte (LAST-ACK). The client ACKs it and holds TIME-WAIT for \
                60 s.",
        notes: Some(
            "The notes' LAST-ACK is entered when the remote end, after a while, \
                     closes passively. LAST-ACK is entered when the passive closer's \
                     application calls close() in CLOSE-WAIT and its FIN is sent; nothing \
                     happens by itself after a while.",
        ),
        status: Status::Ready(close::half_close),
    },
    Scenario {
        id: "s10-close-wait-leak",
        spec: "S10",
        title: "CLOSE-WAIT leak, seen with ss",
        shows: "The client sends 23 bytes and closes. The server's application never reads \
                and never closes: its socket sits in CLOSE-WAIT with the 23 bytes in Recv-Q, \
                exactly the picture of the notes' netstat output, and is still there ten \
                minutes later. The client, orphaned in FIN-WAIT-2, is freed after \
                tcp_fin_timeout.",
        notes: Some(
            "The notes say a CLOSE-WAIT socket lasts at least two hours and that \
                     system settings can shorten it. Nothing in TCP ends CLOSE-WAIT but the \
                     application's close(): no timer runs in it (keepalive, when enabled, \
                     only probes a peer that has vanished).",
        ),
        status: Status::Ready(close::close_wait_leak),
    },
    Scenario {
        id: "s11-fin-wait-2-timeout",
        spec: "S11",
        title: "FIN-WAIT-2 timeout of an orphaned socket",
        shows: "Two connections whose peer never sends its FIN. The one the application \
                closed (an orphan) is freed 60 s after it entered FIN-WAIT-2 (tcp_fin_timeout, \
                never less than 3.5 RTO), without a RST. The one the application only shut \
                down and still holds stays in FIN-WAIT-2, as in Linux.",
        notes: Some(
            "The notes quote tcp_fin_timeout correctly; they do not say it applies \
                     only to sockets the application has closed.",
        ),
        status: Status::Ready(close::fin_wait_2_timeout),
    },
    Scenario {
        id: "s12-time-wait-lost-last-ack",
        spec: "S12",
        title: "TIME-WAIT: the last ACK lost, the FIN retransmitted and re-ACKed",
        shows: "The client closes first; the server closes in turn. The client's ACK of the \
                server's FIN is lost, so the server, in LAST-ACK, retransmits its FIN after \
                its RTO. The client, in TIME-WAIT, ACKs it again and restarts its 2·MSL timer: \
                TIME-WAIT ends 60 s after the retransmitted FIN, not after the first. 20 s in, \
                a RST for the connection arrives and is ignored (RFC 1337): TIME-WAIT cannot \
                be cut short by it.",
        notes: Some(
            "The notes explain TIME-WAIT's purpose well (re-ACKing a lost last ACK's \
                     FIN, keeping stale segments from a new connection) but say it is entered \
                     from CLOSING after a timeout: it is entered from FIN-WAIT-2 on the peer's \
                     FIN, or from CLOSING on the ACK of our FIN.",
        ),
        status: Status::Ready(close::time_wait_lost_last_ack),
    },
    Scenario {
        id: "s13-reuseaddr",
        spec: "S13",
        title: "SO_REUSEADDR and TIME-WAIT build-up",
        shows: "A server answers five short requests and closes each connection first: it \
                holds five TIME-WAIT sockets on its port. Restarted (its listener closed and \
                opened again), it cannot bind the port without SO_REUSEADDR (address in use); \
                with it, it can, while the old connections finish their TIME-WAIT, which \
                SO_REUSEADDR does not shorten.",
        notes: Some(
            "The notes say SO_REUSEADDR lets the port in TIME-WAIT be reclaimed and \
                     reused quickly. It lets a new listener bind the port while connections \
                     on it sit in TIME-WAIT; the TIME-WAIT sockets stay for their 2·MSL.",
        ),
        status: Status::Ready(close::reuseaddr),
    },
    Scenario {
        id: "s14-mss",
        spec: "S14",
        title: "Segmentation and the MSS option",
        shows: "The server's interface has an MTU of 1000, the client's 1500. Each SYN \
                announces what its sender can receive (MSS = MTU - 40: 1460 and 960); each \
                end then sends at most the smaller, less the 12 bytes of the timestamps \
                option: 948 bytes of data per segment, both ways, and no packet larger than \
                the server's MTU.",
        notes: Some(
            "The notes say TCP cuts data into the blocks it finds best; the rule is \
                     the MSS each end announces in its SYN (RFC 9293 §3.7.1), 536 when absent.",
        ),
        status: Status::Ready(reliability::mss),
    },
    Scenario {
        id: "s15-reorder-duplicate",
        spec: "S15",
        title: "Reordering, duplicates, cumulative ACKs, unpredictable ISNs",
        shows: "Ten segments in a burst; the network holds the second back 3 ms and delivers \
                the sixth twice. The receiver ACKs the out-of-order third at once with the \
                cumulative ACK still at the second (a duplicate ACK) and a SACK block, buffers \
                it, and when the second arrives ACKs everything held in one cumulative ACK. \
                The duplicate is discarded and ACKed again. Two duplicate ACKs are below the \
                fast-retransmit threshold, so nothing is resent. ISNs come from a clock plus a \
                keyed hash of the 4-tuple (RFC 6528): a later connection's ISN cannot be \
                predicted from an earlier one.",
        notes: None,
        status: Status::Ready(reliability::reorder_duplicate),
    },
    Scenario {
        id: "s16-bad-checksum",
        spec: "S16",
        title: "A bad checksum: dropped silently, retransmitted",
        shows: "One bit of a data segment flips on the wire. The receiver's ones-complement sum \
                over the pseudo-header, header and data no longer checks (the working is \
                below); it drops the segment, counts it, and sends nothing. The sender's \
                retransmission timer recovers it.",
        notes: None,
        status: Status::Ready(reliability::bad_checksum),
    },
    Scenario {
        id: "s17-rto-backoff",
        spec: "S17",
        title: "Retransmission timeout: backoff, Karn's rule, giving up",
        shows: "Timestamps off. First connection: the first three transmissions of a segment \
                are lost; each retransmission waits twice as long as the previous one; the \
                ACK that finally comes gives no RTT sample, since it cannot say which copy it \
                answers (Karn's rule); the next segment does. Second connection: the path is \
                gone; the waits double up to the 120 s cap, and about 924.6 s after the first \
                retransmission (tcp_retries2 15) the connection is given up with ETIMEDOUT.",
        notes: Some(
            "The notes describe retransmission after a timeout and giving up with a \
                     reset after some tries; the RTO comes from the smoothed RTT and its \
                     variance (RFC 6298), doubles on each timeout, and the error is reported \
                     to the application (ETIMEDOUT).",
        ),
        status: Status::Ready(reliability::rto_backoff),
    },
    Scenario {
        id: "s18-stop-and-wait",
        spec: "S18",
        title: "Stop-and-wait ARQ: the note's four cases",
        shows: "A connection limited to one segment in flight sends five 1000-byte segments. \
                Segment 1: no error. Segment 2 is lost and segment 3 damaged (the receiver \
                drops it): the receiver says nothing and the sender retransmits on timeout. \
                Segment 4's ACK is lost: the sender retransmits, the receiver discards the \
                duplicate and ACKs again. Segment 5's ACK is late: the sender has already \
                retransmitted, the receiver re-ACKs, and the late ACK, when it comes, is \
                ignored.",
        notes: None,
        status: Status::Ready(reliability::stop_and_wait),
    },
    Scenario {
        id: "s19-zero-window-persist",
        spec: "S19",
        title: "Flow control: zero window and the persist timer",
        shows: "The server's application does not read and its 8 KiB receive buffer fills: it \
                advertises a zero window and the sender stops. The sender's persist timer \
                sends window probes, backing off. At 3 s the application reads everything and \
                the server sends a window update, which is lost; without the probes both ends \
                would wait forever. The next probe draws an ACK with the open window and the \
                transfer completes.",
        notes: None,
        status: Status::Ready(reliability::zero_window_persist),
    },
    Scenario {
        id: "s20-slow-start",
        spec: "S20",
        title: "Slow start: the window doubles every round trip",
        shows: "A 1 MB transfer over 100 Mbit/s with a 40 ms round trip. The sender starts with \
                10 segments (Linux's initial window) and each ACK grows cwnd by what it \
                acknowledges, one segment per segment ACKed; so each round trip's flight is \
                twice the last: 10, 20, 40, 80, 160 segments. Nothing is lost and ssthresh \
                stays infinite. The plots show cwnd, the flight and the time-sequence graph.",
        notes: Some(
            "The notes say slow start starts from cwnd = 1 and doubles cwnd on every \
                     ACK. cwnd grows by one segment per ACKed segment, which doubles it once \
                     per round trip, not per ACK; and the initial window is 10 segments \
                     (RFC 6928, Linux), not 1.",
        ),
        status: Status::Ready(congestion::slow_start),
    },
    Scenario {
        id: "s20-congestion-avoidance",
        spec: "S20",
        title: "Congestion avoidance: one segment more per round trip",
        shows: "The same path; one segment of the fifth flight is lost. Fast retransmit sets \
                ssthresh to half the flight, and from then on cwnd is above ssthresh: it grows \
                by one segment per window of data acknowledged, one segment per round trip, \
                and each flight is one segment longer than the last.",
        notes: None,
        status: Status::Ready(congestion::congestion_avoidance),
    },
    Scenario {
        id: "s20-fast-retransmit-recovery",
        spec: "S20",
        title: "Fast retransmit and fast recovery (NewReno)",
        shows: "One segment of a 160-segment flight is lost. Every later segment draws a \
                duplicate ACK; the third makes the sender retransmit at once, without waiting \
                for a timeout, and enter fast recovery: ssthresh = FlightSize / 2, cwnd = \
                ssthresh + 3 segments, one more segment for every further duplicate ACK, \
                which lets new data out while the hole is being filled. The ACK that covers \
                the retransmission ends recovery and deflates cwnd to at most ssthresh \
                (RFC 5681 §3.2, RFC 6582). The ladder shows the moment of the loss.",
        notes: Some(
            "The notes' fast recovery sets cwnd to the halved ssthresh and goes on \
                     in congestion avoidance. RFC 5681 adds the 3 segments the duplicate ACKs \
                     say have left the network and inflates cwnd by one segment per further \
                     duplicate ACK, deflating it when the new ACK comes.",
        ),
        status: Status::Ready(congestion::fast_retransmit_recovery),
    },
    Scenario {
        id: "s20-rto-collapse",
        spec: "S20",
        title: "Timeout: cwnd collapses to one segment",
        shows: "The path drops everything for 60 ms in the middle of a flight: no segment gets \
                through, no duplicate ACK comes back, and only the retransmission timer can \
                recover. On the timeout ssthresh = FlightSize / 2 and cwnd = 1 segment; slow \
                start regrows the window to ssthresh in a few round trips, then congestion \
                avoidance takes over.",
        notes: Some(
            "The notes halve ssthresh from the window \"when congestion happened\". \
                     RFC 5681 halves the data in flight (FlightSize), which can be less than \
                     cwnd.",
        ),
        status: Status::Ready(congestion::rto_collapse),
    },
    Scenario {
        id: "s20-sack-recovery",
        spec: "S20",
        title: "SACK-based loss recovery in one round trip",
        shows: "Three segments of a 160-segment flight are lost. With SACK (RFC 2018), the \
                receiver's ACKs say exactly what arrived past each hole; RACK (RFC 8985) marks \
                the holes lost by time and the sender retransmits all three within one round \
                trip, Proportional Rate Reduction (RFC 6937) sending fewer segments than are \
                delivered while the window comes down; all holes are filled about one round trip after the first \
                retransmission. The same losses without SACK: NewReno learns of one hole per \
                round trip, from each partial ACK, and needs three. These are Linux's \
                defaults (tcp_sack, tcp_recovery, PRR).",
        notes: Some(
            "The notes stop at fast retransmit and fast recovery; modern stacks \
                     recover from several losses in one round trip with SACK.",
        ),
        status: Status::Ready(congestion::sack_recovery),
    },
    Scenario {
        id: "s20-cubic-vs-newreno",
        spec: "S20",
        title: "CUBIC against NewReno",
        shows: "Two bulk transfers over the same long fat path (100 Mbit/s, 200 ms round \
                trip), each losing the same segment in slow start, one sender with CUBIC \
                (RFC 9438, ustack's and Linux's default, with HyStart++) and one with NewReno; \
                the engine's loss recovery (SACK, RACK, PRR) is the same for both. Until the \
                loss their windows grow alike. Then NewReno halves its window and regains one \
                segment per round trip; CUBIC reduces by β = 0.7, remembers the old window as \
                W_max and regrows along W_cubic(t) = C·(t − K)³ + W_max: fast at first, flat \
                near W_max (concave), faster and faster past it (convex), back at the old \
                window after K seconds whatever the round trip, where NewReno needs half the \
                window in round trips. Each check computes the expected numbers from the RFCs' \
                formulas. The figure draws both windows against those formulas; the ladder, \
                pcap, trace and the other plots are the CUBIC sender's.",
        notes: Some(
            "The notes describe only Reno's congestion control (slow start, halving, \
                     one segment per round trip). Linux has used CUBIC by default since \
                     2.6.19 (2006), as Windows and macOS have for years: on a path with a large \
                     bandwidth-delay product Reno's linear growth leaves most of the path \
                     unused for a long time after every loss.",
        ),
        status: Status::Ready(cubic::cubic_vs_newreno),
    },
    Scenario {
        id: "s21-timers",
        spec: "S21",
        title: "The seven timers, each firing",
        shows: "One run in which every timer of a connection fires, each set away from Linux's \
                default to show it is a setting: connection establishment (tcp_syn_retries 2: \
                connect() fails at 7 s), retransmission (the SYNs, then a lost data segment), \
                delayed ACK (a lone segment ACKed 40 ms late), persist (a full receive \
                buffer), keepalive (tcp_keepalive_time 20 s: a probe after 20 s idle), \
                FIN-WAIT-2 (tcp_fin_timeout 15 s) and TIME-WAIT (MSL 5 s: 10 s).",
        notes: Some(
            "The notes' connection-establishment timer starts at 3 s. RFC 6298 made it \
                     1 s, and the retries back off; the notes describe only two of the seven \
                     timers in detail.",
        ),
        status: Status::Ready(timers::timers),
    },
    Scenario {
        id: "s22-header-and-options",
        spec: "S22",
        title: "The TCP header and its options, field by field",
        shows: "The client's SYN decoded byte by byte: ports, sequence and acknowledgment \
                numbers, data offset, flags, window, checksum (verified over the \
                pseudo-header), urgent pointer, and the options MSS, SACK-permitted, \
                timestamps, NOP and window scale. Then a duplicate ACK carrying a SACK block, \
                and an option list ending in EOL as ustack's parser reads it.",
        notes: None,
        status: Status::Ready(segments::header_and_options),
    },
    Scenario {
        id: "s23-udp-connect",
        spec: "S23",
        title: "UDP: bind, connect, a full receive buffer",
        shows: "No handshake: the first packet is the first datagram, behind an 8-byte header; \
                a lost datagram is never resent. bind to port 0 picks an ephemeral port. \
                connect() only records the peer: a connected socket takes datagrams from it \
                alone (a stranger's datagram gets ICMP port unreachable), connect() again \
                changes the peer, and disconnecting undoes it. A receive buffer of 4096 bytes \
                that nobody reads takes four 1000-byte datagrams and drops (and counts) the \
                other six.",
        notes: Some(
            "The notes say UDP has no send buffer and that bind or connect mainly \
                     save the kernel work. What matters is that connect() filters incoming \
                     datagrams and lets errors (ICMP) be reported; the receive buffer is what \
                     drops datagrams.",
        ),
        status: Status::Ready(segments::udp_connect),
    },
    Scenario {
        id: "s24-loopback-vs-unix",
        spec: "S24",
        title: "ustack's loopback against kernel 127.0.0.1 and AF_UNIX",
        shows: "A program talking to itself, measured in real time in one run (the one \
                scenario that is not replayed from the seed: the numbers are this machine's, \
                now). The same two exchanges go over ustack's own loopback interface through \
                its blocking socket API (client, server and driver threads), over ustack-core \
                alone on one thread (the protocol processing without threads or locks), over \
                the kernel's TCP on 127.0.0.1 and over an AF_UNIX stream socket pair: bulk \
                (64 KiB writes for 150 ms, the reader checking every byte) and request/response \
                (a 64-byte request and its echo, for 80 ms). The transports take turns, three \
                rounds; the table gives each one's median, its spread and the ratios. The \
                checks are about correctness, not speed (a loaded two-core machine may slow \
                any of them): every byte arrives intact, every answer is its request, every \
                number comes from a real measurement, and ustack's traffic never leaves the \
                stack for its device. The whole measurement takes about three seconds.",
        notes: Some(
            "The notes say AF_UNIX beats 127.0.0.1 because it skips headers and \
                     routing; the measurement says by how much on this machine.",
        ),
        status: Status::Ready(local::loopback_vs_unix),
    },
    Scenario {
        id: "s25-port-exhaustion",
        spec: "S25",
        title: "Ephemeral ports run out",
        shows: "The client's ephemeral range is narrowed to 100 ports (Linux's default has \
                28,232: 32768-60999). 100 connections to the server's port 5001 take them \
                all; the 101st connect() fails at once with EADDRNOTAVAIL, without sending a \
                SYN. The same ports serve 100 more connections to port 5002: a port is only \
                needed per (local address, remote address, remote port). Closed first by the \
                client, the 100 connections hold their ports in TIME-WAIT, and connect() \
                fails until 2·MSL has passed.",
        notes: Some(
            "The notes put a client's limit at 65,535 ports. The limit is the \
                     ephemeral range, per remote address and port, and TIME-WAIT holds ports \
                     too.",
        ),
        status: Status::Ready(scale::port_exhaustion),
    },
    Scenario {
        id: "s26-who-holds-time-wait",
        spec: "S26",
        title: "Who holds TIME-WAIT and CLOSE-WAIT",
        shows: "Two connections, closed in opposite orders. Whoever closes first goes through \
                FIN-WAIT and ends in TIME-WAIT; the other end sits in CLOSE-WAIT until it \
                closes too. Then a server closes twenty short connections first: it, not \
                its clients, pays twenty TIME-WAIT sockets, and each client waits in \
                CLOSE-WAIT.",
        notes: Some(
            "The notes have this right: TIME-WAIT always on the active closer, \
                     CLOSE-WAIT on the passive one.",
        ),
        status: Status::Ready(close::who_holds_time_wait),
    },
];
