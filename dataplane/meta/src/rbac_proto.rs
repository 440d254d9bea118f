//! Protobuf conversions of roles, grants and RBAC changes (internal.proto), for `proto.rs`.

use quarry_proto::internal as pb;
use quarry_proto::DecodeError;

use crate::{GrantMeta, RbacChange, RoleMeta};

const CREATE_ROLE: i32 = 1;
const DROP_ROLE: i32 = 2;
const ADD_USER: i32 = 3;
const REMOVE_USER: i32 = 4;
const GRANT: i32 = 5;
const REVOKE: i32 = 6;
const CREATE_GROUP: i32 = 7;
const DROP_GROUP: i32 = 8;
const ADD_TO_GROUP: i32 = 9;
const REMOVE_FROM_GROUP: i32 = 10;

pub(crate) fn grant_to_pb(g: GrantMeta) -> pb::GrantMeta {
    pb::GrantMeta {
        object_type: g.object_type,
        object_name: g.object_name,
        db: g.db,
        privilege: g.privilege,
        grantor: g.grantor,
    }
}

pub(crate) fn grant_from_pb(g: pb::GrantMeta) -> GrantMeta {
    GrantMeta {
        object_type: g.object_type,
        object_name: g.object_name,
        db: g.db,
        privilege: g.privilege,
        grantor: g.grantor,
    }
}

pub(crate) fn role_to_pb(r: RoleMeta) -> pb::RoleMeta {
    pb::RoleMeta {
        name: r.name,
        created_ts: r.created_ts,
        grants: r.grants.into_iter().map(grant_to_pb).collect(),
    }
}

pub(crate) fn role_from_pb(r: pb::RoleMeta) -> RoleMeta {
    RoleMeta {
        name: r.name,
        created_ts: r.created_ts,
        grants: r.grants.into_iter().map(grant_from_pb).collect(),
    }
}

pub(crate) fn rbac_to_pb(c: RbacChange) -> pb::RbacChange {
    let base = pb::RbacChange::default();
    match c {
        RbacChange::CreateRole { name } => pb::RbacChange {
            kind: CREATE_ROLE,
            role: name,
            ..base
        },
        RbacChange::DropRole { name, force } => pb::RbacChange {
            kind: DROP_ROLE,
            role: name,
            force,
            ..base
        },
        RbacChange::AddUserToRole { user, role } => pb::RbacChange {
            kind: ADD_USER,
            role,
            user,
            ..base
        },
        RbacChange::RemoveUserFromRole { user, role } => pb::RbacChange {
            kind: REMOVE_USER,
            role,
            user,
            ..base
        },
        RbacChange::Grant { role, grant } => pb::RbacChange {
            kind: GRANT,
            role,
            grant: Some(grant_to_pb(grant)),
            ..base
        },
        RbacChange::Revoke { role, grant } => pb::RbacChange {
            kind: REVOKE,
            role,
            grant: Some(grant_to_pb(grant)),
            ..base
        },
        RbacChange::CreatePrivilegeGroup { name } => pb::RbacChange {
            kind: CREATE_GROUP,
            group: name,
            ..base
        },
        RbacChange::DropPrivilegeGroup { name } => pb::RbacChange {
            kind: DROP_GROUP,
            group: name,
            ..base
        },
        RbacChange::OperatePrivilegeGroup {
            name,
            privileges,
            remove,
        } => pb::RbacChange {
            kind: if remove {
                REMOVE_FROM_GROUP
            } else {
                ADD_TO_GROUP
            },
            group: name,
            privileges,
            ..base
        },
    }
}

pub(crate) fn rbac_from_pb(c: pb::RbacChange) -> Result<RbacChange, DecodeError> {
    let grant = |g: Option<pb::GrantMeta>| {
        g.map(grant_from_pb)
            .ok_or_else(|| DecodeError::invalid("RbacChange.grant", "missing"))
    };
    Ok(match c.kind {
        CREATE_ROLE => RbacChange::CreateRole { name: c.role },
        DROP_ROLE => RbacChange::DropRole {
            name: c.role,
            force: c.force,
        },
        ADD_USER => RbacChange::AddUserToRole {
            user: c.user,
            role: c.role,
        },
        REMOVE_USER => RbacChange::RemoveUserFromRole {
            user: c.user,
            role: c.role,
        },
        GRANT => RbacChange::Grant {
            role: c.role,
            grant: grant(c.grant)?,
        },
        REVOKE => RbacChange::Revoke {
            role: c.role,
            grant: grant(c.grant)?,
        },
        CREATE_GROUP => RbacChange::CreatePrivilegeGroup { name: c.group },
        DROP_GROUP => RbacChange::DropPrivilegeGroup { name: c.group },
        ADD_TO_GROUP | REMOVE_FROM_GROUP => RbacChange::OperatePrivilegeGroup {
            name: c.group,
            privileges: c.privileges,
            remove: c.kind == REMOVE_FROM_GROUP,
        },
        other => {
            return Err(DecodeError::invalid(
                "RbacChange.kind",
                format!("unknown kind {other}"),
            ))
        }
    })
}
