//! `rustgi module-config`, `rustgi module-location` and
//! `rustgi install-module`.
//!
//! `install-module` does what `apxs -i` does for a C module: it copies the
//! module where Apache keeps modules (`apxs -q LIBEXECDIR`, else
//! `/usr/lib/apache2/modules`) as `mod_rustgi.so`, and the daemon
//! executable `rustgi-daemon` beside it. Where the system uses Debian's
//! a2enmod layout (`/etc/apache2/mods-available` exists), it also writes
//! `rustgi.load` there, and `rustgi.conf` unless one is there already (it
//! is the administrator's). `--destdir DIR` puts every file under DIR
//! instead (for packaging and tests); the paths written into the files stay
//! the final ones.
//!
//! Files are replaced by renaming a new file over them, never rewritten in
//! place: a running Apache keeps the module it mapped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::args::{Arg, Args};
use super::locate::{DAEMON, INSTALLED_MODULE, daemon_beside, find_module};
use crate::httpd_conf::{modules_dir, quote_path};

/// Debian's directory of available modules' files.
pub const MODS_AVAILABLE: &str = "/etc/apache2/mods-available";

/// `conf/rustgi.conf`, the module's server-wide settings for a2enmod.
pub const RUSTGI_CONF: &str = include_str!("../../conf/rustgi.conf");

/// The `LoadModule` line for the module at `path`.
pub fn load_module_line(path: &Path) -> String {
    format!("LoadModule rustgi_module {}", quote_path(path))
}

/// `rustgi.load` for a module installed at `path` (the same text as
/// `conf/rustgi.load` for `/usr/lib/apache2/modules/mod_rustgi.so`).
pub fn load_file(path: &Path) -> String {
    let p = path.to_string_lossy();
    let p = if p.contains([' ', '"', '\t']) {
        quote_path(path)
    } else {
        p.into_owned()
    };
    format!(
        "# mod_rustgi: serve compiled web apps (a2enmod rustgi)\nLoadModule rustgi_module {p}\n"
    )
}

fn parse_module_option(items: &[String], command: &str) -> Result<Option<PathBuf>, String> {
    let mut module = None;
    let mut args = Args::new(items);
    while let Some(arg) = args.next() {
        match arg {
            Arg::Option(n, inline) if n == "--module" => module = Some(args.path(&n, inline)?),
            Arg::Option(n, _) => return Err(format!("{command}: unknown option {n}")),
            Arg::Positional(p) => return Err(format!("{command}: unexpected argument '{p}'")),
        }
    }
    Ok(module)
}

/// `rustgi module-config [--module PATH]`: prints the `LoadModule` line.
pub fn module_config(items: &[String]) -> Result<(), String> {
    let module = find_module(parse_module_option(items, "module-config")?.as_deref())?;
    println!("{}", load_module_line(&module));
    Ok(())
}

/// `rustgi module-location [--module PATH]`: prints the module's path.
pub fn module_location(items: &[String]) -> Result<(), String> {
    let module = find_module(parse_module_option(items, "module-location")?.as_deref())?;
    println!("{}", module.display());
    Ok(())
}

/// The options of `install-module`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InstallOptions {
    pub destdir: Option<PathBuf>,
    pub module: Option<PathBuf>,
    pub modules_dir: Option<PathBuf>,
}

/// Parses the arguments of `install-module`.
pub fn parse_install(items: &[String]) -> Result<InstallOptions, String> {
    let mut o = InstallOptions::default();
    let mut args = Args::new(items);
    while let Some(arg) = args.next() {
        match arg {
            Arg::Option(n, inline) => match n.as_str() {
                "--destdir" => o.destdir = Some(args.path(&n, inline)?),
                "--module" => o.module = Some(args.path(&n, inline)?),
                "--modules-dir" | "--libexecdir" => {
                    o.modules_dir = Some(args.path(&n, inline)?);
                }
                _ => return Err(format!("install-module: unknown option {n}")),
            },
            Arg::Positional(p) => {
                return Err(format!("install-module: unexpected argument '{p}'"));
            }
        }
    }
    if let Some(dir) = &o.modules_dir {
        if !dir.is_absolute() {
            return Err("--modules-dir must be absolute".to_owned());
        }
    }
    Ok(o)
}

/// `destdir` + `path` (`path` is absolute).
pub fn under(destdir: Option<&Path>, path: &Path) -> PathBuf {
    match destdir {
        None => path.to_path_buf(),
        Some(d) => {
            let rel: PathBuf = path
                .components()
                .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
                .collect();
            d.join(rel)
        }
    }
}

/// Copies `src` to `dst` with `mode`, through a temporary file renamed over
/// `dst`.
fn install_file(src: &Path, dst: &Path, mode: u32) -> Result<(), String> {
    let name = dst.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dst.with_file_name(format!(".{name}.rustgi-new"));
    fs::copy(src, &tmp)
        .and_then(|_| fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)))
        .and_then(|()| fs::rename(&tmp, dst))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("installing {} as {}: {e}", src.display(), dst.display())
        })
}

fn write_file(dst: &Path, text: &str) -> Result<(), String> {
    let name = dst.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dst.with_file_name(format!(".{name}.rustgi-new"));
    fs::write(&tmp, text)
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)))
        .and_then(|()| fs::rename(&tmp, dst))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("writing {}: {e}", dst.display())
        })
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Runs `rustgi install-module`.
pub fn install_module(o: InstallOptions) -> Result<(), String> {
    let module = find_module(o.module.as_deref())?;
    let daemon = daemon_beside(&module).ok_or_else(|| {
        format!(
            "{DAEMON} is not beside {} (build the workspace: cargo build --release --workspace)",
            module.display()
        )
    })?;
    let final_dir = o
        .modules_dir
        .clone()
        .unwrap_or_else(|| modules_dir().to_path_buf());
    let final_module = final_dir.join(INSTALLED_MODULE);
    let destdir = o.destdir.as_deref();
    let dir = under(destdir, &final_dir);
    let dst_module = dir.join(INSTALLED_MODULE);
    if dst_module.canonicalize().ok().as_deref() == Some(module.as_path()) {
        return Err(format!(
            "{} is already the installed module",
            module.display()
        ));
    }
    create_dir(&dir)?;
    install_file(&module, &dst_module, 0o644)?;
    println!("installed {} as {}", module.display(), dst_module.display());
    let dst_daemon = dir.join(DAEMON);
    install_file(&daemon, &dst_daemon, 0o755)?;
    println!("installed {} as {}", daemon.display(), dst_daemon.display());

    if Path::new(MODS_AVAILABLE).is_dir() {
        let conf_dir = under(destdir, Path::new(MODS_AVAILABLE));
        create_dir(&conf_dir)?;
        let load = conf_dir.join("rustgi.load");
        write_file(&load, &load_file(&final_module))?;
        println!("wrote {}", load.display());
        let conf = conf_dir.join("rustgi.conf");
        if conf.exists() {
            println!("kept the existing {}", conf.display());
        } else {
            write_file(&conf, RUSTGI_CONF)?;
            println!("wrote {}", conf.display());
        }
        if destdir.is_none() {
            println!("\nEnable it with:  a2enmod rustgi && apachectl restart");
        }
    } else if destdir.is_none() {
        println!(
            "\nLoad it by adding this line to httpd.conf:\n{}",
            load_module_line(&final_module)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_file_matches_the_shipped_one() {
        let shipped = include_str!("../../conf/rustgi.load");
        assert_eq!(
            load_file(Path::new("/usr/lib/apache2/modules/mod_rustgi.so")),
            shipped
        );
        assert!(load_file(Path::new("/opt/a b/m.so")).contains("\"/opt/a b/m.so\""));
        assert_eq!(
            load_module_line(Path::new("/m/mod_rustgi.so")),
            "LoadModule rustgi_module \"/m/mod_rustgi.so\""
        );
    }

    #[test]
    fn destdir_prefixes() {
        assert_eq!(
            under(Some(Path::new("/tmp/d")), Path::new("/usr/lib/x")),
            Path::new("/tmp/d/usr/lib/x")
        );
        assert_eq!(
            under(None, Path::new("/usr/lib/x")),
            Path::new("/usr/lib/x")
        );
    }

    #[test]
    fn install_options() {
        let args = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = parse_install(&args(&["--destdir", "/d", "--module=/m.so"])).unwrap();
        assert_eq!(o.destdir, Some(PathBuf::from("/d")));
        assert_eq!(o.module, Some(PathBuf::from("/m.so")));
        assert!(parse_install(&args(&["--bogus"])).is_err());
        assert!(parse_install(&args(&["x"])).is_err());
        assert!(parse_install(&args(&["--modules-dir", "rel"])).is_err());
        assert!(parse_module_option(&args(&["--module", "/m"]), "x").is_ok());
        assert!(parse_module_option(&args(&["y"]), "x").is_err());
    }
}
