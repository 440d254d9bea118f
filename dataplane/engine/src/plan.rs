//! Reads as the engine passes them down: the request (`SearchInput`, `QueryInput`), resolved
//! against the schema into a plan, sent to the shards (`ShardRead`) locally or through the
//! router, and what shards answer (`ShardAnswer`).

use std::collections::HashMap;

use quarry_index::text::bm25::Bm25;
use quarry_index::Metric;
use quarry_types::{DataType, Pk, Value};
use serde::{Deserialize, Serialize};

use crate::group::GroupPlan;
use crate::output::{OutputColumn, Outputs};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchInput {
    pub anns_field: String,
    pub metric: Option<String>,
    pub vectors: Vec<Vec<f32>>,
    pub topk: usize,
    pub offset: usize,
    pub filter: String,
    pub templates: HashMap<String, Value>,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
    pub ef: Option<usize>,
    /// IVF lists probed (the index's default when absent)
    pub nprobe: Option<usize>,
    pub radius: Option<f32>,
    pub range_filter: Option<f32>,
    /// a grouping search (`group_by_field`)
    pub group: Option<GroupBy>,
    /// the vector type the query vectors were sent as (FloatVector when absent); `vectors`
    /// hold their `f32` form (one 0/1 value per bit for binary vectors)
    #[serde(default)]
    pub vector_type: Option<DataType>,
    /// SparseFloatVector query rows in their byte form (`vectors` is then empty)
    #[serde(default)]
    pub sparse: Vec<Vec<u8>>,
    /// sparse searches: the fraction of each query's smallest values left out, in [0, 1)
    #[serde(default)]
    pub drop_ratio_search: Option<f32>,
    /// full-text searches: the query texts (`vector_type` VarChar), turned into `sparse` rows
    /// of token counts by the proxy's analyzer
    #[serde(default)]
    pub texts: Vec<String>,
    /// a refining graph (HNSW, HNSW_SQ with refine): re-score `topk · refine_k` candidates
    #[serde(default)]
    pub refine_k: Option<f32>,
}

impl SearchInput {
    /// The number of query vectors, dense or sparse.
    pub fn nq(&self) -> usize {
        self.vectors.len() + self.sparse.len() + self.texts.len()
    }
}

/// A grouping search as the client asks for it: at most `topk` groups of at most `size` hits,
/// grouped by the value of `field`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupBy {
    pub field: String,
    pub size: usize,
    pub strict: bool,
}

#[derive(Debug, Clone)]
pub struct SearchHits {
    /// per query vector: (primary key, score), best first
    pub per_query: Vec<Vec<(Pk, f32)>>,
    /// output columns row-aligned with the flattened hits
    pub outputs: Outputs,
    pub pk_field: String,
    /// the type of the primary key (how clients expect the hits' keys back)
    pub pk_type: DataType,
    pub metric: Metric,
    /// a grouping search: the group field's values, row-aligned with the flattened hits
    pub group_values: Option<OutputColumn>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueryInput {
    pub filter: String,
    pub templates: HashMap<String, Value>,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub enum QueryOutput {
    Count(u64),
    Rows(Outputs),
}

/// What a query answers: its rows (or count) and the collection's primary key field, which
/// clients get back with them.
#[derive(Debug, Clone)]
pub struct QueryAnswer {
    pub pk_field: String,
    pub output: QueryOutput,
}

/// A search resolved against the schema: everything a shard needs to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchPlan {
    pub input: SearchInput,
    pub field_index: usize,
    /// output field positions
    pub fields: Vec<usize>,
    pub metric: Metric,
    /// the vector index (HNSW, IVF) to use where a segment has it loaded
    pub index: Option<i64>,
    /// a grouping search: `topk + offset` counts groups
    pub group: Option<GroupPlan>,
    /// the partitions searched (resolved by the engine; empty: every partition)
    #[serde(default)]
    pub partition_ids: Vec<i64>,
    /// a full-text search (metric BM25): the index's knobs
    #[serde(default)]
    pub bm25: Option<Bm25>,
    /// rows written before this time (ms since the Unix epoch) are past the collection's time
    /// to live and left out; 0: none
    #[serde(default)]
    pub expire_before_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryPlan {
    pub input: QueryInput,
    pub fields: Vec<usize>,
    pub count_only: bool,
    /// the partitions queried (resolved by the engine; empty: every partition)
    #[serde(default)]
    pub partition_ids: Vec<i64>,
    /// as [`SearchPlan::expire_before_ms`]
    #[serde(default)]
    pub expire_before_ms: u64,
}

/// A read of some shards of a collection (one per request and shard set: its size is no
/// concern).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardRead {
    Search(SearchPlan),
    Query(QueryPlan),
}

impl ShardRead {
    /// The partitions the read covers (empty: every partition).
    pub fn partition_ids(&self) -> &[i64] {
        match self {
            ShardRead::Search(p) => &p.partition_ids,
            ShardRead::Query(p) => &p.partition_ids,
        }
    }
}

/// One hit or row: its key, score (searches) and the values of the output fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Found {
    pub pk: Pk,
    pub score: f32,
    pub values: Vec<Value>,
}

/// What a set of shards answers: per query vector the best `topk + offset` hits; or the
/// first `offset + limit` matching rows in key order; or a count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardAnswer {
    Search(Vec<Vec<Found>>),
    Rows(Vec<Found>),
    Count(u64),
}
