//! The users of the Milvus API, as the catalog keeps them: a name and a salted password hash
//! (a PHC string; the proxies hash and verify, the catalog only stores). Every proxy of a
//! cluster reads them from its catalog snapshot, so a user created through one proxy can log
//! in through any other once the catalog reached it. The changes here validate against the
//! state they are given (see [`crate::Catalog::commit`]).

use serde::{Deserialize, Serialize};

use crate::{CatalogState, MetaError};

/// The user every Quarry with authentication has; it cannot be deleted.
pub const ROOT_USER: &str = "root";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMeta {
    pub name: String,
    /// the salted hash of the password, as a PHC string (`$argon2id$...`)
    pub password_hash: String,
    pub created_ts: u64,
    /// the roles granted to the user (besides `public`, which every user has)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Adds a user. A taken name is refused (Milvus' text), unless `if_absent` (then nothing
/// changes); the number of users is bounded.
pub(crate) fn create_user(
    s: &mut CatalogState,
    name: &str,
    password_hash: &str,
    if_absent: bool,
    now: u64,
) -> Result<(), MetaError> {
    if s.users.contains_key(name) {
        if if_absent {
            return Ok(());
        }
        return Err(MetaError::Rejected(format!("user already exists: {name}")));
    }
    if s.users.len() >= quarry_types::limits::MAX_USERS {
        return Err(MetaError::Rejected(
            "unable to add user because the number of users has reached the limit".into(),
        ));
    }
    s.users.insert(
        name.to_string(),
        UserMeta {
            name: name.to_string(),
            password_hash: password_hash.to_string(),
            created_ts: now,
            roles: vec![],
        },
    );
    Ok(())
}

/// Replaces a user's password hash, if it is still `previous_hash` (the one the caller
/// verified the old password against): a concurrent change of the same password wins once.
pub(crate) fn update_user(
    s: &mut CatalogState,
    name: &str,
    password_hash: &str,
    previous_hash: &str,
) -> Result<(), MetaError> {
    let user = s
        .users
        .get_mut(name)
        .ok_or_else(|| MetaError::Rejected(format!("user not found: {name}")))?;
    if user.password_hash != previous_hash {
        return Err(MetaError::Rejected(format!(
            "the password of {name} changed meanwhile"
        )));
    }
    user.password_hash = password_hash.to_string();
    Ok(())
}

/// Removes a user; removing one that does not exist changes nothing (as in Milvus).
pub(crate) fn delete_user(s: &mut CatalogState, name: &str) -> Result<(), MetaError> {
    if name == ROOT_USER {
        return Err(MetaError::Rejected("root user cannot be deleted".into()));
    }
    s.users.remove(name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_created_updated_and_deleted_with_milvus_rules() {
        let mut s = CatalogState::default();
        create_user(&mut s, "root", "h0", false, 1).unwrap();
        create_user(&mut s, "alice", "h1", false, 2).unwrap();
        let e = create_user(&mut s, "alice", "h2", false, 3).unwrap_err();
        assert_eq!(e.to_string(), "user already exists: alice");
        // the seed of root on every start: nothing changes when it exists
        create_user(&mut s, "root", "other", true, 4).unwrap();
        assert_eq!(s.users["root"].password_hash, "h0");

        update_user(&mut s, "alice", "h3", "h1").unwrap();
        assert_eq!(s.users["alice"].password_hash, "h3");
        assert!(update_user(&mut s, "alice", "h4", "h1").is_err(), "stale");
        assert!(update_user(&mut s, "bob", "h4", "h1").is_err());

        assert_eq!(
            delete_user(&mut s, "root").unwrap_err().to_string(),
            "root user cannot be deleted"
        );
        delete_user(&mut s, "alice").unwrap();
        delete_user(&mut s, "alice").unwrap();
        assert_eq!(s.users.keys().collect::<Vec<_>>(), ["root"]);
    }

    #[test]
    fn the_number_of_users_is_bounded() {
        let mut s = CatalogState::default();
        for i in 0..quarry_types::limits::MAX_USERS {
            create_user(&mut s, &format!("u{i}"), "h", false, 0).unwrap();
        }
        assert!(create_user(&mut s, "one_more", "h", false, 0).is_err());
    }

    #[test]
    fn a_manifest_from_before_users_still_loads() {
        let old = r#"{"version":3,"next_id":5,"last_ts":7,"collections":{}}"#;
        let s: CatalogState = serde_json::from_str(old).unwrap();
        assert!(s.users.is_empty());
        assert_eq!(s.version, 3);
    }
}
