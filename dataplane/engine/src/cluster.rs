//! The engine in a cluster. One process plays one role ([`Mode`]): a proxy validates and
//! appends writes to the log and sends reads through a [`Router`] to the workers; query and
//! data nodes follow the log of the shards assigned to them (see `worker.rs`) and answer reads
//! once they applied the offsets the proxy asks for; index nodes build indexes. The role is
//! turned into [`Duties`] once, when the engine opens: the rest of the engine asks what to do,
//! never which role it plays.

use async_trait::async_trait;
use quarry_meta::CollectionMeta;

use crate::plan::{ShardAnswer, ShardRead};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// every role in one process, writes applied synchronously
    Standalone,
    Proxy,
    QueryNode,
    DataNode,
    IndexNode,
}

/// What a process does with its collections and shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duties {
    /// loads every shard and replays its log when the engine opens (standalone)
    pub recover_all: bool,
    /// applies its own writes before acknowledging them; a proxy only appends them (the
    /// workers apply them from the log)
    pub apply_writes: bool,
    /// follows the log of the shards assigned to it (query and data nodes)
    pub follow: bool,
    /// seals growing data and compacts sealed segments (standalone, data nodes)
    pub seal: bool,
    /// builds missing indexes (standalone, index nodes)
    pub build_indexes: bool,
    /// loads index files with the segments (all but data nodes, which only seal)
    pub load_indexes: bool,
    /// is the only query node: loads take one replica at most (standalone)
    pub single_replica: bool,
    /// holds the sealed segments of loaded partitions only (query nodes; standalone and data
    /// nodes hold every partition's, which sealing and compaction work on)
    pub only_loaded_partitions: bool,
}

impl Duties {
    pub fn of(mode: Mode) -> Self {
        let standalone = mode == Mode::Standalone;
        Self {
            recover_all: standalone,
            apply_writes: mode != Mode::Proxy,
            follow: matches!(mode, Mode::QueryNode | Mode::DataNode),
            seal: matches!(mode, Mode::Standalone | Mode::DataNode),
            build_indexes: matches!(mode, Mode::Standalone | Mode::IndexNode),
            load_indexes: mode != Mode::DataNode,
            single_replica: standalone,
            only_loaded_partitions: mode == Mode::QueryNode,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_by_role() {
        let d = Duties::of(Mode::Standalone);
        assert!(d.recover_all && d.apply_writes && d.seal && d.build_indexes && d.load_indexes);
        assert!(d.single_replica && !d.follow);
        let d = Duties::of(Mode::Proxy);
        assert!(!d.apply_writes && !d.recover_all && !d.follow && !d.seal && !d.build_indexes);
        let d = Duties::of(Mode::QueryNode);
        assert!(d.follow && d.load_indexes && !d.seal && !d.build_indexes && !d.recover_all);
        let d = Duties::of(Mode::DataNode);
        assert!(d.follow && d.seal && !d.load_indexes && !d.build_indexes);
        let d = Duties::of(Mode::IndexNode);
        assert!(d.build_indexes && !d.follow && !d.seal && !d.single_replica);
    }
}
