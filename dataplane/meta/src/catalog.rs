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

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use quarry_storage::{ObjectStore, StorageError};

use crate::keys;
use crate::{CatalogState, MetaError};

const KEEP_MANIFESTS: usize = 5;
/// How often a commit is tried on a fresh state after losing its version to another writer.
const COMMIT_ATTEMPTS: usize = 3;

#[derive(Debug)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    state: RwLock<Arc<CatalogState>>,
    commit_lock: tokio::sync::Mutex<()>,
    /// set when the state may be behind the store (a commit's outcome was unknown, or another
    /// writer got ahead): the next commit or refresh reloads the newest manifest first
    stale: AtomicBool,
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

async fn read_newest(store: &dyn ObjectStore) -> Result<Option<CatalogState>, MetaError> {
    let keys = store.list(keys::CATALOG_PREFIX).await?;
    let Some(k) = keys.last() else {
        return Ok(None);
    };
    let bytes = store.get(k).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| MetaError::BadManifest {
            key: k.clone(),
            reason: e.to_string(),
        })
}

impl Catalog {
    /// Loads the newest manifest, or starts empty.
    pub async fn open(store: Arc<dyn ObjectStore>) -> Result<Self, MetaError> {
        let state = read_newest(store.as_ref()).await?.unwrap_or_default();
        Ok(Self {
            store,
            state: RwLock::new(Arc::new(state)),
            commit_lock: tokio::sync::Mutex::new(()),
            stale: AtomicBool::new(false),
        })
    }

    /// Re-reads the newest manifest; true when the state changed.
    pub async fn reload(&self) -> Result<bool, MetaError> {
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
    pub async fn refresh(&self) -> Result<bool, MetaError> {
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
    /// again on it (a few times at most, then [`MetaError::Conflict`]); a put whose answer was
    /// lost is recognised when its manifest is found at its version. A storage error means the
    /// outcome is unknown: the next commit reloads first.
    pub async fn commit<T, E: From<MetaError>>(
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
            if let Err(e) = self
                .store
                .put_if_absent(&keys::manifest(version), body.clone())
                .await
            {
                // the put may have landed although it reports an error: look at our version
                self.stale.store(true, Ordering::Release);
                match self.store.get(&keys::manifest(version)).await {
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
                        return Err(MetaError::Conflict(version).into());
                    }
                    Err(_) => {
                        return Err(match e {
                            StorageError::AlreadyExists(_) => MetaError::Conflict(version),
                            e => MetaError::Storage(e),
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
                    .delete(&keys::manifest(version - KEEP_MANIFESTS as u64))
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
            .commit(|s| Ok::<_, MetaError>(s.alloc_id()))
            .await
            .unwrap();
        cat.commit(|s| {
            s.last_ts = 42;
            Ok::<_, MetaError>(())
        })
        .await
        .unwrap();
        assert_eq!(cat.snapshot().version, 2);

        // a failed change commits nothing
        let r: Result<(), MetaError> = cat
            .commit(|s| {
                s.last_ts = 99;
                Err(MetaError::Conflict(0))
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
                Ok::<_, MetaError>(())
            })
            .await
            .unwrap();
        let mut seen = Vec::new();
        cat.commit(|s| {
            seen.push(s.version);
            s.next_id += 7;
            Ok::<_, MetaError>(())
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
            other.commit(|_| Ok::<_, MetaError>(())).await.unwrap();
        }
        assert!(store.list(keys::CATALOG_PREFIX).await.unwrap().len() <= KEEP_MANIFESTS + 1);
    }
}
