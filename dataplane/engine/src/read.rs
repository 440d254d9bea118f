//! The read path: a search or query is checked and resolved against the schema into a plan,
//! run on every shard (`collection.rs`: here, or through the router on the workers), and the
//! per-shard answers merged. A standalone shard applies its log synchronously with every
//! acknowledged write, so a read always sees every write acknowledged before it: Strong,
//! Session, Bounded and Eventually are all served from the current state.

use std::collections::HashMap;
use std::sync::Arc;

use quarry_expr::Expr;
use quarry_index::{check_nprobe, IndexKind, IndexSpec, Metric};
use quarry_meta::CollectionMeta;
use quarry_types::{Pk, Value};

use crate::collection::{count, merge_search, rows, CollectionRt};
use crate::error::invalid;
use crate::limits::{
    check_ef, check_nq, check_output_fields, check_query_window, check_search_window,
};
use crate::output::{empty_columns, resolve, Outputs};
use crate::plan::{
    QueryAnswer, QueryInput, QueryOutput, QueryPlan, SearchHits, SearchInput, SearchPlan,
    ShardAnswer, ShardRead,
};
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
        let name = name.into();
        // the request's own bounds first: nothing below is sized by them before they pass
        check_nq(input.vectors.len())?;
        let want = check_search_window(input.topk, input.offset)?;
        check_output_fields(&input.output_fields)?;
        let (meta, rt) = self
            .resolve_fresh(name, |m| !m.loaded || m.indexes.is_empty())
            .await?;
        self.check_loaded(&meta)?;
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
        if let (Some(nprobe), Some(_)) = (input.nprobe, spec.kind.nlist()) {
            check_nprobe(nprobe)?;
        }
        let dim = field.dim();
        if let Some(v) = input.vectors.iter().find(|v| v.len() != dim) {
            return Err(invalid(format!("the dimension of the query vector ({}) does not match the vector field {} (dim {dim})", v.len(), field.name)));
        }
        // compiled once, here, so that a bad filter fails before any shard is asked
        let filter = quarry_expr::prepare(&input.filter, &meta.schema, &input.templates)?;
        let partition_ids = self.read_partitions(&meta, &input.partitions, filter.as_ref())?;
        let (fields, names) = resolve(&meta.schema, &input.output_fields, false)?;
        let field_index = meta
            .schema
            .fields
            .iter()
            .position(|f| f.name == field.name)
            .expect("field");
        let pk_field = meta.schema.primary().name.clone();
        // FLAT searches the vectors themselves
        let (index_id, use_index) = (index.id, spec.kind != IndexKind::Flat);
        let metric = spec.metric;
        let (topk, offset, nq) = (input.topk, input.offset, input.vectors.len());
        let plan = SearchPlan {
            input,
            field_index,
            fields: fields.clone(),
            metric,
            index: use_index.then_some(index_id),
            partition_ids,
        };
        let answers = self
            .read_shards(&meta, &rt, ShardRead::Search(plan), filter)
            .await?;
        let mut parts = Vec::new();
        for a in answers {
            match a {
                ShardAnswer::Search(per_query) => parts.push(per_query),
                other => return Err(EngineError::Internal(format!("a search got a {other:?}"))),
            }
        }
        let mut per_query = merge_search(parts, metric, want, offset, topk);
        // one (maybe empty) hit list per query vector, also when no shard was asked
        per_query.resize_with(nq, Vec::new);
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
            pk_type: meta.schema.primary().data_type,
            metric,
        })
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
