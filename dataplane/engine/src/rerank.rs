//! The rerankers of a hybrid search, as Milvus 2.6 computes them (`internal/util/function/
//! rerank`): the hits of the ann searches for one query vector are fused into one score per
//! primary key, then ordered and cut (offset, limit), or grouped.
//!
//! - RRF: `score = Σ 1 / (k + rank)`, rank counted from 1 in each search's answer.
//! - Weighted: `score = Σ weight_i · f_i(score_i)`. With `norm_score` true, `f` maps every
//!   metric to "higher is better" in [0, 1]: COSINE `(1 + s) / 2`, IP `0.5 + atan(s) / π`, L2
//!   `1 − 2·atan(d) / π`; the result is ordered high to low. With `norm_score` false (the
//!   default when a client does not send it) scores are summed as they are, ordered as their
//!   metric orders them; only when L2 is mixed with IP/COSINE are the L2 distances mapped
//!   with `1 − 2·atan(d) / π` and the result ordered high to low.
//! - Decay (`decay.rs`): each key's relevance, normalised and merged over the ann searches,
//!   times a factor from a numeric field's value ([`decayed`]); ordered high to low.
//!
//! The same rerankers serve a plain search given a `ranker` function (pymilvus 2.6): its one
//! answer page is rescored as a list of one ann search ([`rerank_page`]).

use std::collections::HashMap;
use std::f32::consts::PI;

use quarry_index::Metric;
use quarry_types::Pk;

use crate::decay::Decay;
use crate::group::{group_by, GroupKey};

/// How a hybrid search fuses the scores of its ann searches.
#[derive(Debug, Clone, PartialEq)]
pub enum Ranker {
    Rrf { k: f32 },
    Weighted { weights: Vec<f32>, norm: bool },
    Decay(Decay),
}

/// The score of a group in a grouping hybrid search (`rank_group_scorer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupScorer {
    #[default]
    Max,
    Sum,
    Avg,
}

/// A score mapped to "higher is better" in [0, 1] for its metric.
pub(crate) fn normalize(metric: Metric, s: f32) -> f32 {
    match metric {
        Metric::Cosine => (1.0 + s) * 0.5,
        Metric::Ip => 0.5 + (s as f64).atan() as f32 / PI,
        // BM25 scores are never negative (as Milvus)
        Metric::Bm25 => 2.0 * (s as f64).atan() as f32 / PI,
        // distances (as Milvus: every metric but COSINE and IP)
        Metric::L2 | Metric::Hamming | Metric::Jaccard => 1.0 - 2.0 * (s as f64).atan() as f32 / PI,
    }
}

/// The fused scores of one query vector's hits, in the order keys were first seen, and
/// whether higher fused scores are better. `lists`: each ann search's hits, best first, with
/// its metric.
pub(crate) fn fuse(ranker: &Ranker, lists: &[(&[(Pk, f32)], Metric)]) -> (Vec<(Pk, f32)>, bool) {
    let mut order: Vec<Pk> = Vec::new();
    let mut scores: HashMap<Pk, f32> = HashMap::new();
    let mut add = |pk: &Pk, s: f32| match scores.get_mut(pk) {
        Some(total) => *total += s,
        None => {
            order.push(pk.clone());
            scores.insert(pk.clone(), s);
        }
    };
    let descending = match ranker {
        Ranker::Decay(d) => return fuse_decay(d, lists),
        Ranker::Rrf { k } => {
            for (hits, _) in lists {
                for (rank, (pk, _)) in hits.iter().enumerate() {
                    add(pk, 1.0 / (k + (rank + 1) as f32));
                }
            }
            true
        }
        Ranker::Weighted { weights, norm } => {
            let higher = lists.iter().filter(|(_, m)| m.higher_is_better()).count();
            let mixed = higher > 0 && higher < lists.len();
            for ((hits, metric), w) in lists.iter().zip(weights) {
                for (pk, s) in hits.iter() {
                    let v = if *norm || (mixed && !metric.higher_is_better()) {
                        normalize(*metric, *s)
                    } else {
                        *s
                    };
                    add(pk, w * v);
                }
            }
            *norm || mixed || higher == lists.len()
        }
    };
    let fused = order
        .into_iter()
        .map(|pk| {
            let s = scores[&pk];
            (pk, s)
        })
        .collect();
    (fused, descending)
}

/// [`fuse`] for the decay reranker: each key's normalised relevance, merged by score mode
/// (the factor applies afterwards, [`decayed`]).
fn fuse_decay(d: &Decay, lists: &[(&[(Pk, f32)], Metric)]) -> (Vec<(Pk, f32)>, bool) {
    let mut order: Vec<Pk> = Vec::new();
    let mut all: HashMap<Pk, Vec<f32>> = HashMap::new();
    for (hits, metric) in lists {
        for (pk, s) in hits.iter() {
            let v = d.relevance(*metric, *s);
            match all.get_mut(pk) {
                Some(list) => list.push(v),
                None => {
                    order.push(pk.clone());
                    all.insert(pk.clone(), vec![v]);
                }
            }
        }
    }
    let fused = order
        .into_iter()
        .map(|pk| {
            let s = d.merge(&all[&pk]);
            (pk, s)
        })
        .collect();
    (fused, true)
}

/// The fused relevance of a decay reranker times each key's factor (`value`: the key's
/// value of the decay field; a key without one, deleted since it was found, scores 0).
pub(crate) fn decayed(
    decay: &Decay,
    fused: Vec<(Pk, f32)>,
    value: impl Fn(&Pk) -> Option<f64>,
) -> Vec<(Pk, f32)> {
    fused
        .into_iter()
        .map(|(pk, s)| {
            let f = value(&pk).map_or(0.0, |x| decay.factor(x));
            let scored = (s as f64 * f) as f32;
            (pk, scored)
        })
        .collect()
}

/// A plain search's answer page rescored by a ranker function, as Milvus 2.6 does: the page
/// (hits after the offset, at most the limit) is one ann search's list; the new order is
/// best first, ties by key. `value`: a hit's value of the decay field (by its position in the
/// page). Returns each hit's position in the page with its new score, in the new order.
pub(crate) fn rerank_page(
    ranker: &Ranker,
    metric: Metric,
    page: &[(Pk, f32)],
    value: impl Fn(usize) -> Option<f64>,
) -> Vec<(usize, f32)> {
    let at: HashMap<&Pk, usize> = page
        .iter()
        .enumerate()
        .map(|(i, (pk, _))| (pk, i))
        .collect();
    let (fused, descending) = fuse(ranker, &[(page, metric)]);
    let fused = match ranker {
        Ranker::Decay(d) => decayed(d, fused, |pk| at.get(pk).and_then(|i| value(*i))),
        _ => fused,
    };
    let len = fused.len();
    top(fused, descending, 0, len)
        .into_iter()
        .filter_map(|(pk, s)| at.get(&pk).map(|i| (*i, s)))
        .collect()
}

/// Sorts fused scores, best first (ties: the smaller key first).
fn sort(fused: &mut [(Pk, f32)], descending: bool) {
    fused.sort_by(|a, b| {
        let o = a.1.total_cmp(&b.1);
        let o = if descending { o.reverse() } else { o };
        o.then_with(|| a.0.cmp(&b.0))
    });
}

/// The fused hits ranked `offset + 1 ..= offset + limit`.
pub(crate) fn top(
    mut fused: Vec<(Pk, f32)>,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Vec<(Pk, f32)> {
    sort(&mut fused, descending);
    fused.into_iter().skip(offset).take(limit).collect()
}

/// A grouping hybrid search's answer, as Milvus forms it: the fused hits high to low, at most
/// `size` per group (`group_of`: a key's group); groups scored by `scorer` over their hits and
/// ordered high to low (ties: the larger group, then the smaller first key); groups
/// `offset + 1 ..= offset + limit`, without those holding fewer than `size` hits when
/// `strict`; each group's hits together, best first.
pub(crate) fn top_groups(
    mut fused: Vec<(Pk, f32)>,
    group_of: &HashMap<Pk, GroupKey>,
    size: usize,
    strict: bool,
    scorer: GroupScorer,
    offset: usize,
    limit: usize,
) -> Vec<(Pk, f32)> {
    sort(&mut fused, true);
    let key = |h: &(Pk, f32)| group_of.get(&h.0).cloned().unwrap_or(GroupKey::Null);
    // every group (the fused list is bounded by the ann searches' limits)
    let (groups, _) = group_by(fused, key, usize::MAX, size, false);
    let mut scored: Vec<(f32, Vec<(Pk, f32)>)> = groups
        .into_iter()
        .map(|g| {
            let sum: f32 = g.iter().map(|h| h.1).sum();
            let s = match scorer {
                GroupScorer::Max => g.iter().map(|h| h.1).fold(f32::NEG_INFINITY, f32::max),
                GroupScorer::Sum => sum,
                GroupScorer::Avg => sum / g.len() as f32,
            };
            (s, g)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| b.1.len().cmp(&a.1.len()))
            .then_with(|| a.1[0].0.cmp(&b.1[0].0))
    });
    scored
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter(|(_, g)| !strict || g.len() >= size)
        .flat_map(|(_, g)| g)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(list: &[(i64, f32)]) -> Vec<(Pk, f32)> {
        list.iter().map(|(k, s)| (Pk::Int(*k), *s)).collect()
    }

    fn close(got: &[(Pk, f32)], want: &[(i64, f32)]) {
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((pk, s), (k, w)) in got.iter().zip(want) {
            assert_eq!(pk, &Pk::Int(*k), "{got:?}");
            assert!((s - w).abs() < 1e-6, "{pk:?}: {s} != {w}");
        }
    }

    #[test]
    fn rrf_sums_reciprocal_ranks() {
        let a = hits(&[(1, 0.9), (2, 0.8), (3, 0.1)]);
        let b = hits(&[(3, 5.0), (1, 4.0)]);
        let (fused, desc) = fuse(
            &Ranker::Rrf { k: 60.0 },
            &[(&a, Metric::Ip), (&b, Metric::L2)],
        );
        assert!(desc);
        // 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62
        close(
            &top(fused, desc, 0, 10),
            &[
                (1, 1.0 / 61.0 + 1.0 / 62.0),
                (3, 1.0 / 63.0 + 1.0 / 61.0),
                (2, 1.0 / 62.0),
            ],
        );
        // offset and limit; k changes the scores
        let (fused, desc) = fuse(&Ranker::Rrf { k: 1.0 }, &[(&a, Metric::Ip)]);
        close(&top(fused, desc, 1, 1), &[(2, 1.0 / 3.0)]);
    }

    #[test]
    fn weighted_with_normalised_scores() {
        let a = hits(&[(1, 0.5), (2, -0.2)]); // COSINE
        let b = hits(&[(2, 1.0), (3, 3.0)]); // L2
        let ranker = Ranker::Weighted {
            weights: vec![0.25, 0.75],
            norm: true,
        };
        let (fused, desc) = fuse(&ranker, &[(&a, Metric::Cosine), (&b, Metric::L2)]);
        assert!(desc);
        let l2 = |d: f32| 1.0 - 2.0 * d.atan() / PI;
        let s1 = 0.25 * 0.75;
        let s2 = 0.25 * 0.4 + 0.75 * l2(1.0); // l2(1) = 0.5
        let s3 = 0.75 * l2(3.0);
        assert!(s2 > s1 && s1 > s3);
        close(&top(fused, desc, 0, 3), &[(2, s2), (1, s1), (3, s3)]);
        assert!((normalize(Metric::Ip, 1.0) - 0.75).abs() < 1e-6);
        assert!((normalize(Metric::Ip, 0.0) - 0.5).abs() < 1e-6);
        assert!((normalize(Metric::L2, 0.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn weighted_raw_scores_keep_the_metric_order_unless_mixed() {
        let ranker = Ranker::Weighted {
            weights: vec![0.5, 0.5],
            norm: false,
        };
        // two L2 searches: raw distances summed, smallest first
        let a = hits(&[(1, 1.0), (2, 2.0)]);
        let b = hits(&[(2, 0.5), (1, 4.0)]);
        let (fused, desc) = fuse(&ranker, &[(&a, Metric::L2), (&b, Metric::L2)]);
        assert!(!desc);
        close(&top(fused, desc, 0, 2), &[(2, 1.25), (1, 2.5)]);
        // IP with L2: the distances mapped, highest first
        let ip = hits(&[(1, 2.0)]);
        let l2 = hits(&[(1, 1.0), (2, 0.0)]);
        let (fused, desc) = fuse(&ranker, &[(&ip, Metric::Ip), (&l2, Metric::L2)]);
        assert!(desc);
        close(&top(fused, desc, 0, 2), &[(1, 1.0 + 0.25), (2, 0.5)]);
    }

    #[test]
    fn groups_of_fused_hits() {
        let fused = hits(&[(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6), (5, 0.5), (6, 0.4)]);
        let g: HashMap<Pk, GroupKey> = [(1, 10), (2, 10), (3, 20), (4, 10), (5, 30), (6, 30)]
            .into_iter()
            .map(|(k, v)| (Pk::Int(k), GroupKey::Int(v)))
            .collect();
        let max = top_groups(fused.clone(), &g, 2, false, GroupScorer::Max, 0, 2);
        close(&max, &[(1, 0.9), (2, 0.8), (3, 0.7)]);
        // sum: group 10 = 1.7, group 30 = 0.9, group 20 = 0.7
        let sum = top_groups(fused.clone(), &g, 2, false, GroupScorer::Sum, 1, 2);
        close(&sum, &[(5, 0.5), (6, 0.4), (3, 0.7)]);
        // strict: group 20 has one hit only and is left out
        let strict = top_groups(fused, &g, 2, true, GroupScorer::Max, 0, 3);
        close(&strict, &[(1, 0.9), (2, 0.8), (5, 0.5), (6, 0.4)]);
    }

    fn decay(mode: crate::decay::ScoreMode) -> Decay {
        Decay {
            field: "ts".into(),
            shape: crate::decay::DecayShape::Linear,
            origin: 0.0,
            scale: 10.0,
            offset: 0.0,
            decay: 0.5,
            norm_score: false,
            score_mode: mode,
        }
    }

    #[test]
    fn decay_rescores_a_page_and_merges_hybrid_hits() {
        // distances 0 (relevance 1) at ts 10 (factor 0.5), 1 (0.5) at ts 0 (factor 1)
        let page = hits(&[(7, 0.0), (8, 1.0)]);
        let ts = [10.0, 0.0];
        let ranked = rerank_page(
            &Ranker::Decay(decay(Default::default())),
            Metric::L2,
            &page,
            |i| Some(ts[i]),
        );
        assert_eq!(
            ranked,
            vec![(0, 0.5), (1, 0.5)],
            "equal scores: the smaller key first"
        );
        let ranked = rerank_page(&Ranker::Rrf { k: 1.0 }, Metric::L2, &page, |_| None);
        assert_eq!(ranked, vec![(0, 0.5), (1, 1.0 / 3.0)]);
        // a hybrid search: one key in both lists merges by score mode, then decays
        let a = hits(&[(1, 0.9), (2, 0.2)]);
        let b = hits(&[(1, 0.5)]);
        for (mode, want) in [
            (crate::decay::ScoreMode::Max, 0.9),
            (crate::decay::ScoreMode::Sum, 1.4),
            (crate::decay::ScoreMode::Avg, 0.7),
        ] {
            let d = decay(mode);
            let (fused, desc) = fuse(
                &Ranker::Decay(d.clone()),
                &[(&a, Metric::Ip), (&b, Metric::Ip)],
            );
            assert!(desc);
            let scored = decayed(&d, fused, |pk| {
                Some(if *pk == Pk::Int(1) { 5.0 } else { 0.0 })
            });
            close(&top(scored, true, 0, 2), &[(1, want * 0.75), (2, 0.2)]);
        }
    }
}
