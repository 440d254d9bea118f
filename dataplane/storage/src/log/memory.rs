use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use super::{LogEntry, LogStore};
use crate::{Result, StorageError};

#[derive(Debug, Default)]
struct Partition {
    start: u64,
    records: Vec<Bytes>,
}

/// A log in memory, for tests and ephemeral runs.
#[derive(Debug, Default)]
pub struct MemoryLog {
    topics: Mutex<HashMap<String, Vec<Partition>>>,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(
        &self,
        topic: &str,
        partition: u32,
        f: impl FnOnce(&mut Partition) -> Result<T>,
    ) -> Result<T> {
        let mut topics = self.topics.lock();
        let p = topics
            .get_mut(topic)
            .and_then(|ps| ps.get_mut(partition as usize))
            .ok_or_else(|| StorageError::NoSuchLog {
                topic: topic.to_string(),
                partition,
            })?;
        f(p)
    }
}

#[async_trait]
impl LogStore for MemoryLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let mut topics = self.topics.lock();
        topics
            .entry(topic.to_string())
            .or_insert_with(|| (0..partitions).map(|_| Partition::default()).collect());
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        self.topics.lock().remove(topic);
        Ok(())
    }

    async fn append(&self, topic: &str, partition: u32, payload: Bytes) -> Result<u64> {
        self.with(topic, partition, |p| {
            p.records.push(payload);
            Ok(p.start + p.records.len() as u64 - 1)
        })
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<LogEntry>> {
        self.with(topic, partition, |p| {
            let end = p.start + p.records.len() as u64;
            if from < p.start || from > end {
                return Err(StorageError::OffsetOutOfRange {
                    topic: topic.to_string(),
                    partition,
                    offset: from,
                    start: p.start,
                    end,
                });
            }
            let skip = (from - p.start) as usize;
            Ok(p.records[skip..]
                .iter()
                .take(max)
                .enumerate()
                .map(|(i, payload)| LogEntry {
                    offset: from + i as u64,
                    payload: payload.clone(),
                })
                .collect())
        })
    }

    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.with(topic, partition, |p| Ok(p.start + p.records.len() as u64))
    }

    async fn truncate_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        self.with(topic, partition, |p| {
            let end = p.start + p.records.len() as u64;
            let offset = offset.min(end);
            if offset > p.start {
                p.records.drain(..(offset - p.start) as usize);
                p.start = offset;
            }
            Ok(())
        })
    }
}
