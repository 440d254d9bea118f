//! The compaction policy, and manual compactions (ManualCompaction, GetCompactionState).
//!
//! One rule decides what is merged, used by the shard owner's background compactor and by a
//! manual request alike: within one shard and partition, two or more small segments (under half
//! of `segment_rows`) are merged, and a segment with at least a fifth of its rows deleted is
//! rewritten. A manual compaction wakes the compactor (standalone; data nodes look every few
//! seconds) and records, per plan, the segments it will replace; it is complete once none of
//! them is in the catalog any more. Jobs are kept in memory by the process that took the
//! request (at most [`MAX_JOBS`]).

use std::collections::{BTreeMap, BTreeSet};

use quarry_meta::CollectionMeta;

use crate::error::invalid;
use crate::{Engine, EngineError, Result};

/// A segment with at least this share of deleted rows is rewritten.
pub(crate) const PURGE_RATIO: f64 = 0.2;
/// Manual compactions remembered per process (the oldest are forgotten first).
pub const MAX_JOBS: usize = 1024;

/// A sealed segment as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub id: i64,
    pub rows: usize,
    pub deleted: usize,
}

/// Of one shard's and partition's segments, the ids to compact now.
pub(crate) fn choose(segments: &[Candidate], segment_rows: usize) -> Vec<i64> {
    let small = (segment_rows / 2).max(1);
    let smalls: Vec<i64> = segments
        .iter()
        .filter(|c| c.rows < small)
        .map(|c| c.id)
        .collect();
    let mut chosen = if smalls.len() >= 2 {
        smalls
    } else {
        Vec::new()
    };
    for c in segments {
        let ratio = c.deleted as f64 / c.rows.max(1) as f64;
        if ratio >= PURGE_RATIO && !chosen.contains(&c.id) {
            chosen.push(c.id);
        }
    }
    chosen
}

/// What the policy would compact in a collection, by the catalog: one plan per shard and
/// partition that has work.
pub(crate) fn plans(meta: &CollectionMeta, segment_rows: usize) -> Vec<Vec<i64>> {
    let mut groups: BTreeMap<(u32, i64), Vec<Candidate>> = BTreeMap::new();
    for s in &meta.segments {
        groups
            .entry((s.shard, s.partition_id))
            .or_default()
            .push(Candidate {
                id: s.id,
                rows: s.rows as usize,
                deleted: s.deleted_rows as usize,
            });
    }
    groups
        .values()
        .map(|g| choose(g, segment_rows))
        .filter(|p| !p.is_empty())
        .collect()
}

/// A manual compaction: the collection and the segments each plan replaces.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    collection: i64,
    plans: Vec<Vec<i64>>,
}

/// How far a manual compaction got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionProgress {
    pub executing: usize,
    pub completed: usize,
}

impl CompactionProgress {
    pub fn done(&self) -> bool {
        self.executing == 0
    }
}

impl Engine {
    /// Starts a manual compaction of a collection: returns its id and number of plans.
    /// Clustering compaction (`major`) needs a clustering key, which Quarry does not have.
    pub async fn manual_compaction(
        &self,
        meta: &CollectionMeta,
        major: bool,
    ) -> Result<(i64, usize)> {
        if major {
            return Err(invalid(
                "clustering compaction is not supported: the collection has no clustering key",
            ));
        }
        let plans = plans(meta, self.options.segment_rows);
        let id = self.io.meta.alloc_ids(1).await?;
        let count = plans.len();
        {
            let mut jobs = self.compactions.lock();
            while jobs.len() >= MAX_JOBS {
                jobs.pop_first();
            }
            jobs.insert(
                id,
                Job {
                    collection: meta.id,
                    plans,
                },
            );
        }
        // the compactor runs now rather than at its next tick (where this process compacts)
        self.index_wakeup.notify_one();
        tracing::info!(collection = %meta.name, id, plans = count, "manual compaction");
        Ok((id, count))
    }

    /// The progress of a manual compaction this process started.
    pub async fn compaction_progress(&self, id: i64) -> Result<CompactionProgress> {
        let job = self.compactions.lock().get(&id).cloned().ok_or_else(|| {
            EngineError::InvalidArgument(format!(
                "compaction {id} is unknown here: compaction ids are kept in memory by the \
                 server that started them"
            ))
        })?;
        if let Err(e) = self.io.meta.refresh().await {
            tracing::warn!(error = %e, "catalog refresh failed; using the cached catalog");
        }
        let snap = self.io.meta.snapshot();
        let live: BTreeSet<i64> = snap
            .collections
            .get(&job.collection)
            .map(|c| c.segments.iter().map(|s| s.id).collect())
            .unwrap_or_default();
        let executing = job
            .plans
            .iter()
            .filter(|p| p.iter().any(|s| live.contains(s)))
            .count();
        Ok(CompactionProgress {
            executing,
            completed: job.plans.len() - executing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, rows: usize, deleted: usize) -> Candidate {
        Candidate { id, rows, deleted }
    }

    #[test]
    fn small_segments_merge_and_mostly_deleted_ones_are_rewritten() {
        // segment_rows 100: small means under 50 rows
        assert_eq!(
            choose(&[c(1, 10, 0)], 100),
            Vec::<i64>::new(),
            "one small alone"
        );
        assert_eq!(
            choose(&[c(1, 10, 0), c(2, 40, 0), c(3, 90, 0)], 100),
            [1, 2]
        );
        assert_eq!(choose(&[c(3, 90, 18), c(4, 90, 17)], 100), [3]);
        assert_eq!(choose(&[c(1, 10, 5), c(2, 10, 0)], 100), [1, 2]);
        assert!(choose(&[], 100).is_empty());
    }
}
