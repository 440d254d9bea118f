//! The one error type of catalog operations, whichever side runs them (in-process or over
//! the coordinator's gRPC service; `wire.rs` maps it to and from gRPC statuses).

use quarry_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("catalog storage: {0}")]
    Storage(#[from] StorageError),
    #[error("catalog manifest {key} is unreadable: {reason}")]
    BadManifest { key: String, reason: String },
    #[error("another coordinator committed catalog version {0} first")]
    Conflict(u64),
    #[error("collection {0} already exists")]
    CollectionExists(String),
    #[error("collection not found[collection={0}]")]
    CollectionNotFound(String),
    #[error("at most one distinct index is allowed per field: field {field} already has index {existing} with other parameters")]
    IndexConflict { field: String, existing: String },
    #[error("{0}")]
    Rejected(String),
    #[error("stale commit: {0}")]
    StaleCommit(String),
    #[error("coordinator unavailable: {0}")]
    Unavailable(String),
}
