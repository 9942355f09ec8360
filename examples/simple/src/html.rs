//! The app's HTML: one page layout, tables, and escaping. (simple.py
//! builds its pages from `get_header`, `get_crumbnav` and `get_footer`.)

use std::fmt::Write as _;

use app_sdk::Request;
use app_sdk::response::Html;

/// The stylesheet every page carries inline (simple.py serves it as
/// `/style.css`).
const STYLE: &str = "\
body { width: 90%; max-width: 900px; margin: auto; padding-top: 30px; font-family: sans-serif; }
h1 { text-align: center; color: #707070; }
pre { font-size: 90%; background: #ddd; overflow: auto; }
table { width: 100%; font-family: monospace; }
td { word-break: break-word; }
td:first-child { white-space: nowrap; width: 30%; }
tr:hover { background: #e0e0e0; }";

/// Escapes `text` for HTML element content and attribute values.
pub use app_sdk::html::escape;

/// A whole page: `title` and `body` (HTML), with the crumb navigation to the
/// app's index (the mount point, `base`) and the footer.
pub fn page(base: &str, title: &str, body: &str) -> Html<String> {
    let title = escape(title);
    let home = if base.is_empty() { "/" } else { base };
    Html(format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Simple - {title}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n\
         <h1>Simple - {title}</h1>\n<p><a href=\"{home}\">Index</a> &raquo; <b>{title}</b></p>\n\
         {body}\
         <hr>\n<small>PoorWSGI's examples/simple.py, ported to mod_rustgi's app-sdk.</small>\n\
         </body>\n</html>\n",
        home = escape(home),
    ))
}

/// A two-column table; both columns are escaped.
pub fn table<K, V>(rows: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::from("<table>\n");
    for (key, value) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(key.as_ref()),
            escape(value.as_ref())
        );
    }
    out.push_str("</table>\n");
    out
}

/// The request's headers as a table (simple.py's "Browser Headers").
pub fn headers_table(req: &Request) -> String {
    table(
        req.headers()
            .iter()
            .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_tables() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            table([("a<", "b>")]),
            "<table>\n<tr><td>a&lt;</td><td>b&gt;</td></tr>\n</table>\n"
        );
        let Html(page) = page("/app", "T&T", "<p>x</p>\n");
        assert!(page.contains("<title>Simple - T&amp;T</title>"), "{page}");
        assert!(page.contains("<a href=\"/app\">Index</a>"), "{page}");
    }
}
