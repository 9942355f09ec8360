//! The TOML config file of an app: [`Config::with_file`] and
//! [`Config::from_toml`].

use std::path::Path;

use toml::{Table, Value};

use crate::{Config, ConfigError};

impl Config {
    /// The name of the value that names the app's TOML config file.
    pub const FILE_KEY: &'static str = "config_file";

    /// This configuration merged over the TOML file its `config_file` value
    /// names, if any: the file's values come first and every name this
    /// configuration sets replaces the file's values of that name, so
    /// `RustgiAppConfig` overrides the file. Without `config_file`, a copy.
    ///
    /// A relative path is taken from the process's current directory (the
    /// `home=` of a daemon process group, `/` in Apache's children), so give
    /// an absolute one. The file is read when this is called; apps built with
    /// [`export_router!`](crate::export_router) get the merged configuration
    /// once, at start-up.
    ///
    /// See [`Config::from_toml`] for how TOML values become pairs.
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let dir = std::env::temp_dir().join(format!("app-sdk-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let file = dir.join("app.toml");
    /// std::fs::write(&file, "greeting = 'Hello'\nworkers = 4\n[db]\nurl = 'postgres://x'\n").unwrap();
    ///
    /// let directives = Config::from_iter([
    ///     ("config_file", file.to_str().unwrap()),
    ///     ("workers", "8"),
    /// ]);
    /// let config = directives.with_file().unwrap();
    /// assert_eq!(config.get("greeting"), Some("Hello"));
    /// assert_eq!(config.get("db.url"), Some("postgres://x"));
    /// assert_eq!(config.require_parsed::<u32>("workers").unwrap(), 8);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn with_file(&self) -> Result<Config, ConfigError> {
        let Some(path) = self.get(Config::FILE_KEY) else {
            return Ok(self.clone());
        };
        let text = std::fs::read_to_string(Path::new(path)).map_err(|e| {
            ConfigError::new(
                Config::FILE_KEY,
                format!("cannot read the config file {path}: {e}"),
            )
        })?;
        let file = Config::from_toml(&text).map_err(|e| {
            ConfigError::new(
                Config::FILE_KEY,
                format!("the config file {path} is not valid TOML: {e}"),
            )
        })?;
        let mut merged: Config = file
            .iter()
            .filter(|(name, _)| !self.contains(name))
            .collect();
        for (name, value) in self.iter() {
            merged.push(name, value);
        }
        Ok(merged)
    }

    /// The pairs of a TOML document: strings as they are, numbers, booleans
    /// and dates as TOML writes them, tables as dotted names (`[db]` `url`
    /// becomes `db.url`), and arrays as one pair per item under the same
    /// name (read them with [`get_all`](Config::get_all)).
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_toml(r#"
    ///     key1 = 'Value1'
    ///     confVar2 = 42
    ///     debug = true
    ///     origins = ["https://a.example", "https://b.example"]
    ///     [db]
    ///     pool = { size = 5 }
    /// "#).unwrap();
    /// assert_eq!(config.get("key1"), Some("Value1"));
    /// assert_eq!(config.require_parsed::<i64>("confVar2").unwrap(), 42);
    /// assert!(config.debug());
    /// assert_eq!(config.get_all("origins").count(), 2);
    /// assert_eq!(config.get("db.pool.size"), Some("5"));
    /// assert!(Config::from_toml("a = ").is_err());
    /// ```
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::new(Config::FILE_KEY, e.to_string()))?;
        let mut config = Config::new();
        flatten_table(&mut config, "", &table);
        Ok(config)
    }
}

fn flatten_table(config: &mut Config, prefix: &str, table: &Table) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        flatten_value(config, &name, value);
    }
}

fn flatten_value(config: &mut Config, name: &str, value: &Value) {
    match value {
        Value::String(s) => config.push(name, s.as_str()),
        Value::Integer(n) => config.push(name, n.to_string()),
        Value::Float(f) => config.push(name, f.to_string()),
        Value::Boolean(b) => config.push(name, b.to_string()),
        Value::Datetime(d) => config.push(name, d.to_string()),
        Value::Array(items) => {
            for item in items {
                flatten_value(config, name, item);
            }
        }
        Value::Table(table) => flatten_table(config, name, table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A directory of its own for a test, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("app-sdk-config-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn toml_values_become_pairs() {
        let c = Config::from_toml(
            "s = 'x'\nf = 1.5\nd = 1979-05-27\nnested = [[1, 2], [3]]\n[[servers]]\nname = 'a'\n[[servers]]\nname = 'b'\n",
        )
        .unwrap();
        assert_eq!(c.get("s"), Some("x"));
        assert_eq!(c.get("f"), Some("1.5"));
        assert_eq!(c.get("d"), Some("1979-05-27"));
        assert_eq!(c.get_all("nested").collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(c.get_all("servers.name").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn directives_override_the_file() {
        let dir = TempDir::new("override");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "origin = ['f1', 'f2']\nonly_file = 1\ndebug = false\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let c = Config::from_iter([("config_file", path), ("origin", "d1"), ("debug", "on")])
            .with_file()
            .unwrap();
        assert_eq!(c.get_all("origin").collect::<Vec<_>>(), ["d1"]);
        assert_eq!(c.get("only_file"), Some("1"));
        assert!(c.debug());
        assert_eq!(c.get("config_file"), Some(path));

        let plain = Config::from_iter([("a", "b")]);
        assert_eq!(plain.with_file().unwrap(), plain);
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = TempDir::new("errors");
        let missing = dir.path().join("missing.toml");
        let err = Config::from_iter([("config_file", missing.to_str().unwrap())])
            .with_file()
            .unwrap_err();
        assert_eq!(err.name(), "config_file");
        assert!(
            err.to_string().contains("cannot read the config file"),
            "{err}"
        );

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "a = = 1\n").unwrap();
        let err = Config::from_iter([("config_file", bad.to_str().unwrap())])
            .with_file()
            .unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
    }
}
