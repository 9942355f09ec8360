//! [`RequestId`]: the id that tags a request's log lines.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Environ, Request};

/// The id of a request, as its log lines carry it.
///
/// It is `UNIQUE_ID` when Apache's mod_unique_id set it (so the id matches
/// `%{UNIQUE_ID}e` in Apache's own log formats), else one the SDK generates:
/// unique within the host, made of the process id, the time the process
/// started and a counter.
///
/// Every [`Request`] carries one ([`Request::request_id`]), and while a
/// request is handled, the records of the [`log`](https://docs.rs/log) crate
/// go to Apache's error log tagged with it: `[req:ID] target: message`.
///
/// ```
/// use app_sdk::extract::RequestId;
/// use app_sdk::{Config, Environ, Request, RequestBody};
///
/// let env = Environ::from_iter([("UNIQUE_ID", "ZmFrZS1pZA")]);
/// assert_eq!(RequestId::from_environ(&env).as_str(), "ZmFrZS1pZA");
///
/// let req = Request::new(env, Config::new(), RequestBody::empty());
/// assert_eq!(req.request_id(), "ZmFrZS1pZA");
///
/// let a = RequestId::generate();
/// let b = RequestId::generate();
/// assert_ne!(a, b);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// `UNIQUE_ID` from `environ` when it is set and printable ASCII, else a
    /// generated id.
    ///
    /// ```
    /// use app_sdk::Environ;
    /// use app_sdk::extract::RequestId;
    ///
    /// let env = Environ::from_iter([("UNIQUE_ID", "Zz1")]);
    /// assert_eq!(RequestId::from_environ(&env).as_str(), "Zz1");
    /// ```
    pub fn from_environ(environ: &Environ) -> RequestId {
        match environ.get("UNIQUE_ID") {
            Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()) => {
                RequestId(Arc::from(id))
            }
            _ => RequestId::generate(),
        }
    }

    /// A new id, unique within the host.
    ///
    /// ```
    /// use app_sdk::extract::RequestId;
    ///
    /// assert_ne!(RequestId::generate(), RequestId::generate());
    /// ```
    pub fn generate() -> RequestId {
        static PREFIX: OnceLock<String> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = PREFIX.get_or_init(|| {
            let started = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("{:x}-{:x}", std::process::id(), started)
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
        RequestId(Arc::from(format!("{prefix}-{n:x}")))
    }

    /// The id as text.
    ///
    /// ```
    /// let id = app_sdk::extract::RequestId::generate();
    /// assert!(!id.as_str().is_empty());
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Request {
    /// The request's id (see [`RequestId`]); `"-"` if the app removed it from
    /// the [extensions](Request::extensions_mut).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
    /// assert!(!req.request_id().is_empty());
    /// ```
    pub fn request_id(&self) -> &str {
        self.extensions()
            .get::<RequestId>()
            .map_or("-", RequestId::as_str)
    }
}

thread_local! {
    /// The id of the request being handled on this thread.
    static CURRENT: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The request `id` is being handled on this thread until this is dropped:
/// log records carry it.
pub(crate) struct RequestIdScope {
    previous: Option<Arc<str>>,
}

impl RequestIdScope {
    pub(crate) fn enter(id: &str) -> RequestIdScope {
        let id = Arc::from(id);
        RequestIdScope {
            previous: CURRENT.with(|c| c.replace(Some(id))),
        }
    }
}

impl Drop for RequestIdScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Calls `f` with the id of the request handled on this thread, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    let id = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten();
    f(id.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_id_wins_when_printable() {
        let env = Environ::from_iter([("UNIQUE_ID", "abc")]);
        assert_eq!(RequestId::from_environ(&env).to_string(), "abc");
        for bad in ["", "a b", "caf\u{e9}"] {
            let env = Environ::from_iter([("UNIQUE_ID", bad)]);
            assert_ne!(RequestId::from_environ(&env).as_str(), bad);
        }
        let generated = RequestId::from_environ(&Environ::new());
        assert_eq!(generated.as_str().split('-').count(), 3);
        assert_eq!(format!("{generated:?}"), format!("\"{generated}\""));
    }

    #[test]
    fn scopes_nest() {
        with_current(|id| assert_eq!(id, None));
        {
            let _a = RequestIdScope::enter("a");
            {
                let _b = RequestIdScope::enter("b");
                with_current(|id| assert_eq!(id, Some("b")));
            }
            with_current(|id| assert_eq!(id, Some("a")));
        }
        with_current(|id| assert_eq!(id, None));
    }

    #[test]
    fn requests_without_an_id() {
        let mut req = Request::new(Environ::new(), crate::Config::new(), Default::default());
        req.extensions_mut().clear();
        assert_eq!(req.request_id(), "-");
    }
}
