//! ustack: a userspace TCP/IP stack (placeholder; devices being written).
#![deny(unsafe_code)]
#![warn(missing_docs)]
pub use ustack_core as core;
pub use ustack_wire as wire;
