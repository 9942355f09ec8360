//! `rustgi`: serve a mod_rustgi app under Apache httpd with one command, as
//! mod_wsgi-express does for Python apps. See [`rustgi::cli`] (and
//! `rustgi help`) for the commands:
//!
//! ```text
//! rustgi serve APP.so|CRATE_DIR [--port 8000] [--host 127.0.0.1] [--processes 1] [--threads 5]
//!              [--url-alias URL DIR]... [--app-config KEY=VALUE]... [--user U] [--group G]
//!              [--embedded] [--reload-on-changes] [--https-port N --ssl-cert F --ssl-key F]
//!              [--mpm event|worker|prefork] [--server-root DIR] ...
//! rustgi setup-server APP.so|CRATE_DIR --server-root DIR [options as serve]
//! rustgi module-config | module-location | install-module [--destdir DIR]
//! rustgi new NAME
//! rustgi status URL
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    rustgi::cli::main(&args)
}
