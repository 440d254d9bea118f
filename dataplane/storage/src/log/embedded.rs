//! The embedded log of standalone mode: per partition a directory of segment files
//! `{base_offset:020}.log`, each a sequence of frames
//! `[len: u32 LE][crc32: u32 LE][offset: u64 LE][payload]` (the CRC covers offset and payload).
//! Every append is fsynced before it is acknowledged. An append whose write or fsync fails cuts
//! the file back to its acknowledged frames (truncate + fsync) before it reports the error; if
//! that fails too, the partition refuses every later append until the process restarts. On
//! open, a torn frame at the tail of the newest file (a crash mid-write, or such an append) is
//! cut off; damage anywhere else is reported, never skipped. Creating, renaming or removing a
//! file or directory is followed by an fsync of its directory.

mod fault;
mod partition;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

#[doc(hidden)]
pub use self::fault::AppendFault;
use self::fault::{create_dir_durable, sync_dir};
use self::partition::PartitionLog;
use super::{LogEntry, LogStore};
use crate::error::{blocking, io_err};
use crate::{Result, StorageError};

const PARTITIONS_FILE: &str = "partitions";
const PARTITIONS_TMP: &str = "partitions.tmp";

#[derive(Debug, Clone)]
pub struct EmbeddedLogOptions {
    /// A segment file is closed and a new one started when it grows past this size.
    pub segment_bytes: u64,
}

impl Default for EmbeddedLogOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
        }
    }
}

#[derive(Debug)]
pub struct EmbeddedLog {
    root: PathBuf,
    options: EmbeddedLogOptions,
    topics: RwLock<HashMap<String, Vec<Arc<Mutex<PartitionLog>>>>>,
}

impl EmbeddedLog {
    /// Opens (or creates) the log under `root`, recovering every topic found there.
    pub fn open(root: impl Into<PathBuf>, options: EmbeddedLogOptions) -> Result<Self> {
        let root = root.into();
        create_dir_durable(&root)?;
        let mut topics = HashMap::new();
        for entry in fs::read_dir(&root).map_err(io_err(&root))? {
            let entry = entry.map_err(io_err(&root))?;
            let Some(topic) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let meta = entry.path().join(PARTITIONS_FILE);
            let Ok(text) = fs::read_to_string(&meta) else {
                continue;
            };
            let n: u32 = text.trim().parse().map_err(|_| StorageError::Corrupt {
                path: meta.display().to_string(),
                position: 0,
                reason: "bad partition count".into(),
            })?;
            let parts = (0..n)
                .map(|p| {
                    PartitionLog::open(entry.path().join(p.to_string()), &topic, p)
                        .map(|l| Arc::new(Mutex::new(l)))
                })
                .collect::<Result<Vec<_>>>()?;
            topics.insert(topic, parts);
        }
        Ok(Self {
            root,
            options,
            topics: RwLock::new(topics),
        })
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Mutex<PartitionLog>>> {
        self.topics
            .read()
            .get(topic)
            .and_then(|ps| ps.get(partition as usize).cloned())
            .ok_or_else(|| StorageError::NoSuchLog {
                topic: topic.to_string(),
                partition,
            })
    }

    /// Test API, not part of the supported interface: the next append to `topic`/`partition`
    /// fails as `fault` says.
    #[doc(hidden)]
    pub fn inject_append_fault(
        &self,
        topic: &str,
        partition: u32,
        fault: AppendFault,
    ) -> Result<()> {
        self.partition(topic, partition)?.lock().fault = Some(fault);
        Ok(())
    }

    fn topic_dir(&self, topic: &str) -> Result<PathBuf> {
        if topic.is_empty() || topic.contains(['/', '\\']) || topic.starts_with('.') {
            return Err(StorageError::InvalidKey(topic.to_string()));
        }
        Ok(self.root.join(topic))
    }
}

#[async_trait]
impl LogStore for EmbeddedLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        if self.topics.read().contains_key(topic) {
            return Ok(());
        }
        let dir = self.topic_dir(topic)?;
        let (topic_owned, dir2) = (topic.to_string(), dir.clone());
        let parts = blocking(move || {
            let parts = (0..partitions)
                .map(|p| {
                    PartitionLog::open(dir2.join(p.to_string()), &topic_owned, p)
                        .map(|l| Arc::new(Mutex::new(l)))
                })
                .collect::<Result<Vec<_>>>()?;
            // the partition count is written last: a topic without it was never created
            // (whole or not at all: written aside, synced, renamed into place, the rename synced)
            let tmp = dir2.join(PARTITIONS_TMP);
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(partitions.to_string().as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io_err(&tmp))?;
            let meta = dir2.join(PARTITIONS_FILE);
            fs::rename(&tmp, &meta).map_err(io_err(&meta))?;
            sync_dir(&dir2)?;
            Ok(parts)
        })
        .await?;
        self.topics
            .write()
            .entry(topic.to_string())
            .or_insert(parts);
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        let dir = self.topic_dir(topic)?;
        self.topics.write().remove(topic);
        blocking(move || {
            // remove the marker first, so a crash midway leaves no half-topic that looks whole
            // (and durably, before any partition directory goes)
            if fs::remove_file(dir.join(PARTITIONS_FILE)).is_ok() {
                sync_dir(&dir)?;
            }
            match fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(&dir)(e)),
            }
        })
        .await
    }

    async fn append(&self, topic: &str, partition: u32, payload: Bytes) -> Result<u64> {
        let p = self.partition(topic, partition)?;
        let options = self.options.clone();
        blocking(move || p.lock().append(&payload, &options)).await
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<LogEntry>> {
        let p = self.partition(topic, partition)?;
        blocking(move || p.lock().read(from, max)).await
    }

    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        Ok(self.partition(topic, partition)?.lock().end())
    }

    async fn truncate_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        let p = self.partition(topic, partition)?;
        blocking(move || p.lock().truncate_before(offset)).await
    }
}
