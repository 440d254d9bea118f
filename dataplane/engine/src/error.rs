use quarry_expr::ExprError;
use quarry_index::IndexError;
use quarry_meta::{MetaError, Refusal};
use quarry_storage::StorageError;
use quarry_types::SchemaError;
use thiserror::Error;

/// Everything the engine can answer with; the access layer maps each kind to a Milvus status.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("collection not found[collection={0}]")]
    CollectionNotFound(String),
    #[error("collection {0} already exists")]
    CollectionExists(String),
    #[error("partition not found[partition={0}]")]
    PartitionNotFound(String),
    #[error("partition not loaded[partition={0}]")]
    PartitionNotLoaded(String),
    #[error("index not found[{0}]")]
    IndexNotFound(String),
    #[error("collection not loaded[collection={0}]")]
    NotLoaded(String),
    #[error("collection schema mismatch[collection={0}]")]
    SchemaMismatch(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// a database name Milvus would not accept
    #[error("{0}")]
    DatabaseName(String),
    /// a database or alias change the catalog refused (the kind decides the Milvus code)
    #[error("{1}")]
    Refused(Refusal, String),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Expr(#[from] ExprError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("storage failure: {0}")]
    Storage(#[from] StorageError),
    #[error("catalog failure: {0}")]
    Coord(MetaError),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl From<MetaError> for EngineError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::CollectionExists(name) => EngineError::CollectionExists(name),
            MetaError::CollectionNotFound(name) => EngineError::CollectionNotFound(name),
            MetaError::Refused(kind, msg) => EngineError::Refused(kind, msg),
            e @ (MetaError::IndexConflict { .. } | MetaError::Rejected(_)) => {
                EngineError::InvalidArgument(e.to_string())
            }
            e => EngineError::Coord(e),
        }
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(msg.into())
}
