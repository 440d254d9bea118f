//! The engine in a cluster. One process plays one role ([`Mode`]): a proxy validates and
//! appends writes to the log and sends reads through a [`Router`] to the workers; query and
//! data nodes follow the log of the shards assigned to them (see `follow.rs`) and answer reads
//! once they applied the offsets the proxy asks for; index nodes build indexes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use quarry_meta::CollectionMeta;
use quarry_types::record::LogRecord;
use quarry_types::ConsistencyLevel;

use crate::read::{ShardAnswer, ShardRead};
use crate::{CollectionRt, Engine, EngineError, Result};

/// How long a worker waits for its log to reach the offset a reader asks for.
const CATCH_UP: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// every role in one process, writes applied synchronously
    Standalone,
    Proxy,
    QueryNode,
    DataNode,
    IndexNode,
}

impl Mode {
    pub(crate) fn seals(self) -> bool {
        matches!(self, Mode::Standalone | Mode::DataNode)
    }

    pub(crate) fn builds_indexes(self) -> bool {
        matches!(self, Mode::Standalone | Mode::IndexNode)
    }

    /// whether the shards this process holds need their index files (data nodes only seal)
    pub(crate) fn loads_indexes(self) -> bool {
        self != Mode::DataNode
    }

    /// whether this process keeps shard data in memory by following the log
    pub(crate) fn follows(self) -> bool {
        matches!(self, Mode::QueryNode | Mode::DataNode)
    }
}

/// Where a proxy sends reads and flushes: the workers serving each shard.
#[async_trait]
pub trait Router: Send + Sync + std::fmt::Debug {
    /// Runs `read` on one replica of every shard, each once its log is applied up to
    /// `min_offsets[shard]`; one answer per worker asked.
    async fn read(
        &self,
        meta: &CollectionMeta,
        read: ShardRead,
        min_offsets: Vec<u64>,
    ) -> Result<Vec<ShardAnswer>>;
    /// Seals every shard on its data node once applied up to `min_offsets[shard]`.
    async fn flush(&self, meta: &CollectionMeta, min_offsets: Vec<u64>) -> Result<Vec<i64>>;
}

impl Engine {
    /// The offsets a read must see. Every level sees this proxy's own acknowledged writes
    /// (Session); Strong also sees everyone else's, through a barrier record appended to each
    /// shard: its offset comes from the log's own acknowledgement, never from the broker's
    /// "latest offset" (which tansu 0.6 reports wrong).
    pub(crate) async fn read_barrier(
        &self,
        meta: &CollectionMeta,
        rt: &Arc<CollectionRt>,
    ) -> Result<Vec<u64>> {
        let mut out: Vec<u64> = rt
            .shards
            .iter()
            .map(|s| s.acked.load(Ordering::Acquire))
            .collect();
        if meta.consistency == ConsistencyLevel::Strong {
            let barrier = Bytes::from(
                LogRecord {
                    partition_id: 0,
                    deletes: vec![],
                    rows: None,
                }
                .encode(),
            );
            for (shard, slot) in out.iter_mut().enumerate() {
                let offset = self
                    .log
                    .append(&rt.topic, shard as u32, barrier.clone())
                    .await?;
                *slot = (*slot).max(offset + 1);
            }
        }
        Ok(out)
    }

    /// Waits until this worker applied `shard` up to `offset` (exclusive).
    pub(crate) async fn wait_applied(
        &self,
        rt: &CollectionRt,
        shard: u32,
        offset: u64,
    ) -> Result<()> {
        let s = rt
            .shards
            .get(shard as usize)
            .ok_or_else(|| EngineError::Internal(format!("no shard {shard}")))?;
        if s.serving.lock().is_none() {
            return Err(EngineError::Unavailable(format!(
                "shard {shard} of collection {} is not served here",
                rt.id
            )));
        }
        let mut rx = s.applied_tx.subscribe();
        let reached =
            tokio::time::timeout(CATCH_UP, rx.wait_for(|applied| *applied >= offset)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(EngineError::Unavailable(format!(
                "shard {shard} of collection {} did not catch up to offset {offset} within {CATCH_UP:?}",
                rt.id
            ))),
        }
    }

    /// A worker's part of a read: the given shards, each after reaching its offset.
    pub async fn serve_read(
        &self,
        collection: &str,
        shards: Vec<(u32, u64)>,
        read: ShardRead,
    ) -> Result<ShardAnswer> {
        let (_, rt) = self.resolve_fresh(collection, |_| false).await?;
        let mut tokens = Vec::new();
        for (shard, offset) in &shards {
            let loaded = rt
                .shards
                .get(*shard as usize)
                .is_some_and(|s| s.loaded.load(std::sync::atomic::Ordering::Acquire));
            if !loaded {
                // still loading (its data incomplete), or not served here
                return Err(EngineError::Unavailable(format!(
                    "shard {shard} of collection {} is not loaded here",
                    rt.id
                )));
            }
            self.wait_applied(&rt, *shard, *offset).await?;
            tokens.push((*shard, rt.shards[*shard as usize].serving.lock().clone()));
        }
        let answer = self
            .read_local(
                rt.clone(),
                shards.into_iter().map(|(s, _)| s).collect(),
                read,
            )
            .await?;
        // a shard released while it was read (it moved to another node) may have been emptied
        // under the read: answer "not here" so that the proxy asks the shard's new server,
        // never a partial result (release cancels the token before it clears the data)
        for (shard, token) in tokens {
            if token.is_none_or(|t| t.is_cancelled()) {
                return Err(EngineError::Unavailable(format!(
                    "shard {shard} of collection {} was released during the read",
                    rt.id
                )));
            }
        }
        Ok(answer)
    }

    /// A data node's part of a flush: seal the given shards once they reach their offsets.
    pub async fn serve_flush(&self, collection: &str, shards: Vec<(u32, u64)>) -> Result<Vec<i64>> {
        let (_, rt) = self.resolve_fresh(collection, |_| false).await?;
        let mut ids = Vec::new();
        for (shard, offset) in shards {
            self.wait_applied(&rt, shard, offset).await?;
            ids.extend(self.seal_shard(&rt, shard).await?);
        }
        self.index_wakeup.notify_one();
        Ok(ids)
    }
}
