//! Sealing and indexing. Flush turns each shard's growing rows into an immutable segment:
//! a Parquet file in the object store, delete files for rows deleted in older segments, and a
//! catalog commit that advances the shard checkpoint (the log offset replay starts from). A
//! background task seals large growing data and builds missing vector indexes.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use quarry_index::{HnswIndex, IndexKind, IndexSpec};
use quarry_meta::{keys, FlushCommit, IndexCommit, MetaError, SegmentMeta};
use quarry_types::batch::offsets;
use quarry_types::CollectionSchema;

use crate::segment::{Sealed, SegmentData};
use crate::{CollectionRt, Engine, EngineError, Result};

pub(crate) fn encode_parquet(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    w.write(batch)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    w.close()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(out)
}

/// Decodes a segment's Parquet file into one batch of the collection's Arrow schema (with
/// `$offset`), as recovery and index building load it.
pub fn decode_parquet(schema: &CollectionSchema, bytes: Bytes) -> Result<RecordBatch> {
    // parquet panics on some corrupt footers (unwraps in its thrift decoder, capacity
    // overflows): a corrupt segment file fails its load, it does not take the node down
    let batches = std::panic::catch_unwind(|| {
        ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(Into::into)
    })
    .map_err(|_| EngineError::Internal("corrupt segment file: the Parquet decoder failed".into()))?
    .map_err(|e: parquet::errors::ParquetError| {
        EngineError::Internal(format!("segment file: {e}"))
    })?;
    let arrow = schema.arrow_schema(true);
    let batches: Vec<RecordBatch> = batches
        .into_iter()
        .map(|b| RecordBatch::try_new(arrow.clone(), b.columns().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    concat_batches(&arrow, &batches).map_err(|e| EngineError::Internal(e.to_string()))
}

pub(crate) fn live_rows(schema: &CollectionSchema, seg: &SegmentData) -> Result<RecordBatch> {
    let arrow = schema.arrow_schema(true);
    let mut parts = Vec::new();
    for (b, batch) in seg.batches.iter().enumerate() {
        let start = seg.starts[b] as usize;
        let mask = BooleanArray::from(
            seg.deleted[start..start + batch.num_rows()]
                .iter()
                .map(|d| !d)
                .collect::<Vec<_>>(),
        );
        parts.push(
            filter_record_batch(batch, &mask).map_err(|e| EngineError::Internal(e.to_string()))?,
        );
    }
    concat_batches(&arrow, &parts).map_err(|e| EngineError::Internal(e.to_string()))
}

impl Engine {
    /// Seals every shard's growing data; returns the ids of the new segments.
    pub async fn flush(&self, name: &str) -> Result<Vec<i64>> {
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        if let Some(router) = &self.router {
            let acked = rt
                .shards
                .iter()
                .map(|s| s.acked.load(std::sync::atomic::Ordering::Acquire))
                .collect();
            let ids = router.flush(&meta, acked).await?;
            // later calls through this proxy see the new segments (row counts, index progress)
            self.meta.refresh().await?;
            return Ok(ids);
        }
        let mut ids = Vec::new();
        for shard in 0..rt.shards.len() as u32 {
            if let Some(id) = self.seal_shard(&rt, shard).await? {
                ids.push(id);
            }
        }
        self.index_wakeup.notify_one();
        Ok(ids)
    }

    pub(crate) async fn seal_shard(
        &self,
        rt: &Arc<CollectionRt>,
        shard: u32,
    ) -> Result<Option<i64>> {
        let s = &rt.shards[shard as usize];
        // holding the writer keeps the shard still: nothing is appended while we seal
        let _writer = s.writer.lock().await;
        let (growing, sealed_deletes, applied, base) = {
            let d = s.data.read();
            let deletes: Vec<(i64, Vec<u32>, usize)> = d
                .sealed
                .iter()
                .filter(|x| x.deleted_count() != x.persisted_deletes)
                .map(|x| {
                    (
                        x.meta.id,
                        x.data
                            .deleted
                            .iter()
                            .enumerate()
                            .filter(|(_, d)| **d)
                            .map(|(i, _)| i as u32)
                            .collect(),
                        x.deleted_count(),
                    )
                })
                .collect();
            (d.growing.clone(), deletes, d.applied, d.base)
        };
        let meta = self.describe_collection_by_id(rt.id)?;
        if growing.rows() == 0 && sealed_deletes.is_empty() && base == applied {
            return Ok(None);
        }
        let schema = rt.schema.clone();
        let new_segment = if growing.live > 0 {
            let g = growing.clone();
            let batch = tokio::task::spawn_blocking(move || live_rows(&schema, &g))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
            let id = self.meta.alloc_ids(1).await?;
            let data_key = keys::segment_data(rt.id, id);
            let b2 = batch.clone();
            let bytes = tokio::task::spawn_blocking(move || encode_parquet(&b2))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
            self.store.put(&data_key, Bytes::from(bytes)).await?;
            let offs = offsets(&batch);
            let seg_meta = SegmentMeta {
                id,
                shard,
                partition_id: meta.partitions[0].id,
                start_offset: offs.iter().copied().min().unwrap_or(0),
                end_offset: applied,
                rows: batch.num_rows() as u64,
                data_key,
                deletes_key: None,
                deleted_rows: 0,
                index_files: BTreeMap::new(),
            };
            Some((seg_meta, batch))
        } else {
            None
        };
        // delete files are named by a fresh timestamp: a newer file never overwrites an older one
        let version = self.meta.timestamp();
        let mut delete_keys = Vec::new();
        for (seg_id, rows, count) in &sealed_deletes {
            let key = keys::segment_deletes(rt.id, *seg_id, version);
            self.store
                .put(&key, Bytes::from(serde_json::to_vec(rows).expect("json")))
                .await?;
            delete_keys.push((*seg_id, key, *count as u64));
        }
        let commit = FlushCommit {
            collection: rt.id,
            shard,
            new_segment: new_segment.as_ref().map(|(m, _)| m.clone()),
            deletes: delete_keys.clone(),
            checkpoint: applied,
            base,
        };
        let old_delete_keys = match self.meta.commit_flush(commit).await {
            Ok(keys) => keys,
            Err(MetaError::StaleCommit(why)) => {
                // someone else flushed this shard meanwhile (we lost it, or a former owner
                // was still running): our files are garbage and our memory is out of date
                tracing::warn!(
                    collection = rt.id,
                    shard,
                    why,
                    "flush refused; reloading the shard"
                );
                if let Some((m, _)) = &new_segment {
                    self.store.delete(&m.data_key).await?;
                }
                for (_, key, _) in &delete_keys {
                    self.store.delete(key).await?;
                }
                drop(_writer);
                self.meta.refresh().await?;
                if let Some(meta) = self.meta.snapshot().collections.get(&rt.id) {
                    self.load_shard(rt, meta, shard).await?;
                }
                return Err(MetaError::StaleCommit(why).into());
            }
            Err(e) => return Err(e.into()),
        };
        {
            let mut d = s.data.write();
            d.base = applied;
            for (seg_id, _, count) in &delete_keys {
                if let Some(seg) = d.sealed.iter_mut().find(|x| x.meta.id == *seg_id) {
                    seg.persisted_deletes = *count as usize;
                    seg.meta.deleted_rows = *count;
                }
            }
            if let Some((meta, batch)) = new_segment.clone() {
                let mut data = SegmentData::default();
                data.append(batch, &rt.schema, rt.pk_index);
                d.sealed.push(Sealed {
                    meta,
                    data,
                    indexes: Default::default(),
                    persisted_deletes: 0,
                });
            }
            d.growing = SegmentData::default();
            // the new segment holds everything before `applied`
            d.recent_deletes.retain(|(_, o)| *o >= applied);
        }
        for key in old_delete_keys {
            self.store.delete(&key).await?;
        }
        self.log.truncate_before(&rt.topic, shard, applied).await?;
        let id = new_segment.map(|(m, _)| m.id);
        tracing::info!(collection = rt.id, shard, segment = ?id, checkpoint = applied, "shard flushed");
        Ok(id)
    }

    /// Builds one missing index file, if any; returns whether it did work.
    async fn build_one_index(&self) -> Result<bool> {
        let snap = self.meta.snapshot();
        let (rank, count) = *self.index_share.lock();
        let mut job = None;
        'outer: for c in snap.collections.values() {
            for idx in &c.indexes {
                for seg in &c.segments {
                    if !seg.index_files.contains_key(&idx.id) && seg.id as u64 % count == rank {
                        job = Some((c.clone(), idx.clone(), seg.clone()));
                        break 'outer;
                    }
                }
            }
        }
        let Some((meta, idx, seg)) = job else {
            return Ok(false);
        };
        let spec = IndexSpec::from_params(&idx.params)?;
        let rt = self.runtime(meta.id)?;
        let field_index = meta
            .schema
            .fields
            .iter()
            .position(|f| f.name == idx.field_name)
            .ok_or_else(|| EngineError::Internal("indexed field vanished".into()))?;
        let dim = meta.schema.fields[field_index].dim();
        let in_memory = {
            let d = rt.shards[seg.shard as usize].data.read();
            d.sealed
                .iter()
                .find(|s| s.meta.id == seg.id)
                .map(|s| s.data.batches[0].clone())
        };
        // an index node holds no shards: it reads the segment file
        let batch = match in_memory {
            Some(batch) => batch,
            None => {
                let bytes = self.store.get(&seg.data_key).await?;
                let schema = rt.schema.clone();
                tokio::task::spawn_blocking(move || decode_parquet(&schema, bytes))
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))??
            }
        };
        // a key of its own per build (see keys::index_file)
        let key = keys::index_file(meta.id, seg.id, idx.id, self.meta.timestamp());
        let built = match spec.kind {
            IndexKind::Flat => {
                // FLAT searches the segment's vectors directly; the marker records that it is ready
                self.store.put(&key, Bytes::from_static(b"FLAT")).await?;
                None
            }
            IndexKind::Hnsw { m, ef_construction } => {
                let started = std::time::Instant::now();
                let index = tokio::task::spawn_blocking(move || {
                    let reader = quarry_types::batch::ColumnReader::new(
                        batch.column(field_index),
                        quarry_types::DataType::FloatVector,
                    );
                    let quarry_types::batch::ColumnReader::Vector { values, .. } = reader else {
                        unreachable!()
                    };
                    HnswIndex::build(values, dim, spec.metric, m, ef_construction)
                })
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
                let bytes = index.to_bytes()?;
                self.store.put(&key, Bytes::from(bytes)).await?;
                tracing::info!(
                    collection = meta.id,
                    segment = seg.id,
                    index = idx.id,
                    rows = seg.rows,
                    secs = started.elapsed().as_secs_f64(),
                    "index built"
                );
                Some(Arc::new(index))
            }
        };
        match self
            .meta
            .commit_index(IndexCommit {
                collection: meta.id,
                segment: seg.id,
                index: idx.id,
                key: key.clone(),
            })
            .await
        {
            Ok(()) => {}
            Err(MetaError::StaleCommit(why)) => {
                tracing::info!(
                    collection = meta.id,
                    segment = seg.id,
                    index = idx.id,
                    why,
                    "index build outdated; dropping its file"
                );
                self.store.delete(&key).await?;
                return Ok(true);
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(index) = built {
            let mut d = rt.shards[seg.shard as usize].data.write();
            if let Some(s) = d.sealed.iter_mut().find(|s| s.meta.id == seg.id) {
                s.indexes.insert(idx.id, index);
            }
        }
        Ok(true)
    }
}

pub(crate) fn spawn_background(engine: &Arc<Engine>) {
    let weak = Arc::downgrade(engine);
    let token = engine.shutdown.clone();
    let wakeup_signal = engine.index_wakeup.clone();
    tokio::spawn(async move {
        loop {
            let Some(engine) = weak.upgrade() else { return };
            if engine.options.mode.builds_indexes() {
                match engine.build_one_index().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "index build failed; will retry"),
                }
            }
            let wait = engine.options.seal_check;
            let collections = if engine.options.mode.seals() {
                engine.list_collections()
            } else {
                vec![]
            };
            for c in collections {
                let Ok(rt) = engine.runtime(c.id) else {
                    continue;
                };
                for shard in 0..rt.shards.len() as u32 {
                    if rt.shards[shard as usize].data.read().growing.rows()
                        >= engine.options.segment_rows
                    {
                        if let Err(e) = engine.seal_shard(&rt, shard).await {
                            tracing::error!(error = %e, collection = c.id, shard, "automatic seal failed");
                        }
                    }
                    if let Err(e) = engine.compact_shard(&rt, shard).await {
                        tracing::error!(error = %e, collection = c.id, shard, "compaction failed; will retry");
                    }
                }
            }
            drop(engine);
            let wakeup = wakeup_signal.notified();
            tokio::select! {
                _ = token.cancelled() => return,
                _ = wakeup => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    });
}
