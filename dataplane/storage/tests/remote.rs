//! The conformance suites against real servers: a Kafka-protocol broker and an S3-compatible
//! HTTP server, started by the Makefile (`make unit` / `make test`) which sets
//! `QUARRY_TEST_KAFKA_BROKERS` and `QUARRY_TEST_S3_ENDPOINT`. Without them these tests report
//! that they were skipped, unless `QUARRY_REQUIRE_REMOTE=1` (set by CI) makes that a failure.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use quarry_storage::testsuite::{log_conformance, object_store_conformance, object_store_race};
use quarry_storage::{KafkaLog, KafkaOptions, ObjectStore, S3ObjectStore, S3Options};

fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("QUARRY_REQUIRE_REMOTE").as_deref() == Ok("1") => {
            panic!("{var} is not set but QUARRY_REQUIRE_REMOTE=1")
        }
        _ => {
            eprintln!(
                "skipped: {var} is not set (run through `make unit`, which starts the server)"
            );
            None
        }
    }
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

fn s3(endpoint: &str, prefix: String, path_style: bool) -> S3ObjectStore {
    let mut o = S3Options::new(
        std::env::var("QUARRY_TEST_S3_BUCKET").unwrap_or_else(|_| "quarry-test".into()),
    );
    o.endpoint = Some(endpoint.to_string());
    o.access_key_id = "testing".into();
    o.secret_access_key = "testing".into();
    o.path_style = path_style;
    o.prefix = prefix;
    // small parts so that the suite's 11 MiB object goes through a 3-part multipart upload
    o.multipart_threshold = 6 << 20;
    o.part_size = 5 << 20;
    S3ObjectStore::new(o).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_store() {
    let Some(endpoint) = server("QUARRY_TEST_S3_ENDPOINT") else {
        return;
    };
    let store = s3(&endpoint, unique("conformance"), true);
    store.ensure_bucket().await.unwrap();
    object_store_conformance(&store).await;
    let race: Arc<dyn ObjectStore> = Arc::new(s3(&endpoint, unique("race"), true));
    object_store_race(race).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_store_without_prefix() {
    let Some(endpoint) = server("QUARRY_TEST_S3_ENDPOINT") else {
        return;
    };
    let mut o = S3Options::new(unique("bucket").to_lowercase());
    o.endpoint = Some(endpoint);
    o.access_key_id = "testing".into();
    o.secret_access_key = "testing".into();
    o.path_style = true;
    let store = S3ObjectStore::new(o).unwrap();
    store.ensure_bucket().await.unwrap();
    object_store_conformance(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_log() {
    let Some(brokers) = server("QUARRY_TEST_KAFKA_BROKERS") else {
        return;
    };
    let mut o = KafkaOptions::new(brokers);
    o.topic_prefix = format!("{}-", unique("conf"));
    log_conformance(&KafkaLog::connect(o).unwrap()).await;
}
