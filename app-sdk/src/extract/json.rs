//! JSON: request bodies through serde ([`Request::json`]) and the [`Json`]
//! response.

use std::fmt;
use std::io;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::body::{LimitedReadError, read_limited, request_media_type};
use crate::extract::FromRequest;
use crate::response::ResponseBody;
use crate::{HttpError, IntoResponse, Request, Response};

/// The default limit of [`Request::json`]: 1 MiB.
pub const DEFAULT_JSON_LIMIT: u64 = 1 << 20;

const APPLICATION_JSON: &str = "application/json";

/// A JSON value: as a response, serialized with `content-type:
/// application/json`; as a request body, see [`Request::json`].
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::extract::Json;
///
/// #[derive(serde::Serialize)]
/// struct Item { id: u32, name: &'static str }
///
/// let res = Json(Item { id: 1, name: "pen" }).into_response();
/// assert_eq!(res.headers()["content-type"], "application/json");
/// assert_eq!(res.into_body().into_vec().unwrap(), br#"{"id":1,"name":"pen"}"#);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

/// Serializes the value; a value that fails to serialize (a map with
/// non-string keys, a failing `Serialize` implementation) gives a 500 and
/// goes to the error log.
impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => {
                let mut res = Response::new(ResponseBody::from(bytes));
                res.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
                res
            }
            Err(e) => {
                log::error!("the JSON response failed to serialize: {e}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// A [`serde_json::Value`] answers as [`Json`] does.
///
/// ```
/// use app_sdk::IntoResponse;
///
/// let res = serde_json::json!({"ok": true}).into_response();
/// assert_eq!(res.headers()["content-type"], "application/json");
/// ```
impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

impl Request {
    /// Reads the body as JSON into a `T`, at most [`DEFAULT_JSON_LIMIT`]
    /// bytes. See [`json_with_limit`](Request::json_with_limit).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct NewItem { name: String, count: u32 }
    ///
    /// let env = Environ::from_iter([("CONTENT_TYPE", "application/json")]);
    /// let body = RequestBody::from_bytes(r#"{"name": "pen", "count": 3}"#);
    /// let mut req = Request::new(env, Config::new(), body);
    /// let item: NewItem = req.json().unwrap();
    /// assert_eq!((item.name.as_str(), item.count), ("pen", 3));
    /// ```
    pub fn json<T: DeserializeOwned>(&mut self) -> Result<T, JsonError> {
        self.json_with_limit(DEFAULT_JSON_LIMIT)
    }

    /// Reads the body as JSON into a `T`, refusing bodies over `limit`
    /// bytes.
    ///
    /// Fails with [`JsonError`]: 415 when the `Content-Type` is not
    /// `application/json` or `*/*+json`, 413 over the limit, 400 when the
    /// body is not JSON or not a `T`.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, IntoResponse, Request, RequestBody};
    ///
    /// let req = |ct: &str, body: &'static str| {
    ///     let env = Environ::from_iter([("CONTENT_TYPE", ct)]);
    ///     Request::new(env, Config::new(), RequestBody::from_bytes(body))
    /// };
    /// let status = |mut r: Request| r.json_with_limit::<Vec<u8>>(8).unwrap_err().status();
    /// assert_eq!(status(req("application/json", "[1, 2")), 400);
    /// assert_eq!(status(req("application/json", "[1,2,3,4,5]")), 413);
    /// assert_eq!(status(req("text/plain", "[1]")), 415);
    /// assert_eq!(req("application/json", "[1]").json_with_limit::<Vec<u8>>(8).unwrap(), [1]);
    /// ```
    pub fn json_with_limit<T: DeserializeOwned>(&mut self, limit: u64) -> Result<T, JsonError> {
        match request_media_type(self) {
            Some(media) if media.is_json() => {}
            other => {
                return Err(JsonError::UnsupportedMediaType(
                    other.map(|m| m.essence).unwrap_or_default(),
                ));
            }
        }
        let bytes = read_limited(self, limit).map_err(|e| match e {
            LimitedReadError::TooLarge => JsonError::TooLarge { limit },
            LimitedReadError::Io(e) => JsonError::Read(e),
        })?;
        serde_json::from_slice(&bytes).map_err(JsonError::Invalid)
    }
}

/// Why [`Request::json`] failed. [`status`](JsonError::status) gives the
/// answer, which [`IntoResponse`] sends with the message as plain text.
///
/// ```
/// use app_sdk::extract::JsonError;
///
/// let err = JsonError::TooLarge { limit: 10 };
/// assert_eq!(err.status(), 413);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum JsonError {
    /// The body is not JSON by its `Content-Type` (415).
    UnsupportedMediaType(String),
    /// The body is over the limit (413).
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The body is not valid JSON, or not of the expected shape (400).
    Invalid(serde_json::Error),
    /// Reading the body failed (400).
    Read(io::Error),
}

impl JsonError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            JsonError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            JsonError::Invalid(_) | JsonError::Read(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::UnsupportedMediaType(t) if t.is_empty() => {
                write!(f, "the body is not JSON (no Content-Type)")
            }
            JsonError::UnsupportedMediaType(t) => write!(f, "the body is not JSON but {t}"),
            JsonError::TooLarge { limit } => write!(f, "the body is larger than {limit} bytes"),
            JsonError::Invalid(e) => write!(f, "invalid JSON: {e}"),
            JsonError::Read(e) => write!(f, "reading the body failed: {e}"),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonError::Invalid(e) => Some(e),
            JsonError::Read(e) => Some(e),
            _ => None,
        }
    }
}

/// An [`HttpError`] with the status of [`JsonError::status`], the message,
/// and the error as its source.
impl From<JsonError> for HttpError {
    fn from(e: JsonError) -> HttpError {
        HttpError::new(e.status(), e.to_string()).with_source(e)
    }
}

/// The page of the [`HttpError`] it converts into.
impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

/// The body read with [`Request::json`] as a handler's last argument; a
/// [`JsonError`] (400, 413 or 415) is the response when it fails.
///
/// ```
/// use app_sdk::Router;
/// use app_sdk::extract::Json;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Note { text: String }
///
/// let router = Router::new().post("/notes", |Json(note): Json<Note>| Json(note));
/// # let _ = router;
/// ```
impl<T: DeserializeOwned> FromRequest for Json<T> {
    type Rejection = JsonError;

    fn from_request(mut req: Request) -> Result<Json<T>, JsonError> {
        req.json().map(Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, RequestBody};
    use serde::Deserialize;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut env = Environ::new();
        if let Some(ct) = content_type {
            env.push("CONTENT_TYPE", ct);
        }
        Request::new(env, Config::new(), RequestBody::from_bytes(body.to_owned()))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[test]
    fn parses_json_bodies() {
        let mut req = request(Some("application/json; charset=utf-8"), r#"{"x":1,"y":-2}"#);
        assert_eq!(req.json::<Point>().unwrap(), Point { x: 1, y: -2 });
        let mut req = request(Some("application/vnd.api+json"), r#"{"x":0,"y":0}"#);
        assert!(req.json::<Point>().is_ok());
    }

    #[test]
    fn refuses_bad_bodies() {
        let err = request(Some("application/json"), r#"{"x":1}"#)
            .json::<Point>()
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("missing field `y`"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        let err = request(Some("application/json"), "{")
            .json::<Point>()
            .unwrap_err();
        assert_eq!(err.into_response().status(), StatusCode::BAD_REQUEST);
        let err = request(None, "{}").json::<Point>().unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(err.to_string(), "the body is not JSON (no Content-Type)");
        let err = request(Some("application/json"), "[1,2,3]")
            .json_with_limit::<Vec<i32>>(6)
            .unwrap_err();
        assert!(matches!(err, JsonError::TooLarge { limit: 6 }));
    }

    #[test]
    fn json_responses() {
        let res = Json(vec![1, 2]).into_response();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.into_body().into_vec().unwrap(), b"[1,2]");
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1], 1);
        assert_eq!(
            Json(bad).into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let res = (StatusCode::CREATED, Json("x")).into_response();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()[CONTENT_TYPE], APPLICATION_JSON);
    }
}
