//! include/ustack.h is what cbindgen makes of the sources (run with USTACK_UPDATE_HEADER=1
//! to rewrite it after changing the C API).

use std::path::Path;

#[test]
fn header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen parses the crate")
        .write(&mut generated);
    let path = dir.join("include/ustack.h");
    if std::env::var_os("USTACK_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/ustack.h");
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == generated,
        "include/ustack.h is out of date: run USTACK_UPDATE_HEADER=1 cargo test -p ustack-capi --test header"
    );
}
