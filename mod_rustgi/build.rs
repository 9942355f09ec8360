//! Link flags for the module: Apache dlcloses and reloads modules on restart;
//! a Rust library that registered thread-local destructors must never be
//! unmapped, so the module is marked NODELETE.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,now");
}
