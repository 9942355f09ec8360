//! Who a daemon group's processes run as, and who owns and may use its
//! socket, from `RustgiDaemonProcess user= group=` and Apache's own `User`
//! and `Group`.

use crate::access::Who;
use crate::daemon_plan::Identity;
use crate::daemon_spec::DaemonSpec;
use crate::users::{self, Account};

/// Who Apache's parent runs as, and the `User` and `Group` (mod_unixd's)
/// its children switch to when it starts as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApacheIds {
    /// The parent's effective uid.
    pub euid: u32,
    pub user: u32,
    pub group: u32,
}

impl ApacheIds {
    /// Only root can switch users; otherwise every process runs as this one.
    pub fn is_root(&self) -> bool {
        self.euid == 0
    }

    /// Who a group's socket is given to: Apache's `User`, as whom the
    /// children connect, when Apache starts as root. None: it stays with
    /// its creator, who the children are too.
    pub fn socket_owner(&self) -> Option<u32> {
        self.is_root().then_some(self.user)
    }

    /// The uid of Apache's children: the only peers a daemon serves.
    pub fn children_uid(&self) -> u32 {
        self.socket_owner().unwrap_or(self.euid)
    }
}

/// The system's users and groups (a trait, so that the rules here can be
/// tried on accounts that do not exist on this machine).
pub trait Accounts {
    /// The account named `name`, or `#UID`.
    fn user(&self, name: &str) -> Result<Account, String>;
    fn user_by_uid(&self, uid: u32) -> Option<Account>;
    /// The gid of the group named `name`, or `#GID`.
    fn group(&self, name: &str) -> Result<u32, String>;
    /// Every group of account `name`: `gid` and the supplementary ones.
    fn groups_of(&self, name: &str, gid: u32) -> Vec<u32>;
}

/// The accounts of this machine (`/etc/passwd`, `/etc/group`, NSS).
pub struct SystemAccounts;

impl Accounts for SystemAccounts {
    fn user(&self, name: &str) -> Result<Account, String> {
        users::user(name)
    }
    fn user_by_uid(&self, uid: u32) -> Option<Account> {
        users::user_by_uid(uid)
    }
    fn group(&self, name: &str) -> Result<u32, String> {
        users::group(name)
    }
    fn groups_of(&self, name: &str, gid: u32) -> Vec<u32> {
        users::groups_of(name, gid)
    }
}

/// The account and group a group's processes switch to; None when Apache
/// does not start as root, and they run as Apache does.
pub fn identity(
    spec: &DaemonSpec,
    apache: &ApacheIds,
    accounts: &impl Accounts,
) -> Result<Option<Identity>, String> {
    if !apache.is_root() {
        return Ok(None);
    }
    let account = match &spec.user {
        Some(name) => accounts.user(name)?,
        None => accounts
            .user_by_uid(apache.user)
            .ok_or("Apache's User does not exist")?,
    };
    if account.uid == 0 {
        return Err(format!(
            "user {} is root: daemon processes never run as root",
            account.name
        ));
    }
    // A user= without group= takes that user's own group, not Apache's.
    let gid = match (&spec.group, &spec.user) {
        (Some(group), _) => accounts.group(group)?,
        (None, Some(_)) => account.gid,
        (None, None) => apache.group,
    };
    Ok(Some(Identity { account, gid }))
}

/// Who embedded apps run as: Apache's `User` and `Group`; None if `User`
/// names no account.
pub fn embedded_identity(apache: &ApacheIds, accounts: &impl Accounts) -> Option<Identity> {
    let account = accounts.user_by_uid(apache.user)?;
    Some(Identity {
        account,
        gid: apache.group,
    })
}

/// An identity with all its groups, as file permissions see it.
pub fn who(identity: &Identity, accounts: &impl Accounts) -> Who {
    Who {
        name: identity.account.name.clone(),
        uid: identity.account.uid,
        gids: accounts.groups_of(&identity.account.name, identity.gid),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A machine with root, www-data (33) and shop (1001, groups 1001 and
    /// 2000 "deploy").
    pub(crate) struct FakeAccounts;

    pub(crate) fn account(name: &str, uid: u32, gid: u32) -> Account {
        Account {
            name: name.into(),
            uid,
            gid,
            home: format!("/home/{name}").into(),
        }
    }

    impl Accounts for FakeAccounts {
        fn user(&self, name: &str) -> Result<Account, String> {
            let uid = match name {
                "root" | "#0" => 0,
                "www-data" | "#33" => 33,
                "shop" | "#1001" => 1001,
                _ => return Err(format!("user '{name}' does not exist")),
            };
            self.user_by_uid(uid).ok_or_else(String::new)
        }
        fn user_by_uid(&self, uid: u32) -> Option<Account> {
            match uid {
                0 => Some(account("root", 0, 0)),
                33 => Some(account("www-data", 33, 33)),
                1001 => Some(account("shop", 1001, 1001)),
                _ => None,
            }
        }
        fn group(&self, name: &str) -> Result<u32, String> {
            match name {
                "deploy" => Ok(2000),
                "www-data" => Ok(33),
                _ => Err(format!("group '{name}' does not exist")),
            }
        }
        fn groups_of(&self, name: &str, gid: u32) -> Vec<u32> {
            match name {
                "shop" => vec![gid, 2000],
                _ => vec![gid],
            }
        }
    }

    pub(crate) const ROOT_APACHE: ApacheIds = ApacheIds {
        euid: 0,
        user: 33,
        group: 33,
    };
    const USER_APACHE: ApacheIds = ApacheIds {
        euid: 1500,
        user: 33,
        group: 33,
    };

    fn spec(user: Option<&str>, group: Option<&str>) -> DaemonSpec {
        let mut spec = DaemonSpec::new("shop");
        spec.user = user.map(str::to_owned);
        spec.group = group.map(str::to_owned);
        spec
    }

    fn ids(identity: Option<Identity>) -> Option<(String, u32, u32)> {
        identity.map(|i| (i.account.name, i.account.uid, i.gid))
    }

    #[test]
    fn without_root_nobody_is_switched_to() {
        let got = identity(&spec(Some("shop"), None), &USER_APACHE, &FakeAccounts).unwrap();
        assert_eq!(got, None);
        assert_eq!(USER_APACHE.socket_owner(), None);
        // The children are whoever started Apache.
        assert_eq!(USER_APACHE.children_uid(), 1500);
        // Even a user that does not exist: nothing is looked up.
        assert_eq!(
            identity(
                &spec(Some("nobody-here"), None),
                &USER_APACHE,
                &FakeAccounts
            ),
            Ok(None)
        );
    }

    #[test]
    fn as_root_the_group_runs_as_its_user_or_apaches() {
        let a = &ROOT_APACHE;
        assert_eq!(a.socket_owner(), Some(33));
        assert_eq!(a.children_uid(), 33);
        let got = |u, g| identity(&spec(u, g), a, &FakeAccounts).map(ids);
        // Nothing said: Apache's User and Group.
        assert_eq!(got(None, None), Ok(Some(("www-data".into(), 33, 33))));
        // user=: that user with its own group.
        assert_eq!(
            got(Some("shop"), None),
            Ok(Some(("shop".into(), 1001, 1001)))
        );
        assert_eq!(
            got(Some("#1001"), Some("deploy")),
            Ok(Some(("shop".into(), 1001, 2000)))
        );
        // group= alone: Apache's User in that group.
        assert_eq!(
            got(None, Some("deploy")),
            Ok(Some(("www-data".into(), 33, 2000)))
        );
    }

    #[test]
    fn root_and_unknown_names_are_refused() {
        let got = |u, g| identity(&spec(u, g), &ROOT_APACHE, &FakeAccounts);
        assert!(
            got(Some("root"), None)
                .unwrap_err()
                .contains("never run as root")
        );
        assert!(
            got(Some("#0"), None)
                .unwrap_err()
                .contains("user root is root")
        );
        assert!(got(Some("ghost"), None).unwrap_err().contains("'ghost'"));
        assert!(
            got(Some("shop"), Some("ghosts"))
                .unwrap_err()
                .contains("'ghosts'")
        );
        let no_user = ApacheIds {
            user: 4242,
            ..ROOT_APACHE
        };
        assert_eq!(
            identity(&spec(None, None), &no_user, &FakeAccounts),
            Err("Apache's User does not exist".to_owned())
        );
        assert_eq!(embedded_identity(&no_user, &FakeAccounts), None);
    }

    #[test]
    fn who_has_every_group() {
        let shop = identity(&spec(Some("shop"), None), &ROOT_APACHE, &FakeAccounts)
            .unwrap()
            .unwrap();
        let who = who(&shop, &FakeAccounts);
        assert_eq!((who.name.as_str(), who.uid), ("shop", 1001));
        assert_eq!(who.gids, [1001, 2000]);
        let embedded = embedded_identity(&ROOT_APACHE, &FakeAccounts).unwrap();
        assert_eq!((embedded.account.uid, embedded.gid), (33, 33));
    }
}
