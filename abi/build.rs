//! Compiles `src/abi_layout.c`, which records the layout of the C structs in
//! `include/rustgi.h`, so that the unit tests in `src/lib.rs` can compare it
//! with the Rust mirror. Only the tests reference its symbols, so the linker
//! leaves it out of every app and of the host.

fn main() {
    println!("cargo:rerun-if-changed=include/rustgi.h");
    println!("cargo:rerun-if-changed=src/abi_layout.c");
    cc::Build::new()
        .file("src/abi_layout.c")
        .include("include")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("rustgi_abi_layout");
}
