//! The cases: each serves `Hello, World!` at its own URL of the one Apache;
//! and the file cases, each a download of one big file through
//! `wsgi.file_wrapper`.

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
    /// mod_proxy_http to granian (its WSGI interface, 1 worker) serving
    /// bench/hello.py.
    Granian,
    /// bench/poorwsgi_hello.py's route through the Python bridge, a daemon
    /// group of 1.
    PoorPython1,
    /// bench/poorwsgi_hello.py's route in a mod_wsgi daemon group of 1.
    PoorWsgi1,
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
    /// granian's processes (its main process and its worker).
    Granian,
}

impl Case {
    pub const ALL: [Case; 13] = [
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
        Case::Granian,
        Case::PoorPython1,
        Case::PoorWsgi1,
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
            Case::Granian => "granian",
            Case::PoorPython1 => "poorwsgi-python1",
            Case::PoorWsgi1 => "poorwsgi-wsgi1",
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
            Case::Granian => "/granian/",
            Case::PoorPython1 => "/pw-python1/hello/World",
            Case::PoorWsgi1 => "/pw-wsgi1/hello/World",
        }
    }

    /// How many processes its daemon group has (0: not a daemon group).
    pub fn processes(self) -> u32 {
        match self {
            Case::Daemon1 | Case::Python1 | Case::Wsgi1 | Case::PoorPython1 | Case::PoorWsgi1 => 1,
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
            Case::Granian => "mod_proxy → granian WSGI 1 worker".to_owned(),
            Case::PoorPython1 => format!("PoorWSGI, mod_rustgi Python daemon 1×{threads}"),
            Case::PoorWsgi1 => format!("PoorWSGI, mod_wsgi daemon 1×{threads}"),
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
            Case::Granian => AppSide::Granian,
            Case::PoorPython1 => AppSide::Titled("(rustgi:pwpython1)"),
            Case::PoorWsgi1 => AppSide::Titled("(wsgi:pwwsgi1)"),
        }
    }

    /// Whether it is a mod_wsgi case (skipped when mod_wsgi is missing).
    pub fn is_wsgi(self) -> bool {
        matches!(self, Case::Wsgi1 | Case::Wsgi2 | Case::PoorWsgi1)
    }

    /// What the RSS column counts, in words.
    pub fn app_side_words(self) -> &'static str {
        match self.app_side() {
            AppSide::ApacheChildren => "Apache children",
            AppSide::Titled(_) => "daemon processes",
            AppSide::Hyper => "hyper server",
            AppSide::Granian => "granian processes",
        }
    }
}

/// A download of the benchmark's big file through `wsgi.file_wrapper`
/// (bench/file_wrapper.py), by one daemon process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileCase {
    /// Through the Python bridge, a daemon group of 1.
    Python,
    /// In a mod_wsgi daemon group of 1.
    Wsgi,
    /// The same file as a static file (`Alias`): what Apache does alone,
    /// the reference for both.
    Static,
}

impl FileCase {
    pub const ALL: [FileCase; 3] = [FileCase::Python, FileCase::Wsgi, FileCase::Static];

    /// The short name used by `--cases`.
    pub fn id(self) -> &'static str {
        match self {
            FileCase::Python => "file-python",
            FileCase::Wsgi => "file-wsgi",
            FileCase::Static => "file-static",
        }
    }

    pub fn from_id(id: &str) -> Option<FileCase> {
        FileCase::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The URL path of the download.
    pub fn path(self) -> &'static str {
        match self {
            FileCase::Python => "/file-python",
            FileCase::Wsgi => "/file-wsgi",
            FileCase::Static => "/file-static",
        }
    }

    /// The title of its daemon process; None: Apache serves it alone.
    pub fn title(self) -> Option<&'static str> {
        match self {
            FileCase::Python => Some("(rustgi:pyfile)"),
            FileCase::Wsgi => Some("(wsgi:wsgifile)"),
            FileCase::Static => None,
        }
    }

    pub fn label(self, threads: u32) -> String {
        match self {
            FileCase::Python => format!("mod_rustgi Python daemon 1×{threads}"),
            FileCase::Wsgi => format!("mod_wsgi daemon 1×{threads}"),
            FileCase::Static => "Apache static file (Alias)".to_owned(),
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
        for c in FileCase::ALL {
            assert_eq!(FileCase::from_id(c.id()), Some(c));
            assert!(Case::from_id(c.id()).is_none());
        }
    }
}
