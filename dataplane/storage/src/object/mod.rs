//! Object stores: write-once blobs addressed by `/`-separated keys.

pub mod local;
pub mod memory;
#[cfg(feature = "s3")]
pub mod s3;

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Result, StorageError};

#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Writes (or replaces) an object; durable when this returns.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// Writes an object only if the key is free, atomically: of two racing callers exactly one
    /// succeeds and the other gets [`StorageError::AlreadyExists`]. Catalog commits rely on it.
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<()>;
    /// Reads a whole object, or [`StorageError::NotFound`].
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Keys that start with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Like [`ObjectStore::list`], with each object's size and last-modified time (what the
    /// garbage sweep needs to tell a file just uploaded from an old orphan).
    async fn list_info(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
    /// Removes an object; removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
}

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// when the object was last written, by the store's clock (S3: the server's; for a
    /// multipart upload, when the upload started). A store that cannot tell reports the time
    /// of listing, so that the object looks young rather than old.
    pub modified: SystemTime,
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.ends_with('/')
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(StorageError::InvalidKey(key.to_string()));
    }
    Ok(())
}
