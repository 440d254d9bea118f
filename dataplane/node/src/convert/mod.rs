//! The one place where Milvus wire types and Quarry domain types meet: requests become the
//! engine's inputs (every parameter parsed and checked here), the engine's answers become
//! responses. Refers to no other module of the `quarry` crate: the fuzz crate compiles it
//! from source (fuzz/src/lib.rs).

mod collection;
mod columns;
mod compaction;
mod databases;
mod hybrid;
mod index;
mod mutation;
mod order_by;
mod params;
mod replicas;
mod rerank_fn;
mod results;
mod schema;
mod search;
mod templates;

pub use collection::{
    create_collection, describe_collection, flush_response, load_state, loading_progress,
    partitions_loaded, replica_number, row_count, show_collections, show_partitions,
    SHOW_IN_MEMORY,
};
pub use columns::{columns_from_proto, ids_to_proto, outputs_to_proto};
pub use compaction::{compaction_options, compaction_state};
pub use databases::{describe_alias, describe_database, list_aliases, list_databases};
pub use hybrid::hybrid_search;
pub use index::{describe_index, index_build_progress, index_params, index_state};
pub use mutation::{delete_result, insert, mutation_result, upsert, Mutation};
pub use params::{check_pairs, kv, shown, to_kv};
pub use replicas::get_replicas;
pub use rerank_fn::function_ranker;
pub use results::query_results;
pub use schema::{schema_from_bytes, schema_to_proto};
pub use search::{query, search, search_with, IterV2, QueryVectors};
pub use templates::templates;
// the parts the fuzz target (fuzz/fuzz_targets/convert.rs) and tests use on their own
#[allow(unused_imports)]
pub use columns::column_to_proto;
#[allow(unused_imports)]
pub use results::SearchAnswer;
#[allow(unused_imports)]
pub use search::{
    query_window, search_options, vectors_from_placeholder, QueryCall, SearchOptions,
};

use quarry_proto::common::Status;

pub type ConvResult<T> = Result<T, String>;

/// The status of a successful answer (`status::ok`, which this module cannot name).
fn success() -> Option<Status> {
    Some(Status::default())
}
