//! TCP (placeholder; being written).
#![allow(missing_docs, unreachable_pub)]
pub struct TcpPacket<T>(pub T);
pub struct TcpRepr;
pub struct TcpFlags;
pub struct TcpOptions;
pub struct SackBlock;
pub struct Timestamps;
