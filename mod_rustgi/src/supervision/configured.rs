//! The daemon groups a configuration defines, the apps each may serve, and
//! the checks `apache2 -t` makes of them: a name defined twice, a group
//! named where it is not defined, a user that cannot run it, a script its
//! user cannot read, an alias that `RustgiRestrictEmbedded` leaves nowhere
//! to run.

use std::path::{Path, PathBuf};

use super::identity::{Accounts, ApacheIds, embedded_identity, identity, who};
use crate::access::{enterable_by, readable_by};
use crate::config::{
    AppConfig, DirConfig, GLOBAL_GROUP, ProcessGroup, ScriptAliasSpec, ServerConfig,
};
use crate::daemon_plan::PlannedApp;
use crate::daemon_spec::DaemonSpec;
use crate::wsgi_script::is_wsgi_script;

/// One server of the configuration (the main server or a virtual host), as
/// the supervisor reads it.
pub struct Server<'a, Slot> {
    /// Its ServerName.
    pub host: String,
    pub is_virtual: bool,
    pub conf: &'a ServerConfig<Slot>,
    /// Its settings outside any `<Directory>` or `<Location>`.
    pub dir: &'a DirConfig,
}

/// One group as the configuration defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct Defined {
    pub spec: DaemonSpec,
    /// The ServerName of the virtual host that defined it; None for the
    /// main server's groups, which serve every host.
    pub scope: Option<String>,
    /// The apps it loads at start, then those it may load on a first
    /// request.
    pub apps: Vec<PlannedApp>,
}

/// The groups `servers` (main server first) define, with the apps each may
/// serve: it loads at start those of the aliases that run in it, and may
/// load on request those of every other alias it can see (a
/// `RustgiProcessGroup` in a section can send any of them to it).
/// `app_for` says where an alias's app comes from in a group: the file the
/// group loads and its init configuration (a WSGI script's is the Python
/// bridge's).
pub fn defined_groups<Slot>(
    servers: &[Server<'_, Slot>],
    app_for: impl Fn(&ScriptAliasSpec, &AppConfig, &DaemonSpec) -> (PathBuf, AppConfig),
) -> Result<Vec<Defined>, String> {
    let mut defined: Vec<Defined> = Vec::new();
    let mut seen: Vec<&ServerConfig<Slot>> = Vec::new();
    for s in servers {
        // A configuration shared with another server defines its groups once.
        if seen.iter().any(|&c| std::ptr::eq(c, s.conf)) {
            continue;
        }
        seen.push(s.conf);
        let scope = s.is_virtual.then(|| s.host.clone());
        for spec in &s.conf.daemons {
            if let Some(other) = defined.iter().find(|d| d.spec.name == spec.name) {
                let at = |spec: &DaemonSpec| spec.defined_at.clone().unwrap_or_else(|| "?".into());
                let scope = |scope: Option<&str>| scope.unwrap_or("the main server").to_owned();
                return Err(format!(
                    "RustgiDaemonProcess: group '{}' is defined twice, on {} (for {}) and on {} \
                     (for {})",
                    spec.name,
                    at(spec),
                    scope(s.is_virtual.then_some(s.host.as_str())),
                    at(&other.spec),
                    scope(other.scope.as_deref())
                ));
            }
            defined.push(Defined {
                spec: spec.clone(),
                scope: scope.clone(),
                apps: Vec::new(),
            });
        }
    }
    // The app files each group may load, beside those it preloads.
    let mut allowed: Vec<Vec<String>> = vec![Vec::new(); defined.len()];
    for s in servers {
        let host = s.host.as_str();
        for alias in &s.conf.aliases {
            let group = alias
                .spec
                .process_group
                .as_ref()
                .or(s.dir.process_group.as_ref());
            for (d, allowed) in defined.iter_mut().zip(allowed.iter_mut()) {
                let visible = d.scope.as_ref().is_none_or(|h| h == host);
                if !visible {
                    continue;
                }
                let (file, init_config) = app_for(&alias.spec, &s.dir.app_config, &d.spec);
                let file = file.to_string_lossy().into_owned();
                if !allowed.contains(&file) {
                    allowed.push(file.clone());
                }
                if group == Some(&ProcessGroup::Daemon(d.spec.name.clone())) {
                    // The script's own change reloads the group: its app
                    // file is the bridge, which does not change.
                    let watch = if is_wsgi_script(&alias.spec.file) {
                        vec![alias.spec.file.to_string_lossy().into_owned()]
                    } else {
                        Vec::new()
                    };
                    let app = PlannedApp {
                        file,
                        init_config: init_config.pairs().to_vec(),
                        preload: true,
                        watch,
                    };
                    if !d.apps.contains(&app) {
                        d.apps.push(app);
                    }
                }
            }
            if let Some(ProcessGroup::Daemon(name)) = group {
                let at = if alias.spec.process_group.is_some() {
                    format!("RustgiScriptAlias on {}", alias.defined_at)
                } else {
                    format!(
                        "RustgiProcessGroup on {}",
                        s.dir.process_group_at.as_deref().unwrap_or("?")
                    )
                };
                check_visible(&defined, name, host, &at)?;
            }
        }
        // A server-wide RustgiProcessGroup must name a group too, aliases or not.
        if let (Some(ProcessGroup::Daemon(name)), Some(at)) =
            (&s.dir.process_group, &s.dir.process_group_at)
        {
            check_visible(&defined, name, host, &format!("RustgiProcessGroup on {at}"))?;
        }
    }
    // Apps not preloaded are still allowed, loaded on their first request.
    for (d, allowed) in defined.iter_mut().zip(allowed) {
        for file in allowed {
            if !d.apps.iter().any(|a| a.file == file) {
                d.apps.push(PlannedApp {
                    file,
                    init_config: Vec::new(),
                    preload: false,
                    watch: Vec::new(),
                });
            }
        }
    }
    Ok(defined)
}

/// Fails unless group `name` is defined for virtual host `host`.
fn check_visible(defined: &[Defined], name: &str, host: &str, at: &str) -> Result<(), String> {
    let known = defined
        .iter()
        .any(|d| d.spec.name == name && d.scope.as_ref().is_none_or(|h| h == host));
    if known {
        Ok(())
    } else {
        Err(format!(
            "{at}: process group '{name}' is not defined for this virtual host \
             (RustgiDaemonProcess {name} ... in the main server or in a virtual host \
             with ServerName {host})"
        ))
    }
}

/// Whether the `defined` groups can run: their users and homes, the app
/// files each process must read, and `RustgiRestrictEmbedded`. An error
/// names the directive and the cause.
pub fn check<Slot>(
    servers: &[Server<'_, Slot>],
    defined: &[Defined],
    apache: &ApacheIds,
    accounts: &impl Accounts,
) -> Result<(), String> {
    for group in defined {
        let name = &group.spec.name;
        let identity = identity(&group.spec, apache, accounts)
            .map_err(|e| format!("RustgiDaemonProcess {name}: {e}"))?;
        if let Some(home) = &group.spec.home {
            let entered = match &identity {
                Some(identity) => enterable_by(Path::new(home), &who(identity, accounts)),
                None => std::fs::metadata(home)
                    .map_err(|e| format!("{home}: {e}"))
                    .and_then(|m| {
                        m.is_dir()
                            .then_some(())
                            .ok_or_else(|| format!("{home} is not a directory"))
                    }),
            };
            entered.map_err(|e| format!("RustgiDaemonProcess {name}: home={home}: {e}"))?;
        }
    }
    check_app_files(servers, defined, apache, accounts)?;
    check_restricted(servers)
}

/// Each app file (a library or a WSGI script) must be readable by the user
/// that loads it: its daemon group's, or Apache's `User` when it runs
/// embedded. Only root switches users; otherwise every process runs as
/// this one.
fn check_app_files<Slot>(
    servers: &[Server<'_, Slot>],
    defined: &[Defined],
    apache: &ApacheIds,
    accounts: &impl Accounts,
) -> Result<(), String> {
    if !apache.is_root() {
        return Ok(());
    }
    for s in servers {
        for alias in &s.conf.aliases {
            let group = alias
                .spec
                .process_group
                .as_ref()
                .or(s.dir.process_group.as_ref());
            let identity = match group {
                Some(ProcessGroup::Daemon(name)) => {
                    let Some(d) = defined.iter().find(|d| d.spec.name == *name) else {
                        continue;
                    };
                    match identity(&d.spec, apache, accounts)? {
                        Some(identity) => identity,
                        None => continue,
                    }
                }
                _ => match embedded_identity(apache, accounts) {
                    Some(identity) => identity,
                    None => continue,
                },
            };
            let what = if is_wsgi_script(&alias.spec.file) {
                "WSGI script"
            } else {
                "app"
            };
            readable_by(&alias.spec.file, &who(&identity, accounts)).map_err(|e| {
                format!(
                    "RustgiScriptAlias on {}: the {what} {} cannot be loaded by its process \
                     group {}: {e}",
                    alias.defined_at,
                    alias.spec.file.display(),
                    group.map_or(GLOBAL_GROUP, ProcessGroup::name)
                )
            })?;
        }
    }
    Ok(())
}

/// `RustgiRestrictEmbedded On` with an alias that can only run in Apache's
/// children would answer every request of it with 500: refuse it now.
fn check_restricted<Slot>(servers: &[Server<'_, Slot>]) -> Result<(), String> {
    for s in servers {
        if let Some(alias) = s.conf.refused_embedded(s.dir.process_group.as_ref()).next() {
            return Err(format!(
                "RustgiRestrictEmbedded On, but RustgiScriptAlias on {} maps {} to {} in Apache's \
                 children (%{{GLOBAL}}): give it process-group=NAME, or RustgiProcessGroup NAME",
                alias.defined_at,
                if alias.spec.prefix.as_str().is_empty() {
                    "/"
                } else {
                    alias.spec.prefix.as_str()
                },
                alias.spec.file.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use super::*;
    use crate::config::{ScriptAlias, parse_script_alias};
    use crate::supervision::identity::tests::{FakeAccounts, ROOT_APACHE};

    type Conf = ServerConfig<()>;

    fn group(name: &str, at: &str) -> DaemonSpec {
        let mut spec = DaemonSpec::new(name);
        spec.defined_at = Some(at.to_owned());
        spec
    }

    fn alias(args: &[&str], at: &str) -> ScriptAlias<()> {
        ScriptAlias {
            spec: parse_script_alias(args).unwrap(),
            defined_at: at.to_owned(),
            slot: Arc::new(()),
        }
    }

    fn server<'a>(
        host: &str,
        is_virtual: bool,
        conf: &'a Conf,
        dir: &'a DirConfig,
    ) -> Server<'a, ()> {
        Server {
            host: host.to_owned(),
            is_virtual,
            conf,
            dir,
        }
    }

    /// A WSGI script is served by the bridge, told which group it is in.
    fn app_for(
        alias: &ScriptAliasSpec,
        base: &AppConfig,
        spec: &DaemonSpec,
    ) -> (PathBuf, AppConfig) {
        if is_wsgi_script(&alias.file) {
            let mut config = base.clone();
            config.set("script", &alias.file.to_string_lossy());
            config.set("group", &spec.name);
            ("/usr/lib/rustgi-python.so".into(), config)
        } else {
            (alias.file.clone(), base.clone())
        }
    }

    fn files(d: &Defined) -> Vec<(&str, bool)> {
        d.apps
            .iter()
            .map(|a| (a.file.as_str(), a.preload))
            .collect()
    }

    #[test]
    fn a_main_server_group_preloads_its_apps_and_allows_the_others() {
        let mut main = Conf::default();
        main.daemons.push(group("shop", "line 3"));
        main.aliases.push(alias(
            &["/shop", "/srv/shop.so", "process-group=shop"],
            "line 4",
        ));
        main.aliases.push(alias(
            &["/blog", "/srv/blog.wsgi", "process-group=shop"],
            "line 5",
        ));
        main.aliases
            .push(alias(&["/embedded", "/srv/e.so"], "line 6"));
        let mut vhost = Conf::default();
        vhost.aliases.push(alias(&["/v", "/srv/v.so"], "line 9"));
        let dir = DirConfig::default();
        // The second server shares the main server's configuration: its
        // groups are not defined a second time.
        let servers = [
            server("main", false, &main, &dir),
            server("main-alias", true, &main, &dir),
            server("v.example", true, &vhost, &dir),
        ];
        let defined = defined_groups(&servers, app_for).unwrap();
        assert_eq!(defined.len(), 1);
        let shop = &defined[0];
        assert_eq!(shop.scope, None);
        assert_eq!(
            files(shop),
            [
                ("/srv/shop.so", true),
                ("/usr/lib/rustgi-python.so", true),
                ("/srv/e.so", false),
                ("/srv/v.so", false),
            ]
        );
        // The script's change reloads the group; its init names the group.
        assert_eq!(shop.apps[1].watch, ["/srv/blog.wsgi"]);
        assert!(
            shop.apps[1]
                .init_config
                .contains(&("group".into(), "shop".into()))
        );
        assert!(shop.apps[0].watch.is_empty());
    }

    #[test]
    fn a_virtual_hosts_group_serves_that_host_only() {
        let main = Conf::default();
        let mut a = Conf::default();
        a.daemons.push(group("a", "line 10"));
        a.aliases
            .push(alias(&["/", "/srv/a.so", "process-group=a"], "line 11"));
        let mut b = Conf::default();
        b.aliases.push(alias(&["/", "/srv/b.so"], "line 20"));
        let dir = DirConfig::default();
        let servers = [
            server("main", false, &main, &dir),
            server("a.example", true, &a, &dir),
            server("b.example", true, &b, &dir),
        ];
        let defined = defined_groups(&servers, app_for).unwrap();
        assert_eq!(defined[0].scope.as_deref(), Some("a.example"));
        // b.example's app is none of its business.
        assert_eq!(files(&defined[0]), [("/srv/a.so", true)]);

        // Naming it from another host is an error that says where.
        b.aliases
            .push(alias(&["/x", "/srv/x.so", "process-group=a"], "line 21"));
        let servers = [
            server("main", false, &main, &dir),
            server("a.example", true, &a, &dir),
            server("b.example", true, &b, &dir),
        ];
        let e = defined_groups(&servers, app_for).unwrap_err();
        assert!(
            e.starts_with("RustgiScriptAlias on line 21: process group 'a'"),
            "{e}"
        );
        assert!(e.contains("ServerName b.example"), "{e}");
    }

    #[test]
    fn a_server_wide_process_group_must_name_a_visible_group() {
        let main = Conf::default();
        let dir = DirConfig {
            process_group: Some(ProcessGroup::Daemon("ghost".into())),
            process_group_at: Some("line 7".into()),
            ..DirConfig::default()
        };
        let e = defined_groups(&[server("main", false, &main, &dir)], app_for).unwrap_err();
        assert!(
            e.starts_with("RustgiProcessGroup on line 7: process group 'ghost'"),
            "{e}"
        );
        // Aliases without process-group= run in it, and count as its apps.
        let mut main = Conf::default();
        main.daemons.push(group("ghost", "line 2"));
        main.aliases.push(alias(&["/", "/srv/app.so"], "line 3"));
        let defined = defined_groups(&[server("main", false, &main, &dir)], app_for).unwrap();
        assert_eq!(files(&defined[0]), [("/srv/app.so", true)]);
    }

    #[test]
    fn a_name_defined_twice_is_refused_with_both_places() {
        let mut main = Conf::default();
        main.daemons.push(group("shop", "line 3 of main.conf"));
        let mut vhost = Conf::default();
        vhost.daemons.push(group("shop", "line 8 of v.conf"));
        let dir = DirConfig::default();
        let servers = [
            server("main", false, &main, &dir),
            server("v.example", true, &vhost, &dir),
        ];
        let e = defined_groups(&servers, app_for).unwrap_err();
        assert_eq!(
            e,
            "RustgiDaemonProcess: group 'shop' is defined twice, on line 8 of v.conf (for \
             v.example) and on line 3 of main.conf (for the main server)"
        );
    }

    #[test]
    fn restricted_embedded_needs_somewhere_to_run() {
        let mut main = Conf {
            restrict_embedded: Some(true),
            ..Conf::default()
        };
        main.daemons.push(group("shop", "line 2"));
        main.aliases.push(alias(&["/", "/srv/app.so"], "line 3"));
        let dir = DirConfig::default();
        let servers = [server("main", false, &main, &dir)];
        let defined = defined_groups(&servers, app_for).unwrap();
        // Not root: the app file's readability is not the question here.
        let apache = ApacheIds {
            euid: 1500,
            ..ROOT_APACHE
        };
        let e = check(&servers, &defined, &apache, &FakeAccounts).unwrap_err();
        assert!(
            e.starts_with(
                "RustgiRestrictEmbedded On, but RustgiScriptAlias on line 3 maps / to /srv/app.so"
            ),
            "{e}"
        );
        let dir = DirConfig {
            process_group: Some(ProcessGroup::Daemon("shop".into())),
            process_group_at: Some("line 4".into()),
            ..DirConfig::default()
        };
        let servers = [server("main", false, &main, &dir)];
        assert_eq!(check(&servers, &defined, &apache, &FakeAccounts), Ok(()));
    }

    #[test]
    fn users_homes_and_app_files_are_checked_for_whoever_loads_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let private = dir.path().join("private.so");
        let public = dir.path().join("public.so");
        std::fs::write(&private, "x").unwrap();
        std::fs::write(&public, "x").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (private, public) = (private.to_str().unwrap(), public.to_str().unwrap());

        let mut main = Conf::default();
        let mut shop = group("shop", "line 2");
        shop.user = Some("shop".into());
        main.daemons.push(shop);
        main.aliases
            .push(alias(&["/shop", public, "process-group=shop"], "line 3"));
        let no_dir = DirConfig::default();
        let defined =
            |main: &Conf| defined_groups(&[server("main", false, main, &no_dir)], app_for).unwrap();
        let run = |main: &Conf, apache: &ApacheIds| {
            check(
                &[server("main", false, main, &no_dir)],
                &defined(main),
                apache,
                &FakeAccounts,
            )
        };
        assert_eq!(run(&main, &ROOT_APACHE), Ok(()));

        // The group's user (uid 1001) cannot read a 0600 file of another.
        main.aliases
            .push(alias(&["/p", private, "process-group=shop"], "line 4"));
        let e = run(&main, &ROOT_APACHE).unwrap_err();
        assert!(
            e.starts_with(&format!("RustgiScriptAlias on line 4: the app {private} cannot be loaded by its process group shop: user shop cannot read")),
            "{e}"
        );
        // Nor Apache's User (www-data) when the app runs embedded.
        main.aliases.pop();
        main.aliases.push(alias(&["/e", private], "line 5"));
        let e = run(&main, &ROOT_APACHE).unwrap_err();
        assert!(
            e.contains("process group %{GLOBAL}: user www-data cannot read"),
            "{e}"
        );
        // Without root, everything runs as the one user: nothing to check.
        let user = ApacheIds {
            euid: 1500,
            ..ROOT_APACHE
        };
        assert_eq!(run(&main, &user), Ok(()));
        main.aliases.pop();

        // A home its user cannot enter, or that is missing.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        main.daemons[0].home = Some(dir.path().to_string_lossy().into_owned());
        let e = run(&main, &ROOT_APACHE).unwrap_err();
        assert!(e.starts_with("RustgiDaemonProcess shop: home="), "{e}");
        assert!(e.contains("user shop cannot enter the directory"), "{e}");
        main.daemons[0].home = Some("/no/such/home".into());
        let e = run(&main, &user).unwrap_err();
        assert!(
            e.starts_with("RustgiDaemonProcess shop: home=/no/such/home: /no/such/home:"),
            "{e}"
        );

        // A user that cannot run the group.
        main.daemons[0].home = None;
        main.daemons[0].user = Some("root".into());
        let e = run(&main, &ROOT_APACHE).unwrap_err();
        assert_eq!(
            e,
            "RustgiDaemonProcess shop: user root is root: daemon processes never run as root"
        );
    }
}
