//! A shard's part of a read, over its growing and sealed segments. The segments are taken
//! under the shard's lock as views (shared batches, a copy of the deleted rows when there are
//! any, the loaded index) and the lock is released before any work, so writes never wait for
//! a search. Then, on the CPU pool ([`crate::pool`]): for every segment a filter bitmap
//! (column by column, `quarry-expr`), once for all query vectors; for every (segment, query
//! vector) pair its hits — the vector index (HNSW, IVF) with the bitmap as predicate, or exact
//! search where the segment has no index or where the filter leaves so few rows that scanning
//! them costs less than walking the graph ([`exact_is_cheaper`]). A dense range search's
//! bounds join the predicate (each visited row scored as the exact search scores it), so the
//! rows better than `range_filter` (an iterator's earlier pages) are walked past rather than
//! taking places of the top-k. Output fields are read for the shard's final top-k only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use quarry_expr::Expr;
use quarry_index::text::bm25::{brute_force_bm25, Bm25Query, Bm25Stats};
use quarry_index::{
    brute_force, brute_force_packed, brute_force_sparse, prune_query, Hit, Metric, RowScorer,
    SearchParams, SegmentIndex,
};
use quarry_types::batch::ColumnReader;
use quarry_types::limits::{MAX_EF, MAX_TOPK};
use quarry_types::{CollectionSchema, Pk, Value};
use rayon::prelude::*;

use super::Shard;
use crate::group::{candidate_window, group_by, group_found, GroupKey, GroupPlan};
use crate::plan::{Found, QueryPlan, SearchPlan, ShardAnswer};
use crate::segment::{SegmentData, SegmentView};
use crate::{EngineError, Result};

/// A segment as one read sees it.
struct Part {
    view: SegmentView,
    index: Option<Arc<SegmentIndex>>,
    /// the sealed segment's scalar indexes, which answer what of the filter they can
    scalars: Vec<Arc<SegmentIndex>>,
}

/// The rows of a segment a read's filter lets through: `None` is every row.
struct Pass {
    keep: Option<Vec<bool>>,
    count: usize,
}

impl Pass {
    fn of(part: &Part, schema: &CollectionSchema, filter: Option<&Expr>) -> Self {
        let keep = part.view.matching_indexed(schema, filter, &part.scalars);
        let count = keep
            .as_ref()
            .map_or(part.view.live, |k| k.iter().filter(|x| **x).count());
        Self { keep, count }
    }
}

/// One hit of a segment before the shard's merge: its output values are read afterwards, for
/// the hits that stay only.
struct Cand {
    pk: Pk,
    score: f32,
    part: usize,
    row: u32,
}

impl Shard {
    /// The live segments of `partitions` as views, with their index `index_id` where loaded;
    /// the lock is held for this only.
    fn parts(&self, partitions: &[i64], index_id: Option<i64>, expire_before: u64) -> Vec<Part> {
        let parts: Vec<Part> = {
            let d = self.data.read();
            d.segments(partitions)
                .into_iter()
                .filter(|(seg, _)| seg.live > 0)
                .map(|(seg, sealed)| Part {
                    view: seg.view_at(expire_before),
                    index: sealed
                        .zip(index_id)
                        .and_then(|(s, id)| s.indexes.get(&id).cloned()),
                    scalars: sealed.map(|s| s.scalar_indexes()).unwrap_or_default(),
                })
                .filter(|p| p.view.live > 0)
                .collect()
        };
        self.segments_read
            .fetch_add(parts.len() as u64, Ordering::Relaxed);
        parts
    }

    /// Per query vector the best `topk + offset` hits of this shard's segments: the plan's
    /// index where a sealed segment has it loaded, exact search elsewhere. A grouping search
    /// gets `topk + offset` groups, each segment asked for more candidates until they fill.
    pub fn search(&self, plan: &SearchPlan, filter: Option<&Expr>) -> Result<Vec<Vec<Found>>> {
        let input = &plan.input;
        // a worker gets plans checked by the proxy; saturating all the same
        let want = input.topk.saturating_add(input.offset).min(MAX_TOPK);
        let ranged = input.radius.is_some() || input.range_filter.is_some();
        // sparse queries search their inverted index whatever the filter (the plan below
        // weighs graph walks against scans)
        let sparse = !input.sparse.is_empty();
        // a dense range search gives the index its bounds as part of the predicate, so the
        // rows better than `range_filter` (an iterator's pages so far) are walked past, not
        // counted; a sparse one looks further and drops hits outside the range
        let window = (ranged && !sparse).then_some(Window {
            radius: input.radius,
            range_filter: input.range_filter,
        });
        let fetch = if ranged && sparse {
            want.saturating_mul(4).max(want + 64).min(MAX_TOPK)
        } else {
            want
        };
        let schema = &self.schema;
        let pk_dt = schema.fields[self.pk_index].data_type;
        let data_type = schema.fields[plan.field_index].data_type;
        let nq = input.nq();
        let parts = self.parts(&plan.partition_ids, plan.index, plan.expire_before_ms);
        // a full-text search: the queries weighted by the searched rows' statistics
        let bm25: Vec<Bm25Query> = match plan.bm25 {
            None => vec![],
            Some(knobs) => {
                let stats = crate::pool::run(|| bm25_stats(&parts, plan, &input.sparse));
                input
                    .sparse
                    .iter()
                    .map(|q| Bm25Query::new(q, &stats, knobs))
                    .collect()
            }
        };
        // one (segment, query vector) pair: its hits, by graph or by scan, counting the nodes
        // a graph search visits in `visits`
        let task =
            |part: &Part, pass: &Pass, q: usize, scan: bool, visits: Option<&AtomicUsize>| {
                if pass.count == 0 {
                    return Ok(Vec::new());
                }
                let index = part.index.as_deref().filter(|_| !scan);
                let keep = pass.keep.as_deref();
                let query = match (input.sparse.get(q), input.vectors.get(q)) {
                    (Some(_), _) if !bm25.is_empty() => Query::Bm25(&bm25[q]),
                    (Some(row), _) => Query::Sparse(row),
                    (None, Some(v)) => Query::Dense(v),
                    (None, None) => return Ok(Vec::new()),
                };
                let run = |k: usize| {
                    segment_hits(
                        plan,
                        data_type,
                        &part.view,
                        index,
                        Rows {
                            keep,
                            visits,
                            window,
                        },
                        query,
                        k,
                    )
                };
                let mut hits = match &plan.group {
                    None => run(fetch)?,
                    Some(g) => dig(run, g, want, plan.metric, |row| {
                        group_key(schema, &part.view, g, row)
                    })?,
                };
                if ranged {
                    hits.retain(|h| {
                        in_range(plan.metric, h.score, input.radius, input.range_filter)
                    });
                }
                Ok::<_, EngineError>(hits)
            };
        let (parts, found) = crate::pool::run(|| {
            let passes: Vec<Pass> = parts
                .par_iter()
                .map(|p| Pass::of(p, schema, filter))
                .collect();
            // how each segment is searched; a filtered graph search of the first query vector
            // tells, by the nodes it visits, whether the others should scan instead
            let probes: Vec<(bool, Option<Result<Vec<Hit>>>)> = parts
                .par_iter()
                .zip(&passes)
                .map(|(part, pass)| {
                    if part.index.is_none() || pass.keep.is_none() || sparse {
                        return (part.index.is_none(), None);
                    }
                    if exact_is_cheaper(pass, part.view.live, input.ef) {
                        return (true, None);
                    }
                    if nq == 1 {
                        return (false, None);
                    }
                    let visits = AtomicUsize::new(0);
                    let hits = task(part, pass, 0, false, Some(&visits));
                    let visits = visits.load(Ordering::Relaxed);
                    (visits.saturating_mul(VISIT_COST) > pass.count, Some(hits))
                })
                .collect();
            let mut found: Vec<Result<Vec<Hit>>> = (0..parts.len() * nq)
                .into_par_iter()
                .map(|t| {
                    let (p, q) = (t / nq, t % nq);
                    if q == 0 && probes[p].1.is_some() {
                        return Ok(Vec::new()); // answered by the probe
                    }
                    task(&parts[p], &passes[p], q, probes[p].0, None)
                })
                .collect();
            for (p, (_, probe)) in probes.into_iter().enumerate() {
                if let Some(hits) = probe {
                    found[p * nq] = hits;
                }
            }
            (parts, found)
        });
        let mut per_query: Vec<Vec<Cand>> = (0..nq).map(|_| Vec::new()).collect();
        for (t, hits) in found.into_iter().enumerate() {
            let (part, q) = (t / nq, t % nq);
            for h in hits? {
                per_query[q].push(Cand {
                    pk: pk_of(&parts[part].view, self.pk_index, pk_dt, h.row),
                    score: h.score,
                    part,
                    row: h.row,
                });
            }
        }
        let metric = plan.metric;
        let found = |c: Cand| Found {
            values: values_of(schema, &plan.fields, &parts[c.part].view, c.row),
            pk: c.pk,
            score: c.score,
        };
        Ok(per_query
            .into_iter()
            .map(|mut hits| {
                hits.sort_by(|a, b| metric.cmp(a.score, b.score).then_with(|| a.pk.cmp(&b.pk)));
                match &plan.group {
                    None => hits.into_iter().take(want).map(found).collect(),
                    Some(g) => {
                        let all: Vec<Found> = hits.into_iter().map(found).collect();
                        let (groups, _) = group_found(all, g, want);
                        groups.into_iter().flatten().collect()
                    }
                }
            })
            .collect())
    }

    /// This shard's rows matching the filter in key order, the first `offset + limit`; or
    /// their count.
    pub fn query(&self, plan: &QueryPlan, filter: Option<&Expr>) -> ShardAnswer {
        let schema = &self.schema;
        let pk_dt = schema.fields[self.pk_index].data_type;
        let pk_name = &schema.fields[self.pk_index].name;
        // `pk in [..]`: the rows by key, looked up under the lock (the key map is not shared)
        let lookup = filter.and_then(|e| e.pk_lookup(pk_name));
        let (parts, by_key): (Vec<Part>, Vec<Option<Vec<u32>>>) = {
            let d = self.data.read();
            d.segments(&plan.partition_ids)
                .into_iter()
                .filter(|(seg, _)| seg.live > 0)
                .map(|(seg, sealed)| {
                    let expire = plan.expire_before_ms;
                    let rows = lookup
                        .as_ref()
                        .map(|values| rows_of_keys(seg, values, expire));
                    (
                        Part {
                            view: seg.view_at(expire),
                            index: None,
                            scalars: sealed.map(|s| s.scalar_indexes()).unwrap_or_default(),
                        },
                        rows,
                    )
                })
                .unzip()
        };
        self.segments_read
            .fetch_add(parts.len() as u64, Ordering::Relaxed);
        let matched: Vec<Vec<u32>> = crate::pool::run(|| {
            parts
                .par_iter()
                .zip(by_key.into_par_iter())
                .map(|(part, rows)| match rows {
                    Some(rows) => rows,
                    None => match part.view.matching_indexed(schema, filter, &part.scalars) {
                        None => (0..part.view.live as u32).collect(),
                        Some(keep) => (0..keep.len() as u32)
                            .filter(|r| keep[*r as usize])
                            .collect(),
                    },
                })
                .collect()
        });
        let mut found: Vec<(Pk, usize, u32)> = Vec::new();
        for (si, rows) in matched.into_iter().enumerate() {
            for row in rows {
                found.push((pk_of(&parts[si].view, self.pk_index, pk_dt, row), si, row));
            }
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
                    values: values_of(schema, &plan.fields, &parts[si].view, row),
                })
                .collect(),
        )
    }
}

/// Whether scanning the rows a filter lets through costs less than the graph would: a
/// filtered graph search visits about `ef / pass rate` nodes at random places, a scan the
/// passing rows one after another (several times cheaper each).
fn exact_is_cheaper(pass: &Pass, rows: usize, ef: Option<usize>) -> bool {
    if pass.keep.is_none() {
        return false;
    }
    let ef = ef.unwrap_or(64).max(16) as f64;
    let (count, rows) = (pass.count as f64, rows.max(1) as f64);
    count * count <= EXACT_FACTOR * ef * rows
}

/// See [`exact_is_cheaper`]: the cost of a graph visit in scanned rows, times the visits per
/// `ef`; measured on GloVe-6B-50d (`make bench`).
const EXACT_FACTOR: f64 = 128.0;

/// What visiting one node of a graph costs, in rows of a scan (a distance at a random place
/// and the predicate, against one in a row): a filtered search whose first query vector visits
/// more than the passing rows over this scans for the others. A filter whose passing rows lie
/// away from the queries (rare words for common ones) makes the graph visit most of itself.
const VISIT_COST: usize = 4;

/// The rows a segment search may answer (`None`: all), where a graph search counts the
/// nodes it visits, and a dense range search's bounds.
#[derive(Clone, Copy)]
struct Rows<'a> {
    keep: Option<&'a [bool]>,
    visits: Option<&'a AtomicUsize>,
    window: Option<Window>,
}

/// The bounds of a range search (`radius`, `range_filter`; see [`in_range`]).
#[derive(Clone, Copy)]
struct Window {
    radius: Option<f32>,
    range_filter: Option<f32>,
}

/// Whether a segment row's vector scores inside `window` for `query`: its score computed as
/// the exact search computes it.
fn in_window(
    seg: &SegmentView,
    readers: &[ColumnReader<'_>],
    scorer: &RowScorer,
    metric: Metric,
    window: Window,
    row: u32,
) -> bool {
    row_score(seg, readers, scorer, row)
        .is_some_and(|s| in_range(metric, s, window.radius, window.range_filter))
}

/// A segment row's score for the scorer's query, as the exact search computes it.
fn row_score(
    seg: &SegmentView,
    readers: &[ColumnReader<'_>],
    scorer: &RowScorer,
    row: u32,
) -> Option<f32> {
    let (b, r) = seg.locate(row);
    match &readers[b] {
        ColumnReader::Vector { dim, values, .. } => {
            values.get(r * dim..(r + 1) * dim).map(|v| scorer.dense(v))
        }
        ColumnReader::Packed {
            data_type,
            width,
            values,
            ..
        } => values
            .get(r * width..(r + 1) * width)
            .map(|v| scorer.packed(*data_type, v)),
        _ => None,
    }
}

/// An exact search of one batch's sparse rows: its column, its row count and the rows it may
/// answer, to its hits.
type BatchScan<'s> = dyn Fn(&ColumnReader<'_>, usize, &dyn Fn(u32) -> bool) -> Vec<Hit> + 's;

/// One query vector: dense (`f32` form), sparse (byte form) or an analyzed text weighted for
/// BM25.
#[derive(Clone, Copy)]
enum Query<'a> {
    Dense(&'a [f32]),
    Sparse(&'a [u8]),
    Bm25(&'a Bm25Query),
}

/// The BM25 statistics of the searched segments for the query rows' tokens: from a sealed
/// segment's index where loaded, from its rows otherwise. Deleted rows count, as in the
/// index (they leave with compaction).
fn bm25_stats(parts: &[Part], plan: &SearchPlan, queries: &[Vec<u8>]) -> Bm25Stats {
    let per_part: Vec<Bm25Stats> = parts
        .par_iter()
        .map(|part| {
            let mut s = Bm25Stats::for_queries(queries.iter().map(Vec::as_slice));
            match &part.index {
                Some(index) => index.bm25_stats(&mut s),
                None => {
                    for batch in &part.view.batches {
                        let reader = ColumnReader::new(
                            batch.column(plan.field_index),
                            quarry_types::DataType::SparseFloatVector,
                        );
                        for i in 0..batch.num_rows() {
                            s.add_row(reader.sparse(i));
                        }
                    }
                }
            }
            s
        })
        .collect();
    let mut all = Bm25Stats::for_queries(queries.iter().map(Vec::as_slice));
    for s in &per_part {
        all.merge(s);
    }
    all
}

/// The best `k` hits of one segment for one query vector, best first: its index when it has
/// one loaded, exact search over its batches otherwise.
fn segment_hits(
    plan: &SearchPlan,
    data_type: quarry_types::DataType,
    seg: &SegmentView,
    index: Option<&SegmentIndex>,
    rows: Rows<'_>,
    query: Query<'_>,
    k: usize,
) -> Result<Vec<Hit>> {
    let Rows {
        keep,
        visits,
        window,
    } = rows;
    let params = SearchParams {
        ef: plan.input.ef.map(|e| e.clamp(k, MAX_EF.max(k))),
        nprobe: plan.input.nprobe,
        drop_ratio_search: plan.input.drop_ratio_search,
        refine_k: plan.input.refine_k,
    };
    // the predicate of a filtered index search (counting the nodes a graph visits)
    let keep_row = |row: u32| {
        if let Some(v) = visits {
            v.fetch_add(1, Ordering::Relaxed);
        }
        keep.is_none_or(|k| k.get(row as usize).copied().unwrap_or(false))
    };
    // sparse rows scanned batch by batch: `scan(reader, rows, keep)` gives a batch's hits
    let scan_sparse = |scan: &BatchScan<'_>| {
        let mut all = Vec::new();
        for (b, batch) in seg.batches.iter().enumerate() {
            let start = seg.start(b);
            let reader = ColumnReader::new(batch.column(plan.field_index), data_type);
            let keep_row = |r: u32| keep.is_none_or(|k| k[(start + r) as usize]);
            let hits = scan(&reader, batch.num_rows(), &keep_row);
            all.extend(hits.into_iter().map(|h| Hit {
                row: h.row + start,
                score: h.score,
            }));
        }
        all
    };
    let mut hits = match (query, index) {
        (Query::Bm25(q), Some(index)) => index.search_bm25(q, k, &keep_row)?,
        (Query::Bm25(q), None) => {
            scan_sparse(&|r, n, keep| brute_force_bm25(n, |i| r.sparse(i), q, k, keep))
        }
        (Query::Sparse(q), Some(index)) => index.search_sparse(q, k, &params, &keep_row)?,
        (Query::Sparse(q), None) => {
            let pruned = prune_query(q, params.drop_ratio_search.unwrap_or(0.0));
            scan_sparse(&|r, n, keep| brute_force_sparse(n, |i| r.sparse(i), &pruned, k, keep))
        }
        (Query::Dense(q), Some(index)) => {
            // a graph of 16-bit vectors gives its beam, re-scored from the f32 vectors below
            let refine = index.refine_candidates(k, &params);
            let exact = (refine.is_some() || window.is_some()).then(|| {
                (
                    column_readers(seg, plan, data_type),
                    RowScorer::new(plan.metric, q),
                )
            });
            let n = refine.unwrap_or(k);
            let mut hits = match (window, &exact) {
                (Some(w), Some((readers, scorer))) => {
                    let keep_in = |row: u32| {
                        keep_row(row) && in_window(seg, readers, scorer, plan.metric, w, row)
                    };
                    if w.range_filter.is_some() {
                        index.search_past_bound(q, n, &params, &keep_in)?
                    } else {
                        index.search(q, n, &params, Some(&keep_in))?
                    }
                }
                // the bitmap as predicate, when there is one
                _ => index.search(q, n, &params, keep.map(|_| &keep_row as _))?,
            };
            if let (Some(_), Some((readers, scorer))) = (refine, &exact) {
                for h in &mut hits {
                    if let Some(s) = row_score(seg, readers, scorer, h.row) {
                        h.score = s;
                    }
                }
            }
            hits
        }
        (Query::Dense(q), None) => {
            // a range search's bounds need the rows scored one by one
            let exact = window.map(|w| {
                (
                    w,
                    column_readers(seg, plan, data_type),
                    RowScorer::new(plan.metric, q),
                )
            });
            let mut all = Vec::new();
            for (b, batch) in seg.batches.iter().enumerate() {
                let start = seg.start(b);
                let keep_row = |r: u32| {
                    let row = start + r;
                    keep.is_none_or(|k| k[row as usize])
                        && exact.as_ref().is_none_or(|(w, readers, scorer)| {
                            in_window(seg, readers, scorer, plan.metric, *w, row)
                        })
                };
                let hits = match ColumnReader::new(batch.column(plan.field_index), data_type) {
                    ColumnReader::Vector { dim, values, .. } => {
                        brute_force(values, dim, plan.metric, q, k, &keep_row)
                    }
                    ColumnReader::Packed {
                        data_type,
                        dim,
                        values,
                        ..
                    } => brute_force_packed(data_type, values, dim, plan.metric, q, k, &keep_row),
                    _ => return Err(EngineError::Internal("not a vector column".into())),
                };
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
    Ok(hits)
}

/// A reader of the searched vector column for each batch of `seg`.
fn column_readers<'s>(
    seg: &'s SegmentView,
    plan: &SearchPlan,
    data_type: quarry_types::DataType,
) -> Vec<ColumnReader<'s>> {
    seg.batches
        .iter()
        .map(|b| ColumnReader::new(b.column(plan.field_index), data_type))
        .collect()
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
fn group_key(schema: &CollectionSchema, seg: &SegmentView, g: &GroupPlan, row: u32) -> GroupKey {
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

fn pk_of(seg: &SegmentView, pk_index: usize, dt: quarry_types::DataType, row: u32) -> Pk {
    let (b, r) = seg.locate(row);
    match ColumnReader::new(seg.batches[b].column(pk_index), dt).get(r) {
        Value::Int(i) => Pk::Int(i),
        Value::Str(s) => Pk::Str(s),
        _ => unreachable!(),
    }
}

/// The values of `fields` of one segment row.
fn values_of(
    schema: &CollectionSchema,
    fields: &[usize],
    seg: &SegmentView,
    row: u32,
) -> Vec<Value> {
    let (b, r) = seg.locate(row);
    let batch = &seg.batches[b];
    fields
        .iter()
        .map(|&i| ColumnReader::new(batch.column(i), schema.fields[i].data_type).get(r))
        .collect()
}

/// The live rows of `seg` holding one of the keys `values`, in row order.
fn rows_of_keys(seg: &SegmentData, values: &[Value], expire_before: u64) -> Vec<u32> {
    let mut rows: Vec<u32> = values
        .iter()
        .filter_map(|v| match v {
            Value::Int(i) => Some(Pk::Int(*i)),
            Value::Str(s) => Some(Pk::Str(s.clone())),
            _ => None,
        })
        .flat_map(|pk| seg.rows_of(&pk).to_vec())
        .filter(|r| !seg.deleted[*r as usize] && !seg.expired(*r, expire_before))
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}
