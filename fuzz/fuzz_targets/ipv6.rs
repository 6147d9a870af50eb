//! IPv6: any bytes through the checked view, the repr and the extension header walk, then the
//! upper layer the walk finds (UDP, TCP or ICMPv6, its checksum fixed first so the parser gets
//! past it, as a host would parse it) with the IPv6 pseudo-header. Checks: the fixed header
//! re-emits byte for byte; the walk's offsets and pointers stay in the packet; its fragment
//! header reads back the same; a Parameter Problem it asks for can be built from the packet
//! and parses back; every upper layer that parses re-emits to the same repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustack_wire::icmpv6;
use ustack_wire::ipv6ext::ExtHeaderIter;
use ustack_wire::{
    ExtHeaderError, ExtHeaderLimits, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6FragRepr,
    Ipv6Packet, Ipv6Repr, TcpPacket, TcpRepr, UdpPacket, UdpRepr,
};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Ipv6Packet::new_checked(data) else { return };
    let _ = (packet.version(), packet.traffic_class(), packet.dscp(), packet.ecn());
    let _ = (packet.flow_label(), packet.payload_len(), packet.next_header(), packet.hop_limit());
    let (src, dst) = (packet.src_addr(), packet.dst_addr());
    let repr = Ipv6Repr::parse(&packet).expect("a checked view parses");
    let mut header = [0u8; 40];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut header[..]));
    assert_eq!(header, data[..40]);

    let payload = packet.payload();
    for h in ExtHeaderIter::new(packet.next_header(), payload).flatten() {
        assert!(h.offset() + h.bytes().len() <= payload.len());
    }
    if let Ok((_, at)) = ExtHeaderIter::new(packet.next_header(), payload).upper_layer() {
        assert!(at <= payload.len());
    }

    match packet.walk_ext_headers(&ExtHeaderLimits::DEFAULT) {
        Ok(chain) => {
            assert!(chain.offset <= payload.len() && chain.protocol_field < data.len());
            if let Some(f) = chain.fragment {
                assert_eq!(Ipv6FragRepr::parse(&payload[f.offset..]), Ok(f.repr));
                assert_eq!(data[f.next_header_field], IpProtocol::FRAGMENT.0);
            }
            if !chain.needs_reassembly() {
                upper_layer(chain.protocol, &payload[chain.offset..], src, dst);
            }
        }
        Err(ExtHeaderError::ParamProblem { reason, pointer }) => {
            assert!((pointer as usize) < data.len());
            let (header, quoted) = icmpv6::quote(data).expect("the packet quotes");
            let answer = Icmpv6Repr::ParamProblem { reason, pointer, header, data: quoted };
            let mut out = vec![0u8; answer.buffer_len()];
            assert!(out.len() <= icmpv6::MAX_QUOTE_LEN + icmpv6::HEADER_LEN);
            answer.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), dst, src);
            let back = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&out[..]).unwrap(), dst, src);
            assert_eq!(back, Ok(answer));
        }
        Err(ExtHeaderError::Discard(_)) => {}
    }
});

fn upper_layer(
    protocol: IpProtocol,
    bytes: &[u8],
    src: ustack_wire::Ipv6Addr,
    dst: ustack_wire::Ipv6Addr,
) {
    let mut fixed = bytes.to_vec();
    match protocol {
        IpProtocol::UDP => {
            let _ = UdpPacket::new_checked(bytes).map(|p| UdpRepr::parse(&p, src, dst).ok());
            let Ok(mut p) = UdpPacket::new_checked(&mut fixed[..]) else { return };
            p.fill_checksum(src, dst);
            let Ok(repr) = UdpRepr::parse(&UdpPacket::new_checked(&fixed[..]).unwrap(), src, dst)
            else {
                return;
            };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), src, dst);
            let again = UdpRepr::parse(&UdpPacket::new_checked(&out[..]).unwrap(), src, dst);
            assert_eq!(again, Ok(repr));
        }
        IpProtocol::TCP => {
            let _ = TcpPacket::new_checked(bytes).map(|p| TcpRepr::parse(&p, src, dst).ok());
            let Ok(mut p) = TcpPacket::new_checked(&mut fixed[..]) else { return };
            p.fill_checksum(src, dst);
            let Ok(repr) = TcpRepr::parse(&TcpPacket::new_unchecked(&fixed[..]), src, dst) else {
                return;
            };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), src, dst);
            let mut expected = repr;
            expected.options.sack_blocks.truncate(repr.options.sack_emitted());
            let again = TcpRepr::parse(&TcpPacket::new_checked(&out[..]).unwrap(), src, dst);
            assert_eq!(again, Ok(expected));
        }
        IpProtocol::ICMPV6 => {
            let Ok(mut p) = Icmpv6Packet::new_checked(&mut fixed[..]) else { return };
            p.fill_checksum(src, dst);
            let fixed_view = Icmpv6Packet::new_checked(&fixed[..]).unwrap();
            let Ok(repr) = Icmpv6Repr::parse(&fixed_view, src, dst) else { return };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), src, dst);
            let again = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&out[..]).unwrap(), src, dst);
            assert_eq!(again, Ok(repr));
        }
        _ => {}
    }
}
