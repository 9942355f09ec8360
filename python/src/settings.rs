//! What the bridge is told about the script it serves: the `init`
//! configuration mod_rustgi gives it (the keys of `rustgi_abi::python`).
//! Pure code.

use std::path::PathBuf;

use rustgi_abi::python as key;

/// The callable looked up in a script when none is named.
pub const DEFAULT_CALLABLE: &str = "application";

/// One script's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub script: PathBuf,
    pub callable: String,
    /// The Python home, used when this process starts its interpreter.
    pub home: Option<PathBuf>,
    /// Directories for `site.addsitedir`, in order.
    pub path: Vec<PathBuf>,
    pub process_group: String,
    pub application_group: String,
    pub multithread: bool,
    pub multiprocess: bool,
    pub run_once: bool,
}

impl Settings {
    /// Reads the settings from `init`'s configuration pairs.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<Settings, String> {
        let mut settings = Settings {
            script: PathBuf::new(),
            callable: DEFAULT_CALLABLE.to_owned(),
            home: None,
            path: Vec::new(),
            process_group: String::new(),
            application_group: String::new(),
            multithread: true,
            multiprocess: true,
            run_once: false,
        };
        for (name, value) in pairs {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if !name.starts_with("rustgi.python.") {
                continue;
            }
            let value = std::str::from_utf8(value)
                .map_err(|_| format!("the value of {name} is not UTF-8"))?;
            match name {
                key::SCRIPT => settings.script = PathBuf::from(value),
                key::CALLABLE => settings.callable = identifier(value)?,
                key::HOME => settings.home = (!value.is_empty()).then(|| PathBuf::from(value)),
                key::PATH => {
                    settings.path = value
                        .split(':')
                        .filter(|dir| !dir.is_empty())
                        .map(PathBuf::from)
                        .collect();
                }
                key::PROCESS_GROUP => settings.process_group = value.to_owned(),
                key::APPLICATION_GROUP => settings.application_group = value.to_owned(),
                key::MULTITHREAD => settings.multithread = flag(name, value)?,
                key::MULTIPROCESS => settings.multiprocess = flag(name, value)?,
                key::RUN_ONCE => settings.run_once = flag(name, value)?,
                _ => return Err(format!("unknown setting {name}")),
            }
        }
        if !settings.script.is_absolute() {
            return Err(format!(
                "{} must be the script's absolute path, not {:?}",
                key::SCRIPT,
                settings.script
            ));
        }
        Ok(settings)
    }
}

fn flag(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(format!("{name} must be 0 or 1, not {value:?}")),
    }
}

/// A callable's name: a Python identifier.
fn identifier(value: &str) -> Result<String, String> {
    if key::is_callable_name(value) {
        Ok(value.to_owned())
    } else {
        Err(format!("callable-object={value} is not a Python name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_pairs(pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn defaults_and_every_key() {
        let s = parse(&[(key::SCRIPT, "/srv/app/wsgi.py"), ("database", "x")]).unwrap();
        assert_eq!(s.script, PathBuf::from("/srv/app/wsgi.py"));
        assert_eq!(s.callable, "application");
        assert_eq!(s.home, None);
        assert!(s.path.is_empty());
        assert!(s.multithread && s.multiprocess && !s.run_once);

        let s = parse(&[
            (key::SCRIPT, "/srv/app/app.wsgi"),
            (key::CALLABLE, "app"),
            (key::HOME, "/srv/venv"),
            (key::PATH, "/srv/app::/srv/lib"),
            (key::PROCESS_GROUP, "shop"),
            (key::APPLICATION_GROUP, ""),
            (key::MULTITHREAD, "0"),
            (key::MULTIPROCESS, "0"),
            (key::RUN_ONCE, "1"),
        ])
        .unwrap();
        assert_eq!(s.callable, "app");
        assert_eq!(s.home, Some(PathBuf::from("/srv/venv")));
        assert_eq!(
            s.path,
            vec![PathBuf::from("/srv/app"), PathBuf::from("/srv/lib")]
        );
        assert_eq!(s.process_group, "shop");
        assert!(!s.multithread && !s.multiprocess && s.run_once);
    }

    #[test]
    fn bad_settings_are_refused_with_the_key() {
        let e = parse(&[]).unwrap_err();
        assert!(e.contains(key::SCRIPT), "{e}");
        let e = parse(&[(key::SCRIPT, "relative.py")]).unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = parse(&[(key::SCRIPT, "/a.py"), (key::CALLABLE, "a.b")]).unwrap_err();
        assert!(e.contains("callable-object=a.b"), "{e}");
        let e = parse(&[(key::SCRIPT, "/a.py"), (key::CALLABLE, "1x")]).unwrap_err();
        assert!(e.contains("not a Python name"), "{e}");
        let e = parse(&[(key::SCRIPT, "/a.py"), (key::RUN_ONCE, "yes")]).unwrap_err();
        assert!(e.contains(key::RUN_ONCE), "{e}");
        let e = parse(&[(key::SCRIPT, "/a.py"), ("rustgi.python.bogus", "1")]).unwrap_err();
        assert!(e.contains("unknown setting"), "{e}");
    }
}
