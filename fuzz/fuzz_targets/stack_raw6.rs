//! The host stack fed raw bytes as IPv6 packets (with optional fix-ups of version, addresses,
//! ports, payload length and the upper-layer checksum so they get past validation), between
//! a dual-stack stack and its IPv6 peer, interleaved with wire delivery, virtual time and
//! application calls; see `src/raw6.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ustack_fuzz::raw6::run(data);
});
