//! Replays fuzz inputs outside libFuzzer and prints what they decode to, step by step, with
//! the stack's socket table after each step: for reading an artifact.
//!
//! `cargo run --example replay -- (raw|segments) FILE...`

use ustack_core::Protocol;
use ustack_core::tcp_engine::TcpState;
use ustack_fuzz::Input;
use ustack_fuzz::ops::{Raw, Structured, decode};

fn replay<I: Input>(data: &[u8]) {
    let (setup, ops) = decode::<I>(data);
    println!("{setup:?}");
    let mut h = ustack_fuzz::Harness::new(&setup, I::CHECK_READS);
    print!("{}", h.s.table(h.now));
    for op in &ops {
        println!("\n@{:?} {op:?}", h.now);
        h.step(op);
        print!("{}", h.s.table(h.now));
        // What ss does not show: the peer's window and the segment size.
        for i in h.s.stack.netstat(h.now).sockets {
            if i.protocol == Protocol::Tcp && i.state != TcpState::Listen {
                let c = h.s.stack.tcp_conn(i.handle);
                println!(
                    "  {}: peer window {}, mss {}",
                    i.handle,
                    c.peer_window(),
                    c.effective_mss()
                );
            }
        }
    }
    println!("\nteardown: {:?}", h.finish());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((kind, files)) = args.split_first() else {
        eprintln!("usage: replay (raw|segments) FILE...");
        std::process::exit(2);
    };
    for file in files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        println!("== {file}");
        match kind.as_str() {
            "raw" => replay::<Raw>(&data),
            "segments" => replay::<Structured>(&data),
            other => panic!("unknown input kind {other}: raw or segments"),
        }
    }
}
