//! Loading durable state into a shard. Sealed segments and their index files come from the
//! object store as the catalog lists them; everything after the shard's checkpoint is replayed
//! from the log, so each acknowledged row is present exactly once. When a segment is sealed
//! elsewhere (by a data node), a follower swaps it in: loads the segment, drops the growing
//! rows it covers, and re-applies the deletes logged since. A query node holds the sealed
//! segments of loaded partitions only: a released partition's segments leave memory at the next
//! catalog sync, a loaded one's come in (its growing rows are kept throughout, as the log is
//! applied in order for every partition).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow_array::BooleanArray;
use arrow_select::filter::filter_record_batch;
use quarry_index::{IndexKind, IndexSpec, ScalarIndex, SegmentIndex};
use quarry_meta::{CollectionMeta, SegmentMeta};
use quarry_types::batch::offsets;

use super::{Io, Shard, ShardData};
use crate::parquet::decode_parquet;
use crate::segment::{Sealed, SegmentData};
use crate::{EngineError, Result};

impl Shard {
    /// Whether this shard holds the sealed segments of `partition`: an existing partition, and
    /// on query nodes a loaded one.
    pub fn holds(&self, meta: &CollectionMeta, partition: i64) -> bool {
        meta.partitions
            .iter()
            .find(|p| p.id == partition)
            .is_some_and(|p| !self.only_loaded || meta.partition_loaded(p))
    }

    /// Whether every sealed segment of the given partitions that `meta` lists for this shard is
    /// held here (a read of partitions loaded since the last catalog sync is not).
    pub fn has_segments_of(&self, meta: &CollectionMeta, partitions: &[i64]) -> bool {
        let d = self.data.read();
        meta.segments
            .iter()
            .filter(|m| m.shard == self.index)
            .filter(|m| partitions.is_empty() || partitions.contains(&m.partition_id))
            .all(|m| d.sealed.iter().any(|x| x.meta.id == m.id))
    }

    /// Fills the shard from scratch: its sealed segments, then the log from the checkpoint to
    /// the end as of now. Returns the number of records replayed.
    pub async fn load(&self, io: &Io, meta: &CollectionMeta) -> Result<usize> {
        let mut sealed = Vec::new();
        for seg in meta
            .segments
            .iter()
            .filter(|s| s.shard == self.index && self.holds(meta, s.partition_id))
        {
            sealed.push(self.load_segment(io, meta, seg, self.load_indexes).await?);
        }
        let _writer = self.writer.lock().await;
        let checkpoint = meta.checkpoints[self.index as usize];
        *self.data.write() = ShardData {
            sealed,
            ..ShardData::starting_at(checkpoint)
        };
        // replay up to the end as of now; a follower's tail takes it from there (with writers
        // busy, "read until nothing comes back" could chase the end for ever)
        let target = io.log.end_offset(&self.topic, self.index).await?;
        let replayed = self.read_apply(&*io.log, target, None, true).await?;
        self.applied_tx.send_replace(self.data.read().applied);
        Ok(replayed)
    }

    /// Reads one sealed segment with its deletes and (if `indexes`) its loaded index files.
    async fn load_segment(
        &self,
        io: &Io,
        meta: &CollectionMeta,
        seg: &SegmentMeta,
        indexes: bool,
    ) -> Result<Sealed> {
        let bytes = io.store.get(&seg.data_key).await?;
        let schema = self.schema.clone();
        let batch = tokio::task::spawn_blocking(move || decode_parquet(&schema, bytes))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        let mut data = SegmentData::default();
        data.append(batch, &self.schema, self.pk_index);
        if let Some(key) = &seg.deletes_key {
            let rows: Vec<u32> = serde_json::from_slice(&io.store.get(key).await?)
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
                if let Some(index) = load_index(io, meta, seg, *index_id).await? {
                    sealed.indexes.insert(*index_id, index);
                }
            }
        }
        Ok(sealed)
    }

    /// Swaps in the segments sealed or indexed elsewhere (and those of partitions loaded since)
    /// and drops those the catalog no longer lists (compacted away, dropped) or whose partition
    /// is released. `next_id` is the catalog's as of `meta`: growing rows of a partition below
    /// it that `meta` does not list belong to a dropped partition and go too.
    pub async fn swap_in(&self, io: &Io, meta: &CollectionMeta, next_id: i64) -> Result<()> {
        let shard = self.index;
        let want_indexes = self.load_indexes;
        let (known, missing_indexes): (HashSet<i64>, Vec<(i64, i64)>) = {
            let d = self.data.read();
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
            .filter(|m| self.holds(meta, m.partition_id))
        {
            fresh.push(self.load_segment(io, meta, seg, want_indexes).await?);
        }
        let mut loaded_indexes = Vec::new();
        for (seg_id, index_id) in missing_indexes {
            let seg = meta
                .segments
                .iter()
                .find(|m| m.id == seg_id)
                .expect("listed above");
            if let Some(index) = load_index(io, meta, seg, index_id).await? {
                loaded_indexes.push((seg_id, index_id, index));
            }
        }
        let live: HashSet<i64> = meta.segments.iter().map(|m| m.id).collect();
        let index_ids: HashSet<i64> = meta.indexes.iter().map(|i| i.id).collect();
        let _writer = self.writer.lock().await;
        let mut d = self.data.write();
        d.sealed
            .retain(|x| live.contains(&x.meta.id) && self.holds(meta, x.meta.partition_id));
        d.growing
            .retain(|p, _| *p >= next_id || meta.partitions.iter().any(|x| x.id == *p));
        for x in d.sealed.iter_mut() {
            x.indexes.retain(|id, _| index_ids.contains(id));
        }
        for (seg_id, index_id, index) in loaded_indexes {
            if let Some(x) = d.sealed.iter_mut().find(|x| x.meta.id == seg_id) {
                x.indexes.insert(index_id, index);
            }
        }
        // a concurrent swap (a read's, the catalog sync's) may have brought some in already
        fresh.retain(|x| !d.sealed.iter().any(|y| y.meta.id == x.meta.id));
        if fresh.is_empty() {
            return Ok(());
        }
        let covered = fresh.iter().map(|x| x.meta.end_offset).max().unwrap_or(0);
        let recent: Vec<_> = d
            .recent_deletes
            .iter()
            .filter(|(_, o, _)| *o >= covered)
            .cloned()
            .collect();
        for mut x in fresh {
            for (pk, offset, scope) in &recent {
                if scope.is_none_or(|p| p == x.meta.partition_id) {
                    x.data.delete(pk, *offset);
                }
            }
            tracing::info!(
                collection = self.collection,
                shard,
                segment = x.meta.id,
                rows = x.data.live,
                "sealed segment swapped in"
            );
            d.sealed.push(x);
        }
        let mut kept = BTreeMap::new();
        for (p, g) in d.growing.iter() {
            let rows = self.rows_from(g, covered)?;
            if rows.rows() > 0 {
                kept.insert(*p, rows);
            }
        }
        d.growing = kept;
        d.recent_deletes = recent;
        Ok(())
    }

    /// Rows of `seg` at or after log offset `from` that are not deleted.
    fn rows_from(&self, seg: &SegmentData, from: u64) -> Result<SegmentData> {
        let mut out = SegmentData::default();
        for (b, batch) in seg.batches.iter().enumerate() {
            let start = seg.starts[b] as usize;
            let offs = offsets(batch);
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|r| Some(offs[r] >= from && !seg.deleted[start + r]))
                .collect();
            let kept = filter_record_batch(batch, &keep)
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            if kept.num_rows() > 0 {
                out.append(kept, &self.schema, self.pk_index);
            }
        }
        Ok(out)
    }
}

/// Reads an index file (HNSW, IVF, sparse, scalar; FLAT has nothing to load).
async fn load_index(
    io: &Io,
    meta: &CollectionMeta,
    seg: &SegmentMeta,
    index_id: i64,
) -> Result<Option<Arc<SegmentIndex>>> {
    let (Some(idx), Some(key)) = (
        meta.indexes.iter().find(|i| i.id == index_id),
        seg.index_files.get(&index_id),
    ) else {
        return Ok(None);
    };
    let field = meta
        .schema
        .field(&idx.field_name)
        .ok_or_else(|| EngineError::Internal("indexed field vanished".into()))?;
    if !field.data_type.is_vector() {
        let bytes = io.store.get(key).await?;
        let index = tokio::task::spawn_blocking(move || ScalarIndex::from_bytes(&bytes))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        return Ok(Some(Arc::new(SegmentIndex::Scalar(index))));
    }
    let spec = IndexSpec::for_field(&idx.params, field.data_type)?;
    if spec.kind == IndexKind::Flat {
        return Ok(None);
    }
    let dim = field.dim();
    let bytes = io.store.get(key).await?;
    let index = tokio::task::spawn_blocking(move || SegmentIndex::from_bytes(&bytes, dim, &spec))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
    Ok(index.map(Arc::new))
}
