//! Hybrid search: several ann searches of one collection (each its own vector field, filter,
//! knobs and limit) run as single searches do, on every shard from one read point; their hits
//! fused by a reranker (`rerank.rs`) into one list (or groups), cut by `offset` and `limit`;
//! the output fields then fetched for the final hits only, by primary key.

use std::collections::HashMap;

use futures::future::try_join_all;
use quarry_types::{Pk, Value};

use crate::collection::rows;
use crate::error::invalid;
use crate::group::GroupKey;
use crate::limits::{check_hybrid_requests, check_nq, check_output_fields, check_search_window};
use crate::output::{empty_columns, resolve, Outputs};
use crate::plan::{GroupBy, QueryInput, QueryPlan, SearchHits, SearchInput, ShardRead};
use crate::ranked::check_ranker;
use crate::read::prepare_search;
use crate::rerank::{decayed, fuse, top, top_groups};
pub use crate::rerank::{GroupScorer, Ranker};
use crate::{Engine, Named, Result};

/// A hybrid search as the engine takes it.
#[derive(Debug, Clone)]
pub struct HybridInput {
    /// the ann searches: each `topk` is its limit; output fields, offset and grouping come
    /// from here, not from them
    pub subs: Vec<SearchInput>,
    pub ranker: Ranker,
    pub limit: usize,
    pub offset: usize,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
    /// a grouping hybrid search: each ann search groups, and so does the fused list
    pub group: Option<GroupBy>,
    pub group_scorer: GroupScorer,
}

/// The template that carries the final hits' keys to the query for their output fields.
const HITS: &str = "quarry_hybrid_hits";

impl Engine {
    pub async fn hybrid_search(
        &self,
        name: impl Into<Named<'_>>,
        mut input: HybridInput,
    ) -> Result<SearchHits> {
        let name = name.into();
        check_hybrid_requests(input.subs.len())?;
        check_search_window(input.limit, input.offset)?;
        check_output_fields(&input.output_fields)?;
        let nq = input.subs[0].nq();
        for sub in &input.subs {
            check_nq(sub.nq())?;
            if sub.nq() != nq {
                return Err(invalid(format!(
                    "sub search request nq should be the same: invalid parameter[expected={nq}][actual={}]",
                    sub.nq()
                )));
            }
        }
        let (meta, rt) = self
            .resolve_fresh(name, |m| !m.loaded || m.indexes.is_empty())
            .await?;
        // a decay ranker reads its field with every ann search's hits
        let decay_field = check_ranker(&meta.schema, &input.ranker, input.subs.len())?;
        // one time-to-live cut-off for the ann searches and the output fields' query
        let expire = crate::collection::expire_before(&meta);
        if !meta.loaded {
            return Err(crate::EngineError::NotLoaded(meta.name.clone()));
        }
        // the partitions the output fields are read from (every one a sub-search may read)
        let all_partitions = self.read_partitions(&meta, &input.partitions, None)?;
        // resolved before any shard is asked: a bad ann search fails the whole request
        let mut prepared = Vec::with_capacity(input.subs.len());
        for mut sub in std::mem::take(&mut input.subs) {
            sub.output_fields.clear();
            sub.offset = 0;
            sub.partitions = input.partitions.clone();
            sub.group = input.group.clone();
            let mut p = prepare_search(&meta, sub, false)?;
            p.plan.expire_before_ms = expire;
            if let Some(field) = decay_field {
                p.plan.fields.push(field);
            }
            p.plan.partition_ids =
                self.read_partitions(&meta, &p.plan.input.partitions, p.filter.as_ref())?;
            prepared.push(p);
        }
        let (out_fields, out_names) = resolve(&meta.schema, &input.output_fields, false)?;
        let router = self.router.as_ref();
        let at = rt.read_point(&*self.io.log, router, &meta).await?;
        let reads = prepared
            .iter()
            .map(|p| self.run_search(&meta, &rt, p, &at, 0, p.plan.input.topk));
        let answers = try_join_all(reads).await?;
        // per ann search, per query vector: the hits
        let mut lists = Vec::with_capacity(prepared.len());
        let mut group_of: HashMap<Pk, (GroupKey, Value)> = HashMap::new();
        // the decay field's value of every key found (the last output column of each search)
        let mut decay_of: HashMap<Pk, f64> = HashMap::new();
        for (p, per_query) in prepared.iter().zip(answers) {
            let mut scored = Vec::with_capacity(per_query.len());
            for found in per_query {
                let mut q = Vec::with_capacity(found.len());
                for f in found {
                    if decay_field.is_some() {
                        if let Some(x) = f.values.last().and_then(Value::as_f64) {
                            decay_of.entry(f.pk.clone()).or_insert(x);
                        }
                    }
                    if let Some(g) = &p.plan.group {
                        let v = f.values.get(g.slot).cloned().unwrap_or(Value::Null);
                        group_of
                            .entry(f.pk.clone())
                            .or_insert_with(|| (GroupKey::of(&v), v));
                    }
                    q.push((f.pk, f.score));
                }
                scored.push(q);
            }
            lists.push((scored, p.plan.metric));
        }
        let keys: HashMap<Pk, GroupKey> = group_of
            .iter()
            .map(|(pk, (k, _))| (pk.clone(), k.clone()))
            .collect();
        let mut per_query = Vec::with_capacity(nq);
        for q in 0..nq {
            let views: Vec<(&[(Pk, f32)], _)> = lists
                .iter()
                .map(|(scored, metric)| (scored[q].as_slice(), *metric))
                .collect();
            let (mut fused, descending) = fuse(&input.ranker, &views);
            if let Ranker::Decay(d) = &input.ranker {
                fused = decayed(d, fused, |pk| decay_of.get(pk).copied());
            }
            per_query.push(match &input.group {
                None => top(fused, descending, input.offset, input.limit),
                Some(g) => top_groups(
                    fused,
                    &keys,
                    g.size,
                    g.strict,
                    input.group_scorer,
                    input.offset,
                    input.limit,
                ),
            });
        }
        // the output fields of the final hits
        let mut columns = empty_columns(&meta.schema, &out_fields);
        if !out_fields.is_empty() {
            let unique: std::collections::BTreeSet<&Pk> =
                per_query.iter().flatten().map(|(pk, _)| pk).collect();
            let pks: Vec<serde_json::Value> = unique
                .into_iter()
                .map(|pk| match pk {
                    Pk::Int(i) => serde_json::Value::from(*i),
                    Pk::Str(s) => serde_json::Value::from(s.clone()),
                })
                .collect();
            let pk_name = &meta.schema.primary().name;
            let query = QueryInput {
                filter: format!("{pk_name} in {{{HITS}}}"),
                templates: HashMap::from([(HITS.to_string(), Value::Json(pks.into()))]),
                partitions: input.partitions.clone(),
                ..Default::default()
            };
            let filter = quarry_expr::prepare(&query.filter, &meta.schema, &query.templates)?;
            let plan = QueryPlan {
                input: query,
                fields: out_fields.clone(),
                count_only: false,
                partition_ids: all_partitions.clone(),
                expire_before_ms: expire,
            };
            let answers = rt
                .read_at(router, &meta, ShardRead::Query(plan), filter, &at)
                .await?;
            let found: HashMap<Pk, Vec<Value>> = rows(answers)
                .into_iter()
                .map(|f| (f.pk, f.values))
                .collect();
            for (pk, _) in per_query.iter().flatten() {
                // a row deleted since it was found answers nulls
                let values = found.get(pk);
                for (slot, c) in columns.iter_mut().enumerate() {
                    let v = values.and_then(|v| v.get(slot)).cloned();
                    c.values.push(v.unwrap_or(Value::Null));
                }
            }
        }
        let group_values = match (&input.group, prepared.first().and_then(|p| p.plan.group)) {
            (Some(_), Some(g)) => {
                let mut c = empty_columns(&meta.schema, &[g.field]).remove(0);
                for (pk, _) in per_query.iter().flatten() {
                    let v = group_of.get(pk).map(|(_, v)| v.clone());
                    c.values.push(v.unwrap_or(Value::Null));
                }
                Some(c)
            }
            _ => None,
        };
        let metric = prepared[0].plan.metric;
        Ok(SearchHits {
            per_query,
            outputs: Outputs {
                columns,
                names: out_names,
            },
            pk_field: meta.schema.primary().name.clone(),
            pk_type: meta.schema.primary().data_type,
            metric,
            group_values,
        })
    }
}
