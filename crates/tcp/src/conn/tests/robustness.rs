//! Never panic on any segment: random segments, timer firings and application calls fed to a
//! connection in each state, with the engine's invariants checked after every step.

use proptest::prelude::*;
use ustack_wire::{SackBlock, TcpOptions, Timestamps};

use super::*;

/// A connection in `state` (by index into the fixtures below), built by a script.
fn fixture(which: u8) -> Script {
    match which % 11 {
        0 => {
            let mut s = Script::client(cfg());
            s.run("0 > S 0:0(0)");
            s
        }
        1 => {
            let mut s = Script::server(
                cfg(),
                "0 < S 0:0(0) win 65535 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>",
            );
            s.run("0 > S. 0:0(0) ack 1");
            s
        }
        2 => Script::established_client(cfg()),
        3 => {
            let mut s = Script::server(
                cfg(),
                "0 < S 0:0(0) win 65535 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>",
            );
            s.run(
                "
                0    > S. 0:0(0) ack 1
                +0.1 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 2 ecr 0>
                ",
            );
            s.send(5000);
            s.collect();
            s.pending.clear();
            s
        }
        4 => {
            let mut s = Script::established_client(cfg());
            s.close();
            s.pending.clear();
            s
        }
        5 => {
            let mut s = Script::established_client(cfg());
            s.shutdown_write();
            s.run(
                "
                +0   > F. 1:1(0) ack 1
                +0.1 < . 1:1(0) ack 2 win 65535
                ",
            );
            s
        }
        6 => {
            let mut s = Script::established_server(cfg());
            s.run(
                "
                +0.1 < F. 1:1(0) ack 1 win 65535
                +0   > . 1:1(0) ack 2
                ",
            );
            s
        }
        7 => {
            let mut s = Script::established_client(cfg());
            s.close();
            s.run(
                "
                +0    > F. 1:1(0) ack 1
                +0.05 < F. 1:1(0) ack 1 win 65535
                +0    > . 2:2(0) ack 2
                ",
            );
            s
        }
        8 => {
            let mut s = Script::established_server(cfg());
            s.run(
                "
                +0.1 < F. 1:1(0) ack 1 win 65535
                +0   > . 1:1(0) ack 2
                ",
            );
            s.close();
            s.pending.clear();
            s
        }
        9 => {
            let mut s = Script::established_client(cfg());
            s.close();
            s.run(
                "
                +0   > F. 1:1(0) ack 1
                +0.1 < F. 1:1(0) ack 2 win 65535
                +0   > . 2:2(0) ack 2
                ",
            );
            s
        }
        _ => {
            // FIN-WAIT-1 entered from SYN-RECEIVED: the SYN-ACK not yet acknowledged.
            let mut s = Script::server(
                cfg(),
                "0 < S 0:0(0) win 65535 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>",
            );
            s.run("0 > S. 0:0(0) ack 1");
            s.close();
            s.run("0 > F. 1:1(0) ack 1 <nop,nop,TS val 0 ecr 1>");
            s
        }
    }
}

#[derive(Debug, Clone)]
enum Action {
    Segment {
        flags: u16,
        /// Offset from the peer's ISS (small: near RCV.NXT) or anywhere.
        seq: u32,
        ack: u32,
        window: u16,
        len: usize,
        options: TcpOptions,
    },
    Timeout,
    Wait(u32),
    Send(usize),
    Recv,
    Close,
    Shutdown,
    Abort,
}

fn arb_offset() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..20_000, 1 => any::<u32>(), 1 => (0u32..5).prop_map(|d| d.wrapping_sub(2))]
}

fn arb_options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..20),
        any::<bool>(),
        proptest::option::of((any::<u32>(), any::<u32>())),
        proptest::collection::vec((0u32..30_000, 0u32..3_000), 0..4),
    )
        .prop_map(|(mss, ws, sack_ok, ts, blocks)| {
            let mut o = TcpOptions {
                mss,
                window_scale: ws,
                sack_permitted: sack_ok,
                timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
                ..TcpOptions::default()
            };
            for (l, n) in blocks {
                let _ = o.sack_blocks.push(SackBlock::new(LOCAL_ISS + l, LOCAL_ISS + (l + n)));
            }
            o
        })
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (0u16..0x200, arb_offset(), arb_offset(), any::<u16>(), prop_oneof![0usize..10, 0usize..3000], arb_options())
            .prop_map(|(flags, seq, ack, window, len, options)| Action::Segment { flags, seq, ack, window, len, options }),
        2 => Just(Action::Timeout),
        1 => (1u32..5_000).prop_map(Action::Wait),
        1 => (0usize..20_000).prop_map(Action::Send),
        1 => Just(Action::Recv),
        1 => Just(Action::Close),
        1 => Just(Action::Shutdown),
        1 => Just(Action::Abort),
    ]
}

impl Script {
    /// Applies one random action; no script matching, only the engine's invariants.
    fn chaos(&mut self, action: &Action) {
        match action {
            Action::Segment { flags, seq, ack, window, len, options } => {
                let payload = pattern_bytes(0, *len);
                let seg = TcpRepr {
                    src_port: REMOTE_PORT,
                    dst_port: LOCAL_PORT,
                    seq: REMOTE_ISS + *seq,
                    ack: LOCAL_ISS + *ack,
                    flags: TcpFlags::from_bits_truncate(*flags),
                    window: *window,
                    urgent: 0,
                    options: *options,
                    payload: &payload,
                };
                self.conn.handle_segment(self.now, &seg);
            }
            Action::Timeout => {
                if let Some(at) = self.conn.poll_timeout() {
                    self.now = self.now.max(at);
                    self.conn.handle_timeout(self.now);
                }
            }
            Action::Wait(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                self.conn.handle_timeout(self.now);
            }
            Action::Send(n) => {
                let _ = self.conn.send(&pattern_bytes(0, *n));
            }
            Action::Recv => {
                let mut buf = [0u8; 4096];
                let _ = self.conn.recv(&mut buf);
            }
            Action::Close => self.conn.close(self.now),
            Action::Shutdown => self.conn.shutdown_write(),
            Action::Abort => self.conn.abort(),
        }
        // Outputs always run dry.
        let mut n = 0;
        let mss = usize::from(self.conn.snd.mss);
        while let Some(seg) = self.conn.poll_transmit(self.now, &mut self.scratch) {
            assert!(seg.payload.len() <= mss, "{seg:?}");
            n += 1;
            assert!(n < 10_000, "poll_transmit never runs dry");
        }
        while self.conn.poll_event().is_some() {}
        self.check_invariants();
    }

    fn check_invariants(&self) {
        let c = &self.conn;
        assert!(c.snd.una <= c.snd.nxt, "una {:?} nxt {:?}", c.snd.una, c.snd.nxt);
        assert!(c.snd.nxt <= c.snd.max, "nxt {:?} max {:?}", c.snd.nxt, c.snd.max);
        assert!(c.snd.buf.len() <= c.snd.buf.limit());
        if let Some(fin) = c.snd.fin {
            assert!(c.snd.una <= fin + 1u32, "FIN {fin:?} una {:?}", c.snd.una);
        }
        assert!(c.rcv.buf.len() <= c.rcv.buf.limit());
        assert!(c.rcv.asm.range_count() <= c.rcv.asm.limit());
        if c.state() == TcpState::Closed {
            assert_eq!(c.poll_timeout(), None);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_segment_in_any_state(
        which in 0u8..11,
        actions in proptest::collection::vec(arb_action(), 1..40),
    ) {
        let mut s = fixture(which);
        for action in &actions {
            s.chaos(action);
        }
    }
}

#[test]
fn every_fixture_is_in_its_state() {
    let expected = [
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
        TcpState::FinWait1,
    ];
    for (i, state) in expected.into_iter().enumerate() {
        assert_eq!(fixture(i as u8).conn.state(), state, "fixture {i}");
    }
}
