//! The `ustack` command (placeholder).
fn main() {}
