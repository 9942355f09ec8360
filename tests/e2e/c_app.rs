//! The app written in C (`tests/apps/c_hello`) serves through the same ABI.

use crate::common;

use common::{Artifact, TestServer};

#[test]
fn c_app_greets_with_its_configured_greeting() {
    let srv = TestServer::builder()
        .app(Artifact::CHello)
        .config(
            "RustgiAppConfig greeting Bonjour\n\
             RustgiScriptAlias /c @APPS@/libc_hello.so",
        )
        .start();
    for (path, want) in [
        ("/c/some/path", "Bonjour: /some/path\n"),
        ("/c", "Bonjour: \n"),
        ("/c/%C3%A9t%C3%A9?x=1", "Bonjour: /été\n"),
    ] {
        let resp = srv.get(path);
        assert_eq!(resp.status(), 200, "{path}: {}", resp.text());
        assert_eq!(resp.text(), want, "{path}");
        assert!(
            resp.header("Content-Type")
                .is_some_and(|v| v.starts_with("text/plain")),
            "{path}: {:?}",
            resp.head.headers
        );
    }
}

#[test]
fn c_app_default_greeting() {
    let srv = TestServer::builder()
        .app(Artifact::CHello)
        .config("RustgiScriptAlias /c @APPS@/libc_hello.so")
        .start();
    let resp = srv.get("/c/x");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.text(), "Hello from C: /x\n");
}
