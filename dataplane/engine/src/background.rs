//! Background work of the engine, by duty: building missing indexes (standalone, index
//! nodes) and sealing large growing data and compacting sealed segments (standalone, data
//! nodes).

use std::sync::Arc;

use arrow_array::RecordBatch;
use bytes::Bytes;
use quarry_index::{IndexKind, IndexSpec, ScalarIndex, ScalarKind, SegmentIndex};
use quarry_meta::{keys, IndexCommit, MetaError};
use quarry_types::batch::ColumnReader;
use quarry_types::DataType;

use crate::parquet::decode_parquet;
use crate::{Engine, EngineError, Result};

impl Engine {
    /// Builds one missing index file, if any; returns whether it did work.
    async fn build_one_index(&self) -> Result<bool> {
        let snap = self.io.meta.snapshot();
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
        let rt = self.runtime(meta.id)?;
        let field_index = meta
            .schema
            .fields
            .iter()
            .position(|f| f.name == idx.field_name)
            .ok_or_else(|| EngineError::Internal("indexed field vanished".into()))?;
        let field = meta.schema.fields[field_index].clone();
        let data_type = field.data_type;
        let scalar = match data_type.is_vector() {
            true => None,
            false => Some(crate::ddl::scalar_kind(&idx.params, &field)?),
        };
        let in_memory = rt.shard(seg.shard)?.sealed_batch(seg.id);
        // an index node holds no shards: it reads the segment file
        let batch = match in_memory {
            Some(batch) => batch,
            None => {
                let bytes = self.io.store.get(&seg.data_key).await?;
                let schema = rt.schema.clone();
                tokio::task::spawn_blocking(move || decode_parquet(&schema, bytes))
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))??
            }
        };
        // a key of its own per build (see keys::index_file)
        let key = keys::index_file(meta.id, seg.id, idx.id, self.io.meta.timestamp());
        let started = std::time::Instant::now();
        let column = Column {
            batch,
            index: field_index,
            data_type,
        };
        let built = match scalar {
            Some(kind) => Some(build_scalar(&field.name, kind, column, &key, self).await?),
            None => {
                let spec = IndexSpec::for_field(&idx.params, data_type)?;
                build_vector(spec, field.dim(), column, &key, self).await?
            }
        };
        tracing::info!(
            collection = meta.id,
            segment = seg.id,
            index = idx.id,
            rows = seg.rows,
            secs = started.elapsed().as_secs_f64(),
            "index built"
        );
        match self
            .io
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
                self.io.store.delete(&key).await?;
                return Ok(true);
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(index) = built {
            rt.shard(seg.shard)?.add_index(seg.id, idx.id, index);
        }
        Ok(true)
    }
}

/// The column an index is built over: a segment's batch and the field's position in it.
struct Column {
    batch: RecordBatch,
    index: usize,
    data_type: DataType,
}

/// Builds and stores a scalar index file.
async fn build_scalar(
    field: &str,
    kind: ScalarKind,
    c: Column,
    key: &str,
    engine: &Engine,
) -> Result<Arc<SegmentIndex>> {
    let field = field.to_string();
    let (index, bytes) = tokio::task::spawn_blocking(move || {
        let column = ColumnReader::new(c.batch.column(c.index), c.data_type);
        let index = ScalarIndex::build(&field, kind, &column, c.batch.num_rows())?;
        let bytes = index.to_bytes();
        Ok::<_, EngineError>((SegmentIndex::Scalar(index), bytes))
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))??;
    engine.io.store.put(key, Bytes::from(bytes)).await?;
    Ok(Arc::new(index))
}

/// Builds and stores a vector index file (FLAT: a marker, nothing to load).
async fn build_vector(
    spec: IndexSpec,
    dim: usize,
    c: Column,
    key: &str,
    engine: &Engine,
) -> Result<Option<Arc<SegmentIndex>>> {
    if spec.kind == IndexKind::Flat {
        // FLAT searches the segment's vectors directly; the marker records that it is ready
        engine
            .io
            .store
            .put(key, Bytes::from_static(b"FLAT"))
            .await?;
        return Ok(None);
    }
    // building and serialising are CPU work: both off the async runtime
    let (index, bytes) = tokio::task::spawn_blocking(move || {
        let column = ColumnReader::new(c.batch.column(c.index), c.data_type);
        if let ColumnReader::Sparse(rows) = column {
            let rows: Vec<&[u8]> = rows.iter().map(|r| r.unwrap_or(&[])).collect();
            let index = SegmentIndex::build_sparse(&rows, &spec)?;
            let bytes = index.to_bytes()?;
            return Ok::<_, EngineError>((index, bytes));
        }
        // packed types (binary, 16-bit floats) are indexed in their f32 form
        let widened;
        let values = match column {
            ColumnReader::Vector { values, .. } => values,
            ColumnReader::Packed { values, .. } => {
                widened = quarry_types::vector::decode(c.data_type, values);
                &widened[..]
            }
            _ => return Err(EngineError::Internal("not a vector column".into())),
        };
        let index = crate::pool::build(|| SegmentIndex::build(values, dim, &spec))?
            .ok_or_else(|| EngineError::Internal("a non-FLAT index built nothing".into()))?;
        let bytes = index.to_bytes()?;
        Ok::<_, EngineError>((index, bytes))
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))??;
    engine.io.store.put(key, Bytes::from(bytes)).await?;
    Ok(Some(Arc::new(index)))
}

pub(crate) fn spawn_background(engine: &Arc<Engine>) {
    let weak = Arc::downgrade(engine);
    let token = engine.shutdown.clone();
    let wakeup_signal = engine.index_wakeup.clone();
    tokio::spawn(async move {
        loop {
            let Some(engine) = weak.upgrade() else { return };
            if engine.duties.build_indexes {
                match engine.build_one_index().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "index build failed; will retry"),
                }
            }
            let wait = engine.options.seal_check;
            let collections = if engine.duties.seal {
                engine.list_collections()
            } else {
                vec![]
            };
            for c in collections {
                let Ok(rt) = engine.runtime(c.id) else {
                    continue;
                };
                for s in &rt.shards {
                    let shard = s.index;
                    if s.growing_rows() >= engine.options.segment_rows {
                        if let Err(e) = s.seal(&engine.io).await {
                            tracing::error!(error = %e, collection = c.id, shard, "automatic seal failed");
                        }
                    }
                    let expire = crate::collection::expire_before(&c);
                    match s
                        .compact(&engine.io, engine.options.segment_rows, expire)
                        .await
                    {
                        Ok(true) => engine.index_wakeup.notify_one(),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::error!(error = %e, collection = c.id, shard, "compaction failed; will retry")
                        }
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
