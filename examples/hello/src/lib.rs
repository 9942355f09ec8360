//! The smallest mod_rustgi app: `GET` and `HEAD` answer `Hello, World!` as
//! plain text; other methods get `405 Method Not Allowed`.
//!
//! Build it with `cargo build --release -p hello` and mount
//! `target/release/libhello.so` with `RustgiScriptAlias`.

#![deny(unsafe_code)]

use app_sdk::http::{self, Method, StatusCode, header};
use app_sdk::response::ResponseBody;
use app_sdk::{IntoResponse, Request, Response};

/// Answers every request.
fn hello(req: Request) -> Response {
    match *req.method() {
        Method::GET | Method::HEAD => "Hello, World!".into_response(),
        _ => http::Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(ResponseBody::from("Method Not Allowed\n"))
            .expect("a valid status and headers"),
    }
}

app_sdk::export_handler!(hello);

#[cfg(test)]
mod tests {
    use super::*;
    use app_sdk::{Config, Environ, RequestBody};

    fn request(method: &str) -> Request {
        let environ = Environ::from_iter([("REQUEST_METHOD", method), ("REQUEST_URI", "/")]);
        Request::new(environ, Config::new(), RequestBody::empty())
    }

    #[test]
    fn get_and_head_say_hello() {
        for method in ["GET", "HEAD"] {
            let res = hello(request(method));
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
            assert_eq!(res.into_body().into_vec().unwrap(), b"Hello, World!");
        }
    }

    #[test]
    fn other_methods_are_not_allowed() {
        let res = hello(request("POST"));
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[header::ALLOW], "GET, HEAD");
    }
}
