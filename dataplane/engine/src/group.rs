//! Grouping search (`group_by_field`, `group_size`, `strict_group_size`), as Milvus does it:
//! hits are taken best first; a hit joins its group while the group has fewer than `group_size`
//! hits; a new group opens while fewer than `groups` are open. The scan stops once `groups`
//! groups are open (not strict: the groups are there, some may hold fewer hits than they
//! could), or once `groups` groups are open and each holds `group_size` hits (strict). Groups
//! come out in the order of their best hit, each group's hits best first.
//!
//! The same rule runs on every level: a segment (asking its index or exact search for more
//! candidates until the rule is met, [`MAX_GROUP_CANDIDATES`] bounding it), a shard over its
//! segments, the merge of shards. Without strict sizes the merged answer is exactly the one
//! the rule gives over all data (each part's answer reaches at least as deep as the global
//! one, and keeps each group's best hits); with strict sizes a group's hits in a part where
//! other groups filled up first can be missed, as in Milvus.

use std::collections::HashMap;

use quarry_types::limits::MAX_GROUP_CANDIDATES;
use quarry_types::{DataType, Value};
use serde::{Deserialize, Serialize};

use crate::error::invalid;
use crate::plan::Found;
use crate::Result;

/// A grouping search as a shard runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPlan {
    /// the group field's position in the schema
    pub field: usize,
    /// its position among the plan's output fields (the hits carry its value there)
    pub slot: usize,
    /// hits per group, at most
    pub size: usize,
    pub strict: bool,
}

/// The value of a hit's group field, as a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum GroupKey {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
}

impl GroupKey {
    pub(crate) fn of(v: &Value) -> GroupKey {
        match v {
            Value::Bool(b) => GroupKey::Bool(*b),
            Value::Int(i) => GroupKey::Int(*i),
            Value::Str(s) => GroupKey::Str(s.clone()),
            // only groupable types reach here (`check_group_field`); anything else is one group
            _ => GroupKey::Null,
        }
    }
}

/// Refuses a group field of a type Milvus cannot group by (floats, JSON, vectors).
pub(crate) fn check_group_field(name: &str, dt: DataType) -> Result<()> {
    match dt {
        DataType::Bool
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::VarChar => Ok(()),
        other => Err(invalid(format!(
            "unsupported data type {other:?} for group by operator: field {name} cannot be a \
             group_by_field (Bool, Int8, Int16, Int32, Int64 and VarChar fields can)"
        ))),
    }
}

/// Groups `sorted` (best first) by `key` under the rule above: the groups in order of their
/// best hit, and whether the rule was met (false: the candidates ran out first).
pub(crate) fn group_by<T>(
    sorted: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> GroupKey,
    groups: usize,
    size: usize,
    strict: bool,
) -> (Vec<Vec<T>>, bool) {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut slot_of: HashMap<GroupKey, usize> = HashMap::new();
    let mut full = 0usize;
    let enough =
        |out: &Vec<Vec<T>>, full: usize| out.len() >= groups && (!strict || full >= groups);
    if groups == 0 || size == 0 {
        return (out, true);
    }
    for item in sorted {
        let k = key(&item);
        match slot_of.get(&k) {
            Some(&i) if out[i].len() < size => {
                out[i].push(item);
                if out[i].len() == size {
                    full += 1;
                }
            }
            Some(_) => {}
            None if out.len() < groups => {
                slot_of.insert(k, out.len());
                out.push(vec![item]);
                if size == 1 {
                    full += 1;
                }
            }
            None => {}
        }
        if enough(&out, full) {
            return (out, true);
        }
    }
    let met = enough(&out, full);
    (out, met)
}

/// Groups found hits by the value at `plan.slot`.
pub(crate) fn group_found(
    sorted: Vec<Found>,
    plan: &GroupPlan,
    groups: usize,
) -> (Vec<Vec<Found>>, bool) {
    let slot = plan.slot;
    group_by(
        sorted,
        |f: &Found| f.values.get(slot).map_or(GroupKey::Null, GroupKey::of),
        groups,
        plan.size,
        plan.strict,
    )
}

/// The candidates a segment looks at first, and at most, to fill `groups` groups.
pub(crate) fn candidate_window(groups: usize, size: usize) -> (usize, usize) {
    let first = groups.saturating_mul(size).max(1);
    (first, first.max(MAX_GROUP_CANDIDATES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quarry_types::Pk;

    fn hit(pk: i64, score: f32, group: i64) -> Found {
        Found {
            pk: Pk::Int(pk),
            score,
            values: vec![Value::Int(group)],
        }
    }

    fn ids(groups: &[Vec<Found>]) -> Vec<Vec<i64>> {
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|f| match f.pk {
                        Pk::Int(i) => i,
                        _ => unreachable!(),
                    })
                    .collect()
            })
            .collect()
    }

    const PLAN: GroupPlan = GroupPlan {
        field: 1,
        slot: 0,
        size: 2,
        strict: false,
    };

    #[test]
    fn duplicates_fill_their_group_up_to_the_size() {
        // groups: 7, 7, 8, 7 (third of 7 dropped), 9 (third group: not strict stops here)
        let hits = vec![
            hit(1, 0.9, 7),
            hit(2, 0.8, 7),
            hit(3, 0.7, 8),
            hit(4, 0.6, 7),
            hit(5, 0.5, 9),
            hit(6, 0.4, 8),
        ];
        let (g, met) = group_found(hits.clone(), &PLAN, 3);
        assert!(met);
        assert_eq!(ids(&g), vec![vec![1, 2], vec![3], vec![5]]);
        // two groups: stops once the second opens
        let (g, met) = group_found(hits.clone(), &PLAN, 2);
        assert!(met);
        assert_eq!(ids(&g), vec![vec![1, 2], vec![3]]);
        // strict: goes on until both groups hold two hits (4 and 9 are skipped)
        let strict = GroupPlan {
            strict: true,
            ..PLAN
        };
        let (g, met) = group_found(hits.clone(), &strict, 2);
        assert!(met);
        assert_eq!(ids(&g), vec![vec![1, 2], vec![3, 6]]);
        // strict with three groups: group 9 has one hit only; the candidates run out
        let (g, met) = group_found(hits, &strict, 3);
        assert!(!met);
        assert_eq!(ids(&g), vec![vec![1, 2], vec![3, 6], vec![5]]);
    }

    #[test]
    fn size_one_is_distinct_groups() {
        let hits = vec![hit(1, 0.9, 1), hit(2, 0.8, 1), hit(3, 0.7, 2)];
        let one = GroupPlan {
            size: 1,
            strict: true,
            ..PLAN
        };
        let (g, met) = group_found(hits, &one, 2);
        assert!(met);
        assert_eq!(ids(&g), vec![vec![1], vec![3]]);
    }

    #[test]
    fn keys_of_groupable_values() {
        assert_eq!(
            GroupKey::of(&Value::Str("a".into())),
            GroupKey::Str("a".into())
        );
        assert_eq!(GroupKey::of(&Value::Bool(true)), GroupKey::Bool(true));
        assert_eq!(GroupKey::of(&Value::Null), GroupKey::Null);
        assert!(check_group_field("f", DataType::VarChar).is_ok());
        let e = check_group_field("price", DataType::Float)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported data type Float for group by"),
            "{e}"
        );
        assert!(check_group_field("v", DataType::FloatVector).is_err());
        assert!(check_group_field("j", DataType::Json).is_err());
    }

    #[test]
    fn the_candidate_window_is_bounded() {
        assert_eq!(candidate_window(10, 3), (30, MAX_GROUP_CANDIDATES));
        assert_eq!(candidate_window(16384, 10), (163840, 163840));
        assert_eq!(candidate_window(usize::MAX, 2).0, usize::MAX);
    }
}
