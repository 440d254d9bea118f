//! The shard-log record: what one acknowledged mutation looks like in the log.
//!
//! Layout: `[version: u8 = 1][header_len: u32 LE][header: JSON][rows: Arrow IPC stream]`.
//! The header lists deleted primary keys; the rows (if any) are inserted after the deletes, so
//! an upsert is one record and therefore atomic. Every row of a record gets the record's
//! offset as its version.
//!
//! Partitions: the rows belong to `partition_id`, unless `partition_runs` splits them into
//! consecutive runs of rows, each in its own partition (a partition-key collection's rows
//! routed by key; one record per shard keeps an upsert atomic). The deletes of a record with
//! rows (an upsert) apply to every partition; the deletes of a delete-only record apply to
//! `partition_id`, or to every partition when it is [`ALL_PARTITIONS`]. Records written before
//! partitions existed name the `_default` partition, then the only one: same meaning.

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use serde::{Deserialize, Serialize};

use crate::{Pk, SchemaError};

mod ipc_check;

const VERSION: u8 = 1;

/// The partition of a delete-only record whose deletes apply to every partition.
pub const ALL_PARTITIONS: i64 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub partition_id: i64,
    pub deletes: Vec<Pk>,
    pub rows: Option<RecordBatch>,
    /// (partition, row count) runs covering the rows in order; empty: all in `partition_id`
    pub partition_runs: Vec<(i64, u32)>,
    /// when the record was made (ms since the Unix epoch): its rows' write time, which a
    /// collection's time to live counts from; 0 in records of older versions (their rows have
    /// no write time and never expire)
    pub written_ms: u64,
}

/// The wall clock in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Serialize, Deserialize)]
struct Header {
    partition_id: i64,
    deletes: Vec<Pk>,
    has_rows: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    partition_runs: Vec<(i64, u32)>,
    #[serde(default)]
    written_ms: u64,
}

impl LogRecord {
    /// A record of rows (and deletes) all in one partition, written now.
    pub fn new(partition_id: i64, deletes: Vec<Pk>, rows: Option<RecordBatch>) -> Self {
        Self {
            partition_id,
            deletes,
            rows,
            partition_runs: Vec::new(),
            written_ms: now_ms(),
        }
    }

    /// The rows by partition: (partition, first row, row count), in row order.
    pub fn row_partitions(&self) -> Vec<(i64, usize, usize)> {
        let Some(rows) = &self.rows else {
            return Vec::new();
        };
        if self.partition_runs.is_empty() {
            return vec![(self.partition_id, 0, rows.num_rows())];
        }
        let mut start = 0;
        let mut out = Vec::with_capacity(self.partition_runs.len());
        for (p, n) in &self.partition_runs {
            out.push((*p, start, *n as usize));
            start += *n as usize;
        }
        out
    }

    /// The partition the deletes apply to (`None`: every partition).
    pub fn delete_scope(&self) -> Option<i64> {
        if self.rows.is_some() || self.partition_id == ALL_PARTITIONS {
            None
        } else {
            Some(self.partition_id)
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            partition_id: self.partition_id,
            deletes: self.deletes.clone(),
            has_rows: self.rows.is_some(),
            partition_runs: self.partition_runs.clone(),
            written_ms: self.written_ms,
        })
        .expect("header serializes");
        let mut out = Vec::with_capacity(
            5 + header.len() + self.rows.as_ref().map_or(0, |b| b.get_array_memory_size()),
        );
        out.push(VERSION);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        if let Some(batch) = &self.rows {
            let mut w =
                StreamWriter::try_new(&mut out, &batch.schema()).expect("ipc writer on a Vec");
            w.write(batch).expect("ipc write to a Vec");
            w.finish().expect("ipc finish on a Vec");
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        let err = |m: &str| SchemaError::Decode(m.to_string());
        if bytes.len() < 5 || bytes[0] != VERSION {
            return Err(err("unknown record version"));
        }
        let len = u32::from_le_bytes(bytes[1..5].try_into().unwrap()) as usize;
        let header: Header =
            serde_json::from_slice(bytes.get(5..5 + len).ok_or_else(|| err("short header"))?)
                .map_err(|e| SchemaError::Decode(e.to_string()))?;
        let rows = if header.has_rows {
            let stream = &bytes[5 + len..];
            ipc_check::check_stream(stream).map_err(SchemaError::Decode)?;
            // the check keeps arrow-ipc's known panics out; a panic it still finds is a corrupt
            // record too, never a crash of the node reading it
            let decoded = std::panic::catch_unwind(|| {
                let mut reader = StreamReader::try_new(Cursor::new(stream), None)
                    .map_err(|e| SchemaError::Decode(e.to_string()))?;
                reader
                    .next()
                    .ok_or_else(|| err("missing rows"))?
                    .map_err(|e| SchemaError::Decode(e.to_string()))
            })
            .map_err(|_| err("corrupt log record: the Arrow decoder failed"))?;
            Some(decoded?)
        } else {
            None
        };
        if !header.partition_runs.is_empty() {
            let covered: u64 = header.partition_runs.iter().map(|(_, n)| *n as u64).sum();
            if rows.as_ref().map(|r| r.num_rows() as u64) != Some(covered) {
                return Err(err("partition runs do not cover the record's rows"));
            }
        }
        Ok(LogRecord {
            partition_id: header.partition_id,
            deletes: header.deletes,
            rows,
            partition_runs: header.partition_runs,
            written_ms: header.written_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn round_trips() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap();
        let rec = LogRecord::new(
            7,
            vec![Pk::Int(1), Pk::Str("x".into())],
            Some(batch.clone()),
        );
        assert_eq!(LogRecord::decode(&rec.encode()).unwrap(), rec);
        assert_eq!(rec.row_partitions(), vec![(7, 0, 2)]);
        assert_eq!(rec.delete_scope(), None);
        let del = LogRecord::new(7, vec![Pk::Int(-5)], None);
        assert_eq!(LogRecord::decode(&del.encode()).unwrap(), del);
        assert_eq!(del.delete_scope(), Some(7));
        assert_eq!(
            LogRecord::new(ALL_PARTITIONS, vec![], None).delete_scope(),
            None
        );
        let split = LogRecord {
            partition_runs: vec![(3, 1), (4, 1)],
            ..LogRecord::new(0, vec![], Some(batch.clone()))
        };
        assert_eq!(LogRecord::decode(&split.encode()).unwrap(), split);
        assert_eq!(split.row_partitions(), vec![(3, 0, 1), (4, 1, 1)]);
        let bad = LogRecord {
            partition_runs: vec![(3, 5)],
            ..LogRecord::new(0, vec![], Some(batch))
        };
        assert!(LogRecord::decode(&bad.encode()).is_err());
        assert!(LogRecord::decode(b"\x02garbage").is_err());
    }
}
