//! Compaction: a shard's small sealed segments are merged into one, and segments where many
//! rows are deleted are rewritten without them. The owner of the shard (the data node, or
//! standalone) writes the new segment and the coordinator swaps it for the sources in one
//! catalog commit; followers pick the swap up at their next catalog sync.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_select::concat::concat_batches;
use bytes::Bytes;
use quarry_coord::{CompactionCommit, SegmentMeta};
use quarry_types::batch::offsets;

use crate::flush::{encode_parquet, live_rows, segment_prefix};
use crate::segment::{Sealed, SegmentData};
use crate::{CollectionRt, Engine, EngineError, Result};

/// A segment with at least this share of deleted rows is rewritten.
const PURGE_RATIO: f64 = 0.2;

impl Engine {
    /// Compacts one shard if it has two or more small segments or a mostly deleted one;
    /// returns the new segment's id (`None` when there was nothing to do or nothing was left).
    pub(crate) async fn compact_shard(
        &self,
        rt: &Arc<CollectionRt>,
        shard: u32,
    ) -> Result<Option<i64>> {
        let s = &rt.shards[shard as usize];
        let small = (self.options.segment_rows / 2).max(1);
        // holding the writer keeps deletes out while we read the sources
        let _writer = s.writer.lock().await;
        let sources: Vec<(SegmentMeta, SegmentData)> = {
            let d = s.data.read();
            let smalls: Vec<&Sealed> = d.sealed.iter().filter(|x| x.data.rows() < small).collect();
            let mut chosen: Vec<&Sealed> = if smalls.len() >= 2 {
                smalls
            } else {
                Vec::new()
            };
            for x in &d.sealed {
                let ratio = x.deleted_count() as f64 / x.data.rows().max(1) as f64;
                if ratio >= PURGE_RATIO && !chosen.iter().any(|c| c.meta.id == x.meta.id) {
                    chosen.push(x);
                }
            }
            chosen
                .into_iter()
                .map(|x| (x.meta.clone(), x.data.clone()))
                .collect()
        };
        if sources.is_empty() {
            return Ok(None);
        }
        let schema = rt.schema.clone();
        let parts: Vec<SegmentData> = sources.iter().map(|(_, d)| d.clone()).collect();
        let batch = tokio::task::spawn_blocking(move || {
            let live = parts
                .iter()
                .map(|p| live_rows(&schema, p))
                .collect::<Result<Vec<_>>>()?;
            concat_batches(&schema.arrow_schema(true), &live)
                .map_err(|e| EngineError::Internal(e.to_string()))
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
        let id = self.meta.alloc_ids(1).await?;
        let data_key = format!("{}/data.parquet", segment_prefix(rt.id, id));
        if batch.num_rows() > 0 {
            let b = batch.clone();
            let bytes = tokio::task::spawn_blocking(move || encode_parquet(&b))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
            self.store.put(&data_key, Bytes::from(bytes)).await?;
        }
        let offs = offsets(&batch);
        let target = SegmentMeta {
            id,
            shard,
            partition_id: sources[0].0.partition_id,
            start_offset: offs.iter().copied().min().unwrap_or(0),
            end_offset: sources.iter().map(|(m, _)| m.end_offset).max().unwrap_or(0),
            rows: batch.num_rows() as u64,
            data_key: data_key.clone(),
            deletes_key: None,
            deleted_rows: 0,
            index_files: BTreeMap::new(),
        };
        let ids: Vec<i64> = sources.iter().map(|(m, _)| m.id).collect();
        let commit = CompactionCommit {
            collection: rt.id,
            shard,
            sources: ids.clone(),
            target: target.clone(),
        };
        let garbage = match self.meta.commit_compaction(commit).await {
            Ok(g) => g,
            Err(e) => {
                let _ = self.store.delete(&data_key).await;
                return Err(e.into());
            }
        };
        {
            let mut d = s.data.write();
            d.sealed.retain(|x| !ids.contains(&x.meta.id));
            if batch.num_rows() > 0 {
                let mut data = SegmentData::default();
                data.append(batch, &rt.schema, rt.pk_index);
                d.sealed.push(Sealed {
                    meta: target.clone(),
                    data,
                    indexes: Default::default(),
                    persisted_deletes: 0,
                });
            }
        }
        for key in garbage {
            if let Err(e) = self.store.delete(&key).await {
                tracing::warn!(key, error = %e, "could not delete a compacted file");
            }
        }
        tracing::info!(collection = rt.id, shard, sources = ?ids, segment = id, rows = target.rows, "segments compacted");
        self.index_wakeup.notify_one();
        Ok((target.rows > 0).then_some(id))
    }
}
