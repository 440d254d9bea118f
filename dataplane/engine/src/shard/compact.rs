//! Compaction: a shard's small sealed segments of one partition are merged into one (never
//! across partitions), and segments where many rows are deleted are rewritten without them. The owner of the shard (the data node, or
//! standalone) writes the new segment and the coordinator swaps it for the sources in one
//! catalog commit; followers pick the swap up at their next catalog sync.
//!
//! The commit is fenced by the shard checkpoint (like a flush): a node that lost the shard
//! cannot swap in a merge built without the deletes the new owner persisted. Its answer can be
//! lost although it went through (a timeout to the coordinator, a storage error after the put
//! landed): the commit is sent again, which the coordinator recognises when applied, and the
//! new segment's file is deleted only once the commit is known refused. Still unknown, the file
//! is kept (the garbage sweep removes it if nothing references it).

use std::collections::{BTreeMap, BTreeSet};

use arrow_select::concat::concat_batches;
use bytes::Bytes;
use quarry_meta::{keys, CompactionCommit, MetaError, SegmentMeta};
use quarry_types::batch::offsets;

use super::{Io, Shard};
use crate::compaction::{choose, Candidate};
use crate::parquet::{encode_parquet, live_rows};
use crate::segment::{Sealed, SegmentData};
use crate::{EngineError, Result};

/// How often a compaction commit is sent while its answer is lost.
const COMMIT_ATTEMPTS: u32 = 3;

/// How a compaction commit ended.
enum Outcome {
    /// applied; the keys of the files it made garbage (as far as the answer tells)
    Applied(Vec<String>),
    /// known not applied, now and later
    Refused(MetaError),
    /// no answer: it may or may not be applied
    Unknown(MetaError),
}

/// Errors a commit is refused with before anything is written: the outcome is certain.
fn refused(e: &MetaError) -> bool {
    matches!(
        e,
        MetaError::StaleCommit(_)
            | MetaError::Rejected(_)
            | MetaError::CollectionNotFound(_)
            | MetaError::CollectionExists(_)
            | MetaError::IndexConflict { .. }
    )
}

impl Shard {
    /// Compacts the shard if a partition has two or more small segments (under half of
    /// `segment_rows`) or a mostly deleted one; returns whether a compaction was committed.
    /// Rows written before `expire_before` (ms; 0: none), past the collection's time to live,
    /// count as deleted: they are purged.
    pub async fn compact(&self, io: &Io, segment_rows: usize, expire_before: u64) -> Result<bool> {
        let (s, shard) = (self, self.index);
        // holding the writer keeps deletes out while we read the sources
        let _writer = s.writer.lock().await;
        let (base, sources): (u64, Vec<(SegmentMeta, SegmentData)>) = {
            let d = s.data.read();
            let partitions: BTreeSet<i64> = d.sealed.iter().map(|x| x.meta.partition_id).collect();
            // the policy (`compaction::choose`) per partition; the first partition with work
            let chosen = partitions
                .into_iter()
                .map(|p| {
                    let of_p: Vec<&Sealed> = d
                        .sealed
                        .iter()
                        .filter(|x| x.meta.partition_id == p)
                        .collect();
                    let candidates: Vec<Candidate> = of_p
                        .iter()
                        .map(|x| Candidate {
                            id: x.meta.id,
                            rows: x.data.rows(),
                            deleted: x.data.rows() - x.data.live_at(expire_before),
                        })
                        .collect();
                    let ids = choose(&candidates, segment_rows);
                    ids.iter()
                        .filter_map(|id| of_p.iter().find(|x| x.meta.id == *id))
                        .map(|x| {
                            let mut data = x.data.clone();
                            data.expire(expire_before);
                            (x.meta.clone(), data)
                        })
                        .collect::<Vec<_>>()
                })
                .find(|c| !c.is_empty())
                .unwrap_or_default();
            (d.base, chosen)
        };
        if sources.is_empty() {
            return Ok(false);
        }
        let schema = self.schema.clone();
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
        let id = io.meta.alloc_ids(1).await?;
        let data_key = keys::segment_data(self.collection, id);
        if batch.num_rows() > 0 {
            let b = batch.clone();
            let bytes = tokio::task::spawn_blocking(move || encode_parquet(&b))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
            io.store.put(&data_key, Bytes::from(bytes)).await?;
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
            collection: self.collection,
            shard,
            sources: ids.clone(),
            target: target.clone(),
            base,
        };
        let mut garbage = match send_compaction(io, &commit).await {
            Outcome::Applied(g) => g,
            Outcome::Refused(e) => {
                if target.rows > 0 {
                    io.store.delete(&data_key).await?;
                }
                if let MetaError::StaleCommit(why) = &e {
                    // the catalog moved on without us (another owner flushed, or an earlier
                    // commit of ours went through unseen): start again from it
                    tracing::warn!(
                        collection = self.collection,
                        shard,
                        why,
                        "compaction refused; reloading the shard"
                    );
                    drop(_writer);
                    io.meta.refresh().await?;
                    if let Some(meta) = io.meta.snapshot().collections.get(&self.collection) {
                        self.load(io, meta).await?;
                    }
                }
                return Err(e.into());
            }
            Outcome::Unknown(e) => {
                tracing::warn!(collection = self.collection, shard, segment = id, error = %e, "compaction commit outcome unknown; keeping its file");
                return Err(e.into());
            }
        };
        // the sources' files are garbage once they left the catalog, whatever the answer said
        for (m, _) in &sources {
            garbage.push(m.data_key.clone());
            garbage.extend(m.deletes_key.clone());
            garbage.extend(m.index_files.values().cloned());
        }
        garbage.sort();
        garbage.dedup();
        {
            let mut d = s.data.write();
            d.sealed.retain(|x| !ids.contains(&x.meta.id));
            if batch.num_rows() > 0 {
                let mut data = SegmentData::default();
                data.append(batch, &self.schema, self.pk_index);
                d.sealed.push(Sealed {
                    meta: target.clone(),
                    data,
                    indexes: Default::default(),
                    persisted_deletes: 0,
                });
            }
        }
        for key in garbage {
            if let Err(e) = io.store.delete(&key).await {
                tracing::warn!(key, error = %e, "could not delete a compacted file");
            }
        }
        tracing::info!(collection = self.collection, shard, sources = ?ids, segment = id, rows = target.rows, "segments compacted");
        Ok(true)
    }
}

/// Sends `commit` until its outcome is known, or asks the catalog after the last try.
async fn send_compaction(io: &Io, commit: &CompactionCommit) -> Outcome {
    let mut last = None;
    for attempt in 0..COMMIT_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
        }
        match io.meta.commit_compaction(commit.clone()).await {
            Ok(garbage) => return Outcome::Applied(garbage),
            Err(e) if refused(&e) => return Outcome::Refused(e),
            Err(e) => {
                tracing::warn!(collection = commit.collection, shard = commit.shard, attempt, error = %e, "compaction commit unanswered; sending it again");
                last = Some(e);
            }
        }
    }
    let e = last.expect("tried");
    if let Err(refresh) = io.meta.refresh().await {
        tracing::warn!(error = %refresh, "catalog unreadable after a lost compaction commit");
        return Outcome::Unknown(e);
    }
    let snap = io.meta.snapshot();
    let Some(c) = snap.collections.get(&commit.collection) else {
        // dropped meanwhile: its files go with it
        return Outcome::Refused(e);
    };
    let listed = |id: i64| c.segments.iter().any(|m| m.id == id);
    let applied = if commit.target.rows > 0 {
        listed(commit.target.id)
    } else {
        !commit.sources.iter().any(|id| listed(*id))
    };
    if applied {
        Outcome::Applied(Vec::new())
    } else {
        // not listed now, but an unanswered request may still land
        Outcome::Unknown(e)
    }
}
