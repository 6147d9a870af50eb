//! What a fuzz input means: the settings of the two stacks, then a sequence of operations.
//!
//! The types derive [`Arbitrary`], so libFuzzer's bytes decode into them (the structure-aware
//! part). [`Encode`] writes the bytes that decode into a given value, following `arbitrary`
//! 1.x's rules (integers little-endian, a bool is the low bit of a byte, an `Option` is a bool
//! then the value, an enum is a `u32` tag scaled onto its variants, a sequence element is
//! preceded by a continue byte); the seed corpus is written with it, and a test checks that
//! every seed decodes back to the value it was written from.

use arbitrary::{Arbitrary, Unstructured};

/// The most operations one input runs.
pub const MAX_OPS: usize = 256;
/// The largest payload an operation carries.
pub const MAX_PAYLOAD: usize = 3000;
/// The largest raw packet.
pub const MAX_RAW: usize = 4096;

/// How the two stacks are set up.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setup {
    /// The stack under test.
    pub s: Knobs,
    /// The peer stack.
    pub p: Knobs,
    /// The backlog of the stack's listener (1 to 4).
    pub backlog: u8,
    /// The MTU of the stack's interface.
    pub mtu: Mtu,
}

/// Settings of one stack, one bit each (see the constants).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Knobs(pub u8);

impl Knobs {
    /// Do not offer SACK.
    pub const NO_SACK: u8 = 1;
    /// Do not offer timestamps.
    pub const NO_TIMESTAMPS: u8 = 2;
    /// Do not offer window scaling.
    pub const NO_WSCALE: u8 = 4;
    /// Receive buffers of 2 KiB growing to 8 KiB, so windows close quickly.
    pub const SMALL_RMEM: u8 = 8;
    /// Send buffers of 2 KiB growing to 8 KiB, so sends fill them.
    pub const SMALL_WMEM: u8 = 16;
    /// Nagle's algorithm off.
    pub const NODELAY: u8 = 32;
    /// RSTs end TIME-WAIT (Linux's default, `tcp_rfc1337` = 0).
    pub const NO_RFC1337: u8 = 64;
    /// Tight limits: abort on accept-queue overflow, two segments in flight. (Not `invalid_ratelimit` = 0: two connections that disagree on sequence
    /// numbers then answer each other's ACKs forever, at once, which is what the limit is
    /// for.)
    pub const TIGHT: u8 = 128;

    /// Whether `bit` is set.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Interface MTUs worth testing: Ethernet, IPv6's minimum, the classic 576, a small one and
/// the smallest that carries TCP's minimum segment size. (Below 88 bytes TCP sends packets
/// larger than the MTU: like Linux's `TCP_MIN_SND_MSS`, the engine never goes below a 48-byte
/// MSS.)
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mtu {
    /// 1500.
    #[default]
    Ethernet,
    /// 1280.
    Ipv6Minimum,
    /// 576.
    Classic,
    /// 296.
    Small,
    /// 88: 20 bytes of IP and 20 of TCP header around 48 bytes (the minimum MSS).
    Minimum,
}

impl Mtu {
    /// In bytes.
    pub fn bytes(self) -> u16 {
        match self {
            Mtu::Ethernet => 1500,
            Mtu::Ipv6Minimum => 1280,
            Mtu::Classic => 576,
            Mtu::Small => 296,
            Mtu::Minimum => 88,
        }
    }
}

/// One step. `P` is how packets come in: [`Raw`] bytes or [`Structured`] ones.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Op<P> {
    /// A packet arrives at the stack under test.
    Input(P),
    /// Both stacks send what they have (`poll_transmit` until `None`) onto the wire.
    Flush,
    /// Something happens to a packet on the wire between the two stacks.
    Wire(Wire),
    /// Virtual time passes; due timers fire.
    Time(Advance),
    /// The application on the stack under test.
    App(App),
    /// The application on the peer stack.
    Peer(PeerApp),
}

/// The wire between the stack under test and the peer stack: two queues of packets.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Every queued packet arrives, in order.
    DeliverAll,
    /// The `nth` queued packet (modulo the queue length) arrives, out of order.
    Deliver {
        /// The queue towards the stack under test (else towards the peer).
        to_s: bool,
        /// Which packet.
        nth: u8,
    },
    /// The `nth` queued packet is lost.
    Drop {
        /// Which queue.
        to_s: bool,
        /// Which packet.
        nth: u8,
    },
    /// The `nth` queued packet arrives and stays queued (a duplicate).
    Duplicate {
        /// Which queue.
        to_s: bool,
        /// Which packet.
        nth: u8,
    },
}

/// How far virtual time moves.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// Milliseconds.
    Millis(u16),
    /// Seconds.
    Seconds(u8),
    /// To the earlier of the two stacks' next deadline.
    NextTimer,
}

/// A call of the application on the stack under test. `sock` picks one of the connections it
/// holds, modulo their number (nothing happens when it holds none).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// `send` of `len` bytes.
    Send {
        /// Which connection.
        sock: u8,
        /// Bytes (modulo [`MAX_PAYLOAD`] + 1).
        len: u16,
    },
    /// `recv` into a buffer of `len` bytes.
    Recv {
        /// Which connection.
        sock: u8,
        /// Buffer size (modulo [`MAX_PAYLOAD`] + 1).
        len: u16,
    },
    /// `shutdown(SHUT_WR)`.
    Shutdown {
        /// Which connection.
        sock: u8,
    },
    /// `close`.
    Close {
        /// Which connection.
        sock: u8,
    },
    /// Abort with a RST.
    Abort {
        /// Which connection.
        sock: u8,
    },
    /// `accept` on the listener.
    Accept,
    /// An active open to the peer stack's listener, or to a host that only the fuzzer
    /// answers for.
    Connect {
        /// To the fuzzer's host (else to the peer stack).
        ghost: bool,
        /// Its port, for the fuzzer's host.
        port: u16,
    },
    /// `TCP_NODELAY`.
    Nodelay {
        /// Which connection.
        sock: u8,
        /// On or off.
        on: bool,
    },
    /// `SO_KEEPALIVE`.
    Keepalive {
        /// Which connection.
        sock: u8,
        /// On or off.
        on: bool,
    },
    /// Opens the listener again (when it was closed).
    Listen {
        /// Its backlog (modulo 4, plus 1).
        backlog: u8,
    },
    /// Closes the listener (its queued connections are reset).
    CloseListener,
    /// A UDP datagram from the stack's UDP socket.
    UdpSend {
        /// To the fuzzer's host (else to the peer stack, which has no UDP socket).
        ghost: bool,
        /// Bytes.
        len: u16,
    },
    /// Reads every datagram queued on the UDP socket.
    UdpRecv,
}

/// A call of the application on the peer stack (which accepts on its own).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerApp {
    /// `send`.
    Send {
        /// Which connection.
        sock: u8,
        /// Bytes.
        len: u16,
    },
    /// `recv`.
    Recv {
        /// Which connection.
        sock: u8,
        /// Buffer size.
        len: u16,
    },
    /// `shutdown(SHUT_WR)`.
    Shutdown {
        /// Which connection.
        sock: u8,
    },
    /// `close`.
    Close {
        /// Which connection.
        sock: u8,
    },
    /// Abort with a RST.
    Abort {
        /// Which connection.
        sock: u8,
    },
    /// A new connection to the stack under test's listener.
    Connect,
}

/// A packet of the structure-aware target: a TCP segment on a flow, or an ICMP error about
/// one.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structured {
    /// A TCP segment from the flow's peer side.
    Segment(Segment),
    /// An ICMP destination unreachable about a segment the stack sent on the flow.
    IcmpError(IcmpError),
}

/// An ICMP destination unreachable from a router between the stack and a flow's peer,
/// quoting the IP header and first 8 bytes of a segment the stack could have sent.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// Which flow, modulo the known flows.
    pub flow: u8,
    /// The code (modulo 16): 4 is fragmentation needed, 3 port unreachable, ...
    pub code: u8,
    /// The next-hop MTU of a fragmentation needed.
    pub mtu: u16,
    /// What the quoted sequence number is relative to.
    pub seq: AckBase,
    /// And by how much.
    pub seq_off: Offset,
}

/// A TCP segment built on one of the flows the harness has seen (a 4-tuple with what each
/// side sent on it), with numbers relative to that flow's: the structure-aware input.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Which flow, modulo (flows + 2): past the known flows, a new flow from the fuzzer's host
    /// to port 80 (the listener), then to port 81 (no socket).
    pub flow: u8,
    /// What the sequence number is relative to.
    pub seq: SeqBase,
    /// And by how much.
    pub seq_off: Offset,
    /// What the acknowledgment number is relative to.
    pub ack: AckBase,
    /// And by how much.
    pub ack_off: Offset,
    /// TCP flags, bit for bit (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128).
    pub flags: u8,
    /// The window field.
    pub window: u16,
    /// The urgent pointer.
    pub urgent: u16,
    /// Payload bytes (modulo [`MAX_PAYLOAD`] + 1).
    pub len: u16,
    /// Options.
    pub options: SegmentOptions,
    /// What happens to the IP packet.
    pub ip: IpTweak,
}

/// The base of a sequence number: numbers the peer knows.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqBase {
    /// The last acknowledgment number the stack sent on the flow (its RCV.NXT).
    RcvNxt,
    /// The end of what the peer side sent so far.
    PeerNxt,
    /// The peer side's initial sequence number.
    PeerIss,
    /// Zero: the offset is the number.
    Absolute,
}

/// The base of an acknowledgment number (or of a SACK block).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckBase {
    /// The end of what the stack sent on the flow (SND.NXT as the wire saw it).
    SndNxt,
    /// The highest acknowledgment the peer side sent (SND.UNA as the peer saw it).
    SndUna,
    /// The stack's initial sequence number plus one.
    Iss,
    /// Zero.
    Absolute,
}

/// An offset from a base, in scales that matter to TCP.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// None.
    Zero,
    /// A few bytes either way.
    Bytes(i8),
    /// Some segments (1000 bytes each) either way.
    Segments(i8),
    /// Some 64 KiB windows either way.
    Windows(i8),
    /// Any distance.
    Any(u32),
}

impl Offset {
    /// The offset, to add to a sequence number (wrapping).
    pub fn value(self) -> u32 {
        match self {
            Offset::Zero => 0,
            Offset::Bytes(n) => i32::from(n) as u32,
            Offset::Segments(n) => (i32::from(n) * 1000) as u32,
            Offset::Windows(n) => (i32::from(n) * 65536) as u32,
            Offset::Any(n) => n,
        }
    }
}

/// Options of a structured segment.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentOptions {
    /// MSS.
    pub mss: Option<u16>,
    /// Window scale shift (any value, as sent).
    pub wscale: Option<u8>,
    /// SACK-permitted.
    pub sack_permitted: bool,
    /// SACK blocks.
    pub sack: [Option<SackSpec>; 3],
    /// Timestamps.
    pub timestamps: Option<TsSpec>,
}

/// A SACK block relative to the flow's numbers.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackSpec {
    /// Base of the left edge.
    pub base: AckBase,
    /// Left edge offset.
    pub start: Offset,
    /// Length.
    pub len: u16,
}

/// A timestamps option relative to the flow's last ones.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsSpec {
    /// TSval: the peer side's last TSval plus this.
    pub val: i16,
    /// TSecr: the stack's last TSval plus this.
    pub ecr: i16,
}

/// What happens to the IP packet of a structured segment.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpTweak {
    /// ECN codepoint (low two bits).
    pub ecn: u8,
    /// Sent in fragments.
    pub fragment: Option<Fragments>,
    /// One byte flipped after the checksums were computed: the stack must drop it.
    pub corrupt: Option<Corrupt>,
}

/// IP fragmentation of a structured segment.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragments {
    /// Fragment payload size, in units of 8 bytes, minus one.
    pub size: u8,
    /// Last fragment first.
    pub reverse: bool,
}

/// A flipped byte.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt {
    /// Where, modulo the packet length.
    pub at: u16,
    /// XOR mask (zero counts as 1).
    pub xor: u8,
}

/// Raw bytes handed to the stack as an IPv4 packet, after the fix-ups `fix` asks for.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// Fix-ups, one bit each (see the constants).
    pub fix: u8,
    /// The flow [`Raw::AIM`] aims at, modulo the known flows.
    pub flow: u8,
    /// The packet.
    pub bytes: Bytes,
}

impl Raw {
    /// Version 4 and a 20-byte header.
    pub const VERSION: u8 = 1;
    /// Source: the fuzzer's host; destination: the stack.
    pub const ADDR: u8 = 2;
    /// Addresses and ports of a known flow, from its peer to the stack.
    pub const AIM: u8 = 4;
    /// Total length field = the byte count.
    pub const LEN: u8 = 8;
    /// TCP, UDP or ICMP checksum recomputed.
    pub const L4SUM: u8 = 16;
    /// IP header checksum recomputed.
    pub const IPSUM: u8 = 32;
}

/// A byte string: a `u16` length (modulo [`MAX_RAW`] + 1), then that many bytes (fewer when
/// the input ends first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Bytes {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = usize::from(u16::arbitrary(u)?) % (MAX_RAW + 1);
        let take = len.min(u.len());
        Ok(Bytes(u.bytes(take)?.to_vec()))
    }
}

/// Decodes an input: the setup, then up to [`MAX_OPS`] operations (as many as the bytes
/// hold).
pub fn decode<'a, P: Arbitrary<'a>>(data: &'a [u8]) -> (Setup, Vec<Op<P>>) {
    let mut u = Unstructured::new(data);
    let setup = Setup::arbitrary(&mut u).unwrap_or_default();
    let mut ops = Vec::new();
    if let Ok(iter) = u.arbitrary_iter::<Op<P>>() {
        for op in iter.take(MAX_OPS) {
            match op {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
    }
    (setup, ops)
}

// ----------------------------------------------------------------------------------------
// Encoding: the bytes that decode into a value.
// ----------------------------------------------------------------------------------------

/// Writes the bytes `arbitrary` decodes into `self`.
pub trait Encode {
    /// Appends the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// An input that decodes into `setup` and `ops`.
pub fn encode<P: Encode>(setup: &Setup, ops: &[Op<P>]) -> Vec<u8> {
    let mut out = Vec::new();
    setup.encode(&mut out);
    for op in ops {
        out.push(1);
        op.encode(&mut out);
    }
    out.push(0);
    out
}

/// The tag of variant `index` of `count`: derived enums pick `(tag * count) >> 32`.
fn tag(out: &mut Vec<u8>, index: u64, count: u64) {
    let t = (index << 32).div_ceil(count);
    out.extend_from_slice(&(t as u32).to_le_bytes());
}

macro_rules! encode_int {
    ($($t:ty)*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
encode_int!(u8 u16 u32 i8 i16);

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.is_some().encode(out);
        if let Some(v) = self {
            v.encode(out);
        }
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        for v in self {
            v.encode(out);
        }
    }
}

/// Encodes the fields of a struct (or of a variant) in order.
macro_rules! fields {
    ($out:ident; $($f:expr),*) => {{ $($f.encode($out);)* }};
}

impl Encode for Setup {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.s.0, self.p.0, self.backlog, self.mtu);
    }
}

impl Encode for Mtu {
    fn encode(&self, out: &mut Vec<u8>) {
        tag(out, *self as u64, 5);
    }
}

impl<P: Encode> Encode for Op<P> {
    fn encode(&self, out: &mut Vec<u8>) {
        let n = 6;
        match self {
            Op::Input(p) => {
                tag(out, 0, n);
                p.encode(out);
            }
            Op::Flush => tag(out, 1, n),
            Op::Wire(w) => {
                tag(out, 2, n);
                w.encode(out);
            }
            Op::Time(a) => {
                tag(out, 3, n);
                a.encode(out);
            }
            Op::App(a) => {
                tag(out, 4, n);
                a.encode(out);
            }
            Op::Peer(a) => {
                tag(out, 5, n);
                a.encode(out);
            }
        }
    }
}

impl Encode for Wire {
    fn encode(&self, out: &mut Vec<u8>) {
        let n = 4;
        match *self {
            Wire::DeliverAll => tag(out, 0, n),
            Wire::Deliver { to_s, nth } => {
                tag(out, 1, n);
                fields!(out; to_s, nth);
            }
            Wire::Drop { to_s, nth } => {
                tag(out, 2, n);
                fields!(out; to_s, nth);
            }
            Wire::Duplicate { to_s, nth } => {
                tag(out, 3, n);
                fields!(out; to_s, nth);
            }
        }
    }
}

impl Encode for Advance {
    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Advance::Millis(ms) => {
                tag(out, 0, 3);
                ms.encode(out);
            }
            Advance::Seconds(s) => {
                tag(out, 1, 3);
                s.encode(out);
            }
            Advance::NextTimer => tag(out, 2, 3),
        }
    }
}

impl Encode for App {
    fn encode(&self, out: &mut Vec<u8>) {
        let n = 13;
        match *self {
            App::Send { sock, len } => {
                tag(out, 0, n);
                fields!(out; sock, len);
            }
            App::Recv { sock, len } => {
                tag(out, 1, n);
                fields!(out; sock, len);
            }
            App::Shutdown { sock } => {
                tag(out, 2, n);
                sock.encode(out);
            }
            App::Close { sock } => {
                tag(out, 3, n);
                sock.encode(out);
            }
            App::Abort { sock } => {
                tag(out, 4, n);
                sock.encode(out);
            }
            App::Accept => tag(out, 5, n),
            App::Connect { ghost, port } => {
                tag(out, 6, n);
                fields!(out; ghost, port);
            }
            App::Nodelay { sock, on } => {
                tag(out, 7, n);
                fields!(out; sock, on);
            }
            App::Keepalive { sock, on } => {
                tag(out, 8, n);
                fields!(out; sock, on);
            }
            App::Listen { backlog } => {
                tag(out, 9, n);
                backlog.encode(out);
            }
            App::CloseListener => tag(out, 10, n),
            App::UdpSend { ghost, len } => {
                tag(out, 11, n);
                fields!(out; ghost, len);
            }
            App::UdpRecv => tag(out, 12, n),
        }
    }
}

impl Encode for PeerApp {
    fn encode(&self, out: &mut Vec<u8>) {
        let n = 6;
        match *self {
            PeerApp::Send { sock, len } => {
                tag(out, 0, n);
                fields!(out; sock, len);
            }
            PeerApp::Recv { sock, len } => {
                tag(out, 1, n);
                fields!(out; sock, len);
            }
            PeerApp::Shutdown { sock } => {
                tag(out, 2, n);
                sock.encode(out);
            }
            PeerApp::Close { sock } => {
                tag(out, 3, n);
                sock.encode(out);
            }
            PeerApp::Abort { sock } => {
                tag(out, 4, n);
                sock.encode(out);
            }
            PeerApp::Connect => tag(out, 5, n),
        }
    }
}

impl Encode for Structured {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Structured::Segment(s) => {
                tag(out, 0, 2);
                s.encode(out);
            }
            Structured::IcmpError(e) => {
                tag(out, 1, 2);
                e.encode(out);
            }
        }
    }
}

impl Encode for IcmpError {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.flow, self.code, self.mtu, self.seq, self.seq_off);
    }
}

impl Encode for Segment {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.flow, self.seq, self.seq_off, self.ack, self.ack_off, self.flags,
            self.window, self.urgent, self.len, self.options, self.ip);
    }
}

impl Encode for SeqBase {
    fn encode(&self, out: &mut Vec<u8>) {
        tag(out, *self as u64, 4);
    }
}

impl Encode for AckBase {
    fn encode(&self, out: &mut Vec<u8>) {
        tag(out, *self as u64, 4);
    }
}

impl Encode for Offset {
    fn encode(&self, out: &mut Vec<u8>) {
        let n = 5;
        match *self {
            Offset::Zero => tag(out, 0, n),
            Offset::Bytes(v) => {
                tag(out, 1, n);
                v.encode(out);
            }
            Offset::Segments(v) => {
                tag(out, 2, n);
                v.encode(out);
            }
            Offset::Windows(v) => {
                tag(out, 3, n);
                v.encode(out);
            }
            Offset::Any(v) => {
                tag(out, 4, n);
                v.encode(out);
            }
        }
    }
}

impl Encode for SegmentOptions {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.mss, self.wscale, self.sack_permitted, self.sack, self.timestamps);
    }
}

impl Encode for SackSpec {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.base, self.start, self.len);
    }
}

impl Encode for TsSpec {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.val, self.ecr);
    }
}

impl Encode for IpTweak {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.ecn, self.fragment, self.corrupt);
    }
}

impl Encode for Fragments {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.size, self.reverse);
    }
}

impl Encode for Corrupt {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.at, self.xor);
    }
}

impl Encode for Raw {
    fn encode(&self, out: &mut Vec<u8>) {
        fields!(out; self.fix, self.flow, self.bytes);
    }
}

impl Encode for Bytes {
    fn encode(&self, out: &mut Vec<u8>) {
        assert!(self.0.len() <= MAX_RAW, "a raw packet of at most {MAX_RAW} bytes");
        (self.0.len() as u16).encode(out);
        out.extend_from_slice(&self.0);
    }
}
