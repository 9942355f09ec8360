//! Records which Python the bridge is built against (`PYO3_PYTHON`, set to
//! Debian's `/usr/bin/python3` in `.cargo/config.toml`): its `major.minor`
//! is exported so that mod_rustgi can refuse a `python-home` of another
//! version before any Python runs.

fn main() {
    let config = pyo3_build_config::get();
    let version = config.version();
    println!(
        "cargo:rustc-env=RUSTGI_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
