//! The shard-log record: what one acknowledged mutation looks like in the log.
//!
//! Layout: `[version: u8 = 1][header_len: u32 LE][header: JSON][rows: Arrow IPC stream]`.
//! The header lists deleted primary keys; the rows (if any) are inserted after the deletes, so
//! an upsert is one record and therefore atomic. Every row of a record gets the record's
//! offset as its version.

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use serde::{Deserialize, Serialize};

use crate::{Pk, SchemaError};

mod ipc_check;

const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub partition_id: i64,
    pub deletes: Vec<Pk>,
    pub rows: Option<RecordBatch>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    partition_id: i64,
    deletes: Vec<Pk>,
    has_rows: bool,
}

impl LogRecord {
    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            partition_id: self.partition_id,
            deletes: self.deletes.clone(),
            has_rows: self.rows.is_some(),
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
        Ok(LogRecord {
            partition_id: header.partition_id,
            deletes: header.deletes,
            rows,
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
        let rec = LogRecord {
            partition_id: 7,
            deletes: vec![Pk::Int(1), Pk::Str("x".into())],
            rows: Some(batch),
        };
        assert_eq!(LogRecord::decode(&rec.encode()).unwrap(), rec);
        let del = LogRecord {
            partition_id: 7,
            deletes: vec![Pk::Int(-5)],
            rows: None,
        };
        assert_eq!(LogRecord::decode(&del.encode()).unwrap(), del);
        assert!(LogRecord::decode(b"\x02garbage").is_err());
    }
}
