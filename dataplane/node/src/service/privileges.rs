//! Authorization (Milvus RBAC): the privilege each RPC needs, as Milvus' proto declares it
//! (`privilege_ext_obj`: object type, privilege, the field naming the object), and the check
//! of a caller's roles against it. `handle::serve` runs the check for every RPC once the
//! request's database is resolved; with authentication off there is no caller and nothing to
//! check.
//!
//! Who passes: `root`; members of `admin`; a role (every user has `public`) with a grant whose
//! database (`*` or the request's), object (Global grants cover every object; otherwise the
//! type and `*` or the name must match) and privilege (itself, `*`, or a built-in privilege
//! group containing it) cover the need. `public` also has Milvus' default privileges:
//! DescribeCollection and ShowCollections (Global), IndexDetail (every collection). A user may
//! always read and change their own user object (password, roles listing).

use quarry_meta::{CatalogState, GrantMeta, ADMIN_ROLE, PUBLIC_ROLE};
use quarry_proto::common::{ErrorCode, Status};
use quarry_proto::service::*;

use super::auth::Caller;
use crate::convert::shown;
use crate::status::status;

pub(crate) const GLOBAL: &str = "Global";
pub(crate) const COLLECTION: &str = "Collection";
pub(crate) const USER: &str = "User";

/// What a request needs: a privilege on an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need {
    pub privilege: &'static str,
    pub object_type: &'static str,
    /// the collection or user name (Global: `*`)
    pub object_name: String,
    /// the collection the request is about, also for Global privileges (for grants of
    /// collection-level privilege groups)
    pub collection: Option<String>,
}

/// A request and the privilege it needs (`None`: any authenticated caller may send it).
pub(crate) trait Guarded {
    fn need(&self) -> Option<Need>;
}

macro_rules! guarded {
    (open: $($t:ty),* $(,)?) => {
        $(impl Guarded for $t {
            fn need(&self) -> Option<Need> {
                None
            }
        })*
    };
    (global: $($t:ty => $p:literal),* $(,)?) => {
        $(impl Guarded for $t {
            fn need(&self) -> Option<Need> {
                Some(Need {
                    privilege: $p,
                    object_type: GLOBAL,
                    object_name: "*".into(),
                    collection: None,
                })
            }
        })*
    };
    (global_on_collection: $($t:ty => $p:literal),* $(,)?) => {
        $(impl Guarded for $t {
            fn need(&self) -> Option<Need> {
                Some(Need {
                    privilege: $p,
                    object_type: GLOBAL,
                    object_name: "*".into(),
                    collection: Some(self.collection_name.clone()),
                })
            }
        })*
    };
    (collection: $($t:ty => $p:literal),* $(,)?) => {
        $(impl Guarded for $t {
            fn need(&self) -> Option<Need> {
                Some(Need {
                    privilege: $p,
                    object_type: COLLECTION,
                    object_name: self.collection_name.clone(),
                    collection: Some(self.collection_name.clone()),
                })
            }
        })*
    };
}

// RPCs Milvus' proto declares no privilege for
guarded!(open: ConnectRequest, GetVersionRequest, CheckHealthRequest, AllocTimestampRequest,
    HasCollectionRequest, ShowCollectionsRequest, FlushRequest, SelectRoleRequest,
    ListDatabasesRequest, DescribeAliasRequest, ListAliasesRequest, GetReplicasRequest);
guarded!(global: CreateDatabaseRequest => "CreateDatabase", DropDatabaseRequest => "DropDatabase",
    AlterDatabaseRequest => "AlterDatabase", DescribeDatabaseRequest => "DescribeDatabase",
    CreateCredentialRequest => "CreateOwnership", DeleteCredentialRequest => "DropOwnership",
    ListCredUsersRequest => "SelectOwnership", CreateRoleRequest => "CreateOwnership",
    DropRoleRequest => "DropOwnership", OperateUserRoleRequest => "ManageOwnership",
    OperatePrivilegeRequest => "ManageOwnership", OperatePrivilegeV2Request => "ManageOwnership",
    SelectGrantRequest => "SelectOwnership", RenameCollectionRequest => "RenameCollection");
guarded!(global_on_collection: CreateCollectionRequest => "CreateCollection",
    DropCollectionRequest => "DropCollection", AlterCollectionRequest => "CreateCollection",
    AlterCollectionFieldRequest => "CreateCollection",
    DescribeCollectionRequest => "DescribeCollection", CreateAliasRequest => "CreateAlias",
    AlterAliasRequest => "CreateAlias");
guarded!(global: DropAliasRequest => "DropAlias");
guarded!(global: CreatePrivilegeGroupRequest => "CreatePrivilegeGroup",
    DropPrivilegeGroupRequest => "DropPrivilegeGroup",
    ListPrivilegeGroupsRequest => "ListPrivilegeGroups",
    OperatePrivilegeGroupRequest => "OperatePrivilegeGroup");
guarded!(open: GetCompactionStateRequest, RunAnalyzerRequest);
guarded!(collection: ManualCompactionRequest => "Compaction");
guarded!(collection: CreatePartitionRequest => "CreatePartition",
    DropPartitionRequest => "DropPartition", LoadPartitionsRequest => "Load",
    ReleasePartitionsRequest => "Release");
guarded!(collection: LoadCollectionRequest => "Load", ReleaseCollectionRequest => "Release",
    GetCollectionStatisticsRequest => "GetStatistics", HasPartitionRequest => "HasPartition",
    GetPartitionStatisticsRequest => "GetStatistics", ShowPartitionsRequest => "ShowPartitions",
    CreateIndexRequest => "CreateIndex", DescribeIndexRequest => "IndexDetail",
    GetIndexBuildProgressRequest => "IndexDetail", GetIndexStateRequest => "IndexDetail",
    DropIndexRequest => "DropIndex", AlterIndexRequest => "CreateIndex", InsertRequest => "Insert", UpsertRequest => "Upsert",
    DeleteRequest => "Delete", SearchRequest => "Search", HybridSearchRequest => "Search",
    QueryRequest => "Query",
    GetFlushStateRequest => "GetFlushState", GetLoadingProgressRequest => "GetLoadState",
    GetLoadStateRequest => "GetLoadState");

impl Guarded for UpdateCredentialRequest {
    fn need(&self) -> Option<Need> {
        Some(Need {
            privilege: "UpdateUser",
            object_type: USER,
            object_name: self.username.clone(),
            collection: None,
        })
    }
}

impl Guarded for SelectUserRequest {
    fn need(&self) -> Option<Need> {
        Some(Need {
            privilege: "SelectUser",
            object_type: USER,
            object_name: self
                .user
                .as_ref()
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            collection: None,
        })
    }
}

/// Milvus' built-in privilege groups (2.5): each group's own privileges and the group whose
/// privileges it also has.
pub(crate) const GROUPS: [(&str, &[&str], Option<&str>); 9] = [
    (
        "CollectionReadOnly",
        &[
            "Query",
            "Search",
            "IndexDetail",
            "GetFlushState",
            "GetLoadState",
            "GetLoadingProgress",
            "HasPartition",
            "ShowPartitions",
            "DescribeCollection",
            "DescribeAlias",
            "GetStatistics",
            "ListAliases",
        ],
        None,
    ),
    (
        "CollectionReadWrite",
        &[
            "Load",
            "Release",
            "Insert",
            "Delete",
            "Upsert",
            "Import",
            "Flush",
            "Compaction",
            "LoadBalance",
            "CreateIndex",
            "DropIndex",
            "CreatePartition",
            "DropPartition",
        ],
        Some("CollectionReadOnly"),
    ),
    (
        "CollectionAdmin",
        &["CreateAlias", "DropAlias"],
        Some("CollectionReadWrite"),
    ),
    (
        "DatabaseReadOnly",
        &["ShowCollections", "DescribeDatabase"],
        None,
    ),
    (
        "DatabaseReadWrite",
        &["AlterDatabase"],
        Some("DatabaseReadOnly"),
    ),
    (
        "DatabaseAdmin",
        &["CreateCollection", "DropCollection"],
        Some("DatabaseReadWrite"),
    ),
    (
        "ClusterReadOnly",
        &[
            "ListDatabases",
            "SelectOwnership",
            "SelectUser",
            "DescribeResourceGroup",
            "ListResourceGroups",
            "ListPrivilegeGroups",
        ],
        None,
    ),
    (
        "ClusterReadWrite",
        &[
            "FlushAll",
            "TransferNode",
            "TransferReplica",
            "UpdateResourceGroups",
        ],
        Some("ClusterReadOnly"),
    ),
    (
        "ClusterAdmin",
        &[
            "CreateDatabase",
            "DropDatabase",
            "CreateOwnership",
            "DropOwnership",
            "ManageOwnership",
            "UpdateUser",
            "RenameCollection",
            "DescribeDatabase",
            "AlterDatabase",
            "CreatePrivilegeGroup",
            "DropPrivilegeGroup",
            "OperatePrivilegeGroup",
        ],
        Some("ClusterReadWrite"),
    ),
];

/// The own privileges of built-in group `group`, then of each group it extends (nothing for a
/// name that is no built-in group).
fn group_chain(group: &str) -> impl Iterator<Item = &'static str> + '_ {
    let mut next = Some(group);
    std::iter::from_fn(move || {
        let (_, own, base) = GROUPS.iter().find(|(g, _, _)| Some(*g) == next)?;
        next = *base;
        Some(*own)
    })
    .flatten()
    .copied()
}

/// Whether built-in group `group` has `privilege` (itself or through the group it extends).
fn group_has(group: &str, privilege: &str) -> bool {
    group_chain(group).any(|p| p == privilege)
}

/// Every privilege name a grant may carry (besides groups and `*`), by object type.
pub(crate) const PRIVILEGES: [(&str, &[&str]); 3] = [
    (
        GLOBAL,
        &[
            "All",
            "CreateCollection",
            "DropCollection",
            "DescribeCollection",
            "ShowCollections",
            "RenameCollection",
            "CreateOwnership",
            "DropOwnership",
            "SelectOwnership",
            "ManageOwnership",
            "CreateDatabase",
            "DropDatabase",
            "ListDatabases",
            "DescribeDatabase",
            "AlterDatabase",
            "CreateAlias",
            "DropAlias",
            "DescribeAlias",
            "ListAliases",
            "FlushAll",
            "CreateResourceGroup",
            "DropResourceGroup",
            "DescribeResourceGroup",
            "ListResourceGroups",
            "TransferNode",
            "TransferReplica",
            "UpdateResourceGroups",
            "CreatePrivilegeGroup",
            "DropPrivilegeGroup",
            "ListPrivilegeGroups",
            "OperatePrivilegeGroup",
        ],
    ),
    (
        COLLECTION,
        &[
            "CreateIndex",
            "DropIndex",
            "IndexDetail",
            "Load",
            "GetLoadingProgress",
            "GetLoadState",
            "Release",
            "Insert",
            "Delete",
            "Upsert",
            "Search",
            "Flush",
            "GetFlushState",
            "Query",
            "GetStatistics",
            "Compaction",
            "Import",
            "LoadBalance",
            "CreatePartition",
            "DropPartition",
            "ShowPartitions",
            "HasPartition",
        ],
    ),
    (USER, &["UpdateUser", "SelectUser"]),
];

/// The privileges a granted name stands for: a group's members (a custom group's as they are
/// now, so changes of the group apply to its grants at once), or the name itself.
fn expands_to(state: &CatalogState, granted: &str, privilege: &str) -> bool {
    if granted == privilege || granted == "*" || granted == "All" {
        return true;
    }
    match state.privilege_groups.get(granted) {
        Some(members) => members
            .iter()
            .any(|m| m == privilege || group_has(m, privilege)),
        None => group_has(granted, privilege),
    }
}

/// The privileges of a built-in group, its base groups' included.
pub(crate) fn group_privileges(group: &str) -> Vec<&'static str> {
    group_chain(group).collect()
}

/// Where a privilege (or built-in group) applies, as Milvus sorts privileges into levels: the
/// built-in group family that has it, else its object type (Collection, or Global/User as
/// Cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Cluster,
    Database,
    Collection,
}

pub(crate) fn level(privilege: &str) -> Level {
    for (prefix, top, level) in [
        ("Collection", "CollectionAdmin", Level::Collection),
        ("Database", "DatabaseAdmin", Level::Database),
        ("Cluster", "ClusterAdmin", Level::Cluster),
    ] {
        if (is_group(privilege) && privilege.starts_with(prefix)) || group_has(top, privilege) {
            return level;
        }
    }
    let collection = PRIVILEGES
        .iter()
        .any(|(t, names)| *t == COLLECTION && names.contains(&privilege));
    if collection {
        Level::Collection
    } else {
        Level::Cluster
    }
}

pub(crate) fn is_group(name: &str) -> bool {
    GROUPS.iter().any(|(g, _, _)| *g == name)
}

fn covers(state: &CatalogState, g: &GrantMeta, need: &Need, db: &str) -> bool {
    if g.db != "*" && g.db != db {
        return false;
    }
    if !expands_to(state, &g.privilege, need.privilege) {
        return false;
    }
    if g.object_type == GLOBAL {
        // a custom group granted on one collection is a Global grant naming it (as in Milvus)
        let collection = if need.object_type == COLLECTION {
            Some(&need.object_name)
        } else {
            need.collection.as_ref()
        };
        return g.object_name == "*" || collection == Some(&g.object_name);
    }
    if g.object_type == need.object_type {
        return g.object_name == "*" || g.object_name == need.object_name;
    }
    // a collection-level group granted on a collection also covers the collection-level uses
    // of Global privileges it lists (DescribeCollection of that collection)
    g.object_type == COLLECTION
        && is_group(&g.privilege)
        && need
            .collection
            .as_ref()
            .is_some_and(|c| g.object_name == "*" || &g.object_name == c)
}

/// Milvus' default privileges of the `public` role.
fn public_default(need: &Need) -> bool {
    matches!(
        (need.object_type, need.privilege),
        (GLOBAL, "DescribeCollection") | (GLOBAL, "ShowCollections") | (COLLECTION, "IndexDetail")
    )
}

/// Whether `caller` may do what `need` says in database `db`.
pub(crate) fn permitted(state: &CatalogState, caller: &Caller, db: &str, need: &Need) -> bool {
    if public_default(need) || (need.object_type == USER && need.object_name == caller.user) {
        return true;
    }
    any_grant(state, caller, |g| covers(state, g, need, db))
}

/// Whether `caller` has everything (root, a member of `admin`) or a grant of one of its roles
/// (`public`'s own grants included) for which `test` holds. An unknown user has nothing.
fn any_grant(state: &CatalogState, caller: &Caller, test: impl Fn(&GrantMeta) -> bool) -> bool {
    if caller.is_root() {
        return true;
    }
    let Some(user) = state.users.get(&caller.user) else {
        return false;
    };
    if user.roles.iter().any(|r| r == ADMIN_ROLE) {
        return true;
    }
    user.roles
        .iter()
        .map(String::as_str)
        .chain([PUBLIC_ROLE])
        .flat_map(|r| state.grants_of(r))
        .any(test)
}

/// Whether `ShowCollections` lists collection `name` of database `db` to `caller` (as Milvus
/// filters it): root and `admin` see every collection; others those a grant of one of their
/// roles (`public`'s own grants included, not its defaults) names — any collection-level
/// grant on it or `*`, a collection-level or custom group granted on it or `*`, a database
/// group, or `All`/`*` granted globally — in that database or `*`.
pub(crate) fn visible(state: &CatalogState, caller: &Caller, db: &str, name: &str) -> bool {
    let names = |g: &GrantMeta| g.object_name == "*" || g.object_name == name;
    any_grant(state, caller, |g| {
        (g.db == "*" || g.db == db)
            && match g.object_type.as_str() {
                COLLECTION => names(g),
                GLOBAL if g.privilege == "All" || g.privilege == "*" => true,
                GLOBAL if g.privilege.starts_with("Database") && is_group(&g.privilege) => true,
                GLOBAL if state.privilege_groups.contains_key(&g.privilege) => names(g),
                _ => false,
            }
    })
}

/// Milvus' refusal of a request the caller has no privilege for.
pub(crate) fn denied(need: &Need, caller: &Caller, db: &str) -> Status {
    status(
        1401,
        ErrorCode::PermissionDenied,
        format!(
            "Privilege{}: permission deny to {} in the `{}` database: privilege not permitted",
            need.privilege,
            shown(&caller.user),
            shown(db)
        ),
    )
}

#[cfg(test)]
mod tests {
    use quarry_meta::{RoleMeta, UserMeta};

    use super::*;

    fn grant(object_type: &str, object_name: &str, db: &str, privilege: &str) -> GrantMeta {
        GrantMeta {
            object_type: object_type.into(),
            object_name: object_name.into(),
            db: db.into(),
            privilege: privilege.into(),
            grantor: "root".into(),
        }
    }

    fn state(roles: &[&str], grants: Vec<GrantMeta>) -> CatalogState {
        let mut s = CatalogState::default();
        s.users.insert(
            "alice".into(),
            UserMeta {
                name: "alice".into(),
                password_hash: "h".into(),
                created_ts: 1,
                roles: roles.iter().map(|r| r.to_string()).collect(),
            },
        );
        s.roles.insert(
            "r".into(),
            RoleMeta {
                name: "r".into(),
                created_ts: 1,
                grants,
            },
        );
        s
    }

    fn alice() -> Caller {
        Caller {
            user: "alice".into(),
        }
    }

    #[test]
    fn show_collections_lists_what_the_roles_name() {
        let visible_to = |grants: Vec<GrantMeta>| {
            let s = state(&["r"], grants);
            ["books", "films"]
                .into_iter()
                .filter(|c| visible(&s, &alice(), "default", c))
                .collect::<Vec<_>>()
        };
        assert!(visible_to(vec![]).is_empty());
        assert_eq!(
            visible_to(vec![grant(COLLECTION, "books", "default", "Query")]),
            ["books"]
        );
        assert!(visible_to(vec![grant(COLLECTION, "books", "other", "Query")]).is_empty());
        assert_eq!(
            visible_to(vec![grant(COLLECTION, "*", "*", "Insert")]),
            ["books", "films"]
        );
        let showing = grant(GLOBAL, "*", "default", "ShowCollections");
        assert!(visible_to(vec![showing]).is_empty());
        assert_eq!(visible_to(vec![grant(GLOBAL, "*", "*", "All")]).len(), 2);
        let db_group = grant(GLOBAL, "*", "default", "DatabaseReadOnly");
        assert_eq!(visible_to(vec![db_group]).len(), 2);
        let mut s = state(&["r"], vec![grant(GLOBAL, "films", "default", "readers")]);
        s.privilege_groups
            .insert("readers".into(), vec!["Query".into()]);
        assert!(visible(&s, &alice(), "default", "films"));
        assert!(!visible(&s, &alice(), "default", "books"));
        let root = Caller {
            user: "root".into(),
        };
        assert!(visible(&s, &root, "default", "books"));
    }

    /// A custom group granted on one collection covers its members there, as the group is at
    /// each check; granted on `*`, everywhere in its database.
    #[test]
    fn custom_groups_cover_their_current_privileges_in_their_scope() {
        let mut s = state(&["r"], vec![grant(GLOBAL, "books", "default", "readers")]);
        s.privilege_groups.insert(
            "readers".into(),
            vec!["CollectionReadOnly".into(), "Insert".into()],
        );
        let insert = |c: &str| InsertRequest {
            collection_name: c.into(),
            ..Default::default()
        };
        assert!(permitted(&s, &alice(), "default", &search("books")));
        assert!(permitted(
            &s,
            &alice(),
            "default",
            &insert("books").need().unwrap()
        ));
        assert!(!permitted(&s, &alice(), "default", &search("films")));
        assert!(!permitted(&s, &alice(), "other", &search("books")));
        let drop = DropCollectionRequest {
            collection_name: "books".into(),
            ..Default::default()
        };
        assert!(!permitted(&s, &alice(), "default", &drop.need().unwrap()));
        s.privilege_groups
            .get_mut("readers")
            .unwrap()
            .retain(|p| p != "Insert");
        assert!(!permitted(
            &s,
            &alice(),
            "default",
            &insert("books").need().unwrap()
        ));
        s.roles.get_mut("r").unwrap().grants = vec![grant(GLOBAL, "*", "default", "readers")];
        assert!(permitted(&s, &alice(), "default", &search("films")));
        assert!(!permitted(&s, &alice(), "other", &search("films")));
    }

    fn search(c: &str) -> Need {
        SearchRequest {
            collection_name: c.into(),
            ..Default::default()
        }
        .need()
        .unwrap()
    }

    #[test]
    fn grants_cover_their_collection_database_and_privilege_only() {
        let s = state(
            &["r"],
            vec![grant(COLLECTION, "books", "default", "Search")],
        );
        assert!(permitted(&s, &alice(), "default", &search("books")));
        assert!(!permitted(&s, &alice(), "default", &search("films")));
        assert!(!permitted(&s, &alice(), "other", &search("books")));
        let insert = InsertRequest {
            collection_name: "books".into(),
            ..Default::default()
        }
        .need()
        .unwrap();
        assert!(!permitted(&s, &alice(), "default", &insert));
        // without the role, nothing
        let s = state(&[], vec![grant(COLLECTION, "books", "default", "Search")]);
        assert!(!permitted(&s, &alice(), "default", &search("books")));
    }

    #[test]
    fn wildcards_groups_admin_root_and_public_defaults() {
        let s = state(
            &["r"],
            vec![grant(COLLECTION, "*", "*", "CollectionReadOnly")],
        );
        assert!(permitted(&s, &alice(), "any", &search("x")));
        let drop = DropCollectionRequest {
            collection_name: "x".into(),
            ..Default::default()
        };
        assert!(!permitted(&s, &alice(), "any", &drop.need().unwrap()));
        let s = state(&["admin"], vec![]);
        assert!(permitted(&s, &alice(), "default", &drop.need().unwrap()));
        let root = Caller {
            user: "root".into(),
        };
        assert!(permitted(
            &CatalogState::default(),
            &root,
            "default",
            &drop.need().unwrap()
        ));
        // public's defaults: describing a collection, index details
        let s = state(&[], vec![]);
        let describe = DescribeCollectionRequest {
            collection_name: "x".into(),
            ..Default::default()
        };
        assert!(permitted(
            &s,
            &alice(),
            "default",
            &describe.need().unwrap()
        ));
        // a user's own user object
        let own = UpdateCredentialRequest {
            username: "alice".into(),
            ..Default::default()
        };
        assert!(permitted(&s, &alice(), "default", &own.need().unwrap()));
        let other = UpdateCredentialRequest {
            username: "bob".into(),
            ..Default::default()
        };
        assert!(!permitted(&s, &alice(), "default", &other.need().unwrap()));
        let d = denied(&other.need().unwrap(), &alice(), "default");
        assert_eq!(d.code, 1401);
        assert!(d
            .reason
            .contains("PrivilegeUpdateUser: permission deny to alice"));
    }

    #[test]
    fn grants_to_public_reach_every_user() {
        let mut s = state(&[], vec![]);
        s.roles.insert(
            PUBLIC_ROLE.into(),
            RoleMeta {
                name: PUBLIC_ROLE.into(),
                created_ts: 1,
                grants: vec![grant(GLOBAL, "*", "default", "All")],
            },
        );
        assert!(permitted(&s, &alice(), "default", &search("x")));
        assert!(!permitted(&s, &alice(), "other", &search("x")));
    }
}
