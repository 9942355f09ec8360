//! Compiles the C test app `tests/apps/c_hello/c_hello.c` into
//! `$OUT_DIR/libc_hello.so` and tells the tests where it is through the
//! `RUSTGI_C_HELLO_SO` environment variable (`env!("RUSTGI_C_HELLO_SO")`).
//!
//! It uses the C compiler that the `cc` crate picks (honouring `CC`,
//! `CFLAGS` and friends) with strict warnings, so the app doubles as a check
//! that `rustgi.h` is clean C.

use std::env;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let source = root.join("tests/apps/c_hello/c_hello.c");
    let include = root.join("abi/include");
    let library = out.join("libc_hello.so");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    println!(
        "cargo:rerun-if-changed={}",
        include.join("rustgi.h").display()
    );

    let compiler = cc::Build::new().cargo_metadata(false).get_compiler();
    let mut command = compiler.to_command();
    command
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"])
        .arg("-fvisibility=hidden")
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&library);
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {:?}: {e}", compiler.path()));
    assert!(
        status.success(),
        "compiling {} failed ({status}): {command:?}",
        source.display()
    );

    println!("cargo:rustc-env=RUSTGI_C_HELLO_SO={}", library.display());
}
