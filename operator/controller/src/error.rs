//! The operator's error type: what a reconcile can fail with (the controller retries).

use quarry_meta::MetaError;
use quarry_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("catalog: {0}")]
    Coord(#[from] MetaError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// True for a Kubernetes "not found" answer.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// `Ok(None)` for "not found", the object otherwise.
pub fn found<T>(r: Result<T, kube::Error>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
