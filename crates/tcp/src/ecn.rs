//! The ECN field of the IP header (RFC 3168 §5): the two low bits of the IPv4 TOS byte and of
//! the IPv6 traffic class. The engine reads it on every arriving segment and chooses it for
//! every segment it sends; the host carries it between the IP header and the engine.

/// An ECN codepoint (RFC 3168 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ecn {
    /// `00`: the sender does not take part in ECN.
    #[default]
    NotEct,
    /// `01`: ECN-Capable Transport, ECT(1).
    Ect1,
    /// `10`: ECN-Capable Transport, ECT(0), the codepoint TCP uses (RFC 3168 §6.1.2 leaves
    /// the choice open; Linux sends ECT(0)).
    Ect0,
    /// `11`: Congestion Experienced, set by a router instead of dropping the packet.
    Ce,
}

impl Ecn {
    /// The codepoint of the field's two low bits (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Ecn {
        match bits & 0b11 {
            0b00 => Ecn::NotEct,
            0b01 => Ecn::Ect1,
            0b10 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    /// The two bits of the field.
    pub const fn bits(self) -> u8 {
        match self {
            Ecn::NotEct => 0b00,
            Ecn::Ect1 => 0b01,
            Ecn::Ect0 => 0b10,
            Ecn::Ce => 0b11,
        }
    }

    /// Whether the packet's transport takes part in ECN (ECT(0), ECT(1) or CE): a router may
    /// mark it CE instead of dropping it.
    pub const fn is_ect(self) -> bool {
        !matches!(self, Ecn::NotEct)
    }
}

#[cfg(test)]
mod tests {
    use super::Ecn;

    #[test]
    fn codepoints_are_rfc3168_bits() {
        for (bits, ecn) in [(0, Ecn::NotEct), (1, Ecn::Ect1), (2, Ecn::Ect0), (3, Ecn::Ce)] {
            assert_eq!(Ecn::from_bits(bits), ecn);
            assert_eq!(ecn.bits(), bits);
            assert_eq!(Ecn::from_bits(0xb8 | bits), ecn, "DSCP bits ignored");
        }
        assert!(!Ecn::NotEct.is_ect() && Ecn::Ect0.is_ect() && Ecn::Ce.is_ect());
    }
}
