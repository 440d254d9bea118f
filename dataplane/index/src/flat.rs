use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::{Hit, Metric};

pub(crate) fn score(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Metric::Ip => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        Metric::Cosine => {
            let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
            for (x, y) in a.iter().zip(b) {
                dot += x * y;
                na += x * x;
                nb += y * y;
            }
            if na == 0.0 || nb == 0.0 {
                0.0
            } else {
                dot / (na.sqrt() * nb.sqrt())
            }
        }
    }
}

/// Heap entry ordered so that the *worst* kept hit is on top.
struct Worst(Hit, Metric);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        self.1
            .cmp(self.0.score, other.0.score)
            .then(self.0.row.cmp(&other.0.row))
    }
}

/// Exact top-`k` over `vectors` (row-major, `dim` floats per row), restricted to rows for
/// which `keep` is true. Results are best first.
pub fn brute_force(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    query: &[f32],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<Hit> {
    if k == 0 || dim == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Worst> = BinaryHeap::with_capacity(k + 1);
    for (row, v) in vectors.chunks_exact(dim).enumerate() {
        let row = row as u32;
        if !keep(row) {
            continue;
        }
        let s = score(metric, query, v);
        if heap.len() < k {
            heap.push(Worst(Hit { row, score: s }, metric));
        } else if metric.better(s, heap.peek().unwrap().0.score) {
            heap.pop();
            heap.push(Worst(Hit { row, score: s }, metric));
        }
    }
    let mut hits: Vec<Hit> = heap.into_iter().map(|w| w.0).collect();
    hits.sort_by(|a, b| metric.cmp(a.score, b.score).then(a.row.cmp(&b.row)));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_metric() {
        let v = [0.0, 0.0, 1.0, 0.0, 3.0, 4.0, -1.0, 0.0];
        let q = [1.0, 0.0];
        let l2 = brute_force(&v, 2, Metric::L2, &q, 2, &|_| true);
        assert_eq!(l2.iter().map(|h| h.row).collect::<Vec<_>>(), vec![1, 0]);
        assert_eq!(l2[0].score, 0.0);
        let ip = brute_force(&v, 2, Metric::Ip, &q, 4, &|_| true);
        assert_eq!(ip[0].row, 2);
        assert_eq!(ip[0].score, 3.0);
        let cos = brute_force(&v, 2, Metric::Cosine, &q, 1, &|r| r != 1);
        assert_eq!(cos[0].row, 2);
        assert!((cos[0].score - 0.6).abs() < 1e-6);
    }
}
