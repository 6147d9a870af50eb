//! ICMPv6: any bytes through the checked view and the parser (the checksum over the IPv6
//! pseudo-header fixed first so the quoted-packet parsing is reached); whatever parses
//! re-emits to the same repr, and the chain of the quoted packet can be followed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::ipv6ext::ExtHeaderIter;
use ustack_wire::{Icmpv6Packet, Icmpv6Repr, Ipv6Addr};

const SRC: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Icmpv6Packet::new_checked(data) else { return };
    let _ = (packet.msg_type(), packet.msg_code(), packet.checksum(), packet.echo_ident());
    let _ = (packet.echo_seq_no(), packet.mtu(), packet.pointer(), packet.data());
    let _ = (packet.is_error(), packet.verify_checksum(SRC, DST));
    let _ = Icmpv6Repr::parse(&packet, SRC, DST);
    let mut fixed = data.to_vec();
    Icmpv6Packet::new_unchecked(&mut fixed[..]).fill_checksum(SRC, DST);
    let view = Icmpv6Packet::new_checked(&fixed[..]).unwrap();
    let Ok(repr) = Icmpv6Repr::parse(&view, SRC, DST) else { return };
    let _ = format!("{repr}");
    if let Some((header, quoted)) = repr.quoted()
        && let Ok((_, at)) = ExtHeaderIter::new(header.next_header, quoted).upper_layer()
    {
        assert!(at <= quoted.len());
    }
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), SRC, DST);
    let again = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&out[..]).unwrap(), SRC, DST);
    assert_eq!(again, Ok(repr));
});
