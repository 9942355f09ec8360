//! Pages: the index, `/test/static` (with an ETag), the pages of the typed
//! `/test/<variable>` routes, and `/simple`, a file from the static
//! directory.

use std::any::type_name;
use std::fmt::{self, Write as _};

use app_sdk::extract::{FromPathParams, Path};
use app_sdk::http::{HeaderValue, header};
use app_sdk::prelude::*;
use app_sdk::response::{ETag, FileError};

use crate::Simple;
use crate::html::{escape, headers_table, page, table};

/// The index: what there is to try.
const LINKS: &[(&str, &str)] = &[
    (
        "/test/static",
        "a static page with an ETag (304 for If-None-Match)",
    ),
    ("/test/42", "/test/<variable:int>: an i64"),
    ("/test/3.14", "/test/<variable:float>: an f64"),
    (
        "/test/123E4567-E89B-12D3-A456-426655440000",
        "/test/<variable:uuid>: any case, lower-cased",
    ),
    (
        "/test/user@Example.NET",
        "/test/<variable:email>: a custom filter",
    ),
    ("/test/word", "/test/<variable:word>"),
    ("/test/one/two/three", "/test/<v0>/<v1>/<v2>: three values"),
    ("/test/form?gname=Ann&gx=1&gx=2", "forms: GET and POST"),
    ("/test/upload", "file upload (multipart)"),
    ("/yield", "a streamed response; POST streams a body in"),
    ("/simple", "a file: ranges, ETag, conditional GET"),
    ("/login", "log in (the password is SecretPasswds)"),
    ("/private", "a page that needs a login session"),
    ("/logout", "log out"),
    ("/none", "204 No Content"),
    ("/debug-info", "the debug page (RustgiAppConfig debug On)"),
    ("/no-page", "a custom 404 page"),
    ("/internal-server-error", "500 Internal Server Error"),
    ("/bad-request", "400 from the error handler of MyValueError"),
    ("/forbidden", "403 Forbidden"),
    ("/not-implemented", "501 Not Implemented"),
];

/// `GET /`.
pub fn index(req: Request) -> Html<String> {
    let base = req.script_name();
    let mut body = String::from("<ul>\n");
    for (path, what) in LINKS {
        let _ = writeln!(
            body,
            "<li><a href=\"{href}\">{path}</a> - {what}</li>",
            href = escape(&format!("{base}{path}")),
            path = escape(path),
            what = escape(what),
        );
    }
    body.push_str("</ul>\n<p>POST JSON to <code>/test/json</code> to have it echoed.</p>\n");
    page(base, "Index", &body)
}

/// `GET /test/static`: a page that does not change, with a strong `ETag`
/// made from its bytes, so [`conditional`] answers `If-None-Match` with 304.
pub fn static_page(req: Request) -> Response {
    let Html(body) = page(
        req.script_name(),
        "Static test",
        "<p>This page is always the same: its ETag is a hash of its bytes.</p>\n",
    );
    let etag = ETag::strong(format!("{:016x}", fnv1a(body.as_bytes())))
        .expect("hex digits make a valid entity tag");
    let mut res = Html(body).into_response();
    res.headers_mut()
        .insert(header::ETAG, etag.to_header_value());
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    conditional(&req, res)
}

/// The 64-bit FNV-1a hash of `bytes`: stable across builds, unlike
/// `std`'s hasher, so the ETag is too.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `GET /test/<variable:FILTER>`: the value the filter matched, typed as
/// the handler asked (`variable::<i64>` for `int`...).
pub fn variable<T>(Path(value): Path<T>, req: Request) -> Html<String>
where
    T: FromPathParams + fmt::Display + 'static,
{
    let short_type = type_name::<T>().rsplit("::").next().unwrap_or_default();
    let info = table([
        ("type", short_type.to_owned()),
        ("value", value.to_string()),
        ("route", req.matched_route().unwrap_or_default().to_owned()),
    ]);
    let body = format!(
        "<h2>Variable</h2>\n{info}<h2>Browser headers</h2>\n{}",
        headers_table(&req)
    );
    page(req.script_name(), "Variable test", &body)
}

/// `GET /test/<v0>/<v1>/<v2>`: three values at once.
pub fn three_variables(
    Path((v0, v1, v2)): Path<(String, String, String)>,
    req: Request,
) -> Html<String> {
    let info = table([("v0", v0), ("v1", v1), ("v2", v2)]);
    page(
        req.script_name(),
        "Variable args test",
        &format!("<h2>Variables</h2>\n{info}"),
    )
}

/// `GET /simple`: `simple.txt` of the static directory, sent as a static
/// file server would (ranges, validators, conditional GET); a missing file
/// is a 404.
pub fn simple(app: &Simple, req: Request) -> Result<Response, FileError> {
    let file = FileResponse::open(app.static_dir().join("simple.txt"))?;
    Ok(file.respond(&req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_reference_hash() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
