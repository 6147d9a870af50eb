//! ICMPv4: any bytes through the checked view and the parser (the checksum fixed first so
//! the quoted-header parsing is reached); whatever parses re-emits to the same repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::{Icmpv4Packet, Icmpv4Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Icmpv4Packet::new_checked(data) else { return };
    let _ = (packet.msg_type(), packet.msg_code(), packet.checksum(), packet.echo_ident());
    let _ = (packet.echo_seq_no(), packet.next_hop_mtu(), packet.data(), packet.verify_checksum());
    let _ = Icmpv4Repr::parse(&packet);
    let mut fixed = data.to_vec();
    Icmpv4Packet::new_unchecked(&mut fixed[..]).fill_checksum();
    let Ok(repr) = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&fixed[..])) else { return };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
    let again = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap()).unwrap();
    assert_eq!(again, repr);
});
