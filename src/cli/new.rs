//! `rustgi new NAME`: scaffold an app crate on app-sdk that
//! `rustgi serve .` builds and serves.
//!
//! The crate depends on app-sdk by path: the `app-sdk` directory of the
//! source tree this command was built from, or the sources a package
//! installed in `/usr/share/rustgi/app-sdk`, or `--app-sdk DIR` /
//! `$RUSTGI_APP_SDK` (see [`super::locate::find_app_sdk`]). It declares an
//! empty `[workspace]`, so it builds on its own even when created inside
//! another workspace.

use std::fs;
use std::path::{Path, PathBuf};

use super::args::{Arg, Args};
use super::locate::find_app_sdk;

/// The options of `new`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NewOptions {
    /// The crate's directory; its last component is the crate's name.
    pub path: PathBuf,
    pub app_sdk: Option<PathBuf>,
}

/// Parses the arguments of `new`.
pub fn parse_new(items: &[String]) -> Result<NewOptions, String> {
    let mut o = NewOptions::default();
    let mut path = None;
    let mut args = Args::new(items);
    while let Some(arg) = args.next() {
        match arg {
            Arg::Option(n, inline) if n == "--app-sdk" => o.app_sdk = Some(args.path(&n, inline)?),
            Arg::Option(n, _) => return Err(format!("new: unknown option {n}")),
            Arg::Positional(p) if path.is_none() => path = Some(PathBuf::from(p)),
            Arg::Positional(p) => return Err(format!("new: unexpected argument '{p}'")),
        }
    }
    o.path = path.ok_or("new: the crate's NAME is missing")?;
    Ok(o)
}

/// Checks a crate name as cargo would: letters, digits, `-` and `_`, not
/// starting with a digit, and not a name that cargo or rustc reserve.
pub fn check_crate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the crate's name is empty".to_owned());
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("'{name}' starts with a digit: crate names cannot"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "'{name}' holds '{c}': crate names are letters, digits, '-' and '_'"
        ));
    }
    const RESERVED: &[&str] = &[
        "test",
        "core",
        "std",
        "alloc",
        "proc_macro",
        "self",
        "super",
        "crate",
        "fn",
        "mod",
        "struct",
        "enum",
        "impl",
        "type",
        "use",
        "app-sdk",
        "app_sdk",
    ];
    if RESERVED.contains(&name) {
        return Err(format!("'{name}' is reserved: choose another name"));
    }
    Ok(())
}

/// The files of the new crate, as (path relative to it, contents).
pub fn scaffold(name: &str, app_sdk: &Path) -> Vec<(&'static str, String)> {
    let lib = name.replace('-', "_");
    let sdk = app_sdk
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let cargo_toml = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# A shared library that mod_rustgi loads.
crate-type = ["cdylib"]

[dependencies]
app-sdk = {{ path = "{sdk}" }}

# A crate of its own, even inside another workspace.
[workspace]
"#
    );
    let lib_rs = format!(
        r#"//! {name}: a mod_rustgi app. `rustgi serve .` builds and serves it.

use app_sdk::{{IntoResponse, Request, Response}};

/// Answers every request.
fn hello(req: Request) -> Response {{
    format!("Hello from {name}! You asked for {{}}\n", req.path_info()).into_response()
}}

app_sdk::export_handler!(hello);
"#
    );
    let readme = format!(
        r#"# {name}

A web app for Apache httpd with mod_rustgi, built on app-sdk.

Serve it at http://127.0.0.1:8000/ (Ctrl-C stops):

```sh
rustgi serve .
```

`rustgi serve --reload-on-changes .` rebuilds and reloads it when the sources
change. `cargo build --release` makes `target/release/lib{lib}.so`, which
Apache serves with:

```apache
RustgiDaemonProcess {lib} processes=2 threads=8
RustgiScriptAlias / /path/to/lib{lib}.so process-group={lib}
<Directory /path/to>
    Require all granted
</Directory>
```

(`/path/to` is the directory that holds the library: Apache refuses, with
403, what no `<Directory>` grants.)
"#
    );
    vec![
        ("Cargo.toml", cargo_toml),
        ("src/lib.rs", lib_rs),
        ("README.md", readme),
        (".gitignore", "/target\n".to_owned()),
    ]
}

/// How to run this program again: `rustgi` when that name on PATH is this
/// program, else its full path (a fresh build is not on PATH).
fn self_command() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "rustgi".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .filter_map(|dir| dir.join("rustgi").canonicalize().ok())
            .next()
            .is_some_and(|found| found == me)
    });
    if on_path {
        "rustgi".to_owned()
    } else {
        me.display().to_string()
    }
}

/// Runs `rustgi new`.
pub fn new_crate(o: NewOptions) -> Result<(), String> {
    let name = o
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("new: '{}' names no directory", o.path.display()))?;
    check_crate_name(&name).map_err(|e| format!("new: {e}"))?;
    if o.path.exists() {
        let empty = fs::read_dir(&o.path).is_ok_and(|mut d| d.next().is_none());
        if !empty {
            return Err(format!("new: {} exists already", o.path.display()));
        }
    }
    let app_sdk = find_app_sdk(o.app_sdk.as_deref())?;
    for (rel, text) in scaffold(&name, &app_sdk) {
        let path = o.path.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!(
        "Created the app crate {name} in {} (app-sdk: {}).\n\nServe it with:\n    cd {} && {} serve .",
        o.path.display(),
        app_sdk.display(),
        o.path.display(),
        self_command()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_crate_name("shop").is_ok());
        assert!(check_crate_name("my-shop_2").is_ok());
        assert!(check_crate_name("").is_err());
        assert!(check_crate_name("2shop").is_err());
        assert!(check_crate_name("my shop").is_err());
        assert!(check_crate_name("std").is_err());
    }

    #[test]
    fn files() {
        let files = scaffold("my-shop", Path::new("/src/app-sdk"));
        let get = |p: &str| &files.iter().find(|(rel, _)| *rel == p).unwrap().1;
        assert!(get("Cargo.toml").contains("name = \"my-shop\""));
        assert!(get("Cargo.toml").contains("crate-type = [\"cdylib\"]"));
        assert!(get("Cargo.toml").contains("app-sdk = { path = \"/src/app-sdk\" }"));
        assert!(get("Cargo.toml").contains("\n[workspace]\n"));
        assert!(get("src/lib.rs").contains("app_sdk::export_handler!(hello);"));
        assert!(get("README.md").contains("rustgi serve ."));
        assert!(get("README.md").contains("libmy_shop.so"));
    }

    #[test]
    fn options() {
        let args = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = parse_new(&args(&["x/shop", "--app-sdk", "/sdk"])).unwrap();
        assert_eq!(o.path, PathBuf::from("x/shop"));
        assert_eq!(o.app_sdk, Some(PathBuf::from("/sdk")));
        assert!(parse_new(&args(&[])).is_err());
        assert!(parse_new(&args(&["a", "b"])).is_err());
        assert!(parse_new(&args(&["--x"])).is_err());
    }

    #[test]
    fn refuses_a_full_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), "x").unwrap();
        let err = new_crate(NewOptions {
            path: dir.path().to_path_buf(),
            app_sdk: None,
        });
        // The temporary directory's name may not be a valid crate name;
        // either way nothing is written.
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
