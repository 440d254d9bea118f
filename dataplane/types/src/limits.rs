//! Every bound Quarry puts on a request, in one place. Each number here is checked on the
//! request path before any work proportional to it is done (nothing is allocated for a size a
//! request only claims), and a request over a bound is refused with a Milvus-style error status
//! that names the bound; nothing is changed. `docs/limits.md` lists them for users (a test in
//! this crate compares the two).
//!
//! Where Milvus has the same bound, the number is Milvus's default.

/// Vector dimension of a vector field (Milvus `proxy.maxDimension`).
pub const MAX_DIM: usize = 32768;

/// Non-zero values of one SparseFloatVector row (8 bytes each on the wire and at rest).
pub const MAX_SPARSE_NNZ: usize = 65536;

/// `max_length` of a VarChar field, in bytes.
pub const MAX_VARCHAR: usize = 65535;

/// `max_capacity` of an Array field: elements of one row (Milvus `proxy.maxArrayCapacity`).
pub const MAX_ARRAY_CAPACITY: usize = 4096;

/// Bytes of one JSON value (Milvus `common.json.maxLength`, 64 KiB).
pub const MAX_JSON_BYTES: usize = 65536;

/// Shards of one collection.
pub const MAX_SHARDS: u32 = 16;

/// Fields of one collection, not counting the dynamic `$meta` field (Milvus `proxy.maxFieldNum`).
pub const MAX_FIELDS: usize = 64;

/// Collections in one Quarry instance (Milvus `quotaAndLimits.limits.maxCollectionNum`).
pub const MAX_COLLECTIONS: usize = 65536;

/// Databases in one Quarry instance, `default` included (Milvus `rootCoord.maxDatabaseNum`).
pub const MAX_DATABASES: usize = 64;

/// Aliases of one collection.
pub const MAX_ALIASES_PER_COLLECTION: usize = 64;

/// Partitions of one collection, `_default` included, and the `num_partitions` of a
/// partition-key collection (Milvus `rootCoord.maxPartitionNum`).
pub const MAX_PARTITIONS: usize = 1024;

/// Bytes of a collection, field, index or alias name (Milvus `proxy.maxNameLength`).
pub const MAX_NAME_BYTES: usize = 255;

/// Bytes of a collection or field description.
pub const MAX_DESCRIPTION_BYTES: usize = 65536;

/// Key-value pairs of a collection's properties, of a field's type or index parameters and of
/// an index's parameters, and the bytes of one key or value.
pub const MAX_PROPERTIES: usize = 64;
pub const MAX_PROPERTY_BYTES: usize = 65536;

/// Users of one Quarry instance (Milvus `proxy.maxUserNum`).
pub const MAX_USERS: usize = 100;

/// Bytes of a user name (Milvus `proxy.maxUsernameLength`).
pub const MAX_USERNAME_BYTES: usize = 32;

/// Bytes of a password, at least and at most (Milvus `proxy.minPasswordLength` and
/// `proxy.maxPasswordLength`).
pub const MIN_PASSWORD_BYTES: usize = 6;
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Query vectors in one search (Milvus `nq` bound).
pub const MAX_NQ: usize = 16384;

/// `limit + offset` of a search (topk) and of a query (Milvus `quotaAndLimits.limits.maxTopK`
/// and the query result window).
pub const MAX_TOPK: usize = 16384;

/// Ann search requests of one hybrid search (Milvus `defaultMaxSearchRequest`).
pub const MAX_HYBRID_REQUESTS: usize = 1024;

/// `group_size` of a grouping search: hits per group (Milvus
/// `quotaAndLimits.limits.maxGroupSize`).
pub const MAX_GROUP_SIZE: usize = 10;

/// Candidates one segment examines per query vector to fill the groups of a grouping search:
/// the search asks the segment for `groups x group_size` hits and doubles that until the groups
/// are filled, the segment has no more matching rows, or this bound (or `groups x group_size`
/// when larger) is reached.
pub const MAX_GROUP_CANDIDATES: usize = 65536;

/// HNSW `ef` of a search: at least the topk, at most this.
pub const MAX_EF: usize = 32768;

/// IVF `nlist` of an index (cells trained per segment; Milvus's bound).
pub const MAX_NLIST: usize = 65536;

/// IVF `nprobe` of a search (cells probed; Milvus's bound).
pub const MAX_NPROBE: usize = 65536;

/// Output fields named in one search or query (duplicates and `*` included).
pub const MAX_OUTPUT_FIELDS: usize = 256;

/// Rows of one insert or upsert request (a delete by filter is not bounded by it).
pub const MAX_INSERT_ROWS: usize = 1 << 20;
/// Ids one AllocIds call may reserve (an insert's auto ids come in blocks of at most
/// [`MAX_INSERT_ROWS`]); more is refused, so that no caller can wrap the id counter.
pub const MAX_IDS_PER_ALLOC: u64 = 1 << 24;

/// `round_decimal` of a search: -1 (no rounding) or 0 up to this (Milvus's range).
pub const MAX_ROUND_DECIMAL: i64 = 6;

/// Replicas of a loaded collection (besides the bound of the query nodes that can serve it).
pub const MAX_REPLICAS: usize = 64;

/// Bytes of a filter expression's text (1 MiB holds `pk in [...]` with 16,384 long string keys,
/// which is what pymilvus's `get` sends).
pub const MAX_EXPR_BYTES: usize = 1 << 20;

/// Nesting depth of a filter expression: parentheses, `not`, unary minus, calls and lists
/// each add one level.
pub const MAX_EXPR_DEPTH: usize = 128;

/// Comparisons, calls and other predicates joined by `and`/`or` in one expression.
pub const MAX_EXPR_TERMS: usize = 16384;

/// Elements of one list literal (`pk in [...]`, `json_contains_any(f, [...])`).
pub const MAX_EXPR_LIST: usize = 1 << 20;

/// Requests served at once on one client connection (further ones wait).
pub const MAX_CONCURRENT_REQUESTS_PER_CONNECTION: usize = 64;

/// HTTP/2 streams open at once on one client connection (further ones are refused by the
/// transport); waiting requests beyond [`MAX_CONCURRENT_REQUESTS_PER_CONNECTION`] hold a stream.
pub const MAX_CONCURRENT_STREAMS_PER_CONNECTION: u32 = 1024;

/// Seconds between HTTP/2 pings the server sends on an idle connection, and seconds it waits
/// for the answer before closing the connection (a vanished client frees its requests).
pub const HTTP2_KEEPALIVE_INTERVAL_SECS: u64 = 30;
pub const HTTP2_KEEPALIVE_TIMEOUT_SECS: u64 = 20;

/// Bytes of one gRPC message, either way.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
