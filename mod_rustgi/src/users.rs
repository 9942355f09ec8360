//! Looking up users and groups (reentrant libc calls).

use std::ffi::{CStr, CString, c_char};

/// A resolved account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

fn buffer() -> Vec<c_char> {
    vec![0; 16 * 1024]
}

/// The account named `name` (or `#UID`).
pub fn user(name: &str) -> Result<Account, String> {
    let not_found = || format!("user '{name}' does not exist");
    if let Some(uid) = name.strip_prefix('#') {
        let uid: u32 = uid.parse().map_err(|_| not_found())?;
        return user_by_uid(uid).ok_or_else(not_found);
    }
    let c_name = CString::new(name).map_err(|_| not_found())?;
    let mut pwd: libc::passwd = unsafe_zeroed_passwd();
    let mut buf = buffer();
    let mut result = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; buf's length is passed.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(not_found());
    }
    Ok(account(&pwd))
}

/// The account with `uid`, if any.
pub fn user_by_uid(uid: u32) -> Option<Account> {
    let mut pwd: libc::passwd = unsafe_zeroed_passwd();
    let mut buf = buffer();
    let mut result = std::ptr::null_mut();
    // SAFETY: as in `user`.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    (rc == 0 && !result.is_null()).then(|| account(&pwd))
}

/// The groups `account` is in: `gid` (the one it runs with) and its
/// supplementary groups.
pub fn groups_of(account: &Account, gid: u32) -> Vec<u32> {
    let mut groups = vec![gid];
    let Ok(name) = CString::new(account.name.as_str()) else {
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

/// The gid of the group named `name` (or `#GID`).
pub fn group(name: &str) -> Result<u32, String> {
    let not_found = || format!("group '{name}' does not exist");
    if let Some(gid) = name.strip_prefix('#') {
        return gid.parse().map_err(|_| not_found());
    }
    let c_name = CString::new(name).map_err(|_| not_found())?;
    // SAFETY: an all-zero group struct is a valid out-parameter.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = buffer();
    let mut result = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; buf's length is passed.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(not_found());
    }
    Ok(grp.gr_gid)
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: an all-zero passwd struct (NULL pointers, zero ids) is a valid
    // out-parameter for getpw*_r.
    unsafe { std::mem::zeroed() }
}

fn account(pwd: &libc::passwd) -> Account {
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: getpw*_r filled the struct with NUL-terminated strings
            // that live in the buffer, which outlives this call.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    Account {
        name: text(pwd.pw_name),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        home: text(pwd.pw_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_nobody_exist() {
        let root = user("root").unwrap();
        assert_eq!(root.uid, 0);
        assert_eq!(user("#0").unwrap().name, "root");
        assert!(
            user("no-such-user-here")
                .unwrap_err()
                .contains("does not exist")
        );
        assert_eq!(group("root").unwrap(), 0);
        assert!(group("no-such-group-here").is_err());
    }
}
