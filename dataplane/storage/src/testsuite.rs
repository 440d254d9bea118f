//! Conformance suites every backend must pass. They are plain async functions so that the
//! tests of each implementation (in-memory, local, and later Kafka/S3 against real servers)
//! run exactly the same checks. They panic on the first violation.

use std::time::SystemTime;

use bytes::Bytes;

use crate::{LogStore, ObjectStore, StorageError};

/// Checks the [`ObjectStore`] contract on an empty store.
pub async fn object_store_conformance(store: &dyn ObjectStore) {
    let started = SystemTime::now();
    // missing objects
    assert!(matches!(
        store.get("a/missing").await,
        Err(StorageError::NotFound(_))
    ));
    assert!(store.list("a/").await.unwrap().is_empty());
    store
        .delete("a/missing")
        .await
        .expect("deleting a missing object is fine");

    // put / get / overwrite
    store
        .put("a/b/one", Bytes::from_static(b"1"))
        .await
        .unwrap();
    assert_eq!(
        store.get("a/b/one").await.unwrap(),
        Bytes::from_static(b"1")
    );
    store
        .put("a/b/one", Bytes::from_static(b"uno"))
        .await
        .unwrap();
    assert_eq!(
        store.get("a/b/one").await.unwrap(),
        Bytes::from_static(b"uno")
    );
    store.put("a/empty", Bytes::new()).await.unwrap();
    assert_eq!(store.get("a/empty").await.unwrap().len(), 0);
    let big = Bytes::from(
        (0..3_000_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<_>>(),
    );
    store.put("a/big", big.clone()).await.unwrap();
    assert_eq!(store.get("a/big").await.unwrap(), big);
    // large enough for a multipart upload where the backend has one
    let huge = Bytes::from(
        (0..(11u32 << 20))
            .map(|i| (i % 253) as u8)
            .collect::<Vec<_>>(),
    );
    store.put("a/huge", huge.clone()).await.unwrap();
    assert_eq!(store.get("a/huge").await.unwrap(), huge);
    store.delete("a/huge").await.unwrap();

    // conditional put
    store
        .put_if_absent("a/b/cond", Bytes::from_static(b"first"))
        .await
        .unwrap();
    let second = store
        .put_if_absent("a/b/cond", Bytes::from_static(b"second"))
        .await;
    assert!(
        matches!(second, Err(StorageError::AlreadyExists(_))),
        "got {second:?}"
    );
    assert_eq!(
        store.get("a/b/cond").await.unwrap(),
        Bytes::from_static(b"first")
    );

    // list is sorted, prefix-exact
    store
        .put("a/b/two", Bytes::from_static(b"2"))
        .await
        .unwrap();
    store.put("ab/x", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(
        store.list("a/b/").await.unwrap(),
        vec!["a/b/cond", "a/b/one", "a/b/two"]
    );
    assert_eq!(store.list("a/b/t").await.unwrap(), vec!["a/b/two"]);
    assert_eq!(store.list("ab").await.unwrap(), vec!["ab/x"]);
    assert_eq!(store.list("a/").await.unwrap().len(), 5);

    // list_info: the same keys, with sizes and plausible modification times
    let info = store.list_info("a/").await.unwrap();
    let keys: Vec<String> = info.iter().map(|o| o.key.clone()).collect();
    assert_eq!(keys, store.list("a/").await.unwrap());
    let big_info = info.iter().find(|o| o.key == "a/big").expect("listed");
    assert_eq!(big_info.size, big.len() as u64);
    assert_eq!(
        info.iter().find(|o| o.key == "a/empty").map(|o| o.size),
        Some(0)
    );
    // generous slack: coarse timestamps (S3 has whole seconds) and a remote server's clock
    let slack = std::time::Duration::from_secs(120);
    for o in &info {
        assert!(
            o.modified + slack >= started && o.modified <= SystemTime::now() + slack,
            "{o:?} modified outside the test's run"
        );
    }
    assert_eq!(
        store
            .list_info("a/b/t")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect::<Vec<_>>(),
        vec!["a/b/two"]
    );
    assert!(store.list_info("nothing/").await.unwrap().is_empty());

    // delete
    store.delete("a/b/one").await.unwrap();
    assert!(matches!(
        store.get("a/b/one").await,
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(
        store.list("a/b/").await.unwrap(),
        vec!["a/b/cond", "a/b/two"]
    );

    // bad keys are refused
    for bad in ["", "/abs", "a//b", "a/../b", "dir/"] {
        assert!(
            matches!(
                store.put(bad, Bytes::new()).await,
                Err(StorageError::InvalidKey(_))
            ),
            "key {bad:?}"
        );
    }
}

/// Checks racing conditional puts: exactly one writer wins.
pub async fn object_store_race(store: std::sync::Arc<dyn ObjectStore>) {
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .put_if_absent("race/manifest-1", Bytes::from(vec![i]))
                .await
        }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => winners += 1,
            Err(StorageError::AlreadyExists(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(winners, 1);
}

/// Checks the [`LogStore`] contract on a store without topics.
pub async fn log_conformance(log: &dyn LogStore) {
    assert!(matches!(
        log.append("t1", 0, Bytes::from_static(b"x")).await,
        Err(StorageError::NoSuchLog { .. })
    ));
    log.create_topic("t1", 2).await.unwrap();
    log.create_topic("t1", 2)
        .await
        .expect("create is idempotent");
    assert_eq!(log.end_offset("t1", 0).await.unwrap(), 0);
    assert!(log.read("t1", 0, 0, 10).await.unwrap().is_empty());

    // offsets are dense per partition, partitions are independent
    for i in 0..100u64 {
        let off = log
            .append("t1", 0, Bytes::from(format!("rec-{i}")))
            .await
            .unwrap();
        assert_eq!(off, i);
    }
    assert_eq!(
        log.append("t1", 1, Bytes::from_static(b"other"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(log.end_offset("t1", 0).await.unwrap(), 100);
    assert_eq!(log.end_offset("t1", 1).await.unwrap(), 1);

    // reads return records in order, bounded by max
    let got = log.read("t1", 0, 10, 5).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.offset).collect::<Vec<_>>(),
        vec![10, 11, 12, 13, 14]
    );
    assert_eq!(got[0].payload, Bytes::from_static(b"rec-10"));
    let all = log.read("t1", 0, 0, 1000).await.unwrap();
    assert_eq!(all.len(), 100);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, e)| e.offset == i as u64 && e.payload == format!("rec-{i}")));
    assert!(log.read("t1", 0, 100, 10).await.unwrap().is_empty());
    assert!(matches!(
        log.read("t1", 0, 101, 10).await,
        Err(StorageError::OffsetOutOfRange { .. })
    ));

    // large and empty payloads survive unchanged
    let big = Bytes::from(vec![7u8; 1 << 20]);
    let off = log.append("t1", 1, big.clone()).await.unwrap();
    let empty = log.append("t1", 1, Bytes::new()).await.unwrap();
    assert_eq!(log.read("t1", 1, off, 1).await.unwrap()[0].payload, big);
    assert_eq!(
        log.read("t1", 1, empty, 1).await.unwrap()[0].payload.len(),
        0
    );

    // truncation never drops records at or above the requested offset
    log.truncate_before("t1", 0, 50).await.unwrap();
    let rest = log.read("t1", 0, 50, 1000).await.unwrap();
    assert_eq!(rest.len(), 50);
    assert_eq!(rest[0].offset, 50);
    assert_eq!(
        log.append("t1", 0, Bytes::from_static(b"after"))
            .await
            .unwrap(),
        100
    );

    // deleting a topic removes it
    log.delete_topic("t1").await.unwrap();
    log.delete_topic("t1").await.expect("delete is idempotent");
    assert!(matches!(
        log.end_offset("t1", 0).await,
        Err(StorageError::NoSuchLog { .. })
    ));
    log.create_topic("t1", 1).await.unwrap();
    assert_eq!(
        log.end_offset("t1", 0).await.unwrap(),
        0,
        "a re-created topic starts empty"
    );
}
