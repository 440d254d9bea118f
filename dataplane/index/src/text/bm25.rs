//! BM25 as Milvus serves it: a BM25 function turns each VarChar value into a sparse row of
//! token counts (a token's dimension is a 32-bit hash of it), and a search scores rows against
//! the analyzed query with the collection's statistics:
//!
//! score(d) = Σ over query tokens t of  qtf(t) · idf(t) · tf(t, d) · (k1 + 1)
//!                                       / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
//!
//! with idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5)), N the number of rows, df(t) the
//! rows holding t, |d| the number of tokens of row d and avgdl their average. The statistics
//! ([`Bm25Stats`]) are gathered per search over the segments searched, as a Milvus shard
//! delegator does.

use std::collections::{BTreeMap, HashMap};

use quarry_types::sparse::pairs;
use serde::{Deserialize, Serialize};

use super::Analyzer;
use crate::Hit;

/// Milvus's defaults and ranges of the BM25 index parameters.
pub const DEFAULT_K1: f32 = 1.2;
pub const DEFAULT_B: f32 = 0.75;

/// The dimension of a token, as Milvus computes it: CRC32 (IEEE) of its first 100 UTF-8
/// bytes, modulo 2^32-1 (which sparse rows may not use). `RunAnalyzer`'s `with_hash` reports
/// the same number.
pub fn term_id(token: &str) -> u32 {
    let bytes = token.as_bytes();
    crc32fast::hash(&bytes[..bytes.len().min(100)]) % u32::MAX
}

/// The sparse row of a text: per token dimension its count, dimensions increasing.
pub fn counts_row(analyzer: &Analyzer, text: &str) -> Vec<u8> {
    let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
    for t in analyzer.tokens(text) {
        *counts.entry(term_id(&t)).or_insert(0.0) += 1.0;
    }
    let mut row = Vec::with_capacity(counts.len() * 8);
    for (d, c) in counts {
        row.extend_from_slice(&d.to_le_bytes());
        row.extend_from_slice(&c.to_le_bytes());
    }
    row
}

/// The BM25 knobs of an index (`bm25_k1` in [1.2, 2.0], `bm25_b` in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25 {
    pub k1: f32,
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 {
            k1: DEFAULT_K1,
            b: DEFAULT_B,
        }
    }
}

/// The statistics a search scores with: rows, their tokens in all, and per query dimension
/// the rows holding it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bm25Stats {
    pub docs: u64,
    pub tokens: f64,
    pub df: HashMap<u32, u64>,
}

impl Bm25Stats {
    /// Empty statistics counting the dimensions of `queries` (byte forms).
    pub fn for_queries<'a>(queries: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut s = Bm25Stats::default();
        for q in queries {
            for (d, _) in pairs(q) {
                s.df.insert(d, 0);
            }
        }
        s
    }

    /// Counts one row (byte form).
    pub fn add_row(&mut self, row: &[u8]) {
        self.docs += 1;
        for (d, v) in pairs(row) {
            self.tokens += v as f64;
            if let Some(n) = self.df.get_mut(&d) {
                *n += 1;
            }
        }
    }

    pub fn merge(&mut self, other: &Bm25Stats) {
        self.docs += other.docs;
        self.tokens += other.tokens;
        for (d, n) in &other.df {
            *self.df.entry(*d).or_insert(0) += n;
        }
    }

    pub fn avgdl(&self) -> f32 {
        if self.docs == 0 {
            1.0
        } else {
            ((self.tokens / self.docs as f64) as f32).max(f32::MIN_POSITIVE)
        }
    }

    fn idf(&self, d: u32) -> f32 {
        let n = self.docs as f64;
        let df = self.df.get(&d).copied().unwrap_or(0) as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
    }
}

/// A query ready to score rows: per dimension its weight (query count times idf).
#[derive(Debug, Clone, PartialEq)]
pub struct Bm25Query {
    pub terms: Vec<(u32, f32)>,
    pub k1: f32,
    pub b: f32,
    pub avgdl: f32,
}

impl Bm25Query {
    pub fn new(query: &[u8], stats: &Bm25Stats, knobs: Bm25) -> Self {
        Bm25Query {
            terms: pairs(query).map(|(d, c)| (d, c * stats.idf(d))).collect(),
            k1: knobs.k1,
            b: knobs.b,
            avgdl: stats.avgdl(),
        }
    }

    /// The weight of one occurrence count `tf` in a row of `len` tokens.
    #[inline]
    pub fn tf_part(&self, tf: f32, len: f32) -> f32 {
        tf * (self.k1 + 1.0) / (tf + self.k1 * (1.0 - self.b + self.b * len / self.avgdl))
    }

    /// The score of one row (byte form).
    pub fn score(&self, row: &[u8]) -> f32 {
        let len: f32 = pairs(row).map(|p| p.1).sum();
        let mut q = self.terms.iter().peekable();
        let mut sum = 0.0f32;
        for (i, tf) in pairs(row) {
            while q.next_if(|(j, _)| *j < i).is_some() {}
            match q.peek() {
                Some((j, w)) if *j == i => sum += w * self.tf_part(tf, len),
                Some(_) => {}
                None => break,
            }
        }
        sum
    }
}

/// Exact top-`k` by BM25 over `count` rows, among rows for which `keep` is true, best first;
/// rows sharing no token with the query are not hits.
pub fn brute_force_bm25<'a>(
    count: usize,
    row: impl Fn(usize) -> &'a [u8],
    query: &Bm25Query,
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<Hit> {
    if query.terms.is_empty() {
        return Vec::new();
    }
    crate::sparse::scan_top(count, row, k, keep, |r| query.score(r))
}
