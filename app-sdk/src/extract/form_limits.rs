//! What every form parser shares: the limits on a form body
//! ([`FormLimits`], [`DEFAULT_MAX_PAIRS`]) and the error of going over one
//! or of a malformed body ([`FormError`]). The query string, urlencoded and
//! multipart parsers all use it, and none of them another.

use std::fmt;
use std::io;

use http::StatusCode;

use crate::{HttpError, IntoResponse, Response};

/// The most pairs [`Args::parse`](crate::extract::Args::parse) keeps (and the default
/// [`FormLimits::fields`]).
pub const DEFAULT_MAX_PAIRS: usize = 1000;

/// Limits on a form body; going over one fails with a [`FormError`] that
/// answers 413 Payload Too Large.
///
/// | limit | default | applies to |
/// |---|---|---|
/// | [`body`](FormLimits::body) | 16 MiB | the whole body, files included |
/// | [`memory`](FormLimits::memory) | 2 MiB | an urlencoded body; all non-file multipart fields together |
/// | [`fields`](FormLimits::fields) | 1000 | pairs, or parts (fields and files) |
/// | [`field_size`](FormLimits::field_size) | 1 MiB | one non-file multipart field |
/// | [`file_size`](FormLimits::file_size) | 16 MiB | one uploaded file |
/// | [`header_size`](FormLimits::header_size) | 8 KiB | the header block of one multipart part |
///
/// ```
/// use app_sdk::extract::FormLimits;
///
/// let limits = FormLimits {
///     body: 100 << 20,
///     file_size: 50 << 20,
///     fields: 20,
///     ..FormLimits::default()
/// };
/// assert_eq!(limits.memory, 2 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormLimits {
    /// The most bytes of body read in all.
    pub body: u64,
    /// The most bytes of an urlencoded body, and of all the non-file fields
    /// of a multipart body together.
    pub memory: usize,
    /// The most pairs (urlencoded) or parts (multipart).
    pub fields: usize,
    /// The most bytes of one non-file multipart field.
    pub field_size: usize,
    /// The most bytes of one uploaded file.
    pub file_size: u64,
    /// The most bytes of the header block of one multipart part (at most
    /// 1 MiB counts; the parser's buffer is a little larger than this).
    pub header_size: usize,
}

impl Default for FormLimits {
    fn default() -> FormLimits {
        FormLimits {
            body: 16 << 20,
            memory: 2 << 20,
            fields: DEFAULT_MAX_PAIRS,
            field_size: 1 << 20,
            file_size: 16 << 20,
            header_size: 8 << 10,
        }
    }
}

impl FormLimits {
    /// Reads the limits from the app's configuration, keeping the default
    /// of each key that is not set: `form_max_body`, `form_max_memory`,
    /// `form_max_fields`, `form_max_field_size`, `form_max_file_size` and
    /// `form_max_header_size`. Sizes are bytes, or a number with a `K`, `M`
    /// or `G` suffix (powers of 1024). A value that does not parse is an
    /// error for [`App::init`](crate::App::init).
    ///
    /// ```
    /// use app_sdk::Config;
    /// use app_sdk::extract::FormLimits;
    ///
    /// let config = Config::from_iter([("form_max_body", "64M"), ("form_max_fields", "50")]);
    /// let limits = FormLimits::from_config(&config).unwrap();
    /// assert_eq!(limits.body, 64 << 20);
    /// assert_eq!(limits.fields, 50);
    ///
    /// let bad = Config::from_iter([("form_max_body", "lots")]);
    /// assert!(FormLimits::from_config(&bad).is_err());
    /// ```
    pub fn from_config(config: &crate::Config) -> Result<FormLimits, crate::InitError> {
        let mut limits = FormLimits::default();
        let get = |key: &str| -> Result<Option<u64>, crate::InitError> {
            config
                .get(key)
                .map(|v| {
                    parse_size(v)
                        .ok_or_else(|| crate::InitError::new(format!("{key}: {v:?} is not a size")))
                })
                .transpose()
        };
        let small = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        if let Some(v) = get("form_max_body")? {
            limits.body = v;
        }
        if let Some(v) = get("form_max_memory")? {
            limits.memory = small(v);
        }
        if let Some(v) = get("form_max_fields")? {
            limits.fields = small(v);
        }
        if let Some(v) = get("form_max_field_size")? {
            limits.field_size = small(v);
        }
        if let Some(v) = get("form_max_file_size")? {
            limits.file_size = v;
        }
        if let Some(v) = get("form_max_header_size")? {
            limits.header_size = small(v);
        }
        Ok(limits)
    }
}

/// Parses `123`, `4K`, `16M`, `1G` (powers of 1024).
fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, shift) = match value.as_bytes().last()? {
        b'k' | b'K' => (&value[..value.len() - 1], 10),
        b'm' | b'M' => (&value[..value.len() - 1], 20),
        b'g' | b'G' => (&value[..value.len() - 1], 30),
        _ => (value, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1 << shift)
}

/// Why a form body was refused. [`status`](FormError::status) gives the
/// answer, which [`IntoResponse`] sends with the message as plain text.
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::extract::FormError;
///
/// let err = FormError::BodyTooLarge { limit: 1024 };
/// assert_eq!(err.status(), 413);
/// assert_eq!(err.to_string(), "the body is larger than 1024 bytes");
/// assert_eq!(FormError::Malformed("bad".into()).into_response().status(), 400);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum FormError {
    /// The body is not a form (415).
    UnsupportedMediaType(String),
    /// The body is larger than [`FormLimits::body`] (or, urlencoded, than
    /// [`FormLimits::memory`]) (413).
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// More pairs or parts than [`FormLimits::fields`] (413).
    TooManyFields {
        /// The limit.
        limit: usize,
    },
    /// A field larger than [`FormLimits::field_size`], or the fields
    /// together larger than [`FormLimits::memory`] (413).
    FieldTooLarge {
        /// The field's name.
        name: String,
        /// The limit that was reached, in bytes.
        limit: usize,
    },
    /// A file larger than [`FormLimits::file_size`] (413).
    FileTooLarge {
        /// The field's name.
        name: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A part's header block larger than [`FormLimits::header_size`] (413).
    HeaderTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body does not parse (400).
    Malformed(String),
    /// An [`UploadSink`](super::UploadSink) refused a file (400).
    Rejected(String),
    /// Reading the body failed: the client went away or sent a bad body
    /// (400; the host answers for itself when it knows better).
    Read(io::Error),
    /// Storing a file failed (500).
    Storage(io::Error),
}

impl FormError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            FormError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            FormError::BodyTooLarge { .. }
            | FormError::TooManyFields { .. }
            | FormError::FieldTooLarge { .. }
            | FormError::FileTooLarge { .. }
            | FormError::HeaderTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FormError::Malformed(_) | FormError::Rejected(_) | FormError::Read(_) => {
                StatusCode::BAD_REQUEST
            }
            FormError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as an [`io::Error`] holding it, for [`Read`]
    /// implementations.
    #[cfg(any(feature = "multipart", test))]
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            FormError::Read(e) | FormError::Storage(e) => e.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// Gets back the `FormError` inside an error of a
    /// [`Part`](crate::extract::Part)'s [`Read`](std::io::Read) implementation; any other error
    /// becomes [`FormError::Read`].
    ///
    /// ```
    /// use std::io::Read;
    /// use app_sdk::extract::{FormError, FormLimits, Multipart};
    ///
    /// let body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\ncut sh";
    /// let mut mp = Multipart::new(&body[..], "b", FormLimits::default()).unwrap();
    /// let mut part = mp.next_part().unwrap().unwrap();
    /// let err = part.read_to_end(&mut Vec::new()).unwrap_err();
    /// assert!(matches!(FormError::from_io(err), FormError::Malformed(_)));
    /// ```
    pub fn from_io(err: io::Error) -> FormError {
        if err.get_ref().is_some_and(|e| e.is::<FormError>()) {
            if let Some(inner) = err.into_inner() {
                if let Ok(form) = inner.downcast::<FormError>() {
                    return *form;
                }
            }
            return FormError::Malformed("the body failed to parse".into());
        }
        FormError::Read(err)
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::UnsupportedMediaType(t) if t.is_empty() => {
                write!(f, "the body is not a form (no Content-Type)")
            }
            FormError::UnsupportedMediaType(t) => write!(f, "the body is not a form but {t}"),
            FormError::BodyTooLarge { limit } => {
                write!(f, "the body is larger than {limit} bytes")
            }
            FormError::TooManyFields { limit } => {
                write!(f, "the form has more than {limit} fields")
            }
            FormError::FieldTooLarge { name, limit } => {
                write!(f, "the form field {name:?} is larger than {limit} bytes")
            }
            FormError::FileTooLarge { name, limit } => {
                write!(f, "the file of field {name:?} is larger than {limit} bytes")
            }
            FormError::HeaderTooLarge { limit } => {
                write!(f, "a multipart header block is larger than {limit} bytes")
            }
            FormError::Malformed(m) => write!(f, "malformed form: {m}"),
            FormError::Rejected(m) => write!(f, "upload refused: {m}"),
            FormError::Read(e) => write!(f, "reading the body failed: {e}"),
            FormError::Storage(e) => write!(f, "storing an upload failed: {e}"),
        }
    }
}

impl std::error::Error for FormError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FormError::Read(e) | FormError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

/// An I/O error of an [`UploadSink`](super::UploadSink) (so that sinks can use `?`).
impl From<io::Error> for FormError {
    fn from(e: io::Error) -> FormError {
        FormError::Storage(e)
    }
}

/// An [`HttpError`] with the status of [`FormError::status`], the message,
/// and the error as its source; a 500 says no more than its status to the
/// client, and the error goes to the error log.
impl From<FormError> for HttpError {
    fn from(e: FormError) -> HttpError {
        let status = e.status();
        if status.is_server_error() {
            log::error!("{e}");
            return HttpError::from(status).with_source(e);
        }
        HttpError::new(status, e.to_string()).with_source(e)
    }
}

/// The page of the [`HttpError`] it converts into.
impl IntoResponse for FormError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn sizes_and_config() {
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size(" 4k "), Some(4096));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        let config = Config::from_iter([
            ("form_max_memory", "1K"),
            ("form_max_field_size", "10"),
            ("form_max_file_size", "1M"),
            ("form_max_header_size", "2K"),
        ]);
        let limits = FormLimits::from_config(&config).unwrap();
        assert_eq!(
            limits,
            FormLimits {
                memory: 1024,
                field_size: 10,
                file_size: 1 << 20,
                header_size: 2048,
                ..FormLimits::default()
            }
        );
        let err = FormLimits::from_config(&Config::from_iter([("form_max_fields", "x")]));
        assert!(err.unwrap_err().to_string().contains("form_max_fields"));
    }
}
