//! Cross-checks ustack-wire's TCP against an independent implementation, etherparse:
//! (a) what we emit, etherparse reads back field for field, option for option, and computes
//! the same checksum for; (b) what etherparse builds, we parse to the same values.

use etherparse::{TcpHeader, TcpOptionElement, TcpOptionReadError, TcpSlice};
use proptest::prelude::*;
use ustack_wire::tcp::{FastOpenCookie, SackList};
use ustack_wire::{
    Ipv4Addr, ParseError, SackBlock, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps,
};

/// Our flags as etherparse's booleans, NS first.
fn flag_bools(flags: TcpFlags) -> [bool; 9] {
    [
        flags.contains(TcpFlags::NS),
        flags.contains(TcpFlags::CWR),
        flags.contains(TcpFlags::ECE),
        flags.contains(TcpFlags::URG),
        flags.contains(TcpFlags::ACK),
        flags.contains(TcpFlags::PSH),
        flags.contains(TcpFlags::RST),
        flags.contains(TcpFlags::SYN),
        flags.contains(TcpFlags::FIN),
    ]
}

fn header_flag_bools(h: &TcpHeader) -> [bool; 9] {
    [h.ns, h.cwr, h.ece, h.urg, h.ack, h.psh, h.rst, h.syn, h.fin]
}

/// Folds etherparse option elements into our options, a later option replacing an earlier one.
fn fold_elements<'e>(elements: impl IntoIterator<Item = &'e TcpOptionElement>) -> TcpOptions {
    let mut options = TcpOptions::default();
    for element in elements {
        match element {
            TcpOptionElement::Noop => {}
            TcpOptionElement::MaximumSegmentSize(mss) => options.mss = Some(*mss),
            TcpOptionElement::WindowScale(shift) => options.window_scale = Some(*shift),
            TcpOptionElement::SelectiveAcknowledgementPermitted => options.sack_permitted = true,
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                let mut list = SackList::new();
                for (left, right) in core::iter::once(first).chain(rest.iter().flatten()) {
                    list.push(SackBlock::new(SeqNum(*left), SeqNum(*right))).unwrap();
                }
                options.sack_blocks = list;
            }
            TcpOptionElement::Timestamp(tsval, tsecr) => {
                options.timestamps = Some(Timestamps { tsval: *tsval, tsecr: *tsecr })
            }
        }
    }
    options
}

fn arb_addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn arb_cookie() -> impl Strategy<Value = FastOpenCookie> {
    prop::sample::select(vec![0usize, 4, 6, 8, 10, 12, 14, 16])
        .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
        .prop_map(|bytes| FastOpenCookie::new(&bytes).unwrap())
}

prop_compose! {
    fn arb_options()(
        mss in any::<Option<u16>>(),
        window_scale in any::<Option<u8>>(),
        sack_permitted in any::<bool>(),
        blocks in prop::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
        timestamps in any::<Option<(u32, u32)>>(),
        fast_open in prop::option::weighted(0.2, arb_cookie()),
    ) -> TcpOptions {
        let mut options = TcpOptions {
            mss,
            window_scale,
            sack_permitted,
            sack_blocks: SackList::new(),
            timestamps: timestamps.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            fast_open,
        };
        for (l, r) in blocks.into_iter().take(options.sack_capacity()) {
            options.sack_blocks.push(SackBlock::new(SeqNum(l), SeqNum(r))).unwrap();
        }
        options
    }
}

prop_compose! {
    fn arb_fields()(
        ports in any::<(u16, u16)>(),
        seq in any::<u32>(),
        ack in any::<u32>(),
        flags in any::<u16>(),
        window in any::<u16>(),
        urgent in any::<u16>(),
        options in arb_options(),
    ) -> TcpRepr<'static> {
        TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: TcpFlags::from_bits_truncate(flags),
            window,
            urgent,
            options,
            payload: &[],
        }
    }
}

fn arb_element() -> impl Strategy<Value = TcpOptionElement> {
    let pair = || (any::<u32>(), any::<u32>());
    prop_oneof![
        Just(TcpOptionElement::Noop),
        any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
        any::<u8>().prop_map(TcpOptionElement::WindowScale),
        Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
        (pair(), prop::collection::vec(pair(), 0..=3)).prop_map(|(first, rest)| {
            let mut more = [None; 3];
            for (slot, block) in more.iter_mut().zip(rest) {
                *slot = Some(block);
            }
            TcpOptionElement::SelectiveAcknowledgement(first, more)
        }),
        pair().prop_map(|(a, b)| TcpOptionElement::Timestamp(a, b)),
    ]
}

fn element_len(element: &TcpOptionElement) -> usize {
    match element {
        TcpOptionElement::Noop => 1,
        TcpOptionElement::MaximumSegmentSize(_) => 4,
        TcpOptionElement::WindowScale(_) => 3,
        TcpOptionElement::SelectiveAcknowledgementPermitted => 2,
        TcpOptionElement::SelectiveAcknowledgement(_, rest) => {
            10 + 8 * rest.iter().flatten().count()
        }
        TcpOptionElement::Timestamp(..) => 10,
    }
}

/// Elements in any order, as many as fit in 40 bytes.
fn arb_elements() -> impl Strategy<Value = Vec<TcpOptionElement>> {
    prop::collection::vec(arb_element(), 0..8).prop_map(|mut elements| {
        while elements.iter().map(element_len).sum::<usize>() > 40 {
            elements.pop();
        }
        elements
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// (a) Our emit, etherparse's reading.
    #[test]
    fn s22_our_emit_reads_the_same_in_etherparse(
        fields in arb_fields(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        src in arb_addr(),
        dst in arb_addr(),
    ) {
        let repr = TcpRepr { payload: &payload, ..fields };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut bytes[..]), src, dst);

        let slice = TcpSlice::from_slice(&bytes).unwrap();
        let header = slice.to_header();
        prop_assert_eq!(header.source_port, repr.src_port);
        prop_assert_eq!(header.destination_port, repr.dst_port);
        prop_assert_eq!(header.sequence_number, repr.seq.get());
        prop_assert_eq!(header.acknowledgment_number, repr.ack.get());
        prop_assert_eq!(header_flag_bools(&header), flag_bools(repr.flags));
        prop_assert_eq!(header.window_size, repr.window);
        prop_assert_eq!(header.urgent_pointer, repr.urgent);
        prop_assert_eq!(header.header_len(), repr.header_len());
        prop_assert_eq!(slice.payload(), &payload[..]);

        // etherparse's checksum over the same pseudo-header agrees with the one we wrote.
        let theirs = slice.calc_checksum_ipv4(src.octets(), dst.octets()).unwrap();
        prop_assert_eq!(theirs, header.checksum);
        prop_assert_eq!(header.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &payload), Ok(theirs));

        // Every option reads back; etherparse does not know Fast Open (kind 34) and stops at
        // it, which is why we emit it last.
        let mut elements = Vec::new();
        let mut saw_fast_open = false;
        for item in slice.options_iterator() {
            match item {
                Ok(element) => {
                    prop_assert!(!saw_fast_open);
                    elements.push(element);
                }
                Err(TcpOptionReadError::UnknownId(34)) => saw_fast_open = true,
                Err(e) => prop_assert!(false, "etherparse rejects our options: {e}"),
            }
        }
        prop_assert_eq!(saw_fast_open, repr.options.fast_open.is_some());
        let theirs = fold_elements(&elements);
        prop_assert_eq!(theirs, TcpOptions { fast_open: None, ..repr.options });
    }

    /// (b) etherparse's building, our parsing.
    #[test]
    fn s22_etherparse_built_segments_parse_the_same(
        ports in any::<(u16, u16)>(),
        numbers in any::<(u32, u32)>(),
        flags in any::<[bool; 9]>(),
        window in any::<u16>(),
        urgent in any::<u16>(),
        elements in arb_elements(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        src in arb_addr(),
        dst in arb_addr(),
    ) {
        let mut header = TcpHeader::new(ports.0, ports.1, numbers.0, window);
        header.acknowledgment_number = numbers.1;
        [header.ns, header.cwr, header.ece, header.urg, header.ack, header.psh, header.rst,
            header.syn, header.fin] = flags;
        header.urgent_pointer = urgent;
        header.set_options(&elements).unwrap();
        header.checksum = header.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &payload).unwrap();
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(&payload);

        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        prop_assert!(packet.verify_checksum(src, dst));
        prop_assert_eq!(packet.checksum(), header.checksum);
        prop_assert_eq!(packet.header_len(), header.header_len());
        prop_assert_eq!(packet.options(), header.options.as_slice());
        let repr = TcpRepr::parse(&packet, src, dst).unwrap();
        prop_assert_eq!(repr.src_port, ports.0);
        prop_assert_eq!(repr.dst_port, ports.1);
        prop_assert_eq!(repr.seq, SeqNum(numbers.0));
        prop_assert_eq!(repr.ack, SeqNum(numbers.1));
        prop_assert_eq!(flag_bools(repr.flags), flags);
        prop_assert_eq!(repr.window, window);
        prop_assert_eq!(repr.urgent, urgent);
        prop_assert_eq!(repr.options, fold_elements(&elements));
        prop_assert_eq!(repr.payload, &payload[..]);

        // A corrupted copy is refused by both.
        let mut corrupt = bytes.clone();
        let at = corrupt.len() - 1;
        corrupt[at] ^= 0x80;
        let corrupt_packet = TcpPacket::new_checked(&corrupt[..]).unwrap();
        prop_assert_eq!(TcpRepr::parse(&corrupt_packet, src, dst), Err(ParseError::BadChecksum));
        let theirs = TcpSlice::from_slice(&corrupt).unwrap().calc_checksum_ipv4(src.octets(), dst.octets()).unwrap();
        prop_assert_ne!(theirs, header.checksum);
    }
}
