//! Unit tests of the router: routes of every kind, parameters, methods,
//! mount points, hooks, error and status handlers, panics, debug mode.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};

use super::*;
use crate::extract::Path;
use crate::router::Controller;
use crate::{AnyError, Environ, RequestBody};

/// A request for `method` on `path` (PATH_INFO), mounted at `/app`.
fn request(method: &str, path: &str) -> Request {
    request_with(method, path, &[])
}

fn request_with(method: &str, path: &str, extra: &[(&str, &str)]) -> Request {
    let mut env = Environ::from_iter([
        ("REQUEST_METHOD", method),
        ("SCRIPT_NAME", "/app"),
        ("PATH_INFO", path),
    ]);
    for (n, v) in extra {
        env.push(*n, *v);
    }
    Request::new(env, Config::new(), RequestBody::empty())
}

/// Status and body of a response.
fn send<S: Send + Sync + 'static>(router: &Router<S>, method: &str, path: &str) -> (u16, String) {
    text(router.handle(request(method, path)))
}

fn text(res: Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body = res.into_body().into_vec().unwrap();
    (status, String::from_utf8(body).unwrap())
}

fn echo_params(req: Request) -> String {
    let params: Vec<String> = req
        .path_params()
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    format!(
        "{} {}",
        req.matched_route().unwrap_or("-"),
        params.join(",")
    )
}

#[test]
fn static_routes_and_404() {
    let router = Router::new()
        .get("/", || "root")
        .get("/about", || "about")
        .get("/a/b/c", || "deep");
    assert_eq!(send(&router, "GET", "/"), (200, "root".into()));
    // An empty PATH_INFO (the mount point itself) is `/`.
    assert_eq!(send(&router, "GET", ""), (200, "root".into()));
    assert_eq!(send(&router, "GET", "/about"), (200, "about".into()));
    assert_eq!(send(&router, "GET", "/a/b/c"), (200, "deep".into()));
    let (status, page) = send(&router, "GET", "/about/");
    assert_eq!(status, 404);
    assert!(page.contains("404 Not Found"), "{page}");
    assert_eq!(send(&router, "GET", "/nope").0, 404);
}

#[test]
fn every_parameter_type() {
    let router = Router::new()
        .get("/int/<v:int>", echo_params)
        .get("/float/<v:float>", echo_params)
        .get("/word/<v:word>", echo_params)
        .get("/hex/<v:hex>", echo_params)
        .get("/uuid/<v:uuid>", echo_params)
        .get("/re/<v:re:[a-z]{3}>", echo_params)
        .get("/any/<v>", echo_params);
    let ok = |path: &str, value: &str| {
        let (status, body) = send(&router, "GET", path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.ends_with(&format!(" v={value}")), "{path}: {body}");
    };
    ok("/int/42", "42");
    ok("/int/-42", "-42");
    ok("/float/2.50", "2.5");
    ok("/float/3", "3");
    ok("/word/h\u{e9}llo_1", "h\u{e9}llo_1");
    ok("/hex/00fF", "00fF");
    ok(
        "/uuid/123e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-426614174000",
    );
    ok(
        "/uuid/123E4567-E89B-12D3-A456-426614174000",
        "123e4567-e89b-12d3-a456-426614174000",
    );
    ok(
        "/uuid/123e4567-E89B-12d3-A456-426614174000",
        "123e4567-e89b-12d3-a456-426614174000",
    );
    ok("/re/abc", "abc");
    ok("/any/x.y-z", "x.y-z");
    for bad in [
        "/int/4x",
        "/int/1.0",
        "/float/1.",
        "/word/a-b",
        "/hex/xyz",
        "/uuid/123e4567-e89b-12d3-a456",
        "/uuid/g23e4567-e89b-12d3-a456-426614174000",
        "/re/abcd",
        "/re/ABC",
        "/any/a/b",
        "/any/",
    ] {
        assert_eq!(send(&router, "GET", bad).0, 404, "{bad}");
    }
    let (_, body) = send(&router, "GET", "/int/7");
    assert_eq!(body, "/int/<v:int> v=7");
}

#[test]
fn typed_access_from_handlers() {
    fn sum(req: Request) -> Result<String, HttpError> {
        let a: i64 = req.param("a")?;
        let b: f64 = req.param("b")?;
        Ok(format!("{}", a as f64 + b))
    }
    fn tuple(Path((id, what)): Path<(i64, String)>) -> String {
        format!("Hello World, id = {id} what = \"{what}\"")
    }
    fn small(Path(n): Path<u8>) -> String {
        n.to_string()
    }
    let router = Router::new()
        .get("/sum/<a:int>/<b:float>", sum)
        .get("/with/params/<id:int>/<what>", tuple)
        .get("/small/<n:int>", small);
    assert_eq!(send(&router, "GET", "/sum/1/0.5"), (200, "1.5".into()));
    assert_eq!(
        send(&router, "GET", "/with/params/42/machWas"),
        (200, "Hello World, id = 42 what = \"machWas\"".into())
    );
    assert_eq!(send(&router, "GET", "/with/params/forty/machWas").0, 404);
    assert_eq!(send(&router, "GET", "/small/255"), (200, "255".into()));
    // An int the route takes but the handler's type does not: 404.
    assert_eq!(send(&router, "GET", "/small/256").0, 404);
}

#[test]
fn custom_filters() {
    let router = Router::new()
        .filter("email", r"[^@/]+@[^@/]+\.[a-z]+", |s| {
            Some(s.to_lowercase())
        })
        .filter("even", "[0-9]+", |s| {
            s.parse::<u64>()
                .ok()
                .filter(|n| n % 2 == 0)
                .map(|n| n.to_string())
        })
        .get("/mail/<to:email>", echo_params)
        .get("/even/<n:even>", echo_params)
        .get("/even/<n>", || "odd or not a number");
    assert_eq!(
        send(&router, "GET", "/mail/Ann@Example.org").1,
        "/mail/<to:email> to=ann@example.org"
    );
    assert_eq!(send(&router, "GET", "/mail/nobody").0, 404);
    assert_eq!(send(&router, "GET", "/even/4").1, "/even/<n:even> n=4");
    // The converter refused 3: the next route gets it.
    assert_eq!(send(&router, "GET", "/even/3").1, "odd or not a number");
}

#[test]
#[should_panic(expected = "unknown filter \"email\"")]
fn filters_must_come_first() {
    let _ = Router::new().get("/<e:email>", || "x");
}

#[test]
#[should_panic(expected = "does not start with `/`")]
fn invalid_patterns_panic() {
    let _ = Router::new().get("x", || "x");
}

#[test]
#[should_panic(expected = "invalid regex route")]
fn invalid_regex_routes_panic() {
    let _ = Router::new().regex_route("(", MethodSet::GET, || "x");
}

#[test]
#[should_panic(expected = "has no method")]
fn routes_need_a_method() {
    let _ = Router::new().route("/", MethodSet::EMPTY, || "x");
}

#[test]
fn regex_routes() {
    let router = Router::new()
        .regex_route(r"/u/(?P<user>\w+)/(\d+)", MethodSet::GET, echo_params)
        .regex_route(
            r"/files/(?P<path>.+)\.txt",
            MethodSet::GET | MethodSet::PUT,
            |Path(p): Path<String>| p,
        );
    assert_eq!(
        send(&router, "GET", "/u/ann/12").1,
        r"/u/(?P<user>\w+)/(\d+) user=ann,2=12"
    );
    assert_eq!(send(&router, "GET", "/u/ann/x").0, 404);
    assert_eq!(send(&router, "GET", "/files/a/b.txt"), (200, "a/b".into()));
    let res = router.handle(request("DELETE", "/files/a.txt"));
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()[ALLOW], "GET, HEAD, PUT, OPTIONS");
    let res = router.handle(request("POST", "/u/ann/1"));
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()[ALLOW], "GET, HEAD, OPTIONS");
}

#[test]
fn method_sets_405_and_options() {
    let router = Router::new()
        .route("/items", MethodSet::GET | MethodSet::POST, |m: Method| {
            format!("items {m}")
        })
        .delete("/items", || "deleted all")
        .put("/items/<id:int>", || "put")
        .patch("/items/<id:int>", || "patched")
        .route("/dav", Method::from_bytes(b"PROPFIND").unwrap(), || "props");
    assert_eq!(send(&router, "POST", "/items"), (200, "items POST".into()));
    assert_eq!(
        send(&router, "DELETE", "/items"),
        (200, "deleted all".into())
    );
    assert_eq!(send(&router, "PROPFIND", "/dav"), (200, "props".into()));

    for (method, path, allow) in [
        ("PUT", "/items", "GET, HEAD, POST, DELETE, OPTIONS"),
        ("GET", "/items/1", "PUT, OPTIONS, PATCH"),
        ("GET", "/dav", "OPTIONS, PROPFIND"),
    ] {
        let res = router.handle(request(method, path));
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.headers()[ALLOW], allow, "{method} {path}");
        assert_eq!(HttpError::of(&res).unwrap().status(), 405);

        let res = router.handle(request("OPTIONS", path));
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "OPTIONS {path}");
        assert_eq!(res.headers()[ALLOW], allow, "OPTIONS {path}");
    }
    // Only paths some route takes are answered.
    assert_eq!(send(&router, "OPTIONS", "/nothing").0, 404);
    // A route may answer OPTIONS itself.
    let router = Router::new()
        .get("/x", || "x")
        .route("/x", MethodSet::OPTIONS, || "my options");
    assert_eq!(send(&router, "OPTIONS", "/x"), (200, "my options".into()));
}

#[test]
fn head_is_served_by_get_routes() {
    let router = Router::new()
        .get("/page", |m: Method| format!("page for {m}"))
        .get("/both", || "get")
        .route("/both", MethodSet::HEAD, || {
            (
                StatusCode::OK,
                [("x-head", "1")].into_iter().collect::<Headers>(),
                "",
            )
        })
        .post("/post-only", || "posted");
    assert_eq!(
        send(&router, "HEAD", "/page"),
        (200, "page for HEAD".into())
    );
    let res = router.handle(request("HEAD", "/both"));
    assert_eq!(res.headers()["x-head"], "1");
    let res = router.handle(request("HEAD", "/post-only"));
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()[ALLOW], "POST, OPTIONS");
}

/// A header map from pairs, for tests.
struct Headers(http::HeaderMap);

impl FromIterator<(&'static str, &'static str)> for Headers {
    fn from_iter<I: IntoIterator<Item = (&'static str, &'static str)>>(iter: I) -> Headers {
        let mut map = http::HeaderMap::new();
        for (n, v) in iter {
            map.insert(n, HeaderValue::from_static(v));
        }
        Headers(map)
    }
}

impl IntoResponse for (StatusCode, Headers, &'static str) {
    fn into_response(self) -> Response {
        (self.0, self.1.0, self.2).into_response()
    }
}

#[test]
fn default_handler() {
    let router = Router::new()
        .get("/known", || "known")
        .default_handler(|req: Request| {
            format!("default for {} {}", req.method(), req.path_info())
        });
    assert_eq!(send(&router, "GET", "/known"), (200, "known".into()));
    assert_eq!(
        send(&router, "POST", "/x/y"),
        (200, "default for POST /x/y".into())
    );
    // A known path with another method is still a 405.
    assert_eq!(send(&router, "POST", "/known").0, 405);
}

#[test]
fn routes_are_relative_to_the_mount_point() {
    let router = Router::new().get("/items/<id:int>", |req: Request| {
        format!("{} + {}", req.script_name(), req.path_info())
    });
    // The same router mounted at /app and at /: only PATH_INFO matters.
    assert_eq!(
        send(&router, "GET", "/items/1"),
        (200, "/app + /items/1".into())
    );
    let env = Environ::from_iter([
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", "/items/1"),
        ("REQUEST_URI", "/items/1"),
    ]);
    let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    assert_eq!(text(res), (200, " + /items/1".into()));
    // The full URI path does not match on its own.
    assert_eq!(send(&router, "GET", "/app/items/1").0, 404);
}

#[test]
fn state_and_controllers() {
    struct Counter {
        hits: AtomicUsize,
        name: String,
    }
    impl Counter {
        fn hit(&self) -> String {
            let n = self.hits.fetch_add(1, Ordering::Relaxed) + 1;
            format!("{} {n}", self.name)
        }
        fn show(&self, Path(id): Path<u32>, req: Request) -> String {
            format!("{} {id} {}", self.name, req.method())
        }
    }
    impl Controller for Counter {
        fn routes(router: Router<Self>) -> Router<Self> {
            router
                .get("/hit", Self::hit)
                .get("/show/<id:even>", Self::show)
                .on_status(
                    StatusCode::NOT_FOUND,
                    |_: &RequestHead, _: &HttpError| "controller 404",
                )
        }
    }
    let router = Router::with_state(String::from("app state"))
        .filter("even", "[0-9]*[02468]", |s| Some(s.to_owned()))
        .get("/state", |s: &String| s.clone())
        .controller(Counter {
            hits: AtomicUsize::new(0),
            name: "ctrl".into(),
        });
    assert_eq!(send(&router, "GET", "/state"), (200, "app state".into()));
    assert_eq!(send(&router, "GET", "/hit"), (200, "ctrl 1".into()));
    assert_eq!(send(&router, "GET", "/hit"), (200, "ctrl 2".into()));
    assert_eq!(send(&router, "GET", "/show/4"), (200, "ctrl 4 GET".into()));
    // The controller's status handler applies to the whole app.
    assert_eq!(
        send(&router, "GET", "/show/3"),
        (404, "controller 404".into())
    );
}

#[test]
fn merge_keeps_both_routers() {
    let api = Router::with_state(7u32)
        .get("/api/n", |n: &u32| n.to_string())
        .default_handler(|| "api default")
        .before(|req: &mut Request| {
            (req.path_info() == "/blocked").then(|| HttpError::forbidden().into_response())
        });
    let router = Router::new().get("/", || "home").merge(api);
    assert_eq!(send(&router, "GET", "/api/n"), (200, "7".into()));
    assert_eq!(send(&router, "GET", "/"), (200, "home".into()));
    assert_eq!(send(&router, "GET", "/other"), (200, "api default".into()));
    assert_eq!(send(&router, "GET", "/blocked").0, 403);
    assert!(format!("{router:?}").contains("GET /api/n"));
}

#[test]
fn before_hooks_may_answer_early_and_change_the_request() {
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let router = Router::new()
        .get("/items/<id:int>", |req: Request| {
            format!("{:?}", req.extensions().get::<&'static str>())
        })
        .before(move |req: &mut Request| {
            seen.fetch_add(1, Ordering::Relaxed);
            // The route is already resolved.
            if req.matched_route() == Some("/items/<id:int>")
                && req.param::<i64>("id").ok() == Some(0)
            {
                return Some((StatusCode::IM_A_TEAPOT, "zero").into_response());
            }
            req.extensions_mut().insert("from the hook");
            None
        })
        .before(|_req: &mut Request| None);
    assert_eq!(
        send(&router, "GET", "/items/1"),
        (200, "Some(\"from the hook\")".into())
    );
    assert_eq!(send(&router, "GET", "/items/0"), (418, "zero".into()));
    // Before hooks run for 404s too.
    assert_eq!(send(&router, "GET", "/nope").0, 404);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[test]
fn after_hooks_see_every_response() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let router = Router::new()
        .get("/ok", || "ok")
        .get("/err", || Err::<&str, _>(HttpError::bad_request("no")))
        .get("/panic", || -> &'static str { panic!("boom") })
        .before(|req: &mut Request| (req.path_info() == "/early").then(|| "early".into_response()))
        .after(move |head: &RequestHead, mut res: Response| {
            let error = HttpError::of(&res).map(|e| e.status().as_u16());
            seen.lock().unwrap().push(format!(
                "{} {} {:?}",
                head.path_info(),
                res.status().as_u16(),
                error
            ));
            res.headers_mut()
                .insert("x-after", HeaderValue::from_static("1"));
            res
        })
        .after(|_: &RequestHead, mut res: Response| {
            assert!(res.headers().contains_key("x-after"), "hooks run in order");
            res.headers_mut()
                .insert("x-after-2", HeaderValue::from_static("1"));
            res
        });
    for path in ["/ok", "/err", "/panic", "/early", "/missing"] {
        let res = router.handle(request("GET", path));
        assert_eq!(res.headers()["x-after-2"], "1", "{path}");
    }
    let res = router.handle(request("POST", "/ok"));
    assert_eq!(res.headers()["x-after"], "1");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "/ok 200 None",
            "/err 400 Some(400)",
            "/panic 500 Some(500)",
            "/early 200 None",
            "/missing 404 Some(404)",
            "/ok 405 Some(405)",
        ]
    );
}

#[derive(Debug)]
struct DbError(&'static str);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database: {}", self.0)
    }
}

impl std::error::Error for DbError {}

#[derive(Debug)]
struct Wrapped(DbError);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("while loading")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn error_handlers_by_type() {
    let router = Router::new()
        .get("/db", || -> Result<&'static str, AnyError> {
            Err(DbError("down").into())
        })
        .get("/wrapped", || -> Result<&'static str, AnyError> {
            Err(Wrapped(DbError("gone")).into())
        })
        .get("/http", || -> Result<&'static str, HttpError> {
            Err(HttpError::forbidden().with_source(DbError("denied")))
        })
        .get("/other", || -> Result<&'static str, AnyError> {
            Err(AnyError::msg("other"))
        })
        .get("/teapot", || HttpError::from(StatusCode::IM_A_TEAPOT))
        .on_error(|head: &RequestHead, err: &DbError| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{} failed: {err}", head.path_info()),
            )
        })
        .on_error(|_: &RequestHead, err: &HttpError| {
            if err.status() == StatusCode::IM_A_TEAPOT {
                format!("short and stout ({})", err.status().as_u16())
            } else {
                format!("generic {}", err.status().as_u16())
            }
        });
    assert_eq!(
        send(&router, "GET", "/db"),
        (503, "/db failed: database: down".into())
    );
    // Found along the source chain.
    assert_eq!(
        send(&router, "GET", "/wrapped"),
        (503, "/wrapped failed: database: gone".into())
    );
    assert_eq!(
        send(&router, "GET", "/http"),
        (503, "/http failed: database: denied".into())
    );
    // The HttpError handler takes the rest; a 200 page gets the error's status.
    assert_eq!(send(&router, "GET", "/other"), (500, "generic 500".into()));
    assert_eq!(
        send(&router, "GET", "/teapot"),
        (418, "short and stout (418)".into())
    );
    assert_eq!(
        send(&router, "GET", "/missing"),
        (404, "generic 404".into())
    );
}

#[test]
fn status_handlers() {
    let router = Router::new()
        .get("/forbidden", HttpError::forbidden)
        .get("/own-404", || (StatusCode::NOT_FOUND, "handler's own 404"))
        .get("/panic", || -> &'static str { panic!("secret detail") })
        .get("/only-get", || "x")
        .on_status(
            StatusCode::NOT_FOUND,
            |head: &RequestHead, _: &HttpError| format!("custom 404 for {}", head.path_info()),
        )
        .on_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            |head: &RequestHead, err: &HttpError| {
                format!(
                    "custom 500 (debug {}, detail {})",
                    head.is_debug(),
                    err.detail().is_some()
                )
            },
        )
        .on_status(
            StatusCode::METHOD_NOT_ALLOWED,
            |_: &RequestHead, _: &HttpError| "custom 405",
        )
        .on_status(StatusCode::FORBIDDEN, |_: &RequestHead, _: &HttpError| {
            (
                StatusCode::SEE_OTHER,
                [("location", "/login")].into_iter().collect::<Headers>(),
                "",
            )
        });
    assert_eq!(
        send(&router, "GET", "/nope"),
        (404, "custom 404 for /nope".into())
    );
    assert_eq!(
        send(&router, "GET", "/own-404"),
        (404, "handler's own 404".into())
    );
    assert_eq!(
        send(&router, "GET", "/panic"),
        (500, "custom 500 (debug false, detail true)".into())
    );
    let res = router.handle(request("POST", "/only-get"));
    assert_eq!(res.headers()[ALLOW], "GET, HEAD, OPTIONS");
    assert_eq!(text(res), (405, "custom 405".into()));
    let res = router.handle(request("GET", "/forbidden"));
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
}

#[test]
fn panics_become_500_pages() {
    let router = Router::new().get("/panic", || -> &'static str { panic!("secret detail") });
    let (status, page) = send(&router, "GET", "/panic");
    assert_eq!(status, 500);
    assert!(page.contains("500 Internal Server Error"), "{page}");
    assert!(!page.contains("secret detail"), "{page}");
    assert!(!page.contains("backtrace"), "{page}");

    let router = router.debug(true);
    let res = router.handle(request("GET", "/panic"));
    assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let (status, page) = text(res);
    assert_eq!(status, 500);
    assert!(page.contains("panic: secret detail (at "), "{page}");
    assert!(page.contains("tests.rs"), "{page}");
    assert!(page.contains("backtrace:"), "{page}");

    // Panics in hooks and handlers of errors are caught too.
    let router = Router::new()
        .before(|_: &mut Request| panic!("in a before hook"))
        .get("/", || "x");
    assert_eq!(send(&router, "GET", "/").0, 500);
    let router = Router::new().on_status(
        StatusCode::NOT_FOUND,
        |_: &RequestHead, _: &HttpError| -> &'static str { panic!("in a status handler") },
    );
    assert_eq!(send(&router, "GET", "/").0, 500);
    let router = Router::new()
        .after(|_: &RequestHead, _: Response| -> Response { panic!("in an after hook") });
    assert_eq!(send(&router, "GET", "/").0, 500);
}

#[test]
fn debug_mode_shows_error_sources() {
    let router = Router::new().get("/db", || -> Result<&'static str, AnyError> {
        Err(DbError("down").into())
    });
    let (status, page) = send(&router, "GET", "/db");
    assert_eq!(status, 500);
    assert!(!page.contains("database"), "{page}");
    let router = router.debug(true);
    let (status, page) = send(&router, "GET", "/db");
    assert_eq!(status, 500);
    assert!(
        page.contains("Caused by") && page.contains("database: down"),
        "{page}"
    );
}

#[test]
fn debug_info_page() {
    let config = Config::from_iter([
        ("greeting", "hello"),
        ("secret_key", "s3cr3t"),
        ("db_password", "hunter2"),
        ("api_token", "tok"),
    ]);
    let router = Router::new()
        .filter("email", "[^@/]+@[^@/]+", |s| Some(s.to_owned()))
        .get("/", || "home")
        .route(
            "/items/<id:int>",
            MethodSet::GET | MethodSet::POST,
            echo_params,
        )
        .regex_route("/re/(x+)", MethodSet::PUT, echo_params)
        .default_handler(|| "default")
        .before(|_: &mut Request| None)
        .after(|_: &RequestHead, res: Response| res)
        .on_error(|_: &RequestHead, _: &DbError| "db")
        .on_status(StatusCode::NOT_FOUND, |_: &RequestHead, _: &HttpError| "nf")
        .with_config(config);
    // Off unless debug mode is on: then it is the default handler's.
    assert_eq!(send(&router, "GET", "/debug-info"), (200, "default".into()));

    let router = router.debug(true);
    let req = request_with(
        "GET",
        "/debug-info",
        &[
            ("HTTP_X_CUSTOM", "custom-value"),
            ("HTTP_COOKIE", "sid=abc123"),
            ("SERVER_NAME", "example.org"),
        ],
    );
    let res = router.handle(req);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let (status, page) = text(res);
    assert_eq!(status, 200);
    for expected in [
        "/items/&lt;id:int&gt;",
        "GET, POST",
        "/re/(x+)",
        "regex",
        "default handler",
        "email",
        "uuid",
        "before hook",
        "after hook",
        "error handler",
        "DbError",
        "status handler",
        "404 Not Found",
        "x-custom",
        "custom-value",
        "greeting",
        "hello",
        "secret_key",
        "SERVER_NAME",
        "example.org",
        "echo_params",
        "/app",
    ] {
        assert!(page.contains(expected), "{expected} missing:\n{page}");
    }
    for secret in ["s3cr3t", "hunter2", ">tok<", "abc123"] {
        assert!(!page.contains(secret), "{secret} shown:\n{page}");
    }
    // Only GET and HEAD.
    assert_eq!(
        send(&router, "POST", "/debug-info"),
        (200, "default".into())
    );
    // Before hooks may guard it.
    let router = router.before(|req: &mut Request| {
        (req.environ().get("REMOTE_ADDR") != Some("127.0.0.1"))
            .then(|| HttpError::forbidden().into_response())
    });
    assert_eq!(send(&router, "GET", "/debug-info").0, 403);
    let local = request_with("GET", "/debug-info", &[("REMOTE_ADDR", "127.0.0.1")]);
    assert_eq!(router.handle(local).status(), 200);
}

#[test]
fn debug_follows_the_configuration() {
    let router = Router::new().with_config(Config::from_iter([("debug", "On")]));
    assert!(router.is_debug());
    assert!(!router.debug(false).is_debug());
    assert!(!Router::new().is_debug());
    assert!(Router::new().config().is_empty());
}

#[test]
fn error_headers_survive_custom_pages() {
    let router = Router::new()
        .get("/x", || "x")
        .on_error(|_: &RequestHead, _: &HttpError| (StatusCode::METHOD_NOT_ALLOWED, "nope"));
    let res = router.handle(request("DELETE", "/x"));
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()[ALLOW], "GET, HEAD, OPTIONS");
}

#[test]
fn routers_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Router>();
    check::<Router<String>>();
}

#[test]
fn status_pages_keep_repeated_headers() {
    use http::header::WWW_AUTHENTICATE;
    let router = Router::new()
        .get("/private", || -> Result<&'static str, AnyError> {
            Err(HttpError::from(StatusCode::UNAUTHORIZED)
                .add_header(WWW_AUTHENTICATE, "Digest a")
                .add_header(WWW_AUTHENTICATE, "Digest b")
                .into())
        })
        .get("/form", || -> Result<&'static str, AnyError> {
            Err(crate::extract::FormError::Malformed("no boundary".into()).into())
        })
        .on_status(
            StatusCode::UNAUTHORIZED,
            |_: &RequestHead, _: &HttpError| "log in first",
        );
    let res = router.handle(request("GET", "/private"));
    let challenges: Vec<_> = res.headers().get_all(WWW_AUTHENTICATE).iter().collect();
    assert_eq!(challenges, ["Digest a", "Digest b"]);
    assert_eq!(text(res), (401, "log in first".to_owned()));
    // An SDK error through AnyError answers with its own status, and the
    // debug page keeps it.
    assert_eq!(send(&router, "GET", "/form").0, 400);
    let (status, page) = send(&router.debug(true), "GET", "/form");
    assert_eq!(status, 400);
    assert!(page.contains("no boundary"), "{page}");
}
