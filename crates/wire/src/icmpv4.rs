//! ICMPv4 (placeholder; being written).
#![allow(missing_docs, unreachable_pub)]
pub struct Icmpv4Packet<T>(pub T);
pub struct Icmpv4Repr;
pub struct DstUnreachable;
