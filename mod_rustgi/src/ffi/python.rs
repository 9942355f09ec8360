//! The Python bridge as the module finds it: beside the module itself, with
//! the version of the Python it embeds read from its file (no Python runs
//! in Apache's parent), and where a WSGI script's app is loaded from.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use apache_sys as sys;
use rustgi_abi::python::VERSION_SYMBOL;

use super::daemon::supervisor::module_dir;
use crate::app_file;
use crate::config::{AppConfig, ScriptAliasSpec};
use crate::wsgi_script::{self, PythonPlace};

/// The bridge that serves WSGI scripts, as checked.
pub struct Bridge {
    /// The `major.minor` of its Python.
    pub python_version: String,
}

/// Finds and checks the bridge (read afresh: it may have been installed
/// since the last configuration reading).
pub fn bridge() -> Result<Bridge, String> {
    let dir = module_dir().ok_or("cannot tell where mod_rustgi was loaded from")?;
    let path = wsgi_script::find_bridge(&dir).ok_or_else(|| {
        format!(
            "the Python bridge is missing: install rustgi-python.so beside mod_rustgi in {} \
             to serve WSGI scripts",
            dir.display()
        )
    })?;
    app_file::check(&path).map_err(|e| format!("the Python bridge {}: {e}", path.display()))?;
    let python_version = app_file::exported_text(&path, VERSION_SYMBOL.to_str().unwrap_or(""))
        .map_err(|e| format!("the Python bridge {}: {e}", path.display()))?;
    Ok(Bridge { python_version })
}

/// The bridge's path for the request path, found once per process.
fn bridge_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        module_dir()
            .and_then(|dir| wsgi_script::find_bridge(&dir))
            .unwrap_or_else(|| PathBuf::from(wsgi_script::BRIDGE_NAMES[0]))
    })
}

/// The file and the init configuration of a script alias's app in `place`.
pub fn app_for<'a>(
    alias: &'a ScriptAliasSpec,
    base: &AppConfig,
    place: impl FnOnce() -> PythonPlace,
) -> (&'a Path, AppConfig) {
    if wsgi_script::is_wsgi_script(&alias.file) {
        (
            bridge_path(),
            wsgi_script::init_config(base, alias, &place()),
        )
    } else {
        (&alias.file, base.clone())
    }
}

/// Whether this Apache's MPM runs requests on several threads per child.
pub fn mpm_is_threaded() -> bool {
    let mut threaded: std::ffi::c_int = 0;
    // SAFETY: ap_mpm_query writes one int for AP_MPMQ_IS_THREADED.
    let rc =
        unsafe { sys::ap_mpm_query(sys::AP_MPMQ_IS_THREADED as std::ffi::c_int, &mut threaded) };
    rc == sys::APR_SUCCESS as i32 && threaded != sys::AP_MPMQ_NOT_SUPPORTED as std::ffi::c_int
}
