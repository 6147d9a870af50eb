//! UDP: any bytes through the checked view and the parser; whatever parses re-emits to the
//! same repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::{Ipv4Addr, UdpPacket, UdpRepr};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = UdpPacket::new_checked(data) else { return };
    let _ = (packet.src_port(), packet.dst_port(), packet.len(), packet.checksum());
    let _ = (packet.payload(), packet.verify_checksum(SRC, DST));
    let _ = UdpRepr::parse(&packet, SRC, DST);
    let mut fixed = data.to_vec();
    UdpPacket::new_unchecked(&mut fixed[..]).fill_checksum(SRC, DST);
    let Ok(repr) = UdpRepr::parse(&UdpPacket::new_unchecked(&fixed[..]), SRC, DST) else { return };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), SRC, DST);
    let again = UdpRepr::parse(&UdpPacket::new_checked(&out[..]).unwrap(), SRC, DST).unwrap();
    assert_eq!(again, repr);
});
