//! Workers following the log. A query or data node serves the shards the coordinator assigns
//! to it: it loads their sealed segments, replays the log from the checkpoint and keeps
//! tailing it. When a data node seals a segment elsewhere, the followers swap it in: load the
//! segment, drop the growing rows it covers, and re-apply the deletes logged since.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::BooleanArray;
use arrow_select::filter::filter_record_batch;
use quarry_meta::CollectionMeta;
use quarry_storage::StorageError;
use quarry_types::batch::offsets;
use quarry_types::record::LogRecord;
use tokio_util::sync::CancellationToken;

use crate::recovery::REPLAY_BATCH;
use crate::segment::SegmentData;
use crate::write::apply;
use crate::{CollectionRt, Engine, EngineError, Result};

/// How long a caught-up tail waits before asking the log again.
const IDLE_POLL: Duration = Duration::from_millis(20);

/// Rows of `seg` at or after log offset `from` that are not deleted.
fn rows_from(seg: &SegmentData, rt: &CollectionRt, from: u64) -> Result<SegmentData> {
    let mut out = SegmentData::default();
    for (b, batch) in seg.batches.iter().enumerate() {
        let start = seg.starts[b] as usize;
        let offs = offsets(batch);
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|r| Some(offs[r] >= from && !seg.deleted[start + r]))
            .collect();
        let kept =
            filter_record_batch(batch, &keep).map_err(|e| EngineError::Internal(e.to_string()))?;
        if kept.num_rows() > 0 {
            out.append(kept, &rt.schema, rt.pk_index);
        }
    }
    Ok(out)
}

impl Engine {
    /// Makes the runtimes match the catalog (new and dropped collections) and swaps segments
    /// sealed or indexed elsewhere into the shards this process serves.
    pub async fn sync_catalog(self: &Arc<Self>) -> Result<()> {
        let snap = self.meta.snapshot();
        let gone: Vec<i64> = self
            .collections
            .read()
            .keys()
            .filter(|id| !snap.collections.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(rt) = self.collections.write().remove(&id) {
                rt.shards.iter().for_each(|s| stop_serving(s));
                tracing::info!(collection = id, "collection dropped; released its shards");
            }
        }
        for meta in snap.collections.values() {
            let rt = {
                let mut all = self.collections.write();
                all.entry(meta.id)
                    .or_insert_with(|| Arc::new(CollectionRt::new(meta)))
                    .clone()
            };
            if !self.options.mode.follows() {
                continue;
            }
            for shard in 0..meta.shards {
                if rt.shards[shard as usize].serving.lock().is_some() {
                    self.swap_in_segments(&rt, meta, shard).await?;
                }
            }
        }
        Ok(())
    }

    async fn swap_in_segments(
        &self,
        rt: &CollectionRt,
        meta: &CollectionMeta,
        shard: u32,
    ) -> Result<()> {
        let s = &rt.shards[shard as usize];
        let want_indexes = self.options.mode.loads_indexes();
        let (known, missing_indexes): (HashSet<i64>, Vec<(i64, i64)>) = {
            let d = s.data.read();
            let known = d.sealed.iter().map(|x| x.meta.id).collect();
            let missing = d
                .sealed
                .iter()
                .flat_map(|x| {
                    let seg = meta.segments.iter().find(|m| m.id == x.meta.id);
                    seg.into_iter().flat_map(move |m| {
                        m.index_files
                            .keys()
                            .filter(|i| !x.indexes.contains_key(i))
                            .map(move |i| (m.id, *i))
                    })
                })
                .filter(|_| want_indexes)
                .collect();
            (known, missing)
        };
        let mut fresh = Vec::new();
        for seg in meta
            .segments
            .iter()
            .filter(|m| m.shard == shard && !known.contains(&m.id))
        {
            fresh.push(self.load_segment(meta, rt, seg, want_indexes).await?);
        }
        let mut loaded_indexes = Vec::new();
        for (seg_id, index_id) in missing_indexes {
            let seg = meta
                .segments
                .iter()
                .find(|m| m.id == seg_id)
                .expect("listed above");
            if let Some(index) = self.load_index(meta, seg, index_id).await? {
                loaded_indexes.push((seg_id, index_id, index));
            }
        }
        let live: HashSet<i64> = meta.segments.iter().map(|m| m.id).collect();
        let index_ids: HashSet<i64> = meta.indexes.iter().map(|i| i.id).collect();
        let _writer = s.writer.lock().await;
        let mut d = s.data.write();
        d.sealed.retain(|x| live.contains(&x.meta.id));
        for x in d.sealed.iter_mut() {
            x.indexes.retain(|id, _| index_ids.contains(id));
        }
        for (seg_id, index_id, index) in loaded_indexes {
            if let Some(x) = d.sealed.iter_mut().find(|x| x.meta.id == seg_id) {
                x.indexes.insert(index_id, index);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let covered = fresh.iter().map(|x| x.meta.end_offset).max().unwrap_or(0);
        let recent: Vec<_> = d
            .recent_deletes
            .iter()
            .filter(|(_, o)| *o >= covered)
            .cloned()
            .collect();
        for mut x in fresh {
            for (pk, offset) in &recent {
                x.data.delete(pk, *offset);
            }
            tracing::info!(
                collection = rt.id,
                shard,
                segment = x.meta.id,
                rows = x.data.live,
                "sealed segment swapped in"
            );
            d.sealed.push(x);
        }
        d.growing = rows_from(&d.growing, rt, covered)?;
        d.recent_deletes = recent;
        Ok(())
    }

    /// Serves exactly `units` (collection, shard) from now on: loads and tails new ones, drops
    /// the others.
    pub async fn assign(self: &Arc<Self>, units: &BTreeSet<(i64, u32)>) -> Result<()> {
        let snap = self.meta.snapshot();
        let all: Vec<Arc<CollectionRt>> = self.collections.read().values().cloned().collect();
        for rt in all {
            for (shard, s) in rt.shards.iter().enumerate() {
                let wanted = units.contains(&(rt.id, shard as u32));
                let serving = s.serving.lock().is_some();
                if serving && !wanted {
                    stop_serving(s);
                    *s.data.write() = crate::ShardData {
                        growing: SegmentData::default(),
                        sealed: vec![],
                        applied: 0,
                        base: 0,
                        recent_deletes: vec![],
                    };
                    tracing::info!(collection = rt.id, shard, "shard released");
                } else if wanted && !serving {
                    let Some(meta) = snap.collections.get(&rt.id) else {
                        continue;
                    };
                    let token = CancellationToken::new();
                    *s.serving.lock() = Some(token.clone());
                    let replayed = match self.load_shard(&rt, meta, shard as u32).await {
                        Ok(n) => n,
                        Err(e) => {
                            stop_serving(s);
                            return Err(e);
                        }
                    };
                    s.loaded.store(true, std::sync::atomic::Ordering::Release);
                    tracing::info!(
                        collection = rt.id,
                        shard,
                        replayed,
                        "shard loaded; following its log"
                    );
                    tokio::spawn(tail(Arc::downgrade(self), rt.clone(), shard as u32, token));
                }
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Live rows and bytes of Arrow data this process holds for the shards it serves.
    pub fn memory_stats(&self) -> (u64, u64) {
        let all = self.collections.read();
        let (mut rows, mut bytes) = (0u64, 0u64);
        for rt in all.values() {
            for s in rt
                .shards
                .iter()
                .filter(|s| s.loaded.load(std::sync::atomic::Ordering::Acquire))
            {
                let d = s.data.read();
                for seg in std::iter::once(&d.growing).chain(d.sealed.iter().map(|x| &x.data)) {
                    rows += seg.live as u64;
                    bytes += seg
                        .batches
                        .iter()
                        .map(|b| b.get_array_memory_size() as u64)
                        .sum::<u64>();
                }
            }
        }
        (rows, bytes)
    }

    /// The (collection, shard) units this process has loaded and follows, each with the live
    /// rows of its growing segment.
    pub fn serving_units(&self) -> Vec<ServedUnit> {
        let all = self.collections.read();
        let mut out = Vec::new();
        for rt in all.values() {
            for (i, s) in rt.shards.iter().enumerate() {
                if s.loaded.load(std::sync::atomic::Ordering::Acquire) {
                    out.push(ServedUnit {
                        collection: rt.id,
                        shard: i as u32,
                        growing_rows: s.data.read().growing.live as u64,
                    });
                }
            }
        }
        out
    }
}

/// A shard this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedUnit {
    pub collection: i64,
    pub shard: u32,
    pub growing_rows: u64,
}

fn stop_serving(s: &crate::Shard) {
    s.loaded.store(false, std::sync::atomic::Ordering::Release);
    if let Some(token) = s.serving.lock().take() {
        token.cancel();
    }
}

/// Applies a served shard's new log records as they arrive.
async fn tail(
    engine: std::sync::Weak<Engine>,
    rt: Arc<CollectionRt>,
    shard: u32,
    token: CancellationToken,
) {
    let s = &rt.shards[shard as usize];
    loop {
        if token.is_cancelled() {
            return;
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let progressed = {
            let _writer = s.writer.lock().await;
            let from = s.data.read().applied;
            match engine.log.read(&rt.topic, shard, from, REPLAY_BATCH).await {
                Ok(entries) if !token.is_cancelled() => {
                    let mut d = s.data.write();
                    let mut bad = None;
                    for e in &entries {
                        match LogRecord::decode(&e.payload) {
                            Ok(record) => {
                                apply(&rt, &mut d, e.offset, record);
                            }
                            Err(err) => {
                                bad = Some((e.offset, err));
                                break;
                            }
                        }
                    }
                    s.applied_tx.send_replace(d.applied);
                    if let Some((offset, err)) = bad {
                        tracing::error!(collection = rt.id, shard, offset, error = %err, "undecodable log record; the shard stops here");
                        return;
                    }
                    !entries.is_empty()
                }
                Ok(_) => return,
                Err(StorageError::OffsetOutOfRange { offset, start, .. }) => {
                    // never skip: records below the retained start are in segments by now, so
                    // reload the shard from the catalog instead
                    tracing::warn!(
                        collection = rt.id,
                        shard,
                        offset,
                        start,
                        "log truncated past this replica; reloading the shard"
                    );
                    drop(_writer);
                    let meta = engine.meta.snapshot().collections.get(&rt.id).cloned();
                    if let Some(meta) = meta {
                        if let Err(e) = engine.load_shard(&rt, &meta, shard).await {
                            tracing::error!(collection = rt.id, shard, error = %e, "reloading the shard failed; will retry");
                        }
                    }
                    false
                }
                Err(e) => {
                    tracing::error!(collection = rt.id, shard, error = %e, "reading the log failed; will retry");
                    false
                }
            }
        };
        drop(engine);
        if !progressed {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}
