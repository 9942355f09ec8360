//! The cases: each serves `Hello, World!` at its own URL of the one Apache.

/// One way of serving the hello answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Case {
    /// `SetHandler bench-limit`: a C handler inside Apache, no app behind it.
    Limit,
    /// A static file through `Alias`.
    Static,
    /// examples/hello embedded in Apache's children.
    Embedded,
    /// examples/hello in a daemon group of 1 process.
    Daemon1,
    /// examples/hello in a daemon group of 2 processes.
    Daemon2,
    /// bench/hello.py through the Python bridge, a daemon group of 1.
    Python1,
    /// bench/hello.py through the Python bridge, a daemon group of 2.
    Python2,
    /// bench/hello.py in a mod_wsgi daemon group of 1 process.
    Wsgi1,
    /// bench/hello.py in a mod_wsgi daemon group of 2 processes.
    Wsgi2,
    /// mod_proxy_http to bench-hyper.
    Proxy,
}

/// Which processes a case's RSS figure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppSide {
    /// Apache's children (the answer is made in them).
    ApacheChildren,
    /// The processes whose title starts with this (a daemon group).
    Titled(&'static str),
    /// The bench-hyper process.
    Hyper,
}

impl Case {
    pub const ALL: [Case; 10] = [
        Case::Limit,
        Case::Static,
        Case::Embedded,
        Case::Daemon1,
        Case::Daemon2,
        Case::Python1,
        Case::Python2,
        Case::Wsgi1,
        Case::Wsgi2,
        Case::Proxy,
    ];

    /// The short name used by `--cases`.
    pub fn id(self) -> &'static str {
        match self {
            Case::Limit => "limit",
            Case::Static => "static",
            Case::Embedded => "embedded",
            Case::Daemon1 => "daemon1",
            Case::Daemon2 => "daemon2",
            Case::Python1 => "python1",
            Case::Python2 => "python2",
            Case::Wsgi1 => "wsgi1",
            Case::Wsgi2 => "wsgi2",
            Case::Proxy => "proxy",
        }
    }

    pub fn from_id(id: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The URL path it is served at.
    pub fn path(self) -> &'static str {
        match self {
            Case::Limit => "/limit",
            Case::Static => "/static/hello.txt",
            Case::Embedded => "/embedded",
            Case::Daemon1 => "/daemon1",
            Case::Daemon2 => "/daemon2",
            Case::Python1 => "/python1",
            Case::Python2 => "/python2",
            Case::Wsgi1 => "/wsgi1",
            Case::Wsgi2 => "/wsgi2",
            Case::Proxy => "/proxy/",
        }
    }

    /// How many processes its daemon group has (0: not a daemon group).
    pub fn processes(self) -> u32 {
        match self {
            Case::Daemon1 | Case::Python1 | Case::Wsgi1 => 1,
            Case::Daemon2 | Case::Python2 | Case::Wsgi2 => 2,
            _ => 0,
        }
    }

    /// A label for tables and the chart; `threads` is the threads per daemon
    /// process.
    pub fn label(self, threads: u32) -> String {
        match self {
            Case::Limit => "limit: C handler in Apache".to_owned(),
            Case::Static => "limit: static file (Alias)".to_owned(),
            Case::Embedded => "mod_rustgi embedded".to_owned(),
            Case::Daemon1 | Case::Daemon2 => {
                format!("mod_rustgi daemon {}×{threads}", self.processes())
            }
            Case::Python1 | Case::Python2 => {
                format!("mod_rustgi Python daemon {}×{threads}", self.processes())
            }
            Case::Wsgi1 | Case::Wsgi2 => {
                format!("mod_wsgi daemon {}×{threads}", self.processes())
            }
            Case::Proxy => "mod_proxy → hyper".to_owned(),
        }
    }

    /// Whose memory the RSS column shows.
    pub fn app_side(self) -> AppSide {
        match self {
            Case::Limit | Case::Static | Case::Embedded => AppSide::ApacheChildren,
            Case::Daemon1 => AppSide::Titled("(rustgi:hello1)"),
            Case::Daemon2 => AppSide::Titled("(rustgi:hello2)"),
            Case::Python1 => AppSide::Titled("(rustgi:python1)"),
            Case::Python2 => AppSide::Titled("(rustgi:python2)"),
            Case::Wsgi1 => AppSide::Titled("(wsgi:wsgi1)"),
            Case::Wsgi2 => AppSide::Titled("(wsgi:wsgi2)"),
            Case::Proxy => AppSide::Hyper,
        }
    }

    /// What the RSS column counts, in words.
    pub fn app_side_words(self) -> &'static str {
        match self.app_side() {
            AppSide::ApacheChildren => "Apache children",
            AppSide::Titled(_) => "daemon processes",
            AppSide::Hyper => "hyper server",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for c in Case::ALL {
            assert_eq!(Case::from_id(c.id()), Some(c));
        }
        assert_eq!(Case::Daemon2.label(16), "mod_rustgi daemon 2×16");
    }
}
