use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::{kernels, Hit, Metric};

pub(crate) fn score(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => kernels::l2sq(a, b),
        Metric::Ip => kernels::dot(a, b),
        Metric::Cosine => kernels::cosine(a, b),
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

/// The best `k` hits offered, ranked by score and then by row, so the result does not depend
/// on the order rows are offered in.
pub(crate) struct TopK {
    heap: BinaryHeap<Worst>,
    k: usize,
    metric: Metric,
}

impl TopK {
    pub(crate) fn new(k: usize, metric: Metric) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
            k,
            metric,
        }
    }

    pub(crate) fn push(&mut self, row: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        let hit = Worst(Hit { row, score }, self.metric);
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(worst) = self.heap.peek() {
            if hit.cmp(worst) == Ordering::Less {
                self.heap.pop();
                self.heap.push(hit);
            }
        }
    }

    /// The hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        let metric = self.metric;
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        hits.sort_by(|a, b| metric.cmp(a.score, b.score).then(a.row.cmp(&b.row)));
        hits
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
    let mut top = TopK::new(k, metric);
    for (row, v) in vectors.chunks_exact(dim).enumerate() {
        let row = row as u32;
        if keep(row) {
            top.push(row, score(metric, query, v));
        }
    }
    top.into_sorted()
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
