//! The host stack fed TCP segments built on live 4-tuples (sequence and acknowledgment numbers
//! relative to what each side sent, any flags, window, options and payload length, fragmented
//! or corrupted on request) and ICMP errors about segments it sent on them, interleaved with
//! transmit drains, wire delivery, virtual time and application calls; see the harness in
//! `src/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_fuzz::ops::Structured;

fuzz_target!(|data: &[u8]| {
    ustack_fuzz::run::<Structured>(data);
});
