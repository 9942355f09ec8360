//! Apache's hooks, registered here: mapping URLs to apps (translate_name)
//! and serving them (handler), whose work is [`handler`](super::handler)'s,
//! checking the configuration and starting the daemons (check_config,
//! post_config), and stopping the apps with the child (child_init's
//! cleanup).

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use apache_sys as sys;

use super::apache::{Pool, Request, Server};
use super::daemon::supervisor;
use super::handler;
use super::health;
use super::module::server_conf;
use super::{guard, log};

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

unsafe extern "C" fn translate_name(r: *mut sys::request_rec) -> c_int {
    guard("translate_name", sys::DECLINED, || {
        // SAFETY: Apache passes a live request, handled by this thread
        // during the hook.
        handler::map_to_app(unsafe { Request::from_raw(r) })
    })
}

unsafe extern "C" fn handler(r: *mut sys::request_rec) -> c_int {
    guard(
        "the handler",
        sys::HTTP_INTERNAL_SERVER_ERROR as c_int,
        // SAFETY: as above.
        || handler::handle(unsafe { Request::from_raw(r) }),
    )
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
            // SAFETY: Apache passes its live configuration pool and main
            // server.
            let (pool, server) = unsafe { (Pool::from_raw(pconf), Server::from_raw(s)) };
            health::configure(pool, server);
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
