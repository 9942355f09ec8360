//! Checks on the status and headers an app answers with, so that no app can
//! split a response or confuse Apache's framing.

use std::fmt;

/// How the host applies a header the app sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// `Content-Type`: goes to `r->content_type`, where Apache's filters look.
    ContentType,
    /// `Content-Length`, parsed.
    ContentLength(u64),
    /// A hop-by-hop header: framing and connection handling are Apache's.
    HopByHop,
    /// Any other header, passed on as it is.
    Other,
}

/// Why the app's status or header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    Status(u16),
    Name(String),
    Value { name: String, byte: u8 },
    ContentLength(String),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Status(s) => write!(f, "status {s} is outside 200..599"),
            HeadError::Name(n) => write!(f, "header name {n:?} is not an HTTP token"),
            HeadError::Value { name, byte } => write!(
                f,
                "the value of header {name:?} holds the control byte 0x{byte:02x}"
            ),
            HeadError::ContentLength(v) => {
                write!(f, "Content-Length {v:?} is not a decimal number")
            }
        }
    }
}

/// A final status an app may answer with. 1xx are Apache's to send.
pub fn check_status(status: u16) -> Result<(), HeadError> {
    if (200..=599).contains(&status) {
        Ok(())
    } else {
        Err(HeadError::Status(status))
    }
}

/// `tchar` of RFC 9110 section 5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Checks one header: the name must be a token, the value free of control
/// characters other than TAB (CR, LF and NUL among them).
pub fn check_header(name: &[u8], value: &[u8]) -> Result<HeaderKind, HeadError> {
    let shown = || String::from_utf8_lossy(name).into_owned();
    if name.is_empty() || !name.iter().copied().all(is_token_byte) {
        return Err(HeadError::Name(shown()));
    }
    if let Some(&byte) = value
        .iter()
        .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(HeadError::Value {
            name: shown(),
            byte,
        });
    }
    let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
    if is("content-type") {
        return Ok(HeaderKind::ContentType);
    }
    if is("content-length") {
        let text = std::str::from_utf8(value)
            .unwrap_or("")
            .trim_matches([' ', '\t']);
        return match text.parse::<u64>() {
            Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(HeaderKind::ContentLength(n)),
            _ => Err(HeadError::ContentLength(
                String::from_utf8_lossy(value).into_owned(),
            )),
        };
    }
    if HOP_BY_HOP.iter().any(|h| is(h)) {
        return Ok(HeaderKind::HopByHop);
    }
    Ok(HeaderKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert!(check_status(200).is_ok());
        assert!(check_status(599).is_ok());
        assert_eq!(check_status(100), Err(HeadError::Status(100)));
        assert!(check_status(600).is_err());
        assert!(check_status(0).is_err());
    }

    #[test]
    fn splitting_is_refused() {
        for value in [&b"a\r\nInjected: 1"[..], b"a\nb", b"a\rb", b"a\0b", b"\x7f"] {
            assert!(
                matches!(check_header(b"X-Bad", value), Err(HeadError::Value { .. })),
                "{value:?}"
            );
        }
        for name in [&b"X-Bad\r\nInjected"[..], b"X Bad", b"X:Bad", b"", b"X\0"] {
            assert!(
                matches!(check_header(name, b"v"), Err(HeadError::Name(_))),
                "{name:?}"
            );
        }
        let e = check_header(b"X-Bad", b"a\r\nb").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the value of header \"X-Bad\" holds the control byte 0x0d"
        );
    }

    #[test]
    fn tabs_and_high_bytes_are_fine() {
        assert_eq!(check_header(b"X-A", b"a\tb"), Ok(HeaderKind::Other));
        assert_eq!(
            check_header(b"X-A", "été".as_bytes()),
            Ok(HeaderKind::Other)
        );
        assert_eq!(check_header(b"X-A", b""), Ok(HeaderKind::Other));
    }

    #[test]
    fn special_headers() {
        assert_eq!(
            check_header(b"content-type", b"text/html"),
            Ok(HeaderKind::ContentType)
        );
        assert_eq!(
            check_header(b"Content-Length", b"42"),
            Ok(HeaderKind::ContentLength(42))
        );
        assert!(check_header(b"Content-Length", b"-1").is_err());
        assert!(check_header(b"Content-Length", b"+1").is_err());
        assert!(check_header(b"Content-Length", b"1,1").is_err());
        assert_eq!(
            check_header(b"Transfer-Encoding", b"chunked"),
            Ok(HeaderKind::HopByHop)
        );
        assert_eq!(
            check_header(b"connection", b"close"),
            Ok(HeaderKind::HopByHop)
        );
    }
}
