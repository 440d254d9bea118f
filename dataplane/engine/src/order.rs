//! Search results ordered by fields (pymilvus 2.6 `order_by_fields`), as Milvus orders them
//! where it serves the option: the hits of the similarity top (`offset + limit`) sorted by
//! the fields, stably (equal values keep their similarity order), then cut by `offset` and
//! `limit`. The rows returned are those of the similarity top; their scores are unchanged.
//!
//! Keys: scalar fields (Bool, Int8–Int64, Float, Double, VarChar), paths into JSON fields
//! (`meta["a"]["b"]`) and dynamic keys. Nulls (and missing JSON keys) come last ascending and
//! first descending unless `nulls_first` / `nulls_last` say otherwise. JSON values compare as
//! numbers, strings (bytewise) or booleans (false first); values of different JSON types by
//! their JSON text.
//!
//! A grouping search orders its groups by the values of each group's first (best) hit, and
//! `offset` and `limit` count groups.

use std::cmp::Ordering;

use quarry_meta::CollectionMeta;
use quarry_types::{DataType, Value};
use serde_json::Value as Json;

use crate::error::invalid;
use crate::group::GroupKey;
use crate::plan::Found;
use crate::read::{output_slot, PreparedSearch};
use crate::Result;

/// One `order_by_fields` key as the client gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// a field name, `field["key"]...` into a JSON field, or a dynamic key
    pub field: String,
    pub desc: bool,
    /// `None`: nulls last ascending, first descending
    pub nulls_first: Option<bool>,
}

/// A key resolved against the schema: the output slot of its field and the JSON path.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    slot: usize,
    path: Vec<String>,
    desc: bool,
    nulls_first: bool,
}

/// `name["a"]["b"]` → (`name`, [`a`, `b`]); a plain name has no path.
fn split_path(spec: &str) -> Result<(&str, Vec<String>)> {
    let Some(open) = spec.find('[') else {
        return Ok((spec, vec![]));
    };
    let (name, mut rest) = spec.split_at(open);
    let bad = || invalid(format!("invalid JSON path in order_by field '{spec}'"));
    let mut path = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(bad)?;
        let close = inner.find(']').ok_or_else(bad)?;
        let key = inner[..close].trim();
        let key = key
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
            .map(str::to_string)
            .or_else(|| key.parse::<u64>().ok().map(|i| i.to_string()))
            .ok_or_else(bad)?;
        path.push(key);
        rest = &inner[close + 1..];
    }
    Ok((name, path))
}

impl PreparedSearch {
    /// Resolves `keys` and reads their fields with the hits (output columns after those
    /// asked for). Not with a ranker function.
    pub(crate) fn order_with(&mut self, meta: &CollectionMeta, keys: &[OrderKey]) -> Result<()> {
        if self.ranker.is_some() {
            return Err(invalid(
                "order_by and function rerank cannot be used together: they specify \
                 conflicting sort criteria",
            ));
        }
        let schema = &meta.schema;
        for k in keys {
            let (name, mut path) = split_path(&k.field)?;
            if name.is_empty() {
                return Err(invalid("empty field name in order_by_fields"));
            }
            let index = match schema
                .fields
                .iter()
                .position(|f| f.name == name && !f.is_dynamic)
            {
                Some(i) => i,
                None => {
                    let dynamic = schema.fields.iter().position(|f| f.is_dynamic);
                    match (dynamic, path.is_empty()) {
                        (Some(d), _) => {
                            path.insert(0, name.to_string());
                            d
                        }
                        (None, true) => {
                            return Err(invalid(format!(
                                "order_by field '{name}' does not exist in collection schema"
                            )))
                        }
                        (None, false) => {
                            return Err(invalid(format!(
                                "order_by field '{}' not found in schema and no dynamic field \
                                 available",
                                k.field
                            )))
                        }
                    }
                }
            };
            let f = &schema.fields[index];
            let json = matches!(f.data_type, DataType::Json);
            if !path.is_empty() && !json {
                return Err(invalid(format!(
                    "order_by field '{}' has brackets but is not a JSON type",
                    k.field
                )));
            }
            let sortable = f.data_type.is_numeric()
                || matches!(f.data_type, DataType::Bool | DataType::VarChar)
                || (json && !path.is_empty());
            if !sortable {
                return Err(invalid(format!(
                    "order_by field '{}' has unsortable type {}; supported types: bool, \
                     int8/16/32/64, float, double, string, varchar; for JSON fields use path \
                     syntax like field[\"key\"]",
                    k.field,
                    f.data_type.name()
                )));
            }
            let slot = output_slot(&mut self.plan.fields, index);
            self.order.push(Resolved {
                slot,
                path,
                desc: k.desc,
                nulls_first: k.nulls_first.unwrap_or(k.desc),
            });
        }
        Ok(())
    }

    /// Each query vector's similarity top sorted by the keys, then hits (groups, for a
    /// grouping search) `offset + 1 ..= offset + limit`.
    pub(crate) fn order(
        &self,
        per_query: Vec<Vec<Found>>,
        offset: usize,
        limit: usize,
    ) -> Vec<Vec<Found>> {
        per_query
            .into_iter()
            .map(|found| {
                // each hit's key values once (the sort compares them many times)
                let keys: Vec<Vec<Option<Json>>> = found
                    .iter()
                    .map(|f| self.order.iter().map(|k| key_value(k, f)).collect())
                    .collect();
                // the units sorted: hits, or runs of hits of one group (by their first hit)
                let units: Vec<std::ops::Range<usize>> = match self.plan.group {
                    None => (0..found.len()).map(|i| i..i + 1).collect(),
                    Some(g) => {
                        let key = |f: &Found| f.values.get(g.slot).map(GroupKey::of);
                        let mut units: Vec<std::ops::Range<usize>> = Vec::new();
                        for i in 0..found.len() {
                            match units.last_mut() {
                                Some(u) if key(&found[u.start]) == key(&found[i]) => u.end = i + 1,
                                _ => units.push(i..i + 1),
                            }
                        }
                        units
                    }
                };
                let mut order: Vec<usize> = (0..units.len()).collect();
                order.sort_by(|a, b| {
                    self.order
                        .iter()
                        .enumerate()
                        .map(|(i, k)| {
                            let (a, b) = (units[*a].start, units[*b].start);
                            compare(k, &keys[a][i], &keys[b][i])
                        })
                        .find(|o| *o != Ordering::Equal)
                        .unwrap_or(Ordering::Equal)
                });
                let mut found: Vec<Option<Found>> = found.into_iter().map(Some).collect();
                order
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .flat_map(|u| units[u].clone())
                    .filter_map(|i| found[i].take())
                    .collect()
            })
            .collect()
    }
}

/// A key's value of a hit as JSON (`None`: null or missing); a JSON document is walked by
/// reference and only the value at the path copied.
fn key_value(k: &Resolved, f: &Found) -> Option<Json> {
    let v = f.values.get(k.slot)?;
    let j = match v {
        Value::Null => return None,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(x) => Json::from(*x),
        Value::Str(s) => Json::String(s.clone()),
        Value::Json(doc) => {
            let mut at = doc;
            for p in &k.path {
                at = match at {
                    Json::Object(m) => m.get(p)?,
                    Json::Array(a) => a.get(p.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            at.clone()
        }
        _ => return None,
    };
    (!j.is_null()).then_some(j)
}

fn compare(k: &Resolved, a: &Option<Json>, b: &Option<Json>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) if k.nulls_first => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) if k.nulls_first => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let o = match (x, y) {
                (Json::Number(p), Json::Number(q)) => {
                    let (p, q) = (p.as_f64().unwrap_or(0.0), q.as_f64().unwrap_or(0.0));
                    p.partial_cmp(&q).unwrap_or(Ordering::Equal)
                }
                (Json::String(p), Json::String(q)) => p.as_bytes().cmp(q.as_bytes()),
                (Json::Bool(p), Json::Bool(q)) => p.cmp(q),
                _ => x.to_string().cmp(&y.to_string()),
            };
            if k.desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_keys() {
        assert_eq!(split_path("price").unwrap(), ("price", vec![]));
        assert_eq!(
            split_path("meta[\"a\"]['b'][0]").unwrap(),
            (
                "meta",
                vec!["a".to_string(), "b".to_string(), "0".to_string()]
            )
        );
        assert!(split_path("meta[a]").is_err());
        assert!(split_path("meta[\"a\"").is_err());
    }

    fn found(values: Vec<Value>) -> Found {
        Found {
            pk: quarry_types::Pk::Int(0),
            score: 0.0,
            values,
        }
    }

    #[test]
    fn nulls_and_json_types_compare_as_milvus() {
        let asc = Resolved {
            slot: 0,
            path: vec!["x".into()],
            desc: false,
            nulls_first: false,
        };
        let j = |v: Json| {
            key_value(
                &asc,
                &found(vec![Value::Json(serde_json::json!({ "x": v }))]),
            )
        };
        let none = key_value(&asc, &found(vec![Value::Json(serde_json::json!({}))]));
        assert_eq!(compare(&asc, &j(1.into()), &j(2.5.into())), Ordering::Less);
        assert_eq!(
            compare(&asc, &j("b".into()), &j("a".into())),
            Ordering::Greater
        );
        assert_eq!(
            compare(&asc, &j(false.into()), &j(true.into())),
            Ordering::Less
        );
        // nulls last ascending, first descending
        assert_eq!(compare(&asc, &none, &j(1.into())), Ordering::Greater);
        let desc = Resolved {
            desc: true,
            nulls_first: true,
            ..asc.clone()
        };
        assert_eq!(compare(&desc, &none, &j(1.into())), Ordering::Less);
        assert_eq!(
            compare(&desc, &j(1.into()), &j(2.into())),
            Ordering::Greater
        );
        // mixed types: by JSON text (strings, starting with a quote, first)
        assert_eq!(compare(&asc, &j("z".into()), &j(1.into())), Ordering::Less);
    }
}
