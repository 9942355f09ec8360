//! The Rustgi* directives: parsing their arguments and merging scopes.
//!
//! Pure code: the FFI layer hands each directive's arguments here and turns
//! an `Err` into Apache's syntax error, which names the config file and line.

use std::path::PathBuf;
use std::sync::Arc;

use crate::alias::UrlPrefix;
use crate::daemon_spec::{DaemonSpec, check_group_name};
pub use crate::directive_error::DirectiveError;

/// The process group that runs apps inside the Apache child itself.
pub const GLOBAL_GROUP: &str = "%{GLOBAL}";

/// Where the requests of a URL are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessGroup {
    /// In the Apache child (`%{GLOBAL}`).
    Embedded,
    /// In the daemon processes of the `RustgiDaemonProcess` of this name.
    Daemon(String),
}

impl ProcessGroup {
    pub fn name(&self) -> &str {
        match self {
            ProcessGroup::Embedded => GLOBAL_GROUP,
            ProcessGroup::Daemon(name) => name,
        }
    }
}

/// Parses a process group name as given to `RustgiProcessGroup` or to
/// `process-group=` of `RustgiScriptAlias`.
pub fn parse_process_group(
    directive: &'static str,
    value: &str,
) -> Result<ProcessGroup, DirectiveError> {
    if value == GLOBAL_GROUP {
        return Ok(ProcessGroup::Embedded);
    }
    // Whether the group exists is known once the whole configuration is read.
    check_group_name(value)
        .map(|()| ProcessGroup::Daemon(value.to_owned()))
        .map_err(|e| DirectiveError::new(directive, e))
}

/// Parses an On/Off flag the way Apache's FLAG directives do (any case).
pub fn parse_flag(directive: &'static str, value: &str) -> Result<bool, DirectiveError> {
    if value.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(DirectiveError::new(
            directive,
            format!("'{value}' is not On or Off"),
        ))
    }
}

/// One `RustgiScriptAlias URL-PATH FILE [option=value ...]`: FILE is an
/// app's shared library, or a WSGI script (`.py`, `.wsgi`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptAliasSpec {
    pub prefix: UrlPrefix,
    pub file: PathBuf,
    /// The group named on the line itself; it wins over RustgiProcessGroup.
    pub process_group: Option<ProcessGroup>,
    /// `callable-object=`: the WSGI callable's name (scripts only).
    pub callable: Option<String>,
    /// `application-group=`: shown to the app as
    /// `mod_wsgi.application_group`; every script of a process shares its
    /// one interpreter, each in a module namespace of its own.
    pub application_group: Option<String>,
}

pub const SCRIPT_ALIAS: &str = "RustgiScriptAlias";

/// Parses the arguments of `RustgiScriptAlias` (the file is checked
/// separately, see [`crate::app_file`]).
pub fn parse_script_alias(args: &[&str]) -> Result<ScriptAliasSpec, DirectiveError> {
    let (url, file, options) = match args {
        [url, file, options @ ..] => (*url, *file, options),
        _ => {
            return Err(DirectiveError::new(
                SCRIPT_ALIAS,
                "expected URL-PATH FILE.so|SCRIPT.py [process-group=NAME] [callable-object=NAME]",
            ));
        }
    };
    let prefix = UrlPrefix::parse(url).map_err(|e| DirectiveError::new(SCRIPT_ALIAS, e))?;
    if !file.starts_with('/') {
        return Err(DirectiveError::new(
            SCRIPT_ALIAS,
            format!("'{file}' is not an absolute path"),
        ));
    }
    let file = PathBuf::from(file);
    let script = rustgi_abi::python::is_script(&file);
    let mut spec = ScriptAliasSpec {
        prefix,
        file,
        process_group: None,
        callable: None,
        application_group: None,
    };
    for option in options {
        match option.split_once('=') {
            Some(("process-group", value)) => {
                spec.process_group = Some(parse_process_group(SCRIPT_ALIAS, value)?);
            }
            Some(("callable-object", value)) if script => {
                spec.callable = Some(python_name(value)?);
            }
            Some(("application-group", value)) if script && !value.is_empty() => {
                spec.application_group = Some(value.to_owned());
            }
            Some(("callable-object" | "application-group", _)) if !script => {
                return Err(DirectiveError::new(
                    SCRIPT_ALIAS,
                    format!("'{option}' applies to WSGI scripts (.py, .wsgi) only"),
                ));
            }
            _ => {
                return Err(DirectiveError::new(
                    SCRIPT_ALIAS,
                    format!(
                        "unknown option '{option}' (known: process-group=NAME, and for WSGI \
                         scripts callable-object=NAME and application-group=NAME)"
                    ),
                ));
            }
        }
    }
    Ok(spec)
}

/// A WSGI callable's name: a Python identifier.
fn python_name(value: &str) -> Result<String, DirectiveError> {
    if rustgi_abi::python::is_callable_name(value) {
        Ok(value.to_owned())
    } else {
        Err(DirectiveError::new(
            SCRIPT_ALIAS,
            format!("callable-object={value}: not a Python name"),
        ))
    }
}

/// Ordered `RustgiAppConfig` pairs; a key set again replaces its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppConfig {
    pairs: Vec<(String, String)>,
}

impl AppConfig {
    pub fn set(&mut self, key: &str, value: &str) {
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value.to_owned(),
            None => self.pairs.push((key.to_owned(), value.to_owned())),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The outer scope's pairs overridden, key by key, by the inner one's.
    pub fn merged(outer: &AppConfig, inner: &AppConfig) -> AppConfig {
        let mut merged = outer.clone();
        for (key, value) in &inner.pairs {
            merged.set(key, value);
        }
        merged
    }
}

/// Per-directory settings: those of `<Directory>`/`<Location>`, and of the
/// server or virtual host outside them.
#[derive(Debug, Clone, Default)]
pub struct DirConfig {
    pub app_config: AppConfig,
    pub process_group: Option<ProcessGroup>,
    /// Where `RustgiProcessGroup` was set, for messages.
    pub process_group_at: Option<String>,
    pub pass_authorization: Option<bool>,
}

impl DirConfig {
    pub fn merge(outer: &DirConfig, inner: &DirConfig) -> DirConfig {
        DirConfig {
            app_config: AppConfig::merged(&outer.app_config, &inner.app_config),
            process_group: inner
                .process_group
                .clone()
                .or_else(|| outer.process_group.clone()),
            process_group_at: if inner.process_group.is_some() {
                inner.process_group_at.clone()
            } else {
                outer.process_group_at.clone()
            },
            pass_authorization: inner.pass_authorization.or(outer.pass_authorization),
        }
    }

    pub fn pass_authorization(&self) -> bool {
        self.pass_authorization.unwrap_or(false)
    }
}

/// A script alias as one server (virtual host) uses it: the parsed line and
/// the slot its app instance lives in. Each virtual host gets slots of its own,
/// inherited aliases included, so that each is initialised with that host's
/// configuration.
#[derive(Debug)]
pub struct ScriptAlias<Slot> {
    pub spec: ScriptAliasSpec,
    /// Where the directive was written ("line N of FILE"), for messages.
    pub defined_at: String,
    pub slot: Arc<Slot>,
}

/// Per-server (virtual host) settings.
#[derive(Debug)]
pub struct ServerConfig<Slot> {
    pub aliases: Vec<ScriptAlias<Slot>>,
    /// The daemon groups defined in this server (not inherited: a group of
    /// the main server is global, one of a virtual host serves that host).
    pub daemons: Vec<DaemonSpec>,
    /// `RustgiSocketPrefix` (main server only).
    pub socket_prefix: Option<String>,
    pub restrict_embedded: Option<bool>,
    pub script_reloading: Option<bool>,
    /// `RustgiPythonHome` (main server only): embedded mode's Python.
    pub python_home: Option<String>,
    /// `RustgiPythonPath` (main server only), in order.
    pub python_path: Vec<String>,
    /// Whether a `RustgiProcessGroup` appears inside a `<Location>` or
    /// `<Directory>` section: then where an alias runs is known per request
    /// only.
    pub sectioned_process_group: bool,
}

impl<Slot> Default for ServerConfig<Slot> {
    fn default() -> Self {
        Self {
            aliases: Vec::new(),
            daemons: Vec::new(),
            socket_prefix: None,
            restrict_embedded: None,
            script_reloading: None,
            python_home: None,
            python_path: Vec::new(),
            sectioned_process_group: false,
        }
    }
}

impl<Slot> ServerConfig<Slot> {
    /// A virtual host's aliases come first, then the main server's that the
    /// host does not redefine for the same URL-PATH; `new_slot` makes the
    /// fresh slot of each inherited alias.
    pub fn merge(
        base: &ServerConfig<Slot>,
        vhost: &ServerConfig<Slot>,
        new_slot: impl Fn() -> Slot,
    ) -> Self {
        let mut aliases: Vec<ScriptAlias<Slot>> = vhost
            .aliases
            .iter()
            .map(|a| ScriptAlias {
                spec: a.spec.clone(),
                defined_at: a.defined_at.clone(),
                slot: Arc::clone(&a.slot),
            })
            .collect();
        for inherited in &base.aliases {
            if aliases
                .iter()
                .all(|a| a.spec.prefix != inherited.spec.prefix)
            {
                aliases.push(ScriptAlias {
                    spec: inherited.spec.clone(),
                    defined_at: inherited.defined_at.clone(),
                    slot: Arc::new(new_slot()),
                });
            }
        }
        Self {
            aliases,
            daemons: vhost.daemons.clone(),
            socket_prefix: base.socket_prefix.clone(),
            restrict_embedded: vhost.restrict_embedded.or(base.restrict_embedded),
            script_reloading: vhost.script_reloading.or(base.script_reloading),
            python_home: base.python_home.clone(),
            python_path: base.python_path.clone(),
            sectioned_process_group: base.sectioned_process_group || vhost.sectioned_process_group,
        }
    }

    /// Adds a daemon group, refusing a second definition of a name here.
    pub fn add_daemon(&mut self, spec: DaemonSpec) -> Result<(), DirectiveError> {
        if let Some(first) = self.daemons.iter().find(|d| d.name == spec.name) {
            let at = first
                .defined_at
                .as_deref()
                .map_or_else(String::new, |at| format!(" on {at}"));
            return Err(DirectiveError::new(
                crate::daemon_spec::DAEMON_PROCESS,
                format!("group '{}' is already defined{at}", spec.name),
            ));
        }
        self.daemons.push(spec);
        Ok(())
    }

    /// Whether requests must not run embedded (`RustgiRestrictEmbedded`).
    pub fn restrict_embedded(&self) -> bool {
        self.restrict_embedded.unwrap_or(false)
    }

    /// Whether daemons restart when their app file changes (default On).
    pub fn script_reloading(&self) -> bool {
        self.script_reloading.unwrap_or(true)
    }

    /// With `RustgiRestrictEmbedded On`, the aliases that would run in
    /// Apache's children whatever the request (no `process-group=`, no
    /// daemon group for the server, none in a section): `server_group` is
    /// the server's `RustgiProcessGroup`.
    pub fn refused_embedded(
        &self,
        server_group: Option<&ProcessGroup>,
    ) -> impl Iterator<Item = &ScriptAlias<Slot>> {
        let all_embedded = self.restrict_embedded()
            && !self.sectioned_process_group
            && !matches!(server_group, Some(ProcessGroup::Daemon(_)));
        self.aliases.iter().filter(move |a| {
            all_embedded && !matches!(a.spec.process_group, Some(ProcessGroup::Daemon(_)))
        })
    }

    /// The alias with the longest URL-PATH that matches `uri`, and the length
    /// of that URL-PATH as matched.
    pub fn find_alias(&self, uri: &[u8]) -> Option<(&ScriptAlias<Slot>, usize)> {
        self.aliases
            .iter()
            .filter_map(|a| a.spec.prefix.matches(uri).map(|len| (a, len)))
            .max_by_key(|(a, _)| a.spec.prefix.as_str().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_alias_parses_with_and_without_group() {
        let a = parse_script_alias(&["/app/", "/srv/app.so"]).unwrap();
        assert_eq!(a.prefix.as_str(), "/app");
        assert_eq!(a.file, PathBuf::from("/srv/app.so"));
        assert_eq!(a.process_group, None);
        let a = parse_script_alias(&["/", "/srv/app.so", "process-group=%{GLOBAL}"]).unwrap();
        assert_eq!(a.process_group, Some(ProcessGroup::Embedded));
        assert_eq!(a.prefix.as_str(), "");
    }

    #[test]
    fn script_alias_errors_name_the_directive_and_cause() {
        let e = parse_script_alias(&["/app"]).unwrap_err();
        assert_eq!(e.directive, SCRIPT_ALIAS);
        assert!(e.message.contains("URL-PATH FILE.so"));
        let e = parse_script_alias(&["/app", "/srv/a.so", "foo=bar"]).unwrap_err();
        assert!(e.to_string().contains("unknown option 'foo=bar'"), "{e}");
        let e = parse_script_alias(&["/app", "relative.so"]).unwrap_err();
        assert!(e.message.contains("absolute"));
        let e = parse_script_alias(&["app", "/srv/a.so"]).unwrap_err();
        assert!(e.message.contains("must start with '/'"), "{e}");
        let e = parse_script_alias(&["/app", "/srv/a.so", "process-group=a/b"]).unwrap_err();
        assert!(e.message.contains("group name 'a/b'"), "{e}");
        let a = parse_script_alias(&["/app", "/srv/a.so", "process-group=shop"]).unwrap();
        assert_eq!(a.process_group, Some(ProcessGroup::Daemon("shop".into())));
        let e = parse_script_alias(&["/app", "/srv/a.so", "callable-object=app"]).unwrap_err();
        assert!(e.message.contains("WSGI scripts (.py, .wsgi) only"), "{e}");
    }

    #[test]
    fn wsgi_script_options() {
        let a = parse_script_alias(&[
            "/",
            "/srv/app/wsgi.py",
            "process-group=shop",
            "callable-object=app",
            "application-group=%{GLOBAL}",
        ])
        .unwrap();
        assert_eq!(a.callable.as_deref(), Some("app"));
        assert_eq!(a.application_group.as_deref(), Some("%{GLOBAL}"));
        let a = parse_script_alias(&["/", "/srv/app/app.wsgi"]).unwrap();
        assert_eq!((a.callable, a.application_group), (None, None));
        let e = parse_script_alias(&["/", "/srv/app.py", "callable-object=a.b"]).unwrap_err();
        assert!(
            e.message.contains("callable-object=a.b: not a Python name"),
            "{e}"
        );
    }

    #[test]
    fn process_groups() {
        assert_eq!(
            parse_process_group("RustgiProcessGroup", "%{GLOBAL}"),
            Ok(ProcessGroup::Embedded)
        );
        assert_eq!(
            parse_process_group("RustgiProcessGroup", "shop"),
            Ok(ProcessGroup::Daemon("shop".into()))
        );
        let e = parse_process_group("RustgiProcessGroup", "").unwrap_err();
        assert_eq!(e.directive, "RustgiProcessGroup");
        assert!(parse_process_group("RustgiProcessGroup", "x y").is_err());
    }

    #[test]
    fn daemon_groups_are_per_server_and_unique() {
        let mut server: ServerConfig<u32> = ServerConfig::default();
        server.add_daemon(DaemonSpec::new("shop")).unwrap();
        let e = server.add_daemon(DaemonSpec::new("shop")).unwrap_err();
        assert!(e.message.contains("already defined"));
        let base = ServerConfig::<u32> {
            socket_prefix: Some("/run/x".into()),
            restrict_embedded: Some(true),
            ..server
        };
        let vhost = ServerConfig::<u32>::default();
        let merged = ServerConfig::merge(&base, &vhost, || 0);
        assert!(merged.daemons.is_empty(), "groups are not inherited");
        assert_eq!(merged.socket_prefix.as_deref(), Some("/run/x"));
        assert!(merged.restrict_embedded());
        assert!(merged.script_reloading());
    }

    #[test]
    fn flags_accept_on_off_in_any_case() {
        assert_eq!(parse_flag("X", "On"), Ok(true));
        assert_eq!(parse_flag("X", "off"), Ok(false));
        assert!(
            parse_flag("X", "Maybe")
                .unwrap_err()
                .message
                .contains("'Maybe'")
        );
    }

    #[test]
    fn app_config_inner_overrides_per_key() {
        let mut outer = AppConfig::default();
        outer.set("a", "1");
        outer.set("b", "2");
        let mut inner = AppConfig::default();
        inner.set("b", "20");
        inner.set("c", "30");
        let merged = AppConfig::merged(&outer, &inner);
        assert_eq!(
            merged.pairs(),
            &[
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "20".to_owned()),
                ("c".to_owned(), "30".to_owned())
            ]
        );
        let mut again = merged.clone();
        again.set("a", "one");
        assert_eq!(again.get("a"), Some("one"));
        assert_eq!(again.pairs().len(), 3);
    }

    #[test]
    fn dir_config_merge_prefers_inner() {
        let outer = DirConfig {
            pass_authorization: Some(true),
            ..Default::default()
        };
        let inner = DirConfig::default();
        assert!(DirConfig::merge(&outer, &inner).pass_authorization());
        let inner = DirConfig {
            pass_authorization: Some(false),
            ..Default::default()
        };
        assert!(!DirConfig::merge(&outer, &inner).pass_authorization());
        assert!(!DirConfig::default().pass_authorization());
    }

    fn alias(url: &str, n: u32) -> ScriptAlias<u32> {
        ScriptAlias {
            spec: parse_script_alias(&[url, "/srv/a.so"]).unwrap(),
            defined_at: "test".into(),
            slot: Arc::new(n),
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let server = ServerConfig {
            aliases: vec![alias("/", 1), alias("/hello", 2), alias("/hello/deep", 3)],
            ..Default::default()
        };
        let find = |uri: &str| {
            server
                .find_alias(uri.as_bytes())
                .map(|(a, len)| (*a.slot, len))
        };
        assert_eq!(find("/x"), Some((1, 0)));
        assert_eq!(find("/hello"), Some((2, 6)));
        assert_eq!(find("/hello/x"), Some((2, 6)));
        assert_eq!(find("/helloworld"), Some((1, 0)));
        assert_eq!(find("/hello/deep/er"), Some((3, 11)));
    }

    #[test]
    fn restrict_embedded_refuses_only_what_always_runs_embedded() {
        let mut server = ServerConfig {
            aliases: vec![alias("/a", 1)],
            ..Default::default()
        };
        server.aliases.push(ScriptAlias {
            spec: parse_script_alias(&["/d", "/srv/a.so", "process-group=shop"]).unwrap(),
            defined_at: "test".into(),
            slot: Arc::new(2),
        });
        let refused = |s: &ServerConfig<u32>, group: Option<&ProcessGroup>| -> Vec<u32> {
            s.refused_embedded(group).map(|a| *a.slot).collect()
        };
        assert!(
            refused(&server, None).is_empty(),
            "RustgiRestrictEmbedded is Off"
        );
        server.restrict_embedded = Some(true);
        assert_eq!(refused(&server, None), vec![1]);
        assert_eq!(refused(&server, Some(&ProcessGroup::Embedded)), vec![1]);
        let shop = ProcessGroup::Daemon("shop".into());
        assert!(
            refused(&server, Some(&shop)).is_empty(),
            "the server's group"
        );
        server.sectioned_process_group = true;
        assert!(refused(&server, None).is_empty(), "decided per request");
    }

    #[test]
    fn vhost_merge_inherits_with_fresh_slots_and_keeps_overrides() {
        let base = ServerConfig {
            aliases: vec![alias("/", 1), alias("/shared", 2)],
            ..Default::default()
        };
        let vhost = ServerConfig {
            aliases: vec![alias("/", 10)],
            ..Default::default()
        };
        let merged = ServerConfig::merge(&base, &vhost, || 99);
        let slots: Vec<(String, u32)> = merged
            .aliases
            .iter()
            .map(|a| (a.spec.prefix.as_str().to_owned(), *a.slot))
            .collect();
        assert_eq!(slots, vec![("".to_owned(), 10), ("/shared".to_owned(), 99)]);
    }
}
