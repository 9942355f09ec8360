//! Helpers shared by the body parsers: media types and reading a body under
//! a limit.

use std::io::{self, Read};

use crate::Request;
use crate::pairs::Pairs;

/// A parsed media type: the lowercase essence (`type/subtype`) and its
/// parameters (lowercase names, unquoted values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaType {
    pub(crate) essence: String,
    pub(crate) params: Pairs,
}

impl MediaType {
    /// Parses `type/subtype; name=value; name="quoted"`. Parameters that do
    /// not parse are skipped.
    pub(crate) fn parse(value: &str) -> MediaType {
        let (essence, rest) = value.split_once(';').unwrap_or((value, ""));
        MediaType {
            essence: essence.trim().to_ascii_lowercase(),
            params: parse_params(rest).into_iter().collect(),
        }
    }

    /// The value of the parameter `name` (lowercase).
    #[cfg(any(feature = "multipart", test))]
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Whether this is JSON: `application/json` or `*/*+json`.
    pub(crate) fn is_json(&self) -> bool {
        self.essence == "application/json"
            || (self.essence.ends_with("+json") && self.essence.contains('/'))
    }
}

/// Parses `; name=value; name="quoted \" value"` parameters, lowercasing the
/// names. A quoted string ends at the first unescaped `"`; a backslash
/// escapes the next character.
pub(crate) fn parse_params(input: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        // Skip separators and whitespace.
        while chars
            .next_if(|&c| c == ';' || c == ' ' || c == '\t')
            .is_some()
        {}
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && c != ';') {
            name.push(c);
        }
        let name = name.trim().to_ascii_lowercase();
        if chars.next_if_eq(&'=').is_none() {
            // A name without a value: skip it.
            continue;
        }
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(next) = chars.next() {
                            value.push(next);
                        }
                    }
                    c => value.push(c),
                }
            }
            // Anything between the closing quote and the next `;` is junk.
            while chars.next_if(|&c| c != ';').is_some() {}
        } else {
            while let Some(c) = chars.next_if(|&c| c != ';') {
                value.push(c);
            }
            value.truncate(value.trim_end().len());
        }
        if !name.is_empty() {
            params.push((name, value));
        }
    }
    params
}

/// The request's media type, from its `Content-Type` header.
pub(crate) fn request_media_type(req: &Request) -> Option<MediaType> {
    let value = req.headers().get(http::header::CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let media = MediaType::parse(&text);
    (!media.essence.is_empty()).then_some(media)
}

/// The body length announced by `CONTENT_LENGTH`, if any.
pub(crate) fn announced_length(req: &Request) -> Option<u64> {
    req.environ()
        .get("CONTENT_LENGTH")
        .and_then(|v| v.trim().parse().ok())
}

/// Why [`read_limited`] failed.
#[derive(Debug)]
pub(crate) enum LimitedReadError {
    /// The body is longer than the limit.
    TooLarge,
    /// Reading failed.
    Io(io::Error),
}

/// Reads the whole body, refusing more than `limit` bytes (before reading
/// anything when `CONTENT_LENGTH` already announces more).
pub(crate) fn read_limited(req: &mut Request, limit: u64) -> Result<Vec<u8>, LimitedReadError> {
    let announced = announced_length(req);
    if announced.is_some_and(|len| len > limit) {
        return Err(LimitedReadError::TooLarge);
    }
    // Trust the announced length for the first allocation only up to 64 KiB.
    let capacity = announced.unwrap_or(0).min(limit).min(64 * 1024) as usize;
    let mut buf = Vec::with_capacity(capacity);
    req.body_mut()
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(LimitedReadError::Io)?;
    if buf.len() as u64 > limit {
        return Err(LimitedReadError::TooLarge);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, RequestBody};

    #[test]
    fn media_types() {
        let m = MediaType::parse("Multipart/Form-Data; boundary=\"a b\\\"c\"; X=1 ; bad; =2");
        assert_eq!(m.essence, "multipart/form-data");
        assert_eq!(m.param("boundary"), Some("a b\"c"));
        assert_eq!(m.param("x"), Some("1"));
        assert_eq!(m.params.len(), 2);
        assert!(MediaType::parse("application/json; charset=utf-8").is_json());
        assert!(MediaType::parse("application/problem+json").is_json());
        assert!(!MediaType::parse("text/plain").is_json());
        assert!(!MediaType::parse("+json").is_json());
        assert_eq!(MediaType::parse("").essence, "");
        assert_eq!(
            parse_params("a=\"x;y\" junk; b=2"),
            [("a".into(), "x;y".into()), ("b".into(), "2".into())]
        );
        assert_eq!(
            parse_params("a=\"unterminated"),
            [("a".into(), "unterminated".into())]
        );
    }

    #[test]
    fn limited_reads() {
        let req = |len: Option<&str>, body: &[u8]| {
            let mut env = Environ::new();
            if let Some(len) = len {
                env.push("CONTENT_LENGTH", len);
            }
            Request::new(env, Config::new(), RequestBody::from_bytes(body.to_vec()))
        };
        assert_eq!(read_limited(&mut req(None, b"abc"), 3).unwrap(), b"abc");
        assert!(matches!(
            read_limited(&mut req(None, b"abcd"), 3),
            Err(LimitedReadError::TooLarge)
        ));
        assert!(matches!(
            read_limited(&mut req(Some("4"), b""), 3),
            Err(LimitedReadError::TooLarge)
        ));
        assert_eq!(read_limited(&mut req(Some("x"), b"ab"), 3).unwrap(), b"ab");
    }
}
