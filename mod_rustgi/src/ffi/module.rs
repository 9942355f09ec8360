//! The module record Apache loads (`LoadModule rustgi_module ...`) and the
//! creation and merging of its per-server and per-directory configuration.

use std::ffi::{c_char, c_int, c_ulong, c_void};
use std::ptr;

use apache_sys as sys;

use super::app::AppSlot;
use super::{directives, guard, hooks, pool_box};
use crate::config::{DirConfig, ServerConfig};

pub type ServerConf = ServerConfig<AppSlot>;

/// The record `LoadModule rustgi_module` looks up. Apache writes into it
/// (module_index, next, dynamic_load_handle), so it must be a mutable static.
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static mut rustgi_module: sys::module = sys::module {
    version: sys::MODULE_MAGIC_NUMBER_MAJOR as c_int,
    minor_version: sys::MODULE_MAGIC_NUMBER_MINOR as c_int,
    module_index: -1,
    name: c"mod_rustgi.c".as_ptr(),
    dynamic_load_handle: ptr::null_mut(),
    next: ptr::null_mut(),
    magic: sys::MODULE_MAGIC_COOKIE as c_ulong,
    rewrite_args: None,
    create_dir_config: Some(create_dir_config),
    merge_dir_config: Some(merge_dir_config),
    create_server_config: Some(create_server_config),
    merge_server_config: Some(merge_server_config),
    cmds: directives::COMMANDS.as_ptr(),
    register_hooks: Some(hooks::register),
    // Every virtual host gets a configuration of its own, merged from the
    // main server's, even without a Rustgi* directive: its own app instances,
    // and no group seen twice.
    flags: sys::AP_MODULE_FLAG_ALWAYS_MERGE as c_int,
};

/// The index Apache gave this module, for config vectors and log tags.
pub(crate) fn module_index() -> c_int {
    // SAFETY: Apache writes module_index once while loading the module, before
    // any hook or log call; reading a c_int through a raw pointer makes no
    // reference to the mutable static.
    unsafe { rustgi_module.module_index }
}

/// This module's entry in a config vector.
///
/// # Safety
/// `vector` is a live per-server or per-directory config vector.
unsafe fn module_config(vector: *const sys::ap_conf_vector_t) -> *mut c_void {
    // SAFETY: the vector is live (caller); the record is this module's.
    unsafe { sys::rustgi_shim_get_module_config(vector, &raw const rustgi_module) }
}

/// The configuration of server (virtual host) `s`.
///
/// # Safety
/// `s` is a live server_rec whose config was created by this module; the
/// result must not outlive the configuration pool.
pub(super) unsafe fn server_conf<'a>(s: *const sys::server_rec) -> &'a ServerConf {
    // SAFETY: create/merge_server_config stored a ServerConf box here, owned by
    // the config pool, which outlives every request and hook call.
    unsafe { &*module_config((*s).module_config).cast::<ServerConf>() }
}

/// The configuration of server `s`, to change while Apache reads the
/// configuration.
///
/// # Safety
/// As for [`server_conf`], and only from a directive handler: Apache reads
/// the configuration on one thread, before it serves any request.
pub(super) unsafe fn server_conf_mut<'a>(s: *const sys::server_rec) -> &'a mut ServerConf {
    // SAFETY: see server_conf; no other reference exists during configuration.
    unsafe { &mut *module_config((*s).module_config).cast::<ServerConf>() }
}

/// The configuration of a per-directory vector (a request's, or a server's
/// lookup_defaults).
///
/// # Safety
/// As for [`server_conf`], with a vector this module's create/merge filled.
pub(super) unsafe fn dir_conf<'a>(vector: *const sys::ap_conf_vector_t) -> &'a DirConfig {
    // SAFETY: create/merge_dir_config stored a DirConfig box here, owned by a
    // pool (config or request) that outlives the caller's use.
    unsafe { &*module_config(vector).cast::<DirConfig>() }
}

unsafe extern "C" fn create_dir_config(
    pool: *mut sys::apr_pool_t,
    _dir: *mut c_char,
) -> *mut c_void {
    guard("create_dir_config", ptr::null_mut(), || {
        // SAFETY: Apache passes a live pool that owns the config.
        unsafe { pool_box(pool, DirConfig::default()) }.cast()
    })
}

unsafe extern "C" fn merge_dir_config(
    pool: *mut sys::apr_pool_t,
    base: *mut c_void,
    add: *mut c_void,
) -> *mut c_void {
    guard("merge_dir_config", ptr::null_mut(), || {
        // SAFETY: base and add are DirConfig boxes this module created, alive
        // for at least as long as the pool of the merged result.
        let merged = unsafe { DirConfig::merge(&*base.cast(), &*add.cast()) };
        // SAFETY: Apache passes a live pool.
        unsafe { pool_box(pool, merged) }.cast()
    })
}

unsafe extern "C" fn create_server_config(
    pool: *mut sys::apr_pool_t,
    _s: *mut sys::server_rec,
) -> *mut c_void {
    guard("create_server_config", ptr::null_mut(), || {
        // SAFETY: Apache passes a live pool that owns the config.
        unsafe { pool_box(pool, ServerConf::default()) }.cast()
    })
}

unsafe extern "C" fn merge_server_config(
    pool: *mut sys::apr_pool_t,
    base: *mut c_void,
    add: *mut c_void,
) -> *mut c_void {
    guard("merge_server_config", ptr::null_mut(), || {
        // SAFETY: base and add are ServerConf boxes this module created in
        // the same configuration pool.
        let merged = unsafe { ServerConf::merge(&*base.cast(), &*add.cast(), AppSlot::default) };
        // SAFETY: Apache passes a live pool.
        unsafe { pool_box(pool, merged) }.cast()
    })
}
