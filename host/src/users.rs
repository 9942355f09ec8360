//! Unix accounts and groups, from the system's databases (NSS, through the
//! reentrant libc calls): the one place the module, the daemon and the
//! `rustgi` command look them up.

use std::ffi::{CStr, CString, OsStr, c_char};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// An entry of the user database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
    pub home: PathBuf,
}

/// The largest buffer a lookup grows to when an entry does not fit (a
/// group with thousands of members).
const MAX_BUFFER: usize = 1 << 20;

/// Runs a `get*_r` lookup with a buffer that grows while the entry does
/// not fit (`ERANGE`). `lookup` fills the buffer and reads the entry while
/// the buffer its strings point into is alive: `Ok(None)` when there is no
/// such entry, `Err(code)` when the call failed.
fn with_buffer<T>(
    mut lookup: impl FnMut(&mut [c_char]) -> Result<Option<T>, libc::c_int>,
) -> Option<T> {
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0 as c_char; size];
        match lookup(&mut buf) {
            Err(libc::ERANGE) if size < MAX_BUFFER => size *= 4,
            Err(_) => return None,
            Ok(found) => return found,
        }
    }
}

/// The bytes of a string of an entry; empty for NULL.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string alive for the returned lifetime.
unsafe fn text<'a>(s: *const c_char) -> &'a [u8] {
    if s.is_null() {
        b""
    } else {
        // SAFETY: as the caller guarantees.
        unsafe { CStr::from_ptr(s) }.to_bytes()
    }
}

/// Looks a user up by uid or by name.
fn passwd(by: Result<u32, &CStr>) -> Option<Account> {
    with_buffer(|buf| {
        let mut pwd = MaybeUninit::<libc::passwd>::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: pwd, buf (of buf.len() bytes) and result are valid for
        // writing during the call; the name is NUL-terminated.
        let rc = unsafe {
            match by {
                Ok(uid) => libc::getpwuid_r(
                    uid,
                    pwd.as_mut_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                ),
                Err(name) => libc::getpwnam_r(
                    name.as_ptr(),
                    pwd.as_mut_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                ),
            }
        };
        if rc != 0 {
            return Err(rc);
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success pwd is filled in and its strings are
        // NUL-terminated, in buf, which is alive here.
        Ok(Some(unsafe {
            let p = pwd.assume_init_ref();
            Account {
                name: String::from_utf8_lossy(text(p.pw_name)).into_owned(),
                uid: p.pw_uid,
                gid: p.pw_gid,
                home: PathBuf::from(OsStr::from_bytes(text(p.pw_dir))),
            }
        }))
    })
}

/// The account named `name`, if there is one.
pub fn user_by_name(name: &str) -> Option<Account> {
    passwd(Err(&CString::new(name).ok()?))
}

/// The account with `uid`, if there is one.
pub fn user_by_uid(uid: u32) -> Option<Account> {
    passwd(Ok(uid))
}

/// Looks a group up by gid or by name: its name and gid.
fn group(by: Result<u32, &CStr>) -> Option<(String, u32)> {
    with_buffer(|buf| {
        let mut grp = MaybeUninit::<libc::group>::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: grp, buf (of buf.len() bytes) and result are valid for
        // writing during the call; the name is NUL-terminated.
        let rc = unsafe {
            match by {
                Ok(gid) => libc::getgrgid_r(
                    gid,
                    grp.as_mut_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                ),
                Err(name) => libc::getgrnam_r(
                    name.as_ptr(),
                    grp.as_mut_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                ),
            }
        };
        if rc != 0 {
            return Err(rc);
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success grp is filled in and its name is
        // NUL-terminated, in buf, which is alive here.
        Ok(Some(unsafe {
            let g = grp.assume_init_ref();
            (
                String::from_utf8_lossy(text(g.gr_name)).into_owned(),
                g.gr_gid,
            )
        }))
    })
}

/// The gid of the group named `name`, if there is one.
pub fn gid_by_name(name: &str) -> Option<u32> {
    group(Err(&CString::new(name).ok()?)).map(|(_, gid)| gid)
}

/// The name of the group `gid`, if it has one.
pub fn group_name(gid: u32) -> Option<String> {
    group(Ok(gid)).map(|(name, _)| name)
}

/// The groups of the user `name` running with `gid`: `gid` first, then its
/// supplementary groups (as `initgroups` would set them).
pub fn groups_of(name: &str, gid: u32) -> Vec<u32> {
    let mut groups = vec![gid];
    let Ok(name) = CString::new(name) else {
        return groups;
    };
    let mut list: Vec<libc::gid_t> = vec![0; 256];
    let mut count = list.len() as libc::c_int;
    // SAFETY: name is NUL-terminated; list holds count entries, and
    // getgrouplist writes at most count of them (it updates count).
    let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, list.as_mut_ptr(), &mut count) };
    if rc >= 0 {
        list.truncate(usize::try_from(count).unwrap_or(0));
        groups.extend(list.into_iter().filter(|g| *g != gid));
    }
    groups
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    effective_uid() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_by_name_and_uid_and_its_group() {
        let root = user_by_name("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(root.name, "root");
        assert_eq!(user_by_uid(0), Some(root));
        assert_eq!(group_name(0).as_deref(), Some("root"));
        assert_eq!(gid_by_name("root"), Some(0));
        assert_eq!(groups_of("root", 0)[0], 0);
    }

    #[test]
    fn missing_and_impossible_names_are_none() {
        assert!(user_by_name("no-such-user-rustgi").is_none());
        assert!(user_by_name("a\0b").is_none());
        assert!(gid_by_name("no-such-group-rustgi").is_none());
        assert!(group_name(u32::MAX - 7).is_none());
        assert!(user_by_uid(u32::MAX - 7).is_none());
    }
}
