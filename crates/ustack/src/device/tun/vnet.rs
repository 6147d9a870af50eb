//! The virtio-net header that leads every packet read from or written to a TUN interface
//! opened with `IFF_VNET_HDR` (Linux `struct virtio_net_hdr`, `include/uapi/linux/
//! virtio_net.h`; `drivers/net/tun.c` reads and writes it, `include/linux/virtio_net.h`
//! turns it into and out of a socket buffer's offload state):
//!
//! ```text
//!  offset  size  field
//!       0     1  flags        NEEDS_CSUM (1): the checksum at csum_start + csum_offset is
//!                             only seeded; DATA_VALID (2): the kernel verified it
//!       1     1  gso_type     NONE (0), TCPV4 (1), UDP (3), TCPV6 (4), UDP_L4 (5); | ECN (0x80)
//!       2     2  hdr_len      length of the headers each segment carries a copy of
//!       4     2  gso_size     payload bytes per segment
//!       6     2  csum_start   where the checksummed part starts
//!       8     2  csum_offset  where the checksum sits, from csum_start
//! ```
//!
//! The 16-bit fields are in the host's byte order: a TUN device takes the legacy virtio
//! layout, native-endian, unless told otherwise (`TUNSETVNETLE`, `TUNSETVNETBE`), and ustack
//! never tells it otherwise.

use ustack_core::Gso;
use ustack_core::wire::checksum;

/// The header's length (`sizeof(struct virtio_net_hdr)`).
pub(crate) const LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum is to be completed (Linux `CHECKSUM_PARTIAL`).
pub(crate) const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the kernel verified the checksum.
pub(crate) const F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub(crate) const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub(crate) const GSO_TCPV6: u8 = 4;

/// A `struct virtio_net_hdr`, field for field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct VnetHdr {
    pub(crate) flags: u8,
    pub(crate) gso_type: u8,
    pub(crate) hdr_len: u16,
    pub(crate) gso_size: u16,
    pub(crate) csum_start: u16,
    pub(crate) csum_offset: u16,
}

impl VnetHdr {
    /// Reads a header.
    pub(crate) fn decode(b: &[u8; LEN]) -> VnetHdr {
        let u16_at = |at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        }
    }

    /// Writes the header.
    pub(crate) fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// The header for a TCP packet the stack sent with `gso` (`packet` starts with its IP
    /// header, whose version picks TCPV4 or TCPV6): the kernel cuts it into segments of
    /// `gso.segment_size` and completes each checksum, which the stack seeded.
    pub(crate) fn for_gso(packet: &[u8], gso: Gso) -> VnetHdr {
        let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: if v6 { GSO_TCPV6 } else { GSO_TCPV4 },
            hdr_len: gso.header_len,
            gso_size: gso.segment_size,
            csum_start: gso.csum_start,
            csum_offset: Gso::CSUM_OFFSET,
        }
    }
}

/// Whether `packet` is a TCP segment in IPv4 (not a fragment) or in IPv6 (with no extension
/// header).
pub(crate) fn is_tcp(packet: &[u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            packet.len() >= 20
                && packet[9] == 6
                && u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff == 0
        }
        Some(6) => packet.len() >= 40 && packet[6] == 6,
        _ => false,
    }
}

/// Completes a checksum the kernel left seeded (`NEEDS_CSUM`), as Linux's
/// `skb_checksum_help` does: the ones' complement sum from `start` to the end, the seed in
/// the field included, complemented, at `start + offset` (a result of 0 written as 0xffff,
/// which UDP needs and TCP does not mind). Returns false, changing nothing, when the field
/// lies outside the packet.
pub(crate) fn complete_checksum(packet: &mut [u8], start: u16, offset: u16) -> bool {
    let (start, at) = (usize::from(start), usize::from(start) + usize::from(offset));
    if at + 2 > packet.len() || start > at {
        return false;
    }
    let sum = checksum::finish(checksum::data(&packet[start..]));
    let value = if sum == 0 { 0xffff } else { sum };
    packet[at..at + 2].copy_from_slice(&value.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use ustack_core::wire::{TcpPacket, checksum};

    use super::*;

    /// The header Linux writes before a 64 KiB TSO packet of TCP over IPv4 with timestamps
    /// (`virtio_net_hdr_from_skb`: gso_type TCPV4, gso_size 1448, NEEDS_CSUM from the TCP
    /// header at 20, the checksum 16 bytes in; hdr_len is the linear part's length, here
    /// the 66 bytes of headers), laid out as `struct virtio_net_hdr` on a little-endian host.
    #[cfg(target_endian = "little")]
    const KERNEL_TSO4: [u8; LEN] = [0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x14, 0x00, 0x10, 0x00];

    #[cfg(target_endian = "little")]
    #[test]
    fn the_header_has_the_kernel_layout() {
        let hdr = VnetHdr::decode(&KERNEL_TSO4);
        assert_eq!(
            hdr,
            VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: GSO_TCPV4,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 20,
                csum_offset: 16,
            }
        );
        assert_eq!(hdr.encode(), KERNEL_TSO4);
        // A packet with nothing to offload: all zero, as the kernel writes it for a plain
        // packet whose checksum it did not check (flags 0, GSO_NONE).
        assert_eq!(VnetHdr::decode(&[0; LEN]), VnetHdr::default());
    }

    #[test]
    fn encode_and_decode_are_inverse() {
        for v in [0u16, 1, 0x1234, 0xfffe, 0xffff] {
            let hdr = VnetHdr {
                flags: F_DATA_VALID,
                gso_type: GSO_TCPV6 | 0x80,
                hdr_len: v,
                gso_size: v ^ 0x00ff,
                csum_start: v.rotate_left(3),
                csum_offset: !v,
            };
            assert_eq!(VnetHdr::decode(&hdr.encode()), hdr);
        }
    }

    #[test]
    fn gso_headers_name_the_family_and_the_checksum_field() {
        let gso = Gso { segment_size: 1428, header_len: 40 + 32, csum_start: 40 };
        let mut v6 = vec![0u8; 100];
        v6[0] = 0x60;
        let hdr = VnetHdr::for_gso(&v6, gso);
        assert_eq!(
            (hdr.flags, hdr.gso_type, hdr.hdr_len, hdr.gso_size, hdr.csum_start, hdr.csum_offset),
            (F_NEEDS_CSUM, GSO_TCPV6, 72, 1428, 40, 16)
        );
        let mut v4 = vec![0u8; 100];
        v4[0] = 0x45;
        assert_eq!(VnetHdr::for_gso(&v4, gso).gso_type, GSO_TCPV4);
    }

    #[test]
    fn a_seeded_checksum_is_completed_as_linux_completes_it() {
        // A TCP segment 10.0.0.1:1000 > 10.0.0.2:2000 with 300 bytes of payload, its
        // checksum field holding the pseudo-header sum, as the kernel hands it over.
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut pkt = vec![0u8; 20 + 20 + 300];
        pkt[0] = 0x45;
        pkt[9] = 6;
        let tcp = &mut pkt[20..];
        tcp[0..2].copy_from_slice(&1000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&2000u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x18;
        for (i, b) in tcp[20..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let seed = checksum::pseudo_header_v4(src, dst, 6, 320);
        tcp[16..18].copy_from_slice(&seed.to_be_bytes());
        assert!(!TcpPacket::new_checked(&pkt[20..]).unwrap().verify_checksum(src, dst));
        assert!(complete_checksum(&mut pkt, 20, 16));
        assert!(TcpPacket::new_checked(&pkt[20..]).unwrap().verify_checksum(src, dst));
        assert!(is_tcp(&pkt));
        // A field outside the packet is refused and nothing changes.
        let before = pkt.clone();
        assert!(!complete_checksum(&mut pkt, 20, 400));
        assert_eq!(pkt, before);
    }
}
