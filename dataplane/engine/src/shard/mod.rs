//! One shard: an ordered log stream applied to in-memory growing data, plus the sealed segments
//! (and their indexes) the catalog lists for it. A shard owns its whole life; which of its
//! duties a process runs is decided once from its role (see `Duties` in `cluster.rs`):
//!
//! - write: [`Shard::append`] (proxies: the workers apply it from the log) or
//!   [`Shard::append_apply`] (standalone: applied before the write is acknowledged);
//! - [`Shard::read_apply`]: the one read-and-apply loop, used by recovery, by loads of
//!   assigned shards and by followers (`follow.rs`);
//! - [`Shard::load`] and [`Shard::swap_in`] (`load.rs`), [`Shard::seal`] (`seal.rs`),
//!   [`Shard::compact`] (`compact.rs`);
//! - local reads over its growing and sealed segments (`read.rs`).
//!
//! A shard reaches storage through [`Io`] only; it never calls back into the engine.
//!
//! Partitions: each partition's rows grow in their own growing segment and are sealed into
//! their own segments; reads name the partitions they cover. Query nodes hold the sealed
//! segments of loaded partitions only (`only_loaded`).

mod compact;
mod follow;
mod load;
mod read;
mod seal;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use bytes::Bytes;
use parking_lot::RwLock;
use quarry_index::SegmentIndex;
use quarry_meta::MetaService;
use quarry_storage::{LogStore, ObjectStore, StorageError};
use quarry_types::batch::with_offset;
use quarry_types::record::LogRecord;
use quarry_types::{CollectionSchema, Pk, SchemaError};
use tokio_util::sync::CancellationToken;

use crate::segment::{Sealed, SegmentData};
use crate::{EngineError, Result};

/// How many log records one read of the read-and-apply loop asks for.
const REPLAY_BATCH: usize = 256;
/// How long a worker waits for its log to reach the offset a reader asks for.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The storage a shard works with: the catalog operations, the object store and the log.
#[derive(Clone)]
pub(crate) struct Io {
    pub meta: Arc<dyn MetaService>,
    pub store: Arc<dyn ObjectStore>,
    pub log: Arc<dyn LogStore>,
}

pub(crate) struct ShardData {
    /// the growing rows of each partition
    pub growing: BTreeMap<i64, SegmentData>,
    pub sealed: Vec<Sealed>,
    /// next log offset to apply
    pub applied: u64,
    /// the checkpoint the growing data starts from (what the next flush continues)
    pub base: u64,
    /// deletes applied from the log that a segment sealed elsewhere may not contain yet
    /// (followers only): (key, offset, the partition it applies to; `None`: every one)
    pub recent_deletes: Vec<(Pk, u64, Option<i64>)>,
}

impl ShardData {
    /// Nothing in memory; the log applies from `checkpoint`.
    pub fn starting_at(checkpoint: u64) -> Self {
        Self {
            growing: BTreeMap::new(),
            sealed: Vec::new(),
            applied: checkpoint,
            base: checkpoint,
            recent_deletes: Vec::new(),
        }
    }

    /// Rows of the growing segments, deleted ones included.
    pub fn growing_rows(&self) -> usize {
        self.growing.values().map(|g| g.rows()).sum()
    }

    /// Live rows of the growing segments.
    pub fn growing_live(&self) -> usize {
        self.growing.values().map(|g| g.live).sum()
    }

    /// The segments of the given partitions (all without any), growing first, each with its
    /// sealed entry (`None`: growing).
    pub fn segments<'a>(
        &'a self,
        partitions: &'a [i64],
    ) -> Vec<(&'a SegmentData, Option<&'a Sealed>)> {
        let wanted = |p: i64| partitions.is_empty() || partitions.contains(&p);
        let growing = self
            .growing
            .iter()
            .filter(move |(p, _)| wanted(**p))
            .map(|(_, g)| (g, None));
        let sealed = self
            .sealed
            .iter()
            .filter(move |x| wanted(x.meta.partition_id))
            .map(|x| (&x.data, Some(x)));
        growing.chain(sealed).collect()
    }

    /// Forgets a partition's rows (dropped, or released on a query node for the sealed ones).
    pub fn forget_partition(&mut self, partition: i64) {
        self.growing.remove(&partition);
        self.sealed.retain(|x| x.meta.partition_id != partition);
    }
}

/// Why the read-and-apply loop stopped early.
#[derive(Debug)]
pub(crate) enum ReadApplyError {
    /// the log could not be read (retry, or reload when truncated past us)
    Log(StorageError),
    /// a record could not be decoded: the shard cannot go past it
    Record { offset: u64, error: SchemaError },
}

impl From<ReadApplyError> for EngineError {
    fn from(e: ReadApplyError) -> Self {
        match e {
            ReadApplyError::Log(e) => e.into(),
            ReadApplyError::Record { error, .. } => error.into(),
        }
    }
}

pub(crate) struct Shard {
    pub collection: i64,
    pub index: u32,
    pub topic: String,
    pub schema: CollectionSchema,
    pub pk_index: usize,
    /// whether loads read index files (data nodes only seal, they search nothing)
    pub load_indexes: bool,
    /// hold the sealed segments of loaded partitions only (query nodes); others hold all
    pub only_loaded: bool,
    /// segments a read looked at (growing and sealed, of the partitions it covers)
    pub segments_read: AtomicU64,
    /// serializes appends so that apply order is log order
    pub writer: tokio::sync::Mutex<()>,
    pub data: RwLock<ShardData>,
    /// the applied offset, for readers waiting on a minimum (workers)
    pub applied_tx: tokio::sync::watch::Sender<u64>,
    /// one past the last offset this process appended (proxies: read-your-writes)
    pub acked: AtomicU64,
    /// set while this process serves the shard (workers); cancelling stops its log tail
    pub serving: parking_lot::Mutex<Option<CancellationToken>>,
    /// set once a served shard is loaded and caught up with its log at load time
    pub loaded: AtomicBool,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("collection", &self.collection)
            .field("index", &self.index)
            .finish()
    }
}

/// What a shard is: its place in the collection and the collection's schema.
pub(crate) struct ShardSpec<'a> {
    pub collection: i64,
    pub index: u32,
    pub topic: &'a str,
    pub schema: &'a CollectionSchema,
    pub pk_index: usize,
    pub checkpoint: u64,
    pub load_indexes: bool,
    pub only_loaded: bool,
}

impl Shard {
    pub fn new(spec: ShardSpec<'_>) -> Self {
        Self {
            collection: spec.collection,
            index: spec.index,
            topic: spec.topic.to_string(),
            schema: spec.schema.clone(),
            pk_index: spec.pk_index,
            load_indexes: spec.load_indexes,
            only_loaded: spec.only_loaded,
            segments_read: AtomicU64::new(0),
            writer: tokio::sync::Mutex::new(()),
            data: RwLock::new(ShardData::starting_at(spec.checkpoint)),
            applied_tx: tokio::sync::watch::channel(spec.checkpoint).0,
            acked: AtomicU64::new(0),
            serving: parking_lot::Mutex::new(None),
            loaded: AtomicBool::new(false),
        }
    }

    /// Applies one log record to memory. Deletes hit rows written before the record; rows are
    /// appended after, so an upsert replaces atomically. Returns the rows deleted.
    fn apply(&self, data: &mut ShardData, offset: u64, record: LogRecord) -> usize {
        let mut deleted = 0;
        let scope = record.delete_scope();
        let hits = |p: i64| scope.is_none_or(|s| s == p);
        for pk in &record.deletes {
            data.recent_deletes.push((pk.clone(), offset, scope));
            for (_, g) in data.growing.iter_mut().filter(|(p, _)| hits(**p)) {
                deleted += g.delete(pk, offset);
            }
            for seg in data.sealed.iter_mut().filter(|x| hits(x.meta.partition_id)) {
                deleted += seg.data.delete(pk, offset);
            }
        }
        if let Some(rows) = &record.rows {
            // records of older versions carry no write time: their rows never expire
            let written = match record.written_ms {
                0 => u64::MAX,
                ms => ms,
            };
            let rows = with_offset(&self.schema, rows, offset, written);
            for (partition, start, len) in record.row_partitions() {
                let part = if start == 0 && len == rows.num_rows() {
                    rows.clone()
                } else {
                    rows.slice(start, len)
                };
                data.growing.entry(partition).or_default().append(
                    part,
                    &self.schema,
                    self.pk_index,
                );
            }
        }
        data.applied = offset + 1;
        deleted
    }

    /// Appends one record to the log without applying it (proxies: the workers apply it).
    pub async fn append(&self, log: &dyn LogStore, record: &LogRecord) -> Result<u64> {
        let payload = Bytes::from(record.encode());
        let offset = log.append(&self.topic, self.index, payload).await?;
        self.acked.fetch_max(offset + 1, Ordering::AcqRel);
        Ok(offset)
    }

    /// Appends one record to the log and applies it; returns the rows it deleted.
    pub async fn append_apply(&self, log: &dyn LogStore, record: LogRecord) -> Result<usize> {
        let payload = Bytes::from(record.encode());
        let _writer = self.writer.lock().await;
        let offset = log.append(&self.topic, self.index, payload).await?;
        let mut data = self.data.write();
        if data.applied != offset {
            return Err(EngineError::Internal(format!(
                "shard {} of collection {} applied up to {} but the log appended at {offset}",
                self.index, self.collection, data.applied
            )));
        }
        Ok(self.apply(&mut data, offset, record))
    }

    /// The one read-and-apply loop (recovery, loads and followers): reads the log from the
    /// applied offset and applies it batch by batch, until the applied offset reaches `until`,
    /// the log has nothing more, or `stop` is cancelled. With `writer_held` the caller holds
    /// the writer for the whole loop; otherwise each batch takes it, so that seals and
    /// compactions get their turn while a follower chases a busy log. Returns the records
    /// applied.
    pub async fn read_apply(
        &self,
        log: &dyn LogStore,
        until: u64,
        stop: Option<&CancellationToken>,
        writer_held: bool,
    ) -> Result<usize, ReadApplyError> {
        let mut applied = 0;
        loop {
            let _writer = match writer_held {
                true => None,
                false => Some(self.writer.lock().await),
            };
            let from = self.data.read().applied;
            if from >= until {
                return Ok(applied);
            }
            let entries = log
                .read(&self.topic, self.index, from, REPLAY_BATCH)
                .await
                .map_err(ReadApplyError::Log)?;
            if entries.is_empty() || stop.is_some_and(|t| t.is_cancelled()) {
                return Ok(applied);
            }
            let mut d = self.data.write();
            for e in entries {
                match LogRecord::decode(&e.payload) {
                    Ok(record) => {
                        self.apply(&mut d, e.offset, record);
                        applied += 1;
                    }
                    Err(error) => {
                        self.applied_tx.send_replace(d.applied);
                        return Err(ReadApplyError::Record {
                            offset: e.offset,
                            error,
                        });
                    }
                }
            }
            self.applied_tx.send_replace(d.applied);
        }
    }

    /// Waits until this worker applied the shard up to `offset` (exclusive).
    pub async fn wait_applied(&self, offset: u64) -> Result<()> {
        if self.serving.lock().is_none() {
            return Err(EngineError::Unavailable(format!(
                "shard {} of collection {} is not served here",
                self.index, self.collection
            )));
        }
        let mut rx = self.applied_tx.subscribe();
        let reached =
            tokio::time::timeout(CATCH_UP, rx.wait_for(|applied| *applied >= offset)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(EngineError::Unavailable(format!(
                "shard {} of collection {} did not catch up to offset {offset} within {CATCH_UP:?}",
                self.index, self.collection
            ))),
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    pub fn is_serving(&self) -> bool {
        self.serving.lock().is_some()
    }

    /// Stops serving: not loaded any more, and its log tail stops.
    pub fn stop_serving(&self) {
        self.loaded.store(false, Ordering::Release);
        if let Some(token) = self.serving.lock().take() {
            token.cancel();
        }
    }

    /// Stops serving and drops the data held in memory.
    pub fn release(&self) {
        self.stop_serving();
        *self.data.write() = ShardData::starting_at(0);
    }

    /// Rows of the growing segment, deleted ones included (what the sealer measures).
    pub fn growing_rows(&self) -> usize {
        self.data.read().growing_rows()
    }

    /// Live rows in memory, growing and sealed, of the given partitions (all without any).
    pub fn live_rows(&self, partitions: &[i64]) -> u64 {
        let d = self.data.read();
        d.segments(partitions)
            .iter()
            .map(|(seg, _)| seg.live as u64)
            .sum()
    }

    /// Live rows and bytes of Arrow data in memory.
    pub fn memory(&self) -> (u64, u64) {
        let d = self.data.read();
        let (mut rows, mut bytes) = (0u64, 0u64);
        for (seg, _) in d.segments(&[]) {
            rows += seg.live as u64;
            bytes += seg
                .batches
                .iter()
                .map(|b| b.get_array_memory_size() as u64)
                .sum::<u64>();
        }
        (rows, bytes)
    }

    /// The rows of a sealed segment held here, if it is.
    pub fn sealed_batch(&self, segment: i64) -> Option<RecordBatch> {
        let d = self.data.read();
        d.sealed
            .iter()
            .find(|s| s.meta.id == segment)
            .map(|s| s.data.batches[0].clone())
    }

    /// Puts a freshly built index next to its segment, if the segment is held here.
    pub fn add_index(&self, segment: i64, index_id: i64, index: Arc<SegmentIndex>) {
        let mut d = self.data.write();
        if let Some(s) = d.sealed.iter_mut().find(|s| s.meta.id == segment) {
            s.indexes.insert(index_id, index);
        }
    }

    /// Forgets a dropped index.
    pub fn drop_index(&self, index_id: i64) {
        for seg in self.data.write().sealed.iter_mut() {
            seg.indexes.remove(&index_id);
        }
    }
}

#[cfg(test)]
mod tests;
