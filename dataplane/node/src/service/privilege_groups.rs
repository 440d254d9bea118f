//! Custom privilege groups (Milvus 2.5; pymilvus `create_privilege_group`,
//! `drop_privilege_group`, `list_privilege_groups`, `add_privileges_to_group`,
//! `remove_privileges_from_group`): CreatePrivilegeGroup, DropPrivilegeGroup,
//! ListPrivilegeGroups and OperatePrivilegeGroup. A group is a named set of privileges and
//! built-in groups of one level (cluster, database or collection); a role granted the group
//! (`grant_privilege_v2`) has its privileges as the group has them at each check. The catalog
//! keeps the groups (`quarry_meta` rbac); who may call these is checked by the request layer.

use quarry_meta::RbacChange;
use quarry_proto::common::{ErrorCode, Status};
use quarry_proto::service::*;
use quarry_types::limits::MAX_NAME_BYTES;

use super::handle::Handled;
use super::privileges::{group_privileges, is_group, level, GROUPS, PRIVILEGES};
use super::roles::{self, name_fault, NameFault};
use super::Service;
use crate::convert::shown;
use crate::status::{invalid, ok};

/// Privilege groups Milvus 2.4 had; their names stay taken.
const OLD_GROUPS: [&str; 3] = ["ReadOnly", "ReadWrite", "Admin"];

/// Whether `name` is a built-in privilege or privilege group.
fn is_builtin(name: &str) -> bool {
    is_group(name)
        || OLD_GROUPS.contains(&name)
        || PRIVILEGES.iter().any(|(_, names)| names.contains(&name))
}

/// Group names follow Milvus' rules (those of role names, up to the name length limit).
fn check_group_name(name: &str) -> Handled<()> {
    let shown_name = shown(name);
    let why = match name_fault(name, MAX_NAME_BYTES) {
        None => return Ok(()),
        Some(NameFault::Empty) => "privilege group name should not be empty".to_string(),
        Some(NameFault::TooLong) => format!(
            "the length of a privilege group name {shown_name} must be less than \
             {MAX_NAME_BYTES} characters"
        ),
        Some(NameFault::BadFirst) => format!(
            "the first character of a privilege group name {shown_name} must be an underscore \
             or letter"
        ),
        Some(NameFault::BadChar) => format!(
            "privilege group name {shown_name} can only contain numbers, letters and underscores"
        ),
    };
    Err(invalid(why))
}

/// A catalog change of groups (refusals with Milvus' generic error code, as its root
/// coordinator answers them).
async fn change(s: &Service, c: RbacChange) -> Handled<Status> {
    roles::change(s, c, ErrorCode::UnexpectedError).await
}

pub(super) async fn create(s: &Service, r: CreatePrivilegeGroupRequest) -> Handled<Status> {
    let name = r.group_name.trim().to_string();
    check_group_name(&name)?;
    if is_builtin(&name) {
        return Err(invalid(format!(
            "privilege group name [{name}] is defined by built in privileges or privilege \
             groups in system"
        )));
    }
    change(s, RbacChange::CreatePrivilegeGroup { name }).await
}

pub(super) async fn drop(s: &Service, r: DropPrivilegeGroupRequest) -> Handled<Status> {
    let name = r.group_name.trim().to_string();
    check_group_name(&name)?;
    if is_builtin(&name) {
        return Err(invalid(format!(
            "the privilege group [{name}] is built in, which can't be dropped"
        )));
    }
    change(s, RbacChange::DropPrivilegeGroup { name }).await
}

pub(super) async fn list(
    s: &Service,
    _r: ListPrivilegeGroupsRequest,
) -> Handled<ListPrivilegeGroupsResponse> {
    let state = s.engine.meta().snapshot();
    let info = |name: &str, privileges: Vec<String>| PrivilegeGroupInfo {
        group_name: name.to_string(),
        privileges: privileges
            .into_iter()
            .map(|name| PrivilegeEntity { name })
            .collect(),
    };
    // the custom groups, then the built-in ones (as Milvus lists them)
    let mut groups: Vec<PrivilegeGroupInfo> = state
        .privilege_groups
        .iter()
        .map(|(name, privileges)| info(name, privileges.clone()))
        .collect();
    groups.extend(GROUPS.iter().map(|(name, _, _)| {
        let all = group_privileges(name)
            .into_iter()
            .map(String::from)
            .collect();
        info(name, all)
    }));
    Ok(ListPrivilegeGroupsResponse {
        status: Some(ok()),
        privilege_groups: groups,
    })
}

pub(super) async fn operate(s: &Service, r: OperatePrivilegeGroupRequest) -> Handled<Status> {
    let name = r.group_name.trim().to_string();
    check_group_name(&name)?;
    let remove = match OperatePrivilegeGroupType::try_from(r.r#type) {
        Ok(OperatePrivilegeGroupType::AddPrivilegesToGroup) => false,
        Ok(OperatePrivilegeGroupType::RemovePrivilegesFromGroup) => true,
        Err(_) => {
            return Err(invalid(format!(
                "invalid operate privilege group type {}",
                r.r#type
            )))
        }
    };
    if r.privileges.is_empty() {
        return Err(invalid(
            "privileges is empty when alter the privilege group",
        ));
    }
    let state = s.engine.meta().snapshot();
    let privileges: Vec<String> = r.privileges.into_iter().map(|p| p.name).collect();
    for p in &privileges {
        if state.privilege_groups.contains_key(p) {
            return Err(invalid(format!(
                "the custom privilege group [{}] cannot be a member of another group: add its \
                 privileges instead",
                shown(p)
            )));
        }
        if !is_builtin(p) || OLD_GROUPS.contains(&p.as_str()) {
            return Err(invalid(format!(
                "there is no privilege name or privilege group name [{}] defined in system to \
                 operate",
                shown(p)
            )));
        }
    }
    if !remove {
        // one level per group: what it is granted on (cluster, a database, a collection)
        // must fit every privilege in it
        let existing = state
            .privilege_groups
            .get(&name)
            .cloned()
            .unwrap_or_default();
        let mut levels = existing.iter().chain(&privileges).map(|p| level(p));
        let first = levels.next();
        if levels.any(|l| Some(l) != first) {
            return Err(invalid("privileges are not the same privilege level"));
        }
    }
    change(
        s,
        RbacChange::OperatePrivilegeGroup {
            name,
            privileges,
            remove,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::privileges::Level;

    #[test]
    fn group_names_follow_milvus_rules_and_keep_built_in_names() {
        check_group_name("my_readers1").unwrap();
        for bad in ["", " ", "1abc", "a-b", "ä", &"g".repeat(MAX_NAME_BYTES + 1)] {
            assert!(check_group_name(bad).is_err(), "{bad}");
        }
        for taken in [
            "Search",
            "ClusterReadOnly",
            "CollectionAdmin",
            "ReadOnly",
            "CreateDatabase",
        ] {
            assert!(is_builtin(taken), "{taken}");
        }
        assert!(!is_builtin("my_readers1"));
    }

    #[test]
    fn privileges_have_levels() {
        assert_eq!(level("Search"), Level::Collection);
        assert_eq!(level("CollectionReadWrite"), Level::Collection);
        assert_eq!(level("ShowCollections"), Level::Database);
        assert_eq!(level("DatabaseAdmin"), Level::Database);
        assert_eq!(level("CreateDatabase"), Level::Cluster);
        assert_eq!(level("ClusterReadOnly"), Level::Cluster);
        assert!(group_privileges("CollectionReadWrite").contains(&"Search"));
    }
}
