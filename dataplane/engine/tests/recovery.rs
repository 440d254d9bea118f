//! Engine round trips over the in-memory backends: reopening over the same log and object
//! store must bring back every acknowledged row exactly once, with deletes and indexes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use quarry_engine::{
    CreateCollection, Engine, EngineOptions, InsertInput, QueryInput, QueryOutput, SearchInput,
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

fn rows(ids: std::ops::Range<i64>) -> InsertInput {
    let n = ids.clone().count();
    let mut columns = HashMap::new();
    columns.insert(
        "id".to_string(),
        Column {
            data: ColumnData::Int(ids.clone().collect()),
            valid: None,
        },
    );
    columns.insert(
        "v".to_string(),
        Column {
            data: ColumnData::FloatVector {
                dim: 2,
                data: ids.flat_map(|i| [i as f32, 1.0]).collect(),
            },
            valid: None,
        },
    );
    InsertInput {
        partition: String::new(),
        columns,
        rows: n,
        upsert: false,
        schema_ts: 0,
        partial: false,
    }
}

async fn count(e: &Engine) -> u64 {
    match e
        .query(
            "c",
            QueryInput {
                output_fields: vec!["count(*)".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .output
    {
        QueryOutput::Count(n) => n,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_recovers_segments_growing_rows_deletes_and_indexes() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let e = Engine::open(store.clone(), log.clone(), EngineOptions::default())
        .await
        .unwrap();
    let schema = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            field("id", DataType::Int64, &[]),
            field("v", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    };
    e.create_collection(CreateCollection {
        db: quarry_engine::DEFAULT_DB.into(),
        name: "c".into(),
        schema,
        shards: 2,
        consistency: ConsistencyLevel::Strong,
        properties: vec![],
        num_partitions: 0,
    })
    .await
    .unwrap();
    e.insert("c", rows(0..100)).await.unwrap();
    e.flush("c").await.unwrap();
    e.insert("c", rows(100..150)).await.unwrap();
    let params = BTreeMap::from([
        ("index_type".to_string(), "HNSW".to_string()),
        ("metric_type".to_string(), "L2".to_string()),
    ]);
    e.create_index("c", "v", "", params).await.unwrap();
    e.load_collection("c", 1).await.unwrap();
    let deleted = e
        .delete("c", "", "id < 10 or id >= 140", &HashMap::new())
        .await
        .unwrap();
    assert_eq!(deleted.count, 20);
    assert_eq!(count(&e).await, 130);
    // wait for the background index build of the sealed segments
    for _ in 0..200 {
        if e.describe_index("c", "", "").await.unwrap()[0].finished {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(e.describe_index("c", "", "").await.unwrap()[0].finished);
    e.shutdown();
    drop(e);

    let e = Engine::open(store, log, EngineOptions::default())
        .await
        .unwrap();
    assert_eq!(
        count(&e).await,
        130,
        "every acknowledged row exactly once, deletes kept"
    );
    let hits = e
        .search(
            "c",
            SearchInput {
                vectors: vec![vec![50.0, 1.0]],
                topk: 3,
                output_fields: vec!["id".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hits.per_query[0][0].1, 0.0);
    assert_eq!(hits.outputs.columns[0].values[0], Value::Int(50));
    let info = &e.describe_index("c", "", "").await.unwrap()[0];
    // index progress counts the rows of sealed segments as of their last flush: the ten deletes
    // on the sealed segment are replayed from the log and persisted at the next flush
    assert!(info.finished && info.indexed_rows == 100, "{info:?}");
    e.flush("c").await.unwrap();
    let info = &e.describe_index("c", "", "").await.unwrap()[0];
    assert_eq!(info.indexed_rows + info.pending_rows, 130, "{info:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_merges_small_segments_and_purges_deletes() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let options = EngineOptions {
        segment_rows: 1000,
        seal_check: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let e = Engine::open(store.clone(), log.clone(), options.clone())
        .await
        .unwrap();
    let schema = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            field("id", DataType::Int64, &[]),
            field("v", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    };
    let create = CreateCollection {
        db: quarry_engine::DEFAULT_DB.into(),
        name: "c".into(),
        schema,
        shards: 1,
        consistency: ConsistencyLevel::Strong,
        properties: vec![],
        num_partitions: 0,
    };
    e.create_collection(create).await.unwrap();
    let params = BTreeMap::from([
        ("index_type".to_string(), "FLAT".to_string()),
        ("metric_type".to_string(), "L2".to_string()),
    ]);
    e.create_index("c", "v", "", params).await.unwrap();
    e.load_collection("c", 1).await.unwrap();
    // three small segments, then deletes in them; the background job merges them into one
    for lo in [0, 100, 200] {
        e.insert("c", rows(lo..lo + 100)).await.unwrap();
        e.flush("c").await.unwrap();
    }
    // a third of the rows: purged whether the merge runs before or after the delete
    e.delete("c", "", "id < 100", &HashMap::new())
        .await
        .unwrap();
    let segments = |e: &Engine| e.list_collections()[0].segments.clone();
    for _ in 0..250 {
        if segments(&e).len() == 1 && segments(&e)[0].rows == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let merged = segments(&e);
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0].rows, 200, "deleted rows are purged");
    assert_eq!(count(&e).await, 200);
    // the sources' files are gone, the catalog names the new segment only
    let files = store.list("collections/").await.unwrap();
    assert!(
        files
            .iter()
            .all(|k| k.contains(&format!("/{}/", merged[0].id))),
        "{files:?}"
    );
    e.shutdown();
    drop(e);

    let e = Engine::open(store, log, options).await.unwrap();
    assert_eq!(
        count(&e).await,
        200,
        "after reopening: every row once, deletes kept"
    );
    let ids = match e
        .query(
            "c",
            QueryInput {
                filter: "id >= 0".into(),
                output_fields: vec!["id".into()],
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .output
    {
        QueryOutput::Rows(out) => out.columns[0].values.clone(),
        _ => unreachable!(),
    };
    assert_eq!(ids, (100..300).map(Value::Int).collect::<Vec<_>>());

    // no output fields asked for: the primary key, named in the answer
    let answer = e
        .query(
            "c",
            QueryInput {
                filter: "id >= 0".into(),
                limit: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(answer.pk_field, "id");
    let QueryOutput::Rows(out) = answer.output else {
        unreachable!()
    };
    assert_eq!(out.names, vec!["id".to_string()]);
}
