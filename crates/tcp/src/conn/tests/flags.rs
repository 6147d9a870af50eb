//! Every combination of control bits in SYN-SENT, checked against RFC 9293 §3.10.7.3 and what
//! Linux does (`tcp_rcv_synsent_state_process`). The listener's table (LISTEN) is in
//! ustack-core, where listeners live.

use super::*;

/// What a connection in SYN-SENT did with a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// ESTABLISHED, and an ACK of the peer's SYN (only the SYN: a FIN or data in a SYN-ACK
    /// is not taken, as Linux).
    Established,
    /// SYN-RECEIVED (simultaneous open), and a SYN-ACK.
    SimultaneousOpen,
    /// CLOSED with "connection refused", nothing sent.
    Refused,
    /// `<SEQ=SEG.ACK><CTL=RST>`, still SYN-SENT.
    Reset,
    /// Nothing sent, still SYN-SENT.
    Dropped,
}

/// A client that sent its SYN receives `flags` with acknowledgment number `ack` (relative to
/// our ISS) and sequence number the peer's ISS.
fn syn_sent_outcome(flags: TcpFlags, ack: u32) -> Outcome {
    let cfg = cfg();
    let mut conn =
        Conn::connect(Instant::ZERO, cfg, tuple(), LOCAL_ISS, MTU, Conn::default_cc(&cfg));
    let mut scratch = vec![0; 65_536];
    let syn = conn.poll_transmit(Instant::ZERO, &mut scratch).expect("the SYN");
    assert_eq!(syn.flags, TcpFlags::SYN);
    while conn.poll_transmit(Instant::ZERO, &mut scratch).is_some() {}
    let now = secs(0.1);
    let seg = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS,
        ack: LOCAL_ISS + ack,
        flags,
        window: 65_535,
        urgent: 0,
        options: ustack_wire::TcpOptions { mss: Some(1460), ..Default::default() },
        payload: &[],
    };
    conn.handle_segment(now, &seg);
    let mut out = Vec::new();
    while let Some(s) = conn.poll_transmit(now, &mut scratch) {
        out.push((s.flags, s.seq, s.ack));
    }
    let state = conn.state();
    match (state, out.as_slice()) {
        (TcpState::Established, [(f, seq, a)]) if *f == TcpFlags::ACK => {
            assert_eq!((*seq, *a), (LOCAL_ISS + 1u32, REMOTE_ISS + 1u32), "{flags:?}");
            Outcome::Established
        }
        (TcpState::SynReceived, [(f, seq, a)]) if *f == TcpFlags::SYN | TcpFlags::ACK => {
            assert_eq!((*seq, *a), (LOCAL_ISS, REMOTE_ISS + 1u32), "{flags:?}");
            Outcome::SimultaneousOpen
        }
        (TcpState::Closed, []) => {
            assert_eq!(conn.error(), Some(ConnError::Refused), "{flags:?}");
            Outcome::Refused
        }
        (TcpState::SynSent, [(f, seq, _)]) if *f == TcpFlags::RST => {
            assert_eq!(*seq, LOCAL_ISS + ack, "{flags:?}: RST must carry SEG.ACK");
            Outcome::Reset
        }
        (TcpState::SynSent, []) => Outcome::Dropped,
        other => panic!("{flags:?} ack {ack}: unexpected {other:?}"),
    }
}

#[test]
fn s3_syn_sent_answers_each_flag_combination_as_rfc_9293_and_linux() {
    use Outcome::{Dropped, Established, Refused, Reset, SimultaneousOpen};
    let f = |bits: &[TcpFlags]| bits.iter().fold(TcpFlags::empty(), |a, &b| a | b);
    let (syn, ack, rst, fin, psh, urg) =
        (TcpFlags::SYN, TcpFlags::ACK, TcpFlags::RST, TcpFlags::FIN, TcpFlags::PSH, TcpFlags::URG);
    // The acceptable ACK is ISS + 1; ISS itself and anything past SND.NXT are not.
    let (good, at_iss, ahead) = (1, 0, 100);
    let table = [
        (f(&[syn, ack]), good, Established),
        (f(&[syn, ack, psh]), good, Established),
        (f(&[syn, ack, urg]), good, Established),
        // Linux takes the SYN-ACK and leaves the FIN (and any data) for the peer to send
        // again; it is not acknowledged.
        (f(&[syn, ack, fin]), good, Established),
        // "If the RST bit is set [and] the ACK was acceptable, then signal to the user
        // "error: connection reset" [...] enter CLOSED state".
        (f(&[rst, ack]), good, Refused),
        (f(&[syn, rst, ack]), good, Refused),
        // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set,
        // if so drop the segment and return)".
        (f(&[syn, ack]), at_iss, Reset),
        (f(&[syn, ack]), ahead, Reset),
        (f(&[ack]), ahead, Reset),
        (f(&[fin, ack]), ahead, Reset),
        (f(&[rst, ack]), ahead, Dropped),
        (f(&[rst, ack]), at_iss, Dropped),
        // "Otherwise (no ACK), drop the segment and return."
        (f(&[rst]), good, Dropped),
        (f(&[syn, rst]), good, Dropped),
        // A SYN without ACK: simultaneous open (SPEC S1); a FIN with it is ignored as Linux.
        (f(&[syn]), good, SimultaneousOpen),
        (f(&[syn, fin]), good, SimultaneousOpen),
        (f(&[syn, psh, urg]), good, SimultaneousOpen),
        // "If neither of the SYN or RST bits is set, then drop the segment and return."
        (f(&[ack]), good, Dropped),
        (f(&[fin, ack]), good, Dropped),
        (TcpFlags::empty(), good, Dropped),
        (f(&[fin]), good, Dropped),
        (f(&[psh]), good, Dropped),
        (f(&[urg]), good, Dropped),
    ];
    for (flags, ack_rel, want) in table {
        assert_eq!(syn_sent_outcome(flags, ack_rel), want, "{flags:?} ack ISS+{ack_rel}");
    }
    // Every combination of the six classic bits, with an acceptable and an unacceptable ACK
    // number, follows the same rules.
    for bits in 0u16..64 {
        let flags = TcpFlags::from_bits_truncate(bits);
        for ack_rel in [good, ahead] {
            let want = match (flags.contains(ack), ack_rel == good, flags.contains(rst)) {
                (true, false, true) => Dropped,
                (true, false, false) => Reset,
                (true, true, true) => Refused,
                (false, _, true) => Dropped,
                (true, true, false) if flags.contains(syn) => Established,
                (false, _, false) if flags.contains(syn) => SimultaneousOpen,
                _ => Dropped,
            };
            assert_eq!(syn_sent_outcome(flags, ack_rel), want, "{flags:?} ack ISS+{ack_rel}");
        }
    }
}
