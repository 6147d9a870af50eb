//! TCP: any bytes through the checked view, the option parser and the segment parser (the
//! checksum fixed first so option parsing is reached); whatever parses re-emits to a segment
//! that parses the same, but for SACK blocks that no longer fit beside the other options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::{Ipv4Addr, TcpOptions, TcpPacket, TcpRepr};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let _ = TcpOptions::parse(data);
    let Ok(packet) = TcpPacket::new_checked(data) else { return };
    let _ = (packet.src_port(), packet.dst_port(), packet.seq_number(), packet.ack_number());
    let _ = (packet.header_len(), packet.flags(), packet.window_len(), packet.checksum());
    let _ = (packet.urgent_at(), packet.options(), packet.payload());
    let _ = (packet.verify_checksum(SRC, DST), TcpRepr::parse(&packet, SRC, DST));

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
    let kept = repr.options.sack_emitted();
    let mut expected = repr;
    expected.options.sack_blocks.truncate(kept);
    assert_eq!(again, expected);
    // A second round is a fixed point.
    let out2 = reemit(&again);
    assert_eq!(out, out2);
});
