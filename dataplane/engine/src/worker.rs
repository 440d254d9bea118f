//! The engine on a query or data node. The coordinator assigns (collection, shard) units; a
//! worker loads each (`Shard::load`), follows its log (`Shard::follow`), swaps in the
//! segments sealed and indexed elsewhere at each catalog sync, and answers the reads and
//! flushes a proxy sends once the shard applied the offsets the proxy asks for.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::collection::CollectionRt;
use crate::plan::{ShardAnswer, ShardRead};
use crate::Named;
use crate::{Engine, EngineError, Result};

/// A shard this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedUnit {
    pub collection: i64,
    pub shard: u32,
    pub growing_rows: u64,
}

impl Engine {
    /// A worker's part of a read: the given shards, each after reaching its offset.
    pub async fn serve_read(
        &self,
        collection: impl Into<Named<'_>>,
        shards: Vec<(u32, u64)>,
        read: ShardRead,
    ) -> Result<ShardAnswer> {
        let collection = collection.into();
        let (meta, rt) = self.resolve_fresh(collection, |_| false).await?;
        self.hold_partitions(&meta, &rt, &shards, read.partition_ids())
            .await?;
        let mut tokens = Vec::new();
        for (shard, offset) in &shards {
            let Some(s) = rt.shards.get(*shard as usize).filter(|s| s.is_loaded()) else {
                // still loading (its data incomplete), or not served here
                return Err(EngineError::Unavailable(format!(
                    "shard {shard} of collection {} is not loaded here",
                    rt.id
                )));
            };
            s.wait_applied(*offset).await?;
            tokens.push((*shard, s.serving.lock().clone()));
        }
        let answer = rt
            .clone()
            .read_local(shards.into_iter().map(|(s, _)| s).collect(), read, None)
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

    /// Makes sure the served shards hold the sealed segments of the partitions a read covers:
    /// partitions loaded since this node's last catalog sync are swapped in now.
    async fn hold_partitions(
        &self,
        meta: &quarry_meta::CollectionMeta,
        rt: &Arc<CollectionRt>,
        shards: &[(u32, u64)],
        partitions: &[i64],
    ) -> Result<()> {
        let missing = |meta: &quarry_meta::CollectionMeta| -> Vec<u32> {
            shards
                .iter()
                .filter_map(|(s, _)| rt.shards.get(*s as usize))
                .filter(|s| s.is_serving() && !s.has_segments_of(meta, partitions))
                .map(|s| s.index)
                .collect()
        };
        if missing(meta).is_empty() {
            return Ok(());
        }
        self.io.meta.refresh().await?;
        let snap = self.io.meta.snapshot();
        let Some(meta) = snap.collections.get(&rt.id) else {
            return Err(EngineError::CollectionNotFound(rt.id.to_string()));
        };
        for shard in missing(meta) {
            rt.shard(shard)?
                .swap_in(&self.io, meta, snap.next_id)
                .await?;
        }
        let still = missing(meta);
        if !still.is_empty() {
            return Err(EngineError::Unavailable(format!(
                "shards {still:?} of collection {} do not hold the partitions {partitions:?} yet",
                rt.id
            )));
        }
        Ok(())
    }

    /// A data node's part of a flush: seal the given shards once they reach their offsets.
    pub async fn serve_flush(
        &self,
        collection: impl Into<Named<'_>>,
        shards: Vec<(u32, u64)>,
    ) -> Result<Vec<i64>> {
        let collection = collection.into();
        let (_, rt) = self.resolve_fresh(collection, |_| false).await?;
        let mut ids = Vec::new();
        for (shard, offset) in shards {
            let s = rt.shard(shard)?;
            s.wait_applied(offset).await?;
            ids.extend(s.seal(&self.io).await?);
        }
        self.index_wakeup.notify_one();
        Ok(ids)
    }

    /// Makes the runtimes match the catalog (new and dropped collections) and swaps segments
    /// sealed or indexed elsewhere into the shards this process serves.
    pub async fn sync_catalog(self: &Arc<Self>) -> Result<()> {
        let snap = self.io.meta.snapshot();
        let gone: Vec<i64> = self
            .collections
            .read()
            .keys()
            .filter(|id| !snap.collections.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(rt) = self.collections.write().remove(&id) {
                rt.shards.iter().for_each(|s| s.stop_serving());
                tracing::info!(collection = id, "collection dropped; released its shards");
            }
        }
        for meta in snap.collections.values() {
            let rt = {
                let mut all = self.collections.write();
                all.entry(meta.id)
                    .or_insert_with(|| self.new_runtime(meta))
                    .clone()
            };
            if !self.duties.follow {
                continue;
            }
            for shard in rt.shards.iter().filter(|s| s.is_serving()) {
                shard.swap_in(&self.io, meta, snap.next_id).await?;
            }
        }
        if self.duties.build_indexes {
            // segments sealed elsewhere get their index without waiting for the next idle tick
            self.index_wakeup.notify_one();
        }
        Ok(())
    }

    /// Serves exactly `units` (collection, shard) from now on: loads and follows new ones,
    /// releases the others.
    pub async fn assign(self: &Arc<Self>, units: &BTreeSet<(i64, u32)>) -> Result<()> {
        let snap = self.io.meta.snapshot();
        let all: Vec<Arc<CollectionRt>> = self.collections.read().values().cloned().collect();
        for rt in all {
            for s in rt.shards.iter() {
                let wanted = units.contains(&(rt.id, s.index));
                let serving = s.is_serving();
                if serving && !wanted {
                    s.release();
                    tracing::info!(collection = rt.id, shard = s.index, "shard released");
                } else if wanted && !serving {
                    let Some(meta) = snap.collections.get(&rt.id) else {
                        continue;
                    };
                    // a child of the engine's life: the tail stops when the engine goes
                    let token = self.alive.0.child_token();
                    *s.serving.lock() = Some(token.clone());
                    let replayed = match s.load(&self.io, meta).await {
                        Ok(n) => n,
                        Err(e) => {
                            s.stop_serving();
                            return Err(e);
                        }
                    };
                    s.loaded.store(true, Ordering::Release);
                    tracing::info!(
                        collection = rt.id,
                        shard = s.index,
                        replayed,
                        "shard loaded; following its log"
                    );
                    tokio::spawn(s.clone().follow(self.io.clone(), token));
                }
            }
        }
        Ok(())
    }

    /// Live rows and bytes of Arrow data this process holds for the shards it serves.
    pub fn memory_stats(&self) -> (u64, u64) {
        let all = self.collections.read();
        let (mut rows, mut bytes) = (0u64, 0u64);
        for s in all.values().flat_map(|rt| rt.shards.iter()) {
            if s.is_loaded() {
                let (r, b) = s.memory();
                rows += r;
                bytes += b;
            }
        }
        (rows, bytes)
    }

    /// The (collection, shard) units this process has loaded and follows, each with the live
    /// rows of its growing segment.
    pub fn serving_units(&self) -> Vec<ServedUnit> {
        let all = self.collections.read();
        let mut out = Vec::new();
        for rt in all.values() {
            for s in rt.shards.iter().filter(|s| s.is_loaded()) {
                out.push(ServedUnit {
                    collection: rt.id,
                    shard: s.index,
                    growing_rows: s.data.read().growing_live() as u64,
                });
            }
        }
        out
    }
}

/// Ends the engine's life token when the engine goes, which stops its shards' log tails.
pub(crate) struct Alive(pub CancellationToken);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
