//! A collection's runtime: its schema and shards. Writes are routed to a shard by the hash of
//! the primary key; reads fan out to every shard (here, or through the [`Router`] to the
//! workers serving them) and the per-shard answers are merged.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use quarry_expr::Expr;
use quarry_index::Metric;
use quarry_meta::CollectionMeta;
use quarry_storage::LogStore;
use quarry_types::limits::MAX_TOPK;
use quarry_types::record::LogRecord;
use quarry_types::{CollectionSchema, ConsistencyLevel};

use crate::group::{group_found, GroupPlan};
use crate::plan::{Found, ShardAnswer, ShardRead};
use crate::shard::{Shard, ShardSpec};
use crate::{EngineError, Result, Router};

pub(crate) struct CollectionRt {
    pub id: i64,
    pub topic: String,
    pub schema: CollectionSchema,
    pub pk_index: usize,
    pub shards: Vec<Arc<Shard>>,
}

impl CollectionRt {
    /// The runtime of a catalog entry: its shards empty, at their checkpoints.
    pub fn new(meta: &CollectionMeta, load_indexes: bool, only_loaded: bool) -> Self {
        let pk_index = meta
            .schema
            .fields
            .iter()
            .position(|f| f.is_primary_key)
            .expect("validated schema");
        let topic = meta.topic();
        let shards = (0..meta.shards)
            .map(|s| {
                Arc::new(Shard::new(ShardSpec {
                    collection: meta.id,
                    index: s,
                    topic: &topic,
                    schema: &meta.schema,
                    pk_index,
                    checkpoint: meta.checkpoints.get(s as usize).copied().unwrap_or(0),
                    load_indexes,
                    only_loaded,
                }))
            })
            .collect();
        Self {
            id: meta.id,
            topic,
            schema: meta.schema.clone(),
            pk_index,
            shards,
        }
    }

    pub fn shard(&self, shard: u32) -> Result<&Arc<Shard>> {
        self.shards
            .get(shard as usize)
            .ok_or_else(|| EngineError::Internal(format!("no shard {shard}")))
    }

    /// One past the last offset this process appended to each shard.
    pub fn acked(&self) -> Vec<u64> {
        self.shards
            .iter()
            .map(|s| s.acked.load(Ordering::Acquire))
            .collect()
    }

    /// Live rows held in memory of the given partitions, all shards.
    pub fn live_rows(&self, partitions: &[i64]) -> u64 {
        self.shards.iter().map(|s| s.live_rows(partitions)).sum()
    }

    /// Segments the reads of this process looked at so far, all shards.
    pub fn segments_read(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.segments_read.load(Ordering::Relaxed))
            .sum()
    }

    /// The offsets a read must see. Every level sees this proxy's own acknowledged writes
    /// (Session); Strong also sees everyone else's, through a barrier record appended to each
    /// shard: its offset comes from the log's own acknowledgement, never from the broker's
    /// "latest offset" (which tansu 0.6 reports wrong).
    pub async fn read_barrier(
        &self,
        log: &dyn LogStore,
        meta: &CollectionMeta,
    ) -> Result<Vec<u64>> {
        let mut out = self.acked();
        if meta.consistency == ConsistencyLevel::Strong {
            let barrier = Bytes::from(LogRecord::new(0, vec![], None).encode());
            for (shard, slot) in out.iter_mut().enumerate() {
                let offset = log
                    .append(&self.topic, shard as u32, barrier.clone())
                    .await?;
                *slot = (*slot).max(offset + 1);
            }
        }
        Ok(out)
    }

    /// Runs a read on every shard: through the router to the workers (proxies, which send the
    /// filter as text), or here with `filter`, the read's filter as the caller compiled it.
    pub async fn read(
        self: &Arc<Self>,
        log: &dyn LogStore,
        router: Option<&Arc<dyn Router>>,
        meta: &CollectionMeta,
        read: ShardRead,
        filter: Option<Expr>,
    ) -> Result<Vec<ShardAnswer>> {
        let at = self.read_point(log, router, meta).await?;
        self.read_at(router, meta, read, filter, &at).await
    }

    /// Where reads must start: on a proxy the offsets every shard must have applied (one
    /// barrier for all reads of one request); here, nothing (local shards are current).
    pub async fn read_point(
        &self,
        log: &dyn LogStore,
        router: Option<&Arc<dyn Router>>,
        meta: &CollectionMeta,
    ) -> Result<Option<Vec<u64>>> {
        match router {
            Some(_) => Ok(Some(self.read_barrier(log, meta).await?)),
            None => Ok(None),
        }
    }

    /// [`CollectionRt::read`] from a read point taken before.
    pub async fn read_at(
        self: &Arc<Self>,
        router: Option<&Arc<dyn Router>>,
        meta: &CollectionMeta,
        read: ShardRead,
        filter: Option<Expr>,
        at: &Option<Vec<u64>>,
    ) -> Result<Vec<ShardAnswer>> {
        let read = with_ttl(meta, read);
        if let (Some(router), Some(min_offsets)) = (router, at) {
            return router.read(meta, read, min_offsets.clone()).await;
        }
        let all: Vec<u32> = (0..self.shards.len() as u32).collect();
        Ok(vec![
            self.clone().read_local(all, read, Some(filter)).await?,
        ])
    }

    /// Runs a read on the given shards held here, on the read pool; one merged answer.
    /// `compiled` is the read's filter when the caller compiled it already (`None`: a worker,
    /// which gets it as text, compiles it here).
    pub async fn read_local(
        self: Arc<Self>,
        shards: Vec<u32>,
        read: ShardRead,
        compiled: Option<Option<Expr>>,
    ) -> Result<ShardAnswer> {
        // the request's span (its request id) follows the work onto the blocking pool
        let span = tracing::Span::current();
        crate::pool::offload(move || {
            let _span = span.enter();
            let filter = match compiled {
                Some(filter) => filter,
                None => {
                    let (text, templates) = match &read {
                        ShardRead::Search(plan) => (&plan.input.filter, &plan.input.templates),
                        ShardRead::Query(plan) => (&plan.input.filter, &plan.input.templates),
                    };
                    quarry_expr::prepare(text, &self.schema, templates)?
                }
            };
            let held = shards.iter().filter_map(|s| self.shards.get(*s as usize));
            match &read {
                ShardRead::Search(plan) => {
                    let nq = plan.input.nq();
                    let mut parts = vec![(0..nq).map(|_| Vec::new()).collect()];
                    for shard in held {
                        parts.push(shard.search(plan, filter.as_ref())?);
                    }
                    let input = &plan.input;
                    // a worker gets plans checked by the proxy; saturating all the same
                    let want = input.topk.saturating_add(input.offset).min(MAX_TOPK);
                    Ok(ShardAnswer::Search(merge_search(
                        parts,
                        plan.metric,
                        want,
                        0,
                        want,
                        plan.group.as_ref(),
                    )))
                }
                ShardRead::Query(plan) => {
                    let answers: Vec<ShardAnswer> =
                        held.map(|s| s.query(plan, filter.as_ref())).collect();
                    if plan.count_only {
                        return Ok(ShardAnswer::Count(count(&answers)));
                    }
                    let mut rows = rows(answers);
                    let end = plan.input.limit.map_or(rows.len(), |l| {
                        plan.input.offset.saturating_add(l).min(rows.len())
                    });
                    rows.truncate(end);
                    Ok(ShardAnswer::Rows(rows))
                }
            }
        })
        .await
        .map_err(EngineError::Internal)?
    }
}

/// The sum of the counts among `answers`.
pub(crate) fn count(answers: &[ShardAnswer]) -> u64 {
    answers
        .iter()
        .map(|a| if let ShardAnswer::Count(n) = a { *n } else { 0 })
        .sum()
}

/// The rows among `answers`, in key order.
pub(crate) fn rows(answers: Vec<ShardAnswer>) -> Vec<Found> {
    let mut rows: Vec<Found> = answers
        .into_iter()
        .flat_map(|a| {
            if let ShardAnswer::Rows(r) = a {
                r
            } else {
                vec![]
            }
        })
        .collect();
    rows.sort_by(|a, b| a.pk.cmp(&b.pk));
    rows
}

/// Merges per-part hit lists: the best `want` by score (ties by key), then skips `offset`
/// and keeps `topk`. A grouping search counts groups instead of hits (`group.rs`).
pub(crate) fn merge_search(
    parts: Vec<Vec<Vec<Found>>>,
    metric: Metric,
    want: usize,
    offset: usize,
    topk: usize,
    group: Option<&GroupPlan>,
) -> Vec<Vec<Found>> {
    let queries = parts.iter().map(|p| p.len()).max().unwrap_or(0);
    let mut out: Vec<Vec<Found>> = (0..queries).map(|_| Vec::new()).collect();
    for part in parts {
        for (q, hits) in part.into_iter().enumerate() {
            out[q].extend(hits);
        }
    }
    for hits in out.iter_mut() {
        hits.sort_by(|a, b| metric.cmp(a.score, b.score).then_with(|| a.pk.cmp(&b.pk)));
        match group {
            None => {
                hits.truncate(want);
                hits.drain(..offset.min(hits.len()));
                hits.truncate(topk);
            }
            Some(g) => {
                let (groups, _) = group_found(std::mem::take(hits), g, want);
                *hits = groups
                    .into_iter()
                    .skip(offset)
                    .take(topk)
                    .flatten()
                    .collect();
            }
        }
    }
    out
}

/// The cut-off of a collection's time to live (`collection.ttl.seconds`): rows written before
/// this time (ms since the Unix epoch) are expired; 0 when rows never expire.
pub(crate) fn expire_before(meta: &CollectionMeta) -> u64 {
    // stored properties were checked when set: one that does not parse expires nothing
    let Ok(Some(ttl)) = quarry_types::schema::ttl_seconds(&meta.properties) else {
        return 0;
    };
    // at least 1 (0 is "none"): a time to live longer than the clock's age expires nothing
    quarry_types::record::now_ms()
        .saturating_sub(ttl.saturating_mul(1000))
        .max(1)
}

/// A read of a collection with a time to live leaves out the rows written longer ago than
/// that: the cut-off is taken once for every shard of the read, here unless the request
/// took it already (a request of several reads takes one for all of them).
fn with_ttl(meta: &CollectionMeta, mut read: ShardRead) -> ShardRead {
    let at = match &mut read {
        ShardRead::Search(p) => &mut p.expire_before_ms,
        ShardRead::Query(p) => &mut p.expire_before_ms,
    };
    if *at == 0 {
        *at = expire_before(meta);
    }
    read
}
