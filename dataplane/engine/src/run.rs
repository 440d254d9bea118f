//! Running a prepared search on every shard from a read point, and merging the answers.
//!
//! A grouping search with `strict_group_size` takes two rounds, so that its groups are exact
//! over all shards and segments (one round cannot be: a part stops filling a group once its own
//! first groups are full, though the group may rank higher elsewhere). The first round groups
//! without strict sizes, which finds exactly the groups of the answer (`group.rs`); the second
//! asks only for rows of those groups and fills each of them from every part. When the groups
//! of all query vectors together exceed `MAX_TOPK`, the one-round answer is given instead.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use quarry_meta::CollectionMeta;
use quarry_types::limits::MAX_TOPK;
use quarry_types::Value;

use crate::collection::CollectionRt;
use crate::group::{group_found, GroupKey, GroupPlan};
use crate::plan::{Found, SearchPlan, ShardRead};
use crate::read::{merge_answers, PreparedSearch};
use crate::{Engine, Result};

/// The template that carries the groups of the first round to the second.
const GROUPS: &str = "quarry_strict_groups";

impl Engine {
    /// Runs `p` from read point `at`: per query vector the hits (groups) after `offset`, at
    /// most `topk`.
    pub(crate) async fn run_search(
        &self,
        meta: &CollectionMeta,
        rt: &Arc<CollectionRt>,
        p: &PreparedSearch,
        at: &Option<Vec<u64>>,
        offset: usize,
        topk: usize,
    ) -> Result<Vec<Vec<Found>>> {
        if p.plan.partition_ids.is_empty() {
            // no partition to read (a partition key fixed to no value): no hits, no shard asked
            return Ok(vec![Vec::new(); p.plan.input.nq()]);
        }
        let router = self.router.as_ref();
        let read = |plan: &SearchPlan, filter| {
            rt.read_at(router, meta, ShardRead::Search(plan.clone()), filter, at)
        };
        let strict = p.plan.group.filter(|g| g.strict);
        let Some(g) = strict else {
            let answers = read(&p.plan, p.filter.clone()).await?;
            return merge_answers(answers, &p.plan, offset, topk);
        };
        let want = offset.saturating_add(topk);
        // round one: the groups, exactly
        let mut loose = p.plan.clone();
        loose.group = Some(GroupPlan { strict: false, ..g });
        let first = merge_answers(read(&loose, p.filter.clone()).await?, &loose, 0, want)?;
        let key = |f: &Found| f.values.get(g.slot).map_or(GroupKey::Null, GroupKey::of);
        let per_query: Vec<HashSet<GroupKey>> = first
            .iter()
            .map(|hits| hits.iter().map(key).collect())
            .collect();
        let mut values: BTreeSet<GroupKey> = BTreeSet::new();
        let mut literal: Vec<serde_json::Value> = Vec::new();
        for f in first.iter().flatten() {
            if values.insert(key(f)) {
                match f.values.get(g.slot) {
                    Some(Value::Int(i)) => literal.push((*i).into()),
                    Some(Value::Str(s)) => literal.push(s.clone().into()),
                    Some(Value::Bool(b)) => literal.push((*b).into()),
                    _ => {}
                }
            }
        }
        if values.is_empty() || values.len() > MAX_TOPK {
            let answers = read(&p.plan, p.filter.clone()).await?;
            return merge_answers(answers, &p.plan, offset, topk);
        }
        // round two: only rows of those groups; every part fills every group it has
        let field = &meta.schema.fields[g.field].name;
        let has_null = values.contains(&GroupKey::Null);
        let clause = match (literal.is_empty(), has_null) {
            (false, false) => format!("{field} in {{{GROUPS}}}"),
            (true, _) => format!("{field} is null"),
            (false, true) => format!("({field} in {{{GROUPS}}} or {field} is null)"),
        };
        let mut fill = p.plan.clone();
        fill.input.filter = if fill.input.filter.trim().is_empty() {
            clause
        } else {
            format!("({}) and {clause}", fill.input.filter)
        };
        fill.input
            .templates
            .insert(GROUPS.to_string(), Value::Json(literal.into()));
        fill.input.topk = values.len();
        fill.input.offset = 0;
        let filter = quarry_expr::prepare(&fill.input.filter, &meta.schema, &fill.input.templates)?;
        let all = merge_answers(read(&fill, filter).await?, &fill, 0, values.len())?;
        // per query vector: its own groups, in order of their best hit
        let mut out = Vec::with_capacity(all.len());
        for (q, hits) in all.into_iter().enumerate() {
            let mine: Vec<Found> = hits
                .into_iter()
                .filter(|f| per_query.get(q).is_some_and(|s| s.contains(&key(f))))
                .collect();
            let (groups, _) = group_found(sort(mine, &p.plan), &g, want);
            out.push(
                groups
                    .into_iter()
                    .skip(offset)
                    .take(topk)
                    .flatten()
                    .collect(),
            );
        }
        Ok(out)
    }
}

fn sort(mut hits: Vec<Found>, plan: &SearchPlan) -> Vec<Found> {
    let metric = plan.metric;
    hits.sort_by(|a, b| metric.cmp(a.score, b.score).then_with(|| a.pk.cmp(&b.pk)));
    hits
}
