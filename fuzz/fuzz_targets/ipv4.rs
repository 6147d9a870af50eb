//! IPv4: any bytes through the checked view and the parser; whatever parses re-emits to a
//! header that parses to the same repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::{Ipv4Packet, Ipv4Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Ipv4Packet::new_checked(data) else { return };
    let _ = (packet.version(), packet.header_len(), packet.dscp(), packet.ecn());
    let _ = (packet.total_len(), packet.ident(), packet.reserved_flag(), packet.dont_frag());
    let _ = (packet.more_frags(), packet.frag_offset(), packet.ttl(), packet.protocol());
    let _ = (packet.checksum(), packet.src_addr(), packet.dst_addr(), packet.options());
    let _ = (packet.verify_checksum(), packet.payload());
    // Fix the checksum so the parser gets past it as often as the length checks allow.
    let mut fixed = data.to_vec();
    let mut view = Ipv4Packet::new_unchecked(&mut fixed[..]);
    view.fill_checksum();
    let Ok(repr) = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&fixed[..])) else { return };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]));
    let again = Ipv4Repr::parse(&Ipv4Packet::new_checked(&out[..]).unwrap()).unwrap();
    assert_eq!(again, repr);
});
