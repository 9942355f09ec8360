//! WSGI scripts: a `RustgiScriptAlias` to a `.py` or `.wsgi` file is served
//! by the Python bridge, an app on the ABI installed beside the module. This
//! module says which file a script alias loads and with which configuration
//! (the keys of `rustgi_abi::python`); nothing else in the host knows
//! about Python.
//!
//! Pure code, but for [`check_python_home`], which reads the home's files.

use std::path::{Path, PathBuf};

use rustgi_abi::python as key;

use crate::config::{AppConfig, GLOBAL_GROUP, ScriptAliasSpec};
use crate::daemon_spec::DaemonSpec;

pub use rustgi_abi::python::is_script as is_wsgi_script;

/// What a Python app is told about where it runs: its group's shape and the
/// Python settings that apply there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonPlace {
    /// The daemon group's name; empty when embedded (mod_wsgi's way).
    pub process_group: String,
    pub multithread: bool,
    pub multiprocess: bool,
    pub run_once: bool,
    pub home: Option<String>,
    pub path: Vec<String>,
}

impl PythonPlace {
    /// A daemon group's processes.
    pub fn daemon(spec: &DaemonSpec) -> PythonPlace {
        PythonPlace {
            process_group: spec.name.clone(),
            multithread: spec.threads > 1,
            multiprocess: spec.processes > 1,
            run_once: spec.maximum_requests == 1,
            home: spec.python_home.clone(),
            path: spec.python_path.clone(),
        }
    }

    /// Apache's children, with `RustgiPythonHome` and `RustgiPythonPath`.
    pub fn embedded(threaded: bool, home: Option<String>, path: Vec<String>) -> PythonPlace {
        PythonPlace {
            process_group: String::new(),
            multithread: threaded,
            multiprocess: true,
            run_once: false,
            home,
            path,
        }
    }
}

/// The file a script alias loads: the bridge for a WSGI script, the app
/// itself otherwise.
pub fn app_file<'a>(alias: &'a ScriptAliasSpec, bridge: &'a Path) -> &'a Path {
    if is_wsgi_script(&alias.file) {
        bridge
    } else {
        &alias.file
    }
}

/// The configuration the app of `alias` is initialised with: the
/// `RustgiAppConfig` pairs, and for a WSGI script the bridge's settings.
pub fn init_config(base: &AppConfig, alias: &ScriptAliasSpec, place: &PythonPlace) -> AppConfig {
    if !is_wsgi_script(&alias.file) {
        return base.clone();
    }
    let mut config = base.clone();
    let flag = |on: bool| if on { "1" } else { "0" };
    config.set(key::SCRIPT, &alias.file.to_string_lossy());
    config.set(
        key::CALLABLE,
        alias.callable.as_deref().unwrap_or("application"),
    );
    config.set(key::HOME, place.home.as_deref().unwrap_or(""));
    config.set(key::PATH, &place.path.join(":"));
    config.set(key::PROCESS_GROUP, &place.process_group);
    let application_group = match alias.application_group.as_deref() {
        None | Some(GLOBAL_GROUP) => "",
        Some(name) => name,
    };
    config.set(key::APPLICATION_GROUP, application_group);
    config.set(key::MULTITHREAD, flag(place.multithread));
    config.set(key::MULTIPROCESS, flag(place.multiprocess));
    config.set(key::RUN_ONCE, flag(place.run_once));
    config
}

/// The `major.minor` of the Python installed at `home` (a virtual
/// environment or a prefix), from its `pyvenv.cfg` or its `lib/pythonX.Y`.
pub fn python_home_version(home: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(home).map_err(|e| format!("{}: {e}", home.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", home.display()));
    }
    if let Ok(cfg) = std::fs::read_to_string(home.join("pyvenv.cfg")) {
        for line in cfg.lines() {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if matches!(name.trim(), "version" | "version_info") {
                return Ok(major_minor(value.trim()));
            }
        }
    }
    let mut found: Vec<String> = std::fs::read_dir(home.join("lib"))
        .map_err(|_| {
            format!(
                "{} is neither a virtual environment (no pyvenv.cfg) nor a Python prefix \
                 (no lib/pythonX.Y)",
                home.display()
            )
        })?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let version = name.strip_prefix("python")?;
            version
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| version.to_owned())
        })
        .collect();
    found.sort();
    found.pop().ok_or_else(|| {
        format!(
            "{} has no lib/pythonX.Y: it is not a Python home",
            home.display()
        )
    })
}

fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Refuses a python-home whose Python is not `built_for`, the version the
/// bridge embeds; `option` names the directive or option.
pub fn check_python_home(option: &str, home: &str, built_for: &str) -> Result<(), String> {
    if !home.starts_with('/') {
        return Err(format!("{option} {home}: must be an absolute path"));
    }
    let found = python_home_version(Path::new(home)).map_err(|e| format!("{option}: {e}"))?;
    if found == built_for {
        Ok(())
    } else {
        Err(format!(
            "{option} {home} holds Python {found}, and mod_rustgi's Python bridge was built for \
             Python {built_for}: make the virtual environment with python{built_for} \
             (python{built_for} -m venv {home})"
        ))
    }
}

/// Where mod_rustgi looks for the bridge, in order, in its own directory:
/// the installed name, then the name cargo gives the library.
pub const BRIDGE_NAMES: [&str; 2] = ["rustgi-python.so", "librustgi_python.so"];

/// The bridge beside a module in `module_dir`, when there.
pub fn find_bridge(module_dir: &Path) -> Option<PathBuf> {
    BRIDGE_NAMES
        .iter()
        .map(|name| module_dir.join(name))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_script_alias;

    #[test]
    fn scripts_are_told_by_their_extension() {
        assert!(is_wsgi_script(Path::new("/srv/app/wsgi.py")));
        assert!(is_wsgi_script(Path::new("/srv/app/app.wsgi")));
        assert!(!is_wsgi_script(Path::new("/srv/app/libapp.so")));
        assert!(!is_wsgi_script(Path::new("/srv/app/py")));
    }

    #[test]
    fn a_script_loads_the_bridge_with_its_settings() {
        let bridge = Path::new("/usr/lib/apache2/modules/rustgi-python.so");
        let alias = parse_script_alias(&[
            "/",
            "/srv/app/wsgi.py",
            "process-group=shop",
            "callable-object=app",
        ])
        .unwrap();
        assert_eq!(app_file(&alias, bridge), bridge);
        let mut base = AppConfig::default();
        base.set("k", "v");
        let mut spec = DaemonSpec::new("shop");
        spec.processes = 1;
        spec.threads = 1;
        spec.maximum_requests = 1;
        spec.python_home = Some("/srv/venv".into());
        spec.python_path = vec!["/srv/app".into(), "/srv/lib".into()];
        let config = init_config(&base, &alias, &PythonPlace::daemon(&spec));
        assert_eq!(config.get("k"), Some("v"));
        assert_eq!(config.get(key::SCRIPT), Some("/srv/app/wsgi.py"));
        assert_eq!(config.get(key::CALLABLE), Some("app"));
        assert_eq!(config.get(key::HOME), Some("/srv/venv"));
        assert_eq!(config.get(key::PATH), Some("/srv/app:/srv/lib"));
        assert_eq!(config.get(key::PROCESS_GROUP), Some("shop"));
        assert_eq!(config.get(key::APPLICATION_GROUP), Some(""));
        assert_eq!(config.get(key::MULTITHREAD), Some("0"));
        assert_eq!(config.get(key::MULTIPROCESS), Some("0"));
        assert_eq!(config.get(key::RUN_ONCE), Some("1"));

        let place = PythonPlace::embedded(true, None, Vec::new());
        let config = init_config(&base, &alias, &place);
        assert_eq!(config.get(key::PROCESS_GROUP), Some(""));
        assert_eq!(config.get(key::MULTITHREAD), Some("1"));
        assert_eq!(config.get(key::MULTIPROCESS), Some("1"));
        assert_eq!(config.get(key::HOME), Some(""));
    }

    #[test]
    fn a_compiled_app_keeps_its_file_and_config() {
        let bridge = Path::new("/b.so");
        let alias = parse_script_alias(&["/", "/srv/libapp.so"]).unwrap();
        assert_eq!(app_file(&alias, bridge), Path::new("/srv/libapp.so"));
        let mut base = AppConfig::default();
        base.set("k", "v");
        assert_eq!(init_config(&base, &alias, &PythonPlace::default()), base);
    }

    #[test]
    fn python_homes_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        std::fs::create_dir_all(&venv).unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
        )
        .unwrap();
        assert_eq!(python_home_version(&venv).unwrap(), "3.11");
        let home = venv.to_str().unwrap();
        assert!(check_python_home("python-home=", home, "3.11").is_ok());
        let e = check_python_home("python-home=", home, "3.12").unwrap_err();
        assert!(
            e.contains("Python 3.11") && e.contains("built for Python 3.12"),
            "{e}"
        );

        let prefix = dir.path().join("prefix");
        std::fs::create_dir_all(prefix.join("lib/python3.9")).unwrap();
        assert_eq!(python_home_version(&prefix).unwrap(), "3.9");

        let e = python_home_version(dir.path()).unwrap_err();
        assert!(e.contains("neither a virtual environment"), "{e}");
        let e = check_python_home("RustgiPythonHome", "relative", "3.11").unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = check_python_home("RustgiPythonHome", "/nonexistent/venv", "3.11").unwrap_err();
        assert!(
            e.contains("RustgiPythonHome") && e.contains("/nonexistent/venv"),
            "{e}"
        );
    }
}
