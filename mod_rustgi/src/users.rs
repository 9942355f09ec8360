//! The users and groups of `RustgiDaemonProcess user=` and `group=`: names,
//! or `#UID` and `#GID` as Apache's `User` and `Group` take them, looked up
//! through `rustgi_host::users`.

pub use rustgi_host::users::{Account, groups_of, user_by_uid};

/// The account named `name` (or `#UID`).
pub fn user(name: &str) -> Result<Account, String> {
    let not_found = || format!("user '{name}' does not exist");
    match name.strip_prefix('#') {
        Some(uid) => user_by_uid(uid.parse().map_err(|_| not_found())?),
        None => rustgi_host::users::user_by_name(name),
    }
    .ok_or_else(not_found)
}

/// The gid of the group named `name` (or `#GID`).
pub fn group(name: &str) -> Result<u32, String> {
    let not_found = || format!("group '{name}' does not exist");
    match name.strip_prefix('#') {
        Some(gid) => gid.parse().map_err(|_| not_found()),
        None => rustgi_host::users::gid_by_name(name).ok_or_else(not_found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let root = user("root").unwrap();
        assert_eq!(root.uid, 0);
        assert_eq!(user("#0").unwrap().name, "root");
        assert!(
            user("no-such-user-here")
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(user("#x").is_err());
        assert_eq!(group("root").unwrap(), 0);
        assert_eq!(group("#33").unwrap(), 33);
        assert!(group("no-such-group-here").is_err());
    }
}
