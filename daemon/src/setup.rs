//! Turning the freshly started process into the group's: its user, working
//! directory, umask, environment and CPU limit, done once at startup while
//! the daemon has a single thread.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::{log, sys};
use rustgi_host::users;

/// Who the process runs as once set up.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user's name, or the uid as a number when passwd has none.
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// The working directory.
    pub home: PathBuf,
}

/// Sets the process up as `config` says; the error says what failed (the
/// daemon then exits with code 2).
pub fn prepare(config: &Config) -> Result<Identity, String> {
    let switched = switch_user(config)?;
    let uid = sys::getuid();
    let passwd = users::user_by_uid(uid);
    let user = passwd
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| uid.to_string());

    let home = match &config.home {
        Some(home) => {
            std::env::set_current_dir(home)
                .map_err(|e| format!("cannot change directory to home {}: {e}", home.display()))?;
            home.clone()
        }
        None => {
            let home = passwd
                .as_ref()
                .map(|p| p.home.clone())
                .filter(|h| !h.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from("/"));
            match std::env::set_current_dir(&home) {
                Ok(()) => home,
                Err(e) => {
                    log::warn(&format!(
                        "cannot change directory to {}, the home of {user}: {e}; using /",
                        home.display()
                    ));
                    std::env::set_current_dir("/")
                        .map_err(|e| format!("cannot change directory to /: {e}"))?;
                    PathBuf::from("/")
                }
            }
        }
    };

    if let Some(mask) = config.umask {
        sys::set_umask(mask);
    }

    let home_text = home.to_string_lossy().into_owned();
    let mut vars: Vec<(&str, &str)> = Vec::new();
    if switched {
        vars.extend([
            ("HOME", home_text.as_str()),
            ("USER", &user),
            ("LOGNAME", &user),
        ]);
    }
    vars.extend(config.env.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    sys::set_env_single_threaded(vars)?;

    if config.cpu_time_limit > 0 {
        sys::set_cpu_soft_limit(config.cpu_time_limit)
            .map_err(|e| format!("cannot set RLIMIT_CPU to {} s: {e}", config.cpu_time_limit))?;
    }

    Ok(Identity {
        user,
        uid,
        gid: sys::getgid(),
        home,
    })
}

/// Switches to the configured user when running as root; whether it did.
fn switch_user(config: &Config) -> Result<bool, String> {
    let named = match (&config.user, config.uid) {
        (Some(name), None) => {
            Some(users::user_by_name(name).ok_or_else(|| format!("user {name:?} does not exist"))?)
        }
        _ => None,
    };
    let Some(uid) = config.uid.or(named.as_ref().map(|p| p.uid)) else {
        return Ok(false);
    };
    let euid = sys::geteuid();
    if euid != 0 {
        if uid != euid {
            log::warn(&format!(
                "not started as root: cannot switch to uid {uid}; running as uid {euid}"
            ));
        }
        return Ok(false);
    }
    if uid == 0 {
        return Err("refusing to run as uid 0 (root)".into());
    }
    let passwd = named.or_else(|| users::user_by_uid(uid));
    let gid = match (config.gid, &passwd) {
        (Some(gid), _) => gid,
        (None, Some(p)) => p.gid,
        (None, None) => {
            return Err(format!(
                "no gid configured and no passwd entry for uid {uid}"
            ));
        }
    };
    match config
        .user
        .as_deref()
        .or(passwd.as_ref().map(|p| p.name.as_str()))
    {
        Some(name) => sys::initgroups(name, gid)
            .map_err(|e| format!("initgroups({name:?}, {gid}) failed: {e}"))?,
        None => sys::setgroups_only(gid).map_err(|e| format!("setgroups([{gid}]) failed: {e}"))?,
    }
    sys::setgid(gid).map_err(|e| format!("setgid({gid}) failed: {e}"))?;
    sys::setuid(uid).map_err(|e| format!("setuid({uid}) failed: {e}"))?;
    if sys::setuid(0).is_ok() || sys::geteuid() == 0 {
        return Err(format!(
            "after switching to uid {uid} the process could become root again"
        ));
    }
    Ok(true)
}

/// The app files' identity and modification time, to notice replacements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
}

impl FileStamp {
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}
