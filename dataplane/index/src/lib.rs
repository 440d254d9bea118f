//! Vector search for Quarry segments.
//!
//! - [`brute_force`]: exact search over a contiguous block of vectors (FLAT indexes, growing
//!   data, and the ground truth of recall tests).
//! - [`HnswIndex`]: an HNSW graph built with usearch, serializable to bytes.
//! - [`IvfIndex`]: IVF_FLAT, IVF_SQ8 and IVF_PQ: k-means cells with inverted lists of full,
//!   8-bit scalar-quantised or product-quantised vectors, serializable to bytes.
//! - [`SparseIndex`]: SPARSE_INVERTED_INDEX and SPARSE_WAND, posting lists per dimension of
//!   SparseFloatVector rows, and [`brute_force_sparse`], their exact search.
//! - [`ScalarIndex`]: INVERTED, STL_SORT, Trie and BITMAP over a scalar field: its values
//!   sorted with their rows, answering the filter's comparisons, `in` lists and prefixes.
//! - [`SegmentIndex`]: whichever of those a sealed segment has, behind one interface.
//!
//! Scores follow Milvus: L2 is the squared Euclidean distance (smaller is better), IP the inner
//! product and COSINE the cosine similarity (larger is better).

mod ef_gate;
mod flat;
mod hnsw;
pub(crate) mod ivf;
mod kernels;
mod kmeans;
mod scalar;
mod segment_index;
mod sparse;
mod sparse_spec;
mod spec;
pub mod text;

pub use flat::{brute_force, brute_force_packed, RowScorer};
pub use hnsw::HnswIndex;
pub use ivf::IvfIndex;
pub use scalar::{scalar_index_answers, ScalarIndex, ScalarKind};
pub use segment_index::SegmentIndex;
pub use sparse::{brute_force_sparse, prune_query, SparseAlgo, SparseEval, SparseIndex};
pub use sparse_spec::{check_drop_ratio, drop_ratio};
pub use spec::{
    check_nprobe, IndexKind, IndexSpec, Metric, SearchParams, SqType, DEFAULT_NBITS, DEFAULT_NLIST,
    DEFAULT_NPROBE, MAX_NBITS, MAX_NLIST, MAX_NPROBE,
};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("invalid index parameter: {0}")]
    InvalidParam(String),
    #[error("index type {0} is not supported by quarry yet (supported: FLAT, HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_FLAT, BIN_IVF_FLAT, SPARSE_INVERTED_INDEX, SPARSE_WAND, AUTOINDEX)")]
    UnsupportedType(String),
    #[error("metric type {0} is not supported (supported: L2, IP, COSINE, HAMMING, JACCARD)")]
    UnsupportedMetric(String),
    /// An index type, metric or parameter that does not fit the field's vector type.
    #[error("{0}")]
    NotForType(String),
    #[error("vector index failure: {0}")]
    Native(String),
}

/// One search hit inside a segment: the row number and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub row: u32,
    pub score: f32,
}
