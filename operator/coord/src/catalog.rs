//! The catalog: Quarry's durable metadata (collections, indexes, segments, per-shard log
//! checkpoints, id high-water marks), stored in the object store as versioned manifests
//! `catalog/manifest-{version:020}.json`. A commit writes version v+1 with a conditional put,
//! so two coordinators can never both commit the same version; the newest manifest wins.
//!
//! A conditional put can fail although it landed (a retried put answered 412 because the first
//! attempt went through, a timeout): the committer reads back what is at its version and
//! recognises its own manifest by a per-commit nonce. When another writer's manifest is there,
//! the catalog reloads the newest one and re-applies the change to it (the changes validate
//! against the state they are given, so a change that no longer fits is refused then).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use quarry_storage::{LogStore, ObjectStore, StorageError};
use quarry_types::{CollectionSchema, ConsistencyLevel};
use serde::{Deserialize, Serialize};

const PREFIX: &str = "catalog/manifest-";
const KEEP_MANIFESTS: usize = 5;
/// How often a commit is tried on a fresh state after losing its version to another writer.
const COMMIT_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    #[error("catalog storage: {0}")]
    Storage(#[from] StorageError),
    #[error("catalog manifest {key} is unreadable: {reason}")]
    BadManifest { key: String, reason: String },
    #[error("another coordinator committed catalog version {0} first")]
    Conflict(u64),
    #[error("collection {0} already exists")]
    CollectionExists(String),
    #[error("collection not found[collection={0}]")]
    CollectionNotFound(String),
    #[error("at most one distinct index is allowed per field: field {field} already has index {existing} with other parameters")]
    IndexConflict { field: String, existing: String },
    #[error("{0}")]
    Rejected(String),
    #[error("stale commit: {0}")]
    StaleCommit(String),
    #[error("coordinator unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionMeta {
    pub id: i64,
    pub name: String,
    pub created_ts: u64,
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
}

fn one() -> u32 {
    1
}

impl CollectionMeta {
    pub fn topic(&self) -> String {
        format!("collection-{}", self.id)
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
        for key in store.list(&format!("collections/{}/", self.id)).await? {
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

    pub fn by_name(&self, db: &str, name: &str) -> Option<&CollectionMeta> {
        self.collections
            .values()
            .find(|c| c.db == db && c.name == name)
    }
}

#[derive(Debug)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    state: RwLock<Arc<CatalogState>>,
    commit_lock: tokio::sync::Mutex<()>,
    /// set when the state may be behind the store (a commit's outcome was unknown, or another
    /// writer got ahead): the next commit or refresh reloads the newest manifest first
    stale: AtomicBool,
}

fn key(version: u64) -> String {
    format!("{PREFIX}{version:020}.json")
}

fn nonce() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

async fn read_newest(store: &dyn ObjectStore) -> Result<Option<CatalogState>, CoordError> {
    let keys = store.list(PREFIX).await?;
    let Some(k) = keys.last() else {
        return Ok(None);
    };
    let bytes = store.get(k).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CoordError::BadManifest {
            key: k.clone(),
            reason: e.to_string(),
        })
}

impl Catalog {
    /// Loads the newest manifest, or starts empty.
    pub async fn open(store: Arc<dyn ObjectStore>) -> Result<Self, CoordError> {
        let state = read_newest(store.as_ref()).await?.unwrap_or_default();
        Ok(Self {
            store,
            state: RwLock::new(Arc::new(state)),
            commit_lock: tokio::sync::Mutex::new(()),
            stale: AtomicBool::new(false),
        })
    }

    /// Re-reads the newest manifest; true when the state changed.
    pub async fn reload(&self) -> Result<bool, CoordError> {
        let newest = read_newest(self.store.as_ref()).await?;
        self.stale.store(false, Ordering::Release);
        let mut state = self.state.write();
        match newest {
            Some(n)
                if n.version > state.version || (n.version == state.version && n != **state) =>
            {
                tracing::info!(from = state.version, to = n.version, "catalog reloaded");
                *state = Arc::new(n);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Reloads the newest manifest if this catalog may be behind the store (see `commit`);
    /// true when the state changed.
    pub async fn refresh(&self) -> Result<bool, CoordError> {
        if !self.stale.load(Ordering::Acquire) {
            return Ok(false);
        }
        let _guard = self.commit_lock.lock().await;
        if !self.stale.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload().await
    }

    pub fn snapshot(&self) -> Arc<CatalogState> {
        self.state.read().clone()
    }

    /// Applies `change` to a copy of the state and commits it as the next version. The change
    /// is visible to readers only once the manifest is durable. A failing change commits nothing.
    /// When another writer took the version, the newest manifest is loaded and `change` runs
    /// again on it (a few times at most, then [`CoordError::Conflict`]); a put whose answer was
    /// lost is recognised when its manifest is found at its version. A storage error means the
    /// outcome is unknown: the next commit reloads first.
    pub async fn commit<T, E: From<CoordError>>(
        &self,
        mut change: impl FnMut(&mut CatalogState) -> Result<T, E>,
    ) -> Result<T, E> {
        let _guard = self.commit_lock.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if self.stale.load(Ordering::Acquire) {
                self.reload().await?;
            }
            let mut next = (*self.snapshot()).clone();
            let out = change(&mut next)?;
            next.version += 1;
            next.commit_nonce = nonce();
            let version = next.version;
            let body = Bytes::from(serde_json::to_vec(&next).expect("catalog serializes"));
            if let Err(e) = self.store.put_if_absent(&key(version), body.clone()).await {
                // the put may have landed although it reports an error: look at our version
                self.stale.store(true, Ordering::Release);
                match self.store.get(&key(version)).await {
                    Ok(found) if found == body => {
                        tracing::info!(version, error = %e, "catalog put reported an error but landed");
                    }
                    Ok(_) => {
                        tracing::info!(
                            version,
                            attempt,
                            "catalog version taken by another writer; reloading"
                        );
                        if attempt < COMMIT_ATTEMPTS {
                            continue;
                        }
                        return Err(CoordError::Conflict(version).into());
                    }
                    Err(_) => {
                        return Err(match e {
                            StorageError::AlreadyExists(_) => CoordError::Conflict(version),
                            e => CoordError::Storage(e),
                        }
                        .into())
                    }
                }
            }
            self.stale.store(false, Ordering::Release);
            *self.state.write() = Arc::new(next);
            if version > KEEP_MANIFESTS as u64 {
                // best effort: old manifests are garbage once a newer one is durable
                let _ = self
                    .store
                    .delete(&key(version - KEEP_MANIFESTS as u64))
                    .await;
            }
            return Ok(out);
        }
    }

    /// Keys of objects the catalog references (for garbage collection and tests).
    pub fn referenced_keys(&self) -> HashMap<String, i64> {
        let s = self.snapshot();
        let mut out = HashMap::new();
        for c in s.collections.values() {
            for seg in &c.segments {
                out.insert(seg.data_key.clone(), seg.id);
                if let Some(d) = &seg.deletes_key {
                    out.insert(d.clone(), seg.id);
                }
                for f in seg.index_files.values() {
                    out.insert(f.clone(), seg.id);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use quarry_storage::MemoryObjectStore;

    use super::*;

    #[tokio::test]
    async fn commits_are_durable_versioned_and_exclusive() {
        let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
        let cat = Catalog::open(store.clone()).await.unwrap();
        let id = cat
            .commit(|s| Ok::<_, CoordError>(s.alloc_id()))
            .await
            .unwrap();
        cat.commit(|s| {
            s.last_ts = 42;
            Ok::<_, CoordError>(())
        })
        .await
        .unwrap();
        assert_eq!(cat.snapshot().version, 2);

        // a failed change commits nothing
        let r: Result<(), CoordError> = cat
            .commit(|s| {
                s.last_ts = 99;
                Err(CoordError::Conflict(0))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(cat.snapshot().last_ts, 42);

        // a second coordinator on the same store sees the state; the loser of a race reloads
        // the winner's manifest and applies its change on top of it
        let other = Catalog::open(store.clone()).await.unwrap();
        assert_eq!(other.snapshot().last_ts, 42);
        assert!(other.snapshot().next_id > id);
        other
            .commit(|s| {
                s.last_ts = 50;
                Ok::<_, CoordError>(())
            })
            .await
            .unwrap();
        let mut seen = Vec::new();
        cat.commit(|s| {
            seen.push(s.version);
            s.next_id += 7;
            Ok::<_, CoordError>(())
        })
        .await
        .unwrap();
        assert_eq!(
            seen,
            [2, 3],
            "tried on its stale state, then on the winner's"
        );
        assert_eq!(cat.snapshot().version, 4);
        assert_eq!(cat.snapshot().last_ts, 50, "the winner's change is kept");
        other.reload().await.unwrap();
        assert_eq!(other.snapshot().as_ref(), cat.snapshot().as_ref());

        // old manifests are pruned
        for _ in 0..10 {
            other.commit(|_| Ok::<_, CoordError>(())).await.unwrap();
        }
        assert!(store.list(PREFIX).await.unwrap().len() <= KEEP_MANIFESTS + 1);
    }
}
