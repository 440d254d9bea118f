//! Sealing: a shard's growing rows become immutable segments, one per partition with rows: a
//! Parquet file each in the object store, delete files for rows deleted in older segments, and
//! one catalog commit of them all that advances the shard checkpoint (the log offset replay
//! starts from).

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use bytes::Bytes;
use quarry_meta::{keys, FlushCommit, MetaError, SegmentMeta};
use quarry_types::batch::offsets;

use super::{Io, Shard};
use crate::parquet::{encode_parquet, live_rows};
use crate::segment::{Sealed, SegmentData};
use crate::{EngineError, Result};

impl Shard {
    /// Seals the growing data into segments (one per partition), persists the deletes of older
    /// segments and commits both with the new checkpoint; returns the new segments' ids.
    pub async fn seal(&self, io: &Io) -> Result<Vec<i64>> {
        let (s, shard) = (self, self.index);
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
        if !io
            .meta
            .snapshot()
            .collections
            .contains_key(&self.collection)
        {
            return Err(EngineError::CollectionNotFound(self.collection.to_string()));
        }
        let growing_rows: usize = growing.values().map(|g| g.rows()).sum();
        if growing_rows == 0 && sealed_deletes.is_empty() && base == applied {
            return Ok(Vec::new());
        }
        let parts: Vec<(i64, SegmentData)> =
            growing.into_iter().filter(|(_, g)| g.live > 0).collect();
        let mut new_segments = Vec::with_capacity(parts.len());
        if !parts.is_empty() {
            let first_id = io.meta.alloc_ids(parts.len() as u64).await?;
            for (id, (partition_id, g)) in (first_id..).zip(parts) {
                new_segments.push(self.write_segment(io, id, partition_id, g, applied).await?);
            }
        }
        // delete files are named by a fresh timestamp: a newer file never overwrites an older one
        let version = io.meta.timestamp();
        let mut delete_keys = Vec::new();
        for (seg_id, rows, count) in &sealed_deletes {
            let key = keys::segment_deletes(self.collection, *seg_id, version);
            io.store
                .put(&key, Bytes::from(serde_json::to_vec(rows).expect("json")))
                .await?;
            delete_keys.push((*seg_id, key, *count as u64));
        }
        let commit = FlushCommit {
            collection: self.collection,
            shard,
            new_segments: new_segments.iter().map(|(m, _)| m.clone()).collect(),
            deletes: delete_keys.clone(),
            checkpoint: applied,
            base,
        };
        let old_delete_keys = match io.meta.commit_flush(commit).await {
            Ok(keys) => keys,
            Err(MetaError::StaleCommit(why)) => {
                // someone else flushed this shard meanwhile (we lost it, or a former owner
                // was still running): our files are garbage and our memory is out of date
                tracing::warn!(
                    collection = self.collection,
                    shard,
                    why,
                    "flush refused; reloading the shard"
                );
                for (m, _) in &new_segments {
                    io.store.delete(&m.data_key).await?;
                }
                for (_, key, _) in &delete_keys {
                    io.store.delete(key).await?;
                }
                drop(_writer);
                io.meta.refresh().await?;
                if let Some(meta) = io.meta.snapshot().collections.get(&self.collection) {
                    self.load(io, meta).await?;
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
            // a segment of a partition dropped meanwhile came back as garbage: not kept
            for (meta, batch) in new_segments.iter().cloned() {
                if old_delete_keys.contains(&meta.data_key) {
                    continue;
                }
                let mut data = SegmentData::default();
                data.append(batch, &self.schema, self.pk_index);
                d.sealed.push(Sealed {
                    meta,
                    data,
                    indexes: Default::default(),
                    persisted_deletes: 0,
                });
            }
            d.growing.clear();
            // the new segment holds everything before `applied`
            d.recent_deletes.retain(|(_, o, _)| *o >= applied);
        }
        for key in old_delete_keys {
            io.store.delete(&key).await?;
        }
        io.log.truncate_before(&self.topic, shard, applied).await?;
        let ids: Vec<i64> = new_segments.iter().map(|(m, _)| m.id).collect();
        tracing::info!(collection = self.collection, shard, segments = ?ids, checkpoint = applied, "shard flushed");
        Ok(ids)
    }

    /// Writes the live rows of one partition's growing data as segment `id`'s Parquet file.
    async fn write_segment(
        &self,
        io: &Io,
        id: i64,
        partition_id: i64,
        growing: SegmentData,
        applied: u64,
    ) -> Result<(SegmentMeta, RecordBatch)> {
        let schema = self.schema.clone();
        let batch = tokio::task::spawn_blocking(move || live_rows(&schema, &growing))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        let data_key = keys::segment_data(self.collection, id);
        let b2 = batch.clone();
        let bytes = tokio::task::spawn_blocking(move || encode_parquet(&b2))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        io.store.put(&data_key, Bytes::from(bytes)).await?;
        let offs = offsets(&batch);
        let meta = SegmentMeta {
            id,
            shard: self.index,
            partition_id,
            start_offset: offs.iter().copied().min().unwrap_or(0),
            end_offset: applied,
            rows: batch.num_rows() as u64,
            data_key,
            deletes_key: None,
            deleted_rows: 0,
            index_files: BTreeMap::new(),
        };
        Ok((meta, batch))
    }
}
