//! TCP over IPv6: the `tcp` target's checks with the IPv6 pseudo-header (RFC 8200 §8.1): any
//! bytes through the checked view and the segment parser (the checksum fixed first so option
//! parsing is reached); whatever parses re-emits to a segment that parses the same, but for
//! SACK blocks that no longer fit beside the other options; a second re-emit is identical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::{Ipv6Addr, TcpPacket, TcpRepr};

const SRC: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = TcpPacket::new_checked(data) else { return };
    let _ = (packet.src_port(), packet.dst_port(), packet.seq_number(), packet.ack_number());
    let _ = (packet.header_len(), packet.flags(), packet.options(), packet.payload());
    let _ = (packet.verify_checksum(SRC, DST), TcpRepr::parse(&packet, SRC, DST));
    // The IPv4 pseudo-header of other addresses never verifies what IPv6's did, and the
    // other way round, but neither panics.
    let _ =
        packet.verify_checksum(ustack_wire::Ipv4Addr::LOCALHOST, ustack_wire::Ipv4Addr::LOCALHOST);

    let mut fixed = data.to_vec();
    TcpPacket::new_unchecked(&mut fixed[..]).fill_checksum(SRC, DST);
    let Ok(repr) = TcpRepr::parse(&TcpPacket::new_unchecked(&fixed[..]), SRC, DST) else {
        return;
    };
    let _ = format!("{repr}");
    let reemit = |r: &TcpRepr<'_>| {
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut out[..]), SRC, DST);
        out
    };
    let out = reemit(&repr);
    let again = TcpRepr::parse(&TcpPacket::new_checked(&out[..]).unwrap(), SRC, DST).unwrap();
    let mut expected = repr;
    expected.options.sack_blocks.truncate(repr.options.sack_emitted());
    assert_eq!(again, expected);
    assert_eq!(out, reemit(&again));
});
