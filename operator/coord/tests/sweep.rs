//! The garbage sweep over a real (local directory) object store: files a crash left between
//! upload and commit, and the files of a collection whose drop was interrupted, are removed;
//! every file the catalog references, and the catalog itself, stays.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quarry_coord::sweep::{SweepOptions, Sweeper};
use quarry_meta::{
    Catalog, CompactionCommit, Created, FlushCommit, IndexCommit, LocalMeta, MetaService,
    NewCollection, NewIndex, SegmentMeta,
};
use quarry_storage::{LocalObjectStore, ObjectStore};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

fn schema() -> CollectionSchema {
    let mut pk = FieldSchema::new("id", DataType::Int64);
    pk.is_primary_key = true;
    let v = FieldSchema::new("v", DataType::FloatVector).with_param("dim", "4");
    let s = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![pk, v],
        enable_dynamic_field: false,
        properties: vec![],
    };
    s.prepare_new().unwrap()
}

async fn create(meta: &LocalMeta, name: &str) -> i64 {
    let req = NewCollection {
        db: quarry_meta::DEFAULT_DB.into(),
        name: name.into(),
        schema: schema(),
        shards: 1,
        consistency: ConsistencyLevel::Bounded,
        properties: vec![],
        num_partitions: 0,
    };
    let Created::New(c) = meta.create_collection(req).await.unwrap() else {
        panic!("expected a new collection")
    };
    c.id
}

fn seg_key(collection: i64, segment: i64, file: &str) -> String {
    format!("collections/{collection}/segments/{segment}/{file}")
}

fn body(key: &str) -> Bytes {
    Bytes::from(format!("contents of {key}"))
}

/// Uploads a segment file and commits it as a flush of shard 0; returns the segment.
async fn flush(
    meta: &LocalMeta,
    store: &dyn ObjectStore,
    collection: i64,
    rows: u64,
) -> SegmentMeta {
    let id = meta.alloc_ids(1).await.unwrap();
    let data_key = seg_key(collection, id, "data.parquet");
    store.put(&data_key, body(&data_key)).await.unwrap();
    let base = meta.snapshot().collections[&collection].checkpoints[0];
    let seg = SegmentMeta {
        id,
        shard: 0,
        partition_id: meta.snapshot().collections[&collection].partitions[0].id,
        start_offset: base,
        end_offset: base + rows,
        rows,
        data_key,
        deletes_key: None,
        deleted_rows: 0,
        index_files: BTreeMap::new(),
    };
    meta.commit_flush(FlushCommit {
        collection,
        shard: 0,
        new_segments: vec![seg.clone()],
        deletes: vec![],
        checkpoint: base + rows,
        base,
    })
    .await
    .unwrap();
    seg
}

async fn put(store: &dyn ObjectStore, key: &str) {
    store.put(key, body(key)).await.unwrap();
}

#[tokio::test]
async fn one_pass_removes_crash_leftovers_and_keeps_committed_data() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::open(dir.path()).unwrap());
    let meta = LocalMeta::new(Catalog::open(store.clone()).await.unwrap());

    // committed data: three segments, a delete file, an index, a compaction of two segments
    let c = create(&meta, "kept").await;
    let s1 = flush(&meta, &*store, c, 10).await;
    let s2 = flush(&meta, &*store, c, 5).await;
    let s3 = flush(&meta, &*store, c, 7).await;
    let deletes = seg_key(c, s1.id, "deletes-100.json");
    put(&*store, &deletes).await;
    let base = meta.snapshot().collections[&c].checkpoints[0];
    meta.commit_flush(FlushCommit {
        collection: c,
        shard: 0,
        new_segments: vec![],
        deletes: vec![(s1.id, deletes.clone(), 2)],
        checkpoint: base,
        base,
    })
    .await
    .unwrap();
    let index = meta
        .create_index(
            c,
            NewIndex {
                name: "v_idx".into(),
                field_name: "v".into(),
                params: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    let index_key = seg_key(c, s1.id, &format!("index-{}.usearch", index.id));
    put(&*store, &index_key).await;
    meta.commit_index(IndexCommit {
        collection: c,
        segment: s1.id,
        index: index.id,
        key: index_key.clone(),
    })
    .await
    .unwrap();
    let target = meta.alloc_ids(1).await.unwrap();
    let target_key = seg_key(c, target, "data.parquet");
    put(&*store, &target_key).await;
    let garbage = meta
        .commit_compaction(CompactionCommit {
            collection: c,
            shard: 0,
            sources: vec![s2.id, s3.id],
            target: SegmentMeta {
                id: target,
                data_key: target_key.clone(),
                rows: 12,
                ..s2.clone()
            },
            base: meta.snapshot().collections[&c].checkpoints[0],
        })
        .await
        .unwrap();
    for key in garbage {
        store.delete(&key).await.unwrap();
    }

    // what crashes left: a flush, an index build and a compaction that uploaded and died
    // before their commits, a delete file never committed
    let lost_flush = seg_key(c, meta.alloc_ids(1).await.unwrap(), "data.parquet");
    let lost_index = seg_key(c, s1.id, &format!("index-{}.usearch", index.id + 1000));
    let lost_compaction = seg_key(c, meta.alloc_ids(1).await.unwrap(), "data.parquet");
    let lost_deletes = seg_key(c, s1.id, "deletes-200.json");
    // a collection dropped from the catalog whose files were never deleted
    let d = create(&meta, "dropped").await;
    let d1 = flush(&meta, &*store, d, 3).await;
    meta.drop_collection(d).await.unwrap();
    for key in [&lost_flush, &lost_index, &lost_compaction, &lost_deletes] {
        put(&*store, key).await;
    }

    let committed: Vec<String> = {
        let mut keys: Vec<String> = Catalog::open(store.clone())
            .await
            .unwrap()
            .referenced_keys()
            .into_keys()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        committed,
        {
            let mut k = vec![s1.data_key.clone(), deletes, index_key, target_key];
            k.sort();
            k
        },
        "the catalog references what was committed"
    );
    let manifests = store.list("catalog/").await.unwrap();
    assert!(!manifests.is_empty());

    // with the default grace period everything is too young to go
    let patient = Sweeper::new(store.clone(), SweepOptions::default());
    let r = patient.sweep_once().await.unwrap();
    assert!(r.deleted.is_empty(), "{r:?}");
    assert_eq!(r.listed, 9);

    // grace zero: one pass removes exactly the leftovers
    let eager = Sweeper::new(
        store.clone(),
        SweepOptions {
            interval: Duration::from_secs(1),
            grace: Duration::ZERO,
        },
    );
    let r = eager.sweep_once().await.unwrap();
    let mut deleted = r.deleted.clone();
    deleted.sort();
    let mut expected = vec![
        lost_flush,
        lost_index,
        lost_compaction,
        lost_deletes,
        d1.data_key,
    ];
    expected.sort();
    assert_eq!(deleted, expected);
    assert_eq!(r.failed, 0);
    assert_eq!(r.catalog_version, meta.snapshot().version);

    // committed data reads back unchanged, and the catalog is untouched
    let mut left = store.list("collections/").await.unwrap();
    left.sort();
    assert_eq!(left, committed);
    for key in &committed {
        assert_eq!(store.get(key).await.unwrap(), body(key), "{key}");
    }
    assert_eq!(store.list("catalog/").await.unwrap(), manifests);
    let reopened = Catalog::open(store.clone()).await.unwrap();
    assert_eq!(*reopened.snapshot(), *meta.snapshot());

    // a second pass has nothing to do
    assert!(eager.sweep_once().await.unwrap().deleted.is_empty());
}

#[tokio::test]
async fn the_background_loop_sweeps_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::open(dir.path()).unwrap());
    let meta = LocalMeta::new(Catalog::open(store.clone()).await.unwrap());
    let c = create(&meta, "c").await;
    let kept = flush(&meta, &*store, c, 4).await;
    let orphan = seg_key(c, meta.alloc_ids(1).await.unwrap(), "data.parquet");
    put(&*store, &orphan).await;

    let options = SweepOptions {
        interval: Duration::from_millis(20),
        grace: Duration::ZERO,
    };
    let task = Sweeper::new(store.clone(), options)
        .named("test")
        .spawn()
        .expect("enabled");
    let mut gone = false;
    for _ in 0..250 {
        if store.get(&orphan).await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the loop removed the orphan");
    assert_eq!(
        store.get(&kept.data_key).await.unwrap(),
        body(&kept.data_key)
    );

    // once the handle is dropped, nothing more is swept
    drop(task);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let later = seg_key(c, meta.alloc_ids(1).await.unwrap(), "data.parquet");
    put(&*store, &later).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.get(&later).await.is_ok());

    let disabled = SweepOptions {
        interval: Duration::ZERO,
        grace: Duration::ZERO,
    };
    assert!(Sweeper::new(store, disabled).spawn().is_none());
}
