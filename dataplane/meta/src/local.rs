//! [`LocalMeta`]: the catalog operations on a catalog this process owns and persists itself
//! (standalone mode, and the coordinator, which serves them to the other roles).

use std::sync::Arc;

use async_trait::async_trait;

use crate::names::{apply_alias, apply_database, check_drop_collection, check_new_collection};
use crate::partitions;
use crate::users;
use crate::{AliasChange, DatabaseChange, Rename};
use crate::{
    Catalog, CatalogState, CollectionMeta, CompactionCommit, Created, FlushCommit, IndexCommit,
    IndexMeta, MetaError, MetaService, NewCollection, NewIndex, Tso,
};

/// The catalog operations on a catalog this process owns (standalone, and the coordinator).
#[derive(Debug)]
pub struct LocalMeta {
    catalog: Catalog,
    tso: Tso,
}

impl LocalMeta {
    pub fn new(catalog: Catalog) -> Self {
        let tso = Tso::new();
        tso.observe(catalog.snapshot().last_ts);
        Self { catalog, tso }
    }
}

fn not_found(id: i64) -> MetaError {
    MetaError::CollectionNotFound(id.to_string())
}

/// Whether `commit` is in the catalog already (sent again after a lost answer): its new segment
/// is listed, or (without one) every delete file it names is.
fn flush_applied(c: &CollectionMeta, commit: &FlushCommit) -> bool {
    match commit.new_segments.first() {
        Some(m) => c.segments.iter().any(|s| s.id == m.id),
        None => {
            !commit.deletes.is_empty()
                && commit.deletes.iter().all(|(id, key, _)| {
                    c.segments
                        .iter()
                        .any(|s| s.id == *id && s.deletes_key.as_deref() == Some(key))
                })
        }
    }
}

#[async_trait]
impl MetaService for LocalMeta {
    fn snapshot(&self) -> Arc<CatalogState> {
        self.catalog.snapshot()
    }

    fn timestamp(&self) -> u64 {
        self.tso.now()
    }

    /// Reloads the newest manifest when a commit's outcome was unknown or lost to another writer.
    async fn refresh(&self) -> Result<bool, MetaError> {
        let changed = self.catalog.refresh().await?;
        self.tso.observe(self.catalog.snapshot().last_ts);
        Ok(changed)
    }

    async fn alloc_ids(&self, n: u64) -> Result<i64, MetaError> {
        if n == 0 || n > quarry_types::limits::MAX_IDS_PER_ALLOC {
            return Err(MetaError::Rejected(format!(
                "cannot allocate {n} ids at once: 1 to {} per call",
                quarry_types::limits::MAX_IDS_PER_ALLOC
            )));
        }
        self.catalog
            .commit(|s| {
                let start = s.alloc_id().max(1);
                s.next_id = start
                    .checked_add(n as i64)
                    .ok_or_else(|| MetaError::Rejected("the id space is exhausted".to_string()))?;
                Ok(start)
            })
            .await
    }

    async fn create_collection(&self, req: NewCollection) -> Result<Created, MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| {
                if let Some(existing) = s.by_name(&req.db, &req.name) {
                    // Milvus accepts an identical re-create and rejects a different one
                    if existing.schema == req.schema && existing.shards == req.shards {
                        return Ok(Created::Existing(existing.clone()));
                    }
                    return Err(MetaError::CollectionExists(req.name.clone()));
                }
                check_new_collection(s, &req.db)?;
                if s.by_alias(&req.db, &req.name).is_some() {
                    return Err(MetaError::Rejected(format!(
                        "collection name [{}] conflicts with an existing alias, please choose a unique name",
                        req.name
                    )));
                }
                let id = s.alloc_id();
                let partitions = partitions::initial_partitions(
                    s,
                    req.schema.partition_key().is_some(),
                    req.num_partitions,
                    now,
                )?;
                let meta = CollectionMeta {
                    id,
                    name: req.name.clone(),
                    db: req.db.clone(),
                    schema: req.schema.clone(),
                    shards: req.shards,
                    consistency: req.consistency,
                    properties: req.properties.clone(),
                    created_ts: now,
                    updated_ts: now,
                    loaded: false,
                    replicas: 1,
                    query_pool: None,
                    partitions,
                    indexes: vec![],
                    segments: vec![],
                    checkpoints: vec![0; req.shards as usize],
                    aliases: vec![],
                };
                s.last_ts = s.last_ts.max(now);
                s.collections.insert(id, meta.clone());
                Ok(Created::New(meta))
            })
            .await
    }

    async fn drop_collection(&self, id: i64) -> Result<Option<CollectionMeta>, MetaError> {
        self.catalog
            .commit(|s| {
                if let Some(c) = s.collections.get(&id) {
                    check_drop_collection(c)?;
                }
                Ok(s.collections.remove(&id))
            })
            .await
    }

    async fn change_database(&self, change: DatabaseChange) -> Result<(), MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| apply_database(s, &change, now))
            .await
    }

    async fn change_alias(&self, change: AliasChange) -> Result<(), MetaError> {
        self.catalog.commit(|s| apply_alias(s, &change)).await
    }

    async fn change_rbac(&self, change: crate::RbacChange) -> Result<(), MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| crate::rbac::apply_rbac(s, &change, now))
            .await
    }

    async fn rename_collection(&self, rename: Rename) -> Result<(), MetaError> {
        self.catalog
            .commit(|s| crate::rename::apply_rename(s, &rename))
            .await
    }

    async fn set_loaded(&self, id: i64, loaded: bool, replicas: u32) -> Result<(), MetaError> {
        let replicas = replicas.max(1);
        if self.snapshot().collections.get(&id).map(|c| {
            (
                c.loaded,
                c.replicas,
                c.partitions.iter().any(|p| p.released),
            )
        }) == Some((loaded, replicas, false))
        {
            return Ok(());
        }
        self.catalog
            .commit(|s| {
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                c.loaded = loaded;
                c.replicas = replicas;
                // the whole collection: every partition
                c.partitions.iter_mut().for_each(|p| p.released = false);
                Ok(())
            })
            .await
    }

    async fn set_query_pool(&self, id: i64, pool: Option<String>) -> Result<(), MetaError> {
        if self.snapshot().collections.get(&id).map(|c| &c.query_pool) == Some(&pool) {
            return Ok(());
        }
        self.catalog
            .commit(|s| {
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                c.query_pool = pool.clone();
                Ok(())
            })
            .await
    }

    async fn set_properties(
        &self,
        id: i64,
        properties: Vec<(String, String)>,
    ) -> Result<(), MetaError> {
        if self.snapshot().collections.get(&id).map(|c| &c.properties) == Some(&properties) {
            return Ok(());
        }
        let now = self.tso.now();
        self.catalog
            .commit(|s| {
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                c.properties = properties.clone();
                c.updated_ts = now;
                Ok(())
            })
            .await
    }

    async fn set_field_params(
        &self,
        id: i64,
        field: String,
        params: Vec<(String, String)>,
    ) -> Result<(), MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| {
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                let f = c
                    .schema
                    .fields
                    .iter_mut()
                    .find(|f| f.name == field)
                    .ok_or_else(|| {
                        MetaError::Rejected(format!(
                            "field {field} does not exist in the collection"
                        ))
                    })?;
                if f.type_params == params {
                    return Ok(());
                }
                f.type_params = params.clone();
                c.updated_ts = now;
                Ok(())
            })
            .await
    }

    async fn create_index(&self, id: i64, index: NewIndex) -> Result<IndexMeta, MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| {
                let index_id = s.alloc_id();
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                if let Some(existing) = c
                    .indexes
                    .iter()
                    .find(|i| i.field_name == index.field_name || i.name == index.name)
                {
                    // as Milvus: `mmap.enabled` (AlterIndex) is no part of the comparison
                    let without_mmap = |p: &std::collections::BTreeMap<String, String>| {
                        let mut p = p.clone();
                        p.remove("mmap.enabled");
                        p
                    };
                    if without_mmap(&existing.params) == without_mmap(&index.params)
                        && existing.name == index.name
                        && existing.field_name == index.field_name
                    {
                        return Ok(existing.clone());
                    }
                    return Err(MetaError::IndexConflict {
                        field: index.field_name.clone(),
                        existing: existing.name.clone(),
                    });
                }
                let meta = IndexMeta {
                    id: index_id,
                    name: index.name.clone(),
                    field_name: index.field_name.clone(),
                    params: index.params.clone(),
                    created_ts: now,
                };
                c.indexes.push(meta.clone());
                s.last_ts = s.last_ts.max(now);
                Ok(meta)
            })
            .await
    }

    async fn set_index_params(
        &self,
        id: i64,
        index: i64,
        params: std::collections::BTreeMap<String, String>,
    ) -> Result<(), MetaError> {
        self.catalog
            .commit(|s| {
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                let i = c
                    .indexes
                    .iter_mut()
                    .find(|i| i.id == index)
                    .ok_or_else(|| MetaError::Rejected(format!("index {index} does not exist")))?;
                i.params = params.clone();
                Ok(())
            })
            .await
    }

    async fn drop_index(&self, id: i64, index: i64) -> Result<(), MetaError> {
        self.catalog
            .commit(|s| {
                let c = s.collections.get_mut(&id).ok_or_else(|| not_found(id))?;
                c.indexes.retain(|i| i.id != index);
                for seg in &mut c.segments {
                    seg.index_files.remove(&index);
                }
                Ok(())
            })
            .await
    }

    async fn commit_flush(&self, commit: FlushCommit) -> Result<Vec<String>, MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| {
                let c = s
                    .collections
                    .get_mut(&commit.collection)
                    .ok_or_else(|| not_found(commit.collection))?;
                let shard = commit.shard as usize;
                if flush_applied(c, &commit) {
                    return Ok(Vec::new());
                }
                if shard >= c.checkpoints.len()
                    || commit.base != c.checkpoints[shard]
                    || commit.checkpoint < commit.base
                {
                    return Err(MetaError::StaleCommit(format!(
                        "flush of shard {} from offset {} does not continue the checkpoint",
                        commit.shard, commit.base
                    )));
                }
                // deletes of a segment compacted away would be lost with the checkpoint moved
                if let Some((gone, _, _)) = commit
                    .deletes
                    .iter()
                    .find(|(id, _, _)| !c.segments.iter().any(|m| m.id == *id))
                {
                    return Err(MetaError::StaleCommit(format!(
                        "flush deletes rows of segment {gone}, which no longer exists"
                    )));
                }
                let mut superseded = Vec::new();
                for (seg_id, key, count) in &commit.deletes {
                    if let Some(seg) = c.segments.iter_mut().find(|s| s.id == *seg_id) {
                        superseded.extend(seg.deletes_key.replace(key.clone()));
                        seg.deleted_rows = *count;
                    }
                }
                for m in &commit.new_segments {
                    if c.partitions.iter().any(|p| p.id == m.partition_id) {
                        c.segments.push(m.clone());
                    } else {
                        // rows of a partition dropped since they were written: garbage
                        superseded.push(m.data_key.clone());
                    }
                }
                c.checkpoints[shard] = commit.checkpoint;
                s.last_ts = s.last_ts.max(now);
                Ok(superseded)
            })
            .await
    }

    async fn commit_index(&self, commit: IndexCommit) -> Result<(), MetaError> {
        self.catalog
            .commit(|s| {
                let c = s
                    .collections
                    .get_mut(&commit.collection)
                    .ok_or_else(|| not_found(commit.collection))?;
                // the index or segment may be gone by now (dropped, compacted): then the file is garbage
                if !c.indexes.iter().any(|i| i.id == commit.index) {
                    return Err(MetaError::StaleCommit(format!(
                        "index {} no longer exists",
                        commit.index
                    )));
                }
                let seg = c.segments.iter_mut().find(|s| s.id == commit.segment);
                let seg = seg.ok_or_else(|| {
                    MetaError::StaleCommit(format!("segment {} no longer exists", commit.segment))
                })?;
                seg.index_files.insert(commit.index, commit.key.clone());
                Ok(())
            })
            .await
    }

    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        if_absent: bool,
    ) -> Result<(), MetaError> {
        if if_absent && self.snapshot().users.contains_key(name) {
            return Ok(());
        }
        let now = self.tso.now();
        self.catalog
            .commit(|s| users::create_user(s, name, password_hash, if_absent, now))
            .await
    }

    async fn update_user(
        &self,
        name: &str,
        password_hash: &str,
        previous_hash: &str,
    ) -> Result<(), MetaError> {
        self.catalog
            .commit(|s| users::update_user(s, name, password_hash, previous_hash))
            .await
    }

    async fn delete_user(&self, name: &str) -> Result<(), MetaError> {
        self.catalog.commit(|s| users::delete_user(s, name)).await
    }

    async fn create_partition(&self, id: i64, name: &str) -> Result<(), MetaError> {
        let now = self.tso.now();
        self.catalog
            .commit(|s| partitions::create_partition(s, id, name, now))
            .await
    }

    async fn drop_partition(&self, id: i64, name: &str) -> Result<Vec<String>, MetaError> {
        self.catalog
            .commit(|s| partitions::drop_partition(s, id, name))
            .await
    }

    async fn set_partition_loaded(
        &self,
        id: i64,
        names: Vec<String>,
        loaded: bool,
        replicas: u32,
    ) -> Result<(), MetaError> {
        self.catalog
            .commit(|s| partitions::set_partition_loaded(s, id, &names, loaded, replicas))
            .await
    }

    async fn commit_compaction(&self, commit: CompactionCommit) -> Result<Vec<String>, MetaError> {
        self.catalog
            .commit(|s| {
                let c = s
                    .collections
                    .get_mut(&commit.collection)
                    .ok_or_else(|| not_found(commit.collection))?;
                if commit.target.rows > 0 && c.segments.iter().any(|m| m.id == commit.target.id) {
                    // sent again after a lost answer: applied already
                    return Ok(Vec::new());
                }
                let shard = commit.shard as usize;
                if c.checkpoints.get(shard) != Some(&commit.base) {
                    return Err(MetaError::StaleCommit(format!(
                        "compaction of shard {} built on checkpoint {}, the shard is at {:?}",
                        commit.shard,
                        commit.base,
                        c.checkpoints.get(shard)
                    )));
                }
                // never across shards or partitions
                let found = commit.sources.iter().all(|id| {
                    c.segments.iter().any(|m| {
                        m.id == *id
                            && m.shard == commit.shard
                            && m.partition_id == commit.target.partition_id
                    })
                });
                if !found || commit.sources.is_empty() {
                    return Err(MetaError::StaleCommit(format!(
                        "compaction sources {:?} are not all there",
                        commit.sources
                    )));
                }
                let mut garbage = Vec::new();
                c.segments.retain(|m| {
                    if commit.sources.contains(&m.id) {
                        garbage.push(m.data_key.clone());
                        garbage.extend(m.deletes_key.clone());
                        garbage.extend(m.index_files.values().cloned());
                        false
                    } else {
                        true
                    }
                });
                if commit.target.rows > 0 {
                    c.segments.push(commit.target.clone());
                } else {
                    garbage.push(commit.target.data_key.clone());
                }
                Ok(garbage)
            })
            .await
    }
}
