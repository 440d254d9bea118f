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
    /// a database or alias change the catalog's state does not allow; the kind decides the
    /// client's error code
    #[error("{1}")]
    Refused(Refusal, String),
    #[error("stale commit: {0}")]
    StaleCommit(String),
    #[error("coordinator unavailable: {0}")]
    Unavailable(String),
}

/// Why a database or alias change was refused (each has its own Milvus error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    DatabaseNotFound,
    DatabaseExists,
    DatabaseLimit,
    DatabaseNotEmpty,
    CollectionLimit,
    AliasNotFound,
    AliasNameConflict,
    AliasExists,
    CollectionHasAliases,
}

impl Refusal {
    pub const ALL: [Refusal; 9] = [
        Refusal::DatabaseNotFound,
        Refusal::DatabaseExists,
        Refusal::DatabaseLimit,
        Refusal::DatabaseNotEmpty,
        Refusal::CollectionLimit,
        Refusal::AliasNotFound,
        Refusal::AliasNameConflict,
        Refusal::AliasExists,
        Refusal::CollectionHasAliases,
    ];

    /// The kind's name on the internal API.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::DatabaseNotFound => "database_not_found",
            Refusal::DatabaseExists => "database_exists",
            Refusal::DatabaseLimit => "database_limit",
            Refusal::DatabaseNotEmpty => "database_not_empty",
            Refusal::CollectionLimit => "collection_limit",
            Refusal::AliasNotFound => "alias_not_found",
            Refusal::AliasNameConflict => "alias_name_conflict",
            Refusal::AliasExists => "alias_exists",
            Refusal::CollectionHasAliases => "collection_has_aliases",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl MetaError {
    pub fn database_not_found(db: &str) -> Self {
        MetaError::Refused(
            Refusal::DatabaseNotFound,
            format!("database not found[database={db}]"),
        )
    }
}
