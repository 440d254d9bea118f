//! The Quarry engine: collections split into shards, each shard an ordered log (the source of
//! truth) applied to in-memory growing data, sealed into immutable Parquet segments with
//! per-segment vector indexes in the object store. See `docs/architecture.md`.
//!
//! Layers, each calling only downwards: the [`Engine`] (catalog handle, backends, collection
//! registry, role wiring; DDL in `ddl.rs`, writes in `write.rs`, reads in `read.rs`, worker
//! duties in `worker.rs`, background tasks in `background.rs`) → a collection's runtime
//! (`collection.rs`: shards, routing, fan-out and merge) → its shards (`shard/`: append,
//! apply, read-and-apply, load, seal, compact, local reads) → segments (`segment.rs`),
//! indexes and storage.

mod background;
mod cluster;
mod collection;
mod compaction;
mod databases;
mod ddl;
mod decay;
mod error;
mod functions;
mod group;
mod hybrid;
mod limits;
mod manage;
mod order;
mod output;
mod parquet;
mod parquet_format;
mod parquet_guard;
mod partial;
mod partitions;
mod plan;
mod pool;
mod ranked;
mod read;
mod remote;
pub mod request;
mod rerank;
mod run;
mod segment;
mod shard;
pub mod wire;
mod worker;
mod write;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use quarry_meta::{Catalog, CollectionMeta, LocalMeta, MetaService};
use quarry_storage::log::embedded::EmbeddedLogOptions;
use quarry_storage::{EmbeddedLog, LocalObjectStore, LogStore, ObjectStore};
use tokio_util::sync::CancellationToken;

pub use cluster::{Mode, Router};
pub use compaction::CompactionProgress;
pub use ddl::{CreateCollection, IndexInfo};
pub use decay::{Decay, DecayShape, ScoreMode};
pub use error::{EngineError, Result};
pub use group::GroupPlan;
pub use hybrid::{GroupScorer, HybridInput, Ranker};
pub use manage::AlterProperties;
pub use order::OrderKey;
pub use output::{OutputColumn, Outputs};
pub use partitions::check_partition_name;
pub use plan::{
    Found, GroupBy, QueryAnswer, QueryInput, QueryOutput, QueryPlan, SearchHits, SearchInput,
    SearchPlan, ShardAnswer, ShardRead,
};
pub use remote::{GrpcRouter, ServingNode};
pub use worker::ServedUnit;
pub use write::{InsertInput, MutationOutcome};

use cluster::Duties;
use collection::CollectionRt;
use shard::Io;
use worker::Alive;

/// Decoders of stored data, public for the fuzz targets (`fuzz/`); not a supported interface.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::parquet::decode_parquet;
    pub use crate::segment::SegmentData;
    pub use quarry_index::{ScalarIndex, ScalarKind, SegmentIndex};
}

pub use quarry_index::scalar_index_answers;
/// The BM25 dimension of a token (what `RunAnalyzer` reports as its hash).
pub use quarry_index::text::bm25::term_id;
/// The metric of a search's hits ([`SearchHits::metric`]).
pub use quarry_index::Metric;
pub use quarry_meta::{DEFAULT_DB, DEFAULT_PARTITION};

/// A collection as a client names it: its database and its name or one of its aliases.
/// A plain `&str` names a collection of the `default` database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named<'a> {
    pub db: &'a str,
    pub name: &'a str,
}

impl<'a> Named<'a> {
    pub fn new(db: &'a str, name: &'a str) -> Self {
        Self { db, name }
    }
}

impl<'a> From<&'a str> for Named<'a> {
    fn from(name: &'a str) -> Self {
        Self::new(DEFAULT_DB, name)
    }
}

impl<'a> From<&'a String> for Named<'a> {
    fn from(name: &'a String) -> Self {
        Self::new(DEFAULT_DB, name)
    }
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// a shard's growing data is sealed into a segment when it reaches this many rows
    pub segment_rows: usize,
    /// how often the background task checks for growing data to seal
    pub seal_check: std::time::Duration,
    /// which part of the work this process does (standalone: all of it)
    pub mode: Mode,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            segment_rows: 500_000,
            seal_check: std::time::Duration::from_secs(5),
            mode: Mode::Standalone,
        }
    }
}

pub struct Engine {
    /// the catalog operations (in-process in standalone, else the coordinator's), the object
    /// store and the log
    pub(crate) io: Io,
    pub(crate) options: EngineOptions,
    /// what this process does, from `options.mode`
    pub(crate) duties: Duties,
    pub(crate) collections: RwLock<HashMap<i64, Arc<CollectionRt>>>,
    /// row ids handed out by the current block: (next, end)
    pub(crate) row_ids: tokio::sync::Mutex<(i64, i64)>,
    pub(crate) index_wakeup: Arc<tokio::sync::Notify>,
    /// manual compactions this process started, by id (`compaction.rs`)
    pub(crate) compactions: parking_lot::Mutex<std::collections::BTreeMap<i64, compaction::Job>>,
    /// index nodes: (rank, count) — this node builds indexes of segments with id % count == rank
    pub(crate) index_share: parking_lot::Mutex<(u64, u64)>,
    /// proxies: where reads and flushes go
    pub(crate) router: Option<Arc<dyn Router>>,
    pub(crate) shutdown: CancellationToken,
    /// cancelled when the engine is dropped (stops the shards' log tails)
    pub(crate) alive: Alive,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("collections", &self.collections.read().len())
            .finish()
    }
}

impl Engine {
    /// Opens the standalone flavour: embedded log in `dir/log`, objects in `dir/objects`.
    pub async fn open_dir(dir: impl Into<PathBuf>, options: EngineOptions) -> Result<Arc<Self>> {
        let dir = dir.into();
        let store = Arc::new(LocalObjectStore::open(dir.join("objects"))?);
        let log = Arc::new(EmbeddedLog::open(
            dir.join("log"),
            EmbeddedLogOptions::default(),
        )?);
        Self::open(store, log, options).await
    }

    /// Opens over any backends: loads the catalog, sealed segments and indexes, replays the
    /// log from each shard's checkpoint, and starts the background sealer and index builder.
    pub async fn open(
        store: Arc<dyn ObjectStore>,
        log: Arc<dyn LogStore>,
        options: EngineOptions,
    ) -> Result<Arc<Self>> {
        let meta = Arc::new(LocalMeta::new(Catalog::open(store.clone()).await?));
        Self::open_with_meta(meta, store, log, options).await
    }

    /// Opens over any backends with the catalog operations of `meta`.
    pub async fn open_with_meta(
        meta: Arc<dyn MetaService>,
        store: Arc<dyn ObjectStore>,
        log: Arc<dyn LogStore>,
        options: EngineOptions,
    ) -> Result<Arc<Self>> {
        Self::open_cluster(meta, store, log, options, None).await
    }

    /// Opens one role of a cluster: `router` is given to proxies.
    pub async fn open_cluster(
        meta: Arc<dyn MetaService>,
        store: Arc<dyn ObjectStore>,
        log: Arc<dyn LogStore>,
        options: EngineOptions,
        router: Option<Arc<dyn Router>>,
    ) -> Result<Arc<Self>> {
        let engine = Arc::new(Self {
            io: Io { meta, store, log },
            duties: Duties::of(options.mode),
            options,
            collections: RwLock::new(HashMap::new()),
            row_ids: tokio::sync::Mutex::new((0, 0)),
            index_wakeup: Arc::new(tokio::sync::Notify::new()),
            compactions: parking_lot::Mutex::new(std::collections::BTreeMap::new()),
            index_share: parking_lot::Mutex::new((0, 1)),
            router,
            shutdown: CancellationToken::new(),
            alive: Alive(CancellationToken::new()),
        });
        engine.recover().await?;
        background::spawn_background(&engine);
        Ok(engine)
    }

    /// The catalog operations this engine runs on (the users of the Milvus API live there too).
    pub fn meta(&self) -> &Arc<dyn MetaService> {
        &self.io.meta
    }

    /// Index nodes: build the indexes of segments with `id % count == rank` only.
    pub fn set_index_share(&self, rank: u32, count: u32) {
        let share = (rank as u64, count.max(1) as u64);
        if std::mem::replace(&mut *self.index_share.lock(), share) != share {
            tracing::info!(rank, count, "index task share changed");
            self.index_wakeup.notify_one();
        }
    }

    /// Stops background work (in-flight index builds finish their current segment).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Makes a runtime for every collection of the catalog; standalone also loads every shard
    /// (sealed segments, then the log replayed from the checkpoint).
    async fn recover(&self) -> Result<()> {
        let snap = self.io.meta.snapshot();
        for meta in snap.collections.values() {
            let rt = self.new_runtime(meta);
            if self.duties.recover_all {
                self.io.log.create_topic(&rt.topic, meta.shards).await?;
                let mut replayed = 0;
                for shard in &rt.shards {
                    replayed += shard.load(&self.io, meta).await?;
                }
                tracing::info!(collection = %meta.name, id = meta.id, segments = meta.segments.len(), replayed, "collection recovered");
            }
            self.collections.write().insert(meta.id, rt);
        }
        Ok(())
    }

    pub(crate) fn new_runtime(&self, meta: &CollectionMeta) -> Arc<CollectionRt> {
        Arc::new(CollectionRt::new(
            meta,
            self.duties.load_indexes,
            self.duties.only_loaded_partitions,
        ))
    }

    /// A fresh hybrid timestamp.
    pub fn now_ts(&self) -> u64 {
        self.io.meta.timestamp()
    }

    pub(crate) fn runtime(&self, id: i64) -> Result<Arc<CollectionRt>> {
        self.collections
            .read()
            .get(&id)
            .cloned()
            .ok_or_else(|| EngineError::Internal(format!("collection {id} has no runtime")))
    }

    /// Like [`Engine::resolve`], but a process whose catalog is a copy (a cluster role) asks the
    /// coordinator for news before it answers "not found" or `stale(meta)` holds.
    pub(crate) async fn resolve_fresh(
        &self,
        name: Named<'_>,
        stale: impl Fn(&CollectionMeta) -> bool,
    ) -> Result<(CollectionMeta, Arc<CollectionRt>)> {
        match self.resolve(name) {
            Ok((meta, rt)) if !stale(&meta) => return Ok((meta, rt)),
            Ok(_) | Err(EngineError::CollectionNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        match self.io.meta.refresh().await {
            Ok(true) => self.ensure_runtimes(),
            Ok(false) => {}
            // the coordinator is away: answer from the copy we have
            Err(e) => {
                tracing::warn!(error = %e, collection = name.name, db = name.db, "catalog refresh failed; using the cached catalog")
            }
        }
        self.resolve(name)
    }

    /// Creates runtimes for collections the catalog lists but this process has not seen.
    pub(crate) fn ensure_runtimes(&self) {
        let snap = self.io.meta.snapshot();
        let mut all = self.collections.write();
        for meta in snap.collections.values() {
            all.entry(meta.id).or_insert_with(|| self.new_runtime(meta));
        }
    }

    /// The catalog entry and runtime of a collection by name or alias in its database (the
    /// catalog's [`quarry_meta::CatalogState::resolve`]).
    pub(crate) fn resolve(&self, name: Named<'_>) -> Result<(CollectionMeta, Arc<CollectionRt>)> {
        let snap = self.io.meta.snapshot();
        let meta = snap
            .resolve(name.db, name.name)
            .cloned()
            .ok_or_else(|| EngineError::CollectionNotFound(name.name.to_string()))?;
        let rt = self.runtime(meta.id)?;
        Ok((meta, rt))
    }

    /// The id of a partition of `meta` by name (empty: the default partition).
    pub fn check_partition(&self, meta: &CollectionMeta, partition: &str) -> Result<i64> {
        let name = if partition.is_empty() {
            DEFAULT_PARTITION
        } else {
            partition
        };
        meta.partitions
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.id)
            .ok_or_else(|| EngineError::PartitionNotFound(name.to_string()))
    }
}
