//! `cluster`: the app the multi-host test runs on every host behind the
//! load balancer. Each answer is JSON naming the host that served it
//! (`SERVER_ADDR`) and the build of the library ([`BUILD_STAMP`]).
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /` | `{host, build, pid}` |
//! | `GET /slow?ms=N` | the same after N ms (at most 10 s) |
//! | `POST /orders?ms=N` | takes an order (not idempotent: a balancer must not send it twice): reads the body, waits N ms, `{host, build, order_bytes}` |
//!
//! With `note=1` as well, a slow request writes `cluster: METHOD ID at work`
//! to the error_log before it waits (ID: its `X-Request-Id`), so that a
//! test knows which requests a host is working on.
//! | `POST /login?user=NAME` | starts a session for NAME (a signed cookie): `{host, user}` |
//! | `GET /me` | `{host, user}` from the session cookie; 401 without a valid one |
//!
//! The configuration (`RustgiAppConfig`): `secret_key`, shared by every
//! host, signs the session cookies; when the file named by `crash_file`
//! exists, `init` aborts the process (a build that crashes at start, for
//! one host only).

#![deny(unsafe_code)]

use std::time::Duration;

use app_sdk::auth::session::SessionConfig;
use app_sdk::http::{Method, StatusCode, header};
use app_sdk::{App, InitContext, InitError, IntoResponse, Request, Response};
use serde_json::{Value, json};

/// The build this library says it is: `rustgi-cluster-build:` and a name
/// padded with `#`. A deploy of a new build is a copy of the library with
/// these bytes changed (the same length), so the test needs no second
/// compilation.
#[used]
pub static BUILD_STAMP: [u8; 32] = *b"rustgi-cluster-build:v1#########";

/// The longest `ms` honoured.
const MAX_WAIT_MS: u64 = 10_000;

/// The length of `rustgi-cluster-build:`, which only the stamp spells out.
const STAMP_PREFIX_LEN: usize = 21;

fn build() -> String {
    // Read through an opaque reference: the bytes in the mapped file, not
    // a value the compiler folded in.
    let stamp: &[u8; 32] = std::hint::black_box(&BUILD_STAMP);
    String::from_utf8_lossy(&stamp[STAMP_PREFIX_LEN..])
        .trim_end_matches('#')
        .to_owned()
}

struct Cluster {
    sessions: SessionConfig,
}

impl App for Cluster {
    fn init(ctx: &InitContext) -> Result<Self, InitError> {
        if let Some(file) = ctx.config().get("crash_file")
            && std::path::Path::new(file).exists()
        {
            eprintln!("cluster: {file} exists: crashing at start");
            std::process::abort();
        }
        Ok(Cluster {
            sessions: SessionConfig::from_config(ctx.config())?,
        })
    }

    fn handle(&self, mut req: Request) -> Response {
        let host = req.environ().get("SERVER_ADDR").unwrap_or("?").to_owned();
        let query = req.query_string().to_owned();
        let param = |name: &str| -> Option<String> {
            query
                .split('&')
                .filter_map(|part| part.split_once('='))
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_owned())
        };
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let method = req.method().clone();
        let wait = || {
            if param("note").as_deref() == Some("1") {
                eprintln!("cluster: {method} {id} at work");
            }
            let ms = param("ms").and_then(|v| v.parse().ok()).unwrap_or(0u64);
            std::thread::sleep(Duration::from_millis(ms.min(MAX_WAIT_MS)));
        };
        let path = req.path_info().to_owned();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "" | "/") => json_response(
                StatusCode::OK,
                &json!({ "host": host, "build": build(), "pid": std::process::id() }),
            ),
            (Method::GET, "/slow") => {
                wait();
                json_response(
                    StatusCode::OK,
                    &json!({ "host": host, "build": build(), "pid": std::process::id() }),
                )
            }
            (Method::POST, "/orders") => {
                let order = match req.read_body_to_vec(1 << 20) {
                    Ok(body) => body,
                    Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
                };
                wait();
                json_response(
                    StatusCode::OK,
                    &json!({ "host": host, "build": build(), "order_bytes": order.len() }),
                )
            }
            (Method::POST, "/login") => {
                let Some(user) = param("user") else {
                    return (StatusCode::BAD_REQUEST, "user=NAME is missing\n").into_response();
                };
                let mut session = self.sessions.load(&req);
                if let Err(e) = session.insert("user", &user) {
                    return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response();
                }
                let mut res = json_response(StatusCode::OK, &json!({ "host": host, "user": user }));
                match self.sessions.save(&session, res.headers_mut()) {
                    Ok(()) => res,
                    Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
                }
            }
            (Method::GET, "/me") => match self.sessions.load(&req).get::<String>("user") {
                Some(user) => json_response(StatusCode::OK, &json!({ "host": host, "user": user })),
                None => json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({ "host": host, "user": null }),
                ),
            },
            _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        }
    }
}

app_sdk::export_app!(Cluster);

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut res = (status, value.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_read_from_the_stamp() {
        assert_eq!(build(), "v1");
        let stamp = String::from_utf8_lossy(&BUILD_STAMP).into_owned();
        assert_eq!(stamp.len(), 32);
        assert!(stamp.starts_with("rustgi-cluster-build:"));
    }
}
