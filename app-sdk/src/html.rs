//! HTML escaping, for pages an app writes by hand, and the skeleton of the
//! pages the SDK renders itself (error pages, `/debug-info`).

use std::fmt::Write as _;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute
/// values (quoted with either quote).
///
/// ```
/// use app_sdk::html::escape;
///
/// let name = "<b>Tom & \"Jerry\"</b>";
/// assert_eq!(
///     format!("<p title='{}'>{}</p>", escape("it's"), escape(name)),
///     "<p title='it&#39;s'>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;</p>"
/// );
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete HTML page with `title` (escaped here) and `body` (already HTML).
pub(crate) fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 256);
    let title = escape(title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}\
         pre{{background:#f4f4f4;padding:.5em;overflow:auto}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    );
    out
}

/// An HTML table with a header row; every cell is escaped here.
pub(crate) fn table<'a, R, C>(headers: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = &'a str>,
{
    let mut out = String::from("<table>\n<tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    let mut empty = true;
    for row in rows {
        empty = false;
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    if empty {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"{}\"><em>none</em></td></tr>",
            headers.len().max(1)
        );
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn pages_and_tables() {
        let p = page("a<b", "<p>x</p>\n");
        assert!(p.contains("<title>a&lt;b</title>"));
        assert!(p.contains("<p>x</p>"));
        let t = table(&["k", "v"], [["a", "<1>"]]);
        assert!(t.contains("<td>&lt;1&gt;</td>"));
        let empty = table(&["k"], Vec::<Vec<&str>>::new());
        assert!(empty.contains("none"));
    }
}
