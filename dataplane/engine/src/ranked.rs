//! A plain search with a ranker function (pymilvus 2.6 `search(..., ranker=Function(...))`):
//! the ranker's checks against the schema, the decay field read with the hits, and the answer
//! page rescored (`rerank::rerank_page`), as Milvus 2.6 reranks it: after the offset, within
//! the page.

use quarry_meta::CollectionMeta;
use quarry_types::{CollectionSchema, Value};

use crate::error::invalid;
use crate::plan::Found;
use crate::read::{output_slot, PreparedSearch};
use crate::rerank::{rerank_page, Ranker};
use crate::Result;

/// Checks a ranker against the collection: a decay field must be a numeric, non-nullable
/// field of the schema; a weighted ranker weighs as many lists as it fuses (`lists`).
/// Returns the position in the schema of the field the ranker reads (decay's), if any.
pub(crate) fn check_ranker(
    schema: &CollectionSchema,
    ranker: &Ranker,
    lists: usize,
) -> Result<Option<usize>> {
    match ranker {
        Ranker::Decay(d) => {
            let (index, f) = schema
                .fields
                .iter()
                .enumerate()
                .find(|(_, f)| f.name == d.field && !f.is_dynamic)
                .ok_or_else(|| invalid(format!("function input field not found: {}", d.field)))?;
            if !f.data_type.is_numeric() {
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
            return Ok(Some(index));
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
    Ok(None)
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
        let slot = check_ranker(&meta.schema, &ranker, 1)?
            .map(|field| output_slot(&mut self.plan.fields, field));
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
                let value = |i: usize| {
                    slot.and_then(|s| found[i].values.get(s))
                        .and_then(Value::as_f64)
                };
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
