//! The harness of the stack-ingress fuzz targets (`stack_raw`, `stack_segments`).
//!
//! A run sets up two ustack stacks on one wire: the stack under test, with a listener, a UDP
//! socket and three established connections (two accepted from the peer stack, one to it),
//! and the peer stack. It then reads the fuzz input as a sequence of operations (see
//! [`ops`]): a packet for the stack under test (raw bytes, or a segment built on a live
//! flow's numbers), a drain of both stacks' transmits onto the wire, delivery, loss or
//! duplication of a packet on the wire, virtual time passing with due timers firing, and
//! application calls on either stack. After each step it checks what must always hold (see
//! [`host`]), and at the end the application closes everything and both stacks must wind
//! down to no socket at all.

#![forbid(unsafe_code)]

pub mod harness;
pub mod host;
mod input;
pub mod ops;
pub mod raw6;
pub mod seeds;

pub use harness::{Harness, Outcome};
pub use input::Input;

/// Runs one fuzz input whose packets come in as `I`.
pub fn run<I: Input>(data: &[u8]) -> Outcome {
    let (setup, ops) = ops::decode::<I>(data);
    let mut h = Harness::new(&setup, I::CHECK_READS);
    for op in &ops {
        h.step(op);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use crate::ops::{Raw, Structured};

    /// Pseudo-random inputs of every length up to 2 KB: the harness's own sanity check, that
    /// setup, steps and teardown hold every invariant on inputs that are mostly noise.
    #[test]
    fn pseudo_random_inputs_pass_every_check() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for i in 0..300 {
            let data: Vec<u8> = (0..(i * 37) % 2000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if i % 2 == 0 {
                crate::run::<Structured>(&data);
            } else {
                crate::run::<Raw>(&data);
            }
        }
    }
}
