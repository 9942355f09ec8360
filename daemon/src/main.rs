//! `rustgi-daemon`: a daemon process of a mod_rustgi process group; see
//! the `rustgi_daemon` library and `docs/protocol.md`.

fn main() {
    std::process::exit(rustgi_daemon::main());
}
