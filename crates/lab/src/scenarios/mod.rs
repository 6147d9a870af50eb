//! The scenarios, by part of the notes: opening, closing, reliability, congestion, timers,
//! segments and UDP, scale. [`ALL`] lists them in the order of SPEC.

use crate::node::Auto;
use crate::registry::{Scenario, Status};

mod open;

/// The port servers listen on.
const PORT: u16 = 5001;

/// A server that accepts, reads everything, and closes when the client has.
const SERVE: Auto = Auto { accept: true, read: true, close_on_eof: true };

/// The reason of the scenarios that wait for the stack.
const NEEDS: &str = "needs SYN cookies / Fast Open / DEFER_ACCEPT / SACK recovery / CUBIC, not implemented yet";

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
        notes: Some("The notes describe SYN-RECEIVED as the state a client enters when it \
                     receives the ACK of its request. It is the server's state after it \
                     received a SYN and sent its SYN-ACK, and, as here, the state of either end \
                     of a simultaneous open."),
        status: Status::Ready(open::simultaneous_open),
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
        notes: Some("The notes justify the third step by the server's wasted resources and \
                     by each side checking that it can send and receive. The reason RFC 9293 \
                     gives is the one shown here: stale duplicate SYNs must not open \
                     connections."),
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
        notes: Some("The notes describe the two queues well. They do not say what happens \
                     when one is full; Linux drops (and counts) the SYN or the ACK, which the \
                     peer's retransmission recovers, or with tcp_abort_on_overflow resets."),
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
        notes: Some("The notes say the SYN is retried after a fixed 3 s. That was the initial \
                     timeout of RFC 1122; RFC 6298 lowered it to 1 s, and the retries back off \
                     exponentially rather than repeat at one interval."),
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
        notes: Some("The notes say the server then blocks in accept() waiting for the ACK. \
                     accept() knows nothing of a half-open connection: it only returns \
                     connections from the accept queue, which this one joins when the \
                     handshake completes."),
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
        notes: Some("The notes say a lost third ACK leads to a RST when the client sends data. \
                     That is only so once the server has given up (see \
                     s5-lost-final-ack-after-giveup); usually the data or the re-ACK simply \
                     completes the handshake."),
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
        notes: Some("This is the case the notes describe, but only this one: the RST comes \
                     because the server gave up, not because the ACK was lost."),
        status: Status::Ready(open::lost_final_ack_after_giveup),
    },
];

#[allow(dead_code)]
const _NEEDS: &str = NEEDS;
