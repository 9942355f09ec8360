//! Drives an app exported with `export_app!` through the C ABI, with a fake
//! host standing in for mod_rustgi: init, requests, streaming, panics,
//! logging and shutdown.

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_void};
use std::io::{Read, Write};
use std::mem::size_of;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use app_sdk::abi::{self, RustgiApp, RustgiHostApi, RustgiInit, RustgiPair, RustgiRequest};
use app_sdk::http::StatusCode;
use app_sdk::response::{RawHeaders, ResponseBody};
use app_sdk::{App, InitContext, InitError, IntoResponse, Request, RequestBody, Response};

// ---------------------------------------------------------------- the app

struct TestApp {
    greeting: String,
}

static SHUTDOWNS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STASH: RefCell<Option<RequestBody>> = const { RefCell::new(None) };
}

impl App for TestApp {
    fn init(ctx: &InitContext) -> Result<Self, InitError> {
        if let Some(msg) = ctx.config().get("fail") {
            return Err(msg.into());
        }
        if ctx.config().contains("panic") {
            panic!("init blew up");
        }
        log::info!("init with {:?}", ctx.config());
        Ok(TestApp {
            greeting: ctx.config().get("greeting").unwrap_or("Hello").to_owned(),
        })
    }

    fn handle(&self, mut req: Request) -> Response {
        match req.path_info() {
            "/hello" => format!(
                "{} {} {} {} {:?}",
                self.greeting,
                req.method(),
                req.uri(),
                req.headers()["x-foo"].to_str().unwrap(),
                req.config().get("per_request"),
            )
            .into_response(),
            "/echo" => match req.read_body_to_vec(10) {
                Ok(body) => body.into_response(),
                Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
            },
            "/panic" => panic!("handler blew up"),
            "/log" => {
                log::warn!("careful");
                let t = std::thread::spawn(|| log::error!("from a thread"));
                t.join().unwrap();
                "logged".into_response()
            }
            "/stream" => ResponseBody::stream(|w| {
                w.write_all(b"a")?;
                w.flush()?;
                w.write_all(b"")?;
                w.write_all(b"bc")
            })
            .into_response(),
            "/stream-panic-early" => (
                StatusCode::CREATED,
                ResponseBody::stream(|_| panic!("early")),
            )
                .into_response(),
            "/stream-panic-late" => ResponseBody::stream(|w| {
                w.write_all(b"x")?;
                panic!("late")
            })
            .into_response(),
            "/stream-error" => {
                ResponseBody::stream(|_| Err(std::io::Error::other("no data"))).into_response()
            }
            "/stream-gone" => ResponseBody::stream(|w| {
                w.write_all(b"x")?;
                w.write_all(b"y")
            })
            .into_response(),
            "/raw" => {
                let mut res = "raw".into_response();
                res.extensions_mut()
                    .insert(RawHeaders(vec![(b"x-raw".to_vec(), b"a\r\nb".to_vec())]));
                res
            }
            "/file" => {
                let path = std::env::temp_dir().join(format!("rustgi-glue-{}", std::process::id()));
                std::fs::write(&path, b"0123456789").unwrap();
                let file = app_sdk::response::FileResponse::open(&path).unwrap();
                std::fs::remove_file(&path).unwrap();
                file.into_response()
            }
            "/stash" => {
                let body = req.into_body();
                STASH.with(|s| *s.borrow_mut() = Some(body));
                "stashed".into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    fn shutdown(&self) {
        SHUTDOWNS.fetch_add(1, Ordering::SeqCst);
    }
}

app_sdk::export_app!(TestApp);

unsafe extern "C" {
    static rustgi_abi_version: u32;
    fn rustgi_app_entry() -> *const RustgiApp;
}

// ----------------------------------------------------------- the fake host

#[derive(Default)]
struct Exchange {
    body: Vec<u8>,
    read_pos: usize,
    read_error: bool,
    fail_writes: bool,
    /// Every start_response call: status and headers.
    starts: Vec<(u16, Vec<(String, String)>)>,
    /// Body writes ("w:...") and flushes ("flush"), in order.
    events: Vec<String>,
    logs: Vec<(i32, String)>,
    calls_after_end: usize,
}

struct Ctx {
    exchange: RefCell<Exchange>,
    ended: std::cell::Cell<bool>,
}

impl Ctx {
    fn new(exchange: Exchange) -> Ctx {
        Ctx {
            exchange: RefCell::new(exchange),
            ended: std::cell::Cell::new(false),
        }
    }

    /// # Safety
    ///
    /// `ctx` is a pointer to a live `Ctx`.
    unsafe fn from<'a>(ctx: *mut c_void) -> &'a Ctx {
        // SAFETY: the glue hands back the ctx the test gave it.
        let ctx = unsafe { &*ctx.cast::<Ctx>() };
        if ctx.ended.get() {
            ctx.exchange.borrow_mut().calls_after_end += 1;
        }
        ctx
    }
}

static NULL_CTX_LOGS: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

fn text(ptr: *const u8, len: usize) -> String {
    // SAFETY: the glue passes `len` readable bytes at `ptr`.
    String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(ptr, len) }).into_owned()
}

unsafe extern "C" fn read_body(ctx: *mut c_void, buf: *mut u8, len: usize) -> isize {
    // SAFETY: the ctx of a live request.
    let mut ex = unsafe { Ctx::from(ctx) }.exchange.borrow_mut();
    if ex.read_error {
        return abi::ERROR as isize;
    }
    // Hand out at most 3 bytes at a time, to exercise short reads.
    let n = (ex.body.len() - ex.read_pos).min(len).min(3);
    // SAFETY: `buf` has `len` writable bytes and n <= len.
    unsafe { ptr::copy_nonoverlapping(ex.body[ex.read_pos..].as_ptr(), buf, n) };
    ex.read_pos += n;
    n as isize
}

unsafe extern "C" fn start_response(
    ctx: *mut c_void,
    status: u16,
    headers: *const RustgiPair,
    len: usize,
) -> i32 {
    // SAFETY: the ctx of a live request.
    let mut ex = unsafe { Ctx::from(ctx) }.exchange.borrow_mut();
    // SAFETY: the glue passes `len` pairs.
    let headers = unsafe { std::slice::from_raw_parts(headers, len) };
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|p| {
            (
                text(p.name.ptr.cast(), p.name.len),
                text(p.value.ptr.cast(), p.value.len),
            )
        })
        .collect();
    if !(200..=599).contains(&status) || headers.iter().any(|(_, v)| v.contains(['\r', '\n'])) {
        return abi::ERROR;
    }
    ex.starts.push((status, headers));
    abi::OK
}

unsafe extern "C" fn write(ctx: *mut c_void, buf: *const u8, len: usize) -> i32 {
    // SAFETY: the ctx of a live request.
    let mut ex = unsafe { Ctx::from(ctx) }.exchange.borrow_mut();
    if ex.fail_writes && !ex.events.is_empty() {
        return abi::ERROR;
    }
    ex.events.push(format!("w:{}", text(buf, len)));
    abi::OK
}

unsafe extern "C" fn flush(ctx: *mut c_void) -> i32 {
    // SAFETY: the ctx of a live request.
    let mut ex = unsafe { Ctx::from(ctx) }.exchange.borrow_mut();
    ex.events.push("flush".into());
    abi::OK
}

unsafe extern "C" fn send_file(ctx: *mut c_void, fd: i32, offset: u64, len: u64) -> i32 {
    // SAFETY: the ctx of a live request.
    let mut ex = unsafe { Ctx::from(ctx) }.exchange.borrow_mut();
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::FileExt;
    // SAFETY: the glue keeps fd open across the call; the File is never
    // dropped, so it does not close it.
    let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let mut bytes = vec![0u8; len as usize];
    let n = file.read_at(&mut bytes, offset).unwrap_or(0);
    bytes.truncate(n);
    ex.events.push(format!(
        "file:{offset}:{len}:{}",
        String::from_utf8_lossy(&bytes)
    ));
    abi::OK
}

unsafe extern "C" fn log(ctx: *mut c_void, level: i32, msg: *const c_char, len: usize) {
    let msg = text(msg.cast(), len);
    if ctx.is_null() {
        NULL_CTX_LOGS.lock().unwrap().push((level, msg));
    } else {
        // SAFETY: the ctx of a live init or request.
        let mut ex = unsafe { Ctx::from(ctx) }.exchange.borrow_mut();
        ex.logs.push((level, msg));
    }
}

static API: RustgiHostApi = RustgiHostApi {
    struct_size: size_of::<RustgiHostApi>() as u32,
    abi_version: abi::ABI_VERSION,
    read_body,
    start_response,
    write,
    flush,
    log,
    send_file: Some(send_file),
};

/// A host of revision 1.0: no send_file, and a struct that ends before it.
static API_1_0: RustgiHostApi = RustgiHostApi {
    struct_size: abi::HOST_API_SIZE_V1_0 as u32,
    ..API
};

fn descriptor() -> RustgiApp {
    // SAFETY: the descriptor is a static made by export_app!.
    unsafe { *rustgi_app_entry() }
}

fn pairs<V: AsRef<[u8]>>(list: &[(&str, V)]) -> Vec<RustgiPair> {
    list.iter()
        .map(|(n, v)| RustgiPair::from_bytes(n.as_bytes(), v.as_ref()))
        .collect()
}

/// Calls init; returns its result, the instance, the error text and the
/// exchange of the init ctx (its logs).
fn init_with(
    config: &[(&str, &str)],
    error_cap: usize,
    tweak: impl FnOnce(&mut RustgiInit),
) -> (i32, *mut c_void, String, Exchange) {
    let config = pairs(config);
    let ctx = Ctx::new(Exchange::default());
    let mut error = vec![0x55u8; error_cap + 1];
    let mut init = RustgiInit {
        struct_size: size_of::<RustgiInit>() as u32,
        abi_version: abi::ABI_VERSION,
        config: config.as_ptr(),
        config_len: config.len(),
        api: &API,
        ctx: ptr::from_ref(&ctx).cast_mut().cast(),
        error: error.as_mut_ptr().cast(),
        error_cap,
    };
    tweak(&mut init);
    let mut instance = ptr::null_mut();
    // SAFETY: every pointer in `init` is valid for the call.
    let rc = unsafe { descriptor().init.unwrap()(&init, &mut instance) };
    assert_eq!(error[error_cap], 0x55, "the glue wrote past error_cap");
    let message = if error_cap == 0 {
        String::new()
    } else {
        CStr::from_bytes_until_nul(&error)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "<no NUL>".into())
    };
    (rc, instance, message, ctx.exchange.into_inner())
}

fn new_instance() -> *mut c_void {
    let (rc, instance, _, _) = init_with(&[("greeting", "Hi")], 256, |_| {});
    assert_eq!(rc, abi::OK);
    instance
}

fn shutdown(instance: *mut c_void) {
    // SAFETY: `instance` came from init and no request is running.
    unsafe { descriptor().shutdown.unwrap()(instance) };
}

fn handle_with(instance: *mut c_void, path: &str, exchange: Exchange) -> (i32, Exchange, Ctx) {
    handle_on(&API, instance, path, exchange)
}

fn handle_on(
    api: &'static RustgiHostApi,
    instance: *mut c_void,
    path: &str,
    exchange: Exchange,
) -> (i32, Exchange, Ctx) {
    let environ = [
        ("REQUEST_METHOD", "POST".to_owned()),
        ("REQUEST_URI", format!("/app{path}?q=1")),
        ("SCRIPT_NAME", "/app".to_owned()),
        ("PATH_INFO", path.to_owned()),
        ("QUERY_STRING", "q=1".to_owned()),
        ("HTTP_X_FOO", "bar".to_owned()),
        ("CONTENT_LENGTH", exchange.body.len().to_string()),
    ];
    let environ = pairs(&environ);
    let config = pairs(&[("per_request", "yes")]);
    let ctx = Ctx::new(exchange);
    let request = RustgiRequest {
        struct_size: size_of::<RustgiRequest>() as u32,
        abi_version: abi::ABI_VERSION,
        environ: environ.as_ptr(),
        environ_len: environ.len(),
        config: config.as_ptr(),
        config_len: config.len(),
        api,
        ctx: ptr::from_ref(&ctx).cast_mut().cast(),
    };
    // SAFETY: `instance` came from init; `request` is valid for the call.
    let rc = unsafe { descriptor().handle.unwrap()(instance, &request) };
    ctx.ended.set(true);
    let exchange = std::mem::take(&mut *ctx.exchange.borrow_mut());
    (rc, exchange, ctx)
}

fn handle(instance: *mut c_void, path: &str) -> (i32, Exchange) {
    let (rc, exchange, _) = handle_with(instance, path, Exchange::default());
    (rc, exchange)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------- tests

#[test]
fn exported_symbols_and_descriptor() {
    // SAFETY: export_app! defines it as an immutable u32.
    assert_eq!(unsafe { rustgi_abi_version }, abi::ABI_VERSION);
    let app = descriptor();
    assert_eq!(app.struct_size as usize, size_of::<RustgiApp>());
    assert_eq!(app.abi_version, abi::ABI_VERSION);
    // SAFETY: the name is a static C string.
    assert_eq!(unsafe { CStr::from_ptr(app.name) }, c"app-sdk");
    assert!(app.init.is_some() && app.handle.is_some() && app.shutdown.is_some());
}

#[test]
fn a_request_round_trip() {
    let instance = new_instance();
    let (rc, ex) = handle(instance, "/hello");
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.starts.len(), 1);
    let (status, headers) = &ex.starts[0];
    assert_eq!(*status, 200);
    assert_eq!(
        header(headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(ex.events, ["w:Hi POST /app/hello?q=1 bar Some(\"yes\")"]);
    shutdown(instance);
}

#[test]
fn init_logs_with_its_ctx_and_shutdown_runs() {
    let before = SHUTDOWNS.load(Ordering::SeqCst);
    let (rc, instance, _, ex) = init_with(&[("greeting", "Yo")], 64, |_| {});
    assert_eq!(rc, abi::OK);
    assert!(
        ex.logs
            .iter()
            .any(|(l, m)| *l == abi::LOG_INFO && m.contains("init with")),
        "{:?}",
        ex.logs
    );
    shutdown(instance);
    assert!(SHUTDOWNS.load(Ordering::SeqCst) > before);
}

#[test]
fn the_request_body_streams_from_the_host() {
    let instance = new_instance();
    let ex = Exchange {
        body: b"0123456789".to_vec(),
        ..Exchange::default()
    };
    let (rc, ex, _) = handle_with(instance, "/echo", ex);
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.events, ["w:0123456789"]);

    let ex = Exchange {
        body: b"0123456789A".to_vec(),
        ..Exchange::default()
    };
    let (_, ex, _) = handle_with(instance, "/echo", ex);
    assert_eq!(ex.starts[0].0, 400);

    let ex = Exchange {
        body: b"x".to_vec(),
        read_error: true,
        ..Exchange::default()
    };
    let (_, ex, _) = handle_with(instance, "/echo", ex);
    assert_eq!(ex.starts[0].0, 400);
    assert!(
        ex.events[0].contains("could not be read"),
        "{:?}",
        ex.events
    );
    shutdown(instance);
}

#[test]
fn a_body_kept_after_the_request_never_reaches_the_host() {
    let instance = new_instance();
    let ex = Exchange {
        body: b"abc".to_vec(),
        ..Exchange::default()
    };
    let (rc, _, ctx) = handle_with(instance, "/stash", ex);
    assert_eq!(rc, abi::OK);
    let mut body = STASH.with(|s| s.borrow_mut().take()).unwrap();
    let err = body.read(&mut [0; 8]).unwrap_err();
    assert!(err.to_string().contains("request is over"), "{err}");
    assert_eq!(ctx.exchange.borrow().calls_after_end, 0);
    shutdown(instance);
}

#[test]
fn a_panicking_handler_gets_a_500_and_a_log_line() {
    let instance = new_instance();
    let (rc, ex) = handle(instance, "/panic");
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.starts.len(), 1);
    let (status, headers) = &ex.starts[0];
    assert_eq!(*status, 500);
    assert_eq!(
        header(headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(ex.events, ["w:Internal Server Error"]);
    let (level, msg) = &ex.logs[0];
    assert_eq!(*level, abi::LOG_ERR);
    assert!(msg.contains("handler blew up"), "{msg}");
    assert!(msg.contains("tests/glue.rs:"), "no location in {msg}");
    shutdown(instance);
}

#[test]
fn streams_write_and_flush_in_order() {
    let instance = new_instance();
    let (rc, ex) = handle(instance, "/stream");
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.starts[0].0, 200);
    assert_eq!(ex.events, ["w:a", "flush", "w:bc"]);
    shutdown(instance);
}

#[test]
fn a_file_goes_to_the_hosts_send_file_or_streams_from_an_older_host() {
    let instance = new_instance();
    let (rc, ex) = handle(instance, "/file");
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.starts[0].0, 200);
    assert_eq!(ex.events, ["file:0:10:0123456789"]);
    // A 1.0 host has no send_file: the file is read and written.
    let (rc, ex, _ctx) = handle_on(&API_1_0, instance, "/file", Exchange::default());
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.events.concat(), "w:0123456789");
    shutdown(instance);
}

#[test]
fn failing_streams() {
    let instance = new_instance();

    // Nothing written yet: the status and headers are replaced by a 500.
    let (rc, ex) = handle(instance, "/stream-panic-early");
    assert_eq!(rc, abi::OK);
    let statuses: Vec<u16> = ex.starts.iter().map(|s| s.0).collect();
    assert_eq!(statuses, [201, 500]);
    assert_eq!(ex.events, ["w:Internal Server Error"]);
    assert!(ex.logs[0].1.contains("early"), "{:?}", ex.logs);

    let (rc, ex) = handle(instance, "/stream-error");
    assert_eq!(rc, abi::OK);
    assert_eq!(ex.starts.last().unwrap().0, 500);
    assert!(ex.logs[0].1.contains("no data"), "{:?}", ex.logs);

    // Bytes already sent: the response can only be cut short.
    let (rc, ex) = handle(instance, "/stream-panic-late");
    assert_eq!(rc, abi::ERROR);
    assert_eq!(ex.starts.len(), 1);
    assert_eq!(ex.events, ["w:x"]);
    assert!(ex.logs[0].1.contains("late"), "{:?}", ex.logs);

    // The client went away.
    let ex = Exchange {
        fail_writes: true,
        ..Exchange::default()
    };
    let (rc, ex, _) = handle_with(instance, "/stream-gone", ex);
    assert_eq!(rc, abi::ERROR);
    assert_eq!(ex.events, ["w:x"]);
    assert!(
        ex.logs.iter().all(|(l, _)| *l == abi::LOG_DEBUG),
        "{:?}",
        ex.logs
    );
    shutdown(instance);
}

#[test]
fn raw_headers_reach_the_host_and_a_refusal_fails_the_request() {
    let instance = new_instance();
    let (rc, ex) = handle(instance, "/raw");
    assert_eq!(rc, abi::ERROR);
    assert!(ex.starts.is_empty());
    assert!(ex.events.is_empty());
    shutdown(instance);
}

#[test]
fn logging_goes_to_the_request_or_to_no_ctx() {
    let instance = new_instance();
    let (rc, ex) = handle(instance, "/log");
    assert_eq!(rc, abi::OK);
    assert!(
        ex.logs
            .iter()
            .any(|(l, m)| *l == abi::LOG_WARNING && m.ends_with(": careful")),
        "{:?}",
        ex.logs
    );
    let global = NULL_CTX_LOGS.lock().unwrap();
    assert!(
        global
            .iter()
            .any(|(l, m)| *l == abi::LOG_ERR && m.ends_with(": from a thread")),
        "{global:?}"
    );
    drop(global);
    shutdown(instance);
}

#[test]
fn init_failures_fill_the_error_buffer() {
    let (rc, instance, msg, _) = init_with(&[("fail", "no database")], 64, |_| {});
    assert_eq!(rc, abi::ERROR);
    assert!(instance.is_null());
    assert_eq!(msg, "no database");

    // Truncated to error_cap - 1 bytes, on a character boundary.
    let (rc, _, msg, _) = init_with(&[("fail", "ab\u{e9}cd")], 4, |_| {});
    assert_eq!(rc, abi::ERROR);
    assert_eq!(msg, "ab");
    let (rc, _, msg, _) = init_with(&[("fail", "abcdef")], 4, |_| {});
    assert_eq!(rc, abi::ERROR);
    assert_eq!(msg, "abc");
    let (rc, _, _, _) = init_with(&[("fail", "abcdef")], 0, |_| {});
    assert_eq!(rc, abi::ERROR);

    let (rc, _, msg, _) = init_with(&[("panic", "")], 256, |_| {});
    assert_eq!(rc, abi::ERROR);
    assert!(msg.starts_with("init panicked: init blew up"), "{msg}");
}

#[test]
fn hosts_of_another_version_are_refused() {
    let (rc, instance, msg, _) = init_with(&[], 64, |init| init.abi_version = 2);
    assert_eq!(rc, abi::ERROR);
    assert!(instance.is_null());
    // The layout of another version is unknown: not even the error buffer
    // is touched.
    assert_eq!(msg, "<no NUL>");

    let (rc, _, _, _) = init_with(&[], 64, |init| init.struct_size = 8);
    assert_eq!(rc, abi::ERROR);

    static OLD_API: RustgiHostApi = RustgiHostApi {
        struct_size: 8,
        ..API
    };
    let (rc, _, msg, _) = init_with(&[], 256, |init| init.api = &OLD_API);
    assert_eq!(rc, abi::ERROR);
    assert!(msg.contains("rustgi_host_api"), "{msg}");
}
