//! The read-and-apply loop over the in-memory log: what recovery, loads and followers share.

use std::collections::HashMap;

use bytes::Bytes;
use quarry_storage::{LogStore, MemoryLog};
use quarry_types::batch::{build_batch, Column, ColumnData};
use quarry_types::record::LogRecord;
use quarry_types::{CollectionSchema, DataType, FieldSchema, Pk};
use tokio_util::sync::CancellationToken;

use super::{ReadApplyError, Shard, ShardSpec};

fn schema() -> CollectionSchema {
    CollectionSchema {
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
    }
    .prepare_new()
    .unwrap()
}

fn insert(schema: &CollectionSchema, ids: std::ops::Range<i64>) -> Bytes {
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
            "v".to_string(),
            Column {
                data: ColumnData::FloatVector {
                    dim: 2,
                    data: ids.flat_map(|i| [i as f32, 0.0]).collect(),
                },
                valid: None,
            },
        ),
    ]);
    let rows = build_batch(schema, columns, n).unwrap();
    Bytes::from(LogRecord::new(0, vec![], Some(rows)).encode())
}

fn delete(ids: &[i64]) -> Bytes {
    Bytes::from(LogRecord::new(0, ids.iter().map(|i| Pk::Int(*i)).collect(), None).encode())
}

fn shard(schema: &CollectionSchema) -> Shard {
    Shard::new(ShardSpec {
        collection: 1,
        index: 0,
        topic: "t",
        schema,
        pk_index: 0,
        checkpoint: 0,
        load_indexes: true,
        only_loaded: false,
    })
}

#[tokio::test]
async fn read_apply_applies_the_log_in_order_and_publishes_the_offset() {
    let schema = schema();
    let log = MemoryLog::new();
    log.create_topic("t", 1).await.unwrap();
    for i in 0..3 {
        log.append("t", 0, insert(&schema, i * 10..i * 10 + 10))
            .await
            .unwrap();
    }
    log.append("t", 0, delete(&[0, 1, 29])).await.unwrap();
    let s = shard(&schema);
    assert_eq!(s.read_apply(&log, u64::MAX, None, false).await.unwrap(), 4);
    assert_eq!(s.data.read().applied, 4);
    assert_eq!(*s.applied_tx.borrow(), 4);
    assert_eq!(s.live_rows(&[]), 27);
    // caught up: nothing more, and `until` already reached applies nothing either
    assert_eq!(s.read_apply(&log, u64::MAX, None, false).await.unwrap(), 0);
    log.append("t", 0, insert(&schema, 30..35)).await.unwrap();
    assert_eq!(s.read_apply(&log, 4, None, false).await.unwrap(), 0);
    // a cancelled follower applies nothing
    let stop = CancellationToken::new();
    stop.cancel();
    let applied = s.read_apply(&log, u64::MAX, Some(&stop), false).await;
    assert_eq!(applied.unwrap(), 0);
    assert_eq!(s.live_rows(&[]), 27);
    // with the writer held by the caller (a load)
    let _writer = s.writer.lock().await;
    assert_eq!(s.read_apply(&log, 5, None, true).await.unwrap(), 1);
    assert_eq!(s.live_rows(&[]), 32);
}

#[tokio::test]
async fn read_apply_stops_before_an_undecodable_record() {
    let schema = schema();
    let log = MemoryLog::new();
    log.create_topic("t", 1).await.unwrap();
    log.append("t", 0, insert(&schema, 0..10)).await.unwrap();
    log.append("t", 0, Bytes::from_static(b"not a record"))
        .await
        .unwrap();
    log.append("t", 0, insert(&schema, 10..20)).await.unwrap();
    let s = shard(&schema);
    let err = s.read_apply(&log, u64::MAX, None, false).await.unwrap_err();
    assert!(
        matches!(err, ReadApplyError::Record { offset: 1, .. }),
        "{err:?}"
    );
    assert_eq!(*s.applied_tx.borrow(), 1);
    assert_eq!(s.live_rows(&[]), 10);
}

#[test]
fn rows_past_the_time_to_live_leave_views_and_compactions() {
    use crate::segment::SegmentData;
    use quarry_types::batch::with_offset;

    let schema = schema();
    let batch = |ids: std::ops::Range<i64>, offset: u64, written: u64| {
        let rec = LogRecord::decode(&insert(&schema, ids)).unwrap();
        with_offset(&schema, rec.rows.as_ref().unwrap(), offset, written)
    };
    let mut seg = SegmentData::default();
    seg.append(batch(0..3, 1, 1_000), &schema, 0);
    seg.append(batch(3..5, 2, 2_000), &schema, 0);
    seg.delete(&Pk::Int(4), 3);
    // no time to live, or a cut-off before every row: the plain view, nothing copied
    for cutoff in [0, 1_000] {
        let v = seg.view_at(cutoff);
        assert_eq!(v.live, 4);
        assert_eq!(
            v.matching(&schema, None)
                .unwrap()
                .iter()
                .filter(|k| **k)
                .count(),
            4
        );
    }
    // rows written before the cut-off are gone, deletes stay applied
    let v = seg.view_at(1_500);
    assert_eq!(v.live, 1);
    assert_eq!(
        v.matching(&schema, None).unwrap(),
        [false, false, false, true, false]
    );
    assert!(seg.expired(0, 1_500) && !seg.expired(3, 1_500));
    assert_eq!(seg.view_at(5_000).live, 0);
    for cutoff in [0, 1_000, 1_500, 2_500, 5_000] {
        assert_eq!(seg.live_at(cutoff), seg.view_at(cutoff).live, "{cutoff}");
    }
    // a compaction's copy purges them
    let mut copy = seg.clone();
    copy.expire(1_500);
    assert_eq!(copy.live, 1);
    assert_eq!(seg.live, 4);
}
