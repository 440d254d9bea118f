//! Document-at-a-time search of the inverted lists with MaxScore pruning (the DAAT_MAXSCORE
//! algorithm of Milvus's sparse index, a member of the WAND family): the query's lists are
//! ordered by the most each can add to a score (query value × the largest value of the list);
//! once `k` hits are kept, the lists whose bounds together cannot lift a row to the current
//! k-th score are "non-essential": only rows of the other lists are candidates, and a
//! candidate's non-essential lists are probed only while they could still lift it over the
//! k-th score. Pruning is strict (a row that could tie is scored), so the top-k equals the
//! exhaustive evaluation's; only the order in which a row's products are summed differs.

use super::SparseIndex;
use crate::flat::TopK;
use crate::{Hit, Metric};

struct List<'a> {
    rows: &'a [u32],
    vals: &'a [f32],
    weight: f32,
    /// the most this list adds to a score, rounded up
    bound: f32,
    pos: usize,
}

impl SparseIndex {
    pub(super) fn search_maxscore(
        &self,
        query: &[(u32, f32)],
        k: usize,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<Hit> {
        let mut lists: Vec<List<'_>> = query
            .iter()
            .filter_map(|(d, u)| {
                let at = self.dims.binary_search(d).ok()?;
                let (s, e) = (self.starts[at], self.starts[at + 1]);
                // a little above the bound: float sums may exceed the exact product sum
                let bound = (u.abs() * self.max_vals[at]) * (1.0 + 1e-5) + f32::MIN_POSITIVE;
                Some(List {
                    rows: &self.post_rows[s..e],
                    vals: &self.post_vals[s..e],
                    weight: *u,
                    bound,
                    pos: 0,
                })
            })
            .collect();
        lists.sort_by(|a, b| a.bound.total_cmp(&b.bound));
        // prefix[i]: the most lists 0..=i add together
        let prefix: Vec<f32> = lists
            .iter()
            .scan(0.0f32, |acc, l| {
                *acc += l.bound;
                Some(*acc)
            })
            .collect();
        let mut top = TopK::new(k, Metric::Ip);
        // lists[essential..] hold every row that can still enter the top-k
        let mut essential = 0;
        while let Some(doc) = lists[essential..]
            .iter()
            .filter_map(|l| l.rows.get(l.pos).copied())
            .min()
        {
            let mut score = 0.0f32;
            for l in lists[essential..].iter_mut() {
                if l.rows.get(l.pos) == Some(&doc) {
                    score += l.weight * l.vals[l.pos];
                    l.pos += 1;
                }
            }
            if !keep(doc) {
                continue;
            }
            let threshold = top.threshold();
            let mut pruned = false;
            for i in (0..essential).rev() {
                if threshold.is_some_and(|t| score + prefix[i] < t) {
                    pruned = true;
                    break;
                }
                let l = &mut lists[i];
                l.pos += l.rows[l.pos..].partition_point(|r| *r < doc);
                if l.rows.get(l.pos) == Some(&doc) {
                    score += l.weight * l.vals[l.pos];
                }
            }
            if pruned || score == 0.0 {
                continue;
            }
            top.push(doc, score);
            if let Some(t) = top.threshold() {
                while essential < lists.len() && prefix[essential] < t {
                    essential += 1;
                }
            }
        }
        top.into_sorted()
    }
}
