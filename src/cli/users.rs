//! Unix accounts, from the system's user and group databases (NSS).

use std::ffi::{CStr, CString};

/// An account: its name, uid and primary gid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The account named `name`, if there is one.
pub fn user_by_name(name: &str) -> Option<User> {
    let c_name = CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid out-parameter.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the use of
    // the strings getpwnam_r points into it.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string in buf.
    let name = unsafe { CStr::from_ptr(pw.pw_name) }
        .to_string_lossy()
        .into_owned();
    Some(User {
        name,
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

/// The name of the group `gid`, if it has one.
pub fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: an all-zero group is a valid out-parameter.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success gr_name points to a NUL-terminated string in buf.
    Some(
        unsafe { CStr::from_ptr(gr.gr_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Whether a group named `name` exists.
pub fn group_exists(name: &str) -> bool {
    let Ok(c_name) = CString::new(name) else {
        return false;
    };
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: an all-zero group is a valid out-parameter.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    rc == 0 && !result.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_its_group() {
        let root = user_by_name("root").unwrap();
        assert_eq!(root.uid, 0);
        assert_eq!(group_name(root.gid).as_deref(), Some("root"));
        assert!(group_exists("root"));
        assert!(user_by_name("no-such-user-rustgi").is_none());
        assert!(!group_exists("no-such-group-rustgi"));
        assert!(user_by_name("a\0b").is_none());
    }
}
