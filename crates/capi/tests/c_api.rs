//! A C program (tests/c/client_server.c) compiled with the system C compiler against
//! include/ustack.h and the shared library, run as a user would: a client and a server on
//! two stacks joined by an in-memory link, data checked byte for byte, and the errno of
//! every error case (refused, reset, timeout, EAGAIN, EPIPE, EADDRINUSE, EADDRNOTAVAIL,
//! EINPROGRESS / EALREADY / EISCONN) compared with Linux's; then the same over IPv6:
//! `AF_INET6` clients and servers, a dual-stack listener taking an `AF_INET` client as
//! `::ffff:a.b.c.d`, `IPV6_V6ONLY`, UDP with both kinds of peer, and the errno of each
//! address-family and address-length mistake.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding libustack_capi.so: cargo builds the library (all its crate types)
/// before the tests, next to the test binary.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps directory").to_path_buf();
    assert!(
        deps.join("libustack_capi.so").exists(),
        "libustack_capi.so is not in {}",
        deps.display()
    );
    deps
}

#[test]
fn c_client_and_server_over_an_in_memory_link() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = env!("USTACK_CAPI_TARGET");
    let libdir = library_dir();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_client_server");
    let compiler = cc::Build::new()
        .target(target)
        .host(target)
        .opt_level(1)
        .cargo_metadata(false)
        .warnings(true)
        .get_compiler();
    let status = compiler
        .to_command()
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(manifest.join("include"))
        .arg(manifest.join("tests/c/client_server.c"))
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(&libdir)
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg("-lustack_capi")
        .arg("-lpthread")
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling tests/c/client_server.c failed");
    // The library of this build, not another one: cargo's LD_LIBRARY_PATH names
    // target/debug too, where `cargo build` leaves a libustack_capi.so of its own, and the
    // linker's run path (DT_RUNPATH) comes after LD_LIBRARY_PATH.
    let run =
        Command::new(&out).env("LD_LIBRARY_PATH", &libdir).output().expect("run the C program");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the C program failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all C API checks passed"), "{stdout}");
    for errno in [
        "ECONNREFUSED",
        "ECONNRESET",
        "ETIMEDOUT",
        "EAGAIN",
        "EPIPE",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "EINPROGRESS",
        "EALREADY",
        "EISCONN",
        "EAFNOSUPPORT",
        "EINVAL",
        "ENETUNREACH",
        "ENOPROTOOPT",
    ] {
        assert!(stdout.contains(&format!("-> {errno}")), "no check of {errno}:\n{stdout}");
    }
}
