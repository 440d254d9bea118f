//! Start-up: rebuild memory from durable state. Sealed segments and their index files come
//! from the object store as the catalog lists them; everything after a shard's checkpoint is
//! replayed from the log, so each acknowledged row is present exactly once.

use std::sync::Arc;

use quarry_index::{HnswIndex, IndexKind, IndexSpec};
use quarry_types::record::LogRecord;

use crate::flush::decode_parquet;
use crate::segment::{SegmentData, Sealed};
use crate::write::apply;
use crate::{CollectionRt, Engine, EngineError, Result};

const REPLAY_BATCH: usize = 256;

impl Engine {
    pub(crate) async fn recover(&self) -> Result<()> {
        let snap = self.meta.snapshot();
        for meta in snap.collections.values() {
            let rt = Arc::new(CollectionRt::new(meta));
            self.log.create_topic(&rt.topic, meta.shards).await?;
            for seg in &meta.segments {
                let bytes = self.store.get(&seg.data_key).await?;
                let schema = rt.schema.clone();
                let batch = tokio::task::spawn_blocking(move || decode_parquet(&schema, bytes)).await.map_err(|e| EngineError::Internal(e.to_string()))??;
                let mut data = SegmentData::default();
                data.append(batch, &rt.schema, rt.pk_index);
                if let Some(key) = &seg.deletes_key {
                    let rows: Vec<u32> = serde_json::from_slice(&self.store.get(key).await?).map_err(|e| EngineError::Internal(format!("delete file {key}: {e}")))?;
                    rows.into_iter().for_each(|r| data.mark_deleted(r));
                }
                let mut sealed = Sealed { meta: seg.clone(), persisted_deletes: data.rows() - data.live, data, indexes: Default::default() };
                for (index_id, key) in &seg.index_files {
                    let Some(idx) = meta.indexes.iter().find(|i| i.id == *index_id) else { continue };
                    let spec = IndexSpec::from_params(&idx.params)?;
                    if let IndexKind::Hnsw { m, ef_construction } = spec.kind {
                        let dim = meta.schema.field(&idx.field_name).map(|f| f.dim()).unwrap_or(0);
                        let bytes = self.store.get(key).await?;
                        let index = tokio::task::spawn_blocking(move || HnswIndex::from_bytes(&bytes, dim, spec.metric, m, ef_construction))
                            .await
                            .map_err(|e| EngineError::Internal(e.to_string()))??;
                        sealed.indexes.insert(*index_id, Arc::new(index));
                    }
                }
                rt.shards[seg.shard as usize].data.write().sealed.push(sealed);
            }
            let mut replayed = 0usize;
            for shard in 0..meta.shards {
                let mut from = meta.checkpoints[shard as usize];
                loop {
                    let entries = self.log.read(&rt.topic, shard, from, REPLAY_BATCH).await?;
                    if entries.is_empty() {
                        break;
                    }
                    let mut d = rt.shards[shard as usize].data.write();
                    for e in entries {
                        let record = LogRecord::decode(&e.payload)?;
                        apply(&rt, &mut d, e.offset, record);
                        from = e.offset + 1;
                        replayed += 1;
                    }
                }
            }
            tracing::info!(collection = %meta.name, id = meta.id, segments = meta.segments.len(), replayed, "collection recovered");
            self.collections.write().insert(meta.id, rt);
        }
        Ok(())
    }
}
