//! Durability of the embedded log across reopen and torn writes.

use std::fs::OpenOptions;
use std::io::Write;

use bytes::Bytes;
use quarry_storage::log::embedded::EmbeddedLogOptions;
use quarry_storage::{EmbeddedLog, LogStore, StorageError};

fn opts() -> EmbeddedLogOptions {
    EmbeddedLogOptions {
        segment_bytes: 1024,
    }
}

#[tokio::test]
async fn records_survive_reopen_across_segment_files() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
        log.create_topic("c1", 2).await.unwrap();
        for i in 0..200u32 {
            log.append("c1", i % 2, Bytes::from(format!("payload-{i}")))
                .await
                .unwrap();
        }
    }
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    assert_eq!(log.end_offset("c1", 0).await.unwrap(), 100);
    let got = log.read("c1", 1, 0, 1000).await.unwrap();
    assert_eq!(got.len(), 100);
    assert_eq!(got[99].payload, Bytes::from("payload-199"));
    assert_eq!(
        log.append("c1", 0, Bytes::from_static(b"next"))
            .await
            .unwrap(),
        100
    );
    let files = std::fs::read_dir(dir.path().join("c1/0")).unwrap().count();
    assert!(files > 1, "expected several segment files, got {files}");
}

#[tokio::test]
async fn torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), EmbeddedLogOptions::default()).unwrap();
        log.create_topic("c", 1).await.unwrap();
        for i in 0..10u32 {
            log.append("c", 0, Bytes::from(format!("r{i}")))
                .await
                .unwrap();
        }
    }
    // a crash in the middle of writing frame 10: header and half a payload
    let path = dir.path().join("c/0/00000000000000000000.log");
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[
        100, 0, 0, 0, 1, 2, 3, 4, 10, 0, 0, 0, 0, 0, 0, 0, b'x', b'y',
    ])
    .unwrap();
    drop(f);

    let log = EmbeddedLog::open(dir.path(), EmbeddedLogOptions::default()).unwrap();
    assert_eq!(log.end_offset("c", 0).await.unwrap(), 10);
    assert_eq!(
        log.append("c", 0, Bytes::from_static(b"r10"))
            .await
            .unwrap(),
        10
    );
    let all = log.read("c", 0, 0, 100).await.unwrap();
    assert_eq!(all.len(), 11);
    assert_eq!(all[10].payload, Bytes::from_static(b"r10"));
}

#[tokio::test]
async fn corruption_in_an_older_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
        log.create_topic("c", 1).await.unwrap();
        for i in 0..100u32 {
            log.append("c", 0, Bytes::from(format!("payload-{i}")))
                .await
                .unwrap();
        }
    }
    let first = dir.path().join("c/0/00000000000000000000.log");
    let mut data = std::fs::read(&first).unwrap();
    data[20] ^= 0xff;
    std::fs::write(&first, data).unwrap();
    let err = EmbeddedLog::open(dir.path(), opts()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
}

#[tokio::test]
async fn truncation_removes_whole_old_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    log.create_topic("c", 1).await.unwrap();
    for i in 0..100u32 {
        log.append("c", 0, Bytes::from(format!("payload-{i}")))
            .await
            .unwrap();
    }
    log.truncate_before("c", 0, 60).await.unwrap();
    assert!(log.read("c", 0, 60, 100).await.unwrap().len() == 40);
    assert!(matches!(
        log.read("c", 0, 0, 1).await,
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    assert_eq!(
        log.read("c", 0, 60, 100).await.unwrap()[0].payload,
        Bytes::from("payload-60")
    );
}
