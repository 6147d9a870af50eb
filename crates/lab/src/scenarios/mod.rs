//! The scenarios, by part of the notes: opening, closing, reliability, congestion, timers,
//! segments and UDP, scale. [`ALL`] lists them in the order of SPEC.

use crate::registry::{Scenario, Status};

mod open;

/// The reason of the scenarios that wait for the stack.
const NEEDS: &str = "needs SYN cookies / Fast Open / DEFER_ACCEPT / SACK recovery / CUBIC, not implemented yet";

/// Every scenario.
pub static ALL: &[Scenario] = &[
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
];

#[allow(dead_code)]
const _NEEDS: &str = NEEDS;
