//! What the request hooks do, as safe code over [`apache`](super::apache)'s
//! wrappers: mapping URLs to apps (translate_name) and serving them, the
//! status page and the health check (the handler).

#![deny(unsafe_code)]

use std::cell::Cell;
use std::ffi::{CStr, c_int};

use apache_sys as sys;
use rustgi_contract::pairs::Pairs;
use rustgi_host::exchange::callbacks;

use super::apache::{Mpm, Request};
use super::app::{AppSlot, config_pairs};
use super::daemon::supervisor;
use super::health;
use super::python;
use super::request::{ApacheResponse, HostCtx, Response};
use crate::child_response;
use crate::config::{AppConfig, ProcessGroup, ScriptAlias};
use crate::daemon_client::{self, GroupRoute, Outgoing};
use crate::environ::{self, RequestFacts};
use crate::wsgi_script::PythonPlace;

/// The handler name the URLs of RustgiScriptAlias are given.
const HANDLER: &CStr = c"rustgi-script";

/// The handler name of the status page.
const STATUS_HANDLER: &CStr = c"rustgi-status";

const INTERNAL_SERVER_ERROR: u32 = sys::HTTP_INTERNAL_SERVER_ERROR;

/// Maps a URL under a RustgiScriptAlias onto its app file, the way
/// ScriptAlias does: r->filename is the file plus the rest of the path, so
/// `<Directory>` and `<Files>` sections apply and Apache finds PATH_INFO.
pub fn map_to_app(r: &Request) -> c_int {
    let uri = r.uri();
    if uri.first() != Some(&b'/') {
        return sys::DECLINED;
    }
    let Some((alias, prefix_len)) = r.server().conf().find_alias(uri) else {
        return sys::DECLINED;
    };
    let file = alias.spec.file.as_os_str().as_encoded_bytes();
    r.set_filename(&[file, &uri[prefix_len..]].concat());
    r.set_handler(HANDLER);
    // Keeps mod_mime from replacing the handler by file extension.
    r.notes().set_static(c"alias-forced-type", HANDLER);
    r.set_matched(alias, prefix_len);
    sys::OK as c_int
}

/// The handler: an app's URL, or the status page.
pub fn handle(r: &Request) -> c_int {
    let handler = r.handler();
    if handler == STATUS_HANDLER.to_bytes() {
        serve_status(r)
    } else if handler == HANDLER.to_bytes() {
        serve(r)
    } else {
        sys::DECLINED
    }
}

/// `SetHandler rustgi-status`: the daemon groups' processes, queues and
/// restarts; HTML, or JSON with `?json`; with `?health`, the health check a
/// load balancer polls (200 or 503, see [`crate::health`]).
fn serve_status(r: &Request) -> c_int {
    if let Some(status) = r.allow_only_get() {
        return status;
    }
    let has_arg = |name: &[u8]| r.args().split(|&b| b == b'&').any(|arg| arg == name);
    if has_arg(b"health") {
        return health::serve(r);
    }
    let groups = supervisor::status_views();
    let (body, content_type) = if has_arg(b"json") {
        (crate::status::to_json(&groups), c"application/json")
    } else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let banner = String::from_utf8_lossy(super::apache::server_banner());
        (
            crate::status::to_html(&groups, &banner, now),
            c"text/html; charset=utf-8",
        )
    };
    r.set_content_type(content_type);
    r.headers_out().set_static(c"Cache-Control", c"no-store");
    r.write_body(body.as_bytes());
    sys::OK as c_int
}

/// Serves an app's URL: embedded, or through its daemon group.
fn serve(r: &Request) -> c_int {
    let Some((alias, prefix_len)) = r.matched() else {
        return r.fail(
            INTERNAL_SERVER_ERROR,
            "SetHandler rustgi-script needs a RustgiScriptAlias for the URL",
        );
    };
    let dir = r.dir_conf();
    let group = alias
        .spec
        .process_group
        .clone()
        .or_else(|| dir.process_group.clone())
        .unwrap_or(ProcessGroup::Embedded);
    let server = r.server();
    if group == ProcessGroup::Embedded && server.conf().restrict_embedded() {
        return r.fail(
            INTERNAL_SERVER_ERROR,
            &format!(
                "RustgiRestrictEmbedded On: the app {} must run in a daemon process group \
                 (RustgiProcessGroup or process-group=)",
                alias.spec.file.display()
            ),
        );
    }

    let uri = r.uri();
    let (script_name, path_info) = uri.split_at(prefix_len.min(uri.len()));
    let scheme = r.scheme();
    let user = r.user();
    let auth_type = r.auth_type();
    let facts = RequestFacts {
        method: r.method(),
        script_name,
        path_info,
        query_string: r.args(),
        request_uri: r.unparsed_uri(),
        protocol: r.protocol(),
        scheme,
        https: scheme == b"https",
        server_name: r.server_name(),
        server_port: r.server_port(),
        server_addr: r.local_ip(),
        server_software: super::apache::server_banner(),
        document_root: r.document_root(),
        remote_addr: r.useragent_ip(),
        remote_port: r.remote_port(),
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
        r.headers_in().entries(),
        r.subprocess_env().entries(),
    );
    let config = config_pairs(&dir.app_config);
    let init_config = &server.default_dir_conf().app_config;
    let status = match &group {
        ProcessGroup::Embedded => serve_embedded(r, alias, init_config, &environ, &config),
        ProcessGroup::Daemon(name) => {
            serve_in_daemon(r, name, alias, init_config, &environ, &config)
        }
    };
    keep_environ_buffer(environ);
    status
}

/// Sends the request to the daemon group `name`.
fn serve_in_daemon(
    r: &Request,
    name: &str,
    alias: &ScriptAlias<AppSlot>,
    init_config: &AppConfig,
    environ: &Pairs,
    config: &Pairs,
) -> c_int {
    let Some(address) = supervisor::address(name) else {
        return r.fail(
            INTERNAL_SERVER_ERROR,
            &format!("process group '{name}' is not defined (RustgiDaemonProcess {name} ...)"),
        );
    };
    let host = r.server().hostname();
    if let Some(scope) = &address.scope
        && scope.as_bytes() != host
    {
        return r.fail(
            INTERNAL_SERVER_ERROR,
            &format!(
                "process group '{name}' belongs to the virtual host {scope} and cannot serve {}",
                String::from_utf8_lossy(host)
            ),
        );
    }
    let (app_file, init_config) =
        python::app_for(&alias.spec, init_config, || address.python.clone());
    let init_config = config_pairs(&init_config);
    let route = GroupRoute {
        name: &address.name,
        socket: &address.socket,
        connect_timeout: address.connect_timeout,
        timeouts: address.timeouts,
        group_file: &address.group_file,
        status_dir: &address.status_dir,
    };
    let mut response = Response::new(ApacheResponse::new(r, format!("group {name}")));
    daemon_client::serve(
        &mut response,
        &route,
        Outgoing {
            app_file,
            init_config: &init_config,
            environ,
            config,
        },
    )
}

/// Runs the request in this process.
fn serve_embedded(
    r: &Request,
    alias: &ScriptAlias<AppSlot>,
    init_config: &AppConfig,
    environ: &Pairs,
    config: &Pairs,
) -> c_int {
    let server = r.server();
    let loaded = match alias.slot.loaded() {
        Some(app) => Ok(app),
        None => {
            let conf = server.conf();
            let (file, init_config) = python::app_for(&alias.spec, init_config, || {
                PythonPlace::embedded(
                    Mpm::is_threaded(),
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
            return r.fail(
                INTERNAL_SERVER_ERROR,
                &format!(
                    "app {} (RustgiScriptAlias on {}) is unavailable: {why}",
                    alias.spec.file.display(),
                    alias.defined_at
                ),
            );
        }
    };
    let label = format!("app {}", alias.spec.file.display());
    let mut ctx = HostCtx::for_request(server, ApacheResponse::new(r, label));
    let rc = callbacks::call_app(app, environ, config, &ctx);
    match ctx.exchange_mut() {
        Some(response) => child_response::finish(response, rc),
        None => INTERNAL_SERVER_ERROR as c_int,
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
