//! Checks an app's shared library by reading the file, without loading it.
//!
//! The Apache parent runs as root while it reads its configuration; loading
//! an app there would run the app's constructors as root, and an app's owner
//! could turn that into root's privileges. So `apache2 -t` and start-up read
//! the ELF file instead: it must be a shared object for this machine that
//! exports `rustgi_app_entry` and `rustgi_abi_version`, and the latter's value
//! must be an ABI version this module speaks. The app is loaded later, in the
//! process that runs it. A daemon runs the same check on a changed app file
//! before it recycles to load it (script reloading).

use std::fmt;
use std::path::Path;

use object::{Object, ObjectKind, ObjectSection, ObjectSymbol};
use rustgi_abi::ABI_VERSION;

pub const ENTRY_SYMBOL: &str = "rustgi_app_entry";
pub const VERSION_SYMBOL: &str = "rustgi_abi_version";

#[derive(Debug)]
pub enum AppFileError {
    Read(std::io::Error),
    NotElf(String),
    NotShared,
    WrongMachine { found: String, expected: String },
    MissingSymbol(&'static str),
    UnreadableVersion,
    WrongAbi(u32),
}

impl fmt::Display for AppFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppFileError::Read(e) => write!(f, "cannot read it: {e}"),
            AppFileError::NotElf(e) => write!(f, "it is not a shared library ({e})"),
            AppFileError::NotShared => write!(f, "it is an ELF file but not a shared library"),
            AppFileError::WrongMachine { found, expected } => write!(
                f,
                "it is built for {found}, and this server runs on {expected}"
            ),
            AppFileError::MissingSymbol(s) => write!(
                f,
                "it does not export {s}: it is not a mod_rustgi app (build it against app-sdk, \
                 or use RUSTGI_DECLARE_APP from rustgi.h)"
            ),
            AppFileError::UnreadableVersion => {
                write!(f, "its {VERSION_SYMBOL} is not a readable constant")
            }
            AppFileError::WrongAbi(v) => write!(
                f,
                "it was built for ABI version {v}, and this mod_rustgi speaks version {ABI_VERSION}"
            ),
        }
    }
}

impl std::error::Error for AppFileError {}

/// Checks the app at `path`; see the module documentation.
pub fn check(path: &Path) -> Result<(), AppFileError> {
    let data = std::fs::read(path).map_err(AppFileError::Read)?;
    check_bytes(&data)
}

/// The machine this module was built for, as `object` names it.
fn host_architecture() -> object::Architecture {
    if cfg!(target_arch = "x86_64") {
        object::Architecture::X86_64
    } else if cfg!(target_arch = "aarch64") {
        object::Architecture::Aarch64
    } else if cfg!(target_arch = "x86") {
        object::Architecture::I386
    } else if cfg!(target_arch = "arm") {
        object::Architecture::Arm
    } else if cfg!(target_arch = "riscv64") {
        object::Architecture::Riscv64
    } else if cfg!(target_arch = "powerpc64") {
        object::Architecture::PowerPc64
    } else if cfg!(target_arch = "s390x") {
        object::Architecture::S390x
    } else {
        object::Architecture::Unknown
    }
}

/// Checks the bytes of an app file.
pub fn check_bytes(data: &[u8]) -> Result<(), AppFileError> {
    let file = object::File::parse(data).map_err(|e| AppFileError::NotElf(e.to_string()))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(AppFileError::NotElf(format!("{:?} file", file.format())));
    }
    if file.kind() != ObjectKind::Dynamic {
        return Err(AppFileError::NotShared);
    }
    let expected = host_architecture();
    if expected != object::Architecture::Unknown && file.architecture() != expected {
        return Err(AppFileError::WrongMachine {
            found: format!("{:?}", file.architecture()),
            expected: format!("{expected:?}"),
        });
    }
    let exported = |name: &'static str| {
        file.dynamic_symbols()
            .find(|s| !s.is_undefined() && s.name() == Ok(name))
            .ok_or(AppFileError::MissingSymbol(name))
    };
    exported(ENTRY_SYMBOL)?;
    let version = exported(VERSION_SYMBOL)?;
    let section = version
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .ok_or(AppFileError::UnreadableVersion)?;
    let bytes: [u8; 4] = section
        .data_range(version.address(), 4)
        .ok()
        .flatten()
        .and_then(|b| b.try_into().ok())
        .ok_or(AppFileError::UnreadableVersion)?;
    let found = if file.is_little_endian() {
        u32::from_le_bytes(bytes)
    } else {
        u32::from_be_bytes(bytes)
    };
    if found != ABI_VERSION {
        return Err(AppFileError::WrongAbi(found));
    }
    Ok(())
}

/// The NUL-terminated text an app file exports as the read-only `symbol`
/// (the Python bridge's `rustgi_python_version`, say), read from the file.
pub fn exported_text(path: &Path, symbol: &'static str) -> Result<String, AppFileError> {
    let data = std::fs::read(path).map_err(AppFileError::Read)?;
    let file = object::File::parse(&*data).map_err(|e| AppFileError::NotElf(e.to_string()))?;
    let found = file
        .dynamic_symbols()
        .find(|s| !s.is_undefined() && s.name() == Ok(symbol))
        .ok_or(AppFileError::MissingSymbol(symbol))?;
    let section = found
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .ok_or(AppFileError::UnreadableVersion)?;
    let bytes = section
        .data_range(found.address(), found.size().max(1))
        .ok()
        .flatten()
        .ok_or(AppFileError::UnreadableVersion)?;
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_a_library() {
        let e = check_bytes(b"not an ELF file at all").unwrap_err();
        assert!(matches!(e, AppFileError::NotElf(_)), "{e}");
        assert!(e.to_string().starts_with("it is not a shared library"));
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let e = check(Path::new("/nonexistent/app.so")).unwrap_err();
        assert!(matches!(e, AppFileError::Read(_)));
        assert!(e.to_string().contains("No such file"), "{e}");
    }

    #[test]
    fn a_library_without_the_entry_point_is_refused() {
        // The test binary's own libc is an ELF shared object without our symbols.
        let libc = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libc.so.6",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("the C library of this Debian machine");
        let e = check(Path::new(libc)).unwrap_err();
        assert!(
            matches!(e, AppFileError::MissingSymbol(ENTRY_SYMBOL)),
            "{e}"
        );
    }
}
