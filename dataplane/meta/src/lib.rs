//! Quarry's catalog, as both sides of the data plane share it: the model ([`CollectionMeta`]
//! and the rest), the named catalog operations ([`MetaService`], [`MetaOp`]) with their one
//! error type and its gRPC mapping, the persisted catalog ([`Catalog`]: versioned manifests
//! with conditional puts), the in-process implementation ([`LocalMeta`]: standalone mode and
//! the coordinator), the client of the coordinator's service ([`RemoteMeta`]: the other roles
//! of a cluster), hybrid timestamps ([`Tso`]) and the layout of objects and topics ([`keys`]).
//!
//! The coordinator's server side (placement, node registry, the gRPC service, the garbage
//! sweep) is `quarry-coord`; the engine depends on this crate only.

mod catalog;
mod error;
pub mod keys;
mod local;
mod model;
mod names;
mod partitions;
pub mod proto;
mod rbac;
mod rbac_proto;
mod remote;
mod rename;
mod service;
pub mod token;
mod tso;
mod users;
mod wire;

pub use catalog::Catalog;
pub use error::{MetaError, Refusal};
pub use local::LocalMeta;
pub use model::{
    CatalogState, CollectionMeta, DatabaseMeta, IndexMeta, PartitionMeta, SegmentMeta,
    DEFAULT_DB_ID,
};
pub use names::DB_MAX_COLLECTIONS;
pub use partitions::DEFAULT_KEY_PARTITIONS;
pub use rbac::{
    is_builtin_role, GrantMeta, RbacChange, RoleMeta, ADMIN_ROLE, MAX_GROUP_PRIVILEGES,
    MAX_PRIVILEGE_GROUPS, MAX_ROLES, PUBLIC_ROLE,
};
pub use remote::{RemoteMeta, CLUSTER_HEADER};
pub use service::{
    apply_op, AliasChange, CompactionCommit, Created, DatabaseChange, FlushCommit, IndexCommit,
    MetaOp, MetaResult, MetaService, NewCollection, NewIndex, Rename, DEFAULT_DB,
    DEFAULT_PARTITION,
};
pub use token::{InternalHeaders, InternalToken, RequireToken, TOKEN_HEADER};
pub use tso::Tso;
pub use users::{UserMeta, ROOT_USER};
pub use wire::{from_status, to_status};
