use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use super::{check_key, ObjectInfo, ObjectStore};
use crate::{Result, StorageError};

/// An object store in memory, for tests and ephemeral runs.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    /// key -> (data, last written)
    objects: Mutex<BTreeMap<String, (Bytes, SystemTime)>>,
}

impl MemoryObjectStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pretends an object was last written at `modified` (tests of age-based clean-up);
    /// false when there is no such object.
    pub fn set_modified(&self, key: &str, modified: SystemTime) -> bool {
        match self.objects.lock().get_mut(key) {
            Some(entry) => {
                entry.1 = modified;
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        self.objects
            .lock()
            .insert(key.to_string(), (data, SystemTime::now()));
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        let mut objects = self.objects.lock();
        if objects.contains_key(key) {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        objects.insert(key.to_string(), (data, SystemTime::now()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.objects
            .lock()
            .get(key)
            .map(|(data, _)| data.clone())
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

    async fn list_info(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let objects = self.objects.lock();
        Ok(objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (data, modified))| ObjectInfo {
                key: k.clone(),
                size: data.len() as u64,
                modified: *modified,
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.objects.lock().remove(key);
        Ok(())
    }
}
