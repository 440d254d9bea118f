//! The vector index of one sealed segment, whatever its type: what the engine builds, stores as
//! bytes, loads and searches.

use crate::{Hit, HnswIndex, IndexError, IndexKind, IndexSpec, IvfIndex, SearchParams};

#[derive(Debug)]
pub enum SegmentIndex {
    Hnsw(HnswIndex),
    Ivf(IvfIndex),
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
            IndexKind::Hnsw { m, ef_construction } => Some(SegmentIndex::Hnsw(HnswIndex::build(
                vectors,
                dim,
                spec.metric,
                m,
                ef_construction,
            )?)),
            IndexKind::IvfFlat { .. } | IndexKind::IvfSq8 { .. } | IndexKind::IvfPq { .. } => Some(
                SegmentIndex::Ivf(IvfIndex::build(vectors, dim, spec.metric, &spec.kind)?),
            ),
        })
    }

    /// Reads an index file; `None` for FLAT (its file is a marker).
    pub fn from_bytes(
        bytes: &[u8],
        dim: usize,
        spec: &IndexSpec,
    ) -> Result<Option<Self>, IndexError> {
        Ok(match spec.kind {
            IndexKind::Flat => None,
            IndexKind::Hnsw { m, ef_construction } => Some(SegmentIndex::Hnsw(
                HnswIndex::from_bytes(bytes, dim, spec.metric, m, ef_construction)?,
            )),
            IndexKind::IvfFlat { .. } | IndexKind::IvfSq8 { .. } | IndexKind::IvfPq { .. } => Some(
                SegmentIndex::Ivf(IvfIndex::from_bytes(bytes, dim, spec.metric, &spec.kind)?),
            ),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, IndexError> {
        match self {
            SegmentIndex::Hnsw(i) => i.to_bytes(),
            SegmentIndex::Ivf(i) => Ok(i.to_bytes()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SegmentIndex::Hnsw(i) => i.len(),
            SegmentIndex::Ivf(i) => i.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        }
    }
}
