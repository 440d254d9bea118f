use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use super::{check_key, ObjectStore};
use crate::{Result, StorageError};

/// An object store in memory, for tests and ephemeral runs.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: Mutex<BTreeMap<String, Bytes>>,
}

impl MemoryObjectStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        self.objects.lock().insert(key.to_string(), data);
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        let mut objects = self.objects.lock();
        if objects.contains_key(key) {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        objects.insert(key.to_string(), data);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.objects
            .lock()
            .get(key)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(key.to_string()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let objects = self.objects.lock();
        Ok(objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.objects.lock().remove(key);
        Ok(())
    }
}
