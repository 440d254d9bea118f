//! Roles and grants (Milvus RBAC) as the catalog keeps them: roles by name with their grants,
//! and each user's roles (in [`crate::UserMeta::roles`]). The built-in roles `admin` (every
//! privilege) and `public` (every user's) always exist and are not stored unless `public` has
//! grants. Names and privilege names are validated by the caller; the changes here check what
//! depends on the state (existence, counts) inside one catalog commit.

use serde::{Deserialize, Serialize};

use crate::{CatalogState, MetaError};

/// The role with every privilege.
pub const ADMIN_ROLE: &str = "admin";
/// The role every user has.
pub const PUBLIC_ROLE: &str = "public";
/// Roles besides the built-in ones (Milvus' `proxy.maxRoleNum`).
pub const MAX_ROLES: usize = 10;
/// Grants of one role.
pub const MAX_GRANTS_PER_ROLE: usize = 1024;
/// Custom privilege groups.
pub const MAX_PRIVILEGE_GROUPS: usize = 256;
/// Privileges of one custom group (far more than there are privileges).
pub const MAX_GROUP_PRIVILEGES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMeta {
    pub name: String,
    pub created_ts: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantMeta>,
}

/// One privilege on one object: `object_type` Global, Collection or User; `object_name` a
/// collection or user name, or `*`; `db` a database name or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMeta {
    pub object_type: String,
    pub object_name: String,
    pub db: String,
    pub privilege: String,
    /// the user who granted it
    pub grantor: String,
}

impl GrantMeta {
    /// The same grant, whoever granted it.
    fn same(&self, other: &GrantMeta) -> bool {
        self.object_type == other.object_type
            && self.object_name == other.object_name
            && self.db == other.db
            && self.privilege == other.privilege
    }
}

/// A change of roles, role membership or grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RbacChange {
    CreateRole {
        name: String,
    },
    /// Refused for built-in roles, and while the role has grants unless `force` (which revokes
    /// them); users lose the role.
    DropRole {
        name: String,
        force: bool,
    },
    AddUserToRole {
        user: String,
        role: String,
    },
    RemoveUserFromRole {
        user: String,
        role: String,
    },
    Grant {
        role: String,
        grant: GrantMeta,
    },
    Revoke {
        role: String,
        grant: GrantMeta,
    },
    /// A custom privilege group, empty; the caller checked that the name is no built-in
    /// privilege or group.
    CreatePrivilegeGroup {
        name: String,
    },
    /// Refused while a role has the group granted; dropping a group that does not exist
    /// succeeds (Milvus skips it).
    DropPrivilegeGroup {
        name: String,
    },
    /// Adds (or with `remove`, removes) privileges of a group; the caller validated the names.
    OperatePrivilegeGroup {
        name: String,
        privileges: Vec<String>,
        remove: bool,
    },
}

fn rejected(message: String) -> MetaError {
    MetaError::Rejected(message)
}

pub fn is_builtin_role(name: &str) -> bool {
    name == ADMIN_ROLE || name == PUBLIC_ROLE
}

impl CatalogState {
    /// Whether a role exists (the built-in ones always do).
    pub fn has_role(&self, name: &str) -> bool {
        is_builtin_role(name) || self.roles.contains_key(name)
    }

    /// Every role's name: the built-in ones first, then the others by name.
    pub fn role_names(&self) -> Vec<String> {
        let mut names = vec![ADMIN_ROLE.to_string(), PUBLIC_ROLE.to_string()];
        names.extend(self.roles.keys().filter(|n| !is_builtin_role(n)).cloned());
        names
    }

    /// The grants of a role (none for `admin`, which needs none).
    pub fn grants_of(&self, role: &str) -> &[GrantMeta] {
        self.roles.get(role).map_or(&[], |r| &r.grants)
    }
}

fn role_mut<'a>(
    s: &'a mut CatalogState,
    name: &str,
    now: u64,
) -> Result<&'a mut RoleMeta, MetaError> {
    if !s.has_role(name) {
        return Err(rejected(format!("role not found: {name}")));
    }
    // `public` is stored from its first grant on
    Ok(s.roles.entry(name.to_string()).or_insert_with(|| RoleMeta {
        name: name.to_string(),
        created_ts: now,
        grants: vec![],
    }))
}

pub(crate) fn apply_rbac(s: &mut CatalogState, c: &RbacChange, now: u64) -> Result<(), MetaError> {
    match c {
        RbacChange::CreateRole { name } => {
            if s.has_role(name) {
                return Err(rejected(format!("role [name:\"{name}\"] already exists")));
            }
            let custom = s.roles.keys().filter(|n| !is_builtin_role(n)).count();
            if custom >= MAX_ROLES {
                return Err(rejected(format!(
                    "unable to create role because the number of roles has reached the limit \
                     {MAX_ROLES}"
                )));
            }
            s.roles.insert(
                name.clone(),
                RoleMeta {
                    name: name.clone(),
                    created_ts: now,
                    grants: vec![],
                },
            );
        }
        RbacChange::DropRole { name, force } => {
            if is_builtin_role(name) {
                return Err(rejected(format!(
                    "the role[{name}] is a default role, which can't be dropped"
                )));
            }
            let Some(role) = s.roles.get(name) else {
                return Err(rejected(format!("role not found: {name}")));
            };
            if !role.grants.is_empty() && !force {
                return Err(rejected(format!(
                    "fail to drop the role[{name}] that it has privileges, use REVOKE API to \
                     revoke privileges (or drop it with force_drop)"
                )));
            }
            s.roles.remove(name);
            for u in s.users.values_mut() {
                u.roles.retain(|r| r != name);
            }
        }
        RbacChange::AddUserToRole { user, role } => {
            if !s.has_role(role) {
                return Err(rejected(format!("role not found: {role}")));
            }
            let u = s
                .users
                .get_mut(user)
                .ok_or_else(|| rejected(format!("user not found: {user}")))?;
            if role != PUBLIC_ROLE && !u.roles.contains(role) {
                u.roles.push(role.clone());
            }
        }
        RbacChange::RemoveUserFromRole { user, role } => {
            if !s.has_role(role) {
                return Err(rejected(format!("role not found: {role}")));
            }
            let u = s
                .users
                .get_mut(user)
                .ok_or_else(|| rejected(format!("user not found: {user}")))?;
            u.roles.retain(|r| r != role);
        }
        RbacChange::Grant { role, grant } => {
            if role == ADMIN_ROLE {
                return Err(rejected(
                    "the role admin has every privilege: nothing to grant".into(),
                ));
            }
            let r = role_mut(s, role, now)?;
            if r.grants.iter().any(|g| g.same(grant)) {
                return Ok(());
            }
            if r.grants.len() >= MAX_GRANTS_PER_ROLE {
                return Err(rejected(format!(
                    "the role {role} has {MAX_GRANTS_PER_ROLE} grants, the maximum"
                )));
            }
            r.grants.push(grant.clone());
        }
        RbacChange::Revoke { role, grant } => {
            if !s.has_role(role) {
                return Err(rejected(format!("role not found: {role}")));
            }
            if let Some(r) = s.roles.get_mut(role) {
                r.grants.retain(|g| !g.same(grant));
            }
        }
        RbacChange::CreatePrivilegeGroup { name } => {
            if s.privilege_groups.contains_key(name) {
                return Err(rejected(format!(
                    "privilege group name [{name}] is defined by users"
                )));
            }
            if s.privilege_groups.len() >= MAX_PRIVILEGE_GROUPS {
                return Err(rejected(format!(
                    "unable to create privilege group because the number of privilege groups \
                     has reached the limit {MAX_PRIVILEGE_GROUPS}"
                )));
            }
            s.privilege_groups.insert(name.clone(), vec![]);
        }
        RbacChange::DropPrivilegeGroup { name } => {
            if !s.privilege_groups.contains_key(name) {
                return Ok(());
            }
            let user = s
                .roles
                .values()
                .find(|r| r.grants.iter().any(|g| &g.privilege == name));
            if let Some(role) = user {
                return Err(rejected(format!(
                    "privilege group [{name}] is used by role [{}], Use REVOKE API to revoke it \
                     first",
                    role.name
                )));
            }
            s.privilege_groups.remove(name);
        }
        RbacChange::OperatePrivilegeGroup {
            name,
            privileges,
            remove,
        } => {
            let Some(group) = s.privilege_groups.get_mut(name) else {
                return Err(rejected(format!(
                    "there is no privilege group name [{name}] defined in system to operate"
                )));
            };
            if *remove {
                group.retain(|p| !privileges.contains(p));
            } else {
                group.extend(privileges.iter().cloned());
                group.sort();
                group.dedup();
                if group.len() > MAX_GROUP_PRIVILEGES {
                    return Err(rejected(format!(
                        "a privilege group has at most {MAX_GROUP_PRIVILEGES} privileges"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(privilege: &str, object: &str) -> GrantMeta {
        GrantMeta {
            object_type: "Collection".into(),
            object_name: object.into(),
            db: "default".into(),
            privilege: privilege.into(),
            grantor: "root".into(),
        }
    }

    fn state_with_user(name: &str) -> CatalogState {
        let mut s = CatalogState::default();
        crate::users::create_user(&mut s, name, "h", false, 1).unwrap();
        s
    }

    fn apply(s: &mut CatalogState, c: RbacChange) -> Result<(), MetaError> {
        apply_rbac(s, &c, 5)
    }

    #[test]
    fn privilege_groups_are_sets_and_cannot_be_dropped_while_granted() {
        let mut s = state_with_user("alice");
        let create = |name: &str| RbacChange::CreatePrivilegeGroup { name: name.into() };
        let operate = |privileges: &[&str], remove| RbacChange::OperatePrivilegeGroup {
            name: "readers".into(),
            privileges: privileges.iter().map(|p| p.to_string()).collect(),
            remove,
        };
        assert!(apply(&mut s, operate(&["Search"], false)).is_err()); // no such group yet
        apply(&mut s, create("readers")).unwrap();
        let e = apply(&mut s, create("readers")).unwrap_err().to_string();
        assert!(
            e.contains("privilege group name [readers] is defined by users"),
            "{e}"
        );
        apply(&mut s, operate(&["Search", "Query", "Search"], false)).unwrap();
        apply(&mut s, operate(&["Query"], false)).unwrap();
        assert_eq!(s.privilege_groups["readers"], ["Query", "Search"]);
        apply(&mut s, operate(&["Query", "Insert"], true)).unwrap();
        assert_eq!(s.privilege_groups["readers"], ["Search"]);
        apply(&mut s, RbacChange::CreateRole { name: "r".into() }).unwrap();
        let mut g = grant("readers", "*");
        g.object_type = "Global".into();
        apply(
            &mut s,
            RbacChange::Grant {
                role: "r".into(),
                grant: g.clone(),
            },
        )
        .unwrap();
        let drop = || RbacChange::DropPrivilegeGroup {
            name: "readers".into(),
        };
        let e = apply(&mut s, drop()).unwrap_err().to_string();
        assert!(
            e.contains("privilege group [readers] is used by role [r]"),
            "{e}"
        );
        apply(
            &mut s,
            RbacChange::Revoke {
                role: "r".into(),
                grant: g,
            },
        )
        .unwrap();
        apply(&mut s, drop()).unwrap();
        assert!(s.privilege_groups.is_empty());
        apply(&mut s, drop()).unwrap(); // a group that is not there: nothing to do
        for i in 0..MAX_PRIVILEGE_GROUPS {
            apply(&mut s, create(&format!("g{i}"))).unwrap();
        }
        assert!(apply(&mut s, create("one_more")).is_err());
    }

    #[test]
    fn roles_are_created_granted_and_dropped_with_milvus_rules() {
        let mut s = state_with_user("alice");
        assert_eq!(s.role_names(), ["admin", "public"]);
        apply(
            &mut s,
            RbacChange::CreateRole {
                name: "reader".into(),
            },
        )
        .unwrap();
        assert!(apply(
            &mut s,
            RbacChange::CreateRole {
                name: "reader".into()
            }
        )
        .is_err());
        assert!(apply(
            &mut s,
            RbacChange::CreateRole {
                name: "admin".into()
            }
        )
        .is_err());
        let g = grant("Search", "books");
        apply(
            &mut s,
            RbacChange::Grant {
                role: "reader".into(),
                grant: g.clone(),
            },
        )
        .unwrap();
        // granting again changes nothing
        apply(
            &mut s,
            RbacChange::Grant {
                role: "reader".into(),
                grant: g.clone(),
            },
        )
        .unwrap();
        assert_eq!(s.grants_of("reader").len(), 1);
        assert!(apply(
            &mut s,
            RbacChange::Grant {
                role: "admin".into(),
                grant: g.clone()
            }
        )
        .is_err());
        assert!(apply(
            &mut s,
            RbacChange::Grant {
                role: "nope".into(),
                grant: g.clone()
            }
        )
        .is_err());

        apply(
            &mut s,
            RbacChange::AddUserToRole {
                user: "alice".into(),
                role: "reader".into(),
            },
        )
        .unwrap();
        assert_eq!(s.users["alice"].roles, ["reader"]);
        assert!(apply(
            &mut s,
            RbacChange::AddUserToRole {
                user: "bob".into(),
                role: "reader".into()
            }
        )
        .is_err());

        // a role with grants is dropped only by force; its users lose it
        let e = apply(
            &mut s,
            RbacChange::DropRole {
                name: "reader".into(),
                force: false,
            },
        );
        assert!(e.unwrap_err().to_string().contains("REVOKE"));
        apply(
            &mut s,
            RbacChange::DropRole {
                name: "reader".into(),
                force: true,
            },
        )
        .unwrap();
        assert!(s.users["alice"].roles.is_empty());
        assert!(!s.has_role("reader"));
        assert!(apply(
            &mut s,
            RbacChange::DropRole {
                name: "public".into(),
                force: true
            }
        )
        .is_err());
    }

    #[test]
    fn public_is_stored_from_its_first_grant_and_revokes_remove_grants() {
        let mut s = CatalogState::default();
        let g = grant("Query", "*");
        apply(
            &mut s,
            RbacChange::Grant {
                role: "public".into(),
                grant: g.clone(),
            },
        )
        .unwrap();
        assert_eq!(s.grants_of("public"), std::slice::from_ref(&g));
        assert_eq!(s.role_names(), ["admin", "public"]);
        let mut other_grantor = g.clone();
        other_grantor.grantor = "someone".into();
        apply(
            &mut s,
            RbacChange::Revoke {
                role: "public".into(),
                grant: other_grantor,
            },
        )
        .unwrap();
        assert!(s.grants_of("public").is_empty());
    }

    #[test]
    fn the_number_of_roles_is_bounded() {
        let mut s = CatalogState::default();
        for i in 0..MAX_ROLES {
            apply(
                &mut s,
                RbacChange::CreateRole {
                    name: format!("r{i}"),
                },
            )
            .unwrap();
        }
        assert!(apply(
            &mut s,
            RbacChange::CreateRole {
                name: "one_more".into()
            }
        )
        .is_err());
    }
}
