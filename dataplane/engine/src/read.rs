//! The read path. A shard applies its log synchronously with every acknowledged write, so a
//! read always sees every write acknowledged before it: Strong, Session, Bounded and
//! Eventually are all served from the current state (see docs/architecture.md).

use std::collections::HashMap;
use std::sync::Arc;

use quarry_expr::Expr;
use quarry_index::{brute_force, Hit, IndexKind, IndexSpec, Metric, SearchParams};
use quarry_types::batch::ColumnReader;
use quarry_types::{Pk, Value};
use serde::{Deserialize, Serialize};

use crate::error::invalid;
use crate::output::{empty_columns, gather, resolve, Outputs};
use crate::segment::SegmentData;
use crate::{CollectionRt, Engine, EngineError, Result};

pub use quarry_types::limits::MAX_TOPK;
use quarry_types::limits::{MAX_EF, MAX_NQ, MAX_OUTPUT_FIELDS};

/// Checks a search's `topk` and `topk + offset` against [`MAX_TOPK`] (the sum without
/// overflow, whatever the two are); returns the sum.
pub fn check_search_window(topk: usize, offset: usize) -> Result<usize> {
    if topk == 0 || topk > MAX_TOPK {
        return Err(invalid(format!(
            "topk [{topk}] is invalid, it should be in range [1, {MAX_TOPK}], but got {topk}"
        )));
    }
    match topk.checked_add(offset).filter(|w| *w <= MAX_TOPK) {
        Some(want) => Ok(want),
        None => {
            let sum = topk as u128 + offset as u128;
            Err(invalid(format!(
                "offset+topk [{sum}] is invalid, it should be in range [1, {MAX_TOPK}], but got {sum}"
            )))
        }
    }
}

/// Checks a query's `limit` (when given) and `offset + limit` against [`MAX_TOPK`], the query
/// result window.
pub fn check_query_window(limit: Option<usize>, offset: usize) -> Result<()> {
    let window = |got: u128| {
        invalid(format!(
            "invalid max query result window, (offset+limit) should be in range [1, {MAX_TOPK}], \
             but got {got}"
        ))
    };
    match limit {
        Some(0) => Err(invalid(
            "invalid max query result window, limit [0] is invalid, should be greater than 0",
        )),
        Some(l) if l.checked_add(offset).is_none_or(|w| w > MAX_TOPK) => {
            Err(window(l as u128 + offset as u128))
        }
        None if offset > MAX_TOPK => Err(window(offset as u128)),
        _ => Ok(()),
    }
}

/// Checks the number of query vectors of a search against [`MAX_NQ`].
pub fn check_nq(nq: usize) -> Result<()> {
    if nq == 0 || nq > MAX_NQ {
        return Err(invalid(format!(
            "nq (number of search vector per search request) should be in range [1, {MAX_NQ}], \
             but got {nq}"
        )));
    }
    Ok(())
}

/// Checks an HNSW search's `ef`: at most [`MAX_EF`], and (except for range searches, which
/// do not stop at k hits) at least the number of hits asked for, as Milvus (knowhere) does.
pub fn check_ef(ef: usize, k: usize, ranged: bool) -> Result<()> {
    if ef > MAX_EF {
        return Err(invalid(format!(
            "ef({ef}) is out of range: it should be in range [{}, {MAX_EF}]",
            if ranged { 1 } else { k }
        )));
    }
    if !ranged && ef < k {
        return Err(invalid(format!("ef({ef}) should be larger than k({k})")));
    }
    Ok(())
}

/// Checks the number of output fields a search or query names (duplicates and `*` count).
pub fn check_output_fields(fields: &[String]) -> Result<()> {
    if fields.len() > MAX_OUTPUT_FIELDS {
        return Err(invalid(format!(
            "the number of output fields ({}) exceeds the maximum of {MAX_OUTPUT_FIELDS}",
            fields.len()
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchInput {
    pub anns_field: String,
    pub metric: Option<String>,
    pub vectors: Vec<Vec<f32>>,
    pub topk: usize,
    pub offset: usize,
    pub filter: String,
    pub templates: HashMap<String, Value>,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
    pub ef: Option<usize>,
    pub radius: Option<f32>,
    pub range_filter: Option<f32>,
}

#[derive(Debug, Clone)]
pub struct SearchHits {
    /// per query vector: (primary key, score), best first
    pub per_query: Vec<Vec<(Pk, f32)>>,
    /// output columns row-aligned with the flattened hits
    pub outputs: Outputs,
    pub pk_field: String,
    pub metric: Metric,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueryInput {
    pub filter: String,
    pub templates: HashMap<String, Value>,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub enum QueryOutput {
    Count(u64),
    Rows(Outputs),
}

/// A search resolved against the schema: everything a shard needs to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchPlan {
    pub input: SearchInput,
    pub field_index: usize,
    /// output field positions
    pub fields: Vec<usize>,
    pub metric: Metric,
    /// the HNSW index to use where a segment has it loaded
    pub hnsw: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryPlan {
    pub input: QueryInput,
    pub fields: Vec<usize>,
    pub count_only: bool,
}

/// A read of some shards of a collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardRead {
    Search(SearchPlan),
    Query(QueryPlan),
}

/// One hit or row: its key, score (searches) and the values of the output fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Found {
    pub pk: Pk,
    pub score: f32,
    pub values: Vec<Value>,
}

/// What a set of shards answers: per query vector the best `topk + offset` hits; or the
/// first `offset + limit` matching rows in key order; or a count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardAnswer {
    Search(Vec<Vec<Found>>),
    Rows(Vec<Found>),
    Count(u64),
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

impl Engine {
    fn check_loaded(&self, meta: &quarry_meta::CollectionMeta) -> Result<()> {
        if !meta.loaded {
            return Err(EngineError::NotLoaded(meta.name.clone()));
        }
        Ok(())
    }

    pub async fn search(&self, name: &str, input: SearchInput) -> Result<SearchHits> {
        // the request's own bounds first: nothing below is sized by them before they pass
        check_nq(input.vectors.len())?;
        let want = check_search_window(input.topk, input.offset)?;
        check_output_fields(&input.output_fields)?;
        let (meta, rt) = self
            .resolve_fresh(name, |m| !m.loaded || m.indexes.is_empty())
            .await?;
        self.check_loaded(&meta)?;
        for p in &input.partitions {
            self.check_partition(&meta, p)?;
        }
        let field = if input.anns_field.is_empty() {
            let mut v = meta.schema.vector_fields();
            match (v.next(), v.next()) {
                (Some(f), None) => f.clone(),
                _ => {
                    return Err(invalid(
                        "anns_field must be given: the collection has several vector fields",
                    ))
                }
            }
        } else {
            meta.schema.field(&input.anns_field).filter(|f| f.data_type.is_vector()).cloned().ok_or_else(|| invalid(format!("failed to get field schema by name: fieldName({}) not found or is not a vector field", input.anns_field)))?
        };
        let index = meta
            .indexes
            .iter()
            .find(|i| i.field_name == field.name)
            .ok_or_else(|| EngineError::IndexNotFound(format!("field={}", field.name)))?;
        let spec = IndexSpec::from_params(&index.params)?;
        if let Some(m) = input.metric.as_deref().filter(|m| !m.is_empty()) {
            let asked = Metric::parse(m)?;
            if asked != spec.metric {
                return Err(invalid(format!(
                    "metric type not match: invalid parameter[expected={}][actual={}]",
                    spec.metric.name(),
                    asked.name()
                )));
            }
        }
        if let (Some(ef), IndexKind::Hnsw { .. }) = (input.ef, &spec.kind) {
            let ranged = input.radius.is_some() || input.range_filter.is_some();
            check_ef(ef, want, ranged)?;
        }
        let dim = field.dim();
        if let Some(v) = input.vectors.iter().find(|v| v.len() != dim) {
            return Err(invalid(format!("the dimension of the query vector ({}) does not match the vector field {} (dim {dim})", v.len(), field.name)));
        }
        // checked here so that a bad filter fails before any shard is asked
        quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
        let (fields, names) = resolve(&meta.schema, &input.output_fields, false)?;
        let field_index = meta
            .schema
            .fields
            .iter()
            .position(|f| f.name == field.name)
            .expect("field");
        let pk_field = meta.schema.primary().name.clone();
        let (index_id, use_hnsw) = (index.id, matches!(spec.kind, IndexKind::Hnsw { .. }));
        let metric = spec.metric;
        let (topk, offset) = (input.topk, input.offset);
        let plan = SearchPlan {
            input,
            field_index,
            fields: fields.clone(),
            metric,
            hnsw: use_hnsw.then_some(index_id),
        };
        let answers = self
            .read_shards(&meta, &rt, ShardRead::Search(plan))
            .await?;
        let mut parts = Vec::new();
        for a in answers {
            match a {
                ShardAnswer::Search(per_query) => parts.push(per_query),
                other => return Err(EngineError::Internal(format!("a search got a {other:?}"))),
            }
        }
        let per_query = merge_search(parts, metric, want, offset, topk);
        let mut columns = empty_columns(&meta.schema, &fields);
        let mut hits = Vec::with_capacity(per_query.len());
        for found in per_query {
            let mut q = Vec::with_capacity(found.len());
            for f in found {
                q.push((f.pk, f.score));
                for (slot, v) in f.values.into_iter().enumerate() {
                    columns[slot].values.push(v);
                }
            }
            hits.push(q);
        }
        Ok(SearchHits {
            per_query: hits,
            outputs: Outputs { columns, names },
            pk_field,
            metric,
        })
    }

    /// Runs a read on every shard: here (standalone and workers) or through the router (proxy).
    async fn read_shards(
        &self,
        meta: &quarry_meta::CollectionMeta,
        rt: &Arc<CollectionRt>,
        read: ShardRead,
    ) -> Result<Vec<ShardAnswer>> {
        if let Some(router) = &self.router {
            let min_offsets = self.read_barrier(meta, rt).await?;
            return router.read(meta, read, min_offsets).await;
        }
        let all: Vec<u32> = (0..rt.shards.len() as u32).collect();
        Ok(vec![self.read_local(rt.clone(), all, read).await?])
    }

    /// Runs a read on the given shards of this process.
    pub(crate) async fn read_local(
        &self,
        rt: Arc<CollectionRt>,
        shards: Vec<u32>,
        read: ShardRead,
    ) -> Result<ShardAnswer> {
        tokio::task::spawn_blocking(move || match read {
            ShardRead::Search(plan) => {
                let filter =
                    quarry_expr::prepare(&plan.input.filter, &rt.schema, &plan.input.templates)?;
                Ok(ShardAnswer::Search(search_shards(
                    &rt,
                    &shards,
                    &plan,
                    filter.as_ref(),
                )?))
            }
            ShardRead::Query(plan) => {
                let filter =
                    quarry_expr::prepare(&plan.input.filter, &rt.schema, &plan.input.templates)?;
                Ok(query_shards(&rt, &shards, &plan, filter.as_ref()))
            }
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Primary keys of live rows matching the filter, over all shards.
    pub(crate) async fn matching_pks(
        &self,
        meta: &quarry_meta::CollectionMeta,
        rt: &Arc<CollectionRt>,
        filter: &str,
        templates: &HashMap<String, Value>,
    ) -> Result<Vec<Pk>> {
        let input = QueryInput {
            filter: filter.to_string(),
            templates: templates.clone(),
            ..Default::default()
        };
        let plan = QueryPlan {
            input,
            fields: vec![],
            count_only: false,
        };
        let mut out = Vec::new();
        for a in self.read_shards(meta, rt, ShardRead::Query(plan)).await? {
            if let ShardAnswer::Rows(rows) = a {
                out.extend(rows.into_iter().map(|f| f.pk));
            }
        }
        Ok(out)
    }

    pub async fn query(&self, name: &str, input: QueryInput) -> Result<QueryOutput> {
        check_query_window(input.limit, input.offset)?;
        check_output_fields(&input.output_fields)?;
        let (meta, rt) = self.resolve_fresh(name, |m| !m.loaded).await?;
        self.check_loaded(&meta)?;
        for p in &input.partitions {
            self.check_partition(&meta, p)?;
        }
        let filter = quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
        let count_only = input.output_fields.len() == 1
            && input.output_fields[0]
                .trim()
                .eq_ignore_ascii_case("count(*)");
        if !count_only && filter.is_none() && input.limit.is_none() {
            return Err(invalid("empty expression should be used with limit"));
        }
        let (fields, names) = if count_only {
            (vec![], vec![])
        } else {
            resolve(&meta.schema, &input.output_fields, true)?
        };
        let (offset, limit) = (input.offset, input.limit);
        let plan = QueryPlan {
            input,
            fields: fields.clone(),
            count_only,
        };
        let answers = self.read_shards(&meta, &rt, ShardRead::Query(plan)).await?;
        if count_only {
            return Ok(QueryOutput::Count(
                answers
                    .iter()
                    .map(|a| if let ShardAnswer::Count(n) = a { *n } else { 0 })
                    .sum(),
            ));
        }
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
        let end = limit.map_or(rows.len(), |l| offset.saturating_add(l).min(rows.len()));
        let mut columns = empty_columns(&meta.schema, &fields);
        for f in rows.into_iter().take(end).skip(offset) {
            for (slot, v) in f.values.into_iter().enumerate() {
                columns[slot].values.push(v);
            }
        }
        Ok(QueryOutput::Rows(Outputs { columns, names }))
    }
}

fn values_of(
    schema: &quarry_types::CollectionSchema,
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

/// Matching rows of some shards in key order, the first `offset + limit`; or their count.
fn query_shards(
    rt: &CollectionRt,
    shards: &[u32],
    plan: &QueryPlan,
    filter: Option<&Expr>,
) -> ShardAnswer {
    let schema = &rt.schema;
    let pk_dt = schema.fields[rt.pk_index].data_type;
    let guards: Vec<_> = shards
        .iter()
        .filter_map(|s| rt.shards.get(*s as usize))
        .map(|s| s.data.read())
        .collect();
    let segs: Vec<&SegmentData> = guards
        .iter()
        .flat_map(|g| std::iter::once(&g.growing).chain(g.sealed.iter().map(|s| &s.data)))
        .collect();
    let mut found: Vec<(Pk, usize, u32)> = Vec::new();
    for (si, seg) in segs.iter().enumerate() {
        for_matching(seg, schema, rt.pk_index, filter, &mut |row| {
            found.push((pk_of(seg, rt.pk_index, pk_dt, row), si, row))
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

/// Merges per-part hit lists: the best `want` by score (ties by key), then skips `offset`.
fn merge_search(
    parts: Vec<Vec<Vec<Found>>>,
    metric: Metric,
    want: usize,
    offset: usize,
    topk: usize,
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
        hits.truncate(want);
        hits.drain(..offset.min(hits.len()));
        hits.truncate(topk);
    }
    out
}

/// Calls `f` for each live row of `seg` matching `filter`, using the key map for `pk in [..]`.
fn for_matching(
    seg: &SegmentData,
    schema: &quarry_types::CollectionSchema,
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

fn search_shards(
    rt: &CollectionRt,
    shards: &[u32],
    plan: &SearchPlan,
    filter: Option<&Expr>,
) -> Result<Vec<Vec<Found>>> {
    let (input, field_index, fields, metric, hnsw) = (
        &plan.input,
        plan.field_index,
        &plan.fields[..],
        plan.metric,
        plan.hnsw,
    );
    // a worker gets plans checked by the proxy; saturating all the same
    let want = input.topk.saturating_add(input.offset).min(MAX_TOPK);
    let ranged = input.radius.is_some() || input.range_filter.is_some();
    // range search looks further and drops hits outside the range
    let fetch = if ranged {
        want.saturating_mul(4).max(want + 64).min(MAX_TOPK)
    } else {
        want
    };
    let params = SearchParams {
        ef: input.ef.map(|e| e.clamp(fetch, MAX_EF.max(fetch))),
    };
    let schema = &rt.schema;
    let pk_dt = schema.fields[rt.pk_index].data_type;
    let mut per_query: Vec<Vec<Found>> = (0..input.vectors.len()).map(|_| Vec::new()).collect();
    for shard in shards.iter().filter_map(|s| rt.shards.get(*s as usize)) {
        let d = shard.data.read();
        let mut segs: Vec<(&SegmentData, Option<&quarry_index::HnswIndex>)> =
            vec![(&d.growing, None)];
        for s in &d.sealed {
            segs.push((
                &s.data,
                hnsw.and_then(|id| s.indexes.get(&id)).map(|i| i.as_ref()),
            ));
        }
        for (seg, index) in segs {
            if seg.live == 0 {
                continue;
            }
            let keep = seg.matching(schema, filter);
            for (q, query) in input.vectors.iter().enumerate() {
                let mut hits: Vec<Hit> = match index {
                    Some(index) => index.search(query, fetch, &params, &|row| {
                        keep.get(row as usize).copied().unwrap_or(false)
                    })?,
                    None => {
                        let mut all = Vec::new();
                        for (b, batch) in seg.batches.iter().enumerate() {
                            let start = seg.starts[b];
                            let reader = ColumnReader::new(
                                batch.column(field_index),
                                quarry_types::DataType::FloatVector,
                            );
                            let ColumnReader::Vector { dim, values, .. } = reader else {
                                unreachable!()
                            };
                            for mut h in brute_force(values, dim, metric, query, fetch, &|r| {
                                keep[(start + r) as usize]
                            }) {
                                h.row += start;
                                all.push(h);
                            }
                        }
                        all
                    }
                };
                if ranged {
                    hits.retain(|h| in_range(metric, h.score, input.radius, input.range_filter));
                }
                for hit in hits {
                    let values = values_of(schema, fields, seg, hit.row);
                    per_query[q].push(Found {
                        pk: pk_of(seg, rt.pk_index, pk_dt, hit.row),
                        score: hit.score,
                        values,
                    });
                }
            }
        }
    }
    for hits in per_query.iter_mut() {
        hits.sort_by(|a, b| metric.cmp(a.score, b.score).then_with(|| a.pk.cmp(&b.pk)));
        hits.truncate(want);
    }
    Ok(per_query)
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn windows_are_checked_without_overflow() {
        assert_eq!(check_search_window(10, 5).unwrap(), 15);
        assert_eq!(check_search_window(MAX_TOPK, 0).unwrap(), MAX_TOPK);
        assert!(msg(check_search_window(0, 0)).contains("topk [0] is invalid"));
        assert!(msg(check_search_window(1 << 63, 1)).contains("topk [9223372036854775808]"));
        assert!(msg(check_search_window(1, usize::MAX))
            .contains("offset+topk [18446744073709551616] is invalid"));
        assert!(msg(check_search_window(16000, 385)).contains("but got 16385"));
        check_query_window(None, 0).unwrap();
        check_query_window(Some(16000), 384).unwrap();
        assert!(msg(check_query_window(Some(16000), 385))
            .contains("(offset+limit) should be in range [1, 16384], but got 16385"));
        assert!(msg(check_query_window(Some(usize::MAX), usize::MAX)).contains("but got"));
        assert!(msg(check_query_window(Some(0), 0)).contains("limit [0] is invalid"));
        assert!(msg(check_query_window(None, MAX_TOPK + 1)).contains("(offset+limit)"));
    }

    #[test]
    fn nq_ef_and_output_fields() {
        check_nq(MAX_NQ).unwrap();
        assert!(msg(check_nq(MAX_NQ + 1)).contains("but got 16385"));
        assert!(msg(check_nq(0)).contains("should be in range [1, 16384]"));
        check_ef(64, 10, false).unwrap();
        assert!(msg(check_ef(1_000_000_000, 10, false)).contains("ef(1000000000) is out of range"));
        assert!(msg(check_ef(5, 10, false)).contains("ef(5) should be larger than k(10)"));
        check_ef(5, 100, true).unwrap();
        check_output_fields(&vec!["a".to_string(); MAX_OUTPUT_FIELDS]).unwrap();
        assert!(msg(check_output_fields(&vec!["a".to_string(); 300]))
            .contains("the number of output fields (300) exceeds the maximum of 256"));
    }
}
