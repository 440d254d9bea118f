//! Roles and grants (pymilvus `create_role`, `drop_role`, `grant_role`, `revoke_role`,
//! `list_roles`, `describe_role`, `describe_user`, `grant_privilege(_v2)`,
//! `revoke_privilege(_v2)`): CreateRole, DropRole, OperateUserRole, SelectRole, SelectUser,
//! SelectGrant, OperatePrivilege and OperatePrivilegeV2. Who may call them is checked by the
//! request layer (`privileges.rs`); the catalog keeps roles and grants (`quarry_meta` rbac).

use quarry_meta::{
    CatalogState, GrantMeta, MetaError, RbacChange, ADMIN_ROLE, DEFAULT_DB, ROOT_USER,
};
use quarry_proto::common::{ErrorCode, Status};
use quarry_proto::service::*;
use quarry_types::limits::MAX_NAME_BYTES;

use super::auth::Caller;
use super::handle::Handled;
use super::privileges::{is_group, level, Level, COLLECTION, GLOBAL, PRIVILEGES, USER};
use super::Service;
use crate::convert::shown;
use crate::status::{invalid, ok, status};

fn failure(error_code: ErrorCode, e: &MetaError) -> Status {
    status(65535, error_code, e.to_string())
}

/// Which of Milvus' rules for role and privilege group names a name breaks: not empty, at
/// most `max` bytes, a letter or underscore first, then letters, digits and underscores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameFault {
    Empty,
    TooLong,
    BadFirst,
    BadChar,
}

pub(super) fn name_fault(name: &str, max: usize) -> Option<NameFault> {
    if name.trim().is_empty() {
        Some(NameFault::Empty)
    } else if name.len() > max {
        Some(NameFault::TooLong)
    } else if !name
        .bytes()
        .next()
        .is_some_and(|c| c == b'_' || c.is_ascii_alphabetic())
    {
        Some(NameFault::BadFirst)
    } else if !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
        Some(NameFault::BadChar)
    } else {
        None
    }
}

/// Role names follow Milvus' rules for them (as user names, at most 32 bytes).
fn check_role_name(name: &str) -> Handled<()> {
    let why = match name_fault(name, 32) {
        None => return Ok(()),
        Some(NameFault::Empty) => "role name should not be empty",
        Some(NameFault::TooLong) => "the length of a role name must be less than 32 characters",
        Some(NameFault::BadFirst) => {
            "the first character of a role name must be an underscore or letter"
        }
        Some(NameFault::BadChar) => "role name can only contain numbers, letters and underscores",
    };
    Err(invalid(format!("{why}: invalid role name {}", shown(name))))
}

pub(super) async fn change(s: &Service, c: RbacChange, code: ErrorCode) -> Handled<Status> {
    s.engine
        .meta()
        .change_rbac(c)
        .await
        .map_err(|e| failure(code, &e))?;
    Ok(ok())
}

pub(super) async fn create_role(s: &Service, r: CreateRoleRequest) -> Handled<Status> {
    let entity = r.entity.unwrap_or_default();
    if !entity.description.is_empty() {
        return Err(invalid("role descriptions are not supported"));
    }
    let name = entity.name;
    check_role_name(&name)?;
    tracing::info!(role = %name, "role created");
    change(
        s,
        RbacChange::CreateRole { name },
        ErrorCode::CreateRoleFailure,
    )
    .await
}

pub(super) async fn drop_role(s: &Service, r: DropRoleRequest) -> Handled<Status> {
    check_role_name(&r.role_name)?;
    let c = RbacChange::DropRole {
        name: r.role_name,
        force: r.force_drop,
    };
    change(s, c, ErrorCode::DropRoleFailure).await
}

pub(super) async fn operate_user_role(s: &Service, r: OperateUserRoleRequest) -> Handled<Status> {
    check_role_name(&r.role_name)?;
    let (user, role) = (r.username, r.role_name);
    let c = match OperateUserRoleType::try_from(r.r#type) {
        Ok(OperateUserRoleType::AddUserToRole) => RbacChange::AddUserToRole { user, role },
        Ok(OperateUserRoleType::RemoveUserFromRole) => {
            if user == ROOT_USER && role == ADMIN_ROLE {
                return Err(invalid(
                    "the user root cannot be removed from the role admin",
                ));
            }
            RbacChange::RemoveUserFromRole { user, role }
        }
        Err(_) => {
            return Err(invalid(format!(
                "invalid operate user role type {}",
                r.r#type
            )))
        }
    };
    change(s, c, ErrorCode::OperateUserRoleFailure).await
}

/// A user's roles as listed: root is an administrator, and roles are listed as granted.
fn roles_of(state: &CatalogState, user: &str) -> Vec<String> {
    let mut roles = state
        .users
        .get(user)
        .map(|u| u.roles.clone())
        .unwrap_or_default();
    if user == ROOT_USER && !roles.iter().any(|r| r == ADMIN_ROLE) {
        roles.insert(0, ADMIN_ROLE.to_string());
    }
    roles
}

fn role_entity(name: &str) -> RoleEntity {
    RoleEntity {
        name: name.to_string(),
        description: String::new(),
    }
}

pub(super) async fn select_role(s: &Service, r: SelectRoleRequest) -> Handled<SelectRoleResponse> {
    let state = s.engine.meta().snapshot();
    let names: Vec<String> = match r.role.map(|r| r.name).filter(|n| !n.is_empty()) {
        Some(name) if state.has_role(&name) => vec![name],
        Some(name) => {
            return Err(failure(
                ErrorCode::SelectRoleFailure,
                &MetaError::Rejected(format!("role not found: {}", shown(&name))),
            ))
        }
        None => state.role_names(),
    };
    let results = names
        .iter()
        .map(|role| RoleResult {
            role: Some(role_entity(role)),
            users: if r.include_user_info {
                state
                    .users
                    .keys()
                    .filter(|u| roles_of(&state, u).contains(role))
                    .map(|u| UserEntity { name: u.clone() })
                    .collect()
            } else {
                vec![]
            },
        })
        .collect();
    Ok(SelectRoleResponse {
        status: Some(ok()),
        results,
    })
}

pub(super) async fn select_user(s: &Service, r: SelectUserRequest) -> Handled<SelectUserResponse> {
    let state = s.engine.meta().snapshot();
    let names: Vec<String> = match r.user.map(|u| u.name).filter(|n| !n.is_empty()) {
        Some(name) if state.users.contains_key(&name) => vec![name],
        // as Milvus: an unknown user is an empty answer, not an error
        Some(_) => vec![],
        None => state.users.keys().cloned().collect(),
    };
    let results = names
        .iter()
        .map(|user| UserResult {
            user: Some(UserEntity { name: user.clone() }),
            roles: if r.include_role_info {
                roles_of(&state, user)
                    .iter()
                    .map(|r| role_entity(r))
                    .collect()
            } else {
                vec![]
            },
            description: String::new(),
        })
        .collect();
    Ok(SelectUserResponse {
        status: Some(ok()),
        results,
    })
}

fn grant_entity(role: &str, g: &GrantMeta) -> GrantEntity {
    GrantEntity {
        role: Some(role_entity(role)),
        object: Some(ObjectEntity {
            name: g.object_type.clone(),
        }),
        object_name: g.object_name.clone(),
        grantor: Some(GrantorEntity {
            user: Some(UserEntity {
                name: g.grantor.clone(),
            }),
            privilege: Some(PrivilegeEntity {
                name: g.privilege.clone(),
            }),
        }),
        db_name: g.db.clone(),
    }
}

pub(super) async fn select_grant(
    s: &Service,
    r: SelectGrantRequest,
) -> Handled<SelectGrantResponse> {
    let entity = r.entity.unwrap_or_default();
    let role = entity.role.map(|r| r.name).unwrap_or_default();
    check_role_name(&role)?;
    let state = s.engine.meta().snapshot();
    if !state.has_role(&role) {
        return Err(failure(
            ErrorCode::SelectGrantFailure,
            &MetaError::Rejected(format!("role not found: {}", shown(&role))),
        ));
    }
    let object_type = entity.object.map(|o| o.name).unwrap_or_default();
    let entities = state
        .grants_of(&role)
        .iter()
        .filter(|g| object_type.is_empty() || g.object_type == object_type)
        .filter(|g| entity.object_name.is_empty() || g.object_name == entity.object_name)
        .filter(|g| entity.db_name.is_empty() || g.db == entity.db_name || g.db == "*")
        .map(|g| grant_entity(&role, g))
        .collect();
    Ok(SelectGrantResponse {
        status: Some(ok()),
        entities,
    })
}

/// Checks a privilege name for an object type: one of the type's privileges, `*`, or a
/// built-in privilege group (custom groups are granted apart, in `operate_privilege_v2`).
fn check_privilege(object_type: &str, privilege: &str) -> Handled<()> {
    let Some((_, names)) = PRIVILEGES.iter().find(|(t, _)| *t == object_type) else {
        return Err(invalid(format!(
            "invalid object type[{}]: it must be Global, Collection or User",
            shown(object_type)
        )));
    };
    if privilege == "*" || names.contains(&privilege) || is_group(privilege) {
        return Ok(());
    }
    Err(invalid(format!(
        "not found the privilege name[{}] in object[{object_type}]",
        shown(privilege)
    )))
}

fn grant_or_revoke(kind: i32, role: String, grant: GrantMeta) -> Handled<RbacChange> {
    if role == ADMIN_ROLE {
        return Err(invalid(
            "the role admin has every privilege: its grants cannot change",
        ));
    }
    // names travel into the catalog with every grant: as bounded as the names they stand for
    for (what, name) in [
        ("object name", &grant.object_name),
        ("database name", &grant.db),
    ] {
        if name.len() > MAX_NAME_BYTES {
            return Err(invalid(format!(
                "the {what} of a grant has {} bytes, at most {MAX_NAME_BYTES} are allowed",
                name.len()
            )));
        }
    }
    match OperatePrivilegeType::try_from(kind) {
        Ok(OperatePrivilegeType::Grant) => Ok(RbacChange::Grant { role, grant }),
        Ok(OperatePrivilegeType::Revoke) => Ok(RbacChange::Revoke { role, grant }),
        Err(_) => Err(invalid(format!("invalid operate privilege type {kind}"))),
    }
}

fn grantor(caller: Option<&Caller>) -> String {
    caller.map_or(ROOT_USER.to_string(), |c| c.user.clone())
}

fn db_or_default(db: String) -> String {
    if db.is_empty() {
        DEFAULT_DB.to_string()
    } else {
        db
    }
}

pub(super) async fn operate_privilege(
    s: &Service,
    caller: Option<Caller>,
    r: OperatePrivilegeRequest,
) -> Handled<Status> {
    let e = r.entity.unwrap_or_default();
    let role = e.role.map(|r| r.name).unwrap_or_default();
    check_role_name(&role)?;
    let object_type = e.object.map(|o| o.name).unwrap_or_default();
    let privilege = e
        .grantor
        .and_then(|g| g.privilege)
        .map(|p| p.name)
        .unwrap_or_default();
    if s.engine
        .meta()
        .snapshot()
        .privilege_groups
        .contains_key(&privilege)
    {
        // custom groups are granted with grant_privilege_v2 (OperatePrivilegeV2), as in Milvus
        return Err(invalid(format!(
            "can not operate the custom privilege group [{}]",
            shown(&privilege)
        )));
    }
    check_privilege(&object_type, &privilege)?;
    if e.object_name.is_empty() {
        return Err(invalid(
            "the object name of a grant must not be empty (use * for all)",
        ));
    }
    let grant = GrantMeta {
        object_name: if object_type == GLOBAL {
            "*".into()
        } else {
            e.object_name
        },
        object_type,
        db: db_or_default(e.db_name),
        privilege,
        grantor: grantor(caller.as_ref()),
    };
    let change_ = grant_or_revoke(r.r#type, role, grant)?;
    change(s, change_, ErrorCode::OperatePrivilegeFailure).await
}

/// The object type a privilege (or group) of a v2 grant applies to.
fn v2_object_type(privilege: &str) -> &'static str {
    let collection = PRIVILEGES
        .iter()
        .find(|(t, _)| *t == COLLECTION)
        .is_some_and(|(_, names)| names.contains(&privilege));
    if collection || privilege.starts_with("Collection") {
        COLLECTION
    } else if PRIVILEGES
        .iter()
        .find(|(t, _)| *t == USER)
        .is_some_and(|(_, names)| names.contains(&privilege))
    {
        USER
    } else {
        GLOBAL
    }
}

pub(super) async fn operate_privilege_v2(
    s: &Service,
    caller: Option<Caller>,
    r: OperatePrivilegeV2Request,
) -> Handled<Status> {
    let role = r.role.map(|r| r.name).unwrap_or_default();
    check_role_name(&role)?;
    let privilege = r
        .grantor
        .and_then(|g| g.privilege)
        .map(|p| p.name)
        .unwrap_or_default();
    let state = s.engine.meta().snapshot();
    if let Some(members) = state.privilege_groups.get(&privilege) {
        // a custom group: a Global grant on the collection named (or `*`), in the database
        // named unless the group holds cluster-level privileges (as Milvus stores it)
        let cluster = !members.is_empty() && members.iter().all(|m| level(m) == Level::Cluster);
        let grant = GrantMeta {
            object_type: GLOBAL.to_string(),
            object_name: if r.collection_name.is_empty() {
                "*".to_string()
            } else {
                r.collection_name
            },
            db: if cluster {
                "*".to_string()
            } else {
                db_or_default(r.db_name)
            },
            privilege,
            grantor: grantor(caller.as_ref()),
        };
        let change_ = grant_or_revoke(r.r#type, role, grant)?;
        return change(s, change_, ErrorCode::OperatePrivilegeFailure).await;
    }
    let object_type = v2_object_type(&privilege);
    check_privilege(object_type, &privilege)?;
    let db = if privilege.starts_with("Cluster") {
        "*".to_string()
    } else {
        db_or_default(r.db_name)
    };
    let object_name = match object_type {
        GLOBAL => "*".to_string(),
        _ if r.collection_name.is_empty() => "*".to_string(),
        _ => r.collection_name,
    };
    let grant = GrantMeta {
        object_type: object_type.to_string(),
        object_name,
        db,
        privilege,
        grantor: grantor(caller.as_ref()),
    };
    let change_ = grant_or_revoke(r.r#type, role, grant)?;
    change(s, change_, ErrorCode::OperatePrivilegeFailure).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_and_privileges_are_checked() {
        check_role_name("reader_1").unwrap();
        for bad in ["", "1r", "a-b", &"r".repeat(33)] {
            assert!(check_role_name(bad).is_err(), "{bad}");
        }
        check_privilege(COLLECTION, "Search").unwrap();
        check_privilege(COLLECTION, "CollectionReadOnly").unwrap();
        check_privilege(GLOBAL, "*").unwrap();
        assert!(check_privilege(COLLECTION, "CreateDatabase").is_err());
        assert!(check_privilege("Table", "Search").is_err());
        assert_eq!(v2_object_type("Search"), COLLECTION);
        assert_eq!(v2_object_type("CollectionReadWrite"), COLLECTION);
        assert_eq!(v2_object_type("DatabaseAdmin"), GLOBAL);
        assert_eq!(v2_object_type("CreateCollection"), GLOBAL);
    }

    #[test]
    fn grant_names_are_bounded() {
        let grant = |object_name: String, db: String| GrantMeta {
            object_type: COLLECTION.into(),
            object_name,
            db,
            privilege: "Search".into(),
            grantor: ROOT_USER.into(),
        };
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        let fits = "n".repeat(MAX_NAME_BYTES);
        for (object, db) in [
            (long.clone(), "default".to_string()),
            ("books".into(), long),
        ] {
            let e = grant_or_revoke(0, "reader".into(), grant(object, db)).unwrap_err();
            assert!(e.reason.contains("at most 255"), "{}", e.reason);
        }
        assert!(grant_or_revoke(0, "reader".into(), grant(fits.clone(), fits)).is_ok());
    }
}
