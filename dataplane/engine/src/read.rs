//! The read path. A shard applies its log synchronously with every acknowledged write, so a
//! read always sees every write acknowledged before it: Strong, Session, Bounded and
//! Eventually are all served from the current state (see docs/architecture.md).

use std::collections::HashMap;
use std::sync::Arc;

use quarry_expr::Expr;
use quarry_index::{brute_force, Hit, IndexKind, IndexSpec, Metric, SearchParams};
use quarry_types::batch::ColumnReader;
use quarry_types::{Pk, Value};

use crate::error::invalid;
use crate::output::{empty_columns, gather, resolve, OutputColumn, Outputs};
use crate::segment::SegmentData;
use crate::{CollectionRt, Engine, EngineError, Result};

pub const MAX_TOPK: usize = 16384;

#[derive(Debug, Clone, Default)]
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

#[derive(Debug, Clone, Default)]
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

struct Candidate {
    hit: Hit,
    pk: Pk,
    values: Vec<OutputColumn>,
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
    fn check_loaded(&self, meta: &quarry_coord::CollectionMeta) -> Result<()> {
        if !meta.loaded {
            return Err(EngineError::NotLoaded(meta.name.clone()));
        }
        Ok(())
    }

    pub async fn search(&self, name: &str, input: SearchInput) -> Result<SearchHits> {
        let (meta, rt) = self.resolve(name)?;
        self.check_loaded(&meta)?;
        for p in &input.partitions {
            self.check_partition(&meta, p)?;
        }
        let field = if input.anns_field.is_empty() {
            let mut v = meta.schema.vector_fields();
            match (v.next(), v.next()) {
                (Some(f), None) => f.clone(),
                _ => return Err(invalid("anns_field must be given: the collection has several vector fields")),
            }
        } else {
            meta.schema.field(&input.anns_field).filter(|f| f.data_type.is_vector()).cloned().ok_or_else(|| invalid(format!("failed to get field schema by name: fieldName({}) not found or is not a vector field", input.anns_field)))?
        };
        let index = meta.indexes.iter().find(|i| i.field_name == field.name).ok_or_else(|| EngineError::IndexNotFound(format!("field={}", field.name)))?;
        let spec = IndexSpec::from_params(&index.params)?;
        if let Some(m) = input.metric.as_deref().filter(|m| !m.is_empty()) {
            let asked = Metric::parse(m)?;
            if asked != spec.metric {
                return Err(invalid(format!("metric type not match: invalid parameter[expected={}][actual={}]", spec.metric.name(), asked.name())));
            }
        }
        if input.topk == 0 || input.topk + input.offset > MAX_TOPK {
            return Err(invalid(format!("topk [{}] is invalid, it should be in range [1, {MAX_TOPK}], but got {}", input.topk, input.topk + input.offset)));
        }
        let dim = field.dim();
        if let Some(v) = input.vectors.iter().find(|v| v.len() != dim) {
            return Err(invalid(format!("the dimension of the query vector ({}) does not match the vector field {} (dim {dim})", v.len(), field.name)));
        }
        let filter = quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
        let (fields, names) = resolve(&meta.schema, &input.output_fields, false)?;
        let field_index = meta.schema.fields.iter().position(|f| f.name == field.name).expect("field");
        let pk_field = meta.schema.primary().name.clone();
        let (index_id, use_hnsw) = (index.id, matches!(spec.kind, IndexKind::Hnsw { .. }));
        let metric = spec.metric;
        let rt2 = rt.clone();
        let fields2 = fields.clone();
        let per_query = tokio::task::spawn_blocking(move || {
            search_shards(&rt2, &input, filter.as_ref(), field_index, &fields2, metric, use_hnsw.then_some(index_id))
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
        let mut columns = empty_columns(&meta.schema, &fields);
        let mut hits = Vec::with_capacity(per_query.len());
        for cands in per_query {
            let mut q = Vec::with_capacity(cands.len());
            for c in cands {
                q.push((c.pk, c.hit.score));
                for (slot, col) in c.values.into_iter().enumerate() {
                    columns[slot].values.extend(col.values);
                }
            }
            hits.push(q);
        }
        Ok(SearchHits { per_query: hits, outputs: Outputs { columns, names }, pk_field, metric })
    }

    /// Primary keys of live rows matching the filter, over all shards.
    pub(crate) async fn matching_pks(&self, rt: &Arc<CollectionRt>, filter: &Expr) -> Result<Vec<Pk>> {
        let rt = rt.clone();
        let filter = filter.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            scan(&rt, Some(&filter), &mut |seg, row| out.push(pk_of(seg, rt.pk_index, rt.schema.fields[rt.pk_index].data_type, row)));
            out
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))
    }

    pub async fn query(&self, name: &str, input: QueryInput) -> Result<QueryOutput> {
        let (meta, rt) = self.resolve(name)?;
        self.check_loaded(&meta)?;
        for p in &input.partitions {
            self.check_partition(&meta, p)?;
        }
        let filter = quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
        let count_only = input.output_fields.len() == 1 && input.output_fields[0].trim().eq_ignore_ascii_case("count(*)");
        if !count_only && filter.is_none() && input.limit.is_none() {
            return Err(invalid("empty expression should be used with limit"));
        }
        let (fields, names) = if count_only { (vec![], vec![]) } else { resolve(&meta.schema, &input.output_fields, true)? };
        tokio::task::spawn_blocking(move || {
            let schema = &rt.schema;
            let pk_dt = schema.fields[rt.pk_index].data_type;
            let guards: Vec<_> = rt.shards.iter().map(|s| s.data.read()).collect();
            let segs: Vec<&SegmentData> = guards.iter().flat_map(|g| std::iter::once(&g.growing).chain(g.sealed.iter().map(|s| &s.data))).collect();
            let mut found: Vec<(Pk, usize, u32)> = Vec::new();
            for (si, seg) in segs.iter().enumerate() {
                for_matching(seg, schema, rt.pk_index, filter.as_ref(), &mut |row| found.push((pk_of(seg, rt.pk_index, pk_dt, row), si, row)));
            }
            if count_only {
                return QueryOutput::Count(found.len() as u64);
            }
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let end = input.limit.map_or(found.len(), |l| (input.offset + l).min(found.len()));
            let mut columns = empty_columns(schema, &fields);
            for (_, si, row) in found.get(input.offset.min(end)..end).unwrap_or(&[]) {
                gather(schema, &fields, segs[*si], *row, &mut columns);
            }
            QueryOutput::Rows(Outputs { columns, names })
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))
    }
}

/// Calls `f` for each live row of `seg` matching `filter`, using the key map for `pk in [..]`.
fn for_matching(seg: &SegmentData, schema: &quarry_types::CollectionSchema, pk_index: usize, filter: Option<&Expr>, f: &mut dyn FnMut(u32)) {
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

fn scan(rt: &CollectionRt, filter: Option<&Expr>, f: &mut dyn FnMut(&SegmentData, u32)) {
    for shard in &rt.shards {
        let d = shard.data.read();
        for seg in std::iter::once(&d.growing).chain(d.sealed.iter().map(|s| &s.data)) {
            for_matching(seg, &rt.schema, rt.pk_index, filter, &mut |row| f(seg, row));
        }
    }
}

fn search_shards(
    rt: &CollectionRt,
    input: &SearchInput,
    filter: Option<&Expr>,
    field_index: usize,
    fields: &[usize],
    metric: Metric,
    hnsw: Option<i64>,
) -> Result<Vec<Vec<Candidate>>> {
    let want = input.topk + input.offset;
    let ranged = input.radius.is_some() || input.range_filter.is_some();
    // range search looks further and drops hits outside the range
    let fetch = if ranged { (want * 4).max(want + 64).min(MAX_TOPK) } else { want };
    let params = SearchParams { ef: input.ef.map(|e| e.max(fetch)) };
    let schema = &rt.schema;
    let pk_dt = schema.fields[rt.pk_index].data_type;
    let mut per_query: Vec<Vec<Candidate>> = (0..input.vectors.len()).map(|_| Vec::new()).collect();
    for shard in &rt.shards {
        let d = shard.data.read();
        let mut segs: Vec<(&SegmentData, Option<&quarry_index::HnswIndex>)> = vec![(&d.growing, None)];
        for s in &d.sealed {
            segs.push((&s.data, hnsw.and_then(|id| s.indexes.get(&id)).map(|i| i.as_ref())));
        }
        for (seg, index) in segs {
            if seg.live == 0 {
                continue;
            }
            let keep = seg.matching(schema, filter);
            for (q, query) in input.vectors.iter().enumerate() {
                let mut hits: Vec<Hit> = match index {
                    Some(index) => index.search(query, fetch, &params, &|row| keep.get(row as usize).copied().unwrap_or(false))?,
                    None => {
                        let mut all = Vec::new();
                        for (b, batch) in seg.batches.iter().enumerate() {
                            let start = seg.starts[b];
                            let reader = ColumnReader::new(batch.column(field_index), quarry_types::DataType::FloatVector);
                            let ColumnReader::Vector { dim, values, .. } = reader else { unreachable!() };
                            for mut h in brute_force(values, dim, metric, query, fetch, &|r| keep[(start + r) as usize]) {
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
                    let mut values = empty_columns(schema, fields);
                    gather(schema, fields, seg, hit.row, &mut values);
                    per_query[q].push(Candidate { hit, pk: pk_of(seg, rt.pk_index, pk_dt, hit.row), values });
                }
            }
        }
    }
    for cands in per_query.iter_mut() {
        cands.sort_by(|a, b| metric.cmp(a.hit.score, b.hit.score).then_with(|| a.pk.cmp(&b.pk)));
        cands.truncate(want);
        cands.drain(..input.offset.min(cands.len()));
    }
    Ok(per_query)
}
