//! Apache's hooks: mapping URLs to apps (translate_name), serving them
//! (handler), and stopping them with the child (child_init's cleanup).

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use apache_sys as sys;
use rustgi_host::exchange::callbacks;

use rustgi_host::pairs::Pairs;

use super::app::{AppSlot, config_pairs};
use super::daemon::client::{self, Outgoing};
use super::daemon::supervisor;
use super::health;
use super::module::{dir_conf, rustgi_module, server_conf};
use super::python;
use super::request::{self, ApacheResponse, HostCtx};
use super::{c_bytes, guard, log, pool_str, table_entries};
use crate::config::{ProcessGroup, ScriptAlias};
use crate::environ::{self, RequestFacts};
use crate::wsgi_script::PythonPlace;

/// The handler name the URLs of RustgiScriptAlias are given.
const HANDLER: &std::ffi::CStr = c"rustgi-script";

/// Hook ordering lists must be NULL-terminated arrays of module names.
#[repr(transparent)]
struct ModuleList([*const c_char; 2]);
// SAFETY: immutable pointers to string literals.
unsafe impl Sync for ModuleList {}

/// mod_alias decides first, as it does for WSGIScriptAlias: an `Alias` for
/// static files inside an app's URL space wins over the app.
static AFTER_MOD_ALIAS: ModuleList = ModuleList([c"mod_alias.c".as_ptr(), ptr::null()]);

pub unsafe extern "C" fn register(_pool: *mut sys::apr_pool_t) {
    guard("register_hooks", (), || {
        // SAFETY: registering hooks with function pointers that live as long
        // as the module, and NULL-terminated ordering lists.
        unsafe {
            sys::ap_hook_translate_name(
                Some(translate_name),
                AFTER_MOD_ALIAS.0.as_ptr(),
                ptr::null(),
                sys::APR_HOOK_MIDDLE as c_int,
            );
            sys::ap_hook_handler(
                Some(handler),
                ptr::null(),
                ptr::null(),
                sys::APR_HOOK_MIDDLE as c_int,
            );
            sys::ap_hook_check_config(
                Some(check_config),
                ptr::null(),
                ptr::null(),
                sys::APR_HOOK_MIDDLE as c_int,
            );
            sys::ap_hook_post_config(
                Some(post_config),
                ptr::null(),
                ptr::null(),
                sys::APR_HOOK_MIDDLE as c_int,
            );
            sys::ap_hook_child_init(
                Some(child_init),
                ptr::null(),
                ptr::null(),
                sys::APR_HOOK_MIDDLE as c_int,
            );
        }
    });
}

/// What translate_name found for a request, kept in its request_config.
/// Plain data in the request pool: it needs no destructor.
#[repr(C)]
struct RequestMatch {
    alias: *const ScriptAlias<AppSlot>,
    prefix_len: usize,
}

unsafe extern "C" fn translate_name(r: *mut sys::request_rec) -> c_int {
    guard("translate_name", sys::DECLINED, || {
        // SAFETY: Apache passes a live request; the config outlives it.
        unsafe { map_to_app(r) }
    })
}

/// Maps a URL under a RustgiScriptAlias onto its app file, the way
/// ScriptAlias does: r->filename is the file plus the rest of the path, so
/// `<Directory>` and `<Files>` sections apply and Apache finds PATH_INFO.
///
/// # Safety
/// `r` is a live request.
unsafe fn map_to_app(r: *mut sys::request_rec) -> c_int {
    // SAFETY: r is live; uri is NUL-terminated or NULL.
    unsafe {
        let uri = c_bytes((*r).uri);
        if uri.first() != Some(&b'/') {
            return sys::DECLINED;
        }
        let conf = server_conf((*r).server);
        let Some((alias, prefix_len)) = conf.find_alias(uri) else {
            return sys::DECLINED;
        };
        let file = alias.spec.file.as_os_str().as_encoded_bytes();
        let filename = [file, &uri[prefix_len..]].concat();
        let pool = (*r).pool;
        (*r).filename = pool_str(pool, &filename).cast_mut();
        (*r).handler = HANDLER.as_ptr();
        // Keeps mod_mime from replacing the handler by file extension.
        sys::apr_table_setn((*r).notes, c"alias-forced-type".as_ptr(), HANDLER.as_ptr());
        let found = sys::apr_palloc(pool, size_of::<RequestMatch>()).cast::<RequestMatch>();
        found.write(RequestMatch { alias, prefix_len });
        sys::rustgi_shim_set_module_config(
            (*r).request_config,
            &raw const rustgi_module,
            found.cast(),
        );
        sys::OK as c_int
    }
}

/// The handler name of the status page.
const STATUS_HANDLER: &std::ffi::CStr = c"rustgi-status";

unsafe extern "C" fn handler(r: *mut sys::request_rec) -> c_int {
    guard(
        "the handler",
        sys::HTTP_INTERNAL_SERVER_ERROR as c_int,
        // SAFETY: Apache passes a live request.
        || unsafe {
            if c_bytes((*r).handler) == STATUS_HANDLER.to_bytes() {
                serve_status(r)
            } else {
                serve(r)
            }
        },
    )
}

/// `SetHandler rustgi-status`: the daemon groups' processes, queues and
/// restarts; HTML, or JSON with `?json`; with `?health`, the health check a
/// load balancer polls (200 or 503, see [`crate::health`]).
///
/// # Safety
/// `r` is a live request handled by this thread.
unsafe fn serve_status(r: *mut sys::request_rec) -> c_int {
    // SAFETY: r is live; strings written to Apache are copied to its pool.
    unsafe {
        if (*r).method_number != sys::M_GET as c_int {
            (*r).allowed = 1 << sys::M_GET;
            return sys::HTTP_METHOD_NOT_ALLOWED as c_int;
        }
        let args = c_bytes((*r).args);
        if args.split(|&b| b == b'&').any(|arg| arg == b"health") {
            return health::serve(r);
        }
        let groups = supervisor::status_views();
        let json = args.split(|&b| b == b'&').any(|arg| arg == b"json");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (body, content_type) = if json {
            (crate::status::to_json(&groups), c"application/json")
        } else {
            let server = String::from_utf8_lossy(c_bytes(sys::ap_get_server_banner()));
            (
                crate::status::to_html(&groups, &server, now),
                c"text/html; charset=utf-8",
            )
        };
        sys::ap_set_content_type(r, content_type.as_ptr());
        sys::apr_table_setn(
            (*r).headers_out,
            c"Cache-Control".as_ptr(),
            c"no-store".as_ptr(),
        );
        if (*r).header_only == 0 {
            sys::ap_rwrite(body.as_ptr().cast(), body.len() as c_int, r);
        }
        sys::OK as c_int
    }
}

/// # Safety
/// `r` is a live request handled by this thread.
unsafe fn serve(r: *mut sys::request_rec) -> c_int {
    // SAFETY: r is live; the match and the alias live in its pool and in the
    // config pool, both longer-lived than this call.
    unsafe {
        if c_bytes((*r).handler) != HANDLER.to_bytes() {
            return sys::DECLINED;
        }
        let found =
            sys::rustgi_shim_get_module_config((*r).request_config, &raw const rustgi_module)
                .cast::<RequestMatch>();
        if found.is_null() {
            log::request(
                r,
                sys::APLOG_ERR as i32,
                0,
                "SetHandler rustgi-script needs a RustgiScriptAlias for the URL",
            );
            return sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
        }
        let alias = &*(*found).alias;
        let dir = dir_conf((*r).per_dir_config);
        let group = alias
            .spec
            .process_group
            .clone()
            .or_else(|| dir.process_group.clone())
            .unwrap_or(ProcessGroup::Embedded);

        let server = (*r).server;
        if group == ProcessGroup::Embedded && server_conf(server).restrict_embedded() {
            log::request(
                r,
                sys::APLOG_ERR as i32,
                0,
                &format!(
                    "RustgiRestrictEmbedded On: the app {} must run in a daemon process group \
                     (RustgiProcessGroup or process-group=)",
                    alias.spec.file.display()
                ),
            );
            return sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
        }

        let uri = c_bytes((*r).uri);
        let (script_name, path_info) = uri.split_at((*found).prefix_len.min(uri.len()));
        let connection = (*r).connection;
        let remote_port = if (*r).useragent_addr.is_null() {
            (*(*connection).client_addr).port
        } else {
            (*(*r).useragent_addr).port
        };
        let scheme = c_bytes(sys::ap_run_http_scheme(r));
        let user = c_bytes((*r).user);
        let auth_type = c_bytes((*r).ap_auth_type);
        let facts = RequestFacts {
            method: c_bytes((*r).method),
            script_name,
            path_info,
            query_string: c_bytes((*r).args),
            request_uri: c_bytes((*r).unparsed_uri),
            protocol: c_bytes((*r).protocol),
            scheme,
            https: scheme == b"https",
            server_name: c_bytes(sys::ap_get_server_name(r)),
            server_port: sys::ap_get_server_port(r),
            server_addr: c_bytes((*connection).local_ip),
            server_software: c_bytes(sys::ap_get_server_banner()),
            document_root: c_bytes(sys::ap_document_root(r)),
            remote_addr: c_bytes((*r).useragent_ip),
            remote_port,
            remote_user: (!user.is_empty()).then_some(user),
            auth_type: (!user.is_empty() && !auth_type.is_empty()).then_some(auth_type),
            script_filename: alias.spec.file.as_os_str().as_encoded_bytes(),
            process_group: group.name().as_bytes(),
            pass_authorization: dir.pass_authorization(),
        };
        let mut environ = take_environ_buffer();
        environ::build_into(
            &mut environ,
            &facts,
            table_entries((*r).headers_in),
            table_entries((*r).subprocess_env),
        );
        let config = config_pairs(&dir.app_config);

        let init_config = &dir_conf((*server).lookup_defaults).app_config;
        let status = match &group {
            ProcessGroup::Embedded => serve_embedded(r, alias, init_config, &environ, &config),
            ProcessGroup::Daemon(name) => {
                let Some(address) = supervisor::address(name) else {
                    log::request(
                        r,
                        sys::APLOG_ERR as i32,
                        0,
                        &format!(
                            "process group '{name}' is not defined (RustgiDaemonProcess {name} ...)"
                        ),
                    );
                    return sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
                };
                let host = c_bytes((*server).server_hostname);
                if let Some(scope) = &address.scope
                    && scope.as_bytes() != host
                {
                    log::request(
                        r,
                        sys::APLOG_ERR as i32,
                        0,
                        &format!(
                            "process group '{name}' belongs to the virtual host {scope} and \
                             cannot serve {}",
                            String::from_utf8_lossy(host)
                        ),
                    );
                    return sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
                }
                let (app_file, init_config) =
                    python::app_for(&alias.spec, init_config, || address.python.clone());
                let init_config = config_pairs(&init_config);
                client::serve(
                    r,
                    &address,
                    Outgoing {
                        app_file,
                        init_config: &init_config,
                        environ: &environ,
                        config: &config,
                    },
                )
            }
        };
        keep_environ_buffer(environ);
        status
    }
}

thread_local! {
    /// The environ buffer of this thread's last request, for its next one:
    /// most requests then build their environ without allocating.
    static ENVIRON_BUFFER: Cell<Option<Pairs>> = const { Cell::new(None) };
}

/// The largest environ buffer kept between requests.
const KEPT_ENVIRON_BYTES: usize = 64 << 10;

fn take_environ_buffer() -> Pairs {
    ENVIRON_BUFFER
        .take()
        .unwrap_or_else(|| Pairs::with_capacity(2048, 48))
}

fn keep_environ_buffer(environ: Pairs) {
    if environ.capacity() <= KEPT_ENVIRON_BYTES {
        ENVIRON_BUFFER.set(Some(environ));
    }
}

/// Runs the request in this process.
///
/// # Safety
/// `r` is the live request of this thread.
unsafe fn serve_embedded(
    r: *mut sys::request_rec,
    alias: &ScriptAlias<AppSlot>,
    init_config: &crate::config::AppConfig,
    environ: &Pairs,
    config: &Pairs,
) -> c_int {
    // SAFETY: r is live (caller).
    let server = unsafe { (*r).server };
    let loaded = match alias.slot.loaded() {
        Some(app) => Ok(app),
        None => {
            // SAFETY: server is the request's live server_rec.
            let conf = unsafe { server_conf(server) };
            let (file, init_config) = python::app_for(&alias.spec, init_config, || {
                PythonPlace::embedded(
                    python::mpm_is_threaded(),
                    conf.python_home.clone(),
                    conf.python_path.clone(),
                )
            });
            alias.slot.get_or_load(file, &init_config, server)
        }
    };
    let app = match loaded {
        Ok(app) => app,
        Err(why) => {
            // SAFETY: r is live.
            unsafe {
                log::request(
                    r,
                    sys::APLOG_ERR as i32,
                    0,
                    &format!(
                        "app {} (RustgiScriptAlias on {}) is unavailable: {why}",
                        alias.spec.file.display(),
                        alias.defined_at
                    ),
                );
            }
            return sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
        }
    };
    let label = format!("app {}", alias.spec.file.display());
    // SAFETY: r is live, and outlives the response (caller).
    let response = unsafe { ApacheResponse::new(r, label) };
    let mut ctx = HostCtx::for_request(server, response);
    let rc = callbacks::call_app(app, environ, config, &ctx);
    match ctx.exchange_mut() {
        Some(response) => request::finish(response, rc),
        None => sys::HTTP_INTERNAL_SERVER_ERROR as c_int,
    }
}

unsafe extern "C" fn check_config(
    _pconf: *mut sys::apr_pool_t,
    _plog: *mut sys::apr_pool_t,
    _ptemp: *mut sys::apr_pool_t,
    s: *mut sys::server_rec,
) -> c_int {
    guard(
        "check_config",
        sys::HTTP_INTERNAL_SERVER_ERROR as c_int,
        || match supervisor::check(s) {
            Ok(()) => sys::OK as c_int,
            Err(e) => {
                log::server(s, (sys::APLOG_EMERG | sys::APLOG_STARTUP) as i32, 0, &e);
                sys::HTTP_INTERNAL_SERVER_ERROR as c_int
            }
        },
    )
}

unsafe extern "C" fn post_config(
    pconf: *mut sys::apr_pool_t,
    _plog: *mut sys::apr_pool_t,
    _ptemp: *mut sys::apr_pool_t,
    s: *mut sys::server_rec,
) -> c_int {
    guard(
        "post_config",
        sys::HTTP_INTERNAL_SERVER_ERROR as c_int,
        || {
            // Apache reads its configuration twice at start-up; the daemons start
            // on the second reading, the one it runs with.
            // SAFETY: ap_state_query has no preconditions.
            let state = unsafe { sys::ap_state_query(sys::AP_SQ_MAIN_STATE as c_int) };
            if state == sys::AP_SQ_MS_CREATE_PRE_CONFIG as c_int {
                return sys::OK as c_int;
            }
            health::configure(pconf, s);
            match supervisor::start(pconf, s) {
                Ok(()) => sys::OK as c_int,
                Err(e) => {
                    log::server(s, sys::APLOG_EMERG as i32, 0, &e);
                    sys::HTTP_INTERNAL_SERVER_ERROR as c_int
                }
            }
        },
    )
}

unsafe extern "C" fn child_init(pchild: *mut sys::apr_pool_t, s: *mut sys::server_rec) {
    guard("child_init", (), || {
        supervisor::forget_in_child();
        // SAFETY: pchild lives as long as the child; its cleanup runs when the
        // child stops, after its request threads ended.
        unsafe {
            sys::apr_pool_cleanup_register(
                pchild,
                s.cast::<c_void>(),
                Some(shutdown_apps),
                Some(sys::apr_pool_cleanup_null),
            );
        }
    });
}

/// Calls shutdown on every app this child loaded.
unsafe extern "C" fn shutdown_apps(data: *mut c_void) -> sys::apr_status_t {
    guard("shutdown", (), || {
        let mut s = data.cast::<sys::server_rec>();
        while !s.is_null() {
            // SAFETY: the server list and its configs live in the config pool,
            // which outlives the child pool.
            unsafe {
                for alias in &server_conf(s).aliases {
                    if let Some(app) = alias.slot.loaded() {
                        app.shutdown();
                    }
                }
                s = (*s).next;
            }
        }
    });
    0
}
