//! The catalog model: what Quarry knows durably about its collections (schema, shards,
//! partitions, indexes, sealed segments, per-shard log checkpoints). Serialized as the catalog
//! manifest (JSON) by [`crate::Catalog`].

use std::collections::BTreeMap;

use quarry_storage::{LogStore, ObjectStore, StorageError};
use quarry_types::{CollectionSchema, ConsistencyLevel};
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::service::DEFAULT_DB;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionMeta {
    pub id: i64,
    pub name: String,
    pub created_ts: u64,
    /// released while its collection is loaded (LoadPartitions/ReleasePartitions); false: the
    /// partition is loaded whenever its collection is
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub id: i64,
    pub name: String,
    pub field_name: String,
    /// normalized parameters: index_type, metric_type and the knobs, as strings
    pub params: BTreeMap<String, String>,
    pub created_ts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMeta {
    pub id: i64,
    pub shard: u32,
    pub partition_id: i64,
    /// log offsets covered: every row with offset < `end_offset` of this shard that was live at
    /// seal time is in this segment or in an older one
    pub start_offset: u64,
    pub end_offset: u64,
    pub rows: u64,
    pub data_key: String,
    pub deletes_key: Option<String>,
    pub deleted_rows: u64,
    /// index id -> object key of the index file
    pub index_files: BTreeMap<i64, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    pub id: i64,
    pub name: String,
    pub db: String,
    pub schema: CollectionSchema,
    pub shards: u32,
    pub consistency: ConsistencyLevel,
    pub properties: Vec<(String, String)>,
    pub created_ts: u64,
    pub updated_ts: u64,
    pub loaded: bool,
    /// in-memory replicas when loaded (`replica_number` of LoadCollection)
    #[serde(default = "one")]
    pub replicas: u32,
    /// the query pool the collection is loaded into (`None`: any query node)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_pool: Option<String>,
    pub partitions: Vec<PartitionMeta>,
    pub indexes: Vec<IndexMeta>,
    pub segments: Vec<SegmentMeta>,
    /// per shard: the log offset to replay from after a restart
    pub checkpoints: Vec<u64>,
    /// other names of the collection in its database (unique among the database's collection
    /// names and aliases)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A database: a namespace of collection names and aliases. `default` always exists; it is
/// stored only once it has properties (see [`CatalogState::database`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseMeta {
    pub id: i64,
    pub name: String,
    pub created_ts: u64,
    pub properties: Vec<(String, String)>,
}

/// The id of the `default` database (Milvus' too).
pub const DEFAULT_DB_ID: i64 = 1;

fn one() -> u32 {
    1
}

impl CollectionMeta {
    pub fn topic(&self) -> String {
        keys::topic(self.id)
    }

    /// A partition by name.
    pub fn partition(&self, name: &str) -> Option<&PartitionMeta> {
        self.partitions.iter().find(|p| p.name == name)
    }

    /// Whether the partition's rows are served (its collection loaded, the partition not
    /// released).
    pub fn partition_loaded(&self, p: &PartitionMeta) -> bool {
        self.loaded && !p.released
    }

    /// The ids of the partitions whose rows are served.
    pub fn loaded_partitions(&self) -> Vec<i64> {
        self.partitions
            .iter()
            .filter(|p| self.partition_loaded(p))
            .map(|p| p.id)
            .collect()
    }

    /// Whether the collection routes rows to partitions by a partition key.
    pub fn has_partition_key(&self) -> bool {
        self.schema.partition_key().is_some()
    }

    /// Deletes what a dropped collection leaves in storage: its topic and its files (segments,
    /// delete files, indexes under `collections/<id>/`). Both droppers call it: the engine for
    /// a pymilvus drop, the operator for a resource with `deletionPolicy: Delete`.
    pub async fn delete_data(
        &self,
        log: &dyn LogStore,
        store: &dyn ObjectStore,
    ) -> Result<(), StorageError> {
        log.delete_topic(&self.topic()).await?;
        for key in store.list(&keys::collection_prefix(self.id)).await? {
            store.delete(&key).await?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogState {
    pub version: u64,
    /// ids below this were handed out (collections, partitions, indexes, segments, rows)
    pub next_id: i64,
    /// the largest timestamp handed out before this commit
    pub last_ts: u64,
    pub collections: BTreeMap<i64, CollectionMeta>,
    /// random per commit: tells a writer whether the manifest at its version is its own
    #[serde(default)]
    pub commit_nonce: u64,
    /// databases by name; `default` is implied (manifests written before databases existed
    /// have none, and their collections belong to `default`)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub databases: BTreeMap<String, DatabaseMeta>,
    /// the users of the Milvus API by name (none in manifests written before users existed)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, crate::UserMeta>,
    /// roles by name (RBAC); the built-in `admin` and `public` are implied (see `rbac.rs`)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, crate::RoleMeta>,
    /// custom privilege groups by name: their privileges, distinct and sorted (see `rbac.rs`)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub privilege_groups: BTreeMap<String, Vec<String>>,
}

impl CatalogState {
    pub fn alloc_id(&mut self) -> i64 {
        if self.next_id < 1 {
            // leave room below for well-known ids; 0 is never an id
            self.next_id = 1 << 20;
        }
        self.next_id += 1;
        self.next_id - 1
    }

    /// The collection called `name` in database `db` (its own name, not an alias).
    pub fn by_name(&self, db: &str, name: &str) -> Option<&CollectionMeta> {
        self.collections
            .values()
            .find(|c| c.db == db && c.name == name)
    }

    /// The collection an alias of database `db` names.
    pub fn by_alias(&self, db: &str, alias: &str) -> Option<&CollectionMeta> {
        self.collections
            .values()
            .find(|c| c.db == db && c.aliases.iter().any(|a| a == alias))
    }

    /// The collection `name` means in database `db`: a collection name, else an alias. The
    /// one place where a name the client gives becomes a collection.
    pub fn resolve(&self, db: &str, name: &str) -> Option<&CollectionMeta> {
        self.by_name(db, name).or_else(|| self.by_alias(db, name))
    }

    /// A database by name; `default` exists even when it is not stored.
    pub fn database(&self, name: &str) -> Option<DatabaseMeta> {
        match self.databases.get(name) {
            Some(db) => Some(db.clone()),
            None if name == DEFAULT_DB => Some(DatabaseMeta {
                id: DEFAULT_DB_ID,
                name: DEFAULT_DB.into(),
                created_ts: 0,
                properties: vec![],
            }),
            None => None,
        }
    }

    /// Every database, `default` first, then by name.
    pub fn list_databases(&self) -> Vec<DatabaseMeta> {
        let mut all: Vec<_> = self.database(DEFAULT_DB).into_iter().collect();
        all.extend(
            self.databases
                .values()
                .filter(|d| d.name != DEFAULT_DB)
                .cloned(),
        );
        all
    }

    /// Collections of database `db`.
    pub fn collections_in<'a>(&'a self, db: &'a str) -> impl Iterator<Item = &'a CollectionMeta> {
        self.collections.values().filter(move |c| c.db == db)
    }
}
