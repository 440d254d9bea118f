//! The shard log on arbitrary bytes. The low bit of the first byte picks:
//! - 0: the log record decoder (`LogRecord::decode`, dataplane/types/src/record.rs); an
//!   accepted record re-encodes and decodes to the same bytes, and one whose rows have the
//!   collection's layout is applied the way recovery applies it (`$offset` added, rows
//!   appended to a segment, deletes by key);
//! - 1: the embedded log's recovery scan and reader (dataplane/storage/src/log/embedded.rs,
//!   through `EmbeddedLog::open` and `LogStore::read`) on the rest as one segment file; bit 1
//!   of the first byte rewrites each frame's CRC and offset as the writer would, so that the
//!   fuzzer gets past the checksum. After open, an append followed by a reopen must give back
//!   the frames read before plus the appended one.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use quarry_engine::fuzzing::SegmentData;
use quarry_storage::log::embedded::EmbeddedLogOptions;
use quarry_storage::{EmbeddedLog, LogStore};
use quarry_types::batch::with_offset;
use quarry_types::record::LogRecord;
use quarry_types::CollectionSchema;

fn schema() -> &'static CollectionSchema {
    static S: OnceLock<CollectionSchema> = OnceLock::new();
    S.get_or_init(|| quarry_fuzz::schema(false))
}

fn record(bytes: &[u8]) {
    let Ok(rec) = LogRecord::decode(bytes) else {
        return;
    };
    let encoded = rec.encode();
    let again = LogRecord::decode(&encoded).expect("an encoded record decodes");
    assert_eq!(
        again.encode(),
        encoded,
        "record re-encodes to the same bytes"
    );
    let schema = schema();
    if let Some(rows) = &rec.rows {
        if rows.schema() != schema.arrow_schema(false) {
            // the engine writes records of its collection's layout only
            return;
        }
    }
    // engine/src/write.rs `apply`: deletes hit older rows, then the rows are appended
    let pk_index = schema.fields.iter().position(|f| f.is_primary_key).unwrap();
    let mut seg = SegmentData::default();
    for (offset, rec) in [(5u64, &rec), (6, &again)] {
        for pk in &rec.deletes {
            seg.delete(pk, offset);
        }
        if let Some(rows) = &rec.rows {
            seg.append(
                with_offset(schema, rows, offset, rec.written_ms),
                schema,
                pk_index,
            );
        }
    }
    let _ = seg.view().matching(schema, None);
    let _ = seg.view_at(u64::MAX).matching(schema, None);
}

/// Rewrites the CRC and offset of each whole frame as the log writer would.
fn fix_frames(mut data: Vec<u8>) -> Vec<u8> {
    let mut pos = 0usize;
    let mut offset = 0u64;
    while data.len() - pos >= 16 {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        if data.len() - pos - 16 < len {
            break;
        }
        let crc = quarry_fuzz::frame_crc(offset, &data[pos + 16..pos + 16 + len]);
        data[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
        data[pos + 8..pos + 16].copy_from_slice(&offset.to_le_bytes());
        pos += 16 + len;
        offset += 1;
    }
    data
}

fn log_file(flags: u8, body: &[u8]) {
    let data = if flags & 2 != 0 {
        fix_frames(body.to_vec())
    } else {
        body.to_vec()
    };
    let root = quarry_fuzz::scratch_dir();
    let _ = std::fs::remove_dir_all(&root);
    let part = root.join("t").join("0");
    std::fs::create_dir_all(&part).unwrap();
    std::fs::write(root.join("t").join("partitions"), "1").unwrap();
    std::fs::write(part.join(format!("{:020}.log", 0)), &data).unwrap();
    quarry_fuzz::runtime().block_on(async {
        let Ok(log) = EmbeddedLog::open(&root, EmbeddedLogOptions::default()) else {
            return;
        };
        let end = log.end_offset("t", 0).await.unwrap();
        let before = log.read("t", 0, 0, 1 << 20).await.unwrap();
        assert_eq!(
            before.len() as u64,
            end,
            "read gives every frame up to the end"
        );
        for (i, e) in before.iter().enumerate() {
            assert_eq!(e.offset, i as u64);
            // recovery decodes every payload
            let _ = LogRecord::decode(&e.payload);
        }
        let appended = log
            .append("t", 0, Bytes::from_static(b"appended"))
            .await
            .unwrap();
        assert_eq!(appended, end);
        drop(log);
        let log = EmbeddedLog::open(&root, EmbeddedLogOptions::default())
            .expect("a log reopens after an append");
        let after = log.read("t", 0, 0, 1 << 20).await.unwrap();
        assert_eq!(
            after.len(),
            before.len() + 1,
            "the append survives a reopen"
        );
        for (a, b) in after.iter().zip(&before) {
            assert_eq!((a.offset, &a.payload), (b.offset, &b.payload));
        }
        assert_eq!(&after.last().unwrap().payload[..], b"appended");
    });
    let _ = std::fs::remove_dir_all(&root);
}

// the decoders catch the panics of arrow-ipc / parquet on corrupt input and answer an error:
// replace libfuzzer-sys's hook, which aborts on every panic, caught or not, with a silent one
// (a panic that escapes still aborts: it cannot unwind out of the fuzzer's extern "C" entry)
fuzz_target!(init: {
    quarry_fuzz::seeds::write_if_asked("record");
    std::panic::set_hook(Box::new(|_| {}));
}, |data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        record(body);
    } else {
        log_file(selector, body);
    }
});
