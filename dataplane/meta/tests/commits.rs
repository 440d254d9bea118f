//! Catalog commits whose answers get lost or refused: a put that lands but reports an error, a
//! version taken by another writer, and compaction commits fenced by the shard checkpoint and
//! recognised when sent again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use quarry_meta::{
    Catalog, CompactionCommit, Created, FlushCommit, LocalMeta, MetaError, MetaService,
    NewCollection, SegmentMeta,
};
use quarry_storage::{MemoryObjectStore, ObjectInfo, ObjectStore, StorageError};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

/// Conditional puts that land but report a timeout while `lie` is set.
#[derive(Debug, Default)]
struct LostAnswers {
    inner: MemoryObjectStore,
    lie: AtomicBool,
}

#[async_trait]
impl ObjectStore for LostAnswers {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.inner.put(key, data).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.inner.put_if_absent(key, data).await?;
        if self.lie.load(Ordering::SeqCst) {
            return Err(StorageError::Backend {
                backend: "test",
                message: "timed out".into(),
            });
        }
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(prefix).await
    }
    async fn list_info(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.inner.list_info(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn a_put_that_lands_but_reports_an_error_is_a_commit() {
    let store = Arc::new(LostAnswers::default());
    let cat = Catalog::open(store.clone()).await.unwrap();
    store.lie.store(true, Ordering::SeqCst);
    let id = cat
        .commit(|s| Ok::<_, MetaError>(s.alloc_id()))
        .await
        .expect("the manifest landed");
    assert_eq!(cat.snapshot().version, 1);
    store.lie.store(false, Ordering::SeqCst);
    let next = cat
        .commit(|s| Ok::<_, MetaError>(s.alloc_id()))
        .await
        .unwrap();
    assert!(next > id);
    let reread = Catalog::open(store).await.unwrap();
    assert_eq!(reread.snapshot().as_ref(), cat.snapshot().as_ref());
}

#[tokio::test]
async fn after_losing_a_version_the_next_commits_work() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let a = Catalog::open(store.clone()).await.unwrap();
    let b = Catalog::open(store.clone()).await.unwrap();
    for _ in 0..3 {
        b.commit(|s| Ok::<_, MetaError>(s.alloc_id()))
            .await
            .unwrap();
    }
    // `a` is three versions behind: it loads the newest and applies its change there
    let id = a
        .commit(|s| Ok::<_, MetaError>(s.alloc_id()))
        .await
        .unwrap();
    assert_eq!(a.snapshot().version, 4);
    let before = b.snapshot().next_id;
    assert!(id >= before, "no id handed out twice");
    a.commit(|s| Ok::<_, MetaError>(s.alloc_id()))
        .await
        .unwrap();
    b.commit(|s| Ok::<_, MetaError>(s.alloc_id()))
        .await
        .unwrap();
    assert_eq!(b.snapshot().version, 6);
    // a change that no longer fits the newest state is refused, not forced
    b.commit(|s| {
        s.last_ts = 7;
        Ok::<_, MetaError>(())
    })
    .await
    .unwrap();
    let r = a
        .commit(|s| match s.last_ts {
            0 => Ok(()),
            _ => Err(MetaError::StaleCommit("moved on".into())),
        })
        .await;
    assert!(matches!(r, Err(MetaError::StaleCommit(_))), "{r:?}");
    assert_eq!(
        a.snapshot().version,
        7,
        "the refused change still loaded the newest state"
    );
}

fn segment(id: i64, partition_id: i64, start: u64, end: u64) -> SegmentMeta {
    SegmentMeta {
        id,
        shard: 0,
        partition_id,
        start_offset: start,
        end_offset: end,
        rows: end - start,
        data_key: format!("collections/x/segments/{id}/data.parquet"),
        deletes_key: None,
        deleted_rows: 0,
        index_files: BTreeMap::new(),
    }
}

fn flush(collection: i64, seg: Option<SegmentMeta>, base: u64, checkpoint: u64) -> FlushCommit {
    FlushCommit {
        collection,
        shard: 0,
        new_segments: seg.into_iter().collect(),
        deletes: vec![],
        checkpoint,
        base,
    }
}

#[tokio::test]
async fn compactions_are_fenced_by_the_checkpoint_and_recognised_when_sent_again() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let meta = LocalMeta::new(Catalog::open(store).await.unwrap());
    let schema = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            FieldSchema {
                is_primary_key: true,
                ..FieldSchema::new("id", DataType::Int64)
            },
            FieldSchema::new("v", DataType::FloatVector).with_param("dim", "2"),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    };
    let created = meta
        .create_collection(NewCollection {
            db: quarry_meta::DEFAULT_DB.into(),
            name: "c".into(),
            schema,
            shards: 1,
            consistency: ConsistencyLevel::Strong,
            properties: vec![],
            num_partitions: 0,
        })
        .await
        .unwrap();
    let Created::New(c) = created else { panic!() };
    let p = c.partitions[0].id;
    meta.commit_flush(flush(c.id, Some(segment(1, p, 0, 10)), 0, 10))
        .await
        .unwrap();
    let second = flush(c.id, Some(segment(2, p, 10, 20)), 10, 20);
    meta.commit_flush(second.clone()).await.unwrap();
    // a flush sent again after a lost answer is recognised, not refused
    assert_eq!(
        meta.commit_flush(second).await.unwrap(),
        Vec::<String>::new()
    );

    // built by an owner that has not seen the last flush: refused
    let merge = |base| CompactionCommit {
        collection: c.id,
        shard: 0,
        sources: vec![1, 2],
        target: segment(3, p, 0, 20),
        base,
    };
    let stale = meta.commit_compaction(merge(10)).await;
    assert!(matches!(stale, Err(MetaError::StaleCommit(_))), "{stale:?}");
    let garbage = meta.commit_compaction(merge(20)).await.unwrap();
    assert_eq!(garbage.len(), 2, "{garbage:?}");
    // sent again: applied already
    assert_eq!(
        meta.commit_compaction(merge(20)).await.unwrap(),
        Vec::<String>::new()
    );
    let ids: Vec<i64> = meta.snapshot().collections[&c.id]
        .segments
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [3]);

    // deletes of a segment compacted away are refused (the flush would drop them)
    let mut late = flush(c.id, None, 20, 25);
    late.deletes = vec![(1, "collections/x/segments/1/deletes-9.json".into(), 3)];
    let r = meta.commit_flush(late).await;
    assert!(matches!(r, Err(MetaError::StaleCommit(_))), "{r:?}");

    // one flush seals one segment per partition; a dropped partition's segment is garbage
    meta.create_partition(c.id, "other").await.unwrap();
    let other = meta.snapshot().collections[&c.id]
        .partition("other")
        .unwrap()
        .id;
    let mut multi = flush(c.id, Some(segment(4, p, 20, 30)), 20, 30);
    multi.new_segments.push(segment(5, other, 20, 30));
    multi.new_segments.push(segment(6, 999_999_999, 20, 30));
    let garbage = meta.commit_flush(multi).await.unwrap();
    assert_eq!(garbage, [segment(6, 0, 0, 0).data_key]);
    let parts: Vec<(i64, i64)> = meta.snapshot().collections[&c.id]
        .segments
        .iter()
        .map(|s| (s.id, s.partition_id))
        .collect();
    assert_eq!(parts, [(3, p), (4, p), (5, other)]);
    // never compacted across partitions
    let across = CompactionCommit {
        collection: c.id,
        shard: 0,
        sources: vec![4, 5],
        target: segment(7, p, 20, 30),
        base: 30,
    };
    let r = meta.commit_compaction(across).await;
    assert!(matches!(r, Err(MetaError::StaleCommit(_))), "{r:?}");
    // dropping the partition takes its segment out of the catalog; its files are garbage
    let garbage = meta.drop_partition(c.id, "other").await.unwrap();
    assert_eq!(garbage, [segment(5, 0, 0, 0).data_key]);
    assert!(meta.snapshot().collections[&c.id]
        .segments
        .iter()
        .all(|s| s.partition_id == p));
}

#[tokio::test]
async fn id_allocations_are_bounded_and_never_move_backwards() {
    let store = Arc::new(MemoryObjectStore::default());
    let meta = LocalMeta::new(Catalog::open(store).await.unwrap());
    let first = meta.alloc_ids(10).await.unwrap();
    for n in [0, u64::MAX, quarry_types::limits::MAX_IDS_PER_ALLOC + 1] {
        assert!(meta.alloc_ids(n).await.is_err(), "{n} ids");
    }
    let next = meta.alloc_ids(1).await.unwrap();
    assert!(next >= first + 10, "{next} after {first}");
}
