//! The vector index of one sealed segment, whatever its type: what the engine builds, stores as
//! bytes, loads and searches.

use crate::text::bm25::{Bm25Query, Bm25Stats};
use crate::{
    prune_query, Hit, HnswIndex, IndexError, IndexKind, IndexSpec, IvfIndex, ScalarIndex,
    SearchParams, SparseAlgo, SparseEval, SparseIndex,
};

#[derive(Debug)]
pub enum SegmentIndex {
    Hnsw(HnswIndex),
    Ivf(IvfIndex),
    Sparse(SparseIndex),
    /// a scalar field's index, which answers filters, not searches
    Scalar(ScalarIndex),
}

fn sparse_algo(wand: bool) -> SparseAlgo {
    if wand {
        SparseAlgo::Wand
    } else {
        SparseAlgo::Inverted
    }
}

fn sparse_eval(maxscore: bool) -> SparseEval {
    if maxscore {
        SparseEval::MaxScore
    } else {
        SparseEval::TermAtATime
    }
}

impl SegmentIndex {
    /// Builds the index `spec` describes over `vectors` (row-major, `dim` floats per row);
    /// `None` for FLAT, which searches the segment's vectors directly. CPU-heavy: call it off
    /// the async runtime.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        spec: &IndexSpec,
    ) -> Result<Option<Self>, IndexError> {
        Ok(match spec.kind {
            IndexKind::Flat => None,
            IndexKind::Hnsw { .. } | IndexKind::HnswSq { .. } => spec
                .kind
                .graph()
                .map(|(m, efc, sq)| HnswIndex::build(vectors, dim, spec.metric, m, efc, sq))
                .transpose()?
                .map(SegmentIndex::Hnsw),
            IndexKind::IvfFlat { .. } | IndexKind::IvfSq8 { .. } | IndexKind::IvfPq { .. } => Some(
                SegmentIndex::Ivf(IvfIndex::build(vectors, dim, spec.metric, &spec.kind)?),
            ),
            IndexKind::Sparse { .. } => {
                return Err(IndexError::NotForType(
                    "a sparse index is built from sparse rows".into(),
                ))
            }
        })
    }

    /// Builds a sparse index (SPARSE_INVERTED_INDEX, SPARSE_WAND) over SparseFloatVector rows
    /// in their byte form. CPU-heavy: call it off the async runtime.
    pub fn build_sparse(rows: &[&[u8]], spec: &IndexSpec) -> Result<Self, IndexError> {
        match spec.kind {
            IndexKind::Sparse {
                wand,
                drop_ratio_build,
                maxscore,
                ..
            } => Ok(SegmentIndex::Sparse(SparseIndex::build(
                rows,
                sparse_algo(wand),
                sparse_eval(maxscore),
                drop_ratio_build,
            ))),
            _ => Err(IndexError::NotForType(
                "sparse rows take a sparse index".into(),
            )),
        }
    }

    /// Reads an index file; `None` for FLAT (its file is a marker).
    pub fn from_bytes(
        bytes: &[u8],
        dim: usize,
        spec: &IndexSpec,
    ) -> Result<Option<Self>, IndexError> {
        Ok(match spec.kind {
            IndexKind::Flat => None,
            IndexKind::Hnsw { .. } | IndexKind::HnswSq { .. } => spec
                .kind
                .graph()
                .map(|(m, efc, sq)| HnswIndex::from_bytes(bytes, dim, spec.metric, m, efc, sq))
                .transpose()?
                .map(SegmentIndex::Hnsw),
            IndexKind::IvfFlat { .. } | IndexKind::IvfSq8 { .. } | IndexKind::IvfPq { .. } => Some(
                SegmentIndex::Ivf(IvfIndex::from_bytes(bytes, dim, spec.metric, &spec.kind)?),
            ),
            IndexKind::Sparse { wand, maxscore, .. } => Some(SegmentIndex::Sparse(
                SparseIndex::from_bytes(bytes, sparse_algo(wand), sparse_eval(maxscore))?,
            )),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, IndexError> {
        match self {
            SegmentIndex::Hnsw(i) => i.to_bytes(),
            SegmentIndex::Ivf(i) => Ok(i.to_bytes()),
            SegmentIndex::Sparse(i) => Ok(i.to_bytes()),
            SegmentIndex::Scalar(i) => Ok(i.to_bytes()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SegmentIndex::Hnsw(i) => i.len(),
            SegmentIndex::Ivf(i) => i.len(),
            SegmentIndex::Sparse(i) => i.len(),
            SegmentIndex::Scalar(i) => i.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many candidates to ask for when the best `k` are wanted: a graph holding 16-bit
    /// vectors gives more than `k` ([`HnswIndex::beam`]), for the caller to re-score from the
    /// `f32` vectors (`Some`); other indexes score exactly (`None`: ask for `k`).
    pub fn refine_candidates(&self, k: usize, params: &SearchParams) -> Option<usize> {
        match self {
            SegmentIndex::Hnsw(i) if i.refines() => Some(i.beam(k, params)),
            _ => None,
        }
    }

    /// The scalar index, when this is one.
    pub fn scalar(&self) -> Option<&ScalarIndex> {
        match self {
            SegmentIndex::Scalar(i) => Some(i),
            _ => None,
        }
    }

    /// Top-`k` among rows for which `keep` is true (`None`: every row), best first, with
    /// Milvus scores (`ef` steers HNSW, `nprobe` IVF).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        keep: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Result<Vec<Hit>, IndexError> {
        match (self, keep) {
            (SegmentIndex::Hnsw(i), None) => i.search_all(query, k, params),
            (SegmentIndex::Hnsw(i), Some(keep)) => i.search(query, k, params, keep),
            (SegmentIndex::Ivf(i), keep) => i.search(query, k, params, keep.unwrap_or(&|_| true)),
            (SegmentIndex::Sparse(_), _) => Err(IndexError::NotForType(
                "a sparse index is searched with a sparse query".into(),
            )),
            (SegmentIndex::Scalar(_), _) => Err(IndexError::NotForType(
                "a scalar index answers filters, not vector searches".into(),
            )),
        }
    }

    /// [`SegmentIndex::search`] for a search whose predicate holds a lower bound on the score
    /// (`range_filter`: a search iterator's pages past the first): the rows past it lie in
    /// ever farther IVF cells, so IVF probes four times more cells while fewer than `k` rows
    /// pass and cells remain. The other indexes walk on to such rows by themselves.
    pub fn search_past_bound(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        keep: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        let SegmentIndex::Ivf(ivf) = self else {
            return self.search(query, k, params, Some(keep));
        };
        let mut params = params.clone();
        let mut nprobe = params.nprobe.unwrap_or(crate::spec::DEFAULT_NPROBE).max(1);
        loop {
            let hits = ivf.search(query, k, &params, keep)?;
            if hits.len() >= k || nprobe >= ivf.nlist() {
                return Ok(hits);
            }
            nprobe = nprobe.saturating_mul(4).min(ivf.nlist());
            params.nprobe = Some(nprobe);
        }
    }

    /// Top-`k` of a sparse index for a sparse query (byte form), `drop_ratio_search` of the
    /// parameters applied to the query.
    pub fn search_sparse(
        &self,
        query: &[u8],
        k: usize,
        params: &SearchParams,
        keep: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        match self {
            SegmentIndex::Sparse(i) => {
                let q = prune_query(query, params.drop_ratio_search.unwrap_or(0.0));
                Ok(i.search(&q, k, keep))
            }
            _ => Err(IndexError::NotForType(
                "a dense index is searched with a dense query".into(),
            )),
        }
    }

    /// Top-`k` of a sparse index by BM25 for a weighted query; adds the segment's statistics
    /// with [`SegmentIndex::bm25_stats`] first.
    pub fn search_bm25(
        &self,
        query: &Bm25Query,
        k: usize,
        keep: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        match self {
            SegmentIndex::Sparse(i) => Ok(i.search_bm25(query, k, keep)),
            _ => Err(IndexError::NotForType(
                "a dense index is searched with a dense query".into(),
            )),
        }
    }

    /// Adds a sparse index's rows to BM25 statistics (other indexes add nothing).
    pub fn bm25_stats(&self, stats: &mut Bm25Stats) {
        if let SegmentIndex::Sparse(i) = self {
            i.bm25_stats(stats);
        }
    }
}
