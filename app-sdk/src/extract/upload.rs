//! Uploaded files: what the client said of one ([`FileInfo`]), where their
//! bytes go ([`UploadSink`]: [`TempFiles`], [`InMemory`]) and what a form
//! keeps of one ([`Upload`]).

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::form_limits::FormError;

/// What the client said about an uploaded file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub(super) name: String,
    pub(super) filename: String,
    pub(super) content_type: Option<String>,
    pub(super) size: u64,
}

impl FileInfo {
    /// The form field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file name as the client gave it. It may hold anything, `../`
    /// included: never use it as a path; see
    /// [`safe_filename`](FileInfo::safe_filename).
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The file name reduced to something safe to show or to use as the last
    /// component of a path: what follows the last `/` or `\`, without
    /// control characters, and never empty, `.` or `..` (those give
    /// `"upload"`).
    ///
    /// ```
    /// use app_sdk::extract::FileInfo;
    ///
    /// let info = FileInfo::new("doc", "../../etc/pass\nwd", None);
    /// assert_eq!(info.safe_filename(), "pass wd");
    /// assert_eq!(FileInfo::new("doc", "C:\\Users\\me\\a.txt", None).safe_filename(), "a.txt");
    /// assert_eq!(FileInfo::new("doc", "..", None).safe_filename(), "upload");
    /// ```
    pub fn safe_filename(&self) -> String {
        let base = self.filename.rsplit(['/', '\\']).next().unwrap_or_default();
        let clean: String = base
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let clean = clean.trim();
        if clean.is_empty() || clean == "." || clean == ".." {
            "upload".to_owned()
        } else {
            clean.to_owned()
        }
    }

    /// The part's `Content-Type`, as the client gave it.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The file's size in bytes: 0 while it is being received (in
    /// [`UploadSink::open`]), the full size after.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A description of a file (for tests of an [`UploadSink`]).
    pub fn new(name: &str, filename: &str, content_type: Option<&str>) -> FileInfo {
        FileInfo {
            name: name.to_owned(),
            filename: filename.to_owned(),
            content_type: content_type.map(str::to_owned),
            size: 0,
        }
    }
}

/// Where [`Multipart::read_form`](super::Multipart::read_form) streams
/// uploaded files, as PoorWSGI's `file_callback`: [`TempFiles`] (the
/// default) and [`InMemory`] are two; an app can write its own to stream
/// files elsewhere.
///
/// For each file, [`open`](UploadSink::open) makes a writer, the file's
/// bytes are written to it as they arrive (never more than
/// [`FormLimits::file_size`](super::FormLimits::file_size)), and
/// [`finish`](UploadSink::finish) turns it into what the
/// [`Form`](super::Form) keeps. A file over the limit, or any error, drops
/// the writer without calling `finish`.
///
/// ```
/// use std::io;
/// use app_sdk::extract::{FileInfo, FormError, UploadSink};
///
/// /// Counts the bytes of each file instead of keeping them.
/// struct Sizes;
///
/// impl UploadSink for Sizes {
///     type Writer = io::Sink;
///     type Output = u64;
///
///     fn open(&mut self, file: &FileInfo) -> Result<io::Sink, FormError> {
///         if !file.filename().ends_with(".csv") {
///             return Err(FormError::Rejected("only CSV files".into()));
///         }
///         Ok(io::sink())
///     }
///
///     fn finish(&mut self, file: &FileInfo, _: io::Sink) -> Result<u64, FormError> {
///         Ok(file.size())
///     }
/// }
/// ```
pub trait UploadSink {
    /// Where the bytes of one file go.
    type Writer: Write;
    /// What the [`Form`](super::Form) keeps of one file.
    type Output;

    /// Starts a file. An error fails the whole form: use
    /// [`FormError::Rejected`] to refuse a file with 400.
    fn open(&mut self, file: &FileInfo) -> Result<Self::Writer, FormError>;

    /// Ends a file whose bytes have all been written to `writer`.
    fn finish(&mut self, file: &FileInfo, writer: Self::Writer) -> Result<Self::Output, FormError>;
}

/// An [`UploadSink`] that writes each file to a new temporary file, deleted
/// when it is dropped (keep it with [`NamedTempFile::persist`]). The
/// [`Form`](super::Form) gets the files rewound to their start.
#[derive(Clone, Debug, Default)]
pub struct TempFiles {
    dir: Option<PathBuf>,
}

impl TempFiles {
    /// Temporary files in the system's temporary directory (`$TMPDIR`).
    ///
    /// ```
    /// let sink = app_sdk::extract::TempFiles::new();
    /// ```
    pub fn new() -> TempFiles {
        TempFiles::default()
    }

    /// Temporary files in `dir`, for example one on the file system where
    /// they will be persisted.
    ///
    /// ```
    /// let sink = app_sdk::extract::TempFiles::in_dir("/srv/uploads/tmp");
    /// ```
    pub fn in_dir(dir: impl AsRef<Path>) -> TempFiles {
        TempFiles {
            dir: Some(dir.as_ref().to_owned()),
        }
    }
}

impl UploadSink for TempFiles {
    type Writer = NamedTempFile;
    type Output = NamedTempFile;

    fn open(&mut self, _: &FileInfo) -> Result<NamedTempFile, FormError> {
        Ok(match &self.dir {
            Some(dir) => NamedTempFile::new_in(dir)?,
            None => NamedTempFile::new()?,
        })
    }

    fn finish(
        &mut self,
        _: &FileInfo,
        mut file: NamedTempFile,
    ) -> Result<NamedTempFile, FormError> {
        file.flush()?;
        file.rewind()?;
        Ok(file)
    }
}

/// An [`UploadSink`] that keeps each file in memory, as bytes (bounded by
/// [`FormLimits::file_size`](super::FormLimits::file_size) each and
/// [`FormLimits::body`](super::FormLimits::body) in all).
///
/// ```
/// use app_sdk::extract::{FormLimits, InMemory, Multipart};
///
/// let body = b"--b\r\nContent-Disposition: form-data; name=f; filename=a.txt\r\n\r\nhi\r\n--b--";
/// let mut mp = Multipart::new(&body[..], "b", FormLimits::default()).unwrap();
/// let form = mp.read_form(&mut InMemory).unwrap();
/// assert_eq!(form.file("f").unwrap().content(), b"hi");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct InMemory;

impl UploadSink for InMemory {
    type Writer = Vec<u8>;
    type Output = Vec<u8>;

    fn open(&mut self, _: &FileInfo) -> Result<Vec<u8>, FormError> {
        Ok(Vec::new())
    }

    fn finish(&mut self, _: &FileInfo, bytes: Vec<u8>) -> Result<Vec<u8>, FormError> {
        Ok(bytes)
    }
}

/// One uploaded file: what the client said of it ([`FileInfo`]) and what
/// the [`UploadSink`] made of it (for [`TempFiles`], a [`NamedTempFile`]).
#[derive(Debug)]
pub struct Upload<T = NamedTempFile> {
    pub(super) info: FileInfo,
    pub(super) content: T,
}

impl<T> Upload<T> {
    /// What the client said of the file.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// What the sink made of the file.
    pub fn content(&self) -> &T {
        &self.content
    }

    /// What the sink made of the file, mutably (to read a temporary file).
    pub fn content_mut(&mut self) -> &mut T {
        &mut self.content
    }

    /// Takes what the sink made of the file.
    pub fn into_content(self) -> T {
        self.content
    }
}
