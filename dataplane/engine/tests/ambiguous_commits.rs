//! Catalog commits whose answer does not match what happened: a commit that lands but reports
//! an error, a commit after another writer took the catalog version, and a compaction by a node
//! that lost its shard. Each ends by reopening over the same log and objects: every
//! acknowledged row exactly once, no acknowledged delete back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use quarry_engine::{
    CreateCollection, Engine, EngineOptions, InsertInput, QueryInput, QueryOutput,
};
use quarry_meta::{
    AliasChange, Catalog, CatalogState, CollectionMeta, CompactionCommit, Created, DatabaseChange,
    FlushCommit, IndexCommit, IndexMeta, LocalMeta, MetaError, MetaService, NewCollection,
    NewIndex,
};
use quarry_storage::{
    LogStore, MemoryLog, MemoryObjectStore, ObjectInfo, ObjectStore, StorageError,
};
use quarry_types::batch::{Column, ColumnData};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema, Value};

fn rows(ids: std::ops::Range<i64>) -> InsertInput {
    let n = ids.clone().count();
    let mut columns = HashMap::new();
    let data = ColumnData::Int(ids.clone().collect());
    columns.insert("id".to_string(), Column { data, valid: None });
    let data = ColumnData::FloatVector {
        dim: 2,
        data: ids.flat_map(|i| [i as f32, 1.0]).collect(),
    };
    columns.insert("v".to_string(), Column { data, valid: None });
    InsertInput {
        partition: String::new(),
        columns,
        rows: n,
        upsert: false,
        schema_ts: 0,
        partial: false,
    }
}

async fn create(e: &Engine) {
    let id = FieldSchema {
        is_primary_key: true,
        ..FieldSchema::new("id", DataType::Int64)
    };
    let schema = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            id,
            FieldSchema::new("v", DataType::FloatVector).with_param("dim", "2"),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    };
    let req = CreateCollection {
        db: quarry_engine::DEFAULT_DB.into(),
        name: "c".into(),
        schema,
        shards: 1,
        consistency: ConsistencyLevel::Strong,
        properties: vec![],
        num_partitions: 0,
    };
    e.create_collection(req).await.unwrap();
    let params = [("index_type", "FLAT"), ("metric_type", "L2")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    e.create_index("c", "v", "", params).await.unwrap();
    e.load_collection("c", 1).await.unwrap();
}

/// Every primary key the engine returns, sorted (duplicates kept).
async fn ids(e: &Engine) -> Vec<i64> {
    let input = QueryInput {
        filter: "id >= 0".into(),
        output_fields: vec!["id".into()],
        limit: Some(16384),
        ..Default::default()
    };
    let QueryOutput::Rows(out) = e.query("c", input).await.unwrap().output else {
        unreachable!()
    };
    let mut ids: Vec<i64> = out.columns[0]
        .values
        .iter()
        .map(|v| match v {
            Value::Int(i) => *i,
            v => panic!("{v:?}"),
        })
        .collect();
    ids.sort();
    ids
}

fn options() -> EngineOptions {
    EngineOptions {
        segment_rows: 1000,
        seal_check: Duration::from_millis(20),
        ..Default::default()
    }
}

fn segments(e: &Engine) -> Vec<quarry_meta::SegmentMeta> {
    e.list_collections()[0].segments.clone()
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..500 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Reopens over the same log and objects (a fresh catalog read) and checks the rows.
async fn reopen_and_check(store: Arc<dyn ObjectStore>, log: Arc<dyn LogStore>, want: Vec<i64>) {
    let e = Engine::open(store.clone(), log, options()).await.unwrap();
    assert_eq!(ids(&e).await, want, "after reopening");
    for seg in segments(&e) {
        store
            .get(&seg.data_key)
            .await
            .expect("a listed segment's file");
    }
    e.shutdown();
}

/// The catalog operations of a [`LocalMeta`], with faults: compaction commits that are applied
/// but answered with an error, and a gate that holds the first compaction commit.
#[derive(Debug, Default)]
struct Faulty {
    inner: Option<Arc<LocalMeta>>,
    lie_on_compaction: AtomicBool,
    gate: Option<Gate>,
}

#[derive(Debug)]
struct Gate {
    used: AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
    result: tokio::sync::mpsc::UnboundedSender<Result<Vec<String>, String>>,
}

impl Faulty {
    fn inner(&self) -> &LocalMeta {
        self.inner.as_ref().unwrap()
    }
}

#[async_trait]
impl MetaService for Faulty {
    fn snapshot(&self) -> Arc<CatalogState> {
        self.inner().snapshot()
    }
    fn timestamp(&self) -> u64 {
        self.inner().timestamp()
    }
    async fn alloc_ids(&self, n: u64) -> Result<i64, MetaError> {
        self.inner().alloc_ids(n).await
    }
    async fn create_collection(&self, req: NewCollection) -> Result<Created, MetaError> {
        self.inner().create_collection(req).await
    }
    async fn drop_collection(&self, id: i64) -> Result<Option<CollectionMeta>, MetaError> {
        self.inner().drop_collection(id).await
    }
    async fn set_loaded(&self, id: i64, loaded: bool, replicas: u32) -> Result<(), MetaError> {
        self.inner().set_loaded(id, loaded, replicas).await
    }
    async fn set_query_pool(&self, id: i64, pool: Option<String>) -> Result<(), MetaError> {
        self.inner().set_query_pool(id, pool).await
    }
    async fn set_properties(&self, id: i64, p: Vec<(String, String)>) -> Result<(), MetaError> {
        self.inner().set_properties(id, p).await
    }
    async fn set_field_params(
        &self,
        id: i64,
        field: String,
        params: Vec<(String, String)>,
    ) -> Result<(), MetaError> {
        self.inner().set_field_params(id, field, params).await
    }
    async fn set_index_params(
        &self,
        id: i64,
        index: i64,
        params: std::collections::BTreeMap<String, String>,
    ) -> Result<(), MetaError> {
        self.inner().set_index_params(id, index, params).await
    }
    async fn create_index(&self, id: i64, index: NewIndex) -> Result<IndexMeta, MetaError> {
        self.inner().create_index(id, index).await
    }
    async fn drop_index(&self, id: i64, index: i64) -> Result<(), MetaError> {
        self.inner().drop_index(id, index).await
    }
    async fn commit_flush(&self, commit: FlushCommit) -> Result<Vec<String>, MetaError> {
        self.inner().commit_flush(commit).await
    }
    async fn commit_index(&self, commit: IndexCommit) -> Result<(), MetaError> {
        self.inner().commit_index(commit).await
    }
    async fn change_database(&self, change: DatabaseChange) -> Result<(), MetaError> {
        self.inner().change_database(change).await
    }
    async fn change_alias(&self, change: AliasChange) -> Result<(), MetaError> {
        self.inner().change_alias(change).await
    }
    async fn create_user(&self, name: &str, hash: &str, if_absent: bool) -> Result<(), MetaError> {
        self.inner().create_user(name, hash, if_absent).await
    }
    async fn update_user(&self, name: &str, hash: &str, previous: &str) -> Result<(), MetaError> {
        self.inner().update_user(name, hash, previous).await
    }
    async fn delete_user(&self, name: &str) -> Result<(), MetaError> {
        self.inner().delete_user(name).await
    }
    async fn create_partition(&self, id: i64, name: &str) -> Result<(), MetaError> {
        self.inner().create_partition(id, name).await
    }
    async fn drop_partition(&self, id: i64, name: &str) -> Result<Vec<String>, MetaError> {
        self.inner().drop_partition(id, name).await
    }
    async fn set_partition_loaded(
        &self,
        id: i64,
        names: Vec<String>,
        loaded: bool,
        replicas: u32,
    ) -> Result<(), MetaError> {
        self.inner()
            .set_partition_loaded(id, names, loaded, replicas)
            .await
    }
    async fn change_rbac(&self, change: quarry_meta::RbacChange) -> Result<(), MetaError> {
        self.inner().change_rbac(change).await
    }
    async fn rename_collection(&self, rename: quarry_meta::Rename) -> Result<(), MetaError> {
        self.inner().rename_collection(rename).await
    }
    async fn commit_compaction(&self, commit: CompactionCommit) -> Result<Vec<String>, MetaError> {
        if let Some(gate) = self
            .gate
            .as_ref()
            .filter(|g| !g.used.swap(true, Ordering::SeqCst))
        {
            gate.reached.notify_one();
            gate.release.acquire().await.unwrap().forget();
            let r = self.inner().commit_compaction(commit).await;
            let _ = gate
                .result
                .send(r.as_ref().map(|g| g.clone()).map_err(|e| e.to_string()));
            return r;
        }
        let r = self.inner().commit_compaction(commit).await;
        if self.lie_on_compaction.load(Ordering::SeqCst) {
            r?;
            return Err(MetaError::Unavailable(
                "deadline exceeded (answer lost)".into(),
            ));
        }
        r
    }
    async fn refresh(&self) -> Result<bool, MetaError> {
        self.inner().refresh().await
    }
}

async fn local_meta(store: &Arc<dyn ObjectStore>) -> Arc<LocalMeta> {
    Arc::new(LocalMeta::new(Catalog::open(store.clone()).await.unwrap()))
}

/// (a) A compaction commit that went through although every answer to it is an error (a
/// timeout to the coordinator): the new segment's file must stay, the catalog names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_applied_but_answered_with_an_error_keeps_its_segment() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let meta = Arc::new(Faulty {
        inner: Some(local_meta(&store).await),
        ..Default::default()
    });
    let e = Engine::open_with_meta(meta.clone(), store.clone(), log.clone(), options())
        .await
        .unwrap();
    create(&e).await;
    meta.lie_on_compaction.store(true, Ordering::SeqCst);
    for lo in [0, 100, 200] {
        e.insert("c", rows(lo..lo + 100)).await.unwrap();
        e.flush("c").await.unwrap();
    }
    e.delete("c", "", "id < 50", &HashMap::new()).await.unwrap();
    wait_for("the merge", || segments(&e).len() == 1).await;
    e.insert("c", rows(300..320)).await.unwrap();
    e.delete("c", "", "id >= 315", &HashMap::new())
        .await
        .unwrap();
    e.flush("c").await.unwrap();
    let want: Vec<i64> = (50..315).collect();
    assert_eq!(ids(&e).await, want);
    e.shutdown();
    drop(e);
    reopen_and_check(store, log, want).await;
}

/// An object store whose conditional puts of catalog manifests land but are answered
/// "already exists" (an S3 retry of a put whose first attempt went through gets 412).
#[derive(Debug)]
struct Answers412 {
    inner: MemoryObjectStore,
    lies: AtomicUsize,
}

#[async_trait]
impl ObjectStore for Answers412 {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.inner.put(key, data).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.inner.put_if_absent(key, data).await?;
        let lie = self
            .lies
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        match lie && key.starts_with("catalog/") {
            true => Err(StorageError::AlreadyExists(key.to_string())),
            false => Ok(()),
        }
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

/// (a, b) Catalog commits (flushes, id blocks, a compaction) whose manifest lands but whose put
/// is answered 412: each is recognised as applied, and later commits keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_puts_that_land_but_answer_412_are_recognised() {
    let faulty = Arc::new(Answers412 {
        inner: MemoryObjectStore::new(),
        lies: AtomicUsize::new(0),
    });
    let store: Arc<dyn ObjectStore> = faulty.clone();
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let e = Engine::open(store.clone(), log.clone(), options())
        .await
        .unwrap();
    create(&e).await;
    for lo in [0, 100] {
        e.insert("c", rows(lo..lo + 100)).await.unwrap();
        e.flush("c").await.unwrap();
    }
    wait_for("the first merge", || segments(&e).len() == 1).await;
    faulty.lies.store(usize::MAX, Ordering::SeqCst);
    e.delete("c", "", "id < 50", &HashMap::new()).await.unwrap();
    for lo in [200, 300] {
        e.insert("c", rows(lo..lo + 100)).await.unwrap();
        e.flush("c").await.expect("a flush whose manifest landed");
    }
    wait_for("the second merge", || {
        segments(&e).len() == 1 && segments(&e)[0].rows == 350
    })
    .await;
    let want: Vec<i64> = (50..400).collect();
    assert_eq!(ids(&e).await, want);
    e.shutdown();
    drop(e);
    faulty.lies.store(0, Ordering::SeqCst);
    reopen_and_check(store, log, want).await;
}

/// (b) Another writer (a second coordinator) commits a catalog version first: the engine's
/// next commit loads it and goes on, and so do the ones after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_after_another_writer_took_the_version_succeed() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let e = Engine::open(store.clone(), log.clone(), options())
        .await
        .unwrap();
    create(&e).await;
    e.insert("c", rows(0..100)).await.unwrap();
    e.flush("c").await.unwrap();
    let other = Catalog::open(store.clone()).await.unwrap();
    other
        .commit(|s| {
            s.next_id += 1000;
            Ok::<_, MetaError>(())
        })
        .await
        .unwrap();
    e.delete("c", "", "id < 10", &HashMap::new()).await.unwrap();
    e.insert("c", rows(100..200)).await.unwrap();
    e.flush("c").await.expect("the commit after a lost race");
    e.insert("c", rows(200..300)).await.unwrap();
    e.flush("c").await.expect("and the one after it");
    wait_for("the merge", || {
        segments(&e).len() == 1 && segments(&e)[0].rows == 290
    })
    .await;
    let want: Vec<i64> = (10..300).collect();
    assert_eq!(ids(&e).await, want);
    e.shutdown();
    drop(e);
    reopen_and_check(store, log, want).await;
}

/// (c) A node that lost its shard finishes a merge built before the new owner deleted rows and
/// flushed the deletes: its commit is refused, the deleted rows stay deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_owners_compaction_is_fenced() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let inner = local_meta(&store).await;
    let (tx, mut results) = tokio::sync::mpsc::unbounded_channel();
    let meta = Arc::new(Faulty {
        inner: Some(inner.clone()),
        gate: Some(Gate {
            used: AtomicBool::new(false),
            reached: tokio::sync::Notify::new(),
            release: tokio::sync::Semaphore::new(0),
            result: tx,
        }),
        ..Default::default()
    });
    let gate = meta.gate.as_ref().unwrap();
    let old = Engine::open_with_meta(meta.clone(), store.clone(), log.clone(), options())
        .await
        .unwrap();
    create(&old).await;
    for lo in [0, 100] {
        old.insert("c", rows(lo..lo + 100)).await.unwrap();
        old.flush("c").await.unwrap();
    }
    // the old owner has merged the two segments and is about to commit
    tokio::time::timeout(Duration::from_secs(10), gate.reached.notified())
        .await
        .expect("the old owner's compaction");
    // the new owner (no compaction of its own: nothing is small to it) deletes and flushes
    let new_options = EngineOptions {
        segment_rows: 2,
        ..options()
    };
    let new = Engine::open_with_meta(inner.clone(), store.clone(), log.clone(), new_options)
        .await
        .unwrap();
    let deleted = new
        .delete("c", "", "id < 10", &HashMap::new())
        .await
        .unwrap();
    assert_eq!(deleted.count, 10);
    new.flush("c").await.unwrap();
    gate.release.add_permits(1);
    let first = results.recv().await.unwrap();
    assert!(first.is_err(), "the stale merge was committed: {first:?}");
    // the old owner reloads the shard and merges again, with the deletes
    wait_for("the merge", || segments(&new).len() == 1).await;
    assert_eq!(segments(&new)[0].rows, 190);
    old.shutdown();
    new.shutdown();
    drop((old, new));
    reopen_and_check(store, log, (10..200).collect()).await;
}
