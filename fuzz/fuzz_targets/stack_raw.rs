//! The host stack fed raw bytes as IPv4 packets (with optional fix-ups of addresses, ports,
//! lengths and checksums so they get past validation), interleaved with transmit drains,
//! wire delivery, virtual time and application calls; see the harness in `src/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_fuzz::ops::Raw;

fuzz_target!(|data: &[u8]| {
    ustack_fuzz::run::<Raw>(data);
});
