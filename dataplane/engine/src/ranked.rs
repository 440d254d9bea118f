//! A plain search with a ranker function (pymilvus 2.6 `search(..., ranker=Function(...))`):
//! the ranker's checks against the schema, the decay field read with the hits, and the answer
//! page rescored (`rerank::rerank_page`), as Milvus 2.6 reranks it: after the offset, within
//! the page.

use quarry_meta::CollectionMeta;
use quarry_types::{CollectionSchema, DataType, Value};

use crate::error::invalid;
use crate::plan::Found;
use crate::read::PreparedSearch;
use crate::rerank::{rerank_page, Ranker};
use crate::Result;

/// Checks a ranker against the collection: a decay field must be a numeric, non-nullable
/// field of the schema; a weighted ranker weighs as many lists as it fuses (`lists`).
pub(crate) fn check_ranker(schema: &CollectionSchema, ranker: &Ranker, lists: usize) -> Result<()> {
    match ranker {
        Ranker::Decay(d) => {
            let f = schema
                .fields
                .iter()
                .find(|f| f.name == d.field && !f.is_dynamic)
                .ok_or_else(|| invalid(format!("function input field not found: {}", d.field)))?;
            if !matches!(
                f.data_type,
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::Float
                    | DataType::Double
            ) {
                return Err(invalid(format!(
                    "decay rerank: unsupported input field type:{}, only support numeric field",
                    f.data_type.name()
                )));
            }
            if f.nullable {
                return Err(invalid(format!(
                    "function input field cannot be nullable: field {}",
                    f.name
                )));
            }
        }
        Ranker::Weighted { weights, .. } if weights.len() != lists => {
            return Err(invalid(format!(
                "the length of weights param mismatch with ann search requests: invalid \
                 parameter[expected={lists}][actual={}]",
                weights.len()
            )));
        }
        _ => {}
    }
    Ok(())
}

/// A numeric field's value as the decay reads it.
pub(crate) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

impl PreparedSearch {
    /// Prepares the plan for `ranker`: checked, and the decay field read with the hits
    /// (an output column after those asked for, like a group field). Grouping searches take
    /// no ranker here.
    pub(crate) fn rank_with(&mut self, meta: &CollectionMeta, ranker: Ranker) -> Result<()> {
        if self.plan.group.is_some() {
            return Err(invalid(
                "a ranker function on a grouping search is not supported by Quarry yet",
            ));
        }
        check_ranker(&meta.schema, &ranker, 1)?;
        let slot = match ranker.input_field() {
            None => None,
            Some(name) => {
                let field = meta
                    .schema
                    .fields
                    .iter()
                    .position(|f| f.name == name)
                    .expect("checked");
                Some(match self.plan.fields.iter().position(|i| *i == field) {
                    Some(slot) => slot,
                    None => {
                        self.plan.fields.push(field);
                        self.plan.fields.len() - 1
                    }
                })
            }
        };
        self.ranker = Some((ranker, slot));
        Ok(())
    }

    /// Each query vector's page of hits rescored and reordered by the ranker.
    pub(crate) fn rerank(&self, per_query: Vec<Vec<Found>>) -> Vec<Vec<Found>> {
        let Some((ranker, slot)) = &self.ranker else {
            return per_query;
        };
        per_query
            .into_iter()
            .map(|found| {
                let page: Vec<_> = found.iter().map(|f| (f.pk.clone(), f.score)).collect();
                let value = |i: usize| slot.and_then(|s| found[i].values.get(s)).and_then(number);
                let order = rerank_page(ranker, self.plan.metric, &page, value);
                let mut found: Vec<Option<Found>> = found.into_iter().map(Some).collect();
                order
                    .into_iter()
                    .filter_map(|(i, score)| found[i].take().map(|f| Found { score, ..f }))
                    .collect()
            })
            .collect()
    }
}
