use thiserror::Error;

/// Errors of every storage backend.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("object already exists: {0}")]
    AlreadyExists(String),
    #[error("log {topic}/{partition} does not exist")]
    NoSuchLog { topic: String, partition: u32 },
    #[error("offset {offset} of log {topic}/{partition} is out of range (valid: {start}..{end})")]
    OffsetOutOfRange {
        topic: String,
        partition: u32,
        offset: u64,
        start: u64,
        end: u64,
    },
    #[error("log {path} is corrupt at byte {position}: {reason}")]
    Corrupt {
        path: String,
        position: u64,
        reason: String,
    },
    #[error("invalid key {0:?}")]
    InvalidKey(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{backend} error: {message}")]
    Backend {
        backend: &'static str,
        message: String,
    },
    #[error("background task failed: {0}")]
    Task(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

pub(crate) fn io_err(
    path: impl AsRef<std::path::Path>,
) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.as_ref().display().to_string();
    move |source| StorageError::Io { path, source }
}

/// Runs blocking file IO off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
}
