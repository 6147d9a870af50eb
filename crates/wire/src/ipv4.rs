//! IPv4 (placeholder; being written).
#![allow(missing_docs, unreachable_pub)]
pub struct IpProtocol;
pub struct Ipv4Packet<T>(pub T);
pub struct Ipv4Repr;
