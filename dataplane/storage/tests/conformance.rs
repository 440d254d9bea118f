use std::sync::Arc;

use quarry_storage::log::embedded::EmbeddedLogOptions;
use quarry_storage::testsuite::{log_conformance, object_store_conformance, object_store_race};
use quarry_storage::{EmbeddedLog, LocalObjectStore, MemoryLog, MemoryObjectStore};

#[tokio::test]
async fn memory_object_store() {
    object_store_conformance(&MemoryObjectStore::new()).await;
    object_store_race(Arc::new(MemoryObjectStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_object_store() {
    let dir = tempfile::tempdir().unwrap();
    object_store_conformance(&LocalObjectStore::open(dir.path().join("a")).unwrap()).await;
    object_store_race(Arc::new(
        LocalObjectStore::open(dir.path().join("b")).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn memory_log() {
    log_conformance(&MemoryLog::new()).await;
}

#[tokio::test]
async fn embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    log_conformance(&EmbeddedLog::open(dir.path(), EmbeddedLogOptions::default()).unwrap()).await;
}

#[tokio::test]
async fn embedded_log_with_tiny_segments() {
    let dir = tempfile::tempdir().unwrap();
    log_conformance(
        &EmbeddedLog::open(dir.path(), EmbeddedLogOptions { segment_bytes: 256 }).unwrap(),
    )
    .await;
}
