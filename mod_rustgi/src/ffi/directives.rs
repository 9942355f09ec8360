//! The directive table and its handlers. Each handler converts Apache's
//! arguments, calls the pure parser in `crate::config`, and stores the result;
//! an error becomes Apache's syntax error, which names the file and line.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::Arc;

use apache_sys as sys;

use super::app::AppSlot;
use super::module::server_conf_mut;
use super::python;
use super::{c_bytes, guard, pool_str};
use crate::app_file;
use crate::config::{self, DirConfig, DirectiveError, ScriptAlias};
use crate::daemon_spec::split_words;
use crate::wsgi_script;

/// Apache's table of directives, ended by a zeroed record.
#[repr(transparent)]
pub struct Commands([sys::command_rec; 11]);

// SAFETY: the table is immutable after construction; its pointers are to
// string literals and functions, which every thread may read.
unsafe impl Sync for Commands {}

impl Commands {
    pub const fn as_ptr(&self) -> *const sys::command_rec {
        self.0.as_ptr()
    }
}

const SERVER: c_int = sys::RSRC_CONF as c_int;
const SERVER_DIR: c_int = (sys::RSRC_CONF | sys::ACCESS_CONF) as c_int;

const fn command(
    name: &'static std::ffi::CStr,
    func: sys::cmd_func,
    req_override: c_int,
    args_how: sys::cmd_how,
    errmsg: &'static std::ffi::CStr,
) -> sys::command_rec {
    sys::command_rec {
        name: name.as_ptr(),
        func,
        cmd_data: ptr::null_mut(),
        req_override,
        args_how,
        errmsg: errmsg.as_ptr(),
    }
}

const END: sys::command_rec = sys::command_rec {
    name: ptr::null(),
    func: sys::cmd_func { no_args: None },
    cmd_data: ptr::null_mut(),
    req_override: 0,
    args_how: 0,
    errmsg: ptr::null(),
};

pub static COMMANDS: Commands = Commands([
    command(
        c"RustgiScriptAlias",
        sys::cmd_func {
            raw_args: Some(script_alias),
        },
        SERVER,
        sys::cmd_how_RAW_ARGS,
        c"URL-PATH FILE.so|SCRIPT.py [option=value ...]: serve URL-PATH \
           with the app in FILE.so, or the WSGI app in SCRIPT.py or SCRIPT.wsgi",
    ),
    command(
        c"RustgiProcessGroup",
        sys::cmd_func {
            take1: Some(process_group),
        },
        SERVER_DIR,
        sys::cmd_how_TAKE1,
        c"NAME: the process group that runs the apps (%{GLOBAL}: inside Apache's children)",
    ),
    command(
        c"RustgiAppConfig",
        sys::cmd_func {
            take2: Some(app_config),
        },
        SERVER_DIR,
        sys::cmd_how_TAKE2,
        c"KEY VALUE: configuration handed to the app",
    ),
    command(
        c"RustgiPassAuthorization",
        sys::cmd_func {
            take1: Some(pass_authorization),
        },
        SERVER_DIR,
        sys::cmd_how_TAKE1,
        c"On|Off: whether the app sees the Authorization header (default Off)",
    ),
    command(
        c"RustgiDaemonProcess",
        sys::cmd_func {
            raw_args: Some(daemon_process),
        },
        SERVER,
        sys::cmd_how_RAW_ARGS,
        c"NAME [option=value ...]: a group of daemon processes that run apps under their own user",
    ),
    command(
        c"RustgiSocketPrefix",
        sys::cmd_func {
            take1: Some(socket_prefix),
        },
        SERVER,
        sys::cmd_how_TAKE1,
        c"DIR: where the daemon groups' sockets live, relative to ServerRoot unless absolute (default: Apache's runtime directory/rustgi)",
    ),
    command(
        c"RustgiRestrictEmbedded",
        sys::cmd_func {
            take1: Some(restrict_embedded),
        },
        SERVER,
        sys::cmd_how_TAKE1,
        c"On|Off: refuse (500) requests not delegated to a daemon process group (default Off)",
    ),
    command(
        c"RustgiScriptReloading",
        sys::cmd_func {
            take1: Some(script_reloading),
        },
        SERVER,
        sys::cmd_how_TAKE1,
        c"On|Off: restart a group's processes when its app file changes (default On)",
    ),
    command(
        c"RustgiPythonHome",
        sys::cmd_func {
            take1: Some(python_home),
        },
        SERVER,
        sys::cmd_how_TAKE1,
        c"DIR: the Python (a virtual environment) of WSGI scripts run embedded",
    ),
    command(
        c"RustgiPythonPath",
        sys::cmd_func {
            take1: Some(python_path),
        },
        SERVER,
        sys::cmd_how_TAKE1,
        c"DIR[:DIR...]: directories added to sys.path for WSGI scripts run embedded",
    ),
    END,
]);

/// An argument as UTF-8 (config files are read as bytes; directives that
/// need text say so).
fn text<'a>(directive: &'static str, bytes: &'a [u8]) -> Result<&'a str, DirectiveError> {
    std::str::from_utf8(bytes)
        .map_err(|_| DirectiveError::new(directive, "the argument is not valid UTF-8"))
}

/// Runs a directive handler body and converts its outcome for Apache.
///
/// # Safety
/// `cmd` is the live cmd_parms Apache passed to the handler.
unsafe fn run(
    cmd: *mut sys::cmd_parms,
    name: &'static str,
    body: impl FnOnce() -> Result<(), DirectiveError>,
) -> *const c_char {
    let outcome = guard(name, Err(DirectiveError::new(name, "internal error")), body);
    match outcome {
        Ok(()) => ptr::null(),
        // SAFETY: cmd->pool is the live configuration pool.
        Err(e) => unsafe { pool_str((*cmd).pool, e.to_string().as_bytes()) },
    }
}

/// "line N of FILE" for the directive being read, as Apache words it.
///
/// # Safety
/// `cmd` is live and reading a directive.
unsafe fn location(cmd: *const sys::cmd_parms) -> String {
    // SAFETY: during a directive handler cmd->directive is the directive
    // being processed, with a NUL-terminated filename.
    unsafe {
        let directive = (*cmd).directive;
        if directive.is_null() {
            return "unknown".to_owned();
        }
        format!(
            "line {} of {}",
            (*directive).line_num,
            String::from_utf8_lossy(c_bytes((*directive).filename))
        )
    }
}

unsafe extern "C" fn script_alias(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    args: *const c_char,
) -> *const c_char {
    let name = config::SCRIPT_ALIAS;
    // SAFETY: Apache passes its live cmd_parms and the NUL-terminated rest
    // of the line.
    unsafe {
        run(cmd, name, || {
            let words = split_words(text(name, c_bytes(args))?)
                .map_err(|e| DirectiveError::new(name, e))?;
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            let spec = config::parse_script_alias(&args)?;
            let unusable = |e: String| {
                DirectiveError::new(name, format!("cannot use {}: {e}", spec.file.display()))
            };
            if wsgi_script::is_wsgi_script(&spec.file) {
                // The script is imported later, by the process that serves
                // it: no Python runs here. Its readability by the group's
                // user is checked once the groups are known.
                match std::fs::metadata(&spec.file) {
                    Ok(m) if m.is_file() => {}
                    Ok(_) => return Err(unusable("it is not a regular file".into())),
                    Err(e) => return Err(unusable(e.to_string())),
                }
                python::bridge().map_err(unusable)?;
            } else {
                app_file::check(&spec.file).map_err(|e| unusable(e.to_string()))?;
            }
            server_conf_mut((*cmd).server).aliases.push(ScriptAlias {
                spec,
                defined_at: location(cmd),
                slot: Arc::new(AppSlot::default()),
            });
            Ok(())
        })
    }
}

/// The per-directory config a directive handler was given.
///
/// # Safety
/// `mconfig` is the DirConfig box this module created for the section.
unsafe fn dir_mut<'a>(mconfig: *mut c_void) -> &'a mut DirConfig {
    // SAFETY: see above; configuration is read on one thread.
    unsafe { &mut *mconfig.cast::<DirConfig>() }
}

unsafe extern "C" fn process_group(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiProcessGroup";
    // SAFETY: live cmd_parms, this module's DirConfig and a NUL-terminated
    // argument, from Apache.
    unsafe {
        run(cmd, NAME, || {
            let group = config::parse_process_group(NAME, text(NAME, c_bytes(value))?)?;
            let dir = dir_mut(mconfig);
            dir.process_group = Some(group);
            dir.process_group_at = Some(location(cmd));
            // Inside <Location> or <Directory>: which URLs it covers is
            // decided per request.
            if !(*cmd).path.is_null() {
                server_conf_mut((*cmd).server).sectioned_process_group = true;
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn app_config(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    key: *const c_char,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiAppConfig";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            let key = text(NAME, c_bytes(key))?;
            if key.is_empty() {
                return Err(DirectiveError::new(NAME, "the key is empty"));
            }
            let value = text(NAME, c_bytes(value))?;
            dir_mut(mconfig).app_config.set(key, value);
            Ok(())
        })
    }
}

unsafe extern "C" fn pass_authorization(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiPassAuthorization";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            let on = config::parse_flag(NAME, text(NAME, c_bytes(value))?)?;
            dir_mut(mconfig).pass_authorization = Some(on);
            Ok(())
        })
    }
}

unsafe extern "C" fn daemon_process(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    args: *const c_char,
) -> *const c_char {
    let name = crate::daemon_spec::DAEMON_PROCESS;
    // SAFETY: live cmd_parms and the NUL-terminated rest of the line.
    unsafe {
        run(cmd, name, || {
            let mut spec = crate::daemon_spec::parse_daemon_process(text(name, c_bytes(args))?)?;
            spec.defined_at = Some(location(cmd));
            // Users and groups are looked up now, so that a typo is a syntax
            // error naming the line (only root switches users).
            if libc::geteuid() == 0 {
                let lookup = |e: String| DirectiveError::new(name, format!("{}: {e}", spec.name));
                if let Some(user) = &spec.user {
                    crate::users::user(user).map_err(lookup)?;
                }
                if let Some(group) = &spec.group {
                    crate::users::group(group).map_err(lookup)?;
                }
            }
            if let Some(home) = &spec.python_home {
                let bridge = python::bridge().map_err(|e| DirectiveError::new(name, e))?;
                wsgi_script::check_python_home(
                    &format!("{name} {}: python-home=", spec.name),
                    home,
                    &bridge.python_version,
                )
                .map_err(|e| DirectiveError::new(name, e))?;
            }
            server_conf_mut((*cmd).server).add_daemon(spec)
        })
    }
}

unsafe extern "C" fn socket_prefix(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiSocketPrefix";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            if (*(*cmd).server).is_virtual != 0 {
                return Err(DirectiveError::new(
                    NAME,
                    "is not allowed inside <VirtualHost>",
                ));
            }
            let dir = text(NAME, c_bytes(value))?;
            // A relative path is relative to ServerRoot, as with
            // WSGISocketPrefix.
            let resolved = sys::ap_server_root_relative((*cmd).pool, value);
            if resolved.is_null() {
                return Err(DirectiveError::new(
                    NAME,
                    format!("'{dir}' is not a valid path"),
                ));
            }
            let dir = text(NAME, c_bytes(resolved))?;
            server_conf_mut((*cmd).server).socket_prefix = Some(dir.to_owned());
            Ok(())
        })
    }
}

unsafe extern "C" fn restrict_embedded(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiRestrictEmbedded";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            let on = config::parse_flag(NAME, text(NAME, c_bytes(value))?)?;
            server_conf_mut((*cmd).server).restrict_embedded = Some(on);
            Ok(())
        })
    }
}

unsafe extern "C" fn script_reloading(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiScriptReloading";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            let on = config::parse_flag(NAME, text(NAME, c_bytes(value))?)?;
            server_conf_mut((*cmd).server).script_reloading = Some(on);
            Ok(())
        })
    }
}

/// Refuses a directive inside `<VirtualHost>`.
///
/// # Safety
/// `cmd` is live.
unsafe fn main_server_only(
    cmd: *mut sys::cmd_parms,
    name: &'static str,
) -> Result<(), DirectiveError> {
    // SAFETY: cmd->server is the server being configured.
    if unsafe { (*(*cmd).server).is_virtual } != 0 {
        return Err(DirectiveError::new(
            name,
            "is not allowed inside <VirtualHost>",
        ));
    }
    Ok(())
}

unsafe extern "C" fn python_home(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiPythonHome";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            main_server_only(cmd, NAME)?;
            let home = text(NAME, c_bytes(value))?;
            let bridge = python::bridge().map_err(|e| DirectiveError::new(NAME, e))?;
            wsgi_script::check_python_home(NAME, home, &bridge.python_version)
                .map_err(|e| DirectiveError::new(NAME, e))?;
            server_conf_mut((*cmd).server).python_home = Some(home.to_owned());
            Ok(())
        })
    }
}

unsafe extern "C" fn python_path(
    cmd: *mut sys::cmd_parms,
    _mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    const NAME: &str = "RustgiPythonPath";
    // SAFETY: as for process_group.
    unsafe {
        run(cmd, NAME, || {
            main_server_only(cmd, NAME)?;
            let value = text(NAME, c_bytes(value))?;
            let dirs = crate::daemon_spec::parse_python_path("", value)
                .map_err(|e| DirectiveError::new(NAME, e))?;
            server_conf_mut((*cmd).server).python_path.extend(dirs);
            Ok(())
        })
    }
}
