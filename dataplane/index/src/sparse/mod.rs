//! SparseFloatVector search under Milvus's IP metric: exact search over rows in their byte
//! form ([`quarry_types::sparse`]) for growing data and FLAT-less segments, and the inverted
//! index of a sealed segment (SPARSE_INVERTED_INDEX, SPARSE_WAND): per dimension a posting
//! list of (row, value), scored term at a time.
//!
//! The two drop ratios follow Milvus (knowhere's sparse index):
//! - `drop_ratio_build`: over all values of the segment, the smallest fraction is left out of
//!   the posting lists (the threshold is the value at that quantile; values below it go);
//! - `drop_ratio_search`: per query, its values below the quantile of its own values are
//!   left out of the search (exact search too, so that growing and sealed data agree).
//!
//! Scores are inner products of the (pruned) query with the (pruned) rows. As in Milvus, a
//! row whose score is 0 (no dimension in common with the query) is not a hit.
//!
//! Two evaluations of the lists give the same top-k: term at a time over every posting of
//! the query's dimensions (TAAT_NAIVE), and document at a time with MaxScore pruning
//! ([`maxscore`], for SPARSE_WAND and the DAAT algorithms), which skips rows that cannot enter
//! the top-k.

mod file;
mod maxscore;
#[cfg(test)]
mod tests;

use quarry_types::sparse::pairs;

use crate::flat::TopK;
use crate::text::bm25::{Bm25Query, Bm25Stats};
use crate::{Hit, Metric};

/// The value below which a `ratio` (in [0, 1)) of `values` lie; `None` when nothing is
/// dropped.
fn drop_threshold(mut values: Vec<f32>, ratio: f32) -> Option<f32> {
    if ratio <= 0.0 || values.is_empty() {
        return None;
    }
    let pos = ((ratio as f64 * values.len() as f64) as usize).min(values.len() - 1);
    let (_, nth, _) = values.select_nth_unstable_by(pos, |a, b| a.total_cmp(b));
    Some(*nth)
}

/// A query's pairs after `drop_ratio_search`.
pub fn prune_query(query: &[u8], drop_ratio_search: f32) -> Vec<(u32, f32)> {
    let all: Vec<(u32, f32)> = pairs(query).collect();
    match drop_threshold(all.iter().map(|p| p.1.abs()).collect(), drop_ratio_search) {
        None => all,
        Some(t) => all.into_iter().filter(|p| p.1.abs() >= t).collect(),
    }
}

/// Exact top-`k` by inner product over `count` rows (`row(i)` gives the byte form of row `i`),
/// among rows for which `keep` is true, best first; rows scoring 0 are not hits.
pub fn brute_force_sparse<'a>(
    count: usize,
    row: impl Fn(usize) -> &'a [u8],
    query: &[(u32, f32)],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<Hit> {
    if query.is_empty() {
        return Vec::new();
    }
    scan_top(count, row, k, keep, |r| dot_pairs(query, r))
}

/// Exact top-`k` over `count` sparse rows by `score` (larger is better), among rows for which
/// `keep` is true, best first; rows scoring 0 are not hits. The scan of every exact sparse
/// search (inner product, BM25).
pub(crate) fn scan_top<'a>(
    count: usize,
    row: impl Fn(usize) -> &'a [u8],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
    score: impl Fn(&[u8]) -> f32,
) -> Vec<Hit> {
    if k == 0 {
        return Vec::new();
    }
    let mut top = TopK::new(k, Metric::Ip);
    for i in 0..count {
        let r = i as u32;
        if !keep(r) {
            continue;
        }
        let s = score(row(i));
        if s != 0.0 {
            top.push(r, s);
        }
    }
    top.into_sorted()
}

/// Inner product of sorted query pairs with a row (a merge of both).
fn dot_pairs(query: &[(u32, f32)], row: &[u8]) -> f32 {
    let mut q = query.iter().peekable();
    let mut sum = 0.0f32;
    for (i, v) in pairs(row) {
        while q.next_if(|(j, _)| *j < i).is_some() {}
        match q.peek() {
            Some((j, u)) if *j == i => sum += u * v,
            Some(_) => {}
            None => break,
        }
    }
    sum
}

/// The largest absolute value of each posting list (`starts` delimits them).
fn max_vals(starts: &[usize], vals: &[f32]) -> Vec<f32> {
    starts
        .windows(2)
        .map(|w| vals[w[0]..w[1]].iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .collect()
}

/// Which of Milvus's sparse index types an index was created as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparseAlgo {
    Inverted,
    Wand,
}

/// How a search evaluates the lists (the same top-k either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparseEval {
    /// every posting of the query's dimensions, term at a time (TAAT_NAIVE)
    TermAtATime,
    /// document at a time with MaxScore pruning (DAAT_WAND, DAAT_MAXSCORE)
    MaxScore,
}

/// The inverted index of one segment's sparse rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseIndex {
    algo: SparseAlgo,
    eval: SparseEval,
    rows: usize,
    /// the dimensions with a posting list, increasing
    dims: Vec<u32>,
    /// posting list `d` is `post_rows[starts[d]..starts[d + 1]]` (and the same of `post_vals`)
    starts: Vec<usize>,
    post_rows: Vec<u32>,
    post_vals: Vec<f32>,
    /// the largest absolute value of each posting list
    max_vals: Vec<f32>,
    /// per row the sum of its kept values (a BM25 row's tokens)
    doc_len: Vec<f32>,
}

/// Per row the sum of its values in the posting lists.
fn doc_lens(rows: usize, post_rows: &[u32], post_vals: &[f32]) -> Vec<f32> {
    let mut len = vec![0.0f32; rows];
    for (r, v) in post_rows.iter().zip(post_vals) {
        len[*r as usize] += v;
    }
    len
}

impl SparseIndex {
    /// Builds the index over `rows` (byte forms, checked on insert), leaving out the smallest
    /// `drop_ratio_build` of all values. CPU-heavy: call it off the async runtime.
    pub fn build(
        rows: &[&[u8]],
        algo: SparseAlgo,
        eval: SparseEval,
        drop_ratio_build: f32,
    ) -> Self {
        let threshold = drop_threshold(
            rows.iter()
                .flat_map(|r| pairs(r).map(|p| p.1.abs()))
                .collect(),
            drop_ratio_build,
        );
        let mut entries: Vec<(u32, u32, f32)> = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            for (d, v) in pairs(row) {
                if threshold.is_none_or(|t| v.abs() >= t) {
                    entries.push((d, r as u32, v));
                }
            }
        }
        // by dimension, then row: every list in row order
        entries.sort_unstable_by_key(|e| (e.0, e.1));
        let mut index = SparseIndex {
            algo,
            eval,
            rows: rows.len(),
            dims: Vec::new(),
            starts: vec![0],
            post_rows: Vec::with_capacity(entries.len()),
            post_vals: Vec::with_capacity(entries.len()),
            max_vals: Vec::new(),
            doc_len: Vec::new(),
        };
        for (d, r, v) in entries {
            if index.dims.last() != Some(&d) {
                if !index.dims.is_empty() {
                    index.starts.push(index.post_rows.len());
                }
                index.dims.push(d);
            }
            index.post_rows.push(r);
            index.post_vals.push(v);
        }
        if !index.dims.is_empty() {
            index.starts.push(index.post_rows.len());
        }
        index.max_vals = max_vals(&index.starts, &index.post_vals);
        index.doc_len = doc_lens(index.rows, &index.post_rows, &index.post_vals);
        index
    }

    /// Adds this segment's rows to BM25 statistics (rows, tokens, rows per query dimension).
    pub fn bm25_stats(&self, stats: &mut Bm25Stats) {
        stats.docs += self.rows as u64;
        stats.tokens += self.doc_len.iter().map(|l| *l as f64).sum::<f64>();
        for (d, n) in stats.df.iter_mut() {
            if let Ok(at) = self.dims.binary_search(d) {
                *n += (self.starts[at + 1] - self.starts[at]) as u64;
            }
        }
    }

    /// Top-`k` by BM25 among rows for which `keep` is true, best first (term at a time).
    pub fn search_bm25(&self, query: &Bm25Query, k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<Hit> {
        if k == 0 || query.terms.is_empty() || self.rows == 0 {
            return Vec::new();
        }
        let mut scores = vec![0.0f32; self.rows];
        for (d, w) in &query.terms {
            let Ok(at) = self.dims.binary_search(d) else {
                continue;
            };
            let (s, e) = (self.starts[at], self.starts[at + 1]);
            for (r, tf) in self.post_rows[s..e].iter().zip(&self.post_vals[s..e]) {
                scores[*r as usize] += w * query.tf_part(*tf, self.doc_len[*r as usize]);
            }
        }
        let mut top = TopK::new(k, Metric::Ip);
        for (r, s) in scores.into_iter().enumerate() {
            if s != 0.0 && keep(r as u32) {
                top.push(r as u32, s);
            }
        }
        top.into_sorted()
    }

    pub fn eval(&self) -> SparseEval {
        self.eval
    }

    pub fn algo(&self) -> SparseAlgo {
        self.algo
    }

    /// Rows the index covers.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Values kept in the posting lists.
    pub fn postings(&self) -> usize {
        self.post_rows.len()
    }

    /// Top-`k` by inner product among rows for which `keep` is true, best first, for query
    /// pairs (already pruned by `drop_ratio_search`).
    pub fn search(&self, query: &[(u32, f32)], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<Hit> {
        if k == 0 || query.is_empty() || self.rows == 0 {
            return Vec::new();
        }
        if self.eval == SparseEval::MaxScore {
            return self.search_maxscore(query, k, keep);
        }
        let mut scores = vec![0.0f32; self.rows];
        for (d, u) in query {
            let Ok(at) = self.dims.binary_search(d) else {
                continue;
            };
            let (s, e) = (self.starts[at], self.starts[at + 1]);
            for (r, v) in self.post_rows[s..e].iter().zip(&self.post_vals[s..e]) {
                scores[*r as usize] += u * v;
            }
        }
        let mut top = TopK::new(k, Metric::Ip);
        for (r, s) in scores.into_iter().enumerate() {
            if s != 0.0 && keep(r as u32) {
                top.push(r as u32, s);
            }
        }
        top.into_sorted()
    }
}
