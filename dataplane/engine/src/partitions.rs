//! Partitions: creating, dropping, loading and releasing them, their statistics, and which
//! partitions a write goes to and a read covers. A partition is a unit of data: its rows grow
//! and are sealed apart from other partitions' (`shard/`), reads name the partitions they
//! cover. A partition-key collection (`is_partition_key` on a scalar field) has the partitions
//! `_default_0..` and routes each row by a hash of its key; a read whose filter fixes the key
//! covers only the partitions of those values.

use std::collections::BTreeSet;
use std::sync::Arc;

use quarry_expr::Expr;
use quarry_meta::{CollectionMeta, DEFAULT_PARTITION};
use quarry_types::limits::{MAX_NAME_BYTES, MAX_PARTITIONS};
use quarry_types::{partition_of, Value};

use crate::collection::CollectionRt;
use crate::error::invalid;
use crate::plan::{QueryInput, QueryPlan, ShardRead};
use crate::Named;
use crate::{Engine, EngineError, Result};

/// Refusal of partition names in a partition-key collection (Milvus' text).
const KEY_MODE_NAMES: &str =
    "not support manually specifying the partition names if partition key mode is used";

/// Checks a partition name the way Milvus does: not empty, at most [`MAX_NAME_BYTES`], letters,
/// digits and underscores, the first a letter, digit or underscore (Milvus' message says
/// "underscore or letter" but its check lets a digit start a name too).
pub fn check_partition_name(name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid(
            "Invalid partition name: . Partition name should not be empty.",
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        // never echoed back
        return Err(invalid(format!(
            "Invalid partition name. The length of a partition name must be less than \
             {MAX_NAME_BYTES} characters, but got {} bytes.",
            name.len()
        )));
    }
    let mut chars = name.chars();
    if !chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
    {
        return Err(invalid(format!(
            "Invalid partition name: {name}. The first character of a partition name must be \
             an underscore or letter."
        )));
    }
    if !chars.all(|c| c == '_' || c.is_ascii_alphanumeric()) {
        return Err(invalid(format!(
            "Invalid partition name: {name}. Partition name can only contain numbers, letters \
             and underscores."
        )));
    }
    Ok(())
}

/// Checks a partition-key collection's `num_partitions` (0: Milvus' default) or refuses one
/// without a key.
pub fn check_num_partitions(num_partitions: i64, has_key: bool) -> Result<u32> {
    if !has_key {
        if num_partitions != 0 {
            return Err(invalid(
                "num_partitions should only be specified with partition key field enabled",
            ));
        }
        return Ok(0);
    }
    if num_partitions < 0 {
        return Err(invalid(
            "the specified partitions should be greater than 0 if partition key is used",
        ));
    }
    if num_partitions as usize > MAX_PARTITIONS {
        return Err(invalid(format!(
            "partition number ({num_partitions}) exceeds max configuration ({MAX_PARTITIONS})"
        )));
    }
    Ok(num_partitions as u32)
}

fn refuse_key_mode(meta: &CollectionMeta, what: &str) -> Result<()> {
    if meta.has_partition_key() {
        return Err(invalid(format!(
            "disable {what} if partition key mode is used"
        )));
    }
    Ok(())
}

impl Engine {
    pub async fn create_partition(
        &self,
        name: impl Into<Named<'_>>,
        partition: &str,
    ) -> Result<()> {
        let name = name.into();
        let (meta, _) = self.resolve_fresh(name, |_| true).await?;
        refuse_key_mode(&meta, "create partition")?;
        check_partition_name(partition)?;
        self.io
            .meta
            .create_partition(meta.id, partition.trim())
            .await?;
        tracing::info!(collection = %meta.name, partition, "partition created");
        Ok(())
    }

    /// Drops a partition: its rows are gone at once (from the catalog and this process's
    /// memory; workers drop them at their next catalog sync, reads already skip them) and its
    /// files are deleted. A missing partition: nothing happens (as in Milvus).
    pub async fn drop_partition(&self, name: impl Into<Named<'_>>, partition: &str) -> Result<()> {
        let name = name.into();
        let (meta, rt) = self.resolve_fresh(name, |_| true).await?;
        refuse_key_mode(&meta, "drop partition")?;
        check_partition_name(partition)?;
        let partition = partition.trim();
        if partition == DEFAULT_PARTITION {
            return Err(invalid("default partition cannot be deleted"));
        }
        let Some(p) = meta.partition(partition).cloned() else {
            return Ok(());
        };
        if meta.partition_loaded(&p) {
            return Err(invalid(
                "partition cannot be dropped, partition is loaded, please release it first",
            ));
        }
        let garbage = self.io.meta.drop_partition(meta.id, partition).await?;
        for shard in &rt.shards {
            let _writer = shard.writer.lock().await;
            shard.data.write().forget_partition(p.id);
        }
        for key in garbage {
            // what is left over is the garbage sweep's
            if let Err(e) = self.io.store.delete(&key).await {
                tracing::warn!(key, error = %e, "could not delete a dropped partition's file");
            }
        }
        tracing::info!(collection = %meta.name, partition, id = p.id, "partition dropped");
        Ok(())
    }

    /// The collection's partitions (as the catalog's owner knows them now).
    pub async fn list_partitions(&self, name: impl Into<Named<'_>>) -> Result<CollectionMeta> {
        let name = name.into();
        Ok(self.resolve_fresh(name, |_| true).await?.0)
    }

    pub async fn has_partition(&self, name: impl Into<Named<'_>>, partition: &str) -> Result<bool> {
        let name = name.into();
        check_partition_name(partition)?;
        let (meta, _) = self.resolve_fresh(name, |_| true).await?;
        Ok(meta.partition(partition.trim()).is_some())
    }

    /// Loads the named partitions (and the collection, with `replicas`, if it was released).
    pub async fn load_partitions(
        &self,
        name: impl Into<Named<'_>>,
        partitions: &[String],
        replicas: u32,
    ) -> Result<()> {
        let name = name.into();
        crate::ddl::check_replicas(replicas, self.duties.single_replica)?;
        let (meta, _) = self.resolve_fresh(name, |_| true).await?;
        refuse_key_mode(&meta, "load partitions")?;
        let names = self.named_partitions(&meta, partitions)?;
        self.check_indexed(&meta, name)?;
        self.io
            .meta
            .set_partition_loaded(meta.id, names, true, replicas)
            .await?;
        Ok(())
    }

    /// Releases the named partitions (the last loaded one releases the collection).
    pub async fn release_partitions(
        &self,
        name: impl Into<Named<'_>>,
        partitions: &[String],
    ) -> Result<()> {
        let name = name.into();
        let (meta, _) = self.resolve_fresh(name, |_| true).await?;
        refuse_key_mode(&meta, "release partitions")?;
        let names = self.named_partitions(&meta, partitions)?;
        self.io
            .meta
            .set_partition_loaded(meta.id, names, false, meta.replicas)
            .await?;
        Ok(())
    }

    fn named_partitions(
        &self,
        meta: &CollectionMeta,
        partitions: &[String],
    ) -> Result<Vec<String>> {
        if partitions.is_empty() {
            return Err(invalid("partition names must not be empty"));
        }
        if partitions.len() > MAX_PARTITIONS {
            return Err(invalid(format!(
                "{} partition names given, a collection has at most {MAX_PARTITIONS}",
                partitions.len()
            )));
        }
        let mut names = Vec::with_capacity(partitions.len());
        for p in partitions {
            check_partition_name(p)?;
            let p = p.trim();
            if meta.partition(p).is_none() {
                return Err(EngineError::PartitionNotFound(p.to_string()));
            }
            names.push(p.to_string());
        }
        Ok(names)
    }

    /// Live rows of one partition.
    pub async fn partition_row_count(
        &self,
        name: impl Into<Named<'_>>,
        partition: &str,
    ) -> Result<u64> {
        let name = name.into();
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        let id = self.check_partition(&meta, partition)?;
        if self.router.is_none() {
            return Ok(rt.live_rows(&[id]));
        }
        if meta.loaded_partitions().contains(&id) {
            return self.count_partitions(&meta, &rt, vec![id]).await;
        }
        let meta = self.describe_collection_latest(name).await?;
        Ok(meta
            .segments
            .iter()
            .filter(|s| s.partition_id == id)
            .map(|s| s.rows - s.deleted_rows)
            .sum())
    }

    /// Live rows of the given (loaded) partitions, counted where they are served.
    pub(crate) async fn count_partitions(
        &self,
        meta: &CollectionMeta,
        rt: &Arc<CollectionRt>,
        partition_ids: Vec<i64>,
    ) -> Result<u64> {
        let plan = QueryPlan {
            input: QueryInput {
                output_fields: vec!["count(*)".into()],
                ..Default::default()
            },
            fields: vec![],
            count_only: true,
            partition_ids,
            // set by `CollectionRt::read_at` from the collection's time to live
            expire_before_ms: 0,
        };
        let answers = rt
            .read(
                &*self.io.log,
                self.router.as_ref(),
                meta,
                ShardRead::Query(plan),
                None,
            )
            .await?;
        Ok(crate::collection::count(&answers))
    }

    /// Segments the reads of this process looked at in a collection's shards so far (growing
    /// and sealed; a partition-key read whose filter fixes the key looks at fewer).
    pub fn segments_read<'a>(&self, name: impl Into<Named<'a>>) -> Result<u64> {
        let name = name.into();
        Ok(self.resolve(name)?.1.segments_read())
    }

    /// The partitions a read covers: the named ones (each must exist and be loaded), else every
    /// loaded partition; in a partition-key collection the partitions of the key values the
    /// filter fixes, else every loaded one. Empty: the read matches nothing.
    pub(crate) fn read_partitions(
        &self,
        meta: &CollectionMeta,
        names: &[String],
        filter: Option<&Expr>,
    ) -> Result<Vec<i64>> {
        let loaded = meta.loaded_partitions();
        if meta.has_partition_key() {
            if !names.is_empty() {
                return Err(invalid(KEY_MODE_NAMES));
            }
            return Ok(match key_partitions(meta, filter) {
                Some(ids) => ids.into_iter().filter(|id| loaded.contains(id)).collect(),
                None => loaded,
            });
        }
        if names.is_empty() {
            return Ok(loaded);
        }
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let p = meta
                .partition(name)
                .ok_or_else(|| EngineError::PartitionNotFound(name.clone()))?;
            if !meta.partition_loaded(p) {
                return Err(EngineError::PartitionNotLoaded(name.clone()));
            }
            if !ids.contains(&p.id) {
                ids.push(p.id);
            }
        }
        Ok(ids)
    }

    /// The partition a write names: the given one, `_default` without a name; a partition-key
    /// collection refuses names (its rows route by key: `None`).
    pub(crate) fn write_partition(
        &self,
        meta: &CollectionMeta,
        partition: &str,
    ) -> Result<Option<i64>> {
        if meta.has_partition_key() {
            if !partition.is_empty() {
                return Err(invalid(KEY_MODE_NAMES));
            }
            return Ok(None);
        }
        Ok(Some(self.check_partition(meta, partition)?))
    }
}

/// The partitions of the key values `filter` fixes (`None`: it does not fix the key, or names
/// a value that is no key value, which then matches nothing anyway).
fn key_partitions(meta: &CollectionMeta, filter: Option<&Expr>) -> Option<BTreeSet<i64>> {
    let key = meta.schema.partition_key()?;
    let values = filter?.field_values(&key.name)?;
    let n = meta.partitions.len() as u32;
    let mut ids = BTreeSet::new();
    for v in &values {
        let index = partition_of(v, n)?;
        ids.insert(meta.partitions.get(index as usize)?.id);
    }
    Some(ids)
}

/// The partition (index into the collection's partitions) a row's key value routes to.
pub(crate) fn key_partition_index(key: &Value, partitions: usize) -> Result<usize> {
    partition_of(key, partitions as u32)
        .map(|i| i as usize)
        .ok_or_else(|| invalid("the partition key of a row must be an Int64 or VarChar value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_follow_milvus() {
        for ok in ["p", "_x", "a1_b", "9lives", &"a".repeat(255)] {
            check_partition_name(ok).unwrap();
        }
        for bad in ["", "  ", "a-b", "a b", "é", "$x", &"a".repeat(256)] {
            assert!(check_partition_name(bad).is_err(), "{bad:?}");
        }
        let e = check_partition_name(&"a".repeat(300))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("aaaa"), "{e}");
    }

    #[test]
    fn num_partitions_rules() {
        assert_eq!(check_num_partitions(0, true).unwrap(), 0);
        assert_eq!(check_num_partitions(64, true).unwrap(), 64);
        assert!(check_num_partitions(-1, true).is_err());
        assert!(check_num_partitions(1025, true).is_err());
        assert!(check_num_partitions(4, false).is_err());
        assert_eq!(check_num_partitions(0, false).unwrap(), 0);
    }
}
