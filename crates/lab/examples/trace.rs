//! Prints the text trace of one scenario: `cargo run -p ustack-lab --example trace -- ID`.
#![allow(clippy::print_stdout)]
fn main() {
    let id = std::env::args().nth(1).expect("scenario id");
    let s = ustack_lab::registry::find(&id).expect("no such scenario");
    let ustack_lab::registry::Status::Ready(f) = s.status else { panic!("not ready") };
    let run = f(1);
    print!("{}", run.trace.to_text());
    for (t, body) in &run.extras {
        println!("## {t}\n{body}");
    }
    for c in &run.checks.items {
        println!("{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.claim, c.detail);
    }
}
