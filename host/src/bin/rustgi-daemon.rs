//! `rustgi-daemon`: a daemon process of a mod_rustgi process group; see
//! `rustgi_host::daemon` and `docs/protocol.md`.

fn main() {
    std::process::exit(rustgi_host::daemon::main());
}
