//! A shard's part of a read, over its growing and sealed segments: for every segment a filter
//! bitmap (the expression on live rows, or a key lookup for `pk in [...]`), then the vector
//! index (HNSW, IVF) with the bitmap as predicate where the segment has the index loaded,
//! exact search elsewhere. Only the segments of the partitions the plan names are read.

use std::sync::atomic::Ordering;

use quarry_expr::Expr;
use quarry_index::{
    brute_force, brute_force_packed, brute_force_sparse, prune_query, Hit, Metric, SearchParams,
};
use quarry_types::batch::ColumnReader;
use quarry_types::limits::{MAX_EF, MAX_TOPK};
use quarry_types::{CollectionSchema, Pk, Value};

use super::Shard;
use crate::group::{candidate_window, group_by, group_found, GroupKey, GroupPlan};
use crate::output::{empty_columns, gather};
use crate::plan::{Found, QueryPlan, SearchPlan, ShardAnswer};
use crate::segment::SegmentData;
use crate::{EngineError, Result};

impl Shard {
    /// Per query vector the best `topk + offset` hits of this shard's segments: the plan's
    /// index where a sealed segment has it loaded, exact search elsewhere. A grouping search
    /// gets `topk + offset` groups, each segment asked for more candidates until they fill.
    pub fn search(&self, plan: &SearchPlan, filter: Option<&Expr>) -> Result<Vec<Vec<Found>>> {
        let (input, fields, metric, index_id) =
            (&plan.input, &plan.fields[..], plan.metric, plan.index);
        // a worker gets plans checked by the proxy; saturating all the same
        let want = input.topk.saturating_add(input.offset).min(MAX_TOPK);
        let ranged = input.radius.is_some() || input.range_filter.is_some();
        // range search looks further and drops hits outside the range
        let fetch = if ranged {
            want.saturating_mul(4).max(want + 64).min(MAX_TOPK)
        } else {
            want
        };
        let schema = &self.schema;
        let pk_dt = schema.fields[self.pk_index].data_type;
        let mut per_query: Vec<Vec<Found>> = (0..input.nq()).map(|_| Vec::new()).collect();
        {
            let d = self.data.read();
            let segs: Vec<(&SegmentData, Option<&quarry_index::SegmentIndex>)> = d
                .segments(&plan.partition_ids)
                .into_iter()
                .map(|(seg, sealed)| {
                    let index = sealed
                        .zip(index_id)
                        .and_then(|(s, id)| s.indexes.get(&id))
                        .map(|i| i.as_ref());
                    (seg, index)
                })
                .collect();
            for (seg, index) in segs {
                if seg.live == 0 {
                    continue;
                }
                self.segments_read.fetch_add(1, Ordering::Relaxed);
                let keep = seg.matching(schema, filter);
                for (q, found) in per_query.iter_mut().enumerate() {
                    let query = match (input.sparse.get(q), input.vectors.get(q)) {
                        (Some(row), _) => Query::Sparse(row),
                        (None, Some(v)) => Query::Dense(v),
                        (None, None) => continue,
                    };
                    let data_type = schema.fields[plan.field_index].data_type;
                    let run = |k: usize| segment_hits(plan, data_type, seg, index, &keep, query, k);
                    let mut hits = match &plan.group {
                        None => run(fetch)?,
                        Some(g) => dig(run, g, want, metric, |row| group_key(schema, seg, g, row))?,
                    };
                    if ranged {
                        hits.retain(|h| {
                            in_range(metric, h.score, input.radius, input.range_filter)
                        });
                    }
                    for hit in hits {
                        let values = values_of(schema, fields, seg, hit.row);
                        found.push(Found {
                            pk: pk_of(seg, self.pk_index, pk_dt, hit.row),
                            score: hit.score,
                            values,
                        });
                    }
                }
            }
        }
        for hits in per_query.iter_mut() {
            hits.sort_by(|a, b| metric.cmp(a.score, b.score).then_with(|| a.pk.cmp(&b.pk)));
            match &plan.group {
                None => hits.truncate(want),
                Some(g) => {
                    let (groups, _) = group_found(std::mem::take(hits), g, want);
                    *hits = groups.into_iter().flatten().collect();
                }
            }
        }
        Ok(per_query)
    }

    /// This shard's rows matching the filter in key order, the first `offset + limit`; or
    /// their count.
    pub fn query(&self, plan: &QueryPlan, filter: Option<&Expr>) -> ShardAnswer {
        let schema = &self.schema;
        let pk_dt = schema.fields[self.pk_index].data_type;
        let d = self.data.read();
        let segs: Vec<&SegmentData> = d
            .segments(&plan.partition_ids)
            .into_iter()
            .map(|(seg, _)| seg)
            .filter(|seg| seg.live > 0)
            .collect();
        self.segments_read
            .fetch_add(segs.len() as u64, Ordering::Relaxed);
        let mut found: Vec<(Pk, usize, u32)> = Vec::new();
        for (si, seg) in segs.iter().enumerate() {
            for_matching(seg, schema, self.pk_index, filter, &mut |row| {
                found.push((pk_of(seg, self.pk_index, pk_dt, row), si, row))
            });
        }
        if plan.count_only {
            return ShardAnswer::Count(found.len() as u64);
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let end = plan.input.limit.map_or(found.len(), |l| {
            plan.input.offset.saturating_add(l).min(found.len())
        });
        found.truncate(end);
        ShardAnswer::Rows(
            found
                .into_iter()
                .map(|(pk, si, row)| Found {
                    pk,
                    score: 0.0,
                    values: values_of(schema, &plan.fields, segs[si], row),
                })
                .collect(),
        )
    }
}

/// One query vector: dense (`f32` form) or sparse (byte form).
#[derive(Clone, Copy)]
enum Query<'a> {
    Dense(&'a [f32]),
    Sparse(&'a [u8]),
}

/// The best `k` hits of one segment for one query vector, best first: its index when it has
/// one loaded, exact search over its batches otherwise.
fn segment_hits(
    plan: &SearchPlan,
    data_type: quarry_types::DataType,
    seg: &SegmentData,
    index: Option<&quarry_index::SegmentIndex>,
    keep: &[bool],
    query: Query<'_>,
    k: usize,
) -> Result<Vec<Hit>> {
    let params = SearchParams {
        ef: plan.input.ef.map(|e| e.clamp(k, MAX_EF.max(k))),
        nprobe: plan.input.nprobe,
        drop_ratio_search: plan.input.drop_ratio_search,
    };
    let keep_any = |row: u32| keep.get(row as usize).copied().unwrap_or(false);
    let query = match query {
        Query::Sparse(q) => {
            let mut hits = match index {
                Some(index) => index.search_sparse(q, k, &params, &keep_any)?,
                None => {
                    let pruned = prune_query(q, params.drop_ratio_search.unwrap_or(0.0));
                    let mut all = Vec::new();
                    for (b, batch) in seg.batches.iter().enumerate() {
                        let start = seg.starts[b];
                        let reader = ColumnReader::new(batch.column(plan.field_index), data_type);
                        let keep_row = |r: u32| keep[(start + r) as usize];
                        let n = batch.num_rows();
                        let hits =
                            brute_force_sparse(n, |i| reader.sparse(i), &pruned, k, &keep_row);
                        all.extend(hits.into_iter().map(|h| Hit {
                            row: h.row + start,
                            score: h.score,
                        }));
                    }
                    all
                }
            };
            hits.sort_by(|a, b| plan.metric.cmp(a.score, b.score).then(a.row.cmp(&b.row)));
            hits.truncate(k);
            return Ok(hits);
        }
        Query::Dense(q) => q,
    };
    let mut hits = match index {
        Some(index) => index.search(query, k, &params, &keep_any)?,
        None => {
            let mut all = Vec::new();
            for (b, batch) in seg.batches.iter().enumerate() {
                let start = seg.starts[b];
                let keep_row = |r: u32| keep[(start + r) as usize];
                let hits = match ColumnReader::new(batch.column(plan.field_index), data_type) {
                    ColumnReader::Vector { dim, values, .. } => {
                        brute_force(values, dim, plan.metric, query, k, &keep_row)
                    }
                    ColumnReader::Packed {
                        data_type,
                        dim,
                        values,
                        ..
                    } => {
                        brute_force_packed(data_type, values, dim, plan.metric, query, k, &keep_row)
                    }
                    _ => return Err(EngineError::Internal("not a vector column".into())),
                };
                for mut h in hits {
                    h.row += start;
                    all.push(h);
                }
            }
            all
        }
    };
    hits.sort_by(|a, b| plan.metric.cmp(a.score, b.score).then(a.row.cmp(&b.row)));
    hits.truncate(k);
    Ok(hits)
}

/// A segment's hits for a grouping search: candidates asked for in growing windows until
/// `groups` groups are filled under the plan's rule, the segment runs out of candidates, or
/// the window reaches its bound ([`candidate_window`]).
fn dig(
    run: impl Fn(usize) -> Result<Vec<Hit>>,
    g: &GroupPlan,
    groups: usize,
    metric: Metric,
    key: impl Fn(u32) -> GroupKey,
) -> Result<Vec<Hit>> {
    let (mut k, bound) = candidate_window(groups, g.size);
    loop {
        let hits = run(k)?;
        let exhausted = hits.len() < k;
        let (found, met) = group_by(hits, |h: &Hit| key(h.row), groups, g.size, g.strict);
        if met || exhausted || k >= bound {
            let mut out: Vec<Hit> = found.into_iter().flatten().collect();
            out.sort_by(|a, b| metric.cmp(a.score, b.score));
            return Ok(out);
        }
        k = k.saturating_mul(2).min(bound);
    }
}

/// The group key of a segment row.
fn group_key(schema: &CollectionSchema, seg: &SegmentData, g: &GroupPlan, row: u32) -> GroupKey {
    let (b, r) = seg.locate(row);
    let dt = schema.fields[g.field].data_type;
    GroupKey::of(&ColumnReader::new(seg.batches[b].column(g.field), dt).get(r))
}

fn in_range(metric: Metric, score: f32, radius: Option<f32>, range_filter: Option<f32>) -> bool {
    if metric.higher_is_better() {
        radius.is_none_or(|r| score > r) && range_filter.is_none_or(|f| score <= f)
    } else {
        radius.is_none_or(|r| score < r) && range_filter.is_none_or(|f| score >= f)
    }
}

fn pk_of(seg: &SegmentData, pk_index: usize, dt: quarry_types::DataType, row: u32) -> Pk {
    let (b, r) = seg.locate(row);
    match ColumnReader::new(seg.batches[b].column(pk_index), dt).get(r) {
        Value::Int(i) => Pk::Int(i),
        Value::Str(s) => Pk::Str(s),
        _ => unreachable!(),
    }
}

fn values_of(
    schema: &CollectionSchema,
    fields: &[usize],
    seg: &SegmentData,
    row: u32,
) -> Vec<Value> {
    let mut cols = empty_columns(schema, fields);
    gather(schema, fields, seg, row, &mut cols);
    cols.into_iter()
        .map(|mut c| c.values.pop().unwrap_or(Value::Null))
        .collect()
}

/// Calls `f` for each live row of `seg` matching `filter`, using the key map for `pk in [..]`.
fn for_matching(
    seg: &SegmentData,
    schema: &CollectionSchema,
    pk_index: usize,
    filter: Option<&Expr>,
    f: &mut dyn FnMut(u32),
) {
    if let Some(values) = filter.and_then(|e| e.pk_lookup(&schema.fields[pk_index].name)) {
        let mut rows: Vec<u32> = values
            .iter()
            .filter_map(|v| match v {
                Value::Int(i) => Some(Pk::Int(*i)),
                Value::Str(s) => Some(Pk::Str(s.clone())),
                _ => None,
            })
            .flat_map(|pk| seg.rows_of(&pk).to_vec())
            .filter(|r| !seg.deleted[*r as usize])
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows.into_iter().for_each(f);
        return;
    }
    for (row, keep) in seg.matching(schema, filter).into_iter().enumerate() {
        if keep {
            f(row as u32);
        }
    }
}
