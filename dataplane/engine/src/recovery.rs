//! Loading durable state into memory. Sealed segments and their index files come from the
//! object store as the catalog lists them; everything after a shard's checkpoint is replayed
//! from the log, so each acknowledged row is present exactly once. Standalone loads every
//! shard at start-up; workers load the shards assigned to them (see `follow.rs`).

use std::sync::Arc;

use quarry_index::{HnswIndex, IndexKind, IndexSpec};
use quarry_meta::{CollectionMeta, SegmentMeta};
use quarry_types::record::LogRecord;

use crate::flush::decode_parquet;
use crate::segment::{Sealed, SegmentData};
use crate::write::apply;
use crate::{CollectionRt, Engine, EngineError, Result};

pub(crate) const REPLAY_BATCH: usize = 256;

impl Engine {
    pub(crate) async fn recover(&self) -> Result<()> {
        let snap = self.meta.snapshot();
        for meta in snap.collections.values() {
            let rt = Arc::new(CollectionRt::new(meta));
            if self.options.mode == crate::Mode::Standalone {
                self.log.create_topic(&rt.topic, meta.shards).await?;
                let mut replayed = 0;
                for shard in 0..meta.shards {
                    replayed += self.load_shard(&rt, meta, shard).await?;
                }
                tracing::info!(collection = %meta.name, id = meta.id, segments = meta.segments.len(), replayed, "collection recovered");
            }
            self.collections.write().insert(meta.id, rt);
        }
        Ok(())
    }

    /// Reads one sealed segment with its deletes and (if `indexes`) its loaded index files.
    pub(crate) async fn load_segment(
        &self,
        meta: &CollectionMeta,
        rt: &CollectionRt,
        seg: &SegmentMeta,
        indexes: bool,
    ) -> Result<Sealed> {
        let bytes = self.store.get(&seg.data_key).await?;
        let schema = rt.schema.clone();
        let batch = tokio::task::spawn_blocking(move || decode_parquet(&schema, bytes))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        let mut data = SegmentData::default();
        data.append(batch, &rt.schema, rt.pk_index);
        if let Some(key) = &seg.deletes_key {
            let rows: Vec<u32> = serde_json::from_slice(&self.store.get(key).await?)
                .map_err(|e| EngineError::Internal(format!("delete file {key}: {e}")))?;
            rows.into_iter().for_each(|r| data.mark_deleted(r));
        }
        let mut sealed = Sealed {
            meta: seg.clone(),
            persisted_deletes: data.rows() - data.live,
            data,
            indexes: Default::default(),
        };
        if indexes {
            for index_id in seg.index_files.keys() {
                if let Some(index) = self.load_index(meta, seg, *index_id).await? {
                    sealed.indexes.insert(*index_id, index);
                }
            }
        }
        Ok(sealed)
    }

    /// Reads an HNSW index file (FLAT has nothing to load).
    pub(crate) async fn load_index(
        &self,
        meta: &CollectionMeta,
        seg: &SegmentMeta,
        index_id: i64,
    ) -> Result<Option<Arc<HnswIndex>>> {
        let (Some(idx), Some(key)) = (
            meta.indexes.iter().find(|i| i.id == index_id),
            seg.index_files.get(&index_id),
        ) else {
            return Ok(None);
        };
        let spec = IndexSpec::from_params(&idx.params)?;
        let IndexKind::Hnsw { m, ef_construction } = spec.kind else {
            return Ok(None);
        };
        let dim = meta
            .schema
            .field(&idx.field_name)
            .map(|f| f.dim())
            .unwrap_or(0);
        let bytes = self.store.get(key).await?;
        let index = tokio::task::spawn_blocking(move || {
            HnswIndex::from_bytes(&bytes, dim, spec.metric, m, ef_construction)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
        Ok(Some(Arc::new(index)))
    }

    /// Fills one shard from scratch: its sealed segments, then the log from the checkpoint to
    /// the end. Returns the number of records replayed.
    pub(crate) async fn load_shard(
        &self,
        rt: &CollectionRt,
        meta: &CollectionMeta,
        shard: u32,
    ) -> Result<usize> {
        let indexes = self.options.mode.loads_indexes();
        let mut sealed = Vec::new();
        for seg in meta.segments.iter().filter(|s| s.shard == shard) {
            sealed.push(self.load_segment(meta, rt, seg, indexes).await?);
        }
        let s = &rt.shards[shard as usize];
        let _writer = s.writer.lock().await;
        let checkpoint = meta.checkpoints[shard as usize];
        {
            let mut d = s.data.write();
            d.sealed = sealed;
            d.growing = SegmentData::default();
            d.recent_deletes.clear();
            d.applied = checkpoint;
            d.base = checkpoint;
        }
        // replay up to the end as of now; a follower's tail takes it from there (with writers
        // busy, "read until nothing comes back" could chase the end for ever)
        let target = self.log.end_offset(&rt.topic, shard).await?;
        let mut replayed = 0usize;
        let mut from = checkpoint;
        while from < target {
            let entries = self.log.read(&rt.topic, shard, from, REPLAY_BATCH).await?;
            if entries.is_empty() {
                break;
            }
            let mut d = s.data.write();
            for e in entries {
                apply(rt, &mut d, e.offset, LogRecord::decode(&e.payload)?);
                from = e.offset + 1;
                replayed += 1;
            }
        }
        s.applied_tx.send_replace(from);
        Ok(replayed)
    }
}
