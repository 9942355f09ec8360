//! The directive table. Each entry names its handler (in [`handlers`],
//! safe code) through `cmd_data`, and one adapter per argument shape wraps
//! Apache's pointers and calls it.

mod handlers;

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use apache_sys as sys;

use self::handlers::Handler;
use super::apache::Command;
use super::guard;
use crate::config::{self, DirConfig, DirectiveError};

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

/// A directive's name for its errors, and its handler.
struct Directive {
    name: &'static str,
    handler: Handler,
}

const fn command(
    name: &'static CStr,
    func: sys::cmd_func,
    directive: &'static Directive,
    req_override: c_int,
    args_how: sys::cmd_how,
    errmsg: &'static CStr,
) -> sys::command_rec {
    sys::command_rec {
        name: name.as_ptr(),
        func,
        // Apache hands it back as cmd->info.
        cmd_data: (directive as *const Directive).cast_mut().cast(),
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

static SCRIPT_ALIAS: Directive = Directive {
    name: config::SCRIPT_ALIAS,
    handler: handlers::script_alias,
};

static PROCESS_GROUP: Directive = Directive {
    name: "RustgiProcessGroup",
    handler: handlers::process_group,
};

static APP_CONFIG: Directive = Directive {
    name: "RustgiAppConfig",
    handler: handlers::app_config,
};

static PASS_AUTHORIZATION: Directive = Directive {
    name: "RustgiPassAuthorization",
    handler: handlers::pass_authorization,
};

static DAEMON_PROCESS: Directive = Directive {
    name: crate::daemon_spec::DAEMON_PROCESS,
    handler: handlers::daemon_process,
};

static SOCKET_PREFIX: Directive = Directive {
    name: "RustgiSocketPrefix",
    handler: handlers::socket_prefix,
};

static RESTRICT_EMBEDDED: Directive = Directive {
    name: "RustgiRestrictEmbedded",
    handler: handlers::restrict_embedded,
};

static SCRIPT_RELOADING: Directive = Directive {
    name: "RustgiScriptReloading",
    handler: handlers::script_reloading,
};

static PYTHON_HOME: Directive = Directive {
    name: "RustgiPythonHome",
    handler: handlers::python_home,
};

static PYTHON_PATH: Directive = Directive {
    name: "RustgiPythonPath",
    handler: handlers::python_path,
};

pub static COMMANDS: Commands = Commands([
    command(
        c"RustgiScriptAlias",
        sys::cmd_func {
            raw_args: Some(raw_args),
        },
        &SCRIPT_ALIAS,
        SERVER,
        sys::cmd_how_RAW_ARGS,
        c"URL-PATH FILE.so|SCRIPT.py [option=value ...]: serve URL-PATH \
           with the app in FILE.so, or the WSGI app in SCRIPT.py or SCRIPT.wsgi",
    ),
    command(
        c"RustgiProcessGroup",
        sys::cmd_func {
            take1: Some(take1),
        },
        &PROCESS_GROUP,
        SERVER_DIR,
        sys::cmd_how_TAKE1,
        c"NAME: the process group that runs the apps (%{GLOBAL}: inside Apache's children)",
    ),
    command(
        c"RustgiAppConfig",
        sys::cmd_func {
            take2: Some(take2),
        },
        &APP_CONFIG,
        SERVER_DIR,
        sys::cmd_how_TAKE2,
        c"KEY VALUE: configuration handed to the app",
    ),
    command(
        c"RustgiPassAuthorization",
        sys::cmd_func {
            take1: Some(take1),
        },
        &PASS_AUTHORIZATION,
        SERVER_DIR,
        sys::cmd_how_TAKE1,
        c"On|Off: whether the app sees the Authorization header (default Off)",
    ),
    command(
        c"RustgiDaemonProcess",
        sys::cmd_func {
            raw_args: Some(raw_args),
        },
        &DAEMON_PROCESS,
        SERVER,
        sys::cmd_how_RAW_ARGS,
        c"NAME [option=value ...]: a group of daemon processes that run apps under their own user",
    ),
    command(
        c"RustgiSocketPrefix",
        sys::cmd_func {
            take1: Some(take1),
        },
        &SOCKET_PREFIX,
        SERVER,
        sys::cmd_how_TAKE1,
        c"DIR: where the daemon groups' sockets live, relative to ServerRoot unless absolute (default: Apache's runtime directory/rustgi)",
    ),
    command(
        c"RustgiRestrictEmbedded",
        sys::cmd_func {
            take1: Some(take1),
        },
        &RESTRICT_EMBEDDED,
        SERVER,
        sys::cmd_how_TAKE1,
        c"On|Off: refuse (500) requests not delegated to a daemon process group (default Off)",
    ),
    command(
        c"RustgiScriptReloading",
        sys::cmd_func {
            take1: Some(take1),
        },
        &SCRIPT_RELOADING,
        SERVER,
        sys::cmd_how_TAKE1,
        c"On|Off: restart a group's processes when its app file changes (default On)",
    ),
    command(
        c"RustgiPythonHome",
        sys::cmd_func {
            take1: Some(take1),
        },
        &PYTHON_HOME,
        SERVER,
        sys::cmd_how_TAKE1,
        c"DIR: the Python (a virtual environment) of WSGI scripts run embedded",
    ),
    command(
        c"RustgiPythonPath",
        sys::cmd_func {
            take1: Some(take1),
        },
        &PYTHON_PATH,
        SERVER,
        sys::cmd_how_TAKE1,
        c"DIR[:DIR...]: directories added to sys.path for WSGI scripts run embedded",
    ),
    END,
]);

/// Runs `cmd->info`'s handler with `args` and converts its outcome for
/// Apache: NULL, or the error message in the configuration pool.
///
/// # Safety
/// `cmd`, `mconfig` and `args` are what Apache passed to a handler of this
/// table: a live cmd_parms whose `info` is one of the `Directive`s above,
/// this module's DirConfig for the section, and NUL-terminated strings.
unsafe fn dispatch(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    args: &[*const c_char],
) -> *const c_char {
    // SAFETY: per this function's contract; configuration is read on one
    // thread, so these are the only references.
    let (directive, cmd, dir, args) = unsafe {
        let directive = &*(*cmd).info.cast::<Directive>();
        let dir = &mut *mconfig.cast::<DirConfig>();
        let args: Vec<&CStr> = args.iter().map(|&a| CStr::from_ptr(a)).collect();
        (directive, Command::from_raw(cmd), dir, args)
    };
    let name = directive.name;
    let outcome = guard(
        name,
        Err(DirectiveError::new(name, "internal error")),
        || (directive.handler)(cmd, dir, &args),
    );
    match outcome {
        Ok(()) => ptr::null(),
        Err(e) => cmd.error(&e.to_string()),
    }
}

unsafe extern "C" fn raw_args(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    args: *const c_char,
) -> *const c_char {
    // SAFETY: Apache calls this for the RAW_ARGS entries above, with the
    // rest of the line.
    unsafe { dispatch(cmd, mconfig, &[args]) }
}

unsafe extern "C" fn take1(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    // SAFETY: Apache calls this for the TAKE1 entries above.
    unsafe { dispatch(cmd, mconfig, &[value]) }
}

unsafe extern "C" fn take2(
    cmd: *mut sys::cmd_parms,
    mconfig: *mut c_void,
    key: *const c_char,
    value: *const c_char,
) -> *const c_char {
    // SAFETY: Apache calls this for the TAKE2 entries above.
    unsafe { dispatch(cmd, mconfig, &[key, value]) }
}
