//! The read path: a search or query is checked and resolved against the schema into a plan,
//! run on every shard (`collection.rs`: here, or through the router on the workers), and the
//! per-shard answers merged. A standalone shard applies its log synchronously with every
//! acknowledged write, so a read always sees every write acknowledged before it: Strong,
//! Session, Bounded and Eventually are all served from the current state.

use std::collections::HashMap;
use std::sync::Arc;

use quarry_expr::Expr;
use quarry_index::text::bm25::{counts_row, Bm25};
use quarry_index::text::Analyzer;
use quarry_index::{check_nprobe, IndexKind, IndexSpec, Metric};
use quarry_meta::CollectionMeta;
use quarry_types::limits::MAX_VARCHAR;
use quarry_types::schema::FunctionKind;
use quarry_types::{DataType, FieldSchema, Pk, Value};

use crate::collection::{count, merge_search, rows, CollectionRt};
use crate::error::invalid;
use crate::group::{check_group_field, GroupPlan};
use crate::limits::{
    check_ef, check_group_size, check_nq, check_output_fields, check_query_window, check_refine_k,
    check_search_window,
};
use crate::order::OrderKey;
use crate::output::{empty_columns, resolve, Outputs};
use crate::plan::{
    Found, QueryAnswer, QueryInput, QueryOutput, QueryPlan, SearchHits, SearchInput, SearchPlan,
    ShardAnswer, ShardRead,
};
use crate::rerank::Ranker;
use crate::Named;
use crate::{Engine, EngineError, Result};

impl Engine {
    fn check_loaded(&self, meta: &CollectionMeta) -> Result<()> {
        if !meta.loaded {
            return Err(EngineError::NotLoaded(meta.name.clone()));
        }
        Ok(())
    }

    pub async fn search(
        &self,
        name: impl Into<Named<'_>>,
        input: SearchInput,
    ) -> Result<SearchHits> {
        self.search_ranked(name, input, None, &[]).await
    }

    /// [`Engine::search`] with a ranker function (pymilvus 2.6 `ranker=`), which rescores and
    /// reorders each query vector's answer page (`ranked.rs`), or with `order_by_fields`,
    /// which sorts the similarity top by fields (`order.rs`).
    pub async fn search_ranked(
        &self,
        name: impl Into<Named<'_>>,
        input: SearchInput,
        ranker: Option<Ranker>,
        order_by: &[OrderKey],
    ) -> Result<SearchHits> {
        let name = name.into();
        // the request's own bounds first: nothing below is sized by them before they pass
        check_nq(input.nq())?;
        check_search_window(input.topk, input.offset)?;
        check_output_fields(&input.output_fields)?;
        let (meta, rt) = self
            .resolve_fresh(name, |m| !m.loaded || m.indexes.is_empty())
            .await?;
        self.check_loaded(&meta)?;
        let mut prepared = prepare_search(&meta, input, true)?;
        if let Some(ranker) = ranker {
            prepared.rank_with(&meta, ranker)?;
        }
        if !order_by.is_empty() {
            prepared.order_with(&meta, order_by)?;
        }
        // one time-to-live cut-off for every round of the search
        prepared.plan.expire_before_ms = crate::collection::expire_before(&meta);
        // the partitions read (with a partition key: those the filter allows)
        prepared.plan.partition_ids = self.read_partitions(
            &meta,
            &prepared.plan.input.partitions,
            prepared.filter.as_ref(),
        )?;
        let (offset, topk) = (prepared.plan.input.offset, prepared.plan.input.topk);
        let at = rt
            .read_point(&*self.io.log, self.router.as_ref(), &meta)
            .await?;
        let per_query = if prepared.order.is_empty() {
            let per_query = self
                .run_search(&meta, &rt, &prepared, &at, offset, topk)
                .await?;
            prepared.rerank(per_query)
        } else {
            // the similarity top, then sorted by the fields and cut
            let top = self
                .run_search(&meta, &rt, &prepared, &at, 0, offset + topk)
                .await?;
            prepared.order(top, offset, topk)
        };
        Ok(prepared.hits(&meta, per_query))
    }

    /// Runs a read on every shard of the collection (here or through the router). A read of
    /// no partition (a partition key fixed to no value) matches nothing and asks no shard.
    async fn read_shards(
        &self,
        meta: &CollectionMeta,
        rt: &Arc<CollectionRt>,
        read: ShardRead,
        filter: Option<Expr>,
    ) -> Result<Vec<ShardAnswer>> {
        if read.partition_ids().is_empty() {
            return Ok(Vec::new());
        }
        rt.read(&*self.io.log, self.router.as_ref(), meta, read, filter)
            .await
    }

    /// Primary keys of live rows matching `filter` (`compiled`: the same, compiled) in the
    /// given partitions, over all shards.
    pub(crate) async fn matching_pks(
        &self,
        meta: &CollectionMeta,
        rt: &Arc<CollectionRt>,
        filter: &str,
        compiled: Option<Expr>,
        templates: &HashMap<String, Value>,
        partition_ids: Vec<i64>,
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
            partition_ids,
            // set by `CollectionRt::read_at` from the collection's time to live
            expire_before_ms: 0,
        };
        let mut out = Vec::new();
        for a in self
            .read_shards(meta, rt, ShardRead::Query(plan), compiled)
            .await?
        {
            if let ShardAnswer::Rows(rows) = a {
                out.extend(rows.into_iter().map(|f| f.pk));
            }
        }
        Ok(out)
    }

    pub async fn query(
        &self,
        name: impl Into<Named<'_>>,
        mut input: QueryInput,
    ) -> Result<QueryAnswer> {
        let name = name.into();
        check_query_window(input.limit, input.offset)?;
        check_output_fields(&input.output_fields)?;
        let (meta, rt) = self.resolve_fresh(name, |m| !m.loaded).await?;
        self.check_loaded(&meta)?;
        let pk_field = meta.schema.primary().name.clone();
        if input.output_fields.is_empty() {
            // no output fields asked for: the primary key, as Milvus answers
            input.output_fields = vec![pk_field.clone()];
        }
        let filter = quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
        let partition_ids = self.read_partitions(&meta, &input.partitions, filter.as_ref())?;
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
            partition_ids,
            // set by `CollectionRt::read_at` from the collection's time to live
            expire_before_ms: 0,
        };
        let answers = self
            .read_shards(&meta, &rt, ShardRead::Query(plan), filter)
            .await?;
        if count_only {
            return Ok(QueryAnswer {
                pk_field,
                output: QueryOutput::Count(count(&answers)),
            });
        }
        let rows = rows(answers);
        let end = limit.map_or(rows.len(), |l| offset.saturating_add(l).min(rows.len()));
        let mut columns = empty_columns(&meta.schema, &fields);
        for f in rows.into_iter().take(end).skip(offset) {
            for (slot, v) in f.values.into_iter().enumerate() {
                columns[slot].values.push(v);
            }
        }
        Ok(QueryAnswer {
            pk_field,
            output: QueryOutput::Rows(Outputs { columns, names }),
        })
    }
}

/// A search resolved against its collection: the plan for the shards, its filter compiled
/// (a bad filter fails before any shard is asked), and how its hits become the answer.
pub(crate) struct PreparedSearch {
    pub plan: SearchPlan,
    pub filter: Option<Expr>,
    /// reported output field names
    names: Vec<String>,
    /// output columns the client asked for (the plan's first fields; a group field or a
    /// ranker's field the client did not ask for comes after them)
    asked: usize,
    /// a plain search's ranker function, with the output slot of the field it reads
    pub(crate) ranker: Option<(Ranker, Option<usize>)>,
    /// a plain search's `order_by_fields` (`order.rs`)
    pub(crate) order: Vec<crate::order::Resolved>,
}

/// The slot of field `field` among a plan's output fields, added after the others when the
/// client did not ask for it (a group field, a ranker's or an ordering's field).
pub(crate) fn output_slot(fields: &mut Vec<usize>, field: usize) -> usize {
    match fields.iter().position(|i| *i == field) {
        Some(slot) => slot,
        None => {
            fields.push(field);
            fields.len() - 1
        }
    }
}

/// Resolves a search: the vector field (`anns_field`, or the only one), its index and metric,
/// the search knobs against their bounds, the filter, the output fields (`outputs`: false
/// for the ann searches of a hybrid search, whose outputs are fetched afterwards) and the
/// grouping.
/// The query rows of a sparse search, checked like inserted rows, and its
/// `drop_ratio_search`.
fn check_sparse_queries(input: &SearchInput) -> Result<()> {
    if !input.vectors.is_empty() {
        return Err(invalid(
            "a SparseFloatVector field is searched with sparse query vectors",
        ));
    }
    for row in &input.sparse {
        quarry_types::sparse::check_row(row)
            .map_err(|e| invalid(format!("invalid sparse query vector: {e}")))?;
    }
    if let Some(r) = input.drop_ratio_search {
        quarry_index::check_drop_ratio("drop_ratio_search", r as f64)?;
    }
    Ok(())
}

/// A full-text search of a BM25 function's output field: the query texts analyzed by the
/// input field's analyzer into rows of token counts, and the index's knobs. Texts for any
/// other field, or sparse vectors for this one, are refused.
fn prepare_texts(
    meta: &CollectionMeta,
    field: &FieldSchema,
    spec: &IndexSpec,
    input: &mut SearchInput,
) -> Result<Option<Bm25>> {
    let function = meta
        .schema
        .function_of_output(&field.name)
        .filter(|f| f.kind == FunctionKind::Bm25);
    let Some(function) = function else {
        if !input.texts.is_empty() {
            return Err(invalid(format!(
                "search with text is for the output field of a BM25 function; field {} is \
                 searched with vectors",
                field.name
            )));
        }
        return Ok(None);
    };
    let IndexKind::Sparse {
        bm25: Some(knobs), ..
    } = spec.kind
    else {
        return Err(invalid(format!(
            "field {} is the output of BM25 function {}: its index takes metric_type BM25",
            field.name, function.name
        )));
    };
    if !input.sparse.is_empty() || !input.vectors.is_empty() {
        return Err(invalid(format!(
            "field {} is the output of BM25 function {}: search it with text",
            field.name, function.name
        )));
    }
    let source = meta
        .schema
        .field(&function.input_fields[0])
        .ok_or_else(|| EngineError::Internal("a function names a missing field".into()))?;
    let analyzer = Analyzer::from_params(source.param("analyzer_params")).map_err(invalid)?;
    let mut rows = Vec::with_capacity(input.texts.len());
    for t in &input.texts {
        if t.len() > MAX_VARCHAR {
            return Err(invalid(format!(
                "a query text is {} bytes, more than the maximum of {MAX_VARCHAR}",
                t.len()
            )));
        }
        rows.push(counts_row(&analyzer, t));
    }
    input.texts.clear();
    input.sparse = rows;
    input.vector_type = Some(DataType::SparseFloatVector);
    Ok(Some(knobs))
}

pub(crate) fn prepare_search(
    meta: &CollectionMeta,
    mut input: SearchInput,
    outputs: bool,
) -> Result<PreparedSearch> {
    let want = check_search_window(input.topk, input.offset)?;
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
    let spec = IndexSpec::for_field(&index.params, field.data_type)?;
    let bm25 = prepare_texts(meta, &field, &spec, &mut input)?;
    // float32 query vectors may search the 16-bit float types (widened there anyway)
    let sent = input.vector_type.unwrap_or(DataType::FloatVector);
    let widened = sent == DataType::FloatVector
        && matches!(
            field.data_type,
            DataType::Float16Vector | DataType::BFloat16Vector
        );
    if sent != field.data_type && !widened {
        return Err(invalid(format!(
            "vector type must be the same, field {} - type {}, search info type {}",
            field.name,
            field.data_type.name(),
            sent.name()
        )));
    }
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
    let ranged = input.radius.is_some() || input.range_filter.is_some();
    if let (Some(ef), true) = (input.ef, spec.kind.is_graph()) {
        check_ef(ef, want, ranged)?;
    }
    if let Some(r) = input.refine_k {
        check_refine_k(r, &spec.kind)?;
    }
    if let (Some(nprobe), Some(_)) = (input.nprobe, spec.kind.nlist()) {
        check_nprobe(nprobe)?;
    }
    if field.data_type == DataType::SparseFloatVector {
        check_sparse_queries(&input)?;
    } else if !input.sparse.is_empty() {
        return Err(invalid(format!(
            "vector type must be the same, field {} - type {}, search info type \
             SparseFloatVector",
            field.name,
            field.data_type.name()
        )));
    }
    let dim = field.dim();
    if let Some(v) = input.vectors.iter().find(|v| v.len() != dim) {
        return Err(invalid(format!(
            "the dimension of the query vector ({}) does not match the vector field {} (dim {dim})",
            v.len(),
            field.name
        )));
    }
    let filter = quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
    let (mut fields, names) = if outputs {
        resolve(&meta.schema, &input.output_fields, false)?
    } else {
        (vec![], vec![])
    };
    let asked = fields.len();
    let group = match &input.group {
        None => None,
        Some(g) => {
            if ranged {
                return Err(invalid(
                    "Not allowed to do range-search when doing search-group-by: invalid parameter",
                ));
            }
            let (field, f) = meta
                .schema
                .fields
                .iter()
                .enumerate()
                .find(|(_, f)| f.name == g.field && !f.is_dynamic)
                .ok_or_else(|| {
                    invalid(format!(
                        "groupBy field not found in schema: field not found[field={}]",
                        g.field
                    ))
                })?;
            check_group_field(&f.name, f.data_type)?;
            check_group_size(g.size)?;
            let slot = output_slot(&mut fields, field);
            Some(GroupPlan {
                field,
                slot,
                size: g.size,
                strict: g.strict,
            })
        }
    };
    let field_index = meta
        .schema
        .fields
        .iter()
        .position(|f| f.name == field.name)
        .expect("field");
    // FLAT searches the vectors themselves
    let use_index = spec.kind != IndexKind::Flat;
    Ok(PreparedSearch {
        plan: SearchPlan {
            input,
            field_index,
            fields,
            metric: spec.metric,
            index: use_index.then_some(index.id),
            group,
            // set by the caller, which can resolve partitions (`Engine::read_partitions`)
            partition_ids: vec![],
            bm25,
            // set by `CollectionRt::read_at` from the collection's time to live
            expire_before_ms: 0,
        },
        filter,
        names,
        asked,
        ranker: None,
        order: vec![],
    })
}

/// The shards' answers to a search merged: per query vector, `offset` hits (groups) skipped,
/// at most `topk` kept.
pub(crate) fn merge_answers(
    answers: Vec<ShardAnswer>,
    plan: &SearchPlan,
    offset: usize,
    topk: usize,
) -> Result<Vec<Vec<Found>>> {
    let mut parts = Vec::new();
    for a in answers {
        match a {
            ShardAnswer::Search(per_query) => parts.push(per_query),
            other => return Err(EngineError::Internal(format!("a search got a {other:?}"))),
        }
    }
    let want = offset.saturating_add(topk);
    Ok(merge_search(
        parts,
        plan.metric,
        want,
        offset,
        topk,
        plan.group.as_ref(),
    ))
}

impl PreparedSearch {
    /// The answer of merged hits: keys and scores, the output columns asked for, the group
    /// values of a grouping search.
    pub(crate) fn hits(&self, meta: &CollectionMeta, per_query: Vec<Vec<Found>>) -> SearchHits {
        let plan = &self.plan;
        let mut columns = empty_columns(&meta.schema, &plan.fields);
        let mut hits = Vec::with_capacity(per_query.len());
        for found in per_query {
            let mut q = Vec::with_capacity(found.len());
            for f in found {
                q.push((f.pk, f.score));
                for (slot, v) in f.values.into_iter().enumerate() {
                    if let Some(c) = columns.get_mut(slot) {
                        c.values.push(v);
                    }
                }
            }
            hits.push(q);
        }
        let group_values = plan.group.map(|g| columns[g.slot].clone());
        columns.truncate(self.asked);
        SearchHits {
            per_query: hits,
            outputs: Outputs {
                columns,
                names: self.names.clone(),
            },
            pk_field: meta.schema.primary().name.clone(),
            pk_type: meta.schema.primary().data_type,
            metric: plan.metric,
            group_values,
        }
    }
}
