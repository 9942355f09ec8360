//! `rustgi`: serve a mod_rustgi app under Apache httpd with one command, as
//! mod_wsgi-express does for Python apps.
//!
//! ```text
//! rustgi serve APP.so [--port 8000] [--host 127.0.0.1] [--mpm event|worker|prefork]
//!                     [--app-config KEY=VALUE]... [--url-alias URL DIR]...
//!                     [--server-root DIR] [--module PATH]
//! ```
//!
//! `serve` writes a standalone httpd.conf into the server root and replaces
//! itself with `apache2 -DFOREGROUND`, whose logs go to the terminal; Ctrl-C
//! stops Apache and everything it started.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

use rustgi::apache::apache_binary;
use rustgi::httpd_conf::{HttpdConf, Mpm, default_user, quote, quote_path};

const USAGE: &str = "\
usage: rustgi serve APP.so [options]

Serves APP.so (an app built against app-sdk) at / under Apache httpd, in the
foreground, with its logs on the terminal. Ctrl-C stops it.

options:
  --port N               port to listen on (default 8000)
  --host ADDR            address to listen on (default 127.0.0.1)
  --mpm NAME             event, worker or prefork (default event)
  --app-config KEY=VALUE a RustgiAppConfig pair for the app (repeatable)
  --url-alias URL DIR    serve the files in DIR at URL, by Apache (repeatable)
  --server-root DIR      where to write httpd.conf and logs
                         (default: $TMPDIR/rustgi-HOST:PORT:UID)
  --module PATH          mod_rustgi to load (default: next to this command)";

#[derive(Debug)]
struct ServeOptions {
    app: PathBuf,
    port: u16,
    host: String,
    mpm: Mpm,
    app_config: Vec<(String, String)>,
    url_aliases: Vec<(String, PathBuf)>,
    server_root: Option<PathBuf>,
    module: Option<PathBuf>,
}

fn parse_serve(args: &[String]) -> Result<ServeOptions, String> {
    let mut options = ServeOptions {
        app: PathBuf::new(),
        port: 8000,
        host: "127.0.0.1".to_owned(),
        mpm: Mpm::Event,
        app_config: Vec::new(),
        url_aliases: Vec::new(),
        server_root: None,
        module: None,
    };
    let mut app = None;
    let mut args = args.iter();
    let value = |args: &mut std::slice::Iter<String>, name: &str| {
        args.next()
            .cloned()
            .ok_or_else(|| format!("{name} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let v = value(&mut args, arg)?;
                options.port = v
                    .parse()
                    .map_err(|_| format!("--port: '{v}' is not a port"))?;
            }
            "--host" => options.host = value(&mut args, arg)?,
            "--mpm" => {
                let v = value(&mut args, arg)?;
                options.mpm = v.parse().map_err(|e| format!("--mpm: {e}"))?;
            }
            "--app-config" => {
                let v = value(&mut args, arg)?;
                let (key, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--app-config: '{v}' is not KEY=VALUE"))?;
                options.app_config.push((key.to_owned(), val.to_owned()));
            }
            "--url-alias" => {
                let url = value(&mut args, arg)?;
                let dir = value(&mut args, arg)?;
                options.url_aliases.push((url, PathBuf::from(dir)));
            }
            "--server-root" => options.server_root = Some(value(&mut args, arg)?.into()),
            "--module" => options.module = Some(value(&mut args, arg)?.into()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other if app.is_none() => app = Some(PathBuf::from(other)),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    options.app = app.ok_or("the app (APP.so) is missing")?;
    Ok(options)
}

/// Whether a user other than the owner can read `path` (and reach it).
fn readable_by_others(path: &Path) -> bool {
    let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode()).unwrap_or(0);
    mode(path) & 0o004 != 0
        && path
            .ancestors()
            .skip(1)
            .all(|dir| dir.as_os_str().is_empty() || mode(dir) & 0o001 != 0)
}

fn serve(options: ServeOptions) -> Result<(), String> {
    let app =
        fs::canonicalize(&options.app).map_err(|e| format!("{}: {e}", options.app.display()))?;
    let module = match options.module {
        Some(path) => path,
        None => {
            let exe = env::current_exe().map_err(|e| format!("cannot find this command: {e}"))?;
            let beside = exe.with_file_name("libmod_rustgi.so");
            if beside.exists() {
                beside
            } else {
                PathBuf::from("/usr/lib/apache2/modules/mod_rustgi.so")
            }
        }
    };
    if !module.exists() {
        return Err(format!(
            "mod_rustgi is not at {} (build it with cargo build --release, or pass --module)",
            module.display()
        ));
    }
    let uid = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let server_root = options.server_root.unwrap_or_else(|| {
        env::temp_dir().join(format!(
            "rustgi-{}:{}:{}",
            options.host,
            options.port,
            uid.unwrap_or(0)
        ))
    });
    fs::create_dir_all(&server_root)
        .map_err(|e| format!("cannot create {}: {e}", server_root.display()))?;
    let user = default_user();
    if user.is_some() {
        // Apache's children run as nobody: they must reach the server root.
        fs::set_permissions(&server_root, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", server_root.display()))?;
    }

    // Started as root, Apache's children run as nobody, who may not reach a
    // build directory under a private home: serve a copy from the server root.
    let app = if user.is_some() && !readable_by_others(&app) {
        let dir = server_root.join("app");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let copy = dir.join(app.file_name().unwrap_or_default());
        fs::copy(&app, &copy).map_err(|e| format!("copying {}: {e}", app.display()))?;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("{}: {e}", copy.display()))?;
        eprintln!(
            "rustgi: {} is not readable by nobody; serving a copy from {}",
            app.display(),
            copy.display()
        );
        copy
    } else {
        app
    };
    let app_dir = app.parent().unwrap_or(Path::new("/"));

    let mut extra = format!(
        "ErrorLog /dev/stderr\nCustomLog /dev/stdout \"%h %l %u %t \\\"%r\\\" %>s %b\"\n\
         <Directory {dir}>\n    Require all granted\n</Directory>\n\
         RustgiScriptAlias / {app}\n",
        dir = quote_path(app_dir),
        app = quote_path(&app),
    );
    for (key, value) in &options.app_config {
        extra.push_str(&format!(
            "RustgiAppConfig {} {}\n",
            quote(key),
            quote(value)
        ));
    }
    for (url, dir) in &options.url_aliases {
        let dir = fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        extra.push_str(&format!(
            "Alias {} {}\n<Directory {}>\n    Require all granted\n</Directory>\n",
            quote(url),
            quote_path(&dir),
            quote_path(&dir)
        ));
    }
    let conf = HttpdConf::new(&server_root, options.port)
        .listen_host(&options.host)
        .mpm(options.mpm)
        .log_level("info")
        .access_log(false)
        .rustgi_module(&module)
        .user(user)
        .extra(extra);
    let conf_path = conf
        .write()
        .map_err(|e| format!("cannot write the configuration: {e}"))?;
    eprintln!(
        "rustgi: serving {} at http://{}:{}/ (configuration {}; Ctrl-C stops)",
        app.display(),
        options.host,
        options.port,
        conf_path.display()
    );
    let error = Command::new(apache_binary())
        .arg("-f")
        .arg(&conf_path)
        .arg("-DFOREGROUND")
        .exec();
    Err(format!("cannot run {}: {error}", apache_binary().display()))
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => parse_serve(&args[1..]).and_then(serve),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rustgi: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn serve_options_parse() {
        let o = parse_serve(&args(&[
            "app.so",
            "--port",
            "9000",
            "--mpm",
            "prefork",
            "--app-config",
            "a=b=c",
            "--url-alias",
            "/static",
            "/srv/static",
        ]))
        .unwrap();
        assert_eq!(o.app, PathBuf::from("app.so"));
        assert_eq!(o.port, 9000);
        assert_eq!(o.mpm, Mpm::Prefork);
        assert_eq!(o.app_config, vec![("a".to_owned(), "b=c".to_owned())]);
        assert_eq!(
            o.url_aliases,
            vec![("/static".to_owned(), PathBuf::from("/srv/static"))]
        );
    }

    #[test]
    fn serve_option_errors() {
        assert!(parse_serve(&args(&[])).unwrap_err().contains("APP.so"));
        assert!(
            parse_serve(&args(&["a.so", "--port", "x"]))
                .unwrap_err()
                .contains("--port")
        );
        assert!(
            parse_serve(&args(&["a.so", "--bogus"]))
                .unwrap_err()
                .contains("--bogus")
        );
        assert!(parse_serve(&args(&["a.so", "--app-config", "novalue"])).is_err());
        assert!(parse_serve(&args(&["a.so", "b.so"])).is_err());
    }
}
