use std::cmp::Ordering;
use std::collections::BinaryHeap;

use quarry_types::{vector, DataType};

use crate::{kernels, Hit, Metric};

pub(crate) fn score(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => kernels::l2sq(a, b),
        // BM25 is a sparse metric: a dense field never has it (refused at index creation)
        Metric::Ip | Metric::Bm25 => kernels::dot(a, b),
        Metric::Cosine => kernels::cosine(a, b),
        // binary vectors as 0/1 values: the squared distance counts the differing bits
        Metric::Hamming => kernels::l2sq(a, b),
        Metric::Jaccard => kernels::jaccard(a, b),
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

    /// The score a new hit must beat once `k` hits are kept (`None` before).
    pub(crate) fn threshold(&self) -> Option<f32> {
        (self.k > 0 && self.heap.len() >= self.k)
            .then(|| self.heap.peek().map(|w| w.0.score))
            .flatten()
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
    let scorer = RowScorer::new(metric, query);
    for (row, v) in vectors.chunks_exact(dim).enumerate() {
        let row = row as u32;
        if keep(row) {
            top.push(row, scorer.dense(v));
        }
    }
    top.into_sorted()
}

/// Exact top-`k` over packed rows (BinaryVector, Float16Vector or BFloat16Vector bytes, `dim`
/// dimensions each) for a query in `f32` form (one 0/1 value per bit for binary vectors).
/// Binary rows are compared bitwise; 16-bit rows are widened one at a time.
pub fn brute_force_packed(
    data_type: DataType,
    rows: &[u8],
    dim: usize,
    metric: Metric,
    query: &[f32],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<Hit> {
    let width = vector::row_bytes(data_type, dim).unwrap_or(0);
    if k == 0 || width == 0 {
        return Vec::new();
    }
    let mut top = TopK::new(k, metric);
    let scorer = RowScorer::new(metric, query);
    let mut scratch = Vec::with_capacity(dim);
    for (row, v) in rows.chunks_exact(width).enumerate() {
        let row = row as u32;
        if keep(row) {
            top.push(row, scorer.packed_with(data_type, v, &mut scratch));
        }
    }
    top.into_sorted()
}

/// The score of stored rows for one query, row by row: what [`brute_force`] and
/// [`brute_force_packed`] rank, and what checks one row at a time (a range search's bound
/// applied while an index is walked, a graph's candidates re-scored) compute.
pub struct RowScorer {
    metric: Metric,
    query: Vec<f32>,
    /// the query's squared norm (COSINE)
    norm: f32,
    /// the query as bits, for binary rows
    bits: Vec<u8>,
}

impl RowScorer {
    pub fn new(metric: Metric, query: &[f32]) -> Self {
        Self {
            metric,
            query: query.to_vec(),
            norm: kernels::dot(query, query),
            bits: vector::encode(DataType::BinaryVector, query),
        }
    }

    /// A FloatVector row (`dim` floats).
    pub fn dense(&self, row: &[f32]) -> f32 {
        // COSINE: the query's norm once; scores equal `score`'s to the bit
        if self.metric == Metric::Cosine {
            let (d, n) = kernels::dot_and_norm(&self.query, row);
            return kernels::cosine_of(d, self.norm, n);
        }
        score(self.metric, &self.query, row)
    }

    /// A BinaryVector, Float16Vector or BFloat16Vector row in its byte form.
    pub fn packed(&self, data_type: DataType, row: &[u8]) -> f32 {
        self.packed_with(data_type, row, &mut Vec::new())
    }

    /// [`RowScorer::packed`], widening 16-bit rows into `scratch` (binary rows are compared
    /// bitwise).
    fn packed_with(&self, data_type: DataType, row: &[u8], scratch: &mut Vec<f32>) -> f32 {
        if data_type == DataType::BinaryVector {
            return match self.metric {
                Metric::Jaccard => kernels::jaccard_bytes(&self.bits, row),
                _ => kernels::hamming_bytes(&self.bits, row) as f32,
            };
        }
        scratch.clear();
        vector::decode_into(data_type, row, scratch);
        score(self.metric, &self.query, scratch)
    }
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

    #[test]
    fn binary_rows_rank_by_hamming_and_jaccard() {
        // 16-bit rows; query 0xF0 0x00 (bits 0-3 set)
        let rows = [
            0xF0, 0x00, // identical: hamming 0, jaccard 0
            0xF0, 0x0F, // 4 more bits: hamming 4, jaccard 1 - 4/8
            0x0F, 0x00, // disjoint: hamming 8, jaccard 1
            0xC0, 0x00, // subset of 2 bits: hamming 2, jaccard 1 - 2/4
        ];
        let q = vector::decode(DataType::BinaryVector, &[0xF0, 0x00]);
        let bin = DataType::BinaryVector;
        let h = brute_force_packed(bin, &rows, 16, Metric::Hamming, &q, 4, &|_| true);
        let got: Vec<(u32, f32)> = h.iter().map(|h| (h.row, h.score)).collect();
        assert_eq!(got, vec![(0, 0.0), (3, 2.0), (1, 4.0), (2, 8.0)]);
        let j = brute_force_packed(bin, &rows, 16, Metric::Jaccard, &q, 3, &|r| r != 0);
        let got: Vec<(u32, f32)> = j.iter().map(|h| (h.row, h.score)).collect();
        assert_eq!(got, vec![(1, 0.5), (3, 0.5), (2, 1.0)]);
        // the f32 form (0/1 per bit) scores the same
        let wide = vector::decode(bin, &rows);
        for metric in [Metric::Hamming, Metric::Jaccard] {
            let a = brute_force(&wide, 16, metric, &q, 4, &|_| true);
            let b = brute_force_packed(bin, &rows, 16, metric, &q, 4, &|_| true);
            assert_eq!(a, b);
        }
        // both empty: distance 0
        assert_eq!(kernels::jaccard_bytes(&[0, 0], &[0, 0]), 0.0);
    }

    #[test]
    fn a_row_scores_as_the_exact_search_scores_it() {
        let v = [1.0f32, 0.0, 0.0, 2.0, -1.0, 0.5];
        let q = [0.3, 0.7];
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            let scorer = RowScorer::new(metric, &q);
            for h in brute_force(&v, 2, metric, &q, 3, &|_| true) {
                let r = h.row as usize;
                assert_eq!(scorer.dense(&v[2 * r..2 * r + 2]), h.score, "{metric:?}");
            }
            let rows = vector::encode(DataType::Float16Vector, &v);
            for h in brute_force_packed(DataType::Float16Vector, &rows, 2, metric, &q, 3, &|_| true)
            {
                let r = h.row as usize;
                let got = scorer.packed(DataType::Float16Vector, &rows[4 * r..4 * r + 4]);
                assert_eq!(got, h.score, "{metric:?}");
            }
        }
        let rows = [0xF0u8, 0x0F, 0xC0, 0x00];
        let q = vector::decode(DataType::BinaryVector, &[0xF0, 0x00]);
        for metric in [Metric::Hamming, Metric::Jaccard] {
            let scorer = RowScorer::new(metric, &q);
            for h in brute_force_packed(DataType::BinaryVector, &rows, 16, metric, &q, 2, &|_| true)
            {
                let r = h.row as usize;
                let got = scorer.packed(DataType::BinaryVector, &rows[2 * r..2 * r + 2]);
                assert_eq!(got, h.score, "{metric:?}");
            }
        }
    }

    #[test]
    fn half_precision_rows_are_widened() {
        let v = [1.0f32, 0.0, 0.0, 2.0, -1.0, 0.5];
        let q = [1.0, 0.0];
        for t in [DataType::Float16Vector, DataType::BFloat16Vector] {
            let rows = vector::encode(t, &v);
            for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
                let a = brute_force(&v, 2, metric, &q, 3, &|_| true);
                let b = brute_force_packed(t, &rows, 2, metric, &q, 3, &|_| true);
                assert_eq!(a, b, "{t:?} {metric:?}");
            }
        }
    }
}
