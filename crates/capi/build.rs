//! Tells the tests which target they run on: tests/c_api.rs builds a C program with the
//! `cc` crate, which needs the target triple cargo only gives build scripts.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=USTACK_CAPI_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
