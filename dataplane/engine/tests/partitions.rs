//! Partitions as units of data, over the in-memory backends: writes go to their partition, reads
//! cover the partitions they name (or every loaded one), sealing and compaction keep partitions
//! apart, a dropped partition's rows are gone (also after a restart), released partitions are
//! refused; partition keys route rows by key and prune the segments a read looks at.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use quarry_engine::{
    CreateCollection, Engine, EngineError, EngineOptions, InsertInput, QueryInput, QueryOutput,
    SearchInput,
};
use quarry_storage::{LogStore, MemoryLog, MemoryObjectStore, ObjectStore};
use quarry_types::batch::{Column, ColumnData};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema, Value};

fn field(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
    let f = params
        .iter()
        .fold(FieldSchema::new(name, dt), |f, (k, v)| f.with_param(k, v));
    FieldSchema {
        is_primary_key: name == "id",
        ..f
    }
}

fn schema(key: bool) -> CollectionSchema {
    CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            field("id", DataType::Int64, &[]),
            FieldSchema {
                is_partition_key: key,
                ..field("k", DataType::Int64, &[])
            },
            field("v", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    }
}

/// Rows `ids` with key `k = id % 20` into `partition`.
fn rows(ids: std::ops::Range<i64>, partition: &str, upsert: bool) -> InsertInput {
    let n = ids.clone().count();
    let columns = HashMap::from([
        (
            "id".to_string(),
            Column {
                data: ColumnData::Int(ids.clone().collect()),
                valid: None,
            },
        ),
        (
            "k".to_string(),
            Column {
                data: ColumnData::Int(ids.clone().map(|i| i % 20).collect()),
                valid: None,
            },
        ),
        (
            "v".to_string(),
            Column {
                data: ColumnData::FloatVector {
                    dim: 2,
                    data: ids.flat_map(|i| [i as f32, 1.0]).collect(),
                },
                valid: None,
            },
        ),
    ]);
    InsertInput {
        partition: partition.into(),
        columns,
        rows: n,
        upsert,
        schema_ts: 0,
        partial: false,
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        segment_rows: 1000,
        seal_check: Duration::from_millis(20),
        ..Default::default()
    }
}

async fn create(e: &Engine, key: bool, num_partitions: i64) {
    e.create_collection(CreateCollection {
        db: quarry_engine::DEFAULT_DB.into(),
        name: "c".into(),
        schema: schema(key),
        shards: 2,
        consistency: ConsistencyLevel::Strong,
        properties: vec![],
        num_partitions,
    })
    .await
    .unwrap();
    let params = BTreeMap::from([
        ("index_type".to_string(), "FLAT".to_string()),
        ("metric_type".to_string(), "L2".to_string()),
    ]);
    e.create_index("c", "v", "", params).await.unwrap();
}

async fn query(e: &Engine, filter: &str, partitions: &[&str]) -> Result<Vec<i64>, EngineError> {
    let out = e
        .query(
            "c",
            QueryInput {
                filter: filter.into(),
                output_fields: vec!["id".into()],
                partitions: partitions.iter().map(|p| p.to_string()).collect(),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .await?;
    let QueryOutput::Rows(rows) = out.output else {
        unreachable!()
    };
    Ok(rows.columns[0]
        .values
        .iter()
        .map(|v| match v {
            Value::Int(i) => *i,
            other => panic!("{other:?}"),
        })
        .collect())
}

async fn count(e: &Engine, filter: &str, partitions: &[&str]) -> u64 {
    let out = e
        .query(
            "c",
            QueryInput {
                filter: filter.into(),
                output_fields: vec!["count(*)".into()],
                partitions: partitions.iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    match out.output {
        QueryOutput::Count(n) => n,
        QueryOutput::Rows(_) => unreachable!(),
    }
}

async fn search(e: &Engine, partitions: &[&str]) -> Result<Vec<i64>, EngineError> {
    let hits = e
        .search(
            "c",
            SearchInput {
                vectors: vec![vec![0.0, 1.0]],
                topk: 1000,
                partitions: partitions.iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            },
        )
        .await?;
    let mut ids: Vec<i64> = hits.per_query[0]
        .iter()
        .map(|(pk, _)| match pk {
            quarry_types::Pk::Int(i) => *i,
            other => panic!("{other:?}"),
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// (partition name, ids of its sealed rows' segments) per segment in the catalog.
fn segment_partitions(e: &Engine) -> Vec<(String, i64, u64)> {
    let meta = e.meta().snapshot();
    let c = meta.collections.values().find(|c| c.name == "c").unwrap();
    c.segments
        .iter()
        .map(|s| {
            let p = c.partitions.iter().find(|p| p.id == s.partition_id);
            (p.unwrap().name.clone(), s.id, s.rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_keep_their_rows_apart() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let e = Engine::open(store.clone(), log.clone(), options())
        .await
        .unwrap();
    create(&e, false, 0).await;
    e.create_partition("c", "a").await.unwrap();
    e.create_partition("c", "a").await.unwrap(); // again: nothing changes
    e.create_partition("c", "b").await.unwrap();
    let names: Vec<String> = e
        .list_partitions("c")
        .await
        .unwrap()
        .partitions
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(names, ["_default", "a", "b"]);
    // unknown partitions and bad names are refused
    let e404 = e.insert("c", rows(0..1, "nope", false)).await.unwrap_err();
    assert!(matches!(e404, EngineError::PartitionNotFound(_)), "{e404}");
    assert!(e.create_partition("c", "a-b").await.is_err());
    assert!(e.drop_partition("c", "_default").await.is_err());

    // two small sealed segments per partition and shard, then compaction merges them per
    // partition, never across
    for round in 0..2 {
        let base = round * 1000;
        e.insert("c", rows(base..base + 50, "a", false))
            .await
            .unwrap();
        e.insert("c", rows(base + 100..base + 160, "b", false))
            .await
            .unwrap();
        e.insert("c", rows(base + 200..base + 210, "", false))
            .await
            .unwrap();
        e.flush("c").await.unwrap();
    }
    for (p, _, _) in segment_partitions(&e) {
        assert!(["_default", "a", "b"].contains(&p.as_str()));
    }
    let mut merged = false;
    for _ in 0..300 {
        // each partition and shard ends with one segment
        if segment_partitions(&e).len() == 6 {
            merged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(merged, "{:?}", segment_partitions(&e));
    let mut rows_by_partition: BTreeMap<String, u64> = BTreeMap::new();
    for (p, _, n) in segment_partitions(&e) {
        *rows_by_partition.entry(p).or_default() += n;
    }
    assert_eq!(
        rows_by_partition,
        BTreeMap::from([
            ("_default".into(), 20),
            ("a".into(), 100),
            ("b".into(), 120)
        ])
    );
    // growing rows after the seal
    e.insert("c", rows(5000..5005, "a", false)).await.unwrap();

    e.load_collection("c", 1).await.unwrap();
    let a = query(&e, "id >= 0", &["a"]).await.unwrap();
    assert_eq!(a.len(), 105);
    assert!(a.iter().all(|i| i % 1000 < 50), "{a:?}");
    assert_eq!(count(&e, "", &["b"]).await, 120);
    assert_eq!(count(&e, "", &["a", "b"]).await, 225);
    assert_eq!(count(&e, "", &[]).await, 245);
    assert_eq!(e.partition_row_count("c", "a").await.unwrap(), 105);
    assert_eq!(e.row_count("c").await.unwrap(), 245);
    let b = search(&e, &["b"]).await.unwrap();
    assert_eq!(b.len(), 120);
    assert!(b.iter().all(|i| (100..160).contains(&(i % 1000))));
    let missing = search(&e, &["zz"]).await.unwrap_err();
    assert!(matches!(missing, EngineError::PartitionNotFound(_)));

    // a delete naming a partition deletes there only; an upsert moves a key
    let del = e
        .delete("c", "a", "id in [0, 100, 200]", &HashMap::new())
        .await
        .unwrap();
    assert_eq!(del.count, 1);
    assert_eq!(count(&e, "id in [0, 100, 200]", &[]).await, 2);
    e.insert("c", rows(100..101, "a", true)).await.unwrap();
    assert_eq!(query(&e, "id == 100", &["a"]).await.unwrap(), [100]);
    assert_eq!(
        query(&e, "id == 100", &["b"]).await.unwrap(),
        Vec::<i64>::new()
    );

    // released partitions: refused by name, skipped without names; a loaded one cannot drop
    e.release_partitions("c", &["a".into()]).await.unwrap();
    let refused = search(&e, &["a"]).await.unwrap_err();
    assert!(
        matches!(refused, EngineError::PartitionNotLoaded(ref p) if p == "a"),
        "{refused}"
    );
    assert_eq!(count(&e, "", &[]).await, 139);
    e.load_partitions("c", &["a".into()], 1).await.unwrap();
    let loaded = e.drop_partition("c", "a").await.unwrap_err();
    assert!(
        loaded.to_string().contains("partition is loaded"),
        "{loaded}"
    );
    e.release_partitions("c", &["a".into()]).await.unwrap();
    e.drop_partition("c", "a").await.unwrap();
    e.drop_partition("c", "a").await.unwrap(); // gone already: nothing happens
    assert!(segment_partitions(&e).iter().all(|(p, _, _)| p != "a"));
    assert_eq!(count(&e, "", &[]).await, 139);
    assert_eq!(e.row_count("c").await.unwrap(), 139);
    let gone = e
        .insert("c", rows(9000..9001, "a", false))
        .await
        .unwrap_err();
    assert!(matches!(gone, EngineError::PartitionNotFound(_)));

    // after a restart (the log still holds the dropped partition's growing rows) nothing
    // of it comes back, and the rest is there exactly once
    e.shutdown();
    drop(e);
    let e = Engine::open(store.clone(), log.clone(), options())
        .await
        .unwrap();
    assert_eq!(count(&e, "", &[]).await, 139);
    assert_eq!(count(&e, "", &["b"]).await, 119);
    assert_eq!(e.row_count("c").await.unwrap(), 139);
    e.flush("c").await.unwrap();
    assert!(segment_partitions(&e).iter().all(|(p, _, _)| p != "a"));
    assert_eq!(count(&e, "", &[]).await, 139);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_keys_route_rows_and_prune_reads() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let e = Engine::open(store, log, EngineOptions::default())
        .await
        .unwrap();
    create(&e, true, 8).await;
    let meta = e.list_partitions("c").await.unwrap();
    let names: Vec<&str> = meta.partitions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        (0..8).map(|i| format!("_default_{i}")).collect::<Vec<_>>()
    );

    e.insert("c", rows(0..400, "", false)).await.unwrap();
    // an upsert that changes the key moves the row to the key's partition
    let mut moved = rows(0..1, "", true);
    moved.columns.insert(
        "k".into(),
        Column {
            data: ColumnData::Int(vec![7]),
            valid: None,
        },
    );
    e.insert("c", moved).await.unwrap();
    e.flush("c").await.unwrap();
    // every key's rows sit in one partition
    let segments = segment_partitions(&e);
    assert!(segments.len() > 2, "{segments:?}");
    e.load_collection("c", 1).await.unwrap();
    assert_eq!(count(&e, "", &[]).await, 400);
    assert_eq!(count(&e, "k == 3", &[]).await, 20);
    assert_eq!(count(&e, "k == 7", &[]).await, 21);
    assert_eq!(count(&e, "k == 0", &[]).await, 19);

    // a read fixing the key looks at the segments of its partition only
    let all_segments = segments.len() as u64;
    let before = e.segments_read("c").unwrap();
    assert_eq!(count(&e, "", &[]).await, 400);
    let unfiltered = e.segments_read("c").unwrap() - before;
    assert_eq!(unfiltered, all_segments);
    let key3_partition = {
        let before = e.segments_read("c").unwrap();
        assert_eq!(
            query(&e, "k == 3 and id < 100", &[]).await.unwrap().len(),
            5
        );
        e.segments_read("c").unwrap() - before
    };
    // one partition: at most one sealed segment per shard
    assert!(
        (1..=2).contains(&key3_partition),
        "{key3_partition} of {all_segments}"
    );
    let before = e.segments_read("c").unwrap();
    let hits = e
        .search(
            "c",
            SearchInput {
                vectors: vec![vec![0.0, 1.0]],
                topk: 100,
                filter: "k in [1, 2]".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hits.per_query[0].len(), 40);
    assert!(e.segments_read("c").unwrap() - before <= 4);
    // a key fixed to no value matches nothing and reads nothing
    let before = e.segments_read("c").unwrap();
    assert_eq!(count(&e, "k in []", &[]).await, 0);
    assert_eq!(e.segments_read("c").unwrap(), before);

    // Milvus' refusals in partition-key mode
    let named = e.insert("c", rows(500..501, "_default_1", false)).await;
    let msg = named.unwrap_err().to_string();
    assert!(
        msg.contains("not support manually specifying the partition names"),
        "{msg}"
    );
    assert!(search(&e, &["_default_1"]).await.is_err());
    assert!(e.create_partition("c", "p").await.is_err());
    assert!(e.drop_partition("c", "_default_1").await.is_err());
    assert!(e
        .load_partitions("c", &["_default_1".into()], 1)
        .await
        .is_err());
}

#[tokio::test]
async fn partition_key_schemas_follow_milvus() {
    let e = Engine::open(
        Arc::new(MemoryObjectStore::new()),
        Arc::new(MemoryLog::new()),
        EngineOptions::default(),
    )
    .await
    .unwrap();
    let with = |fields: Vec<FieldSchema>, num_partitions: i64| CreateCollection {
        db: quarry_engine::DEFAULT_DB.into(),
        name: "k".into(),
        schema: CollectionSchema {
            name: "k".into(),
            fields,
            ..schema(false)
        },
        shards: 1,
        consistency: ConsistencyLevel::Bounded,
        properties: vec![],
        num_partitions,
    };
    let key = |f: FieldSchema| FieldSchema {
        is_partition_key: true,
        ..f
    };
    let id = || field("id", DataType::Int64, &[]);
    let v = || field("v", DataType::FloatVector, &[("dim", "2")]);
    let cases = [
        (
            vec![
                id(),
                key(field("a", DataType::Int64, &[])),
                key(field("b", DataType::Int64, &[])),
                v(),
            ],
            0,
            "more than one partition key",
        ),
        (vec![key(id()), v()], 0, "must not be primary field"),
        (vec![id(), key(v())], 0, "should be Int64 or VarChar"),
        (
            vec![id(), key(field("j", DataType::Json, &[])), v()],
            0,
            "should be Int64 or VarChar",
        ),
        (
            vec![id(), key(field("a", DataType::Int64, &[])), v()],
            1025,
            "exceeds max configuration",
        ),
        (
            vec![id(), key(field("a", DataType::Int64, &[])), v()],
            -1,
            "greater than 0",
        ),
        (
            vec![id(), field("a", DataType::Int64, &[]), v()],
            4,
            "only be specified with partition key",
        ),
    ];
    for (fields, n, why) in cases {
        let err = e
            .create_collection(with(fields, n))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{err} (wanted {why})");
    }
    // the default number of partitions
    e.create_collection(with(
        vec![
            id(),
            key(field("s", DataType::VarChar, &[("max_length", "8")])),
            v(),
        ],
        0,
    ))
    .await
    .unwrap();
    assert_eq!(e.list_partitions("k").await.unwrap().partitions.len(), 16);
}
