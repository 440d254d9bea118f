use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::ef_gate::EfGate;
use crate::kernels;
use crate::spec::Quantized;
use crate::{Hit, IndexError, Metric, SearchParams, SqType};

/// An HNSW graph over one sealed segment; keys are row numbers.
pub struct HnswIndex {
    index: Index,
    metric: Metric,
    /// Searches with different `ef` take turns (see `ef_gate`).
    ef: EfGate,
    /// whether the engine re-scores the candidates from the `f32` vectors
    refine: bool,
}

/// Graphs of fewer rows are built on one thread: concurrent insertion costs a graph a little
/// quality (about one row in 200 no longer finds itself at `ef` 64), which a small graph's
/// short build does not need to pay.
const PARALLEL_BUILD_ROWS: usize = 20_000;

/// `ef` of a search that names none.
const DEFAULT_EF: usize = 64;

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("rows", &self.index.size())
            .field("metric", &self.metric)
            .finish()
    }
}

fn native(e: impl std::fmt::Display) -> IndexError {
    IndexError::Native(e.to_string())
}

/// How a graph built now holds its vectors: in 16 bits, which halves the bytes a walk reads
/// (about 1.6x the searches per second on GloVe-50d at the same recall); the engine re-scores
/// the walk's candidates from the segment's own `f32` vectors ([`HnswIndex::refines`]), so
/// scores and the final order are exact. Unit vectors (COSINE) take IEEE half precision (more
/// mantissa, and their range fits); other metrics bfloat16, which keeps `f32`'s range.
fn scalar_for(metric: Metric, sq: Quantized) -> ScalarKind {
    match (sq, metric) {
        (Some((SqType::Sq8, _)), _) => ScalarKind::I8,
        (Some((SqType::Fp16, _)), _) | (None, Metric::Cosine) => ScalarKind::F16,
        (Some((SqType::Bf16, _)), _) | (None, _) => ScalarKind::BF16,
    }
}

fn options(
    dim: usize,
    metric: Metric,
    m: usize,
    ef_construction: usize,
    scalar: ScalarKind,
) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: match metric {
            Metric::L2 => MetricKind::L2sq,
            Metric::Ip | Metric::Bm25 => MetricKind::IP,
            // 8-bit vectors: usearch's own cosine over its unit-length quantisation
            Metric::Cosine if scalar == ScalarKind::I8 => MetricKind::Cos,
            // unit vectors under inner product: one product a comparison instead of three
            Metric::Cosine => MetricKind::IP,
            // binary vectors are not given to HNSW (refused when the index is created)
            Metric::Hamming | Metric::Jaccard => MetricKind::L2sq,
        },
        quantization: scalar,
        connectivity: m,
        expansion_add: ef_construction,
        expansion_search: DEFAULT_EF,
        multi: false,
    }
}

/// Searches running at once on one index (each needs a usearch thread context; beyond this
/// number usearch refuses a search). A context costs about one bit per indexed row.
const SEARCH_THREADS: usize = 64;

fn allow_concurrent_searches(index: &Index) -> Result<(), IndexError> {
    index
        .reserve_capacity_and_threads(index.size().max(1), SEARCH_THREADS)
        .map_err(native)
}

impl HnswIndex {
    /// Builds the graph over `vectors` (row-major, `dim` floats per row; COSINE: each scaled
    /// to unit length, searched by inner product) with every thread of
    /// the current rayon pool adding rows at once (usearch takes concurrent `add`s once it has
    /// a context per thread reserved; the tests check recall and self-matches of such builds).
    /// CPU-heavy: call it off the async runtime.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        m: usize,
        ef_construction: usize,
        sq: Quantized,
    ) -> Result<Self, IndexError> {
        let opts = options(dim, metric, m, ef_construction, scalar_for(metric, sq));
        let index = Index::new(&opts).map_err(native)?;
        let rows = vectors.len() / dim.max(1);
        let threads = rayon::current_num_threads().max(1);
        index
            .reserve_capacity_and_threads(rows.max(1), threads.max(SEARCH_THREADS))
            .map_err(native)?;
        let add = |(row, v): (usize, &[f32])| {
            if metric == Metric::Cosine {
                index.add(row as u64, &kernels::normalized(v))
            } else {
                index.add(row as u64, v)
            }
            .map_err(native)
        };
        if rows < PARALLEL_BUILD_ROWS {
            vectors
                .chunks_exact(dim.max(1))
                .enumerate()
                .try_for_each(add)?;
        } else {
            vectors
                .par_chunks_exact(dim.max(1))
                .enumerate()
                .try_for_each(add)?;
        }
        allow_concurrent_searches(&index)?;
        Ok(Self {
            index,
            metric,
            ef: EfGate::new(DEFAULT_EF),
            refine: sq.is_none_or(|(_, refine)| refine),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, IndexError> {
        let mut buf = vec![0u8; self.index.serialized_length()];
        self.index.save_to_buffer(&mut buf).map_err(native)?;
        Ok(buf)
    }

    pub fn from_bytes(
        bytes: &[u8],
        dim: usize,
        metric: Metric,
        m: usize,
        ef_construction: usize,
        sq: Quantized,
    ) -> Result<Self, IndexError> {
        // graphs of earlier versions hold `f32` vectors: the file says which
        let scalar = Index::metadata_from_buffer(bytes)
            .map_err(native)?
            .quantization;
        let opts = options(dim, metric, m, ef_construction, scalar);
        let index = Index::new(&opts).map_err(native)?;
        index.load_from_buffer(bytes).map_err(native)?;
        if index.dimensions() != dim {
            return Err(IndexError::Native(format!(
                "index file has dim {} where {dim} was expected",
                index.dimensions()
            )));
        }
        allow_concurrent_searches(&index)?;
        Ok(Self {
            index,
            metric,
            ef: EfGate::new(DEFAULT_EF),
            // HNSW: re-scored unless an earlier version's f32 graph
            refine: sq.map_or(scalar != ScalarKind::F32, |(_, refine)| refine),
        })
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// Whether the graph holds its vectors in less than `f32`: its scores are then close, not
    /// exact, and a caller holding the `f32` vectors should re-score the candidates (asking for
    /// `ef` of them costs the walk nothing more).
    pub fn refines(&self) -> bool {
        self.refine
    }

    /// The candidates to re-score for the best `k`: the best of the walk's beam (its `ef`)
    /// by 16-bit scores, enough that the exact best `k` are among them (16-bit scores err far
    /// less than the gaps between a few ranks).
    /// A search's `refine_k` asks for `k · refine_k` instead (the walk widens to them).
    pub fn beam(&self, k: usize, params: &SearchParams) -> usize {
        if let Some(r) = params.refine_k {
            let n = (k as f64 * f64::from(r)).ceil();
            return (n.min(quarry_types::limits::MAX_TOPK as f64) as usize).max(k);
        }
        let ef = params.ef.unwrap_or(DEFAULT_EF).max(k);
        k.saturating_mul(2).max(k + 16).min(ef)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate top-`k` among rows for which `keep` is true, best first, with Milvus scores.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        keep: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        self.run(query, k, params, Some(keep))
    }

    /// Approximate top-`k` among all rows (no predicate to call on each visited node).
    pub fn search_all(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Hit>, IndexError> {
        self.run(query, k, params, None)
    }

    fn run(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        keep: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Result<Vec<Hit>, IndexError> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        // a COSINE graph holds unit vectors under IP (see `build`); so the query too (a graph
        // of an older build, under usearch's own cosine, scores it the same)
        let unit;
        let query = if self.metric == Metric::Cosine {
            unit = kernels::normalized(query);
            &unit[..]
        } else {
            query
        };
        // ef is one setting of the whole usearch index: the gate keeps it fixed while searches
        // run, so each search runs with its own ef
        let ef = params.ef.unwrap_or(DEFAULT_EF).max(k);
        let matches = {
            let _pass = self
                .ef
                .enter(ef, |ef| self.index.change_expansion_search(ef));
            debug_assert_eq!(self.index.expansion_search(), ef);
            match keep {
                Some(keep) => self.index.filtered_search(query, k, |key| keep(key as u32)),
                None => self.index.search(query, k),
            }
            .map_err(native)?
        };
        Ok(matches
            .keys
            .iter()
            .zip(&matches.distances)
            .map(|(key, d)| Hit {
                row: *key as u32,
                score: match self.metric {
                    Metric::L2 | Metric::Hamming | Metric::Jaccard => *d,
                    Metric::Ip | Metric::Cosine | Metric::Bm25 => 1.0 - d,
                },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{brute_force, SqType};

    fn data(n: usize, dim: usize) -> Vec<f32> {
        // deterministic pseudo-random vectors
        let mut x = 0x2545F4914F6CDD1Du64;
        (0..n * dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn recall_and_round_trip() {
        let (n, dim) = (2000, 16);
        let v = data(n, dim);
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            let idx = HnswIndex::build(&v, dim, metric, 16, 100, None).unwrap();
            let idx = HnswIndex::from_bytes(&idx.to_bytes().unwrap(), dim, metric, 16, 100, None)
                .unwrap();
            assert_eq!(idx.len(), n);
            let mut found = 0;
            for q in 0..50 {
                let query = &v[q * 7 * dim..(q * 7 + 1) * dim];
                let exact = brute_force(&v, dim, metric, query, 10, &|_| true);
                let approx = idx
                    .search(
                        query,
                        10,
                        &SearchParams {
                            ef: Some(128),
                            nprobe: None,
                            ..Default::default()
                        },
                        &|_| true,
                    )
                    .unwrap();
                // 16-bit vectors: close scores (the engine re-scores from f32 vectors)
                assert!(
                    (approx[0].score - exact[0].score).abs() < 1e-2 * exact[0].score.abs().max(1.0),
                    "{metric:?} scores agree: {:?} vs {:?}",
                    approx[0],
                    exact[0]
                );
                found += approx
                    .iter()
                    .filter(|h| exact.iter().any(|e| e.row == h.row))
                    .count();
            }
            assert!(found as f64 / 500.0 > 0.9, "{metric:?} recall {found}/500");
            let odd = idx
                .search(&v[..dim], 5, &SearchParams::default(), &|r| r % 2 == 1)
                .unwrap();
            assert!(odd.iter().all(|h| h.row % 2 == 1));
        }
    }

    #[test]
    fn graphs_of_older_builds_under_usearch_cosine_still_score_right() {
        let (n, dim) = (300, 8);
        let v = data(n, dim);
        let old = Index::new(&IndexOptions {
            metric: MetricKind::Cos,
            ..options(dim, Metric::Cosine, 8, 32, ScalarKind::F32)
        })
        .unwrap();
        old.reserve(n).unwrap();
        for (row, x) in v.chunks_exact(dim).enumerate() {
            old.add(row as u64, x).unwrap();
        }
        let mut bytes = vec![0u8; old.serialized_length()];
        old.save_to_buffer(&mut bytes).unwrap();
        let loaded = HnswIndex::from_bytes(&bytes, dim, Metric::Cosine, 8, 32, None).unwrap();
        let built = HnswIndex::build(&v, dim, Metric::Cosine, 8, 32, None).unwrap();
        // a query that is not of unit length
        let query: Vec<f32> = v[..dim].iter().map(|x| x * 3.0).collect();
        let exact = brute_force(&v, dim, Metric::Cosine, &query, 1, &|_| true);
        // the old graph keeps its f32 vectors (exact scores); a new one holds half precision
        assert!(!loaded.refines() && built.refines());
        for (idx, within) in [(&loaded, 1e-4), (&built, 2e-3)] {
            let hits = idx.search_all(&query, 1, &SearchParams::default()).unwrap();
            assert_eq!(hits[0].row, exact[0].row);
            assert!(
                (hits[0].score - exact[0].score).abs() < within,
                "{hits:?} vs {exact:?}"
            );
        }
        let reloaded =
            HnswIndex::from_bytes(&built.to_bytes().unwrap(), dim, Metric::Cosine, 8, 32, None);
        assert!(reloaded.unwrap().refines());
    }

    #[test]
    fn parallel_builds_keep_recall_and_find_every_row_itself() {
        let (n, dim) = (PARALLEL_BUILD_ROWS + 4000, 16);
        let v = data(n, dim);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for metric in [Metric::L2, Metric::Cosine] {
            let idx = pool.install(|| HnswIndex::build(&v, dim, metric, 16, 100, None).unwrap());
            assert_eq!(idx.len(), n);
            let params = SearchParams {
                ef: Some(64),
                ..SearchParams::default()
            };
            let mut itself = 0;
            let mut found = 0;
            for row in 0..n {
                let query = &v[row * dim..(row + 1) * dim];
                let hits = idx.search(query, 10, &params, &|_| true).unwrap();
                itself += usize::from(hits.first().is_some_and(|h| h.row == row as u32));
                if row % 240 == 0 {
                    let exact = brute_force(&v, dim, metric, query, 10, &|_| true);
                    found += hits
                        .iter()
                        .filter(|h| exact.iter().any(|e| e.row == h.row))
                        .count();
                }
            }
            assert!(
                itself >= n * 99 / 100,
                "{metric:?}: {itself}/{n} rows find themselves"
            );
            assert!(
                found as f64 / 1000.0 > 0.9,
                "{metric:?} recall {found}/1000"
            );
        }
    }

    #[test]
    fn concurrent_searches_on_built_and_loaded_indexes() {
        let (n, dim) = (500, 8);
        let v = data(n, dim);
        let built = HnswIndex::build(&v, dim, Metric::L2, 8, 32, None).unwrap();
        let loaded =
            HnswIndex::from_bytes(&built.to_bytes().unwrap(), dim, Metric::L2, 8, 32, None)
                .unwrap();
        for index in [&built, &loaded] {
            std::thread::scope(|scope| {
                for t in 0..16 {
                    let v = &v;
                    scope.spawn(move || {
                        for q in 0..50 {
                            let row = (t * 50 + q) % n;
                            let hits = index
                                .search(
                                    &v[row * dim..(row + 1) * dim],
                                    1,
                                    &SearchParams {
                                        ef: Some(32),
                                        nprobe: None,
                                        ..Default::default()
                                    },
                                    &|_| true,
                                )
                                .unwrap();
                            assert_eq!(hits.len(), 1);
                        }
                    });
                }
            });
        }
    }

    #[test]
    fn concurrent_searches_each_use_their_own_ef() {
        let (n, dim) = (3000, 16);
        let v = data(n, dim);
        let index = HnswIndex::build(&v, dim, Metric::L2, 4, 16, None).unwrap();
        let efs = [10usize, 24, 200];
        let query = |q: usize, ef: usize| {
            index
                .search(
                    &v[q * dim..(q + 1) * dim],
                    10,
                    &SearchParams {
                        ef: Some(ef),
                        nprobe: None,
                        ..Default::default()
                    },
                    &|_| true,
                )
                .unwrap()
        };
        // what each (query, ef) answers when it runs alone
        let alone: Vec<Vec<Vec<Hit>>> = (0..40)
            .map(|q| efs.iter().map(|&ef| query(q, ef)).collect())
            .collect();
        std::thread::scope(|scope| {
            for t in 0..6 {
                let (alone, query) = (&alone, &query);
                scope.spawn(move || {
                    for round in 0..60 {
                        let q = (t * 7 + round) % 40;
                        let e = (t + round) % efs.len();
                        assert_eq!(
                            query(q, efs[e]),
                            alone[q][e],
                            "query {q} with ef {}",
                            efs[e]
                        );
                    }
                });
            }
        });
    }

    #[test]
    fn hnsw_sq_graphs_hold_what_they_were_asked_for() {
        let (n, dim) = (1500, 16);
        let v = data(n, dim);
        let params = SearchParams {
            ef: Some(128),
            ..Default::default()
        };
        for (metric, sq) in [
            (Metric::Cosine, SqType::Sq8),
            (Metric::L2, SqType::Fp16),
            (Metric::Ip, SqType::Bf16),
        ] {
            for refine in [false, true] {
                let built = HnswIndex::build(&v, dim, metric, 16, 100, Some((sq, refine))).unwrap();
                let bytes = built.to_bytes().unwrap();
                let idx = HnswIndex::from_bytes(&bytes, dim, metric, 16, 100, Some((sq, refine)));
                let idx = idx.unwrap();
                assert_eq!(idx.refines(), refine, "{metric:?} {sq:?}");
                let mut found = 0;
                for q in 0..40 {
                    let query = &v[q * 11 * dim..(q * 11 + 1) * dim];
                    let exact = brute_force(&v, dim, metric, query, 10, &|_| true);
                    let approx = idx.search_all(query, 10, &params).unwrap();
                    // close scores from the quantised vectors
                    let tolerance = if sq == SqType::Sq8 { 0.05 } else { 0.02 };
                    let gap = (approx[0].score - exact[0].score).abs();
                    assert!(
                        gap < tolerance * exact[0].score.abs().max(1.0),
                        "{metric:?} {sq:?}"
                    );
                    found += approx
                        .iter()
                        .filter(|h| exact.iter().any(|e| e.row == h.row))
                        .count();
                }
                assert!(
                    found as f64 / 400.0 > 0.85,
                    "{metric:?} {sq:?} recall {found}/400"
                );
            }
        }
        // refine_k widens the candidates re-scored
        let idx = HnswIndex::build(&v, dim, Metric::L2, 16, 100, None).unwrap();
        let wide = SearchParams {
            refine_k: Some(3.5),
            ..Default::default()
        };
        assert_eq!(idx.beam(10, &wide), 35);
        // however large, no more candidates than a search may ask for
        let huge = SearchParams {
            refine_k: Some(1e30),
            ..Default::default()
        };
        assert_eq!(idx.beam(10, &huge), quarry_types::limits::MAX_TOPK);
        assert_eq!(idx.beam(10, &SearchParams::default()), 26);
    }
}
