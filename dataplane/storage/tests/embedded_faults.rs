//! Failed appends of the embedded log (a write or an fsync that fails, injected through its
//! hidden test API): they leave nothing behind, so acknowledged records stay readable exactly
//! once and in order, in the running process and after a reopen.

use bytes::Bytes;
use quarry_storage::log::embedded::{AppendFault, EmbeddedLogOptions};
use quarry_storage::{EmbeddedLog, LogStore};

/// 64-byte segments: a file holds 3 records here, so failures also hit fresh files
fn opts() -> EmbeddedLogOptions {
    EmbeddedLogOptions { segment_bytes: 64 }
}

fn record(i: usize) -> Bytes {
    Bytes::from(format!("record-{i:03}"))
}

const FAILED: &[u8] = b"never-acknowledged";

/// Appends `n` records after the `acked` ones already there; each must be acknowledged with the
/// next offset.
async fn append_acked(log: &EmbeddedLog, acked: &mut Vec<Bytes>, n: usize) {
    for _ in 0..n {
        let payload = record(acked.len());
        let offset = log.append("c", 0, payload.clone()).await.unwrap();
        assert_eq!(offset, acked.len() as u64, "offset of {payload:?}");
        acked.push(payload);
    }
}

/// Everything in the log is exactly the acknowledged records, in order, with dense offsets.
async fn assert_exactly(log: &EmbeddedLog, acked: &[Bytes]) {
    assert_eq!(log.end_offset("c", 0).await.unwrap(), acked.len() as u64);
    let got = log.read("c", 0, 0, 10_000).await.unwrap();
    let payloads: Vec<Bytes> = got.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, acked);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.offset, i as u64);
    }
}

/// Injects `fault` into an append, checks that it fails, appends more, and checks the log in
/// this process and after a reopen from disk.
async fn survives(fault: AppendFault) {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    {
        let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
        log.create_topic("c", 1).await.unwrap();
        // failures at the start of a file, mid-file and at its end
        for before in [0, 1, 2, 3, 1] {
            append_acked(&log, &mut acked, before).await;
            log.inject_append_fault("c", 0, fault).unwrap();
            let err = log.append("c", 0, Bytes::from_static(FAILED)).await;
            assert!(err.is_err(), "{fault:?}: the append succeeded: {err:?}");
        }
        append_acked(&log, &mut acked, 4).await;
        assert_exactly(&log, &acked).await;
    }
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    assert_exactly(&log, &acked).await;
    append_acked(&log, &mut acked, 2).await;
    drop(log);
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    assert_exactly(&log, &acked).await;
}

#[tokio::test]
async fn a_write_failing_mid_frame_leaves_no_torn_bytes() {
    // within the header, at its end, within the payload, one byte short of the whole frame
    for after in [1, 7, 16, 20, 16 + FAILED.len() - 1] {
        survives(AppendFault {
            write_fails_after: Some(after),
            ..AppendFault::default()
        })
        .await;
    }
}

#[tokio::test]
async fn a_failed_fsync_leaves_no_unacknowledged_frame() {
    survives(AppendFault {
        sync_fails: true,
        ..AppendFault::default()
    })
    .await;
}

#[tokio::test]
async fn a_failed_cut_back_poisons_the_partition_until_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    {
        let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
        log.create_topic("c", 2).await.unwrap();
        append_acked(&log, &mut acked, 4).await;
        log.inject_append_fault(
            "c",
            0,
            AppendFault {
                write_fails_after: Some(20),
                truncate_fails: true,
                ..AppendFault::default()
            },
        )
        .unwrap();
        assert!(log
            .append("c", 0, Bytes::from_static(FAILED))
            .await
            .is_err());
        // every later append fails, loudly, and writes nothing
        for _ in 0..3 {
            let err = log.append("c", 0, record(99)).await.unwrap_err();
            assert!(err.to_string().contains("refuses appends"), "{err}");
        }
        // acknowledged records stay readable; other partitions go on
        assert_exactly(&log, &acked).await;
        assert_eq!(log.append("c", 1, record(0)).await.unwrap(), 0);
    }
    // the restart's recovery cuts the torn frame off
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    assert_exactly(&log, &acked).await;
    append_acked(&log, &mut acked, 3).await;
    drop(log);
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    assert_exactly(&log, &acked).await;
}

#[tokio::test]
async fn a_failed_fsync_that_cannot_be_cut_back_keeps_acknowledged_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    {
        let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
        log.create_topic("c", 1).await.unwrap();
        append_acked(&log, &mut acked, 2).await;
        log.inject_append_fault(
            "c",
            0,
            AppendFault {
                sync_fails: true,
                truncate_fails: true,
                ..AppendFault::default()
            },
        )
        .unwrap();
        assert!(log
            .append("c", 0, Bytes::from_static(FAILED))
            .await
            .is_err());
        assert!(log.append("c", 0, record(99)).await.is_err());
        assert_exactly(&log, &acked).await;
    }
    // the whole frame reached the file, only its fsync failed: after a restart it may be there
    // (a failed append's outcome is unknown) but only after every acknowledged record
    let log = EmbeddedLog::open(dir.path(), opts()).unwrap();
    let got = log.read("c", 0, 0, 100).await.unwrap();
    assert!(got.len() == acked.len() || got.len() == acked.len() + 1);
    for (i, payload) in acked.iter().enumerate() {
        assert_eq!(&got[i].payload, payload);
    }
    if let Some(extra) = got.get(acked.len()) {
        assert_eq!(&extra.payload[..], FAILED);
        acked.push(extra.payload.clone());
    }
    append_acked(&log, &mut acked, 2).await;
    assert_exactly(&log, &acked).await;
}
