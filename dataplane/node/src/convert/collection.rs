//! Collection and partition requests and answers: create, describe, list, statistics, load
//! state, flush.

use std::collections::HashMap;

use quarry_engine::{CreateCollection, EngineError};
use quarry_meta::{CollectionMeta, PartitionMeta};
use quarry_proto::common::{KeyValuePair, LoadState};
use quarry_proto::schema as ps;
use quarry_proto::service::{
    CreateCollectionRequest, DescribeCollectionResponse, FlushResponse, GetLoadingProgressResponse,
    ShowCollectionsResponse, ShowPartitionsRequest, ShowPartitionsResponse,
};
use quarry_types::ConsistencyLevel;

use super::{kv, schema_from_bytes, schema_to_proto, success, to_kv, ConvResult};

pub fn create_collection(r: CreateCollectionRequest) -> ConvResult<CreateCollection> {
    Ok(CreateCollection {
        schema: schema_from_bytes(&r.schema)?,
        db: r.db_name,
        name: r.collection_name,
        shards: r.shards_num,
        consistency: ConsistencyLevel::from_code(r.consistency_level),
        properties: kv(&r.properties),
        num_partitions: r.num_partitions,
    })
}

/// A collection's description; `db_id` is the id of its database.
pub fn describe_collection(m: &CollectionMeta, db_id: i64) -> DescribeCollectionResponse {
    DescribeCollectionResponse {
        status: success(),
        schema: Some(schema_to_proto(&m.schema, &m.db)),
        collection_id: m.id,
        virtual_channel_names: (0..m.shards)
            .map(|s| format!("{}_{s}v0", m.topic()))
            .collect(),
        physical_channel_names: (0..m.shards)
            .map(|s| format!("{}_{s}", m.topic()))
            .collect(),
        created_timestamp: m.created_ts,
        created_utc_timestamp: m.created_ts >> 18,
        shards_num: m.shards as i32,
        consistency_level: m.consistency.code(),
        collection_name: m.name.clone(),
        properties: to_kv(&m.properties),
        db_name: m.db.clone(),
        db_id,
        aliases: m.aliases.clone(),
        num_partitions: m.partitions.len() as i64,
        update_timestamp: m.updated_ts,
        update_timestamp_str: m.updated_ts.to_string(),
        ..Default::default()
    }
}

/// `ShowType.InMemory` of ShowCollections and ShowPartitions: only what is loaded.
pub const SHOW_IN_MEMORY: i32 = 1;

/// `all`: the collections with their load progress in percent (0 when not loaded).
pub fn show_collections(all: &[(CollectionMeta, i64)]) -> ShowCollectionsResponse {
    ShowCollectionsResponse {
        status: success(),
        collection_names: all.iter().map(|(c, _)| c.name.clone()).collect(),
        collection_ids: all.iter().map(|(c, _)| c.id).collect(),
        created_timestamps: all.iter().map(|(c, _)| c.created_ts).collect(),
        created_utc_timestamps: all.iter().map(|(c, _)| c.created_ts >> 18).collect(),
        in_memory_percentages: all.iter().map(|(_, p)| *p).collect(),
        query_service_available: all.iter().map(|(c, p)| c.loaded && *p >= 100).collect(),
        shards_num: all.iter().map(|(c, _)| c.shards as i32).collect(),
    }
}

/// The partitions of a collection: all of them, or with `type` InMemory the loaded ones among
/// those named (all loaded ones without names), with their in-memory percentages (`progress`
/// of the collection's load for loaded partitions, 0 for others).
pub fn show_partitions(
    m: &CollectionMeta,
    r: &ShowPartitionsRequest,
    progress: i64,
) -> Result<ShowPartitionsResponse, EngineError> {
    let mut shown: Vec<&PartitionMeta> = m.partitions.iter().collect();
    if r.r#type == SHOW_IN_MEMORY {
        for name in &r.partition_names {
            if m.partition(name).is_none() {
                return Err(EngineError::PartitionNotFound(name.clone()));
            }
        }
        shown.retain(|p| {
            m.partition_loaded(p)
                && (r.partition_names.is_empty() || r.partition_names.contains(&p.name))
        });
    }
    Ok(ShowPartitionsResponse {
        status: success(),
        partition_names: shown.iter().map(|p| p.name.clone()).collect(),
        partition_i_ds: shown.iter().map(|p| p.id).collect(),
        created_timestamps: shown.iter().map(|p| p.created_ts).collect(),
        created_utc_timestamps: shown.iter().map(|p| p.created_ts >> 18).collect(),
        in_memory_percentages: shown
            .iter()
            .map(|p| if m.partition_loaded(p) { progress } else { 0 })
            .collect(),
    })
}

/// Whether the named partitions (the collection without names) are loaded; an unknown name is
/// "partition not found".
pub fn partitions_loaded(m: &CollectionMeta, names: &[String]) -> Result<bool, EngineError> {
    let mut loaded = m.loaded;
    for name in names {
        let p = m
            .partition(name)
            .ok_or_else(|| EngineError::PartitionNotFound(name.clone()))?;
        loaded &= m.partition_loaded(p);
    }
    Ok(loaded)
}

/// Collection and partition statistics: the `row_count` the ORM's `num_entities` reads.
pub fn row_count(rows: u64) -> Vec<KeyValuePair> {
    vec![KeyValuePair {
        key: "row_count".into(),
        value: rows.to_string(),
    }]
}

/// A LoadCollection's `replica_number`: 0 or less means 1 (the ORM sends 0); the engine
/// checks the bounds.
pub fn replica_number(n: i32) -> u32 {
    n.max(1).unsigned_abs()
}

/// The load state of a collection from whether it is loaded and the percent served.
pub fn load_state(loaded: bool, progress: i64) -> LoadState {
    match (loaded, progress) {
        (false, _) => LoadState::NotLoad,
        (true, 100) => LoadState::Loaded,
        (true, _) => LoadState::Loading,
    }
}

pub fn loading_progress(progress: i64) -> GetLoadingProgressResponse {
    GetLoadingProgressResponse {
        status: success(),
        progress,
        refresh_progress: progress,
    }
}

/// The answer of a flush: per collection its flushed segments and the flush timestamp.
pub fn flush_response(db: &str, flushed: Vec<(String, Vec<i64>, u64)>) -> FlushResponse {
    let mut segs = HashMap::new();
    let mut ts = HashMap::new();
    for (name, ids, at) in flushed {
        segs.insert(name.clone(), ps::LongArray { data: ids });
        ts.insert(name, at);
    }
    FlushResponse {
        status: success(),
        db_name: db.into(),
        coll_seg_i_ds: segs,
        coll_flush_ts: ts,
        ..Default::default()
    }
}
