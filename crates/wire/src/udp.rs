//! UDP (placeholder; being written).
#![allow(missing_docs, unreachable_pub)]
pub struct UdpPacket<T>(pub T);
pub struct UdpRepr;
