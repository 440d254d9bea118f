//! Partitions on the catalog state: creating, dropping, loading and releasing them. Pure
//! functions of the state, run inside one catalog commit each; names are validated by the
//! caller (the engine), the catalog checks what depends on its state (existence, the number of
//! partitions, load state).

use quarry_types::limits::MAX_PARTITIONS;

use crate::{CatalogState, CollectionMeta, MetaError, PartitionMeta, DEFAULT_PARTITION};

/// Partitions of a partition-key collection created without `num_partitions` (Milvus'
/// default).
pub const DEFAULT_KEY_PARTITIONS: u32 = 16;

/// The partitions of a new collection: `_default`, or `_default_0.._default_{n-1}` for a
/// partition-key collection with `n` partitions (`0`: [`DEFAULT_KEY_PARTITIONS`]).
pub(crate) fn initial_partitions(
    s: &mut CatalogState,
    has_key: bool,
    num_partitions: u32,
    now: u64,
) -> Result<Vec<PartitionMeta>, MetaError> {
    let num_partitions = match (has_key, num_partitions) {
        (false, _) => 0,
        (true, 0) => DEFAULT_KEY_PARTITIONS,
        (true, n) => n,
    };
    if num_partitions as usize > MAX_PARTITIONS {
        return Err(too_many(num_partitions as usize));
    }
    let names: Vec<String> = match num_partitions {
        0 => vec![DEFAULT_PARTITION.into()],
        n => (0..n).map(|i| format!("{DEFAULT_PARTITION}_{i}")).collect(),
    };
    Ok(names
        .into_iter()
        .map(|name| PartitionMeta {
            id: s.alloc_id(),
            name,
            created_ts: now,
            released: false,
        })
        .collect())
}

fn too_many(n: usize) -> MetaError {
    MetaError::Rejected(format!(
        "partition number ({n}) exceeds max configuration ({MAX_PARTITIONS})"
    ))
}

fn collection(s: &mut CatalogState, id: i64) -> Result<&mut CollectionMeta, MetaError> {
    s.collections
        .get_mut(&id)
        .ok_or_else(|| MetaError::CollectionNotFound(id.to_string()))
}

/// Adds partition `name` (an existing one: nothing changes). In a loaded collection the new
/// partition is loaded when every other partition is (the collection was loaded as a whole),
/// as Milvus does; after a partial load it starts released.
pub(crate) fn create_partition(
    s: &mut CatalogState,
    id: i64,
    name: &str,
    now: u64,
) -> Result<(), MetaError> {
    let pid = s.alloc_id();
    let c = collection(s, id)?;
    if c.partition(name).is_some() {
        return Ok(());
    }
    if c.has_partition_key() {
        return Err(MetaError::Rejected(
            "disable create partition if partition key mode is used".into(),
        ));
    }
    if c.partitions.len() >= MAX_PARTITIONS {
        return Err(MetaError::Rejected(format!(
            "partition number ({}) exceeds max configuration ({MAX_PARTITIONS}), collection: {}",
            c.partitions.len(),
            c.name
        )));
    }
    let released = c.loaded && c.partitions.iter().any(|p| p.released);
    c.partitions.push(PartitionMeta {
        id: pid,
        name: name.to_string(),
        created_ts: now,
        released,
    });
    s.last_ts = s.last_ts.max(now);
    Ok(())
}

/// Removes partition `name` and its segments; returns the keys of their files. Refused for
/// `_default`, for a partition-key collection and for a loaded partition.
pub(crate) fn drop_partition(
    s: &mut CatalogState,
    id: i64,
    name: &str,
) -> Result<Vec<String>, MetaError> {
    let c = collection(s, id)?;
    if c.has_partition_key() {
        return Err(MetaError::Rejected(
            "disable drop partition if partition key mode is used".into(),
        ));
    }
    if name == DEFAULT_PARTITION {
        return Err(MetaError::Rejected(
            "default partition cannot be deleted".into(),
        ));
    }
    let Some(p) = c.partition(name).cloned() else {
        return Ok(Vec::new());
    };
    if c.partition_loaded(&p) {
        return Err(MetaError::Rejected(
            "partition cannot be dropped, partition is loaded, please release it first".into(),
        ));
    }
    c.partitions.retain(|x| x.id != p.id);
    let mut garbage = Vec::new();
    c.segments.retain(|m| {
        if m.partition_id != p.id {
            return true;
        }
        garbage.push(m.data_key.clone());
        garbage.extend(m.deletes_key.clone());
        garbage.extend(m.index_files.values().cloned());
        false
    });
    Ok(garbage)
}

/// Loads or releases partitions by name. Loading partitions of a released collection loads
/// the collection with just those partitions; releasing the last loaded partition releases the
/// collection (and every partition is loaded again by the next LoadCollection).
pub(crate) fn set_partition_loaded(
    s: &mut CatalogState,
    id: i64,
    names: &[String],
    loaded: bool,
    replicas: u32,
) -> Result<(), MetaError> {
    let c = collection(s, id)?;
    if let Some(missing) = names.iter().find(|n| c.partition(n).is_none()) {
        return Err(MetaError::Rejected(format!(
            "partition not found[partition={missing}]"
        )));
    }
    let named = |p: &PartitionMeta| names.contains(&p.name);
    if loaded {
        if !c.loaded {
            for p in c.partitions.iter_mut() {
                p.released = !named(p);
            }
        } else {
            for p in c.partitions.iter_mut().filter(|p| named(p)) {
                p.released = false;
            }
        }
        c.loaded = true;
        c.replicas = replicas.max(1);
    } else if c.loaded {
        for p in c.partitions.iter_mut().filter(|p| named(p)) {
            p.released = true;
        }
        if c.partitions.iter().all(|p| p.released) {
            c.loaded = false;
            c.partitions.iter_mut().for_each(|p| p.released = false);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SegmentMeta;
    use std::collections::BTreeMap;

    fn state() -> (CatalogState, i64) {
        let mut s = CatalogState::default();
        let parts = initial_partitions(&mut s, false, 0, 1).unwrap();
        let schema: quarry_types::CollectionSchema = serde_json::from_value(serde_json::json!({
            "name": "c", "description": "", "auto_id": false, "enable_dynamic_field": false,
            "properties": [], "fields": []
        }))
        .unwrap();
        let id = s.alloc_id();
        s.collections.insert(
            id,
            CollectionMeta {
                id,
                name: "c".into(),
                db: "default".into(),
                schema,
                shards: 1,
                consistency: quarry_types::ConsistencyLevel::Bounded,
                properties: vec![],
                created_ts: 1,
                updated_ts: 1,
                loaded: false,
                replicas: 1,
                query_pool: None,
                partitions: parts,
                indexes: vec![],
                segments: vec![],
                checkpoints: vec![0],
                aliases: vec![],
            },
        );
        (s, id)
    }

    fn names(c: &CollectionMeta) -> Vec<(String, bool)> {
        c.partitions
            .iter()
            .map(|p| (p.name.clone(), c.partition_loaded(p)))
            .collect()
    }

    #[test]
    fn create_is_idempotent_and_bounded() {
        let (mut s, id) = state();
        create_partition(&mut s, id, "a", 2).unwrap();
        create_partition(&mut s, id, "a", 3).unwrap();
        assert_eq!(s.collections[&id].partitions.len(), 2);
        for i in 2..MAX_PARTITIONS {
            create_partition(&mut s, id, &format!("p{i}"), 4).unwrap();
        }
        let e = create_partition(&mut s, id, "over", 5).unwrap_err();
        assert!(
            e.to_string().contains("exceeds max configuration (1024)"),
            "{e}"
        );
        assert!(initial_partitions(&mut s, true, 1025, 1).is_err());
        let keyed = initial_partitions(&mut s, true, 3, 1).unwrap();
        let n: Vec<_> = keyed.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(n, ["_default_0", "_default_1", "_default_2"]);
        assert_eq!(initial_partitions(&mut s, true, 0, 1).unwrap().len(), 16);
        assert_eq!(initial_partitions(&mut s, false, 7, 1).unwrap().len(), 1);
    }

    #[test]
    fn load_release_and_drop_rules() {
        let (mut s, id) = state();
        create_partition(&mut s, id, "a", 2).unwrap();
        create_partition(&mut s, id, "b", 2).unwrap();
        let seg = |pid: i64, n: i64| SegmentMeta {
            id: 100 + n,
            shard: 0,
            partition_id: pid,
            start_offset: 0,
            end_offset: 1,
            rows: 1,
            data_key: format!("seg{n}"),
            deletes_key: Some(format!("del{n}")),
            deleted_rows: 0,
            index_files: BTreeMap::from([(9, format!("idx{n}"))]),
        };
        let pa = s.collections[&id].partition("a").unwrap().id;
        let pd = s.collections[&id].partitions[0].id;
        s.collections.get_mut(&id).unwrap().segments = vec![seg(pa, 1), seg(pd, 2)];
        // loading partitions of a released collection loads just those
        set_partition_loaded(&mut s, id, &["a".into()], true, 1).unwrap();
        let c = &s.collections[&id];
        assert!(c.loaded);
        assert_eq!(
            names(c),
            [
                ("_default".into(), false),
                ("a".into(), true),
                ("b".into(), false)
            ]
        );
        // a partition created after a partial load starts released
        create_partition(&mut s, id, "c", 3).unwrap();
        assert!(!s.collections[&id].partition_loaded(s.collections[&id].partition("c").unwrap()));
        let e = drop_partition(&mut s, id, "a").unwrap_err();
        assert!(e.to_string().contains("partition is loaded"), "{e}");
        assert!(drop_partition(&mut s, id, "_default").is_err());
        assert_eq!(
            drop_partition(&mut s, id, "nope").unwrap(),
            Vec::<String>::new()
        );
        assert!(set_partition_loaded(&mut s, id, &["zz".into()], true, 1).is_err());
        // releasing the last loaded partition releases the collection
        set_partition_loaded(&mut s, id, &["a".into()], false, 1).unwrap();
        let c = &s.collections[&id];
        assert!(!c.loaded && c.partitions.iter().all(|p| !p.released));
        let garbage = drop_partition(&mut s, id, "a").unwrap();
        assert_eq!(garbage, ["seg1", "del1", "idx1"]);
        let c = &s.collections[&id];
        assert_eq!(c.segments.len(), 1);
        assert!(c.partition("a").is_none());
    }
}
