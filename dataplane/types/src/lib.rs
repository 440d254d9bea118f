//! IO-free domain types shared by every Quarry component: collection schemas, values and
//! primary keys, columnar row batches (Apache Arrow), the shard-log record format, the node
//! roles and the `QUARRY_*` environment of a node.

mod array;
pub mod batch;
mod data_type;
pub mod env;
mod error;
pub mod function;
pub mod limits;
pub mod record;
mod role;
pub mod schema;
pub mod sparse;
pub mod value;
pub mod vector;

pub use error::SchemaError;
pub use role::{Role, UnknownRole};
pub use schema::{
    CollectionSchema, ConsistencyLevel, DataType, FieldSchema, META_FIELD, OFFSET_FIELD,
};
pub use value::{Pk, Value};

/// Stable shard of a primary key: every mutation of one key lands in one shard, so per-key
/// order is the shard's log order.
pub fn shard_of(pk: &Pk, shards: u32) -> u32 {
    let h = match pk {
        Pk::Int(v) => crc32fast::hash(&v.to_le_bytes()),
        Pk::Str(s) => crc32fast::hash(s.as_bytes()),
    };
    h % shards.max(1)
}

/// The partition (of `partitions`) a partition-key value routes to. Int64 keys hash their
/// little-endian bytes, VarChar keys their UTF-8 bytes, with CRC32 mixed by a multiplicative
/// hash (so that partitions do not repeat the shard pattern); `None` for a value that is
/// neither (null keys are refused before).
pub fn partition_of(key: &Value, partitions: u32) -> Option<u32> {
    let h = match key {
        Value::Int(v) => crc32fast::hash(&v.to_le_bytes()),
        Value::Str(s) => crc32fast::hash(s.as_bytes()),
        _ => return None,
    };
    // a different function of the key than `shard_of`: mix before the modulo
    let mixed = (h as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    Some((mixed % partitions.max(1) as u64) as u32)
}
