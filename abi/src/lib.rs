//! The Rust mirror of `include/rustgi.h`, the app ABI, version 1.
//!
//! Both sides of the ABI use these types: apps (through the glue that
//! app-sdk's `export_app!` generates, or written by hand, as the Python
//! bridge is) and the host, `mod_rustgi`. app-sdk re-exports this crate as
//! `app_sdk::abi`.
//! The layout of every struct is checked against the C header by a unit test
//! that compiles `src/abi_layout.c` with the C compiler.
//!
//! `docs/abi.md` describes the ABI in full. In short:
//!
//! * An app is a shared library exporting [`ABI_VERSION_SYMBOL`] (a `u32`)
//!   and [`APP_ENTRY_SYMBOL`] (an [`AppEntryFn`] returning a [`RustgiApp`]).
//! * Every struct starts with `struct_size` and `abi_version`. A side reading a
//!   struct made by the other side first reads `struct_size` and only touches
//!   the fields that lie within it.
//! * Strings ([`RustgiStr`]) are a pointer and a length, not necessarily UTF-8.
//!   Strings made by the host are also followed by a NUL byte not counted in
//!   `len`.
//!
//! # Function pointers
//!
//! The callbacks of [`RustgiHostApi`] of revision 1.0 are plain
//! `unsafe extern "C" fn`s: the host must fill in every one of them, never
//! NULL, and an app may call them without checking. Those appended later
//! (`send_file`) are `Option`s, read through [`RustgiHostApi::copy_from`],
//! which leaves them `None` when an older host's `struct_size` ends before
//! them. The entries of [`RustgiApp`] are `Option`s because that
//! struct comes from an app the host does not trust to be well-formed: a NULL
//! entry reads as `None` (an `Option` of a function pointer has the layout of
//! a nullable C function pointer), and the host refuses to load an app whose
//! `init`, `handle` or `shutdown` is NULL.

use core::ffi::{CStr, c_char, c_void};

/// The ABI version these types describe (`RUSTGI_ABI_VERSION`).
pub const ABI_VERSION: u32 = 1;

/// Success, as returned by the host callbacks and by the app's `init` and
/// `handle` (`RUSTGI_OK`).
pub const OK: i32 = 0;
/// Failure, as returned by the host callbacks and by the app's `init` and
/// `handle` (`RUSTGI_ERROR`).
pub const ERROR: i32 = -1;

/// Log level `RUSTGI_LOG_EMERG` (Apache's `APLOG_EMERG`).
pub const LOG_EMERG: i32 = 0;
/// Log level `RUSTGI_LOG_ALERT` (Apache's `APLOG_ALERT`).
pub const LOG_ALERT: i32 = 1;
/// Log level `RUSTGI_LOG_CRIT` (Apache's `APLOG_CRIT`).
pub const LOG_CRIT: i32 = 2;
/// Log level `RUSTGI_LOG_ERR` (Apache's `APLOG_ERR`).
pub const LOG_ERR: i32 = 3;
/// Log level `RUSTGI_LOG_WARNING` (Apache's `APLOG_WARNING`).
pub const LOG_WARNING: i32 = 4;
/// Log level `RUSTGI_LOG_NOTICE` (Apache's `APLOG_NOTICE`).
pub const LOG_NOTICE: i32 = 5;
/// Log level `RUSTGI_LOG_INFO` (Apache's `APLOG_INFO`).
pub const LOG_INFO: i32 = 6;
/// Log level `RUSTGI_LOG_DEBUG` (Apache's `APLOG_DEBUG`).
pub const LOG_DEBUG: i32 = 7;
/// Log level `RUSTGI_LOG_TRACE1` (Apache's `APLOG_TRACE1`).
pub const LOG_TRACE1: i32 = 8;

/// The name of the exported `const uint32_t` holding the app's ABI version.
pub const ABI_VERSION_SYMBOL: &CStr = c"rustgi_abi_version";
/// The name of the exported [`AppEntryFn`] returning the app's descriptor.
pub const APP_ENTRY_SYMBOL: &CStr = c"rustgi_app_entry";

/// The type of the exported `rustgi_app_entry` function.
///
/// It returns a pointer to the app's [`RustgiApp`] descriptor, which must stay
/// valid and unchanged for as long as the library is loaded.
pub type AppEntryFn = unsafe extern "C" fn() -> *const RustgiApp;

/// [`RustgiHostApi::read_body`]: reads up to `len` bytes of the request body
/// into `buf`; returns the number read (> 0), 0 at the end, or [`ERROR`].
pub type ReadBodyFn = unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, len: usize) -> isize;
/// [`RustgiHostApi::start_response`]: sets the status and the headers.
pub type StartResponseFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    status: u16,
    headers: *const RustgiPair,
    headers_len: usize,
) -> i32;
/// [`RustgiHostApi::write`]: writes `len` body bytes from `buf`.
pub type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, buf: *const u8, len: usize) -> i32;
/// [`RustgiHostApi::flush`]: sends everything written so far to the client.
pub type FlushFn = unsafe extern "C" fn(ctx: *mut c_void) -> i32;
/// [`RustgiHostApi::log`]: writes `len` bytes from `msg` to the error log.
pub type LogFn = unsafe extern "C" fn(ctx: *mut c_void, level: i32, msg: *const c_char, len: usize);
/// [`RustgiHostApi::send_file`]: sends `len` bytes of the regular file open
/// at `fd`, from `offset`, as body bytes.
pub type SendFileFn = unsafe extern "C" fn(ctx: *mut c_void, fd: i32, offset: u64, len: u64) -> i32;

/// [`RustgiApp::init`]: creates an app instance.
pub type InitFn = unsafe extern "C" fn(init: *const RustgiInit, instance: *mut *mut c_void) -> i32;
/// [`RustgiApp::handle`]: handles one request.
pub type HandleFn =
    unsafe extern "C" fn(instance: *mut c_void, request: *const RustgiRequest) -> i32;
/// [`RustgiApp::status`]: writes what an instance says about itself, a
/// JSON object, into `buf` (at most `cap` bytes, NUL-terminated); returns
/// the length of the whole text, which may be more than `cap - 1`.
pub type StatusFn =
    unsafe extern "C" fn(instance: *mut c_void, buf: *mut c_char, cap: usize) -> usize;
/// [`RustgiApp::shutdown`]: destroys an app instance.
pub type ShutdownFn = unsafe extern "C" fn(instance: *mut c_void);

/// `rustgi_str`: a byte string given as a pointer and a length.
///
/// It is not required to be UTF-8. Strings made by the host are followed by a
/// NUL byte that `len` does not count. `ptr` may be NULL when `len` is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RustgiStr {
    /// The first byte.
    pub ptr: *const c_char,
    /// The number of bytes, without any terminating NUL.
    pub len: usize,
}

impl RustgiStr {
    /// The empty string (a NULL pointer and a length of 0).
    pub const EMPTY: RustgiStr = RustgiStr {
        ptr: core::ptr::null(),
        len: 0,
    };

    /// A string pointing at `bytes`.
    ///
    /// The result borrows `bytes` without a lifetime: it is only valid while
    /// `bytes` is alive and unchanged. No NUL is added.
    ///
    /// ```
    /// use rustgi_abi::RustgiStr;
    ///
    /// let s = RustgiStr::from_bytes(b"GET");
    /// assert_eq!(s.len, 3);
    /// // SAFETY: the literal outlives `s`.
    /// assert_eq!(unsafe { s.as_bytes() }, b"GET");
    /// ```
    pub const fn from_bytes(bytes: &[u8]) -> RustgiStr {
        RustgiStr {
            ptr: bytes.as_ptr().cast(),
            len: bytes.len(),
        }
    }

    /// The bytes of the string.
    ///
    /// Returns an empty slice when `len` is 0, whatever `ptr` is.
    ///
    /// # Safety
    ///
    /// Unless `len` is 0, `ptr` must point to `len` initialized bytes that
    /// stay valid and unchanged for as long as the returned slice is used
    /// (the ABI guarantees this for the strings the host hands to an app,
    /// until the call that received them returns).
    pub unsafe fn as_bytes(&self) -> &[u8] {
        if self.len == 0 || self.ptr.is_null() {
            return &[];
        }
        // SAFETY: the caller guarantees that `ptr` points to `len` valid bytes
        // for the lifetime of the borrow; `ptr` is not NULL (checked above).
        unsafe { core::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

/// `rustgi_pair`: a name and a value, as used for environ, config and
/// response headers.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RustgiPair {
    /// The name.
    pub name: RustgiStr,
    /// The value.
    pub value: RustgiStr,
}

impl RustgiPair {
    /// A pair pointing at `name` and `value`, with the same caveats as
    /// [`RustgiStr::from_bytes`].
    pub const fn from_bytes(name: &[u8], value: &[u8]) -> RustgiPair {
        RustgiPair {
            name: RustgiStr::from_bytes(name),
            value: RustgiStr::from_bytes(value),
        }
    }
}

/// `rustgi_host_api`: the services the host offers to the app.
///
/// `ctx` is always the `ctx` field of the [`RustgiInit`] or [`RustgiRequest`]
/// the app was given (or NULL for [`log`](Self::log) outside a request). Every
/// callback is filled in by the host; none is NULL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RustgiHostApi {
    /// The size in bytes of the struct the host made.
    pub struct_size: u32,
    /// The host's ABI version.
    pub abi_version: u32,
    /// Reads up to `len` bytes of the de-chunked request body. Returns the
    /// number of bytes read (> 0), 0 at the end of the body, or [`ERROR`] when
    /// the body cannot be read (client gone, malformed chunking, body over
    /// `LimitRequestBody`); the host then answers with the matching 4xx status
    /// if the response has not started.
    pub read_body: ReadBodyFn,
    /// Sets the status and the headers. May be called again to replace them
    /// until the first byte of the body has been written or flushed. Refuses
    /// ([`ERROR`], and a line in error_log) a status outside 200..=599, a
    /// header name that is not an HTTP token, and a value holding CR, LF, NUL
    /// or another control character but TAB. Hop-by-hop headers are dropped.
    pub start_response: StartResponseFn,
    /// Writes body bytes; the host buffers small writes. [`ERROR`] means the
    /// client is gone or `start_response` was not called: stop writing.
    pub write: WriteFn,
    /// Sends everything written so far to the client now.
    pub flush: FlushFn,
    /// Writes `msg` (`len` bytes, not NUL-terminated) to Apache's error_log at
    /// `level` (one of the `LOG_*` constants).
    pub log: LogFn,
    /// Optional, appended in revision 1.2: sends `len` bytes of the regular
    /// file open at `fd`, from `offset`, as body bytes after those written
    /// before, without the app reading them. The host keeps its own
    /// reference to the file, so the app may close `fd` once the call
    /// returns (but must not change those bytes until the response is
    /// over). In daemon mode the descriptor goes to the Apache child over
    /// the group's socket and the daemon never reads the file. [`ERROR`]
    /// when `fd` is not a regular file, the range passes its end,
    /// `start_response` was not called, or the client is gone. Read it
    /// through [`RustgiHostApi::copy_from`], which leaves it `None` for an
    /// older host whose `struct_size` does not cover it.
    pub send_file: Option<SendFileFn>,
}

/// The size of a version 1 [`RustgiHostApi`] before `send_file` was
/// appended: the smallest host API an app accepts.
pub const HOST_API_SIZE_V1_0: usize = core::mem::offset_of!(RustgiHostApi, send_file);

/// Why a host API cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostApiError {
    /// The host gave a NULL pointer.
    Null,
    /// The host speaks another ABI version.
    Version(u32),
    /// The host's struct is smaller than the first revision of version 1.
    TooSmall(u32),
}

impl core::fmt::Display for HostApiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HostApiError::Null => f.write_str("the host gave no API (NULL rustgi_host_api)"),
            HostApiError::Version(v) => write!(
                f,
                "the host speaks rustgi ABI version {v} (rustgi_host_api); this app was built for version {ABI_VERSION}"
            ),
            HostApiError::TooSmall(size) => write!(
                f,
                "the host's rustgi_host_api is {size} bytes, smaller than the {HOST_API_SIZE_V1_0} bytes of ABI version {ABI_VERSION}"
            ),
        }
    }
}

impl RustgiHostApi {
    /// A copy of the host API at `api`, of any revision of version 1: the
    /// fields beyond the host's `struct_size` (callbacks appended in later
    /// revisions) read as `None`.
    ///
    /// # Safety
    ///
    /// `api` must be NULL or point to a `rustgi_host_api` whose first
    /// `struct_size` bytes are readable and whose version-1.0 callbacks are
    /// all filled in (the ABI requires both of the host).
    pub unsafe fn copy_from(api: *const RustgiHostApi) -> Result<RustgiHostApi, HostApiError> {
        if api.is_null() {
            return Err(HostApiError::Null);
        }
        // SAFETY: every revision starts with struct_size and abi_version,
        // which the caller guarantees readable.
        let (size, version) = unsafe { ((*api).struct_size, (*api).abi_version) };
        if version != ABI_VERSION {
            return Err(HostApiError::Version(version));
        }
        let size = size as usize;
        if size < HOST_API_SIZE_V1_0 {
            return Err(HostApiError::TooSmall(size as u32));
        }
        let mut copy = core::mem::MaybeUninit::<RustgiHostApi>::zeroed();
        let len = size.min(size_of::<RustgiHostApi>());
        // SAFETY: the source has `size` readable bytes (caller) and the copy
        // takes at most that many, into a struct of at least `len` bytes.
        // The bytes not copied stay zero: a NULL `Option` of a function
        // pointer, which is `None`. The 1.0 callbacks lie within `size` and
        // are filled in (caller), so every field holds a valid value.
        unsafe {
            core::ptr::copy_nonoverlapping(api.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), len);
            Ok(copy.assume_init())
        }
    }
}

/// `rustgi_init`: what the app's `init` gets.
///
/// On failure `init` returns [`ERROR`] and writes a message, NUL-terminated and
/// truncated to `error_cap` bytes including the NUL, into `error`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RustgiInit {
    /// The size in bytes of the struct the host made.
    pub struct_size: u32,
    /// The host's ABI version.
    pub abi_version: u32,
    /// The `RustgiAppConfig` pairs of the virtual host the app is mounted in.
    pub config: *const RustgiPair,
    /// The number of pairs at `config`.
    pub config_len: usize,
    /// The host's services; valid until the app's `shutdown` returns.
    pub api: *const RustgiHostApi,
    /// The host's context for the callbacks made during `init`.
    pub ctx: *mut c_void,
    /// A buffer of `error_cap` bytes for a failure message.
    pub error: *mut c_char,
    /// The size of `error` in bytes.
    pub error_cap: usize,
}

/// `rustgi_request`: one request, as given to the app's `handle`.
///
/// Everything it points to is valid until `handle` returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RustgiRequest {
    /// The size in bytes of the struct the host made.
    pub struct_size: u32,
    /// The host's ABI version.
    pub abi_version: u32,
    /// The CGI/WSGI variables (see `docs/abi.md`).
    pub environ: *const RustgiPair,
    /// The number of pairs at `environ`.
    pub environ_len: usize,
    /// The `RustgiAppConfig` pairs in effect for this request's URL.
    pub config: *const RustgiPair,
    /// The number of pairs at `config`.
    pub config_len: usize,
    /// The host's services.
    pub api: *const RustgiHostApi,
    /// The host's context for the request callbacks.
    pub ctx: *mut c_void,
}

/// `rustgi_app`: the app's descriptor, returned by `rustgi_app_entry`.
///
/// `handle` returns [`OK`], or [`ERROR`] when it failed: before the response
/// started the host answers 500; after it, the host cuts the response short
/// so the client cannot take it as complete.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RustgiApp {
    /// The size in bytes of the struct the app made.
    pub struct_size: u32,
    /// The app's ABI version.
    pub abi_version: u32,
    /// The app's name, NUL-terminated, for log messages; may be NULL.
    pub name: *const c_char,
    /// Creates an app instance from a [`RustgiInit`] and stores it in
    /// `*instance`. Required (the host refuses an app where it is NULL).
    pub init: Option<InitFn>,
    /// Handles one request; called concurrently from several threads.
    /// Required.
    pub handle: Option<HandleFn>,
    /// Destroys an instance, after every `handle` call on it has returned.
    /// Required.
    pub shutdown: Option<ShutdownFn>,
    /// Optional, appended in revision 1.1: what an instance says about
    /// itself for the status page, a JSON object. The host calls it from any
    /// thread, also while requests run, and reads it only when the app's
    /// `struct_size` covers it.
    pub status: Option<StatusFn>,
}

/// The size of a version 1 [`RustgiApp`] before `status` was appended: the
/// smallest descriptor a host accepts.
pub const APP_SIZE_V1_0: usize = core::mem::offset_of!(RustgiApp, status);

/// The contract between mod_rustgi and its Python bridge, an app on this
/// ABI that embeds CPython and serves WSGI scripts.
///
/// The module hands a `.py` or `.wsgi` script to the bridge as an ordinary
/// app whose `init` configuration holds these keys; the bridge reads nothing
/// else. The module also reads [`VERSION_SYMBOL`](python::VERSION_SYMBOL)
/// from the bridge's file to check a `python-home` before any Python runs.
pub mod python {
    use core::ffi::CStr;

    /// The exported, NUL-terminated `major.minor` of the Python the bridge
    /// was built against (for example `3.11`).
    pub const VERSION_SYMBOL: &CStr = c"rustgi_python_version";

    /// The script's absolute path.
    pub const SCRIPT: &str = "rustgi.python.script";
    /// The name of the WSGI callable in the script (default `application`).
    pub const CALLABLE: &str = "rustgi.python.callable";
    /// The Python home (a virtual environment or a prefix); absent: the
    /// Python the bridge was built against.
    pub const HOME: &str = "rustgi.python.home";
    /// Directories added to `sys.path` (with `site.addsitedir`), joined by `:`.
    pub const PATH: &str = "rustgi.python.path";
    /// The process group, as `mod_wsgi.process_group` shows it (empty when
    /// embedded).
    pub const PROCESS_GROUP: &str = "rustgi.python.process_group";
    /// The application group, as `mod_wsgi.application_group` shows it
    /// (empty for `%{GLOBAL}`).
    pub const APPLICATION_GROUP: &str = "rustgi.python.application_group";
    /// `1` when several threads of a process call the app at once.
    pub const MULTITHREAD: &str = "rustgi.python.multithread";
    /// `1` when several processes serve the app.
    pub const MULTIPROCESS: &str = "rustgi.python.multiprocess";
    /// `1` when a process serves one request only (`maximum-requests=1`).
    pub const RUN_ONCE: &str = "rustgi.python.run_once";

    /// Whether `file` is a WSGI script, which the bridge serves: its name
    /// ends in `.py` or `.wsgi`, as mod_wsgi users name them.
    ///
    /// ```
    /// use std::path::Path;
    /// use rustgi_abi::python::is_script;
    ///
    /// assert!(is_script(Path::new("/srv/app/wsgi.py")));
    /// assert!(is_script(Path::new("/srv/app/app.wsgi")));
    /// assert!(!is_script(Path::new("/srv/app/libapp.so")));
    /// ```
    pub fn is_script(file: &std::path::Path) -> bool {
        file.extension().is_some_and(|e| e == "py" || e == "wsgi")
    }

    /// Whether `name` can name a WSGI callable: a Python identifier.
    ///
    /// ```
    /// use rustgi_abi::python::is_callable_name;
    ///
    /// assert!(is_callable_name("application"));
    /// assert!(is_callable_name("_app2"));
    /// assert!(!is_callable_name("app.wsgi") && !is_callable_name("2app"));
    /// ```
    pub fn is_callable_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::c_longlong;
    use core::mem::{align_of, offset_of, size_of};
    use std::collections::BTreeMap;

    /// One entry of `rustgi_layout_table` in `abi_layout.c`.
    #[repr(C)]
    struct LayoutEntry {
        name: *const c_char,
        value: c_longlong,
    }

    unsafe extern "C" {
        static rustgi_layout_table: LayoutEntry;
        static rustgi_layout_table_len: usize;
    }

    /// The layout as the C compiler sees it.
    fn c_layout() -> BTreeMap<String, i64> {
        // SAFETY: `abi_layout.c` defines `rustgi_layout_table` as a constant
        // array of `rustgi_layout_table_len` entries whose layout matches
        // `LayoutEntry`, and every `name` is a string literal.
        unsafe {
            let first = &raw const rustgi_layout_table;
            let entries = core::slice::from_raw_parts(first, rustgi_layout_table_len);
            entries
                .iter()
                .map(|e| {
                    let name = CStr::from_ptr(e.name).to_str().unwrap().to_owned();
                    (name, e.value)
                })
                .collect()
        }
    }

    /// The size of the field that `_field` projects, without a value at hand.
    fn field_size<T, F>(_field: fn(&T) -> &F) -> usize {
        size_of::<F>()
    }

    macro_rules! layout {
        ($map:ident, $t:ty, $c:literal, [$($f:ident),* $(,)?]) => {
            $map.insert(format!("{}.size", $c), size_of::<$t>() as i64);
            $map.insert(format!("{}.align", $c), align_of::<$t>() as i64);
            $(
                $map.insert(
                    format!("{}.{}.offset", $c, stringify!($f)),
                    offset_of!($t, $f) as i64,
                );
                $map.insert(
                    format!("{}.{}.size", $c, stringify!($f)),
                    field_size(|s: &$t| &s.$f) as i64,
                );
            )*
        };
    }

    /// The layout of the Rust mirror, named like `c_layout`.
    fn rust_layout() -> BTreeMap<String, i64> {
        let mut m = BTreeMap::new();
        layout!(m, RustgiStr, "rustgi_str", [ptr, len]);
        layout!(m, RustgiPair, "rustgi_pair", [name, value]);
        layout!(
            m,
            RustgiHostApi,
            "rustgi_host_api",
            [
                struct_size,
                abi_version,
                read_body,
                start_response,
                write,
                flush,
                log,
                send_file
            ]
        );
        layout!(
            m,
            RustgiInit,
            "rustgi_init",
            [
                struct_size,
                abi_version,
                config,
                config_len,
                api,
                ctx,
                error,
                error_cap
            ]
        );
        layout!(
            m,
            RustgiRequest,
            "rustgi_request",
            [
                struct_size,
                abi_version,
                environ,
                environ_len,
                config,
                config_len,
                api,
                ctx
            ]
        );
        layout!(
            m,
            RustgiApp,
            "rustgi_app",
            [
                struct_size,
                abi_version,
                name,
                init,
                handle,
                shutdown,
                status
            ]
        );
        for (name, value) in [
            ("RUSTGI_ABI_VERSION", i64::from(ABI_VERSION)),
            ("RUSTGI_OK", OK.into()),
            ("RUSTGI_ERROR", ERROR.into()),
            ("RUSTGI_LOG_EMERG", LOG_EMERG.into()),
            ("RUSTGI_LOG_ALERT", LOG_ALERT.into()),
            ("RUSTGI_LOG_CRIT", LOG_CRIT.into()),
            ("RUSTGI_LOG_ERR", LOG_ERR.into()),
            ("RUSTGI_LOG_WARNING", LOG_WARNING.into()),
            ("RUSTGI_LOG_NOTICE", LOG_NOTICE.into()),
            ("RUSTGI_LOG_INFO", LOG_INFO.into()),
            ("RUSTGI_LOG_DEBUG", LOG_DEBUG.into()),
            ("RUSTGI_LOG_TRACE1", LOG_TRACE1.into()),
        ] {
            m.insert(name.to_owned(), value);
        }
        m
    }

    #[test]
    fn layout_matches_the_c_header() {
        let c = c_layout();
        let rust = rust_layout();
        assert!(c.len() > 50, "the C table looks truncated: {c:?}");
        for (name, value) in &c {
            assert_eq!(rust.get(name), Some(value), "{name} differs");
        }
        for name in rust.keys() {
            assert!(c.contains_key(name), "{name} is not in abi_layout.c");
        }
    }

    unsafe extern "C" fn no_read(_: *mut c_void, _: *mut u8, _: usize) -> isize {
        ERROR as isize
    }
    unsafe extern "C" fn no_start(_: *mut c_void, _: u16, _: *const RustgiPair, _: usize) -> i32 {
        ERROR
    }
    unsafe extern "C" fn no_write(_: *mut c_void, _: *const u8, _: usize) -> i32 {
        ERROR
    }
    unsafe extern "C" fn no_flush(_: *mut c_void) -> i32 {
        ERROR
    }
    unsafe extern "C" fn no_log(_: *mut c_void, _: i32, _: *const c_char, _: usize) {}
    unsafe extern "C" fn no_send_file(_: *mut c_void, _: i32, _: u64, _: u64) -> i32 {
        ERROR
    }

    const FULL_API: RustgiHostApi = RustgiHostApi {
        struct_size: size_of::<RustgiHostApi>() as u32,
        abi_version: ABI_VERSION,
        read_body: no_read,
        start_response: no_start,
        write: no_write,
        flush: no_flush,
        log: no_log,
        send_file: Some(no_send_file),
    };

    #[test]
    fn a_host_api_copy_reads_only_what_the_host_made() {
        // SAFETY: FULL_API is a complete, valid host API.
        let full = unsafe { RustgiHostApi::copy_from(&FULL_API) }.unwrap();
        assert!(full.send_file.is_some());
        // A 1.0 host: whatever lies past its struct_size is not read.
        let old = RustgiHostApi {
            struct_size: HOST_API_SIZE_V1_0 as u32,
            ..FULL_API
        };
        // SAFETY: as above; struct_size is smaller than the struct.
        let copy = unsafe { RustgiHostApi::copy_from(&old) }.unwrap();
        assert!(copy.send_file.is_none());
        assert_eq!(copy.struct_size as usize, HOST_API_SIZE_V1_0);
        let too_small = RustgiHostApi {
            struct_size: HOST_API_SIZE_V1_0 as u32 - 8,
            ..FULL_API
        };
        // SAFETY: as above.
        let e = unsafe { RustgiHostApi::copy_from(&too_small) }.unwrap_err();
        assert_eq!(e, HostApiError::TooSmall(HOST_API_SIZE_V1_0 as u32 - 8));
        let other = RustgiHostApi {
            abi_version: 2,
            ..FULL_API
        };
        // SAFETY: as above.
        let e = unsafe { RustgiHostApi::copy_from(&other) }.unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
        // SAFETY: NULL is allowed.
        let e = unsafe { RustgiHostApi::copy_from(std::ptr::null()) }.unwrap_err();
        assert_eq!(e, HostApiError::Null);
    }

    #[test]
    fn option_fn_is_a_nullable_pointer() {
        assert_eq!(size_of::<Option<HandleFn>>(), size_of::<*const c_void>());
    }

    #[test]
    fn str_helpers() {
        let s = RustgiStr::from_bytes(b"abc");
        // SAFETY: the literal is 'static.
        assert_eq!(unsafe { s.as_bytes() }, b"abc");
        // SAFETY: an empty string needs no valid pointer.
        assert_eq!(unsafe { RustgiStr::EMPTY.as_bytes() }, b"");
        let p = RustgiPair::from_bytes(b"n", b"v");
        // SAFETY: the literals are 'static.
        unsafe {
            assert_eq!(p.name.as_bytes(), b"n");
            assert_eq!(p.value.as_bytes(), b"v");
        }
        assert_eq!(ABI_VERSION_SYMBOL.to_bytes(), b"rustgi_abi_version");
        assert_eq!(APP_ENTRY_SYMBOL.to_bytes(), b"rustgi_app_entry");
    }
}
