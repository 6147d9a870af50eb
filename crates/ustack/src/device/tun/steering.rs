//! The queue-steering program of a multi-queue TUN interface: ustack-core's rule
//! ([`ustack_core::steering`]) as eBPF instructions, which the kernel runs on every packet
//! it sends into the interface to pick the queue (and so the stack) that reads it.
//!
//! The program sees the packet from its IP header on (a TUN interface has no link header).
//! It reads the version; for IPv4 the protocol, the fragment field (a fragment goes to queue
//! 0) and the header length; for IPv6 the Next Header (an extension header sends the packet
//! to queue 0) and the fixed 40-byte header; then the ports of TCP or UDP, hashes them as
//! [`ustack_core::steering::port_hash`] does and scales the hash to the queues. A read past
//! the packet's end makes the kernel end the program with 0: queue 0.

use ustack_core::steering::MULTIPLIER;

use super::sys::BpfInsn;

// Instruction classes, sizes, modes and operations (linux/bpf_common.h, linux/bpf.h).
const LD: u8 = 0x00;
const ALU: u8 = 0x04;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
const H: u8 = 0x08;
const B: u8 = 0x10;
const ABS: u8 = 0x20;
const IND: u8 = 0x40;
const K: u8 = 0x00;
const X: u8 = 0x08;
const MUL: u8 = 0x20;
const OR: u8 = 0x40;
const AND: u8 = 0x50;
const LSH: u8 = 0x60;
const RSH: u8 = 0x70;
const MOV: u8 = 0xb0;
const JA: u8 = 0x00;
const JEQ: u8 = 0x10;
const JNE: u8 = 0x50;
const EXIT: u8 = 0x90;

// Registers: r0 the result and what LD_ABS/LD_IND load, r1 the context on entry, r6 the
// context LD_ABS/LD_IND read (they clobber r1-r5), r7-r9 kept across them.
const R0: u8 = 0;
const R1: u8 = 1;
const R6: u8 = 6;
/// The offset of the transport header.
const R7: u8 = 7;
/// The transport protocol.
const R8: u8 = 8;
/// The source port, shifted left 16.
const R9: u8 = 9;

const TCP: i32 = 6;
const UDP: i32 = 17;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn { code, regs: (src << 4) | dst, off, imm }
}

/// `dst = src` (64-bit).
fn mov(dst: u8, src: u8) -> BpfInsn {
    insn(ALU64 | MOV | X, dst, src, 0, 0)
}

/// `dst = imm` (64-bit).
fn mov_imm(dst: u8, imm: i32) -> BpfInsn {
    insn(ALU64 | MOV | K, dst, 0, 0, imm)
}

/// `dst op= imm` (64-bit).
fn alu64_imm(op: u8, dst: u8, imm: i32) -> BpfInsn {
    insn(ALU64 | op | K, dst, 0, 0, imm)
}

/// `dst op= imm` in 32 bits (the upper half of `dst` cleared).
fn alu32_imm(op: u8, dst: u8, imm: i32) -> BpfInsn {
    insn(ALU | op | K, dst, 0, 0, imm)
}

/// `r0 =` the byte (`B`) or big-endian half-word (`H`) at `offset` of the packet.
fn load_abs(size: u8, offset: i32) -> BpfInsn {
    insn(LD | ABS | size, 0, 0, 0, offset)
}

/// `r0 =` the half-word at `reg + offset` of the packet.
fn load_ind_h(reg: u8, offset: i32) -> BpfInsn {
    insn(LD | IND | H, 0, reg, 0, offset)
}

/// A jump to `to` (an index in the program) from the instruction at `at`: unconditional
/// with `op` `JA`, else when `dst op imm`.
fn jump(op: u8, dst: u8, imm: i32, at: usize, to: usize) -> BpfInsn {
    let off = i16::try_from(to as isize - at as isize - 1).expect("a short jump");
    insn(JMP | op | K, dst, 0, off, imm)
}

/// The program for an interface of `queues` queues (1 to 256): returns the queue of each
/// packet, below `queues`.
pub(super) fn program(queues: u16) -> Vec<BpfInsn> {
    // Where the labelled instructions land (checked below).
    const V6: usize = 16;
    const PORTS: usize = 19;
    const TCP_PORTS: usize = 23;
    const MIX: usize = 28;
    const ZERO: usize = 33;
    let p = vec![
        mov(R6, R1),                                  // 0
        load_abs(B, 0),                               // 1: version and IHL
        mov(R7, R0),                                  // 2
        alu64_imm(RSH, R7, 4),                        // 3: the version
        jump(JEQ, R7, 6, 4, V6),                      // 4
        jump(JNE, R7, 4, 5, ZERO),                    // 5
        load_abs(B, 9),                               // 6: IPv4: the protocol
        mov(R8, R0),                                  // 7
        load_abs(H, 6),                               // 8: flags and fragment offset
        alu64_imm(AND, R0, 0x3fff),                   // 9: MF and the offset
        jump(JNE, R0, 0, 10, ZERO),                   // 10: a fragment
        load_abs(B, 0),                               // 11
        alu64_imm(AND, R0, 0xf),                      // 12: IHL
        alu64_imm(LSH, R0, 2),                        // 13: in bytes
        mov(R7, R0),                                  // 14
        jump(JA, 0, 0, 15, PORTS),                    // 15
        load_abs(B, 6),                               // 16 (V6): IPv6: Next Header
        mov(R8, R0),                                  // 17
        mov_imm(R7, 40),                              // 18
        jump(JEQ, R8, TCP, 19, TCP_PORTS),            // 19 (PORTS)
        jump(JNE, R8, UDP, 20, ZERO),                 // 20
        load_ind_h(R7, 2),                            // 21: UDP: the destination port alone
        jump(JA, 0, 0, 22, MIX),                      // 22
        load_ind_h(R7, 0),                            // 23 (TCP_PORTS): the source port
        alu64_imm(LSH, R0, 16),                       // 24
        mov(R9, R0),                                  // 25
        load_ind_h(R7, 2),                            // 26: the destination port
        insn(ALU64 | OR | X, R0, R9, 0, 0),           // 27
        alu32_imm(MUL, R0, MULTIPLIER as i32),        // 28 (MIX): the hash
        alu32_imm(RSH, R0, 16),                       // 29
        alu32_imm(MUL, R0, i32::from(queues.max(1))), // 30: scaled to the queues
        alu32_imm(RSH, R0, 16),                       // 31
        insn(JMP | EXIT, 0, 0, 0, 0),                 // 32
        mov_imm(R0, 0),                               // 33 (ZERO)
        insn(JMP | EXIT, 0, 0, 0, 0),                 // 34
    ];
    debug_assert_eq!(p[V6], load_abs(B, 6));
    debug_assert_eq!(p[TCP_PORTS], load_ind_h(R7, 0));
    debug_assert_eq!(p[MIX], alu32_imm(MUL, R0, MULTIPLIER as i32));
    debug_assert_eq!(p[PORTS], jump(JEQ, R8, TCP, PORTS, TCP_PORTS));
    debug_assert_eq!(p[ZERO], mov_imm(R0, 0));
    p
}
