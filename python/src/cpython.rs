//! The CPython edge: starting the one interpreter of the process, keeping a
//! thread state per serving thread, and decoding bytes the way PEP 3333
//! wants (ISO-8859-1). Everything else in the bridge goes through PyO3.

use std::cell::Cell;
use std::ffi::{CString, c_char};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::settings::Settings;

/// The `major.minor` of the Python this bridge was built against.
pub const BUILT_FOR: &str = env!("RUSTGI_PYTHON_VERSION");

/// Whether the interpreter started, and with which home, once tried.
static STARTED: Mutex<Option<Result<Option<std::path::PathBuf>, String>>> = Mutex::new(None);

thread_local! {
    /// Whether this thread keeps a Python thread state for life.
    static THREAD_STATE_KEPT: Cell<bool> = const { Cell::new(false) };
}

/// Starts the interpreter with `settings`' home, once per process; a later
/// script with another home is served by the interpreter already running.
pub fn start(settings: &Settings) -> Result<(), String> {
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(outcome) = started.as_ref() {
        return match outcome {
            Ok(home) if *home != settings.home => {
                crate::host::process_log(
                    rustgi_abi::LOG_WARNING,
                    &format!(
                        "WSGI script {}: python-home {} is not used: this process's Python \
                         started with {}",
                        settings.script.display(),
                        shown(settings.home.as_deref()),
                        shown(home.as_deref()),
                    ),
                );
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e.clone()),
        };
    }
    let outcome = initialize(settings.home.as_deref()).map(|()| settings.home.clone());
    *started = Some(outcome.clone());
    outcome.map(|_| ())
}

fn shown(home: Option<&Path>) -> String {
    home.map_or_else(
        || "the system's Python".to_owned(),
        |h| h.display().to_string(),
    )
}

/// Makes libpython's symbols global in the process: the host opens apps
/// with `RTLD_LOCAL`, and Debian builds the standard library's extension
/// modules (`_ctypes`, `_sqlite3`, `_decimal`) without linking libpython, so
/// they expect its symbols to be global.
fn make_libpython_global() -> Result<(), String> {
    // SAFETY: an all-zero Dl_info is a valid out-parameter; dladdr reads the
    // address of a function of libpython, which is loaded (we link it).
    let path = unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let symbol = ffi::Py_IsInitialized as *const libc::c_void;
        if libc::dladdr(symbol, &mut info) == 0 || info.dli_fname.is_null() {
            return Err("cannot tell which file libpython was loaded from".into());
        }
        std::ffi::CStr::from_ptr(info.dli_fname).to_owned()
    };
    // SAFETY: RTLD_NOLOAD only changes the flags of the library already
    // loaded (it loads nothing new and runs no constructor).
    let handle = unsafe {
        libc::dlopen(
            path.as_ptr(),
            libc::RTLD_NOW | libc::RTLD_GLOBAL | libc::RTLD_NOLOAD,
        )
    };
    if handle.is_null() {
        return Err(format!(
            "cannot make {} global: extension modules may fail to load",
            path.to_string_lossy()
        ));
    }
    // The reference dlopen took keeps libpython loaded for good, as it must.
    Ok(())
}

/// A venv's interpreter: the program name that makes Python find
/// `pyvenv.cfg` and use the venv's site-packages.
fn venv_python(home: &Path) -> Option<std::path::PathBuf> {
    if !home.join("pyvenv.cfg").is_file() {
        return None;
    }
    ["python3", "python", &format!("python{BUILT_FOR}")]
        .iter()
        .map(|name| home.join("bin").join(name))
        .find(|p| p.exists())
}

/// Sets a `wchar_t *` field of `config` from bytes.
///
/// # Safety
/// `config` was initialised by `PyConfig_InitPythonConfig` and `field` is
/// one of its string fields.
unsafe fn set_string(
    config: *mut ffi::PyConfig,
    field: *mut *mut libc::wchar_t,
    value: &[u8],
) -> Result<(), String> {
    let value = CString::new(value).map_err(|_| "a path holds a NUL byte".to_owned())?;
    // SAFETY: as the caller promises; value is NUL-terminated.
    let status = unsafe { ffi::PyConfig_SetBytesString(config, field, value.as_ptr()) };
    check(status, "PyConfig_SetBytesString")
}

fn check(status: ffi::PyStatus, what: &str) -> Result<(), String> {
    // SAFETY: PyStatus_Exception only reads the status it is given.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    let message = if status.err_msg.is_null() {
        "no message".to_owned()
    } else {
        // SAFETY: err_msg is a static C string of CPython's.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .into_owned()
    };
    Err(format!("{what} failed: {message}"))
}

/// Starts CPython in this process: no signal handlers (the daemon and
/// Apache own the signals), no command line, no user site-packages, the
/// given home; then releases the GIL.
fn initialize(home: Option<&Path>) -> Result<(), String> {
    // SAFETY: Py_IsInitialized may be called at any time.
    if unsafe { ffi::Py_IsInitialized() } != 0 {
        return Err("another Python is already running in this process".into());
    }
    if let Err(e) = make_libpython_global() {
        crate::host::process_log(rustgi_abi::LOG_WARNING, &e);
    }
    let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
    let config = config.as_mut_ptr();
    // SAFETY: PyConfig_InitPythonConfig initialises the whole struct; the
    // fields set after it are plain ints and strings set through
    // PyConfig_SetBytesString; PyConfig_Clear frees them on every path.
    unsafe {
        ffi::PyConfig_InitPythonConfig(config);
        (*config).install_signal_handlers = 0;
        (*config).parse_argv = 0;
        (*config).user_site_directory = 0;
        (*config).configure_c_stdio = 0;
        let configured = (|| {
            let mut argv: [*const c_char; 1] = [c"rustgi".as_ptr()];
            check(
                ffi::PyConfig_SetBytesArgv(config, 1, argv.as_mut_ptr()),
                "PyConfig_SetBytesArgv",
            )?;
            if let Some(home) = home {
                match venv_python(home) {
                    Some(python) => set_string(
                        config,
                        &raw mut (*config).program_name,
                        python.as_os_str().as_bytes(),
                    )?,
                    None => {
                        set_string(config, &raw mut (*config).home, home.as_os_str().as_bytes())?
                    }
                }
            }
            check(
                ffi::Py_InitializeFromConfig(config),
                "Py_InitializeFromConfig",
            )
        })();
        ffi::PyConfig_Clear(config);
        configured.map_err(|e| match home {
            Some(home) => format!(
                "cannot start Python {BUILT_FOR} with python-home {}: {e}",
                home.display()
            ),
            None => format!("cannot start Python {BUILT_FOR}: {e}"),
        })?;
        // The initialising thread holds the GIL and keeps its thread state.
        ffi::PyEval_SaveThread();
    }
    THREAD_STATE_KEPT.set(true);
    Ok(())
}

/// The version of the Python running in this process (`3.11.2`), or the
/// one built for before it starts.
pub fn running_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // SAFETY: Py_IsInitialized may be called at any time.
    if unsafe { ffi::Py_IsInitialized() } == 0 {
        return BUILT_FOR;
    }
    VERSION.get_or_init(|| {
        // SAFETY: Py_GetVersion returns a static C string once Python runs
        // and needs no GIL.
        let full = unsafe { std::ffi::CStr::from_ptr(ffi::Py_GetVersion()) };
        full.to_string_lossy()
            .split_whitespace()
            .next()
            .unwrap_or(BUILT_FOR)
            .to_owned()
    })
}

/// Gives this thread a Python thread state for life, so that each request
/// only takes and releases the GIL instead of creating and destroying a
/// thread state. Called without the GIL, after [`start`] succeeded.
pub fn keep_thread_state() {
    if THREAD_STATE_KEPT.get() {
        return;
    }
    // SAFETY: the interpreter is running and this thread does not hold the
    // GIL. PyGILState_Ensure creates this thread's state and takes the GIL;
    // never pairing it with PyGILState_Release keeps the state, and
    // PyEval_SaveThread releases the GIL again. Later PyGILState_Ensure
    // calls (PyO3's attach) find the state and only take the GIL.
    unsafe {
        let _ = ffi::PyGILState_Ensure();
        ffi::PyEval_SaveThread();
    }
    THREAD_STATE_KEPT.set(true);
}

/// `bytes` as a native string, decoded as ISO-8859-1 (every byte is one
/// code point), as PEP 3333 wants for environ values.
pub fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    let len = ffi::Py_ssize_t::try_from(bytes.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("value too long"))?;
    // SAFETY: bytes is readable for len bytes; the GIL is held (py); the
    // result is a new reference or NULL with an exception set.
    unsafe {
        let ptr = ffi::PyUnicode_DecodeLatin1(bytes.as_ptr().cast(), len, std::ptr::null());
        Bound::from_owned_ptr_or_err(py, ptr).map(|s| s.cast_into_unchecked())
    }
}

/// A descriptor of the bridge's own for the file behind `fd`, a
/// descriptor a Python file object returned from `fileno()`.
pub fn duplicate_fd(fd: i32) -> std::io::Result<std::fs::File> {
    if fd < 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the caller holds the file object that owns fd, so fd stays
    // open across this call; it is only duplicated (F_DUPFD_CLOEXEC), and
    // the duplicate is owned by the File returned.
    let owned = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
    Ok(std::fs::File::from(owned))
}
