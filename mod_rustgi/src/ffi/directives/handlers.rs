//! What each directive does with its arguments: convert them, call the
//! pure parser in `crate::config` or `crate::daemon_spec`, check what can
//! be checked at `apache2 -t`, and store the result. An error becomes
//! Apache's syntax error, which names the file and line.

#![deny(unsafe_code)]

use std::ffi::CStr;
use std::sync::Arc;

use crate::app_file;
use crate::config::{self, DirConfig, DirectiveError, ScriptAlias};
use crate::daemon_spec::{self, split_words};
use crate::ffi::apache::Command;
use crate::ffi::app::AppSlot;
use crate::ffi::python;
use crate::wsgi_script;

/// A directive's handler: the directive being read, the configuration of
/// its section, and its arguments.
pub type Handler = fn(&mut Command, &mut DirConfig, &[&CStr]) -> Result<(), DirectiveError>;

/// An argument as UTF-8 (config files are read as bytes; directives that
/// need text say so).
fn text<'a>(directive: &'static str, arg: &'a CStr) -> Result<&'a str, DirectiveError> {
    arg.to_str()
        .map_err(|_| DirectiveError::new(directive, "the argument is not valid UTF-8"))
}

/// The one argument of a directive that takes one (Apache counts them).
fn single<'a>(name: &'static str, args: &[&'a CStr]) -> Result<&'a CStr, DirectiveError> {
    match args {
        [arg] => Ok(arg),
        _ => Err(DirectiveError::new(name, "takes one argument")),
    }
}

/// Refuses a directive inside `<VirtualHost>`.
fn main_server_only(cmd: &Command, name: &'static str) -> Result<(), DirectiveError> {
    if cmd.in_virtual_host() {
        return Err(DirectiveError::new(
            name,
            "is not allowed inside <VirtualHost>",
        ));
    }
    Ok(())
}

pub fn script_alias(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    let name = config::SCRIPT_ALIAS;
    let words =
        split_words(text(name, single(name, args)?)?).map_err(|e| DirectiveError::new(name, e))?;
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    let spec = config::parse_script_alias(&args)?;
    let unusable =
        |e: String| DirectiveError::new(name, format!("cannot use {}: {e}", spec.file.display()));
    if wsgi_script::is_wsgi_script(&spec.file) {
        // The script is imported later, by the process that serves it: no
        // Python runs here. Its readability by the group's user is checked
        // once the groups are known.
        match std::fs::metadata(&spec.file) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(unusable("it is not a regular file".into())),
            Err(e) => return Err(unusable(e.to_string())),
        }
        python::bridge().map_err(unusable)?;
    } else {
        app_file::check(&spec.file).map_err(|e| unusable(e.to_string()))?;
    }
    let defined_at = cmd.location();
    cmd.server_conf().aliases.push(ScriptAlias {
        spec,
        defined_at,
        slot: Arc::new(AppSlot::default()),
    });
    Ok(())
}

pub fn process_group(
    cmd: &mut Command,
    dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiProcessGroup";
    let group = config::parse_process_group(NAME, text(NAME, single(NAME, args)?)?)?;
    dir.process_group = Some(group);
    dir.process_group_at = Some(cmd.location());
    // Inside <Location> or <Directory>: which URLs it covers is decided per
    // request.
    if cmd.in_section() {
        cmd.server_conf().sectioned_process_group = true;
    }
    Ok(())
}

pub fn app_config(
    _cmd: &mut Command,
    dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiAppConfig";
    let [key, value] = args else {
        return Err(DirectiveError::new(NAME, "takes a key and a value"));
    };
    let key = text(NAME, key)?;
    if key.is_empty() {
        return Err(DirectiveError::new(NAME, "the key is empty"));
    }
    dir.app_config.set(key, text(NAME, value)?);
    Ok(())
}

pub fn pass_authorization(
    _cmd: &mut Command,
    dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiPassAuthorization";
    let on = config::parse_flag(NAME, text(NAME, single(NAME, args)?)?)?;
    dir.pass_authorization = Some(on);
    Ok(())
}

pub fn daemon_process(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    let name = daemon_spec::DAEMON_PROCESS;
    let mut spec = daemon_spec::parse_daemon_process(text(name, single(name, args)?)?)?;
    spec.defined_at = Some(cmd.location());
    // Users and groups are looked up now, so that a typo is a syntax error
    // naming the line (only root switches users).
    if rustgi_host::users::is_root() {
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
    cmd.server_conf().add_daemon(spec)
}

pub fn socket_prefix(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiSocketPrefix";
    main_server_only(cmd, NAME)?;
    let value = single(NAME, args)?;
    let dir = text(NAME, value)?;
    // A relative path is relative to ServerRoot, as with WSGISocketPrefix.
    let Some(resolved) = cmd.server_root_relative(value) else {
        return Err(DirectiveError::new(
            NAME,
            format!("'{dir}' is not a valid path"),
        ));
    };
    let resolved = String::from_utf8(resolved)
        .map_err(|_| DirectiveError::new(NAME, "the argument is not valid UTF-8"))?;
    cmd.server_conf().socket_prefix = Some(resolved);
    Ok(())
}

pub fn restrict_embedded(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiRestrictEmbedded";
    let on = config::parse_flag(NAME, text(NAME, single(NAME, args)?)?)?;
    cmd.server_conf().restrict_embedded = Some(on);
    Ok(())
}

pub fn script_reloading(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiScriptReloading";
    let on = config::parse_flag(NAME, text(NAME, single(NAME, args)?)?)?;
    cmd.server_conf().script_reloading = Some(on);
    Ok(())
}

pub fn python_home(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiPythonHome";
    main_server_only(cmd, NAME)?;
    let home = text(NAME, single(NAME, args)?)?;
    let bridge = python::bridge().map_err(|e| DirectiveError::new(NAME, e))?;
    wsgi_script::check_python_home(NAME, home, &bridge.python_version)
        .map_err(|e| DirectiveError::new(NAME, e))?;
    cmd.server_conf().python_home = Some(home.to_owned());
    Ok(())
}

pub fn python_path(
    cmd: &mut Command,
    _dir: &mut DirConfig,
    args: &[&CStr],
) -> Result<(), DirectiveError> {
    const NAME: &str = "RustgiPythonPath";
    main_server_only(cmd, NAME)?;
    let value = text(NAME, single(NAME, args)?)?;
    let dirs =
        daemon_spec::parse_python_path("", value).map_err(|e| DirectiveError::new(NAME, e))?;
    cmd.server_conf().python_path.extend(dirs);
    Ok(())
}
