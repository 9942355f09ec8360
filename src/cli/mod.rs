//! The `rustgi` command, mod_wsgi-express's equivalent for mod_rustgi:
//!
//! | command | what it does |
//! |---|---|
//! | `serve APP.so\|CRATE_DIR [options]` | builds the crate when given one, writes a server root and runs Apache in the foreground ([`serve`]) |
//! | `setup-server APP.so\|CRATE_DIR [options]` | writes the server root only, with an `apachectl` ([`setup`]) |
//! | `module-config` | prints the `LoadModule` line for the module ([`install`]) |
//! | `module-location` | prints the module's path |
//! | `install-module [--destdir DIR]` | installs the module and `rustgi-daemon` where Apache keeps modules |
//! | `new NAME` | scaffolds an app crate ([`new`]) |
//! | `status URL` | prints a server's status page as a table ([`status`]) |

pub mod args;
pub mod cargo;
pub mod install;
pub mod locate;
pub mod migrate;
pub mod new;
#[allow(unsafe_code)]
pub mod serve;
pub mod setup;
pub mod site;
pub mod status;

use std::process::ExitCode;

/// The general help.
pub const USAGE: &str = "\
usage: rustgi COMMAND [ARGS]

Runs compiled web apps under Apache httpd with mod_rustgi.

commands:
  serve APP|CRATE_DIR [options]      serve the app under Apache in the foreground
                                     (builds the crate first); Ctrl-C stops it
  setup-server APP|CRATE_DIR [options]
                                     write the server root only, with an apachectl
  module-config [--module PATH]      print the LoadModule line for mod_rustgi
  module-location [--module PATH]    print where mod_rustgi is
  install-module [--destdir DIR]     install mod_rustgi and rustgi-daemon where Apache
                                     keeps modules, and the a2enmod files
  new NAME [--app-sdk DIR]           create an app crate NAME/ that `rustgi serve .` serves
  status URL [--json] [--insecure]   print the status page at URL as a table
  migrate FILE.conf                  print a mod_wsgi configuration rewritten for mod_rustgi
  help [COMMAND]                     print this, or a command's options

`rustgi help serve` lists the options of serve and setup-server.";

fn serve_usage(command: &str) -> String {
    let what = if command == "serve" {
        "Serves the app (a shared library, or a crate's directory, which is built\n\
         with cargo build --release) under Apache httpd in the foreground, with\n\
         its logs on the terminal. By default it runs in a daemon process group;\n\
         Ctrl-C stops Apache and everything it started."
    } else {
        "Writes the server root (httpd.conf and an apachectl script) that serves\n\
         the app, and prints how to start it. Its logs go to files in the server root."
    };
    format!(
        "usage: rustgi {command} APP|CRATE_DIR [options]\n\n{what}\n\nAPP is an app's shared library (APP.so) or a WSGI script (APP.py, APP.wsgi).\n\noptions:\n{}",
        site::OPTIONS_HELP
    )
}

/// The help of `command`, if it has one.
pub fn command_usage(command: &str) -> Option<String> {
    Some(match command {
        "serve" | "start-server" | "setup-server" => serve_usage(command),
        "module-config" => "usage: rustgi module-config [--module PATH]\n\n\
             Prints the LoadModule line for mod_rustgi: the module beside this command\n\
             (a build tree), else the installed one."
            .to_owned(),
        "module-location" => "usage: rustgi module-location [--module PATH]\n\n\
             Prints the path of mod_rustgi, found as module-config finds it."
            .to_owned(),
        "install-module" => {
            "usage: rustgi install-module [--destdir DIR] [--module PATH] [--modules-dir DIR]\n\n\
             Installs mod_rustgi as mod_rustgi.so and rustgi-daemon beside it in Apache's\n\
             module directory (apxs -q LIBEXECDIR), and rustgi.load and rustgi.conf in\n\
             /etc/apache2/mods-available when that exists, as apxs -i would. --destdir\n\
             puts every file under DIR instead."
                .to_owned()
        }
        "new" => "usage: rustgi new NAME [--app-sdk DIR]\n\n\
             Creates the app crate NAME/ (a cdylib on app-sdk with a hello handler)\n\
             that `rustgi serve .` builds and serves. It depends on app-sdk by path:\n\
             the source tree's, the installed one (/usr/share/rustgi/app-sdk), or DIR."
            .to_owned(),
        "migrate" => "usage: rustgi migrate FILE.conf [--module PATH]\n\n\
             Prints the mod_wsgi configuration in FILE.conf (- for stdin) rewritten for\n\
             mod_rustgi: WSGI directives renamed with the options that carry over,\n\
             LoadModule wsgi_module replaced by mod_rustgi's, and a comment, starting\n\
             with `# rustgi migrate:`, on every directive or option that has no\n\
             counterpart, saying why."
            .to_owned(),
        "status" => "usage: rustgi status URL [--host NAME] [--json] [--insecure]\n\n\
             Fetches URL?json (a status page: SetHandler rustgi-status) and prints each\n\
             daemon group's processes and recent restarts as a table. --host sends NAME\n\
             as the Host header (a status page in a name-based virtual host, reached by\n\
             address); --json prints the document itself; --insecure accepts any\n\
             certificate (https)."
            .to_owned(),
        _ => return None,
    })
}

/// `rustgi migrate FILE.conf [--module PATH]`.
fn migrate_command(items: &[String]) -> Result<(), String> {
    let mut file = None;
    let mut module = None;
    let mut args = args::Args::new(items);
    while let Some(arg) = args.next() {
        match arg {
            args::Arg::Option(n, inline) if n == "--module" => {
                module = Some(args.path(&n, inline)?);
            }
            args::Arg::Option(n, _) => return Err(format!("migrate: unknown option {n}")),
            args::Arg::Positional(p) if file.is_none() => file = Some(p),
            args::Arg::Positional(p) => return Err(format!("migrate: unexpected argument '{p}'")),
        }
    }
    let file = file.ok_or("migrate: the mod_wsgi configuration file is missing")?;
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
    } else {
        std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?
    };
    // The installed module's path when none is found beside this command.
    let module = locate::find_module(module.as_deref()).map_or_else(
        |_| "/usr/lib/apache2/modules/mod_rustgi.so".to_owned(),
        |m| m.display().to_string(),
    );
    print!("{}", migrate::migrate(&text, &module));
    Ok(())
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let Some(command) = args.first().map(String::as_str) else {
        // A command is required: a script that forgot it must not pass.
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        match command_usage(command) {
            Some(text) => println!("{text}"),
            None => println!("{USAGE}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    match command {
        "serve" | "start-server" => serve::serve(site::parse_site(rest)?),
        "setup-server" => setup::setup_server(site::parse_site(rest)?).map(|()| ExitCode::SUCCESS),
        "module-config" => install::module_config(rest).map(|()| ExitCode::SUCCESS),
        "module-location" => install::module_location(rest).map(|()| ExitCode::SUCCESS),
        "install-module" => {
            install::install_module(install::parse_install(rest)?).map(|()| ExitCode::SUCCESS)
        }
        "new" => new::new_crate(new::parse_new(rest)?).map(|()| ExitCode::SUCCESS),
        "migrate" => migrate_command(rest).map(|()| ExitCode::SUCCESS),
        "status" => status::status(status::parse_status(rest)?).map(|()| ExitCode::SUCCESS),
        "help" | "-h" | "--help" => {
            match rest.first().and_then(|c| command_usage(c)) {
                Some(text) => println!("{text}"),
                None => println!("{USAGE}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        "version" | "-V" | "--version" => {
            println!("rustgi {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!(
            "unknown command '{other}' (rustgi help lists them)"
        )),
    }
}

/// Runs the command line `args` (without the program's name); errors go
/// to stderr as `rustgi: MESSAGE` with exit status 1.
pub fn main(args: &[String]) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("rustgi: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_help() {
        for c in [
            "serve",
            "setup-server",
            "module-config",
            "module-location",
            "install-module",
            "new",
            "status",
            "migrate",
        ] {
            let text = command_usage(c).unwrap();
            assert!(text.starts_with(&format!("usage: rustgi {c}")), "{text}");
            assert!(USAGE.contains(c), "{c} missing from the usage");
        }
        assert!(command_usage("serve").unwrap().contains("--https-port"));
        assert!(command_usage("bogus").is_none());
    }

    #[test]
    fn unknown_command_fails() {
        let err = run(&["bogus".to_owned()]).unwrap_err();
        assert!(err.contains("bogus"), "{err}");
    }
}
