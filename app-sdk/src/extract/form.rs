//! Form bodies: urlencoded and `multipart/form-data`, under [`FormLimits`],
//! collected into a [`Form`] whose files go to an [`UploadSink`].

use std::fmt;

use tempfile::NamedTempFile;

use super::body::{LimitedReadError, read_limited, request_media_type};
use super::form_limits::{FormError, FormLimits};
use super::query::{ArgError, Args};
use super::upload::{TempFiles, Upload, UploadSink};
use crate::Request;
use crate::extract::FromRequest;

/// A parsed form: its non-file fields as [`Args`], and its uploaded files.
///
/// ```
/// use std::io::Read;
/// use app_sdk::{Config, Environ, Request, RequestBody};
///
/// let body = "--b\r\nContent-Disposition: form-data; name=title\r\n\r\nHi\r\n\
///             --b\r\nContent-Disposition: form-data; name=doc; filename=a.txt\r\n\r\n\
///             text\r\n--b--\r\n";
/// let env = Environ::from_iter([("CONTENT_TYPE", "multipart/form-data; boundary=b")]);
/// let mut req = Request::new(env, Config::new(), RequestBody::from_bytes(body));
/// let mut form = req.form().unwrap();
/// assert_eq!(form.get("title"), Some("Hi"));
/// let doc = form.file_mut("doc").unwrap();
/// assert_eq!(doc.info().filename(), "a.txt");
/// let mut text = String::new();
/// doc.content_mut().read_to_string(&mut text).unwrap();
/// assert_eq!(text, "text");
/// ```
#[derive(Debug)]
pub struct Form<T = NamedTempFile> {
    fields: Args,
    files: Vec<Upload<T>>,
}

impl<T> Default for Form<T> {
    fn default() -> Form<T> {
        Form {
            fields: Args::new(),
            files: Vec::new(),
        }
    }
}

impl<T> Form<T> {
    /// The non-file fields.
    pub fn fields(&self) -> &Args {
        &self.fields
    }

    /// The first value of the field `name` (see [`Args::get`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    /// Every value of the field `name` (see [`Args::get_all`]).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.fields.get_all(name)
    }

    /// The first value of `name` parsed as a `T` (see [`Args::get_as`]).
    pub fn get_as<V: std::str::FromStr>(&self, name: &str) -> Result<Option<V>, ArgError>
    where
        V::Err: fmt::Display,
    {
        self.fields.get_as(name)
    }

    /// The first value of `name` parsed as a `T`, required (see
    /// [`Args::require`]).
    pub fn require<V: std::str::FromStr>(&self, name: &str) -> Result<V, ArgError>
    where
        V::Err: fmt::Display,
    {
        self.fields.require(name)
    }

    /// The first file uploaded as `name`.
    pub fn file(&self, name: &str) -> Option<&Upload<T>> {
        self.files.iter().find(|f| f.info.name == name)
    }

    /// The first file uploaded as `name`, mutably.
    pub fn file_mut(&mut self, name: &str) -> Option<&mut Upload<T>> {
        self.files.iter_mut().find(|f| f.info.name == name)
    }

    /// Every file uploaded as `name` (a field can hold several).
    pub fn files_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Upload<T>> + 'a {
        self.files.iter().filter(move |f| f.info.name == name)
    }

    /// All files, in order.
    pub fn files(&self) -> &[Upload<T>] {
        &self.files
    }

    /// Takes all files.
    pub fn into_files(self) -> Vec<Upload<T>> {
        self.files
    }
}

/// The body read with [`Request::form`] (default limits, files in
/// temporary files) as a handler's last argument; a [`FormError`] is the
/// response when it fails.
///
/// ```
/// use app_sdk::Router;
/// use app_sdk::extract::Form;
///
/// let router = Router::new().post("/contact", |form: Form| {
///     format!("thanks, {}", form.get("name").unwrap_or("stranger"))
/// });
/// # let _ = router;
/// ```
impl FromRequest for Form {
    type Rejection = FormError;

    fn from_request(mut req: Request) -> Result<Form, FormError> {
        req.form()
    }
}

impl Request {
    /// Reads the body as a form under the default [`FormLimits`], uploaded
    /// files going to temporary files ([`TempFiles`]). See
    /// [`form_with`](Request::form_with).
    ///
    /// ```
    /// use app_sdk::extract::FormError;
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([
    ///     ("REQUEST_METHOD", "POST"),
    ///     ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
    /// ]);
    /// let body = RequestBody::from_bytes("name=Ada+Lovelace&lang=en&lang=fr");
    /// let mut req = Request::new(env, Config::new(), body);
    /// let form = req.form().unwrap();
    /// assert_eq!(form.get("name"), Some("Ada Lovelace"));
    /// assert_eq!(form.get_all("lang"), ["en", "fr"]);
    ///
    /// let env = Environ::from_iter([("CONTENT_TYPE", "application/json")]);
    /// let mut req = Request::new(env, Config::new(), RequestBody::from_bytes("{}"));
    /// assert_eq!(req.form().unwrap_err().status(), 415);
    /// ```
    pub fn form(&mut self) -> Result<Form, FormError> {
        self.form_with(&FormLimits::default(), &mut TempFiles::new())
    }

    /// Reads the body as a form: `application/x-www-form-urlencoded`
    /// (strictly, see [`Args::parse_strict`]; the body at most
    /// [`FormLimits::memory`] bytes) or, with the `multipart` feature,
    /// `multipart/form-data` (see
    /// [`Multipart::read_form`](super::Multipart::read_form)), files going to
    /// `sink`.
    ///
    /// A request without a `Content-Type` and without a body gives an empty
    /// form; any other media type fails with
    /// [`FormError::UnsupportedMediaType`] (415). A body announced larger
    /// than [`FormLimits::body`] is refused before it is read.
    ///
    /// ```
    /// use app_sdk::extract::{FormLimits, InMemory};
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let body = "--b\r\nContent-Disposition: form-data; name=f; filename=a.bin\r\n\r\n\
    ///             \x00\x01\r\n--b--\r\n";
    /// let env = Environ::from_iter([("CONTENT_TYPE", "multipart/form-data; boundary=b")]);
    /// let mut req = Request::new(env, Config::new(), RequestBody::from_bytes(body));
    /// let limits = FormLimits { file_size: 1 << 20, ..FormLimits::default() };
    /// let form = req.form_with(&limits, &mut InMemory).unwrap();
    /// assert_eq!(form.file("f").unwrap().content(), &[0, 1]);
    /// ```
    pub fn form_with<S: UploadSink>(
        &mut self,
        limits: &FormLimits,
        // Files only come in multipart bodies.
        #[cfg_attr(not(feature = "multipart"), allow(unused_variables))] sink: &mut S,
    ) -> Result<Form<S::Output>, FormError> {
        let media = request_media_type(self);
        match media.as_ref().map(|m| m.essence.as_str()) {
            Some("application/x-www-form-urlencoded") => {
                let limit = limits.body.min(limits.memory as u64);
                let bytes = read_limited(self, limit).map_err(|e| match e {
                    LimitedReadError::TooLarge => FormError::BodyTooLarge { limit },
                    LimitedReadError::Io(e) => FormError::Read(e),
                })?;
                Ok(Form {
                    fields: Args::parse_strict(&bytes, limits.fields)?,
                    files: Vec::new(),
                })
            }
            #[cfg(feature = "multipart")]
            Some("multipart/form-data") => self.multipart(limits)?.read_form(sink),
            None => match read_limited(self, 0) {
                Ok(_) => Ok(Form::default()),
                Err(LimitedReadError::TooLarge) => {
                    Err(FormError::UnsupportedMediaType(String::new()))
                }
                Err(LimitedReadError::Io(e)) => Err(FormError::Read(e)),
            },
            Some(other) => Err(FormError::UnsupportedMediaType(other.to_owned())),
        }
    }
}

/// Forms read from `multipart/form-data` bodies.
#[cfg(feature = "multipart")]
mod from_multipart {
    use std::io::{Read, Write};

    use super::Form;
    use crate::extract::{FileInfo, FormError, Multipart, Upload, UploadSink};

    #[cfg_attr(docsrs, doc(cfg(feature = "multipart")))]
    impl<R: Read> Multipart<R> {
        /// Reads the whole body into a [`Form`]: fields into memory, files into
        /// `sink`, under the parser's [`FormLimits`](super::FormLimits) (fields, field sizes,
        /// memory, file sizes). A file part with an empty file name (a file
        /// input left empty) is skipped.
        ///
        /// ```
        /// use app_sdk::extract::{FormError, FormLimits, InMemory, Multipart};
        ///
        /// let body = b"--b\r\nContent-Disposition: form-data; name=f; filename=a\r\n\r\n\
        ///              too big\r\n--b--";
        /// let limits = FormLimits { file_size: 3, ..FormLimits::default() };
        /// let mut mp = Multipart::new(&body[..], "b", limits).unwrap();
        /// let err = mp.read_form(&mut InMemory).unwrap_err();
        /// assert!(matches!(err, FormError::FileTooLarge { .. }));
        /// assert_eq!(err.status(), 413);
        /// ```
        pub fn read_form<S: UploadSink>(
            &mut self,
            sink: &mut S,
        ) -> Result<Form<S::Output>, FormError> {
            let limits = *self.limits();
            let mut form = Form::default();
            let mut memory = 0usize;
            while let Some(mut part) = self.next_part()? {
                let name = part.name().to_owned();
                match part.filename().map(str::to_owned) {
                    Some(filename) if filename.is_empty() => while part.read_chunk()?.is_some() {},
                    Some(filename) => {
                        let mut info = FileInfo {
                            name,
                            filename,
                            content_type: part.content_type().map(str::to_owned),
                            size: 0,
                        };
                        let mut writer = sink.open(&info)?;
                        while let Some(chunk) = part.read_chunk()? {
                            info.size += chunk.len() as u64;
                            if info.size > limits.file_size {
                                return Err(FormError::FileTooLarge {
                                    name: info.name,
                                    limit: limits.file_size,
                                });
                            }
                            writer.write_all(chunk).map_err(FormError::Storage)?;
                        }
                        let content = sink.finish(&info, writer)?;
                        form.files.push(Upload { info, content });
                    }
                    None => {
                        let mut value = Vec::new();
                        while let Some(chunk) = part.read_chunk()? {
                            let limit = limits.field_size.min(limits.memory - memory);
                            if value.len() + chunk.len() > limit {
                                return Err(FormError::FieldTooLarge { name, limit });
                            }
                            value.extend_from_slice(chunk);
                        }
                        memory += value.len();
                        let value = match String::from_utf8(value) {
                            Ok(v) => v,
                            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                        };
                        form.fields.push(name, value);
                    }
                }
            }
            Ok(form)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "multipart")]
    use crate::extract::FileInfo;
    use crate::extract::InMemory;
    use crate::{Config, Environ, HttpError, IntoResponse, RequestBody};
    use http::StatusCode;
    use std::io;
    #[cfg(feature = "multipart")]
    use std::io::Read;

    fn request(content_type: Option<&str>, body: &[u8]) -> Request {
        let mut env = Environ::new();
        if let Some(ct) = content_type {
            env.push("CONTENT_TYPE", ct);
        }
        Request::new(env, Config::new(), RequestBody::from_bytes(body.to_vec()))
    }

    #[cfg(feature = "multipart")]
    const MP: &str = "multipart/form-data; boundary=XX";

    #[cfg(feature = "multipart")]
    fn multipart_body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend_from_slice(b"--XX\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            body.push(b'"');
            if let Some(f) = filename {
                body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
                body.extend_from_slice(b"\r\nContent-Type: application/octet-stream");
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XX--\r\n");
        body
    }

    #[test]
    fn urlencoded_forms() {
        let mut req = request(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"a=1&b=%C3%A9&a=2",
        );
        let form = req.form().unwrap();
        assert_eq!(form.get_all("a"), ["1", "2"]);
        assert_eq!(form.get("b"), Some("é"));
        assert_eq!(form.get_as::<i32>("a").unwrap(), Some(1));
        assert_eq!(form.require::<i32>("a").unwrap(), 1);
        assert!(form.files().is_empty());
        assert_eq!(form.fields.len(), 3);

        let mut req = request(Some("application/x-www-form-urlencoded"), b"a=%zz");
        assert_eq!(req.form().unwrap_err().status(), StatusCode::BAD_REQUEST);

        let big = vec![b'a'; 100];
        let mut req = request(Some("application/x-www-form-urlencoded"), &big);
        let err = req
            .form_with(
                &FormLimits {
                    memory: 99,
                    ..FormLimits::default()
                },
                &mut InMemory,
            )
            .unwrap_err();
        assert!(
            matches!(err, FormError::BodyTooLarge { limit: 99 }),
            "{err}"
        );
        let mut req = request(Some("application/x-www-form-urlencoded"), &big);
        assert!(
            req.form_with(
                &FormLimits {
                    memory: 100,
                    ..FormLimits::default()
                },
                &mut InMemory
            )
            .is_ok()
        );

        let mut req = request(Some("application/x-www-form-urlencoded"), b"a&b&c");
        let err = req
            .form_with(
                &FormLimits {
                    fields: 2,
                    ..FormLimits::default()
                },
                &mut InMemory,
            )
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn media_types() {
        let mut req = request(None, b"");
        assert!(req.form().unwrap().fields.is_empty());
        let mut req = request(None, b"x");
        let err = req.form().unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(err.to_string(), "the body is not a form (no Content-Type)");
        let mut req = request(Some("text/plain"), b"x");
        assert_eq!(
            req.form().unwrap_err().to_string(),
            "the body is not a form but text/plain"
        );
        #[cfg(feature = "multipart")]
        {
            let mut req = request(Some("multipart/form-data"), b"x");
            assert_eq!(req.form().unwrap_err().status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    #[cfg(feature = "multipart")]
    fn multipart_forms_with_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let body = multipart_body(&[
            ("title", None, b"Hello"),
            ("doc", Some("a.txt"), b"file one"),
            ("doc", Some("b.txt"), b"file two"),
            ("empty", Some(""), b""),
            ("title", None, b"\xff"),
        ]);
        let mut req = request(Some(MP), &body);
        let mut form = req
            .form_with(&FormLimits::default(), &mut TempFiles::in_dir(dir.path()))
            .unwrap();
        assert_eq!(form.get_all("title"), ["Hello", "\u{fffd}"]);
        assert_eq!(form.files().len(), 2);
        let names: Vec<_> = form
            .files_named("doc")
            .map(|f| f.info().filename())
            .collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        assert!(form.file("empty").is_none());
        let doc = form.file_mut("doc").unwrap();
        assert_eq!(doc.info().size(), 8);
        assert_eq!(doc.info().content_type(), Some("application/octet-stream"));
        assert!(doc.content().path().starts_with(dir.path()));
        let mut text = String::new();
        doc.content_mut().read_to_string(&mut text).unwrap();
        assert_eq!(text, "file one");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let files = form.into_files();
        let kept = files.into_iter().next().unwrap().into_content();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(kept);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    #[cfg(feature = "multipart")]
    fn multipart_limits() {
        let body = multipart_body(&[("a", None, b"12345"), ("b", None, b"678")]);
        let read = |limits: FormLimits| request(Some(MP), &body).form_with(&limits, &mut InMemory);
        let ok = read(FormLimits::default()).unwrap();
        assert_eq!(ok.get("b"), Some("678"));
        let err = read(FormLimits {
            field_size: 4,
            ..FormLimits::default()
        })
        .unwrap_err();
        assert!(
            matches!(&err, FormError::FieldTooLarge { name, limit: 4 } if name == "a"),
            "{err}"
        );
        let err = read(FormLimits {
            memory: 7,
            ..FormLimits::default()
        })
        .unwrap_err();
        assert!(
            matches!(&err, FormError::FieldTooLarge { name, limit: 2 } if name == "b"),
            "{err}"
        );
        assert!(
            read(FormLimits {
                memory: 8,
                ..FormLimits::default()
            })
            .is_ok()
        );
        let err = read(FormLimits {
            fields: 1,
            ..FormLimits::default()
        })
        .unwrap_err();
        assert!(matches!(err, FormError::TooManyFields { limit: 1 }));
        let err = read(FormLimits {
            body: 50,
            ..FormLimits::default()
        })
        .unwrap_err();
        assert!(matches!(err, FormError::BodyTooLarge { limit: 50 }));

        let body = multipart_body(&[("f", Some("x"), &[7; 10_000])]);
        let read = |limits: FormLimits| request(Some(MP), &body).form_with(&limits, &mut InMemory);
        assert_eq!(
            read(FormLimits::default()).unwrap().files()[0]
                .content()
                .len(),
            10_000
        );
        let err = read(FormLimits {
            file_size: 9_999,
            ..FormLimits::default()
        })
        .unwrap_err();
        assert!(matches!(err, FormError::FileTooLarge { limit: 9_999, .. }));
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.to_string().contains("\"f\""));
    }

    #[test]
    #[cfg(feature = "multipart")]
    fn sinks_can_refuse_and_fail() {
        struct Picky;
        impl UploadSink for Picky {
            type Writer = Vec<u8>;
            type Output = ();
            fn open(&mut self, file: &FileInfo) -> Result<Vec<u8>, FormError> {
                match file.filename() {
                    "bad" => Err(FormError::Rejected("no".into())),
                    "io" => Err(io::Error::other("disk full").into()),
                    _ => Ok(Vec::new()),
                }
            }
            fn finish(&mut self, _: &FileInfo, _: Vec<u8>) -> Result<(), FormError> {
                Ok(())
            }
        }
        let status = |filename| {
            let body = multipart_body(&[("f", Some(filename), b"x")]);
            match request(Some(MP), &body).form_with(&FormLimits::default(), &mut Picky) {
                Ok(_) => StatusCode::OK,
                Err(e) => e.into_response().status(),
            }
        };
        assert_eq!(status("ok"), StatusCode::OK);
        assert_eq!(status("bad"), StatusCode::BAD_REQUEST);
        assert_eq!(status("io"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn errors_survive_io_wrapping() {
        let e = FormError::TooManyFields { limit: 3 }.into_io();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            FormError::from_io(e),
            FormError::TooManyFields { limit: 3 }
        ));
        let plain = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        assert!(matches!(FormError::from_io(plain), FormError::Read(_)));
        let storage = FormError::Storage(io::Error::other("x"));
        assert!(std::error::Error::source(&storage).is_some());
        let res = storage.into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let http = HttpError::of(&res).unwrap();
        assert_eq!(http.message(), "Internal Server Error");
        let res = FormError::TooManyFields { limit: 2 }.into_response();
        assert_eq!(
            HttpError::of(&res).unwrap().message(),
            "the form has more than 2 fields"
        );
    }
}
