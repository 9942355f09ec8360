//! `rustgi migrate FILE.conf`: a mod_wsgi configuration rewritten for
//! mod_rustgi. Directives are renamed with the options that carry over;
//! every directive or option without a counterpart becomes a comment that
//! says why. Everything else is Apache's and passes through unchanged.
//!
//! Pure text in, text out.

use std::fmt::Write as _;

/// What the comments the migration adds start with.
pub const MARK: &str = "# rustgi migrate:";

/// Directives renamed as they are.
const RENAMED: [(&str, &str); 9] = [
    ("WSGIScriptAlias", "RustgiScriptAlias"),
    ("WSGIDaemonProcess", "RustgiDaemonProcess"),
    ("WSGIProcessGroup", "RustgiProcessGroup"),
    ("WSGISocketPrefix", "RustgiSocketPrefix"),
    ("WSGIScriptReloading", "RustgiScriptReloading"),
    ("WSGIPythonHome", "RustgiPythonHome"),
    ("WSGIPythonPath", "RustgiPythonPath"),
    ("WSGIPassAuthorization", "RustgiPassAuthorization"),
    ("WSGIRestrictEmbedded", "RustgiRestrictEmbedded"),
];

/// Why a mod_wsgi directive has no counterpart (lower-case names).
const DROPPED: [(&str, &str); 22] = [
    (
        "wsgiapplicationgroup",
        "each process has one interpreter, as with %{GLOBAL}; several scripts get a module namespace each",
    ),
    (
        "wsgiimportscript",
        "a script mapped to a daemon group is imported when each of its processes starts",
    ),
    (
        "wsgicallableobject",
        "give callable-object=NAME on the RustgiScriptAlias line",
    ),
    (
        "wsgichunkedrequest",
        "chunked request bodies are always accepted",
    ),
    (
        "wsgiscriptaliasmatch",
        "map each URL prefix with its own RustgiScriptAlias",
    ),
    (
        "wsgisocketrotation",
        "socket names do not change across restarts",
    ),
    (
        "wsgirestrictprocess",
        "a group defined in a virtual host serves that host only",
    ),
    (
        "wsgidispatchscript",
        "map each app with its own RustgiScriptAlias",
    ),
    (
        "wsgihandlerscript",
        "map each app with its own RustgiScriptAlias",
    ),
    (
        "wsgiaccessscript",
        "use Apache's authentication and authorization modules",
    ),
    (
        "wsgiauthuserscript",
        "use Apache's authentication and authorization modules",
    ),
    (
        "wsgiauthgroupscript",
        "use Apache's authentication and authorization modules",
    ),
    (
        "wsgigroupauthoritative",
        "use Apache's authentication and authorization modules",
    ),
    (
        "wsgierroroverride",
        "the app's error responses reach the client as it wrote them",
    ),
    (
        "wsgimapheadtoget",
        "the app sees HEAD and may answer as for GET; Apache drops the body",
    ),
    ("wsgitrustedproxies", "use mod_remoteip"),
    ("wsgitrustedproxyheaders", "use mod_remoteip"),
    (
        "wsgienablesendfile",
        "wsgi.file_wrapper files always go to Apache as file buckets, also from daemon processes; Apache's EnableSendfile On lets it use sendfile",
    ),
    ("wsgirestrictstdin", "a daemon's stdin is /dev/null"),
    ("wsgirestrictstdout", "print() goes to the error log"),
    ("wsgirestrictsignal", "Python installs no signal handler"),
    (
        "wsgilazyinitialization",
        "the interpreter always starts in the process that serves the script",
    ),
];

/// `WSGIDaemonProcess` options that carry over as they are.
const DAEMON_OPTIONS: [&str; 24] = [
    "processes",
    "threads",
    "user",
    "group",
    "home",
    "umask",
    "display-name",
    "maximum-requests",
    "restart-interval",
    "inactivity-timeout",
    "request-timeout",
    "graceful-timeout",
    "shutdown-timeout",
    "startup-timeout",
    "queue-timeout",
    "connect-timeout",
    "socket-timeout",
    "listen-backlog",
    "memory-limit",
    "cpu-time-limit",
    "python-home",
    "python-path",
    "lang",
    "locale",
];

/// Why a `WSGIDaemonProcess` option is dropped.
fn dropped_option(name: &str) -> &'static str {
    match name {
        "deadlock-timeout" | "interrupt-timeout" | "switch-interval" => {
            "GIL-specific: a stuck request is request-timeout's"
        }
        "send-buffer-size"
        | "receive-buffer-size"
        | "header-buffer-size"
        | "response-buffer-size"
        | "response-socket-timeout"
        | "response-flush-delay" => "the daemon protocol streams both ways with bounded buffers",
        "socket-user" => "the socket belongs to Apache's User",
        "supplementary-groups" => "the user's groups come from initgroups",
        "eviction-timeout" => "graceful-timeout covers it",
        "script-user" | "script-group" => {
            "keep the app files root-owned and unwritable by the app's user"
        }
        "chroot" => "use a container",
        _ => "no counterpart",
    }
}

/// Splits a line into words the way Apache does, keeping quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '\'' {
            word.push(c);
            chars.next();
            for ch in chars.by_ref() {
                word.push(ch);
                if ch == c {
                    break;
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

/// A directive line's trailing `# comment`, which Apache does not allow
/// (it would read it as arguments): the line without it, and the comment.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if i > 0 && line[..i].ends_with(char::is_whitespace) => {
                return (line[..i].trim_end(), Some(line[i..].trim()));
            }
            _ => {}
        }
    }
    (line, None)
}

/// Rewrites `config`; `module` is what `LoadModule wsgi_module` becomes.
pub fn migrate(config: &str, module: &str) -> String {
    let mut out = String::new();
    // Continuation lines (a trailing backslash) make one directive.
    let mut logical = String::new();
    for raw in config.lines() {
        if let Some(head) = raw.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        migrate_line(&line, module, &mut out);
    }
    if !logical.is_empty() {
        migrate_line(&logical, module, &mut out);
    }
    out
}

fn migrate_line(line: &str, module: &str, out: &mut String) {
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let body = line.trim();
    let Some(first) = words(body).into_iter().next() else {
        let _ = writeln!(out, "{line}");
        return;
    };
    if first.starts_with('#') || first.starts_with('<') {
        let _ = writeln!(out, "{line}");
        return;
    }
    let (body, comment) = split_comment(body);
    if let Some(comment) = comment {
        let _ = writeln!(out, "{indent}{comment}");
    }
    let words = words(body);
    let name = words[0].as_str();
    let lower = name.to_ascii_lowercase();
    if lower == "loadmodule" && words.get(1).is_some_and(|m| m == "wsgi_module") {
        let _ = writeln!(out, "{indent}{MARK} was: {body}");
        let _ = writeln!(out, "{indent}LoadModule rustgi_module {module}");
        return;
    }
    if let Some((_, why)) = DROPPED.iter().find(|(d, _)| *d == lower) {
        let _ = writeln!(out, "{indent}{MARK} {name} has no counterpart: {why}");
        let _ = writeln!(out, "{indent}# {body}");
        return;
    }
    let Some((_, renamed)) = RENAMED
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(name))
    else {
        if lower.starts_with("wsgi") {
            let _ = writeln!(out, "{indent}{MARK} {name} has no counterpart");
            let _ = writeln!(out, "{indent}# {body}");
        } else {
            let _ = writeln!(out, "{indent}{body}");
        }
        return;
    };
    let mut kept = vec![(*renamed).to_owned()];
    let mut notes = Vec::new();
    for (i, word) in words.iter().enumerate().skip(1) {
        let option = word.trim_matches(|c| c == '"' || c == '\'');
        let Some((key, _)) = option.split_once('=') else {
            kept.push(word.clone());
            continue;
        };
        let keep = match *renamed {
            "RustgiDaemonProcess" => DAEMON_OPTIONS.contains(&key),
            "RustgiScriptAlias" => {
                matches!(
                    key,
                    "process-group" | "application-group" | "callable-object"
                )
            }
            _ => true,
        };
        if keep || (i == 1 && *renamed == "RustgiDaemonProcess") {
            kept.push(word.clone());
        } else if key == "pass-authorization" {
            notes.push(format!(
                "{option}: use RustgiPassAuthorization in a <Location> for the URL"
            ));
        } else {
            notes.push(format!("{option}: {}", dropped_option(key)));
        }
    }
    for note in notes {
        let _ = writeln!(out, "{indent}{MARK} dropped {note}");
    }
    let _ = writeln!(out, "{indent}{}", kept.join(" "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_renamed_and_options_kept_or_explained() {
        let config = "LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so\n\
            WSGIDaemonProcess shop user=shop processes=2 threads=8 \\\n    \
            deadlock-timeout=60 python-home=/srv/venv header-buffer-size=65536\n\
            WSGIProcessGroup shop\n\
            WSGIApplicationGroup %{GLOBAL}\n\
            WSGIScriptAlias / /srv/app/wsgi.py pass-authorization=On # the app\n\
            WSGIChunkedRequest On\n\
            WSGIPerInterpreterGIL On\n\
            <Directory /srv/app>\n    Require all granted\n</Directory>\n";
        let out = migrate(config, "/m/mod_rustgi.so");
        let expect = [
            "# rustgi migrate: was: LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so",
            "LoadModule rustgi_module /m/mod_rustgi.so",
            "# rustgi migrate: dropped deadlock-timeout=60: GIL-specific",
            "# rustgi migrate: dropped header-buffer-size=65536: the daemon protocol streams",
            "RustgiDaemonProcess shop user=shop processes=2 threads=8 python-home=/srv/venv",
            "RustgiProcessGroup shop",
            "# rustgi migrate: WSGIApplicationGroup has no counterpart: each process has one interpreter",
            "# WSGIApplicationGroup %{GLOBAL}",
            "# the app",
            "# rustgi migrate: dropped pass-authorization=On: use RustgiPassAuthorization",
            "RustgiScriptAlias / /srv/app/wsgi.py",
            "# rustgi migrate: WSGIChunkedRequest has no counterpart: chunked request bodies",
            "# rustgi migrate: WSGIPerInterpreterGIL has no counterpart",
            "<Directory /srv/app>",
            "    Require all granted",
        ];
        for want in expect {
            assert!(
                out.lines().any(|l| l.starts_with(want)),
                "missing {want:?} in\n{out}"
            );
        }
        assert!(!out.lines().any(|l| l.starts_with("WSGI")), "{out}");
    }

    #[test]
    fn comments_and_quotes_are_respected() {
        assert_eq!(split_comment("A b # c"), ("A b", Some("# c")));
        assert_eq!(split_comment("A \"b # c\""), ("A \"b # c\"", None));
        assert_eq!(split_comment("A b#c"), ("A b#c", None));
        assert_eq!(words("A 'b c' d"), ["A", "'b c'", "d"]);
        let out = migrate("  # a comment\n\nServerName x\n", "/m.so");
        assert_eq!(out, "  # a comment\n\nServerName x\n");
    }
}
