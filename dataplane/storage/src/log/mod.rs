//! Shard logs: per (topic, partition) an ordered sequence of records addressed by offsets
//! 0, 1, 2, … A topic is a collection, a partition is a shard.

pub mod embedded;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod kafka_security;
pub mod memory;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub offset: u64,
    pub payload: Bytes,
}

#[async_trait]
pub trait LogStore: Send + Sync + std::fmt::Debug {
    /// Creates a topic with `partitions` empty partitions; creating an existing topic with the
    /// same partition count is a no-op.
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()>;
    /// Deletes a topic and all its records; deleting a missing topic is a no-op.
    async fn delete_topic(&self, topic: &str) -> Result<()>;
    /// Appends one record and returns its offset once it is durable.
    async fn append(&self, topic: &str, partition: u32, payload: Bytes) -> Result<u64>;
    /// Reads up to `max` records starting at offset `from`. Reading at the end returns nothing;
    /// reading below the retained start or beyond the end fails with `OffsetOutOfRange`.
    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<LogEntry>>;
    /// The offset the next appended record will get (the high watermark).
    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64>;
    /// Lets the log drop records below `offset` (they are persisted elsewhere). Backends may
    /// keep more than asked; they never drop records at or above `offset`.
    async fn truncate_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()>;
}
