//! A small command-line reader: `--name value`, `--name=value`, flags and
//! positional arguments, in any order.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::str::FromStr;

/// One argument as read by [`Args::next`].
#[derive(Debug, PartialEq, Eq)]
pub enum Arg {
    /// `--name` (or `-n`), with the value given as `--name=value`, if any.
    Option(String, Option<String>),
    /// Anything else, or everything after `--`.
    Positional(String),
}

/// The arguments of one command.
#[derive(Debug)]
pub struct Args {
    items: VecDeque<String>,
    only_positional: bool,
}

impl Args {
    /// Reads `items` (without the program and command names).
    pub fn new(items: &[String]) -> Self {
        Args {
            items: items.iter().cloned().collect(),
            only_positional: false,
        }
    }

    /// The next argument, if any.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Arg> {
        let item = self.items.pop_front()?;
        if self.only_positional || item == "-" || !item.starts_with('-') {
            return Some(Arg::Positional(item));
        }
        if item == "--" {
            self.only_positional = true;
            return self.next();
        }
        match item.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                Some(Arg::Option(name.to_owned(), Some(value.to_owned())))
            }
            _ => Some(Arg::Option(item, None)),
        }
    }

    /// The value of option `name`: the inline one, or the next argument.
    pub fn value(&mut self, name: &str, inline: Option<String>) -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v);
        }
        match self.items.pop_front() {
            Some(v) if !v.starts_with("--") || v == "--" => Ok(v),
            Some(v) => {
                self.items.push_front(v);
                Err(format!("{name} needs a value"))
            }
            None => Err(format!("{name} needs a value")),
        }
    }

    /// [`Args::value`], parsed.
    pub fn parsed<T: FromStr>(
        &mut self,
        name: &str,
        inline: Option<String>,
        what: &str,
    ) -> Result<T, String> {
        let v = self.value(name, inline)?;
        v.parse()
            .map_err(|_| format!("{name}: '{v}' is not {what}"))
    }

    /// [`Args::value`] as a path.
    pub fn path(&mut self, name: &str, inline: Option<String>) -> Result<PathBuf, String> {
        self.value(name, inline).map(PathBuf::from)
    }
}

/// Fails when a flag that takes no value was given one (`--embedded=yes`).
pub fn no_value(name: &str, inline: Option<String>) -> Result<(), String> {
    match inline {
        None => Ok(()),
        Some(v) => Err(format!("{name} takes no value (got '{v}')")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::new(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn options_values_and_positionals() {
        let mut a = args(&[
            "app.so",
            "--port",
            "9",
            "--host=::1",
            "--embedded",
            "--",
            "--x",
        ]);
        assert_eq!(a.next(), Some(Arg::Positional("app.so".into())));
        assert_eq!(a.next(), Some(Arg::Option("--port".into(), None)));
        assert_eq!(a.parsed::<u16>("--port", None, "a port"), Ok(9));
        let Some(Arg::Option(name, inline)) = a.next() else {
            panic!()
        };
        assert_eq!(a.value(&name, inline), Ok("::1".to_owned()));
        assert_eq!(a.next(), Some(Arg::Option("--embedded".into(), None)));
        assert_eq!(a.next(), Some(Arg::Positional("--x".into())));
        assert_eq!(a.next(), None);
    }

    #[test]
    fn missing_and_bad_values() {
        let mut a = args(&["--port"]);
        a.next();
        assert_eq!(a.value("--port", None), Err("--port needs a value".into()));
        let mut a = args(&["--port", "--host"]);
        a.next();
        assert!(a.value("--port", None).is_err());
        assert_eq!(a.next(), Some(Arg::Option("--host".into(), None)));
        let mut a = args(&["x"]);
        assert_eq!(
            a.parsed::<u16>("--port", None, "a port"),
            Err("--port: 'x' is not a port".into())
        );
        assert!(no_value("--embedded", Some("1".into())).is_err());
        assert!(no_value("--embedded", None).is_ok());
    }
}
