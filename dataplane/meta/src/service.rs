//! The coordinator's catalog operations, by name. Workers and proxies never edit the catalog
//! themselves: they ask for one of these operations, in-process in standalone mode
//! ([`LocalMeta`]) or over the internal gRPC service in a cluster. Each operation is one
//! atomic catalog commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use quarry_types::{CollectionSchema, ConsistencyLevel};

use crate::{CatalogState, CollectionMeta, IndexMeta, MetaError, SegmentMeta};

pub const DEFAULT_DB: &str = "default";
pub const DEFAULT_PARTITION: &str = "_default";

/// A collection to create; the schema is already validated and has its field ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewCollection {
    /// the database (`default` for requests from before databases existed)
    #[serde(default = "default_db")]
    pub db: String,
    pub name: String,
    pub schema: CollectionSchema,
    pub shards: u32,
    pub consistency: ConsistencyLevel,
    pub properties: Vec<(String, String)>,
    /// partitions `_default_0..` of a partition-key collection (0: the `_default` partition)
    #[serde(default)]
    pub num_partitions: u32,
}

fn default_db() -> String {
    DEFAULT_DB.into()
}

/// A change of a database. Names and properties are validated by the caller; the catalog
/// checks what depends on its state (existence, emptiness, the number of databases).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DatabaseChange {
    Create {
        name: String,
        properties: Vec<(String, String)>,
    },
    /// Refused for `default` and for a database that still has collections; dropping a
    /// database that does not exist succeeds (as in Milvus).
    Drop { name: String },
    /// Sets `set` (replacing values of the same keys), then removes `delete`.
    Alter {
        name: String,
        set: Vec<(String, String)>,
        delete: Vec<String>,
    },
}

/// A change of an alias of database `db`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AliasChange {
    /// A new alias of `collection` (again on the same collection: nothing changes).
    Create {
        db: String,
        alias: String,
        collection: String,
    },
    /// Removes an alias (one that does not exist: nothing changes, as in Milvus).
    Drop { db: String, alias: String },
    /// Moves an existing alias to `collection`, in one commit.
    Alter {
        db: String,
        alias: String,
        collection: String,
    },
}

/// An index definition to add; parameters are normalized by the caller.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewIndex {
    pub name: String,
    pub field_name: String,
    pub params: BTreeMap<String, String>,
}

/// What a flush of one shard produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlushCommit {
    pub collection: i64,
    pub shard: u32,
    /// the sealed growing data, one segment per partition that had rows
    pub new_segments: Vec<SegmentMeta>,
    /// (segment id, delete file key, deleted row count) for older segments
    pub deletes: Vec<(i64, String, u64)>,
    /// the shard's new replay start
    pub checkpoint: u64,
    /// the checkpoint the flushed data started from: the commit is refused unless it is still
    /// the shard's checkpoint (a second owner of the shard, say a node that lost its lease,
    /// would otherwise commit rows twice)
    pub base: u64,
}

/// Segments of one shard and partition merged into one (deleted rows purged). Sending it again after a lost
/// answer is safe: a commit whose target is listed already is recognised as applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompactionCommit {
    pub collection: i64,
    pub shard: u32,
    pub sources: Vec<i64>,
    pub target: SegmentMeta,
    /// the shard checkpoint the compactor's state continues (its last flush or load): refused
    /// unless it is still the shard's checkpoint, like [`FlushCommit::base`]. A node that lost
    /// the shard would otherwise merge without the deletes the new owner persisted since.
    pub base: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndexCommit {
    pub collection: i64,
    pub segment: i64,
    pub index: i64,
    pub key: String,
}

/// How a create ended: a new collection, or an identical one that already existed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Created {
    New(CollectionMeta),
    Existing(CollectionMeta),
}

#[async_trait]
pub trait MetaService: Send + Sync + std::fmt::Debug {
    /// The newest catalog state this process knows.
    fn snapshot(&self) -> Arc<CatalogState>;
    /// A fresh hybrid timestamp, monotonic per cluster.
    fn timestamp(&self) -> u64;
    /// Reserves `n` consecutive ids (rows, segments) and returns the first.
    async fn alloc_ids(&self, n: u64) -> Result<i64, MetaError>;
    async fn create_collection(&self, req: NewCollection) -> Result<Created, MetaError>;
    /// Removes a collection from the catalog; returns it (`None` if it did not exist).
    async fn drop_collection(&self, id: i64) -> Result<Option<CollectionMeta>, MetaError>;
    async fn set_loaded(&self, id: i64, loaded: bool, replicas: u32) -> Result<(), MetaError>;
    /// Pins a collection's in-memory replicas to the query nodes of one pool (`None`: any).
    async fn set_query_pool(&self, id: i64, pool: Option<String>) -> Result<(), MetaError>;
    /// Replaces a collection's properties (AlterCollection; the operator's Collection spec).
    async fn set_properties(
        &self,
        id: i64,
        properties: Vec<(String, String)>,
    ) -> Result<(), MetaError>;
    /// Replaces the type params of one field of a collection (AlterCollectionField).
    async fn set_field_params(
        &self,
        id: i64,
        field: String,
        params: Vec<(String, String)>,
    ) -> Result<(), MetaError>;
    /// Replaces the parameters of one index of a collection (AlterIndex).
    async fn set_index_params(
        &self,
        id: i64,
        index: i64,
        params: BTreeMap<String, String>,
    ) -> Result<(), MetaError>;
    async fn create_index(&self, id: i64, index: NewIndex) -> Result<IndexMeta, MetaError>;
    async fn drop_index(&self, id: i64, index: i64) -> Result<(), MetaError>;
    /// Records a flush; returns the delete-file keys it superseded (garbage now).
    async fn commit_flush(&self, commit: FlushCommit) -> Result<Vec<String>, MetaError>;
    async fn commit_index(&self, commit: IndexCommit) -> Result<(), MetaError>;
    /// Swaps a compaction's sources for its target atomically; returns the keys of the sources'
    /// files (garbage now).
    async fn commit_compaction(&self, commit: CompactionCommit) -> Result<Vec<String>, MetaError>;
    /// Creates, drops or alters a database.
    async fn change_database(&self, change: DatabaseChange) -> Result<(), MetaError>;
    /// Creates, drops or moves an alias.
    async fn change_alias(&self, change: AliasChange) -> Result<(), MetaError>;
    /// Adds a user with a password hash; with `if_absent` an existing user is kept as it is.
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        if_absent: bool,
    ) -> Result<(), MetaError>;
    /// Replaces a user's password hash if it is still `previous_hash`.
    async fn update_user(
        &self,
        name: &str,
        password_hash: &str,
        previous_hash: &str,
    ) -> Result<(), MetaError>;
    /// Removes a user (nothing if there is none; never `root`).
    async fn delete_user(&self, name: &str) -> Result<(), MetaError>;
    /// Gives a collection a new name, in its database or in another one (RenameCollection).
    async fn rename_collection(&self, rename: Rename) -> Result<(), MetaError>;
    /// Creates or drops a role, changes a user's roles, grants or revokes a privilege.
    async fn change_rbac(&self, change: crate::RbacChange) -> Result<(), MetaError>;
    /// Adds a partition (an existing name: nothing changes, as in Milvus).
    async fn create_partition(&self, id: i64, name: &str) -> Result<(), MetaError>;
    /// Removes a partition and its segments; returns the keys of their files (garbage now).
    /// A missing partition: nothing changes.
    async fn drop_partition(&self, id: i64, name: &str) -> Result<Vec<String>, MetaError>;
    /// Loads or releases partitions by name (see [`crate::set_partition_loaded`]).
    async fn set_partition_loaded(
        &self,
        id: i64,
        names: Vec<String>,
        loaded: bool,
        replicas: u32,
    ) -> Result<(), MetaError>;
    /// Catches up with the catalog's owner; true when the snapshot changed. A process that
    /// owns its catalog is always current.
    async fn refresh(&self) -> Result<bool, MetaError> {
        Ok(false)
    }
}

/// A catalog operation as data: what travels in the coordinator's `Mutate` call (as the
/// protobuf `MetaOp`, see `proto.rs`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MetaOp {
    CreateCollection(NewCollection),
    DropCollection {
        id: i64,
    },
    SetLoaded {
        id: i64,
        loaded: bool,
        replicas: u32,
    },
    SetProperties {
        id: i64,
        properties: Vec<(String, String)>,
    },
    SetFieldParams {
        id: i64,
        field: String,
        params: Vec<(String, String)>,
    },
    SetIndexParams {
        id: i64,
        index: i64,
        params: BTreeMap<String, String>,
    },
    SetQueryPool {
        id: i64,
        pool: Option<String>,
    },
    CreateIndex {
        id: i64,
        index: NewIndex,
    },
    DropIndex {
        id: i64,
        index: i64,
    },
    CommitFlush(FlushCommit),
    CommitIndex(IndexCommit),
    CommitCompaction(CompactionCommit),
    Database(DatabaseChange),
    Alias(AliasChange),
    CreateUser {
        name: String,
        password_hash: String,
        if_absent: bool,
    },
    UpdateUser {
        name: String,
        password_hash: String,
        previous_hash: String,
    },
    DeleteUser {
        name: String,
    },
    CreatePartition {
        id: i64,
        name: String,
    },
    DropPartition {
        id: i64,
        name: String,
    },
    SetPartitionLoaded {
        id: i64,
        names: Vec<String>,
        loaded: bool,
        replicas: u32,
    },
    RenameCollection(Rename),
    Rbac(crate::RbacChange),
}

/// A collection's new name and database; names are validated by the caller, the catalog
/// checks what depends on its state (see `names::apply_rename`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rename {
    pub id: i64,
    pub db: String,
    pub name: String,
}

/// What an operation answers: the result of the [`MetaService`] method it names.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaResult {
    /// `CreateCollection`
    Created(Created),
    /// `DropCollection`: the dropped collection, if there was one
    Dropped(Option<CollectionMeta>),
    /// `SetLoaded`, `SetProperties`, `SetQueryPool`, `DropIndex`, `CommitIndex`, `Database`,
    /// `Alias`, `RenameCollection`, `Rbac`, the user operations, `CreatePartition` and
    /// `SetPartitionLoaded`
    Done,
    /// `CreateIndex`
    Index(IndexMeta),
    /// `CommitFlush`, `CommitCompaction`, `DropPartition`: object keys that are garbage now
    Garbage(Vec<String>),
}

/// Runs an operation on any [`MetaService`].
pub async fn apply_op(meta: &dyn MetaService, op: MetaOp) -> Result<MetaResult, MetaError> {
    Ok(match op {
        MetaOp::CreateCollection(req) => MetaResult::Created(meta.create_collection(req).await?),
        MetaOp::DropCollection { id } => MetaResult::Dropped(meta.drop_collection(id).await?),
        MetaOp::SetLoaded {
            id,
            loaded,
            replicas,
        } => {
            meta.set_loaded(id, loaded, replicas).await?;
            MetaResult::Done
        }
        MetaOp::SetQueryPool { id, pool } => {
            meta.set_query_pool(id, pool).await?;
            MetaResult::Done
        }
        MetaOp::SetProperties { id, properties } => {
            meta.set_properties(id, properties).await?;
            MetaResult::Done
        }
        MetaOp::SetFieldParams { id, field, params } => {
            meta.set_field_params(id, field, params).await?;
            MetaResult::Done
        }
        MetaOp::SetIndexParams { id, index, params } => {
            meta.set_index_params(id, index, params).await?;
            MetaResult::Done
        }
        MetaOp::CreateIndex { id, index } => MetaResult::Index(meta.create_index(id, index).await?),
        MetaOp::DropIndex { id, index } => {
            meta.drop_index(id, index).await?;
            MetaResult::Done
        }
        MetaOp::CommitFlush(c) => MetaResult::Garbage(meta.commit_flush(c).await?),
        MetaOp::CommitIndex(c) => {
            meta.commit_index(c).await?;
            MetaResult::Done
        }
        MetaOp::CommitCompaction(c) => MetaResult::Garbage(meta.commit_compaction(c).await?),
        MetaOp::Database(c) => {
            meta.change_database(c).await?;
            MetaResult::Done
        }
        MetaOp::Alias(c) => {
            meta.change_alias(c).await?;
            MetaResult::Done
        }
        MetaOp::CreateUser {
            name,
            password_hash,
            if_absent,
        } => {
            meta.create_user(&name, &password_hash, if_absent).await?;
            MetaResult::Done
        }
        MetaOp::UpdateUser {
            name,
            password_hash,
            previous_hash,
        } => {
            meta.update_user(&name, &password_hash, &previous_hash)
                .await?;
            MetaResult::Done
        }
        MetaOp::DeleteUser { name } => {
            meta.delete_user(&name).await?;
            MetaResult::Done
        }
        MetaOp::CreatePartition { id, name } => {
            meta.create_partition(id, &name).await?;
            MetaResult::Done
        }
        MetaOp::DropPartition { id, name } => {
            MetaResult::Garbage(meta.drop_partition(id, &name).await?)
        }
        MetaOp::SetPartitionLoaded {
            id,
            names,
            loaded,
            replicas,
        } => {
            meta.set_partition_loaded(id, names, loaded, replicas)
                .await?;
            MetaResult::Done
        }
        MetaOp::RenameCollection(r) => {
            meta.rename_collection(r).await?;
            MetaResult::Done
        }
        MetaOp::Rbac(c) => {
            meta.change_rbac(c).await?;
            MetaResult::Done
        }
    })
}
