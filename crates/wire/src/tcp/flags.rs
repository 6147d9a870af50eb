//! The TCP control bits (RFC 9293 §3.1, RFC 3168 §6.1 for ECE and CWR, RFC 3540 for NS).

use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign};

/// The nine TCP control bits as they sit in header bytes 12 and 13: bit 8 is NS (byte 12,
/// bit 0), bits 7..0 are CWR ECE URG ACK PSH RST SYN FIN (byte 13).
///
/// RFC 9293 §3.1 marks the four bits before CWR as "Reserved (Rsrvd): ... Must be zero in
/// generated segments and must be ignored in received segments if the corresponding future
/// features are not implemented". NS (RFC 3540, now historic; reused as AE by accurate ECN) is
/// the lowest of them and kept here; the other three are dropped by
/// [`from_bits_truncate`](TcpFlags::from_bits_truncate) and never emitted.
///
/// `Debug` prints `SYN|ACK`; `Display` prints tcpdump's `[S.]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u16);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// ECN-nonce sum (RFC 3540), the lowest bit of header byte 12.
    pub const NS: TcpFlags = TcpFlags(0x100);

    /// Every bit this type represents.
    const ALL: u16 = 0x1ff;

    /// Names in bit order, for `Debug`.
    const NAMES: [(TcpFlags, &'static str); 9] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
        (TcpFlags::NS, "NS"),
    ];

    /// tcpdump's letters, in the order tcpdump prints them (`print-tcp.c`, `tcp_flag_values`).
    const LETTERS: [(TcpFlags, char); 9] = [
        (TcpFlags::FIN, 'F'),
        (TcpFlags::SYN, 'S'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::ACK, '.'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'W'),
        (TcpFlags::NS, 'e'),
    ];

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The bits, NS in bit 8 (the value of header bytes 12..14 masked with `0x01ff`).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The flags in `bits`, ignoring bits 9 to 15 (the reserved bits and the data offset).
    pub const fn from_bits_truncate(bits: u16) -> TcpFlags {
        TcpFlags(bits & TcpFlags::ALL)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }

    /// Sets or clears the flags of `other`.
    pub fn set(&mut self, other: TcpFlags, value: bool) {
        if value {
            self.insert(other);
        } else {
            self.remove(other);
        }
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl BitAndAssign for TcpFlags {
    fn bitand_assign(&mut self, rhs: TcpFlags) {
        self.0 &= rhs.0;
    }
}

impl fmt::Debug for TcpFlags {
    /// `SYN|ACK`; `(empty)` when no flag is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(empty)");
        }
        let mut first = true;
        for (flag, name) in TcpFlags::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump's flag field with its brackets: `[S]`, `[S.]`, `[P.]`, `[F.]`, `[R]`, `[.]`,
    /// and `[none]` when no flag is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        if self.is_empty() {
            f.write_str("none")?;
        }
        for (flag, letter) in TcpFlags::LETTERS {
            if self.contains(flag) {
                fmt::Write::write_char(f, letter)?;
            }
        }
        f.write_str("]")
    }
}
